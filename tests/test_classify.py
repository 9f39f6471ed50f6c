"""Post-call labelling: rules over the transcript, and an LLM with a rules fallback."""

from __future__ import annotations

import json

import httpx
import pytest

from dialcli.conversation.base import CallContext, collect
from dialcli.conversation.classify import classify_by_rules, classify_transcript, real_caller_turns
from dialcli.conversation.rules import EXAMPLE_CALLER_LINES, RuleBrain
from dialcli.models import Disposition, VoicemailAction
from fakes.fake_llm import fake_llm, garbage, http_error, reply  # noqa: F401

KEY = "sk-classify-8f7e6d5c4b"
GREETING = "Hi Maria, this is Zara from Acme Solar. Do you have a minute?"


def t(*pairs):
    """t(('agent', 'Hi'), ('caller', 'Hello?')) -> transcript dicts."""
    return [{"role": r, "text": x, "at_s": float(i)} for i, (r, x) in enumerate(pairs)]


def label(transcript, **kw):
    end = classify_transcript(transcript, lead_name="Maria Lopez", **kw)
    return None if end is None else end.disposition


def test_no_real_caller_turn_gives_none():
    assert classify_transcript([]) is None
    assert classify_transcript(t(("agent", GREETING))) is None
    assert classify_transcript(t(("agent", GREETING), ("caller", "  "), ("caller", "..."))) is None
    assert real_caller_turns(t(("agent", GREETING), ("caller", "Hello?"))) == 1


def test_keypad_nine_is_an_opt_out_even_in_silence():
    end = classify_transcript(t(("agent", GREETING), ("dtmf", "9")))
    assert end.disposition is Disposition.OPT_OUT and "pressed 9" in end.summary


@pytest.mark.parametrize("pairs, expected", [
    ([("caller", "Hello?")], Disposition.COMPLETED),
    ([("caller", "Yeah?")], Disposition.COMPLETED),
    ([("caller", "Sure, tell me more.")], Disposition.COMPLETED),     # not yet a decision
    ([("caller", "Yes I'm interested"), ("agent", "Great!"), ("caller", "Actually, remove me "
      "from your list.")], Disposition.OPT_OUT),
    ([("caller", "I'm interested!"), ("caller", "Oh wait, wrong number, sorry")],
     Disposition.WRONG_NUMBER),
    ([("caller", "Hi, you've reached Maria. Leave a message after the tone.")],
     Disposition.VOICEMAIL),
    ([("caller", "I'm not interested.")], Disposition.NOT_INTERESTED),
    ([("caller", "Not interested."), ("caller", "Well, actually, I'd like to sign up.")],
     Disposition.INTERESTED),                                          # the last decision
    ([("caller", "Tell me more."), ("agent", "Would you like someone from Acme Solar to "
      "follow up with you?"), ("caller", "Yes.")], Disposition.INTERESTED),
    ([("caller", "Tell me more."), ("agent", "Would you like someone to follow up with "
      "you?"), ("caller", "Nope.")], Disposition.NOT_INTERESTED),
    ([("caller", "Who?"), ("agent", "I'm trying to reach Maria Lopez. Am I speaking with "
      "Maria?"), ("caller", "No.")], Disposition.WRONG_NUMBER),
    ([("caller", "Yes."), ("agent", "Are you interested in a free quote?"), ("caller", "No.")],
     Disposition.NOT_INTERESTED),
    ([("caller", "No."), ("agent", "No problem. Would you like me to call back at a better "
      "time?"), ("caller", "Yeah.")], Disposition.CALLBACK),
])
def test_rules(pairs, expected):
    assert label(t(("agent", GREETING), *pairs)) is expected


def test_callback_keeps_the_words_about_when():
    end = classify_transcript(t(("agent", GREETING), ("caller", "I'm driving."),
                                ("agent", "When would be a better time?"),
                                ("caller", "Friday afternoon.")))
    assert end.disposition is Disposition.CALLBACK and end.callback_text == "Friday afternoon."
    end = classify_transcript(t(("agent", GREETING), ("caller", "Call me back tomorrow at 3")))
    assert end.callback_text == "Call me back tomorrow at 3"
    assert end.summary.startswith("Labelled after the call")


@pytest.mark.parametrize("persona, expected", [
    ("not_interested", Disposition.NOT_INTERESTED), ("callback", Disposition.CALLBACK),
    ("opt_out", Disposition.OPT_OUT), ("wrong_number", Disposition.WRONG_NUMBER),
    ("one_word", Disposition.COMPLETED),
])
def test_example_lines_when_the_caller_hangs_up_first(persona, expected):
    """The classifier agrees with the rule brain on a one-line call it did not finish."""
    for line in EXAMPLE_CALLER_LINES[persona]:
        assert label(t(("agent", GREETING), ("caller", line))) is expected, line


