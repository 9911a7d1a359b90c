//! Account operations shared by the admin API and the operator CLI: users, tokens, the first admin.
//! Each change is written to the audit log with who made it.

use muster_core::access::{ApiToken, NewApiToken, NewAuditEntry, NewUser, Role, User};
use muster_core::store::{Store, StoreError};
use muster_core::Timestamp;

use crate::auth::secrets::{hash_password, hash_secret, new_password, new_token_secret};

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("no user '{0}'")]
    NoSuchUser(String),
    #[error("a user '{0}' exists already")]
    UserExists(String),
    #[error("no token {0}")]
    NoSuchToken(i64),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The shortest password Muster accepts.
pub const MIN_PASSWORD_LEN: usize = 10;
const MAX_NAME_LEN: usize = 256;

fn check_name(what: &str, value: &str) -> Result<String, AccountError> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
        return Err(AccountError::Invalid(format!(
            "{what} must be 1 to {MAX_NAME_LEN} characters without control characters"
        )));
    }
    Ok(value.to_owned())
}

/// Refuses passwords too short or too long.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::Invalid(format!("a password needs at least {MIN_PASSWORD_LEN} characters")));
    }
    if password.len() > 1024 {
        return Err(AccountError::Invalid("a password may have at most 1024 bytes".into()));
    }
    Ok(())
}

fn check_groups(groups: &[String]) -> Result<Vec<String>, AccountError> {
    groups.iter().filter(|g| !g.trim().is_empty()).map(|g| check_name("a device group", g)).collect()
}

async fn audit(
    store: &dyn Store,
    actor: &str,
    action: &str,
    target: &str,
    detail: Option<String>,
    now: Timestamp,
) -> Result<(), AccountError> {
    store
        .append_audit(&NewAuditEntry {
            at: now,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: Some(target.to_owned()),
            detail,
            client_ip: None,
        })
        .await?;
    Ok(())
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub login: String,
    pub display_name: Option<String>,
    pub roles: Vec<Role>,
    pub device_groups: Vec<String>,
    /// `None`: generate one and return it (shown once).
    pub password: Option<String>,
}

