"""Shared pieces of the chaos runs: lead files, modes, kills, figures.

Quick mode (the default; runs in CI) does one run per path with a few kills; the
long mode -- ``pytest --runslow tests/chaos`` or ``DIALCLI_CHAOS_RUNS=N`` -- does N
runs (default 10 with --runslow) with more leads and more kills. Each run prints a
figures line (runs, kills, faults injected by kind, calls, events, violations),
collected by ``tests/chaos/conftest.py`` into a "chaos figures" section of the
pytest summary (under xdist too).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import builders
from builders import awake_phone, awake_zone  # noqa: F401  (bench/soak.py imports it from here)
from dialcli.store import Store

FROM = "+14155550100"
SECRET = "whsec_chaos_0123456789abcdefghijklmnop"
GREETING = "Hi {{NAME}}, this is Zara from Acme. Say stop and we will not call again."
REPO = Path(__file__).resolve().parents[2]


def long_mode(config: Any) -> bool:
    return bool(os.environ.get("DIALCLI_CHAOS_RUNS")) or bool(config.getoption("--runslow"))


def runs(config: Any, quick: int = 1, long: int = 10) -> int:
    env = os.environ.get("DIALCLI_CHAOS_RUNS")
    if env:
        return max(1, int(env))
    return long if config.getoption("--runslow") else quick


AREAS = ("212", "646", "718", "917", "347")          # New York: no state call caps


def number(n: int) -> str:
    """The n-th test number (50,000 distinct New York numbers)."""
    return f"+1{AREAS[n // 10000]}555{n % 10000:04d}"


def write_leads(path: Path, count: int, rng: random.Random, *, timezone_name: str | None = None,
                base: int = 0, max_phones: int = 3, shared: float = 0.0,
                awake: bool = False) -> list[list[str]]:
    """A leads CSV: 1..max_phones numbers each; returns the phones.

    Numbers are unique, except that with probability ``shared`` a lead's last phone is
    another lead's first (a household, a switchboard): the same number in two leads.
    ``awake``: numbers (at most 10,000) in a zone where it is the middle of the day now,
    for runs on the real clock (a ``timezone`` column only adds zones to a number's).
    """
    if awake:
        timezone_name = awake_phone(0)[1]
    make = (lambda k: awake_phone(k)[0]) if awake else number
    cols = ["name", "phone1", "phone2", "phone3", "email", "case_number"]
    if timezone_name:
        cols.append("timezone")
    lines = [",".join(cols)]
    n = base
    phones_by_lead = []
    for i in range(count):
        k = min(rng.choice((1, 1, 2, 2, 3)), max_phones)
        phones = [make(n + j) for j in range(k)]
        n += k
        if k > 1 and phones_by_lead and rng.random() < shared:
            phones[-1] = rng.choice(phones_by_lead)[0]
        phones_by_lead.append(phones)
        row = [f"Lead {base + i}", *(phones + [""] * (3 - k)), f"lead{base + i}@example.com",
               f"CASE-{base + i}"]
        if timezone_name:
            row.append(timezone_name)
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return phones_by_lead


def build_workspace(db: Path, csv: Path, *, hook_url: str | None, max_attempts: int = 2,
                    retry_interval: int = 30, max_concurrent: int = 8, cps: float = 10.0,
                    voicemail: str = "message", name: str = "Chaos") -> dict[str, int]:
    """Campaign ``name`` with ``csv`` imported and (optionally) a webhook subscription;
    kept for bench/soak.py, the tests build with ``builders`` directly."""
    with builders.workspace(db) as st:
        cid = builders.campaign(st, name, csv=csv, max_attempts=max_attempts,
                                retry=retry_interval, max_concurrent=max_concurrent, cps=cps,
                                voicemail=voicemail, greeting=GREETING)
        sub = builders.subscribe(st, hook_url, secret=SECRET) if hook_url else None
    return {"campaign_id": cid, "subscription_id": sub.id if sub else 0}


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean environment for runner subprocesses (no real credentials, no LLM)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "DIALCLI_", "OPENAI_"))}
    env.update({"DIALCLI_HOME": str(tmp), "COLUMNS": "120", "PYTHONUNBUFFERED": "1"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"),
                                                      str(REPO / "tests" / "chaos"),
                                                      env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@dataclass
class Run:
    """One runner process: started, maybe killed, its output kept."""

    proc: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    killed: bool = False
    out: str = ""
    err: str = ""

    def wait_or_kill(self, seconds: float) -> bool:
        """Wait up to ``seconds``; SIGKILL if still running. True when killed."""
        try:
            self.out, self.err = self.proc.communicate(timeout=seconds)
            return False
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.out, self.err = self.proc.communicate()
            self.killed = True
            return True


def spawn(argv: list[str], env: dict[str, str], cwd: Path) -> Run:
    return Run(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=str(cwd)))


@dataclass
class Figures:
    mode: str
    runs: int = 0
    kills: int = 0
    faults: Counter = field(default_factory=Counter)
    calls: int = 0
    events: int = 0
    delivered: int = 0
    duplicates: int = 0
    violations: int = 0
    seconds: float = 0.0

    def record(self, check: Any, receiver: Any) -> None:
        """Take a run's outcome: the receiver's faults, the checked calls and events."""
        self.faults.update(receiver.injected)
        if receiver.cut_off:      # not injected: a kill cut a delivery short
            self.faults["webhook requests cut off by a kill"] = receiver.cut_off
        self.faults["runner SIGKILL"] = self.kills
        self.calls = check.figures["calls"]
        self.events = check.figures.get("events", 0)
        self.delivered = check.figures.get("events_accepted", 0)
        self.duplicates = check.figures.get("receiver_duplicates", 0)

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return (f"chaos {self.mode}: runs {self.runs}, kills {self.kills}, faults injected "
                f"{sum(self.faults.values())} ({faults}), calls {self.calls}, webhook events "
                f"{self.events} (accepted {self.delivered}, re-sent {self.duplicates}), "
                f"violations {self.violations}, {self.seconds:.0f} s")


def report(request: Any, fig: Figures, seed: int = 0) -> None:
    """Attach the figures to the test report (summary section) and print them."""
    request.node.user_properties.append(("chaos_figures", {
        "mode": fig.mode, "seed": seed, "line": fig.line(), "runs": fig.runs,
        "kills": fig.kills, "faults": dict(fig.faults), "calls": fig.calls,
        "events": fig.events, "violations": fig.violations}))
    print(fig.line())


def deliver_rest(db: Path, env: dict[str, str], cwd: Path, *, budget_s: float = 90.0,
                 once: bool = False) -> list[str]:
    """After the runs: ``dialcli webhooks deliver`` until the outbox is empty.

    An event a killed runner was sending keeps its delivery lease (timeout + 30 s) so
    that no second deliverer sends it meanwhile; wait for the lease, then deliver.
    Returns problems (a command that failed for another reason than an endpoint).
    """
    from dialcli.clock import from_iso, to_iso, utcnow

    problems = []
    deadline = time.monotonic() + budget_s
    while once or time.monotonic() < deadline:
        with Store(db) as st:
            left = st.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL "
                             "AND dead_at IS NULL")
            lease = st.scalar("SELECT MIN(lease_until) FROM outbox WHERE delivered_at IS NULL "
                              "AND dead_at IS NULL AND lease_until > ?", (to_iso(utcnow()),))
        if not left:
            return problems
        if lease and not once:
            time.sleep(max(0.0, min((from_iso(lease) - utcnow()).total_seconds() + 0.2,
                                    deadline - time.monotonic())))
        done = subprocess.run([sys.executable, "-m", "dialcli", "--db", str(db), "webhooks",
                               "deliver"], capture_output=True, text=True, env=env,
                              cwd=str(cwd), timeout=120)
        if done.returncode not in (0, 1) or "Traceback" in done.stderr \
                or "database is locked" in done.stderr:
            problems.append(f"webhooks deliver exited {done.returncode}: {done.stderr[-500:]}")
        if once:
            return problems
    problems.append("webhook outbox not empty after the final deliveries")
    return problems


def output_problems(run: Run, what: str) -> list[str]:
    """Tracebacks and lock errors must never reach the user."""
    text = run.out + run.err
    found = []
    for needle in ("Traceback", "database is locked", "OperationalError"):
        if needle in text:
            found.append(f"{what}: {needle!r} in its output: {text[-800:]}")
    return found


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
