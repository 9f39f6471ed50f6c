"""Caps per person: where a state counts calls "to a consumer ... regardless of the
phone number used" (Fla. Stat. 501.059(8)(a); Oklahoma and Maryland alike), every
number of the lead -- and of any lead sharing one of them -- counts towards the cap.
Elsewhere the cap stays per number."""

from __future__ import annotations

from datetime import timedelta

import pytest

import builders
from builders import NOW, EngineParts, add_call, add_leads, audit, lead, workspace
from dialcli.clock import to_iso
from dialcli.compliance import policy

MIAMI = ["+13055550101", "+13055550102", "+13055550103"]        # Florida
TULSA = ["+19185550101", "+19185550102", "+19185550103"]        # Oklahoma
BALTIMORE = ["+14105550101", "+14105550102", "+14105550103"]    # Maryland
NEW_YORK = ["+12125550101", "+12125550102", "+12125550103"]     # per number


@pytest.fixture
def store(tmp_path):
    with workspace(tmp_path) as st:
        yield st


def _three_dials_then_phone3(store, numbers, *, hours=(1, 2, 3)):
    """A lead dialed three times in the last hours on its phones 1 and 2, now at phone 3."""
    cid = builders.campaign(store, purpose="telemarketing", consent="written", max_attempts=5)
    (lead_id,) = add_leads(store, cid, [{"phones": numbers, "status": "RETRY", "slot": 3,
                                         "pass_no": 2, "consent": "written"}])
    for (slot, pass_no), h in zip(((1, 1), (2, 1), (1, 2)), hours):
        add_call(store, cid, lead_id, slot=slot, pass_no=pass_no, disposition="NO_ANSWER",
                 claimed_at=NOW - timedelta(hours=h))
    return cid, lead_id


def test_the_state_rules_say_which_caps_count_the_person():
    assert policy.CONSUMER_CAP_STATES == {"FL", "OK", "MD"}


@pytest.mark.parametrize("numbers", [MIAMI, TULSA, BALTIMORE], ids=["FL", "OK", "MD"])
def test_a_fourth_dial_to_the_same_consumer_on_another_number_waits(store, numbers):
    cid, lead_id = _three_dials_then_phone3(store, numbers)
    assert EngineParts(store, cid).claim(lead_id, slot=3) is None
    row = lead(store, lead_id)
    assert row["status"] == "RETRY" and row["phone_slot"] == 3
    assert row["next_try_at"] == to_iso(NOW - timedelta(hours=3) + timedelta(hours=24))
    (defer,) = [a for a in audit(store) if a["decision"] == "defer"]
    assert defer["e164"] == numbers[2]
    assert defer["reason"] == "frequency cap (per consumer: every number counts)"
    assert defer["detail"]["cap_scope"] == "consumer"
    assert defer["detail"]["cap_count"] == 3 and defer["detail"]["cap_limit"] == 3
    assert defer["detail"]["cap_numbers"] == sorted(numbers)


def test_a_state_that_counts_per_number_keeps_counting_per_number(store):
    cid, lead_id = _three_dials_then_phone3(store, NEW_YORK)
    f = EngineParts(store, cid).claim(lead_id, slot=3)
    assert f is not None and f.e164 == NEW_YORK[2]
    (dial,) = [a for a in audit(store) if a["decision"] == "dial"]
    assert dial["detail"]["cap_count"] == 0 and "cap_scope" not in dial["detail"]


def test_dials_older_than_24_hours_do_not_count(store):
    cid, lead_id = _three_dials_then_phone3(store, MIAMI, hours=(1, 2, 25))
    f = EngineParts(store, cid).claim(lead_id, slot=3)
    assert f is not None
    (dial,) = [a for a in audit(store) if a["decision"] == "dial"]
    assert dial["detail"]["cap_count"] == 2 and dial["detail"]["cap_scope"] == "consumer"


def test_a_lead_sharing_a_number_is_the_same_consumer_across_campaigns(store):
    """The same person imported into two campaigns: dials from the other one count."""
    other = builders.campaign(store, "Other", purpose="telemarketing", consent="written")
    (twin,) = add_leads(store, other, [{"phones": [MIAMI[0], "+13055550199"],
                                        "consent": "written"}])
    for pass_no, h in ((1, 1), (2, 2), (3, 3)):
        add_call(store, other, twin, slot=2, pass_no=pass_no, disposition="NO_ANSWER",
                 claimed_at=NOW - timedelta(hours=h))
    cid = builders.campaign(store, purpose="telemarketing", consent="written")
    (lead_id,) = add_leads(store, cid, [{"phones": [MIAMI[0]], "consent": "written"}])
    assert EngineParts(store, cid).claim(lead_id) is None
    (defer,) = [a for a in audit(store) if a["decision"] == "defer"]
    assert defer["detail"]["cap_numbers"] == sorted([MIAMI[0], "+13055550199"])
    assert policy.consumer_numbers(store.conn, lead_id) == sorted([MIAMI[0], "+13055550199"])


def test_a_bad_cap_per_value_in_the_rules_data_is_refused():
    from dialcli.compliance.rules import parse_state_rules

    with pytest.raises(ValueError, match="cap_per"):
        parse_state_rules('version = "x"\n[[rule]]\nstate = "FL"\ncap_per = "consumer"\n'
                          'source = "s"\nconfidence = "H"\n')


def test_the_quoted_case_a_florida_lead_with_three_phones_gets_three_dials_a_day(store):
    """The issue's run: retries 5 minutes apart over three phones gave 9 dials in 14
    minutes. Now no 24 hours hold more than 3 dials to the person."""
    from dialcli.clock import VirtualClock, from_iso
    from dialcli.engine.loop import Engine
    from dialcli.providers.simulator import SimProfile, SimulatedProvider
    from fakes.keyword_brain import KeywordBrain

    cid = builders.campaign(store, purpose="telemarketing", consent="written", max_attempts=3,
                            retry=5, window=("08:00", "20:00"))
    add_leads(store, cid, [{"phones": MIAMI, "consent": "written"}])
    prof = SimProfile.from_dict({"outcomes": {"no_answer": 1.0}})
    Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1, profile=prof),
           VirtualClock(NOW)).run()
    times = sorted(from_iso(r[0]) for r in store.all("SELECT claimed_at FROM calls"))
    assert len(times) == 9                          # every phone, every pass: dialed in the end
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= timedelta(hours=24), times
