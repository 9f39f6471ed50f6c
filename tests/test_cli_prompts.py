"""Safe prompts (issue 20, item 3): questions go to stderr, a missing terminal is an
error naming --yes, every destructive command takes --yes, ``campaign delete`` asks
for the name, and --force has one meaning (overwrite a file).

Real processes on a real pseudo-terminal (``builders.run_in_pty``), and with stdin
from /dev/null, as a script runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders import campaign, run_in_pty, workspace

ROOT = Path(__file__).resolve().parents[1]

#: Every command that destroys or resets something a user kept.
DESTRUCTIVE = [("campaign", "delete"), ("agent", "delete"), ("number", "remove"),
               ("dnc", "remove"), ("webhook", "remove"), ("restart",)]


def command(path: tuple[str, ...]):
    from dialcli.cli.registry import COMMANDS

    cmd = COMMANDS[path[0]].load(path[0])
    for name in path[1:]:
        cmd = cmd.commands[name]
    return cmd


@pytest.mark.parametrize("path", DESTRUCTIVE, ids=" ".join)
def test_every_destructive_command_takes_yes(path):
    options = {o for p in command(path).params for o in getattr(p, "opts", [])}
    assert {"--yes", "-y"} <= options


def test_force_means_overwrite_a_file_wherever_it_is_shown():
    from dialcli.cli.registry import COMMANDS

    for name in COMMANDS:
        top = command((name,))
        subs = top.commands.values() if hasattr(top, "commands") else [top]
        for cmd in subs:
            for p in cmd.params:
                if "--force" in getattr(p, "opts", []) and not getattr(p, "hidden", False):
                    assert "overwrite" in (p.help or "").lower(), (name, cmd.name, p.help)


def ws_with_campaign(tmp_path: Path) -> Path:
    db = tmp_path / "dialcli.db"
    with workspace(db) as st:
        campaign(st, "Spring", leads=[{"phones": ["+12125550100"]}, {"phones": ["+12125550101"]}])
    return db


def count(db: Path, sql: str) -> int:
    with workspace(db) as st:
        return st.scalar(sql)


def test_no_terminal_is_an_error_naming_yes(tmp_path):
    """stdin from /dev/null: no question, no hang, nothing deleted."""
    db = ws_with_campaign(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "dialcli", "campaign", "delete", "Spring"],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "no terminal to ask on" in proc.stderr and "--yes" in proc.stderr
    assert proc.stdout == ""
    assert count(db, "SELECT COUNT(*) FROM campaigns") == 1


def test_campaign_delete_asks_for_the_name_on_a_terminal(tmp_path):
    db = ws_with_campaign(tmp_path)
    rc, shown = run_in_pty(["campaign", "delete", "Spring"], cwd=tmp_path,
                           answers=[("to confirm", "y")])
    assert rc == 1, shown
    assert "Type the name (Spring) to confirm" in shown
    assert "did not match. Nothing changed" in shown
    assert count(db, "SELECT COUNT(*) FROM campaigns") == 1
    rc, shown = run_in_pty(["campaign", "delete", "Spring"], cwd=tmp_path,
                           answers=[("to confirm", "Spring")])
    assert rc == 0, shown
    assert "Deleted campaign 'Spring'" in shown
    assert count(db, "SELECT COUNT(*) FROM campaigns") == 0


def test_restart_asks_on_stderr_when_stdout_is_a_file(tmp_path):
    """``restart > out.txt`` shows its question on the terminal, not in the file."""
    db = ws_with_campaign(tmp_path)
    out = tmp_path / "out.txt"
    rc, shown = run_in_pty(["restart", "Spring", "--no-start"], cwd=tmp_path, stdout=out,
                           answers=[("[y/N]", "n")])
    assert rc == 1, shown
    assert "Restart 'Spring'" in shown and "Nothing changed" in shown
    assert "Restart" not in out.read_text()
    assert count(db, "SELECT run FROM campaigns") == 1
    rc, shown = run_in_pty(["restart", "Spring", "--no-start"], cwd=tmp_path, stdout=out,
                           answers=[("[y/N]", "y")])
    assert rc == 0, shown
    assert count(db, "SELECT run FROM campaigns") == 2


def test_dnc_remove_asks_on_a_terminal(tmp_path):
    db = ws_with_campaign(tmp_path)
    with workspace(db) as st, st.tx() as conn:
        conn.execute("INSERT INTO dnc (e164, reason, source, added_at) VALUES "
                     "('+12125550102', 'typo', 'cli', '2026-03-03T15:00:00.000Z')")
    rc, shown = run_in_pty(["dnc", "remove", "+12125550102"], cwd=tmp_path,
                           answers=[("[y/N]", "")])              # Enter: the default is no
    assert rc == 1 and "off the opt-out list?" in shown
    assert count(db, "SELECT COUNT(*) FROM dnc") == 1
    rc, shown = run_in_pty(["dnc", "remove", "+12125550102"], cwd=tmp_path,
                           answers=[("[y/N]", "y")])
    assert rc == 0, shown
    assert count(db, "SELECT COUNT(*) FROM dnc") == 0

