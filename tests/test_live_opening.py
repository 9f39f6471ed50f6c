"""What the callee hears in the first seconds, and barge-in, on the fake Twilio.

Timings are Twilio's realistic ones (a person says "Hello?" 0.5-1.5 s after pick-up;
a machine greets for seconds then beeps; AMD verdicts 1-4 s after pick-up), so these
tests take a few seconds each. The fake records every agent token a machine received
before its verdict (``spoke_to_machine``) and how long a person waited for the
greeting after their first words (``greeting_after_s``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Iterator

import pytest

from dialcli.conversation.base import Brain, BrainSession, Chunk, EndCall, Utterance
from dialcli.conversation.llm import LLMBrain
from dialcli.conversation.rules import RuleBrain
from dialcli.models import Disposition, VoicemailAction
from dialcli.providers.base import EventKind
from fakes.fake_llm import FakeLLM, reply
from fakes.fake_twilio import Scenario, dtmf, say, say_interrupting, start_provider, wait
from fakes.keyword_brain import KeywordBrain
from test_live_path import conversation, dial

GREETING = "Hi Alex, this is Zara from Acme. Do you have a minute?"
MESSAGE = "Hi Alex, it's Zara from Acme. Please call us back at 415 555 0100."
MACHINE = "Hi, you've reached Alex. I can't come to the phone right now. | " \
          "Please leave a message after the tone."


@pytest.fixture
def live(fake):
    provider = start_provider(fake, KeywordBrain())
    yield provider
    provider.close()


def agent_lines(conv) -> list[str]:
    return [u["text"] for u in conv.transcript if u["role"] == "agent"]


@pytest.mark.parametrize("hello_at,amd_at", [(0.5, 2.5), (1.5, 3.0), (0.8, 4.0)])
def test_a_person_is_greeted_as_soon_as_they_speak(fake, live, hello_at, amd_at):
    to = "+14155550201"
    fake.script(to, Scenario(hello="Hello?", hello_at_s=hello_at, amd_delay_s=amd_at,
                             lines=[say("I'm interested")]))
    sid = dial(live, 1, to)
    ended = live.sink.ended(1)
    call = fake.calls[sid]
    assert call.heard[0] == GREETING and call.spoke_to_machine == []
    # Greeted on their "Hello?", not at the verdict seconds later: well under the
    # 2-second abandonment limit even on a loaded machine (bench/live_bench.py
    # measures the real figure).
    assert call.greeting_after_s is not None and call.greeting_after_s < 1.0
    conv = conversation(live, 1)
    assert conv.transcript[0]["role"] == "caller" and conv.transcript[0]["text"] == "Hello?"
    assert conv.transcript[1]["text"] == GREETING
    assert conv.end.disposition == Disposition.INTERESTED
    assert ended.answered_by in (None, "human")     # the call may end before AMD decides
    assert max(live.server.greet_latency) < 1.0


def test_the_human_verdict_greets_before_the_person_speaks(fake, live):
    to = "+14155550213"
    fake.script(to, Scenario(hello="Hello?", hello_at_s=1.4, amd_delay_s=1.0,
                             lines=[say("I'm interested")]))
    sid = dial(live, 13, to)
    live.sink.ended(13)
    conv = conversation(live, 13)
    assert conv.transcript[0]["text"] == GREETING and 0.9 <= conv.transcript[0]["at_s"] < 1.3
    assert conv.detail["greeting"] == "AMD: human"
    assert fake.calls[sid].heard[0].startswith(GREETING)
    # Their "Hello?" after the greeting is an ordinary turn for the brain.
    assert ("caller", "Hello?") in [(u["role"], u["text"]) for u in conv.transcript]


def test_a_silent_person_is_greeted_after_the_short_silence(fake):
    provider = start_provider(fake, KeywordBrain(), greet_silence_s=0.6)
    try:
        to = "+14155550202"
        # AMD takes 4 s and says unknown; the person waits silently.
        fake.script(to, Scenario(amd="unknown", amd_delay_s=4.0,
                                 lines=[say("yes I'm interested")]))
        sid = dial(provider, 2, to)
        provider.sink.ended(2, timeout=20)
        conv = conversation(provider, 2)
        assert conv.transcript[0]["text"] == GREETING
        assert 0.5 <= conv.transcript[0]["at_s"] < 1.2       # the silence, not the verdict
        assert conv.detail["greeting"] == "silence"
        assert fake.calls[sid].heard[0] == GREETING
    finally:
        provider.close()


@pytest.mark.parametrize("two_step", [False, True])
def test_a_machine_hears_nothing_but_the_message_after_the_beep(fake, live, two_step):
    to = "+14155550203"
    # The greeting starts at 0.4 s and lasts 3 s; the beep verdict comes at 3.8 s.
    fake.script(to, Scenario(answer="machine", machine_greeting=MACHINE, greeting_at_s=0.4,
                             greeting_s=3.0, amd_delay_s=3.8 / (2 if two_step else 1),
                             amd_two_step=two_step, machine_wait_s=8.0))
    sid = dial(live, 3, to)
    ended = live.sink.ended(3, timeout=20)
    call = fake.calls[sid]
    assert call.spoke_to_machine == []                  # zero words before the verdict
    assert [t for t in call.heard if t.strip()] == []   # and none over the relay at all
    assert call.said == [MESSAGE] and ended.voicemail_left is True
    assert ended.answered_by == "machine_end_beep"
    assert live.sink.of(3, EventKind.CONVERSATION) == []


def test_a_late_machine_verdict_stops_the_agent_and_leaves_the_message(fake, live):
    to = "+14155550204"
    # "Hi, this is Alex." reads like a person (greeted); AMD says machine at 2.5 s.
    fake.script(to, Scenario(answer="machine", machine_greeting="Hi, this is Alex.",
                             greeting_at_s=0.3, greeting_s=0.4, amd_delay_s=2.5,
                             machine_wait_s=6.0))
    sid = dial(live, 4, to)
    ended = live.sink.ended(4, timeout=20)
    call = fake.calls[sid]
    assert call.heard == [GREETING]                     # the greeting, nothing after it
    assert call.said == [MESSAGE] and ended.voicemail_left is True
    assert ended.answered_by == "machine_end_beep"


def test_machine_words_after_the_greeting_silence_the_agent_until_the_beep(fake, live):
    to = "+14155550205"
    fake.script(to, Scenario(answer="machine",
                             machine_greeting="Hi, this is Alex. | I can't take your call, "
                                              "please leave a message after the tone.",
                             greeting_at_s=0.3, greeting_s=2.0, amd_delay_s=3.0,
                             machine_wait_s=6.0))
    sid = dial(live, 5, to)
    ended = live.sink.ended(5, timeout=20)
    call = fake.calls[sid]
    # The rule of the old brain -- answering the machine's words, or speaking the
    # message over its greeting -- is gone: only the greeting went out.
    assert call.heard == [GREETING] and call.said == [MESSAGE]
    assert ended.voicemail_left is True


def test_unknown_after_a_machine_greeting_runs_the_voicemail_action(fake, live):
    to = "+14155550206"
    fake.script(to, Scenario(answer="machine", amd="unknown", machine_greeting=MACHINE,
                             greeting_at_s=0.3, greeting_s=1.5, amd_delay_s=2.5,
                             machine_wait_s=6.0))
    sid = dial(live, 6, to)
    ended = live.sink.ended(6, timeout=20)
    call = fake.calls[sid]
    assert call.spoke_to_machine == [] and call.said == [MESSAGE]
    assert ended.answered_by == "machine_transcript" and ended.voicemail_left is True
    machine = live.sink.of(6, EventKind.MACHINE)
    assert machine and "machine greeting" in machine[0].detail["reason"]


def test_a_machine_greeting_without_any_verdict_ends_after_a_bounded_wait(fake):
    provider = start_provider(fake, KeywordBrain(), machine_quiet_s=0.8)
    try:
        to = "+14155550207"
        fake.script(to, Scenario(answer="machine", machine_greeting=MACHINE, greeting_at_s=0.3,
                                 greeting_s=1.5, drop=frozenset({"amd"}), machine_wait_s=6.0))
        sid = dial(provider, 7, to)
        ended = provider.sink.ended(7, timeout=20)
        call = fake.calls[sid]
        assert call.spoke_to_machine == [] and call.said == [MESSAGE]
        assert ended.answered_by == "machine_transcript"
    finally:
        provider.close()


def test_hangup_action_on_a_machine_says_nothing_at_all(fake, live):
    to = "+14155550208"
    fake.script(to, Scenario(answer="machine", machine_greeting=MACHINE, greeting_at_s=0.3,
                             greeting_s=1.5, amd_delay_s=2.0, machine_wait_s=6.0))
    sid = dial(live, 8, to, action=VoicemailAction.HANGUP)
    ended = live.sink.ended(8, timeout=20)
    call = fake.calls[sid]
    assert call.heard == [] and call.said == [] and "hung-up-by-api" in call.events()
    assert ended.voicemail_left is False


# -- barge-in ---------------------------------------------------------------------------

class SlowSession(BrainSession):
    """Streams a long reply slowly (an LLM at max_tokens=300); notes when it stopped."""

    words = ("Our plan saves you forty percent on every bill and there are no fees of any "
             "kind, ever, and you can cancel whenever you like with one call.").split()

    def __init__(self, ctx, brain):
        super().__init__(ctx)
        self.brain = brain

    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        self.transcript.append(Utterance("caller", caller_text, at_s))
        if "bye" in caller_text:
            end = EndCall(Disposition.COMPLETED, goodbye="Goodbye!")
            self.result = end
            self.transcript.append(Utterance("agent", "Goodbye!", at_s))
            yield Chunk("Goodbye!", end)
            return
        said = []
        line = Utterance("agent", "", at_s)
        self.transcript.append(line)
        try:
            for word in self.words:
                time.sleep(0.1)
                said.append(word + " ")
                line.text = "".join(said).strip()
                yield Chunk(word + " ")
        finally:
            if self.cancelled:
                self.brain.stopped.append(time.monotonic())


class AsyncSlowSession(SlowSession):
    """The same reply from ``arespond`` (the LLM session's live path): paced with
    ``asyncio.sleep`` on the server's loop; a barge-in cancels its task."""

    async def arespond(self, caller_text: str, at_s: float = 0.0):
        if "bye" in caller_text:
            for chunk in self.respond(caller_text, at_s):
                yield chunk
            return
        self.transcript.append(Utterance("caller", caller_text, at_s))
        self.brain.threads.add(threading.current_thread().name)
        line = Utterance("agent", "", at_s)
        self.transcript.append(line)
        try:
            for word in self.words:
                await asyncio.sleep(0.1)
                line.text = (line.text + " " + word).strip()
                yield Chunk(word + " ")
        finally:
            if self.cancelled:
                self.brain.stopped.append(time.monotonic())


class SlowBrain(Brain):
    def __init__(self, asynchronous: bool = False):
        self.stopped: list[float] = []
        self.threads: set[str] = set()
        self.asynchronous = asynchronous

    def open(self, ctx):
        return (AsyncSlowSession if self.asynchronous else SlowSession)(ctx, self)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["thread", "async"])
