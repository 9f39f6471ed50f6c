"""Recordings: opt-in per campaign, asked of Twilio in two channels, kept by reference
from the signed recording callback, downloaded on demand; the state consent notice."""

from __future__ import annotations

import json

import httpx
import pytest
from twilio.request_validator import RequestValidator

import builders
from builders import add_leads
from dialcli.compliance import disclosure, recording
from dialcli.store import Store
from fakes.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, Scenario, say, start_provider
from fakes.keyword_brain import KeywordBrain
from test_live_path import Campaign, ny

SID = "CA" + "1" * 32
REC = "RE" + "a" * 32


# -- the consent table and the notice ------------------------------------------------------

def test_the_table_is_versioned_sourced_and_covers_the_all_party_states():
    version, rows = recording.shipped_table()
    assert version and all(r.source and r.confidence for r in rows.values())
    for state in ("CA", "FL", "IL", "MD", "MA", "MT", "NH", "PA", "WA"):
        assert rows[state].all_party, state
    assert recording.covering("US-CA") == ("CA",)
    assert recording.covering("US-NY") == ()
    assert recording.covering("US-NY,US-PA") == ("PA",)       # any candidate zone counts
    assert recording.covering("CA-ON") == (recording.CANADA,)
    assert recording.covering("") == (recording.UNKNOWN,)     # fail closed
    assert recording.covering(None) == (recording.UNKNOWN,)


@pytest.mark.parametrize("greeting,ok", [
    ("Hi Alex, this is Zara from Acme. This call is recorded.", True),
    ("Hi, this is Zara from Acme; this call may be monitored or recorded for quality.", True),
    ("Hi, Zara from Acme on a recorded line.", True),
    ("Hi, this is Zara from Acme. We are recording this call.", True),
    ("Hi, this is Zara from Acme. I have your records here.", False),
    ("Hi, this is Zara from Acme.", False),
])
def test_the_notice_is_found_in_the_greeting(greeting, ok):
    assert recording.has_notice(greeting) is ok


def test_the_disclosure_lint_asks_for_the_notice_only_when_recording():
    greeting, prompt = "Hi Alex, this is Zara from Acme. Press 9 to stop these calls.", "Be brief."
    assert disclosure.check_agent(greeting, prompt) == []
    (w,) = disclosure.check_agent(greeting, prompt, record=True)
    assert w.code == "recording" and "this call is recorded" in w.hint
    assert disclosure.check_agent(greeting + " This call is recorded.", prompt, record=True) == []


# -- campaign edit --record, preview, start ------------------------------------------------

LEADS = "name,phone1\nAlex Chen,+14155550101\nJamie Lee,+12125550102\n"    # CA, NY


