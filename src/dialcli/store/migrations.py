"""Append-only schema migrations (sqlite-utils ``Migrations``).

Each migration is a named function applied once, in order, inside a transaction
together with its record in ``_sqlite_migrations``. Never edit a migration that has
been released: add a new one at the end. ``tests/test_store.py`` checks both a blank
database and an upgrade from the previous schema.

Timestamps are ISO-8601 UTC text (see ``dialcli.clock.to_iso``). Statuses are the
``StrEnum`` values in ``dialcli.models``.
"""

from __future__ import annotations

import sqlite3

from functools import lru_cache
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

MIGRATION_SET = "dialcli"
_REGISTERED: list[Callable[["Database"], None]] = []


def migration() -> Callable[[Callable[["Database"], None]], Callable[["Database"], None]]:
    """Register the decorated function as the next migration (its name is its id)."""

    def register(fn: Callable[["Database"], None]) -> Callable[["Database"], None]:
        _REGISTERED.append(fn)
        return fn

    return register


def names() -> list[str]:
    """Every migration's name, in order (no sqlite-utils import needed)."""
    return [fn.__name__ for fn in _REGISTERED]


@lru_cache(maxsize=1)
def migration_set() -> "Migrations":
    """The sqlite-utils ``Migrations`` set. Built on first use: importing sqlite-utils
    imports pandas (a quarter of a second), which a workspace whose schema is current
    never needs."""
    from sqlite_utils.migrations import Migrations

    built = Migrations(MIGRATION_SET)
    for fn in _REGISTERED:
        built()(fn)
    return built


def _run(db: Database, sql: str) -> None:
    """Execute a script statement by statement inside the migration's transaction.

    (``executescript`` would COMMIT first, breaking the migration's atomicity.)
    """
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            db.execute(buffer)
            buffer = ""
    if buffer.strip():
        db.execute(buffer)


