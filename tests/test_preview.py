"""``preview``: rendering an agent for a campaign's lead, and the unknown-token warning."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dialcli.workspace import agents

from dialcli.workspace import campaigns

from dialcli.workspace import numbers
from dialcli.errors import InputError, NotFoundError
from dialcli.workspace.preview import build_preview, known_tokens

import builders

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)

GREETING = "Hi {{NAME}}, this is Zara about case {{case number}}, balance ${{AMOUNT}}."
PROMPT = "You call {{ name }} in {{CITY}}. Email: {{EMAIL}}."


def said(text: str, fragment: str) -> bool:
    """``fragment`` appears in ``text`` however Rich wrapped the lines (stderr is
    hard-wrapped at the console width, which depends on the terminal)."""
    return "".join(fragment.split()) in "".join(text.split())


@pytest.fixture
def ws(store):
    agents.create_agent(store, name="Zara", greeting=GREETING, prompt=PROMPT,
                        voicemail_message="Zara here for {{NAME}}.", now=T0)
    agents.create_agent(store, name="Sam", greeting="Yo {{NAME}} from {{PHONE1}}", prompt="p", now=T0)
    numbers.add_number(store, "+14155550100", now=T0)
    campaigns.create_campaign(store, name="Spring", agent="Zara", from_number="+14155550100",
                              purpose="informational", now=T0)
    return store


def add_import(store, columns, leads, campaign="Spring"):
    """An import and its leads as the importer would write them: vars keyed by normalized header."""
    cid = campaigns.get_campaign(store, campaign).id
    imp = builders.add_import(store, cid, columns)
    return builders.add_leads(store, cid, [
        {"name": name, "email": email, "phones": [phone], "vars": variables, "import_id": imp}
        for name, email, phone, variables in leads])


COLUMNS = ["NAME", "PHONE1", "EMAIL", "AMOUNT", "CASE_NUMBER", "CITY"]
LEADS = [
    ("Alex Chen", "alex@example.com", "+14155551200",
     {"AMOUNT": "5000", "CASE_NUMBER": "CASE-7741", "CITY": "San Francisco"}),
    ("", None, "+12125550133", {"AMOUNT": "", "CASE_NUMBER": "{{ 7*7 }} {% if x %}", "CITY": "NYC"}),
]


def test_campaign_without_leads_renders_an_empty_lead(ws):
    p = build_preview(ws, campaign="Spring")
    assert p.lead is None and p.lead_total == 0 and not p.columns_known
    assert p.greeting == "Hi there, this is Zara about case, balance $."
    assert p.system_prompt == "You call there in. Email:."
    assert p.voicemail_message == "Zara here for there." and p.voicemail_source == "agent"
    assert p.voicemail_played is False                   # the campaign hangs up on machines
    assert p.tokens == ["AMOUNT", "CASE_NUMBER", "CITY", "EMAIL", "NAME"]
    assert p.unknown_tokens == [] and p.as_dict()["unknown_tokens"] is None
    with pytest.raises(NotFoundError, match="has no leads yet"):
        build_preview(ws, campaign="Spring", lead_number=1)


def test_first_lead_in_import_order(ws):
    add_import(ws, COLUMNS, LEADS)
    p = build_preview(ws, campaign="spring")
    assert p.position == 1 and p.lead_total == 2 and p.lead.name == "Alex Chen"
    assert p.greeting == "Hi Alex Chen, this is Zara about case CASE-7741, balance $5000."
    assert p.system_prompt == "You call Alex Chen in San Francisco. Email: alex@example.com."
    assert p.unknown_tokens == [] and p.empty_tokens == []


def test_nth_lead_values_are_data_not_templates(ws):
    add_import(ws, COLUMNS, LEADS)
    p = build_preview(ws, campaign="Spring", lead_number=2)
    assert p.lead.row_number == 3
    assert p.greeting == "Hi there, this is Zara about case {{ 7*7 }} {% if x %}, balance $."
    assert p.empty_tokens == ["AMOUNT", "EMAIL", "NAME"]
    assert build_preview(ws, campaign="Spring", lead_id=p.lead.id).position == 2


def test_lead_selection_errors(ws):
    ids = add_import(ws, COLUMNS, LEADS)
    with pytest.raises(InputError, match=r"--lead 3 is out of range: campaign 'Spring' has 2 leads \(1-2\)"):
        build_preview(ws, campaign="Spring", lead_number=3)
    with pytest.raises(InputError, match="out of range"):
        build_preview(ws, campaign="Spring", lead_number=0)
    with pytest.raises(InputError, match="either --lead or --lead-id"):
        build_preview(ws, campaign="Spring", lead_number=1, lead_id=ids[0])
    with pytest.raises(NotFoundError, match="no lead with id 999"):
        build_preview(ws, campaign="Spring", lead_id=999)


def test_tokens_no_lead_has_are_reported(ws):
    add_import(ws, ["NAME", "PHONE1", "AMOUNT"], [("Alex", None, "+14155551200", {"AMOUNT": "5"})])
    p = build_preview(ws, campaign="Spring")
    assert p.unknown_tokens == ["CASE_NUMBER", "CITY"]     # NAME and EMAIL always exist
    # A second import with one of the missing columns makes it known.
    add_import(ws, ["NAME", "PHONE1", "CASE_NUMBER"], [])
    assert known_tokens(ws, campaigns.get_campaign(ws, "Spring").id) == \
        {"NAME", "EMAIL", "AMOUNT", "CASE_NUMBER"}
    assert build_preview(ws, campaign="Spring").unknown_tokens == ["CITY"]


def test_an_unknown_token_names_the_column_it_most_likely_means(ws):
    """{{CASE_NUMBER}} beside a CASE column: the preview says which column the agent's
    text probably meant; nothing for a token with no near column ({{CITY}} is no word
    of TOWN_CITY's start, {{AMOUNT}} near nothing)."""
    from dialcli.workspace.preview import _nearest

    add_import(ws, ["NAME", "PHONE1", "CASE", "TOWN_CITY"],
               [("Alex", None, "+14155551200", {"CASE": "A-1", "TOWN_CITY": "LA"})])
    p = build_preview(ws, campaign="Spring")
    assert p.unknown_tokens == ["AMOUNT", "CASE_NUMBER", "CITY"]
    assert p.near_tokens == {"CASE_NUMBER": "CASE"}
    assert _nearest("AMOUNT", {"AMOUNT_DUE", "NAME"}) == "AMOUNT_DUE"
    assert _nearest("CASE_NUMER", {"CASE_NUMBER", "NAME"}) == "CASE_NUMBER"
    assert _nearest("CITY", {"STATE", "NAME", "EMAIL"}) is None


def test_structured_columns_are_not_variables(ws):
    add_import(ws, COLUMNS, LEADS)
    p = build_preview(ws, campaign="Spring", agent="Sam")     # another agent on these leads
    assert p.agent.name == "Sam"
    assert p.unknown_tokens == ["PHONE1"]
    assert p.greeting == "Yo Alex Chen from"


def test_leads_without_an_import_row_count_their_vars(ws):
    cid = campaigns.get_campaign(ws, "Spring").id
    ws.execute("INSERT INTO leads (campaign_id, row_number, name, vars, created_at, updated_at) "
               "VALUES (?, 2, 'Al', '{\"CITY\": \"LA\", \"AMOUNT\": \"1\"}', 't', 't')", (cid,))
    p = build_preview(ws, campaign="Spring")
    assert p.columns_known and p.unknown_tokens == ["CASE_NUMBER"]
    assert p.lead.phones == ()


def test_campaign_voicemail_overrides_the_agents(ws):
    campaigns.edit_campaign(ws, "Spring", voicemail="message", voicemail_message="Spring: {{NAME}}",
                            now=T0)
    add_import(ws, COLUMNS, LEADS)
    p = build_preview(ws, campaign="Spring")
    assert p.voicemail_message == "Spring: Alex Chen"
    assert (p.voicemail_source, p.voicemail_played) == ("campaign", True)


def test_agent_alone(ws):
    p = build_preview(ws, agent="zara")
    assert p.campaign is None and p.lead is None
    assert p.voicemail_played is True and p.voicemail_message == "Zara here for there."
    with pytest.raises(InputError, match="need a campaign"):
        build_preview(ws, agent="zara", lead_number=1)
    with pytest.raises(InputError, match="Preview what?"):
        build_preview(ws)


# -- CLI --------------------------------------------------------------------------------

def test_cli_preview_default_campaign_and_first_lead(cli, ws):
    add_import(ws, ["NAME", "PHONE1", "AMOUNT"], [
        ("Alex Chen", None, "+14155551200", {"AMOUNT": "5000"}),
        ("Jamie Lee", None, "+12125550133", {"AMOUNT": "12000"})])
    r = cli("preview")
    assert r.exit_code == 0, r.output
    assert "Hi Alex Chen, this is Zara about case, balance $5000." in r.stdout
    assert "Lead 1 of 2" in r.stdout
    assert said(r.stderr, "Warning:") and said(r.stderr, "{{CASE_NUMBER}}, {{CITY}}")
    assert said(r.stderr, "no lead in campaign 'Spring' has")


def test_cli_preview_json(cli, ws):
    add_import(ws, COLUMNS, LEADS)
    r = cli("preview", "--campaign", "Spring", "--lead", "2", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["lead"]["position"] == 2 and data["lead"]["row_number"] == 3
    assert data["lead"]["phones"] == ["+12125550133"]
    assert data["greeting"].startswith("Hi there, this is Zara")
    assert data["unknown_tokens"] == [] and data["empty_tokens"] == ["AMOUNT", "EMAIL", "NAME"]
    assert said(r.stderr, "This lead has no name")


def test_cli_preview_agent_without_campaign(cli, store):
    agents.create_agent(store, name="Zara", greeting=GREETING, prompt=PROMPT, now=T0)
    r = cli("preview", "--agent", "Zara")
    assert r.exit_code == 0
    assert "Hi there, this is Zara about case, balance $." in r.stdout
    assert "empty lead" in r.stdout


def test_cli_preview_errors(cli, ws):
    r = cli("preview", "--campaign", "Nope")
    assert r.exit_code == 2 and said(r.stderr, "No campaign named 'Nope'") and r.stdout == ""
    r = cli("preview", "--lead", "5")
    assert r.exit_code == 2 and said(r.stderr, "has no leads yet")
    r = cli("preview", "--agent", "Nobody")
    assert r.exit_code == 2 and said(r.stderr, "No agent named 'Nobody'")


def test_cli_preview_no_campaigns(cli, store):
    r = cli("preview")
    assert r.exit_code == 2 and said(r.stderr, "no campaigns yet")


def test_lead_order_is_per_campaign_when_imports_interleave(ws):
    campaigns.create_campaign(ws, name="Other", agent="Sam", from_number="+14155550100",
                              purpose="informational", now=T0)
    a = campaigns.get_campaign(ws, "Spring").id
    b = campaigns.get_campaign(ws, "Other").id
    for i in range(6):          # ids alternate between the two campaigns
        cid = a if i % 2 == 0 else b
        ws.execute("INSERT INTO leads (campaign_id, row_number, name, vars, created_at, updated_at) "
                   "VALUES (?, ?, ?, '{}', 't', 't')", (cid, i + 2, f"Lead {i}"))
    assert [build_preview(ws, campaign="Spring", lead_number=n).lead.name for n in (1, 2, 3)] == \
        ["Lead 0", "Lead 2", "Lead 4"]
    assert [build_preview(ws, campaign="Other", lead_number=n).lead.name for n in (1, 2, 3)] == \
        ["Lead 1", "Lead 3", "Lead 5"]
    lead5 = build_preview(ws, campaign="Other", lead_number=3).lead
    assert build_preview(ws, campaign="Other", lead_id=lead5.id).position == 3
    with pytest.raises(NotFoundError):
        build_preview(ws, campaign="Spring", lead_id=lead5.id)      # another campaign's lead
