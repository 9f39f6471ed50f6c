"""Scenario tests: the engine on the simulator, on a virtual clock."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from dialcli.engine import lifecycle
from dialcli.clock import VirtualClock, from_iso
from dialcli.compliance.rules import zone_info
from dialcli.engine.loop import Engine
from dialcli.errors import ConflictError, LeaseHeldError
from dialcli.providers.simulator import SimProfile, SimulatedProvider
import builders
from fakes.keyword_brain import KeywordBrain
from builders import add_leads, calls, leads

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)   # Tue 10:00 New York


def profile(numbers: dict[str, dict] | None = None, **rates) -> SimProfile:
    data: dict = {}
    if rates:
        data["outcomes"] = {k: rates.get(k, 0.0) for k in
                            ("human", "voicemail", "no_answer", "busy", "failed")}
    if numbers:
        data["numbers"] = [{"number": k, **v} for k, v in numbers.items()]
    return SimProfile.from_dict(data)


def run(store, cid, prof=None, *, start=T0, seed=1, journal=None, **kw):
    clock = VirtualClock(start)
    provider = SimulatedProvider(KeywordBrain(), seed=seed, profile=prof or profile(),
                                 journal_path=journal)
    engine = Engine(store, cid, provider, clock, **kw)
    result = engine.run()
    return engine, result, clock


def ny(i: int) -> str:
    return f"+1212555{i:04d}"


def test_breadth_first_every_phone1_before_any_phone2(store):
    cid = builders.campaign(store, max_concurrent=2, max_attempts=1)
    specs = [{"name": f"L{i}", "phones": [ny(100 + i), ny(200 + i)]} for i in range(8)]
    add_leads(store, cid, specs)
    _, result, _ = run(store, cid, profile(no_answer=1.0))
    assert result.outcome == "completed"
    order = [(c["slot"], c["lead_id"]) for c in calls(store, cid)]
    assert [s for s, _ in order] == sorted(s for s, _ in order)
    assert len(order) == 16


def test_pass_gating_and_max_passes(store):
    cid = builders.campaign(store, retry=90, max_attempts=3)
    add_leads(store, cid, [{"phones": [ny(100 + i)]} for i in range(4)])
    _, result, _ = run(store, cid, profile(no_answer=1.0))
    assert result.outcome == "completed"
    rows = calls(store, cid)
    assert Counter(c["e164"] for c in rows) == {ny(100 + i): 3 for i in range(4)}
    by_pass: dict[int, list] = {}
    for c in rows:
        by_pass.setdefault(c["pass_no"], []).append(c)
    for p in (2, 3):
        prev_end = max(from_iso(c["ended_at"]) for c in by_pass[p - 1])
        first = min(from_iso(c["claimed_at"]) for c in by_pass[p])
        assert first - prev_end >= timedelta(minutes=90)
    assert {l["status"] for l in leads(store, cid)} == {"EXHAUSTED"}
    assert store.scalar("SELECT status FROM campaigns WHERE id = ?", (cid,)) == "COMPLETED"


def test_short_completed_call_counts_as_no_answer(store):
    cid = builders.campaign(store, max_attempts=2)
    add_leads(store, cid, [{"phones": [ny(100)]}])
    prof = profile({ny(100): {"attempts": ["human"], "lines": ["Hello?"]}})
    run(store, cid, prof)
    rows = calls(store, cid)
    assert [c["disposition"] for c in rows] == ["NO_ANSWER", "NO_ANSWER"]
    assert rows[0]["answered_by"] == "human" and rows[0]["turns"] == 1
    assert leads(store, cid)[0]["status"] == "EXHAUSTED"


def test_wrong_number_retires_that_phone_only(store):
    cid = builders.campaign(store, max_attempts=3)
    add_leads(store, cid, [{"phones": [ny(100), ny(101)]}])
    prof = profile({ny(100): {"attempts": ["human"], "lines": ["Wrong number, sorry."]},
                    ny(101): {"attempts": ["no_answer"]}})
    run(store, cid, prof)
    rows = calls(store, cid)
    assert [c["e164"] for c in rows].count(ny(100)) == 1
    assert [c["e164"] for c in rows].count(ny(101)) == 3
    dead = store.scalar("SELECT dead_reason FROM lead_phones WHERE e164 = ?", (ny(100),))
    assert dead == "wrong number"


def test_reach_ends_the_lead_and_opt_out_is_honored_by_other_campaigns(store):
    a = builders.campaign(store, name="A")
    b = builders.campaign(store, name="B")
    add_leads(store, a, [{"phones": [ny(100), ny(101)]}])
    add_leads(store, b, [{"phones": [ny(101)]}, {"phones": [ny(300)]}])
    prof = profile({ny(100): {"attempts": ["human"], "lines": ["Who?", "Please remove me."]},
                    ny(300): {"attempts": ["human"], "lines": ["Yes", "I'm interested"]}})
    run(store, a, prof)
    assert [c["disposition"] for c in calls(store, a)] == ["OPT_OUT"]
    assert leads(store, a)[0]["status"] == "OPTED_OUT"
    assert store.scalar("SELECT COUNT(*) FROM dnc") == 2
    run(store, b, prof)
    dialed = [c["e164"] for c in calls(store, b)]
    assert ny(101) not in dialed and dialed == [ny(300)]
    first = leads(store, b)[0]
    assert first["status"] == "SKIPPED"
    assert store.scalar("SELECT reason FROM audit WHERE decision = 'skip' AND e164 = ?",
                        (ny(101),)) == "on the opt-out list"


def test_simulated_dials_and_opt_outs_do_not_bind_live_runs(store):
    from dialcli.compliance import policy as compliance
    from dialcli.compliance import dnc

    store.execute("INSERT INTO dnc (e164, source, added_at) VALUES (?, 'simulator', 't')", (ny(1),))
    store.execute("INSERT INTO dnc (e164, source, added_at) VALUES (?, 'cli', 't')", (ny(2),))
    assert dnc.is_opted_out(store.conn, ny(1), simulated=True)
    assert not dnc.is_opted_out(store.conn, ny(1), simulated=False)
    assert dnc.is_opted_out(store.conn, ny(2), simulated=False)
    # A rehearsal that ran days ahead on the virtual clock does not cap real dials.
    cid = builders.campaign(store)
    lead = add_leads(store, cid, [{"phones": [ny(3)]}])[0]
    for i in range(3):
        store.execute(
            "INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, kind, "
            "provider, claimed_at) VALUES (?, 1, ?, 1, ?, '+14155550100', ?, 'pass', 'simulator', ?)",
            (cid, lead, ny(3), i + 1, f"2026-03-03T1{5 + i}:00:00.000Z"))
    at = T0 + timedelta(hours=4)
    assert compliance.check_cap(store.conn, ny(3), at, simulated=True)[1] is not None
    assert compliance.check_cap(store.conn, ny(3), at, simulated=False) == (0, None)


def _local_ok(call, window=("09:00", "20:00")):
    at = from_iso(call["claimed_at"])
    for z in call["zone"].split(","):
        local = at.astimezone(zone_info(z)).strftime("%H:%M")
        if not (window[0] <= local < window[1]):
            return False
    return True


@pytest.mark.parametrize("number,zones", [
    ("+12085550100", {"America/Boise", "America/Los_Angeles"}),   # Idaho: two zones
    ("+16025550100", {"America/Phoenix"}),                          # Arizona, no DST
    ("+18085550100", {"Pacific/Honolulu"}),
    # Alaska: 907-555 is not in the zone data, so the number takes every zone the
    # data names for area code 907 (fail closed).
    ("+19075550100", {"America/Adak", "America/Anchorage", "America/Juneau", "Pacific/Honolulu"}),
])
def test_window_checked_in_every_candidate_zone(store, number, zones):
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": [number]}])
    _, _, _ = run(store, cid, profile(no_answer=1.0), start=datetime(2026, 3, 3, 11, tzinfo=timezone.utc))
    rows = calls(store, cid)
    assert len(rows) == 3
    assert set(rows[0]["zone"].split(",")) == zones
    assert all(_local_ok(c) for c in rows)
    # First dial at the first instant the window is open in all zones.
    first = from_iso(rows[0]["claimed_at"])
    assert any(first.astimezone(zone_info(z)).strftime("%H:%M") == "09:00" for z in zones)


def test_dst_switch_day(store):
    cid = builders.campaign(store, max_attempts=1)
    add_leads(store, cid, [{"phones": [ny(100)]}])
    # Sunday 2026-03-08: clocks jump at 02:00; 09:00 EDT is 13:00 UTC (not 14:00).
    run(store, cid, profile(no_answer=1.0), start=datetime(2026, 3, 8, 6, tzinfo=timezone.utc))
    assert calls(store, cid)[0]["claimed_at"].startswith("2026-03-08T13:00")


def test_unknown_zone_is_skipped_unless_lead_has_timezone(store):
    cid = builders.campaign(store, max_attempts=1)
    add_leads(store, cid, [{"phones": ["+18005550100"]},
                           {"phones": ["+18005550101"], "timezone": "America/Chicago"}])
    run(store, cid, profile(no_answer=1.0))
    rows = calls(store, cid)
    assert [c["e164"] for c in rows] == ["+18005550101"]
    first = leads(store, cid)[0]
    assert first["status"] == "SKIPPED" and "time zone" in first["skip_reason"]


def test_closed_windows_do_not_block_open_ones(store):
    cid = builders.campaign(store, max_concurrent=1, max_attempts=1)
    # 15:00 UTC: New York is open (10:00), Honolulu closed (05:00).
    add_leads(store, cid, [{"phones": ["+18085550100"]}, {"phones": [ny(100)]}])
    run(store, cid, profile(no_answer=1.0))
    rows = calls(store, cid)
    assert [c["e164"] for c in rows] == [ny(100), "+18085550100"]


def test_callback_is_dialed_at_due_time_on_the_phone_that_reached_them(store):
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": [ny(100), ny(101)]}])
    prof = profile({ny(100): {"attempts": ["no_answer"]},
                    ny(101): {"attempts": ["human", "human"],
                              "lines": ["Yes", "Call me back tomorrow at 3"]}})
    due = datetime(2026, 3, 4, 20, 0, tzinfo=timezone.utc)   # tomorrow 15:00 New York
    run(store, cid, prof, callback_parser=lambda text, now, tz: due)
    rows = calls(store, cid)
    cb = [c for c in rows if c["kind"].startswith("callback")]
    assert cb and cb[0]["e164"] == ny(101) and cb[0]["claimed_at"].startswith("2026-03-04T20:00")
    appt = store.one("SELECT due_at, slot FROM appointments ORDER BY id LIMIT 1")
    assert appt["due_at"].startswith("2026-03-04T20:00") and appt["slot"] == 2


def test_callback_due_outside_window_moves_into_it(store):
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": [ny(100)]}])
    prof = profile({ny(100): {"attempts": ["human", "no_answer"],
                              "lines": ["Yes", "Call me back at midnight"]}})
    late = datetime(2026, 3, 4, 5, 0, tzinfo=timezone.utc)    # 00:00 New York
    run(store, cid, prof, callback_parser=lambda text, now, tz: late)
    appt = store.one("SELECT due_at FROM appointments ORDER BY id LIMIT 1")
    assert appt["due_at"].startswith("2026-03-04T14:00")      # 09:00 New York


def test_pause_from_another_connection_then_resume(store, db_path):
    from dialcli.store import Store

    cid = builders.campaign(store, max_attempts=2)
    # Big enough that the run outlasts the other "terminal" starting up.
    add_leads(store, cid, [{"phones": [f"+1212555{i:04d}"]} for i in range(200, 2200)])
    seen = []
    ten = threading.Event()

    def on_event(item):          # runs in the engine (inside its transaction)
        seen.append(item)
        if len(seen) == 10:
            ten.set()

    def other_terminal():        # `dialcli pause` from elsewhere: its own connection
        ten.wait(30)
        with Store(db_path) as other:
            lifecycle.pause(other, cid, T0)

    pauser = threading.Thread(target=other_terminal)
    pauser.start()
    engine, result, clock = run(store, cid, profile(no_answer=1.0), on_event=on_event)
    pauser.join()
    assert result.outcome == "paused"
    assert store.scalar("SELECT status FROM campaigns WHERE id = ?", (cid,)) == "PAUSED"
    assert store.scalar("SELECT COUNT(*) FROM calls WHERE disposition IS NULL") == 0
    made = len(calls(store, cid))
    assert made < 4000
    engine2, result2, _ = run(store, cid, profile(no_answer=1.0), start=clock.now())
    assert result2.outcome == "completed"
    rows = calls(store, cid)
    assert len(rows) == 4000
    assert len({(c["lead_id"], c["slot"], c["pass_no"], c["kind"]) for c in rows}) == 4000


def test_restart_new_run_keeps_history_and_opt_outs(store):
    cid = builders.campaign(store, max_attempts=1)
    add_leads(store, cid, [{"phones": [ny(100)]}, {"phones": [ny(101)]}])
    prof = profile({ny(100): {"attempts": ["human"], "lines": ["Who?", "Stop calling me, remove me."]},
                    ny(101): {"attempts": ["no_answer"]}})
    _, _, clock = run(store, cid, prof)
    got = lifecycle.restart(store, cid, clock.now(), wall_now=T0)
    assert got["run"] == 2
    assert got["leads"] == {"PENDING": 2}
    run(store, cid, prof, start=clock.now())
    assert leads(store, cid)[0]["skip_reason"] == "on the opt-out list"
    rows = calls(store, cid)
    assert [(c["run"], c["e164"]) for c in rows] == [(1, ny(100)), (1, ny(101)), (2, ny(101))]


def test_lease_refuses_a_second_runner_and_takes_over_a_stale_one(store):
    import os
    import socket

    from dialcli.clock import to_iso

    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": [ny(100)]}])
    wall = VirtualClock(T0)
    store.execute("UPDATE campaigns SET lease_owner = 'x', lease_pid = ?, lease_host = ?, "
                  "heartbeat_at = ? WHERE id = ?", (os.getpid(), socket.gethostname(), to_iso(T0), cid))
    with pytest.raises(LeaseHeldError) as exc:
        run(store, cid, wall=wall)
    assert f"pid {os.getpid()}" in str(exc.value)
    wall.advance(timedelta(minutes=5))              # the other runner stopped beating
    _, result, _ = run(store, cid, profile(no_answer=1.0), wall=wall)
    assert result.outcome == "completed"
    assert store.scalar("SELECT lease_owner FROM campaigns WHERE id = ?", (cid,)) is None


def test_completed_campaign_refuses_start(store):
    cid = builders.campaign(store, max_attempts=1)
    add_leads(store, cid, [{"phones": [ny(100)]}])
    run(store, cid, profile(no_answer=1.0))
    with pytest.raises(ConflictError):
        run(store, cid)


def test_reconcile_after_crash_settles_claims(store, tmp_path):
    cid = builders.campaign(store, max_attempts=1, max_concurrent=3)
    add_leads(store, cid, [{"phones": [ny(100 + i)]} for i in range(6)])
    journal = str(tmp_path / "net.jsonl")
    clock = VirtualClock(T0)
    provider = SimulatedProvider(KeywordBrain(), seed=3, profile=profile(no_answer=1.0),
                                 journal_path=journal)
    engine = Engine(store, cid, provider, clock)
    engine.lease.acquire()
    engine.provider.bind(engine.sink, clock)
    # Claim and place three calls, then "die" before any outcome is applied.
    for _ in range(3):
        engine.dispatcher.dispatch(clock.now())
        engine.placer.place_claimed(clock.now())
        clock.advance(1)
    assert len(engine.in_flight) == 3
    # A claim that never reached the provider:
    extra = engine.claimer.claim(4, 1, "pass", clock.now())
    assert extra is not None
    engine.lease.release()
    provider.close()
    _, result, _ = run(store, cid, profile(no_answer=1.0), seed=3, journal=journal,
                       start=clock.now() + timedelta(minutes=1))
    assert result.reconciled == 4
    rows = calls(store, cid)
    assert len(rows) == 6
    assert all(c["disposition"] == "NO_ANSWER" for c in rows)
    assert store.scalar("SELECT COUNT(*) FROM audit WHERE decision = 'unclaim'") == 1


def test_stray_leads_without_a_queued_phone_do_not_hold_the_campaign(store):
    cid = builders.campaign(store, max_attempts=1)
    ids = add_leads(store, cid, [{"phones": [ny(100)]}, {"phones": [ny(101), ny(102)]},
                                 {"phones": [ny(103)]}])
    # A lead with no phone slot at all, and one whose queue group was lost.
    store.execute("UPDATE leads SET phone_slot = NULL, cur_group = NULL WHERE id = ?", (ids[0],))
    store.execute("UPDATE lead_phones SET dead_reason = 'on the opt-out list' WHERE lead_id = ?",
                  (ids[0],))
    store.execute("UPDATE leads SET cur_group = NULL WHERE id = ?", (ids[1],))
    _, result, _ = run(store, cid, profile(no_answer=1.0))
    assert result.outcome == "completed"
    got = {l["id"]: l for l in leads(store, cid)}
    assert got[ids[0]]["status"] == "SKIPPED" and got[ids[0]]["skip_reason"] == "no dialable phone"
    assert [c["e164"] for c in calls(store, cid)] == [ny(103), ny(101), ny(102)] or \
        sorted(c["e164"] for c in calls(store, cid)) == [ny(101), ny(102), ny(103)]


def test_every_lead_status_change_reaches_the_outbox_including_restart(store):
    from dialcli.results import webhooks

    cid = builders.campaign(store, max_attempts=1)
    add_leads(store, cid, [{"phones": [ny(100)]}, {"phones": [ny(101)]}])
    webhooks.add_subscription(store, "http://127.0.0.1:9/hook", now_iso="2026-03-03T15:00:00.000Z")
    prof = profile({ny(100): {"attempts": ["human"], "lines": ["Yes", "I'm interested"]},
                    ny(101): {"attempts": ["no_answer"]}})
    _, _, clock = run(store, cid, prof)
    events = [json.loads(r[0]) for r in store.all("SELECT payload FROM outbox ORDER BY id")]
    # PENDING -> DIALING -> REACHED and PENDING -> DIALING -> EXHAUSTED
    changes = [(e["lead"]["id"], e["lead"]["previous_status"], e["lead"]["status"]) for e in events]
    assert len(changes) == 4 and all(prev != new for _, prev, new in changes)
    lifecycle.restart(store, cid, clock.now(), wall_now=T0)
    after = store.scalar("SELECT COUNT(*) FROM outbox")
    assert after == 6                         # both leads back to PENDING


def test_every_placed_call_has_its_sid_and_placement_time(tmp_path):
    """Group commit records SIDs at the commit, and a call that ended before it by its
    outcome; either way every call row ends with both, the same as one commit per turn."""
    from dialcli.store import Store

    rows = {}
    for mode in (True, False):
        db = tmp_path / f"gc-{mode}.db"
        st = Store(db)
        cid = builders.campaign(st, max_concurrent=6, max_attempts=2)
        add_leads(st, cid, [{"name": f"L{i}", "phones": [ny(300 + i)]} for i in range(40)])
        engine, result, _ = run(st, cid, journal=str(db) + "-simnet.jsonl", group_commit=mode)
        assert engine.tx.group_commit is mode and result.outcome == "completed"
        assert st.scalar("SELECT COUNT(*) FROM calls WHERE provider_sid IS NULL "
                         "OR placed_at IS NULL OR status IN ('claimed', 'queued')") == 0
        rows[mode] = st.all("SELECT id, provider_sid, placed_at, status, disposition "
                            "FROM calls ORDER BY id")
        st.close()
    assert [tuple(r) for r in rows[True]] == [tuple(r) for r in rows[False]]


def test_the_dashboard_says_why_nothing_is_dialed(store):
    """Idle, the live dashboard names what it waits for: a window, a callback, a pass."""
    from dialcli.cli.ui import status_line

    cid = builders.campaign(store, max_attempts=2)
    # 15:00 UTC: Honolulu is closed until 09:00 HST (19:00 UTC); New York is open.
    add_leads(store, cid, [{"phones": ["+18085550100"]}, {"phones": [ny(100)]}])
    prof = profile({ny(100): {"attempts": ["human"], "lines": ["Call me back in two hours"]},
                    "+18085550100": {"attempts": ["no_answer", "no_answer"]}})
    seen: list = []
    engine: Engine

    class Watched(VirtualClock):
        def wait(self, inbox, until):
            snap = engine.snapshot()
            if snap.in_flight == 0 and snap.waiting_until is not None \
                    and snap.waiting_until > snap.now:
                seen.append((snap.waiting_until, snap.waiting_for, status_line(snap).plain))
            super().wait(inbox, until)

    clock = Watched(T0)
    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1, profile=prof), clock)
    engine.run()
    # Waiting first for New York's callback (two hours on), then for Honolulu's window,
    # then for the second pass.
    at, why, line = seen[0]
    assert T0 + timedelta(hours=2) < at < T0 + timedelta(hours=2, minutes=1)
    assert why == "a callback is due"
    assert line.endswith("Nothing to dial until Tue 03-03 17:00:21 UTC: a callback is due")
    hawaii = [s for s in seen if s[0] == T0.replace(hour=19)]
    assert hawaii and hawaii[0][1] == "calling hours open for numbers in Pacific/Honolulu"
    assert "Nothing to dial until Tue 03-03 19:00:00 UTC: calling hours open for numbers in " \
        "Pacific/Honolulu" in hawaii[0][2]
    assert seen[-1][1] == "pass 2 opens" and "Next pass opens" in seen[-1][2]


def test_the_dashboard_names_a_special_day_that_closes_the_window(store):
    """Utah forbids calls on Sunday: the wait says so, not only "calling hours"."""
    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": ["+18015550121"]}])          # Salt Lake City
    seen: list = []
    engine: Engine

    class Watched(VirtualClock):
        def wait(self, inbox, until):
            if not seen:
                seen.append(engine.snapshot())
            super().wait(inbox, until)

    sunday = datetime(2026, 12, 6, 22, 0, tzinfo=timezone.utc)      # 15:00 MST
    clock = Watched(sunday)
    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1, profile=profile()),
                    clock)
    engine.run()
    assert seen[0].waiting_until == datetime(2026, 12, 7, 16, 0, tzinfo=timezone.utc)
    assert seen[0].waiting_for == ("calling hours open for numbers in America/Denver "
                                   "(UT: no calls on Sunday)")


def test_status_in_another_terminal_says_what_an_idle_live_runner_waits_for(store, db_path):
    """`dialcli status` elsewhere reads the reason the runner publishes with its
    heartbeat; the release of the lease clears it."""
    from dialcli.store import Store
    from dialcli.cli.ui import status_line

    cid = builders.campaign(store)
    add_leads(store, cid, [{"phones": ["+18085550100"]}])   # Honolulu: closed until 19:00 UTC
    seen: list = []
    engine: Engine

    class Wall(VirtualClock):
        virtual = False      # as a live runner's clock: heartbeats publish the wait

        def wait(self, inbox, until):
            if self.now() - T0 > timedelta(seconds=4) and not seen:
                with Store(db_path) as other:
                    seen.append(lifecycle.snapshot(other, cid, self.now()))
                engine.stop_requested.set()
            super().wait(inbox, until)

    clock = Wall(T0)
    engine = Engine(store, cid, SimulatedProvider(KeywordBrain(), seed=1, profile=profile()),
                    clock, wall=clock)
    assert engine.run().outcome == "paused"
    snap = seen[0]
    assert snap.waiting_until == T0.replace(hour=19)
    assert snap.waiting_for == "calling hours open for numbers in Pacific/Honolulu"
    assert "Nothing to dial until Tue 03-03 19:00:00 UTC: calling hours open for numbers in " \
        "Pacific/Honolulu" in status_line(snap).plain
    # Stopped, the runner no longer speaks for the campaign.
    after = lifecycle.snapshot(store, cid, clock.now())
    assert after.waiting_until is None and after.waiting_for is None
    assert store.scalar("SELECT waiting_until FROM campaigns WHERE id = ?", (cid,)) is None


def test_a_lead_whose_rules_never_meet_is_skipped_saying_which(store):
    """A campaign window of 08:00-09:00 and Illinois's 09:00-21:00 leave no minute."""
    cid = builders.campaign(store, window=("08:00", "09:00"))
    add_leads(store, cid, [{"phones": ["+13125550101"]}, {"phones": [ny(100)]}])
    run(store, cid, profile(no_answer=1.0))
    chicago, new_york = leads(store, cid)
    assert chicago["status"] == "SKIPPED"
    assert chicago["skip_reason"] == ("no permitted calling time: campaign 08:00-09:00 and "
                                      "IL 09:00-21:00 never overlap (America/Chicago)")
    assert new_york["status"] != "SKIPPED"
