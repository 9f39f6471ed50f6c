"""The brain interface shared by live calls and the simulator.

A ``Brain`` opens one ``BrainSession`` per answered call. The session has the call's
``CallContext`` (rendered greeting and system prompt, lead variables, recipient time
zone) and keeps the transcript. For each thing the caller says, ``respond`` yields the
agent's reply as text chunks (an LLM streams tokens; the rule brain yields one chunk),
and may finish with an ``EndCall`` carrying the disposition. The live relay server
and the simulator drive sessions the same way, so a rehearsal exercises the same
code as a real call.

Sessions are synchronous; the async relay server runs a blocking one in a worker
thread. A session whose turns wait on network I/O may also offer ``arespond`` (an async
generator run on the relay server's event loop, the LLM session's live path): the
relay then iterates it on the loop, with no thread per turn and no hop per token, and
cancels its task on barge-in. ``respond`` stays for the simulator and rehearsals.
Barge-in: the relay calls ``cancel()`` (from another thread) when the caller
interrupts or presses an action key mid-reply; a ``respond`` that waits on I/O must
notice ``cancelled`` promptly and return (the LLM session closes its HTTP stream),
keeping what it already said in the transcript so ``on_interrupt`` can trim it.
Implementations: ``rules.RuleBrain`` (offline, deterministic) and ``llm.LLMBrain``
(OpenAI-compatible, falls back to the rules); ``llm.make_brain(settings)`` picks one.
A call the brain did not label is labelled afterwards by ``classify.classify_transcript``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Iterator

from dialcli.models import Disposition, VoicemailAction
from dialcli.workspace.fields import FieldSpec


@dataclass(frozen=True)
class CallContext:
    """Everything the brain and the provider need to know about one dial."""

    call_id: int
    campaign: str
    agent: str
    to: str
    from_: str
    greeting: str                  # rendered for this lead
    system_prompt: str             # rendered for this lead
    voicemail_message: str         # rendered; '' when none
    voicemail_action: VoicemailAction
    language: str = "en-US"
    voice: str | None = None
    lead_name: str = ""
    lead_vars: dict[str, Any] = field(default_factory=dict)
    recipient_tz: str | None = None   # IANA zone used to read "tomorrow at 3"
    llm_model: str | None = None
    fields: tuple[FieldSpec, ...] = ()   # what the agent extracts from the call
    tts_provider: str | None = None    # ConversationRelay ttsProvider (``voice`` is its id)
    voicemail_voice: str | None = None  # a <Say> voice for the voicemail message
    placed_at: datetime | None = None   # when the dial went out: the brain's "now" at pick-up


@dataclass
class Utterance:
    role: str                     # 'agent' | 'caller' | 'dtmf' | 'system'
    text: str
    at_s: float = 0.0             # seconds since the call was answered
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = {"role": self.role, "text": self.text, "at_s": round(self.at_s, 2)}
        if self.interrupted:
            d["interrupted"] = True
        return d


class Transcript(list):
    """A session's utterances; ``listener`` (when set) hears each line as it is added,
    so a live call's dashboard can show the conversation as it happens."""

    listener: "Callable[[Utterance], None] | None" = None

    def append(self, utt: "Utterance") -> None:
        super().append(utt)
        if self.listener is not None:
            try:
                self.listener(utt)
            except Exception:  # noqa: BLE001 - a watcher must never break the call
                pass


@dataclass(frozen=True)
class EndCall:
    """The brain's decision to end the call, with its label."""

    disposition: Disposition
    summary: str = ""
    callback_text: str | None = None   # what the caller said about when to call back
    callback_at: str | None = None     # ISO-8601 if the brain resolved it itself
    goodbye: str = ""                  # last line to speak before hanging up
    fields: Any = None                 # the brain's extracted values, unchecked

    # The goodbye is also the text of the chunk that carries this EndCall (or the end
    # of that turn's streamed text): consumers speak ``Chunk.text`` only and must not
    # speak ``goodbye`` a second time. The callback instant is resolved by the engine
    # with its clock: ``callback_time.callback_due(callback_at, callback_text, now, tz)``.


@dataclass(frozen=True)
class Chunk:
    """One piece of the agent's reply. ``end`` is set on the last chunk of the call."""

    text: str = ""
    end: EndCall | None = None


