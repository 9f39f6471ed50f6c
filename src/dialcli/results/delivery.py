"""Webhook delivery: send due outbox events, signed, with backoff and dead letters.

``Deliverer`` works on the wall clock (a simulated campaign's virtual clock can be
days ahead): it claims a batch of due chain heads in one transaction (a lease, so a
second deliverer -- the ``webhook deliver`` command next to a running engine --
does not send them too), sends them concurrently over one ``httpx.Client`` without
holding any lock, and records the outcomes in one transaction. The claim scans one
range of the ``outbox_pending`` index per subscription, in due order, so a backlog of
blocked events (see ``dialcli.results.webhooks``) is never read.

2xx is delivered. Anything else is retried with exponential backoff and full jitter
(5 s doubling, capped at 30 min, ``Retry-After`` honoured) until 24 h after the
event's first attempt; after that it is dead-lettered (``dead_at``) and the next
event of its chain goes ahead. ``retry_dead`` requeues dead letters. Redirects are
not followed (a webhook URL that moved must be updated, not guessed). **410 Gone**
means the receiver asked us to stop: the subscription is deactivated (nothing is
dropped; its queued events wait, and no new ones are recorded, until
``webhooks enable``). When an attempt to a subscription fails, every other event
due for it waits for that attempt's retry time (a circuit breaker), so a dead
endpoint costs one probe per backoff step instead of one timeout per lead; the 24
hours run per event from its own first attempt, so an endpoint that is down for a
day loses (to the dead letters, recoverable with ``webhook retry``) only the
events that were probing it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from dialcli import __version__
from dialcli.clock import from_iso, to_iso
from dialcli.errors import DialcliError, NotFoundError
from dialcli.store import Store
from dialcli.results.webhooks import TEST_EVENT, get_subscription, signed_headers
from dialcli.store.outbox import BLOCKED, DUE_NOW, new_event_id

if TYPE_CHECKING:
    import httpx

MAX_AGE = timedelta(hours=24)
BASE_BACKOFF_S = 5.0
MAX_BACKOFF_S = 1800.0
MIN_BACKOFF_S = 1.0
LEASE_MARGIN_S = 30.0
MAX_ERROR_CHARS = 300
KEEP_DELIVERED = timedelta(days=30)   # delivered events older than this are removed
PRUNE_EVERY = timedelta(hours=1)
PRUNE_BATCH = 5000


@dataclass
class DeliveryStats:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0          # will be retried
    dead: int = 0            # dead-lettered in this round
    deferred: int = 0        # not sent: their endpoint had just failed
    deactivated: int = 0     # subscriptions switched off by 410 Gone
    errors: dict[int, str] = field(default_factory=dict)   # subscription -> last error

    def add(self, other: "DeliveryStats") -> None:
        for name in ("attempted", "delivered", "failed", "dead", "deferred", "deactivated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.update(other.errors)


@dataclass
class _Job:
    row_id: int
    event_id: str
    event_type: str
    subscription_id: int
    lead_id: int | None
    url: str
    secret: str = field(repr=False)
    body: bytes = field(repr=False)
    attempts: int
    first_attempt_at: str | None
    last_attempt_at: str | None
    # outcome
    kind: str = ""            # delivered | failed | gone | deferred
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


class Deliverer:
    """Sends due outbox events; see the module docstring for the rules."""

    def __init__(self, store: Store, *, clock, rng: random.Random,
                 http: httpx.Client | None = None, timeout_s: float = 10.0,
                 concurrency: int = 8, max_age: timedelta = MAX_AGE,
                 base_backoff_s: float = BASE_BACKOFF_S, max_backoff_s: float = MAX_BACKOFF_S):
        import httpx

        self.store = store
        self.clock = clock
        self.rng = rng
        self.timeout_s = timeout_s
        self.concurrency = max(1, concurrency)
        self.max_age = max_age
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=timeout_s, follow_redirects=False,
            headers={"User-Agent": f"dialcli-webhooks/{__version__}"},
            limits=httpx.Limits(max_connections=self.concurrency * 2),
        )
        self.last_error: BaseException | None = None   # of the background thread

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # -- scheduling -------------------------------------------------------------------------
    def backoff(self, attempts: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2^(attempts-1))), at least 1 s."""
        ceiling = min(self.max_backoff_s, self.base_backoff_s * (2 ** max(0, attempts - 1)))
        return max(MIN_BACKOFF_S, self.rng.uniform(0, ceiling))

    def next_due(self) -> datetime | None:
        """When the earliest queued event is due (None: nothing queued)."""
        best = None
        for (sub_id,) in self.store.all("SELECT id FROM webhook_subscriptions WHERE active = 1"):
            value = self.store.scalar(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE subscription_id = ? "
                "AND delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at < ? "
                "AND lease_until IS NULL", (sub_id, BLOCKED))
            if value is not None and (best is None or value < best):
                best = value
        return from_iso(best) if best else None

    # -- one round ---------------------------------------------------------------------------
    def _claim(self, now: datetime, limit: int, force_since: str | None,
               exclude: set[int]) -> list[_Job]:
        now_iso = to_iso(now)
        lease = to_iso(now + timedelta(seconds=self.timeout_s + LEASE_MARGIN_S))
        # In a forced drain everything queued (not blocked) is a candidate; otherwise
        # only what is due. Either way the scan is a range of ``outbox_pending`` per
        # subscription, in due order, so a backlog of blocked events is never read.
        # One upper bound only, so SQLite uses it as the end of the index range.
        bound = "o.next_attempt_at < :blocked" if force_since else "o.next_attempt_at <= :now"
        with self.store.tx() as conn:
            subs = conn.execute("SELECT id, url, secret FROM webhook_subscriptions "
                                "WHERE active = 1 ORDER BY id").fetchall()
            rows = []
            for sub in subs:
                if sub["id"] in exclude:
                    continue
                for r in conn.execute(f"""
                    SELECT o.id, o.event_id, o.type, o.lead_id, o.payload, o.attempts,
                           o.first_attempt_at, o.last_attempt_at, o.next_attempt_at
                    FROM outbox o INDEXED BY outbox_pending
                    WHERE o.subscription_id = :sub
                      AND o.delivered_at IS NULL AND o.dead_at IS NULL
                      AND {bound}
                      AND (o.lease_until IS NULL OR o.lease_until <= :now)
                      AND (o.next_attempt_at <= :now
                           OR (:force IS NOT NULL
                               AND (o.last_attempt_at IS NULL OR o.last_attempt_at < :force)))
                      AND (o.lead_id IS NULL OR o.id = (
                           SELECT MIN(x.id) FROM outbox x
                           WHERE x.subscription_id = :sub AND x.lead_id = o.lead_id
                             AND x.delivered_at IS NULL AND x.dead_at IS NULL))
                    ORDER BY o.next_attempt_at, o.id
                    LIMIT :limit""",
                        {"sub": sub["id"], "blocked": BLOCKED, "now": now_iso,
                         "force": force_since, "limit": limit}):
                    rows.append((r, sub))
            rows.sort(key=lambda pair: (pair[0]["next_attempt_at"], pair[0]["id"]))
            jobs = [_Job(r["id"], r["event_id"], r["type"], sub["id"], r["lead_id"], sub["url"],
                         sub["secret"], r["payload"].encode(), r["attempts"],
                         r["first_attempt_at"], r["last_attempt_at"])
                    for r, sub in rows[:limit]]
            conn.executemany(
                "UPDATE outbox SET lease_until = ?, last_attempt_at = ?, "
                "first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ?",
                [(lease, now_iso, now_iso, j.row_id) for j in jobs])
        return jobs

    def _send(self, job: _Job, tripped: set[int], lock: threading.Lock) -> None:
        import httpx

        with lock:
            if job.subscription_id in tripped:
                job.kind = "deferred"
                return
        now = self.clock.now()
        headers = signed_headers(job.secret, int(now.timestamp()), job.body, job.event_id,
                                 job.event_type)
        try:
            response = self.http.post(job.url, content=job.body, headers=headers,
                                      timeout=self.timeout_s)
        except httpx.TimeoutException:
            job.kind, job.error = "failed", f"timed out after {self.timeout_s:g} s"
        except httpx.HTTPError as exc:
            job.kind, job.error = "failed", _short(f"connection failed: {type(exc).__name__}: {exc}")
        else:
            job.status = response.status_code
            if 200 <= response.status_code < 300:
                job.kind = "delivered"
            elif response.status_code == 410:
                job.kind, job.error = "gone", "HTTP 410 Gone: the receiver asked to stop"
            else:
                detail = _short(response.text) if response.content else ""
                if 300 <= response.status_code < 400:
                    detail = ("redirect to " + response.headers.get("location", "?")
                              + " not followed; update the subscription URL")
                job.kind = "failed"
                job.error = f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
                job.retry_after_s = _retry_after(response.headers.get("retry-after"), now)
        if job.kind in ("failed", "gone"):
            with lock:
                tripped.add(job.subscription_id)

    def _record(self, jobs: list[_Job], stats: DeliveryStats) -> None:
        now = self.clock.now()
        now_iso = to_iso(now)
        retry_at: dict[int, str] = {}
        with self.store.tx() as conn:
            for job in jobs:
                if job.kind == "deferred":
                    continue
                stats.attempted += 1
                attempts = job.attempts + 1
                if job.kind == "delivered":
                    stats.delivered += 1
                    conn.execute(
                        "UPDATE outbox SET delivered_at = ?, attempts = ?, last_status = ?, "
                        "last_error = NULL, lease_until = NULL WHERE id = ?",
                        (now_iso, attempts, job.status, job.row_id))
                    self._promote(conn, job, now_iso)
                    continue
                stats.errors[job.subscription_id] = job.error or "failed"
                if job.kind == "gone":
                    stats.deactivated += conn.execute(
                        "UPDATE webhook_subscriptions SET active = 0, disabled_at = ?, "
                        "disabled_reason = ? WHERE id = ? AND active = 1",
                        (now_iso, job.error, job.subscription_id)).rowcount
                    conn.execute(
                        "UPDATE outbox SET attempts = ?, last_status = 410, last_error = ?, "
                        "lease_until = NULL, next_attempt_at = ? WHERE id = ?",
                        (attempts, job.error, DUE_NOW, job.row_id))
                    stats.failed += 1
                    continue
                first = from_iso(job.first_attempt_at) or now
                deadline = first + self.max_age
                if now >= deadline:
                    stats.dead += 1
                    conn.execute(
                        "UPDATE outbox SET dead_at = ?, attempts = ?, last_status = ?, "
                        "last_error = ?, lease_until = NULL WHERE id = ?",
                        (now_iso, attempts, job.status, job.error, job.row_id))
                    self._promote(conn, job, now_iso)
                    continue
                delay = self.backoff(attempts)
                if job.retry_after_s is not None:
                    delay = max(delay, min(job.retry_after_s, self.max_backoff_s))
                next_at = to_iso(min(now + timedelta(seconds=delay), deadline))
                retry_at[job.subscription_id] = max(retry_at.get(job.subscription_id, ""),
                                                    next_at)
                stats.failed += 1
                conn.execute(
                    "UPDATE outbox SET attempts = ?, last_status = ?, last_error = ?, "
                    "lease_until = NULL, next_attempt_at = ? WHERE id = ?",
                    (attempts, job.status, job.error, next_at, job.row_id))
            for job in jobs:
                if job.kind != "deferred":
                    continue
                stats.deferred += 1
                # Not an attempt: restore the bookkeeping and wait for the endpoint's retry.
                conn.execute(
                    "UPDATE outbox SET lease_until = NULL, last_attempt_at = ?, "
                    "first_attempt_at = ? WHERE id = ?",
                    (job.last_attempt_at, job.first_attempt_at, job.row_id))
            # Circuit breaker: everything else due for a failing endpoint waits for its
            # probe's retry time, so the next rounds do not probe it once per batch.
            for sub_id, when in retry_at.items():
                conn.execute(
                    "UPDATE outbox SET next_attempt_at = ? WHERE subscription_id = ? "
                    "AND delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ? "
                    "AND lease_until IS NULL",
                    (when, sub_id, now_iso))

    @staticmethod
    def _promote(conn: sqlite3.Connection, job: _Job, now_iso: str) -> None:
        """Make the next event of the chain due, now that the one ahead is settled."""
        if job.lead_id is None:
            return
        conn.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE id = (SELECT MIN(id) FROM outbox "
            "WHERE subscription_id = ? AND lead_id = ? AND delivered_at IS NULL "
            "AND dead_at IS NULL) AND next_attempt_at = ?",
            (DUE_NOW, job.subscription_id, job.lead_id, BLOCKED))

    def deliver_due(self, max_events: int = 200, *, force_since: datetime | None = None,
                    exclude: set[int] | None = None) -> DeliveryStats:
        """Send up to ``max_events`` due chain heads once; returns what happened.

        ``force_since``: also send events waiting in backoff that were not attempted
        since that instant (``webhook deliver`` uses it to flush after a fix).
        """
        stats = DeliveryStats()
        jobs = self._claim(self.clock.now(), max_events,
                           to_iso(force_since) if force_since else None, exclude or set())
        if not jobs:
            return stats
        tripped: set[int] = set()
        lock = threading.Lock()
        if len(jobs) == 1 or self.concurrency == 1:
            for job in jobs:
                self._send(job, tripped, lock)
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
                list(pool.map(lambda j: self._send(j, tripped, lock), jobs))
        self._record(jobs, stats)
        return stats

    def drain(self, *, max_seconds: float | None = None, batch: int = 200) -> DeliveryStats:
        """Send everything queued now, each event at most once, ignoring backoff waits.

        A subscription whose endpoint fails is left alone for the rest of the drain (its
        events keep their retry schedule), so a dead endpoint ends the drain quickly.
        """
        started = self.clock.now()
        since = started
        total = DeliveryStats()
        stop_at = None if max_seconds is None else self.clock.monotonic() + max_seconds
        while stop_at is None or self.clock.monotonic() < stop_at:
            stats = self.deliver_due(batch, force_since=since, exclude=set(total.errors))
            total.add(stats)
            if stats.attempted == 0 and stats.deferred == 0:
                break
        return total

    # -- background ---------------------------------------------------------------------------
    def run_in_thread(self, stop_event: threading.Event, *, poll_s: float = 1.0,
                      final_drain_s: float = 5.0) -> threading.Thread:
        """Deliver in a daemon thread (with its own Store connection) until ``stop_event``.

        After the stop, events already due get ``final_drain_s`` seconds to go out;
        whatever remains stays in the outbox for the next run or ``webhook deliver``.
        """
        def loop() -> None:
            store = Store(self.store.path)
            worker = Deliverer(store, clock=self.clock, rng=self.rng, http=self.http,
                               timeout_s=self.timeout_s, concurrency=self.concurrency,
                               max_age=self.max_age, base_backoff_s=self.base_backoff_s,
                               max_backoff_s=self.max_backoff_s)
            next_prune = self.clock.now()
            try:
                while not stop_event.is_set():
                    try:
                        if self.clock.now() >= next_prune:
                            next_prune = self.clock.now() + PRUNE_EVERY
                            prune_delivered(store, self.clock.now())
                        stats = worker.deliver_due()
                        if stats.attempted or stats.deferred:
                            continue
                        due = worker.next_due()
                        wait = poll_s
                        if due is not None:
                            gap = (due - self.clock.now()).total_seconds()
                            wait = min(poll_s, max(0.0, gap))
                    except (sqlite3.Error, DialcliError) as exc:
                        # The engine must not die because delivery hit a busy database;
                        # the outbox is durable, so try again shortly.
                        self.last_error = exc
                        wait = poll_s
                    if wait > 0:
                        stop_event.wait(wait)
                stop_at = self.clock.monotonic() + final_drain_s
                while self.clock.monotonic() < stop_at:
                    stats = worker.deliver_due()
                    if not (stats.attempted or stats.deferred):
                        break
            except BaseException as exc:  # pragma: no cover - reported to the owner
                self.last_error = exc
            finally:
                store.close()

        thread = threading.Thread(target=loop, name="dialcli-webhooks", daemon=True)
        thread.start()
        return thread


