"""Calling-hour policy: when may a number be dialed, and the evidence of each decision.

The permitted instants for a phone are the intersection, in **every** candidate time
zone of the number, of the rules in ``compliance.rules``:

* the campaign's daily window and the federal TCPA limit (08:00-21:00
  recipient-local, 47 CFR 64.1200(c)(1));
* every applicable state's rows in the shipped, versioned ``data/state_rules.toml``
  (windows, Saturday/Sunday rules, legal-holiday bans by state, fixed-offset hours);
* the user's blackout dates (proclaimed holidays, declared emergencies).

A state applies when the zone group's region names it: the number's own state
(area code/exchange via phonenumbers' geocoder) and any state the lead's ``state``
column adds ('US-FL,US-GA'). A number with no known zone is never dialable.

``GroupWindow`` turns the rules into UTC intervals per local date with ``zoneinfo``
-- so DST switch days, Arizona and half-hour zones come out right -- and caches
them per zone group: the engine asks ``next_open(at)`` on every dial decision.

Per-number frequency cap: ``DEFAULT_CAP`` dial attempts per rolling 24 h per number
across every campaign of the workspace. A workspace setting may make it stricter or
looser, but never looser than a state's cap (FL, OK, MD: 3) for that state's numbers.

``decision_detail`` builds the one dict shape the engine, ``plan`` and ``audit`` share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

from dialcli.compliance.adad import ADAD_VERSION, hour_rows, number_regions
from dialcli.compliance.rules import (
    CANADA_ROWS, DAY_END, FEDERAL_END, FEDERAL_START, US_STATES, Blackout, BlackoutRule,
    DailyWindow, Interval, Rule, StateRow, StateRule, format_span, is_canadian,
    load_blackout, parse_hhmm, shipped_state_rules, states_of, zone_info,
)
from dialcli.clock import from_iso, to_iso
from dialcli.errors import InputError
from dialcli.phones import zone_overrides
from dialcli.store.settings import Setting, parse_int_range, register

UTC = timezone.utc
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LOOKAHEAD_DAYS = 14
#: Days of permitted spans a ``CallingPolicy`` keeps (zone x rules x day), then starts over.
DAY_MEMO_LIMIT = 50_000
STATE_RULES_VERSION = shipped_state_rules()[0]
#: Written into every audit row: which federal + state rule set decided -- the calling
#: rules, the artificial-voice rules and the zone corrections, each by its version.
RULES_VERSION = (f"federal+states-{STATE_RULES_VERSION}+adad-{ADAD_VERSION}"
                 f"+zones-{zone_overrides()[0]}")


# -- windows -----------------------------------------------------------------------

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
    # The local times at the last instant asked: a dial's audit row and call row both
    # want them, at the same instant.
    _local_at: datetime | None = field(default=None, repr=False)
    _local: tuple[dict[str, str], str] = field(default=({}, ""), repr=False)
    # {(zone, rules, local day): permitted UTC spans}, shared by the groups of one
    # ``CallingPolicy``: groups with the same zone and rules compute each day once.
    _days: dict | None = field(default=None, repr=False, compare=False)

    @cached_property
    def states(self) -> tuple[str, ...]:
        return states_of(self.region)

    @cached_property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    @cached_property
    def blackout_tag(self) -> str | None:
        """'<source>#<digest>' of the blackout list the group's rules apply, if any."""
        blackout = next((r.blackout for r in self.rules if isinstance(r, BlackoutRule)), None)
        return None if blackout is None else f"{blackout.source}#{blackout.digest}"

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
            memo = self._days
            for k in range(days + 2):
                day = local_day + timedelta(days=k)
                key = (name, self.rules, day)
                allowed = memo.get(key) if memo is not None else None
                if allowed is None:
                    allowed = self._day_spans(name, zone, day)
                    if memo is not None:
                        if len(memo) >= DAY_MEMO_LIMIT:
                            memo.clear()
                        memo[key] = allowed
                spans.extend(allowed)
            per_zone.append(_merge(spans))
        result = per_zone[0]
        for other in per_zone[1:]:
            result = _intersect(result, other)
        return [(lo, hi) for lo, hi in result if hi > start]

    def _day_spans(self, name: str, zone: ZoneInfo, day: date) -> list[tuple[datetime, datetime]]:
        """The UTC spans every rule permits on local ``day`` in zone ``name``."""
        allowed = None
        for rule in self.rules:
            got = _merge((_local_to_utc(zone, day, s), _local_to_utc(zone, day, e))
                         for s, e in rule(name, day) if s < e)
            allowed = got if allowed is None else _intersect(allowed, got)
            if not allowed:
                break
        return allowed or []

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

    def local_times(self, at: datetime) -> dict[str, str]:
        """{zone: local ISO time with offset and weekday} at ``at``."""
        return dict(self._local_pair(at)[0])

    def local_label(self, at: datetime) -> str:
        """'2026-03-02 08:00 EST; ...': the local time in each zone, as a call row keeps it."""
        return self._local_pair(at)[1]

    def _local_pair(self, at: datetime) -> tuple[dict[str, str], str]:
        if at != self._local_at or at.tzinfo is not self._local_at.tzinfo:
            times, labels = {}, []
            for name in self.zones:
                zone = zone_info(name)
                if zone is not None:
                    # One isoformat, sliced: the same text as strftime's "%a" and
                    # "%Y-%m-%d %H:%M %Z" (C locale), at a third of the cost.
                    local = at.astimezone(zone)
                    iso = local.isoformat(timespec="seconds")
                    times[name] = f"{iso} {_WEEKDAYS[local.weekday()]}"
                    labels.append(f"{iso[:10]} {iso[11:16]} {local.tzname() or ''}")
            self._local_at, self._local = at, (times, "; ".join(labels))
        return self._local

    @cached_property
    def never_reason(self) -> str:
        """Why a group with no permitted instant ahead is skipped, as the lead's reason:
        the rules whose hours never meet ("campaign 08:00-09:00 and IL 09:00-21:00
        never overlap"), or the lookahead when special days fill it."""
        if self.reason_closed:
            return self.reason_closed
        for zone in self.zones:
            hours, common = self.weekday_hours(zone)
            if not common:
                named = " and ".join(f"{rule.name} " + (", ".join(format_span(x) for x in spans)
                                                        or "no hours")
                                     for rule, spans in hours
                                     if spans != [(time(0), DAY_END)])
                return f"no permitted calling time: {named} never overlap ({zone})"
        return f"no permitted calling time in the next {LOOKAHEAD_DAYS * 8 // 7} weeks"

    def weekday_hours(self, zone: str) -> tuple[list[tuple[Rule, list[Interval]]],
                                                list[Interval]]:
        """Each rule's local hours on an ordinary weekday in ``zone``, and what they
        have in common (empty: the rules never meet on any ordinary day)."""
        weekday = date(2026, 1, 7)            # a Wednesday, no holiday: the hours alone
        hours = [(rule, rule.allowed(zone, weekday)[0]) for rule in self.rules]
        common = [(time(0), DAY_END)]
        for _rule, spans in hours:
            common = _intersect(common, _merge(spans))
        return hours, common

    def explain(self, at: datetime) -> list[str]:
        """Why the group is closed at ``at``, one line per zone (empty when open)."""
        if self.reason_closed:
            return [self.reason_closed]
        reasons: list[str] = []
        for name, local, notes, hours in self._closed_by(at):
            if hours:
                notes = [*notes, "outside hours: " + ", ".join(hours)]
            if notes:
                reasons.append(f"{'; '.join(notes)} ({name} {local:%a %H:%M})")
        return reasons

    def day_notes(self, at: datetime) -> list[str]:
        """The special-day rules closing the group at ``at`` ("UT: no calls on Sunday",
        a holiday), without the ordinary hours: what a user could not guess."""
        if self.reason_closed:
            return []
        found: list[str] = []
        for _name, _local, notes, _hours in self._closed_by(at):
            found += [n for n in notes if n not in found]
        return found

    def _closed_by(self, at: datetime):
        """Per zone: (zone, local time, notes of closing special days, closing hours)."""
        for name in self.zones:
            zone = zone_info(name)
            local = at.astimezone(zone)
            notes: list[str] = []
            hours: list[str] = []
            for rule in self.rules:
                spans, note = rule.allowed(name, local.date())
                if any(_local_to_utc(zone, local.date(), s) <= at
                       < _local_to_utc(zone, local.date(), e) for s, e in spans):
                    continue
                if note:
                    if note not in notes:
                        notes.append(note)
                else:
                    hours.append(f"{rule.name} " + ", ".join(format_span(s) for s in spans))
            yield name, local, notes, hours


