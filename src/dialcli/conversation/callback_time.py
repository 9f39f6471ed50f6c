"""When to call back: turn what the caller said into an instant.

``parse_callback_time(text, now, tz, window)`` reads phrases like "tomorrow at 3",
"next Tuesday morning", "in two hours", "Friday", "at 5:30", "next week",
"Dec 3 at 10am" or an ISO string from an LLM ("2026-03-04T15:00:00-05:00") in the
recipient's zone ``tz`` (UTC when unknown) and returns a ``CallbackTime``:
``due_utc`` (aware UTC, always later than ``now``), ``source`` ('parsed' or
'default') and ``matched`` (the words understood). Nothing understood -> the default:
the next day at the same local time. Moving the instant into the campaign's calling
window is the engine's job, not this module's.

Reading is in two steps: ``time_phrases.scan`` (pure text -> ``TimeSpec``, no
clock) and ``_resolve``, which applies the spec to ``now`` in the local zone. Local
wall times are built with ``zoneinfo`` on the target date, so "tomorrow, same time"
across a DST switch keeps the wall-clock time (23 or 25 real hours later) while "in
two hours" is two real hours.

Choices (the phrases people actually use on the phone):

* A bare hour follows business hours: 1-7 -> pm, 8-11 -> am, 12 -> noon. When a
  ``window`` ('HH:MM', 'HH:MM') is given and exactly one of am/pm falls inside it,
  that one wins ("at 8" with a 09:00-21:00 window -> 20:00). A day part overrides
  both ("tomorrow morning at 7" -> 07:00, "at 8 tonight" -> 20:00).
* An hour that contradicts its day part ("tonight at 2", "this evening at 3",
  "morning at 12": no evening hour is 2 am or 2 pm) is dropped for the day part's own
  time (tonight 19:00): calling at 2 am is never allowed, and 14:00 is not what
  "tonight" says. The agent repeats the time it booked, so the caller can correct it.
* Past references name no callback time: "last Friday", "this past Monday",
  "yesterday", "earlier today", "two days ago", "you called Monday" are dropped
  before reading ("you called last Friday, try next Tuesday" -> next Tuesday), and a
  count is not a date ("the fourth time you called", "Friday, the third time").
* Day parts: morning 10:00, noon/lunch 12:00, afternoon 14:00, end of day 17:00,
  evening and "after work" 18:00, tonight/night 19:00, "first thing" 09:00. "This
  afternoon" said at 15:00 (after the anchor, before the part ends) means an hour
  from now.
* Weekdays (weeks start Monday, as the rest of this module counts them):

  - "Friday", "on Friday", "this coming Friday": the first Friday after today.
  - "This Friday": the same, except that it may be today.
  - "Next Friday", "Friday next week", "next week Friday": the Friday of the next
    calendar week. Said on a Monday, "next Tuesday" is eight days away, not
    tomorrow; "next Monday" is a week away; said on a Saturday, "next Monday" is
    the day after tomorrow. Why: a caller who means the coming Tuesday says
    "Tuesday" or "this Tuesday" (or "tomorrow"); adding "next" to a day still ahead
    this week is how US English points past it to the following week's, and where
    the named day is already past this week (or is today) the following week's is
    also the first one ahead, so the two readings agree. This is the reading of
    "next Tuesday" as "Tuesday next week", one rule for both phrases. It is still
    ambiguous to some callers, which is why the agent says back what it booked.
  - "A week from Friday" / "a week on Friday": bare "Friday" plus seven days;
    "two weeks from Friday" plus fourteen; "a week from this/next Friday" likewise
    from those. "Friday after next", "the Friday after next": the second Friday
    ahead, the coming one skipped (said on a Tuesday, ten days away; on a Saturday,
    thirteen) -- the reading of Duckling's English corpus ("wednesday after next"
    said on Tuesday 2013-02-12 is 2013-02-20), where it may fall on "next Friday".
    "Not this Friday but next (one)": the coming Friday plus a week.
  - "A week from today" / "from tomorrow", "two weeks from today": days, keeping
    the local time. "Next week" alone is the same weekday next week. "Next
    weekend" is the Saturday of next calendar week, "the weekend after next" the
    one after that.
  - Spanish says the same through the same words: "el próximo martes" and "el
    martes que viene" read as "next Tuesday", "el martes de la semana que viene" as
    "Tuesday next week", "este martes" as "this Tuesday".
* A day without a time keeps the current local time ("Friday" -> Friday, same time).
  "Today"/"later" alone -> in two hours; "in a bit"/"shortly" -> in one hour.
* Month-day dates ("Dec 3", "3rd of December", "12/3", US month/day) are read by
  ``dateutil.parser``; "the 15th" is the next 15th.
* A result at or before ``now`` moves forward by its natural step: a day for a time
  of day or an ISO time (keeping the local time), a week for a weekday, a year for a
  month-day date. A result more than ``MAX_AHEAD`` (366 days) away is not believed
  and gives the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from dialcli.conversation.time_phrases import (
    DAY_PARTS, MONTH_RE, WEEKDAY_RE, TimeSpec, find_time_phrase, scan)

__all__ = ["CallbackTime", "MAX_AHEAD", "callback_due", "find_time_phrase",
           "parse_callback_time", "zone_for"]

UTC = timezone.utc
#: A time further ahead than this is not believed ("in 900 days"): default instead.
MAX_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class CallbackTime:
    """When to call back, and how that was decided."""

    due_utc: datetime                        # aware UTC, later than ``now``
    source: Literal["parsed", "default"]
    matched: str = ""                        # the words understood ('' for default)
    local: datetime | None = None            # ``due_utc`` in the recipient's zone

    def describe(self) -> str:
        """'Wed 4 Mar 15:00 EST (tomorrow at 3)' for reports and logs."""
        at = self.local or self.due_utc
        when = f"{at:%a} {at.day} {at:%b %H:%M %Z}"
        return f"{when} ({self.matched})" if self.matched else f"{when} (default: next day)"


def zone_for(tz: str | None) -> ZoneInfo | timezone:
    """The recipient's zone; UTC when absent or unknown."""
    if tz:
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def parse_callback_time(text: str | None, now: datetime, tz: str | None,
                        window: tuple[str, str] | None = None) -> CallbackTime:
    """Read ``text`` as a callback time for a recipient in ``tz``; see the module doc."""
    if now.tzinfo is None:
        raise ValueError("parse_callback_time needs an aware 'now'")
    zone = zone_for(tz)
    spec = scan(text or "")
    try:
        due = None if spec.empty else _resolve(spec, now, zone, window)
    except (OverflowError, ValueError):      # "in 99999999 weeks"
        due = None
    if due is None or due <= now or due - now > MAX_AHEAD:
        local = now.astimezone(zone)
        due = _wall(local.date() + timedelta(days=1),
                    local.time().replace(second=0, microsecond=0), zone)
        return CallbackTime(due.astimezone(UTC), "default", "", due)
    due_utc = due.astimezone(UTC)
    return CallbackTime(due_utc, "parsed", spec.words, due_utc.astimezone(zone))




