"""The Typer application behind ``dialcli``: commands load lazily from ``COMMANDS``.

``DialcliGroup`` imports a command's module only when that command runs, so a
command loads neither the engine nor the libraries another command needs.
``DialcliGroup.invoke`` is the single place where a core error becomes a message on
stderr and a named exit code (``errors.ExitCode``), for every command at any depth.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from typing import Optional

import typer
from typer.core import TyperCommand, TyperGroup

from dialcli import __version__
from dialcli.cli.registry import ABOUT, COMMANDS, Entry

#: What a row of the table loads: a command, or a group of them.
Command = TyperCommand | TyperGroup

def listed_help(command: Command) -> str:
    """The line a group's help lists for ``command``: its help's first paragraph."""
    text = inspect.cleandoc(command.short_help or command.help or "")
    return text.split("\n\n")[0].replace("\n", " ").strip()


#: Groups are singular nouns, as gh (``gh repo``, ``gh pr``) and docker (``docker
#: image``) name theirs, and as most of ours already were: ``dialcli number add``
#: reads "number: add". The plural spellings are accepted but not listed. ``calls``
#: stays plural: it is the call log (list, show, export), and ``call`` is the command
#: that places a test call.
GROUP_ALIASES = {"agents": "agent", "campaigns": "campaign", "numbers": "number",
                 "webhooks": "webhook", "consents": "consent"}
#: Verbs that mean the same, accepted but not listed: create/add, delete/remove.
VERB_ALIASES = {"create": "add", "add": "create", "delete": "remove", "remove": "delete"}


_ITEM = re.compile(r"\s*(?:[-*\u2022]|\d+[.)])\s")


def reflowed(help_text: str | None) -> str | None:
    """``help_text`` with each paragraph's single line breaks joined, as Click joins them:
    Typer keeps them, so a docstring line wider than the terminal wrapped into a long
    line and a short one. Paragraphs marked ``\\b`` (examples) keep their lines; a list
    item starts its own line."""
    if not help_text:
        return help_text
    paragraphs = []
    for para in inspect.cleandoc(help_text).split("\n\n"):
        if para.startswith("\b"):
            paragraphs.append(para)
            continue
        lines: list[str] = []
        for line in para.split("\n"):
            if lines and not _ITEM.match(line):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


#: What the help's type column says for a value of each Python type: Click's words,
#: not Typer's ``<str>``.
_TYPE_WORDS = {"<str>": "TEXT", "<int>": "INTEGER", "<float>": "NUMBER",
               "<list[str]>": "TEXT", "<list[int]>": "INTEGER", "<int range>": "INTEGER",
               "<path>": "PATH"}


def _plain_types(command: Command) -> None:
    """The help's type column in a user's words: a flag takes no value, so it shows
    none (Typer shows ``<bool>``, which reads as if ``--json true`` were wanted), and
    a value is TEXT, INTEGER or NUMBER as Click names them. Only the help's column
    changes: usage lines and parsing are Typer's."""
    import click

    def plain(param) -> None:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.display_type_rich = lambda ctx: None
            return
        if param.param_type_name == "option" and param.metavar is not None:
            return                          # an option's metavar is its type column
        shown = type(param).display_type_rich(param, click.Context(command))
        if shown in _TYPE_WORDS:
            param.display_type_rich = lambda ctx, word=_TYPE_WORDS[shown]: word

    for param in command.params:
        plain(param)
    made = command.get_help_option          # Click makes --help per context: a flag too

    def get_help_option(ctx):
        option = made(ctx)
        if option is not None:
            plain(option)
        return option

    command.get_help_option = get_help_option


def with_common_options(command: Command) -> Command:
    """``command`` (and, for a group, each of its commands) with the options every
    command takes without declaring them: ``-q``, ``-v``/``-vv``, ``--log-file``
    (``logs.options``), and ``--json`` where the command has none of its own: it then
    prints ``{"ok": true, "workspace": ..., "messages": [...], ...}`` with what the
    command reported through ``common.success``/``common.result``. Applied once per
    loaded command."""
    from dialcli.cli import logs

    if not getattr(command, "_dialcli_common", False):
        taken = {o for p in command.params for o in getattr(p, "opts", [])}
        extra = logs.options()
        if not hasattr(command, "commands") and "--json" not in taken:
            extra += logs.json_option()       # commands without a JSON shape of their own
        command.params.extend(o for o in extra if not set(o.opts) & taken)
        _campaign_option(command, taken)
        _complete_names(command)
        command.help = reflowed(command.help)
        _plain_types(command)
        command._dialcli_common = True
    subs = getattr(command, "commands", None)
    if subs is not None:
        for sub in list(subs.values()):
            with_common_options(sub)
        for alias, real in VERB_ALIASES.items():
            if real in subs and alias not in subs:
                hidden = copy.copy(subs[real])
                hidden.hidden = True
                subs[alias] = hidden
    return command


