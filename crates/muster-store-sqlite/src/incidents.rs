//! Incidents, alerts, entity keys, comments, history and tags on SQLite.

use std::collections::HashMap;

use muster_core::alert::AlertComment;
use muster_core::entity::{entity_keys, EntityKind};
use muster_core::history::{Actor, ActorKind, HistoryEntry, HistoryFilter, HistoryKind, NewHistoryEntry};
use muster_core::incident::{Incident, IncidentMeta};
use muster_core::store::columns::{alert_from_row, incident_from_row, AlertColumns, IncidentColumns};
use muster_core::store::{
    CommentTarget, IncidentStore, PageRequest, StoreError, StoreResult, StoredAlert, TagCount, WriteBatch,
};
use muster_core::{IncidentId, Timestamp};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use crate::{backend, SqliteStore};

const INCIDENT_COLUMNS: &str = "id, version, name_locked, severity_locked, body";
const ALERT_COLUMNS: &str = "id, incident_id, pinned, body";
/// Rows per multi-row insert, within SQLite's limit of 32,766 parameters per statement.
const ALERT_ROWS_PER_STATEMENT: usize = 500;
const KEY_ROWS_PER_STATEMENT: usize = 2000;
const INCIDENT_ROWS_PER_STATEMENT: usize = 500;

fn incident_row(row: &SqliteRow) -> StoreResult<Incident> {
    let meta = IncidentMeta {
        version: row.try_get("version").map_err(backend)?,
        name_locked: row.try_get("name_locked").map_err(backend)?,
        severity_locked: row.try_get("severity_locked").map_err(backend)?,
        rollup: Default::default(),
    };
    let body: String = row.try_get("body").map_err(backend)?;
    incident_from_row(&body, meta)
}

fn alert_row(row: &SqliteRow) -> StoreResult<StoredAlert> {
    let body: String = row.try_get("body").map_err(backend)?;
    alert_from_row(&body, row.try_get("incident_id").map_err(backend)?, row.try_get("pinned").map_err(backend)?)
}

fn ids_json<T: ToString>(ids: &[T]) -> String {
    Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect()).to_string()
}

fn limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, 10_000))
}

fn comment_row(row: &SqliteRow) -> StoreResult<AlertComment> {
    Ok(AlertComment {
        comment: row.try_get("comment").map_err(backend)?,
        created_by_display_name: row.try_get("created_by").map_err(backend)?,
        created_date_time: Timestamp::from_micros(row.try_get("created_at").map_err(backend)?),
    })
}

