"""Regression cases for an agent: play scripted callee turns through a brain, check
the outcome. ``dialcli agent test`` and ``bench/brain_eval.py`` both run on this.

A case is one row of a CSV with the columns

* ``caller``   -- the callee's turns, separated by `` | `` (``/9`` presses a key);
* ``expected`` -- the disposition the call must end with (``OPT_OUT``, ``CALLBACK``,
  ...) or ``CONTINUE`` when the call must still be going after those turns;
* ``callback_at`` (optional) -- the callback's local time, ``YYYY-MM-DD HH:MM``, or
  an inclusive range ``A..B``.

Each case is a fresh conversation with the same brain a live call uses (the rules,
or the LLM with the rules standing by), opened with the agent's greeting rendered
for the lead. Turns after the call ended are not played. The callback instant is
resolved as the engine resolves it (``callback_time.callback_due``) at a fixed
``now`` in the lead's zone, so a suite gives the same answer every day it is run.
Moving the callback into a campaign's calling window is the engine's job and is not
part of the check.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from dialcli.conversation.base import Brain, CallContext, EndCall, collect
from dialcli.conversation.callback_time import callback_due, zone_for
from dialcli.errors import InputError
from dialcli.models import Agent, Disposition, VoicemailAction
from dialcli.templates import lead_context, render

CONTINUE = "CONTINUE"
#: Outcomes a case may expect: what a conversation can end with, or still going.
EXPECTABLE = ("INTERESTED", "NOT_INTERESTED", "CALLBACK", "WRONG_NUMBER", "OPT_OUT",
              "VOICEMAIL", "COMPLETED", CONTINUE)
TURN_SEPARATOR = "|"
MAX_CASES = 10_000
_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class Case:
    """One scripted conversation and what it must come to."""

    line: int                                   # CSV line number (for messages)
    caller: str                                 # the turns as written
    turns: tuple[str, ...]
    expected: str                               # a disposition or CONTINUE
    callback_range: tuple[datetime, datetime] | None = None   # naive local, inclusive
    callback_raw: str = ""


@dataclass(frozen=True)
class CaseResult:
    case: Case
    got: str                                    # the disposition, or CONTINUE
    callback_local: datetime | None             # aware, the lead's zone
    last_reply: str                             # what the agent said last
    passed: bool
    why: str = ""                               # '' when passed

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` line: caller, expected, got, callback_at, pass (+ detail)."""
        at = self.callback_local
        return {"caller": self.case.caller, "expected": self.case.expected, "got": self.got,
                "callback_at": at.replace(tzinfo=None).isoformat(timespec="minutes") if at else None,
                "pass": self.passed, "agent_said": self.last_reply, "why": self.why or None,
                "line": self.case.line}


# ------------------------------------------------------------------------ reading

def _parse_local(text: str, *, line: int) -> datetime:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise InputError(f"Line {line}: callback_at {text.strip()!r} is not a local time. "
                     "Write YYYY-MM-DD HH:MM, or a range YYYY-MM-DD HH:MM..YYYY-MM-DD HH:MM.")


def parse_callback_range(text: str, *, line: int = 0) -> tuple[datetime, datetime] | None:
    """'2026-03-05 15:00' -> (that, that); 'A..B' -> (A, B); '' -> None."""
    text = (text or "").strip()
    if not text:
        return None
    if ".." in text:
        a, b = text.split("..", 1)
        lo, hi = _parse_local(a, line=line), _parse_local(b, line=line)
        if hi < lo:
            raise InputError(f"Line {line}: the callback_at range {text!r} ends before it starts.")
        return lo, hi
    at = _parse_local(text, line=line)
    return at, at


