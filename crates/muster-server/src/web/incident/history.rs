//! The comments and history tab: the incident's log newest first, filterable by kind, a comment
//! box, and the log fragment open pages reload when a change is announced.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use muster_core::history::{HistoryEntry, HistoryFilter, HistoryKind};
use muster_core::manage::comment_text;
use muster_core::store::CommentTarget;
use muster_core::Incident;
use serde_json::{json, Value};

use super::alerts::Notice;
use super::{html, labels, respond, PageQuery, Shown, Tab, Visible};
use crate::api::manage::add_comments;
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::web::form::Fields;
use crate::AppState;

/// Entries on one page of the log.
const PAGE: u32 = 50;
/// Entries read per round when filtering by property, and rounds at most per page.
const SCAN: u32 = 200;
const SCAN_ROUNDS: usize = 5;

pub(super) fn routes() -> Routes {
    Routes::new().get("/incidents/{id}/history", Access::Read, log).post(
        "/incidents/{id}/comments",
        Access::Manage,
        comment,
    )
}

/// The log's filters, as the tab offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Comments,
    Status,
    Assignment,
    Classification,
    Alerts,
    Merges,
}

impl Filter {
    const ALL: [Filter; 7] = [
        Filter::All,
        Filter::Comments,
        Filter::Status,
        Filter::Assignment,
        Filter::Classification,
        Filter::Alerts,
        Filter::Merges,
    ];

    fn key(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Comments => "comments",
            Filter::Status => "status",
            Filter::Assignment => "assignment",
            Filter::Classification => "classification",
            Filter::Alerts => "alerts",
            Filter::Merges => "merges",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Filter::All => "All",
            Filter::Comments => "Comments",
            Filter::Status => "Status",
            Filter::Assignment => "Assignment",
            Filter::Classification => "Classification",
            Filter::Alerts => "Alerts added and moved",
            Filter::Merges => "Merges",
        }
    }

    fn parse(text: Option<&str>) -> Filter {
        Self::ALL.into_iter().find(|f| Some(f.key()) == text).unwrap_or(Filter::All)
    }

    fn kinds(self) -> Vec<HistoryKind> {
        match self {
            Filter::All => Vec::new(),
            Filter::Comments => vec![HistoryKind::Commented],
            Filter::Status | Filter::Assignment | Filter::Classification => vec![HistoryKind::Updated],
            Filter::Alerts => vec![HistoryKind::Created, HistoryKind::AlertAdded, HistoryKind::AlertRemoved],
            Filter::Merges => vec![HistoryKind::Merged, HistoryKind::Redirected],
        }
    }

    /// The properties an `updated` entry must be about, when the filter is that narrow (the store
    /// filters by kind; the property is checked here).
    fn fields(self) -> Option<&'static [&'static str]> {
        match self {
            Filter::Status => Some(&["status", "resolvingComment"]),
            Filter::Assignment => Some(&["assignedTo"]),
            Filter::Classification => Some(&["classification", "determination"]),
            _ => None,
        }
    }
}

fn field_label(field: &str) -> String {
    match field {
        "displayName" => "Name".into(),
        "customTags" => "Tags".into(),
        "assignedTo" => "Assigned to".into(),
        "resolvingComment" => "Resolving comment".into(),
        "redirectIncidentId" => "Merged into".into(),
        other => labels::words(other),
    }
}

/// A value as the log shows it: enum members of status and assessment as words.
fn shown_value(field: &str, value: Option<&Value>) -> String {
    match (field, value) {
        ("status" | "classification" | "determination" | "severity", Some(Value::String(s))) => labels::words(s),
        _ => labels::value(value),
    }
}

fn count_of(value: Option<&Value>) -> u64 {
    value.and_then(|v| v.get("count")).and_then(Value::as_u64).unwrap_or(0)
}

fn alerts_word(n: u64) -> &'static str {
    if n == 1 {
        "alert"
    } else {
        "alerts"
    }
}

/// What an entry says, in a sentence.
fn describe(entry: &HistoryEntry) -> String {
    let e = &entry.entry;
    let new = e.new_value.as_ref();
    let field = e.field.as_deref().unwrap_or("");
    let from =
        new.and_then(|v| v.get("movedFrom")).map(|v| labels::value(Some(v))).filter(|s| !s.is_empty() && s != "none");
    match e.kind {
        HistoryKind::Commented => "Commented".into(),
        HistoryKind::Created => {
            let n = count_of(new);
            match from {
                Some(from) => format!("Created with {n} {} moved from incident {from}", alerts_word(n)),
                None => format!("Created with {n} {}", alerts_word(n)),
            }
        }
        HistoryKind::AlertAdded => {
            let n = count_of(new);
            match from {
                Some(from) => format!("{n} {} moved here from incident {from}", alerts_word(n)),
                None => format!("{n} {} added", alerts_word(n)),
            }
        }
        HistoryKind::AlertRemoved => {
            let n = count_of(new);
            let to = new.and_then(|v| v.get("movedTo")).map(|v| labels::value(Some(v))).unwrap_or_default();
            format!("{n} {} moved to incident {to}", alerts_word(n))
        }
        HistoryKind::Merged => format!("Incidents {} merged into this one", labels::value(new)),
        HistoryKind::Redirected => {
            let into = if field == "redirectIncidentId" { labels::value(new) } else { String::new() };
            format!("Merged into incident {into}").trim().to_owned()
        }
        HistoryKind::Updated if field == "alerts" => {
            let n = count_of(new);
            let what: Vec<String> = new
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| k.as_str() != "count")
                        .map(|(k, v)| format!("{} {}", field_label(k), labels::value(Some(v))))
                        .collect()
                })
                .unwrap_or_default();
            format!("{n} of its {}: {}", alerts_word(n), what.join(", "))
        }
        HistoryKind::Updated => format!(
            "{}: {} → {}",
            field_label(field),
            shown_value(field, e.old_value.as_ref()),
            shown_value(field, new)
        ),
    }
}

