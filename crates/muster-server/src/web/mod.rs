//! The web UI: server-rendered pages with their vendored static assets.
//!
//! Pages follow one convention: a request that htmx makes (it sends `HX-Request`) gets the
//! fragment it swaps in, any other request the full page, so every URL also works on reload.

mod assets;
mod form;
mod incident;
mod live;
mod queue;
mod tokens;

use askama::Template;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::{Access, Credential, Principal, Routes};
use crate::error::ApiError;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .merge(assets::routes())
        .merge(queue::routes())
        .merge(tokens::routes())
        .merge(incident::routes())
        .merge(live::routes())
}

/// Renders a template, or a 500 whose cause is logged.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(format!("template failed: {e}")).into_response(),
    }
}

/// Whether htmx made the request (and so wants a fragment). A history restore asks for the
/// whole page again, as a reload would.
pub(crate) fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-history-restore-request")
}

/// What the top bar of every signed-in page shows.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub(crate) name: String,
    pub(crate) csrf: String,
    pub(crate) is_admin: bool,
    pub(crate) can_manage: bool,
}

impl Chrome {
    pub(crate) fn of(principal: &Principal) -> Self {
        Self {
            name: principal.name.clone(),
            csrf: csrf_of(principal).to_owned(),
            is_admin: principal.is_admin(),
            can_manage: principal.can(Access::Manage),
        }
    }
}

/// The session's CSRF token, for forms on the page.
pub(crate) fn csrf_of(principal: &Principal) -> &str {
    match &principal.credential {
        Credential::Session { csrf, .. } => csrf,
        Credential::Token { .. } => "",
    }
}
