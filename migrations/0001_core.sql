-- purr's core tables. Every row that belongs to a session is keyed by the
-- session name, so one database serves many accounts.

-- Sessions known to the host: from the config file or created at run time.
CREATE TABLE sessions (
    name          TEXT PRIMARY KEY,
    channel       TEXT NOT NULL,           -- 'sim' | 'whatsapp'
    jid           TEXT,                    -- the linked account's address, if linked
    origin        TEXT NOT NULL,           -- 'config' | 'api'
    created_at_ms INTEGER NOT NULL
);

-- Plugin key/value data, private to one plugin in one session.
CREATE TABLE plugin_kv (
    plugin  TEXT NOT NULL,
    session TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (plugin, session, key)
) WITHOUT ROWID;

-- Pending plugin timers; a row is deleted once its event was handled.
CREATE TABLE timers (
    id        TEXT PRIMARY KEY,
    session   TEXT NOT NULL,
    plugin    TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL,
    payload   TEXT NOT NULL
);
CREATE INDEX timers_by_session_due ON timers (session, due_at_ms);

-- The sim network's "device store": which sim sessions are linked.
CREATE TABLE sim_pairings (
    session      TEXT PRIMARY KEY,
    jid          TEXT NOT NULL,
    paired_at_ms INTEGER NOT NULL
);
