"""The runner lease: one live runner per campaign.

``start`` takes the lease in one transaction; the runner renews ``heartbeat_at``
every few seconds of *wall* time (even when the campaign runs on a virtual clock).
A second ``start`` is refused with the other runner's pid and host. A lease whose
heartbeat is older than ``STALE_AFTER`` -- or whose pid is dead on this host -- is
taken over: the old runner crashed.

**A frozen runner** (SIGSTOP, Ctrl-Z) may be frozen holding the workspace's write
lock (a simulation commits in groups and holds it most of the time), and SQLite
cannot take a lock from a stopped process. So a command that has waited a second for
the lock continues the frozen runners of this host (``continue_frozen``, SIGCONT):
a runner frozen for less than ``STALE_AFTER`` commits its batch and goes on (and
notices a ``pause`` or ``dnc add`` at once); one frozen for longer rolls its batch
back and ends without dialing again (its lease may have been taken over: see
``engine.batch``). ``status`` tells a frozen runner from a dead one (``LeaseInfo.state``).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialcli.clock import from_iso, to_iso
from dialcli.errors import LeaseHeldError
from dialcli.store import Store

HEARTBEAT_EVERY = timedelta(seconds=3)
STALE_AFTER = timedelta(seconds=20)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_state(pid: int) -> str | None:
    """The one-letter state of a process of this host (``R``, ``S``, ``T`` stopped,
    ``t`` traced, ``Z`` zombie...), from /proc; None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # "pid (comm) S ...": comm may hold spaces and parentheses; the state follows the last ")".
    tail = data[data.rfind(b")") + 1:].split()
    return tail[0].decode() if tail else None


def _frozen(pid: int) -> bool:
    return process_state(pid) in ("T", "t")


@dataclass(frozen=True)
class LeaseInfo:
    owner: str
    pid: int | None
    host: str | None
    heartbeat_at: datetime | None

    def live(self, now: datetime) -> bool:
        if self.heartbeat_at is None or now - self.heartbeat_at > STALE_AFTER:
            return False
        if self.host == socket.gethostname() and self.pid is not None and not _pid_alive(self.pid):
            return False
        return True

    @property
    def here(self) -> bool:
        return self.host == socket.gethostname() and self.pid is not None

    def state(self, now: datetime) -> str:
        """``alive``, ``frozen`` (stopped by SIGSTOP/Ctrl-Z on this host; taken over
        once its heartbeat is ``STALE_AFTER`` old), ``dead`` (no such process here, or a
        stale lease elsewhere) or ``hung`` (alive on this host, not renewing)."""
        if self.here:
            assert self.pid is not None
            if not _pid_alive(self.pid) or process_state(self.pid) == "Z":
                return "dead"
            if _frozen(self.pid):
                return "frozen"
        if self.heartbeat_at is None or now - self.heartbeat_at > STALE_AFTER:
            return "hung" if self.here else "dead"
        return "alive"

    def describe(self, now: datetime) -> str:
        ago = "" if self.heartbeat_at is None else \
            f", last heartbeat {max(0, int((now - self.heartbeat_at).total_seconds()))}s ago"
        return f"pid {self.pid} on {self.host}{ago}"


def current(store: Store, campaign_id: int) -> LeaseInfo | None:
    row = store.one(
        "SELECT lease_owner, lease_pid, lease_host, heartbeat_at FROM campaigns WHERE id = ?",
        (campaign_id,),
    )
    if row is None or row[0] is None:
        return None
    return LeaseInfo(row[0], row[1], row[2], from_iso(row[3]))


def continue_frozen(store: Store) -> list[int]:
    """SIGCONT every campaign runner of this host that is stopped: one may hold the
    write lock another command waits for. Returns the pids continued."""
    host = socket.gethostname()
    pids = [r[0] for r in store.conn.execute(
        "SELECT DISTINCT lease_pid FROM campaigns WHERE lease_pid IS NOT NULL AND lease_host = ?",
        (host,))]
    continued = []
    for pid in pids:
        if pid != os.getpid() and _frozen(pid):
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                continue            # gone, or another user's: nothing we may do
            continued.append(pid)
    return continued


