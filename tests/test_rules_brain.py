"""The rule brain: intents in natural speech, the dialogue, labels and goodbyes."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import pytest

from dialcli.conversation.base import CallContext, collect
from dialcli.conversation.intents import Intent, read
from dialcli.conversation.rules import (
    EXAMPLE_CALLER_LINES, MAX_TURNS, PERSONA_FOLLOW_UP, RuleBrain, clear_memo, company_name,
    purpose_line,
)
from dialcli.models import Disposition, VoicemailAction

CTX = CallContext(
    call_id=7, campaign="spring", agent="Zara", to="+14155550101", from_="+14155550199",
    greeting="Hi Maria, this is Zara from Acme Solar. I'm calling about the solar quote you "
             "asked for. Do you have a minute?",
    system_prompt="You are Zara, a friendly assistant for Acme Solar.",
    voicemail_message="Hi Maria, this is Zara from Acme Solar. Please call us back.",
    voicemail_action=VoicemailAction.HANGUP, lead_name="Maria Lopez",
    recipient_tz="America/New_York",
)


def talk(lines, ctx=CTX):
    """Play caller lines until the brain ends the call; return (session, end, replies)."""
    session = RuleBrain().open(ctx)
    session.opening()
    replies, end = [], None
    for line in lines:
        text, end = collect(session.respond(line, at_s=len(replies) * 3.0))
        replies.append(text)
        if end is not None:
            break
    return session, end or session.finish(), replies


EXPECTED = {"interested": Disposition.INTERESTED, "not_interested": Disposition.NOT_INTERESTED,
            "callback": Disposition.CALLBACK, "opt_out": Disposition.OPT_OUT,
            "wrong_number": Disposition.WRONG_NUMBER, "one_word": None}


@pytest.mark.parametrize("persona, line", [(p, line) for p, lines in EXAMPLE_CALLER_LINES.items()
                                           for line in lines])
def test_example_lines_get_their_persona_label(persona, line):
    follow = [PERSONA_FOLLOW_UP[persona]] if persona in PERSONA_FOLLOW_UP else []
    session, end, replies = talk([line, *follow])
    expected = EXPECTED[persona]
    if expected is None:
        assert end is None and session.result is None
        assert replies[0]          # a polite re-introduction, never silence
    else:
        assert end is not None and end.disposition is expected, (line, replies)
        assert end.goodbye and replies[-1].endswith(end.goodbye)


def test_every_persona_has_several_natural_lines():
    assert set(EXAMPLE_CALLER_LINES) == set(EXPECTED)
    assert all(len(lines) >= 6 for lines in EXAMPLE_CALLER_LINES.values())


def test_simulator_scripts_get_their_labels():
    """Every combination of the simulator's persona turns is labelled as the persona."""
    sim = pytest.importorskip("dialcli.providers.simulator")
    expected = dict(EXPECTED, callback_followup_yes=Disposition.INTERESTED,
                    callback_followup_no=Disposition.NOT_INTERESTED)
    checked = 0
    for persona, turns in sim.SCRIPTS.items():
        if persona not in expected:
            continue
        for combo in itertools.product(*turns):
            _, end, replies = talk(combo)
            got = None if end is None else end.disposition
            assert got is expected[persona], (persona, combo, replies)
            checked += 1
    assert checked > 50


@pytest.mark.parametrize("line, intent", [
    ("I'm not interested", Intent.NOT_INTERESTED),
    ("I am interested", Intent.INTERESTED),
    ("im not really interested", Intent.NOT_INTERESTED),
    ("Um, I'd be interested, yeah", Intent.INTERESTED),
    ("I wouldn't be interested", Intent.NOT_INTERESTED),
    ("I'm not interested, and don't call me again", Intent.OPT_OUT),
    ("don't call me tomorrow, call me Friday", Intent.CALLBACK),
    ("don't call me back", Intent.OPT_OUT),
    ("Yes, thanks for calling back.", Intent.AFFIRM),      # gratitude, not a request
    ("Who is this?", Intent.ASK_IDENTITY),
    ("Who?", Intent.ASK_WHO_FOR),
    ("Maria who?", Intent.ASK_WHO_FOR),
    ("There's no Maria here", Intent.WRONG_NUMBER),
    ("What is this about?", Intent.ASK_PURPOSE),
    ("Is this a real person?", Intent.ASK_ROBOT),
    ("How did you get my number?", Intent.ASK_NUMBER_SOURCE),
    ("Sorry, what?", Intent.ASK_REPEAT),
    ("I'm good, thanks", Intent.NOT_INTERESTED),   # a polite decline (after "how are you?" see below)
    ("No, I'm good.", Intent.NOT_INTERESTED),
    ("Hang on a second", Intent.HOLD),
    ("Okay, bye", Intent.GOODBYE),
    ("No. Goodbye.", Intent.NOT_INTERESTED),
    ("Hi, you've reached Sam. Leave a message after the tone.", Intent.VOICEMAIL),
    ("Tomorrow works better", Intent.CALLBACK),
    ("tomorrow?", Intent.TIME),
    ("Yes?", Intent.GREETING),
    ("", Intent.UNCLEAR),
])
def test_intents(line, intent):
    assert read(line, "maria").intent is intent


