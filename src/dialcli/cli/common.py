"""What command modules share: the workspace, the consoles, JSON and CSV output, and
which campaign a command means.

Commands stay thin: parse, call one core function, render. Errors are raised as
``DialcliError`` and turned into a message and exit code by ``DialcliGroup`` in
``cli/__init__.py`` -- never by the command itself.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from dialcli.clock import SystemClock
from dialcli.config import resolve_db_path
from dialcli.store import Store
from dialcli.workspace.lease import continue_frozen

#: stdout stays parseable for exports; messages and errors go to stderr.
out = Console(highlight=False, soft_wrap=False)
# Piped or logged output is not word-wrapped at 80 columns (a log line stays one line).
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())

#: Below this many columns, tables drop the columns that --csv and --json still carry.
WIDE = 110


@dataclass
class AppState:
    db_option: str | None = None
    clock: SystemClock = field(default_factory=SystemClock)
    _store: Store | None = None

    @property
    def db_path(self) -> Path:
        return resolve_db_path(self.db_option)

    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
            # A campaign runner stopped (SIGSTOP/Ctrl-Z) holding the write lock would
            # block this command for good: continue it after a second of waiting.
            self._store.on_busy = continue_frozen
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = AppState()
    return root.obj


def store(ctx: typer.Context) -> Store:
    return state(ctx).store()


def now(ctx: typer.Context) -> datetime:
    return state(ctx).clock.now()


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no Rich wrapping or markup)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """A human message on stderr (keeps stdout clean for data)."""
    err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {message}")


def success(message: str) -> None:
    err.print(f"[green]✓[/green] {message}")


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write CSV rows to ``path`` ('-' = stdout) through a temp file, so a failure
    leaves no half-written file; the number of rows written."""
    if path == "-":
        return _write_rows(sys.stdout, header, rows)
    # lazy: the exports module (and what it imports) only for commands that write a file
    from dialcli.results.exports import write_atomically

    with write_atomically(path) as fh:     # a folder, a missing folder: InputError
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
