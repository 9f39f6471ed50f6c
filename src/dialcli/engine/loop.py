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

The engine never prints: it exposes ``snapshot()`` (for the live dashboard) and an
optional ``on_event`` callback for log lines.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections import Counter, deque
from datetime import datetime, timedelta
from typing import Any, Callable

from dialcli.compliance import policy as compliance
from dialcli.clock import SystemClock, from_iso, to_iso
from dialcli.conversation.base import EndCall
from dialcli.engine.queue import DialQueue
from dialcli.errors import ConflictError, InputError, ProviderError
from dialcli.workspace.lease import Lease
from dialcli.models import (
    Campaign, CallStatus, CampaignStatus, Disposition,
)
from dialcli.providers.base import (
    CallEvent, DialError, EventKind, Provider, ProviderAction,
)
from dialcli.engine.schedule import Pacer, earliest
from dialcli.store import Store
from dialcli.engine.types import (  # noqa: F401  (re-exported)
    ACTIVE, CONVERSATION_GRACE, DEFAULT_RATE, EVENT_WORDS, GROUP_COMMIT_GAP_S, GROUP_COMMIT_S,
    PLACE_THREADS, POLL_EVERY, RETRY_BACKOFF, RUNNER_BUSY_PATIENCE_S,
    InFlight, RunResult, Snapshot, _Batch, _EngineTx, _Sink,
)
from dialcli.engine.claim import Dialing
from dialcli.engine.settle import (  # noqa: F401  (re-exported)
    Settling, _default_callback_parser, _default_classifier, _revert_claim,
)


