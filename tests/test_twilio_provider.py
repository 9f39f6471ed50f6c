"""TwilioProvider's REST side, through the real twilio client against the fake Twilio:
what a create sends, how each refusal maps to an engine action, fetch/find/hangup,
prices, credentials from the environment."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from twilio.base.exceptions import TwilioRestException

from dialcli.clock import to_iso
from dialcli.config import Secret, TwilioCredentials
from dialcli.errors import ConfigError, ProviderError
from dialcli.models import CallStatus
from dialcli.providers.base import DialError, EventKind, ProviderAction
from dialcli.providers.twilio.account import TwilioAccount, classify
from dialcli.providers.twilio.provider import TwilioProvider
from fakes.keyword_brain import KeywordBrain
import builders
from builders import add_leads
from fakes.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, Scenario, say, start_provider
from test_live_path import FROM, dial

TO = "+14155550131"


@pytest.fixture
def live(fake):
    provider = start_provider(fake, KeywordBrain())
    yield provider
    provider.close()


def test_create_asks_for_every_callback_and_async_amd_on_the_public_url(fake, live):
    fake.script(TO, Scenario(answer="no-answer"))
    sid = dial(live, 1, TO)
    assert sid.startswith("CA") and len(sid) == 34
    sent = fake.creates[0]
    public = live.server.public_url
    one = {k: v[0] for k, v in sent.items()}
    assert one["To"] == TO and one["From"] == FROM
    assert one["Url"] == f"{public}/twiml/1" and one["Method"] == "POST"
    assert one["StatusCallback"] == f"{public}/status/1"
    assert sent["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert one["MachineDetection"] == "DetectMessageEnd" and one["AsyncAmd"] == "true"
    assert one["AsyncAmdStatusCallback"] == f"{public}/amd/1"
    assert one["Timeout"] == "20" and one["TimeLimit"] == "900"
    assert "Twiml" not in sent           # TwiML is fetched on answer, per call
    placed = live.sink.of(1, EventKind.PLACED)
    assert len(placed) == 1 and placed[0].sid == sid
    live.sink.ended(1)


@pytest.mark.parametrize("code,action", [
    (20429, ProviderAction.RETRY),
    (21211, ProviderAction.DEAD_NUMBER), (21217, ProviderAction.DEAD_NUMBER),
    (13224, ProviderAction.DEAD_NUMBER), (21214, ProviderAction.DEAD_NUMBER),
    (21216, ProviderAction.DEAD_NUMBER),
    (21219, ProviderAction.PAUSE), (21210, ProviderAction.PAUSE), (21212, ProviderAction.PAUSE),
    (21215, ProviderAction.PAUSE),
    (10004, ProviderAction.SLOW_DOWN), (64109, ProviderAction.SLOW_DOWN),
    (86008, ProviderAction.SLOW_DOWN),
    (21205, ProviderAction.FAIL_CALL),
])
def test_refusals_map_to_what_the_engine_should_do(fake, live, code, action):
    fake.fail_creates(code)
    with pytest.raises(DialError) as info:
        dial(live, 1, TO)
    err = info.value
    assert err.action == action and err.code == code
    assert str(code) in err.message
    assert AUTH_TOKEN not in str(err) and AUTH_TOKEN not in (err.hint or "")
    assert fake.calls == {}                      # nothing was dialed
    assert 1 not in live.server.calls            # and the server forgot the call id


@pytest.mark.parametrize("status,action", [(429, ProviderAction.RETRY),
                                           (503, ProviderAction.RETRY),
                                           (401, ProviderAction.PAUSE)])
def test_a_bare_http_error_without_a_twilio_code_maps_by_its_status(fake, live, status, action):
    # A body without Twilio's error JSON: the SDK puts the HTTP status where the code
    # goes; it is not reported as a Twilio error code.
    fake.fail_creates(None, status=status, message="Too Many Requests")
    with pytest.raises(DialError) as info:
        dial(live, 1, TO)
    assert info.value.action == action and info.value.status == status
    assert info.value.code is None and f"Twilio error {status}" not in info.value.message
    assert fake.calls == {}


@pytest.mark.parametrize("code,says", [
    (21211, "is not a valid phone number"), (21214, "cannot be reached"),
    (21216, "blocked"), (21610, "unsubscribed"), (13224, "not a valid phone number"),
])
def test_a_dead_number_refusal_says_what_is_wrong_with_the_number(fake, live, code, says):
    # Twilio's error JSON: {code, message, more_info, status}
    # (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions).
    fake.fail_creates(code, message=f"Twilio says {code}")
    with pytest.raises(DialError) as info:
        dial(live, 1, TO)
    err = info.value
    assert err.action == ProviderAction.DEAD_NUMBER and says in err.message
    assert TO in err.message and f"Twilio error {code}: Twilio says {code}" in err.message


def test_geo_permissions_at_create_or_call_time_pause_with_the_console_path(fake, live):
    for call_id, code in ((1, 21215), (2, 13227)):
        fake.fail_creates(code)
        with pytest.raises(DialError) as info:
            dial(live, call_id, TO)
        assert info.value.action == ProviderAction.PAUSE
        assert "Geo permissions" in info.value.hint and "dialcli resume" in info.value.hint


def test_an_unknown_refusal_fails_the_call_and_points_at_twilios_page(fake, live):
    fake.fail_creates(21201, message="No 'To' number is specified")
    with pytest.raises(DialError) as info:
        dial(live, 1, TO)
    assert info.value.action == ProviderAction.FAIL_CALL
    assert "https://www.twilio.com/docs/errors/21201" in info.value.hint


def test_pause_messages_say_what_to_do(fake, live):
    fake.fail_creates(21219, message=f"The number {TO} is unverified. Trial accounts may only "
                                     "make calls to verified numbers.")
    with pytest.raises(DialError) as info:
        dial(live, 1, TO)
    assert "trial accounts may only call verified numbers" in info.value.message
    assert "Verified Caller IDs" in info.value.hint and "dialcli resume" in info.value.hint
    fake.fail_creates(21210)
    with pytest.raises(DialError) as info:
        dial(live, 2, TO)
    assert f"From-number {FROM}" in info.value.message
    assert "dialcli number sync" in info.value.hint


def test_rate_limit_then_success_places_exactly_one_call(fake, live):
    fake.fail_creates(20429, times=2)
    for _ in range(2):
        with pytest.raises(DialError) as info:
            dial(live, 1, TO)
        assert info.value.action == ProviderAction.RETRY and info.value.status == 429
    fake.script(TO, Scenario(answer="busy"))
    sid = dial(live, 1, TO)
    assert list(fake.calls) == [sid]
    assert live.sink.ended(1).status == CallStatus.BUSY


def test_a_server_error_after_the_call_was_created_adopts_it_instead_of_redialing(fake, live):
    fake.script(TO, Scenario(answer="busy"))
    fake.fail_creates(500, status=500, created=True)
    sid = dial(live, 1, TO)
    assert list(fake.calls) == [sid]                  # found on Twilio, not placed twice
    assert live.sink.ended(1).status == CallStatus.BUSY


def test_a_server_error_without_a_call_is_retried(fake, live):
    fake.fail_creates(500, status=503)
    with pytest.raises(DialError) as info:
        dial(live, 1, TO)
    assert info.value.action == ProviderAction.RETRY and fake.calls == {}


def test_twilio_unreachable_is_retried(fake):
    provider = start_provider(fake, KeywordBrain())
    try:
        fake.stop()                                   # connection refused
        with pytest.raises(DialError) as info:
            dial(provider, 1, TO)
        assert info.value.action == ProviderAction.RETRY
    finally:
        provider.close()


def test_bad_credentials_pause_without_showing_the_token(fake):
    creds = TwilioCredentials(ACCOUNT_SID, Secret("wrong-token-123456"), fake.base_url)
    provider = TwilioProvider(creds, public_url="https://x.example", port=0, brain=KeywordBrain(),
                              freeze_gc=False)
    provider.start()
    try:
        with pytest.raises(DialError) as info:
            dial(provider, 1, TO)
        assert info.value.action == ProviderAction.PAUSE and info.value.code == 20003
        assert "TWILIO_AUTH_TOKEN" in info.value.hint
        assert "wrong-token-123456" not in str(info.value)
    finally:
        provider.close()


def test_place_before_start_is_an_error(fake):
    creds = TwilioCredentials(ACCOUNT_SID, Secret(AUTH_TOKEN), fake.base_url)
    provider = TwilioProvider(creds, public_url="https://x.example", port=0, brain=KeywordBrain(),
                              freeze_gc=False)
    with pytest.raises(ProviderError, match="not started"):
        dial(provider, 1, TO)


def test_classify_reads_rfc9457_and_plain_http_errors():
    exc = TwilioRestException(503, "https://api.twilio.com/x", "Service unavailable")
    assert classify(exc, TO, FROM).action == ProviderAction.RETRY
    exc = TwilioRestException(403, "https://api.twilio.com/x", "Forbidden")
    assert classify(exc, TO, FROM).action == ProviderAction.PAUSE


def test_fetch_reports_final_state_and_the_price_once_twilio_has_it(fake, live):
    fake.script(TO, Scenario(lines=[say("bye")], talk_s=61))
    sid = dial(live, 1, TO)
    live.sink.ended(1)
    first = live.fetch(sid)
    assert first.status == CallStatus.COMPLETED and first.duration_s == 61
    assert first.billed_minutes == 2 and first.answered_by == "human"
    assert first.price is None                        # "may not be immediately available"
    second = live.fetch(sid)
    assert second.price == pytest.approx(0.028) and second.price_unit == "USD"
    assert live.fetch("CA" + "0" * 32) is None


def test_find_calls_filters_by_number_and_time(fake, live):
    fake.script(TO, Scenario(answer="busy"))
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    sid = dial(live, 1, TO)
    live.sink.ended(1)
    found = live.find_calls(TO, FROM, before)
    assert [c.sid for c in found] == [sid] and found[0].status == CallStatus.BUSY
    assert live.find_calls("+14155550999", FROM, before) == []
    assert live.find_calls(TO, FROM, datetime.now(timezone.utc) + timedelta(minutes=1)) == []


def test_hangup_of_an_ended_call_is_not_an_error(fake, live):
    fake.script(TO, Scenario(answer="busy"))
    sid = dial(live, 1, TO)
    live.sink.ended(1)
    assert live.hangup(sid) is False                  # Twilio answers 21220: already over
    assert live.redirect(sid, "<Response><Say>hi</Say></Response>") is False
    with pytest.raises(ProviderError):
        live.hangup("CA" + "0" * 32)                  # unknown call: a real error


def _call_row(store, sid, *, disposition="INTERESTED", price_final=0):
    cid = builders.campaign(store)
    lead = add_leads(store, cid, [{"phones": [TO]}])[0]
    with store.tx():
        return store.execute(
            "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
            "provider, provider_sid, status, disposition, claimed_at, ended_at, billed_minutes, "
            "price, price_final) VALUES (?, 1, ?, 1, ?, ?, 1, 'twilio', ?, 'completed', ?, ?, ?, "
            "1, 0.014, ?)", (cid, lead, TO, FROM, sid, disposition,
                             to_iso(datetime.now(timezone.utc)),
                             to_iso(datetime.now(timezone.utc)), price_final)).lastrowid


def test_the_real_price_replaces_the_estimate_after_the_call(fake, store, db_path):
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path),
                              price_backoff=(0.05, 0.05, 0.1, 0.2))
    try:
        fake.script(TO, Scenario(lines=[say("bye")], talk_s=125, price_after_fetches=2))
        sid = dial(provider, 1, TO)
        provider.sink.ended(1)
        row_id = _call_row(store, sid)            # the engine applied the outcome
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = store.one("SELECT price, price_unit, price_final FROM calls WHERE id = ?",
                            (row_id,))
            if row["price_final"]:
                break
            time.sleep(0.05)
        assert tuple(row) == (pytest.approx(0.042), "USD", 1)
    finally:
        provider.close()


def test_prices_left_estimated_by_an_earlier_run_are_finalized_at_start(fake, store, db_path):
    fake.script(TO, Scenario(answer="human", lines=[say("bye")], talk_s=30,
                             price_after_fetches=0))
    first = start_provider(fake, KeywordBrain(), price_backoff=())
    sid = dial(first, 1, TO)
    first.sink.ended(1)
    first.close()
    row_id = _call_row(store, sid)
    again = start_provider(fake, KeywordBrain(), store_path=str(db_path),
                           price_backoff=(0.05, 0.1))
    try:
        deadline = time.monotonic() + 5
        while not store.scalar("SELECT price_final FROM calls WHERE id = ?", (row_id,)) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.scalar("SELECT price FROM calls WHERE id = ?", (row_id,)) == \
            pytest.approx(0.014)
        assert again.prices.finalized == 1
    finally:
        again.close()


def test_from_env_reads_credentials_and_the_api_base(fake, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    monkeypatch.setenv("DIALCLI_PUBLIC_URL", "https://laptop.tunnel.example/")
    provider = TwilioProvider.from_env(port=0, brain=KeywordBrain())
    assert provider.server.public_url == "https://laptop.tunnel.example"
    assert TwilioAccount(provider.credentials).account()["status"] == "active"
    assert ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json") in fake.requests


def test_from_env_without_credentials_says_where_to_find_them():
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        TwilioProvider.from_env(public_url="https://x.example", brain=KeywordBrain())


def test_account_lists_numbers_across_pages(fake):
    fake.max_page_size = 20
    for i in range(75):
        fake.add_number(f"+1415556{i:04d}", voice=i % 3 != 0)
    fake.add_caller_id("+14155559999", "Cell")
    account = TwilioAccount(TwilioCredentials(ACCOUNT_SID, Secret(AUTH_TOKEN), fake.base_url))
    owned = account.owned_numbers()
    assert len(owned) == 75 and sum(n["voice"] for n in owned) == 50
    assert sum(p.endswith("IncomingPhoneNumbers.json") for _, p in fake.requests) == 4
    assert account.owned_numbers("+14155560001")[0]["sid"].startswith("PN")
    assert account.caller_ids() == [{"e164": "+14155559999", "sid": fake.caller_ids[0]["sid"],
                                     "label": "Cell", "voice": True,
                                     "kind": "verified caller ID"}]


def test_adoption_never_takes_a_call_that_is_already_ours(fake, live):
    fake.script(TO, Scenario(answer="busy"))
    first = dial(live, 1, TO)                     # a recent call to the same number
    fake.fail_creates(500, status=500)            # ...then an ambiguous failure, no call made
    with pytest.raises(DialError) as info:
        dial(live, 2, TO)
    assert info.value.action == ProviderAction.RETRY
    assert list(fake.calls) == [first]


def test_place_is_safe_from_several_threads_at_once(fake, live):
    """One REST round trip per place(); an engine may place from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    numbers = [f"+1415555{3000 + i:04d}" for i in range(16)]
    for to in numbers:
        fake.script(to, Scenario(answer="busy"))
    with ThreadPoolExecutor(8) as pool:
        sids = list(pool.map(lambda i: dial(live, 200 + i, numbers[i]), range(16)))
    assert len(set(sids)) == 16 and sorted(sids) == sorted(fake.calls)
    for i in range(16):
        assert live.sink.ended(200 + i).sid == sids[i]


