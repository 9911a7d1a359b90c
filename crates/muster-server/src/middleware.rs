//! The layers every request passes, outermost first: request ids, tracing, error rendering, the
//! time limit, panic catching and the body limit.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use muster_core::time::Clock;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode, RequestIds};
use crate::ServerConfig;

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// The most of an unrendered error body (an extractor's rejection text) kept as the message.
const MAX_REJECTION_TEXT: usize = 4096;

/// What `render_errors` needs to write a body.
#[derive(Debug, Clone)]
struct Rendering {
    clock: Arc<dyn Clock>,
    body_limit: u64,
}

pub(crate) fn layers(router: Router, config: &ServerConfig, clock: Arc<dyn Clock>) -> Router {
    let rendering = Rendering { clock, body_limit: config.body_limit_bytes };
    let body_limit = usize::try_from(config.body_limit_bytes).unwrap_or(usize::MAX);
    let time_limit = Duration::from_secs(config.request_timeout_secs);
    router
        // axum's own 2 MB default would undercut the configured limit for JSON bodies.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(time_limit, limit_time))
        .layer(from_fn_with_state(rendering, render_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.extensions().get::<RequestIds>().map(|ids| ids.request_id);
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = request.uri().path(),
                        request_id = %id.unwrap_or_default(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                // `on_response` already logs the status and `render_errors` the cause.
                .on_failure(()),
        )
        .layer(from_fn(assign_request_ids))
}

/// Gives each request its ids and echoes them in `request-id` / `client-request-id` headers, as
/// Graph does.
async fn assign_request_ids(mut request: Request, next: Next) -> Response {
    let client_id = request
        .headers()
        .get(&CLIENT_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::parse_str(value.trim()).ok());
    let ids = RequestIds::new(client_id);
    request.extensions_mut().insert(ids);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, id) in [(REQUEST_ID, ids.request_id), (CLIENT_REQUEST_ID, ids.client_request_id)] {
        if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
            headers.insert(name, value);
        }
    }
    response
}

/// Writes every error response as a Graph error body and logs its cause, once.
async fn render_errors(State(rendering): State<Rendering>, request: Request, next: Next) -> Response {
    let ids = request.extensions().get::<RequestIds>().copied().unwrap_or_else(|| RequestIds::new(None));
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let is_page =
        parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let error = match parts.extensions.remove::<ApiError>() {
        Some(error) => error,
        // A page that explains itself (an incident that is not there) is shown as it is.
        None if is_page => return Response::from_parts(parts, body),
        None if parts.status.is_client_error() || parts.status.is_server_error() => {
            unrendered_error(parts.status, body, rendering.body_limit).await
        }
        None => return Response::from_parts(parts, body),
    };

    match error.cause_chain() {
        Some(cause) if error.status().is_server_error() => {
            tracing::error!(code = error.code().as_str(), %cause, "request failed");
        }
        Some(cause) => tracing::debug!(code = error.code().as_str(), %cause, "request refused"),
        None => {}
    }

    let body = error.body(&ids, rendering.clock.now());
    let json = match serde_json::to_vec(&body) {
        Ok(json) => json,
        // Serialising plain strings and uuids cannot fail; keep a body anyway.
        Err(_) => br#"{"error":{"code":"generalException","message":"An internal server error occurred."}}"#.to_vec(),
    };
    parts.status = error.status();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(json))
}

/// An error response some layer or extractor wrote as plain text (or not at all).
async fn unrendered_error(status: axum::http::StatusCode, body: Body, body_limit: u64) -> ApiError {
    let code = ErrorCode::for_status(status);
    let message = match code {
        ErrorCode::NotFound => "No resource matches the request.".to_owned(),
        ErrorCode::MethodNotAllowed => "The resource does not support this method.".to_owned(),
        ErrorCode::RequestTooLarge => {
            format!("The request body is larger than {body_limit} bytes.")
        }
        _ if status.is_client_error() => {
            // Extractor rejections explain themselves ("Failed to parse the request body as JSON").
            let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("The request is invalid.").to_owned()
            } else {
                text
            }
        }
        _ => String::new(),
    };
    ApiError::new(code, message)
}

/// Caps how long a handler may run. A slow client uploading a body counts against it too.
async fn limit_time(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::ServiceNotAvailable,
            format!("The request did not finish within {} seconds.", limit.as_secs()),
        )
        .with_cause("request timed out")
        .into_response(),
    }
}

