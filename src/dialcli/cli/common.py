"""What command modules share: the workspace, the consoles, JSON and CSV output, and
which campaign a command means.

Commands stay thin: parse, call one core function, render. Errors are raised as
``DialcliError`` and turned into a message and exit code by ``DialcliGroup`` in
``cli/__init__.py`` -- never by the command itself.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import logs
from dialcli.clock import SystemClock, to_iso
from dialcli.config import DEFAULT_DB, WorkspaceLocation, find_workspace, resolve_db_path
from dialcli.errors import ExitCode, InputError
from dialcli.store import Store
from dialcli.workspace.lease import continue_frozen

#: stdout stays parseable for exports; messages and errors go to stderr. Piped, a line
#: of text is never word-wrapped at 80 columns (``config get``, ``preview``, verdicts):
#: a script reads whole values.
out = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
# Piped or logged output is not word-wrapped at 80 columns (a log line stays one line).
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())

#: Below this many columns, tables drop the columns that --csv and --json still carry.
WIDE = 110


#: The running command's AppState (one command per process, or per CliRunner call).
_CURRENT: list[AppState] = []


@dataclass
class AppState:
    db_option: str | None = None
    clock: SystemClock = field(default_factory=SystemClock)
    _store: Store | None = None
    #: Where the open store is, as the user would type it (success messages name it).
    opened: str | None = None
    #: The workspace this command created: said once, and removed if the command fails.
    created: Path | None = None
    announced: bool = False

    @property
    def db_path(self) -> Path:
        return resolve_db_path(self.db_option)

    def __post_init__(self) -> None:
        _CURRENT[:] = [self]      # the running command's (helpers without a ctx use it)
        _RESULT.clear()

    def location(self) -> WorkspaceLocation:
        return find_workspace(self.db_option)

    def store(self, *, create: bool = False) -> Store:
        """The workspace, which must exist: only a command that makes something a user
        means to keep passes ``create=True`` (and says it created the file). Anything
        else run where there is no workspace is a usage error, so an opt-out typed in
        the wrong folder fails loudly instead of landing in a new, empty file."""
        if self._store is None:
            where = self.location()
            if not where.exists:
                if not create:
                    raise no_workspace(where)
                self._store = Store(where.path)
                self.opened = where.shown
                self.created = where.path
            else:
                self._store = Store(where.path)
                self.opened = where.shown
            # A campaign runner stopped (SIGSTOP/Ctrl-Z) holding the write lock would
            # block this command for good: continue it after a second of waiting.
            self._store.on_busy = continue_frozen
        return self._store

    def announce(self) -> None:
        """Say, once, that this command created the workspace."""
        if self.created is not None and not self.announced:
            self.announced = True
            note(f"Created workspace {self.opened}")

    def close(self, *, failed: bool = False) -> None:
        """Close the store. A workspace this command created is removed if it failed
        (bad input leaves no file behind); otherwise the creation is said."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.created is None:
            return
        if failed:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.created}{suffix}").unlink(missing_ok=True)
            self.created = None
        else:
            self.announce()


def no_workspace(where: WorkspaceLocation) -> InputError:
    """The error for a command run where no workspace exists (exit 2, nothing created)."""
    if where.how == "default":
        return InputError(
            f"No dialcli workspace here: ./{DEFAULT_DB} does not exist (nor in any parent "
            "folder).",
            hint="Use --db PATH or DIALCLI_DB, or run from the folder that holds it. "
                 "A new workspace is made by dialcli agent create, number add, "
                 "campaign create or demo.")
    source = "--db" if where.how == "option" else "DIALCLI_DB"
    return InputError(
        f"No dialcli workspace at {where.path} ({source}): the file does not exist.",
        hint="Check the path, or run from the folder that holds the workspace. A new "
             "workspace is made by dialcli campaign create, agent create, number add, "
             "import or demo.")


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = AppState()
    return root.obj


def store(ctx: typer.Context, *, create: bool = False) -> Store:
    """The command's workspace (see ``AppState.store``: it must exist unless ``create``)."""
    return state(ctx).store(create=create)


def now(ctx: typer.Context) -> datetime:
    return state(ctx).clock.now()


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no Rich wrapping or markup). Every instant is
    RFC 3339 UTC with a ``Z`` (datetimes, and ISO strings written with ``+00:00``)."""
    sys.stdout.write(json.dumps(json_ready(data), indent=2, default=str, ensure_ascii=False)
                     + "\n")
    sys.stdout.flush()


_UTC_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\+00:00$")


def json_ready(value: Any) -> Any:
    """``value`` with datetimes as ``...Z`` text and ``+00:00`` instants rewritten the
    same way, so one command's JSON never mixes the two spellings."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return to_iso(value)
    if isinstance(value, str):
        m = _UTC_OFFSET.match(value)
        return m.group(1) + "Z" if m else value
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


