"""Command: ``dialcli audit`` -- the evidence of every dial decision and skip.

Each row carries what the decision rested on: candidate zones, local time, rules
version, opt-out check and cap count. The rows come from ``dialcli.results.audit``;
this module renders them or writes them as CSV or JSON.
"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from dialcli import formats
from dialcli.cli.common import (WIDE, Cell, note, print_json, resolve_campaign_id, show,
                                store, success, table_width, write_csv)
from dialcli.compliance import rules
from dialcli.errors import InputError, NotFoundError
from dialcli.results import audit

app = typer.Typer()


def _local_short(value) -> str:
    """{'America/New_York': '2026-03-03T10:00:00-05:00 Tue'} -> 'Tue 10:00 EST'."""
    if not isinstance(value, dict):
        return audit.flat(value)
    shown = []
    for zone, text in value.items():
        try:
            local = datetime.fromisoformat(str(text).split(" ")[0])
            info = rules.zone_info(zone)
            text = (local.astimezone(info) if info else local).strftime("%a %H:%M %Z").strip()
        except ValueError:
            pass
        if text not in shown:
            shown.append(text)
    return " / ".join(shown)


def audit_table(entries: list[dict], width: int = 200) -> Table:
    wide = width >= WIDE
    versions = sorted({e["rules_version"] for e in entries if e["rules_version"]})
    table = Table(title="Audit log" + (f" (rules {', '.join(versions)})" if versions else ""),
                  title_justify="left")
    cols = ["Time (UTC)", "Campaign", "Row", "Number", "Decision", "Reason", "Local time",
            "Opt-out", "Cap"] if wide else ["Time (UTC)", "Row", "Number", "Decision",
                                            "Reason", "Local time"]
    for col in cols:
        table.add_column(col, no_wrap=col in ("Time (UTC)", "Number", "Decision", "Cap"),
                         overflow="fold", ratio=1 if col in ("Reason", "Local time") else None,
                         min_width=12 if col == "Number" else None)
    for e in entries:
        cap = "" if e["cap_count"] is None else f"{e['cap_count']}/{e['cap_limit'] or '?'}"
        ts = e["ts"][:19] if wide else e["ts"][5:19]
        row = {"Time (UTC)": Cell(ts.replace("T", " "), e["ts"]),
               "Campaign": e["campaign"] or "-",
               "Row": "" if e["lead_row"] is None else str(e["lead_row"]),
               "Number": e["e164"] or "", "Decision": e["decision"], "Reason": e["reason"] or "",
               "Local time": _local_short(e["local_time"]),
               "Opt-out": audit.flat(e["opt_out"]), "Cap": cap}
        table.add_row(*(row[c] for c in cols))
    return table


@app.command("audit")
def audit_cmd(
    ctx: typer.Context,
    campaign: str = typer.Argument(None, help="Campaign name (optional with one campaign)."),
    lead: int = typer.Option(None, "--lead", help="Only this lead (its row in the CSV)."),
    decision: str = typer.Option(None, "--decision", help="Only dial, skip, defer, dnc-add, ..."),
    all_rows: bool = typer.Option(False, "--all",
                                  help="Every campaign and workspace events (opt-out list)."),
    csv_path: str = typer.Option(None, "--csv", help="Write every row as CSV ('-' = stdout)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    limit: int = typer.Option(200, "--limit", "-n", min=1, help="Rows in the table."),
) -> None:
    """Export the audit log: one row per dial decision and per skip.

    Each row carries the evidence: candidate zones, local time, rules version,
    opt-out check and cap count.

    \b
    Example:
      dialcli audit "Spring recovery" --csv audit.csv
      dialcli audit --lead 7
    """
    st = store(ctx)
    cid = lead_id = None
    if not all_rows:
        cid = resolve_campaign_id(st, campaign)
    elif campaign:
        raise InputError("Give a campaign or --all, not both.")
    if lead is not None:
        if cid is None:
            raise InputError("--lead needs a campaign (a row number is per campaign).")
        lead_id = st.scalar("SELECT id FROM leads WHERE campaign_id = ? AND row_number = ?",
                            (cid, lead))
        if lead_id is None:
            raise NotFoundError(f"No lead on row {lead} in this campaign.",
                                hint="Rows are the lines of the imported CSV (header = 1).")
    entries = audit.audit_entries(st.conn, campaign_id=cid, lead_id=lead_id,
                                       decision=decision)
    if csv_path:
        n = write_csv(csv_path, audit.AUDIT_COLUMNS,
                       (audit.audit_csv_row(e) for e in entries))
        if csv_path != "-":
            success(f"Wrote {formats.count(n)} audit row(s) to {csv_path}.")
        return
    rows = list(entries)
    if as_json:
        print_json(rows)
        return
    if not rows:
        note("No audit rows yet: they are written as the campaign dials and skips.")
        return
    show(audit_table(rows[-limit:], table_width()), rows=min(len(rows), limit))
    if len(rows) > limit:
        note(f"Showing the last {formats.count(limit)} of {formats.count(len(rows))}: "
             "use --csv FILE for all.")
