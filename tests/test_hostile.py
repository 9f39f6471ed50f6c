"""The hostile suite: output paths, damaged, foreign, full and read-only workspaces.

Each case is one the reliability sweep of issue 21 found ending in a traceback or
breaking a promise. Every case asserts the exit code first, then that no traceback
was printed, then that the workspace (and the file system) is as it was.
Quick in CI; ``--runslow`` adds the long variants: a run paused by SIGTERM/SIGHUP at
random moments until it completes (here), and every workspace state and output path
against every command (``tests/fuzz/test_fuzz_workspace.py``).
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from dialcli import outfiles
from dialcli.store import Store

LEADS = ("name,phone1,phone2,email\n"
         "Alex Chen,+1 415 555 0101,,alex@example.com\n"
         "Jamie Lee,(212) 555-0102,,jamie@example.com\n"
         "Bad Phone,4.1555512E+10,,x@example.com\n")


def make_campaign(db_path, name="Spring") -> None:
    st = Store(db_path)
    with st.tx():
        agent = st.execute(
            "INSERT INTO agents (name, greeting, system_prompt, created_at, updated_at) "
            "VALUES ('Zara', 'Hi {{NAME}}', 'You are Zara.', 't', 't')").lastrowid
        st.execute("INSERT OR IGNORE INTO numbers (e164, added_at) VALUES ('+14155550100', 't')")
        st.execute("INSERT INTO campaigns (name, agent_id, from_number, status, created_at, "
                   "updated_at) VALUES (?, ?, '+14155550100', 'DRAFT', 't', 't')", (name, agent))
    st.close()


def leads_in(db_path) -> int:
    with Store(db_path) as st:
        return st.scalar("SELECT COUNT(*) FROM leads")


def no_traceback(result) -> None:
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text, text


# -- 1. output paths are checked before anything changes --------------------------------

def _bad_targets(tmp_path: Path) -> dict[str, Path]:
    """One of each kind of path dialcli must refuse to write."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    readonly = tmp_path / "readonly.csv"
    readonly.write_text("old\n")
    readonly.chmod(0o444)
    sock_path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    return {
        "folder": folder, "symlink": link, "dangling symlink": dangling, "fifo": fifo,
        "device": Path("/dev/null"), "read-only file": readonly, "socket": sock_path,
        "missing folder": tmp_path / "missing" / "out.csv",
        "file as folder": victim / "out.csv",
    }


def _snapshot(tmp_path: Path) -> dict[str, tuple]:
    seen = {}
    for p in sorted(tmp_path.rglob("*")):
        st = os.lstat(p)
        seen[str(p)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns,
                        os.readlink(p) if p.is_symlink() else None)
    return seen


@pytest.mark.parametrize("kind", ["folder", "symlink", "dangling symlink", "fifo", "device",
                                  "read-only file", "socket", "missing folder",
                                  "file as folder"])
def test_import_with_an_unusable_rejects_path_imports_nothing(cli, db_path, tmp_path, kind):
    make_campaign(db_path)
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text(LEADS)
    target = _bad_targets(tmp_path)[kind]
    before = _snapshot(tmp_path)
    result = cli("import", csv_path, "--campaign", "Spring", "--rejects", target)
    assert result.exit_code == 2, result.output
    no_traceback(result)
    assert "--rejects" in result.output
    assert leads_in(db_path) == 0
    after = {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith(str(db_path))}
    assert after == {k: v for k, v in before.items() if not k.startswith(str(db_path))}
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo", "device", "read-only file",
                                  "missing folder"])
@pytest.mark.parametrize("command", [("report", "--csv"), ("report", "--calls", "--csv"),
                                     ("audit", "--csv"), ("dnc", "export")])
def test_exports_refuse_unusable_paths(cli, db_path, tmp_path, kind, command):
    make_campaign(db_path)
    target = _bad_targets(tmp_path)[kind]
    before = _snapshot(tmp_path)
    result = cli(*command, target)
    assert result.exit_code == 2, result.output
    no_traceback(result)
    after = {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith(str(db_path))}
    assert after == {k: v for k, v in before.items() if not k.startswith(str(db_path))}


