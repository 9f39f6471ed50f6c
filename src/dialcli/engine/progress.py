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


class Progress:
    def __init__(self, notify: Callable[[dict[str, Any]], None]):
        self.notify = notify
        self.stats: Counter[str] = Counter()
        self.dispositions: Counter[str] = Counter()
        self.recent_leads: deque[dict[str, Any]] = deque(maxlen=40)
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=12)

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

    def call_event(self, f: InFlight, what: str, now: datetime) -> None:
        if what == "placed":
            return
        item = {"at": now, "lead": f.lead_name, "e164": f.e164,
                "event": EVENT_WORDS.get(what, what)}
        self.recent_events.appendleft(item)
        self.notify({"type": "call", **item})
