//! `ProtocolStore`: WhatsApp Web protocol state of one session — which group
//! devices hold our sender key (`wa_sender_key_devices`), LID <-> phone
//! mappings (`wa_lid_mappings`), retry base keys (`wa_base_keys`), device
//! lists (`wa_device_lists`), group metadata (`wa_group_metadata`),
//! trusted-contact tokens (`wa_tc_tokens`), sent-message payloads for retries
//! (`wa_sent_messages`) and the inbound durability buffer
//! (`wa_pending_inbound`).

use async_trait::async_trait;
use sqlx::QueryBuilder;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry,
};
use whatsapp_rust::wacore::time::now_secs;

use crate::with_db;

use super::{Ctx, WhatsappStore, by_key, last_wins, rows_per_statement};

/// A `wa_lid_mappings` row: lid, phone_number, created_at, updated_at, learning_source.
type LidRow = (String, String, i64, i64, String);

fn lid_entry((lid, phone_number, created_at, updated_at, learning_source): LidRow) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid,
        phone_number,
        created_at,
        updated_at,
        learning_source,
    }
}

impl WhatsappStore {
    /// Upserts `rows` of pending inbound messages received `now`.
    async fn put_pending_inbound(&self, op: &'static str, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = now_secs();
        let rows = by_key(rows, |row| (row.chat, row.sender, row.id));
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(op, pool).await?;
            for chunk in rows.chunks(rows_per_statement(6)) {
                let mut q = QueryBuilder::<Db>::new(
                    "INSERT INTO wa_pending_inbound (session, chat, sender, id, message, created_at) ",
                );
                q.push_values(chunk, |mut b, row| {
                    b.push_bind(&self.session)
                        .push_bind(row.chat)
                        .push_bind(row.sender)
                        .push_bind(row.id)
                        .push_bind(row.message)
                        .push_bind(now);
                });
                q.push(
                    " ON CONFLICT (session, chat, sender, id) DO UPDATE SET
                  message = excluded.message, created_at = excluded.created_at",
                );
                q.build().execute(&mut *tx).await.ctx(self, op)?;
            }
            tx.commit().await.ctx(self, op)
        })
    }

    /// Deletes the pending inbound messages of `keys`.
    async fn remove_pending_inbound(&self, op: &'static str, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(op, pool).await?;
            for chunk in keys.chunks(rows_per_statement(3)) {
                let mut q = QueryBuilder::<Db>::new("DELETE FROM wa_pending_inbound WHERE session = ");
                q.push_bind(&self.session).push(" AND (chat, sender, id) IN (VALUES ");
                let mut list = q.separated(", ");
                for key in chunk {
                    list.push("(")
                        .push_bind_unseparated(key.chat)
                        .push_unseparated(", ")
                        .push_bind_unseparated(key.sender)
                        .push_unseparated(", ")
                        .push_bind_unseparated(key.id)
                        .push_unseparated(")");
                }
                q.push(")");
                q.build().execute(&mut *tx).await.ctx(self, op)?;
            }
            tx.commit().await.ctx(self, op)
        })
    }

    /// Upserts device-list records in one transaction.
    async fn put_device_lists(&self, op: &'static str, records: &[DeviceListRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = by_key(records, |r| &r.user)
            .into_iter()
            .map(|r| Ok((&r.user, serde_json::to_vec(r).map_err(|e| self.serde_error(op, e))?)))
            .collect::<Result<Vec<_>>>()?;
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(op, pool).await?;
            for chunk in rows.chunks(rows_per_statement(3)) {
                // "user" quoted: PostgreSQL reads a bare `user` as CURRENT_USER.
                let mut q = QueryBuilder::<Db>::new("INSERT INTO wa_device_lists (session, \"user\", record) ");
                q.push_values(chunk, |mut b, (user, record)| {
                    b.push_bind(&self.session).push_bind(*user).push_bind(&record[..]);
                });
                q.push(" ON CONFLICT (session, \"user\") DO UPDATE SET record = excluded.record");
                q.build().execute(&mut *tx).await.ctx(self, op)?;
            }
            tx.commit().await.ctx(self, op)
        })
    }
}

