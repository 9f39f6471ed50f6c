"""Live calls through the user's Twilio account (with ``account``, the only modules importing ``twilio``).

``place`` creates each call with the callback server's public URLs (design.md 6):
TwiML on answer, status callbacks for initiated/ringing/answered/completed, and async
answering-machine detection with ``DetectMessageEnd`` so the agent greets a person at
once and a machine gets the voicemail action after the beep. Everything afterwards
arrives through ``server.CallServer`` as signed callbacks and the ConversationRelay
WebSocket, and reaches the engine as ``CallEvent`` objects.

Twilio's refusals become ``DialError`` with what the engine should do
(``account.classify``). A create whose outcome is unknown (read timeout, 5xx) is looked up on
Twilio before anything is retried, so a call is never placed twice.

Never stuck: ``poll`` fetches calls whose callbacks went quiet (a tunnel that went
down) and feeds the missing progress through the same state machine as callbacks.
Price arrives minutes after a call ends; ``PriceWatcher`` polls with backoff and
stores the real price over the engine's estimate (billed minutes x rate).

``TWILIO_API_BASE`` points the client at a Twilio-compatible server (the test fake).
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Sequence

import requests
from twilio.base.exceptions import TwilioException
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from dialcli.clock import SystemClock, to_iso
from dialcli.config import LLMSettings, TwilioCredentials, public_url as resolve_public_url
from dialcli.conversation.base import Brain, CallContext
from dialcli.conversation.greeting import GREET_AFTER_SILENCE_S, MACHINE_QUIET_S
from dialcli.conversation.llm import make_brain
from dialcli.errors import ProviderError
from dialcli.models import CallStatus
from dialcli.providers.base import (CallEvent, CallState, DialError, DialRequest, EventKind,
                                    Provider, ProviderAction)
from dialcli.providers.twilio.account import (
    PRICE_BACKOFF_S, PriceWatcher, TwilioAccount, call_state, classify, error_details,
    make_client, network_error, rest_error,
)
from dialcli.store import Store
from dialcli.providers.twilio.server import ANSWERED, LATENCY_SAMPLES, RINGING, CallServer, Final

log = logging.getLogger("dialcli.twilio")

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
MAX_RING_TIMEOUT_S = 600
ADOPT_SKEW = timedelta(seconds=10)      # laptop vs Twilio clock
#: A live run collects the oldest generation once per this many middle collections
#: (CPython's default is 10): see ``TwilioProvider.start``.
FULL_GC_EVERY = 100


class TwilioProvider(Provider):
    name = "twilio"
    polls = True            # the engine calls poll() for calls in flight
    prices_final = True     # a price on ENDED is Twilio's own, not an estimate

    def __init__(self, credentials: TwilioCredentials, *, public_url: str, port: int = 8765,
                 host: str = "127.0.0.1", brain: Brain | None, store_path: str | None = None,
                 http_timeout: float = 10.0, quiet_s: float = 30.0, poll_every_s: float = 15.0,
                 finish_grace_s: float = 3.0, turn_timeout_s: float = 20.0,
                 time_limit_s: int = 900, price_backoff: Sequence[float] = PRICE_BACKOFF_S,
                 freeze_gc: bool = True, client: Client | None = None,
                 greet_silence_s: float = GREET_AFTER_SILENCE_S,
                 machine_quiet_s: float = MACHINE_QUIET_S, warm_threads: int | None = None):
        self.credentials = credentials
        self.account_sid = credentials.account_sid
        self._own_client = client is None
        self.client = client or make_client(credentials, http_timeout)
        self.account = TwilioAccount(credentials, self.client)
        self._validator = RequestValidator(credentials.auth_token.reveal())
        self._key_validator = (RequestValidator(credentials.webhook_key.reveal())
                               if credentials.webhook_key else None)
        self.quiet_s, self.poll_every_s = quiet_s, poll_every_s
        self.time_limit_s = time_limit_s
        self.freeze_gc = freeze_gc
        self._gc_threshold: tuple[int, int, int] | None = None
        self.store_path = str(store_path) if store_path else None
        self.server = CallServer(self, public_url=public_url, brain=brain,
                                 store_path=self.store_path, host=host, port=port,
                                 finish_grace_s=finish_grace_s, turn_timeout_s=turn_timeout_s,
                                 greet_silence_s=greet_silence_s,
                                 machine_quiet_s=machine_quiet_s, warm_threads=warm_threads)
        self.prices = PriceWatcher(self, self.store_path, price_backoff)
        self.sink: Any = None
        self.clock: Any = SystemClock()
        self.polled_events = 0
        #: seconds per Calls.create round trip (a placing thread blocks this long), the
        #: latest LATENCY_SAMPLES of them (for live_bench)
        self.create_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        #: call id -> when we first asked, for creates whose outcome Twilio could not tell
        self._unsure: dict[int, datetime] = {}
        self._started = False

    @classmethod
    def from_env(cls, *, public_url: str | None = None, port: int = 8765,
                 host: str = "127.0.0.1", brain: Brain | None = None,
                 store_path: str | None = None, **kwargs: Any) -> "TwilioProvider":
        """Credentials from TWILIO_*; public URL from the option or DIALCLI_PUBLIC_URL."""
        creds = TwilioCredentials.from_env()
        if brain is None:
            brain = _default_brain()
        return cls(creds, public_url=resolve_public_url(public_url) or "", port=port, host=host,
                   brain=brain, store_path=store_path, **kwargs)

    # -- lifecycle --------------------------------------------------------------------
    def bind(self, sink: Any, clock: Any) -> None:
        super().bind(sink, clock)
        self.server.clock = clock

    def start(self) -> None:
        if self._started:
            return
        if self.freeze_gc:
            # Everything alive now (modules, the SDK, the store) lives as long as the
            # run. Moving it out of the collector's reach keeps full collections --
            # which stop every thread, 50-150 ms in this process -- out of callers' turns.
            gc.collect()
            gc.freeze()
            # And what a live run makes (sessions, frames, transcripts) reaches the
            # oldest generation fast: a full collection of it stopped every thread for
            # 120-180 ms once per 45 s of peak load (bench/live_bench.py), and each such
            # stop lands in the turns of every call in flight. Full collections come
            # at most once per 100 middle ones instead of 10 (minutes apart at peak).
            self._gc_threshold = gc.get_threshold()
            gc.set_threshold(self._gc_threshold[0], self._gc_threshold[1],
                             max(self._gc_threshold[2], FULL_GC_EVERY))
        self.server.start()
        self.prices.start()
        self._started = True
        self._requeue_prices()

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        self.server.stop()
        self.prices.stop()
        session = getattr(self.client.http_client, "session", None)
        if self._own_client and session is not None:
            session.close()           # its pooled keep-alive connections to Twilio

    @property
    def port(self) -> int:
        return self.server.port

    def _requeue_prices(self) -> None:
        """Prices still estimated from an earlier run get finalized now."""
        if not self.store_path:
            return
        with Store(self.store_path, migrate=False) as st:
            since = to_iso(self.clock.now() - timedelta(days=30))
            rows = st.all("SELECT provider_sid FROM calls WHERE provider = 'twilio' AND "
                          "price_final = 0 AND provider_sid IS NOT NULL AND status = 'completed' "
                          "AND ended_at > ? ORDER BY ended_at DESC LIMIT 500", (since,))
        for i, row in enumerate(rows):
            self.prices.add(row[0], delay=0.2 * i)

    # -- backend for the server ---------------------------------------------------------
    def validate(self, url: str, params: Any, signature: str,
                 settings: str | None = None) -> bool:
        """Twilio's own check of ``X-Twilio-Signature`` (port variants, ``bodySHA256``).

        ``settings`` is the request's ``X-Twilio-Webhooks-Signature-Settings``: a
        Webhooks Rule makes Twilio sign with a SharedKey (TWILIO_WEBHOOK_SHARED_KEY) and
        the algorithm it names. A signature keyed by the auth token is Twilio's in
        either algorithm; an algorithm the validator does not know fails.
        """
        algorithm = get_signature_algorithm(settings) if settings else None
        if algorithm and self._key_validator is not None and \
                self._key_validator.validate(url, params, signature, algorithm):
            return True
        return self._validator.validate(url, params, signature, algorithm)

    def relay_twiml(self, ctx: CallContext, relay_url: str, action_url: str) -> str:
        # No welcomeGreeting: Twilio would speak it before the AMD verdict, to machines
        # too. The relay session greets a person itself (conversation/greeting.py).
        # partialPrompts tells the greeting gate that someone is speaking (a machine's
        # greeting suspends the silence timer); the brain still gets each utterance once.
        # ``language`` sets both text-to-speech and transcription.
        response = VoiceResponse()
        connect = response.connect(action=action_url, method="POST")
        attrs: dict[str, Any] = {"url": relay_url, "language": ctx.language or "en-US",
                                 "interruptible": "any", "dtmf_detection": True,
                                 "partial_prompts": True}
        if ctx.tts_provider:
            attrs["tts_provider"] = ctx.tts_provider
        if ctx.voice:
            attrs["voice"] = ctx.voice
        relay = connect.conversation_relay(**attrs)
        relay.parameter(name="call_id", value=str(ctx.call_id))
        return str(response)

    def voicemail_twiml(self, ctx: CallContext) -> str:
        response = VoiceResponse()
        response.pause(length=1)
        kwargs: dict[str, Any] = {"language": ctx.language or "en-US"}
        if ctx.voicemail_voice:
            kwargs["voice"] = ctx.voicemail_voice      # a <Say> voice (workspace/voices.py)
        response.say(ctx.voicemail_message, **kwargs)
        response.hangup()
        return str(response)

    def emit(self, event: CallEvent) -> None:
        if self.sink is not None:
            self.sink.emit(event)

    def call_ended(self, sid: str, status: CallStatus, billed_minutes: int | None) -> None:
        if status == CallStatus.COMPLETED:
            self.prices.add(sid)

    # -- the Provider interface --------------------------------------------------------------
    def place(self, req: DialRequest) -> str:
        if not self._started:
            raise ProviderError("The Twilio provider was not started (call start() first).")
        urls = self.server.urls(req.call_id)
        self.server.register(req.context)
        asked_before = self._unsure.pop(req.call_id, None)
        if asked_before is not None:
            # An earlier try may have created this call and Twilio could not be asked
            # then: look again, and create only once a lookup says it does not exist.
            sid = self._adopt_or_retry(req, asked_before)
            if sid is not None:
                return self._record_placed(req, sid)
        kwargs = dict(
            to=req.to, from_=req.from_, url=urls["twiml"], method="POST",
            status_callback=urls["status"], status_callback_method="POST",
            status_callback_event=STATUS_EVENTS, timeout=ring_timeout(req.ring_timeout_s),
            machine_detection="DetectMessageEnd", async_amd="true",
            async_amd_status_callback=urls["amd"], async_amd_status_callback_method="POST",
            time_limit=self.time_limit_s)
        if req.record:
            # Each party on its own channel; the audio stays at Twilio and only its
            # reference comes back, on the signed recording status callback.
            kwargs.update(record=True, recording_channels="dual",
                          recording_status_callback=urls["recording"],
                          recording_status_callback_method="POST",
                          recording_status_callback_event=["in-progress", "completed",
                                                           "absent"])
        asked_at = self.clock.now()
        t0 = time.monotonic()
        try:
            sid = self.client.calls.create(**kwargs).sid
        except TwilioException as exc:
            error = classify(exc, req.to, req.from_)
            status = getattr(exc, "status", None) or 0
            sid = self._adopt_or_retry(req, asked_at) if status >= 500 else None
            if sid is None:
                self.server.forget(req.call_id)
                raise error from None
        except requests.ConnectionError as exc:
            # Refused before anything was sent is safe to retry; a dropped connection
            # may have created the call, so look before saying so.
            sid = None if _never_sent(exc) else self._adopt_or_retry(req, asked_at)
            if sid is None:
                self.server.forget(req.call_id)
                raise DialError(f"Could not reach Twilio to call {req.to}; retrying later "
                                f"({type(exc).__name__}).", action=ProviderAction.RETRY) from None
        except requests.Timeout:
            sid = self._adopt_or_retry(req, asked_at)
            if sid is None:
                self.server.forget(req.call_id)
                # Not found *yet* is not proof it was never created: never dial it again
                # in this run, and never count it FAILED either (the lead would move to
                # its next phone while this one may be ringing): the engine holds the
                # lead until a later lookup -- the next start's reconcile -- says.
                raise DialError(f"Twilio did not answer in time placing the call to {req.to}, "
                                "and does not list it yet: it may have been placed.",
                                action=ProviderAction.PAUSE, uncertain=True) from None
        self.create_latency.append(time.monotonic() - t0)
        return self._record_placed(req, sid)

    def _record_placed(self, req: DialRequest, sid: str) -> str:
        self.server.set_sid(req.call_id, sid)
        self.emit(CallEvent(req.call_id, EventKind.PLACED, self.clock.now(), sid=sid,
                            status=CallStatus.QUEUED))
        return sid

    def _adopt_or_retry(self, req: DialRequest, asked_at: datetime) -> str | None:
        """``_adopt``; when Twilio cannot even be asked, the outcome stays unknown: the
        engine retries later, and that retry looks before it creates (``_unsure``)."""
        try:
            return self._adopt(req, asked_at)
        except ProviderError:
            self._unsure[req.call_id] = asked_at
            raise DialError(f"Could not check with Twilio whether the call to {req.to} was "
                            "placed; checking again before dialing (never twice).",
                            action=ProviderAction.RETRY, uncertain=True) from None

    def _adopt(self, req: DialRequest, asked_at: datetime) -> str | None:
        """After an unknown outcome: the call Twilio did create, if any.

        Only a call to this number created since we asked (less clock skew) and not
        already one of ours can be it -- ours in memory, or recorded on a call row (a
        call an earlier runner placed, e.g. the previous pass to this number). Raises
        ``ProviderError`` when the lookup fails: that is not proof of anything.
        """
        found = self.find_calls(req.to, req.from_, asked_at - ADOPT_SKEW)
        ours = {c.sid for c in list(self.server.calls.values()) if c.sid}
        fresh = [c for c in found if c.sid not in ours and not self._recorded(c.sid)]
        return fresh[0].sid if fresh else None

    def _recorded(self, sid: str) -> bool:
        if not self.store_path:
            return False
        with Store(self.store_path, migrate=False) as st:
            return st.scalar("SELECT 1 FROM calls WHERE provider_sid = ?", (sid,)) is not None

    def fetch(self, sid: str) -> CallState | None:
        return self.account.fetch_call(sid)

    def find_calls(self, to: str, from_: str, since: datetime) -> list[CallState]:
        # Filter by time here: StartTime is empty while a call is queued.
        try:
            rows = self.client.calls.list(to=to, from_=from_, limit=50, page_size=50)
        except TwilioException as exc:
            raise rest_error(exc, f"list calls to {to}") from None
        except requests.RequestException as exc:
            raise network_error(exc, f"list calls to {to}") from None
        return [call_state(c) for c in rows
                if c.date_created is None or c.date_created >= since]

    def hangup(self, sid: str) -> bool:
        """End a live call; False if it had already ended."""
        return self._update(sid, status="completed")

    def redirect(self, sid: str, twiml: str) -> bool:
        """Replace what a live call is doing; False if it had already ended."""
        return self._update(sid, twiml=twiml)

    def _update(self, sid: str, **kwargs: Any) -> bool:
        try:
            self.client.calls(sid).update(**kwargs)
            return True
        except TwilioException as exc:
            if error_details(exc)[0] == 21220:   # the call is already over
                return False
            raise rest_error(exc, f"update call {sid}") from None
        except requests.RequestException as exc:
            raise network_error(exc, f"update call {sid}") from None

    def poll(self, in_flight: dict[int, str | None], now: datetime) -> None:
        """Fetch calls whose callbacks went quiet; the fetch runs off the engine thread."""
        mono = time.monotonic()
        for call_id, sid in in_flight.items():
            call = self.server.calls.get(call_id)
            if call is None:
                if not sid:
                    continue
                call = self.server.set_sid(call_id, sid)
                call.last_heard = mono - self.quiet_s
            if call.sid is None or call.ending or call.relay == "active":
                continue
            if mono - call.last_heard < self.quiet_s or mono < call.next_poll:
                continue
            call.poll_gap = min(max(self.poll_every_s, call.poll_gap * 2), 120.0)
            call.next_poll = mono + call.poll_gap
            self.server.rest_pool.submit(self._poll_one, call)

    def _poll_one(self, call: Any) -> None:
        try:
            state = self.fetch(call.sid)
        except ProviderError as exc:
            log.info("polling call %s failed: %s", call.call_id, exc)
            return
        if state is None:
            return
        log.info("call %s: no callback for a while; Twilio says %s (is the tunnel up?)",
                 call.call_id, state.status)
        before = (call.stage, call.ending)
        if state.status == CallStatus.RINGING:
            self.server.advance(call, RINGING)
        elif state.status == CallStatus.IN_PROGRESS:
            self.server.advance(call, ANSWERED)
            if state.answered_by:
                self.server.on_answered_by(call, state.answered_by)
        elif state.status.final:
            self.server.finish(call, Final(state.status, duration_s=state.duration_s,
                                           billed_minutes=state.billed_minutes,
                                           answered_by=state.answered_by, price=state.price,
                                           price_unit=state.price_unit, source="poll"))
        if (call.stage, call.ending) != before or state.status.final:
            self.polled_events += 1


def ring_timeout(seconds: float) -> int:
    """Calls.create ``Timeout``: whole seconds, at most Twilio's 600 (default 60)."""
    return max(1, min(MAX_RING_TIMEOUT_S, int(seconds)))


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused/unresolvable (the request never left)."""
    text = repr(exc)
    return any(s in text for s in ("NewConnectionError", "NameResolutionError",
                                   "Connection refused", "ConnectTimeout"))


def _default_brain() -> Brain:
    """The configured LLM brain, or the rule brain (conversation.llm.make_brain)."""
    return make_brain(LLMSettings.from_env())

