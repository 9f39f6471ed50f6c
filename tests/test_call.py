"""``dialcli call``: one test call outside any campaign (engine/testcall.py, cli/call.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dialcli.clock import SystemClock
from dialcli.compliance import consent, dnc
from dialcli.conversation.rules import RuleBrain
from dialcli.engine import testcall
from dialcli.errors import ConflictError, InputError, NotFoundError
from fakes.fake_twilio import Scenario, dtmf, say_interrupting, start_provider
from fakes.keyword_brain import KeywordBrain
import builders

# 16:00 UTC on a Tuesday: 11:00 in New York, 08:00 in Los Angeles (before 09:00).
OPEN = datetime(2026, 3, 3, 16, 0, tzinfo=timezone.utc)
NY, LA = "+12125550123", "+14155550123"
WA = "+12065550123"            # Washington: telemarketing by artificial voice is banned


def consent_for(store, e164, kind="written", at="2026-01-05T12:00:00Z"):
    with store.tx():
        consent.record(store.conn, e164=e164, kind=kind, consented_at=at, source="web form",
                       origin="test", now_iso=at)


@pytest.fixture
def ws(store):
    builders.agent(store, greeting="Hi {{NAME}}, this is Zara from Acme.",
                   prompt="You are Zara.", voicemail_message="Hi {{NAME}}, please call back.")
    builders.number(store)
    for e164 in (NY, LA):      # the tester's own phones, with their written consent
        consent_for(store, e164)
    return store


def test_a_test_call_is_recorded_before_it_is_placed_and_never_in_calls(ws):
    call = testcall.prepare(ws, number="(212) 555-0123", agent_name="zara", now=OPEN,
                            variables={"NAME": "Alex"}, simulate=True)
    assert call.phone.e164 == NY and call.call_id == testcall.TEST_CALL_BASE + call.row_id
    assert call.ctx.greeting == "Hi Alex, this is Zara from Acme."
    assert call.ctx.voicemail_message == "Hi Alex, please call back."
    row = ws.one("SELECT * FROM test_calls WHERE id = ?", (call.row_id,))
    assert row["status"] == "placing" and row["e164"] == NY and row["override_hours"] is None
    lines = []
    result = testcall.run_simulated(call, RuleBrain(), lambda k, t, a: lines.append((k, t)),
                                    persona="opt_out", seed=1)
    testcall.finish(ws, call, result, OPEN)
    assert ("caller", "Hello?") in lines and ("agent", "Hi Alex, this is Zara from Acme.") in lines
    assert result.disposition == "OPT_OUT"
    row = ws.one("SELECT * FROM test_calls WHERE id = ?", (call.row_id,))
    assert row["disposition"] == "OPT_OUT" and json.loads(row["transcript"])[0]["text"] == "Hello?"
    assert ws.scalar("SELECT COUNT(*) FROM calls") == 0


def test_a_simulated_call_reports_calling_hours_instead_of_refusing(ws):
    call = testcall.prepare(ws, number=LA, agent_name="Zara", now=OPEN, simulate=True)
    assert not call.hours_open and "Los_Angeles" in call.hours_note
    note = ws.scalar("SELECT override_hours FROM test_calls WHERE id = ?", (call.row_id,))
    assert note.startswith("simulated -- ")


def test_a_fresh_workspace_can_rehearse_the_example_agent(store):
    call = testcall.prepare(store, number=NY, agent_name="zara", now=OPEN, simulate=True)
    assert call.example_agent and call.missing_tokens == []
    assert "CASE-7741" in call.ctx.greeting and "$5000" in call.ctx.greeting
    assert store.scalar("SELECT COUNT(*) FROM agents") == 0
    with pytest.raises(NotFoundError):             # a real call needs a real agent
        testcall.prepare(store, number=NY, agent_name="Zara", now=OPEN)


def test_tokens_without_a_value_are_reported(ws):
    ws.execute("UPDATE agents SET greeting = 'Hi {{NAME}}, about case {{CASE_NUMBER}}.'")
    call = testcall.prepare(ws, number=NY, agent_name="Zara", now=OPEN)
    assert call.missing_tokens == ["CASE_NUMBER"]
    call = testcall.prepare(ws, number=NY, agent_name="Zara", now=OPEN,
                            variables={"case number": "77"})
    assert call.missing_tokens == [] and call.ctx.greeting == "Hi there, about case 77."


def test_calling_hours_apply_unless_overridden_and_the_override_is_recorded(ws):
    with pytest.raises(ConflictError) as info:
        testcall.prepare(ws, number=LA, agent_name="Zara", now=OPEN)
    assert "outside calling hours" in info.value.message and "--now" in info.value.hint
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 0
    call = testcall.prepare(ws, number=LA, agent_name="Zara", now=OPEN,
                            override_hours="--now (confirmed)")
    assert not call.hours_open
    note = ws.scalar("SELECT override_hours FROM test_calls WHERE id = ?", (call.row_id,))
    assert note.startswith("--now (confirmed) -- ") and "Los_Angeles" in note


def test_the_opt_out_list_is_never_overridden(ws):
    with ws.tx():
        dnc.add(ws.conn, [NY], source="manual", reason="asked", now_iso="2026-03-01T00:00:00Z")
    with pytest.raises(ConflictError, match="opt-out list"):
        testcall.prepare(ws, number=NY, agent_name="Zara", now=OPEN, override_hours="--now")
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 0


def test_a_test_call_passes_the_consent_gate_of_a_campaign_dial(ws):
    other = "+12125550199"
    with pytest.raises(ConflictError) as info:
        testcall.prepare(ws, number=other, agent_name="Zara", now=OPEN, override_hours="--now")
    assert "no written consent on record for +12125550199" in info.value.message
    assert "consent import" in info.value.hint
    consent_for(ws, other, kind="express")
    with pytest.raises(ConflictError, match="only express consent"):
        testcall.prepare(ws, number=other, agent_name="Zara", now=OPEN)
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 0
    call = testcall.prepare(ws, number=other, agent_name="Zara", now=OPEN,
                            purpose="informational")          # any consent will do
    row = ws.one("SELECT purpose, consent FROM test_calls WHERE id = ?", (call.row_id,))
    evidence = json.loads(row["consent"])
    assert row["purpose"] == "informational" and evidence["type"] == "express"
    assert evidence["required"] == "any" and call.consent_refusal is None
    # Consent given after the moment of the call does not count.
    later = "+12125550177"
    consent_for(ws, later, at="2026-03-04T00:00:00Z")
    with pytest.raises(ConflictError, match="no written consent"):
        testcall.prepare(ws, number=later, agent_name="Zara", now=OPEN)


def test_a_state_ban_on_ai_voice_stops_a_test_call_whatever_the_consent(ws):
    consent_for(ws, WA)
    with pytest.raises(ConflictError) as info:
        testcall.prepare(ws, number=WA, agent_name="Zara", now=OPEN, override_hours="--now")
    assert "state rule WA" in info.value.message and "bans" in info.value.message
    assert "No consent record lifts" in info.value.hint
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 0
    # Informational calls are not what WA bans.
    testcall.prepare(ws, number=WA, agent_name="Zara", now=OPEN, override_hours="--now",
                     purpose="informational")
    with pytest.raises(InputError, match="Unknown purpose"):
        testcall.prepare(ws, number=WA, agent_name="Zara", now=OPEN, purpose="sales")


def test_a_state_rule_beside_a_missing_record_is_fixed_by_the_record_and_says_so(ws):
    # Utah wants written consent too: with only express consent on record, the call is
    # stopped by the missing federal record, and a written record is the fix.
    utah = "+18015550121"
    consent_for(ws, utah, kind="express")
    with pytest.raises(ConflictError) as info:
        testcall.prepare(ws, number=utah, agent_name="Zara", now=OPEN, override_hours="--now")
    assert "only express consent" in info.value.message
    assert "consent import" in info.value.hint and "No consent record lifts" not in info.value.hint
    consent_for(ws, utah, kind="written")
    testcall.prepare(ws, number=utah, agent_name="Zara", now=OPEN, override_hours="--now")


def test_a_simulated_call_reports_the_consent_gate_instead_of_refusing(ws):
    call = testcall.prepare(ws, number=WA, agent_name="Zara", now=OPEN, simulate=True)
    assert "state rule WA" in call.consent_refusal
    evidence = json.loads(ws.scalar("SELECT consent FROM test_calls WHERE id = ?",
                                    (call.row_id,)))
    assert evidence["refused"] == call.consent_refusal


def test_cli_refuses_a_live_call_without_consent_and_warns_on_a_rehearsal(cli, ws, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "x" * 32)
    r = cli("call", "+12125550199", "--agent", "Zara", "--now", "--yes",
            "--public-url", "https://example.trycloudflare.com")
    assert r.exit_code == 1 and "no written consent on record" in r.stderr
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 0
    r = cli("call", "+12125550199", "--agent", "Zara", "--simulate", "--now", "--yes")
    assert r.exit_code == 0 and "A real call would be refused: no written consent" in r.stderr


@pytest.mark.parametrize("kw,error", [
    ({"number": "12"}, InputError), ({"agent_name": "Nobody"}, NotFoundError),
    ({"lead_id": 999}, NotFoundError),
])
def test_bad_input_is_refused_before_anything_is_written(ws, kw, error):
    args = {"number": NY, "agent_name": "Zara", "now": OPEN, **kw}
    with pytest.raises(error):
        testcall.prepare(ws, **args)
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 0


def test_a_leads_values_fill_the_tokens(ws):
    cid = builders.campaign(ws)
    lead_id = builders.add_lead(ws, cid, name="Maria Lopez", phones=[NY])
    call = testcall.prepare(ws, number=NY, agent_name="Zara", now=OPEN, lead_id=lead_id)
    assert call.ctx.greeting == "Hi Maria Lopez, this is Zara from Acme."   # as a campaign renders it


def test_parse_vars():
    assert testcall.parse_vars(["NAME=Alex", "CASE=12=34"]) == {"NAME": "Alex", "CASE": "12=34"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        testcall.parse_vars(["NAME"])


def test_cli_simulate_shows_a_whole_conversation(cli, ws):
    r = cli("call", NY, "--agent", "Zara", "--simulate", "--var", "NAME=Alex", "--now", "--yes")
    assert r.exit_code == 0, r.output
    assert "Callee: Hello?" in r.stdout and "Zara: Hi Alex, this is Zara from Acme." in r.stdout
    assert "recorded as a test call" in r.stderr
    r = cli("call", NY, "--agent", "Zara", "--simulate", "--persona", "opt_out", "--now", "--yes",
            "--json")
    data = json.loads(r.stdout[r.stdout.index("{"):])
    assert data["disposition"] == "OPT_OUT" and data["transcript"]
    assert ws.scalar("SELECT COUNT(*) FROM test_calls") == 2
    assert ws.scalar("SELECT COUNT(*) FROM calls") == 0


def test_the_help_shows_the_command_as_it_is_typed(cli, ws):
    """``call NUMBER`` is the ``place`` command unnamed: its help and usage errors show
    ``dialcli call [OPTIONS] NUMBER``, not a ``place`` the user never typed."""
    r = cli("call", "--help")
    assert r.exit_code == 0 and "dialcli call [OPTIONS]" in r.stdout, r.stdout
    assert "call place" not in r.stdout.split("Example")[0]
    r = cli("call")
    assert r.exit_code == 2 and "dialcli call [OPTIONS]" in r.stderr and "NUMBER" in r.stderr
    assert "dialcli call place [OPTIONS]" in cli("call", "place", "--help").stdout
    assert "dialcli call list [OPTIONS]" in cli("call", "list", "--help").stdout


@pytest.mark.parametrize("args,words", [
    (["12", "--agent", "Zara", "--simulate"], "Cannot call"),
    ([NY, "--agent", "Zara", "--simulate", "--var", "NAME"], "KEY=VALUE"),
    ([NY, "--agent", "Zara", "--simulate", "--now"], "needs confirmation"),
    ([NY, "--agent", "Zara", "--simulate", "--persona", "robot", "--now", "--yes"],
     "Unknown simulated callee"),
])
def test_cli_usage_errors_exit_2(cli, ws, args, words):
    r = cli("call", *args)
    assert r.exit_code == 2 and words in r.stderr


def test_a_live_test_call_through_the_fake_twilio_prints_every_line(fake, ws, db_path):
    fake.script(NY, Scenario(hello="Hello?", hello_at_s=0.3, amd_delay_s=1.5,
                             lines=[say_interrupting("Who is this?", None), dtmf("9")]))
    call = testcall.prepare(ws, number=NY, agent_name="Zara", now=OPEN,
                            variables={"NAME": "Alex"})
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path))
    lines = []
    result = testcall.run_live(call, provider, lambda k, t, a: lines.append((k, t)),
                               clock=SystemClock(), max_wait_s=20)
    testcall.finish(ws, call, result, OPEN)
    kinds = [k for k, _ in lines]
    assert ("caller", "Hello?") in lines and ("agent", "Hi Alex, this is Zara from Acme.") in lines
    assert "interrupted" in kinds and ("dtmf", "9") in lines
    assert kinds.index("caller") < kinds.index("agent")
    assert result.disposition == "OPT_OUT" and result.status == "completed"
    row = ws.one("SELECT * FROM test_calls WHERE id = ?", (call.row_id,))
    assert row["status"] == "completed" and row["disposition"] == "OPT_OUT"
    assert row["provider_sid"] == fake.by_to(NY)[0].sid
    assert ws.scalar("SELECT COUNT(*) FROM calls") == 0


def test_a_live_test_call_to_a_machine_leaves_the_message(fake, ws, db_path):
    fake.script(NY, Scenario(answer="machine", machine_greeting="Hi, you've reached Alex. | "
                             "Leave a message after the tone.", greeting_at_s=0.2,
                             greeting_s=1.0, amd_delay_s=1.5, machine_wait_s=5))
    call = testcall.prepare(ws, number=NY, agent_name="Zara", now=OPEN,
                            variables={"NAME": "Alex"})
    provider = start_provider(fake, KeywordBrain(), store_path=str(db_path))
    lines = []
    result = testcall.run_live(call, provider, lambda k, t, a: lines.append((k, t)),
                               clock=SystemClock(), max_wait_s=20)
    assert result.disposition == "VOICEMAIL" and result.voicemail_left
    assert not [t for k, t in lines if k == "agent"]
    assert any(k == "machine" for k, _ in lines)
    assert fake.by_to(NY)[0].said == ["Hi Alex, please call back."]


def test_cli_simulate_works_on_a_fresh_install(cli, db_path):
    assert not db_path.exists()
    r = cli("call", NY, "--agent", "Zara", "--simulate", "--now", "--yes")
    assert r.exit_code == 0, r.output
    assert "Zara: Hi Alex Chen, this is Zara" in r.stdout and "example agent" in r.stderr


def test_call_list_shows_past_test_calls_newest_first(cli, ws):
    r = cli("call", "list")
    assert r.exit_code == 0 and "No test calls yet" in r.stderr
    assert cli("call", NY, "--agent", "Zara", "--simulate", "--persona", "opt_out",
               "--var", "NAME=Alex", "--now", "--yes").exit_code == 0
    assert cli("call", LA, "--agent", "Zara", "--simulate", "--now", "--yes").exit_code == 0
    r = cli("call", "list")                     # piped: TSV with a header, full values
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].split("\t")[:6] == ["ID", "Started", "To", "Agent", "How", "Outcome"]
    assert [line.split("\t")[2] for line in lines[1:]] == [LA, NY]
    first = lines[2].split("\t")
    assert first[0] == "1" and first[4] == "simulated" and first[5] == "OPT_OUT"
    assert first[1].endswith("Z")
    data = json.loads(cli("call", "list", "--json", "--limit", "1").stdout)
    assert len(data) == 1 and data[0]["e164"] == LA and data[0]["simulated"] is True
    assert data[0]["purpose"] == "telemarketing" and data[0]["consent"]["type"] == "written"
    assert data[0]["transcript"][0]["text"] == "Hello?"
    assert ws.scalar("SELECT COUNT(*) FROM calls") == 0
