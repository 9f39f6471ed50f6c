"""``plan``'s estimate: calls, billed minutes, cost, reached and finish time, before
the first call -- in seconds at a million leads.

**Small campaigns** (up to ``FULL_UP_TO`` leads still to dial) are played whole: the
engine runs the campaign on a *copy* of the workspace (sqlite3 backup API) on a
virtual clock with the simulator, so retry passes, closed windows, caps and callbacks
are played out; the workspace itself is never written.

**Large campaigns** are estimated from a sample, in two phases:

1. *Foreseen*: about ``FORESEE_LEADS`` leads still to dial (each with the same chance:
   a hash of its id and the seed under the fraction, one pass over the leads, no sort)
   have their retry passes drawn as the simulator will draw them -- each dial's
   outcome, the persona of a person who answers, the lead's next state -- in about
   60 us a lead, with no engine (``_foresee``). Each lead's stratum is how it ends,
   its pass dials and its answered dials (about 80 strata).
2. *Played*: about ``SAMPLE_LEADS`` of them, in proportion to the strata (at least
   ``MIN_STRATUM`` each; thinner strata merge into coarser keys). A new workspace is
   built holding only those leads (their phones, consent and opt-out records, call
   history for the frequency cap; the schema copied from the workspace), and the
   engine plays it with the rates of the whole campaign scaled to the sample:

- the dial rate (``cps``) times the sampling fraction ``f``;
- the lines (``max_concurrent``) as a fluid budget: a sampled call of ``d`` seconds
  stands for ``1/f`` calls each holding a line for ``d``, so the next sampled dial
  waits ``d / (f x max_concurrent)`` -- the whole campaign's line-bound pace.

So a pass takes the virtual time it would take whole, windows close on the sample
where they would close on the campaign, and the finish time carries over. The
simulator draws each attempt's outcome from the seed and the attempt's key (campaign,
run, lead, phone, pass, kind): a sampled lead has exactly the calls it would have in a
full rehearsal. Totals are the two-phase stratified estimator, each with a 95%
interval (``_scale``). The strata only sort: a foresight that is wrong (caps, consent
records, a changed simulator) widens the intervals, it never biases the totals.
Where the play time goes is the engine (~1.5 ms of CPU a simulated call, about 2.5
calls a lead): the cost is the played sample's, whatever the campaign's size, and the
strata let 700 played leads do what 2,000 unstratified did at half the width.

The finish time is a maximum, and so is every pass's end (a pass opens when the last
lead of the one before is dialed), which no scaling estimates. So the leads that can
decide them are not stood for: the dials of the leads whose state closes whole days
are foreseen and placed on the sample's run, which holds each pass until the whole
campaign's would be over (``_day_closed``, ``_hold``); the leads of rare, late windows
(Honolulu) foreseen to ask for a callback in the last pass are played whole
(``_late_callbacks``); the other chains come from the campaign's callback structure:
its last callbacks are asked at the end of its last pass, and a "next Tuesday" asked
a day later can be due a week later (``_finish``).

Accuracy and speed are measured by ``bench/plan_bench.py`` against the full
simulation at 100,000 leads.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dialcli.clock import Clock, VirtualClock, cpu_seconds, from_iso, to_iso
from dialcli.compliance import adad
from dialcli.compliance.policy import policy_for_campaign
from dialcli.compliance.rules import Blackout, StateRule, states_of
from dialcli.conversation.rules import RuleBrain
from dialcli.engine.loop import Engine, load_campaign
from dialcli.engine.types import Timing
from dialcli.errors import InputError
from dialcli.models import Disposition, LeadStatus
from dialcli.outcomes import LeadView, next_state, skip_phone
from dialcli.providers.base import DialRequest
from dialcli.providers.simulator import SimulatedProvider
from dialcli.store import Store

#: A rehearsal stops after this much virtual time, whatever is left (a stuck lead
#: must not make ``plan`` run forever).
HORIZON = timedelta(days=60)
#: Up to this many leads to dial, the whole campaign is simulated.
FULL_UP_TO = 3000
#: Above it, a sample of about this many leads is played (stratified, see ``_pick``).
SAMPLE_LEADS = 700
#: Phase one: at most this many leads are foreseen to stratify the sample (``_foresee``).
FORESEE_LEADS = 10_000
#: Fewest played leads in a stratum (thinner ones merge into a coarser one).
MIN_STRATUM = 3
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
          weights: dict[int, float] | None = None, budget_s: float = 120.0,
          design: _Design | None = None):
    """Run the engine on ``copy``; (result, clock), or an Estimate saying why not.
    With ``weights`` (a sample: lead -> how many leads it stands for) each dial
    spends the whole campaign's lines and rate for that many."""
    # The offline rule brain: a rehearsal never calls an LLM (cost, speed).
    provider = _SampleProvider(RuleBrain(), seed=seed)
    clock = _HorizonClock(at, at + HORIZON, budget_s)
    # The copy is private and thrown away: no other process waits for its lock, and
    # nothing needs it on disk after a power cut.
    copy.conn.execute("PRAGMA synchronous = OFF")
    engine = Engine(copy, campaign_id, provider, clock, timing=Timing(group_commit_gap_s=0.0))
    clock.engine = engine
    if weights is not None:
        # A sampled dial of a lead standing for ``w`` leads stands for ``w`` dials: of
        # ``d`` seconds each, on the campaign's ``max_concurrent`` lines and at its
        # ``cps``, they take ``w x max(d / lines, 1 / cps)`` of the campaign's time
        # (a fluid budget), so the next sampled dial waits that long. The sample's
        # strata are drawn with unequal chances: a fixed fraction would play the
        # leads that need many passes too slowly (their stratum is oversampled) and
        # end the last pass days late.
        campaign = engine.state.campaign
        # The rate is in the budget below; the pacer keeps one claim a turn (a
        # millisecond apart), so each dial's budget is spent before the next claim.
        engine.pacer._set_rate(1000.0)
        engine.state.max_concurrent = 10 ** 9       # lines: the budget below
        per_line = 1.0 / max(campaign.max_concurrent, 1)
        gap = 1.0 / campaign.cps if campaign.cps > 0 else 0.0
        pacer = engine.pacer

        def hold(now: datetime, seconds: float, lead_id: int) -> None:
            held = now + timedelta(seconds=weights.get(lead_id, 1.0)
                                   * max(seconds * per_line, gap))
            if pacer.next_at is None or held > pacer.next_at:
                pacer.next_at = held

        provider.on_placed = hold
    if design is not None and design.holds:
        # A pass of the sample ends where the whole campaign's would: not before the
        # day-closed leads it does not hold are dialed (``_hold``).
        passes, finished = engine.passes, engine.passes.finished
        first = copy.scalar("SELECT COALESCE(MAX(id), 0) FROM calls")

        def held_finished(now: datetime) -> bool:
            c = engine.state.campaign
            if c.pass_no not in design.held and not engine.queue.waiting \
                    and passes._pass_over(c.id):
                claims = [(slot, lead_id, from_iso(t)) for slot, lead_id, t in copy.conn.execute(
                    "SELECT slot, lead_id, claimed_at FROM calls WHERE id > ? AND kind = 'pass' "
                    "AND pass_no = ?", (first, c.pass_no))]
                design.held[c.pass_no] = _hold(claims, now, design.holds.get(c.pass_no, []),
                                               engine.queue.window)
            until = design.held.get(c.pass_no)
            if until is not None and now < until:
                engine.state.wait(until, f"pass {c.pass_no}: the whole campaign's is not over")
                return False
            return finished(now)

        passes.finished = held_finished
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
            lead_id = int(req.attempt_key.split(":")[2])    # campaign:run:lead:...
            self.on_placed(start, (end - start).total_seconds(), lead_id)
        return sid