def unreachable_states(window: tuple[str, str]) -> list[tuple[str, str]]:
    """The states whose own calling hours never meet the campaign's ``window`` on an
    ordinary day, with those hours: [("IL", "09:00-21:00")]. A lead there would be
    skipped with "no permitted calling time"; ``campaign create/edit`` warn first."""
    policy = CallingPolicy(window)
    found: list[tuple[str, str]] = []
    for state in sorted(policy.state_rows):
        # Central time: the one state whose hours have a fixed-offset basis (MS,
        # UTC-06:00) is there, and in January the basis and local time agree.
        group = policy.window_for(("America/Chicago",), f"US-{state}")
        hours, common = group.weekday_hours("America/Chicago")
        if not common:
            own = [(time(0), DAY_END)]
            for rule, spans in hours:
                if rule not in policy.rules:
                    own = _intersect(own, _merge(spans))
            found.append((state, ", ".join(format_span(x) for x in own) or "no hours"))
    return found


class CallingPolicy:
    """The rules for one campaign; hands out cached ``GroupWindow`` objects."""

    def __init__(self, window: tuple[str, str] = ("09:00", "20:00"), *,
                 state_rules: Iterable[StateRow] | None = None,
                 blackout: Blackout | None = None, cap: int = 0,
                 state_caps: dict[str, int] | None = None):
        start, end = parse_hhmm(window[0]), parse_hhmm(window[1])
        # The federal limit always applies, whatever the campaign says.
        self.start = max(start, FEDERAL_START)
        self.end = min(end, FEDERAL_END)
        self.base_rule = DailyWindow(
            self.start, self.end, name="campaign",
            text=f"campaign {format_span((start, end))} within federal 08:00-21:00")
        self.rules: tuple[Rule, ...] = (self.base_rule,)
        # The state rows, and the hours state artificial-voice laws set (CA 09:00-21:00).
        rows = (*shipped_state_rules()[1], *hour_rows()) if state_rules is None \
            else tuple(state_rules)
        self.state_rows: dict[str, list[StateRow]] = {}
        for row in rows:
            self.state_rows.setdefault(row.state, []).append(row)
        self._state_rules = {st: tuple(StateRule(r) for r in rs)
                             for st, rs in self.state_rows.items()}
        self._canada_rules = tuple(StateRule(r) for r in CANADA_ROWS)
        self.blackout = blackout
        self.cap = cap or DEFAULT_CAP
        self.state_caps = dict(state_caps or {})
        self._groups: dict[tuple[tuple[str, ...], str], GroupWindow] = {}
        self._day_spans: dict = {}

    def rules_for(self, region: str) -> tuple[Rule, ...]:
        states = states_of(region)
        rules = list(self.rules)
        for st in states:
            rules.extend(self._state_rules.get(st, ()))
        if is_canadian(region):
            rules.extend(self._canada_rules)
        if self.blackout is not None and self.blackout.days:
            rules.append(BlackoutRule(self.blackout, states))
        return tuple(rules)

    def window_for(self, zones: tuple[str, ...], region: str = "") -> GroupWindow:
        key = (tuple(zones), region or "")
        group = self._groups.get(key)
        if group is None:
            reason = None
            if not zones:
                reason = "unknown time zone (add a 'timezone' column to the lead)"
            elif any(zone_info(z) is None for z in zones):
                reason = f"unknown time zone name in {','.join(zones)}"
            group = GroupWindow(key[0], key[1], self.rules_for(key[1]), reason_closed=reason,
                                _days=self._day_spans)
            self._groups[key] = group
        return group

    def cap_for(self, region: str | None) -> int:
        """Dial attempts allowed per rolling 24 h for a number in ``region``.

        The workspace cap, made stricter by a per-state setting, and never looser than
        a state's statutory cap (FL, OK, MD) for a number in that state.
        """
        limit = self.cap
        for st in states_of(region):
            limit = min(limit, self.state_caps.get(st, limit), STATUTORY_CAPS.get(st, limit))
        return limit

    def check_cap(self, conn, e164: str, region: str | None, at: datetime):
        """``check_cap`` with this policy's limit for ``region``."""
        return check_cap(conn, e164, at, limit=self.cap_for(region))

    def describe(self) -> dict:
        return {"window": f"{self.start:%H:%M}-{self.end:%H:%M}", "federal": "08:00-21:00",
                "rules_version": RULES_VERSION, "cap_per_24h": self.cap,
                "state_caps": {**STATUTORY_CAPS, **self.state_caps},
                "consumer_cap_states": sorted(CONSUMER_CAP_STATES),
                "blackout": ({"source": self.blackout.source, "digest": self.blackout.digest,
                              "days": len(self.blackout.days)} if self.blackout else None)}


