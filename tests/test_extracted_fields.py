"""Extracted fields: declared on the agent, filled by the LLM's end_call or by rules,
checked against the schema, stored per call and carried by every export and webhook."""

from __future__ import annotations

import csv
import json

import pytest

import builders
from dialcli.conversation.base import CallContext, collect
from dialcli.conversation.extract import extract
from dialcli.conversation.llm import LLMBrain
from dialcli.errors import InputError
from dialcli.models import VoicemailAction
from dialcli.store import Store
from dialcli.workspace import fields as F
from fakes.fake_llm import fake_llm, reply, tool_call  # noqa: F401  (fake_llm is a fixture)

SPECS = [F.FieldSpec("best_time", "text", "When they want a call back"),
         F.FieldSpec("callback_at", "datetime", "When to call back"),
         F.FieldSpec("amount_promised", "number", "The amount they promised to pay"),
         F.FieldSpec("wants_brochure", "bool", "Whether they want the brochure")]


def test_field_options_and_schema_files(tmp_path):
    assert F.parse_field_option("best_time:text:When: a time") == F.FieldSpec(
        "best_time", "text", "When: a time")
    assert F.parse_field_option("Paid:BOOL") == F.FieldSpec("paid", "bool", "")
    for bad in ("best_time", "9lives:text", "x:money", "summary:text"):
        with pytest.raises(InputError):
            F.parse_field_option(bad)
    (tmp_path / "f.json").write_text(json.dumps({"best_time": {"type": "text"},
                                                 "paid": "bool"}))
    assert [s.name for s in F.load_fields_file(tmp_path / "f.json")] == ["best_time", "paid"]
    (tmp_path / "f.toml").write_text('[[field]]\nname = "amount"\ntype = "number"\n'
                                     'description = "How much"\n')
    assert F.load_fields_file(tmp_path / "f.toml") == [F.FieldSpec("amount", "number", "How much")]
    (tmp_path / "dup.json").write_text('[{"name": "a", "type": "text"}, {"name": "a", "type": "bool"}]')
    with pytest.raises(InputError, match="twice"):
        F.load_fields_file(tmp_path / "dup.json")
    schema = F.json_schema(SPECS)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["wants_brochure"]["type"] == ["boolean", "null"]
    assert "call back" in schema["properties"]["best_time"]["description"]


def test_validate_keeps_what_fits_and_says_what_it_dropped():
    values, dropped = F.validate(SPECS, {
        "amount_promised": "$1,200.50", "wants_brochure": "maybe", "best_time": ["x"],
        "callback_at": "2026-03-04T15:00:00", "bogus": 1})
    assert values == {"amount_promised": 1200.5}
    assert len(dropped) == 4 and any("bogus" in d for d in dropped)
    assert F.validate(SPECS, "not an object")[0] == {}
    assert F.validate(SPECS, {"wants_brochure": "Yes", "amount_promised": 200,
                              "callback_at": "2026-03-04T15:00:00Z"})[0] == {
        "wants_brochure": True, "amount_promised": 200,
        "callback_at": "2026-03-04T15:00:00+00:00"}
    assert F.validate(SPECS, {"amount_promised": True})[0] == {}      # a bool is not a number


