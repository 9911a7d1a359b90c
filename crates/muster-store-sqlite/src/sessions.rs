//! UI sessions and per-user UI settings on SQLite.

use muster_core::access::Session;
use muster_core::store::{PreferenceStore, SessionStore, StoreResult};
use muster_core::Timestamp;
use rusqlite::params;

use crate::{backend, optional, SqliteStore};

impl SqliteStore {
    /// Runs one statement on the writer and says how many rows it changed.
    async fn change(&self, sql: &'static str, values: Vec<rusqlite::types::Value>) -> StoreResult<u64> {
        self.write_with(move |state| {
            let changed = state.conn.execute(sql, rusqlite::params_from_iter(values)).map_err(backend)?;
            Ok(changed as u64)
        })
        .await
    }
}

#[async_trait::async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        let s = session.clone();
        self.change(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            vec![
                s.id_hash.into(),
                s.user_id.into(),
                s.csrf_token.into(),
                s.created_at.micros().into(),
                s.last_seen_at.micros().into(),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        let hash = id_hash.to_owned();
        self.read(move |conn, _| {
            optional(conn.query_row(
                "SELECT id_hash, user_id, csrf_token, created_at, last_seen_at FROM sessions WHERE id_hash = ?1",
                params![hash],
                |r| {
                    Ok(Session {
                        id_hash: r.get(0)?,
                        user_id: r.get(1)?,
                        csrf_token: r.get(2)?,
                        created_at: Timestamp::from_micros(r.get(3)?),
                        last_seen_at: Timestamp::from_micros(r.get(4)?),
                    })
                },
            ))
        })
        .await
    }

    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()> {
        let values = vec![at.micros().into(), id_hash.to_owned().into()];
        self.change("UPDATE sessions SET last_seen_at = ?1 WHERE id_hash = ?2", values).await.map(|_| ())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        self.change("DELETE FROM sessions WHERE id_hash = ?1", vec![id_hash.to_owned().into()]).await.map(|_| ())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<()> {
        self.change("DELETE FROM sessions WHERE user_id = ?1", vec![user_id.into()]).await.map(|_| ())
    }

    async fn delete_expired_sessions(&self, idle_before: Timestamp, created_before: Timestamp) -> StoreResult<u64> {
        self.change(
            "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
            vec![idle_before.micros().into(), created_before.micros().into()],
        )
        .await
    }
}

#[async_trait::async_trait]
impl PreferenceStore for SqliteStore {
    async fn preference(&self, user_id: i64, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |conn, _| {
            optional(conn.query_row(
                "SELECT value FROM user_preferences WHERE user_id = ?1 AND key = ?2",
                params![user_id, key],
                |r| r.get(0),
            ))
        })
        .await
    }

    async fn set_preference(&self, user_id: i64, key: &str, value: &str, at: Timestamp) -> StoreResult<()> {
        self.change(
            "INSERT INTO user_preferences (user_id, key, value, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![user_id.into(), key.to_owned().into(), value.to_owned().into(), at.micros().into()],
        )
        .await
        .map(|_| ())
    }
}
