"""The engine's in-memory records: a call in flight, the dashboard snapshot, the
run result, the event sink, and the transaction helpers that batch one loop instant.
"""

from __future__ import annotations

import heapq
import itertools
import queue
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dialcli.providers.base import CallEvent, DialRequest, EventKind

if TYPE_CHECKING:
    from dialcli.engine.loop import Engine

DEFAULT_RATE = 0.014
CONVERSATION_GRACE = timedelta(seconds=5)   # wait this long after ENDED for the transcript
POLL_EVERY = timedelta(seconds=15)
RETRY_BACKOFF = timedelta(seconds=2)
GROUP_COMMIT_S = 0.05                        # simulated runs commit at least this often
GROUP_COMMIT_GAP_S = 0.001                   # and then leave the write lock free this long
PLACE_THREADS = 8                            # concurrent create requests in real time
RUNNER_BUSY_PATIENCE_S = 900.0               # wait this long for another writer's lock
SLOW_DOWN_PAUSE = timedelta(seconds=10)
ACTIVE = ("PENDING", "RETRY", "DIALING", "CALLBACK")
EVENT_WORDS = {"ringing": "ringing", "answered": "answered", "human": "a person is on the line",
               "machine": "answering machine", "conversation": "conversation over"}


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
    virtual: bool = False


@dataclass
class RunResult:
    outcome: str                  # completed | paused | interrupted | lease_lost | aborted
    calls: int = 0
    message: str | None = None
    reconciled: int = 0
    provider_pause: str | None = None   # the provider refused dials: what to do about it


#: Events that change state; the others (ringing, answered...) only feed the dashboard.
_SIGNIFICANT = frozenset({EventKind.ENDED, EventKind.CONVERSATION})


class _Sink:
    """Events into the engine: ``emit`` from any thread, ``schedule`` on its clock.

    With ``lazy_progress`` (an unwatched simulation) the loop does not wake up for
    progress-only events; they are applied, with their own timestamps, at the next
    wake-up -- a simulated call then costs two loop turns, not six.
    """

    def __init__(self) -> None:
        self.inbox: queue.Queue[CallEvent] = queue.Queue()
        self.timeline: list[tuple[datetime, int, CallEvent]] = []
        self.wakes: list[datetime] = []
        self.lazy_progress = False
        self._seq = itertools.count()

    def emit(self, event: CallEvent) -> None:
        self.inbox.put(event)

    def schedule(self, at: datetime, event: CallEvent) -> None:
        heapq.heappush(self.timeline, (at, next(self._seq), event))
        if not self.lazy_progress or event.kind in _SIGNIFICANT or event.detail:
            heapq.heappush(self.wakes, at)

    def next_wake(self, now: datetime) -> datetime | None:
        wakes = self.wakes
        while wakes and wakes[0] < now:
            heapq.heappop(wakes)
        return wakes[0] if wakes else None


class _EngineTx:
    __slots__ = ("engine", "cm")

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self):
        e = self.engine
        if e._batch_depth and e._batch_cm is None:
            e._batch_cm = e.store.tx()
            e._batch_cm.__enter__()
            e._batch_began = e.wall.monotonic()
        self.cm = e.store.tx()
        conn = self.cm.__enter__()
        if e._pending_sids and not (e._group_commit and e._batch_cm is not None):
            e._write_sids(conn)   # group commit writes them just before it commits
        return conn

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc)


class _Batch:
    __slots__ = ("engine",)

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self):
        self.engine._batch_depth += 1

    def __exit__(self, *exc):
        e = self.engine
        e._batch_depth -= 1
        if e._batch_cm is None:
            return False
        if exc[0] is None and e._group_commit and \
                e.wall.monotonic() - e._batch_began < GROUP_COMMIT_S:
            return False          # group commit: keep the transaction for the next turns
        return e._end_batch(*exc)