def test_template_refuses_a_symlink_even_with_force(cli, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "leads.csv"
    link.symlink_to(victim)
    result = cli("template", "-o", link, "--force", db=False)
    assert result.exit_code == 2, result.output
    assert victim.read_text() == "keep me\n" and link.is_symlink()


def test_a_killed_writers_temp_file_is_removed_by_the_next_run(cli, db_path, tmp_path):
    make_campaign(db_path)
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text(LEADS)
    rejects = tmp_path / "leads.rejects.csv"
    # What SIGKILL leaves: a temp file of a pid that is no longer alive.
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = outfiles.temp_path(rejects, dead.pid)
    leftover.write_text("line,reason,name\n4,bad,Secret Person\n")
    live = outfiles.temp_path(rejects, os.getppid())      # a live pid: not ours to remove
    live.write_text("in use\n")
    result = cli("import", csv_path, "--campaign", "Spring")
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and live.exists()
    assert rejects.exists()
    assert list(outfiles.iter_leftovers(tmp_path)) == [live]


def test_no_temp_file_is_left_when_the_import_fails(cli, db_path, tmp_path):
    make_campaign(db_path)
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text("name,phone1\n")        # header only: refused
    result = cli("import", csv_path, "--campaign", "Spring")
    assert result.exit_code == 2
    assert list(outfiles.iter_leftovers(tmp_path)) == []
    assert not (tmp_path / "leads.rejects.csv").exists()


def test_rejects_file_gets_the_users_umask_mode(cli, db_path, tmp_path):
    make_campaign(db_path)
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text(LEADS)
    old = os.umask(0o027)
    try:
        result = cli("import", csv_path, "--campaign", "Spring")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "leads.rejects.csv").stat().st_mode) == 0o640


def test_check_target_accepts_a_new_and_a_writable_existing_file(tmp_path):
    assert outfiles.check_target(tmp_path / "new.csv") == tmp_path / "new.csv"
    (tmp_path / "old.csv").write_text("x")
    assert outfiles.check_target(tmp_path / "old.csv") == tmp_path / "old.csv"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any folder")
def test_unwritable_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(Exception, match="not writable"):
            outfiles.check_target(ro / "x.csv")
    finally:
        ro.chmod(0o755)


# -- 2. the workspace is known and sound before anything is written ---------------------

import hashlib  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import builders  # noqa: E402


def filled_workspace(db_path, leads: int = 1500) -> None:
    with Store(db_path) as st:
        builders.campaign(st, "Spring", leads=[
            {"name": f"Lead {i}", "phones": [f"+1415555{i:04d}"]} for i in range(leads)])
        st.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def digest(db_path) -> tuple[str, ...]:
    """The workspace as files on disk: the database and any WAL."""
    out = []
    for suffix in ("", "-wal"):
        p = Path(f"{db_path}{suffix}")
        out.append(hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() and
                   p.stat().st_size else "")
    return tuple(out)


def raw(db_path, sql: str) -> None:
    conn = sqlite3.connect(db_path)
    try:
        conn.executescript(sql)
    finally:
        conn.close()


