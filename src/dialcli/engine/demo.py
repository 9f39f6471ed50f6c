"""``dialcli demo``: a whole campaign from the shipped examples, on the simulator.

The workspace is recreated each time (``./dialcli-demo.db`` by default) so the demo
always starts from the same place; nothing outside it is touched and no phone call
is placed.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from dialcli.workspace import agents

from dialcli.workspace import campaigns

from dialcli.workspace import numbers
from dialcli.errors import InputError
from dialcli.leads.importer import import_csv
from dialcli.engine.runner import demo_paths, journal_path
from dialcli.store import Store

DEMO_NUMBER = "+14155550100"


def _remove_workspace(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-simnet.jsonl"):
        path = Path(str(db) + suffix)
        if path.exists():
            path.unlink()


def build_demo(db: Path, now: datetime) -> dict[str, Any]:
    """Recreate the demo workspace; return the campaign id and lines to show."""
    db = Path(db)
    if db.exists() and db.is_dir():
        raise InputError(f"{db} is a folder; pass a file path with --demo-db.")
    _remove_workspace(db)
    examples = demo_paths()
    store = Store(db)
    try:
        agent = agents.create_agent(
            store, name="Zara",
            greeting=(examples / "agent-greeting.txt").read_text(encoding="utf-8").strip(),
            prompt=(examples / "agent-prompt.txt").read_text(encoding="utf-8").strip(),
            voicemail_message=(examples / "voicemail.txt").read_text(encoding="utf-8").strip(),
            now=now)
        numbers.add_number(store, DEMO_NUMBER, label="Demo line", now=now)
        campaign = campaigns.create_campaign(
            store, name="Demo", agent=agent, from_number=DEMO_NUMBER, window="09:00-20:00",
            retry_interval=60, max_attempts=3, voicemail="message", max_concurrent=5, cps=1.0,
            now=now)
        rejects = db.with_name(db.stem + ".rejects.csv")
        summary = import_csv(store, examples / "leads.csv", campaign_id=campaign.id, now=now,
                             rejects_path=rejects, workers=0)
        assert journal_path(store)
    finally:
        store.close()
    zones = ", ".join(f"{z} {n}" for z, n in sorted(summary.leads_per_zone.items(),
                                                     key=lambda kv: -kv[1])[:6])
    lines = [
        f"Demo workspace: {db} (recreated). No real calls: the phone network is simulated.",
        f"Agent 'Zara', from-number {DEMO_NUMBER}, campaign 'Demo' (09:00-20:00 recipient "
        "time, 3 passes, 60 min apart, voicemail: leave a message).",
        f"Imported {summary.imported} leads from examples/leads.csv; {summary.rejected} "
        f"rejected" + (f" (see {summary.rejects_file})" if summary.rejects_file else "") + ".",
        f"Leads per time zone: {zones}.",
    ]
    return {"campaign_id": campaign.id, "lines": lines, "summary": summary}


def demo_env_ok() -> bool:
    return os.access(".", os.W_OK)
