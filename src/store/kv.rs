//! Plugin key/value rows (`plugin_kv`), scoped by (plugin, session).

use super::Store;

impl Store {
    /// The value of `key` for `plugin` in `session`.
    pub async fn kv_get(&self, plugin: &str, session: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM plugin_kv WHERE plugin = ? AND session = ? AND key = ?")
                .bind(plugin)
                .bind(session)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores `value` under `key`, replacing an earlier value.
    pub async fn kv_set(&self, plugin: &str, session: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO plugin_kv (plugin, session, key, value) VALUES (?, ?, ?, ?)
             ON CONFLICT (plugin, session, key) DO UPDATE SET value = excluded.value",
        )
        .bind(plugin)
        .bind(session)
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes `key`; returns whether it existed.
    pub async fn kv_delete(&self, plugin: &str, session: &str, key: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM plugin_kv WHERE plugin = ? AND session = ? AND key = ?")
            .bind(plugin)
            .bind(session)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Bytes `plugin` stores in `session`: keys plus values.
    pub async fn kv_usage(&self, plugin: &str, session: &str) -> anyhow::Result<u64> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0)
             FROM plugin_kv WHERE plugin = ? AND session = ?",
        )
        .bind(plugin)
        .bind(session)
        .fetch_one(&self.pool)
        .await?;
        Ok(bytes as u64)
    }

    /// The keys starting with `prefix` (a plain prefix: no wildcards), ascending.
    pub async fn kv_list(&self, plugin: &str, session: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM plugin_kv
             WHERE plugin = ?1 AND session = ?2 AND substr(key, 1, length(?3)) = ?3
             ORDER BY key",
        )
        .bind(plugin)
        .bind(session)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_store;

    #[tokio::test]
    async fn round_trip_and_delete() {
        let (store, _dir) = temp_store().await;
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap(), None);
        store.kv_set("p", "s", "k", b"one").await.unwrap();
        store.kv_set("p", "s", "k", b"two").await.unwrap();
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap().as_deref(), Some(&b"two"[..]));
        assert!(store.kv_delete("p", "s", "k").await.unwrap());
        assert!(!store.kv_delete("p", "s", "k").await.unwrap());
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn scopes_do_not_leak() {
        let (store, _dir) = temp_store().await;
        store.kv_set("p", "s1", "k", b"a").await.unwrap();
        store.kv_set("q", "s1", "k", b"b").await.unwrap();
        store.kv_set("p", "s2", "k", b"c").await.unwrap();
        assert_eq!(store.kv_get("p", "s1", "k").await.unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(store.kv_get("q", "s1", "k").await.unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(store.kv_get("p", "s2", "k").await.unwrap().as_deref(), Some(&b"c"[..]));
        assert_eq!(store.kv_get("q", "s2", "k").await.unwrap(), None);
        assert_eq!(store.kv_list("p", "s1", "").await.unwrap(), ["k"]);
    }

    #[tokio::test]
    async fn prefix_listing_has_no_wildcards() {
        let (store, _dir) = temp_store().await;
        for key in ["a%b", "a_c", "abc", "b", "a%"] {
            store.kv_set("p", "s", key, b"").await.unwrap();
        }
        assert_eq!(store.kv_list("p", "s", "a%").await.unwrap(), ["a%", "a%b"]);
        assert_eq!(store.kv_list("p", "s", "a_").await.unwrap(), ["a_c"]);
        assert_eq!(
            store.kv_list("p", "s", "").await.unwrap(),
            ["a%", "a%b", "a_c", "abc", "b"]
        );
    }
}
