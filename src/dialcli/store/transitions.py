"""Lead transitions: the one place that writes a lead's status.

Every change of a lead's status -- a claimed dial, a settled call, a retired phone, a
pass opened or exhausted, a claim undone, a restart, an opt-out that moves leads on --
is written here, inside the caller's transaction, together with what must commit with
it: the webhook outbox event (``outbox``) and, for decisions, the audit row
(``audit``). Which status comes next is decided by the pure rules of
``dialcli.outcomes``; this module only writes what they decided.

``hooks`` says whether anyone subscribes to lead events: the engine knows it (it
re-reads it when another process commits) and passes it in; other callers leave it
``None`` and it is looked up once per call.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from dialcli import outcomes
from dialcli.models import LeadStatus
from dialcli.store import outbox
from dialcli.store.audit import record_decision


def _hooks(conn: sqlite3.Connection, hooks: bool | None) -> bool:
    return bool(outbox.subscribers(conn)) if hooks is None else hooks


def _event(conn: sqlite3.Connection, hooks: bool | None, now_iso: str, lead_id: int,
           previous: str | None) -> None:
    if _hooks(conn, hooks):
        outbox.enqueue_lead_update(conn, now_iso=now_iso, lead_id=lead_id,
                                   previous_status=previous)


def _events(conn: sqlite3.Connection, hooks: bool | None, now_iso: str,
            changes: Iterable[tuple[int, str | None]]) -> None:
    if _hooks(conn, hooks):
        outbox.enqueue_lead_updates(conn, now_iso=now_iso, changes=changes)


def _cancel_appointments(conn: sqlite3.Connection, lead_id: int) -> None:
    conn.execute("UPDATE appointments SET status = 'canceled' WHERE lead_id = ? "
                 "AND status = 'open'", (lead_id,))


def group_of(conn: sqlite3.Connection, lead_id: int, slot: int | None) -> int | None:
    """The zone group a lead's phone is queued in (None: no such phone, or no slot)."""
    if slot is None:
        return None
    row = conn.execute("SELECT group_id FROM lead_phones WHERE lead_id = ? AND slot = ?",
                       (lead_id, slot)).fetchone()
    return row[0] if row else None


# -- a dial ----------------------------------------------------------------------------

def claim(conn: sqlite3.Connection, *, campaign_id: int, run: int, lead_id: int, slot: int,
          e164: str, from_number: str, pass_no: int, kind: str, provider: str, now_iso: str,
          zones: str, local_time: str | None, previous: str, detail: dict[str, Any],
          hooks: bool | None = None) -> int:
    """Record a dial before it is placed: the call row (UNIQUE per campaign, run, lead,
    slot, pass and kind: the database forbids a double dial), the lead DIALING, its
    event and the audit row with the evidence. Returns the call id."""
    call_id = conn.execute(
        "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
        "kind, provider, status, claimed_at, zone, local_time) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'claimed', ?, ?, ?)",
        (campaign_id, run, lead_id, slot, e164, from_number, pass_no, kind, provider, now_iso,
         zones, local_time),
    ).lastrowid
    conn.execute(
        "UPDATE leads SET status = 'DIALING', attempts = attempts + 1, last_call_at = ?, "
        "next_try_at = NULL, updated_at = ? WHERE id = ?", (now_iso, now_iso, lead_id))
    _event(conn, hooks, now_iso, lead_id, previous)
    record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id,
                    call_id=call_id, e164=e164, decision="dial", reason=kind, detail=detail)
    assert call_id is not None
    return call_id


def defer(conn: sqlite3.Connection, *, campaign_id: int, lead_id: int, e164: str | None,
          callback: bool, until_iso: str, now_iso: str, reason: str,
          detail: dict[str, Any] | None = None) -> None:
    """Not before ``until_iso`` (a frequency cap): the lead keeps its status."""
    field = "callback_at" if callback else "next_try_at"
    conn.execute(f"UPDATE leads SET {field} = ?, updated_at = ? WHERE id = ?",
                 (until_iso, now_iso, lead_id))
    record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id, call_id=None,
                    e164=e164, decision="defer", reason=reason, detail=detail)