@migration()
def m001_foundation(db: Database) -> None:
    """Workspace: settings, agents, numbers, campaigns, leads and their phones, opt-outs."""
    _run(db, """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE agents (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        greeting TEXT NOT NULL,
        system_prompt TEXT NOT NULL,
        voice TEXT,
        language TEXT NOT NULL DEFAULT 'en-US',
        voicemail_message TEXT,
        llm_model TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE numbers (
        id INTEGER PRIMARY KEY,
        e164 TEXT NOT NULL UNIQUE,
        label TEXT,
        voice_capable INTEGER,          -- NULL = not synced with the provider yet
        provider_sid TEXT,
        synced_at TEXT,
        added_at TEXT NOT NULL
    );
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
        from_number TEXT NOT NULL REFERENCES numbers(e164) ON DELETE RESTRICT,
        window_start TEXT NOT NULL DEFAULT '09:00',
        window_end TEXT NOT NULL DEFAULT '20:00',
        retry_interval_minutes INTEGER NOT NULL DEFAULT 60,
        max_attempts INTEGER NOT NULL DEFAULT 3,
        voicemail_action TEXT NOT NULL DEFAULT 'hangup',
        voicemail_message TEXT,
        max_concurrent INTEGER NOT NULL DEFAULT 5,
        cps REAL NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT 'DRAFT',
        run INTEGER NOT NULL DEFAULT 1,          -- bumped by restart
        pass_no INTEGER NOT NULL DEFAULT 1,      -- current retry pass of this run
        pass_started_at TEXT,
        next_pass_at TEXT,                       -- when pass_no opens (NULL: open)
        lease_owner TEXT,                        -- runner token; NULL when nobody runs it
        lease_pid INTEGER,
        lease_host TEXT,
        heartbeat_at TEXT,                       -- runner's last heartbeat (wall clock)
        started_at TEXT,
        completed_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- The set of candidate time zones (and state/region) of a phone. Leads are
    -- queued per group, so the calling window is evaluated once per group, not per lead.
    CREATE TABLE zone_groups (
        id INTEGER PRIMARY KEY,
        zones TEXT NOT NULL,                     -- comma-separated IANA names; '' = unknown
        region TEXT NOT NULL DEFAULT '',         -- e.g. 'US-FL'; '' = unknown
        UNIQUE (zones, region)
    );
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER REFERENCES campaigns(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        rows INTEGER NOT NULL DEFAULT 0,
        imported INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        optout_marked INTEGER NOT NULL DEFAULT 0,
        columns TEXT,                            -- JSON list of normalized headers
        created_at TEXT NOT NULL
    );
    CREATE TABLE leads (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        import_id INTEGER REFERENCES imports(id) ON DELETE SET NULL,
        row_number INTEGER NOT NULL,             -- line in the source CSV
        name TEXT NOT NULL,
        email TEXT,
        phone1 TEXT,                             -- E.164 of slot 1, for duplicate checks
        vars TEXT NOT NULL DEFAULT '{}',         -- JSON {TOKEN: value}
        timezone TEXT,                           -- IANA override from a 'timezone' column
        status TEXT NOT NULL DEFAULT 'PENDING',
        last_disposition TEXT,
        phone_slot INTEGER,                      -- phone being tried (or that reached them)
        cur_group INTEGER REFERENCES zone_groups(id),
        pass_no INTEGER NOT NULL DEFAULT 1,
        pass_done INTEGER NOT NULL DEFAULT 0,    -- 1 = done with campaigns.pass_no
        attempts INTEGER NOT NULL DEFAULT 0,     -- dials this run
        next_try_at TEXT,                        -- not before (e.g. frequency cap)
        callback_at TEXT,                        -- appointment due (status CALLBACK)
        callback_slot INTEGER,
        callback_attempts INTEGER NOT NULL DEFAULT 0,
        reached_slot INTEGER,
        skip_reason TEXT,
        last_call_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX leads_ready ON leads (campaign_id, cur_group, phone_slot, id)
        WHERE status IN ('PENDING', 'RETRY') AND pass_done = 0;
    CREATE INDEX leads_status ON leads (campaign_id, status);
    CREATE INDEX leads_phone1 ON leads (campaign_id, phone1);
    CREATE INDEX leads_callback ON leads (campaign_id, callback_at) WHERE status = 'CALLBACK';
    CREATE TABLE lead_phones (
        lead_id INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
        slot INTEGER NOT NULL CHECK (slot BETWEEN 1 AND 10),
        e164 TEXT NOT NULL,
        zones TEXT NOT NULL DEFAULT '',
        region TEXT,
        group_id INTEGER REFERENCES zone_groups(id),
        dead_reason TEXT,                        -- NULL = live
        PRIMARY KEY (lead_id, slot)
    ) WITHOUT ROWID;
    CREATE INDEX lead_phones_e164 ON lead_phones (e164);
    -- The workspace ("org") opt-out list: never dialed again by any campaign.
    CREATE TABLE dnc (
        e164 TEXT PRIMARY KEY,
        reason TEXT,
        source TEXT NOT NULL,                    -- call | cli | import:<file> | registry
        campaign_id INTEGER,
        lead_id INTEGER,
        added_at TEXT NOT NULL
    ) WITHOUT ROWID
    """)


