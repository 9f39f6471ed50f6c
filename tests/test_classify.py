"""Post-call labelling by the rules over the transcript (the LLM's label, with these
rules as fallback, is tested in test_postcall.py)."""

from __future__ import annotations

import pytest

from dialcli.conversation.base import CallContext, collect
from dialcli.conversation.classify import classify_transcript, real_caller_turns
from dialcli.conversation.rules import EXAMPLE_CALLER_LINES, RuleBrain
from dialcli.models import Disposition, VoicemailAction
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
    # A request the recogniser cut in two turns is still one.
    ([("caller", "i asked not to"), ("agent", "Sorry, I didn't quite catch that."),
      ("caller", "be called")], Disposition.OPT_OUT),
    ([("caller", "call"), ("agent", "Sorry, I didn't quite catch that."),
      ("caller", "me back tomorrow please")], Disposition.COMPLETED),    # a fragment is no opt-out
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
