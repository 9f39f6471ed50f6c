"""What a running campaign has done so far, in memory, for the dashboard and the log.

Counters (calls, minutes, cost, dispositions) of the current run, the most recent lead
changes and call events. Cheap to update on every call; ``notify`` hands each item to
the CLI's log once its transaction has committed (``batch.Transactions.notify``).
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime
from typing import Any, Callable

from dialcli.engine.types import EVENT_WORDS, InFlight
from dialcli.models import Campaign, Disposition
from dialcli.store import Store


LIVE_LINES = 4          # lines shown per call in progress
LIVE_CALLS_KEPT = 64    # calls in progress whose lines are kept


class Progress:
    def __init__(self, notify: Callable[[dict[str, Any]], None]):
        self.notify = notify
        self.stats: Counter[str] = Counter()
        self.dispositions: Counter[str] = Counter()
        self.recent_leads: deque[dict[str, Any]] = deque(maxlen=40)
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=12)
        # Calls in progress -> their last lines, as they are said (the dashboard's).
        self.live: dict[int, dict[str, Any]] = {}

    def load(self, store: Store, campaign: Campaign) -> None:
        """The run's counters so far (a resumed run goes on counting)."""
        for disp, n, minutes, cost in store.all(
            "SELECT disposition, COUNT(*), COALESCE(SUM(billed_minutes), 0), "
            "COALESCE(SUM(price), 0) FROM calls WHERE campaign_id = ? AND run = ? "
            "AND disposition IS NOT NULL GROUP BY disposition", (campaign.id, campaign.run),
        ):
            self.dispositions[disp] = n
            self.stats["calls"] += n
            self.stats["minutes"] += minutes
            self.stats["cost_micro"] += int(round(cost * 1_000_000))

    @property
    def reached(self) -> int:
        return sum(n for k, n in self.dispositions.items() if Disposition(k).reached)

    def count(self, disposition: Disposition, billed: int, price: float) -> None:
        self.stats["calls"] += 1
        self.stats["minutes"] += billed
        self.stats["cost_micro"] += int(round(price * 1_000_000))
        self.dispositions[str(disposition)] += 1

    def lead_changed(self, lead_id: int, name: str, status: str, disposition: str | None,
                     slot: int | None, pass_no: int, now: datetime, e164: str | None = None,
                     pass_done: bool = False) -> None:
        item = {"at": now, "lead_id": lead_id, "name": name, "status": status,
                "disposition": disposition, "slot": slot, "pass": pass_no, "e164": e164,
                "pass_done": pass_done}
        self.recent_leads.appendleft(item)
        if disposition is not None:
            self.notify({"type": "lead", **item})

    def call_line(self, f: InFlight, role: str, text: str, now: datetime) -> None:
        """A line said in a call in progress (kept until the call ends)."""
        if not text:
            return
        call = self.live.get(f.call_id)
        if call is None:
            if len(self.live) >= LIVE_CALLS_KEPT:     # a very busy run: keep the newest
                del self.live[min(self.live, key=lambda k: self.live[k]["at"])]
            call = self.live[f.call_id] = {"call_id": f.call_id, "lead": f.lead_name,
                                           "e164": f.e164, "lines": deque(maxlen=LIVE_LINES)}
        call["at"] = now
        call["lines"].append({"at": now, "role": role, "text": text})

    def live_calls(self, limit: int = 2) -> list[dict[str, Any]]:
        """The calls that spoke last, newest first, each with its last lines."""
        calls = sorted(list(self.live.values()), key=lambda c: c["at"], reverse=True)[:limit]
        return [dict(c, lines=list(c["lines"])) for c in calls]

    def call_event(self, f: InFlight, what: str, now: datetime) -> None:
        if what.startswith("ended"):
            self.live.pop(f.call_id, None)
        if what == "placed":
            return
        item = {"at": now, "lead": f.lead_name, "e164": f.e164,
                "event": EVENT_WORDS.get(what, what)}
        self.recent_events.appendleft(item)
        self.notify({"type": "call", **item})
