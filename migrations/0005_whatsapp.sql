-- whatsapp-rust's storage (src/channel/whatsapp/store): the auth data of
-- each WhatsApp session. Every table is keyed by `session` (purr's session
-- name) first, so one database holds many accounts and a session's rows are
-- found, and wiped, by one index range. Blobs are opaque to purr: Signal
-- records are whatsapp-rust's own encodings; JSON blobs are the crate's serde
-- types written with serde_json (see the module docs).
-- Timestamps are unix seconds unless the column says otherwise.

-- The account itself: identity, noise and signed-prekey key pairs, the ADV
-- account signature, push name, counters (wacore `Device`, serde_json).
-- One per session; `rowid` is the id `DeviceStore::create` hands back.
CREATE TABLE wa_device (
    session TEXT NOT NULL PRIMARY KEY,
    device  BLOB NOT NULL
);

-- Signal identity keys of remote addresses (`user[:device]@server`), 32 bytes.
CREATE TABLE wa_identities (
    session TEXT NOT NULL,
    address TEXT NOT NULL,
    key     BLOB NOT NULL,
    PRIMARY KEY (session, address)
) WITHOUT ROWID;

-- Signal session records (ratchet state), one per remote address.
CREATE TABLE wa_sessions (
    session TEXT NOT NULL,
    address TEXT NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (session, address)
) WITHOUT ROWID;

-- One-time prekeys; `uploaded` = 1 once the server has them.
CREATE TABLE wa_prekeys (
    session  TEXT NOT NULL,
    id       INTEGER NOT NULL,
    record   BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session, id)
) WITHOUT ROWID;

-- Signed prekeys (the current one and those kept after rotation).
CREATE TABLE wa_signed_prekeys (
    session TEXT NOT NULL,
    id      INTEGER NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (session, id)
) WITHOUT ROWID;

-- Group sender keys, by sender-key address (`group::sender` form).
CREATE TABLE wa_sender_keys (
    session TEXT NOT NULL,
    address TEXT NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (session, address)
) WITHOUT ROWID;

-- App-state sync keys, by key id. `seq` orders writes: the highest is the
-- most recently set key (`get_latest_sync_key_id`).
CREATE TABLE wa_app_state_keys (
    session     TEXT NOT NULL,
    key_id      BLOB NOT NULL,
    key_data    BLOB NOT NULL,
    fingerprint BLOB NOT NULL,
    timestamp   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (session, key_id)
) WITHOUT ROWID;
CREATE INDEX wa_app_state_keys_by_seq ON wa_app_state_keys (session, seq);

-- App-state collection versions: the whole `HashState` (version, ltHash,
-- flags) as serde_json, by collection name (`regular`, `critical_block`, ...).
CREATE TABLE wa_app_state_versions (
    session TEXT NOT NULL,
    name    TEXT NOT NULL,
    state   BLOB NOT NULL,
    PRIMARY KEY (session, name)
) WITHOUT ROWID;

-- App-state mutation MACs: value MAC by (collection, index MAC), with the
-- collection version that wrote it.
CREATE TABLE wa_app_state_mutation_macs (
    session   TEXT NOT NULL,
    name      TEXT NOT NULL,
    index_mac BLOB NOT NULL,
    version   INTEGER NOT NULL,
    value_mac BLOB NOT NULL,
    PRIMARY KEY (session, name, index_mac)
) WITHOUT ROWID;

-- Which devices of a group hold our current sender key (has_key = 1) or need
-- a fresh distribution message (0).
CREATE TABLE wa_sender_key_devices (
    session    TEXT NOT NULL,
    group_jid  TEXT NOT NULL,
    device_jid TEXT NOT NULL,
    has_key    INTEGER NOT NULL,
    PRIMARY KEY (session, group_jid, device_jid)
) WITHOUT ROWID;
CREATE INDEX wa_sender_key_devices_by_device ON wa_sender_key_devices (session, device_jid);

-- LID <-> phone-number mappings (user parts), by LID. A phone number's
-- mapping is its row with the latest `updated_at`, ties going to the latest
-- write: rows are replaced whole, so the newest write has the highest rowid.
CREATE TABLE wa_lid_mappings (
    session         TEXT NOT NULL,
    lid             TEXT NOT NULL,
    phone_number    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    learning_source TEXT NOT NULL,
    PRIMARY KEY (session, lid)
);
CREATE INDEX wa_lid_mappings_by_phone ON wa_lid_mappings (session, phone_number, updated_at);

-- Base keys saved during retry collision detection, by (address, message id).
CREATE TABLE wa_base_keys (
    session    TEXT NOT NULL,
    address    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    base_key   BLOB NOT NULL,
    PRIMARY KEY (session, address, message_id)
) WITHOUT ROWID;

-- Known device lists (usync results) by user: a `DeviceListRecord` as serde_json.
CREATE TABLE wa_device_lists (
    session TEXT NOT NULL,
    user    TEXT NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (session, user)
) WITHOUT ROWID;

-- Cached group metadata (an opaque blob of whatsapp-rust's), by group.
CREATE TABLE wa_group_metadata (
    session   TEXT NOT NULL,
    group_jid TEXT NOT NULL,
    metadata  BLOB NOT NULL,
    PRIMARY KEY (session, group_jid)
) WITHOUT ROWID;

-- Trusted-contact privacy tokens by JID. An empty `token` is a placeholder
-- that only carries `sender_timestamp` (when we last issued ours).
CREATE TABLE wa_tc_tokens (
    session          TEXT NOT NULL,
    jid              TEXT NOT NULL,
    token            BLOB NOT NULL,
    token_timestamp  INTEGER NOT NULL,
    sender_timestamp INTEGER,
    PRIMARY KEY (session, jid)
) WITHOUT ROWID;

-- Payloads of sent messages (protobuf), kept for retry receipts; taken
-- (deleted) on use, pruned by age.
CREATE TABLE wa_sent_messages (
    session    TEXT NOT NULL,
    chat_jid   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (session, chat_jid, message_id)
) WITHOUT ROWID;
CREATE INDEX wa_sent_messages_by_age ON wa_sent_messages (session, created_at);

-- Decrypted inbound messages waiting for the durability hook to commit
-- them, by (chat, sender, stanza id); pruned by age.
CREATE TABLE wa_pending_inbound (
    session    TEXT NOT NULL,
    chat       TEXT NOT NULL,
    sender     TEXT NOT NULL,
    id         TEXT NOT NULL,
    message    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (session, chat, sender, id)
) WITHOUT ROWID;
CREATE INDEX wa_pending_inbound_by_age ON wa_pending_inbound (session, created_at);

-- Message secrets (32 bytes) of messages we sent or received, to decrypt
-- later add-ons (poll votes, reactions, edits). `expires_at` 0 = never;
-- `message_ts` 0 = parent message time unknown.
CREATE TABLE wa_msg_secrets (
    session    TEXT NOT NULL,
    chat       TEXT NOT NULL,
    sender     TEXT NOT NULL,
    msg_id     TEXT NOT NULL,
    secret     BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    message_ts INTEGER NOT NULL,
    PRIMARY KEY (session, chat, sender, msg_id)
) WITHOUT ROWID;
CREATE INDEX wa_msg_secrets_by_expiry ON wa_msg_secrets (session, expires_at) WHERE expires_at <> 0;
