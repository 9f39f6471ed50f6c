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


def test_the_core_reports_bytes_read_up_to_the_whole_file(tmp_path):
    path = _registry(tmp_path / "dnc.txt", 12_000)
    seen: list[tuple[int, int]] = []
    with workspace(tmp_path) as st:
        got = dnc.import_file(st, path, now_iso=builders.NOW_ISO,
                              progress=lambda done, total: seen.append((done, total)))
    assert got.added == 12_000
    size = path.stat().st_size
    assert seen and all(total == size and 0 < done <= size for done, total in seen)
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
