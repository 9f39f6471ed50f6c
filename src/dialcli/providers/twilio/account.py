"""The user's Twilio account over REST: the client, what Twilio's refusals mean, a
call's state, and final prices.

``classify`` turns Twilio's refusals into ``DialError`` with what the engine should do:
rate limits are retried, a bad phone is retired, account-level problems (trial
account, unusable from-number, geo permissions, bad credentials) pause the campaign
with a message that says what to do, concurrency limits slow the campaign down.

Price arrives minutes after a call ends; ``PriceWatcher`` polls with backoff and
stores the real price over the engine's estimate (billed minutes x rate);
``finalize_prices`` does the same afterwards for ``report --fetch-prices``.

``TWILIO_API_BASE`` points the client at a Twilio-compatible server (the test fake).
"""

from __future__ import annotations

import heapq
import json
import re
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dialcli.config import TwilioCredentials, scrub
from dialcli.errors import ProviderError
from dialcli.models import CallStatus
from dialcli.providers.base import CallState, DialError, Provider, ProviderAction
from dialcli.providers.twilio.codes import (DEAD_NUMBER, FROM_CODES, GEO_CODES, PAUSE_CODES,
                                            RETRY_CODES, SLOW_CODES)
from dialcli.store import Store

log = logging.getLogger("dialcli.twilio")


TWILIO_API = "https://api.twilio.com"
PRICE_BACKOFF_S = (10.0, 20.0, 40.0, 80.0, 160.0, 300.0)


_CONSOLE = "console.twilio.com"


class _ApiBaseHttpClient(TwilioHttpClient):
    """twilio's HTTP client, optionally aimed at a compatible server (TWILIO_API_BASE)."""

    def __init__(self, api_base: str | None, timeout: float):
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/") if api_base else None
        # Twilio's default pool is sized for one thread; the engine, the poller, the
        # voicemail actions and the price watcher share this client.
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, HTTPAdapter(pool_connections=4, pool_maxsize=32))

    def request(self, method, url, *args, **kwargs):
        if self.api_base and url.startswith(TWILIO_API):
            url = self.api_base + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def make_client(creds: TwilioCredentials, timeout: float = 10.0) -> Client:
    return Client(creds.account_sid, creds.auth_token.reveal(),
                  http_client=_ApiBaseHttpClient(creds.api_base, timeout))


def error_details(exc: TwilioException) -> tuple[int | None, int | None, str]:
    """(Twilio error code, HTTP status, message) from any twilio exception.

    List calls raise a bare ``TwilioException("Unable to fetch page", response)``; the
    code and message are then read from the response body ourselves.
    """
    code, status = getattr(exc, "code", None), getattr(exc, "status", None)
    if isinstance(code, int) and code < 1000:
        code = None     # the SDK puts the HTTP status there when the body had no code
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    response = exc.args[1] if len(exc.args) > 1 else None
    if code is None and status is None and hasattr(response, "status_code"):
        status = response.status_code
        try:
            body = json.loads(response.text)
            code, text = body.get("code"), body.get("message") or text
        except (ValueError, AttributeError):
            pass
    text = str(text or "").removeprefix("Unable to create record: ").removeprefix(
        "Unable to update record: ").removeprefix("Unable to fetch record: ")
    return code, status, scrub(text.strip())


