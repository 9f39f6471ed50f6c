"""State artificial-voice (ADAD) laws, enforced (issue 19 item 3).

The shipped data file is validated row by row; ``adad.verdict`` is checked against a
matrix of purposes, consents and rules; then the real claim, ``plan``, ``doctor`` and
``consent import`` are run on numbers in WA (ban), MT (live operator first), UT (written
consent), CA (own hours) -- by area code and by a lead's ``state`` column.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

import builders
from builders import NOW, EngineParts, add_leads, audit, calls, lead, phones
from dialcli.clock import to_iso
from dialcli.compliance import adad, consent
from dialcli.compliance.adad import parse_adad_rules, shipped_adad_rules, verdict
from dialcli.compliance.policy import CallingPolicy
from dialcli.compliance.rules import US_STATES
from dialcli.engine import doctor
from dialcli.engine.plan import build_plan
from dialcli.models import Campaign
from dialcli.workspace import campaigns

UTC = timezone.utc
WA, MT, UT, NY = "+12065550101", "+14065550101", "+18015550101", "+12125550101"
BEFORE = to_iso(NOW - timedelta(days=30))
#: The states whose artificial-voice laws the issue names: all must have a row.
NAMED = {"WA", "WY", "AR", "MN", "ND", "VA", "IN", "RI", "MT", "NC", "NJ", "CA", "UT", "KY",
         "MS", "FL", "OK", "MD", "CT"}


# -- the data file ------------------------------------------------------------------------------

def test_every_row_has_statute_source_confidence_and_date():
    version, rows = shipped_adad_rules()
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", version)
    assert {r.state for r in rows} >= NAMED
    for r in rows:
        assert r.state in US_STATES
        assert r.statute and r.source.startswith("http") and r.confidence[0] in "HML"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", r.checked)
        assert r.purposes and set(r.purposes) <= {"telemarketing", "informational"}
        assert (r.rule == "consent") == (r.consent in ("written", "express"))
        if r.hours:
            assert r.hours[0] < r.hours[1]


def test_the_readme_lists_every_rule_with_its_confidence():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for r in shipped_adad_rules()[1]:
        assert re.search(rf"\| {r.state} \|[^\n]*\| {re.escape(r.confidence)} \|", readme), r.state


GOOD = ('state = "WA"\npurposes = ["telemarketing"]\nrule = "ban"\nstatute = "RCW 80.36.400"\n'
        'source = "https://app.leg.wa.gov/RCW/default.aspx?cite=80.36.400"\nconfidence = "H"\n'
        'checked = "2026-12-07"\n')


@pytest.mark.parametrize("change, error", [
    (("source = \"https://app.leg.wa.gov/RCW/default.aspx?cite=80.36.400\"\n", ""),
     "needs a source"),
    (("source = \"https://app.leg.wa.gov/RCW/default.aspx?cite=80.36.400\"",
      "source = \"RCW book\""), "URL"),
    (('confidence = "H"', 'confidence = "sure"'), "confidence"),
    (('checked = "2026-12-07"\n', ""), "checked"),
    (('state = "WA"', 'state = "XX"'), "unknown state"),
    (('rule = "ban"', 'rule = "maybe"'), "rule must be"),
    (('rule = "ban"', 'rule = "consent"'), "consent = written|express"),
    (('purposes = ["telemarketing"]', 'purposes = ["sales"]'), "purposes"),
    (("checked", 'hours = "9-21"\nchecked'), "hours"),
    (("checked", 'colour = "red"\nchecked'), "unknown field"),
])
def test_a_bad_row_is_refused_with_what_is_wrong(change, error):
    parse_adad_rules(f'version = "1"\n[[rule]]\n{GOOD}')      # the good row parses
    bad = GOOD.replace(*change)
    with pytest.raises(ValueError, match=error):
        parse_adad_rules(f'version = "1"\n[[rule]]\n{bad}')


# -- the verdict ----------------------------------------------------------------------------------

@pytest.mark.parametrize("states, purpose, kind, gate_on, ok, by", [
    (("WA",), "telemarketing", "written", True, False, "WA"),     # ban: no consent lifts it
    (("WA",), "telemarketing", "written", False, False, "WA"),    # not even with the gate off
    (("WA",), "informational", "express", True, True, None),      # the ban is on selling
    (("MT",), "telemarketing", "written", True, False, "MT"),     # live operator first
    (("MT",), "informational", "express", True, True, None),
    (("UT",), "telemarketing", "express", True, False, "UT"),     # written needed
    (("UT",), "telemarketing", "written", True, True, None),
    (("UT",), "telemarketing", None, False, True, None),          # the gate is off
    (("MN",), "informational", "express", True, True, None),
    (("NY",), "telemarketing", "written", True, True, None),      # no ADAD rule
    (("NY", "WA"), "telemarketing", "written", True, False, "WA"),  # any state counts
    (("UT", "WY"), "telemarketing", "express", True, False, "WY"),  # a ban comes first
])
def test_verdict(states, purpose, kind, gate_on, ok, by):
    v = verdict(states, purpose, kind, gate_on=gate_on)
    assert v.ok is ok
    assert (v.rule.state if v.rule else None) == by
    if not ok:
        assert v.reason.startswith(f"state rule {by}: {purpose} calls by artificial voice")
        assert f"confidence {v.rule.confidence}" in v.reason
        assert v.evidence()["stopped_by"]["statute"] == v.rule.statute


# -- at the dial ------------------------------------------------------------------------------------

def _one(store, purpose, number, *, kind="written", **spec):
    cid = builders.campaign(store, purpose=purpose, consent=None)
    (lead_id,) = add_leads(store, cid, [{"name": "Alex", "phones": [number], "consent": None,
                                         **spec}])
    if kind:
        with store.tx() as conn:
            consent.record(conn, e164=number, kind=kind, consented_at=BEFORE, source="form",
                           origin="test", now_iso=to_iso(NOW))
    return cid, lead_id


def _claim_at_noon_pacific(store, cid, lead_id):
    parts = EngineParts(store, cid)
    parts.clock.sleep(5 * 3600)          # 20:00 UTC: 12:00 in Washington, 13:00 in Montana
    return parts.claim(lead_id)


def test_washington_telemarketing_is_skipped_with_the_statute(store):
    cid, lead_id = _one(store, "telemarketing", WA)
    assert _claim_at_noon_pacific(store, cid, lead_id) is None
    assert calls(store, cid) == []
    reason = phones(store, lead_id)[0]["dead_reason"]
    assert reason.startswith("state rule WA: telemarketing calls by artificial voice -- "
                             "RCW 80.36.400(2) bans them")
    assert lead(store, lead_id)["status"] == "SKIPPED"
    (skip,) = [a for a in audit(store) if a["decision"] == "skip"]
    stop = skip["detail"]["consent"]["state_rules"]
    assert stop["stopped_by"]["state"] == "WA" and stop["version"] == adad.ADAD_VERSION
    assert skip["detail"]["consent"]["type"] == "written"      # the consent did not help


def test_washington_informational_calls_are_placed(store):
    cid, lead_id = _one(store, "informational", WA, kind="express")
    assert _claim_at_noon_pacific(store, cid, lead_id) is not None


def test_montana_needs_a_live_operator_first(store):
    cid, lead_id = _one(store, "telemarketing", MT)
    assert _claim_at_noon_pacific(store, cid, lead_id) is None
    assert "live operator, which an AI agent is not" in phones(store, lead_id)[0]["dead_reason"]


def test_a_state_column_brings_its_artificial_voice_rule(store):
    # A New York number of a lead who lives in Washington: WA's ban applies.
    cid, lead_id = _one(store, "telemarketing", NY, state="WA")
    assert _claim_at_noon_pacific(store, cid, lead_id) is None
    assert phones(store, lead_id)[0]["dead_reason"].startswith("state rule WA:")


def test_the_ban_holds_with_the_consent_gate_off(store):
    cid, lead_id = _one(store, "telemarketing", WA, kind=None)
    campaigns.edit_campaign(store, cid, consent_gate="off", i_have_consent_records=True,
                            changed_by="pat", now=NOW)
    assert _claim_at_noon_pacific(store, cid, lead_id) is None
    assert phones(store, lead_id)[0]["dead_reason"].startswith("state rule WA:")


def test_consent_import_does_not_revive_a_phone_a_state_law_skipped(store, tmp_path):
    cid, lead_id = _one(store, "telemarketing", WA, kind=None)
    assert _claim_at_noon_pacific(store, cid, lead_id) is None
    assert phones(store, lead_id)[0]["dead_reason"].startswith("state rule WA:")
    path = tmp_path / "consents.csv"
    path.write_text(f"phone,consent_at,consent_type\n{WA},2026-01-02,written\n")
    result = consent.import_file(store, path, now_iso=to_iso(NOW))
    assert result.added == 1 and result.phones_revived == 0


def test_california_numbers_get_the_adad_hours():
    group = CallingPolicy(("08:00", "21:00")).window_for(("America/Los_Angeles",), "US-CA")
    assert not group.is_open(datetime(2026, 3, 3, 16, 30, tzinfo=UTC))     # 08:30 PST
    assert group.is_open(datetime(2026, 3, 3, 17, 0, tzinfo=UTC))          # 09:00 PST
    assert "CA" in group.rule_names


# -- plan and doctor say so -------------------------------------------------------------------------

def _mixed(store, purpose="telemarketing", name="Spring"):
    cid = builders.campaign(store, name, purpose=purpose, consent=None, window=("08:00", "21:00"))
    ids = add_leads(store, cid, [{"name": "Wash", "phones": [WA], "consent": "written"},
                                 {"name": "Mont", "phones": [MT], "consent": "written"},
                                 {"name": "York", "phones": [NY], "consent": "written"},
                                 {"name": "Moved", "phones": ["+12125550102"],
                                  "consent": "written", "state": "WA"}])
    return cid, ids


def test_plan_blocks_them_with_the_reason_and_counts_them(store):
    cid, _ids = _mixed(store)
    plan = build_plan(store, cid, datetime(2026, 3, 3, 20, tzinfo=UTC), estimate=False)
    by = {p.e164: p for p in plan.phones}
    assert by[WA].category == "blocked" and by[WA].reasons[0].startswith("state rule WA:")
    assert by[MT].category == "blocked" and by[MT].reasons[0].startswith("state rule MT:")
    assert by[NY].category == "now"
    assert by["+12125550102"].reasons[0].startswith("state rule WA:")
    skips = plan.consent["state_skips"]
    assert sum(skips.values()) == 3 and plan.consent["numbers_blocked"] == 0
    assert skips["WA ban: RCW 80.36.400(2), confidence H"] == 2
    (note,) = [n for n in plan.notes if "state artificial-voice" in n]
    assert note.startswith("3 number(s) skipped by state artificial-voice laws for telemarketing")


def test_doctor_warns_of_them_by_state_and_statute(store):
    cid, _ids = _mixed(store)
    c = Campaign.from_row(store.one("SELECT * FROM campaigns WHERE id = ?", (cid,)))
    check = doctor.check_state_rules(store, c)
    assert check is not None and check.status == doctor.WARN
    assert check.message.startswith("3 waiting number(s) will be skipped for telemarketing")
    assert "2 in WA: outright ban (RCW 80.36.400(2); confidence H)" in check.message
    assert "1 in MT: live operator first" in check.message
    # Informational calls are not banned there: no warning.
    cid2, _ = _mixed(store, "informational", "Reminders")
    c2 = Campaign.from_row(store.one("SELECT * FROM campaigns WHERE id = ?", (cid2,)))
    assert doctor.check_state_rules(store, c2) is None


def test_doctor_cli_shows_the_check(store, cli):
    _mixed(store)
    r = cli("doctor", "--json")
    assert "State artificial-voice laws (Spring)" in r.stdout
    assert "RCW 80.36.400(2)" in r.stdout
