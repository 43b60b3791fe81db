//! The sim network's server-side state: pairing (`sim_pairings`, what a
//! WhatsApp device store is to WhatsApp: a row means the account is
//! linked), the inbox of messages waiting for a session (`sim_inbox`,
//! filled by `purr sim send`, possibly from another process) and the log of
//! what sessions sent (`sim_sent`, with `[sim] keep_sent`).

use sqlx::FromRow;

use super::{Store, now_ms};

/// A message the sim network holds for a session until it is journaled.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SimInboxRow {
    pub id: String,
    pub session: String,
    pub sender: String,
    pub text: String,
}

impl Store {
    /// The linked address of a sim session, if it is linked.
    pub async fn sim_pairing(&self, session: &str) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT jid FROM sim_pairings WHERE session = ?")
            .bind(session)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records that `session` is linked as `jid`.
    pub async fn sim_pair(&self, session: &str, jid: &str) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO sim_pairings (session, jid, paired_at_ms) VALUES (?, ?, ?)
             ON CONFLICT (session) DO UPDATE SET jid = excluded.jid, paired_at_ms = excluded.paired_at_ms",
        )
        .bind(session)
        .bind(jid)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Unlinks `session`; returns whether it was linked.
    pub async fn sim_unpair(&self, session: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM sim_pairings WHERE session = ?")
            .bind(session)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Queues a text for `session` on the sim network's server side.
    pub async fn sim_inbox_push(&self, id: &str, session: &str, sender: &str, text: &str) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO sim_inbox (id, session, sender, text, queued_at_ms) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(session)
            .bind(sender)
            .bind(text)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The oldest `limit` messages waiting for any session, oldest first.
    pub async fn sim_inbox(&self, limit: i64) -> anyhow::Result<Vec<SimInboxRow>> {
        Ok(
            sqlx::query_as("SELECT id, session, sender, text FROM sim_inbox ORDER BY queued_at_ms, rowid LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The newest `limit` entries of [`sim_sent_log`](Self::sim_sent_log), oldest first.
    pub async fn sim_sent_recent(&self, session: &str, limit: i64) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, action FROM (SELECT rowid, id, action FROM sim_sent WHERE session = ? \
             ORDER BY rowid DESC LIMIT ?) ORDER BY rowid",
        )
        .bind(session)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// What `session` sent on the sim network (`[sim] keep_sent`), in order:
    /// (message id, `Outbound` JSON).
    pub async fn sim_sent_log(&self, session: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT id, action FROM sim_sent WHERE session = ? ORDER BY rowid")
                .bind(session)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_store;

    #[tokio::test]
    async fn pair_and_unpair() {
        let (store, _dir) = temp_store().await;
        assert_eq!(store.sim_pairing("s").await.unwrap(), None);
        store.sim_pair("s", "s@sim").await.unwrap();
        store.sim_pair("t", "t@sim").await.unwrap();
        assert_eq!(store.sim_pairing("s").await.unwrap().as_deref(), Some("s@sim"));
        assert!(store.sim_unpair("s").await.unwrap());
        assert!(!store.sim_unpair("s").await.unwrap());
        assert_eq!(store.sim_pairing("s").await.unwrap(), None);
        assert_eq!(store.sim_pairing("t").await.unwrap().as_deref(), Some("t@sim"));
    }
}
