//! The browser side of live updates: `live.js`, which listens to `/v1.0/muster/events` and turns
//! each change into DOM events htmx triggers can name, and the queue's "new incidents" notice.
//!
//! Events dispatched on `document.body` (for `hx-trigger="… from:body"`):
//! - `muster:incident` on any change, `detail = {incidentId, kind}`;
//! - `muster:incident-{id}` on a change to incident `id`;
//! - `muster:created` when a new incident appears.
//!
//! The queue includes `<div hx-get="/live/new-incidents?since={highest id shown}"
//! hx-trigger="muster:created from:body" hx-swap="innerHTML"></div>` and an element with
//! `data-events="/v1.0/muster/events"` (which starts the listener) to show "N new incidents —
//! refresh".

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use muster_core::store::query::{Comparison, Filter, IncidentField, IncidentQuery, Value as QueryValue};
use serde::Deserialize;

use super::render;
use crate::api::query::within_groups;
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new()
        .get("/static/live.js", Access::Public, script)
        .get("/static/incident.css", Access::Public, stylesheet)
        .get("/live/new-incidents", Access::Read, new_incidents)
}

async fn script() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/live.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/incident.css"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    since: Option<String>,
}

#[derive(Template)]
#[template(path = "live/new_incidents.html")]
struct NewIncidents {
    count: u64,
}

/// "N new incidents — refresh": how many incidents the caller may see have an id above `since`.
async fn new_incidents(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<NewQuery>,
) -> Result<Response, ApiError> {
    let since = query.since.as_deref().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(i64::MAX);
    let mut query = IncidentQuery {
        filter: Filter::Compare { field: IncidentField::Id, op: Comparison::Gt, value: QueryValue::Int(since) },
        ..IncidentQuery::default()
    };
    if let Some(groups) = principal.scope.groups() {
        within_groups(&mut query, groups);
    }
    let count = state.store.count_incidents(&query).await?;
    Ok(render(&NewIncidents { count }))
}