@pytest.fixture
def recorded(cli, tmp_path, db_path):
    (tmp_path / "leads.csv").write_text(LEADS)
    for args in (("agent", "create", "Zara", "--greeting", "Hi {{NAME}}, this is Zara from "
                  "Acme. Press 9 to stop these calls.", "--prompt", "You are Zara."),
                 ("numbers", "add", "+14155550100"),
                 ("campaign", "create", "Spring", "--agent", "Zara", "--from", "+14155550100",
                  "--max-attempts", "1", "--purpose", "informational"),
                 ("import", tmp_path / "leads.csv")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    with Store(db_path) as st:
        builders.consent_all(st, 1)
    return tmp_path


def test_a_recorded_campaign_without_the_notice_is_refused_at_start(cli, recorded, db_path):
    result = cli("campaign", "edit", "Spring", "--record")
    assert result.exit_code == 0, result.output
    assert "greeting does not say so" in result.output and "Recording on" in result.output
    assert json.loads(cli("campaign", "show", "Spring", "--json").stdout)["record"] is True
    page = cli("preview").stdout
    assert "Recording: on" in page and "does NOT announce" in page and "(CA)" in page
    data = json.loads(cli("preview", "--json").stdout)["recording"]
    assert data["notice_in_greeting"] is False
    assert data["all_party_numbers"] == {"+14155550101": ["CA"]}
    result = cli("start", "--simulate", "--seed", "1")
    assert result.exit_code == 2
    assert "every party's consent" in result.output and "CA (1 number)" in result.output
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM calls") == 0        # nothing dialed
        assert st.scalar("SELECT status FROM campaigns") == "DRAFT"
    # With the notice in the first words, it starts.
    assert cli("agent", "edit", "Zara", "--greeting", "Hi {{NAME}}, this is Zara from Acme; "
               "this call is recorded. Press 9 to stop these calls.").exit_code == 0
    assert "the greeting announces it" in cli("preview").stdout
    result = cli("start", "--simulate", "--seed", "1")
    assert result.exit_code == 0, result.output
    # Simulated calls are never recorded, and say so.
    calls = json.loads(cli("calls", "--json").stdout)
    assert calls and not any(c["recorded"] for c in calls)
    result = cli("calls", "download", calls[0]["id"])
    assert result.exit_code == 2 and "no recording" in result.output


def test_numbers_only_in_one_party_states_start_with_a_warning(cli, recorded, db_path):
    with Store(db_path) as st, st.tx():
        st.execute("DELETE FROM leads WHERE name = 'Alex Chen'")
    assert cli("campaign", "edit", "Spring", "--record").exit_code == 0
    result = cli("start", "--simulate", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "does not say so" in result.output


# -- the live path on the fake Twilio --------------------------------------------------------

def test_twilio_records_in_two_channels_and_the_reference_is_kept(fake, store, cli, db_path,
                                                                 monkeypatch, tmp_path):
    camp = Campaign(store, fake, [(Scenario(lines=[say("Hello?"), say("I'm interested")]), []),
                                  (Scenario(answer="no-answer"), [])])
    with store.tx():
        store.execute("UPDATE campaigns SET record = 1 WHERE id = ?", (camp.cid,))
        # The numbers awake now may be anywhere (a state-less one counts as all-party):
        # the greeting announces the recording, so every dial may be recorded.
        store.execute("UPDATE agents SET greeting = 'Hi {{NAME}}, this is Zara from Acme; "
                      "this call is recorded.'")
    # The engine reads its campaign when it is built, as `start` builds it after any edit.
    from dialcli.clock import SystemClock
    from dialcli.engine.loop import Engine
    from test_live_path import FAST

    camp.engine = Engine(store, camp.cid, camp.provider, SystemClock(), timing=FAST)
    try:
        assert camp.run().outcome == "completed"
        assert fake.wait_idle()
    finally:
        camp.provider.close()
    rows = {r["e164"]: r for r in camp.call_rows()}
    answered, missed = rows[ny(100)], rows[ny(101)]
    # The two dials are placed concurrently: find this one's create by its number.
    (create,) = [c for c in fake.creates if c["To"] == [ny(100)]]
    assert create["Record"] == ["true"] and create["RecordingChannels"] == ["dual"]
    assert create["RecordingStatusCallback"][0].endswith(f"/recording/{answered['id']}")
    assert set(create["RecordingStatusCallbackEvent"]) == {"in-progress", "completed", "absent"}
    assert answered["recording_sid"] == "RE" + answered["provider_sid"][2:]
    assert answered["recording_status"] == "completed"
    assert answered["recording_duration_s"] == answered["duration_s"]
    assert missed["recording_sid"] is None             # never answered: nothing recorded
    statuses = [d["status"] for d in fake.deliveries if d["event"].startswith("recording:")]
    assert statuses == [204]
    # calls show and the call export carry the reference; the audio is fetched on demand.
    shown = json.loads(cli("calls", "show", answered["id"], "--json").stdout)
    assert shown["recording"]["sid"] == answered["recording_sid"]
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    target = tmp_path / "alex.wav"
    result = cli("calls", "download", answered["id"], "--out", target)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == fake.recordings[answered["recording_sid"]]
    result = cli("calls", "download", missed["id"])
    assert result.exit_code == 2 and "no recording" in result.output
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong-token")
    result = cli("calls", "download", answered["id"], "--out", tmp_path / "x.wav")
    assert result.exit_code == 3 and "refused" in result.output
    assert not (tmp_path / "x.wav").exists()
    assert AUTH_TOKEN not in result.output


@pytest.fixture
def live(fake, db_path):
    Store(db_path).close()
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path))
    yield provider
    provider.close()


def _row(store, call_id=7, sid=SID):
    cid = builders.campaign(store)
    lead = add_leads(store, cid, [{"phones": [ny(5)]}])[0]
    builders.add_call(store, cid, lead, disposition="INTERESTED")
    with store.tx():
        store.execute("UPDATE calls SET id = ?, provider = 'twilio', provider_sid = ?",
                      (call_id, sid))


def _post(live, path, data, *, token=AUTH_TOKEN, sign=True):
    url = live.server.public_url + path
    headers = {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, data)} \
        if sign else {}
    return httpx.post(live.server.thread.local_url + path, data=data, headers=headers, timeout=20)


def _params(**extra):
    base = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "RecordingSid": REC,
            "RecordingStatus": "completed", "RecordingDuration": "42", "RecordingChannels": "2",
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/"
                            f"Recordings/{REC}"}
    base.update(extra)
    return base


