//! Session leases: which host runs which session when several hosts share
//! one PostgreSQL database (see `docs/deploy.md`).
//!
//! A host runs a session only while it holds the session's lease: a row
//! with the owner, an expiry on the database's clock, and a fencing number
//! raised at every take. [`Leases`] is this host's view of the leases it
//! holds; the writer stamps every request with the session's fencing number
//! as it is queued and, in the batch's transaction, refuses requests whose
//! number is no longer the lease's (`FOR KEY SHARE` on the lease rows, so
//! a take waits for a batch in flight, and the batch after it sees the new
//! number). A host that stopped renewing in time (paused, cut off) treats
//! its leases as lost from its own monotonic clock, before the database
//! says so. Writes outside the writer are fenced too: see `fence.rs`. On
//! SQLite (one host) there are no leases and nothing is fenced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::fence::Claim;

/// A lease this host holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    fence: i64,
    /// Past this instant the lease may have been taken over: renewal sent
    /// at `t` keeps it until `t + expiry - renew interval` here.
    valid_until: Instant,
}

/// A lease this host held and dropped, until it takes it again.
#[derive(Debug, Clone, Copy)]
struct Dropped {
    fence: i64,
    /// Dropped after its time ran out here (lost), not given back.
    lost: bool,
}

/// This host's leases; cheap to clone. Empty and unused on SQLite.
#[derive(Debug, Clone)]
pub struct Leases(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    held: Mutex<HashMap<String, Held>>,
    /// The leases dropped, for fencing writes outside the writer (see
    /// `fence.rs`). Locked after `held` when both are.
    dropped: Mutex<HashMap<String, Dropped>>,
    /// Whether writes are fenced (PostgreSQL).
    enabled: bool,
}

impl Leases {
    pub(super) fn new(enabled: bool) -> Self {
        Leases(Arc::new(Shared {
            held: Mutex::default(),
            dropped: Mutex::default(),
            enabled,
        }))
    }

    /// Whether this host shares its database and runs sessions by lease.
    pub fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// The fencing number to stamp a write of `session` with: `None` when
    /// this host does not hold the lease (or may have lost it), which the
    /// writer refuses.
    pub fn fence(&self, session: &str) -> Option<i64> {
        let held = self.0.held.lock().expect("leases lock");
        held.get(session)
            .filter(|lease| Instant::now() < lease.valid_until)
            .map(|lease| lease.fence)
    }

    /// What a write of `session` outside the writer must find in the
    /// lease row (see `fence.rs`).
    pub(crate) fn claim(&self, session: &str) -> Claim {
        if !self.0.enabled {
            return Claim::Unfenced;
        }
        let held = self.0.held.lock().expect("leases lock");
        if let Some(lease) = held.get(session) {
            return Claim::Held(lease.fence);
        }
        match self.0.dropped.lock().expect("leases lock").get(session) {
            Some(Dropped { fence, lost: true }) => Claim::Lost(*fence),
            Some(Dropped { fence, lost: false }) => Claim::Free(Some(*fence)),
            None => Claim::Free(None),
        }
    }

    /// Whether this host may act for `session` now (always, on SQLite).
    pub fn valid(&self, session: &str) -> bool {
        !self.0.enabled || self.fence(session).is_some()
    }

    /// Records a lease taken with `fence`, valid for `valid_for` from `since`.
    pub fn hold(&self, session: &str, fence: i64, since: Instant, valid_for: Duration) {
        let lease = Held {
            fence,
            valid_until: since + valid_for,
        };
        let mut held = self.0.held.lock().expect("leases lock");
        held.insert(session.to_string(), lease);
        self.0.dropped.lock().expect("leases lock").remove(session);
    }

    /// Extends the leases renewed at `since`.
    pub fn renewed(&self, sessions: &[String], since: Instant, valid_for: Duration) {
        let mut held = self.0.held.lock().expect("leases lock");
        for session in sessions {
            if let Some(lease) = held.get_mut(session) {
                lease.valid_until = since + valid_for;
            }
        }
    }

