"""Lead import: a CSV of leads into a campaign, all or nothing.

Shape: ``read -> prepare -> write``. The reader (``csvfile``) turns the file into
chunks of columns whose records carry their original line numbers. ``Preparer``
turns a chunk into ready-to-insert rows: headers were normalized once, phones are parsed
a column at a time with ``PhoneParser.parse_column`` (cached by NPA-NXX), zone
groups are resolved through a small cache, duplicates are found with sorted
NumPy key arrays (12 bytes per lead, not a Python set), opt-outs are matched the
same way, and bad rows go to the rejects file as they are found. ``_Writer``
inserts the rows with ``executemany`` inside ONE write transaction that the
caller opened, so a failure, an error or Ctrl-C leaves the workspace as it was.

Large files run the preparer in a second process (``worker``): SQLite
writing is single-threaded, so the other core validates the next chunk while
this one inserts the last. Memory stays flat: chunks are bounded and the pipe
between the two holds about one. When the import is large, the phone index that
random numbers would scatter writes over is dropped and rebuilt (sorted, once)
inside the same transaction, and foreign keys are checked once at the end
(``_Writer.verify``) instead of per row.

Rules (product doc + design): headers are tokens (``normalize_header``);
``name`` and ``phone1`` are required; ``phone1..phone10`` are phones stored as
E.164 with their candidate zones and region; ``email``, ``timezone`` and the
consent columns (``consent_columns``: one consent record per phone of the row, in
the same transaction) are structured; every other column is a ``{{TOKEN}}`` variable (``STATE`` too, which
also widens the zone group's region for the state calling rules). An invalid
phone drops its slot; a row with no valid phone is rejected; a lead whose first
valid phone is already in the campaign (or earlier in the file) is a duplicate;
numbers on the opt-out list are imported dead with a reason.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from dialcli.compliance import consent
from dialcli.leads import csvfile
from dialcli.leads.header import choose_header
from dialcli.clock import to_iso
from dialcli.config import path_text
from dialcli.errors import Interrupted, InputError, NotFoundError
from dialcli.models import CampaignStatus
from dialcli import outfiles
from dialcli.leads.keys import SeenKeys
from dialcli.leads.prepare import Payload, Preparer, PrepareSpec
from dialcli.store import Store

#: Files at least this big are prepared in a second process.
WORKER_MIN_BYTES = 4 * 1024 * 1024
#: Imports expected to add at least this many leads rebuild ``_DEFERRABLE_INDEXES`` and
#: check references once at the end rather than per row.
DEFER_INDEX_MIN_ROWS = 50_000
_DEFERRABLE_INDEXES = ("lead_phones_e164",)
_IMPORT_CACHE_KIB = 32_768

Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """What an import did; ``to_dict`` is the ``--json`` output."""

    import_id: int
    campaign: str
    source: str
    encoding: str
    delimiter: str
    rows: int = 0
    imported: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    optout_phones: int = 0
    optout_leads_skipped: int = 0
    dropped_phones: int = 0
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    dropped_examples: list[dict[str, Any]] = field(default_factory=list)
    leads_per_zone: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    rejects_file: str | None = None
    campaign_reopened: bool = False
    #: The consent gate: what the campaign's purpose needs, the consent columns read
    #: (as written in the header), the records kept, and how many of the campaign's
    #: leads still to dial have none of the consent the purpose needs (None when the
    #: purpose is not set or the gate is off).
    purpose: str = consent.UNSPECIFIED
    consent_needed: str | None = None
    consent_gate: str = "on"
    consent_columns: list[str] = field(default_factory=list)
    consent_records: int = 0
    lacking_consent: int | None = None
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def default_rejects_path(source: Path) -> Path:
    """``leads.csv`` -> ``leads.rejects.csv`` beside it."""
    return source.with_name(source.stem + ".rejects.csv")


def import_csv(store: Store, path: str | os.PathLike[str], *, campaign_id: int, now: datetime,
               default_region: str = "US", allow_duplicates: bool = False,
               rejects_path: str | os.PathLike[str] | None = None,
               progress: Progress | None = None, workers: int | None = None,
               chunk_rows: int = 20_000, columns: Mapping[str, str] | None = None
               ) -> ImportSummary:
    """Import ``path`` into the campaign in one transaction; return the summary.

    ``workers``: None = decide by file size, 0 = prepare in this process,
    1 = prepare in a second process. ``columns``: what named CSV columns are
    (``import --map``: {'Mobile Phone': 'phone1'}). Raises ``InputError`` for an unusable file
    (nothing written), ``Interrupted`` on Ctrl-C (nothing written).
    """
    args = dict(campaign_id=campaign_id, now=now, default_region=default_region,
                allow_duplicates=allow_duplicates, rejects_path=rejects_path,
                progress=progress, workers=workers, chunk_rows=chunk_rows, columns=columns)
    try:
        return _import(store, Path(path), reader="pandas", **args)
    except csvfile.ReaderFallback:
        # A record pandas cannot take (e.g. far more fields than the header): the
        # attempt was rolled back; the csv module reads anything, row by row.
        return _import(store, Path(path), reader="csv", **args)


def _import(store: Store, source: Path, *, workers: int | None, **kwargs) -> ImportSummary:
    """Start the worker first (its interpreter and imports overlap our checks)."""
    try:
        big = source.is_file() and source.stat().st_size >= WORKER_MIN_BYTES
    except OSError:
        big = False
    proc = None
    if (big if workers is None else workers > 0):
        from dialcli.leads.worker import start_worker

        proc = start_worker()
    try:
        return _import_with(store, source, proc=proc, **kwargs)
    finally:
        if proc is not None:
            from dialcli.leads.worker import stop_worker

            stop_worker(proc)


def _import_with(store: Store, source: Path, *, campaign_id: int, now: datetime,
                 default_region: str, allow_duplicates: bool, rejects_path,
                 progress: Progress | None, chunk_rows: int, reader: str,
                 proc, columns: Mapping[str, str] | None = None) -> ImportSummary:
    info = csvfile.inspect(source)               # file, encoding, delimiter, header
    header = choose_header(info, columns)
    campaign = store.one("SELECT id, name, status, pass_no, window_start, window_end, purpose, "
                         "consent_gate FROM campaigns WHERE id = ?", (campaign_id,))
    if campaign is None:
        raise NotFoundError(f"No campaign with id {campaign_id}.")
    try:
        from dialcli.phones import PhoneParser

        PhoneParser(default_region)
    except ValueError:
        raise InputError(
            f"--default-region {default_region!r} is not a region code.",
            hint="Use a two-letter country code such as US, CA, GB.",
        ) from None
    rejects = Path(rejects_path) if rejects_path else default_rejects_path(source)
    if rejects.resolve() == source.resolve():
        raise InputError("The rejects file would overwrite the CSV being imported.",
                         hint="Pass another path with --rejects.")
    # Checked before the transaction: a folder, device, link or read-only file given as
    # --rejects is refused with nothing imported (the file appears only after commit).
    rejects_out = outfiles.AtomicFile(rejects, what="rejects file", option="--rejects")
    store.quick_check()      # never import into a damaged file (refused, nothing written)
    tmp_rejects = rejects_out.tmp
    now_iso = to_iso(now)
    assert now_iso is not None
    summary = ImportSummary(
        import_id=0, campaign=campaign["name"], source=path_text(source), encoding=info.encoding,
        delimiter=info.delimiter, columns=header.tokens, variables=header.var_tokens,
        notices=list(info.notices) + header.notices, warnings=list(header.warnings) + _cut_short(source, info),
        purpose=campaign["purpose"], consent_needed=consent.NEEDS.get(campaign["purpose"]),
        consent_gate=campaign["consent_gate"],
        consent_columns=[header.raw[j] for j in header.consent.values()],
    )
    try:
        rejects_out.create()     # inside the try: removed on every way out
        with bulk_settings(store, info.estimated_rows >= DEFER_INDEX_MIN_ROWS), \
                store.tx() as conn:
            import_id = conn.execute(
                "INSERT INTO imports (campaign_id, source, columns, created_at) VALUES (?, ?, ?, ?)",
                (campaign_id, path_text(source.resolve()), json.dumps(header.tokens), now_iso),
            ).lastrowid
            summary.import_id = int(import_id)
            spec = _spec(conn, source, info, header, campaign, default_region,
                         allow_duplicates, tmp_rejects, chunk_rows)
            spec.reader = reader
            deferred = _defer_indexes(conn, info.estimated_rows)
            writer = _Writer(conn, campaign_id, int(import_id), int(campaign["pass_no"]), now_iso,
                             consent_origin=f"leads:{source.name}")
            payloads = _run_worker(spec, proc) if proc is not None else _run_here(spec)
            stats: dict[str, Any] = {}
            try:
                for payload in payloads:
                    if payload.final is not None:
                        stats = payload.final
                        continue
                    writer.write(payload)
                    if progress is not None:
                        progress(payload.bytes_read, info.size)
            finally:
                close = getattr(payloads, "close", None)
                if close is not None:
                    close()
            if not store.scalar("PRAGMA foreign_keys"):
                writer.verify()
            for sql in deferred:
                conn.execute(sql)
            summary.consent_records = writer.consents_kept
            _finish(conn, summary, stats, campaign, now_iso)
            if summary.imported == 0 and summary.rows == 0:
                raise InputError(
                    f"{source.name} has a header but no data rows.",
                    hint="Add one lead per line under the header, then import again.",
                )
            # The rejects file is put in place as the transaction's last step: if that
            # fails, nothing is imported (an error never keeps the leads).
            if stats.get("rejects_written"):
                rejects_out.commit()
                summary.rejects_file = path_text(rejects)
    except KeyboardInterrupt:
        raise Interrupted("Import interrupted: nothing was imported.") from None
    finally:
        if proc is not None:
            from dialcli.leads.worker import stop_worker

            stop_worker(proc)   # before the unlink: the worker writes the temp file
        rejects_out.discard()
    return summary


def _window_warnings(campaign, groups: dict[int, tuple[str, str]],
                     per_group: dict[int, int]) -> list[str]:
    """Leads whose first phone is in a state whose own calling hours never meet the
    campaign's window: that phone would be skipped, never dialed."""
    from dialcli.compliance.policy import unreachable_states
    from dialcli.compliance.rules import states_of

    window = (campaign["window_start"], campaign["window_end"])
    never = dict(unreachable_states(window))
    if not never:
        return []
    per_state: Counter[str] = Counter()
    for gid, count in per_group.items():
        hit = [st for st in states_of(groups.get(gid, ("", ""))[1]) if st in never]
        if hit:
            per_state[hit[0]] += count
    if not per_state:
        return []
    listed = ", ".join(f"{st} {n} ({never[st]})" for st, n in per_state.most_common())
    return [f"{sum(per_state.values())} lead(s) have a first phone in a state whose calling "
            f"hours never meet this campaign's {window[0]}-{window[1]}: {listed}. Those "
            f"phones will be skipped. Widen the window: dialcli campaign edit "
            f"{campaign['name']!r} --window 09:00-20:00"]


