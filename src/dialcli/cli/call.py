"""Commands: ``dialcli call NUMBER --agent A`` -- one test call, printed live -- and
``dialcli call list``, the test calls made so far.

Thin: ``engine.testcall`` validates, gates, records and runs the call; this module
parses the options, asks for confirmation where the user overrides calling hours,
and prints each line as it is said.
"""

from __future__ import annotations

import sys
import threading
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from dialcli import formats
from dialcli.cli import common
from dialcli.engine import testcall
from dialcli.errors import InputError
from dialcli.models import VoicemailAction


class CallGroup(TyperGroup):
    """``dialcli call NUMBER ...`` places a call (the ``place`` command, named or not);
    ``dialcli call list`` lists the past ones."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands:
            args = [_IMPLICIT, *args]
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx, args):
        if args and args[0] == _IMPLICIT:
            # Named for what the user typed: its help reads "dialcli call NUMBER", not
            # "dialcli call place NUMBER".
            return "", self.commands["place"], args[1:]
        return super().resolve_command(ctx, args)


#: Stands for the ``place`` command the user did not name (never typed: a NUL).
_IMPLICIT = "\0place"


class _PlaceContext(TyperCommand.context_class):  # typer carries its own click
    @property
    def command_path(self) -> str:
        # Unnamed, the command adds an empty word: "dialcli call  [OPTIONS]".
        return " ".join(super().command_path.split())


class PlaceCommand(TyperCommand):
    context_class = _PlaceContext


app = typer.Typer(name="call", cls=CallGroup, no_args_is_help=False,
                  help="Place one test call to your own phone and print the conversation live.")

_STYLE = {"agent": ("Agent", "bold cyan"), "caller": ("Callee", "bold green"),
          "machine": ("Machine", "magenta"), "dtmf": ("Keypress", "yellow"),
          "interrupted": ("Interrupted", "yellow"), "status": ("·", "dim")}


def _printer(ctx_agent: str):
    lock = threading.Lock()

    def on_line(kind: str, text: str, at_s: float) -> None:
        who, style = _STYLE.get(kind, (kind, ""))
        if kind == "agent":
            who = ctx_agent
        if kind == "interrupted":
            text = f"the callee cut in; they heard: {text!r}"
        line = Text(f"{at_s:5.1f}s  ", style="dim")
        line.append(f"{who}: " if kind != "status" else "", style=style)
        line.append(text, style="dim" if kind == "status" else "")
        with lock:
            common.out.print(line)

    return on_line


@app.command("place", cls=PlaceCommand)
def call(
    ctx: typer.Context,
    number: str = typer.Argument(..., metavar="NUMBER", help="The number to call (your own phone)."),
    agent: str = typer.Option(..., "--agent", help="The voice agent to test."),
    lead: Optional[int] = typer.Option(None, "--lead", metavar="ID",
                                       help="Fill the agent's {{TOKENS}} from this lead."),
    var: List[str] = typer.Option([], "--var", metavar="KEY=VALUE",
                                  help="A token value, e.g. --var NAME=Alex (repeatable)."),
    simulate: bool = typer.Option(False, "--simulate",
                                  help="Talk to a simulated callee: no Twilio account, no call."),
    persona: str = typer.Option("interested", "--persona", metavar="P",
                                help="Simulated callee: interested, not_interested, callback, "
                                     "opt_out, wrong_number, one_word."),
    purpose: str = typer.Option("telemarketing", "--purpose", metavar="PURPOSE",
                                help="What the consent gate checks, as for a campaign: "
                                     "telemarketing (written consent) or informational."),
    now: bool = typer.Option(False, "--now", help="Call even outside calling hours (asks to "
                                                  "confirm; recorded on the test call)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm --now without asking."),
    voicemail_hangup: bool = typer.Option(False, "--voicemail-hangup",
                                          help="Hang up on a machine instead of leaving the "
                                               "agent's voicemail message."),
    from_number: Optional[str] = typer.Option(None, "--from", metavar="E164",
                                              help="Caller ID (default: the workspace's first number)."),
    public_url: Optional[str] = typer.Option(None, "--public-url", metavar="URL",
                                             help="Your tunnel's https URL (live calls)."),
    port: int = typer.Option(8765, "--port", help="Local port of the callback server."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON at the end."),
) -> None:
    """Place one test call to your own phone and print the conversation live.

    The call goes through the whole live path -- the agent's greeting (to a person, never
    to a machine), brain, voices, answering-machine detection and voicemail -- and the
    same gates as a campaign: the opt-out list, consent and the state artificial-voice
    rules (no override: record your own consent with `dialcli consent import`), and
    calling hours unless you pass --now.
    It is recorded as a test call, never in any campaign's numbers.

    \b
    Example:
      dialcli call +14155550123 --agent Zara --simulate
      dialcli call +14155550123 --agent Zara --var NAME=Alex \\
        --public-url https://x.trycloudflare.com
      dialcli call +14155550123 --agent Zara --lead 42 --now
      dialcli call place +14155550123 --agent Zara --simulate   (the same)
      dialcli call list
    """
    # A rehearsal on a fresh install makes the workspace (its test call is kept there);
    # a live call needs one already (its agent and from-number live there).
    st = common.store(ctx, create=simulate)
    clock = common.state(ctx).clock
    variables = testcall.parse_vars(var)
    override = None
    if now:
        if not yes:
            if not sys.stdin.isatty():
                raise InputError("--now calls outside calling hours and needs confirmation.",
                                 hint="Run it in a terminal, or add --yes if this is your own phone.")
            typer.confirm(f"Call {number} now, even outside calling hours? Only do this for your "
                          "own phone", abort=True, err=True)
        override = "--now (confirmed)" if not yes else "--now --yes"
    provider = None
    if not simulate:
        # Credentials and the tunnel URL are checked before anything is recorded.
        from dialcli.providers.twilio.provider import TwilioProvider

        from dialcli.store import settings

        provider = TwilioProvider.from_env(
            public_url=public_url, port=port, store_path=str(common.state(ctx).db_path),
            greet_silence_s=settings.get(st, settings.GREET_AFTER_SILENCE))
    prepared = testcall.prepare(
        st, number=number, agent_name=agent, now=clock.now(), lead_id=lead, variables=variables,
        simulate=simulate, from_number=from_number, override_hours=override,
        voicemail_action=VoicemailAction.HANGUP if voicemail_hangup else VoicemailAction.MESSAGE,
        purpose=purpose.strip().lower())
    if prepared.example_agent:
        common.note(f"No agent {agent!r} in this workspace: rehearsing the shipped example agent "
                    "(dialcli demo's). Create your own with: dialcli agent create ...")
    if prepared.missing_tokens:
        common.warn("No value for " + ", ".join("{{" + t + "}}" for t in prepared.missing_tokens)
                    + ": give --var KEY=VALUE or --lead ID (they are spoken as empty).")
    if prepared.consent_refusal:
        common.warn(f"A real call would be refused: {prepared.consent_refusal}.")
    if not prepared.hours_open:
        common.warn(f"Outside calling hours ({prepared.hours_note}); "
                    + ("a real call would be refused now without --now." if simulate
                       else "calling anyway (--now)."))
    on_line = _printer(prepared.agent.name)
    if simulate:
        from dialcli.conversation.llm import make_brain
        from dialcli.config import LLMSettings

        brain = make_brain(LLMSettings.from_env())
        result = testcall.run_simulated(prepared, brain, on_line, persona=persona,
                                        pace=0.15 if sys.stdout.isatty() else 0.0)
    else:
        result = testcall.run_live(prepared, provider, on_line, clock=clock)
    testcall.finish(st, prepared, result, clock.now())
    if as_json:
        common.print_json({"test_call": prepared.row_id, "to": prepared.phone.e164,
                           "status": result.status, "disposition": result.disposition,
                           "answered_by": result.answered_by, "summary": result.summary,
                           "voicemail_left": result.voicemail_left, "error": result.error,
                           "transcript": result.transcript})
        return
    message = f"Test call {prepared.row_id}: {result.disposition or result.status}"
    if result.summary:
        message += f" -- {result.summary}"
    if result.error:
        common.warn(result.error)
    common.success(message + " (recorded as a test call; not in any campaign's numbers).")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with each transcript)."),
) -> None:
    """List the test calls made so far, newest first (never in any campaign's numbers).

    \b
    Example:
      dialcli call list
      dialcli call list --json
      dialcli call list | cut -f1,3,6
    """
    rows = testcall.list_test_calls(common.store(ctx), limit=limit)
    if as_json:
        common.print_json(rows)
        return
    if not rows:
        common.note("No test calls yet. Make one with: dialcli call +1... --agent NAME --simulate")
        return
    common.show(test_calls_table(rows), rows=len(rows) + 4)
    if len(rows) == limit:
        common.note(f"The newest {limit}: use --limit N for more.")


def test_calls_table(rows: list[dict]) -> Table:
    table = Table(title=f"Test calls ({formats.count(len(rows))})", title_justify="left")
    for col in ("ID", "Started", "To", "Agent", "How", "Outcome", "Duration", "Notes"):
        table.add_column(col, no_wrap=col in ("ID", "To", "How"), overflow="fold")
    for r in rows:
        notes = []
        if r["override_hours"]:
            notes.append("outside calling hours: " + r["override_hours"])
        if r["voicemail_left"]:
            notes.append("voicemail left")
        if r["error"]:
            notes.append(r["error"])
        if r["summary"]:
            notes.append(r["summary"])
        duration = r["duration_s"]
        table.add_row(str(r["id"]), common.when(r["started_at"]), r["e164"],
                      Text(r["agent_name"]), "simulated" if r["simulated"] else "live",
                      r["disposition"] or r["status"],
                      common.Cell(formats.duration(duration), "" if duration is None else str(duration)),
                      Text("; ".join(notes)))
    return table
