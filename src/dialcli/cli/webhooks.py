"""Commands: ``dialcli webhook add|list|remove|test|deliver|retry|enable``.

The outbox, signing and delivery rules live in ``dialcli.results.webhooks`` and
``dialcli.results.delivery``. Secrets are printed exactly once, by ``add``; everything
else shows a fingerprint.
"""

from __future__ import annotations

import random
import sys
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from dialcli import formats
from dialcli.cli.common import (bounded, confirm, num, note, now, out, print_json, result, show,
                                state, store, success, warn)
from dialcli.cli.common import result as result_
from dialcli.clock import to_iso
from dialcli.errors import InputError
from dialcli.results import delivery
from dialcli.results import webhooks as core

app = typer.Typer(
    name="webhook",
    help="Send campaign.lead.updated events to your endpoint, signed, with retries.\n\n"
         "\b\nExample:\n  dialcli webhook add https://example.com/hooks/dialcli",
    no_args_is_help=True,
)


def _ref(value: str | None) -> str | None:
    return value.strip() if value else None


def subscriptions_table(rows: list[core.SubscriptionStatus]) -> Table:
    table = Table(title="Webhook subscriptions", title_justify="left")
    table.add_column("ID", justify="right")
    table.add_column("Endpoint", overflow="fold", ratio=1)
    table.add_column("State")
    table.add_column("Queued", justify="right")
    table.add_column("Sent", justify="right")
    table.add_column("Dead", justify="right")
    table.add_column("Secret", no_wrap=True)
    for r in rows:
        sub = r.subscription
        endpoint = Text(sub.display_url)
        endpoint.append("\n" + ", ".join(sub.events), style="dim")
        if r.last_error:
            endpoint.append(f"\nlast error: {r.last_error}", style="yellow")
        state_text = (Text("active", "green") if sub.active
                      else Text(f"off: {sub.disabled_reason or 'disabled'}", "red"))
        table.add_row(str(sub.id), endpoint, state_text, num(r.pending), num(r.delivered),
                      Text(formats.count(r.dead), "red" if r.dead else ""), sub.fingerprint)
    if not rows:
        table.add_row("", Text("none -- add one with: dialcli webhook add URL", "dim"),
                      "", "", "", "", "")
    return table


