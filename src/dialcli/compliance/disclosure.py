"""Disclosure check: does the agent say who is calling, and how to stop the calls?

An AI voice is an "artificial voice" under the TCPA (FCC 24-17), so 47 CFR
64.1200(b) applies: state the business responsible **at the beginning** of the call,
and offer an opt-out. State laws tighten the timing (CT 10 s, WA and FL 30 s, MA one
minute). dialcli cannot judge legal sufficiency; it catches the two mistakes a
template makes most often, before any call is placed:

* ``identity``: the greeting's first sentence names no caller or business. A bare
  salutation ("Hi {{NAME}}!") does not count as the first sentence; the sentence
  after it does. Accepted: "this is Zara", "my name is ...", "I'm Zara", "Zara
  calling", "from/with/on behalf of Acme" (a capitalised name or a ``{{TOKEN}}``
  other than the lead's own NAME/EMAIL).
* ``opt_out``: neither the greeting nor the system prompt gives the callee a way to
  stop the calls ("press 9", "say stop", "remove you from our list", "opt out",
  "do not call", the OPT_OUT label).
* ``recording`` (only for a campaign that records): the greeting does not say the call
  is recorded (``compliance.recording``).

``check_agent`` returns warnings; ``enforce(warnings, strict=True)`` turns them into a
``DisclosureError`` (exit 2) for ``--strict``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialcli.compliance.recording import has_notice as has_recording_notice
from dialcli.compliance.recording import notice_hint as recording_notice_hint
from dialcli.errors import InputError

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "inc", "co", "corp", "ltd", "llc", "jr",
                  "sr", "no", "vs", "etc", "u.s", "e.g", "i.e"}
_TOKEN = r"\{\{\s*(?!(?:NAME|EMAIL)\s*\}\})[A-Za-z_][\w]*\s*\}\}"
_PROPER = rf"(?:[A-Z][\w&'’.-]*|{_TOKEN})"
_IDENTITY = [
    re.compile(rf"\b(?i:this|it)\s+is\s+{_PROPER}"),
    re.compile(rf"\b(?i:my\s+name\s+is)\s+{_PROPER}"),
    re.compile(rf"\b(?:I'm|I’m|I\s+am)\s+{_PROPER}"),
    re.compile(rf"(?<![\w'’])(?!I\b|I['’]m\b){_PROPER}\s+(?:here|calling)\b"),
    re.compile(rf"\b(?i:from|with|of|on\s+behalf\s+of|representing|calling\s+for)\s+"
               rf"(?:the\s+)?{_PROPER}"),
]
_OPT_OUT = re.compile(
    r"\bpress(?:ing)?\s+(?:\d|one|two|nine|star|pound)\b|\bopt[\s_-]?out\b|\bunsubscribe\b"
    r"|\bstop\s+(?:calling|these\s+calls|the\s+calls|receiving|contacting)\b|\bsay\s+[\"'“]?stop"
    r"|\bremov(?:e|ed|al)\b[^.?!]{0,40}\b(?:list|number|calls?)\b|\bbe\s+removed\b"
    r"|\bdo[\s-]+not[\s-]+call\b|\bdon'?’?t\s+call\b|\bno\s+longer\s+(?:be\s+called|receive)",
    re.I,
)
_SALUTATION = re.compile(
    r"^(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|greetings|dear)\b[,\s]*"
    r"(?:[^\s.!?]+[,\s]*){0,3}$", re.I)   # a greeting and at most a name: "Hi Mr Smith"


def is_notice(sentence: str) -> bool:
    """Whether ``sentence`` is a notice the law asks for -- how to stop the calls, or
    that the call is recorded -- rather than what the call is about."""
    return bool(_OPT_OUT.search(sentence)) or has_recording_notice(sentence)


@dataclass(frozen=True)
class DisclosureWarning:
    code: str          # 'identity' | 'opt_out'
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.message} {self.hint}"


class DisclosureError(InputError):
    """``--strict`` and the agent fails the disclosure check (exit 2)."""


def sentences(text: str) -> list[str]:
    """Split on . ! ? followed by space/end, keeping abbreviations and {{tokens}} whole."""
    out, start, depth = [], 0, 0
    i = 0
    while i < len(text):
        if text.startswith("{{", i):
            depth += 1
            i += 2
            continue
        if text.startswith("}}", i) and depth:
            depth -= 1
            i += 2
            continue
        ch = text[i]
        if ch in ".!?" and not depth:
            nxt = text[i + 1:i + 2]
            word = re.findall(r"[\w.]+$", text[start:i])
            abbrev = bool(word) and word[-1].lower() in _ABBREVIATIONS and ch == "."
            if (nxt == "" or nxt.isspace()) and not abbrev:
                piece = text[start:i + 1].strip()
                if piece:
                    out.append(piece)
                start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def first_sentence(greeting: str) -> str:
    """The first sentence that is more than a salutation ("Hi {{NAME}}!")."""
    parts = sentences(" ".join(greeting.split()))
    for i, part in enumerate(parts):
        if _SALUTATION.match(part.rstrip(".!?, ")) and i + 1 < len(parts):
            continue
        return part
    return ""


def identifies_caller(greeting: str) -> bool:
    sentence = first_sentence(greeting)
    return any(p.search(sentence) for p in _IDENTITY)


def offers_opt_out(*texts: str | None) -> bool:
    return any(t and _OPT_OUT.search(t) for t in texts)


def check_agent(greeting: str, prompt: str | None = None, *,
                record: bool = False) -> list[DisclosureWarning]:
    """Disclosure warnings for an agent's greeting and system prompt (empty = fine);
    ``record``: the campaign records, so the greeting must announce it
    (``compliance.recording``)."""
    warnings = []
    if record and not has_recording_notice(greeting):
        warnings.append(DisclosureWarning(
            "recording",
            "The campaign records its calls, but the greeting does not say so.",
            "Where recording needs every party's consent (CA, FL, IL, MD, MA, PA, WA and "
            "others) the first words must announce it. " + recording_notice_hint(),
        ))
    if not identifies_caller(greeting or ""):
        shown = first_sentence(greeting or "") or "(empty)"
        warnings.append(DisclosureWarning(
            "identity",
            f"The greeting's first sentence does not say who is calling: {shown!r}.",
            "Name the caller and the business at the start, e.g. \"Hi {{NAME}}, this is "
            "Zara from Acme Recovery.\" (47 CFR 64.1200(b)(1)).",
        ))
    if not offers_opt_out(greeting, prompt):
        warnings.append(DisclosureWarning(
            "opt_out",
            "The agent gives the callee no way to opt out of further calls.",
            "Say it in the greeting (\"press 9 to stop these calls\") and tell the agent in "
            "its prompt to confirm removal and label OPT_OUT when asked.",
        ))
    return warnings


def enforce(warnings: list[DisclosureWarning], *, strict: bool) -> list[DisclosureWarning]:
    """Return ``warnings``; with ``strict`` raise ``DisclosureError`` if there are any."""
    if strict and warnings:
        raise DisclosureError(
            "The agent fails the disclosure check (--strict): "
            + " ".join(w.message for w in warnings),
            hint=" ".join(w.hint for w in warnings),
        )
    return warnings
