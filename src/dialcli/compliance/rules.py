"""Calling-hour rules: the campaign/federal window, state rows, holidays, blackout dates.

A rule answers one question: on local date D in zone Z, which local intervals may
be dialed, and why is the day special? (``Rule.allowed(zone, day) -> (intervals,
note)``; an empty list bans the day.) ``compliance.GroupWindow`` intersects the rules
of a zone group in every candidate zone; this module only states them.

* ``DailyWindow``: the campaign window within the federal 08:00-21:00.
* ``StateRule``: one row of the shipped, versioned ``data/state_rules.toml`` (built
  from research/compliance.md section 2; every row carries its source and a
  confidence mark). Legal holidays come from the ``holidays`` package by
  subdivision with observed dates included (both the day and the observed day are
  banned: the conservative reading), plus the days the state's statute names that the
  package lacks (``[[holiday]]`` rows of the same file: PA's Good Friday and Election
  Day, LA's January 8 and All Saints' Day, AL's Mardi Gras...). Rows with ``basis = "UTC-06:00"`` (Mississippi's
  "Central Standard Time") are read in that fixed offset and in local time.
* ``BlackoutRule``: the user's blackout-dates file for proclaimed days and declared
  emergencies the ``holidays`` package cannot know.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


from dialcli.errors import InputError

FEDERAL_START = time(8, 0)
FEDERAL_END = time(21, 0)
DAY_END = time.max           # "until midnight" for rows that do not limit a day
# The ``holidays`` package's US subdivisions (states, DC, territories), spelled out so
# that importing this module -- on every CLI start -- does not load ``holidays``
# (tests/test_compliance.py checks the two stay equal).
US_STATES = frozenset(
    "AK AL AR AS AZ CA CO CT DC DE FL GA GU HI IA ID IL IN KS KY LA MA MD ME MI MN MO MP "
    "MS MT NC ND NE NH NJ NM NV NY OH OK OR PA PR RI SC SD TN TX UM UT VA VI VT WA WI WV "
    "WY".split())

Interval = tuple[time, time]


# -- parsing -----------------------------------------------------------------------

def parse_hhmm(text: str) -> time:
    try:
        hh, mm = text.strip().split(":")
        value = time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise InputError(f"{text!r} is not a time of day; use HH:MM, e.g. 09:00.") from None
    return value


def _span(text: str) -> Interval:
    parts = [p.strip() for p in str(text).replace("–", "-").split("-")]
    if len(parts) != 2:
        raise InputError(f"{text!r} is not START-END, e.g. 09:00-20:00.")
    return parse_hhmm(parts[0]), parse_hhmm(parts[1])


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


def states_of(region: str | None) -> tuple[str, ...]:
    """'US-FL,US-GA' -> ('FL', 'GA'); 'US' or '' -> ()."""
    out: list[str] = []
    for part in (region or "").split(","):
        part = part.strip().upper()
        if part.startswith("US-") and len(part) == 5 and part[3:] not in out:
            out.append(part[3:])
    return tuple(out)


def format_span(span: Interval) -> str:
    end = "24:00" if span[1] == DAY_END else f"{span[1]:%H:%M}"
    return f"{span[0]:%H:%M}-{end}"


# -- rules -------------------------------------------------------------------------

class Rule:
    """One constraint on calling hours. ``name`` is short (shown in plan/audit)."""

    name = "rule"
    text = ""

    def allowed(self, zone: str, day: date) -> tuple[list[Interval], str | None]:
        """Local intervals permitted on ``day`` in ``zone`` and why the day is special."""
        raise NotImplementedError

    def __call__(self, zone: str, day: date) -> list[Interval]:
        return self.allowed(zone, day)[0]

    def __repr__(self) -> str:
        return f"<Rule {self.name}: {self.text}>"


class DailyWindow(Rule):
    """The same local hours every day (campaign window within the federal limit)."""

    def __init__(self, start: time, end: time, *, name: str = "window", text: str = ""):
        self.start, self.end = start, end
        self.name = name
        self.text = text or f"{format_span((start, end))} every day"

    def allowed(self, zone, day):
        return [(self.start, self.end)], None


@lru_cache(maxsize=256)
def _holiday_table(state: str, year: int) -> dict[date, str]:
    """The state's legal holidays in ``year``: the ``holidays`` package's (observed dates
    included), with the statute's additions and removals from ``state_rules.toml``."""
    if state not in US_STATES:
        return {}
    import holidays as holidays_lib

    table = dict(holidays_lib.country_holidays("US", subdiv=state, years=year, observed=True))
    for h in shipped_holidays().get(state, ()):
        if h.remove:
            table = {d: n for d, n in table.items() if h.name not in n.split("; ")}
            continue
        day = h.on(year)
        if day is not None:
            name = h.name + (f" ({h.label})" if h.label else "")
            table[day] = f"{table[day]}; {name}" if day in table else name
    return table


