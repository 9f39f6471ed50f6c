"""The opt-out list: add/remove with lead transitions, registry and CSV import, export."""

from __future__ import annotations

import io
import zipfile

import pytest

from dialcli.compliance import dnc
from dialcli.errors import ConflictError, InputError

import builders

NOW = "2026-03-03T15:00:00.000Z"
LATER = "2026-03-03T16:00:00.000Z"


def add(store, numbers, source="cli", reason="test"):
    with store.tx() as conn:
        return dnc.add(conn, numbers, source=source, reason=reason, now_iso=LATER)


def test_add_retires_phones_in_every_campaign_and_moves_leads(store):
    c1 = builders.campaign(store, name="A")
    c2 = builders.campaign(store, name="B")
    two, one, dialing, reached, other_slot = builders.add_leads(store, c1, [
        {"phones": ["2125550102", "2125550152"]},           # current phone dies -> phone 2
        {"phones": ["2125550102"]},                         # nothing left -> SKIPPED
        {"phones": ["2125550102"], "status": "DIALING"},    # the engine owns it now
        {"phones": ["2125550102"], "status": "REACHED"},
        {"phones": ["3125550103", "2125550102"]},           # a later phone dies: lead stays
    ])
    (elsewhere,) = builders.add_leads(store, c2, [{"phones": ["+12125550102"]}])
    result = add(store, ["+12125550102"])
    assert (result.changed, result.unchanged, result.phones) == (1, 0, 6)
    assert (result.leads_moved, result.leads_skipped) == (1, 2)
    assert dnc.is_opted_out(store.conn, "+12125550102")

    lead = builders.lead(store, two)
    assert (lead["status"], lead["phone_slot"], lead["pass_done"]) == ("PENDING", 2, 0)
    group2 = builders.phones(store, two)[1]["group_id"]
    assert lead["cur_group"] == group2
    assert builders.phones(store, two)[0]["dead_reason"] == dnc.DNC_REASON
    for lid in (one, elsewhere):
        lead = builders.lead(store, lid)
        assert lead["status"] == "SKIPPED" and lead["skip_reason"] == dnc.DNC_REASON
        assert lead["pass_done"] == 1 and lead["phone_slot"] is None
    assert builders.lead(store, dialing)["status"] == "DIALING"
    assert builders.phones(store, dialing)[0]["dead_reason"] == dnc.DNC_REASON
    assert builders.lead(store, reached)["status"] == "REACHED"
    assert (builders.lead(store, other_slot)["status"], builders.lead(store, other_slot)["phone_slot"]) \
        == ("PENDING", 1)
    decisions = [(a["decision"], a["lead_id"]) for a in builders.audit(store)]
    assert decisions[0] == ("dnc-add", None)
    assert ("skip", two) in decisions and ("skip", one) in decisions

    again = add(store, ["+12125550102"])
    assert (again.changed, again.unchanged, again.phones) == (0, 1, 0)


def test_retry_lead_whose_last_phone_dies_is_done_for_the_pass(store):
    cid = builders.campaign(store, max_attempts=3)
    (lid,) = builders.add_leads(store, cid, [{"phones": ["3125550103", "2125550102"],
                                      "status": "RETRY", "slot": 2}])
    add(store, ["+12125550102"])
    lead = builders.lead(store, lid)
    # Phone 1 is still live: the next pass starts there.
    assert (lead["status"], lead["phone_slot"], lead["pass_done"]) == ("RETRY", 1, 1)


def test_callback_lead_whose_number_dies_is_skipped_and_appointment_canceled(store):
    cid = builders.campaign(store)
    (lid,) = builders.add_leads(store, cid, [{"phones": ["2125550102", "3125550103"],
                                      "status": "CALLBACK", "callback_slot": 1,
                                      "callback_at": LATER}])
    with store.tx():
        store.execute("INSERT INTO appointments (campaign_id, lead_id, slot, due_at, created_at) "
                      "VALUES (?, ?, 1, ?, ?)", (cid, lid, LATER, NOW))
    add(store, ["+12125550102"])
    lead = builders.lead(store, lid)
    assert lead["status"] == "SKIPPED" and lead["skip_reason"] == dnc.CALLBACK_REASON
    assert store.scalar("SELECT status FROM appointments WHERE lead_id = ?", (lid,)) == "canceled"