def _campaign_option(command: Command, taken: set[str]) -> None:
    """One way to pick a campaign: a command whose campaign is a positional argument
    also takes ``--campaign NAME`` / ``-c NAME`` (as report, import and preview do)."""
    from dialcli.cli import completion
    from dialcli.errors import InputError

    positional = next((p for p in command.params if getattr(p, "param_type_name", "") ==
                       "argument" and completion.kind_of(p) == "campaign"), None)
    if positional is None or "--campaign" in taken or command.callback is None:
        return
    import typer

    holder = typer.Typer(add_completion=False)

    @holder.command()
    def _common(
        campaign_alias: Optional[str] = typer.Option(
            None, "--campaign", "-c", metavar="NAME",
            help="The campaign (the same as giving it as the argument)."),
    ) -> None:
        """Not run: only its parameters are used."""

    (option,) = typer.main.get_command(holder).params
    command.params.append(option)
    callback, name = command.callback, positional.name

    @functools.wraps(callback)
    def with_alias(*args, campaign_alias=None, **kwargs):
        given = kwargs.get(name)
        if campaign_alias is not None:
            if given is not None and given != campaign_alias:
                raise InputError(f"Two campaigns given ({given!r} and --campaign "
                                 f"{campaign_alias!r}); name one.")
            kwargs[name] = campaign_alias
        return callback(*args, **kwargs)

    command.callback = with_alias


def _complete_names(command: Command) -> None:
    """Parameters naming a campaign, agent or from-number complete from the workspace
    (``completion.kind_of``). Click keeps a parameter's completer in
    ``_custom_shell_complete``; Typer fills it only from ``autocompletion=``, which would
    have to be repeated on every such argument of every command."""
    from dialcli.cli import completion

    for param in command.params:
        kind = completion.kind_of(param)
        if kind is not None and getattr(param, "_custom_shell_complete", None) is None:
            param._custom_shell_complete = completion.completer(kind)


class LazyCommands(Mapping[str, Command]):
    """``COMMANDS`` as Click commands: the names come from the table, and a command's
    module is imported the first time that command is looked up."""

    def __init__(self, table: Mapping[str, Entry]):
        self.table = table
        self.loaded: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self.loaded:
            self.loaded[name] = with_common_options(self.table[name].load(name))
        return self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


class DialcliGroup(TyperGroup):
    """The root group: commands load lazily from ``COMMANDS``, and ``DialcliError`` maps
    to a clean message and exit code for every subcommand."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        assert not self.commands, "commands are registered in COMMANDS, not on the root app"
        self.commands = LazyCommands(COMMANDS)
        from dialcli.cli import logs

        self.params.extend(logs.options())    # dialcli -v start: as start -v

    def make_context(self, info_name, args, parent=None, **extra):
        from dialcli.cli import logs   # light: no Typer or Rich

        logs.reset()                   # each command line starts from the defaults
        return super().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(self.commands)      # names only: TyperGroup's would import every module

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Command | None:
        cmd_name = GROUP_ALIASES.get(cmd_name, cmd_name)
        return self.commands[cmd_name] if cmd_name in self.commands else None

    def format_help(self, ctx: typer.Context, formatter) -> None:
        # The command list shows a name and one line; the table holds both, so listing
        # them imports no command module.
        listing = copy.copy(self)
        listing.commands = {name: TyperCommand(name, help=entry.help)
                            for name, entry in COMMANDS.items()}
        super(DialcliGroup, listing).format_help(ctx, formatter)

    def invoke(self, ctx: typer.Context):
        # lazy: consoles, workspace and error types serve commands, not --help/--version
        from rich.markup import escape

        from dialcli.cli.common import AppState, err
        from dialcli.config import scrub
        from dialcli.errors import DialcliError, ExitCode

        from dialcli.cli import logs

        failed = True
        try:
            logs.apply()              # the root's flags and $DIALCLI_LOG_LEVEL
            try:
                result = super().invoke(ctx)
            except sqlite3.DatabaseError as exc:
                # A fault of the workspace file met mid-command (read-only, disk full,
                # damaged pages): a message naming the file and the fix, not a traceback.
                from dialcli.store.health import describe

                path = ctx.obj.db_path if isinstance(ctx.obj, AppState) else "the workspace"
                raise describe(exc, str(path)) from None
            if logs.SETTINGS.json and ctx.parent is None:
                from dialcli.cli.common import print_result

                print_result()
            failed = False
            return result
        except typer.Exit as exc:
            failed = exc.exit_code != 0
            raise
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
                ctx.obj.close(failed=failed)
            if ctx.parent is None:
                logs.reset()          # handlers hold this run's stderr and log file


app = typer.Typer(
    name="dialcli",
    cls=DialcliGroup,
    help=ABOUT,
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
    from dialcli.cli.common import AppState  # lazy: as in DialcliGroup.invoke

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
