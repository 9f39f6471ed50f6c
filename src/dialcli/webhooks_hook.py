"""The engine's and lifecycle's door to the webhook outbox (kept tiny and import-light)."""

from __future__ import annotations


def active(conn) -> bool:
    return conn.execute(
        "SELECT 1 FROM webhook_subscriptions WHERE active = 1 LIMIT 1").fetchone() is not None


def lead_updated(conn, now_iso: str, lead_id: int, previous: str | None) -> None:
    from dialcli import webhooks

    webhooks.enqueue_lead_update(conn, now_iso=now_iso, lead_id=lead_id, previous_status=previous)