def holiday_name(state: str, day: date) -> str | None:
    """The state's legal holiday on ``day`` (observed dates included), or None."""
    return _holiday_table(state, day.year).get(day)


# -- statute holidays the ``holidays`` package does not give ---------------------------

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_NTH = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "last": -1}
_DATE_RULE = re.compile(
    r"^(?:(?P<md>\d\d-\d\d)"
    r"|easter(?P<off>[+-]\d+)"
    r"|(?P<nth>1st|2nd|3rd|4th|last)-(?P<wd>mon|tue|wed|thu|fri|sat|sun)-(?P<mon>[a-z]{3})"
    r"|(?P<election>election-day))$")


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return nxt - timedelta(days=(nxt.weekday() - weekday) % 7)


@dataclass(frozen=True)
class StatuteHoliday:
    """One ``[[holiday]]`` row of ``state_rules.toml``: a legal holiday the statute names
    that the ``holidays`` package lacks (or, ``remove``, one it has that the statute
    does not -- only with a source; removing can only widen, so rows are rare)."""

    state: str
    name: str
    date: str                   # "01-08", "easter-2", "2nd-mon-oct", "election-day"
    source: str
    confidence: str
    checked: str
    years: str = "all"          # "all" | "even" | "odd" | "every 4 from 2028"
    label: str = ""             # shown with the name (e.g. a county caveat)
    remove: bool = False
    note: str = ""

    def on(self, year: int) -> date | None:
        """The holiday's date in ``year``, or None when it does not fall that year."""
        if self.years == "even" and year % 2 or self.years == "odd" and not year % 2:
            return None
        every = re.fullmatch(r"every (\d+) from (\d{4})", self.years)
        if every and ((year - int(every.group(2))) % int(every.group(1)) or
                      year < int(every.group(2))):
            return None
        m = _DATE_RULE.match(self.date)
        assert m is not None       # checked when parsed
        if m.group("md"):
            month, day = map(int, m.group("md").split("-"))
            if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 or year % 400 == 0)):
                return None           # a leap day, in a year without one
            return date(year, month, day)
        if m.group("off"):
            from dateutil.easter import easter

            return easter(year) + timedelta(days=int(m.group("off")))
        if m.group("election"):     # the Tuesday after the first Monday in November
            return _nth_weekday(year, 11, 0, 1) + timedelta(days=1)
        return _nth_weekday(year, _MONTHS[m.group("mon")], _WEEKDAYS[m.group("wd")],
                            _NTH[m.group("nth")])


_HOLIDAY_KEYS = {"state", "name", "date", "years", "label", "remove", "source", "confidence",
                 "checked", "note"}


