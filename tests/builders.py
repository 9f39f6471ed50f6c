"""Workspaces and campaigns for tests: the one place tests build what they run on.

What a user could have made goes through the product's own functions: agents,
numbers and campaigns through ``dialcli.workspace``, a CSV through the importer,
a webhook subscription through ``dialcli.results.webhooks``. What only running a
campaign produces (a lead REACHED on its second phone, a call billed at 4 minutes,
a campaign in its second run) is written with plain SQL, as the engine would have
written it, so a test can start from any state and check figures worked out by hand.

    store = workspace(tmp_path)                    # an open, migrated Store
    cid = campaign(store, leads=[{"phones": ["+12125550100"]}], max_attempts=1)
    cid = campaign(store, "Other", csv="name,phone1\\nAlex,+14155550101\\n")
    call_id = add_call(store, cid, lead_id, disposition="NO_ANSWER")

Lead specs (``campaign(leads=...)``, ``add_leads``) are dicts; only ``phones`` is
required. A phone is a string (parsed as a user's number: zones and region from the
number, or from the lead's ``timezone``) or ``(e164, "Zone/A,Zone/B")`` to pin its
zones (region US). Other keys, all optional: ``name``, ``row``, ``email``, ``vars``,
``timezone``, ``state`` (adds ``US-<state>`` to the region), ``dead`` ({slot: reason}),
``status``, ``slot`` (the current phone; None for none), ``pass_no``, ``pass_done``,
``attempts``, ``last_disposition``, ``reached_slot``, ``callback_at``,
``callback_slot``, ``last_call_at``, ``next_try_at``, ``import_id``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from dialcli.clock import VirtualClock, to_iso
from dialcli.compliance import policy as compliance
from dialcli.conversation.base import EndCall
from dialcli.engine.batch import Transactions
from dialcli.engine.claim import Claimer
from dialcli.engine.progress import Progress
from dialcli.engine.queue import DialQueue
from dialcli.engine.settle import Settler
from dialcli.engine.types import InFlight, RunState
from dialcli.models import CallStatus, Campaign
from dialcli.providers.base import CallEvent, CallState, DialRequest, EventKind, Provider
from dialcli.compliance import consent as consent_mod
from dialcli.leads.importer import ImportSummary
from dialcli.leads.importer import import_csv as _import_csv
from dialcli.phones import PhoneParser, group_zones
from dialcli.results import webhooks
from dialcli.store import Store
from dialcli.workspace import agents, campaigns, numbers

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)     # a Tuesday, 10:00 in New York
NOW_ISO = to_iso(NOW)
FROM = "+14155550100"
GREETING = "Hi {{NAME}}, this is Zara from Acme. Press 9 to opt out."
PROMPT = "You are Zara from Acme. If asked to stop calling, label OPT_OUT."
VOICEMAIL = "Please call us back, {{NAME}}."
SECRET = "whsec_test_0123456789abcdefghijklmnop"


def workspace(path: str | Path) -> Store:
    """An open, migrated workspace: ``path`` is the database file, or a folder to put
    ``dialcli.db`` in (``workspace(tmp_path)``). Close it, or use it in ``with``."""
    path = Path(path)
    return Store(path / "dialcli.db" if path.is_dir() else path)


def agent(store: Store, name: str = "Zara", *, greeting: str = GREETING, prompt: str = PROMPT,
          voicemail_message: str | None = VOICEMAIL, **kw: Any) -> int:
    """The agent ``name``, created if the workspace has none of that name; its id."""
    found = store.scalar("SELECT id FROM agents WHERE name = ? COLLATE NOCASE", (name,))
    if found is not None:
        return int(found)
    return agents.create_agent(store, name=name, greeting=greeting, prompt=prompt,
                               voicemail_message=voicemail_message, now=NOW, **kw).id


def number(store: Store, e164: str = FROM, *, label: str | None = None) -> str:
    """The from-number ``e164``, added if missing."""
    if store.scalar("SELECT 1 FROM numbers WHERE e164 = ?", (e164,)) is None:
        numbers.add_number(store, e164, label=label, now=NOW)
    return e164


def campaign(store: Store, name: str = "Spring", *, agent_name: str = "Zara",
             from_number: str = FROM, leads: Iterable[dict] | None = None,
             csv: str | Path | None = None, window: tuple[str, str] = ("09:00", "20:00"),
             retry: int = 60, max_attempts: int = 3, voicemail: str = "hangup",
             voicemail_message: str | None = None, max_concurrent: int = 5, cps: float = 1.0,
             greeting: str = GREETING, prompt: str = PROMPT, status: str | None = None,
             run: int | None = None, pass_no: int | None = None,
             purpose: str = "informational", consent: str | None = "express") -> int:
    """A campaign (its agent and from-number made if missing) with ``leads`` (specs, see
    the module docstring) or ``csv`` (CSV text or a file, through the importer); its id.

    ``status``, ``run`` and ``pass_no`` set what only running the campaign would.
    ``purpose`` and ``consent`` (the kind of record each lead's phones get, None for
    none) make the leads dialable through the consent gate unless a test says otherwise."""
    agent(store, agent_name, greeting=greeting, prompt=prompt)
    number(store, from_number)
    cid = campaigns.create_campaign(
        store, name=name, agent=agent_name, from_number=from_number, window=window,
        retry_interval=retry, max_attempts=max_attempts, voicemail=voicemail,
        voicemail_message=voicemail_message, max_concurrent=max_concurrent, cps=cps,
        purpose=purpose, now=NOW).id
    state = {"status": status, "run": run, "pass_no": pass_no}
    state = {k: v for k, v in state.items() if v is not None}
    if state:
        with store.tx():
            store.execute(f"UPDATE campaigns SET {', '.join(f'{k} = ?' for k in state)} "
                          "WHERE id = ?", (*state.values(), cid))
    if leads is not None:
        add_leads(store, cid, [{"consent": consent, **spec} for spec in leads])
    if csv is not None:
        import_csv(store, cid, csv)
        if consent:
            consent_all(store, cid, consent)
    return cid


#: Long before any test's clock: a consent given then counts at every dial.
CONSENTED_AT = "2000-01-01T00:00:00.000Z"


def consent_mix(store: Store, campaign_id: int, rng, *, written: float = 0.7,
                express: float = 0.15) -> dict[str, int]:
    """Each phone of the campaign's leads gets a written record, an express one or none,
    at random in these shares (a list as users have it: mostly consented, not all)."""
    counts = {"written": 0, "express": 0, "none": 0}
    with store.tx() as conn:
        rows = conn.execute("SELECT p.lead_id, p.e164 FROM lead_phones p JOIN leads l "
                            "ON l.id = p.lead_id WHERE l.campaign_id = ? ORDER BY p.lead_id, "
                            "p.slot", (campaign_id,)).fetchall()
        for lead_id, e164 in rows:
            roll = rng.random()
            kind = "written" if roll < written else "express" if roll < written + express else None
            counts[kind or "none"] += 1
            if kind:
                consent_mod.record(conn, e164=e164, kind=kind, consented_at=CONSENTED_AT,
                                   source="test fixture", origin="builders", now_iso=NOW_ISO,
                                   lead_id=lead_id)
    return counts


def consent_all(store: Store, campaign_id: int, kind: str = "express") -> int:
    """A consent record of ``kind`` for every phone of the campaign's leads."""
    with store.tx() as conn:
        rows = conn.execute("SELECT p.lead_id, p.e164 FROM lead_phones p JOIN leads l "
                            "ON l.id = p.lead_id WHERE l.campaign_id = ?", (campaign_id,)).fetchall()
        return sum(consent_mod.record(conn, e164=e164, kind=kind, consented_at=CONSENTED_AT,
                                      source="test fixture", origin="builders", now_iso=NOW_ISO,
                                      lead_id=lead_id) for lead_id, e164 in rows)


