//! The web UI: server-rendered pages with their vendored static assets.

mod form;
mod incident;
mod live;
mod pages;
mod tokens;

use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};

use crate::auth::{Access, Routes};
use crate::error::ApiError;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get("/static/muster.css", Access::Public, stylesheet)
        .merge(pages::routes())
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

async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/muster.css"),
    )
        .into_response()
}
