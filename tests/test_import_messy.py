"""Messy real-world CSVs, end to end through ``dialcli import`` on a real workspace.

Each case is a file as an export tool or a person writes it (Excel on Windows and
Mac, Numbers, Google Sheets and Contacts, HubSpot, Salesforce, Outlook, files pasted
together, hand-typed phones) and what the import must do with it: the leads it keeps
(line, name, phones by slot), the rows it rejects (line as an editor shows it, and a
reason a person understands), and what it tells the user. A file that cannot be
read exits 2 with a message and leaves the workspace as it was; nothing ever ends in
a traceback. ``preview`` renders the tokens such a file brings.
"""

from __future__ import annotations

import codecs
import csv
import json
from dataclasses import dataclass, field

import pytest

from dialcli.store import Store

GREETING = "Hi {{NAME}}, this is Zara from Acme about case {{CASE_NUMBER}}. Say stop to opt out."


@pytest.fixture
def ws(cli):
    """A workspace made with the CLI: a number, an agent, one campaign."""
    assert cli("number", "add", "+14155550100").exit_code == 0
    assert cli("agent", "create", "Zara", "--greeting", GREETING,
               "--prompt", "You are Zara.").exit_code == 0
    assert cli("campaign", "create", "Spring", "--agent", "Zara", "--from", "+14155550100",
               "--purpose", "informational").exit_code == 0
    return cli


@dataclass
class Case:
    id: str
    data: bytes
    #: (line, name, [e164 of phone1, phone2, ... by slot; None for an empty slot])
    leads: list[tuple[int, str, list]] = field(default_factory=list)
    #: (line, words the reason holds)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    #: words the command's output must hold (notices, warnings, errors)
    says: list[str] = field(default_factory=list)
    #: words it must not hold
    not_says: list[str] = field(default_factory=list)
    exit: int = 0
    args: tuple = ()
    suffix: str = ".csv"
    #: line -> variables the lead must have (a subset of its vars)
    vars: dict[int, dict[str, str]] = field(default_factory=dict)


def u16(text: str, bom: bool = True, order: str = "le") -> bytes:
    mark = {"le": codecs.BOM_UTF16_LE, "be": codecs.BOM_UTF16_BE}[order] if bom else b""
    return mark + text.encode(f"utf-16-{order}")


P = "+1415555"   # the numbers below are +1 415 555 01xx

