"""``dialcli plan`` and ``dialcli audit`` end to end on a real workspace file."""

from __future__ import annotations

import csv
import json

import pytest

from dialcli.store import audit as store_audit
from dialcli.results import audit as results_audit
from dialcli.compliance import policy as compliance
from dialcli.compliance.policy import CallingPolicy, decision_detail
from dialcli.clock import from_iso

import builders

AT = "2026-03-03T15:00Z"      # Tuesday, 10:00 in New York


@pytest.fixture
def width(monkeypatch):
    """A terminal of a given width (the console's is fixed when the CLI is first
    imported; piped output is tab-separated, tested in test_cli_output.py)."""
    def set_width(columns: int) -> None:
        builders.as_terminal(monkeypatch, columns)
    set_width(160)
    return set_width


def test_plan_table_json_and_csv(cli, store, tmp_path, width):
    cid = builders.campaign(store, "Spring")
    builders.add_leads(store, cid, [{"name": "Jamie", "phones": ["2125550102"]},
                            {"name": "Alex", "phones": ["4155550101"]},
                            {"name": "Toll", "phones": ["8005551212"]}])
    r = cli("plan", "--at", AT, "--no-estimate")
    assert r.exit_code == 0, r.output
    for text in ("Plan for Spring", "+12125550102", "now", "later today", "blocked",
                 "unknown time zone", "Totals", "campaign 09:00-20:00 within federal",
                 "America/Los_Angeles: number", "Tue Mar 03 09:00 PST", "03-03 17:00"):
        assert text in r.stdout, text
    # On an 80-column terminal the evidence columns give way; numbers stay whole.
    width(80)
    r = cli("plan", "--at", AT, "--no-estimate")
    assert r.exit_code == 0
    assert "+14155550101" in r.stdout and "America/Los_Angeles: number" not in r.stdout
    assert "use --csv/--json" in r.stdout

    r = cli("plan", "Spring", "--at", AT, "--no-estimate", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["totals"]["now"] == 1 and data["totals"]["later_today"] == 1
    assert data["totals"]["blocked"] == 1 and data["estimate"] is None
    assert data["phones"][1]["next_utc"] == "2026-03-03T17:00:00.000Z"

    target = tmp_path / "plan.csv"
    r = cli("plan", "--at", AT, "--no-estimate", "--csv", target)
    assert r.exit_code == 0 and "Wrote 3 row(s)" in r.stderr
    rows = list(csv.DictReader(target.open()))
    assert [row["category"] for row in rows] == ["now", "later_today", "blocked"]
    assert rows[1]["next_local"] == "America/Los_Angeles=2026-03-03T09:00:00-08:00 Tue"
    assert rows[0]["zone_source"] == "number (area code 212)"


def test_plan_blackout_and_bad_input(cli, store, tmp_path):
    cid = builders.campaign(store, "C")
    builders.add_leads(store, cid, [{"phones": ["2125550102"]}])
    blackout = tmp_path / "blackout.txt"
    blackout.write_text("2026-03-03 NY Proclaimed day\n")
    r = cli("plan", "--at", AT, "--no-estimate", "--blackout", blackout, "--json")
    assert r.exit_code == 0, r.output
    phone = json.loads(r.stdout)["phones"][0]
    assert phone["category"] == "later" and phone["next_utc"] == "2026-03-04T14:00:00.000Z"
    assert phone["reasons"][0].startswith("blackout 2026-03-03: Proclaimed day")

    r = cli("plan", "--at", "next tuesday", "--no-estimate")
    assert r.exit_code == 2 and "--at" in r.stderr
    blackout.write_text("soon\n")
    r = cli("plan", "--at", AT, "--no-estimate", "--blackout", blackout)
    assert r.exit_code == 2 and "line 1" in r.stderr
    r = cli("plan", "Nope", "--no-estimate")
    assert r.exit_code == 2 and "No campaign named 'Nope'" in r.stderr


def test_plan_without_leads_and_without_campaigns(cli, store):
    r = cli("plan", "--no-estimate")
    assert r.exit_code == 2 and "no campaigns" in r.stderr
    builders.campaign(store, "C")
    r = cli("plan", "--at", AT, "--no-estimate")
    assert r.exit_code == 0 and "no leads yet" in r.stderr


def _decide(store, cid, lid, e164, decision, ts, reason=None, zone="America/New_York"):
    policy = CallingPolicy()
    group = policy.window_for((zone,), "US-NY")
    detail = decision_detail(group, e164, from_iso(ts), 0, False, policy=policy,
                             zone_source="number")
    with store.tx() as conn:
        store_audit.record_decision(conn, ts=ts, campaign_id=cid, lead_id=lid, call_id=None,
                                   e164=e164, decision=decision, reason=reason, detail=detail)


def test_audit_export(cli, store, tmp_path, width):
    a, b = builders.campaign(store, "A"), builders.campaign(store, "B")
    l1, l2 = builders.add_leads(store, a, [{"phones": ["2125550102"], "row": 2},
                                   {"phones": ["2125550103"], "row": 3}])
    (l3,) = builders.add_leads(store, b, [{"phones": ["2125550104"]}])
    _decide(store, a, l1, "+12125550102", "dial", "2026-03-03T15:00:00.000Z", "pass")
    _decide(store, a, l2, "+12125550103", "defer", "2026-03-03T15:00:01.000Z", "frequency cap")
    _decide(store, a, l2, "+12125550103", "skip", "2026-03-03T15:00:02.000Z", "on the opt-out list")
    _decide(store, b, l3, "+12125550104", "dial", "2026-03-03T15:00:03.000Z", "pass")
    cli("dnc", "add", "+13125550199")

    r = cli("audit", "A")
    assert r.exit_code == 0, r.output
    assert "+12125550102" in r.stdout and "frequency cap" in r.stdout
    assert "Tue 10:00 EST" in r.stdout
    assert "+12125550104" not in r.stdout and compliance.RULES_VERSION in r.stdout

    r = cli("audit", "A", "--lead", "3", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert [x["decision"] for x in rows] == ["defer", "skip"]
    assert rows[0]["zones"] == ["America/New_York"] and rows[0]["cap_limit"] == 3
    assert rows[0]["local_time"] == {"America/New_York": "2026-03-03T10:00:01-05:00 Tue"}

    target = tmp_path / "audit.csv"
    r = cli("audit", "A", "--csv", target)
    assert r.exit_code == 0 and "Wrote 3 audit row(s)" in r.stderr
    rows = list(csv.DictReader(target.open()))
    assert list(rows[0]) == list(results_audit.AUDIT_COLUMNS)
    assert rows[0]["decision"] == "dial" and rows[0]["lead_row"] == "2"
    assert rows[0]["rules_version"] == compliance.RULES_VERSION
    assert rows[0]["opt_out"] == "no" and rows[0]["cap_count"] == "0"
    assert json.loads(rows[0]["detail"])["zone_source"] == "number"

    r = cli("audit", "--all", "--decision", "dnc-add", "--json")
    assert r.exit_code == 0
    assert [x["e164"] for x in json.loads(r.stdout)] == ["+13125550199"]
    r = cli("audit", "A", "--lead", "99")
    assert r.exit_code == 2 and "No lead on row 99" in r.stderr
    r = cli("audit", "A", "--all")
    assert r.exit_code == 2
    r = cli("audit", "--lead", "2")
    assert r.exit_code == 2 and "Which campaign" in r.stderr


def test_audit_empty(cli, store):
    builders.campaign(store, "C")
    r = cli("audit")
    assert r.exit_code == 0 and "No audit rows yet" in r.stderr


def test_help_has_examples(cli):
    for cmd in ("plan", "audit"):
        r = cli(cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.stdout


def test_plan_summary_prints_big_figures_with_thousands_separators():
    """A big campaign's estimate reads '249,956 calls', as every other count does."""
    from datetime import datetime, timezone

    from rich.console import Console

    from dialcli.cli.plan import plan_summary
    from dialcli.engine.plan import CATEGORIES, Estimate, Plan

    plan = Plan(campaign="Big", campaign_status="DRAFT", at=from_iso(AT), rules_version="r1",
                policy={"cap_per_24h": 3, "state_caps": {}}, phones=[],
                totals=dict.fromkeys(CATEGORIES, 123_456),
                lead_totals=dict.fromkeys(CATEGORIES, 98_765),
                estimate=Estimate(249_956, 612_345, 8_572.83,
                                  datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc), 100_234,
                                  "completed", 0))
    console = Console(width=200, record=True)
    console.print(plan_summary(plan))
    text = console.export_text()
    assert "249,956 calls, 612,345 billed minutes, $8,572.83, 100,234 reached" in text
    assert "123,456" in text and "98,765" in text
    assert "249956" not in text and "123456" not in text


def test_a_sampled_estimate_prints_an_interval_beside_each_figure_and_the_finish():
    """Each figure of a sampled estimate has its 95% half-width beside it, and the
    finish time the span from the sample's last call to the latest chain it stands for."""
    from datetime import datetime, timezone

    from rich.console import Console

    from dialcli.cli.plan import plan_summary
    from dialcli.engine.plan import CATEGORIES, Estimate, Plan

    utc = timezone.utc
    est = Estimate(250_000, 176_000, 2_470.0, datetime(2026, 4, 7, 19, 36, tzinfo=utc), 79_000,
                   "completed", 1, "simulated 700 of 99,960 leads",
                   intervals={"calls": (247_500, 252_500), "minutes": (174_240, 177_760),
                              "cost": (2_445.3, 2_494.7), "reached": (77_815, 80_185)},
                   finish_interval=(datetime(2026, 4, 7, 17, 49, tzinfo=utc),
                                    datetime(2026, 4, 8, 10, 41, tzinfo=utc)),
                   sampled=700, population=99_960)
    plan = Plan(campaign="Big", campaign_status="DRAFT", at=from_iso(AT), rules_version="r1",
                policy={"cap_per_24h": 3, "state_caps": {}}, phones=[],
                totals=dict.fromkeys(CATEGORIES, 1), lead_totals=dict.fromkeys(CATEGORIES, 1),
                estimate=est)
    console = Console(width=250, record=True)
    console.print(plan_summary(plan))
    text = " ".join(console.export_text().split())
    assert ("250,000 calls (+-1.0%), 176,000 billed minutes (+-1.0%), $2,470.00 (+-1.0%), "
            "79,000 reached (+-1.5%)") in text
    assert "finishes 2026-04-07 19:36 UTC (between 04-07 17:49 UTC and 04-08 10:41 UTC)" in text
