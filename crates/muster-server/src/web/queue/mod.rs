//! The queue at `/`: incidents newest activity first, with the time range, filters, search, sort
//! and page of its URL; rows that expand to their alerts, a preview pane, column choices kept per
//! person, and bulk changes. Reads go through the API's query layer, changes through the
//! correlator's, so the page and the API never disagree.

mod bulk;
pub(crate) mod columns;
mod filters;
mod results;
mod rows;
pub(crate) mod view;

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use muster_core::store::query::IncidentField;

use self::columns::Column;
use self::filters::{Filter, FilterGroup};
use self::results::Results;
use self::view::{Range, View};
use super::{is_htmx, render, Chrome};
use crate::api::query::{list_request, within_groups, PageLimits};
use crate::auth::{Access, Credential, Principal, Routes};
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get("/", Access::Read, page)
        .post("/queue/columns", Access::Read, save_columns)
        .merge(rows::routes())
        .merge(bulk::routes())
}

/// Incidents looked at to list the values of filters that come from storage.
// Until the store counts facet values, the panel lists what the newest incidents of the window
// carry; `stored_values` is the one place to replace with the store's facet counts.
const SAMPLED: u32 = 50;
const SAMPLED_PAGES: u32 = 10;

/// The signed-in user's id, for their settings; a service token has none.
pub(crate) fn user_id(principal: &Principal) -> Option<i64> {
    match principal.credential {
        Credential::Session { user_id, .. } => Some(user_id),
        Credential::Token { user_id, .. } => user_id,
    }
}

/// The columns this person chose, or the default.
async fn columns_of(state: &AppState, principal: &Principal) -> Vec<Column> {
    let saved = match user_id(principal) {
        Some(id) => state.store.preference(id, columns::PREFERENCE).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read column settings; showing the default");
            None
        }),
        None => None,
    };
    columns::from_preference(saved.as_deref())
}

/// The values each storage-backed filter offers: what incidents of the view's window carry.
async fn stored_values(state: &AppState, principal: &Principal, view: &View) -> Vec<(Filter, BTreeSet<String>)> {
    let window = View { range: view.range, from: view.from.clone(), to: view.to.clone(), page: 1, ..View::default() };
    let wanted = [
        Filter::Categories,
        Filter::DataSensitivity,
        Filter::DeviceGroup,
        Filter::OsPlatform,
        Filter::ServiceSources,
        Filter::DetectionSources,
        Filter::Tags,
    ];
    let mut found: Vec<(Filter, BTreeSet<String>)> = wanted.iter().map(|f| (*f, BTreeSet::new())).collect();
    let Ok(options) = window.options(&principal.name, state.clock.now()) else { return found };
    let limits = PageLimits { default: SAMPLED, max: SAMPLED, strict: false };
    let Ok(request) = list_request::<IncidentField>(&options, limits, &[], &[]) else { return found };
    let mut query = request.query;
    query.top = SAMPLED;
    if let Some(groups) = principal.scope.groups() {
        within_groups(&mut query, groups);
    }
    for _ in 0..SAMPLED_PAGES {
        let Ok(page) = state.store.query_incidents(&query).await else { break };
        for incident in page.items.iter().filter(|i| principal.scope.allows(i)) {
            for (filter, values) in &mut found {
                values.extend(filter.values_of(incident));
            }
        }
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    found
}

#[derive(Template)]
#[template(path = "queue/page.html")]
struct QueuePage {
    chrome: Chrome,
    view: View,
    view_query: String,
    ranges: Vec<(&'static str, &'static str, bool)>,
    groups: Vec<FilterGroup>,
    mine: bool,
    results: Results,
    column_choices: Vec<(&'static str, &'static str, bool)>,
    bulk: bulk::BulkForm,
}

#[derive(Template)]
#[template(path = "queue/fragment.html")]
struct ResultsFragment {
    results: Results,
}

/// The whole page, or (for htmx) the results it swaps in, with the view's clean URL pushed.
pub(super) async fn respond(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    view: View,
    results: Results,
    bulk: Option<bulk::BulkForm>,
) -> Response {
    if is_htmx(headers) && bulk.is_none() {
        let mut response = render(&ResultsFragment { results });
        if let Ok(url) = HeaderValue::from_str(&view.href()) {
            response.headers_mut().insert("hx-push-url", url);
        }
        return response;
    }
    let logins: Vec<String> = state
        .store
        .list_users()
        .await
        .map(|users| users.into_iter().filter(|u| u.enabled).map(|u| u.login).collect())
        .unwrap_or_default();
    let stored = stored_values(state, principal, &view).await;
    let lookup = |filter: Filter| stored.iter().find(|(f, _)| *f == filter).map(|(_, v)| v.clone()).unwrap_or_default();
    let groups = filters::groups(&view, &logins, &lookup);
    let shown = results.columns.clone();
    let mut column_choices: Vec<(&'static str, &'static str, bool)> =
        shown.iter().map(|c| (c.key(), c.label(), true)).collect();
    column_choices.extend(columns::ALL.iter().filter(|c| !shown.contains(c)).map(|c| (c.key(), c.label(), false)));
    let view_query = view.query();
    let bulk = bulk.unwrap_or_else(|| bulk::BulkForm::new(&logins));
    render(&QueuePage {
        chrome: Chrome::of(principal),
        ranges: Range::ALL.iter().map(|r| (r.key(), r.label(), *r == view.range)).collect(),
        mine: view.has(Filter::Assigned, filters::ME),
        view_query,
        view,
        groups,
        results,
        column_choices,
        bulk,
    })
}

async fn page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let view = View::parse(query.as_deref().unwrap_or(""));
    let columns = columns_of(&state, &principal).await;
    let results = match results::load(&state, &principal, &view, columns).await {
        Ok(results) => results,
        Err(error) => return error.into_response(),
    };
    respond(&state, &principal, &headers, view, results, None).await
}

/// The view a form posted from the queue was showing: htmx says which URL it is on; a plain form
/// carries it in a field.
pub(super) fn posted_view(headers: &HeaderMap, field: Option<&str>) -> View {
    let from_header = headers
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.split_once('?').map(|(_, q)| q.to_owned()).or(Some(String::new())));
    View::parse(&from_header.or_else(|| field.map(str::to_owned)).unwrap_or_default())
}

/// Saves the columns a person chose, in the order sent, and shows the queue with them.
async fn save_columns(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    RawForm(pairs): RawForm,
) -> Response {
    let chosen: Vec<&str> = pairs.iter().filter(|(k, _)| k == "col").map(|(_, v)| v.as_str()).collect();
    let columns = columns::from_preference(serde_json::to_string(&chosen).ok().as_deref());
    if let Some(id) = user_id(&principal) {
        let now = state.clock.now();
        if let Err(e) =
            state.store.set_preference(id, columns::PREFERENCE, &columns::to_preference(&columns), now).await
        {
            return crate::error::ApiError::from(e).into_response();
        }
    }
    let view = posted_view(&headers, pairs.iter().find(|(k, _)| k == "view").map(|(_, v)| v.as_str()));
    if !is_htmx(&headers) {
        return Redirect::to(&view.href()).into_response();
    }
    match results::load(&state, &principal, &view, columns).await {
        Ok(results) => respond(&state, &principal, &headers, view, results, None).await,
        Err(error) => error.into_response(),
    }
}

/// A form body as its pairs, repeated keys kept (the columns in their order).
pub(super) struct RawForm(pub(super) Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawForm {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        Ok(Self(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}
