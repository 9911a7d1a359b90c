//! Muster's HTTP server: the Graph-compatible API and the web UI over a `Store`.
//!
//! `app` builds the router without a socket, so tests can drive it in-process; `serve` runs it on
//! a bound listener until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::Router;
use muster_core::correlation::CorrelationConfig;
use muster_core::store::Store;
use muster_core::time::{Clock, SystemClock};

pub mod accounts;
mod api;
pub mod auth;
mod config;
pub mod correlator;
mod error;
mod headers;
pub mod live;
mod middleware;
mod web;

pub use api::openapi::undocumented as undocumented_routes;
pub use auth::{Access, RouteSpec};
pub use config::{ServerConfig, DEFAULT_BODY_LIMIT_BYTES, DEFAULT_LISTEN, DEFAULT_REQUEST_TIMEOUT_SECS};
pub use error::{ApiError, ErrorCode, ErrorDetail, RequestIds};

use auth::throttle::LoginThrottle;
use auth::{AccessTable, Routes};
use correlator::Correlator;
use live::ChangeFeed;

/// What every handler can reach. Cheap to clone: everything is behind an `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ServerConfig>,
    /// The declared access of every route; filled in by `app`.
    pub access: AccessTable,
    pub throttle: Arc<LoginThrottle>,
    pub correlation: Arc<CorrelationConfig>,
    /// Every committed change, for live pages.
    pub feed: ChangeFeed,
    /// Built on first use (or by `warm_up`) from what storage holds.
    correlator: Arc<tokio::sync::OnceCell<Arc<Correlator>>>,
}

impl AppState {
    /// State on the wall clock.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            config: Arc::new(config),
            access: AccessTable::default(),
            throttle: Arc::new(LoginThrottle::with_defaults()),
            correlation: Arc::new(CorrelationConfig::default()),
            feed: ChangeFeed::default(),
            correlator: Arc::default(),
        }
    }

    pub fn with_correlation(mut self, config: CorrelationConfig) -> Self {
        self.correlation = Arc::new(config);
        self
    }

    /// The correlation engine, its memory rebuilt from storage the first time it is asked for.
    pub async fn correlator(&self) -> Result<Arc<Correlator>, ApiError> {
        let correlator = self
            .correlator
            .get_or_try_init(|| async {
                Correlator::start_with_feed(self.store.clone(), (*self.correlation).clone(), self.feed.clone())
                    .await
                    .map(Arc::new)
            })
            .await?;
        Ok(correlator.clone())
    }

    /// Loads the engine's window before the server reports ready.
    pub async fn warm_up(&self) -> Result<(), ApiError> {
        self.correlator().await.map(|_| ())
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// Every route of the application, each with the access it declares.
fn routes() -> Routes {
    Routes::new().merge(api::routes()).merge(auth::login::routes()).merge(web::routes())
}

/// The route table: every route with the access it needs, for audits and tests.
pub fn route_table() -> Vec<RouteSpec> {
    routes().into_parts().1.specs().to_vec()
}

/// The whole application: every route with its middleware.
pub fn app(mut state: AppState) -> Router {
    let (router, table) = routes().into_parts();
    state.access = table;
    // Layers run after routing, so the access check sees which route matched; the client's
    // address is resolved first.
    let routed = router
        .fallback(api::not_found)
        .layer(from_fn_with_state(state.clone(), auth::guard::guard))
        .layer(from_fn_with_state(state.clone(), auth::client::client_addr))
        .layer(from_fn_with_state(state.clone(), headers::security_headers))
        .layer(axum::middleware::from_fn(api::members::preference_applied))
        .with_state(state.clone());
    middleware::layers(routed, &state.config, state.clock)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let feed = state.feed.clone();
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    // Live streams never end by themselves: closing the feed ends them, so shutdown can finish.
    let shutdown = async move {
        shutdown.await;
        feed.close();
    };
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
}
