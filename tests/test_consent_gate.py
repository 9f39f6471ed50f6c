"""The consent gate at the moment of each dial (design.md section 8, issue 16).

Telemarketing needs a written consent record for the dialed number, informational
any record; an opt-out beats every consent and taking it back restores none; a
number without the consent it needs is skipped with the reason and the lead moves
on. Checked one claim at a time, then over whole simulated campaigns.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import builders
from builders import NOW, EngineParts, add_leads, audit, calls, lead, phones, workspace
from dialcli.clock import VirtualClock, to_iso
from dialcli.compliance import consent, dnc
from dialcli.engine.loop import Engine
from dialcli.errors import InputError
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from dialcli.workspace import campaigns
from fakes.keyword_brain import KeywordBrain

NY1, NY2 = "+12125550101", "+12125550102"
BEFORE = to_iso(NOW - timedelta(days=30))


@pytest.fixture
def store(tmp_path):
    with workspace(tmp_path) as st_:
        yield st_


def _record(store, e164, kind, at=BEFORE, source="https://acme.example/form/17"):
    with store.tx() as conn:
        consent.record(conn, e164=e164, kind=kind, consented_at=at, source=source,
                       origin="test", now_iso=to_iso(NOW))


def _one_lead(store, purpose, phones_=(NY1, NY2), **kw):
    cid = builders.campaign(store, purpose=purpose, consent=None, **kw)
    (lead_id,) = add_leads(store, cid, [{"name": "Alex", "phones": list(phones_),
                                         "consent": None}])
    return cid, lead_id


# -- one claim: purpose x consent x opt-out ------------------------------------------------

def _expected(purpose, kind, listed):
    """(dialed, reason when skipped) for phone1: the opt-out list and the registry come
    first (a registry number is never dialed, the strict reading); then the consent."""
    if listed:
        return False, "on the opt-out list"
    if purpose == "telemarketing" and kind == "written" or purpose == "informational" and kind:
        return True, None
    if purpose == "telemarketing" and kind == "express":
        return False, f"only express consent on record for {NY1}: telemarketing needs written consent"
    return False, (f"no written consent on record for {NY1}" if purpose == "telemarketing"
                   else f"no consent on record for {NY1}")


CASES = [(purpose, kind, listed, *_expected(purpose, kind, listed))
         for purpose in ("telemarketing", "informational")
         for kind in (None, "express", "written")
         for listed in (None, "opt-out", "registry")]


@pytest.mark.parametrize("purpose, kind, listed, dialed, reason", CASES)
def test_each_dial_needs_the_consent_its_purpose_requires(store, purpose, kind, listed,
                                                          dialed, reason):
    cid, lead_id = _one_lead(store, purpose)
    if kind:
        _record(store, NY1, kind)
    if listed:
        source = "cli" if listed == "opt-out" else "registry:2026-12.txt"
        with store.tx() as conn:
            dnc.add(conn, [NY1], source=source, reason="asked",
                    now_iso=to_iso(NOW - timedelta(days=1)))
    parts = EngineParts(store, cid)
    f = parts.claim(lead_id)
    if dialed:
        assert f is not None and f.e164 == NY1
        (dial,) = [a for a in audit(store) if a["decision"] == "dial"]
        evidence = dial["detail"]["consent"]
        assert evidence["type"] == kind and evidence["at"] == BEFORE
        assert evidence["source"] == "https://acme.example/form/17"
        assert evidence["required"] == ("written" if purpose == "telemarketing" else "any")
        return
    assert f is None and calls(store, cid) == []
    p1, p2 = phones(store, lead_id)
    assert p1["dead_reason"] == reason and p2["dead_reason"] is None
    row = lead(store, lead_id)
    assert row["status"] == "PENDING" and row["phone_slot"] == 2      # moved on, breadth-first
    (skip,) = [a for a in audit(store) if a["decision"] == "skip"]
    assert skip["e164"] == NY1 and skip["reason"] == reason


def test_a_lead_with_no_consented_phone_is_skipped_with_the_reason(store):
    cid, lead_id = _one_lead(store, "telemarketing", phones_=(NY1,))
    parts = EngineParts(store, cid)
    assert parts.claim(lead_id) is None
    row = lead(store, lead_id)
    assert row["status"] == "SKIPPED"
    assert row["skip_reason"] == f"no written consent on record for {NY1}"
    assert phones(store, lead_id)[0]["dead_reason"] == f"no written consent on record for {NY1}"


def test_a_consent_given_after_the_dial_does_not_count(store):
    cid, lead_id = _one_lead(store, "informational")
    _record(store, NY1, "written", at=to_iso(NOW + timedelta(minutes=1)))
    assert EngineParts(store, cid).claim(lead_id) is None
    assert phones(store, lead_id)[0]["dead_reason"] == f"no consent on record for {NY1}"


def test_written_consent_wins_over_a_newer_express_one_for_telemarketing(store):
    cid, lead_id = _one_lead(store, "telemarketing")
    _record(store, NY1, "written", at=to_iso(NOW - timedelta(days=90)), source="form A")
    _record(store, NY1, "express", at=to_iso(NOW - timedelta(days=1)), source="call B")
    f = EngineParts(store, cid).claim(lead_id)
    assert f is not None
    (dial,) = [a for a in audit(store) if a["decision"] == "dial"]
    assert dial["detail"]["consent"]["source"] == "form A"


# -- revocation ------------------------------------------------------------------------------

def test_an_opt_out_revokes_consent_and_taking_it_back_restores_none(store):
    _record(store, NY1, "written")
    now = to_iso(NOW - timedelta(days=2))
    with store.tx() as conn:
        dnc.add(conn, [NY1], source="cli", reason="asked on a call", now_iso=now)
    (rec,) = consent.get(store.conn, NY1)
    assert rec.revoked_at == now and rec.revoked_reason == "asked on a call"
    with store.tx() as conn:
        dnc.remove(conn, [NY1], now_iso=to_iso(NOW - timedelta(days=1)))
    cid, lead_id = _one_lead(store, "telemarketing", phones_=(NY1,))
    assert EngineParts(store, cid).claim(lead_id) is None          # still revoked
    # A newer consent, given after the opt-out, counts.
    _record(store, NY1, "written", at=to_iso(NOW - timedelta(hours=1)), source="new form")
    with store.tx() as conn:
        conn.execute("UPDATE lead_phones SET dead_reason = NULL WHERE lead_id = ?", (lead_id,))
        conn.execute("UPDATE leads SET status = 'PENDING', phone_slot = 1, pass_done = 0, "
                     "cur_group = (SELECT group_id FROM lead_phones WHERE lead_id = ? AND slot = 1) "
                     "WHERE id = ?", (lead_id, lead_id))
    assert EngineParts(store, cid).claim(lead_id) is not None


def test_a_consent_recorded_while_the_number_is_opted_out_is_kept_revoked(store):
    with store.tx() as conn:
        dnc.add(conn, [NY1], source="cli", reason="asked", now_iso=to_iso(NOW - timedelta(days=1)))
    _record(store, NY1, "written", at=to_iso(NOW - timedelta(days=5)))     # given before
    (rec,) = consent.get(store.conn, NY1)
    assert rec.revoked_at == to_iso(NOW - timedelta(days=1))
    assert consent.best(store.conn, NY1, to_iso(NOW)) is None


def test_a_simulated_opt_out_does_not_revoke_real_consent(store):
    _record(store, NY1, "written")
    with store.tx() as conn:
        dnc.add(conn, [NY1], source=dnc.SIMULATOR_SOURCE, reason="said stop in a rehearsal",
                now_iso=to_iso(NOW))
    assert consent.best(store.conn, NY1, to_iso(NOW)) is not None


def test_a_registry_entry_does_not_revoke_consent_but_blocks_the_number(store):
    """Strict: a National DNC registry number is never dialed, even with written
    consent (the rule's written-consent exemption, 64.1200(c)(2)(ii), is not taken)."""
    _record(store, NY1, "written")
    with store.tx() as conn:
        dnc.add(conn, [NY1], source="registry:2026-12.txt", reason="National DNC Registry",
                now_iso=to_iso(NOW))
    assert consent.best(store.conn, NY1, to_iso(NOW)) is not None
    cid, lead_id = _one_lead(store, "telemarketing")
    assert EngineParts(store, cid).claim(lead_id) is None
    assert phones(store, lead_id)[0]["dead_reason"] == "on the opt-out list"


# -- a running campaign reads each number's consent once ------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(consent.KINDS), st.integers(0, 4), st.booleans()),
                     max_size=6),
       at_days=st.integers(-1, 5))