def test_fetch_prices_finalizes_the_estimates_a_stopped_runner_left(fake, live, store):
    """`report --fetch-prices`: Twilio's price over each estimate it has published."""
    from dialcli.providers.twilio.account import PriceSync, finalize_prices

    published, late = "+14155550132", "+14155550133"
    fake.script(published, Scenario(lines=[say("bye")], talk_s=125, price_after_fetches=0))
    fake.script(late, Scenario(lines=[say("bye")], talk_s=30, price_after_fetches=5))
    sids = {to: dial(live, i, to) for i, to in enumerate((published, late), start=1)}
    live.sink.ended(1)
    live.sink.ended(2)
    cid = builders.campaign(store)
    leads = add_leads(store, cid, [{"phones": [published]}, {"phones": [late]}, {"phones": [TO]}])
    stamp = to_iso(datetime.now(timezone.utc))
    for lead, sid in zip(leads, [sids[published], sids[late], "CA" + "7" * 32]):
        store.execute(
            "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
            "provider, provider_sid, status, disposition, claimed_at, ended_at, billed_minutes, "
            "price, price_final) VALUES (?, 1, ?, 1, '+1', ?, 1, 'twilio', ?, 'completed', "
            "'INTERESTED', ?, ?, 3, 0.05, 0)", (cid, lead, FROM, sid, stamp, stamp))
    account = TwilioAccount(TwilioCredentials(ACCOUNT_SID, Secret(AUTH_TOKEN), fake.base_url))
    assert finalize_prices(store, account, cid) == PriceSync(asked=3, finalized=1,
                                                             unpublished=1, missing=1)
    rows = {r["provider_sid"]: (r["price"], r["price_final"]) for r in store.all(
        "SELECT provider_sid, price, price_final FROM calls")}
    assert rows[sids[published]] == (pytest.approx(0.042), 1)     # 3 min x 0.014, Twilio's
    assert rows[sids[late]] == (0.05, 0)                           # still the estimate
    # Bad credentials: a clear error, and nothing written.
    before = store.all("SELECT id, price, price_final FROM calls ORDER BY id")
    wrong = TwilioAccount(TwilioCredentials(ACCOUNT_SID, Secret("wrong" * 6), fake.base_url))
    with pytest.raises(ProviderError, match="TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN"):
        finalize_prices(store, wrong, cid)
    assert store.all("SELECT id, price, price_final FROM calls ORDER BY id") == before


