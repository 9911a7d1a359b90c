//! `/v1.0/security/incidents`: the read side (the queue's full OData builds on this).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use muster_core::store::PageRequest;
use muster_core::{Incident, IncidentId};
use serde_json::{Map, Value};

use super::paging::{base_url, collection, decode_skiptoken, next_link, page_size, project, selection, ListQuery};
use crate::auth::{Access, Principal, Routes};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

const PATH: &str = "/v1.0/security/incidents";
const INCIDENT_TYPE: &str = "#microsoft.graph.security.incident";
/// Graph refuses incident pages above 50.
const MAX_TOP: u32 = 50;

pub(crate) fn routes() -> Routes {
    Routes::new().get(PATH, Access::Read, list).get("/v1.0/security/incidents/{id}", Access::Read, get_one)
}

/// An incident as a client sees it.
pub(crate) fn incident_json(incident: &Incident) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("@odata.type".into(), Value::String(INCIDENT_TYPE.into()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(incident) {
        map.extend(fields);
    }
    map
}

const INCIDENT_PROPERTIES: &[&str] = &[
    "id",
    "assignedTo",
    "classification",
    "comments",
    "createdDateTime",
    "customTags",
    "description",
    "determination",
    "displayName",
    "incidentWebUrl",
    "lastModifiedBy",
    "lastUpdateDateTime",
    "priorityScore",
    "redirectIncidentId",
    "resolvingComment",
    "severity",
    "status",
    "summary",
    "systemTags",
    "tenantId",
    "firstActivityDateTime",
    "lastActivityDateTime",
    "alertCount",
    "activeAlertCount",
    "categories",
    "mitreTechniques",
    "serviceSources",
    "detectionSources",
    "impactedAssets",
    "osPlatforms",
    "deviceGroups",
    "investigationStates",
    "dataSensitivity",
];

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let top = page_size(query.top.as_deref(), MAX_TOP, MAX_TOP, true)?;
    let after = decode_skiptoken(query.skiptoken.as_deref())?;
    let select = selection(query.select.as_deref(), &Map::new(), INCIDENT_PROPERTIES)?;
    let page = state.store.list_incidents(&PageRequest { limit: top, after }).await?;
    let next = (page.len() == top as usize).then(|| {
        let last = &page[page.len() - 1];
        let at = last.last_activity_date_time.unwrap_or(last.created_date_time).micros();
        next_link(&base_url(&state, &headers), PATH, &query, top, (at, last.id.get()))
    });
    let items: Vec<Value> = page
        .iter()
        .filter(|i| principal.scope.allows(i))
        .map(|i| Value::Object(project(incident_json(i), select.as_deref())))
        .collect();
    Ok(Json(collection(&base_url(&state, &headers), "security/incidents", items, next)))
}

async fn get_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::new(ErrorCode::ItemNotFound, format!("No incident with id '{id}'."));
    let id: IncidentId = id.parse().map_err(|_| missing())?;
    // Outside the caller's device groups is the same as not there.
    let incident = state.store.incident(id).await?.filter(|i| principal.scope.allows(i)).ok_or_else(missing)?;
    let mut response = Json(Value::Object(incident_json(&incident))).into_response();
    response.headers_mut().insert(axum::http::header::ETAG, super::manage::etag(&incident));
    Ok(response)
}
