"""Claiming and settling, each alone: the parts of the engine built from their
constructor dependencies, with no loop around them.

A claim must record the dial (call row, lead DIALING, audit evidence) before anything
is placed, and decline -- with the right trace -- every dial a gate refuses. A
settlement turns one finished call into the lead's next state, in one transaction.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import EngineParts as Parts
from builders import NOW, NoNetwork, audit, calls, campaign, lead, phones, workspace
from dialcli.clock import to_iso
from dialcli.compliance import dnc
from dialcli.conversation.base import EndCall
from dialcli.models import CallStatus, Disposition

NY1, NY2 = "+12125550101", "+12125550102"


@pytest.fixture
def store(tmp_path):
    with workspace(tmp_path) as st:
        yield st


# -- claiming ---------------------------------------------------------------------------

def test_a_claim_records_the_dial_before_anything_is_placed(store):
    cid = campaign(store, leads=[{"name": "Alex", "phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    f = parts.claim(lead_id)
    assert f is not None and f.request is not None
    assert f.request.to == NY1 and "Alex" in f.request.context.greeting
    (call,) = calls(store, cid)
    assert call["status"] == "claimed" and call["provider_sid"] is None
    assert call["claimed_at"] == to_iso(NOW) and call["zone"] == "America/New_York"
    row = lead(store, lead_id)
    assert row["status"] == "DIALING" and row["attempts"] == 1
    (dial,) = [a for a in audit(store) if a["decision"] == "dial"]
    assert dial["call_id"] == call["id"] and dial["e164"] == NY1
    assert dial["detail"]["zones"] == ["America/New_York"]
    assert dial["detail"]["opt_out"] is False and dial["detail"]["cap_count"] == 0


def test_the_same_attempt_is_never_claimed_twice(store):
    cid = campaign(store, leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    assert parts.claim(lead_id) is not None
    assert parts.claim(lead_id) is None            # the lead is DIALING now
    assert len(calls(store, cid)) == 1


def test_a_claim_on_a_phone_that_is_not_the_leads_turn_is_declined(store):
    cid = campaign(store, leads=[{"phones": [NY1, NY2]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    assert parts.claim(lead_id, slot=2) is None     # breadth-first: phone1 first
    assert parts.claim(lead_id, slot=1, kind="callback:1") is None   # no callback due
    assert calls(store, cid) == [] and lead(store, lead_id)["status"] == "PENDING"


def test_an_opted_out_number_is_retired_and_the_lead_moves_to_its_next_phone(store):
    cid = campaign(store, leads=[{"phones": [NY1, NY2]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    with store.tx() as conn:       # put on the list behind the campaign's back
        conn.execute("INSERT INTO dnc (e164, source, reason, added_at) VALUES (?, 'cli', "
                     "'asked', ?)", (NY1, to_iso(NOW)))
    assert parts.claim(lead_id) is None
    assert calls(store, cid) == []
    row = lead(store, lead_id)
    assert row["status"] == "PENDING" and row["phone_slot"] == 2
    assert phones(store, lead_id)[0]["dead_reason"] == "on the opt-out list"
    (skip,) = [a for a in audit(store) if a["decision"] == "skip"]
    assert skip["e164"] == NY1 and skip["detail"]["opt_out"] is True


def test_a_number_over_its_frequency_cap_is_deferred_not_dialed(store):
    cid = campaign(store, leads=[{"phones": [NY1]}])
    other = campaign(store, "Other", leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads WHERE campaign_id = ?",
                                             (cid,))]
    (other_lead,) = [r["id"] for r in store.all("SELECT id FROM leads WHERE campaign_id = ?",
                                                (other,))]
    with store.tx() as conn:       # three dials of the number in the last hours, elsewhere
        for h in (1, 2, 3):
            conn.execute(
                "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
                "kind, provider, status, claimed_at) VALUES (?, 1, ?, 1, ?, '+14155550100', ?, "
                "'pass', 'simulator', 'completed', ?)",
                (other, other_lead, NY1, h, to_iso(NOW - timedelta(hours=h))))
    parts = Parts(store, cid)
    assert parts.claim(lead_id) is None
    row = lead(store, lead_id)
    assert row["status"] == "PENDING" and row["next_try_at"] == to_iso(NOW + timedelta(hours=21))
    (defer,) = [a for a in audit(store) if a["decision"] == "defer"]
    assert defer["reason"] == "frequency cap" and defer["detail"]["cap_count"] == 3


def test_a_lead_whose_values_break_the_greeting_is_skipped_with_the_reason(store):
    cid = campaign(store, greeting="Hi {{ NAME.nope() }}", leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    assert parts.claim(lead_id) is None
    row = lead(store, lead_id)
    assert row["status"] == "SKIPPED" and "cannot be rendered" in row["skip_reason"]
    assert calls(store, cid) == []


# -- settling ---------------------------------------------------------------------------

def test_no_answer_moves_the_lead_to_its_next_phone_breadth_first(store):
    cid = campaign(store, leads=[{"phones": [NY1, NY2]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid, rate=0.02)
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.NO_ANSWER)
    (call,) = calls(store, cid)
    assert call["disposition"] == "NO_ANSWER" and call["provider_sid"] == f"SIM{f.call_id}"
    row = lead(store, lead_id)
    assert row["status"] == "RETRY" and row["phone_slot"] == 2 and not row["pass_done"]
    assert parts.state.in_flight == {}
    assert parts.progress.dispositions == {"NO_ANSWER": 1}


def test_a_completed_call_with_one_caller_turn_counts_as_no_answer(store):
    cid = campaign(store, max_attempts=1, leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.COMPLETED, answered_by="human", turns=1, billed=1,
              transcript=[{"role": "caller", "text": "Hello?"}])
    assert calls(store, cid)[0]["disposition"] == "NO_ANSWER"
    assert lead(store, lead_id)["status"] == "EXHAUSTED"
    assert parts.classified == []      # one turn: nothing for the classifier to read


def test_an_unlabelled_conversation_is_classified_and_priced_at_the_rate(store):
    cid = campaign(store, leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid, rate=0.02,
                  classifier=lambda t, name: EndCall(Disposition.INTERESTED, summary="wants it"))
    f = parts.claim(lead_id)
    talk = [{"role": "agent", "text": "Hi"}, {"role": "caller", "text": "yes"},
            {"role": "caller", "text": "sign me up"}]
    parts.end(f, CallStatus.COMPLETED, answered_by="human", turns=2, billed=3,
              transcript=talk)
    (call,) = calls(store, cid)
    assert parts.classified == [talk]
    assert call["disposition"] == "INTERESTED" and call["summary"] == "wants it"
    assert call["price"] == pytest.approx(0.06) and call["price_final"] == 0
    assert lead(store, lead_id)["status"] == "REACHED"


def test_a_providers_final_price_is_kept_as_final(store):
    cid = campaign(store, leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid, provider=NoNetwork(prices_final=True))
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.BUSY, price=0.0)
    (call,) = calls(store, cid)
    assert call["price"] == 0.0 and call["price_final"] == 1


@pytest.mark.parametrize("simulated", [True, False])
def test_an_opt_out_puts_every_number_of_the_lead_on_the_list_in_the_same_transaction(
        store, simulated):
    cid = campaign(store, leads=[{"phones": [NY1, NY2]}])
    other = campaign(store, "Other", leads=[{"phones": [NY2]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads WHERE campaign_id = ?",
                                             (cid,))]
    parts = Parts(store, cid, provider=NoNetwork(simulated=simulated))
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.COMPLETED, answered_by="human", turns=2,
              label=EndCall(Disposition.OPT_OUT, summary="stop calling"))
    assert lead(store, lead_id)["status"] == "OPTED_OUT"
    for number in (NY1, NY2):
        assert dnc.is_opted_out(store.conn, number, simulated=True)
        # A simulated callee's opt-out binds simulated runs only; a real one binds all.
        assert dnc.is_opted_out(store.conn, number) is not simulated
    (in_other,) = store.all("SELECT status FROM leads WHERE campaign_id = ?", (other,))
    assert in_other["status"] == ("PENDING" if simulated else "SKIPPED")


def test_a_wrong_number_kills_that_phone_only(store):
    cid = campaign(store, leads=[{"phones": [NY1, NY2]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.COMPLETED, answered_by="human", turns=2,
              label=EndCall(Disposition.WRONG_NUMBER, summary="no Alex here"))
    p1, p2 = phones(store, lead_id)
    assert p1["dead_reason"] == "wrong number" and p2["dead_reason"] is None
    row = lead(store, lead_id)
    assert row["status"] == "RETRY" and row["phone_slot"] == 2


def test_a_callback_books_an_appointment_inside_the_window(store):
    cid = campaign(store, leads=[{"phones": [NY1]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.COMPLETED, answered_by="human", turns=2,
              label=EndCall(Disposition.CALLBACK, summary="busy",
                            callback_at=to_iso(NOW + timedelta(hours=11))))   # 21:00 NY
    row = lead(store, lead_id)
    # 21:00 in New York is past the 20:00 window end: moved to the next opening.
    assert row["status"] == "CALLBACK" and row["callback_slot"] == 1
    assert row["callback_at"] == to_iso(NOW + timedelta(days=1, hours=-1))   # 09:00 NY
    (appt,) = store.all("SELECT status, due_at FROM appointments WHERE lead_id = ?", (lead_id,))
    assert appt["status"] == "open" and appt["due_at"] == row["callback_at"]
    assert parts.state.next_callback == NOW + timedelta(days=1, hours=-1)


def test_a_duplicate_end_changes_nothing(store):
    cid = campaign(store, leads=[{"phones": [NY1, NY2]}])
    (lead_id,) = [r["id"] for r in store.all("SELECT id FROM leads")]
    parts = Parts(store, cid)
    f = parts.claim(lead_id)
    parts.end(f, CallStatus.NO_ANSWER)
    before = (lead(store, lead_id), calls(store, cid), len(audit(store)))
    parts.end(f, CallStatus.COMPLETED, answered_by="human", turns=3,
              label=EndCall(Disposition.INTERESTED, summary="late"))
    assert (lead(store, lead_id), calls(store, cid), len(audit(store))) == before
    assert parts.progress.dispositions == {"NO_ANSWER": 1}


def test_an_undone_claim_leaves_no_audit_row_naming_a_reused_call_id(store):
    """A claim undone by reconcile deletes its call row; SQLite hands its id to the next
    claim, so the undone dial's audit row must stop naming it (else `calls show` and
    every audit join read the old number's evidence as the new call's)."""
    import builders
    from dialcli.store import transitions

    cid = builders.campaign(store, leads=[{"phones": ["+12125550100", "+12125550101"]}])
    (lead_id,) = [row["id"] for row in builders.leads(store, cid)]

    def claim(slot: int, e164: str) -> int:
        return transitions.claim(
            store.conn, campaign_id=cid, run=1, lead_id=lead_id, slot=slot, e164=e164,
            from_number="+14155550100", pass_no=1, kind="pass", provider="simulator",
            now_iso=builders.NOW_ISO, zones="America/New_York", local_time="09:00",
            previous="PENDING", detail={"e164": e164}, hooks=False)

    with store.tx():
        first = claim(1, "+12125550100")
        assert transitions.revert_claim(store.conn, call_id=first, now_iso=builders.NOW_ISO,
                                        reason="reconcile: never placed")
        second = claim(2, "+12125550101")
    dials = store.all("SELECT call_id, e164 FROM audit WHERE decision = 'dial' ORDER BY id")
    assert [tuple(r) for r in dials] == [(None, "+12125550100"), (second, "+12125550101")]