def test_barge_in_cancels_the_reply_and_the_next_prompt_is_answered_at_once(fake, asynchronous):
    brain = SlowBrain(asynchronous)
    provider = start_provider(fake, brain)
    try:
        to = "+14155550209"
        fake.script(to, Scenario(lines=[say_interrupting("What is this?", "Our plan saves",
                                                         after_tokens=3),
                                        say("ok bye")]))
        sid = dial(provider, 9, to)
        provider.sink.ended(9, timeout=20)
        call = fake.calls[sid]
        # The goodbye came at once, not after the 2.5 s the rest of the reply would take.
        turn_first_ms, _ = call.turn_ms[-1]
        assert turn_first_ms < 1000
        assert brain.stopped, "the brain was never told to stop"
        conv = conversation(provider, 9)
        agent = [u for u in conv.transcript if u["role"] == "agent"]
        assert agent[1]["text"] == "Our plan saves" and agent[1]["interrupted"]
        tokens = [m.get("token") for m in call.relay_messages if m["type"] == "text"]
        assert "bill " not in tokens
        if asynchronous:
            assert brain.threads == {"dialcli-callback server"}    # on the loop
    finally:
        provider.close()


def test_a_callee_who_talks_over_a_streaming_reply_interrupts_it(fake):
    """AMD's verdict greets first, the person's "Hello?" then gets a (slow) reply, and
    they go on talking over it: Twilio sends ``interrupt`` before their words (the fake
    does too, with ``talk_over_s``), so the reply stops and their words are answered at
    once rather than after the rest of it."""
    brain = SlowBrain(asynchronous=True)
    provider = start_provider(fake, brain)
    try:
        to = "+14155550214"
        fake.script(to, Scenario(hello="Hello?", hello_at_s=1.4, amd_delay_s=1.0,
                                 talk_over_s=1.0, lines=[say("ok bye")]))
        sid = dial(provider, 14, to)
        provider.sink.ended(14, timeout=20)
        call = fake.calls[sid]
        (heard,) = [text for what, text in call.log if what == "callee-talked-over"]
        assert heard.startswith("Our plan")
        assert brain.stopped, "the reply talked over was never cancelled"
        assert call.turn_ms[-1][0] < 1000          # not the ~2 s the reply had left
        conv = conversation(provider, 14)
        agent = [u for u in conv.transcript if u["role"] == "agent"]
        assert agent[0]["text"] == GREETING and agent[1]["interrupted"]
        assert agent[-1]["text"] == "Goodbye!"
    finally:
        provider.close()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["thread", "async"])