def test_a_runs_memo_picks_the_record_best_picks_at_every_instant(store, rows, at_days):
    with store.tx() as conn:
        conn.execute("DELETE FROM consent")
        for i, (kind, days, revoked) in enumerate(rows):
            consent.record(conn, e164=NY1, kind=kind, consented_at=to_iso(NOW - timedelta(days=days)),
                           source=f"form {i}", origin="test", now_iso=to_iso(NOW))
            if revoked:
                conn.execute("UPDATE consent SET revoked_at = ? WHERE source = ?",
                             (to_iso(NOW), f"form {i}"))
    at = to_iso(NOW - timedelta(days=at_days))
    memo = consent.Memo()
    assert memo.best(store.conn, NY1, at) == consent.best(store.conn, NY1, at)
    assert memo.best(store.conn, NY1, at) == consent.best(store.conn, NY1, at)   # remembered
    assert memo.states(store.conn, NY1) == ("NY",)


def test_a_running_claimer_reads_consent_again_after_another_process_commits(store):
    """The claimer remembers a number's consent for the run; a commit by another
    process (``consent import``) makes it read again (the loop calls ``forget`` when
    ``PRAGMA data_version`` moves)."""
    cid = builders.campaign(store, purpose="telemarketing", consent=None)
    first, second = add_leads(store, cid, [{"name": "Alex", "phones": [NY1], "consent": None},
                                           {"name": "Sam", "phones": [NY1], "consent": None}])
    parts = EngineParts(store, cid)
    assert parts.claim(first) is None
    assert phones(store, first)[0]["dead_reason"] == f"no written consent on record for {NY1}"
    _record(store, NY1, "written")
    parts.claimer.forget()
    assert parts.claim(second) is not None


