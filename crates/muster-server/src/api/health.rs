//! Probes for orchestrators. Both are public (DESIGN §7): they say whether Muster runs, not what it
//! holds.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::{Access, Routes};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new().get("/healthz", Access::Public, healthz).get("/readyz", Access::Public, readyz)
}

/// Liveness: the process answers. Touches nothing else, so a slow database never gets the process
/// restarted.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers too, so a load balancer can route around a node that lost it.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let backend = state.store.backend();
    match state.store.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ready", "database": backend }))),
        Err(error) => {
            Err(ApiError::new(ErrorCode::ServiceNotAvailable, format!("The {backend} database is not reachable."))
                .with_cause(error))
        }
    }
}
