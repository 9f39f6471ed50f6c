"""Properties: ``next_open`` never offers an instant any applicable rule forbids, never
skips a permitted one, and a dialer that obeys ``check_cap`` never exceeds the cap."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialcli.compliance.rules import FEDERAL_END, FEDERAL_START, parse_blackout
from dialcli.compliance.policy import CallingPolicy, cap_bounds, cap_count_sql, check_cap
from dialcli.compliance.rules import zone_info

import builders

UTC = timezone.utc
#: More examples for a deeper local run: DIALCLI_PROP_EXAMPLES=5000 pytest ...
EXAMPLES = int(os.environ.get("DIALCLI_PROP_EXAMPLES", "300"))
ZONE_GROUPS = [
    ("America/New_York",), ("America/Chicago",), ("America/Denver",), ("America/Phoenix",),
    ("America/Los_Angeles",), ("Pacific/Honolulu",), ("America/Anchorage",),
    ("America/Boise", "America/Los_Angeles"), ("America/Adak", "America/Anchorage"),
    ("America/Denver", "America/North_Dakota/Center"), ("America/New_York", "America/Chicago"),
    ("America/St_Johns",),
]
STATES = ["FL", "OK", "MD", "WA", "CT", "MA", "MS", "LA", "AL", "RI", "UT", "PA", "SD", "NV",
          "KY", "MN", "TX", "IL", "MI", "NM", "NE", "NY", "CA", "ID", "AK", "AZ"]
BLACKOUT = parse_blackout("2026-03-10 ALL\n2026-07-20..2026-07-22 TX,LA storm\n"
                          "2026-11-27 PA,NY\n")
WINDOWS = [("08:00", "21:00"), ("09:00", "20:00"), ("10:00", "12:00"), ("08:30", "17:45")]

instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20),
                        timezones=st.just(UTC))


def allowed_by_every_rule(group, at: datetime) -> bool:
    """Independent of the interval machinery: ask each rule about local wall time."""
    for name in group.zones:
        local = at.astimezone(zone_info(name))
        t = local.time().replace(tzinfo=None)
        if not (FEDERAL_START <= t < FEDERAL_END):
            return False
        for rule in group.rules:
            spans, _ = rule.allowed(name, local.date())
            if not any(s <= t < e for s, e in spans):
                return False
    return True


@settings(max_examples=EXAMPLES, deadline=None)
@given(zones=st.sampled_from(ZONE_GROUPS),
       states=st.lists(st.sampled_from(STATES), min_size=0, max_size=2, unique=True),
       window=st.sampled_from(WINDOWS), blackout=st.booleans(), at=instants,
       fractions=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=4))
def test_next_open_is_permitted_and_earliest(zones, states, window, blackout, at, fractions):
    policy = CallingPolicy(window, blackout=BLACKOUT if blackout else None)
    region = ",".join(f"US-{s}" for s in states) or "US"
    group = policy.window_for(zones, region)
    got = group.next_open(at)
    assert got is not None, "every group here opens within weeks"
    lo, hi = got
    assert at <= lo < hi
    # Every instant offered is permitted by every rule in every zone...
    for f in fractions:
        # (timedelta * float rounds to microseconds: keep the probe inside [lo, hi))
        probe = min(max(lo + (hi - lo) * f, lo), hi - timedelta(microseconds=1))
        assert allowed_by_every_rule(group, probe), (probe, group.explain(probe))
    assert allowed_by_every_rule(group, hi - timedelta(seconds=1))
    # ...the window really closes at hi (or a rule changes exactly there)...
    assert not allowed_by_every_rule(group, hi) or group.next_open(hi)[0] == hi
    # ...and nothing earlier was skipped: minute probes between at and lo are closed.
    if lo > at:
        step = max((lo - at) / 12, timedelta(minutes=1))
        probe = at
        while probe < lo - timedelta(seconds=1):
            assert not allowed_by_every_rule(group, probe), probe
            probe += step
        assert not allowed_by_every_rule(group, lo - timedelta(seconds=1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 5),
       gaps=st.lists(st.integers(1, 600), min_size=1, max_size=30))
def test_a_dialer_obeying_check_cap_never_exceeds_it(store, limit, gaps):
    """Attempts every few minutes; dial only when check_cap allows: no rolling 24 h
    window ever holds more than ``limit`` dials, and a refusal names a time that works."""
    store.execute("DELETE FROM calls")
    cid = store.scalar("SELECT id FROM campaigns LIMIT 1") or builders.campaign(store)
    lid = store.scalar("SELECT id FROM leads LIMIT 1") or \
        builders.add_leads(store, cid, [{"phones": ["2125550102"]}])[0]
    t = datetime(2026, 3, 3, 15, tzinfo=UTC)
    dialed: list[datetime] = []
    for k, gap in enumerate(gaps):
        t += timedelta(minutes=gap * 7)
        count, not_before = check_cap(store.conn, "+12125550102", t, limit=limit)
        assert count == sum(1 for d in dialed if d > t - timedelta(hours=24))
        if not_before is None:
            builders.add_call(store, cid, lid, e164="+12125550102", claimed_at=t, pass_no=k + 1)
            dialed.append(t)
        else:
            assert not_before > t
            assert check_cap(store.conn, "+12125550102", not_before, limit=limit)[1] is None
    for d in dialed:
        assert sum(1 for x in dialed if d - timedelta(hours=24) < x <= d) <= limit


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 4),
       calls=st.lists(st.tuples(st.integers(-2000, 200), st.booleans(),
                                st.sampled_from(["completed", "canceled", "claimed"])),
                      max_size=12),
       simulated=st.sampled_from([None, True, False]))
def test_the_cap_count_a_claim_folds_into_its_read_is_check_caps(store, limit, calls, simulated):
    """The claim counts a number's dials with the lead (``cap_count_sql``) and hands the
    count to ``check_cap``: the count and the answer are those ``check_cap`` reads
    itself, whichever calls (simulated or real, canceled, in or out of the window)."""
    store.execute("DELETE FROM calls")
    cid = store.scalar("SELECT id FROM campaigns LIMIT 1") or builders.campaign(store)
    lid = store.scalar("SELECT id FROM leads LIMIT 1") or \
        builders.add_leads(store, cid, [{"phones": ["2125550102"]}])[0]
    at = datetime(2026, 3, 3, 15, tzinfo=UTC)
    for k, (minutes, sim, status) in enumerate(calls):
        call_id = builders.add_call(store, cid, lid, e164="+12125550102", status=status,
                                    claimed_at=at + timedelta(minutes=minutes), pass_no=k + 1)
        if not sim:
            with store.tx():
                store.execute("UPDATE calls SET provider = 'twilio' WHERE id = ?", (call_id,))
    folded = store.conn.execute(f"SELECT {cap_count_sql('?', simulated)}",
                                ("+12125550102", *cap_bounds(at))).fetchone()[0]
    full = check_cap(store.conn, "+12125550102", at, limit=limit, simulated=simulated)
    assert folded == full[0]
    assert check_cap(store.conn, "+12125550102", at, limit=limit, simulated=simulated,
                     count=folded) == full
