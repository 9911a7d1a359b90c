//! The manage pane: name, tags, assignee, status, classification with its determination, resolving
//! comment and a comment. One fragment serves the incident page and the queue's preview pane
//! (`GET /incidents/{id}/manage` with `HX-Request`); without it, a page of its own. The form
//! carries the version it was based on: the manage layer refuses a stale edit, and the pane then
//! shows the current values. Refusals are shown next to the field they are about.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use muster_core::assessment::determinations_for;
use muster_core::enums::{AlertClassification, AlertDetermination, GraphEnum, IncidentStatus};
use muster_core::manage::{comment_text, IncidentPatch};
use muster_core::store::CommentTarget;
use muster_core::Incident;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{html, labels, Visible};
use crate::api::manage::{add_comments, context};
use crate::auth::{Access, Principal, Routes};
use crate::correlator::{IncidentEdit, ManageError};
use crate::error::ApiError;
use crate::web::csrf_of;
use crate::web::form::Fields;
use crate::web::is_htmx;
use crate::web::render;
use crate::AppState;

/// Tags suggested from those used before.
const TAG_SUGGESTIONS: u32 = 50;

pub(super) fn routes() -> Routes {
    Routes::new()
        .get("/incidents/{id}/manage", Access::Manage, pane)
        .post("/incidents/{id}/manage", Access::Manage, save)
        .get("/incidents/{id}/manage/determinations", Access::Manage, determinations)
}

/// What the form shows: an incident's values, or what was submitted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values {
    name: String,
    tags: Vec<String>,
    assigned_to: String,
    status: String,
    classification: String,
    determination: String,
    resolving_comment: String,
    comment: String,
}

fn member_or_unknown<T: GraphEnum>(v: Option<T>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |v| v.as_str().to_owned())
}

impl Values {
    fn of(incident: &Incident) -> Self {
        Self {
            name: incident.display_name.clone().unwrap_or_default(),
            tags: incident.custom_tags.clone(),
            assigned_to: incident.assigned_to.clone().unwrap_or_default(),
            status: incident.status.as_str().to_owned(),
            classification: member_or_unknown(incident.assessment.classification()),
            determination: member_or_unknown(incident.assessment.determination()),
            resolving_comment: incident.resolving_comment.clone().unwrap_or_default(),
            comment: String::new(),
        }
    }

    fn submitted(fields: &Fields, principal: &Principal) -> Self {
        let text = |name| fields.get(name).unwrap_or("").trim().to_owned();
        let mut tags: Vec<String> = Vec::new();
        let added = fields.all("add_tags").flat_map(|t| t.split(','));
        for tag in fields.all("tag").chain(added).map(str::trim).filter(|t| !t.is_empty()) {
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        Self {
            name: text("name"),
            tags,
            assigned_to: if fields.has("assign_me") { principal.name.clone() } else { text("assigned_to") },
            status: text("status"),
            classification: text("classification"),
            determination: text("determination"),
            resolving_comment: text("resolving_comment"),
            comment: fields.get("comment").unwrap_or("").to_owned(),
        }
    }

    /// The PATCH body that turns `current` into these values: only what differs, so an unchanged
    /// generated name is not locked, and a classification is always sent with its determination
    /// so that a pair that does not fit is refused rather than quietly dropped.
    fn patch_from(&self, current: &Incident) -> Map<String, Value> {
        let before = Values::of(current);
        let mut patch = Map::new();
        let optional = |s: &str| if s.is_empty() { Value::Null } else { Value::String(s.to_owned()) };
        let member = |s: &str| if s.is_empty() || s == "unknown" { Value::Null } else { Value::String(s.to_owned()) };
        if self.name != before.name {
            patch.insert("displayName".into(), optional(&self.name));
        }
        if self.tags != before.tags {
            patch.insert("customTags".into(), json!(self.tags));
        }
        if self.assigned_to != before.assigned_to {
            patch.insert("assignedTo".into(), optional(&self.assigned_to));
        }
        if !self.status.is_empty() && self.status != before.status {
            patch.insert("status".into(), Value::String(self.status.clone()));
        }
        let unset = |s: &str| if s.is_empty() { "unknown".to_owned() } else { s.to_owned() };
        let classification_changed = unset(&self.classification) != before.classification;
        if classification_changed {
            patch.insert("classification".into(), member(&self.classification));
        }
        if classification_changed || unset(&self.determination) != before.determination {
            patch.insert("determination".into(), member(&self.determination));
        }
        if self.resolving_comment != before.resolving_comment {
            patch.insert("resolvingComment".into(), optional(&self.resolving_comment));
        }
        patch
    }
}

/// What the last submission came to.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    saved: Option<String>,
    stale: Option<String>,
    general: Option<String>,
    /// By form field.
    errors: BTreeMap<&'static str, String>,
}

