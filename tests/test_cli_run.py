"""CLI tests for start, resume, pause, restart, status and demo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import builders
from dialcli.store import Store

DIALCLI = [sys.executable, "-m", "dialcli"]


def workspace(db_path, n=6, **kw):
    """Campaign 'Spring' with ``n`` New York leads, one phone each."""
    with builders.workspace(db_path) as store:
        return builders.campaign(store, "Spring", **kw, leads=[
            {"name": f"Lead {i}", "phones": [f"+1212555{100 + i:04d}"]} for i in range(n)])


def test_start_simulated_runs_to_completion_and_logs_lines(cli, db_path):
    workspace(db_path)
    r = cli("start", "--simulate", "--seed", "3")
    assert r.exit_code == 0, r.output
    assert "completed" in r.stderr
    assert "pass 1:" in r.stdout            # one plain line per lead change when piped
    with Store(db_path) as st:
        assert st.scalar("SELECT status FROM campaigns") == "COMPLETED"
        assert st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
    r = cli("start", "--simulate")
    assert r.exit_code == 1 and "completed" in r.stderr and "restart" in r.stderr


def test_status_json_and_table(cli, db_path):
    workspace(db_path)
    assert cli("start", "--simulate").exit_code == 0
    r = cli("status", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["campaign"] == "Spring" and data["status"] == "COMPLETED"
    assert data["calls_made"] == sum(data["dispositions"].values())
    r = cli("status")                   # piped: field<TAB>value lines, raw numbers
    assert r.exit_code == 0
    first = r.stdout.split("\n# ")[0].splitlines()
    assert first[:2] == ["# Campaign", "Field\tValue"]
    fields = dict(line.split("\t", 1) for line in first[2:])
    assert fields["status"] == "COMPLETED" and fields["calls_made"] == str(data["calls_made"])


def test_pause_resume_and_restart(cli, db_path):
    workspace(db_path)
    r = cli("pause")
    assert r.exit_code == 1 and "draft" in r.stderr.lower()      # nothing to pause yet
    r = cli("resume", "--simulate")
    assert r.exit_code == 2 and "dialcli start" in r.stderr
    assert cli("start", "--simulate").exit_code == 0
    r = cli("restart", "--simulate", "--no-start", input="n\n")
    assert r.exit_code == 2 and "--yes" in r.stderr             # not a terminal: must confirm
    r = cli("restart", "--yes", "--no-start")
    assert r.exit_code == 0 and "run 2" in r.stderr
    assert "dialcli resume Spring" in r.stderr             # how to start it later
    with Store(db_path) as st:
        assert st.scalar("SELECT run FROM campaigns") == 2
        assert st.scalar("SELECT COUNT(*) FROM leads WHERE status = 'PENDING'") == 6
    # status says how a paused campaign continues (stderr for people, a field in JSON).
    r = cli("status")
    assert r.exit_code == 0 and "PAUSED" in r.stdout
    assert "Continue with: dialcli resume Spring" in r.stderr
    assert json.loads(cli("status", "--json").stdout)["hint"] == (
        "Paused. Continue with: dialcli resume Spring")
    r = cli("start", "--simulate")
    assert r.exit_code == 0
    assert "dialcli report Spring" in cli("status").stderr


def test_status_hint_names_the_next_command_for_each_state(cli, db_path):
    workspace(db_path)
    r = cli("status")
    assert r.exit_code == 0 and "dialcli start Spring" in r.stderr            # a draft
    with Store(db_path) as st:
        st.execute("UPDATE campaigns SET name = 'Spring outreach'")
    # A name with a space is quoted, so the hint can be pasted as it is.
    assert "dialcli start 'Spring outreach'" in cli("status").stderr
    assert cli("pause").exit_code == 1                      # a draft cannot be paused
    assert cli("start", "--simulate").exit_code == 0
    hint = json.loads(cli("status", "--json").stdout)["hint"]
    assert hint.startswith("Completed.") and "dialcli restart 'Spring outreach'" in hint


def test_bad_options_are_usage_errors(cli, db_path):
    workspace(db_path)
    r = cli("start", "--speed", "2")
    assert r.exit_code == 2 and "--simulate" in r.stderr
    r = cli("start", "--simulate", "--speed", "0")
    assert r.exit_code == 2
    r = cli("start", "--simulate", "--sim-profile", "missing.toml")
    assert r.exit_code == 2 and "does not exist" in r.stderr
    r = cli("start", "Nope", "--simulate")
    assert r.exit_code == 2 and "Spring" in r.stderr
    r = cli("start")                          # live without credentials: says how to fix
    assert r.exit_code == 2 and "TWILIO_ACCOUNT_SID" in r.stderr and "--simulate" in r.stderr
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM calls") == 0
        assert st.scalar("SELECT status FROM campaigns") == "DRAFT"


def test_sim_profile_pins_a_script(cli, db_path, tmp_path):
    workspace(db_path, n=1)
    profile = tmp_path / "p.toml"
    profile.write_text('[[numbers]]\nnumber = "+12125550100"\nattempts = ["human"]\n'
                       'lines = ["Yes, speaking", "Please remove me from your list"]\n')
    r = cli("start", "--simulate", "--sim-profile", profile)
    assert r.exit_code == 0, r.output
    with Store(db_path) as st:
        assert st.scalar("SELECT disposition FROM calls") == "OPT_OUT"
        assert st.scalar("SELECT status FROM leads") == "OPTED_OUT"
    bad = tmp_path / "bad.toml"
    bad.write_text("[outcomes]\nhuman = 'lots'\n")
    r = cli("restart", "--yes", "--simulate", "--sim-profile", bad)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_second_start_is_refused_while_one_runs(db_path, tmp_path):
    workspace(db_path, n=60, max_concurrent=2)
    env = {**os.environ, "DIALCLI_DB": str(db_path)}
    first = subprocess.Popen(DIALCLI + ["start", "--simulate", "--speed", "20"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:           # wait until it holds the lease
            with Store(db_path) as st:
                if st.scalar("SELECT lease_owner FROM campaigns"):
                    break
            time.sleep(0.1)
        second = subprocess.run(DIALCLI + ["start", "--simulate"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr and "already running" in second.stderr
        paused = subprocess.run(DIALCLI + ["pause"], env=env, capture_output=True, text=True,
                                timeout=60)
        assert paused.returncode == 0 and "Pausing" in paused.stderr
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
        assert "paused" in err
    finally:
        if first.poll() is None:
            first.kill()
    with Store(db_path) as st:
        assert st.scalar("SELECT status FROM campaigns") == "PAUSED"
        assert st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
        assert st.scalar("SELECT lease_owner FROM campaigns") is None


def test_ctrl_c_pauses_lets_calls_finish_and_exits_130(db_path):
    workspace(db_path, n=60, max_concurrent=3)
    env = {**os.environ, "DIALCLI_DB": str(db_path)}
    proc = subprocess.Popen(DIALCLI + ["start", "--simulate", "--speed", "20"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        with Store(db_path) as st:
            if st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NOT NULL"):
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Pausing" in err and "resume" in err and "Traceback" not in err
    with Store(db_path) as st:
        assert st.scalar("SELECT status FROM campaigns") == "PAUSED"
        assert st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
        assert st.scalar("SELECT COUNT(*) FROM leads WHERE status = 'DIALING'") == 0


def test_demo_builds_and_runs_the_example_campaign(cli, tmp_path):
    r = cli("demo", "--demo-db", tmp_path / "demo.db", db=False)
    assert r.exit_code == 0, r.output
    assert "No real calls" in r.stderr and "completed" in r.stderr
    assert f"dialcli --db {tmp_path / 'demo.db'} report" in r.stderr     # where to look next
    # The leads it says lack written consent are the ones start then warns of; a state's
    # ban is named apart (no record lifts it).
    lacking = re.search(r"(\d+) lacks? the written consent", r.stderr)
    warned = re.search(r"Warning: (\d+) waiting lead\(s\) have no number with prior express "
                       r"written consent", r.stderr)
    assert lacking and warned and lacking.group(1) == warned.group(1), r.stderr
    assert re.search(r"1 lives in a state whose law stops.*Emma Wilson \(state rule WA", r.stderr)
    with Store(tmp_path / "demo.db") as st:
        assert st.scalar("SELECT COUNT(*) FROM leads") >= 25
        assert st.scalar("SELECT status FROM campaigns") == "COMPLETED"
        assert st.scalar("SELECT COUNT(*) FROM leads WHERE status IN "
                         "('PENDING', 'RETRY', 'DIALING', 'CALLBACK')") == 0
    # Recreated each time; the global --db names the same file as --demo-db.
    r = cli("--db", tmp_path / "demo.db", "demo", db=False)
    assert r.exit_code == 0
    with Store(tmp_path / "demo.db") as st:
        assert st.scalar("SELECT COUNT(*) FROM campaigns") == 1


def test_demo_uses_the_global_db_and_never_replaces_other_work(cli, tmp_path, monkeypatch):
    real = tmp_path / "work.db"
    workspace(real)
    monkeypatch.setenv("DIALCLI_DB", str(real))       # the user's own workspace
    before = real.read_bytes()
    # Without --db the demo builds ./dialcli-demo.db, not $DIALCLI_DB.
    r = cli("demo", db=False)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "dialcli-demo.db").exists() and real.read_bytes() == before
    # --db names the demo's file ...
    r = cli("--db", tmp_path / "try.db", "demo", db=False)
    assert r.exit_code == 0 and f"--db {tmp_path / 'try.db'} status" in r.stderr
    with Store(tmp_path / "try.db") as st:
        assert st.scalar("SELECT status FROM campaigns") == "COMPLETED"
    # ... but a file that is not a demo workspace is refused, not wiped and rebuilt.
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for target in (real, notes):
        r = cli("--db", target, "demo", db=False)
        assert r.exit_code == 2 and "not a demo workspace" in r.stderr, r.output
    assert real.read_bytes() == before and notes.read_text() == "my notes\n"
    r = cli("--db", tmp_path / "a.db", "demo", "--demo-db", tmp_path / "b.db", db=False)
    assert r.exit_code == 2 and "name one" in r.stderr
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


def test_the_dashboard_clock_names_its_zone(monkeypatch):
    """'simulated time Tue 03-03 07:00:00 PST': the clock says which zone it is in."""
    import time as time_mod
    from datetime import datetime, timezone

    from dialcli.cli.ui import status_line
    from dialcli.engine.types import Snapshot

    snap = Snapshot(campaign="Spring", status="RUNNING",
                    now=datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc), run=1, pass_no=1,
                    max_passes=3, next_pass_at=None, calls_made=1_234, reached=0, interested=0,
                    opted_out=0, in_flight=0, minutes=0, cost=0.0, dispositions={},
                    leads_by_status={}, recent_leads=[], recent_events=[], virtual=True)
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time_mod.tzset()
    try:
        assert "simulated time Tue 03-03 07:00:00 PST" in status_line(snap).plain
        snap.virtual = False
        snap.now = datetime(2026, 7, 7, 15, 0, tzinfo=timezone.utc)
        assert "now Tue 07-07 08:00:00 PDT" in status_line(snap).plain
    finally:
        monkeypatch.undo()
        time_mod.tzset()
