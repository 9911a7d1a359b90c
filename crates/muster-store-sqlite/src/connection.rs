//! Opening the database file: its path from the URL, the pragmas every connection runs with, and
//! the migrations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use muster_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, M};

use crate::backend;

/// The file a `sqlite://FILE` (or `sqlite:FILE`) URL names; query parameters are not supported.
pub(crate) fn path_of(url: &str) -> StoreResult<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Backend(format!("'{url}' is not a sqlite:// URL")))?;
    if rest.contains('?') {
        return Err(StoreError::Backend("SQLite URLs take no options: use sqlite://PATH".into()));
    }
    if rest.is_empty() || rest == ":memory:" {
        return Err(StoreError::Backend("a SQLite URL must name a file: sqlite://PATH".into()));
    }
    Ok(PathBuf::from(rest))
}

/// How long a connection waits for a lock another holds before it gives up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings every connection shares. Readers keep a small page cache each (the operating system
/// caches the file for all of them); the writer a large one, since it revisits the same index
/// pages batch after batch.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8192;",
    )
}

/// The writer's own settings on top.
fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    configure(conn)?;
    conn.execute_batch("PRAGMA cache_size = -65536;")?;
    conn.execute_batch(
        // Committed means on disk: a 2xx answer to an ingest promises the alerts are kept.
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         -- The checkpointer's thread copies the WAL back, not the writer (see crate::checkpointer).
         PRAGMA wal_autocheckpoint = 0;
         -- The WAL shrinks back after a checkpoint instead of keeping its peak size.
         PRAGMA journal_size_limit = 67108864;",
    )
}

/// A read-write connection on the file, created if missing.
fn open_file(path: &Path) -> StoreResult<Connection> {
    Connection::open(path).map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))
}

/// Opens the single writer connection (creating the file), migrating it first.
pub(crate) fn open_writer(path: &Path) -> StoreResult<Connection> {
    let mut conn = open_file(path)?;
    // Before anything is changed: a database this version cannot read is left as it is.
    refuse_pre_release_layout(&conn)?;
    configure_writer(&conn).map_err(backend)?;
    migrations().to_latest(&mut conn).map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
    Ok(conn)
}

/// The checkpointer's connection: it writes only what the WAL holds already.
pub(crate) fn open_checkpointer(path: &Path) -> StoreResult<Connection> {
    let conn = open_file(path)?;
    configure(&conn).map_err(backend)?;
    Ok(conn)
}

/// The reader pool's connections: read-only, so no code path can write around the writer.
pub(crate) fn reader_manager(path: &PathBuf) -> r2d2_sqlite::SqliteConnectionManager {
    r2d2_sqlite::SqliteConnectionManager::file(path)
        .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_init(|conn| configure(conn))
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/0001_initial.sql")),
        M::up(include_str!("../migrations/0002_preferences.sql")),
        M::up(include_str!("../migrations/0003_incident_search.sql")),
    ])
}

/// Databases made by development builds before the schema was settled kept their migrations in
/// `_sqlx_migrations`; their layout cannot be read by this version.
fn refuse_pre_release_layout(conn: &Connection) -> StoreResult<()> {
    let old: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')", [], |r| r.get(0))
        .map_err(backend)?;
    if old {
        return Err(StoreError::Backend(
            "this database was created by a development build with an older layout; \
             move it aside and start with a new one"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files() {
        assert_eq!(path_of("sqlite://muster.db").unwrap(), PathBuf::from("muster.db"));
        assert_eq!(path_of("sqlite:///var/lib/muster/m.db").unwrap(), PathBuf::from("/var/lib/muster/m.db"));
        assert_eq!(path_of("sqlite:m.db").unwrap(), PathBuf::from("m.db"));
        assert!(path_of("sqlite://m.db?mode=ro").is_err());
        assert!(path_of("sqlite::memory:").is_err());
        assert!(path_of("postgres://x").is_err());
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }
}
