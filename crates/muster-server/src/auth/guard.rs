//! The access check every request passes: who is calling (bearer token or session cookie), whether
//! the route it reached allows them, and, for sessions, that a state-changing request really comes
//! from Muster's own pages (CSRF).

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use muster_core::access::Role;
use muster_core::Timestamp;

use super::access::{Access, Credential, Principal, Scope};
use super::routes::Declared;
use super::secrets::{constant_time_eq, hash_secret};
use super::SESSION_COOKIE;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// The header htmx requests and scripts carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain HTML forms carry it in.
pub const CSRF_FIELD: &str = "csrf_token";
/// The most of a form body read to find its CSRF token.
const MAX_FORM_BYTES: usize = 1024 * 1024;
/// Touch a token's or session's last-use time at most this often, to spare the writer.
const TOUCH_EVERY_SECS: i64 = 60;

/// Why a credential was refused: said once to the client, in the same words whatever the reason,
/// so nobody can probe which tokens exist.
fn unauthenticated() -> Response {
    let mut response =
        ApiError::new(ErrorCode::Unauthenticated, "Missing, invalid, expired or revoked credentials.").into_response();
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ());
    Some(text.and_then(|t| {
        let (scheme, token) = t.trim().split_once(' ').ok_or(())?;
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            Ok(token.trim())
        } else {
            Err(())
        }
    }))
}

/// A caller's identity, or why it has none.
enum Identity {
    Anonymous,
    Known(Principal),
    Refused,
}

async fn from_token(state: &AppState, secret: &str, now: Timestamp) -> Result<Identity, ApiError> {
    let Some(token) = state.store.token_by_hash(&hash_secret(secret)).await.map_err(ApiError::from)? else {
        return Ok(Identity::Refused);
    };
    if !token.is_usable(now) {
        return Ok(Identity::Refused);
    }
    let (name, roles, scope) = match token.user_id {
        Some(user_id) => {
            let Some(user) = state.store.user_by_id(user_id).await.map_err(ApiError::from)? else {
                return Ok(Identity::Refused);
            };
            if !user.enabled {
                return Ok(Identity::Refused);
            }
            // A user's token carries its own role, but never more than the user has.
            let roles: Vec<Role> =
                if user.roles.iter().any(|r| r.covers(token.role)) { vec![token.role] } else { Vec::new() };
            let scope = Scope::of(&token.device_groups).narrowed(&Scope::of(&user.device_groups));
            (user.login, roles, scope)
        }
        None => (token.name.clone(), vec![token.role], Scope::of(&token.device_groups)),
    };
    if token.last_used_at.is_none_or(|t| now.micros() - t.micros() > TOUCH_EVERY_SECS * 1_000_000) {
        state.store.touch_token(token.id, now).await.map_err(ApiError::from)?;
    }
    let credential = Credential::Token { token_id: token.id, user_id: token.user_id };
    Ok(Identity::Known(Principal { name, roles, scope, credential }))
}

async fn from_session(state: &AppState, secret: &str, now: Timestamp) -> Result<Identity, ApiError> {
    let session_hash = hash_secret(secret);
    let Some(session) = state.store.session(&session_hash).await.map_err(ApiError::from)? else {
        return Ok(Identity::Refused);
    };
    let idle = now.micros() - session.last_seen_at.micros();
    let age = now.micros() - session.created_at.micros();
    let config = &state.config;
    if idle > config.session_idle_secs * 1_000_000 || age > config.session_max_secs * 1_000_000 {
        state.store.delete_session(&session_hash).await.map_err(ApiError::from)?;
        return Ok(Identity::Refused);
    }
    let Some(user) = state.store.user_by_id(session.user_id).await.map_err(ApiError::from)? else {
        return Ok(Identity::Refused);
    };
    if !user.enabled {
        return Ok(Identity::Refused);
    }
    if idle > TOUCH_EVERY_SECS * 1_000_000 {
        state.store.touch_session(&session_hash, now).await.map_err(ApiError::from)?;
    }
    let credential = Credential::Session { user_id: user.id, session_hash, csrf: session.csrf_token };
    Ok(Identity::Known(Principal {
        name: user.login,
        roles: user.roles,
        scope: Scope::of(&user.device_groups),
        credential,
    }))
}

