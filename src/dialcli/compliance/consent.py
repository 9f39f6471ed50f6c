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

import csv
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from dateutil import parser as dateparser

from dialcli import textfiles
from dialcli.clock import UTC, from_iso, to_iso
from dialcli.compliance import adad
from dialcli.compliance.rules import zone_info
from dialcli.config import path_text
from dialcli.errors import InputError
from dialcli.store.outbox import CONSENT_ORDER
from dialcli.models import TERMINAL_LEAD_STATUSES
from dialcli.phones import PhoneError, PhoneParser
from dialcli.store import where
from dialcli.store.audit import record_decision
from dialcli.templates import normalize_header

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


def unset_purpose(name: str) -> tuple[str, str]:
    """(message, fix) for a campaign that does not say what its calls are for: the
    engine refuses it, ``plan`` and ``doctor`` say so, in these words."""
    return (f"Campaign {name!r} does not say what its calls are for, so dialcli cannot tell "
            "which consent each number needs.",
            f"dialcli campaign edit {name} --purpose telemarketing   (selling: "
            f"{NEEDS[TELEMARKETING]})\n"
            f"dialcli campaign edit {name} --purpose informational   (not selling: "
            f"{NEEDS[INFORMATIONAL]})")


def gate_off_text(changed_at: str | None, changed_by: str | None, *,
                  sentence: bool = False) -> str:
    """What ``start``, ``status``, ``plan``, ``doctor``, ``campaign show`` and ``report``
    say of a campaign whose consent gate the user turned off (``sentence``: capitalised)."""
    since = (changed_at or "?")[:16].replace("T", " ") + (" UTC" if changed_at else "")
    return (f"{'C' if sentence else 'c'}onsent gate OFF since {since} "
            f"({changed_by or 'unknown'}): calls go to numbers without a consent record on file")


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


#: Two defaults no real date shares: what dateutil fills in from them was not written.
_FILL_A = datetime(1901, 1, 1, 1, 1, 1)
_FILL_B = datetime(1902, 2, 2, 2, 2, 2)


def parse_time(text: str, zone: str | None) -> str:
    """A consent time as the store's UTC text. A time without a zone is read in
    ``zone`` (the lead's own; UTC when unknown); a date alone counts from the end of
    that day, since the hour it was given is unknown. A date missing its day, month
    or year ("March 2026") is refused: filling it in would be a guess."""
    raw = (text or "").strip()
    if not raw:
        raise InputError("A consent needs its date (consent_at).")
    tz = zone_info(zone) if zone else None
    tz = tz or UTC
    hint = "Use 2026-03-01, 03/01/2026 or 2026-03-01T14:30:00-05:00."
    try:
        if "T" in raw[8:11]:
            local = dateparser.isoparse(raw)
        else:
            a = dateparser.parse(raw, default=_FILL_A)
            b = dateparser.parse(raw, default=_FILL_B)
            if a.date() != b.date():
                raise InputError(f"Not a whole date: {raw!r} (its day, month or year is missing).",
                                 hint=hint)
            if a.hour != b.hour:              # no time of day: the end of that day
                local = a.replace(hour=23, minute=59, second=59, microsecond=999000)
            else:                             # "2 pm", "14:30": unwritten parts are zero
                local = a.replace(minute=a.minute if a.minute == b.minute else 0,
                                  second=a.second if a.second == b.second else 0)
    except (ValueError, OverflowError) as exc:
        raise InputError(f"Not a date or date-time: {raw!r} ({exc}).", hint=hint) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
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
        f"ORDER BY {CONSENT_ORDER} LIMIT 1",
        (e164, at_iso)).fetchone()
    return Record.from_row(row) if row is not None else None


@dataclass(frozen=True)
class Gate:
    """The consent gate's answer for one number at one instant."""

    ok: bool
    reason: str | None                 # why not (None when ok)
    record: Record | None              # the consent relied on (or the best one found)
    required: str                      # 'written' | 'any' | 'off'
    state: adad.Verdict | None = None  # the state artificial-voice rules' answer

    @property
    def state_rule(self) -> bool:
        """Stopped by a state's artificial-voice rule (not by a missing federal consent).

        A state rule that only adds to the federal one (Utah's, say) can fail beside a
        missing record; ``check`` then gives the federal reason, and so does this."""
        return (not self.ok and self.state is not None and not self.state.ok
                and self.reason == self.state.reason)

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"required": self.required}
        if self.record is not None:
            out.update(self.record.evidence())
        if self.state is not None and self.state.applied:
            out["state_rules"] = self.state.evidence()
        return out


