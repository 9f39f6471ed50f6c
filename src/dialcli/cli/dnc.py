"""Commands: ``dialcli dnc add|remove|list|import|export`` (the workspace opt-out list).

The list is per workspace and binds every campaign; a running campaign checks it at
the moment of each dial, so ``dnc add`` here stops the very next dial of a campaign
running in another terminal. The work is in ``dialcli.compliance.dnc``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from dialcli import formats
from dialcli.cli import progress
from dialcli.cli.common import (YES, confirm, num, note, now, print_json, show, store, success,
                                when)
from dialcli.cli.common import result as result_
from dialcli.clock import to_iso
from dialcli.compliance import dnc as core
from dialcli.errors import InputError
from dialcli.results.exports import write_atomically

app = typer.Typer(
    name="dnc",
    help="The workspace opt-out (do-not-call) list: never dialed by any campaign.\n\n"
         "\b\nExample:\n  dialcli dnc add +14155550123 --reason 'asked by email'",
    no_args_is_help=True,
)


def _effects(result) -> str:
    bits = []
    if result.phones:
        bits.append(f"{formats.count(result.phones)} lead phone(s) retired")
    if result.leads_moved:
        bits.append(f"{formats.count(result.leads_moved)} lead(s) moved to their next phone")
    if result.leads_skipped:
        bits.append(f"{formats.count(result.leads_skipped)} lead(s) left with nothing to dial")
    return ("; ".join(bits) + ".") if bits else ""


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    numbers: list[str] = typer.Argument(..., help="Phone numbers (E.164 or 10-digit US)."),
    reason: str = typer.Option("added by hand", "--reason", "-r", help="Why (kept as evidence)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Put numbers on the opt-out list; every campaign stops dialing them at once.

    \b
    Example:
      dialcli dnc add +14155550123 "(212) 555-0102" --reason "asked by email"
    """
    st = store(ctx)
    e164s = core.normalize(numbers)
    with st.tx() as conn:
        result = core.add(conn, e164s, source="cli", reason=reason, now_iso=to_iso(now(ctx)))
    if as_json:
        print_json({"numbers": e164s, "added": result.changed, "already": result.unchanged,
                    "phones_retired": result.phones, "leads_moved": result.leads_moved,
                    "leads_skipped": result.leads_skipped})
        return
    success(f"Added {formats.count(result.changed)} number(s) to the opt-out list"
            + (f" ({formats.count(result.unchanged)} already on it)." if result.unchanged else "."))
    if _effects(result):
        note(_effects(result))


@app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    numbers: list[str] = typer.Argument(..., help="Phone numbers to take off the list."),
    new_consent: bool = typer.Option(
        False, "--with-new-consent",
        help="Also remove numbers whose owner opted out on a call: only with their new consent."),
    reason: str = typer.Option(None, "--reason", "-r", help="Why (kept as evidence)."),
    yes: bool = YES,
    force: bool = typer.Option(False, "--force", hidden=True),
) -> None:
    """Take numbers off the opt-out list (a person's own opt-out needs --with-new-consent).

    Asks first on a terminal; with no terminal, --yes is required.

    \b
    Example:
      dialcli dnc remove +14155550123 --reason "added by mistake" --yes
    """
    if force:
        # --force means "overwrite a file" everywhere else; here it was this, renamed
        # so that removing a person's own opt-out is never a reflex.
        raise InputError("dnc remove no longer takes --force.",
                         hint="To remove a number whose owner opted out on a call (only "
                              "with their new consent): --with-new-consent")
    st = store(ctx)
    e164s = core.normalize(numbers)
    confirm(f"Take {formats.count(len(e164s))} number(s) off the opt-out list? They can be dialed again.",
            yes=yes, action="Removing numbers from the opt-out list")
    with st.tx() as conn:
        result = core.remove(conn, e164s, now_iso=to_iso(now(ctx)), reason=reason,
                             force=new_consent)
    result_(numbers=e164s, removed=result.changed, not_listed=result.unchanged,
            phones_dialable_again=result.phones)
    success(f"Removed {formats.count(result.changed)} number(s) from the opt-out list"
            + (f" ({formats.count(result.unchanged)} were not on it)." if result.unchanged else "."))
    if result.phones:
        note(f"{formats.count(result.phones)} lead phone(s) are dialable again in later passes.")


