"""Twilio's error codes: what each means for the number dialed, the account, the pace.

One table for both places they arrive: a refused ``Calls.create`` (``account.classify``)
and the ``ErrorCode`` of a failed call's status callback (``server``). Titles from
Twilio's error dictionary, https://www.twilio.com/docs/api/errors/NNNNN.
"""

from __future__ import annotations

#: Too many requests: "never processed and always safe to retry" (20429).
RETRY_CODES = {20429}
#: The number dialed can never be called: retire it, and what to say about it.
DEAD_NUMBER = {
    21211: "is not a valid phone number",
    21214: "cannot be reached",
    21216: "is blocked by Twilio (a high-risk or premium destination)",
    21217: "does not appear to be a valid phone number",
    13223: "is not a valid phone number (bad format)",
    13224: "is not a valid phone number, or no carrier can deliver calls to it",
    21610: "has unsubscribed from this sender (replied STOP)",
}
#: Geo permissions do not allow the destination (21215 at create, 13227 at call time).
GEO_CODES = {21215, 13227}
#: The From number cannot place calls on this account.
FROM_CODES = {21210, 21212, 21606}
#: Account-level problems: every call would fail the same way until the user acts.
PAUSE_CODES = {21219, 20003, 20005, 10001} | GEO_CODES | FROM_CODES
#: Concurrency limits (account calls, ConversationRelay sessions, the CPS queue).
SLOW_CODES = {10004, 64109, 86008, 22005}

#: What a failed call's ``ErrorCode`` means, for the call row's ``error``.
CALL_ERRORS = {
    **{code: f"the number {what}" for code, what in DEAD_NUMBER.items()},
    **{code: "Twilio geo permissions do not allow calls to this country" for code in GEO_CODES},
    21219: "trial accounts may only call verified numbers",
    21210: "the From number is not a Twilio number or verified caller ID on this account",
    64105: "ConversationRelay closed the session after repeated invalid messages",
}


def call_error(code: int | None) -> str | None:
    """The failed call's ``ErrorCode`` in words (None when there is none)."""
    if not code:
        return None
    meaning = CALL_ERRORS.get(code)
    return f"Twilio error {code}: {meaning}" if meaning else f"Twilio error {code}"
