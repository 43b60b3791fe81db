//! Fenced writes outside the writer: a session's rows written by one
//! statement or transaction of their own (timers, the linked address, sim
//! pairing, the WhatsApp device store) are refused, with [`LeaseLost`] and
//! nothing written, once another host has taken the session over: a host
//! that lost a session (paused past its lease, cut off) cannot write its
//! data behind the new host's back.
//!
//! Every such write is a transaction opened by [`begin`]. On SQLite (one
//! host, [`Leases::enabled`] false) it is a plain transaction. On a shared
//! PostgreSQL database it first reads the session's lease row `FOR KEY
//! SHARE`, held to the commit, as the writer's batches do: a take (`FOR
//! UPDATE`) waits for the write in flight, and the writes after it see the
//! new fencing number; renewals never wait for it.
//!
//! A take raises the lease's fencing number, so the rule is "nobody took
//! the session since this process last held it", checked against the row,
//! with room for the writers that hold no lease. From what this process
//! knows of the session's lease ([`Claim`], from [`Leases::claim`]):
//! - it holds the lease: the row must still carry its fencing number. Its
//!   own clock does not matter here (unlike for sends, held back once the
//!   lease may have run out): the row is the truth, and the lock keeps it
//!   so until the commit;
//! - it dropped the lease after its time ran out here (lost, not given
//!   back; until it takes it again): the row must still carry the number
//!   it held. Once another host took the session, nothing more of this
//!   process's lands, even after that host let it go again: the tasks of
//!   a lost session still stopping here write nothing over its newer state;
//! - it gave the lease back (`disconnect`, a clean stop) or never held it:
//!   the row must carry the number it held, or no host may hold the lease
//!   unexpired, i.e. nobody runs the session. That is what a process
//!   holding no lease writes: a CLI command or a test (a store opened with
//!   [`Store::open_for`](super::Store::open_for) takes no lease), or a
//!   lifecycle action on a session stopped everywhere (`destroy` deletes
//!   its pairing, timers and address). A session with no lease row has
//!   never run on the shared database and is not locked: a host taking it
//!   for the first time does not wait for such a write.

use std::collections::HashMap;
use std::future::Future;

use sqlx::{PgConnection, Pool, Postgres, Sqlite, Transaction};

use super::Leases;

/// A write refused because another host took the session over (or runs
/// it, for a process that holds no lease). Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lease lost: session {session:?} is run by another host now; nothing was written")]
pub struct LeaseLost {
    pub session: String,
}

/// What a write of a session must find in the session's lease row, from
/// this process's view of its leases (see the module's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Writes are not fenced (SQLite: one host).
    Unfenced,
    /// This host holds the lease with this fencing number: the row must
    /// still carry it.
    Held(i64),
    /// This host lost the lease it held with this fencing number: the row
    /// must still carry it.
    Lost(i64),
    /// This host gave back the lease it held with this fencing number, or
    /// never held it: the row must carry the number, or no host may hold
    /// the lease unexpired.
    Free(Option<i64>),
}

impl Claim {
    /// Whether a write with this claim may go on, given the lease row:
    /// its fencing number and whether a host holds it unexpired (`None`:
    /// no row).
    pub(crate) fn admits(self, row: Option<(i64, bool)>) -> bool {
        match (self, row) {
            (Claim::Unfenced, _) => true,
            (Claim::Held(fence) | Claim::Lost(fence), Some((current, _))) => current == fence,
            (Claim::Held(_) | Claim::Lost(_), None) => false,
            (Claim::Free(_), None) => true,
            (Claim::Free(fence), Some((current, live))) => !live || fence == Some(current),
        }
    }
}

