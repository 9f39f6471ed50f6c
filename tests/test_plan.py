"""``plan`` core: every number's next permitted instant, zones and source, rules, and why."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dialcli.compliance import dnc
from dialcli.compliance.rules import parse_blackout
from dialcli.clock import to_iso
from dialcli.errors import NotFoundError
from dialcli.engine.plan import build_plan

import builders

UTC = timezone.utc
T = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)      # Tuesday: 10:00 New York, 07:00 Los Angeles


def by_number(plan):
    return {p.e164: p for p in plan.phones}


@pytest.fixture
def campaign(store):
    return builders.campaign(store)


def test_categories_reasons_and_sources(store, campaign):
    ids = builders.add_leads(store, campaign, [
        {"name": "NY", "phones": ["2125550102"]},
        {"name": "LA", "phones": ["4155550101"]},
        {"name": "Toll free", "phones": ["8005551212", "3125550103"]},
        {"name": "Dead", "phones": ["6175550106", "6175550156"], "dead": {1: "wrong number"}},
        {"name": "Done", "phones": ["3125550104"], "status": "REACHED"},
        {"name": "Own tz", "phones": ["8005551213"], "timezone": "America/Chicago"},
        {"name": "Deferred", "phones": ["3125550105"],
         "next_try_at": to_iso(T + timedelta(hours=2))},
    ])
    plan = build_plan(store, campaign, T, estimate=False)
    p = by_number(plan)

    ny = p["+12125550102"]
    assert (ny.category, ny.next_utc, ny.reasons) == ("now", T, [])
    assert ny.zones == ["America/New_York"] and ny.zone_source == "number (area code 212)"
    assert ny.states == ["NY"] and ny.current and ny.cap_count == 0 and ny.cap_limit == 3
    assert ny.next_local == {"America/New_York": "2026-03-03T10:00:00-05:00 Tue"}
    assert ny.rules == ["campaign 09:00-20:00 within federal 08:00-21:00"]

    la = p["+14155550101"]
    assert la.category == "later_today"
    assert la.next_utc == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert la.closes_utc == datetime(2026, 3, 4, 4, 0, tzinfo=UTC)
    # California's artificial-voice hours (PUC 2872(c)) apply as well as the campaign's.
    assert la.reasons == ["outside hours: campaign 09:00-20:00, CA 09:00-21:00 "
                          "(America/Los_Angeles Tue 07:00)"]

    toll = p["+18005551212"]
    assert toll.category == "blocked" and "unknown time zone" in toll.reasons[0]
    assert toll.zone_source == "unknown" and toll.zones == []
    assert p["+13125550103"].category == "now" and not p["+13125550103"].current
    assert p["+16175550106"].reasons == ["phone retired: wrong number"]
    assert p["+13125550104"].category == "done" and p["+13125550104"].reasons == ["lead REACHED"]
    own = p["+18005551213"]
    assert own.category == "now" and own.zones == ["America/Chicago"]
    assert own.zone_source == "lead timezone column"
    deferred = p["+13125550105"]
    assert deferred.category == "later_today"
    assert deferred.next_utc == T + timedelta(hours=2)
    assert deferred.reasons == ["lead deferred at 2026-03-03T17:00:00.000Z"]

    assert p["+16175550156"].current and p["+16175550156"].category == "now"
    assert plan.totals == {"now": 4, "later_today": 2, "later": 0, "blocked": 2, "done": 1}
    # Leads by their next dial: the toll-free lead's phone 2 is dialable now.
    assert plan.lead_totals == {"now": 4, "later_today": 2, "later": 0, "blocked": 0, "done": 1}
    assert [x.row for x in plan.phones] == sorted(x.row for x in plan.phones)
    assert len(ids) == 7


def test_opt_out_and_frequency_cap(store, campaign):
    a, b, c = builders.add_leads(store, campaign, [
        {"phones": ["2125550102"]}, {"phones": ["2125550103", "2125550105"]},
        {"phones": ["2125550104"]}])
    # Opted out in a way that has not retired the phone yet (e.g. another process mid-way).
    store.execute("INSERT INTO dnc (e164, source, added_at) VALUES ('+12125550102', 'cli', 't')")
    with store.tx() as conn:
        dnc.add(conn, ["+12125550103"], source="cli", reason="x", now_iso=to_iso(T))
    other = builders.campaign(store, name="Other")
    for h in (20, 10, 1):   # three dials in the last 24 h, from another campaign
        builders.add_call(store, other, c, e164="+12125550104",
                          claimed_at=T - timedelta(hours=h), pass_no=h)
    p = by_number(build_plan(store, campaign, T, estimate=False))
    assert p["+12125550102"].category == "blocked" and p["+12125550102"].opt_out
    assert p["+12125550102"].reasons == ["on the opt-out list"]
    assert p["+12125550103"].reasons == ["phone retired: on the opt-out list"]
    assert p["+12125550105"].current and p["+12125550105"].category == "now"
    cap = p["+12125550104"]
    assert cap.category == "later_today" and cap.cap_count == 3
    assert cap.next_utc == T + timedelta(hours=4)             # the oldest dial + 24 h
    assert cap.reasons[0].startswith("frequency cap: 3 dial(s) in the last 24 h (limit 3)")


def test_state_days_blackout_and_the_users_day(store, campaign):
    builders.add_leads(store, campaign, [{"phones": ["4015550100"]}, {"phones": ["5045550100"]}])
    sunday = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    p = by_number(build_plan(store, campaign, sunday, estimate=False))
    ri = p["+14015550100"]
    assert ri.states == ["RI"] and ri.category == "later"
    assert ri.next_utc == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)      # Mon 09:00 EDT
    assert ri.reasons == ["RI: no calls on Sunday (America/New_York Sun 11:00)"]
    assert any(r.startswith("RI 09:00-18:00") for r in ri.rules)
    louisiana = p["+15045550100"]
    assert louisiana.states == ["LA"] and "LA: no calls on Sunday" in louisiana.reasons[0]
    blackout = parse_blackout("2026-03-09 LA Proclaimed day\n")
    p = by_number(build_plan(store, campaign, sunday, blackout=blackout, estimate=False))
    assert p["+15045550100"].next_utc == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    assert p["+14015550100"].next_utc == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    # "later today" is the user's day: 20:00 in Los Angeles is already tomorrow in UTC.
    evening = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)
    assert by_number(build_plan(store, campaign, evening, estimate=False))[
        "+15045550100"].category == "later_today"
    assert by_number(build_plan(store, campaign, evening, estimate=False,
                                local_tz=ZoneInfo("America/Los_Angeles")))[
        "+15045550100"].category == "later"


def test_callback_and_retry_pass_waits(store, campaign):
    due = T + timedelta(hours=3)
    cb, retry = builders.add_leads(store, campaign, [
        {"phones": ["2125550102", "2125550103"], "status": "CALLBACK", "callback_slot": 1,
         "callback_at": to_iso(due)},
        {"phones": ["2125550104"], "status": "RETRY", "pass_done": 1},
    ])
    with store.tx():
        store.execute("UPDATE campaigns SET next_pass_at = ? WHERE id = ?",
                      (to_iso(T + timedelta(hours=1)), campaign))
    p = by_number(build_plan(store, campaign, T, estimate=False))
    assert p["+12125550102"].next_utc == due and "callback due" in p["+12125550102"].reasons[0]
    assert p["+12125550103"].category == "blocked"
    assert "not the callback number" in p["+12125550103"].reasons[0]
    assert p["+12125550104"].next_utc == T + timedelta(hours=1)
    assert "next retry pass opens" in p["+12125550104"].reasons[0]


def test_plan_reads_only_and_serialises(store, campaign, db_path):
    builders.add_leads(store, campaign, [{"phones": ["2125550102"]}, {"phones": ["8005551212"]}])
    before = store.conn.total_changes
    dump = "\n".join(store.conn.iterdump())
    plan = build_plan(store, campaign, T, estimate=False)
    assert store.conn.total_changes == before and "\n".join(store.conn.iterdump()) == dump
    data = json.loads(json.dumps(plan.as_dict()))
    assert data["campaign"] == "Spring" and data["at"] == "2026-03-03T15:00:00.000Z"
    assert data["phones"][0]["next_utc"] == "2026-03-03T15:00:00.000Z"
    assert data["rules_version"].startswith("federal+states-")
    assert data["policy"]["cap_per_24h"] == 3 and data["estimate"] is None


def test_unknown_campaign(store):
    with pytest.raises(NotFoundError):
        build_plan(store, 999, T, estimate=False)


def test_a_lead_being_dialed_says_so(store, campaign):
    builders.add_leads(store, campaign, [{"phones": ["2125550102"], "status": "DIALING"}])
    (phone,) = build_plan(store, campaign, T, estimate=False).phones
    assert phone.reasons == ["a call to this lead is in progress"]


# -- the estimate from a random sample (issue 18 item 3) ------------------------------

@pytest.fixture(scope="module")
def big_campaign(tmp_path_factory):
    """2,400 leads (a third with two phones, numbers over four zones), line-bound
    pacing (3 lines, 1 call/s): the run spans days of virtual time."""
    import random

    from dialcli.store import Store

    path = tmp_path_factory.mktemp("plan-sample") / "big.db"
    store = Store(path)
    cid = builders.campaign(store, max_attempts=2, retry=120, max_concurrent=3, cps=1)
    rng = random.Random(4)
    areas = ["212", "415", "312", "808", "305", "602"]
    builders.add_leads(store, cid, [
        {"name": f"L{i}", "phones": [f"+1{rng.choice(areas)}555{i:04d}"]
         + ([f"+1{rng.choice(areas)}556{i:04d}"] if rng.random() < 0.33 else [])}
        for i in range(2400)])
    store.close()
    return path, cid


def test_a_sampled_estimate_agrees_with_the_full_simulation(big_campaign):
    """A random quarter of the leads, played at the campaign's pace (rate and
    lines scaled), gives every figure within 4% of the full simulation and an interval
    that holds it; the finish within a few hours (the full run's last callback chain
    is a rare event a sample may miss: the interval's upper end says how late)."""
    from dialcli.engine.estimate import simulate_estimate
    from dialcli.store import Store

    path, cid = big_campaign
    with Store(path) as store:
        sampled = simulate_estimate(store, cid, T, seed=2, sample=600)
        full = simulate_estimate(store, cid, T, seed=2, sample=0, budget_s=600)
    assert full.sampled is None and full.outcome == "completed"
    assert abs(sampled.sampled - 600) <= 80 and sampled.population == 2400
    assert sampled.outcome == "completed"
    for name in ("calls", "minutes", "cost", "reached"):
        got, want = getattr(sampled, name), getattr(full, name)
        lo, hi = sampled.intervals[name]
        assert abs(got - want) <= 0.04 * want, (name, got, want)
        assert lo <= want <= hi, (name, lo, want, hi)
    lo, hi = sampled.finish_interval
    assert lo <= sampled.finish_at <= hi
    assert abs(sampled.finish_at - full.finish_at) <= timedelta(hours=6), (sampled.finish_at,
                                                                           full.finish_at)


def test_a_sampled_estimate_writes_nothing_and_reads_only_the_sample(big_campaign):
    from dialcli.engine.estimate import simulate_estimate
    from dialcli.store import Store

    path, cid = big_campaign
    with Store(path) as store:
        before = store.scalar("SELECT COUNT(*) FROM calls"), store.scalar(
            "SELECT group_concat(status) FROM leads")
        est = simulate_estimate(store, cid, T, seed=5, sample=300)
        after = store.scalar("SELECT COUNT(*) FROM calls"), store.scalar(
            "SELECT group_concat(status) FROM leads")
    assert before == after and est.calls > 0
    data = est.as_dict()
    assert set(data["intervals"]) == {"calls", "minutes", "cost", "reached"}
    assert abs(data["sampled"] - 300) <= 55
    assert data["finish_interval"][0] <= data["finish_at"] <= data["finish_interval"][1]


def test_the_sample_is_stratified_by_what_its_dials_will_meet(big_campaign, tmp_path):
    """Phase one foresees each lead's pass dials from the simulator's own draws, with
    no engine: the foreseen count is the count the played sample makes (a lead whose
    number a state rule bans has none), and the strata it makes split the leads."""
    from dialcli.engine import estimate
    from dialcli.store import Store

    path, cid = big_campaign
    with Store(path) as store:
        design = estimate._pick(store, cid, 600, 3, foresee=10 ** 6)
    assert design.phase1 == design.population == 2400
    assert abs(len(design.picked) - 600) <= 60 and len(set(design.picked)) == len(design.picked)
    assert len(set(design.stratum_of.values())) >= 8
    copy_path = tmp_path / "sample.db"
    with Store(path) as store:
        estimate._build_sample(store, copy_path, cid, design.picked)
    with Store(copy_path) as copy:
        estimate._prepare(copy, cid, T, None, str(tmp_path))
        result, clock = estimate._play(copy, cid, T, 3, weights=design.weights)
        assert result.outcome == "completed" and clock.hit is None
        dials = dict(copy.all("SELECT lead_id, COUNT(*) FROM calls WHERE kind = 'pass' "
                              "GROUP BY lead_id"))
    foreseen = {i: design.stratum_of[i][1] for i in design.picked
                if len(design.stratum_of[i]) == 3}
    assert len(foreseen) >= 0.8 * len(design.picked)
    same = sum(dials.get(i, 0) == n for i, n in foreseen.items())
    assert same >= 0.97 * len(foreseen), (same, len(foreseen))


@pytest.fixture(scope="module")
def rare_honolulu(tmp_path_factory):
    """1,500 leads, one in 25 of them with a Honolulu (808) number: rare in a sample
    of 150, where the other zones are common."""
    import random

    from dialcli.store import Store

    path = tmp_path_factory.mktemp("plan-rare") / "rare.db"
    store = Store(path)
    cid = builders.campaign(store, max_attempts=2, retry=120, max_concurrent=3, cps=1)
    rng = random.Random(7)
    areas = ["212", "415", "312"]
    builders.add_leads(store, cid, [
        {"name": f"L{i}",
         "phones": [f"+1{'808' if rng.random() < 0.04 else rng.choice(areas)}555{i:04d}"]}
        for i in range(1500)])
    store.close()
    return path, cid


def test_callbacks_asked_late_in_a_rare_late_window_are_played_whole(rare_honolulu, tmp_path):
    """A finish is a maximum: with a sample too small to hold Honolulu (area 808) as a
    common zone, its window (opening after every other) is late, and every lead foreseen
    to ask for a callback in the last pass on such a number is played whole, outside the
    strata -- and does ask for it when played. Its figures enter the totals as they are."""
    from dialcli.engine import estimate
    from dialcli.store import Store

    path, cid = rare_honolulu
    with Store(path) as store:
        design = estimate._pick(store, cid, 150, 3, at=T)
        zones = {g: z for g, z in store.all("SELECT id, zones FROM zone_groups")}
        late_leads = store.scalar(
            "SELECT COUNT(DISTINCT lead_id) FROM lead_phones WHERE e164 LIKE '+1808%'")
    assert design.late and all("Pacific/Honolulu" in zones[g] for g in design.late)
    assert 0 < len(design.certain) < 0.2 * late_leads
    assert not set(design.certain) & set(design.stratum_of)
    assert all(design.weights[i] == 1.0 for i in design.certain)
    assert design.population + len(design.certain) == 1500
    copy_path = tmp_path / "sample.db"
    with Store(path) as store:
        estimate._build_sample(store, copy_path, cid, design.picked + design.certain)
    with Store(copy_path) as copy:
        estimate._prepare(copy, cid, T, None, str(tmp_path))
        result, _clock = estimate._play(copy, cid, T, 3, weights=design.weights)
        asked = {i for (i,) in copy.all(
            "SELECT lead_id FROM calls WHERE kind = 'pass' AND pass_no = 2 "
            "AND disposition = 'CALLBACK'")}
        per = {i: [n, 0, 0.0, 0] for i, n in copy.all(
            "SELECT lead_id, COUNT(*) FROM calls GROUP BY lead_id")}
    assert result.outcome == "completed"
    assert len(asked & set(design.certain)) >= 0.9 * len(design.certain)
    exact = estimate._Design(design.population, design.phase1, design.stratum_of,
                             design.picked, design.weights, certain=design.certain)
    without = estimate._Design(design.population, design.phase1, design.stratum_of,
                               design.picked, design.weights)
    per.update({i: [0, 0, 0.0, 0] for i in design.picked + design.certain if i not in per})
    got, lo_hi = estimate._scale(per, exact)
    base, base_lo_hi = estimate._scale(per, without)
    assert got[0] - base[0] == sum(per[i][0] for i in design.certain)
    assert lo_hi[0][1] - lo_hi[0][0] == pytest.approx(base_lo_hi[0][1] - base_lo_hi[0][0])


def test_a_pass_waits_for_the_day_closed_leads_the_sample_does_not_hold():
    """The whole campaign's pass is over when its last lead is dialed: a foreseen dial
    on a number whose state closes Sundays, placed past every dial the sample made
    before Saturday's close, waits for Monday's opening; one the sample's dials passed
    while its window was open was dialed then (no hold); a window open at the end
    holds nothing."""
    from dialcli.compliance.policy import CallingPolicy
    from dialcli.compliance.rules import StateRow, StateRule
    from dialcli.engine.estimate import _hold

    policy = CallingPolicy(("09:00", "20:00"))
    weekend = StateRule(StateRow(state="SD", source="test", confidence="high",
                                 saturday="closed", sunday="closed"))
    shut = policy.window_for(("America/Chicago",), "US-SD")
    shut.rules = (*shut.rules, weekend)
    windows = {1: shut, 2: policy.window_for(("America/New_York",), "")}
    friday = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)      # 14:00 in Chicago
    end = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)         # Saturday, New York open
    claims = [(1, i, friday + timedelta(minutes=i)) for i in range(1, 60)] + \
             [(2, i, end - timedelta(hours=2) + timedelta(minutes=i)) for i in range(1, 60)]
    monday = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)      # 09:00 CDT
    assert _hold(claims, end, [(2, 70, 1)], windows.get) == monday
    assert _hold(claims, end, [(1, 30, 1)], windows.get) is None
    assert _hold(claims, end, [(2, 70, 2)], windows.get) is None
    assert _hold(claims, end, [], windows.get) is None


