"""Report figures against a campaign whose outcomes are pinned (builders.spring_campaign)."""

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from dialcli.results import reporting

from dialcli.store import settings
from dialcli.errors import InputError
from dialcli.store import Store
from dialcli.store import migrations

import builders
from builders import NOW_ISO, add_call, add_lead, spring_campaign

TODAY = date(2026, 3, 3)


@pytest.fixture
def spring(store):
    data = spring_campaign(store)
    settings.set_value(store, "rate_per_minute", "0.02", now_iso=NOW_ISO)
    return data


def test_kpis_current_run(store, spring):
    k = reporting.campaign_kpis(store, spring["campaign"])
    assert (k.campaign, k.status, k.run, k.current_run) == ("Spring", "RUNNING", 2, 2)
    assert (k.calls_made, k.calls_finished, k.in_flight) == (9, 8, 1)
    assert k.dispositions == {
        "INTERESTED": 1, "NOT_INTERESTED": 1, "CALLBACK": 1, "VOICEMAIL": 1,
        "WRONG_NUMBER": 1, "NO_ANSWER": 2, "OPT_OUT": 1, "COMPLETED": 0, "FAILED": 0}
    assert (k.reached, k.interested, k.opted_out, k.callbacks) == (4, 1, 1, 1)
    assert k.reach_rate == pytest.approx(0.5)
    assert k.avg_talk_s == pytest.approx((185 + 40 + 75 + 95) / 4)
    assert k.billed_minutes == 11
    assert (k.rate, k.rate_is_default) == (0.02, False)
    assert k.cost_final == pytest.approx(0.056)
    assert k.cost_estimated == pytest.approx(7 * 0.02)
    assert k.cost == pytest.approx(0.196)
    assert k.leads_by_status == {"PENDING": 1, "DIALING": 1, "RETRY": 0, "CALLBACK": 1,
                                 "REACHED": 2, "OPTED_OUT": 1, "EXHAUSTED": 1, "SKIPPED": 1}
    assert (k.leads_total, k.leads_reached) == (8, 4)
    assert (k.current_pass, k.max_passes, k.next_pass_at) == (2, 3, None)


def test_kpis_all_runs(store, spring):
    k = reporting.campaign_kpis(store, spring["campaign"], all_runs=True)
    assert k.run is None
    assert (k.calls_made, k.calls_finished) == (10, 9)
    assert k.dispositions["NO_ANSWER"] == 3
    assert k.billed_minutes == 12
    assert k.cost == pytest.approx(0.216)
    assert k.reach_rate == pytest.approx(4 / 9)


def test_default_rate_when_unset(store):
    data = spring_campaign(store)
    k = reporting.campaign_kpis(store, data["campaign"])
    assert (k.rate, k.rate_is_default) == (0.014, True)
    assert k.cost == pytest.approx(0.056 + 7 * 0.014)


def test_kpis_follow_call_updates(store, spring):
    """The engine settling the in-flight call and the provider's late price."""
    cid, call = spring["campaign"], spring["call"][9]
    with store.tx():
        store.execute("UPDATE calls SET disposition = 'COMPLETED', answered_by = 'human', turns = 5, "
                      "ended_at = '2026-03-03T15:02:00.000Z', duration_s = 120, billed_minutes = 2 "
                      "WHERE id = ?", (call,))
    k = reporting.campaign_kpis(store, cid)
    assert (k.in_flight, k.calls_finished, k.reached) == (0, 9, 5)
    assert k.dispositions["COMPLETED"] == 1
    assert k.cost == pytest.approx(0.056 + 9 * 0.02)
    with store.tx():
        store.execute("UPDATE calls SET price = 0.0265, price_final = 1 WHERE id = ?", (call,))
    k = reporting.campaign_kpis(store, cid)
    assert k.cost == pytest.approx(0.056 + 0.0265 + 7 * 0.02)
    assert k.avg_talk_s == pytest.approx((185 + 40 + 75 + 95 + 120) / 5)


