"""From a finished call to a disposition, and from a disposition to the lead's next state.

Pure functions (no I/O, no clock): the engine gathers the facts, calls these, and
writes the result in one transaction.

Call result -> disposition (design.md section 4):
  no-answer / busy / canceled -> NO_ANSWER; failed -> FAILED; AMD machine -> VOICEMAIL;
  fax -> WRONG_NUMBER; a human -> the brain's label (or the post-call classifier's).
  A COMPLETED call with <= 1 caller turn counts as NO_ANSWER: a 3-second
  pickup-then-hangup is not a reach (product doc, "Retry behaviour").

Disposition -> lead (breadth-first passes):
  not reached (NO_ANSWER / FAILED / VOICEMAIL / WRONG_NUMBER) -> the lead's next live
  phone in this pass; with none left it is done for the pass (RETRY, pass_done) or,
  after the last pass, EXHAUSTED. WRONG_NUMBER retires that phone for good.
  Reached -> REACHED; OPT_OUT -> OPTED_OUT; CALLBACK -> CALLBACK (appointment).
  A callback dial that does not reach them is tried again after the retry interval,
  up to ``max_attempts`` times, then the lead is EXHAUSTED. Someone who asks for yet
  another callback after ``max_attempts`` callback dials counts as REACHED, so a
  polite "call me later" can never loop forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dialcli.models import CallStatus, Disposition, LeadStatus

MACHINE_PREFIX = "machine"


def disposition_for(
    status: CallStatus | str,
    answered_by: str | None,
    label: Disposition | str | None,
    caller_turns: int | None,
) -> Disposition:
    """The disposition of a finished call."""
    status = CallStatus(status)
    if status in (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.CANCELED):
        return Disposition.NO_ANSWER
    if status is CallStatus.FAILED:
        return Disposition.FAILED
    if status is not CallStatus.COMPLETED:
        # Not final: the caller should not ask yet; be conservative.
        return Disposition.FAILED
    if answered_by:
        if answered_by == "fax":
            return Disposition.WRONG_NUMBER
        if answered_by.startswith(MACHINE_PREFIX):
            return Disposition.VOICEMAIL
    if label is not None:
        label = Disposition(label)
        if label in (Disposition.OPT_OUT, Disposition.WRONG_NUMBER, Disposition.VOICEMAIL):
            return label  # one turn is enough to ask to be removed or say "wrong number"
        if (caller_turns or 0) <= 1 and label in (
            Disposition.COMPLETED, Disposition.NO_ANSWER, Disposition.FAILED,
        ):
            return Disposition.NO_ANSWER
        if (caller_turns or 0) == 0:
            return Disposition.NO_ANSWER
        return label
    # Answered by a human (or unknown) but nobody labelled it.
    if (caller_turns or 0) <= 1:
        return Disposition.NO_ANSWER
    return Disposition.COMPLETED


@dataclass(frozen=True)
class LeadView:
    """The facts about a lead that decide its next state."""

    status: LeadStatus
    phone_slot: int | None
    pass_no: int
    callback_attempts: int
    live_slots: tuple[int, ...]          # slots still dialable, ascending
    callback_dials: int = 0              # callback dials this run, this one included


@dataclass(frozen=True)
class Transition:
    status: LeadStatus
    phone_slot: int | None               # next phone to try (or the one that reached them)
    pass_done: int
    reached_slot: int | None = None
    kill_slot: int | None = None         # retire this phone (WRONG_NUMBER)
    callback: bool = False               # create an appointment / schedule a callback dial
    callback_attempts: int = 0
    skip_reason: str | None = None


def _first_live(live: Sequence[int]) -> int | None:
    return live[0] if live else None


def next_state(lead: LeadView, slot: int, disposition: Disposition, *, is_callback: bool,
               max_attempts: int) -> Transition:
    """The lead's state after a dial of ``slot`` ended with ``disposition``."""
    live = tuple(s for s in lead.live_slots)
    if disposition is Disposition.WRONG_NUMBER:
        live = tuple(s for s in live if s != slot)
    kill = slot if disposition is Disposition.WRONG_NUMBER else None

    if disposition.reached:
        if disposition is Disposition.OPT_OUT:
            return Transition(LeadStatus.OPTED_OUT, slot, 1, reached_slot=slot,
                              callback_attempts=lead.callback_attempts)
        if disposition is Disposition.CALLBACK:
            if is_callback and lead.callback_dials >= max_attempts:
                # They keep asking for later: they were reached; stop scheduling more.
                return Transition(LeadStatus.REACHED, slot, 1, reached_slot=slot,
                                  skip_reason=f"asked for a callback again after "
                                              f"{lead.callback_dials} callback(s)")
            return Transition(LeadStatus.CALLBACK, slot, 1, reached_slot=slot, callback=True,
                              callback_attempts=0)
        return Transition(LeadStatus.REACHED, slot, 1, reached_slot=slot,
                          callback_attempts=lead.callback_attempts)

    if is_callback:
        attempts = lead.callback_attempts + 1
        if slot in live and attempts < max_attempts:
            return Transition(LeadStatus.CALLBACK, slot, 1, callback=True,
                              callback_attempts=attempts, kill_slot=kill)
        reason = ("callback number retired: wrong number" if slot not in live
                  else f"callback not reached after {attempts} attempt(s)")
        return Transition(LeadStatus.EXHAUSTED, None, 1, kill_slot=kill,
                          callback_attempts=attempts, skip_reason=reason)

    later = [s for s in live if s > slot]
    if later:
        return Transition(LeadStatus.RETRY, later[0], 0, kill_slot=kill,
                          callback_attempts=lead.callback_attempts)
    if not live:
        return Transition(LeadStatus.EXHAUSTED, None, 1, kill_slot=kill,
                          callback_attempts=lead.callback_attempts,
                          skip_reason="no dialable phone left")
    if lead.pass_no >= max_attempts:
        return Transition(LeadStatus.EXHAUSTED, None, 1, kill_slot=kill,
                          callback_attempts=lead.callback_attempts,
                          skip_reason=f"not reached in {max_attempts} pass(es)")
    # Done with this pass; next pass starts again at the first live phone.
    return Transition(LeadStatus.RETRY, _first_live(live), 1, kill_slot=kill,
                      callback_attempts=lead.callback_attempts)


def skip_phone(lead: LeadView, slot: int, *, max_attempts: int, reason: str) -> Transition:
    """A phone became undialable before it was dialed (opt-out list, unknown zone)."""
    live = tuple(s for s in lead.live_slots if s != slot)
    later = [s for s in live if s > slot]
    if later:
        return Transition(lead.status, later[0], 0, kill_slot=slot,
                          callback_attempts=lead.callback_attempts)
    if not live:
        status = LeadStatus.SKIPPED if lead.status is LeadStatus.PENDING else LeadStatus.EXHAUSTED
        return Transition(status, None, 1, kill_slot=slot, skip_reason=reason,
                          callback_attempts=lead.callback_attempts)
    if lead.pass_no >= max_attempts:
        return Transition(LeadStatus.EXHAUSTED, None, 1, kill_slot=slot,
                          skip_reason=f"not reached in {max_attempts} pass(es)",
                          callback_attempts=lead.callback_attempts)
    status = LeadStatus.RETRY if lead.status is not LeadStatus.PENDING else LeadStatus.PENDING
    return Transition(status, live[0], 1, kill_slot=slot,
                      callback_attempts=lead.callback_attempts)
