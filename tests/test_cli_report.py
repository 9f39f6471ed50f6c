import csv
import io
import json

import click
import pytest
import typer

from dialcli.store import Store

from fabricate import COLUMNS, add_call, make_campaign, spring_campaign


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
    assert result.exit_code == 2 and "no campaigns yet" in result.stderr
    with Store(db_path) as st:
        make_campaign(st, "Alpha")
        make_campaign(st, "Beta")
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
        make_campaign(st, "Fresh", status="DRAFT")
    result = cli("report")
    assert result.exit_code == 0
    assert "no calls yet" in result.stdout and "no leads match" in result.stdout
    assert "dialcli import" in result.stdout


def test_my_commands_have_help_with_examples():
    from dialcli.cli import app

    root = typer.main.get_command(app)
    for path in (["report"], ["webhooks"], ["config"]):
        command = root.get_command(click.Context(root), path[0])
        commands = [command]
        if isinstance(command, click.Group):
            commands += list(command.commands.values())
        for cmd in commands:
            assert cmd.help and "Example" in cmd.help, cmd.name
