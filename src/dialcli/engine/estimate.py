"""``plan``'s estimate: calls, billed minutes, cost, reached and finish time, before
the first call -- in seconds at a million leads.

**Small campaigns** (up to ``FULL_UP_TO`` leads still to dial) are played whole: the
engine runs the campaign on a *copy* of the workspace (sqlite3 backup API) on a
virtual clock with the simulator, so retry passes, closed windows, caps and callbacks
are played out; the workspace itself is never written.

**Large campaigns** are estimated from a sample of about ``SAMPLE_LEADS`` leads,
each lead still to dial taken with the same chance (a hash of its id and the seed
under the sampling fraction: one pass over the leads, no sort -- a sort of a million
leads by stratum cost eight seconds), post-stratified by status. A
new workspace is built holding only those leads (their phones, consent and opt-out
records, call history for the frequency cap; the schema copied from the workspace),
and the engine plays it with the rates of the whole campaign scaled to the sample:

- the dial rate (``cps``) times the sampling fraction ``f``;
- the lines (``max_concurrent``) as a fluid budget: a sampled call of ``d`` seconds
  stands for ``1/f`` calls each holding a line for ``d``, so the next sampled dial
  waits ``d / (f x max_concurrent)`` -- the whole campaign's line-bound pace.

So a pass takes the virtual time it would take whole, windows close on the sample
where they would close on the campaign, and the finish time carries over. The
simulator draws each attempt's outcome from the seed and the attempt's key (campaign,
run, lead, phone, pass, kind): a sampled lead has exactly the calls it would have in a
full rehearsal. Totals are scaled per stratum (``N_h / n_h``) and each comes with a
95% interval from the within-stratum variance of the per-lead figures (finite
population corrected). The finish time's interval runs from the sample's last call
to the latest it could be if the leads not sampled carry on like the slowest sampled
one did after its stratum's last sampled dial (see ``_finish_interval``).

Accuracy and speed are measured by ``bench/plan_bench.py`` against the full
simulation at 100,000 leads.
"""

from __future__ import annotations

import math
import random
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dialcli.clock import Clock, VirtualClock, cpu_seconds, from_iso, to_iso
from dialcli.compliance.rules import Blackout
from dialcli.conversation.rules import RuleBrain
from dialcli.engine.loop import Engine
from dialcli.engine.types import Timing
from dialcli.errors import InputError
from dialcli.providers.base import DialRequest
from dialcli.providers.simulator import SimulatedProvider
from dialcli.store import Store

#: A rehearsal stops after this much virtual time, whatever is left (a stuck lead
#: must not make ``plan`` run forever).
HORIZON = timedelta(days=60)
#: Up to this many leads to dial, the whole campaign is simulated.
FULL_UP_TO = 3000
#: Above it, a random sample of about this many leads (post-stratified by status).
SAMPLE_LEADS = 2000
#: Interval: about 95% (normal approximation).
Z95 = 1.96
OPEN_STATUSES = ("PENDING", "RETRY", "CALLBACK", "DIALING")
#: Reached: the calls whose disposition is a reach (as ``report`` counts them).
NOT_REACHED = ("NO_ANSWER", "FAILED", "VOICEMAIL", "WRONG_NUMBER")


@dataclass
class Estimate:
    calls: int
    minutes: int
    cost: float
    finish_at: datetime | None
    reached: int
    outcome: str
    seed: int
    note: str = ""
    #: 95% intervals, when estimated from a sample: figure -> (low, high)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    finish_interval: tuple[datetime, datetime] | None = None
    sampled: int | None = None          # leads simulated (None: the whole campaign)
    population: int | None = None       # leads still to dial

    def as_dict(self) -> dict:
        d = asdict(self)
        d["finish_at"] = to_iso(self.finish_at)
        d["intervals"] = {k: [lo, hi] for k, (lo, hi) in self.intervals.items()}
        d["finish_interval"] = None if self.finish_interval is None else \
            [to_iso(self.finish_interval[0]), to_iso(self.finish_interval[1])]
        return d