def damage(db_path, table: str = "leads", which: str = "middle") -> None:
    """Overwrite 4 KB of ``table``: its root page, or a leaf in the middle (the sweep's
    "4 KB overwritten in the leads table")."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if which == "root":
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (table,)).fetchone()[0]
    else:
        leaves = [r[0] for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
            (table,))]
        page = leaves[len(leaves) // 2]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db_path, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(size)))


FOREIGN = {
    "user_version from a newer dialcli": "PRAGMA user_version = 999;",
    "a migration this dialcli does not know":
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('dialcli', 'm999_from_the_future', '2030-01-01');",
    "an extra NOT NULL column":
        "ALTER TABLE leads ADD COLUMN shard TEXT NOT NULL DEFAULT 'a';",
    "an extra table": "CREATE TABLE leads_v2 (id INTEGER PRIMARY KEY);",
}


@pytest.mark.parametrize("case", sorted(FOREIGN))
@pytest.mark.parametrize("command", [("status",), ("dnc", "add", "+14155550199"),
                                     ("start", "--simulate"), ("import", "{csv}")])
def test_a_foreign_or_newer_workspace_is_refused(cli, db_path, tmp_path, case, command):
    filled_workspace(db_path, leads=20)
    raw(db_path, FOREIGN[case])
    before = digest(db_path)
    csv_path = tmp_path / "more.csv"
    csv_path.write_text(LEADS)
    result = cli(*[str(csv_path) if a == "{csv}" else a for a in command])
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert "newer" in result.output or "did not make" in result.output
    assert digest(db_path) == before


def test_a_newer_workspace_names_the_version_that_made_it(cli, db_path):
    filled_workspace(db_path, leads=2)
    raw(db_path, "UPDATE _dialcli_schema SET migrations = migrations + 3, "
                 "dialcli_version = '9.1.0'")
    result = cli("status")
    assert result.exit_code == 1
    assert "made by dialcli 9.1.0 or newer" in result.output and "Upgrade" in result.output


def test_a_workspace_made_before_the_schema_record_is_recorded_on_open(db_path):
    filled_workspace(db_path, leads=2)
    raw(db_path, "DELETE FROM _dialcli_schema; PRAGMA user_version = 0;")
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM _dialcli_schema") == 1
        assert st.scalar("PRAGMA user_version") == len(__import__(
            "dialcli.store.migrations", fromlist=["names"]).names())


@pytest.mark.parametrize("command", [("start", "--simulate"), ("resume", "--simulate"),
                                     ("import", "{csv}"), ("restart", "--yes", "--simulate")])
def test_a_damaged_workspace_is_refused_before_anything_is_written(cli, db_path, tmp_path,
                                                                  command):
    filled_workspace(db_path)
    if command[0] == "resume":
        raw(db_path, "UPDATE campaigns SET status = 'PAUSED'")
    damage(db_path)
    before = digest(db_path)
    csv_path = tmp_path / "more.csv"
    csv_path.write_text(LEADS)
    result = cli(*[str(csv_path) if a == "{csv}" else a for a in command])
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert "damaged" in result.output and "doctor --repair" in result.output
    assert digest(db_path) == before
    assert list(outfiles.iter_leftovers(tmp_path)) == []


def test_doctor_finds_the_damage_and_repair_copies_what_can_be_read(cli, db_path):
    filled_workspace(db_path)
    raw(db_path, "INSERT INTO dnc (e164, reason, source, added_at) VALUES "
                 "('+14155550123', 'asked', 'cli', 't')")
    damage(db_path, "leads")
    before = digest(db_path)
    result = cli("doctor", "--json")
    assert result.exit_code == 1, result.output
    assert '"Workspace"' in result.stdout and "--repair" in result.stdout
    result = cli("doctor", "--repair", "--json")
    assert result.exit_code == 0, result.output
    import json

    got = json.loads(result.stdout)
    assert digest(db_path) == before                       # the original is untouched
    copy = got["target"]
    assert Path(copy).exists() and got["after"]["dnc"] == 1
    assert 1000 < got["after"]["leads"] < 1500         # all but the damaged page's rows
    again = cli("--db", copy, "status")                  # a usable workspace
    assert again.exit_code == 0, again.output
    assert cli("--db", copy, "doctor", "--json").stdout.count('"ok"') >= 1


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 shell")
def test_repair_without_the_sqlite3_shell_copies_rows(db_path, tmp_path):
    from datetime import datetime, timezone

    from dialcli.store.repair import recover

    filled_workspace(db_path)
    damage(db_path, "leads")
    got = recover(db_path, now=datetime(2026, 3, 3, tzinfo=timezone.utc), sqlite3_bin="")
    assert got.method == "row copy"
    assert got.after["campaigns"] == 1 and 0 < got.after["leads"] <= 1500
    with Store(got.target) as st:
        assert st.quick_check().ok


# -- 3. faults are messages -------------------------------------------------------------

def as_nobody(db_path, *args: str) -> subprocess.CompletedProcess:
    """``dialcli`` run as an unprivileged user (root may write any file)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "dialcli", "--db", str(db_path), *args],
                          capture_output=True, text=True, env=env, timeout=60)


needs_setpriv = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                   reason="needs root and setpriv to run as another user")


