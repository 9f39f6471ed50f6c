"""Direct-SQL builders kept while tests/test_engine*.py, test_scheduler.py, test_cli_run.py
and bench/live_bench.py still import them: new tests use ``builders``."""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from dialcli.phones import PhoneParser
from dialcli.store import Store
from fakes.keyword_brain import KeywordBrain  # noqa: F401  (tests/test_engine*.py import it from here)

NOW = "2026-03-03T15:00:00.000Z"


def make_campaign(store: Store, *, name: str = "C", window: tuple[str, str] = ("09:00", "20:00"),
                  retry: int = 60, max_attempts: int = 3, max_concurrent: int = 5,
                  cps: float = 1.0, voicemail: str = "hangup", greeting: str | None = None,
                  from_number: str = "+14155550100") -> int:
    with store.tx():
        agent = store.scalar("SELECT id FROM agents WHERE name = 'Zara'")
        if agent is None:
            agent = store.execute(
                "INSERT INTO agents (name, greeting, system_prompt, voicemail_message, created_at, "
                "updated_at) VALUES ('Zara', ?, 'You are Zara.', 'Please call us back, {{NAME}}.', ?, ?)",
                (greeting or "Hi {{NAME}}, this is Zara from Acme. Press 9 to opt out.", NOW, NOW),
            ).lastrowid
        store.execute("INSERT OR IGNORE INTO numbers (e164, added_at) VALUES (?, ?)",
                      (from_number, NOW))
        return store.execute(
            "INSERT INTO campaigns (name, agent_id, from_number, window_start, window_end, "
            "retry_interval_minutes, max_attempts, voicemail_action, max_concurrent, cps, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, agent, from_number, window[0], window[1], retry, max_attempts, voicemail,
             max_concurrent, cps, NOW, NOW),
        ).lastrowid


def _group(store: Store, zones: Sequence[str], region: str) -> int:
    key = ",".join(zones)
    store.execute("INSERT OR IGNORE INTO zone_groups (zones, region) VALUES (?, ?)", (key, region))
    return store.scalar("SELECT id FROM zone_groups WHERE zones = ? AND region = ?", (key, region))


def add_leads(store: Store, campaign_id: int, leads: Iterable[dict]) -> list[int]:
    """leads: {"name": .., "phones": ["+1..", ...], "timezone": None, "vars": {...}}"""
    parser = PhoneParser("US")
    ids = []
    with store.tx():
        pass_no = store.scalar("SELECT pass_no FROM campaigns WHERE id = ?", (campaign_id,))
        for i, spec in enumerate(leads, 2):
            phones = [parser.parse(p) for p in spec["phones"]]
            tz = spec.get("timezone")
            groups = [_group(store, (tz,) if tz else p.zones, p.region) for p in phones]
            dead = spec.get("dead", {})
            live = [k for k in range(1, len(phones) + 1) if k not in dead]
            first = live[0] if live else None
            lead_id = store.execute(
                "INSERT INTO leads (campaign_id, row_number, name, email, phone1, vars, timezone, "
                "status, phone_slot, cur_group, pass_no, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, spec.get("row", i), spec.get("name", f"Lead {i}"), spec.get("email"),
                 phones[0].e164, json.dumps(spec.get("vars", {})), tz,
                 "PENDING" if first else "SKIPPED", first,
                 groups[first - 1] if first else None, pass_no, NOW, NOW),
            ).lastrowid
            for slot, (p, g) in enumerate(zip(phones, groups), 1):
                store.execute(
                    "INSERT INTO lead_phones (lead_id, slot, e164, zones, region, group_id, dead_reason) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (lead_id, slot, p.e164, ",".join(p.zones), p.region, g, dead.get(slot)))
            ids.append(lead_id)
    return ids


def calls(store: Store, campaign_id: int | None = None) -> list[dict]:
    sql = "SELECT * FROM calls" + (" WHERE campaign_id = ?" if campaign_id else "") + " ORDER BY id"
    return [dict(r) for r in store.all(sql, (campaign_id,) if campaign_id else ())]


def leads(store: Store, campaign_id: int) -> list[dict]:
    return [dict(r) for r in store.all("SELECT * FROM leads WHERE campaign_id = ? ORDER BY id",
                                       (campaign_id,))]