CASES = [
    # -- encodings -----------------------------------------------------------------
    Case("excel-csv-utf8-bom-crlf",
         codecs.BOM_UTF8 + "name,phone1,case number\r\nAlex Chén,(415) 555-0101,C1\r\n"
         "José Ñúñez,415.555.0102,C2\r\n".encode(),
         leads=[(2, "Alex Chén", [P + "0101"]), (3, "José Ñúñez", [P + "0102"])],
         vars={2: {"CASE_NUMBER": "C1"}}),
    Case("excel-windows-cp1252-smart-quotes-nbsp",
         "name,phone1,note\r\nRenée O\u2019Brien,415\u00a0555\u00a00103,\u201cVIP\u201d \u2013 "
         "\u20ac5\r\n".encode("cp1252"),
         leads=[(2, "Renée O\u2019Brien", [P + "0103"])],
         vars={2: {"NOTE": "\u201cVIP\u201d \u2013 \u20ac5"}}, says=["Windows-1252"]),
    Case("excel-unicode-text-utf16le-tabs",
         u16("name\tphone1\tcase number\r\nAlex\t4155550104\tC4\r\nBea\t+1 415 555 0105\tC5\r\n"),
         leads=[(2, "Alex", [P + "0104"]), (3, "Bea", [P + "0105"])], suffix=".txt"),
    Case("utf16-big-endian", u16("name\tphone1\nAlex\t4155550106\n", order="be"),
         leads=[(2, "Alex", [P + "0106"])], suffix=".txt"),
    Case("utf16-without-bom", u16("name\tphone1\nAlex\t4155550107\n", bom=False),
         leads=[(2, "Alex", [P + "0107"])], suffix=".txt"),
    Case("excel-csv-macintosh-mac-roman-cr", "name,phone1\rJosé Ñúñez,4155550193\r"
         .encode("mac_roman"),
         leads=[(2, "José Ñúñez", [P + "0193"])], says=["Mac Roman"]),
    Case("latin1-with-c1-bytes", "name,phone1\nJosé,4155550108\n".encode("latin-1")
         + b"Ren\x81e,4155550109\n",
         leads=[(2, "José", [P + "0108"]), (3, "Ren\x81e", [P + "0109"])], says=["Latin-1"]),
    Case("nul-bytes-in-a-row", b"name,phone1\nAl\x00ex,415555\x000110\nBea,4155550111\n",
         leads=[(2, "Alex", [P + "0110"]), (3, "Bea", [P + "0111"])]),
    # -- delimiters and line endings -----------------------------------------------
    Case("semicolons-and-decimal-commas", b"name;phone1;amount\nAlex;4155550112;1.234,56\n",
         leads=[(2, "Alex", [P + "0112"])], vars={2: {"AMOUNT": "1.234,56"}}),
    Case("excel-sep-line", b"sep=;\r\nname;phone1;amount\r\nAlex;4155550113;5,5\r\n",
         leads=[(3, "Alex", [P + "0113"])], vars={3: {"AMOUNT": "5,5"}}),
    Case("tab-separated", b"name\tphone1\tamount\nAlex\t4155550114\t10\n",
         leads=[(2, "Alex", [P + "0114"])], suffix=".tsv"),
    Case("pipe-separated", b"name|phone1|amount\nAlex|4155550115|10\n",
         leads=[(2, "Alex", [P + "0115"])], suffix=".txt"),
    Case("old-mac-cr-line-ends", b"name,phone1\rAlex,4155550116\rBea,bad\rCid,4155550117\r",
         leads=[(2, "Alex", [P + "0116"]), (4, "Cid", [P + "0117"])],
         rejects=[(3, "phone1 'bad': not a phone number")]),
    Case("mixed-line-ends-no-final-newline",
         b"name,phone1\r\nAlex,4155550118\nBea,4155550119\rCid,4155550120",
         leads=[(2, "Alex", [P + "0118"]), (3, "Bea", [P + "0119"]), (4, "Cid", [P + "0120"])],
         not_says=["cut short"]),
    Case("blank-lines-and-rows-of-commas",
         b"\n\nname,phone1,x\n\nAlex,4155550121,1\n,,\n\n,,,,\nBea,bad,2\n",
         leads=[(5, "Alex", [P + "0121"])], rejects=[(9, "phone1 'bad'")]),
    # -- rows ------------------------------------------------------------------------
    Case("ragged-rows", b"name,phone1,a,b\nAlex,4155550122\nBea,4155550123,1,2,3\n"
         b"Cid,4155550124,1,2\n",
         leads=[(2, "Alex", [P + "0122"]), (4, "Cid", [P + "0124"])],
         rejects=[(3, "has 5 values but the header has 4 columns")]),
    Case("quoted-newlines-commas-quotes",
         b'name,phone1,notes\nAlex,4155550125,"line1\nline2"\n"Chen, Bea",4155550126,'
         b'"say ""hi"""\nBad,12,"x\r\ny"\nCid,4155550127,z\n',
         leads=[(2, "Alex", [P + "0125"]), (4, "Chen, Bea", [P + "0126"]),
                (7, "Cid", [P + "0127"])],
         rejects=[(5, "too few digits")], vars={4: {"NOTES": 'say "hi"'}}),
    Case("name-with-line-break-and-blanks", b'name,phone1\n"  Alex\n Chen\t",4155550128\n',
         leads=[(2, "Alex Chen", [P + "0128"])]),
    Case("very-long-value", b"name,phone1,notes\nAlex,4155550129," + b"x" * 300_000 + b"\n",
         leads=[(2, "Alex", [P + "0129"])]),
    Case("excel-error-values", b"name,phone1,amount,case number\nAlex,4155550131,#N/A,C1\n"
         b"#REF!,4155550132,5,#VALUE!\n",
         leads=[(2, "Alex", [P + "0131"]), (3, "", [P + "0132"])],
         vars={2: {"AMOUNT": "", "CASE_NUMBER": "C1"}, 3: {"CASE_NUMBER": ""}},
         says=["3 value(s) are Excel errors"]),
    # -- headers ---------------------------------------------------------------------
    Case("header-spaces-case-bom", codecs.BOM_UTF8 + b' Name , PHONE1 ,"  Case Number "\n'
         b"Alex,4155550130,C9\n",
         leads=[(2, "Alex", [P + "0130"])], vars={2: {"CASE_NUMBER": "C9"}}),
    Case("duplicate-header-names", b"name,phone1,Notes,notes\nAlex,4155550131,a,b\n",
         leads=[(2, "Alex", [P + "0131"])], vars={2: {"NOTES": "a", "NOTES_2": "b"}},
         says=["{{NOTES_2}}"]),
    Case("pandas-index-and-unnamed-columns",
         b",name,phone1,Unnamed: 3\n0,Alex,4155550132,\n1,Bea,4155550133,\n",
         leads=[(2, "Alex", [P + "0132"]), (3, "Bea", [P + "0133"])]),
    Case("numbers-table-title-row", b"Table 1\nname,phone1\nAlex,4155550134\n",
         leads=[(3, "Alex", [P + "0134"])], says=["The header is on line 2"]),
    Case("excel-title-and-blank-rows-above-header",
         b"Leads export 2026-03-01,,\n,,\nname,phone1,amount\nAlex,4155550135,5\n",
         leads=[(4, "Alex", [P + "0135"])], says=["line 1-2 above it"]),
    Case("two-excel-files-pasted-together",
         codecs.BOM_UTF8 + b"phone1,name\r\n4155550138,Alex\r\n" + codecs.BOM_UTF8
         + b"phone1,name\r\n4155550139,Bea\r\n",
         leads=[(2, "Alex", [P + "0138"]), (4, "Bea", [P + "0139"])],
         says=["repeat the header", "line 3"]),
    Case("header-repeated-mid-file",
         b"name,phone1\nAlex,4155550136\nname,phone1\nBea,4155550137\n",
         leads=[(2, "Alex", [P + "0136"]), (4, "Bea", [P + "0137"])],
         says=["repeat the header", "line 3"]),
    # -- CRM and address-book exports ------------------------------------------------
    Case("hubspot", b"First Name,Last Name,Mobile Phone Number,Email,Company Name\n"
         b"Alex,Chen,+1 415 555 0138,a@x.io,Acme\n",
         leads=[(2, "Alex Chen", [P + "0138"])],
         vars={2: {"FIRST_NAME": "Alex", "COMPANY_NAME": "Acme"}},
         says=["'Mobile Phone Number' as phone1", "'First Name' and 'Last Name' joined"]),
    Case("salesforce", b"FirstName,LastName,Account Name,MobilePhone,Phone,Email,"
         b"NumberOfEmployees\nAlex,Chen,Acme Inc,4155550139,4155550140,a@x.io,250\n",
         leads=[(2, "Alex Chen", [P + "0139", P + "0140"])],
         vars={2: {"NUMBEROFEMPLOYEES": "250", "ACCOUNT_NAME": "Acme Inc"}}),
    Case("google-contacts",
         b"Name,Given Name,Family Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,"
         b"Phone 2 - Value\nAlex Chen,Alex,Chen,Mobile,+1 415-555-0141,Work,415-555-0142\n",
         leads=[(2, "Alex Chen", [P + "0141", P + "0142"])],
         vars={2: {"PHONE_1_TYPE": "Mobile"}}),
    Case("outlook", b"First Name,Last Name,Business Phone,Business Fax,Home Phone,Mobile Phone,"
         b"E-mail Address\nAlex,Chen,(415) 555-0143,(415) 555-0199,,415 555 0144,a@x.io\n",
         leads=[(2, "Alex Chen", [P + "0143", None, P + "0144"])],
         says=["'E-mail Address' as the email"]),
    Case("pipedrive", b"Person - Name,Organization - Name,Person - Phone - Work,"
         b"Person - Phone - Mobile,Person - Email - Work\n"
         b"Alex Chen,Acme,415-555-0147,415-555-0148,a@x.io\n",
         leads=[(2, "Alex Chen", [P + "0147", P + "0148"])],
         vars={2: {"ORGANIZATION_NAME": "Acme"}}),
    Case("cell-and-full-name", b"Full Name,Cell\nAlex Chen,4155550145\n",
         leads=[(2, "Alex Chen", [P + "0145"])]),
    Case("first-name-only", b"first_name,phone\nAlex,4155550146\n",
         leads=[(2, "Alex", [P + "0146"])]),
    Case("german-export-with-region", "Name;Telefon;Betrag\nJürgen;0151 23456789;1.234,56\n"
         .encode("cp1252"), args=("--default-region", "DE"),
         leads=[(2, "Jürgen", ["+4915123456789"])]),
    # -- phones ----------------------------------------------------------------------
    Case("phone-spellings",
         "name,phone1\n"
         "A,(415) 555-0150\nB,415.555.0151\nC,+1 415 555 0152\nD,1-415-555-0153\n"
         "E,'4155550154\nF,4155550155.0\nG,\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff15"
         "\uff16\nH,415\u200b555\u200b0157\nI,=\"4155550158\"\nJ,415 555 0159 (cell)\n"
         "K,+44 20 7946 0958\nL,00 44 20 7946 0959\nM,011 44 20 7946 0960\n"
         'N,"4,155,550,190"\nO,1.4155550191E+10\n'.encode(),
         leads=[(2, "A", [P + "0150"]), (3, "B", [P + "0151"]), (4, "C", [P + "0152"]),
                (5, "D", [P + "0153"]), (6, "E", [P + "0154"]), (7, "F", [P + "0155"]),
                (8, "G", [P + "0156"]), (9, "H", [P + "0157"]), (10, "I", [P + "0158"]),
                (11, "J", [P + "0159"]), (12, "K", ["+442079460958"]),
                (13, "L", ["+442079460959"]), (14, "M", ["+442079460960"]),
                (15, "N", [P + "0190"]), (16, "O", [P + "0191"])]),
    Case("phones-that-are-not-numbers",
         b"name,phone1\nA,4.15555E+09\nB,415-555-0161 ext 12\nC,41555\nD,415555012345678\n"
         b"E,N/A\nF,-\nG,#N/A\nH,0\nI,TBD\nJ,0151 23456789\nK,555-0100 / 555-0101\n"
         b"L,415-555-0162 (fax)\n",
         rejects=[(2, "Excel scientific notation"), (2, "Format the phone columns as Text"),
                  (3, "extension"), (4, "too few digits"), (5, "too many digits"),
                  (6, "no phone number"), (7, "no phone number"), (8, "no phone number"),
                  (9, "no phone number"), (10, "no phone number"),
                  (11, "--default-region"), (12, "two numbers in one cell"), (13, "fax")]),
    Case("placeholder-phone1-falls-to-phone2", b"name,phone1,phone2\nAlex,N/A,4155550163\n",
         leads=[(2, "Alex", [None, P + "0163"])]),
    Case("same-number-twice", b"name,phone1,phone2\nAlex,4155550164,(415) 555-0164\n"
         b"Bea,415.555.0164,4155550165\n",
         leads=[(2, "Alex", [P + "0164"])],
         rejects=[(3, "duplicate: +14155550164 is also on line 2")],
         says=["the same number as phone1"]),
    # -- files that are not lead CSVs: exit 2, nothing written ----------------------------
    Case("html-error-page", b"<!DOCTYPE html><html><body>Sign in</body></html>\n", exit=2,
         says=["web page"]),
    Case("json", b'[{"name": "Alex", "phone1": "4155550170"}]\n', exit=2, says=["JSON"]),
    Case("xlsx", b"PK\x03\x04" + b"\x00" * 100, exit=2, says=["Excel workbook"]),
    Case("binary-nuls", b"\x00" * 64, exit=2, says=["NUL bytes"]),
    Case("only-blank-lines", b"\r\n\n\n", exit=2, says=["no header row"]),
    Case("header-only", b"name,phone1\r\n", exit=2, says=["no data rows"]),
    Case("no-phone-column", b"Person,Fax\nAlex,4155550171\n", exit=2,
         says=["missing the required columns 'name' and 'phone1'", "'Person', 'Fax'"]),
    Case("unclosed-quote", b'name,phone1,notes\nAlex,4155550172,"oops\nBea,4155550173,ok\n',
         exit=2, says=["line 2", "never closed"]),
]


