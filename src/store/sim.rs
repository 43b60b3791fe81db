//! The sim network's pairing state (`sim_pairings`): what a WhatsApp device
//! store is to WhatsApp. A row means the sim account is linked.

use super::{Store, now_ms};

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