async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let now = state.clock.now();
    match bearer(headers) {
        Some(Ok(secret)) => return from_token(state, secret, now).await,
        Some(Err(())) => return Ok(Identity::Refused),
        None => {}
    }
    match cookie_value(headers, SESSION_COOKIE) {
        Some(secret) if !secret.is_empty() => from_session(state, secret, now).await,
        _ => Ok(Identity::Anonymous),
    }
}

/// Whether the browser says the request comes from a page of Muster's own origin. Requests with
/// neither `Origin` nor `Sec-Fetch-Site` (old browsers, scripts) fall back on the CSRF token alone.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let origin = origin.trim_end_matches('/');
    if let Some(public) = state.config.public_url.as_deref() {
        if public.trim_end_matches('/').eq_ignore_ascii_case(origin) {
            return true;
        }
    }
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ["http://", "https://"].iter().any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}{host}")))
}

/// Checks a session's CSRF token in the header, or in the form body (which is then put back).
async fn check_csrf(expected: &str, request: Request) -> Result<Request, Response> {
    let refused = || ApiError::new(ErrorCode::AccessDenied, "Missing or invalid CSRF token.").into_response();
    if let Some(sent) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if constant_time_eq(sent, expected) { Ok(request) } else { Err(refused()) };
    }
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| refused())?;
    let sent = form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
    match sent {
        Some(sent) if constant_time_eq(&sent, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(refused()),
    }
}

fn wants_html(request: &Request) -> bool {
    request.method() == Method::GET
        && request
            .headers()
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

/// The middleware: identifies the caller, enforces the route's declared access, checks CSRF.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let declared = match request.extensions().get::<MatchedPath>() {
        Some(path) => state.access.lookup(request.method(), path.as_str()),
        // Unmatched paths reach the 404 fallback, which reveals nothing.
        None => Declared::Route(Access::Public),
    };
    let access = match declared {
        Declared::Route(access) => access,
        Declared::OtherMethod => return next.run(request).await,
        Declared::Undeclared => {
            return ApiError::internal(format!("route {} has no declared access", request.uri().path())).into_response()
        }
    };
    let identity = match identify(&state, request.headers()).await {
        Ok(identity) => identity,
        Err(error) => return error.into_response(),
    };
    let principal = match identity {
        Identity::Known(principal) => Some(principal),
        Identity::Anonymous | Identity::Refused if access == Access::Public => None,
        // A browser without a (valid) session is sent to sign in rather than shown an error.
        Identity::Anonymous | Identity::Refused if wants_html(&request) => {
            let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next = form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
            return Redirect::to(&format!("/login?next={next}")).into_response();
        }
        Identity::Anonymous | Identity::Refused => return unauthenticated(),
    };
    if let Some(principal) = &principal {
        if !principal.can(access) {
            return ApiError::new(ErrorCode::AccessDenied, format!("This needs {} access.", access.as_str()))
                .into_response();
        }
        let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if let Credential::Session { csrf, .. } = &principal.credential {
            if unsafe_method {
                if !same_origin(&state, request.headers()) {
                    return ApiError::new(ErrorCode::AccessDenied, "Cross-origin request refused.").into_response();
                }
                request = match check_csrf(csrf, request).await {
                    Ok(request) => request,
                    Err(response) => return response,
                };
            }
        }
        request.extensions_mut().insert(principal.clone());
    } else if access == Access::Public
        && !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !same_origin(&state, request.headers())
    {
        // Login forms posted from another site (login CSRF).
        return StatusCode::FORBIDDEN.into_response();
    }
    next.run(request).await
}