def test_simulated_opt_outs_bind_only_simulated_runs(store):
    cid = builders.campaign(store)
    (lid,) = builders.add_leads(store, cid, [{"phones": ["2125550102"]}])
    result = add(store, ["+12125550102"], source=dnc.SIMULATOR_SOURCE)
    assert result.changed == 1 and result.phones == 0
    assert not dnc.is_opted_out(store.conn, "+12125550102")
    assert dnc.is_opted_out(store.conn, "+12125550102", simulated=True)
    assert builders.lead(store, lid)["status"] == "PENDING"
    # A real opt-out of the same number upgrades the entry and retires the phone.
    real = add(store, ["+12125550102"], source="call")
    assert real.changed == 1 and real.phones == 1
    assert store.scalar("SELECT source FROM dnc") == "call"
    assert dnc.is_opted_out(store.conn, "+12125550102")
    # ...and a later simulated one never downgrades it.
    add(store, ["+12125550102"], source=dnc.SIMULATOR_SOURCE)
    assert store.scalar("SELECT source FROM dnc") == "call"


def test_remove_revives_opt_out_phones_only_and_protects_call_opt_outs(store):
    cid = builders.campaign(store)
    (lid,) = builders.add_leads(store, cid, [{"phones": ["2125550102", "3125550103"],
                                      "dead": {2: "wrong number"}}])
    add(store, ["+12125550102", "+13125550103"])
    add(store, ["+14155550101"], source="call")
    with store.tx() as conn:
        with pytest.raises(ConflictError, match="asked to be removed on a call"):
            dnc.remove(conn, ["+14155550101"], now_iso=LATER)
    with store.tx() as conn:
        result = dnc.remove(conn, ["+12125550102", "+13125550103", "+16175550106"],
                            now_iso=LATER, reason="typo")
    assert (result.changed, result.unchanged, result.phones) == (2, 1, 1)
    assert [p["dead_reason"] for p in builders.phones(store, lid)] == [None, "wrong number"]
    with store.tx() as conn:
        assert dnc.remove(conn, ["+14155550101"], now_iso=LATER, force=True).changed == 1
    assert dnc.count(store.conn) == 0
    removes = [a for a in builders.audit(store) if a["decision"] == "dnc-remove"]
    assert len(removes) == 3 and removes[-1]["detail"]["forced"] is True


def test_normalize_names_every_bad_value():
    assert dnc.normalize(["(212) 555-0102", "+12125550102", "312.555.0103"]) == \
        ["+12125550102", "+13125550103"]
    with pytest.raises(InputError, match="'12'.*'hello'"):
        dnc.normalize(["12", "2125550102", "hello"])


# -- import --------------------------------------------------------------------------

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_registry_flat_files(store, tmp_path):
    add(store, ["+12125550102"])
    path = write(tmp_path, "415.txt",
                 "4155550101\n415,5550102\n\"415\",\"5550103\"\n\n# comment\n"
                 "14155550104\n(415) 555-0105\n4155550101\n12345\n0155550106\n")
    report = dnc.import_file(store, path, now_iso=NOW)
    assert report.format == "registry" and report.source == "registry:415.txt"
    assert (report.numbers, report.added, report.already, report.invalid) == (6, 5, 1, 2)
    assert [s[0] for s in report.invalid_samples] == [9, 10]
    assert dnc.is_opted_out(store.conn, "+14155550105")
    again = dnc.import_file(store, write(tmp_path, "b.txt", "2125550102\n4155550101\n"),
                            now_iso=NOW)
    assert (again.added, again.already) == (0, 2)
    assert builders.audit(store)[-1]["decision"] == "dnc-import"


def test_change_list_deletes_only_registry_entries(store, tmp_path):
    dnc.import_file(store, write(tmp_path, "full.txt", "4155550101\n4155550102\n"), now_iso=NOW)
    add(store, ["+14155550103"], source="call")
    change = write(tmp_path, "changes.txt",
                   "415,5550101,D,2026-11-01\n415,5550103,D,2026-11-01\n"
                   "415,5550104,A,2026-11-01\n")
    report = dnc.import_file(store, change, now_iso=LATER)
    assert (report.added, report.deleted) == (1, 1)
    assert not dnc.is_opted_out(store.conn, "+14155550101")
    assert dnc.is_opted_out(store.conn, "+14155550103")   # a person's own opt-out stays
    assert dnc.is_opted_out(store.conn, "+14155550104")