@contextmanager
def bulk_settings(store: Store, bulk: bool) -> Iterator[None]:
    """The connection settings of an import, restored afterwards.

    A bigger page cache; a helper thread for the index rebuild's sort (the worker
    is done by then). A ``bulk`` import checks its references once at the end
    (``_Writer.verify``) instead of per row: every row it references is created in
    the same transaction under the write lock. That pragma only takes effect
    outside a transaction, so a caller's open transaction keeps the per-row checks.
    """
    old_cache = store.scalar("PRAGMA cache_size")
    old_threads = store.scalar("PRAGMA threads")
    fk_was_on = bool(store.scalar("PRAGMA foreign_keys"))
    store.execute(f"PRAGMA cache_size = -{_IMPORT_CACHE_KIB}")
    store.execute("PRAGMA threads = 2")
    if bulk and fk_was_on:
        store.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        store.execute(f"PRAGMA cache_size = {int(old_cache)}")
        store.execute(f"PRAGMA threads = {int(old_threads or 0)}")
        if bulk and fk_was_on:
            store.execute("PRAGMA foreign_keys = ON")


def _spec(conn, source, info, header, campaign, default_region, allow_duplicates,
          tmp_rejects, chunk_rows) -> PrepareSpec:
    groups = {(z, r): gid for gid, z, r in conn.execute("SELECT id, zones, region FROM zone_groups")}
    next_group = (conn.execute("SELECT MAX(id) FROM zone_groups").fetchone()[0] or 0) + 1
    # Never an id a deleted campaign's lead had (``id_floor``, migration m008).
    next_lead = (conn.execute(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM leads UNION ALL "
        "SELECT max_id FROM id_floor WHERE name = 'leads')").fetchone()[0] or 0) + 1
    existing = None
    if not allow_duplicates:
        existing = SeenKeys.from_rows(conn.execute(
            "SELECT phone1, id FROM leads WHERE campaign_id = ? AND phone1 IS NOT NULL",
            (campaign["id"],)))
    dnc = SeenKeys.from_rows((e, 0) for (e,) in conn.execute("SELECT e164 FROM dnc"))
    return PrepareSpec(
        path=str(source), encoding=info.encoding, delimiter=info.delimiter, header=header,
        default_region=default_region, check_duplicates=not allow_duplicates,
        existing=existing, dnc=dnc, groups=groups, next_group=next_group, next_lead=next_lead,
        campaign=campaign["name"], rejects_path=str(tmp_rejects), chunk_rows=chunk_rows,
    )


