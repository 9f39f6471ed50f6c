"""Compliance against the real engine on the simulator (virtual clock):

* property: no simulated dial ever falls outside any applicable window, and no number
  is dialed more often than its cap in any rolling 24 h;
* an opt-out added from another connection mid-campaign stops the very next dial;
* ``plan`` agrees with what a simulated run then does, and its estimate is that run.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialcli.compliance import policy as compliance
from dialcli.store import settings as ws
from dialcli.clock import VirtualClock, from_iso
from dialcli.conversation.rules import RuleBrain
from dialcli.engine.loop import Engine
from dialcli.models import Campaign
from dialcli.engine.plan import build_plan
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from dialcli.store import Store

import builders
from test_compliance_props import allowed_by_every_rule

UTC = timezone.utc
#: Each example is a whole simulated campaign; raise for a deeper local run.
EXAMPLES = int(os.environ.get("DIALCLI_PROP_ENGINE_EXAMPLES", "12"))
T = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)          # Tuesday 10:00 New York
POOL = ["3055550161", "4055550113", "4015550100", "5045550100", "7135550112", "6015550100",
        "8015550121", "6055550131", "2085550110", "6025550105", "2125550102", "4155550101",
        "2155550123", "8085550108", "9075550109", "2035550100", "4135550100"]
NOW_ISO = "2026-01-01T00:00:00.000Z"


def unanswered() -> SimProfile:
    return SimProfile.from_dict({"outcomes": {"human": 0.0, "voicemail": 0.0, "no_answer": 1.0,
                                              "busy": 0.0, "failed": 0.0}})


def run(store, cid, start, *, prof=None, seed_=1, provider=None, group_commit=None):
    provider = provider or SimulatedProvider(RuleBrain(), seed=seed_, profile=prof)
    engine = Engine(store, cid, provider, VirtualClock(start), group_commit=group_commit)
    return engine, engine.run()


def check_every_dial(store, cid) -> list[dict]:
    """Every call in the campaign was inside every applicable window and within its cap."""
    camp = Campaign.from_row(store.one("SELECT * FROM campaigns WHERE id = ?", (cid,)))
    policy = compliance.policy_for_campaign(store.conn, camp)
    calls = [dict(r) for r in store.all(
        "SELECT c.*, g.zones AS gz, g.region AS gr FROM calls c "
        "JOIN lead_phones lp ON lp.lead_id = c.lead_id AND lp.slot = c.slot "
        "JOIN zone_groups g ON g.id = lp.group_id WHERE c.campaign_id = ? ORDER BY c.id",
        (cid,))]
    for call in calls:
        at = from_iso(call["claimed_at"])
        group = policy.window_for(tuple(call["gz"].split(",")), call["gr"])
        assert allowed_by_every_rule(group, at), (call["e164"], at, group.explain(at))
    by_number: dict[str, list[datetime]] = {}
    for call in calls:
        by_number.setdefault(call["e164"], []).append(from_iso(call["claimed_at"]))
    for call in calls:
        times = by_number[call["e164"]]
        at = from_iso(call["claimed_at"])
        recent = [t for t in times if at - timedelta(hours=24) < t <= at]
        limit = compliance.cap_for_number(store.conn, call["e164"])
        assert limit <= policy.cap_for(call["gr"])
        assert len(recent) <= limit, (call["e164"], recent)
    dials = {r[0] for r in store.all("SELECT call_id FROM audit WHERE decision = 'dial'")}
    assert {c["id"] for c in calls} <= dials, "every dial has its audit row"
    return calls


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(picks=st.lists(st.lists(st.sampled_from(POOL), min_size=1, max_size=2, unique=True),
                      min_size=2, max_size=7),
       window=st.sampled_from([("08:00", "21:00"), ("09:00", "20:00"), ("10:00", "13:00")]),
       cap=st.integers(1, 4), attempts=st.integers(1, 3), retry=st.sampled_from([20, 90, 700]),
       start=st.datetimes(min_value=datetime(2026, 1, 2), max_value=datetime(2026, 12, 20),
                          timezones=st.just(UTC)),
       seed_=st.integers(0, 3))
def test_no_simulated_dial_outside_a_window_or_over_the_cap(tmp_path_factory, picks, window,
                                                            cap, attempts, retry, start, seed_):
    path = tmp_path_factory.mktemp("prop") / "w.db"
    store = Store(path)
    try:
        ws.set_value(store, "dial_cap_per_24h", str(cap), now_iso=NOW_ISO)
        cid = builders.campaign(store, window=window, max_attempts=attempts, retry=retry)
        builders.add_leads(store, cid, [{"phones": p} for p in picks])
        _, result = run(store, cid, start, prof=unanswered(), seed_=seed_)
        assert result.outcome == "completed"
        calls = check_every_dial(store, cid)
        assert calls, "something was dialable"
    finally:
        store.close()


def test_opt_out_added_mid_campaign_stops_the_next_dial(store, db_path):
    cid = builders.campaign(store, max_concurrent=1, max_attempts=2, retry=30)
    first, second = builders.add_leads(store, cid, [{"phones": ["2125550102"]},
                                           {"phones": ["2125550103", "2125550104"]}])

    class OtherTerminal(SimulatedProvider):
        """Runs `dnc add` from a second connection right after the first dial is placed."""

        def place(self, req):
            sid = super().place(req)
            if req.to == "+12125550102" and not getattr(self, "done", False):
                self.done = True
                other = Store(db_path)
                try:
                    with other.tx() as conn:
                        from dialcli.compliance import dnc
                        dnc.add(conn, ["+12125550103"], source="cli", reason="asked by email",
                                now_iso=builders.NOW_ISO)
                finally:
                    other.close()
            return sid

    provider = OtherTerminal(RuleBrain(), seed=1, profile=unanswered())
    # The other terminal writes from inside place(), on the engine's own thread, so
    # the engine must not be holding a group-commit transaction there.
    _, result = run(store, cid, T, provider=provider, group_commit=False)
    assert result.outcome == "completed"
    dialed = [r[0] for r in store.all("SELECT e164 FROM calls WHERE campaign_id = ? ORDER BY id",
                                      (cid,))]
    assert dialed[0] == "+12125550102"
    assert "+12125550103" not in dialed
    assert dialed.count("+12125550104") == 2 and dialed.count("+12125550102") == 2
    check_every_dial(store, cid)


def test_plan_agrees_with_the_simulated_run(store):
    cid = builders.campaign(store, max_concurrent=20, cps=50, max_attempts=1)
    builders.add_leads(store, cid, [
        {"phones": ["2125550102"]},                    # NY: now
        {"phones": ["4155550101"]},                    # CA: later today (07:00 local)
        {"phones": ["8085550108"]},                    # HI: later today (05:00 local)
        {"phones": ["8005551212"]},                    # toll free: never
        {"phones": ["8005551212", "3125550103"]},      # falls through to Chicago: now
        {"phones": ["4015550100"]},                    # RI: now (weekday 09:00-18:00)
        {"phones": ["2125550106", "2125550107"], "dead": {1: "wrong number"}},
    ])
    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)   # RI opens 10:00 on Saturdays
    plan = build_plan(store, cid, saturday, seed=3)
    assert plan.estimate is not None and plan.estimate.calls > 0
    assert store.scalar("SELECT COUNT(*) FROM calls") == 0      # the estimate used a copy
    run(store, cid, saturday, seed_=3)
    first: dict[tuple[int, int], datetime] = {}
    for lead_id, slot, claimed in store.all(
            "SELECT lead_id, slot, MIN(claimed_at) FROM calls WHERE campaign_id = ? "
            "GROUP BY lead_id, slot", (cid,)):
        first[(lead_id, slot)] = from_iso(claimed)
    for p in plan.phones:
        dialed = first.get((p.lead_id, p.slot))
        if p.category in ("blocked", "done"):
            assert dialed is None, (p.e164, p.reasons)
        elif p.current:
            assert dialed is not None, p.e164
            # Nothing is dialed before the plan said, and the next phone in line goes
            # at its permitted instant (capacity is ample here).
            assert dialed >= p.next_utc and dialed - p.next_utc < timedelta(seconds=5), \
                (p.e164, p.next_utc, dialed)
        elif dialed is not None:
            assert dialed >= p.next_utc
    p = {x.e164: x for x in plan.phones}
    # Saturday 10:00 in New York: Rhode Island's Saturday hours have just opened.
    assert (p["+14015550100"].category, p["+14015550100"].next_utc) == ("now", saturday)
    assert p["+14155550101"].next_utc == datetime(2026, 3, 7, 17, 0, tzinfo=UTC)
    assert p["+18085550108"].next_utc == datetime(2026, 3, 7, 19, 0, tzinfo=UTC)
    assert p["+18005551212"].category == "blocked"
    check_every_dial(store, cid)
    # The estimate is the run: same seed, same engine, same copy of the data.
    calls, minutes, last = store.one(
        "SELECT COUNT(*), COALESCE(SUM(billed_minutes), 0), MAX(COALESCE(ended_at, claimed_at)) "
        "FROM calls WHERE campaign_id = ?", (cid,))
    assert (plan.estimate.calls, plan.estimate.minutes) == (calls, minutes)
    assert plan.estimate.finish_at == from_iso(last)
