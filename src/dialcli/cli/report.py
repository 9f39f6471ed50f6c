"""Command: ``dialcli report`` -- the campaign page in the terminal, or CSV exports.

The figures come from ``dialcli.results.reporting`` (data only) and the CSV files from
``dialcli.results.exports``; this module parses options and turns the data into Rich
renderables (functions that return them; only the command prints).
"""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli.common import (Cell, note, num, when, now, print_json, resolve_campaign_id, show,
                                store, success)
from dialcli.cli import progress
from dialcli.cli.ui import DISPOSITION_STYLE, STATUS_STYLE
from dialcli.config import TwilioCredentials
from dialcli.errors import InputError
from dialcli.results import exports, reporting
from dialcli.results.reporting import CostReport, Kpis, Report
from dialcli.store import settings

app = typer.Typer()

BLOCKS = " ▁▂▃▄▅▆▇█"


# -- renderables -------------------------------------------------------------------------

def _card(title: str, value: str, sub: str, style: str = "bold") -> Panel:
    body = Text(value, style=style, justify="center")
    body.append("\n" + sub, style="dim")
    return Panel(body, title=title, padding=(0, 0), expand=True)


def header(k: Kpis) -> Text:
    text = Text()
    text.append(k.campaign, style="bold")
    text.append(f"  {k.status}", style={"RUNNING": "bold green", "PAUSED": "bold yellow",
                                         "COMPLETED": "bold blue"}.get(k.status, "bold"))
    text.append(f"  ·  run {k.current_run}" if k.run is not None else "  ·  all runs")
    text.append(f"  ·  pass {k.current_pass} of {k.max_passes}")
    if k.next_pass_at:
        text.append(f"  ·  next pass {formats.instant(k.next_pass_at)}")
    text.append(f"  ·  {k.purpose}" if k.purpose != "unspecified" else "  ·  purpose not set",
                style="" if k.purpose != "unspecified" else "red")
    if k.gate_off:
        text.append("\n" + k.gate_off, style="bold red")
    return text


class KpiCards:
    """The product doc's KPI cards; six in a row, or two rows of three when narrow."""

    def __init__(self, k: Kpis):
        self.kpis = k
        self.cards = [
            _card("Calls made", formats.count(k.calls_made),
                  f"{formats.count(k.in_flight)} in flight" if k.in_flight
                  else f"{formats.count(k.calls_finished)} finished"),
            _card("Reached", formats.count(k.reached),
                  f"{formats.count(k.leads_reached)} of {formats.count(k.leads_total)} leads",
                  "bold green"),
            _card("Interested", formats.count(k.interested),
                  formats.pct(k.interested, k.reached, 0) + " of reached", "bold green"),
            _card("Opt-out", formats.count(k.opted_out),
                  formats.pct(k.opted_out, k.reached, 0) + " of reached",
                  "bold red" if k.opted_out else "bold"),
            _card("Reach rate", formats.ratio(k.reach_rate),
                  "of finished"),
            _card("Avg talk", formats.duration(k.avg_talk_s), "per reach"),
        ]

    def as_table(self, max_width: int) -> Table:
        """The cards for scripts (piped): one KPI per line, its raw value, the value as
        a card shows it, and the card's second line."""
        k = self.kpis
        raw = [k.calls_made, k.reached, k.interested, k.opted_out,
               "" if k.reach_rate is None else round(k.reach_rate, 4),
               "" if k.avg_talk_s is None else round(k.avg_talk_s, 1)]
        table = Table("KPI", "Value", "Shown", "Detail", title="KPIs")
        for card, value in zip(self.cards, raw):
            body = card.renderable.plain.split("\n")
            table.add_row(str(card.title), str(value), body[0], body[1] if len(body) > 1 else "")
        return table

    def __rich_console__(self, console, options):
        per_row = 6 if options.max_width >= 100 else 3
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in range(per_row):
            grid.add_column(ratio=1)
        for i in range(0, len(self.cards), per_row):
            grid.add_row(*self.cards[i:i + per_row])
        yield grid


def kpi_cards(k: Kpis) -> KpiCards:
    return KpiCards(k)


