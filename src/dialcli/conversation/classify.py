"""Label a finished call the brain did not label (the caller hung up first, the
socket dropped, the LLM never called ``end_call``).

``classify_transcript(transcript, lead_name="")`` returns an
``EndCall``, or ``None`` when the caller never said a word (no real caller turn:
the engine's short-call rule decides). Keypad 9 is an opt-out whatever else
happened, even in silence.

Without an LLM the rules decide (``classify_by_rules``): each caller line is read
with the rule brain's intent patterns, in order, with the agent line before it as
context -- an opt-out anywhere wins (also one a recogniser cut in two turns: "i asked
not to" | "be called"), then a wrong number, then a voicemail greeting
as the first thing "said", then the caller's last decisive intent (callback, not
interested, interested); a bare yes/no counts when it answers the agent's question
about a follow-up, a callback or the caller's identity. Anything else -> COMPLETED.

With an LLM configured the label comes from ``postcall.label_call`` (one
schema-constrained request, parsed and validated by ``postcall.parse``), with these
rules as its fallback and as its opt-out cross-check: one piece of code reads a
model's JSON label.
"""

from __future__ import annotations

import re
from typing import Any

from dialcli.conversation.base import EndCall
from dialcli.conversation.intents import Intent, continued_opt_out, first_name, read
from dialcli.conversation.rules import confirms_opt_out
from dialcli.models import Disposition

PREFIX = "Labelled after the call: "

_FOLLOW_UP_Q = re.compile(r"\b(?:follow up|interested|set (?:it|that|you|this) up|sign (?:you )?up|"
                          r"schedule|book|go ahead|move forward|proceed|get started|enroll)\b", re.I)
_OPT_OUT_Q = re.compile(r"\bstop calling\b|\b(?:take|remove) (?:you|your number)\b|"
                        r"\bnot (?:to )?(?:be )?call(?:ed)? (?:you )?again\b", re.I)
_CALLBACK_Q = re.compile(r"\bcall (?:you )?back\b|\bbetter time\b", re.I)
_IDENTITY_Q = r"\b(?:am i (?:speaking|talking) (?:with|to)|is this {name}|are you {name})\b"

def _lines(transcript: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(u.get("role", "")), str(u.get("text") or "")) for u in transcript or []]


def real_caller_turns(transcript: list[dict[str, Any]]) -> int:
    """Caller utterances with at least one word."""
    return sum(1 for role, text in _lines(transcript) if role == "caller" and re.search(r"\w", text))


def classify_by_rules(transcript: list[dict[str, Any]], *, lead_name: str = "") -> EndCall | None:
    """The rules' label for a finished call (see the module docstring)."""
    lines = _lines(transcript)
    if any(role == "dtmf" and text.strip() == "9" for role, text in lines):
        return EndCall(Disposition.OPT_OUT, PREFIX + "pressed 9 to opt out.")
    if not real_caller_turns(transcript):
        return None
    first = first_name(lead_name)
    readings = []
    asked = ""
    for role, text in lines:
        if role == "agent":
            asked = text
        elif role == "caller" and re.search(r"\w", text):
            readings.append((text, read(text, first), asked))
    flags = [r.intent for _, r, _ in readings]
    if Intent.OPT_OUT in flags or any(continued_opt_out(a, b, first) for (a, _, _), (b, _, _)
                                      in zip(readings, readings[1:])):
        return EndCall(Disposition.OPT_OUT, PREFIX + "the caller asked not to be called again.")
    if Intent.WRONG_NUMBER in flags:
        return EndCall(Disposition.WRONG_NUMBER, PREFIX + "the caller said it was the wrong number.")
    if flags[0] is Intent.VOICEMAIL and not set(flags) & _DECISIVE:
        return EndCall(Disposition.VOICEMAIL, PREFIX + "an answering machine greeting.")

    decided: tuple[Disposition, str] | None = None
    callback_text: str | None = None
    for text, r, question in readings:
        yes = r.intent in (Intent.AFFIRM, Intent.CONFIRM_IDENTITY) or (
            r.intent is Intent.ASK_INFO and r.has(Intent.AFFIRM))
        no = r.intent is Intent.DENY
        if _OPT_OUT_Q.search(_last_sentence(question)) and confirms_opt_out(r):
            return EndCall(Disposition.OPT_OUT,
                           PREFIX + "the caller confirmed they do not want to be called again.")
        if r.intent is Intent.CALLBACK or (r.intent is Intent.TIME and decided and
                                           decided[0] is Disposition.CALLBACK):
            decided = (Disposition.CALLBACK, "the caller asked to be called back")
            callback_text = text if r.time_phrase else callback_text
        elif r.intent is Intent.NOT_INTERESTED:
            decided = (Disposition.NOT_INTERESTED, "the caller declined")
        elif r.intent is Intent.INTERESTED:
            decided = (Disposition.INTERESTED, "the caller said they were interested")
        elif question.rstrip().endswith("?") and (yes or no):
            identity = _IDENTITY_Q.format(name=re.escape(first) if first else r"the right person")
            if no and re.search(identity, _last_sentence(question), re.I):
                return EndCall(Disposition.WRONG_NUMBER,
                               PREFIX + "the caller is not the person being called.")
            if _FOLLOW_UP_Q.search(_last_sentence(question)):
                decided = ((Disposition.INTERESTED, "the caller accepted a follow-up") if yes
                           else (Disposition.NOT_INTERESTED, "the caller declined a follow-up"))
            elif _CALLBACK_Q.search(_last_sentence(question)):
                decided = ((Disposition.CALLBACK, "the caller agreed to a callback") if yes
                           else (Disposition.NOT_INTERESTED, "the caller declined a callback"))
        elif decided and decided[0] is Disposition.CALLBACK and r.time_phrase:
            callback_text = text
    if decided is None:
        return EndCall(Disposition.COMPLETED, PREFIX + "no clear outcome.")
    disposition, why = decided
    if disposition is Disposition.CALLBACK:
        return EndCall(disposition, PREFIX + why + ".", callback_text=callback_text)
    return EndCall(disposition, PREFIX + why + ".")


_DECISIVE = {Intent.CALLBACK, Intent.NOT_INTERESTED, Intent.INTERESTED}


def _last_sentence(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p]
    return parts[-1] if parts else ""


def classify_transcript(transcript: list[dict[str, Any]], *, lead_name: str = "") -> EndCall | None:
    """Label a finished call by the rules; None when the caller never spoke (and did
    not press 9). The LLM's label, when one is configured, is ``postcall.label_call``:
    it runs where the call ends, never in the engine's write transaction."""
    return classify_by_rules(transcript, lead_name=lead_name)
