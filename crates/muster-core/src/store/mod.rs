//! The storage traits. Both backends (embedded SQLite, PostgreSQL) implement them and pass one
//! contract suite; handlers and the engine only ever see `Arc<dyn Store>`.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::access::{ApiToken, AuditEntry, NewApiToken, NewAuditEntry, NewUser, Session, User};
use crate::alert::{Alert, AlertComment};
use crate::entity::EntityKind;
use crate::history::{HistoryEntry, HistoryFilter, NewHistoryEntry};
use crate::ids::IncidentId;
use crate::incident::Incident;
use crate::time::Timestamp;

/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (e.g. a login that exists already).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record changed since the caller read it.
    #[error("incident {id} changed meanwhile (now version {current})")]
    VersionMismatch { id: IncidentId, current: i64 },
    /// Stored data that no longer parses: a bug or a hand-edited database.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An alert as stored: the Graph alert and Muster's bookkeeping about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub alert: Alert,
    pub incident_id: IncidentId,
    /// A person moved it: correlation never moves it again.
    pub pinned: bool,
    /// The store's arrival number for the alert, unique and increasing: the tie-break of alert
    /// orders and cursors. Zero until stored; ignored when written.
    pub seq: i64,
}

impl StoredAlert {
    /// An alert placed in an incident, not yet stored.
    pub fn new(alert: Alert, incident_id: IncidentId) -> Self {
        Self { alert, incident_id, pinned: false, seq: 0 }
    }
}

/// One group commit: everything in it is written in a single transaction, or nothing is.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// Upserted. Each carries its new `meta.version`; the stored one must be exactly one less
    /// (zero for a new incident), otherwise the batch fails with `VersionMismatch`.
    pub incidents: Vec<Incident>,
    /// Upserted, with their entity keys recomputed from evidence.
    pub alerts: Vec<StoredAlert>,
    pub history: Vec<NewHistoryEntry>,
    /// Every alert of the first incident moves to the second (a merge), before `alerts` are written.
    pub relinks: Vec<(IncidentId, IncidentId)>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.alerts.is_empty() && self.history.is_empty() && self.relinks.is_empty()
    }

    /// Serialises the bodies and derives the indexed columns: the costly half of a write, which
    /// the caller can do before handing the batch to the backend. An alert named twice keeps only
    /// its last version (with only that version's keys).
    /// Bodies are compressed with `codec` when one is given.
    pub fn encode(self, codec: Option<&dyn BodyCodec>) -> StoreResult<EncodedBatch> {
        let incidents =
            self.incidents.iter().map(|i| IncidentColumns::of(i, codec)).collect::<StoreResult<Vec<_>>>()?;
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(self.alerts.len());
        for (i, a) in self.alerts.iter().enumerate() {
            last.insert(a.alert.id.as_str(), i);
        }
        let alerts = self
            .alerts
            .iter()
            .enumerate()
            .filter(|(i, a)| last.get(a.alert.id.as_str()) == Some(i))
            .map(|(_, a)| AlertColumns::of(a, codec))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(EncodedBatch { incidents, alerts, history: self.history, relinks: self.relinks })
    }
}

/// Which resource a stored body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    Alert,
    Incident,
}

/// A body as a backend stores it: the codec that reads it back, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedBody {
    pub codec: i64,
    pub bytes: Vec<u8>,
}

/// How a backend wants bodies compressed. Whoever encodes many rows at once (ingest) compresses
/// them on its own threads with this, so the backend's writer only stores them.
pub trait BodyCodec: Send + Sync + std::fmt::Debug {
    fn pack(&self, kind: BodyKind, json: &str) -> StoreResult<PackedBody>;
}

/// A [`WriteBatch`] with its rows encoded: what a backend writes, in one transaction. Incidents
/// keep every copy (each must build on the one before); alerts are distinct.
#[derive(Debug, Clone, Default)]
pub struct EncodedBatch {
    pub incidents: Vec<IncidentColumns>,
    pub alerts: Vec<AlertColumns>,
    pub history: Vec<NewHistoryEntry>,
    pub relinks: Vec<(IncidentId, IncidentId)>,
}

impl EncodedBatch {
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.alerts.is_empty() && self.history.is_empty() && self.relinks.is_empty()
    }
}

/// The incident rows of a write, still being encoded when the write is handed over.
#[derive(Debug)]
pub struct LateIncidents(std::sync::mpsc::Receiver<StoreResult<Vec<IncidentColumns>>>);

/// Where the encoder of [`LateIncidents`] sends them.
pub type LateIncidentsSender = std::sync::mpsc::SyncSender<StoreResult<Vec<IncidentColumns>>>;

impl LateIncidents {
    pub fn channel() -> (LateIncidentsSender, Self) {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        (sender, Self(receiver))
    }

    /// Blocks until they are encoded (or their encoder failed or went away).
    pub fn wait(self) -> StoreResult<Vec<IncidentColumns>> {
        self.0
            .recv()
            .unwrap_or_else(|_| Err(StoreError::Backend("the incidents of this write were not encoded".into())))
    }
}

/// A page of a list ordered by activity, newest first, continued after a keyset position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Continue after this (activity µs, tie-break) position: the incident id for incidents, the
    /// alert's `seq` for alerts.
    pub after: Option<(i64, i64)>,
}

/// Where a comment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentTarget {
    Incident(IncidentId),
    Alert(String),
}