@migration()
def m002_calls(db: Database) -> None:
    """Dialing: calls (one row per dial, UNIQUE per attempt), appointments, audit, provider events."""
    _run(db, """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        run INTEGER NOT NULL,
        lead_id INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
        slot INTEGER NOT NULL,
        e164 TEXT NOT NULL,
        from_number TEXT NOT NULL,
        pass_no INTEGER NOT NULL,
        kind TEXT NOT NULL DEFAULT 'pass',       -- 'pass' or 'callback:<n>'
        provider TEXT NOT NULL,                  -- 'simulator' | 'twilio'
        provider_sid TEXT,
        status TEXT NOT NULL DEFAULT 'claimed',
        answered_by TEXT,
        disposition TEXT,                        -- set when the outcome is applied
        turns INTEGER,
        summary TEXT,
        callback_text TEXT,
        transcript TEXT,                         -- JSON [{role, text, at}]
        claimed_at TEXT NOT NULL,
        placed_at TEXT,
        answered_at TEXT,
        ended_at TEXT,
        duration_s INTEGER,
        billed_minutes INTEGER,
        price REAL,                              -- positive dollars (Twilio sends negative)
        price_unit TEXT,
        price_final INTEGER NOT NULL DEFAULT 0,  -- 0 = estimated from billed minutes
        zone TEXT,                               -- zone(s) checked at dial time
        local_time TEXT,                         -- recipient local time at dial
        error_code INTEGER,
        error TEXT,
        UNIQUE (campaign_id, run, lead_id, slot, pass_no, kind)
    );
    CREATE INDEX calls_sid ON calls (provider_sid);
    CREATE INDEX calls_open ON calls (campaign_id) WHERE disposition IS NULL;
    CREATE INDEX calls_e164_claimed ON calls (e164, claimed_at);
    CREATE INDEX calls_campaign_ended ON calls (campaign_id, ended_at);
    CREATE INDEX calls_lead ON calls (lead_id);
    CREATE TABLE appointments (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        lead_id INTEGER NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
        call_id INTEGER REFERENCES calls(id) ON DELETE SET NULL,
        slot INTEGER NOT NULL,
        due_at TEXT NOT NULL,
        note TEXT,
        status TEXT NOT NULL DEFAULT 'open',     -- open | done | canceled
        created_at TEXT NOT NULL
    );
    CREATE INDEX appointments_lead ON appointments (lead_id);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        campaign_id INTEGER,
        lead_id INTEGER,
        call_id INTEGER,
        e164 TEXT,
        decision TEXT NOT NULL,                  -- dial | skip | defer | ...
        reason TEXT,
        detail TEXT                              -- JSON
    );
    CREATE INDEX audit_campaign_lead ON audit (campaign_id, lead_id);
    -- Provider callbacks already applied: (CallSid, event, SequenceNumber) dedupe.
    CREATE TABLE provider_events (
        call_sid TEXT NOT NULL,
        event TEXT NOT NULL,
        sequence TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        PRIMARY KEY (call_sid, event, sequence)
    ) WITHOUT ROWID
    """)


@migration()
def m003_webhooks(db: Database) -> None:
    """Webhook subscriptions and the durable outbox (one row per event per subscription)."""
    _run(db, """
    CREATE TABLE webhook_subscriptions (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL DEFAULT 'campaign.lead.updated',
        secret TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        campaign_id INTEGER,
        lead_id INTEGER,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        delivered_at TEXT,
        dead_at TEXT,
        last_error TEXT,
        UNIQUE (event_id, subscription_id)
    );
    CREATE INDEX outbox_pending ON outbox (subscription_id, next_attempt_at)
        WHERE delivered_at IS NULL AND dead_at IS NULL;
    CREATE INDEX outbox_lead ON outbox (subscription_id, lead_id, id)
        WHERE delivered_at IS NULL AND dead_at IS NULL
    """)


def _call_stats_row(r: str, sign: str) -> str:
    """VALUES(...) of one call row's contribution to ``call_stats`` (``sign`` '+'/'-')."""
    final = f"{r}.price_final = 1"
    return (
        f"({r}.campaign_id, {r}.run, COALESCE(substr({r}.ended_at, 1, 10), ''), "
        f"COALESCE({r}.disposition, ''), {sign}1, {sign}COALESCE({r}.duration_s, 0), "
        f"{sign}COALESCE({r}.billed_minutes, 0), "
        f"{sign}(CASE WHEN {final} THEN 0 ELSE COALESCE({r}.billed_minutes, 0) END), "
        f"{sign}(CASE WHEN {final} THEN 1 ELSE 0 END), "
        f"{sign}(CASE WHEN {final} THEN CAST(ROUND(COALESCE({r}.price, 0) * 1000000) AS INTEGER)"
        f" ELSE 0 END))"
    )


