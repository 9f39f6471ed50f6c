"""dialcli against Twilio's documented wire protocol, message by message.

Every request here is built the way Twilio builds it and signed with twilio's own
``RequestValidator`` (the library Twilio publishes for exactly this check); each
test names the documentation page the shape comes from. The callback server runs
for real on 127.0.0.1 behind a made-up public tunnel URL, as in a live run.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

import httpx
import pytest
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from dialcli.models import CallStatus
from dialcli.providers.base import EventKind
from dialcli.store import Store
from fakes.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, start_provider
from fakes.keyword_brain import KeywordBrain
import test_server
from test_live_path import ctx
from test_server import SID, TO

SIGN = RequestValidator(AUTH_TOKEN)
#: The server with call 1 open (SID, TO): the same fixture as test_server's.
live = test_server.live
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"




def callback(**extra: str) -> dict[str, str]:
    """A status callback's fields (https://www.twilio.com/docs/voice/api/call-resource,
    "StatusCallback" parameters)."""
    base = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "From": "+14155550100", "To": TO,
            "Direction": "outbound-api", "ApiVersion": "2010-04-01", "CallStatus": "ringing",
            "CallbackSource": "call-progress-events", "SequenceNumber": "0",
            "Timestamp": "Tue, 08 Dec 2026 01:00:00 +0000", "Called": TO,
            "Caller": "+14155550100", "ForwardedFrom": "", "CallerName": "",
            "ParentCallSid": ""}
    base.update(extra)
    return base


def send(provider, path: str, body: bytes | str, signature: str | None, *,
         content_type: str = "application/x-www-form-urlencoded; charset=UTF-8",
         headers: dict[str, str] | None = None) -> httpx.Response:
    """POST to the local server as the tunnel delivers what Twilio sent the public URL."""
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    return httpx.post(provider.server.thread.local_url + path, content=body,
                      headers=all_headers, timeout=30)


def signed_form(provider, path: str, fields, **kw) -> httpx.Response:
    url = provider.server.public_url + path
    return send(provider, path, urlencode(list(_items(fields))),
                SIGN.compute_signature(url, fields), **kw)


def _items(fields):
    return fields.multi_items() if isinstance(fields, ImmutableMultiDict) else fields.items()


# -- webhook security (https://www.twilio.com/docs/usage/webhooks/webhooks-security) ----

@pytest.mark.parametrize("value", ["Zoë Ñandú", "日本語の名前", "emoji 📞 ☎", "a+b&c=d%20e",
                                   "", "  leading and trailing  ", "line\nbreak"])
def test_any_field_value_twilio_signs_is_accepted(live, value):
    # Every received parameter goes to the validator untrimmed; empty values included.
    r = signed_form(live, "/status/1", callback(CallerName=value, ForwardedFrom=value))
    assert r.status_code == 204
    assert [e.kind for e in live.sink.events] == [EventKind.RINGING]


def test_repeated_parameters_are_signed_as_twilio_signs_them(live):
    fields = ImmutableMultiDict(list(callback().items()) + [("StirVerstat", "B"),
                                                           ("StirVerstat", "A")])
    assert signed_form(live, "/status/1", fields).status_code == 204


def test_a_parameter_twilio_adds_later_is_signed_and_accepted(live):
    # "Twilio occasionally adds parameters": they are signed, so none may be dropped.
    assert signed_form(live, "/status/1", callback(BrandNewField="x")).status_code == 204


def test_the_query_string_is_part_of_the_signed_url_exactly_as_sent(live):
    path = "/status/1?attempt=2&note=a%2Bb%20c"
    assert signed_form(live, path, callback()).status_code == 204
    # The same body signed without the query string is a forgery.
    url = live.server.public_url + "/status/1"
    assert send(live, path, urlencode(callback(SequenceNumber="1")),
                SIGN.compute_signature(url, callback(SequenceNumber="1"))).status_code == 403


@pytest.mark.parametrize("port", [":443", ""])
def test_the_url_is_valid_with_or_without_the_default_port(live, port):
    # Twilio's validator accepts either form of an https URL; so does the server.
    public = live.server.public_url
    url = public.replace(".example", ".example" + port) + "/status/1"
    fields = callback()
    assert send(live, "/status/1", urlencode(fields),
                SIGN.compute_signature(url, fields)).status_code == 204


def test_https_behind_a_tunnel_is_checked_against_the_public_url(live):
    # The tunnel delivers plain http to 127.0.0.1 with X-Forwarded-* headers; Twilio
    # signed the public https URL: that is what is checked, never the local address.
    fields = callback()
    public_sig = SIGN.compute_signature(live.server.public_url + "/status/1", fields)
    forwarded = {"X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": live.server.public_url.split("://")[1]}
    assert send(live, "/status/1", urlencode(fields), public_sig,
                headers=forwarded).status_code == 204
    local_sig = SIGN.compute_signature(live.server.thread.local_url + "/status/1",
                                       callback(SequenceNumber="1"))
    assert send(live, "/status/1", urlencode(callback(SequenceNumber="1")), local_sig,
                headers=forwarded).status_code == 403


def test_a_json_body_is_checked_through_its_body_sha256(live):
    # JSON webhooks: the URL carries bodySHA256 of the raw body, the signature covers
    # the URL with no parameters (https://www.twilio.com/docs/api/errors/57012).
    body = json.dumps(callback(CallStatus="in-progress"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    path = f"/status/1?bodySHA256={digest}"
    sig = SIGN.compute_signature(live.server.public_url + path, {})
    r = send(live, path, body, sig, content_type="application/json")
    assert r.status_code == 204
    assert [e.kind for e in live.sink.events] == [EventKind.ANSWERED]
    tampered = body.replace("in-progress", "completed")
    assert send(live, path, tampered, sig, content_type="application/json").status_code == 403


def test_a_webhooks_rule_signature_is_checked_with_its_algorithm_and_shared_key(fake, db_path):
    # X-Twilio-Webhooks-Signature-Settings names the SharedKey and the algorithm
    # (https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys).
    Store(db_path).close()
    keyed = start_provider(fake, KeywordBrain(), store_path=str(db_path),
                           webhook_key="shared-key-secret")
    try:
        keyed.server.register(ctx(1, TO))
        keyed.server.set_sid(1, SID)
        url = keyed.server.public_url + "/status/1"
        header = {SETTINGS: "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
        fields = callback()
        by_key = RequestValidator("shared-key-secret").compute_signature(url, fields,
                                                                         "HMAC_SHA256")
        assert send(keyed, "/status/1", urlencode(fields), by_key,
                    headers=header).status_code == 204
        other = callback(SequenceNumber="1", CallStatus="in-progress")
        wrong = RequestValidator("another-secret").compute_signature(url, other, "HMAC_SHA256")
        assert send(keyed, "/status/1", urlencode(other), wrong,
                    headers=header).status_code == 403
        unknown = {SETTINGS: "key=k,algorithm=HMAC_MD5"}
        assert send(keyed, "/status/1", urlencode(other),
                    SIGN.compute_signature(url, other), headers=unknown).status_code == 403
        assert [e.kind for e in keyed.sink.events] == [EventKind.RINGING]
    finally:
        keyed.close()


@pytest.mark.parametrize("forgery", ["no header", "empty header", "garbage", "sha1 of the body",
                                     "signed by another token"])
def test_rejections_are_a_bare_403_that_leaks_nothing(live, db_path, forgery):
    fields = callback()
    body = urlencode(fields)
    sig = {"no header": None, "empty header": "", "garbage": "not base64 at all",
           "sha1 of the body": hashlib.sha1(body.encode()).hexdigest(),
           "signed by another token": RequestValidator("x" * 32).compute_signature(
               live.server.public_url + "/status/1", fields)}[forgery]
    r = send(live, "/status/1", body, sig)
    assert (r.status_code, r.text) == (403, "Forbidden")
    assert r.headers["content-type"].startswith("text/plain")
    assert AUTH_TOKEN not in r.text and SID not in r.text and "signature" not in r.text.lower()
    assert live.sink.events == []


# -- status callbacks (https://www.twilio.com/docs/voice/api/call-resource, StatusCallback) --

@pytest.mark.parametrize("status,kinds", [
    ("queued", []), ("initiated", []), ("ringing", [EventKind.RINGING]),
    ("in-progress", [EventKind.ANSWERED]),
])
def test_each_progress_status_is_accepted_and_moves_the_call_forward(live, status, kinds):
    assert signed_form(live, "/status/1", callback(CallStatus=status)).status_code == 204
    assert [e.kind for e in live.sink.events] == kinds


@pytest.mark.parametrize("status,extra", [
    ("completed", {"CallDuration": "42", "Duration": "1", "SipResponseCode": "200"}),
    ("busy", {"CallDuration": "0", "SipResponseCode": "486"}),
    ("no-answer", {"CallDuration": "0", "SipResponseCode": "487"}),
    ("canceled", {"CallDuration": "0", "SipResponseCode": "487"}),
    ("failed", {"CallDuration": "0", "SipResponseCode": "404", "ErrorCode": "13224"}),
])
def test_each_final_status_ends_the_call_with_its_fields(live, status, extra):
    fields = callback(CallStatus=status, SequenceNumber="3", **extra)
    assert signed_form(live, "/status/1", fields).status_code == 204
    ended = live.sink.ended(1)
    assert ended.status == CallStatus(status)
    # CallDuration is seconds; Duration is billed minutes (completed only).
    assert ended.duration_s == int(extra["CallDuration"])
    assert ended.billed_minutes == (1 if status == "completed" else None)
    assert ended.detail["sip_response_code"] == int(extra["SipResponseCode"])
    if "ErrorCode" in extra:
        assert ended.error_code == 13224
        assert ended.error.startswith("Twilio error 13224: ") and "valid phone number" in ended.error
    else:
        assert ended.error_code is None and ended.error is None


def test_out_of_order_and_repeated_callbacks_apply_once_in_call_order(live):
    # "Requests can arrive out of order" (SequenceNumber); Twilio retries repeat one.
    order = [("in-progress", "2"), ("ringing", "1"), ("initiated", "0"), ("in-progress", "2"),
             ("completed", "3"), ("ringing", "1"), ("completed", "3")]
    for status, seq in order:
        extra = {"CallDuration": "7", "Duration": "1"} if status == "completed" else {}
        r = signed_form(live, "/status/1", callback(CallStatus=status, SequenceNumber=seq,
                                                    **extra))
        assert r.status_code == 204
    live.sink.ended(1)
    assert [str(e.kind) for e in live.sink.events] == ["answered", "ended"]
    assert live.server.stats["duplicates"] == 3


AMD_VERDICTS = [("human", EventKind.HUMAN), ("machine_end_beep", EventKind.MACHINE),
                ("machine_end_silence", EventKind.MACHINE),
                ("machine_end_other", EventKind.MACHINE), ("fax", EventKind.MACHINE),
                ("unknown", EventKind.HUMAN),
                ("machine", EventKind.MACHINE)]       # the Call resource's older value


@pytest.mark.parametrize("answered_by,kind", AMD_VERDICTS)
def test_every_async_amd_verdict_is_applied_once(live, answered_by, kind):
    # Async AMD callback: CallSid, AccountSid, AnsweredBy, MachineDetectionDuration
    # (https://www.twilio.com/docs/voice/answering-machine-detection).
    fields = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "AnsweredBy": answered_by,
              "MachineDetectionDuration": "2650"}
    for _ in range(2):
        assert signed_form(live, "/amd/1", fields).status_code == 204
    verdicts = [e for e in live.sink.events if e.kind in (EventKind.HUMAN, EventKind.MACHINE)]
    assert [(e.kind, e.answered_by) for e in verdicts] == [(kind, answered_by)]


def test_machine_start_then_the_message_end_verdict(live):
    # DetectMessageEnd may report machine_start first, then machine_end_* after the beep.
    for verdict in ("machine_start", "machine_end_beep"):
        fields = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "AnsweredBy": verdict,
                  "MachineDetectionDuration": "1200"}
        assert signed_form(live, "/amd/1", fields).status_code == 204
    assert [(str(e.kind), e.answered_by) for e in live.sink.events
            if e.kind in (EventKind.HUMAN, EventKind.MACHINE)] == [("machine", "machine_end_beep")]


@pytest.mark.parametrize("answered_by,kind", AMD_VERDICTS)
def test_a_synchronous_amd_verdict_on_the_answer_url_is_applied(live, answered_by, kind):
    # Sync AMD: Twilio requests the Url with AnsweredBy once detection is done.
    r = signed_form(live, "/twiml/1", callback(CallStatus="in-progress",
                                               AnsweredBy=answered_by))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert [(e.kind, e.answered_by) for e in live.sink.events
            if e.kind in (EventKind.HUMAN, EventKind.MACHINE)] == [(kind, answered_by)]


def test_a_verdict_riding_on_the_answered_status_callback_is_applied(live):
    fields = callback(CallStatus="in-progress", SequenceNumber="2", AnsweredBy="human")
    assert signed_form(live, "/status/1", fields).status_code == 204
    assert [str(e.kind) for e in live.sink.events] == ["answered", "human"]
    # ... once, though the async callback says it again.
    assert signed_form(live, "/amd/1", {"AccountSid": ACCOUNT_SID, "CallSid": SID,
                                        "AnsweredBy": "human"}).status_code == 204
    assert [str(e.kind) for e in live.sink.events] == ["answered", "human"]


def test_a_final_status_with_answered_by_records_it(live):
    fields = callback(CallStatus="completed", SequenceNumber="4", CallDuration="31",
                      Duration="1", AnsweredBy="machine_end_silence")
    assert signed_form(live, "/status/1", fields).status_code == 204
    assert live.sink.ended(1).answered_by == "machine_end_silence"


# -- TwiML (https://www.twilio.com/docs/voice/twiml/connect/conversationrelay) -------------

def test_the_answer_is_valid_twiml_with_documented_conversation_relay_attributes(live):
    import xml.etree.ElementTree as ET

    r = signed_form(live, "/twiml/1", callback(CallStatus="in-progress"))
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] in ("text/xml", "application/xml")
    root = ET.fromstring(r.text)
    assert root.tag == "Response" and [v.tag for v in root] == ["Connect"]
    connect = root[0]
    assert connect.get("action") == live.server.public_url + "/relay-action/1"
    assert connect.get("method") == "POST"
    (relay,) = list(connect)
    assert relay.tag == "ConversationRelay"
    documented = {"url", "welcomeGreeting", "welcomeGreetingInterruptible", "language",
                  "ttsLanguage", "ttsProvider", "voice", "transcriptionLanguage",
                  "transcriptionProvider", "speechModel", "interruptible", "dtmfDetection",
                  "reportInputDuringAgentSpeech", "preemptible", "hints", "debug",
                  "elevenlabsTextNormalization", "intelligenceService", "partialPrompts",
                  "interruptSensitivity"}
    assert set(relay.attrib) <= documented, set(relay.attrib) - documented
    assert relay.get("url") == "wss://" + live.server.public_url.split("://")[1] + "/relay/1"
    assert relay.get("interruptible") in ("none", "dtmf", "speech", "any")
    assert relay.get("dtmfDetection") in ("true", "false")
    assert relay.get("partialPrompts") in ("true", "false")
    # No welcomeGreeting: Twilio would speak it before the AMD verdict, to machines too.
    assert relay.get("welcomeGreeting") is None
    params = [(p.tag, p.get("name"), p.get("value")) for p in relay]
    assert params == [("Parameter", "call_id", "1")]


# -- ConversationRelay messages (https://www.twilio.com/docs/voice/conversationrelay/
#    websocket-messages) ---------------------------------------------------------------

#: What the app may send Twilio, and each message's documented fields.
OUTBOUND = {"text": {"type", "token", "last", "lang", "interruptible", "preemptible"},
            "play": {"type", "source", "loop", "preemptible", "interruptible"},
            "sendDigits": {"type", "digits"},
            "language": {"type", "ttsLanguage", "transcriptionLanguage"},
            "end": {"type", "handoffData"}}


def documented_setup(**extra) -> str:
    msg = {"type": "setup", "sessionId": "VX" + "0" * 32, "accountSid": ACCOUNT_SID,
           "parentCallSid": "", "callSid": SID, "from": "+14155550100", "to": TO,
           "forwardedFrom": "", "callType": "PSTN", "callerName": "", "direction": "outbound",
           "callStatus": "IN-PROGRESS", "customParameters": {"call_id": "1"}}
    msg.update(extra)
    return json.dumps(msg)


def relay_socket(provider):
    public = "wss://" + provider.server.public_url.split("://")[1] + "/relay/1"
    local = provider.server.thread.local_url.replace("http", "ws") + "/relay/1"
    return ws_connect(local, proxy=None,
                      additional_headers={"X-Twilio-Signature": SIGN.compute_signature(public, {})})


def read_until(ws, stop, seen: list[dict]) -> list[dict]:
    """Messages from the app until ``stop(msg)``; each checked against the documented set."""
    got = []
    while True:
        msg = json.loads(ws.recv(timeout=20))
        assert msg.get("type") in OUTBOUND, msg
        assert set(msg) <= OUTBOUND[msg["type"]], msg
        if msg["type"] == "text":
            assert isinstance(msg["token"], str) and isinstance(msg.get("last", False), bool)
        if msg["type"] == "end":
            assert isinstance(msg["handoffData"], str)
        got.append(msg)
        seen.append(msg)
        if stop(msg):
            return got


def prompt(text, last=True, **extra) -> str:
    return json.dumps({"type": "prompt", "voicePrompt": text, "lang": "en-US", "last": last,
                       **extra})


def test_a_conversation_in_documented_messages_both_ways(live):
    seen: list[dict] = []
    with relay_socket(live) as ws:
        ws.send(documented_setup())
        # With partialPrompts the transcript grows, then comes the final prompt.
        ws.send(prompt("Hello", last=False))
        ws.send(prompt("Hello who is this", last=True))
        greeting = read_until(ws, lambda m: m["type"] == "text" and m["last"], seen)
        assert "".join(m["token"] for m in greeting).strip()
        ws.send(prompt("Tell me more"))
        read_until(ws, lambda m: m["type"] == "text" and m["last"], seen)
        ws.send(json.dumps({"type": "interrupt", "utteranceUntilInterrupt": "I see. Could",
                            "durationUntilInterruptMs": 460}))
        ws.send(json.dumps({"type": "dtmf", "digit": "1"}))
        ws.send(json.dumps({"type": "error", "description": "Invalid message received: x"}))
        ws.send(prompt("Yes I'm interested"))
        end = read_until(ws, lambda m: m["type"] == "end", seen)[-1]
    handoff = json.loads(end["handoffData"])
    assert handoff["disposition"] == "INTERESTED"
    conv = live.sink.of(1, EventKind.CONVERSATION)
    assert len(conv) == 1 and conv[0].end.disposition.value == "INTERESTED"
    caller = [u["text"] for u in conv[0].transcript if u["role"] == "caller"]
    assert caller[0] == "Hello who is this"        # the growing partial counted once


def test_unknown_message_types_and_fields_are_tolerated(live):
    seen: list[dict] = []
    with relay_socket(live) as ws:
        ws.send(documented_setup(someNewField={"nested": True}, callerCountry="US"))
        ws.send(json.dumps({"type": "info", "name": "tokensPlayed", "value": "x"}))
        ws.send(json.dumps({"type": "somethingTwilioAddsLater", "payload": [1, 2]}))
        ws.send(prompt("Hello who is this", confidence=0.93, extra={"a": 1}))
        read_until(ws, lambda m: m["type"] == "text" and m["last"], seen)
        ws.send(prompt("I'm interested"))
        read_until(ws, lambda m: m["type"] == "end", seen)
    assert live.sink.of(1, EventKind.CONVERSATION)[0].end.disposition.value == "INTERESTED"


def test_null_or_missing_fields_read_as_empty_never_as_text(live):
    seen: list[dict] = []
    with relay_socket(live) as ws:
        ws.send(documented_setup())
        ws.send(prompt("Hello who is this"))
        read_until(ws, lambda m: m["type"] == "text" and m["last"], seen)
        ws.send(json.dumps({"type": "dtmf", "digit": None}))
        ws.send(json.dumps({"type": "interrupt", "utteranceUntilInterrupt": None}))
        ws.send(json.dumps({"type": "prompt", "voicePrompt": None, "last": True}))
        ws.send(json.dumps({"type": "error"}))
        ws.send(prompt("I'm interested"))
        read_until(ws, lambda m: m["type"] == "end", seen)
    transcript = live.sink.of(1, EventKind.CONVERSATION)[0].transcript
    assert not any("None" in u["text"] for u in transcript), transcript
    assert [u["text"] for u in transcript if u["role"] == "caller"] == \
        ["Hello who is this", "I'm interested"]


def test_a_handshake_without_twilios_signature_is_a_403_before_any_message(live):
    local = live.server.thread.local_url.replace("http", "ws") + "/relay/1"
    public_https = live.server.public_url + "/relay/1"      # the wrong scheme
    for headers in ({}, {"X-Twilio-Signature": SIGN.compute_signature(public_https, {})}):
        with pytest.raises(InvalidStatus) as info:
            ws_connect(local, proxy=None, additional_headers=headers)
        assert info.value.response.status_code == 403
    assert live.sink.events == []


@pytest.mark.parametrize("suffix", ["", "/"])
def test_the_handshake_is_signed_over_the_wss_url_as_requested(live, suffix):
    public = "wss://" + live.server.public_url.split("://")[1] + "/relay/1" + suffix
    local = live.server.thread.local_url.replace("http", "ws") + "/relay/1" + suffix
    headers = {"X-Twilio-Signature": SIGN.compute_signature(public, {})}
    seen: list[dict] = []
    with ws_connect(local, proxy=None, additional_headers=headers) as ws:
        ws.send(documented_setup())
        ws.send(prompt("Hello who is this"))
        assert read_until(ws, lambda m: m["type"] == "text" and m["last"], seen)
