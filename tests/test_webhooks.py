"""Webhook outbox, signing and delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from dialcli.results import webhooks
from dialcli.clock import SystemClock, VirtualClock, from_iso, to_iso
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.store import Store
from dialcli.results import delivery
from dialcli.results.delivery import Deliverer
from dialcli.store import outbox as store_outbox
from dialcli.store.outbox import BLOCKED, DUE_NOW

import builders
from builders import NOW_ISO, add_lead
from fakes.webhook_receiver import Receiver

WALL0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def wall():
    return VirtualClock(WALL0)


@pytest.fixture
def campaign(store):
    cid = builders.campaign(store, status="RUNNING")
    leads = [add_lead(store, cid, row=i + 2, name=f"Lead {i}", email=f"l{i}@example.com",
                      phones=[(f"+1415555{1200 + i:04d}", "America/Los_Angeles")],
                      vars={"AMOUNT": str(100 * i)}) for i in range(6)]
    return cid, leads


@pytest.fixture
def receiver(wall):
    rec = Receiver(now_fn=lambda: wall.now().timestamp()).start()
    yield rec
    rec.stop()


def subscribe(store, url, secret="s3cret-s3cret-s3cret", events=None):
    sub, _ = webhooks.add_subscription(store, url, now_iso=NOW_ISO, secret=secret, events=events)
    return sub


def change(store, lead_id, status, *, at=NOW_ISO, attempts=None):
    """What the engine does: change the status and enqueue, in one transaction."""
    with store.tx() as conn:
        prev = conn.execute("SELECT status FROM leads WHERE id = ?", (lead_id,)).fetchone()[0]
        conn.execute("UPDATE leads SET status = ?, attempts = COALESCE(?, attempts) WHERE id = ?",
                     (status, attempts, lead_id))
        return store_outbox.enqueue_lead_update(conn, now_iso=at, lead_id=lead_id,
                                            previous_status=prev)


def make_deliverer(store, wall, seed=1, **kw):
    kw.setdefault("timeout_s", 0.5)
    return Deliverer(store, clock=wall, rng=random.Random(seed), **kw)


def outbox(store):
    return [dict(r) for r in store.all("SELECT * FROM outbox ORDER BY id")]


# -- enqueue ---------------------------------------------------------------------------

def test_enqueue_without_subscriptions_writes_nothing(store, campaign):
    _, leads = campaign
    assert change(store, leads[0], "DIALING") == 0
    assert store.scalar("SELECT COUNT(*) FROM outbox") == 0


def test_enqueue_payload_and_chain(store, campaign):
    cid, leads = campaign
    sub = subscribe(store, "https://example.com/hooks")
    assert change(store, leads[1], "DIALING", attempts=1) == 1
    assert change(store, leads[1], "RETRY", at="2026-03-03T15:01:00.000Z") == 1
    rows = outbox(store)
    assert [r["next_attempt_at"] for r in rows] == [DUE_NOW, BLOCKED]
    first = json.loads(rows[0]["payload"])
    assert re.fullmatch(r"evt_[0-9a-f]{32}", first["id"])
    assert rows[0]["event_id"] == first["id"] and rows[0]["subscription_id"] == sub.id
    assert first["type"] == "campaign.lead.updated"
    assert first["created_at"] == NOW_ISO
    assert first["campaign"] == {"id": cid, "name": "Spring", "run": 1}
    lead = first["lead"]
    assert lead["id"] == leads[1] and lead["name"] == "Lead 1" and lead["row_number"] == 3
    assert (lead["status"], lead["previous_status"]) == ("DIALING", "PENDING")
    assert lead["current_phone"] == {"slot": 1, "e164": "+14155551201"}
    assert lead["pass"] == 1 and lead["attempts"] == 1
    assert lead["variables"] == {"AMOUNT": "100"}
    assert lead["email"] == "l1@example.com"
    second = json.loads(rows[1]["payload"])
    assert second["id"] != first["id"]
    assert (second["lead"]["status"], second["lead"]["previous_status"]) == ("RETRY", "DIALING")
    assert second["created_at"] == "2026-03-03T15:01:00.000Z"


def test_enqueue_one_event_id_per_subscriber(store, campaign):
    _, leads = campaign
    subscribe(store, "https://a.example.com/h")
    subscribe(store, "https://b.example.com/h")
    other, _ = webhooks.add_subscription(store, "https://c.example.com/h", now_iso=NOW_ISO)
    store.execute("UPDATE webhook_subscriptions SET active = 0 WHERE id = ?", (other.id,))
    assert change(store, leads[0], "DIALING") == 2
    rows = outbox(store)
    assert len({r["event_id"] for r in rows}) == 1
    assert {r["subscription_id"] for r in rows} != {other.id}


def test_unchanged_status_records_nothing(store, campaign):
    _, leads = campaign
    subscribe(store, "https://example.com/hooks")
    with store.tx() as conn:
        assert store_outbox.enqueue_lead_update(conn, now_iso=NOW_ISO, lead_id=leads[0],
                                            previous_status="PENDING") == 0


def test_event_rolls_back_with_the_status_change(store, campaign):
    _, leads = campaign
    subscribe(store, "https://example.com/hooks")
    with pytest.raises(RuntimeError):
        with store.tx() as conn:
            conn.execute("UPDATE leads SET status = 'DIALING' WHERE id = ?", (leads[0],))
            store_outbox.enqueue_lead_update(conn, now_iso=NOW_ISO, lead_id=leads[0],
                                         previous_status="PENDING")
            raise RuntimeError("engine crashed before commit")
    assert store.scalar("SELECT COUNT(*) FROM outbox") == 0


def test_batch_enqueue(store, campaign):
    _, leads = campaign
    subscribe(store, "https://example.com/hooks")
    with store.tx() as conn:
        conn.execute("UPDATE leads SET status = 'PENDING'")
        conn.execute("UPDATE leads SET status = 'SKIPPED' WHERE id = ?", (leads[0],))
        n = store_outbox.enqueue_lead_updates(
            conn, now_iso=NOW_ISO, changes=[(lead, "REACHED") for lead in leads] + [(999999, None)])
    assert n == len(leads)


# -- signing ---------------------------------------------------------------------------

def test_signature_roundtrip_and_rejections():
    body = b'{"id":"evt_1"}'
    header = webhooks.signature("topsecret-value!", 1_700_000_000, body)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)
    ok = dict(now_unix=1_700_000_010)
    assert webhooks.verify_signature("topsecret-value!", header, body, **ok)
    assert not webhooks.verify_signature("topsecret-value!", header, body + b" ", **ok)
    assert not webhooks.verify_signature("other-secret-val", header, body, **ok)
    assert not webhooks.verify_signature("topsecret-value!", header, body,
                                         now_unix=1_700_000_000 + 301)
    assert not webhooks.verify_signature("topsecret-value!", "garbage", body, **ok)


def test_readme_verification_snippet_works():
    """The README's receiver snippet verifies what we sign (and rejects a forgery)."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    section = text[text.index("## Webhooks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README-snippet", "exec"), namespace)
    body = b'{"id":"evt_abc","type":"campaign.lead.updated"}'
    now = int(time.time())
    header = webhooks.signature("whsec_example_secret", now, body)
    assert namespace["verify"](body, header, "whsec_example_secret") is True
    assert namespace["verify"](body.replace(b"abc", b"abd"), header, "whsec_example_secret") is False