/// A backend's fence check, in the write's transaction.
pub(crate) trait Fence: sqlx::Database {
    /// Refuses `claim` with [`LeaseLost`] unless `session`'s lease row
    /// admits it; the row stays share-locked until `tx` ends.
    fn check(
        tx: &mut Transaction<'static, Self>,
        session: &str,
        claim: Claim,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

impl Fence for Sqlite {
    /// One host: nothing to fence.
    async fn check(_tx: &mut Transaction<'static, Self>, _session: &str, _claim: Claim) -> anyhow::Result<()> {
        Ok(())
    }
}

impl Fence for Postgres {
    async fn check(tx: &mut Transaction<'static, Self>, session: &str, claim: Claim) -> anyhow::Result<()> {
        if claim == Claim::Unfenced {
            return Ok(());
        }
        let rows = lease_rows(tx, &[session]).await?;
        if !claim.admits(rows.get(session).copied()) {
            return Err(lost(session));
        }
        Ok(())
    }
}

/// The lease rows of `sessions` as [`Claim::admits`] reads them (fencing
/// number, whether a host holds the lease unexpired), share-locked until
/// the transaction ends: the one fence check of fenced writes and of the
/// writer's batches. Locked in session order, so checks never deadlock.
pub(crate) async fn lease_rows(
    tx: &mut PgConnection,
    sessions: &[&str],
) -> Result<HashMap<String, (i64, bool)>, sqlx::Error> {
    let rows: Vec<(String, i64, bool)> = sqlx::query_as(
        "SELECT session, fence, coalesce(owner IS NOT NULL AND expires_at > now(), false) \
         FROM leases WHERE session = ANY($1) ORDER BY session FOR KEY SHARE",
    )
    .bind(sessions)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(session, fence, live)| (session, (fence, live)))
        .collect())
}

/// Begins a transaction on `pool` that writes `session`'s rows, fenced by
/// this host's `leases`: refused with [`LeaseLost`] (an `anyhow` error that
/// downcasts to it) when the rule of this module does not admit the write.
/// Dropped without a commit, the transaction is rolled back.
pub(crate) async fn begin<DB: Fence>(
    pool: &Pool<DB>,
    leases: &Leases,
    session: &str,
) -> anyhow::Result<Transaction<'static, DB>> {
    let claim = leases.claim(session);
    let mut tx = pool.begin().await?;
    DB::check(&mut tx, session, claim).await?;
    Ok(tx)
}

