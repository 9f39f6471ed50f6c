"""Commands: ``dialcli start``, ``resume`` and ``restart`` -- the dialing loop.

The three dial the same way and take the same options, declared once in ``RunFlags``;
``@dials`` adds them to a command after its own and hands them over as ``run``.
Before the first dial each warns the same way: the disclosure check, then the consent
gate off, stale registry data or leads the gate will skip
(``engine.doctor.start_warnings``). ``drive`` runs the engine in a worker thread and keeps this one for the live
dashboard and Ctrl-C (``demo`` drives its campaign with it too).
"""

from __future__ import annotations

import functools
import inspect
import shlex
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, get_type_hints

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape

from dialcli import formats
from dialcli.cli import logs, progress, ui
from dialcli.cli.common import result as add_result
from dialcli.cli.common import (YES, bounded, confirm, err, note, out, resolve_campaign_id,
                                state, success)
from dialcli.compliance import recording
from dialcli.compliance.disclosure import check_agent, enforce
from dialcli.engine import doctor, lifecycle, runner
from dialcli.engine.runner import RunOptions
from dialcli.errors import ConflictError, ExitCode, InputError, ProviderError
from dialcli.store.health import StoreError
from dialcli.models import CampaignStatus
from dialcli.store import Store

app = typer.Typer()

CampaignArg = Annotated[Optional[str], typer.Argument(
    help="Campaign name (optional when the workspace has one).")]


@dataclass
class RunFlags:
    """The options of every command that dials (start, resume, restart)."""

    simulate: Annotated[bool, typer.Option(
        "--simulate",
        help="Dial the built-in simulated phone network instead of Twilio (no phone bill).",
    )] = False
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed for a reproducible simulated run.")] = 0
    sim_profile: Annotated[Optional[Path], typer.Option(
        "--sim-profile", metavar="FILE",
        help="Simulated population and pinned scripts (TOML).")] = None
    speed: Annotated[Optional[float], typer.Option(
        "--speed", metavar="N", help="Play a simulated run at N x real time (0.01-100000).",
        callback=bounded(0.01, 100_000))] = None
    public_url: Annotated[Optional[str], typer.Option(
        "--public-url", metavar="URL", help="Your tunnel's https URL (live calls).")] = None
    port: Annotated[int, typer.Option(
        "--port", help="Local port of the callback server.", min=1, max=65535)] = 8765
    strict: Annotated[bool, typer.Option(
        "--strict", help="Refuse to dial if the agent fails the disclosure check.")] = False
    blackout: Annotated[Optional[Path], typer.Option(
        "--blackout", metavar="FILE",
        help="Extra no-call dates (default: the blackout_file setting).")] = None

    def options(self) -> RunOptions:
        """The engine's options, once the combination is known to make sense."""
        if self.speed is not None and self.speed <= 0:
            raise InputError("--speed must be a positive number, e.g. --speed 60.")
        if (self.sim_profile or self.speed) and not self.simulate:
            raise InputError("--sim-profile and --speed only apply to simulated runs.",
                             hint="Add --simulate.")
        return RunOptions(simulate=self.simulate, seed=self.seed,
                          sim_profile=str(self.sim_profile) if self.sim_profile else None,
                          speed=self.speed, public_url=self.public_url, port=self.port,
                          blackout=str(self.blackout) if self.blackout else None)


