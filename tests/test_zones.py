"""Zones fail closed (issue 19 item 2): a lead's timezone and state columns add zones,
an exchange the zone data lacks takes its whole area code's zones, known data errors are
corrected from a versioned override file, and ``plan`` says where each zone came from.

The quoted cases of the issue go through the real importer and the real ``plan``; the
property tests fuzz numbers (missing exchanges included) and the two columns, and check
every permitted instant against an oracle that knows nothing of the interval machinery.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers.tzdata import TIMEZONE_DATA

import builders
from builders import workspace
from dialcli import phones
from dialcli.compliance.policy import CallingPolicy
from dialcli.compliance.rules import FEDERAL_END, FEDERAL_START, states_of, zone_info
from dialcli.engine.plan import build_plan
from dialcli.leads.csvfile import merge_region
from dialcli.leads.prepare import group_zones
from dialcli.phones import STATE_ZONES, PhoneParser, parse_zone_overrides

UTC = timezone.utc
EXAMPLES = int(os.environ.get("DIALCLI_PROP_EXAMPLES", "200"))
NY, CHI, DEN, LA_ = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"


def _at(local: str, zone: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _plan(store, csv: str, at: datetime):
    cid = builders.campaign(store, window=("08:00", "21:00"))
    builders.import_csv(store, cid, csv)
    builders.consent_all(store, cid)
    return {p.e164: p for p in build_plan(store, cid, at, estimate=False).phones}


# -- the numbers the issue quotes, through the importer and plan -------------------------------

def test_timezone_column_adds_a_zone_it_does_not_replace_the_numbers(store):
    # 415 tagged New York at 05:00 Pacific (08:00 Eastern): was dialed, must wait.
    p = _plan(store, "name,phone1,timezone\nA,415-555-0142,America/New_York\n",
              _at("2026-03-03T05:00", LA_))["+14155550142"]
    assert set(p.zones) == {LA_, NY}
    assert p.category == "later_today"
    assert p.next_utc == _at("2026-03-03T09:00", LA_)        # California's 09:00 (ADAD hours)
    assert any("America/Los_Angeles Tue 05:00" in r for r in p.reasons), p.reasons
    assert p.zone_origins == {LA_: "number (area code 415)", NY: "lead timezone column"}
    assert "lead timezone column [America/New_York]" in p.zone_source


def test_state_column_adds_that_states_zones_and_rules(store):
    # 212 marked TX at 08:00 Central (09:00 Eastern): Texas's 09:00 has not come.
    p = _plan(store, "name,phone1,state\nA,212-555-0142,TX\n",
              _at("2026-03-03T08:00", CHI))["+12125550142"]
    assert set(p.zones) == {NY, CHI, DEN} and set(p.states) == {"NY", "TX"}
    assert p.category == "later_today"
    assert p.next_utc == _at("2026-03-03T09:00", DEN)         # 09:00 in every TX zone
    assert any("TX 09:00-21:00" in r for r in p.reasons), p.reasons
    assert p.zone_origins[CHI] == "state column TX" and p.zone_origins[DEN] == "state column TX"


def test_a_state_column_naming_the_numbers_own_state_adds_nothing(store):
    p = _plan(store, "name,phone1,state\nA,212-555-0142,NY\n",
              _at("2026-03-03T10:00", NY))["+12125550142"]
    assert p.zones == [NY] and p.category == "now"


def test_missing_exchange_takes_every_zone_of_its_area_code(store):
    # 219-981: not in the zone data; 219 is Central and Eastern. 07:00 CDT = 08:00 EDT.
    assert not phones.exchange_in_zone_data("219981")
    p = _plan(store, "name,phone1\nA,219-981-0142\n", _at("2026-06-02T07:00", CHI))["+12199810142"]
    assert set(p.zones) == {NY, CHI}
    assert p.category == "later_today" and p.next_utc == _at("2026-06-02T08:00", CHI)
    assert p.zone_origins[CHI].startswith("area code 219 span (exchange 219-981 not in")
    # An exchange the data has keeps its own zone.
    assert PhoneParser().parse("219-663-0142").zones == (CHI,)


@pytest.mark.parametrize("number", ["850-227-0142", "850-229-0142"])
def test_port_st_joe_is_on_eastern_time(store, number):
    # The data puts 850-227/229 on Central only; at 20:30 EDT (19:30 CDT) Florida's 20:00
    # has passed in Port St. Joe.
    e164 = "+1" + number.replace("-", "")
    p = _plan(store, f"name,phone1\nA,{number}\n", _at("2026-06-02T20:30", NY))[e164]
    assert set(p.zones) == {NY, CHI}
    assert any("FL 08:00-20:00 (America/New_York Tue 20:30)" in r for r in p.reasons), p.reasons
    assert p.next_utc == _at("2026-06-03T08:00", CHI)     # 08:00 in both of its zones
    assert p.zone_origins[NY].startswith(f"override {number[:7]} (zone_overrides ")
    assert p.zone_origins[CHI] == f"number (exchange {number[:7]})"


def test_plan_cli_shows_where_each_zone_came_from(store, cli):
    cid = builders.campaign(store, window=("08:00", "21:00"))
    builders.import_csv(store, cid, "name,phone1,timezone,state\nA,219-981-0142,,\n"
                                    "B,415-555-0142,America/New_York,\nC,212-555-0143,,TX\n")
    builders.consent_all(store, cid)
    r = cli("plan", "--no-estimate", "--at", "2026-06-02T12:00Z", "--csv", "-")
    assert r.exit_code == 0, r.output
    assert "area code 219 span" in r.stdout
    assert "lead timezone column [America/New_York]" in r.stdout
    assert "state column TX [America/Chicago, America/Denver]" in r.stdout


# -- the override file --------------------------------------------------------------------------

def test_shipped_overrides_are_valid_and_sourced():
    version, fixes = phones.zone_overrides()
    assert version
    for fix in fixes.values():
        assert fix.source and fix.confidence[0] in "HML" and fix.checked
        assert all(zone_info(z) is not None for z in fix.zones)


@pytest.mark.parametrize("row, error", [
    ('prefix = "850-227"\nzones = ["America/New_York"]\nconfidence = "M"\nchecked = "2026-01-01"',
     "needs a source"),
    ('prefix = "850-227"\nzones = ["Mars/Base"]\nsource = "x"\nconfidence = "M"\n'
     'checked = "2026-01-01"', "IANA"),
    ('prefix = "85"\nzones = ["America/New_York"]\nsource = "x"\nconfidence = "M"\n'
     'checked = "2026-01-01"', "prefix"),
    ('prefix = "850-227"\nzones = ["America/New_York"]\nsource = "x"\nconfidence = "M"',
     "checked date"),
    ('prefix = "201"\nstates = ["ZZ"]\nsource = "x"\nconfidence = "M"\nchecked = "2026-01-01"',
     "unknown state"),
])
def test_a_bad_override_row_is_refused(row, error):
    with pytest.raises(ValueError, match=error):
        parse_zone_overrides(f'version = "1"\n[[override]]\n{row}\n')


def test_multi_state_area_codes_are_listed():
    """Every US area code whose exchanges phonenumbers' geocoder puts in more than one
    state has a row naming those states (a missing exchange could be in any of them)."""
    from phonenumbers.geodata import GEOCODE_DATA

    spans: dict[str, set[str]] = {}
    for key, names in GEOCODE_DATA.items():
        if key[:1] == "1" and len(key) >= 7 and isinstance(names, dict) and names.get("en"):
            region = phones.region_from_place("US", names["en"])
            if region != "US":
                spans.setdefault(key[1:4], set()).add(region[3:])
    fixes = phones.zone_overrides()[1]
    for npa, states in spans.items():
        if len(states) > 1:
            assert npa in fixes and set(fixes[npa].states) >= states, (npa, states)


def test_a_missing_exchange_of_a_multi_state_area_code_takes_both_states():
    phone = PhoneParser().parse("201-555-0142")
    assert not phones.exchange_in_zone_data("201555")
    assert set(states_of(phone.region)) == {"NJ", "NY"}


def test_every_state_has_zones():
    from dialcli.compliance.rules import US_STATES

    for state in US_STATES - {"UM"}:
        assert STATE_ZONES.get(state), state
        assert all(zone_info(z) is not None for z in STATE_ZONES[state])


# -- properties ---------------------------------------------------------------------------------

#: Area codes with several zones (missing exchanges fall back to one of them), single-zone
#: ones, and the two Port St. Joe exchanges.
AREAS = ["219", "850", "270", "423", "574", "605", "606", "620", "701", "785", "812", "906",
         "208", "541", "775", "928", "907", "308", "212", "415", "312", "303", "602", "808"]
ZONES = [NY, CHI, DEN, LA_, "America/Phoenix", "Pacific/Honolulu", "America/Anchorage",
         "America/Boise", "Europe/London"]
STATES = sorted(STATE_ZONES)


def oracle_zones(e164: str, tz: str | None, state: str | None) -> set[str]:
    """Every zone the number could be in, from phonenumbers' raw data alone: the exchange's
    zones, or (exchange not in the data) every zone of every entry of its area code; the
    override rows; the timezone column; every zone of a state column's state."""
    national = e164[2:]
    npa = national[:3]
    own = set(phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(e164)))
    if not any(("1" + national[:k]) in TIMEZONE_DATA for k in (4, 5, 6)):
        for key, zones in TIMEZONE_DATA.items():
            if key.startswith("1" + npa):
                own.update(zones)
    for key in (npa, national[:6]):
        fix = phones.zone_overrides()[1].get(key)
        if fix:
            own.update(fix.zones)
    if tz:
        own.add(tz)
    if state:
        own.update(STATE_ZONES[state])
    return own


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(area=st.sampled_from(AREAS), exchange=st.integers(200, 999),
       line=st.integers(0, 9999), tz=st.none() | st.sampled_from(ZONES),
       state=st.none() | st.sampled_from(STATES),
       at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20),
                       timezones=st.just(UTC)))
