"""Direct-SQL builders kept while test_compliance_engine.py, test_cli_dnc.py,
test_cli_compliance.py and bench/compliance_bench.py still import them: new tests use
``builders``.

Independent of the importer and the CLI: a campaign, leads with phones described by
``PhoneParser`` (zones and region from the number, or the lead's own ``timezone``),
and the zone groups the engine queues by.
"""

from __future__ import annotations

from dialcli.phones import PhoneParser
from dialcli.store import Store

NOW = "2026-03-03T15:00:00.000Z"
GREETING = "Hi {{NAME}}, this is Zara from Acme. Press 9 to stop these calls."


def campaign(store: Store, *, name: str = "C", window=("09:00", "20:00"), max_attempts=3,
             retry=60, status="DRAFT", greeting: str = GREETING, max_concurrent: int = 5,
             cps: float = 1.0,
             prompt: str = "You are Zara. If asked to stop calling, label OPT_OUT.") -> int:
    with store.tx():
        agent = store.scalar("SELECT id FROM agents WHERE name = 'Zara'")
        if agent is None:
            agent = store.execute(
                "INSERT INTO agents (name, greeting, system_prompt, created_at, updated_at) "
                "VALUES ('Zara', ?, ?, ?, ?)", (greeting, prompt, NOW, NOW)).lastrowid
        store.execute("INSERT OR IGNORE INTO numbers (e164, added_at) VALUES (?, ?)",
                      ("+14155550100", NOW))
        return store.execute(
            "INSERT INTO campaigns (name, agent_id, from_number, window_start, window_end, "
            "retry_interval_minutes, max_attempts, status, max_concurrent, cps, created_at, "
            "updated_at) VALUES (?, ?, '+14155550100', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, agent, window[0], window[1], retry, max_attempts, status, max_concurrent,
             cps, NOW, NOW),
        ).lastrowid


def _group(store: Store, zones, region: str) -> int:
    key = ",".join(zones)
    store.execute("INSERT OR IGNORE INTO zone_groups (zones, region) VALUES (?, ?)", (key, region))
    return store.scalar("SELECT id FROM zone_groups WHERE zones = ? AND region = ?", (key, region))


def leads(store: Store, campaign_id: int, specs) -> list[int]:
    """specs: {"phones": [...], "name", "row", "timezone", "state", "status", "slot",
    "dead": {slot: reason}, "pass_done", "next_try_at", "callback_at", "callback_slot"}"""
    parser = PhoneParser("US")
    ids = []
    with store.tx():
        for i, spec in enumerate(specs, 2):
            phones = [parser.parse(p) for p in spec["phones"]]
            tz = spec.get("timezone")
            extra = spec.get("state")
            groups = []
            regions = []
            for p in phones:
                region = p.region if not extra or extra in p.region else f"{p.region},US-{extra}"
                regions.append(region)
                groups.append(_group(store, (tz,) if tz else p.zones, region))
            dead = spec.get("dead", {})
            live = [k for k in range(1, len(phones) + 1) if k not in dead]
            slot = spec.get("slot", live[0] if live else None)
            status = spec.get("status", "PENDING" if live else "SKIPPED")
            lead_id = store.execute(
                "INSERT INTO leads (campaign_id, row_number, name, phone1, vars, timezone, status, "
                "phone_slot, cur_group, pass_done, next_try_at, callback_at, callback_slot, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, spec.get("row", i), spec.get("name", f"Lead {i}"),
                 phones[0].e164, tz, status, slot, groups[slot - 1] if slot else None,
                 spec.get("pass_done", 0), spec.get("next_try_at"), spec.get("callback_at"),
                 spec.get("callback_slot"), NOW, NOW)).lastrowid
            for k, (p, g, r) in enumerate(zip(phones, groups, regions), 1):
                store.execute(
                    "INSERT INTO lead_phones (lead_id, slot, e164, zones, region, group_id, "
                    "dead_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (lead_id, k, p.e164, ",".join(p.zones), r, g, dead.get(k)))
            ids.append(lead_id)
    return ids


def lead(store: Store, lead_id: int) -> dict:
    return dict(store.one("SELECT * FROM leads WHERE id = ?", (lead_id,)))
