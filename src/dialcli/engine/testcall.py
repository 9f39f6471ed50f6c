"""One test call outside any campaign: ``dialcli call NUMBER --agent A``.

Every hosted voice-agent product has a "call me" button: hear the agent on your own
phone before a thousand leads do. A test call goes through the same live path as a
campaign dial -- the agent's rendered greeting, prompt and voicemail message, the
brain, answering-machine detection and the greeting gate, the voicemail action, the
voices -- and through the gates that protect a callee:

* the workspace opt-out list: a number on it is never called (no override);
* consent and the state artificial-voice rules, exactly as a campaign dial's claim
  checks them (``compliance.consent.check``): the consent record of the kind the
  purpose needs (``--purpose``; telemarketing, the strict reading, by default) and
  every state rule of the states the number could be in (a ban or a live-operator
  rule stops it whatever is on record). No override: for your own phone, record your
  consent with ``dialcli consent import``. The evidence relied on is kept on the row;
* calling hours: the federal 08:00-21:00 window in every zone the number may be in,
  narrowed by state law (compliance.policy), unless the user overrides it (``--now``,
  confirmed, and recorded on the row with the reason shown).

It is recorded in ``test_calls`` before it is placed (never in ``calls``), so it is
never in a campaign's KPIs, reports, caps or exports. Call ids given to the provider
are ``TEST_CALL_BASE + row id``: the callback server's URLs carry the id, and these
can never meet a campaign call's.

``simulate`` runs the conversation against a simulated callee (a persona from the
simulator's scripts) with the real brain: no Twilio account, no phone bill. Nobody's
phone rings, so calling hours and consent are reported (a real call would be refused)
rather than enforced; the opt-out list still refuses. In a workspace without the agent, the
shipped example agent Zara (``dialcli demo``'s) can be rehearsed: ``dialcli call
+1... --agent Zara --simulate`` works on a fresh install. The caller of ``run`` gets
every line as it happens through ``on_line`` (the CLI prints it); the core never
prints.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from dialcli.clock import to_iso
from dialcli.compliance import consent, dnc
from dialcli.compliance.policy import CallingPolicy
from dialcli.conversation.base import Brain, CallContext, collect
from dialcli.conversation.classify import classify_by_rules
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.models import Agent, CallStatus, Disposition, VoicemailAction
from dialcli.outcomes import disposition_for
from dialcli.phones import Phone, PhoneError, PhoneParser
from dialcli.providers.base import CallEvent, DialRequest, EventKind
from dialcli.providers.simulator import PERSONAS, SCRIPTS
from dialcli.store import Store
from dialcli.templates import lead_context, normalize_header, render
from dialcli.workspace.agents import agent_tokens, get_agent
from dialcli.workspace.voices import say_voice_for

TEST_CALL_BASE = 1_000_000_000
#: The window a test call keeps to (a campaign's default); state law narrows it.
TEST_WINDOW = ("09:00", "20:00")
SIMULATED_FROM = "+15005550006"      # Twilio's documented test "from" number

OnLine = Callable[[str, str, float], None]     # (kind, text, at_s)


@dataclass
class TestCall:
    """A prepared test call: validated, gated, recorded (not yet placed)."""

    row_id: int
    call_id: int
    phone: Phone
    agent: Agent
    ctx: CallContext
    simulate: bool
    hours_open: bool
    hours_note: str = ""
    lead_id: int | None = None
    example_agent: bool = False      # the shipped example agent (not in the workspace)
    purpose: str = consent.TELEMARKETING
    consent_refusal: str | None = None   # simulated: why a real call would be refused
    missing_tokens: list[str] = field(default_factory=list)   # {{TOKENS}} with no value


@dataclass
class TestCallResult:
    status: str
    disposition: str | None
    answered_by: str | None = None
    summary: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)
    voicemail_left: bool = False
    duration_s: int | None = None
    error: str | None = None
    sid: str | None = None             # Twilio's CallSid (live calls)


def parse_vars(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` options -> {KEY: VALUE} (keys as written; templates are case-blind)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--var {pair!r} is not KEY=VALUE.",
                             hint='Write e.g. --var NAME=Alex --var "CASE_NUMBER=12 34".')
        out[key] = value
    return out


def _lead(store: Store, lead_id: int) -> tuple[str, str | None, dict[str, Any]]:
    row = store.one("SELECT name, email, vars FROM leads WHERE id = ?", (lead_id,))
    if row is None:
        raise NotFoundError(f"No lead with id {lead_id}.",
                            hint="Find ids with: dialcli status CAMPAIGN --json, or leave out "
                                 "--lead and give --var KEY=VALUE.")
    return row[0], row[1], json.loads(row[2] or "{}")


def prepare(store: Store, *, number: str, agent_name: str, now: datetime,
            lead_id: int | None = None, variables: dict[str, str] | None = None,
            simulate: bool = False, from_number: str | None = None,
            override_hours: str | None = None,
            voicemail_action: VoicemailAction = VoicemailAction.MESSAGE,
            purpose: str = consent.TELEMARKETING) -> TestCall:
    """Validate, apply the gates, and record the test call; raises before anything is
    written when a gate says no (``ConflictError``) or the input is wrong (``InputError``).

    ``purpose`` is what the consent gate checks, as a campaign's would: telemarketing
    (written consent) or informational (any consent).

    ``override_hours`` is the user's reason for calling outside calling hours (``--now``);
    None keeps the hours.
    """
    try:
        phone = PhoneParser("US").parse(number)
    except PhoneError as exc:
        raise InputError(f"Cannot call {number!r}: {exc}.",
                         hint="Give the number in E.164 (+14155550123) or as a US number.") from None
    example = False
    try:
        agent = get_agent(store, agent_name)
    except NotFoundError:
        if not (simulate and agent_name.strip().lower() == EXAMPLE_AGENT.lower()):
            raise
        agent, example = example_agent(now), True
    name, email, lead_vars = ("", None, {})
    if lead_id is not None:
        name, email, lead_vars = _lead(store, lead_id)
    if example and lead_id is None:
        lead_vars = example_values()          # the example leads' first row
    lead_vars = {**lead_vars, **{normalize_header(k) or k: v for k, v in (variables or {}).items()}}
    name = lead_vars.pop("NAME", None) or name
    tokens = lead_context(name, email, lead_vars)
    missing = [t for t in agent_tokens(agent) if t not in ("NAME", "EMAIL")
               and not str(tokens.get(t, "")).strip()]
    if dnc.is_opted_out(store.conn, phone.e164):
        raise ConflictError(f"{phone.e164} is on the workspace's opt-out list: it is never called, "
                            "not even for a test.",
                            hint=f"If it is your own number and you want it back: dialcli dnc remove "
                                 f"{phone.e164}")
    if purpose not in consent.PURPOSES:
        raise InputError(f"Unknown purpose {purpose!r}.",
                         hint=f"Use one of: {', '.join(consent.PURPOSES)}.")
    now_iso = to_iso(now)
    gate = consent.check(store.conn, phone.e164, purpose=purpose, gate_on=True, at_iso=now_iso)
    refusal = None
    if not gate.ok:
        refusal = gate.reason or "no consent"
        if not simulate:
            if gate.state_rule:
                hint = ("No consent record lifts a state's ban or live-operator rule; "
                        "test with a number outside that state, or --simulate.")
            else:
                hint = (f"If it is your own phone, record your {consent.NEEDS[purpose]}: "
                        "dialcli consent import FILE (phone,consent_at,consent_type,"
                        "consent_source); or rehearse with --simulate.")
            raise ConflictError(f"A {purpose} call by an AI voice may not reach {phone.e164}: "
                                f"{refusal}.", hint=hint)
    group = CallingPolicy(TEST_WINDOW).window_for(phone.zones, phone.region)
    hours_open = group.is_open(now)
    note = ""
    if not hours_open:
        reasons = group.explain(now)
        nxt = group.next_open(now)
        note = "; ".join(reasons) or "outside calling hours"
        if nxt is not None:
            note += f" (next open {to_iso(nxt[0])})"
        if override_hours is None and not simulate:
            raise ConflictError(
                f"It is outside calling hours for {phone.e164}: {note}.",
                hint="Call when the window opens, or, for your own phone, add --now (you will "
                     "be asked to confirm; the override is recorded).")
    if from_number is None:
        if simulate:
            from_number = store.scalar("SELECT e164 FROM numbers ORDER BY id LIMIT 1") \
                or SIMULATED_FROM
        else:
            from_number = store.scalar("SELECT e164 FROM numbers ORDER BY id LIMIT 1")
            if from_number is None:
                raise InputError("No from-number to call from.",
                                 hint="Add one with: dialcli number add +1..., or pass --from.")
    vm_source = agent.voicemail_message or ""
    with store.tx():
        cur = store.execute(
            "INSERT INTO test_calls (agent_id, agent_name, e164, from_number, lead_id, provider, "
            "status, override_hours, started_at, purpose, consent) "
            "VALUES (?, ?, ?, ?, ?, ?, 'placing', ?, ?, ?, ?)",
            (None if example else agent.id, agent.name, phone.e164, from_number, lead_id,
             "simulator" if simulate else "twilio",
             (f"{override_hours or 'simulated'} -- {note}" if not hours_open else None),
             now_iso, purpose,
             json.dumps({**gate.evidence(), **({"refused": refusal} if refusal else {})})))
        row_id = int(cur.lastrowid)
    call_id = TEST_CALL_BASE + row_id
    ctx = CallContext(
        call_id=call_id, campaign="(test call)", agent=agent.name, to=phone.e164,
        from_=from_number, greeting=render(agent.greeting, tokens),
        system_prompt=render(agent.system_prompt, tokens),
        voicemail_message=render(vm_source, tokens) if vm_source else "",
        voicemail_action=voicemail_action if vm_source else VoicemailAction.HANGUP,
        language=agent.language, voice=agent.voice, lead_name=name or "",
        lead_vars=lead_vars, recipient_tz=phone.zones[0] if phone.zones else None,
        llm_model=agent.llm_model, tts_provider=agent.tts_provider,
        voicemail_voice=say_voice_for(agent), placed_at=now)
    return TestCall(row_id, call_id, phone, agent, ctx, simulate, hours_open, note, lead_id,
                    example, purpose=purpose, consent_refusal=refusal, missing_tokens=missing)


EXAMPLE_AGENT = "Zara"


def example_values() -> dict[str, str]:
    """Token values from the example leads file's first row (``case number`` ->
    ``CASE_NUMBER``), so the example agent speaks whole sentences."""
    import csv

    from dialcli.engine.runner import demo_paths

    with open(demo_paths() / "leads.csv", newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    return {normalize_header(k) or k: v for k, v in row.items() if v}


def example_agent(now: datetime) -> Agent:
    """The shipped example agent (``dialcli demo``'s Zara), not written anywhere."""
    from dialcli.engine.runner import demo_paths

    examples = demo_paths()
    stamp = to_iso(now)

    def text(name: str) -> str:
        return (examples / name).read_text(encoding="utf-8").strip()

    return Agent(id=0, name=EXAMPLE_AGENT, greeting=text("agent-greeting.txt"),
                 system_prompt=text("agent-prompt.txt"), voice=None, language="en-US",
                 voicemail_message=text("voicemail.txt"), llm_model=None, created_at=stamp,
                 updated_at=stamp)


def finish(store: Store, call: TestCall, result: TestCallResult, now: datetime) -> None:
    """Record the outcome on the test call's row (one transaction)."""
    with store.tx():
        store.execute(
            "UPDATE test_calls SET status = ?, answered_by = ?, disposition = ?, summary = ?, "
            "transcript = ?, voicemail_left = ?, ended_at = ?, duration_s = ?, error = ?, "
            "provider_sid = COALESCE(provider_sid, ?) WHERE id = ?",
            (result.status, result.answered_by, result.disposition, result.summary or None,
             json.dumps(result.transcript) if result.transcript else None,
             int(result.voicemail_left), to_iso(now), result.duration_s, result.error,
             result.sid, call.row_id))


def list_test_calls(store: Store, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Past test calls, newest first (``dialcli call list``); the transcript and the
    consent evidence as parsed JSON."""
    rows = store.all(
        "SELECT id, started_at, ended_at, e164, from_number, agent_name, lead_id, provider, "
        "provider_sid, status, answered_by, disposition, summary, voicemail_left, duration_s, "
        "override_hours, purpose, consent, error, transcript FROM test_calls "
        "ORDER BY started_at DESC, id DESC" + (" LIMIT ?" if limit else ""),
        (limit,) if limit else ())
    out = []
    for row in rows:
        item = dict(row)
        item["simulated"] = item["provider"] == "simulator"
        item["voicemail_left"] = bool(item["voicemail_left"])
        for key in ("consent", "transcript"):
            item[key] = json.loads(item[key]) if item[key] else None
        out.append(item)
    return out


def label(transcript: list[dict[str, Any]], end: Any, status: str, answered_by: str | None,
          lead_name: str) -> tuple[str, str]:
    """(disposition, summary) the way a campaign call is labelled (outcomes)."""
    if end is None and transcript:
        end = classify_by_rules(transcript, lead_name=lead_name)
    turns = sum(1 for u in transcript if u.get("role") == "caller")
    disposition = disposition_for(CallStatus(status), answered_by,
                                  end.disposition if end is not None else None, turns)
    return str(disposition), (end.summary if end is not None else "")


# -- simulated ------------------------------------------------------------------------

def run_simulated(call: TestCall, brain: Brain, on_line: OnLine, *, persona: str = "interested",
                  seed: int | None = None, pace: float = 0.0) -> TestCallResult:
    """The conversation with a simulated callee, through the real brain.

    ``pace`` > 0 waits that many seconds per spoken word so a person can follow it
    (the CLI on a terminal); 0 runs at once (tests, pipes).
    """
    if persona not in PERSONAS:
        raise InputError(f"Unknown simulated callee {persona!r}.", hint=f"Use: {', '.join(PERSONAS)}.")
    rng = random.Random(seed)
    lines = [rng.choice(turn) for turn in SCRIPTS[persona]]
    t = 0.0

    def say(kind: str, text: str) -> None:
        nonlocal t
        on_line(kind, text, t)
        words = len(text.split())
        t += 0.4 + words / 2.5
        if pace:
            time.sleep(min(3.0, pace * words))

    on_line("status", f"calling {call.phone.e164} (simulated callee: {persona})", 0.0)
    on_line("status", "answered by a person (simulated)", 0.0)
    session = brain.open(call.ctx)
    try:
        hello = "Hola?" if call.ctx.language.lower().startswith("es") else "Hello?"
        say("caller", hello)
        session.heard(hello, t)
        say("agent", session.opening(t))
        end = None
        for line in lines:
            say("caller", line)
            text, end = collect(session.respond(line, at_s=t))
            if text.strip():
                say("agent", text.strip())
            if end is not None:
                break
        if end is None:
            on_line("status", "the callee hung up", t)
            end = session.finish(at_s=t)
        transcript = session.transcript_dicts()
    finally:
        brain.close()
    disposition, summary = label(transcript, end, "completed", "human", call.ctx.lead_name)
    return TestCallResult("completed", disposition, "human", summary, transcript,
                          duration_s=int(t) + 1)


# -- live (Twilio) --------------------------------------------------------------------

class _Sink:
    """Collects the provider's events for one call and shows progress as it comes."""

    lazy_progress = False

    def __init__(self, call_id: int, on_line: OnLine, t0: float):
        self.call_id, self.on_line, self.t0 = call_id, on_line, t0
        self.events: list[CallEvent] = []
        self.done = threading.Event()

    def _at(self) -> float:
        return time.monotonic() - self.t0

    def emit(self, event: CallEvent) -> None:
        if event.call_id != self.call_id:
            return
        self.events.append(event)
        kind = event.kind
        if kind is EventKind.PLACED:
            self.on_line("status", f"placed ({event.sid})", self._at())
        elif kind is EventKind.RINGING:
            self.on_line("status", "ringing", self._at())
        elif kind is EventKind.ANSWERED:
            self.on_line("status", "answered", self._at())
        elif kind is EventKind.HUMAN:
            self.on_line("status", f"answering-machine detection: {event.answered_by}", self._at())
        elif kind is EventKind.MACHINE:
            self.on_line("status", f"an answering machine ({event.answered_by}): running the "
                                   "voicemail action", self._at())
        elif kind is EventKind.ENDED:
            self.done.set()

    def schedule(self, at: Any, event: CallEvent) -> None:
        self.emit(event)


def run_live(call: TestCall, provider: Any, on_line: OnLine, *, clock: Any,
             ring_timeout_s: int = 25, max_wait_s: float = 1200.0,
             stop: threading.Event | None = None) -> TestCallResult:
    """Place the call through ``provider`` (a ``TwilioProvider``, not yet started) and
    wait for it to end, reporting each line as it is said. ``stop`` set, or Ctrl-C,
    hangs the call up (and still waits for Twilio's final status, bounded)."""
    t0 = time.monotonic()
    sink = _Sink(call.call_id, on_line, t0)
    provider.bind(sink, clock)
    provider.server.observer = lambda cid, kind, text, at: (
        on_line(kind, text, time.monotonic() - t0) if cid == call.call_id else None)
    provider.start()
    sid = None
    try:
        on_line("status", f"calling {call.phone.e164} from {call.ctx.from_}", 0.0)
        sid = provider.place(DialRequest(call.call_id, call.phone.e164, call.ctx.from_, call.ctx,
                                         f"test:{call.row_id}", ring_timeout_s=ring_timeout_s))
        deadline = time.monotonic() + max_wait_s
        hung_up = False
        stop = stop or threading.Event()
        while True:
            try:
                if sink.done.wait(0.2):
                    break
            except KeyboardInterrupt:
                stop.set()
            if (stop.is_set() or time.monotonic() > deadline) and not hung_up:
                hung_up = True
                on_line("status", "hanging up", time.monotonic() - t0)
                try:
                    provider.hangup(sid)
                except Exception:  # noqa: BLE001 - the call may be over already
                    pass
                deadline = time.monotonic() + 30
            elif hung_up and time.monotonic() > deadline:
                break
        # The conversation is reported just before (or just after) the end.
        time.sleep(0.1)
    finally:
        provider.close()
    ended = next((e for e in sink.events if e.kind is EventKind.ENDED), None)
    conv = next((e for e in sink.events if e.kind is EventKind.CONVERSATION), None)
    transcript = (conv.transcript if conv is not None else None) or []
    if ended is None:
        return TestCallResult("unknown", None, error="the call's end was never reported",
                              transcript=transcript, sid=sid)
    status = str(ended.status or CallStatus.FAILED)
    disposition, summary = label(transcript, conv.end if conv is not None else None, status,
                                 ended.answered_by, call.ctx.lead_name)
    if disposition == str(Disposition.VOICEMAIL) and not ended.voicemail_left \
            and call.ctx.voicemail_action is VoicemailAction.MESSAGE:
        summary = summary or "An answering machine answered; no message was left " \
                             "(it hung up before the beep)."
    return TestCallResult(status, disposition, ended.answered_by, summary, transcript,
                          voicemail_left=bool(ended.voicemail_left),
                          duration_s=ended.duration_s, error=ended.error, sid=sid)
