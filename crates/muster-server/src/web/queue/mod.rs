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

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use muster_core::store::query::counts::FacetCounts;
use muster_core::store::query::IncidentField;

use self::columns::Column;
use self::filters::{Filter, FilterGroup};
use self::results::Results;
use self::view::{Range, View};
use super::{is_htmx, render, Chrome};
use crate::api::facets::DEFAULT_LIMIT as FACET_LIMIT;
use crate::api::incidents::scoped;
use crate::api::query::selection;
use crate::auth::{Access, Credential, Principal, Routes};
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get("/", Access::Read, page)
        .post("/queue/columns", Access::Read, save_columns)
        .merge(rows::routes())
        .merge(bulk::routes())
}

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

/// How many incidents of the view's time range and search have each filter value: the panel's
/// counts. The filters themselves are left out, so a chosen value does not zero its neighbours.
/// `None` when they cannot be had (the page still works without them).
async fn facet_counts(state: &AppState, principal: &Principal, view: &View) -> Option<FacetCounts> {
    let window = View {
        range: view.range,
        from: view.from.clone(),
        to: view.to.clone(),
        search: view.search.clone(),
        page: 1,
        ..View::default()
    };
    let options = window.options(&principal.name, state.clock.now()).ok()?;
    let query = scoped(selection::<IncidentField>(&options).ok()?, principal);
    match state.store.incident_facet_counts(&query, FACET_LIMIT).await {
        Ok(counts) => Some(counts),
        Err(e) => {
            tracing::warn!(error = %e, "could not count filter values; the panel shows none");
            None
        }
    }
}

#[derive(Template)]
#[template(path = "queue/page.html")]
struct QueuePage {
    chrome: Chrome,
    view: View,
    view_query: String,
    ranges: Vec<(&'static str, &'static str, bool)>,
    groups: Vec<FilterGroup>,
    /// Said under the panel when the counts stopped at the store's limit.
    counts_note: Option<String>,
    /// The newest incident id when the page was drawn: live updates count what came after.
    newest_id: i64,
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
    let counts = facet_counts(state, principal, &view).await;
    let counts_note =
        counts.as_ref().filter(|c| !c.complete()).map(|c| format!("Counts cover the newest {} incidents.", c.counted));
    let groups = filters::groups(&view, &logins, &principal.name, counts.as_ref());
    let shown = results.columns.clone();
    let mut column_choices: Vec<(&'static str, &'static str, bool)> =
        shown.iter().map(|c| (c.key(), c.label(), true)).collect();
    column_choices.extend(columns::ALL.iter().filter(|c| !shown.contains(c)).map(|c| (c.key(), c.label(), false)));
    let view_query = view.query();
    let newest_id = state.store.max_incident_id().await.unwrap_or(0);
    let bulk = bulk.unwrap_or_else(|| bulk::BulkForm::new(&logins));
    render(&QueuePage {
        chrome: Chrome::of(principal),
        ranges: Range::ALL.iter().map(|r| (r.key(), r.label(), *r == view.range)).collect(),
        mine: view.has(Filter::Assigned, filters::ME),
        view_query,
        view,
        groups,
        counts_note,
        newest_id,
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
