"""Progress bars (issue 20, item 7): on stderr, only on a terminal, for dnc import,
consent import, the exports and each pass of start; never in a pipe or a log."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import builders
from builders import campaign, workspace
from dialcli.cli import progress
from dialcli.compliance import dnc

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"TERM": "xterm-256color"}


def _registry(path: Path, n: int) -> Path:
    path.write_text("".join(f"212{556 + i // 10_000:03d}{i % 10_000:04d}\n" for i in range(n)))
    return path


def _import_watched(import_file, tmp_path: Path, path: Path):
    """(result, progress calls) of an import core run with a progress callback; every
    call says bytes read so far, out of the file's whole size."""
    seen: list[tuple[int, int]] = []
    with workspace(tmp_path) as st:
        got = import_file(st, path, now_iso=builders.NOW_ISO,
                          progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert all(total == size and 0 < done <= size for done, total in seen)
    return got, seen


def test_the_core_reports_bytes_read_up_to_the_whole_file(tmp_path):
    path = _registry(tmp_path / "dnc.txt", 12_000)
    got, seen = _import_watched(dnc.import_file, tmp_path, path)
    assert got.added == 12_000 and seen
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_counting_writer_passes_text_through_and_counts_rows():
    sink, calls = io.StringIO(), []
    fh = progress.CountingWriter(sink, calls.append, every=2)
    for i in range(5):
        fh.write(f"row {i}\n")
    assert sink.getvalue().count("\n") == 5 and fh.rows == 5 and calls == [2, 4]


def test_dnc_import_on_a_terminal_shows_a_bar(tmp_path):
    with workspace(tmp_path):
        pass
    _registry(tmp_path / "dnc.txt", 30_000)
    rc, shown = builders.run_in_pty(["dnc", "import", "dnc.txt"], cwd=tmp_path, env=TERMINAL)
    assert rc == 0, shown
    assert "Importing dnc.txt" in shown and "%" in shown
    assert "30,000 number(s) added" in shown


def test_no_bar_in_a_pipe_or_under_quiet(tmp_path):
    with workspace(tmp_path):
        pass
    _registry(tmp_path / "dnc.txt", 30_000)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **TERMINAL}
    proc = subprocess.run([sys.executable, "-m", "dialcli", "dnc", "import", "dnc.txt"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Importing" not in proc.stderr and "\r" not in proc.stderr + proc.stdout
    rc, shown = builders.run_in_pty(["dnc", "import", "dnc.txt", "-q"], cwd=tmp_path,
                                    env=TERMINAL)
    assert rc == 0 and "Importing" not in shown, shown


def test_an_export_to_a_pipe_keeps_its_bar_on_the_terminal(tmp_path):
    """``report --csv - > leads.csv``: the rows go to the file, the bar to the screen."""
    with workspace(tmp_path) as st:
        campaign(st, "Spring", leads=[{"phones": [f"+1212555{i:04d}"], "name": f"Lead {i}"}
                                      for i in range(3000)])
    out = tmp_path / "leads.csv"
    rc, shown = builders.run_in_pty(["report", "--csv", "-"], cwd=tmp_path, stdout=out,
                                    env=TERMINAL)
    assert rc == 0, shown
    assert "Exporting leads" in shown and "Lead 2999" not in shown
    text = out.read_text()
    assert text.count("\n") == 3001 and "Exporting" not in text and "\x1b" not in text


def test_the_pass_bar_counts_down_the_leads_left_in_the_pass(tmp_path):
    db = tmp_path / "dialcli.db"
    with workspace(db) as st:
        cid = campaign(st, "Spring", leads=[{"phones": [f"+1212555{i:04d}"]} for i in range(10)])
    tick = [0.0]
    bar = progress.PassBar(str(db), cid, 3, every=2.0, monotonic=lambda: tick[0])
    try:
        bar.poll()
        (task,) = bar.progress.tasks
        assert (task.description, task.total, task.completed) == ("Pass 1 of 3", 10, 0)
        with workspace(db) as st:
            st.execute("UPDATE leads SET status = 'REACHED' WHERE id IN "
                       "(SELECT id FROM leads LIMIT 4)")
            st.execute("UPDATE leads SET pass_done = 1 WHERE status = 'PENDING' AND id IN "
                       "(SELECT id FROM leads WHERE status = 'PENDING' LIMIT 2)")
        bar.poll()                                   # within 2 s: not read again
        assert bar.progress.tasks[0].completed == 0
        tick[0] = 2.5
        bar.poll()
        assert (bar.progress.tasks[0].total, bar.progress.tasks[0].completed) == (10, 6)
        with workspace(db) as st:                    # the next pass: a new bar from zero
            st.execute("UPDATE campaigns SET pass_no = 2")
            st.execute("UPDATE leads SET pass_done = 0")
        tick[0] = 5.0
        bar.poll()
        (task,) = bar.progress.tasks
        assert (task.description, task.total, task.completed) == ("Pass 2 of 3", 6, 0)
        with workspace(db) as st:                    # and it counts on in that pass
            st.execute("UPDATE leads SET pass_done = 1 WHERE id IN "
                       "(SELECT id FROM leads WHERE status = 'PENDING' LIMIT 1)")
        tick[0] = 7.5
        bar.poll()
        assert (bar.progress.tasks[0].total, bar.progress.tasks[0].completed) == (6, 1)
        with workspace(db) as st:                    # the run ends within the 2 s ...
            st.execute("UPDATE leads SET pass_done = 1")
        bar.last_read()                              # ... and its last frame shows it
        assert (bar.progress.tasks[0].total, bar.progress.tasks[0].completed) == (6, 6)
    finally:
        bar.close()


def test_start_shows_the_pass_bar_on_the_terminal_not_in_the_log(tmp_path):
    """stdout piped to a file (the log lines), stderr a terminal: the bar is on the
    terminal with its ETA, and the file holds plain lines only."""
    with workspace(tmp_path / "dialcli.db") as st:
        campaign(st, "Spring", max_concurrent=2, cps=5,
                 leads=[{"phones": [builders.awake_phone(i)[0]]} for i in range(20)])
    log = tmp_path / "run.log"
    rc, shown = builders.run_in_pty(["start", "--simulate", "--speed", "20", "--seed", "1"],
                                    cwd=tmp_path, stdout=log, env=TERMINAL, timeout=120)
    assert rc == 0, shown
    assert "Pass 1 of 3" in shown and "ETA" in shown and "/ 20 leads" in shown
    assert "pass 1:" not in shown                  # the log lines stay in the log
    text = log.read_text()
    assert "pass 1:" in text and "Pass 1 of" not in text and "\x1b" not in text


def test_the_dashboard_carries_the_pass_bar(tmp_path):
    with workspace(tmp_path / "dialcli.db") as st:
        campaign(st, "Spring", max_concurrent=2, cps=5,
                 leads=[{"phones": [builders.awake_phone(i)[0]]} for i in range(8)])
    rc, shown = builders.run_in_pty(["start", "--simulate", "--seed", "1"], cwd=tmp_path,
                                    env=TERMINAL, timeout=120)
    assert rc == 0, shown
    assert "Calls made" in shown and "Pass 1 of 3" in shown and "/ 8 leads" in shown
    rc, shown = builders.run_in_pty(["restart", "Spring", "--yes", "--simulate", "--seed", "1"],
                                    cwd=tmp_path, env={**TERMINAL, "DIALCLI_NO_PROGRESS": "1"},
                                    timeout=120)
    assert rc == 0 and "Calls made" in shown and "/ 8 leads" not in shown, shown


def test_consent_import_reports_bytes_read(tmp_path):
    from dialcli.compliance import consent

    path = tmp_path / "optins.csv"
    path.write_text("phone,consent_at,consent_type\n" + "".join(
        f"+1212555{i:04d},2026-01-02,written\n" for i in range(2500)))
    got, seen = _import_watched(consent.import_file, tmp_path, path)
    assert got.added == 2500 and len(seen) == 2
