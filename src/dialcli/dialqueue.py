"""The campaign's dial queue, backed by the ``leads_ready`` partial index.

For each zone group the queue caches its head (smallest ``(phone_slot, id)`` among
leads that are PENDING/RETRY, not done with the pass and not deferred). Choosing the
next dial is then O(groups) in memory plus one indexed lookup to refill the group
whose head was taken -- independent of the number of leads, so the decision stays
well under a millisecond at a million leads, and memory does not grow with them.

The cache is an optimisation only: every claim re-checks the lead under the write
lock, and ``invalidate()`` (called when another process commits: an import, a
``dnc add``, a pause) re-reads every head.
"""

from __future__ import annotations

from datetime import datetime

from dialcli.clock import from_iso, to_iso
from dialcli.compliance import CallingPolicy, GroupWindow
from dialcli.scheduler import Choice, Head, choose, earliest
from dialcli.store import Store

_HEAD_SQL = (
    "SELECT phone_slot, id, next_try_at FROM leads INDEXED BY leads_ready "
    "WHERE campaign_id = ? AND cur_group = ? AND status IN ('PENDING', 'RETRY') "
    "AND pass_done = 0 AND (next_try_at IS NULL OR next_try_at <= ?) "
    "ORDER BY phone_slot, id LIMIT 1"
)


class DialQueue:
    def __init__(self, store: Store, campaign_id: int, policy: CallingPolicy):
        self.store = store
        self.campaign_id = campaign_id
        self.policy = policy
        self.windows: dict[int, GroupWindow] = {}
        self.heads: dict[int, Head | None] = {}
        self._fresh = False
        self._deferred_until: datetime | None = None

    # -- groups and windows ----------------------------------------------------------
    def _load_groups(self) -> None:
        for gid, zones, region in self.store.all("SELECT id, zones, region FROM zone_groups"):
            if gid not in self.windows:
                self.windows[gid] = self.policy.window_for(
                    tuple(z for z in zones.split(",") if z), region)

    def window(self, group: int) -> GroupWindow:
        if group not in self.windows:
            self._load_groups()
        return self.windows[group]

    # -- heads ---------------------------------------------------------------------
    def invalidate(self) -> None:
        self._fresh = False

    def _refill(self, group: int, now_iso: str) -> None:
        row = self.store.one(_HEAD_SQL, (self.campaign_id, group, now_iso))
        self.heads[group] = None if row is None else Head(row[0], row[1])

    def refresh(self, now: datetime) -> None:
        self._load_groups()
        now_iso = to_iso(now)
        for group in self.windows:
            self._refill(group, now_iso)
        # Deferred leads (e.g. frequency cap) become eligible at their time.
        nxt = self.store.scalar(
            "SELECT MIN(next_try_at) FROM leads WHERE campaign_id = ? "
            "AND status IN ('PENDING', 'RETRY') AND pass_done = 0 AND next_try_at > ?",
            (self.campaign_id, now_iso),
        )
        self._deferred_until = from_iso(nxt)
        self._fresh = True

    def next(self, now: datetime) -> Choice:
        if not self._fresh or (self._deferred_until is not None and now >= self._deferred_until):
            self.refresh(now)
        choice = choose(self.heads, self.windows, now)
        if choice.head is None:
            return Choice(wake_at=earliest(choice.wake_at, self._deferred_until))
        return choice

    def taken(self, group: int, now: datetime) -> None:
        """The head of ``group`` was claimed (or retired): read the next one."""
        self._refill(group, to_iso(now))

    def queued(self, group: int | None, slot: int | None, lead_id: int) -> None:
        """A lead (re-)entered ``group``'s queue at ``slot`` (e.g. its next phone)."""
        if group is None or slot is None:
            return
        if group not in self.windows:
            self._load_groups()
        head = self.heads.get(group)
        if head is None or (slot, lead_id) < (head.slot, head.lead_id):
            self.heads[group] = Head(slot, lead_id)

    def deferred(self, until: datetime) -> None:
        self._deferred_until = earliest(self._deferred_until, until)
