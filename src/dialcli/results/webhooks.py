"""Signed webhooks through a durable outbox: subscriptions, signatures.

**Enqueue** is ``dialcli.store.outbox``: the event is written in the transaction that
changes the lead, so it exists if and only if the change committed.

**Order per lead.** The events of one (subscription, lead) form a chain that is
delivered strictly in order: only the oldest undelivered event of a chain is ever
sent. Events queued behind another carry ``next_attempt_at = BLOCKED`` (far future),
so they stay out of the due scan, and are promoted to "due now" when the event ahead
of them is delivered or dead-lettered. The due query re-checks "oldest of its chain"
anyway, so a mistake in promotion can delay but never reorder.

**Signature.** ``Dialcli-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<raw body>")>``, plus ``Dialcli-Event-Id`` and ``Dialcli-Event-Type``; receivers
verify with ``verify_signature`` (same code as the README snippet) and reject stale
timestamps. Secrets are stored (they are needed to sign) but never printed after
``webhook add``; listings show a fingerprint.

Delivery (``Deliverer``, ``retry_dead``, ``send_test``) is ``dialcli.results.delivery``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass, field
from typing import Iterable

from dialcli.errors import ConflictError, DialcliError, InputError, NotFoundError
from dialcli.store import Store
from dialcli.store.outbox import BLOCKED, LEAD_UPDATED

TEST_EVENT = "webhook.test"
KNOWN_EVENTS = (LEAD_UPDATED,)


SIGNATURE_HEADER = "Dialcli-Signature"
EVENT_ID_HEADER = "Dialcli-Event-Id"
EVENT_TYPE_HEADER = "Dialcli-Event-Type"
SIGNATURE_TOLERANCE_S = 300


class DeliveryError(DialcliError):
    """A webhook endpoint did not accept a test event (exit 1)."""


# -- subscriptions ------------------------------------------------------------------------

@dataclass(frozen=True)
class Subscription:
    id: int
    url: str
    events: tuple[str, ...]
    active: bool
    created_at: str
    disabled_at: str | None
    disabled_reason: str | None
    secret: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.secret)

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Subscription":
        return cls(row["id"], row["url"], tuple(e for e in row["events"].split(",") if e),
                   bool(row["active"]), row["created_at"], row["disabled_at"],
                   row["disabled_reason"], row["secret"])


@dataclass(frozen=True)
class SubscriptionStatus:
    subscription: Subscription
    pending: int
    delivered: int
    dead: int
    last_delivered_at: str | None
    last_error: str | None
    next_attempt_at: str | None


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def fingerprint(secret: str) -> str:
    """A short, non-reversible name for a secret (safe to print)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:8]


def redact_url(url: str) -> str:
    """The URL with any password in it replaced by ****."""
    import httpx  # imported on use: it costs ~0.1 s of every CLI start-up

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    if parsed.password:
        return str(parsed.copy_with(username=parsed.username, password="****"))
    return url


def validate_url(url: str) -> tuple[str, list[str]]:
    """(normalised URL, warnings); bad URLs raise InputError."""
    import httpx

    text = (url or "").strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError):
        raise InputError(f"{url!r} is not a valid URL.",
                         hint="Use a full URL, e.g. https://example.com/hooks/dialcli") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InputError(f"{url!r} is not an http(s) URL with a host.",
                         hint="Use a full URL, e.g. https://example.com/hooks/dialcli")
    check_port(text)
    warnings = []
    if parsed.scheme == "http" and parsed.host not in ("localhost", "127.0.0.1", "::1"):
        warnings.append("events carry lead names, numbers and variables; "
                        "plain http sends them unencrypted -- prefer https.")
    return text, warnings


def check_port(url: str) -> None:
    """A port written in the URL must be 1-65535 (httpx accepts 99999 and fails later)."""
    from urllib.parse import urlsplit

    try:
        port = urlsplit(url).port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise InputError(f"{url!r} has an invalid port: a port is a number from 1 to 65535.",
                         hint="Fix the port, or leave it out for the default (443 for https).")


def validate_events(events: Iterable[str] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(e.strip() for e in (events or [LEAD_UPDATED]) if e.strip()))
    unknown = [e for e in chosen if e not in KNOWN_EVENTS]
    if unknown or not chosen:
        raise InputError(f"Unknown event type {', '.join(unknown) or '(empty)'}.",
                         hint="Known event types: " + ", ".join(KNOWN_EVENTS))
    return chosen