@pytest.mark.parametrize("line, intent", [
    # What speech-to-text makes of phone speech (brain_asr_callers.csv, tune half), by class.
    ("please say your name and why you're calling", Intent.VOICEMAIL),        # a call screener
    ("Hi, this is Google's call screening service.", Intent.VOICEMAIL),
    ("please state your name and the reason for your call", Intent.VOICEMAIL),
    ("what's the reason for your call", Intent.ASK_PURPOSE),                  # a person asking
    ("el número que usted marcó no existe", Intent.VOICEMAIL),                # a carrier, in Spanish
    ("do not call me at this number anymore", Intent.OPT_OUT),                # not "call me at ..."
    ("never ring us on this line", Intent.OPT_OUT),
    ("don't call me on this number call my cell", Intent.CALLBACK),           # a redirect
    ("don't call my cell call my house phone", Intent.UNCLEAR),
    ("no more robocalls", Intent.OPT_OUT),
    ("enough with the spam calls", Intent.OPT_OUT),
    ("put me on the do not cold list", Intent.OPT_OUT),                       # "call" misheard
    ("i'm not saying stop calling i'm just busy", Intent.CALLBACK),           # words taken back
    ("no don't remove me i just can't talk", Intent.CALLBACK),
    ("i'm interest it", Intent.INTERESTED),                                   # "interested" misheard
    ("i'm not interest", Intent.NOT_INTERESTED),
    ("what is the interest rate", Intent.ASK_OTHER),
    ("yeah can you have someone call me back about the quote", Intent.INTERESTED),
    ("have someone call me back tomorrow", Intent.CALLBACK),                  # a time: a callback
    ("yeah shoot me an email", Intent.INTERESTED),
    ("can you email me instead", Intent.INTERESTED),
    ("reach out tomorrow", Intent.CALLBACK),
    ("ahorita no gracias", Intent.NOT_INTERESTED),                            # not "later"
    ("is this for maria", Intent.ASK_WHO_FOR),
    ("i'm being harassed", Intent.OPT_OUT),
    ("i feel harassed by my boss", Intent.UNCLEAR),                           # not by us
    ("this isn't maria's phone", Intent.WRONG_NUMBER),
    ("no soy maria", Intent.WRONG_NUMBER),
    ("call me back tomor", Intent.CALLBACK),                                  # cut off
    ("uh not really a good time", Intent.CALLBACK),                           # not a decline
    ("no not really", Intent.NOT_INTERESTED),
    ("yeah i'm still interested", Intent.INTERESTED),
    ("we're moving", Intent.NOT_INTERESTED),
    ("stock calling me", Intent.OPT_OUT),                                     # "stop" misheard
    ("stop kolling me", Intent.OPT_OUT),
    ("don't cole me again", Intent.OPT_OUT),
    ("hi um sorry who is this oh okay well take my name and number off i've got a newborn", Intent.OPT_OUT),
    ("op out please", Intent.OPT_OUT),
    ("uh we don't do phone sales", Intent.OPT_OUT),
    ("stop calling so early", Intent.MAYBE_OPT_OUT),                          # when, or whether: ask
    ("stop calling me so late please", Intent.MAYBE_OPT_OUT),
    ("stop calling so early, actually just stop calling", Intent.OPT_OUT),
    ("are you calling from acme", Intent.ASK_IDENTITY),                      # the model knew "acme"
    ("is this acme calling", Intent.ASK_OTHER),                               # ... from opt-out lines
    ("she's not here", Intent.CALLBACK),                                      # away, not wrong
    ("she's not here anymore", Intent.WRONG_NUMBER),
    ("maria moved to texas", Intent.WRONG_NUMBER),
    ("this is a cell phone i just got", Intent.WRONG_NUMBER),
    ("send it to my email", Intent.INTERESTED),
    ("oh good i was hoping you'd call", Intent.INTERESTED),
    ("sí mándenme la información", Intent.INTERESTED),
    ("i'm too old for that", Intent.NOT_INTERESTED),
    ("what's the next step", Intent.INTERESTED),
    ("can you guys come out this week", Intent.INTERESTED),
    ("you can email me at maria at gmail dot com", Intent.INTERESTED),
    ("yes email is fine", Intent.INTERESTED),
    ("email is fine but don't call", Intent.OPT_OUT),
    ("you're a bot aren't you", Intent.ASK_ROBOT),
    ("are you chatgpt", Intent.ASK_ROBOT),
    ("can i speak to a human", Intent.ASK_ROBOT),                             # answered, not "stop?"
    ("representative", Intent.ASK_ROBOT),
    ("can i talk to a real person stop calling", Intent.OPT_OUT),
    ("Hello, I'm an assistant answering this call. How can I help you?", Intent.VOICEMAIL),
    # A redirect inside a ramble stays a redirect.
    ("yeah hello i'm at work right now and don't call my cell call my house phone my husband said the same thing",
     Intent.CALLBACK),
])
def test_speech_to_text_forms(line, intent):
    assert read(line, "maria").intent is intent


