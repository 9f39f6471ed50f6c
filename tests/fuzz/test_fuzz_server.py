"""The callback server under hostile HTTP: forgeries get 4xx and change nothing.

A real ``TwilioProvider`` (callback server on 127.0.0.1, workspace on disk, a call
registered as if placed) takes requests that are wrong in one or several ways at
once: unsigned, a garbage signature, signed with another token, for another URL or
the local one, params tampered after signing, a foreign AccountSid, a CallSid that is
not the call's, wrong methods and paths, non-UTF-8 and malformed form bodies,
oversized bodies and headers. Every answer must be a 4xx (``/health`` aside), never
a 5xx or a traceback, and none may reach the engine's sink, the dedupe table or any
other table. Correctly signed callbacks with odd values must not break the server
either, and a replay changes nothing. Whatever Twilio's own validator accepts (any
names, repeated keys, non-ASCII values, a query string) the server accepts too.
"""

from __future__ import annotations

import itertools
import random

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as hs
from twilio.request_validator import RequestValidator

from dialcli.store import Store
from fakes.keyword_brain import KeywordBrain
import builders
from builders import add_leads
from fakes.fake_twilio import AUTH_TOKEN, start_provider
from fuzzkit import budget, dump, fuzz, no_traceback
from test_live_path import ctx
from test_server import OTHER_SID, SID, TO, params

ENDPOINTS = ["/twiml/1", "/status/1", "/amd/1", "/relay-action/1"]
ODD_PATHS = ["/status/2", "/status/99999999999999999999999", "/status/-1", "/status/abc",
             "/status/1/", "//status/1", "/STATUS/1", "/relay/1", "/", "/status/%00", "/twiml",
             "/status/1?x=%ff", "/health/../status/1", "/amd/1%2f..", "/status/0x1"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


@pytest.fixture
def live(fake, db_path):
    with Store(db_path) as st:
        cid = builders.campaign(st)
        lead = add_leads(st, cid, [{"phones": [TO]}])[0]
        with st.tx():
            st.execute(
                "INSERT INTO calls (id, campaign_id, run, lead_id, slot, e164, from_number, "
                "pass_no, provider, provider_sid, status, claimed_at) VALUES (1, ?, 1, ?, 1, ?, "
                "'+14155550100', 1, 'twilio', ?, 'ringing', '2026-03-03T15:00:00.000Z')",
                (cid, lead, TO, SID))
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path))
    provider.server.register(ctx(1, TO))
    provider.server.set_sid(1, SID)
    provider.http = httpx.Client(base_url=provider.server.thread.local_url, timeout=20)
    yield provider
    provider.http.close()
    provider.close()


def sign(url: str, data, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, data)


# -- forgeries ---------------------------------------------------------------------------

FORGERIES = ["unsigned", "garbage", "wrong token", "other url", "local url", "http scheme",
             "tampered", "foreign account", "foreign call sid", "no account", "no call sid",
             "signed garbage body", "empty signature"]

text_value = hs.one_of(hs.text(max_size=20), hs.sampled_from(
    ["completed", "in-progress", "ringing", "machine_end_beep", "human", "-1", "9" * 40, "",
     "\x00", "1e9", "NaN"]))

body_bytes = hs.one_of(
    hs.binary(max_size=300), hs.sampled_from([
        b"%%%&&==&", b"a=%zz&b=%", b"=&=&=", b"\xff\xfe\x00", b"AccountSid=" + b"\xff" * 10,
        b"a=1;b=2", b'{"AccountSid": "AC"}', b"x" * 70_000, b"&" * 5000, b"a=" + b"%41" * 30000,
    ]))


@hs.composite
def forged_request(draw):
    forgery = draw(hs.sampled_from(FORGERIES))
    path = draw(hs.sampled_from(ENDPOINTS))
    data = params(**draw(hs.dictionaries(hs.sampled_from(
        ["CallStatus", "SequenceNumber", "AnsweredBy", "CallDuration", "Duration", "ErrorCode",
         "Junk", "To"]), text_value, max_size=3)))
    return forgery, path, data, draw(hs.booleans()), draw(body_bytes)


