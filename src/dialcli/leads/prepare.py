"""Preparing lead rows for insert: validation, phones, zone groups, duplicates, opt-outs.

``Preparer`` holds everything an import needs to decide about a row without the
database (so it can run in a worker process): the header plan, a
``PhoneParser``, the zone groups known so far, the phone1 keys already in the
campaign and on the opt-out list (``SeenKeys``: sorted int64 arrays, 16 bytes a
number), and the next lead and group ids (the importer holds the write lock, so
nobody else allocates them meanwhile). Each chunk becomes a ``Payload``: the
rows as columns in insert order plus any new zone groups; the last payload
carries the statistics. Rejected rows are written to the rejects file here, among them rows whose consent
columns cannot be read (``consent_columns``).

The work is done a column at a time with comprehensions and ``zip`` rather than
a loop per row: at a million rows every per-row Python statement costs about
0.1 s, so the shape of this code is the import's speed.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from dialcli.leads.header import HeaderPlan
from dialcli.leads.csvfile import (Memo, canonical_zone, merge_region, read_columns,
                                  state_code)
from dialcli.leads.cells import clean_cells, neutralise, same_number_once
from dialcli.leads.consent_columns import ConsentColumns
from dialcli.leads.keys import Runs, SeenKeys, to_keys
from dialcli.phones import PHONE_SLOTS, PhoneParser, group_zones

OPTOUT_REASON = "on the opt-out list"
_encode = json.encoder.encode_basestring  # type: ignore[attr-defined]
_EXAMPLES = 5
_ENC_CACHE_MAX = 50_000


@dataclass
class PrepareSpec:
    """Everything a preparer needs (picklable: it is sent to the worker process)."""

    path: str
    encoding: str
    delimiter: str
    header: HeaderPlan
    default_region: str
    check_duplicates: bool
    existing: SeenKeys | None
    dnc: SeenKeys
    groups: dict[tuple[str, str], int]
    next_group: int
    next_lead: int
    campaign: str
    rejects_path: str
    chunk_rows: int = 10_000
    reader: str = "pandas"          # or "csv" (exact fallback; see csvfile)


@dataclass
class LeadColumns:
    """``leads`` rows as columns; '' / 0 stand for NULL (the insert uses NULLIF).

    ``status``/``skip_reason`` None means every lead is PENDING with no reason.
    """

    first_id: int
    lines: list[int]
    names: list[str]
    emails: list[str]
    phone1: list[str]
    vars: list[str]
    timezones: list[str] | None
    status: list[str] | None
    phone_slot: list[int]
    cur_group: list[int]
    skip_reason: list[str] | None

    def __len__(self) -> int:
        return len(self.lines)

    def rows(self) -> Iterator[tuple]:
        """Rows for ``_Writer``: the optional columns only when this chunk has them."""
        n = len(self.lines)
        cols: list[Iterable] = [range(self.first_id, self.first_id + n), self.lines,
                                self.names, self.emails, self.phone1, self.vars,
                                self.phone_slot, self.cur_group]
        if self.timezones is not None:
            cols.append(self.timezones)
        if self.status is not None:
            cols += [self.status, self.skip_reason or repeat("")]
        return zip(*cols)


@dataclass
class PhoneColumns:
    """``lead_phones`` rows as columns; dead_reason '' stands for NULL (live).

    Each phone's zones and region are named by its info id (``info``) and spelled
    out by the small ``zones_of``/``region_of`` tables only as rows are inserted.
    """

    lead_id: list[int]
    slot: list[int]
    e164: list[str]
    info: list[int]
    group_id: list[int]
    dead_reason: list[str]
    zones_of: list[str]
    region_of: list[str]

    def __len__(self) -> int:
        return len(self.lead_id)

    def rows(self) -> Iterator[tuple]:
        return zip(self.lead_id, self.slot, self.e164, map(self.zones_of.__getitem__, self.info),
                   map(self.region_of.__getitem__, self.info), self.group_id, self.dead_reason)


@dataclass
class Payload:
    """Rows for one chunk, in insert order; or (``final``) the statistics."""

    groups: list[tuple[int, str, str]] = field(default_factory=list)
    leads: LeadColumns | None = None
    phones: PhoneColumns | None = None
    bytes_read: int = 0
    final: dict[str, Any] | None = None
    #: (lead id, kind, consented_at, source) of each lead with a consent, when the
    #: file has consent columns: one record per phone of the lead.
    consents: list[tuple[int, str, str, str]] | None = None


class Preparer:
    """Turns chunks of CSV records into insertable rows (see module docstring)."""

    def __init__(self, spec: PrepareSpec):
        self.spec = spec
        self.h = spec.header
        self.parser = PhoneParser(spec.default_region)
        self.groups = dict(spec.groups)
        self.next_group = spec.next_group
        self.next_lead = spec.next_lead
        self.seen = Runs()
        self._group_of: dict[Any, int] = {}
        self._zoneless: set[int] = set()
        self._tz_cache, self._state_cache = Memo(), Memo()
        self._rejects_file = None
        self._rejects: Any = None
        self.stats: Counter[str] = Counter()
        self.rejected_by_reason: Counter[str] = Counter()
        self.dropped_by_reason: Counter[str] = Counter()
        self.dropped_examples: list[dict[str, Any]] = []
        self.per_group: Counter[int | None] = Counter()
        self.repeated_headers: list[int] = []
        self._enc_caches = [_Encoded() for _ in self.h.variables]
        self.consent = (ConsentColumns(self.h.consent, self.h.timezone)
                        if self.h.consent else None)

    # -- driving ---------------------------------------------------------------------
    def run(self) -> Iterator[Payload]:
        s = self.spec
        for cols, starts, pos in read_columns(Path(s.path), s.encoding, s.delimiter,
                                              self.h.width, s.chunk_rows, s.reader,
                                              after=self.h.line):
            yield self.prepare(cols, starts, pos)
        yield Payload(final=self.final_stats())

    def close(self) -> None:
        if self._rejects_file is not None:
            self._rejects_file.close()
            self._rejects_file = None

    def final_stats(self) -> dict[str, Any]:
        self.close()
        st = self.stats
        warnings = []
        if st["bad_timezone"]:
            warnings.append(
                f"{st['bad_timezone']} timezone value(s) are not IANA zone names (e.g. "
                "America/New_York); those leads use their phone's zones instead.")
        if st["bad_state"]:
            warnings.append(f"{st['bad_state']} state value(s) are not a US state; they are "
                            "kept as variables but not used for state calling rules.")
        if st["bad_email"]:
            warnings.append(f"{st['bad_email']} email value(s) have no '@'; kept as given.")
        if st["ignored_values"]:
            warnings.append(f"{st['ignored_values']} row(s) have values in columns without a "
                            "header; those values were not imported.")
        if st["excel_errors"]:
            warnings.append(f"{st['excel_errors']} value(s) are Excel errors (#N/A, #REF!, "
                            "...); they were imported as empty.")
        if self.repeated_headers:
            lines = ", ".join(map(str, self.repeated_headers[:5]))
            more = len(self.repeated_headers) - 5
            warnings.append(
                f"{len(self.repeated_headers)} line(s) repeat the header (files pasted "
                f"together?) and were skipped: line {lines}" + (f" and {more} more" if more > 0
                                                                else "") + ".")
        if st["no_zone"]:
            warnings.append(
                f"{st['no_zone']} lead(s) have no known time zone (e.g. toll-free or "
                "non-geographic numbers) and will not be dialed; add a timezone column.")
        return {
            "rows": st["rows"], "imported": st["imported"], "rejected": st["rejected"],
            "duplicates": st["duplicates"], "optout_phones": st["optout_phones"],
            "optout_leads_skipped": st["optout_leads_skipped"],
            "dropped_phones": st["dropped_phones"],
            "rejected_by_reason": dict(self.rejected_by_reason),
            "dropped_by_reason": dict(self.dropped_by_reason),
            "dropped_examples": self.dropped_examples, "per_group": dict(self.per_group),
            "warnings": warnings, "rejects_written": st["rejects_written"],
        }

    # -- rejects ---------------------------------------------------------------------
    def _reject(self, line: int, row: list[str], category: str, reason: str,
                duplicate: bool = False) -> None:
        if self._rejects is None:
            # utf-8-sig: Excel, where people fix rejects, needs the BOM to read UTF-8.
            self._rejects_file = open(self.spec.rejects_path, "w", newline="",
                                      encoding="utf-8-sig")
            self._rejects = csv.writer(self._rejects_file)
            self._rejects.writerow(["line", "reason", *map(neutralise, self.h.raw)])
        # The rejects file is opened in a spreadsheet to be fixed: a value that
        # would run there as a formula is written so that it shows as text.
        self._rejects.writerow([line, reason, *map(neutralise, row)])
        self.stats["rejects_written"] += 1
        if duplicate:
            self.stats["duplicates"] += 1
        else:
            self.stats["rejected"] += 1
            self.rejected_by_reason[category] += 1

    # -- one chunk -------------------------------------------------------------------
    def prepare(self, cols: list[list[str]], starts: list[int], pos: int) -> Payload:
        """One chunk, column-major: ``cols[j]`` is column j (at least ``width`` of them)."""
        h = self.h
        n = len(starts)
        self.stats["rows"] += n
        self.stats["excel_errors"] += clean_cells(cols)
        row = lambda i: _row(cols, i, h.width)  # noqa: E731 - only for rejects
        if h.ignored:
            self._ignored_values(cols)
        bad = self._extras(cols, starts, row) | self._repeated_headers(cols, starts)
        parsed = []
        for slot, j in h.phones:
            e164s, info, errors = self.parser.parse_column(cols[j])
            parsed.append((slot, j, e164s, info, errors))
        same_number_once(parsed)
        first = list(parsed[0][2])
        for _slot, _j, e164s, _info, _errors in parsed[1:]:
            first = [a if a is not None else b for a, b in zip(first, e164s)]
        for i, e in enumerate(first):
            if e is None and i not in bad:
                bad.add(i)
                self._no_phone(row(i), starts[i], parsed, i)
        consents = None
        if self.consent is not None:
            consents, errors = self.consent.check(cols, bad, parsed, self.parser.infos)
            for i, (category, reason) in errors.items():
                self._reject(starts[i], row(i), category, reason)
                bad.add(i)
        for i in bad:
            first[i] = None
        if self.spec.check_duplicates:
            bad |= self._duplicates(row, starts, first)
        self._count_dropped(parsed, starts, cols, bad)
        col = cols.__getitem__
        keep: Any = range(n)
        if bad:
            keep = [i for i in range(n) if i not in bad]
            if not keep:
                return Payload(bytes_read=pos)
            get = itemgetter(*keep)
            pick = (lambda seq: list(get(seq))) if len(keep) > 1 else (lambda seq: [get(seq)])
            starts, first = pick(starts), pick(first)
            parsed = [(s, j, pick(e), pick(k), {}) for s, j, e, k, _ in parsed]
            col = lambda j: pick(cols[j])  # noqa: E731
        payload = self._build(starts, first, parsed, pos, col)
        if consents:
            lead0 = payload.leads.first_id
            payload.consents = [(lead0 + k, *consents[i]) for k, i in enumerate(keep)
                                if i in consents]
        return payload

    def _extras(self, cols, starts, row) -> set[int]:
        """Reject rows with values beyond the header's columns (an unquoted comma)."""
        width = self.h.width
        flagged: set[int] = set()
        for c in cols[width:]:
            if any(c):
                flagged.update(i for i, v in enumerate(c) if v.strip())
        for i in sorted(flagged):
            values = row(i)
            self._reject(starts[i], values, "more values than header columns",
                         f"has {len(values)} values but the header has {width} columns "
                         "(a comma inside a value that is not in quotes?)")
        return flagged

    def _repeated_headers(self, cols, starts) -> set[int]:
        """Rows that repeat the header (files pasted together, each with its header):
        skipped, not leads and not rejects; a warning says where."""
        h = self.h
        j = h.phones[0][1]
        want = h.raw[j].casefold()
        if not want or want not in "\n".join(cols[j]).casefold():   # the usual chunk
            return set()
        hits = [i for i, v in enumerate(cols[j]) if v.strip().casefold() == want]
        same = {i for i in hits
                if all(cols[k][i].strip().casefold() == c.casefold() for k, c in enumerate(h.raw))}
        if same:
            self.stats["rows"] -= len(same)
            self.repeated_headers.extend(starts[i] for i in sorted(same))
        return same

    def _ignored_values(self, cols) -> None:
        filled: set[int] = set()
        for j in self.h.ignored:
            if any(cols[j]):
                filled.update(i for i, v in enumerate(cols[j]) if v.strip())
        self.stats["ignored_values"] += len(filled)

    def _no_phone(self, row, line, parsed, i) -> None:
        for slot, j, _e, _k, errors in parsed:
            if i in errors:
                reason = errors[i]
                self._reject(line, row, "no valid phone: " + _category(reason),
                             f"no valid phone: phone{slot} {row[j].strip()!r}: {reason}")
                return
        if not any(c.strip() for c in row):  # a line of only separators: a blank line
            self.stats["rows"] -= 1
            return
        self._reject(line, row, "no phone number",
                     f"no phone number in phone1..phone{PHONE_SLOTS}")

    def _duplicates(self, row, starts, first) -> set[int]:
        idx = [i for i, e in enumerate(first) if e is not None]
        if not idx:
            return set()
        keys = to_keys([first[i] for i in idx])
        lines = np.array([starts[i] for i in idx], dtype=np.int64)
        in_campaign = self.spec.existing.lookup(keys) if self.spec.existing else None
        earlier = self.seen.lookup(keys)
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        repeat_ = np.zeros(len(keys), dtype=bool)
        repeat_[1:] = sk[1:] == sk[:-1]
        first_pos = np.maximum.accumulate(np.where(repeat_, 0, np.arange(len(keys))))
        same_chunk = np.full(len(keys), -1, dtype=np.int64)
        same_chunk[order[repeat_]] = lines[order[first_pos[repeat_]]]
        dups: set[int] = set()
        fresh = np.ones(len(keys), dtype=bool)
        for k in np.flatnonzero((earlier >= 0) | (same_chunk >= 0)
                                | ((in_campaign >= 0) if in_campaign is not None else False)):
            i = idx[int(k)]
            if in_campaign is not None and in_campaign[k] >= 0:
                reason = (f"duplicate: {first[i]} is already in campaign "
                          f"{self.spec.campaign!r} (lead {int(in_campaign[k])})")
            else:
                line = int(earlier[k]) if earlier[k] >= 0 else int(same_chunk[k])
                reason = f"duplicate: {first[i]} is also on line {line}"
            self._reject(starts[i], row(i), "duplicate", reason, duplicate=True)
            dups.add(i)
            fresh[k] = False
        self.seen.add(keys[fresh], lines[fresh])
        return dups

    def _count_dropped(self, parsed, starts, cols, bad) -> None:
        for slot, j, _e, _k, errors in parsed:
            for i, reason in errors.items():
                if i in bad:
                    continue
                cat = _category(reason)
                self.stats["dropped_phones"] += 1
                self.dropped_by_reason[cat] += 1
                if len(self.dropped_examples) < _EXAMPLES:
                    self.dropped_examples.append({"line": starts[i], "column": f"phone{slot}",
                                                  "value": cols[j][i].strip(), "reason": reason})

    # -- rows ------------------------------------------------------------------------
    def _build(self, starts, first, parsed, pos, col) -> Payload:
        h = self.h
        n = len(starts)
        lead0 = self.next_lead
        self.next_lead += n
        ids = list(range(lead0, lead0 + n))
        tzs = self._timezones(col(h.timezone)) if h.timezone is not None else None
        states = self._states(col(h.state)) if h.state is not None else None
        new_groups: list[tuple[int, str, str]] = []
        dnc = self.spec.dnc if len(self.spec.dnc) else None
        gof = self._group_of
        group = self._group
        per_slot = []
        for slot, _j, e164s, info, _errors in parsed:
            if tzs is None and states is None:
                # Keyed by info id alone: group each new id once, then map the
                # column through a list (info id -1, no phone, is its last entry).
                for k in set(info).difference(gof):
                    if k >= 0:
                        group(k, None, None, new_groups)
                by_info = [gof.get(k, 0) for k in range(len(self.parser.infos))] + [0]
                gids = list(map(by_info.__getitem__, info))
            else:
                gids = [(gof.get((k, tz, st)) or group(k, tz, st, new_groups)) if k >= 0 else 0
                        for k, tz, st in zip(info, tzs or repeat(None), states or repeat(None))]
            dead = None
            if dnc is not None:
                live_idx = [i for i, e in enumerate(e164s) if e is not None]
                hits = dnc.lookup(to_keys([e164s[i] for i in live_idx]))
                marked = np.flatnonzero(hits >= 0)
                if len(marked):
                    dead = [""] * n
                    for k in marked:
                        dead[live_idx[int(k)]] = OPTOUT_REASON
                    self.stats["optout_phones"] += len(marked)
            per_slot.append((slot, e164s, info, gids, dead))
        # The first live phone is where dialing starts (phone_slot / cur_group).
        pslot = [0] * n
        cgroup = [0] * n
        for slot, e164s, _info, gids, dead in per_slot:
            if dead is None:   # gids is 0 wherever there is no phone
                live = e164s
                cgroup = [c or g for c, g in zip(cgroup, gids)]
            else:
                live = [e if not d else None for e, d in zip(e164s, dead)]
                cgroup = [c or (g if e is not None else 0) for c, e, g in zip(cgroup, live, gids)]
            pslot = [p or (slot if e is not None else 0) for p, e in zip(pslot, live)]
        status = skip = None
        if dnc is not None:
            skipped = [not p for p in pslot]
            count = sum(skipped)
            if count:
                self.stats["optout_leads_skipped"] += count
                status = ["SKIPPED" if x else "PENDING" for x in skipped]
                skip = ["every phone is on the opt-out list" if x else "" for x in skipped]
        self.per_group.update(cgroup)
        if self._zoneless:
            self.stats["no_zone"] += sum(1 for g in cgroup if g in self._zoneless)
        emails = self._emails(col(h.email)) if h.email is not None else [""] * n
        leads = LeadColumns(
            first_id=lead0, lines=starts, names=self._names(col),
            emails=emails, phone1=first, vars=self._vars(col, n),
            timezones=[t or "" for t in tzs] if tzs is not None else None,
            status=status, phone_slot=pslot, cur_group=cgroup, skip_reason=skip,
        )
        self.stats["imported"] += n
        return Payload(groups=new_groups, leads=leads, phones=self._phones(ids, per_slot),
                       bytes_read=pos)

    def _phones(self, ids, per_slot) -> PhoneColumns:
        """lead_phones columns in (lead, slot) order, so the WITHOUT ROWID table appends."""
        infos = self.parser.infos
        cols: list[list] = [[], [], [], [], [], []]
        for slot, e164s, info, gids, dead in per_slot:
            sel = [i for i, e in enumerate(e164s) if e is not None]
            if not sel:
                continue
            get = itemgetter(*sel) if len(sel) > 1 else (lambda seq, i=sel[0]: (seq[i],))
            cols[0].extend(get(ids))
            cols[1].extend(repeat(slot, len(sel)))
            cols[2].extend(get(e164s))
            cols[3].extend(get(info))
            cols[4].extend(get(gids))
            cols[5].extend(get(dead) if dead is not None else repeat("", len(sel)))
        if len(per_slot) > 1 and cols[0]:
            order = np.lexsort((np.array(cols[1]), np.array(cols[0])))
            get = itemgetter(*order.tolist()) if len(order) > 1 else (lambda seq: (seq[0],))
            cols = [list(get(c)) for c in cols]
        return PhoneColumns(*cols, zones_of=[",".join(x.zones) for x in infos],
                            region_of=[x.region for x in infos])

    def _group(self, info_id: int, tz: str | None, state: str | None, new) -> int:
        # Keyed by the info id alone when the file has neither column (the hot case).
        h = self.h
        key = info_id if h.timezone is None and h.state is None else (info_id, tz, state)
        gid = self._group_of.get(key)
        if gid is None:
            info = self.parser.infos[info_id]
            zones = ",".join(group_zones(info.zones, info.region, tz, state))
            region = merge_region(info.region, state)
            gid = self.groups.get((zones, region))
            if gid is None:
                gid = self.groups[(zones, region)] = self.next_group
                self.next_group += 1
                new.append((gid, zones, region))
            if not zones:
                self._zoneless.add(gid)
            self._group_of[key] = gid
        return gid

    def _timezones(self, values: list[str]) -> list[str | None]:
        return self._lookup(values, self._tz_cache, canonical_zone, "bad_timezone")

    def _states(self, values: list[str]) -> list[str | None]:
        return self._lookup(values, self._state_cache, state_code, "bad_state")

    def _lookup(self, values, cache: "Memo", resolve, stat: str) -> list[str | None]:
        """Map values through a memo (C-speed on hits); count non-blank values that fail."""
        cache.resolve = resolve
        out = list(map(cache.__getitem__, values))
        if cache.bad:
            self.stats[stat] += sum(map(cache.bad.__contains__, values))
        return out

    def _names(self, col) -> list[str]:
        """Each lead's name on one line: runs of spaces, tabs, line breaks and
        non-breaking spaces are one space (a name is said, and shown in tables);
        first and last name are joined when the file has no name column."""
        parts = [col(j) for j in (self.h.name_parts or [self.h.name])]
        values = parts[0] if len(parts) == 1 else [" ".join(p) for p in zip(*parts)]
        if _plain(values):
            return values
        return [" ".join(v.split()) for v in values]

    def _emails(self, values: list[str]) -> list[str]:
        out = list(map(str.strip, values))
        self.stats["bad_email"] += sum(1 for v in out if v and "@" not in v)
        return out

    def _vars(self, col, n: int) -> list[str]:
        """The vars JSON of each row: one %-format per row over per-column strings.

        A column whose values in this chunk need neither JSON escaping nor
        stripping (``_plain``, one pass over the joined column) is used as is,
        quoted by the format; other columns are encoded value by value, through a
        bounded cache when they have few distinct values (state, city, dates).
        """
        if not self.h.variables:
            return ["{}"] * n
        columns, parts = [], []
        for cache, (token, j) in zip(self._enc_caches, self.h.variables):
            values = col(j)
            if _plain(values):
                columns.append(values)
                parts.append(f'{_encode(token)}:"%s"')
                continue
            if len(cache) > _ENC_CACHE_MAX:
                cache.clear()
            if len(set(values)) * 2 < len(values):
                columns.append(list(map(cache.__getitem__, values)))
            else:
                columns.append(list(map(_encode, map(str.strip, values))))
            parts.append(f"{_encode(token)}:%s")
        # Tokens are [A-Z0-9_] only, so they are safe inside a %-format.
        fmt = "{" + ",".join(parts) + "}"
        return [fmt % t for t in zip(*columns)]


def _plain(values: list[str]) -> bool:
    """True when no value needs JSON escaping or stripping (so it can be quoted as is).

    Conservative and C-speed: ``isprintable`` is False for every control character
    and every whitespace but the ASCII space, so only spaces next to the joining
    '|' (or at either end) remain to check; a '|' inside a value can only make
    this say False, which just takes the exact path.
    """
    text = "|".join(values)
    return (text.isprintable() and '"' not in text and "\\" not in text
            and "| " not in text and " |" not in text
            and text[:1] != " " and text[-1:] != " ")


class _Encoded(dict):
    """value -> its JSON string encoding (stripped), computed on first use."""

    def __missing__(self, value: str) -> str:
        out = self[value] = _encode(value.strip())
        return out


def _row(cols: list[list[str]], i: int, width: int) -> list[str]:
    """Row i as the file had it (for the rejects file): empty extra columns dropped."""
    values = [c[i] for c in cols]
    while len(values) > width and not values[-1]:
        values.pop()
    return values


def _category(reason: str) -> str:
    """A reason without the value it quotes, for counting: 'looks like Excel ... notation'."""
    return reason.split(" (", 1)[0].split(":", 1)[0].strip()

