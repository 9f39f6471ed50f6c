"""The ``dialcli`` command line: one module per command, listed in one table.

Every command is registered one way: a row of ``registry.COMMANDS`` names the module
under ``dialcli/cli/`` that defines it (with ``app = typer.Typer()`` and
``@app.command``) and the one line ``dialcli --help`` shows for it. ``main`` answers
``--version`` and ``--help`` from the registry alone; any other command line goes to
``app.py``'s Typer application, which imports a command's module only when it runs
(``bench/cli_startup.py`` measures it; ``tests/test_cli_startup.py`` keeps each line
equal to the command's own help and the root help equal to Typer's).

Modules: ``registry`` (the command table and the root help), ``app`` (the Typer
application, where errors become exit codes), ``common`` (the workspace, consoles,
JSON), ``ui`` (the dashboard), and one per command.
"""

from __future__ import annotations

import os
import shutil
import sys

from dialcli import __version__
from dialcli.cli.registry import root_help


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. ``--version`` and ``--help`` are answered from the
    registry; anything else loads the command line (``app.py``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    completing = bool(os.environ.get("_DIALCLI_COMPLETE"))
    if args == ["--version"] and not completing:
        sys.stdout.write(f"dialcli {__version__}\n")
        return
    if args in ([], ["--help"], ["-h"]) and not completing:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.stdout.write(root_help(shutil.get_terminal_size((80, 24)).columns, color))
        return
    from dialcli.cli.app import app   # lazy: Typer, Rich and the group load for a command

    if os.environ.get("_DIALCLI_COMPLETE"):
        # The shell asks for completions (dialcli completion install): Typer answers.
        from typer.completion import completion_init

        completion_init()
    app(args=args, prog_name="dialcli")
