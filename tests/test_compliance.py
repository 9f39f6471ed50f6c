"""Calling-window policy: state rules (table-driven), zone edges, caps, blackout dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dialcli.store import audit as store_audit
from dialcli.results import audit as results_audit
from dialcli.compliance import policy as compliance

from dialcli.store import settings
from dialcli.compliance.rules import parse_blackout, parse_state_rules, shipped_state_rules
from dialcli.compliance.policy import CallingPolicy, check_cap, policy_for_campaign
from dialcli.errors import InputError
from dialcli.models import Campaign

import builders

UTC = timezone.utc
NY, CHI, DEN, LA_, PHX = ("America/New_York", "America/Chicago", "America/Denver",
                          "America/Los_Angeles", "America/Phoenix")
WIDE = ("08:00", "21:00")   # the widest campaign window: only state rules narrow it


def permitted(state: str | None, zone: str, local: str, window=WIDE, policy=None) -> bool:
    policy = policy or CallingPolicy(window)
    region = f"US-{state}" if state else "US"
    at = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return policy.window_for((zone,), region).is_open(at)


# state, zone, local time, dialable?  (2026-03-03 is a Tuesday; 03-07 Sat; 03-08 Sun)
STATE_CASES = [
    ("FL", NY, "2026-03-03T08:00", True), ("FL", NY, "2026-03-03T07:59", False),
    ("FL", NY, "2026-03-03T19:59", True), ("FL", NY, "2026-03-03T20:00", False),
    ("FL", NY, "2026-03-08T10:00", True),
    ("OK", CHI, "2026-03-03T08:30", False),  # recorded-message (ADAD) rule: 09:00
    ("OK", CHI, "2026-03-03T09:00", True), ("OK", CHI, "2026-03-03T20:00", False),
    ("MD", NY, "2026-03-03T08:00", True), ("MD", NY, "2026-03-03T20:00", False),
    ("WA", LA_, "2026-03-03T19:59", True), ("WA", LA_, "2026-03-03T20:00", False),
    ("CT", NY, "2026-03-03T08:59", False), ("CT", NY, "2026-03-03T09:00", True),
    ("CT", NY, "2026-03-03T20:00", False),
    ("MA", NY, "2026-03-03T08:00", True), ("MA", NY, "2026-03-03T20:00", False),
    # Mississippi: 08:00-20:00 Central *Standard* Time: in summer that is 09:00 CDT.
    ("MS", CHI, "2026-01-13T08:00", True), ("MS", CHI, "2026-07-07T08:30", False),
    ("MS", CHI, "2026-07-07T09:00", True), ("MS", CHI, "2026-07-07T19:59", True),
    ("MS", CHI, "2026-07-07T20:00", False), ("MS", CHI, "2026-03-08T12:00", False),
    ("LA", CHI, "2026-03-03T10:00", True), ("LA", CHI, "2026-03-03T20:00", False),
    ("LA", CHI, "2026-03-08T12:00", False),                  # Sunday
    ("LA", CHI, "2026-02-17T12:00", False),                  # Mardi Gras
    ("LA", CHI, "2026-09-07T12:00", False),                  # Labor Day
    ("LA", CHI, "2026-07-03T12:00", False),                  # Independence Day (observed)
    ("AL", CHI, "2026-03-03T19:59", True), ("AL", CHI, "2026-03-08T12:00", False),
    ("AL", CHI, "2026-04-27T12:00", False),                  # Confederate Memorial Day
    ("RI", NY, "2026-03-03T08:59", False), ("RI", NY, "2026-03-03T09:00", True),
    ("RI", NY, "2026-03-03T17:59", True), ("RI", NY, "2026-03-03T18:00", False),
    ("RI", NY, "2026-03-07T09:59", False), ("RI", NY, "2026-03-07T10:00", True),
    ("RI", NY, "2026-03-07T16:59", True), ("RI", NY, "2026-03-07T17:00", False),
    ("RI", NY, "2026-03-08T12:00", False), ("RI", NY, "2026-08-10T12:00", False),  # Victory Day
    ("UT", DEN, "2026-03-03T20:59", True), ("UT", DEN, "2026-03-08T12:00", False),
    ("UT", DEN, "2026-07-24T12:00", False),                  # Pioneer Day
    ("PA", NY, "2026-03-03T20:59", True), ("PA", NY, "2026-03-07T11:59", True),
    ("PA", NY, "2026-03-07T12:00", False),                   # Saturday chart row (L)
    ("PA", NY, "2026-11-27T12:00", False),                   # Day After Thanksgiving
    ("PA", NY, "2026-03-08T12:00", True),
    ("SD", CHI, "2026-03-03T08:59", False), ("SD", CHI, "2026-03-03T09:00", True),
    ("SD", CHI, "2026-03-07T12:00", False), ("SD", CHI, "2026-03-08T12:00", False),
    ("NV", LA_, "2026-03-03T08:59", False), ("NV", LA_, "2026-03-03T19:59", True),
    ("NV", LA_, "2026-03-03T20:00", False),
    ("KY", NY, "2026-03-03T09:59", False), ("KY", NY, "2026-03-03T10:00", True),
    ("MN", CHI, "2026-03-03T08:59", False), ("MN", CHI, "2026-03-03T20:59", True),
    ("TX", CHI, "2026-03-03T08:59", False), ("TX", CHI, "2026-03-03T09:00", True),
    ("TX", CHI, "2026-03-08T11:59", False), ("TX", CHI, "2026-03-08T12:00", True),
    ("IL", CHI, "2026-03-03T08:59", False), ("IL", CHI, "2026-03-03T20:59", True),
    ("MI", NY, "2026-03-03T08:59", False), ("MI", NY, "2026-03-03T09:00", True),
    ("NM", DEN, "2026-03-03T08:59", False), ("NM", DEN, "2026-03-03T09:00", True),
    ("NE", CHI, "2026-03-03T08:00", True), ("NE", CHI, "2026-03-08T12:59", False),
    ("NE", CHI, "2026-03-08T13:00", True), ("NE", CHI, "2026-05-25T12:00", False),
    ("NE", CHI, "2026-05-25T13:00", True),                   # Memorial Day: 13:00-21:00
    # No state rule: the federal 08:00-21:00 only, Sundays and holidays included.
    ("NY", NY, "2026-03-03T08:00", True), ("NY", NY, "2026-03-03T20:59", True),
    ("NY", NY, "2026-03-03T21:00", False), ("NY", NY, "2026-03-08T08:00", True),
    ("CA", LA_, "2026-07-03T12:00", True), (None, NY, "2026-03-03T07:59", False),
]


@pytest.mark.parametrize("state,zone,local,expected", STATE_CASES,
                         ids=[f"{s}-{t}-{e}" for s, _, t, e in STATE_CASES])
def test_state_rule(state, zone, local, expected):
    assert permitted(state, zone, local) is expected


def test_every_shipped_state_has_cases():
    states = {row.state for row in shipped_state_rules()[1]}
    tested = {s for s, *_ in STATE_CASES}
    assert states <= tested, f"untested state rules: {sorted(states - tested)}"


def test_shipped_rows_carry_source_and_confidence():
    version, rows = shipped_state_rules()
    assert version and f"+states-{version}+" in compliance.RULES_VERSION
    for row in rows:
        assert row.source and row.confidence[0] in "HML"
    assert compliance.STATUTORY_CAPS == {"FL": 3, "OK": 3, "MD": 3}


@pytest.mark.parametrize("text,error", [
    ('version = "1"\n[[rule]]\nstate = "ZZ"\nsource = "x"\nconfidence = "H"', "unknown state"),
    ('version = "1"\n[[rule]]\nstate = "FL"\nconfidence = "H"', "source"),
    ('version = "1"\n[[rule]]\nstate = "FL"\nsource = "x"\nconfidence = "X"', "confidence"),
    ('version = "1"\n[[rule]]\nstate = "FL"\nsource = "x"\nconfidence = "H"\nwindow = "9-5"',
     "not a time"),
    ('version = "1"\n[[rule]]\nstate = "FL"\nsource = "x"\nconfidence = "H"\nsundays = "closed"',
     "unknown field"),
    ('version = "1"\n[[rule]]\nstate = "FL"\nsource = "x"\nconfidence = "H"\nbasis = "CST"',
     "basis"),
    ('[[rule]]\nstate = "FL"\nsource = "x"\nconfidence = "H"', "version"),
])
def test_state_rules_file_is_validated(text, error):
    with pytest.raises(ValueError, match=error):
        parse_state_rules(text)


def test_campaign_window_narrows_and_federal_limit_holds():
    assert not permitted(None, NY, "2026-03-03T08:59", window=("09:00", "20:00"))
    assert permitted(None, NY, "2026-03-03T09:00", window=("09:00", "20:00"))
    # Even a (corrupt) campaign row wider than federal is clamped to 08:00-21:00.
    assert not permitted(None, NY, "2026-03-03T07:30", window=("07:00", "22:00"))
    assert not permitted(None, NY, "2026-03-03T21:30", window=("07:00", "22:00"))


# -- zone edges ------------------------------------------------------------------------

def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_dst_spring_forward_and_fall_back():
    g = CallingPolicy(("09:00", "20:00")).window_for((NY,), "US-NY")
    # Saturday before the switch: 09:00 EST = 14:00 UTC; Sunday (switch day): 09:00 EDT = 13:00.
    assert g.next_open(_utc("2026-03-07T05:00"))[0] == _utc("2026-03-07T14:00")
    assert g.next_open(_utc("2026-03-08T05:00")) == (_utc("2026-03-08T13:00"),
                                                     _utc("2026-03-09T00:00"))
    # Fall back (2026-11-01): 09:00 EST = 14:00 UTC; the day before 09:00 EDT = 13:00.
    assert g.next_open(_utc("2026-10-31T05:00"))[0] == _utc("2026-10-31T13:00")
    assert g.next_open(_utc("2026-11-01T05:00")) == (_utc("2026-11-01T14:00"),
                                                     _utc("2026-11-02T01:00"))


def test_arizona_has_no_dst():
    g = CallingPolicy(("09:00", "20:00")).window_for((PHX,), "US-AZ")
    assert g.next_open(_utc("2026-01-13T05:00"))[0] == _utc("2026-01-13T16:00")
    assert g.next_open(_utc("2026-07-07T05:00"))[0] == _utc("2026-07-07T16:00")


def test_multi_zone_area_code_needs_every_zone_open():
    # +1 208 555 ... -> (America/Boise, America/Los_Angeles): open only where both are.
    from dialcli.phones import PhoneParser

    phone = PhoneParser().parse("2085550110")
    assert set(phone.zones) == {"America/Boise", LA_}
    g = CallingPolicy(("09:00", "20:00")).window_for(phone.zones, phone.region)
    # 16:00 UTC in winter: Boise 09:00 MST but Los Angeles 08:00 PST -> closed.
    assert not g.is_open(_utc("2026-01-13T16:00"))
    assert g.next_open(_utc("2026-01-13T16:00")) == (_utc("2026-01-13T17:00"),
                                                     _utc("2026-01-14T03:00"))
    assert any("America/Los_Angeles Tue 08:00" in r for r in g.explain(_utc("2026-01-13T16:00")))


def test_lead_state_column_adds_a_state():
    policy = CallingPolicy(WIDE)
    at = datetime(2026, 3, 3, 8, 30, tzinfo=ZoneInfo(CHI)).astimezone(UTC)
    assert policy.window_for((CHI,), "US-TX").is_open(at) is False
    assert policy.window_for((CHI,), "US-IA").is_open(at) is True
    # An Iowa number whose lead lives in Texas: Texas's 09:00 start applies too.
    assert policy.window_for((CHI,), "US-IA,US-TX").is_open(at) is False


def test_observed_holiday_and_the_day_itself():
    g = CallingPolicy(WIDE).window_for((CHI,), "US-LA")
    # Independence Day 2026 is a Saturday, observed Friday July 3: both banned; Sunday too.
    opens = g.next_open(_utc("2026-07-02T02:00"))           # Wed evening local
    assert opens[0] == _utc("2026-07-02T13:00")             # Thu 08:00 CDT
    assert g.next_open(_utc("2026-07-03T01:01"))[0] == _utc("2026-07-06T13:00")  # Monday
    assert "Independence Day (observed)" in g.explain(_utc("2026-07-03T17:00"))[0]
    # The special day alone, without ordinary hours, is what the dashboard adds.
    notes = g.day_notes(_utc("2026-07-03T17:00"))
    assert notes and all("Independence Day" in n for n in notes)
    assert g.day_notes(_utc("2026-07-02T03:00")) == []       # Wed night: only the hours
    assert g.explain(_utc("2026-07-02T03:00"))                # ... which explain names


def test_mississippi_fixed_offset_in_a_far_zone():
    # A Hawaii number whose lead lives in Mississippi: 08:00 CST = 04:00 HST.
    g = CallingPolicy(WIDE).window_for(("Pacific/Honolulu",), "US-HI,US-MS")
    opens, closes = g.next_open(_utc("2026-03-03T10:00"))
    assert opens == _utc("2026-03-03T18:00")                # 08:00 HST (federal)
    assert closes == _utc("2026-03-04T02:00")               # 20:00 CST = 16:00 HST


def test_unknown_zone_is_never_dialable():
    g = CallingPolicy().window_for((), "US")
    assert g.next_open(_utc("2026-03-03T15:00")) is None
    assert "unknown time zone" in g.reason_closed
    assert CallingPolicy().window_for(("Etc/Unknown",), "US").next_open(_utc("2026-03-03T15:00")) is None


def test_next_open_cache_agrees_with_fresh_windows():
    policy = CallingPolicy(("09:00", "20:00"))
    cached = policy.window_for((NY, CHI), "US-RI")
    t = _utc("2026-03-01T00:00")
    for step in range(0, 24 * 30, 7):
        at = t + timedelta(hours=step)
        fresh = CallingPolicy(("09:00", "20:00")).window_for((NY, CHI), "US-RI")
        assert cached.next_open(at) == fresh.next_open(at)


# -- blackout dates --------------------------------------------------------------------

def test_parse_blackout_lines():
    b = parse_blackout("# proclaimed days\n2026-08-31 LA,MS Hurricane emergency\n"
                       "2026-12-24\n2026-12-28..2026-12-30 ALL year end  # comment\n")
    assert len(b.days) == 5
    assert b.on(date(2026, 8, 31), ["LA"]).note == "Hurricane emergency"
    assert b.on(date(2026, 8, 31), ["TX"]) is None
    assert b.on(date(2026, 12, 24), ["TX"]).note == "blackout date"
    assert b.on(date(2026, 12, 29), []).note == "year end"
    assert b.digest


@pytest.mark.parametrize("text,match", [
    ("2026-13-01", "line 1"), ("tomorrow LA", "not a date"), ("2026-01-01 ZZ", "unknown state"),
    ("2026-02-01..2026-01-01", "backwards"),
])
def test_parse_blackout_errors(text, match):
    with pytest.raises(InputError, match=match):
        parse_blackout(text)


def test_blackout_bans_listed_states_only():
    b = parse_blackout("2026-03-03 LA Proclaimed day\n")
    policy = CallingPolicy(WIDE, blackout=b)
    assert not permitted("LA", CHI, "2026-03-03T12:00", policy=policy)
    assert permitted("TX", CHI, "2026-03-03T12:00", policy=policy)
    assert permitted("LA", CHI, "2026-03-04T12:00", policy=policy)
    g = policy.window_for((CHI,), "US-LA")
    assert "blackout 2026-03-03: Proclaimed day" in g.explain(_utc("2026-03-03T18:00"))[0]


# -- the frequency cap ------------------------------------------------------------------

def test_check_cap_counts_every_campaign_and_rolls(store):
    c1, c2 = builders.campaign(store, name="A"), builders.campaign(store, name="B")
    (l1,), (l2,) = builders.add_leads(store, c1, [{"phones": ["2125550102"]}]), \
        builders.add_leads(store, c2, [{"phones": ["2125550102"]}])
    t0 = _utc("2026-03-03T15:00")
    builders.add_call(store, c1, l1, e164="+12125550102", claimed_at=t0)
    builders.add_call(store, c2, l2, e164="+12125550102", claimed_at=t0 + timedelta(hours=1))
    builders.add_call(store, c1, l1, e164="+12125550102",
                      claimed_at=t0 + timedelta(hours=2), pass_no=2)
    builders.add_call(store, c1, l1, e164="+12125550102",
                      claimed_at=t0 + timedelta(hours=3), pass_no=3, status="canceled")
    at = t0 + timedelta(hours=4)
    assert check_cap(store.conn, "+12125550102", at) == (3, t0 + timedelta(hours=24))
    assert check_cap(store.conn, "+12125550102", at, limit=4) == (3, None)
    assert check_cap(store.conn, "+12125550102", t0 + timedelta(hours=24)) == (2, None)
    assert check_cap(store.conn, "+13125550103", at) == (0, None)


@pytest.mark.parametrize("cap,by_state,region,expected", [
    (3, {}, "US-TX", 3), (5, {}, "US-TX", 5), (5, {}, "US-FL", 3), (5, {}, "US-OK", 3),
    (5, {}, "US-MD", 3), (5, {}, "US-TX,US-MD", 3), (2, {}, "US-FL", 2), (5, {"TX": 2}, "US-TX", 2),
    (5, {"TX": 2}, "US-CA", 5), (3, {"TX": 9}, "US-TX", 3), (5, {}, "US", 5),
])
def test_cap_for(cap, by_state, region, expected):
    assert CallingPolicy(cap=cap, state_caps=by_state).cap_for(region) == expected


@pytest.mark.parametrize("cap,by_state,uniform", [
    (3, "", 3), (2, "", 2), (1, "TX=2", 1), (5, "", None), (4, "", None), (3, "TX=2", None),
    (3, "TX=3", 3),
])
def test_uniform_cap_only_when_no_region_can_lower_it(cap, by_state, uniform):
    from dialcli.compliance.policy import SETTING_CAP, SETTING_CAP_BY_STATE, cap_for_regions, uniform_cap
    from dialcli.compliance.rules import US_STATES

    settings_ = {SETTING_CAP: str(cap), SETTING_CAP_BY_STATE: by_state}
    assert uniform_cap(settings_) == uniform
    if uniform is not None:   # then every region set has exactly that cap
        for st in sorted(US_STATES):
            assert cap_for_regions(settings_, {f"US-{st}"}) == uniform
        assert cap_for_regions(settings_, {"US-TX,US-FL", "US"}) == uniform


def test_cap_settings_are_validated_and_read_by_the_policy(store):
    now = "2026-03-03T15:00:00.000Z"
    with pytest.raises(InputError, match="FL law allows at most 3"):
        settings.set_value(store, "dial_cap_by_state", "TX=2,FL=5", now_iso=now)
    with pytest.raises(InputError, match="between 1 and"):
        settings.set_value(store, "dial_cap_by_state", "TX=0", now_iso=now)
    with pytest.raises(InputError, match="STATE=CAP"):
        settings.set_value(store, "dial_cap_by_state", "Texas=2", now_iso=now)
    with pytest.raises(InputError):
        settings.set_value(store, "dial_cap_per_24h", "0", now_iso=now)
    assert settings.set_value(store, "dial_cap_per_24h", "5", now_iso=now) == "5"
    assert settings.set_value(store, "dial_cap_by_state", "tx=2, fl=1", now_iso=now) == "FL=1,TX=2"
    cid = builders.campaign(store)
    policy = policy_for_campaign(store.conn, Campaign.from_row(
        store.one("SELECT * FROM campaigns WHERE id = ?", (cid,))))
    assert (policy.cap_for("US-CA"), policy.cap_for("US-TX"), policy.cap_for("US-FL"),
            policy.cap_for("US-OK")) == (5, 2, 1, 3)


def test_blackout_setting_must_parse(store, tmp_path):
    now = "2026-03-03T15:00:00.000Z"
    with pytest.raises(InputError, match="does not exist"):
        settings.set_value(store, "blackout_file", str(tmp_path / "nope.txt"), now_iso=now)
    bad = tmp_path / "bad.txt"
    bad.write_text("someday\n")
    with pytest.raises(InputError, match="line 1"):
        settings.set_value(store, "blackout_file", str(bad), now_iso=now)
    good = tmp_path / "good.txt"
    good.write_text("2026-03-03 Proclaimed\n")
    settings.set_value(store, "blackout_file", str(good), now_iso=now)
    cid = builders.campaign(store)
    policy = policy_for_campaign(store.conn, Campaign.from_row(
        store.one("SELECT * FROM campaigns WHERE id = ?", (cid,))))
    g = policy.window_for((NY,), "US-NY")
    assert g.next_open(_utc("2026-03-03T15:00"))[0] == _utc("2026-03-04T14:00")


# -- evidence --------------------------------------------------------------------------

def test_decision_detail_and_audit_roundtrip(store):
    policy = CallingPolicy(("09:00", "20:00"))
    g = policy.window_for((CHI,), "US-TX")
    at = _utc("2026-03-03T14:30")                            # 08:30 CST: closed
    detail = compliance.decision_detail(g, "+17135550112", at, 1, False, policy=policy,
                                        zone_source="number")
    assert detail["zones"] == [CHI] and detail["states"] == ["TX"]
    assert detail["local_time"] == {CHI: "2026-03-03T08:30:00-06:00 Tue"}
    assert detail["rules_version"] == compliance.RULES_VERSION
    assert detail["rules"][0] == "campaign" and "TX" in detail["rules"]
    assert detail["window_open"] is False and detail["next_open"] == "2026-03-03T15:00:00.000Z"
    assert detail["closed_because"] and detail["cap_limit"] == 3 and detail["opt_out"] is False
    cid = builders.campaign(store)
    (lid,) = builders.add_leads(store, cid, [{"phones": ["7135550112"], "row": 7}])
    with store.tx() as conn:
        store_audit.record_decision(conn, ts="2026-03-03T14:30:00.000Z", campaign_id=cid,
                                   lead_id=lid, call_id=None, e164="+17135550112",
                                   decision="defer", reason="window closed", detail=detail)
    (entry,) = list(results_audit.audit_entries(store.conn, campaign_id=cid))
    assert entry["lead_row"] == 7 and entry["decision"] == "defer"
    assert entry["rules_version"] == compliance.RULES_VERSION and entry["cap_limit"] == 3
    row = dict(zip(results_audit.AUDIT_COLUMNS, results_audit.audit_csv_row(entry)))
    assert row["local_time"] == f"{CHI}=2026-03-03T08:30:00-06:00 Tue"
    assert row["opt_out"] == "no" and row["zones"] == CHI


def test_audit_reads_engine_rows_written_before_decision_detail(store):
    with store.tx() as conn:
        store_audit.record_decision(
            conn, ts="t", campaign_id=None, lead_id=None, call_id=None, e164="+1",
            decision="dial", detail={"zones": [NY], "local": "2026-03-03 10:00 EST",
                                     "rules": "federal-2026.1", "on_opt_out_list": False,
                                     "cap_count": 0})
    (entry,) = list(results_audit.audit_entries(store.conn))
    assert entry["rules_version"] == "federal-2026.1" and entry["opt_out"] is False
    assert entry["local_time"] == "2026-03-03 10:00 EST" and entry["rules"] is None


def test_rules_cover_the_whole_day_boundaries():
    # A rule that does not limit a day must not leave a gap at midnight.
    g = CallingPolicy(WIDE).window_for((NY,), "US-NE")
    spans = g.intervals(_utc("2026-03-02T00:00"), days=3)
    assert all(hi - lo <= timedelta(hours=13) for lo, hi in spans)
    assert time(8, 0) <= spans[0][0].astimezone(ZoneInfo(NY)).time()


def test_washington_numbers_get_washington_rules():
    # phonenumbers' geocoder calls every WA area code "Washington State"; without the
    # mapping the state's 08:00-20:00 rule silently never applied.
    from dialcli.phones import PhoneParser

    for raw in ("2065550107", "5095550100", "3605550100", "4255550100"):
        phone = PhoneParser().parse(raw)
        assert phone.region == "US-WA", raw
        g = CallingPolicy(WIDE).window_for(phone.zones, phone.region)
        assert "WA" in [r.name for r in g.rules]
        assert not g.is_open(datetime(2026, 3, 4, 4, 30, tzinfo=UTC))   # 20:30 PST


def test_spelled_out_us_subdivisions_match_the_holidays_package():
    import holidays

    from dialcli.compliance.rules import US_STATES

    assert US_STATES == frozenset(holidays.US.subdivisions)


def test_never_reason_names_the_rules_that_never_meet():
    policy = CallingPolicy(("08:00", "09:00"))
    assert policy.window_for((CHI,), "US-IL").never_reason == (
        "no permitted calling time: campaign 08:00-09:00 and IL 09:00-21:00 never overlap "
        f"({CHI})")
    # The hours meet: only special days could close every day ahead.
    assert "16 weeks" in policy.window_for((CHI,), "US-IA").never_reason
    assert "time zone" in policy.window_for((), "").never_reason


def test_unreachable_states_are_those_whose_own_hours_miss_the_window():
    from dialcli.compliance.policy import unreachable_states

    assert unreachable_states(("09:00", "20:00")) == []
    assert unreachable_states(("19:00", "21:00")) == [("RI", "09:00-18:00")]
    early = dict(unreachable_states(("08:00", "09:00")))
    assert early["IL"] == "09:00-21:00"
    assert early["OK"] == "09:00-20:00"         # two rows for a state: their common hours
    assert "FL" not in early                    # 08:00-20:00 meets 08:00-09:00
