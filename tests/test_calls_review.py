"""Call review: ``dialcli calls``, ``calls show``, ``calls export`` on simulated campaigns."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

import builders
from dialcli.errors import InputError
from dialcli.results import calls as review
from dialcli.store import Store

PROFILE = """
[[numbers]]
number = "+12125550101"
attempts = ["human"]
persona = "interested"
[[numbers]]
number = "+12125550102"
attempts = ["voicemail", "human"]
lines = ["Who is this?", "Call me back tomorrow at 3pm"]
[[numbers]]
number = "+12125550103"
attempts = ["human"]
persona = "opt_out"
[[numbers]]
number = "+12125550104"
attempts = ["no_answer", "busy"]
"""

LEADS = """name,phone1,case number
Alex Chen,+12125550101,CASE-1
Jamie Lee,+12125550102,CASE-2
Pat Quinn,+12125550103,CASE-3
Dana Diaz,+12125550104,CASE-4
"""


@pytest.fixture
def ran(cli, tmp_path, db_path):
    """A campaign set up with the real commands and run on the simulator (pinned)."""
    (tmp_path / "leads.csv").write_text(LEADS)
    (tmp_path / "profile.toml").write_text(PROFILE)
    for args in (("agent", "create", "Zara", "--greeting", "Hi {{NAME}}, this is Zara from "
                  "Acme about {{CASE_NUMBER}}. Press 9 to stop these calls.",
                  "--prompt", "You are Zara from Acme.",
                  "--voicemail-message", "Hi {{NAME}}, Zara from Acme here. Please call us back."),
                 ("numbers", "add", "+14155550100"),
                 ("campaign", "create", "Spring", "--agent", "Zara", "--from", "+14155550100",
                  "--max-attempts", "2", "--retry-interval", "30", "--purpose",
                  "informational", "--voicemail", "message"),
                 ("import", tmp_path / "leads.csv")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    with Store(db_path) as st:
        builders.consent_all(st, 1)
    result = cli("start", "--simulate", "--seed", "3", "--sim-profile", tmp_path / "profile.toml")
    assert result.exit_code == 0, result.output
    return tmp_path


def _calls(cli, *args):
    result = cli("calls", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_log_lists_every_call_newest_first_with_filters(cli, ran):
    rows = _calls(cli)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    # Alex 1; Jamie a voicemail, then "call me back tomorrow at 3pm" on the pass and on
    # both callbacks (the pinned lines repeat); Pat 1; Dana 2.
    assert len(rows) == 8
    assert all(r["simulated"] and not r["test"] for r in rows)
    assert all(r["local_time"].endswith(("EST", "EDT")) for r in rows)
    alex = next(r for r in rows if r["lead_name"] == "Alex Chen")
    assert (alex["answered_by"], alex["disposition"], alex["cost_source"]) == (
        "human", "INTERESTED", "estimate")
    assert alex["duration_s"] > 0 and alex["cost"] > 0
    jamie = _calls(cli, "Spring", "--lead", "3")
    assert [(r["kind"], r["disposition"]) for r in jamie] == [
        ("callback:2", "CALLBACK"), ("callback:1", "CALLBACK"), ("pass", "CALLBACK"),
        ("pass", "VOICEMAIL")]
    assert [r["lead_name"] for r in _calls(cli, "--disposition", "opt-out")] == ["Pat Quinn"]
    assert len(_calls(cli, "--limit", "2")) == 2
    assert _calls(cli, "--since", "2099-01-01") == []
    table = cli("calls").stdout
    assert "Alex Chen" in table and "INTERESTED" in table and "sim" in table


def test_show_reads_as_a_conversation(cli, ran):
    alex = next(r for r in _calls(cli) if r["lead_name"] == "Alex Chen")
    data = json.loads(cli("calls", "show", alex["id"], "--json").stdout)
    turns = data["turns_list"]
    assert turns[0]["speaker"] == "agent" and turns[0]["text"].startswith("Hi Alex Chen")
    assert {t["speaker"] for t in turns} == {"agent", "caller"}
    offsets = [t["offset_s"] for t in turns]
    assert offsets == sorted(offsets)
    # Each side is stamped when it began to speak: the agent answers after the caller.
    assert all(b["offset_s"] > a["offset_s"] for a, b in zip(turns, turns[1:]))
    assert data["amd"]["verdict"] == "human" and 0 <= data["amd"]["after_pickup_s"] < 1
    assert data["decided_by"] == next(t["text"] for t in reversed(turns)
                                      if t["speaker"] == "caller")
    assert data["summary"] and data["evidence"]["zones"] == ["America/New_York"]
    assert data["evidence"]["consent_required"] == "any"     # informational
    page = cli("calls", "show", alex["id"]).stdout
    assert "SIMULATED" in page and "caller" in page and "Disposition: INTERESTED" in page
    assert "decided by" in page and "Dial evidence" in page


def test_show_voicemail_callback_and_opt_out(cli, ran):
    rows = _calls(cli)
    by = {(r["lead_name"], r["disposition"]): r["id"] for r in rows if r["kind"] == "pass"}
    vm = json.loads(cli("calls", "show", by[("Jamie Lee", "VOICEMAIL")], "--json").stdout)
    assert vm["voicemail"] == {"left": True, "message": "Hi Jamie Lee, Zara from Acme here. "
                                                        "Please call us back."}
    assert vm["amd"]["verdict"].startswith("machine") and vm["amd"]["after_pickup_s"] > 1
    assert vm["turns_list"][0]["offset_s"] == pytest.approx(vm["amd"]["after_pickup_s"], abs=0.1)
    cb = json.loads(cli("calls", "show", by[("Jamie Lee", "CALLBACK")], "--json").stdout)
    # The appointment this call made, done since: the callback call followed it.
    assert cb["callback"]["status"] == "done" and "3pm" in cb["callback"]["note"]
    assert cb["decided_by"] == "Call me back tomorrow at 3pm"
    # On the page the appointment is at 3pm where Jamie is, and says which zone that is.
    page = " ".join(cli("calls", "show", by[("Jamie Lee", "CALLBACK")]).stdout.split())
    assert re.search(r"Callback: \d{4}-\d\d-\d\d 15:00 E[SD]T \(done\)", page), page
    out = json.loads(cli("calls", "show", by[("Pat Quinn", "OPT_OUT")], "--json").stdout)
    assert out["disposition"] == "OPT_OUT" and out["decided_by"]
    busy = next(r for r in rows if r["lead_name"] == "Dana Diaz" and r["status"] == "busy")
    shown = json.loads(cli("calls", "show", busy["id"], "--json").stdout)
    assert shown["decided_by"] == "the line was busy" and shown["turns_list"] == []


def test_export_jsonl_has_every_call_with_its_turns(cli, ran):
    target = ran / "calls.jsonl"
    result = cli("calls", "export", "--jsonl", target)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == 8 and [r["id"] for r in lines] == sorted(r["id"] for r in lines)
    human = [r for r in lines if r["answered_by"] == "human"]
    assert human and all(r["turns_list"] for r in human)
    stdout = cli("calls", "export", "--jsonl", "-").stdout
    assert len(stdout.splitlines()) == 8


def test_bad_input_says_what_to_fix(cli, ran):
    for args, words in ((("show", "999"), "no call 999"),
                        (("--disposition", "MAYBE"), "not a disposition"),
                        (("--since", "last tuesday"), "not a time"),
                        (("--lead", "77"), "no lead on row 77")):
        result = cli("calls", *args)
        assert result.exit_code in (2, 4) and words in result.output.lower(), result.output


def test_a_demo_conversation_reads_as_one(cli, tmp_path):
    demo = tmp_path / "demo.db"
    assert cli("--db", demo, "demo", db=False).exit_code == 0
    # The demo runs at the wall clock's hour, so which lead is dialed first (and whether
    # it answers) depends on when the test runs: show the first call someone talked on.
    with Store(demo) as st:
        talked = st.scalar("SELECT MIN(id) FROM calls WHERE disposition IN "
                           "('INTERESTED', 'NOT_INTERESTED', 'CALLBACK', 'OPT_OUT')")
    result = cli("--db", demo, "calls", "show", str(talked), db=False)
    assert result.exit_code == 0, result.output
    assert "agent" in result.stdout and "caller" in result.stdout
    assert "Disposition:" in result.stdout and "SIMULATED" in result.stdout


def test_parse_since():
    now = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
    assert review.parse_since("2h", now) == datetime(2026, 3, 3, 13, 0, tzinfo=timezone.utc)
    assert review.parse_since("1w", now).day == 24
    assert review.parse_since("today", now) == datetime(2026, 3, 3, tzinfo=timezone.utc)
    assert review.parse_since("2026-03-01T10:00-05:00", now).hour == 10
    with pytest.raises(InputError):
        review.parse_since("soon", now)



def test_decided_by_names_the_words_or_the_network_fact():
    def row(**kw):
        base = {"disposition": "INTERESTED", "status": "completed", "answered_by": "human",
                "error": None}
        return base | kw

    hello = [{"role": "agent", "text": "Hi"}, {"role": "caller", "text": "Hello?"}]
    assert review.decided_by(row(), hello + [{"role": "caller", "text": "Yes please"}]) == \
        "Yes please"
    assert review.decided_by(row(disposition="NO_ANSWER"), hello) == (
        'the caller only said "Hello?" (one turn or fewer counts as no answer)')
    assert review.decided_by(row(disposition="NO_ANSWER"), hello[:1]) == \
        "nobody spoke after the greeting"
    assert review.decided_by(row(disposition="OPT_OUT"), hello + [
        {"role": "dtmf", "text": "9"}]) == "pressed 9"
    assert review.decided_by(row(disposition="NO_ANSWER", status="busy", answered_by=None),
                             []) == "the line was busy"
    assert "machine_end_beep" in review.decided_by(
        row(disposition="VOICEMAIL", answered_by="machine_end_beep"), [])
    assert review.decided_by(row(disposition=None), hello) is None


def test_show_marks_what_the_caller_heard_and_keypresses(cli, db_path):
    with Store(db_path) as st:
        cid = builders.campaign(st)
        lead = builders.add_leads(st, cid, [{"name": "Alex Chen", "phones": ["+12125550100"]}])[0]
        call = builders.add_call(st, cid, lead, disposition="OPT_OUT", answered_by="human",
                                 turns=1, answered_at="2026-03-03T15:00:00.000Z",
                                 ended_at="2026-03-03T15:00:20.000Z", duration_s=20)
        transcript = [{"role": "agent", "text": "Hi Alex, this is Zara from", "at_s": 0.0,
                       "interrupted": True},
                      {"role": "caller", "text": "Who?", "at_s": 1.5},
                      {"role": "dtmf", "text": "9", "at_s": 6.25},
                      {"role": "agent", "text": "You've been removed.", "at_s": 6.3}]
        with st.tx():
            st.execute("UPDATE calls SET transcript = ?, summary = 'Pressed 9 to opt out.', "
                       "provider = 'twilio' WHERE id = ?", (json.dumps(transcript), call))
    data = json.loads(cli("calls", "show", call, "--json").stdout)
    assert [t["speaker"] for t in data["turns_list"]] == ["agent", "caller", "keypress", "agent"]
    assert data["turns_list"][0]["interrupted"] is True
    assert data["turns_list"][2]["at"] == "2026-03-03T15:00:06.250Z"
    assert data["decided_by"] == "pressed 9" and not data["simulated"]
    page = cli("calls", "show", call).stdout
    assert "the caller heard only this" in page and "keypress" in page
    assert "0:06.2" in page and "SIMULATED" not in page


def test_a_calls_local_times_are_each_said_once():
    """Adak and Honolulu both read 10:00 HST, Anchorage and Juneau 11:00 AKST: the
    call's header says each local time once."""
    from dialcli.cli.calls import _distinct_local, _short_local

    text = ("2026-12-15 10:00 HST; 2026-12-15 11:00 AKST; 2026-12-15 11:00 AKST; "
            "2026-12-15 10:00 HST")
    assert _distinct_local(text) == ["2026-12-15 10:00 HST", "2026-12-15 11:00 AKST"]
    assert _short_local("2026-12-15 10:00 HST; 2026-12-15 10:00 HST", None, False) == \
        "12-15 10:00 HST"
