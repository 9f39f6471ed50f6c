"""``dialcli agent test`` and ``dialcli agent try``: an agent's regression suite and a
terminal conversation, through the brain a live call uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dialcli.conversation.evaluate import read_cases
from dialcli.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "dialcli" / "data" / "examples"
NOW = ["--now", "2026-03-04T10:00", "--tz", "America/New_York"]


@pytest.fixture(autouse=True)
def no_llm(monkeypatch):
    for var in ("DIALCLI_LLM_BASE_URL", "DIALCLI_LLM_MODEL", "DIALCLI_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def zara(cli):
    r = cli("agent", "create", "Zara", "--greeting-file", EXAMPLES / "agent-greeting.txt",
            "--prompt-file", EXAMPLES / "agent-prompt.txt")
    assert r.exit_code == 0, r.output
    return "Zara"


def write(tmp_path, text, name="cases.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_passes_even_where_there_is_no_examples_folder(cli, zara, tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)                 # a fresh install: no examples/ here
    r = cli("agent", "test", zara, "examples/agent-tests.csv")
    assert r.exit_code == 0, r.output
    assert "29 of 29 cases passed" in r.output
    assert "shipped example" in r.output


def test_json_is_one_object_per_case_with_local_callback_times(cli, zara, tmp_path):
    cases = write(tmp_path, "caller,expected,callback_at\n"
                            "call me back tomorrow at 3,CALLBACK,2026-03-05 15:00\n"
                            "after lunch would be better,CALLBACK,2026-03-04 13:00..2026-03-04 14:00\n"
                            "why do you keep calling | yes,OPT_OUT,\n"
                            "who is this,CONTINUE,\n")
    r = cli("agent", "test", zara, cases, "--json", "--lead-name", "Maria Lopez", *NOW)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [row["got"] for row in rows] == ["CALLBACK", "CALLBACK", "OPT_OUT", "CONTINUE"]
    assert rows[0]["callback_at"] == "2026-03-05T15:00"
    assert rows[1]["callback_at"] == "2026-03-04T13:00"
    assert rows[2]["callback_at"] is None and all(row["pass"] for row in rows)
    assert set(rows[0]) >= {"caller", "expected", "got", "callback_at", "pass"}


def test_a_failing_case_exits_1_and_says_why(cli, zara, tmp_path):
    cases = write(tmp_path, "caller,expected,callback_at\n"
                            "stop calling me,OPT_OUT,\n"
                            "call me tomorrow at 3,CALLBACK,2026-03-05 16:00\n"
                            "yes,INTERESTED,\n")
    r = cli("agent", "test", zara, cases, *NOW)
    assert r.exit_code == 1
    assert "1 of 3 cases passed, 2 failed" in r.output
    assert "expected 2026-03-05 16:00" in r.output
    r = cli("agent", "test", zara, cases, "--json", *NOW)
    assert r.exit_code == 1
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [row["pass"] for row in rows] == [True, False, False]
    assert rows[2]["got"] == "CONTINUE"


def test_a_keypress_turn(cli, zara, tmp_path):
    cases = write(tmp_path, "caller,expected\nhello? | /9,OPT_OUT\n")
    assert cli("agent", "test", zara, cases, *NOW).exit_code == 0


@pytest.mark.parametrize("text, message", [
    ("line,outcome\nhi,CONTINUE\n", "header row with the columns caller and expected"),
    ("caller,expected\nhi,MAYBE\n", "Line 2: expected 'MAYBE' is not an outcome"),
    ("caller,expected,callback_at\nhi,CALLBACK,tomorrow\n", "is not a local time"),
    ("caller,expected,callback_at\nhi,OPT_OUT,2026-03-05 15:00\n", "only checked for CALLBACK"),
    ("caller,expected\n,OPT_OUT\n", "the caller column is empty"),
    ("caller,expected\n", "has no cases"),
    ("caller,expected,callback_at\nx,CALLBACK,2026-03-05 15:00..2026-03-05 14:00\n", "ends before"),
])
def test_bad_cases_files_are_refused_clearly(cli, zara, tmp_path, text, message):
    r = cli("agent", "test", zara, write(tmp_path, text), *NOW)
    assert r.exit_code == 2
    assert message in " ".join(r.output.split())
    with pytest.raises(InputError):
        read_cases(tmp_path / "cases.csv")


def test_bad_options_are_refused(cli, zara, tmp_path):
    cases = write(tmp_path, "caller,expected\nhi,CONTINUE\n")
    assert cli("agent", "test", zara, cases, "--tz", "Mars/Base").exit_code == 2
    assert cli("agent", "test", zara, cases, "--now", "yesterday").exit_code == 2
    assert cli("agent", "test", "Nobody", cases).exit_code == 2
    assert cli("agent", "test", zara, tmp_path / "missing.csv").exit_code == 2


def test_try_talks_until_the_call_ends_and_shows_the_outcome(cli, zara):
    r = cli("agent", "try", zara, "--lead-name", "Maria Lopez", "--tz", "America/New_York",
            input="who is this?\nI'm busy, call me back tomorrow at 3\n")
    assert r.exit_code == 0, r.output
    assert "agent> Hi Maria Lopez, this is Zara" in r.output
    assert "This is Zara" in r.output
    assert "Disposition: CALLBACK" in r.output
    assert "Callback:" in r.output and "15:00" in r.output


def test_try_keypress_and_hangup(cli, zara):
    r = cli("agent", "try", zara, input="/9\n")
    assert "Disposition: OPT_OUT" in r.output
    r = cli("agent", "try", zara, input="hello?\n/hangup\n")
    assert r.exit_code == 0
    assert "without an outcome" in r.output


def test_agent_test_uses_the_llm_when_one_is_configured(cli, zara, tmp_path, monkeypatch):
    from fakes.fake_llm import FakeLLM, reply, tool_call

    with FakeLLM() as llm:
        monkeypatch.setenv("DIALCLI_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("DIALCLI_LLM_MODEL", "fake-model")
        llm.enqueue(reply("Happy to help. Shall I have someone follow up?"),
                    tool_call("INTERESTED", "Wants a follow-up.", text=["Great, thank you!"]),
                    tool_call("CALLBACK", "Busy.", "2026-03-05T15:00", text=["Talk then."]))
        cases = write(tmp_path, "caller,expected,callback_at\n"
                                "stop calling me,OPT_OUT,\n"          # the guard: no request
                                "tell me more | yes,INTERESTED,\n"
                                "busy now call me tomorrow,CALLBACK,2026-03-05 15:00\n")
        r = cli("agent", "test", zara, cases, "--json", *NOW)
        assert r.exit_code == 0, r.output
        rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        assert [row["got"] for row in rows] == ["OPT_OUT", "INTERESTED", "CALLBACK"]
        assert rows[2]["callback_at"] == "2026-03-05T15:00"
        assert len(llm.chat_requests) == 3          # the opt-out never reached the model
        assert "LLM fake-model" in r.output
        systems = [q.json["messages"][0]["content"] for q in llm.chat_requests]
        assert systems and all("Wednesday 4 March 2026, 10:00" in s for s in systems)


def test_try_renders_the_agent_for_a_lead_of_a_campaign(cli, store):
    import builders

    builders.campaign(store, "Spring", greeting="Hi {{NAME}}, this is Zara from Acme about "
                      "case {{CASE}}. Do you have a minute?",
                      leads=[{"name": "Ann Lee", "phones": ["+14155550101"], "vars": {"CASE": "A1"},
                              "timezone": "America/Los_Angeles"},
                             {"name": "Bo Chen", "phones": ["+14155550102"], "vars": {"CASE": "B2"},
                              "timezone": "America/New_York"}])
    r = cli("agent", "try", "Zara", "--lead", "2", input="call me tomorrow at 3\n")
    assert r.exit_code == 0, r.output
    assert "agent> Hi Bo Chen, this is Zara from Acme about case B2." in r.output
    assert "Disposition: CALLBACK" in r.output and re.search(r"15:00 E[SD]T", r.output)
    r = cli("agent", "try", "Zara", "--lead", "9", input="/hangup\n")
    assert r.exit_code == 2


def test_try_reads_times_in_the_zone_of_the_leads_phone(cli, store):
    # No time zone column: the engine reads a callback time in the zone of the lead's
    # phone, and so does try (it said 15:00 UTC, five hours early for Chicago).
    import builders

    builders.campaign(store, "Spring", leads=[{"name": "Priya Patel", "phones": ["+13125550103"]}])
    r = cli("agent", "try", "Zara", "--lead", "1", input="call me tomorrow at 3\n")
    assert r.exit_code == 0, r.output
    assert "Disposition: CALLBACK" in r.output and re.search(r"15:00 C[SD]T", r.output), r.output


def test_piped_results_are_one_tab_separated_line_per_case(tmp_path):
    """Piped, the results table is TSV with a header (grep FAIL finds the failing cases)
    and the agent's last line whole; the callback time names its zone."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cases = tmp_path / "cases.csv"
    cases.write_text("caller,expected,callback_at\n"
                     "call me back tomorrow at 3 please,CALLBACK,\n"
                     "yes I'm very interested tell me more,NOT_INTERESTED,\n")
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "COLUMNS": "80"}
    subprocess.run([sys.executable, "-m", "dialcli", "agent", "create", "Zara", "--greeting",
                    "Hi {{NAME}}, this is Zara from Acme Solar about your quote. Press 9 to "
                    "stop these calls. Do you have a minute?", "--prompt", "You are Zara from Acme Solar."],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True)
    proc = subprocess.run([sys.executable, "-m", "dialcli", "agent", "test", "Zara", str(cases),
                           "--now", "2026-03-03T15:00:00Z", "--tz", "America/New_York"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split("\t")[:5] == ["Line", "Result", "Caller", "Expected", "Got"]
    assert len(lines) == 3 and all(line.count("\t") == 6 for line in lines)
    assert [line.split("\t")[1] for line in lines[1:]] == ["PASS", "FAIL"]
    callback = lines[1].split("\t")[5]
    assert callback.startswith("Wed 03-04 15:00") and callback.endswith("EST")
    assert not any(ch in proc.stdout for ch in "│━─…")
