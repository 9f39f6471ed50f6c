"""``plan`` at scale: the estimate beside the full simulation it stands for.

    python bench/plan_bench.py [--leads 100000] [--big 1000000] [--seed 1] [--no-full]
                               [--fresh-full] [--seeds 1,2,3 --no-big]

1. **Accuracy and speed at ``--leads``** -- a campaign built as ``engine_bench``
   builds it (generated leads, 40% with two phones, imported by dialcli's importer,
   3 passes, 60-minute retries) but with the default lines and rate (5 lines, 1 call/s,
   so the run is line-bound and spans weeks). ``plan``'s estimate (two-phase: 10,000
   leads foreseen from the simulator's draws to stratify, ~700 of them played at the
   campaign's pace; the leads that decide the finish -- weekend-closed states' last-slot
   dials, late windows' last-pass callbacks -- foreseen or played whole, see
   ``engine/estimate.py``) is timed, then the full simulation
   of the same campaign on a copy (the estimate of a small campaign: every lead) is
   run and each figure compared: calls, billed minutes, cost, reached within +-3%,
   the finish time within an hour, and whether each interval holds the full figure.
   Targets: the estimate in <= 5 s CPU; every figure inside its bound.
   The full simulation takes half an hour of CPU at 100,000 leads: its figures are
   kept in bench/out/ (``plan_full_<leads>_<seed>.json``) and reused until
   ``--fresh-full``; the line says when they were made.
2. **Speed at ``--big``** -- the estimate alone on a campaign of ``--big`` leads
   paced at 100 lines and 50 calls/s (at 5 lines a million leads outlast the
   rehearsal's 60-day horizon). Target: <= 10 s CPU.

Workspaces are cached in bench/out/ between runs (generating a million leads takes
a few minutes). Figures of the last run are in README "Speed".

Last run (2026-12-07 16:11 UTC, the 2-core shared dev box, load 2.5-3):
100,000 leads, seed 1: estimate 5.6 s CPU (the code before the finish's foresight:
5.8 s in the same minute -- the box is slower than when 4.5 s was measured; 5 s MISSED
by both), calls +0.46%, minutes -0.52%, cost -0.52%, reached -1.00%, finish 04-07 22:01
= the full's 22:01:30 (gap 0 min; before: 19:00, -181 min); every interval holds the
full figure. Two other sampling salts: finish gap 0 min each, totals within 1.74%.
1,000,000 leads: 7.8 s CPU (met). ``--leads 20000 --seeds 1,2,3,4``: finish gaps 0, -60,
0, +1 min (before: -6.3 to -7 days in every seed: see ``engine/estimate.py``, pass holds),
totals within 1.93%, 14 of 16 intervals hold the full figure (reached at seed 3 and
calls at seed 4 miss, errors +1.93% and -1.50%). Full simulations: 100k 458 s CPU
(58 min wall at load 8-15), 20k 83-94 s CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

AT = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)   # a Monday morning, US East


def build(db: Path, leads: int, seed: int) -> None:
    import engine_bench

    if db.exists():
        return
    OUT.mkdir(exist_ok=True)
    tmp = db.with_name(db.stem + ".building.db")
    engine_bench.build_workspace(tmp, leads, seed)
    from dialcli.store import Store

    with Store(tmp) as st, st.tx():
        # The default pacing: 5 lines, 1 call/s (line-bound: the run spans days).
        st.execute("UPDATE campaigns SET max_concurrent = 5, cps = 1 WHERE id = 1")
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.rename(db)


def pace(db: Path, lines: int, cps: float) -> None:
    from dialcli.store import Store

    with Store(db) as st, st.tx():
        st.execute("UPDATE campaigns SET max_concurrent = ?, cps = ? WHERE id = 1", (lines, cps))


def estimate(db: Path, seed: int, *, full: bool = False):
    """(estimate, wall seconds, CPU seconds). CPU time is what the estimate costs on
    an idle machine (the plan runs in one thread); wall time counts other load too."""
    from dialcli.engine import estimate as est
    from dialcli.store import Store

    store = Store(db)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        got = est.simulate_estimate(store, 1, AT, seed=seed, sample=0 if full else None,
                                    budget_s=10 ** 6 if full else 120.0)
        return got, time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()


def full_simulation(db: Path, leads: int, seed: int, *, fresh: bool = False):
    """(full simulation's estimate, wall s, CPU s, when it ran): run, or read back
    from bench/out/ where the last run kept it (it takes half an hour at 100,000)."""
    import json

    from dialcli.clock import from_iso
    from dialcli.engine.estimate import Estimate

    kept = OUT / f"plan_full_{leads}_{seed}.json"
    if kept.exists() and not fresh:
        data = json.loads(kept.read_text())
        got = Estimate(**{k: v for k, v in data["estimate"].items()
                          if k not in ("intervals", "finish_interval")})
        got.finish_at = from_iso(data["estimate"]["finish_at"])
        return got, data["wall_s"], data["cpu_s"], f"{data['ran_at']}, kept in {kept.name}"
    got, took, cpu = estimate(db, seed, full=True)
    ran_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    kept.write_text(json.dumps({"estimate": got.as_dict(), "wall_s": took, "cpu_s": cpu,
                                "ran_at": ran_at}, indent=1))
    return got, took, cpu, f"{ran_at}, now"


def show(name: str, got, took: float, cpu: float) -> None:
    finish = got.finish_at.strftime("%Y-%m-%d %H:%M") if got.finish_at else "-"
    print(f"  {name:<9} {took:7.1f} s wall {cpu:7.1f} s CPU   calls {got.calls:>9,}  minutes {got.minutes:>9,}  "
          f"cost ${got.cost:>11,.2f}  reached {got.reached:>9,}  finish {finish} UTC  "
          f"[{got.outcome}]")


def compare(sampled, full) -> bool:
    ok = True
    for name in ("calls", "minutes", "cost", "reached"):
        a, b = getattr(sampled, name), getattr(full, name)
        err = (a - b) / b * 100 if b else 0.0
        lo, hi = sampled.intervals.get(name, (a, a))
        inside = lo <= b <= hi
        ok &= abs(err) <= 3.0
        print(f"    {name:<8} estimate {a:>12,.2f}  full {b:>12,.2f}  error {err:+6.2f}%  "
              f"95% interval [{lo:,.0f}, {hi:,.0f}] {'holds' if inside else 'MISSES'} the full figure")
    if sampled.finish_at and full.finish_at:
        gap = (sampled.finish_at - full.finish_at).total_seconds() / 60
        lo, hi = sampled.finish_interval or (sampled.finish_at, sampled.finish_at)
        inside = lo - timedelta(minutes=1) <= full.finish_at <= hi + timedelta(minutes=1)
        ok &= abs(gap) <= 60
        print(f"    finish   estimate {sampled.finish_at:%Y-%m-%d %H:%M}  full "
              f"{full.finish_at:%Y-%m-%d %H:%M}  gap {gap:+.0f} min  interval "
              f"[{lo:%m-%d %H:%M}, {hi:%m-%d %H:%M}] {'holds' if inside else 'MISSES'} it")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", default="",
                    help="comma-separated seeds for the accuracy part (a finish is a "
                         "maximum: judge it over several campaigns), e.g. 1,2,3,4 with "
                         "--leads 20000 --no-big")
    ap.add_argument("--no-full", action="store_true", help="skip the full simulation")
    ap.add_argument("--no-big", action="store_true", help="skip the --big campaign")
    ap.add_argument("--fresh-full", action="store_true",
                    help="run the full simulation again instead of reusing its kept figures")
    args = ap.parse_args()

    for seed in [int(x) for x in args.seeds.split(",") if x] or [args.seed]:
        db = OUT / f"plan_{args.leads}_{seed}.db"
        build(db, args.leads, seed)
        pace(db, 5, 1)
        print(f"plan estimate, {args.leads:,} leads (5 lines, 1 call/s, 3 passes), seed {seed}:")
        sampled, took, cpu = estimate(db, seed)
        show("estimate", sampled, took, cpu)
        print(f"    target <= 5 s (CPU): {'met' if cpu <= 5 else 'MISSED'} "
              f"({sampled.sampled or 0:,} leads simulated)")
        if not args.no_full:
            full, took_full, cpu_full, made = full_simulation(db, args.leads, seed,
                                                              fresh=args.fresh_full)
            show("full sim", full, took_full, cpu_full)
            print(f"    (full simulation run {made})")
            print("    every figure within its bound (3%, 1 h): "
                  + ("yes" if compare(sampled, full) else "NO"))
    if not args.no_big:
        big = OUT / f"plan_{args.big}_{args.seed}.db"
        build(big, args.big, args.seed)
        # 100 lines, 50 calls/s (engine_bench's pacing): at 5 lines a million leads
        # would need more than the rehearsal's 60-day horizon.
        pace(big, 100, 50)
        print(f"plan estimate, {args.big:,} leads (100 lines, 50 calls/s, 3 passes):")
        got, took, cpu = estimate(big, args.seed)
        show("estimate", got, took, cpu)
        print(f"    target <= 10 s (CPU): {'met' if cpu <= 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
