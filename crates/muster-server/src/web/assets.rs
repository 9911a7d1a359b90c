//! Static assets, embedded in the binary: the stylesheet, Muster's small script and vendored htmx.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::auth::{Access, Routes};

pub(super) fn routes() -> Routes {
    Routes::new()
        .get("/static/muster.css", Access::Public, stylesheet)
        .get("/static/muster.js", Access::Public, script)
        .get("/static/htmx.min.js", Access::Public, htmx)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    // An hour: long enough to spare requests, short enough that an upgrade shows soon.
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../static/muster.css"))
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../static/muster.js"))
}

/// htmx 2.0.11 from the npm registry (`dist/htmx.min.js`, 0BSD).
async fn htmx() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../static/htmx.min.js"))
}
