"""Injected time.

Engine, scheduler, compliance and webhook code never read the system clock: they
take a ``Clock``. ``SystemClock`` is real time; ``VirtualClock`` is a discrete-event
clock that jumps to the next deadline, so a three-day simulated campaign finishes in
seconds with realistic timestamps; ``ScaledClock`` plays virtual time at N x real
time for watching. This module is the only one that calls ``datetime.now`` or
``time.sleep``.

Timestamps are stored in SQLite as fixed-width ISO-8601 UTC strings
(``2026-11-29T13:13:25.123Z``), which sort and compare correctly as text.
"""

from __future__ import annotations

import queue
import time
from abc import ABC, abstractmethod
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc


def utcnow() -> datetime:
    """The real current time, aware UTC (for clocks and the CLI boundary only)."""
    return datetime.now(UTC)


#: Recently formatted UTC instants. A dial formats the same few instants a dozen
#: times (now, the call's answer and end); a lookup costs a twentieth of formatting.
#: Only UTC keys: two local times a DST fall-back apart compare equal in one zone.
_ISO_CACHE: dict[datetime, str] = {}
_ISO_CACHE_MAX = 4096


def to_iso(dt: datetime | None) -> str | None:
    """Format an aware datetime as the store's ISO-8601 UTC text."""
    if dt is None:
        return None
    if dt.tzinfo is not UTC:
        if dt.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        dt = dt.astimezone(UTC)
    text = _ISO_CACHE.get(dt)
    if text is None:
        # isoformat is several times faster than strftime.
        text = dt.isoformat(timespec="milliseconds")[:-6] + "Z"
        if len(_ISO_CACHE) >= _ISO_CACHE_MAX:
            _ISO_CACHE.clear()
        _ISO_CACHE[dt] = text
    return text


def from_iso(text: str | None) -> datetime | None:
    """Parse the store's ISO text (or any ISO-8601 with offset) to aware UTC."""
    if text is None or text == "":
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def cpu_seconds() -> float:
    """CPU seconds this process has used: a budget that a loaded machine does not
    eat (``plan`` bounds its rehearsal with it)."""
    return time.process_time()


class Clock(ABC):
    """What engine code may know about time, and what it may ask a clock.

    Capabilities are declared here, never probed:

    - ``virtual``: waiting jumps to the deadline; no real time passes (a simulation).
      Real-time concerns -- threads for slow network requests, heartbeats that other
      terminals read, a grace period for a transcript still in flight -- do not apply.
    - ``watched``: someone may be watching the run as it happens (real time, or a
      simulation played at a viewing speed), so progress events are worth building
      and each instant's writes are committed at once rather than grouped.
    """

    virtual: bool = False
    watched: bool = True

    @abstractmethod
    def now(self) -> datetime:
        """Current time, aware UTC."""

    @abstractmethod
    def wait(self, inbox: "queue.Queue[Any] | None", until: datetime | None) -> None:
        """Block until ``until`` or until ``inbox`` has an item, whichever is first."""

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds on a monotonic scale consistent with ``now`` (for pacing)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""


class SystemClock(Clock):
    """Real time."""

    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, inbox, until):
        timeout = None if until is None else max(0.0, (until - self.now()).total_seconds())
        if inbox is None:
            self.sleep(timeout if timeout is not None else 0.05)
            return
        # Wait on the queue's own condition so we wake the moment an item arrives
        # without taking it: the caller drains the inbox itself.
        with inbox.not_empty:
            if not inbox._qsize():
                inbox.not_empty.wait(timeout if timeout is not None else 0.5)


class VirtualClock(Clock):
    """Discrete-event time: waiting jumps straight to the deadline.

    ``wait`` returns at once if the inbox has an item; otherwise it advances ``now``
    to ``until``. Time never goes backwards. Nobody watches it: a run on it is over
    as fast as the machine allows.
    """

    virtual = True
    watched = False

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._now.timestamp()

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        if delta.total_seconds() > 0:
            self._now = self._now + delta
        return self._now

    def set(self, when: datetime) -> None:
        if when > self._now:
            self._now = when.astimezone(UTC)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def wait(self, inbox, until):
        if inbox is not None and not inbox.empty():
            return
        if until is not None:
            self.set(until)


class ScaledClock(VirtualClock):
    """Virtual time played at ``speed`` x real time, with long idle gaps compressed.

    ``max_idle`` caps the real seconds spent in any single wait, so a one-hour retry
    interval does not make a person watch a blank screen for a minute.
    """

    watched = True

    def __init__(self, start: datetime, speed: float, max_idle: float | None = None,
                 _sleep=time.sleep, _monotonic=time.monotonic):
        super().__init__(start)
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.max_idle = max_idle
        self._sleep = _sleep
        self._mono = _monotonic

    def wait(self, inbox, until):
        if inbox is not None and not inbox.empty():
            return
        if until is None:
            return
        gap = (until - self._now).total_seconds()
        if gap <= 0:
            return
        real = gap / self.speed
        if self.max_idle is not None:
            real = min(real, self.max_idle)
        deadline = self._mono() + real
        # Sleep in short slices so an inbox item (e.g. a pause request) is noticed.
        while True:
            left = deadline - self._mono()
            if left <= 0:
                break
            if inbox is not None and not inbox.empty():
                # Advance proportionally to the real time that passed.
                done = 1 - left / real if real > 0 else 1
                self.set(self._now + timedelta(seconds=gap * done))
                return
            self._sleep(min(left, 0.05))
        self.set(until)
