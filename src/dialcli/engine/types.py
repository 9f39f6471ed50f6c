"""The engine's records: a call in flight, the state of a run that its parts share,
its timing, the dashboard snapshot, the run result, and the event sink.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dialcli.compliance.consent import Memo as ConsentMemo
from dialcli.models import Campaign
from dialcli.providers.base import CallEvent, DialRequest, EventKind
from dialcli.store import Store
from dialcli.workspace.fields import FieldSpec
from dialcli.workspace.fields import loads as extracted_fields

EVENT_WORDS = {"ringing": "ringing", "answered": "answered", "human": "a person is on the line",
               "machine": "answering machine", "conversation": "conversation over"}


@dataclass(frozen=True)
class Timing:
    """The engine's waits and batch sizes; tests shorten them through the constructor."""

    conversation_grace: timedelta = timedelta(seconds=5)  # after ENDED, for the transcript
    poll_every: timedelta = timedelta(seconds=15)         # ask a polling provider this often
    retry_backoff: timedelta = timedelta(seconds=2)       # first wait before placing again
    group_commit_s: float = 0.2         # an unwatched simulation commits this often (wall)
    group_commit_gap_s: float = 0.004   # and then leaves the write lock free this long
    place_threads: int = 8              # concurrent create requests in real time
    busy_patience_s: float = 900.0      # wait this long for another writer's lock
    stale_after_s: float | None = None  # a batch open longer is rolled back (None: the lease's)


@dataclass
class InFlight:
    call_id: int
    lead_id: int
    lead_name: str
    slot: int
    kind: str
    pass_no: int
    e164: str
    tz: str | None
    sid: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    amd_at: datetime | None = None          # when the answering-machine verdict came
    conversation: CallEvent | None = None
    ended: CallEvent | None = None
    grace_until: datetime | None = None
    request: DialRequest | None = None
    retries: int = 0


@dataclass
class Snapshot:
    """What the live dashboard shows; built from in-memory counters (cheap)."""

    campaign: str
    status: str
    now: datetime
    run: int
    pass_no: int
    max_passes: int
    next_pass_at: datetime | None
    calls_made: int
    reached: int
    interested: int
    opted_out: int
    in_flight: int
    minutes: int
    cost: float
    dispositions: dict[str, int]
    leads_by_status: dict[str, int]
    recent_leads: list[dict[str, Any]]
    recent_events: list[dict[str, Any]]
    waiting_until: datetime | None = None
    waiting_for: str | None = None          # why: "a callback is due", "calling hours open in ..."
    note: str | None = None
    live_calls: list[dict[str, Any]] = field(default_factory=list)  # the last lines said
    virtual: bool = False


@dataclass
class RunResult:
    outcome: str                  # completed | paused | interrupted | lease_lost | aborted
    calls: int = 0
    message: str | None = None
    reconciled: int = 0
    provider_pause: str | None = None   # the provider refused dials: what to do about it


#: How stale a watched live run lets the dashboard's lines get (``Sink.lines``).
LINE_EVERY = timedelta(milliseconds=250)

#: Events that change state; the others (ringing, answered...) only feed the dashboard.
SIGNIFICANT = frozenset({EventKind.ENDED, EventKind.CONVERSATION})


class Sink:
    """Events into the engine: ``emit`` from any thread, ``schedule`` on its clock.

    With ``lazy_progress`` (an unwatched simulation) the loop does not wake up for
    progress-only events; they are applied, with their own timestamps, at the next
    wake-up -- a simulated call then costs two loop turns, not six.

    A conversation's lines as they are said (``LINE``, the dashboard's, a dozen or more
    per live call) never wake the loop either: they wait in ``lines`` for its next
    wake-up, which a watched live run makes at least every ``LINE_EVERY``. Waking the
    engine thread for each one cost a loop turn (and its transaction) per line, and
    the thread's CPU came out of the callback server's event loop (one GIL).
    """

    def __init__(self) -> None:
        self.inbox: queue.Queue[CallEvent] = queue.Queue()
        self.lines: collections.deque[CallEvent] = collections.deque()
        self.timeline: list[tuple[datetime, int, CallEvent]] = []
        self.wakes: list[datetime] = []
        self.lazy_progress = False
        self._seq = itertools.count()

    def emit(self, event: CallEvent) -> None:
        if event.kind is EventKind.LINE:
            self.lines.append(event)        # (deque.append is thread-safe) no wake-up
            return
        self.inbox.put(event)

    def schedule(self, at: datetime, event: CallEvent) -> None:
        heapq.heappush(self.timeline, (at, next(self._seq), event))
        if not self.lazy_progress or event.kind in SIGNIFICANT or event.detail:
            heapq.heappush(self.wakes, at)

    def next_wake(self, now: datetime) -> datetime | None:
        wakes = self.wakes
        while wakes and wakes[0] < now:
            heapq.heappop(wakes)
        return wakes[0] if wakes else None


@dataclass
class RunState:
    """What the parts of a running engine share, declared in one place.

    The loop, the claimer, the placer, the settler and the pass keeper each get this
    object in their constructor; none of them reads another's attributes.
    """

    campaign: Campaign
    agent: dict[str, Any]
    max_concurrent: int
    hooks: bool                                  # anyone subscribed to lead events
    in_flight: dict[int, InFlight] = field(default_factory=dict)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    abort_requested: threading.Event = field(default_factory=threading.Event)
    slow_until: datetime | None = None           # the provider asked us to slow down
    note: str | None = None                      # what the dashboard should say
    provider_pause: str | None = None            # why the provider paused the campaign
    waiting_until: datetime | None = None        # nothing is dialed before then ...
    waiting_for: str | None = None               # ... for this reason
    next_callback: datetime | None = None
    callback_fresh: bool = False                 # next_callback was read since the last change
    # Per-number consent records and states, read once per number (cleared when another
    # process commits; an opt-out drops its numbers).
    consent_memo: ConsentMemo = field(default_factory=ConsentMemo)

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        """The agent's extracted fields (parsed once per stored text)."""
        text = self.agent.get("fields")
        cached = self.__dict__.get("_fields")
        if cached is None or cached[0] != text:
            cached = (text, tuple(extracted_fields(text)))
            self.__dict__["_fields"] = cached
        return cached[1]

    def reload_campaign(self, store: Store) -> Campaign:
        row = store.one("SELECT * FROM campaigns WHERE id = ?", (self.campaign.id,))
        assert row is not None
        self.campaign = Campaign.from_row(row)
        return self.campaign

    def wait(self, at: datetime | None, why: str | None) -> None:
        """Nothing can be dialed before ``at`` for this reason (the earliest one wins)."""
        if at is not None and (self.waiting_until is None or at < self.waiting_until):
            self.waiting_until, self.waiting_for = at, why
