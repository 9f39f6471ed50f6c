"""Consistent names (issue 20, item 8): one way to pick a campaign, short flags that
mean one thing, and the other spellings of groups and verbs accepted but not listed.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from builders import campaign, workspace
from dialcli.cli.app import app
from test_cli_logs import all_commands


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_a_short_flag_means_one_thing_everywhere():
    meanings: dict[str, set[str]] = defaultdict(set)
    for name, cmd in all_commands():
        for p in cmd.params:
            opts = getattr(p, "opts", [])
            longs = tuple(o for o in opts if o.startswith("--"))
            for o in opts + list(getattr(p, "secondary_opts", [])):
                if len(o) == 2 and o.startswith("-"):
                    meanings[o].add(longs[0] if longs else o)
    clashes = {short: longs for short, longs in meanings.items() if len(longs) > 1}
    assert not clashes, clashes


def test_the_same_long_option_has_the_same_short_flag():
    """--limit is -n (as head -n) wherever it exists, --yes is -y, --campaign is -c:
    a short flag learnt in one command works in the next."""
    shorts: dict[str, set[str]] = defaultdict(set)
    for name, cmd in all_commands():
        for p in cmd.params:
            opts = getattr(p, "opts", [])
            for long in (o for o in opts if o in ("--limit", "--yes", "--campaign")):
                shorts[long].add(next((o for o in opts if len(o) == 2), "") + " " + name)
    for long, want in (("--limit", "-n"), ("--yes", "-y"), ("--campaign", "-c")):
        missing = sorted(s for s in shorts[long] if not s.startswith(want + " "))
        assert shorts[long] and not missing, (long, missing)


def test_every_command_with_a_campaign_argument_takes_campaign_too():
    for name, cmd in all_commands():
        args = [p for p in cmd.params if getattr(p, "param_type_name", "") == "argument"
                and (p.metavar or "").strip("[]").upper() == "CAMPAIGN" or
                getattr(p, "name", "") in ("campaign", "campaign_arg")]
        if args:
            opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
            assert "--campaign" in opts, name


@pytest.fixture
def ws(tmp_path):
    with workspace(tmp_path) as st:
        campaign(st, "Spring")
        campaign(st, "Autumn")
    return tmp_path


@pytest.mark.parametrize("argv", [["campaign", "show"], ["status"], ["plan"]], ids=" ".join)
def test_campaign_as_argument_or_option_is_the_same(ws, argv):
    positional = run(*argv, "Spring", "--json")
    option = run(*argv, "--campaign", "Spring", "--json")
    short = run(*argv, "-c", "Spring", "--json")
    assert positional.exit_code == option.exit_code == short.exit_code == 0, option.output
    docs = [json.loads(r.stdout) for r in (positional, option, short)]
    for doc in docs:                      # the clock moves between the runs
        for key in ("now", "at", "as_of"):
            doc.pop(key, None)
    assert docs[0] == docs[1] == docs[2]
    both = run(*argv, "Spring", "--campaign", "Autumn")
    assert both.exit_code == 2 and "Two campaigns given" in both.stderr


def test_other_spellings_work_but_are_not_listed(ws):
    assert run("campaigns", "list", "--json").exit_code == 0
    r = run("numbers", "create", "+14155550123")
    assert r.exit_code == 0 and "Added +14155550123" in r.stderr
    assert run("number", "delete", "+14155550123", "--yes").exit_code == 0
    assert run("webhooks", "list", "--json").exit_code == 0
    helped = run("number", "--help").stdout
    assert "create" not in helped and "delete" not in helped and "add" in helped
    assert "dialcli number add" in helped
    listed = [line.split("│")[1].split()[0] for line in run("--help").stdout.splitlines()
              if line.count("│") == 2 and line.split("│")[1].split()]
    assert "campaign" in listed and "campaigns" not in listed
    assert "number" in listed and "numbers" not in listed
    assert "webhook" in listed and "webhooks" not in listed


def test_groups_are_singular_nouns():
    """One number for group names (singular, as gh and docker name theirs); ``calls``,
    the call log beside the ``call`` command, is the one documented exception."""
    from dialcli.cli.app import GROUP_ALIASES
    from dialcli.cli.registry import COMMANDS

    groups = {name for name, entry in COMMANDS.items() if entry.group}
    assert groups - {"calls"} == {"agent", "number", "campaign", "dnc", "consent", "webhook",
                                  "config", "auth", "completion", "call"}
    assert all(not g.endswith("s") for g in groups - {"calls"})
    assert all(alias == real + "s" for alias, real in GROUP_ALIASES.items())


def test_help_reads_as_prose_on_an_80_column_terminal():
    """Typer keeps a docstring's line breaks: a line wider than the terminal broke into
    a long line and a stub ("...to a        \\n person, never\\n to a machine"). Paragraphs
    are joined, and example lines fit; a flag shows no '<bool>' as if it took a value."""
    import re

    for name, _ in all_commands():
        r = CliRunner().invoke(app, [*name.split(), "--help"], terminal_width=80,
                               env={"COLUMNS": "80"})
        assert r.exit_code == 0, (name, r.output)
        out = r.output
        assert "<bool>" not in out and "<str>" not in out, name
        description = out.split("╭")[0]        # the prose above the option panels
        lines = [line.rstrip() for line in description.splitlines()]
        for line, following in zip(lines, lines[1:]):
            if line.strip() and following.strip() and not following.startswith("   "):
                # A line is never cut short while the next word would have fitted.
                word = following.split()[0]
                assert len(line) + 1 + len(word) > 79 or line.endswith(":") or re.match(
                    r"\s*(?:[-*\u2022]|\d+[.)])\s", following), (name, line, following)
