"""Consent columns of a leads CSV: records in the import's transaction, rejects, the
summary's consent counts, and the ``import`` command's output."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dialcli.compliance import consent
from dialcli.errors import InputError, Interrupted
from dialcli.leads import importer
from dialcli.workspace import campaigns

import builders

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
HEAD = "name,phone1,phone2,timezone,consent_at,consent_type,consent_source\n"


def write(tmp_path: Path, text: str, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(store, path, campaign_id, **kw):
    kw.setdefault("workers", 0)
    return importer.import_csv(store, path, campaign_id=campaign_id, now=NOW, **kw)


def records(store) -> list[tuple]:
    return [tuple(r) for r in store.all(
        "SELECT e164, kind, consented_at, source, origin, lead_id, revoked_at IS NOT NULL "
        "FROM consent ORDER BY e164, kind")]


def rejects(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(r[0], r[1]) for r in list(csv.reader(f))[1:]]


@pytest.fixture
def tele(store) -> int:
    return builders.campaign(store, purpose="telemarketing")


def test_each_imported_row_gives_one_record_per_phone(store, tele, tmp_path):
    path = write(tmp_path, HEAD +
                 "A,2125550142,3105550143,,2026-03-01,written,https://forms.example/1\n"
                 "B,2125550144,,America/Chicago,2026-03-01 14:30,express,\n"
                 "C,2125550145,,,2026-03-01T14:30:00-08:00,PEWC,call 42\n"
                 "D,2125550146,,,,,\n")
    summary = run(store, path, tele)
    a, b, c, d = (r["id"] for r in store.all("SELECT id FROM leads ORDER BY id"))
    origin = "leads:leads.csv"
    assert records(store) == [
        # A date alone counts from the end of that day; A's phones are in New York and
        # Los Angeles, so the later end (Los Angeles') is kept.
        ("+12125550142", "written", "2026-03-02T07:59:59.999Z", "https://forms.example/1",
         origin, a, 0),
        ("+12125550144", "express", "2026-03-01T20:30:00.000Z", None, origin, b, 0),
        ("+12125550145", "written", "2026-03-01T22:30:00.000Z", "call 42", origin, c, 0),
        ("+13105550143", "written", "2026-03-02T07:59:59.999Z", "https://forms.example/1",
         origin, a, 0),
    ]
    assert summary.consent_records == 4 and summary.rejected == 0 and summary.imported == 4
    assert summary.consent_columns == ["consent_at", "consent_type", "consent_source"]
    # Not template variables: no {{CONSENT_AT}} in a lead's vars.
    assert "CONSENT_AT" not in summary.variables and "CONSENT_TYPE" not in summary.variables
    assert all("CONSENT" not in r["vars"] for r in store.all("SELECT vars FROM leads"))
    # Telemarketing needs written consent: B (express) and D (none) lack it.
    assert (summary.purpose, summary.consent_gate, summary.lacking_consent) == \
        ("telemarketing", "on", 2)
    assert summary.consent_needed == consent.NEEDS["telemarketing"]
    assert consent.check(store.conn, "+12125550145", purpose="telemarketing", gate_on=True,
                         at_iso="2026-03-03T15:00:00.000Z").ok
    assert d


def test_headers_are_normalized_like_other_structured_columns(store, tele, tmp_path):
    path = write(tmp_path, "Name,PHONE1,Consent At,CONSENT-TYPE,consent source,city\n"
                           "A,2125550142,2026-03-01,Written,web form,NYC\n")
    summary = run(store, path, tele)
    assert summary.variables == ["CITY"]
    assert summary.consent_columns == ["Consent At", "CONSENT-TYPE", "consent source"]
    assert records(store)[0][1:4] == ("written", "2026-03-02T04:59:59.999Z", "web form")


@pytest.mark.parametrize("header", ["name,phone1,consent_at", "name,phone1,consent_type",
                                    "name,phone1,consent_source,consent_type"])
def test_half_a_consent_header_is_refused_and_nothing_written(store, tele, tmp_path, header):
    path = write(tmp_path, header + "\nA,2125550142,x\n")
    with pytest.raises(InputError, match="consent_at' and 'consent_type'"):
        run(store, path, tele)
    assert store.scalar("SELECT COUNT(*) FROM leads") == 0
    assert store.scalar("SELECT COUNT(*) FROM consent") == 0


def test_bad_or_incomplete_consent_rejects_the_row_with_line_and_reason(store, tele, tmp_path):
    path = write(tmp_path, HEAD +
                 "A,2125550142,,,2026-03-01,written,\n"
                 "B,2125550143,,,2026-03-01,,\n"           # type empty: not guessed
                 "C,2125550144,,,,written,\n"               # no date
                 "D,2125550145,,,yesterday-ish,written,\n"
                 "E,2125550146,,,2026-03-01,sort of,\n"
                 "F,2125550147,,,,,a source alone\n"
                 "G,2125550148,,,2026-02-30,written,\n")    # no such day
    summary = run(store, path, tele)
    assert summary.imported == 1 and summary.rejected == 6
    assert summary.rejected_by_reason == {
        "consent_at without consent_type": 1, "consent_type without consent_at": 1,
        "bad consent_at": 2, "bad consent_type": 1, "consent_source without consent_at": 1}
    got = dict(rejects(tmp_path / "leads.rejects.csv"))
    assert set(got) == {"3", "4", "5", "6", "7", "8"}
    assert "consent_type is empty" in got["3"] and "consent_at is empty" in got["4"]
    assert "'yesterday-ish'" in got["5"] and "'sort of'" in got["6"]
    assert "consent_source given" in got["7"] and "'2026-02-30'" in got["8"]
    assert [r[0] for r in records(store)] == ["+12125550142"]


def test_rejected_and_duplicate_rows_keep_no_consent(store, tele, tmp_path):
    path = write(tmp_path, HEAD +
                 "A,2125550142,,,2026-03-01,written,\n"
                 "A again,2125550142,,,2026-03-02,express,\n"
                 "B,not-a-phone,,,2026-03-01,written,\n")
    summary = run(store, path, tele)
    assert (summary.imported, summary.duplicates, summary.rejected) == (1, 1, 1)
    assert [r[:2] for r in records(store)] == [("+12125550142", "written")]


def test_consent_of_an_opted_out_number_is_kept_revoked(store, tele, tmp_path):
    store.execute("INSERT INTO dnc (e164, source, added_at) VALUES "
                  "('+12125550142', 'cli', '2026-03-02T00:00:00.000Z')")
    path = write(tmp_path, HEAD + "A,2125550142,2125550143,,2026-03-01T10:00:00Z,written,\n")
    summary = run(store, path, tele)
    assert [(r[0], r[6]) for r in records(store)] == [("+12125550142", 1), ("+12125550143", 0)]
    assert summary.consent_records == 2 and summary.lacking_consent == 0


def test_purpose_decides_what_is_lacking_and_a_gate_off_counts_nothing(store, tmp_path):
    text = HEAD + "A,2125550142,,,2026-03-01,express,\nB,2125550143,,,,,\n"
    info = builders.campaign(store, "Info", purpose="informational")
    assert run(store, write(tmp_path, text), info).lacking_consent == 1
    tele = builders.campaign(store, "Tele", purpose="telemarketing")
    assert run(store, write(tmp_path, text), tele).lacking_consent == 2
    # Records are workspace-wide: a second campaign's leads rely on them too, and the
    # count covers every lead of the campaign still to dial.
    assert run(store, write(tmp_path, "name,phone1\nC,2125550144\n", "more.csv"),
               info).lacking_consent == 2
    campaigns.edit_campaign(store, tele, consent_gate="off", i_have_consent_records=True,
                            changed_by="test", now=NOW)
    off = run(store, write(tmp_path, "name,phone1\nD,2125550145\n", "d.csv"), tele)
    assert (off.consent_gate, off.lacking_consent) == ("off", None)
    store.execute("UPDATE campaigns SET purpose = 'unspecified' WHERE id = ?", (info,))
    unset = run(store, write(tmp_path, "name,phone1\nE,2125550146\n", "e.csv"), info)
    assert (unset.purpose, unset.consent_needed, unset.lacking_consent) == \
        ("unspecified", None, None)


def test_lacking_counts_with_and_without_the_shortcut(store, tmp_path):
    """``lacking`` counts every waiting lead without a scan only when no record could
    count; otherwise it looks at each lead's phones."""
    tele = builders.campaign(store, "Tele", purpose="telemarketing")
    run(store, write(tmp_path, HEAD + "A,2125550142,,,2026-03-01,express,\nB,2125550143,,,,,\n"),
        tele)
    at = "2026-03-03T15:00:00.000Z"
    assert consent.lacking(store.conn, tele, "telemarketing", at) == 2     # no written: shortcut
    assert consent.lacking(store.conn, tele, "informational", at) == 1     # A has express: scan
    # Before the consent was given, nothing counts: both leads lack any consent.
    assert consent.lacking(store.conn, tele, "informational", "2026-02-01T00:00:00.000Z") == 2


