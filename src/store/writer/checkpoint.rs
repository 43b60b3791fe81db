//! WAL checkpoints on SQLite, off the writer's path.
//!
//! SQLite copies the write-ahead log back into the database file (a
//! checkpoint, with an fsync) inside the commit that takes the log past
//! 1,000 pages: under load, one of the writer's commits in a few dozen
//! stalled for milliseconds, and every request in it with it (the API's
//! p90 was 5 ms for a p50 of 0.4 ms; BENCHMARKS.md). The writer's
//! connection turns that off, and this thread checkpoints instead, on a
//! connection of its own, at most every [`PACE`] while the writer commits:
//! `PASSIVE`, which never blocks the writer.
//!
//! The log starts over (is written from its beginning again) only when a
//! write transaction begins with every page of it checkpointed, which a
//! checkpoint beside a busy writer never achieves: under sustained load the
//! log would grow without end. So past [`LONG_LOG`] pages the checkpointer
//! asks the writer to run one passive checkpoint itself between two
//! batches — only the pages since the checkpointer's last run are left to
//! copy — and its next transaction starts the log over. (A `RESTART`
//! checkpoint from this thread instead waits for the writer's lock in the
//! busy handler's sleeps and held the writer up for up to ~150 ms.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// At most one checkpoint in this long.
const PACE: Duration = Duration::from_millis(50);
/// Log pages past which the writer is asked to end the log (32 MiB of 4 KiB pages).
const LONG_LOG: i64 = 8192;

/// The writer's side of the checkpointer; dropping it ends the thread
/// (and waits for it, so its connection is closed when the writer's is).
pub(super) struct Checkpoints {
    wake: Option<SyncSender<()>>,
    /// Set by a commit, cleared as a checkpoint starts: commits in between
    /// wake the thread once, not once each (a paced thread sleeps through them).
    due: Arc<AtomicBool>,
    long_log: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpoints {
    /// Starts the checkpointer on `connection` (it ends with this handle).
    pub fn start(connection: Connection) -> Self {
        let (wake, woken) = sync_channel(1);
        let due = Arc::new(AtomicBool::new(false));
        let long_log = Arc::new(AtomicBool::new(false));
        let flags = (due.clone(), long_log.clone());
        let thread = std::thread::Builder::new()
            .name("purr-checkpoint".into())
            .spawn(move || run(&connection, &woken, &flags.0, &flags.1))
            .expect("checkpoint thread");
        Checkpoints {
            wake: Some(wake),
            due,
            long_log,
            thread: Some(thread),
        }
    }

    /// The writer committed on `connection`: a checkpoint is due (at most
    /// one waits), and when the log has grown long, the writer's own one.
    pub fn committed(&self, connection: &Connection) {
        if !self.due.swap(true, Ordering::AcqRel)
            && let Some(wake) = &self.wake
        {
            let _ = wake.try_send(());
        }
        if self.long_log.swap(false, Ordering::Relaxed) {
            match wal_checkpoint(connection) {
                Ok(pages) => tracing::debug!(pages, "the writer checkpointed a long WAL; it starts over"),
                Err(error) => tracing::warn!(%error, "WAL checkpoint failed"),
            }
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(connection: &Connection, woken: &Receiver<()>, due: &AtomicBool, long_log: &AtomicBool) {
    let mut last: Option<Instant> = None;
    while woken.recv().is_ok() {
        // Paced, but not past the writer's end (a closing store waits for
        // this thread). Nothing wakes it meanwhile: `due` is still set.
        while let Some(rest) = last
            .map(|at| PACE.saturating_sub(at.elapsed()))
            .filter(|rest| !rest.is_zero())
        {
            match woken.recv_timeout(rest) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        // Commits from now on are the next checkpoint's.
        due.store(false, Ordering::Release);
        match wal_checkpoint(connection).and_then(|pages| match pages > LONG_LOG {
            // What the writer added meanwhile, so that little is left for it.
            true => wal_checkpoint(connection).map(|_| true),
            false => Ok(false),
        }) {
            Ok(long) => long_log.store(long, Ordering::Relaxed),
            Err(error) => tracing::warn!(%error, "WAL checkpoint failed; the next commit tries again"),
        }
        last = Some(Instant::now());
    }
}

/// Runs `PRAGMA wal_checkpoint(PASSIVE)`; returns the pages in the log.
fn wal_checkpoint(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(connection)
    }

    /// The WAL header's first salt: SQLite changes it each time the log starts over.
    fn log_salt(wal: &std::path::Path) -> [u8; 4] {
        let header = std::fs::read(wal).unwrap();
        header[16..20].try_into().unwrap()
    }

    /// A writer with autocheckpoints off never starts the log over by
    /// itself; beside the checkpointer a long log is reported and started
    /// over within a few commits.
    #[test]
    fn a_long_log_is_reported_and_started_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)",
            )
            .unwrap();
        let insert = || {
            writer
                .execute("INSERT INTO t (body) VALUES (randomblob(65536))", [])
                .unwrap()
        };
        let wal = dir.path().join("db-wal");
        let first = log_salt(&wal);
        // 64 KiB (16 pages) a commit: twice a long log.
        for _ in 0..2 * LONG_LOG / 16 {
            insert();
        }
        assert_eq!(log_salt(&wal), first, "nothing checkpointed, so the log went on");

        let checkpoints = Checkpoints::start(open(&path).unwrap());
        checkpoints.committed(&writer);
        let reported = std::time::Instant::now();
        while !checkpoints.long_log.load(Ordering::Relaxed) {
            assert!(
                reported.elapsed() < Duration::from_secs(60),
                "the long log was never reported"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut commits = 0;
        while log_salt(&wal) == first {
            assert!(commits < 100, "the log did not start over in {commits} commits");
            insert();
            checkpoints.committed(&writer);
            commits += 1;
        }
        drop(checkpoints);
    }
}