def prune_delivered(store: Store, now: datetime, *, keep: timedelta = KEEP_DELIVERED,
                    batch: int = PRUNE_BATCH) -> int:
    """Remove events delivered more than ``keep`` ago, so the outbox does not grow by
    every lead change of every campaign forever; returns how many.

    Queued and dead-lettered events are never removed. Each subscription keeps its
    newest delivered event (``webhook list``'s "last delivered") and counts the
    removed ones in ``delivered_pruned``. Batches of ``batch`` rows, one transaction
    each, so a first prune of a large outbox never holds the write lock for long.
    """
    cutoff = to_iso(now - keep)
    removed = 0
    for (sub_id,) in store.all("SELECT id FROM webhook_subscriptions ORDER BY id"):
        newest = store.scalar(
            "SELECT id FROM outbox WHERE subscription_id = ? AND delivered_at IS NOT NULL "
            "ORDER BY delivered_at DESC, id DESC LIMIT 1", (sub_id,))
        while newest is not None:
            with store.tx():
                n = store.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
                    "WHERE subscription_id = ? AND delivered_at < ? AND id <> ? LIMIT ?)",
                    (sub_id, cutoff, newest, batch)).rowcount
                if n:
                    store.execute("UPDATE webhook_subscriptions SET delivered_pruned = "
                                  "delivered_pruned + ? WHERE id = ?", (n, sub_id))
            removed += n
            if n < batch:
                break
    return removed


