"""Settling: what a finished call, a retired phone or a finished pass does to leads.

- ``Settler`` turns one finished call into one transaction (call row, lead
  transition, retired phone, opt-out, appointment, webhook event), and retires a phone
  that can no longer be dialed, moving its lead on.
- ``Passes`` opens the next pass ``retry_interval_minutes`` after one is over, or
  says the campaign is done.
- ``Reconciler`` settles what a dead runner left open before anything new is dialed.

The rules themselves are the pure functions of ``dialcli.outcomes``; the writes go
through ``dialcli.store.transitions``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Callable

from dialcli import outcomes
from dialcli.clock import Clock, from_iso, to_iso
from dialcli.compliance import dnc
from dialcli.conversation.base import EndCall
from dialcli.conversation.callback_time import parse_callback_time
from dialcli.conversation.classify import classify_transcript
from dialcli.conversation.extract import extract as extract_fields
from dialcli.conversation.intents import first_name
from dialcli.engine.batch import Transactions
from dialcli.engine.progress import Progress
from dialcli.engine.queue import DialQueue
from dialcli.engine.schedule import earliest
from dialcli.engine.types import InFlight, RunState
from dialcli.errors import ConflictError
from dialcli.models import CallStatus, Disposition, LeadStatus
from dialcli.providers.base import CallEvent, EventKind, Provider
from dialcli.store import Store, transitions

Classifier = Callable[[list[dict[str, Any]], str], "EndCall | None"]
CallbackParser = Callable[[str | None, datetime, "str | None"], datetime]


class Settler:
    def __init__(self, store: Store, tx: Transactions, state: RunState, queue: DialQueue,
                 progress: Progress, provider: Provider, *, rate: float,
                 classifier: Classifier, callback_parser: CallbackParser):
        self.store = store
        self.tx = tx
        self.state = state
        self.queue = queue
        self.progress = progress
        self.provider = provider
        self.rate = rate
        self.classifier = classifier
        self.callback_parser = callback_parser

    # -- a finished call -------------------------------------------------------------
    def complete(self, f: InFlight, ev: CallEvent, now: datetime) -> None:
        """Apply a finished call: call row, lead transition, side effects; one transaction."""
        state = self.state
        state.in_flight.pop(f.call_id, None)
        c = state.campaign
        conv = f.conversation
        label = conv.end if conv is not None else None
        turns = conv.turns if conv is not None and conv.turns is not None else (
            ev.turns if ev.turns is not None else 0)
        transcript = (conv.transcript if conv is not None else None) or ev.transcript
        answered_by = ev.answered_by or f.answered_by
        status = ev.status or CallStatus.FAILED
        if label is None and status is CallStatus.COMPLETED and transcript and turns >= 2 \
                and not (answered_by or "").startswith("machine"):
            label = self.classifier(transcript, f.lead_name)
        disposition = outcomes.disposition_for(
            status, answered_by, label.disposition if label else None, turns)
        if disposition is Disposition.VOICEMAIL and ev.detail.get("voicemail") in ("missed",
                                                                                   "failed"):
            disposition = Disposition.NO_ANSWER   # a machine, but no message was left
        dead_number = bool(ev.detail.get("dead_number"))
        if dead_number:
            disposition = Disposition.FAILED
        now_iso = to_iso(now)
        billed = ev.billed_minutes or 0
        price = ev.price if ev.price is not None else round(billed * self.rate, 5)
        price_final = 1 if ev.price is not None and self.provider.prices_final else 0
        is_callback = f.kind != "pass"
        placed = self.tx.pending_sids.pop(f.call_id, None)   # not yet written: write it here
        with self.tx.tx() as conn:
            done = conn.execute(
                "UPDATE calls SET status = ?, answered_by = ?, disposition = ?, turns = ?, "
                "summary = ?, callback_text = ?, transcript = ?, answered_at = ?, ended_at = ?, "
                "duration_s = ?, billed_minutes = ?, price = ?, price_unit = ?, price_final = ?, "
                "error_code = ?, error = ?, provider_sid = COALESCE(provider_sid, ?), "
                "placed_at = COALESCE(placed_at, ?), amd_at = ?, voicemail_left = ? "
                "WHERE id = ? AND disposition IS NULL",
                (str(status), answered_by, str(disposition), turns,
                 label.summary if label else None, label.callback_text if label else None,
                 json.dumps(transcript) if transcript else None,
                 to_iso(f.answered_at) or ev.detail.get("answered_at"), to_iso(ev.at),
                 ev.duration_s or 0, billed, price, ev.price_unit or "USD", price_final,
                 ev.error_code, ev.error, f.sid, placed[1] if placed else None,
                 to_iso(f.amd_at) or ev.detail.get("amd_at"),
                 int(ev.voicemail_left) if answered_by and answered_by.startswith("machine")
                 else None, f.call_id),
            ).rowcount
            if not done:
                return   # already applied (duplicate end)
            tr, groups = self._transition(conn, f, disposition, is_callback, dead_number,
                                          ev.error_code)
            if tr.kill_slot is not None and disposition is Disposition.WRONG_NUMBER:
                transitions.kill_phone(conn, f.lead_id, tr.kill_slot, "wrong number")
            if disposition is Disposition.OPT_OUT:
                self._opt_out_lead(conn, f.lead_id, now_iso)
            callback_at = None
            if tr.callback:
                callback_at = self.callback_due(f, label, now, retry=is_callback and
                                                not disposition.reached)
                state.next_callback = earliest(state.next_callback, callback_at)
                conn.execute(
                    "INSERT INTO appointments (campaign_id, lead_id, call_id, slot, due_at, note, "
                    "status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
                    (c.id, f.lead_id, f.call_id, f.slot, to_iso(callback_at),
                     (label.callback_text if label else None) or "callback retry", now_iso))
            if state.fields and transcript and not (answered_by or "").startswith("machine"):
                # Extracted fields: the brain's values checked, the rules' where it gave none.
                found = extract_fields(
                    state.fields, label.fields if label else None, transcript,
                    callback_text=label.callback_text if label else None,
                    callback_at=to_iso(callback_at), first=first_name(f.lead_name))
                conn.execute("UPDATE calls SET fields = ? WHERE id = ?",
                             (json.dumps(found, ensure_ascii=False), f.call_id))
            if is_callback:
                conn.execute("UPDATE appointments SET status = 'done' WHERE lead_id = ? "
                             "AND status = 'open' AND call_id != ?", (f.lead_id, f.call_id))
            group = groups.get(tr.phone_slot) if tr.phone_slot is not None else None
            transitions.settle(conn, lead_id=f.lead_id, tr=tr, disposition=str(disposition),
                               group=group, callback_at_iso=to_iso(callback_at),
                               callback_slot=f.slot if tr.callback else None, now_iso=now_iso,
                               hooks=state.hooks)
        if tr.status in (LeadStatus.PENDING, LeadStatus.RETRY) and not tr.pass_done:
            self.queue.queued(group, tr.phone_slot, f.lead_id, now)
        self.progress.count(disposition, billed, price)
        self.progress.lead_changed(f.lead_id, f.lead_name, str(tr.status), str(disposition),
                                   tr.phone_slot, f.pass_no, now, f.e164, bool(tr.pass_done))
        self.progress.call_event(f, f"ended: {disposition}", now)

    def _transition(self, conn, f: InFlight, disposition: Disposition, is_callback: bool,
                    dead_number: bool, error_code: int | None):
        """The lead's next state (``outcomes``) and its phones' zone groups."""
        max_attempts = self.state.campaign.max_attempts
        # The lead and its phones in one read (a lead has at least one phone).
        rows = conn.execute(
            "SELECT l.status, l.callback_attempts, p.slot, p.group_id, p.dead_reason "
            "FROM leads l JOIN lead_phones p ON p.lead_id = l.id WHERE l.id = ? "
            "ORDER BY p.slot", (f.lead_id,)).fetchall()
        live = tuple(p[2] for p in rows if p[4] is None)
        groups = {p[2]: p[3] for p in rows}
        view = outcomes.LeadView(LeadStatus(rows[0][0]), f.slot, f.pass_no, rows[0][1], live,
                                 int(f.kind.split(":")[1]) if is_callback else 0)
        if not dead_number:
            return outcomes.next_state(view, f.slot, disposition, is_callback=is_callback,
                                       max_attempts=max_attempts), groups
        # The carrier says the number does not exist: retired, the lead moves on; it
        # was dialed, so it is a retry (or exhausted), never untouched.
        transitions.kill_phone(conn, f.lead_id, f.slot, f"invalid number ({error_code})")
        tr = outcomes.skip_phone(view, f.slot, max_attempts=max_attempts,
                                 reason="invalid number")
        if tr.status is LeadStatus.PENDING:
            tr = outcomes.Transition(LeadStatus.RETRY, tr.phone_slot, tr.pass_done,
                                     kill_slot=tr.kill_slot, skip_reason=tr.skip_reason)
        if tr.status is LeadStatus.SKIPPED:
            tr = outcomes.Transition(LeadStatus.EXHAUSTED, None, 1, kill_slot=f.slot,
                                     skip_reason="no dialable phone left")
        return tr, groups

    def _opt_out_lead(self, conn, lead_id: int, now_iso: str) -> None:
        """OPT_OUT: every number of the lead goes on the workspace list, now (in the
        outcome's transaction), and is retired in every campaign. A simulated callee's
        opt-out binds simulated runs only."""
        numbers = [r[0] for r in conn.execute("SELECT e164 FROM lead_phones WHERE lead_id = ?",
                                              (lead_id,))]
        dnc.add(conn, numbers, source=dnc.SIMULATOR_SOURCE if self.provider.simulated else "call",
                reason="asked to be removed on a call", now_iso=now_iso,
                campaign_id=self.state.campaign.id, lead_id=lead_id)
        self.state.consent_memo.drop(numbers)     # their consent is revoked

    def callback_due(self, f: InFlight, label: EndCall | None, now: datetime, *,
                     retry: bool) -> datetime:
        if retry:
            due = now + timedelta(minutes=self.state.campaign.retry_interval_minutes)
        elif label is not None and label.callback_at:
            due = from_iso(label.callback_at) if _looks_iso(label.callback_at) else None
            if due is None or due <= now:      # a model's time in the past: read the words
                due = self.callback_parser(label.callback_text or label.callback_at, now, f.tz)
        else:
            due = self.callback_parser(label.callback_text if label else None, now, f.tz)
        window = self.queue.window_for_slot(f.lead_id, f.slot)
        if window is not None:
            span = window.next_open(max(due, now))
            if span is not None:
                due = span[0]
        return due

    # -- retiring phones -------------------------------------------------------------
    def retire_phone(self, lead_id: int, slot: int, reason: str, now: datetime, *,
                     decision: str, callback: bool = False) -> None:
        with self.tx.tx() as conn:
            self.retire_in_tx(conn, lead_id, slot, reason, now, decision=decision,
                              callback=callback)

    def retire_in_tx(self, conn, lead_id: int, slot: int, reason: str, now: datetime, *,
                     decision: str, callback: bool = False, already_dead: bool = False,
                     detail: dict[str, Any] | None = None) -> None:
        """A phone is undialable (opt-out list, unknown zone): retire it, move the lead on."""
        c = self.state.campaign
        r = transitions.retire_phone(
            conn, campaign_id=c.id, max_attempts=c.max_attempts, lead_id=lead_id, slot=slot,
            reason=reason, now_iso=to_iso(now), decision=decision, callback=callback,
            already_dead=already_dead, detail=detail, hooks=self.state.hooks)
        if r is None or callback:
            return
        if r.status is not r.previous:
            self.progress.lead_changed(lead_id, r.name, str(r.status), None, r.phone_slot,
                                       r.pass_no, now)
        if r.requeued:
            self.queue.queued(r.group, r.phone_slot, lead_id, now)


class Passes:
    """Passes and completion: breadth-first retries ``retry_interval_minutes`` apart."""

    def __init__(self, store: Store, tx: Transactions, state: RunState, queue: DialQueue):
        self.store = store
        self.tx = tx
        self.state = state
        self.queue = queue

    def finished(self, now: datetime) -> bool:
        """Open the next pass when this one is over; True when the campaign is done."""
        c = self.state.campaign
        if self.queue.waiting:
            return False        # someone is queued in this pass (maybe waiting for a window)
        if not self._pass_over(c.id):
            # Leads still in the pass but none queued: dialing, deferred -- or strays
            # with no phone to queue on, which would otherwise hold the pass open forever.
            self._repair_strays(now)
            return False
        retry = self.store.scalar(
            "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status = 'RETRY' AND pass_done = 1",
            (c.id,))
        if retry and c.pass_no < c.max_attempts:
            nxt = now + timedelta(minutes=c.retry_interval_minutes)
            with self.store.tx() as conn:
                transitions.open_pass(conn, campaign_id=c.id, pass_no=c.pass_no + 1,
                                      opens_iso=to_iso(nxt), now_iso=to_iso(now))
            self.state.reload_campaign(self.store)
            self.queue.invalidate()
            # The earliest wait wins: a callback due before the pass opens is not
            # skipped by waking only for the pass.
            self.state.wait(nxt, f"pass {c.pass_no + 1} opens")
            self.tx.notify({"type": "pass", "at": now, "pass": c.pass_no + 1, "opens_at": nxt})
            return False
        if retry:
            with self.store.tx() as conn:
                transitions.exhaust(conn, campaign_id=c.id,
                                    reason=f"not reached in {c.max_attempts} pass(es)",
                                    now_iso=to_iso(now), hooks=self.state.hooks)
        waiting = self.store.scalar(
            "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status IN "
            "('PENDING', 'RETRY', 'DIALING', 'CALLBACK')", (c.id,))
        return waiting == 0

    def _repair_strays(self, now: datetime) -> None:
        """Leads in the pass with no queue group (no live phone slot): give them their
        next usable phone, or end them with the reason."""
        c = self.state.campaign
        rows = self.store.all(
            "SELECT id, status FROM leads INDEXED BY leads_ready WHERE campaign_id = ? "
            "AND cur_group IS NULL AND status IN ('PENDING', 'RETRY') AND pass_done = 0 "
            "LIMIT 500", (c.id,))
        if not rows:
            return
        now_iso = to_iso(now)
        with self.tx.tx() as conn:
            for lead_id, status in rows:
                usable = conn.execute(
                    "SELECT slot, group_id FROM lead_phones WHERE lead_id = ? AND "
                    "dead_reason IS NULL AND group_id IS NOT NULL ORDER BY slot LIMIT 1",
                    (lead_id,)).fetchone()
                if usable is not None:
                    transitions.requeue(conn, lead_id, usable[0], usable[1], now_iso)
                    self.queue.queued(usable[1], usable[0], lead_id, now)
                    continue
                transitions.end(conn, campaign_id=c.id, lead_id=lead_id, e164=None,
                                previous=status, reason="no dialable phone", now_iso=now_iso,
                                decision=None, hooks=self.state.hooks)

    def _pass_over(self, campaign_id: int) -> bool:
        # Two index seeks (the queue's partial index, then the status index) rather
        # than one OR that SQLite answers by visiting every lead done with the pass.
        return not self.store.scalar(
            "SELECT 1 FROM leads INDEXED BY leads_ready WHERE campaign_id = ? "
            "AND status IN ('PENDING', 'RETRY') AND pass_done = 0 LIMIT 1",
            (campaign_id,)) and not self.store.scalar(
            "SELECT 1 FROM leads WHERE campaign_id = ? AND status = 'DIALING' LIMIT 1",
            (campaign_id,))


class Reconciler:
    """Crash recovery: settle the calls a dead runner left open, before any new dial."""

    def __init__(self, store: Store, provider: Provider, clock: Clock, state: RunState,
                 settler: Settler, queue: DialQueue):
        self.store = store
        self.provider = provider
        self.clock = clock
        self.state = state
        self.settler = settler
        self.queue = queue

    def reconcile(self) -> int:
        c = self.state.campaign
        rows = self.store.all(
            "SELECT calls.id, lead_id, slot, kind, calls.pass_no, calls.e164, provider_sid, "
            "calls.status, claimed_at, provider, from_number, leads.name, leads.timezone "
            "FROM calls JOIN leads ON leads.id = calls.lead_id "
            "WHERE calls.campaign_id = ? AND disposition IS NULL ORDER BY calls.id", (c.id,))
        settled = 0
        now = self.clock.now()
        adopted: set[str] = set()
        if rows:
            self.provider.prepare_reconcile(
                [(r["provider_sid"], r["e164"], from_iso(r["claimed_at"]) or now) for r in rows])
        for r in rows:
            if r["provider"] != self.provider.name:
                raise ConflictError(
                    f"Campaign {c.name!r} has calls still open from a {r['provider']} run.",
                    hint="Start it the same way as before (with or without --simulate) so "
                         "those calls can be settled first.")
            f = InFlight(r["id"], r["lead_id"], r["name"] or "", r["slot"], r["kind"],
                         r["pass_no"], r["e164"], r["timezone"], sid=r["provider_sid"])
            state = None
            if f.sid:
                state = self.provider.fetch(f.sid)
            else:
                claimed = from_iso(r["claimed_at"]) or now
                found = self.provider.find_calls(r["e164"], r["from_number"],
                                                 claimed - timedelta(minutes=2))
                # A call to the same number another row already holds (an earlier pass,
                # another lead with this phone) is not this claim's placement.
                found = [s for s in found if s.sid not in adopted and not self.store.scalar(
                    "SELECT 1 FROM calls WHERE provider_sid = ?", (s.sid,))]
                if found:
                    state = sorted(found, key=lambda s: s.start_time or now)[0]
                    f.sid = state.sid
                    adopted.add(state.sid)
            settled += 1
            if state is None:
                # The provider has no such call (Twilio answers 404; the simulated
                # network never recorded it): it was never placed.
                with self.store.tx() as conn:
                    transitions.revert_claim(conn, call_id=f.call_id, now_iso=to_iso(now),
                                             reason="never placed: the runner stopped first")
                continue
            if state.status.final:
                ev = CallEvent(f.call_id, EventKind.ENDED, state.end_time or now,
                               sid=state.sid, status=state.status, answered_by=state.answered_by,
                               duration_s=state.duration_s, billed_minutes=state.billed_minutes,
                               price=state.price, price_unit=state.price_unit)
                f.answered_by = state.answered_by
                f.answered_at = state.start_time
                self.settler.complete(f, ev, now)
            else:
                self.state.in_flight[f.call_id] = f  # still live: callbacks or polling finish it
        # Leads marked DIALING without an open call (should not happen): put them back.
        with self.store.tx() as conn:
            transitions.release_orphans(conn, campaign_id=c.id, now_iso=to_iso(now),
                                        hooks=self.state.hooks)
        self.queue.invalidate()
        return settled


def _looks_iso(text: str) -> bool:
    return len(text) >= 16 and text[4] == "-" and text[7] == "-" and "T" in text[8:11]


def default_classifier(transcript: list[dict[str, Any]], lead_name: str = "") -> EndCall | None:
    """Label a call the brain did not label, from its transcript.

    Rules only: this runs inside the engine's transaction, where a blocking LLM
    request (up to seconds) would hold the workspace's write lock.
    """
    return classify_transcript(transcript, lead_name=lead_name)


def default_callback_parser(text: str | None, now: datetime, tz: str | None) -> datetime:
    return parse_callback_time(text or "", now, tz).due_utc