def move_callback(conn: sqlite3.Connection, lead_id: int, due_iso: str) -> None:
    """A callback due while its number's window is closed waits for the window."""
    conn.execute("UPDATE leads SET callback_at = ? WHERE id = ?", (due_iso, lead_id))


def revert_claim(conn: sqlite3.Connection, *, call_id: int, now_iso: str, reason: str,
                 hooks: bool | None = None) -> bool:
    """Undo a claim that was never placed: the call row goes, the lead gets its turn
    back. False when there was nothing to undo (already settled or gone)."""
    row = conn.execute("SELECT lead_id, kind, campaign_id, e164 FROM calls WHERE id = ? "
                       "AND disposition IS NULL", (call_id,)).fetchone()
    if row is None:
        return False
    lead_id, kind, campaign_id, e164 = row
    conn.execute("DELETE FROM calls WHERE id = ?", (call_id,))
    # The next claim may be given this id again (max(id)+1): the undone dial's audit row
    # keeps its evidence but stops naming it, or it would read as the new call's.
    conn.execute("UPDATE audit SET call_id = NULL WHERE campaign_id = ? AND lead_id = ? "
                 "AND call_id = ?", (campaign_id, lead_id, call_id))
    back = "CALLBACK" if kind != "pass" else None
    moved = conn.execute(
        "UPDATE leads SET status = COALESCE(?, CASE WHEN attempts > 1 THEN 'RETRY' "
        "ELSE 'PENDING' END), attempts = MAX(attempts - 1, 0), updated_at = ? "
        "WHERE id = ? AND status = 'DIALING'", (back, now_iso, lead_id)).rowcount
    if moved:
        # Subscribers were told DIALING when it was claimed; tell them it is undone,
        # or their view of the lead stays DIALING until its next dial.
        _event(conn, hooks, now_iso, lead_id, "DIALING")
    record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id, call_id=None,
                    e164=e164, decision="unclaim", reason=reason)
    return True


def release_orphans(conn: sqlite3.Connection, *, campaign_id: int, now_iso: str,
                    hooks: bool | None = None) -> int:
    """Leads DIALING without an open call (a runner died between two writes): they get
    their turn back."""
    stray = ("campaign_id = ? AND status = 'DIALING' AND NOT EXISTS (SELECT 1 FROM calls "
             "WHERE calls.lead_id = leads.id AND calls.disposition IS NULL)")
    ids = [r[0] for r in conn.execute(f"SELECT id FROM leads WHERE {stray}", (campaign_id,))]
    if ids:
        conn.execute("UPDATE leads SET status = CASE WHEN attempts > 1 THEN 'RETRY' "
                     f"ELSE 'PENDING' END WHERE {stray}", (campaign_id,))
        _events(conn, hooks, now_iso, [(lead_id, "DIALING") for lead_id in ids])
    return len(ids)


# -- a settled call ---------------------------------------------------------------------

def settle(conn: sqlite3.Connection, *, lead_id: int, tr: outcomes.Transition,
           disposition: str, group: int | None, callback_at_iso: str | None,
           callback_slot: int | None, now_iso: str, hooks: bool | None = None) -> None:
    """A finished call's lead transition (decided by ``outcomes.next_state``)."""
    conn.execute(
        "UPDATE leads SET status = ?, last_disposition = ?, phone_slot = ?, cur_group = ?, "
        "pass_done = ?, reached_slot = COALESCE(?, reached_slot), callback_at = ?, "
        "callback_slot = ?, callback_attempts = ?, skip_reason = ?, updated_at = ? "
        "WHERE id = ?",
        (str(tr.status), disposition, tr.phone_slot, group, tr.pass_done, tr.reached_slot,
         callback_at_iso, callback_slot, tr.callback_attempts, tr.skip_reason, now_iso,
         lead_id))
    _event(conn, hooks, now_iso, lead_id, "DIALING")


