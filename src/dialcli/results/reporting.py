"""A campaign's results as plain data: KPIs, dispositions, the lead table, cost.

Nothing here prints; ``cli/report.py`` renders these records and ``--json`` dumps
``Report.as_dict()``. The live dashboard and ``dialcli status`` reuse
``campaign_kpis``.

**Speed.** Call figures never scan ``calls``: they are sums over ``call_stats``, a
table of counters per (campaign, run, UTC day, disposition) of finished calls that
triggers keep equal to an aggregate over ``calls`` in the same transaction as every
call change (``m004_results``, ``m005_call_stats_finished_only``); calls in flight
are counted from the ``calls_open`` partial index. Lead counts by status come from
the ``leads_status`` index (the one figure that grows with the campaign: about
50 ms per million leads). The lead table reads one page of leads before joining
their phones; the default order is a rowid scan that stops after the page, the
other orders read the leads table once (about 0.3 s per million leads).

**Definitions.**
- *Calls made*: every dial of the run, including ones still in flight.
- *Reached*: finished calls whose disposition is a reach (anything but NO_ANSWER,
  FAILED, VOICEMAIL, WRONG_NUMBER; a COMPLETED call with <= 1 caller turn was already
  labelled NO_ANSWER by the engine). *Reach rate* = reached / finished calls.
  *Leads reached* = leads now REACHED, OPTED_OUT or CALLBACK.
- *Average talk time*: mean duration of the reached calls (voicemail and no-answer
  calls have no talk).
- *Cost* per call: the provider's final ``price`` when ``price_final = 1``, otherwise
  billed minutes x ``rate_per_minute`` (default 0.014 $/min when unset -- the report
  says so). Estimates follow the current rate, so changing the rate re-prices them.
- *Days* are UTC dates of the call's end (``ended_at``), which is how Twilio dates
  usage and invoices; the trend shows the 30 days ending today (or ending on the last
  call's day when a simulated campaign ran ahead of the wall clock), zeros included.
- *Runs*: ``restart`` starts a new run; figures are for the current run unless
  ``all_runs``. Lead statuses are always the current ones.
- *Consent* of a lead: the best live (not revoked) record of the phone that reached
  it, else of its current phone, else of the phone its last call dialed (a lead whose
  numbers are all used up was still dialed on the consent of one of them) -- written
  before express, then the newest, as the
  gate picks it (``compliance.consent``); "none" when there is no record. The KPIs
  carry the campaign's purpose and consent gate, and ``gate_off_text`` says, in the
  words every command uses, that the user turned the gate off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Iterable

from dialcli.store import settings
from dialcli.compliance.consent import gate_off_text
from dialcli.store.outbox import CONSENT_ORDER, CONSENT_PHONE
from dialcli.errors import InputError, NotFoundError
from dialcli.models import Disposition, LeadStatus, NOT_REACHED
from dialcli.store import Store

TREND_DAYS = 30
REACHED_LEAD_STATUSES = (LeadStatus.REACHED, LeadStatus.OPTED_OUT, LeadStatus.CALLBACK)
_REACHED_DISPOSITIONS = tuple(d.value for d in Disposition if d not in NOT_REACHED)

#: --sort name -> ORDER BY (ties broken by import order).
SORTS: dict[str, str] = {
    "row": "l.id",
    "name": "l.name COLLATE NOCASE, l.id",
    "status": "l.status, l.id",
    "attempts": "l.attempts DESC, l.id",
    "last-call": "l.last_call_at IS NULL, l.last_call_at DESC, l.id",
    "callback": "l.callback_at IS NULL, l.callback_at, l.id",
    "pass": "l.pass_no DESC, l.id",
}


@dataclass(frozen=True)
class Kpis:
    campaign_id: int
    campaign: str
    status: str
    run: int | None                 # None = all runs
    current_run: int
    calls_made: int
    calls_finished: int
    in_flight: int
    reached: int
    interested: int
    opted_out: int
    callbacks: int
    reach_rate: float | None
    avg_talk_s: float | None
    billed_minutes: int
    cost: float
    cost_final: float               # part of ``cost`` that is the provider's real price
    cost_estimated: float           # part of ``cost`` that is minutes x rate
    rate: float
    rate_is_default: bool
    dispositions: dict[str, int]
    leads_total: int
    leads_by_status: dict[str, int]
    leads_reached: int
    current_pass: int
    max_passes: int
    next_pass_at: str | None
    purpose: str = "unspecified"
    consent_gate: str = "on"
    consent_gate_changed_at: str | None = None
    consent_gate_changed_by: str | None = None

    @property
    def gate_off(self) -> str | None:
        """The warning when the user turned the consent gate off (None when on)."""
        if self.consent_gate != "off":
            return None
        return gate_off_text(self.consent_gate_changed_at, self.consent_gate_changed_by,
                             sentence=True)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DayCost:
    day: date
    calls: int
    billed_minutes: int
    cost: float


@dataclass(frozen=True)
class CostReport:
    rate: float
    rate_is_default: bool
    billed_minutes: int
    cost: float
    cost_final: float
    cost_estimated: float
    priced_calls: int               # calls with the provider's final price
    days: list[DayCost]             # oldest first, one per day, zeros included
    first_day: date
    last_day: date
    other_runs_cost: float | None   # cost of earlier runs when showing one run
    other_runs_minutes: int | None

    @property
    def trend_cost(self) -> float:
        return sum(d.cost for d in self.days)

    @property
    def trend_minutes(self) -> int:
        return sum(d.billed_minutes for d in self.days)


@dataclass(frozen=True)
class LeadRow:
    id: int
    row_number: int
    name: str
    status: str
    last_disposition: str | None
    phone_slot: int | None
    phone: str | None
    pass_no: int
    attempts: int
    last_call_at: str | None
    callback_at: str | None
    consent_type: str | None = None     # written | express | None (no live record)
    consent_at: str | None = None
    consent_source: str | None = None
    #: The recipient's IANA zone (the lead's override, else its current phone's; an
    #: area code spanning two zones gives both, comma-separated): its times are shown in it.
    zone: str | None = None

    @property
    def consent(self) -> str:
        """'written 2026-01-02', 'express 2025-11-30' or 'none'."""
        return f"{self.consent_type} {self.consent_at[:10]}" if self.consent_type and \
            self.consent_at else "none"


@dataclass(frozen=True)
class Report:
    kpis: Kpis
    cost: CostReport
    leads: list[LeadRow]
    leads_matching: int
    status_filter: tuple[str, ...]
    sort: str
    limit: int | None

    def as_dict(self) -> dict[str, Any]:
        cost = asdict(self.cost)
        cost["days"] = [{"day": d.day.isoformat(), "calls": d.calls,
                         "billed_minutes": d.billed_minutes, "cost": round(d.cost, 6)}
                        for d in self.cost.days]
        cost["first_day"] = self.cost.first_day.isoformat()
        cost["last_day"] = self.cost.last_day.isoformat()
        return {
            "kpis": self.kpis.as_dict(),
            "cost": cost,
            "leads": {"matching": self.leads_matching, "status": list(self.status_filter),
                      "sort": self.sort, "limit": self.limit,
                      "rows": [asdict(r) for r in self.leads]},
        }


# -- helpers ---------------------------------------------------------------------------

#: The consent of each lead (see the module docstring): three columns, from the phone
#: that reached it, else its current one, else its last call's; the index
#: ``consent_live`` finds each.
LEAD_CONSENT_COLUMNS = tuple(
    f"(SELECT {col} FROM consent WHERE e164 = {CONSENT_PHONE} "
    f"AND revoked_at IS NULL ORDER BY {CONSENT_ORDER} LIMIT 1)"
    for col in ("kind", "consented_at", "source"))


def _campaign(store: Store, campaign_id: int):
    row = store.one("SELECT id, name, status, run, pass_no, max_attempts, next_pass_at, purpose, "
                    "consent_gate, consent_gate_changed_at, consent_gate_changed_by "
                    "FROM campaigns WHERE id = ?", (campaign_id,))
    if row is None:
        raise NotFoundError(f"Campaign {campaign_id} does not exist.")
    return row


def _run_filter(all_runs: bool, run: int) -> tuple[str, tuple]:
    return ("", ()) if all_runs else (" AND run = ?", (run,))


def _money(micros: int) -> float:
    return micros / 1_000_000


def parse_statuses(values: Iterable[str] | None) -> tuple[str, ...]:
    """``--status`` values (repeatable or comma-separated, any case) -> LeadStatus names."""
    chosen: list[str] = []
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip().upper().replace("-", "_")
            if not part:
                continue
            if part not in LeadStatus.__members__:
                raise InputError(
                    f"Unknown lead status {part!r}.",
                    hint="Choose from: " + ", ".join(s.value for s in LeadStatus))
            if part not in chosen:
                chosen.append(part)
    return tuple(chosen)


def parse_sort(value: str | None) -> str:
    key = (value or "row").strip().lower().replace("_", "-")
    if key not in SORTS:
        raise InputError(f"Unknown sort {value!r}.", hint="Choose from: " + ", ".join(SORTS))
    return key


# -- figures ---------------------------------------------------------------------------

def lead_counts(store: Store, campaign_id: int) -> dict[str, int]:
    """Leads by status, every status present (zeros included), in lifecycle order."""
    # One range count per status on leads_status: a third cheaper than GROUP BY,
    # which compares every entry's status with the previous one.
    return {s.value: int(store.scalar(
        "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status = ?",
        (campaign_id, s.value))) for s in LeadStatus}


def campaign_kpis(store: Store, campaign_id: int, *, all_runs: bool = False) -> Kpis:
    """The KPI cards, disposition breakdown and lead counts of a campaign."""
    with store.snapshot():
        c = _campaign(store, campaign_id)
        where, params = _run_filter(all_runs, c["run"])
        rows = store.all(
            "SELECT disposition, SUM(calls), SUM(talk_s), SUM(billed_minutes), "
            "SUM(est_minutes), SUM(price_micros) FROM call_stats WHERE campaign_id = ?"
            f"{where} GROUP BY disposition", (campaign_id, *params))
        # Calls in flight are few; the calls_open partial index holds exactly them.
        in_flight = store.scalar(
            "SELECT COUNT(*) FROM calls INDEXED BY calls_open "
            "WHERE campaign_id = ? AND disposition IS NULL"
            f"{where}", (campaign_id, *params))
        leads = lead_counts(store, campaign_id)
        rate, rate_default = settings.rate_per_minute(store)
    by_disp = {d.value: 0 for d in Disposition}
    minutes = est_minutes = micros = talk_reached = 0
    for disp, n, talk, billed, est, price in rows:
        minutes += billed
        est_minutes += est
        micros += price
        by_disp[disp] = by_disp.get(disp, 0) + n
        if disp in _REACHED_DISPOSITIONS:
            talk_reached += talk
    finished = sum(by_disp.values())
    reached = sum(n for d, n in by_disp.items() if d in _REACHED_DISPOSITIONS)
    cost_final = _money(micros)
    cost_est = est_minutes * rate
    return Kpis(
        campaign_id=campaign_id, campaign=c["name"], status=c["status"],
        run=None if all_runs else c["run"], current_run=c["run"],
        calls_made=finished + in_flight, calls_finished=finished, in_flight=in_flight,
        reached=reached, interested=by_disp.get(Disposition.INTERESTED.value, 0),
        opted_out=by_disp.get(Disposition.OPT_OUT.value, 0),
        callbacks=by_disp.get(Disposition.CALLBACK.value, 0),
        reach_rate=(reached / finished) if finished else None,
        avg_talk_s=(talk_reached / reached) if reached else None,
        billed_minutes=minutes, cost=cost_final + cost_est, cost_final=cost_final,
        cost_estimated=cost_est, rate=rate, rate_is_default=rate_default,
        dispositions=by_disp, leads_total=sum(leads.values()), leads_by_status=leads,
        leads_reached=sum(leads.get(s.value, 0) for s in REACHED_LEAD_STATUSES),
        current_pass=c["pass_no"], max_passes=c["max_attempts"], next_pass_at=c["next_pass_at"],
        purpose=c["purpose"], consent_gate=c["consent_gate"],
        consent_gate_changed_at=c["consent_gate_changed_at"],
        consent_gate_changed_by=c["consent_gate_changed_by"],
    )


def cost_report(store: Store, campaign_id: int, *, today: date, all_runs: bool = False,
                days: int = TREND_DAYS) -> CostReport:
    """Billed minutes and cost, in total and per UTC day for the ``days`` ending today."""
    if not 1 <= days <= 366:
        raise InputError(f"--days {days} is out of range; use 1 to 366.")
    with store.snapshot():
        c = _campaign(store, campaign_id)
        rows = store.all(
            "SELECT run, day, SUM(calls), SUM(billed_minutes), SUM(est_minutes), "
            "SUM(price_micros), SUM(priced_calls) FROM call_stats WHERE campaign_id = ? "
            "GROUP BY run, day", (campaign_id,))
        rate, rate_default = settings.rate_per_minute(store)
    mine = [r for r in rows if all_runs or r[0] == c["run"]]
    others = [r for r in rows if not all_runs and r[0] != c["run"]]
    last_call_day = max((r[1] for r in mine if r[1]), default=None)
    last = today
    if last_call_day is not None and date.fromisoformat(last_call_day) > today:
        last = date.fromisoformat(last_call_day)
    first = last - timedelta(days=days - 1)
    per_day: dict[str, list[float]] = {}
    minutes = est = micros = priced = 0
    for _run, day, n, billed, est_m, price, n_priced in mine:
        minutes += billed
        est += est_m
        micros += price
        priced += n_priced
        if day:
            acc = per_day.setdefault(day, [0, 0, 0.0])
            acc[0] += n
            acc[1] += billed
            acc[2] += _money(price) + est_m * rate
    series = []
    for k in range(days):
        day = first + timedelta(days=k)
        n, billed, cost = per_day.get(day.isoformat(), (0, 0, 0.0))
        series.append(DayCost(day, int(n), int(billed), float(cost)))
    other_cost = other_minutes = None
    if others:
        other_minutes = sum(r[3] for r in others)
        other_cost = sum(_money(r[5]) + r[4] * rate for r in others)
    final = _money(micros)
    return CostReport(rate=rate, rate_is_default=rate_default, billed_minutes=minutes,
                      cost=final + est * rate, cost_final=final, cost_estimated=est * rate,
                      priced_calls=priced, days=series, first_day=first, last_day=last,
                      other_runs_cost=other_cost, other_runs_minutes=other_minutes)


def lead_rows(store: Store, campaign_id: int, *, status: Iterable[str] = (), sort: str = "row",
              limit: int | None = 50, offset: int = 0) -> list[LeadRow]:
    """One page of the lead table: status, last disposition, current phone, pass, consent."""
    statuses = parse_statuses(status)
    order = SORTS[parse_sort(sort)]
    # Without a status filter, read the table in rowid order (the unary + keeps SQLite
    # off the campaign_id indexes): the import order then stops after one page, and
    # other orders scan the table once instead of fetching a million rows in phone1
    # index order (random I/O, 15x slower). With a filter, leads_status finds them.
    where = "l.campaign_id = ?" if statuses else "+l.campaign_id = ?"
    params: list[Any] = [campaign_id]
    if statuses:
        where += f" AND l.status IN ({','.join('?' * len(statuses))})"
        params.extend(statuses)
    page = ""
    if limit is not None:
        page = " LIMIT ? OFFSET ?"
        params.extend([limit, offset])
    # Page first, then join the phones of that page only.
    rows = store.all(
        "SELECT l.id, l.row_number, l.name, l.status, l.last_disposition, l.phone_slot, "
        "p.e164, l.pass_no, l.attempts, l.last_call_at, l.callback_at, "
        + ", ".join(LEAD_CONSENT_COLUMNS) + ", COALESCE(l.timezone, (SELECT NULLIF(zones, '') "
        "FROM zone_groups WHERE id = l.cur_group)) FROM ("
        "SELECT l.id, l.row_number, l.name, l.status, l.last_disposition, l.phone_slot, "
        "l.reached_slot, l.pass_no, l.attempts, l.last_call_at, l.callback_at, l.timezone, "
        "l.cur_group FROM leads l "
        f"WHERE {where} ORDER BY {order}{page}) l "
        "LEFT JOIN lead_phones p ON p.lead_id = l.id AND p.slot = l.phone_slot "
        f"ORDER BY {order}", params)
    return [LeadRow(*r) for r in rows]


def campaign_report(store: Store, campaign_id: int, *, today: date, all_runs: bool = False,
                    status: Iterable[str] = (), sort: str = "row", limit: int | None = 50,
                    days: int = TREND_DAYS) -> Report:
    """Everything ``dialcli report`` shows, as data."""
    statuses = parse_statuses(status)
    sort = parse_sort(sort)
    if limit is not None and limit < 0:
        raise InputError("--limit must be 0 (all leads) or a positive number.")
    limit = None if limit == 0 else limit
    with store.snapshot():
        kpis = campaign_kpis(store, campaign_id, all_runs=all_runs)
        cost = cost_report(store, campaign_id, today=today, all_runs=all_runs, days=days)
        leads = lead_rows(store, campaign_id, status=statuses, sort=sort, limit=limit)
    matching = (sum(kpis.leads_by_status.get(s, 0) for s in statuses) if statuses
                else kpis.leads_total)
    return Report(kpis=kpis, cost=cost, leads=leads, leads_matching=matching,
                  status_filter=statuses, sort=sort, limit=limit)


__all__ = [
    "Kpis", "DayCost", "CostReport", "LeadRow", "Report", "SORTS", "TREND_DAYS",
    "LEAD_CONSENT_COLUMNS", "gate_off_text", "campaign_kpis", "cost_report", "lead_rows",
    "lead_counts", "campaign_report", "parse_statuses", "parse_sort",
]
