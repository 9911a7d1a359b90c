//! The bulk bar: one change (status, assignment, classification and determination, tags, a
//! comment) to every selected incident, through the same update layer as the API's bulk update.
//! A change that does not validate is shown beside the field it is about; nothing is applied.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use muster_core::assessment::{determinations_for, Assessment};
use muster_core::enums::{AlertClassification, AlertDetermination, IncidentStatus};
use muster_core::manage::{clean_tags, comment_text, IncidentPatch};
use muster_core::GraphEnum;
use serde_json::{json, Map, Value};

use super::columns::words;
use super::{posted_view, respond, results, RawForm};
use crate::api::manage::{apply_bulk, MAX_BULK};
use crate::auth::{Access, Principal, Routes};
use crate::correlator::IncidentEdit;
use crate::web::{is_htmx, render, Chrome};
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new().post("/queue/bulk", Access::Manage, apply)
}

/// The bar's fields, their options, what was sent and what was refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct BulkForm {
    pub(crate) statuses: Vec<(&'static str, String)>,
    pub(crate) logins: Vec<String>,
    /// `classification` or `classification:determination`, grouped by classification.
    pub(crate) assessments: Vec<(String, Vec<(String, String)>)>,
    pub(crate) status: String,
    pub(crate) assign: String,
    pub(crate) assessment: String,
    pub(crate) tags: String,
    pub(crate) comment: String,
    pub(crate) errors: Vec<(&'static str, String)>,
}

impl BulkForm {
    pub(crate) fn new(logins: &[String]) -> Self {
        let statuses = [IncidentStatus::Active, IncidentStatus::InProgress, IncidentStatus::Resolved]
            .into_iter()
            .map(|s| (s.as_str(), words(s.as_str())))
            .collect();
        let assessments = [
            AlertClassification::TruePositive,
            AlertClassification::InformationalExpectedActivity,
            AlertClassification::FalsePositive,
        ]
        .into_iter()
        .map(|c| {
            let mut options = vec![(c.as_str().to_owned(), format!("{} (no determination)", words(c.as_str())))];
            options.extend(
                determinations_for(c).iter().map(|d| (format!("{}:{}", c.as_str(), d.as_str()), words(d.as_str()))),
            );
            (words(c.as_str()), options)
        })
        .collect();
        Self { statuses, logins: logins.to_vec(), assessments, ..Self::default() }
    }

    pub(crate) fn error_for(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "queue/bulk_only.html")]
struct BulkOnly {
    chrome: Chrome,
    bulk: BulkForm,
    view_query: String,
}

/// What the bar asks for, checked by the same parsers as the API's bulk update.
struct Change {
    ids: Vec<String>,
    edit: IncidentEdit,
    comment: Option<String>,
}

fn field_of_property(property: Option<&str>) -> &'static str {
    match property.unwrap_or("") {
        "status" | "resolvingComment" => "status",
        "assignedTo" => "assign",
        "classification" | "determination" => "assessment",
        _ => "form",
    }
}

