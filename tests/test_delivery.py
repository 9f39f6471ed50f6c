"""``Deliverer`` against a real HTTP receiver on 127.0.0.1: what tests/test_webhooks.py
does not already cover -- Retry-After as an HTTP date and its bounds, and, under any
script of failures, every lead's events arriving once each, signed, in the order the
lead changed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import builders
from dialcli.clock import VirtualClock, from_iso
from dialcli.results.delivery import MAX_BACKOFF_S, Deliverer
from dialcli.results.webhooks import verify_signature
from dialcli.store import outbox
from fakes.webhook_receiver import Receiver

WALL0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)     # a Friday


def change(store, lead_id, status) -> int:
    """What the engine does: change the status and enqueue, in one transaction."""
    with store.tx() as conn:
        prev = conn.execute("SELECT status FROM leads WHERE id = ?", (lead_id,)).fetchone()[0]
        conn.execute("UPDATE leads SET status = ? WHERE id = ?", (status, lead_id))
        return outbox.enqueue_lead_update(conn, now_iso=builders.NOW_ISO, lead_id=lead_id,
                                          previous_status=prev)


@pytest.fixture
def wall():
    return VirtualClock(WALL0)


@pytest.fixture
def one_event(store, wall):
    """A subscription to a running receiver and one queued event for it."""
    rec = Receiver(now_fn=lambda: wall.now().timestamp()).start()
    cid = builders.campaign(store, leads=[{"phones": ["+12125550100"]}])
    sub = builders.subscribe(store, rec.url)
    rec.secret = sub.secret
    change(store, builders.leads(store, cid)[0]["id"], "DIALING")
    yield rec
    rec.stop()


def delay_after_one_attempt(store, wall, receiver, mode) -> float:
    receiver.plan.append(mode)
    d = Deliverer(store, clock=wall, rng=random.Random(1), timeout_s=2)
    try:
        assert d.deliver_due().failed == 1
    finally:
        d.close()
    due = store.scalar("SELECT next_attempt_at FROM outbox")
    return (from_iso(due) - wall.now()).total_seconds()


def test_retry_after_as_an_http_date_is_honoured(store, wall, one_event):
    delay = delay_after_one_attempt(store, wall, one_event, "429:Fri, 01 May 2026 12:10:00 GMT")
    assert 600 <= delay <= 601


def test_retry_after_is_capped_at_the_longest_backoff(store, wall, one_event):
    delay = delay_after_one_attempt(store, wall, one_event, "429:86400")
    assert delay == pytest.approx(MAX_BACKOFF_S, abs=0.01)


@pytest.mark.parametrize("value", ["soon", "-5", "Fri, 01 May 2026 11:00:00 GMT"])
def test_a_retry_after_that_is_not_a_future_time_leaves_the_backoff(store, wall, one_event,
                                                                    value):
    delay = delay_after_one_attempt(store, wall, one_event, f"429:{value}")
    assert 1.0 <= delay <= 5.0 + 0.01             # the first backoff step: 5 s, full jitter


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hs.integers(1, 60), hs.randoms(use_true_random=False))
def test_backoff_stays_inside_full_jitter_bounds(store, attempts, rng):
    d = Deliverer(store, clock=VirtualClock(WALL0), rng=rng)
    try:
        assert 1.0 <= d.backoff(attempts) <= min(MAX_BACKOFF_S, 5.0 * 2 ** (attempts - 1))
    finally:
        d.close()


STATUSES = ["DIALING", "RETRY", "CALLBACK", "REACHED"]


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=hs.lists(hs.tuples(hs.integers(0, 2), hs.sampled_from(STATUSES)),
                        min_size=1, max_size=12),
       modes=hs.lists(hs.sampled_from(["ok", "ok", "500", "close", "429:3", "503"]),
                      max_size=25))
def test_each_leads_events_arrive_once_signed_and_in_order(tmp_path_factory, changes, modes):
    wall = VirtualClock(WALL0)
    rec = Receiver(now_fn=lambda: wall.now().timestamp()).start()
    store = builders.workspace(tmp_path_factory.mktemp("delivery"))
    try:
        cid = builders.campaign(store, leads=[{"phones": [f"+1212555{i:04d}"]} for i in range(3)])
        lead_ids = [row["id"] for row in builders.leads(store, cid)]
        sub = builders.subscribe(store, rec.url)
        rec.secret = sub.secret
        rec.plan.extend(modes)
        expected: dict[int, list[str]] = defaultdict(list)
        last = {lead: "PENDING" for lead in lead_ids}
        d = Deliverer(store, clock=wall, rng=random.Random(3), timeout_s=2)
        try:
            for i, (k, status) in enumerate(changes):
                lead = lead_ids[k]
                assert change(store, lead, status) == (status != last[lead])
                if status != last[lead]:
                    expected[lead].append(status)
                last[lead] = status
                if i % 3 == 2:
                    d.deliver_due()                # deliveries interleave with changes
            for _ in range(200):
                d.deliver_due()
                due = d.next_due()
                if due is None:
                    break
                wall.set(max(due, wall.now()))
        finally:
            d.close()
        assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 0
        first_seen: dict[str, dict] = {}
        for payload in rec.accepted():
            first_seen.setdefault(payload["id"], payload)
        got: dict[int, list[str]] = defaultdict(list)
        for payload in first_seen.values():
            got[payload["lead"]["id"]].append(payload["lead"]["status"])
        assert got == expected
        assert rec.bad_signatures == 0
        hit = next(h for h in rec.hits if h.answered)
        # verified as the receiver saw it, when it arrived: a signature is good for
        # SIGNATURE_TOLERANCE_S, and retries may have run the clock well past that since
        assert verify_signature(sub.secret, hit.signature, hit.body, now_unix=hit.received_at)
        assert not verify_signature("whsec_someone_else_0123456789abcdef", hit.signature,
                                    hit.body, now_unix=hit.received_at)
    finally:
        store.close()
        rec.stop()