# -- a sample stratified by what its dials will meet -----------------------------------

#: A lead is in phase one when a hash of its id falls under the phase's fraction: one
#: pass over the campaign's leads in SQLite (a quarter of a second at a million), no
#: sort. The hash also orders the leads of a stratum for phase two.
_HASH = "((l.id * 2654435761 + ?) % 2147483648)"
_PHASE1_SQL = f"""
SELECT l.id, l.status, l.phone_slot, l.pass_no, {_HASH} AS h, p.slot, p.e164, p.dead_reason,
       COALESCE(p.region, '') || ',' || COALESCE(g.region, ''), p.group_id
FROM leads l JOIN lead_phones p ON p.lead_id = l.id LEFT JOIN zone_groups g ON g.id = p.group_id
WHERE l.campaign_id = ? AND l.status IN ({{marks}}) AND {_HASH} < ?
ORDER BY l.id, p.slot
"""

#: What a simulated callee's persona makes of a call a person answers (``outcomes``:
#: one word is no reach), and what the other outcomes are.
_PERSONA_DISPOSITION = {
    "interested": Disposition.INTERESTED, "not_interested": Disposition.NOT_INTERESTED,
    "callback": Disposition.CALLBACK, "opt_out": Disposition.OPT_OUT,
    "wrong_number": Disposition.WRONG_NUMBER, "one_word": Disposition.NO_ANSWER}
_OUTCOME_DISPOSITION = {"voicemail": Disposition.VOICEMAIL, "no_answer": Disposition.NO_ANSWER,
                        "busy": Disposition.NO_ANSWER, "failed": Disposition.FAILED}


@dataclass
class _Design:
    """The two-phase sample: ``phase1`` leads foreseen (of ``population``), each in a
    stratum; ``picked`` (a subset) played."""
    population: int
    phase1: int
    stratum_of: dict[int, tuple]        # every phase-one lead -> its stratum
    picked: list[int]
    weights: dict[int, float]           # each played lead -> the leads it stands for
    groups: dict[int, float] = field(default_factory=dict)  # zone group -> share of phones
    #: Played whole, outside the strata (weight 1): every lead of a late zone group
    #: foreseen to ask for a callback in the last pass (``_late_callbacks``); and those groups.
    certain: list[int] = field(default_factory=list)
    late: frozenset[int] = frozenset()
    #: pass -> (slot, lead, zone group) of the dials foreseen on numbers a state closes
    #: whole days (``_day_closed``): the whole campaign's pass waits for them (``_hold``).
    holds: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    #: pass -> when the whole campaign's pass is over, set by the play (``_hold``)
    held: dict[int, datetime] = field(default_factory=dict)


