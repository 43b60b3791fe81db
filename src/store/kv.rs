//! Plugin key/value rows (`plugin_kv`), scoped by (plugin, session).
//!
//! Reads only: writes commit with their event's completion, through the
//! [`Writer`](super::Writer).

use super::Store;

impl Store {
    /// The value of `key` for `plugin` in `session`.
    pub async fn kv_get(&self, plugin: &str, session: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT value FROM plugin_kv WHERE plugin = $1 AND session = $2 AND key = $3"
        )
        .bind(plugin)
        .bind(session)
        .bind(key)
        .fetch_optional(pool)
        .await)?)
    }

    /// Bytes `plugin` stores in `session`: keys plus values.
    pub async fn kv_usage(&self, plugin: &str, session: &str) -> anyhow::Result<u64> {
        let bytes: i64 = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT coalesce(sum(octet_length(key) + octet_length(value)), 0)
             FROM plugin_kv WHERE plugin = $1 AND session = $2",
        )
        .bind(plugin)
        .bind(session)
        .fetch_one(pool)
        .await)?;
        Ok(bytes as u64)
    }

    /// The keys starting with `prefix` (a plain prefix: no wildcards), ascending.
    pub async fn kv_list(&self, plugin: &str, session: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT key FROM plugin_kv
             WHERE plugin = $1 AND session = $2 AND substr(key, 1, length($3)) = $3
             ORDER BY key",
        )
        .bind(plugin)
        .bind(session)
        .bind(prefix)
        .fetch_all(pool)
        .await)?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{temp_store, write_kv};

    #[tokio::test]
    async fn round_trip_and_delete() {
        let (store, _dir) = temp_store().await;
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap(), None);
        write_kv(&store, "s", &[("p", "k", Some(b"one"))]).await;
        write_kv(&store, "s", &[("p", "k", Some(b"two"))]).await;
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap().as_deref(), Some(&b"two"[..]));
        write_kv(&store, "s", &[("p", "k", None)]).await;
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap(), None);
        // Deleting a missing key is no error.
        write_kv(&store, "s", &[("p", "k", None)]).await;
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_last_write_of_a_batch_wins() {
        let (store, _dir) = temp_store().await;
        write_kv(&store, "s", &[("p", "gone", Some(b"x")), ("p", "gone", None)]).await;
        write_kv(&store, "s", &[("p", "back", None), ("p", "back", Some(b"y"))]).await;
        assert_eq!(store.kv_get("p", "s", "gone").await.unwrap(), None);
        assert_eq!(
            store.kv_get("p", "s", "back").await.unwrap().as_deref(),
            Some(&b"y"[..])
        );
        assert_eq!(store.kv_usage("p", "s").await.unwrap(), 5);
    }

    #[tokio::test]
    async fn scopes_do_not_leak() {
        let (store, _dir) = temp_store().await;
        write_kv(&store, "s1", &[("p", "k", Some(b"a")), ("q", "k", Some(b"b"))]).await;
        write_kv(&store, "s2", &[("p", "k", Some(b"c"))]).await;
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
            write_kv(&store, "s", &[("p", key, Some(b""))]).await;
        }
        assert_eq!(store.kv_list("p", "s", "a%").await.unwrap(), ["a%", "a%b"]);
        assert_eq!(store.kv_list("p", "s", "a_").await.unwrap(), ["a_c"]);
        assert_eq!(
            store.kv_list("p", "s", "").await.unwrap(),
            ["a%", "a%b", "a_c", "abc", "b"]
        );
    }
}
