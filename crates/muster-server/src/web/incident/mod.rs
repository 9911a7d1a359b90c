//! The incident page: a header, tabs (summary, graph, alerts, assets, evidence, comments and
//! history) and the manage pane. The tab lives in the URL (`/incidents/42?tab=alerts`); with
//! `HX-Request` a tab link gets just the tabs, otherwise the whole page, so every view can be
//! bookmarked and works without script.

mod alerts;
mod assets;
mod graph;
mod history;
mod labels;
mod manage;
mod sample;
mod summary;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use muster_core::{Incident, IncidentId};
use serde::Deserialize;

use super::{csrf_of, is_htmx, render};
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new()
        .get("/incidents/{id}", Access::Read, page)
        .get("/incidents/{id}/header", Access::Read, header)
        .merge(alerts::routes())
        .merge(history::routes())
        .merge(manage::routes())
}

#[derive(Template)]
#[template(path = "incident/missing.html")]
struct Missing<'a> {
    id: &'a str,
}

/// The incident the path's `{id}` names, when the caller may see it (outside its device groups is
/// the same as not there); otherwise the request is answered with the not-found page.
pub(crate) struct Visible(pub(crate) Incident);

impl FromRequestParts<AppState> for Visible {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let Extension(principal) =
            Extension::<Principal>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let missing = || (StatusCode::NOT_FOUND, render(&Missing { id: &id })).into_response();
        let Ok(parsed) = id.parse::<IncidentId>() else { return Err(missing()) };
        match state.store.incident(parsed).await {
            Ok(Some(incident)) if principal.scope.allows(&incident) => Ok(Self(incident)),
            Ok(_) => Err(missing()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// Renders a template to a string for embedding in a page.
pub(crate) fn html(template: &impl Template) -> Result<String, ApiError> {
    template.render().map_err(|e| ApiError::internal(format!("template failed: {e}")))
}

#[derive(Template)]
#[template(path = "incident/header.html")]
pub(crate) struct Header {
    id: String,
    name: String,
    severity: String,
    severity_class: &'static str,
    status: String,
    assigned: String,
    classification: String,
    determination: String,
    tags: Vec<String>,
    system_tags: Vec<String>,
    alerts: u64,
    active_alerts: u64,
    first: String,
    last: String,
    updated: String,
    redirect: Option<String>,
}

impl Header {
    pub(crate) fn of(incident: &Incident) -> Self {
        Self {
            id: incident.id.to_string(),
            name: incident.display_name.clone().unwrap_or_else(|| format!("Incident {}", incident.id)),
            severity: labels::severity(incident.severity),
            severity_class: labels::severity_class(incident.severity),
            status: labels::status(incident.status),
            assigned: incident.assigned_to.clone().unwrap_or_else(|| "Unassigned".into()),
            classification: labels::classification(incident.assessment.classification()),
            determination: labels::determination(incident.assessment.determination()),
            tags: incident.custom_tags.clone(),
            system_tags: incident.system_tags.clone(),
            alerts: incident.alert_count,
            active_alerts: incident.active_alert_count,
            first: labels::time(incident.first_activity_date_time),
            last: labels::time(incident.last_activity_date_time),
            updated: labels::time(Some(incident.last_update_date_time)),
            redirect: incident.redirect_incident_id.map(|i| i.to_string()),
        }
    }
}

async fn header(Visible(incident): Visible) -> Response {
    render(&Header::of(&incident))
}

/// The page's tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Summary,
    Graph,
    Alerts,
    Assets,
    Evidence,
    History,
}

impl Tab {
    const ALL: [Tab; 6] = [Tab::Summary, Tab::Graph, Tab::Alerts, Tab::Assets, Tab::Evidence, Tab::History];

    fn key(self) -> &'static str {
        match self {
            Tab::Summary => "summary",
            Tab::Graph => "graph",
            Tab::Alerts => "alerts",
            Tab::Assets => "assets",
            Tab::Evidence => "evidence",
            Tab::History => "history",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Summary => "Summary",
            Tab::Graph => "Incident graph",
            Tab::Alerts => "Alerts",
            Tab::Assets => "Assets",
            Tab::Evidence => "Evidence",
            Tab::History => "Comments and history",
        }
    }

    fn parse(text: Option<&str>) -> Tab {
        Self::ALL.into_iter().find(|t| Some(t.key()) == text).unwrap_or(Tab::Summary)
    }
}

/// What the page's query string may carry: the tab and the tab's own paging and filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) tab: Option<String>,
    /// Alerts: the next page's token.
    pub(crate) after: Option<String>,
    /// History: the kind filter, and where the next page starts.
    pub(crate) kind: Option<String>,
    pub(crate) before: Option<String>,
}

struct TabLink {
    href: String,
    label: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "incident/tabs.html")]
pub(crate) struct Tabs {
    links: Vec<TabLink>,
    content: String,
}

/// A tab's content, with the current values of the page around it.
pub(crate) struct Shown<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) principal: &'a Principal,
    pub(crate) incident: &'a Incident,
    pub(crate) query: &'a PageQuery,
}

/// The tab strip and one tab's content.
pub(crate) async fn tabs(shown: &Shown<'_>, tab: Tab, notice: Option<alerts::Notice>) -> Result<String, ApiError> {
    let content = match tab {
        Tab::Summary => summary::tab(shown).await?,
        Tab::Graph => graph::tab(shown).await?,
        Tab::Alerts => alerts::tab(shown, notice).await?,
        Tab::Assets => assets::assets_tab(shown)?,
        Tab::Evidence => assets::evidence_tab(shown).await?,
        Tab::History => history::tab(shown, notice).await?,
    };
    let id = shown.incident.id;
    let links = Tab::ALL
        .into_iter()
        .map(|t| TabLink { href: format!("/incidents/{id}?tab={}", t.key()), label: t.label(), active: t == tab })
        .collect();
    html(&Tabs { links, content })
}

#[derive(Template)]
#[template(path = "incident/page.html")]
struct Page<'a> {
    user: &'a str,
    csrf: &'a str,
    id: String,
    title: String,
    header: String,
    tabs: String,
    manage: Option<String>,
}

/// The whole page, or with `HX-Request` only the tabs.
pub(crate) async fn respond(
    shown: &Shown<'_>,
    tab: Tab,
    headers: &HeaderMap,
    notice: Option<alerts::Notice>,
) -> Result<Response, ApiError> {
    let tabs = tabs(shown, tab, notice).await?;
    if is_htmx(headers) {
        return Ok(Html(tabs).into_response());
    }
    let (incident, principal) = (shown.incident, shown.principal);
    let manage = if principal.can(Access::Manage) {
        Some(manage::pane_html(shown.state, principal, incident, None, &manage::Outcome::default()).await?)
    } else {
        None
    };
    let header = Header::of(incident);
    let page = Page {
        user: &principal.name,
        csrf: csrf_of(principal),
        id: incident.id.to_string(),
        title: header.name.clone(),
        header: html(&header)?,
        tabs,
        manage,
    };
    Ok(render(&page))
}

async fn page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Visible(incident): Visible,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let tab = Tab::parse(query.tab.as_deref());
    let shown = Shown { state: &state, principal: &principal, incident: &incident, query: &query };
    respond(&shown, tab, &headers, None).await.unwrap_or_else(IntoResponse::into_response)
}