fn lost(session: &str) -> anyhow::Error {
    LeaseLost {
        session: session.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use whatsapp_rust::wacore::store::traits::SignalStore as _;

    use super::super::tests::temp_store;
    use super::super::{Store, TimerRow};
    use super::*;
    use crate::channel::whatsapp::WhatsappStore;

    const EXPIRY: Duration = Duration::from_secs(10);

    fn timer(id: &str, session: &str) -> TimerRow {
        TimerRow {
            id: id.into(),
            session: session.into(),
            plugin: "p".into(),
            due_at_ms: 1,
            payload: String::new(),
        }
    }

    /// Makes this store the holder of `session`'s lease, as host "me".
    async fn hold(store: &Store, session: &str) -> i64 {
        let fence = store.lease_take("me", session, EXPIRY).await.unwrap().unwrap();
        store
            .leases()
            .hold(session, fence, Instant::now(), Duration::from_secs(60));
        fence
    }

    /// Expires `session`'s lease in the database, as time passing would.
    async fn expire(store: &Store, session: &str) {
        let super::super::Db::Postgres(pool) = store.db() else {
            unreachable!("leases exist on PostgreSQL only")
        };
        sqlx::query("UPDATE leases SET expires_at = now() - interval '1 second' WHERE session = $1")
            .bind(session)
            .execute(pool)
            .await
            .unwrap();
    }

    /// Whether `error` is (or is caused by) a [`LeaseLost`] for `session`.
    fn is_lost(error: &(dyn std::error::Error + 'static), session: &str) -> bool {
        let mut layer = Some(error);
        while let Some(error) = layer {
            if let Some(lost) = error.downcast_ref::<LeaseLost>() {
                return lost.session == session;
            }
            layer = error.source();
        }
        false
    }

    fn lost_anyhow(error: anyhow::Error, session: &str) -> bool {
        error
            .downcast_ref::<LeaseLost>()
            .is_some_and(|lost| lost.session == session)
    }

    #[test]
    fn the_message_names_the_session() {
        let lost = LeaseLost { session: "x".into() };
        assert_eq!(
            lost.to_string(),
            "lease lost: session \"x\" is run by another host now; nothing was written"
        );
    }

    #[test]
    fn claims_admit_what_the_rule_says() {
        assert!(Claim::Unfenced.admits(None));
        assert!(Claim::Unfenced.admits(Some((4, true))));
        for claim in [Claim::Held(3), Claim::Lost(3)] {
            assert!(claim.admits(Some((3, true))));
            assert!(claim.admits(Some((3, false))), "expired, not taken");
            assert!(!claim.admits(Some((4, true))), "taken");
            assert!(!claim.admits(Some((4, false))), "taken, then let go");
            assert!(!claim.admits(None));
        }
        assert!(Claim::Free(None).admits(None));
        assert!(Claim::Free(None).admits(Some((4, false))));
        assert!(!Claim::Free(None).admits(Some((4, true))));
        assert!(Claim::Free(Some(3)).admits(Some((3, true))), "still this host's");
        assert!(Claim::Free(Some(3)).admits(Some((4, false))));
        assert!(!Claim::Free(Some(3)).admits(Some((4, true))));
    }

    #[tokio::test]
    async fn the_holder_writes_until_another_host_takes_the_session() {
        let (store, _dir) = temp_store().await;
        if !store.db().is_postgres() {
            eprintln!("skipped: leases exist on PostgreSQL only (PURR_TEST_DB=postgres)");
            return;
        }
        let wa = WhatsappStore::new(&store, "s");
        store.session_register("s", "whatsapp", "config").await.unwrap();
        hold(&store, "s").await;
        store.timer_insert(&timer("t1", "s")).await.unwrap();
        store.session_set_jid("s", Some("me@s")).await.unwrap();
        store.sim_pair("s", "me@sim").await.unwrap();
        wa.put_identity("a@s", [1; 32]).await.unwrap();

        // Another host takes the session over once the lease expired
        // (this host paused past it, say).
        expire(&store, "s").await;
        assert!(store.lease_take("other", "s", EXPIRY).await.unwrap().is_ok());

        let error = store.timer_insert(&timer("t2", "s")).await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let error = store.timer_delete("s", "p", "t1").await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let error = store.timers_delete_session("s").await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let error = store.session_set_jid("s", None).await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let error = store.sim_pair("s", "stale@sim").await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let error = store.sim_unpair("s").await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let error = wa.put_identity("a@s", [2; 32]).await.unwrap_err();
        assert!(is_lost(&error, "s"), "{error:?}");
        let error = wa.delete_identity("a@s").await.unwrap_err();
        assert!(is_lost(&error, "s"), "{error:?}");
        let error = wa.wipe().await.unwrap_err();
        assert!(lost_anyhow(error, "s"));

        // Nothing of the old holder's landed.
        let ids: Vec<String> = (store.timers_of_session("s").await.unwrap())
            .into_iter()
            .map(|timer| timer.id)
            .collect();
        assert_eq!(ids, ["t1"]);
        assert_eq!(
            store.session_get("s").await.unwrap().unwrap().jid.as_deref(),
            Some("me@s")
        );
        assert_eq!(store.sim_pairing("s").await.unwrap().as_deref(), Some("me@sim"));
        assert_eq!(wa.load_identity("a@s").await.unwrap(), Some([1; 32]));
    }

    #[tokio::test]
    async fn a_lost_lease_writes_until_another_host_took_the_session_and_never_after() {
        let (store, _dir) = temp_store().await;
        if !store.db().is_postgres() {
            eprintln!("skipped: leases exist on PostgreSQL only (PURR_TEST_DB=postgres)");
            return;
        }
        let fence = store.lease_take("me", "s", EXPIRY).await.unwrap().unwrap();
        // Held, but its time ran out on this host's clock (paused): nobody
        // took it, so the row still says this host's number.
        let past = Instant::now() - Duration::from_secs(120);
        store.leases().hold("s", fence, past, Duration::from_secs(60));
        store.timer_insert(&timer("t1", "s")).await.unwrap();
        // Dropped as lost (the lease loop stops the session): the same.
        store.leases().drop_lease("s");
        store.timer_insert(&timer("t2", "s")).await.unwrap();
        // Another host takes it, then lets it go: nothing more lands.
        expire(&store, "s").await;
        assert!(store.lease_take("other", "s", EXPIRY).await.unwrap().is_ok());
        let error = store.timer_insert(&timer("t3", "s")).await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        store.lease_park("other", "s").await.unwrap();
        let error = store.timer_insert(&timer("t3", "s")).await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        // Taken again: writes go on.
        hold(&store, "s").await;
        store.timer_insert(&timer("t3", "s")).await.unwrap();
        assert_eq!(store.timers_count("s", "p").await.unwrap(), 3);
    }

    #[tokio::test]
    async fn without_the_lease_a_write_goes_through_only_while_nobody_runs_the_session() {
        let (store, _dir) = temp_store().await;
        if !store.db().is_postgres() {
            eprintln!("skipped: leases exist on PostgreSQL only (PURR_TEST_DB=postgres)");
            return;
        }
        // No lease row: never run on this database (a tool, a test).
        store.sim_pair("s", "s@sim").await.unwrap();
        // Another host runs it.
        assert!(store.lease_take("other", "s", EXPIRY).await.unwrap().is_ok());
        let error = store.sim_unpair("s").await.unwrap_err();
        assert!(lost_anyhow(error, "s"));
        let wa = WhatsappStore::new(&store, "s");
        let error = wa.put_identity("a@s", [1; 32]).await.unwrap_err();
        assert!(is_lost(&error, "s"), "{error:?}");
        // It gave the session back (`disconnect`): nobody runs it.
        store.lease_park("other", "s").await.unwrap();
        assert!(store.sim_unpair("s").await.unwrap());
        wa.put_identity("a@s", [1; 32]).await.unwrap();

        // A lease this host gave back (valid): it writes while the row
        // carries its number, or once nobody runs the session.
        hold(&store, "t").await;
        store.leases().drop_lease("t");
        store.timer_insert(&timer("x", "t")).await.unwrap();
        store.lease_park("me", "t").await.unwrap();
        assert!(store.lease_take("other", "t", EXPIRY).await.unwrap().is_ok());
        let error = store.timers_delete_session("t").await.unwrap_err();
        assert!(lost_anyhow(error, "t"));
        store.lease_park("other", "t").await.unwrap();
        assert_eq!(store.timers_delete_session("t").await.unwrap(), 1);
    }

    #[tokio::test]
    async fn on_sqlite_everything_writes() {
        let (store, _dir) = temp_store().await;
        if store.db().is_postgres() {
            return;
        }
        assert!(!store.leases().enabled());
        let wa = WhatsappStore::new(&store, "s");
        store.session_register("s", "whatsapp", "config").await.unwrap();
        store.timer_insert(&timer("t", "s")).await.unwrap();
        assert!(store.timer_delete("s", "p", "t").await.unwrap());
        store.session_set_jid("s", Some("me@s")).await.unwrap();
        store.sim_pair("s", "s@sim").await.unwrap();
        wa.put_identity("a@s", [1; 32]).await.unwrap();
        assert_eq!(wa.load_identity("a@s").await.unwrap(), Some([1; 32]));
        assert!(store.sim_unpair("s").await.unwrap());
        wa.wipe().await.unwrap();
    }
}
