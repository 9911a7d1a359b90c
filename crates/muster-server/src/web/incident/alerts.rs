//! The alerts tab: the incident's alerts a page at a time (keyset paging through the query layer,
//! so the 2,000th page costs what the first does), with checkboxes to move the chosen alerts to
//! another incident (found by id or name) or to a new one.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use muster_core::enums::GraphEnum;
use muster_core::store::query::{AlertQuery, IncidentField};
use muster_core::{Incident, IncidentId};
use serde::Deserialize;

use super::{html, labels, respond, PageQuery, Shown, Tab, Visible};
use crate::api::alerts::alert_visible;
use crate::api::manage::context;
use crate::api::query::{selection, token, within_groups, ListOptions};
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::web::form::Fields;
use crate::web::is_htmx;
use crate::web::render;
use crate::AppState;

/// Alerts on one page of the tab.
const PAGE: u32 = 50;
/// Incidents suggested as a move's destination.
const SUGGESTIONS: u32 = 10;

pub(super) fn routes() -> Routes {
    Routes::new().post("/incidents/{id}/alerts/move", Access::Manage, move_alerts).get(
        "/incidents/{id}/suggest",
        Access::Read,
        suggest,
    )
}

/// A message above a tab: what an action did, or why it was refused.
pub(crate) struct Notice {
    pub(crate) text: String,
    pub(crate) href: Option<String>,
    pub(crate) error: bool,
}

struct Row {
    id: String,
    title: String,
    severity: String,
    severity_class: &'static str,
    status: String,
    source: String,
    detection: String,
    first: String,
    last: String,
    categories: String,
    pinned: bool,
}

#[derive(Template)]
#[template(path = "incident/alerts.html")]
struct AlertsTab<'a> {
    id: String,
    csrf: &'a str,
    can_manage: bool,
    rows: Vec<Row>,
    total: u64,
    next: Option<String>,
    first_page: bool,
    notice: Option<Notice>,
}

fn alerts_query(id: IncidentId) -> AlertQuery {
    AlertQuery::of_incident(id, PAGE)
}

pub(crate) async fn tab(shown: &Shown<'_>, notice: Option<Notice>) -> Result<String, ApiError> {
    let incident = shown.incident;
    let mut query = alerts_query(incident.id);
    if let Some(after) = shown.query.after.as_deref().filter(|a| !a.is_empty()) {
        query.after = Some(token::decode(&query, after)?);
    }
    let page = shown.state.store.query_alerts(&query).await?;
    let next = page.next.as_ref().map(|cursor| {
        let token = token::encode(&query, cursor);
        format!(
            "/incidents/{}?tab=alerts&after={}",
            incident.id,
            form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        )
    });
    let rows = page
        .items
        .iter()
        .filter(|a| alert_visible(&shown.principal.scope, &a.alert))
        .map(|stored| {
            let a = &stored.alert;
            Row {
                id: a.id.clone(),
                title: a.title.clone(),
                severity: labels::severity(a.severity),
                severity_class: labels::severity_class(a.severity),
                status: labels::words(a.status.as_str()),
                source: a.service_source.as_str().to_owned(),
                detection: a.detection_source.as_ref().map(|d| d.as_str().to_owned()).unwrap_or_default(),
                first: labels::time(a.first_activity_date_time.or(a.activity_time())),
                last: labels::time(a.activity_time()),
                categories: a.categories.join(", "),
                pinned: stored.pinned,
            }
        })
        .collect();
    html(&AlertsTab {
        id: incident.id.to_string(),
        csrf: crate::web::csrf_of(shown.principal),
        can_manage: shown.principal.can(Access::Manage),
        rows,
        total: incident.alert_count,
        next,
        first_page: query.after.is_none(),
        notice,
    })
}

