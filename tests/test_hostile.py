"""The hostile suite: output paths, damaged, foreign, full and read-only workspaces.

Each case is one the reliability sweep of issue 21 found ending in a traceback or
breaking a promise. Every case asserts the exit code first, then that no traceback
was printed, then that the workspace (and the file system) is as it was.
Quick in CI; ``--runslow`` adds the long variants (more cases per class).
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
