"""``dialcli demo``: a whole campaign from the shipped examples, on the simulator.

The workspace is recreated each time (``./dialcli-demo.db`` by default) so the demo
always starts from the same place; no phone call is placed. Recreating deletes the
file, so the demo marks its workspaces (SQLite's ``application_id``) and refuses any
other existing file: ``dialcli --db mywork.db demo`` cannot wipe real work.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from dialcli import formats
from dialcli.clock import to_iso
from dialcli.compliance import consent
from dialcli.engine.runner import demo_paths, journal_path
from dialcli.errors import InputError
from dialcli.leads.importer import import_csv
from dialcli.store import Store
from dialcli.workspace import agents, campaigns, numbers

DEMO_NUMBER = "+14155550100"
#: Where the demo builds its workspace unless told otherwise.
DEMO_DB = Path("dialcli-demo.db")
#: Marks a workspace the demo built ("demo" in ASCII), in the SQLite file header.
DEMO_APPLICATION_ID = 0x64656D6F


def is_demo_workspace(db: Path) -> bool:
    """Whether ``db`` is a workspace the demo built (and may rebuild)."""
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return conn.execute("PRAGMA application_id").fetchone()[0] == DEMO_APPLICATION_ID
    except sqlite3.DatabaseError:       # not a SQLite file at all
        return False
    finally:
        conn.close()


def _check_replaceable(db: Path) -> None:
    if db.is_dir():
        raise InputError(f"{db} is a folder; give the demo a file path, e.g. "
                         f"dialcli --db {db / DEMO_DB.name} demo.")
    if not db.exists() or db.stat().st_size == 0 or db.name == DEMO_DB.name:
        return
    if not is_demo_workspace(db):
        raise InputError(
            f"{db} is not a demo workspace; the demo recreates its file, so it leaves "
            "this one alone.",
            hint=f"Give the demo a new file, e.g. dialcli --db {DEMO_DB} demo.")


def _remove_workspace(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-simnet.jsonl"):
        path = Path(str(db) + suffix)
        if path.exists():
            path.unlink()


def _gated(store: Store, campaign_id: int, at_iso: str) -> tuple[list[str], list[str]]:
    """'Name (why)' of each lead whose first phone the gate will skip, in two lists: those
    lacking the written consent (what ``start`` then warns of, and ``consent import``
    fixes) and those a state's artificial-voice law stops (no record lifts that)."""
    lacking, by_state = [], []
    for name, e164 in store.conn.execute(
            "SELECT name, phone1 FROM leads WHERE campaign_id = ? ORDER BY id", (campaign_id,)):
        gate = consent.check(store.conn, e164, purpose=consent.TELEMARKETING, gate_on=True,
                             at_iso=at_iso)
        if not gate.ok:
            (by_state if gate.state_rule else lacking).append(f"{name} ({gate.reason})")
    return lacking, by_state


def _gate_line(lacking: list[str], by_state: list[str]) -> str:
    """The demo's sentence on the leads the gate skips, counted as ``start`` counts them."""
    if not lacking and not by_state:
        return "Consent: every lead has the written consent a telemarketing call needs."
    parts = []
    if lacking:
        parts.append(f"{formats.count(len(lacking))} {'lacks' if len(lacking) == 1 else 'lack'} "
                     "the written consent a telemarketing call needs: " + "; ".join(lacking))
    if by_state:
        parts.append(f"{formats.count(len(by_state))} {'lives' if len(by_state) == 1 else 'live'} "
                     "in a state whose law stops an AI-voice telemarketing call: "
                     + "; ".join(by_state))
    return (f"Consent: the gate skips {formats.count(len(lacking) + len(by_state))} lead(s). "
            + ". ".join(parts) + ".")


def build_demo(db: Path, now: datetime) -> dict[str, Any]:
    """Recreate the demo workspace; return the campaign id and lines to show."""
    db = Path(db)
    _check_replaceable(db)
    _remove_workspace(db)
    examples = demo_paths()
    store = Store(db)
    try:
        with store.tx() as conn:
            conn.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
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
            purpose="telemarketing", now=now)
        rejects = db.with_name(db.stem + ".rejects.csv")
        summary = import_csv(store, examples / "leads.csv", campaign_id=campaign.id, now=now,
                             rejects_path=rejects, workers=0)
        gated = _gated(store, campaign.id, to_iso(now))
        assert journal_path(store)
    finally:
        store.close()
    zones = ", ".join(f"{z} {formats.count(n)}" for z, n in sorted(summary.leads_per_zone.items(),
                                                     key=lambda kv: -kv[1])[:6])
    lines = [
        f"Demo workspace: {db} (recreated). No real calls: the phone network is simulated.",
        f"Agent 'Zara', from-number {DEMO_NUMBER}, campaign 'Demo' (telemarketing: each number "
        "needs written consent; 09:00-20:00 recipient time, 3 passes, 60 min apart, voicemail: "
        "leave a message).",
        f"Imported {formats.count(summary.imported)} leads from examples/leads.csv; "
        f"{formats.count(summary.rejected)} "
        f"rejected" + (f" (see {summary.rejects_file})" if summary.rejects_file else "") + "; "
        f"{formats.count(summary.consent_records)} consent records from its consent columns.",
        _gate_line(*gated),
        f"Leads per time zone: {zones}.",
    ]
    return {"campaign_id": campaign.id, "lines": lines, "summary": summary}
