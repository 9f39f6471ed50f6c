"""Commands: ``dialcli campaign create|list|show|edit|delete``.

Thin: options are parsed here, every rule (limits, window, from-number, voicemail
message, running campaigns) is enforced in ``dialcli.workspace.campaigns``.
"""

from __future__ import annotations

import getpass
import socket
from typing import Optional

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import common
from dialcli.compliance import consent
from dialcli.errors import InputError
from dialcli.models import Campaign, CampaignStatus, LeadStatus, VoicemailAction
from dialcli.compliance.consent import gate_off_text
from dialcli.workspace import agents as agents_core
from dialcli.workspace import campaigns as core

app = typer.Typer(
    name="campaign",
    help="Create and manage campaigns: agent, from-number, calling hours, retries, pacing.",
    no_args_is_help=True,
)

_STATUS_STYLE = {
    CampaignStatus.DRAFT: "dim", CampaignStatus.RUNNING: "bold green",
    CampaignStatus.PAUSED: "yellow", CampaignStatus.COMPLETED: "cyan",
}
_REACHED = (LeadStatus.REACHED, LeadStatus.OPTED_OUT, LeadStatus.CALLBACK)


def _q(name: str) -> str:
    """A user-typed name, quoted and safe inside Rich markup."""
    return escape(repr(name))