    /// Forgets a lease (lost or released): writes of the session are
    /// refused by the writer; outside it, once another host took the
    /// session (see `fence.rs`).
    pub fn drop_lease(&self, session: &str) {
        let mut held = self.0.held.lock().expect("leases lock");
        if let Some(lease) = held.remove(session) {
            let dropped = Dropped {
                fence: lease.fence,
                lost: Instant::now() >= lease.valid_until,
            };
            let mut all = self.0.dropped.lock().expect("leases lock");
            all.insert(session.to_string(), dropped);
        }
    }

    /// Whether this host still holds `session`'s lease taken with `fence`
    /// (whatever its own clock says).
    pub fn holds(&self, session: &str, fence: i64) -> bool {
        let held = self.0.held.lock().expect("leases lock");
        held.get(session).is_some_and(|lease| lease.fence == fence)
    }

    /// The leases held, with their fencing numbers.
    pub fn held(&self) -> Vec<(String, i64)> {
        let held = self.0.held.lock().expect("leases lock");
        held.iter()
            .map(|(session, lease)| (session.clone(), lease.fence))
            .collect()
    }
}

/// Who runs a session, for lists.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRow {
    pub session: String,
    pub owner: Option<String>,
    pub fence: i64,
    pub run: bool,
}

/// The lease SQL (PostgreSQL only). Expiries are on the database's clock.
impl super::Store {
    fn pg(&self) -> &PgPool {
        match &self.db {
            super::Db::Postgres(pool) => pool,
            super::Db::Sqlite(_) => unreachable!("leases exist on PostgreSQL only"),
        }
    }

    /// Records this host as alive (for sharing sessions among live hosts)
    /// and returns how many hosts were seen within `expiry`.
    pub async fn host_heartbeat(&self, host: &str, expiry: Duration) -> anyhow::Result<i64> {
        let pool = self.pg();
        sqlx::query(
            "INSERT INTO hosts (id, seen_at) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET seen_at = now()",
        )
        .bind(host)
        .execute(pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM hosts WHERE seen_at > now() - $1 * interval '1 millisecond'")
                .bind(millis(expiry))
                .fetch_one(pool)
                .await?,
        )
    }