class Memo:
    """A run's per-number reads for ``check``: each number's live consent records and
    the states it could be in, read once per number instead of at every dial of it.

    The holder calls ``clear`` when another process has committed (``PRAGMA
    data_version``: a ``consent import``, an import that adds a lead's state) and
    ``drop`` for the numbers its own writes touch (an opt-out revokes their consent).
    At most ``limit`` numbers are kept (then it starts over), so memory stays flat in
    the campaign's size.

    An entry is compact, about 250 bytes a number (a ``Record`` object with its own
    strings was ~800): one flat tuple -- the number's states (one shared tuple per
    set of states), then each live record's fields in ``CONSENT_ORDER`` -- with the
    repeated texts (kind, dates, source, origin) interned. The ``Record`` a dial relies
    on is built when it is asked for. That lets the bound cover a campaign's numbers
    (a 10,000-lead campaign has ~14,000) within the runner's memory budget."""

    #: Fields kept per live record (``e164`` is the key; ``revoked_at`` is None).
    _WIDTH = 8

    def __init__(self, limit: int = 16_384):
        self.limit = limit
        self._entries: dict[str, tuple] = {}
        self._state_sets: dict[tuple[str, ...], tuple[str, ...]] = {}

    def clear(self) -> None:
        self._entries.clear()
        self._state_sets.clear()

    def drop(self, numbers: Iterable[str]) -> None:
        for e164 in numbers:
            self._entries.pop(e164, None)

    def best(self, conn: sqlite3.Connection, e164: str, at_iso: str) -> Record | None:
        """``best``: the first live record in ``CONSENT_ORDER`` given by ``at_iso``."""
        entry = self._entry(conn, e164)
        w = self._WIDTH
        for i in range(1, len(entry), w):
            consented_at = entry[i + 2]
            if consented_at is not None and consented_at <= at_iso:
                rid, kind, consented_at, source, origin, lead_id, recorded_at, reason = \
                    entry[i:i + w]
                return Record(rid, e164, kind, consented_at, source, origin, lead_id,
                              recorded_at, None, reason)
        return None

    def states(self, conn: sqlite3.Connection, e164: str) -> tuple[str, ...]:
        """``adad.number_states``."""
        return self._entry(conn, e164)[0]

    def _entry(self, conn: sqlite3.Connection, e164: str) -> tuple:
        entry = self._entries.get(e164)
        if entry is None:
            if len(self._entries) >= self.limit:
                self.clear()
            states = adad.number_states(conn, e164)
            flat: list[Any] = [self._state_sets.setdefault(states, states)]
            for r in conn.execute(
                    "SELECT id, kind, consented_at, source, origin, lead_id, recorded_at, "
                    f"revoked_reason FROM consent WHERE e164 = ? AND revoked_at IS NULL "
                    f"ORDER BY {CONSENT_ORDER}", (e164,)):
                flat.extend(_interned(v) for v in r)
            entry = self._entries[e164] = tuple(flat)
        return entry


