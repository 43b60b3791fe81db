//! The durable event path's rows: journal, outbox, dead letters.
//!
//! Writes on the hot path go through the [`Writer`](super::Writer), which
//! batches them; the queries here are the reads done when a session starts
//! (what to replay, what to resend), by operators (dead letters), and the
//! pruning of what is kept past its use.
//!
//! Both the journal and the outbox keep their rows once they are finished:
//! a session's finished events are the journal rows up to its done mark
//! (`journal_done`), its sent sends the outbox rows up to its sent mark
//! (`outbox_sent`); each mark is one number per session, as a session
//! finishes events and delivers sends in order. Finished rows serve
//! deduplication and the record `purr replay` compares against
//! (`history.rs`); [`Store::journal_prune`] deletes those older than
//! `[host] journal_keep`.

use anyhow::Context as _;
use serde::Serialize;
use sqlx::FromRow;

use super::{Db, Store};

/// An inbound event to journal.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub session: String,
    pub seq: i64,
    /// The network's message id: a second event with the same key is dropped.
    pub dedupe_key: Option<String>,
    /// The event, JSON.
    pub event: String,
    pub received_at_ms: i64,
}

/// A send accepted from a plugin: waiting for the network, or (once the
/// session's sent mark covers it) the record of what was sent.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OutboxRow {
    pub session: String,
    /// Idempotency key: the event id plus the send's index within the event.
    pub key: String,
    pub seq: i64,
    /// The `Outbound`, JSON.
    pub action: String,
    /// The journal row whose event made the send (none for a timer's or a
    /// `started` event's send, or with the journal off).
    pub journal_seq: Option<i64>,
}

/// An event that kept failing, set aside.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct DeadLetter {
    pub session: String,
    pub seq: i64,
    /// The event, JSON.
    pub event: String,
    pub plugin: String,
    pub error: String,
    pub failed_at_ms: i64,
}

/// A journaled event not yet marked done.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PendingEvent {
    pub seq: i64,
    pub event: String,
}

/// Where a session's journal and outbox stand ([`Store::session_resume`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct Resume {
    /// The highest journal sequence number used (0 if none). Counts the
    /// done mark too: pruning may have deleted every row, and a reused
    /// number would be taken for done.
    pub journal_last_seq: i64,
    /// Every journal row up to here is finished (0 if none).
    pub journal_done_through: i64,
    /// Journal rows after the done mark: events to replay.
    pub journal_pending: i64,
    /// The highest outbox sequence number used (0 if none). Counts the
    /// sent mark too, as the journal's counts its done mark.
    pub outbox_last_seq: i64,
    /// Sends in the outbox after the sent mark: not yet accepted by the network.
    pub outbox_pending: i64,
}

/// What one [`Store::journal_prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished journal rows.
    pub journal: u64,
    /// Sent outbox rows.
    pub sent: u64,
}

/// Rows one pruning statement deletes at most on SQLite: between two, the
/// writer gets the database (a single long delete would hold the write
/// lock, and the writer, waiting past its busy timeout, would stop).
const PRUNE_CHUNK: i64 = 2000;
/// The pause between two pruning statements on SQLite, for the writer.
const PRUNE_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

