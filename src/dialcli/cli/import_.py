"""Command: ``dialcli import`` (leads from a CSV into a campaign).

Thin: it resolves the campaign, calls ``importer.import_csv`` and renders the
``ImportSummary`` it returns. The progress bar is drawn on stderr, and only when
stderr is a terminal and the file is big enough to wait for.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import common
from dialcli.leads import header, importer
from dialcli.leads.importer import ImportSummary

#: Below this size an import is over before a progress bar would be readable.
PROGRESS_MIN_BYTES = 2 * 1024 * 1024
_TOP_REASONS = 6


app = typer.Typer()


@app.command("import")
def import_leads(
    ctx: typer.Context,
    csv_path: Path = typer.Argument(..., metavar="CSV", help="The leads file (UTF-8 or Excel CSV)."),
    campaign: Optional[str] = typer.Option(
        None, "--campaign", "-c", metavar="NAME",
        help="Campaign to add the leads to (default: the only campaign)."),
    default_region: str = typer.Option(
        "US", "--default-region", metavar="CC",
        help="Country of numbers written without +country code."),
    rejects: Optional[Path] = typer.Option(
        None, "--rejects", metavar="FILE",
        help="Where to write rejected rows (default: <CSV name>.rejects.csv beside it)."),
    allow_duplicates: bool = typer.Option(
        False, "--allow-duplicates",
        help="Import leads whose phone is already in the campaign or earlier in the file."),
    column_map: List[str] = typer.Option(
        [], "--map", metavar="CSV_COLUMN=COLUMN",
        help="Read a column of the file as another, e.g. --map 'Mobile Phone=phone1' "
             "(repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import leads from a CSV into a campaign, all or nothing.

    Required columns: name, phone1. Optional: phone2..phone10, email, timezone,
    and consent_at, consent_type (written|express), consent_source: one consent
    record per phone of the row. Headers are normalized (uppercase,
    non-alphanumerics -> _): 'case number' becomes {{CASE_NUMBER}}; 'Phone 1' and
    'E-mail' are phone1 and email. CRM exports import as they are: without a
    phone1 column, 'Phone', 'Mobile Phone', 'Cell', 'Phone 1 - Value' take the
    phone slots; without a name column, 'Full Name', or 'First Name' and 'Last
    Name' joined, is the name. Other names: --map 'Attendee=name' says what a
    column is. A title row above the header is skipped. Phones may be
    written with spaces, dashes, dots or parentheses; each is stored as E.164
    with its time zones. Rows without a valid phone, and duplicates, go to a
    rejects CSV with their line number and the reason, as do rows whose consent
    columns are incomplete or unreadable; numbers on the opt-out list are
    imported but never dialed. Says how many leads lack the consent the
    campaign's purpose needs. If the import fails or you press Ctrl-C, nothing
    is imported.

    \b
    Example:
      dialcli import leads.csv --campaign Spring
      dialcli import export.csv --default-region CA --rejects bad.csv --json
      dialcli import crm.csv --map 'Attendee=name' --map 'Reach at=phone1'
    """
    columns = header.parse_column_map(column_map)
    st = common.store(ctx)
    campaign_id = common.resolve_campaign_id(st, campaign)
    size = csv_path.stat().st_size if csv_path.is_file() else 0
    show_bar = not as_json and common.err.is_terminal and size >= PROGRESS_MIN_BYTES
    kwargs = dict(campaign_id=campaign_id, now=common.now(ctx), default_region=default_region,
                  allow_duplicates=allow_duplicates, rejects_path=rejects, columns=columns)
    if show_bar:
        with _progress() as bar:
            task = bar.add_task(f"Importing {csv_path.name}", total=size)
            summary = importer.import_csv(
                st, csv_path, progress=lambda done, total: bar.update(task, completed=done),
                **kwargs)
    else:
        summary = importer.import_csv(st, csv_path, **kwargs)
    for notice in summary.notices:
        common.note(escape(notice))
    for warning in summary.warnings:
        common.warn(escape(warning))
    if as_json:
        common.print_json(summary.to_dict())
        return
    common.show(summary_view(summary))


