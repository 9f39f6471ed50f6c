"""Pure scheduling decisions, and the dial queue agreeing with them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from dialcli.compliance.policy import CallingPolicy
from dialcli.engine.queue import DialQueue
from dialcli.engine.schedule import Head, Pacer, choose
import builders
from builders import add_leads

T0 = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)


class FixedSpans:
    def __init__(self, spans):
        self.spans = spans

    def span(self, group, at):
        s = self.spans[group]
        return None if s is None else (max(s[0], at), s[1])


def test_choose_takes_smallest_open_head_and_reports_next_opening():
    heads = {1: Head(2, 5), 2: Head(1, 9), 3: Head(1, 1), 4: None}
    spans = FixedSpans({1: (T0, T0 + timedelta(hours=1)),
                        2: (T0, T0 + timedelta(hours=1)),
                        3: (T0 + timedelta(hours=2), T0 + timedelta(hours=3)),   # closed
                        4: None})
    got = choose(heads, spans, T0)
    assert (got.group, got.head) == (2, Head(1, 9))
    del heads[2], heads[1]
    got = choose(heads, spans, T0)
    assert got.head is None and got.wake_at == T0 + timedelta(hours=2)


def test_choose_returns_never_dialable_groups_first():
    got = choose({1: Head(1, 1), 2: Head(1, 2)}, FixedSpans({1: (T0, T0), 2: None}), T0)
    assert got.never and got.group == 2


def test_pacer_keeps_the_rate():
    pacer = Pacer(2.0)
    now = T0
    dials = 0
    while now < T0 + timedelta(seconds=10):
        if pacer.ready(now):
            pacer.took(now)
            dials += 1
        now += timedelta(milliseconds=70)
    assert 19 <= dials <= 21


AREAS = ["212", "415", "808", "602", "208", "907"]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), hour=st.integers(0, 23))
def test_dial_queue_agrees_with_choose(tmp_path_factory, seed, hour):
    from dialcli.store import Store

    store = Store(tmp_path_factory.mktemp("q") / "q.db")
    cid = builders.campaign(store)
    rnd = random.Random(seed)
    add_leads(store, cid, [{"phones": [f"+1{rnd.choice(AREAS)}555{100 + i:04d}"]}
                           for i in range(rnd.randint(1, 25))])
    now = T0.replace(hour=hour)
    queue = DialQueue(store, cid, CallingPolicy(("09:00", "20:00")))
    for _ in range(30):
        got = queue.next(now)
        expected = choose(dict(queue.heads), queue, now)
        assert (got.group, got.head) == (expected.group, expected.head)
        if got.head is None:
            assert got.wake_at == expected.wake_at
            break
        store.execute("UPDATE leads SET status = 'DIALING' WHERE id = ?", (got.head.lead_id,))
        queue.taken(got.group, now)
    store.close()
