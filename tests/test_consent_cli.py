"""``consent import|list|show``: records by phone number from a CSV, bad rows with their
lines, one transaction, reviving the lead phones the gate retired; and the commands."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dialcli.compliance import consent, dnc
from dialcli.errors import InputError
from dialcli.store import Store

import builders

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
NOW_ISO = "2026-03-03T15:00:00.000Z"


def write(tmp_path: Path, text: str, name: str = "optins.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def kept(store) -> list[tuple]:
    return [tuple(r) for r in store.all(
        "SELECT e164, kind, consented_at, source, origin, lead_id FROM consent ORDER BY e164, id")]


def said(text: str, fragment: str) -> bool:
    return "".join(fragment.split()) in "".join(text.split())


# -- core -------------------------------------------------------------------------------------

def test_records_by_number_with_times_read_in_the_numbers_zone(store, tmp_path):
    path = write(tmp_path,
                 "Email,Mobile Phone,Consent At,consent_type,consent_source,timezone\n"
                 "a@x,(212) 555-0142,2026-03-01,Written,https://form/1,\n"
                 "b@x,208-555-0110,2026-03-01 09:00,express,,\n"          # Boise + Los Angeles
                 "c@x,2125550143,2026-03-01 09:00,PEWC,call 7,America/Chicago\n"
                 "d@x,+442079460000,2026-03-01T09:00:00Z,express,,\n")
    r = consent.import_file(store, path, now_iso=NOW_ISO)
    origin = "consent-import:optins.csv"
    assert kept(store) == [
        ("+12085550110", "express", "2026-03-01T17:00:00.000Z", None, origin, None),
        ("+12125550142", "written", "2026-03-02T04:59:59.999Z", "https://form/1", origin, None),
        ("+12125550143", "written", "2026-03-01T15:00:00.000Z", "call 7", origin, None),
        ("+442079460000", "express", "2026-03-01T09:00:00.000Z", None, origin, None),
    ]
    assert (r.rows, r.added, r.already, r.rejected, r.numbers) == (4, 4, 0, 0, 4)
    assert r.columns["phone"] == ["Mobile Phone"] and r.columns["timezone"] == ["timezone"]
    audit = store.one("SELECT decision, detail FROM audit WHERE decision = 'consent-import'")
    assert json.loads(audit["detail"])["added"] == 4


def test_bad_rows_are_skipped_and_reported_with_their_lines(store, tmp_path):
    path = write(tmp_path,
                 "\n"
                 "phone,consent_at,consent_type,consent_source\n"
                 "2125550142,2026-03-01,written,\"a source\nover two lines\"\n"
                 "not a phone,2026-03-01,written,\n"
                 "\n"
                 "2125550143,,written,\n"
                 "2125550144,2026-03-01,,\n"
                 "2125550145,2026-03-01,maybe,\n"
                 "2125550146,the first of march,written,\n"
                 ",2026-03-01,written,\n"
                 "2125550147,2026-03-01,express,\n")
    r = consent.import_file(store, path, now_iso=NOW_ISO)
    assert (r.added, r.rejected) == (2, 6)
    lines = dict(r.rejects)
    assert sorted(lines) == [5, 7, 8, 9, 10, 11]
    assert "'not a phone'" in lines[5]
    assert "consent_at is empty" in lines[7] and "consent_type is empty" in lines[8]
    assert "'maybe'" in lines[9] and "'the first of march'" in lines[10]
    assert lines[11] == "no phone number"
    assert [e for e, *_ in kept(store)] == ["+12125550142", "+12125550147"]


def test_the_whole_file_is_one_transaction(store, tmp_path, monkeypatch):
    path = write(tmp_path, "phone,consent_at,consent_type\n" + "".join(
        f"212555{i:04d},2026-03-01,written\n" for i in range(100, 110)))
    real = consent.record
    calls = []

    def failing(conn, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("disk on fire")
        return real(conn, **kw)

    monkeypatch.setattr(consent, "record", failing)
    with pytest.raises(RuntimeError):
        consent.import_file(store, path, now_iso=NOW_ISO)
    assert store.scalar("SELECT COUNT(*) FROM consent") == 0
    assert store.scalar("SELECT COUNT(*) FROM audit") == 0


def test_reimport_keeps_one_record_and_an_opt_out_revokes_a_new_one(store, tmp_path):
    dnc.add(store.conn, ["+12125550143"], source="cli", reason="asked", now_iso=NOW_ISO)
    path = write(tmp_path, "phone,consent_at,consent_type,consent_source\n"
                           "2125550142,2026-03-01,written,form 1\n"
                           "2125550143,2026-03-01,written,form 2\n")
    first = consent.import_file(store, path, now_iso=NOW_ISO)
    assert (first.added, first.revoked_by_optout) == (2, 1)
    again = consent.import_file(store, path, now_iso="2026-03-04T15:00:00.000Z")
    assert (again.added, again.already) == (0, 2)
    assert store.scalar("SELECT COUNT(*) FROM consent") == 2
    assert not consent.check(store.conn, "+12125550143", purpose="informational", gate_on=True,
                             at_iso=NOW_ISO).ok


def test_reimport_of_records_without_a_source_keeps_one(store, tmp_path):
    path = write(tmp_path, "phone,consent_at,consent_type\n2125550142,2026-03-01,written\n")
    consent.import_file(store, path, now_iso=NOW_ISO)
    again = consent.import_file(store, path, now_iso="2026-03-04T15:00:00.000Z")
    assert (again.added, again.already) == (0, 1)
    assert store.scalar("SELECT COUNT(*) FROM consent") == 1


@pytest.mark.parametrize("text, message", [
    ("name,email\nA,a@x\n", "lacks the phone, consent_at and consent_type columns"),
    ("phone,consent_type\n2125550142,written\n", "lacks the consent_at column:"),
    ("", "is empty"),
    ("phone,consent_at,consent_type\n\n", "has a header but no rows"),
])
def test_unusable_files_are_refused(store, tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        consent.import_file(store, write(tmp_path, text), now_iso=NOW_ISO)
    assert store.scalar("SELECT COUNT(*) FROM consent") == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "cp1252", "utf-8-sig"])
def test_a_consent_file_is_read_in_the_encodings_a_spreadsheet_writes(store, tmp_path, encoding):
    # The leads importer's reading, shared: Excel's "Unicode text" (UTF-16, with its
    # byte-order mark), Windows CSV (cp1252), CSV UTF-8 (a BOM).
    text = "phone,consent_at,consent_type,consent_source\r\n" \
           "2125550142,2026-03-01,written,formulaire signé\r\n"
    path = tmp_path / "consent.csv"
    path.write_bytes((b"\xfe\xff" if encoding == "utf-16-be" else b"") + text.encode(encoding))
    r = consent.import_file(store, path, now_iso=NOW_ISO)
    assert (r.added, r.rejected) == (1, 0)
    assert store.scalar("SELECT source FROM consent") == "formulaire signé"


def test_a_registry_in_utf16_counts_its_lines(store, tmp_path):
    path = tmp_path / "registry.txt"
    path.write_bytes("2125550140\r\n4155550141\r\n".encode("utf-16"))
    got = dnc.import_file(store, path, now_iso=NOW_ISO)
    assert (got.lines, got.numbers, got.added) == (2, 2, 2)


def test_column_option_names_the_phone_column(store, tmp_path):
    path = write(tmp_path, "Work Phone,Home Phone,consent_at,consent_type\n"
                           "2125550142,2125550143,2026-03-01,written\n")
    r = consent.import_file(store, path, now_iso=NOW_ISO, column="home phone")
    assert r.columns["phone"] == ["Home Phone"] and [k[0] for k in kept(store)] == ["+12125550143"]
    with pytest.raises(InputError, match="No column 'cell'"):
        consent.import_file(store, path, now_iso=NOW_ISO, column="cell")


def test_phone_columns_are_found_as_the_dnc_import_finds_them():
    assert consent.phone_columns(["NAME", "PHONE_NUMBER", "CONSENT_AT"]) == [1]
    assert consent.phone_columns(["PHONE1", "PHONE_2", "EMAIL"]) == [0, 1]
    assert consent.phone_columns(["HOME_PHONE_NUMBER", "CELL", "NOTES"]) == [1]
    assert consent.phone_columns(["MOBILE_PHONE", "NOTES"]) == [0]
    assert consent.phone_columns(["NAME", "EMAIL"]) == []


@pytest.mark.parametrize("purpose, kinds", [("telemarketing", [None, "express"]),
                                            ("informational", [None])])
def test_the_prefixes_revived_are_the_reasons_the_gate_gives(store, purpose, kinds):
    for kind in kinds:
        e164 = "+12125550199" if kind is None else "+12125550198"
        if kind:
            consent.record(store.conn, e164=e164, kind=kind, consented_at="2026-01-01T00:00:00.000Z",
                           source=None, origin="test", now_iso=NOW_ISO)
        gate = consent.check(store.conn, e164, purpose=purpose, gate_on=True, at_iso=NOW_ISO)
        assert not gate.ok and gate.reason.startswith(consent.RETIRED_FOR_CONSENT)


def _retired(store, e164: str, purpose: str) -> str:
    return consent.check(store.conn, e164, purpose=purpose, gate_on=True, at_iso=NOW_ISO).reason


def test_import_revives_phones_the_gate_retired_once_they_pass(store, tmp_path):
    tele = builders.campaign(store, "Tele", purpose="telemarketing")
    info = builders.campaign(store, "Info", purpose="informational")
    a, b, c = "+12125550142", "+12125550143", "+12125550144"
    moved, done, express_only = builders.add_leads(store, tele, [
        {"consent": None, "phones": [a, c], "dead": {1: _retired(store, a, "telemarketing")},
         "slot": 2},
        {"consent": None, "phones": [b], "dead": {1: _retired(store, b, "telemarketing")},
         "status": "SKIPPED", "slot": None},
        {"consent": None, "phones": [c], "dead": {1: _retired(store, c, "telemarketing")},
         "status": "SKIPPED", "slot": None},
    ])
    [info_lead] = builders.add_leads(store, info, [
        {"consent": None, "phones": [c], "dead": {1: _retired(store, c, "informational")},
         "status": "SKIPPED", "slot": None}])
    [optout] = builders.add_leads(store, info, [
        {"consent": None, "phones": ["+12125550145"], "dead": {1: "on the opt-out list"},
         "status": "SKIPPED", "slot": None}])
    path = write(tmp_path, "phone,consent_at,consent_type\n"
                           f"{a},2026-03-01,written\n{b},2026-03-01,written\n"
                           f"{c},2026-03-01,express\n+12125550145,2026-03-01,written\n")
    r = consent.import_file(store, path, now_iso=NOW_ISO)

    def dead(lead_id: int) -> list:
        return [p["dead_reason"] for p in store.all(
            "SELECT dead_reason FROM lead_phones WHERE lead_id = ? ORDER BY slot", (lead_id,))]

    assert dead(moved) == [None, None] and dead(done) == [None]
    # Express consent does not open a telemarketing gate; it does an informational one.
    assert dead(express_only)[0].startswith("no written consent on record")
    assert dead(info_lead) == [None]
    assert dead(optout) == ["on the opt-out list"]      # not the consent gate's doing
    assert (r.phones_revived, r.leads_to_restart) == (3, 2)
    # Leads keep their status: the done ones wait for a restart.
    assert store.scalar("SELECT status FROM leads WHERE id = ?", (done,)) == "SKIPPED"
    assert store.scalar("SELECT status FROM leads WHERE id = ?", (moved,)) == "PENDING"
    assert sorted(r["lead_id"] for r in store.all(
        "SELECT lead_id FROM audit WHERE decision = 'consent-revive'")) == \
        sorted([moved, done, info_lead])


# -- the commands ------------------------------------------------------------------------------

def test_cli_import_lists_bad_rows_and_says_restart_dials_done_leads(cli, db_path, tmp_path):
    with builders.workspace(db_path) as st:
        tele = builders.campaign(st, "Tele", purpose="telemarketing")
        builders.add_leads(st, tele, [
            {"consent": None, "phones": ["+12125550142"], "status": "SKIPPED", "slot": None,
             "dead": {1: _retired(st, "+12125550142", "telemarketing")}}])
    path = write(tmp_path, "phone,consent_at,consent_type\n2125550142,2026-03-01,written\n"
                           "2125550143,2026-03-01,oral-ish\n")
    r = cli("consent", "import", path)
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "line 3:") and said(r.stderr, "'oral-ish'")
    assert said(r.stderr, "1 consent record(s) added for 1 number(s)")
    assert said(r.stderr, "1 lead phone(s) skipped for want of consent are dialable again")
    assert said(r.stderr, "dialcli restart CAMPAIGN")
    assert said(r.stdout, "Rows skipped (bad)")
    r = cli("consent", "import", write(tmp_path, "phone,consent_at,consent_type,consent_source\n"
                                                 "2125550142,2026-03-01,written,form\n"
                                                 "2125550143,2026-03-01,oral-ish,\n"), "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert (data["added"], data["already"], data["rejects"]) == \
        (1, 0, [{"line": 3, "reason": "Unknown consent type 'oral-ish'"}])
    r = cli("consent", "import", tmp_path / "missing.csv")
    assert r.exit_code == 2 and said(r.stderr, "does not exist")


def test_cli_list_and_show_mark_revoked_records(cli, db_path, tmp_path):
    with builders.workspace(db_path) as st:
        for e164, kind, at in (("+12125550142", "express", "2026-01-05T10:00:00.000Z"),
                               ("+12125550142", "written", "2026-02-05T10:00:00.000Z"),
                               ("+12125550143", "written", "2026-01-01T10:00:00.000Z")):
            consent.record(st.conn, e164=e164, kind=kind, consented_at=at, source="form",
                           origin="test", now_iso=NOW_ISO)
        dnc.add(st.conn, ["+12125550143"], source="cli", reason="asked by email",
                now_iso="2026-02-01T00:00:00.000Z")
    r = cli("consent", "list", "--type", "written", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert [(x["e164"], x["revoked_reason"]) for x in rows] == \
        [("+12125550142", None), ("+12125550143", "asked by email")]
    r = cli("consent", "list")
    assert r.exit_code == 0 and said(r.stdout, "revoked 2026-02-01 00:00 UTC: asked by email")
    assert r.stdout.count("+12125550142") == 2
    r = cli("consent", "list", "--type", "verbal-ish")
    assert r.exit_code == 2 and said(r.stderr, "Unknown consent type")

    r = cli("consent", "show", "(212) 555-0142", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert [x["kind"] for x in data["records"]] == ["written", "express"]     # newest first
    assert data["now"]["telemarketing"]["ok"] is True
    r = cli("consent", "show", "2125550143")
    assert r.exit_code == 0
    assert said(r.stdout, "revoked 2026-02-01 00:00 UTC: asked by email")
    assert said(r.stdout, "Telemarketing campaigns dialing it now: skipped: no written consent "
                          "on record for +12125550143")
    r = cli("consent", "show", "2125550199")
    assert r.exit_code == 0 and said(r.stderr, "No consent on record for +12125550199")
    r = cli("consent", "show", "12")
    assert r.exit_code == 2 and said(r.stderr, "Not a phone number")


def test_gate_skips_then_consent_import_and_restart_dial(cli, db_path, tmp_path):
    """The whole loop through the real engine: no consent, skipped with the reason;
    the records imported; restart dials them."""
    with builders.workspace(db_path) as st:
        builders.campaign(st, "Spring", purpose="telemarketing", consent=None, max_attempts=1,
                          leads=[{"name": f"Lead {i}", "phones": [f"+1212555{100 + i:04d}"]}
                                 for i in range(3)])
    r = cli("start", "--simulate", "--seed", "3")
    assert r.exit_code == 0, r.output
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM calls") == 0
        reasons = {x["dead_reason"] for x in st.all("SELECT dead_reason FROM lead_phones")}
        assert all(x.startswith("no written consent on record") for x in reasons)
    path = write(tmp_path, "phone,consent_at,consent_type,consent_source\n" + "".join(
        f"+1212555{100 + i:04d},2026-01-01T00:00:00Z,written,form {i}\n" for i in range(3)))
    r = cli("consent", "import", path)
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "3 of their lead(s) were already done")
    assert cli("restart", "--yes", "--no-start").exit_code == 0
    r = cli("start", "--simulate", "--seed", "3")
    assert r.exit_code == 0, r.output
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM calls") == 3
        evidence = [json.loads(x["detail"])["consent"] for x in st.all(
            "SELECT detail FROM audit WHERE decision = 'dial' ORDER BY id")]
        assert [(e["required"], e["type"], e["origin"]) for e in evidence] == \
            [("written", "written", "consent-import:optins.csv")] * 3


def test_demo_is_telemarketing_and_its_gate_skips_the_examples_without_written_consent(
        cli, tmp_path):
    r = cli("demo", "--demo-db", tmp_path / "demo.db", db=False)
    assert r.exit_code == 0, r.output
    assert said(r.stderr, "campaign 'Demo' (telemarketing: each number needs written consent")
    assert said(r.stderr, "Lucas Nguyen (only express consent on record for +17135550112")
    assert said(r.stderr, "Henry White (no written consent on record for +15035550118)")
    with Store(tmp_path / "demo.db") as st:
        assert st.scalar("SELECT purpose FROM campaigns") == "telemarketing"
        skipped = {x["name"]: x["reason"] for x in st.all(
            "SELECT l.name, a.reason FROM audit a JOIN leads l ON l.id = a.lead_id "
            "WHERE a.decision = 'skip' AND a.reason LIKE '%consent%'")}
        assert set(skipped) == {"Lucas Nguyen", "Evelyn Clark", "Henry White"}
        # Every dial relied on a written record of the dialed number.
        kinds = {json.loads(x["detail"])["consent"].get("type") for x in st.all(
            "SELECT detail FROM audit WHERE decision = 'dial'")}
        assert kinds == {"written"}
