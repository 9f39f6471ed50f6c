"""Starting calls: claim a dial through every gate, then place it.

``Claimer.claim`` records a dial in one transaction -- the call row (UNIQUE per
campaign, run, lead, phone, pass and kind), the lead set to DIALING, the audit row with
the evidence (zones, local time, rules, opt-out check, frequency cap) -- after
re-checking, under the write lock, that the lead is still due, the phone still live,
the window open in every zone, the number not on the opt-out list, its consent on
record as the campaign's purpose requires (``compliance.consent``), and under its cap.

``Placer`` places claimed calls only after that transaction commits: synchronously on
a virtual clock, from a small thread pool in real time (a create request is a network
round trip). Provider refusals become the right action: place again later, slow
down, fail the call, retire the number, or pause the campaign.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from dialcli.clock import Clock, to_iso
from dialcli.compliance import consent, dnc
from dialcli.compliance import policy as compliance
from dialcli.compliance.recording import decision as recording_decision
from dialcli.conversation.base import CallContext
from dialcli.workspace.voices import say_voice_for
from dialcli.engine.batch import Transactions
from dialcli.engine.progress import Progress
from dialcli.engine.queue import DialQueue
from dialcli.engine.schedule import Pacer, SendGate
from dialcli.engine.settle import Settler
from dialcli.engine.types import InFlight, RunState, Sink, Timing
from dialcli.errors import InputError, ProviderError
from dialcli.models import CallStatus, VoicemailAction
from dialcli.providers.base import (
    CallEvent, DialError, DialRequest, EventKind, Provider, ProviderAction,
)
from dialcli.store import Store, transitions
from dialcli.templates import lead_context, render

#: Placements of one claim retried after a retryable refusal (5xx, 429, no network),
#: 2 s apart and doubling (about a minute in all); then the campaign pauses.
PLACE_RETRIES = 5

def _lead_sql(simulated: bool) -> str:
    """The claim's one read of the lead, the phone it dials, that number's opt-out entry
    and its dials inside the frequency-cap window (parameters: ``cap_bounds``, slot,
    lead id)."""
    return (
        "SELECT l.status, l.phone_slot, l.pass_done, l.pass_no, l.name, l.email, l.vars, "
        "l.timezone, l.callback_slot, p.e164, p.group_id, p.dead_reason, "
        f"{dnc.SOURCE_OF.format('p.e164')} AS dnc_source, "
        f"{compliance.cap_count_sql('p.e164', simulated)} AS cap_count "
        "FROM leads l LEFT JOIN lead_phones p ON p.lead_id = l.id AND p.slot = ? "
        "WHERE l.id = ?")


class Claimer:
    def __init__(self, tx: Transactions, state: RunState, provider: Provider, queue: DialQueue,
                 settler: Settler, progress: Progress):
        self.tx = tx
        self.state = state
        self.provider = provider
        self.queue = queue
        self.settler = settler
        self.progress = progress
        self._caps: dict[frozenset[str], int] = {}
        self._cap_settings: dict[str, str] | None = None
        self._uniform_cap: int | None = None    # valid while _cap_settings is set
        self._lead_sql = _lead_sql(provider.simulated)

    def forget(self) -> None:
        """Another process committed: the cap settings may have changed."""
        self._caps.clear()
        self._cap_settings = None
        self.state.consent_memo.clear()

    def claim(self, lead_id: int, slot: int, kind: str, now: datetime) -> InFlight | None:
        """Record the dial (call row + lead DIALING) in one transaction, or decline."""
        c = self.state.campaign
        now_iso = to_iso(now)
        is_callback = kind != "pass"
        with self.tx.tx() as conn:
            lead = conn.execute(self._lead_sql,
                                (*compliance.cap_bounds(now), slot, lead_id)).fetchone()
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
                self.settler.retire_in_tx(conn, lead_id, slot, reason, now, decision="skip",
                                          callback=is_callback,
                                          already_dead=lead["e164"] is not None)
                return None
            e164 = lead["e164"]
            window = self.queue.window(lead["group_id"])
            if not window.is_open(now):
                return None   # closed since the head was chosen (clock moved): try later
            simulated = self.provider.simulated
            opted_out = dnc.listed(lead["dnc_source"], simulated=simulated)
            limit = self._cap_for(conn, e164)
            cap_count, not_before = (None, None) if opted_out else compliance.check_cap(
                conn, e164, now, limit=limit, simulated=simulated, count=lead["cap_count"])
            consumer = None
            if not opted_out and not_before is None and \
                    compliance.CONSUMER_CAP_STATES.intersection(window.states):
                # The state counts calls to the person, whatever number is dialed.
                cap_count, not_before, consumer = compliance.check_consumer_cap(
                    conn, lead_id, now, limit=limit, simulated=simulated)
            detail = compliance.decision_detail(
                window, e164, now, cap_count, opted_out, cap_limit=limit,
                zone_source="phone number + lead timezone column" if lead["timezone"]
                else "phone number")
            if consumer is not None:
                detail["cap_scope"] = "consumer"
                detail["cap_numbers"] = consumer
            if opted_out:
                self.settler.retire_in_tx(conn, lead_id, slot, "on the opt-out list", now,
                                          decision="skip", callback=is_callback, detail=detail)
                return None
            gate = consent.check(conn, e164, purpose=c.purpose, gate_on=c.consent_gate == "on",
                                 at_iso=now_iso, memo=self.state.consent_memo)
            detail["consent"] = gate.evidence()
            if not gate.ok:
                # A gate that will not open by waiting: the phone is skipped with the
                # reason and the lead moves on (``consent import`` revives it).
                self.settler.retire_in_tx(conn, lead_id, slot, gate.reason or "no consent",
                                          now, decision="skip", callback=is_callback,
                                          detail=detail)
                return None
            if not_before is not None:
                transitions.defer(conn, campaign_id=c.id, lead_id=lead_id, e164=e164,
                                  callback=is_callback, until_iso=to_iso(not_before),
                                  now_iso=now_iso, detail=detail,
                                  reason="frequency cap" if consumer is None
                                  else "frequency cap (per consumer: every number counts)")
                if not is_callback:    # a callback's new due time is read from the lead
                    self.queue.deferred(not_before)
                return None
            variables = json.loads(lead["vars"] or "{}")
            try:
                texts = self._texts(lead["name"], lead["email"], variables)
            except InputError as exc:
                # Rendered before the call row exists: a lead whose values the agent's
                # templates cannot take is skipped with the reason, not dialed -- and
                # the run goes on instead of stopping on it at every start.
                reason = f"the agent's texts cannot be rendered for this lead: {exc.message}"
                final = transitions.end(conn, campaign_id=c.id, lead_id=lead_id, e164=e164,
                                        previous=lead["status"], reason=reason[:500],
                                        now_iso=now_iso, detail=detail, hooks=self.state.hooks)
                self.progress.lead_changed(lead_id, lead["name"] or "", final, None, None,
                                           lead["pass_no"], now)
                return None
            record = bool(c.record)
            if record:
                record, detail["recording"] = recording_decision(window.region, texts[0])
            call_id = transitions.claim(
                conn, campaign_id=c.id, run=c.run, lead_id=lead_id, slot=slot, e164=e164,
                from_number=c.from_number, pass_no=lead["pass_no"], kind=kind,
                provider=self.provider.name, now_iso=now_iso, zones=",".join(window.zones),
                local_time=window.local_label(now), previous=lead["status"], detail=detail,
                hooks=self.state.hooks)
        tz = lead["timezone"] or (window.zones[0] if window.zones else None)
        ctx = self._context(call_id, e164, lead["name"], variables, tz, texts, now)
        attempt_key = f"{c.id}:{c.run}:{lead_id}:{slot}:{lead['pass_no']}:{kind}"
        f = InFlight(call_id, lead_id, lead["name"] or "", slot, kind, lead["pass_no"], e164, tz)
        f.request = DialRequest(call_id, e164, c.from_number, ctx, attempt_key,
                                record=record)
        self.progress.lead_changed(lead_id, f.lead_name, "DIALING", None, slot, lead["pass_no"],
                                   now)
        return f

    def _cap_for(self, conn, e164: str) -> int:
        """The number's frequency cap (settings + state law). When no state's cap is
        stricter than the workspace's, that is every number's cap; otherwise one
        indexed lookup of the number's regions, with the cap per region set cached."""
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
        a, c = self.state.agent, self.state.campaign
        tokens = lead_context(name, email, variables)
        vm_source = c.voicemail_message or a.get("voicemail_message") or ""
        return (render(a["greeting"], tokens), render(a["system_prompt"], tokens),
                render(vm_source, tokens) if vm_source else "")

    def _context(self, call_id: int, e164: str, name: str | None, variables: dict[str, Any],
                 tz: str | None, texts: tuple[str, str, str], now: datetime) -> CallContext:
        a, c = self.state.agent, self.state.campaign
        greeting, prompt, voicemail = texts
        return CallContext(
            call_id=call_id, campaign=c.name, agent=a["name"], to=e164, from_=c.from_number,
            greeting=greeting, system_prompt=prompt, voicemail_message=voicemail,
            voicemail_action=VoicemailAction(c.voicemail_action),
            language=a.get("language") or "en-US", voice=a.get("voice"),
            lead_name=name or "", lead_vars=variables, recipient_tz=tz,
            llm_model=a.get("llm_model"), fields=self.state.fields,
            tts_provider=a.get("tts_provider"), voicemail_voice=say_voice_for(a),
            placed_at=now,
        )


