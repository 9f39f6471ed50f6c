"""Extracted fields after a call: the brain's values, checked, and what rules can add.

``extract(specs, proposed, transcript, ...)`` is the post-call step. ``proposed``
is what the brain gave (the LLM's ``end_call`` ``fields`` argument): each value is
validated against the agent's schema (``workspace.fields.validate``) and a bad one
is dropped with its reason. Fields still empty are filled by rules where the words
say it plainly, and left empty otherwise:

- a field about *when* (its name or description speaks of time, callback, date, day):
  the callback the call set (``callback_at`` for ``datetime``/``date`` fields, the
  caller's own words for ``text`` ones);
- a ``bool`` field the agent asked about (an agent line sharing a word with the
  field's name or description, ending in a question): the caller's next answer,
  read with the same intent patterns as the rule brain (yes / no; anything else
  leaves it empty);
- a ``number`` field the agent asked about: a number the caller said in reply
  ("I can do $200 on Friday" -> 200).

Free text other than a callback time is never guessed by rules. The result says
where each value came from (``by``: ``llm`` or ``rules``) and what was dropped, so a
reviewer can tell a model's answer from a pattern's.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from dialcli.conversation.intents import Intent, read
from dialcli.workspace.fields import FieldSpec, coerce, validate

_TIME_WORDS = {"time", "when", "callback", "call_back", "date", "day", "schedule", "appointment"}
_STOP = {"the", "and", "for", "with", "they", "their", "them", "this", "that", "want", "wants",
         "would", "will", "from", "what", "which", "whether", "does", "did", "have", "has",
         "caller", "person", "lead", "call", "about", "your", "you"}
_YES = (Intent.AFFIRM, Intent.INTERESTED, Intent.CONFIRM_IDENTITY)
_NO = (Intent.DENY, Intent.NOT_INTERESTED)
_NUMBER = re.compile(r"[-+]?\$?\s?\d[\d,]*(?:\.\d+)?")


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", (text or "").lower()) if len(w) >= 3}


def _keywords(spec: FieldSpec) -> set[str]:
    return (_words(spec.name.replace("_", " ")) | _words(spec.description)) - _STOP


def _mentions(line: str, keywords: set[str]) -> bool:
    """A keyword or a word sharing its first five letters (brochure/brochures)."""
    said = _words(line)
    return any(k in said or any(w[:5] == k[:5] and len(k) >= 5 for w in said)
               for k in keywords)


def _about_time(spec: FieldSpec) -> bool:
    name = spec.name.lower()
    return bool(_TIME_WORDS & (_words(name.replace("_", " ")) | _words(spec.description))) \
        or "call_back" in name or "callback" in name


def _answer_to(spec: FieldSpec, transcript: Sequence[dict[str, Any]], first: str) -> str | None:
    """The caller's reply to the agent's last question about ``spec``."""
    keys = _keywords(spec)
    if not keys:
        return None
    answer = None
    for i, u in enumerate(transcript):
        text = str(u.get("text") or "")
        if u.get("role") != "agent" or "?" not in text or not _mentions(text, keys):
            continue
        nxt = next((v for v in transcript[i + 1:] if v.get("role") in ("caller", "agent")), None)
        if nxt is not None and nxt.get("role") == "caller" and str(nxt.get("text") or "").strip():
            answer = str(nxt["text"])
    return answer


def by_rules(spec: FieldSpec, transcript: Sequence[dict[str, Any]], *,
             callback_text: str | None, callback_at: str | None, first: str = "") -> Any:
    """One field's value from the rules, or None (see the module docstring)."""
    if _about_time(spec) and spec.type in ("datetime", "date", "text"):
        if spec.type == "text":
            return callback_text
        return callback_at if spec.type == "datetime" else (callback_at or "")[:10] or None
    if spec.type not in ("bool", "number"):
        return None
    reply = _answer_to(spec, transcript, first)
    if reply is None:
        return None
    if spec.type == "bool":
        reading = read(reply, first)
        if reading.intent in _NO or reading.has(*_NO):
            return False
        if reading.intent in _YES or reading.has(*_YES):
            return True
        return None
    m = _NUMBER.search(reply)
    return m.group(0) if m else None


def extract(specs: Sequence[FieldSpec], proposed: Any, transcript: Sequence[dict[str, Any]], *,
            callback_text: str | None = None, callback_at: str | None = None,
            first: str = "") -> dict[str, Any] | None:
    """``{"values", "by", "dropped"}`` for ``calls.fields``; None with no fields declared."""
    if not specs:
        return None
    values, dropped = validate(specs, proposed)
    by = {name: "llm" for name in values}
    for spec in specs:
        if spec.name in values:
            continue
        guess = by_rules(spec, transcript, callback_text=callback_text,
                         callback_at=callback_at, first=first)
        try:
            value = coerce(spec, guess)
        except (ValueError, TypeError, OverflowError):
            value = None
        if value is not None:
            values[spec.name] = value
            by[spec.name] = "rules"
    return {"values": {s.name: values.get(s.name) for s in specs}, "by": by,
            "dropped": dropped}


__all__ = ["by_rules", "extract"]
