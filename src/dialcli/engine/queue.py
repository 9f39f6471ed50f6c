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

import heapq
from datetime import datetime

from dialcli.clock import from_iso, to_iso
from dialcli.compliance.policy import CallingPolicy, GroupWindow
from dialcli.engine.schedule import Choice, Head, earliest
from dialcli.store import Store

_HEAD_SQL = (
    "SELECT phone_slot, id, next_try_at FROM leads INDEXED BY leads_ready "
    "WHERE campaign_id = ? AND cur_group = ? AND status IN ('PENDING', 'RETRY') "
    "AND pass_done = 0 AND (next_try_at IS NULL OR next_try_at <= ?) "
    "ORDER BY phone_slot, id LIMIT 1"
)
# The index is ordered (campaign, group, slot, id), so the first eligible row after
# group g is the head of the next non-empty group: a refresh costs one lookup per
# group that has leads, however many groups the workspace knows.
_NEXT_GROUP_HEAD_SQL = (
    "SELECT cur_group, phone_slot, id FROM leads INDEXED BY leads_ready "
    "WHERE campaign_id = ? AND cur_group > ? AND status IN ('PENDING', 'RETRY') "
    "AND pass_done = 0 AND (next_try_at IS NULL OR next_try_at <= ?) "
    "ORDER BY cur_group, phone_slot, id LIMIT 1"
)

# Both read the ``leads_deferred`` index (m019): the held-back leads only.
_NEXT_DEFERRED_SQL = (
    "SELECT MIN(next_try_at) FROM leads WHERE campaign_id = ? "
    "AND status IN ('PENDING', 'RETRY') AND pass_done = 0 AND next_try_at > ?"
)
_RELEASED_GROUPS_SQL = (
    "SELECT DISTINCT cur_group FROM leads WHERE campaign_id = ? "
    "AND status IN ('PENDING', 'RETRY') AND pass_done = 0 AND next_try_at IS NOT NULL "
    "AND next_try_at <= ?"
)