def simulate_estimate(store: Store, campaign_id: int, at: datetime, *, seed: int = 0,
                      blackout: Blackout | None = None, sample: int | None = None,
                      budget_s: float = 120.0) -> Estimate:
    """Estimate the campaign from ``at``: played whole when small, from a random
    sample of about ``sample`` (default ``SAMPLE_LEADS``; 0 = every lead) leads when
    large. ``budget_s``: CPU seconds the rehearsal may take."""
    status = store.scalar("SELECT status FROM campaigns WHERE id = ?", (campaign_id,))
    if status == "COMPLETED":
        return Estimate(0, 0, 0.0, None, 0, "completed", seed, "campaign already completed")
    size = SAMPLE_LEADS if sample is None else sample
    todo = store.scalar(
        f"SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status IN "
        f"({', '.join('?' * len(OPEN_STATUSES))})", (campaign_id, *OPEN_STATUSES))
    with tempfile.TemporaryDirectory(prefix="dialcli-plan-") as tmp:
        path = Path(tmp) / "plan.db"
        whole = max(FULL_UP_TO, size) if sample is None else size
        if not size or todo <= whole or store.path == ":memory:":
            return _full(store, campaign_id, at, seed, blackout, path, tmp, budget_s)
        return _sampled(store, campaign_id, at, seed, blackout, path, tmp, size, todo,
                        budget_s)


# -- the whole campaign -----------------------------------------------------------------

def _full(store: Store, campaign_id: int, at: datetime, seed: int,
          blackout: Blackout | None, path: Path, tmp: str, budget_s: float) -> Estimate:
    target = sqlite3.connect(path)
    try:
        store.conn.backup(target)
    finally:
        target.close()
    copy = Store(path)
    try:
        _prepare(copy, campaign_id, at, blackout, tmp)
        before = copy.scalar("SELECT COALESCE(MAX(id), 0) FROM calls")
        run = _play(copy, campaign_id, at, seed, budget_s=budget_s)
        if isinstance(run, Estimate):
            return run
        result, clock = run
        calls, minutes, cost, last, reached = copy.one(
            "SELECT COUNT(*), COALESCE(SUM(billed_minutes), 0), COALESCE(SUM(price), 0), "
            "MAX(COALESCE(ended_at, claimed_at)), "
            f"SUM(disposition NOT IN {NOT_REACHED!r}) "
            "FROM calls WHERE id > ? AND campaign_id = ?", (before, campaign_id))
        note = "simulated run on a copy of the workspace (virtual clock)"
        if clock.hit:
            note += "; " + clock.hit
        return Estimate(calls, int(minutes), round(float(cost), 4), from_iso(last),
                        int(reached or 0), "partial" if clock.hit else result.outcome,
                        seed, note)
    finally:
        copy.close()


def _prepare(copy: Store, campaign_id: int, at: datetime, blackout: Blackout | None,
             tmp: str) -> None:
    with copy.tx():
        # The copy is ours: no live runner's lease or pause may stop the rehearsal.
        copy.execute("UPDATE campaigns SET lease_owner = NULL, lease_pid = NULL, "
                     "lease_host = NULL, heartbeat_at = NULL, status = CASE "
                     "WHEN status = 'PAUSED' THEN 'RUNNING' ELSE status END "
                     "WHERE id = ?", (campaign_id,))
        if blackout is not None:
            # The engine reads the blackout setting: point the copy's at these days.
            bfile = Path(tmp) / "blackout.txt"
            bfile.write_text("".join(
                f"{d.day.isoformat()} {','.join(d.states) or 'ALL'} {d.note}\n"
                for d in blackout.days), encoding="utf-8")
            copy.execute("INSERT INTO settings (key, value, updated_at) VALUES "
                         "('blackout_file', ?, ?) ON CONFLICT(key) DO UPDATE SET "
                         "value = excluded.value", (str(bfile), to_iso(at)))


