"""The store's time text: ``to_iso`` (memoized) and ``from_iso``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialcli.clock import from_iso, to_iso

NY = ZoneInfo("America/New_York")


def test_the_two_instants_a_fall_back_repeats_keep_their_own_text():
    # 01:30 happens twice in New York on 2026-11-01; the two compare equal as local
    # times (same zone), so a memo keyed on them would hand one the other's text.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY)
    second = first.replace(fold=1)
    for _ in range(2):                       # second round: from the memo
        assert to_iso(first) == "2026-11-01T05:30:00.000Z"
        assert to_iso(second) == "2026-11-01T06:30:00.000Z"


def test_naive_datetimes_are_refused_even_when_the_instant_was_seen():
    aware = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)
    to_iso(aware)
    with pytest.raises(ValueError, match="naive"):
        to_iso(aware.replace(tzinfo=None))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
       st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
       st.integers(0, 1))
def test_to_iso_round_trips_and_matches_a_direct_conversion(moment, zone, fold):
    local = moment.replace(tzinfo=ZoneInfo(zone), fold=fold)
    utc = local.astimezone(timezone.utc)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert to_iso(local) == expected
    assert to_iso(local) == expected          # memoized
    assert from_iso(to_iso(local)) == utc - timedelta(microseconds=utc.microsecond % 1000)
