"""``dialcli plan``: a dry run that explains, before the first call, when each number
may be dialed and why -- and estimates what the campaign will cost.

For every lead and phone it reports the next permitted instant (UTC and local in each
candidate zone), the zones and where they came from (the number's area code/exchange,
or the lead's ``timezone`` column), the rules applied (campaign window within the
federal limit, each state's rows, blackout dates), and why a number is later or never
dialed (opt-out list, consent, frequency cap, retired phone, unknown zone, no
permitted time). It uses exactly the objects the engine uses at dial time
(``policy_for_campaign``, the zone group's ``GroupWindow``, ``check_cap``, the opt-out
list, ``consent.check``), so the plan and the dial-time decision cannot disagree
about the rules.

The consent gate is checked as the claim checks it, at the instant the plan says
the number would be dialed: a number without the consent the campaign's purpose
needs is ``blocked`` with the gate's reason (the claim skips it there and the lead
moves on), and ``Plan.consent`` counts them. A campaign whose purpose is not set
cannot start: the plan says so with the fix instead of an estimate.

Categories: ``now`` (permitted at the plan instant), ``later_today`` (before the end
of the user's local day), ``later``, ``blocked`` (never, with the reason), ``done``
(the lead is finished). Lead totals use the lead's next phone in dialing order.

The estimate (calls, minutes, cost, reached, finish time) comes from a simulated run on
a virtual clock, in a throw-away workspace: the whole campaign when it is small, a
stratified sample of its leads at the campaign's pace when it is large, with an
interval beside each figure (``engine.estimate``). ``plan`` writes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

from dialcli import formats
from dialcli.compliance import consent, dnc
from dialcli.compliance.rules import Blackout
from dialcli.clock import from_iso, to_iso
from dialcli.engine.estimate import Estimate, simulate_estimate
from dialcli.compliance.policy import (CONSUMER_CAP_STATES, RULES_VERSION, cap_for_number,
                                      check_cap, check_consumer_cap, policy_for_campaign)
from dialcli.errors import NotFoundError
from dialcli.models import Campaign, LeadStatus
from dialcli.phones import STATE_ZONES, PhoneError, number_zone_origins
from dialcli.compliance.rules import states_of
from dialcli.compliance.consent import gate_off_text

UTC = timezone.utc
CATEGORIES = ("now", "later_today", "later", "blocked", "done")


@dataclass
class PhonePlan:
    lead_id: int
    row: int
    lead: str
    lead_status: str
    slot: int
    e164: str
    current: bool                     # the lead's next phone in dialing order
    category: str
    next_utc: datetime | None
    closes_utc: datetime | None
    next_local: dict[str, str]
    zones: list[str]
    zone_source: str
    region: str
    states: list[str]
    rules: list[str]
    reasons: list[str]
    cap_count: int | None
    cap_limit: int | None
    opt_out: bool
    consent: dict | None = None       # the gate's evidence at the planned dial (None: not checked)
    zone_origins: dict[str, str] = field(default_factory=dict)   # zone -> where it came from
    #: "number": the cap counts dials to this number; "consumer" (FL, OK, MD): dials to
    #: every number of the person (``cap_numbers``), as the claim counts them.
    cap_scope: str = "number"
    cap_numbers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["next_utc"] = to_iso(self.next_utc)
        d["closes_utc"] = to_iso(self.closes_utc)
        return d


@dataclass
class Plan:
    campaign: str
    campaign_status: str
    at: datetime
    rules_version: str
    policy: dict
    phones: list[PhonePlan]
    totals: dict[str, int]
    lead_totals: dict[str, int]
    estimate: Estimate | None = None
    notes: list[str] = field(default_factory=list)
    #: purpose, gate ('on'|'off'), required, numbers_blocked, leads_lacking (see build_plan)
    consent: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"campaign": self.campaign, "campaign_status": self.campaign_status,
                "at": to_iso(self.at), "rules_version": self.rules_version,
                "policy": self.policy, "totals": self.totals, "lead_totals": self.lead_totals,
                "consent": self.consent,
                "estimate": self.estimate.as_dict() if self.estimate else None,
                "notes": self.notes, "phones": [p.as_dict() for p in self.phones]}


def zone_origins(e164: str, zones: tuple[str, ...], lead_tz: str | None,
                 region: str) -> dict[str, str]:
    """{zone: where it came from} for one phone of a lead: the number (its exchange, its
    area code's span when the data lacks the exchange, an override row), the lead's
    ``timezone`` column, its ``state`` column (every zone of that state)."""
    try:
        own = number_zone_origins(e164)
    except PhoneError:
        own = {}
    out: dict[str, str] = {}
    for zone in zones:
        found = [own[zone]] if zone in own else []
        if lead_tz and zone == lead_tz:
            found.append("lead timezone column")
        found += [f"state column {st}" for st in states_of(region)
                  if zone not in own and zone in STATE_ZONES.get(st, ())]
        out[zone] = " + ".join(found) or "unknown"
    return out


def _zone_source(origins: dict[str, str]) -> str:
    """The origins in one line: 'number (exchange 212-555)' when they agree, else each
    origin with its zones: 'number (exchange 415-555) [America/Los_Angeles]; lead
    timezone column [America/New_York]'."""
    if not origins:
        return "unknown"
    by: dict[str, list[str]] = {}
    for zone, origin in origins.items():
        by.setdefault(origin, []).append(zone)
    if len(by) == 1:
        return next(iter(by))
    return "; ".join(f"{origin} [{', '.join(zs)}]" for origin, zs in by.items())


def _category(opens: datetime, at: datetime, day_end: datetime) -> str:
    if opens <= at:
        return "now"
    return "later_today" if opens < day_end else "later"


def build_plan(store, campaign_id: int, at: datetime, *, blackout: Blackout | None = None,
               local_tz: tzinfo = UTC, estimate: bool = True, seed: int = 0) -> Plan:
    """The dry-run plan of ``campaign_id`` as of ``at`` (reads only)."""
    row = store.one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
    if row is None:
        raise NotFoundError(f"Campaign {campaign_id} does not exist.")
    campaign = Campaign.from_row(row)
    conn = store.conn
    policy = policy_for_campaign(conn, campaign, blackout=blackout)
    local_now = at.astimezone(local_tz)
    day_end = datetime.combine(local_now.date() + timedelta(days=1), datetime.min.time(),
                               tzinfo=local_tz).astimezone(UTC)
    next_pass = from_iso(campaign.next_pass_at)
    phones: list[PhonePlan] = []
    lead_cat: dict[int, str] = {}
    with store.snapshot():
        leads = conn.execute(
            "SELECT id, row_number, name, status, phone_slot, pass_done, next_try_at, "
            "callback_at, callback_slot, timezone, skip_reason FROM leads "
            "WHERE campaign_id = ? ORDER BY row_number, id", (campaign_id,)).fetchall()
        phone_rows: dict[int, list] = {}
        for r in conn.execute(
                "SELECT lp.lead_id, lp.slot, lp.e164, lp.zones, lp.region, lp.dead_reason, "
                "g.zones AS gz, g.region AS gr FROM lead_phones lp "
                "JOIN leads l ON l.id = lp.lead_id "
                "LEFT JOIN zone_groups g ON g.id = lp.group_id "
                "WHERE l.campaign_id = ? ORDER BY lp.lead_id, lp.slot", (campaign_id,)):
            phone_rows.setdefault(r["lead_id"], []).append(r)
        for lead in leads:
            status = LeadStatus(lead["status"])
            rows = phone_rows.get(lead["id"], [])
            current = lead["callback_slot"] if status is LeadStatus.CALLBACK else lead["phone_slot"]
            if not rows:
                lead_cat[lead["id"]] = "done" if status.terminal else "blocked"
                continue
            mine = [_plan_phone(conn, policy, campaign, lead, status, p, at, day_end, next_pass,
                                current) for p in rows]
            phones.extend(mine)
            lead_cat[lead["id"]] = _lead_category(mine, current, status)
    totals = {c: sum(1 for p in phones if p.category == c) for c in CATEGORIES}
    lead_totals = {c: sum(1 for v in lead_cat.values() if v == c) for c in CATEGORIES}
    plan = Plan(campaign.name, str(campaign.status), at, RULES_VERSION, policy.describe(),
                phones, totals, lead_totals)
    plan.consent = _consent_summary(store, campaign, phones, at)
    if campaign.status == "COMPLETED":
        plan.notes.append("The campaign is COMPLETED: `dialcli restart` re-runs every lead.")
    plan.notes.extend(_consent_notes(campaign, plan.consent))
    if estimate:
        plan.estimate = simulate_estimate(store, campaign_id, at, seed=seed, blackout=blackout)
    return plan


def _state_stop(p: PhonePlan) -> dict | None:
    """The state artificial-voice rule that blocks ``p``, if one does."""
    if p.category != "blocked" or not p.consent or not p.consent.get("blocked"):
        return None
    return (p.consent.get("state_rules") or {}).get("stopped_by")


def _consent_summary(store, campaign: Campaign, phones: list[PhonePlan], at: datetime) -> dict:
    blocked = sum(1 for p in phones if p.category == "blocked" and p.consent is not None
                  and p.consent.get("blocked") and _state_stop(p) is None)
    # Numbers a state's artificial-voice law keeps from an AI agent, by rule.
    state_skips: dict[str, int] = {}
    for p in phones:
        stop = _state_stop(p)
        if stop is not None:
            key = (f"{stop['state']} {stop['rule'].replace('_', ' ')}"
                   + (f" ({stop['consent']} consent)" if stop.get("consent") else "")
                   + f": {stop['statute'].split(' (', 1)[0]}, confidence {stop['confidence']}")
            state_skips[key] = state_skips.get(key, 0) + 1
    lacking = None
    if campaign.purpose in consent.PURPOSES:
        lacking = consent.lacking(store.conn, campaign.id, campaign.purpose, to_iso(at))
    return {"purpose": campaign.purpose, "gate": campaign.consent_gate,
            "gate_changed_at": campaign.consent_gate_changed_at,
            "gate_changed_by": campaign.consent_gate_changed_by,
            "needs": consent.NEEDS.get(campaign.purpose), "numbers_blocked": blocked,
            "leads_lacking": lacking, "state_skips": state_skips}


def _consent_notes(campaign: Campaign, summary: dict) -> list[str]:
    """The plain words under the plan's totals about the consent gate."""
    if campaign.purpose not in consent.PURPOSES:
        message, fix = consent.unset_purpose(campaign.name)
        return [f"{message} No number can be dialed (start refuses it). Set it:\n{fix}"]
    notes = []
    if campaign.consent_gate == "off":
        notes.append(gate_off_text(campaign.consent_gate_changed_at,
                                   campaign.consent_gate_changed_by, sentence=True)
                     + (f" ({formats.count(summary['leads_lacking'])} waiting lead(s) have none)."
                        if summary["leads_lacking"] else "."))
    elif summary["numbers_blocked"]:
        notes.append(f"{formats.count(summary['numbers_blocked'])} number(s) blocked: no {campaign.purpose} "
                     f"consent on record ({summary['needs']}); {formats.count(summary['leads_lacking'])} "
                     "waiting lead(s) have no number with it. Add the records: "
                     "dialcli consent import FILE")
    skips = summary.get("state_skips") or {}
    if skips:
        notes.append(f"{formats.count(sum(skips.values()))} number(s) skipped by state artificial-voice "
                     f"laws for {campaign.purpose} calls (an AI voice is an artificial voice): "
                     + "; ".join(f"{k}: {formats.count(v)}" for k, v in sorted(skips.items())))
    return notes


def _plan_phone(conn, policy, campaign, lead, status, p, at, day_end, next_pass,
                current) -> PhonePlan:
    zones = tuple(z for z in (p["gz"] if p["gz"] is not None else p["zones"]).split(",") if z)
    region = p["gr"] if p["gr"] is not None else (p["region"] or "")
    group = policy.window_for(zones, region)
    e164 = p["e164"]
    opt_out = dnc.is_opted_out(conn, e164)
    origins = zone_origins(e164, zones, lead["timezone"], region)
    base = dict(lead_id=lead["id"], row=lead["row_number"], lead=lead["name"] or "",
                lead_status=str(status), slot=p["slot"], e164=e164,
                current=p["slot"] == current, zones=list(zones),
                zone_source=_zone_source(origins), zone_origins=origins, region=region,
                states=list(group.states), rules=[r.text for r in group.rules],
                opt_out=opt_out)
    cap_limit = cap_for_number(conn, e164)    # what the engine applies at dial time
    if status.terminal:
        why = f"lead {status}" + (f": {lead['skip_reason']}" if lead["skip_reason"] else "")
        return PhonePlan(category="done", next_utc=None, closes_utc=None, next_local={},
                         reasons=[why], cap_count=None, cap_limit=cap_limit, **base)
    blocked = None
    if p["dead_reason"]:
        blocked = f"phone retired: {p['dead_reason']}"
    elif opt_out:
        blocked = dnc.DNC_REASON
    elif group.reason_closed:
        blocked = group.reason_closed
    elif status is LeadStatus.CALLBACK and p["slot"] != current:
        blocked = "not the callback number (the callback is on phone %s)" % current
    if blocked:
        return PhonePlan(category="blocked", next_utc=None, closes_utc=None, next_local={},
                         reasons=[blocked], cap_count=None, cap_limit=cap_limit, **base)
    count, not_before = check_cap(conn, e164, at, limit=cap_limit)
    earliest, reasons = at, []
    if not_before is not None:
        earliest = not_before
        reasons.append(f"frequency cap: {count} dial(s) in the last 24 h (limit {cap_limit}) "
                       f"until {to_iso(not_before)}")
    consumer_states = sorted(CONSUMER_CAP_STATES.intersection(group.states))
    if not_before is None and consumer_states:
        # As the claim counts it: the state caps calls to the person, whatever number.
        count, not_before, numbers = check_consumer_cap(conn, lead["id"], at, limit=cap_limit)
        base["cap_scope"] = "consumer"
        base["cap_numbers"] = numbers
        if not_before is not None:
            earliest = not_before
            reasons.append(
                f"frequency cap per consumer ({', '.join(consumer_states)} law counts calls to "
                f"the person whatever number is dialed): {count} dial(s) to the lead's "
                f"{len(numbers)} number(s) in the last 24 h (limit {cap_limit}) until "
                f"{to_iso(not_before)}")
    if status is LeadStatus.DIALING and p["slot"] == current:
        reasons.append("a call to this lead is in progress")
    waits = []
    if p["slot"] == current:
        if status is LeadStatus.CALLBACK and lead["callback_at"]:
            waits.append(("callback due", from_iso(lead["callback_at"])))
        elif lead["next_try_at"]:
            waits.append(("lead deferred", from_iso(lead["next_try_at"])))
    if status is not LeadStatus.CALLBACK and next_pass is not None and (
            lead["pass_done"] or status is LeadStatus.RETRY):
        waits.append(("next retry pass opens", next_pass))
    for label, when in waits:
        if when is not None and when > earliest:
            earliest = when
            reasons.append(f"{label} at {to_iso(when)}")
    opens = group.next_open(earliest)
    if opens is None:
        return PhonePlan(category="blocked", next_utc=None, closes_utc=None, next_local={},
                         reasons=[group.never_reason] + [
                             r for r in group.explain(earliest) if r != group.never_reason],
                         cap_count=count, cap_limit=cap_limit,
                         **base)
    # The claim's gate, at the instant the claim would run it.
    gate = consent.check(conn, e164, purpose=campaign.purpose,
                         gate_on=campaign.consent_gate == "on", at_iso=to_iso(opens[0]))
    evidence = gate.evidence() | {"blocked": not gate.ok}
    if not gate.ok:
        return PhonePlan(category="blocked", next_utc=None, closes_utc=None, next_local={},
                         reasons=[gate.reason or "no consent"], cap_count=count,
                         cap_limit=cap_limit, consent=evidence, **base)
    if opens[0] > earliest:
        reasons.extend(group.explain(earliest))
    return PhonePlan(consent=evidence, category=_category(opens[0], at, day_end), next_utc=opens[0],
                     closes_utc=opens[1], next_local=group.local_times(opens[0]),
                     reasons=reasons, cap_count=count, cap_limit=cap_limit, **base)


def _lead_category(rows: list[PhonePlan], current: int | None, status: LeadStatus) -> str:
    if status.terminal:
        return "done"
    order = sorted(rows, key=lambda p: (current is not None and p.slot < current, p.slot))
    for p in order:
        if p.category != "blocked":
            return p.category
    return "blocked"


# -- the estimate: ``engine.estimate`` (played whole, or from a stratified sample) ------
