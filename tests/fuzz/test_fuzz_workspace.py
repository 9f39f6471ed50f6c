"""A sweep of hostile workspace states and output paths against the commands.

Workspace states: damaged pages (a leaf or the root of a table, the schema page), a
file cut in half, garbage or zeros, a newer dialcli's schema, tables added, dropped
or changed by hand. Output paths: folders, devices, FIFOs, sockets, symlinks
(dangling too), read-only files, missing folders, a file used as a folder.

Every run must end with exit 0, 1 or 2 and a message -- never a traceback -- and
keep the promises: a command that fails leaves the workspace files exactly as they
were; ``start``, ``resume`` and ``import`` never succeed on a damaged or foreign
file; a refused output path is left exactly as it was and nothing is imported.

CI runs a fixed sample (every third combination); ``--runslow`` runs them all, with
several damage positions per state. The figures in docs/reliability.md come from
``pytest tests/fuzz/test_fuzz_workspace.py --runslow -s``.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

import builders
from dialcli.cli.app import app
from dialcli.store import Store

runner = CliRunner()
TALLY = {"cases": 0, "tracebacks": 0, "broken": 0}


def invoke(db: Path, *args: str):
    result = runner.invoke(app, ["--db", str(db), *map(str, args)], catch_exceptions=True)
    text = result.output
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    return result.exit_code, text, crashed


def digest(db: Path) -> tuple[str, ...]:
    out = []
    for suffix in ("", "-wal"):
        p = Path(f"{db}{suffix}")
        out.append(hashlib.sha256(p.read_bytes()).hexdigest()
                   if p.exists() and p.stat().st_size else "")
    return tuple(out)


def base_workspace(folder: Path) -> Path:
    db = folder / "base.db"
    if db.exists():
        return db
    with Store(db) as st:
        builders.campaign(st, "Spring", leads=[
            {"name": f"Lead {i}", "phones": [f"+1212555{i:04d}"]} for i in range(1200)])
        builders.subscribe(st, "https://example.com/hooks")
        with st.tx():
            st.execute("INSERT INTO dnc (e164, reason, source, added_at) VALUES "
                       "('+14155550123', 'asked', 'cli', 't')")
        st.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def _pages(db: Path, table: str) -> tuple[int, list[int], int]:
    conn = sqlite3.connect(db)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (table,)).fetchone()[0]
        leaves = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = ? AND "
                                             "pagetype = 'leaf' ORDER BY pageno", (table,))]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return root, leaves or [root], size


def _overwrite(db: Path, page: int, size: int, rng: random.Random, zeros=False) -> None:
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(bytes(size) if zeros else rng.randbytes(size))


def _sql(db: Path, script: str) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.executescript(script)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def make_state(db: Path, state: str, rng: random.Random) -> bool:
    """Put ``db`` in ``state``; True if the state is damage (writers must refuse)."""
    if state.startswith("leaf:") or state.startswith("root:"):
        where, table = state.split(":")
        root, leaves, size = _pages(db, table)
        _overwrite(db, root if where == "root" else rng.choice(leaves), size, rng)
        return True
    if state == "zeroed leaf of leads":
        _root, leaves, size = _pages(db, "leads")
        _overwrite(db, rng.choice(leaves), size, rng, zeros=True)
        return True
    if state == "schema page":
        _overwrite(db, 1, 4096, rng)
        return True
    if state == "cut in half":
        with open(db, "r+b") as fh:
            fh.truncate(os.path.getsize(db) // 2)
        return True
    if state == "garbage file":
        db.write_bytes(rng.randbytes(64 * 1024))
        return True
    foreign = {
        "user_version 999": "PRAGMA user_version = 999;",
        "unknown migration": "INSERT INTO _sqlite_migrations (migration_set, name, "
                             "applied_at) VALUES ('dialcli', 'm900_future', 'x');",
        "extra NOT NULL column": "ALTER TABLE calls ADD COLUMN shard INTEGER NOT NULL "
                                 "DEFAULT 0;",
        "extra table": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        "dropped table": "DROP TABLE dnc;",
    }
    _sql(db, foreign[state])
    return True


STATES = ["leaf:leads", "root:leads", "leaf:lead_phones", "root:dnc", "zeroed leaf of leads",
          "schema page", "cut in half", "garbage file", "user_version 999",
          "unknown migration", "extra NOT NULL column", "extra table", "dropped table"]
WRITERS = {"start", "resume", "import"}
COMMANDS = [("status",), ("report",), ("campaign", "list"), ("agent", "list"),
            ("dnc", "add", "+14155550199"), ("import", "{csv}"), ("start", "--simulate"),
            ("resume", "--simulate"), ("doctor", "--json"), ("audit", "--csv", "-"),
            ("report", "--csv", "-")]


def _combos(slow: bool, repeats: int):
    combos = [(s, c, r) for r in range(repeats) for s in STATES for c in COMMANDS]
    return combos if slow else combos[::3]


@pytest.mark.parametrize("mode", [pytest.param(False, id="ci"),
                                  pytest.param(True, id="slow", marks=pytest.mark.slow)])
def test_hostile_workspace_states(tmp_path, mode):
    base = base_workspace(tmp_path)
    csv_path = tmp_path / "more.csv"
    csv_path.write_text("name,phone1\nNew Lead,+1 415 555 0177\n")
    cases = tracebacks = broken = 0
    failures: list[str] = []
    for state, command, rep in _combos(mode, 3 if mode else 1):
        rng = random.Random(f"{state}/{command}/{rep}")
        db = tmp_path / "w.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(base, db)
        if command[0] == "resume":
            _sql(db, "UPDATE campaigns SET status = 'PAUSED'")
        make_state(db, state, rng)
        before = digest(db)
        code, text, crashed = invoke(db, *[str(csv_path) if a == "{csv}" else a
                                           for a in command])
        cases += 1
        if crashed or "Traceback" in text or code not in (0, 1, 2):
            tracebacks += 1
            failures.append(f"traceback/{code}: {state} {command}: {text[-300:]}")
            continue
        if code != 0 and digest(db) != before:
            broken += 1
            failures.append(f"changed on error: {state} {command}")
        if code == 0 and command[0] in WRITERS:
            broken += 1
            failures.append(f"a writer succeeded on a bad file: {state} {command}: {text[-200:]}")
    TALLY.update(cases=TALLY["cases"] + cases, tracebacks=TALLY["tracebacks"] + tracebacks,
                 broken=TALLY["broken"] + broken)
    print(f"\nworkspace states: {cases} runs, {tracebacks} tracebacks, {broken} promises broken")
    assert not failures, "\n".join(failures[:10])


# -- output paths -----------------------------------------------------------------------

def bad_paths(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    victim = folder / "victim.txt"
    victim.write_text("keep me\n")
    paths = {"folder": folder / "dir", "symlink": folder / "link.csv",
             "dangling symlink": folder / "dangling.csv", "fifo": folder / "fifo.csv",
             "device": Path("/dev/null"), "read-only file": folder / "ro.csv",
             "socket": folder / "s.sock", "missing folder": folder / "nope" / "x.csv",
             "file as folder": victim / "x.csv", "empty name": Path("")}
    paths["folder"].mkdir(exist_ok=True)
    if not paths["symlink"].is_symlink():
        paths["symlink"].symlink_to(victim)
        paths["dangling symlink"].symlink_to(folder / "nowhere" / "x")
        os.mkfifo(paths["fifo"])
        paths["read-only file"].write_text("old\n")
        paths["read-only file"].chmod(0o444)
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(paths["socket"]))
        s.close()
    return paths


def tree(folder: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        out[str(p)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


OUTPUTS = [("import", "{csv}", "--rejects"), ("report", "--csv"), ("report", "--calls", "--csv"),
           ("audit", "--csv"), ("plan", "--csv"), ("dnc", "export"), ("template", "-o")]


@pytest.mark.parametrize("mode", [pytest.param(False, id="ci"),
                                  pytest.param(True, id="slow", marks=pytest.mark.slow)])
def test_hostile_output_paths(tmp_path, mode):
    base = base_workspace(tmp_path)
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text("name,phone1\nGood,+1 415 555 0101\nBad,12\n")
    out_dir = tmp_path / "out"
    paths = bad_paths(out_dir)
    combos = [(o, k) for o in OUTPUTS for k in paths]
    cases = tracebacks = broken = 0
    failures = []
    for command, kind in (combos if mode else combos[::2]):
        db = tmp_path / "w.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(base, db)
        with Store(db) as st:
            leads_before = st.scalar("SELECT COUNT(*) FROM leads")
        before = tree(out_dir)
        args = [str(csv_path) if a == "{csv}" else a for a in command] + [str(paths[kind])]
        code, text, crashed = invoke(db, *args)
        cases += 1
        if crashed or "Traceback" in text:
            tracebacks += 1
            failures.append(f"traceback: {kind} {command}: {text[-300:]}")
            continue
        if code != 2:
            broken += 1
            failures.append(f"exit {code}, not 2: {kind} {command}: {text[-200:]}")
        if tree(out_dir) != before:
            broken += 1
            failures.append(f"the path was changed: {kind} {command}")
        with Store(db) as st:
            if st.scalar("SELECT COUNT(*) FROM leads") != leads_before:
                broken += 1
                failures.append(f"leads imported despite the refusal: {kind} {command}")
    TALLY.update(cases=TALLY["cases"] + cases, tracebacks=TALLY["tracebacks"] + tracebacks,
                 broken=TALLY["broken"] + broken)
    print(f"\noutput paths: {cases} runs, {tracebacks} tracebacks, {broken} promises broken")
    assert not failures, "\n".join(failures[:10])