def test_rules_fill_callback_time_and_answers_to_the_agents_questions():
    transcript = [
        {"role": "agent", "text": "Hi Maria, can you pay something this month?"},
        {"role": "caller", "text": "I can do $250 on Friday."},
        {"role": "agent", "text": "Great. Would you like us to mail you a brochure?"},
        {"role": "caller", "text": "No thanks."},
        {"role": "caller", "text": "Call me back tomorrow at 3pm."},
    ]
    specs = SPECS + [F.FieldSpec("pay_this_month", "bool", "Can pay something this month"),
                     F.FieldSpec("employer", "text", "Where they work")]
    got = extract(specs, None, transcript, callback_text="tomorrow at 3pm",
                  callback_at="2026-03-04T20:00:00.000Z")
    v = got["values"]
    assert v["best_time"] == "tomorrow at 3pm"
    assert v["callback_at"] == "2026-03-04T20:00:00+00:00"
    assert v["wants_brochure"] is False
    assert v["pay_this_month"] is None        # "I can do $250" is not a yes or a no
    assert v["employer"] is None              # free text is never guessed
    assert v["amount_promised"] == 250        # the answer to the agent's question on paying
    assert set(got["by"].values()) == {"rules"}
    # The LLM's valid values win; its invalid ones are dropped, then rules may fill.
    got = extract(specs, {"amount_promised": "300", "wants_brochure": "perhaps"}, transcript)
    assert got["values"]["amount_promised"] == 300 and got["by"]["amount_promised"] == "llm"
    assert got["values"]["wants_brochure"] is False and got["by"]["wants_brochure"] == "rules"
    assert got["dropped"] and "wants_brochure" in got["dropped"][0]
    assert extract([], {"x": 1}, transcript) is None


def test_llm_gets_the_fields_in_its_end_call_tool(fake_llm):
    ctx = CallContext(call_id=1, campaign="c", agent="Zara", to="+14155550101",
                      from_="+14155550199", greeting="Hi Maria, this is Zara.",
                      system_prompt="Be brief.", voicemail_message="",
                      voicemail_action=VoicemailAction.HANGUP, lead_name="Maria Lopez",
                      fields=tuple(SPECS))
    args = {"disposition": "INTERESTED", "summary": "Will pay.",
            "fields": {"amount_promised": 300, "wants_brochure": True}}
    fake_llm.enqueue(tool_call("INTERESTED", arguments=json.dumps(args), text=["Thanks!"]))
    brain = LLMBrain(fake_llm.settings(), first_token_s=1, total_s=2, stall_s=1)
    try:
        session = brain.open(ctx)
        session.opening()
        _, end = collect(session.respond("Yes, I can pay 300."))
    finally:
        brain.close()
    tool = fake_llm.requests[0].json["tools"][0]["function"]
    assert set(tool["parameters"]["properties"]["fields"]["properties"]) == {s.name for s in SPECS}
    assert end.fields == {"amount_promised": 300, "wants_brochure": True}


PROFILE = """
[[numbers]]
number = "+12125550101"
attempts = ["human"]
lines = ["Yes, speaking.", "Yes please send the brochure. I can pay 200 dollars."]
[[numbers]]
number = "+12125550102"
attempts = ["human"]
lines = ["Who is this?", "Call me back tomorrow at 3pm"]
"""


