//! The signed-in landing page.

use askama::Template;
use axum::response::Response;
use axum::Extension;

use super::render;
use crate::auth::{Access, Credential, Principal, Routes};

pub(super) fn routes() -> Routes {
    Routes::new().get("/", Access::Read, home)
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    name: &'a str,
    csrf: &'a str,
    is_admin: bool,
}

/// The session's CSRF token, for forms on the page.
pub(crate) fn csrf_of(principal: &Principal) -> &str {
    match &principal.credential {
        Credential::Session { csrf, .. } => csrf,
        Credential::Token { .. } => "",
    }
}

async fn home(Extension(principal): Extension<Principal>) -> Response {
    render(&Home { name: &principal.name, csrf: csrf_of(&principal), is_admin: principal.is_admin() })
}