# -- dead letters and tests -----------------------------------------------------------

def retry_dead(store: Store, *, subscription: int | str | None = None,
               event_id: str | None = None) -> int:
    """Requeue dead-lettered events (all, one subscription's, or one event); returns count.

    A requeued event goes ahead of newer events of its lead that are still queued, but
    events of that lead delivered meanwhile have already arrived: receivers should
    compare ``created_at`` if they need the latest state.
    """
    with store.tx() as conn:
        where, params = ["dead_at IS NOT NULL"], []
        if subscription is not None:
            where.append("subscription_id = ?")
            params.append(get_subscription(store, subscription).id)
        if event_id is not None:
            where.append("event_id = ?")
            params.append(event_id)
        rows = conn.execute(f"SELECT id, subscription_id, lead_id FROM outbox WHERE "
                            f"{' AND '.join(where)}", params).fetchall()
        if event_id is not None and not rows:
            raise NotFoundError(f"No dead-lettered event {event_id!r}.",
                                hint="See dead letters with: dialcli webhook list")
        conn.executemany(
            "UPDATE outbox SET dead_at = NULL, attempts = 0, first_attempt_at = NULL, "
            "last_attempt_at = NULL, lease_until = NULL, next_attempt_at = ? WHERE id = ?",
            [(BLOCKED, r["id"]) for r in rows])
        for sub_id, lead_id in {(r["subscription_id"], r["lead_id"]) for r in rows}:
            if lead_id is None:
                conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE subscription_id = ? "
                             "AND lead_id IS NULL AND next_attempt_at = ?",
                             (DUE_NOW, sub_id, BLOCKED))
                continue
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = (SELECT MIN(id) FROM outbox "
                "WHERE subscription_id = ? AND lead_id = ? AND delivered_at IS NULL "
                "AND dead_at IS NULL) AND next_attempt_at = ?",
                (DUE_NOW, sub_id, lead_id, BLOCKED))
    return len(rows)