@pytest.mark.parametrize("line, intent", [
    # Cut off inside the last word: what is left completes to a request only one way.
    ("no and stop calli", Intent.OPT_OUT),
    ("please don't call me agai", Intent.OPT_OUT),
    ("please take me off your lis", Intent.OPT_OUT),
    ("i want to opt ou", Intent.MAYBE_OPT_OUT),                              # two letters: ask
    ("put me on your do not call regis", Intent.OPT_OUT),
    # ... and not when the start of a word could be anything, or is a word of its own.
    ("who dis", Intent.ASK_OTHER),
    ("stop let me t", Intent.UNCLEAR),
    ("i don't want to miss your cal", Intent.UNCLEAR),
    ("i don't want to miss your calls", Intent.UNCLEAR),
    ("can you call me back tomorrow at fi", Intent.CALLBACK),
])
def test_a_line_cut_off_in_its_last_word(line, intent):
    assert read(line, "maria").intent is intent


@pytest.mark.parametrize("turns, disposition", [
    # The end of a turn the recogniser cut off at a pause, heard as the next turn.
    (["i asked not to", "be called"], Disposition.OPT_OUT),
    (["enough with", "the calls"], Disposition.OPT_OUT),
    (["this number is on the do", "not call"], Disposition.OPT_OUT),
    # A fragment alone is no request: "call" may be the start of "call me back".
    (["call", "me back tomorrow at 3"], Disposition.CALLBACK),
    (["why do you keep calling", "no it's fine", "tell me more", "yes"], Disposition.INTERESTED),
])
def test_a_turn_cut_in_two_is_read_as_one(turns, disposition):
    _, end, _ = talk(turns)
    assert end is not None and end.disposition is disposition


@pytest.mark.parametrize("fragment", ["call", "calling", "calls", "again", "you again"])
def test_a_fragment_with_no_word_for_stopping_is_no_opt_out(fragment):
    assert read(fragment, "maria").intent is not Intent.OPT_OUT


def test_a_screener_is_a_machine_and_who_it_is_for_then_no_is_a_wrong_number():
    _, end, _ = talk(["Hi, if you record your name and reason for calling, I'll see if this person is available."])
    assert end.disposition is Disposition.VOICEMAIL
    _, end, replies = talk(["is this for maria", "no"])
    assert "Am I speaking with Maria" in replies[0]
    assert end.disposition is Disposition.WRONG_NUMBER


def test_callback_with_a_time_ends_at_once_with_the_callers_words():
    _, end, replies = talk(["Yes, this is me.", "I'm busy, call me back tomorrow at 3."])
    assert end.disposition is Disposition.CALLBACK
    assert end.callback_text == "I'm busy, call me back tomorrow at 3."
    assert "tomorrow at 3" in end.goodbye and "tomorrow at 3" in end.summary
    assert end.callback_at is None     # the engine resolves it with its own clock


def test_a_day_named_by_its_weekday_is_said_back_with_its_date():
    """'Next Tuesday' means different days to different callers: a call that knows when
    it was placed says back the date it booked, so the caller can correct it; the words
    alone when the call does not know (or they already give the date)."""
    from datetime import datetime, timezone

    monday = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)       # 10:00 in New York
    placed = replace(CTX, placed_at=monday)
    _, end, _ = talk(["Yes, this is me.", "call me next tuesday morning"], placed)
    assert end.disposition is Disposition.CALLBACK
    assert "next tuesday morning, that's Tuesday, December 15." in end.goodbye
    for line, said in (("try me next wednesday", "next wednesday, that's Wednesday, December 16."),
                       ("call me next saturday", "next saturday, that's Saturday, December 19."),
                       ("call me thurs", "thurs, that's Thursday, December 10.")):
        _, end, _ = talk(["Yes, this is me.", line], placed)
        assert said in end.goodbye, end.goodbye
    _, end, _ = talk(["Yes, this is me.", "call me next tuesday morning"])
    assert "next tuesday morning." in end.goodbye and "December" not in end.goodbye
    for line in ("call me back tomorrow at 3", "try me on the 18th", "call me in an hour"):
        _, end, _ = talk(["Yes, this is me.", line], placed)
        assert "December" not in end.goodbye, end.goodbye
    spanish = replace(placed, language="es-US")
    _, end, _ = talk(["Sí, soy yo.", "llámeme el martes que viene por la mañana"], spanish)
    assert end.disposition is Disposition.CALLBACK
    assert end.goodbye == ("No hay problema, le llamaremos el martes 15 de diciembre a las 10 "
                           "de la mañana. Gracias, adiós."), end.goodbye
    _, end, _ = talk(["Sí, soy yo.", "mejor mañana a la 1 y media"], spanish)
    assert "el martes 8 de diciembre a la 1:30 de la tarde" in end.goodbye, end.goodbye
    _, end, _ = talk(["Sí, soy yo.", "llámeme mañana a las 3"], replace(CTX, language="es-US"))
    assert "le llamaremos cuando nos indicó." in end.goodbye     # no instant: no English words