def callback_due(callback_at: str | None, callback_text: str | None, now: datetime,
                 tz: str | None, window: tuple[str, str] | None = None) -> CallbackTime:
    """An ``EndCall``'s callback: its resolved ``callback_at`` if readable, else its
    ``callback_text``, else the default."""
    for text in (callback_at, callback_text):
        if text and text.strip():
            got = parse_callback_time(text, now, tz, window)
            if got.source == "parsed":
                return got
    return parse_callback_time(None, now, tz, window)


# -------------------------------------------------------------------------- resolving

def _part_hour(part: str, hour: int, minute: int) -> time:
    bias = DAY_PARTS[part][2]
    if bias == "pm" and hour < 12:
        return time(hour + 12, minute)
    return time(0 if (bias == "am" and hour == 12) else hour, minute)


def _fits(part: str, at: time) -> bool:
    lo, hi = _PART_SPAN[part]
    return lo <= at <= hi


def spoken(phrase: str) -> str:
    """The caller's time words as the agent should repeat them: unchanged, unless the
    hour was dropped for its day part ("tonight at 2" -> "tonight at 7 PM"), so the
    caller hears what was booked and can correct it."""
    # "Not this Friday but next" is said back as what was booked: "the Friday after this one".
    phrase = re.sub(r"^not (?:this|the) (?:coming )?(\w+)\s*,?\s*(?:but )?(?:the )?next(?: one| \w+day| \w+)?\b",
                    r"the \1 after this one", phrase)
    spec = scan(phrase)
    if spec.empty or spec.clock is None or not spec.part or spec.clock[2] == "exact":
        return phrase
    hour, minute, kind = spec.clock
    if kind == "before":
        hour = hour - 1 or 12
    if hour > 12 or _fits(spec.part, _part_hour(spec.part, hour, minute)):
        return phrase
    at = DAY_PARTS[spec.part][0]
    words = re.sub(r"\s*\b(?:at|around|about)?\s*\d{1,2}(?::\d{2})?\s*(?:am|pm|ish)?\b", "", spec.words).strip()
    return f"{words} at {at.hour % 12 or 12}{at.strftime(':%M') if at.minute else ''} {'AM' if at.hour < 12 else 'PM'}"


