"""Command: ``dialcli doctor`` -- will live calls work from this laptop, and how to fix
what won't. The checks are in ``dialcli.engine.doctor``; this module renders them."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import common
from dialcli.engine import doctor as core
from dialcli.errors import ExitCode
from dialcli.models import Campaign

app = typer.Typer()

MARKS = {core.OK: ("✓", "green"), core.WARN: ("!", "yellow"), core.FAIL: ("✗", "red"),
         core.SKIP: ("–", "dim")}


def checks_view(checks: list[core.Check]) -> Group:
    """The doctor's findings: one line per check, with the fix under each problem."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for c in checks:
        mark, style = MARKS[c.status]
        body = Text(c.message)
        if c.fix and c.status in (core.FAIL, core.WARN):
            body.append("\n→ " + c.fix, style="cyan")
        table.add_row(Text(mark, style=style), c.name, body)
    return Group(table, Text(""), summary_line(checks))


def checks_table(checks: list[core.Check]) -> Table:
    """The findings for scripts (piped): status, check, message, fix -- one per line."""
    table = Table("Status", "Check", "Message", "Fix")
    for c in checks:
        table.add_row(c.status, c.name, c.message,
                      c.fix if c.fix and c.status in (core.FAIL, core.WARN) else "")
    return table


def summary_line(checks: list[core.Check]) -> Text:
    failed = sum(c.status == core.FAIL for c in checks)
    warned = sum(c.status == core.WARN for c in checks)
    return (Text(f"{failed} problem(s) to fix before calling.", style="bold red") if failed
            else Text("Ready for live calls" + (f" ({warned} warning(s))." if warned else "."),
                      style="bold green"))


def _campaigns(ctx: typer.Context, name: Optional[str]) -> list[Campaign]:
    st = common.store(ctx)
    if name:
        cid = common.resolve_campaign_id(st, name)
        return [Campaign.from_row(st.one("SELECT * FROM campaigns WHERE id = ?", (cid,)))]
    return core.active_campaigns(st)


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    campaign: Optional[str] = typer.Argument(
        None, help="Check this campaign (default: every campaign not completed)."),
    public_url: Optional[str] = typer.Option(
        None, "--public-url", metavar="URL",
        help="Your tunnel's https URL (default: $DIALCLI_PUBLIC_URL)."),
    port: int = typer.Option(8765, "--port", help="Local port of the callback server.",
                             min=1, max=65535),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a report."),
    repair: bool = typer.Option(
        False, "--repair", help="Copy what can be read of a damaged workspace into a new "
                                "file beside it (the original is left as it is)."),
) -> None:
    """Check that live calls will work from this laptop, and say how to fix what won't.

    Checks the Twilio credentials, that each campaign's from-number is on the account
    and voice-capable, that the public URL reaches this laptop through your tunnel
    (the callback server answers its own health probe), that the LLM answers (if one
    is configured), and how many leads are inside their calling window right now.
    First of all, checks that the workspace file itself is sound (``PRAGMA
    quick_check``); --repair copies what can be read of a damaged one into a new file.
    Exits with 1 if any check fails.

    \b
    Example:
      cloudflared tunnel --url http://localhost:8765 &
      dialcli doctor --public-url https://example.trycloudflare.com
      dialcli doctor --repair
    """
    if repair:
        _repair(ctx, as_json)
        return
    st = common.store(ctx)
    sound = core.check_workspace(st)
    if sound.status == core.FAIL:
        checks = [sound]     # nothing else can be read reliably from a damaged file
    else:
        campaigns = _campaigns(ctx, campaign)
        checks = [sound] + core.run_checks(
            st, campaigns, core.DoctorOptions(public_url=public_url, port=port),
            now=common.now(ctx))
    if as_json:
        common.print_json({"ok": not any(c.status == core.FAIL for c in checks),
                            "checks": [c.as_dict() for c in checks]})
    elif common.stdout_is_terminal():
        common.out.print(checks_view(checks))
    else:
        common.show(checks_table(checks))
        common.err.print(summary_line(checks))
    if any(c.status == core.FAIL for c in checks):
        raise typer.Exit(int(ExitCode.ERROR))


def _repair(ctx: typer.Context, as_json: bool) -> None:
    """``--repair``: the recovered copy, the counts before and after, how to swap."""
    import shlex

    from dialcli.store.repair import recover

    path = common.state(ctx).db_path
    common.note(f"Recovering what can be read from {path} ...")
    got = recover(path, now=common.now(ctx))
    if as_json:
        common.print_json(got.as_dict())
        return
    table = Table("Table", "Readable before", "In the copy", box=None)
    for name, after in got.after.items():
        before = got.before.get(name)
        table.add_row(name, "unreadable" if before is None else common.num(before), common.num(after))
    common.show(table)
    if got.lost_rows:
        common.warn(f"{formats.count(got.lost_rows)} row(s) whose table could not be told were kept in "
                    f"{got.lost_file}.")
    src, dst = shlex.quote(got.source), shlex.quote(got.target)
    common.success(f"Wrote {got.target} ({got.method}); {path} was not changed.")
    common.note(f"Check it: dialcli --db {dst} status\nThen keep the damaged file aside and "
                f"use the copy:\n  mv {src} {src}.damaged && rm -f {src}-wal {src}-shm && "
                f"mv {dst} {src}")