def campaigns_table(rows: list[core.CampaignSummary], *, width: int | None = None) -> Table:
    """The campaign list as a Rich table (``width``: the console's, to fit narrow ones)."""
    # Rich shrinks wrapping columns to nothing when a table cannot fit, so on a
    # narrow terminal keep the columns that identify a campaign and cut long names.
    narrow = width is not None and width < 76
    # The purpose takes room only where names still fit beside it (show has it always).
    wide = width is None or width >= 100
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Name", style="bold", no_wrap=narrow, overflow="ellipsis",
                     max_width=max(8, width - 34) if narrow and width else None)
    table.add_column("Status", no_wrap=True)
    if wide:
        table.add_column("Purpose", no_wrap=True)
    if not narrow:
        table.add_column("Agent")
        table.add_column("From", no_wrap=True)
    table.add_column("Leads", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("To call", justify="right", no_wrap=True)
    table.add_column("Reached", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("Pass", justify="right", no_wrap=True)
    for s in rows:
        c = s.campaign
        to_call = s.leads[LeadStatus.PENDING] + s.leads[LeadStatus.RETRY] + s.leads[LeadStatus.DIALING]
        reached = sum(s.leads[x] for x in _REACHED)
        status = Text(c.status.value, style=_STATUS_STYLE[c.status])
        if narrow:
            table.add_row(Text(c.name), status, common.num(s.total_leads), common.num(reached))
        else:
            table.add_row(Text(c.name), status, *([_purpose_cell(c)] if wide else []),
                          Text(s.agent.name), c.from_number, common.num(s.total_leads),
                          common.num(to_call), common.num(reached), f"{c.pass_no}/{c.max_attempts}")
    return table


def _purpose_cell(c: Campaign) -> Text:
    """The list's purpose column: the purpose, flagged when it is unset or its gate off."""
    if c.purpose not in consent.PURPOSES:
        return Text("not set", style="yellow")
    return Text(c.purpose + (" (gate off)" if c.consent_gate == "off" else ""),
                style="yellow" if c.consent_gate == "off" else "")


def _consent_rows(info: Table, c: Campaign) -> None:
    """Purpose and consent gate rows of ``campaign show``."""
    if c.purpose in consent.PURPOSES:
        info.add_row("Purpose", f"{c.purpose}: each number needs {consent.NEEDS[c.purpose]}")
    else:
        info.add_row("Purpose", Text(f"not set: start refuses it until you say, e.g. dialcli "
                                     f"campaign edit {c.name!r} --purpose telemarketing",
                                     style="yellow"))
    if c.consent_gate == "off":
        info.add_row("Consent gate", Text(gate_off_text(c.consent_gate_changed_at,
                                                        c.consent_gate_changed_by),
                                          style="bold yellow"))
    else:
        info.add_row("Consent gate", "on: a number without that consent on record is skipped")


def campaign_detail(s: core.CampaignSummary) -> RenderableType:
    """One campaign: settings, then leads by status."""
    c = s.campaign
    info = Table.grid(padding=(0, 2))
    info.add_column(style="dim", no_wrap=True)
    info.add_column()
    info.add_row("Campaign", Text.assemble((c.name, "bold"), "  ",
                                           (c.status.value, _STATUS_STYLE[c.status])))
    _consent_rows(info, c)
    info.add_row("Agent", Text(f"{s.agent.name} ({s.agent.language})"))
    info.add_row("From", Text(c.from_number + (f" ({s.number_label})" if s.number_label else "")))
    info.add_row("Calling hours", f"{c.window_start}-{c.window_end} in each recipient's time zone")
    info.add_row("Retries", f"pass every {c.retry_interval_minutes} min, "
                            f"up to {c.max_attempts} pass{'es' if c.max_attempts != 1 else ''} per phone")
    if c.voicemail_action is VoicemailAction.MESSAGE:
        source = "campaign's" if c.voicemail_message else "agent's"
        info.add_row("Voicemail", Text(f"leave the {source} message: ")
                     + Text(" ".join((s.voicemail_message or "").split()), style="italic"))
    else:
        info.add_row("Voicemail", "hang up, no message")
    info.add_row("Pacing", f"up to {c.max_concurrent} calls at once, {c.cps:g} call/s")
    info.add_row("Recording", "on (two channels; the greeting must announce it)" if c.record
                 else "off")
    progress = f"run {c.run}, pass {c.pass_no}"
    if c.next_pass_at:
        progress += f", next pass at {formats.instant(c.next_pass_at)}"
    info.add_row("Progress", progress)
    info.add_row("Calls", f"{formats.count(s.calls)} this run")
    info.add_row("Imports", common.num(s.imports))

    leads = Table(box=box.SIMPLE_HEAD, show_edge=False, title=f"Leads: {formats.count(s.total_leads)}",
                  title_justify="left")
    leads.add_column("Status")
    leads.add_column("Leads", justify="right")
    for status in LeadStatus:
        n = s.leads[status]
        leads.add_row(Text(status.value, style="" if n else "dim"),
                      Text(formats.count(n), style="" if n else "dim"))
    return Group(info, Text(""), leads)


def _who() -> str:
    """Who changes the consent gate, for the audit log: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):     # no login name (a container without a passwd entry)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _purpose_hint() -> str:
    """What each purpose needs, for a usage error."""
    return ("AI-voice calls need the called party's consent (47 CFR 64.1200(a)). "
            f"--purpose telemarketing (selling): {consent.NEEDS[consent.TELEMARKETING]}; "
            f"--purpose informational (not selling): {consent.NEEDS[consent.INFORMATIONAL]}.")


def _disclosure_warnings(warnings: list) -> None:
    """Disclosure and calling-window warnings: the message, then what to do."""
    for w in warnings:
        common.warn(escape(w.message))
        common.note(escape(w.hint))


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Campaign name (unique, case-insensitive)."),
    agent: str = typer.Option(..., "--agent", help="Voice agent that talks on each call."),
    from_number: str = typer.Option(..., "--from", metavar="E164", help="Workspace number to dial from."),
    window: str = typer.Option("09:00-20:00", "--window", metavar="HH:MM-HH:MM",
                               help="Calling hours in the recipient's local time, within 08:00-21:00."),
    retry_interval: int = typer.Option(60, "--retry-interval", metavar="MINUTES",
                                       help="Minutes between retry passes (1-10080)."),
    max_attempts: int = typer.Option(3, "--max-attempts", metavar="N",
                                     help="Passes per phone before a lead is exhausted (1-10)."),
    voicemail: Optional[str] = typer.Option(
        None, "--voicemail", metavar="hangup|message",
        help="On an answering machine: hang up, or leave the voicemail message "
             "[default: message if a voicemail message is given, else hangup]."),
    voicemail_message: Optional[str] = typer.Option(
        None, "--voicemail-message", help="Message for machines (overrides the agent's)."),
    voicemail_file: Optional[str] = typer.Option(None, "--voicemail-message-file", metavar="FILE",
                                                 help="Read the voicemail message from a UTF-8 file."),
    max_concurrent: int = typer.Option(5, "--max-concurrent", metavar="N",
                                       help="Calls in progress at once (1-200)."),
    cps: float = typer.Option(1.0, "--cps", metavar="RATE", help="New calls per second (0.001-50)."),
    purpose: Optional[str] = typer.Option(
        None, "--purpose", metavar="telemarketing|informational",
        help="What the calls are for: telemarketing (selling; each number needs written "
             "consent) or informational (each number needs any consent). Required."),
    strict: bool = typer.Option(False, "--strict",
                                help="Refuse an agent that fails the disclosure check instead of warning."),
) -> None:
    """Create a campaign (status DRAFT) for an agent and a from-number.

    Dials happen only inside the calling window in the recipient's time zone, never
    outside the federal 08:00-21:00. Unreached leads are retried every
    --retry-interval minutes, up to --max-attempts passes over their phones.
    --purpose decides the consent each number needs before it is dialed: written
    consent for telemarketing, any consent for informational calls.
    Warns when the agent's greeting does not say who is calling or the agent offers
    no way to opt out (--strict refuses instead).

    \b
    Example:
      dialcli campaign create "Spring outreach" --agent Zara --from +14155550100 \\
        --purpose telemarketing
      dialcli campaign create Renewals --agent Zara --from +14155550100 \\
        --purpose informational \\
        --window 10:00-19:00 --retry-interval 120 --max-attempts 2 \\
        --voicemail message
    """
    if purpose is None:
        raise InputError("A campaign needs --purpose: telemarketing or informational.",
                         hint=_purpose_hint())
    vm = agents_core.read_text_option(voicemail_message, voicemail_file, field="voicemail message",
                                      option="voicemail-message", required=False)
    action = voicemail if voicemail is not None else ("message" if vm and vm.strip() else "hangup")
    st = common.store(ctx, create=True)
    warnings = core.disclosure_check(st, agent, strict=strict)
    c = core.create_campaign(
        st, name=name, agent=agent, from_number=from_number, window=window,
        retry_interval=retry_interval, max_attempts=max_attempts, voicemail=action,
        voicemail_message=vm, max_concurrent=max_concurrent, cps=cps, purpose=purpose,
        now=common.now(ctx),
    )
    common.result(campaign=core.campaign_details(st, c.id).as_dict())
    common.success(f"Created campaign {_q(c.name)} (DRAFT, {c.purpose}: each number needs "
                   f"{consent.NEEDS[c.purpose]}).")
    _disclosure_warnings(warnings + core.window_warnings(c))
    common.note(f"Next: dialcli import leads.csv --campaign {_q(c.name)}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List campaigns with their status and lead counts.

    \b
    Example:
      dialcli campaign list
      dialcli campaign list --json
    """
    rows = core.list_campaigns(common.store(ctx))
    if as_json:
        common.print_json([s.as_dict() for s in rows])
        return
    if not rows:
        common.note("No campaigns yet. Create one with: dialcli campaign create NAME "
                     "--agent A --from +1...")
        return
    common.show(campaigns_table(rows, width=common.table_width()))


@app.command("show")
def show(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="CAMPAIGN", help="Campaign (may be omitted if there is only one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a campaign's settings, agent and leads by status.

    \b
    Example:
      dialcli campaign show "Spring outreach"
      dialcli campaign show --json
    """
    st = common.store(ctx)
    details = core.campaign_details(st, common.resolve_campaign_id(st, name))
    if as_json:
        common.print_json(details.as_dict())
        return
    common.show(campaign_detail(details))


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="CAMPAIGN", help="Campaign to change."),
    new_name: Optional[str] = typer.Option(None, "--name", help="Rename the campaign."),
    agent: Optional[str] = typer.Option(None, "--agent", help="Use another agent (not while running)."),
    from_number: Optional[str] = typer.Option(None, "--from", metavar="E164",
                                              help="Dial from another number (not while running)."),
    window: Optional[str] = typer.Option(None, "--window", metavar="HH:MM-HH:MM", help="New calling hours."),
    retry_interval: Optional[int] = typer.Option(None, "--retry-interval", metavar="MINUTES",
                                                 help="Minutes between retry passes (1-10080)."),
    max_attempts: Optional[int] = typer.Option(None, "--max-attempts", metavar="N",
                                               help="Passes per phone (1-10)."),
    voicemail: Optional[str] = typer.Option(None, "--voicemail", metavar="hangup|message",
                                            help="Hang up on machines, or leave the message."),
    voicemail_message: Optional[str] = typer.Option(
        None, "--voicemail-message", help='Campaign voicemail message ("" = use the agent\'s).'),
    voicemail_file: Optional[str] = typer.Option(None, "--voicemail-message-file", metavar="FILE",
                                                 help="Read the voicemail message from a file."),
    max_concurrent: Optional[int] = typer.Option(None, "--max-concurrent", metavar="N",
                                                 help="Calls at once (1-200)."),
    cps: Optional[float] = typer.Option(None, "--cps", metavar="RATE", help="New calls per second (0.001-50)."),
    purpose: Optional[str] = typer.Option(
        None, "--purpose", metavar="telemarketing|informational",
        help="What the calls are for: telemarketing needs written consent, informational "
             "any consent."),
    consent_gate: Optional[str] = typer.Option(
        None, "--consent-gate", metavar="on|off",
        help="off dials numbers without a consent record here; needs "
             "--i-have-consent-records too."),
    i_have_consent_records: bool = typer.Option(
        False, "--i-have-consent-records",
        help="With --consent-gate off: you keep every number's consent in another system."),
    strict: bool = typer.Option(False, "--strict",
                                help="With --agent: refuse an agent that fails the disclosure check."),
    record: Optional[bool] = typer.Option(None, "--record/--no-record",
                                          help="Ask Twilio to record each call (dual channel); "
                                               "the greeting must announce it."),
) -> None:
    """Change a campaign's settings; only the options given are changed.

    The agent and from-number cannot change while the campaign is running (pause
    it first); other settings apply from the next dial or pass. The consent gate
    (each number needs the consent --purpose requires) goes off only with both
    --consent-gate off and --i-have-consent-records; either change is written to
    the audit log with who made it and when.

    \b
    Example:
      dialcli campaign edit "Spring outreach" --window 10:00-19:00 \\
        --max-attempts 2
      dialcli campaign edit "Spring outreach" --agent Sam --from +14155550111
      dialcli campaign edit "Spring outreach" --purpose informational
      dialcli campaign edit Renewals --consent-gate off --i-have-consent-records
      dialcli campaign edit Renewals --record
    """
    if i_have_consent_records and (consent_gate or "").strip().lower() != "off":
        raise InputError(
            "--i-have-consent-records only goes with --consent-gate off.",
            hint="It is your statement that every number's consent is on record elsewhere, "
                 "so dialcli may dial without checking its own records: dialcli campaign edit "
                 f"{name!r} --consent-gate off --i-have-consent-records")
    vm = agents_core.read_text_option(voicemail_message, voicemail_file, field="voicemail message",
                                      option="voicemail-message", required=False)
    st = common.store(ctx)
    warnings = core.disclosure_check(st, agent, strict=strict) if agent is not None else []
    if record:
        # What start will insist on, said now: only the recording notice, once.
        named = agent or agents_core.get_agent_by_id(st, core.get_campaign(st, name).agent_id)
        warnings += [w for w in core.disclosure_check(st, named, record=True)
                     if w.code == "recording" and w not in warnings]
    c = core.edit_campaign(
        st, name, name=new_name, agent=agent, from_number=from_number,
        window=window, retry_interval=retry_interval, max_attempts=max_attempts,
        voicemail=voicemail, voicemail_message=agents_core.UNSET if vm is None else vm,
        max_concurrent=max_concurrent, cps=cps, purpose=purpose, consent_gate=consent_gate,
        i_have_consent_records=i_have_consent_records,
        changed_by=_who() if consent_gate is not None else None, now=common.now(ctx),
        record=record,
    )
    common.result(campaign=core.campaign_details(st, c.id).as_dict())
    common.success(f"Updated campaign {_q(c.name)}.")
    if record is not None:
        common.note("Recording on: Twilio records each call in two channels; dialcli keeps "
                    "the recording's SID and length (dialcli calls download ID fetches the "
                    "audio)." if c.record else "Recording off.")
    if purpose is not None:
        common.note(f"Purpose: {c.purpose}; each number needs {consent.NEEDS[c.purpose]}.")
    if consent_gate is not None and c.consent_gate == "off":
        common.warn(escape(gate_off_text(c.consent_gate_changed_at, c.consent_gate_changed_by,
                                         sentence=True))
                    + ". Every start warns of it; the audit log keeps who turned it off.")
    elif consent_gate is not None:
        common.note("Consent gate on: numbers without the consent the purpose needs are skipped.")
    _disclosure_warnings(warnings + (core.window_warnings(c) if window is not None else []))


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="CAMPAIGN", help="Campaign to delete."),
    yes: bool = common.YES,
) -> None:
    """Delete a campaign with its leads, calls and imports (not while running).

    The workspace opt-out list and the audit log are kept. On a terminal you type
    the campaign's name to confirm; with no terminal, --yes is required.

    \b
    Example:
      dialcli campaign delete "Spring outreach"
      dialcli campaign delete "Spring outreach" --yes
    """
    st = common.store(ctx)
    details = core.check_deletable(st, name, now=common.now(ctx))
    c = details.campaign
    question = (f"Delete campaign {c.name!r} with {formats.count(details.total_leads)} lead"
                f"{'s' if details.total_leads != 1 else ''} and their call history?")
    common.confirm_by_name(question, c.name, yes=yes, action="Deleting a campaign")
    if details.total_leads >= 100_000:
        # ~15-20 us per lead with its phones (300k leads took ~5 s here): say so up front.
        common.note(f"Deleting {formats.count(details.total_leads)} leads; this takes a second "
                    "or two per 100,000.")
    deleted = core.delete_campaign(st, c.id, now=common.now(ctx))
    common.result(deleted={"id": c.id, "name": c.name, **deleted})
    common.success(f"Deleted campaign {_q(c.name)}: {formats.count(deleted['leads'])} leads, "
                    f"{formats.count(deleted['calls'])} calls. Opt-outs are kept.")
