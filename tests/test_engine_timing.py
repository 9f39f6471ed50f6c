"""Property tests: the virtual clock never steps past an instant at which a dial
becomes permitted (issue 18 item 1), and no sliding second holds more dials than the
campaign's rate allows (item 2).

Each claim is checked against an independent reconstruction from the rows the run
left: a callback's due time (its appointment), the number's calling window
(``GroupWindow.next_open``), its frequency cap (the claims in the rolling 24 h before)
and the concurrency limit. A dial later than the first permitted instant is allowed
only while every line was busy.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dialcli.clock import VirtualClock, from_iso
from dialcli.compliance import policy as compliance
from dialcli.engine.loop import Engine
from dialcli.models import Campaign
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from dialcli.store import Store
import builders
from test_scheduler import most_in_one_second
from fakes.keyword_brain import KeywordBrain

# No consumer-cap state here (FL 305 counts per person: checked in test_consumer_cap).
AREAS = ["212", "415", "208", "907", "602", "808", "701"]
START = datetime(2026, 3, 6, 12, 0, tzinfo=timezone.utc)   # Friday, before DST starts
EPS = timedelta(milliseconds=2)


@st.composite
def callback_campaigns(draw):
    n = draw(st.integers(2, 14))
    leads, used = [], set()
    for i in range(n):
        phones = []
        for j in range(draw(st.integers(1, 3))):
            number = f"+1{draw(st.sampled_from(AREAS))}555{(100 + i * 3 + j):04d}"
            if number not in used:
                used.add(number)
                phones.append(number)
        if phones:
            leads.append({"name": f"L{i}", "phones": phones})
    return {
        "leads": leads,
        "max_attempts": draw(st.integers(1, 3)),
        "retry": draw(st.sampled_from([5, 60, 240, 1440])),
        "max_concurrent": draw(st.integers(1, 4)),
        "cps": draw(st.sampled_from([0.5, 1, 2, 5])),
        "window": draw(st.sampled_from([("09:00", "20:00"), ("08:00", "21:00"),
                                        ("10:00", "12:00")])),
        "seed": draw(st.integers(0, 10_000)),
        "human": draw(st.floats(0.3, 1.0)),
        "callback": draw(st.floats(0.3, 1.0)),
    }


def run_campaign(tmp_path_factory, spec):
    path = tmp_path_factory.mktemp("timing") / "t.db"
    store = Store(path)
    cid = builders.campaign(store, window=spec["window"], retry=spec["retry"],
                            max_attempts=spec["max_attempts"],
                            max_concurrent=spec["max_concurrent"], cps=spec["cps"])
    builders.add_leads(store, cid, spec["leads"])
    profile = SimProfile.from_dict({
        "outcomes": {"human": spec["human"], "no_answer": 1 - spec["human"] + 0.05},
        "personas": {"callback": spec["callback"], "interested": 1 - spec["callback"] + 0.05}})
    provider = SimulatedProvider(KeywordBrain(), seed=spec["seed"], profile=profile)
    result = Engine(store, cid, provider, VirtualClock(START)).run()
    assert result.outcome == "completed"
    return store, cid


def _busy(rows, at: datetime) -> int:
    """Calls holding a line at ``at`` (claimed at or before it, not yet ended)."""
    return sum(1 for r in rows if r["claimed"] <= at < r["ended"])


def _permitted(store, window, e164, due, claims, limit):
    """The first instant >= ``due`` the window and the number's cap allow, given the
    claims of that number made before."""
    t = due
    for _ in range(50):
        span = window.next_open(t)
        assert span is not None
        t = span[0]
        recent = [c for c in claims if t - compliance.CAP_WINDOW < c <= t]
        if len(recent) < limit:
            return t
        t = recent[len(recent) - limit] + compliance.CAP_WINDOW + timedelta(microseconds=1)
    raise AssertionError("no permitted instant found")


def _rows(store, cid):
    rows = []
    for r in store.all("SELECT c.*, p.group_id FROM calls c JOIN lead_phones p "
                       "ON p.lead_id = c.lead_id AND p.slot = c.slot "
                       "WHERE c.campaign_id = ? ORDER BY c.id", (cid,)):
        r = dict(r)
        r["claimed"], r["ended"] = from_iso(r["claimed_at"]), from_iso(r["ended_at"])
        rows.append(r)
    return rows


def _pass_opens(rows, retry: timedelta) -> dict[int, datetime]:
    """When each pass opened: ``retry`` after the instant its predecessor was over (its
    last pass dial ended and no call, a callback included, held a line)."""
    opens = {1: START}
    passes = sorted({r["pass_no"] for r in rows if r["kind"] == "pass"})
    for k in passes[1:]:
        t = max(r["ended"] for r in rows if r["kind"] == "pass" and r["pass_no"] == k - 1)
        while True:
            holding = [r["ended"] for r in rows if r["claimed"] <= t < r["ended"]]
            if not holding:
                break
            t = max(holding)
        opens[k] = t + retry
    return opens


def _ready(rows, i: int, opens: dict[int, datetime], due_of: dict[int, datetime]) -> datetime:
    """The instant call ``i``'s dial was owed: a callback's due time; a pass dial's
    pass opening, or the end of the lead's previous dial in the same pass."""
    r = rows[i]
    before = [x for x in rows[:i] if x["lead_id"] == r["lead_id"]]
    if r["kind"] != "pass":
        return due_of[before[-1]["id"]]
    same_pass = [x for x in before if x["kind"] == "pass" and x["pass_no"] == r["pass_no"]]
    return same_pass[-1]["ended"] if same_pass else opens[r["pass_no"]]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=callback_campaigns())