# -- subscriptions -----------------------------------------------------------------------

def test_add_validates_and_generates_secret(store):
    sub, warnings = webhooks.add_subscription(store, "http://hooks.example.com/x", now_iso=NOW_ISO)
    assert sub.secret.startswith("whsec_") and len(sub.secret) > 40
    assert warnings and "https" in warnings[0]
    assert "secret" not in repr(sub) and sub.secret not in repr(sub)
    assert sub.fingerprint == webhooks.fingerprint(sub.secret)
    with pytest.raises(ConflictError):
        webhooks.add_subscription(store, "http://hooks.example.com/x", now_iso=NOW_ISO)
    for bad in ("ftp://x.example.com/", "not a url", "https://", ""):
        with pytest.raises(InputError):
            webhooks.add_subscription(store, bad, now_iso=NOW_ISO)
    with pytest.raises(InputError, match="Unknown event type"):
        webhooks.add_subscription(store, "https://y.example.com/", now_iso=NOW_ISO,
                                  events=["campaign.lead.deleted"])
    with pytest.raises(InputError, match="too short"):
        webhooks.add_subscription(store, "https://y.example.com/", now_iso=NOW_ISO, secret="short")
    assert store.scalar("SELECT COUNT(*) FROM webhook_subscriptions") == 1


