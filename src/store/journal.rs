//! The durable event path's rows: journal, outbox, dead letters.
//!
//! Writes on the hot path go through the [`Writer`](super::Writer), which
//! batches them; the queries here are the reads done when a session starts
//! (what to replay, what to resend) and by operators (dead letters).

use serde::Serialize;
use sqlx::FromRow;

use super::Store;

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

/// A send accepted from a plugin, waiting for the network.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OutboxRow {
    pub session: String,
    /// Idempotency key: the event id plus the send's index within the event.
    pub key: String,
    pub seq: i64,
    /// The `Outbound`, JSON.
    pub action: String,
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

impl Store {
    /// The highest journal sequence number of `session` (0 if none).
    pub async fn journal_last_seq(&self, session: &str) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM journal WHERE session = ?")
                .bind(session)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The session's unfinished events, in order.
    pub async fn journal_pending(&self, session: &str) -> anyhow::Result<Vec<PendingEvent>> {
        Ok(
            sqlx::query_as("SELECT seq, event FROM journal WHERE session = ? AND done = 0 ORDER BY seq")
                .bind(session)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Forgets finished journal rows older than `before_ms` (they only serve deduplication).
    pub async fn journal_prune(&self, before_ms: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM journal WHERE done = 1 AND received_at_ms < ?")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The session's sends not yet accepted by the network, in order.
    pub async fn outbox_pending(&self, session: &str) -> anyhow::Result<Vec<OutboxRow>> {
        Ok(
            sqlx::query_as("SELECT session, key, seq, action FROM outbox WHERE session = ? ORDER BY seq")
                .bind(session)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The highest outbox sequence number of `session` (0 if none).
    pub async fn outbox_last_seq(&self, session: &str) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM outbox WHERE session = ?")
                .bind(session)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Dead letters, of one session or all, oldest first.
    pub async fn dead_letters(&self, session: Option<&str>) -> anyhow::Result<Vec<DeadLetter>> {
        Ok(sqlx::query_as(
            "SELECT session, seq, event, plugin, error, failed_at_ms FROM dead_letters
             WHERE ?1 IS NULL OR session = ?1 ORDER BY failed_at_ms, session, seq",
        )
        .bind(session)
        .fetch_all(&self.pool)
        .await?)
    }
}