def read_cases(source: str | Path | Iterable[str], *, name: str = "the cases file") -> list[Case]:
    """Cases from a CSV file (path) or its lines; InputError says what is wrong."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError(f"No such file: {path}. Give a CSV with the columns caller, "
                             "expected and optionally callback_at.") from None
        except UnicodeDecodeError:
            raise InputError(f"{path} is not UTF-8 text. Save it as UTF-8 CSV.") from None
        except OSError as exc:
            raise InputError(f"Could not read {path}: {exc.strerror or exc}.") from None
        name = str(path)
        lines: Iterable[str] = io.StringIO(text)
    else:
        lines = source
    reader = csv.DictReader(lines)
    fields = [(f or "").strip().lower() for f in (reader.fieldnames or [])]
    if "caller" not in fields or "expected" not in fields:
        raise InputError(f"{name} needs a header row with the columns caller and expected "
                         f"(and optionally callback_at); it has: {', '.join(fields) or 'none'}.")
    reader.fieldnames = fields
    cases: list[Case] = []
    for row in reader:
        line = reader.line_num
        caller = (row.get("caller") or "").strip()
        expected = (row.get("expected") or "").strip().upper().replace(" ", "_").replace("-", "_")
        if not caller and not expected:
            continue                                    # a blank line
        if not caller:
            raise InputError(f"Line {line}: the caller column is empty; write what the callee "
                             "says, turns separated by ' | '.")
        if expected not in EXPECTABLE:
            raise InputError(f"Line {line}: expected {row.get('expected')!r} is not an outcome. "
                             f"Use one of {', '.join(EXPECTABLE)}.")
        raw_at = (row.get("callback_at") or "").strip()
        window = parse_callback_range(raw_at, line=line)
        if window is not None and expected != "CALLBACK":
            raise InputError(f"Line {line}: callback_at is only checked for CALLBACK cases; "
                             f"this one expects {expected}.")
        turns = tuple(t.strip() for t in caller.split(TURN_SEPARATOR) if t.strip())
        cases.append(Case(line, caller, turns, expected, window, raw_at))
        if len(cases) > MAX_CASES:
            raise InputError(f"{name} has more than {MAX_CASES:,} cases; split it.")
    if not cases:
        raise InputError(f"{name} has no cases: add rows with caller and expected.")
    return cases


# ------------------------------------------------------------------------ running

def agent_context(agent: Agent, *, lead_name: str = "", tz: str | None = None,
                  lead_vars: dict[str, object] | None = None,
                  now: datetime | None = None) -> CallContext:
    """The call context a live call to this lead would have (texts rendered for it),
    placed at ``now``."""
    tokens = lead_context(lead_name or None, None, lead_vars or {})
    return CallContext(
        call_id=0, campaign="agent-test", agent=agent.name, to="+10000000000", from_="+10000000000",
        greeting=render(agent.greeting, tokens), system_prompt=render(agent.system_prompt, tokens),
        voicemail_message=render(agent.voicemail_message or "", tokens),
        voicemail_action=(VoicemailAction.MESSAGE if agent.voicemail_message
                          else VoicemailAction.HANGUP),
        language=agent.language or "en-US", voice=agent.voice, lead_name=lead_name,
        lead_vars=dict(lead_vars or {}), recipient_tz=tz, llm_model=agent.llm_model,
        placed_at=now,
    )


def play(brain: Brain, ctx: CallContext, turns: Iterable[str]) -> tuple[str, EndCall | None, list[str]]:
    """Open a session, speak the greeting, play ``turns`` until the call ends.

    Returns (the agent's last line, the EndCall or None, every agent line). A turn
    ``/D`` (one keypad character) is a keypress.
    """
    session = brain.open(ctx)
    said = [session.opening()]
    end: EndCall | None = None
    for n, turn in enumerate(turns):
        at_s = 3.0 * (n + 1)
        if len(turn) == 2 and turn[0] == "/" and turn[1] in "0123456789*#":
            text, end = collect(session.on_dtmf(turn[1], at_s))
        else:
            text, end = collect(session.respond(turn, at_s))
        said.append(text)
        if end is not None or session.result is not None:
            end = end or session.result
            break
    return said[-1], end, said


def callback_local(end: EndCall | None, now: datetime, tz: str | None) -> datetime | None:
    """Where the engine would put this call's callback, in the lead's zone."""
    if end is None or end.disposition is not Disposition.CALLBACK:
        return None
    due = callback_due(end.callback_at, end.callback_text, now, tz)
    return due.due_utc.astimezone(zone_for(tz))


def run_case(brain: Brain, ctx: CallContext, case: Case, now: datetime) -> CaseResult:
    last, end, _ = play(brain, ctx, case.turns)
    got = str(end.disposition) if end is not None else CONTINUE
    at = callback_local(end, now, ctx.recipient_tz)
    why = ""
    if got != case.expected:
        why = f"expected {case.expected}, got {got}"
    elif case.callback_range is not None:
        lo, hi = case.callback_range
        local = at.replace(tzinfo=None, second=0, microsecond=0) if at else None
        if local is None or not lo <= local <= hi:
            shown = local.strftime("%Y-%m-%d %H:%M") if local else "none"
            why = f"callback at {shown}, expected {case.callback_raw}"
    return CaseResult(case, got, at, last, not why, why)


def run_cases(brain: Brain, ctx: CallContext, cases: Iterable[Case], now: datetime,
              on_result: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Every case, each a fresh conversation; ``on_result`` sees each as it finishes."""
    if now.tzinfo is None:
        raise ValueError("run_cases needs an aware 'now'")
    results = []
    for case in cases:
        result = run_case(brain, ctx, case, now)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