_CALL_STATS_UPSERT = (
    "INSERT INTO call_stats (campaign_id, run, day, disposition, calls, talk_s, "
    "billed_minutes, est_minutes, priced_calls, price_micros) VALUES {row} "
    "ON CONFLICT DO UPDATE SET calls = calls + excluded.calls, "
    "talk_s = talk_s + excluded.talk_s, billed_minutes = billed_minutes + excluded.billed_minutes, "
    "est_minutes = est_minutes + excluded.est_minutes, "
    "priced_calls = priced_calls + excluded.priced_calls, "
    "price_micros = price_micros + excluded.price_micros;"
)


@migration()
def m004_results(db: Database) -> None:
    """Report counters kept by triggers on calls; webhook delivery bookkeeping.

    ``call_stats`` holds, per (campaign, run, UTC day of ended_at, disposition), the
    number of calls, talk seconds, billed minutes and final prices. Triggers keep it
    equal to an aggregate over ``calls`` in the same transaction as every change, so
    KPIs over millions of calls are a sum over a few hundred rows. Prices are integer
    micro-dollars so that adding and subtracting never drifts. Disposition '' = not
    finished yet (in flight); day '' = not ended.
    """
    _run(db, f"""
    CREATE TABLE call_stats (
        campaign_id INTEGER NOT NULL,
        run INTEGER NOT NULL,
        day TEXT NOT NULL,
        disposition TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0,
        talk_s INTEGER NOT NULL DEFAULT 0,
        billed_minutes INTEGER NOT NULL DEFAULT 0,
        est_minutes INTEGER NOT NULL DEFAULT 0,   -- billed minutes without a final price
        priced_calls INTEGER NOT NULL DEFAULT 0,
        price_micros INTEGER NOT NULL DEFAULT 0,  -- sum of final prices, 1e-6 dollars
        PRIMARY KEY (campaign_id, run, day, disposition)
    ) WITHOUT ROWID;
    INSERT INTO call_stats (campaign_id, run, day, disposition, calls, talk_s,
                            billed_minutes, est_minutes, priced_calls, price_micros)
    SELECT campaign_id, run, COALESCE(substr(ended_at, 1, 10), ''), COALESCE(disposition, ''),
           COUNT(*), SUM(COALESCE(duration_s, 0)), SUM(COALESCE(billed_minutes, 0)),
           SUM(CASE WHEN price_final = 1 THEN 0 ELSE COALESCE(billed_minutes, 0) END),
           SUM(CASE WHEN price_final = 1 THEN 1 ELSE 0 END),
           SUM(CASE WHEN price_final = 1
                    THEN CAST(ROUND(COALESCE(price, 0) * 1000000) AS INTEGER) ELSE 0 END)
    FROM calls GROUP BY 1, 2, 3, 4;
    CREATE TRIGGER call_stats_insert AFTER INSERT ON calls BEGIN
        {_CALL_STATS_UPSERT.format(row=_call_stats_row("new", ""))}
    END;
    CREATE TRIGGER call_stats_delete AFTER DELETE ON calls BEGIN
        {_CALL_STATS_UPSERT.format(row=_call_stats_row("old", "-"))}
    END;
    CREATE TRIGGER call_stats_update
    AFTER UPDATE OF campaign_id, run, ended_at, disposition, duration_s, billed_minutes,
                    price, price_final ON calls
    WHEN old.campaign_id IS NOT new.campaign_id OR old.run IS NOT new.run
      OR old.ended_at IS NOT new.ended_at OR old.disposition IS NOT new.disposition
      OR old.duration_s IS NOT new.duration_s OR old.billed_minutes IS NOT new.billed_minutes
      OR old.price IS NOT new.price OR old.price_final IS NOT new.price_final
    BEGIN
        {_CALL_STATS_UPSERT.format(row=_call_stats_row("old", "-"))}
        {_CALL_STATS_UPSERT.format(row=_call_stats_row("new", ""))}
    END;
    ALTER TABLE outbox ADD COLUMN first_attempt_at TEXT;   -- wall clock; 24 h budget starts
    ALTER TABLE outbox ADD COLUMN last_attempt_at TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until TEXT;        -- a deliverer is sending it
    ALTER TABLE outbox ADD COLUMN last_status INTEGER;     -- HTTP status of the last attempt
    CREATE INDEX outbox_dead ON outbox (subscription_id, id) WHERE dead_at IS NOT NULL;
    ALTER TABLE webhook_subscriptions ADD COLUMN disabled_at TEXT;
    ALTER TABLE webhook_subscriptions ADD COLUMN disabled_reason TEXT
    """)


