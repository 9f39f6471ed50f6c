"""Commands from other terminals while a campaign runs: nothing locks up, nothing is lost.

A real runner -- ``dialcli start A --simulate --speed 400`` in a subprocess, with its
webhook delivery thread -- dials campaign A. Meanwhile, from other processes and all at
once, the real CLI runs ``status`` (text and ``--json``), ``report`` (table and
``--csv -``), ``dnc add`` for numbers about to be dialed, ``import`` of a 15,000-row
file into campaign B (one long write transaction), and a second ``start A``. Then
``pause A`` from another terminal: the runner stops dispatching, lets its calls
finish and exits cleanly. Finally ``resume`` runs A to the end and every chaos
invariant (``tests/chaos/chaos_invariants.py``) must hold.

Asserted: exit codes; no output anywhere mentions "database is locked", an
OperationalError or a Traceback; the second start is refused with the runner's pid
and host; every dnc'd number is never dialed after its ``dnc add`` committed (the
audit log's commit order); all imported leads are there; the pause took effect.
"""

from __future__ import annotations

import csv
import io
import json
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "chaos"))

import builders  # noqa: E402
from chaos_common import SECRET, child_env, write_leads  # noqa: E402
from chaos_invariants import check_all, sim_placements  # noqa: E402
from chaos_receiver import ChaosReceiver  # noqa: E402
from dialcli.store import Store  # noqa: E402

BAD = ("database is locked", "OperationalError", "Traceback")
LEADS_A = 2500
LEADS_B = 15000


def cli(db: Path, env: dict, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dialcli", "--db", str(db), *args],
                          capture_output=True, text=True, env=env, cwd=str(cwd), timeout=timeout)


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _scalar(db: Path, sql: str, params=()):
    with Store(db) as st:
        return st.scalar(sql, params)


def _next_undialed(db: Path, n: int) -> list[str]:
    """Phone-1 numbers of the leads the runner is about to reach (no call yet)."""
    with Store(db) as st:
        return [r[0] for r in st.all(
            "SELECT p.e164 FROM leads l JOIN lead_phones p ON p.lead_id = l.id AND p.slot = 1 "
            "WHERE l.campaign_id = 1 AND l.status = 'PENDING' AND l.attempts = 0 "
            "AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.lead_id = l.id) "
            "ORDER BY l.id LIMIT ?", (n,))]


