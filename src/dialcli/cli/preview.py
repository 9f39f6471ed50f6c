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

from dialcli.cli import common
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
        ("Lead ", "dim"), (f"{p.position:,} of {p.lead_total:,}", "bold"),
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


def _warnings(p: Preview) -> list[str]:
    out = []
    if p.unknown_tokens:
        where = f"campaign {p.campaign.name!r}" if p.campaign else "the campaign"
        out.append(
            f"The agent uses {', '.join('{{' + t + '}}' for t in p.unknown_tokens)}, which no lead in "
            f"{where} has: {'it renders' if len(p.unknown_tokens) == 1 else 'they render'} empty "
            "for every lead. Check the CSV column names (e.g. 'case number' is {{CASE_NUMBER}})."
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
    if as_json:
        common.print_json(p.as_dict())
        return
    common.out.print(preview_view(p))