class Cell(Text):
    """A table cell that shows ``display`` to a person and gives scripts ``raw`` (the
    full value: an RFC 3339 UTC time, an untruncated text)."""

    def __init__(self, display: str | Text, raw: str, **kw: Any):
        super().__init__(**kw)
        self.append(display if isinstance(display, Text) else Text(display))
        self.raw = raw


def when(value: datetime | str | None, *, zone: str | None = None, style: str = "") -> Cell:
    """An instant as a cell: on a terminal 'YYYY-MM-DD HH:MM' in ``zone`` (an IANA
    name: the recipient's where it matters) or UTC, with the zone's abbreviation
    (``formats.instant``); in piped output RFC 3339 UTC ('2026-03-03T15:00:00Z')."""
    if value is None or value == "":
        return Cell(formats.DASH, "", style=style)
    if formats.parse_instant(value) is None:
        return Cell(str(value), str(value), style=style)
    return Cell(formats.instant(value, zone), formats.utc_z(value), style=style)


def num(n: int | float | None) -> Cell:
    """A count as a cell: '187,317' to a person (``formats.count``), '187317' to a
    script (piped tables stay summable with awk)."""
    return Cell(formats.count(n), "" if n is None else str(round(n)))


def amount(dollars: float | None, *, none: str = formats.DASH) -> Cell:
    """Money as a cell: '$1,234.50' to a person (``formats.money``), '1234.5' piped."""
    return Cell(formats.money(dollars, none=none),
                "" if dollars is None else f"{dollars:.6f}".rstrip("0").rstrip("."))


def stdout_is_terminal() -> bool:
    return out.is_terminal


def table_width() -> int:
    """The width tables are laid out for: the terminal's, or unbounded when piped
    (tables drop columns on narrow terminals; a script gets every column)."""
    return out.width if stdout_is_terminal() else 100_000


def show(renderable: Any, *, rows: int = 0) -> None:
    """Print a table (or a group holding tables) on stdout. On a terminal, drawn by
    Rich, through the pager ($PAGER, else less) when its ``rows`` would not fit on the
    screen; piped, each table is one line per row, tab-separated, with a header line,
    full values and RFC 3339 UTC times (as gh does), so grep, cut and awk work."""
    if stdout_is_terminal():
        if rows > out.height and not os.environ.get("DIALCLI_NO_PAGER"):
            with out.pager(styles=True):
                out.print(renderable)
        else:
            out.print(renderable)
        return
    from rich.console import Group

    page = isinstance(renderable, Group)
    parts = renderable.renderables if page else [renderable]
    for part in parts:
        if hasattr(part, "as_table"):              # a table laid out at render time
            part = part.as_table(table_width())
        if isinstance(part, Table):
            # A page holds several tables: a '# title' line says which one follows.
            if page and part.title:
                sys.stdout.write(f"# {_plain(part.title)}\n")
            write_tsv(part)
        elif isinstance(part, (str, Text)) and not str(part).strip():
            continue
        elif isinstance(part, Panel):
            # A box is for a person: a script gets its title line and its lines.
            if part.title:
                sys.stdout.write(f"# {_plain(part.title)}\n")
            out.print(part.renderable, soft_wrap=True)
        else:
            out.print(part, soft_wrap=True)


def _plain(title: Any) -> str:
    """A table's or panel's title (Text, or a string with Rich markup) as plain text."""
    return title.plain if isinstance(title, Text) else Text.from_markup(str(title)).plain


def write_tsv(table: Table) -> None:
    """``table`` as tab-separated lines: a header, then one line per row."""
    # A column of bars (the report's share bars) is a picture for a person: left out.
    columns = [c for c in table.columns if c.header or not _drawing(c.cells)]
    # Always a header, even for a table drawn without one (a key/value summary): a
    # script reads columns by name.
    names = [_tsv_text(c.header) for c in columns]
    if not any(names) and len(names) == 2:
        names = ["Field", "Value"]          # a key/value grid (``campaign show``)
    lines = ["\t".join(n or f"column{i + 1}" for i, n in enumerate(names))]
    cells = [list(c.cells) for c in columns]
    for row in zip(*cells):
        lines.append("\t".join(_tsv_text(cell) for cell in row))
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    sys.stdout.flush()


_GLYPHS = set("█▉▊▋▌▍▎▏▁▂▃▄▅▆▇ ")


def _drawing(cells: Any) -> bool:
    texts = [_tsv_text(cell) for cell in cells]
    return any(texts) and all(set(t) <= _GLYPHS for t in texts)


