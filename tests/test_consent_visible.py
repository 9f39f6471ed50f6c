"""The consent gate seen before and after a run: plan, doctor, start, status, and the
evidence in audit, report, exports and webhook payloads (issue 16, items 3-6)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from dialcli.clock import to_iso
from dialcli.compliance import consent, dnc
from dialcli.engine import doctor
from dialcli.engine.plan import build_plan
from dialcli.models import Campaign
from dialcli.results import audit, exports, reporting
from dialcli.store import outbox
from dialcli.workspace import campaigns

import builders
from builders import NOW, NOW_ISO

NY_WRITTEN, NY_EXPRESS, NY_NONE = "+12125550101", "+12125550102", "+12125550103"


def _record(store, e164: str, kind: str, at: str, source: str = "form:https://acme.test/f"):
    with store.tx() as conn:
        consent.record(conn, e164=e164, kind=kind, consented_at=at, source=source,
                       origin="test", now_iso=NOW_ISO)


def selling(store, **kw) -> int:
    """A telemarketing campaign: one lead with written consent, one with express only,
    one with none (all in New York, open at NOW)."""
    cid = builders.campaign(store, purpose="telemarketing", max_attempts=1, **kw)
    builders.add_leads(store, cid, [
        {"name": "Written", "phones": [NY_WRITTEN], "consent": "written"},
        {"name": "Express", "phones": [NY_EXPRESS], "consent": "express"},
        {"name": "None", "phones": [NY_NONE], "consent": None}])
    return cid


def gate_off(store, cid: int) -> None:
    campaigns.edit_campaign(store, cid, consent_gate="off", i_have_consent_records=True,
                            changed_by="ana@laptop", now=NOW)


def the(store, cid: int) -> Campaign:
    return Campaign.from_row(store.one("SELECT * FROM campaigns WHERE id = ?", (cid,)))


# -- plan --------------------------------------------------------------------------------------

def test_plan_blocks_numbers_without_the_consent_the_purpose_needs(store):
    cid = selling(store)
    plan = build_plan(store, cid, NOW, seed=1)
    p = {x.e164: x for x in plan.phones}
    assert p[NY_WRITTEN].category == "now"
    assert p[NY_WRITTEN].consent["type"] == "written" and not p[NY_WRITTEN].consent["blocked"]
    assert p[NY_EXPRESS].category == "blocked"
    assert p[NY_EXPRESS].reasons == [f"only express consent on record for {NY_EXPRESS}: "
                                     "telemarketing needs written consent"]
    assert p[NY_NONE].reasons == [f"no written consent on record for {NY_NONE}"]
    assert plan.consent["numbers_blocked"] == 2 and plan.consent["leads_lacking"] == 2
    assert plan.totals["blocked"] == 2 and plan.lead_totals["blocked"] == 2
    assert any("2 number(s) blocked" in n for n in plan.notes)
    # The rehearsal is the engine: it skips the same two and dials the written one only.
    assert plan.estimate.calls == 1
    assert plan.as_dict()["consent"]["purpose"] == "telemarketing"


def test_plan_checks_consent_at_the_instant_it_would_dial(store):
    """A Los Angeles number opens at 17:00 UTC: a consent given at 16:00 counts there,
    one given at 18:00 does not (the claim would skip the number at 17:00)."""
    cid = builders.campaign(store, purpose="informational")
    builders.add_leads(store, cid, [{"phones": ["4155550101"], "consent": None},
                                    {"phones": ["4155550102"], "consent": None}])
    _record(store, "+14155550101", "express", to_iso(NOW + timedelta(hours=1)))
    _record(store, "+14155550102", "express", to_iso(NOW + timedelta(hours=3)))
    p = {x.e164: x for x in build_plan(store, cid, NOW, estimate=False).phones}
    assert p["+14155550101"].category == "later_today"
    assert p["+14155550102"].category == "blocked"
    assert p["+14155550102"].reasons == ["no consent on record for +14155550102"]


def test_plan_of_a_campaign_without_a_purpose_says_how_to_set_it(store):
    cid = selling(store)
    with store.tx():        # as migration m010 leaves a campaign made before it
        store.execute("UPDATE campaigns SET purpose = 'unspecified' WHERE id = ?", (cid,))
    plan = build_plan(store, cid, NOW, seed=1)
    assert {x.category for x in plan.phones} == {"blocked"}
    assert plan.phones[0].reasons == ["the campaign's purpose is not set"]
    assert plan.estimate.outcome == "unavailable" and plan.estimate.calls == 0
    assert "does not say what its calls are for" in plan.estimate.note
    assert any("--purpose telemarketing" in n for n in plan.notes)
    assert plan.consent["leads_lacking"] is None


def test_plan_with_the_gate_off_dials_them_and_says_so(store):
    cid = selling(store)
    gate_off(store, cid)
    plan = build_plan(store, cid, NOW, estimate=False)
    assert {x.category for x in plan.phones} == {"now"}
    assert plan.consent["gate"] == "off" and plan.consent["numbers_blocked"] == 0
    assert any(n.startswith("Consent gate OFF since 2026-03-03 15:00 UTC (ana@laptop)")
               for n in plan.notes)


def test_plan_cli_shows_the_gate_and_exports_its_evidence(cli, store, tmp_path):
    selling(store)
    r = cli("plan", "--no-estimate", "--at", NOW_ISO)
    assert r.exit_code == 0, r.output
    page = " ".join(r.stdout.split())
    assert "Purpose telemarketing: needs prior express written consent; consent gate on." in page
    assert "2 number(s) blocked: no telemarketing consent on record" in page
    assert "dialcli consent import FILE" in page
    reasons = {p["e164"]: p["reasons"] for p in json.loads(
        cli("plan", "--no-estimate", "--at", NOW_ISO, "--json").stdout)["phones"]}
    assert reasons[NY_NONE] == [f"no written consent on record for {NY_NONE}"]
    target = tmp_path / "plan.csv"
    assert cli("plan", "--no-estimate", "--csv", target).exit_code == 0
    rows = {row["e164"]: row for row in csv.DictReader(target.open())}
    assert (rows[NY_WRITTEN]["consent_required"], rows[NY_WRITTEN]["consent_type"]) == (
        "written", "written")
    assert rows[NY_WRITTEN]["consent_source"] == "test fixture"
    assert (rows[NY_NONE]["consent_required"], rows[NY_NONE]["consent_type"]) == ("written", "")


# -- doctor and start ------------------------------------------------------------------------

def test_doctor_counts_leads_lacking_consent_and_names_a_missing_purpose(store):
    cid = selling(store)
    check = doctor.check_consent(store, the(store, cid), NOW)
    assert check.status == "warn"
    assert check.message.startswith("2 of 3 waiting lead(s) have no number with prior express "
                                    "written consent on record")
    assert "consent import" in check.fix
    other = builders.campaign(store, "Helpdesk", leads=[{"phones": ["3125550100"]}])
    assert doctor.check_consent(store, the(store, other), NOW).status == "ok"
    with store.tx():
        store.execute("UPDATE campaigns SET purpose = 'unspecified' WHERE id = ?", (other,))
    check = doctor.check_consent(store, the(store, other), NOW)
    assert check.status == "fail" and "'Helpdesk' does not say what its calls are for" in \
        check.message
    assert "dialcli campaign edit Helpdesk --purpose telemarketing" in check.fix


def test_doctor_shows_the_gate_off_with_when_and_who(store):
    cid = selling(store)
    gate_off(store, cid)
    check = doctor.check_consent(store, the(store, cid), NOW)
    assert check.status == "warn"
    assert check.message.startswith("Consent gate OFF since 2026-03-03 15:00 UTC (ana@laptop): "
                                    "calls go to numbers without a consent record on file")
    assert "2 waiting lead(s)" in check.message


def _registry(store, tmp_path, at, name="ny.txt", numbers=("2125550199",)):
    path = tmp_path / name
    path.write_text("".join(n + "\n" for n in numbers))
    dnc.import_file(store, path, now_iso=to_iso(at))


def test_doctor_warns_when_the_registry_is_older_than_31_days(store, tmp_path):
    informational = builders.campaign(store, "Helpdesk")
    assert doctor.check_registry(store, [the(store, informational)], NOW) is None
    cid = selling(store)
    check = doctor.check_registry(store, [the(store, cid)], NOW)
    assert check.status == "ok" and "No National DNC registry file imported" in check.message
    _registry(store, tmp_path, NOW - timedelta(days=40))
    check = doctor.check_registry(store, [the(store, cid)], NOW)
    assert check.status == "warn" and "40 days old" in check.message
    assert "64.1200(c)(2)(i)(D)" in check.message and "dnc import" in check.fix
    # The same list again, a week ago: no new entry, but a fresh scrub.
    _registry(store, tmp_path, NOW - timedelta(days=7))
    check = doctor.check_registry(store, [the(store, cid)], NOW)
    assert check.status == "ok" and "7 day(s) ago" in check.message


def test_start_warnings(store, tmp_path):
    cid = selling(store)
    assert doctor.start_warnings(store, cid, NOW) == [
        "2 waiting lead(s) have no number with prior express written consent on record: "
        "they will be skipped. Add records with: dialcli consent import FILE"]
    _registry(store, tmp_path, NOW - timedelta(days=32))
    gate_off(store, cid)
    got = doctor.start_warnings(store, cid, NOW)
    assert got[0] == ("consent gate OFF since 2026-03-03 15:00 UTC (ana@laptop): calls go to "
                      "numbers without a consent record on file.")
    assert got[1].startswith("The newest National DNC registry import is 32 days old")
    assert len(got) == 2            # with the gate off nobody is skipped for consent
    with store.tx():
        store.execute("UPDATE campaigns SET purpose = 'unspecified' WHERE id = ?", (cid,))
    assert doctor.start_warnings(store, cid, NOW) == []     # the engine refuses it instead


def test_start_prints_the_warnings_before_dialing(cli, store):
    cid = selling(store)
    gate_off(store, cid)
    r = cli("start", "--simulate", "--seed", "1")
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    assert "Warning: consent gate OFF since 2026-03-03 15:00 UTC (ana@laptop): calls go to " \
           "numbers without a consent record on file." in err
    # The gate off, every lead is dialed: the warning was true.
    assert builders.calls(store) and len({c["e164"] for c in builders.calls(store)}) == 3


def test_status_shows_the_purpose_and_the_gate(cli, store, monkeypatch):
    cid = selling(store)
    piped = cli("status").stdout.splitlines()
    assert "purpose\ttelemarketing" in piped and "consent_gate\ton" in piped
    builders.as_terminal(monkeypatch, 160)
    r = cli("status")
    assert r.exit_code == 0, r.output
    assert "Purpose: telemarketing (needs prior express written consent)" in r.stdout
    assert "consent gate on" in r.stdout
    gate_off(store, cid)
    data = json.loads(cli("status", "--json").stdout)
    assert data["consent"]["gate"] == "off" and data["consent"]["gate_changed_by"] == "ana@laptop"
    assert "Consent gate OFF since" in " ".join(cli("status").stdout.split())


# -- evidence after the run --------------------------------------------------------------------

def test_audit_csv_carries_the_consent_each_dial_relied_on(cli, store):
    selling(store)
    assert cli("start", "--simulate", "--seed", "1").exit_code == 0
    r = cli("audit", "--csv", "-")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == list(audit.AUDIT_COLUMNS)
    dials = [row for row in rows if row["decision"] == "dial"]
    assert [row["e164"] for row in dials] == [NY_WRITTEN]
    assert (dials[0]["consent_required"], dials[0]["consent_type"], dials[0]["consent_at"],
            dials[0]["consent_source"]) == ("written", "written", builders.CONSENTED_AT,
                                            "test fixture")
    skips = {row["e164"]: row for row in rows if row["decision"] == "skip"}
    assert skips[NY_EXPRESS]["consent_type"] == "express"
    assert skips[NY_NONE]["consent_required"] == "written"
    assert skips[NY_NONE]["consent_type"] == skips[NY_NONE]["consent_at"] == ""
    # Rows without the consent evidence (workspace events) read empty.
    assert all(row["consent_required"] == "" for row in rows
               if row["decision"] not in ("dial", "skip"))


def test_report_and_lead_export_show_each_leads_consent(cli, store, tmp_path, monkeypatch):
    builders.as_terminal(monkeypatch)             # the page as drawn on a terminal
    cid = selling(store)
    # A revoked record is no consent: the express lead's number opts out.
    with store.tx() as conn:
        consent.revoke(conn, [NY_EXPRESS], now_iso=NOW_ISO, reason="opted out")
    rows = {r.name: r for r in reporting.lead_rows(store, cid)}
    assert (rows["Written"].consent_type, rows["Written"].consent) == ("written", "written 2000-01-01")
    assert rows["Express"].consent == rows["None"].consent == "none"
    buf = io.StringIO(newline="")
    exports.write_leads_csv(store, cid, buf)
    got = {r["NAME"]: r for r in csv.DictReader(io.StringIO(buf.getvalue()))}
    assert (got["Written"]["consent"], got["Written"]["consent_at_utc"],
            got["Written"]["consent_source"]) == ("written", builders.CONSENTED_AT, "test fixture")
    assert (got["None"]["consent"], got["None"]["consent_at_utc"]) == ("none", "")
    assert got["Express"]["consent"] == "none"
    r = cli("report")
    assert r.exit_code == 0, r.output
    assert "Consent" in r.stdout and "│ written" in r.stdout
    assert "telemarketing" in r.stdout and "Consent gate OFF" not in r.stdout
    gate_off(store, cid)
    page = " ".join(cli("report").stdout.split())
    assert "Consent gate OFF since 2026-03-03 15:00 UTC (ana@laptop)" in page
    assert json.loads(cli("report", "--json").stdout)["kpis"]["consent_gate"] == "off"


def test_report_consent_is_the_reached_phones(store):
    cid = builders.campaign(store)
    lead = builders.add_lead(store, cid, phones=[NY_NONE, NY_WRITTEN], consent=None,
                             status="REACHED", reached_slot=2, slot=1)
    _record(store, NY_WRITTEN, "written", "2026-01-05T10:00:00.000Z", source="doc-17")
    (row,) = reporting.lead_rows(store, cid)
    assert (row.id, row.consent, row.consent_source) == (lead, "written 2026-01-05", "doc-17")


def test_report_consent_of_a_lead_whose_numbers_are_used_up_is_its_last_calls(store):
    """An EXHAUSTED lead has no current phone; it was still dialed, on the consent of
    the number its last call rang -- the report must not say "none" for it."""
    cid = builders.campaign(store)
    lead = builders.add_lead(store, cid, phones=[NY_NONE, NY_WRITTEN], consent=None)
    builders.add_call(store, cid, lead, slot=1, disposition="NO_ANSWER")
    builders.add_call(store, cid, lead, slot=2, disposition="WRONG_NUMBER")
    _record(store, NY_WRITTEN, "written", "2026-01-05T10:00:00.000Z", source="doc-18")
    with store.tx():
        store.execute("UPDATE leads SET status = 'EXHAUSTED', phone_slot = NULL, "
                      "cur_group = NULL WHERE id = ?", (lead,))
    (row,) = reporting.lead_rows(store, cid)
    assert (row.status, row.phone_slot) == ("EXHAUSTED", None)
    assert (row.consent, row.consent_source) == ("written 2026-01-05", "doc-18")
    buf = io.StringIO(newline="")
    exports.write_leads_csv(store, cid, buf)
    (got,) = csv.DictReader(io.StringIO(buf.getvalue()))
    assert (got["consent"], got["consent_source"]) == ("written", "doc-18")
    body = outbox.lead_payload(store.conn, lead, "DIALING", event_id="evt_3", created_at=NOW_ISO)
    assert body["lead"]["current_phone"] is None
    assert body["lead"]["consent"] == {"type": "written", "at": "2026-01-05T10:00:00.000Z",
                                       "source": "doc-18"}


def test_webhook_payload_carries_the_current_phones_consent(store):
    cid = builders.campaign(store)
    with_one = builders.add_lead(store, cid, phones=[NY_WRITTEN], consent=None)
    without = builders.add_lead(store, cid, phones=[NY_NONE], consent=None)
    _record(store, NY_WRITTEN, "express", "2026-01-05T10:00:00.000Z", source="call rec 9")
    _record(store, NY_WRITTEN, "written", "2026-02-01T10:00:00.000Z", source="form 12")
    # Given after the event: not yet on record when it happened.
    _record(store, NY_WRITTEN, "written", "2026-03-04T10:00:00.000Z", source="later")
    body = outbox.lead_payload(store.conn, with_one, None, event_id="evt_1", created_at=NOW_ISO)
    assert body["lead"]["consent"] == {"type": "written", "at": "2026-02-01T10:00:00.000Z",
                                       "source": "form 12"}
    body = outbox.lead_payload(store.conn, without, None, event_id="evt_2", created_at=NOW_ISO)
    assert body["lead"]["consent"] is None


@pytest.mark.parametrize("purpose", ["telemarketing", "informational"])
def test_campaigns_without_consent_trouble_warn_of_nothing(store, purpose):
    cid = builders.campaign(store, purpose=purpose, consent="written",
                            leads=[{"phones": [NY_WRITTEN]}])
    assert doctor.start_warnings(store, cid, NOW) == []
    assert doctor.check_consent(store, the(store, cid), NOW).status == "ok"
