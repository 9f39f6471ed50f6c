"""The workspace opt-out (do-not-call) list.

One list per workspace (the "org"): a number on it is never dialed again by any
campaign. The engine calls ``is_opted_out`` inside its claim transaction, at the
moment of each dial, so a ``dnc add`` committed from another terminal stops the very
next dial of a running campaign.

``add`` also retires the number everywhere it is a lead's phone (``dead_reason`` =
``DNC_REASON``) and moves the lead on, with the same rule the engine uses for a phone
that became undialable before it was dialed (``outcomes.skip_phone``): a PENDING or
RETRY lead whose current phone died goes to its next live phone (``phone_slot`` and
``cur_group``), is done for the pass, or -- with no live phone left -- is SKIPPED
(EXHAUSTED after it was tried). A CALLBACK lead whose callback number died is
SKIPPED and its appointment canceled. A lead being dialed right now is left to the
engine: its next dial re-checks the list.

``import_file`` streams a file into the list in one transaction: National DNC
Registry flat files (one 10-digit number per line, or ``NPA,NXXXXXX``), change lists
(several comma-separated fields; a ``D``/``DELETE`` field removes the number, but only
an entry that came from a registry import -- never a person's own opt-out), zipped
downloads, and CSV files with a phone column. Numbers are deduplicated in a temporary
table, so a multi-million-line file needs no Python-side set.

Every change leaves evidence in the audit log.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

from dialcli import textfiles
from dialcli.compliance import consent
from dialcli.compliance.policy import RULES_VERSION
from dialcli.store import transitions, where
from dialcli.store.audit import record_decision
from dialcli.config import path_text
from dialcli.errors import ConflictError, InputError
from dialcli.phones import PhoneError, PhoneParser
from dialcli.templates import normalize_header

DNC_REASON = "on the opt-out list"
CALLBACK_REASON = "callback number is on the opt-out list"
REGISTRY_PREFIX = "registry"
SIMULATOR_SOURCE = "simulator"
#: Insert, or upgrade an entry only a simulated callee had made into a real one.
_UPSERT = ("ON CONFLICT(e164) DO UPDATE SET source = excluded.source, reason = excluded.reason, "
           "campaign_id = excluded.campaign_id, lead_id = excluded.lead_id, "
           "added_at = excluded.added_at WHERE dnc.source = 'simulator' "
           "AND excluded.source != 'simulator'")
_NANP10 = re.compile(r"^[2-9]\d{2}[2-9]\d{6}$")
_DELETE_FLAGS = {"D", "DEL", "DELETE", "DELETED", "REMOVE", "REMOVED"}
_ADD_FLAGS = {"A", "ADD", "ADDED", "INSERT"}
_BATCH = 5000
MAX_SAMPLES = 10


@dataclass
class ChangeResult:
    """What ``add``/``remove`` did."""

    changed: int = 0                 # numbers added / removed
    unchanged: int = 0               # already on the list / not on it
    phones: int = 0                  # lead phones retired / revived
    leads_moved: int = 0             # leads moved to their next phone or done for the pass
    leads_skipped: int = 0           # leads with nothing dialable left (SKIPPED/EXHAUSTED)


@dataclass
class ImportReport:
    source: str
    format: str                      # 'registry' | 'csv'
    columns: list[str] = field(default_factory=list)
    lines: int = 0
    numbers: int = 0                 # valid numbers read (with duplicates)
    added: int = 0
    already: int = 0                 # valid but already on the list (or repeated in the file)
    deleted: int = 0                 # change-list deletions applied
    invalid: int = 0
    invalid_samples: list[tuple[int, str, str]] = field(default_factory=list)
    phones: int = 0
    leads_moved: int = 0
    leads_skipped: int = 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["invalid_samples"] = [{"line": n, "value": v, "reason": r}
                                for n, v, r in self.invalid_samples]
        return d


@dataclass(frozen=True)
class Entry:
    e164: str
    reason: str | None
    source: str
    campaign: str | None
    lead_id: int | None
    added_at: str


# -- checks and single numbers --------------------------------------------------------

def is_opted_out(conn, e164: str, *, simulated: bool = False) -> bool:
    """True when ``e164`` is on the workspace's opt-out list (checked at dial time).

    An opt-out said by a *simulated* callee (source ``simulator``) binds simulated
    runs only, so a rehearsal never blocks a real lead.
    """
    row = conn.execute("SELECT source FROM dnc WHERE e164 = ?", (e164,)).fetchone()
    return listed(row[0] if row is not None else None, simulated=simulated)


#: The opt-out list's source for a number, as a column of another read (``{}`` is the
#: number): the engine's claim reads it with the lead instead of in a query of its own.
SOURCE_OF = "(SELECT source FROM dnc WHERE e164 = {})"


def listed(source: str | None, *, simulated: bool = False) -> bool:
    """``is_opted_out`` given the number's list entry's ``source`` (None: not listed)."""
    return source is not None and (simulated or source != SIMULATOR_SOURCE)


def normalize(values: Iterable[str], default_region: str = "US") -> list[str]:
    """Typed numbers -> unique E.164; raises one ``InputError`` naming every bad value."""
    parser = PhoneParser(default_region)
    out: list[str] = []
    bad: list[str] = []
    for raw in values:
        try:
            e164 = parser.parse(str(raw)).e164
        except PhoneError as exc:
            bad.append(f"{raw!r} ({exc})")
            continue
        if e164 not in out:
            out.append(e164)
    if bad:
        raise InputError("Not a phone number: " + "; ".join(bad) + ".",
                         hint="Use E.164 (+14155550123) or a 10-digit US number.")
    if not out:
        raise InputError("Give at least one phone number.")
    return out


def add(conn, e164s: Iterable[str], *, source: str, reason: str | None, now_iso: str,
        campaign_id: int | None = None, lead_id: int | None = None,
        audit: bool = True) -> ChangeResult:
    """Put numbers on the list (in the caller's transaction) and retire them in leads."""
    numbers = list(dict.fromkeys(e164s))
    result = ChangeResult()
    for e164 in numbers:
        cur = conn.execute(
            "INSERT INTO dnc (e164, reason, source, campaign_id, lead_id, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?) " + _UPSERT,
            (e164, reason, source, campaign_id, lead_id, now_iso))
        if cur.rowcount:
            result.changed += 1
            if audit:
                record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id,
                                call_id=None, e164=e164, decision="dnc-add", reason=reason,
                                detail={"source": source, "rules_version": RULES_VERSION})
        else:
            result.unchanged += 1
    if source != SIMULATOR_SOURCE:     # a rehearsal never retires a real lead's phone
        if not source.startswith(REGISTRY_PREFIX):
            # A person's opt-out revokes their consent, for good (FCC 24-24).
            consent.revoke(conn, numbers, now_iso=now_iso, reason=reason or "opted out")
        _load_batch(conn, ((n, "add") for n in numbers))
        _retire_batch(conn, now_iso, result)
    return result


