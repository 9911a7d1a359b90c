//! [`IncidentStore`] on SQLite: batches go to the writer thread, reads to the pool.

use muster_core::alert::AlertComment;
use muster_core::entity::EntityKind;
use muster_core::history::{HistoryEntry, HistoryFilter, NewHistoryEntry};
use muster_core::incident::Incident;
use muster_core::store::query::counts::FacetCounts;
use muster_core::store::query::{AlertQuery, IncidentQuery, QueryPage};
use muster_core::store::{
    CommentTarget, EncodedBatch, IncidentStore, LateIncidents, PageRequest, StoreError, StoreResult, StoredAlert,
    TagCount,
};
use muster_core::time::{Clock, SystemClock};
use muster_core::{IncidentId, Timestamp};
use rusqlite::{params, Connection, TransactionBehavior};

use crate::alerts::{self, Listing};
use crate::deferred::Additions;
use crate::writer::WriterState;
use crate::{backend, history, incidents, optional, query, Shared, SqliteStore};

fn limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, 10_000))
}

/// One group commit of any number of batches, on the writer thread.
fn write_batches(state: &mut WriterState, batches: Vec<EncodedBatch>, late: Option<LateIncidents>) -> StoreResult<()> {
    if batches.iter().any(|b| !b.alerts.is_empty()) {
        state.lock_for_ingest()?;
    }
    // A new body dictionary is stored before the transaction that first uses it.
    state.shared.codec.maintain(&state.conn, SystemClock.now().micros(), false)?;
    // One range of the waiting look-ups goes to disk in the same transaction: what was committed
    // before it, so this batch's own alerts are not in the maps yet and not in the flush.
    let committed: Option<i64> =
        state.conn.query_row("SELECT MAX(rid) FROM alerts", [], |r| r.get(0)).map_err(backend)?;
    let flush = state.shared.deferred.next_flush(committed.unwrap_or(0));
    let WriterState { conn, shared, .. } = state;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut additions = Additions::default();
    for batch in batches {
        incidents::write(&tx, shared, batch.incidents)?;
        for (from, into) in &batch.relinks {
            alerts::relink(&tx, from.get(), into.get())?;
        }
        additions.alerts.extend(alerts::write(&tx, shared, batch.alerts)?.alerts);
        history::append(&tx, &batch.history)?;
    }
    // No alert or history row needs its incident's row first: these come last, once encoded.
    if let Some(late) = late {
        incidents::write(&tx, shared, late.wait()?)?;
    }
    if let Some(flush) = &flush {
        shared.deferred.flush(&tx, flush)?;
    }
    tx.commit().map_err(backend)?;
    if let Some(flush) = flush {
        shared.deferred.flushed(flush);
    }
    shared.deferred.committed(additions);
    Ok(())
}

fn with_incident_comments(conn: &Connection, mut incidents: Vec<Incident>) -> StoreResult<Vec<Incident>> {
    for incident in &mut incidents {
        incident.comments = history::incident_comments(conn, incident.id.get())?;
    }
    Ok(incidents)
}

fn with_alert_comments(conn: &Connection, mut alerts: Vec<StoredAlert>) -> StoreResult<Vec<StoredAlert>> {
    let ids: Vec<&str> = alerts.iter().map(|a| a.alert.id.as_str()).collect();
    let mut comments = history::alert_comments(conn, &ids)?;
    if comments.is_empty() {
        return Ok(alerts);
    }
    for a in &mut alerts {
        if let Some(extra) = comments.remove(&a.alert.id) {
            a.alert.comments = extra;
        }
    }
    Ok(alerts)
}

fn comments_of(conn: &Connection, shared: &Shared, target: &CommentTarget) -> StoreResult<Vec<AlertComment>> {
    match target {
        CommentTarget::Incident(id) => history::incident_comments(conn, id.get()),
        CommentTarget::Alert(id) => {
            let alerts = with_alert_comments(conn, alerts::by_ids(conn, shared, std::slice::from_ref(id))?)?;
            Ok(alerts.into_iter().next().map(|a| a.alert.comments).unwrap_or_default())
        }
    }
}

#[async_trait::async_trait]
impl IncidentStore for SqliteStore {
    async fn write_encoded(&self, batches: Vec<EncodedBatch>) -> StoreResult<()> {
        if batches.iter().all(EncodedBatch::is_empty) {
            return Ok(());
        }
        self.write_with(move |state| write_batches(state, batches, None)).await
    }

    async fn write_encoded_then(&self, batches: Vec<EncodedBatch>, incidents: LateIncidents) -> StoreResult<()> {
        self.write_with(move |state| write_batches(state, batches, Some(incidents))).await
    }

