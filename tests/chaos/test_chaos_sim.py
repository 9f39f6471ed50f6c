"""Chaos on the simulated path: the real ``dialcli start --simulate`` SIGKILLed at random.

Each run builds a workspace with a webhook subscription to ``ChaosReceiver`` (drops,
stalls past the 10 s delivery timeout, 500s, 429s, and whole stretches of being
down), then starts the campaign as a user would -- ``python -m dialcli start C
--simulate`` in a subprocess, on the virtual clock at full speed, with the runner's
webhook delivery thread -- and SIGKILLs it at random moments, starting it again each
time (``start`` takes over the dead runner's lease and reconciles its open calls
with the simulated network's journal). After the last kill it runs to completion;
then the receiver calms down and ``dialcli webhooks deliver`` sends what is left.

Everything in ``chaos_invariants`` must hold; the figures line says how much chaos
there was. Quick mode: 1 run (about 15 s); long mode: ``--runslow`` or
``DIALCLI_CHAOS_RUNS=N``.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

import builders
from chaos_common import (
    SECRET, Figures, child_env, deliver_rest, long_mode, output_problems,
    report, spawn, write_leads,
)
from chaos_invariants import check_all, sim_placements
from dialcli.store import Store
from chaos_receiver import ChaosReceiver

RECEIVER_FAULTS = {"drop": 0.03, "stall": 0.002, "500": 0.04, "429": 0.03}


def completed(db: Path) -> bool:
    """A kill can land after the runner marked the campaign completed (while its webhook
    thread drains): then there is nothing left to start, as a user would be told."""
    with Store(db) as st:
        return st.scalar("SELECT status FROM campaigns WHERE name = 'Chaos'") == "COMPLETED"


def run_sim_chaos(tmp: Path, seed: int, *, long: bool) -> tuple[Figures, list[str]]:
    rng = random.Random(seed)
    leads, kills_wanted = (2500, 10) if long else (700, 4)
    fig = Figures("simulator")
    started = time.monotonic()
    receiver = ChaosReceiver(SECRET, seed=seed, faults=RECEIVER_FAULTS,
                             max_stalls=3 if long else 1, stall_at=(rng.randint(5, 60),))
    problems: list[str] = []
    try:
        db = tmp / "chaos.db"
        csv = tmp / "leads.csv"
        write_leads(csv, leads, rng, shared=0.05)
        with builders.workspace(db) as st:
            # Telemarketing over a list where some numbers lack written consent: the
            # consent invariant checks that none of those is ever dialed, kills or not.
            cid = builders.campaign(st, "Chaos", csv=csv, max_attempts=3, retry=30,
                                    max_concurrent=8, cps=10, voicemail="message",
                                    purpose="telemarketing", consent=None)
            builders.consent_mix(st, cid, rng)
            sub = builders.subscribe(st, receiver.url, secret=SECRET)
        env = child_env(tmp)
        base = [sys.executable, "-m", "dialcli", "--db", str(db), "start", "Chaos",
                "--simulate", "--seed", str(seed)]

        def argv() -> list[str]:
            # Half the runs at full speed, half played at a few thousand x real time so
            # that the runner's webhook deliveries interleave with its dials.
            return base + (["--speed", str(rng.choice((1500, 3000, 6000)))]
                           if rng.random() < 0.5 else [])
        timers: list[threading.Timer] = []
        finished = False
        while fig.kills < kills_wanted and not completed(db):
            if receiver.is_up and rng.random() < 0.35:
                receiver.down()                 # the endpoint vanishes for a stretch
                timer = threading.Timer(rng.uniform(0.5, 4.0), receiver.up)
                timer.start()
                timers.append(timer)
            run = spawn(argv(), env, tmp)
            fig.runs += 1
            killed = run.wait_or_kill(rng.uniform(0.45, 2.0))
            problems += output_problems(run, f"run {fig.runs}")
            if killed:
                fig.kills += 1
                continue
            if run.proc.returncode != 0 or "completed" not in run.err:
                problems.append(f"run {fig.runs} exited {run.proc.returncode}: {run.err[-800:]}")
            finished = True
            break
        if not finished and not completed(db):
            run = spawn(argv(), env, tmp)
            fig.runs += 1
            run.wait_or_kill(240)
            problems += output_problems(run, "the last run")
            if run.killed or run.proc.returncode != 0 or "completed" not in run.err:
                problems.append(f"the last run did not complete (exit {run.proc.returncode}): "
                                f"{run.err[-800:]}")
        for timer in timers:
            timer.cancel()
        receiver.up()
        for _ in range(12 if long else 6):      # the leftovers, through the same faults
            problems += deliver_rest(db, env, tmp, once=True)
        receiver.calm()
        problems += deliver_rest(db, env, tmp)
        check = check_all(db, sim_placements(db), campaign_ids=[cid],
                          receiver=receiver, subscription_id=sub.id,
                          kills=fig.kills)
        problems += check.violations
        fig.record(check, receiver)
    finally:
        receiver.close()
    fig.violations = len(problems)
    fig.seconds = time.monotonic() - started
    return fig, problems


def test_simulated_campaign_survives_kills_and_a_misbehaving_webhook_endpoint(
        tmp_path, request, chaos_run):
    seed = 1000 + chaos_run
    fig, problems = run_sim_chaos(tmp_path, seed, long=long_mode(request.config))
    report(request, fig, seed)
    assert fig.kills >= 1, "no kill landed: the run finished too fast to test anything"
    assert not problems, "\n".join(problems[:40])