def remove(conn, e164s: Iterable[str], *, now_iso: str, reason: str | None = None,
           force: bool = False) -> ChangeResult:
    """Take numbers off the list and revive the lead phones it had retired.

    A number the person asked to be removed from on a call is kept unless ``force``:
    dialing them again needs their new consent, not a typo fix.
    """
    numbers = list(dict.fromkeys(e164s))
    result = ChangeResult()
    rows = {r[0]: r for r in _select_in(
        conn, "SELECT e164, source, added_at, campaign_id FROM dnc WHERE e164 IN ({})", numbers)}
    protected = [n for n in numbers if n in rows and rows[n][1] == "call"]
    if protected and not force:
        first = rows[protected[0]]
        raise ConflictError(
            f"{', '.join(protected)} asked to be removed on a call "
            f"(first: {first[0]} on {first[2][:10]}); not taken off the opt-out list.",
            hint="Only with their new consent: dialcli dnc remove NUMBER --with-new-consent")
    for e164 in numbers:
        if e164 not in rows:
            result.unchanged += 1
            continue
        conn.execute("DELETE FROM dnc WHERE e164 = ?", (e164,))
        result.changed += 1
        result.phones += conn.execute(
            "UPDATE lead_phones SET dead_reason = NULL WHERE e164 = ? AND dead_reason = ?",
            (e164, DNC_REASON)).rowcount
        record_decision(conn, ts=now_iso, campaign_id=None, lead_id=None, call_id=None,
                        e164=e164, decision="dnc-remove", reason=reason,
                        detail={"was_source": rows[e164][1], "was_added_at": rows[e164][2],
                                "forced": bool(force and e164 in protected)})
    return result


