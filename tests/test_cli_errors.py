"""Errors at the command line: named exit codes, messages on stderr (stdout clean),
no tracebacks, and a failing command leaves the workspace exactly as it was."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import typer

from dialcli.workspace import agents

from dialcli.workspace import campaigns

from dialcli.workspace import numbers
from dialcli.cli.app import app
from dialcli.errors import ExitCode

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
#: ``campaign create`` with the purpose every test here needs.
CREATE = ("campaign", "create", "--purpose", "informational")
FROM = "+14155550100"

_REGISTERED = set(typer.main.get_command(app).commands)


def said(text: str, fragment: str) -> bool:
    """``fragment`` appears in ``text`` however Rich wrapped the lines (stderr is
    hard-wrapped at the console width, which depends on the terminal)."""
    return "".join(fragment.split()) in "".join(text.split())


@pytest.fixture
def ws(store):
    agents.create_agent(store, name="Zara", greeting="Hi {{NAME}}", prompt="p", now=T0)
    agents.create_agent(store, name="Sam", greeting="Hello", prompt="p", now=T0)
    numbers.add_number(store, FROM, now=T0)
    campaigns.create_campaign(store, name="Spring", agent="Zara", from_number=FROM,
                               purpose="informational", now=T0)
    campaigns.create_campaign(store, name="Autumn", agent="Zara", from_number=FROM,
                               purpose="informational", now=T0)
    return store


def snapshot(store) -> list[str]:
    return list(store.conn.iterdump())


def assert_failed(result, code: ExitCode, *fragments: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stdout == "", "errors must not go to stdout"
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert said(result.stderr, fragment), (fragment, result.stderr)


UNKNOWN_CAMPAIGN = [
    ("campaign", "show", "Nope"),
    ("campaign", "edit", "Nope", "--max-attempts", "2"),
    ("campaign", "delete", "Nope", "--yes"),
    ("preview", "--campaign", "Nope"),
]
# Other groups' commands that take a campaign, checked when they are registered.
for _argv in (("status", "Nope"), ("report", "Nope"), ("pause", "Nope"), ("resume", "Nope"),
              ("plan", "Nope"), ("audit", "Nope")):
    if _argv[0] in _REGISTERED:
        UNKNOWN_CAMPAIGN.append(_argv)


@pytest.mark.parametrize("argv", UNKNOWN_CAMPAIGN, ids=" ".join)
def test_unknown_campaign_is_exit_2(cli, ws, argv):
    before = snapshot(ws)
    result = cli(*argv)
    assert_failed(result, ExitCode.USAGE, "No campaign named 'Nope'")
    assert said(result.stderr, "Autumn") and said(result.stderr, "Spring")     # says what exists
    assert snapshot(ws) == before


@pytest.mark.parametrize("argv", [
    ("agent", "show", "Nobody"),
    ("agent", "edit", "Nobody", "--voice", "x"),
    ("agent", "delete", "Nobody"),
    (*CREATE, "New", "--agent", "Nobody", "--from", FROM),
    ("campaign", "edit", "Spring", "--agent", "Nobody"),
    ("preview", "--campaign", "Spring", "--agent", "Nobody"),
], ids=" ".join)
def test_unknown_agent_is_exit_2(cli, ws, argv):
    before = snapshot(ws)
    result = cli(*argv)
    assert_failed(result, ExitCode.USAGE, "No agent named 'Nobody'", "Agents here: Sam, Zara")
    assert snapshot(ws) == before


@pytest.mark.parametrize("argv, code, fragment", [
    (("agent", "create", "zara", "--greeting", "g", "--prompt", "p"), ExitCode.USAGE, "already exists"),
    (("agent", "create", "New", "--greeting", "Hi {{ NAME", "--prompt", "p"), ExitCode.USAGE,
     "not a valid template (line 1, column 4"),
    (("agent", "edit", "Zara", "--prompt", "{% if x %}"), ExitCode.USAGE, "not a valid template"),
    (("agent", "edit", "Zara", "--name", "sam"), ExitCode.USAGE, "'Sam' already exists"),
    (("agent", "delete", "Zara"), ExitCode.ERROR, "Can't delete this voice agent"),
    (("numbers", "add", "12345"), ExitCode.USAGE, "not usable"),
    (("numbers", "add", FROM), ExitCode.USAGE, "already in this workspace"),
    (("numbers", "remove", FROM), ExitCode.ERROR, "Can't remove +14155550100"),
    (("numbers", "remove", "+14155550199"), ExitCode.USAGE, "not one of this workspace's numbers"),
    ((*CREATE, "spring", "--agent", "Zara", "--from", FROM), ExitCode.USAGE,
     "already exists"),
    ((*CREATE, "New", "--agent", "Zara", "--from", FROM, "--window", "08:00-22:00"),
     ExitCode.USAGE, "federal TCPA limit"),
    ((*CREATE, "New", "--agent", "Zara", "--from", FROM, "--window", "18:00-09:00"),
     ExitCode.USAGE, "starts at or after it ends"),
    ((*CREATE, "New", "--agent", "Zara", "--from", "+14155550199"), ExitCode.USAGE,
     "number add +14155550199"),
    ((*CREATE, "New", "--agent", "Sam", "--from", FROM, "--voicemail", "message"),
     ExitCode.USAGE, "needs a message"),
    ((*CREATE, "New", "--agent", "Zara", "--from", FROM, "--cps", "100"),
     ExitCode.USAGE, "at most 50"),
    (("campaign", "edit", "Spring", "--retry-interval", "0"), ExitCode.USAGE, "out of range"),
    (("campaign", "edit", "Spring"), ExitCode.USAGE, "Nothing to change"),
    (("preview", "--campaign", "Spring", "--lead", "1", "--lead-id", "1"), ExitCode.USAGE,
     "either --lead or --lead-id"),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
def test_failures_have_named_codes_and_change_nothing(cli, ws, argv, code, fragment):
    before = snapshot(ws)
    assert_failed(cli(*argv), code, "Error:", fragment)
    assert snapshot(ws) == before


def test_running_campaign_refusals_are_exit_1(cli, ws):
    ws.execute("UPDATE campaigns SET status = 'RUNNING' WHERE name = 'Spring'")
    before = snapshot(ws)
    assert_failed(cli("campaign", "delete", "Spring", "--yes"), ExitCode.ERROR, "pause it")
    assert_failed(cli("campaign", "edit", "Spring", "--agent", "Sam"), ExitCode.ERROR, "pause it")
    assert snapshot(ws) == before


def test_usage_errors_from_the_parser_are_exit_2(cli, ws):
    result = cli("campaign", "create", "New", "--agent", "Zara", "--purpose", "informational")  # no --from
    assert result.exit_code == ExitCode.USAGE
    assert said(result.stderr, "--from") and result.stdout == ""
    result = cli("campaign", "edit", "Spring", "--max-attempts", "three")
    assert result.exit_code == ExitCode.USAGE and said(result.stderr, "--max-attempts")
    result = cli("agent", "frobnicate")
    assert result.exit_code == ExitCode.USAGE


def test_missing_input_file_names_the_path(cli, ws, tmp_path):
    missing = tmp_path / "nowhere" / "prompt.txt"
    before = snapshot(ws)
    assert_failed(cli("agent", "create", "New", "--greeting", "g", "--prompt-file", missing),
                  ExitCode.USAGE, str(missing))
    assert snapshot(ws) == before


def test_workspace_in_a_missing_folder_is_exit_2(cli, tmp_path):
    result = cli("--db", tmp_path / "no" / "such" / "dir.db", "agent", "list", db=False)
    assert_failed(result, ExitCode.USAGE, "folder")


def test_omitted_campaign_with_several_is_exit_2(cli, ws):
    assert_failed(cli("campaign", "show"), ExitCode.USAGE, "Which campaign?", "Autumn, Spring")
    assert_failed(cli("preview"), ExitCode.USAGE, "Which campaign?")


def test_declined_delete_changes_nothing(cli, ws):
    before = snapshot(ws)
    result = cli("campaign", "delete", "Spring", input="y\n")
    assert result.exit_code == ExitCode.USAGE and said(result.stderr, "--yes")
    assert result.stdout == ""
    assert snapshot(ws) == before