class BrainSession(ABC):
    """One conversation."""

    def __init__(self, ctx: CallContext):
        self.ctx = ctx
        self.transcript: list[Utterance] = Transcript()
        self.result: EndCall | None = None
        # A flag, not a ``threading.Event``: nothing waits on it (a session that blocks
        # overrides ``cancel`` to wake its own wait), and setting or reading one
        # attribute is atomic across threads. An Event cost a lock and a condition per
        # session -- a tenth of a simulated conversation's opening.
        self._cancelled = False

    # -- barge-in -------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        """True once ``cancel`` was called for the reply in progress."""
        return self._cancelled

    def cancel(self) -> None:
        """Stop the reply in progress (any thread). Overridden to wake a blocked wait."""
        self._cancelled = True

    def begin_turn(self) -> None:
        """A new reply starts: forget an earlier ``cancel``."""
        self._cancelled = False

    #: Keys that end the call mid-reply (the relay cancels the reply at once for them).
    action_digits: frozenset[str] = frozenset({"9"})

    @property
    def caller_turns(self) -> int:
        return sum(1 for u in self.transcript if u.role == "caller")

    def last_agent_line(self) -> str:
        """What the agent said last ('' before the greeting)."""
        return next((u.text for u in reversed(self.transcript) if u.role == "agent"), "")

    def previous_caller_line(self) -> str:
        """The caller's turn before the one just added ('' if none): the first half of
        a turn the recogniser may have cut in two."""
        said = [u.text for u in self.transcript if u.role == "caller"]
        return said[-2] if len(said) >= 2 else ""

    def opening(self, at_s: float = 0.0) -> str:
        """The first line (the rendered greeting), recorded in the transcript."""
        self.transcript.append(Utterance("agent", self.ctx.greeting, at_s))
        return self.ctx.greeting

    def heard(self, caller_text: str, at_s: float = 0.0) -> None:
        """The callee spoke before the greeting ("Hello?"): recorded, not answered --
        the greeting is the answer."""
        self.transcript.append(Utterance("caller", caller_text, at_s))

    @abstractmethod
    def respond(self, caller_text: str, at_s: float = 0.0) -> Iterator[Chunk]:
        """React to the caller's words; yield reply chunks (last may carry ``end``)."""

    #: Optional async ``respond``: ``async def arespond(caller_text, at_s) ->
    #: AsyncIterator[Chunk]``, run on the caller's event loop (None: not offered). It
    #: must stop promptly when its task is cancelled, keeping what it said.
    arespond: Callable[[str, float], AsyncIterator[Chunk]] | None = None

    async def aon_dtmf(self, digit: str, at_s: float = 0.0) -> AsyncIterator[Chunk]:
        """``on_dtmf`` for a session that offers ``arespond`` (CPU only by default)."""
        for chunk in self.on_dtmf(digit, at_s):
            yield chunk

    def on_dtmf(self, digit: str, at_s: float = 0.0) -> Iterator[Chunk]:
        """A keypress. Default: 9 means opt-out (the standard keypress opt-out)."""
        self.transcript.append(Utterance("dtmf", digit, at_s))
        if digit == "9":
            end = EndCall(Disposition.OPT_OUT, "Pressed 9 to opt out.",
                          goodbye="You've been removed from our list. Goodbye.")
            self.result = end
            self.transcript.append(Utterance("agent", end.goodbye, at_s))
            yield Chunk(end.goodbye, end)
        return

    def on_interrupt(self, heard: str) -> None:
        """The caller barged in: keep only what they heard of the last agent line."""
        for utt in reversed(self.transcript):
            if utt.role == "agent":
                utt.text = heard
                utt.interrupted = True
                break

    def finish(self, at_s: float = 0.0) -> EndCall | None:
        """The call ended (hang-up); return the label if the brain decided one."""
        return self.result

    def transcript_dicts(self) -> list[dict[str, Any]]:
        return [u.as_dict() for u in self.transcript]


class Brain(ABC):
    """Creates sessions. Implementations: ``rules.RuleBrain``, ``llm.LLMBrain``."""

    name = "brain"
    #: False when the relay server may run the brain's sessions on its event loop
    #: instead of a worker thread: opening one never waits on I/O, and each turn either
    #: never does (the rule brain) or is offered as ``arespond`` (the LLM brain). The
    #: post-call ``finish`` always runs in a worker thread.
    blocking = True

    @abstractmethod
    def open(self, ctx: CallContext) -> BrainSession:
        """Start a conversation for an answered call."""

    def close(self) -> None:
        """Release clients (HTTP pools)."""

    async def aclose(self) -> None:
        """Release what async sessions opened on the running loop (the callback server
        calls it on its loop as it stops)."""


def collect(chunks: Iterator[Chunk]) -> tuple[str, EndCall | None]:
    """Join a streamed reply into (text, end)."""
    parts: list[str] = []
    end: EndCall | None = None
    for chunk in chunks:
        parts.append(chunk.text)
        if chunk.end is not None:
            end = chunk.end
    return "".join(parts), end
