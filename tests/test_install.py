"""Installed the way users install CLIs (issue 20, item 9): ``pipx install .`` and
``uv tool install .`` build dialcli's wheel and put its ``dialcli`` script in a
virtualenv of its own. This does the same: builds the wheel from this checkout,
installs it into a new virtualenv, and runs the script from there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from dialcli import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_a_working_dialcli_script(tmp_path):
    # The installed copy only: no PYTHONPATH pointing back at this checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(dist), str(ROOT)], capture_output=True, text=True,
                           timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("dialcli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dialcli/cli/registry.py" in names and "dialcli/data/examples/leads.csv" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "dialcli = dialcli.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    py = venv / "bin" / "python"
    # --no-deps: --version and --help need nothing but dialcli itself (the fast path).
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           "--no-deps", "--no-index", str(wheel)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert inst.returncode == 0, inst.stderr[-3000:]
    script = venv / "bin" / "dialcli"
    got = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=env)
    assert got.returncode == 0 and got.stdout == f"dialcli {__version__}\n", got.stderr
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env=env)
    assert helped.returncode == 0 and "dialcli demo" in helped.stdout