def _leads(db_path) -> list[tuple[int, str, list]]:
    with Store(db_path) as st:
        out = []
        for lead in st.all("SELECT id, row_number, name FROM leads ORDER BY id"):
            phones = dict(st.all("SELECT slot, e164 FROM lead_phones WHERE lead_id = ?",
                                 (lead["id"],)))
            slots = [phones.get(s) for s in range(1, max(phones, default=0) + 1)]
            out.append((lead["row_number"], lead["name"], slots))
        return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_messy_csv(ws, db_path, tmp_path, case):
    path = tmp_path / f"{case.id}{case.suffix}"
    path.write_bytes(case.data)
    result = ws("import", path, *case.args)
    output = result.output
    assert "Traceback" not in output
    assert result.exit_code == case.exit, output
    for words in case.says:
        assert words in " ".join(output.split()), (words, output)
    for words in case.not_says:
        assert words not in " ".join(output.split()), (words, output)
    rejects = tmp_path / f"{case.id}.rejects.csv"
    if case.exit:
        with Store(db_path) as st:
            assert st.scalar("SELECT COUNT(*) FROM leads") == 0
            assert st.scalar("SELECT COUNT(*) FROM imports") == 0
        assert not rejects.exists()
        return
    assert _leads(db_path) == case.leads
    with Store(db_path) as st:
        for line, want in case.vars.items():
            got = json.loads(st.scalar("SELECT vars FROM leads WHERE row_number = ?", (line,)))
            assert {k: got.get(k) for k in want} == want
    got_rejects = []
    if rejects.exists():
        with open(rejects, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        assert rows[0][:2] == ["line", "reason"]
        got_rejects = [(int(r[0]), r[1]) for r in rows[1:]]
    assert sorted({line for line, _ in got_rejects}) == sorted({line for line, _ in case.rejects})
    reasons = dict(got_rejects)
    for line, words in case.rejects:
        assert words in reasons[line], (line, words, reasons[line])


def test_formulas_in_rejected_rows_stay_text_in_a_spreadsheet(ws, tmp_path):
    """The rejects file is opened in Excel to be fixed: a name or note that is a formula
    ('=HYPERLINK(...)', '=cmd|...') is written so that it shows as text, never runs."""
    path = tmp_path / "leads.csv"
    path.write_text('name,phone1,notes\n"=cmd|\' /C calc\'!A0",12,"=HYPERLINK(""http://x"",""y"")"\n'
                    '@SUM(1),bad,+1 555\nAlex,4155550180,-5\n')
    result = ws("import", path)
    assert result.exit_code == 0, result.output
    with open(tmp_path / "leads.rejects.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))[1:]
    assert [r[2:] for r in rows] == [
        ["'=cmd|' /C calc'!A0", "12", "'=HYPERLINK(\"http://x\",\"y\")"],
        ["'@SUM(1)", "bad", "'+1 555"],
    ]


def test_preview_renders_the_tokens_of_a_crm_export(ws, tmp_path):
    """A HubSpot-style file with no name column: {{NAME}} is first and last name, the
    file's own columns are tokens, and nothing the greeting uses is unknown."""
    path = tmp_path / "hubspot.csv"
    path.write_text("First Name,Last Name,Mobile Phone Number,Case Number\n"
                    "Alex,Chen,(415) 555-0181,C-77\n")
    assert ws("import", path).exit_code == 0
    result = ws("preview", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["greeting"].startswith("Hi Alex Chen, this is Zara from Acme about case C-77.")
    assert data["unknown_tokens"] == [] and data["lead"]["vars"]["FIRST_NAME"] == "Alex"


def test_time_zones_as_lead_lists_write_them(ws, db_path, tmp_path):
    """'EST', 'Pacific', 'Central Time' are the places whose clocks they mean, with
    daylight saving time (the tz database's fixed 'EST' is an hour off all summer)."""
    path = tmp_path / "tz.csv"
    path.write_text("name,phone1,Time Zone\nA,4155550190,EST\nB,4155550191,Pacific\n"
                    "C,4155550192,central time\nD,4155550193,America/denver\nE,4155550194,Mars\n")
    result = ws("import", path)
    assert result.exit_code == 0, result.output
    assert "1 timezone value(s) are not IANA zone names" in " ".join(result.output.split())
    with Store(db_path) as st:
        got = [r[0] for r in st.all("SELECT timezone FROM leads ORDER BY id")]
    assert got == ["America/New_York", "America/Los_Angeles", "America/Chicago",
                   "America/Denver", None]
