"""Random arguments to a sample of commands: an exit code of 0, 1 or 2, a message,
never a Python traceback, and a command that fails leaves the workspace as it was.

Arguments are drawn from hostile strings (formulas, template syntax, markup, option
look-alikes, huge and empty values) and random text -- including the lone
surrogates Python makes of argv bytes that are not UTF-8 (``dialcli agent show
$'\\xff'``), which are real input on Linux. File arguments point at missing files,
folders, garbage files and names that are not UTF-8.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as hs
from typer.testing import CliRunner

import builders
from dialcli.cli.app import app
from fuzzkit import FROM, GREETING, HOSTILE_VALUES, PROMPT, budget, dump, fuzz, no_traceback

_n = itertools.count()

text = hs.one_of(
    hs.sampled_from([s for s in HOSTILE_VALUES if "\x00" not in s]),
    hs.sampled_from(["", "-", "--", "-x", "--json", "Spring", "Zara", FROM, "+1", "0", "-1",
                     "99999999999999999999", "nan", "inf", "1e999", "09:00-20:00", "25:00-26:00",
                     "hangup", "message", "US", "ZZ", "x" * 5000, "Spring\n", " Zara ",
                     "https://example.invalid/hook", "\udcff\udcfe", "Zara\udcff"]),
    hs.text(hs.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
            max_size=20),
    hs.text(hs.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1,
            max_size=3),     # what argv bytes that are not UTF-8 become
)


def path_kinds(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(64) + b"\x00")
    folder = tmp_path / "folder"
    folder.mkdir(exist_ok=True)
    odd = os.fsdecode(bytes(tmp_path) + b"/odd\xff.csv")
    with open(odd, "w", encoding="utf-8") as f:
        f.write("name,phone1\nOdd,+14155550177\n")
    return hs.sampled_from([str(garbage), str(folder), str(tmp_path / "missing.csv"),
                            str(tmp_path / "no" / "such" / "dir" / "x.csv"), odd,
                            str(tmp_path / "out.csv"), "-"])


def commands(paths):
    s = text
    return hs.one_of(
        hs.tuples(hs.just("agent"), hs.just("create"), s, hs.just("--greeting"), s,
                  hs.just("--prompt"), s),
        hs.tuples(hs.just("agent"), hs.sampled_from(["show", "delete"]), s),
        hs.tuples(hs.just("agent"), hs.just("edit"), s,
                  hs.sampled_from(["--voice", "--language", "--greeting", "--llm-model"]), s),
        hs.tuples(hs.just("numbers"), hs.just("add"), s, hs.just("--label"), s),
        hs.tuples(hs.just("numbers"), hs.just("remove"), s),
        hs.tuples(hs.just("campaign"), hs.just("create"), s, hs.just("--agent"), s,
                  hs.just("--from"), s),
        hs.tuples(hs.just("campaign"), hs.just("create"), s, hs.just("--agent"), hs.just("Zara"),
                  hs.just("--from"), hs.just(FROM),
                  hs.sampled_from(["--window", "--retry-interval", "--max-attempts",
                                   "--voicemail", "--max-concurrent", "--cps"]), s),
        hs.tuples(hs.just("campaign"), hs.sampled_from(["show", "delete"]), s),
        hs.tuples(hs.just("campaign"), hs.just("edit"), hs.just("Spring"),
                  hs.sampled_from(["--window", "--retry-interval", "--max-attempts", "--agent",
                                   "--from", "--voicemail-message", "--cps", "--name"]), s),
        hs.tuples(hs.just("import"), paths, hs.just("--campaign"), s),
        hs.tuples(hs.just("import"), paths, hs.just("--default-region"), s),
        hs.tuples(hs.just("preview"), hs.just("--lead"), s),
        hs.tuples(hs.sampled_from(["status", "plan"]), s, hs.just("--json")),
        hs.tuples(hs.just("report"), s), hs.tuples(hs.just("report"), hs.just("--csv"), paths),
        hs.tuples(hs.just("report"), hs.sampled_from(["--status", "--sort", "--limit",
                                                      "--days"]), s),
        hs.tuples(hs.just("audit"), hs.just("Spring"), hs.just("--csv"), paths),
        hs.tuples(hs.just("dnc"), hs.sampled_from(["add", "remove"]), s),
        hs.tuples(hs.just("dnc"), hs.just("add"), hs.just("+14155550188"), hs.just("--reason"), s),
        hs.tuples(hs.just("dnc"), hs.just("import"), paths),
        hs.tuples(hs.just("dnc"), hs.just("export"), paths),
        hs.tuples(hs.just("webhooks"), hs.just("add"), s),
        hs.tuples(hs.just("webhooks"), hs.sampled_from(["remove", "enable"]), s),
        hs.tuples(hs.just("config"), hs.just("set"), s, s),
        hs.tuples(hs.just("config"), hs.just("set"),
                  hs.sampled_from(["rate_per_minute", "blackout_file", "max_calls_per_number"]), s),
        hs.tuples(hs.just("config"), hs.sampled_from(["get", "unset"]), s),
        hs.tuples(hs.just("template"), hs.just("-o"), paths),
        hs.tuples(hs.just("start"), hs.just("Spring"), hs.just("--simulate"),
                  hs.sampled_from(["--seed", "--speed", "--blackout", "--sim-profile"]), s),
        hs.tuples(hs.sampled_from(["pause", "resume"]), s),
        hs.tuples(s), hs.tuples(s, s),
    )


@pytest.fixture
def ready(db_path):
    with builders.workspace(db_path) as st:
        builders.campaign(st, greeting=GREETING, prompt=PROMPT,
                          csv="name,phone1,case number\nAlex,+14155550101,=1+1\n"
                              "Jamie,+12125550102,{{7*7}}\n")
    return db_path


def _run(db_path, argv):
    runner = CliRunner()
    before = dump(db_path)
    r = runner.invoke(app, ["--db", str(db_path), *argv], catch_exceptions=False)
    no_traceback(r.output)
    assert r.exit_code in (0, 1, 2), (argv, r.exit_code, r.output[-2000:])
    if r.exit_code != 0:
        assert dump(db_path) == before, f"a failing command changed the workspace: {argv}"
        if r.exit_code in (1, 2) and r.stderr.strip():
            assert "Traceback" not in r.stderr
    return r


@pytest.mark.parametrize("examples", budget(300, 5000))
def test_random_arguments_never_show_a_traceback(ready, tmp_path, examples):
    paths = path_kinds(tmp_path)

    @fuzz(examples)
    @given(commands(paths))
    def run(argv):
        _run(ready, list(argv))

    run()


# -- the real process: argv bytes that are not UTF-8 ------------------------------------------

ODD = b"\xff\xfeZ"


@pytest.mark.parametrize("argv,fragment", [
    ([b"agent", b"create", ODD, b"--greeting", b"Hi {{NAME}}", b"--prompt", b"p"], b"UTF-8"),
    ([b"agent", b"show", ODD], b"UTF-8"),
    ([b"agent", b"create", b"Eve", b"--greeting", b"Hi \xff", b"--prompt", b"p"], b"UTF-8"),
    ([b"campaign", b"create", ODD, b"--agent", b"Zara", b"--from", FROM.encode(),
      b"--purpose", b"informational"], b"UTF-8"),
    ([b"numbers", b"add", b"+14155550199", b"--label", ODD], b"UTF-8"),
    ([b"dnc", b"add", b"+14155550198", b"--reason", ODD], b"UTF-8"),
    ([b"config", b"set", b"rate_per_minute", ODD], None),
    ([b"status", ODD], b"UTF-8"),
])
def test_non_utf8_arguments_are_refused_cleanly(ready, argv, fragment):
    before = dump(ready)
    proc = subprocess.run([sys.executable, "-m", "dialcli", "--db", os.fsencode(ready), *argv],
                          capture_output=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert b"Error:" in proc.stderr
    if fragment:
        assert fragment in proc.stderr, proc.stderr
    assert dump(ready) == before


@pytest.mark.parametrize("command", [[b"import"], [b"dnc", b"import"]])
def test_files_whose_names_are_not_utf8_still_import(ready, tmp_path, command):
    path = bytes(tmp_path) + b"/caf\xe9.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("name,phone1\nCafe,+14155550166\n" if command == [b"import"] else "+14155550166\n")
    proc = subprocess.run([sys.executable, "-m", "dialcli", "--db", os.fsencode(ready), *command,
                           path, b"--json"] if command == [b"import"] else
                          [sys.executable, "-m", "dialcli", "--db", os.fsencode(ready), *command,
                           path], capture_output=True, timeout=60)
    no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from dialcli.store import Store

    with Store(ready) as st:
        if command == [b"import"]:
            source = st.scalar("SELECT source FROM imports ORDER BY id DESC LIMIT 1")
            assert source.endswith("caf\ufffd.csv") and json.loads(proc.stdout)["imported"] == 1
        else:
            assert st.scalar("SELECT COUNT(*) FROM dnc WHERE e164 = '+14155550166'") == 1


@pytest.mark.parametrize("argv", [
    ["report", "Spring", "--limit", "99999999999999999999"],
    ["audit", "Spring", "--lead", "99999999999999999999"],
    ["webhooks", "remove", "99999999999999999999"],
    ["preview", "--lead", "99999999999999999999"],
    ["campaign", "edit", "Spring", "--max-concurrent", "99999999999999999999"],
])
def test_numbers_too_large_for_sqlite_are_input_errors(ready, argv):
    r = _run(ready, argv)
    assert r.exit_code == 2 and "Error:" in r.stderr, r.output