def _call_stats_select(r: str, sign: str) -> str:
    """The same upsert as ``_call_stats_row``, but only when ``r`` is a finished call."""
    values = _call_stats_row(r, sign)[1:-1]
    return (
        "INSERT INTO call_stats (campaign_id, run, day, disposition, calls, talk_s, "
        f"billed_minutes, est_minutes, priced_calls, price_micros) SELECT {values} "
        f"WHERE {r}.disposition IS NOT NULL "
        "ON CONFLICT DO UPDATE SET calls = calls + excluded.calls, "
        "talk_s = talk_s + excluded.talk_s, billed_minutes = billed_minutes + excluded.billed_minutes, "
        "est_minutes = est_minutes + excluded.est_minutes, "
        "priced_calls = priced_calls + excluded.priced_calls, "
        "price_micros = price_micros + excluded.price_micros;"
    )


@migration()
def m005_call_stats_finished_only(db: Database) -> None:
    """``call_stats`` counts finished calls only (disposition set).

    A call then costs the counters one upsert, when its outcome is written, instead of
    three (claim, and minus/plus at the outcome): the engine writes calls at thousands
    per second. Calls in flight are counted from the ``calls_open`` partial index.
    """
    _run(db, f"""
    DROP TRIGGER call_stats_insert;
    DROP TRIGGER call_stats_update;
    DROP TRIGGER call_stats_delete;
    DELETE FROM call_stats WHERE disposition = '';
    CREATE TRIGGER call_stats_insert AFTER INSERT ON calls
    WHEN new.disposition IS NOT NULL BEGIN
        {_CALL_STATS_UPSERT.format(row=_call_stats_row("new", ""))}
    END;
    CREATE TRIGGER call_stats_delete AFTER DELETE ON calls
    WHEN old.disposition IS NOT NULL BEGIN
        {_CALL_STATS_UPSERT.format(row=_call_stats_row("old", "-"))}
    END;
    CREATE TRIGGER call_stats_update
    AFTER UPDATE OF campaign_id, run, ended_at, disposition, duration_s, billed_minutes,
                    price, price_final ON calls
    WHEN old.disposition IS NOT new.disposition OR (new.disposition IS NOT NULL AND (
         old.campaign_id IS NOT new.campaign_id OR old.run IS NOT new.run
      OR old.ended_at IS NOT new.ended_at OR old.duration_s IS NOT new.duration_s
      OR old.billed_minutes IS NOT new.billed_minutes OR old.price IS NOT new.price
      OR old.price_final IS NOT new.price_final))
    BEGIN
        {_call_stats_select("old", "-")}
        {_call_stats_select("new", "")}
    END
    """)


@migration()
def m006_drop_leads_phone1_index(db: Database) -> None:
    """Drop ``leads_phone1``: its one reader, an import's duplicate check, loads every
    phone1 of the campaign in one pass, which ``leads_status`` serves almost as well
    (0.47 s vs 0.35 s for a million leads), while keeping it cost every import a
    sorted rebuild over random phone numbers (0.9 s per million leads) and 22 MB."""
    _run(db, "DROP INDEX IF EXISTS leads_phone1")


@migration()
def m007_campaign_waiting(db: Database) -> None:
    """What a live runner with nothing to dial is waiting for, renewed with its
    heartbeat, so ``dialcli status`` in another terminal can say "nothing to dial
    until 09:00: calling hours open for numbers in America/Chicago" as the runner's own
    dashboard does. Cleared when the lease is released."""
    _run(db, """
    ALTER TABLE campaigns ADD COLUMN waiting_until TEXT;
    ALTER TABLE campaigns ADD COLUMN waiting_for TEXT
    """)