class DialQueue:
    """Heads per zone group, and a heap of the heads whose window is open now.

    A group's window opens and closes a few times a day, so which groups are open is
    recomputed only when the clock passes the next such change (``_classify``); in
    between, choosing the next dial is a heap peek, and the refill after a claim is one
    indexed lookup. ``scheduler.choose`` states the same decision over plain values
    (tests check that both agree).
    """

    def __init__(self, store: Store, campaign_id: int, policy: CallingPolicy):
        self.store = store
        self.campaign_id = campaign_id
        self.policy = policy
        self.windows: dict[int, GroupWindow] = {}
        self.heads: dict[int, Head | None] = {}
        self._spans: dict[int, tuple[datetime, datetime] | None] = {}
        self._fresh = False
        self._deferred_until: datetime | None = None
        self._open: set[int] = set()
        self._heap: list[tuple[int, int, int]] = []
        self._never: set[int] = set()
        self._next_change: datetime | None = None     # a window of a queued group opens/closes
        self._next_open: datetime | None = None       # earliest opening of a closed group
        self._next_open_group: int | None = None      # ... and which group that is

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

    def span(self, group: int, at: datetime) -> tuple[datetime, datetime] | None:
        """``window(group).next_open(at)``, remembered until the window next closes."""
        cached = self._spans.get(group, False)
        if cached is not False and (cached is None or at < cached[1]):
            if cached is None:
                return None
            return (max(cached[0], at), cached[1])
        got = self.window(group).next_open(at)
        self._spans[group] = got
        return got

    # -- heads ---------------------------------------------------------------------
    def invalidate(self) -> None:
        self._fresh = False

    @property
    def waiting(self) -> bool:
        """Someone is queued in this pass (perhaps waiting for a window to open), as
        far as the heads read since the last change say."""
        return self._fresh and any(h is not None for h in self.heads.values())

    def window_for_slot(self, lead_id: int, slot: int) -> GroupWindow | None:
        """The calling window of one lead's phone (None: no such phone or no zone)."""
        row = self.store.one("SELECT group_id FROM lead_phones WHERE lead_id = ? AND slot = ?",
                             (lead_id, slot))
        if row is None or row[0] is None:
            return None
        return self.window(row[0])

    def _refill(self, group: int, now: datetime) -> None:
        row = self.store.one(_HEAD_SQL, (self.campaign_id, group, to_iso(now)))
        self.heads[group] = None if row is None else Head(row[0], row[1])
        self._place(group, now)

    def refresh(self, now: datetime) -> None:
        self._load_groups()
        now_iso = to_iso(now)
        self.heads = {}
        last = -1
        while True:
            row = self.store.one(_NEXT_GROUP_HEAD_SQL, (self.campaign_id, last, now_iso))
            if row is None:
                break
            last = row[0]
            if last not in self.windows:
                self._load_groups()
            self.heads[last] = Head(row[1], row[2])
        # Deferred leads (e.g. frequency cap) become eligible at their time.
        self._deferred_until = from_iso(self.store.scalar(_NEXT_DEFERRED_SQL,
                                                          (self.campaign_id, now_iso)))
        self._fresh = True
        self._classify(now)

    def _release_deferred(self, now: datetime) -> None:
        """Leads held back (``next_try_at``) until now may be dialed: re-read the heads of
        just their groups -- an expired hold only adds candidates, so every other
        group's head stands -- instead of every group's (``refresh``)."""
        now_iso = to_iso(now)
        for (group,) in self.store.all(_RELEASED_GROUPS_SQL, (self.campaign_id, now_iso)):
            if group is not None:
                self._refill(group, now)
        self._deferred_until = from_iso(self.store.scalar(_NEXT_DEFERRED_SQL,
                                                          (self.campaign_id, now_iso)))

    def _classify(self, now: datetime) -> None:
        self._open, self._never, self._heap = set(), set(), []
        self._next_change = self._next_open = self._next_open_group = None
        for group, head in self.heads.items():
            if head is not None:
                self._place(group, now, push=False)
        heapq.heapify(self._heap)

    def _place(self, group: int, now: datetime, push: bool = True) -> None:
        """File ``group`` (with its current head) as open, closed or never."""
        head = self.heads.get(group)
        if head is None:
            return
        span = self.span(group, now)
        if span is None:
            self._never.add(group)
            return
        opens, closes = span
        if opens <= now:
            self._open.add(group)
            entry = (head.slot, head.lead_id, group)
            if push:
                heapq.heappush(self._heap, entry)
            else:
                self._heap.append(entry)
            self._next_change = earliest(self._next_change, closes)
        else:
            self._open.discard(group)
            self._next_change = earliest(self._next_change, opens)
            if self._next_open is None or opens < self._next_open:
                self._next_open, self._next_open_group = opens, group

    def next(self, now: datetime) -> Choice:
        if not self._fresh:
            self.refresh(now)
        else:
            if self._deferred_until is not None and now >= self._deferred_until:
                self._release_deferred(now)
            if self._next_change is not None and now >= self._next_change:
                self._classify(now)
        for group in list(self._never):
            head = self.heads.get(group)
            if head is not None:
                return Choice(group=group, head=head, never=True)
            self._never.discard(group)
        heap = self._heap
        while heap:
            slot, lead_id, group = heap[0]
            head = self.heads.get(group)
            if head is None or group not in self._open or head.slot != slot \
                    or head.lead_id != lead_id:
                heapq.heappop(heap)          # stale entry
                continue
            return Choice(group=group, head=head)
        wake = earliest(self._next_open, self._deferred_until)
        return Choice(wake_at=wake, wake_for=self._wake_for(wake, now))

    def _wake_for(self, wake: datetime | None, now: datetime) -> str | None:
        """Why nothing queued is dialable before ``wake`` (for the dashboard)."""
        if wake is None:
            return None
        if wake == self._next_open and self._next_open_group is not None:
            window = self.window(self._next_open_group)
            why = ("calling hours open for numbers in " + ", ".join(window.zones)
                   if window.zones else "calling hours open")
            notes = window.day_notes(now)
            return f"{why} ({'; '.join(notes)})" if notes else why
        return "numbers held back by the frequency cap may be dialed again"

    def taken(self, group: int, now: datetime) -> None:
        """The head of ``group`` was claimed (or retired): read the next one."""
        self._refill(group, now)

    def queued(self, group: int | None, slot: int | None, lead_id: int, now: datetime) -> None:
        """A lead (re-)entered ``group``'s queue at ``slot`` (e.g. its next phone)."""
        if group is None or slot is None:
            return
        if group not in self.windows:
            self._load_groups()
        head = self.heads.get(group)
        if head is None or (slot, lead_id) < (head.slot, head.lead_id):
            self.heads[group] = Head(slot, lead_id)
            self._place(group, now)

    def deferred(self, until: datetime) -> None:
        self._deferred_until = earliest(self._deferred_until, until)