def _foresee(sim: SimulatedProvider, prefix: str, lead_id: int, status: str, slot: int | None,
             pass_no: int, phones: list[tuple[int, str, str | None]],
             max_attempts: int) -> tuple:
    """The lead's stratum: ``_foresee_ends(...)[0]``."""
    return _foresee_ends(sim, prefix, lead_id, status, slot, pass_no, phones, max_attempts)[0]


def _foresee_ends(sim: SimulatedProvider, prefix: str, lead_id: int, status: str,
                  slot: int | None, pass_no: int, phones: list[tuple[int, str, str | None]],
                  max_attempts: int, path: list | None = None) -> tuple[tuple, int]:
    """What the lead's retry passes will come to, as the simulator will draw them --
    (how it ends, pass dials, answered dials) -- without playing the campaign: each
    dial's outcome is the simulator's first draw for its attempt key, a person's answer
    their number's persona, the lead's next state ``outcomes.next_state``. Callbacks,
    caps, consent records and windows are left out (a state rule that bans the call
    is in: ``phones`` marks those numbers dead): this only sorts the leads into strata (a wrong
    guess costs precision, never correctness). Also the pass it ends in (a callback
    asked in the last pass can decide the finish, see ``_late_callbacks``); ``path`` gets the
    (pass, slot) of each dial."""
    if status not in ("PENDING", "RETRY") or slot is None:
        return (status,), pass_no
    numbers = {s: e for s, e, dead in phones}
    live = tuple(s for s, _e, dead in phones if dead is None)
    lead_status, calls, answered = LeadStatus(status), 0, 0
    while calls < 4 * max_attempts:
        e164 = numbers.get(slot)
        if e164 is None:
            break
        if slot not in live:        # retired, or banned by a state rule: the claim skips it
            tr = skip_phone(LeadView(lead_status, slot, pass_no, 0, live + (slot,)), slot,
                            max_attempts=max_attempts, reason="")
            if tr.status not in (LeadStatus.PENDING, LeadStatus.RETRY) or tr.phone_slot is None:
                return (str(tr.status), calls, answered), pass_no
            lead_status, slot = tr.status, tr.phone_slot
            pass_no += tr.pass_done
            continue
        outcome = sim.outcome_for(f"{prefix}:{lead_id}:{slot}:{pass_no}:pass", e164)
        if outcome is None:
            return ("pinned",), pass_no
        calls += 1
        if path is not None:
            path.append((pass_no, slot))
        if outcome == "human":
            answered += 1
            disposition = _PERSONA_DISPOSITION[sim.persona_for(e164)]
        else:
            answered += outcome == "voicemail"
            disposition = _OUTCOME_DISPOSITION[outcome]
        tr = next_state(LeadView(lead_status, slot, pass_no, 0, live), slot, disposition,
                        is_callback=False, max_attempts=max_attempts)
        if tr.kill_slot is not None:
            live = tuple(s for s in live if s != tr.kill_slot)
        if tr.status not in (LeadStatus.PENDING, LeadStatus.RETRY) or tr.phone_slot is None:
            return (str(tr.status), calls, answered), pass_no
        lead_status, slot = tr.status, tr.phone_slot
        pass_no += tr.pass_done
    return ("open", calls, answered), pass_no


def _pick(store: Store, campaign_id: int, size: int, seed: int,
          foresee: int = FORESEE_LEADS, *, at: datetime | None = None,
          blackout: Blackout | None = None) -> _Design:
    """The two-phase sample: about ``foresee`` leads (each lead with the same chance)
    foreseen and stratified by ``_foresee``; then about ``size`` of them, allotted to
    the strata in proportion (at least ``MIN_STRATUM`` each, the first in hash order),
    to play. Strata too thin to be sampled are merged into coarser ones. With ``at``
    (the run's start), the leads that can decide the finish are taken whole, out of
    the strata (``_late_callbacks``)."""
    marks = ", ".join("?" * len(OPEN_STATUSES))
    population = store.scalar(
        f"SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status IN ({marks})",
        (campaign_id, *OPEN_STATUSES))
    c = store.one("SELECT run, max_attempts, purpose FROM campaigns WHERE id = ?",
                  (campaign_id,))
    prefix = f"{campaign_id}:{c['run']}"
    sim = SimulatedProvider(RuleBrain(), seed=seed)
    salt = random.Random(f"plan-sample|{seed}").randrange(2 ** 31)
    threshold = int(min(1.0, max(foresee, size) / max(population, 1)) * 2 ** 31) + 1
    groups: dict[int, float] = {}
    leads = _lead_rows(store.conn.execute(
        _PHASE1_SQL.format(marks=marks), (salt, campaign_id, *OPEN_STATUSES, salt, threshold)),
        c["purpose"], groups)
    certain: list[int] = []
    late: frozenset[int] = frozenset()
    holds: dict[int, list[tuple[int, int, int]]] = {}
    if at is not None and leads:
        # One policy serves both looks ahead (the blackout matters to the windows only).
        policy = policy_for_campaign(store.conn, load_campaign(store, campaign_id),
                                     blackout=blackout)
        certain, late = _late_callbacks(store, campaign_id, at, policy, groups,
                                        size / len(leads), population, sim, prefix,
                                        c["max_attempts"], c["purpose"], salt)
        for lead_id in certain:
            leads.pop(lead_id, None)
        population -= len(certain)
        holds = _day_closed(store, campaign_id, policy, groups, population, sim, prefix,
                            c["max_attempts"], c["purpose"], salt,
                            top_slot=max(p[0] for row in leads.values() for p in row[4]))
    stratum_of = {lead_id: _foresee(sim, prefix, lead_id, status, slot, pass_no or 1, phones,
                                    c["max_attempts"])
                  for lead_id, (status, slot, pass_no, _h, phones) in leads.items()}
    members: dict[tuple, list[int]] = {}
    for lead_id, key in stratum_of.items():
        members.setdefault(key, []).append(lead_id)
    # In proportion, at least MIN_STRATUM each, about ``size`` in all: the strata
    # at their floor are counted out before the share of the others is set.
    share = size / max(len(leads), 1)
    floored = [ids for ids in members.values() if share * len(ids) < MIN_STRATUM]
    rest = len(leads) - sum(len(ids) for ids in floored)
    share = max(0.0, size - MIN_STRATUM * len(floored)) / max(rest, 1)
    picked: list[int] = []
    weights: dict[int, float] = dict.fromkeys(certain, 1.0)
    for key, ids in members.items():
        ids.sort(key=lambda i: leads[i][3])
        taken = ids[:max(MIN_STRATUM, round(share * len(ids)))]
        picked.extend(taken)
        for lead_id in taken:
            weights[lead_id] = population / len(leads) * len(ids) / len(taken)
    _merge_thin(stratum_of, set(picked))
    phones = sum(groups.values()) or 1
    return _Design(population, len(leads), stratum_of, picked, weights,
                   {g: n / phones for g, n in groups.items()}, certain, late, holds)


