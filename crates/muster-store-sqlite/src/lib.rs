//! Muster's embedded storage: one SQLite file in WAL mode, one writer thread and a pool of
//! read-only connections, migrations applied on open.
//!
//! Ingest is what this backend is shaped for: alert bodies are compressed against a trained
//! dictionary ([`codec`]), and the lookups by alert id and entity key are indexed in bulk rather
//! than per commit ([`deferred`]), so a batch writes little more than its own rows.

mod access;
mod alerts;
mod checkpointer;
mod codec;
mod connection;
mod deferred;
mod history;
mod id_filter;
mod incident_store;
mod incidents;
mod query;
mod sessions;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;

use muster_core::store::{BodyCodec, BodyKind, PackedBody, Store, StoreError, StoreResult};
use rusqlite::Connection;

use crate::codec::Codec;
use crate::deferred::Deferred;
use crate::writer::{Writer, WriterState};

/// What the writer and the readers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) deferred: Deferred,
    pub(crate) codec: Arc<Codec>,
    /// Set by [`SqliteStore::close`]: nothing is read or written after.
    closed: std::sync::atomic::AtomicBool,
}

/// The codec as callers see it: they compress, the writer stores.
#[derive(Debug)]
struct Packer(Arc<Codec>);

impl BodyCodec for Packer {
    fn pack(&self, kind: BodyKind, json: &str) -> StoreResult<PackedBody> {
        self.0.encode(kind, json.as_bytes())
    }
}

type ReaderPool = r2d2::Pool<r2d2_sqlite::SqliteConnectionManager>;

/// Tuning of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How many of the newest alerts are found by id and entity key from memory before they are
    /// indexed on disk in one pass: more means fewer, larger passes.
    pub deferred_flush_min: usize,
    /// WAL frames (pages) after which the WAL is started over between two transactions, so a
    /// steady stream of writes keeps it this long rather than growing it for as long as it lasts.
    pub wal_restart_frames: i64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { deferred_flush_min: deferred::FLUSH_MIN, wal_restart_frames: checkpointer::RESTART_FRAMES }
    }
}

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: ReaderPool,
    shared: Arc<Shared>,
    path: Arc<PathBuf>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://muster.db`,
    /// `sqlite:///var/lib/muster/muster.db`) and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, SqliteOptions::default()).await
    }

    /// [`Self::open`] with settings other than the defaults.
    pub async fn open_with(url: &str, options: SqliteOptions) -> StoreResult<Self> {
        let path = connection::path_of(url)?;
        let opening = path.clone();
        let (conn, shared) = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            let conn = connection::open_writer(&opening)?;
            let shared = Arc::new(Shared {
                deferred: Deferred::load(&conn, options.deferred_flush_min)?,
                codec: Arc::new(Codec::load(&conn)?),
                closed: Default::default(),
            });
            Ok((conn, shared))
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database failed: {e}")))??;
        let readers = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .build(connection::reader_manager(&path))
            .map_err(|e| StoreError::Backend(format!("cannot open readers on {}: {e}", path.display())))?;
        let writer = Writer::spawn(
            WriterState { conn, shared: shared.clone(), path: path.clone(), ingest_lock: None },
            options.wal_restart_frames,
        )?;
        Ok(Self { writer, readers, shared, path: Arc::new(path) })
    }

    /// Lets writes in flight finish and closes the writer, checkpointing the WAL; reads are
    /// refused from now on.
    pub async fn close(&self) {
        self.shared.closed.store(true, std::sync::atomic::Ordering::Release);
        self.writer.close().await;
    }

    /// Runs `read` on a pooled read-only connection, off the async workers.
    pub(crate) async fn read<T, F>(&self, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Shared) -> StoreResult<T> + Send + 'static,
    {
        if self.shared.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StoreError::Backend("the database is closed".into()));
        }
        let pool = self.readers.clone();
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(|e| StoreError::Backend(format!("no database connection: {e}")))?;
            read(&conn, &shared)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a database read failed: {e}")))?
    }

    /// Runs `write` on the writer connection, after every write sent before it.
    pub(crate) async fn write_with<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterState) -> StoreResult<T> + Send + 'static,
    {
        self.writer.run(write).await
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn body_codec(&self) -> Option<Arc<dyn BodyCodec>> {
        Some(Arc::new(Packer(self.shared.codec.clone())))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn, _| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)).await
    }
}

/// Maps driver errors to storage errors; unique violations become conflicts.
pub(crate) fn backend(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &err {
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        {
            return StoreError::Conflict(message.clone().unwrap_or_else(|| err.to_string()));
        }
    }
    StoreError::Backend(err.to_string())
}

/// A row's optional value, `None` when the query found nothing.
pub(crate) fn optional<T>(result: rusqlite::Result<T>) -> StoreResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(backend(e)),
    }
}