# -- the frequency cap and the settings that tune it ----------------------------------

DEFAULT_CAP = 3            # dial attempts per number per rolling 24 h, across campaigns
CAP_WINDOW = timedelta(hours=24)
#: States whose law caps calls per 24 h: a looser workspace cap never applies there.
STATUTORY_CAPS = {row.state: row.cap for row in shipped_state_rules()[1] if row.cap}
#: States whose law counts calls to the consumer, "regardless of the phone number used"
#: (Fla. Stat. 501.059(8)(a); Oklahoma's and Maryland's acts are worded alike).
CONSUMER_CAP_STATES = frozenset(row.state for row in shipped_state_rules()[1]
                                if row.cap_per == "consumer")
MAX_CAP = 50

SETTING_CAP = "dial_cap_per_24h"
SETTING_CAP_BY_STATE = "dial_cap_by_state"
SETTING_BLACKOUT = "blackout_file"


def parse_state_caps(text: str) -> dict[str, int]:
    """'TX=2, NY=1' -> {'TX': 2, 'NY': 1}; refuses a cap looser than a state's law."""
    caps: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        state, sep, value = part.partition("=")
        state = state.strip().upper()
        if not sep or state not in US_STATES:
            raise InputError(f"{part!r} is not STATE=CAP with a US state code.",
                             hint="e.g. dialcli config set dial_cap_by_state TX=2,NY=2")
        try:
            cap = int(value.strip())
        except ValueError:
            raise InputError(f"{part!r}: the cap must be a whole number of dials.") from None
        if not 1 <= cap <= MAX_CAP:
            raise InputError(f"{part!r}: the cap must be between 1 and {MAX_CAP}.")
        law = STATUTORY_CAPS.get(state)
        if law is not None and cap > law:
            raise InputError(
                f"Refused: {state} law allows at most {law} calls per 24 h to a number; "
                f"{part} would break it.", hint=f"Use {state}={law} or less.")
        caps[state] = cap
    return caps