def parse_state_holidays(text: str) -> dict[str, tuple[StatuteHoliday, ...]]:
    """{state: holidays} from the ``[[holiday]]`` rows; raises ValueError on a bad row."""
    data = tomllib.loads(text)
    out: dict[str, list[StatuteHoliday]] = {}
    for where, raw, state in state_rows(data, "state holidays", _HOLIDAY_KEYS, table="holiday"):
        if not str(raw.get("name", "")).strip():
            raise ValueError(f"{where}: needs a name")
        remove = bool(raw.get("remove", False))
        if not remove and not _DATE_RULE.match(str(raw.get("date", ""))):
            raise ValueError(f"{where}: date must be MM-DD, easter-N/easter+N, "
                             "NTH-WEEKDAY-MONTH (e.g. 2nd-mon-oct) or election-day")
        years = str(raw.get("years", "all"))
        if years not in ("all", "even", "odd") and not re.fullmatch(r"every \d+ from \d{4}",
                                                                    years):
            raise ValueError(f"{where}: years is all, even, odd or 'every N from YYYY'")
        if not raw.get("source") or not re.fullmatch(r"[HML](/[HML])?",
                                                     str(raw.get("confidence", ""))) \
                or not re.fullmatch(r"\d{4}-\d\d-\d\d", str(raw.get("checked", ""))):
            raise ValueError(f"{where}: needs a source, a confidence H, M or L and the date "
                             "last checked (YYYY-MM-DD)")
        holiday = StatuteHoliday(state=state, name=raw["name"].strip(),
                                 date=str(raw.get("date", "")), source=raw["source"],
                                 confidence=raw["confidence"], checked=str(raw["checked"]),
                                 years=years, label=raw.get("label", ""), remove=remove,
                                 note=raw.get("note", ""))
        if not remove:
            try:
                holiday.on(2024)      # a leap year: a date that never exists (02-30) fails
            except ValueError as exc:
                raise ValueError(f"{where}: date {holiday.date!r} does not exist ({exc})") \
                    from None
        out.setdefault(state, []).append(holiday)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def shipped_holidays() -> dict[str, tuple[StatuteHoliday, ...]]:
    text = resources.files("dialcli").joinpath("data/state_rules.toml").read_text("utf-8")
    return parse_state_holidays(text)


@dataclass(frozen=True)
class StateRow:
    """One row of ``data/state_rules.toml``."""

    state: str
    source: str
    confidence: str
    window: Interval | None = None
    saturday: Interval | None | str = "same"     # "same" | "closed" | interval
    sunday: Interval | None | str = "same"
    holidays: Interval | None | str = "same"
    basis: str = "local"
    cap: int | None = None
    cap_per: str = "number"      # "consumer": every number of the person counts
    applies_to: str = ""
    note: str = ""

    def describe(self) -> str:
        bits = [format_span(self.window)] if self.window else []
        for label, value in (("Sat", self.saturday), ("Sun", self.sunday),
                             ("holidays", self.holidays)):
            if value != "same":
                bits.append(f"{label} {'closed' if value == 'closed' else format_span(value)}")
        if self.basis != "local":
            bits.append(f"hours in {self.basis}")
        if self.cap:
            bits.append(f"cap {self.cap}/24h" + (" per consumer" if self.cap_per == "consumer"
                                                 else ""))
        return f"{self.state} {', '.join(bits) or 'no hours limit'} ({self.confidence}; {self.source})"


_OFFSET_RE = re.compile(r"^UTC([+-])(\d\d):(\d\d)$")


def _offset(basis: str) -> timezone | None:
    m = _OFFSET_RE.match(basis)
    if not m:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(delta if m.group(1) == "+" else -delta)


class StateRule(Rule):
    """A state row: hours by weekday, holiday ban, optional fixed-offset basis."""

    def __init__(self, row: StateRow):
        self.row = row
        self.name = row.state
        self.text = row.describe()
        self._fixed = _offset(row.basis)

    def _spans(self, day: date) -> tuple[list[Interval], str | None]:
        row = self.row
        base = [row.window] if row.window else [(time(0, 0), DAY_END)]
        hol = holiday_name(row.state, day) if row.holidays != "same" else None
        if hol:
            if row.holidays == "closed":
                return [], f"{row.state} legal holiday ({hol}): no calls"
            return [row.holidays], f"{row.state} legal holiday ({hol}): {format_span(row.holidays)}"
        label, value = {5: ("Saturday", row.saturday), 6: ("Sunday", row.sunday)}.get(
            day.weekday(), ("", "same"))
        if value == "same":
            return base, None
        if value == "closed":
            return [], f"{row.state}: no calls on {label}"
        return [value], f"{row.state} {label} hours {format_span(value)}"

    def allowed(self, zone, day):
        spans, note = self._spans(day)
        if self._fixed is None or not spans:
            return spans, note
        # Hours stated in a fixed offset (e.g. CST all year): read them in that offset
        # AND in local time, keep the stricter of the two.
        tz = zone_info(zone)
        out = []
        for start, end in spans:
            lo = datetime.combine(day, start, tzinfo=self._fixed).astimezone(tz)
            hi = datetime.combine(day, end, tzinfo=self._fixed).astimezone(tz)
            lo_t = lo.time() if lo.date() == day else (time(0, 0) if lo.date() < day else None)
            hi_t = hi.time() if hi.date() == day else (DAY_END if hi.date() > day else None)
            if lo_t is None or hi_t is None:
                continue
            s, e = max(start, lo_t), min(end, hi_t)
            if s < e:
                out.append((s, e))
        return out, note


