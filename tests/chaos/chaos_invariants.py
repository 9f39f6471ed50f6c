"""The reliability invariants, written once and checked after every chaos run.

Each check reads the workspace (a real SQLite file) and an *outside* record of what
happened -- the phone network's own list of placements (the simulator's journal, or
the fake Twilio's created calls) and the webhook receiver's list of accepted events --
and returns human-readable violations (an empty list means the run was clean):

- **no double dial**: no attempt (campaign, run, lead, phone slot, pass, kind) was
  placed on the network twice;
- **nothing lost**: every placement on the network has exactly one call row, with its
  provider id, and every call row with a provider id was placed;
- **every call reconciled**: each call row is settled (disposition set, final status)
  and agrees with the network's record (status, talk seconds, billed minutes);
- **every lead final** and the campaign completed, its runner lease released;
- **opt-out before the next dial**: after an OPT_OUT call, all of that lead's numbers
  are on the opt-out list and none of them is dialed again;
- **webhooks at least once, in order**: every outbox event was accepted by the
  receiver with the same body and a valid signature; per lead, first acceptances
  follow the order the events were recorded in; each lead's events form an unbroken
  chain of status changes (previous_status of one = status of the one before)
  ending at the lead's current status;
- **counters match the call log**: ``reporting.campaign_kpis``, ``lifecycle.snapshot``
  and the ``call_stats`` table equal aggregates computed directly from ``calls``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from dialcli.engine import lifecycle

from dialcli.results import reporting

from dialcli.store import settings
from dialcli.clock import SystemClock
from dialcli.models import Disposition, NOT_REACHED
from dialcli.store import Store

FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
ACTIVE = ("PENDING", "RETRY", "DIALING", "CALLBACK")
_TWIML_ID = re.compile(r"/twiml/(\d+)")


@dataclass(frozen=True)
class Placement:
    """One call the network really placed (its own record, not dialcli's)."""

    sid: str
    attempt: str                 # attempt key (simulator) or "call <id>" (Twilio: TwiML URL)
    call_id: int | None
    status: str
    duration_s: int | None
    billed: int | None


def sim_placements(db: Path | str) -> list[Placement]:
    """The simulated network's journal (torn last lines from a kill are skipped)."""
    path = Path(str(db) + "-simnet.jsonl")
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        out.append(Placement(e["sid"], e["key"], e.get("call_id"), e["status"],
                             e.get("duration_s"), e.get("billed_minutes")))
    return out


def fake_placements(fake: Any) -> list[Placement]:
    """The fake Twilio's created calls; the attempt is the call id in the TwiML URL."""
    out = []
    for c in list(fake.calls.values()):
        m = _TWIML_ID.search(c.p("Url") or "")
        call_id = int(m.group(1)) if m else None
        billed = math.ceil((c.duration or 0) / 60) if c.status == "completed" else None
        out.append(Placement(c.sid, f"call {call_id}", call_id, c.status, c.duration, billed))
    return out


@dataclass
class Check:
    violations: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        if len(self.violations) < 200:          # enough to debug, not a flood
            self.violations.append(what)
        else:
            self.figures["more_violations"] = self.figures.get("more_violations", 0) + 1

    @property
    def count(self) -> int:
        return len(self.violations) + self.figures.get("more_violations", 0)


def check_all(db: Path | str, placements: list[Placement], *, campaign_ids: Iterable[int],
              receiver: Any = None, subscription_id: int | None = None,
              provider: str = "simulator", kills: int | None = None) -> Check:
    """Every invariant for the campaigns of one chaos run.

    ``kills``: how many times a group-committing simulated runner was SIGKILLed. Such
    a runner commits a batch of simulated calls and *then* the simulated network
    appends them to its journal; a kill between the two leaves settled call rows the
    journal lacks (never a placement the workspace lacks: that would be a lost call).
    Each kill may leave one such batch -- one contiguous run of call ids. ``None``:
    every call row must be in the network's record.
    """
    out = Check()
    store = Store(db)
    try:
        _dials(store, placements, out, provider, kills)
        for cid in campaign_ids:
            _leads_final(store, cid, out)
            _counters(store, cid, out)
        _opt_outs(store, out)
        _consent(store, out)
        _call_stats(store, out)
        if receiver is not None:
            _webhooks(store, receiver, subscription_id, out)
        out.figures["calls"] = store.scalar("SELECT COUNT(*) FROM calls")
        out.figures["placements"] = len(placements)
    finally:
        store.close()
    return out


# -- dials -----------------------------------------------------------------------------------

def attempt_key(row) -> str:
    return (f"{row['campaign_id']}:{row['run']}:{row['lead_id']}:{row['slot']}:"
            f"{row['pass_no']}:{row['kind']}")


def _dials(store: Store, placements: list[Placement], out: Check, provider: str,
           kills: int | None = None) -> None:
    for attempt, n in Counter(p.attempt for p in placements).items():
        if n > 1:
            out.fail(f"double dial: attempt {attempt} was placed {n} times")
    rows = [dict(r) for r in store.all("SELECT * FROM calls WHERE provider = ?", (provider,))]
    by_sid: dict[str, dict] = {}
    for r in rows:
        if r["provider_sid"] is None:
            continue
        if r["provider_sid"] in by_sid:
            out.fail(f"call rows {by_sid[r['provider_sid']]['id']} and {r['id']} share "
                     f"provider id {r['provider_sid']}")
        by_sid[r["provider_sid"]] = r
    placed = {p.sid: p for p in placements}
    placed_ids = {p.call_id for p in placements if p.call_id is not None}
    for p in placements:
        r = by_sid.get(p.sid)
        if r is None:
            out.fail(f"lost: {p.attempt} ({p.sid}) was placed but no call row records it")
            continue
        if provider == "simulator" and attempt_key(r) != p.attempt:
            out.fail(f"call row {r['id']} ({attempt_key(r)}) holds the placement of {p.attempt}")
        if provider != "simulator" and p.call_id != r["id"]:
            out.fail(f"call row {r['id']} adopted {p.sid}, placed for call {p.call_id}")
    unjournaled: list[int] = []
    for r in rows:
        if r["disposition"] is None or r["status"] not in FINAL:
            out.fail(f"unsettled: call {r['id']} ({attempt_key(r)}) status={r['status']} "
                     f"disposition={r['disposition']}")
        sid = r["provider_sid"]
        if sid is None:
            if provider == "simulator":
                out.fail(f"call {r['id']} has no provider id")
            elif r["status"] != "failed" or r["id"] in placed_ids:
                out.fail(f"call {r['id']} has no provider id but status {r['status']}"
                         + (" and the network placed it" if r["id"] in placed_ids else ""))
            continue
        p = placed.get(sid)
        if p is None:
            if kills is None:
                out.fail(f"call {r['id']} records {sid}, which the network never placed")
            else:
                unjournaled.append(r["id"])
            continue
        if r["status"] != p.status:
            out.fail(f"call {r['id']}: status {r['status']} but the network says {p.status}")
        if p.duration_s is not None and (r["duration_s"] or 0) != p.duration_s:
            out.fail(f"call {r['id']}: {r['duration_s']} s but the network says {p.duration_s} s")
        if p.billed is not None and (r["billed_minutes"] or 0) != p.billed:
            out.fail(f"call {r['id']}: {r['billed_minutes']} billed min but the network says "
                     f"{p.billed}")
    if unjournaled:
        position = {r["id"]: i for i, r in enumerate(sorted(rows, key=lambda r: r["id"]))}
        at = sorted(position[i] for i in unjournaled)
        batches = 1 + sum(b != a + 1 for a, b in zip(at, at[1:]))
        out.figures["unjournaled_calls"] = len(unjournaled)
        if batches > (kills or 0):
            out.fail(f"{len(unjournaled)} call rows the network never placed, in {batches} "
                     f"runs of call ids; {kills} kill(s) can explain at most {kills} (first: "
                     f"call {min(unjournaled)})")


# -- leads -----------------------------------------------------------------------------------

def _leads_final(store: Store, cid: int, out: Check) -> None:
    c = store.one("SELECT name, status, lease_owner FROM campaigns WHERE id = ?", (cid,))
    if c["status"] != "COMPLETED":
        out.fail(f"campaign {c['name']} is {c['status']}, not COMPLETED")
    if c["lease_owner"] is not None:
        out.fail(f"campaign {c['name']} still holds a runner lease")
    for status, n in store.all(
            f"SELECT status, COUNT(*) FROM leads WHERE campaign_id = ? AND status IN "
            f"({','.join('?' * len(ACTIVE))}) GROUP BY status", (cid, *ACTIVE)):
        out.fail(f"campaign {c['name']}: {n} lead(s) still {status}")


def _opt_outs(store: Store, out: Check) -> None:
    dnc = {r[0] for r in store.all("SELECT e164 FROM dnc")}
    for call in store.all("SELECT id, lead_id, ended_at, provider FROM calls "
                          "WHERE disposition = 'OPT_OUT'"):
        numbers = [r[0] for r in store.all("SELECT e164 FROM lead_phones WHERE lead_id = ?",
                                           (call["lead_id"],))]
        for e164 in numbers:
            if e164 not in dnc:
                out.fail(f"opt-out call {call['id']}: {e164} is not on the opt-out list")
            later = store.all(
                "SELECT id FROM calls WHERE e164 = ? AND provider = ? AND claimed_at > ?",
                (e164, call["provider"], call["ended_at"]))
            for r in later:
                out.fail(f"{e164} opted out on call {call['id']} but was dialed again (call {r[0]})")


def _consent(store: Store, out: Check) -> None:
    """No call without the consent its campaign's purpose required when it was claimed.

    The dial's audit row names the record it relied on: it must be of the needed kind,
    for that number, given before the claim, and not revoked by an opt-out committed
    before the claim. Commit order is audit order: an opt-out typed in another terminal
    is stamped with the wall clock while a simulated run stamps virtual time, so the
    two clocks cannot be compared."""
    bad = 0
    for r in store.all(
            "SELECT c.id, c.e164, c.claimed_at, k.purpose, a.id AS audit_id, a.detail "
            "FROM calls c JOIN campaigns k ON k.id = c.campaign_id "
            "JOIN audit a ON a.call_id = c.id AND a.decision = 'dial' "
            "WHERE k.consent_gate = 'on'"):
        evidence = json.loads(r["detail"] or "{}").get("consent") or {}
        record = store.one("SELECT * FROM consent WHERE id = ?", (evidence.get("record"),))
        why = None
        if record is None:
            why = "no consent record named in its audit row"
        elif record["e164"] != r["e164"] or record["consented_at"] > r["claimed_at"]:
            why = f"record {record['id']} is not a consent of this number before the claim"
        elif r["purpose"] == "telemarketing" and record["kind"] != "written":
            why = f"record {record['id']} is {record['kind']}, telemarketing needs written"
        elif record["revoked_at"] is not None and store.scalar(
                "SELECT 1 FROM audit WHERE decision = 'dnc-add' AND e164 = ? AND id < ? "
                "AND ts >= ?", (r["e164"], r["audit_id"], record["consented_at"])):
            why = f"record {record['id']} was revoked by an opt-out committed before the claim"
        if why:
            bad += 1
            out.fail(f"call {r['id']} to {r['e164']} ({r['purpose']}): {why}")
    unaudited = store.scalar(
        "SELECT COUNT(*) FROM calls c JOIN campaigns k ON k.id = c.campaign_id "
        "WHERE k.consent_gate = 'on' AND NOT EXISTS (SELECT 1 FROM audit a "
        "WHERE a.call_id = c.id AND a.decision = 'dial')")
    if unaudited:
        out.fail(f"{unaudited} call(s) without the audit row of their dial")
    out.figures["calls_without_consent"] = bad


# -- counters --------------------------------------------------------------------------------

def _aggregate(store: Store, cid: int, run: int) -> dict[str, Any]:
    rate, _ = settings.rate_per_minute(store)
    rows = store.all("SELECT disposition, billed_minutes, price, price_final, duration_s "
                     "FROM calls WHERE campaign_id = ? AND run = ?", (cid, run))
    disp: Counter[str] = Counter()
    billed = 0
    cost = 0.0
    open_ = 0
    for d, b, price, final, _dur in rows:
        if d is None:
            open_ += 1
        else:
            disp[d] += 1
        billed += b or 0
        cost += (price or 0.0) if final == 1 else (b or 0) * rate
    return {"made": len(rows), "open": open_, "disp": disp, "billed": billed, "cost": cost}


def _counters(store: Store, cid: int, out: Check) -> None:
    run = store.scalar("SELECT run FROM campaigns WHERE id = ?", (cid,))
    agg = _aggregate(store, cid, run)
    kpis = reporting.campaign_kpis(store, cid)
    reached = sum(n for d, n in agg["disp"].items() if Disposition(d) not in NOT_REACHED)
    want = {"calls_made": agg["made"], "calls_finished": agg["made"] - agg["open"],
            "in_flight": agg["open"], "billed_minutes": agg["billed"], "reached": reached,
            "interested": agg["disp"]["INTERESTED"], "opted_out": agg["disp"]["OPT_OUT"],
            "callbacks": agg["disp"]["CALLBACK"]}
    for name, value in want.items():
        if getattr(kpis, name) != value:
            out.fail(f"report KPI {name} = {getattr(kpis, name)}, call log says {value}")
    got = {k: v for k, v in kpis.dispositions.items() if v}
    if got != dict(agg["disp"]):
        out.fail(f"report dispositions {got} != call log {dict(agg['disp'])}")
    if abs(kpis.cost - agg["cost"]) > 1e-6:
        out.fail(f"report cost {kpis.cost:.6f} != call log {agg['cost']:.6f}")
    leads = dict(store.all("SELECT status, COUNT(*) FROM leads WHERE campaign_id = ? "
                           "GROUP BY status", (cid,)))
    if {k: v for k, v in kpis.leads_by_status.items() if v} != leads:
        out.fail(f"report lead counts {kpis.leads_by_status} != leads table {leads}")
    snap = lifecycle.snapshot(store, cid, SystemClock().now())
    for name, value in (("calls_made", agg["made"] - agg["open"]), ("in_flight", agg["open"]),
                        ("minutes", agg["billed"]), ("reached", reached),
                        ("opted_out", agg["disp"]["OPT_OUT"])):
        if getattr(snap, name) != value:
            out.fail(f"status {name} = {getattr(snap, name)}, call log says {value}")
    if snap.dispositions != dict(agg["disp"]):
        out.fail(f"status dispositions {snap.dispositions} != call log {dict(agg['disp'])}")
    if abs(snap.cost - round(agg["cost"], 4)) > 1e-4:
        out.fail(f"status cost {snap.cost} != call log {agg['cost']:.4f}")


def _call_stats(store: Store, out: Check) -> None:
    direct = {tuple(r[:4]): tuple(r[4:]) for r in store.all(
        "SELECT campaign_id, run, COALESCE(substr(ended_at, 1, 10), ''), disposition, COUNT(*), "
        "SUM(COALESCE(duration_s, 0)), SUM(COALESCE(billed_minutes, 0)), "
        "SUM(price_final = 1), SUM(CASE WHEN price_final = 1 THEN "
        "CAST(ROUND(COALESCE(price, 0) * 1000000) AS INTEGER) ELSE 0 END) "
        "FROM calls WHERE disposition IS NOT NULL GROUP BY 1, 2, 3, 4")}
    kept = {tuple(r[:4]): tuple(r[4:]) for r in store.all(
        "SELECT campaign_id, run, day, disposition, calls, talk_s, billed_minutes, "
        "priced_calls, price_micros FROM call_stats WHERE calls != 0")}
    if direct != kept:
        diff = sorted(set(direct.items()) ^ set(kept.items()))[:5]
        out.fail(f"call_stats counters differ from the calls table: {diff}")


# -- webhooks --------------------------------------------------------------------------------

def _webhooks(store: Store, receiver: Any, subscription_id: int | None, out: Check) -> None:
    where = "" if subscription_id is None else f" WHERE subscription_id = {int(subscription_id)}"
    events = [dict(r) for r in store.all(
        "SELECT id, event_id, lead_id, payload, delivered_at, dead_at FROM outbox"
        f"{where} ORDER BY id")]
    for problem in receiver.bad:
        out.fail(f"receiver rejected a request: {problem}")
    accepted: dict[str, list[dict]] = defaultdict(list)
    first_order: dict[int, list[str]] = defaultdict(list)
    for a in list(receiver.accepted):
        if not accepted[a["id"]]:
            first_order[a["lead"]].append(a["id"])
        accepted[a["id"]].append(a)
    position = {e["event_id"]: e["id"] for e in events}
    for e in events:
        got = accepted.get(e["event_id"])
        if not got:
            state = "dead-lettered" if e["dead_at"] else (
                "marked delivered" if e["delivered_at"] else "still queued")
            out.fail(f"webhook {e['event_id']} (lead {e['lead_id']}) never accepted ({state})")
            continue
        if e["dead_at"] is not None:
            out.fail(f"webhook {e['event_id']} accepted but dead-lettered")
        if e["delivered_at"] is None:
            out.fail(f"webhook {e['event_id']} accepted but still queued")
        if any(json.loads(a["raw"]) != json.loads(e["payload"]) for a in got):
            out.fail(f"webhook {e['event_id']}: the body received differs from the outbox")
    unknown = set(accepted) - set(position)
    for event_id in sorted(unknown)[:5]:
        out.fail(f"receiver accepted {event_id}, which is not in the outbox")
    for lead, ids in first_order.items():
        order = [position[i] for i in ids if i in position]
        if order != sorted(order):
            out.fail(f"lead {lead}: webhooks arrived out of order ({order[:8]}...)")
    chains: dict[int, list[dict]] = defaultdict(list)
    for e in events:
        chains[e["lead_id"]].append(json.loads(e["payload"])["lead"])
    current = dict(store.all("SELECT id, status FROM leads"))
    for lead, status in store.all("SELECT id, status FROM leads WHERE attempts > 0 "
                                  "OR status NOT IN ('PENDING', 'SKIPPED')"):
        if lead not in chains:
            out.fail(f"lead {lead} is {status} but no webhook event was ever recorded for it")
    for lead, chain in chains.items():
        if chain[0]["previous_status"] not in ("PENDING", None):
            out.fail(f"lead {lead}: first event starts from {chain[0]['previous_status']}")
        for before, after in zip(chain, chain[1:]):
            if after["previous_status"] != before["status"]:
                out.fail(f"lead {lead}: a status change is missing between events "
                         f"({before['previous_status']}->{before['status']} then "
                         f"{after['previous_status']}->{after['status']})")
                break
        if chain[-1]["status"] != current.get(lead):
            out.fail(f"lead {lead} is {current.get(lead)} but its last event says "
                     f"{chain[-1]['status']}")
    out.figures["events"] = len(events)
    out.figures["events_accepted"] = len(set(accepted) & set(position))
    out.figures["receiver_duplicates"] = receiver.duplicates()
