"""A local fake of Twilio, faithful at the wire: REST API + a call driver.

Used through the real ``twilio`` client (``TWILIO_API_BASE`` / ``TwilioCredentials.api_base``
= ``fake.base_url``) and, in the other direction, driving dialcli's callback server
exactly as Twilio does. Formats follow ../shared/research/twilio.md: JSON resources
with RFC 2822 dates and negative price strings, legacy error bodies
``{code, message, more_info, status}``, form-encoded signed callbacks, the
ConversationRelay JSON text protocol over a signed WebSocket handshake.

REST (HTTP Basic auth with the account SID and auth token; otherwise 401/20003)::

    POST /2010-04-01/Accounts/{AC}/Calls.json            create (starts the call driver)
    GET  /2010-04-01/Accounts/{AC}/Calls.json            list (To, From, Status, PageSize)
    GET  /2010-04-01/Accounts/{AC}/Calls/{CA}.json       fetch (price appears after the call)
    POST /2010-04-01/Accounts/{AC}/Calls/{CA}.json       update: Twiml / Url / Status
    GET  /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json   (PhoneNumber, paging)
    GET  /2010-04-01/Accounts/{AC}/OutgoingCallerIds.json
    GET  /2010-04-01/Accounts/{AC}/Recordings/{RE}.wav|.mp3   a Record=true call's audio
    GET  /2010-04-01/Accounts/{AC}.json

A create whose parameter values fall outside Twilio's documented sets and ranges is
refused as Twilio refuses it (``invalid_create``), so every test that places a call
checks what dialcli sends.

The call driver plays a ``Scenario`` chosen by the To number (``fake.script(to, ...)``):
status callbacks for the requested events (initiated, ringing, answered ->
``in-progress``, and the final status with CallDuration/Duration/SequenceNumber/
Timestamp), a signed TwiML fetch on answer, ``<ConversationRelay>`` -> a WebSocket client
that sends ``setup`` and plays the callee's lines (``say``, ``dtmf``,
``say_interrupting``, ``wait``, ``hangup``) and reads ``text``/``end``; the async AMD
callback (one, or ``machine_start`` then ``machine_end_*``); the ``<Connect action>``
callback after ``end``; call updates (Twiml with ``<Say>`` = a voicemail left;
``Status=completed`` = hung up). Faults: ``drop`` / ``duplicate`` / ``delay`` per
event, ``tunnel_down()`` (nothing reaches the laptop), ``fail_creates(code, times=N)``.

Everything is recorded for assertions: ``fake.calls[sid]`` (``FakeCall``: status,
``log`` of what happened, ``heard`` agent replies, ``said`` voicemail text, ``handoff``,
per-turn ``turn_ms``), ``fake.deliveries`` (every callback and its HTTP status),
``fake.creates`` (create parameters), ``fake.requests`` (REST method + path).

The tunnel: ``FakeTwilio(tunnel={"https://x.example": "http://127.0.0.1:PORT"})``
signs the public URL dialcli gave and connects to the local one, as a real tunnel does.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect as ws_connect

from dialcli.providers.twilio.server_thread import ServerThread

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")


def rfc2822(dt: datetime | None) -> str | None:
    return dt.strftime("%a, %d %b %Y %H:%M:%S +0000") if dt else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Step:
    kind: str                     # say | dtmf | say_interrupting | wait | hangup
    text: str = ""
    heard: str | None = ""
    after_tokens: int = 1
    seconds: float = 0.0


def say(text: str) -> Step:
    return Step("say", text)


def dtmf(digit: str) -> Step:
    return Step("dtmf", digit)


def say_interrupting(text: str, heard: str | None, after_tokens: int = 1) -> Step:
    """Say ``text``, then barge in after ``after_tokens`` reply tokens, having heard
    ``heard`` (None: a random whole-word prefix of the tokens received, as Twilio
    reports the words spoken before the interruption)."""
    return Step("say_interrupting", text, heard=heard, after_tokens=after_tokens)


def press_during(text: str, digit: str, after_tokens: int = 1) -> Step:
    """Say ``text``, then press ``digit`` after ``after_tokens`` reply tokens (mid-reply)."""
    return Step("press_during", text, heard=digit, after_tokens=after_tokens)


def wait(seconds: float) -> Step:
    return Step("wait", seconds=seconds)


def hangup() -> Step:
    return Step("hangup")


@dataclass
class Scenario:
    answer: str = "human"             # human | machine | fax | no-answer | busy | failed
    lines: list[Step] = field(default_factory=list)
    ring_s: float = 0.02
    amd: str | None = None            # default: human / machine_end_beep / fax
    amd_two_step: bool = False        # machine_start first, then the machine_end_* verdict
    amd_delay_s: float = 0.03
    talk_s: int | None = None         # CallDuration to report (default: measured)
    error_code: str | None = None     # ErrorCode of a failed call's final callback
    drop: frozenset = frozenset()     # events whose delivery is lost: initiated, ringing,
    duplicate: frozenset = frozenset()  # in-progress, completed (or any final), amd, twiml, relay
    delay: dict = field(default_factory=dict)   # event -> extra seconds (out of order)
    reply_timeout_s: float = 10.0
    machine_wait_s: float = 3.0       # a machine records this long unless dialcli acts
    stay_s: float = 0.0               # after the last line, wait this long for the agent to end
    price_after_fetches: int = 1      # fetches after the end before ``price`` is set
    # What the callee does in the first seconds (seconds after pick-up). A person says
    # ``hello`` at ``hello_at_s`` (None: waits silently for the agent, after the AMD
    # verdict); a machine plays ``machine_greeting`` from ``greeting_at_s`` over
    # ``greeting_s`` (one partial prompt per word when partialPrompts is on), then
    # beeps. ``greet_timeout_s``: how long a person waits to hear the agent.
    hello: str | None = None
    hello_at_s: float = 0.0
    machine_greeting: str = ""
    greeting_at_s: float = 0.3
    greeting_s: float = 1.0
    greet_timeout_s: float = 5.0
    lang: str = "en-US"
    # A callee who starts a line while the agent's reply is still coming talks over the
    # agent: Twilio then sends ``interrupt`` before the prompt (interruptible speech).
    # The fake notices the reply by reading for ``talk_over_s`` before it speaks; off
    # by default (most scenarios script their interruptions with say_interrupting).
    talk_over_s: float = 0.0


@dataclass(eq=False)
class FakeCall:
    sid: str
    to: str
    from_: str
    params: dict[str, list[str]]
    scenario: Scenario
    status: str = "queued"
    created: datetime = field(default_factory=_now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_mono: float | None = None
    duration: int | None = None
    answered_by: str | None = None
    seq: int = 0
    fetches_after_end: int = 0
    price: str | None = None
    log: list[tuple[str, Any]] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)      # agent replies the callee heard
    said: list[str] = field(default_factory=list)       # <Say> text played (voicemail)
    handoff: dict | None = None
    turn_ms: list[tuple[float, float]] = field(default_factory=list)  # (first token, last)
    relay_messages: list[dict] = field(default_factory=list)
    relay_attrs: dict[str, str] = field(default_factory=dict)   # the <ConversationRelay>
    #: the agent's talk cycle is open (a text token came, its ``last: true`` not yet)
    agent_talking: str | None = None
    #: seconds from the callee's first words (or the verdict) to the greeting's first token
    greeting_after_s: float | None = None
    #: agent text tokens that arrived while a machine was answering, before its verdict
    spoke_to_machine: list[str] = field(default_factory=list)
    update: asyncio.Event | None = None
    amd_done: asyncio.Event | None = None
    pending: dict | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def p(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[0] if values else default

    @property
    def ended(self) -> bool:
        return self.status in FINAL

    def events(self) -> list[str]:
        return [k for k, _ in self.log]


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, *,
                 tunnel: dict[str, str] | None = None, host: str = "127.0.0.1",
                 price_per_minute: float = 0.014, seed: int = 7):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.validator = RequestValidator(auth_token)
        self.tunnel = dict(tunnel or {})
        self.host = host
        self.price_per_minute = price_per_minute
        self.rng = random.Random(seed)
        self.scenarios: dict[str, Scenario] = {}
        self.default = Scenario(lines=[say("Hello?"), hangup()])
        self.calls: dict[str, FakeCall] = {}
        self.creates: list[dict[str, list[str]]] = []
        self.create_times: list[float] = []
        self.requests: list[tuple[str, str]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.numbers: list[dict[str, Any]] = []
        self.caller_ids: list[dict[str, Any]] = []
        self.account_type = "Full"
        self.max_page_size = 1000          # Twilio's cap; lower it to exercise paging
        self.account_status = "active"
        self.tunnel_is_down = False
        self._faults: list[dict[str, Any]] = []
        self.down: dict[str, Any] | None = None     # outage(): every REST request fails
        self._tasks: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None
        self._lock = threading.Lock()
        self.server: ServerThread | None = None
        prefix = "/2010-04-01/Accounts/{account}"
        self.app = Starlette(routes=[
            Route(prefix + ".json", self.r_account, methods=["GET"]),
            Route(prefix + "/Calls.json", self.r_calls_create, methods=["POST"]),
            Route(prefix + "/Calls.json", self.r_calls_list, methods=["GET"]),
            Route(prefix + "/Calls/{sid}.json", self.r_call_fetch, methods=["GET"]),
            Route(prefix + "/Calls/{sid}.json", self.r_call_update, methods=["POST"]),
            Route(prefix + "/IncomingPhoneNumbers.json", self.r_numbers, methods=["GET"]),
            Route(prefix + "/OutgoingCallerIds.json", self.r_caller_ids, methods=["GET"]),
            Route(prefix + "/Recordings/{sid}.{ext}", self.r_recording_media, methods=["GET"]),
        ])
        self.recordings: dict[str, bytes] = {}    # RecordingSid -> the (fake) audio

    # -- control -----------------------------------------------------------------------
    def start(self) -> "FakeTwilio":
        self.server = ServerThread(self.app, self.host, 0, name="fake twilio").start()
        return self

    def stop(self) -> None:
        if self.server is not None and self.server.loop is not None and self._http is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._http.aclose(), self.server.loop).result(2)
            except Exception:
                pass
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> "FakeTwilio":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.local_url

    def script(self, to: str, scenario: Scenario) -> None:
        self.scenarios[to] = scenario

    def fail_creates(self, code: int | None, *, times: int = 1, to: str | None = None,
                     status: int | None = None, created: bool = False,
                     message: str | None = None) -> None:
        """The next ``times`` creates (to ``to``, or any) fail with Twilio error ``code``
        (None: a bare HTTP ``status`` with a plain-text body, as a proxy in front of
        Twilio answers).

        ``created=True`` makes a real call *and* answers 500: the ambiguous case.
        """
        if code is None:
            assert status is not None, "a bare HTTP error needs its status"
        self._faults.append({"code": code, "times": times, "to": to, "created": created,
                             "status": status or (429 if code == 20429 else
                                                  500 if code >= 500 and code < 600 else 400),
                             "message": message or f"Fake Twilio error {code}"})

    def outage(self, *, status: int = 500, created: bool = False) -> None:
        """Every REST request answers ``status`` until ``outage_over``; with ``created``,
        a create still makes the call before answering it (the worst case: calls ring
        and nobody can tell)."""
        self.down = {"status": status, "created": created}

    def outage_over(self) -> None:
        self.down = None

    def add_number(self, e164: str, *, voice: bool = True, label: str | None = None) -> None:
        self.numbers.append({"e164": e164, "voice": voice, "label": label or e164,
                             "sid": "PN" + format(len(self.numbers) + 1, "032x")})

    def add_caller_id(self, e164: str, label: str | None = None) -> None:
        self.caller_ids.append({"e164": e164, "label": label or e164,
                                "sid": "PN" + format(1000 + len(self.caller_ids), "032x")})

    def tunnel_down(self) -> None:
        self.tunnel_is_down = True

    def tunnel_up(self) -> None:
        self.tunnel_is_down = False

    def wait_idle(self, timeout: float = 20.0) -> bool:
        """Block until every call so far has ended (and its final callback was sent)."""
        deadline = time.monotonic() + timeout
        for call in list(self.calls.values()):
            if not call.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def by_to(self, to: str) -> list[FakeCall]:
        return [c for c in self.calls.values() if c.to == to]

    # -- REST --------------------------------------------------------------------------
    def _error(self, status: int, code: int | None, message: str) -> Response:
        if code is None:
            return Response(message, status_code=status, media_type="text/plain")
        return JSONResponse({"code": code, "message": message, "status": status,
                             "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                            status_code=status)

    def _auth(self, request: Request) -> JSONResponse | None:
        self.requests.append((request.method, request.url.path))
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if header != f"Basic {expected}" or request.path_params.get("account") != self.account_sid:
            return self._error(401, 20003, "Authenticate")
        down = self.down
        if down is not None and not (down["created"] and request.method == "POST"
                                     and request.url.path.endswith("/Calls.json")):
            return self._error(down["status"], 20500, "Internal Server Error")
        return None

    async def _form(self, request: Request) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k, v in parse_qsl((await request.body()).decode(), keep_blank_values=True):
            out.setdefault(k, []).append(v)
        return out

    def _call_json(self, c: FakeCall) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{c.sid}.json"
        return {
            "sid": c.sid, "account_sid": self.account_sid, "to": c.to, "to_formatted": c.to,
            "from": c.from_, "from_formatted": c.from_, "status": c.status,
            "date_created": rfc2822(c.created), "date_updated": rfc2822(_now()),
            "start_time": rfc2822(c.start_time), "end_time": rfc2822(c.end_time),
            "duration": None if c.duration is None else str(c.duration),
            "price": c.price, "price_unit": "USD", "direction": "outbound-api",
            "answered_by": c.answered_by, "api_version": "2010-04-01", "queue_time": "0",
            "parent_call_sid": None, "phone_number_sid": None, "forwarded_from": None,
            "group_sid": None, "caller_name": None, "trunk_sid": None, "uri": uri,
            "subresource_uris": {},
        }

    async def r_account(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        return JSONResponse({"sid": self.account_sid, "friendly_name": "Fake account",
                             "status": self.account_status, "type": self.account_type,
                             "owner_account_sid": self.account_sid,
                             "date_created": rfc2822(_now()), "date_updated": rfc2822(_now()),
                             "uri": f"/2010-04-01/Accounts/{self.account_sid}.json",
                             "subresource_uris": {}, "auth_token": "hidden"})

    def _take_fault(self, to: str) -> dict[str, Any] | None:
        with self._lock:
            for fault in self._faults:
                if fault["times"] > 0 and fault["to"] in (None, to):
                    fault["times"] -= 1
                    return fault
        return None

    async def r_calls_create(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        form = await self._form(request)
        self.creates.append(form)
        self.create_times.append(time.monotonic())
        to, from_ = (form.get("To") or [""])[0], (form.get("From") or [""])[0]
        fault = self._take_fault(to)
        if fault is not None and not fault["created"]:
            return self._error(fault["status"], fault["code"], fault["message"])
        if not to or not from_:
            return self._error(400, 21213 if not from_ else 21201, "To and From are required")
        if not E164.match(to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not (form.get("Url") or form.get("Twiml")):
            return self._error(400, 21205, "Url or Twiml is required")
        invalid = invalid_create(form)
        if invalid is not None:
            return self._error(400, *invalid)
        sid = "CA" + format(self.rng.getrandbits(128), "032x")
        call = FakeCall(sid, to, from_, form, self.scenarios.get(to, self.default))
        self.calls[sid] = call
        self._spawn(self._drive(call))
        if fault is not None:
            return self._error(fault["status"], fault["code"], fault["message"])
        if self.down is not None:
            return self._error(self.down["status"], 20500, "Internal Server Error")
        return JSONResponse(self._call_json(call), status_code=201)

    async def r_calls_list(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        q = request.query_params
        rows = sorted(self.calls.values(), key=lambda c: c.created, reverse=True)
        if q.get("To"):
            rows = [c for c in rows if c.to == q["To"]]
        if q.get("From"):
            rows = [c for c in rows if c.from_ == q["From"]]
        if q.get("Status"):
            rows = [c for c in rows if c.status == q["Status"]]
        size = min(int(q.get("PageSize", 50)), self.max_page_size)
        page = int(q.get("Page", 0))
        chunk = rows[page * size:(page + 1) * size]
        return JSONResponse(self._page("calls", [self._call_json(c) for c in chunk], page, size,
                                       len(rows), request))

    def _page(self, key: str, items: list, page: int, size: int, total: int,
              request: Request) -> dict[str, Any]:
        path = request.url.path
        has_next = (page + 1) * size < total
        return {key: items, "page": page, "page_size": size, "start": page * size,
                "end": page * size + max(0, len(items) - 1), "uri": f"{path}?PageSize={size}&Page={page}",
                "first_page_uri": f"{path}?PageSize={size}&Page=0",
                "next_page_uri": f"{path}?PageSize={size}&Page={page + 1}" if has_next else None,
                "previous_page_uri": f"{path}?PageSize={size}&Page={page - 1}" if page else None}

    async def r_call_fetch(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        call = self.calls.get(request.path_params["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        if call.ended:
            call.fetches_after_end += 1
            if (call.price is None and call.status == "completed"
                    and call.fetches_after_end > call.scenario.price_after_fetches):
                minutes = math.ceil((call.duration or 0) / 60)
                call.price = f"-{minutes * self.price_per_minute:.5f}"
        return JSONResponse(self._call_json(call))

    async def r_call_update(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        call = self.calls.get(request.path_params["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        form = await self._form(request)
        if call.ended:
            return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
        call.log.append(("update", {k: v[0] for k, v in form.items()}))
        call.pending = {k: v[0] for k, v in form.items()}
        if call.update is not None:
            call.update.set()
        return JSONResponse(self._call_json(call))

    async def r_numbers(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        q = request.query_params
        rows = [n for n in self.numbers if not q.get("PhoneNumber") or n["e164"] == q["PhoneNumber"]]
        size = min(int(q.get("PageSize", 50)), self.max_page_size)
        page = int(q.get("Page", 0))
        items = [{"sid": n["sid"], "account_sid": self.account_sid, "phone_number": n["e164"],
                  "friendly_name": n["label"], "status": "in-use",
                  "capabilities": {"voice": n["voice"], "sms": True, "mms": False, "fax": False},
                  "date_created": rfc2822(_now())} for n in rows[page * size:(page + 1) * size]]
        return JSONResponse(self._page("incoming_phone_numbers", items, page, size, len(rows),
                                       request))

    async def r_caller_ids(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        items = [{"sid": c["sid"], "account_sid": self.account_sid, "phone_number": c["e164"],
                  "friendly_name": c["label"]} for c in self.caller_ids]
        return JSONResponse(self._page("outgoing_caller_ids", items, 0, 1000, len(items), request))

    # -- delivering to dialcli -----------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _local(self, url: str) -> str | None:
        """The address a public URL reaches through the tunnel (None: tunnel down)."""
        for public, local in self.tunnel.items():
            for p, l in ((public, local), ("ws" + public[4:], "ws" + local[4:])):
                if url.startswith(p + "/") or url == p:
                    return None if self.tunnel_is_down else l + url[len(p):]
        return None if self.tunnel_is_down else url

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, trust_env=False,
                                           limits=httpx.Limits(max_connections=1000))
        return self._http

    async def post(self, call: FakeCall, event: str, url: str | None,
                   params: dict[str, str]) -> httpx.Response | None:
        """Sign and POST a callback as Twilio does; applies drop/duplicate/delay faults."""
        if not url:
            return None
        sc = call.scenario
        key = "final" if event in FINAL else event
        if event in sc.drop or key in sc.drop or "all" in sc.drop:
            self.deliveries.append({"sid": call.sid, "event": event, "status": "dropped"})
            return None
        delay = sc.delay.get(event, sc.delay.get(key, 0.0))
        twice = event in sc.duplicate or key in sc.duplicate
        if delay:
            self._spawn(self._post_later(call, event, url, params, delay, twice))
            return None
        response = await self._send(call, event, url, params)
        if twice:
            await self._send(call, event, url, params)
        return response

    async def _post_later(self, call, event, url, params, delay, twice) -> None:
        await asyncio.sleep(delay)
        for _ in range(2 if twice else 1):
            await self._send(call, event, url, params)

    async def _send(self, call: FakeCall, event: str, url: str,
                    params: dict[str, str]) -> httpx.Response | None:
        local = self._local(url)
        record = {"sid": call.sid, "event": event, "url": url, "params": params}
        if local is None:
            record["status"] = "unreachable"
            self.deliveries.append(record)
            return None
        signature = self.validator.compute_signature(url, params)
        try:
            response = await self.http.post(local, data=params,
                                            headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError as exc:
            record["status"] = f"error: {type(exc).__name__}"
            self.deliveries.append(record)
            return None
        record["status"] = response.status_code
        self.deliveries.append(record)
        return response

    def _base_params(self, call: FakeCall) -> dict[str, str]:
        return {"AccountSid": self.account_sid, "CallSid": call.sid, "From": call.from_,
                "To": call.to, "Direction": "outbound-api", "ApiVersion": "2010-04-01",
                "CallStatus": call.status, "Called": call.to, "Caller": call.from_,
                "CalledCountry": "US", "ForwardedFrom": "", "CallerName": "", "ParentCallSid": ""}

    async def _progress(self, call: FakeCall, status: str, event: str | None = None) -> None:
        call.status = status
        call.log.append((status, None))
        requested = set(call.params.get("StatusCallbackEvent", []))
        event = event or status
        if status not in FINAL and event not in requested:
            return
        params = self._base_params(call)
        params.update({"CallbackSource": "call-progress-events", "SequenceNumber": str(call.seq),
                       "Timestamp": rfc2822(_now()) or ""})
        call.seq += 1
        if status in FINAL:
            params["CallDuration"] = str(call.duration or 0)
            params["SipResponseCode"] = {"completed": "200", "busy": "486", "no-answer": "487",
                                         "failed": "404", "canceled": "487"}[status]
            if status == "completed":
                params["Duration"] = str(math.ceil((call.duration or 0) / 60))
            if call.answered_by:
                params["AnsweredBy"] = call.answered_by
            if status == "failed" and call.scenario.error_code:
                params["ErrorCode"] = call.scenario.error_code
        await self.post(call, status, call.p("StatusCallback"), params)

    # -- the call driver ----------------------------------------------------------------
    async def _drive(self, call: FakeCall) -> None:
        await asyncio.sleep(0)          # let the create response go out first
        sc = call.scenario
        try:
            call.start_time = _now()
            await self._progress(call, "initiated")
            await asyncio.sleep(sc.ring_s / 2)
            if sc.answer == "failed":
                return await self._end(call, "failed")
            await self._progress(call, "ringing")
            await asyncio.sleep(sc.ring_s)
            if call.pending and call.pending.get("Status") in ("canceled", "completed"):
                return await self._end(call, "canceled")
            if sc.answer in ("busy", "no-answer"):
                return await self._end(call, sc.answer)
            call.answered_mono = time.monotonic()
            call.update = asyncio.Event()
            await self._progress(call, "in-progress", "answered")
            if call.p("MachineDetection") and call.p("AsyncAmd") == "true":
                call.amd_done = asyncio.Event()
                self._spawn(self._amd(call))
            doc = await self._fetch_twiml(call, call.p("Url"), "twiml") if call.p("Url") \
                else call.p("Twiml")
            await self._run_twiml(call, doc)
        except Exception as exc:  # a fake bug must show up in the test, not hang it
            call.log.append(("driver-error", repr(exc)))
        finally:
            if not call.ended:
                await self._end(call, "completed")

    async def _end(self, call: FakeCall, status: str) -> None:
        if call.ended:
            return
        if call.answered_mono is not None and status == "completed":
            measured = math.ceil(time.monotonic() - call.answered_mono)
            call.duration = call.scenario.talk_s if call.scenario.talk_s is not None else measured
        else:
            call.duration = 0
        call.end_time = _now()
        await self._progress(call, status)
        if call.p("Record") == "true":
            await self._recording(call)
        call.done.set()

    async def _recording(self, call: FakeCall) -> None:
        """Record=true: the recording status callback Twilio sends after an answered
        call (a recording starts at pick-up, so an unanswered call has none), signed like
        every callback, when ``completed`` is among the events asked for (the default)."""
        requested = set(call.params.get("RecordingStatusCallbackEvent", [])) or {"completed"}
        answered = call.answered_mono is not None and call.status == "completed"
        if not answered:
            return
        status = "completed"
        rec_sid = "RE" + call.sid[2:]
        params = {"AccountSid": self.account_sid, "CallSid": call.sid,
                  "RecordingSid": rec_sid, "RecordingStatus": status,
                  "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                                  f"{self.account_sid}/Recordings/{rec_sid}",
                  "RecordingDuration": str(call.duration or 0) if answered else "0",
                  "RecordingChannels": "2" if call.p("RecordingChannels") == "dual" else "1",
                  "RecordingSource": "OutboundAPI", "RecordingStartTime": rfc2822(_now()) or "",
                  "ErrorCode": "0"}
        if answered:
            self.recordings[rec_sid] = b"RIFF" + call.sid.encode() + b"WAVEfmt fake audio"
        call.log.append(("recording", status))
        if status in requested:
            await self.post(call, f"recording:{status}", call.p("RecordingStatusCallback"),
                            params)

    async def r_recording_media(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        audio = self.recordings.get(request.path_params["sid"])
        if audio is None or request.path_params["ext"] not in ("wav", "mp3"):
            return self._error(404, 20404, "The requested resource was not found")
        kind = "audio/x-wav" if request.path_params["ext"] == "wav" else "audio/mpeg"
        return Response(audio, media_type=kind)

    async def _amd(self, call: FakeCall) -> None:
        sc = call.scenario
        verdict = sc.amd or {"human": "human", "machine": "machine_end_beep",
                             "fax": "fax"}.get(sc.answer, "unknown")
        verdicts = (["machine_start", verdict] if sc.amd_two_step else [verdict])
        try:
            for i, value in enumerate(verdicts):
                await asyncio.sleep(sc.amd_delay_s * (1 + i))
                if call.ended:
                    return
                call.answered_by = value
                params = {"AccountSid": self.account_sid, "CallSid": call.sid,
                          "AnsweredBy": value,
                          "MachineDetectionDuration": str(int(sc.amd_delay_s * 1000 * (1 + i)))}
                call.log.append(("amd", value))
                await self.post(call, "amd", call.p("AsyncAmdStatusCallback"), params)
        finally:
            assert call.amd_done is not None
            call.amd_done.set()

    async def _fetch_twiml(self, call: FakeCall, url: str | None, event: str,
                           extra: dict[str, str] | None = None) -> str | None:
        params = self._base_params(call)
        params.update(extra or {})
        response = await self.post(call, event, url, params)
        if response is None or response.status_code != 200:
            call.log.append(("application-error", None if response is None else response.status_code))
            return None
        return response.text

    async def _run_twiml(self, call: FakeCall, doc: str | None, depth: int = 0) -> None:
        """Execute a TwiML document; a call update interrupts it and runs instead."""
        assert call.update is not None
        while depth < 6 and not call.ended:
            if call.pending is not None:
                update, call.pending = call.pending, None
                call.update.clear()
                depth += 1
                if update.get("Status") in ("completed", "canceled"):
                    call.log.append(("hung-up-by-api", None))
                    return
                if update.get("Twiml"):
                    doc = update["Twiml"]
                elif update.get("Url"):
                    doc = await self._fetch_twiml(call, update["Url"], "redirect")
                continue
            if doc is None:
                return
            runner = asyncio.ensure_future(self._execute(call, doc))
            waiter = asyncio.ensure_future(call.update.wait())
            done, _ = await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if runner in done:
                waiter.cancel()
                doc = runner.result()
                depth += 1
                continue
            runner.cancel()
            try:
                await runner
            except (asyncio.CancelledError, Exception):
                pass
            doc = None      # the update (handled at the top) replaces the document

    async def _execute(self, call: FakeCall, doc: str) -> str | None:
        """Run verbs; returns a follow-up document (from an action URL) or None."""
        try:
            root = ET.fromstring(doc)
        except ET.ParseError:
            call.log.append(("bad-twiml", doc[:200]))
            return None
        for verb in root:
            if verb.tag == "Say":
                call.said.append(verb.text or "")
                call.log.append(("say", verb.text or ""))
                await asyncio.sleep(0.01)
                if call.scenario.answer in ("machine", "fax"):
                    call.log.append(("voicemail-recorded", verb.text or ""))
            elif verb.tag == "Pause":
                await asyncio.sleep(0.01)
            elif verb.tag == "Hangup":
                call.log.append(("hangup-verb", None))
                return None
            elif verb.tag == "Connect":
                relay = verb.find("ConversationRelay")
                if relay is None:
                    return None
                outcome = await self._relay(call, relay)
                if outcome.get("callee_hung_up"):
                    return None
                action = verb.get("action")
                if action:
                    return await self._fetch_twiml(call, action, "relay-action", outcome["action"])
                return None
        return None

    async def _relay(self, call: FakeCall, el: ET.Element) -> dict[str, Any]:
        """The ConversationRelay session: a WebSocket client playing the callee."""
        url = el.get("url", "")
        call.log.append(("relay-connect", url))
        call.relay_attrs = dict(el.attrib)
        greeting = el.get("welcomeGreeting", "")
        if greeting:
            # Twilio speaks it the moment the call connects, before any AMD verdict.
            call.heard.append(greeting)
            if call.scenario.answer in ("machine", "fax"):
                call.spoke_to_machine.append(greeting)
        session_id = "VX" + format(self.rng.getrandbits(128), "032x")
        action = {"SessionId": session_id, "SessionStatus": "ended", "HandoffData": "",
                  "SessionDuration": "0"}
        sc = call.scenario
        local = self._local(url)
        if local is None or "relay" in sc.drop:
            call.log.append(("relay-failed", "unreachable"))
            return {"action": {**action, "SessionStatus": "failed", "ErrorCode": "64101"}}
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, {})}
        started = time.monotonic()
        try:
            async with ws_connect(local, additional_headers=headers, proxy=None,
                                  open_timeout=5, ping_interval=None, max_queue=None) as ws:
                params = {p.get("name"): p.get("value") for p in el.findall("Parameter")}
                await ws.send(json.dumps({
                    "type": "setup", "sessionId": session_id, "accountSid": self.account_sid,
                    "parentCallSid": "", "callSid": call.sid, "from": call.from_, "to": call.to,
                    "forwardedFrom": "", "callType": "PSTN", "callerName": "",
                    "direction": "outbound", "callStatus": "IN-PROGRESS",
                    "customParameters": params}))
                hung_up = await self._callee(call, ws)
        except Exception as exc:
            call.log.append(("relay-failed", type(exc).__name__))
            return {"action": {**action, "SessionStatus": "failed", "ErrorCode": "64101"}}
        action["SessionDuration"] = str(int(time.monotonic() - started))
        if call.handoff is not None:
            action["HandoffData"] = json.dumps(call.handoff)
        return {"action": action, "callee_hung_up": hung_up}

    async def _callee(self, call: FakeCall, ws: Any) -> bool:
        """Play the scenario's lines; True when the callee hung up (vs. the agent ended)."""
        sc = call.scenario
        if sc.answer in ("machine", "fax"):
            return await self._machine(call, ws)
        answered = call.answered_mono or time.monotonic()
        if sc.hello is not None:
            await asyncio.sleep(max(0.0, answered + sc.hello_at_s - time.monotonic()))
            await self._speak(call, ws, sc.hello)
            call.log.append(("callee-said", sc.hello))
            trigger = time.monotonic()
        else:
            if call.amd_done is not None:
                # Detection classifies a person by their first words ("Hello?"), so
                # the verdict is in before the conversation gets going.
                try:
                    await asyncio.wait_for(call.amd_done.wait(), sc.amd_delay_s * 2 + 2)
                except asyncio.TimeoutError:
                    pass
            trigger = time.monotonic()
        if not call.heard:
            # The agent's first words (no welcomeGreeting): a person waits for them.
            got: list[float] = []
            if await self._read(call, ws, timeout=sc.greet_timeout_s, first_at=got):
                return False
            if got:
                call.greeting_after_s = got[0] - trigger
        for step in sc.lines:
            if step.kind == "say" and sc.talk_over_s:
                if await self._read(call, ws, until_last=False, timeout=sc.talk_over_s):
                    return False
                if call.agent_talking is not None:
                    await ws.send(json.dumps({"type": "interrupt", "utteranceUntilInterrupt":
                                              call.agent_talking,
                                              "durationUntilInterruptMs": 300}))
                    call.log.append(("callee-talked-over", call.agent_talking))
                    call.agent_talking = None
            if step.kind == "say":
                # With partialPrompts on, the growing transcript comes first: the
                # brain must still get the utterance once.
                await self._speak(call, ws, step.text)
                call.log.append(("callee-said", step.text))
                if await self._read(call, ws):
                    return False
            elif step.kind == "dtmf":
                await ws.send(json.dumps({"type": "dtmf", "digit": step.text}))
                call.log.append(("callee-pressed", step.text))
                # A key that means nothing gets no reply: wait a moment, not a turn.
                if await self._read(call, ws, timeout=min(sc.reply_timeout_s, 1.0)):
                    return False
            elif step.kind == "say_interrupting":
                await ws.send(json.dumps({"type": "prompt", "voicePrompt": step.text,
                                          "lang": "en-US", "last": True}))
                call.log.append(("callee-said", step.text))
                if await self._read(call, ws, stop_after=step.after_tokens):
                    return False
                heard = step.heard
                if heard is None:
                    words = (call.heard[-1] if call.heard else "").split()
                    heard = " ".join(words[:self.rng.randint(1, max(1, len(words)))])
                await ws.send(json.dumps({"type": "interrupt", "utteranceUntilInterrupt":
                                          heard, "durationUntilInterruptMs": 400}))
                call.log.append(("callee-interrupted", heard))
                # Whatever the agent still sends for that reply is not heard.
                if await self._read(call, ws, until_last=False, timeout=0.05, record=False):
                    return False
            elif step.kind == "press_during":
                await ws.send(json.dumps({"type": "prompt", "voicePrompt": step.text,
                                          "lang": sc.lang, "last": True}))
                call.log.append(("callee-said", step.text))
                if await self._read(call, ws, stop_after=step.after_tokens):
                    return False
                await ws.send(json.dumps({"type": "dtmf", "digit": step.heard}))
                call.log.append(("callee-pressed", step.heard))
                if await self._read(call, ws):
                    return False
            elif step.kind == "wait":
                if await self._read(call, ws, until_last=False, timeout=step.seconds):
                    return False
            elif step.kind == "hangup":
                call.log.append(("callee-hung-up", None))
                return True
        if sc.stay_s and await self._read(call, ws, until_last=False, timeout=sc.stay_s):
            return False
        call.log.append(("callee-hung-up", None))
        return True

    async def _speak(self, call: FakeCall, ws: Any, text: str, *,
                     seconds: float = 0.0) -> None:
        """The callee says ``text`` over ``seconds``: partial prompts (growing, one per
        word) when the TwiML asked for partialPrompts, then the final prompt."""
        words = text.split()
        lang = call.scenario.lang
        if call.relay_attrs.get("partialPrompts") == "true" and len(words) > 1:
            for i in range(1, len(words)):
                await asyncio.sleep(seconds / len(words))
                await ws.send(json.dumps({"type": "prompt", "voicePrompt": " ".join(words[:i]),
                                          "lang": lang, "last": False}))
            await asyncio.sleep(seconds / len(words))
        elif seconds:
            await asyncio.sleep(seconds)
        await ws.send(json.dumps({"type": "prompt", "voicePrompt": text, "lang": lang,
                                  "last": True}))

    async def _machine(self, call: FakeCall, ws: Any) -> bool:
        """An answering machine: its greeting goes into the relay's transcription (it
        is audio on the line), then the beep; it records until dialcli acts. Every
        agent token that arrives before the machine verdict was spoken to it."""
        sc = call.scenario

        async def listen() -> None:
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    call.relay_messages.append(msg)
                    if msg.get("type") == "text" and msg.get("token"):
                        call.heard.append(msg["token"])
                        if not (call.answered_by or "").startswith(("machine_end", "fax")):
                            call.spoke_to_machine.append(msg["token"])
            except Exception:
                pass

        listener = asyncio.ensure_future(listen())
        try:
            if sc.machine_greeting:
                start = (call.answered_mono or time.monotonic()) + sc.greeting_at_s
                await asyncio.sleep(max(0.0, start - time.monotonic()))
                # " | " separates utterances (a pause the transcriber ends a prompt at).
                parts = [p for p in sc.machine_greeting.split(" | ") if p.strip()]
                for part in parts:
                    await self._speak(call, ws, part,
                                      seconds=sc.greeting_s * len(part) / len(sc.machine_greeting))
                    call.log.append(("machine-greeting", part))
            await asyncio.wait_for(asyncio.shield(listener), sc.machine_wait_s)
        except asyncio.TimeoutError:
            pass
        except Exception:
            pass
        finally:
            listener.cancel()
        return True

    async def _read(self, call: FakeCall, ws: Any, *, until_last: bool = True,
                    timeout: float | None = None, stop_after: int | None = None,
                    record: bool = True, first_at: list[float] | None = None) -> bool:
        """Read agent messages; True when the agent sent ``end`` (or closed)."""
        timeout = call.scenario.reply_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        sent_at = time.monotonic()
        tokens: list[str] = []
        first: float | None = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if until_last and stop_after is None:
                    call.log.append(("reply-timeout", None))
                break
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            except Exception:
                call.log.append(("relay-closed-by-agent", None))
                return True
            msg = json.loads(raw)
            call.relay_messages.append(msg)
            if msg.get("type") == "text":
                call.agent_talking = None if msg.get("last") else \
                    (call.agent_talking or "") + msg.get("token", "")
                if first is None:
                    first = time.monotonic()
                    if first_at is not None:
                        first_at.append(first)
                tokens.append(msg.get("token", ""))
                if stop_after is not None and len([t for t in tokens if t]) >= stop_after:
                    break
                if msg.get("last") and until_last:
                    call.turn_ms.append(((first - sent_at) * 1000,
                                         (time.monotonic() - sent_at) * 1000))
                    # An ``end`` right behind the goodbye belongs to this reply.
                    until_last = False
                    deadline = min(deadline, time.monotonic() + 0.05)
            elif msg.get("type") == "end":
                try:
                    call.handoff = json.loads(msg.get("handoffData") or "{}")
                except ValueError:
                    call.handoff = {"raw": msg.get("handoffData")}
                call.log.append(("agent-ended", call.handoff))
                if record and tokens:
                    call.heard.append("".join(tokens))
                return True
        if record and tokens:
            call.heard.append("".join(tokens))
        return False


