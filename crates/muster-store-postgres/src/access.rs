//! Users, API tokens and the audit log on PostgreSQL.

use muster_core::access::{ApiToken, AuditEntry, NewApiToken, NewAuditEntry, NewUser, User};
use muster_core::store::columns::{groups_from_text, groups_to_text, roles_from_text, roles_to_text};
use muster_core::store::{AccessStore, StoreError, StoreResult};
use muster_core::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::{backend, PostgresStore};

const USER_COLUMNS: &str = "id, login, display_name, password_hash, roles, enabled, device_groups, created_at";
const TOKEN_COLUMNS: &str =
    "id, name, user_id, role, device_groups, secret_hash, created_at, expires_at, revoked_at, last_used_at";

fn user_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id").map_err(backend)?,
        login: row.try_get("login").map_err(backend)?,
        display_name: row.try_get("display_name").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        roles: roles_from_text(&row.try_get::<String, _>("roles").map_err(backend)?)?,
        enabled: row.try_get("enabled").map_err(backend)?,
        device_groups: groups_from_text(&row.try_get::<String, _>("device_groups").map_err(backend)?)?,
        created_at: Timestamp::from_micros(row.try_get("created_at").map_err(backend)?),
    })
}

fn token_row(row: &PgRow) -> StoreResult<ApiToken> {
    let at = |col: &str| -> StoreResult<Option<Timestamp>> {
        Ok(row.try_get::<Option<i64>, _>(col).map_err(backend)?.map(Timestamp::from_micros))
    };
    Ok(ApiToken {
        id: row.try_get("id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        user_id: row.try_get("user_id").map_err(backend)?,
        role: row.try_get::<String, _>("role").map_err(backend)?.parse().map_err(StoreError::Corrupt)?,
        device_groups: groups_from_text(&row.try_get::<String, _>("device_groups").map_err(backend)?)?,
        secret_hash: row.try_get("secret_hash").map_err(backend)?,
        created_at: Timestamp::from_micros(row.try_get("created_at").map_err(backend)?),
        expires_at: at("expires_at")?,
        revoked_at: at("revoked_at")?,
        last_used_at: at("last_used_at")?,
    })
}

#[async_trait::async_trait]
impl AccessStore for PostgresStore {
    async fn create_user(&self, user: &NewUser, at: Timestamp) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "INSERT INTO users (login, login_key, display_name, password_hash, roles, enabled, device_groups, created_at) \
             VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7) RETURNING {USER_COLUMNS}"
        ))
        .bind(&user.login)
        .bind(user.login.to_lowercase())
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(roles_to_text(&user.roles))
        .bind(groups_to_text(&user.device_groups))
        .bind(at.micros())
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        user_row(&row)
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE login_key = $1"))
            .bind(login.to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY login_key"))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(user_row).collect()
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET display_name = $1, password_hash = $2, roles = $3, enabled = $4, device_groups = $5 WHERE id = $6",
        )
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(roles_to_text(&user.roles))
        .bind(user.enabled)
        .bind(groups_to_text(&user.device_groups))
        .bind(user.id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn count_users(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await.map_err(backend)
    }

    async fn create_token(&self, token: &NewApiToken, at: Timestamp) -> StoreResult<ApiToken> {
        let row = sqlx::query(&format!(
            "INSERT INTO api_tokens (name, user_id, role, device_groups, secret_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(&token.name)
        .bind(token.user_id)
        .bind(token.role.as_str())
        .bind(groups_to_text(&token.device_groups))
        .bind(&token.secret_hash)
        .bind(at.micros())
        .bind(token.expires_at.map(Timestamp::micros))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        token_row(&row)
    }

    async fn token_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = $1"))
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(token_row).transpose()
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(token_row).collect()
    }

    async fn revoke_token(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(at.micros())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(at.micros())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail, client_ip) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.at.micros())
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.detail)
        .bind(&entry.client_ip)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn audit_log(&self, limit: u32, before_id: Option<i64>) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail, client_ip FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id").map_err(backend)?,
                    at: Timestamp::from_micros(r.try_get("at").map_err(backend)?),
                    actor: r.try_get("actor").map_err(backend)?,
                    action: r.try_get("action").map_err(backend)?,
                    target: r.try_get("target").map_err(backend)?,
                    detail: r.try_get("detail").map_err(backend)?,
                    client_ip: r.try_get("client_ip").map_err(backend)?,
                })
            })
            .collect()
    }
}