#: Words that name a day by its weekday or by weeks: what a caller may mean otherwise
#: ("next Tuesday"), so the agent says the date it booked.
_DAY_BY_NAME = re.compile(rf"\b{WEEKDAY_RE}\b|\bweek(?:end)?s?\b", re.I)
#: Words that already give the date.
_DATED = re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)\b|\d/\d|\b{MONTH_RE}\s+\d", re.I)


def said_back(phrase: str, now: datetime | None, tz: str | None) -> str:
    """``spoken(phrase)``, and the date it was read as when the words name a day past
    tomorrow by its weekday or by weeks: "next tuesday morning, that's Tuesday,
    December 15". "Next Tuesday" means different days to different callers; hearing
    the date, the caller can correct it before the call ends. ``now`` is the instant
    the words were said (None: the words alone, as before)."""
    words = spoken(phrase)
    if now is None or not _DAY_BY_NAME.search(phrase) or _DATED.search(phrase):
        return words
    got = parse_callback_time(phrase, now, tz)
    if got.source != "parsed" or got.local is None:
        return words
    if (got.local.date() - now.astimezone(got.local.tzinfo).date()).days < 2:
        return words
    return f"{words}, that's {got.local:%A}, {got.local:%B} {got.local.day}"


_ES_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
              "septiembre", "octubre", "noviembre", "diciembre")


def dicho_en_espanol(phrase: str, now: datetime | None, tz: str | None) -> str:
    """The callback time as a Spanish agent says it back: the day and hour the words
    were read as ("el martes 15 de diciembre a las 10 de la mañana"). The rules read
    Spanish through English words ("el martes que viene" is "next tuesday"), which
    must not reach a Spanish caller; without the call's instant, "cuando nos indicó"."""
    got = parse_callback_time(phrase, now, tz) if now is not None else None
    if got is None or got.source != "parsed" or got.local is None:
        return "cuando nos indicó"
    at = got.local
    hour = at.hour % 12 or 12
    clock = f"{hour}:{at.minute:02d}" if at.minute else str(hour)
    part = "de la mañana" if at.hour < 12 else "de la tarde" if at.hour < 20 else "de la noche"
    return (f"el {_ES_DAYS[at.weekday()]} {at.day} de {_ES_MONTHS[at.month - 1]} "
            f"{'a la' if hour == 1 else 'a las'} {clock} {part}")