def _defer_indexes(conn, estimated_rows: int) -> list[str]:
    """Drop the deferrable indexes for a big import; return the SQL that rebuilds them.

    Random phone numbers scatter index inserts over the whole B-tree: ~3 s per
    million leads, against 0.8 s to sort once at the end. The other indexes grow
    at their ends; their inserts cost the writer time it would otherwise spend
    waiting for the preparing worker, while a rebuild would come after the last
    row, when nothing else is left to overlap with. Both happen inside the caller's
    transaction, so other connections never see the index missing.
    """
    if estimated_rows < DEFER_INDEX_MIN_ROWS:
        return []
    existing = conn.execute("SELECT COUNT(*) FROM leads").fetchone()[0]
    if estimated_rows * 2 < existing:
        return []
    out = []
    for name in _DEFERRABLE_INDEXES:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                           (name,)).fetchone()
        if row and row[0]:
            conn.execute(f'DROP INDEX "{name}"')
            out.append(row[0])
    return out


def _run_here(spec: PrepareSpec) -> Iterator[Payload]:
    preparer = Preparer(spec)
    try:
        yield from preparer.run()
    finally:
        preparer.close()


def _run_worker(spec: PrepareSpec, proc) -> Iterator[Payload]:
    """The worker's payloads; if it cannot run at all, prepare here instead."""
    from dialcli.leads.worker import WorkerUnavailable, run_in_worker

    payloads = run_in_worker(spec, proc)
    try:
        first = next(payloads)
    except WorkerUnavailable:
        yield from _run_here(spec)
        return
    yield first
    yield from payloads