def _lead_rows(rows, purpose: str | None, groups: dict[int, float] | None = None,
               banned: dict[str, bool] | None = None,
               group_of: dict[tuple[int, int], int] | None = None) -> dict[int, list]:
    """lead -> [status, slot, pass_no, hash, [(slot, e164, dead reason)]] from
    ``_PHASE1_SQL``'s rows; a number a state's artificial-voice rule bans counts as
    dead. ``groups`` counts the phones of each zone group."""
    banned = {} if banned is None else banned      # region -> a state rule stops it
    leads: dict[int, list] = {}
    for lead_id, status, slot, pass_no, h, pslot, e164, dead, region, group in rows:
        if group is not None and groups is not None:
            groups[group] = groups.get(group, 0) + 1
        if group is not None and group_of is not None:
            group_of[lead_id, pslot] = group
        if dead is None:
            stop = banned.get(region)
            if stop is None:
                stop = banned[region] = any(r.blocks_ai for r in adad.rules_for(
                    states_of(region), purpose or ""))
            dead = "state rule" if stop else None
        row = leads.get(lead_id)
        if row is None:
            row = leads[lead_id] = [status, slot, pass_no, h, []]
        row[4].append((pslot, e164, dead))
    return leads


#: Hours of a day are counted from this UTC hour when windows are compared: 10:00Z is
#: night from Newfoundland to Hawaii, so no calling window spans it.
_NIGHT_UTC = 10
#: The leads taken whole (``_late_callbacks``), at most: past it, a late group is common
#: enough for the sample's own share of it.
CERTAIN_MAX = 100
#: A zone set is common when at least this many of its phones are expected among the
#: played leads (``_late_callbacks``).
RARE_PLAYED = 10


def _late_callbacks(store: Store, campaign_id: int, at: datetime, policy,
                    phones: dict[int, float], share: float, population: int,
                    sim: SimulatedProvider,
                    prefix: str, max_attempts: int, purpose: str | None,
                    salt: int) -> tuple[list[int], frozenset[int]]:
    """(the leads to play whole, the late zone groups).

    A finish is a maximum: the whole campaign's last call can be one chain in a rare,
    late window -- "next Tuesday morning", asked by one callee in Honolulu in the last
    pass, then two callback retries an hour apart -- and a group that rare has no
    lead among a sample of hundreds. So the zone groups whose window opens or closes
    later (UTC) than that of every zone set common in the sample (``RARE_PLAYED``
    phones or more expected among the played leads, counted from phase one's
    ``phones``) are *late*; every lead still to dial with a number in one is foreseen
    (``_foresee_ends``), and those foreseen to ask for a callback in the last pass on
    that number are played whole (weight 1, outside the strata; at most
    ``CERTAIN_MAX``, in hash order; past ``HOLD_LEADS`` late leads, a hash sample of
    them is foreseen). Windows are compared by their zones over the first two days
    from ``at`` (a state rule that only narrows a window is not looked at)."""
    night = at.replace(hour=_NIGHT_UTC, minute=0, second=0, microsecond=0)
    zones_of: dict[int, tuple[str, ...]] = {}
    shapes: dict[tuple[str, ...], tuple[float, float] | None] = {}
    for gid, zones in store.conn.execute("SELECT id, zones FROM zone_groups"):
        key = zones_of[gid] = tuple(sorted(z for z in zones.split(",") if z))
        if key not in shapes:
            spans = policy.window_for(key).intervals(at, days=2)
            # Opening and closing of each span as hours of the day counted from
            # ``_NIGHT_UTC`` (night across North America): the latest over two days.
            shapes[key] = None if not spans else (
                max(((lo - night).total_seconds() / 3600) % 24 for lo, _hi in spans),
                max(((hi - night).total_seconds() / 3600) % 24 for _lo, hi in spans))
    per_zones: dict[tuple[str, ...], float] = {}
    for g, n in phones.items():
        per_zones[zones_of.get(g, ())] = per_zones.get(zones_of.get(g, ()), 0) + n
    common = [shapes[z] for z, n in per_zones.items() if n * share >= RARE_PLAYED and shapes.get(z)]
    if not common:
        return [], frozenset()
    opens, closes = max(o for o, _c in common), max(c for _o, c in common)
    late = frozenset(g for g, z in zones_of.items() if shapes[z] is not None
                     and (shapes[z][0] > opens or shapes[z][1] > closes))
    if not late:
        return [], late
    group_of: dict[tuple[int, int], int] = {}
    asked = []
    for lead_id, h, key, ends, path in _foreseen(store, campaign_id, late, phones, population,
                                                 group_of, sim, prefix, max_attempts, purpose,
                                                 salt):
        if key[0] == str(LeadStatus.CALLBACK) and ends >= max_attempts and path \
                and group_of.get((lead_id, path[-1][1])) in late:
            asked.append((h, lead_id))
    return [lead_id for _h, lead_id in sorted(asked)[:CERTAIN_MAX]], late


