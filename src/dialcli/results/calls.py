"""Call review, the read side: the call log, one call as a conversation, and the
full-transcript export.

``list_calls`` is the log (``dialcli calls``): newest first, filtered by campaign,
lead, disposition and time, each call with the recipient's local time at the dial
(``calls.local_time``, written by the claim), its AMD verdict, duration, disposition
and cost. ``call_detail`` is one call (``dialcli calls show``): every turn with its
offset from pick-up and its UTC instant, who spoke, what the caller actually heard
when they barged in (the relay trims an interrupted line to the words spoken), the
keypresses, when the AMD verdict came, the voicemail left, the disposition with the
words that decided it, the summary, the callback appointment, the extracted fields,
the cost, the recording (by reference) and the audit evidence of the dial.
``call_records`` streams the same records without the evidence, for
``calls export --jsonl``.

Everything is plain data (dicts and lists, JSON-ready); rendering is ``cli.calls``.
A call placed by the simulator is ``simulated``; a one-off test call (``kind`` starts
with ``test``) is ``test``: neither is a real campaign dial, and both are marked.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from dialcli.clock import from_iso, to_iso
from dialcli.errors import InputError, NotFoundError
from dialcli.results.audit import audit_entries
from dialcli.store import Store, where

#: The speakers a transcript names, as a reader calls them.
SPEAKERS = {"agent": "agent", "caller": "caller", "dtmf": "keypress", "system": "note"}

#: Dispositions that come from the call's network status, not from what was said.
_BY_STATUS = {"no-answer": "nobody answered", "busy": "the line was busy",
              "canceled": "the call was canceled", "failed": "the call failed"}

_SELECT = (
    "SELECT c.id, c.campaign_id, k.name AS campaign, c.run, c.lead_id, l.row_number, "
    "l.name AS lead_name, c.slot, c.e164, c.from_number, c.pass_no, c.kind, c.provider, "
    "c.provider_sid, c.status, c.answered_by, c.amd_at, c.voicemail_left, c.disposition, "
    "c.turns, c.summary, c.callback_text, c.transcript, c.fields, c.claimed_at, "
    "COALESCE(c.placed_at, c.claimed_at) AS started_at, c.answered_at, c.ended_at, "
    "c.duration_s, c.billed_minutes, c.price, c.price_unit, c.price_final, c.zone, "
    "c.local_time, c.error_code, c.error, c.recording_sid, c.recording_status, "
    "c.recording_duration_s, c.recording_url "
    "FROM calls c JOIN leads l ON l.id = c.lead_id JOIN campaigns k ON k.id = c.campaign_id"
)

_RELATIVE = re.compile(r"^(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)$", re.I)


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a relative age (``30m``, ``2h``, ``3d``, ``1w``), ``today``,
    ``yesterday``, or an ISO date or date-time (UTC unless it carries an offset)."""
    raw = (text or "").strip()
    word = raw.lower()
    if word in ("today", "yesterday"):
        start = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return start - timedelta(days=1) if word == "yesterday" else start
    m = _RELATIVE.match(raw)
    if m:
        n, unit = int(m.group(1)), m.group(2).lower()[0]
        span = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
                "w": timedelta(weeks=n)}[unit]
        return now - span
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--since {raw!r} is not a time.",
                         hint="Use an age such as 2h, 3d or 1w, 'today', or a date such as "
                              "2026-03-01 or 2026-03-01T14:00.") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _cost(row, rate: float) -> tuple[float | None, str]:
    if row["price_final"]:
        return (row["price"] or 0.0), "final"
    if row["billed_minutes"] is not None:
        return round(row["billed_minutes"] * rate, 6), "estimate"
    return None, ""