#: Words of dialcli's English lines that no Spanish line of ``lines.ES`` has.
_ENGLISH = re.compile(r"\b(?:would|you|sorry|thank|thanks|goodbye|I'm|I'll|don't|calling|"
                      r"someone|speaking|great|problem|pressure|moment|this is|hi)\b", re.I)
_SPANISH_PROBES = [
    ["¿Quién habla?", "¿De qué se trata?", "¿Cómo consiguió mi número?", "¿Es usted un robot?",
     "¿Qué?", "¿Cuánto cuesta?", "hmm", "espere un momento", "no entiendo", "hola", "mmm",
     "eh", "hmm"],
    ["Sí, soy yo.", "¿por qué me siguen llamando?", "no, está bien", "no gracias"],
    ["Sí, soy yo.", "¿por qué me siguen llamando?", "sí"],
    ["Sí, soy yo.", "no", "sí", "el martes que viene por la mañana"],
    ["Sí, soy yo.", "claro, cuénteme más", "sí"],
    ["Sí, soy yo.", "no me llame más"],
    ["No, número equivocado."],
    ["hmm", "eh", "qué", "mmm"],
    ["Sí, soy yo.", "ahora no puedo", "no"],
    ["Sí, soy yo.", "ahora no puedo, llámeme el viernes por la tarde"],
    ["Sí, soy yo.", "ahora no puedo", "sí", "mañana a las 3"],
]


@pytest.mark.parametrize("turns", _SPANISH_PROBES, ids=lambda t: t[-1][:20])
def test_a_spanish_agent_speaks_spanish_to_the_end(turns):
    """An es-US agent's rule brain answers, asks and says goodbye in Spanish: a Spanish
    greeting followed by "Sorry, I didn't quite catch that" loses the caller."""
    ctx = replace(CTX, language="es-US", greeting="Hola Maria, le habla Zara de Acme Solar. "
                  "Le llamo por la cotización solar que pidió. ¿Tiene un minuto?",
                  system_prompt="Eres Zara, de Acme Solar.")
    session, end, replies = talk(turns, ctx)
    said = [u.text for u in session.transcript if u.role == "agent" and u.text]
    assert len(said) >= 2
    for text in said[1:]:                     # the first is the user's own greeting
        assert not _ENGLISH.search(text), text
    if end is not None:
        assert end.goodbye and not _ENGLISH.search(end.goodbye), end.goodbye


@pytest.mark.parametrize("line,intent", [
    ("¿Quién habla?", Intent.ASK_IDENTITY), ("¿con quién hablo?", Intent.ASK_IDENTITY),
    ("¿De dónde me llama?", Intent.ASK_IDENTITY), ("¿de parte de quién?", Intent.ASK_IDENTITY),
    ("¿De qué se trata?", Intent.ASK_PURPOSE), ("¿para qué me llama?", Intent.ASK_PURPOSE),
    ("¿Cómo consiguió mi número?", Intent.ASK_NUMBER_SOURCE),
    ("¿quién le dio mi teléfono?", Intent.ASK_NUMBER_SOURCE),
    ("¿Es usted un robot?", Intent.ASK_ROBOT), ("¿hablo con una persona real?", Intent.ASK_ROBOT),
    ("¿Qué?", Intent.ASK_REPEAT), ("¿puede repetir?", Intent.ASK_REPEAT),
    ("no le entiendo", Intent.ASK_REPEAT), ("espere un momento", Intent.HOLD),
    ("¿Cuánto cuesta?", Intent.ASK_INFO), ("¿cómo funciona?", Intent.ASK_INFO),
])
def test_spanish_questions_are_read(line, intent):
    assert read(line, "Maria").intent is intent