def consent_view(s: ImportSummary) -> Text:
    """What the campaign's consent gate will do with its leads."""
    name = shlex.quote(s.campaign)
    if s.consent_needed is None:
        return Text(f"Campaign {s.campaign!r} has no purpose yet, so it cannot start: dialcli "
                    f"campaign edit {name} --purpose telemarketing|informational", style="yellow")
    if s.consent_gate == "off":
        return Text(f"The consent gate of {s.campaign!r} is off: its leads are dialed without "
                    "checking consent records (yours are kept elsewhere).", style="yellow")
    if not s.lacking_consent:
        return Text(f"Consent: every lead to dial has {s.consent_needed} on record "
                    f"({s.purpose} campaign).")
    lacking = s.lacking_consent
    return Text(f"Consent: {formats.count(lacking)} lead{'s' if lacking != 1 else ''} to dial "
                f"{'have' if lacking != 1 else 'has'} no {s.consent_needed} on record "
                f"({s.purpose} campaign) and will be skipped. Add the records with the "
                "consent_at, consent_type and consent_source columns, or: "
                "dialcli consent import FILE", style="yellow")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeRemainingColumn(), console=common.err, transient=True)


def _reasons(counts: dict[str, int]) -> str:
    items = list(counts.items())
    text = ", ".join(f"{reason}: {formats.count(n)}" for reason, n in items[:_TOP_REASONS])
    if len(items) > _TOP_REASONS:
        text += f", and {len(items) - _TOP_REASONS} more"
    return text


def summary_view(s: ImportSummary) -> RenderableType:
    """The import summary: counts, reasons, leads per time zone, where rejects went."""
    parts: list[RenderableType] = []
    head = Text()
    head.append("✓ " if s.imported else "! ", style="green" if s.imported else "yellow")
    head.append(f"Imported {formats.count(s.imported)} lead{'s' if s.imported != 1 else ''} into campaign ")
    head.append(s.campaign, style="bold")
    head.append(f" from {Path(s.source).name} (import #{s.import_id})")
    parts.append(head)
    counts = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2))
    counts.add_column("What", style="dim", no_wrap=True)
    counts.add_column("Count", justify="right", no_wrap=True)
    counts.add_column("Detail")
    counts.add_row("rows read", common.num(s.rows), "")
    counts.add_row("imported", common.num(s.imported), "")
    counts.add_row("rejected", common.num(s.rejected), Text(_reasons(s.rejected_by_reason)))
    counts.add_row("duplicates", common.num(s.duplicates),
                   "skipped (same phone already in the campaign or earlier in the file)"
                   if s.duplicates else "")
    optout = ""
    if s.optout_phones:
        optout = "phones on the opt-out list: imported, never dialed"
        if s.optout_leads_skipped:
            optout += f" ({formats.count(s.optout_leads_skipped)} leads have no other phone: SKIPPED)"
    counts.add_row("opt-out marked", common.num(s.optout_phones), optout)
    if s.consent_columns:
        counts.add_row("consent records", common.num(s.consent_records),
                       Text("one per phone, from " + ", ".join(s.consent_columns)))
    if s.dropped_phones:
        counts.add_row("phones dropped", common.num(s.dropped_phones),
                       Text("invalid, lead kept: " + _reasons(s.dropped_by_reason)))
    parts.append(counts)
    if s.dropped_examples:
        ex = Text("  e.g. ", style="dim")
        ex.append("; ".join(f"line {e['line']} {e['column']} {e['value']!r}: {e['reason']}"
                            for e in s.dropped_examples[:3]))
        parts.append(ex)
    if s.leads_per_zone:
        zones = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      title="Leads per time zone", title_justify="left")
        zones.add_column("Time zone(s)")
        zones.add_column("Leads", justify="right")
        for zone, n in s.leads_per_zone.items():
            zones.add_row(Text(zone.replace(",", " + ")), common.num(n))
        parts.append(zones)
    if s.rejects_file:
        parts.append(Text(f"Rejected rows (line, reason, original values): {s.rejects_file}"))
    parts.append(consent_view(s))
    if s.campaign_reopened:
        parts.append(Text(f"Campaign {s.campaign!r} had completed; it is now PAUSED. "
                          f"Run `dialcli resume {shlex.quote(s.campaign)}` to dial the new leads.",
                          style="yellow"))
    return Group(*parts)