def classify(exc: TwilioException, to: str, from_: str) -> DialError:
    """A Twilio refusal as a DialError that says what happened and what to do."""
    code, status, said = error_details(exc)
    ref = f"Twilio error {code}" if code else f"Twilio HTTP {status}"
    tail = f" ({ref}: {said})" if said else f" ({ref})"
    if code in RETRY_CODES or status == 429:
        # "never processed and always safe to retry" (error 20429)
        return DialError("Twilio is rate-limiting API requests; backing off and retrying" + tail,
                         action=ProviderAction.RETRY, code=code, status=status)
    if code in DEAD_NUMBER:
        return DialError(f"Twilio cannot call {to}: the number {DEAD_NUMBER[code]}" + tail,
                         action=ProviderAction.DEAD_NUMBER, code=code, status=status)
    if code in SLOW_CODES:
        return DialError("Twilio's concurrent-call limit for this account was reached; "
                         "slowing down" + tail, action=ProviderAction.SLOW_DOWN, code=code,
                         status=status,
                         hint="Lower the campaign's --max-concurrent, or ask Twilio to raise "
                              "the account's limit.")
    if code == 21219:
        return DialError(f"{to} is not a verified number, and trial accounts may only call "
                         "verified numbers" + tail, action=ProviderAction.PAUSE, code=code,
                         status=status,
                         hint=f"Verify {to} at {_CONSOLE} > Phone Numbers > Verified Caller "
                              "IDs, or upgrade the account, then: dialcli resume")
    if code in FROM_CODES:
        return DialError(f"From-number {from_} cannot place calls on this Twilio account"
                         + tail, action=ProviderAction.PAUSE, code=code, status=status,
                         hint=f"Buy {from_} or verify it as a caller ID at {_CONSOLE}, then run "
                              "`dialcli number sync` and `dialcli resume`; or switch the "
                              "campaign to a number you own (dialcli campaign edit C --from +1...).")
    if code in GEO_CODES:
        return DialError(f"Your Twilio geo permissions do not allow calls to {to}" + tail,
                         action=ProviderAction.PAUSE, code=code, status=status,
                         hint=f"Enable the destination country at {_CONSOLE} > Voice > "
                              "Settings > Geo permissions, then: dialcli resume")
    if code in PAUSE_CODES or status in (401, 403):
        return DialError("Twilio refused the account's credentials or the account is not "
                         "active" + tail, action=ProviderAction.PAUSE, code=code, status=status,
                         hint="Check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN (console.twilio.com, "
                              "Account Info) and that the account is active, then: dialcli resume")
    if status is not None and status >= 500:
        return DialError("Twilio had a server error; retrying later" + tail,
                         action=ProviderAction.RETRY, code=code, status=status)
    return DialError(f"Twilio refused the call to {to}" + tail, action=ProviderAction.FAIL_CALL,
                     code=code, status=status,
                     hint=f"What it means: https://www.twilio.com/docs/errors/{code}"
                     if code else None)


def rest_error(exc: TwilioException, what: str) -> ProviderError:
    code, status, said = error_details(exc)
    hint = None
    if status in (401, 403) or code == 20003:
        hint = ("Check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN (console.twilio.com, Account "
                "Info).")
    ref = f"error {code}" if code else f"HTTP {status}" if status else str(exc.args[0] if exc.args else "")
    return ProviderError(f"Twilio refused to {what} ({ref}" + (f": {said}" if said else "") + ").",
                         hint=hint, code=code, status=status,
                         retryable=status == 429 or code in RETRY_CODES or (status or 0) >= 500)


def network_error(exc: Exception, what: str) -> ProviderError:
    return ProviderError(f"Could not reach Twilio to {what}: {type(exc).__name__}.",
                         hint="Check the internet connection (and TWILIO_API_BASE if set).",
                         retryable=True)


