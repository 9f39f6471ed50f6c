"""``dialcli doctor --repair``: copy what can still be read from a damaged workspace
into a new file, beside it, and never touch the original.

The copy is made by SQLite's own recovery, the ``sqlite3`` shell's ``.recover``
(which reads every page it can, table by table, even past damaged b-tree pages, and
puts rows whose table it cannot tell into ``lost_and_found``). Without that shell,
a row-by-row salvage in Python does the same more coarsely: the schema from
``sqlite_master``, then each table's rows in rowid order, stepping over ranges that
cannot be read. Either way the new file is then opened as a workspace (migrations,
schema check) and checked with ``PRAGMA integrity_check``; rows of no known table are
kept apart in ``NAME.lost.db`` so the recovered workspace has only dialcli's tables.
The user compares the counts and swaps the files (the commands are printed).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dialcli.store.health import StoreError

#: The tables whose row counts the report compares (what a user would miss).
COUNTED = ("campaigns", "leads", "lead_phones", "calls", "dnc", "consent", "audit", "outbox",
           "agents", "numbers", "webhook_subscriptions")


@dataclass
class RepairResult:
    source: str
    target: str
    method: str                      # "sqlite3 .recover" or "row copy"
    before: dict[str, int | None] = field(default_factory=dict)   # None: unreadable
    after: dict[str, int] = field(default_factory=dict)
    lost_rows: int = 0
    lost_file: str | None = None
    integrity: str = "ok"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def recover(path: str | os.PathLike[str], *, now: datetime, target: str | None = None,
            sqlite3_bin: str | None = None) -> RepairResult:
    """Copy what can be read of ``path`` into a new workspace file; return the counts."""
    from dialcli.store import Store

    src = Path(path)
    if not src.is_file():
        raise StoreError(f"No workspace file at {src} to repair.",
                         hint="Pass the damaged file with --db.")
    stamp = now.strftime("%Y%m%dT%H%M%S")
    dest = Path(target) if target else src.with_name(f"{src.name}.recovered-{stamp}")
    if dest.exists():
        raise StoreError(f"{dest} already exists; not overwriting it.",
                         hint="Move it away, or run the repair again in a second.")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    _unlink_all(tmp)
    shell = sqlite3_bin if sqlite3_bin is not None else shutil.which("sqlite3")
    result = RepairResult(str(src), str(dest), "")
    result.before = _counts_tolerant(src)
    try:
        result.method = "row copy"
        if shell and _has_recover(shell):
            try:
                _shell_recover(shell, src, tmp)
                result.method = "sqlite3 .recover"
            except _ShellFailed:
                _unlink_all(tmp)
        if result.method == "row copy":
            _row_copy(src, tmp)
        result.lost_rows, lost = _set_lost_aside(tmp, dest)
        result.lost_file = str(lost) if lost else None
        conn = sqlite3.connect(tmp)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
            conn.execute("PRAGMA journal_mode = DELETE")
        finally:
            conn.close()
        if problems != ["ok"]:
            result.integrity = "; ".join(problems)
            raise StoreError(f"The recovered copy of {src} is itself not sound: "
                             f"{result.integrity}.", hint="Restore a backup of the workspace.")
        os.replace(tmp, dest)
    finally:
        _unlink_all(tmp)
    with Store(dest) as st:              # migrations + schema check: a usable workspace
        result.after = {t: st.scalar(f'SELECT COUNT(*) FROM "{t}"') for t in COUNTED
                        if st.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                     "AND name = ?", (t,))}
    return result


def _has_recover(shell: str) -> bool:
    """The shell's ``.recover`` works (a self-test: some builds have it but fail it)."""
    try:
        run = subprocess.run([shell, ":memory:", "CREATE TABLE t (a); INSERT INTO t VALUES "
                              "('dialcli-probe');", ".recover"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return run.returncode == 0 and "dialcli-probe" in run.stdout


def _shell_recover(shell: str, src: Path, dest: Path) -> None:
    """``.recover`` run on a copy (with its WAL): the shell opens the file read-write,
    and the damaged original must stay exactly as it was."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".dialcli-recover-") as tmp:
        copy = Path(tmp) / "damaged.db"
        shutil.copyfile(src, copy)
        if Path(f"{src}-wal").exists():
            shutil.copyfile(f"{src}-wal", f"{copy}-wal")
        dump = subprocess.run([shell, str(copy), ".recover"], capture_output=True)
    if dump.returncode != 0 or b"INSERT" not in dump.stdout:
        raise _ShellFailed(dump.stderr.decode(errors="replace").strip())
    load = subprocess.run([shell, str(dest)], input=dump.stdout, capture_output=True)
    if load.returncode != 0 and not dest.exists():
        raise StoreError(f"Could not write the recovered copy {dest}: "
                         f"{load.stderr.decode(errors='replace').strip()}",
                         hint="Check the free space and that the folder is writable.")


class _ShellFailed(Exception):
    """The shell's recovery gave nothing usable: fall back to the row copy."""


def _row_copy(src: Path, dest: Path, step: int = 256) -> None:
    """Schema, then rows by rowid ranges; a range that cannot be read is stepped over."""
    old = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    new = sqlite3.connect(dest)
    try:
        try:
            objects = old.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT "
                                  "NULL AND name NOT LIKE 'sqlite_%' ORDER BY type = 'table' "
                                  "DESC, rowid").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"The schema of {src} cannot be read ({exc}).",
                             hint="Restore a backup of the workspace.") from None
        new.execute("BEGIN")
        for kind, _name, sql in objects:
            if kind == "table":
                new.execute(sql)
        for kind, name, _sql in objects:
            if kind == "table":
                _copy_rows(old, new, name)
        for kind, _name, sql in objects:
            if kind != "table":
                try:
                    new.execute(sql)
                except sqlite3.DatabaseError:
                    pass                    # e.g. a UNIQUE index the salvaged rows break
        for (value,) in old.execute("PRAGMA user_version"):
            new.execute(f"PRAGMA user_version = {int(value)}")
        new.execute("COMMIT")
    finally:
        old.close()
        new.close()


