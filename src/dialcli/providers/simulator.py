"""The simulated phone network: the demo, the rehearsal tool and the test double.

Each dial is played out when it is placed: a per-dial ``random.Random`` seeded from
the run's ``seed`` and the dial's unique attempt key decides what happens (answer,
voicemail, no answer, busy, failure), how long it rings and talks; a callee persona,
stable per phone number, decides what a human says. Human calls are real
conversations with the same ``Brain`` a live call uses: the simulator speaks the
persona's lines and the brain answers. The outcome is then delivered to the engine
as timed ``CallEvent``s on its (usually virtual) clock, with realistic timestamps,
durations and billed minutes.

Determinism: the same seed and the same campaign give the same calls, in any order
and across a kill/resume, because randomness is keyed by the dial, not drawn from one
stream.

Journal: like a real carrier, the simulated network outlives the runner. Every
placement is appended (one ``write`` on an ``O_APPEND`` descriptor, so it survives a
SIGKILL) to a JSON-lines journal next to the workspace; ``fetch`` and ``find_calls``
read it, so crash reconciliation is exercised for real.

Profiles (``--sim-profile FILE``, TOML) override the default population and can pin a
script per phone number. A weight table (``[outcomes]``, ``[personas]``) you write
replaces the default one: what it does not list gets 0, so ``[outcomes]`` with only
``no_answer = 1.0`` means no call is ever answered. Weights are relative (0 or more,
at least one above 0). ``[timing]`` settings replace the defaults one key at a time::

    [outcomes]          # relative chances per dial
    human = 0.45
    voicemail = 0.25
    no_answer = 0.18
    busy = 0.07
    failed = 0.05

    [personas]          # who answers, per number (relative chances)
    interested = 0.25
    not_interested = 0.25
    callback = 0.15
    opt_out = 0.07
    wrong_number = 0.08
    one_word = 0.20

    [timing]            # seconds: [min, mode, max] (triangular)
    ring = [3, 8, 20]
    voicemail_greeting = [6, 12, 20]
    ring_timeout = 25
    words_per_second = 2.6

    price_per_minute = 0.014

    [[numbers]]         # pin what happens on a number
    number = "+14155550101"
    attempts = ["no_answer", "voicemail", "human"]   # outcome of the 1st, 2nd, 3rd dial
    lines = ["Who is this?", "Call me back tomorrow at 3"]
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dialcli.clock import from_iso, to_iso
from dialcli.conversation.base import Brain, CallContext, collect
from dialcli.errors import InputError
from dialcli.models import CallStatus, VoicemailAction
from dialcli.providers.base import (
    CallEvent, CallState, DialRequest, EventKind, Provider,
)

#: ``json.dumps(x, separators=(",", ":"))`` with one encoder for every journal line.
_compact = json.JSONEncoder(separators=(",", ":")).encode

OUTCOMES = ("human", "voicemail", "no_answer", "busy", "failed")
MAX_TIMING_S = 3600.0       # any one timing of a simulated call (Twilio rings 600 s at most)
PERSONAS = ("interested", "not_interested", "callback", "opt_out", "wrong_number", "one_word")

DEFAULT_PROFILE: dict[str, Any] = {
    "outcomes": {"human": 0.45, "voicemail": 0.25, "no_answer": 0.18, "busy": 0.07,
                 "failed": 0.05},
    "personas": {"interested": 0.25, "not_interested": 0.25, "callback": 0.15,
                 "opt_out": 0.07, "wrong_number": 0.08, "one_word": 0.20},
    "timing": {"ring": [3, 8, 20], "voicemail_greeting": [6, 12, 20], "ring_timeout": 25,
               "words_per_second": 2.6, "reply_delay": [0.4, 0.8, 1.8]},
    "price_per_minute": 0.014,
}

# What each persona says, turn by turn; each turn picks one variant.
SCRIPTS: dict[str, list[list[str]]] = {
    "interested": [
        ["Yes, speaking.", "This is me, yes.", "Yeah, that's me."],
        ["Oh okay. What are my options?", "Sure, tell me more.", "Okay, I'm listening."],
        ["Yes, I'd like to set up a payment plan.", "That sounds good, let's do it.",
         "Yes, I'm interested."],
        ["Great, thank you.", "Perfect, thanks.", "Okay, sounds good."],
    ],
    "not_interested": [
        ["Yes, who is this?", "Speaking.", "Yeah?"],
        ["No thanks, I'm not interested.", "I'm not interested, thank you.",
         "No, I don't want that."],
        ["No. Goodbye.", "I said no, thanks.", "Not interested, bye."],
    ],
    "callback": [
        ["Yes, this is me.", "Speaking.", "Yes?"],
        ["I'm busy right now, can you call me back tomorrow at 3?",
         "I'm driving, call me back in two hours.",
         "Not a good time. Try me next Tuesday morning.",
         "Can you call me back tomorrow afternoon?"],
        ["Thanks, bye.", "Okay, talk then.", "Great, bye."],
    ],
    "opt_out": [
        ["Who is this?", "Yes?", "Hello?"],
        ["Please take me off your list and stop calling me.",
         "Don't call me again. Remove my number.",
         "Stop calling this number. Unsubscribe me."],
    ],
    "wrong_number": [
        ["Who?", "Sorry, who are you looking for?", "Hello?"],
        ["You have the wrong number, there's no one here by that name.",
         "Wrong number, sorry.", "I think you have the wrong person."],
    ],
    "one_word": [
        ["Hello?", "Yeah?", "Hi?"],
    ],
    # A callback persona when we do call back as promised: they decide.
    "callback_followup_yes": [
        ["Yes, thanks for calling back.", "Oh right, yes, this is me."],
        ["Okay, tell me more.", "Sure, go ahead."],
        ["Yes, I'd like to set up a payment plan.", "That sounds good, I'm interested."],
        ["Thank you.", "Great, thanks."],
    ],
    "callback_followup_no": [
        ["Yes, this is me.", "Oh, right."],
        ["I thought about it and I'm not interested, thank you.",
         "No thanks, I'm not interested anymore."],
        ["Goodbye.", "Bye."],
    ],
}


def _tri(rng: random.Random, spec: Any) -> float:
    if isinstance(spec, (int, float)):
        return float(spec)
    lo, mode, hi = spec
    return rng.triangular(float(lo), float(hi), float(mode))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"Simulator profile: {where} must be a number, not {value!r}.")
    # TOML has inf and nan; neither is a probability, a price or a duration.
    if not math.isfinite(float(value)):
        raise InputError(f"Simulator profile: {where} must be a finite number, not {value!r}.")
    return float(value)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"Simulator profile: [{where}] must be a table of settings.")
    return value


def _check_timing(timing: dict[str, Any]) -> None:
    for key, value in timing.items():
        if key not in DEFAULT_PROFILE["timing"]:
            raise InputError(f"Simulator profile: unknown timing setting {key!r}.",
                             hint="Known: " + ", ".join(DEFAULT_PROFILE["timing"]) + ".")
        if isinstance(value, list):
            if len(value) != 3:
                raise InputError(f"Simulator profile: timing {key} needs [min, mode, max].")
            lo, mode, hi = (_number(v, f"timing {key}") for v in value)
            if not 0 <= lo <= mode <= hi:
                raise InputError(f"Simulator profile: timing {key} needs 0 <= min <= mode <= max.")
            if hi > MAX_TIMING_S:
                raise InputError(f"Simulator profile: timing {key} is over {MAX_TIMING_S:,.0f} "
                                 "seconds.")
        elif key == "words_per_second":
            # Speech time is words / rate: zero or a tiny rate never ends.
            if not 0.1 <= _number(value, f"timing {key}") <= 100:
                raise InputError("Simulator profile: timing words_per_second must be between "
                                 "0.1 and 100.")
        elif _number(value, f"timing {key}") < 0:
            raise InputError(f"Simulator profile: timing {key} cannot be negative.")
        elif value > MAX_TIMING_S:
            raise InputError(f"Simulator profile: timing {key} is over {MAX_TIMING_S:,.0f} "
                             "seconds.")


def _weights(table: Any, allowed: tuple[str, ...], what: str, source: str) -> dict[str, float]:
    """A weight table the user wrote: it replaces the defaults, so what it does not list
    never happens. Weights are relative (normalised to sum 1); zero-weight entries are
    dropped so that a rounding remainder can never pick one."""
    for key, value in table.items():
        if _number(value, f"{what} {key}") < 0:
            raise InputError(f"{source}: the {what} weight {key} = {value} is negative.",
                             hint="Weights are relative chances: 0 or more.")
    unknown = set(table) - set(allowed)
    if unknown:
        raise InputError(
            f"{source}: unknown {what} {', '.join(sorted(unknown))}.",
            hint=f"Known {what}s: {', '.join(allowed)}.",
        )
    total = sum(float(v) for v in table.values())
    if total <= 0:
        raise InputError(f"{source}: the {what} weights add up to zero.",
                         hint=f"Give at least one {what} a weight above 0; {what}s a table "
                              "does not list get 0.")
    # The canonical order, not the file's, so the same weights pick the same way.
    return {k: float(table[k]) / total for k in allowed if table.get(k, 0) > 0}


@dataclass
class PinnedNumber:
    attempts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    persona: str | None = None


@dataclass
class SimProfile:
    outcomes: dict[str, float]
    personas: dict[str, float]
    timing: dict[str, Any]
    price_per_minute: float
    numbers: dict[str, PinnedNumber]

    @classmethod
    def default(cls) -> "SimProfile":
        return cls.from_dict({})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "SimProfile":
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"Simulator profile {p} does not exist.") from None
        except IsADirectoryError:
            raise InputError(f"Simulator profile {p} is a folder, not a TOML file.") from None
        except OSError as exc:
            raise InputError(f"Cannot read simulator profile {p}: {exc.strerror or exc}.") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"Simulator profile {p} is not valid TOML: {exc}.") from None
        return cls.from_dict(data, source=f"Simulator profile {p}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "Simulator profile") -> "SimProfile":
        from dialcli.phones import PhoneError, normalize_e164

        known = {"outcomes", "personas", "timing", "price_per_minute", "numbers"}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}.",
                             hint=f"Known: {', '.join(sorted(known))}.")
        outcomes = _table(data.get("outcomes", DEFAULT_PROFILE["outcomes"]), "outcomes")
        personas = _table(data.get("personas", DEFAULT_PROFILE["personas"]), "personas")
        timing = {**DEFAULT_PROFILE["timing"], **_table(data.get("timing", {}), "timing")}
        _check_timing(timing)
        numbers: dict[str, PinnedNumber] = {}
        entries = data.get("numbers", []) or []
        if not isinstance(entries, list):
            raise InputError(f"{source}: write pinned numbers as [[numbers]] tables.")
        for i, entry in enumerate(entries, 1):
            if not isinstance(entry, dict) or "number" not in entry:
                raise InputError(f"{source}: [[numbers]] entry {i} needs a 'number'.")
            for key in ("attempts", "lines"):
                if key in entry and not (isinstance(entry[key], list)
                                         and all(isinstance(x, str) for x in entry[key])):
                    raise InputError(f"{source}: [[numbers]] entry {i}: {key} must be a list "
                                     "of strings.")
            try:
                e164 = normalize_e164(str(entry["number"]))
            except PhoneError as exc:
                raise InputError(f"{source}: [[numbers]] entry {i}: {exc}.") from None
            attempts = [str(a).replace("-", "_") for a in entry.get("attempts", [])]
            bad = [a for a in attempts if a not in OUTCOMES]
            if bad:
                raise InputError(f"{source}: [[numbers]] {e164}: unknown outcome(s) {bad}.",
                                 hint=f"Use: {', '.join(OUTCOMES)}.")
            persona = entry.get("persona")
            if persona is not None and persona not in PERSONAS:
                raise InputError(f"{source}: [[numbers]] {e164}: unknown persona {persona!r}.",
                                 hint=f"Use: {', '.join(PERSONAS)}.")
            lines = [str(x) for x in entry.get("lines", [])]
            numbers[e164] = PinnedNumber(attempts, lines, persona)
        price = _number(data.get("price_per_minute", DEFAULT_PROFILE["price_per_minute"]),
                        "price_per_minute")
        if price < 0:
            raise InputError(f"{source}: price_per_minute cannot be negative.")
        return cls(
            outcomes=_weights(outcomes, OUTCOMES, "outcome", source),
            personas=_weights(personas, PERSONAS, "persona", source),
            timing=timing, price_per_minute=price, numbers=numbers,
        )


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    x = rng.random()
    acc = 0.0
    last = ""
    for key, w in weights.items():
        acc += w
        last = key
        if x < acc:
            return key
    return last


class SimulatedProvider(Provider):
    name = "simulator"
    simulated = True

    def __init__(self, brain: Brain, *, seed: int = 0, profile: SimProfile | None = None,
                 journal_path: str | os.PathLike[str] | None = None, record: bool = False):
        self.brain = brain
        self.seed = seed
        self.profile = profile or SimProfile.default()
        self.journal_path = str(journal_path) if journal_path else None
        # Memory stays flat in campaign size: nothing per call is kept unless
        # ``record`` (tests); the journal on disk is read only to reconcile.
        self._calls: dict[str, dict[str, Any]] = {}
        self._by_to: dict[str, list[str]] = {}
        self._dials_to: dict[str, int] = {}      # only pinned numbers need a count
        self._fd: int | None = None
        self.defer_journal = False
        self._pending: list[bytes] = []
        self.record = record
        self.placed: list[DialRequest] = []     # history, when ``record``
        #: (placed at, ends at) of the last call placed: how long it holds its line
        self.last_plan: tuple[datetime, datetime] | None = None
        if self.journal_path and os.path.exists(self.journal_path) and self.profile.numbers:
            for entry in self._scan():
                if entry["to"] in self.profile.numbers:
                    self._dials_to[entry["to"]] = self._dials_to.get(entry["to"], 0) + 1

    # -- journal -----------------------------------------------------------------
    def _scan(self):
        if not self.journal_path or not os.path.exists(self.journal_path):
            return
        with open(self.journal_path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line from a kill mid-write

    def prepare_reconcile(self, open_calls: list[tuple[str | None, str, datetime]]) -> None:
        """Index, in one pass over the journal, what reconciling these calls needs."""
        sids = {sid for sid, _to, _since in open_calls if sid}
        tos = {to: since for sid, to, since in open_calls if not sid}
        for entry in self._scan():
            if entry["sid"] in sids or entry["to"] in tos:
                self._remember(entry)

    def _remember(self, entry: dict[str, Any]) -> None:
        entry = {k: v for k, v in entry.items() if k not in ("transcript", "label")}
        sid = entry["sid"]
        if sid not in self._calls:
            self._by_to.setdefault(entry["to"], []).append(sid)
        self._calls[sid] = entry

    def _append(self, entry: dict[str, Any]) -> None:
        if not self.journal_path:
            return
        line = (_compact(entry) + "\n").encode()
        if self.defer_journal:
            self._pending.append(line)
            return
        self._write(line)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, data)

    # Group commit (``Provider`` explains the capability): the network's record never
    # gets ahead of the workspace's, exactly as with claim-then-place.
    supports_deferred_journal = True

    def flush_journal(self) -> None:
        if self._pending:
            self._write(b"".join(self._pending))
            self._pending.clear()

    def discard_journal(self) -> None:
        self._pending.clear()

    def close(self) -> None:
        self.flush_journal()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- Provider --------------------------------------------------------------------
    def place(self, req: DialRequest) -> str:
        now = self.clock.now()
        sid = "CA" + _stable_hex(f"{self.seed}|{req.attempt_key}")
        nth = self._dials_to.get(req.to, 0)
        # Nobody watches an unscaled simulation: progress-only events (ringing,
        # answered...) would be built and applied for nothing. The ENDED event carries
        # everything the outcome needs.
        plan = self._plan(req, nth, now, progress=not self.sink.lazy_progress)
        # The network's record of the call, as a carrier keeps one: what reconcile and
        # fetch read back. The conversation reaches the engine through the events.
        entry = {"sid": sid, "key": req.attempt_key, "call_id": req.call_id, "to": req.to,
                 "from": req.from_, "placed_at": to_iso(now), **plan["final"]}
        entry.pop("transcript", None)
        entry.pop("label", None)
        self._append(entry)
        if req.to in self.profile.numbers:
            self._dials_to[req.to] = nth + 1
        if self.record:
            self._remember(entry)
            self.placed.append(req)
        for at, event in plan["events"]:
            event.sid = sid
            self.sink.schedule(at, event)
        self.last_plan = (now, plan["events"][-1][0])
        return sid

    def fetch(self, sid: str) -> CallState | None:
        entry = self._calls.get(sid)
        return None if entry is None else _state(entry)

    def find_calls(self, to: str, from_: str, since: datetime) -> list[CallState]:
        out = []
        for sid in self._by_to.get(to, []):
            entry = self._calls[sid]
            placed = from_iso(entry["placed_at"])
            if entry["from"] == from_ and placed is not None and placed >= since:
                out.append(_state(entry))
        return out

    # -- the simulation ------------------------------------------------------------
    def persona_for(self, e164: str) -> str:
        pinned = self.profile.numbers.get(e164)
        if pinned and pinned.persona:
            return pinned.persona
        return _pick(random.Random(f"{self.seed}|persona|{e164}"), self.profile.personas)

    def outcome_for(self, attempt_key: str, e164: str) -> str | None:
        """What the dial keyed ``attempt_key`` would meet (human, voicemail, no_answer,
        busy, failed) -- the first draw ``_plan`` makes -- or None for a pinned number.
        Cheap (one seeded draw): ``plan`` stratifies its sample by it."""
        if e164 in self.profile.numbers:
            return None
        return _pick(random.Random(f"{self.seed}|{attempt_key}"), self.profile.outcomes)

    def _plan(self, req: DialRequest, nth: int, t0: datetime, *,
              progress: bool = True) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}|{req.attempt_key}")
        timing = self.profile.timing
        pinned = self.profile.numbers.get(req.to)
        if pinned and pinned.attempts:
            outcome = pinned.attempts[min(nth, len(pinned.attempts) - 1)]
        else:
            outcome = _pick(rng, self.profile.outcomes)
        cid = req.call_id
        events: list[tuple[datetime, CallEvent]] = []

        def at(seconds: float) -> datetime:
            return t0 + timedelta(seconds=round(seconds, 3))

        def step(seconds: float, kind: EventKind, **fields: Any) -> None:
            """A progress-only event (PLACED, RINGING, ...), when someone watches."""
            if progress:
                when = at(seconds)
                events.append((when, CallEvent(cid, kind, when, **fields)))

        def last(when: datetime, final: dict[str, Any]) -> None:
            events.append((when, self._ended(cid, when, final)))

        step(0, EventKind.PLACED, status=CallStatus.QUEUED)
        if outcome == "failed":
            ended = at(rng.uniform(0.5, 3))
            final = self._final(CallStatus.FAILED, None, 0, 0, t0, None, ended)
            final["error"] = "simulated network failure"
            last(ended, final)
            return {"final": final, "events": events}
        ring_start = rng.uniform(0.8, 2.5)
        step(ring_start, EventKind.RINGING, status=CallStatus.RINGING)
        if outcome == "busy":
            ended = at(ring_start + rng.uniform(1, 4))
            final = self._final(CallStatus.BUSY, None, 0, 0, t0, None, ended)
            last(ended, final)
            return {"final": final, "events": events}
        timeout = float(timing.get("ring_timeout", 25))
        if outcome == "no_answer":
            ended = at(ring_start + timeout + rng.uniform(0, 5))
            final = self._final(CallStatus.NO_ANSWER, None, 0, 0, t0, None, ended)
            last(ended, final)
            return {"final": final, "events": events}
        answer = ring_start + min(_tri(rng, timing["ring"]), timeout - 0.5)
        step(answer, EventKind.ANSWERED, status=CallStatus.IN_PROGRESS)
        wps = float(timing.get("words_per_second", 2.6))
        if outcome == "voicemail":
            beep = answer + _tri(rng, timing["voicemail_greeting"])
            answered_by = "machine_end_beep"
            step(beep, EventKind.MACHINE, answered_by=answered_by)
            left = (req.context.voicemail_action is VoicemailAction.MESSAGE
                    and bool(req.context.voicemail_message))
            end = beep + (0.6 + _speak(req.context.voicemail_message, wps) if left
                          else rng.uniform(0.3, 1.0))
            ended = at(end)
            final = self._final(CallStatus.COMPLETED, answered_by, end - answer, 0, t0,
                                at(answer), ended)
            final["voicemail_left"] = left
            final["amd_at"] = to_iso(at(beep))
            if left:
                final["transcript"] = [{"role": "agent", "text": req.context.voicemail_message,
                                        "at_s": round(beep - answer, 2)}]
            last(ended, final)
            return {"final": final, "events": events}
        # A human answers: AMD (DetectMessageEnd) says "human" almost at once.
        step(answer + 0.2, EventKind.HUMAN, answered_by="human")
        followup = ":callback:" in req.attempt_key
        talk, convo = self._converse(req.context, req.to, rng, wps, followup)
        end = answer + talk
        when = at(end)
        final = self._final(CallStatus.COMPLETED, "human", talk, convo["turns"], t0,
                            at(answer), when)
        final["amd_at"] = to_iso(at(answer + 0.2))
        final["transcript"] = convo["transcript"]
        if progress:
            for utt in convo["transcript"]:     # each line when it is said, for a watcher
                step(answer + utt["at_s"], EventKind.LINE,
                     detail={"role": utt["role"], "text": utt["text"], "at_s": utt["at_s"]})
        final["label"] = convo["label"]
        events.append((when, CallEvent(cid, EventKind.CONVERSATION, when, turns=convo["turns"],
                                       transcript=convo["transcript"], end=convo["end"])))
        last(when, final)
        return {"final": final, "events": events}

    def _converse(self, ctx: CallContext, e164: str, rng: random.Random, wps: float,
                  followup: bool = False):
        pinned = self.profile.numbers.get(e164)
        persona = self.persona_for(e164)
        if followup and persona == "callback" and not (pinned and pinned.lines):
            persona = "callback_followup_" + ("yes" if rng.random() < 0.5 else "no")
        if pinned and pinned.lines:
            lines = list(pinned.lines)
        else:
            lines = [rng.choice(turn) for turn in SCRIPTS[persona]]
        session = self.brain.open(ctx)
        t = 0.3
        greeting = session.opening()
        t += _speak(greeting, wps)
        end = None
        for line in lines:
            t += _tri(rng, self.profile.timing["reply_delay"])
            spoke_at = t
            t += _speak(line, wps)
            said = len(session.transcript)
            text, end = collect(session.respond(line, at_s=t))
            t += rng.uniform(0.3, 0.9)
            # The brain stamps a turn when it hears the words (the end of speech, as a
            # live relay does); a review reads when each side *began* speaking, so the
            # network that timed the speech restamps this turn's lines.
            for utt in session.transcript[said:]:
                utt.at_s = spoke_at if utt.role == "caller" else t
            t += _speak(text, wps)
            if end is not None:
                break
        if end is None:
            t += rng.uniform(0.5, 1.5)       # the callee hangs up
            end = session.finish(at_s=t)
        return t, {
            "turns": session.caller_turns, "transcript": session.transcript_dicts(),
            "end": end, "label": None if end is None else str(end.disposition),
        }

    def _final(self, status: CallStatus, answered_by: str | None, talk_s: float, turns: int,
               t0: datetime, answered: datetime | None, ended: datetime) -> dict[str, Any]:
        duration = int(math.ceil(talk_s)) if answered else 0
        billed = int(math.ceil(duration / 60)) if duration else 0
        return {
            "status": str(status), "answered_by": answered_by, "duration_s": duration,
            "billed_minutes": billed, "price": round(billed * self.profile.price_per_minute, 5),
            "turns": turns, "start": to_iso(answered) if answered else None,
            "end": to_iso(ended),
        }

    @staticmethod
    def _ended(call_id: int, when: datetime, final: dict[str, Any]) -> CallEvent:
        return CallEvent(
            call_id, EventKind.ENDED, when, status=CallStatus(final["status"]),
            answered_by=final["answered_by"], duration_s=final["duration_s"],
            billed_minutes=final["billed_minutes"], price=final["price"], price_unit="USD",
            voicemail_left=bool(final.get("voicemail_left")), error=final.get("error"),
            # A human call's transcript comes with the CONVERSATION event; a machine's
            # (the voicemail message left) only here.
            transcript=final.get("transcript") if final["answered_by"] != "human" else None,
            detail={k: v for k, v in (("answered_at", final["start"]),
                                      ("amd_at", final.get("amd_at"))) if v},
        )


def _speak(text: str, wps: float) -> float:
    words = len((text or "").split())
    return words / wps if words else 0.0


def _stable_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _state(entry: dict[str, Any]) -> CallState:
    return CallState(
        sid=entry["sid"], status=CallStatus(entry["status"]), to=entry["to"],
        from_=entry["from"], answered_by=entry.get("answered_by"),
        duration_s=entry.get("duration_s"), billed_minutes=entry.get("billed_minutes"),
        price=entry.get("price"), price_unit="USD",
        start_time=from_iso(entry.get("start")), end_time=from_iso(entry.get("end")),
    )
