//! Changing incidents and alerts: PATCH (with `ETag` / `If-Match`), comments, the comments and
//! history log, moving alerts, merging incidents, bulk updates and tag suggestions. Every change
//! goes through the correlator, so it is serialised with ingest and correlation follows it.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use muster_core::history::{HistoryFilter, HistoryKind, NewHistoryEntry};
use muster_core::manage::{clean_tags, comment_text, optional_string, AlertPatch, IncidentPatch, PatchError, MAX_TEXT};
use muster_core::store::CommentTarget;
use muster_core::{AlertComment, Incident, IncidentId};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::alerts::alert_json;
use super::incidents::incident_json;
use super::members::EnumMembers;
use super::paging::base_url;
use crate::auth::{Access, Principal, Routes};
use crate::correlator::{ChangeContext, IncidentEdit, ManageError};
use crate::error::{ApiError, ErrorCode};
use crate::live::{Change, ChangeKind};
use crate::AppState;

/// Incidents one bulk update takes at most.
pub(crate) const MAX_BULK: usize = 500;
/// History entries per page, by default and at most.
const HISTORY_PAGE: u32 = 100;
const MAX_HISTORY_PAGE: u32 = 1_000;
const COMMENT_TYPE: &str = "#microsoft.graph.security.alertComment";

pub(crate) fn routes() -> Routes {
    Routes::new()
        .patch("/v1.0/security/incidents/{id}", Access::Manage, patch_incident)
        .post("/v1.0/security/incidents/{id}/comments", Access::Manage, comment_incident)
        .get("/v1.0/security/incidents/{id}/history", Access::Read, history)
        .post("/v1.0/security/incidents/mergeIncidents", Access::Manage, merge_incidents)
        .post("/v1.0/security/incidents/microsoft.graph.security.mergeIncidents", Access::Manage, merge_incidents)
        .post("/v1.0/muster/incidents/bulkUpdate", Access::Manage, bulk_update)
        .get("/v1.0/muster/tags", Access::Read, tags)
        .patch("/v1.0/security/alerts_v2/{id}", Access::Manage, patch_alert)
        .post("/v1.0/security/alerts_v2/{id}/comments", Access::Manage, comment_alert)
        .post("/v1.0/security/alerts_v2/moveAlerts", Access::Manage, move_alerts)
        .post("/v1.0/security/alerts_v2/microsoft.graph.security.moveAlerts", Access::Manage, move_alerts)
}

impl From<ManageError> for ApiError {
    fn from(error: ManageError) -> Self {
        match error {
            ManageError::NotFound(message) => ApiError::new(ErrorCode::ItemNotFound, message),
            ManageError::Invalid(e) => invalid(e),
            ManageError::Stale { id, current } => ApiError::new(
                ErrorCode::ResourceModified,
                format!("Incident {id} changed since that version was read; it is now at version {current} (ETag \"{current}\"). Read it again and retry."),
            ),
            ManageError::Store(e) => e.into(),
        }
    }
}

fn invalid(e: PatchError) -> ApiError {
    let error = ApiError::new(ErrorCode::InvalidRequest, e.message);
    match e.property {
        Some(property) => error.with_target(property),
        None => error,
    }
}

fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("The body is not valid JSON: {e}.")))
}

fn incident_id(id: &str) -> Result<IncidentId, ApiError> {
    id.parse().map_err(|_| ApiError::new(ErrorCode::ItemNotFound, format!("No incident with id '{id}'.")))
}

pub(crate) fn context(state: &AppState, principal: &Principal) -> ChangeContext {
    ChangeContext { actor: principal.actor(), now: state.clock.now(), scope: principal.scope.clone() }
}

/// An incident's version as an entity tag.
pub(crate) fn etag(incident: &Incident) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", incident.meta.version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` names: `None` without the header or with `*`; a tag that is no
/// version of ours can match nothing.
fn if_match(headers: &HeaderMap) -> Option<i64> {
    let value = headers.get(IF_MATCH)?.to_str().unwrap_or("?").trim();
    if value == "*" {
        return None;
    }
    let tag = value.trim_start_matches("W/").trim_matches('"');
    Some(tag.parse().unwrap_or(-1))
}