def _interned(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value


def check(conn: sqlite3.Connection, e164: str, *, purpose: str, gate_on: bool,
          at_iso: str, states: tuple[str, ...] | None = None,
          memo: Memo | None = None) -> Gate:
    """May an AI-voice call of a campaign with ``purpose`` reach ``e164`` at ``at_iso``?

    The federal rule (consent of the kind the purpose needs), then the artificial-voice
    rules of every state the number could be in (``adad.verdict``; ``states`` defaults
    to what the workspace knows of the number, ``adad.number_states``). A state that
    bans the call, or wants a live operator first, stops it even with the gate off,
    and its reason comes first: no consent record can lift it.

    A campaign whose gate the user turned off is not checked for consent (its runs are
    warned and audited); an unspecified purpose never dials (``start`` refuses it first).
    A running campaign passes its ``memo`` (the same answers, read once per number)."""
    found = best(conn, e164, at_iso) if memo is None else memo.best(conn, e164, at_iso)
    gate = _federal(e164, found, purpose=purpose, gate_on=gate_on)
    if purpose not in PURPOSES:
        return gate
    if states is None:
        states = adad.number_states(conn, e164) if memo is None else memo.states(conn, e164)
    verdict = adad.verdict(states, purpose, gate.record.kind if gate.record else None,
                           gate_on=gate_on)
    if not verdict.ok and (verdict.rule.blocks_ai or gate.ok):
        return Gate(False, verdict.reason, gate.record, gate.required, verdict)
    return Gate(gate.ok, gate.reason, gate.record, gate.required, verdict)


def _federal(e164: str, found: Record | None, *, purpose: str, gate_on: bool) -> Gate:
    """The federal consent rule alone (47 CFR 64.1200(a)(2)-(3) for an artificial voice),
    given the number's ``best`` record at the instant."""
    if not gate_on:
        return Gate(True, None, found, "off")
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
    clause, params = where(("kind = ?", kind), ("revoked_at IS NULL", live_only))
    sql = "SELECT * FROM consent" + clause + \
        " ORDER BY e164, consented_at DESC, id DESC" + (" LIMIT ?" if limit else "")
    if limit:
        params.append(limit)
    return [Record.from_row(r) for r in conn.execute(sql, params)]


#: Lead statuses the campaign still has to dial.
WAITING = ("PENDING", "RETRY", "CALLBACK")


def lacking(conn: sqlite3.Connection, campaign_id: int, purpose: str, at_iso: str) -> int:
    """Leads still to dial none of whose live phones has the consent ``purpose`` needs
    at ``at_iso`` (what ``import``, ``plan`` and ``doctor`` report). When no live
    record anywhere could qualify, that is every lead still to dial -- counted without
    looking at each (an import of a million leads reports in milliseconds)."""
    need_written = int(purpose == TELEMARKETING)
    marks = ", ".join("?" * len(WAITING))
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM consent WHERE revoked_at IS NULL AND "
                        "consented_at <= ? AND (? = 0 OR kind = 'written'))",
                        (at_iso, need_written)).fetchone()[0]:
        return int(conn.execute(f"SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status "
                                f"IN ({marks})", (campaign_id, *WAITING)).fetchone()[0])
    row = conn.execute(
        f"SELECT COUNT(*) FROM leads l WHERE l.campaign_id = ? AND l.status IN ({marks}) "
        "AND NOT EXISTS (SELECT 1 FROM lead_phones p JOIN consent c ON c.e164 = p.e164 "
        "WHERE p.lead_id = l.id AND p.dead_reason IS NULL AND c.revoked_at IS NULL "
        "AND c.consented_at <= ? AND (? = 0 OR c.kind = 'written'))",
        (campaign_id, *WAITING, at_iso, need_written)).fetchone()
    return int(row[0])


def age_days(newest_iso: str | None, now: datetime) -> float | None:
    """Days since an instant (the newest registry import), or None."""
    at = from_iso(newest_iso)
    return None if at is None else (now - at) / timedelta(days=1)


# -- consent import: a web-form or CRM export of consents, keyed by phone number ----------

#: Header names (normalized tokens) that name a phone column, as a CRM or a web form
#: writes them; ``phone_columns`` also takes phone1..phone10 and names made of
#: PHONE/MOBILE/CELL/TELEPHONE words ("Mobile Phone", "Home_Phone_Number").
PHONE_HEADERS = ("PHONE", "PHONE_NUMBER", "PHONENUMBER", "NUMBER", "TELEPHONE", "TEL",
                 "E164", "MOBILE", "CELL", "PHONE_NO", "DNC", "CALLER_ID")
_PHONE_N = re.compile(r"^PHONE_?([1-9]|10)$")
_PHONE_WORDS = {"PHONE", "MOBILE", "CELL", "TELEPHONE"}

#: How the gate words a phone it retired for want of consent (``check``'s reasons):
#: ``consent import`` revives such phones once their number has the record.
RETIRED_FOR_CONSENT = ("no written consent on record", "only express consent on record",
                       "no consent on record")
_TERMINAL = frozenset(str(s) for s in TERMINAL_LEAD_STATUSES)
#: Bad rows a consent import lists (all are counted).
MAX_REJECTS = 1000