def lead_status_line(k: Kpis) -> Text:
    text = Text(f"Leads {formats.count(k.leads_total)}: ", style="bold")
    parts = [(s, n) for s, n in k.leads_by_status.items() if n]
    for i, (status, n) in enumerate(parts):
        if i:
            text.append(" · ")
        text.append(f"{formats.count(n)} {status.lower().replace('_', '-')}",
                    style=STATUS_STYLE.get(status, ""))
    if not parts:
        text.append("none yet -- import some with: dialcli import leads.csv", style="dim")
    return text


def disposition_table(k: Kpis) -> Table:
    table = Table(title="Dispositions", title_justify="left", expand=False)
    table.add_column("Disposition")
    table.add_column("Calls", justify="right")
    table.add_column("Share", justify="right")
    table.add_column("", min_width=20)
    top = max(k.dispositions.values(), default=0)
    for disp, n in sorted(k.dispositions.items(), key=lambda kv: -kv[1]):
        if not n:
            continue
        bar = "█" * max(1, round(20 * n / top)) if top else ""
        table.add_row(Text(disp, style=DISPOSITION_STYLE.get(disp, "")), num(n),
                      formats.pct(n, k.calls_finished), Text(bar, style=DISPOSITION_STYLE.get(disp, "")))
    if k.in_flight:
        table.add_row(Text("in flight", style="cyan"), num(k.in_flight), "", "")
    if not k.calls_made:
        table.add_row(Text("no calls yet", style="dim"), "", "", "")
    return table


class LeadTable:
    """The lead table; on narrow terminals pass and attempts share a column and the
    last call drops its year, so names stay readable."""

    def __init__(self, report: Report):
        self.report = report

    def __rich_console__(self, console, options):
        yield self.as_table(options.max_width)

    def as_table(self, max_width: int) -> Table:
        """The table laid out for ``max_width`` columns (piped output: unbounded)."""
        report = self.report
        compact = max_width < 110
        dated = max_width >= 135      # room for the consent's date too
        shown = len(report.leads)
        scope = (", ".join(s.lower() for s in report.status_filter)
                 if report.status_filter else "all")
        table = Table(title=f"Leads ({scope}; {formats.count(shown)} of "
                            f"{formats.count(report.leads_matching)}, "
                            f"sorted by {report.sort})", title_justify="left")
        if not compact:
            table.add_column("Row", justify="right")
        table.add_column("Name", min_width=10, ratio=1)
        table.add_column("Status", no_wrap=True)
        table.add_column("Last outcome" if compact else "Last disposition", no_wrap=not compact,
                         overflow="fold")
        table.add_column("Phone", no_wrap=True)
        callbacks = not compact and (max_width >= 100_000 or
                                     any(r.callback_at for r in report.leads))
        if compact:
            table.add_column("Pass / tries", justify="right")
            table.add_column("Last call", no_wrap=True)
        else:
            table.add_column("Pass", justify="right")
            table.add_column("Attempts", justify="right")
            table.add_column("Last call", no_wrap=True)
            if callbacks:
                table.add_column("Callback (their time)", no_wrap=True)
        table.add_column("Consent", no_wrap=True)
        for r in report.leads:
            # Times in the lead's own zone, named (a callback was agreed in it).
            if compact:
                short = formats.instant(r.last_call_at, r.zone, fmt="%m-%d %H:%M")
                cells = [Text(r.name), Text(r.status, STATUS_STYLE.get(r.status, "")),
                         Text(r.last_disposition or "–",
                              DISPOSITION_STYLE.get(r.last_disposition or "", "dim")),
                         r.phone or "–", f"{r.pass_no}/{r.attempts}",
                         Cell(short, formats.utc_z(r.last_call_at)),
                         _consent(r, short=True)]
            else:
                cells = [formats.count(r.row_number), Text(r.name),
                         Text(r.status, STATUS_STYLE.get(r.status, "")),
                         Text(r.last_disposition or "–",
                              DISPOSITION_STYLE.get(r.last_disposition or "", "dim")),
                         f"{r.phone_slot}: {r.phone}" if r.phone else "–",
                         str(r.pass_no), str(r.attempts), when(r.last_call_at, zone=r.zone)]
                if callbacks:
                    cells.append(when(r.callback_at, zone=r.zone, style="magenta"))
                cells.append(_consent(r, short=not dated))
            table.add_row(*cells)
        if not report.leads:
            blanks = [""] * (len(table.columns) - 1)
            if compact:
                table.add_row(Text("no leads match", style="dim"), *blanks)
            else:
                table.add_row("", Text("no leads match", style="dim"), *blanks[1:])
        return table


