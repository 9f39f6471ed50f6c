"""Calling-hour policy: when may a number be dialed?

The permitted window for a phone is the intersection, in **every** candidate time
zone of the number, of the campaign's daily window and the federal TCPA limit
(08:00-21:00 recipient-local, 47 CFR 64.1200(c)(1)). A number with no known zone is
never dialable (``window_for`` returns a window that never opens) unless the lead
carries an explicit ``timezone``.

The engine asks ``GroupWindow.next_open(at)`` at the moment of each dial: it returns
``(opens_at, closes_at)`` -- ``opens_at == at`` when the window is open now -- or
``None`` when the group can never be dialed. Windows are computed per zone group
(zones + region), not per lead, and cached.

Local wall-clock times are converted with ``zoneinfo`` on each local date, so DST
switch days, Arizona (no DST) and half-hour zones come out right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialcli.errors import InputError

UTC = timezone.utc
FEDERAL_START = time(8, 0)
FEDERAL_END = time(21, 0)
LOOKAHEAD_DAYS = 14

#: A rule gives, for one zone and one local date, the local intervals allowed
#: (empty list = the whole day is banned).
Rule = Callable[[str, date], list[tuple[time, time]]]


def parse_hhmm(text: str) -> time:
    try:
        hh, mm = text.strip().split(":")
        value = time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise InputError(f"{text!r} is not a time of day; use HH:MM, e.g. 09:00.") from None
    return value


def parse_window(text: str) -> tuple[str, str]:
    """'09:00-20:00' -> ('09:00', '20:00'), validated against the federal limit."""
    parts = [p.strip() for p in str(text).replace("–", "-").split("-")]
    if len(parts) != 2:
        raise InputError(
            f"Calling window {text!r} is not START-END.",
            hint="Use 24-hour local times, e.g. --window 09:00-20:00.",
        )
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start >= end:
        raise InputError(
            f"Calling window {text!r} starts at or after it ends.",
            hint="The start must be earlier than the end, e.g. 09:00-20:00.",
        )
    if start < FEDERAL_START or end > FEDERAL_END:
        raise InputError(
            f"Calling window {text!r} is outside 08:00-21:00, the federal TCPA limit "
            "(recipient's local time).",
            hint="Choose a window inside 08:00-21:00, e.g. 09:00-20:00.",
        )
    return (f"{start:%H:%M}", f"{end:%H:%M}")


@lru_cache(maxsize=512)
def zone_info(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_valid_zone(name: str) -> bool:
    return bool(name) and zone_info(name) is not None


def daily_rule(start: time, end: time) -> Rule:
    def rule(zone: str, day: date) -> list[tuple[time, time]]:
        return [(start, end)]
    return rule


def _local_to_utc(zone: ZoneInfo, day: date, t: time) -> datetime:
    # fold=0: in a repeated hour take the first occurrence; windows never start in
    # the spring-forward gap (which is at 02:00-03:00, before 08:00).
    return datetime.combine(day, t, tzinfo=zone).astimezone(UTC)


def _intersect(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]):
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _merge(intervals: Iterable[tuple[datetime, datetime]]):
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


@dataclass
class GroupWindow:
    """The permitted instants for one zone group, as UTC intervals, computed lazily."""

    zones: tuple[str, ...]
    region: str
    rules: tuple[Rule, ...]
    reason_closed: str | None = None          # set when the group can never be dialed
    _cache_from: datetime | None = field(default=None, repr=False)
    _intervals: list[tuple[datetime, datetime]] = field(default_factory=list, repr=False)

    def intervals(self, start: datetime, days: int = LOOKAHEAD_DAYS):
        """Permitted UTC intervals from ``start`` for ``days`` days."""
        if self.reason_closed:
            return []
        per_zone = []
        for name in self.zones:
            zone = zone_info(name)
            assert zone is not None
            local_day = start.astimezone(zone).date() - timedelta(days=1)
            spans = []
            for k in range(days + 2):
                day = local_day + timedelta(days=k)
                allowed = None
                for rule in self.rules:
                    got = [(_local_to_utc(zone, day, s), _local_to_utc(zone, day, e))
                           for s, e in rule(name, day) if s < e]
                    allowed = got if allowed is None else _intersect(_merge(allowed), _merge(got))
                spans.extend(allowed or [])
            per_zone.append(_merge(spans))
        result = per_zone[0]
        for other in per_zone[1:]:
            result = _intersect(result, other)
        return [(lo, hi) for lo, hi in result if hi > start]

    def next_open(self, at: datetime) -> tuple[datetime, datetime] | None:
        """(opens_at, closes_at) of the first permitted instant >= ``at``; None = never."""
        if self.reason_closed:
            return None
        if self._cache_from is None or at < self._cache_from or not self._intervals \
                or at >= self._intervals[-1][0]:
            self._cache_from = at
            self._intervals = self.intervals(at)
        for lo, hi in self._intervals:
            if hi > at:
                return (max(lo, at), hi)
        # Nothing in the lookahead (e.g. a long blackout): look further once.
        far = self.intervals(at, days=LOOKAHEAD_DAYS * 8)
        for lo, hi in far:
            if hi > at:
                return (max(lo, at), hi)
        return None

    def is_open(self, at: datetime) -> bool:
        got = self.next_open(at)
        return got is not None and got[0] == at


class CallingPolicy:
    """The rules for one campaign; hands out cached ``GroupWindow`` objects."""

    def __init__(self, window: tuple[str, str] = ("09:00", "20:00")):
        start, end = parse_hhmm(window[0]), parse_hhmm(window[1])
        # The federal limit always applies, whatever the campaign says.
        self.start = max(start, FEDERAL_START)
        self.end = min(end, FEDERAL_END)
        self.rules: tuple[Rule, ...] = (daily_rule(self.start, self.end),)
        self._groups: dict[tuple[tuple[str, ...], str], GroupWindow] = {}

    def window_for(self, zones: tuple[str, ...], region: str = "") -> GroupWindow:
        key = (tuple(zones), region or "")
        group = self._groups.get(key)
        if group is None:
            reason = None
            if not zones:
                reason = "unknown time zone (add a 'timezone' column to the lead)"
            elif any(zone_info(z) is None for z in zones):
                reason = f"unknown time zone name in {','.join(zones)}"
            group = GroupWindow(key[0], key[1], self.rules, reason_closed=reason)
            self._groups[key] = group
        return group

    def describe(self) -> dict:
        return {"window": f"{self.start:%H:%M}-{self.end:%H:%M}", "federal": "08:00-21:00"}


# -- per-dial checks the engine makes inside its claim transaction ---------------------

RULES_VERSION = "federal-2026.1"
DEFAULT_CAP = 3            # dial attempts per number per rolling 24 h, across campaigns
CAP_WINDOW = timedelta(hours=24)


def policy_for_campaign(conn, campaign) -> CallingPolicy:
    """The policy the engine uses for ``campaign`` (a ``models.Campaign``)."""
    return CallingPolicy(campaign.window)


def check_cap(conn, e164: str, at: datetime, *, limit: int = DEFAULT_CAP) -> tuple[int, datetime | None]:
    """(dials to ``e164`` in the last 24 h, earliest instant another dial is allowed).

    The second item is None when a dial is allowed now.
    """
    from dialcli.clock import from_iso, to_iso

    since = to_iso(at - CAP_WINDOW)
    rows = conn.execute(
        "SELECT claimed_at FROM calls WHERE e164 = ? AND claimed_at > ? "
        "AND status != 'canceled' ORDER BY claimed_at",
        (e164, since),
    ).fetchall()
    count = len(rows)
    if count < limit:
        return count, None
    oldest = from_iso(rows[count - limit][0])
    assert oldest is not None
    return count, oldest + CAP_WINDOW


def record_decision(conn, *, ts: str, campaign_id: int | None, lead_id: int | None,
                    call_id: int | None, e164: str | None, decision: str,
                    reason: str | None = None, detail: dict | None = None) -> None:
    """Append one row to the audit log (in the caller's transaction)."""
    import json

    conn.execute(
        "INSERT INTO audit (ts, campaign_id, lead_id, call_id, e164, decision, reason, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ts, campaign_id, lead_id, call_id, e164, decision, reason,
         json.dumps(detail or {}, separators=(",", ":"), default=str)),
    )