def _forge(live, forgery, path, data, big, raw):
    """(path, headers, body bytes) for one forgery of a request to ``path``."""
    public = live.server.public_url
    url = public + path
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = None
    if forgery == "unsigned":
        pass
    elif forgery == "garbage":
        headers["X-Twilio-Signature"] = "".join(random.Random(len(data)).choice(
            "abcdefABCDEF0123456789+/=") for _ in range(28))
    elif forgery == "empty signature":
        headers["X-Twilio-Signature"] = ""
    elif forgery == "wrong token":
        headers["X-Twilio-Signature"] = sign(url, data, token="not-the-token")
    elif forgery == "other url":
        other = "/status/2" if path != "/status/2" else "/amd/1"
        headers["X-Twilio-Signature"] = sign(public + other, data)
    elif forgery == "local url":
        headers["X-Twilio-Signature"] = sign(live.server.thread.local_url + path, data)
    elif forgery == "http scheme":
        headers["X-Twilio-Signature"] = sign(url.replace("https://", "http://"), data)
    elif forgery == "tampered":
        headers["X-Twilio-Signature"] = sign(url, data)
        data = dict(data, CallStatus="completed" if data["CallStatus"] != "completed" else "busy")
    elif forgery == "foreign account":
        data = dict(data, AccountSid="AC" + "9" * 32)
        headers["X-Twilio-Signature"] = sign(url, data)
    elif forgery == "foreign call sid":
        data = dict(data, CallSid=OTHER_SID)
        headers["X-Twilio-Signature"] = sign(url, data)
    elif forgery == "no account":
        data = {k: v for k, v in data.items() if k != "AccountSid"}
        headers["X-Twilio-Signature"] = sign(url, data)
    elif forgery == "no call sid":
        data = {k: v for k, v in data.items() if k != "CallSid"}
        headers["X-Twilio-Signature"] = sign(url, data)
    elif forgery == "signed garbage body":
        # Signed exactly as the server parses it, but not a callback from Twilio.
        from urllib.parse import parse_qsl

        body = raw
        parsed = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        headers["X-Twilio-Signature"] = sign(url, parsed)
    if body is None:
        from urllib.parse import urlencode

        body = urlencode(data).encode()
        if big:
            body += b"&Junk=" + b"x" * 70_000
    return headers, body


def assert_untouched(live, db_path, before):
    assert live.sink.events == [], [e.kind for e in live.sink.events]
    assert dump(db_path) == before


@pytest.mark.parametrize("examples", budget(240, 5000))
def test_forged_callbacks_get_4xx_and_change_nothing(live, db_path, examples):
    before = dump(db_path)

    @fuzz(examples)
    @given(forged_request())
    def run(req):
        forgery, path, data, big, raw = req
        headers, body = _forge(live, forgery, path, data, big, raw)
        r = live.http.post(path, content=body, headers=headers)
        assert r.status_code in (403, 404), (forgery, path, r.status_code, r.text[:200])
        no_traceback(r.text)
        assert_untouched(live, db_path, before)

    run()
    assert live.server.stats["callbacks"] == 0