def end(conn: sqlite3.Connection, *, campaign_id: int, lead_id: int, e164: str | None,
        previous: str, reason: str, now_iso: str, decision: str | None = "skip",
        detail: dict[str, Any] | None = None, hooks: bool | None = None) -> str:
    """The lead can never be dialed in this run (nothing dialable, texts that cannot be
    rendered): SKIPPED if it was never dialed, else EXHAUSTED. Returns the status."""
    final = "SKIPPED" if previous == "PENDING" else "EXHAUSTED"
    conn.execute("UPDATE leads SET status = ?, phone_slot = NULL, pass_done = 1, "
                 "callback_at = NULL, skip_reason = ?, updated_at = ? WHERE id = ?",
                 (final, reason, now_iso, lead_id))
    _cancel_appointments(conn, lead_id)
    if decision is not None:
        record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id,
                        call_id=None, e164=e164, decision=decision, reason=reason,
                        detail=detail)
    _event(conn, hooks, now_iso, lead_id, previous)
    return final


# -- retired phones ---------------------------------------------------------------------

def kill_phone(conn: sqlite3.Connection, lead_id: int, slot: int, reason: str) -> None:
    """This phone is never dialed again for this lead (the first reason is kept)."""
    conn.execute("UPDATE lead_phones SET dead_reason = ? WHERE lead_id = ? AND slot = ? "
                 "AND dead_reason IS NULL", (reason, lead_id, slot))


class Retired:
    """What retiring a phone did to its lead (for the engine's queue and dashboard)."""

    __slots__ = ("previous", "status", "phone_slot", "group", "pass_done", "name", "pass_no")

    def __init__(self, previous: LeadStatus, status: LeadStatus, phone_slot: int | None,
                 group: int | None, pass_done: int, name: str, pass_no: int):
        self.previous, self.status, self.phone_slot = previous, status, phone_slot
        self.group, self.pass_done, self.name, self.pass_no = group, pass_done, name, pass_no

    @property
    def requeued(self) -> bool:
        """The lead waits in this pass on its next phone."""
        return self.status in (LeadStatus.PENDING, LeadStatus.RETRY) and not self.pass_done


def retire_phone(conn: sqlite3.Connection, *, campaign_id: int, max_attempts: int,
                 lead_id: int, slot: int, reason: str, now_iso: str, decision: str,
                 callback: bool = False, already_dead: bool = False,
                 detail: dict[str, Any] | None = None,
                 hooks: bool | None = None) -> Retired | None:
    """A phone is undialable (opt-out list, unknown zone, a window that never opens):
    retire it with the reason, record the decision, and move the lead on to its next
    live phone (``outcomes.skip_phone``). A callback on it ends the lead."""
    lead = conn.execute(
        "SELECT status, pass_no, callback_attempts, name FROM leads WHERE id = ?",
        (lead_id,)).fetchone()
    if lead is None:
        return None
    if not already_dead:
        kill_phone(conn, lead_id, slot, reason)
    e164 = conn.execute("SELECT e164 FROM lead_phones WHERE lead_id = ? AND slot = ?",
                        (lead_id, slot)).fetchone()
    record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id, call_id=None,
                    e164=e164[0] if e164 else None, decision=decision, reason=reason,
                    detail=detail)
    prev = LeadStatus(lead["status"])
    name, pass_no = lead["name"] or "", lead["pass_no"]
    if callback:
        status = LeadStatus.EXHAUSTED if prev is not LeadStatus.OPTED_OUT else prev
        if reason == "on the opt-out list":
            status = LeadStatus.OPTED_OUT
        conn.execute("UPDATE leads SET status = ?, skip_reason = ?, callback_at = NULL, "
                     "updated_at = ? WHERE id = ?", (str(status), reason, now_iso, lead_id))
        _cancel_appointments(conn, lead_id)
        _event(conn, hooks, now_iso, lead_id, str(prev))
        return Retired(prev, status, None, None, 1, name, pass_no)
    live = tuple(r[0] for r in conn.execute(
        "SELECT slot FROM lead_phones WHERE lead_id = ? AND dead_reason IS NULL ORDER BY slot",
        (lead_id,)))
    view = outcomes.LeadView(prev, slot, pass_no, lead["callback_attempts"],
                             live + (slot,) if slot not in live else live)
    tr = outcomes.skip_phone(view, slot, max_attempts=max_attempts, reason=reason)
    group = group_of(conn, lead_id, tr.phone_slot)
    conn.execute(
        "UPDATE leads SET status = ?, phone_slot = ?, cur_group = ?, pass_done = ?, "
        "skip_reason = COALESCE(?, skip_reason), updated_at = ? WHERE id = ?",
        (str(tr.status), tr.phone_slot, group, tr.pass_done, tr.skip_reason, now_iso, lead_id))
    if tr.status is not prev:
        _event(conn, hooks, now_iso, lead_id, str(prev))
    return Retired(prev, tr.status, tr.phone_slot, group, tr.pass_done, name, pass_no)


