//! Sign in and sign out: the login form, sessions in HttpOnly SameSite cookies, throttling, audit.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use muster_core::access::{NewAuditEntry, Session};
use serde::Deserialize;

use super::access::{Access, Credential, Principal};
use super::routes::Routes;
use super::secrets::{dummy_hash, hash_secret, random_text, verify_password};
use super::{ClientAddr, SESSION_COOKIE};
use crate::error::ApiError;
use crate::web::render;
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new().get("/login", Access::Public, login_page).post("/login", Access::Public, login).post(
        "/logout",
        Access::Read,
        logout,
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    login: &'a str,
    error: Option<&'a str>,
}

/// Only local paths: a login link must not send people to another site afterwards. Browsers drop
/// tabs and newlines and read `\\` as `/`, so a path with any of them (or any control character)
/// is refused outright rather than cleaned.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
        {
            n
        }
        _ => "/",
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

async fn login_page(principal: Option<Extension<Principal>>, Query(query): Query<NextQuery>) -> Response {
    let next = safe_next(query.next.as_deref());
    if principal.is_some() {
        return Redirect::to(next).into_response();
    }
    render(&LoginPage { next, login: "", error: None })
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

/// Whether cookies must be `Secure`: Muster is reached over HTTPS (its public URL says so, or a
/// trusted proxy does).
fn secure(state: &AppState, headers: &HeaderMap, client: &ClientAddr) -> bool {
    let public_https = state.config.public_https();
    let proxied_https = client.via_trusted_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    public_https || proxied_https
}

fn session_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    client: &ClientAddr,
    detail: Option<String>,
) -> Result<(), ApiError> {
    state
        .store
        .append_audit(&NewAuditEntry {
            at: state.clock.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: Some(actor.to_owned()),
            detail,
            client_ip: Some(client.ip.to_string()),
        })
        .await
        .map_err(ApiError::from)
}

async fn login(
    State(state): State<AppState>,
    Extension(client): Extension<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let next = safe_next(form.next.as_deref());
    let address = client.ip.to_string();
    let login = form.login.trim();
    let refuse = |status: StatusCode, message: &str| {
        let mut response = render(&LoginPage { next, login, error: Some(message) });
        *response.status_mut() = status;
        response
    };
    if login.len() > 256 || form.password.len() > 1024 {
        return Ok(refuse(StatusCode::BAD_REQUEST, "Login or password too long."));
    }
    // The attempt is counted before the password is checked, so a burst of parallel guesses
    // cannot all pass the check; a success gives it back.
    if let Err(wait) = state.throttle.begin(login, &address, now) {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins. Try again in {} minutes.", (wait + 59) / 60),
        );
        response.headers_mut().insert("retry-after", HeaderValue::from(wait));
        return Ok(response);
    }
    let user = state.store.user_by_login(login).await.map_err(ApiError::from)?;
    // Unknown logins cost a hash too, so timing does not reveal which logins exist. Hashing is
    // slow on purpose: off the async workers, so it cannot stall other requests.
    let hash = user.as_ref().map_or(dummy_hash(), |u| u.password_hash.as_str()).to_owned();
    let password = form.password.clone();
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::internal(format!("password check failed: {e}")))?;
    // Only people who can use the pages may hold a session (an ingest-only user cannot).
    let user = match user {
        Some(user) if password_ok && user.enabled && Access::Read.allows(&user.roles) => user,
        _ => {
            let locked = state.throttle.retry_after(login, &address, now).is_some();
            let detail = if locked { Some("further attempts throttled".to_owned()) } else { None };
            audit(&state, login, "login.failed", &client, detail).await?;
            return Ok(refuse(StatusCode::UNAUTHORIZED, "Wrong login or password."));
        }
    };
    state.throttle.succeeded(login, &address);
    let secret = random_text(32);
    let session = Session {
        id_hash: hash_secret(&secret),
        user_id: user.id,
        csrf_token: random_text(24),
        created_at: now,
        last_seen_at: now,
    };
    state.store.create_session(&session).await.map_err(ApiError::from)?;
    audit(&state, &user.login, "login", &client, None).await?;
    let mut response = Redirect::to(next).into_response();
    let cookie = session_cookie(&secret, state.config.session_max_secs, secure(&state, &headers, &client));
    response.headers_mut().insert(SET_COOKIE, cookie);
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    Extension(client): Extension<ClientAddr>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Only a session can be signed out of; a token just gets sent to the login page.
    if let Credential::Session { session_hash, .. } = &principal.credential {
        state.store.delete_session(session_hash).await.map_err(ApiError::from)?;
        audit(&state, &principal.name, "logout", &client, None).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(SET_COOKIE, session_cookie("", 0, secure(&state, &headers, &client)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/incidents?x=1")), "/incidents?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/x\u{1}")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