def test_no_dial_outside_the_window_in_any_zone_the_number_could_be_in(area, exchange, line,
                                                                       tz, state, at):
    e164 = f"+1{area}{exchange}{line:04d}"
    try:
        phone = PhoneParser().parse(e164)
    except phones.PhoneError:
        return
    zones = group_zones(phone.zones, phone.region, tz, state)
    region = merge_region(phone.region, state)
    group = CallingPolicy(("08:00", "21:00")).window_for(zones, region)
    # The zones the engine uses include every zone the raw data says the number could be
    # in (a state column naming the number's own state adds none: its zones are known).
    expected = oracle_zones(e164, tz, state if state not in states_of(phone.region) else None)
    assert expected <= set(zones), (e164, tz, state, zones)
    opens = group.next_open(at)
    if opens is None:
        return
    first = opens[0]
    for name in expected:
        local = first.astimezone(zone_info(name)).time()
        assert FEDERAL_START <= local < FEDERAL_END, (e164, tz, state, name, first)
    # A state column's state applies its rules as well as its zones.
    if state:
        assert state in states_of(region)
        assert {r.name for r in group.rules} >= {
            row.state for row in CallingPolicy(("08:00", "21:00")).state_rows.get(state, ())}


@settings(max_examples=max(20, EXAMPLES // 10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(AREAS), st.integers(200, 999),
                               st.none() | st.sampled_from(ZONES),
                               st.none() | st.sampled_from(STATES)), min_size=1, max_size=6),
       start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1),
                          timezones=st.just(UTC)))
