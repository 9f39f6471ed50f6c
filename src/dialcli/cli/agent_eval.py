"""Commands: ``dialcli agent test`` (a regression suite for an agent) and ``dialcli agent
try`` (talk to it in the terminal as the callee).

Thin: both run the brain a live call would use (the LLM when one is configured, else
the rule brain) through ``dialcli.conversation.evaluate``; this module parses options,
finds the agent and renders. ``register(app)`` attaches them to the ``agent`` group.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialcli.cli import common
from dialcli.errors import InputError

#: Shipped example suites, found by name when the path does not exist (a fresh
#: install has no examples/ folder next to it).
SHIPPED = ("agent-tests.csv",)


def _shipped(path: str) -> Path | None:
    p = Path(path)
    if p.exists() or p.name not in SHIPPED:
        return None
    from dialcli.engine.runner import demo_paths   # lazy: the engine only for this

    candidate = demo_paths() / p.name
    return candidate if candidate.exists() else None


def _now(ctx: typer.Context, value: str | None) -> datetime:
    if not value:
        return common.now(ctx)
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--now {value!r} is not an ISO date-time; write e.g. "
                         "2026-03-04T10:00 (local to --tz) or 2026-03-04T15:00Z.") from None
    return at


def _zone(tz: str | None) -> str | None:
    if tz is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--tz {tz!r} is not a time zone; use an IANA name such as "
                         "America/New_York or Europe/Madrid.") from None
    return tz


def _brain(now: datetime):
    """The brain a live call uses: the configured LLM, else the rules."""
    from dialcli.clock import VirtualClock
    from dialcli.config import LLMSettings
    from dialcli.conversation.llm import make_brain

    settings = LLMSettings.from_env()
    if settings is None:
        return make_brain(None), "rules"
    return make_brain(settings, clock=VirtualClock(now)), f"LLM {settings.model}"


def _one_line(text: str, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


def test(
    ctx: typer.Context,
    agent: str = typer.Argument(..., metavar="AGENT", help="Agent to test."),
    cases: str = typer.Argument(..., metavar="CASES.csv",
                                help="Cases: columns caller (turns separated by ' | '), expected "
                                     "(a disposition or CONTINUE), optional callback_at."),
    lead_name: str = typer.Option("", "--lead-name", metavar="NAME",
                                  help="The lead's name the greeting is rendered for."),
    now_opt: Optional[str] = typer.Option(None, "--now", metavar="ISO",
                                          help="Pretend it is this time (callback times are "
                                               "read from it). Default: now."),
    tz: Optional[str] = typer.Option(None, "--tz", metavar="ZONE",
                                     help="The lead's time zone (IANA), e.g. America/New_York. "
                                          "Default: UTC."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per case, one per line."),
) -> None:
    """Run an agent's regression cases offline, through the brain a live call uses.

    Each row of CASES.csv is a fresh call: the agent's greeting, then the callee's
    turns (``/9`` presses 9). It passes when the call ends with the expected
    disposition (or is still going, for CONTINUE) and, for a callback, at the
    expected local time (``YYYY-MM-DD HH:MM`` or a range ``A..B``). Exits 1 when a
    case fails. Uses the LLM when DIALCLI_LLM_* is set, else the rule brain.

    \b
    Example:
      dialcli agent test Zara examples/agent-tests.csv
      dialcli agent test Zara cases.csv --lead-name "Maria Lopez" \\
        --now 2026-03-04T10:00 --tz America/New_York --json
    """
    from zoneinfo import ZoneInfo

    from dialcli.conversation import evaluate
    from dialcli.workspace import agents as core

    zone = _zone(tz)
    shipped = _shipped(cases)
    suite = evaluate.read_cases(shipped or cases)
    now = _now(ctx, now_opt)
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(zone or "UTC"))
    rec = core.get_agent(common.store(ctx), agent)
    call = evaluate.agent_context(rec, lead_name=lead_name.strip(), tz=zone, now=now)
    brain, which = _brain(now)
    if shipped is not None and not as_json:
        common.note(f"Using the shipped example {shipped.name} ({shipped}).")
    try:
        if as_json:
            def emit(r: evaluate.CaseResult) -> None:
                sys.stdout.write(json.dumps(r.as_dict(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            results = evaluate.run_cases(brain, call, suite, now, emit)
        else:
            with common.err.status(f"Running {len(suite)} cases ({which})…"):
                results = evaluate.run_cases(brain, call, suite, now)
            common.show(_table(results, common.table_width()), rows=len(results) + 4)
    finally:
        brain.close()
    failed = sum(not r.passed for r in results)
    summary = (f"{len(results) - failed} of {len(results)} cases passed"
               f"{'' if not failed else f', {failed} failed'} (agent {rec.name!r}, {which}).")
    if failed:
        common.err.print(f"[red]✗[/red] {escape(summary)}")
        raise typer.Exit(1)
    common.success(escape(summary))


def _table(results, width: int) -> Table:
    """One row per case; below ``common.WIDE`` columns the agent's last line is left
    out for passing cases (a failing case shows why instead)."""
    wide = width >= common.WIDE
    whole = not common.stdout_is_terminal()      # piped: one case per line, nothing cut
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, expand=True)
    table.add_column("Line", justify="right", style="dim", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Caller", ratio=3, overflow="fold")
    table.add_column("Expected", no_wrap=True)
    table.add_column("Got", no_wrap=True)
    table.add_column("Callback", no_wrap=True)
    table.add_column("Agent said last" if wide else "Detail", ratio=3 if wide else 2,
                     overflow="fold")
    for r in results:
        at = r.callback_local.strftime("%a %m-%d %H:%M %Z").strip() if r.callback_local else ""
        verdict = Text("PASS", style="green") if r.passed else Text("FAIL", style="bold red")
        got = Text(r.got, style="" if r.got == r.case.expected else "red")
        if r.why and r.got == r.case.expected:
            detail = Text(r.why, style="red")
        elif wide or not r.passed:
            detail = Text(" ".join((r.last_reply or "").split()) if whole
                          else _one_line(r.last_reply, 90 if wide else 50))
        else:
            detail = Text("")
        table.add_row(str(r.case.line), verdict, Text(r.case.caller), r.case.expected, got,
                      Text(at), detail)
    return table


def try_(
    ctx: typer.Context,
    agent: str = typer.Argument(..., metavar="AGENT", help="Agent to talk to."),
    lead: Optional[int] = typer.Option(None, "--lead", metavar="N",
                                       help="Render the agent for lead N (1 = first) of a "
                                            "campaign using this agent."),
    campaign: Optional[str] = typer.Option(None, "--campaign", "-c", metavar="NAME",
                                           help="The campaign --lead counts in (default: the "
                                                "first one using the agent)."),
    lead_name: str = typer.Option("", "--lead-name", metavar="NAME",
                                  help="Without --lead: the name the greeting is rendered for."),
    tz: Optional[str] = typer.Option(None, "--tz", metavar="ZONE",
                                     help="The callee's time zone (default: the lead's, else UTC)."),
) -> None:
    """Talk to an agent in the terminal, typing as the person called.

    Same brain as a live call (the LLM when configured, else the rules). Type what
    the callee says; ``/9`` (or any ``/D``) presses a key, ``/hangup`` hangs up.
    When the call ends it shows the disposition and the callback time.

    \b
    Example:
      dialcli agent try Zara
      dialcli agent try Zara --lead 3
    """
    from dialcli.conversation import evaluate
    from dialcli.workspace import agents as core

    st = common.store(ctx)
    rec = core.get_agent(st, agent)
    zone = _zone(tz)
    if lead is not None:
        from dialcli.workspace.preview import build_preview

        names = core.campaigns_using(st, rec.id)
        if campaign is None and not names:
            raise InputError(f"--lead needs a campaign using agent {rec.name!r}; none does. "
                             "Use --lead-name instead, or --campaign NAME.")
        p = build_preview(st, campaign=campaign or names[0], agent=rec.name, lead_number=lead)
        name = p.lead.name if p.lead else ""
        variables = dict(p.lead.vars) if p.lead else {}
        zone = zone or (_lead_zone(p.lead) if p.lead else None)
    else:
        name, variables = lead_name.strip(), {}
    now = common.now(ctx)
    call = evaluate.agent_context(rec, lead_name=name, tz=zone, lead_vars=variables, now=now)
    brain, which = _brain(now)
    common.note(f"[dim]Talking to {escape(rec.name)} ({escape(which)}) as "
                f"{escape(name or 'an unnamed lead')}. Type what you'd say; /9 presses 9, "
                f"/hangup hangs up.[/dim]")
    try:
        session = brain.open(call)
        _agent_says(session.opening())
        end = None
        turn = 0
        while end is None:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                common.out.print()
                line = "/hangup"
            line = line.strip()
            if not line:
                continue
            turn += 1
            if line.lower() in ("/hangup", "/hang up", "/quit", "/exit", "/bye"):
                end = session.finish(at_s=3.0 * turn)
                break
            if len(line) == 2 and line[0] == "/" and line[1] in "0123456789*#":
                chunks = session.on_dtmf(line[1], 3.0 * turn)
            elif line.startswith("/"):
                common.note("Commands: /0-/9, /*, /# press a key; /hangup ends the call.")
                continue
            else:
                chunks = session.respond(line, 3.0 * turn)
            text = ""
            for chunk in chunks:
                text += chunk.text
                end = chunk.end or end
            _agent_says(text)
            end = end or session.result
    finally:
        brain.close()
    _show_end(end, now, zone)


def _lead_zone(lead) -> str | None:
    """The zone a live call to ``lead`` reads times in, as the engine picks it: the lead's
    own time zone column, else the first zone of its first phone still dialable."""
    if lead.timezone:
        return lead.timezone
    phone = next((p for p in lead.phones if p.live and p.zones), None)
    return phone.zones[0] if phone else None


def _agent_says(text: str) -> None:
    if text and text.strip():
        common.out.print(Text.assemble(("agent> ", "bold cyan"), text.strip()))


def _show_end(end, now: datetime, tz: str | None) -> None:
    from dialcli.conversation.evaluate import callback_local

    if end is None:
        common.out.print(Text("Call ended without an outcome (the engine would label it from "
                              "the transcript, or count a too-short call as NO_ANSWER).",
                              style="dim"))
        return
    common.out.print(Text.assemble(("Disposition: ", "bold"), str(end.disposition)))
    if end.summary:
        common.out.print(Text.assemble(("Summary: ", "dim"), end.summary))
    at = callback_local(end, now, tz)
    if at is not None:
        common.out.print(Text.assemble(("Callback: ", "bold"),
                                       at.strftime("%a %Y-%m-%d %H:%M %Z"),
                                       (f"  ({end.callback_text})" if end.callback_text else "")))


def register(app: typer.Typer) -> None:
    """Attach ``test`` and ``try`` to the ``agent`` group."""
    app.command("test")(test)
    app.command("try")(try_)