    /// Makes sure `sessions` have lease rows (new ones should run).
    pub async fn leases_register(&self, sessions: &[&str]) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO leases (session) SELECT * FROM UNNEST($1::text[]) ON CONFLICT DO NOTHING")
            .bind(sessions)
            .execute(self.pg())
            .await?;
        Ok(())
    }

    /// Every lease row, by session.
    pub async fn leases_all(&self) -> anyhow::Result<Vec<LeaseRow>> {
        Ok(sqlx::query_as(
            "SELECT session, CASE WHEN expires_at > now() THEN owner END AS owner, fence, run \
             FROM leases ORDER BY session",
        )
        .fetch_all(self.pg())
        .await?)
    }

    /// How many sessions should run (on some host).
    pub async fn leases_running(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM leases WHERE run")
            .fetch_one(self.pg())
            .await?)
    }

    /// Takes up to `limit` sessions that should run and that nobody holds
    /// (never held, released, or expired); returns them with their new
    /// fencing numbers. Hosts taking at once each get different ones.
    pub async fn leases_take_free(
        &self,
        host: &str,
        limit: i64,
        expiry: Duration,
    ) -> anyhow::Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "WITH free AS (SELECT session FROM leases \
                 WHERE run AND (owner IS NULL OR expires_at IS NULL OR expires_at < now()) \
                 ORDER BY session LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE leases AS l SET owner = $1, fence = l.fence + 1, \
                 expires_at = now() + $3 * interval '1 millisecond' \
             FROM free WHERE l.session = free.session RETURNING l.session, l.fence",
        )
        .bind(host)
        .bind(limit)
        .bind(millis(expiry))
        .fetch_all(self.pg())
        .await?)
    }

    /// Takes `session`'s lease (marking it to run) unless another host
    /// holds it unexpired; returns the new fencing number, or the holder.
    pub async fn lease_take(&self, host: &str, session: &str, expiry: Duration) -> anyhow::Result<Result<i64, String>> {
        let mut tx = self.pg().begin().await?;
        sqlx::query("INSERT INTO leases (session) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(session)
            .execute(&mut *tx)
            .await?;
        let (owner, live): (Option<String>, bool) = sqlx::query_as(
            "SELECT owner, coalesce(expires_at > now(), false) FROM leases WHERE session = $1 FOR UPDATE",
        )
        .bind(session)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(owner) = owner.filter(|owner| live && owner != host) {
            return Ok(Err(owner));
        }
        let fence: i64 = sqlx::query_scalar(
            "UPDATE leases SET owner = $2, fence = fence + 1, run = true, \
             expires_at = now() + $3 * interval '1 millisecond' WHERE session = $1 RETURNING fence",
        )
        .bind(session)
        .bind(host)
        .bind(millis(expiry))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(fence))
    }

    /// Renews the leases `held` (session, fencing number) in one statement;
    /// returns the sessions still held. One missing was taken over.
    pub async fn leases_renew(
        &self,
        host: &str,
        held: &[(String, i64)],
        expiry: Duration,
    ) -> anyhow::Result<Vec<String>> {
        let (sessions, fences) = columns(held);
        Ok(sqlx::query_scalar(
            "UPDATE leases AS l SET expires_at = now() + $4 * interval '1 millisecond' \
             FROM UNNEST($2::text[], $3::int8[]) AS m(session, fence) \
             WHERE l.session = m.session AND l.fence = m.fence AND l.owner = $1 AND l.expires_at > now() \
             RETURNING l.session",
        )
        .bind(host)
        .bind(sessions)
        .bind(fences)
        .bind(millis(expiry))
        .fetch_all(self.pg())
        .await?)
    }

    /// The host running `session` now, if any.
    pub async fn lease_owner(&self, session: &str) -> anyhow::Result<Option<String>> {
        let owner: Option<Option<String>> =
            sqlx::query_scalar("SELECT owner FROM leases WHERE session = $1 AND expires_at > now()")
                .bind(session)
                .fetch_optional(self.pg())
                .await?;
        Ok(owner.flatten())
    }

    /// Marks `session` not to run anywhere (`disconnect`), freeing its lease
    /// if `host` holds it (or nobody does).
    pub async fn lease_park(&self, host: &str, session: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE leases SET run = false, owner = NULL, expires_at = NULL \
             WHERE session = $1 AND (owner = $2 OR owner IS NULL OR expires_at IS NULL OR expires_at < now())",
        )
        .bind(session)
        .bind(host)
        .execute(self.pg())
        .await?;
        Ok(())
    }

    /// Gives leases up at once (a clean stop: the others take them on
    /// their next tick); `run` false also marks them not to run anywhere
    /// (`disconnect`).
    pub async fn leases_release(&self, host: &str, held: &[(String, i64)], run: bool) -> anyhow::Result<()> {
        let (sessions, fences) = columns(held);
        sqlx::query(
            "UPDATE leases AS l SET owner = NULL, expires_at = NULL, run = $4 \
             FROM UNNEST($2::text[], $3::int8[]) AS m(session, fence) \
             WHERE l.session = m.session AND l.fence = m.fence AND l.owner = $1",
        )
        .bind(host)
        .bind(sessions)
        .bind(fences)
        .bind(run)
        .execute(self.pg())
        .await?;
        Ok(())
    }
}

/// Held leases as the two arrays the renew and release statements bind.
fn columns(held: &[(String, i64)]) -> (Vec<&str>, Vec<i64>) {
    held.iter().map(|(session, fence)| (session.as_str(), *fence)).unzip()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