def test_the_two_phase_totals_are_exact_when_every_lead_is_played():
    """Every lead foreseen and played: each total is the sum, with no width; a
    sample of each stratum scales by the stratum's share and has an interval."""
    from dialcli.engine.estimate import _Design, _scale

    per = {i: [i % 3, 2 * (i % 3), 0.5 * (i % 3), i % 2] for i in range(1, 41)}
    strata = {i: ("REACHED", i % 3) for i in per}
    totals, intervals = _scale(per, _Design(40, 40, strata, list(per), dict.fromkeys(per, 1.0)))
    assert totals == [sum(f[k] for f in per.values()) for k in range(4)]
    assert all(lo == hi == t for (lo, hi), t in zip(intervals, totals))
    half = [i for i in per if i <= 20 or i % 3 == 0]
    totals, intervals = _scale(per, _Design(400, 40, strata, half, dict.fromkeys(half, 10.0)))
    assert totals[0] == 400 * sum(f[0] for f in per.values()) / 40    # stratum means exact
    assert all(lo < t < hi for (lo, hi), t in zip(intervals, totals) if t)


def test_the_cap_explanation_says_florida_counts_the_person(store):
    """Florida counts calls to the consumer whatever number is dialed (501.059(8)(a)):
    the plan counts as the claim does -- three dials to phones 1 and 2 hold phone 3."""
    from builders import NOW, add_call

    miami = ["+13055550101", "+13055550102", "+13055550103"]
    cid = builders.campaign(store, "Florida", purpose="telemarketing", consent="written",
                            max_attempts=5)
    (lead_id,) = builders.add_leads(store, cid, [{"phones": miami, "status": "RETRY",
                                                  "slot": 3, "pass_no": 2,
                                                  "consent": "written"}])
    for (slot, pass_no), h in zip(((1, 1), (2, 1), (1, 2)), (1, 2, 3)):
        add_call(store, cid, lead_id, slot=slot, pass_no=pass_no, disposition="NO_ANSWER",
                 claimed_at=NOW - timedelta(hours=h))
    plan = build_plan(store, cid, NOW, estimate=False)
    p3 = by_number(plan)[miami[2]]
    assert p3.cap_scope == "consumer" and p3.cap_numbers == sorted(miami)
    assert p3.cap_count == 3 and p3.cap_limit == 3
    # The cap lifts at 12:00 UTC (07:00 in Miami); the campaign window opens at 09:00.
    assert p3.next_utc == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
    assert p3.reasons[0] == (
        "frequency cap per consumer (FL law counts calls to the person whatever number is "
        "dialed): 3 dial(s) to the lead's 3 number(s) in the last 24 h (limit 3) until "
        "2026-03-04T12:00:00.000Z")
    assert plan.policy["consumer_cap_states"] == ["FL", "MD", "OK"]
    # A New York lead keeps its per-number count.
    ny = builders.campaign(store, "York")
    builders.add_leads(store, ny, [{"phones": ["+12125550190"]}])
    (p,) = build_plan(store, ny, NOW, estimate=False).phones
    assert p.cap_scope == "number" and p.cap_numbers == []