impl Outcome {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
}

/// The form field a PATCH property is entered in.
fn field_of(property: Option<&str>) -> &'static str {
    match property.unwrap_or("") {
        "displayName" => "name",
        "customTags" | "addTags" => "tags",
        "assignedTo" => "assigned_to",
        "status" => "status",
        "classification" => "classification",
        "determination" => "determination",
        "resolvingComment" => "resolving_comment",
        "comment" => "comment",
        _ => "general",
    }
}

struct Opt {
    value: &'static str,
    label: String,
    selected: bool,
}

fn determination_options(classification: &str, selected: &str) -> Vec<Opt> {
    let c = classification.parse::<AlertClassification>().unwrap_or(AlertClassification::Unknown);
    let mut options = vec![Opt { value: "unknown", label: "Not set".into(), selected: selected == "unknown" }];
    options.extend(determinations_for(c).iter().map(|d| Opt {
        value: d.as_str(),
        label: labels::determination(Some(*d)),
        selected: d.as_str() == selected,
    }));
    // A value the list does not offer (a legacy pair, or one refused) stays visible.
    if !options.iter().any(|o| o.selected) && !selected.is_empty() {
        if let Ok(d) = selected.parse::<AlertDetermination>() {
            options.push(Opt { value: d.as_str(), label: labels::determination(Some(d)), selected: true });
        }
    }
    options
}

#[derive(Template)]
#[template(path = "incident/determination.html")]
struct Determinations {
    determinations: Vec<Opt>,
}

#[derive(Template)]
#[template(path = "incident/manage.html")]
struct Pane<'a> {
    id: String,
    csrf: &'a str,
    version: i64,
    values: &'a Values,
    statuses: Vec<Opt>,
    classifications: Vec<Opt>,
    determinations: Vec<Opt>,
    tag_suggestions: Vec<String>,
    users: Vec<String>,
    outcome: &'a Outcome,
}

/// The pane's HTML: `values` as given (a refused submission), else the incident's own.
pub(crate) async fn pane_html(
    state: &AppState,
    principal: &Principal,
    incident: &Incident,
    values: Option<&Values>,
    outcome: &Outcome,
) -> Result<String, ApiError> {
    let own = Values::of(incident);
    let values = values.unwrap_or(&own);
    let mut statuses: Vec<Opt> = [IncidentStatus::Active, IncidentStatus::InProgress, IncidentStatus::Resolved]
        .into_iter()
        .map(|s| Opt { value: s.as_str(), label: labels::status(s), selected: s.as_str() == values.status })
        .collect();
    if !statuses.iter().any(|o| o.selected) {
        if let Ok(s) = values.status.parse::<IncidentStatus>() {
            statuses.push(Opt { value: s.as_str(), label: labels::status(s), selected: true });
        }
    }
    let classifications = [
        AlertClassification::Unknown,
        AlertClassification::TruePositive,
        AlertClassification::InformationalExpectedActivity,
        AlertClassification::FalsePositive,
    ]
    .into_iter()
    .map(|c| Opt {
        value: c.as_str(),
        label: labels::classification(Some(c)),
        selected: c.as_str() == values.classification,
    })
    .collect();
    let tag_suggestions = state
        .store
        .tag_suggestions("", TAG_SUGGESTIONS)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .filter(|t| !values.tags.contains(t))
        .collect();
    let users = state.store.list_users().await?.into_iter().filter(|u| u.enabled).map(|u| u.login).collect();
    html(&Pane {
        id: incident.id.to_string(),
        csrf: csrf_of(principal),
        version: incident.meta.version,
        values,
        statuses,
        classifications,
        determinations: determination_options(&values.classification, &values.determination),
        tag_suggestions,
        users,
        outcome,
    })
}

#[derive(Template)]
#[template(path = "incident/manage_page.html")]
struct ManagePage<'a> {
    user: &'a str,
    csrf: &'a str,
    id: String,
    name: String,
    pane: String,
}