def _summary(row, rate: float) -> dict[str, Any]:
    """The fields of a call that the log lists."""
    cost, source = _cost(row, rate)
    return {
        "id": row["id"], "campaign": row["campaign"], "run": row["run"],
        "lead_id": row["lead_id"], "lead_row": row["row_number"], "lead_name": row["lead_name"],
        "number": row["e164"], "phone_slot": row["slot"], "pass": row["pass_no"],
        "kind": row["kind"], "provider": row["provider"],
        "simulated": row["provider"] == "simulator",
        "test": str(row["kind"] or "").startswith("test"),
        "started_at": row["started_at"], "local_time": row["local_time"],
        "recipient_zone": row["zone"], "status": row["status"],
        "answered_by": row["answered_by"], "disposition": row["disposition"],
        "turns": row["turns"], "duration_s": row["duration_s"],
        "cost": cost, "cost_source": source,
        "recorded": bool(row["recording_sid"]),
    }


def list_calls(store: Store, *, rate: float, campaign_id: int | None = None,
               lead_id: int | None = None, disposition: str | None = None,
               since: datetime | None = None, limit: int | None = 50) -> list[dict[str, Any]]:
    """The call log, newest first (see the module docstring)."""
    clause, params = where(("c.campaign_id = ?", campaign_id), ("c.lead_id = ?", lead_id),
                           ("c.disposition = ?", disposition),
                           ("COALESCE(c.placed_at, c.claimed_at) >= ?",
                            None if since is None else to_iso(since)))
    sql = _SELECT + clause + " ORDER BY c.id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [_summary(r, rate) for r in store.all(sql, params)]


def _turns(transcript: list[dict[str, Any]], answered_at: datetime | None) -> list[dict[str, Any]]:
    turns = []
    for u in transcript:
        offset = float(u.get("at_s") or 0.0)
        turn = {"offset_s": round(offset, 2),
                "at": to_iso(answered_at + timedelta(seconds=offset)) if answered_at else None,
                "speaker": SPEAKERS.get(str(u.get("role")), str(u.get("role"))),
                "text": str(u.get("text") or "")}
        if u.get("interrupted"):
            # The relay kept only what was spoken before the caller barged in.
            turn["interrupted"] = True
        turns.append(turn)
    return turns


def decided_by(row, transcript: list[dict[str, Any]]) -> str | None:
    """The words (or the network fact) that decided the call's disposition."""
    disposition, status = row["disposition"], row["status"]
    if disposition is None:
        return None
    answered_by = row["answered_by"] or ""
    if answered_by.startswith("machine") or answered_by == "fax":
        return f"answering machine detection said {answered_by}"
    if status in _BY_STATUS and disposition in ("NO_ANSWER", "FAILED"):
        return _BY_STATUS[status]
    if row["error"] and disposition == "FAILED":
        return row["error"]
    said = None
    for u in reversed(transcript):
        role, text = u.get("role"), str(u.get("text") or "").strip()
        if role == "dtmf" and text:
            said = f"pressed {text}"
            break
        if role == "caller" and re.search(r"\w", text):
            said = text
            break
    if disposition == "NO_ANSWER" and status == "completed":
        # The product rule: a completed call with at most one caller turn is no answer.
        return (f'the caller only said "{said}" (one turn or fewer counts as no answer)'
                if said else "nobody spoke after the greeting")
    return said


