"""The greeting gate: greet a person, never a machine (conversation/greeting.py).

Pure state machine over injected times; the live path through the fake Twilio is in
test_live_opening.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from dialcli.conversation.greeting import (
    ABANDON_LIMIT_S, GREET, GREET_AFTER_SILENCE_S, RESUME, STOP, VOICEMAIL, GreetingGate,
    sounds_like_machine,
)


@pytest.mark.parametrize("text", [
    "Hi, you've reached Alex. Please leave a message after the tone.",
    "You have reached the voicemail of",
    "The person you are trying to reach is not available.",
    "I can't come to the phone right now",
    "Please record your message",
    "The number you have dialed is not in service",
    "Thank you for calling Acme",
    "Hola, ha llamado a Alex. Deje su mensaje después del tono.",
    "El buzón de voz de",
    "No estoy disponible en este momento, deje su mensaje",
    "I'm not available, please leave a message",
    "Google subscriber you are calling",
    # Call screeners ask who calls and why before any person hears it.
    "Hi, the person you're calling is using a screening service from Google. Go ahead and say "
    "your name and why you're calling.",
    "Hi, if you record your name and reason for calling, I'll see if this person is available.",
    "El número que usted marcó no existe",
    "Hello, I'm an assistant answering this call. How can I help you?",
    "Your call could not be completed as dialed.", "To leave a callback number, press 5.",
    "Su llamada está siendo transferida a un buzón de mensajes de voz",
])
def test_machine_greetings_are_recognised(text):
    assert sounds_like_machine(text)


@pytest.mark.parametrize("text", [
    "Hello?", "Hello, who is this?", "Yes?", "This is Alex.", "Alex speaking",
    "Hi there", "Hola, ¿quién habla?", "Bueno", "Sí, diga", "Who's calling?",
    "I'm available now", "Can you hear me?", "",
    # A person answering for someone else is not a machine.
    "Sorry, he's not available right now, can I take a message?",
    "She can't come to the phone right now", "He is away, who's calling?",
    "No está disponible, ¿quién habla?", "I'll get back to you on that",
    "What's the reason for your call?", "Who is this and why are you calling?",
])
def test_what_a_person_says_on_picking_up_is_not_a_machine(text):
    assert not sounds_like_machine(text)


def test_the_human_verdict_greets_at_once():
    gate = GreetingGate()
    assert gate.verdict("human", 0.8) == GREET and gate.greeted
    assert gate.verdict("human", 0.9) is None           # once


def test_the_callees_first_words_greet_and_partials_only_hold_the_silence_timer():
    gate = GreetingGate()
    assert gate.speech("Hello", False, 0.6) is None
    assert gate.next_deadline() == pytest.approx(0.6 + GREET_AFTER_SILENCE_S)
    assert gate.speech("Hello?", True, 0.9) == GREET and gate.reason == "the callee spoke"


def test_silence_greets_within_the_abandonment_limit():
    gate = GreetingGate()
    assert gate.due(GREET_AFTER_SILENCE_S - 0.01) is None
    assert gate.due(GREET_AFTER_SILENCE_S) == GREET and gate.reason == "silence"
    # The default leaves room for text-to-speech to start under 47 CFR 64.1200(a)(7)'s 2 s.
    assert GREET_AFTER_SILENCE_S + 0.3 < ABANDON_LIMIT_S


def test_a_machine_greeting_never_makes_the_agent_talk_and_waits_for_the_beep():
    gate = GreetingGate()
    assert gate.speech("Hi, you've reached", False, 0.7) is None
    assert gate.machine and gate.waiting
    assert gate.speech("Hi, you've reached Alex. Leave a message.", True, 4.0) is None
    assert gate.due(5.0) is None                        # the beep verdict may still come
    assert gate.verdict("machine_end_beep", 5.2) == STOP and gate.state == "machine"
    assert gate.due(100.0) is None and gate.verdict("human", 101) is None


def test_a_machine_greeting_without_a_verdict_ends_in_the_voicemail_action():
    gate = GreetingGate(machine_quiet_s=3.0)
    gate.speech("Please leave a message after the tone", True, 4.0)
    assert gate.next_deadline() == pytest.approx(7.0)
    assert gate.due(6.9) is None
    assert gate.due(7.0) == VOICEMAIL and "without an AMD verdict" in gate.reason


def test_machine_start_holds_until_machine_end_bounded():
    gate = GreetingGate()
    assert gate.verdict("machine_start", 1.2) is None and gate.machine
    assert gate.due(5.0) is None                        # no transcript: wait for machine_end
    assert gate.next_deadline() == pytest.approx(1.2 + gate.machine_max_s)
    assert gate.verdict("machine_end_silence", 6.0) == STOP


def test_a_late_machine_verdict_stops_the_agent():
    gate = GreetingGate()
    assert gate.speech("Hi, this is Alex.", True, 1.0) == GREET
    assert gate.verdict("machine_end_beep", 3.5) == STOP and gate.state == "machine"


def test_machine_words_after_the_greeting_stop_the_agent_and_wait_for_the_verdict():
    gate = GreetingGate(machine_quiet_s=2.0)
    gate.speech("Hi, this is Alex.", True, 1.0)
    assert gate.speech("I can't come to the phone, leave a message", True, 3.0) == STOP
    assert gate.state == "held" and gate.due(4.9) is None
    assert gate.due(5.0) == VOICEMAIL


def test_amd_human_after_machine_like_words_resumes():
    gate = GreetingGate()
    gate.speech("Hi, this is Alex.", True, 1.0)
    gate.speech("leave a message lol, who is this", True, 2.0)
    assert gate.verdict("human", 2.5) == RESUME and gate.greeted


@pytest.mark.parametrize("heard,expected", [(None, GREET), ("Hello?", None),
                                            ("Leave a message after the beep", VOICEMAIL)])
def test_unknown_is_decided_by_what_was_heard(heard, expected):
    gate = GreetingGate()
    if heard == "Hello?":
        assert gate.speech(heard, True, 0.8) == GREET
    elif heard:
        gate.speech(heard, True, 2.0)
    assert gate.verdict("unknown", 3.0) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["speech", "verdict", "tick"]),
                          st.sampled_from(["Hello?", "Hi", "you've reached Alex",
                                           "leave a message after the tone", "This is Sam"]),
                          st.booleans(),
                          st.sampled_from(["human", "machine_start", "machine_end_beep",
                                           "machine_end_silence", "fax", "unknown"]),
                          st.floats(0, 2.0)), max_size=12))
def test_never_greets_twice_and_never_greets_after_a_machine_verdict(events):
    gate = GreetingGate()
    t, greets, machine_verdict = 0.0, 0, False
    for kind, text, final, verdict, dt in events:
        t += dt
        if kind == "speech":
            action = gate.speech(text, final, t)
        elif kind == "verdict":
            action = gate.verdict(verdict, t)
            if verdict.startswith("machine_end") or verdict == "fax":
                machine_verdict = True
        else:
            action = gate.due(t)
        if action == GREET:
            greets += 1
            assert not machine_verdict
    assert greets <= 1


# -- partial prompts: each utterance reaches the brain once ------------------------------

from dialcli.providers.twilio.relay import merge_prompt  # noqa: E402


@pytest.mark.parametrize("pieces,whole", [
    (["Hello", "Hello how are", "Hello, how are you?"], "Hello, how are you?"),   # growing
    (["I'm calling ", "about the ", "bill"], "I'm calling about the bill"),        # pieces
    (["Yes", "Yes"], "Yes"),                                                      # repeated
    (["Yes I", ""], "Yes I"),                                                     # empty final
])
def test_partial_prompts_merge_into_one_utterance(pieces, whole):
    text = ""
    for piece in pieces:
        text = merge_prompt(text, piece)
    assert text == whole


def test_the_silence_is_a_workspace_setting_bounded_by_the_abandonment_limit(cli, store):
    r = cli("config", "set", "greet_after_silence_s", "2.5")
    assert r.exit_code == 2 and "maximum of 1.8" in r.stderr
    assert cli("config", "set", "greet_after_silence_s", "1.2").exit_code == 0
    assert "greet_after_silence_s" in cli("config", "list").stdout