def _body(n: int) -> str:
    return HEAD + "".join(f"L{i},212555{i:04d},,,2026-03-01,written,form {i}\n"
                          for i in range(1000, 1000 + n))


def test_failure_mid_import_leaves_no_consent_record(store, tele, tmp_path, monkeypatch):
    calls = []
    real = importer._Writer.write

    def failing(self, payload):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        real(self, payload)

    monkeypatch.setattr(importer._Writer, "write", failing)
    with pytest.raises(RuntimeError):
        run(store, write(tmp_path, _body(60)), tele, chunk_rows=10)
    assert len(calls) == 3      # two chunks with consents were written, then rolled back
    assert store.scalar("SELECT COUNT(*) FROM consent") == 0
    assert store.scalar("SELECT COUNT(*) FROM leads") == 0


@pytest.mark.parametrize("workers", [0, 1])
def test_ctrl_c_mid_import_leaves_no_consent_record(store, tele, tmp_path, workers):
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        run(store, write(tmp_path, _body(600)), tele, chunk_rows=50, progress=progress,
            workers=workers)
    assert store.scalar("SELECT COUNT(*) FROM consent") == 0


def test_worker_process_keeps_the_same_records(tmp_path):
    from dialcli.store import Store

    text = _body(400) + "Bad,2125559999,,,2026-13-01,written,\n"
    out = []
    for workers in (0, 1):
        with Store(tmp_path / f"w{workers}.db") as st:
            cid = builders.campaign(st, purpose="telemarketing")
            s = importer.import_csv(st, write(tmp_path, text), campaign_id=cid, now=NOW,
                                    workers=workers, chunk_rows=64,
                                    rejects_path=tmp_path / f"r{workers}.csv")
            out.append((s.consent_records, s.rejected, records(st)))
    assert out[0] == out[1]
    assert out[0][0] == 400 and out[0][1] == 1


