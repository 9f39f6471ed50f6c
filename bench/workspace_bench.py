"""How long the workspace views take on a big campaign: ``campaign list``/``show``
and ``preview`` (first lead, last lead, by id) over N leads.

Leads are inserted directly (as the importer leaves them: an import row whose
``imported`` count matches), next to a second campaign whose lead ids interleave,
so the per-campaign ordering cannot ride on contiguous ids.

    python bench/workspace_bench.py --leads 1000000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from dialcli.workspace import agents

from dialcli.workspace import campaigns

from dialcli.workspace import numbers
from dialcli.workspace.preview import build_preview
from dialcli.store import Store

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


def build(path: Path, n: int) -> tuple[Store, int]:
    st = Store(path)
    agents.create_agent(st, name="Zara", greeting="Hi {{NAME}}, about case {{CASE_NUMBER}}.",
                        prompt="Balance ${{AMOUNT}} in {{CITY}}.", now=T0)
    numbers.add_number(st, "+14155550100", now=T0)
    a = campaigns.create_campaign(st, name="Big", agent="Zara", from_number="+14155550100",
                                  purpose="informational", now=T0)
    b = campaigns.create_campaign(st, name="Other", agent="Zara", from_number="+14155550100",
                                  purpose="informational", now=T0)
    with st.tx():
        imports = {}
        for cid in (a.id, b.id):
            imports[cid] = st.execute(
                "INSERT INTO imports (campaign_id, source, columns, imported, created_at) "
                "VALUES (?, 'leads.csv', ?, ?, 't')",
                (cid, json.dumps(["NAME", "PHONE1", "AMOUNT", "CASE_NUMBER"]),
                 n if cid == a.id else n // 4)).lastrowid
        vars_ = json.dumps({"AMOUNT": "5000", "CASE_NUMBER": "CASE-1"})

        def rows():
            for i in range(n + n // 4):
                # Every fifth lead belongs to the other campaign.
                cid = b.id if i % 5 == 4 else a.id
                yield (cid, imports[cid], i + 2, f"Lead {i}", vars_, "PENDING", "t", "t")

        st.executemany("INSERT INTO leads (campaign_id, import_id, row_number, name, vars, status, "
                       "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows())
    return st, a.id


def timed(label: str, fn, repeat: int = 3) -> None:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    print(f"{label:<28} {best * 1000:8.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        st, cid = build(Path(tmp) / "bench.db", args.leads)
        total = st.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ?", (cid,))
        print(f"built {total:,} leads (+ interleaved campaign) in {time.perf_counter() - t:.1f} s")
        middle = st.scalar("SELECT id FROM leads WHERE campaign_id = ? ORDER BY id LIMIT 1 OFFSET ?",
                           (cid, total // 2))
        timed("campaign list", lambda: campaigns.list_campaigns(st))
        timed("campaign show", lambda: campaigns.campaign_details(st, cid))
        timed("preview (first lead)", lambda: build_preview(st, campaign=cid))
        timed("preview --lead N (last)", lambda: build_preview(st, campaign=cid, lead_number=total))
        timed("preview --lead-id (middle)", lambda: build_preview(st, campaign=cid, lead_id=middle))
        st.close()


if __name__ == "__main__":
    main()