@migration()
def m008_lead_id_floor(db: Database) -> None:
    """The highest lead id this workspace has handed out, kept when a campaign is
    deleted, so an import never gives a new lead the id of a deleted one: the audit
    trail, the webhook outbox and receivers' records all still name the old lead by
    it (SQLite's max(id)+1 would reuse the ids of the newest campaign's leads).
    Seeded from every place an id may still be named."""
    _run(db, """
    CREATE TABLE id_floor (
        name TEXT PRIMARY KEY,
        max_id INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO id_floor (name, max_id)
    SELECT 'leads', m FROM (
        SELECT MAX(m) AS m FROM (
            SELECT MAX(id) AS m FROM leads
            UNION ALL SELECT MAX(lead_id) FROM audit
            UNION ALL SELECT MAX(lead_id) FROM outbox
            UNION ALL SELECT MAX(lead_id) FROM dnc))
    WHERE m IS NOT NULL
    """)


@migration()
def m009_outbox_retention(db: Database) -> None:
    """Delivered webhook events are kept 30 days (``webhook_delivery.prune_delivered``);
    this counts the ones removed, so ``webhooks list`` still shows every delivery."""
    _run(db, """
    ALTER TABLE webhook_subscriptions ADD COLUMN delivered_pruned INTEGER NOT NULL DEFAULT 0
    """)


@migration()
def m010_consent(db: Database) -> None:
    """The consent gate (design.md section 8): what each campaign is for, and the
    consent records its dials rely on.

    ``campaigns.purpose`` is ``telemarketing`` (selling: prior express *written*
    consent, 47 CFR 64.1200(a)(2)) or ``informational`` (any prior express consent,
    64.1200(a)(1)-(3)); campaigns made before this are ``unspecified`` and ``start``
    refuses them until the user says which. ``consent_gate`` is ``on`` unless the
    user turned it off with both flags; when and from where is kept.

    ``consent`` rows are keyed by phone number, workspace-wide, like the opt-out
    list: a lead CSV's consent columns or a ``consent import`` file. An opt-out
    revokes every record of the number then (``revoked_at``); taking the number off
    the opt-out list later does not restore them.
    """
    _run(db, """
    ALTER TABLE campaigns ADD COLUMN purpose TEXT NOT NULL DEFAULT 'unspecified'
        CHECK (purpose IN ('unspecified', 'telemarketing', 'informational'));
    ALTER TABLE campaigns ADD COLUMN consent_gate TEXT NOT NULL DEFAULT 'on'
        CHECK (consent_gate IN ('on', 'off'));
    ALTER TABLE campaigns ADD COLUMN consent_gate_changed_at TEXT;
    ALTER TABLE campaigns ADD COLUMN consent_gate_changed_by TEXT;
    CREATE TABLE consent (
        id INTEGER PRIMARY KEY,
        e164 TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('written', 'express')),
        consented_at TEXT NOT NULL,
        source TEXT,
        origin TEXT NOT NULL,
        lead_id INTEGER,
        recorded_at TEXT NOT NULL,
        revoked_at TEXT,
        revoked_reason TEXT
    );
    -- One record per number, kind, time and source; a missing source is one value, not
    -- a NULL that UNIQUE would let repeat on every re-import of the same file.
    CREATE UNIQUE INDEX consent_once ON consent (e164, kind, consented_at, COALESCE(source, ''));
    CREATE INDEX consent_live ON consent (e164, revoked_at, kind, consented_at);
    """)


