"""Output for scripts (issue 20, item 2): piped tables are one row per line,
tab-separated, with a header, full values and RFC 3339 UTC times; JSON instants are
always ``...Z``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import builders
from builders import add_call, campaign, subscribe, workspace
from dialcli.cli import common
from dialcli.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
LONG = "Hi {{NAME}}, this is Zara from Acme calling about your NOT_INTERESTED follow-up " \
       "and a long greeting that would wrap at eighty columns in any table cell"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def ws(tmp_path):
    with workspace(tmp_path) as st:
        builders.agent(st, "Zara", greeting=LONG)
        cid = campaign(st, "Spring", leads=[{"phones": ["+12125550100"], "name": "Alex Chen"}])
        st.execute("INSERT INTO dnc (e164, reason, source, added_at) VALUES "
                   "('+12125550199', 'asked to stop: NOT_INTERESTED in any further calls', "
                   "'cli', '2026-03-03T15:00:00.000Z')")
        subscribe(st, "https://example.com/a-rather-long/path/for/webhooks/that/wraps")
        yield st, cid


LISTS = [["dnc", "list"], ["agent", "list"], ["campaign", "list"], ["numbers", "list"],
         ["webhooks", "list"], ["config", "list"], ["consent", "list"], ["auth", "status"]]


@pytest.mark.parametrize("argv", LISTS, ids=" ".join)
def test_piped_lists_are_tab_separated_with_a_header(ws, argv):
    r = run(*argv)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines, r.output
    header = lines[0].split("\t")
    assert len(header) >= 2 and all(h for h in header[:2])
    for line in lines[1:]:
        assert len(line.split("\t")) == len(header), line
    assert not any(ch in r.stdout for ch in "│┃━─╭")           # no box drawing


def test_full_values_never_wrap_or_cut(ws):
    dnc = run("dnc", "list").stdout
    assert "asked to stop: NOT_INTERESTED in any further calls" in dnc
    agents = run("agent", "list").stdout
    assert " ".join(LONG.split()) in agents
    hooks = run("webhooks", "list").stdout
    assert "https://example.com/a-rather-long/path/for/webhooks/that/wraps" in hooks


def test_piped_times_are_rfc3339_utc(ws):
    lines = [line.split("\t") for line in run("dnc", "list").stdout.splitlines()]
    added = lines[0].index("Added")
    assert lines[1][added] == "2026-03-03T15:00:00Z"
    assert all(RFC3339_Z.match(row[added]) for row in lines[1:])


def test_a_terminal_gets_the_drawn_table_with_zones(ws, monkeypatch):
    builders.as_terminal(monkeypatch, 160)
    r = run("dnc", "list")
    assert "│" in r.stdout or "┃" in r.stdout
    assert "2026-03-03 15:00 UTC" in r.stdout                # every time shown says its zone


def test_report_page_piped_names_each_table(ws):
    st, cid = ws
    page = run("report").stdout
    assert "# Dispositions" in page and "# Leads" in page
    # The KPI cards are lines too (no boxes): raw value, as shown, the card's detail.
    kpis = page.split("# KPIs\n", 1)[1].splitlines()
    assert kpis[0] == "KPI\tValue\tShown\tDetail"
    assert kpis[1].split("\t")[:2] == ["Calls made", "0"]
    assert not any(ch in page for ch in "╭╰")
    leads = page.split("# Leads", 1)[1].splitlines()[1:]
    header = leads[0].split("\t")
    assert "Name" in header and "Alex Chen" in leads[1].split("\t")


def test_piped_tables_name_every_column_and_draw_no_bars(ws):
    st, cid = ws
    lead = st.scalar("SELECT id FROM leads WHERE campaign_id = ?", (cid,))
    add_call(st, cid, lead, disposition="NOT_INTERESTED")
    page = run("report").stdout + run("plan", "Spring").stdout
    dispositions = page.split("# Dispositions\n", 1)[1].splitlines()
    assert dispositions[0] == "Disposition\tCalls\tShare"
    assert dispositions[1].split("\t")[0] == "NOT_INTERESTED"
    assert "█" not in page and not re.search(r"(^|\t)column\d", page, re.M), page


def test_grep_finds_a_disposition_in_a_real_pipe(ws, tmp_path):
    """A real process with stdout on a pipe, the way `dialcli dnc list | grep` runs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "dialcli", "dnc", "list"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    hits = [line for line in proc.stdout.splitlines() if "NOT_INTERESTED" in line]
    assert len(hits) == 1 and hits[0].startswith("+12125550199\t")


