//! The API's one error type and its Graph-shaped body.
//!
//! Handlers return `ApiError`; its `IntoResponse` only sets the status and parks the error in the
//! response extensions. The `render_errors` middleware (see `middleware.rs`) then writes the body,
//! because only it knows the request ids, and logs the cause once. The same middleware gives error
//! responses that did not come from an `ApiError` (a 405 from the router, a 413 from the body limit,
//! an extractor's rejection) the same body, so every error a client sees has one shape.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use muster_core::store::StoreError;
use muster_core::Timestamp;
use serde::Serialize;
use uuid::Uuid;

/// The stable error codes clients may match on, each with its HTTP status. Names follow Graph's
/// published codes where Graph has one; once shipped, a code is never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    Unauthenticated,
    AccessDenied,
    /// No route matches the path.
    NotFound,
    /// The route exists but the record it names does not.
    ItemNotFound,
    MethodNotAllowed,
    Conflict,
    /// The record changed since the client read it (a failed `If-Match`).
    ResourceModified,
    RequestTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    GeneralException,
    ServiceNotAvailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.entry().0
    }

    pub fn status(self) -> StatusCode {
        self.entry().1
    }

    fn entry(self) -> (&'static str, StatusCode) {
        match self {
            Self::InvalidRequest => ("invalidRequest", StatusCode::BAD_REQUEST),
            Self::Unauthenticated => ("unauthenticated", StatusCode::UNAUTHORIZED),
            Self::AccessDenied => ("accessDenied", StatusCode::FORBIDDEN),
            Self::NotFound => ("notFound", StatusCode::NOT_FOUND),
            Self::ItemNotFound => ("itemNotFound", StatusCode::NOT_FOUND),
            Self::MethodNotAllowed => ("methodNotAllowed", StatusCode::METHOD_NOT_ALLOWED),
            Self::Conflict => ("conflict", StatusCode::CONFLICT),
            Self::ResourceModified => ("resourceModified", StatusCode::PRECONDITION_FAILED),
            Self::RequestTooLarge => ("requestTooLarge", StatusCode::PAYLOAD_TOO_LARGE),
            Self::UnsupportedMediaType => ("unsupportedMediaType", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            Self::TooManyRequests => ("tooManyRequests", StatusCode::TOO_MANY_REQUESTS),
            Self::GeneralException => ("generalException", StatusCode::INTERNAL_SERVER_ERROR),
            Self::ServiceNotAvailable => ("serviceNotAvailable", StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    /// The code for an error response that did not come from an `ApiError`.
    pub(crate) fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthenticated,
            StatusCode::FORBIDDEN => Self::AccessDenied,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PRECONDITION_FAILED => Self::ResourceModified,
            StatusCode::PAYLOAD_TOO_LARGE => Self::RequestTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE => Self::ServiceNotAvailable,
            s if s.is_server_error() => Self::GeneralException,
            _ => Self::InvalidRequest,
        }
    }
}

/// One item of `details`: a finer-grained reason, usually naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub target: Option<String>,
}

/// What a cause is kept as: shared, so the error can sit in response extensions (which need
/// `Clone`).
type Cause = Arc<dyn StdError + Send + Sync>;

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    target: Option<String>,
    details: Vec<ErrorDetail>,
    /// For the log only; never sent.
    cause: Option<Cause>,
}

