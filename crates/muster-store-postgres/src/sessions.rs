//! UI sessions and per-user UI settings on PostgreSQL.

use muster_core::access::Session;
use muster_core::store::{PreferenceStore, SessionStore, StoreResult};
use muster_core::Timestamp;
use sqlx::Row;

use crate::{backend, PostgresStore};

#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.id_hash)
        .bind(session.user_id)
        .bind(&session.csrf_token)
        .bind(session.created_at.micros())
        .bind(session.last_seen_at.micros())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT id_hash, user_id, csrf_token, created_at, last_seen_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(Session {
                id_hash: r.try_get("id_hash").map_err(backend)?,
                user_id: r.try_get("user_id").map_err(backend)?,
                csrf_token: r.try_get("csrf_token").map_err(backend)?,
                created_at: Timestamp::from_micros(r.try_get("created_at").map_err(backend)?),
                last_seen_at: Timestamp::from_micros(r.try_get("last_seen_at").map_err(backend)?),
            })
        })
        .transpose()
    }

    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(at.micros())
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, idle_before: Timestamp, created_before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before.micros())
            .bind(created_before.micros())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

#[async_trait::async_trait]
impl PreferenceStore for PostgresStore {
    async fn preference(&self, user_id: i64, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM user_preferences WHERE user_id = $1 AND key = $2")
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| r.try_get("value").map_err(backend)).transpose()
    }

    async fn set_preference(&self, user_id: i64, key: &str, value: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_preferences (user_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(key)
        .bind(value)
        .bind(at.micros())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