def _select_in(conn, sql: str, values: list[str]) -> list:
    out = []
    for i in range(0, len(values), 500):
        chunk = values[i:i + 500]
        out.extend(conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall())
    return out


# -- retiring lead phones ------------------------------------------------------------

def _load_batch(conn, rows: Iterable[tuple[str, str]]) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS dnc_batch "
                 "(e164 TEXT PRIMARY KEY, op TEXT NOT NULL) WITHOUT ROWID")
    conn.execute("DELETE FROM temp.dnc_batch")
    conn.executemany("INSERT OR REPLACE INTO temp.dnc_batch (e164, op) VALUES (?, ?)", rows)


def _retire_batch(conn, now_iso: str, result) -> None:
    """Retire every live lead phone whose number is an 'add' in ``temp.dnc_batch``."""
    hits = conn.execute(
        "SELECT lp.lead_id, lp.slot, lp.e164 FROM temp.dnc_batch b "
        "JOIN lead_phones lp ON lp.e164 = b.e164 "
        "WHERE b.op = 'add' AND lp.dead_reason IS NULL ORDER BY lp.lead_id, lp.slot"
    ).fetchall()
    if not hits:
        return
    killed: dict[int, list[tuple[int, str]]] = {}
    for lead_id, slot, e164 in hits:
        killed.setdefault(lead_id, []).append((slot, e164))
    conn.execute(
        "UPDATE lead_phones SET dead_reason = ? WHERE dead_reason IS NULL "
        "AND e164 IN (SELECT e164 FROM temp.dnc_batch WHERE op = 'add')", (DNC_REASON,))
    result.phones += len(hits)
    changes = []
    detail = {"opt_out": True, "rules_version": RULES_VERSION}
    for lead_id, slots in killed.items():
        moved = transitions.skip_opted_out(conn, lead_id, dict(slots), now_iso, reason=DNC_REASON,
                                           callback_reason=CALLBACK_REASON, detail=detail)
        if moved is None:
            continue
        before, after = moved
        changes.append((lead_id, str(before)))
        if after.terminal:
            result.leads_skipped += 1
        else:
            result.leads_moved += 1
    if changes:
        # A status change like any other: webhook subscribers hear it (same transaction).
        transitions.send_events(conn, now_iso, changes)


# -- listing and export --------------------------------------------------------------

def count(conn) -> int:
    return conn.execute("SELECT COUNT(*) FROM dnc").fetchone()[0]


def list_entries(conn, *, search: str | None = None, source: str | None = None,
                 limit: int | None = 100, offset: int = 0) -> tuple[list[Entry], int]:
    """(entries newest first, total matching)."""
    digits = re.sub(r"\D", "", search or "")
    clause, params = where(("d.e164 LIKE ?", search and f"%{digits or search}%"),
                           ("d.source LIKE ?", source and f"{source}%"))
    total = conn.execute(f"SELECT COUNT(*) FROM dnc d{clause}", params).fetchone()[0]
    sql = (f"SELECT d.e164, d.reason, d.source, c.name, d.lead_id, d.added_at FROM dnc d "
           f"LEFT JOIN campaigns c ON c.id = d.campaign_id{clause} "
           f"ORDER BY d.added_at DESC, d.e164 LIMIT ? OFFSET ?")
    rows = conn.execute(sql, [*params, -1 if limit is None else limit, offset]).fetchall()
    return [Entry(*r) for r in rows], total


def export(conn, out: TextIO, *, fmt: str = "csv") -> int:
    """Write the whole list to ``out``: ``csv`` (with reasons) or ``txt`` (one per line)."""
    if fmt not in ("csv", "txt"):
        raise InputError(f"Unknown export format {fmt!r}; use csv or txt.")
    rows = conn.execute(
        "SELECT d.e164, d.reason, d.source, c.name, d.lead_id, d.added_at FROM dnc d "
        "LEFT JOIN campaigns c ON c.id = d.campaign_id ORDER BY d.e164")
    n = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["e164", "reason", "source", "campaign", "lead_id", "added_at"])
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            n += 1
    else:
        for row in rows:
            out.write(row[0] + "\n")
            n += 1
    return n


