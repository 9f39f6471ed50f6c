"""``dialcli doctor`` and ``dialcli numbers sync`` against the fake Twilio, a fake LLM and
real local servers (a stand-in tunnel maps the public https host to the local port)."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone

import httpx
import pytest

from dialcli.engine import doctor
from dialcli.workspace.campaigns import get_campaign
from dialcli.models import Campaign
from dialcli.providers.twilio.server import CallServer
from dialcli.providers.twilio.server_thread import ServerThread
import builders
from builders import add_leads
from fakes.fake_llm import FakeLLM, http_error, reply
from fakes.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

FROM = builders.FROM
T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)   # 10:00 in New York, 00:00 in Tokyo


@pytest.fixture
def fake(monkeypatch):
    with FakeTwilio() as f:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        monkeypatch.setenv("TWILIO_API_BASE", f.base_url)
        yield f


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tunnel(httpx.HTTPTransport):
    """What cloudflared does for the doctor's probe: public https host -> local port."""

    def __init__(self, public_host: str, port: int):
        super().__init__()
        self.public_host, self.port = public_host, port

    def handle_request(self, request):
        if request.url.host == self.public_host:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return super().handle_request(request)


def campaigns(store) -> list[Campaign]:
    return doctor.active_campaigns(store)


# -- numbers sync ----------------------------------------------------------------------

def test_numbers_sync_adds_owned_numbers_and_flags_unknown_ones(fake, cli, store):
    fake.add_number("+14155550100", label="Main line")
    fake.add_number("+14155550111", voice=False, label="SMS only")
    fake.add_caller_id("+14155550122", "My cell")
    for number, label in (("+14155550100", "Sales"), ("+14155550122", None), ("+14155550133", None)):
        assert cli("numbers", "add", number, *(["--label", label] if label else [])).exit_code == 0
    r = cli("numbers", "sync", "--json")
    assert r.exit_code == 0, r.output
    got = {n["e164"]: n for n in json.loads(r.stdout)}
    assert got["+14155550100"] == {"e164": "+14155550100", "label": "Sales", "voice_capable": True,
                                   "kind": "owned", "change": "updated"}
    assert got["+14155550111"]["change"] == "added" and got["+14155550111"]["voice_capable"] is False
    assert got["+14155550122"]["kind"] == "verified caller ID" and got["+14155550122"]["voice_capable"]
    assert got["+14155550133"] == {"e164": "+14155550133", "label": None, "voice_capable": False,
                                   "kind": "not on this account", "change": "missing"}
    rows = {r["e164"]: dict(r) for r in store.all("SELECT * FROM numbers")}
    assert rows["+14155550100"]["label"] == "Sales"                  # the user's label is kept
    assert rows["+14155550100"]["provider_sid"] == fake.numbers[0]["sid"]
    assert rows["+14155550111"]["label"] == "SMS only" and rows["+14155550111"]["voice_capable"] == 0
    assert rows["+14155550133"]["voice_capable"] == 0 and rows["+14155550133"]["synced_at"]
    again = json.loads(cli("numbers", "sync", "--json").stdout)
    assert {n["change"] for n in again if n["kind"] != "not on this account"} == {"unchanged"}


def test_numbers_sync_table_says_what_to_do_about_unknown_numbers(fake, cli):
    cli("numbers", "add", "+14155550133")
    r = cli("numbers", "sync")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "+14155550133" in text and "not on this account" in text
    assert "Buy or verify them" in text and "Synced: 0 added" in r.stderr
    # Piped, the numbers are tab-separated lines under a header (no box drawing).
    lines = r.stdout.splitlines()
    assert lines[0].split("\t") == ["Number", "Label", "Voice", "On Twilio as", "Change"]
    assert any(line.startswith("+14155550133\t") for line in lines)
    assert not any(ch in r.stdout for ch in "│━─")


def test_numbers_sync_without_credentials_is_a_usage_error(cli):
    r = cli("numbers", "sync")
    assert r.exit_code == 2
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in r.stderr


def test_numbers_sync_with_twilio_down_changes_nothing(fake, cli, store):
    cli("numbers", "add", "+14155550133")
    fake.stop()
    r = cli("numbers", "sync")
    assert r.exit_code == 3 and "Could not reach Twilio" in r.stderr
    assert tuple(store.one("SELECT voice_capable, synced_at FROM numbers")) == (None, None)


