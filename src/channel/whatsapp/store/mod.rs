//! whatsapp-rust's storage traits on purr's database: [`WhatsappStore`].
//!
//! whatsapp-rust persists through a `Backend`, blanket-implemented for any
//! type implementing wacore's five store traits. [`WhatsappStore`] implements
//! them on purr's database (sqlx; SQLite or PostgreSQL, every query written
//! once with `$N` placeholders and compiled for both by `with_db!`), one
//! session's rows at a time: every `wa_*` table (`migrations/0005_whatsapp.sql`,
//! `migrations/postgres/0001_schema.sql`) is keyed by the session name first,
//! and every statement here filters on it, so sessions sharing the database
//! never see, overwrite or delete each other's rows.
//!
//! One file per trait group:
//! - `signal`: `SignalStore` (identities, Signal sessions, prekeys, signed
//!   prekeys, sender keys);
//! - `app_sync`: `AppSyncStore` (app-state keys, versions, mutation MACs);
//! - `protocol`: `ProtocolStore` (sender-key devices, LID mappings, base
//!   keys, device lists, group metadata, tc tokens, sent messages, the
//!   pending-inbound buffer);
//! - `msg_secret`: `MsgSecretStore`;
//! - `device`: `DeviceStore` (the account's own keys).
//!
//! This file holds the handle, [`WhatsappStore::wipe`] and what the groups
//! share: error mapping, statement batching and fenced writes.
//!
//! Every write is fenced (`store/fence.rs`): it is a transaction that first
//! checks the session's lease, so a host that lost the session (paused
//! past its lease, cut off) writes none of its keys once another host took
//! it over; the write fails with a `StoreError::Database` whose source is
//! a [`LeaseLost`]. One-statement writes go through `write_one!`. Reads
//! are not fenced.
//!
//! Semantics follow wacore's reference `InMemoryBackend` (the tests compare
//! the two call by call). Batches (`*_batch`, `put_lid_mappings`,
//! `update_device_lists`, MAC lookups, ...) run as one transaction of
//! multi-row statements, chunked to stay under SQLite's bound-variable
//! limit. Read-modify-write operations (msg-secret merges, tc-token touches)
//! are single upserts, so they are atomic without a lock.
//!
//! The SQL is the common dialect of both backends: `ON CONFLICT` upserts
//! (never `INSERT OR ...`), CASE rather than SQLite's scalar `max(a, b)`,
//! conflict-target columns qualified by the table name in `DO UPDATE`
//! (PostgreSQL finds them ambiguous otherwise), `TRUE`/`FALSE` for the
//! BOOLEAN flags, the device lists' `"user"` quoted (unquoted, PostgreSQL
//! reads `CURRENT_USER`). A multi-row upsert never carries one key twice
//! (PostgreSQL refuses to update a row twice in one statement): batches are
//! deduplicated first, as if their rows were written one by one, and sorted
//! by key ([`by_key`]) so that concurrent batches lock shared rows in the
//! same order and cannot deadlock on PostgreSQL (SQLite has one writer at a
//! time). The one statement that differs per backend is `put_lid_mappings`'.
//! Every value read is decoded as a type both backends give: `i64` for
//! INTEGER/BIGINT (`count(*)`, `max` included), `bool` for the flags and
//! `EXISTS`, `Vec<u8>` for BLOB/BYTEA.
//!
//! Serialized values: wacore's serde types (`Device`, `HashState`,
//! `DeviceListRecord`) are stored as serde_json. The types evolve by adding
//! `#[serde(default)]` fields and use `skip_serializing_if`; both only work
//! with a self-describing format, so JSON keeps rows written by one crate
//! version readable by the next, where a positional encoding (bincode,
//! postcard) would fail on the first added field. Signal records and other
//! byte strings the crate hands us are stored as they come.

/// Runs one statement writing this session's rows in a fenced transaction
/// ([`WhatsappStore::begin`]) and commits it; gives the rows affected.
/// `$query` (a `sqlx::query(...)` with its binds) is built once per
/// backend, as in `with_db!`; errors are returned as operation `$op`'s.
macro_rules! write_one {
    ($store:expr, $op:expr, $query:expr) => {
        $crate::with_db!(&$store.db, |pool| {
            let mut tx = $store.begin($op, pool).await?;
            let done = $query.execute(&mut *tx).await.ctx($store, $op)?;
            tx.commit().await.ctx($store, $op)?;
            done.rows_affected()
        })
    };
}

mod app_sync;
mod device;
mod msg_secret;
mod protocol;
mod signal;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use sqlx::{AssertSqlSafe, Pool, Transaction};

use crate::store::fence::{self, Fence};
use crate::store::{Db, LeaseLost, Leases, Store};
use crate::with_db;
use whatsapp_rust::wacore::store::error::StoreError;

/// Every `wa_*` table: what [`WhatsappStore::wipe`] empties.
const TABLES: &[&str] = &[
    "wa_device",
    "wa_identities",
    "wa_sessions",
    "wa_prekeys",
    "wa_signed_prekeys",
    "wa_sender_keys",
    "wa_app_state_keys",
    "wa_app_state_versions",
    "wa_app_state_mutation_macs",
    "wa_sender_key_devices",
    "wa_lid_mappings",
    "wa_base_keys",
    "wa_device_lists",
    "wa_group_metadata",
    "wa_tc_tokens",
    "wa_sent_messages",
    "wa_pending_inbound",
    "wa_msg_secrets",
];

/// SQLite's historical bound-variable limit (newer builds allow 32766,
/// PostgreSQL 65535); multi-row statements are chunked to stay under it
/// whichever SQLite is linked.
const MAX_VARIABLES: usize = 999;

