"""CSV exports of a campaign: one row per lead, or one row per call.

Both writers stream (a cursor in, ``csv.writer`` out) so memory stays flat at millions
of rows -- in rowid order (the unary ``+`` keeps SQLite from reading the rows through
an index and sorting them first) -- read inside one snapshot so the file is
consistent, and take an open text
file: the CLI passes stdout for ``-`` or a temporary file that ``write_atomically``
renames into place only when the export finished (an interrupted export never
leaves half a file under the user's name).

**Lead rows** carry every original column -- the normalized headers of the
campaign's imports, in file order (``imports.columns``), with NAME, EMAIL, PHONE1..10
and TIMEZONE taken from their structured homes and the rest from the lead's
variables -- then status, last disposition, attempts, pass, the phone that reached
them, callback time and last call time (UTC), the lead id (to join with the call
export), and the lead's consent on record (type or "none", when given, source; see
``reporting.LEAD_CONSENT_COLUMNS``).

**Call rows**: lead, phone slot, number, pass, start and end in UTC and in the
recipient's local time (the zones checked at dial, ``calls.zone``; when a number
has several zones that disagree, each is shown), answered by, disposition, turns,
duration, billed minutes and cost (the provider's price when final, else minutes x
rate).

**Excel safety.** Cells from lead data go through ``leads.cells.neutralise`` (CSV
injection); ``excel=True`` writes UTF-8 with a byte-order mark so Excel detects the
encoding.
"""

from __future__ import annotations

import csv
import json
import os
from contextlib import contextmanager
from datetime import timedelta
from typing import IO, Any, Callable, Iterator

from dialcli.clock import from_iso
from dialcli.compliance.rules import zone_info
from dialcli import outfiles
from dialcli.leads.cells import neutralise
from dialcli.leads.csvfile import CONSENT_COLUMNS, STRUCTURED
from dialcli.results.reporting import LEAD_CONSENT_COLUMNS
from dialcli.store import Store
from dialcli.workspace import fields as extracted

LEAD_TRAILER = ["status", "last_disposition", "attempts", "pass", "reached_phone",
                "callback_at_utc", "last_call_at_utc", "lead_id", "consent", "consent_at_utc",
                "consent_source"]
CALL_COLUMNS = [
    "call_id", "run", "lead_id", "lead_row", "lead_name", "phone_slot", "number", "pass",
    "kind", "started_at_utc", "ended_at_utc", "started_local", "ended_local",
    "recipient_zone", "answered_by", "disposition", "turns", "duration_s",
    "billed_minutes", "cost", "cost_source", "call_status", "summary", "callback_text",
    "recording_sid", "recording_duration_s",
]
#: Extracted fields become columns named with this prefix (``field_best_time``).
FIELD_PREFIX = "field_"


def field_names(store: Store, campaign_id: int) -> list[str]:
    """The extracted fields of a campaign: its agent's declared ones, in order, then
    any other name its calls hold (a field since dropped from the agent)."""
    names = [f.name for f in extracted.loads(store.scalar(
        "SELECT a.fields FROM campaigns c JOIN agents a ON a.id = c.agent_id WHERE c.id = ?",
        (campaign_id,)))]
    for (key,) in store.execute(
            "SELECT DISTINCT j.key FROM calls c, json_each(c.fields, '$.values') j "
            "WHERE c.campaign_id = ? AND c.fields IS NOT NULL ORDER BY j.key", (campaign_id,)):
        if key not in names:
            names.append(key)
    return names


def field_cell(value: Any) -> str:
    """An extracted value as a CSV cell: yes/no, plain numbers, safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    return neutralise(value)


def _values(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        return json.loads(text).get("values") or {}
    except (ValueError, AttributeError):
        return {}


def _latest_fields(store: Store, campaign_id: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(lead id, the latest value of each field over its calls), in lead id order."""
    current, latest = None, {}
    for lead_id, text in store.execute(
            "SELECT lead_id, fields FROM calls WHERE campaign_id = ? AND fields IS NOT NULL "
            "ORDER BY lead_id, id", (campaign_id,)):
        if lead_id != current:
            if current is not None:
                yield current, latest
            current, latest = lead_id, {}
        latest.update({k: v for k, v in _values(text).items() if v is not None})
    if current is not None:
        yield current, latest