@migration()
def m011_voices_and_test_calls(db: Database) -> None:
    """Voices that work on both speech paths, and test calls (``dialcli call``).

    ``agents.voice`` is the ConversationRelay voice of ``agents.tts_provider``
    (Google, Amazon or ElevenLabs; NULL: Twilio's default for the language);
    ``agents.voicemail_voice`` is a ``<Say>`` voice (``Polly.Joanna``,
    ``Google.en-US-Neural2-F``) for the voicemail message. Values are validated by
    ``workspace/voices.py``.

    ``test_calls`` holds one row per ``dialcli call``: a call outside any campaign,
    so it is never in the ``calls`` table that campaign KPIs, reports and caps read.
    """
    _run(db, """
    ALTER TABLE agents ADD COLUMN tts_provider TEXT;
    ALTER TABLE agents ADD COLUMN voicemail_voice TEXT;
    CREATE TABLE test_calls (
        id INTEGER PRIMARY KEY,
        agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,
        agent_name TEXT NOT NULL,
        e164 TEXT NOT NULL,
        from_number TEXT,
        lead_id INTEGER REFERENCES leads(id) ON DELETE SET NULL,
        provider TEXT NOT NULL,                  -- 'simulator' | 'twilio'
        provider_sid TEXT,
        status TEXT NOT NULL DEFAULT 'placing',
        answered_by TEXT,
        disposition TEXT,
        summary TEXT,
        transcript TEXT,                         -- JSON [{role, text, at_s}]
        voicemail_left INTEGER NOT NULL DEFAULT 0,
        override_hours TEXT,                     -- why calling hours were overridden (--now)
        started_at TEXT NOT NULL,
        ended_at TEXT,
        duration_s INTEGER,
        error TEXT
    );
    CREATE INDEX test_calls_started ON test_calls (started_at);
    """)


@migration()
def m012_call_review(db: Database) -> None:
    """Call review (issue 17): what ``calls show`` needs beyond the transcript, the
    fields an agent extracts from each conversation, and opt-in recordings.

    ``calls.amd_at`` is when the answering-machine verdict came and
    ``voicemail_left`` whether a message was left; ``calls.fields`` is the JSON object
    of extracted values (``agents.fields`` declares them: a JSON list of
    ``{name, type, description}``). A recording is kept by reference only -- the
    provider's SID, duration, status and resource URL; the audio stays with the
    provider until ``calls download``. ``campaigns.record`` is the opt-in.
    """
    _run(db, """
    ALTER TABLE calls ADD COLUMN amd_at TEXT;
    ALTER TABLE calls ADD COLUMN voicemail_left INTEGER;
    ALTER TABLE calls ADD COLUMN fields TEXT;
    ALTER TABLE calls ADD COLUMN recording_sid TEXT;
    ALTER TABLE calls ADD COLUMN recording_status TEXT;
    ALTER TABLE calls ADD COLUMN recording_duration_s INTEGER;
    ALTER TABLE calls ADD COLUMN recording_url TEXT;
    ALTER TABLE agents ADD COLUMN fields TEXT;
    ALTER TABLE campaigns ADD COLUMN record INTEGER NOT NULL DEFAULT 0 CHECK (record IN (0, 1))
    """)


@migration()
def m016_schema_record(db: Database) -> None:
    """What this workspace's schema is, as the dialcli that last migrated it left it.

    One row: how many migrations that dialcli knew, its version, and the tables and
    columns it saw after migrating (JSON). ``Store`` compares the live schema with it
    on every open, so a workspace changed by a newer dialcli or by hand (an extra
    table, an extra NOT NULL column) is refused instead of written into, and says
    which dialcli made it. Written by ``Store``, never by a migration's data step.

    ``campaigns.pause_reason``: why a runner paused its campaign by itself (a full disk,
    a Twilio outage, a placement whose fate is unknown), for ``status``; cleared when
    the campaign runs again.
    """
    _run(db, """
    ALTER TABLE campaigns ADD COLUMN pause_reason TEXT;
    CREATE TABLE _dialcli_schema (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        migrations INTEGER NOT NULL,
        dialcli_version TEXT NOT NULL,
        tables TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    """)


