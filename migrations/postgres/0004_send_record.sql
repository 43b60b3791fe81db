-- The send record (SQLite 0007_send_record): delivered outbox rows are kept
-- (they were deleted) so `purr replay` can compare what a candidate plugin
-- would send with what the live chain sent. A session's sends leave in
-- `seq` order, so what has been sent is one number per session, like
-- `journal_done`: every outbox row up to `through_seq` was accepted by the
-- network (or dropped as unsendable); the rows after it are pending.
-- Delivered rows and finished journal rows are pruned after
-- `[host] journal_keep`.
--
-- Until now every outbox row present was pending (delivered ones were
-- deleted), so no mark (0) is right for every existing session.
CREATE TABLE outbox_sent (
    session     TEXT COLLATE "C" PRIMARY KEY,
    through_seq BIGINT NOT NULL            -- every outbox row up to here was sent
);

-- The journal row whose event made the send; NULL for sends no journaled
-- event made (a timer's, a `started` event's, or with `[host] journal =
-- false`).
ALTER TABLE outbox ADD COLUMN journal_seq BIGINT;