class Placer:
    """Places claimed calls after their claims commit, and handles the provider's no."""

    def __init__(self, store: Store, tx: Transactions, state: RunState, provider: Provider,
                 clock: Clock, sink: Sink, pacer: Pacer, settler: Settler, queue: DialQueue,
                 timing: Timing):
        self.store = store
        self.tx = tx
        self.state = state
        self.provider = provider
        self.clock = clock
        self.sink = sink
        self.pacer = pacer
        self.settler = settler
        self.queue = queue
        self.timing = timing
        self._to_place: list[InFlight] = []
        self._pool: ThreadPoolExecutor | None = None
        self._gate: SendGate | None = None

    def start(self) -> None:
        """In real time, placements run on a small thread pool, each request passing
        the send gate (the campaign's rate, measured when it leaves) first."""
        if not self.clock.virtual:
            self._gate = SendGate(self.state.campaign.cps, self.clock.monotonic,
                                  self.clock.sleep)
            self._pool = ThreadPoolExecutor(max_workers=self.timing.place_threads,
                                            thread_name_prefix="dialcli-place")

    def shutdown(self) -> None:
        """Placements not started yet are cancelled: their claims are settled (never
        placed) by the next start's reconcile."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def claimed(self, f: InFlight, now: datetime) -> None:
        """A claim inside the open transaction: counts as in flight; placed after commit."""
        self.state.in_flight[f.call_id] = f
        self.pacer.took(now)
        self._to_place.append(f)

    def place_claimed(self, now: datetime) -> None:
        while self._to_place:
            self.place(self._to_place.pop(0), now)

    def place(self, f: InFlight, now: datetime) -> None:
        """Ask the provider to place a claimed call (synchronously on a virtual clock;
        from the pool in real time, the result coming back through the sink)."""
        assert f.request is not None
        self.state.in_flight[f.call_id] = f
        if self._pool is not None:
            future = self._pool.submit(self._send, f.request)
            future.add_done_callback(lambda done, cid=f.call_id: self.sink.emit(
                CallEvent(cid, EventKind.PLACED, self.clock.now(), detail={"placed": done})))
            return
        try:
            sid = self.provider.place(f.request)
        except ProviderError as exc:
            self._failed(f, exc, now)
            return
        self._placed(f, sid, now)

    def _send(self, request: DialRequest) -> str:
        """On a pool thread: wait for the send gate, then ask the provider."""
        assert self._gate is not None
        token = self._gate.wait()
        try:
            return self.provider.place(request)
        finally:
            self._gate.sent(token)

    def finished(self, f: InFlight, done: Future, now: datetime) -> None:
        """A placement from the pool finished."""
        try:
            sid = done.result()
        except ProviderError as exc:
            self._failed(f, exc, now)
        except Exception as exc:  # noqa: BLE001 - a provider bug must not kill the run
            self._failed(f, DialError(f"placing the call failed: {exc}",
                                      action=ProviderAction.FAIL_CALL), now)
        else:
            self._placed(f, sid, now)

    def _placed(self, f: InFlight, sid: str, now: datetime) -> None:
        f.sid = f.sid or sid
        self.tx.pending_sids[f.call_id] = (sid, to_iso(now), f.call_id)

    def _failed(self, f: InFlight, exc: ProviderError, now: datetime) -> None:
        if not isinstance(exc, DialError):
            exc = DialError(str(exc), action=ProviderAction.RETRY if exc.retryable
                            else ProviderAction.FAIL_CALL, code=exc.code)
        state = self.state
        action = exc.action
        retrying = action in (ProviderAction.RETRY, ProviderAction.SLOW_DOWN)
        if retrying and f.retries < PLACE_RETRIES and state.stop_requested.is_set():
            # Pausing: not placed now (or, if uncertain, held for the next reconcile).
            self._hold_or_unclaim(f, exc, now)
            return
        if retrying and f.retries < PLACE_RETRIES:
            # Never processed by the provider: place the same claimed call again later.
            f.retries += 1
            if action is ProviderAction.SLOW_DOWN:
                state.max_concurrent = max(1, min(state.max_concurrent,
                                                  len(state.in_flight)) - 1)
                self.pacer.slow_down()
                if self._gate is not None:
                    self._gate.slow_down()
            delay = self.timing.retry_backoff * (2 ** (f.retries - 1))
            state.slow_until = now + delay
            state.note = f"provider asked us to slow down ({exc.code or 'busy'}); retrying"
            self.sink.schedule(now + delay, CallEvent(f.call_id, EventKind.PLACED, now + delay,
                                                      detail={"retry_place": True}))
            return
        if action is ProviderAction.PAUSE or retrying or exc.uncertain:
            # An account problem, or the provider failing placement after placement
            # (5xx, no network): pause the campaign (`start` exits 3) and say what to check.
            message, hint = str(exc), exc.hint
            if retrying:
                message = (f"Twilio failed {f.retries + 1} times in a row placing the call to "
                           f"{f.e164} ({exc}).")
                hint = ("Check https://status.twilio.com and this laptop's internet "
                        "connection (and TWILIO_API_BASE if set), then: dialcli resume")
            if exc.uncertain:
                message += (f" The call to {f.e164} may have been placed: lead "
                            f"{f.lead_name or f.lead_id} is held (not counted as failed, no "
                            "other phone of it dialed) until `dialcli resume` asks Twilio "
                            "what happened to it.")
                hint = hint or "Check https://status.twilio.com, then: dialcli resume"
            state.note = message + (f"\n{hint}" if hint else "")
            state.provider_pause = state.note
            self._hold_or_unclaim(f, exc, now)
            state.stop_requested.set()
            with self.store.tx():
                self.store.execute("UPDATE campaigns SET status = 'PAUSED', pause_reason = ? "
                                   "WHERE id = ?", (message, state.campaign.id))
            return
        ended = CallEvent(f.call_id, EventKind.ENDED, now, status=CallStatus.FAILED,
                          error_code=exc.code, error=str(exc))
        if action is ProviderAction.DEAD_NUMBER:
            ended.detail["dead_number"] = True
        self.settler.complete(f, ended, now)

    def _hold_or_unclaim(self, f: InFlight, exc: DialError, now: datetime) -> None:
        """A dial not placed now: undone if the provider surely never placed it; if it
        may have, its claim stays open (the lead DIALING) for the next start's
        reconcile to look up -- adopted if Twilio has it, undone if not."""
        if exc.uncertain:
            self.state.in_flight.pop(f.call_id, None)
            self.queue.invalidate()
            return
        self._unclaim(f, now, reason=f"not placed: {exc}")

    def _unclaim(self, f: InFlight, now: datetime, reason: str) -> None:
        """Undo a claim the provider never placed (it did not happen)."""
        self.state.in_flight.pop(f.call_id, None)
        with self.store.tx() as conn:
            transitions.revert_claim(conn, call_id=f.call_id, now_iso=to_iso(now), reason=reason)
        self.queue.invalidate()
