"""Progress bars for the long commands: ``dnc import``, ``consent import``, the CSV
and JSONL exports, and each pass of ``start``.

A bar is drawn by ``rich.progress`` on stderr, and only when stderr is a terminal
and neither ``-q`` nor the shared ``--json`` asked for silence: a script, a pipe or
a log file never receives carriage returns and escape codes. It disappears when the
work is done (the command's summary says what happened). ``DIALCLI_NO_PROGRESS=1``
turns bars off, as ``NO_COLOR`` turns colour off.

The core never draws: it takes a plain callback, ``progress(done, total)`` (bytes
of the input file read, or rows written), and the functions here turn that into a
bar with a percentage, the count and an ETA.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.progress import (BarColumn, Progress, ProgressColumn, SpinnerColumn,
                           TaskProgressColumn, TextColumn, TimeRemainingColumn)
from rich.text import Text

from dialcli import formats
from dialcli.cli import common, logs

#: What the core calls: ``progress(done, total)``; ``total`` None when not known yet.
Callback = Callable[[int, "int | None"], None]


def _none(done: int, total: int | None = None) -> None:
    """The callback when no bar is drawn."""


def enabled() -> bool:
    """A person is watching stderr and did not ask for quiet."""
    return (common.err.is_terminal and not logs.SETTINGS.quiet and not logs.SETTINGS.json
            and not os.environ.get("DIALCLI_NO_PROGRESS"))


class CountColumn(ProgressColumn):
    """'12,345 / 500,000 rows' (``formats.count``); bytes are left to the percentage."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Any) -> Text:
        if self.unit == "bytes":
            return Text("")
        total = "?" if task.total is None else formats.count(task.total)
        return Text(f"{formats.count(task.completed)} / {total} {self.unit}", style="dim")


def columns(unit: str) -> list[ProgressColumn]:
    """The bar's columns: what, the bar, %, the count, the time left."""
    return [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            TaskProgressColumn(), CountColumn(unit), TextColumn("ETA"),
            TimeRemainingColumn(compact=True)]


@contextmanager
def bar(description: str, *, total: int | None = None, unit: str = "rows") -> Iterator[Callback]:
    """A bar on stderr while the block runs; yields the callback for the core
    (a no-op when no bar is drawn)."""
    if not enabled():
        yield _none
        return
    with Progress(*columns(unit), console=common.err, transient=True) as shown:
        task = shown.add_task(description, total=total)

        def update(done: int, total: int | None = None) -> None:
            if total is not None:
                shown.update(task, completed=done, total=total)
            else:
                shown.update(task, completed=done)

        yield update


def file_bar(description: str) -> Any:
    """A bar for reading an input file (the callback gets bytes read, bytes in all)."""
    return bar(description, unit="bytes")


class CountingWriter:
    """A text stream that calls ``on_rows(n)`` as lines are written to ``fh`` (a CSV
    writer writes one line per ``write``), so an export can drive a bar without the
    exporter knowing about it."""

    def __init__(self, fh: IO[str], on_rows: Callable[[int], None], every: int = 500):
        self._fh, self._on_rows, self._every = fh, on_rows, every
        self.rows = 0

    def write(self, text: str) -> int:
        lines = text.count("\n")
        if lines:
            before = self.rows
            self.rows += lines
            if self.rows // self._every != before // self._every:
                self._on_rows(self.rows)
        return self._fh.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def counting(fh: IO[str], update: Callback, total: int | None) -> IO[str] | CountingWriter:
    """``fh`` as it is without a bar; else wrapped to advance ``update`` by rows."""
    if update is _none:
        return fh
    return CountingWriter(fh, lambda rows: update(rows, total))


class PassBar:
    """The pass of a running campaign as a bar with an ETA: 'Pass 2 of 3 ━━━━ 41%
    1,230 / 3,000 leads ETA 0:04:10'.

    It counts down the leads the pass still has to dial (``lifecycle.pass_left``),
    read at most every ``every`` seconds through its own connection, so the engine's
    thread is never touched; the total is what was left when the pass was first seen
    (leads imported meanwhile raise it). Rendered inside the dashboard, or alone on
    stderr when stdout is piped.
    """

    def __init__(self, db_path: str, campaign_id: int, max_passes: int, *,
                 every: float = 2.0, monotonic: Callable[[], float] | None = None):
        import time

        self.db_path, self.campaign_id, self.max_passes = db_path, campaign_id, max_passes
        self.every, self._monotonic = every, monotonic or time.monotonic
        self.progress = Progress(*columns("leads"), auto_refresh=False)
        self.task = None
        self.pass_no = 0
        self._store: Any = None
        self._read_at: float | None = None

    def _read(self) -> tuple[int, int]:
        from dialcli.engine import lifecycle
        from dialcli.store import Store

        if self._store is None:
            self._store = Store(self.db_path, migrate=False)
        return lifecycle.pass_left(self._store, self.campaign_id)

    def poll(self, *, force: bool = False) -> None:
        """Read the pass's progress if ``every`` seconds have passed since the last read
        (or now, with ``force``: the last frame of a run shows where it ended)."""
        now = self._monotonic()
        if not force and self._read_at is not None and now - self._read_at < self.every:
            return
        self._read_at = now
        pass_no, left = self._read()
        label = f"Pass {pass_no} of {self.max_passes}"
        if self.task is None or pass_no != self.pass_no:
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.pass_no = pass_no
            self.task = self.progress.add_task(label, total=max(left, 1),
                                               completed=0 if left else 1)
            return
        task = next(t for t in self.progress.tasks if t.id == self.task)
        total = max(int(task.total or 0), int(task.completed) + left)
        self.progress.update(self.task, total=total, completed=total - left)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def last_read(self) -> None:
        """Read now, for the run's last frame (else it may be ``every`` s stale)."""
        self._poll_safely(force=True)

    def _poll_safely(self, *, force: bool = False) -> None:
        try:
            self.poll(force=force)
        except Exception:  # noqa: BLE001 -- a bar must never stop the run it shows
            logging.getLogger("dialcli.progress").debug("pass bar not updated", exc_info=True)

    def __rich__(self) -> Any:
        self._poll_safely()
        return self.progress.get_renderable()
