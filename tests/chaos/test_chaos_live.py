"""Chaos on the live path: a real runner process against the fake Twilio, SIGKILLed.

The runner is ``chaos_live_worker.py`` -- ``dialcli start`` with the live provider,
its callback server on a fixed port, the rule brain, the engine and the webhook
delivery thread, with shortened waiting times (see the worker) -- in a subprocess.
The fake Twilio (``tests/fakes/fake_twilio.py``) runs in this process and drives the
runner's server through a fake tunnel with signed callbacks, TwiML fetches and
ConversationRelay WebSockets. Faults:

- callbacks: per number, some are dropped (-> the engine polls), duplicated, or
  delayed so they arrive late and out of order; the tunnel disappears for stretches
  (nothing reaches the laptop: no callbacks, no TwiML, no relay);
- REST, in the fake: 20429 rate limits, 500s, and 500s for calls that *were* created;
- REST, on the wire (``ChaosProxy``): connections reset before the request arrives,
  responses lost after a call was created, responses that never come (timeouts), and
  Twilio unreachable for stretches;
- the runner is SIGKILLed at random moments and started again (it reconciles the calls
  the dead runner left open with Twilio before dialing anything new);
- the webhook endpoint misbehaves as in the simulator runs.

Afterwards every invariant in ``chaos_invariants`` must hold against the fake's own
record of created calls. Quick mode: 1 run; long mode: ``--runslow`` or
``DIALCLI_CHAOS_RUNS=N``.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import builders
from chaos_common import (
    SECRET, Figures, child_env, deliver_rest, free_port, long_mode,
    output_problems, report, spawn, write_leads,
)
from chaos_invariants import check_all, fake_placements
from chaos_proxy import ChaosProxy
from chaos_receiver import ChaosReceiver
from dialcli.store import settings
from dialcli.clock import to_iso
from dialcli.compliance.policy import MAX_CAP
from dialcli.store import Store
from fakes.fake_twilio import FakeTwilio, Scenario, dtmf, hangup, say

WORKER = str(Path(__file__).parent / "chaos_live_worker.py")
PUBLIC = "https://chaos-runner.tunnel.example"

PEOPLE = (
    [say("Hello?"), say("Yes, I'm interested, tell me more")],
    [say("Who is this?"), say("No thanks, I'm not interested")],
    [say("Hello?"), say("Please remove me from your list")],
    [say("Yes?"), dtmf("9")],
    [say("Hello?"), say("Sorry, you have the wrong number")],
    [say("Hello?"), hangup()],
    [say("Hi"), say("OK, bye then")],
)
CALLBACK_EVENTS = ("initiated", "ringing", "in-progress", "final", "amd")
PROXY_FAULTS = {"create": {"reset": 0.03, "lost-response": 0.04, "stall": 0.02},
                "fetch": {"reset": 0.03, "lost-response": 0.02, "stall": 0.01},
                "list": {"reset": 0.03, "stall": 0.01},
                "update": {"reset": 0.03, "lost-response": 0.03}}
RECEIVER_FAULTS = {"drop": 0.03, "500": 0.04, "429": 0.03}


def scenario(rng: random.Random) -> Scenario:
    """What happens on one number, with its callback faults."""
    x = rng.random()
    if x < 0.55:
        kw: dict = {"lines": list(rng.choice(PEOPLE))}
    elif x < 0.7:
        kw = {"answer": "machine", "amd_two_step": rng.random() < 0.3}
    else:
        kw = {"answer": rng.choice(("no-answer", "busy", "failed"))}
    faults = rng.random()
    if faults < 0.15:
        kw["drop"] = frozenset(rng.sample(CALLBACK_EVENTS, rng.randint(1, 3)))
    elif faults < 0.3:
        kw["duplicate"] = frozenset(rng.sample(CALLBACK_EVENTS, rng.randint(1, 3)))
    elif faults < 0.45:
        kw["delay"] = {e: rng.uniform(0.1, 0.8) for e in rng.sample(CALLBACK_EVENTS, 2)}
    return Scenario(**kw)


def _status(db: Path) -> str:
    with Store(db) as st:
        return st.scalar("SELECT status FROM campaigns WHERE name = 'Chaos'")


def run_live_chaos(tmp: Path, seed: int, *, long: bool) -> tuple[Figures, list[str]]:
    rng = random.Random(seed)
    leads, kills_wanted = (160, 8) if long else (36, 3)
    fig = Figures("live (fake Twilio)")
    started = time.monotonic()
    problems: list[str] = []
    port = free_port()
    fake = FakeTwilio(tunnel={PUBLIC: f"http://127.0.0.1:{port}"}, seed=seed).start()
    proxy = ChaosProxy(fake.base_url, seed=seed, faults=PROXY_FAULTS, stall_s=2.5)
    # A stall costs the delivery round its 10 s timeout: only in the long mode.
    receiver = ChaosReceiver(SECRET, seed=seed, faults=RECEIVER_FAULTS,
                             stall_at=(rng.randint(5, 40),) if long else ())
    timers: list[threading.Timer] = []
    try:
        db = tmp / "live.db"
        csv = tmp / "leads.csv"
        phones = write_leads(csv, leads, rng, awake=True, max_phones=2,
                             shared=0.05)
        with builders.workspace(db) as st:
            cid = builders.campaign(st, "Chaos", csv=csv, max_attempts=2, retry=1,
                                    max_concurrent=6, cps=20, voicemail="message")
            sub = builders.subscribe(st, receiver.url, secret=SECRET)
        with Store(db) as st, st.tx():
            # Real time: the second pass opens at once instead of a minute later.
            st.execute("UPDATE campaigns SET retry_interval_minutes = 0")
        # A shared number is dialed by two leads in two passes: four dials within the
        # hour would meet the default cap of 3 per 24 h and (rightly) wait for tomorrow.
        # The simulator runs keep the default cap; its virtual clock gets to tomorrow.
        with Store(db) as st:
            settings.set_value(st, "dial_cap_per_24h", str(MAX_CAP), now_iso=to_iso(datetime.now(timezone.utc)))
        callback_faults = 0
        for number in sorted({n for numbers in phones for n in numbers}):
            sc = scenario(rng)
            callback_faults += bool(sc.drop or sc.duplicate or sc.delay)
            fake.script(number, sc)
        for _ in range(2 if long else 1):
            fake.fail_creates(20429, times=rng.randint(1, 3))
            fake.fail_creates(500, times=1)
            fake.fail_creates(500, times=1, created=True)
        planned = {id(f): f["times"] for f in fake._faults}
        env = child_env(tmp, TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
                        TWILIO_API_BASE=proxy.url)
        argv = [sys.executable, WORKER, str(db), "Chaos", PUBLIC, str(port)]

        def stretch(down, up, lo: float, hi: float) -> None:
            down()
            timer = threading.Timer(rng.uniform(lo, hi), up)
            timer.start()
            timers.append(timer)

        provider_exits = 0
        while _status(db) != "COMPLETED":
            final = fig.kills >= kills_wanted
            if not final:
                if not fake.tunnel_is_down and rng.random() < 0.4:
                    stretch(fake.tunnel_down, fake.tunnel_up, 0.5, 3.0)
                    fig.faults["tunnel down"] += 1
                if rng.random() < 0.25:
                    stretch(proxy.down, proxy.up, 0.3, 2.0)
            run = spawn(argv, env, tmp)
            fig.runs += 1
            killed = run.wait_or_kill(180 if final else rng.uniform(1.2, 4.5))
            problems += output_problems(run, f"run {fig.runs}")
            if killed:
                if final:
                    problems.append(f"the last run did not finish: {run.err[-800:]}")
                    break
                fig.kills += 1
                continue
            if run.proc.returncode == 3 and provider_exits < 10:
                provider_exits += 1     # Twilio unreachable at start-up: a user retries
                fig.faults["runner exit 3 (Twilio unreachable)"] += 1
                continue
            if run.proc.returncode != 0:
                problems.append(f"run {fig.runs} exited {run.proc.returncode}: {run.err[-800:]}")
                break
        for timer in timers:
            timer.cancel()
        fake.tunnel_up()
        proxy.calm()
        if not fake.wait_idle(30):
            problems.append("the fake still has calls in progress after the campaign")
        receiver.up()
        for _ in range(4 if long else 2):
            problems += deliver_rest(db, env, tmp, once=True)
        receiver.calm()
        problems += deliver_rest(db, env, tmp)
        check = check_all(db, fake_placements(fake), campaign_ids=[cid],
                          receiver=receiver, subscription_id=sub.id,
                          provider="twilio")
        problems += check.violations
        fig.record(check, receiver)
        fig.faults.update(proxy.injected)
        for f in fake._faults:       # each counts down as it fires
            fig.faults[f"create {f['code']}" + (" (call created)" if f["created"] else "")] += \
                planned[id(f)] - f["times"]
        fig.faults["callback faults (numbers)"] = callback_faults
    finally:
        for timer in timers:
            timer.cancel()
        receiver.close()
        proxy.close()
        fake.stop()
    fig.violations = len(problems)
    fig.seconds = time.monotonic() - started
    return fig, problems


def test_live_campaign_survives_kills_and_network_faults(tmp_path, request, chaos_run):
    seed = 2000 + chaos_run
    fig, problems = run_live_chaos(tmp_path, seed, long=long_mode(request.config))
    report(request, fig, seed)
    assert fig.kills >= 1
    assert not problems, "\n".join(problems[:40])
