"""State artificial-voice rules: which states forbid, or add conditions to, an AI-voice call.

Many states regulate calls that play a "recorded message" or a "prerecorded or
synthesized voice" (automatic dialing-announcing devices, ADAD). An AI agent's voice
is an artificial voice under federal law (FCC 24-17), and dialcli reads each state's
law the same way unless a source says otherwise. The rules are data: the shipped,
versioned ``data/adad_rules.toml`` (statute, source URL, confidence, date checked).

``verdict`` applies them to one dial: the campaign's purpose, the states the number
could be in (``numbers_states``: its own, every state a missing exchange's area code
spans, any a lead's ``state`` column adds) and the consent on record. A state whose
rule an AI agent cannot meet -- an outright ban, or a live (human) operator who must
speak first -- stops the dial whatever the consent; a state that wants a stronger
kind of consent than the federal gate (written where express would do) stops it
unless that kind is on record. ``consent.check`` calls it, so the engine's claim,
``plan``, ``doctor`` and ``consent show`` all say the same thing.

Hours a statute sets for these calls (California: 09:00-21:00) become calling-window
rows (``hour_rows``) that ``CallingPolicy`` adds to the state's own.
"""

from __future__ import annotations

import re
import sqlite3
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable

from dialcli.compliance.rules import (StateRow, data_version, parse_hhmm,
                                     state_rows, states_of)
from dialcli.errors import InputError
from dialcli.phones import PhoneError, describe_e164

BAN, LIVE_OPERATOR, CONSENT = "ban", "live_operator", "consent"
RULES = (BAN, LIVE_OPERATOR, CONSENT)
#: The purposes a row may name (consent.PURPOSES; spelled here: consent imports us).
PURPOSES = ("telemarketing", "informational")
KINDS = ("written", "express")

_KEYS = {"state", "purposes", "rule", "consent", "hours", "statute", "source", "confidence",
         "checked", "note"}


@dataclass(frozen=True)
class AdadRule:
    """One row of ``data/adad_rules.toml``."""

    state: str
    purposes: tuple[str, ...]
    rule: str
    statute: str
    source: str
    confidence: str
    checked: str
    consent: str | None = None
    hours: tuple | None = None
    note: str = ""

    @property
    def cite(self) -> str:
        """The statute without its parenthesised gloss: 'Utah Code 13-25a-103'."""
        return self.statute.split(" (", 1)[0]

    @property
    def blocks_ai(self) -> bool:
        """No consent lets an AI agent make the call (a ban, or a live operator first)."""
        return self.rule in (BAN, LIVE_OPERATOR)

    def describe(self) -> str:
        """'WA: outright ban (RCW 80.36.400(2); confidence H)'."""
        what = {BAN: "outright ban", LIVE_OPERATOR: "live operator first (an AI cannot be one)",
                CONSENT: f"{self.consent} consent required"}[self.rule]
        hours = (f", {self.hours[0]:%H:%M}-{self.hours[1]:%H:%M} only" if self.hours else "")
        return f"{self.state}: {what}{hours} ({self.statute}; confidence {self.confidence})"

    def evidence(self) -> dict:
        return {"state": self.state, "rule": self.rule, "consent": self.consent,
                "statute": self.statute, "confidence": self.confidence}


def parse_adad_rules(text: str) -> tuple[str, tuple[AdadRule, ...]]:
    """(version, rows) from the TOML text; raises ValueError naming the bad row."""
    data = tomllib.loads(text)
    version = data_version(data, "ADAD rules")
    rows = []
    for where, raw, state in state_rows(data, "ADAD rules", _KEYS):
        purposes = tuple(raw.get("purposes") or ())
        if not purposes or any(p not in PURPOSES for p in purposes):
            raise ValueError(f"{where}: purposes must list telemarketing and/or informational")
        rule = raw.get("rule")
        if rule not in RULES:
            raise ValueError(f"{where}: rule must be one of {', '.join(RULES)}")
        kind = raw.get("consent")
        if (rule == CONSENT) != (kind is not None) or (kind is not None and kind not in KINDS):
            raise ValueError(f"{where}: a consent rule names consent = written|express "
                             "(and only a consent rule does)")
        for key in ("statute", "source"):
            if not str(raw.get(key, "")).strip():
                raise ValueError(f"{where}: needs a {key}")
        if not re.fullmatch(r"https?://\S+", raw["source"]):
            raise ValueError(f"{where}: source must be the URL of the text read")
        if not re.fullmatch(r"[HML](/[HML])?", str(raw.get("confidence", ""))):
            raise ValueError(f"{where}: confidence must be H, M or L")
        if not re.fullmatch(r"\d{4}-\d\d-\d\d", str(raw.get("checked", ""))):
            raise ValueError(f"{where}: checked must be the date last checked, YYYY-MM-DD")
        hours = None
        if raw.get("hours"):
            try:
                start, end = str(raw["hours"]).split("-")
                hours = (parse_hhmm(start), parse_hhmm(end))
            except (ValueError, InputError):
                raise ValueError(f"{where}: hours must be HH:MM-HH:MM") from None
            if hours[0] >= hours[1]:
                raise ValueError(f"{where}: hours start at or after they end")
        rows.append(AdadRule(state=state, purposes=purposes, rule=rule,
                             statute=raw["statute"], source=raw["source"],
                             confidence=raw["confidence"], checked=str(raw["checked"]),
                             consent=kind, hours=hours, note=raw.get("note", "")))
    return version, tuple(rows)


@lru_cache(maxsize=1)
def shipped_adad_rules() -> tuple[str, tuple[AdadRule, ...]]:
    text = resources.files("dialcli").joinpath("data/adad_rules.toml").read_text("utf-8")
    return parse_adad_rules(text)


