"""The callback server Twilio talks to during live calls (design.md section 6).

Starlette app + uvicorn, run on a background thread by ``TwilioProvider.start``.
Twilio reaches it through the user's tunnel (``--public-url``), so every URL it
signs is the *public* one: signatures are checked against ``public_url + path``,
never against the local address the tunnel delivers to.

Endpoints (``{call}`` is dialcli's call id, the row in ``calls``):

  POST /twiml/{call}         answer: ``<Connect><ConversationRelay>`` (no welcomeGreeting:
                             the relay greets a person, never a machine; relay.py)
  POST /status/{call}        call progress (initiated, ringing, in-progress, final)
  POST /amd/{call}           async answering-machine verdict (human / machine_end_*)
  POST /relay-action/{call}  the ConversationRelay session ended; hang up
  WS   /relay/{call}         ConversationRelay text protocol (``relay.RelaySession``)
  GET  /health?nonce=N       tunnel probe for ``dialcli doctor`` (unsigned, stateless)

Trust: a request changes nothing unless it carries a valid ``X-Twilio-Signature``
for the public URL, our ``AccountSid``, and the ``CallSid`` this call id was given
when it was placed. The signature and the account are checked before any call is
looked up, so whoever lacks the auth token gets the same 403 for every path and
learns nothing about which calls exist; a CallSid that is not the call's is a 403
too, and each gets a log line (never the token). A correctly signed request for a
call id with no open call here (finished and forgotten, or never placed) is
Twilio's, not a forgery: it is acknowledged (204; a TwiML request -- the answer URL,
the ``<Connect action>`` -- gets a hang-up, so the caller is not left with an
application error) and changes nothing: a non-2xx answer would only put warnings in
the user's Twilio debugger. Valid callbacks are
deduplicated on (CallSid, event, SequenceNumber) -- in memory per call and in the
``provider_events`` table -- so a replay or a Twilio retry changes nothing.

Call state lives in ``LiveCall`` objects guarded by one lock; the server thread, the
engine thread (``place``/``poll``) and worker threads all touch it. A per-call
stage (placed < ringing < answered < ending) makes out-of-order callbacks harmless:
a late ``ringing`` after ``in-progress``, or anything after the final status, is
ignored. ``finish`` emits ENDED exactly once per call, after the relay session has
reported its conversation and the voicemail action has run (bounded wait).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from dialcli.clock import SystemClock, to_iso
from dialcli.conversation.base import Brain, CallContext
from dialcli.conversation.greeting import GREET_AFTER_SILENCE_S, MACHINE_QUIET_S
from dialcli.errors import ConfigError
from dialcli.providers.twilio.codes import call_error
from dialcli.providers.twilio.relay import RelaySession
from dialcli.providers.twilio.server_thread import ServerThread
from dialcli.models import CallStatus, VoicemailAction
from dialcli.providers.base import CallEvent, EventKind

log = logging.getLogger("dialcli.providers.twilio.server")

# A module alias so the monotonic source is one obvious place (pacing, quiet timers).
_mono = time.monotonic

PLACED, RINGING, ANSWERED = 0, 1, 2
FINAL_STATUSES = frozenset(s.value for s in CallStatus if s.final)
MACHINE_VERDICTS = ("machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
# A finished call is remembered this long so that late and repeated callbacks are
# recognised in memory; after that they are acknowledged and ignored (unknown call).
# Short enough that memory is flat at 50 calls/s: ~6,000 small records at most.
PURGE_AFTER_S = 120.0
LATENCY_SAMPLES = 5_000
#: Brain threads started with the server (``CallServer.start``): live_bench's 250
#: sessions, their turns in a worker thread like an LLM's, had up to ~80 turns at once;
#: a brain that never blocks (rules) uses the pool only to close sessions.
WARM_BRAIN_THREADS, WARM_BRAIN_THREADS_NONBLOCKING = 96, 8
REST_THREADS = 8          # voicemail redirects and hang-ups
MAX_BODY = 64 * 1024
#: Present when a Webhooks Rule makes Twilio sign with a SharedKey: ``key=...,algorithm=...``
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
TWIML_HANGUP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
TWIML_HOLD = ('<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="10"/><Hangup/>'
              '</Response>')


class Backend(Protocol):
    """What the server needs from the provider (REST calls, TwiML, signatures, events)."""

    account_sid: str

    def validate(self, url: str, params: Any, signature: str,
                 settings: str | None = None) -> bool: ...
    def relay_twiml(self, ctx: CallContext, relay_url: str, action_url: str) -> str: ...
    def voicemail_twiml(self, ctx: CallContext) -> str: ...
    def redirect(self, sid: str, twiml: str) -> bool: ...
    def hangup(self, sid: str) -> bool: ...
    def emit(self, event: CallEvent) -> None: ...
    def call_ended(self, sid: str, status: CallStatus, billed_minutes: int | None) -> None: ...


@dataclass
class Final:
    """The final status of a call, from a callback or a poll."""

    status: CallStatus
    duration_s: int | None = None
    billed_minutes: int | None = None
    answered_by: str | None = None
    price: float | None = None
    price_unit: str | None = None
    error_code: int | None = None
    sip_response_code: int | None = None
    source: str = "callback"


@dataclass(eq=False)
class LiveCall:
    call_id: int
    ctx: CallContext | None
    sid: str | None = None
    sid_state: str = "pending"          # pending -> known | failed
    stage: int = PLACED
    answered_by: str | None = None
    human_sent: bool = False
    machine_sent: bool = False
    vm: str = "none"                    # none | pending | left | missed | hungup | failed
    relay: str = "none"                 # none | active | done
    conversation_sent: bool = False
    ending: bool = False
    ended: bool = False
    seen: set = field(default_factory=set)
    last_heard: float = field(default_factory=_mono)
    next_poll: float = 0.0
    poll_gap: float = 0.0
    done_at: float | None = None
    relay_ws: Any = None
    relay_error: int | None = None      # Twilio's ErrorCode from the <Connect action>
    relay_session: Any = None           # the RelaySession, for AMD verdicts


def check_public_url(url: str | None) -> str:
    """Validate the tunnel's base URL (scheme + host, no path)."""
    if not url:
        raise ConfigError(
            "No public URL: Twilio cannot reach this laptop.",
            hint="Start a tunnel (e.g. `cloudflared tunnel --url http://localhost:8765`) and pass "
                 "its https URL with --public-url, or export DIALCLI_PUBLIC_URL=https://...",
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Public URL {url!r} is not an http(s) URL.",
                          hint="Use the tunnel's base URL, e.g. https://abc.trycloudflare.com")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigError(f"Public URL {url!r} has a path or query.",
                          hint="Use only the tunnel's base URL (scheme and host), e.g. "
                               "https://abc.trycloudflare.com -- dialcli adds the paths.")
    return f"{parts.scheme}://{parts.netloc}"