#: Calls.create parameters whose values Twilio enumerates (twilio-oai
#: spec/json/twilio_api_v2010.json, CreateCallRequest; research/twilio.md section 1).
CREATE_ENUMS = {
    "Method": {"GET", "POST"}, "StatusCallbackMethod": {"GET", "POST"},
    "AsyncAmdStatusCallbackMethod": {"GET", "POST"},
    "RecordingStatusCallbackMethod": {"GET", "POST"},
    "StatusCallbackEvent": {"initiated", "ringing", "answered", "completed"},
    "MachineDetection": {"Enable", "DetectMessageEnd"},
    "AsyncAmd": {"true", "false"}, "Record": {"true", "false"},
    "RecordingChannels": {"mono", "dual"},
    "RecordingStatusCallbackEvent": {"in-progress", "completed", "absent"},
    "Trim": {"trim-silence", "do-not-trim"},
}
#: Integer parameters and their documented range.
CREATE_RANGES = {"Timeout": (1, 600), "TimeLimit": (1, 86400),
                 "MachineDetectionTimeout": (3, 59),
                 "MachineDetectionSpeechThreshold": (1000, 6000),
                 "MachineDetectionSpeechEndThreshold": (500, 5000),
                 "MachineDetectionSilenceTimeout": (2000, 10000)}