def test_import_zip_download(store, tmp_path):
    path = tmp_path / "dnc.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("415.txt", "4155550101\n4155550102\n")
        zf.writestr("212.txt", "212,5550102\n")
    report = dnc.import_file(store, path, now_iso=NOW)
    assert report.added == 3 and dnc.count(store.conn) == 3


@pytest.mark.parametrize("text,column,expected", [
    ("name,phone,email\nA,(212) 555-0102,a@x\nB,,b@x\nC,nope,c@x\n", None, 1),
    ("Name,Mobile Phone\nA,+12125550102\n", None, 1),
    ("name,phone1,phone2\nA,2125550102,3125550103\n", None, 2),
    ("who,digits\nA,2125550102\n", "digits", 1),
])
def test_import_csv_with_a_phone_column(store, tmp_path, text, column, expected):
    report = dnc.import_file(store, write(tmp_path, "x.csv", text), now_iso=NOW, column=column)
    assert report.format == "csv" and report.added == expected
    assert report.source == "import:x.csv"


def test_import_csv_without_a_phone_column_fails_cleanly(store, tmp_path):
    with pytest.raises(InputError, match="No phone column"):
        dnc.import_file(store, write(tmp_path, "x.csv", "name,email\nA,a@x\n"), now_iso=NOW)
    with pytest.raises(InputError, match="No column 'tel'"):
        dnc.import_file(store, write(tmp_path, "y.csv", "name,phone\nA,2125550102\n"),
                        now_iso=NOW, column="tel")
    assert dnc.count(store.conn) == 0


def test_import_of_nothing_valid_changes_nothing(store, tmp_path):
    cid = builders.campaign(store)
    builders.add_leads(store, cid, [{"phones": ["2125550102"]}])
    path = write(tmp_path, "junk.txt", "12\nhello\n")
    with pytest.raises(InputError, match="No phone numbers found.*line 1"):
        dnc.import_file(store, path, now_iso=NOW)
    assert dnc.count(store.conn) == 0
    assert store.scalar("SELECT COUNT(*) FROM audit") == 0
    with pytest.raises(InputError, match="does not exist"):
        dnc.import_file(store, tmp_path / "missing.txt", now_iso=NOW)


def test_import_retires_lead_phones(store, tmp_path):
    cid = builders.campaign(store)
    (lid,) = builders.add_leads(store, cid, [{"phones": ["2125550102", "3125550103"]}])
    report = dnc.import_file(store, write(tmp_path, "r.txt", "2125550102\n"), now_iso=NOW)
    assert (report.phones, report.leads_moved) == (1, 1)
    assert builders.lead(store, lid)["phone_slot"] == 2


# -- list and export -----------------------------------------------------------------

def test_list_and_export(store):
    cid = builders.campaign(store, name="Spring")
    add(store, ["+12125550102"], reason="asked by email")
    with store.tx() as conn:
        dnc.add(conn, ["+13125550103"], source="call", reason="on a call", now_iso=NOW,
                campaign_id=cid)
    entries, total = dnc.list_entries(store.conn)
    assert total == 2 and entries[0].e164 == "+12125550102"       # newest first
    entries, total = dnc.list_entries(store.conn, search="(312)")
    assert total == 1 and entries[0].campaign == "Spring" and entries[0].source == "call"
    assert dnc.list_entries(store.conn, source="cli")[1] == 1
    buf = io.StringIO()
    assert dnc.export(store.conn, buf, fmt="csv") == 2
    lines = buf.getvalue().splitlines()
    assert lines[0] == "e164,reason,source,campaign,lead_id,added_at"
    assert lines[1].startswith("+12125550102,asked by email,cli,,,")
    buf = io.StringIO()
    dnc.export(store.conn, buf, fmt="txt")
    assert buf.getvalue() == "+12125550102\n+13125550103\n"
    with pytest.raises(InputError):
        dnc.export(store.conn, io.StringIO(), fmt="xml")
