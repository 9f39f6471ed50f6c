"""``dialcli.outcomes``: the lifecycle of design.md section 4, one branch at a time.

Pure functions, so the tests are tables and properties: no store, no clock.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from dialcli.models import NOT_REACHED, CallStatus, Disposition, LeadStatus
from dialcli.outcomes import LeadView, disposition_for, next_state, skip_phone

D = Disposition


# -- call result -> disposition ---------------------------------------------------------

@pytest.mark.parametrize("status, expected", [
    ("no-answer", D.NO_ANSWER), ("busy", D.NO_ANSWER), ("canceled", D.NO_ANSWER),
    ("failed", D.FAILED),
    ("ringing", D.FAILED), ("in-progress", D.FAILED), ("claimed", D.FAILED),  # not final
])
def test_a_call_nobody_answered(status, expected):
    assert disposition_for(status, None, D.INTERESTED, 5) is expected


@pytest.mark.parametrize("answered_by, expected", [
    ("machine_end_beep", D.VOICEMAIL), ("machine_end_silence", D.VOICEMAIL),
    ("machine_start", D.VOICEMAIL), ("fax", D.WRONG_NUMBER),
])
def test_machines_and_faxes_override_any_label(answered_by, expected):
    assert disposition_for(CallStatus.COMPLETED, answered_by, D.INTERESTED, 4) is expected


@pytest.mark.parametrize("label", [D.COMPLETED, D.NO_ANSWER, D.FAILED, None])
@pytest.mark.parametrize("turns", [None, 0, 1])
def test_a_completed_call_with_at_most_one_caller_turn_is_no_answer(label, turns):
    assert disposition_for("completed", "human", label, turns) is D.NO_ANSWER


@pytest.mark.parametrize("label", [D.OPT_OUT, D.WRONG_NUMBER, D.VOICEMAIL])
def test_one_turn_is_enough_to_opt_out_or_say_wrong_number(label):
    assert disposition_for("completed", "human", label, 1) is label


@pytest.mark.parametrize("label", [D.INTERESTED, D.NOT_INTERESTED, D.CALLBACK])
def test_a_brain_label_needs_the_caller_to_have_spoken(label):
    assert disposition_for("completed", "human", label, 0) is D.NO_ANSWER
    assert disposition_for("completed", "human", label, 1) is label
    assert disposition_for("completed", None, label.value, 3) is label


def test_an_unlabelled_conversation_is_completed():
    assert disposition_for("completed", "human", None, 2) is D.COMPLETED
    assert disposition_for("completed", "unknown", None, 7) is D.COMPLETED


# -- disposition -> the lead's next state --------------------------------------------------

def view(*live, slot=1, pass_no=1, status=LeadStatus.DIALING, callback_attempts=0,
         callback_dials=0) -> LeadView:
    return LeadView(status, slot, pass_no, callback_attempts, tuple(live), callback_dials)


@pytest.mark.parametrize("disp", sorted(NOT_REACHED - {D.WRONG_NUMBER}))
def test_not_reached_moves_breadth_first_to_the_next_live_phone(disp):
    t = next_state(view(1, 3, 4), 1, disp, is_callback=False, max_attempts=3)
    assert (t.status, t.phone_slot, t.pass_done, t.kill_slot) == (LeadStatus.RETRY, 3, 0, None)


def test_after_the_last_phone_the_lead_is_done_for_the_pass_back_at_its_first_phone():
    t = next_state(view(1, 3, slot=3), 3, D.NO_ANSWER, is_callback=False, max_attempts=3)
    assert (t.status, t.phone_slot, t.pass_done) == (LeadStatus.RETRY, 1, 1)


def test_after_max_passes_the_unreached_are_exhausted():
    t = next_state(view(1, 2, slot=2, pass_no=3), 2, D.VOICEMAIL, is_callback=False,
                   max_attempts=3)
    assert (t.status, t.phone_slot, t.pass_done) == (LeadStatus.EXHAUSTED, None, 1)
    assert t.skip_reason == "not reached in 3 pass(es)"


def test_wrong_number_kills_the_phone_and_moves_on():
    t = next_state(view(1, 2), 1, D.WRONG_NUMBER, is_callback=False, max_attempts=3)
    assert (t.status, t.phone_slot, t.kill_slot) == (LeadStatus.RETRY, 2, 1)
    t = next_state(view(1, 2, slot=2), 2, D.WRONG_NUMBER, is_callback=False, max_attempts=3)
    assert (t.status, t.phone_slot, t.pass_done, t.kill_slot) == (LeadStatus.RETRY, 1, 1, 2)


def test_wrong_number_on_the_only_live_phone_exhausts_the_lead_at_once():
    t = next_state(view(2, slot=2), 2, D.WRONG_NUMBER, is_callback=False, max_attempts=3)
    assert (t.status, t.phone_slot, t.kill_slot) == (LeadStatus.EXHAUSTED, None, 2)
    assert t.skip_reason == "no dialable phone left"


@pytest.mark.parametrize("disp, status", [
    (D.INTERESTED, LeadStatus.REACHED), (D.NOT_INTERESTED, LeadStatus.REACHED),
    (D.COMPLETED, LeadStatus.REACHED), (D.OPT_OUT, LeadStatus.OPTED_OUT),
    (D.CALLBACK, LeadStatus.CALLBACK),
])
def test_a_reach_ends_the_lead_on_the_phone_that_reached_them(disp, status):
    t = next_state(view(1, 2, 3, slot=2), 2, disp, is_callback=False, max_attempts=3)
    assert (t.status, t.phone_slot, t.reached_slot, t.pass_done) == (status, 2, 2, 1)
    assert t.callback is (disp is D.CALLBACK) and t.kill_slot is None


def test_a_callback_dial_not_reached_is_tried_again_then_exhausted():
    lead = view(1, 2, status=LeadStatus.CALLBACK, callback_attempts=1)
    t = next_state(lead, 1, D.NO_ANSWER, is_callback=True, max_attempts=3)
    assert (t.status, t.phone_slot, t.callback, t.callback_attempts) == (
        LeadStatus.CALLBACK, 1, True, 2)
    lead = view(1, 2, status=LeadStatus.CALLBACK, callback_attempts=2)
    t = next_state(lead, 1, D.NO_ANSWER, is_callback=True, max_attempts=3)
    assert (t.status, t.callback_attempts) == (LeadStatus.EXHAUSTED, 3)
    assert t.skip_reason == "callback not reached after 3 attempt(s)"


def test_a_callback_to_a_wrong_number_ends_the_callbacks():
    t = next_state(view(1, 2, status=LeadStatus.CALLBACK), 1, D.WRONG_NUMBER, is_callback=True,
                   max_attempts=3)
    assert (t.status, t.kill_slot) == (LeadStatus.EXHAUSTED, 1)
    assert t.skip_reason == "callback number retired: wrong number"


def test_asking_for_yet_another_callback_after_max_callback_dials_counts_as_reached():
    again = view(1, status=LeadStatus.CALLBACK, callback_dials=2)
    assert next_state(again, 1, D.CALLBACK, is_callback=True, max_attempts=3).status \
        is LeadStatus.CALLBACK
    last = view(1, status=LeadStatus.CALLBACK, callback_dials=3)
    t = next_state(last, 1, D.CALLBACK, is_callback=True, max_attempts=3)
    assert (t.status, t.callback, t.reached_slot) == (LeadStatus.REACHED, False, 1)


# -- a phone that became undialable before it was dialed ----------------------------------------

def test_skip_moves_to_the_next_live_phone_keeping_the_status():
    t = skip_phone(view(1, 2, status=LeadStatus.PENDING), 1, max_attempts=3, reason="opt-out")
    assert (t.status, t.phone_slot, t.pass_done, t.kill_slot) == (LeadStatus.PENDING, 2, 0, 1)


@pytest.mark.parametrize("status, after", [(LeadStatus.PENDING, LeadStatus.SKIPPED),
                                           (LeadStatus.RETRY, LeadStatus.EXHAUSTED)])
def test_skipping_the_last_live_phone(status, after):
    t = skip_phone(view(1, status=status), 1, max_attempts=3, reason="on the opt-out list")
    assert (t.status, t.phone_slot, t.skip_reason) == (after, None, "on the opt-out list")


def test_skipping_the_last_phone_of_a_pass_goes_back_to_the_first_or_exhausts():
    t = skip_phone(view(1, 2, slot=2, status=LeadStatus.RETRY), 2, max_attempts=3, reason="x")
    assert (t.status, t.phone_slot, t.pass_done) == (LeadStatus.RETRY, 1, 1)
    t = skip_phone(view(1, 2, slot=2, status=LeadStatus.RETRY, pass_no=3), 2, max_attempts=3,
                   reason="x")
    assert (t.status, t.phone_slot) == (LeadStatus.EXHAUSTED, None)


# -- properties ---------------------------------------------------------------------------------

leads = hs.builds(
    lambda live, pass_no, cb: (tuple(sorted(live)), pass_no, cb),
    hs.sets(hs.integers(1, 10), min_size=1, max_size=10), hs.integers(1, 5), hs.integers(0, 5))


@given(leads, hs.sampled_from(list(Disposition)), hs.integers(1, 5), hs.data())
def test_a_transition_never_points_at_a_dead_phone_or_goes_back_in_a_pass(lead, disp, max_att,
                                                                        data):
    live, pass_no, cb = lead
    slot = data.draw(hs.sampled_from(live))
    t = next_state(view(*live, slot=slot, pass_no=min(pass_no, max_att), callback_attempts=cb),
                   slot, disp, is_callback=False, max_attempts=max_att)
    still_live = [s for s in live if not (disp is D.WRONG_NUMBER and s == slot)]
    if t.phone_slot is not None:
        assert t.phone_slot in still_live
    if disp.reached:
        assert t.reached_slot == slot and t.pass_done == 1
    elif t.pass_done == 0:                        # still in this pass: strictly later phone
        assert t.status is LeadStatus.RETRY and t.phone_slot > slot
        assert t.phone_slot == min(s for s in still_live if s > slot)
    else:
        assert t.status in (LeadStatus.RETRY, LeadStatus.EXHAUSTED)
        assert (t.status is LeadStatus.EXHAUSTED) == (not still_live or pass_no >= max_att)
    assert t.kill_slot == (slot if disp is D.WRONG_NUMBER else None)