# -- the campaign's purpose and the escape hatch ---------------------------------------------

def test_a_new_campaign_must_say_its_purpose(store):
    builders.agent(store)
    builders.number(store)
    with pytest.raises(InputError) as err:
        campaigns.create_campaign(store, name="X", agent="Zara", from_number=builders.FROM,
                                  purpose="sales", now=NOW)
    assert "telemarketing" in err.value.hint and "informational" in err.value.hint


def test_a_campaign_without_a_purpose_is_refused_at_start_with_the_fix(store):
    cid, _ = _one_lead(store, "informational")
    with store.tx():
        store.execute("UPDATE campaigns SET purpose = 'unspecified' WHERE id = ?", (cid,))
    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1), VirtualClock(NOW))
    with pytest.raises(InputError) as err:
        engine.run()
    assert "--purpose telemarketing" in err.value.hint and "--purpose informational" in err.value.hint
    assert store.scalar("SELECT status FROM campaigns WHERE id = ?", (cid,)) == "DRAFT"
    assert calls(store, cid) == []


def test_the_gate_goes_off_only_with_both_flags_and_the_audit_says_who(store):
    cid, lead_id = _one_lead(store, "telemarketing")
    with pytest.raises(InputError):
        campaigns.edit_campaign(store, cid, consent_gate="off", now=NOW)
    c = campaigns.edit_campaign(store, cid, consent_gate="off", i_have_consent_records=True,
                                changed_by="pat@laptop", now=NOW)
    assert c.consent_gate == "off" and c.consent_gate_changed_by == "pat@laptop"
    (row,) = [a for a in audit(store) if a["decision"] == "consent-gate-off"]
    assert row["detail"]["by"] == "pat@laptop" and row["ts"] == to_iso(NOW)
    f = EngineParts(store, cid).claim(lead_id)      # no record, but the user vouches
    assert f is not None
    (dial,) = [a for a in audit(store) if a["decision"] == "dial"]
    assert dial["detail"]["consent"] == {"required": "off"}
    campaigns.edit_campaign(store, cid, consent_gate="on", changed_by="pat@laptop", now=NOW)
    assert [a["decision"] for a in audit(store) if a["decision"].startswith("consent-gate")] \
        == ["consent-gate-off", "consent-gate-on"]


