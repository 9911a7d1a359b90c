//! `/v1.0/security/incidents`: the read side, with the queue's OData (`$filter`, `$orderby`,
//! `$search`, `$count`, `$expand=alerts`, `$select`, keyset next links).

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::{stream, StreamExt, TryStreamExt};
use muster_core::manage::{INCIDENT_NAVIGATION, INCIDENT_PROPERTIES};
use muster_core::store::query::{AlertQuery, IncidentField, IncidentQuery};
use muster_core::{Incident, IncidentId};
use serde_json::{Map, Value};

use super::alerts::{alert_json, alert_visible};
use super::members::EnumMembers;
use super::paging::{base_url, collection, next_link, project};
use super::query::{list_request, selection, token, within_groups, ListOptions, PageLimits};
use crate::auth::{Access, Principal, Routes};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

const PATH: &str = "/v1.0/security/incidents";
const INCIDENT_TYPE: &str = "#microsoft.graph.security.incident";
/// Graph refuses incident pages above 50.
const MAX_TOP: u32 = 50;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get(PATH, Access::Read, list)
        .get("/v1.0/security/incidents/$count", Access::Read, count)
        .get("/v1.0/security/incidents/{id}", Access::Read, get_one)
        .get("/v1.0/security/incidents/{id}/alerts", Access::Read, alerts_of)
}

/// An incident as a client sees it.
pub(crate) fn incident_json(incident: &Incident, members: EnumMembers) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("@odata.type".into(), Value::String(INCIDENT_TYPE.into()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(incident) {
        map.extend(fields);
    }
    members.incident(&mut map);
    map
}

/// Graph's page size for incidents, and its limit.
const LIMITS: PageLimits = PageLimits { default: MAX_TOP, max: MAX_TOP, strict: true };
/// `$expand=alerts` brings at most this many alerts per incident, newest activity first; the
/// rest are a page of `/incidents/{id}/alerts` away.
const EXPANDED_ALERTS: u32 = 150;
/// How many incidents of a page read their alerts at the same time for `$expand=alerts`.
const EXPANDING_AT_ONCE: usize = 8;

/// The incident query of a request, limited to the caller's device groups.
pub(crate) fn scoped(mut query: IncidentQuery, principal: &Principal) -> IncidentQuery {
    if let Some(groups) = principal.scope.groups() {
        within_groups(&mut query, groups);
    }
    query
}

/// An incident with its alerts (`$expand=alerts`), as the caller may see them.
async fn with_alerts(
    state: &AppState,
    principal: &Principal,
    members: EnumMembers,
    incident: &Incident,
) -> Result<Value, ApiError> {
    let mut json = incident_json(incident, members);
    let query = AlertQuery::of_incident(incident.id, EXPANDED_ALERTS);
    let alerts = state.store.query_alerts(&query).await?;
    let alerts: Vec<Value> = alerts
        .items
        .iter()
        .filter(|a| alert_visible(&principal.scope, &a.alert))
        .map(|a| Value::Object(alert_json(a, members)))
        .collect();
    json.insert("alerts".into(), Value::Array(alerts));
    Ok(Value::Object(json))
}

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    members: EnumMembers,
    headers: HeaderMap,
    Query(options): Query<ListOptions>,
) -> Result<Json<Value>, ApiError> {
    let request = list_request::<IncidentField>(&options, LIMITS, INCIDENT_PROPERTIES, INCIDENT_NAVIGATION)?;
    let query = scoped(request.query, &principal);
    let page = state.store.query_incidents(&query).await?;
    let count = if request.count { Some(state.store.count_incidents(&query).await?) } else { None };
    let base = base_url(&state, &headers);
    let next =
        page.next.as_ref().map(|cursor| next_link(&base, PATH, &options, query.top, &token::encode(&query, cursor)));
    let expand = request.expand.iter().any(|e| e == "alerts");
    let visible: Vec<&Incident> = page.items.iter().filter(|i| principal.scope.allows(i)).collect();
    let items: Vec<Value> = if expand {
        // Each incident's alerts are a query of their own: a few at once, kept in page order.
        let reads: Vec<_> =
            visible.into_iter().map(|incident| with_alerts(&state, &principal, members, incident)).collect();
        stream::iter(reads).buffered(EXPANDING_AT_ONCE).try_collect().await?
    } else {
        visible.into_iter().map(|incident| Value::Object(incident_json(incident, members))).collect()
    };
    let items = items.into_iter().map(|item| select(item, request.select.as_deref())).collect();
    Ok(Json(collection(&base, "security/incidents", items, count, next)))
}

/// Keeps the `$select`ed properties (and an expansion, which `$select` does not name).
fn select(item: Value, names: Option<&[String]>) -> Value {
    let Value::Object(mut map) = item else { return item };
    let alerts = map.remove("alerts");
    let mut map = project(map, names);
    if let Some(alerts) = alerts {
        map.insert("alerts".into(), alerts);
    }
    Value::Object(map)
}

/// `GET /incidents/$count`: how many incidents the filter and search select, as plain text.
async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(options): Query<ListOptions>,
) -> Result<Response, ApiError> {
    let query = scoped(selection::<IncidentField>(&options)?, &principal);
    let n = state.store.count_incidents(&query).await?;
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], n.to_string()).into_response())
}

/// The incident a path names, if the caller may see it.
async fn visible_incident(state: &AppState, principal: &Principal, id: &str) -> Result<Incident, ApiError> {
    let missing = || ApiError::new(ErrorCode::ItemNotFound, format!("No incident with id '{id}'."));
    let id: IncidentId = id.parse().map_err(|_| missing())?;
    // Outside the caller's device groups is the same as not there.
    state.store.incident(id).await?.filter(|i| principal.scope.allows(i)).ok_or_else(missing)
}

async fn get_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    members: EnumMembers,
    Path(id): Path<String>,
    Query(options): Query<ListOptions>,
) -> Result<Response, ApiError> {
    // Only `$select` and `$expand` apply to one incident.
    let request = list_request::<IncidentField>(
        &ListOptions { select: options.select, expand: options.expand, ..ListOptions::default() },
        LIMITS,
        INCIDENT_PROPERTIES,
        INCIDENT_NAVIGATION,
    )?;
    let incident = visible_incident(&state, &principal, &id).await?;
    let item = if request.expand.iter().any(|e| e == "alerts") {
        with_alerts(&state, &principal, members, &incident).await?
    } else {
        Value::Object(incident_json(&incident, members))
    };
    let mut response = Json(select(item, request.select.as_deref())).into_response();
    // The version a PATCH with If-Match must name.
    response.headers_mut().insert(axum::http::header::ETAG, super::manage::etag(&incident));
    Ok(response)
}

/// `GET /incidents/{id}/alerts`: the incident's alerts, with the alert list's options.
async fn alerts_of(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(options): Query<ListOptions>,
) -> Result<Json<Value>, ApiError> {
    let incident = visible_incident(&state, &principal, &id).await?;
    let path = format!("{PATH}/{}/alerts", incident.id);
    super::alerts::list_page(&state, &principal, &headers, &options, &path, Some(incident.id)).await.map(Json)
}