def test_redact_url_hides_password():
    assert webhooks.redact_url("https://u:pw@h.example.com/x") == "https://u:****@h.example.com/x"
    assert webhooks.redact_url("https://h.example.com/x") == "https://h.example.com/x"


def test_remove_deletes_queued_events(store, campaign):
    _, leads = campaign
    sub = subscribe(store, "https://example.com/hooks")
    change(store, leads[0], "DIALING")
    removed, pending = webhooks.remove_subscription(store, sub.id)
    assert removed.id == sub.id and pending == 1
    assert store.scalar("SELECT COUNT(*) FROM outbox") == 0
    with pytest.raises(NotFoundError):
        webhooks.remove_subscription(store, sub.id)


# -- delivery ------------------------------------------------------------------------------

def test_delivers_signed_events_in_order(store, campaign, receiver, wall):
    _, leads = campaign
    sub = subscribe(store, receiver.url)
    receiver.secret = sub.secret
    for status in ("DIALING", "RETRY", "DIALING", "REACHED"):
        change(store, leads[0], status)
    change(store, leads[1], "DIALING")
    d = make_deliverer(store, wall)
    total = delivery.DeliveryStats()
    for _ in range(10):
        total.add(d.deliver_due())
    assert total.delivered == 5 and total.failed == 0
    assert receiver.bad_signatures == 0
    got = receiver.accepted()
    statuses = [p["lead"]["status"] for p in got if p["lead"]["id"] == leads[0]]
    assert statuses == ["DIALING", "RETRY", "DIALING", "REACHED"]
    hit = receiver.hits[0]
    assert hit.event_type == "campaign.lead.updated"
    assert hit.event_id == json.loads(hit.body)["id"]
    # The body on the wire is exactly the stored payload.
    stored = {r["event_id"]: r["payload"].encode() for r in outbox(store)}
    assert all(h.body == stored[h.event_id] for h in receiver.hits)
    assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 0
    assert d.next_due() is None
    d.close()


