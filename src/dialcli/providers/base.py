"""The provider interface: how the engine places calls and hears about them.

One engine, two providers (design.md section 1): ``SimulatedProvider`` (ships in the
package; the demo and the test double) and ``TwilioProvider`` (the only module that
imports ``twilio``).

The engine claims a dial in the database, then calls ``place``. Everything that
happens afterwards reaches the engine as ``CallEvent`` objects through the
``EventSink`` it bound: ``emit`` for events happening now (thread-safe: the callback
server calls it from its own thread) and ``schedule`` for events at a future
(virtual) time (the simulator uses it to play a call out on the virtual clock).
A call is over for the engine when its ``ENDED`` event arrives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from dialcli.conversation.base import CallContext, EndCall
from dialcli.errors import ProviderError
from dialcli.models import CallStatus


class EventKind(StrEnum):
    PLACED = "placed"            # provider accepted the call (sid known)
    RINGING = "ringing"
    ANSWERED = "answered"        # picked up (AMD verdict may follow)
    MACHINE = "machine"          # AMD says machine (answered_by machine_* / fax)
    HUMAN = "human"              # AMD says human
    LINE = "line"                # one line said in a call in progress (detail: role, text)
    CONVERSATION = "conversation"  # the brain session finished (transcript, label)
    ENDED = "ended"              # final status; the engine applies the outcome


@dataclass
class CallEvent:
    call_id: int
    kind: EventKind
    at: datetime
    sid: str | None = None
    status: CallStatus | None = None        # provider status (final on ENDED)
    answered_by: str | None = None          # Twilio AnsweredBy, raw
    duration_s: int | None = None           # talk time in seconds (CallDuration)
    billed_minutes: int | None = None       # Duration of the completed callback
    price: float | None = None              # positive dollars when known
    price_unit: str | None = None
    turns: int | None = None                # caller turns in the conversation
    transcript: list[dict[str, Any]] | None = None
    end: EndCall | None = None              # the brain's label, if it gave one
    voicemail_left: bool = False
    error_code: int | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class EventSink(Protocol):
    #: Nobody watches progress-only events (ringing, answered...): a provider need
    #: not build them (an unwatched simulation).
    lazy_progress: bool

    def emit(self, event: CallEvent) -> None:
        """Deliver an event that happens now (thread-safe)."""

    def schedule(self, at: datetime, event: CallEvent) -> None:
        """Deliver an event at a future time on the engine's clock."""


@dataclass(frozen=True)
class DialRequest:
    call_id: int
    to: str
    from_: str
    context: CallContext
    attempt_key: str              # "campaign:run:lead:slot:pass:kind", unique per dial
    ring_timeout_s: int = 25
    record: bool = False          # ask the provider to record the call (dual channel)


@dataclass(frozen=True)
class CallState:
    """What the provider knows about one call (for reconciliation and polling)."""

    sid: str
    status: CallStatus
    to: str | None = None
    from_: str | None = None
    answered_by: str | None = None
    duration_s: int | None = None
    billed_minutes: int | None = None
    price: float | None = None
    price_unit: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


class ProviderAction(StrEnum):
    """What the engine should do about a provider error."""

    RETRY = "retry"              # never processed; back off and place the same call again
    DEAD_NUMBER = "dead_number"  # this phone can never be dialed: retire it
    PAUSE = "pause"              # campaign-level problem (from-number, trial): pause
    SLOW_DOWN = "slow_down"      # concurrency limit: lower max in flight, retry later
    FAIL_CALL = "fail_call"      # this dial failed; count it as FAILED


class DialError(ProviderError):
    """A dial the provider refused, with what the engine should do about it."""

    def __init__(self, message: str, *, action: ProviderAction, code: int | None = None,
                 status: int | None = None, hint: str | None = None, uncertain: bool = False):
        super().__init__(message, hint=hint, code=code, status=status,
                         retryable=action in (ProviderAction.RETRY, ProviderAction.SLOW_DOWN))
        self.action = action
        #: The provider may have placed the call and could not tell: never count it
        #: FAILED (the lead would move to its next phone while this one may ring).
        self.uncertain = uncertain


class Provider(ABC):
    """A phone network the engine dials through.

    Capabilities are declared here (the engine asks, never probes):

    - ``simulated``: no real phone rings. An opt-out heard from a simulated callee
      binds simulated runs only, and simulated dials count only towards simulated
      frequency caps.
    - ``polls``: callbacks can go missing, so the engine calls ``poll`` for calls in
      flight (a live provider); a simulator's events always arrive.
    - ``prices_final``: a price on ENDED is the carrier's own, not an estimate.
    - ``supports_deferred_journal``: with ``defer_journal`` set, the provider records
      placements only at ``flush_journal`` (after the engine commits the claims that
      asked for them) and forgets them at ``discard_journal`` (after a rollback), so
      the engine may commit many dials at once without the network's record getting
      ahead of the workspace's.
    """

    name = "provider"
    simulated: bool = False
    polls: bool = False
    prices_final: bool = False
    supports_deferred_journal: bool = False
    defer_journal: bool = False

    def bind(self, sink: EventSink, clock: Any) -> None:
        """Called once by the engine before any dial."""
        self.sink = sink
        self.clock = clock

    def start(self) -> None:
        """Start background machinery (servers, pollers)."""

    def close(self) -> None:
        """Stop background machinery."""

    @abstractmethod
    def place(self, req: DialRequest) -> str:
        """Place the call; return the provider's call id. Raise ``DialError``."""

    @abstractmethod
    def fetch(self, sid: str) -> CallState | None:
        """The provider's view of a call, or None if it does not know it."""

    @abstractmethod
    def find_calls(self, to: str, from_: str, since: datetime) -> list[CallState]:
        """Calls to ``to`` from ``from_`` started at or after ``since``."""

    def hangup(self, sid: str) -> None:
        """End a live call."""

    def prepare_reconcile(self, open_calls: list[tuple[str | None, str, datetime]]) -> None:
        """Called once before ``fetch``/``find_calls`` for the calls a dead runner left
        open: [(sid or None, to, claimed_at)]. Lets a provider batch its lookups."""

    def flush_journal(self) -> None:
        """Record the placements deferred since the last flush (see the class doc)."""

    def discard_journal(self) -> None:
        """Forget the placements deferred since the last flush (their claims rolled back)."""

    def poll(self, in_flight: dict[int, str | None], now: datetime) -> None:
        """Called periodically with {call_id: sid}; emit events for calls whose
        callbacks went missing (live providers poll; the simulator needs nothing)."""