#: At most about this many leads of the late groups, and of the day-closed groups, are
#: foreseen (a hash sample beyond: ``_late_callbacks``, ``_day_closed``).
HOLD_LEADS = 4000


def _leads_in(store: Store, campaign_id: int, groups, fraction: float, salt: int,
              purpose: str | None, group_of: dict[tuple[int, int], int],
              min_slot: int = 1) -> dict[int, list]:
    """``_lead_rows`` of the leads still to dial with a number in one of ``groups`` in
    a slot from ``min_slot`` (a hash sample of ``fraction`` of them); ``group_of`` gets
    each number's group."""
    marks = ", ".join("?" * len(OPEN_STATUSES))
    sql = _PHASE1_SQL.format(marks=marks).replace(
        "ORDER BY", "AND l.id IN (SELECT lead_id FROM lead_phones WHERE group_id IN "
        f"({', '.join(str(int(g)) for g in sorted(groups))}) AND slot >= {int(min_slot)}) "
        "ORDER BY")
    return _lead_rows(store.conn.execute(sql, (salt, campaign_id, *OPEN_STATUSES, salt,
                                               int(fraction * 2 ** 31) + 1)),
                      purpose, group_of=group_of)


def _foreseen(store: Store, campaign_id: int, groups: frozenset[int] | set[int],
              phones: dict[int, float], population: int, group_of: dict[tuple[int, int], int],
              sim: SimulatedProvider, prefix: str, max_attempts: int, purpose: str | None,
              salt: int, min_slot: int = 1):
    """Each lead still to dial with a number in ``groups`` in a slot from ``min_slot``
    (at most about ``HOLD_LEADS`` of them, a hash sample beyond), foreseen to its last
    dial: (lead id, its hash, ``_foresee_ends``'s key and attempts, the dials' path);
    ``group_of`` gets each number's group."""
    share = sum(n for g, n in phones.items() if g in groups) / max(sum(phones.values()), 1)
    leads = _leads_in(store, campaign_id, groups,
                      min(1.0, HOLD_LEADS / max(population * share, 1)), salt, purpose,
                      group_of, min_slot=min_slot)
    for lead_id, (status, slot, pass_no, h, numbers) in leads.items():
        path: list[tuple[int, int]] = []
        key, ends = _foresee_ends(sim, prefix, lead_id, status, slot, pass_no or 1, numbers,
                                  max_attempts, path)
        yield lead_id, h, key, ends, path


def _day_closed(store: Store, campaign_id: int, policy, phones: dict[int, float],
                population: int, sim: SimulatedProvider, prefix: str, max_attempts: int,
                purpose: str | None, salt: int,
                top_slot: int = 1) -> dict[int, list[tuple[int, int, int]]]:
    """pass -> (slot, lead, zone group) of each dial foreseen on a number whose state
    closes whole days (a Saturday or Sunday "closed" row).

    A pass opens when the last one is over: one lead of South Dakota whose second number
    was not reached by Saturday's close holds the whole campaign's next pass to Monday,
    and the last pass then ends a day later (a "next Tuesday" asked on a Tuesday is due
    a week after one asked on a Monday). Those leads are too many to play, and too rare
    at the end of a pass for a sample; they are foreseen here and their dials placed on
    the sample's run by ``_hold``. At most ``HOLD_LEADS`` (a hash sample beyond). Only
    the dials on the last phone slot in use (``top_slot``): the queue dials a pass in
    (slot, lead) order, after a retry interval for each next number, so a pass ends
    in its last slot's dials."""
    closes: dict[str, bool] = {}
    closed: set[int] = set()
    for gid, region in store.conn.execute("SELECT id, region FROM zone_groups"):
        shut = closes.get(region or "")
        if shut is None:
            shut = closes[region or ""] = any(
                isinstance(r, StateRule) and "closed" in (r.row.saturday, r.row.sunday)
                for r in policy.rules_for(region or ""))
        if shut:
            closed.add(gid)
    if not closed:
        return {}
    group_of: dict[tuple[int, int], int] = {}
    holds: dict[int, list[tuple[int, int, int]]] = {}
    for lead_id, _h, _key, _ends, path in _foreseen(store, campaign_id, closed, phones,
                                                    population, group_of, sim, prefix,
                                                    max_attempts, purpose, salt, top_slot):
        for k, s in path:
            g = group_of.get((lead_id, s))
            if g in closed and s >= top_slot:
                holds.setdefault(k, []).append((s, lead_id, g))
    return holds


