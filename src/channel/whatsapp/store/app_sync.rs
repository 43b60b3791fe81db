//! `AppSyncStore`: app-state synchronization of one session — the sync keys
//! (`wa_app_state_keys`), each collection's version and ltHash
//! (`wa_app_state_versions`, a serde_json `HashState`) and the mutation MACs
//! (`wa_app_state_mutation_macs`).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::QueryBuilder;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::error::Result;
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use crate::with_db;

use super::{Ctx, WhatsappStore, by_key, rows_per_statement};

#[async_trait]
impl AppSyncStore for WhatsappStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = with_db!(&self.db, |pool| sqlx::query_as(
            "SELECT key_data, fingerprint, timestamp FROM wa_app_state_keys WHERE session = $1 AND key_id = $2",
        )
        .bind(&self.session)
        .bind(key_id)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_sync_key")?;
        Ok(row.map(|(key_data, fingerprint, timestamp)| AppStateSyncKey {
            key_data,
            fingerprint,
            timestamp,
        }))
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        // `seq` goes past every key of the session, this one included: the
        // key set last is the latest, even when it is set again.
        write_one!(
            self,
            "set_sync_key",
            sqlx::query(
                "INSERT INTO wa_app_state_keys (session, key_id, key_data, fingerprint, timestamp, seq)
                 VALUES ($1, $2, $3, $4, $5,
                         (SELECT coalesce(max(seq), 0) + 1 FROM wa_app_state_keys WHERE session = $1))
                 ON CONFLICT (session, key_id) DO UPDATE SET key_data = excluded.key_data,
                     fingerprint = excluded.fingerprint, timestamp = excluded.timestamp, seq = excluded.seq",
            )
            .bind(&self.session)
            .bind(key_id)
            .bind(&key.key_data)
            .bind(&key.fingerprint)
            .bind(key.timestamp)
        );
        Ok(())
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        const OP: &str = "get_version";
        let state: Option<Vec<u8>> = with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT state FROM wa_app_state_versions WHERE session = $1 AND name = $2"
        )
        .bind(&self.session)
        .bind(name)
        .fetch_optional(pool)
        .await)
        .ctx(self, OP)?;
        match state {
            Some(state) => serde_json::from_slice(&state).map_err(|e| self.serde_error(OP, e)),
            None => Ok(HashState::default()),
        }
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        const OP: &str = "set_version";
        let state = serde_json::to_vec(&state).map_err(|e| self.serde_error(OP, e))?;
        write_one!(
            self,
            OP,
            sqlx::query(
                "INSERT INTO wa_app_state_versions (session, name, state) VALUES ($1, $2, $3)
                 ON CONFLICT (session, name) DO UPDATE SET state = excluded.state",
            )
            .bind(&self.session)
            .bind(name)
            .bind(state)
        );
        Ok(())
    }

    async fn put_mutation_macs(&self, name: &str, version: u64, mutations: &[AppStateMutationMAC]) -> Result<()> {
        const OP: &str = "put_mutation_macs";
        if mutations.is_empty() {
            return Ok(());
        }
        let version = i64::try_from(version).map_err(|_| self.invalid(OP, format_args!("version {version}")))?;
        let mutations = by_key(mutations, |mac| &mac.index_mac[..]);
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in mutations.chunks(rows_per_statement(5)) {
                let mut q = QueryBuilder::<Db>::new(
                    "INSERT INTO wa_app_state_mutation_macs (session, name, index_mac, version, value_mac) ",
                );
                q.push_values(chunk, |mut row, mac| {
                    row.push_bind(&self.session)
                        .push_bind(name)
                        .push_bind(&mac.index_mac)
                        .push_bind(version)
                        .push_bind(&mac.value_mac);
                });
                q.push(
                    " ON CONFLICT (session, name, index_mac) DO UPDATE SET
                  version = excluded.version, value_mac = excluded.value_mac",
                );
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT value_mac FROM wa_app_state_mutation_macs WHERE session = $1 AND name = $2 AND index_mac = $3",
        )
        .bind(&self.session)
        .bind(name)
        .bind(index_mac)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_mutation_mac")
    }

    async fn get_mutation_macs(&self, name: &str, index_macs: &[[u8; 32]]) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        const OP: &str = "get_mutation_macs";
        let mut found = HashMap::with_capacity(index_macs.len());
        // One variable each for session and name.
        for chunk in index_macs.chunks(rows_per_statement(1) - 1) {
            let rows: Vec<(Vec<u8>, Vec<u8>)> = with_db!(&self.db, |pool, Db| {
                let mut q = QueryBuilder::<Db>::new(
                    "SELECT index_mac, value_mac FROM wa_app_state_mutation_macs WHERE session = ",
                );
                q.push_bind(&self.session)
                    .push(" AND name = ")
                    .push_bind(name)
                    .push(" AND index_mac IN (");
                let mut list = q.separated(", ");
                for index_mac in chunk {
                    list.push_bind(&index_mac[..]);
                }
                q.push(")");
                q.build_query_as().fetch_all(pool).await.ctx(self, OP)?
            });
            for (index_mac, value_mac) in rows {
                // Only 32-byte index MACs were asked for, so only such match.
                let index_mac = self.to_array32(OP, index_mac)?;
                found.insert(index_mac, value_mac);
            }
        }
        Ok(found)
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        const OP: &str = "delete_mutation_macs";
        if index_macs.is_empty() {
            return Ok(());
        }
        with_db!(&self.db, |pool, Db| {
            let mut tx = self.begin(OP, pool).await?;
            for chunk in index_macs.chunks(rows_per_statement(1) - 1) {
                let mut q = QueryBuilder::<Db>::new("DELETE FROM wa_app_state_mutation_macs WHERE session = ");
                q.push_bind(&self.session)
                    .push(" AND name = ")
                    .push_bind(name)
                    .push(" AND index_mac IN (");
                let mut list = q.separated(", ");
                for index_mac in chunk {
                    list.push_bind(&index_mac[..]);
                }
                q.push(")");
                q.build().execute(&mut *tx).await.ctx(self, OP)?;
            }
            tx.commit().await.ctx(self, OP)
        })
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        write_one!(
            self,
            "clear_mutation_macs",
            sqlx::query("DELETE FROM wa_app_state_mutation_macs WHERE session = $1 AND name = $2")
                .bind(&self.session)
                .bind(name)
        );
        Ok(())
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        with_db!(&self.db, |pool| sqlx::query_scalar(
            "SELECT key_id FROM wa_app_state_keys WHERE session = $1 ORDER BY seq DESC LIMIT 1"
        )
        .bind(&self.session)
        .fetch_optional(pool)
        .await)
        .ctx(self, "get_latest_sync_key_id")
    }
}
