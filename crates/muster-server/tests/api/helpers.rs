//! `TestApp`: a server on a free port over a fresh SQLite file, shut down when dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use muster_core::access::Role;
use muster_core::store::Store;
use muster_core::time::{Clock, ManualClock};
use muster_core::Timestamp;
use muster_server::accounts::{self, TokenSpec};
use muster_server::{AppState, ServerConfig};
use muster_store_sqlite::SqliteStore;
use muster_store_tests::backends::TestDb;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The store the server uses, for tests that reach behind its back.
    pub store: Arc<dyn Store>,
    /// The server's clock: tests move it to expire sessions, tokens and lockouts.
    pub clock: Arc<ManualClock>,
    sqlite: Option<SqliteStore>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Kept so the database outlives the server.
    _dir: Option<TempDir>,
    _db: Option<TestDb>,
}

/// 2024-05-01T00:00:00Z: the servers under test start their clocks here.
pub fn start_time() -> Timestamp {
    Timestamp::from_secs(1_714_521_600)
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(ServerConfig::default()).await
    }

    pub async fn spawn_with(config: ServerConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("muster.db").display());
        let store = SqliteStore::open(&url).await.expect("open SQLite store");
        let mut app = Self::serve(Arc::new(store.clone()), config).await;
        app.sqlite = Some(store);
        app._dir = Some(dir);
        app
    }

    /// A server over a contract-suite database (SQLite or PostgreSQL).
    pub async fn on(db: TestDb) -> Self {
        let mut app = Self::serve(db.store.clone(), ServerConfig::default()).await;
        app._db = Some(db);
        app
    }

    async fn serve(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let clock = Arc::new(ManualClock::new(start_time()));
        let state = AppState::new(store.clone(), ServerConfig { listen: addr, ..config }).with_clock(clock.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(muster_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self {
            addr,
            client,
            store,
            clock,
            sqlite: None,
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: None,
            _db: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A fresh API token named `name` with `role`, limited to `groups` when any are given.
    pub async fn token(&self, name: &str, role: Role, groups: &[&str]) -> String {
        let spec = TokenSpec {
            name: name.into(),
            role,
            user: None,
            expires_in_days: None,
            device_groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        accounts::create_token(self.store.as_ref(), spec, "test", self.clock.now()).await.expect("create token").1
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// Closes the SQLite store under the running server.
    pub async fn close_store(&self) {
        self.sqlite.as_ref().expect("a SQLite app").close().await;
    }

    /// Stops the server and starts a new one (fresh state, engine rebuilt) on the same database.
    pub async fn restart(mut self) -> Self {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        let mut next = Self::serve(self.store.clone(), ServerConfig::default()).await;
        next._db = self._db.take();
        next._dir = self._dir.take();
        next.sqlite = self.sqlite.take();
        next
    }

    /// Stops the server and waits until it has; it must stop cleanly.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Checks a response is a Graph error with `code` and returns its `error` object.
pub async fn graph_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let request_id = response.headers().get("request-id").expect("request-id header").to_str().unwrap().to_owned();
    let body: Value = response.json().await.expect("JSON body");
    let error = body["error"].clone();
    assert_eq!(error["code"], code, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(error["target"], Value::Null);
    assert_eq!(error["details"], Value::Array(vec![]));
    let inner = &error["innerError"];
    assert_eq!(inner["request-id"], request_id.as_str());
    assert!(inner["client-request-id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()), "{body}");
    assert!(inner["date"].as_str().is_some_and(|d| d.parse::<muster_core::Timestamp>().is_ok()), "{body}");
    error
}
