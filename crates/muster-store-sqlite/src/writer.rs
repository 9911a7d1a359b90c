//! The single writer: one connection on a thread of its own, running jobs in the order they were
//! sent. SQLite allows one writer at a time, so queueing here beats `SQLITE_BUSY`, and a thread
//! (not the async runtime's workers) does the compressing and the B-tree work of large batches.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use muster_core::store::{StoreError, StoreResult};
use rusqlite::Connection;

use crate::checkpointer::Checkpointer;
use crate::Shared;

/// What a job gets to work with.
pub(crate) struct WriterState {
    pub(crate) conn: Connection,
    pub(crate) shared: Arc<Shared>,
    /// The database file, for the ingest lock beside it.
    pub(crate) path: std::path::PathBuf,
    /// Held from the first alert written on: the newest alerts are found from this process's
    /// memory, so only one process may write alerts to a database file.
    pub(crate) ingest_lock: Option<std::fs::File>,
}

impl WriterState {
    /// Takes the ingest lock, unless this process holds it already.
    pub(crate) fn lock_for_ingest(&mut self) -> StoreResult<()> {
        if self.ingest_lock.is_some() {
            return Ok(());
        }
        let mut name = self.path.clone().into_os_string();
        name.push("-ingest.lock");
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&name).map_err(|e| {
                StoreError::Backend(format!("cannot open {}: {e}", std::path::Path::new(&name).display()))
            })?;
        match file.try_lock() {
            Ok(()) => {
                self.ingest_lock = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Backend(
                "another Muster process is storing alerts in this database; stop it first".into(),
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(StoreError::Backend(format!("cannot lock {}: {e}", std::path::Path::new(&name).display())))
            }
        }
    }
}

type Job = Box<dyn FnOnce(&mut WriterState) + Send>;

/// A handle on the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    inner: Arc<Mutex<Option<Inner>>>,
}

#[derive(Debug)]
struct Inner {
    jobs: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
    checkpointer: Checkpointer,
}

const STOPPED: &str = "the SQLite writer has stopped";

impl Writer {
    /// Starts the writer and its checkpointer, which has the WAL started over once it holds
    /// `wal_restart_frames`.
    pub(crate) fn spawn(mut state: WriterState, wal_restart_frames: i64) -> StoreResult<Self> {
        let checkpointer = Checkpointer::spawn(&state.path, wal_restart_frames)?;
        let (written, restart_due) = (checkpointer.dirty.clone(), checkpointer.restart_due.clone());
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("muster-sqlite-writer".into())
            .spawn(move || {
                for job in queue {
                    job(&mut state);
                    written.store(true, Ordering::Release);
                    if restart_due.swap(false, Ordering::AcqRel) {
                        crate::checkpointer::restart(&state.conn);
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { inner: Arc::new(Mutex::new(Some(Inner { jobs, thread, checkpointer }))) })
    }

    /// Runs `job` on the writer connection after every job sent before it.
    pub(crate) async fn run<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterState) -> StoreResult<T> + Send + 'static,
    {
        let (done, outcome) = tokio::sync::oneshot::channel();
        {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner = inner.as_ref().ok_or_else(|| StoreError::Backend(STOPPED.into()))?;
            inner
                .jobs
                .send(Box::new(move |state| {
                    let _ = done.send(job(state));
                }))
                .map_err(|_| StoreError::Backend(STOPPED.into()))?;
        }
        outcome.await.map_err(|_| StoreError::Backend(STOPPED.into()))?
    }

    /// Lets queued jobs finish, closes the connection, and checkpoints the WAL.
    pub(crate) async fn close(&self) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(Inner { jobs, thread, checkpointer }) = inner {
            drop(jobs);
            let _ = tokio::task::spawn_blocking(move || {
                let _ = thread.join();
                checkpointer.stop();
            })
            .await;
        }
    }
}

impl std::fmt::Debug for WriterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterState").field("shared", &self.shared).finish_non_exhaustive()
    }
}
