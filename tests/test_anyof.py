"""``AnyOf``: the intent lists run only the patterns whose words are in the line --
and must answer exactly as the single alternation they replace."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialcli.conversation import intents
from dialcli.conversation.anyof import AnyOf, required
from dialcli.conversation.evaluate import read_cases

DATA = Path(__file__).resolve().parent / "data"
LISTS = {name: v for name, v in vars(intents).items() if isinstance(v, AnyOf)}


@pytest.mark.parametrize("pattern, anchors", [
    (r"\bstop (?:calling|ringing)\b", {"calling", "ringing"}),
    (r"^(?:please )?remove(?: please| me)?$", {"remove"}),
    (r"\bno (?:more|further) (?:phone )?calls\b", {"calls"}),     # the longest run that must be there
    (r"\b(?:do not|never) call\b", {" call"}),
    (r"(?:a|b)+c", None),                       # nothing two characters long is certain
    (r"\b(?:stop|x)\b", None),                  # one branch has no anchor: none for the whole
    (r"(?i)stop calling", None),                # case-blind: literals are no anchors
    (r"(?:stop calling)?", None),               # optional
])
def test_required_anchors(pattern, anchors):
    assert required(pattern) == (frozenset(anchors) if anchors is not None else None)


@lru_cache(maxsize=1)
def _lines() -> list[str]:
    """Every corpus line, normalized, and its pieces (clauses, courtesies dropped)."""
    out: set[str] = set()
    for path in sorted(DATA.glob("brain_*.csv")):
        for case in read_cases(path):
            for turn in case.turns:
                s = intents.normalize(turn)
                out.update((s, intents._core(s)))
                out.update(p.strip() for p in intents._CLAUSE_BREAK.split(f" {s} "))
    return sorted(out)


@pytest.mark.parametrize("name", sorted(LISTS))
def test_each_list_answers_as_its_alternation_on_the_corpus(name):
    fast = LISTS[name]
    whole = re.compile(fast.pattern)
    for s in _lines():
        assert bool(fast.search(s)) == bool(whole.search(s)), (name, s)


def test_every_anchor_is_in_every_match_of_its_pattern():
    """``required`` is sound where it matters: on the corpus, each opt-out pattern's
    matches contain one of its anchors."""
    for p in intents._OPT_OUT.patterns:
        anchors = required(p)
        if anchors is None:
            continue
        compiled = re.compile(p)
        for s in _lines():
            m = compiled.search(s)
            if m:
                assert any(a in m.group(0) for a in anchors), (p, s, anchors)


_WORDS = sorted({w for s in _lines()[:4000] for w in s.split()} | {"please", "stop", "calling", "not"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=14))
def test_opt_out_list_answers_as_its_alternation_on_made_up_lines(words):
    s = " ".join(words)
    for name in ("_OPT_OUT", "_NOT_INTERESTED", "_INTERESTED", "_CALLBACK"):
        fast = LISTS[name]
        assert bool(fast.search(s)) == bool(_whole(name).search(s)), (name, s)


@lru_cache(maxsize=None)
def _whole(name: str) -> re.Pattern[str]:
    return re.compile(LISTS[name].pattern)