def _consent(r, short: bool = False) -> Text:
    """'written 2026-01-02' (or 'written' when narrow: the date is in --json and --csv);
    'none' dimmed."""
    if r.consent_type is None:
        return Text("none", style="dim")
    return Text(r.consent_type if short else r.consent)


def lead_table(report: Report) -> LeadTable:
    return LeadTable(report)


def trend_chart(cost: CostReport, height: int = 6) -> Text:
    """Daily cost as vertical bars, one column per day, zeros drawn as a baseline."""
    values = [d.cost for d in cost.days]
    top = max(values, default=0.0)
    label_w = max(len(formats.money(top)), 3)
    lines = Text()
    rows = range(height, 0, -1) if top else range(1, 0, -1)
    for row in rows:
        label = formats.money(top) if row == height else ("$0" if row == 1 else "")
        lines.append(f"{label:>{label_w}} ┤", style="dim")
        for value in values:
            eighths = round(8 * height * value / top) if top else 0
            level = max(0, min(8, eighths - 8 * (row - 1)))
            if row == 1 and value > 0 and eighths == 0:
                level = 1   # a day with any spend is never invisible
            char = BLOCKS[level] if level else ("▁" if row == 1 else " ")
            lines.append(char, style="green" if level else "dim")
            # A gap between days keeps neighbouring bars apart; the baseline stays whole.
            lines.append("▁" if row == 1 else " ", style="dim")
        lines.append("\n")
    left, right = cost.first_day.strftime("%b %d"), cost.last_day.strftime("%b %d")
    gap = max(1, 2 * len(values) - len(left) - len(right))
    lines.append(" " * (label_w + 2) + left + " " * gap + right, style="dim")
    return lines


def cost_panel(cost: CostReport) -> Panel:
    text = Text()
    text.append("Rate ", style="bold")
    text.append(formats.rate(cost.rate))
    if cost.rate_is_default:
        text.append(" (default; set yours with: dialcli config set rate_per_minute 0.014)",
                    style="yellow")
    text.append("\nBilled minutes ", style="bold")
    text.append(formats.count(cost.billed_minutes))
    text.append("   Cost ", style="bold")
    text.append(formats.money(cost.cost))
    if cost.cost_final and cost.cost_estimated:
        text.append(f"  (provider price {formats.money(cost.cost_final)} + estimated "
                    f"{formats.money(cost.cost_estimated)})", style="dim")
    elif cost.cost_final:
        text.append("  (provider prices)", style="dim")
    elif cost.billed_minutes:
        text.append("  (estimated: minutes x rate)", style="dim")
    if cost.other_runs_cost is not None:
        text.append(f"\nEarlier runs: {formats.count(cost.other_runs_minutes)} min, "
                    f"{formats.money(cost.other_runs_cost)} (see --all-runs)", style="dim")
    text.append(f"\n\nLast {len(cost.days)} days (UTC): {formats.count(cost.trend_minutes)} min, "
                f"{formats.money(cost.trend_cost)}", style="bold")
    if not cost.trend_minutes and not cost.trend_cost:
        text.append("  no billed calls in these days", style="dim")
    text.append("\n")
    text.append_text(trend_chart(cost))
    return Panel(text, title="Cost", title_align="left", expand=False)


def report_view(report: Report) -> RenderableType:
    """The whole campaign page."""
    k = report.kpis
    return Group(header(k), kpi_cards(k), lead_status_line(k), Text(""),
                 disposition_table(k), Text(""), lead_table(report), Text(""),
                 cost_panel(report.cost))


# -- the command -------------------------------------------------------------------------