def add_subscription(store: Store, url: str, *, now_iso: str, events: Iterable[str] | None = None,
                     secret: str | None = None) -> tuple[Subscription, list[str]]:
    """Create a subscription; returns it (with its secret) and warnings about the URL."""
    url, warnings = validate_url(url)
    chosen = validate_events(events)
    if secret is not None:
        secret = secret.strip()
        if len(secret) < 16:
            raise InputError("The webhook secret is too short (fewer than 16 characters).",
                             hint="Omit --secret to have a strong one generated.")
    else:
        secret = generate_secret()
    with store.tx() as conn:
        if conn.execute("SELECT 1 FROM webhook_subscriptions WHERE url = ?", (url,)).fetchone():
            raise ConflictError(f"{redact_url(url)} is already subscribed.",
                                hint="See it with: dialcli webhook list")
        cur = conn.execute(
            "INSERT INTO webhook_subscriptions (url, events, secret, active, created_at) "
            "VALUES (?, ?, ?, 1, ?)", (url, ",".join(chosen), secret, now_iso))
        sub = get_subscription(store, cur.lastrowid)
    return sub, warnings


def get_subscription(store: Store, ref: int | str) -> Subscription:
    """A subscription by id or exact URL."""
    row = None
    if isinstance(ref, int) or (str(ref).isascii() and str(ref).isdigit() and len(str(ref)) < 19):
        row = store.one("SELECT * FROM webhook_subscriptions WHERE id = ?", (int(ref),))
    if row is None:
        row = store.one("SELECT * FROM webhook_subscriptions WHERE url = ?", (str(ref),))
    if row is None:
        raise NotFoundError(f"No webhook subscription {ref!r}.",
                            hint="See the subscriptions with: dialcli webhook list")
    return Subscription.from_row(row)


def list_subscriptions(store: Store) -> list[SubscriptionStatus]:
    result = []
    for row in store.all("SELECT * FROM webhook_subscriptions ORDER BY id"):
        sub = Subscription.from_row(row)
        pending = store.scalar(
            "SELECT COUNT(*) FROM outbox WHERE subscription_id = ? "
            "AND delivered_at IS NULL AND dead_at IS NULL", (sub.id,))
        dead = store.scalar("SELECT COUNT(*) FROM outbox WHERE subscription_id = ? "
                            "AND dead_at IS NOT NULL", (sub.id,))
        total = store.scalar("SELECT COUNT(*) FROM outbox WHERE subscription_id = ?", (sub.id,))
        last_ok = store.scalar("SELECT MAX(delivered_at) FROM outbox WHERE subscription_id = ?",
                               (sub.id,))
        last = store.one(
            "SELECT last_error FROM outbox WHERE subscription_id = ? AND last_error IS NOT NULL "
            "AND delivered_at IS NULL ORDER BY last_attempt_at DESC LIMIT 1", (sub.id,))
        nxt = store.scalar(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE subscription_id = ? "
            "AND delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at < ?",
            (sub.id, BLOCKED))
        delivered = total - pending - dead + row["delivered_pruned"]   # kept 30 days
        result.append(SubscriptionStatus(sub, pending, delivered, dead, last_ok,
                                         last["last_error"] if last else None, nxt))
    return result


def outbox_counts(store: Store, subscription_id: int) -> tuple[int, int]:
    """(pending, dead) events of a subscription."""
    pending = store.scalar("SELECT COUNT(*) FROM outbox WHERE subscription_id = ? "
                           "AND delivered_at IS NULL AND dead_at IS NULL", (subscription_id,))
    dead = store.scalar("SELECT COUNT(*) FROM outbox WHERE subscription_id = ? "
                        "AND dead_at IS NOT NULL", (subscription_id,))
    return int(pending), int(dead)


def only_subscription(store: Store) -> Subscription:
    """The workspace's subscription when there is exactly one."""
    rows = store.all("SELECT * FROM webhook_subscriptions ORDER BY id")
    if len(rows) == 1:
        return Subscription.from_row(rows[0])
    if not rows:
        raise InputError("There are no webhook subscriptions.",
                         hint="Add one with: dialcli webhook add https://example.com/hooks")
    raise InputError(f"There are {len(rows)} webhook subscriptions; which one?",
                     hint="Give its id (see dialcli webhook list).")


def remove_subscription(store: Store, ref: int | str) -> tuple[Subscription, int]:
    """Delete a subscription and its queued events; returns it and how many were pending."""
    with store.tx():
        sub = get_subscription(store, ref)
        pending = store.scalar("SELECT COUNT(*) FROM outbox WHERE subscription_id = ? "
                               "AND delivered_at IS NULL AND dead_at IS NULL", (sub.id,))
        store.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (sub.id,))
    return sub, pending


def enable_subscription(store: Store, ref: int | str) -> Subscription:
    """Re-activate a subscription (after a 410 Gone); its queued events resume in order."""
    with store.tx():
        sub = get_subscription(store, ref)
        store.execute("UPDATE webhook_subscriptions SET active = 1, disabled_at = NULL, "
                      "disabled_reason = NULL WHERE id = ?", (sub.id,))
        return get_subscription(store, sub.id)


# -- signing ------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Dialcli-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, now_unix: float,
                     tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale timestamps."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now_unix - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def signed_headers(secret: str, timestamp: int, body: bytes, event_id: str,
                   event_type: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
    }