def _wall(day: date, at: time, zone: ZoneInfo | timezone) -> datetime:
    """Local wall time on ``day``; a time inside a DST gap maps forward (zoneinfo)."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    # Round-trip through UTC so a gap time (02:30 on spring-forward day) becomes the
    # real instant it names, 03:30 local.
    return aware.astimezone(UTC).astimezone(zone)


def _in_window(at: time, window: tuple[str, str] | None) -> bool | None:
    if not window:
        return None
    try:
        start, end = (time.fromisoformat(w.strip()) for w in window)
    except (ValueError, AttributeError):
        return None
    return start <= at < end


#: The hours a day part can name ("tonight at 8" yes, "tonight at 2" no).
_PART_SPAN: dict[str, tuple[time, time]] = {
    "first thing": (time(0, 0), time(11, 0)), "early morning": (time(0, 0), time(10, 0)),
    "morning": (time(0, 0), time(11, 59)), "late morning": (time(9, 0), time(12, 0)),
    "noon": (time(11, 0), time(14, 0)), "early afternoon": (time(12, 0), time(16, 0)),
    "afternoon": (time(12, 0), time(19, 0)), "late afternoon": (time(14, 0), time(19, 0)),
    "end of day": (time(15, 0), time(20, 0)), "evening": (time(16, 0), time(23, 59)),
    "late evening": (time(18, 0), time(23, 59)), "night": (time(17, 0), time(23, 59)),
}


def _clock_time(spec: TimeSpec, window: tuple[str, str] | None) -> time | None:
    if spec.clock is None:
        return DAY_PARTS[spec.part][0] if spec.part else None
    hour, minute, kind = spec.clock
    if kind == "exact" or hour > 12:
        return time(hour % 24, minute)
    if kind == "before":
        hour = hour - 1 or 12
    if spec.part:
        # "Tonight at 2", "this evening at 3", "morning at 12": the hour does not fit
        # the day part (2 am and noon are no evening): the day part, which is
        # what the caller surely meant, wins over an hour that contradicts it.
        at = _part_hour(spec.part, hour, minute)
        return at if _fits(spec.part, at) else DAY_PARTS[spec.part][0]
    if hour == 12:
        return time(12, minute)
    am, pm = time(hour, minute), time(hour + 12, minute)
    fits = [c for c in (am, pm) if _in_window(c, window)]
    if len(fits) == 1:
        return fits[0]
    return pm if 1 <= hour <= 7 else am


def _resolve(spec: TimeSpec, now: datetime, zone: ZoneInfo | timezone,
             window: tuple[str, str] | None) -> datetime | None:
    local_now = now.astimezone(zone)
    today = local_now.date()
    same_time = local_now.time().replace(second=0, microsecond=0)
    at = _clock_time(spec, window)

    if spec.iso is not None:
        value = spec.iso if spec.iso.tzinfo else spec.iso.replace(tzinfo=zone)
        local = value.astimezone(zone)
        return _roll(local, now, zone, relativedelta(days=1))

    if spec.delta is not None:
        if spec.wall_delta:
            day = today + spec.delta
            return _roll(_wall(day, at or same_time, zone), now, zone, relativedelta(days=1))
        return (now + spec.delta).astimezone(zone)

    kind = spec.day[0] if spec.day else None
    step = relativedelta(days=1)
    if kind is None or kind == "today":
        if kind == "today" and at is None:
            return (now + relativedelta(hours=2)).astimezone(zone)
        day = today
    elif kind == "offset":
        day = today + timedelta(days=spec.day[1])
    elif kind == "months":
        day = today + relativedelta(months=spec.day[1])
    elif kind == "weekday":
        _, wd, mode, *more = spec.day
        ahead = (wd - today.weekday()) % 7
        monday = today - timedelta(days=today.weekday())
        if mode == "nextweek":
            day = monday + timedelta(days=7 + wd)
        elif mode == "weekafternext":     # "the weekend after next": by calendar weeks
            day = monday + timedelta(days=14 + wd)
        elif mode == "afternext":
            # The second one ahead: the coming one skipped (said on a Tuesday, "Friday
            # after next" is ten days away), as Duckling's corpus reads it.
            day = today + timedelta(days=(ahead or 7) + 7)
        else:
            day = today + timedelta(days=ahead if (ahead or mode == "this") else 7)
        day += timedelta(weeks=more[0] if more else 0)     # "a week from Tuesday"
        step = relativedelta(weeks=1)
    elif kind == "date":
        _, month, dom, year = spec.day
        try:
            day = date(year or today.year, month, dom)
        except ValueError:
            return None
        step = relativedelta(years=1) if year is None else relativedelta(days=1)
    else:  # 'dom': the next such day of the month
        dom = spec.day[1]
        day = None
        probe = today.replace(day=1)
        for _ in range(14):
            try:
                candidate = probe.replace(day=dom)
            except ValueError:
                candidate = None
            if candidate and candidate >= today:
                day = candidate
                break
            probe = probe + relativedelta(months=1)
        if day is None:
            return None
        step = relativedelta(months=1)

    due = _wall(day, at or same_time, zone)
    if due <= now and spec.part and day == today and spec.clock is None and \
            not (spec.part.endswith("morning") and "this" not in spec.words):
        # "This afternoon" said at 15:00: within the hour. "In the morning" said at
        # 10:00 means tomorrow's (rolled below).
        part_end = _wall(day, DAY_PARTS[spec.part][1], zone)
        soon = now + timedelta(hours=1)
        if soon < part_end:
            return soon.astimezone(zone)
    return _roll(due, now, zone, step)


def _roll(due: datetime, now: datetime, zone: ZoneInfo | timezone,
          step: relativedelta) -> datetime:
    """Move a past instant forward by ``step`` in local wall time until it is future."""
    local = due.astimezone(zone)
    wall_day, wall_time = local.date(), local.time().replace(tzinfo=None)
    for _ in range(400):
        if local > now:
            return local
        wall_day = wall_day + step
        local = _wall(wall_day, wall_time, zone)
    return local
