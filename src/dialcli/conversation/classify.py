"""Label a finished call the brain did not label (the caller hung up first, the
socket dropped, the LLM never called ``end_call``).

``classify_transcript(transcript, llm=None, http=None, lead_name="")`` returns an
``EndCall``, or ``None`` when the caller never said a word (no real caller turn:
the engine's short-call rule decides). Keypad 9 is an opt-out whatever else
happened, even in silence.

Without an LLM the rules decide (``classify_by_rules``): each caller line is read
with the rule brain's intent patterns, in order, with the agent line before it as
context -- an opt-out anywhere wins, then a wrong number, then a voicemail greeting
as the first thing "said", then the caller's last decisive intent (callback, not
interested, interested); a bare yes/no counts when it answers the agent's question
about a follow-up, a callback or the caller's identity. Anything else -> COMPLETED.

With an LLM configured, one non-streaming chat completion asks for the label as a
JSON object; any failure (HTTP, timeout, unparseable or unknown label) falls back to
the rules. The rules still override the model on an opt-out: missing one is a
compliance failure, a false one only costs a lead.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx

from dialcli.config import LLMSettings
from dialcli.conversation.base import EndCall
from dialcli.conversation.intents import Intent, first_name, read
from dialcli.conversation.rules import confirms_opt_out
from dialcli.models import Disposition

log = logging.getLogger(__name__)

LABELS = ("INTERESTED", "NOT_INTERESTED", "CALLBACK", "WRONG_NUMBER", "OPT_OUT", "VOICEMAIL",
          "COMPLETED")
PREFIX = "Labelled after the call: "

_FOLLOW_UP_Q = re.compile(r"\b(?:follow up|interested|set (?:it|that|you|this) up|sign (?:you )?up|"
                          r"schedule|book|go ahead|move forward|proceed|get started|enroll)\b", re.I)
_OPT_OUT_Q = re.compile(r"\bstop calling\b|\b(?:take|remove) (?:you|your number)\b|"
                        r"\bnot (?:to )?(?:be )?call(?:ed)? (?:you )?again\b", re.I)
_CALLBACK_Q = re.compile(r"\bcall (?:you )?back\b|\bbetter time\b", re.I)
_IDENTITY_Q = r"\b(?:am i (?:speaking|talking) (?:with|to)|is this {name}|are you {name})\b"

CLASSIFY_PROMPT = """\
You label finished outbound phone calls. Read the transcript and answer with one JSON \
object only, no other text:
{"disposition": "<label>", "summary": "<one sentence>", "callback_at": "<when, or null>"}
Labels: INTERESTED (wants to go ahead or be followed up), NOT_INTERESTED (declined), \
CALLBACK (asked to be called another time; callback_at = their words for when), \
WRONG_NUMBER (not the person being called), OPT_OUT (asked not to be called again), \
VOICEMAIL (an answering machine answered), COMPLETED (anything else)."""


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
    if Intent.OPT_OUT in flags:
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


def classify_transcript(transcript: list[dict[str, Any]], *, llm: LLMSettings | None = None,
                        http: httpx.Client | None = None, lead_name: str = "",
                        timeout: float = 15.0) -> EndCall | None:
    """Label a finished call; None when the caller never spoke (and did not press 9)."""
    rules = classify_by_rules(transcript, lead_name=lead_name)
    if rules is None or llm is None or rules.disposition is Disposition.OPT_OUT:
        return rules
    try:
        return _classify_by_llm(transcript, llm, http, timeout)
    except _Unusable as exc:
        log.warning("post-call classification by the LLM failed (%s); rules labelled it", exc)
        return rules


class _Unusable(Exception):
    """The LLM's answer could not be used (the message never holds the key)."""


def _transcript_text(transcript: list[dict[str, Any]]) -> str:
    out = []
    for role, text in _lines(transcript):
        if role == "agent":
            out.append(f"Agent: {text}")
        elif role == "caller":
            out.append(f"Caller: {text}")
        elif role == "dtmf":
            out.append(f"(Caller pressed {text} on the keypad)")
    return "\n".join(out)


def _classify_by_llm(transcript: list[dict[str, Any]], llm: LLMSettings,
                     http: httpx.Client | None, timeout: float) -> EndCall:
    headers = {"Content-Type": "application/json"}
    if llm.api_key:
        headers["Authorization"] = f"Bearer {llm.api_key.reveal()}"
    body = {"model": llm.model, "temperature": 0, "stream": False,
            "messages": [{"role": "system", "content": CLASSIFY_PROMPT},
                         {"role": "user", "content": _transcript_text(transcript)}]}
    client = http or httpx.Client(timeout=timeout)
    try:
        resp = client.post(f"{llm.base_url.rstrip('/')}/chat/completions", json=body,
                           headers=headers, timeout=timeout)
        if resp.status_code != 200:
            raise _Unusable(f"HTTP {resp.status_code}")
        content = resp.json()["choices"][0]["message"].get("content") or ""
    except httpx.HTTPError as exc:
        raise _Unusable(type(exc).__name__) from None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise _Unusable("a malformed response") from None
    finally:
        if http is None:
            client.close()
    return _parse_label(content)


def _parse_label(content: str) -> EndCall:
    text = re.sub(r"^```(?:json)?|```$", "", content.strip(), flags=re.M).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise _Unusable("no JSON object in the answer")
    try:
        obj = json.loads(text[start:end + 1])
    except ValueError:
        raise _Unusable("unparseable JSON in the answer") from None
    if not isinstance(obj, dict):
        raise _Unusable("the answer is not an object")
    label = str(obj.get("disposition") or "").strip().upper().replace(" ", "_")
    if label not in LABELS:
        raise _Unusable(f"unknown label {label[:20]!r}")
    disposition = Disposition(label)
    summary = PREFIX + str(obj.get("summary") or "").strip()[:400]
    when = obj.get("callback_at")
    when = str(when).strip() if when not in (None, "", "null") else None
    if disposition is not Disposition.CALLBACK or not when:
        return EndCall(disposition, summary)
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", when):
        return EndCall(disposition, summary, callback_at=when)
    return EndCall(disposition, summary, callback_text=when)