@pytest.fixture
def fielded(cli, tmp_path, db_path):
    (tmp_path / "leads.csv").write_text("name,phone1\nAlex Chen,+12125550101\n"
                                        "Jamie Lee,+12125550102\n")
    (tmp_path / "profile.toml").write_text(PROFILE)
    for args in (("agent", "create", "Zara", "--greeting", "Hi {{NAME}}, this is Zara from Acme.",
                  "--prompt", "You are Zara from Acme."),
                 ("agent", "edit", "Zara", "--field", "best_time:text:When to call back",
                  "--field", "amount_promised:number:The amount they promised",
                  "--field", "wants_brochure:bool:Whether they want the brochure",
                  "--field", "wants_more:bool:Whether they want to hear more"),
                 ("numbers", "add", "+14155550100"),
                 ("campaign", "create", "Spring", "--agent", "Zara", "--from", "+14155550100",
                  "--max-attempts", "1", "--purpose", "informational"),
                 ("import", tmp_path / "leads.csv")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    with Store(db_path) as st:
        builders.consent_all(st, 1)
    return tmp_path


def test_agent_edit_declares_and_drops_fields(cli, fielded):
    data = json.loads(cli("agent", "show", "Zara", "--json").stdout)
    assert [f["name"] for f in data["fields"]] == ["best_time", "amount_promised",
                                                   "wants_brochure", "wants_more"]
    assert cli("agent", "edit", "Zara", "--drop-field", "wants_more").exit_code == 0
    result = cli("agent", "edit", "Zara", "--field", "x:money")
    assert result.exit_code == 2 and "money" in result.output
    result = cli("agent", "edit", "Zara", "--drop-field", "nope")
    assert result.exit_code == 2 and "no field 'nope'" in result.output
    data = json.loads(cli("agent", "show", "Zara", "--json").stdout)
    assert len(data["fields"]) == 3
    assert "Extracts" in cli("agent", "show", "Zara").stdout


def test_llm_fills_fields_in_a_simulated_campaign_and_they_reach_every_export(
        cli, fielded, fake_llm, monkeypatch, db_path):
    monkeypatch.setenv("DIALCLI_LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("DIALCLI_LLM_MODEL", "fake-model")
    # Alex: the model asks about the brochure, then ends the call with one valid value,
    # one of the wrong type (dropped, then filled by the rules from his answer) and one
    # unknown name. Jamie: the model has nothing scripted (HTTP 500): the rules carry
    # the call and fill the callback time.
    end = {"disposition": "INTERESTED", "summary": "Promised 200, wants the brochure.",
           "fields": {"amount_promised": "200", "wants_brochure": "sure thing", "pets": 2}}
    fake_llm.enqueue(reply("Thanks Alex. Would you like us to send you a brochure?"),
                     tool_call("INTERESTED", arguments=json.dumps(end), text=["Great, bye!"]))
    with Store(db_path) as st:
        builders.subscribe(st, "http://127.0.0.1:9/hook")     # events stay in the outbox
    result = cli("start", "--simulate", "--seed", "1", "--sim-profile", fielded / "profile.toml")
    assert result.exit_code == 0, result.output
    calls = json.loads(cli("calls", "--json").stdout)
    by_name = {c["lead_name"]: c["id"] for c in calls}
    alex = json.loads(cli("calls", "show", by_name["Alex Chen"], "--json").stdout)
    assert alex["fields"]["amount_promised"] == 200 and alex["fields_by"]["amount_promised"] == "llm"
    assert alex["fields"]["wants_brochure"] is True
    assert alex["fields_by"]["wants_brochure"] == "rules"
    assert any("pets" in d for d in alex["fields_dropped"])
    assert any("wants_brochure" in d for d in alex["fields_dropped"])
    jamie = json.loads(cli("calls", "show", by_name["Jamie Lee"], "--json").stdout)
    assert jamie["disposition"] == "CALLBACK"
    assert "3pm" in jamie["fields"]["best_time"] and jamie["fields_by"]["best_time"] == "rules"
    page = cli("calls", "show", by_name["Alex Chen"]).stdout
    assert "amount_promised = 200 (llm)" in page
    # CSVs: one column per field, per call and (latest value) per lead.
    assert cli("report", "--csv", fielded / "calls.csv", "--calls").exit_code == 0
    rows = {r["lead_name"]: r for r in csv.DictReader((fielded / "calls.csv").open())}
    assert rows["Alex Chen"]["field_amount_promised"] == "200"
    assert rows["Alex Chen"]["field_wants_brochure"] == "yes"
    assert rows["Alex Chen"]["summary"] == "Promised 200, wants the brochure."
    assert "3pm" in rows["Jamie Lee"]["field_best_time"]
    assert cli("report", "--csv", fielded / "leads.csv").exit_code == 0
    leads = {r["NAME"]: r for r in csv.DictReader((fielded / "leads.csv").open())}
    assert leads["Alex Chen"]["field_amount_promised"] == "200"
    assert leads["Jamie Lee"]["field_amount_promised"] == ""
    # The webhook payload carries the call's fields.
    with Store(db_path) as st:
        payloads = [json.loads(p) for (p,) in st.all("SELECT payload FROM outbox")]
    last = [p["lead"]["last_call"] for p in payloads if p["lead"]["name"] == "Alex Chen"
            and p["lead"]["last_call"]]
    assert last and last[-1]["fields"]["amount_promised"] == 200
    assert last[-1]["summary"] == "Promised 200, wants the brochure."
