"""What a call will say: an agent's greeting, system prompt and voicemail message
rendered for one lead, before anything is dialed.

The lead is picked by its position in the campaign in import order (``--lead N``,
1-based, default the first) or by its id. A campaign without leads, or an agent
previewed on its own, renders for an empty lead (``{{NAME}}`` -> "there", every
other token empty), which shows the worst case a sparse CSV produces.

Token check: the tokens the agent reads are compared with the variables the
campaign's leads can have -- the normalized headers of every import
(``imports.columns``) plus the vars of any lead that came without an import row.
``NAME`` and ``EMAIL`` always exist. The other structured columns (phones,
timezone) are not variables, so ``{{PHONE1}}`` is reported as unknown, since it would
render empty for every lead. Tokens that exist but are blank for the previewed lead
are listed separately.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from dialcli.workspace.voices import say_voice_for
from dialcli.workspace import agents as agents_mod
from dialcli.workspace.campaigns import get_campaign
from dialcli.errors import InputError, NotFoundError
from dialcli.leads.csvfile import STRUCTURED
from dialcli.models import Agent, Campaign, Lead, LeadPhone, VoicemailAction
from dialcli.store import Store
from dialcli.templates import NAME_FALLBACK, lead_context, render, tokens_used

ALWAYS = frozenset({"NAME", "EMAIL"})
#: Structured CSV columns that become lead fields, not template variables.
NOT_VARIABLES = STRUCTURED - ALWAYS


@dataclass(frozen=True)
class Preview:
    agent: Agent
    campaign: Campaign | None
    lead: Lead | None                 # None: rendered for an empty lead
    position: int | None              # the lead's place in import order (1-based)
    lead_total: int
    greeting: str
    system_prompt: str
    voicemail_message: str            # rendered; '' when there is none
    voicemail_source: str | None      # 'campaign' | 'agent' | None
    voicemail_played: bool            # False when the campaign hangs up on machines
    tokens: list[str] = field(default_factory=list)
    unknown_tokens: list[str] = field(default_factory=list)
    #: An unknown token -> the leads' column it most likely means (AMOUNT -> AMOUNT_DUE).
    near_tokens: dict[str, str] = field(default_factory=dict)
    empty_tokens: list[str] = field(default_factory=list)
    columns_known: bool = False       # False: no leads imported, nothing to compare

    def as_dict(self) -> dict[str, Any]:
        lead = None
        if self.lead is not None:
            lead = {"id": self.lead.id, "position": self.position,
                    "row_number": self.lead.row_number, "name": self.lead.name,
                    "email": self.lead.email, "vars": self.lead.vars,
                    "phones": [p.e164 for p in self.lead.phones]}
        return {
            "campaign": self.campaign.name if self.campaign else None,
            "agent": self.agent.name,
            "language": self.agent.language,
            "tts_provider": self.agent.tts_provider, "voice": self.agent.voice,
            "voicemail_voice": say_voice_for(self.agent),
            "lead": lead, "leads_in_campaign": self.lead_total,
            "greeting": self.greeting, "system_prompt": self.system_prompt,
            "voicemail_message": self.voicemail_message or None,
            "voicemail_source": self.voicemail_source,
            "voicemail_played": self.voicemail_played,
            "tokens": self.tokens,
            "unknown_tokens": self.unknown_tokens if self.columns_known else None,
            "near_tokens": self.near_tokens,
            "empty_tokens": self.empty_tokens,
        }


def _load_lead(store: Store, campaign_id: int, *, lead_number: int | None, lead_id: int | None,
               total: int, first_id: int | None, campaign_name: str) -> tuple[Lead | None, int | None]:
    if lead_id is not None:
        row = store.one("SELECT * FROM leads WHERE id = ? AND campaign_id = ?", (lead_id, campaign_id))
        if row is None:
            raise NotFoundError(f"Campaign {campaign_name!r} has no lead with id {lead_id}.",
                                hint="dialcli report --calls lists the leads and their ids.")
        position = store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND id <= ?",
                                (campaign_id, lead_id))
    else:
        if total == 0:
            if lead_number is not None:
                raise NotFoundError(f"Campaign {campaign_name!r} has no leads yet.",
                                    hint=f"Import some: dialcli import leads.csv --campaign {campaign_name!r}")
            return None, None
        position = 1 if lead_number is None else lead_number
        if not 1 <= position <= total:
            raise InputError(f"--lead {position} is out of range: campaign {campaign_name!r} has "
                             f"{total} lead{'s' if total != 1 else ''} (1-{total}).")
        # Walk the primary key from the campaign's first lead ("+" keeps the planner
        # off the campaign index, through which it would sort the whole campaign).
        row = store.one("SELECT * FROM leads WHERE id >= ? AND +campaign_id = ? "
                        "ORDER BY id LIMIT 1 OFFSET ?", (first_id, campaign_id, position - 1))
        assert row is not None
    phones = tuple(LeadPhone.from_row(p) for p in store.all(
        "SELECT * FROM lead_phones WHERE lead_id = ? ORDER BY slot", (row["id"],)))
    return Lead.from_row(row, phones), position


def _nearest(token: str, columns: set[str]) -> str | None:
    """The leads' column a template's unknown ``token`` most likely means: one that
    begins with it or that it begins with, at a word break (AMOUNT / AMOUNT_DUE,
    CASE_NUMBER / CASE), else a close spelling (CASE_NUMER / CASE_NUMBER); None when
    none is close."""
    by_word = sorted(c for c in columns if c.startswith(token + "_") or token.startswith(c + "_"))
    if by_word:
        return by_word[0]
    close = difflib.get_close_matches(token, sorted(columns), n=1, cutoff=0.8)
    return close[0] if close else None


def known_tokens(store: Store, campaign_id: int, *, total: int | None = None) -> set[str] | None:
    """The variables the campaign's leads can have; None when there are no leads and
    nothing was imported."""
    columns: set[str] = set()
    seen = False
    imported = 0
    for text, n in store.all("SELECT columns, imported FROM imports WHERE campaign_id = ?",
                             (campaign_id,)):
        seen = True
        imported += n or 0
        try:
            columns.update(str(c) for c in json.loads(text or "[]"))
        except (ValueError, TypeError):
            continue
    if total is None:
        total = store.scalar("SELECT COUNT(*) FROM leads WHERE campaign_id = ?", (campaign_id,)) or 0
    # Leads not counted by an import (none, normally) are read one by one: scanning
    # a million leads' vars only to learn nothing would make preview slow.
    if total != imported:
        loose = store.all(
            "SELECT DISTINCT j.key FROM leads, json_each(leads.vars) AS j "
            "WHERE leads.campaign_id = ? AND leads.import_id IS NULL", (campaign_id,))
        if loose or store.scalar("SELECT 1 FROM leads WHERE campaign_id = ? AND import_id IS NULL "
                                 "LIMIT 1", (campaign_id,)):
            seen = True
            columns.update(str(r[0]) for r in loose)
    if not seen:
        return None
    return (columns - NOT_VARIABLES) | ALWAYS


def _render(source: str | None, ctx: dict[str, Any], *, what: str, lead: Lead | None) -> str:
    try:
        return render(source, ctx)
    except InputError as exc:
        who = f"lead on row {lead.row_number}" if lead else "an empty lead"
        raise InputError(f"The {what} could not be rendered for the {who}: {exc.message}") from None


def build_preview(store: Store, *, campaign: int | str | None = None, agent: str | None = None,
                  lead_number: int | None = None, lead_id: int | None = None) -> Preview:
    """Render the agent for one lead of the campaign (or for an empty lead)."""
    if lead_number is not None and lead_id is not None:
        raise InputError("Give either --lead or --lead-id, not both.")
    if campaign is None and agent is None:
        raise InputError("Preview what? Name a campaign (--campaign) or an agent (--agent).")
    with store.snapshot():
        camp = get_campaign(store, campaign) if campaign is not None else None
        if agent is not None:
            agent_rec = agents_mod.get_agent(store, agent)
        else:
            assert camp is not None
            agent_rec = agents_mod.get_agent_by_id(store, camp.agent_id)
        lead: Lead | None = None
        position: int | None = None
        total = 0
        known: set[str] | None = None
        if camp is not None:
            total, first_id = store.one(
                "SELECT COUNT(*), MIN(id) FROM leads WHERE campaign_id = ?", (camp.id,))
            lead, position = _load_lead(store, camp.id, lead_number=lead_number, lead_id=lead_id,
                                        total=total, first_id=first_id, campaign_name=camp.name)
            known = known_tokens(store, camp.id, total=total)
        elif lead_number is not None or lead_id is not None:
            raise InputError("--lead and --lead-id need a campaign (--campaign NAME).")

    if camp is not None and camp.voicemail_message:
        vm_source, vm_text = "campaign", camp.voicemail_message
    elif agent_rec.voicemail_message:
        vm_source, vm_text = "agent", agent_rec.voicemail_message
    else:
        vm_source, vm_text = None, ""
    played = bool(vm_text) and (camp is None or camp.voicemail_action is VoicemailAction.MESSAGE)

    ctx = lead_context(lead.name if lead else None, lead.email if lead else None,
                       lead.vars if lead else {})
    used: set[str] = set()
    for text in (agent_rec.greeting, agent_rec.system_prompt, vm_text):
        used |= tokens_used(text or "")
    unknown = sorted(used - known) if known is not None else []
    near = {t: m for t in unknown if (m := _nearest(t, known or set()))}
    empty = sorted(
        t for t in used - set(unknown)
        if (t == "NAME" and ctx["NAME"] == NAME_FALLBACK and not (lead and lead.name.strip()))
        or (t != "NAME" and not str(ctx.get(t) or "").strip())
    )
    return Preview(
        agent=agent_rec, campaign=camp, lead=lead, position=position, lead_total=total,
        greeting=_render(agent_rec.greeting, ctx, what="greeting", lead=lead),
        system_prompt=_render(agent_rec.system_prompt, ctx, what="system prompt", lead=lead),
        voicemail_message=_render(vm_text, ctx, what="voicemail message", lead=lead),
        voicemail_source=vm_source, voicemail_played=played,
        tokens=sorted(used), unknown_tokens=unknown, near_tokens=near, empty_tokens=empty,
        columns_known=known is not None,
    )