@app.command("report")
def report(
    ctx: typer.Context,
    campaign_arg: Optional[str] = typer.Argument(None, metavar="[CAMPAIGN]",
                                                 help="Campaign (optional when there is one)."),
    campaign: Optional[str] = typer.Option(None, "--campaign", "-c", help="Campaign name."),
    status: list[str] = typer.Option([], "--status", "-s",
                                     help="Only leads with this status (repeatable or "
                                          "comma-separated), e.g. RETRY,CALLBACK."),
    sort: str = typer.Option("row", "--sort",
                             help="Lead order: " + ", ".join(reporting.SORTS) + "."),
    limit: int = typer.Option(50, "--limit", "-n", help="Lead rows to show (0 = all)."),
    all_runs: bool = typer.Option(False, "--all-runs",
                                  help="Count calls of every run, not just the current one."),
    days: int = typer.Option(reporting.TREND_DAYS, "--days", help="Days in the cost trend."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    csv_path: Optional[str] = typer.Option(None, "--csv", metavar="FILE",
                                           help="Export one row per lead to FILE ('-' = stdout)."),
    calls: bool = typer.Option(False, "--calls", help="With --csv: one row per call instead."),
    excel: bool = typer.Option(False, "--excel", help="With --csv: UTF-8 with BOM for Excel."),
    fetch_prices: bool = typer.Option(
        False, "--fetch-prices",
        help="First ask Twilio for the final price of calls still estimated "
             "(needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)."),
) -> None:
    """Show a campaign's results: KPIs, dispositions, leads and cost with a 30-day trend.

    Each lead shows the consent on record for its number (type and date, or none),
    and the page says so when the campaign's consent gate is off.

    Cost is billed minutes x rate_per_minute (or the provider's final price when
    known); days are UTC. Twilio publishes a call's price minutes after it ends: a
    live run stores it while it runs, --fetch-prices fetches the ones it missed.
    --csv exports every lead with its original columns and outcome, or every call
    with --calls; cells are made safe to open in Excel.

    \b
    Example:
      dialcli report
      dialcli report Spring --status RETRY --sort last-call --limit 20
      dialcli report --csv results.csv --excel
      dialcli report --csv calls.csv --calls
      dialcli report Spring --fetch-prices
    """
    if campaign_arg and campaign and campaign_arg.lower() != campaign.lower():
        raise InputError(f"Two campaigns given ({campaign_arg!r} and {campaign!r}); name one.")
    st = store(ctx)
    campaign_id = resolve_campaign_id(st, campaign or campaign_arg)
    if (calls or excel) and not csv_path:
        raise InputError(f"{'--calls' if calls else '--excel'} applies to CSV exports.",
                         hint="Add --csv FILE (or --csv - for stdout), e.g. "
                              "dialcli report --csv calls.csv --calls")
    if fetch_prices:
        _fetch_prices(st, campaign_id)
    if csv_path:
        if as_json:
            raise InputError("--json and --csv are two different outputs; pick one.")
        if calls:
            rate, _ = settings.rate_per_minute(st)
            with progress.bar("Exporting calls") as advance:
                rows = exports.export(
                    lambda fh: exports.write_calls_csv(
                        st, campaign_id, progress.counting(fh, advance, None), rate=rate,
                        all_runs=all_runs),
                    csv_path, excel=excel, stdout=sys.stdout.buffer)
            what = "call"
        else:
            total = exports.lead_total(st, campaign_id)
            with progress.bar("Exporting leads", total=total) as advance:
                rows = exports.export(
                    lambda fh: exports.write_leads_csv(
                        st, campaign_id, progress.counting(fh, advance, total)),
                    csv_path, excel=excel, stdout=sys.stdout.buffer)
            what = "lead"
        if csv_path != "-":
            success(f"Wrote {formats.count(rows)} {what} row{'s' if rows != 1 else ''} to {csv_path}")
        return
    result = reporting.campaign_report(
        st, campaign_id, today=now(ctx).date(), all_runs=all_runs, status=status, sort=sort,
        limit=limit, days=days)
    if as_json:
        print_json(result.as_dict())
        return
    show(report_view(result), rows=len(result.leads) + 30)


def _fetch_prices(st, campaign_id: int) -> None:
    """Store Twilio's final prices over the estimates; say what changed (stderr)."""
    # lazy: the Twilio SDK only when --fetch-prices asks Twilio
    from dialcli.providers.twilio.account import TwilioAccount, finalize_prices

    done = finalize_prices(st, TwilioAccount(TwilioCredentials.from_env()), campaign_id)
    if not done.asked:
        note("No estimated prices to fetch: every answered call has Twilio's own price.")
        return
    parts = [f"{formats.count(done.finalized)} of {formats.count(done.asked)} estimated call "
             "price(s) now Twilio's own"]
    if done.unpublished:
        parts.append(f"{formats.count(done.unpublished)} not published by Twilio yet (try again in a few "
                     "minutes)")
    if done.missing:
        parts.append(f"{formats.count(done.missing)} unknown to this Twilio account (left estimated)")
    note("; ".join(parts) + ".")
