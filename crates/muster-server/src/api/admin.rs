//! Muster's own admin API: users, API tokens and the audit log (`/v1.0/muster/...`), and who am I.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use muster_core::access::{ApiToken, AuditEntry, Role, User};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::accounts::{self, AccountError, TokenSpec, UserSpec};
use crate::auth::{Access, Principal, Routes};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get("/v1.0/muster/me", Access::Read, me)
        .get("/v1.0/muster/users", Access::Admin, list_users)
        .post("/v1.0/muster/users", Access::Admin, add_user)
        .patch("/v1.0/muster/users/{login}", Access::Admin, update_user)
        .get("/v1.0/muster/tokens", Access::Admin, list_tokens)
        .post("/v1.0/muster/tokens", Access::Admin, create_token)
        .delete("/v1.0/muster/tokens/{id}", Access::Admin, revoke_token)
        .get("/v1.0/muster/audit", Access::Admin, audit_log)
}

/// A caller limited to device groups may only hand out access within them.
fn within_scope(principal: &Principal, groups: &[String]) -> Result<(), ApiError> {
    let Some(mine) = principal.scope.groups() else { return Ok(()) };
    let inside = !groups.is_empty() && groups.iter().all(|g| mine.contains(&g.trim().to_lowercase()));
    if inside {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::AccessDenied, "You can only grant access within your own device groups."))
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(m) => ApiError::new(ErrorCode::InvalidRequest, m),
            AccountError::NoSuchUser(_) | AccountError::NoSuchToken(_) => {
                ApiError::new(ErrorCode::ItemNotFound, e.to_string())
            }
            AccountError::UserExists(_) => ApiError::new(ErrorCode::Conflict, e.to_string()),
            AccountError::Store(e) => ApiError::from(e),
        }
    }
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView {
    id: i64,
    login: String,
    display_name: String,
    roles: Vec<Role>,
    enabled: bool,
    device_groups: Vec<String>,
    created_date_time: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            login: u.login,
            display_name: u.display_name,
            roles: u.roles,
            enabled: u.enabled,
            device_groups: u.device_groups,
            created_date_time: u.created_at.to_string(),
        }
    }
}

/// A token as the API shows it: never the secret or its hash.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenView {
    id: i64,
    name: String,
    user_id: Option<i64>,
    role: Role,
    device_groups: Vec<String>,
    created_date_time: String,
    expires_date_time: Option<String>,
    revoked_date_time: Option<String>,
    last_used_date_time: Option<String>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            user_id: t.user_id,
            role: t.role,
            device_groups: t.device_groups,
            created_date_time: t.created_at.to_string(),
            expires_date_time: t.expires_at.map(|t| t.to_string()),
            revoked_date_time: t.revoked_at.map(|t| t.to_string()),
            last_used_date_time: t.last_used_at.map(|t| t.to_string()),
        }
    }
}

fn collection<T: Serialize>(items: Vec<T>) -> Json<Value> {
    Json(json!({ "value": items }))
}

async fn me(Extension(principal): Extension<Principal>) -> Json<Value> {
    Json(json!({
        "name": principal.name,
        "roles": principal.roles,
        "deviceGroups": principal.scope.groups(),
    }))
}

async fn list_users(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let users = state.store.list_users().await?;
    Ok(collection(users.into_iter().map(UserView::from).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewUserBody {
    login: String,
    display_name: Option<String>,
    roles: Vec<Role>,
    #[serde(default)]
    device_groups: Vec<String>,
    password: Option<String>,
}

async fn add_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    within_scope(&principal, &body.device_groups)?;
    let spec = UserSpec {
        login: body.login,
        display_name: body.display_name,
        roles: body.roles,
        device_groups: body.device_groups,
        password: body.password,
    };
    let (user, password) = accounts::add_user(state.store.as_ref(), spec, &principal.name, state.clock.now()).await?;
    let mut view = serde_json::to_value(UserView::from(user)).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(password) = password {
        view["password"] = Value::String(password);
    }
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserPatch {
    display_name: Option<String>,
    roles: Option<Vec<Role>>,
    device_groups: Option<Vec<String>>,
    enabled: Option<bool>,
    password: Option<String>,
}

async fn update_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(login): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let actor = principal.name.as_str();
    // Refuse before changing anything, so a bad field leaves the user as it was.
    if let Some(groups) = &patch.device_groups {
        within_scope(&principal, groups)?;
    }
    if let Some(password) = &patch.password {
        accounts::check_password(password)?;
    }
    if patch.roles.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "A user needs at least one role."));
    }
    if store.user_by_login(&login).await?.is_none() {
        return Err(AccountError::NoSuchUser(login).into());
    }
    if patch.display_name.is_some() || patch.roles.is_some() || patch.device_groups.is_some() {
        accounts::update_user(store, &login, patch.display_name, patch.roles, patch.device_groups, actor, now).await?;
    }
    if let Some(password) = patch.password {
        accounts::reset_password(store, &login, Some(password), actor, now).await?;
    }
    if let Some(enabled) = patch.enabled {
        accounts::set_enabled(store, &login, enabled, actor, now).await?;
    }
    let user = store.user_by_login(&login).await?.ok_or_else(|| ApiError::from(AccountError::NoSuchUser(login)))?;
    Ok(Json(serde_json::to_value(UserView::from(user)).map_err(|e| ApiError::internal(e.to_string()))?))
}

async fn list_tokens(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tokens = state.store.list_tokens().await?;
    Ok(collection(tokens.into_iter().map(TokenView::from).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewTokenBody {
    name: String,
    role: Role,
    user: Option<String>,
    expires_in_days: Option<u32>,
    #[serde(default)]
    device_groups: Vec<String>,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<NewTokenBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    within_scope(&principal, &body.device_groups)?;
    let spec = TokenSpec {
        name: body.name,
        role: body.role,
        user: body.user,
        expires_in_days: body.expires_in_days,
        device_groups: body.device_groups,
    };
    let (token, secret) =
        accounts::create_token(state.store.as_ref(), spec, &principal.name, state.clock.now()).await?;
    let mut view = serde_json::to_value(TokenView::from(token)).map_err(|e| ApiError::internal(e.to_string()))?;
    view["token"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    accounts::revoke_token(state.store.as_ref(), id, &principal.name, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(rename = "$top")]
    top: Option<u32>,
    before: Option<i64>,
}

async fn audit_log(State(state): State<AppState>, Query(q): Query<AuditQuery>) -> Result<Json<Value>, ApiError> {
    let entries: Vec<AuditEntry> = state.store.audit_log(q.top.unwrap_or(100).clamp(1, 1000), q.before).await?;
    Ok(collection(entries))
}