    async fn max_incident_id(&self) -> StoreResult<i64> {
        // Ids of incidents referenced by alerts or history count too, so an id is never reused.
        self.read(|conn, _| {
            conn.query_row(
                "SELECT MAX(m) FROM (SELECT COALESCE(MAX(id), 0) AS m FROM incidents \
                 UNION ALL SELECT COALESCE(MAX(incident_id), 0) FROM history)",
                [],
                |r| r.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>> {
        Ok(self.incidents(&[id]).await?.into_iter().next())
    }

    async fn incidents(&self, ids: &[IncidentId]) -> StoreResult<Vec<Incident>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.read(move |conn, shared| with_incident_comments(conn, incidents::by_ids(conn, shared, &ids)?)).await
    }

    async fn list_incidents(&self, page: &PageRequest) -> StoreResult<Vec<Incident>> {
        let (after, limit) = (page.after, limit(page));
        self.read(move |conn, shared| with_incident_comments(conn, incidents::page(conn, shared, after, limit)?)).await
    }

    async fn alert(&self, id: &str) -> StoreResult<Option<StoredAlert>> {
        Ok(self.alerts(&[id.to_owned()]).await?.into_iter().next())
    }

    async fn alerts(&self, ids: &[String]) -> StoreResult<Vec<StoredAlert>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.read(move |conn, shared| with_alert_comments(conn, alerts::by_ids(conn, shared, &ids)?)).await
    }

    async fn list_alerts(&self, page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        let (after, limit) = (page.after, limit(page));
        self.read(move |conn, shared| {
            with_alert_comments(conn, alerts::page(conn, shared, Listing::All, after, limit)?)
        })
        .await
    }

    async fn alerts_of_incident(&self, id: IncidentId, page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        let (after, limit) = (page.after, limit(page));
        self.read(move |conn, shared| {
            with_alert_comments(conn, alerts::page(conn, shared, Listing::OfIncident(id.get()), after, limit)?)
        })
        .await
    }

    async fn alerts_with_entity(
        &self,
        kind: EntityKind,
        value: &str,
        page: &PageRequest,
    ) -> StoreResult<Vec<StoredAlert>> {
        let (after, limit, value) = (page.after, limit(page), value.to_owned());
        self.read(move |conn, shared| {
            with_alert_comments(conn, alerts::with_entity(conn, shared, kind, &value, after, limit)?)
        })
        .await
    }

    async fn alerts_since(&self, activity: Timestamp) -> StoreResult<Vec<StoredAlert>> {
        self.read(move |conn, shared| alerts::since(conn, shared, activity.micros())).await
    }

    async fn latest_activity(&self) -> StoreResult<Option<Timestamp>> {
        self.read(|conn, _| {
            let at: Option<i64> =
                conn.query_row("SELECT MAX(activity_at) FROM alerts", [], |r| r.get(0)).map_err(backend)?;
            Ok(at.map(Timestamp::from_micros))
        })
        .await
    }

    async fn add_comment(&self, target: &CommentTarget, comment: &AlertComment) -> StoreResult<Vec<AlertComment>> {
        let (target, comment) = (target.clone(), comment.clone());
        self.write_with(move |state| {
            let WriterState { conn, shared, .. } = state;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let exists = match &target {
                CommentTarget::Incident(id) => {
                    optional(tx.query_row("SELECT 1 FROM incidents WHERE id = ?1", [id.get()], |_| Ok(())))?.is_some()
                }
                CommentTarget::Alert(id) => alerts::exists(&tx, shared, id)?,
            };
            if !exists {
                return Err(StoreError::NotFound);
            }
            match &target {
                CommentTarget::Incident(id) => history::add_comment(&tx, Some(id.get()), None, &comment)?,
                CommentTarget::Alert(id) => history::add_comment(&tx, None, Some(id), &comment)?,
            }
            tx.commit().map_err(backend)?;
            comments_of(conn, shared, &target)
        })
        .await
    }

    async fn append_history(&self, entries: &[NewHistoryEntry]) -> StoreResult<()> {
        let entries = entries.to_vec();
        self.write_with(move |state| {
            let tx = state.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            history::append(&tx, &entries)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn history(&self, id: IncidentId, filter: &HistoryFilter) -> StoreResult<Vec<HistoryEntry>> {
        let filter = filter.clone();
        self.read(move |conn, _| history::read(conn, id, &filter)).await
    }

    async fn tag_suggestions(&self, prefix: &str, limit: u32) -> StoreResult<Vec<TagCount>> {
        let prefix = prefix.to_owned();
        self.read(move |conn, _| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT value, COUNT(*) AS n FROM incident_facets WHERE facet = 'customTags' \
                     AND lower(substr(value, 1, length(?1))) = lower(?1) \
                     GROUP BY value ORDER BY n DESC, value LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![prefix, i64::from(limit.clamp(1, 1000))], |r| {
                    Ok(TagCount { tag: r.get(0)?, count: r.get(1)? })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn query_incidents(&self, query: &IncidentQuery) -> StoreResult<QueryPage<Incident>> {
        let query = query.clone();
        self.read(move |conn, shared| {
            let mut page = QueryPage::from_rows(query::incident_page(conn, shared, &query)?, query.top);
            page.items = with_incident_comments(conn, page.items)?;
            Ok(page)
        })
        .await
    }

    async fn count_incidents(&self, query: &IncidentQuery) -> StoreResult<u64> {
        let query = query.clone();
        self.read(move |conn, _| query::incident_count(conn, &query)).await
    }

    async fn incident_facet_counts(&self, query: &IncidentQuery, limit: u32) -> StoreResult<FacetCounts> {
        let query = query.clone();
        self.read(move |conn, _| query::incident_facet_counts(conn, &query, limit)).await
    }

    async fn query_alerts(&self, query: &AlertQuery) -> StoreResult<QueryPage<StoredAlert>> {
        let query = query.clone();
        self.read(move |conn, shared| {
            let mut page = QueryPage::from_rows(query::alert_page(conn, shared, &query)?, query.top);
            page.items = with_alert_comments(conn, page.items)?;
            Ok(page)
        })
        .await
    }

    async fn count_alerts(&self, query: &AlertQuery) -> StoreResult<u64> {
        let query = query.clone();
        self.read(move |conn, _| query::alert_count(conn, &query)).await
    }
}
