"""Campaigns: which agent calls, from which number, when, and how often it retries.

This module owns a campaign's settings (create, edit, delete, show); the engine
owns its run state (status after DRAFT, pass, lease). Every setting is validated
before anything is written, then written in one ``BEGIN IMMEDIATE`` transaction
that re-reads what it depends on, so a failing command leaves the workspace as it
was and two terminals cannot both create "Spring".

Limits and why:

* calling window: ``rules.parse_window`` -- inside the federal 08:00-21:00
  (recipient-local) and start before end;
* retry interval: 1 minute to 7 days (10080 minutes) between passes;
* max attempts (passes per phone, the product doc's maxRetryAttemptsPerPhone): 1-10;
* max concurrent calls: 1-200; calls per second: above 0, at most 50 (Twilio
  queues calls above the account's CPS rather than rejecting them, so a too-high
  value only builds a queue);
* voicemail ``message`` needs a message: the campaign's own, else the agent's (the
  campaign's overrides the agent's). Checked on every create and edit.

While a campaign is RUNNING its agent and from-number cannot change (a runner
holds them for calls in flight): pause first; and until a paused campaign's runner
has finished its calls and released the lease. Other settings may change at any
time; the engine reads them again for the next dial or pass. A RUNNING campaign,
or one whose runner is still finishing, cannot be deleted. Deleting a campaign deletes its leads, calls, imports and
appointments; the workspace opt-out list and the audit log are kept, and campaign
ids are never reused, so kept audit rows cannot be mistaken for a new campaign's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialcli.workspace import agents as agents_mod
from dialcli.compliance import consent
from dialcli.compliance import policy as compliance
from dialcli.workspace import numbers as numbers_mod
from dialcli.workspace.agents import UNSET, clean_name, clean_text
from dialcli.clock import to_iso
from dialcli.compliance.rules import parse_window
from dialcli.compliance.disclosure import DisclosureWarning, check_agent, enforce
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.workspace.lease import live_runner
from dialcli.models import Agent, Campaign, CampaignStatus, LeadStatus, VoicemailAction
from dialcli.store import Store, audit

RETRY_INTERVAL_RANGE = (1, 7 * 24 * 60)
MAX_ATTEMPTS_RANGE = (1, 10)
MAX_CONCURRENT_RANGE = (1, 200)
MAX_CPS = 50.0
#: One new call every 1,000 s: slower pacing is a paused campaign (and 1/cps must fit a timer).
MIN_CPS = 0.001


# -- validation ---------------------------------------------------------------------

def _int_in(value: Any, lo: int, hi: int, *, option: str, what: str, unit: str = "") -> int:
    try:
        number = int(value)
        if isinstance(value, bool) or (isinstance(value, float) and number != value):
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"{option} {value!r} is not a whole number.") from None
    if not lo <= number <= hi:
        raise InputError(f"{option} {number} is out of range: {what} must be {lo}-{hi}{unit}.")
    return number


def clean_retry_interval(value: Any) -> int:
    return _int_in(value, *RETRY_INTERVAL_RANGE, option="--retry-interval",
                   what="the minutes between retry passes", unit=" (7 days)")


def clean_max_attempts(value: Any) -> int:
    return _int_in(value, *MAX_ATTEMPTS_RANGE, option="--max-attempts",
                   what="the number of passes per phone")


def clean_max_concurrent(value: Any) -> int:
    return _int_in(value, *MAX_CONCURRENT_RANGE, option="--max-concurrent",
                   what="the number of calls at once")


def clean_cps(value: Any) -> float:
    try:
        cps = float(value)
    except (TypeError, ValueError):
        raise InputError(f"--cps {value!r} is not a number.") from None
    if not math.isfinite(cps) or cps < MIN_CPS or cps > MAX_CPS:
        raise InputError(f"--cps {value} is out of range: calls per second must be at least "
                         f"{MIN_CPS:g} and at most {MAX_CPS:g}.",
                         hint="Twilio allows 1 call per second by default; e.g. --cps 1 or --cps 0.5.")
    return cps


def clean_voicemail(value: Any) -> VoicemailAction:
    try:
        return VoicemailAction(str(value).strip().lower())
    except ValueError:
        raise InputError(f"--voicemail {value!r} is not hangup or message.",
                         hint="--voicemail hangup leaves no message; --voicemail message plays "
                              "the voicemail message after the beep.") from None


def clean_window(value: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(value, tuple):
        value = f"{value[0]}-{value[1]}"
    return parse_window(value)


def _check_voicemail(action: VoicemailAction, campaign_message: str | None, agent: Agent) -> None:
    if action is VoicemailAction.MESSAGE and not campaign_message and not agent.voicemail_message:
        raise InputError(
            f"--voicemail message needs a message, but neither the campaign nor agent "
            f"{agent.name!r} has one.",
            hint=f"Add --voicemail-message TEXT, give the agent one (dialcli agent edit "
                 f"{agent.name!r} --voicemail-message TEXT), or use --voicemail hangup.",
        )


def disclosure_check(store: Store, agent: str | Agent, *, strict: bool = False,
                     record: bool = False) -> list[DisclosureWarning]:
    """The agent's disclosure warnings (caller identity, opt-out, and the recording
    notice when the campaign records); with ``strict`` a failing agent raises
    ``DisclosureError`` (exit 2). Call before writing."""
    rec = _resolve_agent(store, agent)
    return enforce(check_agent(rec.greeting, rec.system_prompt, record=record), strict=strict)


@dataclass(frozen=True)
class WindowWarning:
    message: str
    hint: str


def window_warnings(c: Campaign) -> list[WindowWarning]:
    """States whose own calling hours never meet the campaign's window: their leads
    would all be skipped with "no permitted calling time" (empty = fine)."""
    states = compliance.unreachable_states(c.window)
    if not states:
        return []
    listed = ", ".join(f"{state} {hours}" for state, hours in states)
    return [WindowWarning(
        f"Calling hours {c.window_start}-{c.window_end} never meet the hours these states "
        f"allow: {listed}. Leads there will be skipped, never dialed.",
        f"Widen the window (e.g. dialcli campaign edit {c.name!r} --window 09:00-20:00); "
        "`dialcli plan` shows each lead's next permitted time.",
    )]


def _resolve_agent(store: Store, agent: str | Agent) -> Agent:
    if isinstance(agent, Agent):
        return agents_mod.get_agent_by_id(store, agent.id)
    return agents_mod.get_agent(store, agent)


# -- queries ------------------------------------------------------------------------

CREATE_HINT = "Create one with: dialcli campaign create NAME --agent A --from +1..."


def get_campaign(store: Store, id_or_name: int | str) -> Campaign:
    """A campaign by id (int) or by name (str, case-insensitive)."""
    if isinstance(id_or_name, int) and not isinstance(id_or_name, bool):
        row = store.one("SELECT * FROM campaigns WHERE id = ?", (id_or_name,))
        if row is None:
            raise NotFoundError(f"No campaign with id {id_or_name}.")
        return Campaign.from_row(row)
    name = str(id_or_name or "").strip()
    row = store.one("SELECT * FROM campaigns WHERE name = ? COLLATE NOCASE", (name,))
    if row is None:
        names = [r[0] for r in store.all("SELECT name FROM campaigns ORDER BY name COLLATE NOCASE")]
        raise NotFoundError(
            f"No campaign named {name!r}.",
            hint=("Campaigns here: " + ", ".join(names)) if names else CREATE_HINT,
        )
    return Campaign.from_row(row)


def find_campaign(store: Store, name: str | None) -> Campaign:
    """A campaign by name, or the only campaign when the name is omitted (every
    command that takes a campaign argument)."""
    if name:
        return get_campaign(store, name)
    rows = store.all("SELECT * FROM campaigns ORDER BY name COLLATE NOCASE")
    if len(rows) == 1:
        return Campaign.from_row(rows[0])
    if not rows:
        raise InputError(f"This workspace ({store.path}) has no campaigns yet.", hint=CREATE_HINT)
    raise InputError(
        f"Which campaign? This workspace has {len(rows)}: "
        + ", ".join(r["name"] for r in rows) + ".",
        hint=f"Name it, e.g. --campaign {rows[0]['name']!r} (or as the first argument).")


def lead_counts(store: Store, campaign_id: int) -> dict[str, int]:
    """Leads by status, every status present (zeros included)."""
    counts = {s.value: 0 for s in LeadStatus}
    for status, n in store.all(
            "SELECT status, COUNT(*) FROM leads WHERE campaign_id = ? GROUP BY status",
            (campaign_id,)):
        counts[status] = n
    return counts


@dataclass(frozen=True)
class CampaignSummary:
    """A campaign with what list/show views need next to it."""

    campaign: Campaign
    agent: Agent
    leads: dict[str, int]
    calls: int = 0
    imports: int = 0
    number_label: str | None = None

    @property
    def total_leads(self) -> int:
        return sum(self.leads.values())

    @property
    def voicemail_message(self) -> str | None:
        """The message left on machines: the campaign's, else the agent's."""
        return self.campaign.voicemail_message or self.agent.voicemail_message

    def as_dict(self) -> dict[str, Any]:
        c = self.campaign
        data: dict[str, Any] = {
            "id": c.id, "name": c.name, "status": c.status.value,
            "agent": self.agent.name, "from_number": c.from_number, "from_label": self.number_label,
            "window": f"{c.window_start}-{c.window_end}",
            "retry_interval_minutes": c.retry_interval_minutes, "max_attempts": c.max_attempts,
            "voicemail": c.voicemail_action.value, "voicemail_message": c.voicemail_message,
            "effective_voicemail_message": (self.voicemail_message
                                            if c.voicemail_action is VoicemailAction.MESSAGE
                                            else None),
            "max_concurrent": c.max_concurrent, "cps": c.cps, "record": bool(c.record),
            "run": c.run, "pass": c.pass_no, "next_pass_at": c.next_pass_at,
            "created_at": c.created_at, "updated_at": c.updated_at,
            "completed_at": c.completed_at,
            "leads": {"total": self.total_leads, **self.leads},
            "calls": self.calls, "imports": self.imports,
            "purpose": c.purpose, "consent_needed": consent.NEEDS.get(c.purpose),
            "consent_gate": c.consent_gate, "consent_gate_changed_at": c.consent_gate_changed_at,
            "consent_gate_changed_by": c.consent_gate_changed_by,
        }
        return data


def list_campaigns(store: Store) -> list[CampaignSummary]:
    """Every campaign with its agent and lead counts (three queries, any size)."""
    with store.snapshot():
        campaigns = [Campaign.from_row(r) for r in store.all(
            "SELECT * FROM campaigns ORDER BY name COLLATE NOCASE")]
        agents = {a.id: a for a in agents_mod.list_agents(store)}
        counts: dict[int, dict[str, int]] = {c.id: {s.value: 0 for s in LeadStatus}
                                             for c in campaigns}
        for cid, status, n in store.all(
                "SELECT campaign_id, status, COUNT(*) FROM leads GROUP BY campaign_id, status"):
            if cid in counts:
                counts[cid][status] = n
    return [CampaignSummary(c, agents[c.agent_id], counts[c.id]) for c in campaigns]


def campaign_details(store: Store, id_or_name: int | str) -> CampaignSummary:
    with store.snapshot():
        c = get_campaign(store, id_or_name)
        return CampaignSummary(
            campaign=c,
            agent=agents_mod.get_agent_by_id(store, c.agent_id),
            leads=lead_counts(store, c.id),
            calls=store.scalar("SELECT COUNT(*) FROM calls WHERE campaign_id = ? AND run = ?",
                               (c.id, c.run)) or 0,
            imports=store.scalar("SELECT COUNT(*) FROM imports WHERE campaign_id = ?", (c.id,)) or 0,
            number_label=store.scalar("SELECT label FROM numbers WHERE e164 = ?", (c.from_number,)),
        )


# -- changes ------------------------------------------------------------------------

def _ensure_name_free(store: Store, name: str, *, except_id: int | None = None) -> None:
    row = store.one("SELECT id, name FROM campaigns WHERE name = ? COLLATE NOCASE", (name,))
    if row is not None and row[0] != except_id:
        raise InputError(f"A campaign named {row[1]!r} already exists.",
                         hint=f"Choose another name, or see it with: dialcli campaign show {row[1]!r}")


def create_campaign(store: Store, *, name: str, agent: str | Agent, from_number: str,
                    window: str | tuple[str, str] = "09:00-20:00", retry_interval: int = 60,
                    max_attempts: int = 3, voicemail: str | VoicemailAction = "hangup",
                    voicemail_message: str | None = None, max_concurrent: int = 5,
                    cps: float = 1.0, purpose: str, now: datetime) -> Campaign:
    """Validate and insert a DRAFT campaign; returns the stored record.

    ``purpose`` (telemarketing | informational) decides the consent every dial needs
    (``compliance.consent``): a new campaign must say it."""
    name = clean_name(name, what="campaign")
    purpose = consent.parse_purpose(purpose)
    start, end = clean_window(window)
    interval = clean_retry_interval(retry_interval)
    attempts = clean_max_attempts(max_attempts)
    action = clean_voicemail(voicemail)
    vm_text = clean_text(voicemail_message or "", field="voicemail message", required=False)
    concurrent = clean_max_concurrent(max_concurrent)
    rate = clean_cps(cps)
    stamp = to_iso(now)
    with store.tx():
        _ensure_name_free(store, name)
        agent_rec = _resolve_agent(store, agent)
        number = numbers_mod.require_dialable(store, from_number)
        _check_voicemail(action, vm_text, agent_rec)
        campaign_id = _next_campaign_id(store)
        store.execute(
            "INSERT INTO campaigns (id, name, agent_id, from_number, window_start, window_end, "
            "retry_interval_minutes, max_attempts, voicemail_action, voicemail_message, "
            "max_concurrent, cps, status, purpose, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (campaign_id, name, agent_rec.id, number.e164, start, end, interval, attempts,
             action.value, vm_text, concurrent, rate, CampaignStatus.DRAFT.value, purpose, stamp,
             stamp),
        )
    return get_campaign(store, campaign_id)


def _next_campaign_id(store: Store) -> int:
    """An id no campaign has ever had in this workspace.

    SQLite hands out max(id)+1, so deleting the newest campaign would let the next
    one inherit its id -- and with it the audit rows kept after the delete, so an
    audit export of the new campaign would show the old one's dial decisions. The
    audit index (campaign_id, ...) keeps the MAX cheap.
    """
    return 1 + (store.scalar(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM campaigns "
        "UNION ALL SELECT MAX(campaign_id) FROM audit)") or 0)


def edit_campaign(store: Store, id_or_name: int | str, *, name: str | None = None,
                  agent: str | Agent | None = None, from_number: str | None = None,
                  window: str | tuple[str, str] | None = None, retry_interval: int | None = None,
                  max_attempts: int | None = None, voicemail: str | VoicemailAction | None = None,
                  voicemail_message: Any = UNSET, max_concurrent: int | None = None,
                  cps: float | None = None, purpose: str | None = None,
                  consent_gate: str | None = None, i_have_consent_records: bool = False,
                  changed_by: str | None = None, now: datetime,
                  record: bool | None = None) -> Campaign:
    """Change only the given settings (``voicemail_message=""`` clears the campaign's own).

    The consent gate goes off only with ``i_have_consent_records`` too: the user says
    their consent records live elsewhere. Either change of the gate is written to the
    audit log with ``changed_by`` (who and where) and the time."""
    changes: dict[str, Any] = {}
    if purpose is not None:
        changes["purpose"] = consent.parse_purpose(purpose)
    if consent_gate is not None:
        gate = str(consent_gate).strip().lower()
        if gate not in ("on", "off"):
            raise InputError(f"--consent-gate is 'on' or 'off', not {consent_gate!r}.")
        if gate == "off" and not i_have_consent_records:
            raise InputError(
                "The consent gate stays on unless you say your consent records are elsewhere.",
                hint="An AI-voice call needs the called party's prior express consent (written "
                     "for telemarketing: 47 CFR 64.1200(a)(2)). Import them with `dialcli consent "
                     "import FILE`, or if you keep them in another system: --consent-gate off "
                     "--i-have-consent-records")
        changes["consent_gate"] = gate
        changes["consent_gate_changed_at"] = to_iso(now)
        changes["consent_gate_changed_by"] = changed_by
    if name is not None:
        changes["name"] = clean_name(name, what="campaign")
    if window is not None:
        changes["window_start"], changes["window_end"] = clean_window(window)
    if retry_interval is not None:
        changes["retry_interval_minutes"] = clean_retry_interval(retry_interval)
    if max_attempts is not None:
        changes["max_attempts"] = clean_max_attempts(max_attempts)
    if voicemail is not None:
        changes["voicemail_action"] = clean_voicemail(voicemail).value
    if voicemail_message is not UNSET:
        changes["voicemail_message"] = clean_text(voicemail_message or "", field="voicemail message",
                                                  required=False)
    if max_concurrent is not None:
        changes["max_concurrent"] = clean_max_concurrent(max_concurrent)
    if cps is not None:
        changes["cps"] = clean_cps(cps)
    if record is not None:
        changes["record"] = 1 if record else 0
    if not changes and agent is None and from_number is None:
        raise InputError("Nothing to change.",
                         hint="Give at least one setting, e.g. --window 10:00-19:00 or --agent NAME.")
    with store.tx():
        current = get_campaign(store, id_or_name)
        if agent is not None:
            agent_rec = _resolve_agent(store, agent)
            if agent_rec.id != current.agent_id:
                _ensure_idle(store, current, "change its agent", now)
                changes["agent_id"] = agent_rec.id
        else:
            agent_rec = agents_mod.get_agent_by_id(store, current.agent_id)
        if from_number is not None:
            number = numbers_mod.require_dialable(store, from_number)
            if number.e164 != current.from_number:
                _ensure_idle(store, current, "change its from-number", now)
                changes["from_number"] = number.e164
        if "name" in changes:
            _ensure_name_free(store, changes["name"], except_id=current.id)
        action = VoicemailAction(changes.get("voicemail_action", current.voicemail_action))
        message = changes.get("voicemail_message", current.voicemail_message)
        _check_voicemail(action, message, agent_rec)
        if changes:
            sets = ", ".join(f"{col} = ?" for col in changes)
            store.execute(f"UPDATE campaigns SET {sets}, updated_at = ? WHERE id = ?",
                          (*changes.values(), to_iso(now), current.id))
        if "consent_gate" in changes and changes["consent_gate"] != current.consent_gate:
            audit.record_decision(
                store.conn, ts=to_iso(now), campaign_id=current.id, lead_id=None, call_id=None,
                e164=None, decision=f"consent-gate-{changes['consent_gate']}",
                reason="the user keeps consent records elsewhere"
                if changes["consent_gate"] == "off" else "consent records required again",
                detail={"by": changed_by, "purpose": changes.get("purpose", current.purpose)})
    return get_campaign(store, current.id)


def check_deletable(store: Store, id_or_name: int | str, *,
                    now: datetime | None = None) -> CampaignSummary:
    """What deleting would remove; ``ConflictError`` if the campaign is running.

    Lets the CLI refuse before asking for confirmation; ``delete_campaign`` checks
    again inside its transaction.
    """
    details = campaign_details(store, id_or_name)
    _ensure_idle(store, details.campaign, "delete it", now)
    return details


def delete_campaign(store: Store, id_or_name: int | str, *,
                    now: datetime | None = None) -> dict[str, int]:
    """Delete a campaign that is not running, with its leads, calls and imports.

    ``now`` (wall clock) also refuses while a paused campaign's runner is still
    finishing its calls. Returns ``{"leads": n, "calls": n, "imports": n}``.
    """
    with store.tx():
        c = get_campaign(store, id_or_name)
        _ensure_idle(store, c, "delete it", now)
        deleted = {
            "leads": store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ?", (c.id,)),
            "calls": store.scalar("SELECT COUNT(*) FROM calls WHERE campaign_id = ?", (c.id,)),
            "imports": store.scalar("SELECT COUNT(*) FROM imports WHERE campaign_id = ?", (c.id,)),
        }
        # Lead ids are never handed out again (the audit trail and webhook receivers
        # still name these leads by them): see migration m008.
        store.execute(
            "INSERT INTO id_floor (name, max_id) SELECT 'leads', MAX(id) FROM leads "
            "WHERE campaign_id = ? GROUP BY campaign_id "
            "ON CONFLICT (name) DO UPDATE SET max_id = MAX(max_id, excluded.max_id)", (c.id,))
        # Children first, leads before imports: deleting an import would otherwise
        # null leads.import_id row by row through an unindexed column.
        for table in ("appointments", "calls", "leads", "imports"):
            store.execute(f"DELETE FROM {table} WHERE campaign_id = ?", (c.id,))
        # The report counters' triggers leave all-zero rows behind; drop them.
        store.execute("DELETE FROM call_stats WHERE campaign_id = ?", (c.id,))
        store.execute("DELETE FROM campaigns WHERE id = ?", (c.id,))
    return deleted


def _ensure_idle(store: Store, c: Campaign, action: str, now: datetime | None) -> None:
    """Refuse while the campaign runs -- or, just paused, its runner still holds the
    lease to finish calls in progress (their outcomes would land on deleted rows or
    name an agent that never spoke). ``now`` is wall time, as the lease's heartbeat."""
    if c.status is CampaignStatus.RUNNING:
        raise ConflictError(f"Campaign {c.name!r} is running; pause it before you {action}.",
                            hint=f"  dialcli pause {c.name!r}")
    runner = live_runner(store, c.id, now) if now is not None else None
    if runner is not None:
        raise ConflictError(
            f"Campaign {c.name!r} is paused but its runner ({runner.describe(now)}) is still "
            f"finishing calls in progress; wait for it to stop before you {action}.",
            hint=f"  dialcli status {c.name!r}",
        )