def _play(copy: Store, campaign_id: int, at: datetime, seed: int, *,
          scale: float | None = None, budget_s: float = 120.0):
    """Run the engine on ``copy``; (result, clock), or an Estimate saying why not.
    With ``scale`` (the sampling fraction) the rates are the whole campaign's x scale."""
    # The offline rule brain: a rehearsal never calls an LLM (cost, speed).
    provider = _SampleProvider(RuleBrain(), seed=seed)
    clock = _HorizonClock(at, at + HORIZON, budget_s)
    # The copy is private and thrown away: no other process waits for its lock, and
    # nothing needs it on disk after a power cut.
    copy.conn.execute("PRAGMA synchronous = OFF")
    engine = Engine(copy, campaign_id, provider, clock, timing=Timing(group_commit_gap_s=0.0))
    clock.engine = engine
    if scale is not None:
        campaign = engine.state.campaign
        engine.pacer._set_rate(campaign.cps * scale)
        engine.state.max_concurrent = 10 ** 9       # lines: the fluid budget below
        lines = campaign.max_concurrent * scale
        pacer = engine.pacer

        def hold(now: datetime, seconds: float) -> None:
            held = now + timedelta(seconds=seconds / lines)
            if pacer.next_at is None or held > pacer.next_at:
                pacer.next_at = held

        provider.on_placed = hold
    try:
        return engine.run(), clock
    except InputError as exc:
        # The engine refuses what ``start`` would refuse (a campaign whose purpose
        # is not set): that is the plan's answer, not a crash.
        return Estimate(0, 0, 0.0, None, 0, "unavailable", seed,
                        f"start would refuse this campaign: {exc.message}")


class _SampleProvider(SimulatedProvider):
    """The simulator, telling the rehearsal how long each placed call will hold its
    line (the simulator knows at placement: it plans the whole call then)."""

    on_placed = None

    def place(self, req: DialRequest) -> str:
        sid = super().place(req)
        if self.on_placed is not None and self.last_plan is not None:
            start, end = self.last_plan
            self.on_placed(start, (end - start).total_seconds())
        return sid


# -- a random sample, post-stratified by status ------------------------------------------------

#: A lead is sampled when a hash of its id falls under the sampling fraction: one pass
#: over the campaign's leads in SQLite (a quarter of a second at a million), no sort.
_SAMPLE_SQL = """
SELECT id, status FROM leads WHERE campaign_id = ? AND status IN ({marks})
AND ((id * 2654435761 + ?) % 2147483648) < ?
"""


def _pick(store: Store, campaign_id: int, size: int, seed: int):
    """(sampled lead ids, stratum of each, leads per stratum): about ``size`` leads,
    each with the same chance, post-stratified by status (counted on its index)."""
    marks = ", ".join("?" * len(OPEN_STATUSES))
    sizes = {(status,): n for status, n in store.conn.execute(
        f"SELECT status, COUNT(*) FROM leads WHERE campaign_id = ? AND status IN ({marks}) "
        "GROUP BY status", (campaign_id, *OPEN_STATUSES))}
    population = sum(sizes.values())
    salt = random.Random(f"plan-sample|{seed}").randrange(2 ** 31)
    threshold = int(min(1.0, size / population) * 2 ** 31)
    picked: list[int] = []
    stratum_of: dict[int, tuple] = {}
    for lead_id, status in store.conn.execute(_SAMPLE_SQL.format(marks=marks),
                                              (campaign_id, *OPEN_STATUSES, salt, threshold)):
        picked.append(lead_id)
        stratum_of[lead_id] = (status,)
    return picked, stratum_of, sizes


_SKIP_TABLES = {"audit", "outbox", "provider_events", "webhook_subscriptions", "call_stats"}