def skip_opted_out(conn: sqlite3.Connection, lead_id: int, killed: dict[int, str],
                   now_iso: str, *, reason: str, callback_reason: str,
                   detail: dict[str, Any]) -> tuple[LeadStatus, LeadStatus] | None:
    """Numbers just put on the opt-out list (``killed``: slot -> e164, already retired)
    move one lead past them, in every campaign. Returns (before, after) when the lead
    moved; the caller sends the events of a batch at once.

    A lead the engine is dialing right now is left alone: its next dial re-checks."""
    lead = conn.execute(
        "SELECT l.campaign_id, l.status, l.phone_slot, l.pass_no, l.callback_attempts, "
        "l.callback_slot, c.max_attempts FROM leads l JOIN campaigns c ON c.id = l.campaign_id "
        "WHERE l.id = ?", (lead_id,)).fetchone()
    if lead is None:
        return None
    campaign_id, status, slot, pass_no, cb_attempts, cb_slot, max_attempts = lead
    status = LeadStatus(status)
    if status.terminal or status is LeadStatus.DIALING:
        return None
    if status is LeadStatus.CALLBACK:
        target = cb_slot or slot
        if target not in killed:
            return None
        conn.execute("UPDATE leads SET status = ?, skip_reason = ?, pass_done = 1, "
                     "updated_at = ? WHERE id = ?",
                     (LeadStatus.SKIPPED, callback_reason, now_iso, lead_id))
        _cancel_appointments(conn, lead_id)
        record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id,
                        call_id=None, e164=killed[target], decision="skip",
                        reason=callback_reason, detail=detail)
        return status, LeadStatus.SKIPPED
    if slot is not None and slot not in killed:
        return None       # its current phone is fine; later phones are skipped when reached
    live = tuple(r[0] for r in conn.execute(
        "SELECT slot FROM lead_phones WHERE lead_id = ? AND dead_reason IS NULL ORDER BY slot",
        (lead_id,)))
    if slot is None:
        if live:
            return None
        slot = min(killed)
    view = outcomes.LeadView(status, slot, pass_no, cb_attempts,
                             tuple(sorted(set(live) | {slot})))
    move = outcomes.skip_phone(view, slot, max_attempts=max_attempts, reason=reason)
    group = group_of(conn, lead_id, move.phone_slot)
    conn.execute(
        "UPDATE leads SET status = ?, phone_slot = ?, cur_group = ?, pass_done = ?, "
        "skip_reason = COALESCE(?, skip_reason), updated_at = ? WHERE id = ?",
        (move.status, move.phone_slot, group, move.pass_done, move.skip_reason, now_iso,
         lead_id))
    record_decision(conn, ts=now_iso, campaign_id=campaign_id, lead_id=lead_id, call_id=None,
                    e164=killed[slot], decision="skip", reason=move.skip_reason or reason,
                    detail={**detail, "next_slot": move.phone_slot, "status": str(move.status)})
    return status, LeadStatus(move.status)


