"""Rich renderables for the live dashboard and the status snapshot.

Functions here build renderables from plain data and return them; only ``cli/``
prints or drives ``rich.live.Live``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.columns import Columns
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli.common import Cell, amount

if TYPE_CHECKING:
    from dialcli.engine.types import Snapshot

STATUS_STYLE = {
    "PENDING": "white", "DIALING": "bold cyan", "RETRY": "yellow", "CALLBACK": "magenta",
    "REACHED": "bold green", "OPTED_OUT": "red", "EXHAUSTED": "dim", "SKIPPED": "dim",
}
DISPOSITION_STYLE = {
    "INTERESTED": "bold green", "NOT_INTERESTED": "yellow", "CALLBACK": "magenta",
    "VOICEMAIL": "blue", "WRONG_NUMBER": "red", "NO_ANSWER": "dim", "OPT_OUT": "bold red",
    "COMPLETED": "green", "FAILED": "red",
}


def _hhmm(dt: datetime | None, *, zone: bool = True) -> str:
    """An instant in this computer's zone, naming it ('Mon 14:03:07 PST'); without the
    zone in table cells whose header names it (``_when_header``)."""
    return formats.local_clock(dt, zone=zone)


def _when_header(rows: list[dict[str, Any]]) -> str:
    """'When (PST)': the zone of the times in a dashboard table's cells."""
    first = next((r["at"] for r in rows if r.get("at")), None)
    return f"When ({first.astimezone().strftime('%Z')})" if first is not None else "When"


def _at(dt: datetime | None) -> Cell:
    """A dashboard table's time: local, its zone in the header; RFC 3339 UTC piped."""
    return Cell(_hhmm(dt, zone=False), formats.utc_z(dt))


def clock_text(dt: datetime) -> str:
    """The dashboard's clock, in this computer's zone, saying which: 'Mon 14:03:07 PST'."""
    return formats.local_clock(dt)


def _card(label: str, value: str, style: str = "bold") -> Panel:
    return Panel(Text(value, style=style, justify="center"), title=label, padding=(0, 1),
                 width=19)


def kpi_cards(s: "Snapshot") -> Columns:
    """The KPI cards; they wrap onto more rows on a narrow terminal."""
    cards = [
        _card("Calls made", formats.count(s.calls_made)),
        _card("Reached", formats.count(s.reached), "bold green"),
        _card("Interested", formats.count(s.interested), "bold green"),
        _card("Opt-out", formats.count(s.opted_out), "bold red" if s.opted_out else "bold"),
        _card("In flight", formats.count(s.in_flight), "bold cyan"),
        _card("Minutes · cost", f"{formats.count(s.minutes)} · {formats.money(s.cost)}"),
    ]
    return Columns(cards, padding=(0, 1))


def status_line(s: "Snapshot") -> Text:
    text = Text()
    style = {"RUNNING": "bold green", "PAUSED": "bold yellow", "PAUSING": "bold yellow",
             "COMPLETED": "bold blue"}.get(s.status, "bold")
    text.append(f"{s.campaign}", style="bold")
    text.append("  ")
    text.append(s.status, style=style)
    text.append(f"  pass {s.pass_no} of {s.max_passes}")
    if s.run > 1:
        text.append(f"  run {s.run}")
    text.append(f"  {'simulated time' if s.virtual else 'now'} {clock_text(s.now)}", style="dim")
    if s.next_pass_at is not None and s.next_pass_at > s.now:
        text.append(f"\nNext pass opens {_hhmm(s.next_pass_at)}", style="yellow")
    elif s.waiting_until is not None and s.in_flight == 0 and s.waiting_until > s.now:
        why = s.waiting_for or "calling hours, callbacks or pacing"
        text.append(f"\nNothing to dial until {_hhmm(s.waiting_until)}: {why}", style="yellow")
    if s.note:
        text.append(f"\n{s.note}", style="dim")
    return text