def test_dtmf_9_mid_reply_ends_with_the_opt_out_goodbye_at_once(fake, asynchronous):
    brain = SlowBrain(asynchronous)
    provider = start_provider(fake, brain)
    try:
        to = "+14155550210"
        fake.script(to, Scenario(lines=[say_interrupting("What is this?", "Our plan",
                                                         after_tokens=2),
                                        dtmf("9")]))
        sid = dial(provider, 10, to)
        provider.sink.ended(10, timeout=20)
        call = fake.calls[sid]
        assert call.turn_ms[-1][0] < 1000          # not the ~2 s the reply had left
        conv = conversation(provider, 10)
        assert conv.end.disposition == Disposition.OPT_OUT
        assert call.heard[-1] == "You've been removed from our list. Goodbye."
        assert brain.stopped, "the reply was never cancelled"
    finally:
        provider.close()


class FailingAsyncBrain(Brain):
    """``arespond`` that stalls (sleeps past the turn timeout) or raises."""

    def __init__(self, how: str):
        self.how = how
        self.cancelled: list[str] = []

    def open(self, ctx):
        brain = self

        class Session(BrainSession):
            def respond(self, caller_text, at_s=0.0):
                raise AssertionError("the live path uses arespond")

            async def arespond(self, caller_text, at_s=0.0):
                self.transcript.append(Utterance("caller", caller_text, at_s))
                if brain.how == "raise":
                    raise RuntimeError("the model's client broke")
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    brain.cancelled.append(caller_text)
                    raise
                yield Chunk("too late")
        return Session(ctx)