def _price(value: Any) -> float | None:
    try:
        return abs(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def call_state(c: Any) -> CallState:
    """A twilio CallInstance as our CallState (price positive, billed minutes rounded up)."""
    status = CallStatus(c.status) if c.status in CallStatus._value2member_map_ else CallStatus.QUEUED
    duration = int(c.duration) if c.duration not in (None, "") else None
    billed = None
    if status == CallStatus.COMPLETED and duration is not None:
        billed = math.ceil(duration / 60) if duration > 0 else 0
    return CallState(sid=c.sid, status=status, to=c.to, from_=getattr(c, "_from", None),
                     answered_by=c.answered_by, duration_s=duration, billed_minutes=billed,
                     price=_price(c.price), price_unit=c.price_unit, start_time=c.start_time,
                     end_time=c.end_time)


class TwilioAccount:
    """Account-level look-ups (doctor, number sync); REST only, no server."""

    def __init__(self, credentials: TwilioCredentials, client: Client | None = None,
                 timeout: float = 10.0):
        self.credentials = credentials
        self.account_sid = credentials.account_sid
        self.client = client or make_client(credentials, timeout)

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TwilioException as exc:
            raise rest_error(exc, what) from None
        except requests.RequestException as exc:
            raise network_error(exc, what) from None

    def account(self) -> dict[str, Any]:
        a = self._call("fetch the account", self.client.api.v2010.accounts(self.account_sid).fetch)
        return {"sid": a.sid, "name": a.friendly_name, "status": a.status, "type": a.type}

    def owned_numbers(self, phone_number: str | None = None) -> list[dict[str, Any]]:
        kwargs = {"phone_number": phone_number} if phone_number else {}
        rows = self._call("list the account's phone numbers",
                          self.client.incoming_phone_numbers.list, page_size=1000, **kwargs)
        return [{"e164": n.phone_number, "sid": n.sid, "label": n.friendly_name,
                 "voice": bool((n.capabilities or {}).get("voice")), "kind": "owned"}
                for n in rows]

    def fetch_call(self, sid: str) -> CallState | None:
        """One call's state and, once Twilio has published it, its price (None: no such call)."""
        try:
            return call_state(self.client.calls(sid).fetch())
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise rest_error(exc, f"fetch call {sid}") from None
        except TwilioException as exc:
            raise rest_error(exc, f"fetch call {sid}") from None
        except requests.RequestException as exc:
            raise network_error(exc, f"fetch call {sid}") from None

    def download_recording(self, recording_sid: str, fmt: str, fh: Any) -> int:
        """Write a recording's audio (``wav`` or ``mp3``) to ``fh``; returns bytes written.

        The URL is built from the account and the recording SID, never taken from the
        workspace: the account's credentials go to Twilio (or TWILIO_API_BASE) only.
        """
        if not re.fullmatch(r"RE[0-9a-fA-F]{32}", recording_sid or ""):
            raise ProviderError(f"{recording_sid!r} is not a Twilio recording SID.")
        base = (self.credentials.api_base or TWILIO_API).rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}.{fmt}"
        what = f"download recording {recording_sid}"
        try:
            with requests.get(url, auth=(self.account_sid, self.credentials.auth_token.reveal()),
                              stream=True, timeout=30) as resp:
                if resp.status_code == 404:
                    raise ProviderError(f"Twilio has no recording {recording_sid} (deleted, or "
                                        "not finished processing yet).")
                if resp.status_code in (401, 403):
                    raise ProviderError(f"Twilio refused to {what} (HTTP {resp.status_code}): "
                                        "is it this account's recording?")
                if resp.status_code != 200:
                    raise ProviderError(f"Could not {what}: Twilio answered HTTP "
                                        f"{resp.status_code}.")
                written = 0
                for chunk in resp.iter_content(64 * 1024):
                    fh.write(chunk)
                    written += len(chunk)
                return written
        except requests.RequestException as exc:
            raise network_error(exc, what) from None

    def caller_ids(self) -> list[dict[str, Any]]:
        rows = self._call("list the verified caller IDs", self.client.outgoing_caller_ids.list,
                          page_size=1000)
        return [{"e164": c.phone_number, "sid": c.sid, "label": c.friendly_name, "voice": True,
                 "kind": "verified caller ID"} for c in rows]