def _copy_rows(old: sqlite3.Connection, new: sqlite3.Connection, name: str) -> None:
    """Every readable row of ``name``, in rowid order; past a damaged page, the next
    readable rowid is found by steps that double (a few queries per damaged page)."""
    try:
        cols = [r[1] for r in old.execute(f'PRAGMA table_info("{name}")')]
    except sqlite3.DatabaseError:
        return
    quoted = ", ".join(f'"{c}"' for c in cols)
    try:
        old.execute(f'SELECT rowid FROM "{name}" LIMIT 0')
    except sqlite3.OperationalError:
        # WITHOUT ROWID: one scan in key order, keeping what comes before any damage.
        insert = f'INSERT OR IGNORE INTO "{name}" ({quoted}) VALUES ({", ".join("?" * len(cols))})'
        try:
            for row in old.execute(f'SELECT {quoted} FROM "{name}"'):
                new.execute(insert, row)
        except sqlite3.DatabaseError:
            pass
        return
    insert = (f'INSERT OR IGNORE INTO "{name}" (rowid, {quoted}) '
              f'VALUES ({", ".join("?" * (len(cols) + 1))})')
    try:
        top = old.execute(f'SELECT MAX(rowid) FROM "{name}"').fetchone()[0]
    except sqlite3.DatabaseError:
        top = None
    last, skip = -(2 ** 62), 1
    first = True
    while True:
        try:
            for row in old.execute(f'SELECT rowid, {quoted} FROM "{name}" WHERE rowid > ? '
                                   "ORDER BY rowid", (last,)):
                new.execute(insert, row)
                last, skip = row[0], 1
            return
        except sqlite3.DatabaseError:
            if first:
                last, first = max(last, 0), False
            last += skip
            skip *= 2
            if last > (top if top is not None else 2 ** 40):
                return


def _set_lost_aside(db: Path, dest: Path) -> tuple[int, Path | None]:
    """Move ``lost_and_found`` (rows .recover could not place) into ``DEST.lost.db``."""
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                            "'table' AND name LIKE 'lost_and_found%'")]
        if not names:
            return 0, None
        lost = dest.with_name(dest.name + ".lost.db")
        total = 0
        conn.execute("ATTACH DATABASE ? AS lost", (str(lost),))
        for name in names:
            total += conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            conn.execute(f'CREATE TABLE lost."{name}" AS SELECT * FROM main."{name}"')
            conn.execute(f'DROP TABLE main."{name}"')
        conn.commit()
        conn.execute("DETACH DATABASE lost")
        return total, (lost if total else None)
    finally:
        conn.close()


def _counts_tolerant(src: Path) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    try:
        conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    except sqlite3.Error:
        return {t: None for t in COUNTED}
    try:
        for t in COUNTED:
            try:
                counts[t] = conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            except sqlite3.DatabaseError:
                counts[t] = None
    finally:
        conn.close()
    return counts


def _unlink_all(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except OSError:
            pass