def test_json_instants_are_always_z():
    data = {"a": datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc),
            "b": "2026-03-03T15:00:00+00:00", "c": ["2026-03-03T15:00:00.123+00:00"],
            "d": datetime(2026, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
            "e": "not a time +00:00", "f": 3}
    assert common.json_ready(data) == {
        "a": "2026-03-03T15:00:00.000Z", "b": "2026-03-03T15:00:00Z",
        "c": ["2026-03-03T15:00:00.123Z"], "d": "2026-03-03T15:00:00.000Z",
        "e": "not a time +00:00", "f": 3}


def test_status_json_has_no_offset_spelling(ws):
    st, cid = ws
    (lead,) = [r["id"] for r in builders.leads(st, cid)]
    add_call(st, cid, lead, disposition="NO_ANSWER")
    r = run("status", "--json")
    assert r.exit_code == 0, r.output
    assert "+00:00" not in r.stdout
    found = re.findall(r'"(\d{4}-\d{2}-\d{2}T[^"]+)"', r.stdout)
    assert found and all(RFC3339_Z.match(t) for t in found), found


def test_every_command_takes_json():
    """Commands with their own shape keep it; the rest get the shared --json."""
    from test_cli_logs import all_commands

    for name, cmd in all_commands():
        if hasattr(cmd, "commands"):
            continue
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert "--json" in opts, name