/// One session's WhatsApp auth data in purr's database.
#[derive(Clone)]
pub struct WhatsappStore {
    db: Db,
    /// This host's leases, which fence every write.
    leases: Leases,
    session: String,
}

impl std::fmt::Debug for WhatsappStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappStore").field("session", &self.session).finish()
    }
}

impl WhatsappStore {
    /// The store of `session`'s rows in `store`'s database, its writes
    /// fenced by `store`'s leases.
    pub fn new(store: &Store, session: impl Into<String>) -> Self {
        WhatsappStore {
            db: store.db().clone(),
            leases: store.leases().clone(),
            session: session.into(),
        }
    }

    /// Deletes every row of this session (all wa_ tables) in one
    /// transaction; refused with [`LeaseLost`] when another host may run
    /// the session.
    pub async fn wipe(&self) -> anyhow::Result<()> {
        with_db!(&self.db, |pool| {
            let mut tx = fence::begin(pool, &self.leases, &self.session).await?;
            for table in TABLES {
                // `table` comes from the constant list above.
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE session = $1")))
                    .bind(&self.session)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Begins a transaction writing this session's rows for operation `op`,
    /// fenced (see `store/fence.rs`).
    async fn begin<DB: Fence>(
        &self,
        op: &'static str,
        pool: &Pool<DB>,
    ) -> Result<Transaction<'static, DB>, StoreError> {
        fence::begin(pool, &self.leases, &self.session)
            .await
            .map_err(|error| self.fence_error(op, error))
    }

    /// An error of [`fence::begin`]: a database error as [`db_error`](Self::db_error),
    /// a refusal as a database error whose source is the [`LeaseLost`].
    fn fence_error(&self, op: &'static str, error: anyhow::Error) -> StoreError {
        let error = match error.downcast::<sqlx::Error>() {
            Ok(error) => return self.db_error(op, error),
            Err(error) => error,
        };
        let source: Box<dyn std::error::Error + Send + Sync> = match error.downcast::<LeaseLost>() {
            Ok(lost) => Box::new(lost),
            Err(error) => error.into(),
        };
        StoreError::Database(Box::new(Failure {
            session: self.session.clone(),
            op,
            source,
        }))
    }

    /// A database error of operation `op`, with this session for context.
    fn db_error(&self, op: &'static str, error: sqlx::Error) -> StoreError {
        let connection = matches!(
            error,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
        );
        let error = Box::new(Failure {
            session: self.session.clone(),
            op,
            source: Box::new(error),
        });
        if connection {
            StoreError::Connection(error)
        } else {
            StoreError::Database(error)
        }
    }

    /// A value of operation `op` that would not (de)serialize.
    fn serde_error(&self, op: &'static str, error: serde_json::Error) -> StoreError {
        StoreError::Serialization(Box::new(Failure {
            session: self.session.clone(),
            op,
            source: Box::new(error),
        }))
    }

    /// A stored value of operation `op` that is not what wacore expects.
    fn invalid(&self, op: &'static str, what: impl std::fmt::Display) -> StoreError {
        StoreError::Validation(format!("whatsapp store of session {:?}, {op}: {what}", self.session))
    }

    /// A stored `u32` (prekey id) read back from an INTEGER column.
    fn to_u32(&self, op: &'static str, value: i64) -> Result<u32, StoreError> {
        u32::try_from(value).map_err(|_| self.invalid(op, format_args!("id {value} out of range")))
    }

    /// A stored 32-byte value (identity key).
    fn to_array32(&self, op: &'static str, value: Vec<u8>) -> Result<[u8; 32], StoreError> {
        let len = value.len();
        <[u8; 32]>::try_from(value).map_err(|_| self.invalid(op, format_args!("{len} bytes where 32 are expected")))
    }
}

/// An error with the operation and session it happened in; its source is the
/// underlying sqlx or serde_json error.
#[derive(Debug, thiserror::Error)]
#[error("whatsapp store of session {session:?}: {op}")]
struct Failure {
    session: String,
    op: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// `.ctx(store, op)` on sqlx results: maps the error into a [`StoreError`]
/// naming the operation and the session.
trait Ctx<T> {
    fn ctx(self, store: &WhatsappStore, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, sqlx::Error> {
    fn ctx(self, store: &WhatsappStore, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| store.db_error(op, e))
    }
}

/// How many rows of `columns` bound values fit in one statement, keeping one
/// variable for the session of a `WHERE session = ? AND x IN (...)`.
fn rows_per_statement(columns: usize) -> usize {
    ((MAX_VARIABLES - 1) / columns).max(1)
}

/// The last item of each `key` in `items`, in key order: the rows of a batch
/// that, written as one multi-row upsert, leave the table as writing every
/// item in turn would. PostgreSQL refuses a key twice in one `INSERT ... ON
/// CONFLICT DO UPDATE` ("cannot affect row a second time"); SQLite would
/// apply them in order, with the same result. PostgreSQL locks the rows in
/// statement order: in key order, two transactions upserting overlapping
/// batches wait for each other instead of deadlocking.
fn by_key<'a, T, K: Ord>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let last: BTreeMap<K, &T> = items.iter().map(|item| (key(item), item)).collect();
    last.into_values().collect()
}

/// The last item of each `key` in `items`, in the order of those last
/// occurrences, for a table where write order matters (`wa_lid_mappings`'
/// rowid); otherwise as [`by_key`].
fn last_wins<'a, T, K: Eq + Hash>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut seen = HashSet::with_capacity(items.len());
    let mut kept: Vec<&T> = items.iter().rev().filter(|item| seen.insert(key(*item))).collect();
    kept.reverse();
    kept
}