class CallServer:
    """The live-call state machine and its Starlette app."""

    def __init__(self, backend: Backend | None, *, public_url: str, brain: Brain | None = None,
                 store_path: str | None = None, clock: Any = None, host: str = "127.0.0.1",
                 port: int = 8765, finish_grace_s: float = 3.0, turn_timeout_s: float = 20.0,
                 brain_threads: int = 256, greet_silence_s: float = GREET_AFTER_SILENCE_S,
                 machine_quiet_s: float = MACHINE_QUIET_S, warm_threads: int | None = None):
        self.backend = backend
        self.public_url = check_public_url(public_url)
        self.ws_base = "ws" + self.public_url[4:]    # http->ws, https->wss
        self.brain = brain
        self.store_path = store_path
        self.clock = clock or SystemClock()
        self.host, self.port = host, port
        self.finish_grace_s = finish_grace_s
        self.turn_timeout_s = turn_timeout_s
        self.greet_silence_s, self.machine_quiet_s = greet_silence_s, machine_quiet_s
        self.lock = threading.Lock()
        self.calls: dict[int, LiveCall] = {}
        self.brain_threads = brain_threads
        if warm_threads is None:
            warm_threads = (WARM_BRAIN_THREADS if brain is None or brain.blocking
                            else WARM_BRAIN_THREADS_NONBLOCKING)
        self.warm_threads = min(warm_threads, brain_threads)
        self.brain_pool = self.rest_pool = ThreadPoolExecutor(1)   # replaced by start()
        self._db_pool: ThreadPoolExecutor | None = None
        self._registered = 0
        self._db_local = threading.local()
        self.stats: dict[str, int] = {"rejected": 0, "duplicates": 0, "callbacks": 0,
                                      "relay_active": 0, "relay_peak": 0}
        #: (first-token, whole-turn) server-added seconds of the latest conversational
        #: turns (a ring: a runner dialing for days keeps the last LATENCY_SAMPLES)
        self.turn_latency: deque[tuple[float, float]] = deque(maxlen=LATENCY_SAMPLES)
        #: server-added seconds from what triggered the greeting (the callee's first
        #: words, the human verdict) to its first token going out
        self.greet_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        #: server-added seconds to the first token of the reply to a prompt that came
        #: after an interrupt (barge-in reaction), and of the goodbye to an action key
        #: pressed mid-reply (both include winding the cancelled reply down)
        self.barge_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.dtmf_latency: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._tasks: set[asyncio.Task] = set()
        #: (call_id, kind, text, at_s) for each line as it is said -- kinds: agent,
        #: caller, dtmf, interrupted, status. ``dialcli call`` prints them live.
        self.observer: Callable[[int, str, str, float], None] | None = None
        self.thread: ServerThread | None = None
        self.stopping = False     # set by stop(): requests stop waiting on place()
        self._shared_key_hinted = False
        self.app = Starlette(routes=[
            Route("/health", self.health, methods=["GET"]),
            Route("/twiml/{call_id:int}", self.twiml, methods=["POST"]),
            Route("/status/{call_id:int}", self.status, methods=["POST"]),
            Route("/amd/{call_id:int}", self.amd, methods=["POST"]),
            Route("/relay-action/{call_id:int}", self.relay_action, methods=["POST"]),
            Route("/recording/{call_id:int}", self.recording, methods=["POST"]),
            WebSocketRoute("/relay/{call_id:int}", self.relay),
            WebSocketRoute("/relay/{call_id:int}/", self.relay),   # (no slash redirect for WS)
        ])

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> "CallServer":
        # Threads are created lazily by the pools; a brain turn may block on an LLM for
        # seconds, so the brain pool is sized for every concurrent call.
        self.brain_pool = ThreadPoolExecutor(self.brain_threads, thread_name_prefix="dialcli-brain")
        self.rest_pool = ThreadPoolExecutor(REST_THREADS, thread_name_prefix="dialcli-rest")
        if self.store_path:
            self._db_pool = ThreadPoolExecutor(1, thread_name_prefix="dialcli-dedupe")
        if self.warm_threads:
            # A pool starts a thread inside ``submit`` when none is idle -- on the event
            # loop, whose ``Thread.start`` then waits for the new thread to get the GIL
            # (milliseconds on a busy box), inside the turn that needed it. Start them now.
            warm(self.brain_pool, self.warm_threads)
            warm(self.rest_pool, REST_THREADS)
            if self._db_pool is not None:
                warm(self._db_pool, 1)
        self.thread = ServerThread(self.app, self.host, self.port, name="callback server").start()
        self.port = self.thread.port
        return self

    def stop(self) -> None:
        self.stopping = True
        loop = self.loop
        if self.brain is not None and loop is not None and loop.is_running():
            # The brain's async clients belong to this loop: closed on it.
            try:
                asyncio.run_coroutine_threadsafe(self.brain.aclose(), loop).result(2.0)
            except Exception:  # noqa: BLE001 - stopping: a stuck close must not hang us
                log.debug("closing the brain's async clients failed", exc_info=True)
        if self.thread is not None:
            self.thread.stop()
            self.thread = None
        self.rest_pool.shutdown(wait=False, cancel_futures=True)
        self.brain_pool.shutdown(wait=False, cancel_futures=True)
        if self._db_pool is not None:
            self._db_pool.submit(self._db_close).result(timeout=5)
            self._db_pool.shutdown(wait=True)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self.thread.loop if self.thread else None

    def urls(self, call_id: int) -> dict[str, str]:
        base = self.public_url
        return {"twiml": f"{base}/twiml/{call_id}", "status": f"{base}/status/{call_id}",
                "amd": f"{base}/amd/{call_id}", "action": f"{base}/relay-action/{call_id}",
                "recording": f"{base}/recording/{call_id}",
                "relay": f"{self.ws_base}/relay/{call_id}"}

    # -- registry (any thread) ---------------------------------------------------------
    def register(self, ctx: CallContext) -> LiveCall:
        call = LiveCall(ctx.call_id, ctx)
        with self.lock:
            self._registered += 1
            if self._registered % 256 == 0:
                self._purge()
            self.calls[ctx.call_id] = call
        return call

    def set_sid(self, call_id: int, sid: str) -> LiveCall:
        with self.lock:
            call = self.calls.get(call_id)
            if call is None:               # adopted after a restart: no context
                call = self.calls[call_id] = LiveCall(call_id, None)
            call.sid, call.sid_state = sid, "known"
            call.last_heard = _mono()
        return call

    def forget(self, call_id: int) -> None:
        """place() failed for sure: callbacks for this id are not ours any more."""
        with self.lock:
            call = self.calls.pop(call_id, None)
            if call is not None:
                call.sid_state = "failed"

    def _purge(self) -> None:
        cutoff = _mono() - PURGE_AFTER_S
        dead = [cid for cid, c in self.calls.items() if c.done_at is not None and c.done_at < cutoff]
        for cid in dead:
            del self.calls[cid]

    # -- events --------------------------------------------------------------------------
    def _emit(self, call: LiveCall, kind: EventKind, **fields: Any) -> None:
        if self.backend is None:
            return
        event = CallEvent(call_id=call.call_id, kind=kind, at=self.clock.now(), sid=call.sid,
                          **fields)
        try:
            self.backend.emit(event)
        except Exception:  # the sink is the engine's; a failure there must not kill the server
            log.exception("event sink failed for call %s (%s)", call.call_id, kind)

    def emit_line(self, call: LiveCall, utt: Any) -> None:
        """A line of the conversation, as it is said (the live dashboard's)."""
        self._emit(call, EventKind.LINE, detail={"role": utt.role, "text": utt.text,
                                                 "at_s": round(utt.at_s, 2)})

    def advance(self, call: LiveCall, stage: int) -> None:
        """Move a call forward; out-of-order or late progress is ignored."""
        with self.lock:
            if call.ending or call.stage >= stage:
                return
            call.stage = stage
        self._emit(call, EventKind.RINGING if stage == RINGING else EventKind.ANSWERED)

    def on_answered_by(self, call: LiveCall, answered_by: str) -> None:
        """An AMD verdict (callback or poll): HUMAN, or MACHINE + the voicemail action.

        The relay session hears every verdict (its greeting gate decides whether to
        greet, or to stop talking to a machine at once)."""
        with self.lock:
            session = None if call.ending else call.relay_session
        if session is not None:
            session.verdict(answered_by)
        with self.lock:
            if call.ending:
                call.answered_by = call.answered_by or answered_by
                return
            if answered_by == "machine_start" or call.human_sent or call.machine_sent:
                if call.answered_by is None:
                    call.answered_by = answered_by
                return
            machine = is_machine(answered_by)
            call.answered_by = answered_by
            if machine:
                call.machine_sent, call.vm = True, "pending"
            else:
                call.human_sent = True
        self.advance(call, ANSWERED)
        if not machine:
            self._emit(call, EventKind.HUMAN, answered_by=answered_by)
            return
        self._emit(call, EventKind.MACHINE, answered_by=answered_by)
        self._spawn_thread(self._voicemail_action, call, answered_by)

    def machine_by_transcript(self, call: LiveCall, reason: str) -> None:
        """The relay heard a machine greeting and AMD gave no machine verdict in time
        (or said ``unknown``): run the voicemail action anyway. ``answered_by`` says
        how it was known (``machine_transcript``), never a verdict Twilio did not give."""
        with self.lock:
            if call.ending or call.machine_sent:
                return
            call.machine_sent, call.vm = True, "pending"
            call.answered_by = "machine_transcript"
        log.info("call %s: answering machine recognised from the transcript (%s)",
                 call.call_id, reason)
        self.advance(call, ANSWERED)
        self._emit(call, EventKind.MACHINE, answered_by="machine_transcript",
                   detail={"reason": reason})
        self._spawn_thread(self._voicemail_action, call, "machine_transcript")

    def _voicemail_action(self, call: LiveCall, answered_by: str) -> None:
        ctx, backend = call.ctx, self.backend
        assert backend is not None and call.sid is not None
        leave = (ctx is not None and answered_by != "fax"
                 and ctx.voicemail_action == VoicemailAction.MESSAGE
                 and bool(ctx.voicemail_message.strip()))
        try:
            if leave:
                assert ctx is not None
                # False: the call ended before the beep (nothing was left).
                result = "left" if backend.redirect(call.sid, backend.voicemail_twiml(ctx)) \
                    else "missed"
            else:
                backend.hangup(call.sid)
                result = "hungup"
        except Exception as exc:
            log.warning("voicemail action for call %s failed: %s", call.call_id, exc)
            result = "failed"
            if leave:
                try:
                    backend.hangup(call.sid)
                except Exception:
                    pass
        with self.lock:
            call.vm = result

    def finish(self, call: LiveCall, final: Final) -> None:
        """Thread-safe entry to ``finish_async`` (used by the poller)."""
        loop = self.loop
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.finish_async(call, final), loop)

    async def finish_async(self, call: LiveCall, final: Final) -> None:
        with self.lock:
            if call.ending:
                return
            call.ending = True
            if final.answered_by and (call.answered_by in (None, "machine_start")):
                call.answered_by = final.answered_by
        deadline = _mono() + self.finish_grace_s
        while _mono() < deadline and (call.relay == "active" or call.vm == "pending"):
            await asyncio.sleep(0.02)
        if call.relay == "active" and call.relay_ws is not None:
            # Twilio should have closed the socket when the call ended; make the
            # session wrap up so its conversation is reported before ENDED.
            try:
                await call.relay_ws.close(1000)
            except Exception:
                pass
            end_wait = _mono() + 1.0
            while call.relay == "active" and _mono() < end_wait:
                await asyncio.sleep(0.02)
        error_code, error = final.error_code, call_error(final.error_code)
        if call.relay_error and call.relay != "done":
            # The conversation never started: say why instead of a silent NO_ANSWER.
            error_code = error_code or call.relay_error
            error = (f"ConversationRelay failed (Twilio error {call.relay_error}); check that "
                     "ConversationRelay is enabled in the Twilio Console and that the tunnel "
                     "passes WebSockets")
        detail: dict[str, Any] = {"source": final.source}
        if final.sip_response_code:
            detail["sip_response_code"] = final.sip_response_code
        if call.machine_sent and call.vm in ("missed", "failed", "pending"):
            # VOICEMAIL means a message was delivered (or the asked-for hang-up): say
            # what happened instead; the engine counts this as not reached.
            detail["voicemail"] = "missed" if call.vm == "pending" else call.vm
            error = error or ("An answering machine answered but no message was left: "
                              + ("it hung up before the beep." if call.vm != "failed" else
                                 "Twilio refused the voicemail redirect."))
        if final.status == CallStatus.COMPLETED and call.stage < ANSWERED:
            with self.lock:
                call.stage = ANSWERED
            self._emit(call, EventKind.ANSWERED)
        self._emit(call, EventKind.ENDED, status=final.status, answered_by=call.answered_by,
                   duration_s=final.duration_s, billed_minutes=final.billed_minutes,
                   price=final.price, price_unit=final.price_unit,
                   voicemail_left=call.vm == "left", error_code=error_code, error=error,
                   detail=detail)
        with self.lock:
            call.ended, call.done_at = True, _mono()
            call.ctx = None      # the rendered prompt and lead variables: not needed now
        if self.backend is not None and call.sid:
            self.backend.call_ended(call.sid, final.status, final.billed_minutes)

    def emit_conversation(self, call: LiveCall, session: Any, end: Any, detail: dict) -> None:
        """Report the relay session's conversation once (not for machines)."""
        with self.lock:
            if call.conversation_sent or call.machine_sent:
                return
            call.conversation_sent = True
        self._emit(call, EventKind.CONVERSATION, transcript=session.transcript_dicts(),
                   turns=session.caller_turns, end=end, detail=detail)

    def observe(self, call: LiveCall, kind: str, text: str, at_s: float) -> None:
        """Tell the observer (if any) what was just said; never fails the call."""
        if self.observer is None:
            return
        try:
            self.observer(call.call_id, kind, text, at_s)
        except Exception:  # noqa: BLE001 - a display problem must not end a call
            log.exception("observer failed for call %s", call.call_id)

    # -- helpers -------------------------------------------------------------------------
    def _spawn_thread(self, fn: Callable, *args: Any) -> None:
        # REST calls block; never on the event loop.
        self.rest_pool.submit(fn, *args)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reject(self, request: Request | WebSocket, reason: str) -> Response:
        self.stats["rejected"] += 1
        n = self.stats["rejected"]
        if n <= 20 or n % 100 == 0:       # a flood of forgeries must not flood the log
            client = request.client.host if request.client else "?"
            log.warning("rejected %s from %s: %s (%d rejected so far)", request.url.path,
                        client, reason, n)
        return Response("Forbidden", status_code=403, media_type="text/plain")

    def valid_signature(self, url: str, params: Any, signature: str | None,
                        settings: str | None = None) -> bool:
        """Twilio's validator over ``url``; ``settings`` is the request's
        ``X-Twilio-Webhooks-Signature-Settings`` (a SharedKey's algorithm), if any.

        The URL is tried as dialcli gave it to Twilio and with its host in lower case
        (what a client normalises a URL to); Twilio's validator tries each with and
        without the default port.
        """
        if not signature or self.backend is None:
            return False
        lowered = _lower_host(url)
        try:
            return any(self.backend.validate(u, params, signature, settings)
                       for u in dict.fromkeys((url, lowered)))
        except Exception:
            return False

    def signed_url(self, request: Request | WebSocket) -> str:
        """The URL Twilio requested and signed: the public base (never the local
        address the tunnel delivers to), the path as sent, the query string as sent."""
        raw = request.scope.get("raw_path")
        path = raw.decode("utf-8", "replace") if raw else request.url.path
        query = request.scope.get("query_string", b"").decode("utf-8", "replace")
        return self.public_url + path + ("?" + query if query else "")

    async def _await_sid(self, call: LiveCall, timeout: float = 15.0) -> str | None:
        # A callback can overtake the Calls.create response; wait for place() to finish.
        deadline = _mono() + timeout
        while call.sid_state == "pending" and _mono() < deadline and not self.stopping:
            await asyncio.sleep(0.005)
        return call.sid if call.sid_state == "known" else None

    async def _signed_form(self, request: Request) -> ImmutableMultiDict | Response:
        """The callback's form, once its signature and account are checked."""
        body = b""
        async for part in request.stream():
            body += part
            if len(body) > MAX_BODY:         # Twilio's callbacks are a few hundred bytes
                return self._reject(request, "oversized body")
        text = body.decode("utf-8", "replace")
        url = self.signed_url(request)
        signature = request.headers.get("x-twilio-signature")
        settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        if "bodySHA256" in parse_qs(urlsplit(url).query):
            # A JSON body: the signature covers the URL, whose bodySHA256 covers the
            # raw body (Twilio's validator checks both when given the body as text).
            form = json_form(text)
            valid = self.valid_signature(url, text, signature, settings)
        else:
            form = ImmutableMultiDict(parse_qsl(text, keep_blank_values=True))
            valid = self.valid_signature(url, form, signature, settings)
        if not valid:
            if settings and not self._shared_key_hinted:
                self._shared_key_hinted = True
                log.warning("Twilio signed a callback with a SharedKey (a Webhooks Rule "
                            "matches the public URL): set TWILIO_WEBHOOK_SHARED_KEY to its "
                            "secret, or remove the rule")
            return self._reject(request, "missing or invalid X-Twilio-Signature")
        if self.backend is None or form.get("AccountSid") != self.backend.account_sid:
            return self._reject(request, "AccountSid is not this account's")
        return form

    async def _authorize(self, request: Request
                         ) -> tuple[LiveCall, ImmutableMultiDict] | Response | None:
        """The call and form of a signed callback; a Response refusing it; or None for
        Twilio's callback about a call that is not open here (acknowledged, ignored)."""
        form = await self._signed_form(request)
        if isinstance(form, Response):
            return form
        call_id = request.path_params["call_id"]
        call = self.calls.get(call_id)
        if call is None:
            open_sid = await self._open_sid(call_id)
            if open_sid is None:
                log.info("callback for unknown call %s ignored", call_id)
                return None
            if open_sid != form.get("CallSid"):
                return self._reject(request, f"CallSid does not belong to call {call_id}")
            call = self.set_sid(call_id, open_sid)    # placed before a restart: adopt it
        sid = await self._await_sid(call)
        if sid is None and self.stopping:
            # The runner is stopping before it learnt this call's SID (a lost create
            # response): the next runner reconciles the call with Twilio instead.
            return Response("Shutting down", status_code=503, media_type="text/plain")
        if sid is None or form.get("CallSid") != sid:
            return self._reject(request, f"CallSid does not belong to call {call.call_id}")
        call.last_heard = _mono()
        self.stats["callbacks"] += 1
        return call, form

    async def first_time(self, call: LiveCall, event: str, sequence: str = "") -> bool:
        """True once per (CallSid, event, sequence); False for replays and retries."""
        key = (event, sequence)
        with self.lock:
            if key in call.seen:
                self.stats["duplicates"] += 1
                return False
            call.seen.add(key)
        if self._db_pool is None or call.sid is None:
            return True
        loop = asyncio.get_running_loop()
        try:
            fresh = await loop.run_in_executor(self._db_pool, self._db_record, call.sid, event,
                                               sequence, to_iso(self.clock.now()))
        except Exception as exc:  # the dedupe table is a second line; memory already decided
            log.warning("could not record callback %s/%s: %s", event, sequence, exc)
            return True
        if not fresh:
            self.stats["duplicates"] += 1
        return fresh

    def _db(self) -> Any:
        store = getattr(self._db_local, "store", None)
        if store is None:
            from dialcli.store import Store
            store = self._db_local.store = Store(self.store_path, migrate=False)
        return store

    def _db_record(self, sid: str, event: str, sequence: str, now_iso: str) -> bool:
        store = self._db()
        with store.tx():
            cur = store.execute(
                "INSERT OR IGNORE INTO provider_events (call_sid, event, sequence, received_at) "
                "VALUES (?, ?, ?, ?)", (sid, event, sequence, now_iso))
        return cur.rowcount == 1

    async def _open_sid(self, call_id: int) -> str | None:
        """The CallSid of call ``call_id`` if its row is still open (a call placed before
        a restart), else None."""
        if self._db_pool is None:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._db_pool, self._db_open_sid, call_id)
        except Exception:
            return None

    def _db_open_sid(self, call_id: int) -> str | None:
        return self._db().scalar(
            "SELECT provider_sid FROM calls WHERE id = ? AND disposition IS NULL", (call_id,))

    def _db_close(self) -> None:
        store = getattr(self._db_local, "store", None)
        if store is not None:
            store.close()
            self._db_local.store = None

    # -- HTTP endpoints --------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        nonce = request.query_params.get("nonce", "")[:128]
        return JSONResponse({"ok": True, "service": "dialcli", "nonce": nonce})

    async def twiml(self, request: Request) -> Response:
        got = await self._authorize(request)
        if got is None:                  # a call we no longer know: end it politely
            return Response(TWIML_HANGUP, media_type="text/xml")
        if isinstance(got, Response):
            return got
        call, form = got
        answered_by = form.get("AnsweredBy")
        if answered_by and await self.first_time(call, f"amd:{answered_by}"):
            self.on_answered_by(call, answered_by)     # synchronous AMD mode
        if call.ending or call.ctx is None or self.brain is None or self.backend is None:
            return Response(TWIML_HANGUP, media_type="text/xml")
        if call.machine_sent:
            # The voicemail action (a redirect or a hang-up) is already on its way.
            return Response(TWIML_HOLD, media_type="text/xml")
        urls = self.urls(call.call_id)
        return Response(self.backend.relay_twiml(call.ctx, urls["relay"], urls["action"]),
                        media_type="text/xml")

    async def status(self, request: Request) -> Response:
        got = await self._authorize(request)
        if got is None:
            return Response(status_code=204)
        if isinstance(got, Response):
            return got
        call, form = got
        raw = form.get("CallStatus", "")
        if not await self.first_time(call, f"status:{raw}", form.get("SequenceNumber", "")):
            return Response(status_code=204)
        # queued and initiated change nothing here: the call was PLACED by the create.
        if raw == "ringing":
            self.advance(call, RINGING)
        elif raw == "in-progress":
            self.advance(call, ANSWERED)
            answered_by = form.get("AnsweredBy", "")
            if answered_by and await self.first_time(call, f"amd:{answered_by}"):
                self.on_answered_by(call, answered_by)     # AMD's verdict rode along
        elif raw in FINAL_STATUSES:
            final = Final(CallStatus(raw), duration_s=_int(form.get("CallDuration")),
                          billed_minutes=_int(form.get("Duration")),
                          answered_by=form.get("AnsweredBy") or None,
                          error_code=_int(form.get("ErrorCode")),
                          sip_response_code=_int(form.get("SipResponseCode")))
            self.spawn(self.finish_async(call, final))
        return Response(status_code=204)

    async def amd(self, request: Request) -> Response:
        got = await self._authorize(request)
        if got is None:
            return Response(status_code=204)
        if isinstance(got, Response):
            return got
        call, form = got
        answered_by = form.get("AnsweredBy", "")
        if answered_by and await self.first_time(call, f"amd:{answered_by}"):
            self.on_answered_by(call, answered_by)
        return Response(status_code=204)

    async def recording(self, request: Request) -> Response:
        """Twilio's recording status callback: keep the recording's reference on the
        call row (SID, status, duration, resource URL), never the audio.

        Signed and account-checked like every callback; it usually arrives after the
        call has ended and may come after a restart, so it is matched to the row by
        call id *and* CallSid rather than to a live call. A replayed or late
        ``in-progress`` never overwrites a ``completed`` recording.
        """
        form = await self._signed_form(request)
        if isinstance(form, Response):
            return form
        rec_sid, call_sid = form.get("RecordingSid", ""), form.get("CallSid", "")
        if not rec_sid.startswith("RE") or not call_sid.startswith("CA"):
            return Response("RecordingSid and CallSid are required", status_code=400,
                            media_type="text/plain")
        if self._db_pool is None:
            return Response("No workspace", status_code=503, media_type="text/plain")
        self.stats["callbacks"] += 1
        status = form.get("RecordingStatus", "") or "completed"
        try:
            changed = await asyncio.get_running_loop().run_in_executor(
                self._db_pool, self._db_recording, request.path_params["call_id"], call_sid,
                rec_sid, status, _int(form.get("RecordingDuration")), form.get("RecordingUrl"))
        except Exception as exc:      # Twilio retries a failed callback
            log.warning("could not store recording %s: %s", rec_sid, exc)
            return Response("Try again", status_code=503, media_type="text/plain")
        if changed is None:
            return self._reject(request, "CallSid does not belong to this call")
        return Response(status_code=204)

    def _db_recording(self, call_id: int, call_sid: str, rec_sid: str, status: str,
                      duration: int | None, url: str | None) -> bool | None:
        store = self._db()
        with store.tx():
            # The engine writes a placed call's SID with its next turn's transaction, so a
            # short answered call's recording may arrive while the row has none yet (the
            # signed URL names this call, so Twilio placed it). Twilio does not retry a
            # refused recording callback: refusing it would lose the reference for good.
            if store.scalar("SELECT 1 FROM calls WHERE id = ? AND "
                            "(provider_sid = ? OR provider_sid IS NULL)",
                            (call_id, call_sid)) is None:
                return None
            cur = store.execute(
                "UPDATE calls SET recording_sid = ?, recording_status = ?, "
                "recording_duration_s = COALESCE(?, recording_duration_s), "
                "recording_url = COALESCE(?, recording_url) WHERE id = ? AND NOT "
                "(recording_sid = ? AND recording_status = 'completed' AND ? != 'completed')",
                (rec_sid, status, duration, url, call_id, rec_sid, status))
        return cur.rowcount > 0

    async def relay_action(self, request: Request) -> Response:
        got = await self._authorize(request)
        if got is None:                  # TwiML is expected: a call we no longer know ends
            return Response(TWIML_HANGUP, media_type="text/xml")
        if isinstance(got, Response):
            return got
        call, form = got
        if form.get("ErrorCode"):
            call.relay_error = _int(form.get("ErrorCode"))
            log.warning("ConversationRelay for call %s ended with Twilio error %s (%s)",
                        call.call_id, form.get("ErrorCode"), form.get("SessionStatus", ""))
        # The agent ended the session (or it broke): end the call either way. Resuming
        # with a new <Connect> would risk talking over a caller who already left.
        return Response(TWIML_HANGUP, media_type="text/xml")

    async def relay(self, ws: WebSocket) -> None:
        call_id = ws.path_params["call_id"]
        # Twilio signs the wss:// URL of the TwiML's ``url`` attribute, with no body.
        base = f"{self.ws_base}/relay/{call_id}"
        query = ws.scope.get("query_string", b"").decode("utf-8", "replace")
        tail = "?" + query if query else ""
        signature = ws.headers.get("x-twilio-signature")
        settings = ws.headers.get(SIGNATURE_SETTINGS_HEADER)
        if not (self.valid_signature(base + tail, {}, signature, settings)
                or self.valid_signature(base + "/" + tail, {}, signature, settings)):
            self._reject(ws, "WebSocket handshake without a valid X-Twilio-Signature")
            await ws.close(1008)
            return
        call = self.calls.get(call_id)
        with self.lock:
            ok = (call is not None and call.relay == "none" and not call.ending
                  and call.ctx is not None and self.brain is not None)
            if ok:
                assert call is not None
                call.relay, call.relay_ws = "active", ws
        if not ok:
            self._reject(ws, "no relay session expected for this call (replayed handshake?)")
            await ws.close(1008)
            return
        assert call is not None
        await ws.accept()
        with self.lock:
            self.stats["relay_active"] += 1
            self.stats["relay_peak"] = max(self.stats["relay_peak"], self.stats["relay_active"])
        try:
            await RelaySession(self, call, ws).run()
        finally:
            with self.lock:
                call.relay, call.relay_ws = "done", None
                self.stats["relay_active"] -= 1


