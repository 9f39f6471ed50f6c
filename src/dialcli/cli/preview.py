"""Command: ``dialcli preview`` -- what the agent will say to a lead.

Thin: ``dialcli.workspace.preview.build_preview`` renders; this module lays the result out
and puts warnings (tokens no lead has) on stderr so ``--json`` stays parseable.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli import common
from dialcli.compliance import recording
from dialcli.cli.agent import say_voice_label, voice_label
from dialcli.workspace.preview import Preview, build_preview

app = typer.Typer()


def _lead_line(p: Preview) -> Text:
    if p.lead is None:
        if p.campaign is None:
            return Text("Rendered for an empty lead (no campaign given): {{NAME}} is \"there\", "
                        "other tokens are empty.", style="dim")
        return Text(f"Campaign {p.campaign.name!r} has no leads yet: rendered for an empty lead "
                    "({{NAME}} is \"there\", other tokens are empty).", style="dim")
    lead = p.lead
    phone = lead.phones[0].e164 if lead.phones else "no phone"
    return Text.assemble(
        ("Lead ", "dim"), (f"{formats.count(p.position)} of {formats.count(p.lead_total)}", "bold"),
        ("  row ", "dim"), str(lead.row_number), ("  ", ""), (lead.name or "(no name)", "bold"),
        ("  ", ""), phone, ("  id ", "dim"), str(lead.id),
    )


def preview_view(p: Preview) -> RenderableType:
    """The rendered greeting, system prompt and voicemail message as panels."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="dim", no_wrap=True)
    head.add_column()
    if p.campaign is not None:
        head.add_row("Campaign", Text(p.campaign.name, style="bold"))
    head.add_row("Agent", Text(f"{p.agent.name} ({p.agent.language})"))
    head.add_row("Voice", Text(voice_label(p.agent)))
    head.add_row("Voicemail voice", Text(say_voice_label(p.agent)))
    if p.lead is not None and p.lead.vars:
        head.add_row("Variables", Text(", ".join(f"{k}={v}" for k, v in sorted(p.lead.vars.items()))))
    parts: list[RenderableType] = [head, _lead_line(p)]
    parts.append(Panel(Text(p.greeting), title="Greeting", title_align="left", box=box.ROUNDED))
    parts.append(Panel(Text(p.system_prompt), title="System prompt", title_align="left",
                       box=box.ROUNDED))
    if p.voicemail_message:
        parts.append(Panel(
            Text(p.voicemail_message), title=f"Voicemail message (the {p.voicemail_source}'s)",
            title_align="left", box=box.ROUNDED,
            subtitle=None if p.voicemail_played else "not played: the campaign hangs up on machines",
            subtitle_align="left",
        ))
    else:
        parts.append(Text("No voicemail message: machines get a hang-up.", style="dim"))
    return Group(*parts)


def recording_notice(p: Preview) -> dict | None:
    """For a recorded campaign: whether the greeting announces the recording, and
    which of this lead's numbers are where every party must consent."""
    if p.campaign is None or not p.campaign.record:
        return None
    numbers = {}
    for phone in (p.lead.phones if p.lead is not None else ()):
        states = recording.covering(phone.region)
        if states:
            numbers[phone.e164] = list(states)
    return {"notice_in_greeting": recording.has_notice(p.greeting), "all_party_numbers": numbers,
            "rules_version": recording.table_version()}


def recording_line(info: dict) -> Text:
    text = Text("Recording: on · ", style="bold")
    text.append("the greeting announces it" if info["notice_in_greeting"]
                else "the greeting does NOT announce it",
                style="green" if info["notice_in_greeting"] else "bold red")
    if info["all_party_numbers"]:
        where = "; ".join(f"{n} ({', '.join(s)})" for n, s in info["all_party_numbers"].items())
        text.append(f" · all-party consent needed for {where}")
    return text


def _warnings(p: Preview) -> list[str]:
    out = []
    info = recording_notice(p)
    if info and not info["notice_in_greeting"]:
        out.append("The campaign records calls but the greeting does not say so: start refuses "
                   "it while any number is where every party must consent. "
                   + recording.notice_hint())
    if p.unknown_tokens:
        where = f"campaign {p.campaign.name!r}" if p.campaign else "the campaign"
        out.append(
            f"The agent uses {', '.join('{{' + t + '}}' for t in p.unknown_tokens)}, which no lead in "
            f"{where} has: {'it renders' if len(p.unknown_tokens) == 1 else 'they render'} empty "
            "for every lead. Check the CSV column names (e.g. 'case number' is {{CASE_NUMBER}})."
            + "".join(f" The leads have {m}: write {{{{{m}}}}} for {{{{{t}}}}} in the agent's "
                      "texts (dialcli agent edit)." for t, m in p.near_tokens.items())
        )
    empty = [t for t in p.empty_tokens if t != "NAME"]
    if p.lead is not None and empty:
        out.append(f"Empty for this lead: {', '.join(empty)}.")
    if p.lead is not None and "NAME" in p.empty_tokens:
        out.append("This lead has no name: {{NAME}} says \"there\".")
    return out


@app.command("preview")
def preview(
    ctx: typer.Context,
    campaign: Optional[str] = typer.Option(
        None, "--campaign", "-c", help="Campaign (may be omitted if there is only one)."),
    lead: Optional[int] = typer.Option(
        None, "--lead", metavar="N", help="The N-th lead of the campaign in import order [default: 1]."),
    lead_id: Optional[int] = typer.Option(None, "--lead-id", metavar="ID", help="The lead with this id."),
    agent: Optional[str] = typer.Option(
        None, "--agent", help="Preview this agent instead of the campaign's (or alone, without a campaign)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the greeting, system prompt and voicemail message rendered for a lead.

    Warns about {{TOKEN}}s the agent uses that no lead in the campaign has (they
    would render empty on every call). Without leads, renders for an empty lead.

    \b
    Example:
      dialcli preview
      dialcli preview --campaign "Spring outreach" --lead 3
      dialcli preview --agent Zara
    """
    st = common.store(ctx)
    target: int | None = None
    if campaign is not None or agent is None:
        target = common.resolve_campaign_id(st, campaign)
    p = build_preview(st, campaign=target, agent=agent, lead_number=lead, lead_id=lead_id)
    for message in _warnings(p):
        common.warn(escape(message))
    info = recording_notice(p)
    if as_json:
        common.print_json(p.as_dict() | {"recording": info})
        return
    common.show(preview_view(p))
    if info:
        common.out.print(recording_line(info))
