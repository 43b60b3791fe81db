//! The sim network's server-side state: pairing (`sim_pairings`, what a
//! WhatsApp device store is to WhatsApp: a row means the account is
//! linked), the inbox of messages waiting for a session (`sim_inbox`,
//! filled by `purr sim send`, possibly from another process, read in
//! queue order from a cursor) and the log of what sessions sent
//! (`sim_sent`, with `[sim] keep_sent`). Pairing and unpairing are fenced
//! (see `fence.rs`): a host that may have lost the session's lease changes
//! neither.

use sqlx::{FromRow, QueryBuilder};

use super::{Store, fence, now_ms};

/// A message the sim network holds for a session until it is journaled.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SimInboxRow {
    /// Its place in the inbox: numbers grow in queue order and are never reused.
    pub seq: i64,
    pub id: String,
    pub session: String,
    pub sender: String,
    pub text: String,
}

impl Store {
    /// The linked address of a sim session, if it is linked.
    pub async fn sim_pairing(&self, session: &str) -> anyhow::Result<Option<String>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT jid FROM sim_pairings WHERE session = $1"
        )
        .bind(session)
        .fetch_optional(pool)
        .await)?)
    }

    /// Records that `session` is linked as `jid`.
    pub async fn sim_pair(&self, session: &str, jid: &str) -> anyhow::Result<()> {
        with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, session).await?;
            sqlx::query(
                "INSERT INTO sim_pairings (session, jid, paired_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (session) DO UPDATE SET jid = excluded.jid, paired_at_ms = excluded.paired_at_ms",
            )
            .bind(session)
            .bind(jid)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Unlinks `session`; returns whether it was linked.
    pub async fn sim_unpair(&self, session: &str) -> anyhow::Result<bool> {
        let done = with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, session).await?;
            let done = sqlx::query("DELETE FROM sim_pairings WHERE session = $1")
                .bind(session)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done.rows_affected()
        });
        Ok(done > 0)
    }

    /// Queues texts from `sender` for `session` on the sim network's
    /// server side, in order, in one transaction: `messages` are (message
    /// id, text) pairs.
    pub async fn sim_inbox_push(
        &self,
        session: &str,
        sender: &str,
        messages: &[(String, String)],
    ) -> anyhow::Result<()> {
        let now = now_ms();
        with_db!(&self.db, |pool, Db| {
            let mut tx = pool.begin().await?;
            if self.db.is_postgres() {
                // PostgreSQL numbers rows as they are inserted, not as they
                // commit: two pushes at once could commit a lower seq after
                // a reader's cursor passed it. Pushes take turns (SQLite's
                // writers always do).
                sqlx::query("LOCK TABLE sim_inbox IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            for chunk in statement_chunks(messages) {
                let mut query =
                    QueryBuilder::<Db>::new("INSERT INTO sim_inbox (id, session, sender, text, queued_at_ms) ");
                query.push_values(chunk, |mut row, (id, text)| {
                    row.push_bind(id)
                        .push_bind(session)
                        .push_bind(sender)
                        .push_bind(text)
                        .push_bind(now);
                });
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Inbox messages of `sessions`, at most `limit`, in queue order, starting
    /// from the one after `after` (a [`SimInboxRow::seq`]; 0 for the start).
    pub async fn sim_inbox(&self, after: i64, limit: i64, sessions: &[String]) -> anyhow::Result<Vec<SimInboxRow>> {
        if sessions.is_empty() {
            return Ok(Vec::new());
        }
        Ok(with_db!(&self.db, |pool, Db| {
            let mut query =
                QueryBuilder::<Db>::new("SELECT seq, id, session, sender, text FROM sim_inbox WHERE seq > ");
            query.push_bind(after).push(" AND session IN (");
            let mut list = query.separated(", ");
            for session in sessions {
                list.push_bind(session.as_str());
            }
            query.push(") ORDER BY seq LIMIT ").push_bind(limit);
            query.build_query_as().fetch_all(pool).await
        })?)
    }

    /// The newest `limit` entries of [`sim_sent_log`](Self::sim_sent_log), oldest first.
    pub async fn sim_sent_recent(&self, session: &str, limit: i64) -> anyhow::Result<Vec<(String, String)>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT id, action FROM (SELECT rowid, id, action FROM sim_sent WHERE session = $1 \
             ORDER BY rowid DESC LIMIT $2) ORDER BY rowid",
        )
        .bind(session)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// What `session` sent on the sim network (`[sim] keep_sent`), in order:
    /// (message id, `Outbound` JSON).
    pub async fn sim_sent_log(&self, session: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT id, action FROM sim_sent WHERE session = $1 ORDER BY rowid"
        )
        .bind(session)
        .fetch_all(pool)
        .await)?)
    }
}

/// Rows per multi-row statement, at most (SQLite limits bound parameters).
const ROWS_PER_STATEMENT: usize = 128;

/// Splits rows into multi-row statements of power-of-two sizes (128, 64,
/// ... 1). sqlx caches prepared statements by their SQL; with arbitrary
/// sizes every batch would prepare new statements of hundreds of
/// parameters, which costs more than running them.
fn statement_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = 1 << rows.len().min(ROWS_PER_STATEMENT).ilog2();
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
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

    #[tokio::test]
    async fn inbox_reads_from_a_cursor_in_queue_order_and_never_reuses_numbers() {
        let (store, _dir) = temp_store().await;
        let messages: Vec<(String, String)> = (0..300).map(|i| (format!("m{i}"), format!("text {i}"))).collect();
        store.sim_inbox_push("s", "u@sim", &messages).await.unwrap();
        let first = store.sim_inbox(0, 200, &["s".into()]).await.unwrap();
        let ids: Vec<&str> = first.iter().map(|row| row.id.as_str()).collect();
        assert_eq!(
            ids,
            messages[..200].iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>()
        );
        let rest = store
            .sim_inbox(first.last().unwrap().seq, 200, &["s".into()])
            .await
            .unwrap();
        assert_eq!(rest.len(), 100);
        assert_eq!(rest[0].id, "m200");

        // Deleting the newest rows does not let a new one take their numbers.
        let newest = rest.last().unwrap().seq;
        store
            .writer()
            .sim_ack(rest.iter().map(|row| row.seq).collect())
            .await
            .unwrap();
        store
            .sim_inbox_push("s", "u@sim", &[("late".into(), "late".into())])
            .await
            .unwrap();
        let late = store
            .sim_inbox(newest, 10, &["s".into(), "other".into()])
            .await
            .unwrap();
        assert_eq!(late.len(), 1);
        assert_eq!((late[0].id.as_str(), late[0].text.as_str()), ("late", "late"));
    }
}