/// The fragment, or without `HX-Request` a page around it.
async fn answer(
    state: &AppState,
    principal: &Principal,
    incident: &Incident,
    values: Option<&Values>,
    outcome: &Outcome,
    headers: &HeaderMap,
) -> Response {
    let pane = match pane_html(state, principal, incident, values, outcome).await {
        Ok(pane) => pane,
        Err(e) => return e.into_response(),
    };
    if is_htmx(headers) {
        return Html(pane).into_response();
    }
    render(&ManagePage {
        user: &principal.name,
        csrf: csrf_of(principal),
        id: incident.id.to_string(),
        name: incident.display_name.clone().unwrap_or_else(|| format!("Incident {}", incident.id)),
        pane,
    })
}

async fn pane(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Visible(incident): Visible,
    headers: HeaderMap,
) -> Response {
    answer(&state, &principal, &incident, None, &Outcome::default(), &headers).await
}

#[derive(Debug, Deserialize)]
struct ClassificationQuery {
    classification: Option<String>,
}

/// The determination `<select>` for a classification: what the pane swaps in when it changes.
async fn determinations(_: Visible, Query(query): Query<ClassificationQuery>) -> Response {
    let classification = query.classification.unwrap_or_default();
    render(&Determinations { determinations: determination_options(&classification, "unknown") })
}

async fn save(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Visible(current): Visible,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let submitted = Values::submitted(&fields, &principal);
    let mut outcome = Outcome::default();
    let Some(version) = fields.get("version").and_then(|v| v.trim().parse::<i64>().ok()) else {
        outcome.general = Some("The form did not say which version of the incident it edits; reload the page.".into());
        return answer(&state, &principal, &current, Some(&submitted), &outcome, &headers).await;
    };
    let comment = match submitted.comment.trim() {
        "" => None,
        text => match comment_text(&json!({ "comment": text })) {
            Ok(text) => Some(text),
            Err(e) => {
                outcome.errors.insert("comment", e.message);
                return answer(&state, &principal, &current, Some(&submitted), &outcome, &headers).await;
            }
        },
    };
    let body = Value::Object(submitted.patch_from(&current));
    let patch = match IncidentPatch::from_json(&body) {
        Ok(patch) => patch,
        Err(e) => {
            outcome.errors.insert(field_of(e.property.as_deref()), e.message);
            return answer(&state, &principal, &current, Some(&submitted), &outcome, &headers).await;
        }
    };
    if patch.is_empty() && comment.is_none() {
        outcome.general = Some("Nothing changed.".into());
        return answer(&state, &principal, &current, Some(&submitted), &outcome, &headers).await;
    }
    let mut updated = current.clone();
    if !patch.is_empty() {
        let correlator = match state.correlator().await {
            Ok(correlator) => correlator,
            Err(e) => return e.into_response(),
        };
        let edit = IncidentEdit { patch, ..IncidentEdit::default() };
        match correlator.update_incident(current.id, &edit, Some(version), &context(&state, &principal)).await {
            Ok(incident) => updated = incident,
            Err(ManageError::Stale { current: now, .. }) => {
                let fresh = match state.store.incident(current.id).await {
                    Ok(Some(fresh)) => fresh,
                    Ok(None) => current.clone(),
                    Err(e) => return ApiError::from(e).into_response(),
                };
                outcome.stale = Some(format!(
                    "Someone changed this incident after you opened it (it is now at version {now}), so your changes were not saved. The current values are shown below: check them and save again."
                ));
                // Their comment is kept, so nothing typed is lost.
                let values = Values { comment: submitted.comment.clone(), ..Values::of(&fresh) };
                return answer(&state, &principal, &fresh, Some(&values), &outcome, &headers).await;
            }
            Err(ManageError::Invalid(e)) => {
                outcome.errors.insert(field_of(e.property.as_deref()), e.message);
                return answer(&state, &principal, &current, Some(&submitted), &outcome, &headers).await;
            }
            Err(other) => {
                outcome.general = Some(ApiError::from(other).message().to_owned());
                return answer(&state, &principal, &current, Some(&submitted), &outcome, &headers).await;
            }
        }
    }
    if let Some(text) = comment {
        if let Err(e) =
            add_comments(&state, &principal, CommentTarget::Incident(current.id), current.id, vec![text]).await
        {
            outcome.errors.insert("comment", e.message().to_owned());
            return answer(&state, &principal, &updated, None, &outcome, &headers).await;
        }
    }
    if !is_htmx(&headers) {
        return Redirect::to(&format!("/incidents/{}", current.id)).into_response();
    }
    outcome.saved = Some("Saved.".into());
    let mut response = answer(&state, &principal, &updated, None, &outcome, &headers).await;
    // The header and log on this page refresh at once, without waiting for the live event.
    if let Ok(value) = format!("muster:incident-{}", current.id).parse() {
        response.headers_mut().insert("hx-trigger", value);
    }
    response
}
