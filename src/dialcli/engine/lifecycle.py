"""Campaign lifecycle outside the running loop: pause, restart, and the status snapshot.

``pause`` only flips the campaign to PAUSED in one transaction; a running runner sees
the commit (SQLite ``data_version``), stops dispatching, lets calls in progress finish
and be recorded, and exits. ``restart`` starts a new *run*: every lead back to PENDING
on its first live phone, counters zeroed (they are per run), history (calls,
appointments, audit) kept. Retired phones stay retired -- a wrong number or an
opted-out number is a fact about the number, not about the last run.

``snapshot`` builds the same ``Snapshot`` the live dashboard shows, from the database,
for ``dialcli status`` in another terminal; ``consent_state`` adds what the campaign
is for and whether its consent gate is on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dialcli.clock import from_iso, to_iso
from dialcli.compliance import consent
from dialcli.engine.types import Snapshot
from dialcli.errors import ConflictError
from dialcli.workspace.lease import STALE_AFTER, LeaseInfo, live_runner
from dialcli.workspace.lease import current as current_lease
from dialcli.models import Disposition
from dialcli.compliance.consent import gate_off_text
from dialcli.store import Store, settings, transitions


def pause(store: Store, campaign_id: int, now: datetime) -> dict[str, Any]:
    """Ask the campaign to pause. Returns what happened, for the message."""
    with store.tx():
        row = store.one("SELECT name, status FROM campaigns WHERE id = ?", (campaign_id,))
        assert row is not None
        name, status = row
        if status == "PAUSED":
            return {"campaign": name, "changed": False, "status": status}
        if status in ("DRAFT", "COMPLETED"):
            raise ConflictError(
                f"Campaign {name!r} is {status.lower()}, not running; there is nothing to pause.")
        store.execute("UPDATE campaigns SET status = 'PAUSED', updated_at = ? WHERE id = ?",
                      (to_iso(now), campaign_id))
    in_flight = store.scalar(
        "SELECT COUNT(*) FROM calls WHERE campaign_id = ? AND disposition IS NULL", (campaign_id,))
    runner = live_runner(store, campaign_id, now)
    return {"campaign": name, "changed": True, "status": "PAUSED", "in_flight": in_flight,
            "runner": runner.describe(now) if runner else None}


def restart(store: Store, campaign_id: int, now: datetime, *, wall_now: datetime) -> dict[str, Any]:
    """New run: leads back to PENDING, counters zeroed, history kept."""
    now_iso = to_iso(now)
    with store.tx() as conn:
        row = conn.execute("SELECT name, run FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        assert row is not None
        name, run = row
        runner = live_runner(store, campaign_id, wall_now)
        if runner is not None:
            raise ConflictError(
                f"Campaign {name!r} is running ({runner.describe(wall_now)}).",
                hint=f"Pause it first: dialcli pause {name}")
        open_calls = conn.execute(
            "SELECT COUNT(*) FROM calls WHERE campaign_id = ? AND disposition IS NULL",
            (campaign_id,)).fetchone()[0]
        if open_calls:
            raise ConflictError(
                f"Campaign {name!r} has {open_calls} call(s) from a stopped runner not settled yet.",
                hint=f"Run `dialcli resume {name}` once to settle them (it reconciles with the "
                     "provider first), pause it, then restart.")
        conn.execute(
            "UPDATE campaigns SET run = run + 1, pass_no = 1, next_pass_at = NULL, "
            "pass_started_at = NULL, status = 'PAUSED', started_at = NULL, completed_at = NULL, "
            "updated_at = ? WHERE id = ?", (now_iso, campaign_id))
        counts = transitions.restart(conn, campaign_id=campaign_id, now_iso=now_iso)
    return {"campaign": name, "run": run + 1, "leads": counts}


def pass_left(store: Store, campaign_id: int) -> tuple[int, int]:
    """(the campaign's pass, leads still to be dialed or in a call in it): what a
    progress bar of the pass counts down (the same leads ``_pass_over`` waits for)."""
    with store.snapshot():
        pass_no = store.scalar("SELECT pass_no FROM campaigns WHERE id = ?", (campaign_id,))
        left = store.scalar(
            "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND ((status IN ('PENDING', "
            "'RETRY') AND pass_done = 0) OR status = 'DIALING')", (campaign_id,))
    return int(pass_no or 0), int(left or 0)


def snapshot(store: Store, campaign_id: int, now: datetime) -> Snapshot:
    """The dashboard's snapshot, read from the database."""
    with store.snapshot():
        c = store.one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        assert c is not None
        run = c["run"]
        disp = dict(store.all(
            "SELECT disposition, COUNT(*) FROM calls WHERE campaign_id = ? AND run = ? "
            "AND disposition IS NOT NULL GROUP BY disposition", (campaign_id, run)))
        totals = store.one(
            "SELECT COUNT(*), COALESCE(SUM(billed_minutes), 0), COALESCE(SUM(CASE WHEN "
            "price_final = 1 THEN price ELSE billed_minutes * ? END), 0), "
            "COALESCE(SUM(disposition IS NULL), 0) FROM calls WHERE campaign_id = ? AND run = ?",
            (settings.rate_per_minute(store)[0], campaign_id, run))
        by_status = dict(store.all(
            "SELECT status, COUNT(*) FROM leads WHERE campaign_id = ? GROUP BY status",
            (campaign_id,)))
        recent = store.all(
            "SELECT id, name, status, last_disposition, phone_slot, pass_no, updated_at "
            "FROM leads WHERE campaign_id = ? ORDER BY updated_at DESC, id DESC LIMIT 12",
            (campaign_id,))
        events = store.all(
            "SELECT calls.ended_at, calls.claimed_at, leads.name, calls.e164, calls.disposition, "
            "calls.status FROM calls JOIN leads ON leads.id = calls.lead_id "
            "WHERE calls.campaign_id = ? ORDER BY calls.id DESC LIMIT 12", (campaign_id,))
        lease = current_lease(store, campaign_id)
    runner = lease if lease is not None and lease.live(now) else None
    reached = sum(n for k, n in disp.items() if Disposition(k).reached)
    status = c["status"]
    note = _runner_note(status, lease, now)
    if note is None and status == "PAUSED" and c["pause_reason"]:
        note = f"paused by its runner: {c['pause_reason']}"
    return Snapshot(
        campaign=c["name"], status=status, now=now, run=run, pass_no=c["pass_no"],
        max_passes=c["max_attempts"], next_pass_at=from_iso(c["next_pass_at"]),
        calls_made=sum(disp.values()), reached=reached, interested=disp.get("INTERESTED", 0),
        opted_out=disp.get("OPT_OUT", 0), in_flight=totals[3], minutes=totals[1],
        cost=round(totals[2], 4), dispositions=disp, leads_by_status=by_status,
        recent_leads=[{"at": from_iso(r["updated_at"]), "lead_id": r["id"], "name": r["name"],
                       "status": r["status"], "disposition": r["last_disposition"],
                       "slot": r["phone_slot"], "pass": r["pass_no"]} for r in recent],
        recent_events=[{"at": from_iso(r[0] or r[1]), "lead": r[2], "e164": r[3],
                        "event": f"ended: {r[4]}" if r[4] else r[5]} for r in events],
        note=note, **_runner_wait(c, runner, now),
    )


def _runner_note(status: str, lease: LeaseInfo | None, now: datetime) -> str | None:
    """What ``status`` says about the runner: alive, frozen (stopped by SIGSTOP or
    Ctrl-Z), hung or gone -- a frozen runner is not a crashed one."""
    state = lease.state(now) if lease is not None else "dead"
    if lease is not None and state == "frozen":
        ago = "" if lease.heartbeat_at is None else \
            f", last heartbeat {max(0, int((now - lease.heartbeat_at).total_seconds()))}s ago"
        return (f"the runner (pid {lease.pid} on {lease.host}{ago}) is stopped (SIGSTOP or "
                f"Ctrl-Z): `kill -CONT {lease.pid}` or `fg` in its terminal continues it; "
                f"{int(STALE_AFTER.total_seconds())} s after its last heartbeat `dialcli resume` "
                "takes the campaign over")
    if lease is not None and state == "hung":
        return (f"the runner ({lease.describe(now)}) is alive but no longer renews its lease: "
                "`dialcli resume` takes the campaign over")
    if lease is not None and state == "alive":
        return f"runner: {lease.describe(now)}"
    if status == "RUNNING":
        return "no runner is alive (it stopped or crashed): `dialcli resume` continues"
    return None


def _runner_wait(c: Any, runner: Any, now: datetime) -> dict[str, Any]:
    """What a live, idle runner said at its last heartbeat it is waiting for."""
    until = from_iso(c["waiting_until"]) if runner is not None else None
    if until is None or until <= now:
        return {}
    return {"waiting_until": until, "waiting_for": c["waiting_for"]}


def consent_state(store: Store, campaign_id: int) -> dict[str, Any]:
    """The campaign's purpose, what it needs, and its consent gate (``dialcli status``)."""
    row = store.one("SELECT purpose, consent_gate, consent_gate_changed_at, "
                    "consent_gate_changed_by FROM campaigns WHERE id = ?", (campaign_id,))
    assert row is not None
    purpose, gate, changed_at, changed_by = row
    return {"purpose": purpose, "needs": consent.NEEDS.get(purpose), "gate": gate,
            "gate_changed_at": changed_at, "gate_changed_by": changed_by,
            "warning": gate_off_text(changed_at, changed_by, sentence=True)
            if gate == "off" else None}
