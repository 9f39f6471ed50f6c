"""Campaigns: settings validation, the running guards, delete, and the ``campaign`` commands."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from dialcli.workspace import agents

from dialcli.workspace import campaigns

from dialcli.workspace import numbers
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.models import CampaignStatus, VoicemailAction

import builders

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
FROM = "+14155550100"
#: ``campaign create`` with the purpose every CLI test here needs.
CREATE = ("campaign", "create", "--purpose", "informational")


def said(text: str, fragment: str) -> bool:
    """``fragment`` appears in ``text`` however Rich wrapped the lines (stderr is
    hard-wrapped at the console width, which depends on the terminal)."""
    return "".join(fragment.split()) in "".join(text.split())


def dump(store) -> list[str]:
    return list(store.conn.iterdump())


@pytest.fixture
def ws(store):
    """A workspace with two agents (Zara has a voicemail message) and two numbers."""
    agents.create_agent(store, name="Zara", greeting="Hi {{NAME}}", prompt="p",
                        voicemail_message="Zara's message", now=T0)
    agents.create_agent(store, name="Sam", greeting="Hello", prompt="p", now=T0)
    numbers.add_number(store, FROM, label="Main", now=T0)
    numbers.add_number(store, "+14155550111", now=T0)
    return store


def create(store, name="Spring", agent="Zara", **kw):
    kw.setdefault("from_number", FROM)
    kw.setdefault("purpose", "informational")
    return campaigns.create_campaign(store, name=name, agent=agent, now=T0, **kw)


def add_leads(store, campaign_id, n, *, status="PENDING", import_columns=None):
    import_id = builders.add_import(store, campaign_id, import_columns) if import_columns else None
    return builders.add_leads(store, campaign_id, [
        {"name": f"Lead {i}", "phones": [f"+1212555{i:04d}"], "status": status,
         "import_id": import_id} for i in range(n)])


# -- create -----------------------------------------------------------------------------

def test_create_defaults(ws):
    c = create(ws)
    assert c.status is CampaignStatus.DRAFT
    assert (c.window_start, c.window_end) == ("09:00", "20:00")
    assert (c.retry_interval_minutes, c.max_attempts, c.max_concurrent, c.cps) == (60, 3, 5, 1.0)
    assert c.voicemail_action is VoicemailAction.HANGUP and c.voicemail_message is None
    assert (c.run, c.pass_no, c.next_pass_at) == (1, 1, None)
    assert c.from_number == FROM
    assert c.agent_id == agents.get_agent(ws, "zara").id
    assert c.created_at == "2026-03-03T15:00:00.000Z"
    assert campaigns.get_campaign(ws, c.id) == campaigns.get_campaign(ws, "SPRING") == c


def test_create_with_every_setting(ws):
    sam = agents.get_agent(ws, "Sam")
    c = create(ws, agent=sam, from_number="(415) 555-0111", window="8:00–21:00", retry_interval=10080,
               max_attempts=10, voicemail="MESSAGE", voicemail_message=" Call {{NAME}} \n",
               max_concurrent=200, cps=50)
    assert c.agent_id == sam.id and c.from_number == "+14155550111"
    assert (c.window_start, c.window_end) == ("08:00", "21:00")
    assert (c.retry_interval_minutes, c.max_attempts, c.max_concurrent, c.cps) == (10080, 10, 200, 50.0)
    assert c.voicemail_action is VoicemailAction.MESSAGE and c.voicemail_message == "Call {{NAME}}"


@pytest.mark.parametrize("kw, match", [
    ({"window": "07:59-20:00"}, "outside 08:00-21:00"),
    ({"window": "09:00-21:01"}, "outside 08:00-21:00"),
    ({"window": "20:00-09:00"}, "starts at or after it ends"),
    ({"window": "10:00-10:00"}, "starts at or after it ends"),
    ({"window": "9am-5pm"}, "not a time of day"),
    ({"window": "09:00"}, "not START-END"),
    ({"retry_interval": 0}, "--retry-interval 0 is out of range"),
    ({"retry_interval": 10081}, "out of range"),
    ({"retry_interval": 1.5}, "not a whole number"),
    ({"max_attempts": 0}, "--max-attempts 0 is out of range"),
    ({"max_attempts": 11}, "1-10"),
    ({"max_concurrent": 0}, "--max-concurrent 0"),
    ({"max_concurrent": 201}, "1-200"),
    ({"cps": 0}, "--cps 0 is out of range"),
    ({"cps": -1}, "out of range"),
    ({"cps": 50.5}, "at most 50"),
    ({"cps": float("nan")}, "out of range"),
    ({"cps": float("inf")}, "out of range"),
    ({"cps": "fast"}, "not a number"),
    ({"voicemail": "beep"}, "not hangup or message"),
    ({"voicemail_message": "Hi {{"}, "voicemail message is not a valid template"),
    ({"from_number": "+14155550199"}, "not one of this workspace's numbers"),
    ({"from_number": "555"}, "From-number '555' is not usable"),
    ({"name": " "}, "campaign name is empty"),
])
def test_bad_settings_refused_and_nothing_written(ws, kw, match):
    before = dump(ws)
    with pytest.raises(InputError) as exc:
        create(ws, **kw)
    assert match in str(exc.value)
    assert dump(ws) == before


def test_unknown_agent_is_not_found(ws):
    with pytest.raises(NotFoundError, match="No agent named 'Nobody'"):
        create(ws, agent="Nobody")


def test_names_unique_case_insensitively(ws):
    create(ws)
    with pytest.raises(InputError, match="'Spring' already exists"):
        create(ws, name="SPRING")


def test_voicemail_message_needs_a_message(ws):
    with pytest.raises(InputError, match="neither the campaign nor agent 'Sam' has one"):
        create(ws, agent="Sam", voicemail="message")
    c = create(ws, name="A", agent="Sam", voicemail="message", voicemail_message="Ours")
    assert c.voicemail_message == "Ours"
    c = create(ws, name="B", agent="Zara", voicemail="message")      # the agent's message
    assert c.voicemail_message is None
    assert campaigns.campaign_details(ws, "B").voicemail_message == "Zara's message"
    c = create(ws, name="C", agent="Zara", voicemail="message", voicemail_message="Override")
    assert campaigns.campaign_details(ws, "C").voicemail_message == "Override"


def test_number_marked_not_voice_capable_is_refused(ws):
    ws.execute("UPDATE numbers SET voice_capable = 0 WHERE e164 = ?", (FROM,))
    with pytest.raises(InputError, match="cannot make voice calls"):
        create(ws)


# -- edit -------------------------------------------------------------------------------

def test_edit_changes_only_what_is_given(ws):
    c = create(ws)
    later = T0 + timedelta(minutes=5)
    e = campaigns.edit_campaign(ws, "spring", window="10:00-19:00", cps=0.5, name="Spring 2", now=later)
    assert (e.name, e.window_start, e.window_end, e.cps) == ("Spring 2", "10:00", "19:00", 0.5)
    assert (e.retry_interval_minutes, e.max_attempts, e.agent_id, e.from_number) == \
        (c.retry_interval_minutes, c.max_attempts, c.agent_id, c.from_number)
    assert e.updated_at == "2026-03-03T15:05:00.000Z" and e.created_at == c.created_at
    e = campaigns.edit_campaign(ws, c.id, agent="sam", from_number="415 555 0111", now=later)
    assert e.agent_id == agents.get_agent(ws, "Sam").id and e.from_number == "+14155550111"


def test_edit_validates_like_create(ws):
    create(ws)
    create(ws, name="Other")
    before = dump(ws)
    for kw, match in [({"window": "06:00-10:00"}, "outside"), ({"max_attempts": 0}, "out of range"),
                      ({"name": "other"}, "already exists"), ({}, "Nothing to change"),
                      ({"agent": "Sam", "voicemail": "message"}, "needs a message"),
                      ({"from_number": "+14155550199"}, "not one of")]:
        with pytest.raises(InputError, match=match):
            campaigns.edit_campaign(ws, "Spring", now=T0, **kw)
    assert dump(ws) == before


def test_edit_voicemail_message_clear(ws):
    create(ws, agent="Sam", voicemail="message", voicemail_message="Ours")
    with pytest.raises(InputError, match="needs a message"):
        campaigns.edit_campaign(ws, "Spring", voicemail_message="", now=T0)
    e = campaigns.edit_campaign(ws, "Spring", voicemail="hangup", voicemail_message="", now=T0)
    assert e.voicemail_action is VoicemailAction.HANGUP and e.voicemail_message is None


def test_running_campaign_keeps_agent_and_number(ws):
    c = create(ws)
    ws.execute("UPDATE campaigns SET status = 'RUNNING' WHERE id = ?", (c.id,))
    with pytest.raises(ConflictError, match="running; pause it before you change its agent"):
        campaigns.edit_campaign(ws, "Spring", agent="Sam", now=T0)
    with pytest.raises(ConflictError, match="change its from-number"):
        campaigns.edit_campaign(ws, "Spring", from_number="+14155550111", now=T0)
    # Naming the same agent/number, and other settings, are fine while running.
    e = campaigns.edit_campaign(ws, "Spring", agent="zara", from_number=FROM, max_attempts=5, now=T0)
    assert e.max_attempts == 5 and e.status is CampaignStatus.RUNNING


# -- show / list ------------------------------------------------------------------------

def test_details_and_list_count_leads_by_status(ws):
    a = create(ws)
    b = create(ws, name="autumn")
    add_leads(ws, a.id, 3)
    add_leads(ws, a.id, 2, status="REACHED")
    add_leads(ws, b.id, 1, status="SKIPPED")
    d = campaigns.campaign_details(ws, "Spring")
    assert d.total_leads == 5 and d.leads["PENDING"] == 3 and d.leads["REACHED"] == 2
    assert d.leads["RETRY"] == 0 and d.number_label == "Main" and d.agent.name == "Zara"
    data = d.as_dict()
    assert data["leads"]["total"] == 5 and data["agent"] == "Zara" and data["window"] == "09:00-20:00"
    rows = campaigns.list_campaigns(ws)
    assert [(r.campaign.name, r.total_leads) for r in rows] == [("autumn", 1), ("Spring", 5)]
    assert rows[0].leads["SKIPPED"] == 1


def test_get_campaign_not_found(ws):
    create(ws)
    with pytest.raises(NotFoundError) as exc:
        campaigns.get_campaign(ws, "Nope")
    assert "Campaigns here: Spring" in exc.value.hint
    with pytest.raises(NotFoundError):
        campaigns.get_campaign(ws, 999)


# -- delete -----------------------------------------------------------------------------

def test_delete_removes_leads_calls_imports_keeps_optouts_and_audit(ws):
    c = create(ws)
    keep = create(ws, name="Keep")
    lead_ids = add_leads(ws, c.id, 3, import_columns=["NAME", "PHONE1"])
    kept_leads = add_leads(ws, keep.id, 1)
    call_id = ws.execute(
        "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, provider, "
        "claimed_at, disposition, ended_at) VALUES (?, 1, ?, 1, '+12125550000', ?, 1, 'simulator', "
        "'t', 'NO_ANSWER', '2026-03-03T15:01:00.000Z')", (c.id, lead_ids[0], FROM)).lastrowid
    ws.execute("INSERT INTO appointments (campaign_id, lead_id, call_id, slot, due_at, created_at) "
               "VALUES (?, ?, ?, 1, 't', 't')", (c.id, lead_ids[1], call_id))
    ws.execute("INSERT INTO dnc (e164, source, campaign_id, added_at) VALUES ('+12125550001', 'call', ?, 't')",
               (c.id,))
    ws.execute("INSERT INTO audit (ts, campaign_id, decision) VALUES ('t', ?, 'dial')", (c.id,))

    assert campaigns.delete_campaign(ws, "spring") == {"leads": 3, "calls": 1, "imports": 1}
    for table in ("leads", "calls", "imports", "appointments", "call_stats"):
        assert ws.scalar(f"SELECT COUNT(*) FROM {table} WHERE campaign_id = ?", (c.id,)) == 0, table
    assert ws.scalar("SELECT COUNT(*) FROM lead_phones WHERE lead_id IN (?, ?, ?)", lead_ids) == 0
    assert ws.scalar("SELECT COUNT(*) FROM dnc") == 1
    assert ws.scalar("SELECT COUNT(*) FROM audit") == 1
    assert ws.scalar("SELECT COUNT(*) FROM leads WHERE id = ?", (kept_leads[0],)) == 1
    with pytest.raises(NotFoundError):
        campaigns.get_campaign(ws, c.id)


def test_deleted_campaign_ids_are_not_reused(ws):
    create(ws, name="A")
    b = create(ws, name="B")
    ws.execute("INSERT INTO audit (ts, campaign_id, decision) VALUES ('t', ?, 'dial')", (b.id,))
    campaigns.delete_campaign(ws, "B")
    c = create(ws, name="C")
    assert c.id > b.id


def test_running_campaign_cannot_be_deleted(ws):
    c = create(ws)
    ws.execute("UPDATE campaigns SET status = 'RUNNING' WHERE id = ?", (c.id,))
    before = dump(ws)
    with pytest.raises(ConflictError, match="pause it before you delete it"):
        campaigns.check_deletable(ws, "Spring")
    with pytest.raises(ConflictError):
        campaigns.delete_campaign(ws, "Spring")
    assert dump(ws) == before


# -- CLI --------------------------------------------------------------------------------

def test_cli_warns_of_states_a_window_never_meets(cli, ws):
    r = cli(*CREATE, "Early", "--agent", "sam", "--from", FROM,
            "--window", "08:00-09:00")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "Calling hours 08:00-09:00 never meet the hours these states allow:")
    assert said(r.stderr, "IL 09:00-21:00") and said(r.stderr, "RI 09:00-18:00")
    r = cli("campaign", "edit", "Early", "--window", "19:00-21:00")
    assert r.exit_code == 0 and said(r.stderr, "allow: RI 09:00-18:00.")
    for args in (("--window", "09:00-20:00"), ("--max-attempts", "2")):
        r = cli("campaign", "edit", "Early", *args)
        assert r.exit_code == 0 and "never meet" not in r.stderr


def test_cli_create_show_list(cli, ws):
    r = cli(*CREATE, "Spring", "--agent", "sam", "--from", "(415) 555-0100",
            "--window", "10:00-19:00", "--voicemail-message", "Call us back")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "Created campaign 'Spring' (DRAFT, informational: each number needs "
                          "prior express consent (written or not))") and r.stdout == ""
    r = cli("campaign", "show", "--json")            # the only campaign: name may be omitted
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["name"] == "Spring" and data["agent"] == "Sam" and data["from_number"] == FROM
    assert data["window"] == "10:00-19:00" and data["status"] == "DRAFT"
    # --voicemail-message without --voicemail means "leave it".
    assert data["voicemail"] == "message" and data["effective_voicemail_message"] == "Call us back"

    add_leads(ws, data["id"], 2)
    r = cli("campaign", "show", "spring")
    assert r.exit_code == 0
    assert "Spring" in r.stdout and "10:00-19:00" in r.stdout and "PENDING" in r.stdout
    assert "Leads: 2" in r.stdout

    r = cli(*CREATE, "Autumn", "--agent", "Zara", "--from", FROM)
    assert r.exit_code == 0
    r = cli("campaign", "list", "--json")
    assert r.exit_code == 0
    assert [(c["name"], c["leads"]["total"]) for c in json.loads(r.stdout)] == [("Autumn", 0), ("Spring", 2)]
    r = cli("campaign", "list")
    assert r.exit_code == 0 and "Autumn" in r.stdout and "Spring" in r.stdout
    r = cli("campaign", "show")
    assert r.exit_code == 2 and said(r.stderr, "Which campaign?")


def test_cli_create_needs_a_purpose_and_says_what_each_needs(cli, ws):
    for args in ((), ("--purpose", "selling")):
        r = cli("campaign", "create", "Spring", "--agent", "Zara", "--from", FROM, *args)
        assert r.exit_code == 2, r.output
        assert said(r.stderr, "telemarketing") and said(r.stderr, "informational")
        assert said(r.stderr, "written consent") and r.stdout == ""
    r = cli("campaign", "create", "Spring", "--agent", "Zara", "--from", FROM)
    assert said(r.stderr, "prior express written consent")
    assert said(r.stderr, "prior express consent (written or not)")
    assert campaigns.list_campaigns(ws) == []
    r = cli("campaign", "create", "Spring", "--agent", "Zara", "--from", FROM,
            "--purpose", "Telemarketing")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "telemarketing: each number needs prior express written consent")
    assert campaigns.get_campaign(ws, "Spring").purpose == "telemarketing"


def test_cli_create_errors(cli, ws):
    r = cli(*CREATE, "Spring", "--agent", "Zara", "--from", FROM, "--window", "07:00-20:00")
    assert r.exit_code == 2
    assert said(r.stderr, "08:00-21:00") and r.stdout == ""
    r = cli(*CREATE, "Spring", "--agent", "Zara", "--from", FROM, "--max-attempts", "abc")
    assert r.exit_code == 2
    r = cli(*CREATE, "Spring", "--agent", "Sam", "--from", FROM, "--voicemail", "message")
    assert r.exit_code == 2 and said(r.stderr, "needs a message")
    assert campaigns.list_campaigns(ws) == []


def test_cli_edit(cli, ws):
    create(ws)
    r = cli("campaign", "edit", "spring", "--max-attempts", "2", "--retry-interval", "120",
            "--max-concurrent", "3", "--cps", "0.5")
    assert r.exit_code == 0, r.output
    c = campaigns.get_campaign(ws, "Spring")
    assert (c.max_attempts, c.retry_interval_minutes, c.max_concurrent, c.cps) == (2, 120, 3, 0.5)
    ws.execute("UPDATE campaigns SET status = 'RUNNING'")
    r = cli("campaign", "edit", "Spring", "--agent", "Sam")
    assert r.exit_code == 1
    assert said(r.stderr, "pause it before you change its agent") and said(r.stderr, "dialcli pause 'Spring'")


def test_cli_edit_purpose(cli, ws):
    create(ws)
    r = cli("campaign", "edit", "Spring", "--purpose", "telemarketing")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "each number needs prior express written consent")
    assert campaigns.get_campaign(ws, "Spring").purpose == "telemarketing"
    r = cli("campaign", "edit", "Spring", "--purpose", "sales")
    assert r.exit_code == 2 and said(r.stderr, "--purpose informational")
    assert campaigns.get_campaign(ws, "Spring").purpose == "telemarketing"


def gate_audit(store) -> list[tuple]:
    return [(r["decision"], json.loads(r["detail"])["by"]) for r in store.all(
        "SELECT decision, detail FROM audit WHERE decision LIKE 'consent-gate-%' ORDER BY id")]


def test_cli_consent_gate_goes_off_only_with_both_flags_and_is_audited(cli, ws):
    create(ws, purpose="telemarketing")
    before = dump(ws)
    r = cli("campaign", "edit", "Spring", "--consent-gate", "off")
    assert r.exit_code == 2 and said(r.stderr, "--consent-gate off --i-have-consent-records")
    assert said(r.stderr, "47 CFR 64.1200(a)(2)")
    r = cli("campaign", "edit", "Spring", "--i-have-consent-records")
    assert r.exit_code == 2 and said(r.stderr, "only goes with --consent-gate off")
    r = cli("campaign", "edit", "Spring", "--consent-gate", "on", "--i-have-consent-records")
    assert r.exit_code == 2
    r = cli("campaign", "edit", "Spring", "--consent-gate", "maybe")
    assert r.exit_code == 2
    assert dump(ws) == before

    r = cli("campaign", "edit", "Spring", "--consent-gate", "off", "--i-have-consent-records")
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "Consent gate OFF since")
    c = campaigns.get_campaign(ws, "Spring")
    assert c.consent_gate == "off" and "@" in c.consent_gate_changed_by
    assert c.consent_gate_changed_at
    who = c.consent_gate_changed_by
    assert gate_audit(ws) == [("consent-gate-off", who)]

    r = cli("campaign", "show", "Spring")
    assert r.exit_code == 0
    assert said(r.stdout, "consent gate OFF since") and said(r.stdout, who)
    data = json.loads(cli("campaign", "show", "Spring", "--json").stdout)
    assert (data["consent_gate"], data["consent_gate_changed_by"]) == ("off", who)
    assert data["consent_gate_changed_at"] == c.consent_gate_changed_at

    r = cli("campaign", "edit", "Spring", "--consent-gate", "on")
    assert r.exit_code == 0, r.output
    assert campaigns.get_campaign(ws, "Spring").consent_gate == "on"
    assert gate_audit(ws) == [("consent-gate-off", who), ("consent-gate-on", who)]
    r = cli("campaign", "show", "Spring")
    assert said(r.stdout, "Consent gate on: a number without that consent on record is skipped")


def test_cli_show_and_list_state_purpose_and_what_it_needs(cli, ws):
    create(ws, name="Sell", purpose="telemarketing")
    create(ws, name="Tell", purpose="informational")
    ws.execute("UPDATE campaigns SET purpose = 'unspecified' WHERE name = 'Tell'")
    r = cli("campaign", "show", "Sell")
    assert said(r.stdout, "Purpose telemarketing: each number needs prior express written consent")
    r = cli("campaign", "show", "Tell")
    assert said(r.stdout, "not set: start refuses it") and said(r.stdout, "--purpose")
    rows = {d["name"]: d for d in json.loads(cli("campaign", "list", "--json").stdout)}
    assert (rows["Sell"]["purpose"], rows["Sell"]["consent_needed"], rows["Sell"]["consent_gate"]) \
        == ("telemarketing", "prior express written consent", "on")
    assert (rows["Tell"]["purpose"], rows["Tell"]["consent_needed"]) == ("unspecified", None)


def test_list_table_shows_the_purpose_when_wide():
    from rich.console import Console

    from dialcli.cli.campaign import campaigns_table
    from dialcli.store import Store

    with Store(":memory:") as st:
        builders.campaign(st, "Sell", purpose="telemarketing")
        for width, shown in ((120, True), (80, False)):
            console = Console(width=width, record=True, file=io.StringIO())
            console.print(campaigns_table(campaigns.list_campaigns(st), width=width))
            assert ("telemarketing" in console.export_text()) is shown


def test_cli_delete_asks_first(cli, ws):
    c = create(ws)
    add_leads(ws, c.id, 2)
    # No terminal (CliRunner's stdin): an error naming --yes, nothing deleted. The
    # typed-name question on a terminal is tested in test_cli_prompts.py.
    r = cli("campaign", "delete", "Spring", input="y\n")
    assert r.exit_code == 2 and said(r.stderr, "Add --yes to confirm")
    assert campaigns.get_campaign(ws, "Spring")
    r = cli("campaign", "delete", "Spring", "--yes")
    assert r.exit_code == 0 and said(r.stderr, "Deleted campaign 'Spring': 2 leads")
    create(ws, name="Again")
    r = cli("campaign", "delete", "again", "--yes")
    assert r.exit_code == 0
    assert campaigns.list_campaigns(ws) == []


def test_cli_delete_running_refused_without_asking(cli, ws):
    create(ws)
    ws.execute("UPDATE campaigns SET status = 'RUNNING'")
    r = cli("campaign", "delete", "Spring")
    assert r.exit_code == 1
    assert "[y/N]" not in r.output and said(r.stderr, "pause it before you delete it")


@pytest.mark.parametrize("width", [40, 60, 79, 120])
def test_list_table_keeps_names_at_any_width(ws, width):
    from rich.console import Console

    from dialcli.cli.campaign import campaigns_table

    create(ws, name="Spring outreach to our longest-standing customers")
    create(ws, name="Autumn")
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(campaigns_table(campaigns.list_campaigns(ws), width=width))
    text = console.export_text()
    assert "Autumn" in text and "Spring" in text and "DRAFT" in text
    assert all(len(line) <= width for line in text.splitlines())


def test_cli_disclosure_warns_and_strict_refuses(cli, ws):
    # Sam's greeting ("Hello") names nobody and offers no opt-out.
    agents.create_agent(ws, name="Compliant", prompt="If asked to stop, label OPT_OUT.", now=T0,
                        greeting="Hi {{NAME}}, this is Zara from Acme Recovery. Press 9 to stop these calls.")
    before = dump(ws)
    r = cli(*CREATE, "Strict", "--agent", "Sam", "--from", FROM, "--strict")
    assert r.exit_code == 2
    assert said(r.stderr, "fails the disclosure check (--strict)") and r.stdout == ""
    assert dump(ws) == before

    r = cli(*CREATE, "Loose", "--agent", "Sam", "--from", FROM)
    assert r.exit_code == 0
    assert said(r.stderr, "does not say who is calling") and said(r.stderr, "no way to opt out")
    assert campaigns.get_campaign(ws, "Loose").status is CampaignStatus.DRAFT

    r = cli(*CREATE, "Good", "--agent", "Compliant", "--from", FROM, "--strict")
    assert r.exit_code == 0 and "Warning" not in r.stderr

    r = cli("campaign", "edit", "Good", "--agent", "Sam", "--strict")
    assert r.exit_code == 2 and said(r.stderr, "disclosure check")
    assert campaigns.get_campaign(ws, "Good").agent_id == agents.get_agent(ws, "Compliant").id
    r = cli("campaign", "edit", "Good", "--max-attempts", "2")       # no agent change: no check
    assert r.exit_code == 0 and "Warning" not in r.stderr


def test_paused_campaign_whose_runner_is_finishing_calls_is_left_alone(ws):
    import os
    import socket

    from dialcli.clock import to_iso

    c = create(ws)
    wall = T0 + timedelta(hours=1)
    ws.execute("UPDATE campaigns SET status = 'PAUSED', lease_owner = 'tok', lease_pid = ?, "
               "lease_host = ?, heartbeat_at = ? WHERE id = ?",
               (os.getpid(), socket.gethostname(), to_iso(wall - timedelta(seconds=2)), c.id))
    before = dump(ws)
    for attempt in (lambda: campaigns.delete_campaign(ws, "Spring", now=wall),
                    lambda: campaigns.check_deletable(ws, "Spring", now=wall),
                    lambda: campaigns.edit_campaign(ws, "Spring", agent="Sam", now=wall)):
        with pytest.raises(ConflictError, match="still finishing calls in progress"):
            attempt()
    assert dump(ws) == before
    # Other settings may change; and once the heartbeat is stale the runner is gone.
    assert campaigns.edit_campaign(ws, "Spring", max_attempts=4, now=wall).max_attempts == 4
    later = wall + timedelta(minutes=5)
    assert campaigns.edit_campaign(ws, "Spring", agent="Sam", now=later).agent_id == \
        agents.get_agent(ws, "Sam").id
    assert campaigns.delete_campaign(ws, "Spring", now=later)["leads"] == 0
