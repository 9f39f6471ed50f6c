"""Direct-SQL builders of the results tests, kept while tests/test_cli_report.py and
tests/test_cli_webhooks.py still import them: new tests use ``builders``."""

from __future__ import annotations

import json
from typing import Any

from dialcli.store import Store
from fakes.webhook_receiver import Receiver  # noqa: F401  (still imported from here)

NOW = "2026-03-03T15:00:00.000Z"
COLUMNS = ["NAME", "PHONE1", "PHONE2", "EMAIL", "AMOUNT", "ADDRESS", "CASE_NUMBER"]


def make_campaign(store: Store, name: str = "Spring", *, run: int = 1, pass_no: int = 1,
                  max_attempts: int = 3, status: str = "RUNNING") -> int:
    with store.tx():
        agent = store.scalar("SELECT id FROM agents WHERE name = 'Zara'")
        if agent is None:
            agent = store.execute(
                "INSERT INTO agents (name, greeting, system_prompt, created_at, updated_at) "
                "VALUES ('Zara', 'Hi {{NAME}}, this is Zara from Acme.', 'Be brief.', ?, ?)",
                (NOW, NOW)).lastrowid
        store.execute("INSERT OR IGNORE INTO numbers (e164, added_at) VALUES "
                      "('+14155550100', ?)", (NOW,))
        return store.execute(
            "INSERT INTO campaigns (name, agent_id, from_number, max_attempts, status, run, "
            "pass_no, created_at, updated_at) VALUES (?, ?, '+14155550100', ?, ?, ?, ?, ?, ?)",
            (name, agent, max_attempts, status, run, pass_no, NOW, NOW)).lastrowid


def add_import(store: Store, campaign_id: int, columns: list[str] = COLUMNS) -> int:
    with store.tx():
        return store.execute(
            "INSERT INTO imports (campaign_id, source, columns, created_at) VALUES (?, ?, ?, ?)",
            (campaign_id, "leads.csv", json.dumps(columns), NOW)).lastrowid


def add_lead(store: Store, campaign_id: int, *, row: int, name: str,
             phones: list[tuple[str, str]] = (), email: str | None = None,
             variables: dict[str, str] | None = None, import_id: int | None = None,
             status: str = "PENDING", last_disposition: str | None = None,
             phone_slot: int | None = 1, pass_no: int = 1, attempts: int = 0,
             reached_slot: int | None = None, callback_at: str | None = None,
             last_call_at: str | None = None, dead: dict[int, str] | None = None,
             timezone: str | None = None) -> int:
    """phones: [(e164, 'Zone/One,Zone/Two'), ...] for slots 1, 2, ..."""
    with store.tx():
        lead_id = store.execute(
            "INSERT INTO leads (campaign_id, import_id, row_number, name, email, phone1, vars, "
            "timezone, status, last_disposition, phone_slot, pass_no, attempts, reached_slot, "
            "callback_at, last_call_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (campaign_id, import_id, row, name, email, phones[0][0] if phones else None,
             json.dumps(variables or {}), timezone, status, last_disposition, phone_slot,
             pass_no, attempts, reached_slot, callback_at, last_call_at, NOW, NOW)).lastrowid
        for slot, (e164, zones) in enumerate(phones, 1):
            store.execute(
                "INSERT INTO lead_phones (lead_id, slot, e164, zones, region, dead_reason) "
                "VALUES (?, ?, ?, ?, 'US', ?)", (lead_id, slot, e164, zones,
                                                 (dead or {}).get(slot)))
    return lead_id


def add_call(store: Store, campaign_id: int, lead_id: int, *, slot: int = 1, pass_no: int = 1,
             run: int = 1, kind: str = "pass", e164: str | None = None,
             disposition: str | None = None, status: str = "completed",
             answered_by: str | None = None, turns: int | None = None,
             claimed_at: str = NOW, answered_at: str | None = None, ended_at: str | None = None,
             duration_s: int | None = None, billed_minutes: int | None = None,
             price: float | None = None, price_final: int = 0, zone: str | None = None) -> int:
    with store.tx():
        if e164 is None:
            e164 = store.scalar("SELECT e164 FROM lead_phones WHERE lead_id = ? AND slot = ?",
                                (lead_id, slot))
        if zone is None:
            zone = store.scalar("SELECT zones FROM lead_phones WHERE lead_id = ? AND slot = ?",
                                (lead_id, slot))
        return store.execute(
            "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, kind, "
            "provider, status, answered_by, disposition, turns, claimed_at, placed_at, answered_at, "
            "ended_at, duration_s, billed_minutes, price, price_final, zone) "
            "VALUES (?, ?, ?, ?, ?, '+14155550100', ?, ?, 'simulator', ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?)",
            (campaign_id, run, lead_id, slot, e164, pass_no, kind, status, answered_by,
             disposition, turns, claimed_at, claimed_at, answered_at, ended_at, duration_s,
             billed_minutes, price, price_final, zone)).lastrowid


LA, NY, CHI = "America/Los_Angeles", "America/New_York", "America/Chicago"


