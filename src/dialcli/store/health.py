"""Is this workspace one dialcli can safely use? Schema, integrity, faults, identity.

- **Schema** (``check_schema``, on every open): the migrations applied must all be
  ones this dialcli knows, ``PRAGMA user_version`` no higher than its count, and the
  tables and columns what the last migrating dialcli recorded (``_dialcli_schema``,
  migration m016). A workspace made by a newer dialcli is refused with the version
  that made it; one changed by hand (an extra table, an extra NOT NULL column that
  every insert would trip on) is refused with what changed. A workspace without a
  record (made before m016) is recorded as it is, on first open.
- **Integrity** (``quick_check``, before ``start``/``resume``/``import`` and in
  ``doctor``): ``PRAGMA quick_check`` -- every page and every row's format, not
  index contents -- bounded by a time budget. A damaged file is refused before
  anything is written into it, with the way out (``dialcli doctor --repair``).
- **Faults** (``describe``): SQLite's bare messages ("attempt to write a readonly
  database", "database or disk is full", "disk I/O error", "file is not a database")
  become a ``StoreError`` naming the file, what is wrong and the fix.
- **Identity** (``FileIdentity``): a runner remembers which file (device, inode) it
  opened, and its WAL; if either is deleted or replaced under it, it stops rather
  than write into a file nobody else will ever read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dialcli.errors import DialcliError, ExitCode

if TYPE_CHECKING:
    from dialcli.store import Store

#: ``quick_check`` gives up after this long (it then says so; the check is not skipped
#: silently). At 1M leads it takes ~2 s on a laptop SSD (docs/reliability.md).
QUICK_CHECK_BUDGET_S = 30.0
REPAIR_HINT = ("Run `dialcli doctor --repair` to copy what can still be read into a new "
               "file, or restore a backup of the workspace.")


class StoreError(DialcliError):
    """The workspace file cannot be opened or is not a dialcli workspace."""


class BadWorkspacePath(StoreError):
    """The path given is not a usable workspace file (a folder, a device, not SQLite)."""

    exit_code = ExitCode.USAGE


class WorkspaceDamaged(StoreError):
    """The file is a damaged SQLite database: refused before anything is written."""


class WorkspaceTooNew(StoreError):
    """A newer dialcli (or a hand edit) changed the schema: this one must not write it."""


class WorkspaceReadOnly(StoreError):
    """The file (or its folder) cannot be written."""


class DiskFull(StoreError):
    """The disk (or the file size limit) is full."""


# -- faults --------------------------------------------------------------------------------
def describe(exc: BaseException, path: str) -> StoreError:
    """A clear ``StoreError`` for a ``sqlite3.Error`` (or ``OSError``) met on ``path``."""
    text = str(exc)
    low = text.lower()
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", "") or ""
    if "readonly" in low or "read-only" in low or name.startswith("SQLITE_READONLY"):
        folder = os.path.dirname(os.path.abspath(path))
        return WorkspaceReadOnly(
            f"The workspace {path} is read-only ({text}): nothing was changed.",
            hint=f"Make the file and its folder writable (chmod u+w {path} {folder}; the "
                 f"folder needs room for {os.path.basename(path)}-wal and -shm), or copy it "
                 "somewhere writable and pass --db.")
    if "full" in low or name == "SQLITE_FULL" or getattr(exc, "errno", None) == 28:
        return DiskFull(
            f"The disk holding the workspace {path} is full ({text}): the last change was "
            "not saved; everything before it is intact.",
            hint="Free some space (df -h shows how much is left), then run the command "
                 "again; a paused campaign continues with `dialcli resume`.")
    if "malformed" in low or "corrupt" in low or name.startswith("SQLITE_CORRUPT"):
        return WorkspaceDamaged(
            f"The workspace {path} is damaged ({text}); dialcli will not use it.",
            hint=REPAIR_HINT)
    if "not a database" in low or name == "SQLITE_NOTADB":
        return BadWorkspacePath(
            f"{path} is not a dialcli workspace (not an SQLite database).",
            hint="Pass the right file with --db, or a new name to create a workspace.")
    if "locked" in low or "busy" in low:
        return StoreError(
            f"The workspace {path} is locked by another program ({text}).",
            hint="Wait for it to finish (another dialcli, a DB browser holding a write "
                 "transaction?), then try again.")
    if "unable to open" in low or name == "SQLITE_CANTOPEN":
        return BadWorkspacePath(
            f"Cannot open the workspace {path} ({text}).",
            hint="Check that the path is a file you may read and write, in a folder you "
                 "may write, or pass another path with --db.")
    if "disk i/o" in low or name.startswith("SQLITE_IOERR"):
        return StoreError(
            f"The disk reported an error reading or writing the workspace {path} ({text}).",
            hint="If the disk is full, free space; if the file was deleted or moved while "
                 "dialcli ran, restore it; otherwise check the disk. Then: dialcli doctor")
    del code
    return StoreError(f"The workspace {path} could not be used: {text}.",
                      hint="Run `dialcli doctor` for a check of the workspace.")


def check_path(path: str) -> None:
    """Refuse, before SQLite touches it, a path that can never be a workspace file."""
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        return                              # a new workspace
    except OSError as exc:
        raise BadWorkspacePath(f"Cannot open the workspace {path}: {exc.strerror}.",
                               hint="Pass another path with --db.") from None
    if stat.S_ISDIR(st.st_mode):
        raise BadWorkspacePath(f"The workspace {path} is a folder, not a file.",
                               hint=f"Pass a file name, e.g. --db {os.path.join(path, 'dialcli.db')}")
    if not stat.S_ISREG(st.st_mode):
        raise BadWorkspacePath(f"The workspace {path} is not a regular file (a device, FIFO or "
                               "socket); a workspace is an SQLite file.",
                               hint="Pass a file name with --db.")
    if 0 < st.st_size < 512:
        with open(path, "rb") as fh:
            head = fh.read(16)
        if head != b"SQLite format 3\x00":
            raise BadWorkspacePath(f"{path} is not a dialcli workspace (not an SQLite "
                                   "database).", hint="Pass the right file with --db.")


# -- schema --------------------------------------------------------------------------------
def live_tables(conn: sqlite3.Connection) -> dict[str, list[list[Any]]]:
    """Every table's columns: name, declared type, NOT NULL, primary-key position."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    return {n: [[c[1], c[2], c[3], c[5]] for c in conn.execute(f'PRAGMA table_info("{n}")')]
            for n in names}


