"""Commands: ``dialcli calls [list]|show|export`` -- read every conversation.

``dialcli calls`` (or ``calls list``) is the call log; ``calls show ID`` one call as a
conversation with its evidence; ``calls export --jsonl FILE`` every call with its
whole turn list. The data comes from ``dialcli.results.calls``; this module renders.
Transcript text is the callee's and the lead file's words: it always goes into
``rich.text.Text``, never through markup.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, Optional

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from dialcli import formats
from dialcli.cli import progress
from dialcli.cli.common import (WIDE, Cell, amount, note, print_json, resolve_campaign_id,
                                show, state, store, success, table_width)
from dialcli.compliance.rules import zone_info
from dialcli.errors import InputError, NotFoundError
from dialcli.models import Disposition
from dialcli.results import calls as core
from dialcli.store import settings


class CallsGroup(TyperGroup):
    """``calls`` lists when no subcommand is named: ``dialcli calls Spring --lead 4``."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(name="calls", cls=CallsGroup, no_args_is_help=False,
                  help="Review calls: the log, each conversation, the transcripts.")

SPEAKER_STYLE = {"agent": "cyan", "caller": "yellow", "keypress": "magenta", "note": "dim"}


def _rate(st) -> float:
    return settings.rate_per_minute(st)[0]


def _marks(call: dict[str, Any]) -> str:
    marks = [m for m, on in (("sim", call["simulated"]), ("test", call["test"]),
                             ("rec", call["recorded"])) if on]
    return ",".join(marks)


def _distinct_local(text: str) -> list[str]:
    """A call's local times, each said once: Adak and Honolulu both read '10:00 HST',
    Anchorage and Juneau '11:00 AKST' -- four zones, two times."""
    return list(dict.fromkeys(p.strip() for p in text.split(";") if p.strip()))


def _short_local(text: str | None, started: str | None, wide: bool) -> str:
    """'2026-12-08 17:00 EST' -> '12-08 17:00 EST' when narrow (the year is the run's)."""
    if not text:
        return formats.instant(started, none="")
    parts = _distinct_local(text)
    shown = parts[0] if wide or len(parts) == 1 else parts[0] + " +"
    return shown if wide else shown[5:]


def calls_table(rows: list[dict[str, Any]], width: int = 200) -> Table:
    wide = width >= WIDE
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, title_justify="left", pad_edge=False,
                  padding=0)
    cols = ["ID", "Recipient time", "Lead", "Number", "Pass", "AMD", "Dur", "Disposition",
            "Cost"]
    if width >= 100_000:              # piped: the instant too, RFC 3339 UTC
        cols[1:1] = ["Campaign", "Started"]
        cols.append("Marks")
    elif wide:
        cols[1:1] = ["Campaign"]
        cols.append("")
    else:
        # No room for the marks column: the title says which calls are not real dials.
        marked = [c["id"] for c in rows if c["simulated"] or c["test"]]
        if marked:
            table.title = ("Simulated or test calls" if len(marked) == len(rows) else
                           "Simulated or test: " + ", ".join(map(str, marked[:12])))
    for col in cols:
        table.add_column(col, no_wrap=True, overflow="ellipsis",
                         max_width={"Lead": 24 if wide else 13, "Campaign": 14}.get(col),
                         justify="right" if col in ("ID", "Pass", "Dur", "Cost") else "left")
    for c in rows:
        amd = c["answered_by"] or ""
        cells = {"ID": str(c["id"]), "Campaign": Text(c["campaign"]),
                 "Started": Cell(formats.utc_z(c["started_at"]), formats.utc_z(c["started_at"])),
                 "Recipient time": _short_local(c["local_time"], c["started_at"], wide),
                 "Lead": Text(f"{c['lead_row']} {c['lead_name'] or ''}".strip()),
                 "Number": c["number"],
                 "Pass": str(c["pass"]) + ("" if c["kind"] == "pass" else "cb"),
                 "AMD": amd.split("_")[0].replace("machine", "mach"),
                 "Dur": Cell(formats.duration(c["duration_s"], none=""), str(c["duration_s"] or "")),
                 "Disposition": c["disposition"] or c["status"],
                 "Cost": amount(c["cost"], none=""), "": _marks(c),
                 "Marks": _marks(c)}
        table.add_row(*(cells[k] for k in cols))
    return table