def test_every_line_has_its_spanish_and_keeps_its_fields():
    from string import Formatter

    from dialcli.conversation.lines import ES, say

    for english, spanish in ES.items():
        fields = {f for _, f, _, _ in Formatter().parse(english) if f}
        assert fields == {f for _, f, _, _ in Formatter().parse(spanish) if f}, english
    assert say("Goodbye.", "es-MX") == "Adiós." and say("Goodbye.", "fr-FR") == "Goodbye."
    assert say("Am I speaking with {name}?", "es", name="Ana") == "¿Hablo con Ana?"


def test_callback_without_a_time_asks_when_once():
    session, end, replies = talk(["I'm driving right now.", "Try me Friday afternoon."])
    assert replies[0] == "No problem. When would be a better time to call you back?"
    assert end.disposition is Disposition.CALLBACK
    assert end.callback_text == "Try me Friday afternoon."
    _, end, _ = talk(["This isn't a good time.", "Whenever."])
    assert end.disposition is Disposition.CALLBACK and end.callback_text is None
    assert "tomorrow" in end.goodbye
    _, end, _ = talk(["Can't talk now.", "asdf qwerty"])
    assert end.disposition is Disposition.CALLBACK   # a busy person is not kept on the line


def test_bare_no_offers_a_callback_before_giving_up():
    _, end, replies = talk(["No.", "No."])
    assert "call back at a better time" in replies[0]
    assert end.disposition is Disposition.NOT_INTERESTED
    _, end, replies = talk(["No.", "Yes.", "Next week."])
    assert replies[1].endswith("When would be a better time to call you back?")
    assert end.disposition is Disposition.CALLBACK and end.callback_text == "Next week."


def test_interest_gets_one_clarifying_question():
    session, end, replies = talk(["Sure, tell me more."])
    assert end is None and session.result is None
    assert replies[0].endswith("Would you like them to follow up with you?")
    assert "Acme Solar" in replies[0]
    _, end, _ = talk(["Sure, tell me more.", "No, I'll pass."])
    assert end.disposition is Disposition.NOT_INTERESTED
    _, end, _ = talk(["Sure, tell me more.", "Yes please."])
    assert end.disposition is Disposition.INTERESTED
    assert "Acme Solar will follow up" in end.goodbye


def test_questions_are_answered_from_context_only():
    _, _, replies = talk(["Who is this?", "What is this about?", "Are you a robot?",
                          "How did you get my number?"])
    assert replies[0] == "This is Zara, calling from Acme Solar. Would you like to hear more?"
    assert replies[1].startswith("I'm calling about the solar quote you asked for.")
    assert replies[2].startswith("I'm an automated assistant calling on behalf of Acme Solar.")
    assert "take you off the list" in replies[3]


def test_without_a_company_the_agent_does_not_invent_one():
    ctx = replace(CTX, greeting="Hello, this is Zara.", system_prompt="Be nice.")
    assert company_name(ctx) == "" and purpose_line(ctx) == ""
    _, _, replies = talk(["Who is this?", "What's this about?", "Sure, tell me more."], ctx)
    assert replies[0] == "This is Zara. Would you like to hear more?"
    assert replies[1] == "This is Zara. Would you like to hear more?"
    assert " from " not in replies[0] + replies[1]
    assert "someone from our team" in replies[2]


@pytest.mark.parametrize("greeting, prompt, company", [
    ("Hi Maria, this is Zara from Acme Solar. Got a minute?", "", "Acme Solar"),
    ("Hello! Zara here with First National Bank of Ohio, calling about your card.", "",
     "First National Bank of Ohio"),
    ("Hi, I'm calling on behalf of Greenway Loans.", "", "Greenway Loans"),
    ("Hi there, this is Zara.", "You work for Bright Dental & Co. Be brief.", "Bright Dental & Co"),
    ("Hi, this is Zara.", "Keep it short.", ""),
    ("Hola Maria, le habla Zara de Acme Solar. ¿Tiene un minuto?", "", "Acme Solar"),
    ("Hola, soy Zara y llamo de parte de Acme Recovery.", "", "Acme Recovery"),
    ("Hola, le habla Zara. ¿Tiene un minuto?", "Sé breve.", ""),
])
def test_company_name(greeting, prompt, company):
    assert company_name(replace(CTX, greeting=greeting, system_prompt=prompt)) == company


def test_a_line_of_words_the_model_never_saw_is_no_evidence_of_an_opt_out():
    """Half the corpus is opt-outs, so the model's prior leans that way: a line with
    no word it knows must not get the opt-out question on that prior alone."""
    assert read("blue elephant", "maria").intent is Intent.UNCLEAR
    assert read("gronk zib", "maria").intent is Intent.UNCLEAR


def test_unclear_turns_end_the_call_politely():
    session, end, replies = talk(["Blue elephant.", "Purple.", "Gronk."])
    assert replies[0].startswith("Sorry, I didn't quite catch that.")
    assert end.disposition is Disposition.COMPLETED
    assert end.goodbye == "Thanks for your time. Goodbye."
    assert session.caller_turns == 3