def store_final_price(store: Any, sid: str, state: CallState) -> tuple[int, int]:
    """Twilio's price of call ``sid`` over the estimate, in one transaction: (rows
    finalized, rows whose outcome is not applied yet -- they keep waiting)."""
    with store.tx():
        # Only over an applied outcome: the engine writes its estimate when it
        # applies ENDED, and must not overwrite the real price afterwards.
        done = store.execute(
            "UPDATE calls SET price = ?, price_unit = ?, price_final = 1 "
            "WHERE provider_sid = ? AND price_final = 0 AND disposition IS NOT NULL",
            (state.price, state.price_unit or "USD", sid)).rowcount
        pending = store.scalar(
            "SELECT COUNT(*) FROM calls WHERE provider_sid = ? AND disposition IS NULL", (sid,))
    return done, pending


@dataclass(frozen=True)
class PriceSync:
    """What ``finalize_prices`` did."""

    asked: int          # estimated calls looked up on Twilio
    finalized: int      # now carry Twilio's own price
    unpublished: int    # Twilio has no price for them yet (minutes after the call)
    missing: int        # Twilio does not know the call (another account?)


def finalize_prices(store: Any, account: TwilioAccount, campaign_id: int, *,
                    workers: int = 8) -> PriceSync:
    """Ask Twilio for the final price of every answered call of the campaign that still
    carries the estimate (billed minutes x rate) and store it -- what a live run's
    price watcher does, for calls that ended after the runner had stopped watching.

    Each price is its own transaction, so an interruption keeps those stored; the
    first refusal (bad credentials) or network error is raised after the workers stop.
    """
    from concurrent.futures import ThreadPoolExecutor

    sids = [r[0] for r in store.all(
        "SELECT DISTINCT provider_sid FROM calls WHERE campaign_id = ? AND provider = 'twilio' "
        "AND price_final = 0 AND provider_sid IS NOT NULL AND disposition IS NOT NULL "
        "AND status = 'completed'", (campaign_id,))]
    finalized = unpublished = missing = 0
    with ThreadPoolExecutor(max_workers=max(1, workers),
                            thread_name_prefix="dialcli-prices") as pool:
        for sid, state in zip(sids, pool.map(account.fetch_call, sids)):
            if state is None:
                missing += 1
            elif state.price is None:
                unpublished += 1
            else:
                finalized += store_final_price(store, sid, state)[0] > 0
    return PriceSync(len(sids), finalized, unpublished, missing)


@dataclass
class _PriceJob:
    sid: str
    attempt: int = 0


class PriceWatcher:
    """Polls ended calls for their price with backoff and stores it (own thread + Store)."""

    def __init__(self, provider: Provider, store_path: str | None,
                 backoff: Sequence[float]):
        self.provider, self.store_path, self.backoff = provider, store_path, tuple(backoff)
        self._heap: list[tuple[float, int, _PriceJob]] = []
        self._seq = 0
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="dialcli-price", daemon=True)
        self.finalized = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(5)

    def add(self, sid: str, attempt: int = 0, delay: float | None = None) -> None:
        if not self.store_path or not self.backoff or attempt >= len(self.backoff):
            return
        with self._wake:
            self._seq += 1
            due = time.monotonic() + (self.backoff[attempt] if delay is None else delay)
            heapq.heappush(self._heap, (due, self._seq, _PriceJob(sid, attempt)))
            self._wake.notify()

    def _run(self) -> None:
        store = Store(self.store_path, migrate=False) if self.store_path else None
        try:
            while True:
                with self._wake:
                    while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                        self._wake.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                    if self._stop:
                        return
                    _, _, job = heapq.heappop(self._heap)
                self._check(store, job)
        finally:
            if store is not None:
                store.close()

    def _check(self, store: Any, job: _PriceJob) -> None:
        try:
            state = self.provider.fetch(job.sid)
        except ProviderError as exc:
            log.info("price check for %s failed: %s", job.sid, exc)
            state = None
        if state is not None and state.price is not None and store is not None:
            done, pending = store_final_price(store, job.sid, state)
            if done:
                self.finalized += 1
            if not pending:
                return
            self.add(job.sid, job.attempt + 1, delay=min(self.backoff))   # not applied yet
            return
        self.add(job.sid, job.attempt + 1)