# -- the command ----------------------------------------------------------------------------

def _cli_workspace(cli, tmp_path, purpose="telemarketing"):
    for args in (("agent", "create", "Zara", "--greeting", "Hi, this is Zara from Acme.",
                  "--prompt", "p"),
                 ("numbers", "add", "+14155550100"),
                 ("campaign", "create", "Spring", "--agent", "Zara", "--from", "+14155550100",
                  "--purpose", purpose)):
        r = cli(*args)
        assert r.exit_code == 0, r.output
    return write(tmp_path, HEAD + "A,2125550142,,,2026-03-01,written,form\n"
                                  "B,2125550143,,,2026-03-01,express,\n"
                                  "C,2125550144,,,,,\n"
                                  "D,2125550145,,,2026-03-01,,\n")


def said(text: str, fragment: str) -> bool:
    return "".join(fragment.split()) in "".join(text.split())


def test_cli_import_says_what_the_gate_will_skip(cli, tmp_path):
    path = _cli_workspace(cli, tmp_path)
    r = cli("import", path)
    assert r.exit_code == 0, r.output
    assert said(r.stdout, "consent records 2 one per phone, from consent_at, consent_type, "
                          "consent_source")
    assert said(r.stdout, "2 leads to dial have no prior express written consent on record "
                          "(telemarketing campaign) and will be skipped")
    assert said(r.stdout, "consent_at without consent_type: 1")
    assert "line 5" not in r.stdout      # the rejects file has the line; the summary counts


def test_cli_import_json_has_the_consent_fields(cli, tmp_path):
    path = _cli_workspace(cli, tmp_path, purpose="informational")
    r = cli("import", path, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {k: data[k] for k in ("purpose", "consent_gate", "consent_records",
                                 "lacking_consent", "consent_columns", "consent_needed")} == {
        "purpose": "informational", "consent_gate": "on", "consent_records": 2,
        "lacking_consent": 1, "consent_columns": ["consent_at", "consent_type",
                                                  "consent_source"],
        "consent_needed": "prior express consent (written or not)"}
    assert rejects(tmp_path / "leads.rejects.csv")[0][0] == "5"


def test_cli_import_without_consent_columns_says_every_lead_lacks_it(cli, tmp_path):
    _cli_workspace(cli, tmp_path)
    r = cli("import", write(tmp_path, "name,phone1\nA,2125550142\n", "plain.csv"))
    assert r.exit_code == 0, r.output
    assert "consent records" not in r.stdout
    assert said(r.stdout, "1 lead to dial has no prior express written consent on record")