def snapshot_table(s: "Snapshot", extra: dict[str, Any] | None = None) -> Table:
    """The snapshot as one field per row (``status`` piped: ``field<TAB>value``, raw
    numbers and RFC 3339 UTC times; ``disposition.X`` and ``leads.X`` per kind)."""
    table = Table("Field", "Value", title="Campaign", title_justify="left")
    rows: list[tuple[str, Any]] = [
        ("campaign", s.campaign), ("status", s.status), ("run", s.run),
        ("pass", s.pass_no), ("max_passes", s.max_passes),
        ("now", Cell(formats.instant(s.now), formats.utc_z(s.now))),
        ("next_pass_at", Cell(formats.instant(s.next_pass_at), formats.utc_z(s.next_pass_at))),
        ("waiting_until", Cell(formats.instant(s.waiting_until),
                               formats.utc_z(s.waiting_until))),
        ("waiting_for", s.waiting_for or ""), ("note", s.note or ""),
        ("calls_made", s.calls_made), ("reached", s.reached), ("interested", s.interested),
        ("opted_out", s.opted_out), ("in_flight", s.in_flight), ("minutes", s.minutes),
        ("cost", amount(s.cost)),
    ]
    rows += [(f"disposition.{k}", n) for k, n in sorted(s.dispositions.items())]
    rows += [(f"leads.{k}", n) for k, n in sorted(s.leads_by_status.items())]
    rows += list((extra or {}).items())
    for name, value in rows:
        if isinstance(value, int) and not isinstance(value, bool):
            value = Cell(formats.count(value), str(value))
        table.add_row(name, value if isinstance(value, Text) else str(value))
    return table