def _build_sample(store: Store, path: Path, campaign_id: int, picked: list[int]) -> None:
    """A new workspace with the schema of ``store`` and only the sampled leads (and
    what their dials read: phones, zone groups, consent, opt-outs, call history)."""
    src = sqlite3.connect(f"file:{Path(store.path).resolve()}?mode=ro", uri=True)
    try:
        schema = src.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%'").fetchall()
        user_version = src.execute("PRAGMA user_version").fetchone()[0]
    finally:
        src.close()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        for kind, _name, sql in schema:
            if kind == "table":
                db.execute(sql)
        db.execute(f"PRAGMA user_version = {int(user_version)}")
        db.execute("ATTACH DATABASE ? AS src", (f"file:{Path(store.path).resolve()}?mode=ro",))
        db.execute("CREATE TEMP TABLE pick (id INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO pick VALUES (?)", ((i,) for i in picked))
        db.execute("CREATE TEMP TABLE picknum (e164 TEXT PRIMARY KEY)")
        db.execute("INSERT OR IGNORE INTO picknum SELECT e164 FROM src.lead_phones "
                   "WHERE lead_id IN (SELECT id FROM pick)")
        filtered = {
            "leads": "id IN (SELECT id FROM pick)",
            "lead_phones": "lead_id IN (SELECT id FROM pick)",
            "appointments": "lead_id IN (SELECT id FROM pick)",
            "consent": "e164 IN (SELECT e164 FROM picknum)",
            "dnc": "e164 IN (SELECT e164 FROM picknum)",
            "calls": "e164 IN (SELECT e164 FROM picknum)",
        }
        for kind, name, _sql in schema:
            if kind != "table" or name in _SKIP_TABLES:
                continue
            where = filtered.get(name)
            db.execute(f'INSERT INTO main."{name}" SELECT * FROM src."{name}"'
                       + (f" WHERE {where}" if where else ""))
        db.execute("COMMIT")
        db.execute("DETACH DATABASE src")
        for kind, _name, sql in schema:
            if kind in ("index", "trigger"):
                db.execute(sql)
    finally:
        db.close()


def _sampled(store: Store, campaign_id: int, at: datetime, seed: int,
             blackout: Blackout | None, path: Path, tmp: str, size: int,
             population: int, budget_s: float) -> Estimate:
    picked, stratum_of, sizes = _pick(store, campaign_id, size, seed)
    fraction = len(picked) / population
    _build_sample(store, path, campaign_id, picked)
    copy = Store(path)
    try:
        _prepare(copy, campaign_id, at, blackout, tmp)
        before = copy.scalar("SELECT COALESCE(MAX(id), 0) FROM calls")
        run = _play(copy, campaign_id, at, seed, scale=fraction, budget_s=budget_s)
        if isinstance(run, Estimate):
            return run
        result, clock = run
        per_lead: dict[int, list[float]] = {i: [0, 0, 0.0, 0] for i in picked}
        ends: list[tuple[datetime, int]] = []
        for lead_id, minutes, price, reached, claimed, ended in copy.conn.execute(
                "SELECT lead_id, COALESCE(billed_minutes, 0), COALESCE(price, 0), "
                f"disposition NOT IN {NOT_REACHED!r}, claimed_at, "
                "COALESCE(ended_at, claimed_at) FROM calls WHERE id > ? AND campaign_id = ?",
                (before, campaign_id)):
            figures = per_lead.setdefault(lead_id, [0, 0, 0.0, 0])
            figures[0] += 1
            figures[1] += minutes
            figures[2] += price
            figures[3] += 1 if reached else 0
            ends.append((from_iso(ended), lead_id))
        totals, intervals = _scale(per_lead, stratum_of, sizes)
        finish = max((t for t, _ in ends), default=None)
        note = (f"simulated {len(picked):,} of {population:,} leads (a random sample) at "
                "the campaign's pace, scaled")
        if clock.hit:
            note += "; " + clock.hit
        return Estimate(
            round(totals[0]), round(totals[1]), round(totals[2], 4), finish,
            round(totals[3]), "partial" if clock.hit else result.outcome, seed, note,
            intervals={name: intervals[i] for i, name in
                       enumerate(("calls", "minutes", "cost", "reached"))},
            finish_interval=_finish_interval(ends, fraction), sampled=len(picked),
            population=population)
    finally:
        copy.close()


