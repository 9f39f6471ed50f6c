"""Dialing: claim a dial, then place it.

``Dialing`` is the half of the engine that starts calls. ``_claim`` records a dial in
one transaction -- the call row (UNIQUE per campaign, run, lead, phone, pass and
kind), the lead set to DIALING, the audit row with the evidence (zones, local time,
rules, opt-out check, frequency cap) -- after re-checking, under the write lock, that
the lead is still due, the phone still live, the window open in every zone, the
number not on the opt-out list and under its cap. Only then is the call placed:
synchronously on the virtual clock, from a small thread pool in real time. Provider
refusals become the right action (retry, retire the number, slow down, pause).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dialcli.compliance import policy as compliance

from dialcli.compliance import dnc
from dialcli.clock import to_iso
from dialcli.conversation.base import CallContext
from dialcli.engine.types import RETRY_BACKOFF, InFlight
from dialcli.errors import InputError, ProviderError
from dialcli.models import CallStatus, VoicemailAction
from dialcli.providers.base import CallEvent, DialError, DialRequest, EventKind, ProviderAction
from dialcli.engine.settle import _revert_claim
from dialcli.store import audit
from dialcli.templates import lead_context, render


class Dialing:
    """Mixed into ``Engine``; uses its store, campaign, queue, provider and counters."""

    # -- claim and place -------------------------------------------------------------
    def _claim(self, lead_id: int, slot: int, kind: str, now: datetime) -> InFlight | None:
        """Record the dial (call row + lead DIALING) in one transaction, or decline."""
        c = self.campaign
        now_iso = to_iso(now)
        is_callback = kind != "pass"
        with self._tx() as conn:
            lead = conn.execute(
                "SELECT l.status, l.phone_slot, l.pass_done, l.pass_no, l.name, l.email, l.vars, "
                "l.timezone, l.callback_slot, p.e164, p.group_id, p.dead_reason "
                "FROM leads l LEFT JOIN lead_phones p ON p.lead_id = l.id AND p.slot = ? "
                "WHERE l.id = ?", (slot, lead_id)).fetchone()
            if lead is None:
                return None
            if is_callback:
                if lead["status"] != "CALLBACK" or lead["callback_slot"] != slot:
                    return None
            elif lead["status"] not in ("PENDING", "RETRY") or lead["pass_done"] \
                    or lead["phone_slot"] != slot:
                return None
            if lead["e164"] is None or lead["dead_reason"]:
                reason = lead["dead_reason"] or "phone missing"
                self._retire_in_tx(conn, lead_id, slot, reason, now, decision="skip",
                                   callback=is_callback, already_dead=lead["e164"] is not None)
                return None
            e164 = lead["e164"]
            window = self.queue.window(lead["group_id"])
            if not window.is_open(now):
                return None   # closed since the head was chosen (clock moved): try later
            simulated = self.provider.name == "simulator"
            opted_out = dnc.is_opted_out(conn, e164, simulated=simulated)
            limit = self._cap_for(conn, e164)
            cap_count, not_before = (None, None) if opted_out else compliance.check_cap(
                conn, e164, now, limit=limit, simulated=simulated)
            detail = compliance.decision_detail(
                window, e164, now, cap_count, opted_out, cap_limit=limit,
                zone_source="lead timezone column" if lead["timezone"] else "phone number")
            if opted_out:
                self._retire_in_tx(conn, lead_id, slot, "on the opt-out list", now,
                                   decision="skip", callback=is_callback, detail=detail)
                return None
            if not_before is not None:
                field_ = "callback_at" if is_callback else "next_try_at"
                conn.execute(f"UPDATE leads SET {field_} = ?, updated_at = ? WHERE id = ?",
                             (to_iso(not_before), now_iso, lead_id))
                audit.record_decision(
                    conn, ts=now_iso, campaign_id=c.id, lead_id=lead_id, call_id=None,
                    e164=e164, decision="defer", reason="frequency cap", detail=detail)
                self.queue.deferred(not_before)
                return None
            variables = json.loads(lead["vars"] or "{}")
            try:
                texts = self._texts(lead["name"], lead["email"], variables)
            except InputError as exc:
                # Rendered before the call row exists: a lead whose values the agent's
                # templates cannot take is skipped with the reason, not dialed -- and
                # the run goes on instead of stopping on it at every start.
                self._skip_unrenderable(conn, lead, lead_id, exc, now, detail)
                return None
            local = window.local_label(now)
            call_id = conn.execute(
                "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
                "kind, provider, status, claimed_at, zone, local_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'claimed', ?, ?, ?)",
                (c.id, c.run, lead_id, slot, e164, c.from_number, lead["pass_no"], kind,
                 self.provider.name, now_iso, ",".join(window.zones), local),
            ).lastrowid
            prev = lead["status"]
            conn.execute(
                "UPDATE leads SET status = 'DIALING', attempts = attempts + 1, last_call_at = ?, "
                "next_try_at = NULL, updated_at = ? WHERE id = ?", (now_iso, now_iso, lead_id))
            self._webhook(conn, now_iso, lead_id, prev)
            audit.record_decision(
                conn, ts=now_iso, campaign_id=c.id, lead_id=lead_id, call_id=call_id,
                e164=e164, decision="dial", reason=kind, detail=detail)
        assert call_id is not None
        tz = lead["timezone"] or (window.zones[0] if window.zones else None)
        ctx = self._context(call_id, e164, lead["name"], variables, tz, texts)
        attempt_key = f"{c.id}:{c.run}:{lead_id}:{slot}:{lead['pass_no']}:{kind}"
        f = InFlight(call_id, lead_id, lead["name"] or "", slot, kind, lead["pass_no"], e164, tz)
        f.request = DialRequest(call_id, e164, c.from_number, ctx, attempt_key)
        self._lead_changed(lead_id, f.lead_name, "DIALING", None, slot, lead["pass_no"], now)
        return f

    def _cap_for(self, conn, e164: str) -> int:
        """The number's frequency cap (settings + state law). When no state's cap is
        stricter than the workspace's, that is every number's cap; otherwise one
        indexed lookup of the number's regions, with the cap per region set cached.
        Both are forgotten when another process commits (the settings may change)."""
        if self._cap_settings is None:
            self._cap_settings = compliance.settings_snapshot(conn)
            self._uniform_cap = compliance.uniform_cap(self._cap_settings)
        if self._uniform_cap is not None:
            return self._uniform_cap
        regions = frozenset(compliance.number_regions(conn, e164))
        cap = self._caps.get(regions)
        if cap is None:
            cap = self._caps[regions] = compliance.cap_for_regions(self._cap_settings, regions)
        return cap

    def _texts(self, name: str | None, email: str | None,
               variables: dict[str, Any]) -> tuple[str, str, str]:
        """The greeting, system prompt and voicemail message for one lead (InputError
        when the lead's values break a template)."""
        a, c = self._agent, self.campaign
        tokens = lead_context(name, email, variables)
        vm_source = c.voicemail_message or a.get("voicemail_message") or ""
        return (render(a["greeting"], tokens), render(a["system_prompt"], tokens),
                render(vm_source, tokens) if vm_source else "")

    def _skip_unrenderable(self, conn, lead, lead_id: int, exc: InputError, now: datetime,
                           detail: dict[str, Any]) -> None:
        now_iso = to_iso(now)
        prev = lead["status"]
        final = "SKIPPED" if prev == "PENDING" else "EXHAUSTED"
        reason = f"the agent's texts cannot be rendered for this lead: {exc.message}"[:500]
        conn.execute("UPDATE leads SET status = ?, phone_slot = NULL, pass_done = 1, "
                     "callback_at = NULL, skip_reason = ?, updated_at = ? WHERE id = ?",
                     (final, reason, now_iso, lead_id))
        conn.execute("UPDATE appointments SET status = 'canceled' WHERE lead_id = ? "
                     "AND status = 'open'", (lead_id,))
        audit.record_decision(conn, ts=now_iso, campaign_id=self.campaign.id,
                                   lead_id=lead_id, call_id=None, e164=lead["e164"],
                                   decision="skip", reason=reason, detail=detail)
        self._webhook(conn, now_iso, lead_id, prev)
        self._lead_changed(lead_id, lead["name"] or "", final, None, None, lead["pass_no"], now)

    def _context(self, call_id: int, e164: str, name: str | None, variables: dict[str, Any],
                 tz: str | None, texts: tuple[str, str, str]) -> CallContext:
        a, c = self._agent, self.campaign
        greeting, prompt, voicemail = texts
        return CallContext(
            call_id=call_id, campaign=c.name, agent=a["name"], to=e164, from_=c.from_number,
            greeting=greeting, system_prompt=prompt, voicemail_message=voicemail,
            voicemail_action=VoicemailAction(c.voicemail_action),
            language=a.get("language") or "en-US", voice=a.get("voice"),
            lead_name=name or "", lead_vars=variables, recipient_tz=tz,
            llm_model=a.get("llm_model"),
        )

    def _claimed(self, f: InFlight, now: datetime) -> None:
        """A claim inside the open transaction: counts as in flight; placed after commit."""
        self.in_flight[f.call_id] = f
        self.pacer.took(now)
        self._to_place.append(f)

    def _place_claimed(self, now: datetime) -> None:
        while self._to_place:
            self._place(self._to_place.pop(0), now)

    def _place(self, f: InFlight, now: datetime) -> None:
        """Ask the provider to place a claimed call.

        On the virtual clock this is synchronous. In real time a provider's create
        request takes a network round trip (100-300 ms to Twilio), which would cap the
        campaign at a few calls per second, so placements run on a small thread pool
        and their results come back through the inbox as PLACED events.
        """
        assert f.request is not None
        self.in_flight[f.call_id] = f
        if self._placer is not None:
            future = self._placer.submit(self.provider.place, f.request)
            future.add_done_callback(lambda done, cid=f.call_id: self.sink.emit(
                CallEvent(cid, EventKind.PLACED, self.clock.now(), detail={"placed": done})))
            return
        try:
            sid = self.provider.place(f.request)
        except ProviderError as exc:
            self._place_failed(f, exc, now)
            return
        self._placed(f, sid, now)

    def _placed(self, f: InFlight, sid: str, now: datetime) -> None:
        f.sid = f.sid or sid
        self._pending_sids[f.call_id] = (sid, to_iso(now), f.call_id)
        self.stats["placed"] += 1

    def _place_failed(self, f: InFlight, exc: ProviderError, now: datetime) -> None:
        if not isinstance(exc, DialError):
            exc = DialError(str(exc), action=ProviderAction.RETRY if exc.retryable
                            else ProviderAction.FAIL_CALL, code=exc.code)
        self._dial_error(f, exc, now)

    def _dial_error(self, f: InFlight, exc: DialError, now: datetime) -> None:
        action = exc.action
        if action in (ProviderAction.RETRY, ProviderAction.SLOW_DOWN) and f.retries < 5:
            # Never processed by the provider: place the same claimed call again later.
            f.retries += 1
            if action is ProviderAction.SLOW_DOWN:
                self.max_concurrent = max(1, min(self.max_concurrent, len(self.in_flight)) - 1)
                self.pacer.slow_down()
            delay = RETRY_BACKOFF * (2 ** (f.retries - 1))
            self._slow_until = now + delay
            self._note = f"provider asked us to slow down ({exc.code or 'busy'}); retrying"
            self.sink.schedule(now + delay, CallEvent(f.call_id, EventKind.PLACED, now + delay,
                                                      detail={"retry_place": True}))
            return
        if action is ProviderAction.PAUSE:
            self._note = str(exc) + (f"\n{exc.hint}" if exc.hint else "")
            self.provider_pause = self._note
            self._unclaim(f, now, reason=f"not placed: {exc}")
            self.stop_requested.set()
            with self.store.tx():
                self.store.execute("UPDATE campaigns SET status = 'PAUSED' WHERE id = ?",
                                   (self.campaign_id,))
            return
        status = CallStatus.FAILED
        ended = CallEvent(f.call_id, EventKind.ENDED, now, status=status,
                          error_code=exc.code, error=str(exc))
        if action is ProviderAction.DEAD_NUMBER:
            ended.detail["dead_number"] = True
        self._complete(f, ended, now)

    def _unclaim(self, f: InFlight, now: datetime, reason: str) -> None:
        """Undo a claim the provider never placed (it did not happen)."""
        self.in_flight.pop(f.call_id, None)
        _revert_claim(self.store, f.call_id, to_iso(now), reason)
        self.queue.invalidate()