def format_state_caps(caps: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(caps.items()))


def parse_blackout_setting(text: str) -> str:
    """A blackout file path: must exist and parse; stored absolute."""
    path = Path(text).expanduser().resolve()
    load_blackout(path)
    return str(path)


def _register_settings() -> None:
    register(Setting(
        SETTING_CAP,
        f"Dial attempts per number per rolling 24 h, across all campaigns. Numbers in "
        f"{', '.join(sorted(STATUTORY_CAPS))} never get more than their state's law allows.",
        parse=parse_int_range(1, MAX_CAP), default=DEFAULT_CAP,
        example=f"dialcli config set {SETTING_CAP} 2"))
    register(Setting(
        SETTING_CAP_BY_STATE,
        "Stricter per-state caps, STATE=CAP,... (a cap looser than a state's law is refused).",
        parse=parse_state_caps, format=format_state_caps,
        example=f"dialcli config set {SETTING_CAP_BY_STATE} TX=2,NY=2"))
    register(Setting(
        SETTING_BLACKOUT,
        "Blackout-dates file (DATE[..DATE] [STATES] [note] per line): no calls on those "
        "local dates. `plan`/`start --blackout FILE` override it.",
        parse=parse_blackout_setting,
        example=f"dialcli config set {SETTING_BLACKOUT} ~/blackout.txt"))


