"""Recording consent: where a recorded call needs every party's consent, the agent's
first words must say the call is recorded.

A campaign records only when asked (``campaign edit --record``). Recording a phone
call needs the consent of all parties in some states (California, Florida, Illinois,
Maryland, Massachusetts, Montana, New Hampshire, Pennsylvania, Washington and
others: ``data/recording_consent.toml``, versioned, with sources and confidence),
and a business recording of a Canadian call needs notice under PIPEDA. The notice
("this call is recorded") at the start, before the callee goes on talking, is the
consent these laws accept in practice, so:

* a number is *covered* when any of its candidate regions is such a state -- and,
  failing closed, when its state cannot be told at all (a US number with no known
  region: the law that applies is unknown);
* ``has_notice(greeting)`` looks for the notice in the greeting, the agent's first
  words (the system prompt is not spoken first, so it does not count);
* ``check_campaign`` is the ``start`` gate: a recorded campaign whose agent has no
  notice is refused while any of its dialable leads has a covered number, naming
  the states and the fix. The disclosure lint (``disclosure.check_agent`` with
  ``record=True``) and ``preview`` say the same before that.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from dialcli.compliance.rules import is_canadian, states_of
from dialcli.errors import InputError

CANADA = "CA-*"
UNKNOWN = "unknown"

#: Words that tell the callee the call is recorded (or may be).
_NOTICE = re.compile(
    r"\b(?:this|the|our|your)\s+(?:call|conversation)\s+(?:is|will\s+be|may\s+be|might\s+be|"
    r"can\s+be|could\s+be|is\s+being)\s+(?:\w+\s+(?:and|or|&)\s+)?(?:recorded|monitored\s+and\s+"
    r"recorded|recorded\s+and\s+monitored)\b"
    r"|\b(?:we\s+(?:are|'re|will\s+be|may\s+be)|i\s+am|i'm)\s+recording\b"
    r"|\bcalls?\s+(?:are|is|may\s+be)\s+recorded\b"
    r"|\brecorded\s+(?:line|call)\b|\bfor\s+(?:quality|training)[\w\s]{0,30}\brecorded\b",
    re.I)


@dataclass(frozen=True)
class ConsentRow:
    state: str
    all_party: bool
    source: str
    confidence: str
    note: str = ""


class RecordingNoticeError(InputError):
    """A recorded campaign's agent does not announce the recording (exit 2)."""


def parse_table(text: str) -> tuple[str, dict[str, ConsentRow]]:
    data = tomllib.loads(text)
    rows = {}
    for raw in data.get("state", []):
        row = ConsentRow(str(raw["state"]).upper(), bool(raw["all_party"]), str(raw["source"]),
                         str(raw["confidence"]), str(raw.get("note", "")))
        rows[row.state] = row
    return str(data["version"]), rows


@lru_cache(maxsize=1)
def shipped_table() -> tuple[str, dict[str, ConsentRow]]:
    text = resources.files("dialcli").joinpath("data/recording_consent.toml").read_text("utf-8")
    return parse_table(text)


def table_version() -> str:
    return shipped_table()[0]


def covering(region: str | None, zones: str | None = None) -> tuple[str, ...]:
    """The all-party jurisdictions among a number's candidate regions ('CA', 'CA-*'),
    or ``(UNKNOWN,)`` when the number's state cannot be told (fail closed)."""
    _, rows = shipped_table()
    found = [s for s in states_of(region) if s in rows and rows[s].all_party]
    if is_canadian(region) and CANADA in rows and rows[CANADA].all_party:
        found.append(CANADA)
    if found:
        return tuple(found)
    if not states_of(region) and not is_canadian(region):
        return (UNKNOWN,)
    return ()


def has_notice(greeting: str | None) -> bool:
    """The greeting (the agent's first words) says the call is recorded."""
    return bool(_NOTICE.search(" ".join((greeting or "").split())))


def notice_hint() -> str:
    return ("Put it in the greeting, e.g. \"Hi {{NAME}}, this is Zara from Acme; this call "
            "is recorded.\" (dialcli agent edit AGENT --greeting ...), or turn recording off: "
            "dialcli campaign edit CAMPAIGN --no-record")


def campaign_coverage(conn, campaign_id: int) -> dict[str, int]:
    """Covered jurisdiction -> number of live phones of not-yet-final leads."""
    counts: dict[str, int] = {}
    for region, zones, n in conn.execute(
            "SELECT p.region, p.zones, COUNT(*) FROM lead_phones p JOIN leads l ON l.id = "
            "p.lead_id WHERE l.campaign_id = ? AND p.dead_reason IS NULL AND l.status NOT IN "
            "('REACHED', 'OPTED_OUT', 'EXHAUSTED', 'SKIPPED') GROUP BY p.region, p.zones",
            (campaign_id,)):
        for state in covering(region, zones):
            counts[state] = counts.get(state, 0) + n
    return counts


def _names(states: dict[str, int]) -> str:
    shown = []
    for s, n in sorted(states.items(), key=lambda kv: (-kv[1], kv[0])):
        label = {CANADA: "Canada", UNKNOWN: "an unknown state"}.get(s, s)
        shown.append(f"{label} ({n:,} number{'s' if n != 1 else ''})")
    return ", ".join(shown)


def check_campaign(conn, campaign_id: int, *, record: bool, greeting: str) -> dict | None:
    """The ``start`` gate (see the module docstring). Returns what was checked (for the
    caller to show), or raises ``RecordingNoticeError``; None when not recording."""
    if not record:
        return None
    states = campaign_coverage(conn, campaign_id)
    notice = has_notice(greeting)
    if states and not notice:
        raise RecordingNoticeError(
            "This campaign records its calls, and some of its numbers are where recording "
            f"needs every party's consent: {_names(states)}; the agent's greeting does not "
            f"say the call is recorded (recording rules {table_version()}).",
            hint=notice_hint())
    return {"states": states, "notice": notice, "version": table_version()}


__all__ = ["ConsentRow", "RecordingNoticeError", "shipped_table", "table_version", "covering",
           "has_notice", "notice_hint", "campaign_coverage", "check_campaign", "CANADA",
           "UNKNOWN"]
