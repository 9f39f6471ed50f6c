"""Crash recovery: SIGKILL a runner at random moments, resume, repeat.

Invariants after the campaign completes: no (campaign, run, lead, phone, pass, kind)
was placed twice on the (simulated) network -- the journal is the network's own
record, written before the engine hears back -- every lead is final, every call row
is settled, and every placement on the network has exactly one call row.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dialcli.store import Store
import builders
from builders import add_leads

WORKER = str(Path(__file__).parent / "sim_worker.py")
KILLS = 6


def _spawn(db: Path, seed: int, group_commit: bool) -> subprocess.Popen:
    args = [sys.executable, WORKER, str(db), str(seed)]
    if not group_commit:
        args.append("--no-group-commit")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_invariants(db: Path, *, group_commit: bool = False) -> dict:
    store = Store(db)
    journal = [json.loads(line) for line in open(str(db) + "-simnet.jsonl") if line.strip()]
    keys = Counter(e["key"] for e in journal)
    dup = {k: n for k, n in keys.items() if n > 1}
    assert not dup, f"dialed twice: {dup}"
    open_calls = store.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL")
    assert open_calls == 0
    active = store.scalar("SELECT COUNT(*) FROM leads WHERE status IN "
                          "('PENDING', 'RETRY', 'DIALING', 'CALLBACK')")
    assert active == 0
    sids = Counter(r[0] for r in store.all("SELECT provider_sid FROM calls"))
    assert all(n == 1 for n in sids.values())
    placed = {e["sid"] for e in journal}
    # Every placement the network made has its call row: nothing dialed is lost.
    assert placed <= set(sids)
    if not group_commit:
        # Claim-then-place (the live protocol): and every call row was placed.
        assert placed == set(sids)
    # With group commit the network writes its record right after the workspace
    # commits; a kill between the two leaves a settled call row the network's log
    # lacks -- never a placement the workspace lacks, never a second dial.
    assert store.scalar("SELECT status FROM campaigns WHERE id = 1") == "COMPLETED"
    return {"placements": len(journal), "calls": sum(sids.values())}


@pytest.mark.parametrize("seed,group_commit", [(11, False), (23, True)])
def test_sigkill_at_random_points_never_double_dials(tmp_path, seed, group_commit):
    db = tmp_path / "crash.db"
    store = Store(db)
    cid = builders.campaign(store, max_attempts=3, retry=30, max_concurrent=5, cps=5)
    assert cid == 1
    rng = random.Random(seed)
    add_leads(store, cid, [{"name": f"L{i}", "phones": [f"+1212555{1000 + i:04d}",
                                                        f"+1415555{1000 + i:04d}"][: 1 + (i % 3 == 0)]}
                           for i in range(4000)])
    store.close()
    kills = 0
    while kills < KILLS:
        proc = _spawn(db, seed, group_commit)
        try:
            proc.communicate(timeout=rng.uniform(0.45, 1.2))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0
        break                                # it finished between kills
    proc = _spawn(db, seed, group_commit)    # resume (or confirm) to the end
    out, errs = proc.communicate(timeout=300)
    assert proc.returncode == 0, errs
    assert kills >= 2
    figures = check_invariants(db, group_commit=group_commit)
    assert figures["placements"] > 4000