def test_a_rule_session_cut_short_is_labelled_like_the_brain_would():
    ctx = CallContext(call_id=1, campaign="c", agent="Zara", to="+1", from_="+1",
                      greeting=GREETING, system_prompt="", voicemail_message="",
                      voicemail_action=VoicemailAction.HANGUP, lead_name="Maria Lopez")
    session = RuleBrain().open(ctx)
    session.opening()
    collect(session.respond("Sure, tell me more."))
    assert session.finish() is None                     # the caller hung up here
    transcript = session.transcript_dicts() + [{"role": "caller", "text": "Yes please."}]
    assert label(transcript) is Disposition.INTERESTED


def _llm_answer(obj_or_text):
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
    return reply(text)


CONVO = t(("agent", GREETING), ("caller", "Hmm, maybe. Tell me more."),
          ("agent", "Someone can walk you through it. Would you like that?"),
          ("caller", "I guess, yeah, have them call me next week."))


def test_llm_label_is_used(fake_llm):
    fake_llm.enqueue(_llm_answer({"disposition": "CALLBACK", "summary": "Wants a call next week.",
                                  "callback_at": "next week"}))
    end = classify_transcript(CONVO, llm=fake_llm.settings(key=KEY))
    assert end.disposition is Disposition.CALLBACK and end.callback_text == "next week"
    assert end.summary == "Labelled after the call: Wants a call next week."
    req = fake_llm.chat_requests[0]
    assert req.json["stream"] is False and req.json["temperature"] == 0
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert "Caller: I guess, yeah, have them call me next week." in req.json["messages"][1]["content"]
    assert "JSON" in req.json["messages"][0]["content"]


def test_llm_answer_in_a_code_fence_and_iso_time(fake_llm):
    fake_llm.enqueue(_llm_answer('```json\n{"disposition": "callback", "summary": "x", '
                                 '"callback_at": "2026-03-10T10:00:00-05:00"}\n```'))
    with httpx.Client() as http:
        end = classify_transcript(CONVO, llm=fake_llm.settings(), http=http)
    assert end.disposition is Disposition.CALLBACK
    assert end.callback_at == "2026-03-10T10:00:00-05:00"
    assert "authorization" not in fake_llm.chat_requests[0].headers


@pytest.mark.parametrize("script", [
    http_error(500), http_error(401, f"Incorrect API key provided: {KEY}"),
    garbage("not json at all"), _llm_answer("I think they were interested."),
    _llm_answer({"disposition": "DELIGHTED", "summary": "?"}), _llm_answer("[1, 2]"),
])
def test_llm_failures_fall_back_to_the_rules(fake_llm, script, caplog):
    fake_llm.enqueue(script)
    end = classify_transcript(CONVO, llm=fake_llm.settings(key=KEY))
    assert end == classify_by_rules(CONVO)
    assert end.disposition is Disposition.CALLBACK
    assert KEY not in caplog.text


def test_llm_timeout_falls_back(fake_llm):
    fake_llm.enqueue(reply('{"disposition": "INTERESTED", "summary": "x"}', first_delay=2.0))
    end = classify_transcript(CONVO, llm=fake_llm.settings(), timeout=0.3)
    assert end.disposition is Disposition.CALLBACK


def test_opt_out_is_never_left_to_the_model(fake_llm):
    convo = t(("agent", GREETING), ("caller", "Sounds good."), ("caller", "Actually, "
              "unsubscribe me."))
    end = classify_transcript(convo, llm=fake_llm.settings())
    assert end.disposition is Disposition.OPT_OUT
    assert fake_llm.chat_requests == []


def test_silent_call_does_not_ask_the_model(fake_llm):
    assert classify_transcript(t(("agent", GREETING)), llm=fake_llm.settings()) is None
    assert fake_llm.chat_requests == []


def test_a_yes_to_the_opt_out_question_is_an_opt_out_after_the_call():
    from dialcli.conversation.classify import classify_by_rules
    transcript = [
        {"role": "agent", "text": "Hi Maria, this is Zara from Acme Solar. Do you have a minute?"},
        {"role": "caller", "text": "why do you keep calling me"},
        {"role": "agent", "text": "I'm sorry about the calls. Would you like me to stop calling this number?"},
        {"role": "caller", "text": "yeah"},
    ]
    end = classify_by_rules(transcript, lead_name="Maria Lopez")
    assert end is not None and end.disposition.value == "OPT_OUT"
    transcript[-1] = {"role": "caller", "text": "no it's fine"}
    end = classify_by_rules(transcript, lead_name="Maria Lopez")
    assert end is None or end.disposition.value != "OPT_OUT"
