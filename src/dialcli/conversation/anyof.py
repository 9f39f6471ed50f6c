"""One question over many patterns ("does any of these match?"), asked cheaply.

The rule brain's intent lists are long alternations (the opt-out list alone is
some 300 patterns, 32,000 characters). Python's ``re`` tries every alternative at
every position of the line, so one search of that list cost ~250 us -- and a
rambling line is searched many times (whole, without courtesies, clause by
clause). Yet almost every pattern needs some word to be in the line: "stop
calling" cannot match a line without "stop" or "quit" in it.

``AnyOf(patterns)`` reads, once, for each pattern the literal strings a match must
contain (at least one of them: ``required``) and at search time runs only the
patterns whose anchors occur in the line (a substring test each), plus the few
that have no anchor. A match is found exactly when the single alternation
``(?:p1)|(?:p2)|...`` would find one: an alternation matches somewhere iff one of
its alternatives does, and an alternative skipped lacks a string every match of
it contains. Only whether there is a match is promised, not which one: the
``re.Match`` returned may be a different alternative's than the alternation's
leftmost (callers here ask only "is there one").

The anchors come from ``re``'s own parser (``re._parser``, CPython's, stable in
practice but private); should it ever be unavailable or refuse a pattern, that
pattern is simply always run.
"""

from __future__ import annotations

import re
from typing import Iterable

try:                                          # CPython 3.11+
    from re import _constants as _C
    from re import _parser as _sre_parse
except ImportError:                           # pragma: no cover - another Python
    _C = _sre_parse = None                    # type: ignore[assignment]

__all__ = ["AnyOf", "required"]

#: A shorter anchor is in too many lines to be worth testing.
MIN_ANCHOR = 2


def required(pattern: str) -> frozenset[str] | None:
    """Strings at least one of which is in the text of every match of ``pattern``
    (None: no such guarantee found -- the pattern must always be run)."""
    if _sre_parse is None:
        return None
    try:
        parsed = _sre_parse.parse(pattern)
    except Exception:                         # noqa: BLE001 - any refusal: always run it
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    return _seq(parsed)


def _seq(items) -> frozenset[str] | None:        # noqa: ANN001 - re._parser.SubPattern
    """A sequence: any of its parts' requirements is the whole's; literal runs count
    whole (zero-width items -- \\b, ^, lookarounds -- do not break a run)."""
    found: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _C.LITERAL:
            run.append(chr(av))
            continue
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            continue
        if run:
            found.append(frozenset(("".join(run),)))
            run = []
        got = _node(op, av)
        if got is not None:
            found.append(got)
    if run:
        found.append(frozenset(("".join(run),)))
    found = [f for f in found if f and min(map(len, f)) >= MIN_ANCHOR]
    if not found:
        return None
    # The rarest-looking choice: longest shortest anchor, then the fewest anchors.
    return max(found, key=lambda f: (min(map(len, f)), -len(f)))


def _node(op, av) -> frozenset[str] | None:      # noqa: ANN001
    if op is _C.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return None if add_flags & re.IGNORECASE else _seq(sub)
    if op is _C.ATOMIC_GROUP:
        return _seq(av)
    if op is _C.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            got = _seq(branch)
            if got is None:
                return None
            union |= got
        return frozenset(union)
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        low, _high, sub = av
        return _seq(sub) if low >= 1 else None
    return None


class AnyOf:
    """``search(s)``: a match of one of ``patterns`` in ``s``, or None -- the answer
    of ``re.compile('|'.join('(?:%s)' % p for p in patterns)).search(s)``, found
    by running only the patterns whose anchors are in ``s``."""

    def __init__(self, patterns: Iterable[str]):
        patterns = list(patterns)
        self.pattern = "|".join(f"(?:{p})" for p in patterns)
        self.patterns = tuple(patterns)
        by_anchor: dict[str, list[re.Pattern[str]]] = {}
        always: list[re.Pattern[str]] = []
        for p in patterns:
            compiled = re.compile(p)
            anchors = required(p)
            if anchors is None:
                always.append(compiled)
            else:
                for a in sorted(anchors):
                    by_anchor.setdefault(a, []).append(compiled)
        self._always = tuple(always)
        self._anchored = tuple((a, tuple(ps)) for a, ps in by_anchor.items())

    def search(self, s: str) -> re.Match[str] | None:
        for p in self._always:
            m = p.search(s)
            if m:
                return m
        for anchor, ps in self._anchored:
            if anchor in s:
                for p in ps:
                    m = p.search(s)
                    if m:
                        return m
        return None

    def __repr__(self) -> str:
        return (f"AnyOf({len(self.patterns)} patterns, {len(self._always)} always run, "
                f"{len(self._anchored)} anchors)")