impl Store {
    /// Where `session`'s journal and outbox stand, in one read: what a
    /// starting session needs.
    pub async fn session_resume(&self, session: &str) -> anyhow::Result<Resume> {
        Ok(with_db!(&self.db, |pool| {
            sqlx::query_as(
            "WITH done AS (SELECT coalesce((SELECT through_seq FROM journal_done WHERE session = $1), 0) AS through_seq,
                                  coalesce((SELECT max(seq) FROM journal WHERE session = $1), 0) AS last_seq,
                                  coalesce((SELECT through_seq FROM outbox_sent WHERE session = $1), 0) AS sent_through,
                                  coalesce((SELECT max(seq) FROM outbox WHERE session = $1), 0) AS outbox_max)
             SELECT CASE WHEN last_seq > through_seq THEN last_seq ELSE through_seq END AS journal_last_seq,
                    through_seq AS journal_done_through,
                    (SELECT count(*) FROM journal WHERE session = $1 AND seq > through_seq) AS journal_pending,
                    CASE WHEN outbox_max > sent_through THEN outbox_max ELSE sent_through END AS outbox_last_seq,
                    (SELECT count(*) FROM outbox WHERE session = $1 AND seq > sent_through) AS outbox_pending
             FROM done",
        )
        .bind(session)
        .fetch_one(pool)
        .await
        })?)
    }

    /// One page of the session's journal: at most `limit` rows after `after`
    /// and up to `through`, in order. A session replays its unfinished
    /// events page by page (the next page starts after the last row of this
    /// one), so a backlog costs disk, not memory.
    pub async fn journal_page(
        &self,
        session: &str,
        after: i64,
        through: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<PendingEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match &self.db {
            Db::Sqlite(pool) => {
                let joined = sqlx::query_scalar(
                    "SELECT group_concat(line, char(10) ORDER BY seq) FROM (SELECT seq, seq || ' ' || event AS line \
                     FROM journal WHERE session = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4)",
                )
                .bind(session)
                .bind(after)
                .bind(through)
                .bind(limit)
                .fetch_one(pool)
                .await?;
                split_events(joined)
            }
            Db::Postgres(pool) => Ok(sqlx::query_as(
                "SELECT seq, event FROM journal WHERE session = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
            )
            .bind(session)
            .bind(after)
            .bind(through)
            .bind(limit)
            .fetch_all(pool)
            .await?),
        }
    }

    /// The session's unfinished events, in order, all at once: for tests
    /// and tools. A starting session reads them by [`journal_page`](Self::journal_page).
    pub async fn journal_pending(&self, session: &str) -> anyhow::Result<Vec<PendingEvent>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT seq, event FROM journal
             WHERE session = $1 AND seq > coalesce((SELECT through_seq FROM journal_done WHERE session = $1), 0)
             ORDER BY seq",
        )
        .bind(session)
        .fetch_all(pool)
        .await)?)
    }

    /// How many journaled events of `session` are not done yet.
    pub async fn journal_pending_count(&self, session: &str) -> anyhow::Result<i64> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT count(*) FROM journal
             WHERE session = $1 AND seq > coalesce((SELECT through_seq FROM journal_done WHERE session = $1), 0)",
        )
        .bind(session)
        .fetch_one(pool)
        .await)?)
    }

    /// The session's journal rows `from..=through`, in order.
    pub async fn journal_range(&self, session: &str, from: i64, through: i64) -> anyhow::Result<Vec<PendingEvent>> {
        self.journal_page(session, from.saturating_sub(1), through, usize::MAX)
            .await
    }

    /// Forgets, in every session, the finished journal rows received
    /// before `before_ms` and the sent outbox rows written before it (they
    /// serve deduplication and `purr replay`'s record). Unfinished events
    /// and unsent sends stay whatever their age; the marks stay, so no
    /// sequence number is used twice.
    ///
    /// On SQLite the rows go [`PRUNE_CHUNK`] at a time with a pause
    /// between, so the writer is never held up long; on PostgreSQL, where a
    /// delete blocks no insert, each table is one statement.
    pub async fn journal_prune(&self, before_ms: i64) -> anyhow::Result<Pruned> {
        let chunk = if self.db.is_postgres() { i64::MAX } else { PRUNE_CHUNK };
        let journal = self
            .prune_chunks(
                chunk,
                "DELETE FROM journal WHERE (session, seq) IN (SELECT session, seq FROM journal AS j
                 WHERE j.received_at_ms < $1
                 AND j.seq <= coalesce((SELECT through_seq FROM journal_done AS d WHERE d.session = j.session), 0)
                 LIMIT $2)",
                before_ms,
            )
            .await
            .context("pruning the journal")?;
        let sent = self
            .prune_chunks(
                chunk,
                "DELETE FROM outbox WHERE (session, seq) IN (SELECT session, seq FROM outbox AS o
                 WHERE o.created_at_ms < $1
                 AND o.seq <= coalesce((SELECT through_seq FROM outbox_sent AS s WHERE s.session = o.session), 0)
                 LIMIT $2)",
                before_ms,
            )
            .await
            .context("pruning the sent outbox rows")?;
        Ok(Pruned { journal, sent })
    }

    /// Runs `delete` (binding `before_ms` and `chunk`) until it deletes
    /// fewer than `chunk` rows; returns how many it deleted.
    async fn prune_chunks(&self, chunk: i64, delete: &'static str, before_ms: i64) -> anyhow::Result<u64> {
        let mut total = 0;
        loop {
            let deleted = with_db!(&self.db, |pool| sqlx::query(delete)
                .bind(before_ms)
                .bind(chunk)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
            total += deleted;
            if deleted < chunk as u64 {
                return Ok(total);
            }
            tokio::time::sleep(PRUNE_PAUSE).await;
        }
    }

    /// The session's sends not yet accepted by the network (after its sent
    /// mark), in order.
    pub async fn outbox_pending(&self, session: &str) -> anyhow::Result<Vec<OutboxRow>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT session, key, seq, action, journal_seq FROM outbox
             WHERE session = $1 AND seq > coalesce((SELECT through_seq FROM outbox_sent WHERE session = $1), 0)
             ORDER BY seq"
        )
        .bind(session)
        .fetch_all(pool)
        .await)?)
    }

    /// Dead letters, of one session or all, oldest first.
    pub async fn dead_letters(&self, session: Option<&str>) -> anyhow::Result<Vec<DeadLetter>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT session, seq, event, plugin, error, failed_at_ms FROM dead_letters
             WHERE $1 IS NULL OR session = $1 ORDER BY failed_at_ms, session, seq",
        )
        .bind(session)
        .fetch_all(pool)
        .await)?)
    }
}

