"""The dialing engine: the foreground loop that runs one campaign.

Loop (design.md sections 4 and 5)::

    take the runner lease -> reconcile calls a dead runner left open -> repeat:
        apply call events that are due (provider callbacks, simulator timeline)
        dispatch dials: callbacks that are due, then the breadth-first queue,
            within max_concurrent and cps, inside every candidate zone's window
        open the next pass / complete the campaign when the pass is over
        heartbeat the lease; notice pause/opt-out/import from other processes
        wait (on the injected clock) for the next event or deadline

Durability: a dial is *claimed* -- a ``calls`` row (UNIQUE per campaign, run, lead,
slot, pass and kind) plus the lead set to DIALING -- and committed before the
provider is asked to place it. An outcome (call row, lead transition, retired phone,
opt-out, appointment, webhook event) is one transaction. A killed runner leaves only
claimed or in-flight calls behind; ``reconcile`` asks the provider about each before
anything new is dialed, so nothing is dialed twice and nothing is lost.

The loop only loops. Its parts are built here with their dependencies explicit:
``batch.Transactions`` (one transaction per instant), ``claim.Claimer`` and
``claim.Placer`` (start calls), ``dispatch.Dispatcher`` (which dial next),
``settle.Settler``, ``settle.Passes`` and ``settle.Reconciler`` (results, passes,
crash recovery), ``progress.Progress`` (the dashboard's counters); they share the
``types.RunState`` of the run.

The engine never prints: it exposes ``snapshot()`` (for the live dashboard) and an
optional ``on_event`` callback for log lines.
"""


from __future__ import annotations

import heapq
import queue
from datetime import datetime, timedelta
from typing import Any, Callable

from dialcli.clock import Clock, SystemClock, from_iso, to_iso
from dialcli.compliance import consent
from dialcli.compliance import policy as compliance
from dialcli.engine.batch import StaleBatch, Transactions
from dialcli.engine.claim import Claimer, Placer
from dialcli.engine.dispatch import Dispatcher
from dialcli.engine.progress import Progress
from dialcli.engine.queue import DialQueue
from dialcli.engine.schedule import REAL_TIME_GUARD, Pacer, earliest
from dialcli.engine.settle import (
    CallbackParser, Classifier, Passes, Reconciler, Settler, default_callback_parser,
    default_classifier,
)
from dialcli.engine.types import (LINE_EVERY, InFlight, RunResult, RunState, Sink, Snapshot,
                                  Timing)
from dialcli.errors import ConflictError, InputError, ProviderError
from dialcli.models import Campaign, CallStatus, CampaignStatus
from dialcli.providers.base import CallEvent, EventKind, Provider
from dialcli.store import Store, outbox, settings
from dialcli.workspace.lease import STALE_AFTER, Lease

#: Waits that make no progress before the loop steps past a stuck deadline.
MAX_SPINS = 100


