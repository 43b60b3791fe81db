//! `SignalStore`: the Signal protocol's state of one session — remote
//! identity keys (`wa_identities`), sessions (`wa_sessions`), one-time
//! prekeys (`wa_prekeys`), signed prekeys (`wa_signed_prekeys`) and group
//! sender keys (`wa_sender_keys`).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::{AssertSqlSafe, QueryBuilder};
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::SignalStore;

use crate::with_db;

use super::{Ctx, WhatsappStore, by_key, rows_per_statement};

impl WhatsappStore {
    /// Upserts `(address, blob)` rows into `table` (columns `address` and
    /// `value_column`) in one transaction of multi-row statements.
    async fn put_address_blobs(
        &self,
        op: &'static str,
        table: &str,
        value_column: &str,
        rows: &[(&str, &[u8])],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = by_key(rows, |(address, _)| *address);
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(op, pool).await?;
            for chunk in rows.chunks(rows_per_statement(3)) {
                let mut q = QueryBuilder::<Db>::new(format!("INSERT INTO {table} (session, address, {value_column}) "));
                q.push_values(chunk, |mut row, (address, value)| {
                    row.push_bind(&self.session).push_bind(*address).push_bind(*value);
                });
                q.push(format!(
                    " ON CONFLICT (session, address) DO UPDATE SET {value_column} = excluded.{value_column}"
                ));
                q.build().execute(&mut *tx).await.ctx(self, op)?;
            }
            tx.commit().await.ctx(self, op)
        })
    }

    /// The blob stored under `address` in `table`.
    async fn get_address_blob(
        &self,
        op: &'static str,
        table: &str,
        value_column: &str,
        address: &str,
    ) -> Result<Option<Vec<u8>>> {
        // `table` and `value_column` are constants of this file.
        let sql = format!("SELECT {value_column} FROM {table} WHERE session = $1 AND address = $2");
        with_db!(&self.db, |pool| sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(&self.session)
            .bind(address)
            .fetch_optional(pool)
            .await)
        .ctx(self, op)
    }

    /// Deletes the row of `address` in `table`.
    async fn delete_address(&self, op: &'static str, table: &str, address: &str) -> Result<()> {
        // `table` is a constant of this file.
        write_one!(
            self,
            op,
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE session = $1 AND address = $2"
            )))
            .bind(&self.session)
            .bind(address)
        );
        Ok(())
    }
}

