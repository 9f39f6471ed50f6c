"""A lead CSV's consent columns: each row's consent read, checked, and its instant fixed.

``consent_at`` (date or date-time), ``consent_type`` (written | express) and
``consent_source`` (free text: form URL, recording id) describe the consent the
person behind a row's phones gave; the importer keeps one ``compliance.consent``
record per phone of each imported row that has one. A record is evidence, so
nothing in it is guessed: a row with any consent value must have a readable
``consent_at`` and ``consent_type``, else it is rejected like any bad value (an
empty type is not read as "express").

A time without a zone is read in the lead's own zone: its ``timezone`` column,
else its phones' zones. When those are several (phones in two zones, an area
code that spans two), the value is read in each and the latest instant kept --
the strict reading, as a date alone counts from the end of that day
(``consent.parse_time``): the record never counts before the person could have
given it wherever they were.

Only rows with consent values cost any Python work, and each distinct value is
parsed once (a file's consent dates repeat): files without these columns pay nothing.
"""

from __future__ import annotations

from typing import Any

from dialcli.compliance import consent
from dialcli.errors import InputError
from dialcli.leads.csvfile import CONSENT_AT, CONSENT_SOURCE, CONSENT_TYPE, Memo, canonical_zone

#: One row's consent as the importer records it: (kind, consented_at ISO UTC, source).
Consent = tuple[str, str, str]


class ConsentColumns:
    """Reads the consent columns of a chunk; ``check`` gives values and rejects by row."""

    def __init__(self, columns: dict[str, int], timezone: int | None):
        self.at = columns[CONSENT_AT]
        self.type = columns[CONSENT_TYPE]
        self.source = columns.get(CONSENT_SOURCE)
        self.timezone = timezone
        self._zone = Memo()
        self._zone.resolve = canonical_zone
        self._times: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._kinds: dict[str, str | None] = {}

    def check(self, cols: list[list[str]], bad: set[int], parsed: list[tuple],
              infos: list[Any]) -> tuple[dict[int, Consent], dict[int, tuple[str, str]]]:
        """Rows (not already ``bad``) with consent values: ``(values, errors)`` by row
        index; ``errors`` holds (category, reason) for the rejects file.

        ``parsed`` is the preparer's phone columns (slot, column, e164s, info ids,
        errors) in slot order; ``infos`` the phone parser's infos by id."""
        at_col, type_col = cols[self.at], cols[self.type]
        src_col = cols[self.source] if self.source is not None else None
        values: dict[int, Consent] = {}
        errors: dict[int, tuple[str, str]] = {}
        rows = {i for i, v in enumerate(at_col) if v and not v.isspace()}
        rows.update(i for i, v in enumerate(type_col) if v and not v.isspace())
        if src_col is not None:
            rows.update(i for i, v in enumerate(src_col) if v and not v.isspace())
        for i in sorted(rows - bad):
            at, kind_text = at_col[i].strip(), type_col[i].strip()
            source = src_col[i].strip() if src_col is not None else ""
            if not at or not kind_text:
                errors[i] = _missing(at, kind_text)
                continue
            kind = self._kind(kind_text)
            if kind is None:
                errors[i] = ("bad consent_type",
                             f"consent_type {kind_text!r}: not 'written' or 'express'")
                continue
            when = self._time(at, self._zones(cols, parsed, infos, i))
            if when is None:
                errors[i] = ("bad consent_at", f"consent_at {at!r}: not a date or date-time "
                             "(e.g. 2026-03-01 or 2026-03-01T14:30:00-05:00)")
                continue
            values[i] = (kind, when, source)
        return values, errors

    def _kind(self, text: str) -> str | None:
        if text not in self._kinds:
            try:
                self._kinds[text] = consent.parse_kind(text)
            except InputError:
                self._kinds[text] = None
        return self._kinds[text]

    def _zones(self, cols, parsed, infos, i: int) -> tuple[str, ...]:
        """The lead's zone(s): its timezone column if valid, else its phones' zones."""
        if self.timezone is not None:
            zone = self._zone[cols[self.timezone][i]]
            if zone:
                return (zone,)
        zones = {z for _slot, _j, _e, info, _err in parsed if info[i] >= 0
                 for z in infos[info[i]].zones}
        return tuple(sorted(zones))

    def _time(self, text: str, zones: tuple[str, ...]) -> str | None:
        """``text`` as UTC ISO, the latest reading over ``zones``; None if unreadable."""
        key = (text, zones)
        if key not in self._times:
            try:
                # ISO UTC text of one width: the latest instant is the largest string.
                self._times[key] = max(consent.parse_time(text, z) for z in zones or (None,))
            except InputError:
                self._times[key] = None
        return self._times[key]


def _missing(at: str, kind: str) -> tuple[str, str]:
    """Why a row's consent is incomplete: (category, reason)."""
    if at:
        return ("consent_at without consent_type",
                "consent_at given but consent_type is empty: say 'written' or 'express' "
                "(it is not guessed)")
    if kind:
        return ("consent_type without consent_at",
                "consent_type given but consent_at is empty: a consent needs its date")
    return ("consent_source without consent_at",
            "consent_source given without consent_at and consent_type")