class _Writer:
    """Inserts prepared rows; per-import constants are SQL literals, ''/0 become NULL."""

    def __init__(self, conn, campaign_id: int, import_id: int, pass_no: int, now_iso: str, *,
                 consent_origin: str):
        if not csvfile.ISO_RE.fullmatch(now_iso):
            raise ValueError(f"unexpected timestamp {now_iso!r}")
        self.conn = conn
        self.now_iso = now_iso
        self.consent_origin = consent_origin
        self.consents_kept = 0
        head = ("INSERT INTO leads (id, row_number, name, email, phone1, vars, phone_slot, "
                "cur_group, campaign_id, import_id, pass_no, created_at, updated_at")
        values = (") VALUES (?, ?, ?, NULLIF(?, ''), ?, ?, NULLIF(?, 0), NULLIF(?, 0), "
                  f"{int(campaign_id)}, {int(import_id)}, {int(pass_no)}, '{now_iso}', "
                  f"'{now_iso}'")
        # One statement per shape of chunk (see LeadColumns.rows): columns a chunk
        # does not have are not bound at all.
        self.lead_sql = {
            (tz, st): head + (", timezone" if tz else "") + (", status, skip_reason" if st else "")
            + values + (", NULLIF(?, '')" if tz else "") + (", ?, NULLIF(?, '')" if st else "")
            + ")"
            for tz in (False, True) for st in (False, True)
        }
        self.phone_sql = ("INSERT INTO lead_phones (lead_id, slot, e164, zones, region, group_id, "
                          "dead_reason) VALUES (?, ?, ?, ?, ?, ?, NULLIF(?, ''))")

        self.first_lead: int | None = None
        self.last_lead = 0
        self.groups_used: set[int] = set()
        self.phones_written = 0

    def write(self, payload: Payload) -> None:
        if payload.groups:
            self.conn.executemany("INSERT INTO zone_groups (id, zones, region) VALUES (?, ?, ?)",
                                  payload.groups)
        if payload.leads:
            c = payload.leads
            if self.first_lead is None:
                self.first_lead = c.first_id
            self.last_lead = c.first_id + len(c) - 1
            self.groups_used.update(c.cur_group)
            sql = self.lead_sql[(c.timezones is not None, c.status is not None)]
            self.conn.executemany(sql, c.rows())
        if payload.phones:
            self.phones_written += len(payload.phones)
            self.groups_used.update(payload.phones.group_id)
            self.conn.executemany(self.phone_sql, payload.phones.rows())
        if payload.consents:
            self._keep_consents(payload)

    def _keep_consents(self, payload: Payload) -> None:
        """One consent record per phone of each lead with one, in the import's
        transaction: an import that fails or is interrupted leaves none."""
        phones = payload.phones
        by_lead: dict[int, list[str]] = {}
        if phones is not None:
            for lead_id, e164 in zip(phones.lead_id, phones.e164):
                by_lead.setdefault(lead_id, []).append(e164)
        for lead_id, kind, at, source in payload.consents or ():
            for e164 in by_lead.get(lead_id, ()):
                self.consents_kept += consent.record(
                    self.conn, e164=e164, kind=kind, consented_at=at, source=source or None,
                    origin=self.consent_origin, now_iso=self.now_iso, lead_id=lead_id)

    def verify(self) -> None:
        """Check every reference the inserts made, in O(log n) (used when FKs were off).

        Lead ids are primary keys, so a contiguous id range whose ends exist is
        complete; every phone written must point into it (counted over the range);
        every zone group used must exist.
        """
        conn = self.conn
        self.groups_used.discard(0)
        missing = self.groups_used - {r[0] for r in conn.execute("SELECT id FROM zone_groups")}
        problems = [f"zone groups {sorted(missing)[:5]}"] if missing else []
        if self.first_lead is not None:
            lo, hi, count = self.first_lead, self.last_lead, self.last_lead - self.first_lead + 1
            # Two index probes (MIN/MAX with a WHERE would scan the range).
            ends = (conn.execute("SELECT id FROM leads WHERE id >= ? ORDER BY id LIMIT 1",
                                 (lo,)).fetchone()[0],
                    conn.execute("SELECT MAX(id) FROM leads").fetchone()[0])
            if tuple(ends) != (lo, hi):
                problems.append(f"lead ids {tuple(ends)} != {(lo, hi)} ({count} leads)")
            ph = conn.execute("SELECT COUNT(*), MAX(lead_id) FROM lead_phones "
                              "WHERE lead_id >= ?", (lo,)).fetchone()
            if ph[0] != self.phones_written or (ph[1] or hi) > hi:
                problems.append(f"{ph[0]} phones of leads {lo}..{ph[1]}, "
                                f"{self.phones_written} written for leads {lo}..{hi}")
        if problems:
            raise RuntimeError("import produced dangling references: " + "; ".join(problems))


