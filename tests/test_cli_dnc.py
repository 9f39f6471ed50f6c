"""``dialcli dnc add|remove|list|import|export`` end to end on a real workspace file."""

from __future__ import annotations

import json

import builders


def test_add_list_remove(cli, store):
    cid = builders.campaign(store, "C")
    (lid,) = builders.add_leads(store, cid, [{"phones": ["2125550102", "3125550103"]}])
    r = cli("dnc", "add", "(212) 555-0102", "+13125550199", "--reason", "asked by email")
    assert r.exit_code == 0, r.output
    assert "Added 2 number(s)" in r.stderr and "1 lead phone(s) retired" in r.stderr
    assert builders.lead(store, lid)["phone_slot"] == 2

    r = cli("dnc", "add", "2125550102", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["already"] == 1

    r = cli("dnc", "list", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["total"] == 2 and {e["e164"] for e in data["entries"]} == \
        {"+12125550102", "+13125550199"}
    assert data["entries"][0]["reason"] == "asked by email"

    r = cli("dnc", "list", "--search", "212")
    assert r.exit_code == 0 and "+12125550102" in r.stdout and "+13125550199" not in r.stdout

    r = cli("dnc", "remove", "+12125550102", "--reason", "typo")
    assert r.exit_code == 2 and "--yes" in r.stderr            # no terminal to ask on
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 2
    r = cli("dnc", "remove", "+12125550102", "--reason", "typo", "--yes")
    assert r.exit_code == 0 and "Removed 1 number(s)" in r.stderr
    assert "dialable again" in r.stderr
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 1


def test_bad_numbers_exit_2_and_change_nothing(cli, store):
    r = cli("dnc", "add", "2125550102", "12345", "banana")
    assert r.exit_code == 2
    assert "'12345'" in r.stderr and "'banana'" in r.stderr
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 0


def test_remove_of_a_call_opt_out_needs_force(cli, store):
    with store.tx() as conn:
        conn.execute("INSERT INTO dnc (e164, reason, source, added_at) VALUES "
                     "('+12125550102', 'asked on a call', 'call', '2026-03-03T15:00:00.000Z')")
    r = cli("dnc", "remove", "+12125550102", "--yes")
    assert r.exit_code == 1 and "asked to be removed on a call" in r.stderr
    assert "--with-new-consent" in r.stderr
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 1
    # --force means "overwrite a file" (template); here it is refused with the new name.
    r = cli("dnc", "remove", "+12125550102", "--force", "--yes")
    assert r.exit_code == 2 and "--with-new-consent" in r.stderr
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 1
    r = cli("dnc", "remove", "+12125550102", "--with-new-consent", "--yes")
    assert r.exit_code == 0 and store.scalar("SELECT COUNT(*) FROM dnc") == 0


def test_import_and_export(cli, store, tmp_path):
    reg = tmp_path / "415.txt"
    reg.write_text("4155550101\n415,5550102\nnot-a-number\n")
    r = cli("dnc", "import", reg)
    assert r.exit_code == 0, r.output
    assert "Added" in r.stdout and "line 3: 'not-a-number'" in r.stderr
    assert "2 number(s) added" in r.stderr

    csv_in = tmp_path / "unsub.csv"
    csv_in.write_text("Name,Mobile Phone\nA,(212) 555-0102\nB,4155550101\n")
    r = cli("dnc", "import", csv_in, "--json")
    assert r.exit_code == 0
    report = json.loads(r.stdout)
    assert (report["format"], report["added"], report["already"]) == ("csv", 1, 1)
    assert report["columns"] == ["Mobile Phone"]

    r = cli("dnc", "import", tmp_path / "nope.txt")
    assert r.exit_code == 2 and "does not exist" in r.stderr

    target = tmp_path / "out.csv"
    r = cli("dnc", "export", target)
    assert r.exit_code == 0 and "Wrote 3 number(s)" in r.stderr
    lines = target.read_text().splitlines()
    assert lines[0].startswith("e164,") and len(lines) == 4
    r = cli("dnc", "export", "--format", "txt")
    assert r.exit_code == 0
    assert r.stdout.split() == ["+12125550102", "+14155550101", "+14155550102"]
    r = cli("dnc", "export", "--format", "xml")
    assert r.exit_code == 2
    r = cli("dnc", "export", tmp_path / "missing" / "x.csv")
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_import_without_phone_column_exits_2(cli, store, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("name,email\nA,a@example.com\n")
    r = cli("dnc", "import", f)
    assert r.exit_code == 2 and "No phone column" in r.stderr and "--column" in r.stderr
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 0


def test_help_has_examples(cli):
    for sub in ("add", "remove", "list", "import", "export"):
        r = cli("dnc", sub, "--help")
        assert r.exit_code == 0 and "Example" in r.stdout