def phone_columns(tokens: list[str]) -> list[int]:
    """Indexes of the phone columns among normalized header tokens (maybe none)."""
    picked = [i for i, t in enumerate(tokens) if t in PHONE_HEADERS or _PHONE_N.match(t)]
    return picked or [i for i, t in enumerate(tokens) if set(t.split("_")) & _PHONE_WORDS]


@dataclass
class ImportResult:
    """What ``import_file`` did; ``as_dict`` is ``consent import --json``."""

    source: str
    columns: dict[str, list[str]] = field(default_factory=dict)  # role -> header names
    rows: int = 0
    added: int = 0                   # new records
    already: int = 0                 # the same record was already kept
    revoked_by_optout: int = 0       # new records of numbers that opted out after them
    rejected: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)   # (line, reason)
    numbers: int = 0                 # distinct numbers with a record from this file
    phones_revived: int = 0          # lead phones the gate had retired, dialable again
    leads_to_restart: int = 0        # of those, leads already done: ``restart`` dials them

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["rejects"] = [{"line": n, "reason": r} for n, r in self.rejects]
        return d


def import_file(store: Any, path: str | Path, *, now_iso: str, column: str | None = None,
                default_region: str = "US",
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Add the consents of a CSV (a phone column, ``consent_at``, ``consent_type``, and
    ``consent_source`` if present), all in one transaction.

    Numbers need not be in the workspace yet. A row that cannot be read is skipped
    and reported with its line; a naive time is read in the number's zone(s) (or the
    row's ``timezone`` column), the latest reading kept. Lead phones the gate retired
    for want of consent are revived for numbers that now pass their campaign's gate.
    ``progress(bytes_read, bytes_total)`` is called as the file is read.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    result = ImportResult(source=f"consent-import:{path.name}")
    encoding = textfiles.sniff(path)[0]
    touched: set[str] = set()
    with store.tx() as conn, path.open(encoding=encoding, newline="") as fh:
        rows = _rows(fh, path, column, result)
        parser = PhoneParser(default_region)
        size = path.stat().st_size
        for line, values in rows:
            result.rows += 1
            if progress is not None and result.rows % 1000 == 0:
                progress(min(fh.buffer.tell(), size), size)
            try:
                numbers, kind, at_text, source, tz = values
                phones = [_phone(parser, n) for n in numbers]
                if not phones:
                    raise InputError("no phone number")
                kind = parse_kind(kind) if kind else None
                if kind is None or not at_text:
                    raise InputError("consent_type is empty: say 'written' or 'express' (it "
                                     "is not guessed)" if at_text else
                                     "consent_at is empty: a consent needs its date")
                for phone in phones:
                    zones = (tz,) if tz and zone_info(tz) else phone.zones or (None,)
                    at = max(parse_time(at_text, z) for z in zones)
                    if record(conn, e164=phone.e164, kind=kind, consented_at=at,
                              source=source or None, origin=result.source, now_iso=now_iso):
                        result.added += 1
                    else:
                        result.already += 1
                    touched.add(phone.e164)
            except InputError as exc:
                _reject(result, line, exc)
        if result.rows == 0:
            raise InputError(f"{path.name} has a header but no rows.")
        result.numbers = len(touched)
        result.revoked_by_optout = int(conn.execute(
            "SELECT COUNT(*) FROM consent WHERE origin = ? AND recorded_at = ? AND "
            "revoked_at IS NOT NULL", (result.source, now_iso)).fetchone()[0])
        _revive(conn, touched, now_iso, result)
        record_decision(conn, ts=now_iso, campaign_id=None, lead_id=None, call_id=None,
                        e164=None, decision="consent-import", reason=path_text(path),
                        detail={k: v for k, v in result.as_dict().items() if k != "rejects"})
    return result


def _phone(parser: PhoneParser, value: str) -> Any:
    try:
        return parser.parse(value)
    except PhoneError as exc:
        raise InputError(f"phone {value!r}: {exc}") from None


def _reject(result: ImportResult, line: int, exc: InputError) -> None:
    result.rejected += 1
    if len(result.rejects) < MAX_REJECTS:
        result.rejects.append((line, exc.message.rstrip(".")))


def _and(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _rows(fh: Any, path: Path, column: str | None, result: ImportResult) -> Iterator[
        tuple[int, tuple[list[str], str, str, str, str | None]]]:
    """(line, (phone values, type, at, source, zone)) for each non-blank row."""
    first = fh.readline()
    head = 1                         # physical lines up to and including the header
    while first and not first.strip():
        first = fh.readline()
        head += 1
    if not first:
        raise InputError(f"{path.name} is empty.",
                         hint="Expected a header with a phone column, consent_at and "
                              "consent_type (consent_source optional).")
    delimiter = max(",;\t|", key=lambda d: (first.count(d), d == ","))
    header = next(csv.reader([first], delimiter=delimiter))
    tokens = [normalize_header(h) for h in header]
    if column is not None:
        if normalize_header(column) not in tokens:
            raise InputError(f"No column {column!r} in the header: {', '.join(header)}.",
                             hint="Name the phone column with --column.")
        phones = [tokens.index(normalize_header(column))]
    else:
        phones = phone_columns(tokens)
    missing = [name for name, found in (("phone", phones),
                                        ("consent_at", "CONSENT_AT" in tokens),
                                        ("consent_type", "CONSENT_TYPE" in tokens)) if not found]
    if missing:
        raise InputError(
            f"{path.name} lacks the {_and(missing)} column{'s' if len(missing) > 1 else ''}: "
            "its header is "
            f"{', '.join(header)}.",
            hint="A consent file has a phone column (phone, mobile, ... or name it with "
                 "--column), consent_at (date or date-time), consent_type (written or "
                 "express) and optionally consent_source (form URL, recording id).")
    at, kind = tokens.index("CONSENT_AT"), tokens.index("CONSENT_TYPE")
    source = tokens.index("CONSENT_SOURCE") if "CONSENT_SOURCE" in tokens else None
    tz = tokens.index("TIMEZONE") if "TIMEZONE" in tokens else None
    result.columns = {"phone": [header[i] for i in phones], "consent_at": [header[at]],
                      "consent_type": [header[kind]],
                      "consent_source": [header[source]] if source is not None else [],
                      "timezone": [header[tz]] if tz is not None else []}
    reader = csv.reader(fh, delimiter=delimiter)
    before = 0
    for row in reader:
        start = head + before + 1    # a quoted value may span lines: the row's first
        before = reader.line_num
        if not any(v.strip() for v in row):
            continue
        cell = lambda j: row[j].strip() if j is not None and j < len(row) else ""  # noqa: E731
        yield start, ([cell(i) for i in phones if cell(i)], cell(kind), cell(at), cell(source),
                      cell(tz) or None)


def _revive(conn: sqlite3.Connection, numbers: set[str], now_iso: str,
            result: ImportResult) -> None:
    """Revive the lead phones the gate retired for want of consent whose number now
    passes their campaign's gate; a lead already done keeps its status (``restart``)."""
    like = " OR ".join("p.dead_reason LIKE ?" for _ in RETIRED_FOR_CONSENT)
    rows = conn.execute(
        "SELECT p.lead_id, p.slot, p.e164, l.status, c.purpose, c.id FROM lead_phones p "
        f"JOIN leads l ON l.id = p.lead_id JOIN campaigns c ON c.id = l.campaign_id "
        f"WHERE ({like})", [p + "%" for p in RETIRED_FOR_CONSENT]).fetchall()
    restart: set[int] = set()
    for lead_id, slot, e164, status, purpose, campaign_id in rows:
        if e164 not in numbers or not check(conn, e164, purpose=purpose, gate_on=True,
                                            at_iso=now_iso).ok:
            continue
        conn.execute("UPDATE lead_phones SET dead_reason = NULL WHERE lead_id = ? AND slot = ?",
                     (lead_id, slot))
        result.phones_revived += 1
        if status in _TERMINAL:
            restart.add(lead_id)
        record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id,
                        call_id=None, e164=e164, decision="consent-revive",
                        reason="a consent record now on file",
                        detail={"lead_status": status, "slot": slot})
    result.leads_to_restart = len(restart)


def history(conn: sqlite3.Connection, e164: str, *, at_iso: str) -> dict[str, Any]:
    """``consent show``: every record of a number (newest first) and what the gate
    would say of a dial now, for each purpose."""
    return {"e164": e164, "records": [r.__dict__ for r in get(conn, e164)],
            "now": {p: {"ok": g.ok, "reason": g.reason,
                        "record": g.record.id if g.record else None}
                    for p in PURPOSES
                    for g in [check(conn, e164, purpose=p, gate_on=True, at_iso=at_iso)]}}