@pytest.mark.parametrize("how,error", [("stall", "did not answer in time"),
                                       ("raise", "agent error: RuntimeError")])
def test_an_async_reply_that_stalls_or_fails_gets_the_apology(fake, how, error):
    brain = FailingAsyncBrain(how)
    provider = start_provider(fake, brain, turn_timeout_s=0.3)
    try:
        to = "+14155550214"
        fake.script(to, Scenario(lines=[say("Who is this?"), wait(1.0)]))
        sid = dial(provider, 14, to)
        provider.sink.ended(14)
        conv = conversation(provider, 14)
        assert conv.end is None and error in conv.detail["error"]
        assert fake.calls[sid].handoff["reasonCode"] == "agent-error"
        assert "trouble on my end" in fake.calls[sid].heard[-1]
        if how == "stall":
            assert brain.cancelled == ["Who is this?"]    # its task was stopped, not left
    finally:
        provider.close()


def test_a_keypress_that_means_nothing_sends_nothing(fake, live):
    to = "+14155550211"
    fake.script(to, Scenario(lines=[say("Hello?"), dtmf("5"), wait(0.3), say("bye")]))
    sid = dial(live, 11, to)
    live.sink.ended(11)
    texts = [m for m in fake.calls[sid].relay_messages if m["type"] == "text"]
    assert all(m["token"] or m["last"] for m in texts)
    # Every last:true closes a reply that said something.
    for i, m in enumerate(texts):
        if m["token"] == "" and m["last"]:
            assert i > 0 and texts[i - 1]["token"] and not texts[i - 1]["last"]