def _finish(conn, summary: ImportSummary, stats: dict[str, Any], campaign, now_iso: str) -> None:
    """Fill the summary, record the counts on the import row, reopen a finished campaign."""
    summary.rows = stats.get("rows", 0)
    summary.imported = stats.get("imported", 0)
    summary.rejected = stats.get("rejected", 0)
    summary.rejected_by_reason = dict(Counter(stats.get("rejected_by_reason", {})).most_common())
    summary.duplicates = stats.get("duplicates", 0)
    summary.optout_phones = stats.get("optout_phones", 0)
    summary.optout_leads_skipped = stats.get("optout_leads_skipped", 0)
    summary.dropped_phones = stats.get("dropped_phones", 0)
    summary.dropped_by_reason = dict(Counter(stats.get("dropped_by_reason", {})).most_common())
    summary.dropped_examples = stats.get("dropped_examples", [])
    summary.warnings.extend(stats.get("warnings", []))
    groups = {gid: (z, r) for gid, z, r in conn.execute("SELECT id, zones, region FROM zone_groups")}
    per_zone: Counter[str] = Counter()
    for gid, count in stats.get("per_group", {}).items():
        if not gid:
            per_zone["(not dialable)"] += count
        else:
            per_zone[groups.get(gid, ("",))[0] or "(unknown time zone)"] += count
    summary.leads_per_zone = dict(per_zone.most_common())
    summary.warnings.extend(_window_warnings(campaign, groups, stats.get("per_group", {})))
    if campaign["purpose"] in consent.PURPOSES and campaign["consent_gate"] == "on":
        summary.lacking_consent = consent.lacking(conn, campaign["id"],
                                                        campaign["purpose"], now_iso)
    conn.execute(
        "UPDATE imports SET rows = ?, imported = ?, rejected = ?, duplicates = ?, "
        "optout_marked = ? WHERE id = ?",
        (summary.rows, summary.imported, summary.rejected, summary.duplicates,
         summary.optout_phones, summary.import_id),
    )
    if summary.imported and campaign["status"] == CampaignStatus.COMPLETED:
        conn.execute(
            "UPDATE campaigns SET status = ?, completed_at = NULL, updated_at = ? "
            "WHERE id = ? AND status = ?",
            (str(CampaignStatus.PAUSED), now_iso, campaign["id"], str(CampaignStatus.COMPLETED)),
        )
        summary.campaign_reopened = True


