"""Hostile CSVs: the importer either imports (with rejects) or refuses with an InputError,
and a refused import leaves the workspace exactly as it was.

Three kinds of input: random bytes (with and without a plausible header in front);
CSVs written properly by ``csv.writer`` whose cells are hostile (formulas, template
syntax, markup, odd Unicode) -- these must round-trip exactly, stay literal when a
greeting is rendered, and come out of ``report --csv`` neutralised for spreadsheets;
and CSVs glued together by hand (unbalanced quotes, stray delimiters, BOMs and NULs
in odd places, mixed encodings, CR-only lines). Huge fields, very wide files and a
quote that is never closed are checked one by one at the end.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from dialcli.leads import importer
from dialcli.errors import InputError
from dialcli.leads.cells import FORMULA_PREFIXES
from dialcli.phones import is_e164
from dialcli.store import Store
from dialcli.templates import render_for_lead
import builders
from fuzzkit import (FORMULAS, GREETING, HOSTILE_VALUES, NOW, PROMPT, budget, dump, fuzz,
                     no_traceback)

_files = itertools.count()
BREAK = re.compile(r"\r\n|\r|\n")

PHONES = ["+14155550123", "(212) 555-0142", "415.555.0199", "2125550100", "+1 415 555 0101",
          "+442071838750", "bad", "", "1.41555E+10", "+1415555012", "911", "+999999999999999"]


@pytest.fixture
def ws(tmp_path):
    db = tmp_path / "ws.db"
    with builders.workspace(db) as st:
        return db, builders.campaign(st, greeting=GREETING, prompt=PROMPT)


def attempt(db, cid, path, **kw):
    """Import ``path``; return the summary, or the InputError after checking nothing changed."""
    before = dump(db)
    st = Store(db)
    try:
        summary = importer.import_csv(st, path, campaign_id=cid, now=NOW, workers=0, **kw)
    except InputError as exc:
        st.close()
        assert str(exc).strip(), "an InputError must say what is wrong"
        assert dump(db) == before, "a refused import changed the workspace"
        assert not importer.default_rejects_path(path).exists()
        return exc
    after_leads = st.scalar("SELECT COUNT(*) FROM leads")
    st.close()
    assert summary.imported + summary.rejected + summary.duplicates == summary.rows
    before_leads = sum(1 for line in before if line.startswith('INSERT INTO "leads"'))
    assert after_leads == before_leads + summary.imported
    return summary


def new_file(tmp_path, data: bytes):
    path = tmp_path / f"f{next(_files)}.csv"
    path.write_bytes(data)
    return path


# -- random bytes -----------------------------------------------------------------------

HEADERS = [b"name,phone1\n", b"name,phone1,notes\n", b"\xef\xbb\xbfname;phone1;amount\r\n",
           b"Name\tPhone1\tCase Number\n", b"name|phone1|x\n", b"\xff\xfen\x00a\x00m\x00e\x00"]


@pytest.mark.parametrize("examples", budget(120, 2000))
def test_random_bytes_import_or_refuse_cleanly(ws, tmp_path, examples):
    db, cid = ws

    @fuzz(examples)
    @given(hs.sampled_from([b""] + HEADERS), hs.binary(max_size=2000))
    def run(head, body):
        attempt(db, cid, new_file(tmp_path, head + body))

    run()


# -- well-formed CSVs with hostile cells: exact round trip ----------------------------------

cell = hs.one_of(hs.sampled_from(HOSTILE_VALUES).filter(lambda v: "\x00" not in v),
                 hs.text(hs.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                         max_size=40))
EXTRA_HEADERS = ["case number", "Amount ($)", "notes", "=cmd", "{{NAME}}", "\ufeffstate",
                 "x" * 300, "Tax-ID", "phone11", "Ünïcödé", "email", "timezone", "phone2"]


@hs.composite
def table(draw):
    extra = draw(hs.lists(hs.sampled_from(EXTRA_HEADERS), max_size=5, unique=True))
    header = ["name", "phone1", *extra]
    rows = draw(hs.lists(hs.lists(cell, min_size=len(header), max_size=len(header)),
                         min_size=1, max_size=8))
    for r in rows:
        r[1] = draw(hs.sampled_from(PHONES))
    return header, rows


def write_csv(header, rows, encoding: str, delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


@pytest.mark.parametrize("examples", budget(100, 1500))
def test_hostile_cells_round_trip_and_stay_literal(ws, tmp_path, examples):
    db, cid = ws

    @fuzz(examples)
    @given(table(), hs.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
           hs.sampled_from([",", ";", "\t"]))
    def run(tab, encoding, delimiter):
        header, rows = tab
        path = new_file(tmp_path, write_csv(header, rows, encoding, delimiter))
        with Store(db) as st:
            known = st.scalar("SELECT COALESCE(MAX(id), 0) FROM leads")
        got = attempt(db, cid, path, allow_duplicates=True)
        if isinstance(got, InputError):
            return
        with Store(db) as st:
            leads = st.all("SELECT * FROM leads WHERE id > ? ORDER BY id", (known,))
            greeting = st.scalar("SELECT greeting FROM agents WHERE name = 'Zara'")
        by_line = {lead["row_number"]: lead for lead in leads}
        from dialcli.templates import normalize_header

        tokens = [normalize_header(h) for h in header]
        line = 2
        for row in rows:
            lead = by_line.get(line)
            line += 1 + sum(len(BREAK.findall(v)) for v in row)
            if lead is None:
                continue
            values = json.loads(lead["vars"])
            for token, value in zip(tokens, row):
                if token in values:
                    # Data is stored exactly as written (surrounding blanks trimmed).
                    assert values[token] == value.strip(), (token, value)
            text = render_for_lead(greeting, name=lead["name"], email=lead["email"],
                                   variables=values)
            case = values.get("CASE_NUMBER", "")
            if case.strip():
                # A value is never evaluated: "{{7*7}}" is spoken as written.
                assert case.strip() in text, (case, text)

    run()


def _cells(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("examples", budget(24, 300))
def test_exported_cells_are_neutralised_for_spreadsheets(cli, db_path, tmp_path, examples):
    with builders.workspace(db_path) as st:
        builders.campaign(st, greeting=GREETING, prompt=PROMPT)

    @fuzz(examples)
    @given(hs.lists(hs.lists(hs.sampled_from(HOSTILE_VALUES + ["plain", "CASE-7741"])
                             .filter(lambda v: "\x00" not in v), min_size=3, max_size=3),
                    min_size=1, max_size=6))
    def run(rows):
        header = ["name", "phone1", "email", "case number", "notes"]
        body = [[r[0], f"+1415555{1000 + i:04d}", r[1], r[2], r[0]] for i, r in enumerate(rows)]
        path = new_file(tmp_path, write_csv(header, body, "utf-8"))
        r = cli("import", path, "--allow-duplicates")
        assert r.exit_code == 0, r.output
        out = tmp_path / f"export{next(_files)}.csv"
        r = cli("report", "Spring", "--csv", out)
        assert r.exit_code == 0, r.output
        no_traceback(r.output)
        exported = _cells(out)
        for row in exported[1:]:
            for value in row:
                if value.startswith(FORMULA_PREFIXES):
                    assert is_e164(value), f"formula cell left live in the export: {value!r}"
        # Every hostile value is still there, behind a quote mark when it would run.
        flat = {v for row in exported[1:] for v in row}
        for r_ in rows:
            for v in r_:
                v = v.strip()
                if v and v.startswith(FORMULA_PREFIXES):
                    assert "'" + v in flat, v

    run()


# -- CSVs glued by hand: unbalanced quotes, stray bytes, odd encodings ----------------------

piece = hs.one_of(
    hs.sampled_from(HOSTILE_VALUES), hs.sampled_from(PHONES),
    hs.sampled_from(['"', '""', '"a,b"', '"x\ny"', 'a"b', "\ufeff", "\x00", ",", ";", "\t",
                     "\r", "\n", "\r\n", "\\", "\x1a", "\u2028", "é", "\udcff"]),
    hs.text(max_size=12),
)
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-32"]


@hs.composite
def glued(draw):
    lines = ["name,phone1,notes" if draw(hs.booleans()) else
             ",".join(draw(hs.lists(piece, min_size=1, max_size=6)))]
    for _ in range(draw(hs.integers(0, 8))):
        lines.append(",".join(draw(hs.lists(piece, min_size=0, max_size=6))))
    newline = draw(hs.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines) + draw(hs.sampled_from(["", newline]))
    chunks = []
    # Mixed encodings: each line may be encoded differently (files pasted together).
    for part in text.split(newline):
        enc = draw(hs.sampled_from(ENCODINGS))
        chunks.append(part.encode(enc, "surrogateescape" if enc.startswith("utf-8")
                                  else "replace"))
    return newline.encode().join(chunks)


@pytest.mark.parametrize("examples", budget(160, 3000))
def test_glued_csvs_import_or_refuse_cleanly(ws, tmp_path, examples):
    db, cid = ws

    @fuzz(examples)
    @given(glued())
    def run(data):
        attempt(db, cid, new_file(tmp_path, data))

    run()


@pytest.mark.parametrize("examples", budget(50, 600))
def test_cli_import_never_shows_a_traceback(cli, db_path, tmp_path, examples):
    with builders.workspace(db_path) as st:
        builders.campaign(st, greeting=GREETING, prompt=PROMPT)

    @fuzz(examples)
    @given(hs.one_of(glued(), hs.binary(max_size=500)))
    def run(data):
        before = dump(db_path)
        r = cli("import", new_file(tmp_path, data), "--json")
        assert r.exit_code in (0, 2), (r.exit_code, r.output)
        no_traceback(r.output)
        if r.exit_code == 2:
            assert r.stdout == "" and "Error:" in r.stderr
            assert dump(db_path) == before
        else:
            json.loads(r.stdout)

    run()


# -- one at a time: sizes and shapes a property test would not reach -------------------------

def _rows(n, start=1000):
    return "".join(f"Lead {i},+1415555{start + i:04d},n\n" for i in range(n))


@pytest.mark.parametrize("where", ["first row", "after 200 rows"])
def test_a_10_mb_cell_is_refused_wherever_it_is(ws, tmp_path, where):
    db, cid = ws
    big = "Big,+14155559999," + "x" * 10_000_000 + "\n"
    text = "name,phone1,notes\n" + (big if where == "first row" else _rows(200) + big)
    got = attempt(db, cid, new_file(tmp_path, text.encode()))
    assert isinstance(got, InputError)
    line = 2 if where == "first row" else 202
    assert f"line {line}" in str(got) and "1,048,576" in str(got)


def test_a_quote_that_is_never_closed_is_refused_not_swallowed(ws, tmp_path):
    db, cid = ws
    text = ("name,phone1,notes\nA,+14155550201,ok\nB,+14155550202,\"unclosed\n"
            "C,+14155550203,x\nD,+14155550204,y\n")
    got = attempt(db, cid, new_file(tmp_path, text.encode()))
    # Leads C and D must not vanish into B's notes.
    assert isinstance(got, InputError), got
    assert "line 3" in str(got) and "never closed" in str(got)


def test_a_quote_never_closed_in_a_file_the_csv_reader_takes(ws, tmp_path):
    db, cid = ws
    # The first row has far more fields than the header, so the csv reader reads it.
    text = ("name,phone1\nA,+14155550201" + ",x" * 40 + "\nB,+14155550202\n"
            "C,\"+14155550203\nD,+14155550204\n")
    got = attempt(db, cid, new_file(tmp_path, text.encode()))
    assert isinstance(got, InputError) and "line 4" in str(got)


def test_a_closed_multiline_last_value_is_fine(ws, tmp_path):
    db, cid = ws
    text = 'name,phone1,notes\nA,+14155550201,"two\nlines"\nB,+14155550202,"x ""y""\nz"'
    got = attempt(db, cid, new_file(tmp_path, text.encode()))
    assert got.imported == 2


def test_twenty_thousand_columns(ws, tmp_path):
    db, cid = ws
    header = ["name", "phone1"] + [f"c{i}" for i in range(20_000)]
    row = ["Alex", "+14155550123"] + ["=1+1"] * 20_000
    got = attempt(db, cid, new_file(tmp_path, write_csv(header, [row], "utf-8")))
    assert got.imported == 1
    with Store(db) as st:
        values = json.loads(st.scalar("SELECT vars FROM leads"))
    assert len(values) == 20_000 and values["C19999"] == "=1+1"


@pytest.mark.parametrize("data,fragment", [
    (b"\x00\x00\x00\x00", "NUL"),
    (b"name,phone1\n" + b"A,+14155550123\n" * 10 + b"\x00", None),
    (b"PK\x03\x04garbage", "Excel"),
    (b"\n\n\n\r\n", "no header"),
    (b"name,phone1\n", "no data rows"),
    (b"\xef\xbb\xbf", None),
    (b"name,name,phone1\nA,B,+14155550123\n", "both become NAME"),
    (b"nom,telephone\nA,+14155550123\n", "missing the required"),
])
def test_shapes_that_are_refused_with_a_reason(ws, tmp_path, data, fragment):
    db, cid = ws
    got = attempt(db, cid, new_file(tmp_path, data))
    if fragment is not None:
        assert isinstance(got, InputError) and fragment in str(got), got


def test_every_csv_export_neutralises_formulas_from_lead_data(cli, db_path, tmp_path):
    with builders.workspace(db_path) as st:
        builders.campaign(st, greeting=GREETING, prompt=PROMPT)
    names = [v for v in FORMULAS if v.strip()]
    header = ["name", "phone1", "email", "case number", "timezone", "consent_at", "consent_type"]
    body = [[name, f"+1212555{1000 + i:04d}", name, name, "America/New_York", "2026-01-02",
             "express"] for i, name in enumerate(names)]
    r = cli("import", new_file(tmp_path, write_csv(header, body, "utf-8")))
    assert r.exit_code == 0, r.output
    r = cli("start", "Spring", "--simulate", "--seed", "5")
    assert r.exit_code == 0, r.output
    exports = {"leads": ("report", "Spring", "--csv"), "calls": ("report", "Spring", "--calls",
                                                                   "--csv"),
               "audit": ("audit", "Spring", "--csv")}
    for what, argv in exports.items():
        out = tmp_path / f"{what}.csv"
        r = cli(*argv, out)
        assert r.exit_code == 0, r.output
        rows = _cells(out)
        assert len(rows) > len(names) // 2, (what, len(rows))
        live = [v for row in rows[1:] for v in row
                if v.startswith(FORMULA_PREFIXES) and not is_e164(v)]
        assert not live, (what, live[:5])


# -- the opt-out list importer (dnc import): registry files, CSVs, zips -------------------------

@pytest.mark.parametrize("examples", budget(100, 2000))
def test_dnc_import_takes_anything_or_refuses_cleanly(ws, tmp_path, examples):
    from dialcli.compliance import dnc

    db, _cid = ws

    @fuzz(examples)
    @given(hs.one_of(glued(), hs.binary(max_size=400),
                     hs.lists(hs.sampled_from(PHONES + ["2125550142,D", "212,5550143", "#x",
                                                        "phone\r", '"415-555-0101"']),
                              max_size=8).map(lambda rows: "\n".join(rows).encode())),
           hs.booleans())
    def run(data, zipped):
        path = new_file(tmp_path, data)
        if zipped:
            import zipfile

            with zipfile.ZipFile(path.with_suffix(".zip"), "w") as zf:
                zf.writestr("list.txt", data)
            path = path.with_suffix(".zip")
        before = dump(db)
        with Store(db) as st:
            try:
                dnc.import_file(st, path, now_iso="2026-03-03T15:00:00.000Z")
            except InputError as exc:
                assert str(exc).strip()
                assert dump(db) == before

    run()


def test_dnc_import_refuses_a_zip_that_inflates_to_one_endless_line(ws, tmp_path):
    import zipfile

    from dialcli.compliance import dnc

    db, _cid = ws
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("list.txt", "2" * 5_000_000)         # 5 MB, one line, ~5 KB zipped
    before = dump(db)
    with Store(db) as st, pytest.raises(InputError, match="longer than 1,048,576"):
        dnc.import_file(st, path, now_iso="2026-03-03T15:00:00.000Z")
    assert dump(db) == before