def test_empty_campaign(store):
    cid = builders.campaign(store, "Empty", status="RUNNING")
    k = reporting.campaign_kpis(store, cid)
    assert (k.calls_made, k.reached, k.billed_minutes, k.cost, k.leads_total) == (0, 0, 0, 0, 0)
    assert k.reach_rate is None and k.avg_talk_s is None
    cost = reporting.cost_report(store, cid, today=TODAY)
    assert len(cost.days) == 30 and all(d.cost == 0 for d in cost.days)
    assert cost.other_runs_cost is None


def test_cost_trend(store, spring):
    cost = reporting.cost_report(store, spring["campaign"], today=TODAY)
    assert len(cost.days) == 30
    assert (cost.first_day, cost.last_day) == (date(2026, 2, 2), TODAY)
    by_day = {d.day: d for d in cost.days}
    assert [d.day for d in cost.days] == sorted(by_day)
    assert (by_day[date(2026, 3, 1)].calls, by_day[date(2026, 3, 1)].billed_minutes) == (3, 5)
    assert by_day[date(2026, 3, 1)].cost == pytest.approx(0.056 + 0.02)
    assert (by_day[date(2026, 3, 2)].calls, by_day[date(2026, 3, 2)].billed_minutes) == (4, 4)
    assert by_day[date(2026, 3, 2)].cost == pytest.approx(0.08)
    assert by_day[date(2026, 3, 3)].cost == pytest.approx(0.04)
    assert sum(1 for d in cost.days if d.cost == 0 and d.calls == 0) == 27
    assert cost.trend_cost == pytest.approx(0.196) and cost.cost == pytest.approx(0.196)
    assert (cost.billed_minutes, cost.priced_calls) == (11, 1)
    assert cost.other_runs_minutes == 1 and cost.other_runs_cost == pytest.approx(0.02)


def test_cost_all_runs_counts_old_calls_outside_the_window(store, spring):
    cost = reporting.cost_report(store, spring["campaign"], today=TODAY, all_runs=True)
    assert cost.cost == pytest.approx(0.216)
    assert cost.trend_cost == pytest.approx(0.196)      # 2026-01-15 is before the 30 days
    assert cost.other_runs_cost is None


def test_cost_window_follows_a_simulation_ahead_of_the_wall_clock(store, spring):
    cost = reporting.cost_report(store, spring["campaign"], today=date(2026, 2, 1), days=7)
    assert (cost.first_day, cost.last_day) == (date(2026, 2, 25), date(2026, 3, 3))
    assert cost.trend_cost == pytest.approx(0.196)
    with pytest.raises(InputError):
        reporting.cost_report(store, spring["campaign"], today=TODAY, days=0)


def test_lead_rows_default_order_and_current_phone(store, spring):
    rows = reporting.lead_rows(store, spring["campaign"])
    assert [r.row_number for r in rows] == [2, 3, 4, 5, 6, 7, 8, 9]
    jamie = rows[1]
    assert (jamie.name, jamie.status, jamie.last_disposition) == ("Jamie Lee", "REACHED",
                                                                  "NOT_INTERESTED")
    assert (jamie.phone_slot, jamie.phone, jamie.pass_no, jamie.attempts) == (1, "+12125550133",
                                                                            2, 3)
    assert rows[5].phone is None                         # exhausted: no current phone


def test_lead_rows_filter_sort_limit(store, spring):
    cid = spring["campaign"]
    rows = reporting.lead_rows(store, cid, status=["reached,opted-out"])
    assert {r.status for r in rows} == {"REACHED", "OPTED_OUT"} and len(rows) == 3
    rows = reporting.lead_rows(store, cid, sort="attempts", limit=2)
    assert [r.attempts for r in rows] == [3, 2]
    rows = reporting.lead_rows(store, cid, sort="last-call")
    assert rows[0].name.startswith("=HYPERLINK") and rows[-1].last_call_at is None
    rows = reporting.lead_rows(store, cid, sort="callback", limit=1)
    assert rows[0].callback_at == "2026-03-04T15:00:00.000Z"
    rows = reporting.lead_rows(store, cid, sort="name")
    assert [r.name for r in rows][1:3] == ["Alex Chen", "Jamie Lee"]
    with pytest.raises(InputError, match="Unknown lead status 'DONE'"):
        reporting.lead_rows(store, cid, status=["done"])
    with pytest.raises(InputError, match="Unknown sort"):
        reporting.lead_rows(store, cid, sort="age")


