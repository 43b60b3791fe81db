-- The sim inbox gets a sequence number that is never reused: the inbox is
-- read in `seq` order (the order messages were queued, on the table's own
-- key: no sort) from a cursor, so a poll reads only what it has not seen,
-- and acknowledged messages are deleted by `seq`. A plain rowid would not
-- do for the cursor: SQLite hands out max(rowid) + 1, so once the newest
-- rows are deleted a new message could get a number the cursor has passed.
CREATE TABLE sim_inbox_seq (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    session      TEXT NOT NULL,
    sender       TEXT NOT NULL,
    text         TEXT NOT NULL,
    queued_at_ms INTEGER NOT NULL
);

INSERT INTO sim_inbox_seq (id, session, sender, text, queued_at_ms)
SELECT id, session, sender, text, queued_at_ms FROM sim_inbox ORDER BY queued_at_ms, rowid;

DROP TABLE sim_inbox;
ALTER TABLE sim_inbox_seq RENAME TO sim_inbox;
