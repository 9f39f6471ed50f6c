"""``--sim-profile``: a weight table you write replaces the default one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

import builders
from dialcli.errors import InputError
from dialcli.providers.simulator import DEFAULT_PROFILE, OUTCOMES, PERSONAS, SimProfile


def test_an_outcomes_table_replaces_the_defaults():
    p = SimProfile.from_dict({"outcomes": {"no_answer": 1.0}})
    assert p.outcomes == {"no_answer": 1.0}
    p = SimProfile.from_dict({"outcomes": {"busy": 1, "human": 3}})
    assert p.outcomes == {"human": 0.75, "busy": 0.25}


def test_a_personas_table_replaces_the_defaults_and_timing_merges_per_key():
    p = SimProfile.from_dict({"personas": {"opt_out": 2}, "timing": {"ring_timeout": 5}})
    assert p.personas == {"opt_out": 1.0}
    assert p.timing == {**DEFAULT_PROFILE["timing"], "ring_timeout": 5}


def test_without_tables_the_defaults_hold():
    p = SimProfile.from_dict({})
    total = sum(DEFAULT_PROFILE["outcomes"].values())
    assert p.outcomes == pytest.approx({k: v / total for k, v in
                                        DEFAULT_PROFILE["outcomes"].items()})
    assert list(p.personas) == list(PERSONAS)


@pytest.mark.parametrize("table, words", [
    ({"human": -0.5, "busy": 1}, "negative"),
    ({"human": 0, "busy": 0.0}, "add up to zero"),
    ({}, "add up to zero"),
    ({"humans": 1}, "unknown outcome humans"),
    ({"human": "lots"}, "must be a number"),
])
def test_bad_weights_are_refused_with_the_reason(table, words):
    with pytest.raises(InputError, match=words):
        SimProfile.from_dict({"outcomes": table}, source="Simulator profile p.toml")


@given(hs.dictionaries(hs.sampled_from(OUTCOMES), hs.integers(0, 9)).filter(
    lambda d: sum(d.values()) > 0))
def test_weights_are_the_written_shares_in_one_order(table):
    p = SimProfile.from_dict({"outcomes": table})
    total = sum(table.values())
    assert p.outcomes == pytest.approx({k: w / total for k, w in table.items() if w})
    assert list(p.outcomes) == [k for k in OUTCOMES if table.get(k)]     # file order ignored
    backwards = SimProfile.from_dict({"outcomes": dict(reversed(list(table.items())))})
    assert backwards.outcomes == p.outcomes and list(backwards.outcomes) == list(p.outcomes)


def test_a_profile_of_only_no_answer_never_connects_a_call(cli, db_path, tmp_path):
    with builders.workspace(db_path) as st:
        builders.campaign(st, max_attempts=2, retry=1, leads=[
            {"phones": [f"+1212555{100 + i:04d}"]} for i in range(30)])
    profile = tmp_path / "silent.toml"
    profile.write_text("[outcomes]\nno_answer = 1.0\n")
    r = cli("start", "--simulate", "--seed", "4", "--sim-profile", profile)
    assert r.exit_code == 0, r.output
    with builders.workspace(db_path) as st:
        dispositions = {row[0] for row in st.all("SELECT disposition FROM calls")}
        statuses = {row[0] for row in st.all("SELECT status FROM leads")}
        dials = st.scalar("SELECT COUNT(*) FROM calls")
    assert dispositions == {"NO_ANSWER"} and statuses == {"EXHAUSTED"} and dials == 60


def test_the_cli_names_the_file_and_the_bad_weight(cli, db_path, tmp_path):
    with builders.workspace(db_path) as st:
        builders.campaign(st, leads=[{"phones": ["+12125550100"]}])
    profile = tmp_path / "bad.toml"
    profile.write_text("[outcomes]\nhuman = -1\nbusy = 1\n")
    r = cli("start", "--simulate", "--sim-profile", profile)
    assert r.exit_code == 2
    assert "bad.toml" in r.stderr and "negative" in r.stderr and "Traceback" not in r.output