def test_every_dial_happens_at_its_first_permitted_instant(tmp_path_factory, spec):
    """Callbacks at their due time, pass dials when their pass (or their lead's next
    phone) comes up, window openings: each at the first instant the window and the
    cap allow, or later only while every line is busy or the pacer has just dialed."""
    store, cid = run_campaign(tmp_path_factory, spec)
    campaign = Campaign.from_row(store.one("SELECT * FROM campaigns WHERE id = ?", (cid,)))
    policy = compliance.policy_for_campaign(store.conn, campaign)
    groups = {gid: policy.window_for(tuple(z for z in zones.split(",") if z), region)
              for gid, zones, region in store.all("SELECT id, zones, region FROM zone_groups")}
    limit = compliance.cap_for_regions(compliance.settings_snapshot(store.conn), {"US"})
    rows = _rows(store, cid)
    due_of = {call_id: from_iso(due) for call_id, due in
              store.all("SELECT call_id, due_at FROM appointments")}
    opens = _pass_opens(rows, timedelta(minutes=spec["retry"]))
    pace = timedelta(seconds=1 / spec["cps"])
    for i, r in enumerate(rows):
        ready = _ready(rows, i, opens, due_of)
        claims = [x["claimed"] for x in rows[:i] if x["e164"] == r["e164"]]
        p = _permitted(store, groups[r["group_id"]], r["e164"], ready, claims, limit)
        assert r["claimed"] >= p - EPS, (r, p)
        # Later than the first permitted instant only while no line was free or the
        # pacer had just dialed: check every instant at which one of those changes.
        candidates = [p] + [x["ended"] for x in rows] + [x["claimed"] + pace for x in rows]
        for at in sorted(t for t in candidates if p <= t < r["claimed"] - EPS):
            paced = any(at - pace < x["claimed"] <= at for x in rows if x["id"] != r["id"])
            assert paced or _busy(rows, at) >= spec["max_concurrent"], (
                f"{r['kind']} dial {r['id']} owed {ready} permitted {p} dialed "
                f"{r['claimed']}: a line was free at {at}")
    store.close()


@pytest.mark.parametrize("cps", [0.5, 1, 2, 2.5, 3, 7])
def test_simulated_dials_never_burst_and_keep_the_rate(tmp_path, cps):
    """Item 2 on the simulator: a rate-bound campaign (lines to spare) places no more
    than ceil(cps) dials in any sliding second, and cps x 60 in its first minute (5%)."""
    store = Store(tmp_path / "pace.db")
    cid = builders.campaign(store, window=("08:00", "21:00"), max_attempts=1,
                            max_concurrent=100, cps=cps)
    n = int(cps * 70) + 5
    builders.add_leads(store, cid, [{"name": f"L{i}", "phones": [f"+1212555{1000 + i:04d}"]}
                                    for i in range(n)])
    provider = SimulatedProvider(KeywordBrain(), seed=3, record=True,
                                 profile=SimProfile.from_dict({"outcomes": {"no_answer": 1},
                                                                "timing": {"ring_timeout": 5}}))
    assert Engine(store, cid, provider, VirtualClock(START)).run().outcome == "completed"
    placed = sorted(from_iso(r[0]) for r in store.all("SELECT claimed_at FROM calls"))
    assert len(placed) == n
    assert most_in_one_second(placed) <= math.ceil(cps)
    first_minute = [t for t in placed if t < placed[0] + timedelta(seconds=60)]
    assert abs(len(first_minute) - cps * 60) <= 0.05 * cps * 60 + 1, len(first_minute)
    store.close()
