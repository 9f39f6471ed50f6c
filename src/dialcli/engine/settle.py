"""Settling calls: outcomes, retired phones, passes, and crash recovery.

``Settling`` is the half of the engine that writes results: one finished call becomes
one transaction (call row, lead transition, retired phone, opt-out, appointment,
webhook event); a phone that can no longer be dialed is retired with its reason; when
a pass is over the next one is opened ``retry_interval_minutes`` later; and
``reconcile`` settles what a dead runner left open before anything new is dialed.
The rules themselves are the pure functions in ``outcomes``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from dialcli import outcomes


from dialcli.compliance import dnc
from dialcli.clock import from_iso, to_iso
from dialcli.conversation.base import EndCall
from dialcli.engine.types import InFlight
from dialcli.errors import ConflictError
from dialcli.models import Campaign, CallStatus, Disposition, LeadStatus
from dialcli.providers.base import CallEvent, EventKind
from dialcli.engine.schedule import earliest
from dialcli.store import Store
from dialcli.store import audit


class Settling:
    """Mixed into ``Engine``; uses its store, campaign, queue, clock and counters."""

    # -- outcomes ----------------------------------------------------------------------
    def _complete(self, f: InFlight, ev: CallEvent, now: datetime) -> None:
        """Apply a finished call: call row, lead transition, side effects; one transaction."""
        self.in_flight.pop(f.call_id, None)
        c = self.campaign
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
        if ev.detail.get("dead_number"):
            disposition = Disposition.FAILED
        now_iso = to_iso(now)
        billed = ev.billed_minutes or 0
        price = ev.price if ev.price is not None else round(billed * self.rate, 5)
        price_final = 1 if ev.price is not None and getattr(self.provider, "prices_final", False) else 0
        is_callback = f.kind != "pass"
        placed = self._pending_sids.pop(f.call_id, None)    # not yet written: write it here
        with self._tx() as conn:
            done = conn.execute(
                "UPDATE calls SET status = ?, answered_by = ?, disposition = ?, turns = ?, "
                "summary = ?, callback_text = ?, transcript = ?, answered_at = ?, ended_at = ?, "
                "duration_s = ?, billed_minutes = ?, price = ?, price_unit = ?, price_final = ?, "
                "error_code = ?, error = ?, provider_sid = COALESCE(provider_sid, ?), "
                "placed_at = COALESCE(placed_at, ?) WHERE id = ? AND disposition IS NULL",
                (str(status), answered_by, str(disposition), turns,
                 label.summary if label else None, label.callback_text if label else None,
                 json.dumps(transcript) if transcript else None,
                 to_iso(f.answered_at) or ev.detail.get("answered_at"), to_iso(ev.at), ev.duration_s or 0, billed, price,
                 ev.price_unit or "USD", price_final, ev.error_code, ev.error, f.sid,
                 placed[1] if placed else None, f.call_id),
            ).rowcount
            if not done:
                return   # already applied (duplicate end)
            # The lead and its phones in one read (a lead has at least one phone).
            rows = conn.execute(
                "SELECT l.status, l.callback_attempts, p.slot, p.group_id, p.dead_reason "
                "FROM leads l JOIN lead_phones p ON p.lead_id = l.id WHERE l.id = ? "
                "ORDER BY p.slot", (f.lead_id,)).fetchall()
            live = tuple(p[2] for p in rows if p[4] is None)
            groups = {p[2]: p[3] for p in rows}
            view = outcomes.LeadView(LeadStatus(rows[0][0]), f.slot, f.pass_no,
                                     rows[0][1], live,
                                     int(f.kind.split(":")[1]) if is_callback else 0)
            if ev.detail.get("dead_number"):
                conn.execute("UPDATE lead_phones SET dead_reason = ? WHERE lead_id = ? AND slot = ?",
                             (f"invalid number ({ev.error_code})", f.lead_id, f.slot))
                tr = outcomes.skip_phone(view, f.slot, max_attempts=c.max_attempts,
                                         reason="invalid number")
                if tr.status is LeadStatus.PENDING:
                    tr = outcomes.Transition(LeadStatus.RETRY, tr.phone_slot, tr.pass_done,
                                             kill_slot=tr.kill_slot, skip_reason=tr.skip_reason)
                if tr.status is LeadStatus.SKIPPED:
                    tr = outcomes.Transition(LeadStatus.EXHAUSTED, None, 1, kill_slot=f.slot,
                                             skip_reason="no dialable phone left")
            else:
                tr = outcomes.next_state(view, f.slot, disposition, is_callback=is_callback,
                                         max_attempts=c.max_attempts)
            if tr.kill_slot is not None and disposition is Disposition.WRONG_NUMBER:
                conn.execute("UPDATE lead_phones SET dead_reason = 'wrong number' "
                             "WHERE lead_id = ? AND slot = ?", (f.lead_id, tr.kill_slot))
            if disposition is Disposition.OPT_OUT:
                _opt_out_lead(conn, f.lead_id, c.id, now_iso, self.provider.name)
            callback_at = None
            if tr.callback:
                callback_at = self._callback_due(f, label, now, retry=is_callback and
                                                 not disposition.reached)
                self._next_callback = earliest(self._next_callback, callback_at)
                conn.execute(
                    "INSERT INTO appointments (campaign_id, lead_id, call_id, slot, due_at, note, "
                    "status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
                    (c.id, f.lead_id, f.call_id, f.slot, to_iso(callback_at),
                     (label.callback_text if label else None) or "callback retry", now_iso))
            if is_callback:
                conn.execute("UPDATE appointments SET status = 'done' WHERE lead_id = ? "
                             "AND status = 'open' AND call_id != ?", (f.lead_id, f.call_id))
            group = groups.get(tr.phone_slot) if tr.phone_slot is not None else None
            conn.execute(
                "UPDATE leads SET status = ?, last_disposition = ?, phone_slot = ?, cur_group = ?, "
                "pass_done = ?, reached_slot = COALESCE(?, reached_slot), callback_at = ?, "
                "callback_slot = ?, callback_attempts = ?, skip_reason = ?, updated_at = ? "
                "WHERE id = ?",
                (str(tr.status), str(disposition), tr.phone_slot, group, tr.pass_done,
                 tr.reached_slot, to_iso(callback_at), f.slot if tr.callback else None,
                 tr.callback_attempts, tr.skip_reason, now_iso, f.lead_id))
            self._webhook(conn, now_iso, f.lead_id, "DIALING")
        if tr.status in (LeadStatus.PENDING, LeadStatus.RETRY) and not tr.pass_done:
            self.queue.queued(group, tr.phone_slot, f.lead_id, now)
        self._count(disposition, billed, price)
        self._lead_changed(f.lead_id, f.lead_name, str(tr.status), str(disposition),
                           tr.phone_slot, f.pass_no, now, f.e164, bool(tr.pass_done))
        self._event(f, f"ended: {disposition}", now)

    def _callback_due(self, f: InFlight, label: EndCall | None, now: datetime, *,
                      retry: bool) -> datetime:
        if retry:
            due = now + timedelta(minutes=self.campaign.retry_interval_minutes)
        elif label is not None and label.callback_at:
            due = from_iso(label.callback_at) if _looks_iso(label.callback_at) else None
            if due is None or due <= now:      # a model's time in the past: read the words
                due = self.callback_parser(label.callback_text or label.callback_at, now, f.tz)
        else:
            due = self.callback_parser(label.callback_text if label else None, now, f.tz)
        window = self._window_for_slot(f.lead_id, f.slot)
        if window is not None:
            span = window.next_open(max(due, now))
            if span is not None:
                due = span[0]
        return due

    def _count(self, disposition: Disposition, billed: int, price: float) -> None:
        self.stats["calls"] += 1
        self.stats["minutes"] += billed
        self.stats["cost_micro"] += int(round(price * 1_000_000))
        self.dispositions[str(disposition)] += 1

    def _lead_changed(self, lead_id: int, name: str, status: str, disposition: str | None,
                      slot: int | None, pass_no: int, now: datetime, e164: str | None = None,
                      pass_done: bool = False) -> None:
        item = {"at": now, "lead_id": lead_id, "name": name, "status": status,
                "disposition": disposition, "slot": slot, "pass": pass_no, "e164": e164,
                "pass_done": pass_done}
        self.recent_leads.appendleft(item)
        if disposition is not None:
            self._notify({"type": "lead", **item})

    def _webhook(self, conn, now_iso: str, lead_id: int, previous: str | None) -> None:
        if not self._has_hooks:
            return
        from dialcli.store import outbox

        outbox.enqueue_lead_update(conn, now_iso=now_iso, lead_id=lead_id,
                                     previous_status=previous)

    # -- retiring phones -------------------------------------------------------------
    def _retire_phone(self, lead_id: int, slot: int, reason: str, now: datetime, *,
                      decision: str, callback: bool = False) -> None:
        with self._tx() as conn:
            self._retire_in_tx(conn, lead_id, slot, reason, now, decision=decision,
                               callback=callback)

    def _retire_in_tx(self, conn, lead_id: int, slot: int, reason: str, now: datetime, *,
                      decision: str, callback: bool = False, already_dead: bool = False,
                      detail: dict[str, Any] | None = None) -> None:
        """A phone is undialable (opt-out list, unknown zone): retire it, move the lead on."""
        c = self.campaign
        now_iso = to_iso(now)
        lead = conn.execute(
            "SELECT status, pass_no, callback_attempts, name FROM leads WHERE id = ?",
            (lead_id,)).fetchone()
        if lead is None:
            return
        if not already_dead:
            conn.execute("UPDATE lead_phones SET dead_reason = ? WHERE lead_id = ? AND slot = ? "
                         "AND dead_reason IS NULL", (reason, lead_id, slot))
        e164 = conn.execute("SELECT e164 FROM lead_phones WHERE lead_id = ? AND slot = ?",
                            (lead_id, slot)).fetchone()
        audit.record_decision(conn, ts=now_iso, campaign_id=c.id, lead_id=lead_id,
                                   call_id=None, e164=e164[0] if e164 else None,
                                   decision=decision, reason=reason, detail=detail)
        live = tuple(r[0] for r in conn.execute(
            "SELECT slot FROM lead_phones WHERE lead_id = ? AND dead_reason IS NULL ORDER BY slot",
            (lead_id,)))
        prev = LeadStatus(lead["status"])
        if callback:
            status = LeadStatus.EXHAUSTED if prev is not LeadStatus.OPTED_OUT else prev
            if reason == "on the opt-out list":
                status = LeadStatus.OPTED_OUT
            conn.execute("UPDATE leads SET status = ?, skip_reason = ?, callback_at = NULL, "
                         "updated_at = ? WHERE id = ?", (str(status), reason, now_iso, lead_id))
            conn.execute("UPDATE appointments SET status = 'canceled' WHERE lead_id = ? "
                         "AND status = 'open'", (lead_id,))
            self._webhook(conn, now_iso, lead_id, str(prev))
            return
        view = outcomes.LeadView(prev, slot, lead["pass_no"], lead["callback_attempts"], live + (slot,)
                                 if slot not in live else live)
        tr = outcomes.skip_phone(view, slot, max_attempts=c.max_attempts, reason=reason)
        group = None
        if tr.phone_slot is not None:
            row = conn.execute("SELECT group_id FROM lead_phones WHERE lead_id = ? AND slot = ?",
                               (lead_id, tr.phone_slot)).fetchone()
            group = row[0] if row else None
        conn.execute(
            "UPDATE leads SET status = ?, phone_slot = ?, cur_group = ?, pass_done = ?, "
            "skip_reason = COALESCE(?, skip_reason), updated_at = ? WHERE id = ?",
            (str(tr.status), tr.phone_slot, group, tr.pass_done, tr.skip_reason, now_iso, lead_id))
        if tr.status is not prev:
            self._webhook(conn, now_iso, lead_id, str(prev))
            self._lead_changed(lead_id, lead["name"] or "", str(tr.status), None,
                               tr.phone_slot, lead["pass_no"], now)
        if tr.status in (LeadStatus.PENDING, LeadStatus.RETRY) and not tr.pass_done:
            self.queue.queued(group, tr.phone_slot, lead_id, now)

    # -- passes and completion ---------------------------------------------------------
    def _finished(self, now: datetime) -> bool:
        """Open the next pass when this one is over; True when the campaign is done."""
        c = self.campaign
        if any(h is not None for h in self.queue.heads.values()) and self.queue._fresh:
            return False        # someone is queued in this pass (maybe waiting for a window)
        if not self._pass_over(c):
            # Leads still in the pass but none queued: dialing, deferred -- or strays
            # with no phone to queue on, which would otherwise hold the pass open forever.
            self._repair_strays(now)
            return False
        retry = self.store.scalar(
            "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status = 'RETRY' AND pass_done = 1",
            (c.id,))
        if retry and c.pass_no < c.max_attempts:
            nxt = now + timedelta(minutes=c.retry_interval_minutes)
            with self.store.tx():
                self.store.execute(
                    "UPDATE campaigns SET pass_no = pass_no + 1, next_pass_at = ?, "
                    "pass_started_at = ?, updated_at = ? WHERE id = ?",
                    (to_iso(nxt), to_iso(nxt), to_iso(now), c.id))
                self.store.execute(
                    "UPDATE leads SET pass_done = 0, pass_no = ? WHERE campaign_id = ? "
                    "AND status = 'RETRY' AND pass_done = 1", (c.pass_no + 1, c.id))
            self.campaign = self._load_campaign()
            self.queue.invalidate()
            self._waiting_until, self._waiting_for = nxt, f"pass {c.pass_no + 1} opens"
            self._notify({"type": "pass", "at": now, "pass": c.pass_no + 1, "opens_at": nxt})
            return False
        if retry:
            # Last pass over: whoever is still waiting for a pass is exhausted.
            with self.store.tx() as conn:
                ids = [r[0] for r in conn.execute(
                    "SELECT id FROM leads WHERE campaign_id = ? AND status = 'RETRY' "
                    "AND pass_done = 1", (c.id,))]
                conn.execute(
                    "UPDATE leads SET status = 'EXHAUSTED', skip_reason = ?, updated_at = ? "
                    "WHERE campaign_id = ? AND status = 'RETRY' AND pass_done = 1",
                    (f"not reached in {c.max_attempts} pass(es)", to_iso(now), c.id))
                for lead_id in ids:
                    self._webhook(conn, to_iso(now), lead_id, "RETRY")
        waiting = self.store.scalar(
            "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status IN "
            "('PENDING', 'RETRY', 'DIALING', 'CALLBACK')", (c.id,))
        return waiting == 0

    def _repair_strays(self, now: datetime) -> None:
        """Leads in the pass with no queue group (no live phone slot): give them their
        next usable phone, or end them with the reason."""
        rows = self.store.all(
            "SELECT id, status FROM leads INDEXED BY leads_ready WHERE campaign_id = ? "
            "AND cur_group IS NULL AND status IN ('PENDING', 'RETRY') AND pass_done = 0 "
            "LIMIT 500", (self.campaign_id,))
        if not rows:
            return
        now_iso = to_iso(now)
        with self._tx() as conn:
            for lead_id, status in rows:
                usable = conn.execute(
                    "SELECT slot, group_id FROM lead_phones WHERE lead_id = ? AND "
                    "dead_reason IS NULL AND group_id IS NOT NULL ORDER BY slot LIMIT 1",
                    (lead_id,)).fetchone()
                if usable is not None:
                    conn.execute("UPDATE leads SET phone_slot = ?, cur_group = ?, updated_at = ? "
                                 "WHERE id = ?", (usable[0], usable[1], now_iso, lead_id))
                    self.queue.queued(usable[1], usable[0], lead_id, now)
                    continue
                final = "SKIPPED" if status == "PENDING" else "EXHAUSTED"
                conn.execute("UPDATE leads SET status = ?, phone_slot = NULL, pass_done = 1, "
                             "skip_reason = 'no dialable phone', updated_at = ? WHERE id = ?",
                             (final, now_iso, lead_id))
                self._webhook(conn, now_iso, lead_id, status)

    def _pass_over(self, c: Campaign) -> bool:
        return not self.store.scalar(
            "SELECT 1 FROM leads WHERE campaign_id = ? AND ((status IN ('PENDING', 'RETRY') "
            "AND pass_done = 0) OR status = 'DIALING') LIMIT 1", (c.id,))

    # -- crash recovery ----------------------------------------------------------------
    def reconcile(self) -> int:
        """Settle calls a dead runner left open, before anything new is dialed."""
        c = self.campaign
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
                _revert_claim(self.store, f.call_id, to_iso(now),
                              "never placed: the runner stopped first")
                continue
            if state.status.final:
                ev = CallEvent(f.call_id, EventKind.ENDED, state.end_time or now,
                               sid=state.sid, status=state.status, answered_by=state.answered_by,
                               duration_s=state.duration_s, billed_minutes=state.billed_minutes,
                               price=state.price, price_unit=state.price_unit)
                f.answered_by = state.answered_by
                f.answered_at = state.start_time
                self._complete(f, ev, now)
            else:
                self.in_flight[f.call_id] = f     # still live: callbacks or polling finish it
        # Leads marked DIALING without an open call (should not happen): put them back.
        stray = "campaign_id = ? AND status = 'DIALING' AND NOT EXISTS (SELECT 1 FROM calls " \
                "WHERE calls.lead_id = leads.id AND calls.disposition IS NULL)"
        with self.store.tx() as conn:
            ids = [r[0] for r in conn.execute(f"SELECT id FROM leads WHERE {stray}", (c.id,))]
            conn.execute("UPDATE leads SET status = CASE WHEN attempts > 1 THEN 'RETRY' "
                         f"ELSE 'PENDING' END WHERE {stray}", (c.id,))
            for lead_id in ids:      # a status change like any other: subscribers hear it
                self._webhook(conn, to_iso(now), lead_id, "DIALING")
        self.queue.invalidate()
        return settled


def _opt_out_lead(conn, lead_id: int, campaign_id: int, now_iso: str, provider: str) -> None:
    """OPT_OUT: every number of the lead goes on the workspace list, now (in the
    outcome's transaction), and is retired in every campaign. A simulated callee's
    opt-out binds simulated runs only."""
    numbers = [r[0] for r in conn.execute("SELECT e164 FROM lead_phones WHERE lead_id = ?",
                                          (lead_id,))]
    dnc.add(conn, numbers, source=dnc.SIMULATOR_SOURCE if provider == "simulator" else "call",
            reason="asked to be removed on a call", now_iso=now_iso,
            campaign_id=campaign_id, lead_id=lead_id)


def _revert_claim(store: Store, call_id: int, now_iso: str, reason: str) -> None:
    """Delete a claim that was never placed and give the lead back its turn."""
    with store.tx() as conn:
        row = conn.execute("SELECT lead_id, kind, campaign_id, e164 FROM calls WHERE id = ? "
                           "AND disposition IS NULL", (call_id,)).fetchone()
        if row is None:
            return
        lead_id, kind, campaign_id, e164 = row
        conn.execute("DELETE FROM calls WHERE id = ?", (call_id,))
        back = "CALLBACK" if kind != "pass" else None
        moved = conn.execute(
            "UPDATE leads SET status = COALESCE(?, CASE WHEN attempts > 1 THEN 'RETRY' "
            "ELSE 'PENDING' END), attempts = MAX(attempts - 1, 0), updated_at = ? "
            "WHERE id = ? AND status = 'DIALING'", (back, now_iso, lead_id)).rowcount
        if moved:
            # Subscribers were told DIALING when it was claimed; tell them it is undone,
            # or their view of the lead stays DIALING until its next dial.
            from dialcli.store import outbox

            outbox.enqueue_lead_update(conn, now_iso=now_iso, lead_id=lead_id,
                                         previous_status="DIALING")
        audit.record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id,
                                   call_id=None, e164=e164, decision="unclaim", reason=reason)


def _looks_iso(text: str) -> bool:
    return len(text) >= 16 and text[4] == "-" and text[7] == "-" and "T" in text[8:11]


def _default_classifier(transcript: list[dict[str, Any]], lead_name: str = "") -> EndCall | None:
    """Label a call the brain did not label, from its transcript.

    Rules only: this runs inside the engine's transaction, where a blocking LLM
    request (up to seconds) would hold the workspace's write lock.
    """
    from dialcli.conversation.classify import classify_transcript

    return classify_transcript(transcript, lead_name=lead_name)


def _default_callback_parser(text: str | None, now: datetime, tz: str | None) -> datetime:
    try:
        from dialcli.conversation.callback_time import parse_callback_time
    except ImportError:  # pragma: no cover
        return now + timedelta(days=1)
    got = parse_callback_time(text or "", now, tz)
    return getattr(got, "due_utc", got)
