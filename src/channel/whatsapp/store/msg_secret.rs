//! `MsgSecretStore`: the 32-byte message secrets of one session's messages
//! (`wa_msg_secrets`), by (chat, sender, message id), with a retention
//! deadline and the parent message's time.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{MsgSecretEntry, MsgSecretStore};

use super::protocol::count;
use crate::with_db;

use super::{Ctx, WhatsappStore, rows_per_statement};

#[async_trait]
impl MsgSecretStore for WhatsappStore {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        const OP: &str = "put_msg_secrets";
        if entries.is_empty() {
            return Ok(0);
        }
        with_db!(&self.db, |pool, Db| {
            let mut tx = pool.begin().await.ctx(self, OP)?;
            for chunk in entries.chunks(rows_per_statement(7)) {
                let mut q = QueryBuilder::<Db>::new(
                    "INSERT INTO wa_msg_secrets (session, chat, sender, msg_id, secret, expires_at, message_ts) ",
                );
                q.push_values(chunk, |mut b, e| {
                    b.push_bind(&self.session)
                        .push_bind(&*e.chat)
                        .push_bind(&*e.sender)
                        .push_bind(&*e.msg_id)
                        .push_bind(&e.secret[..])
                        .push_bind(e.expires_at)
                        .push_bind(e.message_ts);
                });
                // The merge rules of wacore's `merge_msg_secret_expiry` (0 =
                // never wins, else the later deadline) and
                // `merge_msg_secret_message_ts` (the later time). Rows of one
                // statement apply in order, so duplicates within a batch merge too.
                q.push(
                    " ON CONFLICT (session, chat, sender, msg_id) DO UPDATE SET
                  secret = excluded.secret,
                  expires_at = CASE WHEN wa_msg_secrets.expires_at = 0 OR excluded.expires_at = 0 THEN 0
                                    ELSE max(wa_msg_secrets.expires_at, excluded.expires_at) END,
                  message_ts = max(wa_msg_secrets.message_ts, excluded.message_ts)",
                );
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)?;
        });
        Ok(entries.len())
    }

    async fn get_msg_secret(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<(Vec<u8>, i64)>> {
        with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT secret, message_ts FROM wa_msg_secrets
             WHERE session = $1 AND chat = $2 AND sender = $3 AND msg_id = $4",
        )
        .bind(&self.session)
        .bind(chat)
        .bind(sender)
        .bind(msg_id)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_msg_secret_with_ts")
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        let done = with_db!(&self.db, |pool| sqlx::query(
            "DELETE FROM wa_msg_secrets WHERE session = $1 AND expires_at <> 0 AND expires_at <= $2"
        )
        .bind(&self.session)
        .bind(cutoff_timestamp)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .ctx(self, "delete_expired_msg_secrets")?;
        Ok(count(done))
    }
}
