//! What a session's finished events were and what their chains sent: the
//! record `purr replay` compares against.
//!
//! A finished event is a journal row at or below the session's done mark;
//! its sends are the outbox rows its completion wrote (`journal_seq`), kept
//! once delivered (the sent mark moves instead of deleting them). Both are
//! kept for `[host] journal_keep`, so that is how far back the record
//! reaches. The record is read a page at a time by journal sequence number:
//! [`Store::history_range`] finds the window's range, [`Store::history_page`]
//! reads it.

use std::collections::HashMap;

use super::Store;

/// Which finished events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryWindow {
    /// Received at or after this time (ms since epoch).
    Since(i64),
    /// The newest n finished events.
    Last(usize),
}

/// A finished journaled event and what the live chain did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastEvent {
    pub seq: i64,
    /// The `ChannelEvent` JSON as journaled.
    pub event: String,
    pub received_at_ms: i64,
    /// The `Outbound` JSON of each send its chain made, in order (its
    /// outbox rows, by outbox seq; delivered or still waiting for the
    /// network).
    pub sends: Vec<String>,
    /// `(plugin, error)` if it was dead-lettered.
    pub failed: Option<(String, String)>,
}

impl Store {
    /// The seq range `(first, last)` of the finished events in `window`,
    /// `None` if none. For [`HistoryWindow::Since`], the range runs from the
    /// first to the last finished event received at or after the time.
    pub async fn history_range(&self, session: &str, window: HistoryWindow) -> anyhow::Result<Option<(i64, i64)>> {
        let (first, last): (Option<i64>, Option<i64>) = match window {
            HistoryWindow::Since(since_ms) => with_db!(&self.db, |pool| sqlx::query_as(
                "SELECT min(seq), max(seq) FROM journal WHERE session = $1 AND received_at_ms >= $2
                 AND seq <= coalesce((SELECT through_seq FROM journal_done WHERE session = $1), 0)",
            )
            .bind(session)
            .bind(since_ms)
            .fetch_one(pool)
            .await)?,
            HistoryWindow::Last(0) => return Ok(None),
            HistoryWindow::Last(n) => with_db!(&self.db, |pool| sqlx::query_as(
                "SELECT min(seq), max(seq) FROM (SELECT seq FROM journal WHERE session = $1
                 AND seq <= coalesce((SELECT through_seq FROM journal_done WHERE session = $1), 0)
                 ORDER BY seq DESC LIMIT $2) AS newest",
            )
            .bind(session)
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .fetch_one(pool)
            .await)?,
        };
        Ok(first.zip(last))
    }

    /// Up to `limit` finished events with seq in `(after, through]`, in
    /// order, with their sends and failure. The next page starts after the
    /// last event of this one.
    pub async fn history_page(
        &self,
        session: &str,
        after: i64,
        through: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<PastEvent>> {
        let rows: Vec<(i64, String, i64)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT seq, event, received_at_ms FROM journal WHERE session = $1 AND seq > $2 AND seq <= $3
             AND seq <= coalesce((SELECT through_seq FROM journal_done WHERE session = $1), 0)
             ORDER BY seq LIMIT $4",
        )
        .bind(session)
        .bind(after)
        .bind(through)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await)?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0)) else {
            return Ok(Vec::new());
        };
        let mut events: Vec<PastEvent> = rows
            .into_iter()
            .map(|(seq, event, received_at_ms)| PastEvent {
                seq,
                event,
                received_at_ms,
                sends: Vec::new(),
                failed: None,
            })
            .collect();
        let at: HashMap<i64, usize> = events.iter().enumerate().map(|(i, e)| (e.seq, i)).collect();
        // The session's outbox rows are read through its primary key
        // (session, seq); `journal_seq` has no index (one would cost every
        // send on the hot path; BENCHMARKS.md, "Keeping the send record").
        let sends: Vec<(i64, String)> = with_db!(&self.db, |pool| {
            sqlx::query_as(
            "SELECT journal_seq, action FROM outbox WHERE session = $1 AND journal_seq BETWEEN $2 AND $3 ORDER BY seq",
        )
        .bind(session)
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await
        })?;
        for (journal_seq, action) in sends {
            if let Some(&i) = at.get(&journal_seq) {
                events[i].sends.push(action);
            }
        }
        let failures: Vec<(i64, String, String)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT seq, plugin, error FROM dead_letters WHERE session = $1 AND seq BETWEEN $2 AND $3",
        )
        .bind(session)
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await)?;
        for (seq, plugin, error) in failures {
            if let Some(&i) = at.get(&seq) {
                events[i].failed = Some((plugin, error));
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::{HistoryWindow, PastEvent};
    use crate::store::tests::temp_store;
    use crate::store::{Completion, DeadLetter, JournalEntry, OutboxRow, Store};

    /// Journals `session`'s events `seqs`, event n received at 100 × n ms.
    async fn journal(store: &Store, session: &str, seqs: std::ops::RangeInclusive<i64>) {
        let entries = seqs
            .map(|seq| JournalEntry {
                session: session.to_string(),
                seq,
                dedupe_key: None,
                event: format!("{{\"event\":{seq}}}"),
                received_at_ms: 100 * seq,
            })
            .collect();
        store.writer().append(entries).await.unwrap();
    }

    /// Finishes event `seq` with sends at outbox seqs `sends` (their action
    /// names the event and the send), or dead-letters it.
    async fn finish(store: &Store, session: &str, seq: i64, sends: &[i64], failed: Option<&str>) {
        let completion = Completion {
            session: session.to_string(),
            journal_seq: Some(seq),
            outbox: (sends.iter())
                .map(|&n| OutboxRow {
                    session: session.to_string(),
                    key: format!("j{seq}.{n}"),
                    seq: n,
                    action: format!("{session}:{seq}:{n}"),
                    journal_seq: Some(seq),
                })
                .collect(),
            dead_letter: failed.map(|error| DeadLetter {
                session: session.to_string(),
                seq,
                event: format!("{{\"event\":{seq}}}"),
                plugin: "p".into(),
                error: error.into(),
                failed_at_ms: 0,
            }),
            ..Completion::default()
        };
        store.writer().complete(completion).await.await.unwrap().unwrap();
    }

    /// A send no journaled event made (a timer's), at outbox seq `n`.
    async fn timer_send(store: &Store, session: &str, n: i64) {
        let completion = Completion {
            session: session.to_string(),
            outbox: vec![OutboxRow {
                session: session.to_string(),
                key: format!("t.{n}"),
                seq: n,
                action: format!("{session}:timer:{n}"),
                journal_seq: None,
            }],
            ..Completion::default()
        };
        store.writer().complete(completion).await.await.unwrap().unwrap();
    }

    fn seqs(page: &[PastEvent]) -> Vec<i64> {
        page.iter().map(|e| e.seq).collect()
    }

    #[tokio::test]
    async fn finished_events_come_with_their_sends_in_order_delivered_or_not() {
        let (store, _dir) = temp_store().await;
        journal(&store, "a", 1..=4).await;
        journal(&store, "b", 1..=1).await;
        finish(&store, "a", 1, &[1, 2], None).await;
        timer_send(&store, "a", 3).await;
        finish(&store, "a", 2, &[], None).await;
        finish(&store, "a", 3, &[4], None).await;
        finish(&store, "b", 1, &[1], None).await;
        store.writer().delivered("a", 3).await;
        store.writer().barrier().await.unwrap();
        assert_eq!(
            store.outbox_pending("a").await.unwrap().len(),
            1,
            "send 4 is not delivered yet"
        );

        let page = store.history_page("a", 0, 10, 10).await.unwrap();
        assert_eq!(seqs(&page), [1, 2, 3], "event 4 is not finished");
        let first = &page[0];
        assert_eq!(
            (first.event.as_str(), first.received_at_ms),
            ("{\"event\":1}", 100),
            "the event as journaled"
        );
        let sends: Vec<Vec<&str>> = page
            .iter()
            .map(|e| e.sends.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            sends,
            [vec!["a:1:1", "a:1:2"], vec![], vec!["a:3:4"]],
            "each event's own sends, in order: not the timer's, not session b's"
        );
        assert!(page.iter().all(|e| e.failed.is_none()));
    }

    #[tokio::test]
    async fn windows_and_pages() {
        let (store, _dir) = temp_store().await;
        journal(&store, "a", 1..=6).await;
        for seq in 1..=5 {
            finish(&store, "a", seq, &[seq], None).await;
        }
        let range = |window| store.history_range("a", window);
        assert_eq!(
            range(HistoryWindow::Last(2)).await.unwrap(),
            Some((4, 5)),
            "6 is not finished"
        );
        assert_eq!(range(HistoryWindow::Last(100)).await.unwrap(), Some((1, 5)));
        assert_eq!(range(HistoryWindow::Last(0)).await.unwrap(), None);
        assert_eq!(
            range(HistoryWindow::Since(300)).await.unwrap(),
            Some((3, 5)),
            "at or after"
        );
        assert_eq!(range(HistoryWindow::Since(301)).await.unwrap(), Some((4, 5)));
        assert_eq!(
            range(HistoryWindow::Since(600)).await.unwrap(),
            None,
            "6 is not finished"
        );
        let other = store.history_range("b", HistoryWindow::Last(5)).await.unwrap();
        assert_eq!(other, None, "a session without events");

        let (first, last) = range(HistoryWindow::Last(4)).await.unwrap().unwrap();
        let mut read = Vec::new();
        let mut after = first - 1;
        loop {
            let page = store.history_page("a", after, last, 3).await.unwrap();
            assert!(page.len() <= 3, "at most `limit` events");
            let Some(end) = page.last() else { break };
            after = end.seq;
            read.push(seqs(&page));
        }
        assert_eq!(read, [vec![2, 3, 4], vec![5]], "pages in order, each after the last");
        let sends: Vec<_> = store
            .history_page("a", 3, 5, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.sends)
            .collect();
        assert_eq!(
            sends,
            [vec!["a:4:4"], vec!["a:5:5"]],
            "a page's sends are its own events'"
        );
        let past = store.history_page("a", 5, 6, 10).await.unwrap();
        assert!(past.is_empty(), "nothing past the done mark");
    }

    #[tokio::test]
    async fn a_dead_lettered_event_shows_its_failure() {
        let (store, _dir) = temp_store().await;
        journal(&store, "a", 1..=3).await;
        finish(&store, "a", 1, &[1], None).await;
        finish(&store, "a", 2, &[], Some("boom")).await;
        finish(&store, "a", 3, &[2], None).await;
        let page = store.history_page("a", 0, 3, 10).await.unwrap();
        let failed: Vec<_> = page.iter().map(|e| e.failed.clone()).collect();
        assert_eq!(failed, [None, Some(("p".to_string(), "boom".to_string())), None]);
        assert!(page[1].sends.is_empty(), "a failed event sends nothing");
    }
}
