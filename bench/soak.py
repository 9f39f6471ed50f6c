"""Soak: memory and open files of a real runner over a long campaign (not in CI).

    python bench/soak.py sim  [--leads 1000000] [--calls 500000] [--seed 1]
    python bench/soak.py live [--calls 30000] [--cps 50] [--concurrent 50]
    python bench/soak.py all  [...]                (both; --json FILE for the figures)

**sim** -- a campaign of ``--leads`` realistic leads (``gen_leads``: 1-3 phones in the
formats people type, every US time zone; imported with dialcli's importer once and
kept as ``bench/out/soak_<n>_pristine.db``), dialed by the real ``dialcli start
--simulate`` in a subprocess on the virtual clock as fast as it goes, until ``--calls``
calls are in the log; then ``dialcli pause`` from another process, as a user would.

**live** -- ``--calls`` leads dialed by the real ``dialcli start --public-url ...``
(TwilioProvider, callback server, ConversationRelay, the rule brain, webhook delivery
to a local receiver) against the fake Twilio running in this process, through a fake
tunnel; callees talk, hang up, send voicemail, do not answer, are busy.

While the runner works this process samples it once a second (psutil): resident
memory, open file descriptors, threads, and the number of calls in the log. The
report: start (first sample past 2% of the calls), peak and end RSS and fds, and the
slope of RSS against calls over the second half of the run (least squares; the first
half includes warming up: SQLite's page caches filling as the database grows, thread
pools, the callback server's two minutes of finished calls), in MB per 100,000 calls.
Flat means no per-call leak. Exit 1 if the slope is above ``--max-slope`` (sim 2, live
10: what a 30k-call live run can tell from RSS noise) or open descriptors grow: the
second half's median over the first half's, or the end over the start, by more than
``--max-fd-growth``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT / "tests" / "chaos")]

MB = 2 ** 20
#: Flat memory, in MB per 100,000 calls over the second half of the run. A live soak
#: is ~30k calls with RSS wobbling by a MB or two as calls come and go: 10 MB/100k
#: (100 bytes a call) is what it can tell from noise. The simulated soak runs 500k.
MAX_SLOPE = {"sim": 2.0, "live": 10.0}
FROM = "+14155550100"


# -- sampling ------------------------------------------------------------------------------

def _calls(db: Path) -> int:
    from dialcli.store import Store

    with Store(db, migrate=False) as st:
        return int(st.scalar("SELECT COALESCE(MAX(id), 0) FROM calls"))


def sample(ps: psutil.Process, db: Path, started: float) -> dict:
    with ps.oneshot():
        return {"t": round(time.monotonic() - started, 2), "calls": _calls(db),
                "rss_mb": round(ps.memory_info().rss / MB, 2), "fds": ps.num_fds(),
                "threads": ps.num_threads()}


def watch(proc: subprocess.Popen, db: Path, *, until_calls: int | None = None,
          every: float = 1.0, on_target=None) -> list[dict]:
    """Sample ``proc`` until it exits (or ``until_calls``, then ``on_target()``)."""
    ps = psutil.Process(proc.pid)
    started = time.monotonic()
    samples: list[dict] = []
    fired = False
    while proc.poll() is None:
        try:
            s = sample(ps, db, started)
        except psutil.Error:
            break
        samples.append(s)
        if until_calls and not fired and s["calls"] >= until_calls:
            fired = True
            on_target()
        time.sleep(every)
    return samples


def summarize(name: str, mode: str, samples: list[dict], wall_s: float, total: int) -> dict:
    settled = [s for s in samples if s["calls"] >= 0.02 * total] or samples
    steady = [s for s in samples if s["calls"] >= 0.5 * total] or samples
    first = [s for s in settled if s["calls"] < 0.5 * total] or settled
    xs = [s["calls"] / 100_000 for s in steady]
    ys = [s["rss_mb"] for s in steady]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0
    start, end = settled[0], samples[-1]
    return {
        "name": name, "mode": mode, "calls": total, "wall_s": round(wall_s, 1),
        "calls_per_s": round(total / wall_s, 1) if wall_s else None, "samples": len(samples),
        "rss_mb": {"start": start["rss_mb"], "peak": max(s["rss_mb"] for s in samples),
                   "end": end["rss_mb"]},
        "fds": {"start": start["fds"], "peak": max(s["fds"] for s in samples), "end": end["fds"]},
        "threads": {"start": start["threads"], "peak": max(s["threads"] for s in samples),
                    "end": end["threads"]},
        "rss_slope_mb_per_100k_calls": round(slope, 3),
        "rss_second_half_mb": round(steady[-1]["rss_mb"] - steady[0]["rss_mb"], 2),
        "fds_peak_first_half": max(s["fds"] for s in first),
        "fds_peak_second_half": max(s["fds"] for s in steady),
        # Peaks follow how many calls happen to be up at a sample; medians do not.
        "fds_median_first_half": statistics.median(s["fds"] for s in first),
        "fds_median_second_half": statistics.median(s["fds"] for s in steady),
    }


def print_report(fig: dict, samples: list[dict]) -> None:
    print(f"\n== {fig['name']}: {fig['calls']:,} calls in {fig['wall_s']} s "
          f"({fig['calls_per_s']} calls/s)")
    print(f"{'t (s)':>8} {'calls':>10} {'RSS MB':>8} {'fds':>5} {'threads':>8}")
    step = max(1, len(samples) // 12)
    for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        print(f"{s['t']:>8} {s['calls']:>10,} {s['rss_mb']:>8} {s['fds']:>5} {s['threads']:>8}")
    r, f, t = fig["rss_mb"], fig["fds"], fig["threads"]
    print(f"RSS MB start {r['start']} peak {r['peak']} end {r['end']}; fds start {f['start']} "
          f"peak {f['peak']} end {f['end']}; threads start {t['start']} peak {t['peak']} end "
          f"{t['end']}")
    print(f"second half of the run: RSS {fig['rss_second_half_mb']:+} MB (slope "
          f"{fig['rss_slope_mb_per_100k_calls']} MB per 100k calls); fds median (peak) "
          f"{fig['fds_median_first_half']} ({fig['fds_peak_first_half']}) in the first half, "
          f"{fig['fds_median_second_half']} ({fig['fds_peak_second_half']}) in the second")


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    from chaos_common import child_env

    return child_env(tmp, **extra)


# -- sim -----------------------------------------------------------------------------------

def pristine_sim(leads: int, seed: int) -> Path:
    """A workspace with ``leads`` imported leads (built once, then copied)."""
    import gen_leads

    from dialcli.workspace import agents

    from dialcli.workspace import campaigns

    from dialcli.workspace import numbers
    from dialcli.leads.importer import import_csv
    from dialcli.store import Store

    db = OUT / f"soak_{leads}_{seed}_pristine.db"
    if db.exists():
        return db
    OUT.mkdir(exist_ok=True)
    csv = OUT / f"soak_leads_{leads}_{seed}.csv"
    if not csv.exists():
        print(f"generating {leads:,} leads -> {csv}", flush=True)
        gen_leads.generate(csv, leads, seed)
    print(f"importing into {db} ...", flush=True)
    now = datetime.now(timezone.utc)
    tmp = db.with_suffix(".building")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    store = Store(tmp)
    agent = agents.create_agent(
        store, name="Zara", now=now, prompt="You are Zara from Acme. Be brief.",
        greeting="Hi {{NAME}}, this is Zara from Acme about case {{CASE_NUMBER}}. "
                 "Say stop and we will not call again.",
        voicemail_message="Hi {{NAME}}, please call Acme back.")
    numbers.add_number(store, FROM, now=now)
    campaigns.create_campaign(store, name="Soak", agent=agent, from_number=FROM,
                              retry_interval=60, max_attempts=3, voicemail="message",
                              max_concurrent=100, cps=50, purpose="telemarketing",
                              now=now)
    t0 = time.perf_counter()
    summary = import_csv(store, csv, campaign_id=1, now=now, rejects_path=OUT / "soak.rejects.csv")
    # Every number consented in writing (a telemarketing campaign's gate passes; the
    # claim still looks the record up, as in a real run).
    with store.tx() as conn:
        conn.execute("INSERT OR IGNORE INTO consent (e164, kind, consented_at, source, origin, "
                     "recorded_at) SELECT DISTINCT e164, 'written', '2000-01-01T00:00:00.000Z', "
                     "'bench', 'bench', '2000-01-01T00:00:00.000Z' FROM lead_phones")
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    os.replace(tmp, db)
    print(f"imported {summary.imported:,} leads in {time.perf_counter() - t0:.1f} s", flush=True)
    return db


def run_sim(args: argparse.Namespace, work: Path) -> tuple[dict, list[dict]]:
    pristine = pristine_sim(args.leads, args.seed)
    db = work / "soak_sim.db"
    for suffix in ("", "-wal", "-shm", "-simnet.jsonl"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(pristine, db)
    env = _env(work)
    cmd = [sys.executable, "-m", "dialcli", "--db", str(db)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd + ["start", "Soak", "--simulate", "--seed", str(args.seed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(work))

    def pause() -> None:
        subprocess.run(cmd + ["pause", "Soak"], env=env, cwd=str(work), capture_output=True)

    samples = watch(proc, db, until_calls=args.calls, on_target=pause)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        raise SystemExit(f"the runner failed:\n{err[-2000:]}")
    return summarize(f"simulated campaign, {args.leads:,} leads", "sim", samples,
                     time.monotonic() - t0, _calls(db)), samples


# -- live ----------------------------------------------------------------------------------

def run_live(args: argparse.Namespace, work: Path) -> tuple[dict, list[dict]]:
    from chaos_common import SECRET, build_workspace, free_port, write_leads
    from chaos_receiver import ChaosReceiver
    from fakes.fake_twilio import FakeTwilio, Scenario, dtmf, hangup, say

    people = ([say("Hello?"), say("Yes, I'm interested, tell me more")],
              [say("Who is this?"), say("No thanks, I'm not interested")],
              [say("Hello?"), say("Please remove me from your list")], [say("Yes?"), dtmf("9")],
              [say("Hello?"), hangup()], [say("Hi"), say("OK, bye then")])
    rng = random.Random(args.seed)
    port = free_port()
    public = "https://soak.tunnel.example"
    receiver = ChaosReceiver(SECRET)
    db = work / "soak_live.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with FakeTwilio(tunnel={public: f"http://127.0.0.1:{port}"}, seed=args.seed) as fake:
        phones = write_leads(work / "soak_live.csv", args.calls, rng,
                             awake=True, max_phones=1)
        for (number,) in phones:
            x = rng.random()
            fake.script(number, Scenario(lines=list(rng.choice(people))) if x < 0.6 else
                        Scenario(answer=rng.choice(("machine", "no-answer", "busy", "failed"))))
        build_workspace(db, work / "soak_live.csv", hook_url=receiver.url, max_attempts=1,
                        max_concurrent=args.concurrent, cps=args.cps, name="Soak")
        env = _env(work, TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
                   TWILIO_API_BASE=fake.base_url)
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "dialcli", "--db", str(db), "start",
                                 "Soak", "--public-url", public, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=str(work))
        samples = watch(proc, db)
        err = proc.stderr.read() if proc.stderr else ""
        code = proc.wait()
        wall = time.monotonic() - t0
    receiver.close()
    if code != 0:
        raise SystemExit(f"the live runner failed ({code}):\n{err[-2000:]}")
    fig = summarize(f"live path against the fake Twilio, {args.calls:,} leads", "live",
                    samples, wall, _calls(db))
    fig["webhook_events_accepted"] = len(receiver.accepted_ids())
    return fig, samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("sim", "live", "all"))
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=None,
                    help="sim: stop after this many calls (default 500,000); live: leads "
                         "to dial (default 30,000: ten minutes at 50 calls/s)")
    ap.add_argument("--cps", type=float, default=50)
    ap.add_argument("--concurrent", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-slope", type=float, default=None,
                    help="MB per 100k calls (default: sim 2, live 10)")
    ap.add_argument("--max-fd-growth", type=int, default=4,
                    help="open descriptors: second half's median over the first half's, "
                         "and end over start")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=OUT / "soak")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    figures = []
    if args.what in ("sim", "all"):
        sim_args = argparse.Namespace(**{**vars(args), "calls": args.calls or 500_000})
        fig, samples = run_sim(sim_args, args.work)
        print_report(fig, samples)
        figures.append(fig)
    if args.what in ("live", "all"):
        live_args = argparse.Namespace(**{**vars(args), "calls": (args.calls if args.what == "live"
                                                                 and args.calls else 30_000)})
        fig, samples = run_live(live_args, args.work)
        print_report(fig, samples)
        figures.append(fig)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    bad = [f["name"] for f in figures
           if f["rss_slope_mb_per_100k_calls"] > (args.max_slope or MAX_SLOPE[f["mode"]])
           or f["fds_median_second_half"] - f["fds_median_first_half"] > args.max_fd_growth
           or f["fds"]["end"] - f["fds"]["start"] > args.max_fd_growth]
    if bad:
        print(f"\nOVER BOUNDS: {', '.join(bad)}")
        return 1
    print("\nwithin bounds: flat memory, no descriptor growth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