def live_runner(store: Store, campaign_id: int, now: datetime) -> LeaseInfo | None:
    info = current(store, campaign_id)
    return info if info is not None and info.live(now) else None


class Lease:
    def __init__(self, store: Store, campaign_id: int, campaign_name: str, wall):
        self.store = store
        self.campaign_id = campaign_id
        self.name = campaign_name
        self.wall = wall
        self.owner = secrets.token_hex(8)
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._last_beat: datetime | None = None
        self.took_over: LeaseInfo | None = None

    def refuse_if_frozen(self) -> None:
        """A runner of this campaign is stopped (SIGSTOP/Ctrl-Z) with a lease not yet
        stale: refuse at once, saying how to continue it or when to take it over (a
        read: never waits for the lock the frozen runner may hold)."""
        now = self.wall.now()
        info = current(self.store, self.campaign_id)
        if info is not None and info.owner != self.owner and info.live(now) \
                and info.state(now) == "frozen":
            ago = max(0, int((now - info.heartbeat_at).total_seconds())) \
                if info.heartbeat_at else 0
            raise LeaseHeldError(
                f"Campaign {self.name!r} has a runner that is stopped (SIGSTOP or Ctrl-Z: "
                f"pid {info.pid}, last heartbeat {ago}s ago).",
                hint=f"Continue it with `kill -CONT {info.pid}` (or `fg` in its terminal), or "
                     f"run this again in {max(1, int(STALE_AFTER.total_seconds()) - ago)}s to "
                     "take the campaign over (the stopped runner then ends without dialing).")

    def acquire(self) -> None:
        self.refuse_if_frozen()
        now = self.wall.now()
        with self.store.tx():
            info = current(self.store, self.campaign_id)
            if info is not None and info.owner != self.owner and info.live(now):
                raise LeaseHeldError(
                    f"Campaign {self.name!r} is already running ({info.describe(now)}).",
                    hint=f"Watch it with `dialcli status {self.name}`, or stop it with "
                         f"`dialcli pause {self.name}` (or Ctrl-C in its terminal).",
                )
            self.took_over = info
            self.store.execute(
                "UPDATE campaigns SET lease_owner = ?, lease_pid = ?, lease_host = ?, "
                "heartbeat_at = ?, waiting_until = NULL, waiting_for = NULL WHERE id = ?",
                (self.owner, self.pid, self.host, to_iso(now), self.campaign_id),
            )
        self._last_beat = now

    def due(self) -> bool:
        return self._last_beat is None or self.wall.now() - self._last_beat >= HEARTBEAT_EVERY

    def heartbeat(self, waiting: tuple[datetime | None, str | None] = (None, None)) -> bool:
        """Renew; False if another runner has taken the lease (we must stop).

        ``waiting`` is (until when, why) nothing is dialed, or (None, None) while the
        runner is busy: published for ``dialcli status`` in other terminals."""
        now = self.wall.now()
        until, why = waiting
        with self.store.tx():
            ok = self.store.execute(
                "UPDATE campaigns SET heartbeat_at = ?, waiting_until = ?, waiting_for = ? "
                "WHERE id = ? AND lease_owner = ?",
                (to_iso(now), None if until is None else to_iso(until),
                 None if until is None else why, self.campaign_id, self.owner),
            ).rowcount > 0
        self._last_beat = now
        return ok

    def release(self) -> None:
        with self.store.tx():
            self.store.execute(
                "UPDATE campaigns SET lease_owner = NULL, lease_pid = NULL, lease_host = NULL, "
                "heartbeat_at = NULL, waiting_until = NULL, waiting_for = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (self.campaign_id, self.owner),
            )