class Engine(Dialing, Settling):
    def __init__(self, store: Store, campaign_id: int, provider: Provider, clock, *,
                 wall=None, rate_per_minute: float | None = None,
                 on_event: Callable[[dict[str, Any]], None] | None = None,
                 classifier: Callable[[list[dict[str, Any]], str], EndCall | None] | None = None,
                 callback_parser: Callable[[str | None, datetime, str | None], datetime] | None = None,
                 blackout=None, group_commit: bool | None = None):
        self.store = store
        # A runner waits out other writers (an import into another campaign holds the
        # workspace for as long as it takes) instead of dying of a busy database.
        store.busy_patience_s = max(store.busy_patience_s, RUNNER_BUSY_PATIENCE_S)
        self.campaign_id = campaign_id
        self.provider = provider
        self.clock = clock
        self.wall = wall or SystemClock()
        self.on_event = on_event
        self.classifier = classifier or _default_classifier
        self.callback_parser = callback_parser or _default_callback_parser
        self.sink = _Sink()
        self.in_flight: dict[int, InFlight] = {}
        self.stop_requested = threading.Event()
        self.abort_requested = threading.Event()
        self._lock = threading.Lock()
        self.campaign = self._load_campaign()
        rate = rate_per_minute
        if rate is None:
            rate = float(store.get_setting("rate_per_minute") or DEFAULT_RATE)
        self.rate = rate
        self.policy = compliance.policy_for_campaign(store.conn, self.campaign, blackout=blackout)
        self.queue = DialQueue(store, campaign_id, self.policy)
        self.pacer = Pacer(self.campaign.cps)
        self.max_concurrent = self.campaign.max_concurrent
        self.lease = Lease(store, campaign_id, self.campaign.name, self.wall)
        self._agent = self._load_agent()
        self._data_version = self._dv()
        self._next_poll: datetime | None = None
        self._slow_until: datetime | None = None
        self._waiting_until: datetime | None = None
        self._waiting_for: str | None = None     # why nothing is dialed before then
        self._last_idle: tuple[datetime | None, str | None] = (None, None)
        self._note: str | None = None
        self._has_hooks = self._hooks_active()
        self.recent_leads: deque[dict[str, Any]] = deque(maxlen=40)
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=12)
        self.stats = Counter()
        self.dispositions: Counter[str] = Counter()
        self._pending_sids: dict[int, tuple[str, str, int]] = {}   # call id -> (sid, at, id)
        self._to_place: list[InFlight] = []
        self._batch_depth = 0
        self._batch_cm = None
        self._batch_began = 0.0
        self._external_checked = False   # since the loop's transaction began
        self._unsent: list[dict[str, Any]] = []   # on_event items awaiting their commit
        # An unwatched simulation commits every GROUP_COMMIT_S of wall time instead of
        # every loop instant: the simulator records placements only after the commit
        # (see SimulatedProvider.flush_journal), so no dial is ever recorded by the
        # network and not by the workspace.
        # Nobody watches a virtual clock that is not scaled for viewing: progress-only
        # events are not built, and the simulator's journal can wait for the commit.
        unwatched = bool(getattr(clock, "virtual", False)) and not hasattr(clock, "speed")
        self.sink.lazy_progress = unwatched
        auto = unwatched and bool(getattr(provider, "supports_deferred_journal", False))
        self._group_commit = auto if group_commit is None else (group_commit and auto)
        self._graces: dict[int, datetime] = {}
        self._caps: dict[frozenset[str], int] = {}
        self._cap_settings: dict[str, str] | None = None
        self._uniform_cap: int | None = None    # valid while _cap_settings is set
        self._placer = None
        self.provider_pause: str | None = None   # why the provider paused the campaign
        self._next_callback: datetime | None = None
        self._callback_fresh = False
        self._load_stats()

    # -- transactions ----------------------------------------------------------------
    def _tx(self):
        """A write transaction that first records SIDs of calls placed since the last one.

        Inside ``_batch()`` (one loop iteration) it joins the iteration's transaction,
        which is begun lazily by the first write, so idle iterations cost nothing.

        Recording a SID is not a state change the engine depends on (reconcile finds an
        unrecorded placement through ``find_calls``), so it rides along with the next
        transaction instead of costing one of its own per dial. Under group commit it
        rides along with the commit, and a call that ended meanwhile has its SID and
        placement time written by its outcome instead (``_complete``).
        """
        return _EngineTx(self)

    def _batch(self):
        """One loop iteration's writes as one transaction (begun on first write)."""
        return _Batch(self)

    def _end_batch(self, *exc) -> bool:
        """Commit (or, after an error, roll back) the open loop transaction."""
        cm, self._batch_cm = self._batch_cm, None
        self._external_checked = False
        if cm is None:
            return False
        try:
            if self._pending_sids and not (exc and exc[0] is not None):
                self._write_sids(self.store.conn)
            result = cm.__exit__(*exc) if exc else cm.__exit__(None, None, None)
        except BaseException:
            self._unsent.clear()
            if self._group_commit:
                self.provider.discard_journal()
            raise
        failed = bool(exc and exc[0] is not None)
        if failed:
            self._unsent.clear()
        if self._group_commit:
            if failed:
                self.provider.discard_journal()
            else:
                self.provider.flush_journal()
        self._send_events()
        if self._group_commit and not failed:
            # Leave the lock free for a moment: another process waiting to write
            # (`pause`, `dnc add`, an import) gets in now, not after the campaign.
            self.wall.sleep(GROUP_COMMIT_GAP_S)
        return bool(result)

    def _write_sids(self, conn) -> None:
        """Record the SIDs of calls placed since the last time (in the open transaction)."""
        conn.executemany(
            "UPDATE calls SET provider_sid = ?, status = CASE WHEN status = 'claimed' "
            "THEN 'queued' ELSE status END, placed_at = ? WHERE id = ?",
            list(self._pending_sids.values()))
        self._pending_sids.clear()

    def _notify(self, item: dict[str, Any]) -> None:
        """Hand ``item`` to ``on_event`` -- once the transaction that wrote it commits.

        ``on_event`` may block (a CLI printing to a pipe nobody reads yet); blocking
        inside the loop's transaction would hold the write lock, and a `pause` or
        `dnc add` from another terminal would wait on it. Events of a transaction that
        rolls back describe nothing that happened and are dropped.
        """
        if self.on_event is None:
            return
        if self._batch_cm is None:
            self.on_event(item)
        else:
            self._unsent.append(item)

    def _send_events(self) -> None:
        while self._unsent and self.on_event is not None:
            items, self._unsent = self._unsent, []
            for item in items:
                self.on_event(item)

    def flush(self) -> None:
        if self._pending_sids:
            with self._tx():
                pass

    # -- setup -----------------------------------------------------------------------
    def _load_campaign(self) -> Campaign:
        row = self.store.one("SELECT * FROM campaigns WHERE id = ?", (self.campaign_id,))
        if row is None:
            raise InputError(f"Campaign {self.campaign_id} does not exist.")
        return Campaign.from_row(row)

    def _load_agent(self) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM agents WHERE id = ?", (self.campaign.agent_id,))
        assert row is not None
        return dict(row)

    def _dv(self) -> int:
        return self.store.conn.execute("PRAGMA data_version").fetchone()[0]

    def _hooks_active(self) -> bool:
        from dialcli.store import outbox

        return bool(outbox.subscribers(self.store.conn))

    def _load_stats(self) -> None:
        c = self.campaign
        for disp, n, minutes, cost in self.store.all(
            "SELECT disposition, COUNT(*), COALESCE(SUM(billed_minutes), 0), "
            "COALESCE(SUM(price), 0) FROM calls WHERE campaign_id = ? AND run = ? "
            "AND disposition IS NOT NULL GROUP BY disposition", (c.id, c.run),
        ):
            self.dispositions[disp] = n
            self.stats["calls"] += n
            self.stats["minutes"] += minutes
            self.stats["cost_micro"] += int(round(cost * 1_000_000))

    # -- public controls -------------------------------------------------------------
    def request_stop(self) -> None:
        """Ctrl-C: stop dispatching, let calls in progress finish, then return."""
        self.stop_requested.set()
        self.sink.emit(CallEvent(0, EventKind.PLACED, self.clock.now()))  # wake the loop

    def abort(self) -> None:
        """Second Ctrl-C: return now; open calls are reconciled on the next start."""
        self.abort_requested.set()
        self.stop_requested.set()
        self.sink.emit(CallEvent(0, EventKind.PLACED, self.clock.now()))

    # -- the loop --------------------------------------------------------------------
    def run(self) -> RunResult:
        c = self.campaign
        if c.status is CampaignStatus.COMPLETED:
            raise ConflictError(
                f"Campaign {c.name!r} is completed.",
                hint=f"Run it again from the start with `dialcli restart {c.name}`, or import "
                     "more leads into it.",
            )
        self.lease.acquire()
        if not getattr(self.clock, "virtual", False):
            from concurrent.futures import ThreadPoolExecutor

            self._placer = ThreadPoolExecutor(max_workers=PLACE_THREADS,
                                              thread_name_prefix="dialcli-place")
        try:
            return self._run()
        finally:
            try:
                if self._placer is not None:
                    # Placements not started yet are cancelled: their claims are settled
                    # (never placed) by the next start's reconcile.
                    self._placer.shutdown(wait=True, cancel_futures=True)
                self.provider.close()
            finally:
                self.lease.release()

    def _run(self) -> RunResult:
        now = self.clock.now()
        with self.store.tx():
            self.store.execute(
                "UPDATE campaigns SET status = 'RUNNING', started_at = COALESCE(started_at, ?), "
                "updated_at = ? WHERE id = ?", (to_iso(now), to_iso(now), self.campaign_id))
        self.campaign = self._load_campaign()
        self.provider.bind(self.sink, self.clock)
        if self._group_commit:
            self.provider.defer_journal = True
        self.provider.start()
        reconciled = self.reconcile()
        made_before = self.stats["calls"]
        outcome = "completed"
        spins = 0
        while True:
            now = self.clock.now()
            # Everything decided at this instant -- outcomes of calls that ended and the
            # claims of the next dials -- commits as one transaction; the claimed calls
            # are placed only after it has committed.
            with self._batch():
                self._drain(now)
                if self.abort_requested.is_set():
                    outcome = "aborted"
                    break
                if self.lease.due() and not self.lease.heartbeat(self._published_wait(now)):
                    outcome = "lease_lost"
                    self._note = "another runner took over this campaign"
                    break
                self._check_external(now)
                if self.stop_requested.is_set():
                    if not self.in_flight:
                        outcome = "paused"
                        break
                else:
                    self._dispatch(now)
                    if not self.in_flight and self._finished(now):
                        outcome = "completed"
                        break
                    if not self.in_flight:
                        self._idle(now)
            self._place_claimed(now)
            self._poll(now)
            wake = self._next_wake(now)
            if wake is None and not self.in_flight and not self.sink.timeline:
                # Nothing can happen without an outside event: re-check shortly.
                wake = now + timedelta(seconds=1)
            if wake is not None and wake <= now and self.sink.inbox.empty() and not (
                    self.sink.timeline and self.sink.timeline[0][0] <= now):
                spins += 1
                if spins > 100:   # a deadline that never makes progress: step past it
                    wake = now + timedelta(seconds=1)
            else:
                spins = 0
            if not getattr(self.clock, "virtual", False):
                self.flush()
            self.clock.wait(self.sink.inbox, wake)
        self._end_batch()
        return self._finish_run(outcome, reconciled, made_before)

    def _finish_run(self, outcome: str, reconciled: int, made_before: int) -> RunResult:
        now = self.clock.now()
        with self._tx():
            if outcome == "completed":
                self.store.execute(
                    "UPDATE campaigns SET status = 'COMPLETED', completed_at = ?, "
                    "next_pass_at = NULL, updated_at = ? WHERE id = ?",
                    (to_iso(now), to_iso(now), self.campaign_id))
            elif outcome in ("paused", "aborted", "interrupted"):
                self.store.execute(
                    "UPDATE campaigns SET status = 'PAUSED', updated_at = ? "
                    "WHERE id = ? AND status = 'RUNNING'", (to_iso(now), self.campaign_id))
        self.campaign = self._load_campaign()
        made = self.stats["calls"] - made_before
        return RunResult(outcome, made, self._note, reconciled, self.provider_pause)

    def _next_wake(self, now: datetime) -> datetime | None:
        candidates = [self._waiting_until, self.sink.next_wake(now)]
        # The pacer's next slot matters only with room for another call; at the
        # concurrency limit the next call to end wakes the loop (half the turns of a
        # busy simulated campaign were pacer wake-ups with nothing to dial).
        if len(self.in_flight) < self.max_concurrent and not self.pacer.ready(now):
            candidates.append(self.pacer.next_at)
        if self._graces:
            candidates.append(min(self._graces.values()))
        if self._next_poll is not None and self.in_flight and getattr(self.provider, "polls", False):
            candidates.append(self._next_poll)
        wake = earliest(*candidates)
        # Never sleep past the next lease heartbeat in real time.
        if not getattr(self.clock, "virtual", False):
            wake = earliest(wake, now + timedelta(seconds=1))
        return wake

    def _check_external(self, now: datetime) -> None:
        """Another process committed (pause, dnc add, import, webhooks add)?"""
        if self._batch_cm is not None and self._external_checked:
            return     # checked since we took the write lock: nobody else can commit now
        self._external_checked = self._batch_cm is not None
        dv = self._dv()
        if dv == self._data_version:
            return
        self._data_version = dv
        self._caps.clear()
        self._cap_settings = None
        self.queue.invalidate()
        self._callback_fresh = False
        self._has_hooks = self._hooks_active()
        status = self.store.scalar("SELECT status FROM campaigns WHERE id = ?", (self.campaign_id,))
        if status == "PAUSED" and not self.stop_requested.is_set():
            self._note = "paused from another terminal"
            self.stop_requested.set()

    def _poll(self, now: datetime) -> None:
        if not getattr(self.provider, "polls", False) or not self.in_flight:
            return
        if self._next_poll is None or now >= self._next_poll:
            self._next_poll = now + POLL_EVERY
            self.provider.poll({f.call_id: f.sid for f in self.in_flight.values()}, now)

    # -- events ----------------------------------------------------------------------
    def _drain(self, now: datetime) -> None:
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
                f = self.in_flight.get(call_id)
                if f is None:
                    del self._graces[call_id]
                elif now >= until and f.ended is not None:
                    del self._graces[call_id]
                    self._complete(f, f.ended, now)

    def _handle(self, ev: CallEvent, now: datetime) -> None:
        f = self.in_flight.get(ev.call_id)
        if f is None:
            return  # unknown, late or duplicate event: the call is already final
        if ev.detail.get("retry_place"):
            self._place(f, now)   # the provider never processed it: same claim, again
            return
        done = ev.detail.get("placed")
        if done is not None:          # a placement from the thread pool finished
            try:
                sid = done.result()
            except ProviderError as exc:
                self._place_failed(f, exc, now)
            except Exception as exc:  # noqa: BLE001 - a provider bug must not kill the run
                self._place_failed(f, DialError(f"placing the call failed: {exc}",
                                                action=ProviderAction.FAIL_CALL), now)
            else:
                self._placed(f, sid, now)
            return
        if ev.sid and not f.sid:
            f.sid = ev.sid
        kind = ev.kind
        if kind is EventKind.ANSWERED:
            f.answered_at = ev.at
        elif kind in (EventKind.HUMAN, EventKind.MACHINE):
            f.answered_by = ev.answered_by or f.answered_by
            if f.answered_at is None:
                f.answered_at = ev.at
        elif kind is EventKind.CONVERSATION:
            f.conversation = ev
            if f.ended is not None:
                self._complete(f, f.ended, now)
                return
        elif kind is EventKind.ENDED:
            f.ended = ev
            if ev.answered_by:
                f.answered_by = ev.answered_by
            human = (f.answered_by or "").startswith("human") or (
                f.answered_by is None and ev.status is CallStatus.COMPLETED and f.answered_at)
            if human and f.conversation is None and not getattr(self.clock, "virtual", False):
                f.grace_until = now + CONVERSATION_GRACE
                self._graces[f.call_id] = f.grace_until
                return
            self._complete(f, ev, now)
            return
        self._event(f, str(kind), ev.at, ev)

    def _event(self, f: InFlight, what: str, now: datetime, ev: CallEvent | None = None) -> None:
        if what in ("placed",):
            return
        item = {"at": now, "lead": f.lead_name, "e164": f.e164,
                "event": EVENT_WORDS.get(what, what)}
        self.recent_events.appendleft(item)
        self._notify({"type": "call", **item})

    # -- dispatch ----------------------------------------------------------------------
    def _dispatch(self, now: datetime) -> None:
        self._waiting_until = self._waiting_for = None
        if self._slow_until is not None and now < self._slow_until:
            self._wait(self._slow_until, "the phone provider asked us to slow down")
            return
        while len(self.in_flight) < self.max_concurrent:
            if not self.pacer.ready(now):
                return
            if self._dial_callback(now):
                continue
            if not self._dial_pass(now):
                return

    def _wait(self, at: datetime | None, why: str | None) -> None:
        """Nothing can be dialed before ``at`` for this reason (the earliest one wins)."""
        if at is not None and (self._waiting_until is None or at < self._waiting_until):
            self._waiting_until, self._waiting_for = at, why

    def _idle(self, now: datetime) -> None:
        """Nothing in flight and nothing dialable: say until when and why, once."""
        key = (self._waiting_until, self._waiting_for)
        if key[0] is None or key[0] <= now or key == self._last_idle:
            return
        self._last_idle = key
        if (key[1] or "").startswith("pass "):
            return        # the "pass" event has said when it opens
        self._notify({"type": "idle", "at": now, "until": key[0], "why": key[1]})

    def _published_wait(self, now: datetime) -> tuple[datetime | None, str | None]:
        """What ``dialcli status`` in another terminal should say this runner waits
        for: only an idle runner on wall time (a virtual instant means nothing there)."""
        until = self._waiting_until
        if self.in_flight or until is None or until <= now or \
                getattr(self.clock, "virtual", False):
            return (None, None)
        return (until, self._waiting_for)

    def _pass_open(self, now: datetime) -> bool:
        c = self.campaign
        nxt = from_iso(c.next_pass_at)
        if nxt is not None and now < nxt:
            self._wait(nxt, f"pass {c.pass_no} opens")
            return False
        return True

    def _dial_pass(self, now: datetime) -> bool:
        """Claim and place the next pass dial; False when nothing can be dialed now."""
        if not self._pass_open(now):
            return False
        for _ in range(1000):  # bounded: each iteration retires or claims a head
            choice = self.queue.next(now)
            if choice.head is None:
                self._wait(choice.wake_at, choice.wake_for)
                return False
            group = choice.group
            assert group is not None
            if choice.never:
                reason = self.queue.window(group).never_reason
                self._retire_phone(choice.head.lead_id, choice.head.slot, reason, now,
                                   decision="skip")
                self.queue.taken(group, now)
                continue
            result = self._claim(choice.head.lead_id, choice.head.slot, "pass", now)
            self.queue.taken(group, now)
            if result is None:
                continue          # stale head, retired phone or deferred lead: next
            self._claimed(result, now)
            return True
        return False

    def _dial_callback(self, now: datetime) -> bool:
        if not self._callback_fresh:
            nxt = self.store.scalar(
                "SELECT MIN(callback_at) FROM leads WHERE campaign_id = ? AND status = 'CALLBACK'",
                (self.campaign_id,))
            self._next_callback = from_iso(nxt)
            self._callback_fresh = True
        if self._next_callback is None:
            return False
        if now < self._next_callback:
            self._wait(self._next_callback, "a callback is due")
            return False
        self._callback_fresh = False      # re-read after acting on the due ones
        rows = self.store.all(
            "SELECT id, callback_slot, callback_at FROM leads WHERE campaign_id = ? "
            "AND status = 'CALLBACK' AND callback_at <= ? ORDER BY callback_at LIMIT 20",
            (self.campaign_id, to_iso(now)))
        for lead_id, slot, _due in rows:
            window = self._window_for_slot(lead_id, slot)
            span = window.next_open(now) if window is not None else None
            if span is None:
                reason = (window.never_reason if window is not None
                          else "no permitted calling time")
                self._retire_phone(lead_id, slot, reason, now,
                                   decision="skip", callback=True)
                continue
            if span[0] > now:
                with self._tx():
                    self.store.execute("UPDATE leads SET callback_at = ? WHERE id = ?",
                                       (to_iso(span[0]), lead_id))
                continue
            n = self.store.scalar(
                "SELECT COUNT(*) FROM calls WHERE lead_id = ? AND run = ? AND kind LIKE 'callback:%'",
                (lead_id, self.campaign.run)) + 1
            result = self._claim(lead_id, slot, f"callback:{n}", now)
            if result is not None:
                self._claimed(result, now)
                return True
        return False

    def _window_for_slot(self, lead_id: int, slot: int):
        row = self.store.one("SELECT group_id FROM lead_phones WHERE lead_id = ? AND slot = ?",
                             (lead_id, slot))
        if row is None or row[0] is None:
            return None
        return self.queue.window(row[0])

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
        c = self.campaign
        d = self.dispositions
        reached = sum(n for k, n in d.items() if Disposition(k).reached)
        return Snapshot(
            campaign=c.name, status="PAUSING" if self.stop_requested.is_set() and self.in_flight
            else str(c.status if not self.stop_requested.is_set() else "PAUSED"),
            now=self.clock.now(), virtual=bool(getattr(self.clock, "virtual", False)),
            run=c.run, pass_no=c.pass_no, max_passes=c.max_attempts,
            next_pass_at=from_iso(c.next_pass_at), calls_made=self.stats["calls"],
            reached=reached, interested=d.get("INTERESTED", 0), opted_out=d.get("OPT_OUT", 0),
            in_flight=len(self.in_flight), minutes=self.stats["minutes"],
            cost=self.stats["cost_micro"] / 1_000_000, dispositions=dict(d),
            leads_by_status={}, recent_leads=list(self.recent_leads),
            recent_events=list(self.recent_events), waiting_until=self._waiting_until,
            waiting_for=self._waiting_for, note=self._note,
        )
