"""Consent: whether the person behind a number agreed to AI-voice calls, and the proof.

An AI-generated voice is an "artificial or prerecorded voice" under the TCPA (FCC
declaratory ruling FCC 24-17, CG Docket 23-362, 2024-02-08). Calls made with one need
the called party's prior express consent (47 U.S.C. 227(b)(1); 47 CFR 64.1200(a)(1)-(3)),
and prior express **written** consent when they are telemarketing (64.1200(a)(2),
defined in 64.1200(f)(9)). A campaign's ``purpose`` says which:

- ``telemarketing``: a written consent record for the dialed number is required.
- ``informational``: any consent record (written or express) is required.

Records are keyed by phone number, workspace-wide, like the opt-out list: a lead CSV's
``consent_at``/``consent_type``/``consent_source`` columns, or ``dialcli consent import``.
A record counts from the instant it was given (``consented_at``), never before; a date
without a time counts from the end of that day in the lead's zone -- the strict
reading when the hour is unknown. An opt-out revokes every record of the number at
that moment (the FCC's revocation rule, FCC 24-24: "any reasonable manner"); taking
the number off the opt-out list later does not restore them, only a newer consent does.

``check`` is the gate the engine applies in each dial's claim transaction, and that
``plan``, ``import`` and ``doctor`` use to say what would be skipped.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from dateutil import parser as dateparser

from dialcli.clock import UTC, from_iso, to_iso
from dialcli.compliance.rules import zone_info
from dialcli.errors import InputError

TELEMARKETING = "telemarketing"
INFORMATIONAL = "informational"
UNSPECIFIED = "unspecified"
PURPOSES = (TELEMARKETING, INFORMATIONAL)
WRITTEN = "written"
EXPRESS = "express"
KINDS = (WRITTEN, EXPRESS)

#: What a purpose needs, in words (campaign show, errors, the README).
NEEDS = {TELEMARKETING: "prior express written consent",
         INFORMATIONAL: "prior express consent (written or not)"}

_KIND_WORDS = {
    "written": WRITTEN, "w": WRITTEN, "pewc": WRITTEN, "prior express written": WRITTEN,
    "prior express written consent": WRITTEN, "express written": WRITTEN,
    "express": EXPRESS, "e": EXPRESS, "pec": EXPRESS, "prior express": EXPRESS,
    "prior express consent": EXPRESS, "oral": EXPRESS, "verbal": EXPRESS,
}


def parse_purpose(text: str) -> str:
    value = (text or "").strip().lower()
    if value not in PURPOSES:
        raise InputError(
            f"Unknown purpose {text!r}.",
            hint="Say what the calls are for: --purpose telemarketing (selling: needs written "
                 "consent) or --purpose informational (not selling: needs any consent).")
    return value


def parse_kind(text: str) -> str:
    """'written' or 'express' (also the usual spellings: PEWC, 'prior express written')."""
    key = " ".join((text or "").strip().lower().replace("_", " ").replace("-", " ").split())
    kind = _KIND_WORDS.get(key)
    if kind is None:
        raise InputError(f"Unknown consent type {text!r}.",
                         hint="Use 'written' (prior express written consent) or 'express'.")
    return kind


def parse_time(text: str, zone: str | None) -> str:
    """A consent time as the store's UTC text. A time without a zone is read in
    ``zone`` (the lead's own; UTC when unknown); a date alone counts from the end of
    that day, since the hour it was given is unknown."""
    raw = (text or "").strip()
    if not raw:
        raise InputError("A consent needs its date (consent_at).")
    tz = zone_info(zone) if zone else None
    tz = tz or UTC
    try:
        if len(raw) <= 10 and raw.count("-") == 2:
            day = date.fromisoformat(raw)
            local = datetime.combine(day, time(23, 59, 59, 999000), tzinfo=tz)
        else:
            parsed = dateparser.isoparse(raw) if "T" in raw else dateparser.parse(raw)
            if isinstance(parsed, datetime) and parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=tz)
            local = parsed
            if len(raw) <= 12 and local.hour == local.minute == local.second == 0 \
                    and ":" not in raw:
                local = local.replace(hour=23, minute=59, second=59, microsecond=999000)
    except (ValueError, OverflowError) as exc:
        raise InputError(f"Not a date or date-time: {raw!r} ({exc}).",
                         hint="Use 2026-03-01 or 2026-03-01T14:30:00-05:00.") from None
    return to_iso(local.astimezone(UTC))


@dataclass(frozen=True)
class Record:
    id: int
    e164: str
    kind: str
    consented_at: str
    source: str | None
    origin: str
    lead_id: int | None
    recorded_at: str
    revoked_at: str | None = None
    revoked_reason: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Record":
        return cls(**{k: row[k] for k in row.keys()})

    def evidence(self) -> dict[str, Any]:
        """What an audit row keeps of the consent a dial relied on."""
        return {"type": self.kind, "at": self.consented_at, "source": self.source,
                "record": self.id, "origin": self.origin}


def _opt_out_at(conn: sqlite3.Connection, e164: str) -> str | None:
    """When the number's own opt-out (not a registry entry) was recorded, if it is on."""
    row = conn.execute("SELECT added_at FROM dnc WHERE e164 = ? AND source NOT LIKE 'registry%' "
                       "AND source != 'simulator'", (e164,)).fetchone()
    return row[0] if row else None


def record(conn: sqlite3.Connection, *, e164: str, kind: str, consented_at: str,
           source: str | None, origin: str, now_iso: str, lead_id: int | None = None) -> bool:
    """Keep one consent record (in the caller's transaction); False when the same
    record is already kept. A consent given before the number's opt-out is kept as
    revoked by it: the opt-out came later and wins."""
    revoked_at = revoked_reason = None
    opted_out = _opt_out_at(conn, e164)
    if opted_out is not None and consented_at <= opted_out:
        revoked_at, revoked_reason = opted_out, "opted out after this consent"
    cur = conn.execute(
        "INSERT OR IGNORE INTO consent (e164, kind, consented_at, source, origin, lead_id, "
        "recorded_at, revoked_at, revoked_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (e164, kind, consented_at, source or None, origin, lead_id, now_iso, revoked_at,
         revoked_reason))
    return cur.rowcount > 0