def lead_columns(store: Store, campaign_id: int) -> list[str]:
    """The original columns of a campaign's leads, in import and file order."""
    columns: list[str] = []
    for (text,) in store.all("SELECT columns FROM imports WHERE campaign_id = ? "
                             "AND columns IS NOT NULL ORDER BY id", (campaign_id,)):
        for col in json.loads(text or "[]"):
            # The consent columns come back as the trailer's consent fields: the record
            # the lead's phone has now, which an opt-out may have revoked since.
            if col in CONSENT_COLUMNS:
                continue
            if col not in columns:
                columns.append(col)
    orphans = store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND "
                           "(import_id IS NULL OR import_id NOT IN (SELECT id FROM imports "
                           "WHERE columns IS NOT NULL))", (campaign_id,))
    if orphans or not columns:
        # Leads created without an import record: recover the columns from the data.
        for col in ("NAME", "EMAIL"):
            if col not in columns:
                columns.append(col)
        slots = store.scalar("SELECT MAX(p.slot) FROM lead_phones p JOIN leads l "
                             "ON l.id = p.lead_id WHERE l.campaign_id = ?", (campaign_id,)) or 1
        for k in range(1, slots + 1):
            if f"PHONE{k}" not in columns:
                columns.append(f"PHONE{k}")
        for (text,) in store.execute("SELECT vars FROM leads WHERE campaign_id = ?",
                                     (campaign_id,)):
            for key in json.loads(text or "{}"):
                if key not in columns:
                    columns.append(key)
    return columns


def _phones_by_lead(store: Store, campaign_id: int) -> Iterator[tuple[int, dict[int, str]]]:
    current, phones = None, {}
    for lead_id, slot, e164 in store.execute(
            "SELECT p.lead_id, p.slot, p.e164 FROM leads l JOIN lead_phones p "
            "ON p.lead_id = l.id WHERE +l.campaign_id = ? ORDER BY l.id, p.slot", (campaign_id,)):
        if lead_id != current:
            if current is not None:
                yield current, phones
            current, phones = lead_id, {}
        phones[slot] = e164
    if current is not None:
        yield current, phones


def lead_total(store: Store, campaign_id: int) -> int:
    """The rows ``write_leads_csv`` writes (a progress bar's total)."""
    return store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ?", (campaign_id,))


def write_leads_csv(store: Store, campaign_id: int, fh: IO[str]) -> int:
    """One row per lead (see the module docstring); returns the number of rows."""
    with store.snapshot():
        columns = lead_columns(store, campaign_id)
        names = field_names(store, campaign_id)
        writer = csv.writer(fh)
        writer.writerow(columns + LEAD_TRAILER + [FIELD_PREFIX + n for n in names])
        phones_iter = _phones_by_lead(store, campaign_id)
        pending = next(phones_iter, None)
        fields_iter = _latest_fields(store, campaign_id) if names else iter(())
        got = next(fields_iter, None)
        count = 0
        for row in store.execute(
                "SELECT l.id, l.name, l.email, l.timezone, l.vars, l.status, l.last_disposition, "
                "l.attempts, l.pass_no, l.callback_at, l.last_call_at, l.reached_slot, "
                + ", ".join(LEAD_CONSENT_COLUMNS) +
                " FROM leads l WHERE +l.campaign_id = ? ORDER BY l.id", (campaign_id,)):
            lead_id = row[0]
            while pending is not None and pending[0] < lead_id:
                pending = next(phones_iter, None)
            phones = pending[1] if pending is not None and pending[0] == lead_id else {}
            variables = json.loads(row[4] or "{}")
            cells = []
            for col in columns:
                if col == "NAME":
                    value = row[1]
                elif col == "EMAIL":
                    value = row[2]
                elif col == "TIMEZONE":
                    value = row[3]
                elif col in STRUCTURED:
                    value = phones.get(int(col[5:]))
                else:
                    value = variables.get(col)
                cells.append(neutralise(value))
            reached = phones.get(row[11]) if row[11] is not None else None
            extra = []
            if names:
                while got is not None and got[0] < lead_id:
                    got = next(fields_iter, None)
                latest = got[1] if got is not None and got[0] == lead_id else {}
                extra = [field_cell(latest.get(n)) for n in names]
            writer.writerow(cells + [row[5], row[6] or "", row[7], row[8], neutralise(reached),
                                     row[9] or "", row[10] or "", lead_id, row[12] or "none",
                                     row[13] or "", neutralise(row[14])] + extra)
            count += 1
    return count