@dataclass(frozen=True)
class BlackoutDay:
    day: date
    states: tuple[str, ...]      # () = every number
    note: str


@dataclass(frozen=True)
class Blackout:
    """User blackout dates (proclaimed holidays, emergencies), from a file."""

    days: tuple[BlackoutDay, ...] = ()
    source: str = ""
    digest: str = ""
    _by_day: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    def __post_init__(self):
        for entry in self.days:
            self._by_day.setdefault(entry.day, []).append(entry)

    def on(self, day: date, states: Iterable[str]) -> BlackoutDay | None:
        """The entry banning ``day`` for a number in ``states``, if any."""
        entries = self._by_day.get(day)
        if not entries:
            return None
        wanted = set(states)
        for entry in entries:
            if not entry.states or wanted & set(entry.states):
                return entry
        return None


_STATES_RE = re.compile(r"^(ALL|\*|[A-Za-z]{2}(,[A-Za-z]{2})*)$")


def parse_blackout(text: str, source: str = "blackout file") -> Blackout:
    """Parse ``DATE[..DATE] [STATES] [note]`` lines; '#' starts a comment.

    ``2026-08-31 LA,MS Hurricane emergency`` bans that local date for numbers in LA
    or MS; without STATES (or with ALL) the date is banned for every number.
    """
    days: list[BlackoutDay] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        first, rest = parts[0], parts[1:]
        try:
            if ".." in first:
                lo_s, hi_s = first.split("..", 1)
                lo, hi = date.fromisoformat(lo_s), date.fromisoformat(hi_s)
            else:
                lo = hi = date.fromisoformat(first)
        except ValueError:
            raise InputError(
                f"{source}, line {lineno}: {first!r} is not a date.",
                hint="Each line is DATE[..DATE] [STATES] [note], e.g. "
                     "'2026-08-31 LA,MS hurricane emergency' or '2026-12-24'.",
            ) from None
        if hi < lo or (hi - lo).days > 366:
            raise InputError(f"{source}, line {lineno}: the range {first} is backwards "
                             "or longer than a year.")
        states: tuple[str, ...] = ()
        if rest and _STATES_RE.match(rest[0]):
            token = rest.pop(0).upper()
            if token not in ("ALL", "*"):
                states = tuple(token.split(","))
                unknown = [s for s in states if s not in US_STATES]
                if unknown:
                    raise InputError(
                        f"{source}, line {lineno}: unknown state code {', '.join(unknown)}.",
                        hint="Use two-letter US state codes, e.g. LA,MS, or ALL.")
        note = " ".join(rest).strip() or "blackout date"
        for k in range((hi - lo).days + 1):
            days.append(BlackoutDay(lo + timedelta(days=k), states, note))
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Blackout(tuple(days), source, digest)


def load_blackout(path: str | Path) -> Blackout:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"Blackout file {p} does not exist.",
                         hint="Fix the path, or clear the setting: "
                              "dialcli config unset blackout_file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read blackout file {p}: {exc}.") from None
    return parse_blackout(text, str(p))


class BlackoutRule(Rule):
    name = "blackout"

    def __init__(self, blackout: Blackout, states: tuple[str, ...]):
        self.blackout = blackout
        self.states = states
        self.text = f"blackout dates from {blackout.source} ({len(blackout.days)} day(s))"

    def allowed(self, zone, day):
        hit = self.blackout.on(day, self.states)
        if hit is None:
            return [(time(0, 0), DAY_END)], None
        return [], f"blackout {day.isoformat()}: {hit.note}"


# -- the shipped state rules ---------------------------------------------------------

_ROW_KEYS = {"state", "window", "saturday", "sunday", "holidays", "basis", "cap", "cap_per",
             "applies_to", "source", "confidence", "note"}


def _day_value(value: str | None, where: str):
    if value is None:
        return "same"
    if value.strip().lower() == "closed":
        return "closed"
    try:
        return _span(value)
    except InputError as exc:
        raise ValueError(f"{where}: {exc.message}") from None