@pytest.fixture
def open_dir():
    """A folder every user may enter (pytest's own are private to root)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="dialcli-hostile-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_setpriv
@pytest.mark.parametrize("command", [("dnc", "add", "+14155550199"), ("start", "--simulate"),
                                     ("import", "{csv}"), ("status",)])
def test_a_read_only_workspace_is_a_message(open_dir, command):
    tmp_path = open_dir
    db_path = tmp_path / "ws.db"
    filled_workspace(db_path, leads=5)
    csv_path = tmp_path / "more.csv"
    csv_path.write_text(LEADS)
    csv_path.chmod(0o644)
    before = digest(db_path)
    run = as_nobody(db_path, *[str(csv_path) if a == "{csv}" else a for a in command])
    assert "Traceback" not in run.stderr, run.stderr
    if command == ("status",):
        assert run.returncode in (0, 1), run.stderr
    else:
        assert run.returncode in (1, 2), run.stderr
        assert "read-only" in run.stderr or "readonly" in run.stderr or \
            "not writable" in run.stderr or "Cannot open" in run.stderr, run.stderr
    assert digest(db_path) == before


@pytest.mark.parametrize("path,code", [("/dev/null", 2), ("{dir}", 2), ("{junk}", 2)])
def test_a_path_that_cannot_be_a_workspace(cli, tmp_path, path, code):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 10)
    target = {"{dir}": str(tmp_path), "{junk}": str(junk)}.get(path, path)
    result = cli("--db", target, "status", db=False)
    assert result.exit_code == code, result.output
    no_traceback(result)
    assert "disk I/O" not in result.output


@needs_setpriv
def test_a_workspace_in_a_folder_the_user_cannot_enter(db_path):
    filled_workspace(db_path, leads=2)       # pytest's tmp folders are root's alone
    run = as_nobody(db_path, "status")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "permission denied" in run.stderr


# -- 3b. a run that meets a fault pauses itself; 7. signals pause like Ctrl-C ------------

import signal  # noqa: E402
import time  # noqa: E402

DIALCLI = [sys.executable, "-m", "dialcli"]


def running_campaign(db_path, n=60):
    with builders.workspace(db_path) as store:
        builders.campaign(store, "Spring", max_concurrent=3, leads=[
            {"name": f"Lead {i}", "phones": [f"+1212555{100 + i:04d}"]} for i in range(n)])


def start_slow(db_path):
    env = {**os.environ, "DIALCLI_DB": str(db_path)}
    proc = subprocess.Popen(DIALCLI + ["start", "--simulate", "--speed", "20"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        with Store(db_path) as st:
            if st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NOT NULL"):
                return proc
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the runner made no call in 60 s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_pause_like_ctrl_c(db_path, sig):
    running_campaign(db_path)
    proc = start_slow(db_path)
    try:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Pausing" in err and "resume" in err and "Traceback" not in err
    with Store(db_path) as st:
        assert st.scalar("SELECT status FROM campaigns") == "PAUSED"
        assert st.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
        assert st.scalar("SELECT COUNT(*) FROM leads WHERE status = 'DIALING'") == 0
        assert st.scalar("SELECT lease_owner FROM campaigns") is None


@pytest.mark.parametrize("what", ["file", "wal"])
def test_a_runner_stops_when_its_file_or_wal_is_replaced(db_path, tmp_path, what):
    running_campaign(db_path, n=200)
    proc = start_slow(db_path)
    try:
        if what == "file":
            shutil.copyfile(db_path, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", db_path)      # a restore over a live workspace
        else:
            os.unlink(f"{db_path}-wal")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "Stopped:" in err
    assert ("replaced" in err) if what == "file" else ("-wal" in err)


def test_a_full_disk_pauses_the_run_and_resume_finishes_it(db_path):
    from dialcli.clock import SystemClock
    from dialcli.engine import runner
    from dialcli.store.health import DiskFull

    running_campaign(db_path, n=400)
    st = Store(db_path)
    cid = st.scalar("SELECT id FROM campaigns")
    pages = st.scalar("PRAGMA page_count")
    st.execute(f"PRAGMA max_page_count = {pages + 40}")     # a disk with 160 KB left
    engine = runner.build(st, cid, runner.RunOptions(simulate=True), wall=SystemClock())
    # Small group commits, so the disk fills between two of them whatever this machine's
    # speed: at the default 0.2 s a fast machine puts the whole run in the first batch,
    # which then fails with nothing before it (also right, but not this test's case).
    engine.tx.commit_every_s = 0.005
    handle = runner.start_thread(engine)
    assert handle.done.wait(120)
    assert isinstance(handle.error, DiskFull), handle.error
    assert "was paused" in handle.error.message and "resume" in str(handle.error)
    st.close()
    with Store(db_path) as check:
        assert check.scalar("SELECT status FROM campaigns") == "PAUSED"
        assert check.scalar("SELECT lease_owner FROM campaigns") is None
        made = check.scalar("SELECT COUNT(*) FROM calls")
    assert made > 0
    env = {**os.environ, "DIALCLI_DB": str(db_path)}
    shown = subprocess.run(DIALCLI + ["status"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "full" in shown.stdout + shown.stderr
    done = subprocess.run(DIALCLI + ["resume", "--simulate"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Store(db_path) as check:
        assert check.scalar("SELECT status FROM campaigns") == "COMPLETED"
        assert check.scalar("SELECT COUNT(*) FROM leads WHERE status IN ('PENDING', 'RETRY', "
                            "'DIALING')") == 0
        twice = check.scalar("SELECT COUNT(*) FROM (SELECT 1 FROM calls GROUP BY campaign_id, "
                             "run, lead_id, slot, pass_no, kind HAVING COUNT(*) > 1)")
        assert twice == 0


# -- 5. values that cannot work are refused up front ------------------------------------

@pytest.mark.parametrize("args", [
    ("campaign", "edit", "Spring", "--cps", "1e-300"),
    ("campaign", "edit", "Spring", "--cps", "nan"),
    ("start", "--simulate", "--speed", "1e-300"),
    ("start", "--simulate", "--speed", "inf"),
    ("start", "--simulate", "--port", "99999"),
    ("start", "--simulate", "--port", "0"),
    ("doctor", "--port", "65536"),
    ("demo", "--speed", "nan"),
    ("webhooks", "deliver", "--timeout", "1e300"),
    ("webhooks", "deliver", "--timeout", "nan"),
    ("webhooks", "deliver", "--max-seconds", "-1"),
    ("webhooks", "add", "https://[::1]:99999/"),
    ("webhooks", "add", "https://example.com:0/hook"),
    ("webhooks", "add", "https://example.com:-1/"),
    ("start", "--public-url", "https://example.com:99999"),
])
def test_values_that_cannot_work_are_refused(cli, db_path, args):
    filled_workspace(db_path, leads=3)
    before = digest(db_path)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    no_traceback(result)
    with Store(db_path) as st:
        assert st.scalar("SELECT cps FROM campaigns") == 1.0
        assert st.scalar("SELECT COUNT(*) FROM webhook_subscriptions") == 0
        assert st.scalar("SELECT status FROM campaigns") == "DRAFT"
    del before


@pytest.mark.parametrize("greeting,line,column", [
    ("Hi {% include '/etc/passwd' %}", 1, 4),
    ("Hi {{NAME}}\n  {%- extends 'base.html' %}", 2, 3),
    ("{% import 'macros' as m %}{{ m.hi() }}", 1, 1),
    ("Hello\n\n{% from 'x' import y %}", 3, 1),
    ("Hi {{ NAME|no_such_filter }}", 1, 12),
])
def test_templates_that_would_fail_at_render_are_refused_with_line_and_column(
        cli, db_path, greeting, line, column):
    result = cli("agent", "create", "Eve", "--greeting", greeting,
                 "--prompt", "You are Eve from Acme; say stop to opt out.")
    assert result.exit_code == 2, result.output
    assert f"line {line}, column {column}" in result.output
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM agents") == 0


# -- 6. a Twilio that answers 500 to everything -------------------------------------------

def _resume_live(store, fake, cid):
    """A second live run of the campaign (as `dialcli resume` builds it)."""
    from dialcli.clock import SystemClock
    from dialcli.config import Secret, TwilioCredentials
    from dialcli.engine.loop import Engine
    from dialcli.providers.twilio.provider import TwilioProvider
    from fakes.keyword_brain import KeywordBrain
    from test_live_path import FAST

    creds = TwilioCredentials(fake.account_sid, Secret(fake.auth_token), fake.base_url)
    provider = TwilioProvider(creds, public_url="https://campaign.tunnel.example", port=0,
                              brain=KeywordBrain(), store_path=store.path,
                              finish_grace_s=2.0, freeze_gc=False)
    provider.start()
    fake.tunnel["https://campaign.tunnel.example"] = provider.server.thread.local_url
    return Engine(store, cid, provider, SystemClock(), timing=FAST)


@pytest.mark.parametrize("created", [False, True], ids=["nothing-created", "calls-ring"])
def test_a_twilio_outage_pauses_and_holds_uncertain_leads(fake, store, created):
    from fakes.fake_twilio import Scenario, say
    from test_live_path import Campaign, ny

    interested = Scenario(lines=[say("Yes, I'm interested")])
    # Each lead's second phone is in the zone that is awake now, as its first is: a
    # lead's timezone column no longer opens the window for a number of another zone
    # (zones fail closed), so a fixed +1312 (Chicago) number would wait for Chicago's
    # calling hours.
    seconds = [ny(200), ny(201)]
    specs = [(interested, [seconds[0]]), (interested, [seconds[1]])]
    camp = Campaign(store, fake, specs)
    fake.outage(created=created)
    result = camp.run(timeout=60)
    assert result.outcome == "paused"
    assert "status.twilio.com" in (result.provider_pause or "")
    assert "held" in result.provider_pause
    rows = camp.call_rows()
    assert rows and all(r["status"] != "failed" and r["disposition"] is None for r in rows)
    leads = camp.lead_rows()
    assert {lead["status"] for lead in leads} <= {"DIALING", "PENDING"}
    assert store.scalar("SELECT status FROM campaigns WHERE id = ?", (camp.cid,)) == "PAUSED"
    assert "held" in store.scalar("SELECT pause_reason FROM campaigns WHERE id = ?",
                                  (camp.cid,))                  # `status` shows why
    # No second phone of a held lead rang.
    assert not [c for c in fake.calls.values() if c.to in seconds]

    # Still down: resume dials nothing and stays paused (exit 3 from the CLI).
    from dialcli.errors import ProviderError

    with pytest.raises(ProviderError, match="left open"):
        _resume_live(store, fake, camp.cid).run()
    assert store.scalar("SELECT status FROM campaigns WHERE id = ?", (camp.cid,)) == "PAUSED"

    fake.outage_over()
    before = dict(fake.calls)
    result = _resume_live(store, fake, camp.cid).run()
    assert result.outcome == "completed"
    per_number: dict[str, int] = {}
    for c in fake.calls.values():
        per_number[c.to] = per_number.get(c.to, 0) + 1
    assert max(per_number.values()) == 1, per_number            # never twice
    if created:
        # The calls that rang during the outage were adopted, not dialed again; their
        # conversation could not run (dialcli had let go of them), so each lead then
        # moved on to its second phone -- only after the first one's fate was known.
        assert {c.sid for c in before.values()} <= {r["provider_sid"] for r in camp.call_rows()}
        assert sorted(c.to for c in before.values()) == sorted(camp.numbers)
    else:
        assert not [c for c in fake.calls.values() if c.to in seconds]
        assert {r["disposition"] for r in camp.call_rows()} == {"INTERESTED"}
        assert {lead["status"] for lead in camp.lead_rows()} == {"REACHED"}


# -- smaller cases ------------------------------------------------------------------------

def test_a_truncated_last_line_is_warned_about(cli, db_path, tmp_path):
    make_campaign(db_path)
    csv_path = tmp_path / "cut.csv"
    csv_path.write_text("name,phone1,phone2,email\nAlex Chen,+1 415 555 0101,,a@x.io\n"
                        "Jamie Lee,+1 212 555 01")
    result = cli("import", csv_path, "--campaign", "Spring")
    assert result.exit_code == 0, result.output
    assert "cut short" in result.output.replace("\n", " ")


def test_the_end_of_a_utf16_file_is_read_as_text(cli, db_path, tmp_path):
    # Excel's "Unicode text" export: UTF-16, tab-separated. Its last line break is two
    # bytes ending in a zero, which read as bytes looked like a row cut short.
    make_campaign(db_path)
    rows = "name\tphone1\tnotes\r\nJosé Núñez\t(212) 555-0140\tx\r\nAna\t+1 415 555 0141\ty\r\n"
    for order in ("utf-16", "utf-16-be"):
        path = tmp_path / f"{order}.txt"
        path.write_bytes((b"\xfe\xff" if order == "utf-16-be" else b"") + rows.encode(order))
        result = cli("import", path, "--campaign", "Spring", "--allow-duplicates")
        assert result.exit_code == 0 and "cut short" not in result.output, result.output
        path.write_bytes(path.read_bytes()[:-8])                 # 'y\r\n' and a digit gone
        result = cli("import", path, "--campaign", "Spring", "--allow-duplicates")
        assert "cut short" in result.output.replace("\n", " "), result.output


def test_a_new_workspace_that_cannot_be_made_leaves_no_file(tmp_path, monkeypatch):
    from dialcli.store import migrations

    def boom(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(migrations, "m001_foundation", boom, raising=True)
    migrations.migration_set.cache_clear()
    monkeypatch.setattr(migrations, "_REGISTERED", [boom] + migrations._REGISTERED[1:])
    boom.__name__ = "m001_foundation"
    path = tmp_path / "new.db"
    try:
        with pytest.raises(Exception, match="full"):
            Store(path)
    finally:
        migrations.migration_set.cache_clear()
    assert not path.exists() and not Path(f"{path}-wal").exists()


@pytest.mark.parametrize("message,words,code", [
    ("database or disk is full", "disk holding the workspace", 1),
    ("attempt to write a readonly database", "is read-only", 1),
    ("database is locked", "locked by another program", 1),
    ("disk I/O error", "The disk reported an error", 1),
    ("database disk image is malformed", "doctor --repair", 1),
    ("file is not a database", "not a dialcli workspace", 2),
])
def test_sqlite_faults_mid_command_are_messages(cli, db_path, monkeypatch, message, words,
                                                code):
    filled_workspace(db_path, leads=2)
    before = digest(db_path)

    def fault(self):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(Store, "tx", fault)
    result = cli("dnc", "add", "+14155550199")
    assert result.exit_code == code, result.output
    no_traceback(result)
    assert words in result.output.replace("\n", " ") and str(db_path) in result.output
    monkeypatch.undo()
    assert digest(db_path) == before


def test_sighup_stays_ignored_under_nohup():
    from dialcli.engine.runner import pause_on_signals

    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with pause_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)


@pytest.mark.slow
def test_signals_at_random_moments_until_the_campaign_completes(db_path):
    """Long mode: SIGTERM or SIGHUP at a random moment, resume, again, until done; no
    attempt is dialed twice and every lead ends final."""
    import random

    rng = random.Random(21)
    running_campaign(db_path, n=40)
    env = {**os.environ, "DIALCLI_DB": str(db_path)}
    rounds = paused = 0
    for rounds in range(1, 40):
        with Store(db_path) as st:
            made = st.scalar("SELECT COUNT(*) FROM calls")
        proc = subprocess.Popen(DIALCLI + ["start", "--simulate", "--speed", "200"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60        # the run is under way: it has claimed a call
        while proc.poll() is None and time.time() < deadline:
            with Store(db_path) as st:
                if st.scalar("SELECT COUNT(*) FROM calls") > made:
                    break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(rng.choice([signal.SIGTERM, signal.SIGHUP]))
        out, err = proc.communicate(timeout=180)
        assert "Traceback" not in err, err
        # Before the run starts (interpreter start-up) a signal still ends the process
        # the default way: nothing was claimed yet.
        assert proc.returncode in (0, 130, -signal.SIGTERM, -signal.SIGHUP), err
        paused += proc.returncode == 130
        if proc.returncode == 0 and "completed" in err:
            break
    with Store(db_path) as st:
        assert st.scalar("SELECT status FROM campaigns") == "COMPLETED", rounds
        assert paused >= 3, (rounds, paused)
        assert st.scalar("SELECT COUNT(*) FROM leads WHERE status IN ('PENDING', 'RETRY', "
                         "'DIALING', 'CALLBACK')") == 0
        assert st.scalar("SELECT COUNT(*) FROM (SELECT 1 FROM calls GROUP BY campaign_id, run, "
                         "lead_id, slot, pass_no, kind HAVING COUNT(*) > 1)") == 0