class Engine:
    def __init__(self, store: Store, campaign_id: int, provider: Provider, clock: Clock, *,
                 wall: Clock | None = None, rate_per_minute: float | None = None,
                 on_event: Callable[[dict[str, Any]], None] | None = None,
                 classifier: Classifier | None = None,
                 callback_parser: CallbackParser | None = None,
                 blackout=None, group_commit: bool | None = None,
                 timing: Timing | None = None):
        self.store = store
        self.timing = timing = timing or Timing()
        # A runner waits out other writers (an import into another campaign holds the
        # workspace for as long as it takes) instead of dying of a busy database.
        store.busy_patience_s = max(store.busy_patience_s, timing.busy_patience_s)
        self.provider = provider
        self.clock = clock
        self.wall = wall or SystemClock()
        self.sink = Sink()
        campaign = load_campaign(store, campaign_id)
        agent = store.one("SELECT * FROM agents WHERE id = ?", (campaign.agent_id,))
        assert agent is not None
        self.state = state = RunState(campaign, dict(agent), campaign.max_concurrent,
                                      hooks=_hooks_active(store))
        rate = settings.rate_per_minute(store)[0] if rate_per_minute is None else rate_per_minute
        # Nobody watches a virtual clock that is not played for viewing: progress-only
        # events are not built, and a provider with a deferred journal lets the engine
        # commit many instants at once (group commit, see ``batch``).
        unwatched = not clock.watched
        self.sink.lazy_progress = unwatched
        auto = unwatched and provider.supports_deferred_journal
        self.tx = Transactions(store, self.wall, provider,
                               group_commit=auto if group_commit is None else (group_commit and auto),
                               commit_every_s=timing.group_commit_s, gap_s=timing.group_commit_gap_s,
                               on_event=on_event,
                               stale_after_s=timing.stale_after_s or STALE_AFTER.total_seconds())
        self.progress = Progress(self.tx.notify)
        self.policy = compliance.policy_for_campaign(store.conn, campaign, blackout=blackout)
        self.queue = DialQueue(store, campaign_id, self.policy)
        self.pacer = Pacer(campaign.cps, guard=timedelta(0) if clock.virtual else REAL_TIME_GUARD)
        self.lease = Lease(store, campaign_id, campaign.name, self.wall)
        self.settler = Settler(store, self.tx, state, self.queue, self.progress, provider,
                               rate=rate, classifier=classifier or default_classifier,
                               callback_parser=callback_parser or default_callback_parser)
        self.passes = Passes(store, self.tx, state, self.queue)
        self.reconciler = Reconciler(store, provider, clock, state, self.settler, self.queue)
        self.claimer = Claimer(self.tx, state, provider, self.queue, self.settler, self.progress)
        self.placer = Placer(store, self.tx, state, provider, clock, self.sink, self.pacer,
                             self.settler, self.queue, timing)
        self.dispatcher = Dispatcher(store, self.tx, state, self.queue, self.pacer,
                                     self.claimer, self.placer, self.settler)
        self._data_version = self._dv()
        self._next_poll: datetime | None = None
        self._last_idle: tuple[datetime | None, str | None] = (None, None)
        self._graces: dict[int, datetime] = {}
        self.progress.load(store, campaign)

    # -- what callers see -------------------------------------------------------------
    @property
    def campaign(self) -> Campaign:
        return self.state.campaign

    @property
    def in_flight(self) -> dict[int, InFlight]:
        return self.state.in_flight

    @property
    def stop_requested(self):
        return self.state.stop_requested

    def request_stop(self) -> None:
        """Ctrl-C: stop dispatching, let calls in progress finish, then return."""
        self.state.stop_requested.set()
        self.sink.emit(CallEvent(0, EventKind.PLACED, self.clock.now()))  # wake the loop

    def abort(self) -> None:
        """Second Ctrl-C: return now; open calls are reconciled on the next start."""
        self.state.abort_requested.set()
        self.state.stop_requested.set()
        self.sink.emit(CallEvent(0, EventKind.PLACED, self.clock.now()))

    def reconcile(self) -> int:
        """Settle calls a dead runner left open, before anything new is dialed."""
        return self.reconciler.reconcile()

    def flush(self) -> None:
        self.tx.flush()

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> RunResult:
        c = self.state.campaign
        if c.status is CampaignStatus.COMPLETED:
            raise ConflictError(
                f"Campaign {c.name!r} is completed.",
                hint=f"Run it again from the start with `dialcli restart {c.name}`, or import "
                     "more leads into it.",
            )
        if c.purpose not in consent.PURPOSES:
            message, fix = consent.unset_purpose(c.name)
            raise InputError(message, hint=fix)
        self.lease.acquire()
        self.placer.start()
        try:
            return self._run()
        finally:
            try:
                self.placer.shutdown()
                self.provider.close()
            finally:
                self.lease.release()

    def _run(self) -> RunResult:
        state = self.state
        now = self.clock.now()
        with self.store.tx():
            self.store.execute(
                "UPDATE campaigns SET status = 'RUNNING', started_at = COALESCE(started_at, ?), "
                "updated_at = ?, pause_reason = NULL WHERE id = ?",
                (to_iso(now), to_iso(now), state.campaign.id))
        state.reload_campaign(self.store)
        self.provider.bind(self.sink, self.clock)
        if self.tx.group_commit:
            self.provider.defer_journal = True
        self.provider.start()
        try:
            reconciled = self.reconciler.reconcile()
        except ProviderError as exc:
            # The provider cannot say what became of calls left open: dial nothing new
            # (a held lead's other phone must not ring), and leave the campaign PAUSED.
            with self.store.tx():
                self.store.execute("UPDATE campaigns SET status = 'PAUSED', pause_reason = ? "
                                   "WHERE id = ? AND status = 'RUNNING'",
                                   (f"Twilio could not be asked about calls left open: {exc}",
                                    state.campaign.id))
            raise ProviderError(
                f"Could not check the calls a previous run left open: {exc.message} Nothing "
                "new was dialed; the campaign stays paused.",
                hint=exc.hint or "Check https://status.twilio.com and this laptop's internet "
                                 "connection, then: dialcli resume") from None
        made_before = self.progress.stats["calls"]
        outcome = "completed"
        spins = 0
        while True:
            now = self.clock.now()
            # Everything decided at this instant -- outcomes of calls that ended and the
            # claims of the next dials -- commits as one transaction; the claimed calls
            # are placed only after it has committed.
            try:
                stop = self._turn(now)
            except StaleBatch as exc:
                outcome = "lease_lost"
                state.note = (f"{exc}; its lease went stale, so another runner may have taken "
                              "the campaign over: nothing of that transaction was kept or dialed")
                break
            if stop is not None:
                outcome = stop
                break
            self.placer.place_claimed(now)
            self._poll(now)
            wake = self._next_wake(now)
            if wake is None and not state.in_flight and not self.sink.timeline:
                # Nothing can happen without an outside event: re-check shortly.
                wake = now + timedelta(seconds=1)
            if wake is not None and wake <= now and self.sink.inbox.empty() and not (
                    self.sink.timeline and self.sink.timeline[0][0] <= now):
                spins += 1
                if spins > MAX_SPINS:   # a deadline that never makes progress: step past it
                    wake = now + timedelta(seconds=1)
            else:
                spins = 0
            if not self.clock.virtual:
                self.tx.flush()
            self.clock.wait(self.sink.inbox, wake)
        self.tx.end_batch()
        return self._finish_run(outcome, reconciled, made_before)

    def _turn(self, now: datetime) -> str | None:
        """One instant: events, lease, outside changes, dispatch -- in the instant's
        transaction. The run's outcome when it is over, else None."""
        state = self.state
        with self.tx.batch():
            self._drain(now)
            if state.abort_requested.is_set():
                return "aborted"
            if self.lease.due() and not self.lease.heartbeat(self._published_wait(now)):
                state.note = "another runner took over this campaign"
                return "lease_lost"
            self._check_external(now)
            if state.stop_requested.is_set():
                if not state.in_flight:
                    return "paused"
            else:
                self.dispatcher.dispatch(now)
                if not state.in_flight and self.passes.finished(now):
                    return "completed"
                if not state.in_flight:
                    self._idle(now)
        return None

    def _finish_run(self, outcome: str, reconciled: int, made_before: int) -> RunResult:
        state = self.state
        now = self.clock.now()
        with self.tx.tx():
            if outcome == "completed":
                self.store.execute(
                    "UPDATE campaigns SET status = 'COMPLETED', completed_at = ?, "
                    "next_pass_at = NULL, updated_at = ? WHERE id = ?",
                    (to_iso(now), to_iso(now), state.campaign.id))
            elif outcome in ("paused", "aborted", "interrupted"):
                self.store.execute(
                    "UPDATE campaigns SET status = 'PAUSED', updated_at = ? "
                    "WHERE id = ? AND status = 'RUNNING'", (to_iso(now), state.campaign.id))
        state.reload_campaign(self.store)
        made = self.progress.stats["calls"] - made_before
        return RunResult(outcome, made, state.note, reconciled, state.provider_pause)

    def _next_wake(self, now: datetime) -> datetime | None:
        state = self.state
        candidates = [state.waiting_until, self.sink.next_wake(now)]
        # The pacer's next slot matters only with room for another call; at the
        # concurrency limit the next call to end wakes the loop.
        if len(state.in_flight) < state.max_concurrent and not self.pacer.ready(now):
            candidates.append(self.pacer.next_at)
        if self._graces:
            candidates.append(min(self._graces.values()))
        if self._next_poll is not None and state.in_flight and self.provider.polls:
            candidates.append(self._next_poll)
        wake = earliest(*candidates)
        # Never sleep past the next lease heartbeat in real time; and a watched live
        # run shows the lines of its calls (which do not wake the loop) soon enough.
        if not self.clock.virtual:
            wake = earliest(wake, now + (LINE_EVERY if state.in_flight and self.clock.watched
                                         else timedelta(seconds=1)))
        return wake

    def _check_external(self, now: datetime) -> None:
        """Another process committed (pause, dnc add, import, webhook add)?"""
        tx = self.tx
        if tx.open and tx.external_checked:
            return     # checked since we took the write lock: nobody else can commit now
        tx.external_checked = tx.open
        dv = self._dv()
        if dv == self._data_version:
            return
        state = self.state
        self._data_version = dv
        self.claimer.forget()
        self.queue.invalidate()
        state.callback_fresh = False
        state.hooks = _hooks_active(self.store)
        status = self.store.scalar("SELECT status FROM campaigns WHERE id = ?",
                                   (state.campaign.id,))
        if status == "PAUSED" and not state.stop_requested.is_set():
            state.note = "paused from another terminal"
            state.stop_requested.set()

    def _dv(self) -> int:
        return self.store.conn.execute("PRAGMA data_version").fetchone()[0]

    def _poll(self, now: datetime) -> None:
        if not self.provider.polls or not self.state.in_flight:
            return
        if self._next_poll is None or now >= self._next_poll:
            self._next_poll = now + self.timing.poll_every
            self.provider.poll({f.call_id: f.sid for f in self.state.in_flight.values()}, now)

    # -- events ----------------------------------------------------------------------
    def _drain(self, now: datetime) -> None:
        lines = self.sink.lines
        while lines:
            self._handle(lines.popleft(), now)
        while True:
            try:
                event = self.sink.inbox.get_nowait()
            except queue.Empty:
                break
            self._handle(event, now)
        timeline, wakes = self.sink.timeline, self.sink.wakes
        while timeline and timeline[0][0] <= now:
            _, _, event = heapq.heappop(timeline)
            self._handle(event, now)
        while wakes and wakes[0] <= now:     # everything due has just been applied
            heapq.heappop(wakes)
        if self._graces:
            for call_id, until in list(self._graces.items()):
                f = self.state.in_flight.get(call_id)
                if f is None:
                    del self._graces[call_id]
                elif now >= until and f.ended is not None:
                    del self._graces[call_id]
                    self.settler.complete(f, f.ended, now)

    def _handle(self, ev: CallEvent, now: datetime) -> None:
        f = self.state.in_flight.get(ev.call_id)
        if f is None:
            return  # unknown, late or duplicate event: the call is already final
        if ev.detail.get("retry_place"):
            self.placer.place(f, now)   # the provider never processed it: same claim, again
            return
        done = ev.detail.get("placed")
        if done is not None:
            self.placer.finished(f, done, now)
            return
        if ev.sid and not f.sid:
            f.sid = ev.sid
        kind = ev.kind
        if kind is EventKind.ANSWERED:
            f.answered_at = ev.at
        elif kind in (EventKind.HUMAN, EventKind.MACHINE):
            f.answered_by = ev.answered_by or f.answered_by
            f.amd_at = f.amd_at or ev.at
            if f.answered_at is None:
                f.answered_at = ev.at
        elif kind is EventKind.LINE:
            self.progress.call_line(f, ev.detail.get("role", ""), ev.detail.get("text", ""),
                                    ev.at)
            return
        elif kind is EventKind.CONVERSATION:
            f.conversation = ev
            if f.ended is not None:
                self.settler.complete(f, f.ended, now)
                return
        elif kind is EventKind.ENDED:
            f.ended = ev
            if ev.answered_by:
                f.answered_by = ev.answered_by
            human = (f.answered_by or "").startswith("human") or (
                f.answered_by is None and ev.status is CallStatus.COMPLETED and f.answered_at)
            if human and f.conversation is None and not self.clock.virtual:
                # The transcript arrives over the relay, maybe just after the end.
                f.grace_until = now + self.timing.conversation_grace
                self._graces[f.call_id] = f.grace_until
                return
            self.settler.complete(f, ev, now)
            return
        self.progress.call_event(f, str(kind), ev.at)

    # -- waiting ----------------------------------------------------------------------
    def _idle(self, now: datetime) -> None:
        """Nothing in flight and nothing dialable: say until when and why, once."""
        key = (self.state.waiting_until, self.state.waiting_for)
        if key[0] is None or key[0] <= now or key == self._last_idle:
            return
        self._last_idle = key
        if (key[1] or "").startswith("pass "):
            return        # the "pass" event has said when it opens
        self.tx.notify({"type": "idle", "at": now, "until": key[0], "why": key[1]})

    def _published_wait(self, now: datetime) -> tuple[datetime | None, str | None]:
        """What ``dialcli status`` in another terminal should say this runner waits
        for: only an idle runner on wall time (a virtual instant means nothing there)."""
        until = self.state.waiting_until
        if self.state.in_flight or until is None or until <= now or self.clock.virtual:
            return (None, None)
        return (until, self.state.waiting_for)

    # -- snapshot --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Safe to call from another thread (the dashboard's refresh thread)."""
        for _ in range(5):
            try:
                return self._snapshot()
            except RuntimeError:   # a deque/dict changed while we copied it
                continue
        return self._snapshot()

    def _snapshot(self) -> Snapshot:
        state, p = self.state, self.progress
        c = state.campaign
        d = p.dispositions
        stopping = state.stop_requested.is_set()
        return Snapshot(
            campaign=c.name, status="PAUSING" if stopping and state.in_flight
            else str(c.status if not stopping else "PAUSED"),
            now=self.clock.now(), virtual=self.clock.virtual,
            run=c.run, pass_no=c.pass_no, max_passes=c.max_attempts,
            next_pass_at=from_iso(c.next_pass_at), calls_made=p.stats["calls"],
            reached=p.reached, interested=d.get("INTERESTED", 0), opted_out=d.get("OPT_OUT", 0),
            in_flight=len(state.in_flight), minutes=p.stats["minutes"],
            cost=p.stats["cost_micro"] / 1_000_000, dispositions=dict(d),
            leads_by_status={}, recent_leads=list(p.recent_leads),
            recent_events=list(p.recent_events), waiting_until=state.waiting_until,
            waiting_for=state.waiting_for, note=state.note, live_calls=p.live_calls(),
        )


def load_campaign(store: Store, campaign_id: int) -> Campaign:
    row = store.one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
    if row is None:
        raise InputError(f"Campaign {campaign_id} does not exist.")
    return Campaign.from_row(row)


def _hooks_active(store: Store) -> bool:
    return bool(outbox.subscribers(store.conn))
