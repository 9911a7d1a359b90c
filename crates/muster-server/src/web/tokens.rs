//! The admin page for API tokens: list, create (the secret is shown once), revoke.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use muster_core::access::{ApiToken, Role};
use muster_core::Timestamp;
use serde::Deserialize;

use super::{render, Chrome};
use crate::accounts::{self, TokenSpec};
use crate::auth::{Access, Principal, Routes};
use crate::error::ApiError;
use crate::AppState;

pub(super) fn routes() -> Routes {
    Routes::new().get("/admin/tokens", Access::Admin, page).post("/admin/tokens", Access::Admin, create).post(
        "/admin/tokens/{id}/revoke",
        Access::Admin,
        revoke,
    )
}

struct TokenRow {
    id: i64,
    name: String,
    role: Role,
    owner: String,
    groups: String,
    created: String,
    expires: String,
    last_used: String,
    state: &'static str,
    usable: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    new_secret: Option<String>,
    error: Option<String>,
}

fn day(t: Option<Timestamp>) -> String {
    t.map_or("—".to_owned(), |t| t.to_string().chars().take(16).collect::<String>().replace('T', " "))
}

async fn rows(state: &AppState) -> Result<Vec<TokenRow>, ApiError> {
    let now = state.clock.now();
    let users = state.store.list_users().await?;
    let tokens: Vec<ApiToken> = state.store.list_tokens().await?;
    Ok(tokens
        .into_iter()
        .rev()
        .map(|t| TokenRow {
            id: t.id,
            owner: t
                .user_id
                .and_then(|id| users.iter().find(|u| u.id == id))
                .map_or("(service)".to_owned(), |u| u.login.clone()),
            groups: if t.device_groups.is_empty() { "all".to_owned() } else { t.device_groups.join(", ") },
            created: day(Some(t.created_at)),
            expires: day(t.expires_at),
            last_used: day(t.last_used_at),
            state: if t.revoked_at.is_some() {
                "revoked"
            } else if t.is_usable(now) {
                "active"
            } else {
                "expired"
            },
            usable: t.is_usable(now),
            name: t.name,
            role: t.role,
        })
        .collect())
}

async fn show(state: &AppState, principal: &Principal, new_secret: Option<String>, error: Option<String>) -> Response {
    match rows(state).await {
        Ok(tokens) => render(&TokensPage { chrome: Chrome::of(principal), tokens, new_secret, error }),
        Err(e) => e.into_response(),
    }
}

async fn page(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Response {
    show(&state, &principal, None, None).await
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    name: String,
    role: String,
    user: Option<String>,
    expires: Option<String>,
    device_groups: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<CreateForm>,
) -> Response {
    let role = match form.role.parse::<Role>() {
        Ok(role) => role,
        Err(e) => return show(&state, &principal, None, Some(e)).await,
    };
    let expires_in_days = match form.expires.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => return show(&state, &principal, None, Some(format!("'{text}' is not a number of days"))).await,
        },
    };
    let spec = TokenSpec {
        name: form.name,
        role,
        user: form.user.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()),
        expires_in_days,
        device_groups: form.device_groups.unwrap_or_default().split(',').map(|g| g.trim().to_owned()).collect(),
    };
    match accounts::create_token(state.store.as_ref(), spec, &principal.name, state.clock.now()).await {
        Ok((_, secret)) => show(&state, &principal, Some(secret), None).await,
        Err(e) => show(&state, &principal, None, Some(e.to_string())).await,
    }
}

async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> Response {
    match accounts::revoke_token(state.store.as_ref(), id, &principal.name, state.clock.now()).await {
        Ok(()) => Redirect::to("/admin/tokens").into_response(),
        Err(e) => show(&state, &principal, None, Some(e.to_string())).await,
    }
}
