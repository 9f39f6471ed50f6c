import csv
import io
import json
from datetime import date

import click
import pytest
import typer

from dialcli.store import Store

import builders
from builders import COLUMNS, add_call, campaign, spring_campaign


@pytest.fixture
def spring(db_path):
    with Store(db_path) as st:
        return spring_campaign(st)


def test_report_shows_the_campaign_page(cli, spring):
    result = cli("report")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "Spring" in page and "run 2" in page and "pass 2 of 3" in page
    for title in ("Calls made", "Reached", "Interested", "Opt-out", "Reach rate", "Avg talk"):
        assert title in page
    assert "50.0%" in page            # reach rate: 4 of 8 finished calls
    assert "1m 39s" in page           # (185 + 40 + 75 + 95) / 4 s
    assert "1 in flight" in page
    assert "NOT_INTERESTED" in page and "Dispositions" in page
    assert "Jamie Lee" in page and "1: +12125550133" in page
    assert "Leads 8:" in page and "2 reached" in page
    assert "Rate $0.014/min (default" in page
    assert "Billed minutes 11" in page
    assert "Earlier runs: 1 min" in page
    assert "Last 30 days (UTC)" in page


def test_report_rate_setting_and_json(cli, spring):
    assert cli("config", "set", "rate_per_minute", "0.02").exit_code == 0
    result = cli("report", "Spring", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["kpis"]["calls_made"] == 9 and data["kpis"]["reached"] == 4
    assert data["kpis"]["rate"] == 0.02 and data["kpis"]["rate_is_default"] is False
    assert data["cost"]["cost"] == pytest.approx(0.196)
    assert len(data["cost"]["days"]) == 30
    assert [r["name"] for r in data["leads"]["rows"]][:2] == ["Alex Chen", "Jamie Lee"]
    page = cli("report").stdout
    assert "Rate $0.02/min" in page and "default" not in page.split("Rate $0.02/min")[1][:20]


def test_report_trend_draws_recent_days(cli, db_path):
    with Store(db_path) as st:
        data = spring_campaign(st)
        lead = data["lead"][7]
        for day, minutes in ((3, 10), (4, 0), (6, 40)):
            add_call(st, data["campaign"], lead, run=2, pass_no=20 + day, disposition="NO_ANSWER",
                     claimed_at=f"2099-05-{day:02d}T15:00:00.000Z",
                     ended_at=f"2099-05-{day:02d}T15:10:00.000Z", billed_minutes=minutes)
    result = cli("report", "--days", "7")
    assert result.exit_code == 0
    assert "Last 7 days (UTC): 50 min, $0.70" in result.stdout
    chart = [line for line in result.stdout.splitlines() if "┤" in line]
    assert len(chart) == 6 and "$0.56" in chart[0]
    assert "Apr 30  May 06" in result.stdout       # ends on the last call day (ahead of today)


def test_report_lead_filters(cli, spring):
    result = cli("report", "--status", "reached", "--sort", "attempts", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["leads"]["rows"]
    assert [r["name"] for r in rows] == ["Jamie Lee", "Alex Chen"]
    result = cli("report", "--limit", "2")
    assert "2 of 8" in result.stdout
    result = cli("report", "--status", "finished")
    assert result.exit_code == 2
    assert "Unknown lead status 'FINISHED'" in result.stderr and "REACHED" in result.stderr
    result = cli("report", "--sort", "age")
    assert result.exit_code == 2 and "Unknown sort" in result.stderr


def test_report_all_runs(cli, spring):
    data = json.loads(cli("report", "--all-runs", "--json").stdout)
    assert data["kpis"]["calls_made"] == 10 and data["kpis"]["run"] is None
    assert "all runs" in cli("report", "--all-runs").stdout


def test_report_csv_file(cli, spring, tmp_path):
    path = tmp_path / "out" / "leads.csv"
    path.parent.mkdir()
    result = cli("report", "--csv", path)
    assert result.exit_code == 0, result.output
    assert "Wrote 8 lead rows" in result.stderr
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert len(rows) == 8 and list(rows[0])[:len(COLUMNS)] == COLUMNS
    assert rows[2]["NAME"].startswith("'=")


def test_report_csv_stdout_and_excel(cli, spring):
    result = cli("report", "--csv", "-")
    assert result.exit_code == 0
    assert result.stdout.startswith("NAME,PHONE1,PHONE2")
    assert "Wrote" not in result.stderr
    result = cli("report", "--csv", "-", "--calls", "--excel")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfcall_id,run,lead_id")
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert len(rows) == 9


def test_report_calls_csv_all_runs(cli, spring, tmp_path):
    path = tmp_path / "calls.csv"
    result = cli("report", "--csv", path, "--calls", "--all-runs")
    assert result.exit_code == 0
    assert "Wrote 10 call rows" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--calls"], "--calls applies to CSV exports"),
    (["--excel"], "--excel applies to CSV exports"),
    (["--csv", "x.csv", "--json"], "pick one"),
    (["--limit", "-1"], "--limit"),
    (["--days", "400"], "out of range"),
])
def test_report_bad_options(cli, spring, args, message):
    result = cli("report", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_report_csv_into_missing_folder(cli, spring, tmp_path):
    result = cli("report", "--csv", tmp_path / "nope" / "x.csv")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_report_campaign_resolution(cli, db_path):
    result = cli("report")
    assert result.exit_code == 2 and "No dialcli workspace" in result.stderr
    assert not db_path.exists()
    Store(db_path).close()
    result = cli("report")
    assert result.exit_code == 2 and "no campaigns yet" in result.stderr
    with Store(db_path) as st:
        campaign(st, "Alpha", status="RUNNING")
        campaign(st, "Beta", status="RUNNING")
    result = cli("report")
    assert result.exit_code == 2 and "Which campaign?" in result.stderr
    assert cli("report", "beta").exit_code == 0
    assert cli("report", "--campaign", "Alpha").exit_code == 0
    result = cli("report", "Gamma")
    assert result.exit_code == 2 and "No campaign named 'Gamma'" in result.stderr
    result = cli("report", "Alpha", "--campaign", "Beta")
    assert result.exit_code == 2


def test_empty_campaign_report(cli, db_path):
    with Store(db_path) as st:
        campaign(st, "Fresh")
    result = cli("report")
    assert result.exit_code == 0
    assert "no calls yet" in result.stdout and "no leads match" in result.stdout
    assert "dialcli import" in result.stdout


def test_my_commands_have_help_with_examples():
    from dialcli.cli.app import app

    root = typer.main.get_command(app)
    for path in (["report"], ["webhooks"], ["config"]):
        command = root.get_command(click.Context(root), path[0])
        commands = [command]
        if isinstance(command, click.Group):
            commands += list(command.commands.values())
        for cmd in commands:
            assert cmd.help and "Example" in cmd.help, cmd.name


def test_narrow_terminal_keeps_names_readable(db_path):
    from rich.console import Console

    from dialcli.results import reporting
    from dialcli.cli.report import report_view

    with Store(db_path) as st:
        data = spring_campaign(st)
        report = reporting.campaign_report(st, data["campaign"], today=date(2026, 3, 3))
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(report_view(report))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in ("Alex Chen", "Jamie Lee", "Sam Rivera"):
        assert name in text
    assert "Calls made" in text and "Avg talk" in text and "tries" in text


# -- against the engine: a simulated campaign with pinned outcomes ------------------------

SIM_PROFILE = """
[[numbers]]
number = "+12125550101"
attempts = ["human"]
persona = "interested"
[[numbers]]
number = "+12125550102"
attempts = ["no_answer", "no_answer"]
[[numbers]]
number = "+12125550103"
attempts = ["voicemail", "human"]
persona = "not_interested"
[[numbers]]
number = "+12125550104"
attempts = ["human"]
persona = "opt_out"
[[numbers]]
number = "+12125550105"
attempts = ["busy", "failed"]
[[numbers]]
number = "+12125550106"
attempts = ["human"]
persona = "wrong_number"
"""

SIM_LEADS = """name,phone1,phone2,amount,case number
Alex Chen,+12125550101,,5000,CASE-1
Jamie Lee,+12125550102,+12125550103,12000,CASE-2
Pat Quinn,+12125550104,,300,CASE-3
Dana Diaz,+12125550105,,=1+2,CASE-4
Wes Wong,+12125550106,,900,CASE-5
"""


@pytest.fixture
def simulated(cli, tmp_path, db_path):
    """A workspace set up with the real commands, and a profile pinning every outcome;
    every number has a consent record, so the gate lets each dial through."""
    (tmp_path / "greeting.txt").write_text("Hi {{NAME}}, this is Zara from Acme Lending. "
                                           "Say stop to opt out.")
    (tmp_path / "prompt.txt").write_text("You are Zara from Acme. Offer a payment plan.")
    (tmp_path / "leads.csv").write_text(SIM_LEADS)
    (tmp_path / "profile.toml").write_text(SIM_PROFILE)
    for args in (("agent", "create", "Zara", "--greeting-file", tmp_path / "greeting.txt",
                  "--prompt-file", tmp_path / "prompt.txt"),
                 ("numbers", "add", "+14155550100"),
                 ("campaign", "create", "Spring", "--agent", "Zara", "--from", "+14155550100",
                  "--max-attempts", "2", "--retry-interval", "30", "--purpose", "informational"),
                 ("import", tmp_path / "leads.csv")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    with Store(db_path) as st:
        assert builders.consent_all(st, 1) == 6      # the six phones of the five leads
    return tmp_path / "profile.toml"


def run_simulation(cli, profile):
    result = cli("start", "--simulate", "--seed", "3", "--sim-profile", profile)
    assert result.exit_code == 0, result.output


def test_report_matches_a_simulated_campaign_with_pinned_outcomes(cli, db_path, simulated,
                                                                  tmp_path):
    run_simulation(cli, simulated)
    assert cli("config", "set", "rate_per_minute", "0.02").exit_code == 0
    data = json.loads(cli("report", "--json").stdout)
    k = data["kpis"]
    # Worked out from the profile: Alex 1 call; Jamie phone1 x2 + phone2 x2 (voicemail,
    # then a human who declines in pass 2); Pat 1; Dana busy then failed; Wes 1.
    assert k["dispositions"] == {"INTERESTED": 1, "NOT_INTERESTED": 1, "CALLBACK": 0,
                                 "VOICEMAIL": 1, "WRONG_NUMBER": 1, "NO_ANSWER": 3,
                                 "OPT_OUT": 1, "COMPLETED": 0, "FAILED": 1}
    assert (k["calls_made"], k["calls_finished"], k["in_flight"]) == (9, 9, 0)
    assert (k["reached"], k["interested"], k["opted_out"]) == (3, 1, 1)
    assert k["reach_rate"] == pytest.approx(3 / 9)
    assert k["leads_by_status"]["REACHED"] == 2 and k["leads_by_status"]["OPTED_OUT"] == 1
    assert k["leads_by_status"]["EXHAUSTED"] == 2 and k["leads_reached"] == 3
    assert k["status"] == "COMPLETED" and k["current_pass"] == 2
    with Store(db_path) as st:
        talk = st.scalar("SELECT AVG(duration_s) FROM calls WHERE disposition IN "
                         "('INTERESTED', 'NOT_INTERESTED', 'OPT_OUT')")
        minutes = st.scalar("SELECT SUM(billed_minutes) FROM calls")
        per_day = dict(st.all("SELECT substr(ended_at, 1, 10), SUM(billed_minutes) FROM calls "
                              "GROUP BY 1"))
    assert k["avg_talk_s"] == pytest.approx(talk)
    assert k["billed_minutes"] == minutes > 0
    assert k["cost"] == pytest.approx(minutes * 0.02)      # estimates follow the set rate
    days = {d["day"]: d for d in data["cost"]["days"]}
    for day, billed in per_day.items():
        assert days[day]["billed_minutes"] == billed
    rows = {r["name"]: r for r in data["leads"]["rows"]}
    jamie = rows["Jamie Lee"]
    assert (jamie["status"], jamie["last_disposition"], jamie["pass_no"], jamie["attempts"],
            jamie["phone"]) == ("REACHED", "NOT_INTERESTED", 2, 4, "+12125550103")
    assert rows["Dana Diaz"]["last_disposition"] == "FAILED"
    # The exports open cleanly: one row per lead, one per call.
    assert cli("report", "--csv", tmp_path / "leads.out.csv", "--excel").exit_code == 0
    assert cli("report", "--csv", tmp_path / "calls.out.csv", "--calls").exit_code == 0
    leads = list(csv.DictReader((tmp_path / "leads.out.csv").open(encoding="utf-8-sig")))
    assert [r["NAME"] for r in leads] == ["Alex Chen", "Jamie Lee", "Pat Quinn", "Dana Diaz",
                                          "Wes Wong"]
    assert leads[1]["reached_phone"] == "+12125550103" and leads[1]["CASE_NUMBER"] == "CASE-2"
    assert leads[3]["AMOUNT"] == "'=1+2"
    calls = list(csv.DictReader((tmp_path / "calls.out.csv").open(encoding="utf-8")))
    assert len(calls) == 9
    assert {c["recipient_zone"] for c in calls} == {"America/New_York"}
    assert all(c["started_local"].endswith(("EST", "EDT")) for c in calls)
    assert sum(int(c["billed_minutes"]) for c in calls) == minutes
    page = cli("report").stdout
    assert "33.3%" in page and "Leads 5:" in page


def test_receiver_down_for_the_whole_campaign_gets_every_event_after(cli, db_path, simulated):
    from fakes.webhook_receiver import Receiver

    down = Receiver().start()
    port = down.port
    down.stop()
    added = cli("webhooks", "add", f"http://127.0.0.1:{port}/hooks", "--json")
    secret = json.loads(added.stdout)["secret"]
    run_simulation(cli, simulated)      # delivery runs alongside and fails throughout
    (listing,) = json.loads(cli("webhooks", "list", "--json").stdout)
    assert listing["delivered"] == 0 and listing["pending"] > 0
    assert listing["last_error"].startswith("connection failed")
    receiver = Receiver(secret=secret, port=port).start()
    try:
        result = cli("webhooks", "deliver")
        assert result.exit_code == 0, result.output
        events = receiver.accepted()
        assert receiver.bad_signatures == 0
        assert len(events) == listing["pending"] == len({e["id"] for e in events})
        with Store(db_path) as st:
            final = dict(st.all("SELECT id, status FROM leads"))
        by_lead: dict[int, list[dict]] = {}
        for event in events:
            by_lead.setdefault(event["lead"]["id"], []).append(event["lead"])
        assert set(by_lead) == set(final)
        for lead_id, changes in by_lead.items():
            # Arrival order per lead is the order things happened: each event starts
            # where the previous one ended, and the last is the lead's final status.
            assert changes[0]["previous_status"] == "PENDING"
            for before, after in zip(changes, changes[1:]):
                assert after["previous_status"] == before["status"]
            assert changes[-1]["status"] == final[lead_id]
        assert json.loads(cli("webhooks", "list", "--json").stdout)[0]["pending"] == 0
    finally:
        receiver.stop()


def test_fetch_prices_asks_twilio_then_reports_its_price(cli, spring, db_path, fake, monkeypatch):
    from fakes.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeCall, Scenario

    r = cli("report", "--fetch-prices")
    assert r.exit_code != 0 and "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in r.stderr
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    r = cli("report", "--fetch-prices", "--json")
    assert r.exit_code == 0 and "No estimated prices to fetch" in r.stderr
    before = json.loads(r.stdout)["cost"]["cost_final"]
    sid = "CA" + "5" * 32
    with Store(db_path) as st:
        call = st.one("SELECT id, e164, billed_minutes FROM calls WHERE run = 2 AND "
                      "disposition IS NOT NULL AND billed_minutes > 0 AND price_final = 0 "
                      "ORDER BY id LIMIT 1")
        st.execute("UPDATE calls SET provider = 'twilio', provider_sid = ? WHERE id = ?",
                   (sid, call["id"]))
    fake.calls[sid] = FakeCall(sid=sid, to=call["e164"], from_="+14155550100", params={},
                               scenario=Scenario(price_after_fetches=0), status="completed",
                               duration=call["billed_minutes"] * 60)
    r = cli("report", "--fetch-prices", "--json")
    assert r.exit_code == 0, r.output
    assert "1 of 1 estimated call price(s) now Twilio's own." in r.stderr
    cost = json.loads(r.stdout)["cost"]
    assert cost["cost_final"] == pytest.approx(before + call["billed_minutes"] * 0.014)
    with Store(db_path) as st:
        assert st.scalar("SELECT price_final FROM calls WHERE id = ?", (call["id"],)) == 1
