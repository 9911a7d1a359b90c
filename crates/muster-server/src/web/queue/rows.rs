//! What a row opens: its alerts beneath it (the › button), and the preview pane (the circle).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use muster_core::correlation::device_groups;
use muster_core::store::query::AlertQuery;
use muster_core::GraphEnum;
use serde::Deserialize;

use super::columns::{display_name, when, words};
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::web::incident::Visible;
use crate::web::{render, Chrome};
use crate::AppState;

/// Alerts an expanded row lists; the rest are on the incident page.
const EXPANDED: u32 = 20;

pub(super) fn routes() -> Routes {
    Routes::new().get("/queue/incidents/{id}/alerts", Access::Read, alerts).get(
        "/queue/incidents/{id}/preview",
        Access::Read,
        preview,
    )
}

struct AlertLine {
    id: String,
    title: String,
    severity: &'static str,
    severity_label: String,
    status: String,
    source: String,
    last_activity: String,
    last_activity_full: String,
}

#[derive(Template)]
#[template(path = "queue/alerts.html")]
struct AlertRows {
    id: String,
    span: usize,
    alerts: Vec<AlertLine>,
    more: u64,
}

#[derive(Debug, Deserialize)]
struct Span {
    span: Option<usize>,
}

async fn alerts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Visible(incident): Visible,
    Query(span): Query<Span>,
) -> Result<Response, ApiError> {
    let query = AlertQuery::of_incident(incident.id, EXPANDED);
    let page = state.store.query_alerts(&query).await?;
    let total = state.store.count_alerts(&query).await?;
    let scope = &principal.scope;
    let alerts: Vec<AlertLine> = page
        .items
        .iter()
        .filter(|a| scope.is_unrestricted() || scope.allows_groups(&device_groups(&a.alert)))
        .map(|stored| {
            let a = &stored.alert;
            let (last_activity, last_activity_full) = when(a.activity_time());
            AlertLine {
                id: a.id.clone(),
                title: if a.title.is_empty() { a.id.clone() } else { a.title.clone() },
                severity: a.severity.as_str(),
                severity_label: words(a.severity.as_str()),
                status: words(a.status.as_str()),
                source: words(a.service_source.as_str()),
                last_activity,
                last_activity_full,
            }
        })
        .collect();
    let more = total.saturating_sub(page.items.len() as u64);
    Ok(render(&AlertRows { id: incident.id.to_string(), span: span.span.unwrap_or(12).clamp(2, 40), alerts, more }))
}

#[derive(Template)]
#[template(path = "queue/preview.html")]
struct Preview {
    chrome: Chrome,
    id: String,
    name: String,
    severity: &'static str,
    severity_label: String,
    status: String,
    assigned: String,
    classification: String,
    determination: String,
    tags: Vec<String>,
    categories: Vec<String>,
    assets: Vec<(&'static str, u64, Vec<String>)>,
    active_alerts: u64,
    alerts: u64,
    first_activity: String,
    last_activity: String,
}

async fn preview(Extension(principal): Extension<Principal>, Visible(i): Visible) -> Result<Response, ApiError> {
    let a = &i.impacted_assets;
    let assets = [("Devices", &a.devices), ("Users", &a.users), ("Mailboxes", &a.mailboxes), ("Apps", &a.apps)]
        .into_iter()
        .filter(|(_, s)| s.count > 0)
        .map(|(label, s)| (label, s.count, s.names.clone()))
        .collect();
    let preview = Preview {
        chrome: Chrome::of(&principal),
        id: i.id.to_string(),
        name: display_name(&i),
        severity: i.severity.as_str(),
        severity_label: words(i.severity.as_str()),
        status: words(i.status.as_str()),
        assigned: i.assigned_to.clone().unwrap_or_else(|| "Unassigned".to_owned()),
        classification: i.assessment.classification().map_or("Not set".to_owned(), |c| words(c.as_str())),
        determination: i.assessment.determination().map_or("Not set".to_owned(), |d| words(d.as_str())),
        tags: i.system_tags.iter().chain(&i.custom_tags).cloned().collect(),
        categories: i.categories.iter().map(|c| words(c)).collect(),
        assets,
        active_alerts: i.active_alert_count,
        alerts: i.alert_count,
        first_activity: when(i.first_activity_date_time).0,
        last_activity: when(i.last_activity_date_time).0,
    };
    Ok(render(&preview).into_response())
}
