"""Commands: start, pause, resume, restart, status, demo (the dialing loop and its controls)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.live import Live
from rich.markup import escape

from dialcli.engine import lifecycle

from dialcli.engine import runner

from dialcli.cli import ui
from dialcli.cli.common import err, note, out, print_json, resolve_campaign_id, state, success
from dialcli.errors import ConflictError, ExitCode, InputError, ProviderError
from dialcli.models import CampaignStatus
from dialcli.engine.runner import RunOptions

SIM_HELP = "Dial the built-in simulated phone network instead of Twilio (no phone bill)."


# The options every command that dials shares (start, resume, restart), declared once.
CampaignArg = Annotated[Optional[str], typer.Argument(
    help="Campaign name (optional when the workspace has one).")]
SimulateOpt = Annotated[bool, typer.Option("--simulate", help=SIM_HELP)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for a reproducible simulated run.")]
ProfileOpt = Annotated[Optional[Path], typer.Option(
    "--sim-profile", metavar="FILE", help="Simulated population and pinned scripts (TOML).")]
SpeedOpt = Annotated[Optional[float], typer.Option(
    "--speed", metavar="N", help="Play a simulated run at N x real time.")]
PublicUrlOpt = Annotated[Optional[str], typer.Option(
    "--public-url", metavar="URL", help="Your tunnel's https URL (live calls).")]
PortOpt = Annotated[int, typer.Option("--port", help="Local port of the callback server.")]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Refuse to dial if the agent fails the disclosure check.")]
BlackoutOpt = Annotated[Optional[Path], typer.Option(
    "--blackout", metavar="FILE", help="Extra no-call dates (default: the blackout_file setting).")]


def _options(simulate: bool, seed: int, sim_profile: Optional[Path], speed: Optional[float],
             public_url: Optional[str], port: int, blackout: Optional[Path] = None) -> RunOptions:
    if speed is not None and speed <= 0:
        raise InputError("--speed must be a positive number, e.g. --speed 60.")
    if (sim_profile or speed) and not simulate:
        raise InputError("--sim-profile and --speed only apply to simulated runs.",
                         hint="Add --simulate.")
    return RunOptions(simulate=simulate, seed=seed,
                      sim_profile=str(sim_profile) if sim_profile else None, speed=speed,
                      public_url=public_url, port=port,
                      blackout=str(blackout) if blackout else None)


def _drive(ctx: typer.Context, campaign_id: int, opts: RunOptions, *, live_view: bool | None = None,
           quiet: bool = False, strict: bool = False) -> Any:
    """Run the loop in a worker thread; dashboard + Ctrl-C in this one. Returns the result."""
    st = state(ctx)
    store = st.store()
    tty = sys.stdout.isatty() if live_view is None else live_view
    if tty and opts.simulate and opts.speed is None:
        opts.speed = 30.0   # watchable: 30x real time, long waits compressed
    log = None if (tty or quiet) else _log
    _check_disclosure(store, campaign_id, strict)
    engine = runner.build(store, campaign_id, opts, wall=st.clock, on_event=log)
    handle = runner.start_thread(engine, webhooks=True)
    live = Live(get_renderable=lambda: ui.dashboard(engine.snapshot()), console=out,
                refresh_per_second=8, transient=False) if tty else None

    def wait() -> None:
        while not handle.done.wait(0.1):
            pass

    if live:
        live.start()
    try:
        try:
            wait()
        except KeyboardInterrupt:
            handle.interrupted = True
            n = len(engine.in_flight)
            err.print(f"\n[yellow]Pausing:[/yellow] no new dials; waiting for {n} call(s) in "
                      "progress to finish. Press Ctrl-C again to quit now.")
            engine.request_stop()
            try:
                wait()
            except KeyboardInterrupt:
                engine.abort()
                wait()
    finally:
        if live:
            live.refresh()
            live.stop()
    if handle.error is not None:
        raise handle.error
    result = handle.result
    assert result is not None
    snap = engine.snapshot()
    if not tty and not quiet:
        out.print(ui.disposition_line(snap))
    if result.outcome == "completed":
        success(f"Campaign {snap.campaign!r} completed: {snap.calls_made} calls, "
                f"{snap.reached} reached, {snap.interested} interested, {snap.opted_out} opted out, "
                f"{snap.minutes} min, ${snap.cost:,.2f}.")
    elif result.outcome == "lease_lost":
        raise ConflictError(f"Stopped: {result.message}.")
    elif result.provider_pause:
        # The provider refused dials (trial account, from-number not usable...).
        raise ProviderError(f"Campaign {snap.campaign!r} paused: {result.provider_pause}",
                            hint=f"Fix that, then continue with: dialcli resume {snap.campaign}")
    else:
        name = snap.campaign
        why = f" ({result.message})" if result.message else ""
        note(f"Campaign {name!r} paused{why} after {result.calls} call(s) this session. "
             f"Continue with: dialcli resume {name}")
    if handle.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    return result


def _log(item: dict[str, Any]) -> None:
    """Plain log lines when stdout is not a terminal: one per lead change, pass, and
    stretch with nothing to dial (until when, and why)."""
    if item.get("type") == "call":
        return
    sys.stdout.write(ui.log_line(item) + "\n")
    sys.stdout.flush()


def _check_disclosure(store, campaign_id: int, strict: bool) -> None:
    """Warn (or with --strict refuse) when the agent does not identify itself / offer opt-out."""
    from dialcli.compliance.disclosure import check_agent, enforce

    row = store.one("SELECT a.greeting, a.system_prompt FROM campaigns c JOIN agents a "
                    "ON a.id = c.agent_id WHERE c.id = ?", (campaign_id,))
    for warning in enforce(check_agent(row[0], row[1]), strict=strict):
        # The message quotes the user's greeting: never read it as markup.
        err.print(f"[yellow]Warning:[/yellow] {escape(warning.message)}", highlight=False)
        err.print(f"  {warning.hint}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("start")
    def start(
        ctx: typer.Context,
        campaign: CampaignArg = None,
        simulate: SimulateOpt = False,
        seed: SeedOpt = 0,
        sim_profile: ProfileOpt = None,
        speed: SpeedOpt = None,
        public_url: PublicUrlOpt = None,
        port: PortOpt = 8765,
        strict: StrictOpt = False,
        blackout: BlackoutOpt = None,
    ) -> None:
        """Start dialing a campaign (the foreground loop with a live dashboard).

        Dials every lead breadth-first inside calling hours; Ctrl-C pauses (calls in
        progress finish and are recorded). A paused campaign continues from where it
        stopped.

        \b
        Example:
          dialcli start Spring --simulate --seed 7
          dialcli start Spring --public-url https://my-tunnel.trycloudflare.com
        """
        st = state(ctx).store()
        cid = resolve_campaign_id(st, campaign)
        status = st.scalar("SELECT status FROM campaigns WHERE id = ?", (cid,))
        if status == CampaignStatus.PAUSED:
            note("Campaign is paused; resuming it.")
        _drive(ctx, cid, _options(simulate, seed, sim_profile, speed, public_url, port, blackout),
               strict=strict)

    @app.command("resume")
    def resume(
        ctx: typer.Context,
        campaign: CampaignArg = None,
        simulate: SimulateOpt = False,
        seed: SeedOpt = 0,
        sim_profile: ProfileOpt = None,
        speed: SpeedOpt = None,
        public_url: PublicUrlOpt = None,
        port: PortOpt = 8765,
        strict: StrictOpt = False,
        blackout: BlackoutOpt = None,
    ) -> None:
        """Resume a paused (or crashed) campaign where it left off.

        Calls a stopped runner left open are settled with the provider first.

        \b
        Example:
          dialcli resume Spring --simulate
        """
        st = state(ctx).store()
        cid = resolve_campaign_id(st, campaign)
        status = st.scalar("SELECT status FROM campaigns WHERE id = ?", (cid,))
        if status == CampaignStatus.DRAFT:
            raise InputError("This campaign has not been started yet.",
                             hint="Use: dialcli start")
        _drive(ctx, cid, _options(simulate, seed, sim_profile, speed, public_url, port, blackout),
               strict=strict)

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
        if not got["changed"]:
            note(f"Campaign {name!r} is already paused.")
            return
        if got.get("runner"):
            success(f"Pausing {name!r}: its runner ({got['runner']}) stops dispatching and "
                    f"exits after {got['in_flight']} call(s) in progress finish.")
        else:
            success(f"Campaign {name!r} paused. Continue with: dialcli resume {name}")

    @app.command("restart")
    def restart(
        ctx: typer.Context,
        campaign: CampaignArg = None,
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        no_start: bool = typer.Option(False, "--no-start", help="Reset only; start later."),
        simulate: SimulateOpt = False,
        seed: SeedOpt = 0,
        sim_profile: ProfileOpt = None,
        speed: SpeedOpt = None,
        public_url: PublicUrlOpt = None,
        port: PortOpt = 8765,
        strict: StrictOpt = False,
        blackout: BlackoutOpt = None,
    ) -> None:
        """Restart a campaign from the top: every lead back to PENDING, counters zeroed.

        History (calls, audit) is kept, and opted-out or retired numbers stay retired.
        Then dials, like start (unless --no-start).

        \b
        Example:
          dialcli restart Spring --yes --simulate
        """
        st = state(ctx)
        store = st.store()
        cid = resolve_campaign_id(store, campaign)
        name = store.scalar("SELECT name FROM campaigns WHERE id = ?", (cid,))
        opts = _options(simulate, seed, sim_profile, speed, public_url, port, blackout)
        if not yes:
            leads = store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ?", (cid,))
            if not sys.stdin.isatty() and not yes:
                raise InputError("restart needs confirmation.", hint="Add --yes to confirm.")
            typer.confirm(f"Restart {name!r}: put all {leads} leads back to PENDING and "
                          "dial them again?", abort=True)
        got = lifecycle.restart(store, cid, st.clock.now(), wall_now=st.clock.now())
        success(f"Campaign {name!r} reset for run {got['run']}: "
                + ", ".join(f"{k} {v}" for k, v in sorted(got["leads"].items())))
        if not no_start:
            _drive(ctx, cid, opts, strict=strict)

    @app.command("status")
    def status(
        ctx: typer.Context,
        campaign: Optional[str] = typer.Argument(None, help="Campaign name."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Show a campaign's live snapshot once (KPIs, recent leads, recent calls).

        \b
        Example:
          dialcli status Spring
          dialcli status Spring --json
        """
        st = state(ctx)
        store = st.store()
        cid = resolve_campaign_id(store, campaign)
        snap = lifecycle.snapshot(store, cid, st.clock.now())
        if as_json:
            print_json(_snapshot_json(snap))
            return
        out.print(ui.dashboard(snap))

    @app.command("demo")
    def demo(
        ctx: typer.Context,
        seed: int = typer.Option(7, "--seed", help="Seed of the simulated population."),
        speed: Optional[float] = typer.Option(None, "--speed", metavar="N",
                                              help="Play at N x real time (default 60 on a terminal)."),
        db: Path = typer.Option(Path("dialcli-demo.db"), "--demo-db", metavar="PATH",
                                help="Where to build the demo workspace (recreated)."),
    ) -> None:
        """Run a whole simulated campaign from the examples, live in your terminal.

        Builds ./dialcli-demo.db (recreated each time) with the example agent, number
        and campaign, imports examples/leads.csv, dials it on the simulated network
        and shows the final KPIs. No phone calls are made.

        \b
        Example:
          dialcli demo
        """
        from dialcli.engine.demo import build_demo

        st = state(ctx)
        st.close()
        st.db_option = str(db)
        info = build_demo(db, st.clock.now())
        for line in info["lines"]:
            note(line)
        tty = sys.stdout.isatty()
        opts = RunOptions(simulate=True, seed=seed, speed=speed or (60.0 if tty else None),
                          max_idle=0.3)
        _drive(ctx, info["campaign_id"], opts)
        note("")
        note("Next:")
        note(f"  dialcli --db {db} report          the campaign page: KPIs, leads, cost")
        note(f"  dialcli --db {db} status          the final snapshot")
        note(f"  dialcli --db {db} report --csv -  every lead as CSV")
        note("  Real calls: see README, 'Real calls'.")


def _snapshot_json(s) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(s)

    def fix(v):
        if hasattr(v, "isoformat"):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return fix(data)
