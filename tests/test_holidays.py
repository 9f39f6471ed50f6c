"""Holidays from statutes (issue 19 item 4): the ``holidays`` package as the base, the
days each state's statute adds (``[[holiday]]`` rows of ``state_rules.toml``), and the
blackout file for what a governor proclaims. Checked through ``plan`` on the quoted days,
and the data files validated row by row (every row: source, confidence, date checked).
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timezone
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

import builders
from dialcli.compliance.policy import CallingPolicy
from dialcli.compliance.rules import (US_STATES, holiday_name, parse_blackout,
                                      parse_state_holidays, parse_state_rules,
                                      shipped_holidays, shipped_state_rules)
from dialcli.engine.plan import build_plan

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
CHI = ZoneInfo("America/Chicago")


def _plan_one(store, number: str, at: datetime, **kw):
    cid = builders.campaign(store, window=("08:00", "21:00"))
    builders.add_leads(store, cid, [{"phones": [number], **kw}])
    (p,) = build_plan(store, cid, at, estimate=False).phones
    return p


@pytest.mark.parametrize("day, name", [("2026-04-03", "Good Friday"),
                                       ("2026-11-03", "Election Day"),
                                       ("2026-06-15", None)])   # Flag Day is a Sunday: 06-14
def test_pennsylvania_good_friday_and_election_day(store, day, name):
    at = datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=NY).astimezone(UTC)
    p = _plan_one(store, "+12155550101", at)                 # Philadelphia
    if name is None:
        assert p.category == "now"
        return
    assert p.category in ("later", "later_today") and p.next_utc.astimezone(NY).date() > \
        date.fromisoformat(day)
    assert f"PA legal holiday ({name}): no calls" in " ".join(p.reasons), p.reasons


@pytest.mark.parametrize("day, name", [("2026-01-08", "Battle of New Orleans"),
                                       ("2026-10-12", "Christopher Columbus Day"),
                                       ("2026-08-31", None)])      # Huey Long Day is Sunday
def test_louisiana_statute_days(store, day, name):
    at = datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=CHI).astimezone(UTC)
    p = _plan_one(store, "+15045550101", at)                 # New Orleans
    if name is None:
        assert p.category == "now"
        return
    assert p.category != "now"
    assert f"LA legal holiday ({name}): no calls" in " ".join(p.reasons), p.reasons


def test_alabama_mardi_gras_applies_to_every_alabama_number_and_says_so(store):
    at = datetime(2026, 2, 17, 12, tzinfo=CHI).astimezone(UTC)
    p = _plan_one(store, "+12055550101", at)                 # Birmingham, not Mobile
    assert p.category != "now"
    text = " ".join(p.reasons)
    assert "AL legal holiday (Mardi Gras (a legal holiday in Baldwin and Mobile counties; " \
           "applied to every AL number, the county being unknown))" in text


def test_a_lead_state_column_brings_the_states_holidays(store):
    at = datetime(2026, 4, 3, 12, tzinfo=NY).astimezone(UTC)
    p = _plan_one(store, "+12125550101", at, state="PA")      # New York number, PA resident
    assert p.category != "now" and "PA legal holiday (Good Friday)" in " ".join(p.reasons)


@pytest.mark.parametrize("state, day, name", [
    ("PA", "2027-11-02", "Election Day"), ("PA", "2026-06-14", "Flag Day"),
    ("LA", "2026-11-01", "All Saints' Day"), ("LA", "2026-08-30", "Huey P. Long Day"),
    ("LA", "2028-01-10", "Inauguration Day"), ("LA", "2029-01-08", "Battle of New Orleans"),
    ("RI", "2026-11-03", "Election Day"), ("RI", "2027-11-02", None),
    ("LA", "2026-01-12", None), ("LA", "2032-01-12", "Inauguration Day"),
    ("AL", "2027-02-09", "Mardi Gras"), ("UT", "2026-07-24", "Pioneer Day"),
])
def test_statute_holiday_dates(state, day, name):
    got = holiday_name(state, date.fromisoformat(day))
    if name is None:
        assert got is None
    else:
        assert got is not None and got.startswith(name)


def test_a_removal_row_drops_the_packages_day():
    text = ('[[holiday]]\nstate = "PA"\nname = "Day After Thanksgiving"\nremove = true\n'
            'source = "a statute"\nconfidence = "H"\nchecked = "2026-12-07"\n')
    (row,) = parse_state_holidays(text)["PA"]
    assert row.remove
    from dialcli.compliance import rules

    rules._holiday_table.cache_clear()
    real = rules.shipped_holidays
    try:
        rules.shipped_holidays = lambda: {"PA": (row,)}      # type: ignore[assignment]
        assert holiday_name("PA", date(2026, 11, 27)) is None
        assert holiday_name("PA", date(2026, 11, 26)) == "Thanksgiving Day"
    finally:
        rules.shipped_holidays = real                        # type: ignore[assignment]
        rules._holiday_table.cache_clear()


@pytest.mark.parametrize("row, error", [
    ('state = "PA"\nname = "X"\ndate = "13-45"', "does not exist"),
    ('state = "PA"\nname = "X"\ndate = "02-30"', "does not exist"),
    ('state = "PA"\nname = "X"\ndate = "5th-mon-oct"', "date must be"),
    ('state = "ZZ"\nname = "X"\ndate = "01-08"', "unknown state"),
    ('state = "PA"\nname = "X"\ndate = "01-08"\nyears = "sometimes"', "years"),
    ('state = "PA"\ndate = "01-08"', "needs a name"),
])
def test_a_bad_holiday_row_is_refused(row, error):
    good = 'source = "s"\nconfidence = "M"\nchecked = "2026-12-07"\n'
    with pytest.raises(ValueError, match=error):
        parse_state_holidays(f"[[holiday]]\n{row}\n{good}")
    with pytest.raises(ValueError, match="needs a source"):
        parse_state_holidays('[[holiday]]\nstate = "PA"\nname = "X"\ndate = "01-08"\n')


def test_governor_proclaimed_days_go_in_the_blackout_file():
    blackout = parse_blackout("2026-08-31 LA,MS Hurricane emergency (governor's proclamation)\n")
    policy = CallingPolicy(("08:00", "21:00"), blackout=blackout)
    group = policy.window_for(("America/Chicago",), "US-LA")
    assert not group.is_open(datetime(2026, 8, 31, 12, tzinfo=CHI).astimezone(UTC))
    assert group.explain(datetime(2026, 8, 31, 12, tzinfo=CHI).astimezone(UTC))[0].startswith(
        "blackout 2026-08-31: Hurricane emergency")


# -- the shipped rules files, row by row ---------------------------------------------------------

def _toml(name: str) -> dict:
    return tomllib.loads(resources.files("dialcli").joinpath(f"data/{name}").read_text("utf-8"))


def test_state_rules_file_rows_have_source_confidence_and_the_file_a_review_date():
    data = _toml("state_rules.toml")
    assert data["version"] and date.fromisoformat(data["reviewed"])
    version, rows = shipped_state_rules()      # every window, day and cap parses
    assert version == data["version"] and len(rows) == len(data["rule"])
    for row in rows:
        assert row.state in US_STATES and row.source and row.confidence[0] in "HML"


def test_holiday_rows_have_source_confidence_and_checked_date():
    holidays = shipped_holidays()
    assert {"PA", "LA", "AL", "RI"} <= set(holidays)
    for state, rows in holidays.items():
        assert state in US_STATES
        for h in rows:
            assert h.source and h.confidence[0] in "HML" and date.fromisoformat(h.checked)
            assert h.remove or h.on(2026) is not None or h.years != "all"
    # Every state with holiday rows bans (or limits) calls on holidays in a rule row.
    limited = {r.state for r in shipped_state_rules()[1] if r.holidays != "same"}
    assert set(holidays) <= limited


def test_rules_parser_still_refuses_bad_rows():
    with pytest.raises(ValueError, match="needs a source"):
        parse_state_rules('version = "1"\n[[rule]]\nstate = "PA"\nwindow = "08:00-21:00"\n'
                          'confidence = "H"\n')