impl SqliteStore {
    /// Upserts a batch of incidents after checking each builds on the stored version (a repeated
    /// incident on the copy before it), and replaces their facets; a few statements per batch.
    async fn write_incidents(tx: &mut Transaction<'_, Sqlite>, incidents: &[Incident]) -> StoreResult<()> {
        let columns = incidents.iter().map(IncidentColumns::of).collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<i64> = columns.iter().map(|c| c.id).collect();
        let rows = sqlx::query("SELECT id, version FROM incidents WHERE id IN (SELECT value FROM json_each(?))")
            .bind(ids_json(&ids))
            .fetch_all(&mut **tx)
            .await
            .map_err(backend)?;
        let mut versions: HashMap<i64, i64> = HashMap::new();
        for row in &rows {
            versions.insert(row.try_get("id").map_err(backend)?, row.try_get("version").map_err(backend)?);
        }
        for (incident, c) in incidents.iter().zip(&columns) {
            let current = versions.get(&c.id).copied().unwrap_or(0);
            if current != c.version - 1 {
                return Err(StoreError::VersionMismatch { id: incident.id, current });
            }
            versions.insert(c.id, c.version);
        }
        // Rows of one statement apply in order, so a repeated incident ends as its last copy.
        for chunk in columns.chunks(INCIDENT_ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO incidents (id, version, status, severity_rank, display_name, assigned_to, \
                 classification, determination, created_at, last_update_at, first_activity_at, last_activity_at, \
                 alert_count, active_alert_count, service_source_count, category_count, redirect_incident_id, \
                 name_locked, severity_locked, body) ",
            );
            insert.push_values(chunk, |mut row, c| {
                row.push_bind(c.id)
                    .push_bind(c.version)
                    .push_bind(c.status)
                    .push_bind(c.severity_rank)
                    .push_bind(&c.display_name)
                    .push_bind(&c.assigned_to)
                    .push_bind(c.classification)
                    .push_bind(c.determination)
                    .push_bind(c.created_at)
                    .push_bind(c.last_update_at)
                    .push_bind(c.first_activity_at)
                    .push_bind(c.last_activity_at)
                    .push_bind(c.alert_count)
                    .push_bind(c.active_alert_count)
                    .push_bind(c.service_source_count)
                    .push_bind(c.category_count)
                    .push_bind(c.redirect_incident_id)
                    .push_bind(c.name_locked)
                    .push_bind(c.severity_locked)
                    .push_bind(&c.body);
            });
            insert.push(
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version, status = excluded.status, \
                 severity_rank = excluded.severity_rank, display_name = excluded.display_name, \
                 assigned_to = excluded.assigned_to, classification = excluded.classification, \
                 determination = excluded.determination, last_update_at = excluded.last_update_at, \
                 first_activity_at = excluded.first_activity_at, last_activity_at = excluded.last_activity_at, \
                 alert_count = excluded.alert_count, active_alert_count = excluded.active_alert_count, \
                 service_source_count = excluded.service_source_count, category_count = excluded.category_count, \
                 redirect_incident_id = excluded.redirect_incident_id, name_locked = excluded.name_locked, \
                 severity_locked = excluded.severity_locked, body = excluded.body",
            );
            insert.build().execute(&mut **tx).await.map_err(backend)?;
        }
        sqlx::query("DELETE FROM incident_facets WHERE incident_id IN (SELECT value FROM json_each(?))")
            .bind(ids_json(&ids))
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        // The facets of each incident's last copy.
        let mut last: HashMap<i64, usize> = HashMap::new();
        for (i, c) in columns.iter().enumerate() {
            last.insert(c.id, i);
        }
        let facets: Vec<(&str, &str, i64, i64)> = columns
            .iter()
            .enumerate()
            .filter(|(i, c)| last.get(&c.id) == Some(i))
            .flat_map(|(_, c)| c.facets.iter().map(move |(f, v)| (*f, v.as_str(), c.last_activity_at, c.id)))
            .collect();
        for chunk in facets.chunks(KEY_ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO incident_facets (facet, value, last_activity_at, incident_id) ",
            );
            insert.push_values(chunk, |mut row, (facet, value, at, id)| {
                row.push_bind(*facet).push_bind(*value).push_bind(*at).push_bind(*id);
            });
            insert.build().execute(&mut **tx).await.map_err(backend)?;
        }
        Ok(())
    }

    /// Upserts a batch of alerts and replaces their entity keys, a few hundred rows per statement:
    /// the per-statement cost, not SQLite, is what limits ingest.
    async fn write_alerts(tx: &mut Transaction<'_, Sqlite>, alerts: &[StoredAlert]) -> StoreResult<()> {
        // The same alert twice in a batch: its last version wins, with only that version's keys.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, a) in alerts.iter().enumerate() {
            last.insert(a.alert.id.as_str(), i);
        }
        let columns = alerts
            .iter()
            .enumerate()
            .filter(|(i, a)| last.get(a.alert.id.as_str()) == Some(i))
            .map(|(_, a)| AlertColumns::of(a))
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<&str> = columns.iter().map(|c| c.id.as_str()).collect();
        // Alerts sent again lose the keys of their stored version (new ones have none to lose).
        let stored =
            sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id IN (SELECT value FROM json_each(?))"))
                .bind(ids_json(&ids))
                .fetch_all(&mut **tx)
                .await
                .map_err(backend)?;
        for row in &stored {
            let old = alert_row(row)?.alert;
            for key in entity_keys(&old) {
                sqlx::query("DELETE FROM entity_keys WHERE kind = ? AND value = ? AND alert_id = ?")
                    .bind(key.kind.as_str())
                    .bind(&key.value)
                    .bind(&old.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
            }
        }
        for chunk in columns.chunks(ALERT_ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO alerts (id, incident_id, service_source, provider_alert_id, status, severity_rank, \
                 assigned_to, classification, determination, created_at, last_update_at, activity_at, pinned, body) ",
            );
            insert.push_values(chunk, |mut row, c| {
                row.push_bind(&c.id)
                    .push_bind(c.incident_id)
                    .push_bind(&c.service_source)
                    .push_bind(&c.provider_alert_id)
                    .push_bind(c.status)
                    .push_bind(c.severity_rank)
                    .push_bind(&c.assigned_to)
                    .push_bind(c.classification)
                    .push_bind(c.determination)
                    .push_bind(c.created_at)
                    .push_bind(c.last_update_at)
                    .push_bind(c.activity_at)
                    .push_bind(c.pinned)
                    .push_bind(&c.body);
            });
            insert.push(
                " ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, status = excluded.status, \
                 severity_rank = excluded.severity_rank, assigned_to = excluded.assigned_to, \
                 classification = excluded.classification, determination = excluded.determination, \
                 last_update_at = excluded.last_update_at, activity_at = excluded.activity_at, \
                 pinned = excluded.pinned, body = excluded.body",
            );
            insert.build().execute(&mut **tx).await.map_err(backend)?;
        }
        let keys: Vec<(&str, &muster_core::entity::EntityKey)> =
            columns.iter().flat_map(|c| c.keys.iter().map(move |k| (c.id.as_str(), k))).collect();
        for chunk in keys.chunks(KEY_ROWS_PER_STATEMENT) {
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO entity_keys (kind, value, alert_id, display) ");
            insert.push_values(chunk, |mut row, (id, key)| {
                row.push_bind(key.kind.as_str()).push_bind(&key.value).push_bind(*id).push_bind(&key.display);
            });
            insert.build().execute(&mut **tx).await.map_err(backend)?;
        }
        Ok(())
    }

    /// Appends history entries in order, many rows per statement.
    async fn write_history(tx: &mut Transaction<'_, Sqlite>, entries: &[NewHistoryEntry]) -> StoreResult<()> {
        let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        for chunk in entries.chunks(INCIDENT_ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO history (incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason) ",
            );
            insert.push_values(chunk, |mut row, entry| {
                row.push_bind(entry.incident_id.get())
                    .push_bind(entry.at.micros())
                    .push_bind(actor_kind_text(entry.actor.kind))
                    .push_bind(&entry.actor.name)
                    .push_bind(entry.kind.as_str())
                    .push_bind(&entry.field)
                    .push_bind(json(&entry.old_value))
                    .push_bind(json(&entry.new_value))
                    .push_bind(&entry.comment)
                    .push_bind(&entry.reason);
            });
            insert.build().execute(&mut **tx).await.map_err(backend)?;
        }
        Ok(())
    }

    /// Comments added through Muster, by alert id, oldest first.
    async fn alert_comments(&self, ids: &[&str]) -> StoreResult<HashMap<String, Vec<AlertComment>>> {
        let rows = sqlx::query(
            "SELECT alert_id, comment, created_by, created_at FROM comments \
             WHERE alert_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(ids_json(ids))
        .fetch_all(&self.readers)
        .await
        .map_err(backend)?;
        let mut out: HashMap<String, Vec<AlertComment>> = HashMap::new();
        for row in &rows {
            out.entry(row.try_get("alert_id").map_err(backend)?).or_default().push(comment_row(row)?);
        }
        Ok(out)
    }

    async fn with_alert_comments(&self, mut alerts: Vec<StoredAlert>) -> StoreResult<Vec<StoredAlert>> {
        let ids: Vec<&str> = alerts.iter().map(|a| a.alert.id.as_str()).collect();
        let mut comments = self.alert_comments(&ids).await?;
        for a in &mut alerts {
            if let Some(extra) = comments.remove(&a.alert.id) {
                a.alert.comments.extend(extra);
            }
        }
        Ok(alerts)
    }

    async fn with_incident_comments(&self, mut incidents: Vec<Incident>) -> StoreResult<Vec<Incident>> {
        let ids: Vec<i64> = incidents.iter().map(|i| i.id.get()).collect();
        let rows = sqlx::query(
            "SELECT incident_id, comment, created_by, created_at FROM comments \
             WHERE incident_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(ids_json(&ids))
        .fetch_all(&self.readers)
        .await
        .map_err(backend)?;
        let mut by_incident: HashMap<i64, Vec<AlertComment>> = HashMap::new();
        for row in &rows {
            by_incident.entry(row.try_get("incident_id").map_err(backend)?).or_default().push(comment_row(row)?);
        }
        for incident in &mut incidents {
            incident.comments = by_incident.remove(&incident.id.get()).unwrap_or_default();
        }
        Ok(incidents)
    }

    /// A page of alerts matching `filter` (SQL with `?` placeholders for `binds`), newest activity first.
    async fn alert_page(&self, filter: &str, binds: &[&str], page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        let after = if page.after.is_some() { "AND (activity_at, id) < (?, ?)" } else { "" };
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE {filter} {after} ORDER BY activity_at DESC, id DESC LIMIT ?"
        );
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(*value);
        }
        if let Some((at, id)) = &page.after {
            query = query.bind(at).bind(id);
        }
        let rows = query.bind(limit(page)).fetch_all(&self.readers).await.map_err(backend)?;
        let alerts = rows.iter().map(alert_row).collect::<StoreResult<Vec<_>>>()?;
        self.with_alert_comments(alerts).await
    }
}

