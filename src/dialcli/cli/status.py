"""Command: ``dialcli status`` -- a campaign's snapshot, once, with what to do next.

The snapshot is the live dashboard's (``dialcli.engine.lifecycle.snapshot``), read
from the workspace, so it works from another terminal while a runner dials.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict
from typing import Any, Optional

import typer
from rich.console import Group
from rich.text import Text

from dialcli.cli import ui
from dialcli.cli.common import (note, out, print_json, resolve_campaign_id, show, state,
                                stdout_is_terminal)
from dialcli.engine import lifecycle
from dialcli.engine.types import Snapshot
from dialcli.models import CampaignStatus

app = typer.Typer()


@app.command("status")
def status(
    ctx: typer.Context,
    campaign: Optional[str] = typer.Argument(None, help="Campaign name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a campaign's live snapshot once (KPIs, recent leads, recent calls).

    Shows what the campaign is for (its purpose) and whether its consent gate is
    on, then the command that moves the campaign on: start a draft, resume a
    paused campaign, or report on a completed one.

    \b
    Example:
      dialcli status Spring
      dialcli status Spring --json
    """
    st = state(ctx)
    store = st.store()
    cid = resolve_campaign_id(store, campaign)
    snap = lifecycle.snapshot(store, cid, st.clock.now())
    gate = lifecycle.consent_state(store, cid)
    hint = next_step(snap)
    if as_json:
        print_json(snapshot_json(snap) | {"consent": gate, "hint": hint})
        return
    if not stdout_is_terminal():
        # Scripts get field<TAB>value lines, then the recent leads and calls tables.
        show(Group(ui.snapshot_table(snap, {"purpose": gate["purpose"] or "",
                                            "consent_gate": gate["gate"]}),
                   ui.lead_table(ui.latest_per_lead(snap.recent_leads, 8)),
                   ui.event_table(snap.recent_events[:6])))
        if hint:
            note(hint)
        return
    out.print(ui.dashboard(snap))
    out.print(consent_line(gate, snap.campaign))
    if hint:
        note(hint)


def consent_line(gate: dict[str, Any], campaign: str) -> Text:
    """'Purpose: telemarketing (needs ...) · consent gate on', the gate off in red."""
    text = Text("Purpose: ", style="bold")
    if gate["needs"] is None:
        text.append("not set", style="bold red")
        text.append(" -- start refuses it until you set it: dialcli campaign edit "
                    f"{shlex.quote(campaign)} --purpose telemarketing|informational")
        return text
    text.append(f"{gate['purpose']} (needs {gate['needs']})")
    text.append("  ·  ")
    if gate["warning"]:
        text.append(gate["warning"], style="bold red")
    else:
        text.append("consent gate on", style="green")
    return text


def next_step(s: Snapshot) -> str | None:
    """What to type next, for a campaign no runner is moving."""
    name = shlex.quote(s.campaign)
    if s.status == CampaignStatus.DRAFT:
        return f"Not started yet. Start it with: dialcli start {name} (--simulate: no real calls)"
    if s.status == CampaignStatus.PAUSED:
        return f"Paused. Continue with: dialcli resume {name}"
    if s.status == CampaignStatus.COMPLETED:
        return (f"Completed. The results: dialcli report {name}; to dial every lead again: "
                f"dialcli restart {name}")
    return None


def snapshot_json(s: Snapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data (instants as ISO 8601)."""

    def fix(v: Any) -> Any:
        if hasattr(v, "isoformat"):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return fix(asdict(s))
