"""Shell completion (issue 20, item 4): installs for the user's shell and completes
commands, options and the campaign, agent and number names of the workspace.

The shell's side is simulated exactly as its script does it: ``dialcli`` run with
``_DIALCLI_COMPLETE`` and the words typed so far.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders import campaign, number, workspace

ROOT = Path(__file__).resolve().parents[1]


def complete(cwd: Path, words: str, *, shell: str = "bash", env: dict | None = None) -> list[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    if shell == "bash":
        parts = words.split(" ")
        full |= {"_DIALCLI_COMPLETE": "complete_bash", "COMP_WORDS": words,
                 "COMP_CWORD": str(len(parts) - 1)}
    else:
        full |= {"_DIALCLI_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words}
    proc = subprocess.run([sys.executable, "-m", "dialcli"], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout.split()


@pytest.fixture
def ws(tmp_path):
    with workspace(tmp_path) as st:
        campaign(st, "Spring", agent_name="Zara")
        campaign(st, "Summer", agent_name="Sam")
        number(st, "+14155550111")
    return tmp_path


def test_commands_and_options_complete(ws):
    assert complete(ws, "dialcli sta") == ["start", "status"]
    assert "--simulate" in complete(ws, "dialcli start --si")


def test_workspace_names_complete(ws):
    assert complete(ws, "dialcli start S") == ["Spring", "Summer"]
    assert complete(ws, "dialcli report --campaign su") == ["Summer"]
    assert complete(ws, "dialcli campaign show Sp") == ["Spring"]
    assert complete(ws, "dialcli agent show ") == ["Sam", "Zara"]
    assert "+14155550111" in complete(ws, "dialcli numbers remove +1415")
    assert "Spring" in " ".join(complete(ws, "dialcli pause ", shell="zsh"))


def test_no_workspace_completes_nothing_and_creates_nothing(tmp_path):
    assert complete(tmp_path, "dialcli start ") == []
    assert list(tmp_path.iterdir()) == []


def test_db_on_the_line_is_the_workspace_completed(ws, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert complete(other, f"dialcli --db {ws / 'dialcli.db'} start ") == ["Spring", "Summer"]


def test_completion_installs_for_bash(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HOME": str(tmp_path),
           "SHELL": "/bin/bash"}
    show = subprocess.run([sys.executable, "-m", "dialcli", "completion", "show"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert show.returncode == 0 and "_DIALCLI_COMPLETE=complete_bash" in show.stdout
    got = subprocess.run([sys.executable, "-m", "dialcli", "completion", "install"], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    assert "bash completion installed" in got.stderr
    assert "dialcli" in (tmp_path / ".bashrc").read_text()
    bad = subprocess.run([sys.executable, "-m", "dialcli", "completion", "show", "tcsh"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Unknown shell" in bad.stderr
