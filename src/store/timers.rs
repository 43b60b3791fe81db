//! Persisted plugin timers (`timers`).
//!
//! The payloads stay here: a session keeps only each pending timer's id,
//! due time, plugin and payload size in memory ([`TimerEntry`]) and reads
//! the payload ([`Store::timer_get`]) when the timer comes due.
//!
//! The writes are fenced (see `fence.rs`): a host that may have lost the
//! session's lease sets and deletes no timers of it.

use sqlx::FromRow;

use super::{Store, fence};

/// One pending timer.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TimerRow {
    pub id: String,
    pub session: String,
    pub plugin: String,
    /// When it comes due, in ms since the epoch.
    pub due_at_ms: i64,
    pub payload: String,
}

/// A pending timer without its payload: what a session keeps in memory.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TimerEntry {
    pub id: String,
    pub plugin: String,
    pub due_at_ms: i64,
    /// The payload's size in bytes.
    pub payload_bytes: i64,
}

impl Store {
    pub async fn timer_insert(&self, row: &TimerRow) -> anyhow::Result<()> {
        with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, &row.session).await?;
            sqlx::query("INSERT INTO timers (id, session, plugin, due_at_ms, payload) VALUES ($1, $2, $3, $4, $5)")
                .bind(&row.id)
                .bind(&row.session)
                .bind(&row.plugin)
                .bind(row.due_at_ms)
                .bind(&row.payload)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes timer `id` if it belongs to (`session`, `plugin`); returns whether it did.
    pub async fn timer_delete(&self, session: &str, plugin: &str, id: &str) -> anyhow::Result<bool> {
        let done = with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, session).await?;
            let done = sqlx::query("DELETE FROM timers WHERE id = $1 AND session = $2 AND plugin = $3")
                .bind(id)
                .bind(session)
                .bind(plugin)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done.rows_affected()
        });
        Ok(done > 0)
    }

    /// The session's pending timers without their payloads, soonest first.
    pub async fn timer_entries(&self, session: &str) -> anyhow::Result<Vec<TimerEntry>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT id, plugin, due_at_ms, CAST(octet_length(payload) AS BIGINT) AS payload_bytes
             FROM timers WHERE session = $1 ORDER BY due_at_ms, id",
        )
        .bind(session)
        .fetch_all(pool)
        .await)?)
    }

    /// Timer `id` of `session` with its payload, if it is still pending.
    pub async fn timer_get(&self, session: &str, id: &str) -> anyhow::Result<Option<TimerRow>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT id, session, plugin, due_at_ms, payload FROM timers WHERE id = $1 AND session = $2"
        )
        .bind(id)
        .bind(session)
        .fetch_optional(pool)
        .await)?)
    }

    /// The session's pending timers, soonest first.
    pub async fn timers_of_session(&self, session: &str) -> anyhow::Result<Vec<TimerRow>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT id, session, plugin, due_at_ms, payload FROM timers WHERE session = $1 ORDER BY due_at_ms, id",
        )
        .bind(session)
        .fetch_all(pool)
        .await)?)
    }

    /// How many timers `plugin` has pending in `session`.
    pub async fn timers_count(&self, session: &str, plugin: &str) -> anyhow::Result<i64> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT count(*) FROM timers WHERE session = $1 AND plugin = $2"
        )
        .bind(session)
        .bind(plugin)
        .fetch_one(pool)
        .await)?)
    }

    /// Deletes every timer of the session; returns how many.
    pub async fn timers_delete_session(&self, session: &str) -> anyhow::Result<u64> {
        let done = with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, session).await?;
            let done = sqlx::query("DELETE FROM timers WHERE session = $1")
                .bind(session)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done.rows_affected()
        });
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_store;
    use super::*;

    fn timer(id: &str, session: &str, plugin: &str, due_at_ms: i64) -> TimerRow {
        TimerRow {
            id: id.into(),
            session: session.into(),
            plugin: plugin.into(),
            due_at_ms,
            payload: format!("payload {id}"),
        }
    }

    #[tokio::test]
    async fn timers_list_soonest_first_per_session() {
        let (store, _dir) = temp_store().await;
        for row in [
            timer("b", "s", "p", 20),
            timer("a", "s", "q", 30),
            timer("c", "s", "p", 10),
            timer("d", "t", "p", 5),
        ] {
            store.timer_insert(&row).await.unwrap();
        }
        let ids: Vec<_> = store
            .timers_of_session("s")
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, ["c", "b", "a"]);
        assert_eq!(store.timers_count("s", "p").await.unwrap(), 2);
        assert_eq!(store.timers_of_session("s").await.unwrap()[0], timer("c", "s", "p", 10));
    }

    #[tokio::test]
    async fn entries_carry_sizes_and_payloads_are_read_one_by_one() {
        let (store, _dir) = temp_store().await;
        let mut row = timer("x", "s", "p", 7);
        row.payload = "héllo".into();
        store.timer_insert(&row).await.unwrap();
        store.timer_insert(&timer("y", "t", "p", 1)).await.unwrap();
        let entries = store.timer_entries("s").await.unwrap();
        assert_eq!(
            entries,
            [TimerEntry {
                id: "x".into(),
                plugin: "p".into(),
                due_at_ms: 7,
                payload_bytes: 6,
            }]
        );
        assert_eq!(store.timer_get("s", "x").await.unwrap(), Some(row));
        assert_eq!(store.timer_get("s", "y").await.unwrap(), None, "another session's");
        assert_eq!(store.timer_get("s", "gone").await.unwrap(), None);
    }

    #[tokio::test]
    async fn only_the_owner_deletes_a_timer() {
        let (store, _dir) = temp_store().await;
        store.timer_insert(&timer("x", "s", "p", 1)).await.unwrap();
        assert!(!store.timer_delete("s", "other", "x").await.unwrap());
        assert!(!store.timer_delete("t", "p", "x").await.unwrap());
        assert!(store.timer_delete("s", "p", "x").await.unwrap());
        assert_eq!(store.timers_count("s", "p").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn deleting_a_session_s_timers_spares_others() {
        let (store, _dir) = temp_store().await;
        store.timer_insert(&timer("x", "s", "p", 1)).await.unwrap();
        store.timer_insert(&timer("y", "s", "q", 1)).await.unwrap();
        store.timer_insert(&timer("z", "t", "p", 1)).await.unwrap();
        assert_eq!(store.timers_delete_session("s").await.unwrap(), 2);
        assert_eq!(store.timers_count("t", "p").await.unwrap(), 1);
    }
}