#[async_trait]
impl SignalStore for WhatsappStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.put_address_blobs("put_identity", "wa_identities", "key", &[(address, &key)])
            .await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let rows: Vec<(&str, &[u8])> = identities.iter().map(|(a, k)| (&**a, &k[..])).collect();
        self.put_address_blobs("put_identities_batch", "wa_identities", "key", &rows)
            .await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        const OP: &str = "load_identity";
        match self.get_address_blob(OP, "wa_identities", "key", address).await? {
            Some(key) => Ok(Some(self.to_array32(OP, key)?)),
            None => Ok(None),
        }
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.delete_address("delete_identity", "wa_identities", address).await
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        Ok(self
            .get_address_blob("get_session", "wa_sessions", "record", address)
            .await?
            .map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.put_address_blobs("put_session", "wa_sessions", "record", &[(address, session)])
            .await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows: Vec<(&str, &[u8])> = sessions.iter().map(|(a, r)| (&**a, &r[..])).collect();
        self.put_address_blobs("put_sessions_batch", "wa_sessions", "record", &rows)
            .await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.delete_address("delete_session", "wa_sessions", address).await
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_sessions WHERE session = $1 AND address = $2)"
        )
        .bind(&self.session)
        .bind(address)
        .fetch_one(pool)
        .await)
        .ctx(self, "has_session")
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        // Addresses of `user` are `user@server` and `user:device@server`:
        // the ranges ['user@', 'userA') and ['user:', 'user;') of the
        // primary key ('@' + 1 = 'A', ':' + 1 = ';'). Byte order: SQLite's
        // BINARY collation; on PostgreSQL the column's `COLLATE "C"`, which
        // the comparisons take (a column's collation wins over the
        // parameter's default one).
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM wa_sessions WHERE session = $1
                            AND ((address >= $2 || '@' AND address < $2 || 'A')
                              OR (address >= $2 || ':' AND address < $2 || ';')))
                 OR EXISTS (SELECT 1 FROM wa_identities WHERE session = $1
                            AND ((address >= $2 || '@' AND address < $2 || 'A')
                              OR (address >= $2 || ':' AND address < $2 || ';')))",
        )
        .bind(&self.session)
        .bind(user)
        .fetch_one(pool)
        .await)
        .ctx(self, "has_signal_state_for_user")
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.store_prekeys_batch(&[(id, Bytes::copy_from_slice(record))], uploaded)
            .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        const OP: &str = "store_prekeys_batch";
        if keys.is_empty() {
            return Ok(());
        }
        let keys = by_key(keys, |(id, _)| *id);
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in keys.chunks(rows_per_statement(4)) {
                let mut q = QueryBuilder::<Db>::new("INSERT INTO wa_prekeys (session, id, record, uploaded) ");
                q.push_values(chunk, |mut row, (id, record)| {
                    row.push_bind(&self.session)
                        .push_bind(i64::from(*id))
                        .push_bind(&record[..])
                        .push_bind(uploaded);
                });
                q.push(
                    " ON CONFLICT (session, id) DO UPDATE SET record = excluded.record, uploaded = excluded.uploaded",
                );
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        let record: Option<Vec<u8>> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT record FROM wa_prekeys WHERE session = $1 AND id = $2"
        )
        .bind(&self.session)
        .bind(i64::from(id))
        .fetch_optional(pool)
        .await)
        .ctx(self, "load_prekey")?;
        Ok(record.map(Bytes::from))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        const OP: &str = "load_prekeys_batch";
        let mut found = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(rows_per_statement(1)) {
            let rows: Vec<(i64, Vec<u8>)> = with_db!(&self.db, |pool, Db| {
                let mut q = QueryBuilder::<Db>::new("SELECT id, record FROM wa_prekeys WHERE session = ");
                q.push_bind(&self.session).push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(i64::from(*id));
                }
                q.push(")");
                q.build_query_as().fetch_all(pool).await.ctx(self, OP)?
            });
            for (id, record) in rows {
                found.insert(self.to_u32(OP, id)?, Bytes::from(record));
            }
        }
        // In the order asked for, like the reference store (which loops over `ids`).
        Ok(ids
            .iter()
            .filter_map(|id| found.get(id).map(|record| (*id, record.clone())))
            .collect())
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        const OP: &str = "mark_prekeys_uploaded";
        if ids.is_empty() {
            return Ok(());
        }
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in ids.chunks(rows_per_statement(1)) {
                let mut q = QueryBuilder::<Db>::new("UPDATE wa_prekeys SET uploaded = TRUE WHERE session = ");
                q.push_bind(&self.session).push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(i64::from(*id));
                }
                q.push(")");
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        write_one!(
            self,
            "remove_prekey",
            sqlx::query("DELETE FROM wa_prekeys WHERE session = $1 AND id = $2")
                .bind(&self.session)
                .bind(i64::from(id))
        );
        Ok(())
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        const OP: &str = "get_max_prekey_id";
        let max: i64 = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT coalesce(max(id), 0) FROM wa_prekeys WHERE session = $1"
        )
        .bind(&self.session)
        .fetch_one(pool)
        .await)
        .ctx(self, OP)?;
        self.to_u32(OP, max)
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        write_one!(
            self,
            "store_signed_prekey",
            sqlx::query(
                "INSERT INTO wa_signed_prekeys (session, id, record) VALUES ($1, $2, $3)
                 ON CONFLICT (session, id) DO UPDATE SET record = excluded.record",
            )
            .bind(&self.session)
            .bind(i64::from(id))
            .bind(record)
        );
        Ok(())
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT record FROM wa_signed_prekeys WHERE session = $1 AND id = $2"
        )
        .bind(&self.session)
        .bind(i64::from(id))
        .fetch_optional(pool)
        .await)
        .ctx(self, "load_signed_prekey")
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        const OP: &str = "load_all_signed_prekeys";
        let rows: Vec<(i64, Vec<u8>)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT id, record FROM wa_signed_prekeys WHERE session = $1 ORDER BY id"
        )
        .bind(&self.session)
        .fetch_all(pool)
        .await)
        .ctx(self, OP)?;
        rows.into_iter()
            .map(|(id, record)| Ok((self.to_u32(OP, id)?, record)))
            .collect()
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        write_one!(
            self,
            "remove_signed_prekey",
            sqlx::query("DELETE FROM wa_signed_prekeys WHERE session = $1 AND id = $2")
                .bind(&self.session)
                .bind(i64::from(id))
        );
        Ok(())
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.put_address_blobs("put_sender_key", "wa_sender_keys", "record", &[(address, record)])
            .await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows: Vec<(&str, &[u8])> = sender_keys.iter().map(|(a, r)| (&**a, &r[..])).collect();
        self.put_address_blobs("put_sender_keys_batch", "wa_sender_keys", "record", &rows)
            .await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.get_address_blob("get_sender_key", "wa_sender_keys", "record", address)
            .await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.delete_address("delete_sender_key", "wa_sender_keys", address)
            .await
    }
}
