//! Muster's embedded storage: one SQLite file in WAL mode, one writer connection and a pool of
//! readers, migrations applied on open.

mod access;
mod incidents;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use muster_core::store::{Store, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The single writer: SQLite allows one at a time, so queueing here beats `SQLITE_BUSY`.
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://muster.db`,
    /// `sqlite:///var/lib/muster/muster.db`) and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Committed means on disk: a 2xx answer to an ingest promises the alerts are kept.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Checkpoint every ~40 MB of WAL rather than every 4 MB: pages that each batch rewrites
            // (index tails, busy incidents) are copied into the database once, not once per batch.
            .pragma("wal_autocheckpoint", "10000")
            // ...and the WAL file shrinks back after a checkpoint instead of keeping its peak size.
            .pragma("journal_size_limit", "67108864");
        let writer =
            SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.map_err(backend)?;
        MIGRATOR.run(&writer).await.map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let readers =
            SqlitePoolOptions::new().max_connections(8).connect_with(options.read_only(true)).await.map_err(backend)?;
        Ok(Self { writer, readers })
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await.map_err(backend)?;
        Ok(())
    }
}

/// Maps driver errors to storage errors; unique violations become conflicts.
pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Conflict(db.message().to_owned());
        }
    }
    StoreError::Backend(err.to_string())
}