def spring_campaign(store: Store) -> dict[str, Any]:
    """A campaign in its second run with pinned outcomes (figures worked out in tests)."""
    cid = make_campaign(store, run=2, pass_no=2, max_attempts=3)
    imp = add_import(store, cid)
    lead = {}
    lead[1] = add_lead(store, cid, row=2, name="Alex Chen", import_id=imp,
                       phones=[("+14155551200", LA)], email="alex@acme.io",
                       variables={"AMOUNT": "5000", "ADDRESS": "123 Market St",
                                  "CASE_NUMBER": "CASE-7741"},
                       status="REACHED", last_disposition="INTERESTED", reached_slot=1,
                       attempts=1, last_call_at="2026-03-01T15:00:00.000Z")
    lead[2] = add_lead(store, cid, row=3, name="Jamie Lee", import_id=imp,
                       phones=[("+12125550133", NY), ("+12125550144", NY)],
                       email="jamie@example.com",
                       variables={"AMOUNT": "12000", "ADDRESS": "9 Elm", "CASE_NUMBER": "CASE-7742"},
                       status="REACHED", last_disposition="NOT_INTERESTED", reached_slot=1,
                       pass_no=2, attempts=3, last_call_at="2026-03-03T14:00:00.000Z")
    lead[3] = add_lead(store, cid, row=4, name="=HYPERLINK(\"http://x\",\"y\")", import_id=imp,
                       phones=[("+13125550100", CHI)],
                       variables={"AMOUNT": "-5000", "ADDRESS": "@home", "CASE_NUMBER": "+SUM(1)"},
                       status="DIALING", last_disposition="NO_ANSWER", pass_no=2, attempts=2,
                       last_call_at="2026-03-03T14:59:00.000Z")
    lead[4] = add_lead(store, cid, row=5, name="Pat Quinn", import_id=imp,
                       phones=[("+16175550123", NY)], status="OPTED_OUT",
                       last_disposition="OPT_OUT", reached_slot=1, attempts=1,
                       dead={1: "on the opt-out list"}, last_call_at="2026-03-02T14:00:00.000Z")
    lead[5] = add_lead(store, cid, row=6, name="Sam Rivera", import_id=imp,
                       phones=[("+13055550111", NY)], status="CALLBACK",
                       last_disposition="CALLBACK", reached_slot=1, attempts=1,
                       callback_at="2026-03-04T15:00:00.000Z",
                       last_call_at="2026-03-02T16:00:00.000Z")
    lead[6] = add_lead(store, cid, row=7, name="Wes Wong", import_id=imp,
                       phones=[("+17135550100", CHI)], status="EXHAUSTED",
                       last_disposition="WRONG_NUMBER", phone_slot=None, attempts=1,
                       dead={1: "wrong number"}, last_call_at="2026-03-02T17:00:00.000Z")
    lead[7] = add_lead(store, cid, row=8, name="Nia Noel", import_id=imp,
                       phones=[("+15035550100", LA)], email="nia@example.com")
    lead[8] = add_lead(store, cid, row=9, name="Opted Before", import_id=imp,
                       phones=[("+15035550199", LA)], status="SKIPPED", phone_slot=None,
                       dead={1: "on the opt-out list"})
    call = {}
    # The previous run: one call, outside the 30-day window.
    call[0] = add_call(store, cid, lead[1], run=1, disposition="NO_ANSWER", status="completed",
                       claimed_at="2026-01-15T15:59:00.000Z", ended_at="2026-01-15T16:00:00.000Z",
                       duration_s=0, billed_minutes=1)
    call[1] = add_call(store, cid, lead[1], run=2, disposition="INTERESTED", answered_by="human",
                       turns=6, claimed_at="2026-03-01T15:00:00.000Z",
                       answered_at="2026-03-01T15:00:00.000Z", ended_at="2026-03-01T15:03:05.000Z",
                       duration_s=185, billed_minutes=4, price=0.056, price_final=1)
    call[2] = add_call(store, cid, lead[2], run=2, disposition="NO_ANSWER", status="no-answer",
                       claimed_at="2026-03-01T15:10:00.000Z", ended_at="2026-03-01T15:10:25.000Z",
                       duration_s=0, billed_minutes=0)
    call[3] = add_call(store, cid, lead[2], run=2, slot=2, disposition="VOICEMAIL",
                       answered_by="machine_end_beep", claimed_at="2026-03-01T15:11:30.000Z",
                       ended_at="2026-03-01T15:12:00.000Z", duration_s=22, billed_minutes=1)
    call[4] = add_call(store, cid, lead[4], run=2, disposition="OPT_OUT", answered_by="human",
                       turns=2, claimed_at="2026-03-02T14:00:00.000Z",
                       ended_at="2026-03-02T14:00:40.000Z", duration_s=40, billed_minutes=1)
    call[5] = add_call(store, cid, lead[5], run=2, disposition="CALLBACK", answered_by="human",
                       turns=3, claimed_at="2026-03-02T16:00:00.000Z",
                       ended_at="2026-03-02T16:01:15.000Z", duration_s=75, billed_minutes=2)
    call[6] = add_call(store, cid, lead[6], run=2, disposition="WRONG_NUMBER", answered_by="fax",
                       claimed_at="2026-03-02T17:00:00.000Z", ended_at="2026-03-02T17:00:10.000Z",
                       duration_s=10, billed_minutes=1)
    call[7] = add_call(store, cid, lead[3], run=2, disposition="NO_ANSWER", status="busy",
                       claimed_at="2026-03-02T18:00:00.000Z", ended_at="2026-03-02T18:00:30.000Z",
                       duration_s=0, billed_minutes=0)
    call[8] = add_call(store, cid, lead[2], run=2, pass_no=2, disposition="NOT_INTERESTED",
                       answered_by="human", turns=4, claimed_at="2026-03-03T14:00:00.000Z",
                       ended_at="2026-03-03T14:01:35.000Z", duration_s=95, billed_minutes=2)
    call[9] = add_call(store, cid, lead[3], run=2, pass_no=2, status="ringing",
                       claimed_at="2026-03-03T14:59:00.000Z")
    return {"campaign": cid, "import": imp, "lead": lead, "call": call}
