"""Property tests: random campaigns on the simulator keep every engine invariant."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from dialcli.clock import VirtualClock, from_iso
from dialcli.compliance.rules import zone_info
from dialcli.engine.loop import Engine
from dialcli.models import Disposition
from dialcli.providers.simulator import SimProfile, SimulatedProvider
from dialcli.store import Store
import builders
from fakes.keyword_brain import KeywordBrain
from builders import add_leads

AREAS = ["212", "415", "208", "907", "602", "808", "305", "701"]
START = datetime(2026, 3, 6, 12, 0, tzinfo=timezone.utc)   # Friday, before DST starts


@st.composite
def campaigns(draw):
    n = draw(st.integers(1, 10))
    leads = []
    used = set()
    for i in range(n):
        k = draw(st.integers(1, 3))
        phones = []
        for j in range(k):
            area = draw(st.sampled_from(AREAS))
            number = f"+1{area}555{(100 + i * 3 + j):04d}"
            if number not in used:
                used.add(number)
                phones.append(number)
        if phones:
            leads.append({"name": f"L{i}", "phones": phones})
    weights = draw(st.lists(st.floats(0, 1), min_size=5, max_size=5).filter(lambda w: sum(w) > 0.1))
    return {
        "leads": leads,
        "max_attempts": draw(st.integers(1, 3)),
        "retry": draw(st.sampled_from([10, 60, 240])),
        "max_concurrent": draw(st.integers(1, 4)),
        "window": draw(st.sampled_from([("09:00", "20:00"), ("08:00", "21:00"), ("10:00", "12:00")])),
        "seed": draw(st.integers(0, 10_000)),
        "outcomes": dict(zip(("human", "voicemail", "no_answer", "busy", "failed"), weights)),
    }


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=campaigns())
def test_random_campaigns_keep_the_invariants(tmp_path_factory, spec):
    path = tmp_path_factory.mktemp("prop") / "p.db"
    store = Store(path)
    cid = builders.campaign(store, window=spec["window"], retry=spec["retry"],
                        max_attempts=spec["max_attempts"], max_concurrent=spec["max_concurrent"],
                        cps=2)
    add_leads(store, cid, spec["leads"])
    profile = SimProfile.from_dict({"outcomes": spec["outcomes"]})
    journal = str(path) + "-net.jsonl"
    provider = SimulatedProvider(KeywordBrain(), seed=spec["seed"], profile=profile,
                                 journal_path=journal, record=True)
    clock = VirtualClock(START)
    result = Engine(store, cid, provider, clock).run()
    assert result.outcome == "completed"

    rows = [dict(r) for r in store.all("SELECT * FROM calls ORDER BY id")]
    # 1. never twice: one network placement per attempt key, one row per placement
    keys = Counter(r.key for r in [_Key(x) for x in provider.placed])
    assert all(n == 1 for n in keys.values())
    assert len(rows) == len(provider.placed)
    # 2. every lead final, every call settled
    statuses = Counter(r[0] for r in store.all("SELECT status FROM leads"))
    assert set(statuses) <= {"REACHED", "OPTED_OUT", "EXHAUSTED", "SKIPPED"}
    assert all(r["disposition"] for r in rows)
    # 3. a phone is dialed at most once per pass, and passes never exceed the maximum
    pass_calls = [r for r in rows if r["kind"] == "pass"]
    per_phone = Counter((r["lead_id"], r["slot"]) for r in pass_calls)
    assert max(per_phone.values(), default=0) <= spec["max_attempts"]
    assert all(1 <= r["pass_no"] <= spec["max_attempts"] for r in pass_calls)
    # 4. every dial inside the window in every candidate zone
    for r in rows:
        at = from_iso(r["claimed_at"])
        for z in r["zone"].split(","):
            local = at.astimezone(zone_info(z)).strftime("%H:%M")
            assert spec["window"][0] <= local < spec["window"][1], (r, local)
    # 5. passes: pass k+1 starts no sooner than the interval after pass k's last call
    for p in range(2, spec["max_attempts"] + 1):
        prev = [from_iso(r["ended_at"]) for r in pass_calls if r["pass_no"] == p - 1]
        this = [from_iso(r["claimed_at"]) for r in pass_calls if r["pass_no"] == p]
        if prev and this:
            assert min(this) - max(prev) >= timedelta(minutes=spec["retry"]) - timedelta(seconds=1)
    # 6. a wrong number is never dialed again; a reach ends the lead
    for r in rows:
        if r["disposition"] == "WRONG_NUMBER":
            later = [x for x in rows if x["lead_id"] == r["lead_id"] and x["slot"] == r["slot"]
                     and x["id"] > r["id"]]
            assert not later
        if Disposition(r["disposition"]).reached and r["disposition"] != "CALLBACK":
            later = [x for x in rows if x["lead_id"] == r["lead_id"] and x["id"] > r["id"]]
            assert not later
    # 7. opt-outs: no number on the list was dialed after it was added
    for e164, added in store.all("SELECT e164, added_at FROM dnc"):
        assert not [x for x in rows if x["e164"] == e164 and x["claimed_at"] > added]
    # 8. never more than 3 dials to a number in any rolling 24 hours (frequency cap)
    by_number: dict[str, list] = {}
    for r in rows:
        by_number.setdefault(r["e164"], []).append(from_iso(r["claimed_at"]))
    for times in by_number.values():
        for i in range(len(times) - 3):
            assert times[i + 3] - times[i] >= timedelta(hours=24)
    # 9. each lead's last disposition is its last call's
    for lead_id, last in store.all("SELECT id, last_disposition FROM leads"):
        mine = [x for x in rows if x["lead_id"] == lead_id]
        if mine:
            assert last == mine[-1]["disposition"]
    store.close()


class _Key:
    def __init__(self, req):
        self.key = req.attempt_key