def test_only_chain_heads_are_sent(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    for status in ("DIALING", "RETRY", "DIALING"):
        change(store, leads[0], status)
    change(store, leads[1], "DIALING")
    d = make_deliverer(store, wall)
    stats = d.deliver_due()
    # One per chain per round: lead 0's first event and lead 1's event.
    assert stats.delivered == 2
    assert [p["lead"]["status"] for p in receiver.accepted()] == ["DIALING", "DIALING"]
    d.close()


def test_failure_backoff_with_full_jitter(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    receiver.default = "500"
    d = make_deliverer(store, wall, seed=7)
    delays = []
    for attempt in range(1, 9):
        stats = d.deliver_due()
        assert stats.failed == 1, attempt
        row = outbox(store)[0]
        assert row["attempts"] == attempt and row["last_status"] == 500
        assert row["last_error"].startswith("HTTP 500")
        due = from_iso(row["next_attempt_at"])
        delay = (due - wall.now()).total_seconds()
        assert 1.0 <= delay <= min(1800, 5 * 2 ** (attempt - 1)) + 1e-6
        delays.append(delay)
        assert d.deliver_due().attempted == 0          # not due yet
        wall.set(due)
    # Same seed, same schedule (the jitter comes from the injected rng).
    rng = random.Random(7)
    expected = [max(1.0, rng.uniform(0, min(1800, 5 * 2 ** (n - 1)))) for n in range(1, 9)]
    assert delays == pytest.approx(expected, abs=0.002)
    d.close()


def test_retry_after_is_honoured(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    receiver.plan.extend(["429:120"])
    d = make_deliverer(store, wall)
    d.deliver_due()
    row = outbox(store)[0]
    assert (from_iso(row["next_attempt_at"]) - wall.now()).total_seconds() >= 120
    assert row["last_status"] == 429
    d.close()


def test_redirect_is_not_followed(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    receiver.plan.append("302")
    d = make_deliverer(store, wall)
    d.deliver_due()
    row = outbox(store)[0]
    assert row["delivered_at"] is None
    assert "redirect to https://elsewhere.example/hooks not followed" in row["last_error"]
    d.close()


def test_timeouts_closed_connections_and_500s_lose_nothing(store, campaign, receiver, wall):
    _, leads = campaign
    sub = subscribe(store, receiver.url)
    receiver.secret = sub.secret
    rng = random.Random(3)
    flaky = ["500", "close", "timeout:0.7", "ok", "ok", "ok"]
    receiver.mode_fn = lambda n: rng.choice(flaky)
    expected = defaultdict(list)
    for round_no in range(4):
        for lead in leads:
            status = ("DIALING", "RETRY")[round_no % 2]
            change(store, lead, status)
    for row in outbox(store):
        expected[row["lead_id"]].append(row["event_id"])
    d = make_deliverer(store, wall, timeout_s=0.3)
    for _ in range(200):
        d.deliver_due()
        if not store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL"):
            break
        due = d.next_due()
        if due is not None and due > wall.now():
            wall.set(due)
    assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 0
    modes = {h.mode for h in receiver.hits}
    assert {"500", "close", "ok"} <= modes and any(m.startswith("timeout") for m in modes)
    assert receiver.bad_signatures == 0
    # Every event arrived; per lead, first arrivals are in creation order.
    first_seen: dict[str, int] = {}
    for i, eid in enumerate(receiver.accepted_ids()):
        first_seen.setdefault(eid, i)
    for lead, ids in expected.items():
        assert all(e in first_seen for e in ids)
        positions = [first_seen[e] for e in ids]
        assert positions == sorted(positions), lead
    d.close()


def test_dead_letter_after_24_hours_then_next_goes_ahead(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    change(store, leads[0], "RETRY")
    receiver.default = "500"
    d = make_deliverer(store, wall)
    start = wall.now()
    attempts = 0
    while True:
        stats = d.deliver_due()
        attempts += stats.attempted
        if stats.dead:
            break
        wall.set(d.next_due())
        assert wall.now() - start <= timedelta(hours=24), "never dead-lettered"
    head, nxt = outbox(store)
    assert head["dead_at"] == to_iso(start + timedelta(hours=24))
    assert head["attempts"] == attempts and attempts > 10
    assert nxt["next_attempt_at"] == DUE_NOW            # promoted
    receiver.default = "ok"
    assert d.deliver_due().delivered == 1
    assert [p["lead"]["status"] for p in receiver.accepted()] == ["RETRY"]
    # Dead letters can be retried, and are delivered.
    assert delivery.retry_dead(store) == 1
    assert d.deliver_due().delivered == 1
    assert [p["lead"]["status"] for p in receiver.accepted()] == ["RETRY", "DIALING"]
    assert delivery.retry_dead(store) == 0
    d.close()


def test_gone_deactivates_and_enable_resumes_in_order(store, campaign, receiver, wall):
    _, leads = campaign
    sub = subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    change(store, leads[0], "RETRY")
    receiver.plan.append("410")
    d = make_deliverer(store, wall)
    stats = d.deliver_due()
    assert stats.deactivated == 1
    status = webhooks.get_subscription(store, sub.id)
    assert not status.active and "410" in status.disabled_reason
    assert change(store, leads[1], "DIALING") == 0     # inactive: nothing recorded
    assert d.deliver_due().attempted == 0
    webhooks.enable_subscription(store, sub.id)
    for _ in range(3):
        d.deliver_due()
    assert [p["lead"]["status"] for p in receiver.accepted()] == ["DIALING", "RETRY"]
    d.close()


def test_dead_endpoint_is_probed_not_hammered(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    for lead in leads:
        change(store, lead, "DIALING")
    receiver.stop()
    d = make_deliverer(store, wall, concurrency=1)
    stats = d.deliver_due()
    assert stats.attempted == 1 and stats.deferred == len(leads) - 1
    rows = outbox(store)
    assert sum(r["attempts"] for r in rows) == 1
    assert all(r["first_attempt_at"] is None for r in rows if r["attempts"] == 0)
    # The deferred wait for the same retry time as the probe.
    assert len({r["next_attempt_at"] for r in rows}) == 1
    assert d.deliver_due().attempted == 0
    d.close()


def test_circuit_breaker_holds_heads_outside_the_batch(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    for lead in leads:
        change(store, lead, "DIALING")
    receiver.default = "500"
    d = make_deliverer(store, wall, concurrency=1)
    stats = d.deliver_due(max_events=2)
    assert (stats.attempted, stats.deferred) == (1, 1)
    assert d.deliver_due(max_events=2).attempted == 0    # the other heads wait too
    wall.set(d.next_due())
    receiver.default = "ok"
    total = delivery.DeliveryStats()
    for _ in range(5):
        total.add(d.deliver_due(max_events=2))
    assert total.delivered == len(leads)
    d.close()


def test_two_deliverers_do_not_send_the_same_event(db_path, campaign, receiver, wall, store):
    _, leads = campaign
    subscribe(store, receiver.url)
    for lead in leads:
        for status in ("DIALING", "RETRY", "DIALING"):
            change(store, lead, status)
    stores = [Store(db_path), Store(db_path)]
    workers = [make_deliverer(s, SystemClock(), seed=i) for i, s in enumerate(stores)]
    barrier = threading.Barrier(2)

    def work(d):
        barrier.wait()
        for _ in range(20):
            d.deliver_due(max_events=2)

    threads = [threading.Thread(target=work, args=(d,)) for d in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ids = receiver.accepted_ids()
    assert len(ids) == len(leads) * 3 == len(set(ids))
    for d, s in zip(workers, stores):
        d.close()
        s.close()


def test_background_thread_delivers_while_running(db_path, store, campaign, receiver):
    _, leads = campaign
    subscribe(store, receiver.url)
    d = Deliverer(store, clock=SystemClock(), rng=random.Random(1), timeout_s=1)
    stop = threading.Event()
    thread = d.run_in_thread(stop, poll_s=0.05)
    for lead in leads:
        change(store, lead, "DIALING")
    deadline = time.monotonic() + 10
    while len(receiver.accepted_ids()) < len(leads) and time.monotonic() < deadline:
        time.sleep(0.02)
    change(store, leads[0], "REACHED")
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert d.last_error is None
    assert len(receiver.accepted_ids()) == len(leads) + 1    # the last one in the final drain
    d.close()


def test_receiver_down_for_the_whole_run_gets_everything_after(db_path, store, campaign, wall):
    """Engine-like run with the endpoint down throughout; `deliver` afterwards sends all."""
    _, leads = campaign
    rec = Receiver(now_fn=lambda: wall.now().timestamp()).start()
    port = rec.port
    sub = subscribe(store, rec.url)
    rec.secret = sub.secret
    rec.stop()
    d = make_deliverer(store, wall)
    for round_no in range(3):
        for lead in leads:
            change(store, lead, ("DIALING", "RETRY", "DIALING")[round_no])
        d.deliver_due()                    # the running engine's deliverer: all fail
        wall.advance(timedelta(minutes=20))
    for lead in leads:
        change(store, lead, "REACHED")
    assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 4 * len(leads)
    rec2 = Receiver(secret=sub.secret, port=port, now_fn=lambda: wall.now().timestamp()).start()
    try:
        stats = d.drain()
        assert stats.delivered == 4 * len(leads)
        per_lead = defaultdict(list)
        for p in rec2.accepted():
            per_lead[p["lead"]["id"]].append(p["lead"]["status"])
        assert all(v == ["DIALING", "RETRY", "DIALING", "REACHED"] for v in per_lead.values())
        assert len(per_lead) == len(leads) and rec2.bad_signatures == 0
    finally:
        rec2.stop()
        d.close()


def test_drain_stops_on_a_failing_endpoint(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    for lead in leads:
        change(store, lead, "DIALING")
    receiver.default = "500"
    d = make_deliverer(store, wall)
    stats = d.drain()
    assert stats.delivered == 0 and stats.attempted >= 1
    assert stats.attempted + stats.deferred <= 2 * len(leads)
    d.close()


def test_send_test_event(store, receiver, wall):
    sub = subscribe(store, receiver.url)
    receiver.secret = sub.secret
    result = delivery.send_test(store, sub.id, clock=wall)
    assert result.ok and result.status == 204
    assert receiver.hits[-1].event_type == "webhook.test" and receiver.bad_signatures == 0
    receiver.plan.append("500")
    result = delivery.send_test(store, sub.id, clock=wall)
    assert not result.ok and result.error.startswith("HTTP 500")
    receiver.stop()
    result = delivery.send_test(store, sub.id, clock=wall, timeout_s=0.5)
    assert not result.ok and "connection failed" in result.error


def test_list_subscriptions_counts(store, campaign, receiver, wall):
    _, leads = campaign
    sub = subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    change(store, leads[1], "DIALING")
    receiver.plan.extend(["ok", "500"])
    d = make_deliverer(store, wall, concurrency=1)
    d.deliver_due()
    (status,) = webhooks.list_subscriptions(store)
    assert status.subscription.id == sub.id
    assert (status.pending, status.delivered, status.dead) == (1, 1, 0)
    assert status.last_error.startswith("HTTP 500")
    assert status.next_attempt_at > to_iso(wall.now())
    d.close()


def test_httpx_client_can_be_injected(store, campaign, receiver, wall):
    _, leads = campaign
    subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    with httpx.Client(timeout=2) as client:
        d = Deliverer(store, clock=wall, rng=random.Random(0), http=client)
        assert d.deliver_due().delivered == 1
        d.close()
        assert not client.is_closed


def test_delivered_events_are_kept_30_days_and_still_counted(store, campaign, receiver, wall):
    _, leads = campaign
    sub = subscribe(store, receiver.url)
    for lead in leads:
        for status in ("DIALING", "RETRY"):
            change(store, lead, status)
    d = make_deliverer(store, wall)
    for _ in range(10):
        d.deliver_due()
    d.close()
    delivered = store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL")
    assert delivered == 2 * len(leads) >= 4
    ids = [r[0] for r in store.all("SELECT id FROM outbox ORDER BY id")]
    old = to_iso(wall.now() - timedelta(days=31))
    # All delivered a month ago but the last; one dead letter from then too.
    store.execute(f"UPDATE outbox SET delivered_at = ? WHERE id IN ({','.join('?' * (len(ids) - 1))})",
                  (old, *ids[:-1]))
    store.execute("UPDATE outbox SET delivered_at = NULL, dead_at = ? WHERE id = ?", (old, ids[0]))
    change(store, leads[0], "REACHED")                       # queued, not delivered
    before = webhooks.list_subscriptions(store)[0]
    assert delivery.prune_delivered(store, wall.now(), batch=2) == len(ids) - 2
    after = webhooks.list_subscriptions(store)[0]
    assert (after.pending, after.delivered, after.dead) == (before.pending, before.delivered,
                                                            before.dead) == (1, len(ids) - 1, 1)
    assert after.last_delivered_at == before.last_delivered_at
    left = store.all("SELECT id, delivered_at IS NOT NULL, dead_at IS NOT NULL FROM outbox "
                     "ORDER BY id")
    assert [tuple(r) for r in left] == [(ids[0], 0, 1), (ids[-1], 1, 0), (ids[-1] + 1, 0, 0)]
    assert store.scalar("SELECT delivered_pruned FROM webhook_subscriptions WHERE id = ?",
                        (sub.id,)) == len(ids) - 2
    # Everything delivered a month ago: the newest is kept, for "last delivered".
    store.execute("UPDATE outbox SET delivered_at = ? WHERE delivered_at IS NOT NULL", (old,))
    assert delivery.prune_delivered(store, wall.now()) == 0
    assert webhooks.list_subscriptions(store)[0].last_delivered_at == old


def test_the_running_campaigns_delivery_thread_prunes(db_path, store, campaign, receiver):
    _, leads = campaign
    subscribe(store, receiver.url)
    change(store, leads[0], "DIALING")
    change(store, leads[1], "DIALING")
    month_ago = to_iso(datetime.now(timezone.utc) - timedelta(days=40))
    store.execute("UPDATE outbox SET delivered_at = ?", (month_ago,))
    d = Deliverer(store, clock=SystemClock(), rng=random.Random(1), timeout_s=1)
    stop = threading.Event()
    thread = d.run_in_thread(stop, poll_s=0.05)
    deadline = time.monotonic() + 10
    while store.scalar("SELECT COUNT(*) FROM outbox") > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(10)
    d.close()
    assert d.last_error is None
    assert store.scalar("SELECT COUNT(*) FROM outbox") == 1          # the newest stays
    assert webhooks.list_subscriptions(store)[0].delivered == 2
