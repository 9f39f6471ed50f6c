import csv
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, strategies as st

from dialcli.results import exports
from dialcli.clock import to_iso
from dialcli.errors import InputError
from dialcli.leads.cells import FORMULA_PREFIXES, neutralise
from dialcli.phones import is_e164

import builders
from builders import COLUMNS, add_call, add_import, add_lead, spring_campaign


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"),
    ("+SUM(A1)", "'+SUM(A1)"),
    ("-5000", "'-5000"),
    ("@home", "'@home"),
    ("\t=cmd", "'\t=cmd"),
    ("\rx", "'\rx"),
    ("+14155551200", "+14155551200"),        # valid E.164 stays as it is
    ("+1 415 555 1200", "'+1 415 555 1200"),  # not E.164
    ("+0123456789", "'+0123456789"),
    ("Alex Chen", "Alex Chen"),
    ("5000", "5000"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


@given(st.text())
def test_neutralised_cells_never_start_a_formula(text):
    out = neutralise(text)
    assert not out.startswith(FORMULA_PREFIXES) or is_e164(out)
    assert out in (text, "'" + text)


def test_leads_csv(store):
    data = spring_campaign(store)
    buf = io.StringIO(newline="")
    assert exports.write_leads_csv(store, data["campaign"], buf) == 8
    text = buf.getvalue()
    header = next(csv.reader(io.StringIO(text)))
    assert header == COLUMNS + exports.LEAD_TRAILER
    rows = read_csv(text)
    alex, jamie, hyper = rows[0], rows[1], rows[2]
    assert alex == {
        "NAME": "Alex Chen", "PHONE1": "+14155551200", "PHONE2": "", "EMAIL": "alex@acme.io",
        "AMOUNT": "5000", "ADDRESS": "123 Market St", "CASE_NUMBER": "CASE-7741",
        "status": "REACHED", "last_disposition": "INTERESTED", "attempts": "1", "pass": "1",
        "reached_phone": "+14155551200", "callback_at_utc": "",
        "last_call_at_utc": "2026-03-01T15:00:00.000Z", "lead_id": str(data["lead"][1]),
        "consent": "express", "consent_at_utc": builders.CONSENTED_AT,
        "consent_source": "test fixture",
    }
    assert (jamie["PHONE1"], jamie["PHONE2"], jamie["pass"], jamie["attempts"]) == (
        "+12125550133", "+12125550144", "2", "3")
    assert hyper["NAME"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert (hyper["AMOUNT"], hyper["ADDRESS"], hyper["CASE_NUMBER"]) == ("'-5000", "'@home",
                                                                          "'+SUM(1)")
    assert hyper["status"] == "DIALING" and hyper["reached_phone"] == ""
    sam = rows[4]
    assert sam["callback_at_utc"] == "2026-03-04T15:00:00.000Z" and sam["status"] == "CALLBACK"
    assert rows[5]["PHONE1"] == "+17135550100"          # retired phones are still exported


def test_leads_csv_columns_across_imports_and_without_import(store):
    cid = builders.campaign(store, status="RUNNING")
    first = add_import(store, cid, ["NAME", "PHONE1", "AMOUNT"])
    second = add_import(store, cid, ["NAME", "PHONE1", "PHONE2", "CITY", "AMOUNT"])
    add_lead(store, cid, row=2, name="A", import_id=first, phones=[("+14155551200", "")],
             vars={"AMOUNT": "1"})
    add_lead(store, cid, row=2, name="B", import_id=second,
             phones=[("+14155551201", ""), ("+14155551202", "")],
             vars={"AMOUNT": "2", "CITY": "Oakland"})
    assert exports.lead_columns(store, cid) == ["NAME", "PHONE1", "AMOUNT", "PHONE2", "CITY"]
    other = builders.campaign(store, "Direct", status="RUNNING")
    add_lead(store, other, row=2, name="C", email="c@example.com",
             phones=[("+14155551203", ""), ("+14155551204", "")],
             vars={"TIER": "gold", "=EVIL": "=1"})
    assert exports.lead_columns(store, other) == ["NAME", "EMAIL", "PHONE1", "PHONE2", "TIER",
                                                  "=EVIL"]
    buf = io.StringIO()
    exports.write_leads_csv(store, other, buf)
    (row,) = read_csv(buf.getvalue())
    assert row["TIER"] == "gold" and row["=EVIL"] == "'=1" and row["PHONE2"] == "+14155551204"


def test_calls_csv(store):
    data = spring_campaign(store)
    buf = io.StringIO()
    assert exports.write_calls_csv(store, data["campaign"], buf, rate=0.02) == 9
    rows = read_csv(buf.getvalue())
    assert list(rows[0]) == exports.CALL_COLUMNS
    first = rows[0]
    assert first == {
        "call_id": str(data["call"][1]), "run": "2", "lead_id": str(data["lead"][1]),
        "lead_row": "2", "lead_name": "Alex Chen", "phone_slot": "1", "number": "+14155551200",
        "pass": "1", "kind": "pass", "started_at_utc": "2026-03-01T15:00:00.000Z",
        "ended_at_utc": "2026-03-01T15:03:05.000Z", "started_local": "2026-03-01 07:00:00 PST",
        "ended_local": "2026-03-01 07:03:05 PST", "recipient_zone": "America/Los_Angeles",
        "answered_by": "human", "disposition": "INTERESTED", "turns": "6", "duration_s": "185",
        "billed_minutes": "4", "cost": "0.056", "cost_source": "final", "call_status": "completed",
        "summary": "", "callback_text": "", "recording_sid": "", "recording_duration_s": "",
    }
    voicemail = rows[2]
    assert (voicemail["phone_slot"], voicemail["number"], voicemail["disposition"]) == (
        "2", "+12125550144", "VOICEMAIL")
    assert (voicemail["cost"], voicemail["cost_source"]) == ("0.02", "estimate")
    assert voicemail["started_local"] == "2026-03-01 10:11:30 EST"
    no_answer = rows[1]
    assert (no_answer["cost"], no_answer["turns"]) == ("0", "")
    in_flight = rows[-1]
    assert (in_flight["ended_at_utc"], in_flight["disposition"], in_flight["cost"]) == ("", "", "")
    assert in_flight["lead_name"].startswith("'=HYPERLINK")
    buf = io.StringIO()
    assert exports.write_calls_csv(store, data["campaign"], buf, rate=0.02, all_runs=True) == 10


def test_calls_csv_local_time_in_every_zone(store):
    cid = builders.campaign(store, status="RUNNING")
    lead = add_lead(store, cid, row=2, name="Border", phones=[("+19705550100",
                                                             "America/Denver,America/Phoenix")])
    add_call(store, cid, lead, claimed_at="2026-07-01T18:00:00.000Z",
             ended_at="2026-07-01T18:01:00.000Z", disposition="NO_ANSWER")
    buf = io.StringIO()
    exports.write_calls_csv(store, cid, buf, rate=0.014)
    (row,) = read_csv(buf.getvalue())
    assert row["started_local"] == ("2026-07-01 12:00:00 MDT (America/Denver) / "
                                    "2026-07-01 11:00:00 MST (America/Phoenix)")
    assert row["recipient_zone"] == "America/Denver,America/Phoenix"


def test_export_to_file_excel_bom(store, tmp_path):
    data = spring_campaign(store)
    path = tmp_path / "leads.csv"
    n = exports.export(lambda fh: exports.write_leads_csv(store, data["campaign"], fh),
                       str(path), excel=True)
    raw = path.read_bytes()
    assert n == 8
    assert raw.startswith(b"\xef\xbb\xbfNAME,PHONE1")
    assert raw.count(b"\r\n") == 9
    plain = tmp_path / "plain.csv"
    exports.export(lambda fh: exports.write_leads_csv(store, data["campaign"], fh), str(plain))
    assert plain.read_bytes().startswith(b"NAME,")


def test_failed_export_leaves_no_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("previous export\n")

    def broken(fh):
        fh.write("half,a,row\n")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        exports.export(broken, str(path))
    assert path.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_export_path_errors(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        exports.export(lambda fh: 0, str(tmp_path))
    with pytest.raises(InputError, match="does not exist"):
        exports.export(lambda fh: 0, str(tmp_path / "missing" / "x.csv"))


ZONES = ["America/New_York", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe",
         "America/Denver,America/Phoenix", "Pacific/Chatham"]


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
       st.sampled_from(ZONES))
@example(datetime(2026, 3, 8, 6, 59, 59), "America/New_York")      # just before spring-forward
@example(datetime(2026, 3, 8, 7, 0, 1), "America/New_York")
@example(datetime(2026, 4, 4, 14, 59, 30), "Australia/Lord_Howe")  # 30-minute DST shift
@example(datetime(2026, 4, 4, 15, 0, 30), "Australia/Lord_Howe")
@example(datetime(2026, 3, 8, 9, 30, 0), "America/Denver,America/Phoenix")
def test_cached_local_times_equal_a_direct_conversion(moment, zones):
    iso = to_iso(moment.replace(tzinfo=timezone.utc))
    expected = []
    for name in zones.split(","):
        local = moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(name))
        expected.append((local.strftime("%Y-%m-%d %H:%M:%S %Z"), name))
    direct = (expected[0][0] if len({t for t, _ in expected}) == 1
              else " / ".join(f"{t} ({n})" for t, n in expected))
    converter = exports._LocalTimes()
    assert converter(zones, iso) == direct
    assert converter(zones, iso) == direct      # from the cache


def test_every_phone_slot_the_importer_reads_comes_back_in_the_export(store, tmp_path):
    """The importer and the export share one list of structured columns: phone1 up to
    the last slot are phones both ways, the next one is an ordinary variable."""
    from dialcli.phones import PHONE_SLOTS

    slots = range(1, PHONE_SLOTS + 2)
    header = ["name"] + [f"phone{k}" for k in slots]
    row = ["Many Phones"] + [f"+1212555{1000 + k:04d}" for k in slots]
    cid = builders.campaign(store, csv=",".join(header) + "\n" + ",".join(row) + "\n")
    assert store.scalar("SELECT COUNT(*) FROM lead_phones") == PHONE_SLOTS
    buf = io.StringIO()
    exports.write_leads_csv(store, cid, buf)
    (out,) = read_csv(buf.getvalue())
    for k in slots:
        assert out[f"PHONE{k}"] == row[k]