def _hold(claims: list[tuple[int, int, datetime]], now: datetime,
          dials: list[tuple[int, int, int]], window) -> datetime | None:
    """When the whole campaign's pass ``pass_no`` is over, the sample's being over at
    ``now``: the last of ``dials`` (foreseen on day-closed numbers). The queue dials in
    (slot, lead) order among the open groups, so a dial happens when the sample's
    ``claims`` (slot, lead, when) of that pass first reach its place, or at its
    window's next opening (``window(group)``) if it is shut then (a Sunday). None: no
    later than ``now``."""
    claims = sorted(claims)
    if not claims:
        return None
    first_after: list[datetime] = []         # earliest claim at or after each place
    soonest = now
    for _s, _i, t in reversed(claims):
        soonest = min(soonest, t)
        first_after.append(soonest)
    first_after.reverse()
    places = [(s, i) for s, i, _t in claims]
    latest = None
    horizon = now - timedelta(days=3)        # dialed days before the end: no hold
    for slot, lead_id, group in dials:
        k = bisect.bisect_left(places, (slot, lead_id))
        reached = first_after[k] if k < len(first_after) else now
        if reached < horizon:
            continue
        span = window(group).next_open(reached)
        if span is not None and span[0] > now and (latest is None or span[0] > latest):
            latest = span[0]
    return latest


def _merge_thin(stratum_of: dict[int, tuple], picked: set[int]) -> None:
    """Strata with fewer than ``MIN_STRATUM`` played leads join the stratum one level
    coarser (the key without its last part), until each has enough or is the root."""
    played: dict[tuple, int] = {}
    for lead_id, key in stratum_of.items():
        played[key] = played.get(key, 0) + (lead_id in picked)
    into = {key: key for key in played}         # stratum -> the one it merged into
    while True:
        thin = {k for k, n in played.items() if n < MIN_STRATUM and k}
        if not thin:
            break
        for key in thin:
            n = played.pop(key)
            played[key[:-1]] = played.get(key[:-1], 0) + n
        for key, now in into.items():
            if now in thin:
                into[key] = now[:-1]
    for lead_id, key in stratum_of.items():
        stratum_of[lead_id] = into[key]


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
    design = _pick(store, campaign_id, size, seed, at=at, blackout=blackout)
    picked = design.picked + design.certain
    _build_sample(store, path, campaign_id, picked)
    copy = Store(path)
    try:
        _prepare(copy, campaign_id, at, blackout, tmp)
        before = copy.scalar("SELECT COALESCE(MAX(id), 0) FROM calls")
        run = _play(copy, campaign_id, at, seed, weights=design.weights, budget_s=budget_s,
                    design=design)
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
        totals, intervals = _scale(per_lead, design)
        finish, finish_interval = _finish(copy, clock.engine, campaign_id, before, ends,
                                          design)
        note = (f"simulated {len(picked):,} of {population:,} leads (a stratified random "
                "sample) at the campaign's pace, scaled")
        if clock.hit:
            note += "; " + clock.hit
        return Estimate(
            round(totals[0]), round(totals[1]), round(totals[2], 4), finish,
            round(totals[3]), "partial" if clock.hit else result.outcome, seed, note,
            intervals={name: intervals[i] for i, name in
                       enumerate(("calls", "minutes", "cost", "reached"))},
            finish_interval=finish_interval, sampled=len(picked),
            population=population)
    finally:
        copy.close()


