-- A session finishes its journaled events in `seq` order, so what is done
-- is one number per session, not a flag per row: completing a batch of
-- events writes one row here instead of rewriting every journal row.
CREATE TABLE journal_done (
    session     TEXT PRIMARY KEY,
    through_seq INTEGER NOT NULL          -- every journal row up to here is done
) WITHOUT ROWID;

INSERT INTO journal_done (session, through_seq)
SELECT session,
       coalesce((SELECT min(seq) - 1 FROM journal AS open WHERE open.session = j.session AND open.done = 0), max(seq))
FROM journal AS j
GROUP BY session;

ALTER TABLE journal DROP COLUMN done;