/// Adds a user. Returns it and, when none was given, the generated password.
pub async fn add_user(
    store: &dyn Store,
    spec: UserSpec,
    actor: &str,
    now: Timestamp,
) -> Result<(User, Option<String>), AccountError> {
    let login = check_name("a login", &spec.login)?;
    let display_name = match spec.display_name.as_deref() {
        Some(name) if !name.trim().is_empty() => check_name("a display name", name)?,
        _ => login.clone(),
    };
    if spec.roles.is_empty() {
        return Err(AccountError::Invalid("a user needs at least one role".into()));
    }
    let (password, generated) = match spec.password {
        Some(p) => {
            check_password(&p)?;
            (p, None)
        }
        None => {
            let p = new_password();
            (p.clone(), Some(p))
        }
    };
    let new = NewUser {
        login: login.clone(),
        display_name,
        password_hash: hash_password(&password).map_err(AccountError::Invalid)?,
        roles: spec.roles,
        device_groups: check_groups(&spec.device_groups)?,
    };
    let user = match store.create_user(&new, now).await {
        Err(StoreError::Conflict(_)) => return Err(AccountError::UserExists(login)),
        other => other?,
    };
    let detail = format!("roles {}; device groups {:?}", roles_text(&user.roles), user.device_groups);
    audit(store, actor, "user.created", &user.login, Some(detail), now).await?;
    Ok((user, generated))
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

async fn find_user(store: &dyn Store, login: &str) -> Result<User, AccountError> {
    store.user_by_login(login).await?.ok_or_else(|| AccountError::NoSuchUser(login.to_owned()))
}

/// Enables or disables a user; disabling ends their sessions at once.
pub async fn set_enabled(
    store: &dyn Store,
    login: &str,
    enabled: bool,
    actor: &str,
    now: Timestamp,
) -> Result<User, AccountError> {
    let mut user = find_user(store, login).await?;
    user.enabled = enabled;
    store.update_user(&user).await?;
    if !enabled {
        store.delete_user_sessions(user.id).await?;
    }
    let action = if enabled { "user.enabled" } else { "user.disabled" };
    audit(store, actor, action, &user.login, None, now).await?;
    Ok(user)
}

/// Sets a new password (generated when `None`, and returned); ends the user's sessions.
pub async fn reset_password(
    store: &dyn Store,
    login: &str,
    password: Option<String>,
    actor: &str,
    now: Timestamp,
) -> Result<Option<String>, AccountError> {
    let mut user = find_user(store, login).await?;
    let (password, generated) = match password {
        Some(p) => {
            check_password(&p)?;
            (p, None)
        }
        None => {
            let p = new_password();
            (p.clone(), Some(p))
        }
    };
    user.password_hash = hash_password(&password).map_err(AccountError::Invalid)?;
    store.update_user(&user).await?;
    store.delete_user_sessions(user.id).await?;
    audit(store, actor, "user.passwordReset", &user.login, None, now).await?;
    Ok(generated)
}

/// Changes a user's roles, display name or device groups (whatever is `Some`).
pub async fn update_user(
    store: &dyn Store,
    login: &str,
    display_name: Option<String>,
    roles: Option<Vec<Role>>,
    device_groups: Option<Vec<String>>,
    actor: &str,
    now: Timestamp,
) -> Result<User, AccountError> {
    let mut user = find_user(store, login).await?;
    let mut changes = Vec::new();
    if let Some(name) = display_name {
        user.display_name = check_name("a display name", &name)?;
        changes.push("display name".to_owned());
    }
    if let Some(roles) = roles {
        if roles.is_empty() {
            return Err(AccountError::Invalid("a user needs at least one role".into()));
        }
        changes.push(format!("roles {} → {}", roles_text(&user.roles), roles_text(&roles)));
        user.roles = roles;
    }
    if let Some(groups) = device_groups {
        let groups = check_groups(&groups)?;
        changes.push(format!("device groups {:?} → {:?}", user.device_groups, groups));
        user.device_groups = groups;
    }
    store.update_user(&user).await?;
    audit(store, actor, "user.updated", &user.login, Some(changes.join("; ")), now).await?;
    Ok(user)
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub name: String,
    pub role: Role,
    /// The owning user's login; `None` for a service token.
    pub user: Option<String>,
    pub expires_in_days: Option<u32>,
    pub device_groups: Vec<String>,
}

/// Creates a token; returns it and its secret, which is never shown again.
pub async fn create_token(
    store: &dyn Store,
    spec: TokenSpec,
    actor: &str,
    now: Timestamp,
) -> Result<(ApiToken, String), AccountError> {
    let name = check_name("a token name", &spec.name)?;
    let user_id = match &spec.user {
        Some(login) => {
            let user = find_user(store, login).await?;
            if !user.roles.iter().any(|r| r.covers(spec.role)) {
                return Err(AccountError::Invalid(format!(
                    "user '{}' does not have the {} role the token would carry",
                    user.login, spec.role
                )));
            }
            Some(user.id)
        }
        None => None,
    };
    if spec.expires_in_days == Some(0) {
        return Err(AccountError::Invalid("expiry must be at least one day".into()));
    }
    let secret = new_token_secret();
    let token = store
        .create_token(
            &NewApiToken {
                name,
                user_id,
                role: spec.role,
                device_groups: check_groups(&spec.device_groups)?,
                secret_hash: hash_secret(&secret),
                expires_at: spec.expires_in_days.map(|d| now.plus_secs(i64::from(d) * 86_400)),
            },
            now,
        )
        .await?;
    let detail = format!(
        "role {}; owner {}; expires {}",
        token.role,
        spec.user.as_deref().unwrap_or("(service)"),
        token.expires_at.map_or("never".to_owned(), |t| t.to_string())
    );
    audit(store, actor, "token.created", &format!("{} (#{})", token.name, token.id), Some(detail), now).await?;
    Ok((token, secret))
}

/// Revokes a token.
pub async fn revoke_token(store: &dyn Store, id: i64, actor: &str, now: Timestamp) -> Result<(), AccountError> {
    match store.revoke_token(id, now).await {
        Err(StoreError::NotFound) => return Err(AccountError::NoSuchToken(id)),
        other => other?,
    }
    audit(store, actor, "token.revoked", &format!("#{id}"), None, now).await
}

/// On first start with no users, creates `admin` with a random password and returns it, once.
pub async fn ensure_first_admin(store: &dyn Store, now: Timestamp) -> Result<Option<String>, AccountError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let spec = UserSpec {
        login: "admin".into(),
        display_name: Some("Administrator".into()),
        roles: vec![Role::Admin],
        device_groups: Vec::new(),
        password: None,
    };
    match add_user(store, spec, "muster", now).await {
        Ok((_, password)) => Ok(password),
        // Another node created it first.
        Err(AccountError::UserExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
