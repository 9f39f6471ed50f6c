"""Sets of phone numbers as sorted int64 arrays: what an import checks each row against.

An E.164 number has at most 15 digits, so it fits an int64; a sorted array of them
with ``searchsorted`` answers "is this number known?" for a whole column at once at
16 bytes a number (key and value), where a Python set would take about 100.
``SeenKeys`` is a fixed set (the campaign's phone1 numbers, the opt-out list);
``Runs`` is the set that grows as a file is read (numbers seen earlier in it).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np


class SeenKeys:
    """A sorted set of E.164 numbers (as int64) each with an int64 value."""

    __slots__ = ("keys", "values")

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.values = values[order]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int]]) -> "SeenKeys":
        keys, values = [], []
        for e164, value in rows:
            if e164 and e164[0] == "+" and e164[1:].isdigit() and len(e164) <= 19:
                keys.append(e164)
                values.append(value)
        return cls(to_keys(keys), np.array(values, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, or -1 where the key is absent."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if not len(self.keys) or not len(keys):
            return out
        pos = np.searchsorted(self.keys, keys)
        pos[pos == len(self.keys)] = 0
        hit = self.keys[pos] == keys
        out[hit] = self.values[pos[hit]]
        return out


def to_keys(e164s: list[str]) -> np.ndarray:
    """'+14155550123' -> 14155550123 (E.164 has at most 15 digits: fits int64)."""
    return np.fromiter(map(int, e164s), dtype=np.int64, count=len(e164s))


#: Bits of the ``Runs`` filter: 2**24 bytes (16 MB), so with a million keys seen
#: about 6% of new keys still need the binary searches.
_FILTER_BITS = 24


def _slots(keys: np.ndarray) -> np.ndarray:
    """A well-mixed ``_FILTER_BITS``-bit slot per key (Fibonacci hashing)."""
    mixed = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (mixed >> np.uint64(64 - _FILTER_BITS)).astype(np.intp)


class Runs:
    """Keys seen earlier in this import: a few sorted runs of geometric sizes,
    behind a one-byte-per-slot filter that answers "never seen" for most keys
    without searching the runs."""

    def __init__(self) -> None:
        self.runs: list[SeenKeys] = []
        self.filter = np.zeros(1 << _FILTER_BITS, dtype=np.bool_)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        out = np.full(len(keys), -1, dtype=np.int64)
        maybe = np.flatnonzero(self.filter[_slots(keys)])
        if not len(maybe):
            return out
        some = keys[maybe]
        found = np.full(len(some), -1, dtype=np.int64)
        for run in self.runs:
            got = run.lookup(some)
            found = np.where(found < 0, got, found)
        out[maybe] = found
        return out

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        if not len(keys):
            return
        self.filter[_slots(keys)] = True
        self.runs.append(SeenKeys(keys, values))
        # Keep run sizes geometric (a binary counter): about log2(n / chunk) runs to
        # search, and each key is merged O(log n) times; the stable sort of two
        # sorted runs is a linear merge.
        while len(self.runs) > 1 and len(self.runs[-1]) * 2 >= len(self.runs[-2]):
            b, a = self.runs.pop(), self.runs.pop()
            self.runs.append(SeenKeys(np.concatenate([a.keys, b.keys]),
                                      np.concatenate([a.values, b.values])))
