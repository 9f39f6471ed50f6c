"""Canadian numbers (+1, region CA-xx) are called only inside the CRTC's hours: the
telemarketing rules (09:00-21:30 weekdays, 10:00-18:00 weekends) and, an AI voice being
a synthesized voice, the ADAD hours (09:30-20:00 weekdays, 10:30-17:00 Saturday,
12:00-17:00 Sunday), local time -- the stricter of all of them with the federal window."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

import builders
from builders import add_leads, workspace
from dialcli.clock import VirtualClock, from_iso
from dialcli.compliance.policy import CallingPolicy
from dialcli.compliance.rules import CANADA_ROWS, is_canadian
from dialcli.engine.loop import Engine
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from fakes.keyword_brain import KeywordBrain

TORONTO = ZoneInfo("America/Toronto")


def _local(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TORONTO)


@pytest.mark.parametrize("day, hhmm, open_", [
    ("2026-12-07", "09:29", False), ("2026-12-07", "09:31", True),     # Monday
    ("2026-12-07", "19:59", True), ("2026-12-07", "20:01", False),
    ("2026-12-05", "10:29", False), ("2026-12-05", "10:31", True),     # Saturday
    ("2026-12-05", "16:59", True), ("2026-12-05", "17:01", False),
    ("2026-12-06", "11:59", False), ("2026-12-06", "12:01", True),     # Sunday
    ("2026-12-06", "17:01", False),
])
def test_a_canadian_number_is_open_only_inside_the_crtc_hours(day, hhmm, open_):
    group = CallingPolicy(("08:00", "21:00")).window_for(("America/Toronto",), "CA-ON")
    assert group.is_open(_local(day, hhmm)) is open_
    assert group.rule_names.count("CRTC") == 2


def test_california_is_not_canada():
    assert is_canadian("CA-ON") and is_canadian("US-NY,CA-QC")
    assert not is_canadian("US-CA") and not is_canadian("") and not is_canadian(None)
    group = CallingPolicy(("08:00", "21:00")).window_for(("America/Los_Angeles",), "US-CA")
    assert "CRTC" not in group.rule_names
    # Sunday 09:30 PT: the CRTC's weekend 10:00 would close it; California's own
    # artificial-voice hours (09:00-21:00, PUC 2872(c)) leave it open.
    assert group.is_open(datetime(2026, 12, 6, 17, 30, tzinfo=timezone.utc))
    assert not group.is_open(datetime(2026, 12, 6, 16, 30, tzinfo=timezone.utc))  # 08:30 PT


def test_the_canadian_rows_carry_their_source_and_confidence():
    for row in CANADA_ROWS:
        assert row.source.startswith("CRTC Unsolicited Telecommunications Rules")
        assert row.confidence in ("H", "M", "L")


def test_a_sunday_morning_run_first_dials_toronto_at_noon(tmp_path):
    with workspace(tmp_path) as store:
        cid = builders.campaign(store, window=("08:00", "21:00"), max_attempts=1)
        add_leads(store, cid, [{"phones": ["+14165550123"]}])
        start = _local("2026-12-06", "08:00").astimezone(timezone.utc)
        prof = SimProfile.from_dict({"outcomes": {"no_answer": 1.0}})
        Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1, profile=prof),
               VirtualClock(start)).run()
        (claimed,) = [from_iso(r[0]) for r in store.all("SELECT claimed_at FROM calls")]
        assert claimed.astimezone(TORONTO).strftime("%a %H:%M") == "Sun 12:00"