@pytest.mark.parametrize("examples", budget(160, 3000))
def test_wrong_methods_paths_and_headers(live, db_path, examples):
    before = dump(db_path)

    @fuzz(examples)
    @given(hs.sampled_from(METHODS), hs.one_of(hs.sampled_from(ENDPOINTS + ODD_PATHS),
                                               hs.text(max_size=30).map(lambda t: "/" + t)),
           hs.dictionaries(hs.sampled_from(["X-Twilio-Signature", "Content-Type", "Host",
                                            "Content-Length", "Transfer-Encoding", "X-Junk"]),
                           hs.text(hs.characters(min_codepoint=32, max_codepoint=126),
                                   max_size=40), max_size=3),
           hs.binary(max_size=200))
    def run(method, path, headers, body):
        try:
            r = live.http.request(method, path, content=body if method != "GET" else None,
                                  headers=headers)
        except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol,
                httpx.LocalProtocolError, UnicodeEncodeError, ValueError):
            return                    # the client refused to send it, or the server hung up
        except Exception as exc:      # noqa: BLE001 - h11 refusing an inconsistent request
            if type(exc).__module__.split(".")[0] not in ("h11", "httpcore"):
                raise
            return
        assert r.status_code < 500, (method, path, headers, r.status_code, r.text[:200])
        if r.status_code < 300:     # (3xx: Starlette's slash redirect, nothing ran)
            assert path.split("?")[0] in ("/health", "/health/") and method in ("GET", "HEAD")
        no_traceback(r.text)
        assert_untouched(live, db_path, before)

    run()


@pytest.mark.parametrize("size", [20_000, 100_000, 1_000_000])
def test_huge_headers_are_refused_or_cut_off(live, db_path, size):
    before = dump(db_path)
    data = params()
    headers = {"X-Twilio-Signature": sign(live.server.public_url + "/status/1", data),
               "X-Padding": "p" * size}
    try:
        r = live.http.post("/status/1", data=data, headers=headers)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        pass                            # the server dropped the connection: fine
    else:
        # A signed callback with a fat header is still Twilio's; anything else is refused.
        assert r.status_code in (204, 400, 413, 431), r.status_code
    # The server is still there for the next caller.
    assert live.http.get("/health").status_code == 200
    if live.sink.events == []:
        assert dump(db_path) == before


RAW = [
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nabcdef",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 3\r\n\r\n0\r\n\r\n",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: \xff\xfe\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"POST /st\x00atus/1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GARBAGE\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS hello
    b"GET /relay/1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bad\r\n\r\n",
    b"POST /status/1 HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
]


@pytest.mark.parametrize("raw", RAW, ids=range(len(RAW)))
def test_malformed_http_on_the_wire_gets_no_5xx(live, db_path, raw):
    import socket

    before = dump(db_path)
    with socket.create_connection(("127.0.0.1", live.server.thread.port), timeout=5) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError, socket.timeout):
            answer = b""
    status = answer.split(b"\r\n", 1)[0]
    assert not status.startswith((b"HTTP/1.1 5", b"HTTP/1.0 5")), answer[:300]
    no_traceback(answer)
    assert_untouched(live, db_path, before)
    assert live.http.get("/health").status_code == 200


