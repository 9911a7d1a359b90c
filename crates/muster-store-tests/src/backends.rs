//! Fresh, throw-away databases for each test: a temp SQLite file, or a uniquely named PostgreSQL
//! database that is dropped afterwards (even when the test panics).

use std::sync::Arc;

use muster_core::store::Store;
use muster_store_postgres::PostgresStore;
use muster_store_sqlite::SqliteStore;
use sqlx::Connection;

/// The environment variable naming the PostgreSQL server the contract suite may use.
pub const POSTGRES_URL_VAR: &str = "MUSTER_TEST_DATABASE_URL";

/// A store on a database that disappears with this value.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    _sqlite_dir: Option<tempfile::TempDir>,
    // Kept so the database is dropped with this value.
    _postgres: Option<PostgresDb>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("backend", &self.store.backend()).finish()
    }
}

impl TestDb {
    /// A store on a new SQLite file in a temp directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("muster.db").display());
        let store = SqliteStore::open(&url).await.expect("open SQLite store");
        Self { store: Arc::new(store), _sqlite_dir: Some(dir), _postgres: None }
    }

    /// A store on a new PostgreSQL database, or `None` (with a message) when no server is configured.
    pub async fn postgres() -> Option<Self> {
        let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!("skipping the PostgreSQL contract suite: {POSTGRES_URL_VAR} is not set");
            return None;
        };
        let db = PostgresDb::create(&base).await;
        let store = PostgresStore::connect(&db.url).await.expect("open PostgreSQL store");
        Some(Self { store: Arc::new(store), _sqlite_dir: None, _postgres: Some(db) })
    }
}

/// A uniquely named PostgreSQL database, dropped on drop.
struct PostgresDb {
    admin_url: String,
    name: String,
    url: String,
}

/// Replaces the database name (the last path segment) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = url.split_once('?').map_or((url, None), |(h, q)| (h, Some(q)));
    let base = match head.rfind('/') {
        Some(i) if i > head.find("://").map_or(0, |s| s + 2) => &head[..i],
        _ => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl PostgresDb {
    async fn create(admin_url: &str) -> Self {
        let name = format!("muster_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
        let _ = conn.close().await;
        Self { admin_url: admin_url.to_owned(), url: with_database(admin_url, &name), name }
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
    }
}
