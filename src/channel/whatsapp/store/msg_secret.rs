//! `MsgSecretStore`: the 32-byte message secrets of one session's messages
//! (`wa_msg_secrets`), by (chat, sender, message id), with a retention
//! deadline and the parent message's time.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use async_trait::async_trait;
use sqlx::QueryBuilder;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{
    MsgSecretEntry, MsgSecretStore, merge_msg_secret_expiry, merge_msg_secret_message_ts,
};

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
        let stored = entries.len();
        let entries = merge_duplicates(entries);
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
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
                // `merge_msg_secret_message_ts` (the later time), with the
                // stored row; duplicates within the batch are merged already.
                q.push(
                    " ON CONFLICT (session, chat, sender, msg_id) DO UPDATE SET
                  secret = excluded.secret,
                  expires_at = CASE WHEN wa_msg_secrets.expires_at = 0 OR excluded.expires_at = 0 THEN 0
                                    WHEN excluded.expires_at > wa_msg_secrets.expires_at THEN excluded.expires_at
                                    ELSE wa_msg_secrets.expires_at END,
                  message_ts = CASE WHEN excluded.message_ts > wa_msg_secrets.message_ts THEN excluded.message_ts
                                    ELSE wa_msg_secrets.message_ts END",
                );
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)?;
        });
        // Every entry counts as stored, merged ones too (like the reference store).
        Ok(stored)
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
        let done = write_one!(
            self,
            "delete_expired_msg_secrets",
            sqlx::query("DELETE FROM wa_msg_secrets WHERE session = $1 AND expires_at <> 0 AND expires_at <= $2")
                .bind(&self.session)
                .bind(cutoff_timestamp)
        );
        Ok(count(done))
    }
}

/// `entries` with one entry per (chat, sender, msg_id), in key order (see
/// `by_key` in the parent module): later duplicates merged into the first by
/// wacore's rules (the later secret; `merge_msg_secret_expiry`,
/// `merge_msg_secret_message_ts`), as writing them one by one would.
/// PostgreSQL refuses a key twice in one upsert.
fn merge_duplicates(entries: Vec<MsgSecretEntry>) -> Vec<MsgSecretEntry> {
    let mut merged = BTreeMap::new();
    for entry in entries {
        let key = (entry.chat.clone(), entry.sender.clone(), entry.msg_id.clone());
        match merged.entry(key) {
            Entry::Occupied(mut kept) => {
                let kept: &mut MsgSecretEntry = kept.get_mut();
                kept.secret = entry.secret;
                kept.expires_at = merge_msg_secret_expiry(kept.expires_at, entry.expires_at);
                kept.message_ts = merge_msg_secret_message_ts(kept.message_ts, entry.message_ts);
            }
            Entry::Vacant(slot) => {
                slot.insert(entry);
            }
        }
    }
    merged.into_values().collect()
}
