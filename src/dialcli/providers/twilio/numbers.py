"""``dialcli number sync``: the workspace's from-numbers as Twilio sees them.

Twilio is asked first (owned numbers with their voice capability, and verified
caller IDs, which may also be used as a From); then one transaction updates the
``numbers`` table, so a failed request leaves the workspace untouched.

- Owned numbers missing from the workspace are added (label = Twilio's friendly name).
- Numbers already in the workspace get ``voice_capable``, ``provider_sid`` and
  ``synced_at``; a label the user chose is kept.
- Verified caller IDs only update numbers the user already added (we do not fill the
  workspace with someone's personal cell phone).
- Workspace numbers Twilio does not know are marked not voice-capable, so the
  campaign check and ``dialcli doctor`` can say so before a dial fails with 21210.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dialcli.clock import to_iso
from dialcli.store import Store


class NumberSource(Protocol):
    def owned_numbers(self) -> list[dict[str, Any]]: ...
    def caller_ids(self) -> list[dict[str, Any]]: ...


@dataclass
class SyncedNumber:
    e164: str
    label: str | None
    voice: bool
    kind: str             # owned | verified caller ID | not on this account
    change: str           # added | updated | unchanged | missing

    def as_dict(self) -> dict[str, Any]:
        return {"e164": self.e164, "label": self.label, "voice_capable": self.voice,
                "kind": self.kind, "change": self.change}


@dataclass
class SyncResult:
    numbers: list[SyncedNumber] = field(default_factory=list)

    def count(self, change: str) -> int:
        return sum(1 for n in self.numbers if n.change == change)

    @property
    def missing(self) -> list[SyncedNumber]:
        return [n for n in self.numbers if n.change == "missing"]


def sync_numbers(store: Store, source: NumberSource, *, now: datetime) -> SyncResult:
    owned = {n["e164"]: n for n in source.owned_numbers()}
    verified = {n["e164"]: n for n in source.caller_ids() if n["e164"] not in owned}
    now_iso = to_iso(now)
    result = SyncResult()
    with store.tx():
        existing = {r["e164"]: r for r in store.all(
            "SELECT e164, label, voice_capable, provider_sid FROM numbers")}
        for e164, info in sorted({**verified, **owned}.items()):
            row = existing.get(e164)
            voice = int(bool(info["voice"]))
            if row is None:
                if e164 not in owned:
                    continue
                store.execute(
                    "INSERT INTO numbers (e164, label, voice_capable, provider_sid, synced_at, "
                    "added_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (e164, info.get("label") or None, voice, info.get("sid"), now_iso, now_iso))
                change, label = "added", info.get("label")
            else:
                same = row["voice_capable"] == voice and row["provider_sid"] == info.get("sid")
                store.execute(
                    "UPDATE numbers SET voice_capable = ?, provider_sid = ?, synced_at = ?, "
                    "label = COALESCE(label, ?) WHERE e164 = ?",
                    (voice, info.get("sid"), now_iso, info.get("label") or None, e164))
                change, label = ("unchanged" if same else "updated"), row["label"] or info.get("label")
            result.numbers.append(SyncedNumber(e164, label, bool(voice), info["kind"], change))
        for e164, row in sorted(existing.items()):
            if e164 in owned or e164 in verified:
                continue
            store.execute("UPDATE numbers SET voice_capable = 0, provider_sid = NULL, "
                          "synced_at = ? WHERE e164 = ?", (now_iso, e164))
            result.numbers.append(SyncedNumber(e164, row["label"], False, "not on this account",
                                               "missing"))
    return result