URL_PARAMS = ("Url", "StatusCallback", "AsyncAmdStatusCallback", "RecordingStatusCallback",
              "FallbackUrl")


def invalid_create(form: dict[str, list[str]]) -> tuple[int, str] | None:
    """Twilio's refusal of a create whose parameters break the documented values, as
    (error code, message); None when the values are valid. The codes are the fake's
    choice except 21234 (invalid Machine Detection configuration) and 21205 (Url)."""
    for name, allowed in CREATE_ENUMS.items():
        for value in form.get(name, []):
            if value not in allowed:
                code = 21234 if name in ("MachineDetection", "AsyncAmd") else 21200
                return code, f"Invalid {name}: {value!r} (one of {sorted(allowed)})"
    for name, (low, high) in CREATE_RANGES.items():
        for value in form.get(name, []):
            if not value.isdigit() or not low <= int(value) <= high:
                code = 21234 if name.startswith("MachineDetection") else 21200
                return code, f"Invalid {name}: {value!r} ({low}..{high})"
    for name in URL_PARAMS:
        for value in form.get(name, []):
            if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
                return 21205, f"Invalid {name}: {value!r}"
    if len((form.get("Twiml") or [""])[0]) > 4000:
        return 21200, "Twiml is longer than 4000 characters"
    return None