def _scale(per_lead: dict[int, list[float]],
           design: _Design) -> tuple[list[float], list[tuple[float, float]]]:
    """Totals of the per-lead figures and their 95% intervals: the two-phase
    stratified estimator (Cochran, *Sampling Techniques*, 12.2). Each stratum's mean
    over its played leads, weighted by its share ``w_h`` of phase one, times the
    population; the variance adds phase one's (the strata's shares are themselves
    estimated, unless phase one is every lead) to phase two's within the strata. The
    leads taken whole (``design.certain``, outside the strata's population) add their
    own figures, with no width."""
    width = 4
    big_n, n1 = design.population, design.phase1
    members: dict[tuple, int] = {}
    for key in design.stratum_of.values():
        members[key] = members.get(key, 0) + 1
    played: dict[tuple, list[list[float]]] = {}
    for lead_id in design.picked:
        played.setdefault(design.stratum_of[lead_id], []).append(per_lead[lead_id])
    totals, variance = [0.0] * width, [0.0] * width
    for i in range(width):
        mean = within = between = 0.0
        stats = []
        for key, n1_h in members.items():
            rows = played.get(key)
            if not rows:
                continue            # (cannot happen: every stratum is played)
            values = [f[i] for f in rows]
            m_h, s2_h = sum(values) / len(values), _var(values)
            stats.append((n1_h / n1, m_h, s2_h, len(values), n1_h))
            mean += n1_h / n1 * m_h
        for w_h, m_h, s2_h, n2_h, n1_h in stats:
            within += w_h * s2_h * max(0.0, n1_h / n2_h - 1) / n1
            between += w_h * (m_h - mean) ** 2
        s2 = between + sum(w_h * s2_h for w_h, _m, s2_h, _n2, _n1 in stats)
        totals[i] = big_n * mean + sum(per_lead[lead_id][i] for lead_id in design.certain)
        variance[i] = big_n * big_n * (s2 * max(0.0, 1 / n1 - 1 / big_n) + within)
    intervals = [(max(0.0, t - Z95 * math.sqrt(v)), t + Z95 * math.sqrt(v))
                 for t, v in zip(totals, variance)]
    return totals, intervals


