"""Callback-time parsing: phrases, zones, DST, defaults, and the always-future property."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialcli.conversation.callback_time import (
    MAX_AHEAD, callback_due, find_time_phrase, parse_callback_time, spoken,
)

UTC = timezone.utc
NY, HNL = "America/New_York", "Pacific/Honolulu"
T0 = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)   # Tue 10:00 in New York, 05:00 in Honolulu


def local(text, now=T0, tz=NY, window=None):
    got = parse_callback_time(text, now, tz, window)
    return got.due_utc.astimezone(ZoneInfo(tz) if tz else UTC).strftime("%a %Y-%m-%d %H:%M"), got


@pytest.mark.parametrize("text, expected", [
    ("call me back tomorrow at 3", "Wed 2026-03-04 15:00"),
    ("Tomorrow at 3pm please", "Wed 2026-03-04 15:00"),
    ("tomorrow at 9", "Wed 2026-03-04 09:00"),             # 8-11 -> am
    ("tomorrow at 7", "Wed 2026-03-04 19:00"),             # 1-7 -> pm
    ("tomorrow morning at 7", "Wed 2026-03-04 07:00"),     # a day part overrides
    ("tomorrow at 8 in the evening", "Wed 2026-03-04 20:00"),
    ("I'm busy, try next Tuesday morning", "Tue 2026-03-10 10:00"),
    ("can you call in two hours", "Tue 2026-03-03 12:00"),
    ("in 30 minutes", "Tue 2026-03-03 10:30"),
    ("call me in an hour", "Tue 2026-03-03 11:00"),
    ("in half an hour", "Tue 2026-03-03 10:30"),
    ("in an hour and a half", "Tue 2026-03-03 11:30"),
    ("give me twenty minutes", "Tue 2026-03-03 10:20"),
    ("Friday", "Fri 2026-03-06 10:00"),                    # a day keeps the local time
    ("Friday afternoon", "Fri 2026-03-06 14:00"),
    ("at 5:30", "Tue 2026-03-03 17:30"),
    ("at 15:45", "Tue 2026-03-03 15:45"),
    ("next week", "Tue 2026-03-10 10:00"),                 # same weekday, same time
    ("Thursday next week", "Thu 2026-03-12 10:00"),
    ("Dec 3 at 10am", "Thu 2026-12-03 10:00"),
    ("on the 3rd of December", "Thu 2026-12-03 10:00"),
    ("December third at noon", "Thu 2026-12-03 12:00"),
    ("12/3", "Thu 2026-12-03 10:00"),
    ("the 15th", "Sun 2026-03-15 10:00"),
    ("tonight", "Tue 2026-03-03 19:00"),
    ("tonight at 8", "Tue 2026-03-03 20:00"),
    # An hour that contradicts its day part gives way to the day part.
    ("tonight at 2", "Tue 2026-03-03 19:00"),
    ("tonight at 12", "Tue 2026-03-03 19:00"),
    ("this evening at 3", "Tue 2026-03-03 18:00"),
    ("tonight at 11", "Tue 2026-03-03 23:00"),
    # The past names no time: only the future words count, else the default.
    ("you called last Friday, try me Thursday at 4", "Thu 2026-03-05 16:00"),
    ("we spoke this past Monday, call me tomorrow at 9", "Wed 2026-03-04 09:00"),
    ("got your letter two days ago, call at 5", "Tue 2026-03-03 17:00"),
    ("you called Monday, call me Friday", "Fri 2026-03-06 10:00"),
    # A count is not a date.
    ("Friday, that's the third time I've said it", "Fri 2026-03-06 10:00"),
    ("this afternoon", "Tue 2026-03-03 14:00"),
    ("this evening", "Tue 2026-03-03 18:00"),
    ("half past four tomorrow", "Wed 2026-03-04 16:30"),
    ("quarter to five", "Tue 2026-03-03 16:45"),
    ("the day after tomorrow", "Thu 2026-03-05 10:00"),
    ("at three thirty", "Tue 2026-03-03 15:30"),
    ("3 o'clock", "Tue 2026-03-03 15:00"),
    ("around noon", "Tue 2026-03-03 12:00"),
    ("before 5", "Tue 2026-03-03 16:00"),
    ("I'm at work until 6", "Tue 2026-03-03 18:00"),
    ("later", "Tue 2026-03-03 12:00"),
    ("in 3 days", "Fri 2026-03-06 10:00"),
    ("at 9", "Wed 2026-03-04 09:00"),                      # 09:00 today has passed
    ("this morning", "Tue 2026-03-03 11:00"),              # anchor passed, part still on: +1h
    ("2026-03-04T15:00:00-05:00", "Wed 2026-03-04 15:00"),
    ("2026-03-04T20:00:00Z", "Wed 2026-03-04 15:00"),
    ("2026-03-05 09:30", "Thu 2026-03-05 09:30"),          # naive ISO: recipient's zone
    # "tonight" with a named day is that day's night, not today's (T0 is Tue Mar 3).
    ("the 15th at 8 tonight", "Sun 2026-03-15 20:00"),
    ("march 15th at 8 tonight", "Sun 2026-03-15 20:00"),
    ("friday at 8 tonight", "Fri 2026-03-06 20:00"),
    ("tomorrow at 8 tonight", "Wed 2026-03-04 20:00"),
    ("tonight at 8", "Tue 2026-03-03 20:00"),
    # A night refused is no time at all: the day said after it is the callback.
    ("not tonight, call me friday", "Fri 2026-03-06 10:00"),
    ("can't do tonight, try tomorrow", "Wed 2026-03-04 10:00"),
    # "early" and "late" move the anchor inside the day part (T0 is Tue 10:00).
    ("tomorrow early morning", "Wed 2026-03-04 09:00"),
    ("tomorrow late morning", "Wed 2026-03-04 11:00"),
    ("tomorrow mid-morning", "Wed 2026-03-04 10:00"),
    ("tomorrow early afternoon", "Wed 2026-03-04 13:00"),
    ("tomorrow afternoon", "Wed 2026-03-04 14:00"),
    ("late afternoon tomorrow", "Wed 2026-03-04 16:00"),
    ("tomorrow early evening", "Wed 2026-03-04 18:00"),
    ("tomorrow late evening", "Wed 2026-03-04 20:00"),
    ("late morning", "Tue 2026-03-03 11:00"),            # still ahead today
    ("in the late afternoon around 3", "Tue 2026-03-03 15:00"),   # the hour said wins
])
def test_phrases_new_york(text, expected):
    when, got = local(text)
    assert when == expected
    assert got.source == "parsed" and got.matched


def test_same_phrase_two_zones_gives_local_times():
    ny, _ = local("tomorrow at 3", tz=NY)
    hnl, _ = local("tomorrow at 3", tz=HNL)
    assert ny == "Wed 2026-03-04 15:00" and hnl == "Wed 2026-03-04 15:00"
    a = parse_callback_time("tomorrow at 3", T0, NY).due_utc
    b = parse_callback_time("tomorrow at 3", T0, HNL).due_utc
    assert b - a == timedelta(hours=5)           # EST is UTC-5, HST UTC-10


def test_tomorrow_is_the_recipients_tomorrow():
    # 06:00 UTC: already Wednesday 01:00 in New York, still Tuesday 20:00 in Honolulu.
    now = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    assert local("tomorrow at 3", now, NY)[0] == "Thu 2026-03-05 15:00"
    assert local("tomorrow at 3", now, HNL)[0] == "Wed 2026-03-04 15:00"
    assert local("tonight", now, HNL)[0] == "Wed 2026-03-04 19:00"   # 21:00 ends the night
    half_past = datetime(2026, 3, 4, 5, 30, tzinfo=UTC)                # 19:30 in Honolulu
    assert local("tonight", half_past, HNL)[0] == "Tue 2026-03-03 20:30"  # still tonight: +1h


def test_relative_hours_are_real_hours_across_spring_forward():
    now = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)   # 01:30 EST, the night clocks jump
    got = parse_callback_time("in two hours", now, NY)
    assert got.due_utc == now + timedelta(hours=2)
    assert got.local.strftime("%H:%M %Z") == "04:30 EDT"


def test_default_keeps_wall_time_across_dst():
    now = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)   # Sat 10:00 EST
    got = parse_callback_time("whenever, I don't care", now, NY)
    assert got.source == "default" and got.matched == ""
    assert got.due_utc == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)   # Sun 10:00 EDT: 23 h
    fall = datetime(2026, 10, 31, 14, 0, tzinfo=UTC)                # Sat 10:00 EDT
    assert parse_callback_time("", fall, NY).due_utc == datetime(2026, 11, 1, 15, 0, tzinfo=UTC)


def test_time_in_the_dst_gap_maps_forward():
    now = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    got = parse_callback_time("tomorrow at 2:30am", now, NY)
    assert got.local.strftime("%Y-%m-%d %H:%M %Z") == "2026-03-08 03:30 EDT"


def test_ambiguous_fall_back_time_takes_the_first():
    now = datetime(2026, 10, 31, 14, 0, tzinfo=UTC)
    got = parse_callback_time("tomorrow at 1:30 am", now, NY)
    assert got.due_utc == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)   # 01:30 EDT


def test_half_hour_zone():
    now = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)    # 08:30 in Kolkata
    assert local("at 11", now, "Asia/Kolkata")[0] == "Tue 2026-03-03 11:00"


def test_window_decides_am_or_pm_for_a_bare_hour():
    assert local("at 8", window=("09:00", "21:00"))[0] == "Tue 2026-03-03 20:00"
    assert local("at 8", window=("08:00", "12:00"))[0] == "Wed 2026-03-04 08:00"
    assert local("at 8")[0] == "Wed 2026-03-04 08:00"       # heuristic: 8 -> am
    # Both readings inside the window: the business-hours heuristic decides.
    assert local("at 3", window=("02:00", "21:00"))[0] == "Tue 2026-03-03 15:00"


def test_past_times_move_forward_by_their_natural_step():
    assert local("Tuesday at 9am")[0] == "Tue 2026-03-10 09:00"     # a week
    assert local("this Tuesday at 4pm")[0] == "Tue 2026-03-03 16:00"
    assert local("this Tuesday at 9am")[0] == "Tue 2026-03-10 09:00"
    assert local("March 1")[0] == "Mon 2027-03-01 10:00"            # a year
    assert local("2026-03-02T12:00:00-05:00")[0] == "Tue 2026-03-03 12:00"  # by days
    assert local("2026-03-02T09:00:00-05:00")[0] == "Wed 2026-03-04 09:00"


@pytest.mark.parametrize("text", ["", "I'm not interested", "blah blah", "Feb 30",
                                  "in 900 days", "in 99999999999 weeks", "Yes, good morning!"])
def test_unreadable_or_absurd_gives_the_default(text):
    got = parse_callback_time(text, T0, NY)
    assert got.source == "default"
    assert got.due_utc == datetime(2026, 3, 4, 15, 0, tzinfo=UTC)   # next day, same time


def test_unknown_or_missing_zone_reads_in_utc():
    assert parse_callback_time("tomorrow at 3", T0, None).due_utc == datetime(
        2026, 3, 4, 15, 0, tzinfo=UTC)
    assert parse_callback_time("tomorrow at 3", T0, "Mars/Olympus").due_utc == datetime(
        2026, 3, 4, 15, 0, tzinfo=UTC)


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_callback_time("tomorrow", datetime(2026, 3, 3, 10, 0), NY)


def test_find_time_phrase():
    assert find_time_phrase("I'm busy, call me back tomorrow at 3?") == "tomorrow at 3"
    assert find_time_phrase("Not a good time. Try me next Tuesday morning.") == "next tuesday morning"
    for line in ("I'm not interested", "Wrong number, sorry.", "Yes, speaking.",
                 "Good morning!", "I have 3 kids", "Who is this?"):
        assert find_time_phrase(line) is None, line


@pytest.mark.parametrize("past", ["last Friday", "this past Monday", "yesterday at 3",
                                  "earlier today", "two days ago", "you called Monday",
                                  "the fourth time you called"])
def test_the_past_books_nothing(past):
    """A past reference is never read as the next such day: no time, the default."""
    assert find_time_phrase(past) is None
    assert parse_callback_time(past, T0, NY).source == "default"


@pytest.mark.parametrize("words, said", [
    ("tonight at 2", "tonight at 7 PM"), ("this evening at 3", "this evening at 6 PM"),
    ("tonight at 8", "tonight at 8"), ("tomorrow at 3", "tomorrow at 3"),
    ("tomorrow morning at 7", "tomorrow morning at 7"), ("tonight before 9", "tonight before 9"),
    ("not this friday but next", "the friday after this one"),
    ("not this tuesday, next tuesday at 3", "the tuesday after this one at 3"),
])
def test_the_words_repeated_to_the_caller_name_the_booked_time(words, said):
    assert spoken(words) == said


def test_callback_due_prefers_the_resolved_time():
    got = callback_due("2026-03-05T11:00:00-05:00", "tomorrow at 3", T0, NY)
    assert got.local.strftime("%d %H:%M") == "05 11:00"
    got = callback_due("sometime", "tomorrow at 3", T0, NY)       # unreadable -> the words
    assert got.local.strftime("%d %H:%M") == "04 15:00"
    got = callback_due(None, None, T0, NY)
    assert got.source == "default"
    assert "default" in got.describe()


_PHRASES = st.sampled_from([
    "tomorrow at 3", "next tuesday morning", "in two hours", "friday", "at 5:30", "next week",
    "dec 3 at 10am", "tonight", "tonight at 2", "last friday", "yesterday at 3", "this afternoon", "the 31st", "12/31", "at 12", "before 1",
    "in 0 minutes", "later", "2026-01-01T00:00:00Z", "half past 11", "end of the week",
    "sunday evening", "in 3 days at 7", "midnight", "this morning", "quarter to 1",
])
_ZONES = st.sampled_from([NY, HNL, "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe",
                          "America/Phoenix", "UTC", None])
_NOWS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                     timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_PHRASES, st.text(max_size=40),
                      st.tuples(_PHRASES, _PHRASES).map(" and ".join)),
       now=_NOWS, tz=_ZONES,
       window=st.sampled_from([None, ("09:00", "20:00"), ("08:00", "21:00")]))
def test_always_future_and_aware(text, now, tz, window):
    got = parse_callback_time(text, now, tz, window)
    assert got.due_utc.tzinfo is not None and got.due_utc.utcoffset() == timedelta(0)
    assert now < got.due_utc <= now + MAX_AHEAD + timedelta(days=1)
    assert got.source in ("parsed", "default")
    assert (got.matched == "") == (got.source == "default")


# ------------------------------------------------------- relative weekday words
# The rule (module doc): bare "Tuesday" is the first Tuesday after today, "this
# Tuesday" may be today, "next Tuesday" is the Tuesday of next calendar week (weeks
# start Monday). Checked on every day of one week, for every named day, against a
# plain oracle -- so the rule is tested whole, not one example.

WEEK = [datetime(2026, 12, 7 + i, 10, 0, tzinfo=ZoneInfo(NY)) for i in range(7)]   # Mon..Sun
NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ES_NAMES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


def _on(text, now):
    got = parse_callback_time(text, now, NY)
    assert got.source == "parsed", text
    return got.local


def _coming(now, wd):
    return now.date() + timedelta(days=(wd - now.weekday()) % 7 or 7)


def _next(now, wd):
    return now.date() - timedelta(days=now.weekday()) + timedelta(days=7 + wd)


@pytest.mark.parametrize("now", WEEK, ids=lambda d: d.strftime("%a"))
@pytest.mark.parametrize("wd", range(7), ids=lambda i: NAMES[i])
def test_next_weekday_is_the_one_of_next_calendar_week(now, wd):
    name = NAMES[wd]
    want = _next(now, wd)
    # The stated rule, in words: a day still ahead this week is skipped for the
    # following week's; otherwise "next" is simply the first one ahead.
    assert want == (_coming(now, wd) + timedelta(days=7) if wd > now.weekday() else _coming(now, wd))
    for text in (f"call me next {name}", f"next {name.capitalize()}", f"{name} next week",
                 f"next week {name}", f"next week on {name}", f"try next {name[:3]}"):
        assert _on(text, now).date() == want, text
        assert _on(text, now).time() == now.time().replace(tzinfo=None), text   # same time
    assert _on(f"next {name} afternoon", now).replace(tzinfo=None) == datetime.combine(want, datetime.min.time()).replace(hour=14)
    assert _on(f"call me next {name} at 3", now).replace(tzinfo=None) == datetime.combine(want, datetime.min.time()).replace(hour=15)
    assert _on(f"next {name} morning at 9:30", now).strftime("%Y-%m-%d %H:%M") == f"{want} 09:30"
    # Spanish, through the same words.
    es = ES_NAMES[wd]
    for text in (f"llámame el próximo {es}", f"el {es} que viene", f"el {es} de la semana que viene"):
        assert _on(text, now).date() == want, text
    assert _on(f"el próximo {es} a las 3", now).strftime("%Y-%m-%d %H:%M") == f"{want} 15:00"


@pytest.mark.parametrize("now", WEEK, ids=lambda d: d.strftime("%a"))
@pytest.mark.parametrize("wd", range(7), ids=lambda i: NAMES[i])
def test_bare_this_and_week_from_weekday(now, wd):
    name, coming = NAMES[wd], _coming(now, wd)
    for text in (name, f"on {name}", f"this coming {name}", f"coming {name}", f"el {ES_NAMES[wd]}"):
        assert _on(text, now).date() == coming, text
    this = now.date() if wd == now.weekday() else coming
    assert _on(f"this {name} at 3", now).strftime("%Y-%m-%d %H:%M") == f"{this} 15:00"
    assert _on(f"este {ES_NAMES[wd]} a las 3", now).strftime("%Y-%m-%d %H:%M") == f"{this} 15:00"
    week = timedelta(days=7)
    cases = {
        f"a week from {name}": coming + week, f"call me a week from {name} at 3": coming + week,
        f"one week from {name}": coming + week, f"a week on {name}": coming + week,
        f"two weeks from {name}": coming + 2 * week, f"2 weeks from {name}": coming + 2 * week,
        f"a week from this {name}": this + week,     # said on that day: a week from today
        f"a week from next {name}": _next(now, wd) + week,
        f"{name} after next": coming + week,
        f"the {name} after next": coming + week,
        f"not this {name} but next": coming + week,
        f"not this {name}, next {name}": coming + week,
    }
    for text, want in cases.items():
        assert _on(text, now).date() == want, text
    assert _on(f"a week from {name} at 3", now).hour == 15


@pytest.mark.parametrize("now", WEEK, ids=lambda d: d.strftime("%a"))
def test_week_from_today_and_tomorrow(now):
    today = now.date()
    for text, days in (("a week from today", 7), ("a week from tomorrow", 8),
                       ("two weeks from today", 14), ("two weeks from tomorrow", 15),
                       ("call me a week from tomorrow at 3", 8)):
        got = _on(text, now)
        assert got.date() == today + timedelta(days=days), text
    assert _on("a week from tomorrow at 3", now).hour == 15
    monday = today - timedelta(days=today.weekday())
    assert _on("next weekend", now).date() == monday + timedelta(days=12)
    assert _on("the weekend after next", now).date() == monday + timedelta(days=19)


def test_next_weekday_examples_said_on_a_monday_and_a_saturday():
    mon, sat = WEEK[0], WEEK[5]
    assert _on("call me next Tuesday", mon).date() == datetime(2026, 12, 15).date()
    assert _on("a week from Tuesday", mon).date() == datetime(2026, 12, 15).date()
    assert _on("next Monday", mon).date() == datetime(2026, 12, 14).date()
    assert _on("Tuesday", mon).date() == datetime(2026, 12, 8).date()
    assert _on("this Tuesday", mon).date() == datetime(2026, 12, 8).date()
    assert _on("next Monday", sat).date() == datetime(2026, 12, 14).date()    # the day after tomorrow
    assert _on("next Sunday", sat).date() == datetime(2026, 12, 20).date()    # tomorrow is "this Sunday"


@pytest.mark.parametrize("text,want", [
    ("tuesday december 15 at 3", "2026-12-15 15:00"),
    ("on tuesday, december 15th", "2026-12-15 10:00"),
    ("el 15 de diciembre", "2026-12-15 10:00"),
    ("llámeme el 3 de enero a las 4", "2027-01-03 16:00"),
    ("el martes 15 de diciembre por la tarde", "2026-12-15 14:00"),
    ("tuesday may be better", "2026-12-08 10:00"),
])
def test_a_weekday_with_its_date_books_the_date(text, want):
    """'Tuesday, December 15th' and 'el 15 de diciembre': the date is the more precise
    (the weekday alone booked tomorrow, and Spanish month names were not read)."""
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)           # Monday, 10:00 in New York
    got = parse_callback_time(text, now, "America/New_York")
    assert got.local.strftime("%Y-%m-%d %H:%M") == want, got


@pytest.mark.parametrize("text, expected, said", [
    # A speaker who corrects the time is booked for the correction (T0 is a Tuesday).
    ("can you call me back tues- no thursday", "Thu 2026-03-05 10:00", "thursday"),
    ("call me back friday no wait saturday morning", "Sat 2026-03-07 10:00", "saturday morning"),
    ("tomorrow at 3, no wait, 4", "Wed 2026-03-04 16:00", "tomorrow at 4"),
    ("call me tomorrow at 3 I mean 4", "Wed 2026-03-04 16:00", "tomorrow at 4"),
    ("friday morning, no, saturday", "Sat 2026-03-07 10:00", "morning saturday"),
    ("in an hour, no, make it two hours", "Tue 2026-03-03 12:00", "2 hours"),
    ("Monday, actually Tuesday would be better", "Tue 2026-03-10 10:00", "tuesday"),
    # Not corrections: "no" before the only time, or after it, or "no later than".
    ("no, tomorrow at 3", "Wed 2026-03-04 15:00", "tomorrow at 3"),
    ("tomorrow, no problem", "Wed 2026-03-04 10:00", "tomorrow"),
])
def test_a_corrected_time_is_the_correction(text, expected, said):
    when, got = local(text)
    assert (when, got.matched) == (expected, said)


@pytest.mark.parametrize("text, expected", [
    # Minutes before or after the hour said as words, as speech-to-text writes them.
    ("call me at ten to five", "Tue 2026-03-03 16:50"),
    ("call me at twenty past three", "Tue 2026-03-03 15:20"),
    ("around 20 after 4", "Tue 2026-03-03 16:20"),
    # A bare duration, the answer to "when?".
    ("couple of hours", "Tue 2026-03-03 12:00"),
    ("2 hrs", "Tue 2026-03-03 12:00"),
    ("maybe an hour", "Tue 2026-03-03 11:00"),
])
def test_minutes_to_the_hour_and_bare_durations(text, expected):
    assert local(text)[0] == expected


@pytest.mark.parametrize("text", ["anytime from 10 to 5", "between 10 to 5", "3 weeks ago",
                                  "the couple of days we spent"])
def test_spans_and_the_past_are_no_minutes_and_no_duration(text):
    assert local(text)[1].source == "default"


@pytest.mark.parametrize("text, expected", [
    # An hour said just before its day part, without "at" (T0 is Tuesday 10:00).
    ("8 tonight", "Tue 2026-03-03 20:00"),
    ("call me 7:30 tonight", "Tue 2026-03-03 19:30"),
    ("call me 9 in the morning", "Wed 2026-03-04 09:00"),
    # Where the caller will be, said for when.
    ("after I get off work", "Tue 2026-03-03 18:00"),
    ("when i get home", "Tue 2026-03-03 18:00"),
    # The day named after "any day but" is the one not to call: nothing is booked for it.
    ("any day but monday", "Wed 2026-03-04 10:00"),
    ("don't call me on sundays but saturday morning works", "Sat 2026-03-07 10:00"),
])
def test_hours_before_day_parts_and_days_excluded(text, expected):
    assert local(text)[0] == expected


@pytest.mark.parametrize("text, expected", [
    # A phone number said digit by digit is no time; a time said with it still is.
    ("call me at five five five one two three four", None),
    ("call me at five five five one two three four tomorrow at two", "Wed 2026-03-04 14:00"),
])
def test_a_phone_number_said_digit_by_digit_is_no_time(text, expected):
    when, got = local(text)
    assert (got.source, when) == (("default", got.local.strftime("%a %Y-%m-%d %H:%M")) if expected is None
                                  else ("parsed", expected))
