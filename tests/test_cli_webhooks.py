import json

import pytest

import builders
from dialcli.results import webhooks
from dialcli.store import Store, outbox
from fakes.webhook_receiver import Receiver

NOW = builders.NOW_ISO


@pytest.fixture
def receiver():
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def leads(db_path):
    with builders.workspace(db_path) as st:
        cid = builders.campaign(st, status="RUNNING")
        return builders.add_leads(st, cid, [
            {"name": f"Lead {i}", "phones": [(f"+1415555{1300 + i:04d}", "America/Los_Angeles")]}
            for i in range(3)])


def queue_events(db_path, lead_ids, statuses=("DIALING", "RETRY")):
    with Store(db_path) as st:
        for status in statuses:
            for lead_id in lead_ids:
                with st.tx() as conn:
                    prev = conn.execute("SELECT status FROM leads WHERE id = ?",
                                        (lead_id,)).fetchone()[0]
                    conn.execute("UPDATE leads SET status = ? WHERE id = ?", (status, lead_id))
                    outbox.enqueue_lead_update(conn, now_iso=NOW, lead_id=lead_id,
                                                 previous_status=prev)


def test_add_prints_secret_once_and_list_shows_fingerprint(cli, store):
    result = cli("webhooks", "add", "https://example.com/hooks")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("whsec_")
    assert "shown only now" in result.stderr
    listing = cli("webhooks", "list")
    assert listing.exit_code == 0
    assert secret not in listing.output
    assert webhooks.fingerprint(secret) in listing.stdout
    data = json.loads(cli("webhooks", "list", "--json").stdout)
    assert data[0]["secret_fingerprint"] == webhooks.fingerprint(secret)
    assert secret not in json.dumps(data)
    assert data[0]["active"] is True and data[0]["pending"] == 0


def test_add_own_secret_is_not_echoed(cli, store):
    result = cli("webhooks", "add", "https://example.com/hooks", "--secret", "my-own-secret-123456")
    assert result.exit_code == 0
    assert "my-own-secret-123456" not in result.output


def test_add_json_includes_secret(cli, store):
    result = cli("webhooks", "add", "https://example.com/hooks", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["secret"].startswith("whsec_") and data["events"] == ["campaign.lead.updated"]


@pytest.mark.parametrize("args, code, message", [
    (["ftp://example.com/x"], 2, "not an http(s) URL"),
    (["https://example.com/x", "--event", "lead.deleted"], 2, "Unknown event type"),
    (["https://example.com/x", "--secret", "short"], 2, "too short"),
])
def test_add_rejects_bad_input_and_writes_nothing(cli, store, args, code, message):
    result = cli("webhooks", "add", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert store.scalar("SELECT COUNT(*) FROM webhook_subscriptions") == 0


def test_add_duplicate_url(cli, store):
    assert cli("webhooks", "add", "https://example.com/x").exit_code == 0
    result = cli("webhooks", "add", "https://example.com/x")
    assert result.exit_code == 1
    assert "already subscribed" in result.stderr


def test_test_command(cli, store, receiver):
    cli("webhooks", "add", receiver.url)
    result = cli("webhooks", "test")
    assert result.exit_code == 0, result.output
    assert "answered 204" in result.stderr
    assert receiver.hits[-1].event_type == "webhook.test"
    receiver.plan.append("500")
    result = cli("webhooks", "test", "1")
    assert result.exit_code == 1
    assert "did not accept the test event: HTTP 500" in result.stderr


def test_test_needs_a_choice_with_several(cli, store):
    cli("webhooks", "add", "https://a.example.com/x")
    cli("webhooks", "add", "https://b.example.com/x")
    result = cli("webhooks", "test")
    assert result.exit_code == 2
    assert "which one" in result.stderr


def test_deliver_drains_queue(cli, db_path, leads, receiver):
    cli("webhooks", "add", receiver.url)
    queue_events(db_path, leads)
    result = cli("webhooks", "deliver")
    assert result.exit_code == 0, result.output
    assert "6 delivered" in result.stderr
    assert len(receiver.accepted_ids()) == 6
    result = cli("webhooks", "deliver")
    assert result.exit_code == 0
    assert "Nothing to deliver" in result.stderr


def test_deliver_with_endpoint_down_keeps_events(cli, db_path, leads, receiver):
    cli("webhooks", "add", receiver.url)
    queue_events(db_path, leads)
    receiver.stop()
    result = cli("webhooks", "deliver", "--timeout", "1")
    assert result.exit_code == 1
    assert "Some endpoints failed" in result.stderr and "still queued" in result.stderr
    data = json.loads(cli("webhooks", "list", "--json").stdout)
    assert data[0]["pending"] == 6 and data[0]["last_error"].startswith("connection failed")
    receiver.start()
    result = cli("webhooks", "deliver")
    assert result.exit_code == 0, result.output
    assert len(receiver.accepted_ids()) == 6


def test_retry_dead_letters(cli, db_path, leads, receiver):
    cli("webhooks", "add", receiver.url)
    queue_events(db_path, leads[:1], statuses=("DIALING",))
    with Store(db_path) as st:
        st.execute("UPDATE outbox SET dead_at = ?, attempts = 40, last_error = 'HTTP 500'", (NOW,))
    assert "1" in cli("webhooks", "list").stdout
    result = cli("webhooks", "retry")
    assert result.exit_code == 0
    assert "Requeued 1 event" in result.stderr
    assert cli("webhooks", "deliver").exit_code == 0
    assert len(receiver.accepted_ids()) == 1
    result = cli("webhooks", "retry", "--event-id", "evt_nope")
    assert result.exit_code == 2


def test_remove_asks_when_events_are_queued(cli, db_path, leads):
    cli("webhooks", "add", "https://example.com/hooks")
    queue_events(db_path, leads[:1], statuses=("DIALING",))
    result = cli("webhooks", "remove", "1", input="y\n")
    assert result.exit_code == 2 and "--yes" in result.stderr     # no terminal to ask on
    with Store(db_path) as st:
        assert st.scalar("SELECT COUNT(*) FROM webhook_subscriptions") == 1
    result = cli("webhooks", "remove", "https://example.com/hooks", "--yes")
    assert result.exit_code == 0
    assert "dropped 1 queued event" in result.stderr
    result = cli("webhooks", "remove", "1", "--yes")
    assert result.exit_code == 2


def test_gone_then_enable(cli, db_path, leads, receiver):
    cli("webhooks", "add", receiver.url)
    queue_events(db_path, leads[:1])
    receiver.plan.append("410")
    result = cli("webhooks", "deliver")
    assert result.exit_code == 1
    assert "410 Gone" in result.stderr
    listing = json.loads(cli("webhooks", "list", "--json").stdout)
    assert listing[0]["active"] is False and "410" in listing[0]["disabled_reason"]
    assert cli("webhooks", "enable", "1").exit_code == 0
    assert cli("webhooks", "deliver").exit_code == 0
    assert [p["lead"]["status"] for p in receiver.accepted()] == ["DIALING", "RETRY"]