pub(crate) fn actor_kind_text(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::User => "user",
        ActorKind::Token => "token",
        ActorKind::Correlation => "correlation",
        ActorKind::Automation => "automation",
    }
}

fn actor_kind_from(text: &str) -> StoreResult<ActorKind> {
    Ok(match text {
        "user" => ActorKind::User,
        "token" => ActorKind::Token,
        "correlation" => ActorKind::Correlation,
        "automation" => ActorKind::Automation,
        other => return Err(StoreError::Corrupt(format!("unknown actor kind '{other}'"))),
    })
}

fn history_row(row: &SqliteRow) -> StoreResult<HistoryEntry> {
    let json = |col: &str| -> StoreResult<Option<Value>> {
        let text: Option<String> = row.try_get(col).map_err(backend)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    };
    let kind: String = row.try_get("kind").map_err(backend)?;
    let actor_kind: String = row.try_get("actor_kind").map_err(backend)?;
    Ok(HistoryEntry {
        id: row.try_get("id").map_err(backend)?,
        entry: NewHistoryEntry {
            incident_id: IncidentId::new(row.try_get("incident_id").map_err(backend)?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            at: Timestamp::from_micros(row.try_get("at").map_err(backend)?),
            actor: Actor { kind: actor_kind_from(&actor_kind)?, name: row.try_get("actor").map_err(backend)? },
            kind: kind.parse::<HistoryKind>().map_err(StoreError::Corrupt)?,
            field: row.try_get("field").map_err(backend)?,
            old_value: json("old_value")?,
            new_value: json("new_value")?,
            comment: row.try_get("comment").map_err(backend)?,
            reason: row.try_get("reason").map_err(backend)?,
        },
    })
}

#[async_trait::async_trait]
impl IncidentStore for SqliteStore {
    async fn write(&self, batch: &WriteBatch) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(backend)?;
        if !batch.incidents.is_empty() {
            Self::write_incidents(&mut tx, &batch.incidents).await?;
        }
        for (from, into) in &batch.relinks {
            sqlx::query("UPDATE alerts SET incident_id = ? WHERE incident_id = ?")
                .bind(into.get())
                .bind(from.get())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        if !batch.alerts.is_empty() {
            Self::write_alerts(&mut tx, &batch.alerts).await?;
        }
        Self::write_history(&mut tx, &batch.history).await?;
        tx.commit().await.map_err(backend)
    }

    async fn max_incident_id(&self) -> StoreResult<i64> {
        // Ids of incidents referenced by alerts or history count too, so an id is never reused.
        sqlx::query_scalar(
            "SELECT MAX(m) FROM (SELECT COALESCE(MAX(id), 0) AS m FROM incidents \
             UNION ALL SELECT COALESCE(MAX(incident_id), 0) FROM history)",
        )
        .fetch_one(&self.readers)
        .await
        .map_err(backend)
    }

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>> {
        Ok(self.incidents(&[id]).await?.into_iter().next())
    }

    async fn incidents(&self, ids: &[IncidentId]) -> StoreResult<Vec<Incident>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let raw: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id IN (SELECT value FROM json_each(?))"
        ))
        .bind(ids_json(&raw))
        .fetch_all(&self.readers)
        .await
        .map_err(backend)?;
        let mut found: HashMap<i64, Incident> = HashMap::new();
        for row in &rows {
            let incident = incident_row(row)?;
            found.insert(incident.id.get(), incident);
        }
        let ordered = raw.iter().filter_map(|id| found.remove(id)).collect();
        self.with_incident_comments(ordered).await
    }

    async fn list_incidents(&self, page: &PageRequest) -> StoreResult<Vec<Incident>> {
        let rows = match &page.after {
            Some((at, id)) => {
                let id: i64 = id.parse().map_err(|_| StoreError::Corrupt(format!("bad cursor id '{id}'")))?;
                sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status <> 'redirected' \
                     AND (last_activity_at, id) < (?, ?) ORDER BY last_activity_at DESC, id DESC LIMIT ?"
                ))
                .bind(at)
                .bind(id)
                .bind(limit(page))
                .fetch_all(&self.readers)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status <> 'redirected' \
                     ORDER BY last_activity_at DESC, id DESC LIMIT ?"
                ))
                .bind(limit(page))
                .fetch_all(&self.readers)
                .await
            }
        }
        .map_err(backend)?;
        let incidents = rows.iter().map(incident_row).collect::<StoreResult<Vec<_>>>()?;
        self.with_incident_comments(incidents).await
    }

    async fn alert(&self, id: &str) -> StoreResult<Option<StoredAlert>> {
        Ok(self.alerts(&[id.to_owned()]).await?.into_iter().next())
    }

    async fn alerts(&self, ids: &[String]) -> StoreResult<Vec<StoredAlert>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id IN (SELECT value FROM json_each(?))"))
                .bind(ids_json(ids))
                .fetch_all(&self.readers)
                .await
                .map_err(backend)?;
        let mut found: HashMap<String, StoredAlert> = HashMap::new();
        for row in &rows {
            let alert = alert_row(row)?;
            found.insert(alert.alert.id.clone(), alert);
        }
        let ordered = ids.iter().filter_map(|id| found.remove(id)).collect();
        self.with_alert_comments(ordered).await
    }

    async fn list_alerts(&self, page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        self.alert_page("1 = 1", &[], page).await
    }

    async fn alerts_of_incident(&self, id: IncidentId, page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        self.alert_page("incident_id = CAST(? AS INTEGER)", &[&id.to_string()], page).await
    }

    async fn alerts_with_entity(
        &self,
        kind: EntityKind,
        value: &str,
        page: &PageRequest,
    ) -> StoreResult<Vec<StoredAlert>> {
        self.alert_page(
            "id IN (SELECT alert_id FROM entity_keys WHERE kind = ? AND value = ?)",
            &[kind.as_str(), value],
            page,
        )
        .await
    }

    async fn alerts_since(&self, activity: Timestamp) -> StoreResult<Vec<StoredAlert>> {
        let rows =
            sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE activity_at >= ? ORDER BY activity_at, id"))
                .bind(activity.micros())
                .fetch_all(&self.readers)
                .await
                .map_err(backend)?;
        rows.iter().map(alert_row).collect()
    }

    async fn latest_activity(&self) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT MAX(activity_at) FROM alerts")
            .fetch_one(&self.readers)
            .await
            .map_err(backend)?;
        Ok(at.map(Timestamp::from_micros))
    }

    async fn add_comment(&self, target: &CommentTarget, comment: &AlertComment) -> StoreResult<Vec<AlertComment>> {
        let (incident_id, alert_id) = match target {
            CommentTarget::Incident(id) => (Some(id.get()), None),
            CommentTarget::Alert(id) => (None, Some(id.clone())),
        };
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let exists: Option<i64> = match target {
            CommentTarget::Incident(id) => sqlx::query_scalar("SELECT 1 FROM incidents WHERE id = ?").bind(id.get()),
            CommentTarget::Alert(id) => sqlx::query_scalar("SELECT 1 FROM alerts WHERE id = ?").bind(id.clone()),
        }
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO comments (incident_id, alert_id, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(incident_id)
        .bind(&alert_id)
        .bind(&comment.comment)
        .bind(&comment.created_by_display_name)
        .bind(comment.created_date_time.micros())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        match target {
            CommentTarget::Incident(id) => Ok(self.incident(*id).await?.map(|i| i.comments).unwrap_or_default()),
            CommentTarget::Alert(id) => Ok(self.alert(id).await?.map(|a| a.alert.comments).unwrap_or_default()),
        }
    }

    async fn append_history(&self, entries: &[NewHistoryEntry]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        Self::write_history(&mut tx, entries).await?;
        tx.commit().await.map_err(backend)
    }

    async fn history(&self, id: IncidentId, filter: &HistoryFilter) -> StoreResult<Vec<HistoryEntry>> {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        let rows = sqlx::query(
            "SELECT id, incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason \
             FROM history WHERE incident_id = ? \
             AND (? = 0 OR kind IN (SELECT value FROM json_each(?))) \
             AND (? IS NULL OR lower(actor) = lower(?)) \
             AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(id.get())
        .bind(kinds.len() as i64)
        .bind(ids_json(&kinds))
        .bind(&filter.actor)
        .bind(&filter.actor)
        .bind(filter.before_id.unwrap_or(i64::MAX))
        .bind(i64::from(if filter.limit == 0 { 1000 } else { filter.limit.min(10_000) }))
        .fetch_all(&self.readers)
        .await
        .map_err(backend)?;
        rows.iter().map(history_row).collect()
    }

    async fn tag_suggestions(&self, prefix: &str, limit: u32) -> StoreResult<Vec<TagCount>> {
        let rows = sqlx::query(
            "SELECT value, COUNT(*) AS n FROM incident_facets WHERE facet = 'customTags' \
             AND lower(substr(value, 1, length(?1))) = lower(?1) \
             GROUP BY value ORDER BY n DESC, value LIMIT ?2",
        )
        .bind(prefix)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.readers)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(TagCount { tag: r.try_get("value").map_err(backend)?, count: r.try_get("n").map_err(backend)? })
            })
            .collect()
    }
}
