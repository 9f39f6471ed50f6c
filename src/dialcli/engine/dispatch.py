"""Choosing the next dials: due callbacks first, then the breadth-first pass queue.

Within ``max_concurrent`` and the pacer's rate, ``Dispatcher.dispatch`` claims dials
until nothing more may be dialed now, and otherwise says until when and why
(``RunState.wait``): a callback is due, calling hours open somewhere, the next pass
opens, the provider asked us to slow down.
"""

from __future__ import annotations

from datetime import datetime

from dialcli.clock import from_iso, to_iso
from dialcli.engine.batch import Transactions
from dialcli.engine.claim import Claimer, Placer
from dialcli.engine.queue import DialQueue
from dialcli.engine.schedule import Pacer
from dialcli.engine.settle import Settler
from dialcli.engine.types import RunState
from dialcli.store import Store, transitions

#: A dispatch retires or claims one queue head per step; this bounds one instant's work.
MAX_STEPS = 1000


class Dispatcher:
    def __init__(self, store: Store, tx: Transactions, state: RunState, queue: DialQueue,
                 pacer: Pacer, claimer: Claimer, placer: Placer, settler: Settler):
        self.store = store
        self.tx = tx
        self.state = state
        self.queue = queue
        self.pacer = pacer
        self.claimer = claimer
        self.placer = placer
        self.settler = settler

    def dispatch(self, now: datetime) -> None:
        state = self.state
        state.waiting_until = state.waiting_for = None
        if state.slow_until is not None and now < state.slow_until:
            state.wait(state.slow_until, "the phone provider asked us to slow down")
            return
        while len(state.in_flight) < state.max_concurrent:
            if not self.pacer.ready(now):
                return
            if self._dial_callback(now):
                continue
            if not self._dial_pass(now):
                return

    def _pass_open(self, now: datetime) -> bool:
        c = self.state.campaign
        nxt = from_iso(c.next_pass_at)
        if nxt is not None and now < nxt:
            self.state.wait(nxt, f"pass {c.pass_no} opens")
            return False
        return True

    def _dial_pass(self, now: datetime) -> bool:
        """Claim the next pass dial; False when nothing can be dialed now."""
        if not self._pass_open(now):
            return False
        for _ in range(MAX_STEPS):
            choice = self.queue.next(now)
            if choice.head is None:
                self.state.wait(choice.wake_at, choice.wake_for)
                return False
            group = choice.group
            assert group is not None
            if choice.never:
                reason = self.queue.window(group).never_reason
                self.settler.retire_phone(choice.head.lead_id, choice.head.slot, reason, now,
                                          decision="skip")
                self.queue.taken(group, now)
                continue
            result = self.claimer.claim(choice.head.lead_id, choice.head.slot, "pass", now)
            self.queue.taken(group, now)
            if result is None:
                continue          # stale head, retired phone or deferred lead: next
            self.placer.claimed(result, now)
            return True
        return False

    def _dial_callback(self, now: datetime) -> bool:
        """Claim a callback that is due; False when none can be dialed now.

        Whatever happens to the due ones (claimed, moved into their window, deferred by
        the frequency cap, retired), the loop is told when the next callback is due
        before this returns: a declined claim must not leave the clock free to jump to
        an unrelated wake-up (another number's cap release) past a due callback."""
        state = self.state
        c = state.campaign
        for _ in range(MAX_STEPS):
            if not state.callback_fresh:
                nxt = self.store.scalar(
                    "SELECT MIN(callback_at) FROM leads WHERE campaign_id = ? "
                    "AND status = 'CALLBACK'", (c.id,))
                state.next_callback = from_iso(nxt)
                state.callback_fresh = True
            if state.next_callback is None:
                return False
            if now < state.next_callback:
                state.wait(state.next_callback, "a callback is due")
                return False
            state.callback_fresh = False      # re-read after acting on the due ones
            if self._claim_due_callback(now):
                return True
        return False

    def _claim_due_callback(self, now: datetime) -> bool:
        """Act on the callbacks due now, earliest first: True once one is claimed.
        Every one declined has moved on (its callback_at later, or no longer a callback)."""
        c = self.state.campaign
        rows = self.store.all(
            "SELECT id, callback_slot, callback_at FROM leads WHERE campaign_id = ? "
            "AND status = 'CALLBACK' AND callback_at <= ? ORDER BY callback_at LIMIT 20",
            (c.id, to_iso(now)))
        for lead_id, slot, _due in rows:
            window = self.queue.window_for_slot(lead_id, slot)
            span = window.next_open(now) if window is not None else None
            if span is None:
                reason = (window.never_reason if window is not None
                          else "no permitted calling time")
                self.settler.retire_phone(lead_id, slot, reason, now, decision="skip",
                                          callback=True)
                continue
            if span[0] > now:
                with self.tx.tx() as conn:
                    transitions.move_callback(conn, lead_id, to_iso(span[0]))
                continue
            n = self.store.scalar(
                "SELECT COUNT(*) FROM calls WHERE lead_id = ? AND run = ? AND kind LIKE 'callback:%'",
                (lead_id, c.run)) + 1
            result = self.claimer.claim(lead_id, slot, f"callback:{n}", now)
            if result is not None:
                self.placer.claimed(result, now)
                return True
        return False