def revoke(conn: sqlite3.Connection, e164s: Iterable[str], *, now_iso: str,
           reason: str) -> int:
    """An opt-out revokes every consent of the numbers given before it."""
    total = 0
    for e164 in e164s:
        total += conn.execute(
            "UPDATE consent SET revoked_at = ?, revoked_reason = ? WHERE e164 = ? "
            "AND revoked_at IS NULL AND consented_at <= ?",
            (now_iso, reason, e164, now_iso)).rowcount
    return total


def best(conn: sqlite3.Connection, e164: str, at_iso: str) -> Record | None:
    """The consent a dial at ``at_iso`` may rely on: not revoked, given before it;
    written before express, then the newest."""
    row = conn.execute(
        "SELECT * FROM consent WHERE e164 = ? AND revoked_at IS NULL AND consented_at <= ? "
        "ORDER BY kind = 'written' DESC, consented_at DESC, id DESC LIMIT 1",
        (e164, at_iso)).fetchone()
    return Record.from_row(row) if row is not None else None


@dataclass(frozen=True)
class Gate:
    """The consent gate's answer for one number at one instant."""

    ok: bool
    reason: str | None                 # why not (None when ok)
    record: Record | None              # the consent relied on (or the best one found)
    required: str                      # 'written' | 'any' | 'off'

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"required": self.required}
        if self.record is not None:
            out.update(self.record.evidence())
        return out