fn read(form: &mut BulkForm, pairs: &[(String, String)], me: &str) -> Option<Change> {
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    form.status = get("status");
    form.assign = get("assign");
    form.assessment = get("assessment");
    form.tags = get("tags");
    form.comment = get("comment");
    let ids: Vec<String> = pairs.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.trim().to_owned()).collect();
    if ids.is_empty() {
        form.errors.push(("form", "Select the incidents to change first.".to_owned()));
    } else if ids.len() > MAX_BULK {
        form.errors.push(("form", format!("Change at most {MAX_BULK} incidents at a time.")));
    }
    let mut changes = Map::new();
    if !form.status.is_empty() {
        changes.insert("status".into(), json!(form.status));
    }
    match form.assign.as_str() {
        "" => {}
        "me" => {
            changes.insert("assignedTo".into(), json!(me));
        }
        "none" => {
            changes.insert("assignedTo".into(), Value::Null);
        }
        login => {
            changes.insert("assignedTo".into(), json!(login));
        }
    }
    if !form.assessment.is_empty() {
        let (classification, determination) = match form.assessment.split_once(':') {
            Some((c, d)) => (c, Some(d)),
            None => (form.assessment.as_str(), None),
        };
        // The pair is checked here too, so a misfit is refused beside the field rather than by
        // each incident in turn.
        let fits = classification
            .parse::<AlertClassification>()
            .ok()
            .zip(determination.map_or(Some(AlertDetermination::Unknown), |d| d.parse::<AlertDetermination>().ok()));
        match fits.map(|(c, d)| Assessment::new(Some(c), Some(d))) {
            Some(Ok(_)) => {}
            Some(Err(e)) => form.errors.push(("assessment", e.to_string())),
            None => form.errors.push(("assessment", format!("'{}' is not a classification.", form.assessment))),
        }
        changes.insert("classification".into(), json!(classification));
        changes.insert("determination".into(), json!(determination.unwrap_or("unknown")));
    }
    let patch = match IncidentPatch::from_json(&Value::Object(changes)) {
        Ok(patch) => patch,
        Err(e) => {
            form.errors.push((field_of_property(e.property.as_deref()), e.message));
            IncidentPatch::default()
        }
    };
    let tags: Vec<&str> = form.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    let add_tags = match clean_tags("addTags", &json!(tags)) {
        Ok(tags) => tags,
        Err(e) => {
            form.errors.push(("tags", e.message));
            Vec::new()
        }
    };
    let comment = if form.comment.is_empty() {
        None
    } else {
        match comment_text(&json!({ "comment": form.comment })) {
            Ok(text) => Some(text),
            Err(e) => {
                form.errors.push(("comment", e.message));
                None
            }
        }
    };
    let edit = IncidentEdit { patch, add_tags, ..IncidentEdit::default() };
    if form.errors.is_empty() && edit.patch.is_empty() && edit.add_tags.is_empty() && comment.is_none() {
        form.errors.push(("form", "Choose a change to make.".to_owned()));
    }
    form.errors.is_empty().then_some(Change { ids, edit, comment })
}

async fn apply(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    RawForm(pairs): RawForm,
) -> Response {
    let logins: Vec<String> = state
        .store
        .list_users()
        .await
        .map(|users| users.into_iter().filter(|u| u.enabled).map(|u| u.login).collect())
        .unwrap_or_default();
    let mut form = BulkForm::new(&logins);
    let view = posted_view(&headers, pairs.iter().find(|(k, _)| k == "view").map(|(_, v)| v.as_str()));
    let Some(change) = read(&mut form, &pairs, &principal.name) else {
        return refused(&state, &principal, &headers, view, form).await;
    };
    let outcomes = match apply_bulk(&state, &principal, change.ids, &change.edit, change.comment.as_deref()).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            form.errors.push(("form", error.message().to_owned()));
            return refused(&state, &principal, &headers, view, form).await;
        }
    };
    let done = outcomes.iter().filter(|(_, o)| o.is_ok()).count();
    let problems: Vec<String> = outcomes
        .iter()
        .filter_map(|(id, o)| o.as_ref().err().map(|e| format!("Incident {id}: {}", e.message())))
        .collect();
    if !is_htmx(&headers) {
        return Redirect::to(&view.href()).into_response();
    }
    let columns = super::columns_of(&state, &principal).await;
    let mut results = match results::load(&state, &principal, &view, columns).await {
        Ok(results) => results,
        Err(error) => return error.into_response(),
    };
    results.notice = Some(format!("Updated {done} incident{}.", if done == 1 { "" } else { "s" }));
    results.problems = problems;
    respond(&state, &principal, &headers, view, results, None).await
}

/// The bar again with what was refused beside its field: in place for htmx, else the page.
async fn refused(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    view: super::View,
    form: BulkForm,
) -> Response {
    if is_htmx(headers) {
        let mut response = render(&BulkOnly { chrome: Chrome::of(principal), bulk: form, view_query: view.query() });
        response.headers_mut().insert("hx-retarget", HeaderValue::from_static("#bulk-form"));
        response.headers_mut().insert("hx-reswap", HeaderValue::from_static("outerHTML"));
        return response;
    }
    let columns = super::columns_of(state, principal).await;
    match results::load(state, principal, &view, columns).await {
        Ok(results) => {
            let mut response = respond(state, principal, headers, view, results, Some(form)).await;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
        Err(error) => error.into_response(),
    }
}