def test_state_changes_print_json(ws):
    st, cid = ws
    r = run("numbers", "add", "+14155550177", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["number"] == {"e164": "+14155550177", "label": None}
    assert doc["workspace"].endswith("dialcli.db") and doc["messages"] == ["Added +14155550177."]
    doc = json.loads(run("config", "set", "rate_per_minute", "0.02", "--json").stdout)
    assert doc["key"] == "rate_per_minute" and doc["value"] == "0.02"
    doc = json.loads(run("dnc", "remove", "+12125550199", "--yes", "--json").stdout)
    assert doc["removed"] == 1 and doc["numbers"] == ["+12125550199"]
    doc = json.loads(run("agent", "edit", "Zara", "--tts-provider", "Amazon", "--voice",
                         "Joanna-Neural", "--json").stdout)
    assert doc["agent"]["voice"] == "Joanna-Neural"
    r = run("start", "--simulate", "--seed", "1", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)                     # no per-lead lines around the document
    assert doc["outcome"] in ("completed", "paused") and doc["snapshot"]["campaign"] == "Spring"
    campaign(st, "Other", status="RUNNING")
    doc = json.loads(run("pause", "Other", "--json").stdout)
    assert doc["campaign"] == "Other" and doc["changed"] is True
    doc = json.loads(run("campaign", "delete", "Spring", "--yes", "--json").stdout)
    assert doc["deleted"]["name"] == "Spring" and doc["deleted"]["leads"] == 1


def test_a_long_report_on_a_terminal_goes_through_the_pager(tmp_path):
    with workspace(tmp_path) as st:
        campaign(st, "Spring", leads=[{"phones": [f"+1212555{i:04d}"], "name": f"Lead {i}"}
                                      for i in range(80)])
    paged = tmp_path / "paged.txt"
    env = {"PAGER": f"cat > {paged}", "LINES": "40"}
    rc, shown = builders.run_in_pty(["report", "--limit", "0"], cwd=tmp_path, env=env)
    assert rc == 0, shown
    assert "Lead 79" in paged.read_text() and "Lead 79" not in shown
    paged.unlink()
    rc, shown = builders.run_in_pty(["report", "--limit", "3"], cwd=tmp_path, env=env)
    assert rc == 0 and not paged.exists() and "Lead 2" in shown


def _tsv(stdout: str) -> list[list[str]]:
    rows = [line.split("\t") for line in stdout.splitlines() if not line.startswith("# ")]
    assert rows and all(len(r) == len(rows[0]) for r in rows), stdout
    return rows


def test_import_summaries_piped_are_tab_separated(ws, tmp_path):
    """dnc import, consent import and import print their counts as TSV with a header
    and raw numbers (no separators, no box drawing) when piped."""
    numbers = tmp_path / "dnc.txt"
    numbers.write_text("".join(f"212556{i:04d}\n" for i in range(1200)) + "oops\n")
    r = run("dnc", "import", numbers)
    assert r.exit_code == 0, r.output
    rows = _tsv(r.stdout)
    assert rows[0] == ["What", "Count"]
    assert ["Added", "1200"] in rows and ["Invalid", "1"] in rows
    optins = tmp_path / "optins.csv"
    optins.write_text("phone,consent_at,consent_type\n+12125550100,2026-01-02,written\n")
    r = run("consent", "import", optins)
    assert r.exit_code == 0, r.output
    assert ["Records added", "1"] in _tsv(r.stdout)
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone1\nAna,+13125550100\nBo,+13125550101\n")
    r = run("import", leads, "--campaign", "Spring")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert "What\tCount\tDetail" in lines and any(l.startswith("imported\t2\t") for l in lines)
    assert "# Leads per time zone" in lines
    assert not any(ch in r.stdout for ch in "│━─")


def test_status_piped_is_field_value_lines(ws):
    r = run("status", "Spring")
    assert r.exit_code == 0, r.output
    page = r.stdout.split("\n# ")
    rows = _tsv(page[0])
    assert rows[0] == ["Field", "Value"]
    fields = dict(rows[1:])
    assert fields["campaign"] == "Spring" and fields["calls_made"] == "0"
    assert RFC3339_Z.match(fields["now"]) and fields["cost"] == "0"
    assert any(p.startswith("Recently changed leads") for p in page[1:])
    assert not any(ch in r.stdout for ch in "│━─╭")


def test_calls_list_piped_has_the_instant_raw_seconds_and_price(ws, monkeypatch):
    st, cid = ws
    lead = st.scalar("SELECT id FROM leads WHERE campaign_id = ?", (cid,))
    add_call(st, cid, lead, disposition="INTERESTED", duration_s=125, billed_minutes=3,
             price=0.056, price_final=1)
    r = run("calls", "list", "Spring")
    assert r.exit_code == 0, r.output
    rows = _tsv(r.stdout)
    row = dict(zip(rows[0], rows[1]))
    assert RFC3339_Z.match(row["Started"]) and row["Dur"] == "125" and row["Cost"] == "0.056"
    builders.as_terminal(monkeypatch, 160)         # a person: 2m 05s, $0.056
    shown = run("calls", "list", "Spring").stdout
    assert "2m 05s" in shown and "$0.056" in shown and "Started" not in shown


@pytest.mark.parametrize("argv", [["campaign", "show", "Spring"], ["agent", "show", "Zara"]],
                         ids=" ".join)
def test_detail_views_piped_are_field_value_lines_never_wrapped(ws, argv):
    r = run(*argv)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "Field\tValue"
    if argv[0] == "agent":
        assert " ".join(LONG.split()) in r.stdout            # the greeting, whole
        assert any(l.startswith("Updated\t") and RFC3339_Z.match(l.split("\t")[1])
                   for l in lines)
    else:
        assert any(l.startswith("Agent\tZara") for l in lines) and "# Leads: 1" in lines
    assert not any(ch in r.stdout for ch in "│━─╭")


@pytest.mark.parametrize("argv", [["preview", "--agent", "Zara"], ["config", "get", "blackout_file"]],
                         ids=" ".join)
def test_text_views_in_a_real_pipe_never_wrap_or_draw_boxes(ws, tmp_path, argv):
    """``preview`` and ``config get`` printed text straight through Rich, which word-wraps
    at 80 columns and draws panels when stdout is a pipe: a script got half a greeting."""
    st, _ = ws
    long_value = "/home/ops/lists/[2026]/" + "holidays-" * 12 + ".txt"
    if argv[0] == "config":
        st.execute("INSERT OR REPLACE INTO settings (key, value, updated_at) "
                   "VALUES ('blackout_file', ?, '2026-03-03T15:00:00.000Z')", (long_value,))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "dialcli", *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    if argv[0] == "config":
        assert proc.stdout.strip() == long_value
        return
    assert not any(ch in proc.stdout for ch in "│━─╭╰")
    greeting = [line for line in proc.stdout.splitlines() if line.startswith("Hi ")]
    assert len(greeting) == 1 and greeting[0].endswith("in any table cell")
    assert any(line.startswith("Agent\tZara") for line in proc.stdout.splitlines())