# -- import ------------------------------------------------------------------------

MAX_LINE = 1 << 20


#: ``progress(done, total)``: bytes of the input read so far, and in all (for a bar).
Progress = Callable[[int, int], None]


def _open_texts(path: Path, progress: Progress | None = None
                ) -> Iterator[tuple[str, TextIO, Callable[[], None]]]:
    """(name, text stream, report) for a plain file or each text member of a zip
    download; ``report()`` tells ``progress`` (if any) how many bytes have been read."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if not members:
                raise InputError(f"{path} is an empty zip file.")
            total, before = sum(m.file_size for m in members), 0
            for member in members:
                with zf.open(member) as raw:
                    yield (member.filename,
                           io.TextIOWrapper(raw, "utf-8-sig", errors="replace"),
                           _reporter(lambda raw=raw, b=before: b + raw.tell(), total, progress))
                before += member.file_size
        return
    encoding = textfiles.sniff(path)[0]
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        yield path.name, fh, _reporter(fh.buffer.tell, path.stat().st_size, progress)


def _reporter(where: Callable[[], int], total: int,
              progress: Progress | None) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    return lambda: progress(min(where(), total), total)


def _header_columns(first: str, column: str | None) -> list[int] | None:
    """Indexes of the phone columns when ``first`` is a CSV header, else None."""
    if not re.search(r"[A-Za-z]{2}", first) and column is None:
        return None
    fields = next(csv.reader([first]))
    names = [normalize_header(f) for f in fields]
    if column is not None:
        want = normalize_header(column)
        if want not in names:
            raise InputError(f"No column {column!r} in the header: {', '.join(fields)}.",
                             hint="Name the phone column with --column.")
        return [names.index(want)]
    picked = consent.phone_columns(names)
    if picked:
        return picked
    if all(_field_number(f) or f.strip().upper().strip('"') in _DELETE_FLAGS | _ADD_FLAGS
           or re.fullmatch(r"[\d\-/: \"]*", f) for f in fields):
        return None  # a registry change-list record, not a header
    raise InputError(
        f"No phone column in the header: {', '.join(fields)}.",
        hint="Name it with --column COLUMN, or use a registry file (one number per line).")


def _field_number(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return digits if len(digits) == 10 else None


def _registry_line(line: str) -> tuple[str | None, str, str]:
    """(E.164 or None, op, reason) for one registry line."""
    fields = [f.strip().strip('"').strip() for f in line.split(",")]
    number = None
    rest = fields[1:]
    first = re.sub(r"\D", "", fields[0])
    if len(first) == 3 and len(fields) > 1 and len(re.sub(r"\D", "", fields[1])) == 7:
        number, rest = first + re.sub(r"\D", "", fields[1]), fields[2:]
    else:
        number = _field_number(fields[0])
    if number is None:
        return None, "add", "not a 10-digit number or NPA,NXXXXXX"
    if not _NANP10.match(number):
        return None, "add", "not a valid North American number"
    flags = {f.upper() for f in rest}
    op = "delete" if flags & _DELETE_FLAGS else "add"
    return "+1" + number, op, ""


def _lines(name: str, stream: TextIO) -> Iterator[tuple[int, str]]:
    """Numbered lines, each at most ``MAX_LINE`` characters: a file with no line
    breaks (a binary, or a zip that inflates to gigabytes of one line) is refused
    instead of being read into memory whole."""
    for lineno, raw in enumerate(iter(lambda: stream.readline(MAX_LINE + 1), ""), 1):
        if len(raw) > MAX_LINE:
            raise InputError(f"{name}, line {lineno}: longer than {MAX_LINE:,} characters; "
                             "this is not a registry download or a CSV of numbers.")
        yield lineno, raw


def _parse(path: Path, column: str | None, report: ImportReport,
           progress: Progress | None = None) -> Iterator[tuple[str, str]]:
    parser = PhoneParser("US")
    for name, stream, report_read in _open_texts(path, progress):
        columns: list[int] | None = None
        started = False
        for lineno, raw in _lines(name, stream):
            if lineno % _BATCH == 0:
                report_read()
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            report.lines += 1
            if not started:
                started = True
                columns = _header_columns(line, column)
                if columns is not None:
                    report.format = "csv"
                    header = next(csv.reader([line]))
                    report.columns = [header[i] for i in columns]
                    continue
            if columns is None:
                if len(line) == 10 and line.isdigit() and line[0] > "1" and line[3] > "1":
                    report.numbers += 1     # the full-list format: the common, fast case
                    yield "+1" + line, "add"
                    continue
                e164, op, why = _registry_line(line)
                if e164 is None:
                    _invalid(report, lineno, line, why)
                    continue
                report.numbers += 1
                yield e164, op
                continue
            row = next(csv.reader([raw]), [])
            for i in columns:
                value = row[i].strip() if i < len(row) else ""
                if not value:
                    continue
                try:
                    e164 = parser.parse(value).e164
                except PhoneError as exc:
                    _invalid(report, lineno, value, str(exc))
                    continue
                report.numbers += 1
                yield e164, "add"


def _invalid(report: ImportReport, lineno: int, value: str, why: str) -> None:
    report.invalid += 1
    if len(report.invalid_samples) < MAX_SAMPLES:
        report.invalid_samples.append((lineno, value[:60], why))


def import_file(store, path: str | Path, *, now_iso: str, column: str | None = None,
                source: str | None = None, progress: Progress | None = None) -> ImportReport:
    """Stream a registry download or a CSV into the list, in one transaction
    (``progress(bytes_read, bytes_total)`` is called as the file is read)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    report = ImportReport(source="", format="registry")
    with store.tx() as conn:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS dnc_batch "
                     "(e164 TEXT PRIMARY KEY, op TEXT NOT NULL) WITHOUT ROWID")
        conn.execute("DELETE FROM temp.dnc_batch")
        batch: list[tuple[str, str]] = []
        add_lines = 0
        for item in _parse(path, column, report, progress):
            batch.append(item)
            add_lines += item[1] == "add"
            if len(batch) >= _BATCH:
                conn.executemany("INSERT OR REPLACE INTO temp.dnc_batch VALUES (?, ?)", batch)
                batch.clear()
        conn.executemany("INSERT OR REPLACE INTO temp.dnc_batch VALUES (?, ?)", batch)
        if report.numbers == 0:
            sample = report.invalid_samples[0] if report.invalid_samples else None
            raise InputError(
                f"No phone numbers found in {path}"
                + (f" (line {sample[0]}: {sample[1]!r}: {sample[2]})." if sample else "."),
                hint="Expected one 10-digit number per line, NPA,NXXXXXX, or a CSV with "
                     "a phone column (choose it with --column).")
        registry = report.format == "registry"
        name = path_text(path.name)
        report.source = source or (f"{REGISTRY_PREFIX}:{name}" if registry else f"import:{name}")
        report.added = conn.execute(
            "INSERT INTO dnc (e164, reason, source, added_at) "
            "SELECT e164, ?, ?, ? FROM temp.dnc_batch WHERE op = 'add' " + _UPSERT,
            ("National DNC Registry" if registry else "imported", report.source, now_iso),
        ).rowcount
        report.already = add_lines - report.added
        # A registry deletion only undoes a registry entry, never a person's own opt-out.
        report.deleted = conn.execute(
            "DELETE FROM dnc WHERE source LIKE ? AND e164 IN "
            "(SELECT e164 FROM temp.dnc_batch WHERE op = 'delete')",
            (f"{REGISTRY_PREFIX}%",)).rowcount
        if not registry and not report.source.startswith(REGISTRY_PREFIX):
            # An imported opt-out list is people's opt-outs: their consent goes with them.
            conn.execute(
                "UPDATE consent SET revoked_at = ?, revoked_reason = 'opted out (imported list)' "
                "WHERE revoked_at IS NULL AND consented_at <= ? AND e164 IN "
                "(SELECT e164 FROM temp.dnc_batch WHERE op = 'add')", (now_iso, now_iso))
        _retire_batch(conn, now_iso, report)
        record_decision(conn, ts=now_iso, campaign_id=None, lead_id=None, call_id=None,
                        e164=None, decision="dnc-import", reason=path_text(path),
                        detail={k: v for k, v in report.as_dict().items()
                                if k != "invalid_samples"})
        conn.execute("DROP TABLE temp.dnc_batch")
    return report
