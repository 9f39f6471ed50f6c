"""Command: ``dialcli plan`` -- the dry run.

It explains, before the first call, when each number may be dialed and why, and
estimates calls, minutes, cost and finish time from a simulated run on a copy of the
workspace. The work is in ``dialcli.engine.plan`` and ``dialcli.compliance.policy``;
this module renders.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli.common import (WIDE, Cell, note, num, now, print_json, resolve_campaign_id, show,
                                store, success, table_width, write_csv)
from dialcli.clock import to_iso
from dialcli.compliance import policy as compliance
from dialcli.compliance import rules
from dialcli.compliance.rules import load_blackout
from dialcli.engine.plan import CATEGORIES, Plan, build_plan
from dialcli.errors import InputError
from dialcli.results import audit

app = typer.Typer()

LABELS = {"now": "now", "later_today": "later today", "later": "later", "blocked": "blocked",
          "done": "done"}
STYLES = {"now": "green", "later_today": "cyan", "later": "yellow", "blocked": "red",
          "done": "dim"}
PLAN_CSV = ("row", "lead", "lead_status", "slot", "current", "e164", "category", "next_utc",
            "next_local", "closes_utc", "zones", "zone_source", "states", "rules", "reasons",
            "cap_count", "cap_limit", "opt_out", "consent_required", "consent_type", "consent_at",
            "consent_source")


def _parse_at(text: str | None, ctx: typer.Context) -> datetime:
    if not text:
        return now(ctx)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--at {text!r} is not a date-time.",
                         hint="Use ISO 8601, e.g. --at 2026-12-01T09:00 (your local time) "
                              "or --at 2026-12-01T14:00Z.") from None
    if value.tzinfo is None:
        value = value.astimezone()      # a bare time is the user's own local time
    return value.astimezone(compliance.UTC)


def _consent_cells(evidence: dict | None) -> list[str]:
    """consent_required, consent_type, consent_at, consent_source (empty: not checked)."""
    evidence = evidence or {}
    return [audit.flat(evidence.get(k)) for k in ("required", "type", "at", "source")]


def consent_line(plan: Plan) -> Text:
    """'Purpose telemarketing: needs prior express written consent; consent gate on.'
    (the numbers it blocks and the fix are in the plan's notes)."""
    c = plan.consent
    if not c.get("needs"):
        return Text("Purpose: not set (no number can be dialed).", style="red")
    return Text(f"Purpose {c['purpose']}: needs {c['needs']}; consent gate {c['gate']}.",
                style="red" if c["gate"] == "off" else "")


def _local(p) -> str:
    """'Sat Mar 07 09:00 PST' in each candidate zone (deduplicated)."""
    if p.next_utc is None:
        return ""
    shown = []
    for name in p.zones:
        zone = rules.zone_info(name)
        if zone is not None:
            text = p.next_utc.astimezone(zone).strftime("%a %b %d %H:%M %Z")
            if text not in shown:
                shown.append(text)
    return " / ".join(shown)


def plan_table(plan: Plan, limit: int, width: int = 200) -> Table:
    wide = width >= WIDE
    table = Table(title=f"Plan for {plan.campaign} as of {formats.instant(plan.at)}",
                  title_justify="left")
    table.add_column("Lead", overflow="fold")
    table.add_column("Ph", justify="right", no_wrap=True)
    table.add_column("Number", no_wrap=True, min_width=12)
    table.add_column("When", no_wrap=True)
    table.add_column("Next permitted (local)", overflow="fold")
    if wide:
        table.add_column("UTC", no_wrap=True)
        table.add_column("Zones (source)", overflow="fold")
        table.add_column("St")
    table.add_column("Why", overflow="fold", ratio=1)
    for p in plan.phones[:limit]:
        # "zones: origin", or each origin with its zones when they differ.
        source = (f"{', '.join(p.zones) or '-'}: {p.zone_source}"
                  if len(set(p.zone_origins.values())) <= 1 else p.zone_source)
        cells = [f"{p.row} {p.lead}", f"{p.slot}{'*' if p.current else ''}", p.e164,
                 Text(LABELS[p.category], style=STYLES[p.category]), _local(p)]
        if wide:
            cells += [Cell(formats.instant(p.next_utc, none="", fmt="%m-%d %H:%M"),
                           formats.utc_z(p.next_utc)),
                      source, ",".join(p.states) or "-"]
        table.add_row(*cells, "; ".join(p.reasons))
    table.caption = "* = the lead's next phone in dialing order" + (
        "" if wide else "; zones, states and UTC: widen the terminal or use --csv/--json")
    return table


def totals_table(plan: Plan) -> Table:
    table = Table(title="Totals", title_justify="left")
    table.add_column("Count")
    for c in CATEGORIES:
        table.add_column(LABELS[c], justify="right", style=STYLES[c])
    table.add_row("numbers", *(num(plan.totals[c]) for c in CATEGORIES))
    table.add_row("leads (next dial)", *(num(plan.lead_totals[c]) for c in CATEGORIES))
    return table


def plan_summary(plan: Plan) -> Group:
    parts: list = [totals_table(plan)]
    if plan.consent:
        parts.append(consent_line(plan))
    rules = sorted({r for p in plan.phones for r in p.rules})
    per_person = plan.policy.get("consumer_cap_states") or []
    parts.append(Text(f"Rules version {plan.rules_version}; cap "
                      f"{plan.policy['cap_per_24h']}/24 h per number "
                      "(state caps " + ", ".join(f"{k}={v}" for k, v in
                                                 sorted(plan.policy["state_caps"].items()))
                      + ")" + (f"; {', '.join(per_person)} count per person: every number of "
                               "the lead (and of any lead sharing one) counts"
                               if per_person else "") + "."))
    for r in rules:
        parts.append(Text(f"  • {r}", style="dim"))
    est = plan.estimate
    if est is not None:
        if est.outcome == "unavailable":
            parts.append(Text(f"Estimate: {est.note}", style="yellow"))
        else:
            finish = formats.instant(est.finish_at, none="-")
            parts.append(Text(
                f"Estimate (simulated, seed {est.seed}): {formats.count(est.calls)} calls"
                f"{_pm(est, 'calls')}, "
                f"{formats.count(est.minutes)} billed minutes{_pm(est, 'minutes')}, {formats.money(est.cost)}"
                f"{_pm(est, 'cost')}, {formats.count(est.reached)} reached{_pm(est, 'reached')}, finishes "
                f"{finish}{_finish_range(est)}"
                + (f" ({est.note})" if est.outcome == "partial" else "") + "."))
            if est.sampled:
                parts.append(Text(f"  {est.note}; +- is a 95% interval.", style="dim"))
    for n in plan.notes:
        parts.append(Text(n, style="yellow"))
    return Group(*parts)


def _pm(est, name: str) -> str:
    """' (+-1.2%)': the half-width of a sampled estimate's 95% interval."""
    lo, hi = est.intervals.get(name, (None, None))
    value = getattr(est, name)
    if lo is None or not value:
        return ""
    return f" (+-{(hi - lo) / 2 / value * 100:.1f}%)"


def _finish_range(est) -> str:
    """' (between 04-07 17:49 UTC and 04-08 10:41 UTC)': from the sample's last call to the
    latest a callback chain it did not play could end (``engine.estimate._finish``)."""
    if not est.finish_interval or est.finish_interval[1] <= est.finish_interval[0]:
        return ""
    lo, hi = (formats.instant(t, fmt="%m-%d %H:%M") for t in est.finish_interval)
    return f" (between {lo} and {hi})"


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    campaign: str = typer.Argument(None, help="Campaign name (optional with one campaign)."),
    at: str = typer.Option(None, "--at", help="Plan as of this time (ISO 8601; default now)."),
    blackout: Path = typer.Option(None, "--blackout", help="Blackout-dates file for this plan."),
    csv_path: str = typer.Option(None, "--csv", help="Write every row as CSV ('-' = stdout)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    estimate: bool = typer.Option(True, "--estimate/--no-estimate",
                                  help="Simulate the run for calls, minutes, cost, finish."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulated run."),
    limit: int = typer.Option(200, "--limit", "-n", min=1, help="Rows in the table."),
) -> None:
    """Dry run: when each number may be dialed, and why. Places no calls.

    For every lead and phone: the next permitted local time and UTC instant, the
    time zones and where they came from, the rules applied (campaign window, federal
    08:00-21:00, state rules, holidays, blackout dates) and why a number waits or is
    skipped (opt-out, no consent on record for the campaign's purpose, frequency
    cap, invalid, unknown zone). Then totals, the numbers the consent gate blocks,
    and an estimate of calls, minutes, cost and finish time from a simulated run.

    \b
    Example:
      dialcli plan "Spring recovery" --csv plan.csv
      dialcli plan --at 2026-12-01T09:00 --blackout blackout.txt
    """
    st = store(ctx)
    cid = resolve_campaign_id(st, campaign)
    when = _parse_at(at, ctx)
    bl = load_blackout(blackout) if blackout else None
    plan = build_plan(st, cid, when, blackout=bl, local_tz=now(ctx).astimezone().tzinfo,
                      estimate=estimate, seed=seed)
    if csv_path:
        rows = ([p.row, p.lead, p.lead_status, p.slot, "yes" if p.current else "",
                 p.e164, p.category, to_iso(p.next_utc) or "", audit.flat(p.next_local),
                 to_iso(p.closes_utc) or "", audit.flat(p.zones), p.zone_source,
                 audit.flat(p.states), audit.flat(p.rules),
                 audit.flat(p.reasons), "" if p.cap_count is None else p.cap_count,
                 p.cap_limit, "yes" if p.opt_out else "no", *_consent_cells(p.consent)]
                for p in plan.phones)
        n = write_csv(csv_path, PLAN_CSV, rows)
        if csv_path != "-":
            success(f"Wrote {formats.count(n)} row(s) to {csv_path}.")
    if as_json:
        print_json(plan.as_dict())
        return
    if csv_path == "-":
        return
    if not plan.phones:
        note("This campaign has no leads yet. Import some: dialcli import leads.csv")
    else:
        show(plan_table(plan, limit, table_width()), rows=min(len(plan.phones), limit) + 12)
        if len(plan.phones) > limit:
            note(f"{formats.count(len(plan.phones) - limit)} more row(s): raise --limit or use --csv FILE.")
    show(plan_summary(plan))