struct Row {
    at: String,
    actor: String,
    kind: &'static str,
    text: String,
    comment: Option<String>,
    reason: Option<String>,
}

#[derive(Template)]
#[template(path = "incident/log.html")]
struct Log {
    rows: Vec<Row>,
    older: Option<String>,
}

/// One page of the log, newest first, and where the next starts.
async fn entries(
    state: &AppState,
    incident: &Incident,
    filter: Filter,
    before: Option<i64>,
) -> Result<(Vec<HistoryEntry>, Option<i64>), ApiError> {
    let Some(fields) = filter.fields() else {
        let query = HistoryFilter { kinds: filter.kinds(), actor: None, before_id: before, limit: PAGE };
        let page = state.store.history(incident.id, &query).await?;
        let next = (page.len() == PAGE as usize).then(|| page.last().map(|e| e.id)).flatten();
        return Ok((page, next));
    };
    let mut kept = Vec::new();
    let mut cursor = before;
    for _ in 0..SCAN_ROUNDS {
        let query = HistoryFilter { kinds: filter.kinds(), actor: None, before_id: cursor, limit: SCAN };
        let page = state.store.history(incident.id, &query).await?;
        let full = page.len() == SCAN as usize;
        for entry in page {
            cursor = Some(entry.id);
            if entry.entry.field.as_deref().is_some_and(|f| fields.contains(&f)) {
                kept.push(entry);
                if kept.len() == PAGE as usize {
                    return Ok((kept, cursor));
                }
            }
        }
        if !full {
            return Ok((kept, None));
        }
    }
    // Scanned enough for one page: the rest is an "older" link away.
    Ok((kept, cursor))
}

async fn log_html(
    state: &AppState,
    incident: &Incident,
    filter: Filter,
    before: Option<i64>,
) -> Result<String, ApiError> {
    let (page, next) = entries(state, incident, filter, before).await?;
    let rows = page
        .iter()
        .map(|e| Row {
            at: labels::time(Some(e.entry.at)),
            actor: e.entry.actor.name.clone(),
            kind: e.entry.kind.as_str(),
            text: describe(e),
            comment: e.entry.comment.clone(),
            reason: e.entry.reason.clone(),
        })
        .collect();
    let older = next.map(|id| format!("/incidents/{}/history?kind={}&before={id}", incident.id, filter.key()));
    html(&Log { rows, older })
}

struct FilterLink {
    href: String,
    label: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "incident/history.html")]
struct HistoryTab<'a> {
    id: String,
    csrf: &'a str,
    can_manage: bool,
    filters: Vec<FilterLink>,
    kind: &'static str,
    log: String,
    notice: Option<Notice>,
}

pub(crate) async fn tab(shown: &Shown<'_>, notice: Option<Notice>) -> Result<String, ApiError> {
    let incident = shown.incident;
    let filter = Filter::parse(shown.query.kind.as_deref());
    let before = shown.query.before.as_deref().and_then(|b| b.parse().ok());
    let filters = Filter::ALL
        .into_iter()
        .map(|f| FilterLink {
            href: format!("/incidents/{}?tab=history&kind={}", incident.id, f.key()),
            label: f.label(),
            active: f == filter,
        })
        .collect();
    html(&HistoryTab {
        id: incident.id.to_string(),
        csrf: crate::web::csrf_of(shown.principal),
        can_manage: shown.principal.can(Access::Manage),
        filters,
        kind: filter.key(),
        log: log_html(shown.state, incident, filter, before).await?,
        notice,
    })
}

#[derive(Debug, serde::Deserialize)]
struct LogQuery {
    kind: Option<String>,
    before: Option<String>,
}

/// `GET /incidents/{id}/history`: the log alone (what live pages reload, and "older" pages).
async fn log(State(state): State<AppState>, Visible(incident): Visible, Query(query): Query<LogQuery>) -> Response {
    let before = query.before.as_deref().and_then(|b| b.parse().ok());
    match log_html(&state, &incident, Filter::parse(query.kind.as_deref()), before).await {
        Ok(body) => axum::response::Html(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn comment(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Visible(incident): Visible,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let text = fields.get("comment").unwrap_or("");
    let notice = match comment_text(&json!({ "comment": text })) {
        Err(e) => Some(Notice { text: e.message, href: None, error: true }),
        Ok(text) => {
            match add_comments(&state, &principal, CommentTarget::Incident(incident.id), incident.id, vec![text]).await
            {
                Ok(_) => None,
                Err(e) => Some(Notice { text: e.message().to_owned(), href: None, error: true }),
            }
        }
    };
    let query = PageQuery { tab: Some("history".into()), ..PageQuery::default() };
    let shown = Shown { state: &state, principal: &principal, incident: &incident, query: &query };
    respond(&shown, Tab::History, &headers, notice).await.unwrap_or_else(IntoResponse::into_response)
}
