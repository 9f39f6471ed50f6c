"""Log levels on every command (issue 20, item 5): -q, -v/-vv, $DIALCLI_LOG_LEVEL,
--log-file; at -vv a live call shows its Twilio requests, relay frames and server
requests, with every secret redacted.
"""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from builders import awake_zone, campaign, consent_all, workspace
from dialcli.cli import logs
from dialcli.cli.app import app
from dialcli.cli.registry import COMMANDS
from fakes.fake_twilio import Scenario, say
from test_secrets import FROM, Session, leaks, ny, world  # noqa: F401 (world: a fixture)


def run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def all_commands():
    from typer.main import get_command

    root = get_command(app)
    for name in COMMANDS:
        cmd = root.get_command(None, name)       # loaded as a command line loads it
        if hasattr(cmd, "commands"):
            yield from ((f"{name} {sub}", c) for sub, c in cmd.commands.items())
        yield name, cmd


@pytest.mark.parametrize("name", [n for n, _ in all_commands()])
def test_every_command_takes_the_log_options(name):
    cmd = dict(all_commands())[name]
    opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
    assert {"-q", "--quiet", "-v", "--verbose", "--log-file"} <= opts


def test_quiet_drops_notes_and_successes_but_not_errors(tmp_path):
    workspace(tmp_path).close()
    r = run("-q", "dnc", "add", "+12125550123")
    assert r.exit_code == 0 and r.stderr == ""
    r = run("dnc", "add", "+12125550124", "-q")        # after the command: the same
    assert r.exit_code == 0 and r.stderr == ""
    r = run("-q", "dnc", "add", "not-a-number")
    assert r.exit_code == 2 and "not-a-number" in r.stderr


def test_quiet_start_prints_no_per_lead_lines(tmp_path):
    with workspace(tmp_path) as st:
        cid = campaign(st, leads=[{"phones": [f"+1212555{i:04d}"]} for i in range(3)],
                       max_attempts=1)
        consent_all(st, cid)
    loud = run("start", "--simulate", "--seed", "1")
    assert loud.exit_code == 0, loud.output
    assert len(loud.stdout.splitlines()) > 3             # a line per lead change
    run("restart", "--yes", "--no-start")
    quiet = run("-q", "resume", "--simulate", "--seed", "1")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == ""


def test_log_level_env_and_bad_value(tmp_path):
    workspace(tmp_path).close()
    r = run("dnc", "list", env={"DIALCLI_LOG_LEVEL": "loud"})
    assert r.exit_code == 2 and "DIALCLI_LOG_LEVEL='loud' is not a log level" in r.stderr
    assert logs.level_from_env("debug") == 2 and logs.level_from_env("quiet") == -1
    assert logs.level_from_env("1") == 1 and logs.level_from_env(" ") is None


def test_levels_reach_dialclis_loggers_and_reset_after_the_command(tmp_path):
    workspace(tmp_path).close()
    log_file = tmp_path / "run.log"
    r = run("-vv", "--log-file", log_file, "dnc", "list")
    assert r.exit_code == 0
    assert log_file.exists()
    # After the command, nothing of it stays configured (CliRunner runs many in one process).
    assert logging.getLogger("dialcli").level == logging.NOTSET
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger("dialcli").handlers)


def test_redact_filter_scrubs_secrets(monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok_abcdefghijklmnop")
    record = logging.LogRecord("dialcli.x", logging.INFO, __file__, 1,
                               "token is %s", ("tok_abcdefghijklmnop",), None)
    assert logs.Redact().filter(record)
    assert record.getMessage() == "token is ****"


def test_vv_shows_a_live_calls_traffic_with_secrets_redacted(world, tmp_path):
    """The issue's 'done when': -vv shows a live call's requests, redacted."""
    twilio = world["twilio"]
    work = world["db"].parent
    work.mkdir()
    cli = Session(world["db"])
    cli("agent", "create", "Zara", "--greeting", "Hi {{NAME}}, this is Zara from Acme, an "
        "AI assistant. Press 9 to opt out.", "--prompt", "You are Zara from Acme.")
    cli("numbers", "add", FROM)
    cli("campaign", "create", "Spring", "--agent", "Zara", "--from", FROM,
        "--purpose", "informational", "--max-attempts", "1")
    (work / "leads.csv").write_text("name,phone1,timezone,consent_at,consent_type\n"
                                    f"Alex,{ny(1)},{awake_zone()},2026-01-02,express\n")
    cli("import", work / "leads.csv", "--campaign", "Spring")
    twilio.script(ny(1), Scenario(lines=[say("Hello? Who is this?"),
                                         say("Not interested, thanks")]))
    log_file = tmp_path / "live.log"
    r = cli("-vv", "--log-file", log_file, "start", "Spring", "--port", world["port"])
    shown = r.stderr
    text = log_file.read_text()
    for where in (shown, text):
        assert "twilio.http_client" in where and "POST Request" in where       # REST
        assert "relay call" in where and '"type":"setup"' in where.replace(" ", "")  # frames
        assert "uvicorn.access" in where and "/status/" in where               # server
    assert text.split(" ", 1)[0].endswith("Z")                                  # UTC times
    assert not leaks(shown, "stderr at -vv") and not leaks(text, "the log file")
    # At the default level none of that traffic prints.
    cli("restart", "Spring", "--yes", "--no-start")
    twilio.script(ny(1), Scenario(lines=[say("Hi"), say("Not interested")]))
    r = cli("resume", "Spring", "--port", world["port"])
    assert "twilio.http_client" not in r.stderr and "relay call" not in r.stderr