def test_commands_from_other_terminals_while_a_campaign_runs(tmp_path):
    rng = random.Random(5)
    receiver = ChaosReceiver(SECRET, seed=5)
    db = tmp_path / "work.db"
    try:
        write_leads(tmp_path / "a.csv", LEADS_A, rng, max_phones=2)
        write_leads(tmp_path / "b.csv", LEADS_B, rng, base=20000, max_phones=1)
        with builders.workspace(db) as st:
            builders.campaign(st, "A", csv=tmp_path / "a.csv", max_attempts=2, max_concurrent=5,
                              cps=5, voicemail="message")
            builders.subscribe(st, receiver.url, secret=SECRET)
            builders.campaign(st, "B")
        env = child_env(tmp_path)
        runner = subprocess.Popen(
            [sys.executable, "-m", "dialcli", "--db", str(db), "start", "A", "--simulate",
             "--seed", "5", "--speed", "400"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
        try:
            _wait(lambda: (_scalar(db, "SELECT COUNT(*) FROM calls") or 0) >= 40, 60,
                  "the runner's first calls")
            blocked = _next_undialed(db, 4)
            jobs = {
                "status": ("status", "A"), "status2": ("status", "A"),
                "status --json": ("status", "A", "--json"),
                "report": ("report", "A"), "report --csv": ("report", "A", "--csv", "-"),
                "dnc add": ("dnc", "add", *blocked, "--reason", "asked by email"),
                "import": ("import", str(tmp_path / "b.csv"), "--campaign", "B"),
                "second start": ("start", "A", "--simulate"),
                "status3": ("status", "A"), "report2": ("report", "A", "--json"),
            }
            with ThreadPoolExecutor(len(jobs)) as pool:
                futures = {name: pool.submit(cli, db, env, tmp_path, *args)
                           for name, args in jobs.items()}
                done = {name: f.result() for name, f in futures.items()}
            assert runner.poll() is None, "the runner stopped while the commands ran"
            paused = cli(db, env, tmp_path, "pause", "A")
            out, err = runner.communicate(timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.communicate()

        for name, got in {**done, "pause": paused}.items():
            for needle in BAD:
                assert needle not in got.stdout + got.stderr, f"{name}: {got.stderr[-600:]}"
        for needle in BAD:
            assert needle not in out + err, err[-600:]
        for name in ("status", "status2", "status3", "status --json", "report",
                     "report --csv", "report2", "dnc add", "import"):
            assert done[name].returncode == 0, f"{name}: {done[name].stderr[-600:]}"
        snap = json.loads(done["status --json"].stdout)
        assert snap["campaign"] == "A" and snap["calls_made"] > 0
        assert json.loads(done["report2"].stdout)["kpis"]["campaign"] == "A"
        rows = list(csv.DictReader(io.StringIO(done["report --csv"].stdout)))
        assert len(rows) == LEADS_A

        # The second start is refused with the runner's pid and host (exit 1).
        second = done["second start"]
        assert second.returncode == 1, second.stderr
        assert "already running" in second.stderr
        assert f"pid {runner.pid}" in second.stderr and socket.gethostname() in second.stderr

        # The pause took effect: the runner finished its calls and exited cleanly.
        assert paused.returncode == 0, paused.stderr
        assert runner.returncode == 0, err[-800:]
        assert "paused" in err
        with Store(db) as st:
            assert st.scalar("SELECT status FROM campaigns WHERE name = 'A'") == "PAUSED"
            assert st.scalar("SELECT lease_owner FROM campaigns WHERE name = 'A'") is None
            assert st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
            # No lost update: every dnc'd number is on the list, and none was dialed
            # after its dnc add committed (audit ids are in commit order).
            for e164 in blocked:
                added = st.scalar("SELECT id FROM audit WHERE decision = 'dnc-add' AND e164 = ?",
                                  (e164,))
                assert added is not None, e164
                late = st.all("SELECT id, call_id FROM audit WHERE decision = 'dial' "
                              "AND e164 = ? AND id > ?", (e164, added))
                assert not late, f"{e164} dialed after it was put on the opt-out list: {late}"
            imported = st.scalar("SELECT COUNT(*) FROM leads l JOIN campaigns c "
                                 "ON c.id = l.campaign_id WHERE c.name = 'B'")
            assert imported == LEADS_B
            assert st.scalar("SELECT COUNT(*) FROM dnc WHERE e164 IN "
                             f"({','.join('?' * len(blocked))})", blocked) == len(blocked)

        # Resume to the end; then everything the chaos runs check holds here too.
        resumed = cli(db, env, tmp_path, "resume", "A", "--simulate", "--seed", "5", timeout=240)
        assert resumed.returncode == 0 and "completed" in resumed.stderr, resumed.stderr[-800:]
        delivered = cli(db, env, tmp_path, "webhooks", "deliver", timeout=240)
        assert delivered.returncode == 0, delivered.stderr[-800:]
        check = check_all(db, sim_placements(db), campaign_ids=[1], receiver=receiver,
                          subscription_id=1)
        assert not check.violations, "\n".join(check.violations[:30])
    finally:
        receiver.close()


def test_pause_from_another_terminal_stops_an_unwatched_run(tmp_path):
    """An unwatched simulated run (no --speed) holds the write lock ~50 ms at a time
    (group commit) and re-reads what other processes changed only once per
    transaction. Its log lines go to a pipe nobody reads until the pause is done: it
    must block on that pipe outside its transaction (or `pause` could never get the
    lock), see the pause that committed in a gap, and stop long before the end."""
    rng = random.Random(9)
    write_leads(tmp_path / "a.csv", 20000, rng, max_phones=1)
    with builders.workspace(tmp_path / "work.db") as st:
        builders.campaign(st, "A", csv=tmp_path / "a.csv", max_attempts=3, max_concurrent=50,
                          cps=50, voicemail="message")
    db, env = tmp_path / "work.db", child_env(tmp_path)
    runner = subprocess.Popen(
        [sys.executable, "-m", "dialcli", "--db", str(db), "start", "A", "--simulate", "--seed", "9"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        _wait(lambda: (_scalar(db, "SELECT COUNT(*) FROM calls") or 0) >= 300, 60,
              "the runner's first calls")
        paused = cli(db, env, tmp_path, "pause", "A", timeout=30)
        out, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert paused.returncode == 0, paused.stderr
    assert runner.returncode == 0, err[-800:]
    assert "paused" in (out + err).lower()
    assert _scalar(db, "SELECT status FROM campaigns WHERE name = 'A'") == "PAUSED"
    assert _scalar(db, "SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
    # Stopped early: most leads were never dialed.
    assert _scalar(db, "SELECT COUNT(*) FROM leads WHERE attempts = 0") > 10000