def test_barge_in_closes_the_llm_stream(fake):
    with FakeLLM() as llm:
        llm.enqueue(reply(*[w + " " for w in SlowSession.words], token_delay=0.15),
                    reply("Sure, goodbye."))
        brain = LLMBrain(llm.settings(key="sk-test"))
        provider = start_provider(fake, brain)
        try:
            to = "+14155550212"
            fake.script(to, Scenario(lines=[say_interrupting("What is this?", "Our plan",
                                                             after_tokens=2),
                                            say("Tell me later please")], stay_s=0.5))
            sid = dial(provider, 12, to)
            provider.sink.ended(12, timeout=20)
            call = fake.calls[sid]
            # The second prompt was answered at the model's speed, not after the first
            # reply's remaining ~3 s of tokens.
            assert call.turn_ms[-1][0] < 1500
            # (a post-call labelling request, if any, is not a turn)
            assert len([r for r in llm.chat_requests if r.json.get("tools")
                        and r.json.get("stream")]) >= 2
            conv = conversation(provider, 12)
            agent = [u for u in conv.transcript if u["role"] == "agent"]
            assert agent[1]["text"] == "Our plan" and agent[1].get("interrupted")
            # The abandoned stream was closed: the model was not asked to keep writing.
            assert llm.aborted >= 1
        finally:
            provider.close()
            brain.close()


def test_an_llm_turn_on_the_live_path_runs_on_the_event_loop(fake, monkeypatch):
    """No thread per turn and no brain-pool hop: the request is made, and its stream
    read, on the callback server's loop (the threaded path made it on a brain-pool
    thread, which read a queue fed by a new ``llm-call-*`` thread)."""
    import threading
    from dialcli.conversation.llm import LLMSession

    where: list[str] = []
    started: list[str] = []
    real_messages, real_start = LLMSession._messages, threading.Thread.start

    def spy_messages(self):
        where.append(threading.current_thread().name)
        return real_messages(self)

    def spy_start(self):
        started.append(self.name)
        return real_start(self)

    monkeypatch.setattr(LLMSession, "_messages", spy_messages)
    with FakeLLM() as llm:
        llm.enqueue(reply("Hi, ", "it's Zara ", "from Acme.", token_delay=0.05),
                    reply("Great, ", "talk soon."))
        brain = LLMBrain(llm.settings(key="sk-test"))
        provider = start_provider(fake, brain)
        monkeypatch.setattr(threading.Thread, "start", spy_start)
        try:
            to = "+14155550213"
            fake.script(to, Scenario(lines=[say("Who is this?"), say("Sounds good")],
                                     stay_s=0.5))
            sid = dial(provider, 13, to)
            provider.sink.ended(13, timeout=20)
            assert fake.calls[sid].heard[1:3] == ["Hi, it's Zara from Acme.", "Great, talk soon."]
            assert len(brain._aclients) == 1          # one AsyncClient, the server loop's
        finally:
            monkeypatch.setattr(threading.Thread, "start", real_start)
            provider.close()
            assert brain._aclients == {}              # closed on its loop as the server stopped
            brain.close()
    assert where == ["dialcli-callback server"] * 2
    assert not [n for n in started if n.startswith("llm-call")]


