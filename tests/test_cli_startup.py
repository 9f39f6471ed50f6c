"""dialcli starts at once: ``--help`` and ``--version`` import no command module and
none of the heavy libraries behind them, and the table of commands that makes that
possible cannot drift from the commands themselves. (How long start-up takes is
measured by ``bench/cli_startup.py``, not here.)"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from dataclasses import fields

import pytest
import typer
from typer.testing import CliRunner

import dialcli.cli
from dialcli.cli.registry import COMMANDS, root_help
from dialcli.cli.app import app, listed_help

#: Libraries (and our own layers) that only commands which need them may load.
HEAVY = ("dialcli.engine", "dialcli.providers", "dialcli.leads", "dialcli.workspace",
         "dialcli.results", "dialcli.compliance", "httpx", "jinja2", "phonenumbers", "pandas",
         "starlette", "uvicorn", "twilio", "sqlite_utils", "dateutil", "holidays", "pydantic")

PROBE = """
import sys
from dialcli.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.write("\\n--modules--\\n" + "\\n".join(sorted(sys.modules)) + "\\n")
"""


def modules_after(*args: str) -> set[str]:
    """The modules loaded by a fresh ``dialcli ARGS`` process."""
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         timeout=60, check=True)
    return set(run.stdout.split("\n--modules--\n")[1].split())


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY
                  or any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [("--help",), ("--version",), ()], ids=["help", "version", "none"])
def test_help_and_version_import_no_command_module_and_nothing_heavy(args):
    loaded = modules_after(*args)
    assert heavy(loaded) == []
    assert {m for m in loaded if m.startswith("dialcli.")} <= {"dialcli.cli", "dialcli.cli.registry"}
    assert "typer" not in loaded and "rich" not in loaded      # answered from the tables


def test_the_probe_sees_what_a_command_loads():
    """The check above can fail: a command's own help loads its module and the core."""
    loaded = modules_after("doctor", "--help")
    assert "dialcli.cli.doctor" in loaded and "dialcli.engine.doctor" in loaded
    assert "dialcli.cli.status" not in loaded          # only the command asked for


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_tables_line_is_the_commands_own_help(name):
    entry = COMMANDS[name]
    command = entry.load(name)
    assert command.name == name
    assert listed_help(command) == entry.help


def test_every_command_a_module_defines_is_in_the_table():
    """A command added to a module but not to the table would be unreachable."""
    in_table = {e.module for e in COMMANDS.values()}
    for info in pkgutil.iter_modules(dialcli.cli.__path__):
        module = importlib.import_module(f"dialcli.cli.{info.name}")
        if not hasattr(module, "app") or info.name == "app":    # app.py: the root itself
            continue
        assert info.name in in_table, f"cli/{info.name}.py defines commands the table lacks"
        if COMMANDS.get(module.app.info.name or "", None) is not None:
            continue                                   # a group: its module is the group
        defined = {c.name for c in module.app.registered_commands}
        listed = {n for n, e in COMMANDS.items() if e.module == info.name}
        assert defined == listed, info.name


def test_root_help_lists_every_command_with_its_line():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    rows = [line.split("│")[1].split() for line in lines if line.count("│") == 2]
    for name, entry in COMMANDS.items():
        assert [name, *entry.help.split()] in rows, name


def test_the_fast_root_help_says_what_typers_says():
    """``dialcli --help`` is drawn from the tables without Typer; it must say what
    Typer's own rendering of the root group says, line for line."""
    typer_out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"}).stdout
    fast = root_help(100)

    def rows(text: str) -> list[list[str]]:
        return [line.split("│")[1].split() for line in text.splitlines() if line.count("│") == 2]

    def prose(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()
                and "│" not in line and "╭" not in line and "╰" not in line]

    assert prose(fast) == prose(typer_out)
    assert [r for r in rows(fast) if r[0] in COMMANDS] == \
        [r for r in rows(typer_out) if r[0] in COMMANDS]
    options = [[w for w in r if w != "<bool>"] for r in rows(typer_out) if r[0].startswith("--")]
    assert [r for r in rows(fast) if r[0].startswith("--")] == options
    assert all(len(line) == 100 for line in fast.splitlines() if line.startswith(("│", "╭", "╰")))


def test_a_mistyped_command_is_suggested_without_loading_every_module():
    result = CliRunner().invoke(app, ["stat"])
    assert result.exit_code == 2
    assert "Did you mean 'start', 'status', 'restart'?" in result.output


def test_start_resume_and_restart_take_the_same_run_options():
    from dialcli.cli.start import RunFlags

    def params(name: str) -> dict:
        return {p.name: (tuple(p.opts), p.help, p.default)
                for p in COMMANDS[name].load(name).params}

    start, resume, restart = params("start"), params("resume"), params("restart")
    flags = [f.name for f in fields(RunFlags)]
    assert flags and all(start[f] == resume[f] == restart[f] for f in flags)
    assert set(start) == set(resume) == {"campaign", *flags}
    assert set(restart) - set(start) == {"yes", "no_start"}
    # Each command's own parameters come first, then the shared ones, in declared order.
    assert [p.name for p in COMMANDS["restart"].load("restart").params] == [
        "campaign", "yes", "no_start", *flags]


def test_the_root_group_walks_like_any_click_group():
    """Tools that walk ``commands`` (docs, completion) still see every command."""
    root = typer.main.get_command(app)
    assert list(root.commands) == list(COMMANDS)
    assert root.commands["agent"].commands["create"].name == "create"
