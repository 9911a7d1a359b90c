//! `GET /v1.0/muster/incidents/facets`: how many incidents a queue view selects per value of each
//! filter, so a filter panel can show counts beside its choices.

use axum::extract::{Query, State};
use axum::{Extension, Json};
use muster_core::store::query::counts::FacetCounts;
use muster_core::store::query::IncidentField;
use serde::Deserialize;
use serde_json::{json, Value};

use super::incidents::scoped;
use super::query::{selection, ListOptions};
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::AppState;

/// Incidents counted unless `limit` says otherwise: the newest of a view, enough for counts that
/// guide a choice, few enough to answer within a filter panel's budget at a million incidents.
pub(crate) const DEFAULT_LIMIT: u32 = 10_000;
const MAX_LIMIT: u32 = 100_000;
/// Values listed per property, most frequent first.
const MAX_VALUES: usize = 100;

pub(crate) fn routes() -> Routes {
    Routes::new().get("/v1.0/muster/incidents/facets", Access::Read, facets)
}

#[derive(Debug, Deserialize)]
struct FacetOptions {
    #[serde(rename = "$filter")]
    filter: Option<String>,
    #[serde(rename = "$search")]
    search: Option<String>,
    limit: Option<String>,
}

fn limit_of(text: Option<&str>) -> Result<u32, ApiError> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => {
            Err(ApiError::invalid_request(format!("limit must be a whole number from 1 to {MAX_LIMIT}, not '{text}'."))
                .with_target("limit"))
        }
    }
}

/// The counts as JSON: one entry per property, each value with its count (`null`: unset).
pub(crate) fn counts_json(counts: &FacetCounts) -> Value {
    let properties: Vec<Value> = counts
        .properties
        .iter()
        .map(|(property, values)| {
            let values: Vec<Value> =
                values.iter().take(MAX_VALUES).map(|v| json!({ "value": v.value, "count": v.count })).collect();
            json!({ "property": property.name(), "values": values })
        })
        .collect();
    json!({ "counted": counts.counted, "complete": counts.complete(), "limit": counts.limit, "facets": properties })
}

async fn facets(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(options): Query<FacetOptions>,
) -> Result<Json<Value>, ApiError> {
    let limit = limit_of(options.limit.as_deref())?;
    let list = ListOptions { filter: options.filter, search: options.search, ..ListOptions::default() };
    let query = scoped(selection::<IncidentField>(&list)?, &principal);
    let counts = state.store.incident_facet_counts(&query, limit).await?;
    Ok(Json(counts_json(&counts)))
}
