"""The workspace store: one SQLite file per workspace.

``Store`` opens the file in WAL mode with a busy timeout and foreign keys on, and
applies pending migrations under a write lock, so a fresh file and an old one are
handled the same way and two processes opening a new file at once do not race.

The connection is in autocommit mode; every state change goes through ``tx()``,
which is ``BEGIN IMMEDIATE`` ... ``COMMIT``: it takes the write lock up front, so
a read-then-write inside it cannot be overtaken by another writer. A ``Store`` is
used by one thread; a thread that needs the database opens its own ``Store``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from dialcli.errors import InputError
from dialcli.store import health
from dialcli.store import migrations as schema
from dialcli.store.health import StoreError

BUSY_TIMEOUT_MS = 30_000
#: Commit-time checkpoints once the WAL holds this many pages (SQLite's default is
#: 1,000, 4 MB). A running campaign rewrites the same lead and index pages batch
#: after batch; checkpointing every ~40 MB instead copies each such page once per
#: checkpoint rather than once per few batches, and fsyncs a tenth as often
#: (simulated campaigns +7%). Readers find pages in the WAL through its hash index,
#: so a larger WAL costs them little.
WAL_AUTOCHECKPOINT_PAGES = 10_000
#: So the WAL is bounded: at most ~40 MB (the threshold plus the transaction that
#: crossed it; more only while another process holds a read transaction open across
#: a checkpoint), gone when the last connection closes, and checkpointed to zero by a
#: runner that hits a full disk before it marks the campaign PAUSED.


class _Joined:
    """A nested ``Store.tx()``: joins the open transaction; the outer one commits."""

    __slots__ = ("store",)

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._depth += 1
        return self.store.conn

    def __exit__(self, *exc: object) -> bool:
        self.store._depth -= 1
        return False


class Store:
    #: Seconds a write waits for another process's write lock before giving up; a
    #: campaign runner raises it (it must outlast an import into another campaign).
    busy_patience_s: float = BUSY_TIMEOUT_MS / 1000
    #: Called with the store after each second spent waiting for the write lock (the
    #: CLI continues a frozen campaign runner that may hold it: ``workspace.lease``).
    on_busy: Callable[["Store"], object] | None = None

    def __init__(self, path: str | os.PathLike[str], *, migrate: bool = True):
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            try:
                os.stat(parent)
            except PermissionError:
                raise health.BadWorkspacePath(
                    f"Cannot open workspace {self.path}: permission denied on folder {parent}.",
                    hint="Use a folder you may read and write, or pass another path with --db.",
                ) from None
            except OSError:
                pass
            if not parent.is_dir():
                raise InputError(
                    f"Cannot open workspace {self.path}: folder {parent} does not exist.",
                    hint="Create the folder or pass another path with --db.",
                )
            health.check_path(self.path)       # a folder, a device, not SQLite: exit 2
        created = self.path != ":memory:" and not os.path.exists(self.path)
        try:
            self._open(migrate)
        except BaseException:
            if created:
                # A workspace that could not be made (a full disk, a read-only folder)
                # leaves no empty file behind to be mistaken for one later.
                for suffix in ("", "-wal", "-shm", "-journal"):
                    try:
                        os.unlink(self.path + suffix)
                    except OSError:
                        pass
            raise

    def _open(self, migrate: bool) -> None:
        try:
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode}).")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            self.conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise health.describe(exc, self.path) from None
        self._db = None
        self._depth = 0
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.close()
                raise

    @property
    def db(self):
        """A sqlite-utils ``Database`` on this connection (imported on first use)."""
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn)
        return self._db

    # -- schema -----------------------------------------------------------------
    def _applied_names(self) -> set[str]:
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
        ).fetchone()
        if not exists:
            return set()
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?",
            (schema.MIGRATION_SET,))}

    def migrate(self) -> None:
        """Apply pending migrations under the write lock (idempotent)."""
        from dialcli import __version__

        known = schema.names()
        try:
            applied = self._applied_names()
            if not set(known) <= applied:
                if applied - set(known):
                    # A newer dialcli's migration: refuse before applying anything.
                    health.check_schema(self, known, applied, __version__, _now_iso())
                migrations = schema.migration_set()
                with self.tx():
                    # Re-check inside the lock: another process may have migrated.
                    if migrations.pending(self.db):
                        migrations.apply(self.db)
                applied = self._applied_names()
            health.check_schema(self, known, applied, __version__, _now_iso())
        except sqlite3.DatabaseError as exc:
            raise health.describe(exc, self.path) from None

    def quick_check(self, *, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> health.Integrity:
        """Refuse a damaged workspace (``WorkspaceDamaged``) before writing into it."""
        return health.require_sound(self, budget_s=budget_s)

    def applied_migrations(self) -> list[str]:
        return [m.name for m in schema.migration_set().applied(self.db)]

    # -- transactions -------------------------------------------------------------
    def tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        if self._depth:
            return _Joined(self)      # the engine joins its loop's transaction per step
        return self._outer_tx()

    @contextmanager
    def _outer_tx(self) -> Iterator[sqlite3.Connection]:
        self._begin_immediate()
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def _begin_immediate(self) -> None:
        """Take the write lock, polling every half millisecond while another writer holds it.

        SQLite's own busy handler backs off to 100 ms between attempts; a running
        campaign commits every few milliseconds and takes the lock straight back, so
        a `pause` or `dnc add` waiting that way could miss every gap for seconds.
        Polling that often gets in at the next gap. A writer that holds the lock for
        longer (an import of a million rows: tens of seconds) is waited out at 20 ms
        steps for ``busy_patience_s``; then a clear ``StoreError``, never a bare
        "database is locked".
        """
        started = time.monotonic()
        nudged = 0
        self.conn.execute("PRAGMA busy_timeout = 1")
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    waited = time.monotonic() - started
                    if waited >= self.busy_patience_s:
                        raise StoreError(
                            f"The workspace {self.path} is busy: another dialcli process has "
                            f"been writing to it for {waited:.0f} s (a large import?).",
                            hint="Try again when it has finished.") from None
                    if self.on_busy is not None and waited >= nudged + 1.0:
                        nudged = int(waited)
                        self.on_busy(self)
                time.sleep(0.0005 if waited < 1.0 else 0.02)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read of several queries (``BEGIN DEFERRED``)."""
        if self._depth or self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    # -- queries ---------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- settings --------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        return default if value is None else value

    def set_setting(self, key: str, value: str, now_iso: str) -> None:
        with self.tx():
            self.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, now_iso),
            )

    def delete_setting(self, key: str) -> bool:
        with self.tx():
            return self.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount > 0

    def close(self) -> None:
        conn = getattr(self, "conn", None)      # None: the connection never opened
        try:
            if conn is not None:
                conn.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now_iso() -> str:
    """When the schema record was written (store-level bookkeeping, not engine time)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """A query's ``" WHERE a AND b"`` (or ``""``) and its parameters, from optional
    filters: each ``(sql, value)`` counts unless ``value`` is None, False or ``""``; its
    value is a parameter when ``sql`` has a ``?`` (``("revoked_at IS NULL", live_only)``
    is a switch). Every listing's filters read the same way."""
    parts: list[str] = []
    params: list[Any] = []
    for sql, value in conditions:
        if value is None or value is False or value == "":
            continue
        parts.append(sql)
        if "?" in sql:
            params.append(value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params