def test_campaign_report_bundle(store, spring):
    report = reporting.campaign_report(store, spring["campaign"], today=TODAY,
                                       status=["PENDING"], limit=0)
    assert report.leads_matching == 1 and len(report.leads) == 1 and report.limit is None
    data = report.as_dict()
    assert data["kpis"]["calls_made"] == 9
    assert data["cost"]["days"][-1] == {"day": "2026-03-03", "calls": 1, "billed_minutes": 2,
                                        "cost": 0.04}
    assert data["leads"]["rows"][0]["name"] == "Nia Noel"
    with pytest.raises(InputError):
        reporting.campaign_report(store, spring["campaign"], today=TODAY, limit=-1)


# -- the trigger-kept counters ------------------------------------------------------------

def _aggregate(store, campaign_id):
    """call_stats recomputed from calls, independently of the triggers."""
    rows = store.all(
        "SELECT run, COALESCE(substr(ended_at, 1, 10), ''), COALESCE(disposition, ''), COUNT(*), "
        "SUM(COALESCE(duration_s, 0)), SUM(COALESCE(billed_minutes, 0)), "
        "SUM(CASE WHEN price_final = 1 THEN 0 ELSE COALESCE(billed_minutes, 0) END), "
        "SUM(price_final = 1), "
        "SUM(CASE WHEN price_final = 1 THEN CAST(ROUND(COALESCE(price, 0) * 1000000) AS INTEGER) "
        "ELSE 0 END) FROM calls WHERE campaign_id = ? AND disposition IS NOT NULL "
        "GROUP BY 1, 2, 3", (campaign_id,))
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


def _stats(store, campaign_id):
    rows = store.all("SELECT run, day, disposition, calls, talk_s, billed_minutes, est_minutes, "
                     "priced_calls, price_micros FROM call_stats WHERE campaign_id = ?",
                     (campaign_id,))
    return {tuple(r[:3]): tuple(r[3:]) for r in rows if r[3] != 0}


DISPOSITIONS = st.sampled_from([None, "NO_ANSWER", "INTERESTED", "VOICEMAIL", "OPT_OUT"])
DAYS = st.sampled_from([None, "2026-03-01T10:00:00.000Z", "2026-03-02T23:59:59.999Z"])
OPS = st.lists(st.tuples(
    st.sampled_from(["insert", "update", "price", "delete"]),
    st.integers(0, 30), DISPOSITIONS, DAYS,
    st.one_of(st.none(), st.integers(0, 600)), st.one_of(st.none(), st.integers(0, 10)),
    st.one_of(st.none(), st.floats(0, 2, allow_nan=False).map(lambda x: round(x, 5))),
), max_size=40)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_call_stats_always_equal_an_aggregate_of_calls(ops):
    store = Store(":memory:")
    cid = builders.campaign(store, status="RUNNING")
    lead = add_lead(store, cid, row=2, name="L", phones=[("+14155551200", "America/Los_Angeles")])
    ids: list[int] = []
    for n, (op, k, disp, ended, duration, billed, price) in enumerate(ops):
        if op == "insert" or not ids:
            ids.append(add_call(store, cid, lead, pass_no=n + 1, run=1 + k % 2, disposition=disp,
                                ended_at=ended, duration_s=duration, billed_minutes=billed))
            continue
        target = ids[k % len(ids)]
        with store.tx():
            if op == "update":
                store.execute("UPDATE calls SET disposition = ?, ended_at = ?, duration_s = ?, "
                              "billed_minutes = ? WHERE id = ?",
                              (disp, ended, duration, billed, target))
            elif op == "price":
                store.execute("UPDATE calls SET price = ?, price_final = ? WHERE id = ?",
                              (price, 1 if price is not None else 0, target))
            else:
                store.execute("DELETE FROM calls WHERE id = ?", (target,))
                ids.remove(target)
    assert _stats(store, cid) == _aggregate(store, cid)
    store.close()


