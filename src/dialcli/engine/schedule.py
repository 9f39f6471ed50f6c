"""Pure scheduling decisions: which dial is next, when to wake, pacing.

The dial queue keeps, for every zone group, the head of that group's queue: the
eligible lead with the smallest (phone slot, lead id). Breadth-first order across the
whole campaign is then the smallest head among the groups whose calling window is
open *now* -- every lead's phone1 before anyone's phone2, without waiting on leads
whose window is closed. ``choose`` makes that decision from plain values; the
database access lives in ``engine.queue``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping, Protocol


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


class Pacer:
    """At most ``cps`` dials per second (on the engine's clock)."""

    def __init__(self, cps: float):
        self.interval = timedelta(seconds=1.0 / cps) if cps > 0 else timedelta(0)
        self.next_at: datetime | None = None

    def ready(self, now: datetime) -> bool:
        return self.next_at is None or now >= self.next_at

    def took(self, now: datetime) -> None:
        # Anchor on the schedule, not on "now", so jitter in wake-ups does not
        # drift the achieved rate below the configured one.
        base = self.next_at if self.next_at is not None and now - self.next_at < self.interval else now
        self.next_at = base + self.interval

    def slow_down(self, factor: float = 2.0) -> None:
        self.interval = self.interval * factor if self.interval else timedelta(seconds=1)


def earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
