"""A stopped runner never blocks the workspace (issue 21, item 4).

A real runner -- ``dialcli start A --simulate`` in a subprocess, unwatched, so it
commits in groups and holds the write lock most of the time -- is frozen with SIGSTOP
*while it holds the lock* (checked: a ``BEGIN IMMEDIATE`` from here is refused).
Then, from other terminals (the real CLI):

- ``status`` answers at once and says the runner is stopped, not dead;
- ``dnc add`` and ``pause`` succeed within a few seconds (they continue the frozen
  runner, which commits its batch, sees them and pauses without dialing the number);
- a second ``start``, once the frozen runner's heartbeat is 20 s old, takes the
  campaign over (the old runner rolls its batch back and ends without dialing) and
  runs it to the end, every chaos invariant holding.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "chaos"))

import builders  # noqa: E402
from chaos_common import child_env, write_leads  # noqa: E402
from chaos_invariants import check_all, sim_placements  # noqa: E402
from dialcli.clock import utcnow  # noqa: E402
from dialcli.store import Store  # noqa: E402
from dialcli.workspace import lease  # noqa: E402


def cli(db, env, cwd, *args, timeout=120.0):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "dialcli", "--db", str(db), *args],
                          capture_output=True, text=True, env=env, cwd=str(cwd), timeout=timeout)
    return done, time.monotonic() - started


def _scalar(db, sql, params=()):
    with Store(db) as st:
        return st.scalar(sql, params)


def _holds_lock(db) -> bool:
    conn = sqlite3.connect(str(db), timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    else:
        conn.execute("ROLLBACK")
        return False
    finally:
        conn.close()


def start_runner(tmp_path, leads: int):
    write_leads(tmp_path / "a.csv", leads, random.Random(9), max_phones=1)
    with builders.workspace(tmp_path / "work.db") as st:
        builders.campaign(st, "A", csv=tmp_path / "a.csv", max_attempts=3, max_concurrent=50,
                          cps=50, voicemail="message")
    db, env = tmp_path / "work.db", child_env(tmp_path)
    runner = subprocess.Popen(
        [sys.executable, "-m", "dialcli", "--db", str(db), "start", "A", "--simulate",
         "--seed", "9"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    deadline = time.monotonic() + 90
    while (_scalar(db, "SELECT COUNT(*) FROM calls") or 0) < 300:
        assert runner.poll() is None and time.monotonic() < deadline, "runner did not start"
        time.sleep(0.05)
    return db, env, runner


def freeze_holding_the_lock(db, runner) -> None:
    """SIGSTOP the runner at an instant it holds the write lock."""
    for _ in range(200):
        runner.send_signal(signal.SIGSTOP)
        time.sleep(0.05)
        if _holds_lock(db):
            return
        runner.send_signal(signal.SIGCONT)
        time.sleep(0.013)
    raise AssertionError("never caught the runner holding the write lock")


def stop(runner):
    if runner.poll() is None:
        runner.send_signal(signal.SIGCONT)
        runner.kill()
    return runner.communicate()


def test_a_frozen_runner_lets_status_dnc_add_and_pause_through(tmp_path):
    db, env, runner = start_runner(tmp_path, 20000)
    try:
        freeze_holding_the_lock(db, runner)
        status, took = cli(db, env, tmp_path, "status", "A", timeout=30)
        assert status.returncode == 0 and took < 10, status.stderr
        assert f"pid {runner.pid}" in status.stdout and "stopped (SIGSTOP" in status.stdout, \
            status.stdout
        assert lease.process_state(runner.pid) == "T"        # status did not wake it

        number = _scalar(db, "SELECT p.e164 FROM leads l JOIN lead_phones p ON p.lead_id = l.id "
                             "WHERE l.attempts = 0 ORDER BY l.id DESC LIMIT 1")
        added, took = cli(db, env, tmp_path, "dnc", "add", number, timeout=60)
        assert added.returncode == 0 and took < 8, (took, added.stderr)
        paused, took = cli(db, env, tmp_path, "pause", "A", timeout=60)
        assert paused.returncode == 0 and took < 8, (took, paused.stderr)
        out, err = runner.communicate(timeout=60)
    finally:
        stop(runner)
    assert runner.returncode == 0, err[-800:]
    assert _scalar(db, "SELECT status FROM campaigns WHERE name = 'A'") == "PAUSED"
    assert _scalar(db, "SELECT COUNT(*) FROM calls WHERE e164 = ?", (number,)) == 0
    assert _scalar(db, "SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0


def test_a_runner_frozen_mid_batch_is_taken_over_once_its_lease_is_stale(tmp_path):
    db, env, runner = start_runner(tmp_path, 4000)
    frozen_at = time.monotonic()
    try:
        freeze_holding_the_lock(db, runner)
        # Before the lease is stale: refused at once, saying how to continue or when.
        early, took = cli(db, env, tmp_path, "start", "A", "--simulate", timeout=30)
        assert early.returncode != 0 and took < 10, early.stderr
        assert "stopped (SIGSTOP or Ctrl-Z" in early.stderr and "kill -CONT" in early.stderr
        beat = _scalar(db, "SELECT heartbeat_at FROM campaigns WHERE name = 'A'")
        while True:
            with Store(db, migrate=False) as st:
                info = lease.current(st, 1)
            if not info.live(utcnow()):
                break
            time.sleep(0.25)
        calls_before = _scalar(db, "SELECT COUNT(*) FROM calls")
        took_over, took = cli(db, env, tmp_path, "start", "A", "--simulate", "--seed", "3",
                              timeout=240)
        out, err = runner.communicate(timeout=60)
    finally:
        stop(runner)
    assert took_over.returncode == 0 and "completed" in took_over.stderr, took_over.stderr[-800:]
    assert time.monotonic() - frozen_at < 20 + 10 + took   # stale at 20 s, then at once
    assert runner.returncode != 0 and "stopped for" in err, err[-800:]
    assert beat is not None and calls_before >= 300
    check = check_all(db, sim_placements(db), campaign_ids=[1])
    assert not check.violations, "\n".join(check.violations[:30])
