"""Enums and frozen records shared by every layer.

Statuses are ``StrEnum`` so they are stored in SQLite as readable text and compared
directly with column values. Records are frozen dataclasses built from rows at the
edge of the store (``from_row``); the core passes these around, never raw rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping


class CampaignStatus(StrEnum):
    DRAFT = "DRAFT"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"


class LeadStatus(StrEnum):
    PENDING = "PENDING"        # not tried yet in this run
    DIALING = "DIALING"        # a call is claimed or in progress
    RETRY = "RETRY"            # not reached yet, more to try
    CALLBACK = "CALLBACK"      # asked to be called back; appointment due
    REACHED = "REACHED"        # reached a person: INTERESTED / NOT_INTERESTED / COMPLETED
    OPTED_OUT = "OPTED_OUT"    # asked to be removed; numbers on the opt-out list
    EXHAUSTED = "EXHAUSTED"    # every pass used without a reach
    SKIPPED = "SKIPPED"        # nothing dialable (reason in skip_reason)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_LEAD_STATUSES


TERMINAL_LEAD_STATUSES = frozenset(
    {LeadStatus.REACHED, LeadStatus.OPTED_OUT, LeadStatus.EXHAUSTED, LeadStatus.SKIPPED}
)


class Disposition(StrEnum):
    INTERESTED = "INTERESTED"
    NOT_INTERESTED = "NOT_INTERESTED"
    CALLBACK = "CALLBACK"
    VOICEMAIL = "VOICEMAIL"
    WRONG_NUMBER = "WRONG_NUMBER"
    NO_ANSWER = "NO_ANSWER"
    OPT_OUT = "OPT_OUT"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def reached(self) -> bool:
        """A reach ends the lead's dialing (design.md section 4)."""
        return self not in NOT_REACHED


#: Dispositions after which the lead moves on to its next phone.
NOT_REACHED = frozenset(
    {Disposition.NO_ANSWER, Disposition.FAILED, Disposition.VOICEMAIL, Disposition.WRONG_NUMBER}
)


class CallStatus(StrEnum):
    """A call row's provider-side status (Twilio's names plus our ``claimed``)."""

    CLAIMED = "claimed"          # recorded, not yet accepted by the provider
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def final(self) -> bool:
        return self in FINAL_CALL_STATUSES


FINAL_CALL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED,
     CallStatus.CANCELED}
)


class VoicemailAction(StrEnum):
    HANGUP = "hangup"
    MESSAGE = "message"


def _loads(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if isinstance(value, (dict, list)):
        return value
    return json.loads(value)


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    name: str
    greeting: str
    system_prompt: str
    voice: str | None
    language: str
    voicemail_message: str | None
    llm_model: str | None
    created_at: str
    updated_at: str
    fields: str | None = None      # JSON: what to extract from each call (workspace.fields)
    tts_provider: str | None = None      # ConversationRelay ttsProvider (``voice`` is its id)
    voicemail_voice: str | None = None   # <Say> voice for the voicemail message

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Agent":
        return cls(**{k: row[k] for k in cls.__slots__ if k in row.keys()})  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Number:
    id: int
    e164: str
    label: str | None
    voice_capable: int | None
    provider_sid: str | None
    added_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Number":
        return cls(**{k: row[k] for k in cls.__slots__})  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    agent_id: int
    from_number: str
    window_start: str
    window_end: str
    retry_interval_minutes: int
    max_attempts: int
    voicemail_action: VoicemailAction
    voicemail_message: str | None
    max_concurrent: int
    cps: float
    status: CampaignStatus
    run: int
    pass_no: int
    next_pass_at: str | None
    created_at: str
    updated_at: str
    completed_at: str | None = None
    lease_owner: str | None = None
    lease_pid: int | None = None
    lease_host: str | None = None
    heartbeat_at: str | None = None
    purpose: str = "unspecified"          # telemarketing | informational | unspecified
    consent_gate: str = "on"              # off only by the user's explicit choice
    consent_gate_changed_at: str | None = None
    consent_gate_changed_by: str | None = None
    record: int = 0                       # 1: ask the provider to record (dual channel)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Campaign":
        data = {k: row[k] for k in cls.__slots__ if k in row.keys()}  # type: ignore[attr-defined]
        data["status"] = CampaignStatus(data["status"])
        data["voicemail_action"] = VoicemailAction(data["voicemail_action"])
        return cls(**data)

    @property
    def window(self) -> tuple[str, str]:
        return (self.window_start, self.window_end)


@dataclass(frozen=True, slots=True)
class LeadPhone:
    lead_id: int
    slot: int
    e164: str
    zones: tuple[str, ...]
    region: str | None
    group_id: int | None
    dead_reason: str | None

    @property
    def live(self) -> bool:
        return self.dead_reason is None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "LeadPhone":
        zones = row["zones"]
        return cls(
            lead_id=row["lead_id"], slot=row["slot"], e164=row["e164"],
            zones=tuple(zones.split(",")) if zones else (),
            region=row["region"], group_id=row["group_id"], dead_reason=row["dead_reason"],
        )


@dataclass(frozen=True, slots=True)
class Lead:
    id: int
    campaign_id: int
    row_number: int
    name: str
    email: str | None
    vars: dict[str, str]
    timezone: str | None
    status: LeadStatus
    last_disposition: str | None
    phone_slot: int | None
    pass_no: int
    pass_done: int
    attempts: int
    next_try_at: str | None
    callback_at: str | None
    skip_reason: str | None
    updated_at: str
    phones: tuple[LeadPhone, ...] = field(default=())

    @classmethod
    def from_row(cls, row: Mapping[str, Any], phones: tuple[LeadPhone, ...] = ()) -> "Lead":
        return cls(
            id=row["id"], campaign_id=row["campaign_id"], row_number=row["row_number"],
            name=row["name"], email=row["email"], vars=_loads(row["vars"], {}),
            timezone=row["timezone"], status=LeadStatus(row["status"]),
            last_disposition=row["last_disposition"], phone_slot=row["phone_slot"],
            pass_no=row["pass_no"], pass_done=row["pass_done"], attempts=row["attempts"],
            next_try_at=row["next_try_at"], callback_at=row["callback_at"],
            skip_reason=row["skip_reason"], updated_at=row["updated_at"], phones=phones,
        )