def _tsv_text(cell: Any) -> str:
    if isinstance(cell, Cell):
        text = cell.raw
    elif isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str):
        text = Text.from_markup(cell).plain if "[" in cell else cell
    else:
        text = str(cell)
    return " ".join(text.replace("\t", " ").split()) if ("\n" in text or "\t" in text) \
        else text


def note(message: str) -> None:
    """A human message on stderr (keeps stdout clean for data); none under -q."""
    if not logs.SETTINGS.quiet:
        err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {message}")


def success(message: str) -> None:
    """A change done: the message, then which workspace holds it when a workspace was
    opened (a find in a parent folder is never silent)."""
    if logs.SETTINGS.json:
        _RESULT.setdefault("messages", []).append(Text.from_markup(message).plain)
        return
    if logs.SETTINGS.quiet:
        return
    app = _app_state()
    if app is not None:
        app.announce()
    where = app.opened if app is not None and app._store is not None else None
    suffix = f" [dim](workspace {escape(where)})[/dim]" if where else ""
    err.print(f"[green]✓[/green] {message}{suffix}")


#: What a command without its own JSON shape did, for the shared --json.
_RESULT: dict[str, Any] = {}


def result(**data: Any) -> None:
    """Add to what the shared ``--json`` prints (the changed object, counts...).
    Commands call it beside ``success``; without --json it is not printed."""
    _RESULT.update(data)


def print_result() -> None:
    """The shared --json document: ok, the workspace, the messages, then ``result``."""
    app = _app_state()
    doc: dict[str, Any] = {"ok": True}
    if app is not None and app.opened is not None:
        doc["workspace"] = str(Path(app.location().path).resolve())
    doc["messages"] = _RESULT.pop("messages", [])
    doc.update(_RESULT)
    _RESULT.clear()
    print_json(doc)


def _app_state() -> AppState | None:
    return _CURRENT[0] if _CURRENT else None


#: The option every destructive command takes (``yes: bool = YES``): skip the question.
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (needed when "
                   "there is no terminal to ask on).")


def interactive() -> bool:
    """A person can answer: stdin is a terminal, and stderr (where prompts go, so
    ``cmd > out.txt`` still shows them) is one too."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _need_terminal(action: str) -> None:
    if not interactive():
        raise InputError(f"{action} needs confirmation, and there is no terminal to ask on.",
                         hint="Add --yes to confirm.")


def confirm(question: str, *, yes: bool, action: str) -> None:
    """Ask before a destructive change (on stderr); ``--yes`` skips the question.

    With no terminal to ask on, an error that names ``--yes`` (exit 2): a script never
    hangs on a question nobody sees, and never goes ahead by default. A "no" changes
    nothing and exits 1.
    """
    if yes:
        return
    _need_terminal(action)
    if not typer.confirm(question, default=False, err=True):
        note("Nothing changed.")
        raise typer.Exit(int(ExitCode.ERROR))


def confirm_by_name(question: str, name: str, *, yes: bool, action: str) -> None:
    """As ``confirm``, but the user types ``name`` (as GitHub asks before deleting a
    repository): a reflexive "y" cannot delete the wrong campaign."""
    if yes:
        return
    _need_terminal(action)
    err.print(question, markup=False)
    typed = typer.prompt(f"Type the name ({name}) to confirm", default="",
                         show_default=False, err=True)
    if typed.strip() != name:
        note("The name did not match. Nothing changed.")
        raise typer.Exit(int(ExitCode.ERROR))


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write CSV rows to ``path`` ('-' = stdout) through a temp file, so a failure
    leaves no half-written file; the number of rows written."""
    if path == "-":
        return _write_rows(sys.stdout, header, rows)
    # lazy: the exports module (and what it imports) only for commands that write a file
    from dialcli.results.exports import write_atomically

    with write_atomically(path, what="CSV file", option="--csv") as fh:  # checked first
        return _write_rows(fh, header, rows)


def _write_rows(fh, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    fh.flush()
    return n


def resolve_campaign_id(st: Store, name: str | None) -> int:
    """A campaign's id by name, or the only campaign's when the name is omitted."""
    # lazy: compliance and templates (via campaigns) only for commands naming a campaign
    from dialcli.workspace.campaigns import find_campaign

    return find_campaign(st, name).id


def bounded(lo: float, hi: float, unit: str = ""):
    """A Typer ``callback`` refusing a number outside [lo, hi] -- and NaN and infinity,
    which Click's ranges let through -- as a usage error (exit 2) naming the bounds."""
    import math

    def check(ctx: typer.Context, param: Any, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        if not (math.isfinite(value) and lo <= value <= hi):
            raise typer.BadParameter(f"{value:g} is out of range: use {lo:g} to {hi:g}{unit}.")
        return value

    return check