def send_events(conn: sqlite3.Connection, now_iso: str,
                changes: Iterable[tuple[int, str | None]]) -> None:
    """The events of a batch of transitions made with ``skip_opted_out``."""
    _events(conn, None, now_iso, changes)


# -- passes -----------------------------------------------------------------------------

def requeue(conn: sqlite3.Connection, lead_id: int, slot: int, group: int, now_iso: str) -> None:
    """A lead in the pass with no queue group gets its next usable phone."""
    conn.execute("UPDATE leads SET phone_slot = ?, cur_group = ?, updated_at = ? "
                 "WHERE id = ?", (slot, group, now_iso, lead_id))


def open_pass(conn: sqlite3.Connection, *, campaign_id: int, pass_no: int, opens_iso: str,
              now_iso: str) -> None:
    """Pass ``pass_no`` opens at ``opens_iso`` for every lead waiting for a retry."""
    conn.execute(
        "UPDATE campaigns SET pass_no = ?, next_pass_at = ?, pass_started_at = ?, "
        "updated_at = ? WHERE id = ?", (pass_no, opens_iso, opens_iso, now_iso, campaign_id))
    conn.execute(
        "UPDATE leads SET pass_done = 0, pass_no = ? WHERE campaign_id = ? "
        "AND status = 'RETRY' AND pass_done = 1", (pass_no, campaign_id))


def exhaust(conn: sqlite3.Connection, *, campaign_id: int, reason: str, now_iso: str,
            hooks: bool | None = None) -> int:
    """The last pass is over: whoever still waits for a pass is EXHAUSTED."""
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM leads WHERE campaign_id = ? AND status = 'RETRY' AND pass_done = 1",
        (campaign_id,))]
    conn.execute(
        "UPDATE leads SET status = 'EXHAUSTED', skip_reason = ?, updated_at = ? "
        "WHERE campaign_id = ? AND status = 'RETRY' AND pass_done = 1",
        (reason, now_iso, campaign_id))
    _events(conn, hooks, now_iso, [(lead_id, "RETRY") for lead_id in ids])
    return len(ids)


def restart(conn: sqlite3.Connection, *, campaign_id: int, now_iso: str) -> dict[str, int]:
    """A new run: every lead back to PENDING at its first live phone (SKIPPED with none
    left), counters zeroed, open appointments canceled. Returns leads per status."""
    hooks = bool(outbox.subscribers(conn))
    before = {r[0]: r[1] for r in conn.execute(
        "SELECT id, status FROM leads WHERE campaign_id = ?", (campaign_id,))} if hooks else {}
    conn.execute("UPDATE appointments SET status = 'canceled' WHERE campaign_id = ? "
                 "AND status = 'open'", (campaign_id,))
    conn.execute(
        """
        UPDATE leads SET
            phone_slot = (SELECT MIN(slot) FROM lead_phones p
                          WHERE p.lead_id = leads.id AND p.dead_reason IS NULL),
            last_disposition = NULL, pass_no = 1, pass_done = 0, attempts = 0,
            next_try_at = NULL, callback_at = NULL, callback_slot = NULL,
            callback_attempts = 0, reached_slot = NULL, skip_reason = NULL,
            last_call_at = NULL, updated_at = ?
        WHERE campaign_id = ?
        """, (now_iso, campaign_id))
    conn.execute(
        """
        UPDATE leads SET
            cur_group = (SELECT group_id FROM lead_phones p
                         WHERE p.lead_id = leads.id AND p.slot = leads.phone_slot),
            status = CASE WHEN phone_slot IS NULL THEN 'SKIPPED' ELSE 'PENDING' END,
            skip_reason = CASE WHEN phone_slot IS NULL THEN 'no dialable phone' END
        WHERE campaign_id = ?
        """, (campaign_id,))
    if hooks:
        outbox.enqueue_lead_updates(conn, now_iso=now_iso, changes=list(before.items()))
    return dict(conn.execute(
        "SELECT status, COUNT(*) FROM leads WHERE campaign_id = ? GROUP BY status",
        (campaign_id,)).fetchall())
