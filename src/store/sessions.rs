//! Sessions known to the database (`sessions`): config-file sessions are
//! registered at start-up, run-time sessions are created through the API.

use sqlx::FromRow;

use super::{Store, fence, now_ms};

/// One stored session.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SessionRow {
    pub name: String,
    pub channel: String,
    /// The linked account's address, if linked.
    pub jid: Option<String>,
    /// `config` or `api`.
    pub origin: String,
    pub created_at_ms: i64,
    /// The plugin chain of an `api` session, JSON (`[]` for config sessions).
    pub plugins: String,
    /// Whether an `api` session starts with the host.
    pub autostart: bool,
}

/// A query of [`SessionRow`]s: their columns, then `$rest`.
macro_rules! select_sessions {
    ($rest:literal) => {
        concat!(
            "SELECT name, channel, jid, origin, created_at_ms, plugins, autostart FROM sessions ",
            $rest
        )
    };
}

impl Store {
    /// Inserts the session, or updates its channel if it exists (keeping jid, origin, creation time).
    pub async fn session_register(&self, name: &str, channel: &str, origin: &str) -> anyhow::Result<()> {
        self.sessions_register(&[(name, channel)], origin).await
    }

    /// [`session_register`](Self::session_register) of many `(name,
    /// channel)` sessions at once, in one transaction (the config's
    /// sessions at start-up).
    pub async fn sessions_register(&self, sessions: &[(&str, &str)], origin: &str) -> anyhow::Result<()> {
        let now = now_ms();
        with_db!(&self.db, |pool| {
            let mut transaction = pool.begin().await?;
            for (name, channel) in sessions {
                sqlx::query(
                    "INSERT INTO sessions (name, channel, origin, created_at_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO UPDATE SET channel = excluded.channel",
                )
                .bind(name)
                .bind(channel)
                .bind(origin)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Stores a session created at run time (origin `api`) with its plugin
    /// chain (JSON); returns `false`, storing nothing, if the name is taken.
    pub async fn session_create(
        &self,
        name: &str,
        channel: &str,
        plugins: &str,
        autostart: bool,
    ) -> anyhow::Result<bool> {
        let done = with_db!(&self.db, |pool| {
            sqlx::query(
            "INSERT INTO sessions (name, channel, origin, created_at_ms, plugins, autostart) VALUES ($1, $2, 'api', $3, $4, $5)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(channel)
        .bind(now_ms())
        .bind(plugins)
        .bind(autostart)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        })?;
        Ok(done > 0)
    }

    /// Records (or clears) the session's linked account address; fenced
    /// (see `fence.rs`): refused when another host may run the session.
    pub async fn session_set_jid(&self, name: &str, jid: Option<&str>) -> anyhow::Result<()> {
        with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, name).await?;
            sqlx::query("UPDATE sessions SET jid = $1 WHERE name = $2")
                .bind(jid)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn session_get(&self, name: &str) -> anyhow::Result<Option<SessionRow>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(select_sessions!(
            "WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every stored session, by name.
    pub async fn sessions_all(&self) -> anyhow::Result<Vec<SessionRow>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(select_sessions!(
            "ORDER BY name"
        ))
        .fetch_all(pool)
        .await)?)
    }

    /// Forgets the session row; returns whether it existed.
    pub async fn session_delete(&self, name: &str) -> anyhow::Result<bool> {
        let done = with_db!(&self.db, |pool| sqlx::query("DELETE FROM sessions WHERE name = $1")
            .bind(name)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(done > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_store;

    #[tokio::test]
    async fn register_update_list_delete() {
        let (store, _dir) = temp_store().await;
        store.session_register("b", "sim", "config").await.unwrap();
        store.session_register("a", "sim", "api").await.unwrap();
        store.session_set_jid("a", Some("a@sim")).await.unwrap();
        store.session_register("a", "whatsapp", "config").await.unwrap();

        let a = store.session_get("a").await.unwrap().unwrap();
        assert_eq!(
            (a.channel.as_str(), a.jid.as_deref(), a.origin.as_str()),
            ("whatsapp", Some("a@sim"), "api")
        );
        let names: Vec<_> = store
            .sessions_all()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        let b = store.session_get("b").await.unwrap().unwrap();
        assert_eq!((b.plugins.as_str(), b.autostart), ("[]", true));

        assert!(!store.session_create("a", "sim", "[]", true).await.unwrap());
        assert!(store.session_create("c", "sim", r#"["echo"]"#, false).await.unwrap());
        let c = store.session_get("c").await.unwrap().unwrap();
        assert_eq!(
            (c.origin.as_str(), c.plugins.as_str(), c.autostart),
            ("api", r#"["echo"]"#, false)
        );

        store.session_set_jid("a", None).await.unwrap();
        assert_eq!(store.session_get("a").await.unwrap().unwrap().jid, None);
        assert!(store.session_delete("a").await.unwrap());
        assert!(!store.session_delete("a").await.unwrap());
        assert_eq!(store.session_get("a").await.unwrap(), None);
    }
}
