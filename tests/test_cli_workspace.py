"""Workspaces are found, never created by accident (issue 20, item 1).

Only commands that make something a user means to keep (agent create, numbers add,
campaign create, numbers sync, demo) may create ``dialcli.db``; every other command
run where there is none exits 2 and writes nothing. ``dialcli.db`` is found in the
current folder or a parent (as git finds ``.git``), and success messages name it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders import GREETING, PROMPT, workspace
from dialcli.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# Commands that change or show workspace state: none may create a workspace.
NON_CREATING = [
    ["dnc", "add", "+12125550123"],
    ["dnc", "remove", "+12125550123", "--yes"],
    ["dnc", "list"],
    ["pause", "Spring"],
    ["config", "set", "rate_per_minute", "5"],
    ["config", "list"],
    ["webhooks", "add", "https://example.com/hook"],
    ["webhooks", "list"],
    ["status"],
    ["report"],
    ["plan"],
    ["audit", "--csv", "-"],
    ["agent", "list"],
    ["campaign", "list"],
    ["numbers", "list"],
    ["consent", "list"],
    ["preview", "--lead", "1"],
    ["start", "Spring", "--simulate"],
]


@pytest.mark.parametrize("argv", NON_CREATING, ids=lambda a: " ".join(a[:2]))
def test_commands_do_not_create_a_workspace(tmp_path, argv):
    before = files(tmp_path)
    result = run(*argv)
    assert result.exit_code == 2, result.output
    assert "No dialcli workspace here: ./dialcli.db does not exist" in flat(result.stderr)
    assert "--db PATH or DIALCLI_DB" in flat(result.stderr)
    assert files(tmp_path) == before


def test_dnc_add_in_an_empty_folder_subprocess(tmp_path):
    """The issue's 'done when': a real process, a real empty folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "dialcli", "dnc", "add", "+12125550123"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "No dialcli workspace here" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert files(tmp_path) == []


def test_missing_db_option_and_env_name_the_source(tmp_path):
    result = run("--db", tmp_path / "nope.db", "dnc", "add", "+12125550123")
    assert result.exit_code == 2
    assert "(--db): the file does not exist" in flat(result.stderr)
    result = run("dnc", "list", env={"DIALCLI_DB": str(tmp_path / "env.db")})
    assert result.exit_code == 2
    assert "(DIALCLI_DB): the file does not exist" in flat(result.stderr)
    assert files(tmp_path) == []


def test_creating_commands_create_and_say_so(tmp_path):
    result = run("agent", "create", "Zara", "--greeting", GREETING, "--prompt", PROMPT)
    assert result.exit_code == 0, result.output
    assert "Created workspace ./dialcli.db" in result.stderr
    assert "(workspace ./dialcli.db)" in flat(result.stderr)
    assert (tmp_path / "dialcli.db").is_file()
    # The second time it exists: nothing is said about creating it.
    result = run("numbers", "add", "+14155550100")
    assert result.exit_code == 0, result.output
    assert "Created workspace" not in result.stderr


@pytest.mark.parametrize("argv", [
    ["numbers", "add", "not-a-number"],
    ["campaign", "create", "Spring", "--agent", "Nobody", "--from", "+14155550100",
     "--purpose", "informational"],
    ["agent", "create", "Zara", "--prompt", "no greeting"],
])
def test_a_failed_create_leaves_no_workspace(tmp_path, argv):
    result = run(*argv)
    assert result.exit_code == 2, result.output
    assert "Created workspace" not in result.stderr
    assert files(tmp_path) == []


def test_workspace_in_a_parent_folder_is_found_and_named(tmp_path, monkeypatch):
    workspace(tmp_path).close()
    sub = tmp_path / "leads" / "april"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = run("dnc", "add", "+12125550123")
    assert result.exit_code == 0, result.output
    assert "(workspace ../../dialcli.db)" in flat(result.stderr)
    assert files(sub) == []
    with workspace(tmp_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM dnc") == 1


def test_ceiling_directories_stop_the_search(tmp_path, monkeypatch):
    workspace(tmp_path).close()
    sub = tmp_path / "project"
    sub.mkdir()
    monkeypatch.chdir(sub)
    monkeypatch.setenv("DIALCLI_CEILING_DIRECTORIES", str(tmp_path))
    result = run("dnc", "add", "+12125550123")
    assert result.exit_code == 2
    assert files(sub) == []


def test_db_option_beats_the_search(tmp_path, monkeypatch):
    workspace(tmp_path).close()
    other = tmp_path / "other.db"
    workspace(other).close()
    result = run("--db", other, "dnc", "add", "+12125550123")
    assert result.exit_code == 0, result.output
    assert "(workspace ./other.db)" in flat(result.stderr)
    with workspace(tmp_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM dnc") == 0
