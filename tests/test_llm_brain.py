"""The LLM brain against a real HTTP server speaking the OpenAI wire format."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from dialcli.clock import VirtualClock
from dialcli.config import LLMSettings
from dialcli.conversation.base import CallContext, collect
from dialcli.conversation.llm import HOLDING_LINE, LLMBrain, make_brain, system_prompt
from dialcli.conversation.rules import RuleBrain
from dialcli.models import Disposition, VoicemailAction
from fakes.fake_llm import (  # noqa: F401  (fake_llm is a fixture)
    FakeLLM, drop, fake_llm, garbage, http_error, reply, tool_call,
)

KEY = "sk-test-Zq81vPPl4mXe"
CTX = CallContext(
    call_id=11, campaign="spring", agent="Zara", to="+14155550101", from_="+14155550199",
    greeting="Hi Maria, this is Zara from Acme Solar. I'm calling about your solar quote. "
             "Do you have a minute?",
    system_prompt="You are Zara, a friendly assistant for Acme Solar. The quote number is Q-77.",
    voicemail_message="", voicemail_action=VoicemailAction.HANGUP, lead_name="Maria Lopez",
    recipient_tz="America/New_York",
)
# Short enough for a quick suite, long enough that a loaded CI machine's fake model still
# answers in time: a first token later than 1 s gets the holding line (it did at 0.3 s).
FAST = dict(first_token_s=1.0, total_s=2.5, stall_s=1.0)


@pytest.fixture
def brain(fake_llm):
    b = LLMBrain(fake_llm.settings(), **FAST)
    yield b
    b.close()


@pytest.fixture(params=["sync", "async"])
def drive(request):
    """One caller turn through either driver of the shared turn state machine:
    ``respond`` (thread + queue: the simulator, rehearsals) or ``arespond`` (a task on
    the event loop: the live path). Returns the chunks."""
    if request.param == "sync":
        return lambda session, text, at_s=0.0: list(session.respond(text, at_s))

    def run(session, text, at_s=0.0):
        async def go():
            try:
                return [c async for c in session.arespond(text, at_s)]
            finally:
                await session.brain.aclose()
        return asyncio.run(go())
    return run


def start(brain, ctx=CTX):
    session = brain.open(ctx)
    session.opening()
    return session


def test_streams_text_and_sends_the_right_request(fake_llm, brain, drive):
    fake_llm.enqueue(reply("Sure", ", happy", " to help", "."))
    session = start(brain)
    chunks = list(drive(session, "Yes, who is this?", 2.0))
    assert [c.text for c in chunks] == ["Sure", ", happy", " to help", "."]
    assert all(c.end is None for c in chunks) and session.result is None
    assert session.transcript[-1].role == "agent"
    assert session.transcript[-1].text == "Sure, happy to help."

    req = fake_llm.chat_requests[0]
    assert req.path == "/v1/chat/completions"
    assert "authorization" not in req.headers          # no key: no header (Ollama)
    body = req.json
    assert body["model"] == "fake-model" and body["stream"] is True
    assert body["tools"][0]["function"]["name"] == "end_call"
    enum = body["tools"][0]["function"]["parameters"]["properties"]["disposition"]["enum"]
    assert set(enum) == {"INTERESTED", "NOT_INTERESTED", "CALLBACK", "WRONG_NUMBER", "OPT_OUT",
                         "VOICEMAIL", "COMPLETED"}
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith(CTX.system_prompt)
    for rule in ("OPT_OUT", "Never invent facts", "calling for Acme Solar", CTX.greeting[:20]):
        assert rule in system["content"]
    assert body["messages"][1:] == [{"role": "user", "content": "Yes, who is this?"}]


def test_tokens_are_yielded_as_they_arrive(fake_llm, brain):
    fake_llm.enqueue(reply("One", " two", " three", " four", token_delay=0.15))
    session = start(brain)
    stamps = []
    for _chunk in session.respond("Tell me more"):
        stamps.append(time.monotonic())
    assert len(stamps) == 4
    assert stamps[-1] - stamps[0] >= 0.3      # not buffered until the end


def test_end_call_tool_with_arguments_split_over_deltas(fake_llm, brain, drive):
    fake_llm.enqueue(tool_call("NOT_INTERESTED", "Declined politely.",
                               text=["No problem", ", have a great day!"], parts=6))
    session = start(brain)
    text, end = collect(drive(session, "Not interested, thanks."))
    assert text == "No problem, have a great day!"
    assert end.disposition is Disposition.NOT_INTERESTED
    assert end.summary == "Declined politely."
    assert end.goodbye == "No problem, have a great day!"   # already spoken: not repeated
    assert session.finish() is end
    assert list(drive(session, "Wait!")) == []            # the call is over


def test_end_call_without_text_gets_a_spoken_goodbye(fake_llm, brain, drive):
    fake_llm.enqueue(tool_call("INTERESTED", "Wants a follow-up."))
    session = start(brain)
    text, end = collect(drive(session, "Yes, sign me up."))
    assert end.disposition is Disposition.INTERESTED
    assert text == end.goodbye and "Acme Solar will follow up" in text
    assert session.transcript[-1].text == text


def test_callback_words_and_iso_times(fake_llm, brain, drive):
    fake_llm.enqueue(tool_call("CALLBACK", "Busy.", "tomorrow at 3pm", text=["Sure, talk then."]))
    _, end = collect(drive(start(brain), "Call me tomorrow at 3"))
    assert end.callback_text == "tomorrow at 3pm" and end.callback_at is None
    fake_llm.enqueue(tool_call("CALLBACK", "Busy.", "2026-03-04T15:00:00-05:00"))
    _, end = collect(drive(start(brain), "Call me tomorrow at 3"))
    assert end.callback_at == "2026-03-04T15:00:00-05:00" and end.callback_text is None
    assert end.goodbye                                    # spoken, since the model said nothing
    fake_llm.enqueue(tool_call("callback", "Busy."))      # no time: the caller's words
    _, end = collect(drive(start(brain), "I'm busy, try me Friday morning"))
    assert end.disposition is Disposition.CALLBACK
    assert end.callback_text == "I'm busy, try me Friday morning"


def test_a_spanish_calls_spoken_goodbye_names_the_day_in_spanish(fake_llm, brain, drive):
    """The model ended a Spanish call without a word: the goodbye is dialcli's own, in
    Spanish, with the day booked -- not the English words the rules read it into."""
    ctx = replace(CTX, language="es-US",
                  placed_at=datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc))
    fake_llm.enqueue(tool_call("CALLBACK", "Ocupada.", "el martes que viene por la mañana"))
    session = brain.open(ctx)
    session.opening()
    _, end = collect(drive(session, "Llámeme el martes que viene por la mañana"))
    assert end.goodbye == ("No hay problema, le llamaremos el martes 15 de diciembre a las 10 "
                           "de la mañana. Gracias, adiós."), end.goodbye


def test_unknown_disposition_is_labelled_from_the_transcript(fake_llm, brain, drive):
    fake_llm.enqueue(tool_call("MAYBE", "?", text=["Okay, bye."]))
    _, end = collect(drive(start(brain), "You have the wrong number."))
    assert end.disposition is Disposition.WRONG_NUMBER
    fake_llm.enqueue(tool_call("", "", arguments='{"disposition": "INTERES'))   # cut JSON
    _, end = collect(drive(start(brain), "Hmm, okay."))
    assert end.disposition is Disposition.COMPLETED


def test_slow_first_token_gets_a_holding_line(fake_llm, brain, drive):
    fake_llm.enqueue(reply("Thanks for waiting.", first_delay=1.6))   # between 1.0 and 2.5 s
    session = start(brain)
    chunks = [c.text for c in drive(session, "What is this about?")]
    assert chunks == [HOLDING_LINE + " ", "Thanks for waiting."]
    assert session.transcript[-1].text == "One moment. Thanks for waiting."
    assert session.failures == 0


def test_timeout_falls_back_to_the_rules_never_silence(fake_llm, brain, drive):
    fake_llm.enqueue(reply("Too late.", first_delay=4.0))             # past total_s
    session = start(brain)
    t0 = time.monotonic()
    chunks = list(drive(session, "Who is this?"))
    # It waited out the turn timeout; that it did not wait for the slow reply is shown by
    # who answered (an upper bound on wall time would only measure the machine's load).
    assert time.monotonic() - t0 >= 2.4
    assert chunks[0].text == HOLDING_LINE + " "
    assert chunks[1].text == "This is Zara, calling from Acme Solar. Would you like to hear more?"
    assert session.failure_notes == ["LLM turn failed (no reply in time); the rule brain answered."]
    roles = [u.role for u in session.transcript]
    assert roles == ["agent", "caller", "system", "agent"]


@pytest.mark.parametrize("script, reason", [
    (http_error(500), "HTTP 500"),
    (garbage("data: {not json\n\n"), "a malformed stream"),
    (garbage("<html>oops</html>\n"), "a malformed stream"),
    (drop(), "a connection error"),
    (reply(first_delay=0.0), "an empty reply"),
])
def test_failures_fall_back_to_the_rules(fake_llm, brain, script, reason, drive):
    fake_llm.enqueue(script)
    session = start(brain)
    text, end = collect(drive(session, "Who is this?"))
    # On a loaded machine the failure may come after the holding line's deadline: the
    # holding line first is the brain keeping time, not part of what is tested here.
    assert text.removeprefix(HOLDING_LINE + " ") == \
        "This is Zara, calling from Acme Solar. Would you like to hear more?"
    assert end is None
    assert reason in session.failure_notes[0]


def test_drop_mid_reply_keeps_what_was_said_and_continues(fake_llm, brain, drive):
    fake_llm.enqueue(drop("Well, ", "the quote", after=2))
    session = start(brain)
    chunks = [c.text for c in drive(session, "Sure, tell me more.")]
    assert chunks[:2] == ["Well, ", "the quote"]
    assert chunks[2].startswith(" Happy to help.")         # the rule brain carries on
    assert session.transcript[-1].text.startswith("Well, the quote Happy to help.")


def test_rule_fallback_can_end_the_call(fake_llm, brain, drive):
    fake_llm.enqueue(http_error(502))
    session = start(brain)
    text, end = collect(drive(session, "Wrong number, sorry."))
    assert end.disposition is Disposition.WRONG_NUMBER and session.result is end


def test_keeps_failing_means_rules_for_the_rest_of_the_call(fake_llm, brain, drive):
    fake_llm.enqueue(http_error(500), http_error(500), reply("never asked"))
    session = start(brain)
    collect(drive(session, "Who is this?"))
    collect(drive(session, "What's this about?"))
    assert session.on_rules
    text, _ = collect(drive(session, "Sure, tell me more."))
    assert "Would you like them to follow up with you?" in text
    assert len(fake_llm.chat_requests) == 2 and fake_llm.pending == 1


def test_breaker_skips_a_dead_llm_across_calls(fake_llm, drive):
    brain = LLMBrain(fake_llm.settings(), **FAST, max_failures=5, breaker_threshold=2,
                     cooldown_s=60)
    try:
        fake_llm.enqueue(http_error(503), http_error(503))
        a = start(brain)
        collect(drive(a, "Who is this?"))
        collect(drive(start(brain), "Who is this?"))
        assert len(fake_llm.chat_requests) == 2
        text, _ = collect(drive(start(brain), "Who is this?"))
        assert text.startswith("This is Zara") and len(fake_llm.chat_requests) == 2
    finally:
        brain.close()


def test_server_connection_refused_falls_back(fake_llm, drive):
    port = fake_llm.port
    fake_llm.stop()
    brain = LLMBrain(LLMSettings(f"http://127.0.0.1:{port}/v1", "m", None), **FAST)
    try:
        text, _ = collect(drive(start(brain), "Who is this?"))
        assert text.startswith("This is Zara")
    finally:
        brain.close()


def test_a_server_that_ignores_stream(fake_llm, brain, drive):
    fake_llm.enqueue(tool_call("OPT_OUT", "Asked to stop.", text=["Sorry to bother you."],
                               ignore_stream=True))
    _, end = collect(drive(start(brain), "I don't think so."))
    assert end.disposition is Disposition.OPT_OUT and end.goodbye == "Sorry to bother you."


def test_opt_out_is_honoured_without_asking_the_model(fake_llm, brain, drive):
    session = start(brain)
    text, end = collect(drive(session, "Stop calling me and take me off your list."))
    assert end.disposition is Disposition.OPT_OUT
    assert text == end.goodbye and fake_llm.chat_requests == []
    s2 = start(brain)
    _, end = collect(s2.on_dtmf("9", 3.0))
    assert end.disposition is Disposition.OPT_OUT


def test_key_goes_only_in_the_header_and_never_leaks(fake_llm, caplog, drive):
    fake_llm.require_key = KEY
    fake_llm.enqueue(reply("Hello there."))
    brain = LLMBrain(fake_llm.settings(key=KEY), **FAST)
    try:
        text, _ = collect(drive(start(brain), "Hi"))
        assert text == "Hello there."
        assert fake_llm.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"
    finally:
        brain.close()

    # A wrong key: the server's 401 message echoes the key (OpenAI masks part of it).
    fake_llm.enqueue(http_error(401, f"Incorrect API key provided: {KEY}. sk-tes************mXe"))
    fake_llm.require_key = None
    bad = LLMBrain(fake_llm.settings(key=KEY), **FAST)
    try:
        with caplog.at_level(logging.DEBUG):
            session = start(bad)
            text, _ = collect(drive(session, "Who is this?"))
        assert text.startswith("This is Zara")
        assert "HTTP 401" in session.failure_notes[0]
        everything = " ".join([repr(bad.settings), str(session.transcript_dicts()),
                               " ".join(session.failure_notes), caplog.text])
        assert KEY not in everything and "sk-tes" not in everything
    finally:
        bad.close()


def test_agent_model_overrides_the_default(fake_llm, brain, drive):
    fake_llm.enqueue(reply("Hi."))
    collect(drive(start(brain, replace(CTX, llm_model="llama3.1:8b")), "Hello?"))
    assert fake_llm.chat_requests[0].json["model"] == "llama3.1:8b"


def test_history_alternates_and_includes_keypresses(fake_llm, brain, drive):
    fake_llm.enqueue(reply("Sure."), http_error(500), reply("Okay."))
    session = start(brain)
    collect(drive(session, "Who is this?"))
    list(session.on_dtmf("5", 4.0))
    collect(drive(session, "Hello?"))           # fails: the rules answer
    collect(drive(session, "Go on."))
    messages = fake_llm.chat_requests[2].json["messages"]
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[3]["content"] == "(pressed 5 on the keypad)\nHello?"
    assert messages[4]["content"].startswith("Hi, this is Zara")   # the rule brain's line
    assert all("failed" not in m["content"] for m in messages)


def test_barge_in_keeps_the_partial_line(fake_llm, brain):
    fake_llm.enqueue(reply("Our plans ", "start at ", "a low ", "price.", token_delay=0.05))
    session = start(brain)
    gen = session.respond("How much is it?")
    assert next(gen).text == "Our plans "
    assert next(gen).text == "start at "
    gen.close()                                   # the caller interrupted
    assert session.transcript[-1].text == "Our plans start at"
    session.on_interrupt("Our plans")
    assert session.transcript[-1].text == "Our plans" and session.transcript[-1].interrupted


def test_a_stalled_stream_is_cut_and_the_rules_carry_on(fake_llm, brain, drive):
    # "Well, " at once, then nothing for longer than stall_s (1 s): the turn is cut there.
    fake_llm.enqueue(reply("Well, ", "the rest.", token_delay=3.0))
    session = start(brain)
    chunks = [c.text for c in drive(session, "Sure, tell me more.")]
    assert chunks[0] == "Well, " and "the rest." not in chunks
    assert chunks[1].startswith("Happy to help.")        # the rule brain carries on
    assert "the reply stalled" in session.failure_notes[0]


def test_async_barge_in_closes_the_stream_and_keeps_the_partial_line(fake_llm, brain):
    fake_llm.enqueue(reply("Our plans ", "start at ", "a low ", "price ", "for ", "you.",
                           token_delay=0.2))
    session = start(brain)

    async def go():
        got = []
        try:
            async for chunk in session.arespond("How much is it?"):
                got.append(chunk.text)
                if len(got) == 2:
                    session.cancel()          # the caller interrupted (the relay's call)
            return got
        finally:
            await brain.aclose()

    assert asyncio.run(go()) == ["Our plans ", "start at "]
    assert session.transcript[-1].text == "Our plans start at"
    assert session.failures == 0 and not session.failure_notes
    # The HTTP stream was dropped: the server saw it at its next write, not at the end.
    deadline = time.monotonic() + 5
    while fake_llm.aborted < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_llm.aborted == 1
    session.on_interrupt("Our plans")
    assert session.transcript[-1].text == "Our plans" and session.transcript[-1].interrupted


def test_async_turns_run_on_the_loop_and_a_slow_model_does_not_hold_up_another_call(
        fake_llm, monkeypatch):
    brain = LLMBrain(fake_llm.settings(), first_token_s=5.0, total_s=6.0, stall_s=5.0)
    slow, fast = start(brain), start(brain)
    where: list[str] = []
    real = type(slow)._messages
    started: list[str] = []                 # threads started meanwhile (the fake's too)
    real_start = threading.Thread.start

    def spy_start(self):
        started.append(self.name)
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", spy_start)

    def spy(self):
        where.append(threading.current_thread().name)
        return real(self)

    async def go():
        loop_thread = threading.current_thread().name
        fake_llm.enqueue(reply("Sorry for the wait.", first_delay=1.5))
        slow_task = asyncio.create_task(collect_async(slow.arespond("Who is this?")))
        while not fake_llm.chat_requests:          # the slow request is in
            await asyncio.sleep(0.01)
        fake_llm.enqueue(reply("Hi, ", "this is Zara."))
        fast_text = "".join(c.text for c in await collect_async(fast.arespond("Who is this?")))
        # The other call's turn finished while the slow model still had not answered.
        assert not slow_task.done()
        slow_text = "".join(c.text for c in await slow_task)
        await brain.aclose()
        return loop_thread, fast_text, slow_text

    type(slow)._messages = spy
    try:
        loop_thread, fast_text, slow_text = asyncio.run(go())
    finally:
        type(slow)._messages = real
        brain.close()
    assert fast_text == "Hi, this is Zara." and slow_text == "Sorry for the wait."
    assert where == [loop_thread, loop_thread]           # both requests made on the loop
    assert not [n for n in started if n.startswith("llm-call")]    # no thread per turn


async def collect_async(chunks):
    return [c async for c in chunks]


def test_system_prompt_knows_the_recipients_local_time():
    clock = VirtualClock(datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc))
    text = system_prompt(CTX, clock.now())
    assert "Tuesday 3 March 2026, 10:00 (EST)" in text
    assert system_prompt(replace(CTX, system_prompt="")).startswith("## Call rules")


def test_a_brain_without_a_clock_takes_the_calls_instant(brain):
    """A campaign's LLM brain has no clock of its own: the dial's instant (placed_at)
    tells it the date, so "next Tuesday" can be said back as a date."""
    placed = replace(CTX, placed_at=datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc))
    assert brain.clock is None
    assert "It is now Monday 7 December 2026, 10:00" in brain.open(placed).system
    assert "It is now" not in brain.open(CTX).system


def test_make_brain():
    assert isinstance(make_brain(None), RuleBrain)
    brain = make_brain(LLMSettings("http://127.0.0.1:9/v1", "m", None), first_token_s=0.5)
    try:
        assert isinstance(brain, LLMBrain) and brain.first_token_s == 0.5
    finally:
        brain.close()


def test_fake_server_lists_models_and_rejects_unknown_paths(fake_llm):
    import httpx

    with httpx.Client() as http:
        assert http.get(fake_llm.base_url + "/models").json()["data"][0]["id"] == "fake-model"
        assert http.post(fake_llm.base_url + "/completions", json={}).status_code == 404
        assert http.post(fake_llm.base_url + "/chat/completions", json={}).status_code == 500
    with FakeLLM(default=reply("Default.")) as other:
        with httpx.Client() as http:
            got = http.post(other.base_url + "/chat/completions", json={"stream": False}).json()
            assert got["choices"][0]["message"]["content"] == "Default."


def test_voicemail_leaves_the_campaign_message_only_when_asked(fake_llm, brain, drive):
    line = "Hi, you've reached Maria, leave a message after the tone."
    fake_llm.enqueue(tool_call("VOICEMAIL", "Machine."))
    text, end = collect(drive(start(brain), line))
    assert end.disposition is Disposition.VOICEMAIL and text == "" and end.goodbye == ""
    ctx = replace(CTX, voicemail_action=VoicemailAction.MESSAGE,
                  voicemail_message="Hi Maria, Zara from Acme Solar. Please call us back.")
    fake_llm.enqueue(tool_call("VOICEMAIL", "Machine.", text=["Hello!"]))
    session = start(brain, ctx)
    chunks = [c.text for c in drive(session, line)]
    assert chunks == ["Hello!", " " + ctx.voicemail_message]
    assert session.result.goodbye == ctx.voicemail_message
    assert session.transcript[-1].text == "Hello! " + ctx.voicemail_message


def test_a_request_to_stop_cut_in_two_turns_is_heard_without_the_model(fake_llm, brain, drive):
    """The recogniser cut "enough with the calls" at a pause: the model answered the
    first half; the second half completes an opt-out, which the guard (not the model)
    settles -- as the rule brain does."""
    fake_llm.enqueue(reply("Sorry, could you say that again?"))
    session = start(brain)
    collect(drive(session, "enough with"))
    _, end = collect(drive(session, "the calls"))
    assert end is not None and end.disposition is Disposition.OPT_OUT
    assert len(fake_llm.chat_requests) == 1          # the second half never reached it
    # A fragment that completes nothing is the model's to answer.
    fake_llm.enqueue(reply("Sure."), reply("Happy to."))
    other = start(brain)
    collect(drive(other, "call"))
    _, end = collect(drive(other, "me back tomorrow at 3"))
    assert end is None and len(fake_llm.chat_requests) == 3
