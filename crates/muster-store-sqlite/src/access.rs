//! Users, API tokens and the audit log on SQLite.

use muster_core::access::{ApiToken, AuditEntry, NewApiToken, NewAuditEntry, NewUser, User};
use muster_core::store::columns::{groups_from_text, groups_to_text, roles_from_text, roles_to_text};
use muster_core::store::{AccessStore, StoreError, StoreResult};
use muster_core::Timestamp;
use rusqlite::{params, Row};

use crate::{backend, optional, SqliteStore};

const USER_COLUMNS: &str = "id, login, display_name, password_hash, roles, enabled, device_groups, created_at";
const TOKEN_COLUMNS: &str =
    "id, name, user_id, role, device_groups, secret_hash, created_at, expires_at, revoked_at, last_used_at";

/// A row's columns, read as the model wants them; a value that does not parse is corruption.
fn user_row(row: &Row<'_>) -> rusqlite::Result<StoreResult<User>> {
    let roles: String = row.get(4)?;
    let groups: String = row.get(6)?;
    let (id, login, display_name, password_hash, enabled, created_at) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(5)?, row.get(7)?);
    Ok((|| {
        Ok(User {
            id,
            login,
            display_name,
            password_hash,
            roles: roles_from_text(&roles)?,
            enabled,
            device_groups: groups_from_text(&groups)?,
            created_at: Timestamp::from_micros(created_at),
        })
    })())
}

fn token_row(row: &Row<'_>) -> rusqlite::Result<StoreResult<ApiToken>> {
    let at = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp::from_micros))
    };
    let role: String = row.get(3)?;
    let groups: String = row.get(4)?;
    let (id, name, user_id, secret_hash, created_at) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(5)?, row.get::<_, i64>(6)?);
    let (expires_at, revoked_at, last_used_at) = (at(7)?, at(8)?, at(9)?);
    Ok((|| {
        Ok(ApiToken {
            id,
            name,
            user_id,
            role: role.parse().map_err(StoreError::Corrupt)?,
            device_groups: groups_from_text(&groups)?,
            secret_hash,
            created_at: Timestamp::from_micros(created_at),
            expires_at,
            revoked_at,
            last_used_at,
        })
    })())
}

#[async_trait::async_trait]
impl AccessStore for SqliteStore {
    async fn create_user(&self, user: &NewUser, at: Timestamp) -> StoreResult<User> {
        let user = user.clone();
        self.write_with(move |state| {
            state
                .conn
                .query_row(
                    &format!(
                        "INSERT INTO users (login, login_key, display_name, password_hash, roles, enabled, \
                         device_groups, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7) RETURNING {USER_COLUMNS}"
                    ),
                    params![
                        user.login,
                        user.login.to_lowercase(),
                        user.display_name,
                        user.password_hash,
                        roles_to_text(&user.roles),
                        groups_to_text(&user.device_groups),
                        at.micros()
                    ],
                    user_row,
                )
                .map_err(backend)?
        })
        .await
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let key = login.to_lowercase();
        self.read(move |conn, _| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE login_key = ?1");
            optional(conn.query_row(&sql, [key], user_row))?.transpose()
        })
        .await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn, _| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
            optional(conn.query_row(&sql, [id], user_row))?.transpose()
        })
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|conn, _| {
            let mut statement =
                conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY login_key")).map_err(backend)?;
            let rows = statement.query_map([], user_row).map_err(backend)?;
            rows.map(|r| r.map_err(backend)?).collect()
        })
        .await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let user = user.clone();
        self.write_with(move |state| {
            let changed = state
                .conn
                .execute(
                    "UPDATE users SET display_name = ?1, password_hash = ?2, roles = ?3, enabled = ?4, \
                     device_groups = ?5 WHERE id = ?6",
                    params![
                        user.display_name,
                        user.password_hash,
                        roles_to_text(&user.roles),
                        user.enabled,
                        groups_to_text(&user.device_groups),
                        user.id
                    ],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        self.read(|conn, _| conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn create_token(&self, token: &NewApiToken, at: Timestamp) -> StoreResult<ApiToken> {
        let token = token.clone();
        self.write_with(move |state| {
            state
                .conn
                .query_row(
                    &format!(
                        "INSERT INTO api_tokens (name, user_id, role, device_groups, secret_hash, created_at, \
                         expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING {TOKEN_COLUMNS}"
                    ),
                    params![
                        token.name,
                        token.user_id,
                        token.role.as_str(),
                        groups_to_text(&token.device_groups),
                        token.secret_hash,
                        at.micros(),
                        token.expires_at.map(Timestamp::micros)
                    ],
                    token_row,
                )
                .map_err(backend)?
        })
        .await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
        let hash = secret_hash.to_owned();
        self.read(move |conn, _| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = ?1");
            optional(conn.query_row(&sql, [hash], token_row))?.transpose()
        })
        .await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.read(|conn, _| {
            let mut statement =
                conn.prepare(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id")).map_err(backend)?;
            let rows = statement.query_map([], token_row).map_err(backend)?;
            rows.map(|r| r.map_err(backend)?).collect()
        })
        .await
    }

    async fn revoke_token(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        self.write_with(move |state| {
            let changed = state
                .conn
                .execute(
                    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                    params![at.micros(), id],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        self.write_with(move |state| {
            state
                .conn
                .execute("UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2", params![at.micros(), id])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
        let entry = entry.clone();
        self.write_with(move |state| {
            state
                .conn
                .execute(
                    "INSERT INTO audit_log (at, actor, action, target, detail, client_ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![entry.at.micros(), entry.actor, entry.action, entry.target, entry.detail, entry.client_ip],
                )
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn audit_log(&self, limit: u32, before_id: Option<i64>) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn, _| {
            let mut statement = conn
                .prepare(
                    "SELECT id, at, actor, action, target, detail, client_ip FROM audit_log WHERE id < ?1 \
                     ORDER BY id DESC LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![before_id.unwrap_or(i64::MAX), i64::from(limit.clamp(1, 10_000))], |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: Timestamp::from_micros(r.get(1)?),
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        target: r.get(4)?,
                        detail: r.get(5)?,
                        client_ip: r.get(6)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }
}