/// The rows of a SQLite journal read joined into one value (`<seq>
/// <event>` lines, in order), split again. sqlx hands a query's rows over
/// from its worker thread one at a time, a thread wake-up each: for a page
/// of events that was most of the read's cost (BENCHMARKS.md, "The
/// pipeline's own cost"). An event is serde_json's compact form, which never holds a
/// newline.
fn split_events(joined: Option<String>) -> anyhow::Result<Vec<PendingEvent>> {
    let Some(joined) = joined else { return Ok(Vec::new()) };
    joined
        .split('\n')
        .map(|line| {
            let (seq, event) = line
                .split_once(' ')
                .ok_or_else(|| anyhow::anyhow!("a journal row came back without its sequence number"))?;
            Ok(PendingEvent {
                seq: seq.parse()?,
                event: event.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::store::tests::temp_store;
    use crate::store::{Completion, JournalEntry, OutboxRow, Pruned};

    fn entry(session: &str, seq: i64, received_at_ms: i64) -> JournalEntry {
        JournalEntry {
            session: session.to_string(),
            seq,
            dedupe_key: Some(format!("{session}-{seq}")),
            event: format!("{{\"n\":{seq}}}"),
            received_at_ms,
        }
    }

    async fn complete(store: &crate::store::Store, session: &str, seq: i64) {
        complete_with_sends(store, session, seq, &[]).await;
    }

    /// The sequence numbers of `session`'s unfinished events.
    async fn pending_seqs(store: &crate::store::Store, session: &str) -> Vec<i64> {
        let pending = store.journal_pending(session).await.unwrap();
        pending.iter().map(|e| e.seq).collect()
    }

    #[tokio::test]
    async fn pending_is_what_follows_each_sessions_done_mark() {
        let (store, _dir) = temp_store().await;
        let rows = (1..=5)
            .map(|seq| entry("a", seq, 0))
            .chain([entry("b", 1, 0)])
            .collect();
        store.writer().append(rows).await.unwrap();
        complete(&store, "a", 1).await;
        complete(&store, "a", 2).await;
        let pending = pending_seqs(&store, "a").await;
        assert_eq!(pending, [3, 4, 5]);
        let other = pending_seqs(&store, "b").await;
        assert_eq!(other, [1], "another session's completions do not touch b");
    }

    #[tokio::test]
    async fn pages_are_bounded_ordered_and_stop_at_their_end() {
        let (store, _dir) = temp_store().await;
        let rows = (1..=10)
            .map(|seq| entry("a", seq, 0))
            .chain([entry("b", 3, 0)])
            .collect();
        store.writer().append(rows).await.unwrap();
        complete(&store, "a", 2).await;
        let resume = store.session_resume("a").await.unwrap();
        let after = resume.journal_done_through;
        assert_eq!(after, 2);
        assert_eq!((resume.journal_last_seq, resume.journal_pending), (10, 8));
        let seqs = |page: Vec<crate::store::PendingEvent>| page.iter().map(|e| e.seq).collect::<Vec<_>>();
        let first = seqs(store.journal_page("a", after, 9, 3).await.unwrap());
        assert_eq!(first, [3, 4, 5], "at most `limit` rows, after the done mark, in order");
        let second = seqs(store.journal_page("a", 5, 9, 3).await.unwrap());
        assert_eq!(second, [6, 7, 8], "the next page starts after the last row");
        let last = seqs(store.journal_page("a", 8, 9, 3).await.unwrap());
        assert_eq!(
            last,
            [9],
            "rows past `through` (journaled after the start) are not read"
        );
        assert!(store.journal_page("a", 9, 9, 3).await.unwrap().is_empty());
        assert_eq!(store.session_resume("b").await.unwrap().journal_done_through, 0);
        let other = seqs(store.journal_page("b", 0, 10, 3).await.unwrap());
        assert_eq!(other, [3], "only the session's own rows");
    }

    #[tokio::test]
    async fn a_page_gives_back_each_event_exactly_as_journaled() {
        let (store, _dir) = temp_store().await;
        // What the journal stage writes: serde_json's compact form (a
        // newline in a message is escaped), with spaces, digits and
        // non-ASCII text that the read must not split or change.
        let texts = ["two\nlines", "  spaced 12 34  ", "ü 🐈", "", "{\"nested\": [1, 2]}"];
        let rows: Vec<_> = texts
            .iter()
            .zip(1..)
            .map(|(text, seq)| JournalEntry {
                event: serde_json::json!({ "text": text, "n": seq }).to_string(),
                ..entry("a", seq, 0)
            })
            .collect();
        store.writer().append(rows.clone()).await.unwrap();
        let page = store.journal_page("a", 0, 5, 10).await.unwrap();
        let read: Vec<_> = page.into_iter().map(|e| (e.seq, e.event)).collect();
        let written: Vec<_> = rows.into_iter().map(|e| (e.seq, e.event)).collect();
        assert_eq!(read, written);
        let range = store.journal_range("a", 2, 4).await.unwrap();
        assert_eq!(range.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(range[0].event, written[1].1);
        assert!(store.journal_range("a", 6, 9).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_nul_from_the_network_neither_fails_the_batch_nor_stops_the_writer() {
        let (store, _dir) = temp_store().await;
        let mut odd = entry("a", 1, 0);
        odd.dedupe_key = Some("id\0with-nul".into());
        odd.event = "text\0with-nul".into();
        let taken = store.writer().append(vec![odd, entry("a", 2, 0)]).await.unwrap();
        assert_eq!(taken, [true, true]);
        assert_eq!(pending_seqs(&store, "a").await, [1, 2]);
        assert_eq!(store.writer().failure(), None);
    }

    #[tokio::test]
    async fn pruning_keeps_unfinished_rows_and_never_lets_a_sequence_number_be_reused() {
        let (store, _dir) = temp_store().await;
        store
            .writer()
            .append((1..=3).map(|seq| entry("a", seq, 0)).collect())
            .await
            .unwrap();
        complete(&store, "a", 2).await;
        assert_eq!(
            store.journal_prune(1).await.unwrap().journal,
            2,
            "rows 1 and 2 are done and old"
        );
        assert_eq!(
            store.journal_pending("a").await.unwrap().len(),
            1,
            "row 3 is not done: kept"
        );
        complete(&store, "a", 3).await;
        store.journal_prune(1).await.unwrap();
        // Every row is gone, yet the next event must not get a number the done mark covers.
        let resume = store.session_resume("a").await.unwrap();
        assert_eq!((resume.journal_last_seq, resume.journal_pending), (3, 0));
        store.writer().append(vec![entry("a", 4, 0)]).await.unwrap();
        let pending = pending_seqs(&store, "a").await;
        assert_eq!(pending, [4]);
    }

    /// Completes `session`'s event `seq` with sends at outbox seqs `sends`.
    async fn complete_with_sends(store: &crate::store::Store, session: &str, seq: i64, sends: &[i64]) {
        let completion = Completion {
            session: session.to_string(),
            journal_seq: Some(seq),
            outbox: sends
                .iter()
                .map(|&n| OutboxRow {
                    session: session.to_string(),
                    key: format!("j{seq}.{n}"),
                    seq: n,
                    action: format!("{{\"send\":{n}}}"),
                    journal_seq: Some(seq),
                })
                .collect(),
            ..Completion::default()
        };
        store.writer().complete(completion).await.await.unwrap().unwrap();
    }

    async fn pending_sends(store: &crate::store::Store, session: &str) -> Vec<i64> {
        let pending = store.outbox_pending(session).await.unwrap();
        pending.iter().map(|row| row.seq).collect()
    }

    #[tokio::test]
    async fn delivered_sends_are_kept_but_no_longer_pending_and_the_mark_never_goes_back() {
        let (store, _dir) = temp_store().await;
        let rows = vec![entry("a", 1, 0), entry("a", 2, 0), entry("b", 1, 0)];
        store.writer().append(rows).await.unwrap();
        complete_with_sends(&store, "a", 1, &[1, 2]).await;
        complete_with_sends(&store, "a", 2, &[3, 4]).await;
        complete_with_sends(&store, "b", 1, &[1]).await;
        let pending = store.outbox_pending("a").await.unwrap();
        assert_eq!(
            pending.iter().map(|r| r.journal_seq).collect::<Vec<_>>(),
            [Some(1), Some(1), Some(2), Some(2)]
        );

        // Both in one batch: the mark is their maximum, and a lower one never moves it back.
        store.writer().delivered("a", 1).await;
        store.writer().delivered("a", 3).await;
        store.writer().barrier().await.unwrap();
        store.writer().delivered("a", 2).await;
        store.writer().barrier().await.unwrap();
        assert_eq!(pending_sends(&store, "a").await, [4], "rows up to the mark were sent");
        assert_eq!(
            pending_sends(&store, "b").await,
            [1],
            "another session's mark is its own"
        );
        let resume = store.session_resume("a").await.unwrap();
        assert_eq!((resume.outbox_last_seq, resume.outbox_pending), (4, 1));
        let kept = store.history_page("a", 0, 2, 10).await.unwrap();
        let sends: Vec<_> = kept.iter().map(|e| e.sends.len()).collect();
        assert_eq!(sends, [2, 2], "the delivered rows stay as the send record");
    }

    #[tokio::test]
    async fn pruning_deletes_old_sent_rows_and_old_finished_events_never_pending_ones() {
        let (store, _dir) = temp_store().await;
        // More rows than one pruning statement takes on SQLite: every chunk is pruned.
        let many = 2 * super::PRUNE_CHUNK + 7;
        let rows = (1..=many + 2).map(|seq| entry("a", seq, 0)).collect();
        store.writer().append(rows).await.unwrap();
        complete(&store, "a", many - 1).await;
        complete_with_sends(&store, "a", many, &[1, 2, 3]).await;
        store.writer().delivered("a", 2).await;
        store.writer().barrier().await.unwrap();

        // Sends were written just now: at a cut-off in the past only the journal's old rows go.
        let pruned = store.journal_prune(1).await.unwrap();
        assert_eq!(
            pruned,
            Pruned {
                journal: many as u64,
                sent: 0
            }
        );
        assert_eq!(
            pending_seqs(&store, "a").await,
            [many + 1, many + 2],
            "unfinished events stay"
        );
        let later = crate::store::now_ms() + 60_000;
        let pruned = store.journal_prune(later).await.unwrap();
        assert_eq!(
            pruned,
            Pruned { journal: 0, sent: 2 },
            "the delivered sends go once old"
        );
        assert_eq!(pending_seqs(&store, "a").await, [many + 1, many + 2]);
        assert_eq!(pending_sends(&store, "a").await, [3], "a send not delivered stays");
        assert_eq!(store.journal_prune(later).await.unwrap(), Pruned::default());

        // Everything sent is pruned: the next send must not reuse a number the mark covers.
        store.writer().delivered("a", 3).await;
        store.writer().barrier().await.unwrap();
        assert_eq!(store.journal_prune(later).await.unwrap().sent, 1);
        let resume = store.session_resume("a").await.unwrap();
        assert_eq!((resume.outbox_last_seq, resume.outbox_pending), (3, 0));
        assert!(store.outbox_pending("a").await.unwrap().is_empty());
    }
}