def _var(values: list[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return sum((v - mean) ** 2 for v in values) / (n - 1)


def _queued(copy: Store, queue, campaign_id: int, before: int) -> dict[int, float]:
    """lead -> seconds its callback dials waited after their window allowed them.

    A sampled dial spends the budget of every dial it stands for (``_play``), so a
    callback due just after a heavy lead's dial waits that dial's whole budget -- up
    to an hour, where the whole campaign would find a line within seconds. The wait
    is the fluid pace's, not the chain's: a chain's tail is counted without it."""
    waits: dict[int, float] = {}
    rows = copy.all(
        "SELECT a.lead_id, a.slot, a.due_at, (SELECT MIN(c.claimed_at) FROM calls c WHERE "
        "c.lead_id = a.lead_id AND c.kind LIKE 'callback:%' AND c.claimed_at >= a.due_at "
        "AND c.id > ?) FROM appointments a WHERE a.campaign_id = ? AND a.call_id > ?",
        (before, campaign_id, before))
    for lead_id, slot, due, claimed in rows:
        window = queue.window_for_slot(lead_id, slot)
        if claimed is None or window is None:
            continue
        opens = window.next_open(from_iso(due))
        if opens is not None:
            wait = (from_iso(claimed) - opens[0]).total_seconds()
            if wait > 0:
                waits[lead_id] = waits.get(lead_id, 0.0) + wait
    return waits


#: Request instants are tried on this grid (a due time's step is found to within it).
_GRID = timedelta(minutes=15)


def _finish(copy: Store, engine: Engine, campaign_id: int, before: int,
            ends: list[tuple[datetime, int]], design: _Design):
    """(finish time, (earliest, latest)) of the whole campaign: the median of its
    last call's end, from the sample's last call (earliest) to its 95th percentile
    (latest), from the sample's run and the campaign's pass/callback structure.

    The whole campaign's last call ends its latest callback chain, and it has many
    more chains than the sample played. A chain's due time is a step function of when
    and where the callee asked ("tomorrow at 3" asked after local midnight is a day
    later; "next Tuesday" asked on the Tuesday a week later). So for each form of
    words the sample's callees used and each zone group the last pass dialed, the
    latest due time it can have (asked at the group's last dial, through the engine's
    own callback parser and the group's window) and ``lam``, how many such requests
    the whole campaign makes after the step: the words' share of the last pass's
    (weighted) dials times that group's weighted dials after the step (a pass ends
    in a trickle, in a few zones). A chain ends a *tail* after its due time, drawn
    from the tails of the sample's chains in the same words (the same local hour: a
    chain due at 15:00 can run into the night, one due at 09:00 cannot). The chains
    being a Poisson process, P(last call <= x) = exp(-sum lam x P(tail > x - due)),
    and never before the sample's own last call. Zone groups the sample did not dial
    in the last pass count by their share of phase one's phones; a tail is counted
    without the waits the fluid pace adds (``_queued``).

    The groups of ``design.late`` are left out here: their chains in the last pass are
    played whole (``_late_callbacks``), and the finish is never before the last pass's
    hold (``_hold``). Measured against the full simulation (``bench/plan_bench.py``):
    at 100,000 leads its last call is one Honolulu+Chicago lead's chain, three hours
    after every other; the sample plays that lead whole and lands on it."""
    if not ends:
        return None, None
    weights, shares, certain = design.weights, design.groups, set(design.certain)
    last: dict[int, datetime] = {}
    for t, lead_id in ends:
        if lead_id not in last or t > last[lead_id]:
            last[lead_id] = t
    sample_last = max([*last.values(), *(t for t in design.held.values() if t)])
    top = copy.scalar("SELECT MAX(pass_no) FROM calls WHERE id > ? AND campaign_id = ? "
                      "AND kind = 'pass'", (before, campaign_id))
    by_group: dict[int, list[tuple[datetime, float]]] = {}
    for t, lead_id, group in copy.all(
            "SELECT c.claimed_at, c.lead_id, p.group_id FROM calls c JOIN lead_phones p "
            "ON p.lead_id = c.lead_id AND p.slot = c.slot WHERE c.id > ? AND c.campaign_id = ? "
            "AND c.kind = 'pass' AND c.pass_no = ? AND p.group_id IS NOT NULL",
            (before, campaign_id, top)):
        if lead_id not in certain:
            by_group.setdefault(group, []).append((from_iso(t), weights.get(lead_id, 1.0)))
    total = sum(w for dials in by_group.values() for _t, w in dials)
    if not total:
        return sample_last, (sample_last, sample_last)
    pass_start = min(t for dials in by_group.values() for t, _w in dials)
    parser, queue = engine.settler.callback_parser, engine.queue
    waited = _queued(copy, queue, campaign_id, before)
    heard: dict[str, float] = {}        # words -> weighted requests in the last pass
    tails: dict[str, list[float]] = {}  # words -> the sampled chains' tails (s)
    for lead_id, due, note, when in copy.all(
            "SELECT a.lead_id, a.due_at, a.note, c.ended_at FROM appointments a "
            "JOIN calls c ON c.id = a.call_id WHERE a.call_id > ? AND a.campaign_id = ? "
            "AND c.kind = 'pass'", (before, campaign_id)):
        if lead_id not in last or lead_id in certain:
            continue
        tail = (last[lead_id] - from_iso(due)).total_seconds() - waited.get(lead_id, 0.0)
        tails.setdefault(note, []).append(max(0.0, tail))
        if from_iso(when) >= pass_start:
            heard[note] = heard.get(note, 0.0) + weights.get(lead_id, 1.0)
    levels: list[tuple[datetime, float, list[float]]] = []     # (due, lam, tails)
    windows: dict[int, list[tuple[datetime, datetime]]] = {}
    parsed: dict[tuple, datetime] = {}
    everyone = sorted(t for dials in by_group.values() for t in dials)
    pass_end = everyone[-1][0]
    times = [t for t, _w in everyone]
    after_at = list(itertools.accumulate(reversed([w for _t, w in everyone])))[::-1] + [0.0]
    # Zone groups the sample did not dial in its last pass still have leads there in
    # the whole campaign (a rare group -- Honolulu with Chicago -- can hold its last
    # chain): their share of the phones, of every pass dial, to the pass's end. Groups
    # of the same zones are one.
    unseen: dict[tuple, list] = {}
    for g, share in shares.items():
        if g not in by_group and g not in design.late:
            zones = queue.window(g).zones
            unseen.setdefault(zones, [g, 0.0])[1] += share
    for note, count in heard.items():
        mine = sorted(tails[note])
        for group, dials in [*by_group.items(), *((g, share) for g, share in unseen.values())]:
            if group in design.late:
                continue        # its chains in the last pass are played whole
            window = queue.window(group)
            tz = window.zones[0] if window.zones else None
            end_g = max(t for t, _w in dials) if group in by_group else pass_end
            spans = windows.get(group)
            if spans is None:
                # The group's open spans from the pass's start, once: the bisection
                # below asks back and forth in time, which the window's own cache
                # (built forward from the last instant asked) would rebuild each time.
                spans = windows[group] = window.intervals(
                    pass_start, days=(end_g - pass_start).days + 16)  # > a week ahead

            def due_if_asked(k: int) -> datetime:
                """The due time of the words asked at grid instant ``k`` of the pass
                (the parse shared by every group of the zone)."""
                t = pass_start + k * _GRID
                got = parsed.get((note, tz, k))
                if got is None:
                    got = parsed[note, tz, k] = max(parser(note, t, tz), t)
                i = bisect.bisect_right(spans, (got,))
                for lo_, hi_ in spans[max(0, i - 1):]:
                    if hi_ > got:
                        return max(lo_, got)
                opens = window.next_open(got)
                return got if opens is None else opens[0]

            k_end = int((end_g - pass_start) / _GRID)
            late = due_if_asked(k_end)
            lo, hi = -1, k_end      # the step: bisection (the due time is monotone)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if due_if_asked(mid) >= late:
                    hi = mid
                else:
                    lo = mid
            step = pass_start + hi * _GRID
            if group in by_group:
                later = sum(w for t, w in dials if t >= step)
            else:
                later = dials * after_at[bisect.bisect_left(times, step)]
            lam = count / total * later
            if lam >= 0.01:
                levels.append((late, lam, mine))

    def p_by(x: datetime) -> float:
        """P(the campaign's last call ends by ``x``)."""
        expected = 0.0
        for due, lam, mine in levels:
            later = len(mine) - bisect.bisect_right(mine, (x - due).total_seconds())
            expected += lam * later / len(mine)
        return math.exp(-expected)

    candidates = sorted({sample_last} | {due + timedelta(seconds=t) for due, _l, mine in levels
                                         for t in mine if due + timedelta(seconds=t) > sample_last})

    def first_with(p: float) -> datetime:
        """The earliest candidate by which the last call has ended with chance >= p
        (``p_by`` grows with x: bisection)."""
        lo, hi = 0, len(candidates) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if p_by(candidates[mid]) >= p:
                hi = mid
            else:
                lo = mid + 1
        return candidates[lo]

    return first_with(0.5), (sample_last, first_with(0.95))


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