def _record(conn: sqlite3.Connection) -> sqlite3.Row | None:
    try:
        return conn.execute("SELECT migrations, dialcli_version, tables FROM _dialcli_schema "
                            "WHERE id = 1").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise


def check_schema(store: "Store", known: list[str], applied: set[str], version: str,
                 now_iso: str) -> None:
    """Refuse a workspace this dialcli does not know; record one it does (see module doc)."""
    conn = store.conn
    record = _record(conn)
    unknown = sorted(applied - set(known))
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    newer = max(user_version, record[0] if record is not None else 0)
    if unknown or newer > len(known):
        made_by = record[1] if record is not None and record[0] > len(known) else None
        what = (f"made by dialcli {made_by} or newer" if made_by else
                "made by a newer dialcli")
        detail = (f"migration{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:3])} "
                  "unknown to this version" if unknown else
                  f"schema version {newer}, this version knows {len(known)}")
        raise WorkspaceTooNew(
            f"The workspace {store.path} was {what} ({detail}); dialcli {version} will not "
            "change it.",
            hint="Upgrade dialcli (pip install -U dialcli), or use a workspace made by "
                 "this version.")
    tables = live_tables(conn)
    if record is not None and record[0] == len(known):
        expected = json.loads(record[2])
        if tables != expected:
            raise WorkspaceTooNew(
                f"The workspace {store.path} has a schema this dialcli did not make: "
                f"{_diff(expected, tables)}; dialcli {version} will not write into it.",
                hint="It was changed by another program or a newer dialcli. Upgrade dialcli, "
                     "or restore a backup.")
        if user_version == len(known):
            return
    if store.path != ":memory:" and not os.access(store.path, os.W_OK):
        return                               # read-only: nothing recorded, nothing changed
    try:
        with store.tx():
            if _record(conn) is not None and conn.execute(
                    "SELECT migrations FROM _dialcli_schema WHERE id = 1").fetchone()[0] > len(known):
                return                        # a newer dialcli recorded meanwhile
            conn.execute(
                "INSERT INTO _dialcli_schema (id, migrations, dialcli_version, tables, "
                "recorded_at) VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "migrations = excluded.migrations, dialcli_version = excluded.dialcli_version, "
                "tables = excluded.tables, recorded_at = excluded.recorded_at",
                (len(known), version, json.dumps(tables), now_iso))
            conn.execute(f"PRAGMA user_version = {len(known)}")
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return                            # opened without migrating (migrate=False)
        if "readonly" in str(exc):
            return
        raise