def test_deleting_a_campaign_clears_its_counters(store, spring):
    cid = spring["campaign"]
    with store.tx():
        store.execute("DELETE FROM campaigns WHERE id = ?", (cid,))
    assert _stats(store, cid) == {}


def _old_campaign(st: Store) -> int:
    """A RUNNING campaign written as the schema before the consent gate (m010) held it:
    the product's create_campaign writes today's columns (and create_agent too)."""
    with st.tx():
        st.execute("INSERT INTO agents (name, greeting, system_prompt, language, created_at, "
                   "updated_at) VALUES ('Zara', ?, ?, 'en-US', ?, ?)",
                   (builders.GREETING, builders.PROMPT, NOW_ISO, NOW_ISO))
    builders.number(st)
    with st.tx():
        return st.execute(
            "INSERT INTO campaigns (name, agent_id, from_number, window_start, window_end, "
            "retry_interval_minutes, max_attempts, voicemail_action, max_concurrent, cps, "
            "status, created_at, updated_at) SELECT 'Spring', id, ?, '09:00', '20:00', 60, 3, "
            "'hangup', 5, 1.0, 'RUNNING', ?, ? FROM agents WHERE name = 'Zara'",
            (builders.FROM, NOW_ISO, NOW_ISO)).lastrowid


def test_upgrade_backfills_counters_from_existing_calls(db_path):
    names = migrations.names()
    st = Store(db_path, migrate=False)
    migrations.migration_set().apply(st.db, stop_before="m004_results")
    assert "m004_results" not in st.applied_migrations()
    # Old schema: insert directly (no triggers exist yet).
    cid = _old_campaign(st)
    lead = add_lead(st, cid, row=2, name="L", phones=[("+14155551200", "America/Los_Angeles")],
                    consent=None)
    for n, disp in enumerate(["NO_ANSWER", "INTERESTED", None]):
        st.execute("INSERT INTO calls (campaign_id, run, lead_id, slot, e164, from_number, pass_no, "
                   "provider, claimed_at, ended_at, disposition, duration_s, billed_minutes) "
                   "VALUES (?, 1, ?, 1, '+14155551200', '+14155550100', ?, 'simulator', ?, ?, ?, "
                   "60, 1)", (cid, lead, n + 1, NOW_ISO, NOW_ISO if disp else None, disp))
    st.close()
    st = Store(db_path)
    assert st.applied_migrations() == names
    assert _stats(st, cid) == _aggregate(st, cid)
    k = reporting.campaign_kpis(st, cid)
    assert (k.calls_made, k.in_flight, k.reached) == (3, 1, 1)
    st.close()


def test_upgrade_from_m004_counts_finished_calls_only(db_path):
    st = Store(db_path, migrate=False)
    migrations.migration_set().apply(st.db, stop_before="m005_call_stats_finished_only")
    cid = _old_campaign(st)
    lead = add_lead(st, cid, row=2, name="L", phones=[("+14155551200", "America/Los_Angeles")],
                    consent=None)
    add_call(st, cid, lead, pass_no=1, disposition="NO_ANSWER", ended_at=NOW_ISO, billed_minutes=1)
    open_call = add_call(st, cid, lead, pass_no=2)
    assert st.scalar("SELECT COUNT(*) FROM call_stats WHERE disposition = ''") == 1
    st.close()
    st = Store(db_path)
    assert _stats(st, cid) == _aggregate(st, cid)
    assert st.scalar("SELECT COUNT(*) FROM call_stats WHERE disposition = ''") == 0
    with st.tx():
        st.execute("UPDATE calls SET disposition = 'INTERESTED', ended_at = ?, duration_s = 60 "
                   "WHERE id = ?", (NOW_ISO, open_call))
    assert _stats(st, cid) == _aggregate(st, cid)
    k = reporting.campaign_kpis(st, cid)
    assert (k.calls_made, k.in_flight, k.reached) == (2, 0, 1)
    st.close()
