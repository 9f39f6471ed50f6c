"""Time phrases in caller speech: text -> ``TimeSpec``, without a clock.

``scan(text)`` finds, in this order, an ISO date-time (an LLM's ``callback_at``), a
relative offset ("in two hours", "a week from now"), a day ("tomorrow", "next
Tuesday", "Dec 3", "the 15th", "next week"), a clock time ("at 5:30", "3pm",
"half past four", "noon") and a day part ("morning", "tonight", "after work"); each
span is blanked out once read, so "in 2 hours" never also reads as "at 2" and "Dec
3" never as "at 3". Number words become digits first ("two" -> 2, "half an hour" ->
30 minutes, "a couple of" -> 2); ordinal words only next to a month or after "the",
so "first thing" stays words. ``callback_time`` turns the spec into an instant.

A cheap gate skips the scan for text with no digit and no time word at all, which
is most of what callers say ("Yes, speaking.").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from functools import lru_cache
from typing import Any

from dateutil import parser as du_parser
from dateutil.relativedelta import relativedelta

MORNING, NOON, AFTERNOON = time(10, 0), time(12, 0), time(14, 0)
END_OF_DAY, EVENING, TONIGHT, FIRST_THING = time(17, 0), time(18, 0), time(19, 0), time(9, 0)

#: day part -> (anchor time, end of the part, am/pm bias for a bare hour)
DAY_PARTS: dict[str, tuple[time, time, str]] = {
    "first thing": (FIRST_THING, time(11, 0), "am"),
    "early morning": (FIRST_THING, time(10, 0), "am"),
    "morning": (MORNING, time(12, 0), "am"),
    "late morning": (time(11, 0), time(12, 0), "am"),
    "noon": (NOON, time(13, 0), "pm"),
    "early afternoon": (time(13, 0), time(15, 0), "pm"),
    "afternoon": (AFTERNOON, time(17, 0), "pm"),
    "late afternoon": (time(16, 0), time(17, 30), "pm"),
    "end of day": (END_OF_DAY, time(18, 0), "pm"),
    "evening": (EVENING, time(21, 0), "pm"),
    "late evening": (time(20, 0), time(21, 0), "pm"),
    "night": (TONIGHT, time(21, 0), "pm"),
}

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: A weekday's name or abbreviation (one group), and a month's: shared with
#: ``callback_time``, which says back a day named this way.
WEEKDAY_RE = (r"(mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|"
          r"fri(?:day)?|sat(?:urday)?|sun(?:day)?)")
MONTH_RE = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
             r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_UNIT_RE = r"(minutes?|mins?|hours?|hrs?|days?|weeks?|months?)"

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
    "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
    "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}

@dataclass
class TimeSpec:
    """What a phrase says about when, before any clock is consulted."""

    matched: list[tuple[int, str]] = field(default_factory=list)
    iso: datetime | None = None
    delta: relativedelta | None = None
    wall_delta: bool = False          # days/weeks/months: keep the local wall time
    # ('offset', days) | ('today',) | ('months', n) | ('weekday', 0-6, 'this'|'coming'|
    # 'nextweek'|'afternext'[, weeks added]) | ('date', month, day, year|None) | ('dom', day)
    day: tuple[Any, ...] | None = None
    clock: tuple[int, int, str] | None = None   # hour, minute, 'exact'|'bare'|'before'
    part: str | None = None
    rest: str = ""                    # the normalized words that were not read as time

    def add(self, m: re.Match[str] | int, text: str | None = None) -> None:
        pos = m if isinstance(m, int) else m.start()
        self.matched.append((pos, (text if text is not None else m.group(0)).strip()))

    @property
    def words(self) -> str:
        """The understood words, in the order they were said."""
        return " ".join(text for _, text in sorted(self.matched))

    @property
    def empty(self) -> bool:
        return not (self.iso or self.delta or self.day or self.clock or self.part)


class _Text:
    """Normalized text with spans blanked out as they are consumed."""

    def __init__(self, raw: str):
        self.raw = raw
        self.s = self.orig = _normalize(raw)

    def take(self, pattern: str, flags: int = 0) -> re.Match[str] | None:
        m = re.search(pattern, self.s, flags)
        if m:
            self._blank(m.start(), m.end())
        return m

    def take_after(self, pattern: str) -> re.Match[str] | None:
        """Match ``pattern`` in the original text but consume only its last group,
        and only if that part is still unread (the words before it were read already)."""
        for m in re.finditer(pattern, self.orig):
            g = m.lastindex or 0
            if self.s[m.start(g):m.end(g)] == m.group(g):
                self._blank(m.start(g), m.end(g))
                return m
        return None

    def _blank(self, start: int, end: int) -> None:
        self.s = self.s[:start] + " " * (end - start) + self.s[end:]


_ES_NUM = {"una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
           "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "quince": 15, "veinte": 20,
           "treinta": 30}
_ES_DAYS = {"lunes": "monday", "martes": "tuesday", "miercoles": "wednesday", "jueves": "thursday",
            "viernes": "friday", "sabado": "saturday", "domingo": "sunday"}
_ES_WORDS = (   # (pattern, English) in order: longest phrases first
    (r"\bpasado\s+manana\b", "day after tomorrow"),
    (r"\b(?:en|por|de)\s+la\s+manana\b", "morning"),
    (r"\bde\s+la\s+(?:tarde|noche)\b", "pm"),
    (r"\b(?:en|por)\s+la\s+tarde\b|\besta\s+tarde\b", "afternoon"),
    (r"\b(?:en|por)\s+la\s+noche\b|\besta\s+noche\b", "tonight"),
    (r"\bmanana\b", "tomorrow"), (r"\bhoy\b", "today"), (r"\bmas\s+tarde\b|\bluego\b", "later"),
    (r"\bal\s+rato\b|\bun\s+ratito\b|\bun\s+rato\b", "in a bit"), (r"\bmediodia\b", "noon"),
    (r"\b(?:la\s+)?(?:proxima\s+semana|semana\s+que\s+viene|otra\s+semana)\b", "next week"),
    (r"\b(?:el\s+|este\s+)?fin\s+de\s+semana\b", "weekend"), (r"\btemprano\b", "morning"),
    (r"\b(?:el\s+)?(?:proximo|otro)\s+(lunes|martes|miercoles|jueves|viernes|sabado|domingo)\b", r"next \1"),
    (r"\b(?:el\s+)?(lunes|martes|miercoles|jueves|viernes|sabado|domingo)\s+(?:proximo|que\s+viene)\b", r"next \1"),
    (r"\bdentro\s+de\s+(?=(?:una|un|\d+|dos|tres|cuatro)\s+(?:hora|horas|minutos?|dias?|semanas?)\b)", "en "),
    # "el 15 de diciembre" -> "december 15" (before "de la ..." and the bare day rules)
    (r"\b(?:el\s+)?(\d{1,2})\s+de\s+(enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
     r"se?ptiembre|octubre|noviembre|diciembre)\b",
     lambda m: f"{_ES_MONTHS[m.group(2)]} {m.group(1)}"),
    (r"\beste\s+(lunes|martes|miercoles|jueves|viernes|sabado|domingo)\b", r"this \1"),
    (r"\bel\s+(lunes|martes|miercoles|jueves|viernes|sabado|domingo)\b", r"\1"),
    (r"\b(?:despues|luego)\s+de\s+las\b", "after"), (r"\bantes\s+de\s+las\b", "before"),
    (r"\b(?:despues|luego)\s+de\s+la\s+una\b", "after 1"), (r"\bdespues\s+del?\s+(?:almuerzo|lonche)\b", "after lunch"),
    (r"\ba\s+la\s+una\b", "at 1"), (r"\ba\s+las\b", "at"), (r"\blas\s+(?=\d)", "at "),
    (r"\ben\s+(una|un|\d+|dos|tres|cuatro|cinco|diez|quince|veinte|treinta)\s+(hora|horas|minutos?|dias?|semanas?)\b",
     r"in \1 \2"),
    (r"\by\s+media\b", ":30"), (r"\by\s+cuarto\b", ":15"),
)
_ES_MONTHS = {"enero": "january", "febrero": "february", "marzo": "march", "abril": "april",
              "mayo": "may", "junio": "june", "julio": "july", "agosto": "august",
              "septiembre": "september", "setiembre": "september", "octubre": "october",
              "noviembre": "november", "diciembre": "december"}
_ES_UNITS = {"hora": "hour", "horas": "hours", "minuto": "minute", "minutos": "minutes", "dia": "day",
             "dias": "days", "semana": "week", "semanas": "weeks"}


def _spanish(s: str) -> str:
    """Spanish time words, accents stripped, rewritten as the English the scanner reads
    ("mañana a las 3" -> "tomorrow at 3", "el lunes" -> "monday")."""
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    for pat, eng in _ES_WORDS:
        s = re.sub(pat, eng, s)
    s = re.sub(r"\b(at|in)\s+(" + "|".join(_ES_NUM) + r")\b", lambda m: f"{m.group(1)} {_ES_NUM[m.group(2)]}", s)
    s = re.sub(r"\b(in\s+(?:\d+|un|una))\s+(" + "|".join(_ES_UNITS) + r")\b",
               lambda m: f"{m.group(1).replace(' una', ' 1').replace(' un', ' 1')} {_ES_UNITS[m.group(2)]}", s)
    s = re.sub(r"(\d)\s+:(\d\d)", r"\1:\2", s)
    s = re.sub(r"\b(lunes|martes|miercoles|jueves|viernes|sabado|domingo)\b", lambda m: _ES_DAYS[m.group(1)], s)
    return s


_ES_GATE = re.compile(r"ma[nñ]ana|\bhoy\b|lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|"
                      r"\bhoras?\b|\btarde\b|\bnoche\b|semana|mediod|minutos|\blas\b|\brato\b|\bluego\b|despu[eé]s|"
                      r"temprano|enero|febrero|marzo|abril|mayo|junio|julio|agosto|se?ptiembre|octubre|"
                      r"noviembre|diciembre")


_PAST = re.compile(
    rf"(?:(?<!\bthe\s)\b(?:last|this\s+past|past)\s+(?:week(?:end)?|month|year|night|time|{WEEKDAY_RE})"
    r"(?:\s+(?:morning|afternoon|evening|night))?\b|"
    r"\byesterday(?:\s+(?:morning|afternoon|evening|night))?\b|\bearlier\s+(?:today|this\s+\w+)\b|"
    r"\b(?:\d+|a|an|one|two|three|four|five|six|a\s+few|a\s+couple(?:\s+of)?|several)\s+"
    r"(?:minutes?|hours?|days?|weeks?|months?|years?)\s+ago\b|\bthe\s+other\s+(?:day|night|week)\b|"
    rf"\b(?:called|rang|phoned|texted|emailed|spoke|talked|came\s+by|stopped\s+by|left\s+a\s+message)"
    rf"(?:\s+(?:me|us|here|to\s+me|with\s+\w+))?\s+(?:on\s+|last\s+)?(?:{WEEKDAY_RE}|this\s+morning|today)\b)"
    # ... with the hour it happened at ("yesterday at 3").
    r"(?:\s+(?:at|around|about)\s+\d{1,2}(?::\d{2})?(?:\s*[ap]m)?)?")


def _normalize(raw: str) -> str:
    s = raw.lower().replace("’", "'").replace("\u2009", " ")
    if _ES_GATE.search(s):
        s = _spanish(s)
    s = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", s)
    # A phone number said digit by digit ("five five five one two three four") is no time.
    s = re.sub(r"\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)[\s,-]+){3,}"
               r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)\b", " ", s)
    # Where the caller will be, said for when: "after I get off work", "when I get home".
    s = re.sub(r"\b(?:after|when|once) i (?:get (?:off|out of|done with|home from)|finish|am (?:off|done with|out of)) work\b|"
               r"\b(?:when|once|after) i (?:get|am) (?:back )?home\b", "after work", s)
    # An hour said just before its day part, without "at": "8 tonight", "3 in the afternoon".
    s = re.sub(r"(?<![\w:/.])(?<!at )(?<!in )(?<!by )(\d{1,2}(?::\d{2})?)(?=\s+(?:tonight|this\s+(?:morning|afternoon|"
               r"evening)|in\s+the\s+(?:morning|afternoon|evening)|at\s+night|tomorrow\s+(?:morning|afternoon|evening|"
               r"night))\b)", r"at \1", s)
    # "Any day but Monday": the day named is the one not to call.
    s = re.sub(rf"\b(?:(?:any\s*day|any\s*time|whenever)\s+but|except|other\s+than|besides)\s+(?:on\s+)?{WEEKDAY_RE}s?\b",
               " ", s)
    # "Not before noon" is after it; "don't call after 8" limits, it names no time.
    s = re.sub(r"\bnot\s+before\b", "after", s)
    s = re.sub(r"\b(?:don'?t|do\s+not|never)\s+call(?:\s+(?:me|us|here))?\s+(?:after|past|later\s+than|before|"
               r"earlier\s+than)\s+\S+(?:\s*[ap]m)?", " ", s)
    s = re.sub(r"\b(good\s+(?:morning|afternoon|evening|night|day))\b", " ", s)
    s = re.sub(r"\b(tmrw|tmr|tomoz|tomorow|tommorow|tommorrow)\b|\btomorr?o?$|\btomor\b", "tomorrow", s)
    s = re.sub(r"\bo'?\s?clock\b", "oclock", s)
    s = re.sub(r"\b(?:a\s+)?quarter\s+(?:of\s+an?\s+)?hour\b", "15 minutes", s)
    s = re.sub(r"\bhalf\s+(?:an?\s+)?hour\b", "30 minutes", s)
    s = re.sub(r"\b(?:an?|one)\s+hour\s+and\s+a\s+half\b", "90 minutes", s)
    s = re.sub(r"\b(?:a\s+)?couple(?:\s+of)?(?=\s+(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\b)|\ba\s+couple(?:\s+of)?\b",
               "2", s)
    s = re.sub(r"\ba\s+few\b", "3", s)
    # "twenty five" / "twenty-five" -> 25, then single number words.
    s = re.sub(r"\b(twenty|thirty|forty|fifty)[\s-](one|two|three|four|five|six|seven|eight|nine)\b",
               lambda m: str(_NUMBERS[m.group(1)] + _NUMBERS[m.group(2)]), s)
    s = re.sub(r"\b(" + "|".join(_NUMBERS) + r")\b", lambda m: str(_NUMBERS[m.group(1)]), s)
    # Ordinals only next to a month or after "the", so "first thing" stays words.
    ords = "|".join(_ORDINALS)
    s = re.sub(rf"\b(the|{MONTH_RE})\s+({ords})\b",
               lambda m: f"{m.group(1)} {_ORDINALS[m.group(m.lastindex)]}th", s)
    s = re.sub(rf"\b({ords})\s+of\s+{MONTH_RE}\b",
               lambda m: f"{_ORDINALS[m.group(1)]}th of {m.group(2)}", s)
    # The past names no callback time: "last Friday", "this past Monday", "yesterday",
    # "earlier today", "two days ago", "you called Monday" are dropped.
    s = _PAST.sub(" ", s)
    # Keep ISO-ish characters; everything else that is punctuation becomes space.
    s = re.sub(r"[^\w:/+\-.' ]", " ", s)
    s = re.sub(r"(?<!\d)[.](?!\d)", " ", s)
    return re.sub(r"\s+", " ", s).strip()


# Every phrase the scanner understands contains one of these (a digit, a number or
# ordinal word, a day, month, unit or day-part stem): text without any -- most
# caller lines -- is not scanned at all.
_GATE = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twent|thirt|fort|fift|second|"
    r"third|ninth|twelfth|tod|ton|tom|tm|morn|after|even|night|noon|midday|lunch|midnight|"
    r"eod|end|week|month|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|"
    r"oct|nov|dec|later|soon|shortly|bit|while|little|hour|min|hr|day|o'?clock|half|"
    r"quarter|couple|few|first|close|cob|dinn|supper|school|home|work)")


def scan(raw: str) -> TimeSpec:
    """Read ``raw`` into a ``TimeSpec`` (empty when it says nothing about when).

    What a phrase says does not depend on the clock, and callers say the same few
    phrases again and again (a campaign's callbacks, a simulated population's
    scripts): the reading is memoized, and each caller gets its own copy.
    """
    spec = _scan(raw)
    return replace(spec, matched=list(spec.matched))


#: A speaker correcting the time just said ("tues- no, thursday", "friday, no wait,
#: saturday morning", "at 3, I mean 4"). Not "no later than", "no earlier", "no more".
_REPAIR = re.compile(r"(?:(?<=\w)-\s*|\b)(?:no(?:\s+no)?(?:\s+wait)?|wait(?:\s+no)?|sorry|i\s+mean|actually|"
                     r"make\s+(?:it|that)|scratch\s+that|or\s+rather|rather)\b"
                     r"(?!\s+(?:later|earlier|sooner|more|longer|good|way|problem|thanks|thank)\b)[\s,.;!-]*",
                     re.IGNORECASE)


def _repaired(raw: str) -> TimeSpec | None:
    """The time of a line that corrects itself: what follows the last correction that
    has a time both before and after it, with what it leaves unsaid (the day, or the
    hour) taken from before; None when the line corrects no time."""
    for m in reversed(list(_REPAIR.finditer(raw))):
        before, after = raw[:m.start()], raw[m.end():]
        if not before.strip() or not after.strip():
            continue
        early = _scan(before)
        if early.empty:
            continue
        late = _scan(after)
        if late.empty and early.clock and _BARE_HOUR.match(after):
            late = _scan(f"at {after}")          # "at 3, no, 4"
        elif late.empty and early.delta and not early.day:
            late = _scan(f"in {after}")          # "in an hour, no, make it two hours"
        if late.empty:
            continue
        spec = replace(late, matched=[(p + 10_000, w) for p, w in late.matched])
        keep_day = not (late.iso or late.day or late.delta)
        keep_hour = not (late.iso or late.clock or late.part or late.delta)
        if keep_day:
            spec.day, spec.delta, spec.wall_delta = early.day, early.delta, early.wall_delta
        if keep_hour:
            spec.clock, spec.part = early.clock, early.part
        for p, w in early.matched:
            said = _scan(w)
            if (keep_day and (said.day or said.delta)) or (keep_hour and (said.clock or said.part)):
                spec.matched.append((p, w))
        spec.rest = f"{early.rest} {late.rest}".strip()
        return spec
    return None


_BARE_HOUR = re.compile(r"^\s*(?:\d{1,2}(?::\d{2})?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                        r"twelve)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _scan(raw: str) -> TimeSpec:
    low = raw.lower()
    if not _GATE.search(low) and not _ES_GATE.search(low):
        return TimeSpec(rest=low)
    if _REPAIR.search(low):
        fixed = _repaired(raw)
        if fixed is not None:
            return fixed
    t = _Text(raw)
    spec = TimeSpec()
    _scan_iso(t, spec)
    if not spec.iso:
        _scan_relative(t, spec)
        _scan_day(t, spec)
        _scan_clock(t, spec)
        _scan_part(t, spec)
        if spec.empty:
            _scan_vague(t, spec)
    spec.rest = " ".join(t.s.split())
    return spec


def _scan_iso(t: _Text, spec: TimeSpec) -> None:
    m = re.search(r"\b\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                  r"(?:z|[+-]\d{2}(?::?\d{2})?)?)?\b", t.s)
    if not m:
        return
    fragment = m.group(0)
    try:
        value = du_parser.isoparse(fragment.upper())
    except (ValueError, OverflowError):
        return
    t.take(re.escape(fragment))
    spec.add(m, _original(t.raw, fragment))
    if len(fragment) == 10:
        spec.day = ("date", value.month, value.day, value.year)
    else:
        spec.iso = value


def _num(text: str) -> int:
    return {"a": 1, "an": 1, "another": 1}.get(text, None) or int(text)


def _scan_relative(t: _Text, spec: TimeSpec) -> None:
    n = r"(\d+|an?|another)"
    patterns = (
        rf"\b(?:in|within|after|give (?:me|it|us))\s+(?:about\s+|around\s+|like\s+|roughly\s+|another\s+|maybe\s+|just\s+)?{n}(?:\s+and\s+a\s+half)?\s+{_UNIT_RE}\b",
        rf"\b{n}(?:\s+and\s+a\s+half)?\s+{_UNIT_RE}\s+(?:from\s+now|from\s+today|later|time)\b",
        # ... not "call me a week from Tuesday" (a day, read below)
        rf"\b(?:try|call|ring)(?:\s+(?:me|us|again|back))*\s+(?:in\s+)?{n}\s+{_UNIT_RE}\b(?!\s+(?:from|after|on)\b)",
        # "call me back in 15": a bare number after "back in" -- minutes from 5 up
        r"\b(?:back|again|me|us)\s+in\s+(?:like\s+|about\s+)?(5|10|15|20|25|30|40|45)()(?!\s*(?::|\d|am|pm|th|st|nd|rd))\b",
        # A duration and nothing else, the answer to "when?": "couple of hours", "2 hrs".
        rf"^(?:(?:like|maybe|about|around|say|probably|oh|well|um|uh)\s+)*{n}(?:\s+and\s+a\s+half)?\s+{_UNIT_RE}"
        r"(?:\s+(?:or so|maybe|tops|please|thanks|from now))?$",
    )
    for pat in patterns:
        m = t.take(pat)
        if not m:
            continue
        amount, unit = _num(m.group(1)), m.group(m.lastindex) or "minutes"
        half = "and a half" in m.group(0)
        spec.add(m)
        if unit.startswith(("min",)):
            spec.delta = relativedelta(minutes=amount)
        elif unit.startswith(("hour", "hr")):
            spec.delta = relativedelta(hours=amount, minutes=30 if half else 0)
        elif unit.startswith("day"):
            spec.delta, spec.wall_delta = relativedelta(days=amount), True
        elif unit.startswith("week"):
            spec.delta, spec.wall_delta = relativedelta(weeks=amount), True
        else:
            spec.delta, spec.wall_delta = relativedelta(months=amount), True
        return
    m = t.take(r"\b(?:in\s+)?a\s+(week|month)\s+from\s+(?:now|today)\b")
    if m:
        spec.add(m)
        spec.delta = relativedelta(weeks=1) if m.group(1) == "week" else relativedelta(months=1)
        spec.wall_delta = True


#: "the 12th" is a date only when what follows does not make it a count ("the fourth
#: time you called", "the 5th floor", "the second quote").
_DOM_FOLLOWS = (r"(?=\s*$|\s*[,;]|\s+(?:at|around|about|in|of|or|and|morning|afternoon|evening|night|"
                r"please|then|works|would|will|is|if|maybe|because|cause|so|okay|ok|instead|sometime|"
                r"after|before|between|by|for|thanks|thank|i|we|would|could|should|but|is|good|fine|"
                r"better|this|next|that|be|fine|perhaps|first|early|late|lunch|noon|\d)\b)")


def _scan_day(t: _Text, spec: TimeSpec) -> None:
    # "A week from tomorrow", "two weeks after tomorrow": before "tomorrow" alone.
    m = t.take(r"\b(an?|one|\d{1,2})\s+weeks?\s+(?:from|after)\s+tomorrow\b")
    if m:
        spec.day = ("offset", 1 + 7 * _num(m.group(1)))
        spec.add(m)
        return
    m = t.take(r"\b(?:the\s+)?day\s+after\s+tomorrow\b")
    if m:
        spec.day = ("offset", 2)
        spec.add(m)
        return
    m = t.take(r"\btomorrow\b")
    if m:
        spec.day = ("offset", 1)
        spec.add(m)
    t.take(r"\b(?:not|can'?t\s+do|cannot\s+do|no(?:t)?\s+good)\s+tonight\b")   # a refused night
    tonight = t.take(r"\btonight\b")
    if tonight:
        spec.part = "night"
        spec.add(tonight)
    if not spec.day:
        _scan_named_day(t, spec)
    if tonight and not spec.day:
        spec.day = ("offset", 0)     # "tonight" alone is today; with a day, its night


def _scan_named_day(t: _Text, spec: TimeSpec) -> None:
    """A day named by weekday, date or week: "Friday", "the 15th", "next week"."""
    # "Not this Tuesday but next (one)": the one after the coming one.
    m = t.take(rf"\bnot\s+(?:this|the\s+coming|this\s+coming)\s+{WEEKDAY_RE}\s*,?\s*(?:but\s+)?(?:the\s+)?"
               rf"next(?:\s+one|\s+{WEEKDAY_RE})?\b")
    if m:
        spec.day = ("weekday", _weekday(m.group(1)), "coming", 1)
        spec.add(m)
        return
    m = t.take(rf"\b(?:(an?|one|\d{{1,2}})\s+weeks?\s+(?:from|after|on)\s+)?"
               rf"(?:(this\s+coming|this|next|on|coming)\s+)?{WEEKDAY_RE}"
               r"(?:\s+(next\s+week|this\s+week|after\s+next))?\b")
    if m:
        wd = _weekday(m.group(3))
        weeks = _num(m.group(1)) if m.group(1) else 0
        qualifier, suffix = m.group(2) or "", m.group(4) or ""
        # See callback_time's doc: bare "Tuesday" and "this coming Tuesday" are the
        # first Tuesday after today, "this Tuesday" may be today, "next Tuesday" and
        # "Tuesday next week" are the Tuesday of next calendar week.
        mode = "this" if qualifier == "this" or "this" in suffix else "coming"
        if "after next" in suffix:
            mode = "afternext"
        elif qualifier == "next" or "next week" in suffix:
            mode = "nextweek"
        elif nw := t.take(r"\bnext\s+week\b"):
            mode = "nextweek"
            spec.add(nw)
        spec.day = ("weekday", wd, mode, weeks)
        spec.add(m)
        dom = t.take(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b" + _DOM_FOLLOWS)
        if dom and 1 <= int(dom.group(1)) <= 31:
            # "Thursday the 12th": the date is the more precise of the two.
            spec.day = ("dom", int(dom.group(1)))
            spec.add(dom)
            return
        if not re.search(rf"\b{MONTH_RE}\s+\d", t.s):
            return
        # "Tuesday, December 15th" ("el martes 15 de diciembre"): the date named with
        # the day is read below, and it is the more precise of the two.
    m = t.take(rf"\b{MONTH_RE}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b")
    m2 = m or t.take(rf"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH_RE}(?:,?\s+(\d{{4}}))?\b")
    if m2:
        fragment = m2.group(0)
        try:
            value = du_parser.parse(fragment.replace("the ", "").replace(" of ", " "),
                                    default=datetime(2000, 1, 1))
        except (ValueError, OverflowError):
            value = None
        if value is not None:
            year = int(m2.group(3)) if m2.group(3) else None
            spec.day = ("date", value.month, value.day, year)
            spec.add(m2)
            return
    m = t.take(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
    if m:
        try:
            value = du_parser.parse(m.group(0), dayfirst=False, default=datetime(2000, 1, 1))
        except (ValueError, OverflowError):
            value = None
        if value is not None:
            year = value.year if m.group(3) else None
            spec.day = ("date", value.month, value.day, year)
            spec.add(m)
            return
    m = t.take(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b" + _DOM_FOLLOWS)
    if m and 1 <= int(m.group(1)) <= 31:
        spec.day = ("dom", int(m.group(1)))
        spec.add(m)
        return
    for pat, day in (
        (r"\b(?:the\s+)?(?:end|back\s+half)\s+of\s+next\s+week\b", ("weekday", 4, "nextweek")),
        (r"\b(?:early|beginning\s+of|start\s+of|first\s+thing)\s+next\s+week\b", ("weekday", 0, "nextweek")),
        (r"\bafter\s+the\s+weekend\b", ("weekday", 0, "coming")),
        (r"\b(?:the\s+)?weekend\s+after\s+next\b", ("weekday", 5, "weekafternext")),
        (r"\bnext\s+weekend\b", ("weekday", 5, "nextweek")),
        (r"\b(?:the\s+)?week\s+after\s+next\b", ("offset", 14)),
        (r"\b(?:sometime\s+)?next\s+week\b", ("offset", 7)),
        (r"\bnext\s+month\b", ("months", 1)),
        (r"\b(?:the\s+)?end\s+of\s+(?:the|this)\s+week\b", ("weekday", 4, "this")),
        (r"\b(?:later\s+)?this\s+week\b", ("offset", 2)),
        (r"\b(?:this\s+|the\s+|over\s+the\s+|on\s+the\s+)?weekend\b", ("weekday", 5, "this")),
        (r"\btoday\b", ("today",)),
    ):
        m = t.take(pat)
        if m:
            spec.day = day
            spec.add(m)
            return


def _weekday(word: str) -> int:
    for i, name in enumerate(_WEEKDAYS):
        if name.startswith(word[:3]):
            return i
    raise ValueError(word)


def _scan_clock(t: _Text, spec: TimeSpec) -> None:
    # A clock that does not exist ("2:75", "25:00") is not read as its hour either.
    t.take(r"\b(?:at\s+|around\s+)?(?:\d{1,2}:[6-9]\d|2[4-9]:\d\d|[3-9]\d:\d\d)(?:\s*[ap]m)?\b")
    ampm = r"(am|pm)\b"
    m = t.take(rf"\b(?:at\s+|around\s+|about\s+|after\s+|by\s+)?(\d{{1,2}})(?::(\d{{2}})|\s(\d{{2}}))?\s*{ampm}")
    if m and 1 <= int(m.group(1)) <= 12 and int(m.group(2) or m.group(3) or 0) < 60:
        hour = int(m.group(1)) % 12 + (12 if m.group(4) == "pm" else 0)
        spec.clock = (hour, int(m.group(2) or m.group(3) or 0), "exact")
        spec.add(m)
        return
    for pat, hour, minute in (
            (r"\bafter\s+(?:lunch\s*time|lunch|noon|midday)\b", 13, 0),
            (r"\bbefore\s+(?:lunch\s*time|lunch|noon|midday)\b", 11, 0),
            (r"\bafter\s+(?:dinner|supper)(?:\s*time)?\b", 19, 0),
            (r"\b(?:around\s+|at\s+|by\s+)?(?:dinner|supper)\s*time\b", 18, 0),
            (r"\bafter\s+school\b", 16, 0)):
        m = t.take(pat)
        if m:
            spec.clock = (hour, minute, "exact")
            spec.add(m)
            return
    m = t.take(r"\b(?:at\s+|around\s+)?(noon|midday|lunch\s*time|lunch|midnight)(?:ish)?\b")
    if m:
        spec.clock = (0, 0, "exact") if m.group(1) == "midnight" else (12, 0, "exact")
        spec.add(m)
        return
    # "half past 2", "quarter to 5", and minutes said the same way: "ten to five",
    # "twenty past three" (not "from 10 to 5", a span of hours).
    m = t.take(r"(?<!from\s)(?<!between\s)(?<!\d\s)\b(?:at\s+|around\s+)?(half|quarter|5|10|20|25)(?:\s+minutes)?"
               r"\s+(past|after|to|till|of)\s+(\d{1,2})\b(?!:|\s*[ap]m\b|\s+\d)")
    if m and 1 <= int(m.group(3)) <= 12:
        hour = int(m.group(3))
        minute = {"half": 30, "quarter": 15}.get(m.group(1)) or int(m.group(1))
        if m.group(2) in ("to", "till", "of"):
            hour, minute = (hour - 1) or 12, 60 - minute
        spec.clock = (hour, minute, "bare")
        spec.add(m)
        return
    m = t.take(r"\b(?:at\s+|around\s+|about\s+|after\s+|by\s+)?([01]?\d|2[0-3]):([0-5]\d)\b")
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        exact = hour == 0 or hour >= 13 or m.group(1).startswith("0")
        spec.clock = (hour, minute, "exact" if exact else "bare")
        spec.add(m)
        return
    m = t.take(r"\b(?:at\s+|around\s+)?(\d{1,2})\s*oclock\b")
    if m and 1 <= int(m.group(1)) <= 12:
        spec.clock = (int(m.group(1)), 0, "bare")
        spec.add(m, m.group(0).replace("oclock", "o'clock"))
        return
    m = t.take(r"\bbetween\s+(\d{1,2})(?:\s*(am|pm))?\s+and\s+\d{1,2}(?:\s*(?:am|pm))?\b")
    if m and 1 <= int(m.group(1)) <= 12:
        hour = int(m.group(1))
        kind = "bare"
        if m.group(2):
            hour, kind = hour % 12 + (12 if m.group(2) == "pm" else 0), "exact"
        spec.clock = (hour, 0, kind)
        spec.add(m)
        return
    m = t.take(r"\b(at|around|about|after|by|say|before|until|till|maybe|like)\s+(\d{1,2})"
               r"(?:\s+(00|15|30|45))?(?:\s*ish)?\b(?!\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|%|dollars|bucks|people|times))")
    if m and 1 <= int(m.group(2)) <= 23:
        hour, minute = int(m.group(2)), int(m.group(3) or 0)
        # "before 5" means by 4; "until 6" ("I'm at work until 6") means from 6.
        kind = "exact" if hour >= 13 else ("before" if m.group(1) == "before" else "bare")
        spec.clock = (hour, minute, kind)
        spec.add(m)
        return
    m = t.take_after(rf"\b(?:tomorrow|today|tonight|morning|afternoon|evening|{WEEKDAY_RE})\s+(\d{{1,2}})(?:ish)?\b"
                     r"(?!\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|th|st|nd|rd|:))")
    if m:
        hour = int(m.group(m.lastindex))
        if 1 <= hour <= 12:
            spec.clock = (hour, 0, "bare")
            spec.add(m.start(m.lastindex), str(hour))
            return
    m = t.take(r"(?<![\d:])\b(\d{1,2})\s+(15|30|45)\b(?!\s*(?:minutes?|mins?|hours?|hrs?|days?|dollars|"
               r"bucks|%|percent|people|times|years?|th|st|nd|rd|:))")
    if m and 1 <= int(m.group(1)) <= 12:
        spec.clock = (int(m.group(1)), int(m.group(2)), "bare")     # "two thirty"
        spec.add(m)
        return
    m = t.take(r"\b(\d{1,2})\s*ish\b")
    if m and 1 <= int(m.group(1)) <= 12:
        spec.clock = (int(m.group(1)), 0, "bare")
        spec.add(m)


def _scan_part(t: _Text, spec: TimeSpec) -> None:
    for pat, part in (
        (r"\bfirst\s+thing(?:\s+in\s+the\s+morning)?\b", "first thing"),
        (r"\bbefore\s+(?:noon|lunch|midday)\b", "morning"),
        (r"\b(?:close|end)\s+of\s+business\b|\bcob\b", "end of day"),
        # "early"/"late" move the anchor within the part ("late afternoon" is ~16:00).
        (r"\b(?:in\s+the\s+|this\s+|tomorrow\s+|the\s+)?early\s+morning\b", "early morning"),
        (r"\b(?:in\s+the\s+|this\s+|tomorrow\s+|the\s+)?late\s+morning\b", "late morning"),
        (r"\b(?:in\s+the\s+|this\s+|tomorrow\s+|the\s+)?(?:mid\s*-?\s*)?morning\b", "morning"),
        (r"\b(?:in\s+the\s+|this\s+|the\s+)?early\s+afternoon\b", "early afternoon"),
        (r"\b(?:in\s+the\s+|this\s+|the\s+)?late\s+afternoon\b", "late afternoon"),
        (r"\b(?:in\s+the\s+|this\s+|the\s+)?(?:mid\s*-?\s*)?afternoon\b", "afternoon"),
        (r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(?:business\s+|work\s*)?day\b|\beod\b", "end of day"),
        (r"\b(?:in\s+the\s+|this\s+|the\s+)?late\s+evening\b", "late evening"),
        (r"\b(?:in\s+the\s+|this\s+|the\s+)?(?:early\s+)?evening\b|\bafter\s+work\b", "evening"),
        (r"\b(?:at\s+|this\s+|tomorrow\s+|the\s+)?night\b", "night"),
    ):
        m = t.take(pat)
        if m:
            spec.part = part
            spec.add(m)
            return


def _scan_vague(t: _Text, spec: TimeSpec) -> None:
    m = t.take(r"\b(?:in\s+a\s+(?:little\s+)?(?:bit|while)|in\s+a\s+little|shortly|soon)\b")
    if m:
        spec.delta = relativedelta(hours=1)
        spec.add(m)
        return
    m = t.take(r"\blater(?:\s+on|\s+today)?\b")
    if m:
        spec.delta = relativedelta(hours=2)
        spec.add(m)


def _original(raw: str, fragment: str) -> str:
    i = raw.lower().find(fragment.lower())
    return raw[i:i + len(fragment)] if i >= 0 else fragment


def find_time_phrase(text: str | None) -> str | None:
    """The words in ``text`` that say when (e.g. 'tomorrow at 3'), or None."""
    spec = scan(text or "")
    return None if spec.empty else spec.words


def clear_memo() -> None:
    """Forget remembered scans (benchmarks measure a first reading)."""
    _scan.cache_clear()
