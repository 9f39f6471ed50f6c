"""``dialcli.workspace.lease``: one live runner per campaign.

Two runners are two ``Lease`` objects on two connections to the same workspace file;
wall time is a ``VirtualClock``, so "stale" is reached by advancing it, not by waiting.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import builders
from dialcli.clock import VirtualClock, to_iso
from dialcli.errors import LeaseHeldError
from dialcli.workspace import lease
from dialcli.workspace.lease import HEARTBEAT_EVERY, STALE_AFTER, Lease


@pytest.fixture
def wall():
    return VirtualClock(builders.NOW)


@pytest.fixture
def two(db_path, store, wall):
    """The campaign and a second connection to its workspace (another runner's)."""
    cid = builders.campaign(store)
    other = builders.workspace(db_path)
    yield cid, other
    other.close()


def test_take_publishes_the_owner_and_a_fresh_heartbeat(store, two, wall):
    cid, _ = two
    first = Lease(store, cid, "Spring", wall)
    first.acquire()
    info = lease.current(store, cid)
    assert (info.owner, info.pid, info.host) == (first.owner, first.pid, first.host)
    assert info.heartbeat_at == wall.now() and info.live(wall.now())
    assert lease.live_runner(store, cid, wall.now()) == info and first.took_over is None


def test_a_live_second_runner_is_refused_with_who_holds_it(store, two, wall):
    cid, other = two
    Lease(store, cid, "Spring", wall).acquire()
    wall.advance(STALE_AFTER)                      # exactly at the limit: still live
    second = Lease(other, cid, "Spring", wall)
    with pytest.raises(LeaseHeldError, match="already running") as err:
        second.acquire()
    assert f"pid {second.pid}" in str(err.value) and "dialcli pause Spring" in err.value.hint


def test_renewing_keeps_it_live_past_the_stale_limit(store, two, wall):
    cid, other = two
    first = Lease(store, cid, "Spring", wall)
    first.acquire()
    assert not first.due()
    for _ in range(10):
        wall.advance(HEARTBEAT_EVERY)
        assert first.due() and first.heartbeat()
    with pytest.raises(LeaseHeldError):
        Lease(other, cid, "Spring", wall).acquire()


def test_a_stale_runner_is_taken_over_and_learns_it_at_its_next_heartbeat(store, two, wall):
    cid, other = two
    first = Lease(store, cid, "Spring", wall)
    first.acquire()
    wall.advance(STALE_AFTER + HEARTBEAT_EVERY)
    second = Lease(other, cid, "Spring", wall)
    second.acquire()
    assert second.took_over.owner == first.owner
    assert lease.current(store, cid).owner == second.owner
    assert first.heartbeat() is False                # the old runner must stop
    first.release()                                  # and cannot free what it lost
    assert lease.current(store, cid).owner == second.owner


def test_a_fresh_lease_of_a_dead_process_on_this_host_is_taken_over(store, two, wall):
    cid, other = two
    first = Lease(store, cid, "Spring", wall)
    first.acquire()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    with store.tx():
        store.execute("UPDATE campaigns SET lease_pid = ? WHERE id = ?",
                      (int(gone.stdout), cid))
    assert lease.live_runner(store, cid, wall.now()) is None
    second = Lease(other, cid, "Spring", wall)
    second.acquire()
    assert second.took_over.pid == int(gone.stdout)


def test_release_frees_the_campaign_for_the_next_start(store, two, wall):
    cid, other = two
    first = Lease(store, cid, "Spring", wall)
    first.acquire()
    first.heartbeat((wall.now(), "calling window"))
    first.release()
    assert lease.current(store, cid) is None
    row = store.one("SELECT waiting_until, waiting_for FROM campaigns WHERE id = ?", (cid,))
    assert tuple(row) == (None, None)
    Lease(other, cid, "Spring", wall).acquire()


def test_heartbeat_publishes_what_the_runner_waits_for(store, two, wall):
    cid, _ = two
    first = Lease(store, cid, "Spring", wall)
    first.acquire()
    until = builders.NOW.replace(hour=22)
    assert first.heartbeat((until, "calling window"))
    row = store.one("SELECT waiting_until, waiting_for FROM campaigns WHERE id = ?", (cid,))
    assert tuple(row) == (to_iso(until), "calling window")
    assert first.heartbeat()
    row = store.one("SELECT waiting_until, waiting_for FROM campaigns WHERE id = ?", (cid,))
    assert tuple(row) == (None, None)
