"""Lead import core: headers, phones, zones, rejects, duplicates, opt-outs, atomicity."""

from __future__ import annotations

import csv
import json
import random
import sys
from datetime import datetime, timezone
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from dialcli.results import audit as results_audit
from dialcli.leads import importer
from dialcli.errors import InputError, Interrupted
from dialcli.leads.csvfile import merge_region
from dialcli.phones import PhoneError, PhoneParser, _describe, _describe_nanp
from dialcli.templates import normalize_header

import builders

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def campaign(store) -> int:
    return builders.campaign(store)


def write(tmp_path: Path, text: str, name="leads.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(store, path, campaign, **kw):
    kw.setdefault("workers", 0)
    return importer.import_csv(store, path, campaign_id=campaign, now=NOW, **kw)


def leads(store):
    return store.all("SELECT * FROM leads ORDER BY id")


def phones(store, lead_id):
    return store.all("SELECT * FROM lead_phones WHERE lead_id = ? ORDER BY slot", (lead_id,))


def group(store, gid):
    row = store.one("SELECT zones, region FROM zone_groups WHERE id = ?", (gid,))
    return (row["zones"], row["region"])


def nothing_written(store) -> bool:
    return (store.scalar("SELECT COUNT(*) FROM leads") == 0
            and store.scalar("SELECT COUNT(*) FROM imports") == 0
            and store.scalar("SELECT COUNT(*) FROM lead_phones") == 0)


# -- headers -------------------------------------------------------------------------

@given(hs.text(max_size=30))
def test_normalize_header_properties(text):
    token = normalize_header(text)
    assert normalize_header(token) == token            # idempotent
    assert all(c.isascii() and (c.isupper() or c.isdigit() or c == "_") for c in token)
    assert not token[:1].isdigit()
    assert "__" not in token.lstrip("_")


def test_normalize_header_examples():
    assert normalize_header("case number") == "CASE_NUMBER"
    assert normalize_header("Tax-ID") == "TAX_ID"
    assert normalize_header("  Due   Date ") == "DUE_DATE"
    assert normalize_header("Café") == "CAFE"


def test_missing_required_columns_lists_headers_and_writes_nothing(store, campaign, tmp_path):
    path = write(tmp_path, "Attendee Name,Phone,email\nAlex,4155550123,a@x.io\n")
    with pytest.raises(InputError) as exc:
        run(store, path, campaign)
    text = str(exc.value)
    assert "'name'" in text and "phone1" not in text.split("\n")[0]
    assert "'Attendee Name', 'Phone', 'email'" in text
    assert "Did you mean 'Attendee Name'? Import with --map 'Attendee Name=name'" in text
    assert exc.value.exit_code == 2
    assert nothing_written(store)
    path = write(tmp_path, "Attendee Name,Tel/WhatsApp,email\nAlex,4155550123,a@x.io\n")
    with pytest.raises(InputError) as exc:
        run(store, path, campaign)
    assert "'name' and 'phone1'" in str(exc.value)
    assert "Did you mean 'Tel/WhatsApp'? Import with --map Tel/WhatsApp=phone1" in str(exc.value)
    assert nothing_written(store)


@pytest.mark.parametrize("header,want,email", [
    ("name,Phone 1,phone-2,E-mail", ["+14155550123", "+12125550199"], "a@x.io"),
    ("Name,PHONE_1,Phone #2,e_mail", ["+14155550123", "+12125550199"], "a@x.io"),
    ("name,Phone,phone2,Email", ["+14155550123", "+12125550199"], "a@x.io"),
    ("name,phone number,Phone 2,EMAIL", ["+14155550123", "+12125550199"], "a@x.io"),
])
def test_a_leads_own_columns_written_another_way(store, campaign, tmp_path, header, want,
                                                 email):
    """'Phone 1', 'E-mail', 'PHONE_1' are phone1 and email (separators in a lead's own
    column ignored), and a lone 'phone' column is phone1."""
    path = write(tmp_path, f"{header}\nAlex,415-555-0123,(212) 555-0199,{email}\n")
    summary = run(store, path, campaign)
    (lead,) = leads(store)
    assert [p["e164"] for p in phones(store, lead["id"])] == want
    assert lead["email"] == email and json.loads(lead["vars"]) == {}
    assert summary.variables == []


def test_a_written_column_wins_over_one_written_another_way(store, campaign, tmp_path):
    """Beside 'Email', 'E-mail' stays the variable E_MAIL (as it always was); beside
    'phone1', 'Phone' is a variable; beside 'timezone', 'Time Zone' too."""
    path = write(tmp_path, "name,phone1,Phone,Email,E-mail,timezone,Time Zone\n"
                           "Alex,4155550123,x,a@x.io,b,America/Chicago,y\n")
    summary = run(store, path, campaign)
    (lead,) = leads(store)
    assert lead["email"] == "a@x.io" and lead["timezone"] == "America/Chicago"
    assert summary.variables == ["PHONE", "E_MAIL", "TIME_ZONE"]
    assert json.loads(lead["vars"]) == {"PHONE": "x", "E_MAIL": "b", "TIME_ZONE": "y"}
    assert [p["e164"] for p in phones(store, lead["id"])] == ["+14155550123"]


def test_map_says_what_a_column_is(store, campaign, tmp_path):
    path = write(tmp_path, "First Name,Last Name,Mobile Phone,Home Phone,Amt\n"
                           "Alex,Chen,4155550123,2125550199,5\n")
    summary = importer.import_csv(store, path, campaign_id=campaign, now=NOW, columns={
        "first name": "name", "Mobile Phone": "phone1", "HOME_PHONE": "Phone 2", "Amt": "amount"})
    (lead,) = leads(store)
    assert lead["name"] == "Alex"
    assert [p["e164"] for p in phones(store, lead["id"])] == ["+14155550123", "+12125550199"]
    assert json.loads(lead["vars"]) == {"LAST_NAME": "Chen", "AMOUNT": "5"}
    assert summary.imported == 1


@pytest.mark.parametrize("columns,words", [
    ({"Cell": "phone1"}, "the file has no column 'Cell'"),
    ({"Mobile Phone": "phone1", "Home Phone": "phone1"}, "both become PHONE1"),
    ({"Mobile Phone": "name"}, "both become NAME"),
])
def test_a_bad_map_is_refused_and_writes_nothing(store, campaign, tmp_path, columns, words):
    path = write(tmp_path, "name,Mobile Phone,Home Phone\nAlex,4155550123,2125550199\n")
    with pytest.raises(InputError, match=words):
        importer.import_csv(store, path, campaign_id=campaign, now=NOW, columns=columns)
    assert nothing_written(store)


@pytest.mark.parametrize("pairs,ok", [
    (["Mobile Phone=phone1"], {"Mobile Phone": "phone1"}),
    (["a=b=phone2"], {"a=b": "phone2"}),
    (["Mobile Phone"], None), (["=phone1"], None), (["x="], None), (["x=1", "x=2"], None),
])
def test_parse_column_map(pairs, ok):
    from dialcli.leads.header import parse_column_map

    if ok is None:
        with pytest.raises(InputError):
            parse_column_map(pairs)
    else:
        assert parse_column_map(pairs) == ok


def test_colliding_lead_columns_are_an_error(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1,Name\nA,4155550123,B\n")
    with pytest.raises(InputError, match="'name' .* and 'Name' .* both become NAME"):
        run(store, path, campaign)
    assert nothing_written(store)


def test_two_variable_columns_of_one_name_both_keep_their_values(store, campaign, tmp_path):
    """Two 'Notes' columns (or 'Case Number' and 'case-number'): the second is NOTES_2,
    with a warning, instead of refusing a file its CRM wrote that way."""
    path = write(tmp_path, "name,phone1,Case Number,case-number,notes,notes,NOTES_2\n"
                           "A,4155550123,1,2,x,y,z\n")
    summary = run(store, path, campaign)
    (lead,) = leads(store)
    assert json.loads(lead["vars"]) == {"CASE_NUMBER": "1", "CASE_NUMBER_2": "2", "NOTES": "x",
                                        "NOTES_3": "y", "NOTES_2": "z"}
    assert any("{{CASE_NUMBER_2}}" in w for w in summary.warnings)


def test_structured_columns_and_variables(store, campaign, tmp_path):
    path = write(tmp_path, "Name,PHONE1,E-mail,Email,amount,case number,State,Tax-ID,phone11\n"
                           " Alex Chen ,415-555-0123,x,alex@acme.io, 5000 ,CASE-1,CA,12-3,999\n")
    summary = run(store, path, campaign)
    (lead,) = leads(store)
    assert lead["name"] == "Alex Chen"
    assert lead["email"] == "alex@acme.io"
    assert json.loads(lead["vars"]) == {"E_MAIL": "x", "AMOUNT": "5000", "CASE_NUMBER": "CASE-1",
                                        "STATE": "CA", "TAX_ID": "12-3", "PHONE11": "999"}
    assert summary.variables == ["E_MAIL", "AMOUNT", "CASE_NUMBER", "STATE", "TAX_ID", "PHONE11"]
    assert any("phone11" in w for w in summary.warnings)
    row = store.one("SELECT * FROM imports")
    assert json.loads(row["columns"])[:3] == ["NAME", "PHONE1", "E_MAIL"]
    assert (row["rows"], row["imported"], row["rejected"]) == (1, 1, 0)


# -- phones ----------------------------------------------------------------------------

FORMATS = ["+14155550123", "(415) 555-0123", "415-555-0123", "415.555.0123", "4155550123",
           "1 415 555 0123", "+1 (415) 555-0123", "1-415-555-0123", " 415 555 0123 ",
           "415/555-0123",
           # as CRM and spreadsheet exports write them: a label, a float's ".0"
           "415-555-0123 (cell)", "Mobile: (415) 555-0123", "(415) 555-0123 - home",
           "4155550123.0", "(415) 555-0123 (celular)", "Home 415 555 0123", "415-555-0123 cell"]


@pytest.mark.parametrize("text", FORMATS)
def test_each_phone_format_becomes_e164(store, campaign, tmp_path, text):
    path = write(tmp_path, f'name,phone1\nAlex,"{text}"\n')
    run(store, path, campaign)
    (lead,) = leads(store)
    (p,) = phones(store, lead["id"])
    assert (p["e164"], p["zones"], p["region"], p["dead_reason"]) == \
        ("+14155550123", "America/Los_Angeles", "US-CA", None)
    assert lead["phone1"] == "+14155550123"


@pytest.mark.parametrize("text,reason", [
    ("415-555-0123 (fax)", "labelled as a fax number"),
    ("415-555-0123; 415-555-0124", "two numbers in one cell"),
    ("415-555-0123 / 415-555-0124", "two numbers in one cell"),
    ("415-555-0123 or 415-555-0124", "two numbers in one cell"),
])
def test_a_cell_that_is_not_one_dialable_number_says_why(store, campaign, tmp_path, text,
                                                         reason):
    path = write(tmp_path, f'name,phone1,phone2\nAlex,"{text}",\nBo,"{text}",2125550199\n')
    summary = run(store, path, campaign)
    assert summary.imported == 1 and summary.rejected == 1       # Bo keeps phone2
    rejects = (tmp_path / "leads.rejects.csv").read_text(encoding="utf-8-sig")
    assert reason in rejects


def test_international_number_and_default_region(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1\nA,+44 20 7946 0958\nB,020 7946 0959\n")
    summary = run(store, path, campaign, default_region="GB")
    assert summary.imported == 2
    assert [r["phone1"] for r in leads(store)] == ["+442079460958", "+442079460959"]


def test_excel_scientific_notation_rejected_with_reason(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1\nAlex,4.1555512E+10\nJamie,2125550142\n")
    summary = run(store, path, campaign)
    assert summary.imported == 1 and summary.rejected == 1
    rows = list(csv.reader(open(summary.rejects_file, encoding="utf-8-sig")))
    assert rows[0] == ["line", "reason", "name", "phone1"]
    assert rows[1][0] == "2"
    assert "Excel scientific notation" in rows[1][1] and "Text" in rows[1][1]
    assert rows[1][2:] == ["Alex", "4.1555512E+10"]
    assert summary.rejected_by_reason == {"no valid phone: looks like Excel scientific notation": 1}


def test_invalid_slot_dropped_lead_kept(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1,phone2,phone3\nAlex,555-12,2125550142,4.15E+09\n")
    summary = run(store, path, campaign)
    (lead,) = leads(store)
    assert [p["slot"] for p in phones(store, lead["id"])] == [2]
    assert lead["phone_slot"] == 2 and lead["phone1"] == "+12125550142"
    assert summary.dropped_phones == 2
    assert summary.dropped_by_reason == {"too few digits for a phone number": 1,
                                         "looks like Excel scientific notation": 1}
    assert summary.dropped_examples[0] == {
        "line": 2, "column": "phone1", "value": "555-12",
        "reason": "too few digits for a phone number"}
    assert summary.rejects_file is None


def test_row_without_valid_phone_rejected(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1,phone2\nNo Phone,,\nBad,call me,12\nGood,2125550142,\n")
    summary = run(store, path, campaign)
    assert summary.imported == 1 and summary.rejected == 2
    assert summary.rejected_by_reason == {"no phone number": 1,
                                          "no valid phone: not a phone number": 1}
    rows = list(csv.reader(open(tmp_path / "leads.rejects.csv", encoding="utf-8-sig")))
    assert [r[0] for r in rows[1:]] == ["2", "3"]
    assert rows[2][1] == "no valid phone: phone1 'call me': not a phone number"


def test_parse_column_matches_parse():
    rnd = random.Random(7)
    parser, reference = PhoneParser("US"), PhoneParser("US")
    fmts = [lambda a, b, c: f"+1{a}{b}{c}", lambda a, b, c: f"({a}) {b}-{c}",
            lambda a, b, c: f"1.{a}.{b}.{c}", lambda a, b, c: f"+1 {a}-{b}-{c}",
            lambda a, b, c: f"{a}{b}{c}", lambda a, b, c: f"+{a}{b}{c}"]
    values = []
    for _ in range(3000):
        a, b = rnd.choice([212, 415, 208, 907, 876, 246, 800, 999, 141]), rnd.randrange(1000)
        values.append(rnd.choice(fmts)(a, f"{b:03d}", f"{rnd.randrange(10000):04d}"))
    values += ["", "  ", "4.1555512E+10", "+44 20 7946 0958", "call me", "+1 ٤١٥ 555 0123"]
    e164s, ids, errors = parser.parse_column(values * 2)   # twice: cold, then cached
    for i, value in enumerate(values * 2):
        try:
            want = reference.parse(value)
        except PhoneError as exc:
            assert e164s[i] is None and ids[i] == -1
            assert errors.get(i) == (None if not value.strip() else str(exc))
            continue
        info = parser.infos[ids[i]]
        assert (e164s[i], info.zones, info.region, info.country) == \
            (want.e164, want.zones, want.region, want.country)
        assert e164s[i].isascii()


def test_describe_nanp_equals_describe():
    rnd = random.Random(11)
    for npa in range(200, 1000, 3):
        for _ in range(3):
            num = phonenumbers.parse(f"+1{npa}{rnd.randrange(1000):03d}{rnd.randrange(10000):04d}")
            try:
                want = _describe(num)
            except PhoneError as exc:
                with pytest.raises(PhoneError, match=str(exc)):
                    _describe_nanp(num)
                continue
            assert _describe_nanp(num) == want


# -- zones, state, timezone override -----------------------------------------------------

def test_multi_zone_area_code_and_groups(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1,phone2\nA,208-555-0110,2125550142\nB,+12125550143,\n")
    summary = run(store, path, campaign)
    a, b = leads(store)
    assert group(store, a["cur_group"]) == ("America/Boise,America/Los_Angeles", "US-ID")
    assert b["cur_group"] == phones(store, a["id"])[1]["group_id"]
    assert summary.leads_per_zone == {"America/Boise,America/Los_Angeles": 1, "America/New_York": 1}


def test_timezone_column_adds_to_the_numbers_zones(store, campaign, tmp_path):
    # The column adds a zone, never replaces the number's: the window must be open in
    # every zone the person could be in (a 415 number tagged New York is still Pacific).
    path = write(tmp_path, "name,phone1,phone2,timezone\n"
                           "A,208-555-0110,2125550142,america/chicago\n"
                           "B,2125550143,,Mars/Base\n"
                           "C,8005551212,,\n")
    summary = run(store, path, campaign)
    a, b, c = leads(store)
    assert a["timezone"] == "America/Chicago"
    assert [group(store, p["group_id"]) for p in phones(store, a["id"])] == \
        [("America/Boise,America/Los_Angeles,America/Chicago", "US-ID"),
         ("America/New_York,America/Chicago", "US-NY")]
    # The phone's own facts stay on the phone row.
    assert phones(store, a["id"])[0]["zones"] == "America/Boise,America/Los_Angeles"
    assert b["timezone"] is None and group(store, b["cur_group"]) == ("America/New_York", "US-NY")
    assert group(store, c["cur_group"]) == ("", "US")   # toll-free: no zone
    assert any("1 timezone value(s) are not IANA" in w for w in summary.warnings)
    assert any("no known time zone" in w for w in summary.warnings)
    assert summary.leads_per_zone["(unknown time zone)"] == 1


def test_state_column_widens_group_region(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1,state\nA,2125550142,Georgia\nB,2125550143,ny\n"
                           "C,2125550144,Atlantis\nD,8005551212,FL\n")
    summary = run(store, path, campaign)
    regions = [group(store, lead["cur_group"])[1] for lead in leads(store)]
    assert regions == ["US-GA,US-NY", "US-NY", "US-NY", "US-FL"]
    # A state the number is not in adds that state's zones too (its hours are local).
    zones = [group(store, lead["cur_group"])[0] for lead in leads(store)]
    assert zones == ["America/New_York", "America/New_York", "America/New_York",
                     "America/New_York,America/Chicago"]
    assert json.loads(leads(store)[0]["vars"]) == {"STATE": "Georgia"}
    assert any("1 state value(s) are not a US state" in w for w in summary.warnings)


def test_merge_region():
    assert merge_region("US-FL", "GA") == "US-FL,US-GA"
    assert merge_region("US-FL", "FL") == "US-FL"
    assert merge_region("US", "FL") == "US-FL"
    assert merge_region("CA-ON", None) == "CA-ON"


def test_existing_zone_groups_reused(store, campaign, tmp_path):
    store.execute("INSERT INTO zone_groups (zones, region) VALUES ('America/New_York', 'US-NY')")
    gid = store.scalar("SELECT id FROM zone_groups")
    run(store, write(tmp_path, "name,phone1\nA,2125550142\n"), campaign)
    assert leads(store)[0]["cur_group"] == gid
    assert store.scalar("SELECT COUNT(*) FROM zone_groups") == 1


def test_lead_ids_of_a_deleted_campaign_are_never_handed_out_again(store, tmp_path):
    """The audit trail and webhook receivers still name deleted leads by their ids."""
    from dialcli.workspace import campaigns

    first = builders.campaign(store, "Old")
    run(store, write(tmp_path, "name,phone1\nA,2125550142\nB,2125550143\n"), first)
    old_ids = [lead["id"] for lead in leads(store)]
    store.execute("INSERT INTO audit (ts, campaign_id, lead_id, decision) VALUES "
                  "('t', ?, ?, 'dial')", (first, old_ids[-1]))
    campaigns.delete_campaign(store, "Old")
    second = builders.campaign(store, "New")
    run(store, write(tmp_path, "name,phone1\nC,2125550144\n"), second)
    assert leads(store)[0]["id"] > max(old_ids)
    # The deleted lead's audit row names nobody, not the new lead.
    [entry] = results_audit.audit_entries(store.conn, campaign_id=first)
    assert entry["lead"] is None and entry["lead_row"] is None


def test_import_warns_of_leads_in_states_the_window_never_meets(store, campaign, tmp_path):
    store.execute("UPDATE campaigns SET window_start = '08:00', window_end = '09:00'")
    text = ("name,phone1\nA,3125550101\nB,3125550102\nC,4015550103\nD,2125550104\n")
    summary = run(store, write(tmp_path, text), campaign)
    assert summary.imported == 4
    [warning] = [w for w in summary.warnings if "never meet" in w]
    assert warning.startswith("3 lead(s) have a first phone in a state whose calling hours "
                              "never meet this campaign's 08:00-09:00: IL 2 (09:00-21:00), "
                              "RI 1 (09:00-18:00).")
    store.execute("UPDATE campaigns SET window_start = '09:00', window_end = '20:00'")
    again = run(store, write(tmp_path, "name,phone1\nE,3125550105\n", name="more.csv"), campaign)
    assert not [w for w in again.warnings if "never meet" in w]


def test_audit_rows_of_a_deleted_lead_whose_id_was_reused_name_nobody(store):
    """Workspaces from before the id floor may hold a reused id: match the campaign."""

    gone, now = builders.campaign(store, "Gone"), builders.campaign(store, "Now")
    store.execute("INSERT INTO leads (id, campaign_id, row_number, name, created_at, updated_at) "
                  "VALUES (7, ?, 2, 'New person', 't', 't')", (now,))
    store.execute("INSERT INTO audit (ts, campaign_id, lead_id, decision) VALUES "
                  "('t', ?, 7, 'dial')", (gone,))
    [entry] = results_audit.audit_entries(store.conn, lead_id=7)
    assert entry["lead"] is None


# -- rejects file line numbers ---------------------------------------------------------

def test_line_numbers_with_embedded_newlines_and_blank_lines(store, campaign, tmp_path):
    text = ("name,phone1,notes\n"                        # line 1
            "A,2125550142,\"two\nlines\"\n"                # lines 2-3
            "\n"                                          # line 4 (blank)
            "B,oops,x\n"                                  # line 5
            ",,\n"                                        # line 6 (separators only)
            "C,2125550143,\"a, b\"\n"                      # line 7
            "\"D\nE\",nope,\"x\n\ny\"\n"                   # lines 8-11
            "F,,\n")                                      # line 12
    summary = run(store, write(tmp_path, text), campaign)
    assert [lead["row_number"] for lead in leads(store)] == [2, 7]
    assert json.loads(leads(store)[0]["vars"]) == {"NOTES": "two\nlines"}
    assert json.loads(leads(store)[1]["vars"]) == {"NOTES": "a, b"}
    rows = list(csv.reader(open(summary.rejects_file, encoding="utf-8-sig")))
    assert [r[0] for r in rows[1:]] == ["5", "8", "12"]
    assert rows[2][2:] == ["D\nE", "nope", "x\n\ny"]
    assert summary.rows == 5


def test_line_numbers_across_chunks(store, campaign, tmp_path):
    lines = ["name,phone1,notes"]
    for i in range(50):
        lines.append(f'L{i},212555{1000 + i:04d},"multi\nline"' if i % 3 == 0 else f"L{i},bad,")
    summary = run(store, write(tmp_path, "\n".join(lines) + "\n"), campaign, chunk_rows=7)
    expected, line = [], 2
    for i in range(50):
        expected.append(line)
        line += 2 if i % 3 == 0 else 1
    got = [lead["row_number"] for lead in leads(store)]
    assert got == [expected[i] for i in range(50) if i % 3 == 0]
    rows = list(csv.reader(open(summary.rejects_file, encoding="utf-8-sig")))
    assert [int(r[0]) for r in rows[1:]] == [expected[i] for i in range(50) if i % 3]


def test_rows_with_extra_values_rejected_trailing_empty_columns_fine(store, campaign, tmp_path):
    text = ("name,phone1,amount,,\n"
            "A,2125550142,5,,\n"
            "B,2125550143,6,,,,,\n"
            "C,2125550144,7,x\n"
            "D,2125550145,7,,,unquoted\n"
            "E,2125550146\n")
    summary = run(store, write(tmp_path, text), campaign)
    assert [lead["name"] for lead in leads(store)] == ["A", "B", "C", "E"]
    assert json.loads(leads(store)[3]["vars"]) == {"AMOUNT": ""}
    assert summary.rejected_by_reason == {"more values than header columns": 1}
    assert any("values in columns without a header" in w for w in summary.warnings)


# -- duplicates and opt-outs -------------------------------------------------------------

def test_duplicates_within_file_and_against_campaign(store, campaign, tmp_path):
    run(store, write(tmp_path, "name,phone1\nOld,2125550142\n", "first.csv"), campaign)
    text = ("name,phone1,phone2\n"
            "Again,(212) 555-0142,\n"        # already in the campaign
            "New,2125550150,\n"
            "Twin,+1 212 555 0150,\n"         # same as line 3
            "Slot2,bad,2125550150\n"          # first valid phone is a duplicate too
            "Other,2125550160,\n")
    summary = run(store, write(tmp_path, text), campaign, chunk_rows=2)
    assert summary.duplicates == 3 and summary.imported == 2 and summary.rejected == 0
    rows = list(csv.reader(open(summary.rejects_file, encoding="utf-8-sig")))
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("2", "duplicate: +12125550142 is already in campaign 'Spring' (lead 1)"),
        ("4", "duplicate: +12125550150 is also on line 3"),
        ("5", "duplicate: +12125550150 is also on line 3"),
    ]
    assert store.scalar("SELECT duplicates FROM imports WHERE id = ?", (summary.import_id,)) == 3


def test_allow_duplicates(store, campaign, tmp_path):
    text = "name,phone1\nA,2125550142\nB,2125550142\n"
    run(store, write(tmp_path, text), campaign)
    summary = run(store, write(tmp_path, text), campaign, allow_duplicates=True)
    assert summary.imported == 2 and summary.duplicates == 0
    assert store.scalar("SELECT COUNT(*) FROM leads") == 3


def test_duplicates_are_per_campaign(store, campaign, tmp_path):
    other = builders.campaign(store, "Other")
    path = write(tmp_path, "name,phone1\nA,2125550142\n")
    run(store, path, campaign)
    assert run(store, path, other).imported == 1


def test_optout_numbers_imported_dead(store, campaign, tmp_path):
    for e164 in ("+12125550142", "+12125550143", "+12125550144"):
        store.execute("INSERT INTO dnc (e164, source, added_at) VALUES (?, 'cli', 't')", (e164,))
    text = ("name,phone1,phone2\n"
            "A,2125550142,2125550150\n"      # phone1 opted out: dial phone2
            "B,2125550143,2125550144\n"      # both opted out: SKIPPED
            "C,2125550151,\n")
    summary = run(store, write(tmp_path, text), campaign)
    a, b, c = leads(store)
    assert [p["dead_reason"] for p in phones(store, a["id"])] == ["on the opt-out list", None]
    assert (a["status"], a["phone_slot"], a["phone1"]) == ("PENDING", 2, "+12125550142")
    assert a["cur_group"] == phones(store, a["id"])[1]["group_id"]
    assert (b["status"], b["phone_slot"], b["cur_group"]) == ("SKIPPED", None, None)
    assert b["skip_reason"] == "every phone is on the opt-out list"
    assert c["status"] == "PENDING" and c["skip_reason"] is None
    assert (summary.optout_phones, summary.optout_leads_skipped) == (3, 1)
    assert summary.leads_per_zone["(not dialable)"] == 1
    assert store.scalar("SELECT optout_marked FROM imports") == 3


# -- encodings and shapes ---------------------------------------------------------------

def test_utf8_bom(store, campaign, tmp_path):
    path = write(tmp_path, "\ufeffname,phone1,città\nZoë,2125550142,Roma\n")
    summary = run(store, path, campaign)
    assert summary.encoding == "utf-8-sig" and not summary.notices
    (lead,) = leads(store)
    assert lead["name"] == "Zoë" and json.loads(lead["vars"]) == {"CITTA": "Roma"}


def test_cp1252_fallback_with_notice(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1,note\nRenée,2125550142,“quoted” – dash\n",
                 encoding="cp1252")
    summary = run(store, path, campaign)
    assert summary.encoding == "cp1252"
    assert "not UTF-8" in summary.notices[0] and "Windows-1252" in summary.notices[0]
    (lead,) = leads(store)
    assert lead["name"] == "Renée" and json.loads(lead["vars"])["NOTE"] == "“quoted” – dash"


def test_latin1_fallback(store, campaign, tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(b"name,phone1\nA\x81\xe9,2125550142\n")   # 0x81 is undefined in cp1252
    summary = run(store, path, campaign)
    assert summary.encoding == "latin-1" and leads(store)[0]["name"] == "A\x81é"


def test_utf16_and_semicolons(store, campaign, tmp_path):
    path = write(tmp_path, "name\tphone1\nAlex\t2125550142\n", encoding="utf-16")
    assert run(store, path, campaign).imported == 1
    path = write(tmp_path, "name;phone1;amount\nJamie;2125550143;1,5\n", name="semi.csv")
    run(store, path, campaign)
    assert json.loads(leads(store)[1]["vars"]) == {"AMOUNT": "1,5"}


def test_crlf_and_quoted_commas(store, campaign, tmp_path):
    path = write(tmp_path, 'name,phone1,address\r\n"Chen, Alex",2125550142,"1 Main St, Apt ""4"""\r\n')
    run(store, path, campaign)
    (lead,) = leads(store)
    assert lead["name"] == "Chen, Alex"
    assert json.loads(lead["vars"]) == {"ADDRESS": '1 Main St, Apt "4"'}
    assert lead["row_number"] == 2


@pytest.mark.parametrize("text,message", [
    ("", "is empty"),
    ("name,phone1\n", "has a header but no data rows"),
    ("name,phone1\n\n\n", "has a header but no data rows"),
    ("\n\n", "no header row"),
])
def test_empty_files_are_clear_errors(store, campaign, tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        run(store, write(tmp_path, text), campaign)
    assert nothing_written(store)


def test_missing_file_and_xlsx(store, campaign, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run(store, tmp_path / "nope.csv", campaign)
    path = tmp_path / "book.csv"
    path.write_bytes(b"PK\x03\x04rest-of-zip")
    with pytest.raises(InputError, match="Excel workbook"):
        run(store, path, campaign)


def test_all_rows_rejected_still_records_import(store, campaign, tmp_path):
    summary = run(store, write(tmp_path, "name,phone1\nA,bad\n"), campaign)
    assert summary.imported == 0 and summary.rejected == 1
    assert store.scalar("SELECT rejected FROM imports") == 1


# -- campaign state, order, atomicity -----------------------------------------------------

def test_import_into_completed_campaign_pauses_it(store, tmp_path):
    cid = builders.campaign(store, status="COMPLETED", pass_no=2)
    store.execute("UPDATE campaigns SET completed_at = 'x' WHERE id = ?", (cid,))
    summary = run(store, write(tmp_path, "name,phone1\nA,2125550142\n"), cid)
    assert summary.campaign_reopened
    row = store.one("SELECT status, completed_at FROM campaigns WHERE id = ?", (cid,))
    assert (row["status"], row["completed_at"]) == ("PAUSED", None)
    assert leads(store)[0]["pass_no"] == 2


def test_running_campaign_stays_running(store, tmp_path):
    cid = builders.campaign(store, status="RUNNING")
    summary = run(store, write(tmp_path, "name,phone1\nA,2125550142\n"), cid)
    assert not summary.campaign_reopened
    assert store.scalar("SELECT status FROM campaigns") == "RUNNING"


def test_leads_in_file_order(store, campaign, tmp_path):
    body = "".join(f"L{i},212555{i:04d}\n" for i in range(200, 260))
    run(store, write(tmp_path, "name,phone1\n" + body), campaign, chunk_rows=9)
    rows = leads(store)
    assert [r["name"] for r in rows] == [f"L{i}" for i in range(200, 260)]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert {(r["status"], r["phone_slot"], r["pass_no"], r["created_at"]) for r in rows} == \
        {("PENDING", 1, 1, "2026-03-03T15:00:00.000Z")}


def test_failure_mid_import_writes_nothing(store, campaign, tmp_path, monkeypatch):
    body = "".join(f"L{i},212555{i:04d}\n" for i in range(200, 260)) + "Bad,x\n"
    calls = []
    real = importer._Writer.write

    def failing(self, payload):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        real(self, payload)

    monkeypatch.setattr(importer._Writer, "write", failing)
    with pytest.raises(RuntimeError):
        run(store, write(tmp_path, "name,phone1\n" + body), campaign, chunk_rows=10)
    assert nothing_written(store)
    assert not (tmp_path / "leads.rejects.csv").exists()
    assert not list(tmp_path.glob(".leads.rejects.csv.*"))


def test_ctrl_c_mid_import_writes_nothing(store, campaign, tmp_path, monkeypatch):
    body = "".join(f"L{i},212555{i:04d}\n" for i in range(200, 260))
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="nothing was imported"):
        run(store, write(tmp_path, "name,phone1\n" + body), campaign, chunk_rows=10,
            progress=progress)
    assert nothing_written(store)
    store.execute("BEGIN IMMEDIATE")   # the write lock was released
    store.execute("ROLLBACK")


def test_rejects_path_option_and_guard(store, campaign, tmp_path):
    path = write(tmp_path, "name,phone1\nA,bad\n")
    out = tmp_path / "out" / "r.csv"
    out.parent.mkdir()
    summary = run(store, path, campaign, rejects_path=out)
    assert summary.rejects_file == str(out) and out.exists()
    with pytest.raises(InputError, match="overwrite the CSV"):
        run(store, path, campaign, rejects_path=path)


def test_deferred_index_rebuild_keeps_indexes(store, campaign, tmp_path, monkeypatch):
    before = dict(store.all("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    monkeypatch.setattr(importer, "DEFER_INDEX_MIN_ROWS", 1)
    body = "".join(f"L{i},212555{i:04d}\n" for i in range(200, 230)) + "Dup,2125550200\n"
    summary = run(store, write(tmp_path, "name,phone1\n" + body), campaign, chunk_rows=8)
    assert summary.duplicates == 1
    after = dict(store.all("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    assert after == before
    plan = " ".join(r[3] for r in store.all(
        "EXPLAIN QUERY PLAN SELECT lead_id FROM lead_phones WHERE e164 = 'x'"))
    assert "lead_phones_e164" in plan
    assert store.scalar("PRAGMA integrity_check") == "ok"


# -- the worker process --------------------------------------------------------------------

def _snapshot(store):
    return ([tuple(r)[1:] for r in store.all(
                "SELECT id, row_number, name, email, phone1, vars, timezone, status, phone_slot, "
                "cur_group, skip_reason FROM leads ORDER BY id")],
            [tuple(r) for r in store.all("SELECT * FROM lead_phones ORDER BY lead_id, slot")],
            [tuple(r) for r in store.all("SELECT * FROM zone_groups ORDER BY id")])


def test_worker_process_matches_in_process(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import gen_leads
    finally:
        sys.path.remove(str(BENCH))
    from dialcli.store import Store

    src = gen_leads.generate(tmp_path / "gen.csv", 3000, seed=3, exchanges_per_npa=2)
    parser = PhoneParser("US")
    optout = set()
    for row in list(csv.reader(src.open(encoding="utf-8")))[1:200:7]:
        for value in row[1:3]:
            try:
                optout.add(parser.parse(value).e164)
            except PhoneError:
                pass
    results = []
    for workers in (0, 1):
        st = Store(tmp_path / f"w{workers}.db")
        cid = builders.campaign(st)
        for e164 in optout:
            st.execute("INSERT INTO dnc (e164, source, added_at) VALUES (?, 'cli', 't')", (e164,))
        summary = importer.import_csv(st, src, campaign_id=cid, now=NOW, workers=workers,
                                      rejects_path=tmp_path / f"r{workers}.csv", chunk_rows=500)
        results.append((summary.to_dict(), _snapshot(st)))
        st.close()
    (s0, d0), (s1, d1) = results
    for key in ("rows", "imported", "rejected", "rejected_by_reason", "duplicates",
                "dropped_by_reason", "leads_per_zone", "warnings"):
        assert s0[key] == s1[key], key
    assert d0 == d1
    assert s0["imported"] > 2900 and s0["rejected"] > 0 and s0["optout_phones"] >= len(optout)
    assert (tmp_path / "r0.csv").read_text() == (tmp_path / "r1.csv").read_text()


def test_worker_errors_surface_as_input_errors(store, campaign, tmp_path, monkeypatch):
    path = tmp_path / "long.csv"
    # A value too long for the csv module inside the worker: an InputError with the line.
    path.write_text("name,phone1,notes\nA,2125550142,\"" + "x" * 2_000_000 + "\"\n")
    with pytest.raises(InputError, match="line 2"):
        run(store, path, campaign, workers=1)
    assert nothing_written(store)


@settings(max_examples=25, deadline=None)
@given(hs.lists(hs.tuples(hs.text(alphabet="ab ,\"\n", max_size=6),
                          hs.sampled_from(["2125550142", "bad", "", "+1 415 555 0101"]),
                          hs.booleans()), min_size=1, max_size=12))
def test_every_row_is_imported_or_rejected_with_its_line(tmp_path_factory, rows):
    from dialcli.store import Store

    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "p.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name", "phone1"])
        expected_line, starts = 2, []
        for name, phone, blank_after in rows:
            w.writerow([name, phone])
            starts.append(expected_line)
            expected_line += 1 + name.count("\n")
            if blank_after:
                f.write("\n")
                expected_line += 1
    st = Store(tmp / "p.db")
    cid = builders.campaign(st)
    nonblank = [s for s, (n, p, _b) in zip(starts, rows) if (n.strip() or p)]
    if not nonblank:
        with pytest.raises(InputError, match="no data rows"):
            importer.import_csv(st, path, campaign_id=cid, now=NOW, workers=0)
        st.close()
        return
    summary = importer.import_csv(st, path, campaign_id=cid, now=NOW, workers=0,
                                  allow_duplicates=True)
    got = [r["row_number"] for r in st.all("SELECT row_number FROM leads ORDER BY id")]
    rejected = []
    if summary.rejects_file:
        rejected = [int(r[0]) for r in list(csv.reader(open(summary.rejects_file, encoding="utf-8-sig")))[1:]]
    assert sorted(got + rejected) == nonblank
    assert summary.rows == len(nonblank)
    st.close()


def test_variable_values_are_stripped_and_json_escaped(store, campaign, tmp_path):
    values = [" lead", "trail ", 'say "hi"', "back\\slash", "tab\there", "\u00a0nbsp\u00a0",
              "pipe | inside", "Bogotá", "", "multi\nline", "x|y"]
    body = "".join(f'L{i},212555{1000 + i:04d},"{v.replace(chr(34), chr(34) * 2)}",plain{i}\n'
                   for i, v in enumerate(values))
    run(store, write(tmp_path, "name,phone1,note,other\n" + body), campaign, chunk_rows=4)
    got = [json.loads(r["vars"]) for r in leads(store)]
    assert [g["NOTE"] for g in got] == [v.strip() for v in values]
    assert [g["OTHER"] for g in got] == [f"plain{i}" for i in range(len(values))]


def test_line_numbers_with_cr_and_crlf_inside_values(store, campaign, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(b'name,phone1,note\r\nA,2125550142,"one\r\ntwo"\r\nB,bad,"x\ry"\r\n'
                     b'C,oops,z\r\n')
    summary = run(store, path, campaign)
    assert [r["row_number"] for r in leads(store)] == [2]
    rows = list(csv.reader(open(summary.rejects_file, encoding="utf-8-sig", newline="")))
    assert [r[0] for r in rows[1:]] == ["4", "6"]


def test_ctrl_c_with_worker_stops_it_and_writes_nothing(store, campaign, tmp_path):
    import psutil

    body = "".join(f"L{i},212555{i:04d}\n" for i in range(1000, 1600))
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        run(store, write(tmp_path, "name,phone1\n" + body), campaign, chunk_rows=50,
            progress=progress, workers=1)
    assert nothing_written(store)
    assert not [p for p in psutil.Process().children(recursive=True)
                if "dialcli.leads.worker" in " ".join(p.cmdline())]


def test_rejects_file_reimports_after_fixing(store, campaign, tmp_path):
    """The rejects file is a CSV the importer reads back (line and reason become variables)."""
    summary = run(store, write(tmp_path, "name,phone1\nZoë,4.1555512E+10\n"), campaign)
    raw = Path(summary.rejects_file).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")          # BOM: Excel opens it as UTF-8
    fixed = raw.decode("utf-8-sig").replace("4.1555512E+10", "(415) 555-0123")
    again = run(store, write(tmp_path, fixed, name="fixed.csv"), campaign)
    assert again.imported == 1
    assert leads(store)[0]["name"] == "Zoë"


def test_worker_that_cannot_start_falls_back_to_in_process(store, campaign, tmp_path,
                                                           monkeypatch):
    import subprocess

    from dialcli.leads import worker as importer_worker

    def broken():
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    monkeypatch.setattr(importer_worker, "start_worker", broken)
    summary = run(store, write(tmp_path, "name,phone1\nA,2125550142\n"), campaign, workers=1)
    assert summary.imported == 1


def test_seen_runs_find_every_key_once_merged():
    import numpy as np

    from dialcli.leads.keys import Runs

    runs = Runs()
    rnd = random.Random(3)
    added: dict[int, int] = {}
    for chunk in range(40):
        keys = np.array(rnd.sample(range(10**6), 50), dtype=np.int64)
        fresh = runs.lookup(keys) < 0
        keys = keys[fresh]
        values = np.arange(len(keys), dtype=np.int64) + chunk * 1000
        runs.add(keys, values)
        added.update(zip(keys.tolist(), values.tolist()))
        assert len(runs.runs) <= 8
    probe = np.array(list(added) + [10**6 + 5], dtype=np.int64)
    assert runs.lookup(probe).tolist() == list(added.values()) + [-1]


TRICKY = ("\n"
          "name,phone1,phone2,notes,,\n"
          "A,2125550142,,\"two\r\nlines\",,\n"
          "\n"
          "B,bad,,\"x\ry\"\n"
          ",,,\n"
          "\"Chen, Alex\",(212) 555-0143,212.555.0150,\"say \"\"hi\"\"\",,\n"
          "D,2125550144,,a,b,c,shifted\n"
          "E,2125550145\n"
          "F,2125550142,,dup\n"
          "   \n"
          "G,+1 212 555 0146,,\"multi\n\nline\",,\n")


@pytest.mark.parametrize("workers", [0, 1])
def test_pandas_and_csv_readers_agree(tmp_path, workers):
    from dialcli.store import Store

    src = write(tmp_path, TRICKY)
    results = []
    for reader in ("pandas", "csv"):
        st = Store(tmp_path / f"{reader}.db")
        cid = builders.campaign(st)
        summary = importer._import(
            st, src, campaign_id=cid, now=NOW, default_region="US", allow_duplicates=False,
            rejects_path=tmp_path / f"{reader}.rej.csv", progress=None, workers=workers,
            chunk_rows=3, reader=reader)
        results.append((summary.to_dict(), _snapshot(st),
                        (tmp_path / f"{reader}.rej.csv").read_text(encoding="utf-8-sig")))
        st.close()
    (s0, d0, r0), (s1, d1, r1) = results
    assert d0 == d1 and r0 == r1
    assert {k: v for k, v in s0.items() if k != "rejects_file"} == \
        {k: v for k, v in s1.items() if k != "rejects_file"}
    assert [row[0] for row in d0[0]] == [3, 9, 11, 14]
    assert [r[0] for r in list(csv.reader(r0.splitlines()))[1:] if r and r[0].isdigit()] == \
        ["6", "10", "12"]


@pytest.mark.parametrize("workers", [0, 1])
def test_row_with_many_extra_fields_falls_back_to_csv_reader(store, campaign, tmp_path,
                                                             workers):
    body = "A,2125550142\nB," + ",".join(["x"] * 30) + "\nC,2125550143\n"
    summary = run(store, write(tmp_path, "name,phone1\n" + body), campaign, workers=workers)
    assert summary.imported == 2 and summary.rejected == 1
    assert summary.rejected_by_reason == {"more values than header columns": 1}
    assert [r["row_number"] for r in leads(store)] == [2, 4]
    assert store.scalar("SELECT COUNT(*) FROM imports") == 1


def test_bulk_import_verifies_references_and_restores_foreign_keys(store, campaign, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setattr(importer, "DEFER_INDEX_MIN_ROWS", 1)
    body = "".join(f"L{i},212555{i:04d},2125559{i:03d}\n" for i in range(100, 140))
    summary = run(store, write(tmp_path, "name,phone1,phone2\n" + body), campaign, chunk_rows=7)
    assert summary.imported == 40
    assert store.scalar("PRAGMA foreign_keys") == 1
    assert store.all("PRAGMA foreign_key_check") == []


def test_bulk_import_with_a_dangling_reference_rolls_back(store, campaign, tmp_path,
                                                         monkeypatch):
    from dialcli.leads import prepare as importer_prepare

    monkeypatch.setattr(importer, "DEFER_INDEX_MIN_ROWS", 1)
    real = importer_prepare.Preparer._build

    def broken(self, *args, **kwargs):
        payload = real(self, *args, **kwargs)
        payload.leads.cur_group[0] = 999       # a group that does not exist
        return payload

    monkeypatch.setattr(importer_prepare.Preparer, "_build", broken)
    with pytest.raises(RuntimeError, match="dangling references: zone groups \\[999\\]"):
        run(store, write(tmp_path, "name,phone1\nA,2125550142\n"), campaign)
    assert nothing_written(store)
    assert store.scalar("PRAGMA foreign_keys") == 1


@pytest.mark.parametrize("rows", [3, 100])
def test_one_number_in_two_phone_columns_is_one_phone(store, campaign, tmp_path, rows):
    """Few or many shared numbers (two ways of finding the rows): the later slot goes,
    counted with its reason; a number shared with another row's phone2 is not a repeat."""
    lines = ["name,phone1,phone2,phone3"]
    for i in range(rows):
        n = f"415555{i:04d}"
        lines.append(f"L{i},{n},({n[:3]}) {n[3:6]}-{n[6:]},415666{i:04d}")
    lines.append(f"X,2125550000,4155550001,{'4155550001' if rows else ''}")
    summary = run(store, write(tmp_path, "\n".join(lines) + "\n"), campaign, allow_duplicates=True)
    assert summary.imported == rows + 1
    assert summary.dropped_by_reason == {"the same number as phone1": rows,
                                         "the same number as phone2": 1}
    got = [[p["slot"] for p in phones(store, lead["id"])] for lead in leads(store)]
    assert got == [[1, 3]] * rows + [[1, 2]]
