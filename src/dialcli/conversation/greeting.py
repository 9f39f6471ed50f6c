"""When the agent says its first words on a live call: greet a person, never a machine.

Twilio's ``welcomeGreeting`` is spoken the moment the call connects, before any
answering-machine verdict, so a voicemail box would record "Hi Alex, this is Zara..."
followed by the voicemail message. dialcli therefore sends the greeting itself, when
the first of these happens (``GreetingGate``):

* AMD says ``human``;
* the callee finishes a first utterance that does not read as a machine greeting
  ("Hello?", "Yes?", "This is Alex");
* a short silence passes with no speech and no verdict (``GREET_AFTER_SILENCE_S``).

A machine verdict (``machine_start``, ``machine_end_*``, ``fax``) before that means
nothing was said: the voicemail action runs (the message after the beep, or a
hang-up) and the agent stays silent. A transcript that reads as a machine greeting
("you've reached...", "leave a message after the tone", "deje su mensaje") never
makes the agent talk: it waits for the beep verdict, or -- if AMD stays silent -- for
the greeting to end (``MACHINE_QUIET_S`` with no more machine speech), then runs the
voicemail action itself. A machine verdict after the greeting started (AMD is
sometimes late: a person-like "Hi, this is Alex." before "...leave a message") stops
the agent at once; the voicemail action follows.

``AnsweredBy=unknown`` (AMD could not decide within its timeout) is treated by what
was heard: machine words -> machine (voicemail action); otherwise a person, greeted at
once if not already. Dead air to a person is the costly mistake (it is an abandoned
call in law, below); a greeting to an undecidable machine costs one short recording.

Abandonment: 47 CFR 64.1200(a)(7) counts a telemarketing call as abandoned when the
called person is not connected to a (live) agent within two seconds of their completed
greeting, and caps abandoned calls at 3% per campaign per 30 days. The defaults keep
the silence after the callee's first words well under that: the greeting goes out
when their first utterance arrives (server-added <= 300 ms p99, measured by
``bench/live_bench.py``), and a callee who says nothing hears the agent after
``GREET_AFTER_SILENCE_S`` = 1.5 s of silence, counted from the moment the relay
session opens (a few hundred ms after pick-up) -- long enough that an answering
machine, which starts talking within about a second, is heard first (its speech,
reported by partial prompts, suspends the timer), short enough that a silent
person is not left waiting much beyond the 2 s a person who said "Hello?" is
guaranteed.

The gate is a plain state machine over injected times (seconds since the relay
session started), so it is tested without a network; ``providers.twilio.relay``
feeds it and carries out its decisions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Greet a callee who has said nothing after this long (see the module docstring).
GREET_AFTER_SILENCE_S = 1.5
#: A machine greeting heard but no AMD verdict: it is over after this long without more
#: machine speech (the beep comes ~0.5-1 s after the last word); then the voicemail
#: action runs without waiting for AMD.
MACHINE_QUIET_S = 3.0
#: Never wait on a machine longer than this in total (a greeting that never stops).
MACHINE_MAX_WAIT_S = 30.0
#: The abandonment limit the defaults respect (47 CFR 64.1200(a)(7)).
ABANDON_LIMIT_S = 2.0

MACHINE_VERDICTS = ("machine_start", "machine_end_beep", "machine_end_silence",
                    "machine_end_other", "fax")

GREET, VOICEMAIL, STOP, RESUME = "greet", "voicemail", "stop", "resume"

# Phrases of answering-machine and carrier greetings, English and Spanish. They must
# not match what a person says on picking up ("Hello?", "Yes, this is Alex", "Who is
# this?"), so each names the machine's situation, not a greeting word.
_MACHINE = re.compile("|".join([
    r"\byou(?:'ve| have) reached\b", r"\bhas reached\b", r"\bthank you for calling\b",
    r"\b(?:leave|record) (?:me |us )?(?:a |your )?(?:brief |short |detailed )?"
    r"(?:message|name and number|voice ?mail)\b",
    r"\b(?:after|at) the (?:tone|beep)\b", r"\bvoice ?mail\b", r"\bmailbox\b",
    # "not available" alone is also what a person says for someone else ("he's not
    # available, can I take a message?"): only with a machine's instruction.
    r"\b(?:not available|unavailable)\b.*\b(?:leave|record|tone|beep)\b",
    r"\b(?:i|we)(?:'m| am|'re| are)? (?:can't|cannot|can not|unable to) "
    r"(?:come to|get to|take|answer) (?:the phone|your call)\b",
    r"\bthe (?:person|number|subscriber|party|customer) you (?:are|were|have) "
    r"(?:trying to reach|dialed|called|calling)\b",
    r"\bget back to you as soon as\b", r"\bnot in service\b",
    r"\bhas been disconnected\b", r"\bplease try again later\b",
    r"\bpress (?:one|1|pound|star)\b", r"\bwhen you hear the\b",
    r"\bgoogle (?:voice|subscriber)\b", r"\bcall screening\b", r"\bstate your name\b",
    # Call screeners (Google Call Screen, iPhone): "say your name and why you're calling".
    r"\b(?:say|state|record|leave|tell me) (?:your|their) (?:full )?name and (?:the )?(?:reason|why|what)\b",
    r"\b(?:virtual|automated|ai|digital) assistant\b|\bassistant (?:answering|screening|taking) (?:this|the|your) call\b",
    r"\b(?:can ?not|could not|couldn't) be completed\b", r"\bpress (?:[0-9]|two|three|four|five|six|seven|eight|nine|zero)\b",
    r"\bsuscriptor\b", r"\bbuz[oó]n de mensajes\b",
    r"\bscreening (?:service|their calls|your call|this call)\b|\bbeing screened\b",
    r"\bsee if (?:this person|the person|they|he|she) (?:is|are) available\b",
    # Spanish (es-US, es-MX)
    r"\bdej(?:e|a|en) (?:su |tu |un )?(?:mensaje|recado)\b", r"\bbuz[oó]n de voz\b",
    r"\bdespu[eé]s del (?:tono|pitido|bip)\b", r"\b(?:ha|has) llamado a(?:l)?\b",
    r"\bno (?:puedo|podemos) (?:contestar|atender)\b",
    r"\bno (?:est[aá]|estoy|estamos) disponibles?\b.*\b(?:deje|mensaje|tono)\b",
    r"\bcorreo de voz\b", r"\bse ha comunicado con\b", r"\bgracias por llamar\b",
    r"\bel n[uú]mero (?:que )?(?:usted )?(?:marc[oó]|ha marcado|llam[oó])\b",
    r"\ble devolver(?:e|é|emos) la llamada\b",
]), re.IGNORECASE)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    return " ".join(text.lower().split())


def sounds_like_machine(text: str) -> bool:
    """True when ``text`` reads as an answering machine's or carrier's greeting."""
    return bool(text) and _MACHINE.search(_fold(text)) is not None


@dataclass
class GreetingGate:
    """Decides when to greet, and when the callee turned out to be a machine.

    Methods return an action: ``GREET`` (send the greeting now), ``VOICEMAIL`` (a
    machine without a verdict: run the voicemail action), ``STOP`` (a machine: stop
    talking; the voicemail action is on its way, or a verdict is awaited), ``RESUME``
    (AMD says human after all: carry on), or None (nothing to do yet).

    States: ``waiting`` (no greeting yet), ``greeted``, ``held`` (greeted, then machine
    words: silent until the verdict or the greeting's end), ``machine`` (final).
    """

    silence_s: float = GREET_AFTER_SILENCE_S
    machine_quiet_s: float = MACHINE_QUIET_S
    machine_max_s: float = MACHINE_MAX_WAIT_S
    state: str = "waiting"          # waiting -> greeted <-> held -> machine
    machine: bool = False           # machine words heard, or AMD said machine_start
    machine_since: float | None = None
    speaking: bool = False          # a partial utterance is in progress
    last_speech: float | None = None
    reason: str = ""                # why the greeting went out (or why a machine)

    @property
    def waiting(self) -> bool:
        return self.state == "waiting"

    @property
    def greeted(self) -> bool:
        return self.state == "greeted"

    def _greet(self, reason: str) -> str:
        self.state, self.reason = "greeted", reason
        return GREET

    def _machine(self, at: float, reason: str) -> None:
        if not self.machine:
            self.machine, self.machine_since = True, at
            self.reason = reason

    def speech(self, text: str, final: bool, at: float) -> str | None:
        """The callee said something (a partial or a final utterance)."""
        if self.state == "machine":
            return None
        self.last_speech = at
        self.speaking = not final
        if sounds_like_machine(text):
            self._machine(at, "machine greeting in the transcript")
            if self.greeted:
                self.state = "held"
                return STOP
            return None
        if self.waiting and final and not self.machine and text.strip():
            return self._greet("the callee spoke")
        return None

    def machine_heard(self, at: float, reason: str) -> str | None:
        """Something else (the brain) recognised a machine: silent until the verdict or
        the greeting's end, as for machine words in the transcript."""
        if self.state == "machine":
            return None
        self._machine(at, reason)
        self.last_speech = at
        self.state = "held"
        return STOP

    def verdict(self, answered_by: str, at: float) -> str | None:
        """An AMD verdict (``AnsweredBy``)."""
        if self.state == "machine":
            return None
        if answered_by == "human":
            if self.state == "held":
                self.state, self.machine, self.machine_since = "greeted", False, None
                return RESUME
            return self._greet("AMD: human") if self.waiting else None
        if answered_by in MACHINE_VERDICTS or answered_by.startswith("machine"):
            self._machine(at, f"AMD: {answered_by}")
            if answered_by == "machine_start":
                if self.greeted:       # late: stop talking; machine_end follows
                    self.state = "held"
                    return STOP
                return None
            self.state = "machine"
            return STOP
        if answered_by == "unknown":
            if self.machine:
                self.state = "machine"
                return VOICEMAIL
            return self._greet("AMD: unknown, no machine heard") if self.waiting else None
        return None

    def next_deadline(self) -> float | None:
        """When ``due`` may next act (None: only on new input)."""
        if self.state == "machine":
            return None
        if self.machine:
            assert self.machine_since is not None
            limit = self.machine_since + self.machine_max_s
            if self.last_speech is None:
                return limit          # AMD's machine_start, nothing transcribed: its machine_end
            quiet_from = max(self.machine_since, self.last_speech)
            return min(quiet_from + self.machine_quiet_s, limit)
        if self.waiting:
            return (self.last_speech or 0.0) + self.silence_s
        return None

    def due(self, at: float) -> str | None:
        """Timers: the silence before a greeting, the end of a machine's greeting."""
        deadline = self.next_deadline()
        if deadline is None or at < deadline:
            return None
        if self.machine:
            self.state = "machine"
            self.reason += "; the greeting ended without an AMD verdict"
            return VOICEMAIL
        if self.waiting:
            return self._greet("silence" if self.last_speech is None
                               else "the callee stopped speaking")
        return None
