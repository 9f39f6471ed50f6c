"""Benchmark the compliance checks the engine makes on every dial, and the bulk tools.

* ``GroupWindow.next_open`` per dial decision (warm cache, time advancing as in a
  run) and the first call for a new zone group (cold: builds 16 days of intervals
  with state rules and holidays);
* ``check_cap`` with a busy calls table, and ``dnc.is_opted_out`` on a big list;
* ``dnc import`` of a registry flat file (lines per second, one transaction);
* ``plan`` (no estimate) over many leads.

Usage: ``python bench/compliance_bench.py [--dnc N] [--leads N]``
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import builders  # noqa: E402
from dialcli.compliance import dnc  # noqa: E402
from dialcli.compliance.policy import CallingPolicy, check_cap  # noqa: E402
from dialcli.engine.plan import build_plan  # noqa: E402
from dialcli.store import Store  # noqa: E402

UTC = timezone.utc
T = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
GROUPS = [(("America/New_York",), "US-FL"), (("America/Chicago",), "US-LA"),
          (("America/New_York",), "US-RI"), (("America/Boise", "America/Los_Angeles"), "US-ID"),
          (("America/Chicago",), "US-MS,US-TX"), (("America/Denver",), "US-UT")]


def timed(label: str, n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    print(f"{label:<46} {n:>9,} in {took:7.3f} s  = {n / took:>12,.0f}/s  "
          f"({took / n * 1e6:8.2f} us each)")
    return took


def bench_windows() -> None:
    policy = CallingPolicy(("09:00", "20:00"))
    groups = [policy.window_for(z, r) for z, r in GROUPS]
    n = 200_000

    def warm():
        at = T
        for i in range(n):
            groups[i % len(groups)].next_open(at)
            at += timedelta(seconds=3)        # ~7 days of dialing at one decision / 3 s

    timed("next_open, warm (time advancing)", n, warm)

    def cold():
        for i in range(300):
            CallingPolicy(("09:00", "20:00")).window_for(*GROUPS[i % len(GROUPS)]).next_open(T)

    timed("next_open, cold (new policy and group)", 300, cold)


def bench_store(dnc_n: int, leads_n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        cid = builders.campaign(store, max_attempts=3)
        rng = random.Random(7)
        lines = "\n".join(f"{rng.choice([212, 305, 415, 504, 713])}{rng.randint(2000000, 9999999)}"
                          for _ in range(dnc_n))
        reg = Path(tmp) / "registry.txt"
        reg.write_text(lines + "\n")
        timed("dnc import (registry flat file, lines)", dnc_n,
              lambda: dnc.import_file(store, reg, now_iso=builders.NOW_ISO))
        probe = [f"+1{rng.choice([212, 305])}555{rng.randint(0, 9999):04d}" for _ in range(50_000)]
        timed("dnc.is_opted_out", len(probe),
              lambda: [dnc.is_opted_out(store.conn, p) for p in probe])

        specs = [{"phones": [f"{rng.choice([212, 305, 415, 504, 713, 401, 801, 208])}"
                             f"555{i % 10000:04d}"]} for i in range(leads_n)]
        ids = builders.add_leads(store, cid, specs)
        with store.tx():
            store.executemany(
                "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
                "kind, provider, status, claimed_at) VALUES (?, 1, ?, 1, ?, '+14155550100', ?, "
                "'pass', 'simulator', 'completed', ?)",
                ((cid, ids[i % len(ids)], f"+1212555{i % 10000:04d}", i // len(ids) + 1,
                  builders.NOW_ISO) for i in range(leads_n)))
        at = T + timedelta(hours=1)
        numbers = [f"+1212555{i:04d}" for i in range(10_000)]
        timed("check_cap (calls table populated)", len(numbers),
              lambda: [check_cap(store.conn, e, at) for e in numbers])
        timed("plan, no estimate (phones)", leads_n,
              lambda: build_plan(store, cid, T, estimate=False))
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnc", type=int, default=1_000_000)
    ap.add_argument("--leads", type=int, default=20_000)
    args = ap.parse_args()
    bench_windows()
    bench_store(args.dnc, args.leads)


if __name__ == "__main__":
    main()
