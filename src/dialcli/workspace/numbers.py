"""The workspace's from-numbers: the caller IDs campaigns dial from.

A number is stored once, as E.164. What the user types is parsed with
``phones.PhoneParser`` and the default region US, which settles how ambiguous input
is treated:

* ``+<country code>...`` (or an international prefix such as ``011 44 ...``) is
  accepted for any country, in any common formatting (spaces, dots, dashes,
  parentheses);
* without a country code only North American (NANP, +1) numbers are accepted:
  ``(415) 555-0100``, ``415.555.0100`` and ``1 415 555 0100`` are all
  ``+14155550100``; anything else is refused with a hint to add the country code,
  because "020 7946 0958" could belong to several countries;
* numbers that cannot be a real line (wrong length, unassigned area code),
  premium-rate numbers and extensions are refused.

Whether the number is voice-capable and owned by the Twilio account is learned by
``number sync`` (live-calls work): ``voice_capable`` is NULL until then. A number
that sync marked as not voice-capable cannot be a campaign's from-number.

A number a campaign dials from cannot be removed (the schema also forbids it with
``ON DELETE RESTRICT``); the error names the campaigns.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from typing import Any

from dialcli.clock import to_iso
from dialcli.errors import ConflictError, InputError, NotFoundError
from dialcli.models import Number
from dialcli.phones import PhoneError, PhoneParser
from dialcli.store import Store

MAX_LABEL = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARSER = PhoneParser("US")


def parse_number(text: str, *, what: str = "Phone number") -> str:
    """What the user typed -> E.164, or ``InputError`` saying why not."""
    raw = (text or "").strip()
    if not raw:
        raise InputError(f"{what} is empty.", hint="Type it in E.164, e.g. +14155550100.")
    try:
        return _PARSER.parse(raw).e164
    except PhoneError as exc:
        international = raw.startswith("+") or raw.startswith("00") or raw.startswith("011")
        reason = str(exc)
        if "premium" in reason or "extension" in reason:
            raise InputError(f"{what} {raw!r} is not usable: {reason}.") from None
        hint = ("Check the digits; E.164 is + and the country code, then the number, e.g. "
                "+14155550100 or +442071838750.") if international else (
                "Without a country code only US/Canada numbers are understood. Type it in "
                "E.164 (+ and the country code), e.g. +14155550100 or +442071838750.")
        raise InputError(f"{what} {raw!r} is not usable: {reason}.", hint=hint) from None


def clean_label(value: str | None) -> str | None:
    label = (value or "").strip()
    if not label:
        return None
    if _CONTROL.search(label):
        raise InputError("The label contains control characters or line breaks.")
    if len(label) > MAX_LABEL:
        raise InputError(f"The label is {len(label)} characters long; the limit is {MAX_LABEL}.")
    return label


# -- queries ------------------------------------------------------------------------

def get_number(store: Store, text: str) -> Number:
    """The workspace number matching what the user typed (any formatting)."""
    e164 = parse_number(text)
    row = store.one("SELECT * FROM numbers WHERE e164 = ?", (e164,))
    if row is None:
        have = [r[0] for r in store.all("SELECT e164 FROM numbers ORDER BY e164")]
        raise NotFoundError(
            f"{e164} is not one of this workspace's numbers.",
            hint=("Numbers here: " + ", ".join(have)) if have else
            f"Add it with: dialcli number add {e164}",
        )
    return Number.from_row(row)


def list_numbers(store: Store) -> list[Number]:
    return [Number.from_row(r) for r in store.all("SELECT * FROM numbers ORDER BY e164")]


def campaigns_using(store: Store, e164: str) -> list[str]:
    return [r[0] for r in store.all(
        "SELECT name FROM campaigns WHERE from_number = ? ORDER BY name COLLATE NOCASE", (e164,))]


def usage(store: Store) -> dict[str, list[str]]:
    """e164 -> names of the campaigns dialing from it (for list views)."""
    out: dict[str, list[str]] = {}
    for e164, name in store.all(
            "SELECT from_number, name FROM campaigns ORDER BY name COLLATE NOCASE"):
        out.setdefault(e164, []).append(name)
    return out


def number_as_dict(number: Number, *, campaigns: list[str] | None = None) -> dict[str, Any]:
    data = asdict(number)
    data["voice_capable"] = None if number.voice_capable is None else bool(number.voice_capable)
    if campaigns is not None:
        data["campaigns"] = campaigns
    return data


def require_dialable(store: Store, text: str) -> Number:
    """A from-number for a campaign: in the workspace and not known to be voice-incapable."""
    e164 = parse_number(text, what="From-number")
    row = store.one("SELECT * FROM numbers WHERE e164 = ?", (e164,))
    if row is None:
        have = [r[0] for r in store.all("SELECT e164 FROM numbers ORDER BY e164")]
        raise InputError(
            f"From-number {e164} is not one of this workspace's numbers.",
            hint=(f"Add it first: dialcli number add {e164}" + (
                "\nNumbers here: " + ", ".join(have) if have else "")),
        )
    number = Number.from_row(row)
    if number.voice_capable == 0:
        raise InputError(
            f"From-number {e164} cannot make voice calls (your Twilio account says so).",
            hint="Pick a voice-capable number; dialcli number list shows them.",
        )
    return number


# -- changes ------------------------------------------------------------------------

def add_number(store: Store, e164: str, *, label: str | None = None, now: datetime) -> Number:
    """Add a from-number (typed in any common format; stored as E.164)."""
    number = parse_number(e164)
    label_text = clean_label(label)
    with store.tx():
        if store.one("SELECT 1 FROM numbers WHERE e164 = ?", (number,)) is not None:
            raise InputError(f"{number} is already in this workspace.",
                             hint="dialcli number list shows the numbers and their labels.")
        cur = store.execute("INSERT INTO numbers (e164, label, added_at) VALUES (?, ?, ?)",
                            (number, label_text, to_iso(now)))
        number_id = cur.lastrowid
    return Number.from_row(store.one("SELECT * FROM numbers WHERE id = ?", (number_id,)))


def remove_number(store: Store, e164: str) -> Number:
    """Remove a number no campaign dials from; ``ConflictError`` names the campaigns."""
    with store.tx():
        number = get_number(store, e164)
        using = campaigns_using(store, number.e164)
        if using:
            which = ", ".join(repr(n) for n in using)
            raise ConflictError(
                f"Can't remove {number.e164}: "
                + (f"campaign {which} dials" if len(using) == 1 else f"campaigns {which} dial")
                + " from it.",
                hint=f"Give the campaign another from-number first: dialcli campaign edit "
                     f"{using[0]!r} --from +1...",
            )
        store.execute("DELETE FROM numbers WHERE id = ?", (number.id,))
    return number