def _record(store: Store, row, rate: float,
            appointments: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    call = _summary(row, rate)
    try:
        transcript = json.loads(row["transcript"] or "[]")
    except ValueError:
        transcript = []
    answered = from_iso(row["answered_at"])
    amd_at = from_iso(row["amd_at"])
    call.update({
        "from_number": row["from_number"], "provider_sid": row["provider_sid"],
        "claimed_at": row["claimed_at"], "answered_at": row["answered_at"],
        "ended_at": row["ended_at"],
        "amd": ({"verdict": row["answered_by"], "at": row["amd_at"],
                 "after_pickup_s": round((amd_at - answered).total_seconds(), 2)
                 if amd_at and answered else None} if row["answered_by"] else None),
        "voicemail": _voicemail(row, transcript),
        "turns_list": _turns(transcript, answered),
        "decided_by": decided_by(row, transcript),
        "summary": row["summary"], "callback_text": row["callback_text"],
        "callback": (appointments.get(row["id"]) if appointments is not None
                     else _appointment(store, row["campaign_id"], row["lead_id"], row["id"])),
        **_fields(row["fields"]),
        "billed_minutes": row["billed_minutes"], "price_unit": row["price_unit"],
        "error_code": row["error_code"], "error": row["error"],
        "recording": ({"sid": row["recording_sid"], "status": row["recording_status"],
                       "duration_s": row["recording_duration_s"], "url": row["recording_url"]}
                      if row["recording_sid"] else None),
    })
    return call


def _fields(text: str | None) -> dict[str, Any]:
    """``fields`` (name -> value), ``fields_by`` (llm | rules) and ``fields_dropped``."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    return {"fields": data.get("values") or {}, "fields_by": data.get("by") or {},
            "fields_dropped": data.get("dropped") or []}


def _voicemail(row, transcript: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not (row["answered_by"] or "").startswith("machine"):
        return None
    left = bool(row["voicemail_left"]) or any(u.get("role") == "agent" for u in transcript)
    message = next((u.get("text") for u in transcript if u.get("role") == "agent"), None)
    return {"left": left, "message": message if left else None}


def _appointment(store: Store, campaign_id: int, lead_id: int,
                 call_id: int) -> dict[str, Any] | None:
    # By lead first: appointments are indexed by lead, not by call.
    row = store.one("SELECT due_at, note, status FROM appointments WHERE lead_id = ? "
                    "AND campaign_id = ? AND call_id = ? ORDER BY id DESC LIMIT 1",
                    (lead_id, campaign_id, call_id))
    return None if row is None else {"due_at": row[0], "note": row[1], "status": row[2]}


def _appointments(store: Store, campaign_id: int | None) -> dict[int, dict[str, Any]]:
    """Every appointment by the call that made it (one read for an export)."""
    sql = "SELECT call_id, due_at, note, status FROM appointments WHERE call_id IS NOT NULL"
    params: tuple = ()
    if campaign_id is not None:
        sql += " AND campaign_id = ?"
        params = (campaign_id,)
    return {r[0]: {"due_at": r[1], "note": r[2], "status": r[3]}
            for r in store.execute(sql + " ORDER BY id", params)}


def _evidence(store: Store, row) -> dict[str, Any] | None:
    """The audit row of the dial: what it rested on when it was placed (read through
    the audit log's campaign and lead index, then by call)."""
    for e in audit_entries(store.conn, campaign_id=row["campaign_id"], lead_id=row["lead_id"],
                           call_id=row["id"], decision="dial"):
        return {k: e[k] for k in ("ts", "zones", "zone_source", "states", "local_time",
                                  "rules_version", "rules", "opt_out", "cap_count",
                                  "cap_limit", "consent_required", "consent_type",
                                  "consent_at", "consent_source")}
    return None


def call_detail(store: Store, call_id: int, *, rate: float) -> dict[str, Any]:
    """One call as a conversation, with its evidence (see the module docstring)."""
    row = store.one(_SELECT + " WHERE c.id = ?", (call_id,))
    if row is None:
        raise NotFoundError(f"There is no call {call_id}.",
                            hint="List calls with: dialcli calls (the ID column).")
    call = _record(store, row, rate)
    call["evidence"] = _evidence(store, row)
    return call


def call_records(store: Store, *, rate: float, campaign_id: int | None = None,
                 all_runs: bool = True) -> Iterator[dict[str, Any]]:
    """Every call with its whole turn list, oldest first, read in one snapshot."""
    clause, params = where(("c.campaign_id = ?", campaign_id),
                           ("c.run = k.run", campaign_id is not None and not all_runs))
    sql = _SELECT + clause + " ORDER BY c.id"
    with store.snapshot():
        appointments = _appointments(store, campaign_id)
        for row in store.execute(sql, params):
            yield _record(store, row, rate, appointments)


__all__ = ["SPEAKERS", "parse_since", "list_calls", "call_detail", "call_records", "decided_by"]