@migration()
def m017_zones_fail_closed(db: Database) -> None:
    """Re-derive every lead phone's candidate zones the fail-closed way (issue 19).

    Workspaces imported before it kept a lead's ``timezone`` column *instead of* the
    number's zones, a ``state`` column's rules without its zones, and one zone for an
    exchange phonenumbers lacks. Each phone's own facts are parsed again
    (``phones.fail_closed``: the area code's span, the override file) and its group
    becomes the number's zones plus the timezone column plus every zone of a state the
    group's region names beyond the number's own (that is the state column); a lead's
    ``cur_group`` follows its current phone. Only rows that change are written; zones
    only ever grow, so no lead becomes dialable earlier than before.
    """
    from dialcli.phones import PhoneError, PhoneParser, group_zones

    conn = db.conn
    groups = {(z, r): gid for gid, z, r in conn.execute("SELECT id, zones, region FROM zone_groups")}
    parser = PhoneParser("US")
    rows = conn.execute(
        "SELECT p.lead_id, p.slot, p.e164, p.zones, p.region, g.zones, g.region, l.timezone "
        "FROM lead_phones p JOIN leads l ON l.id = p.lead_id "
        "LEFT JOIN zone_groups g ON g.id = p.group_id").fetchall()

    def states(region: str | None) -> list[str]:
        return [p[3:] for p in (region or "").split(",") if p.startswith("US-") and len(p) == 5]

    changed: set[int] = set()
    for lead_id, slot, e164, zones, region, gzones, gregion, tz in rows:
        try:
            phone = parser.parse(e164)
        except PhoneError:
            continue
        extra = [st for st in states(gregion) if st not in states(region)]
        new_zones = group_zones(phone.zones, phone.region, tz, None)
        parts = {p for p in phone.region.split(",") if p}
        for st in extra:
            new_zones = group_zones(new_zones, ",".join(sorted(parts)), None, st)
            parts.add(f"US-{st}")
        if extra:
            parts.discard("US")
        # Keep every zone the old group had (a zone is never taken away).
        new_zones = (*new_zones, *(z for z in (gzones or "").split(",")
                                   if z and z not in new_zones))
        key = (",".join(new_zones), ",".join(sorted(parts)))
        if key == (gzones, gregion) and ",".join(phone.zones) == zones \
                and phone.region == region:
            continue
        gid = groups.get(key)
        if gid is None:
            gid = groups[key] = conn.execute(
                "INSERT INTO zone_groups (zones, region) VALUES (?, ?)", key).lastrowid
        conn.execute("UPDATE lead_phones SET zones = ?, region = ?, group_id = ? "
                     "WHERE lead_id = ? AND slot = ?",
                     (",".join(phone.zones), phone.region, gid, lead_id, slot))
        changed.add(lead_id)
    for lead_id in changed:
        conn.execute("UPDATE leads SET cur_group = (SELECT group_id FROM lead_phones p "
                     "WHERE p.lead_id = leads.id AND p.slot = leads.phone_slot) "
                     "WHERE id = ? AND cur_group IS NOT NULL AND phone_slot IS NOT NULL",
                     (lead_id,))


@migration()
def m018_test_call_consent(db: Database) -> None:
    """A test call passes the consent gate of a campaign dial (issue 14).

    ``test_calls.purpose`` is the purpose it was checked for (``telemarketing`` or
    ``informational``, ``dialcli call --purpose``); ``test_calls.consent`` the gate's
    evidence as JSON (the consent record relied on, the state artificial-voice rules
    applied), as a campaign dial's audit row keeps it. NULL on rows from before, and on
    simulated calls with nothing on record (nobody's phone rang).
    """
    _run(db, """
    ALTER TABLE test_calls ADD COLUMN purpose TEXT;
    ALTER TABLE test_calls ADD COLUMN consent TEXT;
    """)


@migration()
def m019_leads_deferred_index(db: Database) -> None:
    """The earliest deferred lead of a pass (``next_try_at``: held back by the frequency
    cap) in one index seek. The dial queue asks for it at every refresh -- each time a
    deferral expires -- and without this index that read visited every queued lead
    (12 ms at 10,000 leads, linear in the campaign; issue 18)."""
    _run(db, """
    CREATE INDEX IF NOT EXISTS leads_deferred ON leads (campaign_id, next_try_at)
        WHERE status IN ('PENDING', 'RETRY') AND pass_done = 0 AND next_try_at IS NOT NULL
    """)