#[async_trait]
impl ProtocolStore for WhatsappStore {
    // --- Sender-key devices ---

    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT device_jid, has_key FROM wa_sender_key_devices
             WHERE session = $1 AND group_jid = $2 ORDER BY device_jid",
        )
        .bind(&self.session)
        .bind(group_jid)
        .fetch_all(pool)
        .await)
        .ctx(self, "get_sender_key_devices")
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        const OP: &str = "set_sender_key_status";
        if entries.is_empty() {
            return Ok(());
        }
        let entries = by_key(entries, |(device_jid, _)| *device_jid);
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in entries.chunks(rows_per_statement(4)) {
                let mut q = QueryBuilder::<Db>::new(
                    "INSERT INTO wa_sender_key_devices (session, group_jid, device_jid, has_key) ",
                );
                q.push_values(chunk, |mut b, (device_jid, has_key)| {
                    b.push_bind(&self.session)
                        .push_bind(group_jid)
                        .push_bind(*device_jid)
                        .push_bind(*has_key);
                });
                q.push(" ON CONFLICT (session, group_jid, device_jid) DO UPDATE SET has_key = excluded.has_key");
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        write_one!(
            self,
            "clear_sender_key_devices",
            sqlx::query("DELETE FROM wa_sender_key_devices WHERE session = $1 AND group_jid = $2")
                .bind(&self.session)
                .bind(group_jid)
        );
        Ok(())
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        const OP: &str = "delete_sender_key_device_rows";
        if device_jids.is_empty() {
            return Ok(());
        }
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in device_jids.chunks(rows_per_statement(1)) {
                let mut q = QueryBuilder::<Db>::new("DELETE FROM wa_sender_key_devices WHERE session = ");
                q.push_bind(&self.session).push(" AND device_jid IN (");
                let mut list = q.separated(", ");
                for jid in chunk {
                    list.push_bind(*jid);
                }
                q.push(")");
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        write_one!(
            self,
            "clear_all_sender_key_devices",
            sqlx::query("DELETE FROM wa_sender_key_devices WHERE session = $1").bind(&self.session)
        );
        Ok(())
    }

    // --- LID <-> phone number ---

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let row: Option<LidRow> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT lid, phone_number, created_at, updated_at, learning_source
             FROM wa_lid_mappings WHERE session = $1 AND lid = $2",
        )
        .bind(&self.session)
        .bind(lid)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_lid_mapping")?;
        Ok(row.map(lid_entry))
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let row: Option<LidRow> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT lid, phone_number, created_at, updated_at, learning_source
             FROM wa_lid_mappings WHERE session = $1 AND phone_number = $2
             ORDER BY updated_at DESC, rowid DESC LIMIT 1",
        )
        .bind(&self.session)
        .bind(phone)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_pn_mapping")?;
        Ok(row.map(lid_entry))
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        const OP: &str = "put_lid_mappings";
        if entries.is_empty() {
            return Ok(());
        }
        // A written row gets a fresh, highest rowid, which makes the latest
        // write win `get_pn_mapping`'s ties. SQLite: REPLACE (delete + insert)
        // rather than an upsert, which would keep the rowid. PostgreSQL's
        // `rowid` is an ordinary BIGSERIAL column: the upsert sets it to the
        // proposed row's fresh `nextval` (`excluded.rowid`). Rows get their
        // rowids in batch order, so the batch is deduplicated keeping each
        // LID's last entry at its last position, not sorted by key like the
        // other batches (two concurrent batches sharing LIDs in opposite
        // orders can deadlock on PostgreSQL: one of them fails).
        let (insert, upsert) = if self.db.is_postgres() {
            (
                "INSERT INTO wa_lid_mappings",
                " ON CONFLICT (session, lid) DO UPDATE SET phone_number = excluded.phone_number,
                  created_at = excluded.created_at, updated_at = excluded.updated_at,
                  learning_source = excluded.learning_source, rowid = excluded.rowid",
            )
        } else {
            ("INSERT OR REPLACE INTO wa_lid_mappings", "")
        };
        let entries = last_wins(entries, |e| &e.lid);
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in entries.chunks(rows_per_statement(6)) {
                let mut q = QueryBuilder::<Db>::new(insert);
                q.push(" (session, lid, phone_number, created_at, updated_at, learning_source) ");
                q.push_values(chunk, |mut b, e| {
                    b.push_bind(&self.session)
                        .push_bind(&e.lid)
                        .push_bind(&e.phone_number)
                        .push_bind(e.created_at)
                        .push_bind(e.updated_at)
                        .push_bind(&e.learning_source);
                });
                q.push(upsert);
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows: Vec<LidRow> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT lid, phone_number, created_at, updated_at, learning_source
             FROM wa_lid_mappings WHERE session = $1 ORDER BY lid",
        )
        .bind(&self.session)
        .fetch_all(pool)
        .await)
        .ctx(self, "get_all_lid_mappings")?;
        Ok(rows.into_iter().map(lid_entry).collect())
    }

    // --- Base keys ---

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        write_one!(
            self,
            "save_base_key",
            sqlx::query(
                "INSERT INTO wa_base_keys (session, address, message_id, base_key) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (session, address, message_id) DO UPDATE SET base_key = excluded.base_key",
            )
            .bind(&self.session)
            .bind(address)
            .bind(message_id)
            .bind(base_key)
        );
        Ok(())
    }

    async fn has_same_base_key(&self, address: &str, message_id: &str, current_base_key: &[u8]) -> Result<bool> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_base_keys
                            WHERE session = $1 AND address = $2 AND message_id = $3 AND base_key = $4)",
        )
        .bind(&self.session)
        .bind(address)
        .bind(message_id)
        .bind(current_base_key)
        .fetch_one(pool)
        .await)
        .ctx(self, "has_same_base_key")
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        write_one!(
            self,
            "delete_base_key",
            sqlx::query("DELETE FROM wa_base_keys WHERE session = $1 AND address = $2 AND message_id = $3")
                .bind(&self.session)
                .bind(address)
                .bind(message_id)
        );
        Ok(())
    }

    // --- Device lists ---

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.put_device_lists("update_device_list", std::slice::from_ref(&record))
            .await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        self.put_device_lists("update_device_lists", &records).await
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        const OP: &str = "get_devices";
        let record: Option<Vec<u8>> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT record FROM wa_device_lists WHERE session = $1 AND \"user\" = $2"
        )
        .bind(&self.session)
        .bind(user)
        .fetch_optional(pool)
        .await)
        .ctx(self, OP)?;
        record
            .map(|r| serde_json::from_slice(&r).map_err(|e| self.serde_error(OP, e)))
            .transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        write_one!(
            self,
            "delete_devices",
            sqlx::query("DELETE FROM wa_device_lists WHERE session = $1 AND \"user\" = $2")
                .bind(&self.session)
                .bind(user)
        );
        Ok(())
    }

    // --- Group metadata (the default keeps nothing; a persistent store keeps it) ---

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT metadata FROM wa_group_metadata WHERE session = $1 AND group_jid = $2"
        )
        .bind(&self.session)
        .bind(group_jid)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_group_metadata")
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        write_one!(
            self,
            "put_group_metadata",
            sqlx::query(
                "INSERT INTO wa_group_metadata (session, group_jid, metadata) VALUES ($1, $2, $3)
                 ON CONFLICT (session, group_jid) DO UPDATE SET metadata = excluded.metadata",
            )
            .bind(&self.session)
            .bind(group_jid)
            .bind(blob)
        );
        Ok(())
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        write_one!(
            self,
            "delete_group_metadata",
            sqlx::query("DELETE FROM wa_group_metadata WHERE session = $1 AND group_jid = $2")
                .bind(&self.session)
                .bind(group_jid)
        );
        Ok(())
    }

    // --- Trusted-contact tokens ---

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let row: Option<(Vec<u8>, i64, Option<i64>)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT token, token_timestamp, sender_timestamp FROM wa_tc_tokens WHERE session = $1 AND jid = $2",
        )
        .bind(&self.session)
        .bind(jid)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_tc_token")?;
        Ok(row.map(|(token, token_timestamp, sender_timestamp)| TcTokenEntry {
            token,
            token_timestamp,
            sender_timestamp,
        }))
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        write_one!(
            self,
            "put_tc_token",
            sqlx::query(
                "INSERT INTO wa_tc_tokens (session, jid, token, token_timestamp, sender_timestamp)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (session, jid) DO UPDATE SET token = excluded.token,
                     token_timestamp = excluded.token_timestamp, sender_timestamp = excluded.sender_timestamp",
            )
            .bind(&self.session)
            .bind(jid)
            .bind(&entry.token)
            .bind(entry.token_timestamp)
            .bind(entry.sender_timestamp)
        );
        Ok(())
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        write_one!(
            self,
            "delete_tc_token",
            sqlx::query("DELETE FROM wa_tc_tokens WHERE session = $1 AND jid = $2")
                .bind(&self.session)
                .bind(jid)
        );
        Ok(())
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT jid FROM wa_tc_tokens WHERE session = $1 ORDER BY jid"
        )
        .bind(&self.session)
        .fetch_all(pool)
        .await)
        .ctx(self, "get_all_tc_token_jids")
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        // A row goes only when both its received token and its sender bucket
        // are dead (expired or absent).
        let done = write_one!(
            self,
            "delete_expired_tc_tokens",
            sqlx::query(
                "DELETE FROM wa_tc_tokens WHERE session = $1
                 AND NOT (length(token) > 0 AND token_timestamp >= $2)
                 AND NOT (sender_timestamp IS NOT NULL AND sender_timestamp >= $3)",
            )
            .bind(&self.session)
            .bind(token_cutoff)
            .bind(sender_cutoff)
        );
        Ok(count(done))
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        // One upsert: a byte-less placeholder when absent, else the sender
        // bucket moves forward only (the token is left alone).
        const NO_TOKEN: &[u8] = &[];
        write_one!(
            self,
            "touch_tc_token_sender_timestamp",
            sqlx::query(
                "INSERT INTO wa_tc_tokens (session, jid, token, token_timestamp, sender_timestamp)
                 VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (session, jid) DO UPDATE SET
                     sender_timestamp = CASE
                         WHEN wa_tc_tokens.sender_timestamp IS NULL
                           OR excluded.sender_timestamp > wa_tc_tokens.sender_timestamp
                         THEN excluded.sender_timestamp
                         ELSE wa_tc_tokens.sender_timestamp END",
            )
            .bind(&self.session)
            .bind(jid)
            .bind(NO_TOKEN)
            .bind(sender_timestamp)
        );
        Ok(())
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        // One upsert, newer-wins: an existing real token is replaced only by
        // one at least as new; a placeholder by any. The sender bucket stays.
        write_one!(
            self,
            "store_received_tc_token",
            sqlx::query(
                "INSERT INTO wa_tc_tokens (session, jid, token, token_timestamp, sender_timestamp)
                 VALUES ($1, $2, $3, $4, NULL)
                 ON CONFLICT (session, jid) DO UPDATE SET
                     token = excluded.token, token_timestamp = excluded.token_timestamp
                 WHERE length(wa_tc_tokens.token) = 0 OR excluded.token_timestamp >= wa_tc_tokens.token_timestamp",
            )
            .bind(&self.session)
            .bind(jid)
            .bind(token)
            .bind(token_timestamp)
        );
        Ok(())
    }

    // --- Sent messages (for retry receipts) ---

    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        // No count cap like the reference store's: that one bounds memory;
        // on disk the keepalive's age sweep is the bound.
        write_one!(
            self,
            "store_sent_message",
            sqlx::query(
                "INSERT INTO wa_sent_messages (session, chat_jid, message_id, payload, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (session, chat_jid, message_id) DO UPDATE SET
                     payload = excluded.payload, created_at = excluded.created_at",
            )
            .bind(&self.session)
            .bind(chat_jid)
            .bind(message_id)
            .bind(payload)
            .bind(now_secs())
        );
        Ok(())
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        const OP: &str = "take_sent_message";
        with_db!(&self.db, |pool| {
            let mut tx = self.begin(OP, pool).await?;
            let payload = sqlx::query_scalar(
                "DELETE FROM wa_sent_messages WHERE session = $1 AND chat_jid = $2 AND message_id = $3 \
                 RETURNING payload",
            )
            .bind(&self.session)
            .bind(chat_jid)
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx(self, OP)?;
            tx.commit().await.ctx(self, OP)?;
            Ok(payload)
        })
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        let done = write_one!(
            self,
            "delete_expired_sent_messages",
            sqlx::query("DELETE FROM wa_sent_messages WHERE session = $1 AND created_at < $2")
                .bind(&self.session)
                .bind(cutoff_timestamp)
        );
        Ok(count(done))
    }

    // --- Pending inbound (the durability hook's buffer; the defaults refuse) ---

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        let row = PendingInboundRow {
            chat,
            sender,
            id,
            message,
        };
        self.put_pending_inbound("store_pending_inbound", &[row]).await
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT message FROM wa_pending_inbound WHERE session = $1 AND chat = $2 AND sender = $3 AND id = $4",
        )
        .bind(&self.session)
        .bind(chat)
        .bind(sender)
        .bind(id)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_pending_inbound")
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        let key = PendingInboundKey { chat, sender, id };
        self.remove_pending_inbound("delete_pending_inbound", &[key]).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        let done = write_one!(
            self,
            "delete_expired_pending_inbound",
            sqlx::query("DELETE FROM wa_pending_inbound WHERE session = $1 AND created_at < $2")
                .bind(&self.session)
                .bind(cutoff_timestamp)
        );
        Ok(count(done))
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        self.put_pending_inbound("store_pending_inbound_batch", rows).await
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        self.remove_pending_inbound("delete_pending_inbound_batch", keys).await
    }
}

/// A deleted-row count as the traits return it (saturating; never near u32::MAX in practice).
pub(super) fn count(rows: u64) -> u32 {
    u32::try_from(rows).unwrap_or(u32::MAX)
}
