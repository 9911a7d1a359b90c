//! `/v1.0/security/alerts_v2`: ingest (one alert, a JSON array, or NDJSON) and the read side.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use muster_core::correlation::device_groups;
use muster_core::manage::ALERT_PROPERTIES;
use muster_core::store::query::{AlertField, AlertQuery, Filter};
use muster_core::store::StoredAlert;
use muster_core::{Alert, IncidentId};
use serde_json::{json, Map, Value};

use super::members::EnumMembers;
use super::paging::{base_url, collection, next_link, project};
use super::query::{list_request, selection, token, ListOptions, PageLimits};
use crate::auth::{Access, Principal, Routes, Scope};
use crate::error::{ApiError, ErrorCode, ErrorDetail};
use crate::AppState;

const PATH: &str = "/v1.0/security/alerts_v2";
const ALERT_TYPE: &str = "#microsoft.graph.security.alert";
/// Alerts pages are clamped here, as Graph does.
const MAX_TOP: u32 = 1000;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .post(PATH, Access::Ingest, ingest)
        .get(PATH, Access::Read, list)
        .get("/v1.0/security/alerts_v2/$count", Access::Read, count)
        .get("/v1.0/security/alerts_v2/{id}", Access::Read, get_one)
}

/// One refused item of a batch.
struct Refusal {
    index: usize,
    message: String,
}

/// A batch split into its valid alerts (with their index in the body) and its refusals.
struct Batch {
    alerts: Vec<(usize, Alert)>,
    refused: Vec<Refusal>,
}

/// Splits a body into alerts: NDJSON by content type, else one JSON object or an array of them.
/// Items that are not valid alerts are refused with their index; the rest go on.
fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Batch, ApiError> {
    let ndjson = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson") || v.starts_with("application/jsonl"));
    let mut alerts = Vec::new();
    let mut refused = Vec::new();
    let mut take = |index: usize, parsed: Result<Alert, String>| match parsed {
        Ok(alert) => alerts.push((index, alert)),
        Err(message) => refused.push(Refusal { index, message }),
    };
    if ndjson {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "The NDJSON body is not UTF-8."))?;
        // Indexes are line numbers from 0, blank lines included, so they point at what was sent.
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            take(index, Alert::from_json(line.as_bytes()).map_err(|e| e.message));
        }
    } else {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("The body is not JSON: {e}. Send one alert, an array, or NDJSON."),
            )
        })?;
        match value {
            Value::Array(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    take(index, Alert::from_json_value(item).map_err(|e| e.message));
                }
            }
            Value::Object(_) => take(0, Alert::from_json_value(value).map_err(|e| e.message)),
            _ => return Err(ApiError::new(ErrorCode::InvalidRequest, "Send one alert object, an array, or NDJSON.")),
        }
    }
    Ok(Batch { alerts, refused })
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let correlator = state.correlator().await?;
    // Batches are correlated in the order they arrived, not the order their parsing finished.
    let ticket = correlator.ticket();
    let Batch { alerts, refused } = parse_batch(&headers, &body)?;
    if alerts.is_empty() {
        let mut error = ApiError::new(
            ErrorCode::InvalidRequest,
            if refused.is_empty() {
                "The batch holds no alert.".to_owned()
            } else {
                format!("All {} alerts were refused.", refused.len())
            },
        );
        for r in refused.iter().take(1000) {
            error = error.with_detail(ErrorDetail {
                code: "invalidAlert".into(),
                message: r.message.clone(),
                target: Some(format!("[{}]", r.index)),
            });
        }
        return Err(error);
    }
    let indexes: Vec<usize> = alerts.iter().map(|(i, _)| *i).collect();
    let now = state.clock.now();
    // In a task of its own: a client that gives up (or the request time limit) must not cut a
    // batch off between the engine's decision and the commit.
    let accepted =
        tokio::spawn(
            async move { correlator.ingest_as(ticket, alerts.into_iter().map(|(_, a)| a).collect(), now).await },
        )
        .await
        .map_err(|e| ApiError::internal(format!("ingest task failed: {e}")))??;
    let value: Vec<Value> = indexes
        .iter()
        .zip(&accepted)
        .map(|(index, a)| json!({"index": index, "id": a.alert_id, "incidentId": a.incident_id.to_string()}))
        .collect();
    let errors: Vec<Value> = refused.iter().map(|r| json!({"index": r.index, "message": r.message})).collect();
    let body = json!({"accepted": value.len(), "refused": errors.len(), "value": value, "errors": errors});
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Whether a caller limited to device groups may see an alert: one of its devices is in them.
pub(crate) fn alert_visible(scope: &Scope, alert: &Alert) -> bool {
    scope.is_unrestricted() || scope.allows_groups(&device_groups(alert))
}

