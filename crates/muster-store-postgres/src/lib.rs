//! Muster's storage on PostgreSQL, for teams that outgrow one machine: several `muster serve` nodes
//! share one database. One pool per process, migrations applied on connect (under sqlx's advisory
//! lock, so nodes starting together apply them once).
//!
//! Behaviour is the SQLite backend's, statement for statement: the shared contract suite runs the
//! same scenarios on both.

mod access;
mod incidents;
mod query;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use muster_core::store::{Store, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many connections one node keeps at most.
const MAX_CONNECTIONS: u32 = 10;
/// How long to wait for a connection (including opening one) before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(6);
/// After the pool gave up at start-up, how long one direct attempt may take to say why.
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:5432/muster`, or `postgresql://...`) and
    /// applies pending migrations. An unreachable server fails within about ten seconds.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
            return Err(StoreError::Backend(
                "invalid PostgreSQL URL: expected postgres://user:password@host:port/database".into(),
            ));
        }
        let mut options = PgConnectOptions::from_str(url)
            // The parser's messages never contain the password.
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        if !url.contains("application_name=") {
            options = options.application_name("muster");
        }
        let place = describe(&options);
        let pool = match PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => pool,
            Err(sqlx::Error::PoolTimedOut) => {
                // The pool retries refused connections until its deadline and then only says it
                // timed out; one direct attempt tells the operator why.
                let why = match tokio::time::timeout(DIAGNOSE_TIMEOUT, sqlx::PgConnection::connect_with(&options)).await
                {
                    Ok(Ok(conn)) => {
                        let _ = conn.close().await;
                        "the server was too slow to answer".to_owned()
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "no answer (is the host reachable and the port open?)".to_owned(),
                };
                let secs = ACQUIRE_TIMEOUT.as_secs();
                return Err(StoreError::Backend(format!(
                    "cannot connect to PostgreSQL at {place} (tried for {secs} s): {why}"
                )));
            }
            Err(e) => return Err(StoreError::Backend(format!("cannot connect to PostgreSQL at {place}: {e}"))),
        };
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    /// Brings the planner's statistics and the visibility map up to date after a bulk load, as
    /// autovacuum would in a while: plans need the one, index-only scans the other.
    pub async fn refresh_statistics(&self) -> StoreResult<()> {
        // VACUUM runs outside a transaction, so as a simple query.
        sqlx::raw_sql("VACUUM (ANALYZE) incidents, incident_facets, alerts, entity_keys")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot refresh statistics: {e}")))?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `host:port/database`, for messages: never the password.
fn describe(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or(options.get_username());
    format!("{}:{}/{database}", options.get_host(), options.get_port())
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend)?;
        Ok(())
    }
}

/// Maps driver errors to storage errors; unique violations become conflicts.
pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
        sqlx::Error::PoolTimedOut => StoreError::Backend(format!(
            "no PostgreSQL connection within {} s (server unreachable or all {MAX_CONNECTIONS} connections busy)",
            ACQUIRE_TIMEOUT.as_secs()
        )),
        _ => StoreError::Backend(err.to_string()),
    }
}