def stats_line(stats: delivery.DeliveryStats) -> str:
    parts = [f"{formats.count(stats.delivered)} delivered"]
    if stats.failed:
        parts.append(f"{formats.count(stats.failed)} failed (will be retried)")
    if stats.dead:
        parts.append(f"{formats.count(stats.dead)} dead-lettered")
    if stats.deferred:
        parts.append(f"{formats.count(stats.deferred)} held back (endpoint failing)")
    return ", ".join(parts)


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="Your endpoint (https)."),
    event: list[str] = typer.Option([], "--event", "-e",
                                    help="Event type (repeatable); default campaign.lead.updated."),
    secret: Optional[str] = typer.Option(
        None, "--secret", metavar="-",
        help="Your own signing secret, read from stdin with --secret - (default: a strong "
             "generated one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (includes the secret)."),
) -> None:
    """Subscribe an endpoint; prints its signing secret once.

    \b
    Example:
      dialcli webhook add https://example.com/hooks/dialcli
      dialcli webhook add https://example.com/hooks/dialcli \\
        --secret - < secret.txt
    """
    if secret == "-":
        lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
        if len(lines) != 1:
            raise InputError("--secret - reads one line from stdin: the signing secret.",
                             hint="e.g. dialcli webhook add URL --secret - < secret.txt")
        secret = lines[0]
    elif secret is not None:
        # An argument is visible to every user in `ps` and kept in shell history.
        warn("A secret given on the command line shows in `ps` and your shell history; "
             "pass --secret - and send it on stdin instead.")
    sub, warnings = core.add_subscription(store(ctx), url, now_iso=to_iso(now(ctx)),
                                          events=event or None, secret=secret)
    for message in warnings:
        warn(message)
    if as_json:
        print_json({"id": sub.id, "url": sub.display_url, "events": list(sub.events),
                    "secret": sub.secret, "fingerprint": sub.fingerprint})
        return
    success(f"Subscription {sub.id}: {sub.display_url} ({', '.join(sub.events)})")
    if secret is None:
        note("Signing secret (shown only now; store it where your receiver can read it):")
        out.print(sub.secret, markup=False)
    note("Verify the Dialcli-Signature header as shown in the README (Webhooks), then: "
         f"dialcli webhook test {sub.id}")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List subscriptions with queued, delivered and dead-lettered counts.

    \b
    Example:
      dialcli webhook list
    """
    rows = core.list_subscriptions(store(ctx))
    if as_json:
        print_json([{
            "id": r.subscription.id, "url": r.subscription.display_url,
            "events": list(r.subscription.events), "active": r.subscription.active,
            "disabled_reason": r.subscription.disabled_reason,
            "secret_fingerprint": r.subscription.fingerprint, "pending": r.pending,
            "delivered": r.delivered, "dead": r.dead, "last_delivered_at": r.last_delivered_at,
            "last_error": r.last_error, "next_attempt_at": r.next_attempt_at,
        } for r in rows])
        return
    show(subscriptions_table(rows))


@app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    subscription: str = typer.Argument(..., help="Subscription id or URL."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask, even with events queued "
                             "(needed when there is no terminal to ask on)."),
) -> None:
    """Delete a subscription and its queued events.

    \b
    Example:
      dialcli webhook remove 1 --yes
    """
    st = store(ctx)
    sub = core.get_subscription(st, subscription)
    pending, _ = core.outbox_counts(st, sub.id)
    if pending:
        confirm(f"{formats.count(pending)} event(s) for {sub.display_url} are not delivered yet and "
                "will be dropped. Remove anyway?", yes=yes,
                action="Removing a subscription with queued events")
    removed, dropped = core.remove_subscription(st, sub.id)
    result(removed={"id": removed.id, "url": removed.display_url}, dropped_events=dropped)
    success(f"Removed subscription {removed.id} ({removed.display_url})"
            + (f"; dropped {formats.count(dropped)} queued event(s)" if dropped else ""))


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    subscription: Optional[str] = typer.Argument(None, help="Subscription id or URL "
                                                  "(optional when there is one)."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the endpoint.",
                                  callback=bounded(0.1, 300, " seconds")),
) -> None:
    """Send a signed webhook.test event to an endpoint now and show the answer.

    \b
    Example:
      dialcli webhook test 1
    """
    st = store(ctx)
    sub = (core.get_subscription(st, subscription) if _ref(subscription)
           else core.only_subscription(st))
    result = delivery.send_test(st, sub.id, clock=state(ctx).clock, timeout_s=timeout)
    if not result.ok:
        raise core.DeliveryError(
            f"{sub.display_url} did not accept the test event: {result.error}",
            hint="It must answer 2xx within the timeout. Check the URL, that the receiver "
                 "is running, and its signature check (README, Webhooks).")
    result_(subscription=sub.id, status=result.status, elapsed_ms=round(result.elapsed_ms),
            event_id=result.event_id)
    success(f"{sub.display_url} answered {result.status} in {result.elapsed_ms:.0f} ms "
            f"(event {result.event_id})")


@app.command("deliver")
def deliver_cmd(
    ctx: typer.Context,
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds",
                                                help="Stop after this long (default: until done).",
                                                callback=bounded(0, 7 * 24 * 3600, " seconds")),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait per request.",
                                  callback=bounded(0.1, 300, " seconds")),
) -> None:
    """Send every queued event now, without a running campaign.

    Waiting retries are sent at once; an endpoint that still fails is left for later
    (its events keep their retry schedule).

    \b
    Example:
      dialcli webhook deliver
    """
    st = store(ctx)
    deliverer = delivery.Deliverer(st, clock=state(ctx).clock, rng=random.Random(),
                               timeout_s=timeout)
    try:
        stats = deliverer.drain(max_seconds=max_seconds)
        delivery.prune_delivered(st, state(ctx).clock.now())
    finally:
        deliverer.close()
    remaining = sum(core.outbox_counts(st, r.subscription.id)[0]
                    for r in core.list_subscriptions(st) if r.subscription.active)
    result(attempted=stats.attempted, delivered=stats.delivered, failed=stats.failed,
           dead=stats.dead, deferred=stats.deferred, deactivated=stats.deactivated,
           still_queued=remaining)
    if stats.attempted == 0 and not remaining:
        success("Nothing to deliver.")
        return
    note(stats_line(stats) + (f"; {formats.count(remaining)} still queued" if remaining else ""))
    if stats.errors:
        details = "; ".join(f"subscription {sid}: {error}" for sid, error in stats.errors.items())
        raise core.DeliveryError(
            f"Some endpoints failed: {details}",
            hint="Their events stay queued and are retried by the running campaign or the "
                 "next `dialcli webhook deliver`.")
    success("Delivered.")


@app.command("retry")
def retry_cmd(
    ctx: typer.Context,
    subscription: Optional[str] = typer.Argument(None, help="Only this subscription (id or URL)."),
    event_id: Optional[str] = typer.Option(None, "--event-id", help="Only this event (evt_...)."),
) -> None:
    """Requeue dead-lettered events (after 24 h of failed attempts).

    \b
    Example:
      dialcli webhook retry && dialcli webhook deliver
    """
    count = delivery.retry_dead(store(ctx), subscription=_ref(subscription), event_id=event_id)
    result(requeued=count)
    if not count:
        success("No dead letters to retry.")
        return
    success(f"Requeued {formats.count(count)} event(s); they go out with the running campaign or "
            "`dialcli webhook deliver`.")


@app.command("enable")
def enable_cmd(
    ctx: typer.Context,
    subscription: str = typer.Argument(..., help="Subscription id or URL."),
) -> None:
    """Switch a subscription back on (after its endpoint answered 410 Gone).

    \b
    Example:
      dialcli webhook enable 1
    """
    sub = core.enable_subscription(store(ctx), subscription)
    result(subscription={"id": sub.id, "url": sub.display_url, "active": True})
    success(f"Subscription {sub.id} ({sub.display_url}) is active; queued events resume in order.")