def import_csv(store: Store, campaign_id: int, csv: str | Path, **kw: Any) -> ImportSummary:
    """Import ``csv`` (text, written beside the workspace, or a file) the way
    ``dialcli import`` does, in this process."""
    if isinstance(csv, str):
        path = Path(store.path).with_name(f"leads-{campaign_id}.csv")
        path.write_text(csv, encoding="utf-8")
    else:
        path = Path(csv)
    kw.setdefault("workers", 0)
    kw.setdefault("now", NOW)
    return _import_csv(store, path, campaign_id=campaign_id, **kw)


def _group(store: Store, zones: Sequence[str], region: str) -> int:
    key = ",".join(zones)
    store.execute("INSERT OR IGNORE INTO zone_groups (zones, region) VALUES (?, ?)", (key, region))
    return store.scalar("SELECT id FROM zone_groups WHERE zones = ? AND region = ?", (key, region))


_LEAD_FIELDS = ("pass_done", "attempts", "last_disposition", "reached_slot", "callback_at",
                "callback_slot", "last_call_at", "next_try_at", "import_id")


def add_leads(store: Store, campaign_id: int, specs: Iterable[dict]) -> list[int]:
    """Leads as the importer (and, with a state, the engine) would have written them."""
    parser = PhoneParser("US")
    ids = []
    with store.tx():
        pass_no = store.scalar("SELECT pass_no FROM campaigns WHERE id = ?", (campaign_id,))
        for i, spec in enumerate(specs, 2):
            tz, state = spec.get("timezone"), spec.get("state")
            phones = []     # (e164, zones, region)
            for p in spec["phones"]:
                if isinstance(p, tuple):
                    phones.append((p[0], tuple(p[1].split(",")) if p[1] else (), "US"))
                else:
                    parsed = parser.parse(p)
                    phones.append((parsed.e164, parsed.zones, parsed.region))
            # Zones as the importer widens them: the timezone and state columns add.
            gzones = [group_zones(z, r, tz, state) for _e, z, r in phones]
            if state:
                phones = [(e, z, r if state in r else f"{r},US-{state}") for e, z, r in phones]
            groups = [_group(store, gz, r) for gz, (_e, _z, r) in zip(gzones, phones)]
            dead = spec.get("dead", {})
            live = [k for k in range(1, len(phones) + 1) if k not in dead]
            slot = spec.get("slot", live[0] if live else None)
            row = {
                "campaign_id": campaign_id, "row_number": spec.get("row", i),
                "name": spec.get("name", f"Lead {i}"), "email": spec.get("email"),
                "phone1": phones[0][0] if phones else None,
                "vars": json.dumps(spec.get("vars", {})), "timezone": tz,
                "status": spec.get("status", "PENDING" if live else "SKIPPED"),
                "phone_slot": slot, "cur_group": groups[slot - 1] if slot else None,
                "pass_no": spec.get("pass_no", pass_no),
                **{k: spec[k] for k in _LEAD_FIELDS if k in spec},
                "created_at": NOW_ISO, "updated_at": NOW_ISO,
            }
            lead_id = store.execute(
                f"INSERT INTO leads ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values())).lastrowid
            for k, ((e164, zones, region), g) in enumerate(zip(phones, groups), 1):
                store.execute(
                    "INSERT INTO lead_phones (lead_id, slot, e164, zones, region, group_id, "
                    "dead_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (lead_id, k, e164, ",".join(zones), region, g, dead.get(k)))
            kind = spec.get("consent", "express")
            if kind:
                for e164, _z, _r in phones:
                    consent_mod.record(store.conn, e164=e164, kind=kind, consented_at=CONSENTED_AT,
                                       source="test fixture", origin="builders", now_iso=NOW_ISO,
                                       lead_id=lead_id)
            ids.append(lead_id)
    return ids


def add_lead(store: Store, campaign_id: int, **spec: Any) -> int:
    """One lead (``add_leads`` with one spec); its id."""
    return add_leads(store, campaign_id, [spec])[0]


def add_import(store: Store, campaign_id: int, columns: Sequence[str]) -> int:
    """The record an import leaves (its normalized columns, in file order)."""
    with store.tx():
        return store.execute(
            "INSERT INTO imports (campaign_id, source, columns, created_at) VALUES (?, ?, ?, ?)",
            (campaign_id, "leads.csv", json.dumps(list(columns)), NOW_ISO)).lastrowid


def add_call(store: Store, campaign_id: int, lead_id: int, *, slot: int = 1, pass_no: int = 1,
             run: int = 1, kind: str = "pass", e164: str | None = None,
             disposition: str | None = None, status: str = "completed",
             answered_by: str | None = None, turns: int | None = None,
             claimed_at: str | datetime = NOW_ISO, answered_at: str | None = None,
             ended_at: str | None = None, duration_s: int | None = None,
             billed_minutes: int | None = None, price: float | None = None,
             price_final: int = 0, zone: str | None = None) -> int:
    """A call the engine placed (on the simulator) for ``lead_id``'s phone ``slot``."""
    if isinstance(claimed_at, datetime):
        claimed_at = to_iso(claimed_at)
    with store.tx():
        phone = store.one("SELECT e164, zones FROM lead_phones WHERE lead_id = ? AND slot = ?",
                          (lead_id, slot))
        return store.execute(
            "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, kind, "
            "provider, status, answered_by, disposition, turns, claimed_at, placed_at, "
            "answered_at, ended_at, duration_s, billed_minutes, price, price_final, zone) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'simulator', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (campaign_id, run, lead_id, slot, e164 or phone["e164"], FROM, pass_no, kind, status,
             answered_by, disposition, turns, claimed_at, claimed_at, answered_at, ended_at,
             duration_s, billed_minutes, price, price_final,
             zone if zone is not None else phone["zones"])).lastrowid


def subscribe(store: Store, url: str, *, secret: str = SECRET,
              events: Iterable[str] | None = None) -> webhooks.Subscription:
    """A webhook subscription to ``url`` signed with ``secret``."""
    sub, _warnings = webhooks.add_subscription(store, url, now_iso=NOW_ISO, secret=secret,
                                               events=events)
    return sub


# -- reading back ----------------------------------------------------------------------------

def lead(store: Store, lead_id: int) -> dict:
    return dict(store.one("SELECT * FROM leads WHERE id = ?", (lead_id,)))


def leads(store: Store, campaign_id: int) -> list[dict]:
    return [dict(r) for r in store.all("SELECT * FROM leads WHERE campaign_id = ? ORDER BY id",
                                       (campaign_id,))]


def phones(store: Store, lead_id: int) -> list[dict]:
    return [dict(r) for r in store.all("SELECT * FROM lead_phones WHERE lead_id = ? ORDER BY slot",
                                       (lead_id,))]


def calls(store: Store, campaign_id: int | None = None) -> list[dict]:
    where = " WHERE campaign_id = ?" if campaign_id else ""
    return [dict(r) for r in store.all(f"SELECT * FROM calls{where} ORDER BY id",
                                       (campaign_id,) if campaign_id else ())]


def audit(store: Store) -> list[dict]:
    rows = store.all("SELECT * FROM audit ORDER BY id")
    return [dict(r, detail=json.loads(r["detail"] or "{}")) for r in rows]


# -- real time ---------------------------------------------------------------------------------

#: Zones around the globe, so one of them is always in the middle of its day.
AWAKE_ZONES = ("Pacific/Kiritimati", "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo",
               "Asia/Shanghai", "Asia/Bangkok", "Asia/Kolkata", "Asia/Dubai", "Europe/Athens",
               "Europe/Paris", "Europe/London", "Atlantic/Azores", "America/Sao_Paulo",
               "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
               "Pacific/Honolulu", "Pacific/Pago_Pago")


def awake_zone() -> str:
    """A zone where it is the middle of the day right now: tests that run the engine on
    real time give their leads this ``timezone`` so the calling window is open."""
    now = datetime.now(timezone.utc)
    for name in AWAKE_ZONES:
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 17:
            return name
    raise AssertionError("no zone in daytime?")


# -- a campaign with pinned outcomes, for the results tests --------------------------------------

COLUMNS = ["NAME", "PHONE1", "PHONE2", "EMAIL", "AMOUNT", "ADDRESS", "CASE_NUMBER"]
LA, NY, CHI = "America/Los_Angeles", "America/New_York", "America/Chicago"


def spring_campaign(store: Store) -> dict[str, Any]:
    """A campaign in its second run with pinned outcomes (figures worked out in tests)."""
    cid = campaign(store, "Spring", greeting="Hi {{NAME}}, this is Zara from Acme.",
                   prompt="Be brief.", status="RUNNING", run=2, pass_no=2, max_attempts=3)
    imp = add_import(store, cid, COLUMNS)
    done = {"import_id": imp, "pass_no": 1}
    specs = [
        dict(done, row=2, name="Alex Chen", phones=[("+14155551200", LA)], email="alex@acme.io",
             vars={"AMOUNT": "5000", "ADDRESS": "123 Market St", "CASE_NUMBER": "CASE-7741"},
             status="REACHED", last_disposition="INTERESTED", reached_slot=1, attempts=1,
             last_call_at="2026-03-01T15:00:00.000Z"),
        dict(done, row=3, name="Jamie Lee", phones=[("+12125550133", NY), ("+12125550144", NY)],
             email="jamie@example.com",
             vars={"AMOUNT": "12000", "ADDRESS": "9 Elm", "CASE_NUMBER": "CASE-7742"},
             status="REACHED", last_disposition="NOT_INTERESTED", reached_slot=1, pass_no=2,
             attempts=3, last_call_at="2026-03-03T14:00:00.000Z"),
        dict(done, row=4, name="=HYPERLINK(\"http://x\",\"y\")", phones=[("+13125550100", CHI)],
             vars={"AMOUNT": "-5000", "ADDRESS": "@home", "CASE_NUMBER": "+SUM(1)"},
             status="DIALING", last_disposition="NO_ANSWER", pass_no=2, attempts=2,
             last_call_at="2026-03-03T14:59:00.000Z"),
        dict(done, row=5, name="Pat Quinn", phones=[("+16175550123", NY)], status="OPTED_OUT",
             last_disposition="OPT_OUT", reached_slot=1, attempts=1, slot=1,
             dead={1: "on the opt-out list"}, last_call_at="2026-03-02T14:00:00.000Z"),
        dict(done, row=6, name="Sam Rivera", phones=[("+13055550111", NY)], status="CALLBACK",
             last_disposition="CALLBACK", reached_slot=1, attempts=1,
             callback_at="2026-03-04T15:00:00.000Z", last_call_at="2026-03-02T16:00:00.000Z"),
        dict(done, row=7, name="Wes Wong", phones=[("+17135550100", CHI)], status="EXHAUSTED",
             last_disposition="WRONG_NUMBER", slot=None, attempts=1,
             dead={1: "wrong number"}, last_call_at="2026-03-02T17:00:00.000Z"),
        dict(done, row=8, name="Nia Noel", phones=[("+15035550100", LA)], email="nia@example.com"),
        dict(done, row=9, name="Opted Before", phones=[("+15035550199", LA)], status="SKIPPED",
             slot=None, dead={1: "on the opt-out list"}),
    ]
    lead_ids = add_leads(store, cid, specs)
    lead = dict(enumerate(lead_ids, 1))
    call = {}
    # The previous run: one call, outside the 30-day window.
    call[0] = add_call(store, cid, lead[1], run=1, disposition="NO_ANSWER", status="completed",
                       claimed_at="2026-01-15T15:59:00.000Z", ended_at="2026-01-15T16:00:00.000Z",
                       duration_s=0, billed_minutes=1)
    call[1] = add_call(store, cid, lead[1], run=2, disposition="INTERESTED", answered_by="human",
                       turns=6, claimed_at="2026-03-01T15:00:00.000Z",
                       answered_at="2026-03-01T15:00:00.000Z", ended_at="2026-03-01T15:03:05.000Z",
                       duration_s=185, billed_minutes=4, price=0.056, price_final=1)
    call[2] = add_call(store, cid, lead[2], run=2, disposition="NO_ANSWER", status="no-answer",
                       claimed_at="2026-03-01T15:10:00.000Z", ended_at="2026-03-01T15:10:25.000Z",
                       duration_s=0, billed_minutes=0)
    call[3] = add_call(store, cid, lead[2], run=2, slot=2, disposition="VOICEMAIL",
                       answered_by="machine_end_beep", claimed_at="2026-03-01T15:11:30.000Z",
                       ended_at="2026-03-01T15:12:00.000Z", duration_s=22, billed_minutes=1)
    call[4] = add_call(store, cid, lead[4], run=2, disposition="OPT_OUT", answered_by="human",
                       turns=2, claimed_at="2026-03-02T14:00:00.000Z",
                       ended_at="2026-03-02T14:00:40.000Z", duration_s=40, billed_minutes=1)
    call[5] = add_call(store, cid, lead[5], run=2, disposition="CALLBACK", answered_by="human",
                       turns=3, claimed_at="2026-03-02T16:00:00.000Z",
                       ended_at="2026-03-02T16:01:15.000Z", duration_s=75, billed_minutes=2)
    call[6] = add_call(store, cid, lead[6], run=2, disposition="WRONG_NUMBER", answered_by="fax",
                       claimed_at="2026-03-02T17:00:00.000Z", ended_at="2026-03-02T17:00:10.000Z",
                       duration_s=10, billed_minutes=1)
    call[7] = add_call(store, cid, lead[3], run=2, disposition="NO_ANSWER", status="busy",
                       claimed_at="2026-03-02T18:00:00.000Z", ended_at="2026-03-02T18:00:30.000Z",
                       duration_s=0, billed_minutes=0)
    call[8] = add_call(store, cid, lead[2], run=2, pass_no=2, disposition="NOT_INTERESTED",
                       answered_by="human", turns=4, claimed_at="2026-03-03T14:00:00.000Z",
                       ended_at="2026-03-03T14:01:35.000Z", duration_s=95, billed_minutes=2)
    call[9] = add_call(store, cid, lead[3], run=2, pass_no=2, status="ringing",
                       claimed_at="2026-03-03T14:59:00.000Z")
    return {"campaign": cid, "import": imp, "lead": lead, "call": call}


# -- the engine's parts, without its loop ----------------------------------------------------

class NoNetwork(Provider):
    """A provider a claim or a settlement must never call."""

    name = "simulator"

    def __init__(self, *, prices_final: bool = False, simulated: bool = True):
        self.prices_final = prices_final
        self.simulated = simulated

    def place(self, req: DialRequest) -> str:
        raise AssertionError("a claim never places the call itself")

    def fetch(self, sid: str) -> CallState | None:
        raise AssertionError("not asked")

    def find_calls(self, to, from_, since) -> list[CallState]:
        raise AssertionError("not asked")


class EngineParts:
    """An engine's Claimer and Settler over one campaign, sharing one RunState, with no
    loop around them: each claim or settlement is a test's own step."""

    def __init__(self, store, cid, *, provider: Provider | None = None,
                 classifier=None, rate: float = 0.02):
        self.store = store
        self.clock = VirtualClock(NOW)
        self.provider = provider or NoNetwork()
        c = Campaign.from_row(store.one("SELECT * FROM campaigns WHERE id = ?", (cid,)))
        agent = dict(store.one("SELECT * FROM agents WHERE id = ?", (c.agent_id,)))
        self.state = RunState(c, agent, c.max_concurrent, hooks=False)
        self.tx = Transactions(store, self.clock, self.provider, group_commit=False,
                               commit_every_s=0.0, gap_s=0.0, on_event=None)
        self.progress = Progress(self.tx.notify)
        self.queue = DialQueue(store, cid, compliance.policy_for_campaign(store.conn, c))
        self.classified: list = []

        def classify(transcript, name):
            self.classified.append(transcript)
            return classifier(transcript, name) if classifier else None

        self.settler = Settler(store, self.tx, self.state, self.queue, self.progress,
                               self.provider, rate=rate, classifier=classify,
                               callback_parser=lambda text, now, tz: now + timedelta(days=1))
        self.claimer = Claimer(self.tx, self.state, self.provider, self.queue, self.settler,
                               self.progress)

    def claim(self, lead_id: int, slot: int = 1, kind: str = "pass") -> InFlight | None:
        return self.claimer.claim(lead_id, slot, kind, self.clock.now())

    def end(self, f: InFlight, status: CallStatus, *, answered_by: str | None = None,
            turns: int = 0, label: EndCall | None = None, billed: int = 0,
            price: float | None = None, transcript=None) -> None:
        now = self.clock.now()
        if label is not None or transcript is not None:
            f.conversation = CallEvent(f.call_id, EventKind.CONVERSATION, now, end=label,
                                       turns=turns, transcript=transcript)
        ev = CallEvent(f.call_id, EventKind.ENDED, now, sid=f"SIM{f.call_id}", status=status,
                       answered_by=answered_by, turns=turns, billed_minutes=billed, price=price,
                       duration_s=billed * 60)
        f.sid = ev.sid
        self.settler.complete(f, ev, now)


# -- numbers awake now (real-time tests) ----------------------------------------------------------

#: A number prefix (+ 4 digits makes a valid number) whose own zone, per phonenumbers, is
#: the key: a lead's ``timezone`` column only adds zones, so a real-time test needs a
#: number that is itself in the middle of its day.
AWAKE_NUMBERS = {
    "Pacific/Auckland": "+649300", "Australia/Sydney": "+6129000", "Asia/Tokyo": "+8135000",
    "Asia/Shanghai": "+86106000", "Asia/Bangkok": "+662100", "Asia/Dubai": "+9714300",
    "Europe/Athens": "+30210300", "Europe/Paris": "+3314000", "Europe/London": "+44207946",
    "Atlantic/Azores": "+35129620", "America/Sao_Paulo": "+55113000",
    "America/New_York": "+1212555", "America/Chicago": "+1312555",
    "America/Denver": "+1303555", "America/Los_Angeles": "+1415555",
    "Pacific/Honolulu": "+1808555", "Pacific/Pago_Pago": "+1684633",
}


_AWAKE_PICK: list[str] = []


def awake_phone(i: int) -> tuple[str, str]:
    """(number i, its zone) for a number whose own zone is in the middle of its day.

    The zone picked stays picked while it is 09:00-18:00 there (it is picked at
    10:00-17:00), so the numbers of one test do not change zone under it."""
    import os

    now = datetime.now(timezone.utc)
    # A process started by the test (a runner, a CLI) inherits the pick through the
    # environment: picking afresh there could choose another zone near a boundary.
    inherited = os.environ.get("DIALCLI_TEST_AWAKE_ZONE")
    if not _AWAKE_PICK and inherited in AWAKE_NUMBERS:
        _AWAKE_PICK[:] = [inherited]
    if not (_AWAKE_PICK and 9 <= now.astimezone(ZoneInfo(_AWAKE_PICK[0])).hour < 18):
        _AWAKE_PICK[:] = [next(name for name in AWAKE_NUMBERS
                               if 10 <= now.astimezone(ZoneInfo(name)).hour < 17)]
    name = _AWAKE_PICK[0]
    os.environ["DIALCLI_TEST_AWAKE_ZONE"] = name
    return f"{AWAKE_NUMBERS[name]}{i % 10_000:04d}", name


def run_in_pty(args: Sequence[str], *, cwd: str | Path, answers: Sequence[tuple[str, str]] = (),
               stdout: Path | None = None, env: dict | None = None,
               timeout: float = 60.0) -> tuple[int, str]:
    """``python -m dialcli ARGS`` on a real pseudo-terminal, as a person runs it: stdin
    and stderr are the terminal (stdout too, unless ``stdout`` names a file to redirect
    it to, as ``> out.txt`` does). Each ``(fragment, text)`` of ``answers`` types
    ``text`` once ``fragment`` has appeared. The exit code and what the terminal showed.
    """
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    full_env = {**os.environ, "PYTHONPATH": str(root / "src"), "COLUMNS": "120",
                "TERM": "dumb", **(env or {})}
    master, slave = pty.openpty()
    out_file = open(stdout, "wb") if stdout is not None else None
    try:
        proc = subprocess.Popen([sys.executable, "-m", "dialcli", *args], cwd=cwd,
                                env=full_env, stdin=slave, stderr=slave,
                                stdout=out_file if out_file is not None else slave,
                                close_fds=True)
    finally:
        os.close(slave)
        if out_file is not None:
            out_file.close()
    shown, seen_upto, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    last: tuple[bytes, float, int] | None = None     # (answer, when, len(shown) then)
    try:
        while True:
            if pending and pending[0][0].encode() in shown[seen_upto:]:
                seen_upto = len(shown)
                answer = (pending.pop(0)[1] + "\n").encode()
                os.write(master, answer)
                last = (answer, time.monotonic(), len(shown))
            elif last and len(shown) == last[2] and time.monotonic() - last[1] > 2.0:
                # Nothing echoed: a hidden prompt (getpass) flushed the typed answer
                # before reading it, as it does when the answer comes that fast.
                os.write(master, last[0])
                last = (last[0], time.monotonic(), len(shown))
            if time.monotonic() > deadline:
                raise TimeoutError(f"dialcli {' '.join(args)} still running; it showed:\n"
                                   + shown.decode(errors="replace"))
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:              # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if proc.poll() is None and time.monotonic() > deadline:
            proc.kill()
        os.close(master)
    return proc.wait(timeout=timeout), shown.decode(errors="replace").replace("\r\n", "\n")


def as_terminal(monkeypatch, columns: int = 160) -> None:
    """Make the CLI's stdout console behave as a terminal ``columns`` wide (Rich tables,
    not the tab-separated lines piped output gets). Colour stays off: it was decided
    when the console was made, on CliRunner's pipe."""
    from dialcli.cli import common

    monkeypatch.setattr(common.out, "_width", columns)
    monkeypatch.setattr(common.out, "_force_terminal", True)