TEMPLATE_HEADER = ("name", "phone1", "phone2", "phone3", "email", "timezone",
                   "consent_at", "consent_type", "consent_source", "state",
                   "amount", "case_number", "due_date", "address")
#: One lead with written consent (a signed web form, its time and zone exact), one
#: with express consent only (a date alone: it counts from the end of that day).
TEMPLATE_EXAMPLES = (
    ("Alex Chen", "+14155550101", "", "", "alex.chen@example.com", "",
     "2026-01-15T10:24:00-08:00", "written", "https://example.com/optin?id=4411", "CA",
     "5000", "CASE-7741", "2026-12-15", "123 Market St, San Francisco"),
    ("Jamie Lee", "(212) 555-0102", "212-555-0152", "", "jamie.lee@example.com",
     "America/New_York", "2026-02-02", "express", "inbound call, recording REC-0192", "NY",
     "12000", "CASE-7742", "2027-01-10", "1 Main St, Apt 4"),
)


def template_csv(*, examples: bool = True) -> str:
    """The starter CSV ("Download template"): good column names, two example rows."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TEMPLATE_HEADER)
    if examples:
        w.writerows(TEMPLATE_EXAMPLES)
    return buf.getvalue()


def _cut_short(source: Path, info: csvfile.FileInfo) -> list[str]:
    """A warning when the file ends in the middle of a row: no line break at the end
    and fewer columns than the header (a copy or download cut short)."""
    import codecs
    import csv

    # Read the end as text: in UTF-16 a line break is two bytes, and '\n' is not last.
    encoding, start = info.encoding, max(0, info.size - 65536)
    try:
        with open(source, "rb") as fh:
            if encoding == "utf-16":
                encoding = "utf-16-be" if fh.read(2) == codecs.BOM_UTF16_BE else "utf-16-le"
                start = max(2, start - start % 2)        # after the mark, on a code unit
            elif encoding.startswith("utf-16"):
                start -= start % 2
            elif encoding == "utf-8-sig" and start:
                encoding = "utf-8"
            fh.seek(start)
            tail = fh.read().decode(encoding, errors="replace")
    except OSError:
        return []
    # Any line break counts: old Mac files end their lines with CR alone.
    lines = tail.replace("\r\n", "\n").replace("\r", "\n")
    if not lines or lines.endswith("\n") or "\n" not in lines:
        return []
    last = lines.rsplit("\n", 1)[-1]
    try:
        fields = next(csv.reader([last], delimiter=info.delimiter), [])
    except csv.Error:
        fields = []
    if len(fields) >= len(info.header):
        return []
    return [f"The file ends in the middle of a row (no line break at the end; its last line "
            f"has {len(fields)} of {len(info.header)} columns): it may have been cut short "
            "while copying or downloading. Check the end of the file; that row was imported "
            "or rejected as it is."]
