"""The ``dialcli`` command line.

One module per command group; each exposes ``register(app)``. ``DialcliGroup`` is the
single place where core errors become a message on stderr and a named exit code
(``errors.ExitCode``), so every command, at any depth, behaves the same.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from dialcli import __version__
from dialcli.cli.common import AppState, err
from dialcli.config import scrub
from dialcli.errors import DialcliError, ExitCode

COMMAND_MODULES = (
    "agent", "numbers", "campaign", "import_", "preview", "start", "report", "dnc",
    "webhooks", "plan", "doctor", "config",
)


class DialcliGroup(TyperGroup):
    """Maps ``DialcliError`` to a clean message and exit code, for every subcommand."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DialcliError as exc:
            # escape: messages quote user-typed names, which may hold [brackets].
            err.print(f"[bold red]Error:[/bold red] {escape(scrub(exc.message))}", markup=True,
                      highlight=False)
            if exc.hint:
                err.print(scrub(exc.hint), markup=False, highlight=False)
            raise typer.Exit(int(exc.exit_code)) from None
        except UnicodeEncodeError as exc:
            if "surrogate" not in str(exc.reason):
                raise
            # Bytes that are not UTF-8 in an argument (Python keeps them as lone
            # surrogates) cannot be stored: say which text, like any bad input.
            bad = exc.object[exc.start:exc.end].encode("utf-8", "surrogateescape")
            shown = repr(exc.object if len(exc.object) <= 80 else exc.object[:77] + "...")
            err.print(f"[bold red]Error:[/bold red] {escape(scrub(shown))} is not UTF-8 text "
                      f"(bytes {bad.hex(' ')}).", markup=True, highlight=False)
            err.print("dialcli keeps names, text and settings as UTF-8: type it again in a "
                      "UTF-8 terminal (e.g. LANG=en_US.UTF-8).", markup=False, highlight=False)
            raise typer.Exit(int(ExitCode.USAGE)) from None
        except OverflowError as exc:
            if "SQLite INTEGER" not in str(exc):
                raise
            # A number typed on the command line (--limit, --lead, an id) that no
            # SQLite integer can hold; the transaction it was in has rolled back.
            err.print("[bold red]Error:[/bold red] a number given is too large (the largest "
                      "is 9223372036854775807).", markup=True, highlight=False)
            raise typer.Exit(int(ExitCode.USAGE)) from None
        except KeyboardInterrupt:
            err.print("Interrupted.")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        finally:
            if ctx.obj is not None and isinstance(ctx.obj, AppState) and ctx.parent is None:
                ctx.obj.close()


app = typer.Typer(
    name="dialcli",
    cls=DialcliGroup,
    help="Run outbound AI voice-call campaigns from your laptop.\n\n"
         "Import leads from a CSV, pick a voice agent and a from-number, set calling\n"
         "hours and a retry policy, and start: dialcli dials every lead breadth-first\n"
         "inside calling hours, lets the AI agent talk, and labels each outcome.\n\n"
         "Try it without a phone bill: dialcli demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # the Twilio auth token must never print
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dialcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: str = typer.Option(
        None, "--db", metavar="PATH",
        help="Workspace file (default: $DIALCLI_DB or ./dialcli.db).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit.",
    ),
) -> None:
    """Run outbound AI voice-call campaigns from your laptop."""
    _tolerant_streams()
    ctx.obj = AppState(db_option=db)


def _tolerant_streams() -> None:
    """File names may hold bytes that are not UTF-8: print them, never crash on them.

    Such bytes reach Python as lone surrogates. stdout passes them through as the
    original bytes (as ``ls`` does); stderr shows them escaped, as Python does.
    """
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        try:
            stream.reconfigure(errors=errors)
        except (AttributeError, ValueError, OSError):
            pass


for _name in COMMAND_MODULES:
    _module = importlib.import_module(f"dialcli.cli.{_name}")
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="dialcli")
