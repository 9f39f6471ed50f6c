"""The packages follow the data flow: imports point down the layers of pyproject.toml.

The same contract runs as ``lint-imports`` in CI; here it runs with the suite, so a
layer broken on a laptop fails where it was broken.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "dialcli"


def test_imports_point_down_the_layers():
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) \
        or shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extras: pip install -e '.[test]'"
    done = subprocess.run([exe], cwd=SRC.parent.parent, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_another_modules_private_name():
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dialcli"):
                offenders += [f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_")
                              and not a.name.startswith("__")]
    assert offenders == []


def test_no_module_level_getattr_facades():
    facades = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
               if any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__"
                      for n in ast.parse(p.read_text(encoding="utf-8")).body)]
    assert facades == []