def test_goodbye_ends_completed_and_hold_waits():
    _, end, replies = talk(["Hold on.", "Okay, bye."])
    assert replies[0] == "Sure, take your time."
    assert end.disposition is Disposition.COMPLETED


def test_endless_conversation_is_capped():
    session, end, _ = talk(["Hang on."] * (MAX_TURNS + 5))
    assert end.disposition is Disposition.COMPLETED
    assert session.caller_turns == MAX_TURNS


def test_wrong_number_after_who():
    _, end, replies = talk(["Who?", "No."])
    assert replies[0] == "I'm trying to reach Maria Lopez. Am I speaking with Maria?"
    assert end.disposition is Disposition.WRONG_NUMBER
    _, end, replies = talk(["Who?", "Yes, that's me.", "Not interested."])
    assert replies[1].startswith("Great, thank you. I'm calling about the solar quote")
    assert end.disposition is Disposition.NOT_INTERESTED


def test_greeting_that_asks_for_the_lead_treats_no_as_wrong_number():
    ctx = replace(CTX, greeting="Hi, this is Zara from Acme Solar. Am I speaking with Maria?")
    _, end, _ = talk(["Nope."], ctx)
    assert end.disposition is Disposition.WRONG_NUMBER
    _, end, replies = talk(["Yes.", "Sure.", "Yes."], ctx)
    assert replies[0].endswith("Would you like to hear more?")
    assert end.disposition is Disposition.INTERESTED


def test_voicemail_greeting_leaves_the_message_only_when_asked():
    line = "Hi, you've reached Maria. Please leave a message after the beep."
    _, end, replies = talk([line])
    assert end.disposition is Disposition.VOICEMAIL and replies == [""]
    ctx = replace(CTX, voicemail_action=VoicemailAction.MESSAGE)
    _, end, replies = talk([line], ctx)
    assert end.disposition is Disposition.VOICEMAIL
    assert replies == [CTX.voicemail_message] and end.goodbye == CTX.voicemail_message


def test_keypress_nine_opts_out():
    session = RuleBrain().open(CTX)
    session.opening()
    text, end = collect(session.on_dtmf("9", 2.0))
    assert end.disposition is Disposition.OPT_OUT and session.finish() is end
    assert [u["role"] for u in session.transcript_dicts()] == ["agent", "dtmf", "agent"]


def test_transcript_and_after_the_end():
    session, end, _ = talk(["Who is this?", "Remove me from your list."])
    before = session.transcript_dicts()
    assert [u["role"] for u in before] == ["agent", "caller", "agent", "caller", "agent"]
    assert before[0]["text"] == CTX.greeting and before[-1]["text"] == end.goodbye
    assert list(session.respond("Hello? Are you still there?", 20.0)) == []
    assert session.transcript[-1].role == "caller"      # still recorded, never answered
    assert session.finish() is end


def test_interrupted_line_keeps_what_was_heard():
    session = RuleBrain().open(CTX)
    session.opening()
    session.on_interrupt("Hi Maria, this is Zara")
    assert session.transcript[0].text == "Hi Maria, this is Zara"
    assert session.transcript[0].interrupted


def test_deterministic():
    lines = ["Hello?", "Who is this?", "Sure, tell me more.", "Hmm.", "Yes."]
    a, _, _ = talk(lines)
    b, _, _ = talk(lines)
    assert a.transcript_dicts() == b.transcript_dicts()


def test_a_remembered_reading_is_the_one_for_this_lead():
    """Readings are remembered across calls; one that depends on the lead's name is
    never lent to a call for someone else, warm or cold."""
    john = replace(CTX, greeting="Hi John, this is Zara from Acme Solar. I'm calling about "
                   "the solar quote you asked for.", lead_name="John Smith")
    clear_memo()
    _, cold, _ = talk(["Maria here."], john)
    _, for_maria, _ = talk(["Maria here."])           # now remembered for Maria ...
    _, warm, _ = talk(["Maria here."], john)          # ... and asked again for John
    assert for_maria is None or for_maria.disposition is not Disposition.WRONG_NUMBER
    assert cold.disposition is warm.disposition is Disposition.WRONG_NUMBER


def test_rule_brain_never_blocks_and_the_llm_brain_answers_asynchronously():
    from dialcli.config import LLMSettings
    from dialcli.conversation.llm import make_brain

    assert RuleBrain().blocking is False
    llm = make_brain(LLMSettings("http://127.0.0.1:9/v1", "m", None))
    try:
        # Its sessions open without I/O and offer ``arespond``: the relay runs them on
        # its loop (no thread), never the blocking ``respond``.
        from dialcli.conversation.base import BrainSession
        from dialcli.conversation.llm import LLMSession
        assert llm.blocking is False
        assert BrainSession.arespond is None and LLMSession.arespond is not None
    finally:
        llm.close()