/// The message every 500 carries, whatever happened: the cause goes to the log, not the client.
const INTERNAL_MESSAGE: &str = "An internal server error occurred.";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), target: None, details: Vec::new(), cause: None }
    }

    /// A failure the client cannot fix. The body stays opaque; `cause` is logged with the
    /// request id.
    pub fn internal(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(ErrorCode::GeneralException, INTERNAL_MESSAGE).with_cause(cause)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn item_not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ItemNotFound, message)
    }

    /// Names the part of the request at fault (a property, a query option).
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.details.push(detail);
        self
    }

    /// Keeps an underlying error for the log.
    pub fn with_cause(mut self, cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The part of the request at fault, if one was named.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The cause and its sources on one line, for the log.
    pub(crate) fn cause_chain(&self) -> Option<String> {
        let cause = self.cause.as_deref()?;
        let mut line = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            line.push_str(": ");
            line.push_str(&next.to_string());
            source = next.source();
        }
        Some(line)
    }

    /// The Graph body for this error in the request `ids` identify.
    pub(crate) fn body(&self, ids: &RequestIds, date: Timestamp) -> ErrorBody<'_> {
        // Server errors keep to the fixed message even if a handler wrote something more
        // telling: that text may name tables, hosts or paths.
        let opaque = self.status().is_server_error() && self.code != ErrorCode::ServiceNotAvailable;
        ErrorBody {
            error: ErrorObject {
                code: self.code.as_str(),
                message: if opaque { INTERNAL_MESSAGE } else { &self.message },
                target: self.target.as_deref(),
                details: &self.details,
                inner_error: InnerError {
                    date: Timestamp::from_secs(date.micros().div_euclid(1_000_000)),
                    request_id: ids.request_id,
                    client_request_id: ids.client_request_id,
                },
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::item_not_found("The requested item does not exist."),
            StoreError::Conflict(what) => Self::new(ErrorCode::Conflict, format!("Conflict: {what}.")),
            StoreError::VersionMismatch { id, current } => Self::new(
                ErrorCode::ResourceModified,
                format!("Incident {id} changed meanwhile; it is now at version {current}."),
            ),
            StoreError::Corrupt(_) | StoreError::Backend(_) => Self::internal(error),
        }
    }
}

/// The ids that tie a response to the server's log (`request-id`) and to the client's own
/// (`client-request-id`, echoed when the client sent a UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestIds {
    pub request_id: Uuid,
    pub client_request_id: Uuid,
}

impl RequestIds {
    pub(crate) fn new(client_request_id: Option<Uuid>) -> Self {
        Self { request_id: Uuid::new_v4(), client_request_id: client_request_id.unwrap_or_else(Uuid::new_v4) }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    error: ErrorObject<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorObject<'a> {
    code: &'a str,
    message: &'a str,
    target: Option<&'a str>,
    details: &'a [ErrorDetail],
    inner_error: InnerError,
}

#[derive(Debug, Serialize)]
struct InnerError {
    date: Timestamp,
    #[serde(rename = "request-id")]
    request_id: Uuid,
    #[serde(rename = "client-request-id")]
    client_request_id: Uuid,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ids() -> RequestIds {
        RequestIds { request_id: Uuid::nil(), client_request_id: Uuid::max() }
    }

    fn render(error: &ApiError) -> serde_json::Value {
        serde_json::to_value(error.body(&ids(), "2024-05-01T12:00:00.25Z".parse().unwrap())).unwrap()
    }

    #[test]
    fn body_has_graph_shape() {
        let error = ApiError::invalid_request("Bad $top.").with_target("$top");
        assert_eq!(
            render(&error),
            json!({"error": {
                "code": "invalidRequest",
                "message": "Bad $top.",
                "target": "$top",
                "details": [],
                "innerError": {
                    "date": "2024-05-01T12:00:00Z",
                    "request-id": "00000000-0000-0000-0000-000000000000",
                    "client-request-id": "ffffffff-ffff-ffff-ffff-ffffffffffff"
                }
            }})
        );
    }

    #[test]
    fn server_errors_are_opaque() {
        let error = ApiError::new(ErrorCode::GeneralException, "table incidents is locked")
            .with_cause(std::io::Error::other("disk on fire"));
        let body = render(&error);
        assert_eq!(body["error"]["message"], INTERNAL_MESSAGE);
        assert!(!body.to_string().contains("fire"));
        assert_eq!(error.cause_chain().as_deref(), Some("disk on fire"));
    }

    #[test]
    fn store_errors_map_to_codes() {
        assert_eq!(ApiError::from(StoreError::NotFound).status(), StatusCode::NOT_FOUND);
        assert_eq!(ApiError::from(StoreError::Conflict("login".into())).status(), StatusCode::CONFLICT);
        let backend = ApiError::from(StoreError::Backend("connection reset".into()));
        assert_eq!(backend.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(backend.cause_chain().as_deref(), Some("database error: connection reset"));
    }

    #[test]
    fn every_code_maps_back_from_its_status() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::Unauthenticated,
            ErrorCode::AccessDenied,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Conflict,
            ErrorCode::ResourceModified,
            ErrorCode::RequestTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::TooManyRequests,
            ErrorCode::GeneralException,
            ErrorCode::ServiceNotAvailable,
        ] {
            assert_eq!(ErrorCode::for_status(code.status()), code, "{}", code.as_str());
        }
    }
}
