"""The engine's transactions: one loop instant's writes commit together.

Everything decided at one instant -- outcomes of calls that ended and the claims of
the next dials -- commits as one transaction, begun lazily by the first write (an
idle instant costs nothing); the claimed calls are placed only after it commits.

Recording a placed call's SID is not a state change the engine depends on
(reconcile finds an unrecorded placement through ``find_calls``), so SIDs ride along
with the next transaction instead of costing one of their own per dial.

**Group commit.** An unwatched simulation on a provider with a deferred journal
commits every ``group_commit_s`` of wall time instead of every instant: the provider
records placements only after the commit (``flush_journal``) and forgets them after a
rollback (``discard_journal``), so no dial is ever recorded by the network and not by
the workspace. After each commit the write lock is left free for a moment, so a
``pause`` or ``dnc add`` from another terminal gets in.

**A frozen runner.** A runner stopped (SIGSTOP, Ctrl-Z) inside a batch holds the
write lock until it is continued (``workspace.lease.continue_frozen`` does that for a
command that waits). A batch that has been open longer than ``stale_after_s`` -- the
lease's stale limit: another runner may have taken the campaign over meanwhile -- is
rolled back instead of committed (nothing in it was placed: placements wait for the
commit, and the simulator forgets its journal) and ``StaleBatch`` ends the run.

Log events for the CLI (``notify``) reach ``on_event`` only after the transaction
that wrote them commits: ``on_event`` may block on a pipe, and blocking inside the
transaction would hold the write lock.
"""

from __future__ import annotations

from typing import Any, Callable

from dialcli.clock import Clock
from dialcli.providers.base import Provider
from dialcli.store import Store


class StaleBatch(Exception):
    """The loop's transaction stayed open past the lease's stale limit (the process was
    frozen): it was rolled back, and this runner must stop."""

    def __init__(self, held_s: float):
        super().__init__(f"this runner was stopped for {held_s:.0f} s inside a transaction")
        self.held_s = held_s


class Transactions:
    def __init__(self, store: Store, wall: Clock, provider: Provider, *, group_commit: bool,
                 commit_every_s: float, gap_s: float,
                 on_event: Callable[[dict[str, Any]], None] | None,
                 stale_after_s: float = 20.0):
        self.store = store
        self.wall = wall
        self.provider = provider
        self.group_commit = group_commit
        self.commit_every_s = commit_every_s
        self.gap_s = gap_s
        self.on_event = on_event
        self.stale_after_s = stale_after_s
        #: call id -> (sid, placed at, call id): placements not written yet.
        self.pending_sids: dict[int, tuple[str, str, int]] = {}
        #: Another process's commits were checked since the open transaction began.
        self.external_checked = False
        self._unsent: list[dict[str, Any]] = []
        self._depth = 0
        self._cm: Any = None
        self._began = 0.0

    @property
    def open(self) -> bool:
        """A loop transaction is open (this process holds the write lock)."""
        return self._cm is not None

    def tx(self) -> "_Tx":
        """A write transaction; inside ``batch()`` it joins the instant's transaction."""
        return _Tx(self)

    def batch(self) -> "_Batch":
        """One loop instant's writes as one transaction (begun on first write)."""
        return _Batch(self)

    def end_batch(self, *exc) -> bool:
        """Commit (or, after an error, roll back) the open loop transaction."""
        cm, self._cm = self._cm, None
        self.external_checked = False
        if cm is None:
            return False
        failed = bool(exc and exc[0] is not None)
        try:
            if self.pending_sids and not failed:
                self.write_sids(self.store.conn)
            result = cm.__exit__(*exc) if exc else cm.__exit__(None, None, None)
        except BaseException:
            self._unsent.clear()
            if self.group_commit:
                self.provider.discard_journal()
            raise
        if failed:
            self._unsent.clear()
        if self.group_commit:
            if failed:
                self.provider.discard_journal()
            else:
                self.provider.flush_journal()
        self._send_events()
        if self.group_commit and not failed:
            self.wall.sleep(self.gap_s)
        return bool(result)

    def write_sids(self, conn) -> None:
        """Record the SIDs of calls placed since the last time (in the open transaction)."""
        conn.executemany(
            "UPDATE calls SET provider_sid = ?, status = CASE WHEN status = 'claimed' "
            "THEN 'queued' ELSE status END, placed_at = ? WHERE id = ?",
            list(self.pending_sids.values()))
        self.pending_sids.clear()

    def notify(self, item: dict[str, Any]) -> None:
        """Hand ``item`` to ``on_event`` once the transaction that wrote it commits;
        items of a transaction that rolls back describe nothing and are dropped."""
        if self.on_event is None:
            return
        if self._cm is None:
            self.on_event(item)
        else:
            self._unsent.append(item)

    def _send_events(self) -> None:
        while self._unsent and self.on_event is not None:
            items, self._unsent = self._unsent, []
            for item in items:
                self.on_event(item)

    def flush(self) -> None:
        """Write pending SIDs now (real time: before waiting)."""
        if self.pending_sids:
            with self.tx():
                pass


class _Tx:
    __slots__ = ("t", "cm")

    def __init__(self, t: Transactions):
        self.t = t

    def __enter__(self):
        t = self.t
        if t._depth and t._cm is None:
            t._cm = t.store.tx()
            t._cm.__enter__()
            t._began = t.wall.monotonic()
        self.cm = t.store.tx()
        conn = self.cm.__enter__()
        if t.pending_sids and not (t.group_commit and t._cm is not None):
            t.write_sids(conn)    # group commit writes them just before it commits
        return conn

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc)


class _Batch:
    __slots__ = ("t",)

    def __init__(self, t: Transactions):
        self.t = t

    def __enter__(self):
        self.t._depth += 1

    def __exit__(self, *exc):
        t = self.t
        t._depth -= 1
        if t._cm is None:
            return False
        held = t.wall.monotonic() - t._began
        if exc[0] is None and held > t.stale_after_s:
            stale = StaleBatch(held)
            t.end_batch(StaleBatch, stale, None)        # roll back
            raise stale
        if exc[0] is None and t.group_commit and held < t.commit_every_s:
            return False          # group commit: keep the transaction for the next turns
        return t.end_batch(*exc)