/// A tag and how many incidents carry it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// Incidents and their alerts.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Writes a batch atomically (group commit).
    async fn write(&self, batch: WriteBatch) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write_encoded(vec![batch.encode(None)?]).await
    }
    /// Writes encoded batches one after the other in a single transaction: all of them, or (with
    /// an error) none of them. Each builds on the ones before it (an incident's versions follow
    /// each other; a merge's relinks apply to the alerts written before it).
    async fn write_encoded(&self, batches: Vec<EncodedBatch>) -> StoreResult<()>;
    /// [`Self::write_encoded`] with the incidents the batches change (their `incidents` empty)
    /// still being encoded by the caller: written in the same transaction, each building on the
    /// version storage holds. A backend may write everything else first, so that encoding them
    /// overlaps the write.
    async fn write_encoded_then(&self, batches: Vec<EncodedBatch>, incidents: LateIncidents) -> StoreResult<()>;
    /// The largest incident id ever stored, so new ones keep increasing.
    async fn max_incident_id(&self) -> StoreResult<i64>;
    /// One incident with its comments (not its alerts).
    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>>;
    /// Incidents by id, in the order asked, skipping unknown ids.
    async fn incidents(&self, ids: &[IncidentId]) -> StoreResult<Vec<Incident>>;
    /// Incidents newest activity first (redirected ones excluded).
    async fn list_incidents(&self, page: &PageRequest) -> StoreResult<Vec<Incident>>;
    async fn alert(&self, id: &str) -> StoreResult<Option<StoredAlert>>;
    /// Alerts by id, in the order asked, skipping unknown ids.
    async fn alerts(&self, ids: &[String]) -> StoreResult<Vec<StoredAlert>>;
    /// Alerts newest activity first.
    async fn list_alerts(&self, page: &PageRequest) -> StoreResult<Vec<StoredAlert>>;
    /// An incident's alerts, newest activity first.
    async fn alerts_of_incident(&self, id: IncidentId, page: &PageRequest) -> StoreResult<Vec<StoredAlert>>;
    /// Alerts whose evidence names an entity (normalised key), newest activity first.
    async fn alerts_with_entity(
        &self,
        kind: EntityKind,
        value: &str,
        page: &PageRequest,
    ) -> StoreResult<Vec<StoredAlert>>;
    /// Every alert active at or after a time: what the engine reloads on start-up.
    async fn alerts_since(&self, activity: Timestamp) -> StoreResult<Vec<StoredAlert>>;
    /// The latest alert activity time stored.
    async fn latest_activity(&self) -> StoreResult<Option<Timestamp>>;
    async fn add_comment(&self, target: &CommentTarget, comment: &AlertComment) -> StoreResult<Vec<AlertComment>>;
    async fn append_history(&self, entries: &[NewHistoryEntry]) -> StoreResult<()>;
    /// An incident's history, newest first.
    async fn history(&self, id: IncidentId, filter: &HistoryFilter) -> StoreResult<Vec<HistoryEntry>>;
    /// Custom tags in use, most used first, optionally by prefix (case-insensitive).
    async fn tag_suggestions(&self, prefix: &str, limit: u32) -> StoreResult<Vec<TagCount>>;
    /// One page of the incidents a query selects, in its order, with their comments; redirected
    /// ones only when the filter asks about status or redirection.
    async fn query_incidents(&self, query: &IncidentQuery) -> StoreResult<QueryPage<Incident>>;
    /// How many incidents a query selects (its order and paging ignored).
    async fn count_incidents(&self, query: &IncidentQuery) -> StoreResult<u64>;
    /// How many of the newest `limit` incidents a query selects have each value of each queue
    /// filter ([`query::counts`]).
    async fn incident_facet_counts(&self, query: &IncidentQuery, limit: u32) -> StoreResult<FacetCounts>;
    /// One page of the alerts a query selects, in its order, with their comments.
    async fn query_alerts(&self, query: &AlertQuery) -> StoreResult<QueryPage<StoredAlert>>;
    /// How many alerts a query selects (its order and paging ignored).
    async fn count_alerts(&self, query: &AlertQuery) -> StoreResult<u64>;
}

/// Users, API tokens and the audit log.
#[async_trait]
pub trait AccessStore: Send + Sync {
    async fn create_user(&self, user: &NewUser, at: Timestamp) -> StoreResult<User>;
    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Saves display name, password hash, roles, enabled flag and device groups.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    async fn count_users(&self) -> StoreResult<i64>;
    async fn create_token(&self, token: &NewApiToken, at: Timestamp) -> StoreResult<ApiToken>;
    async fn token_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiToken>>;
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// Revokes a token; revoking twice keeps the first time.
    async fn revoke_token(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    async fn touch_token(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    /// The audit log, newest first.
    async fn audit_log(&self, limit: u32, before_id: Option<i64>) -> StoreResult<Vec<AuditEntry>>;
}

/// UI sessions, kept in the database so every node and a restart agree on who is signed in.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    async fn touch_session(&self, id_hash: &str, at: Timestamp) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every session of a user (disabled, password reset).
    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<()>;
    /// Removes sessions idle since before `idle_before` or created before `created_before`.
    async fn delete_expired_sessions(&self, idle_before: Timestamp, created_before: Timestamp) -> StoreResult<u64>;
}

/// Each person's UI settings (which queue columns, in what order), as text under a key. A user
/// removed takes their settings along.
#[async_trait]
pub trait PreferenceStore: Send + Sync {
    async fn preference(&self, user_id: i64, key: &str) -> StoreResult<Option<String>>;
    /// Saves a setting, replacing what the key held.
    async fn set_preference(&self, user_id: i64, key: &str, value: &str, at: Timestamp) -> StoreResult<()>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store: IncidentStore + AccessStore + SessionStore + PreferenceStore + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The backend's body compression, when it has one.
    fn body_codec(&self) -> Option<std::sync::Arc<dyn BodyCodec>> {
        None
    }
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
}

pub mod columns;
pub mod query;

use columns::{AlertColumns, IncidentColumns};
use query::counts::FacetCounts;
use query::{AlertQuery, IncidentQuery, QueryPage};