def test_a_live_run_makes_full_collections_rare_and_gives_the_thresholds_back(fake):
    """A full collection stopped every thread for 120-180 ms once per 45 s of peak load,
    inside the turns of every call in flight; during a run they come 10x less often,
    and the process's own thresholds are back once the provider closes."""
    import gc

    from dialcli.providers.twilio.provider import FULL_GC_EVERY

    before = gc.get_threshold()
    creds = TwilioCredentials(ACCOUNT_SID, Secret(AUTH_TOKEN), fake.base_url)
    provider = TwilioProvider(creds, public_url="https://x.example", port=0, brain=KeywordBrain())
    provider.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], max(before[2], FULL_GC_EVERY))
    finally:
        provider.close()
        gc.unfreeze()
    assert gc.get_threshold() == before


def test_create_parameters_are_twilios_names_and_documented_values(fake, live):
    # Calls.create (https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource):
    # the fake refuses a value outside the documented set (fakes.fake_twilio.invalid_create),
    # and every parameter sent is one the API defines.
    from dialcli.providers.base import DialRequest
    from fakes.fake_twilio import CREATE_ENUMS, invalid_create
    from test_live_path import ctx

    fake.script(TO, Scenario(answer="busy"))
    sid = live.place(DialRequest(1, TO, FROM, ctx(1, TO), "1:1:1:1:1:pass",
                                 ring_timeout_s=5000, record=True))
    sent = fake.creates[0]
    assert invalid_create(sent) is None and sid in fake.calls
    documented = {"To", "From", "Url", "Method", "StatusCallback", "StatusCallbackMethod",
                  "StatusCallbackEvent", "Timeout", "TimeLimit", "MachineDetection",
                  "AsyncAmd", "AsyncAmdStatusCallback", "AsyncAmdStatusCallbackMethod",
                  "Record", "RecordingChannels", "RecordingStatusCallback",
                  "RecordingStatusCallbackMethod", "RecordingStatusCallbackEvent"}
    assert set(sent) == documented
    assert sent["Timeout"] == ["600"]                # Twilio's maximum ring time
    assert sent["Record"] == ["true"] and sent["RecordingChannels"] == ["dual"]
    assert set(sent["RecordingStatusCallbackEvent"]) <= CREATE_ENUMS["RecordingStatusCallbackEvent"]
    assert live.sink.ended(1).status == CallStatus.BUSY


@pytest.mark.parametrize("name,value", [("MachineDetection", "DetectMessageEnd "),
                                        ("AsyncAmd", "True"), ("Timeout", "601"),
                                        ("StatusCallbackEvent", "in-progress"),
                                        ("Url", "/twiml/1")])
def test_the_fake_refuses_what_twilio_refuses(name, value):
    from fakes.fake_twilio import invalid_create

    form = {"To": [TO], "From": [FROM], "Url": ["https://x.example/twiml/1"], name: [value]}
    assert invalid_create(form) is not None


def test_a_call_that_fails_with_an_error_code_says_why(fake, live):
    # The failed status callback carries ErrorCode and SipResponseCode.
    fake.script(TO, Scenario(answer="failed", error_code="13224"))
    dial(live, 1, TO)
    ended = live.sink.ended(1)
    assert ended.status == CallStatus.FAILED and ended.error_code == 13224
    assert ended.error.startswith("Twilio error 13224") and ended.detail["sip_response_code"] == 404
