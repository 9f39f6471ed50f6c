"""The NANP exchange table (tools/build_nanp_table.py) says what phonenumbers says."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from dialcli import phones
from dialcli.phones import PhoneError, PhoneParser


def _answer(parser: PhoneParser, value: str):
    try:
        p = parser.parse(value)
    except PhoneError as exc:
        return ("error", str(exc))
    return (p.e164, p.zones, p.region, p.country)


@pytest.fixture
def table():
    got = phones._exchange_table()
    if got is None:
        pytest.skip(f"the exchange table is not built for phonenumbers {phonenumbers.__version__} "
                    "(run tools/build_nanp_table.py); the parser computes every exchange")
    return got


def test_table_answers_equal_the_library(table):
    rnd = random.Random(7)
    fast, slow = PhoneParser("US"), PhoneParser("US", exchange_table=False)
    assert fast._table is not None and slow._table is None
    values = [f"+1{npa}{nxx}{rnd.randrange(10_000):04d}"
              for npa in range(200, 1000) for nxx in rnd.sample(range(200, 1000), 6)]
    values += [f"({npa}) {nxx}-{rnd.randrange(10_000):04d}" for npa, nxx in
               ((rnd.randrange(200, 1000), rnd.randrange(1000)) for _ in range(1000))]
    for v in values:
        assert _answer(fast, v) == _answer(slow, v), v
    # The table was consulted (not just the library twice).
    body, _answers = table
    assert sum(1 for b in body if b != phones.NO_ENTRY) > 300_000


def test_parse_column_same_with_and_without_table(table):
    rnd = random.Random(3)
    values = [f"{npa}-{nxx}-{rnd.randrange(10_000):04d}"
              for npa, nxx in ((rnd.randrange(200, 1000), rnd.randrange(200, 1000))
                               for _ in range(5000))] + ["", "bad", "+44 20 7946 0958"]
    p1, p2 = PhoneParser("US"), PhoneParser("US", exchange_table=False)
    f, s = p1.parse_column(values), p2.parse_column(values)
    assert f[0] == s[0] and f[2] == s[2]
    # Info ids are numbered in order of first sight; compare what they name.
    assert [p1.infos[k] if k >= 0 else None for k in f[1]] == \
        [p2.infos[k] if k >= 0 else None for k in s[1]]


def test_table_of_another_phonenumbers_version_is_not_used(monkeypatch):
    phones._exchange_table.cache_clear()
    monkeypatch.setattr(phonenumbers, "__version__", "0.0.0-other")
    try:
        assert phones._exchange_table() is None
        parser = PhoneParser("US")
        assert parser._table is None
        assert parser.parse("+1 212 555 0100").zones == ("America/New_York",)
    finally:
        monkeypatch.undo()
        phones._exchange_table.cache_clear()


def test_damaged_table_is_not_used(monkeypatch, tmp_path):
    import importlib.resources

    (tmp_path / phones.EXCHANGE_TABLE).write_bytes(b"not zlib")
    monkeypatch.setattr(importlib.resources, "files", lambda pkg: tmp_path)
    phones._exchange_table.cache_clear()
    try:
        assert phones._exchange_table() is None
    finally:
        monkeypatch.undo()
        phones._exchange_table.cache_clear()