def test_fine_thanks_answers_how_are_you_and_declines_otherwise():
    asks = replace(CTX, greeting="Hi Maria, this is Zara from Acme Solar. How are you today?")
    session, end, replies = talk(["I'm good, thanks"], ctx=asks)
    assert end is None and session.result is None     # small talk, the call goes on
    assert "Acme Solar" in replies[0]
    _, end, _ = talk(["I'm good, thanks"])              # to "do you have a minute?": a no
    assert end.disposition is Disposition.NOT_INTERESTED


# ("could you guys not" was the first example; a rule reads it now, batch 4d.)
@pytest.mark.parametrize("line", ["would you folks mind not", "no more of this please"])
def test_an_opt_out_no_rule_knows_is_caught_by_the_model_when_it_is_sure(line):
    r = read(line, "maria")
    assert r.intent is Intent.OPT_OUT and r.rule_intent is not None
    _, end, _ = talk([line])
    assert end.disposition is Disposition.OPT_OUT


@pytest.mark.parametrize("line", ["my phone is for family only", "consider this number retired"])
def test_a_likely_opt_out_no_rule_knows_gets_the_question_and_a_yes_opts_out(line):
    """The model finds 'stop calling' likeliest but is not sure enough to act: ask once."""
    r = read(line, "maria")
    assert r.intent is Intent.MAYBE_OPT_OUT and r.rule_intent is not None
    _, end, replies = talk([line, "yes"])
    assert replies[0].endswith("Would you like me to stop calling this number?")
    assert end.disposition is Disposition.OPT_OUT
    _, end, replies = talk([line, "no no, go on"])
    assert end is None or end.disposition is not Disposition.OPT_OUT


def test_the_agent_repeats_the_time_it_booked_when_the_hour_gave_way_to_the_day_part():
    _, end, replies = talk(["call me tonight at 2"])
    assert end.disposition is Disposition.CALLBACK
    assert "tonight at 7 PM" in replies[-1]
    _, end, replies = talk(["call me tonight at 8"])
    assert "tonight at 8" in replies[-1]


@pytest.mark.parametrize("line", ["no thanks please", "we don't want it please", "no me interesa alright"])
def test_a_decline_the_rules_read_is_never_made_an_opt_out_by_an_unanchored_guess(line):
    assert read(line, "maria").intent is Intent.NOT_INTERESTED


@pytest.mark.parametrize("notice", [
    "You can press 9 at any time to stop these calls.",
    "Say stop and we will remove you from our list.",
    "This call may be recorded.",
])
def test_a_legal_notice_in_the_greeting_is_not_the_calls_purpose(notice):
    """The example greeting ends with its opt-out notice: read as the purpose, the first
    answer to "this is me" repeated it ("Great, thank you. You can press 9 ...")."""
    ctx = replace(CTX, greeting="Hi Maria, this is Zara from Acme Solar. I'm calling about "
                                f"the solar quote you asked for. {notice} Do you have a minute?")
    assert purpose_line(ctx) == "I'm calling about the solar quote you asked for."
    bare = replace(CTX, greeting=f"Hi Maria, this is Zara from Acme Solar. {notice} "
                                 "Do you have a minute?")
    assert purpose_line(bare) == ""


@pytest.mark.parametrize("line", [
    "sorry i was in the shower and f off my husband said the same thing",
    "well i was just making dinner and anyway make it stop please i'm sorry but yeah",
    "oh it's you again ya basta thanks have a good one",
    "yeah hello i'm at work right now and no calls because we're not interested in solar",
])
def test_an_opt_out_said_as_one_clause_of_a_ramble_is_heard(line):
    assert read(line, "maria").intent is Intent.OPT_OUT


@pytest.mark.parametrize("line", [
    "okay so listen stop stop i'm interested alright",
    "look i don't mean to be rude but hold on stop alright",
    "ma'am i quit my gym so money is free now because we're not interested in solar",
    "sorry i was in the shower and i need to unsubscribe from my cable first",
    "okay so stop i have a quick question first alright",
])
def test_a_clause_next_to_interest_a_question_or_the_callers_own_affairs_is_no_opt_out(line):
    assert read(line, "maria").intent is not Intent.OPT_OUT


@pytest.mark.parametrize("line", [
    "Sorry, I was in the shower. Would you mind not calling me. Seriously.",
    "I'm at work right now. Nunca más me llamen. Have a nice day.",
    "Hello? Yes. Enough! Bye.",
])
def test_an_opt_out_said_as_one_sentence_of_several_is_heard(line):
    assert read(line, "maria").intent is Intent.OPT_OUT


