//! Keeps the WAL short from a thread of its own. A checkpoint copies what was committed back into
//! the database file, tens of megabytes after a busy stretch of ingest; run by the writer, as
//! SQLite does by default, it held every batch queued behind it. The writer commits without
//! checkpointing instead, and this thread checkpoints (passively: it never waits for, or holds up,
//! the writer or a reader) whenever something was committed since it last looked.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use muster_core::store::{StoreError, StoreResult};
use rusqlite::Connection;

/// How often the WAL is copied back while writes come in: rarely enough that pages every batch
/// rewrites are copied once for many batches, often enough that the WAL stays a few hundred
/// megabytes at most.
const INTERVAL: Duration = Duration::from_millis(1000);

#[derive(Debug)]
pub(crate) struct Checkpointer {
    /// Set by the writer after each job; taken by the checkpointer.
    pub(crate) dirty: Arc<AtomicBool>,
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    pub(crate) fn spawn(path: &Path) -> StoreResult<Self> {
        let conn = crate::connection::open_checkpointer(path)?;
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let seen = dirty.clone();
        let thread = std::thread::Builder::new()
            .name("muster-sqlite-ckpt".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if seen.swap(false, Ordering::AcqRel) {
                        checkpoint(&conn);
                    }
                }
                checkpoint(&conn);
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite checkpointer: {e}")))?;
        Ok(Self { dirty, stop, thread })
    }

    /// Checkpoints what is committed one last time and stops.
    pub(crate) fn stop(self) {
        let Self { stop, thread, .. } = self;
        drop(stop);
        let _ = thread.join();
    }
}

fn checkpoint(conn: &Connection) {
    // A busy database only means a later pass copies more; other failures are worth a line.
    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(%error, "WAL checkpoint failed");
    }
}

#[cfg(test)]
mod tests {
    use muster_core::incident::Incident;
    use muster_core::store::{IncidentStore, WriteBatch};
    use muster_core::{IncidentId, Timestamp};

    use crate::SqliteStore;

    /// The writer never checkpoints: what it commits reaches the database file (not only the
    /// WAL) because the checkpointer copies it there.
    #[tokio::test]
    async fn commits_reach_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("muster.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
        let incidents: Vec<Incident> = (1..=500)
            .map(|id| {
                let mut incident = Incident::new(IncidentId::new(id).unwrap(), Timestamp::from_secs(1_700_000_000));
                incident.description = Some("x".repeat(2_000));
                incident.meta.version = 1;
                incident
            })
            .collect();
        let before = std::fs::metadata(&path).unwrap().len();
        store.write(WriteBatch { incidents, ..Default::default() }).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 1_000_000 {
            assert!(std::time::Instant::now() < deadline, "the WAL was not copied back into the database file");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        store.close().await;
    }
}