def test_slow_oversized_body_is_cut_off_before_it_is_read_whole(live, db_path):
    before = dump(db_path)

    def chunks():
        for _ in range(200):             # 200 x 64 KiB, sent as a stream
            yield b"a=" + b"x" * 65_534

    r = live.http.post("/status/1", content=chunks(),
                       headers={"X-Twilio-Signature": "x",
                                "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403
    assert_untouched(live, db_path, before)


# -- correctly signed, odd values: never a 5xx --------------------------------------------

_seq = itertools.count(100)


@pytest.mark.parametrize("examples", budget(160, 3000))
def test_signed_callbacks_with_odd_values_never_break_the_server(live, fake, examples):
    @fuzz(examples)
    @given(hs.sampled_from(ENDPOINTS), hs.dictionaries(hs.sampled_from(
        ["CallStatus", "SequenceNumber", "AnsweredBy", "CallDuration", "Duration", "ErrorCode",
         "SessionStatus", "HandoffData", "Timestamp", "Junk"]), text_value, max_size=6))
    def run(path, extra):
        call_id = next(_seq)
        sid = "CA" + format(call_id, "032x")
        live.server.register(ctx(call_id, TO))
        live.server.set_sid(call_id, sid)
        path = path.replace("/1", f"/{call_id}")
        data = params(CallSid=sid, **extra)
        url = live.server.public_url + path
        r = live.http.post(path, data=data, headers={"X-Twilio-Signature": sign(url, data)})
        assert r.status_code in (200, 204), (path, extra, r.status_code, r.text[:300])
        no_traceback(r.text)
        again = live.http.post(path, data=data, headers={"X-Twilio-Signature": sign(url, data)})
        assert again.status_code in (200, 204)
        for e in live.sink.of(call_id):
            for value in (e.duration_s, e.billed_minutes, e.error_code):
                assert value is None or 0 <= value < 2 ** 31, e

    run()


def test_a_replayed_valid_callback_changes_nothing(live, db_path):
    data = params(CallStatus="in-progress", SequenceNumber="2")
    url = live.server.public_url + "/status/1"
    first = live.http.post("/status/1", data=data, headers={"X-Twilio-Signature": sign(url, data)})
    assert first.status_code == 204
    events, state = list(live.sink.events), dump(db_path)
    for _ in range(20):
        r = live.http.post("/status/1", data=data, headers={"X-Twilio-Signature": sign(url, data)})
        assert r.status_code == 204
    assert live.sink.events == events and dump(db_path) == state


@pytest.mark.parametrize("field,value", [("CallDuration", "9" * 40), ("Duration", "-5"),
                                         ("ErrorCode", "99999999999999999999"),
                                         ("CallDuration", "1e3"), ("Duration", "٣")])
def test_a_signed_final_status_with_absurd_numbers_reports_none(live, field, value):
    data = params(CallStatus="completed", SequenceNumber="3", **{field: value})
    url = live.server.public_url + "/status/1"
    r = live.http.post("/status/1", data=data, headers={"X-Twilio-Signature": sign(url, data)})
    assert r.status_code == 204
    ended = live.sink.ended(1)
    # The engine stores these in SQLite INTEGER columns: out of range would crash it.
    assert getattr(ended, {"CallDuration": "duration_s", "Duration": "billed_minutes",
                           "ErrorCode": "error_code"}[field]) is None


# -- whatever Twilio signs is accepted; any change after signing is refused ----------------

_name = hs.from_regex(r"[A-Z][A-Za-z0-9]{0,15}", fullmatch=True).filter(
    lambda n: n not in ("AccountSid", "CallSid", "CallStatus", "SequenceNumber"))
_value = hs.text(hs.characters(blacklist_categories=("Cs",)), max_size=30)
_query = hs.sampled_from(["", "?a=1", "?q=%C3%A9&x=%2B&x=y", "?empty=&b=a+b"])


@pytest.mark.parametrize("examples", budget(60, 1500))
def test_whatever_twilio_signs_is_accepted_and_a_change_is_refused(live, examples):
    # Twilio's validator is the judge (https://www.twilio.com/docs/usage/webhooks/
    # webhooks-security): any parameter names, repeated keys, empty and non-ASCII values,
    # a query string; the same body changed by one character after signing is a forgery.
    from urllib.parse import urlencode

    from starlette.datastructures import ImmutableMultiDict

    @fuzz(examples)
    @given(hs.lists(hs.tuples(_name, _value), max_size=6), _query, hs.booleans())
    def run(extra, query, tamper):
        call_id = next(_seq)
        sid = "CA" + format(call_id, "032x")
        live.server.register(ctx(call_id, TO))
        live.server.set_sid(call_id, sid)
        fields = [("AccountSid", params()["AccountSid"]), ("CallSid", sid),
                  ("CallStatus", "ringing"), ("SequenceNumber", "1"), *extra]
        path = f"/status/{call_id}{query}"
        signature = sign(live.server.public_url + path, ImmutableMultiDict(fields))
        if tamper:
            fields[2] = ("CallStatus", "ringinG")
        r = live.http.post(path, content=urlencode(fields).encode(), headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == (403 if tamper else 204), (fields, query, r.status_code)
        no_traceback(r.text)

    run()
