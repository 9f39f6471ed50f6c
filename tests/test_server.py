"""The callback server's trust boundary: signatures, account and call checks, dedupe, order.

Requests are built by hand here (signed with twilio's own RequestValidator, as Twilio
signs them) so each forgery differs from a valid request in exactly one way.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from twilio.request_validator import RequestValidator
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from dialcli.conversation.base import Chunk
from dialcli.errors import ConfigError, InputError
from dialcli.models import CallStatus
from dialcli.providers.base import EventKind
from dialcli.providers.twilio.server import CallServer, check_public_url
from dialcli.providers.twilio.server_thread import ServerThread
from dialcli.store import Store
import builders
from builders import add_leads
from fakes.keyword_brain import KeywordBrain
from fakes.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, start_provider
from test_live_path import ctx

SID = "CA" + "1" * 32
OTHER_SID = "CA" + "2" * 32
TO = "+14155550123"


@pytest.fixture
def live(fake, db_path):
    Store(db_path).close()
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path))
    provider.server.register(ctx(1, TO))
    provider.server.set_sid(1, SID)
    yield provider
    provider.close()


def params(**extra) -> dict[str, str]:
    base = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "From": "+14155550100", "To": TO,
            "Direction": "outbound-api", "ApiVersion": "2010-04-01", "CallStatus": "ringing",
            "SequenceNumber": "1", "CallbackSource": "call-progress-events"}
    base.update(extra)
    return base


def post(provider, path, data, *, token=AUTH_TOKEN, signed_url=None, signature=None,
         sign=True) -> httpx.Response:
    url = signed_url or provider.server.public_url + path
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = signature or RequestValidator(token).compute_signature(
            url, data)
    return httpx.post(provider.server.thread.local_url + path, data=data, headers=headers,
                      timeout=20)


def recorded(db_path) -> list[tuple]:
    with Store(db_path) as st:
        return [tuple(r) for r in st.all("SELECT call_sid, event, sequence FROM provider_events")]


def test_health_echoes_the_nonce_without_a_signature(live):
    r = httpx.get(live.server.thread.local_url + "/health", params={"nonce": "n-42"})
    assert r.status_code == 200 and r.json() == {"ok": True, "service": "dialcli", "nonce": "n-42"}


@pytest.mark.parametrize("forgery", ["unsigned", "wrong token", "signed for another url",
                                     "signed for the local url", "another call id",
                                     "foreign account", "foreign call sid", "tampered param"])
def test_forged_callbacks_are_refused_and_change_nothing(live, db_path, forgery):
    data = params()
    kw: dict = {}
    path = "/status/1"
    if forgery == "unsigned":
        kw["sign"] = False
    elif forgery == "wrong token":
        kw["token"] = "not-the-token"
    elif forgery == "signed for another url":
        kw["signed_url"] = live.server.public_url + "/status/2"
    elif forgery == "signed for the local url":
        kw["signed_url"] = live.server.thread.local_url + path
    elif forgery == "another call id":
        live.server.register(ctx(2, TO))
        live.server.set_sid(2, OTHER_SID)
        path = "/status/2"           # correctly signed, but CallSid belongs to call 1
    elif forgery == "foreign account":
        data["AccountSid"] = "AC" + "9" * 32
    elif forgery == "foreign call sid":
        data["CallSid"] = OTHER_SID
    elif forgery == "tampered param":
        kw["signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
            live.server.public_url + path, params(CallStatus="ringing"))
        data["CallStatus"] = "completed"
    r = post(live, path, data, **kw)
    assert r.status_code == 403
    assert live.sink.events == [] and recorded(db_path) == []
    assert live.server.stats["rejected"] == 1


def test_valid_callback_applies_once_and_replays_change_nothing(live, db_path):
    first = post(live, "/status/1", params())
    assert first.status_code == 204
    assert [e.kind for e in live.sink.events] == [EventKind.RINGING]
    assert recorded(db_path) == [(SID, "status:ringing", "1")]
    for _ in range(3):
        assert post(live, "/status/1", params()).status_code == 204
    assert [e.kind for e in live.sink.events] == [EventKind.RINGING]
    assert live.server.stats["duplicates"] == 3 and len(recorded(db_path)) == 1


def test_dedupe_survives_a_restart(fake, live, db_path):
    assert post(live, "/status/1", params(CallStatus="in-progress", SequenceNumber="2")) \
        .status_code == 204
    live.close()
    again = start_provider(fake, KeywordBrain(), store_path=str(db_path),
                           public_url=live.server.public_url)
    try:
        again.server.register(ctx(1, TO))
        again.server.set_sid(1, SID)
        r = post(again, "/status/1", params(CallStatus="in-progress", SequenceNumber="2"))
        assert r.status_code == 204 and again.sink.events == []
    finally:
        again.close()


def test_out_of_order_callbacks_keep_the_call_final(live):
    final = params(CallStatus="completed", SequenceNumber="3", CallDuration="42", Duration="1",
                   AnsweredBy="human")
    assert post(live, "/status/1", final).status_code == 204
    ended = live.sink.ended(1)
    assert (ended.status, ended.duration_s, ended.billed_minutes, ended.answered_by) == \
        (CallStatus.COMPLETED, 42, 1, "human")
    for status, seq in (("ringing", "1"), ("in-progress", "2")):
        assert post(live, "/status/1", params(CallStatus=status, SequenceNumber=seq)) \
            .status_code == 204
    amd = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "AnsweredBy": "machine_end_beep"}
    assert post(live, "/amd/1", amd).status_code == 204
    time.sleep(0.1)
    # A completed call was answered: ANSWERED is filled in before ENDED, nothing after.
    assert [str(e.kind) for e in live.sink.events] == ["answered", "ended"]


def test_a_second_final_status_does_not_end_the_call_twice(live):
    post(live, "/status/1", params(CallStatus="completed", SequenceNumber="3", CallDuration="5"))
    post(live, "/status/1", params(CallStatus="failed", SequenceNumber="4"))
    live.sink.ended(1)
    time.sleep(0.1)
    assert [str(e.kind) for e in live.sink.events].count("ended") == 1


def test_a_callback_that_overtakes_the_create_response_waits_for_the_sid(live):
    live.server.register(ctx(3, TO))           # place() still waiting for Twilio's answer
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=post(live, "/status/3", params(CallSid=OTHER_SID))))
    t.start()
    time.sleep(0.2)
    assert "r" not in result
    live.server.set_sid(3, OTHER_SID)
    t.join(5)
    assert result["r"].status_code == 204
    assert [(e.call_id, e.kind) for e in live.sink.events] == [(3, EventKind.RINGING)]


def test_callbacks_for_a_call_that_was_never_placed_are_not_applied(live):
    live.server.register(ctx(4, TO))
    live.server.forget(4)                      # Twilio refused the create
    r = post(live, "/status/4", params())
    assert r.status_code == 204 and live.sink.events == []


@pytest.mark.parametrize("endpoint", ["status", "amd", "twiml", "relay-action"])
def test_a_signed_request_for_a_call_we_do_not_know_is_acknowledged_and_twiml_hangs_up(
        live, endpoint):
    # Twilio's own request: a non-2xx answer would only be a warning in its debugger.
    r = post(live, f"/{endpoint}/77", params())
    if endpoint in ("twiml", "relay-action"):   # Twilio runs the answer as TwiML
        assert r.status_code == 200 and "<Hangup/>" in r.text
    else:
        assert (r.status_code, r.text) == (204, "")
    assert live.sink.events == [] and live.server.stats["rejected"] == 0


def _open_row(store, call_id, sid):
    """A call placed by an earlier runner: its row is open, the server has never seen it."""
    cid = builders.campaign(store)
    lead = add_leads(store, cid, [{"phones": [TO]}])[0]
    builders.add_call(store, cid, lead, status="ringing")
    with store.tx():
        store.execute("UPDATE calls SET id = ?, provider = 'twilio', provider_sid = ?",
                      (call_id, sid))


@pytest.mark.parametrize("forgery", ["unsigned", "wrong token", "foreign account"])
def test_an_unsigned_caller_gets_the_same_403_for_known_unknown_and_adoptable_calls(
        live, store, forgery):
    """The signature and account are checked before any lookup: a caller without the
    auth token cannot tell a live call, a call of an earlier runner, and no call apart,
    and its request adopts nothing."""
    _open_row(store, 50, OTHER_SID)
    answers = []
    for call_id, sid in ((1, SID), (50, OTHER_SID), (77, SID)):
        data = params(CallSid=sid)
        kw: dict = {}
        if forgery == "unsigned":
            kw["sign"] = False
        elif forgery == "wrong token":
            kw["token"] = "not-the-token"
        else:
            data["AccountSid"] = "AC" + "9" * 32
        r = post(live, f"/status/{call_id}", data, **kw)
        answers.append((r.status_code, r.text))
    assert answers == [(403, "Forbidden")] * 3
    assert 50 not in live.server.calls and live.sink.events == []
    assert live.server.stats["rejected"] == 3


def test_signature_covers_the_query_string_and_accepts_the_port_variant(live):
    path = "/status/1?attempt=2"
    assert post(live, path, params(), signed_url=live.server.public_url + "/status/1") \
        .status_code == 403
    assert post(live, path, params()).status_code == 204
    with_port = live.server.public_url.replace(".example", ".example:443") + "/status/1"
    assert post(live, "/status/1", params(CallStatus="in-progress", SequenceNumber="2"),
                signed_url=with_port).status_code == 204


def test_twiml_connects_a_conversation_relay_without_a_welcome_greeting(live):
    r = post(live, "/twiml/1", params(CallStatus="in-progress"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    public = live.server.public_url
    relay = "wss://" + public.split("://")[1] + "/relay/1"
    assert f'url="{relay}"' in r.text
    # Twilio would speak a welcomeGreeting before the AMD verdict (to machines too):
    # the relay session greets a person itself.
    assert "welcomeGreeting" not in r.text and "Hi Alex" not in r.text
    assert 'partialPrompts="true"' in r.text and 'language="en-US"' in r.text
    assert f'action="{public}/relay-action/1"' in r.text
    assert 'dtmfDetection="true"' in r.text and 'interruptible="any"' in r.text
    assert post(live, "/twiml/1", params(), sign=False).status_code == 403


def test_twiml_for_a_call_we_do_not_know_hangs_up(live):
    r = post(live, "/twiml/77", params(CallSid=OTHER_SID))
    assert r.status_code == 200 and "<Hangup" in r.text and "ConversationRelay" not in r.text


def test_relay_action_hangs_up(live):
    r = post(live, "/relay-action/1", {"AccountSid": ACCOUNT_SID, "CallSid": SID,
                                       "SessionStatus": "ended", "HandoffData": "{}"})
    assert r.status_code == 200 and "<Hangup/>" in r.text


def ws_url(live, call_id=1):
    return live.server.thread.local_url.replace("http", "ws") + f"/relay/{call_id}"


def ws_signature(live, call_id=1, token=AUTH_TOKEN, suffix=""):
    public = "wss://" + live.server.public_url.split("://")[1] + f"/relay/{call_id}{suffix}"
    return RequestValidator(token).compute_signature(public, {})


def setup_msg(**extra):
    msg = {"type": "setup", "sessionId": "VX1", "accountSid": ACCOUNT_SID, "callSid": SID,
           "from": "+14155550100", "to": TO, "direction": "outbound", "customParameters": {}}
    msg.update(extra)
    return json.dumps(msg)


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "bm9wZQ=="}, "wrong-token"])
def test_relay_handshake_needs_a_valid_signature(live, headers):
    if headers == "wrong-token":
        headers = {"X-Twilio-Signature": ws_signature(live, token="nope")}
    with pytest.raises(InvalidStatus) as info:
        ws_connect(ws_url(live), additional_headers=headers, proxy=None)
    assert info.value.response.status_code == 403
    assert live.sink.events == []


def test_relay_session_talks_and_a_replayed_handshake_is_refused(live):
    headers = {"X-Twilio-Signature": ws_signature(live)}
    with ws_connect(ws_url(live), additional_headers=headers, proxy=None) as ws:
        ws.send(setup_msg())
        ws.send(json.dumps({"type": "prompt", "voicePrompt": "Who is this?", "last": True}))
        reply = [json.loads(ws.recv(timeout=5))]
        while not reply[-1].get("last"):
            reply.append(json.loads(ws.recv(timeout=5)))
        assert reply[0]["type"] == "text" and reply[0]["token"]
        with pytest.raises(InvalidStatus) as info:   # same signed handshake, second time
            ws_connect(ws_url(live), additional_headers=headers, proxy=None)
        assert info.value.response.status_code == 403
        ws.send(json.dumps({"type": "prompt", "voicePrompt": "I'm interested", "last": True}))
        msgs = []
        while not msgs or msgs[-1]["type"] != "end":
            msgs.append(json.loads(ws.recv(timeout=5)))
        assert json.loads(msgs[-1]["handoffData"])["disposition"] == "INTERESTED"
    conv = live.sink.of(1, EventKind.CONVERSATION)
    assert len(conv) == 1 and conv[0].turns == 2


class _ThreeChunkBrain(KeywordBrain):
    """Non-blocking (answers on the event loop, as the rule brain does), three chunks."""

    blocking = False

    def open(self, ctx):
        session = super().open(ctx)

        def respond(caller_text, at_s=0.0):
            for part in ("One, ", "two, ", "three."):
                yield Chunk(part)
        session.respond = respond
        return session


def test_a_reply_already_complete_goes_out_as_one_message_without_compression(fake, db_path):
    # Each message is one frame and one send on the event loop: tokens the brain has
    # already produced when the loop gets to them go out together, and a complete
    # reply carries ``last: true`` itself instead of an empty closing message. Relay
    # messages are tiny: permessage-deflate (offered by the client) is declined.
    Store(db_path).close()
    provider = start_provider(fake, _ThreeChunkBrain(), store_path=str(db_path))
    try:
        provider.server.register(ctx(1, TO))
        provider.server.set_sid(1, SID)
        headers = {"X-Twilio-Signature": ws_signature(provider)}
        with ws_connect(ws_url(provider), additional_headers=headers, proxy=None) as ws:
            assert "permessage-deflate" not in (
                ws.response.headers.get("Sec-WebSocket-Extensions") or "")
            ws.send(setup_msg())
            ws.send(json.dumps({"type": "prompt", "voicePrompt": "Who is this?", "last": True}))
            ws.send(json.dumps({"type": "prompt", "voicePrompt": "And then?", "last": True}))
            texts = []                  # the greeting, then the reply
            while len([m for m in texts if m["last"]]) < 2:
                texts.append(json.loads(ws.recv(timeout=5)))
        assert len(texts) == 2 and texts[0]["last"] and texts[0]["token"]
        assert texts[1] == {"type": "text", "token": "One, two, three.", "last": True}
    finally:
        provider.close()


def test_words_that_came_during_a_stall_count_before_the_silence_timer(fake, db_path):
    # The event loop was busy past the greeting's silence deadline while a machine's
    # first words arrived: they are read before the timer acts (uvloop runs due timers
    # before it polls the sockets), so the agent says nothing to the machine.
    Store(db_path).close()
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path),
                              greet_silence_s=0.5)
    try:
        provider.server.register(ctx(1, TO))
        provider.server.set_sid(1, SID)
        headers = {"X-Twilio-Signature": ws_signature(provider)}
        with ws_connect(ws_url(provider), additional_headers=headers, proxy=None) as ws:
            ws.send(setup_msg())
            time.sleep(0.2)                 # the session is open, its 0.5 s timer armed
            stalled = threading.Event()
            provider.server.loop.call_soon_threadsafe(
                lambda: (stalled.set(), time.sleep(1.0)))
            assert stalled.wait(5)
            ws.send(json.dumps({"type": "prompt", "last": True, "voicePrompt":
                                "Hi, you've reached Alex. Please leave a message after the tone."}))
            with pytest.raises(TimeoutError):
                said = ws.recv(timeout=2.0)
                pytest.fail(f"the agent spoke to the machine: {said}")
    finally:
        provider.close()


def test_relay_trailing_slash_signature_is_accepted(live):
    headers = {"X-Twilio-Signature": ws_signature(live, suffix="/")}
    with ws_connect(ws_url(live), additional_headers=headers, proxy=None) as ws:
        ws.send(setup_msg())
        ws.send(json.dumps({"type": "prompt", "voicePrompt": "hi", "last": True}))
        assert json.loads(ws.recv(timeout=5))["type"] == "text"


@pytest.mark.parametrize("bad", [{"accountSid": "AC" + "9" * 32}, {"callSid": OTHER_SID},
                                 {"type": "prompt"}])
def test_relay_setup_must_match_the_call(live, bad):
    headers = {"X-Twilio-Signature": ws_signature(live)}
    with ws_connect(ws_url(live), additional_headers=headers, proxy=None) as ws:
        ws.send(setup_msg(**bad))
        with pytest.raises(Exception):
            ws.recv(timeout=5)          # closed by the server
    assert live.sink.of(1, EventKind.CONVERSATION) == []


def test_relay_for_an_unknown_call_is_refused(live):
    headers = {"X-Twilio-Signature": ws_signature(live, call_id=9)}
    with pytest.raises(InvalidStatus):
        ws_connect(ws_url(live, 9), additional_headers=headers, proxy=None)


@pytest.mark.parametrize("url,message", [
    (None, "No public URL"), ("ftp://x.example", "not an http"),
    ("https://x.example/dialcli", "has a path"), ("https://x.example?a=1", "has a path"),
])
def test_public_url_is_checked(url, message):
    with pytest.raises(ConfigError, match=message):
        check_public_url(url)


def test_public_url_trailing_slash_is_fine():
    assert check_public_url("https://abc.trycloudflare.com/") == "https://abc.trycloudflare.com"


def test_a_busy_port_is_a_clear_error():
    first = ServerThread(CallServer(None, public_url="https://x.example").app).start()
    try:
        with pytest.raises(InputError, match=f"Cannot listen on 127.0.0.1:{first.port}"):
            ServerThread(object(), port=first.port)
    finally:
        first.stop()


def test_an_oversized_body_is_refused_before_it_is_read_whole(live):
    data = params(Junk="x" * 100_000)
    assert post(live, "/status/1", data).status_code == 403
    assert live.sink.events == []


def test_a_call_placed_before_a_restart_is_recognised_by_its_row(live, store):
    cid = builders.campaign(store)
    lead = add_leads(store, cid, [{"phones": [TO]}])[0]
    with store.tx():
        call_id = store.execute(
            "INSERT INTO calls (id, campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
            "provider, provider_sid, status, claimed_at) VALUES (50, ?, 1, ?, 1, ?, ?, 1, "
            "'twilio', ?, 'ringing', '2026-03-03T15:00:00.000Z')",
            (cid, lead, TO, "+14155550100", OTHER_SID)).lastrowid
    final = params(CallSid=OTHER_SID, CallStatus="completed", SequenceNumber="3",
                   CallDuration="12", Duration="1")
    assert post(live, f"/status/{call_id}", params(CallSid=SID)).status_code == 403  # not its sid
    assert call_id not in live.server.calls
    assert post(live, f"/status/{call_id}", final).status_code == 204
    ended = live.sink.ended(call_id)
    assert ended.sid == OTHER_SID and ended.duration_s == 12


def test_the_listening_socket_says_tcp_so_asyncio_disables_nagle():
    # asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP;
    # without it every response waits ~40 ms for the peer's delayed ACK.
    import socket

    server = ServerThread(object(), port=0)
    try:
        assert server.sock.proto == socket.IPPROTO_TCP
    finally:
        server.sock.close()



@pytest.mark.parametrize("brain_blocking, warm_threads, expected_brain",
                         [(True, 5, 5), (False, None, 8)])
def test_the_server_starts_its_pool_threads_before_any_call(brain_blocking, warm_threads,
                                                            expected_brain):
    # A pool thread started mid-run is started by submit() on the event loop, inside the
    # turn that needed it; start() starts them up front instead (a rule brain needs few).
    brain = KeywordBrain()
    brain.blocking = brain_blocking
    server = CallServer(None, public_url="https://x.example", brain=brain, port=0,
                        warm_threads=warm_threads)
    before = set(threading.enumerate())

    def started() -> dict[str, int]:
        names = [t.name.rsplit("_", 1)[0] for t in set(threading.enumerate()) - before]
        return {p: names.count(p) for p in ("dialcli-brain", "dialcli-rest")}

    server.start()
    try:
        assert started() == {"dialcli-brain": expected_brain, "dialcli-rest": 8}
        # and a turn submitted now finds an idle thread: no new one is started
        server.brain_pool.submit(lambda: None).result(5)
        assert started() == {"dialcli-brain": expected_brain, "dialcli-rest": 8}
    finally:
        server.stop()


def test_the_server_loop_is_uvloops_when_installed_else_asyncios(monkeypatch):
    import asyncio

    from dialcli.providers.twilio import server_thread

    uvloop = pytest.importorskip("uvloop")
    app = CallServer(None, public_url="https://x.example").app
    fast = ServerThread(app).start()
    try:
        assert isinstance(fast.loop, uvloop.Loop)
        assert httpx.get(fast.local_url + "/health").status_code == 200
    finally:
        fast.stop()
    monkeypatch.setattr(server_thread, "_uvloop", None)
    plain = ServerThread(app).start()
    try:
        assert not isinstance(plain.loop, uvloop.Loop)
        assert isinstance(plain.loop, asyncio.BaseEventLoop)
        assert httpx.get(plain.local_url + "/health").status_code == 200
    finally:
        plain.stop()