ADAD_VERSION = shipped_adad_rules()[0]


def rules_for(states: Iterable[str], purpose: str,
              rules: Iterable[AdadRule] | None = None) -> list[AdadRule]:
    """The rows that govern a call of ``purpose`` to a number in any of ``states``."""
    wanted = set(states)
    rows = shipped_adad_rules()[1] if rules is None else rules
    return [r for r in rows if r.state in wanted and purpose in r.purposes]


@dataclass(frozen=True)
class Verdict:
    """What the state rules say of one dial: ok, or the rule that stops it and why."""

    ok: bool
    reason: str | None = None
    rule: AdadRule | None = None
    applied: tuple[AdadRule, ...] = ()

    def evidence(self) -> dict:
        out: dict = {"version": ADAD_VERSION, "states": sorted({r.state for r in self.applied})}
        if self.rule is not None:
            out["stopped_by"] = self.rule.evidence()
        return out


def verdict(states: Iterable[str], purpose: str, consent_kind: str | None, *,
            gate_on: bool = True, rules: Iterable[AdadRule] | None = None) -> Verdict:
    """May an AI-voice call of ``purpose`` reach a number that could be in ``states``,
    with ``consent_kind`` ('written', 'express' or None) on record?

    Bans and live-operator rules stop the call whatever the consent, even with the
    consent gate off (the gate is about consent records; these cannot be met by any).
    A stronger consent kind than the federal gate's is required only when the gate is on.
    Under the shipped rules the answer is remembered (the engine asks at every dial).
    """
    if rules is None:
        return _shipped_verdict(tuple(states), purpose, consent_kind, gate_on)
    return _verdict(states, purpose, consent_kind, gate_on, rules)


@lru_cache(maxsize=4096)
def _shipped_verdict(states: tuple[str, ...], purpose: str, consent_kind: str | None,
                     gate_on: bool) -> Verdict:
    return _verdict(states, purpose, consent_kind, gate_on, None)


def _verdict(states: Iterable[str], purpose: str, consent_kind: str | None, gate_on: bool,
             rules: Iterable[AdadRule] | None) -> Verdict:
    applied = tuple(sorted(rules_for(states, purpose, rules),
                           key=lambda r: (not r.blocks_ai, r.state)))
    for row in applied:
        if row.blocks_ai:
            what = ("bans them" if row.rule == BAN
                    else "allows them only after a live operator, which an AI agent is not")
            return Verdict(False, f"state rule {row.state}: {purpose} calls by artificial "
                                  f"voice -- {row.cite} {what} (confidence {row.confidence})",
                           row, applied)
    if gate_on:
        for row in applied:
            if row.rule == CONSENT and row.consent == "written" and consent_kind != "written":
                have = f"only {consent_kind}" if consent_kind else "no"
                return Verdict(False, f"state rule {row.state}: {purpose} calls by artificial "
                                      f"voice need written consent ({row.cite}); {have} "
                                      f"consent on record (confidence {row.confidence})",
                               row, applied)
    return Verdict(True, None, None, applied)


def number_regions(conn: sqlite3.Connection, e164: str) -> set[str]:
    """Every region the number has in the workspace: its own (area code / exchange,
    every state of a missing exchange's area code) and those its leads' ``state``
    columns merged into their zone groups, in any campaign."""
    regions = {r[0] for r in conn.execute(
        "SELECT p.region FROM lead_phones p WHERE p.e164 = ? UNION "
        "SELECT g.region FROM lead_phones p JOIN zone_groups g ON g.id = p.group_id "
        "WHERE p.e164 = ?", (e164, e164)) if r[0]}
    if not regions:
        try:
            regions.add(describe_e164(e164).region)
        except PhoneError:
            pass
    return regions


def number_states(conn: sqlite3.Connection, e164: str) -> tuple[str, ...]:
    """Every US state a number could be in, as the workspace knows it."""
    out: set[str] = set()
    for region in number_regions(conn, e164):
        out.update(states_of(region))
    return tuple(sorted(out))


def hour_rows(rules: Iterable[AdadRule] | None = None) -> tuple[StateRow, ...]:
    """Calling-window rows for the statutes that set their own hours (every AI-voice
    call is an artificial-voice call, so they apply whatever the purpose)."""
    rows = shipped_adad_rules()[1] if rules is None else rules
    return tuple(StateRow(state=r.state, window=r.hours, applies_to="artificial-voice (ADAD) "
                          "calls", source=r.statute, confidence=r.confidence.split("/")[0])
                 for r in rows if r.hours)


def blocked_numbers(conn: sqlite3.Connection, campaign_id: int, purpose: str,
                    statuses: tuple[str, ...]) -> list[tuple[AdadRule, int]]:
    """(rule, live phones of the campaign's leads in ``statuses`` it stops) for each state
    rule an AI agent cannot meet (ban, live operator first) for ``purpose``: what
    ``doctor`` warns of before a run. A phone is counted under each such state it could
    be in (its own region or its zone group's, which holds the ``state`` column)."""
    marks = ", ".join("?" * len(statuses))
    out = []
    for row in shipped_adad_rules()[1]:
        if purpose not in row.purposes or not row.blocks_ai:
            continue
        like = f"%US-{row.state}%"
        count = conn.execute(
            f"SELECT COUNT(*) FROM lead_phones p JOIN leads l ON l.id = p.lead_id "
            f"LEFT JOIN zone_groups g ON g.id = p.group_id WHERE l.campaign_id = ? "
            f"AND l.status IN ({marks}) AND p.dead_reason IS NULL "
            f"AND (p.region LIKE ? OR g.region LIKE ?)",
            (campaign_id, *statuses, like, like)).fetchone()[0]
        if count:
            out.append((row, int(count)))
    return out
