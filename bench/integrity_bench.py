"""What knowing the workspace is sound costs: ``quick_check`` and the schema check
on a workspace of N realistic imported leads (``bench/gen_leads.py`` rows, imported
with the real importer, so leads, phones, consent and every index are there).

    python bench/integrity_bench.py [--rows 1000000] [--keep DIR]

Prints the file size, the time to open the store (migrations current + schema check,
done by every command), ``PRAGMA quick_check`` cold (first read of the file after
open, best of the page cache the OS already holds) and warm, and ``doctor``'s check.
``start``, ``resume`` and ``import`` run the quick check once before they write.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


def build(folder: Path, rows: int) -> Path:
    from dialcli.leads.importer import import_csv
    from dialcli.store import Store
    from dialcli.workspace import agents, campaigns, numbers

    db = folder / "bench.db"
    if db.exists():
        return db
    csv_path = folder / f"leads-{rows}.csv"
    if not csv_path.exists():
        subprocess.run([sys.executable, str(HERE / "gen_leads.py"), str(csv_path), str(rows)],
                       check=True)
    st = Store(db)
    agents.create_agent(st, name="Zara", greeting="Hi {{NAME}}.", prompt="Be brief.", now=T0)
    numbers.add_number(st, "+14155550100", now=T0)
    c = campaigns.create_campaign(st, name="Big", agent="Zara", from_number="+14155550100",
                                  purpose="informational", now=T0)
    t = time.perf_counter()
    summary = import_csv(st, csv_path, campaign_id=c.id, now=T0)
    print(f"imported {summary.imported:,} leads in {time.perf_counter() - t:.1f} s")
    st.close()
    return db


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", help="folder to build (and reuse) the workspace in")
    args = ap.parse_args()
    from dialcli.store import Store, health

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = build(folder, args.rows)
        size = os.path.getsize(db) / 1e6
        with Store(db) as st:
            leads = st.scalar("SELECT COUNT(*) FROM leads")
            phones = st.scalar("SELECT COUNT(*) FROM lead_phones")
        print(f"workspace: {leads:,} leads, {phones:,} phones, {size:,.0f} MB")
        print(f"open (migrations + schema check) {best_of(lambda: Store(db).close()) * 1000:8.1f} ms")
        st = Store(db)
        first = health.quick_check(st.conn)
        print(f"quick_check first after open    {first.seconds * 1000:8.1f} ms  ok={first.ok}")
        warm = best_of(lambda: health.quick_check(st.conn))
        print(f"quick_check warm (best of 3)    {warm * 1000:8.1f} ms")
        st.close()


if __name__ == "__main__":
    main()
