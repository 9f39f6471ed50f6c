"""Commands: ``dialcli consent import|list|show`` (the workspace's consent records).

Records are keyed by phone number and bind every campaign: a telemarketing campaign
dials a number only with a written record, an informational one with any record
(``dialcli.compliance.consent``, where the work is). They come from a leads CSV's
consent columns or from ``consent import``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import progress
from dialcli.cli.common import (note, now, num, out, print_json, show, store, success, warn,
                                when)
from dialcli.clock import to_iso
from dialcli.compliance import consent as core
from dialcli.errors import InputError
from dialcli.phones import PhoneError, normalize_e164

app = typer.Typer(
    name="consent",
    help="Consent records: whose numbers may get AI-voice calls, and the proof.\n\n"
         "\b\nExample:\n  dialcli consent import web-form-optins.csv",
    no_args_is_help=True,
)


def _when(iso: str | None) -> str:
    return formats.instant(iso, none="")


def _state(r: core.Record) -> Text:
    if r.revoked_at is None:
        return Text("live", style="green")
    return Text(f"revoked {_when(r.revoked_at)}: {r.revoked_reason or 'no reason kept'}",
                style="red")


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    path: Path = typer.Argument(..., metavar="FILE",
                                help="CSV: a phone column, consent_at, consent_type, "
                                     "consent_source (optional)."),
    column: Optional[str] = typer.Option(None, "--column", metavar="COLUMN",
                                         help="The column holding the phone numbers."),
    default_region: str = typer.Option("US", "--default-region", metavar="CC",
                                       help="Country of numbers written without +country code."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add consent records by phone number from a CSV (a web-form or CRM export).

    The file needs a phone column (phone, mobile, ... or name it with --column),
    consent_at (a date or date-time; one without a zone is read in the number's
    zone, a date alone counts from the end of that day) and consent_type
    (written or express); consent_source (form URL, recording id) is optional.
    Numbers need not be in the workspace yet. Bad rows are listed with their line
    and skipped; the rest is added in one transaction. Lead phones skipped for
    want of consent are dialable again once their number has the record.

    \b
    Example:
      dialcli consent import web-form-optins.csv
      dialcli consent import crm-export.csv --column "Mobile Phone" --json
    """
    st = store(ctx)
    with progress.file_bar(f"Importing {Path(path).name}") as advance:
        result = core.import_file(st, path, now_iso=to_iso(now(ctx)), column=column,
                                  default_region=default_region, progress=advance)
    if as_json:
        print_json(result.as_dict())
        return
    show(import_table(result))
    note("Columns read: " + escape("; ".join(f"{role} {', '.join(names)!r}"
                                             for role, names in result.columns.items() if names)))
    for line, reason in result.rejects[:20]:
        note(escape(f"  line {line}: {reason}"))
    if result.rejected > 20:
        note(f"  ... and {formats.count(result.rejected - 20)} more (all of them: --json).")
    success(f"{formats.count(result.added)} consent record(s) added for "
            f"{formats.count(result.numbers)} number(s)"
            + (f"; {formats.count(result.already)} were already on file." if result.already else "."))
    if result.revoked_by_optout:
        warn(f"{formats.count(result.revoked_by_optout)} of them are for numbers that opted out later: kept, "
             "but revoked (a later opt-out always wins).")
    if result.phones_revived:
        note(f"{formats.count(result.phones_revived)} lead phone(s) skipped for want of consent are "
             "dialable again.")
    if result.leads_to_restart:
        note(f"{formats.count(result.leads_to_restart)} of their lead(s) were already done (SKIPPED or "
             "EXHAUSTED): `dialcli restart CAMPAIGN` dials them.")


def import_table(r: core.ImportResult) -> Table:
    table = Table(title=f"Imported {r.source.split(':', 1)[1]}", title_justify="left",
                  show_header=False)
    table.add_column("What")
    table.add_column("Count", justify="right")
    for what, n in (("Rows read", r.rows), ("Records added", r.added),
                    ("Already on file", r.already), ("Rows skipped (bad)", r.rejected),
                    ("Lead phones dialable again", r.phones_revived)):
        table.add_row(what, num(n))
    return table


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    kind: Optional[str] = typer.Option(None, "--type", metavar="written|express",
                                       help="Only records of this type."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the consent records by number, newest first; revoked ones are marked.

    \b
    Example:
      dialcli consent list --type written
      dialcli consent list --json
    """
    records = core.listing(store(ctx).conn, kind=core.parse_kind(kind) if kind else None)
    if as_json:
        print_json([r.__dict__ for r in records])
        return
    if not records:
        note("No consent records" + (f" of type {kind}" if kind else "") + ". Add them with a "
             "leads CSV's consent columns or: dialcli consent import FILE")
        return
    show(records_table(records, title=f"Consent records ({formats.count(len(records))})"),
         rows=len(records))


def records_table(records: list[core.Record], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("Number", "Type", "Given", "Source", "From", "State"):
        table.add_column(col, no_wrap=col in ("Number", "Type"), overflow="fold")
    for r in records:
        table.add_row(r.e164, r.kind, when(r.consented_at), Text(r.source or ""),
                      Text(r.origin + (f" (lead {r.lead_id})" if r.lead_id else "")), _state(r))
    return table


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    number: str = typer.Argument(..., metavar="NUMBER", help="Phone number (E.164 or 10-digit US)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show every consent record of a number, newest first, and what a dial now needs.

    \b
    Example:
      dialcli consent show +14155550123
    """
    try:
        e164 = normalize_e164(number)
    except PhoneError as exc:
        raise InputError(f"Not a phone number: {number!r} ({exc}).",
                         hint="Use E.164 (+14155550123) or a 10-digit US number.") from None
    data = core.history(store(ctx).conn, e164, at_iso=to_iso(now(ctx)))
    if as_json:
        print_json(data)
        return
    records = [core.Record(**r) for r in data["records"]]
    if records:
        show(records_table(records, title=f"Consent records of {e164}"))
    else:
        note(f"No consent on record for {e164}.")
    for purpose, gate in data["now"].items():
        verdict = "may be dialed" if gate["ok"] else f"skipped: {gate['reason']}"
        out.print(Text(f"{purpose.capitalize()} campaigns dialing it now: {verdict}"))