@pytest.mark.parametrize("line", ["Who is this?", "What is this about?", "How much is it?",
                                  "Why are you calling me?"])
def test_barge_in_at_random_points_of_a_rule_brain_reply(fake, line):
    provider = start_provider(fake, RuleBrain())
    try:
        to = "+14155550230"
        fake.script(to, Scenario(lines=[say_interrupting(line, None, after_tokens=1),
                                        say("Sorry, go on"),
                                        say("Please remove me from your list")]))
        sid = dial(provider, 30, to)
        provider.sink.ended(30, timeout=20)
        conv = conversation(provider, 30)
        assert conv.end.disposition == Disposition.OPT_OUT
        cut = [u for u in conv.transcript if u.get("interrupted")]
        said = [t for k, t in fake.calls[sid].log if k == "callee-interrupted"]
        # The transcript keeps exactly what the caller heard of the interrupted reply.
        assert len(cut) == 1 and cut[0]["text"] == said[0]
    finally:
        provider.close()


# -- VOICEMAIL means a message was left -------------------------------------------------

def test_a_machine_that_hangs_up_before_the_beep_is_not_voicemail(fake, store):
    from test_live_path import Campaign

    # The verdict reaches us after the machine hung up: the redirect is refused (21220).
    scenario = Scenario(answer="machine", machine_wait_s=0.05, amd_delay_s=0.01,
                        delay={"amd": 0.3, "final": 0.8})
    camp = Campaign(store, fake, [(scenario, [])])
    assert camp.run().outcome == "completed"
    (row,) = camp.call_rows()
    assert row["answered_by"] == "machine_end_beep"
    assert row["disposition"] == "NO_ANSWER"            # not reached: tried again later
    assert "no message was left" in row["error"]
    camp.provider.close()


def test_the_ended_event_says_why_no_voicemail_was_left(fake, live):
    to = "+14155550240"
    fake.script(to, Scenario(answer="machine", machine_wait_s=0.05, amd_delay_s=0.01,
                             delay={"amd": 0.3, "final": 0.8}))
    dial(live, 40, to)
    ended = live.sink.ended(40)
    assert ended.voicemail_left is False and ended.detail["voicemail"] == "missed"
    assert "hung up before the beep" in ended.error


class VoicemailSpotter(Brain):
    """Like an LLM that calls end_call(VOICEMAIL) and says the message at once."""

    def open(self, ctx):
        class Session(BrainSession):
            def respond(self, caller_text, at_s=0.0):
                self.transcript.append(Utterance("caller", caller_text, at_s))
                end = EndCall(Disposition.VOICEMAIL, "a machine", goodbye=ctx.voicemail_message)
                self.result = end
                yield Chunk(ctx.voicemail_message, end)
        return Session(ctx)


def test_a_brain_that_spots_a_machine_does_not_speak_the_message_over_its_greeting(fake):
    provider = start_provider(fake, VoicemailSpotter())
    try:
        to = "+14155550250"
        # Words the gate does not know as a machine's; the brain decides VOICEMAIL.
        fake.script(to, Scenario(answer="machine",
                                 machine_greeting="Hi, this is Alex. | Sorry I missed you, "
                                                  "talk soon.",
                                 greeting_at_s=0.3, greeting_s=1.5, amd_delay_s=3.0,
                                 machine_wait_s=6.0))
        sid = dial(provider, 50, to)
        ended = provider.sink.ended(50, timeout=20)
        call = fake.calls[sid]
        assert call.heard == [GREETING]                 # the message never over the relay
        assert call.said == [MESSAGE] and ended.voicemail_left is True
    finally:
        provider.close()