@dataclass(frozen=True)
class TestResult:
    ok: bool
    status: int | None
    elapsed_ms: float
    error: str | None
    event_id: str


def send_test(store: Store, ref: int | str, *, clock, http: httpx.Client | None = None,
              timeout_s: float = 10.0) -> TestResult:
    """Send one signed ``webhook.test`` event now (not through the outbox)."""
    import httpx

    sub = get_subscription(store, ref)
    now = clock.now()
    event_id = new_event_id()
    body = json.dumps({
        "id": event_id, "type": TEST_EVENT, "created_at": to_iso(now),
        "subscription": {"id": sub.id, "events": list(sub.events)},
        "message": "Test event from dialcli: your endpoint and signature check work.",
    }, separators=(",", ":")).encode()
    headers = signed_headers(sub.secret, int(now.timestamp()), body, event_id, TEST_EVENT)
    client = http or httpx.Client(timeout=timeout_s, follow_redirects=False)
    started = clock.monotonic()
    try:
        response = client.post(sub.url, content=body, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        return TestResult(False, None, (clock.monotonic() - started) * 1000,
                          f"timed out after {timeout_s:g} s", event_id)
    except httpx.HTTPError as exc:
        return TestResult(False, None, (clock.monotonic() - started) * 1000,
                          _short(f"connection failed: {type(exc).__name__}: {exc}"), event_id)
    finally:
        if http is None:
            client.close()
    elapsed = (clock.monotonic() - started) * 1000
    ok = 200 <= response.status_code < 300
    error = None if ok else f"HTTP {response.status_code}" + (
        f": {_short(response.text)}" if response.content else "")
    return TestResult(ok, response.status_code, elapsed, error, event_id)