def check(conn: sqlite3.Connection, e164: str, *, purpose: str, gate_on: bool,
          at_iso: str) -> Gate:
    """May an AI-voice call of a campaign with ``purpose`` reach ``e164`` at ``at_iso``?

    A campaign whose gate the user turned off is not checked (its runs are warned and
    audited); an unspecified purpose never dials (``start`` refuses it first)."""
    if not gate_on:
        return Gate(True, None, best(conn, e164, at_iso), "off")
    found = best(conn, e164, at_iso)
    if purpose == TELEMARKETING:
        if found is not None and found.kind == WRITTEN:
            return Gate(True, None, found, WRITTEN)
        if found is not None:
            return Gate(False, f"only express consent on record for {e164}: telemarketing "
                               "needs written consent", found, WRITTEN)
        return Gate(False, f"no written consent on record for {e164}", None, WRITTEN)
    if purpose == INFORMATIONAL:
        if found is not None:
            return Gate(True, None, found, "any")
        return Gate(False, f"no consent on record for {e164}", None, "any")
    return Gate(False, "the campaign's purpose is not set", found, "written")


def get(conn: sqlite3.Connection, e164: str) -> list[Record]:
    """Every record of a number, newest first (revoked ones too)."""
    return [Record.from_row(r) for r in conn.execute(
        "SELECT * FROM consent WHERE e164 = ? ORDER BY consented_at DESC, id DESC", (e164,))]


def listing(conn: sqlite3.Connection, *, kind: str | None = None, live_only: bool = False,
            limit: int | None = None) -> list[Record]:
    where, params = [], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if live_only:
        where.append("revoked_at IS NULL")
    sql = "SELECT * FROM consent" + (" WHERE " + " AND ".join(where) if where else "") + \
        " ORDER BY e164, consented_at DESC, id DESC" + (" LIMIT ?" if limit else "")
    if limit:
        params.append(limit)
    return [Record.from_row(r) for r in conn.execute(sql, params)]


def lacking(conn: sqlite3.Connection, campaign_id: int, purpose: str, at_iso: str) -> int:
    """Leads of a campaign none of whose live phones has the consent ``purpose`` needs
    at ``at_iso`` (what ``import``, ``plan`` and ``doctor`` report)."""
    need_written = purpose == TELEMARKETING
    row = conn.execute(
        "SELECT COUNT(*) FROM leads l WHERE l.campaign_id = ? AND l.status IN "
        "('PENDING', 'RETRY', 'CALLBACK') AND NOT EXISTS (SELECT 1 FROM lead_phones p "
        "JOIN consent c ON c.e164 = p.e164 WHERE p.lead_id = l.id AND p.dead_reason IS NULL "
        "AND c.revoked_at IS NULL AND c.consented_at <= ? AND (? = 0 OR c.kind = 'written'))",
        (campaign_id, at_iso, int(need_written))).fetchone()
    return int(row[0])


def age_days(newest_iso: str | None, now: datetime) -> float | None:
    """Days since an instant (the newest registry import), or None."""
    at = from_iso(newest_iso)
    return None if at is None else (now - at) / timedelta(days=1)


def count_lacking(conn: sqlite3.Connection, campaign_id: int, purpose: str, at_iso: str) -> int:
    """``lacking``, without its look at every lead when no live record anywhere could
    meet ``purpose`` at ``at_iso``: then every lead still to dial lacks it. An import
    of a million leads into a workspace without consent records reports in a few
    milliseconds instead of a second or two."""
    need_written = purpose == TELEMARKETING
    if conn.execute("SELECT EXISTS (SELECT 1 FROM consent WHERE revoked_at IS NULL AND "
                    "consented_at <= ? AND (? = 0 OR kind = 'written'))",
                    (at_iso, int(need_written))).fetchone()[0]:
        return lacking(conn, campaign_id, purpose, at_iso)
    return int(conn.execute("SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status IN "
                            "('PENDING', 'RETRY', 'CALLBACK')", (campaign_id,)).fetchone()[0])