/// An alert as a client sees it.
pub(crate) fn alert_json(stored: &StoredAlert, members: EnumMembers) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("@odata.type".into(), Value::String(ALERT_TYPE.into()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(&stored.alert) {
        map.extend(fields);
    }
    members.alert(&mut map);
    map
}

/// Alert pages default to 100 and are clamped at 1,000, as Graph does.
const LIMITS: PageLimits = PageLimits { default: 100, max: MAX_TOP, strict: false };

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Query(options): Query<ListOptions>,
) -> Result<Json<Value>, ApiError> {
    list_page(&state, &principal, &headers, &options, PATH, None).await.map(Json)
}

/// The alert query of a request, within one incident when `incident` is given.
fn of_incident(mut query: AlertQuery, incident: Option<IncidentId>) -> AlertQuery {
    if let Some(id) = incident {
        let own = Filter::of_incident(id);
        query.filter = match std::mem::replace(&mut query.filter, Filter::True) {
            Filter::True => own,
            other => Filter::And(vec![own, other]),
        };
    }
    query
}

/// Counts would include alerts a device-group-scoped caller cannot see (alerts have no
/// device-group column to filter on), so such callers are not given them.
fn refuse_scoped_count(principal: &Principal) -> Result<(), ApiError> {
    if principal.scope.is_unrestricted() {
        return Ok(());
    }
    Err(ApiError::new(ErrorCode::AccessDenied, "Alert counts are not available to callers limited to device groups."))
}

/// One page of alerts for a list request at `path` (the alert list, or one incident's alerts).
pub(crate) async fn list_page(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    options: &ListOptions,
    path: &str,
    incident: Option<IncidentId>,
) -> Result<Value, ApiError> {
    let request = list_request::<AlertField>(options, LIMITS, ALERT_PROPERTIES, &[])?;
    let query = of_incident(request.query, incident);
    let page = state.store.query_alerts(&query).await?;
    let count = if request.count {
        refuse_scoped_count(principal)?;
        Some(state.store.count_alerts(&query).await?)
    } else {
        None
    };
    let base = base_url(state, headers);
    let next =
        page.next.as_ref().map(|cursor| next_link(&base, path, options, query.top, &token::encode(&query, cursor)));
    let members = EnumMembers::of(headers);
    let items: Vec<Value> = page
        .items
        .iter()
        .filter(|a| alert_visible(&principal.scope, &a.alert))
        .map(|a| Value::Object(project(alert_json(a, members), request.select.as_deref())))
        .collect();
    Ok(collection(&base, "security/alerts_v2", items, count, next))
}

/// `GET /alerts_v2/$count`: how many alerts the filter and search select, as plain text.
async fn count(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(options): Query<ListOptions>,
) -> Result<Response, ApiError> {
    refuse_scoped_count(&principal)?;
    let n = state.store.count_alerts(&selection::<AlertField>(&options)?).await?;
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], n.to_string()).into_response())
}

async fn get_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    members: EnumMembers,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = state.store.alert(&id).await?.filter(|a| alert_visible(&principal.scope, &a.alert));
    let stored = stored.ok_or_else(|| ApiError::new(ErrorCode::ItemNotFound, format!("No alert with id '{id}'.")))?;
    Ok(Json(Value::Object(alert_json(&stored, members))))
}