def test_numbers_sync_with_a_wrong_token_never_shows_it(fake, cli, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong-token-abcdef")
    r = cli("numbers", "sync")
    assert r.exit_code == 3 and "20003" in r.stderr
    assert "wrong-token-abcdef" not in r.output


# -- doctor ------------------------------------------------------------------------------

def test_doctor_all_good_through_the_tunnel(fake, store, monkeypatch):
    fake.add_number(FROM)
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": ["+12125550101"], "timezone": "America/New_York"},
                           {"phones": ["+12125550102"], "timezone": "Asia/Tokyo"}])
    port = free_port()
    public = "https://doctor.tunnel.example"
    with FakeLLM(default=reply("OK")) as llm, \
            httpx.Client(transport=Tunnel("doctor.tunnel.example", port)) as http:
        for name, value in (("DIALCLI_LLM_BASE_URL", llm.base_url), ("DIALCLI_LLM_MODEL", "m"),
                            ("DIALCLI_LLM_API_KEY", "sk-test-123456")):
            monkeypatch.setenv(name, value)
        checks = doctor.run_checks(store, campaigns(store),
                                   doctor.DoctorOptions(public_url=public, port=port),
                                   now=T0, http=http)
        assert llm.chat_requests[0].headers.get("authorization") == "Bearer sk-test-123456"
    assert [(c.name, c.status) for c in checks] == [
        ("Twilio credentials", "ok"), ("From-numbers", "ok"), ("Public URL", "ok"),
        ("LLM", "ok"), ("Voices (Spring)", "ok"), ("Calling window (Spring)", "ok"),
        ("Consent (Spring)", "ok")]
    assert "1 of 2 waiting lead(s) are inside 09:00-20:00" in checks[-2].message
    assert checks[-1].message.startswith("informational: every waiting lead (2) has prior "
                                         "express consent")
    # The server doctor started for the probe is gone again.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_doctor_probes_the_running_callback_server_instead_of_starting_one(fake, store):
    port = free_port()
    running = CallServer(None, public_url="https://run.tunnel.example", port=port).start()
    try:
        with httpx.Client(transport=Tunnel("run.tunnel.example", port)) as http:
            checks: list = []
            doctor.check_public_url(checks, doctor.DoctorOptions(
                public_url="https://run.tunnel.example", port=port), http)
        assert checks[0].status == "ok"
    finally:
        running.stop()


