"""The rule brain against the labelled caller corpus (tests/data/brain_corpus_*.csv),
and the behaviours issue 15 asks for: opt-outs in any words, one confirming question
when a complaint may be one, frequency complaints never booked as callbacks, Spanish,
day parts that are ranges ("after lunch")."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialcli.conversation.base import collect
from dialcli.conversation.callback_time import parse_callback_time
from dialcli.conversation.evaluate import run_cases
from dialcli.conversation.intents import Intent, read
from dialcli.conversation.rules import OPT_OUT_QUESTION, RuleBrain
from dialcli.models import Disposition

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("brain_eval", ROOT / "bench" / "brain_eval.py")
brain_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(brain_eval)
TZ, NOW, CTX = brain_eval.TZ, brain_eval.NOW, brain_eval.CTX


def test_corpus_is_large_and_varied():
    cases = brain_eval.load("all")
    assert len(cases) >= 600
    labels = {c.expected for c in cases}
    assert labels >= {"OPT_OUT", "NOT_INTERESTED", "INTERESTED", "CALLBACK", "WRONG_NUMBER",
                      "VOICEMAIL", "CONTINUE"}
    assert sum(c.callback_range is not None for c in cases) >= 60
    held = brain_eval.load("heldout")
    assert 0.15 < len(held) / len(cases) < 0.35


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_corpus_meets_the_targets(split):
    cases = brain_eval.load(split)
    results = run_cases(RuleBrain(), CTX, cases, NOW)
    opt = [r for r in results if r.case.expected == "OPT_OUT"]
    other = [r for r in results if r.case.expected != "OPT_OUT"]
    decisive = [r for r in results if r.case.expected != "CONTINUE"]
    timed = [r for r in results if r.case.callback_range is not None]
    recall = sum(r.got == "OPT_OUT" for r in opt) / len(opt)
    false_opt = sum(r.got == "OPT_OUT" for r in other) / len(other)
    decisive_ok = sum(r.got == r.case.expected for r in decisive) / len(decisive)
    times_ok = sum(r.passed for r in timed) / len(timed)
    # Held-out lines are judged in aggregate only: their text is never shown.
    misses = ([(r.case.caller, r.why) for r in results if not r.passed] if split == "tune"
              else f"{sum(not r.passed for r in results)} held-out cases failed")
    # The tune split has been read line by line: everything there must pass. The
    # held-out floor guards what was measured (the opt-out bar is met on the split
    # now, not yet on every blind batch: see README "Understanding callers").
    floor = {"tune": (1.0, 0.0, 0.99, 0.99), "heldout": (0.92, 0.02, 0.91, 0.96)}[split]
    assert recall >= floor[0], misses
    assert false_opt <= floor[1], misses
    assert decisive_ok >= floor[2], misses
    assert times_ok >= floor[3], misses


def talk(lines):
    session = RuleBrain().open(CTX)
    session.opening()
    replies, end = [], None
    for line in lines:
        text, end = collect(session.respond(line))
        replies.append(text)
        if end is not None:
            break
    return session, end, replies


@pytest.mark.parametrize("complaint", [
    "why do you keep calling me", "How many times are you going to call me?",
    "you guys called yesterday too", "who keeps calling from this number",
    "por qué me siguen llamando",
])
def test_a_complaint_gets_one_confirming_question_and_yes_opts_out(complaint):
    _, end, replies = talk([complaint])
    assert end is None and replies[0].endswith(OPT_OUT_QUESTION)
    _, end, _ = talk([complaint, "yeah"])
    assert end.disposition is Disposition.OPT_OUT
    _, end, replies = talk([complaint, "no, it's fine, what is it?"])
    assert end is None and "stop calling" not in replies[-1]


@pytest.mark.parametrize("line", [
    "this is like the fourth time you guys called today. stop it",
    "you called me 5 times this week",
    "this is the third call today",
])
def test_frequency_complaints_are_never_callbacks(line):
    r = read(line, "maria")
    assert r.time_phrase is None and r.intent in (Intent.OPT_OUT, Intent.MAYBE_OPT_OUT)
    _, end, _ = talk([line, "yes"])
    assert end.disposition is Disposition.OPT_OUT


@pytest.mark.parametrize("line", [
    "i tried solar the first time around", "my neighbor on the 5th floor has solar",
    "Hmm, the weather is nice today", "i'm on my lunch break",
])
def test_talk_with_a_time_word_in_it_is_not_a_callback(line):
    _, end, _ = talk([line])
    assert end is None


@pytest.mark.parametrize("line", [
    "don't call me maria call me mary", "don't call me ma'am", "how did you get my number",
    "stop by whenever you want", "leave me a message and i'll get back to you",
])
def test_lines_that_only_look_like_opt_outs(line):
    assert read(line, "maria").intent is not Intent.OPT_OUT


@pytest.mark.parametrize("phrase, lo, hi", [
    ("after lunch", "2026-03-04 13:00", "2026-03-04 14:00"),
    ("tomorrow before noon", "2026-03-05 08:00", "2026-03-05 12:00"),
    ("mañana a las 3", "2026-03-05 15:00", "2026-03-05 15:00"),
    ("mañana a las 3 y media de la tarde", "2026-03-05 15:30", "2026-03-05 15:30"),
    ("el lunes", "2026-03-09 08:00", "2026-03-09 21:00"),
    ("el viernes a las diez", "2026-03-06 10:00", "2026-03-06 10:00"),
    ("en una hora", "2026-03-04 11:00", "2026-03-04 11:00"),
    ("call me back in 15", "2026-03-04 10:15", "2026-03-04 10:15"),
    ("close of business", "2026-03-04 16:00", "2026-03-04 18:00"),
    ("on the 12th", "2026-03-12 00:00", "2026-03-12 23:59"),
])
def test_callback_phrases(phrase, lo, hi):
    got = parse_callback_time(phrase, NOW, TZ)
    assert got.source == "parsed"
    local = got.local.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M")
    assert lo <= local <= hi, (phrase, local)


def test_a_time_that_has_passed_today_moves_to_tomorrow():
    evening = datetime(2026, 3, 4, 15, 30, tzinfo=ZoneInfo(TZ))
    got = parse_callback_time("after lunch", evening, TZ)
    assert got.local.strftime("%Y-%m-%d %H:%M") == "2026-03-05 13:00"


def test_the_shipped_model_loads_and_only_speaks_where_the_rules_are_unsure(monkeypatch):
    from dialcli.conversation import classifier, intents

    m = classifier.model()
    assert m is not None and set(m.classes) == set(classifier.OUTCOMES)
    assert classifier.MODEL_PATH.stat().st_size < 1_000_000
    probs = m.probabilities("please stop calling me")
    assert abs(sum(probs.values()) - 1) < 1e-9 and max(probs, key=probs.get) == "OPT_OUT"
    # A line the rules read is theirs; the model's reading is recorded only when used.
    r = read("call me tomorrow at 3", "maria")
    assert r.intent is Intent.CALLBACK and r.rule_intent is None
    # Without the model file the rules work alone.
    monkeypatch.setattr(classifier, "MODEL_PATH", classifier.MODEL_PATH.with_name("missing.json"))
    classifier.model.cache_clear()
    intents.clear_memo()
    try:
        assert classifier.model() is None
        assert read("stop calling me", "maria").intent is Intent.OPT_OUT
    finally:
        monkeypatch.undo()
        classifier.model.cache_clear()
        intents.clear_memo()


def test_the_model_never_turns_a_yes_to_a_question_into_something_else():
    _, end, _ = talk(["okay", "yeah that's fine"])
    assert end.disposition is Disposition.INTERESTED


@pytest.mark.parametrize("phrase, expected", [
    ("call me back but not before noon", "2026-03-04 13:00"),
    ("don't call after 8 though, try tomorrow", "2026-03-05 10:00"),
    ("call me tomorrow but don't call before 9am", "2026-03-05 10:00"),
])
def test_limits_are_not_times(phrase, expected):
    got = parse_callback_time(phrase, NOW, TZ)
    assert got.local.strftime("%Y-%m-%d %H:%M") == expected


@pytest.mark.parametrize("phrase", ["call me at 2:75", "call me at 25:30", "call me on february 30",
                                    "call me at 13 pm", "on the 31st of april"])
def test_times_that_do_not_exist_give_the_default(phrase):
    assert parse_callback_time(phrase, NOW, TZ).source == "default"


@pytest.mark.parametrize("phrase, expected", [
    ("end of next week", "Fri 03-13 10:00"), ("early next week", "Mon 03-09 10:00"),
    ("after the weekend", "Mon 03-09 10:00"), ("around dinner time", "Wed 03-04 18:00"),
    ("after dinner", "Wed 03-04 19:00"), ("noonish", "Wed 03-04 12:00"),
    ("two thirty", "Wed 03-04 14:30"), ("call me at 5 30 pm", "Wed 03-04 17:30"),
    ("before lunch tomorrow", "Thu 03-05 11:00"), ("el fin de semana", "Sat 03-07 10:00"),
    ("mañana temprano", "Thu 03-05 10:00"), ("esta tarde a las 4", "Wed 03-04 16:00"),
    ("a las 4 y media", "Wed 03-04 16:30"), ("pasado mañana", "Fri 03-06 10:00"),
])
def test_more_callback_phrases(phrase, expected):
    got = parse_callback_time(phrase, NOW, TZ)
    assert got.source == "parsed" and got.local.strftime("%a %m-%d %H:%M") == expected