_register_settings()


def _settings(conn) -> dict[str, str]:
    keys = (SETTING_CAP, SETTING_CAP_BY_STATE, SETTING_BLACKOUT)
    rows = conn.execute("SELECT key, value FROM settings WHERE key IN (?, ?, ?)", keys)
    return {k: v for k, v in rows.fetchall()}


def policy_for_campaign(conn, campaign, *, blackout: Blackout | None = None) -> CallingPolicy:
    """The policy the engine uses for ``campaign`` (a ``models.Campaign``).

    Reads the workspace's compliance settings; ``blackout`` (from ``--blackout FILE``)
    replaces the ``blackout_file`` setting when given.
    """
    settings = _settings(conn)
    cap, state_caps = _workspace_caps(settings)
    if blackout is None and settings.get(SETTING_BLACKOUT):
        blackout = load_blackout(settings[SETTING_BLACKOUT])
    return CallingPolicy(campaign.window, blackout=blackout, cap=cap, state_caps=state_caps)


# -- per-dial checks the engine makes inside its claim transaction ---------------------

def cap_for_number(conn, e164: str) -> int:
    """The cap for one number: the workspace cap, made stricter by per-state settings
    and state law for every state the number belongs to -- its own (area code) and
    any a lead's ``state`` column gave it in any campaign."""
    return cap_for_regions(_settings(conn), number_regions(conn, e164))


def _workspace_caps(settings: dict[str, str]) -> tuple[int, dict[str, int]]:
    """(the workspace's cap, its caps by state) from ``settings_snapshot``."""
    return (int(settings.get(SETTING_CAP) or DEFAULT_CAP),
            parse_state_caps(settings.get(SETTING_CAP_BY_STATE) or ""))


def cap_for_regions(settings: dict[str, str], regions) -> int:
    """The cap for a number in ``regions``, given the workspace's compliance settings
    (``settings_snapshot``); cheap, so callers can cache it per region set."""
    limit, state_caps = _workspace_caps(settings)
    for region in regions:
        for st in states_of(region):
            limit = min(limit, state_caps.get(st, limit), STATUTORY_CAPS.get(st, limit))
    return limit


def uniform_cap(settings: dict[str, str]) -> int | None:
    """The cap every number has under these settings, when no state's cap (the
    settings' or the law's) is stricter than the workspace's; else None, and the
    number's regions decide (``cap_for_regions``)."""
    limit, state_caps = _workspace_caps(settings)
    stricter = min((*state_caps.values(), *STATUTORY_CAPS.values()), default=limit)
    return limit if stricter >= limit else None


def settings_snapshot(conn) -> dict[str, str]:
    """The workspace's compliance settings, read once (see ``cap_for_regions``)."""
    return _settings(conn)


def _which(simulated: bool | None) -> str:
    return "" if simulated is None else (
        " AND provider = 'simulator'" if simulated else " AND provider != 'simulator'")


def _counted(simulated: bool | None) -> str:
    """The dials a frequency cap counts, after ``e164 = ?`` or ``e164 IN (...)``: those
    claimed inside the window (parameters ``cap_bounds(at)``) and not canceled."""
    return "claimed_at > ? AND claimed_at <= ? AND status != 'canceled'" + _which(simulated)


def cap_count_sql(e164_expr: str, simulated: bool | None = None) -> str:
    """A subquery counting the dials ``check_cap`` counts, to the number ``e164_expr``
    names, for a caller that folds the count into a read it makes anyway; its
    parameters are ``cap_bounds(at)``. Pass the count to ``check_cap(count=)``."""
    return f"(SELECT COUNT(*) FROM calls WHERE e164 = {e164_expr} AND {_counted(simulated)})"


