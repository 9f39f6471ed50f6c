"""The live call path end to end: TwilioProvider + callback server + fake Twilio + a brain.

The fake places each call by driving dialcli's server the way Twilio does (signed
status/AMD callbacks, TwiML fetch, a ConversationRelay WebSocket playing the callee);
``EventRecorder`` stands in for the engine. Full campaigns through the engine are at
the end of this file.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest

from dialcli.conversation.base import Brain, BrainSession, CallContext, Chunk, EndCall, Utterance
from dialcli.models import CallStatus, Disposition, VoicemailAction
from dialcli.providers.base import DialRequest, EventKind
from factories import KeywordBrain
from fakes.fake_twilio import (FakeTwilio, Scenario, dtmf, hangup, say, say_interrupting,
                               start_provider, wait)

FROM = "+14155550100"


def ctx(call_id: int, to: str, *, action: VoicemailAction = VoicemailAction.MESSAGE,
        message: str = "Hi Alex, it's Zara from Acme. Please call us back at 415 555 0100.",
        greeting: str = "Hi Alex, this is Zara from Acme. Do you have a minute?") -> CallContext:
    return CallContext(call_id=call_id, campaign="Spring", agent="Zara", to=to, from_=FROM,
                       greeting=greeting, system_prompt="You are Zara.",
                       voicemail_message=message, voicemail_action=action,
                       lead_name="Alex", recipient_tz="America/New_York")


def dial(provider, call_id: int, to: str, **kw) -> str:
    return provider.place(DialRequest(call_id, to, FROM, ctx(call_id, to, **kw),
                                      f"1:1:{call_id}:1:1:pass", ring_timeout_s=20))


@pytest.fixture
def fake():
    with FakeTwilio() as f:
        yield f


@pytest.fixture
def live(fake):
    provider = start_provider(fake, KeywordBrain())
    yield provider
    provider.close()


def conversation(provider, call_id):
    convs = provider.sink.of(call_id, EventKind.CONVERSATION)
    assert len(convs) == 1, provider.sink.kinds(call_id)
    return convs[0]


@pytest.mark.parametrize("line,disposition", [
    ("Yes, I'm interested, tell me more", Disposition.INTERESTED),
    ("No thanks, I'm not interested", Disposition.NOT_INTERESTED),
    ("I'm busy, call me back tomorrow at 3pm", Disposition.CALLBACK),
    ("Sorry, you have the wrong number", Disposition.WRONG_NUMBER),
    ("Please remove me from your list", Disposition.OPT_OUT),
    ("OK, bye then", Disposition.COMPLETED),
])
def test_human_conversation_ends_with_the_brains_disposition(fake, live, line, disposition):
    to = "+14155550101"
    fake.script(to, Scenario(lines=[say("Hello? Who is this?"), say(line)]))
    sid = dial(live, 1, to)

    ended = live.sink.ended(1)
    assert ended.status == CallStatus.COMPLETED and ended.sid == sid
    assert ended.answered_by == "human" and ended.voicemail_left is False
    assert ended.duration_s >= 1 and ended.billed_minutes == 1
    conv = conversation(live, 1)
    assert conv.end is not None and conv.end.disposition == disposition
    assert conv.turns == 2
    roles = [(u["role"], u["text"]) for u in conv.transcript]
    assert roles[0] == ("agent", "Hi Alex, this is Zara from Acme. Do you have a minute?")
    assert ("caller", "Hello? Who is this?") in roles and ("caller", line) in roles
    # Event order the engine relies on: conversation before the end, each once.
    kinds = live.sink.kinds(1)
    assert kinds[0] == "placed" and kinds.count("ended") == 1
    assert kinds.index("answered") < kinds.index("conversation") < kinds.index("ended")
    call = fake.calls[sid]
    assert call.handoff["disposition"] == disposition.value        # sent as handoffData
    assert call.heard[0] == "Hi Alex, this is Zara from Acme. Do you have a minute?"
    assert call.heard[-1] == "Thank you, goodbye."
    assert "agent-ended" in call.events() and "hangup-verb" in call.events()


def test_dtmf_9_opts_out(fake, live):
    to = "+14155550102"
    fake.script(to, Scenario(lines=[say("Who's this?"), dtmf("9")]))
    dial(live, 2, to)
    live.sink.ended(2)
    conv = conversation(live, 2)
    assert conv.end.disposition == Disposition.OPT_OUT
    assert {"role": "dtmf", "text": "9"} in [{k: u[k] for k in ("role", "text")}
                                            for u in conv.transcript]


def test_caller_hangs_up_mid_conversation(fake, live):
    to = "+14155550103"
    fake.script(to, Scenario(lines=[say("Hello?"), hangup()]))
    dial(live, 3, to)
    ended = live.sink.ended(3)
    assert ended.status == CallStatus.COMPLETED
    conv = conversation(live, 3)
    assert conv.end is None and conv.turns == 1          # unlabeled: the classifier decides


@pytest.mark.parametrize("two_step", [False, True])
def test_voicemail_message_is_left_after_the_beep(fake, live, two_step):
    to = "+14155550104"
    fake.script(to, Scenario(answer="machine", amd_two_step=two_step))
    sid = dial(live, 4, to)
    ended = live.sink.ended(4)
    assert ended.status == CallStatus.COMPLETED
    assert ended.answered_by == "machine_end_beep" and ended.voicemail_left is True
    machines = live.sink.of(4, EventKind.MACHINE)
    assert len(machines) == 1 and machines[0].answered_by == "machine_end_beep"
    assert live.sink.of(4, EventKind.CONVERSATION) == []
    call = fake.calls[sid]
    assert call.said == ["Hi Alex, it's Zara from Acme. Please call us back at 415 555 0100."]
    update = dict(call.log)["update"]
    assert "<Say" in update["Twiml"] and update["Twiml"].index("Pause") < update["Twiml"].index("Say")


def test_voicemail_hangup_action_leaves_nothing(fake, live):
    to = "+14155550105"
    fake.script(to, Scenario(answer="machine"))
    sid = dial(live, 5, to, action=VoicemailAction.HANGUP)
    ended = live.sink.ended(5)
    assert ended.voicemail_left is False and ended.answered_by == "machine_end_beep"
    call = fake.calls[sid]
    assert call.said == [] and "hung-up-by-api" in call.events()


def test_fax_is_hung_up(fake, live):
    to = "+14155550106"
    fake.script(to, Scenario(answer="fax"))
    sid = dial(live, 6, to)
    ended = live.sink.ended(6)
    assert ended.answered_by == "fax" and ended.voicemail_left is False
    assert fake.calls[sid].said == []


@pytest.mark.parametrize("answer,status", [("no-answer", CallStatus.NO_ANSWER),
                                           ("busy", CallStatus.BUSY),
                                           ("failed", CallStatus.FAILED)])
def test_unanswered_calls_end_with_their_status(fake, live, answer, status):
    to = "+14155550107"
    fake.script(to, Scenario(answer=answer))
    dial(live, 7, to)
    ended = live.sink.ended(7)
    assert ended.status == status and ended.duration_s == 0
    kinds = live.sink.kinds(7)
    assert "answered" not in kinds and "conversation" not in kinds


class StreamingSession(BrainSession):
    """Replies in several chunks with a pause between them (like an LLM stream)."""

    reply = ["Our plan ", "saves you ", "forty percent ", "on every bill."]

    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        self.transcript.append(Utterance("caller", caller_text, at_s))
        if "bye" in caller_text:
            end = EndCall(Disposition.COMPLETED, goodbye="Goodbye!")
            self.transcript.append(Utterance("agent", "Goodbye!", at_s))
            yield Chunk("Goodbye!", end)
            return
        self.transcript.append(Utterance("agent", "".join(self.reply), at_s))
        for part in self.reply:
            time.sleep(0.03)
            yield Chunk(part)


class StreamingBrain(Brain):
    def open(self, ctx):
        return StreamingSession(ctx)


def test_interrupt_truncates_what_the_caller_did_not_hear(fake):
    provider = start_provider(fake, StreamingBrain())
    try:
        to = "+14155550108"
        fake.script(to, Scenario(lines=[say_interrupting("What is this about?", "Our plan",
                                                         after_tokens=1), say("ok bye")]))
        sid = dial(provider, 8, to)
        provider.sink.ended(8)
        conv = conversation(provider, 8)
        agent = [u for u in conv.transcript if u["role"] == "agent"]
        assert agent[1] == {"role": "agent", "text": "Our plan", "at_s": agent[1]["at_s"],
                            "interrupted": True}
        assert conv.end.disposition == Disposition.COMPLETED
        # Once interrupted, the rest of that reply was not sent.
        tokens = [m.get("token") for m in fake.calls[sid].relay_messages if m["type"] == "text"]
        assert "on every bill." not in tokens
    finally:
        provider.close()


class StallingBrain(Brain):
    def __init__(self):
        self.release = threading.Event()

    def open(self, ctx):
        brain = self

        class Session(BrainSession):
            def respond(self, caller_text, at_s=0.0):
                self.transcript.append(Utterance("caller", caller_text, at_s))
                brain.release.wait(5)
                yield Chunk("too late")
        return Session(ctx)


def test_a_stalled_brain_apologises_and_ends_unlabeled(fake):
    brain = StallingBrain()
    provider = start_provider(fake, brain, turn_timeout_s=0.3)
    try:
        to = "+14155550109"
        fake.script(to, Scenario(lines=[say("Hello?"), wait(1.0)]))
        sid = dial(provider, 9, to)
        provider.sink.ended(9)
        conv = conversation(provider, 9)
        assert conv.end is None and "did not answer in time" in conv.detail["error"]
        assert fake.calls[sid].handoff["reasonCode"] == "agent-error"
        assert "trouble on my end" in fake.calls[sid].heard[-1]
    finally:
        brain.release.set()
        provider.close()


def test_duplicate_and_out_of_order_callbacks_change_nothing(fake, live):
    to = "+14155550110"
    fake.script(to, Scenario(lines=[say("I'm interested")],
                             duplicate=frozenset({"ringing", "completed", "amd"}),
                             delay={"ringing": 0.6, "in-progress": 0.6}))
    sid = dial(live, 10, to)
    ended = live.sink.ended(10)
    assert ended.status == CallStatus.COMPLETED
    time.sleep(0.8)          # let the delayed ringing / in-progress arrive
    kinds = live.sink.kinds(10)
    assert kinds.count("ended") == 1 and kinds.count("human") == 1
    assert kinds.count("answered") == 1 and "ringing" not in kinds   # late ringing ignored
    statuses = [d["status"] for d in fake.deliveries if d["sid"] == sid]
    assert statuses.count(204) >= 7       # every delivery was accepted, duplicates included
    assert live.server.stats["duplicates"] >= 3


def test_lost_callbacks_are_recovered_by_polling(fake):
    provider = start_provider(fake, KeywordBrain(), quiet_s=0.2, poll_every_s=0.2)
    try:
        to = "+14155550111"
        fake.script(to, Scenario(lines=[say("Hi"), say("bye")], talk_s=75,
                                 drop=frozenset({"initiated", "ringing", "in-progress",
                                                 "final", "amd"})))
        dial(provider, 11, to)
        assert fake.wait_idle(10)
        assert provider.sink.of(11, EventKind.ENDED) == []
        deadline = time.monotonic() + 10
        while not provider.sink.of(11, EventKind.ENDED) and time.monotonic() < deadline:
            provider.poll({11: fake.by_to(to)[0].sid}, None)
            time.sleep(0.1)
        ended = provider.sink.ended(11, timeout=1)
        assert ended.status == CallStatus.COMPLETED and ended.detail["source"] == "poll"
        assert ended.duration_s == 75 and ended.billed_minutes == 2
        assert conversation(provider, 11).end.disposition == Disposition.COMPLETED
        assert provider.polled_events >= 1
    finally:
        provider.close()


def test_tunnel_down_call_still_ends_through_polling(fake):
    provider = start_provider(fake, KeywordBrain(), quiet_s=0.2, poll_every_s=0.2)
    try:
        to = "+14155550112"
        fake.script(to, Scenario(lines=[say("Hello?")]))
        fake.tunnel_down()
        sid = dial(provider, 12, to)
        assert fake.wait_idle(10)
        call = fake.calls[sid]
        assert "application-error" in call.events()      # TwiML unreachable
        assert all(d["status"] == "unreachable" for d in fake.deliveries if d["sid"] == sid)
        deadline = time.monotonic() + 10
        while not provider.sink.of(12, EventKind.ENDED) and time.monotonic() < deadline:
            provider.poll({12: sid}, None)
            time.sleep(0.1)
        ended = provider.sink.ended(12, timeout=1)
        assert ended.status == CallStatus.COMPLETED
        assert provider.sink.of(12, EventKind.CONVERSATION) == []
    finally:
        provider.close()


def test_polling_leaves_calls_with_live_callbacks_alone(fake, live):
    to = "+14155550113"
    fake.script(to, Scenario(lines=[say("Hello?"), wait(0.3), say("bye")]))
    sid = dial(live, 13, to)
    live.poll({13: sid}, None)          # quiet_s is 30 s: nothing is fetched
    live.sink.ended(13)
    assert ("GET", f"/2010-04-01/Accounts/{fake.account_sid}/Calls/{sid}.json") \
        not in fake.requests
    assert live.polled_events == 0


def test_many_calls_at_once_each_end_exactly_once(fake, live):
    numbers = [f"+1415555{2000 + i:04d}" for i in range(20)]
    for i, to in enumerate(numbers):
        lines = [say("Hello?"), say("not interested")] if i % 2 else [say("interested!")]
        fake.script(to, Scenario(lines=lines, answer="machine" if i % 5 == 0 else "human"))
    for i, to in enumerate(numbers):
        dial(live, 100 + i, to)
    for i in range(len(numbers)):
        live.sink.ended(100 + i, timeout=20)
    for i in range(len(numbers)):
        kinds = live.sink.kinds(100 + i)
        assert kinds.count("ended") == 1
        assert kinds.count("machine") == (1 if i % 5 == 0 else 0)