def test_the_engine_never_dials_outside_the_window_of_any_candidate_zone(tmp_path_factory,
                                                                         rows, start):
    """A whole simulated run from imported rows (fuzzed columns, missing exchanges):
    every dial's instant is inside 08:00-21:00 in every zone the number could be in."""
    from dialcli.clock import VirtualClock, from_iso
    from dialcli.engine.loop import Engine
    from dialcli.providers.simulator import SimProfile, SimulatedProvider
    from fakes.keyword_brain import KeywordBrain

    lines = ["name,phone1,timezone,state"]
    seen = set()
    for k, (area, exchange, tz, state) in enumerate(rows):
        number = f"{area}{exchange}{k:04d}"
        if number in seen:
            continue
        seen.add(number)
        lines.append(f"L{k},{number},{tz or ''},{state or ''}")
    with workspace(tmp_path_factory.mktemp("run")) as store:
        cid = builders.campaign(store, window=("08:00", "21:00"), max_attempts=2, retry=30)
        builders.import_csv(store, cid, "\n".join(lines) + "\n")
        builders.consent_all(store, cid)
        columns = {r["phone1"]: (r["timezone"], json_state(r["vars"]))
                   for r in store.all("SELECT phone1, timezone, vars FROM leads")}
        clock = VirtualClock(start)
        provider = SimulatedProvider(KeywordBrain(), seed=1, profile=SimProfile.from_dict(
            {"outcomes": {"human": 0.0, "voicemail": 0.0, "no_answer": 1.0, "busy": 0.0,
                          "failed": 0.0}}))
        Engine(store, cid, provider, clock).run()
        made = builders.calls(store, cid)
        assert made or not columns          # every imported lead is dialed at some point
        for call in made:
            at = from_iso(call["claimed_at"])
            tz, state = columns.get(call["e164"], (None, None))
            phone = PhoneParser().parse(call["e164"])
            own = state if state and state not in states_of(phone.region) else None
            for name in oracle_zones(call["e164"], tz, own):
                local = at.astimezone(zone_info(name)).time()
                assert FEDERAL_START <= local < FEDERAL_END, (call["e164"], name, at)


def json_state(vars_json: str) -> str | None:
    import json

    value = json.loads(vars_json or "{}").get("STATE")
    from dialcli.leads.csvfile import state_code

    return state_code(value) if value else None


def test_oracle_is_not_trivially_satisfied():
    """The oracle finds more zones than the number's own for a missing exchange."""
    assert oracle_zones("+12199810142", None, None) == {NY, CHI}
    assert oracle_zones("+12125550142", None, "TX") == {NY, CHI, DEN}
