"""Command: ``dialcli pause`` -- stop dialing; calls in progress finish.

It works from another terminal while ``dialcli start`` runs: the runner reads the
status between dials (``dialcli.engine.lifecycle.pause``).
"""

from __future__ import annotations

import shlex
from typing import Optional

import typer

from dialcli import formats
from dialcli.cli.common import note, resolve_campaign_id, result, state, success
from dialcli.engine import lifecycle

app = typer.Typer()


@app.command("pause")
def pause(
    ctx: typer.Context,
    campaign: Optional[str] = typer.Argument(None, help="Campaign name."),
) -> None:
    """Pause a running campaign: no new dials; calls in progress finish.

    Works from another terminal while `dialcli start` runs.

    \b
    Example:
      dialcli pause Spring
    """
    st = state(ctx)
    store = st.store()
    cid = resolve_campaign_id(store, campaign)
    got = lifecycle.pause(store, cid, st.clock.now())
    name = got["campaign"]
    result(campaign=name, changed=bool(got["changed"]), runner=got.get("runner"),
           in_flight=got.get("in_flight", 0))
    if not got["changed"]:
        note(f"Campaign {name!r} is already paused.")
        return
    if got.get("runner"):
        success(f"Pausing {name!r}: its runner ({got['runner']}) stops dispatching and "
                f"exits after {formats.count(got['in_flight'])} call(s) in progress finish.")
    else:
        success(f"Campaign {name!r} paused. Continue with: dialcli resume {shlex.quote(name)}")