def dials(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the ``RunFlags`` options, after its own, as one ``run`` argument.

    Typer reads a command's options from its signature, so the wrapper's signature is
    the command's own parameters (without ``run``) followed by one per flag.
    """
    own = inspect.signature(command, eval_str=True)
    hints = get_type_hints(RunFlags, include_extras=True)
    flags = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                               annotation=hints[f.name]) for f in fields(RunFlags)]
    params = [p for p in own.parameters.values() if p.name != "run"] + flags

    @functools.wraps(command)
    def with_flags(**kwargs: Any) -> None:
        run = RunFlags(**{f.name: kwargs.pop(f.name) for f in fields(RunFlags)})
        command(run=run, **kwargs)

    with_flags.__signature__ = own.replace(parameters=params)    # type: ignore[attr-defined]
    with_flags.__annotations__ = {p.name: p.annotation for p in params}
    return with_flags


@app.command("start")
@dials
def start(ctx: typer.Context, run: RunFlags, campaign: CampaignArg = None) -> None:
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
    drive(ctx, cid, run.options(), strict=run.strict)


@app.command("resume")
@dials
def resume(ctx: typer.Context, run: RunFlags, campaign: CampaignArg = None) -> None:
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
    drive(ctx, cid, run.options(), strict=run.strict)


@app.command("restart")
@dials
def restart(
    ctx: typer.Context,
    run: RunFlags,
    campaign: CampaignArg = None,
    yes: bool = YES,
    no_start: bool = typer.Option(False, "--no-start", help="Reset only; start later."),
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
    opts = run.options()
    store.quick_check()      # a damaged workspace is refused before the reset is written
    if not yes:
        leads = store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ?", (cid,))
        confirm(f"Restart {name!r}: put all {formats.count(leads)} leads back to PENDING and dial them "
                "again?", yes=yes, action="Restarting a campaign")
    got = lifecycle.restart(store, cid, st.clock.now(), wall_now=st.clock.now())
    success(f"Campaign {name!r} reset for run {got['run']}: "
            + ", ".join(f"{k} {formats.count(v)}" for k, v in sorted(got["leads"].items())))
    if no_start:
        note(f"Start it with: dialcli resume {shlex.quote(name)}")
    else:
        drive(ctx, cid, opts, strict=run.strict)


def drive(ctx: typer.Context, campaign_id: int, opts: RunOptions, *,
          live_view: bool | None = None, quiet: bool = False, strict: bool = False) -> Any:
    """Run the loop in a worker thread; dashboard + Ctrl-C in this one. Returns the result."""
    st = state(ctx)
    store = st.store()
    tty = sys.stdout.isatty() if live_view is None else live_view
    tty = tty and not logs.SETTINGS.json                          # --json: stdout is the document
    if tty and opts.simulate and opts.speed is None:
        opts.speed = 30.0   # watchable: 30x real time, long waits compressed
    quiet = quiet or logs.SETTINGS.quiet or logs.SETTINGS.json   # -q, --json: no per-lead lines
    log = None if (tty or quiet) else _log
    _check_disclosure(store, campaign_id, strict)
    for warning in doctor.start_warnings(store, campaign_id, st.clock.now()):
        err.print(f"[yellow]Warning:[/yellow] {escape(warning)}", highlight=False)
    engine = runner.build(store, campaign_id, opts, wall=st.clock, on_event=log)
    handle = runner.start_thread(engine, webhooks=True)
    # The pass's bar with its ETA: in the dashboard, or alone on stderr when stdout is
    # piped and a person watches stderr (never into a pipe or a log).
    bar = progress.PassBar(store.path, campaign_id, engine.campaign.max_attempts) \
        if (tty and not os.environ.get("DIALCLI_NO_PROGRESS")) or progress.enabled() else None
    if tty:
        # The page fits the terminal's height, the pass bar's line below it included.
        live = Live(get_renderable=lambda: Group(
                        ui.dashboard(engine.snapshot(), console=out,
                                     height=out.size.height - (1 if bar else 0)), bar or ""),
                    console=out, refresh_per_second=8, transient=False)
    elif bar is not None:
        # stdout is the log (a file, a pipe): Live must not take it over.
        live = Live(bar, console=err, refresh_per_second=4, transient=True,
                    redirect_stdout=False, redirect_stderr=False)
    else:
        live = None

    def wait() -> None:
        while not handle.done.wait(0.1):
            pass

    if live:
        live.start()
    try:
        with runner.pause_on_signals():
            _wait_or_pause(engine, handle, wait)
    finally:
        if live:
            if bar is not None:
                bar.last_read()
            live.refresh()
            live.stop()
        if bar is not None:
            bar.close()
    if handle.stopped_because:
        raise StoreError(f"Stopped: {handle.stopped_because} while the campaign ran "
                         f"({store.path}); nothing more was written.",
                         hint="Put the workspace file back (or restore a backup) and run "
                              f"`dialcli resume {shlex.quote(engine.campaign.name)}`: calls "
                              "left open are settled with the provider first.")
    if handle.error is not None:
        raise handle.error
    result = handle.result
    assert result is not None
    snap = engine.snapshot()
    if not tty and not quiet:
        out.print(ui.disposition_line(snap))
    resume_cmd = f"dialcli resume {shlex.quote(snap.campaign)}"
    # lazy: status's module (the snapshot's JSON shape) only once a run has ended
    from dialcli.cli.status import snapshot_json

    add_result(outcome=result.outcome, calls_this_session=result.calls,
               snapshot=snapshot_json(snap))
    if result.outcome == "completed":
        success(f"Campaign {snap.campaign!r} completed: {formats.count(snap.calls_made)} calls, "
                f"{formats.count(snap.reached)} reached, {formats.count(snap.interested)} interested, "
                f"{formats.count(snap.opted_out)} opted out, {formats.count(snap.minutes)} min, "
                f"{formats.money(snap.cost)}.")
    elif result.outcome == "lease_lost":
        raise ConflictError(f"Stopped: {result.message}.")
    elif result.provider_pause:
        # The provider refused dials (trial account, from-number not usable...).
        raise ProviderError(f"Campaign {snap.campaign!r} paused: {result.provider_pause}",
                            hint=f"Fix that, then continue with: {resume_cmd}")
    else:
        why = f" ({result.message})" if result.message else ""
        note(f"Campaign {snap.campaign!r} paused{why} after {formats.count(result.calls)} call(s) this "
             f"session. Continue with: {resume_cmd}")
    if handle.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    return result


def _wait_or_pause(engine: Any, handle: Any, wait: Callable[[], None]) -> None:
    """Wait for the run; Ctrl-C (or SIGTERM/SIGHUP) pauses it, a second one quits."""
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


def _log(item: dict[str, Any]) -> None:
    """Plain log lines when stdout is not a terminal: one per lead change, pass, and
    stretch with nothing to dial (until when, and why)."""
    if item.get("type") == "call":
        return
    sys.stdout.write(ui.log_line(item) + "\n")
    sys.stdout.flush()


def _check_disclosure(store: Store, campaign_id: int, strict: bool) -> None:
    """Warn (or with --strict refuse) when the agent does not identify itself / offer opt-out."""
    row = store.one("SELECT a.greeting, a.system_prompt, c.record FROM campaigns c JOIN agents a "
                    "ON a.id = c.agent_id WHERE c.id = ?", (campaign_id,))
    # A recorded campaign whose numbers need all-party consent is refused without the
    # notice (RecordingNoticeError, exit 2); elsewhere the missing notice is a warning.
    recording.check_campaign(store.conn, campaign_id, record=bool(row[2]), greeting=row[0])
    for warning in enforce(check_agent(row[0], row[1], record=bool(row[2])), strict=strict):
        # The message quotes the user's greeting: never read it as markup.
        err.print(f"[yellow]Warning:[/yellow] {escape(warning.message)}", highlight=False)
        err.print(f"  {warning.hint}", markup=False, highlight=False)
