"""The Twilio auth token and the LLM keys never leave the environment.

A full run through every path that touches them: a live campaign over the fake
Twilio (placed through the real ``twilio`` client with HTTP Basic auth, callbacks
signed with the token) with the LLM brain on the fake LLM -- including an LLM that
answers 401 echoing the key, a 500 and a malformed stream that carry it, a Twilio
refusal whose message echoes the token, and an auth failure that pauses the
campaign -- then a simulated campaign on the same LLM (the simulator's journal),
``doctor`` (whose LLM check is refused with the key echoed), ``report --json``,
``report --csv`` (leads and calls), ``status --json``, ``plan``, ``audit --csv``,
webhook delivery to a real receiver, and commands that fail.

Then everything is scanned for each secret and its usual encodings (base64 of
``sid:token`` as in Basic auth, base64, URL-quoting, JSON escaping, any 12-character
run of its random part): the database file and its WAL, every file in the
workspace folder, everything the commands printed (CliRunner and the process's own
file descriptors, where server threads write), every log record (message, args and
formatted traceback), the webhook payloads and headers, and the messages of the
errors the provider and the brain raise.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import sqlite3
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from dialcli.cli.app import app
from fakes.webhook_receiver import Receiver
from fakes.fake_llm import FakeLLM, garbage, http_error, tool_call
from fakes.fake_twilio import FakeTwilio, Scenario, hangup, say
from builders import awake_phone

RUN = uuid.uuid4().hex[:8]       # names this run's URLs; shares nothing with the secrets
TOKEN = f"twiliotok{uuid.uuid4().hex[:24]}"
LLM_KEY = f"llmkey{uuid.uuid4().hex[:24]}"
OPENAI_KEY = f"sk-proj-{uuid.uuid4().hex[:24]}"
SECRETS = {"TWILIO_AUTH_TOKEN": TOKEN, "DIALCLI_LLM_API_KEY": LLM_KEY, "OPENAI_API_KEY": OPENAI_KEY}
ACCOUNT = "AC" + uuid.uuid4().hex
FROM = "+14155550100"


def leak_patterns() -> dict[str, bytes]:
    """Every form in which a secret could leak, as bytes to search for."""
    out: dict[str, bytes] = {}
    for name, secret in SECRETS.items():
        raw = secret.encode()
        out[name] = raw
        out[f"{name} base64"] = base64.b64encode(raw)
        out[f"{name} base64url"] = base64.urlsafe_b64encode(raw).rstrip(b"=")
        out[f"{name} quoted"] = quote(secret, safe="").encode()
        out[f"{name} json"] = json.dumps(secret).encode()[1:-1]
        random_part = secret[-24:]
        for i in range(0, len(random_part) - 12 + 1, 4):
            out[f"{name} fragment {i}"] = random_part[i:i + 12].encode()
    basic = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode())
    out["Basic auth"] = basic
    out["Basic auth (tail)"] = basic[-24:]
    out["Bearer"] = f"Bearer {LLM_KEY}".encode()
    return out


PATTERNS = leak_patterns()


def leaks(blob: bytes | str, where: str) -> list[str]:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    return [f"{name} in {where}" for name, p in PATTERNS.items() if p in data]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def world(monkeypatch, tmp_path):
    with FakeTwilio(account_sid=ACCOUNT, auth_token=TOKEN) as twilio, \
            FakeLLM(default=tool_call("INTERESTED", "wants details",
                                      text=["Great, thank you. "])) as llm:
        receiver = Receiver().start()
        port = free_port()
        public = f"https://secrets-{RUN}.tunnel.example"
        twilio.tunnel[public] = f"http://127.0.0.1:{port}"
        twilio.add_number(FROM)
        env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_API_BASE": twilio.base_url,
               "DIALCLI_LLM_BASE_URL": llm.base_url, "DIALCLI_LLM_MODEL": "fake-model",
               "DIALCLI_PUBLIC_URL": public, **SECRETS}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        try:
            yield {"twilio": twilio, "llm": llm, "receiver": receiver, "port": port,
                   "public": public, "db": tmp_path / "work" / "dialcli.db", "dir": tmp_path}
        finally:
            receiver.stop()


class Session:
    """Runs CLI commands and keeps everything they printed."""

    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()
        self.printed: list[tuple[str, str]] = []

    def __call__(self, *args, expect=(0,)):
        argv = ["--db", str(self.db), *[str(a) for a in args]]
        r = self.runner.invoke(app, argv, catch_exceptions=False)
        self.printed.append((" ".join(argv), r.output))
        assert r.exit_code in expect, (args, r.exit_code, r.output[-3000:])
        assert "Traceback" not in r.output
        return r


def ny(i: int) -> str:
    """Number i in a zone where it is the middle of the day now (the run is real-time)."""
    return awake_phone(i)[0]


def test_no_secret_reaches_disk_output_logs_or_errors(world, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    twilio, llm, receiver = world["twilio"], world["llm"], world["receiver"]
    work = world["db"].parent
    work.mkdir()
    cli = Session(world["db"])

    # -- a workspace, through the CLI ------------------------------------------------------
    (work / "greeting.txt").write_text("Hi {{NAME}}, this is Zara from Acme about case "
                                       "{{CASE_NUMBER}}. Press 9 to opt out.")
    cli("agent", "create", "Zara", "--greeting-file", work / "greeting.txt",
        "--prompt", "You are Zara from Acme. Be brief.",
        "--voicemail-message", "Please call Acme back, {{NAME}}.")
    cli("numbers", "add", FROM)
    # A connection held open for the whole run keeps the WAL file on disk (SQLite
    # removes it when the last connection closes), so the scan reads it too.
    keep_wal = sqlite3.connect(world["db"])
    keep_wal.execute("SELECT COUNT(*) FROM agents").fetchone()
    cli("numbers", "sync")
    cli("campaign", "create", "Spring", "--agent", "Zara", "--from", FROM,
        "--purpose", "informational",
        "--max-attempts", "1", "--max-concurrent", "1", "--voicemail", "message")
    zone = awake_phone(0)[1]
    rows = ["name,phone1,timezone,case number,consent_at,consent_type"]
    for i in range(1, 7):
        rows.append(f"Lead {i},{ny(i)},{zone},CASE-{i},2026-01-02,express")
    rows.append("Bad row,not-a-phone,,CASE-X,,")            # a reject file too
    (work / "leads.csv").write_text("\n".join(rows) + "\n")
    cli("import", work / "leads.csv", "--campaign", "Spring")
    cli("webhooks", "add", receiver.url)

    # -- what happens on the calls -------------------------------------------------------------
    twilio.script(ny(1), Scenario(lines=[say("Hello? Who is this?"),
                                         say("Okay, I'm interested, tell me more")]))
    twilio.script(ny(2), Scenario(lines=[say("Hi"), say("Sounds good"), hangup()]))
    twilio.script(ny(3), Scenario(answer="machine"))
    twilio.script(ny(4), Scenario(answer="no-answer"))
    twilio.fail_creates(21211, to=ny(5), message=f"Invalid 'To' number (auth {TOKEN})")
    twilio.fail_creates(20003, to=ny(6), status=401,
                        message=f"Authenticate: {base64.b64encode(f'{ACCOUNT}:{TOKEN}'.encode()).decode()}")
    llm.enqueue(
        http_error(401, f"Incorrect API key provided: {LLM_KEY}. Find your key at ..."),
        http_error(500, f"upstream failure for key={LLM_KEY} / {OPENAI_KEY}"),
        garbage(f"data: {{\"oops\": \"{LLM_KEY}\"\n\n"),
    )

    # Lead 6's create is refused with an auth error: the campaign pauses (exit 3);
    # after "fixing" it, resume finishes the list.
    first = cli("start", "Spring", "--port", world["port"], expect=(0, 3))
    if first.exit_code == 3:
        cli("resume", "Spring", "--port", world["port"], expect=(0, 3))
    assert twilio.wait_idle(30)

    # -- a simulated campaign on the same LLM (the simulator's journal) -----------------------
    llm.enqueue(http_error(401, f"Incorrect API key provided: {LLM_KEY}"))
    cli("campaign", "create", "Rehearsal", "--agent", "Zara", "--from", FROM, "--max-attempts", "1",
        "--purpose", "informational")
    (work / "sim.csv").write_text("name,phone1,consent_at,consent_type\n"
                                  "Sim One,+12125550141,2026-01-02,written\n"
                                  "Sim Two,+12125550142,2026-01-02,written\n"
                                  "Sim Three,+12125550143,2026-01-02,written\n")
    cli("import", work / "sim.csv", "--campaign", "Rehearsal")
    cli("start", "Rehearsal", "--simulate", "--seed", "3", expect=(0,))

    # -- everything that reads or reports ---------------------------------------------------------
    llm.enqueue(http_error(401, f"Incorrect API key provided: {LLM_KEY}"))
    doctor_port = free_port()
    cli("doctor", "Spring", "--public-url", f"http://127.0.0.1:{doctor_port}",
        "--port", doctor_port, "--json", expect=(0, 1, 3))
    cli("status", "Spring", "--json")
    cli("report", "Spring", "--json")
    cli("report", "Spring", "--csv", work / "leads-out.csv")
    cli("report", "Spring", "--csv", work / "calls-out.csv", "--calls")
    cli("report", "Spring", "--csv", "-")
    cli("plan", "Spring", "--json")
    cli("audit", "Spring", "--csv", work / "audit.csv")
    cli("webhooks", "deliver", "--max-seconds", "5")
    cli("webhooks", "test")
    cli("webhooks", "list", "--json")
    # ... and commands that fail.
    cli("start", "Nope", expect=(2,))
    cli("import", work / "missing.csv", expect=(2,))
    cli("agent", "create", "Bad", "--greeting", "{{ cycler.__init__.__globals__ }}",
        "--prompt", "p", expect=(2,))

    # -- the provider's and the brain's own errors --------------------------------------------
    errors = _provider_and_brain_errors()

    time.sleep(0.5)           # late log lines from server threads
    found: list[str] = []
    calls = _all(world["db"], "SELECT * FROM calls")
    assert len(calls) >= 8 and any(c["disposition"] == "INTERESTED" for c in calls), calls
    # The echoes really went through the code that scrubs them.
    assert any("****" in (c["error"] or "") for c in calls), [c["error"] for c in calls]
    notes = [u["text"] for c in calls for u in json.loads(c["transcript"] or "[]")
             if u["role"] == "system"]
    assert any("HTTP 401" in n and "****" in n for n in notes), notes
    assert first.exit_code == 3 and "20003" in first.stderr, first.output[-2000:]
    assert receiver.hits, "webhooks were delivered"

    scanned = sorted(p for p in world["dir"].rglob("*") if p.is_file())
    names = {p.name for p in scanned}
    assert {"dialcli.db", "dialcli.db-wal", "dialcli.db-simnet.jsonl"} <= names, names
    for path in scanned:
        found += leaks(path.read_bytes(), f"file {path.relative_to(world['dir'])}")
    keep_wal.close()
    found += leaks(world["db"].read_bytes(), "the database after its last checkpoint")
    for argv, output in cli.printed:
        found += leaks(output, f"output of `{argv}`")
    out, err = capfd.readouterr()
    found += leaks(out, "process stdout") + leaks(err, "process stderr")
    formatter = logging.Formatter("%(name)s %(message)s")
    for record in caplog.records:
        text = formatter.format(record) + repr(record.args)
        if record.exc_info:
            text += formatter.formatException(record.exc_info)
        found += leaks(text, f"log record {record.name}")
    for hit in receiver.hits:
        found += leaks(hit.body + repr(hit).encode(), "webhook delivery")
    for text in errors:
        found += leaks(text, "an exception message")
    assert not found, sorted(set(found))
    # The scan would see a leak: each secret was really in play.
    assert llm.chat_requests and all(r.headers.get("authorization") == f"Bearer {LLM_KEY}"
                                     for r in llm.chat_requests)
    assert any(r[0] == "POST" for r in twilio.requests)


def _all(db: Path, sql: str) -> list[dict]:
    from dialcli.store import Store

    with Store(db) as st:
        return [dict(r) for r in st.all(sql)]


def _provider_and_brain_errors() -> list[str]:
    """Messages (str, repr, hint) of errors built from upstream text that echoes secrets."""
    from twilio.base.exceptions import TwilioRestException

    from dialcli.config import LLMSettings, TwilioCredentials
    from dialcli.conversation.llm import LLMBrain
    from dialcli.providers.twilio.account import classify, rest_error

    texts: list[str] = []
    echo = f"Authenticate {TOKEN} {base64.b64encode(f'{ACCOUNT}:{TOKEN}'.encode()).decode()}"
    exc = TwilioRestException(401, "https://api.twilio.com/x", msg=echo, code=20003)
    for err in (rest_error(exc, "fetch the account"), classify(exc, ny(1), FROM)):
        texts += [str(err), repr(err), str(getattr(err, "hint", ""))]
    creds = TwilioCredentials.from_env()
    settings = LLMSettings.from_env()
    texts += [repr(creds), str(creds), repr(settings), str(settings)]
    brain = LLMBrain(settings)
    try:
        texts.append(brain.redact(f"HTTP 401: Incorrect API key provided: {LLM_KEY}"))
        texts.append(brain.redact(f"bad key {OPENAI_KEY}"))
    finally:
        brain.close()
    return texts
