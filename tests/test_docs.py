"""Every command documents itself: help text on every command and group, and an
"Example" block in the help of every command a user runs (a port of sqlite-utils'
``test_commands_have_help``, walking the whole Typer tree)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from dialcli import __version__
from dialcli.cli.app import app

ROOT = typer.main.get_command(app)


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        if sub.hidden or (sub.name and sub.name != name):
            continue        # an old spelling kept as a hidden alias: its command is walked
        yield from _walk(sub, path + (name,))


ALL = [(path, cmd) for path, cmd in _walk(ROOT) if path]
LEAVES = [(path, cmd) for path, cmd in ALL if not getattr(cmd, "commands", None)]


def _id(item) -> str:
    return " ".join(item[0])


def test_the_tree_has_the_documented_commands():
    names = {" ".join(path) for path, _ in ALL}
    for expected in ("agent create", "agent list", "agent show", "agent edit", "agent delete",
                     "number add", "number list", "number remove",
                     "campaign create", "campaign list", "campaign show", "campaign edit",
                     "campaign delete", "preview"):
        assert expected in names


@pytest.mark.parametrize("item", ALL, ids=_id)
def test_every_command_and_group_has_help(item):
    path, command = item
    assert (command.help or "").strip(), f"dialcli {' '.join(path)} is missing its help"
    assert (command.short_help or command.help).strip()


@pytest.mark.parametrize("item", LEAVES, ids=_id)
def test_every_command_help_has_an_example(item):
    path, command = item
    assert "Example" in command.help, f"dialcli {' '.join(path)}: help has no Example block"
    # The example must show this very command being run.
    assert "dialcli " + " ".join(path) in command.help


@pytest.mark.parametrize("item", ALL, ids=_id)
def test_help_renders(item):
    path, _ = item
    result = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Usage: dialcli " + " ".join(path) in " ".join(result.stdout.split())


def test_root_help_and_version():
    runner = CliRunner()
    result = runner.invoke(app, ["--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Run outbound AI voice-call campaigns" in result.stdout
    for group in ("agent", "numbers", "campaign", "preview"):
        assert group in result.stdout
    result = runner.invoke(app, [], catch_exceptions=False)       # no args: help, not an error
    assert "Usage: dialcli" in result.output
    result = runner.invoke(app, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.strip() == f"dialcli {__version__}"