def _offset(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}.{int(round((seconds - whole) * 10)) % 10}"


def conversation(turns: list[dict[str, Any]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column("at", style="dim", no_wrap=True, justify="right")
    table.add_column("who", no_wrap=True)
    table.add_column("said", ratio=1, overflow="fold")
    for t in turns:
        said = Text(t["text"])
        if t.get("interrupted"):
            said.append(" [interrupted: the caller heard only this]", style="italic dim")
        table.add_row(_offset(t["offset_s"]), Text(t["speaker"], style=SPEAKER_STYLE.get(
            t["speaker"], "")), said)
    return table


def _line(label: str, *parts: Any) -> Text:
    text = Text(f"{label}: ", style="bold")
    for p in parts:
        text.append_text(p if isinstance(p, Text) else Text(str(p)))
    return text


def call_view(c: dict[str, Any]) -> RenderableType:
    """One call: header, the conversation, the outcome, the evidence."""
    head = Text(f"Call {c['id']}", style="bold")
    head.append_text(Text(f" · {c['campaign']} · lead row {c['lead_row']} "))
    head.append_text(Text(c["lead_name"] or "", style="bold"))
    head.append(f" · {c['number']} (phone {c['phone_slot']}) · pass {c['pass']}")
    if c["kind"] != "pass":
        head.append(f" · {c['kind']}")
    if c["simulated"]:
        head.append("  SIMULATED", style="bold magenta")
    if c["test"]:
        head.append("  TEST CALL", style="bold magenta")
    parts: list[RenderableType] = [head]
    when = Text(f"Placed {(c['started_at'] or '')[:19].replace('T', ' ')} UTC")
    if c["local_time"]:
        when.append(f" ({'; '.join(_distinct_local(c['local_time']))} for the recipient)")
    when.append(f" · {c['status']}")
    if c["duration_s"]:
        when.append(f" · talked {formats.duration(c['duration_s'])}")
    parts.append(when)
    if c["amd"]:
        after = c["amd"]["after_pickup_s"]
        parts.append(_line("AMD", c["amd"]["verdict"],
                           f", {after:g} s after pick-up" if after is not None else ""))
    if c["turns_list"]:
        parts += [Text(""), conversation(c["turns_list"]), Text("")]
    elif c["answered_at"]:
        parts.append(Text("No conversation was recorded.", style="dim"))
    vm = c["voicemail"]
    if vm:
        parts.append(_line("Voicemail", "message left (above)" if vm["left"]
                           else "hung up without a message"))
    if c["disposition"]:
        why = c["decided_by"]
        parts.append(_line("Disposition", Text(c["disposition"], style="bold"),
                           Text(f' -- decided by: "{why}"' if why and why[0].isupper()
                                and c["turns_list"] else (f" -- {why}" if why else ""))))
    else:
        parts.append(_line("Disposition", Text("not yet (the call is open)", style="yellow")))
    if c["summary"]:
        parts.append(_line("Summary", c["summary"]))
    if c["callback"]:
        cb = c["callback"]
        # In the recipient's zone: the time they agreed to (formats.instant names it).
        parts.append(_line("Callback", f"{formats.instant(cb['due_at'], c.get('recipient_zone'))} "
                                       f"({cb['status']})", Text(f' -- "{cb["note"]}"'
                                                                 if cb["note"] else "")))
    if c["fields"]:
        by = c["fields_by"]
        parts.append(_line("Fields", "; ".join(
            f"{k} = {_show(v)}" + (f" ({by[k]})" if k in by else "")
            for k, v in c["fields"].items())))
    if c["fields_dropped"]:
        parts.append(_line("Dropped", Text("; ".join(c["fields_dropped"]), style="yellow")))
    if c["cost"] is not None:
        source = ("provider's final price" if c["cost_source"] == "final"
                  else f"estimate, {c['billed_minutes']} min x rate")
        parts.append(_line("Cost", f"{formats.money(c['cost'])} ({source})"))
    if c["recording"]:
        r = c["recording"]
        parts.append(_line("Recording", f"{r['sid']} · {r['status'] or '?'}"
                           + (f" · {formats.duration(r['duration_s'])}" if r["duration_s"] else "")
                           + f" (dialcli calls download {c['id']})"))
    if c["error"]:
        parts.append(_line("Error", f"{c['error']}" + (f" (code {c['error_code']})"
                                                        if c["error_code"] else "")))
    ev = c.get("evidence")
    if ev:
        bits = [f"zones {', '.join(ev['zones'] or []) if isinstance(ev['zones'], list) else ev['zones']}"]
        if ev["local_time"]:
            bits.append("local " + _local_text(ev["local_time"]))
        if ev["rules_version"]:
            bits.append(f"rules {ev['rules_version']}")
        if ev["opt_out"] is not None:
            bits.append("opt-out list: " + ("on it" if ev["opt_out"] else "not on it"))
        if ev["cap_count"] is not None:
            bits.append(f"cap {ev['cap_count']}/{ev['cap_limit'] or '?'}")
        if ev["consent_required"]:
            bits.append(f"consent {ev['consent_type'] or 'none'} (needed {ev['consent_required']}"
                        + (f", {ev['consent_source']}" if ev["consent_source"] else "") + ")")
        parts.append(_line("Dial evidence", " · ".join(bits)))
    return Group(*parts)


def _local_text(value: Any) -> str:
    """{'America/New_York': '2026-03-03T10:00:00-05:00 Tue'} -> 'Tue 10:00 EST'."""
    if not isinstance(value, dict):
        return str(value)
    shown: list[str] = []
    for zone, text in value.items():
        try:
            when = datetime.fromisoformat(str(text).split(" ")[0])
            info = zone_info(zone)
            text = (when.astimezone(info) if info else when).strftime("%a %H:%M %Z").strip()
        except ValueError:
            pass
        if text not in shown:
            shown.append(str(text))
    return " / ".join(shown)


def _show(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _lead_id(st, campaign_id: int | None, row: int | None) -> int | None:
    if row is None:
        return None
    if campaign_id is None:
        raise InputError("--lead needs a campaign (a row number is per campaign).")
    lead_id = st.scalar("SELECT id FROM leads WHERE campaign_id = ? AND row_number = ?",
                        (campaign_id, row))
    if lead_id is None:
        raise NotFoundError(f"No lead on row {row} in this campaign.",
                            hint="Rows are the lines of the imported CSV (header = 1).")
    return lead_id


def _disposition(value: str | None) -> str | None:
    if value is None:
        return None
    label = value.strip().upper().replace("-", "_").replace(" ", "_")
    if label not in Disposition.__members__:
        raise InputError(f"--disposition {value!r} is not a disposition.",
                         hint="One of: " + ", ".join(d.value for d in Disposition) + ".")
    return label


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    campaign: Optional[str] = typer.Argument(None, help="Campaign name (optional with one "
                                                        "campaign)."),
    lead: Optional[int] = typer.Option(None, "--lead", help="Only this lead (its CSV row)."),
    disposition: Optional[str] = typer.Option(None, "--disposition",
                                              help="Only calls with this disposition."),
    since: Optional[str] = typer.Option(None, "--since", help="Only calls placed since WHEN "
                                        "(2h, 3d, today, 2026-03-01)."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many (newest first)."),
    all_campaigns: bool = typer.Option(False, "--all", help="Calls of every campaign."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List calls, newest first: recipient's time, lead, number, AMD, duration, outcome, cost.

    Marks: sim = simulated, test = a test call, rec = recorded.

    \b
    Example:
      dialcli calls
      dialcli calls list --limit 200
      dialcli calls Spring --disposition NOT_INTERESTED --since 1d
      dialcli calls --lead 4 --json
    """
    st = store(ctx)
    cid = None
    if all_campaigns:
        if campaign:
            raise InputError("Give a campaign or --all, not both.")
    else:
        cid = resolve_campaign_id(st, campaign)
    rows = core.list_calls(
        st, rate=_rate(st), campaign_id=cid, lead_id=_lead_id(st, cid, lead),
        disposition=_disposition(disposition),
        since=core.parse_since(since, state(ctx).clock.now()) if since else None, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        note("No calls match." if (lead or disposition or since) else
             "No calls yet: they appear here as the campaign dials (dialcli start).")
        return
    show(calls_table(rows, table_width()), rows=len(rows))
    if len(rows) == limit:
        note(f"The newest {limit}: use --limit N for more, or dialcli calls show ID for one.")
    else:
        note("One call as a conversation: dialcli calls show ID")


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    call_id: int = typer.Argument(..., metavar="ID", help="The call's ID (dialcli calls)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one call as a conversation, with its outcome, cost and dial evidence.

    Each turn has its offset from pick-up and who spoke; an interrupted agent line
    shows only what the caller heard.

    \b
    Example:
      dialcli calls show 12
      dialcli calls show 12 --json
    """
    st = store(ctx)
    call = core.call_detail(st, call_id, rate=_rate(st))
    if as_json:
        print_json(call)
        return
    show(call_view(call))


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    campaign: Optional[str] = typer.Argument(None, help="Campaign name (optional with one "
                                                        "campaign)."),
    jsonl: str = typer.Option(..., "--jsonl", metavar="FILE",
                              help="Write one JSON object per call ('-' = stdout)."),
    all_campaigns: bool = typer.Option(False, "--all", help="Calls of every campaign."),
    current_run: bool = typer.Option(False, "--current-run",
                                     help="Only the campaign's current run."),
) -> None:
    """Export every call with its full turn list as JSON Lines (for a notebook).

    \b
    Example:
      dialcli calls export --jsonl calls.jsonl
      dialcli calls export Spring --jsonl - | jq .summary
    """
    st = store(ctx)
    cid = None
    if all_campaigns:
        if campaign:
            raise InputError("Give a campaign or --all, not both.")
    else:
        cid = resolve_campaign_id(st, campaign)
    records = core.call_records(st, rate=_rate(st), campaign_id=cid,
                                all_runs=not current_run)
    from dialcli.results import exports   # lazy: only this command writes a file

    def write(fh) -> int:
        n = 0
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            n += 1
        return n

    with progress.bar("Exporting calls") as advance:
        n = exports.export(lambda fh: write(progress.counting(fh, advance, None)), jsonl,
                           stdout=sys.stdout.buffer)
    if jsonl != "-":
        success(f"Wrote {formats.count(n)} call(s) to {jsonl}.")


@app.command("download")
def download_cmd(
    ctx: typer.Context,
    call_id: int = typer.Argument(..., metavar="ID", help="The call's ID (dialcli calls)."),
    out_path: Optional[str] = typer.Option(None, "--out", metavar="FILE",
                                           help="Where to save it (default: "
                                                "call-ID-RECORDINGSID.wav here)."),
    fmt: str = typer.Option("wav", "--format", metavar="wav|mp3", help="Audio format."),
) -> None:
    """Download a recorded call's audio from Twilio with the account's credentials.

    dialcli keeps only the recording's reference; the audio stays with Twilio until
    you download it. Recordings exist for campaigns with --record.

    \b
    Example:
      dialcli calls download 12
      dialcli calls download 12 --format mp3 --out alex.mp3
    """
    import os
    import tempfile
    from pathlib import Path

    fmt = fmt.strip().lower()
    if fmt not in ("wav", "mp3"):
        raise InputError(f"--format {fmt!r}: use wav or mp3.")
    st = store(ctx)
    row = st.one("SELECT recording_sid, recording_status, provider FROM calls WHERE id = ?",
                 (call_id,))
    if row is None:
        raise NotFoundError(f"There is no call {call_id}.",
                            hint="List calls with: dialcli calls (the ID column).")
    if not row[0]:
        raise InputError(f"Call {call_id} has no recording.",
                         hint="Only calls of a campaign with recording on are recorded: "
                              "dialcli campaign edit NAME --record" if row[2] != "simulator"
                         else "Simulated calls are never recorded.")
    if row[1] not in (None, "completed"):
        raise InputError(f"Call {call_id}'s recording is {row[1]}: there is no audio to fetch.")
    target = Path(out_path or f"call-{call_id}-{row[0]}.{fmt}").expanduser()
    if target.is_dir():
        target = target / f"call-{call_id}-{row[0]}.{fmt}"
    if not target.parent.is_dir():
        raise InputError(f"Cannot write {target}: folder {target.parent} does not exist.")
    # lazy: the Twilio SDK only for the command that talks to Twilio
    from dialcli.config import TwilioCredentials
    from dialcli.providers.twilio.account import TwilioAccount

    account = TwilioAccount(TwilioCredentials.from_env())
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            size = account.download_recording(row[0], fmt, fh)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    success(f"Saved recording {row[0]} of call {call_id} to {target} ({formats.count(size)} bytes).")
