-- Durability: the inbound journal, the outbox, dead letters, and the sim
-- network's server-side queues.

-- Inbound events, written before they are dispatched. `done` rows are kept
-- for a while so a message the network delivers twice is recognized. A
-- session finishes its events in `seq` order, so "done" is marked by range.
CREATE TABLE journal (
    session        TEXT NOT NULL,
    seq            INTEGER NOT NULL,       -- order within the session
    dedupe_key     TEXT,                   -- the network's message id, if any
    event          TEXT NOT NULL,          -- the ChannelEvent, JSON
    done           INTEGER NOT NULL DEFAULT 0,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE UNIQUE INDEX journal_dedupe ON journal (session, dedupe_key) WHERE dedupe_key IS NOT NULL;

-- Events whose plugin chain failed `event_attempts` times.
CREATE TABLE dead_letters (
    session      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    event        TEXT NOT NULL,            -- the ChannelEvent, JSON
    plugin       TEXT NOT NULL,            -- the plugin that failed
    error        TEXT NOT NULL,
    failed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (session, seq)
) WITHOUT ROWID;

-- Sends accepted from plugins and not yet accepted by the network.
-- Delivered in `seq` order, so deleted by range.
CREATE TABLE outbox (
    session     TEXT NOT NULL,
    seq         INTEGER NOT NULL,          -- order within the session
    key         TEXT NOT NULL,             -- idempotency key: event id + send index
    action      TEXT NOT NULL,             -- the Outbound, JSON
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (session, seq)
);

-- The sim network's server side: messages waiting for a session (put there
-- by `purr sim send`, possibly from another process) until it has journaled
-- them, and, if `[sim] keep_sent`, what sessions sent (a message id is
-- accepted once).
CREATE TABLE sim_inbox (
    id          TEXT PRIMARY KEY,
    session     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    text        TEXT NOT NULL,
    queued_at_ms INTEGER NOT NULL
);
CREATE INDEX sim_inbox_by_session ON sim_inbox (session, queued_at_ms);

CREATE TABLE sim_sent (
    session    TEXT NOT NULL,
    id         TEXT NOT NULL,
    action     TEXT NOT NULL,              -- the Outbound, JSON
    UNIQUE (session, id)                   -- rowid order is send order
);
