//! Keeps the WAL short from a thread of its own. A checkpoint copies what was committed back into
//! the database file, tens of megabytes after a busy stretch of ingest; run by the writer, as
//! SQLite does by default, it held every batch queued behind it. The writer commits without
//! checkpointing instead, and this thread checkpoints (passively: it never waits for, or holds up,
//! the writer or a reader) whenever something was committed since it last looked.
//!
//! A passive checkpoint never moves the WAL back to its start: SQLite does that only when a write
//! begins with every frame copied back and no reader left on the WAL, and under a steady stream
//! of batches the next write always begins before the copy is done. Left alone, the WAL grew by
//! about 1.5 KB per alert for as long as ingest went on. So once it is long, this thread asks the
//! writer to restart it between two transactions (see [`restart`]): by then nearly everything is
//! copied back, so the writer has little left to copy.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use muster_core::store::{StoreError, StoreResult};
use rusqlite::Connection;

/// How often the WAL is copied back while writes come in: rarely enough that pages every batch
/// rewrites are copied once for many batches, often enough that little is left to copy when the
/// writer starts the WAL over.
const INTERVAL: Duration = Duration::from_millis(1000);

/// WAL frames after which the writer is asked to start the WAL over, by default: 64 MiB of 4 KiB
/// pages, the size `journal_size_limit` trims the file back to.
pub(crate) const RESTART_FRAMES: i64 = 16_384;

/// How long a restart waits for readers to leave the WAL before it gives up until next time: the
/// writer holds every batch while it waits.
const RESTART_PATIENCE: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub(crate) struct Checkpointer {
    /// Set by the writer after each job; taken by the checkpointer.
    pub(crate) dirty: Arc<AtomicBool>,
    /// Set by the checkpointer once the WAL is long; taken by the writer (see [`restart`]).
    pub(crate) restart_due: Arc<AtomicBool>,
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    pub(crate) fn spawn(path: &Path, restart_frames: i64) -> StoreResult<Self> {
        let conn = crate::connection::open_checkpointer(path)?;
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let restart_due = Arc::new(AtomicBool::new(false));
        let (seen, long) = (dirty.clone(), restart_due.clone());
        let thread = std::thread::Builder::new()
            .name("muster-sqlite-ckpt".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if seen.swap(false, Ordering::AcqRel) && checkpoint(&conn).is_some_and(|f| f >= restart_frames) {
                        long.store(true, Ordering::Release);
                    }
                }
                checkpoint(&conn);
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite checkpointer: {e}")))?;
        Ok(Self { dirty, restart_due, stop, thread })
    }

    /// Checkpoints what is committed one last time and stops.
    pub(crate) fn stop(self) {
        let Self { stop, thread, .. } = self;
        drop(stop);
        let _ = thread.join();
    }
}

/// Copies what it can of the WAL back; the frames the WAL holds, if the pass ran.
fn checkpoint(conn: &Connection) -> Option<i64> {
    // A busy database only means a later pass copies more; other failures are worth a line.
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
        Ok(frames) => Some(frames),
        Err(error) => {
            tracing::warn!(%error, "WAL checkpoint failed");
            None
        }
    }
}

/// Run by the writer between transactions when asked: copies back the little the checkpointer
/// has not, waits briefly for readers to leave the WAL, and so has the next transaction write
/// the WAL from its start again. Readers that stay longer only put it off until the next time.
pub(crate) fn restart(writer: &Connection) {
    let restarted = writer
        .busy_timeout(RESTART_PATIENCE)
        .and_then(|()| writer.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())));
    // The writer's usual patience comes back whatever the restart did.
    let patient = writer.busy_timeout(crate::connection::BUSY_TIMEOUT);
    if let Err(error) = restarted.and(patient) {
        tracing::warn!(%error, "WAL restart failed");
    }
}

#[cfg(test)]
mod tests {
    use muster_core::incident::Incident;
    use muster_core::store::{IncidentStore, WriteBatch};
    use muster_core::{IncidentId, Timestamp};

    use crate::{SqliteOptions, SqliteStore};

    /// Incidents `ids`, each with a description of `bytes` characters no dictionary shrinks much.
    fn bulky(ids: std::ops::Range<i64>, bytes: usize) -> Vec<Incident> {
        ids.map(|id| {
            let mut incident = Incident::new(IncidentId::new(id).unwrap(), Timestamp::from_secs(1_700_000_000));
            let noise: String =
                (0..bytes).map(|i| char::from(b'a' + ((id as usize * 7919 + i * i * 31) % 26) as u8)).collect();
            incident.description = Some(noise);
            incident.meta.version = 1;
            incident
        })
        .collect()
    }

    /// The writer never checkpoints: what it commits reaches the database file (not only the
    /// WAL) because the checkpointer copies it there.
    #[tokio::test]
    async fn commits_reach_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("muster.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
        let incidents = bulky(1..501, 2_000);
        let before = std::fs::metadata(&path).unwrap().len();
        store.write(WriteBatch { incidents, ..Default::default() }).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 1_000_000 {
            assert!(std::time::Instant::now() < deadline, "the WAL was not copied back into the database file");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        store.close().await;
    }

    /// Under writes that never pause, the WAL is still started over from its beginning (each
    /// start writes a new salt into its header) about once a checkpoint pass, instead of growing
    /// for as long as they last. (SQLite alone starts it over now and then, when a pass happens
    /// to end between two transactions: seconds apart at best.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_steady_stream_of_writes_restarts_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("muster.db");
        let options = SqliteOptions { wal_restart_frames: 64, ..SqliteOptions::default() };
        let store = SqliteStore::open_with(&format!("sqlite://{}", path.display()), options).await.unwrap();
        // Several senders, so the writer always has the next batch waiting, as under ingest.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let (store, stop) = (store.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut next = 1 + sender * 1_000_000;
                    while !stop.load(std::sync::atomic::Ordering::Acquire) {
                        let incidents = bulky(next..next + 50, 4_000);
                        store.write(WriteBatch { incidents, ..Default::default() }).await.unwrap();
                        next += 50;
                    }
                })
            })
            .collect();
        let wal = dir.path().join("muster.db-wal");
        let mut salts = std::collections::BTreeSet::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while salts.len() < 3 && std::time::Instant::now() < deadline {
            salts.extend(std::fs::read(&wal).ok().and_then(|header| header.get(16..24).map(<[u8]>::to_vec)));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        for sender in senders {
            sender.await.unwrap();
        }
        store.close().await;
        assert!(salts.len() >= 3, "the WAL was started over {} times in 10 s of writes", salts.len().saturating_sub(1));
    }
}
