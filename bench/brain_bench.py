"""Benchmark the agent brains.

* ``intents.read`` per caller utterance and a whole ``RuleSession`` conversation per
  simulated call (the simulator runs one for every human answer, so a 100,000-lead
  rehearsal runs tens of thousands of them);
* ``parse_callback_time`` per phrase;
* the LLM brain's own overhead per turn against the fake OpenAI server on 127.0.0.1
  (time to first chunk and to the end of a 20-token reply with no server delay),
  i.e. what dialcli adds on top of the model's latency.

Usage: ``python bench/brain_bench.py [--calls N] [--llm-turns N]``
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dialcli.conversation.base import CallContext, collect  # noqa: E402
from dialcli.conversation.callback_time import parse_callback_time  # noqa: E402
from dialcli.conversation.intents import read  # noqa: E402
from dialcli.conversation.llm import LLMBrain  # noqa: E402
from dialcli.conversation.rules import EXAMPLE_CALLER_LINES, RuleBrain  # noqa: E402
from dialcli.models import VoicemailAction  # noqa: E402

CTX = CallContext(
    call_id=1, campaign="bench", agent="Zara", to="+14155550101", from_="+14155550199",
    greeting="Hi Maria, this is Zara from Acme Solar. I'm calling about your solar quote. "
             "Do you have a minute?",
    system_prompt="You are Zara from Acme Solar.", voicemail_message="",
    voicemail_action=VoicemailAction.HANGUP, lead_name="Maria Lopez",
    recipient_tz="America/New_York",
)


def _scripts() -> list[list[str]]:
    try:
        from dialcli.providers.simulator import SCRIPTS
    except ImportError:
        return [[line] for lines in EXAMPLE_CALLER_LINES.values() for line in lines]
    return [list(c) for turns in SCRIPTS.values() for c in itertools.product(*turns)]


def bench_rules(calls: int) -> None:
    lines = [line for ls in EXAMPLE_CALLER_LINES.values() for line in ls]
    t0 = time.perf_counter()
    n = 0
    while n < 20_000:
        for line in lines:
            read(line, "maria")
            n += 1
    per_read = (time.perf_counter() - t0) / n
    scripts = _scripts()
    brain = RuleBrain()
    t0 = time.perf_counter()
    turns = 0
    for i in range(calls):
        session = brain.open(CTX)
        session.opening()
        for line in scripts[i % len(scripts)]:
            turns += 1
            if collect(session.respond(line))[1] is not None:
                break
    elapsed = time.perf_counter() - t0
    print(f"intents.read:        {per_read * 1e6:8.1f} us per utterance")
    print(f"RuleSession calls:   {calls / elapsed:8.0f} calls/s "
          f"({elapsed / turns * 1e6:.1f} us per turn, {turns / calls:.1f} turns per call)")


def bench_callback_time() -> None:
    phrases = ["call me back tomorrow at 3", "I'm busy, try next Tuesday morning",
               "can you call in two hours", "Friday", "at 5:30", "next week",
               "Dec 3 at 10am", "2026-03-04T15:00:00-05:00", "no idea"]
    now = datetime(2026, 3, 3, 15, tzinfo=timezone.utc)
    t0 = time.perf_counter()
    n = 0
    while n < 20_000:
        for p in phrases:
            parse_callback_time(p, now + timedelta(minutes=n), "America/New_York")
            n += 1
    print(f"parse_callback_time: {(time.perf_counter() - t0) / n * 1e6:8.1f} us per phrase")


def bench_llm(turns: int) -> None:
    from fakes.fake_llm import FakeLLM, reply

    tokens = [f" word{i}" for i in range(20)]
    with FakeLLM(default=reply(*tokens)) as server:
        brain = LLMBrain(server.settings())
        first, total = [], []
        try:
            for _ in range(turns):
                session = brain.open(CTX)
                session.opening()
                t0 = time.perf_counter()
                got_first = None
                for _chunk in session.respond("Tell me more"):
                    got_first = got_first or time.perf_counter()
                first.append(got_first - t0)
                total.append(time.perf_counter() - t0)
        finally:
            brain.close()
    q = statistics.quantiles
    print(f"LLM turn overhead:   first chunk p50 {statistics.median(first) * 1e3:.2f} ms, "
          f"p95 {q(first, n=20)[18] * 1e3:.2f} ms; whole 20-token reply p50 "
          f"{statistics.median(total) * 1e3:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--llm-turns", type=int, default=300)
    args = ap.parse_args()
    bench_rules(args.calls)
    bench_callback_time()
    bench_llm(args.llm_turns)


if __name__ == "__main__":
    main()
