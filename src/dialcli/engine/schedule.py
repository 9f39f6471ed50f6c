"""Pure scheduling decisions: which dial is next, when to wake, pacing.

The dial queue keeps, for every zone group, the head of that group's queue: the
eligible lead with the smallest (phone slot, lead id). Breadth-first order across the
whole campaign is then the smallest head among the groups whose calling window is
open *now* -- every lead's phone1 before anyone's phone2, without waiting on leads
whose window is closed. ``choose`` makes that decision from plain values; the
database access lives in ``engine.queue``.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping, Protocol


class Window(Protocol):
    reason_closed: str | None

    def next_open(self, at: datetime) -> tuple[datetime, datetime] | None: ...


@dataclass(frozen=True, slots=True)
class Head:
    slot: int
    lead_id: int


@dataclass(frozen=True, slots=True)
class Choice:
    """What to do next: dial ``head`` of ``group``; or nothing before ``wake_at``."""

    group: int | None = None
    head: Head | None = None
    never: bool = False          # the group can never be dialed (unknown zone)
    wake_at: datetime | None = None
    wake_for: str | None = None  # why nothing is dialable before wake_at


class Spans(Protocol):
    def span(self, group: int, at: datetime) -> tuple[datetime, datetime] | None: ...


def choose(heads: Mapping[int, Head | None], spans: Spans, now: datetime) -> Choice:
    """The smallest head among open groups; else when the first closed group opens.

    A group whose window can never open is returned first with ``never=True`` so the
    caller can retire those phones (with a reason) instead of waiting forever.
    """
    best_group: int | None = None
    best: Head | None = None
    wake: datetime | None = None
    for group, head in heads.items():
        if head is None:
            continue
        span = spans.span(group, now)
        if span is None:
            return Choice(group=group, head=head, never=True)
        opens_at = span[0]
        if opens_at <= now:
            if best is None or (head.slot, head.lead_id) < (best.slot, best.lead_id):
                best_group, best = group, head
        elif wake is None or opens_at < wake:
            wake = opens_at
    if best is not None:
        return Choice(group=best_group, head=best)
    return Choice(wake_at=wake)


#: Real time only: the sliding second is widened by this much, so the jitter between
#: our send and the carrier's clock never lets it count ceil(cps) + 1 dials in a second.
#: At an integer cps the window is exactly full at the configured rate, so the guard
#: costs its own share of the rate (3%). 10 ms was tried: under load (round trips of
#: 100-250 ms, the fastest tens of ms) the send gate's arrival estimate is off by up
#: to the fastest trip, and live_bench saw 21 creates in one second; 30 ms held.
REAL_TIME_GUARD = timedelta(milliseconds=30)


class Pacer:
    """At most ``cps`` dials per second on average, and never a burst: no sliding
    one-second window (``[t, t + 1 s)``) holds more than ``ceil(cps)`` dials.

    Carriers and Twilio count dials per second; a loop that woke late and caught up on
    its schedule used to put three dials of a ``--cps 2`` campaign inside one second.
    The schedule is still anchored (a late wake-up does not lower the average rate),
    but a dial is never allowed before the ``ceil(cps)``-th previous one is a full
    window (one second, plus ``guard`` in real time) old.
    """

    def __init__(self, cps: float, guard: timedelta = timedelta(0)):
        self.guard = guard
        self.next_at: datetime | None = None
        self._set_rate(cps)

    def _set_rate(self, cps: float) -> None:
        self.cps = cps
        self.interval = timedelta(seconds=1.0 / cps) if cps > 0 else timedelta(0)
        # ceil without float noise: 3.0000000001 dials per second is 3, not 4
        self.burst = max(1, math.ceil(round(cps, 6))) if cps > 0 else 0
        old = list(getattr(self, "_recent", ()))
        self._recent: deque[datetime] = deque(old[-self.burst:] if self.burst else (),
                                              maxlen=self.burst or None)

    def ready(self, now: datetime) -> bool:
        return self.next_at is None or now >= self.next_at

    def took(self, now: datetime) -> None:
        # Anchor on the schedule, not on "now", so jitter in wake-ups does not
        # drift the achieved rate below the configured one ...
        base = self.next_at if self.next_at is not None and now - self.next_at < self.interval else now
        nxt = base + self.interval
        if self.burst:
            # ... but never into a burst: the window of the last ceil(cps) dials.
            self._recent.append(now)
            if len(self._recent) == self.burst:
                nxt = max(nxt, self._recent[0] + timedelta(seconds=1) + self.guard)
        self.next_at = nxt

    def slow_down(self, factor: float = 2.0) -> None:
        self._set_rate(self.cps / factor if self.cps > 0 else 1.0)


#: Round trips a send gate sees before it trusts the fastest one as their floor.
TRUST_FASTEST_AFTER = 8
#: How often a send gate looks again for the answer it waits for, and how long it waits
#: for one at most (past the HTTP client's timeout the request failed: it counts from
#: its start).
POLL_S = 0.002
UNANSWERED_LIMIT_S = 15.0


class SendGate:
    """The pacer's rule applied where requests leave, across the placing threads.

    In real time the claimed calls are placed from a thread pool; two requests the
    loop paced 0.5 s apart can leave 0.3 s apart when the first thread starts late,
    and a request can spend a while in the client before it reaches the wire (the
    first one of a run: ~170 ms against the local fake, 2-7 ms after). So each placing
    thread calls ``wait()`` just before it sends and ``sent(token)`` when the answer
    is back. What the carrier counts is a request's arrival, somewhere between the
    two; a window entry is placed at ``max(start, answer - fastest round trip)``, the
    latest the request can have arrived if its way back took as long as the fastest
    one did -- a request held up before the wire counts from when it left.
    """

    def __init__(self, cps: float, monotonic: Callable[[], float],
                 sleep: Callable[[float], None], guard: timedelta = REAL_TIME_GUARD):
        self._mono = monotonic
        self._sleep = sleep
        self._guard = guard.total_seconds()
        self._lock = threading.Lock()
        self._fastest: float | None = None       # the fastest round trip seen
        self._trips = 0                          # round trips seen
        self._next: float | None = None          # spacing: not before then
        self._set_rate(cps)

    def _set_rate(self, cps: float) -> None:
        self._cps = cps
        self._interval = 1.0 / cps if cps > 0 else 0.0
        self._burst = max(1, math.ceil(round(cps, 6))) if cps > 0 else 0
        old = list(getattr(self, "_recent", ()))
        #: [start, answer or None] of the last ``burst`` requests
        self._recent: deque[list] = deque(old[-self._burst:] if self._burst else (),
                                          maxlen=self._burst or None)

    def slow_down(self, factor: float = 2.0) -> None:
        with self._lock:
            self._set_rate(self._cps / factor if self._cps > 0 else 1.0)

    def _anchor(self, entry: list) -> float:
        start, answer = entry
        if answer is None or self._fastest is None:
            return start
        if self._trips < TRUST_FASTEST_AFTER:
            # The fastest of a run's first few trips is no floor yet: under load it can
            # be mostly the way there, and subtracting it would date an arrival before
            # it happened (seen: three creates in one second at cps 2). Until then the
            # request counts as arriving when its answer came.
            return answer
        return max(start, answer - self._fastest)

    def wait(self) -> list:
        """Block until a request may leave; the token to hand to ``sent``."""
        while True:
            with self._lock:
                now = self._mono()
                at = self._next if self._next is not None else now
                poll = False
                if self._burst and len(self._recent) == self._burst:
                    oldest = self._recent[0]
                    floor = self._anchor(oldest) + 1.0 + self._guard
                    if oldest[1] is None and now >= floor \
                            and now - oldest[0] < UNANSWERED_LIMIT_S:
                        # Still on its way a second after it left: it may arrive at any
                        # moment, so nothing may leave until its answer says when it
                        # did (it used to count from its start: 21 creates in one
                        # second under load).
                        at, poll = max(at, now + POLL_S), True
                    else:
                        at = max(at, floor)
                if now >= at:
                    # Anchored spacing, as the loop's pacer (no drift below the rate).
                    base = self._next if self._next is not None and \
                        now - self._next < self._interval else now
                    self._next = base + self._interval
                    token = [now, None]
                    if self._burst:
                        self._recent.append(token)
                    return token
                left = POLL_S if poll else at - now
            self._sleep(max(left, 0.0005))

    def sent(self, token: list) -> None:
        """The answer to the request of ``token`` is back (success or refusal)."""
        with self._lock:
            token[1] = now = self._mono()
            trip = now - token[0]
            self._trips += 1
            if self._fastest is None or trip < self._fastest:
                self._fastest = trip


def earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