def test_a_recording_that_arrives_before_the_engine_wrote_the_sid_is_kept(live, store):
    """The engine records a placed call's SID in its next turn; on a busy machine a short
    answered call's recording callback can come first. Twilio does not retry it, so the
    reference is kept; a callback naming another SID than the one written is still refused."""
    _row(store, sid=None)
    assert _post(live, "/recording/7", _params()).status_code == 204
    assert store.scalar("SELECT recording_sid FROM calls WHERE id = 7") == REC
    with store.tx():
        store.execute("UPDATE calls SET provider_sid = ?, recording_sid = NULL WHERE id = 7",
                      ("CA" + "2" * 32,))
    assert _post(live, "/recording/7", _params()).status_code == 403
    assert store.scalar("SELECT recording_sid FROM calls WHERE id = 7") is None


@pytest.mark.parametrize("forgery", ["unsigned", "wrong token", "foreign account",
                                     "another call's sid", "tampered"])
def test_forged_recording_callbacks_are_refused_and_change_nothing(live, store, forgery):
    _row(store)
    data, kw = _params(), {}
    if forgery == "unsigned":
        kw["sign"] = False
    elif forgery == "wrong token":
        kw["token"] = "nope"
    elif forgery == "foreign account":
        data["AccountSid"] = "AC" + "9" * 32
    elif forgery == "another call's sid":
        data["CallSid"] = "CA" + "2" * 32
    if forgery == "tampered":
        url = live.server.public_url + "/recording/7"
        sig = RequestValidator(AUTH_TOKEN).compute_signature(url, data)
        r = httpx.post(live.server.thread.local_url + "/recording/7",
                       data=dict(data, RecordingDuration="1"), headers={"X-Twilio-Signature": sig})
    else:
        r = _post(live, "/recording/7", data, **kw)
    assert r.status_code == 403
    assert store.scalar("SELECT recording_sid FROM calls WHERE id = 7") is None


def test_a_late_in_progress_never_overwrites_a_completed_recording(live, store):
    _row(store)
    assert _post(live, "/recording/7", _params()).status_code == 204
    assert _post(live, "/recording/7", _params()).status_code == 204          # replay
    assert _post(live, "/recording/7", _params(RecordingStatus="in-progress",
                                               RecordingDuration="")).status_code == 204
    row = store.one("SELECT recording_sid, recording_status, recording_duration_s FROM calls "
                    "WHERE id = 7")
    assert tuple(row) == (REC, "completed", 42)
    assert _post(live, "/recording/7", _params(RecordingSid="nope")).status_code == 400


def test_each_dial_decides_again_and_never_records_a_covered_number_without_notice():
    on, ev = recording.decision("US-CA", "Hi, this is Zara from Acme.")
    assert on is False and ev["all_party"] == ["CA"] and "no notice" in ev["why_off"]
    on, ev = recording.decision("US-CA", "Hi, this is Zara from Acme; this call is recorded.")
    assert on is True and ev["notice"] is True
    assert recording.decision("US-NY", "Hi, this is Zara from Acme.")[0] is True
    assert recording.decision("", "Hi, this is Zara from Acme.")[0] is False   # unknown state


def test_a_greeting_edited_after_start_is_caught_at_the_dial(store):
    """The gate at start is repeated per dial: a covered number is then placed unrecorded,
    and the dial's audit row says so."""
    from datetime import datetime, timezone

    from dialcli.clock import VirtualClock
    from dialcli.engine.loop import Engine
    from dialcli.providers.simulator import SimProfile, SimulatedProvider

    cid = builders.campaign(store, greeting="Hi {{NAME}}, this is Zara from Acme.")
    add_leads(store, cid, [{"phones": ["+14155550101"], "timezone": "America/Los_Angeles"},
                           {"phones": ["+12125550107"]}])
    with store.tx():
        store.execute("UPDATE campaigns SET record = 1")
    provider = SimulatedProvider(KeywordBrain(), seed=1, profile=SimProfile.from_dict({}),
                                 record=True)
    engine = Engine(store, cid, provider,
                    VirtualClock(datetime(2026, 3, 3, 18, 0, tzinfo=timezone.utc)))
    engine.run()
    asked = {r.to: r.record for r in provider.placed}
    assert asked == {"+14155550101": False, "+12125550107": True}
    detail = {r[0]: json.loads(r[1])["recording"] for r in store.all(
        "SELECT e164, detail FROM audit WHERE decision = 'dial'")}
    assert detail["+14155550101"]["on"] is False and detail["+12125550107"]["on"] is True
