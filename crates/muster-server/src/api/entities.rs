//! `/v1.0/muster/entities/{kind}/...`: every alert and incident that involves one device, user,
//! mailbox, IP address, file hash, URL or domain, found through the entity index ingest keeps.
//! The value is a query parameter (`?value=`), so URLs and `DOMAIN\user` need no path escaping.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use muster_core::entity::{search_key, EntityKind};
use muster_core::store::{PageRequest, StoredAlert};
use muster_core::IncidentId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::alerts::{alert_json, alert_visible};
use super::incidents::incident_json;
use super::members::EnumMembers;
use super::paging::{base_url, decode_skiptoken, encode_skiptoken, page_size};
use crate::auth::{Access, Principal, Routes};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// Alerts read to find an entity's incidents, at most; the answer says when there were more.
const SCANNED_ALERTS: u32 = 10_000;
/// Incidents listed at most.
const MAX_INCIDENTS: usize = 500;

pub(crate) fn routes() -> Routes {
    Routes::new().get("/v1.0/muster/entities/{kind}/alerts", Access::Read, alerts).get(
        "/v1.0/muster/entities/{kind}/incidents",
        Access::Read,
        incidents,
    )
}

#[derive(Debug, Deserialize)]
struct EntityQuery {
    value: Option<String>,
    #[serde(rename = "$top")]
    top: Option<String>,
    #[serde(rename = "$skiptoken")]
    skiptoken: Option<String>,
}

/// The entity asked for, normalised as evidence is.
fn entity(kind: &str, query: &EntityQuery) -> Result<(EntityKind, String), ApiError> {
    let kind: EntityKind = kind.parse().map_err(|e: String| ApiError::new(ErrorCode::InvalidRequest, e))?;
    let raw = query.value.as_deref().map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidRequest, "Give the entity as ?value=, e.g. ?value=WS-01.contoso.com.")
            .with_target("value")
    })?;
    if raw.len() > 2_048 {
        return Err(
            ApiError::new(ErrorCode::InvalidRequest, "The value is longer than 2048 bytes.").with_target("value")
        );
    }
    let value = search_key(kind, raw).ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidRequest, format!("'{raw}' is not a {kind}.")).with_target("value")
    })?;
    Ok((kind, value))
}

fn position(alert: &StoredAlert) -> (i64, i64) {
    (alert.alert.activity_time().map(|t| t.micros()).unwrap_or_default(), alert.seq)
}

async fn alerts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Query(query): Query<EntityQuery>,
) -> Result<Json<Value>, ApiError> {
    let (kind, value) = entity(&kind, &query)?;
    let top = page_size(query.top.as_deref(), 100, 1_000, false)?;
    let after = decode_skiptoken(query.skiptoken.as_deref())?;
    let page = state.store.alerts_with_entity(kind, &value, &PageRequest { limit: top, after }).await?;
    let mut body = json!({
        "kind": kind.as_str(),
        "value": value,
        "alerts": page.iter().filter(|a| alert_visible(&principal.scope, &a.alert)).map(|a| Value::Object(alert_json(a, EnumMembers::of(&headers)))).collect::<Vec<_>>(),
    });
    if page.len() == top as usize {
        if let Some(last) = page.last() {
            let (at, seq) = position(last);
            let mut params = form_urlencoded::Serializer::new(String::new());
            params.append_pair("value", query.value.as_deref().unwrap_or_default());
            params.append_pair("$top", &top.to_string()).append_pair("$skiptoken", &encode_skiptoken(at, seq));
            body["@odata.nextLink"] =
                json!(format!("{}/v1.0/muster/entities/{kind}/alerts?{}", base_url(&state, &headers), params.finish()));
        }
    }
    Ok(Json(body))
}

/// The incidents of the entity's newest alerts, newest activity first.
async fn incidents(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    members: EnumMembers,
    Path(kind): Path<String>,
    Query(query): Query<EntityQuery>,
) -> Result<Json<Value>, ApiError> {
    let (kind, value) = entity(&kind, &query)?;
    let mut ids: BTreeSet<IncidentId> = BTreeSet::new();
    let mut after = None;
    let mut scanned = 0u32;
    let mut complete = false;
    while scanned < SCANNED_ALERTS {
        let limit = 1_000.min(SCANNED_ALERTS - scanned);
        let page = state.store.alerts_with_entity(kind, &value, &PageRequest { limit, after }).await?;
        scanned += page.len() as u32;
        ids.extend(page.iter().map(|a| a.incident_id));
        if page.len() < limit as usize {
            complete = true;
            break;
        }
        after = page.last().map(position);
    }
    let ids: Vec<IncidentId> = ids.into_iter().collect();
    let mut found = state.store.incidents(&ids).await?;
    found.retain(|i| principal.scope.allows(i));
    found.sort_by_key(|i| std::cmp::Reverse((i.last_activity_date_time.unwrap_or(i.created_date_time), i.id)));
    let truncated = !complete || found.len() > MAX_INCIDENTS;
    found.truncate(MAX_INCIDENTS);
    Ok(Json(json!({
        "kind": kind.as_str(),
        "value": value,
        "incidents": found.iter().map(|i| Value::Object(incident_json(i, members))).collect::<Vec<_>>(),
        "@muster.truncated": truncated,
    })))
}
