"""``dialcli agent test`` and ``dialcli agent try``: an agent's regression suite and a
terminal conversation, through the brain a live call uses."""

from __future__ import annotations

import json
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