fn with_etag(incident: &Incident, body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(ETAG, etag(incident));
    response
}

async fn patch_incident(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = incident_id(&id)?;
    let patch = IncidentPatch::from_json(&json_body(&body)?).map_err(invalid)?;
    let edit = IncidentEdit { patch, ..IncidentEdit::default() };
    let incident =
        state.correlator().await?.update_incident(id, &edit, if_match(&headers), &context(&state, &principal)).await?;
    Ok(with_etag(&incident, Value::Object(incident_json(&incident, EnumMembers::of(&headers)))))
}

async fn patch_alert(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    members: EnumMembers,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let patch = AlertPatch::from_json(&json_body(&body)?).map_err(invalid)?;
    let stored = state.correlator().await?.update_alert(&id, &patch, &context(&state, &principal)).await?;
    Ok(Json(Value::Object(alert_json(&stored, members))))
}

/// A comment body: one `alertComment` object, or an array of them (what the Python SDK sends).
/// Answered in the same shape: the documented collection for an object, a bare array for an array.
fn comments_of(body: &Value) -> Result<(Vec<String>, bool), ApiError> {
    let (items, as_array) = match body {
        Value::Array(items) => (items.iter().collect::<Vec<_>>(), true),
        other => (vec![other], false),
    };
    if items.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "Send a comment: {\"comment\": \"...\"}."));
    }
    let texts = items.into_iter().map(comment_text).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
    Ok((texts, as_array))
}

fn comment_json(comment: &AlertComment) -> Value {
    let mut value = serde_json::to_value(comment).unwrap_or(Value::Null);
    value["@odata.type"] = Value::String(COMMENT_TYPE.into());
    value
}

fn comments_response(state: &AppState, headers: &HeaderMap, comments: &[AlertComment], as_array: bool) -> Value {
    let items: Vec<Value> = comments.iter().map(comment_json).collect();
    if as_array {
        Value::Array(items)
    } else {
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#Collection(microsoft.graph.security.alertComment)", base_url(state, headers)),
            "value": items,
        })
    }
}

/// Stores the comments in order, each with its entry in the incident's log, and tells live pages.
pub(crate) async fn add_comments(
    state: &AppState,
    principal: &Principal,
    target: CommentTarget,
    incident: IncidentId,
    texts: Vec<String>,
) -> Result<Vec<AlertComment>, ApiError> {
    let mut comments = Vec::new();
    for text in texts {
        let now = state.clock.now();
        let comment = AlertComment {
            comment: text.clone(),
            created_by_display_name: Some(principal.name.clone()),
            created_date_time: now,
        };
        comments = state.store.add_comment(&target, &comment).await?;
        let mut entry =
            NewHistoryEntry::new(incident, now, principal.actor(), HistoryKind::Commented).with_comment(text);
        if let CommentTarget::Alert(alert) = &target {
            entry = entry.change("alert", None, Some(json!(alert)));
        }
        state.store.append_history(&[entry]).await?;
    }
    if let Some(home) = state.store.incident(incident).await? {
        let device_groups = std::sync::Arc::from(home.device_groups.as_slice());
        state.feed.publish(Change { incident_id: incident, kind: ChangeKind::Commented, device_groups });
    }
    Ok(comments)
}

async fn comment_incident(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = incident_id(&id)?;
    let (texts, as_array) = comments_of(&json_body(&body)?)?;
    let missing = || ApiError::new(ErrorCode::ItemNotFound, format!("No incident with id '{id}'."));
    state.store.incident(id).await?.filter(|i| principal.scope.allows(i)).ok_or_else(missing)?;
    let comments = add_comments(&state, &principal, CommentTarget::Incident(id), id, texts).await?;
    Ok(Json(comments_response(&state, &headers, &comments, as_array)))
}