class _LocalTimes:
    """UTC ISO text -> recipient-local text, per zone list.

    Converting millions of timestamps one by one through ``zoneinfo`` takes a minute,
    so the work is done once per (zones, quarter hour of UTC): when a zone's offset is
    a whole number of quarter hours and does not change inside that quarter hour (true
    of every zone in use today; checked, with a direct conversion as the fallback),
    the local quarter hour starts on a local quarter hour, so the local date and hour
    are fixed for it and only the minute and seconds follow the UTC text.
    """

    def __init__(self) -> None:
        self._zones: dict[str, list[tuple[str, Any]]] = {}
        self._quarters: dict[tuple[str, str, int], list[tuple[str, int, str, str]] | None] = {}

    def _zone_list(self, zones_text: str) -> list[tuple[str, Any]]:
        zones = self._zones.get(zones_text)
        if zones is None:
            zones = [(name, zone_info(name)) for name in zones_text.split(",") if name]
            zones = [(n, z) for n, z in zones if z is not None]
            self._zones[zones_text] = zones
        return zones

    def _quarter(self, zones_text: str, iso: str) -> list[tuple[str, int, str, str]] | None:
        quarter = int(iso[14:16]) // 15
        key = (zones_text, iso[:13], quarter)
        if key in self._quarters:
            return self._quarters[key]
        start = from_iso(f"{iso[:13]}:{quarter * 15:02d}:00.000Z")
        found: list[tuple[str, int, str, str]] | None = []
        assert start is not None
        for name, zone in self._zone_list(zones_text):
            local = start.astimezone(zone)
            offset = local.utcoffset()
            end = (start + timedelta(minutes=15) - timedelta(microseconds=1)).astimezone(zone)
            if (offset is None or offset.total_seconds() % 900 or end.utcoffset() != offset
                    or local.tzname() != end.tzname()):
                found = None        # not the common case: convert each timestamp directly
                break
            found.append((local.strftime("%Y-%m-%d %H:"), local.minute, local.tzname() or "",
                          name))
        if len(self._quarters) > 100_000:
            self._quarters.clear()
        self._quarters[key] = found
        return found

    def __call__(self, zones_text: str | None, iso: str | None) -> str:
        if not iso or not zones_text or len(iso) < 19:
            return ""
        found = self._quarter(zones_text, iso)
        if found is None:
            return self._direct(zones_text, iso)
        if not found:
            return ""
        into = int(iso[14:16]) % 15
        seconds = iso[16:19]
        texts = [(f"{prefix}{minute + into:02d}{seconds} {abbrev}", name)
                 for prefix, minute, abbrev, name in found]
        if len({t for t, _ in texts}) == 1:
            return texts[0][0]
        return " / ".join(f"{t} ({n})" for t, n in texts)

    def _direct(self, zones_text: str, iso: str) -> str:
        when = from_iso(iso)
        assert when is not None
        texts = [(when.astimezone(z).strftime("%Y-%m-%d %H:%M:%S %Z"), n)
                 for n, z in self._zone_list(zones_text)]
        if not texts:
            return ""
        if len({t for t, _ in texts}) == 1:
            return texts[0][0]
        return " / ".join(f"{t} ({n})" for t, n in texts)