def cap_bounds(at: datetime) -> tuple[str, str]:
    """The frequency-cap window ending at ``at``: (after, up to and including)."""
    return to_iso(at - CAP_WINDOW), to_iso(at)


def check_cap(conn, e164: str, at: datetime, *, limit: int | None = None,
              simulated: bool | None = None, count: int | None = None
              ) -> tuple[int, datetime | None]:
    """(dials to ``e164`` in the last 24 h, earliest instant another dial is allowed).

    The second item is None when a dial is allowed now. Without ``limit`` the number's
    own cap applies (``cap_for_number``: workspace settings and state law).
    ``simulated`` counts only simulated (True) or only real (False) dials: a rehearsal
    on the virtual clock, days ahead of real time, must not cap real calls.
    ``count``, when the caller read it already (``cap_count_sql``, same transaction and
    instant), spares the read while it is under the cap.
    """
    if limit is None:
        limit = cap_for_number(conn, e164)
    if count is not None and count < limit:
        return count, None
    since, until = cap_bounds(at)
    rows = conn.execute(
        f"SELECT claimed_at FROM calls WHERE e164 = ? AND {_counted(simulated)} "
        "ORDER BY claimed_at",
        (e164, since, until),
    ).fetchall()
    count = len(rows)
    if count < limit:
        return count, None
    oldest = from_iso(rows[count - limit][0])
    assert oldest is not None
    return count, oldest + CAP_WINDOW


def consumer_numbers(conn, lead_id: int) -> list[str]:
    """Every number of the person behind a lead: its own phones and those of any lead
    that shares one of them (the same consumer imported twice, or into two campaigns)."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT p2.e164 FROM lead_phones p1 "
        "JOIN lead_phones p0 ON p0.e164 = p1.e164 "
        "JOIN lead_phones p2 ON p2.lead_id = p0.lead_id "
        "WHERE p1.lead_id = ? ORDER BY p2.e164", (lead_id,))]


def check_consumer_cap(conn, lead_id: int, at: datetime, *, limit: int,
                       simulated: bool | None = None) -> tuple[int, datetime | None, list[str]]:
    """``check_cap`` over every number of the consumer (``consumer_numbers``): (dials in
    the last 24 h, earliest instant another is allowed or None, the numbers counted)."""
    numbers = consumer_numbers(conn, lead_id)
    since, until = cap_bounds(at)
    marks = ", ".join("?" * len(numbers))
    rows = conn.execute(
        f"SELECT claimed_at FROM calls WHERE e164 IN ({marks}) AND {_counted(simulated)} "
        "ORDER BY claimed_at", (*numbers, since, until)).fetchall()
    count = len(rows)
    if count < limit:
        return count, None, numbers
    oldest = from_iso(rows[count - limit][0])
    assert oldest is not None
    return count, oldest + CAP_WINDOW, numbers


def decision_detail(group: GroupWindow, e164: str | None, at: datetime,
                    cap_count: int | None, on_dnc: bool | None, *,
                    cap_limit: int | None = None, zone_source: str | None = None,
                    policy: CallingPolicy | None = None) -> dict:
    """The evidence for one dial decision: the shape every audit row's ``detail`` has."""
    opens = group.next_open(at)
    detail = {
        "e164": e164,
        "zones": list(group.zones),
        "zone_source": zone_source,
        "region": group.region,
        "states": list(group.states),
        "local_time": group.local_times(at),
        "rules_version": RULES_VERSION,
        "rules": list(group.rule_names),
        "window_open": bool(opens and opens[0] == at),
        "next_open": to_iso(opens[0]) if opens else None,
        "closed_because": group.explain(at) if not (opens and opens[0] == at) else [],
        "opt_out": on_dnc,
        "cap_count": cap_count,
        "cap_limit": cap_limit if cap_limit is not None
        else (policy.cap_for(group.region) if policy else None),
    }
    if group.blackout_tag is not None:
        detail["blackout"] = group.blackout_tag
    return detail
