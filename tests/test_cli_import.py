"""CLI: ``dialcli template`` and ``dialcli import`` (exit codes first, then output)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dialcli.store import Store


def make_campaign(db_path, name="Spring", status="DRAFT") -> None:
    st = Store(db_path)
    with st.tx():
        agent = st.scalar("SELECT id FROM agents WHERE name = 'Zara'")
        if agent is None:
            agent = st.execute(
                "INSERT INTO agents (name, greeting, system_prompt, created_at, updated_at) "
                "VALUES ('Zara', 'Hi {{NAME}}', 'You are Zara.', 't', 't')").lastrowid
        st.execute("INSERT OR IGNORE INTO numbers (e164, added_at) VALUES ('+14155550100', 't')")
        st.execute("INSERT INTO campaigns (name, agent_id, from_number, status, created_at, "
                   "updated_at) VALUES (?, ?, '+14155550100', ?, 't', 't')", (name, agent, status))
    st.close()


def count(db_path, sql="SELECT COUNT(*) FROM leads"):
    st = Store(db_path)
    try:
        return st.scalar(sql)
    finally:
        st.close()


LEADS = ("name,phone1,phone2,email,case number\n"
         "Alex Chen,+1 415 555 0101,,alex@example.com,CASE-1\n"
         "Jamie Lee,(212) 555-0102,212.555.0152,jamie@example.com,CASE-2\n"
         "Bad Phone,4.1555512E+10,,x@example.com,CASE-3\n"
         "Twin,212-555-0102,,,CASE-4\n")


# -- template ---------------------------------------------------------------------------

def test_template_to_stdout(cli):
    result = cli("template", db=False)
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:5] == ["name", "phone1", "phone2", "phone3", "email"]
    assert {"timezone", "case_number", "amount"} <= set(rows[0])
    assert len(rows) == 3 and all(len(r) == len(rows[0]) for r in rows)


def test_template_has_the_consent_columns_with_an_example_of_each_type(cli):
    result = cli("template", db=False)
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["consent_type"], bool(r["consent_at"]), bool(r["consent_source"]))
            for r in rows] == [("written", True, True), ("express", True, True)]


def test_template_consent_becomes_records_not_variables(cli, db_path, tmp_path):
    make_campaign(db_path)
    out = tmp_path / "t.csv"
    assert cli("template", "-o", out).exit_code == 0
    result = cli("import", out, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["consent_records"] == 3 and data["rejected"] == 0      # Jamie has two phones
    assert not {"CONSENT_AT", "CONSENT_TYPE", "CONSENT_SOURCE"} & set(data["variables"])
    assert count(db_path, "SELECT consented_at FROM consent WHERE kind = 'written'") == \
        "2026-01-15T18:24:00.000Z"
    # A date alone counts from the end of that day in the lead's zone (New York, EST).
    assert count(db_path, "SELECT consented_at FROM consent WHERE e164 = '+12125550102'") == \
        "2026-02-03T04:59:59.999Z"


def test_template_file_refuses_to_overwrite(cli, tmp_path):
    out = tmp_path / "t.csv"
    result = cli("template", "-o", out, db=False)
    assert result.exit_code == 0
    assert "Wrote" in result.stderr and out.read_text().startswith("name,phone1,")
    result = cli("template", "-o", out, "--header-only", db=False)
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    result = cli("template", "-o", out, "--header-only", "--force", db=False)
    assert result.exit_code == 0
    assert out.read_text().count("\n") == 1


def test_template_takes_the_file_as_an_argument_too(cli, tmp_path):
    out = tmp_path / "leads.csv"
    result = cli("template", out, db=False)
    assert result.exit_code == 0 and out.read_text().startswith("name,phone1,")
    result = cli("template", tmp_path / "other.csv", "-o", out, db=False)
    assert result.exit_code == 2 and "name one" in result.stderr
    assert not (tmp_path / "other.csv").exists()


def test_template_imports_cleanly(cli, db_path, tmp_path):
    make_campaign(db_path)
    out = tmp_path / "t.csv"
    assert cli("template", "-o", out).exit_code == 0
    result = cli("import", out)
    assert result.exit_code == 0, result.output
    assert count(db_path) == 2
    assert count(db_path, "SELECT timezone FROM leads WHERE name = 'Jamie Lee'") == "America/New_York"


# -- import ---------------------------------------------------------------------------------

def test_import_summary(cli, db_path, tmp_path):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    result = cli("import", path, "--campaign", "spring")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Imported 2 leads into campaign Spring from leads.csv" in out
    assert "rejected" in out and "Excel scientific notation: 1" in out
    assert "duplicates" in out
    assert "America/New_York" in out and "America/Los_Angeles" in out
    assert f"{tmp_path / 'leads.rejects.csv'}" in out.replace("\n", "")
    rejects = list(csv.reader((tmp_path / "leads.rejects.csv").open(encoding="utf-8-sig")))
    assert [r[0] for r in rejects[1:]] == ["4", "5"]
    assert count(db_path) == 2


def test_import_json(cli, db_path, tmp_path):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    result = cli("import", path, "--json", "--rejects", tmp_path / "bad.csv")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["imported"], data["rejected"], data["duplicates"]) == (2, 1, 1)
    assert data["campaign"] == "Spring" and data["rows"] == 4
    assert data["variables"] == ["CASE_NUMBER"]
    assert data["rejects_file"] == str(tmp_path / "bad.csv")
    assert data["leads_per_zone"] == {"America/Los_Angeles": 1, "America/New_York": 1}


def test_import_map_reads_a_crm_export_without_editing_it(cli, db_path, tmp_path):
    """The hint names the --map that fixes the file; with it the file imports; a --map
    naming no column, or not KEY=VALUE, exits 2 and writes nothing."""
    make_campaign(db_path)
    path = tmp_path / "crm.csv"
    path.write_text("Attendee Name,Surname,Tel/WhatsApp\nAlex,Chen,4155550123\n")
    result = cli("import", path)
    assert result.exit_code == 2 and "--map Tel/WhatsApp=phone1" in result.stderr
    assert "--map 'Attendee Name=name'" in result.stderr
    for bad, words in ((["--map", "Cell=phone1"], "no column 'Cell'"),
                       (["--map", "Tel/WhatsApp"], "is not CSV_COLUMN=COLUMN")):
        result = cli("import", path, "--map", "Attendee Name=name", *bad)
        assert result.exit_code == 2 and words in result.stderr, result.stderr
    assert count(db_path) == 0
    result = cli("import", path, "--map", "Attendee Name=name", "--map", "Tel/WhatsApp=phone1",
                 "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["imported"] == 1 and data["variables"] == ["SURNAME"]
    assert count(db_path) == 1


def test_import_allow_duplicates(cli, db_path, tmp_path):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    result = cli("import", path, "--allow-duplicates", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["imported"] == 3


def test_missing_columns_exit_2_lists_headers(cli, db_path, tmp_path):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    path.write_text("Person,Fax\nAlex,4155550101\n")
    result = cli("import", path)
    assert result.exit_code == 2
    assert "missing the required columns 'name' and 'phone1'" in result.stderr
    assert "'Person', 'Fax'" in result.stderr
    assert count(db_path) == 0 and count(db_path, "SELECT COUNT(*) FROM imports") == 0


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    ("", "is empty"),
    ("name,phone1\n", "no data rows"),
])
def test_bad_files_exit_2(cli, db_path, tmp_path, content, message):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    if content is not None:
        path.write_text(content)
    result = cli("import", path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert count(db_path, "SELECT COUNT(*) FROM imports") == 0


def test_campaign_required_when_ambiguous(cli, db_path, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    result = cli("import", path)
    assert result.exit_code == 2 and "No dialcli workspace" in result.stderr
    assert not db_path.exists()
    Store(db_path).close()
    result = cli("import", path)
    assert result.exit_code == 2 and "no campaigns yet" in result.stderr
    make_campaign(db_path, "A")
    make_campaign(db_path, "B")
    result = cli("import", path)
    assert result.exit_code == 2 and "Which campaign?" in result.stderr
    result = cli("import", path, "--campaign", "Nope")
    assert result.exit_code == 2 and "No campaign named 'Nope'" in result.stderr


def test_import_into_completed_campaign_says_paused(cli, db_path, tmp_path):
    make_campaign(db_path, status="COMPLETED")
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    result = cli("import", path)
    assert result.exit_code == 0
    assert "now PAUSED" in result.stdout and "dialcli resume Spring" in result.stdout
    assert count(db_path, "SELECT status FROM campaigns") == "PAUSED"


def test_encoding_notice_on_stderr(cli, db_path, tmp_path):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    path.write_bytes("name,phone1\nRenée,2125550142\n".encode("cp1252"))
    result = cli("import", path, "--json")
    assert result.exit_code == 0
    assert "Windows-1252" in result.stderr
    assert json.loads(result.stdout)["encoding"] == "cp1252"


def test_bad_default_region(cli, db_path, tmp_path):
    make_campaign(db_path)
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    result = cli("import", path, "--default-region", "XX")
    assert result.exit_code == 2 and "not a region code" in result.stderr


def test_help_has_examples(cli):
    for command in ("template", "import"):
        result = cli(command, "--help", db=False)
        assert result.exit_code == 0
        assert "Example" in result.stdout