def write_calls_csv(store: Store, campaign_id: int, fh: IO[str], *, rate: float,
                    all_runs: bool = False) -> int:
    """One row per call of the current run (or all runs); returns the number of rows."""
    local = _LocalTimes()
    with store.snapshot():
        run = store.scalar("SELECT run FROM campaigns WHERE id = ?", (campaign_id,))
        where, params = "+c.campaign_id = ?", [campaign_id]
        if not all_runs:
            where += " AND c.run = ?"
            params.append(run)
        names = field_names(store, campaign_id)
        writer = csv.writer(fh)
        writer.writerow(CALL_COLUMNS + [FIELD_PREFIX + n for n in names])
        count = 0
        for r in store.execute(
                "SELECT c.id, c.run, c.lead_id, l.row_number, l.name, c.slot, c.e164, c.pass_no, "
                "c.kind, COALESCE(c.placed_at, c.claimed_at), c.ended_at, c.zone, c.answered_by, "
                "c.disposition, c.turns, c.duration_s, c.billed_minutes, c.price, c.price_final, "
                "c.status, c.summary, c.callback_text, c.recording_sid, c.recording_duration_s, "
                "c.fields FROM calls c JOIN leads l ON l.id = c.lead_id "
                f"WHERE {where} ORDER BY c.id", params):
            (call_id, run_no, lead_id, row_number, name, slot, e164, pass_no, kind, started,
             ended, zones, answered_by, disposition, turns, duration, billed, price, final,
             status, summary, callback_text, rec_sid, rec_duration, fields_text) = r
            if final:
                cost, source = price or 0.0, "final"
            elif billed is not None:
                cost, source = billed * rate, "estimate"
            else:
                cost, source = None, ""
            writer.writerow([
                call_id, run_no, lead_id, row_number, neutralise(name), slot, neutralise(e164),
                pass_no, kind, started or "", ended or "", local(zones, started),
                local(zones, ended), zones or "", answered_by or "", disposition or "",
                "" if turns is None else turns, "" if duration is None else duration,
                "" if billed is None else billed,
                "" if cost is None else f"{cost:.6f}".rstrip("0").rstrip(".") or "0",
                source, status, neutralise(summary), neutralise(callback_text), rec_sid or "",
                "" if rec_duration is None else rec_duration,
            ] + ([field_cell(v.get(n)) for v in (_values(fields_text),) for n in names]
                 if names else []))
            count += 1
    return count


@contextmanager
def write_atomically(path: str | os.PathLike[str], *, excel: bool = False,
                     what: str = "output file", option: str | None = None) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only if the block finishes without error.

    The path is checked before anything is written (``outfiles.check_target``: no
    folder, device, FIFO, link or read-only file); the temp file lives beside it.
    """
    target = outfiles.AtomicFile(path, what=what, option=option)
    with outfiles.write_text_atomically(
            target, encoding="utf-8-sig" if excel else "utf-8") as fh:
        yield fh


def export(writer: Callable[[IO[str]], int], path: str, *, excel: bool = False,
           stdout: IO[bytes] | None = None) -> int:
    """Run ``writer`` into ``path`` (``-`` = ``stdout``, a binary stream); returns rows."""
    if path == "-":
        import io

        assert stdout is not None
        wrapper = io.TextIOWrapper(stdout, encoding="utf-8-sig" if excel else "utf-8",
                                   newline="", write_through=False)
        try:
            return writer(wrapper)
        finally:
            wrapper.flush()
            wrapper.detach()
    with write_atomically(path, excel=excel, what="CSV file", option="--csv") as fh:
        return writer(fh)


__all__ = ["field_names", "field_cell", "lead_columns", "lead_total",
           "write_leads_csv", "write_calls_csv",
           "write_atomically", "export"]