def lead_table(rows: list[dict[str, Any]], title: str = "Recently changed leads") -> Table:
    table = Table(title=title, title_justify="left", expand=True, show_edge=False)
    table.add_column(_when_header(rows), style="dim", no_wrap=True, min_width=18)
    # The name takes what the others leave (ratio): on a narrow terminal it is the one
    # cut short, never the time, the status, "phone2" or the pass.
    table.add_column("Lead", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("Status", no_wrap=True, min_width=9)     # EXHAUSTED, OPTED_OUT
    table.add_column("Last disposition", no_wrap=True)
    # On a narrow terminal the lead's name gives way, never "phone2" or the pass (they
    # read "ph…" and "Pa…" at 80 columns).
    table.add_column("Phone", justify="right", no_wrap=True, min_width=6)
    table.add_column("Pass", justify="right", no_wrap=True, min_width=4)
    for r in rows:
        status = r.get("status") or ""
        disp = r.get("disposition") or ""
        table.add_row(
            _at(r.get("at")), r.get("name") or "(no name)",
            Text(status, style=STATUS_STYLE.get(status, "")),
            Text(disp, style=DISPOSITION_STYLE.get(disp, "")),
            f"phone{r['slot']}" if r.get("slot") else "-", str(r.get("pass") or "-"),
        )
    return table


def event_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Recent call events", title_justify="left", expand=True, show_edge=False)
    table.add_column(_when_header(rows), style="dim", no_wrap=True, min_width=18)
    table.add_column("Lead", overflow="ellipsis", no_wrap=True)
    table.add_column("Number", no_wrap=True)
    table.add_column("Event")
    for r in rows:
        table.add_row(_at(r.get("at")), r.get("lead") or "", r.get("e164") or "",
                      r.get("event") or "")
    return table


class Tally:
    """Lines of 'Label: NAME count  NAME count ...' that break between items only, never
    between a name and its count; a continued line is indented under the first item.
    On a console that does not wrap (piped output), each line stays whole."""

    def __init__(self, rows: list[tuple[str, list[tuple[str, str]]]]) -> None:
        self.rows = rows            # (label, [(item text, style)])

    def __rich_console__(self, console: Any, options: Any):
        width = options.max_width
        for label, items in self.rows:
            line = Text(label, style="dim")
            for i, (word, style) in enumerate(items):
                gap = "  " if i else ""
                if (i and not options.no_wrap
                        and line.cell_len + len(gap) + Text(word).cell_len > width):
                    yield line
                    line, gap = Text(" " * len(label)), ""
                line.append(gap)
                line.append(word, style=style)
            yield line


def disposition_line(s: "Snapshot") -> Tally:
    items = [(f"{k} {formats.count(n)}", DISPOSITION_STYLE.get(k, ""))
             for k, n in sorted(s.dispositions.items(), key=lambda kv: -kv[1])]
    rows = [("Dispositions: ", items or [("none yet", "dim")])]
    if s.leads_by_status:
        rows.append(("Leads: ", [(f"{k} {formats.count(n)}", STATUS_STYLE.get(k, ""))
                                 for k, n in sorted(s.leads_by_status.items())]))
    return Tally(rows)


def latest_per_lead(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Newest first, one row per lead (a lead's DIALING row is replaced by its outcome)."""
    seen: set[Any] = set()
    out = []
    for r in rows:
        key = r.get("lead_id", id(r))
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
        if len(out) == limit:
            break
    return out


def live_lines(s: "Snapshot") -> Table:
    """The last lines of the calls in progress, as they are said."""
    table = Table(title="Live", title_justify="left", expand=True, show_edge=False,
                  show_header=False, box=None, padding=(0, 1))
    table.add_column("who", no_wrap=True, style="dim")
    table.add_column("said", ratio=1, overflow="ellipsis", no_wrap=True)
    for call in s.live_calls:
        table.add_row(Text(call["lead"] or call["e164"] or "", style="bold"),
                      Text(call["e164"] or "", style="dim"))
        for line in call["lines"]:
            table.add_row(Text(f"  {line['role']}", style="cyan" if line["role"] == "agent"
                               else "yellow"), Text(line["text"]))
    return table


#: Rows of the two tables on a terminal tall enough for them.
LEAD_ROWS, EVENT_ROWS = 8, 6


def dashboard(s: "Snapshot", *, height: int | None = None,
              console: Console | None = None) -> Group:
    """The live page. With ``height`` (the lines it may fill on ``console``) the tables
    give way first -- call events, then leads -- so the status, the cards, the live call
    lines and whatever is drawn below (the pass bar) stay on screen."""
    head = [status_line(s), kpi_cards(s), disposition_line(s)]
    tail = [live_lines(s)] if s.live_calls else []
    leads, events = LEAD_ROWS, EVENT_ROWS
    if height is not None and console is not None:
        used = sum(len(console.render_lines(part, console.options, pad=False))
                   for part in head + tail)
        leads, events = fit_rows(height - used, leads, events)
    parts: list[Any] = list(head)
    if leads:
        parts.append(lead_table(latest_per_lead(s.recent_leads, leads)))
    if events:
        parts.append(event_table(s.recent_events[:events]))
    return Group(*parts, *tail)


def fit_rows(budget: int, leads: int, events: int) -> tuple[int, int]:
    """Rows of the leads and events tables that fit in ``budget`` lines (each table
    takes 3 lines of title and header): the events shrink to 2 rows, then the leads to
    3; below that the events table goes and the leads take what is left."""
    if (3 + leads) + (3 + events) <= budget:
        return leads, events
    if (room := budget - (3 + leads) - 3) >= 2:
        return leads, min(events, room)
    if (room := budget - 3 - (3 + 2)) >= 3:
        return min(leads, room), 2
    return max(0, min(leads, budget - 3)), 0


def log_line(item: dict[str, Any]) -> str:
    """One plain line per engine event (when stdout is not a terminal)."""
    at = formats.utc_z(item.get("at"))
    if item["type"] == "lead":
        nxt = ""
        if item["status"] in ("RETRY", "PENDING") and item.get("slot"):
            nxt = " (next pass)" if item.get("pass_done") else f", next phone{item['slot']}"
        return (f"{at} {item['name'] or '(no name)'} {item.get('e164') or ''} pass {item['pass']}: "
                f"{item['disposition']} -> {item['status']}{nxt}").replace("  ", " ")
    if item["type"] == "pass":
        return f"{at} pass {item['pass']} opens at {formats.utc_z(item['opens_at'])}"
    if item["type"] == "idle":
        return (f"{at} nothing to dial until {formats.utc_z(item['until'])}: "
                f"{item['why'] or 'calling hours, callbacks or pacing'}")
    return f"{at} {item.get('lead', '')} {item.get('e164', '')} {item.get('event', '')}"
