"""One formatter for counts, durations, money and instants (issue 20, item 7): the
rules in ``dialcli/formats.py``, and that the screens use it rather than their own."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dialcli import formats

SRC = Path(__file__).resolve().parents[1] / "src" / "dialcli"


@pytest.mark.parametrize("n, text", [(0, "0"), (999, "999"), (187317, "187,317"),
                                     (1_000_000, "1,000,000"), (12.6, "13"), (None, "–")])
def test_counts_have_thousands_separators(n, text):
    assert formats.count(n) == text


@pytest.mark.parametrize("amount, text", [
    (0, "$0.00"), (1234.5, "$1,234.50"), (517.614, "$517.61"), (0.056, "$0.056"),
    (0.5, "$0.50"), (0.0125, "$0.0125"), (0.00004, "$0.00"), (-2.5, "-$2.50"),
    (-0.056, "-$0.056"), (None, "–")])
def test_money_keeps_a_small_price_meaningful(amount, text):
    assert formats.money(amount) == text


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (45, "45s"), (59.6, "1m 00s"), (125, "2m 05s"), (3720, "1h 02m"),
    (86400 * 3 + 4 * 3600 + 59, "3d 04h"), (None, "–")])
def test_durations_show_the_two_largest_units(seconds, text):
    assert formats.duration(seconds) == text


def test_shares_and_rates():
    assert formats.pct(1, 8) == "12.5%"
    assert formats.pct(1, 0) == "–"
    assert formats.pct(1, 3, 0) == "33%"
    assert formats.ratio(0.125) == "12.5%"
    assert formats.rate(0.014) == "$0.014/min"


def test_an_instant_always_names_its_zone():
    at = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
    assert formats.instant(at) == "2026-03-03 15:00 UTC"
    assert formats.instant("2026-03-03T15:00:00Z", "America/New_York") == "2026-03-03 10:00 EST"
    assert formats.instant("2026-07-03T15:00:00+00:00", "America/Los_Angeles") == \
        "2026-07-03 08:00 PDT"
    # An area code spanning two zones: the first; an unknown zone: UTC, named.
    assert formats.instant(at, "America/Chicago,America/Denver").endswith("CST")
    assert formats.instant(at, "Mars/Olympus") == "2026-03-03 15:00 UTC"
    assert formats.instant(None) == "–"
    assert formats.instant("soon") == "soon"
    assert formats.utc_z("2026-03-03T10:00:00-05:00") == "2026-03-03T15:00:00Z"
    assert formats.utc_z(None) == ""


def test_local_clock_names_the_computers_zone():
    text = formats.local_clock(datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc))
    assert re.fullmatch(r"Tue 03-03 \d\d:00:00 \S+", text), text


# The screens use the formatter, not helpers of their own.
AD_HOC = [
    (re.compile(r'f"\$\{'), "a dollar amount formatted by hand (formats.money)"),
    (re.compile(r"\{[^{}\"]+:,\.\d+f\}"), "money or a figure formatted by hand"),
    (re.compile(r"^def _?(money|duration|_duration)\(", re.M), "a formatter of its own"),
    # (M:SS.d offsets inside one transcript are timestamps, not durations: allowed.)
    (re.compile(r'// ?60\}:\{[^{}]*% ?60:02d\}"'),
     "a duration formatted by hand as M:SS (formats.duration)"),
]
#: Every screen: a new command's module is checked without being listed here.
SCREENS = sorted(str(p.relative_to(SRC)) for p in (SRC / "cli").glob("*.py"))


@pytest.mark.parametrize("path", SCREENS)
def test_screens_format_through_formats(path):
    text = (SRC / path).read_text()
    for pattern, what in AD_HOC:
        assert not pattern.search(text), f"{path}: {what}"
    assert not re.search(r"\{[^{}\"]+:,\}", text), f"{path}: a count formatted by hand " \
                                                   "(formats.count, or common.num in a table)"
