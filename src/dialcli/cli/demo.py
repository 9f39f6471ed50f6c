"""Command: ``dialcli demo`` -- a whole simulated campaign from the shipped examples.

``dialcli.engine.demo`` builds the workspace; ``start.drive`` dials it, as ``start``
would, on the simulated network.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from dialcli.cli.common import bounded, note, state
from dialcli.cli.start import drive
from dialcli.engine.demo import DEMO_DB, build_demo
from dialcli.engine.runner import RunOptions
from dialcli.errors import InputError

app = typer.Typer()


@app.command("demo")
def demo(
    ctx: typer.Context,
    seed: int = typer.Option(8, "--seed", help="Seed of the simulated population."),
    speed: Optional[float] = typer.Option(None, "--speed", metavar="N",
                                          help="Play at N x real time (default 60 on a terminal).",
                                          callback=bounded(0.01, 100_000)),
    demo_db: Optional[Path] = typer.Option(
        None, "--demo-db", metavar="PATH",
        help=f"Where to build the demo workspace (recreated; default {DEMO_DB}); the same "
             "as dialcli --db PATH demo."),
) -> None:
    """Run a whole simulated campaign from the examples, live in your terminal.

    Builds a demo workspace in ./dialcli-demo.db, or in the file given with
    dialcli --db PATH demo (recreated each time; an existing file that is not a
    demo workspace is refused, never overwritten), with the example agent, number
    and campaign, imports examples/leads.csv, dials it on the simulated network
    and shows the final KPIs. No phone calls are made.

    \b
    Example:
      dialcli demo
      dialcli --db try.db demo --seed 3
    """
    st = state(ctx)
    db = _demo_path(st.db_option, demo_db)
    st.close()
    st.db_option = str(db)
    info = build_demo(db, st.clock.now())
    for line in info["lines"]:
        note(line)
    tty = sys.stdout.isatty()
    opts = RunOptions(simulate=True, seed=seed, speed=speed or (60.0 if tty else None),
                      max_idle=0.3)
    drive(ctx, info["campaign_id"], opts)
    db_arg = shlex.quote(str(db))
    note("")
    note("Next:")
    note(f"  dialcli --db {db_arg} report          KPIs, leads and cost")
    note(f"  dialcli --db {db_arg} status          the final snapshot")
    note(f"  dialcli --db {db_arg} report --csv -  every lead as CSV")
    note("  Real calls: see README, 'Real calls'.")


def _demo_path(db_option: str | None, demo_db: Path | None) -> Path:
    """--demo-db, else the global --db (never $DIALCLI_DB: that is your own workspace)."""
    given = Path(db_option).expanduser() if db_option else None
    if given is not None and demo_db is not None and given != demo_db:
        raise InputError(f"Two demo workspaces given (--db {given} and --demo-db {demo_db}); "
                         "name one.")
    return demo_db or given or DEMO_DB