def state_rows(data: dict, label: str, keys: frozenset | set,
               table: str = "rule") -> Iterator[tuple[str, dict, str]]:
    """``(where, raw, state)`` for each ``[[rule]]`` (or ``[[table]]``) row of a
    versioned per-state data file, after the checks every such file shares: known fields
    only, a US state. ``where`` names the row (and its ``name``, when it has one)."""
    for i, raw in enumerate(data.get(table, []), 1):
        named = f" {raw['name']}" if "name" in raw else ""
        where = f"{label} row {i} ({raw.get('state', '?')}{named})"
        extra = set(raw) - keys
        if extra:
            raise ValueError(f"{where}: unknown field(s) {sorted(extra)}")
        state = str(raw.get("state", "")).upper()
        if state not in US_STATES:
            raise ValueError(f"{where}: unknown state")
        yield where, raw, state


def data_version(data: dict, label: str) -> str:
    """A data file's ``version``, which every audit row cites: required."""
    version = str(data.get("version") or "")
    if not version:
        raise ValueError(f"{label}: missing version")
    return version


def parse_state_rules(text: str) -> tuple[str, tuple[StateRow, ...]]:
    """(version, rows) from the TOML text; raises ValueError on a malformed row."""
    data = tomllib.loads(text)
    version = data_version(data, "state rules")
    rows = []
    for where, raw, state in state_rows(data, "state rules", _ROW_KEYS):
        if not raw.get("source") or not re.fullmatch(r"[HML](/[HML])?", raw.get("confidence", "")):
            raise ValueError(f"{where}: needs a source and a confidence H, M or L")
        basis = raw.get("basis", "local")
        if basis != "local" and _offset(basis) is None:
            raise ValueError(f"{where}: basis must be 'local' or like 'UTC-06:00'")
        cap = raw.get("cap")
        if cap is not None and (not isinstance(cap, int) or cap < 1):
            raise ValueError(f"{where}: cap must be a positive integer")
        cap_per = raw.get("cap_per", "number")
        if cap_per not in ("number", "consumer") or (cap_per == "consumer" and cap is None):
            raise ValueError(f"{where}: cap_per is 'number' or 'consumer' (with a cap)")
        window = _day_value(raw.get("window"), where)
        rows.append(StateRow(
            state=state, source=raw["source"], confidence=raw["confidence"],
            window=None if window in ("same", "closed") else window,
            saturday=_day_value(raw.get("saturday"), where),
            sunday=_day_value(raw.get("sunday"), where),
            holidays=_day_value(raw.get("holidays"), where),
            basis=basis, cap=cap, cap_per=cap_per, applies_to=raw.get("applies_to", ""),
            note=raw.get("note", ""),
        ))
    return version, tuple(rows)


@lru_cache(maxsize=1)
def shipped_state_rules() -> tuple[str, tuple[StateRow, ...]]:
    text = resources.files("dialcli").joinpath("data/state_rules.toml").read_text("utf-8")
    return parse_state_rules(text)


# -- Canada ----------------------------------------------------------------------------

#: Canadian numbers (+1, region CA-xx): the CRTC's Unsolicited Telecommunications Rules
#: in the recipient's local time. An AI voice is a "synthesized voice message", so the
#: ADAD rules (Part IV) apply as well as the telemarketing ones (Part III); the ADAD
#: hours are from the CRTC's published summary, which the current rule text reached here
#: did not confirm: kept because they only narrow (strict, confidence L).
CANADA_ROWS = (
    StateRow(state="CRTC", window=(time(9, 0), time(21, 30)),
             saturday=(time(10, 0), time(18, 0)), sunday=(time(10, 0), time(18, 0)),
             applies_to="telemarketing calls",
             source="CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules): "
                    "9:00-21:30 weekdays, 10:00-18:00 weekends",
             confidence="H"),
    StateRow(state="CRTC", window=(time(9, 30), time(20, 0)),
             saturday=(time(10, 30), time(17, 0)), sunday=(time(12, 0), time(17, 0)),
             applies_to="automatic dialing-announcing device (pre-recorded or synthesized "
                        "voice) calls",
             source="CRTC Unsolicited Telecommunications Rules, Part IV (ADAD Rules), hours as "
                    "the CRTC's consumer summary gives them",
             confidence="L"),
)


def is_canadian(region: str | None) -> bool:
    """A region of a Canadian number ('CA-ON'); 'US-CA' is California."""
    return any(part.strip().upper().startswith("CA-") for part in (region or "").split(","))