def _scale(per_lead: dict[int, list[float]], stratum_of: dict[int, tuple],
           sizes: dict[tuple, int]) -> tuple[list[float], list[tuple[float, float]]]:
    """Stratified totals of the per-lead figures and their 95% intervals."""
    by_stratum: dict[tuple, list[list[float]]] = {}
    for lead_id, figures in per_lead.items():
        key = stratum_of.get(lead_id)
        if key is not None:
            by_stratum.setdefault(key, []).append(figures)
    width = 4
    everyone = [f for rows in by_stratum.values() for f in rows]
    overall_mean = [sum(f[i] for f in everyone) / len(everyone) for i in range(width)]
    overall_var = [_var([f[i] for f in everyone]) for i in range(width)]
    totals = [0.0] * width
    variance = [0.0] * width
    for key, n_h in sizes.items():
        rows = by_stratum.get(key, [])
        if not rows:                # a stratum too small to be sampled: the overall mean
            for i in range(width):
                totals[i] += n_h * overall_mean[i]
                variance[i] += n_h * n_h * overall_var[i]
            continue
        k = len(rows)
        for i in range(width):
            values = [f[i] for f in rows]
            totals[i] += n_h * sum(values) / k
            s2 = _var(values) if k > 1 else overall_var[i]
            variance[i] += n_h * n_h * max(0.0, 1 - k / n_h) * s2 / k
    intervals = [(max(0.0, t - Z95 * math.sqrt(v)), t + Z95 * math.sqrt(v))
                 for t, v in zip(totals, variance)]
    return totals, intervals


def _var(values: list[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return sum((v - mean) ** 2 for v in values) / (n - 1)


def _finish_interval(ends: list[tuple[datetime, int]],
                     fraction: float) -> tuple[datetime, datetime] | None:
    """From the sample's last call end to the latest the whole campaign's could be.

    The whole campaign's last call is the latest of ``1/f`` times as many leads' last
    calls as the sample has. Its excess over the sample's latest is estimated as for
    the maximum of an exponential tail: the mean spacing between the sample's latest
    per-lead finishes (its top 20) times ``ln(1/f)``. A late callback chain (a callee
    who asked for next week, reached in the last pass) is the kind of rare lead this
    bound is for: the point estimate is the sample's own last call."""
    if not ends:
        return None
    last_per_lead: dict[int, datetime] = {}
    for t, lead_id in ends:
        if lead_id not in last_per_lead or t > last_per_lead[lead_id]:
            last_per_lead[lead_id] = t
    times = sorted(last_per_lead.values())
    top = times[-1]
    tail = times[-min(len(times), 20):]
    if len(tail) < 2:
        return (top, top)
    spacing = (tail[-1] - tail[0]) / (len(tail) - 1)
    return (top, top + spacing * math.log(1 / max(fraction, 1e-9)))


class _HorizonClock(Clock):
    """A virtual clock that stops the rehearsal when it cannot be an estimate any more:
    virtual time past ``horizon``, no progress (many waits without time moving), or
    more than ``budget_s`` real seconds spent (a huge campaign: use --no-estimate)."""

    virtual = True
    watched = False
    STALL_WAITS = 200_000

    def __init__(self, start: datetime, horizon: datetime, budget_s: float = 120.0):
        self._clock = VirtualClock(start)
        self.horizon = horizon
        self.engine = None
        self.hit: str | None = None
        self._deadline = cpu_seconds() + budget_s
        self._still = 0
        self._waits = 0
        self._last = start

    def now(self) -> datetime:
        return self._clock.now()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def _stop(self, why: str) -> None:
        if self.hit is None and self.engine is not None:
            self.hit = why
            self.engine.abort()

    def wait(self, inbox, until) -> None:
        if until is not None and until > self.horizon:
            self._stop(f"stopped at the {HORIZON.days}-day horizon with leads left")
            return
        self._clock.wait(inbox, until)
        now = self._clock.now()
        self._still = self._still + 1 if now == self._last else 0
        self._last = now
        self._waits += 1
        if self._still > self.STALL_WAITS:
            self._stop("stopped: the simulated run made no progress")
        elif self._waits % 512 == 0 and cpu_seconds() > self._deadline:
            # (reading the process's CPU time is a system call: not at every wait)
            self._stop("stopped: the simulation took too long (use --no-estimate)")