async fn comment_alert(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (texts, as_array) = comments_of(&json_body(&body)?)?;
    let stored = state
        .store
        .alert(&id)
        .await?
        .filter(|a| super::alerts::alert_visible(&principal.scope, &a.alert))
        .ok_or_else(|| ApiError::new(ErrorCode::ItemNotFound, format!("No alert with id '{id}'.")))?;
    let comments = add_comments(&state, &principal, CommentTarget::Alert(id), stored.incident_id, texts).await?;
    Ok(Json(comments_response(&state, &headers, &comments, as_array)))
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    /// Kinds, comma-separated.
    kind: Option<String>,
    actor: Option<String>,
    #[serde(rename = "$top")]
    top: Option<String>,
    /// Entries older than this id: the next page.
    before: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = incident_id(&id)?;
    let missing = || ApiError::new(ErrorCode::ItemNotFound, format!("No incident with id '{id}'."));
    state.store.incident(id).await?.filter(|i| principal.scope.allows(i)).ok_or_else(missing)?;
    let kinds = query
        .kind
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| k.parse::<HistoryKind>().map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e).with_target("kind")))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = match query.top.as_deref() {
        None => HISTORY_PAGE,
        Some(top) => top.parse::<u32>().ok().filter(|t| (1..=MAX_HISTORY_PAGE).contains(t)).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidRequest, format!("$top must be a number from 1 to {MAX_HISTORY_PAGE}."))
                .with_target("$top")
        })?,
    };
    let before_id = match query.before.as_deref() {
        None => None,
        Some(b) => Some(b.parse::<i64>().map_err(|_| {
            ApiError::new(ErrorCode::InvalidRequest, "before must be a history entry id.").with_target("before")
        })?),
    };
    let actor = query.actor.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
    let filter = HistoryFilter { kinds, actor, before_id, limit };
    let entries = state.store.history(id, &filter).await?;
    let mut body = json!({ "value": entries });
    if entries.len() == limit as usize {
        if let Some(last) = entries.last() {
            let mut pairs = form_urlencoded::Serializer::new(String::new());
            if let Some(kind) = &query.kind {
                pairs.append_pair("kind", kind);
            }
            if let Some(actor) = &filter.actor {
                pairs.append_pair("actor", actor);
            }
            pairs.append_pair("$top", &limit.to_string()).append_pair("before", &last.id.to_string());
            let next =
                format!("{}/v1.0/security/incidents/{id}/history?{}", base_url(&state, &headers), pairs.finish());
            body["@odata.nextLink"] = Value::String(next);
        }
    }
    Ok(Json(body))
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, "Send the action's parameters as a JSON object."))
}

fn string_list(map: &Map<String, Value>, name: &str) -> Result<Vec<String>, ApiError> {
    let refuse =
        || ApiError::new(ErrorCode::InvalidRequest, format!("{name} must be an array of ids.")).with_target(name);
    let items = map.get(name).and_then(Value::as_array).ok_or_else(refuse)?;
    items.iter().map(|v| v.as_str().map(|s| s.trim().to_owned()).ok_or_else(refuse)).collect()
}

fn text_param(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    optional_string(map, name, MAX_TEXT).map_err(invalid)
}

async fn merge_incidents(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body)?;
    let map = object(&body)?;
    let ids = string_list(map, "incidentIds")?.iter().map(|id| incident_id(id)).collect::<Result<Vec<_>, _>>()?;
    let comment = text_param(map, "incidentComment")?;
    let reasons = text_param(map, "mergeReasons")?;
    let ctx = context(&state, &principal);
    let target = state.correlator().await?.merge_incidents(&ids, comment.as_deref(), reasons.as_deref(), &ctx).await?;
    Ok(Json(merge_response(&state, &headers, target)))
}

fn merge_response(state: &AppState, headers: &HeaderMap, target: IncidentId) -> Value {
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.security.mergeResponse", base_url(state, headers)),
        "targetIncidentId": target.to_string(),
    })
}

async fn move_alerts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body)?;
    let map = object(&body)?;
    let alert_ids = string_list(map, "alertIds")?;
    let target = match map.get("incidentId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.trim().is_empty() => None,
        Some(Value::String(id)) => Some(incident_id(id.trim())?),
        Some(_) => {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "incidentId must be a string or null.")
                .with_target("incidentId"))
        }
    };
    let comment = text_param(map, "alertComment")?;
    let reasons = text_param(map, "newCorrelationReasons")?;
    let ctx = context(&state, &principal);
    let moved =
        state.correlator().await?.move_alerts(&alert_ids, target, comment.as_deref(), reasons.as_deref(), &ctx).await?;
    Ok(Json(merge_response(&state, &headers, moved.target)))
}

