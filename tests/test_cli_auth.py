"""Secrets in the OS keyring (issue 20, item 6): ``dialcli auth login/status/logout``
through the real ``keyring`` API (a file-backed backend in tests, selected with
PYTHON_KEYRING_BACKEND as a user selects any), the 0600 file where no keyring exists,
environment variables winning, and ``webhooks add --secret -`` reading stdin.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from typer.testing import CliRunner

from builders import run_in_pty, workspace
from dialcli import credstore
from dialcli.cli.app import app
from dialcli.config import LLMSettings, TwilioCredentials, scrub

ROOT = Path(__file__).resolve().parents[1]
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "tok" + "9f8e7d6c5b4a" * 2


def run(*args, input=None, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input, env=env,
                              catch_exceptions=False)


@pytest.fixture
def no_keyring():
    """A system with no keyring backend (a headless Linux box)."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    credstore.forget()
    yield
    keyring.set_keyring(before)
    credstore.forget()


def test_login_round_trips_through_the_keyring(tmp_path):
    r = run("auth", "login", "--sid", SID, input=TOKEN + "\n")
    assert r.exit_code == 0, r.output
    assert "keyring (file_keyring FileKeyring)" in " ".join(r.stderr.split())
    assert TOKEN not in r.output
    stored = json.loads((tmp_path / "test-keyring.json").read_text())
    assert stored == {"dialcli/TWILIO_ACCOUNT_SID": SID, "dialcli/TWILIO_AUTH_TOKEN": TOKEN}
    assert not credstore.file_path().exists()             # the keyring, not the file
    credstore.forget()
    creds = TwilioCredentials.from_env()
    assert creds.account_sid == SID and creds.auth_token.reveal() == TOKEN
    # Once read, the stored token is scrubbed from anything printed.
    assert scrub(f"echo {TOKEN}") == "echo ****"
    status = run("auth", "status", "--json")
    assert status.exit_code == 0 and TOKEN not in status.stdout and SID not in status.stdout
    rows = {c["name"]: c for c in json.loads(status.stdout)["credentials"]}
    assert rows["TWILIO_AUTH_TOKEN"]["source"].startswith("keyring")
    assert rows["DIALCLI_LLM_API_KEY"]["set"] is False


def test_environment_variables_win(monkeypatch):
    assert run("auth", "login", "--sid", SID, input=TOKEN + "\n").exit_code == 0
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-env-token-123456")
    credstore.forget()
    assert TwilioCredentials.from_env().auth_token.reveal() == "from-env-token-123456"
    rows = {c["name"]: c for c in json.loads(run("auth", "status", "--json").stdout)["credentials"]}
    assert rows["TWILIO_AUTH_TOKEN"]["source"] == "environment (TWILIO_AUTH_TOKEN)"
    assert rows["TWILIO_ACCOUNT_SID"]["source"].startswith("keyring")
    again = run("auth", "login", "--sid", SID, input=TOKEN + "\n")
    assert "wins over what was stored" in " ".join(again.stderr.split())


def test_no_keyring_falls_back_to_a_private_file_and_says_so(no_keyring, tmp_path):
    r = run("auth", "login", "--sid", SID, input=TOKEN + "\n")
    assert r.exit_code == 0, r.output
    said = " ".join(r.stderr.split())
    assert "no keyring available" in said and str(tmp_path / "credentials.json") in said
    path = tmp_path / "credentials.json"                  # $DIALCLI_HOME is tmp_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["TWILIO_AUTH_TOKEN"] == TOKEN
    credstore.forget()
    assert TwilioCredentials.from_env().auth_token.reveal() == TOKEN
    status = run("auth", "status")
    assert "Keyring: none on this system" in " ".join(status.stderr.split())
    out = run("auth", "logout")
    assert out.exit_code == 0 and not path.exists()
    credstore.forget()
    with pytest.raises(Exception, match="Twilio credentials are missing"):
        TwilioCredentials.from_env()


def test_llm_key_login_enables_the_llm_and_logout_removes_only_it():
    assert run("auth", "login", "--sid", SID, input=TOKEN + "\n").exit_code == 0
    r = run("auth", "login", "--llm", input="sk-stored-llm-key-0123456789\n")
    assert r.exit_code == 0 and "sk-stored" not in r.output
    credstore.forget()
    settings = LLMSettings.from_env()
    assert settings is not None and settings.api_key.reveal() == "sk-stored-llm-key-0123456789"
    assert run("auth", "logout", "--llm").exit_code == 0
    credstore.forget()
    assert LLMSettings.from_env() is None
    assert TwilioCredentials.from_env().auth_token.reveal() == TOKEN


@pytest.mark.parametrize("args, stdin, message", [
    (["--sid", "AC123"], TOKEN, "does not look like an Account SID"),
    (["--sid", SID], "", "No Twilio auth token given"),
    ([], TOKEN, "--sid"),
    (["--llm"], "two words", "contains spaces"),
])
def test_login_rejects_bad_input_and_stores_nothing(tmp_path, args, stdin, message):
    r = run("auth", "login", *args, input=stdin + "\n")
    assert r.exit_code == 2 and message in " ".join(r.stderr.split())
    assert not (tmp_path / "test-keyring.json").exists()


def test_login_on_a_terminal_hides_the_token(tmp_path):
    env = {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tests'}"}
    # "auth token: " with its space: the space is written by getpass once echo is off.
    rc, shown = run_in_pty(["auth", "login"], cwd=tmp_path, env=env,
                           answers=[("Account SID: ", SID), ("auth token: ", TOKEN)])
    assert rc == 0, shown
    assert TOKEN not in shown and "Stored Twilio Account SID" in shown
    stored = json.loads((tmp_path / "test-keyring.json").read_text())
    assert stored["dialcli/TWILIO_AUTH_TOKEN"] == TOKEN


def test_webhooks_add_reads_the_secret_from_stdin(tmp_path):
    workspace(tmp_path).close()
    secret = "whsec_from_stdin_0123456789abcdef"
    r = run("webhooks", "add", "https://example.com/hook", "--secret", "-", "--json",
            input=secret + "\n")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["secret"] == secret
    r = run("webhooks", "add", "https://example.com/other", "--secret", "-", input="")
    assert r.exit_code == 2 and "reads one line from stdin" in r.stderr
    r = run("webhooks", "add", "https://example.com/third", "--secret", secret + "x")
    assert r.exit_code == 0 and "--secret -" in " ".join(r.stderr.split())
    with workspace(tmp_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM webhook_subscriptions") == 2
