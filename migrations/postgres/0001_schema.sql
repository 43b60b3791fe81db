-- purr's PostgreSQL schema: the final state of the SQLite migrations
-- migrations/0001_core.sql … migrations/0006_sim_inbox_seq.sql, in one step
-- (SQLite's 0002/0003/0006 data migrations and dropped columns leave no
-- trace here). Every later schema change needs a migration in BOTH folders:
-- migrations/ (SQLite) and migrations/postgres/ (this one).
--
-- Translation rules (docs/plan-postgres.md, section 1):
-- * INTEGER -> BIGINT (read and bound as i64); 0/1 flags bound as Rust bool
--   -> BOOLEAN; BLOB -> BYTEA; WITHOUT ROWID dropped.
-- * TEXT columns that are (part of) a key, an index or an ORDER BY are
--   COLLATE "C", so ordering and range scans are byte order, as on SQLite.
-- * Tables whose SQL reads SQLite's `rowid` (sim_sent, outbox, wa_device,
--   wa_lid_mappings) get a real column named `rowid` (an ordinary identifier
--   in PostgreSQL), so the same SQL runs on both.
-- * `user` is reserved in PostgreSQL: the column is written "user".
-- The SQLite schema has no foreign keys; there are none here either.

-- ---------------------------------------------------------------- 0001 core
-- Sessions known to the host: from the config file or created at run time.
-- (`plugins` and `autostart` come from SQLite's 0004_runtime_sessions.)
CREATE TABLE sessions (
    name          TEXT COLLATE "C" PRIMARY KEY,
    channel       TEXT NOT NULL,           -- 'sim' | 'whatsapp'
    jid           TEXT COLLATE "C",        -- the linked account's address, if linked
    origin        TEXT NOT NULL,           -- 'config' | 'api'
    created_at_ms BIGINT NOT NULL,
    plugins       TEXT NOT NULL DEFAULT '[]',  -- JSON array of plugin names
    autostart     BOOLEAN NOT NULL DEFAULT TRUE
);

-- Plugin key/value data, private to one plugin in one session.
CREATE TABLE plugin_kv (
    plugin  TEXT COLLATE "C" NOT NULL,
    session TEXT COLLATE "C" NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    value   BYTEA NOT NULL,
    PRIMARY KEY (plugin, session, key)
);

-- Pending plugin timers; a row is deleted once its event was handled.
CREATE TABLE timers (
    id        TEXT COLLATE "C" PRIMARY KEY,
    session   TEXT COLLATE "C" NOT NULL,
    plugin    TEXT COLLATE "C" NOT NULL,
    due_at_ms BIGINT NOT NULL,
    payload   TEXT NOT NULL
);
CREATE INDEX timers_by_session_due ON timers (session, due_at_ms);

-- The sim network's "device store": which sim sessions are linked.
CREATE TABLE sim_pairings (
    session      TEXT COLLATE "C" PRIMARY KEY,
    jid          TEXT COLLATE "C" NOT NULL,
    paired_at_ms BIGINT NOT NULL
);

-- ---------------------------------------------- 0002 durability, 0003, 0006
-- Inbound events, written before they are dispatched. `done` rows are kept
-- for a while so a message the network delivers twice is recognized.
-- (SQLite's `done` column was dropped by 0003: see journal_done.)
CREATE TABLE journal (
    session        TEXT COLLATE "C" NOT NULL,
    seq            BIGINT NOT NULL,        -- order within the session
    dedupe_key     TEXT COLLATE "C",       -- the network's message id, if any
    event          TEXT NOT NULL,          -- the ChannelEvent, JSON
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE UNIQUE INDEX journal_dedupe ON journal (session, dedupe_key) WHERE dedupe_key IS NOT NULL;

-- A session finishes its journaled events in `seq` order, so what is done is
-- one number per session (SQLite 0003_journal_watermark).
CREATE TABLE journal_done (
    session     TEXT COLLATE "C" PRIMARY KEY,
    through_seq BIGINT NOT NULL            -- every journal row up to here is done
);

-- Events whose plugin chain failed `event_attempts` times.
CREATE TABLE dead_letters (
    session      TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL,
    event        TEXT NOT NULL,            -- the ChannelEvent, JSON
    plugin       TEXT COLLATE "C" NOT NULL, -- the plugin that failed
    error        TEXT NOT NULL,
    failed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (session, seq)
);

-- Sends accepted from plugins and not yet accepted by the network.
-- Delivered in `seq` order, so deleted by range. `rowid` stands in for
-- SQLite's (the writer's delete selects rows by it; not indexed: PostgreSQL
-- SQL should delete by (session, seq) instead).
CREATE TABLE outbox (
    rowid         BIGSERIAL NOT NULL,
    session       TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,         -- order within the session
    key           TEXT COLLATE "C" NOT NULL, -- idempotency key: event id + send index
    action        TEXT NOT NULL,           -- the Outbound, JSON
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (session, seq)
);

-- The sim network's server side: messages waiting for a session until it
-- has journaled them. `seq` is never reused (SQLite 0006_sim_inbox_seq's
-- AUTOINCREMENT; a sequence here); the inbox is read in `seq` order from a
-- cursor and acknowledged messages are deleted by `seq`.
CREATE TABLE sim_inbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT COLLATE "C" NOT NULL UNIQUE,
    session      TEXT COLLATE "C" NOT NULL,
    sender       TEXT COLLATE "C" NOT NULL,
    text         TEXT NOT NULL,
    queued_at_ms BIGINT NOT NULL
);

-- If `[sim] keep_sent`, what sessions sent (a message id is accepted once);
-- `rowid` order is send order.
CREATE TABLE sim_sent (
    rowid      BIGSERIAL NOT NULL,
    session    TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    action     TEXT NOT NULL,              -- the Outbound, JSON
    UNIQUE (session, id)
);

-- ------------------------------------------------------------ 0005 whatsapp
-- whatsapp-rust's storage (src/channel/whatsapp/store): the auth data of
-- each WhatsApp session, keyed by `session` first. Blobs are opaque to purr.
-- Timestamps are unix seconds unless the column says otherwise.

-- The account itself (wacore `Device`, serde_json). One per session;
-- `rowid` is the id `DeviceStore::create` hands back.
CREATE TABLE wa_device (
    rowid   BIGSERIAL NOT NULL,
    session TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    device  BYTEA NOT NULL
);

-- Signal identity keys of remote addresses (`user[:device]@server`), 32 bytes.
CREATE TABLE wa_identities (
    session TEXT COLLATE "C" NOT NULL,
    address TEXT COLLATE "C" NOT NULL,
    key     BYTEA NOT NULL,
    PRIMARY KEY (session, address)
);

-- Signal session records (ratchet state), one per remote address.
CREATE TABLE wa_sessions (
    session TEXT COLLATE "C" NOT NULL,
    address TEXT COLLATE "C" NOT NULL,
    record  BYTEA NOT NULL,
    PRIMARY KEY (session, address)
);

-- One-time prekeys; `uploaded` once the server has them.
CREATE TABLE wa_prekeys (
    session  TEXT COLLATE "C" NOT NULL,
    id       BIGINT NOT NULL,
    record   BYTEA NOT NULL,
    uploaded BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (session, id)
);

-- Signed prekeys (the current one and those kept after rotation).
CREATE TABLE wa_signed_prekeys (
    session TEXT COLLATE "C" NOT NULL,
    id      BIGINT NOT NULL,
    record  BYTEA NOT NULL,
    PRIMARY KEY (session, id)
);

-- Group sender keys, by sender-key address (`group::sender` form).
CREATE TABLE wa_sender_keys (
    session TEXT COLLATE "C" NOT NULL,
    address TEXT COLLATE "C" NOT NULL,
    record  BYTEA NOT NULL,
    PRIMARY KEY (session, address)
);

-- App-state sync keys, by key id. `seq` orders writes: the highest is the
-- most recently set key (`get_latest_sync_key_id`).
CREATE TABLE wa_app_state_keys (
    session     TEXT COLLATE "C" NOT NULL,
    key_id      BYTEA NOT NULL,
    key_data    BYTEA NOT NULL,
    fingerprint BYTEA NOT NULL,
    timestamp   BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (session, key_id)
);
CREATE INDEX wa_app_state_keys_by_seq ON wa_app_state_keys (session, seq);

-- App-state collection versions: the whole `HashState` as serde_json, by
-- collection name (`regular`, `critical_block`, ...).
CREATE TABLE wa_app_state_versions (
    session TEXT COLLATE "C" NOT NULL,
    name    TEXT COLLATE "C" NOT NULL,
    state   BYTEA NOT NULL,
    PRIMARY KEY (session, name)
);

-- App-state mutation MACs: value MAC by (collection, index MAC), with the
-- collection version that wrote it.
CREATE TABLE wa_app_state_mutation_macs (
    session   TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    index_mac BYTEA NOT NULL,
    version   BIGINT NOT NULL,
    value_mac BYTEA NOT NULL,
    PRIMARY KEY (session, name, index_mac)
);

-- Which devices of a group hold our current sender key (has_key) or need a
-- fresh distribution message (not has_key).
CREATE TABLE wa_sender_key_devices (
    session    TEXT COLLATE "C" NOT NULL,
    group_jid  TEXT COLLATE "C" NOT NULL,
    device_jid TEXT COLLATE "C" NOT NULL,
    has_key    BOOLEAN NOT NULL,
    PRIMARY KEY (session, group_jid, device_jid)
);
CREATE INDEX wa_sender_key_devices_by_device ON wa_sender_key_devices (session, device_jid);

-- LID <-> phone-number mappings (user parts), by LID. A phone number's
-- mapping is its row with the latest `updated_at`, ties going to the latest
-- write: a write gives the row a fresh `rowid` (SQLite: INSERT OR REPLACE;
-- here: ON CONFLICT DO UPDATE SET …, rowid = excluded.rowid). The index ends
-- with `rowid` as SQLite's indexes implicitly do, so `ORDER BY updated_at
-- DESC, rowid DESC LIMIT 1` reads one index entry.
CREATE TABLE wa_lid_mappings (
    rowid           BIGSERIAL NOT NULL,
    session         TEXT COLLATE "C" NOT NULL,
    lid             TEXT COLLATE "C" NOT NULL,
    phone_number    TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    learning_source TEXT NOT NULL,
    PRIMARY KEY (session, lid)
);
CREATE INDEX wa_lid_mappings_by_phone ON wa_lid_mappings (session, phone_number, updated_at, rowid);

-- Base keys saved during retry collision detection, by (address, message id).
CREATE TABLE wa_base_keys (
    session    TEXT COLLATE "C" NOT NULL,
    address    TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    base_key   BYTEA NOT NULL,
    PRIMARY KEY (session, address, message_id)
);

-- Known device lists (usync results) by user: a `DeviceListRecord` as
-- serde_json. "user" is quoted: unquoted `user` is CURRENT_USER here.
CREATE TABLE wa_device_lists (
    session TEXT COLLATE "C" NOT NULL,
    "user"  TEXT COLLATE "C" NOT NULL,
    record  BYTEA NOT NULL,
    PRIMARY KEY (session, "user")
);

-- Cached group metadata (an opaque blob of whatsapp-rust's), by group.
CREATE TABLE wa_group_metadata (
    session   TEXT COLLATE "C" NOT NULL,
    group_jid TEXT COLLATE "C" NOT NULL,
    metadata  BYTEA NOT NULL,
    PRIMARY KEY (session, group_jid)
);

-- Trusted-contact privacy tokens by JID. An empty `token` is a placeholder
-- that only carries `sender_timestamp` (when we last issued ours).
CREATE TABLE wa_tc_tokens (
    session          TEXT COLLATE "C" NOT NULL,
    jid              TEXT COLLATE "C" NOT NULL,
    token            BYTEA NOT NULL,
    token_timestamp  BIGINT NOT NULL,
    sender_timestamp BIGINT,
    PRIMARY KEY (session, jid)
);

-- Payloads of sent messages (protobuf), kept for retry receipts; taken
-- (deleted) on use, pruned by age.
CREATE TABLE wa_sent_messages (
    session    TEXT COLLATE "C" NOT NULL,
    chat_jid   TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    payload    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session, chat_jid, message_id)
);
CREATE INDEX wa_sent_messages_by_age ON wa_sent_messages (session, created_at);

-- Decrypted inbound messages waiting for the durability hook to commit
-- them, by (chat, sender, stanza id); pruned by age.
CREATE TABLE wa_pending_inbound (
    session    TEXT COLLATE "C" NOT NULL,
    chat       TEXT COLLATE "C" NOT NULL,
    sender     TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    message    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session, chat, sender, id)
);
CREATE INDEX wa_pending_inbound_by_age ON wa_pending_inbound (session, created_at);

-- Message secrets (32 bytes) of messages we sent or received, to decrypt
-- later add-ons (poll votes, reactions, edits). `expires_at` 0 = never;
-- `message_ts` 0 = parent message time unknown.
CREATE TABLE wa_msg_secrets (
    session    TEXT COLLATE "C" NOT NULL,
    chat       TEXT COLLATE "C" NOT NULL,
    sender     TEXT COLLATE "C" NOT NULL,
    msg_id     TEXT COLLATE "C" NOT NULL,
    secret     BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    message_ts BIGINT NOT NULL,
    PRIMARY KEY (session, chat, sender, msg_id)
);
CREATE INDEX wa_msg_secrets_by_expiry ON wa_msg_secrets (session, expires_at) WHERE expires_at <> 0;