def warm(pool: ThreadPoolExecutor, count: int, timeout_s: float = 10.0) -> None:
    """Start ``count`` of ``pool``'s threads now, on the calling thread: each task waits
    until all have been submitted, so every submit finds no idle thread and starts one."""
    release = threading.Event()
    try:
        for _ in range(count):
            pool.submit(release.wait, timeout_s)
    finally:
        release.set()


def is_machine(answered_by: str) -> bool:
    """An AMD verdict that means no person: ``machine_end_*``, ``fax``, and the Call
    resource's older plain ``machine``; ``machine_start`` is not a verdict yet."""
    return answered_by in MACHINE_VERDICTS or (answered_by.startswith("machine")
                                               and answered_by != "machine_start")


def json_form(text: str) -> ImmutableMultiDict:
    """A JSON callback body as form fields (strings, like a form-encoded one's);
    anything but a JSON object gives no fields."""
    try:
        data = json.loads(text)
    except ValueError:
        return ImmutableMultiDict()
    if not isinstance(data, dict):
        return ImmutableMultiDict()

    def as_text(value: Any) -> str:
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        return json.dumps(value, separators=(",", ":"))   # true/false, numbers, objects

    return ImmutableMultiDict([(str(k), as_text(v)) for k, v in data.items()])


def _lower_host(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def _int(value: str | None) -> int | None:
    """A count from a callback field (durations, error codes), or None.

    ASCII digits only and below 2**31: ``int()`` would take '٣', '-5' or forty
    nines, and the engine stores these in SQLite INTEGER columns.
    """
    if not value or len(value) > 10 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number < 2 ** 31 else None