/// Incidents the caller may see whose name, id or assets match `text`, through the query layer's
/// `$search`.
async fn search(state: &AppState, principal: &Principal, text: &str, top: u32) -> Result<Vec<Incident>, ApiError> {
    let options = ListOptions { search: Some(text.to_owned()), ..ListOptions::default() };
    let mut query = selection::<IncidentField>(&options)?;
    query.top = top;
    if let Some(groups) = principal.scope.groups() {
        within_groups(&mut query, groups);
    }
    Ok(state.store.query_incidents(&query).await?.items.into_iter().filter(|i| principal.scope.allows(i)).collect())
}

/// Where a move goes: `Ok(None)` for a new incident, or why the destination was not understood.
async fn destination(state: &AppState, principal: &Principal, fields: &Fields) -> Result<Option<IncidentId>, String> {
    if fields.get("destination") == Some("new") {
        return Ok(None);
    }
    let text = fields.get("target").unwrap_or("").trim();
    if text.is_empty() {
        return Err("Name the incident to move the alerts to, or choose a new incident.".into());
    }
    if let Ok(id) = text.parse::<IncidentId>() {
        return Ok(Some(id));
    }
    match search(state, principal, text, 2).await {
        Ok(found) => match found.as_slice() {
            [one] => Ok(Some(one.id)),
            [] => Err(format!("No incident matches '{text}'.")),
            _ => Err(format!("'{text}' matches several incidents: pick one from the suggestions, by id.")),
        },
        Err(e) => Err(e.message().to_owned()),
    }
}

async fn move_alerts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Visible(incident): Visible,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let alert_ids: Vec<String> = fields.all("alert").map(str::to_owned).collect();
    let outcome = if alert_ids.is_empty() {
        Err("Select at least one alert to move.".to_owned())
    } else {
        match destination(&state, &principal, &fields).await {
            Err(reason) => Err(reason),
            Ok(target) => {
                let comment = fields.get("comment").map(str::trim).filter(|c| !c.is_empty());
                match state.correlator().await {
                    Ok(correlator) => correlator
                        .move_alerts(&alert_ids, target, comment, None, &context(&state, &principal))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.message().to_owned()),
                }
            }
        }
    };
    let notice = match outcome {
        Ok(moved) => {
            let n = alert_ids.len();
            let plural = if n == 1 { "" } else { "s" };
            let into = if moved.created { "a new incident" } else { "incident" };
            Notice {
                text: format!("Moved {n} alert{plural} to {into} {}.", moved.target),
                href: Some(format!("/incidents/{}", moved.target)),
                error: false,
            }
        }
        Err(text) => Notice { text, href: None, error: true },
    };
    // Read again: the move changed its totals, and may have resolved it.
    let incident = match state.store.incident(incident.id).await {
        Ok(Some(fresh)) => fresh,
        Ok(None) => incident,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let query = PageQuery { tab: Some("alerts".into()), ..PageQuery::default() };
    let shown = Shown { state: &state, principal: &principal, incident: &incident, query: &query };
    let mut response =
        respond(&shown, Tab::Alerts, &headers, Some(notice)).await.unwrap_or_else(IntoResponse::into_response);
    if is_htmx(&headers) {
        // The header on this page refreshes at once, without waiting for the live event.
        if let Ok(value) = format!("muster:incident-{}", incident.id).parse() {
            response.headers_mut().insert("hx-trigger", value);
        }
    }
    response
}

#[derive(Debug, Deserialize)]
struct SuggestQuery {
    target: Option<String>,
}

struct Suggestion {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "incident/suggestions.html")]
struct Suggestions {
    items: Vec<Suggestion>,
}

/// `<option>`s for the move form's destination: incidents matching what was typed.
async fn suggest(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<SuggestQuery>,
) -> Response {
    let text = query.target.unwrap_or_default();
    let text = text.trim();
    let mut items = Vec::new();
    if !text.is_empty() {
        // Half-typed search syntax (an open quote) suggests nothing rather than failing.
        for incident in search(&state, &principal, text, SUGGESTIONS).await.unwrap_or_default() {
            if incident.id.to_string() != id {
                let name = incident.display_name.clone().unwrap_or_default();
                items.push(Suggestion { id: incident.id.to_string(), name });
            }
        }
    }
    render(&Suggestions { items })
}