@pytest.mark.parametrize("line", ["Stop. I'm interested, tell me more.", "Hold on. Stop. Let me get a pen.",
                                  "I'm at work right now. Call me tomorrow at 5."])
def test_a_sentence_next_to_interest_or_a_pause_is_no_opt_out(line):
    assert read(line, "maria").intent is not Intent.OPT_OUT


@pytest.mark.parametrize("answer", ["that would be great", "I'd appreciate that", "exactly",
                                    "that's what I want", "yes please", "sí"])
def test_a_glad_yes_to_the_stop_question_is_an_opt_out_not_interest(answer):
    """'That would be great' answers 'would you like me to stop calling?': not a sale."""
    _, end, replies = talk(["why do you keep calling me", answer])
    assert replies[0].endswith("Would you like me to stop calling this number?")
    assert end.disposition is Disposition.OPT_OUT


@pytest.mark.parametrize("line", ["Stop, stop. Let me grab a pen.", "Don't call my cell. Call my office line.",
                                  "what list did you get my number from", "i'm not on the do not call list am i",
                                  "my sister told me to stop calling companies back but go ahead"])
def test_look_alikes_found_by_the_tenth_probes_are_not_opt_outs(line):
    assert read(line, "maria").intent is not Intent.OPT_OUT


@pytest.mark.parametrize("line", ["i i i want to be removed", "don't call uh me a game", "yeah hi um no more calls",
                                  "don't call this", "do knot call", "don't text or call me",
                                  "Who gave you this number? I want it removed.", "we're a call free home"])
def test_opt_outs_said_with_speech_to_text_noise_or_cut_off(line):
    assert read(line, "maria").intent is Intent.OPT_OUT


@pytest.mark.parametrize("line", ["please discontinue all communication", "it would be best not to call me again",
                                  "don't you ever contact me again", "no me llaméis más", "dejad de llamarme",
                                  "oh please call me again said nobody ever", "i don't want a callback",
                                  "please make a note not to call me again", "no vuelvan a contactarme",
                                  "stop using my number", "please not call me", "suppress my number",
                                  "i don't want to be on any of your lists", "ya párenle", "stop marcando",
                                  "don't cul me again alright have a good one", "don't ever call this num",
                                  "i want to be remo", "olvídense de mi número okay thank you bye"])
def test_opt_outs_found_by_the_eleventh_probes(line):
    assert read(line, "maria").intent is Intent.OPT_OUT


@pytest.mark.parametrize("line", ["take me off hold please", "take me off speaker phone", "stop rushing me",
                                  "i unsubscribed from your newsletter but i want the quote",
                                  "these calls are annoying but okay what do you have",
                                  "no stop i want to hear the rest", "no me llame al celular llame a la casa",
                                  "no me llame por mi apellido dígame ana",
                                  "i block most calls but yours got through what do you want",
                                  "yeah hi is this a do not call registry thing okay thank you bye"])
def test_look_alikes_found_by_the_eleventh_probes_are_not_opt_outs(line):
    assert read(line, "maria").intent is not Intent.OPT_OUT


@pytest.mark.parametrize("line", ["no calls during work hours please call me after five",
                                  "no llames ahorita mejor mañana a las diez",
                                  "no me llames a esta hora llámame a las ocho de la noche"])
def test_a_restriction_on_when_to_call_is_a_callback_not_an_opt_out(line):
    r = read(line, "maria")
    assert r.intent is not Intent.OPT_OUT and Intent.CALLBACK in r.flags and r.time_phrase


@pytest.mark.parametrize("line", [
    "well i was just sitting down for dinner and honestly please discontinue",
    "discontinue these please i've asked before",
    "you people call every day can you not do this",
    "Can you not? I'm busy and I've told you people before.",
    "can you not keep calling me", "oh my god can you not", "could you guys not",
    "This is her son. Please discontinue calling her.",
    "i had a long day and i'd rather you didn't call",
    "I'm at work. Could you not call me during the day, or at all really?",
])
def test_polite_stop_requests_inside_rambles_opt_out(line):
    assert read(line, "maria").intent is Intent.OPT_OUT, line


@pytest.mark.parametrize("line", [
    "can you not hear me", "Hello? Can you not hear me?", "could you not tell me the price first",
    "could you not do it cheaper than that", "don't discontinue my service i still need it",
    "they discontinued my old plan so i'm looking", "i can't stop thinking about solar actually",
    "i'd rather you didn't mention the price yet", "kindly tell me who you are calling from",
    # A limit on when, not a stop: the agent asks for a better time.
    "can you guys not call me at work", "Can you not call me tomorrow instead? Like at 3?",
])
def test_look_alikes_of_polite_stop_requests_do_not(line):
    assert read(line, "maria").intent is not Intent.OPT_OUT, line
