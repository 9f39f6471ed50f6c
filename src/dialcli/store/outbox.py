"""The webhook outbox, written inside the transaction that changes a lead.

Whoever changes a lead's status calls ``enqueue_lead_update`` (or the batch form)
inside its open write transaction. It inserts one ``outbox`` row per active
subscription to ``campaign.lead.updated`` -- so the event exists if and only if the
status change committed. With no subscriptions it costs one query on a tiny table.
Each event has a stable id (``evt_`` + 32 hex) shared by every subscription's copy;
receivers dedupe on it (delivery is at least once). Delivery is
``dialcli.results.delivery``.

Each payload carries the consent on record at the event's instant for the number the
lead's outcome rests on (``CONSENT_PHONE``: the phone that reached it, else its
current phone, else its last call's; ``lead.consent``: type, time, source; null when
there is none),
so a receiver keeps the evidence beside the outcome; ``lead.last_call`` carries the
latest finished call's summary and extracted fields.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Iterable

LEAD_UPDATED = "campaign.lead.updated"

#: "Due now" for any wall clock: enqueue happens on the campaign clock, delivery on
#: the wall clock, so new events must not carry a campaign timestamp as due time.
DUE_NOW = "1970-01-01T00:00:00.000Z"
#: Queued behind an older undelivered event of the same lead.
BLOCKED = "9999-12-31T23:59:59.999Z"


#: The consent a dial relies on, when a number has several live records: written
#: before express, then the newest (``compliance.consent.best``'s order; the store
#: sits below compliance, so the results and the outbox read it from here).
CONSENT_ORDER = "kind = 'written' DESC, consented_at DESC, id DESC"

#: The number whose consent a lead's outcome rests on, for a lead aliased ``l``: the
#: phone that reached it, else its current phone, else the one its last call dialed (a
#: lead whose numbers are all used up was still dialed on one of them). The report and
#: the lead export read a lead's consent through it too.
CONSENT_PHONE = ("COALESCE((SELECT e164 FROM lead_phones WHERE lead_id = l.id AND "
                 "slot = COALESCE(l.reached_slot, l.phone_slot)), "
                 "(SELECT e164 FROM calls WHERE lead_id = l.id ORDER BY id DESC LIMIT 1))")


def new_event_id() -> str:
    # The one source of randomness for ids: unique across processes without coordination.
    return "evt_" + uuid.uuid4().hex


def subscribers(conn: sqlite3.Connection, event_type: str = LEAD_UPDATED) -> list[int]:
    """Ids of active subscriptions to ``event_type`` (for batch callers to test once)."""
    return [r[0] for r in conn.execute(
        "SELECT id FROM webhook_subscriptions WHERE active = 1 "
        "AND instr(',' || events || ',', ?) > 0", (f",{event_type},",))]


def lead_payload(conn: sqlite3.Connection, lead_id: int, previous_status: str | None, *,
                 event_id: str, created_at: str) -> dict[str, Any] | None:
    """The ``campaign.lead.updated`` body for a lead as it is now (None: no such lead)."""
    row = conn.execute(
        "SELECT l.*, c.name AS campaign_name, c.run AS campaign_run, p.e164 AS phone_e164, "
        f"{CONSENT_PHONE} AS consent_e164 FROM leads l JOIN campaigns c ON c.id = l.campaign_id "
        "LEFT JOIN lead_phones p ON p.lead_id = l.id AND p.slot = l.phone_slot "
        "WHERE l.id = ?", (lead_id,)).fetchone()
    if row is None:
        return None
    consent = None
    relied_on = row["consent_e164"]
    if relied_on:
        found = conn.execute(
            "SELECT kind, consented_at, source FROM consent WHERE e164 = ? AND revoked_at IS "
            f"NULL AND consented_at <= ? ORDER BY {CONSENT_ORDER} LIMIT 1",
            (relied_on, created_at)).fetchone()
        if found is not None:
            consent = {"type": found[0], "at": found[1], "source": found[2]}
    return {
        "id": event_id,
        "type": LEAD_UPDATED,
        "created_at": created_at,
        "campaign": {"id": row["campaign_id"], "name": row["campaign_name"],
                     "run": row["campaign_run"]},
        "lead": {
            "id": row["id"],
            "row_number": row["row_number"],
            "name": row["name"],
            "email": row["email"],
            "status": row["status"],
            "previous_status": previous_status,
            "last_disposition": row["last_disposition"],
            "current_phone": ({"slot": row["phone_slot"], "e164": row["phone_e164"]}
                              if row["phone_e164"] else None),
            "consent": consent,
            "pass": row["pass_no"],
            "attempts": row["attempts"],
            "callback_at": row["callback_at"],
            "last_call_at": row["last_call_at"],
            "variables": json.loads(row["vars"] or "{}"),
            "last_call": last_call(conn, lead_id),
        },
    }


def last_call(conn: sqlite3.Connection, lead_id: int) -> dict[str, Any] | None:
    """The lead's latest finished call: its outcome, summary, the fields its agent
    extracted (name -> value, null when the call did not say) and its recording
    reference. Null before the first call ends."""
    row = conn.execute(
        "SELECT id, disposition, summary, fields, ended_at, duration_s, recording_sid, "
        "recording_duration_s FROM calls WHERE lead_id = ? AND disposition IS NOT NULL "
        "ORDER BY id DESC LIMIT 1", (lead_id,)).fetchone()
    if row is None:
        return None
    try:
        values = (json.loads(row[3]) or {}).get("values") if row[3] else None
    except (ValueError, AttributeError):
        values = None
    return {"id": row[0], "disposition": row[1], "summary": row[2], "ended_at": row[4],
            "duration_s": row[5], "fields": values or {},
            "recording": {"sid": row[6], "duration_s": row[7]} if row[6] else None}


def _enqueue(conn: sqlite3.Connection, subs: list[int], payload: dict[str, Any],
             now_iso: str, campaign_id: int, lead_id: int) -> int:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    for sub_id in subs:
        behind = conn.execute(
            "SELECT 1 FROM outbox WHERE subscription_id = ? AND lead_id = ? "
            "AND delivered_at IS NULL AND dead_at IS NULL LIMIT 1", (sub_id, lead_id)).fetchone()
        conn.execute(
            "INSERT INTO outbox (event_id, subscription_id, type, campaign_id, lead_id, payload, "
            "created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (payload["id"], sub_id, payload["type"], campaign_id, lead_id, body, now_iso,
             BLOCKED if behind else DUE_NOW))
    return len(subs)


def enqueue_lead_update(conn: sqlite3.Connection, *, now_iso: str, lead_id: int,
                        previous_status: str | None) -> int:
    """Record a ``campaign.lead.updated`` event for each subscriber; returns rows inserted.

    Call inside the transaction that changed the lead's status, after the change.
    ``now_iso`` is the campaign clock (it becomes ``created_at``). Nothing is recorded
    when the status did not actually change.
    """
    subs = subscribers(conn)
    if not subs:
        return 0
    payload = lead_payload(conn, lead_id, previous_status, event_id=new_event_id(),
                           created_at=now_iso)
    if payload is None or payload["lead"]["status"] == previous_status:
        return 0
    return _enqueue(conn, subs, payload, now_iso, payload["campaign"]["id"], lead_id)


def enqueue_lead_updates(conn: sqlite3.Connection, *, now_iso: str,
                         changes: Iterable[tuple[int, str | None]]) -> int:
    """Batch form of ``enqueue_lead_update`` for (lead_id, previous_status) pairs.

    Checks for subscribers once, so a million-lead import or restart without
    webhooks pays one query in total.
    """
    subs = subscribers(conn)
    if not subs:
        return 0
    total = 0
    for lead_id, previous in changes:
        payload = lead_payload(conn, lead_id, previous, event_id=new_event_id(),
                               created_at=now_iso)
        if payload is None or payload["lead"]["status"] == previous:
            continue
        total += _enqueue(conn, subs, payload, now_iso, payload["campaign"]["id"], lead_id)
    return total