# -- whole campaigns -----------------------------------------------------------------------

def _run(store, cid, seed):
    prof = SimProfile.from_dict({"outcomes": {"human": 0.3, "no_answer": 0.5, "voicemail": 0.2}})
    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=seed, profile=prof),
                    VirtualClock(NOW))
    return engine.run()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(purpose=st.sampled_from(["telemarketing", "informational"]),
       seed=st.integers(0, 10_000),
       kinds=st.lists(st.lists(st.sampled_from(["written", "express", None, "optout"]),
                               min_size=1, max_size=3), min_size=1, max_size=8))
def test_no_simulated_campaign_dials_a_number_without_the_consent_it_needs(
        tmp_path_factory, purpose, seed, kinds):
    with workspace(tmp_path_factory.mktemp("ws")) as store:
        cid = builders.campaign(store, purpose=purpose, consent=None, max_attempts=2, retry=30,
                                max_concurrent=3, cps=5)
        specs, plan = [], {}
        for i, per_phone in enumerate(kinds):
            numbers = [f"+1212555{i:02d}{k:02d}" for k in range(len(per_phone))]
            specs.append({"phones": numbers, "consent": None})
            plan.update(zip(numbers, per_phone))
        add_leads(store, cid, specs)
        for e164, kind in plan.items():
            if kind in ("written", "express"):
                _record(store, e164, kind)
            elif kind == "optout":
                _record(store, e164, "written")
                with store.tx() as conn:
                    dnc.add(conn, [e164], source="cli", reason="asked",
                            now_iso=to_iso(NOW - timedelta(days=1)))
        result = _run(store, cid, seed)
        assert result.outcome == "completed"
        allowed = {e for e, k in plan.items()
                   if k == "written" or (k == "express" and purpose == "informational")}
        dialed = {c["e164"] for c in calls(store, cid)}
        assert dialed <= allowed
        # Every lead whose first allowed phone exists was dialed on it at least once.
        for spec in specs:
            first = next((n for n in spec["phones"] if n in allowed), None)
            if first is not None:
                assert first in dialed
        for c in calls(store, cid):
            (dial,) = store.all("SELECT detail FROM audit WHERE call_id = ? AND decision = 'dial'",
                                (c["id"],))
            assert '"consent":' in dial[0]


def test_a_demo_sized_list_dials_only_the_consented(store):
    rng = random.Random(7)
    cid = builders.campaign(store, purpose="telemarketing", consent=None, max_attempts=1,
                            max_concurrent=5, cps=20)
    add_leads(store, cid, [{"phones": [f"+1212555{1000 + i}"], "consent": None}
                           for i in range(40)])
    counts = builders.consent_mix(store, cid, rng)
    _run(store, cid, 3)
    written = {r[0] for r in store.all("SELECT e164 FROM consent WHERE kind = 'written'")}
    dialed = {c["e164"] for c in calls(store, cid)}
    assert dialed == written and len(dialed) == counts["written"]
    skipped = store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status = 'SKIPPED'",
                           (cid,))
    assert skipped == counts["express"] + counts["none"]


# -- reading a consent's time ---------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2026-03-01", "2026-03-02T04:59:59.999Z"),            # a date: the end of that day
    ("03/01/2026", "2026-03-02T04:59:59.999Z"),
    ("2026-03-01 14:30", "2026-03-01T19:30:00.000Z"),      # no zone: the lead's zone
    ("2026-03-01 2pm", "2026-03-01T19:00:00.000Z"),
    ("2026-03-01T10:00:00-08:00", "2026-03-01T18:00:00.000Z"),
])
def test_a_consent_time_is_read_in_the_leads_zone_and_a_date_counts_from_its_end(text, expected):
    assert consent.parse_time(text, "America/New_York") == expected


@pytest.mark.parametrize("text", ["March 2026", "2026", "05/03", "next tuesday-ish", ""])
def test_a_partial_or_unreadable_consent_time_is_refused_not_filled_from_today(text):
    with pytest.raises(InputError):
        consent.parse_time(text, "America/New_York")


def test_the_same_record_without_a_source_is_kept_once(store):
    for _ in range(2):
        _record(store, NY1, "written", source=None)
    assert len(consent.get(store.conn, NY1)) == 1