/// `{"incidentIds": [...], "changes": {PATCH body}, "addTags": [...], "removeTags": [...],
/// "comment": "..."}`: the same change to each incident, each on its own (all or nothing per
/// incident), each answered with its status.
async fn bulk_update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body)?;
    let map = object(&body)?;
    let allowed = ["incidentIds", "changes", "addTags", "removeTags", "comment"];
    if let Some(extra) = map.keys().find(|k| !k.starts_with('@') && !allowed.contains(&k.as_str())) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("{extra} is not a bulk update parameter; expected: {}.", allowed.join(", ")),
        )
        .with_target(extra.clone()));
    }
    let ids = string_list(map, "incidentIds")?;
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ApiError::new(ErrorCode::InvalidRequest, format!("Update 1 to {MAX_BULK} incidents at a time."))
            .with_target("incidentIds"));
    }
    let patch = IncidentPatch::from_json(map.get("changes").unwrap_or(&json!({}))).map_err(invalid)?;
    let tags = |name: &str| map.get(name).map(|v| clean_tags(name, v)).transpose().map_err(invalid);
    let edit = IncidentEdit {
        patch,
        add_tags: tags("addTags")?.unwrap_or_default(),
        remove_tags: tags("removeTags")?.unwrap_or_default(),
    };
    let comment = match map.get("comment") {
        None | Some(Value::Null) => None,
        Some(value) => Some(comment_text(&json!({ "comment": value })).map_err(invalid)?),
    };
    if edit.patch.is_empty() && edit.add_tags.is_empty() && edit.remove_tags.is_empty() && comment.is_none() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "The bulk update changes nothing."));
    }
    let outcomes = apply_bulk(&state, &principal, ids, &edit, comment.as_deref()).await?;
    let results: Vec<Value> = outcomes
        .into_iter()
        .map(|(raw, outcome)| match outcome {
            Ok(incident) => json!({"incidentId": raw, "status": 200, "version": incident.meta.version}),
            Err(error) => {
                json!({"incidentId": raw, "status": error.code().status().as_u16(), "error": {"code": error.code().as_str(), "message": error.message()}})
            }
        })
        .collect();
    Ok(Json(json!({ "value": results })))
}

/// The same edit (and comment) applied to each incident on its own, through the correlator: what
/// the bulk endpoint and the queue's bulk bar both do. Each id is answered with the incident as
/// updated or why it was refused.
pub(crate) async fn apply_bulk(
    state: &AppState,
    principal: &Principal,
    ids: Vec<String>,
    edit: &IncidentEdit,
    comment: Option<&str>,
) -> Result<Vec<(String, Result<Incident, ApiError>)>, ApiError> {
    let correlator = state.correlator().await?;
    let mut results = Vec::with_capacity(ids.len());
    for raw in ids {
        let outcome = async {
            let id = incident_id(&raw)?;
            let incident = correlator.update_incident(id, edit, None, &context(state, principal)).await?;
            if let Some(comment) = comment {
                add_comments(state, principal, CommentTarget::Incident(id), id, vec![comment.to_owned()]).await?;
            }
            Ok::<_, ApiError>(incident)
        }
        .await;
        results.push((raw, outcome));
    }
    Ok(results)
}

#[derive(Debug, Deserialize)]
struct TagQuery {
    prefix: Option<String>,
    #[serde(rename = "$top")]
    top: Option<String>,
}

async fn tags(State(state): State<AppState>, Query(query): Query<TagQuery>) -> Result<Json<Value>, ApiError> {
    let limit = match query.top.as_deref() {
        None => 20,
        Some(top) => top.parse::<u32>().ok().filter(|t| (1..=200).contains(t)).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidRequest, "$top must be a number from 1 to 200.").with_target("$top")
        })?,
    };
    let prefix = query.prefix.as_deref().unwrap_or("").trim();
    let tags = state.store.tag_suggestions(prefix, limit).await?;
    Ok(Json(json!({ "value": tags })))
}