def test_doctor_reports_every_problem_with_a_fix(fake, cli, store):
    fake.account_type = "Trial"
    builders.campaign(store)                               # FROM is not on the fake account
    r = cli("doctor", "--public-url", "https://nowhere.invalid", "--port", free_port(), "--json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["Twilio credentials"]["status"] == "warn"
    assert "trial account" in checks["Twilio credentials"]["message"]
    assert checks["From-numbers"]["status"] == "fail"
    assert "not a number on this Twilio account" in checks["From-numbers"]["message"]
    assert "21210" in checks["From-numbers"]["message"]
    assert checks["Public URL"]["status"] == "fail"
    assert "cloudflared tunnel --url http://localhost:" in checks["Public URL"]["fix"]
    assert all(c["fix"] for c in report["checks"] if c["status"] == "fail")


def test_doctor_text_report_and_exit_code(fake, cli, store):
    fake.add_number(FROM)
    builders.campaign(store)
    port = free_port()
    # Public URL == the local URL: reachable but plain http (a warning, not a failure).
    r = cli("doctor", "--public-url", f"http://127.0.0.1:{port}", "--port", port)
    assert r.exit_code == 0, r.output
    # Piped: one check per line, tab-separated under a header; the verdict on stderr.
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert lines[0] == ["Status", "Check", "Message", "Fix"]
    assert all(len(row) == 4 and row[0] in ("ok", "warn", "fail", "skip") for row in lines[1:])
    assert any(row[0] == "warn" and "plain http" in row[2] for row in lines[1:])
    assert "Ready for live calls" in r.stderr


def test_doctor_on_a_terminal_draws_marks_and_fixes(fake, cli, store, monkeypatch):
    fake.add_number(FROM)
    builders.campaign(store)
    port = free_port()
    builders.as_terminal(monkeypatch, 160)
    r = cli("doctor", "--public-url", f"http://127.0.0.1:{port}", "--port", port)
    assert r.exit_code == 0, r.output
    assert "✓" in r.stdout and "plain http" in r.stdout and "Ready for live calls" in r.stdout
    assert "\t" not in r.stdout


def test_doctor_fails_when_the_tunnel_reaches_something_else(fake, store):
    other = ServerThread(_hello_app(), port=0).start()
    try:
        checks: list = []
        doctor.check_public_url(checks, doctor.DoctorOptions(
            public_url=other.local_url, port=free_port()), httpx.Client())
        assert checks[0].status == "fail" and "not with this dialcli" in checks[0].message
    finally:
        other.stop()


def test_doctor_fails_when_the_port_is_taken_by_another_program(fake):
    other = ServerThread(_hello_app(), port=0).start()
    try:
        checks: list = []
        doctor.check_public_url(checks, doctor.DoctorOptions(
            public_url="https://x.tunnel.example", port=other.port), httpx.Client())
        assert checks[0].status == "fail" and f"Port {other.port} is taken" in checks[0].message
    finally:
        other.stop()


def _hello_app():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    return Starlette(routes=[Route("/health", lambda r: PlainTextResponse("hello"))])


@pytest.mark.parametrize("script,message", [
    (http_error(401, "Incorrect API key provided"), "refused the API key"),
    (http_error(404, "model not found"), "wrong base URL or unknown model"),
    (http_error(500), "did not answer a test completion"),
])
def test_doctor_llm_failures(monkeypatch, script, message):
    with FakeLLM(default=script) as llm:
        monkeypatch.setenv("DIALCLI_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("DIALCLI_LLM_API_KEY", "sk-secret-999999")
        checks: list = []
        doctor.check_llm(checks, httpx.Client())
    assert checks[0].status == "fail" and message in checks[0].message
    assert "sk-secret-999999" not in checks[0].message + (checks[0].fix or "")


def test_doctor_llm_unreachable(monkeypatch):
    monkeypatch.setenv("DIALCLI_LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    checks: list = []
    doctor.check_llm(checks, httpx.Client())
    assert checks[0].status == "fail" and "Cannot reach the LLM" in checks[0].message


def test_calling_window_warns_when_everyone_is_asleep(store):
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": ["+12125550101"], "timezone": "Asia/Tokyo"},
                           {"phones": ["+12125550102"], "timezone": "Asia/Tokyo"}])
    check = doctor.check_window(store, campaigns(store)[0], T0)
    assert check.status == "warn"
    assert "None of the 2 waiting lead(s)" in check.message and "asleep" in check.message
    assert "2026-03-04 00:00 UTC" in check.message           # 09:00 in Tokyo
    assert "dialcli waits for each lead's window" in check.fix


def test_calling_window_counts_leads_without_a_time_zone(store):
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": ["+12125550101"]}, {"phones": ["+80012345678"]}])
    check = doctor.check_window(store, campaigns(store)[0], T0)
    assert check.status == "warn" and "1 lead(s) have no known time zone" in check.message


def test_calling_window_counts_leads_whose_state_hours_never_meet_it(store):
    cid = builders.campaign(store, window=("08:00", "09:00"))
    # 13:30 UTC: 08:30 in New York (open); Chicago's Illinois starts at 09:00, never met.
    add_leads(store, cid, [{"phones": ["+12125550101"]}, {"phones": ["+13125550102"]}])
    check = doctor.check_window(store, campaigns(store)[0], T0.replace(hour=13, minute=30))
    assert check.status == "warn"
    assert "1 of 2 waiting lead(s) are inside 08:00-09:00" in check.message
    assert "1 lead(s) have no permitted calling time and will be skipped" in check.message
    assert "IL 09:00-21:00" in check.message


def test_doctor_for_a_named_campaign_only(fake, cli, store):
    fake.add_number(FROM)
    builders.campaign(store, name="Alpha")
    builders.campaign(store, name="Beta", from_number="+14155550199")
    r = cli("doctor", "Alpha", "--public-url", "https://nowhere.invalid", "--json")
    names = [c["check"] for c in json.loads(r.stdout)["checks"]]
    assert "Calling window (Alpha)" in names and "Calling window (Beta)" not in names
    assert r.exit_code == 1
    r = cli("doctor", "Gamma")
    assert r.exit_code == 2 and "No campaign named 'Gamma'" in r.stderr


def test_doctor_flags_an_agent_voice_that_cannot_speak_its_language(store):
    builders.agent(store)
    builders.number(store)
    builders.campaign(store)
    # A voice stored before validation existed: an English Polly voice on a Spanish agent.
    store.execute("UPDATE agents SET language = 'es-US', voice = 'Polly.Joanna'")
    check = doctor.check_voices(store, get_campaign(store, "Spring"))
    assert check.status == "fail" and "speaks en-US" in check.message
    assert "--voicemail-voice" in check.fix
    store.execute("UPDATE agents SET voice = 'Lupe-Neural', tts_provider = 'Amazon'")
    check = doctor.check_voices(store, get_campaign(store, "Spring"))
    assert check.status == "ok" and "Polly.Lupe-Neural" in check.message
