//! The HTTP API. Each area exports `router()`; this module merges them, so a route is declared next
//! to its handler.

use axum::http::{Method, Uri};

use crate::auth::Routes;
use crate::error::{ApiError, ErrorCode};

mod admin;
pub(crate) mod alerts;
mod entities;
mod events;
pub(crate) mod facets;
mod health;
pub(crate) mod incidents;
pub(crate) mod manage;
pub(crate) mod members;
pub mod openapi;
mod paging;
pub(crate) mod query;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .merge(health::routes())
        .merge(admin::routes())
        .merge(alerts::routes())
        .merge(incidents::routes())
        .merge(manage::routes())
        .merge(entities::routes())
        .merge(facets::routes())
        .merge(events::routes())
        .merge(openapi::routes())
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("No resource matches {method} {}.", uri.path()))
}