def dnc_table(entries: list[core.Entry], total: int) -> Table:
    table = Table(title=f"Opt-out list ({formats.count(total)} number(s))", title_justify="left")
    for col in ("Number", "Added", "Source", "Reason", "Campaign"):
        table.add_column(col, no_wrap=col == "Number", overflow="fold",
                         min_width=12 if col == "Number" else None)
    for e in entries:
        table.add_row(e.e164, when(e.added_at), e.source, e.reason or "",
                      e.campaign or "")
    return table


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    search: str = typer.Option(None, "--search", help="Digits the number contains."),
    source: str = typer.Option(None, "--source", help="Only this source (call, cli, registry, import)."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="Rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the opt-out list, newest first.

    \b
    Example:
      dialcli dnc list --search 415
    """
    entries, total = core.list_entries(store(ctx).conn, search=search, source=source, limit=limit)
    if as_json:
        print_json({"total": total, "entries": [e.__dict__ for e in entries]})
        return
    show(dnc_table(entries, total), rows=len(entries))
    if total > len(entries):
        note(f"{formats.count(total - len(entries))} more: raise --limit, or dialcli dnc export FILE.")


def import_table(report: core.ImportReport) -> Table:
    table = Table(title=f"Imported {report.source}", title_justify="left", show_header=False)
    table.add_column("What")
    table.add_column("Count", justify="right")
    rows = [("Format", report.format + (f" (column {', '.join(report.columns)})"
                                        if report.columns else "")),
            ("Lines read", report.lines), ("Numbers read", report.numbers),
            ("Added", report.added), ("Already on the list", report.already),
            ("Deleted (change list)", report.deleted), ("Invalid", report.invalid),
            ("Lead phones retired", report.phones),
            ("Leads moved to their next phone", report.leads_moved),
            ("Leads with nothing left to dial", report.leads_skipped)]
    for what, n in rows:
        table.add_row(what, n if isinstance(n, str) else num(n))
    return table


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Registry download (.txt or .zip) or a CSV."),
    column: str = typer.Option(None, "--column", help="CSV column holding the numbers."),
    source: str = typer.Option(None, "--source", help="Label kept with each number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import numbers from a National DNC Registry download or a CSV.

    Registry files: one 10-digit number per line, or NPA,NXXXXXX; change lists (a D
    field deletes a registry entry); zipped downloads. A CSV needs a phone column.
    All or nothing: one transaction. Invalid lines are counted and shown, not fatal.

    \b
    Example:
      dialcli dnc import 2026-11-415.txt
      dialcli dnc import unsubscribes.csv --column "Mobile Phone"
    """
    st = store(ctx)
    with progress.file_bar(f"Importing {Path(path).name}") as advance:
        report = core.import_file(st, path, now_iso=to_iso(now(ctx)), column=column,
                                  source=source, progress=advance)
    if as_json:
        print_json(report.as_dict())
        return
    show(import_table(report))
    for lineno, value, why in report.invalid_samples:
        note(f"  line {lineno}: {value!r}: {why}")
    if report.invalid > len(report.invalid_samples):
        note(f"  ... and {formats.count(report.invalid - len(report.invalid_samples))} more invalid line(s).")
    success(f"{formats.count(report.added)} number(s) added to the opt-out list.")


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    path: str = typer.Argument("-", help="Output file ('-' = stdout)."),
    fmt: str = typer.Option("csv", "--format", "-f",
                            help="csv (with reasons) or txt (one number per line)."),
) -> None:
    """Write the whole opt-out list as CSV or plain text.

    \b
    Example:
      dialcli dnc export optouts.csv
      dialcli dnc export --format txt > numbers.txt
    """
    conn = store(ctx).conn
    if fmt not in ("csv", "txt"):
        raise InputError(f"Unknown format {fmt!r}; use csv or txt.")
    if path == "-":
        core.export(conn, sys.stdout, fmt=fmt)
        sys.stdout.flush()
        return
    total = core.count(conn)
    with write_atomically(path) as fh, \
            progress.bar("Exporting the opt-out list", total=total) as advance:
        n = core.export(conn, progress.counting(fh, advance, total), fmt=fmt)
    success(f"Wrote {formats.count(n)} number(s) to {escape(str(Path(path).expanduser()))}.")
