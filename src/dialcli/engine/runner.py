"""Wiring a run: provider, brain and clock for ``start``/``resume``/``restart``/``demo``.

The engine runs in a worker thread so the terminal's main thread only handles the
dashboard and Ctrl-C; a KeyboardInterrupt therefore never lands in the middle of a
claim or an outcome. First Ctrl-C: pause (calls in progress finish and are recorded);
second: stop waiting (open calls are reconciled on the next start).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from dialcli.clock import Clock, ScaledClock, SystemClock, VirtualClock, from_iso
from dialcli.compliance.rules import load_blackout
from dialcli.config import LLMSettings, TwilioCredentials, public_url
from dialcli.conversation.llm import make_brain as llm_make_brain
from dialcli.engine.loop import Engine, RunResult
from dialcli.errors import ConfigError
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from dialcli.store import Store, health, settings


@dataclass
class RunOptions:
    simulate: bool = False
    seed: int = 0
    sim_profile: str | None = None
    speed: float | None = None           # None: as fast as possible (simulation only)
    max_idle: float | None = 1.0         # real seconds per idle gap when watching
    public_url: str | None = None
    port: int = 8765
    host: str = "127.0.0.1"
    blackout: str | None = None          # --blackout FILE (else the workspace setting)


def make_brain():
    """The LLM brain when one is configured in the environment, else the rule brain."""
    return llm_make_brain(LLMSettings.from_env())


def simulated_start(store: Store, campaign_id: int, wall_now: datetime) -> datetime:
    """Virtual time continues where this campaign's simulation left off (never backwards)."""
    latest = store.scalar(
        "SELECT MAX(MAX(COALESCE(ended_at, ''), claimed_at)) FROM calls WHERE campaign_id = ?",
        (campaign_id,))
    start = wall_now
    for text in (latest,):
        when = from_iso(text) if text else None
        if when is not None and when > start:
            start = when
    return start


def journal_path(store: Store) -> str | None:
    return None if store.path == ":memory:" else store.path + "-simnet.jsonl"


def build(store: Store, campaign_id: int, opts: RunOptions, *, wall: SystemClock,
          on_event: Callable[[dict[str, Any]], None] | None = None) -> Engine:
    # A damaged file is refused before the campaign is marked RUNNING or anything dialed.
    store.quick_check()
    if opts.simulate:
        profile = SimProfile.load(opts.sim_profile) if opts.sim_profile else SimProfile.default()
        provider = SimulatedProvider(make_brain(), seed=opts.seed, profile=profile,
                                     journal_path=journal_path(store))
        start = simulated_start(store, campaign_id, wall.now())
        clock: Clock = (ScaledClock(start, opts.speed, max_idle=opts.max_idle)
                      if opts.speed else VirtualClock(start))
    else:
        provider = _live_provider(store, opts)
        clock = wall
    blackout = None
    if opts.blackout:
        blackout = load_blackout(opts.blackout)
    return Engine(store, campaign_id, provider, clock, wall=wall, on_event=on_event,
                  blackout=blackout)


def _live_provider(store: Store, opts: RunOptions):
    creds = TwilioCredentials.from_env()
    url = public_url(opts.public_url)
    if not url:
        raise ConfigError(
            "Live calls need a public URL that reaches this laptop (for Twilio's callbacks).",
            hint="Start a tunnel (e.g. `cloudflared tunnel --url http://localhost:8765`) and pass "
                 "--public-url https://<your-tunnel> or set DIALCLI_PUBLIC_URL.\n"
                 "To rehearse without Twilio, add --simulate.")
    # lazy: the twilio library and the callback server load only for live calls
    from dialcli.providers.twilio.provider import TwilioProvider

    return TwilioProvider(creds, public_url=url, port=opts.port, host=opts.host,
                          brain=make_brain(), store_path=store.path,
                          greet_silence_s=settings.get(store, settings.GREET_AFTER_SILENCE))


@dataclass
class RunHandle:
    engine: Engine
    thread: threading.Thread
    result: RunResult | None = None
    error: BaseException | None = None
    interrupted: bool = field(default=False)
    # Set when the worker is finished. The main thread waits on this, not on
    # Thread.join: a Ctrl-C landing inside join() can leave is_alive() wrongly False.
    done: threading.Event = field(default_factory=threading.Event)
    #: Why the runner stopped itself (its workspace file or WAL replaced under it).
    stopped_because: str | None = None