/// A panicking handler answers 500 like any other failure instead of dropping the connection.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::{header, Method, StatusCode};
    use axum::routing::{get, post};
    use axum::Json;
    use muster_core::time::ManualClock;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    fn app(config: ServerConfig) -> Router {
        let routes = Router::new()
            .route("/fail", get(|| async { ApiError::internal("disk full at /var/lib/muster") }))
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("boom");
                    }
                    "unreachable"
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "late"
                }),
            )
            .route("/echo", post(|Json(value): Json<Value>| async move { Json(value) }));
        let clock = Arc::new(ManualClock::new("2024-05-01T12:00:00Z".parse().unwrap()));
        layers(routes, &config, clock)
    }

    async fn send(app: Router, request: Request) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
    }

    fn get_request(path: &str) -> Request {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn internal_errors_are_opaque_and_carry_request_ids() {
        let client_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let request = Request::get("/fail").header("client-request-id", client_id).body(Body::empty()).unwrap();
        let (status, headers, body) = send(app(ServerConfig::default()), request).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let error = &body["error"];
        assert_eq!(error["code"], "generalException");
        assert!(!body.to_string().contains("/var/lib"));
        assert_eq!(error["innerError"]["date"], "2024-05-01T12:00:00Z");
        assert_eq!(error["innerError"]["client-request-id"], client_id);
        assert_eq!(headers["client-request-id"], client_id);
        assert_eq!(error["innerError"]["request-id"], headers["request-id"].to_str().unwrap());
    }

    #[tokio::test]
    async fn a_client_request_id_that_is_not_a_uuid_is_replaced() {
        let request = Request::get("/fail").header("client-request-id", "abc").body(Body::empty()).unwrap();
        let (_, headers, body) = send(app(ServerConfig::default()), request).await;
        let id = body["error"]["innerError"]["client-request-id"].as_str().unwrap();
        assert!(Uuid::parse_str(id).is_ok());
        assert_eq!(headers["client-request-id"], id);
    }

    #[tokio::test]
    async fn panics_become_500() {
        let (status, _, body) = send(app(ServerConfig::default()), get_request("/panic")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "generalException");
        assert!(!body.to_string().contains("boom"));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_time_out() {
        let config = ServerConfig { request_timeout_secs: 5, ..ServerConfig::default() };
        let (status, _, body) = send(app(config), get_request("/slow")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "serviceNotAvailable");
        assert_eq!(body["error"]["message"], "The request did not finish within 5 seconds.");
    }

    #[tokio::test]
    async fn wrong_methods_get_405_with_allow() {
        let request = Request::builder().method(Method::DELETE).uri("/fail").body(Body::empty()).unwrap();
        let (status, headers, body) = send(app(ServerConfig::default()), request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(headers[header::ALLOW].to_str().unwrap().contains("GET"));
        assert_eq!(body["error"]["code"], "methodNotAllowed");
    }

    fn echo(body: Body, length: Option<usize>) -> Request {
        let mut request = Request::post("/echo").header(header::CONTENT_TYPE, "application/json");
        if let Some(length) = length {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        request.body(body).unwrap()
    }

    #[tokio::test]
    async fn bodies_over_the_limit_get_413() {
        let config = ServerConfig { body_limit_bytes: 64, ..ServerConfig::default() };
        let big = format!("\"{}\"", "x".repeat(100));

        // Refused on its declared length, before any handler runs.
        let (status, _, body) = send(app(config.clone()), echo(Body::from(big.clone()), Some(big.len()))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "requestTooLarge");
        assert_eq!(body["error"]["message"], "The request body is larger than 64 bytes.");

        // Sent without a declared length: refused while the handler reads it.
        let (status, _, body) = send(app(config.clone()), echo(Body::from(big), None)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "requestTooLarge");

        let small = "\"fits\"".to_owned();
        let (status, _, body) = send(app(config), echo(Body::from(small.clone()), Some(small.len()))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "fits");
    }

    #[tokio::test]
    async fn extractor_rejections_keep_their_explanation() {
        let (status, _, body) = send(app(ServerConfig::default()), echo(Body::from("{nope"), Some(5))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalidRequest");
        assert!(body["error"]["message"].as_str().unwrap().contains("JSON"), "{body}");
    }
}