def _diff(expected: dict[str, list], tables: dict[str, list]) -> str:
    extra = sorted(set(tables) - set(expected))
    missing = sorted(set(expected) - set(tables))
    parts = [f"table {n!r} is not one of its tables" for n in extra[:2]]
    parts += [f"table {n!r} is missing" for n in missing[:2]]
    for name in sorted(set(tables) & set(expected)):
        if tables[name] != expected[name]:
            have = {c[0]: c for c in tables[name]}
            want = {c[0]: c for c in expected[name]}
            added = [c for c in have if c not in want]
            gone = [c for c in want if c not in have]
            if added:
                parts.append(f"table {name!r} has column {added[0]!r} it did not create")
            elif gone:
                parts.append(f"table {name!r} lacks column {gone[0]!r}")
            else:
                parts.append(f"table {name!r} has columns changed")
        if len(parts) >= 3:
            break
    return "; ".join(parts) or "its tables differ"


# -- integrity ------------------------------------------------------------------------------
@dataclass
class Integrity:
    ok: bool
    problems: list[str]
    seconds: float
    finished: bool = True


def quick_check(conn: sqlite3.Connection, *, budget_s: float = QUICK_CHECK_BUDGET_S,
                max_errors: int = 20) -> Integrity:
    """``PRAGMA quick_check`` within ``budget_s`` (a progress handler interrupts it)."""
    started = time.monotonic()
    deadline = started + budget_s
    interrupted = False

    def progress() -> int:
        nonlocal interrupted
        if time.monotonic() > deadline:
            interrupted = True
            return 1
        return 0

    conn.set_progress_handler(progress, 10_000)
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA quick_check({int(max_errors)})")]
    except sqlite3.OperationalError as exc:
        if interrupted:
            return Integrity(True, [], time.monotonic() - started, finished=False)
        return Integrity(False, [str(exc)], time.monotonic() - started)
    except sqlite3.DatabaseError as exc:
        return Integrity(False, [str(exc)], time.monotonic() - started)
    finally:
        conn.set_progress_handler(None, 0)
    ok = rows == ["ok"]
    return Integrity(ok, [] if ok else rows, time.monotonic() - started)


def require_sound(store: "Store", *, budget_s: float = QUICK_CHECK_BUDGET_S) -> Integrity:
    """``quick_check`` or ``WorkspaceDamaged`` naming the first problems and the way out."""
    if store.path == ":memory:":
        return Integrity(True, [], 0.0)
    result = quick_check(store.conn, budget_s=budget_s)
    if not result.ok:
        shown = "; ".join(result.problems[:3])
        more = f" (+{len(result.problems) - 3} more)" if len(result.problems) > 3 else ""
        raise WorkspaceDamaged(
            f"The workspace {store.path} is damaged: {shown}{more}. Nothing was changed.",
            hint=REPAIR_HINT)
    return result


# -- identity -------------------------------------------------------------------------------
class FileIdentity:
    """The (device, inode) of a workspace file and its WAL when a runner started."""

    def __init__(self, path: str):
        self.path = path
        self.db = _ident(path)
        self.wal = _ident(path + "-wal")

    def changed(self) -> str | None:
        """What happened to the file or its WAL since, or None if they are the same."""
        if self.path == ":memory:":
            return None
        now_db = _ident(self.path)
        if now_db != self.db:
            return ("the workspace file was deleted" if now_db is None else
                    "the workspace file was replaced by another file")
        if self.wal is not None:
            now_wal = _ident(self.path + "-wal")
            if now_wal != self.wal:
                return ("its write-ahead log (-wal) was deleted" if now_wal is None else
                        "its write-ahead log (-wal) was replaced")
        return None


def _ident(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
