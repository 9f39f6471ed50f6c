import sqlite3

import pytest

from dialcli.errors import InputError
from dialcli.store import Store, StoreError
from dialcli.store import migrations
from dialcli.store.migrations import migration_set

EXPECTED_TABLES = {
    "settings", "agents", "numbers", "campaigns", "zone_groups", "imports", "leads",
    "lead_phones", "dnc", "calls", "appointments", "audit", "provider_events",
    "webhook_subscriptions", "outbox",
}


def tables(st: Store) -> set[str]:
    return {r[0] for r in st.all("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_migrate_blank(db_path):
    st = Store(db_path)
    assert EXPECTED_TABLES <= tables(st)
    assert st.applied_migrations() == migrations.names()
    assert st.scalar("PRAGMA journal_mode") == "wal"
    assert st.scalar("PRAGMA foreign_keys") == 1
    assert st.scalar("PRAGMA busy_timeout") == 30000


def test_migrate_is_idempotent(db_path):
    Store(db_path).close()
    st = Store(db_path)
    assert len(st.applied_migrations()) == len(migrations.names())


def test_upgrade_from_previous_version_keeps_data(db_path):
    names = migrations.names()
    previous = names[-1]
    st = Store(db_path, migrate=False)
    migration_set().apply(st.db, stop_before=previous)
    assert previous not in st.applied_migrations()
    st.execute("INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 't')")
    st.close()
    st = Store(db_path)
    assert st.applied_migrations() == names
    assert st.scalar("SELECT value FROM settings WHERE key = 'k'") == "v"


@pytest.mark.parametrize("seed, floor", [
    ((), None),                                            # nothing named yet: no floor
    (("INSERT INTO audit (ts, campaign_id, lead_id, decision) VALUES ('t', 9, 41, 'dial')",
      "INSERT INTO dnc (e164, source, lead_id, added_at) VALUES ('+12125550100', 'call', 12, 't')"),
     41),
])
def test_upgrade_seeds_the_lead_id_floor_from_ids_still_named(db_path, seed, floor):
    st = Store(db_path, migrate=False)
    migration_set().apply(st.db, stop_before="m008_lead_id_floor")
    for sql in seed:
        st.execute(sql)
    st.close()
    st = Store(db_path)
    assert st.scalar("SELECT max_id FROM id_floor WHERE name = 'leads'") == floor


def test_upgrade_from_first_version(db_path):
    names = migrations.names()
    st = Store(db_path, migrate=False)
    migration_set().apply(st.db, stop_before=names[1])
    assert st.applied_migrations() == names[:1]
    st.close()
    assert Store(db_path).applied_migrations() == names


def test_tx_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.tx():
            store.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', '1', 't')")
            raise RuntimeError("boom")
    assert store.scalar("SELECT COUNT(*) FROM settings") == 0


def test_tx_nested_joins_outer(store):
    with store.tx():
        store.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', '1', 't')")
        with store.tx():
            store.execute("INSERT INTO settings (key, value, updated_at) VALUES ('b', '1', 't')")
    assert store.scalar("SELECT COUNT(*) FROM settings") == 2


def test_settings_roundtrip(store):
    assert store.get_setting("rate_per_minute") is None
    store.set_setting("rate_per_minute", "0.014", "2026-01-01T00:00:00.000Z")
    store.set_setting("rate_per_minute", "0.02", "2026-01-01T00:00:00.000Z")
    assert store.get_setting("rate_per_minute") == "0.02"
    assert store.delete_setting("rate_per_minute")


def test_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as exc:
        Store(path)
    assert "is not a dialcli workspace" in str(exc.value)


def test_missing_folder(tmp_path):
    with pytest.raises(InputError):
        Store(tmp_path / "nope" / "x.db")


def test_two_stores_share_the_file(db_path):
    a, b = Store(db_path), Store(db_path)
    with a.tx():
        a.execute("INSERT INTO settings (key, value, updated_at) VALUES ('x', '1', 't')")
    assert b.scalar("SELECT value FROM settings WHERE key = 'x'") == "1"


def test_foreign_keys_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        with store.tx():
            store.execute(
                "INSERT INTO leads (campaign_id, row_number, name, created_at, updated_at) "
                "VALUES (999, 2, 'x', 't', 't')"
            )