_counter = itertools.count(1)


def public_url_for(port: int) -> str:
    """A made-up public tunnel host for a local port (signatures use it, not 127.0.0.1)."""
    return f"https://dialcli-{port}-{next(_counter)}.tunnel.example"


def split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


class EventRecorder:
    """An ``EventSink`` that records events: the engine's stand-in in provider tests."""

    lazy_progress = False

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._cv = threading.Condition()

    def emit(self, event: Any) -> None:
        with self._cv:
            self.events.append(event)
            self._cv.notify_all()

    def schedule(self, at: Any, event: Any) -> None:
        self.emit(event)

    def of(self, call_id: int, kind: Any = None) -> list[Any]:
        with self._cv:
            return [e for e in self.events
                    if e.call_id == call_id and (kind is None or e.kind == kind)]

    def kinds(self, call_id: int) -> list[str]:
        return [str(e.kind) for e in self.of(call_id)]

    def wait(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
            return True

    def ended(self, call_id: int, timeout: float = 10.0) -> Any:
        """The call's ENDED event (waits for it); AssertionError if it never comes."""
        ok = self.wait(lambda: any(str(e.kind) == "ended" for e in self.events
                                   if e.call_id == call_id), timeout)
        assert ok, f"call {call_id} never ended; events: {self.kinds(call_id)}"
        return [e for e in self.of(call_id) if str(e.kind) == "ended"][0]


def start_provider(fake: FakeTwilio, brain: Any, *, store_path: str | None = None,
                   public_url: str | None = None, sink: Any = None, clock: Any = None,
                   webhook_key: str | None = None, **kwargs: Any) -> Any:
    """A started TwilioProvider aimed at ``fake``, reached through a fake tunnel
    (``webhook_key``: the SharedKey secret of a Webhooks Rule, if any)."""
    from dialcli.clock import SystemClock
    from dialcli.config import Secret, TwilioCredentials
    from dialcli.providers.twilio.provider import TwilioProvider

    public = public_url or public_url_for(0)
    creds = TwilioCredentials(fake.account_sid, Secret(fake.auth_token), fake.base_url,
                              Secret(webhook_key) if webhook_key else None)
    kwargs.setdefault("finish_grace_s", 2.0)
    kwargs.setdefault("freeze_gc", False)     # many providers per test process
    kwargs.setdefault("warm_threads", 0)      # (threads start as needed)
    provider = TwilioProvider(creds, public_url=public, port=0, brain=brain,
                              store_path=store_path, **kwargs)
    provider.bind(sink if sink is not None else EventRecorder(), clock or SystemClock())
    provider.start()
    fake.tunnel[public] = provider.server.thread.local_url
    return provider