#: How often a runner checks that its workspace file and WAL are still the ones it opened.
IDENTITY_EVERY_S = 1.0


def start_thread(engine: Engine, *, webhooks: bool = False) -> RunHandle:
    """Run the engine in a worker thread; with ``webhooks`` also deliver the outbox
    (in real time, on its own connection) while it runs, and drain briefly after."""
    # Before any thread: a frozen runner of this campaign is refused at once, and
    # nothing here waits for the write lock it may hold.
    engine.lease.refuse_if_frozen()
    handle = RunHandle(engine, threading.Thread())

    def target() -> None:
        stop = threading.Event()
        delivery = None
        if webhooks:
            # lazy: httpx loads only when there are webhooks to deliver
            from dialcli.results.delivery import Deliverer

            delivery = Deliverer(engine.store, clock=engine.wall, rng=random.Random())
            delivery_thread = delivery.run_in_thread(stop)
        watch = threading.Thread(target=_watch_identity, args=(engine, handle),
                                 name="dialcli-identity", daemon=True)
        watch.start()
        try:
            handle.result = engine.run()
        except sqlite3.DatabaseError as exc:
            # A full disk (or another fault of the file) mid-run: the transaction it hit
            # rolled back; mark the campaign PAUSED so `resume` continues (open calls are
            # reconciled then), and say so instead of a traceback.
            handle.error = _paused_by_fault(engine, exc)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            handle.error = exc
        finally:
            try:
                if delivery is not None:
                    stop.set()
                    delivery_thread.join(timeout=10)
                    delivery.close()
            finally:
                handle.done.set()

    handle.thread = threading.Thread(target=target, name="dialcli-engine", daemon=True)
    handle.thread.start()
    return handle


def _watch_identity(engine: Engine, handle: RunHandle) -> None:
    """Stop the run if its workspace file or WAL is deleted or replaced: every write
    after that would go to a file no other dialcli command will ever read."""
    identity = health.FileIdentity(engine.store.path)
    while not handle.done.wait(IDENTITY_EVERY_S):
        why = identity.changed()
        if why:
            handle.stopped_because = why
            engine.abort()
            return


def _paused_by_fault(engine: Engine, exc: sqlite3.DatabaseError) -> Exception:
    """Best effort: the campaign PAUSED and its lease released; the error to show."""
    store = engine.store
    campaign = engine.campaign
    error = health.describe(exc, store.path)
    paused = False
    for _attempt in range(3):
        try:
            if store.conn.in_transaction:
                store.conn.execute("ROLLBACK")
            with store.tx():
                store.execute(
                    "UPDATE campaigns SET status = 'PAUSED', pause_reason = ?, lease_owner = "
                    "NULL, lease_pid = NULL, lease_host = NULL, heartbeat_at = NULL WHERE id = ? "
                    "AND status = 'RUNNING'", (error.message, campaign.id))
            paused = True
            break
        except sqlite3.DatabaseError:
            try:
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # frees WAL space
            except sqlite3.DatabaseError:
                pass
    open_calls = len(engine.in_flight)
    state = ("was paused" if paused else "stopped (it still shows RUNNING; its lease expires "
             "in 20 s)")
    error.message = (f"Campaign {campaign.name!r} {state}: {error.message} "
                     + (f"{open_calls} call(s) in progress are settled with the provider when "
                        "it resumes." if open_calls else ""))
    error.hint = (error.hint or "") + f"\nThen continue with: dialcli resume {campaign.name}"
    return error


@contextmanager
def pause_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal, ``kill``, a service manager) pause like
    Ctrl-C: they raise ``KeyboardInterrupt`` in the main thread, so the calls in progress
    finish and are recorded; a second one stops waiting. Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    wanted = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
              if s is not None]
    # A signal the user chose to ignore stays ignored (`nohup dialcli start ...`).
    previous = {s: signal.signal(s, interrupt) for s in wanted
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def demo_paths() -> Path:
    """Where the example agent, prompt and leads live (shipped inside the package)."""
    return Path(__file__).parent.parent / "data" / "examples"
