//! Incidents, alerts, entity keys, comments, history and tags on PostgreSQL.
//!
//! A batch is written with a handful of statements whatever its size: the incidents' rows are locked
//! (in id order, so concurrent writers cannot deadlock on them) and their versions checked, then
//! incidents, facets, alerts, entity keys and history go in as multi-row `UNNEST` statements. The
//! result is exactly what the SQLite backend's row-by-row upserts leave behind.

use std::collections::HashMap;

use muster_core::alert::AlertComment;
use muster_core::entity::EntityKind;
use muster_core::history::{Actor, ActorKind, HistoryEntry, HistoryFilter, HistoryKind, NewHistoryEntry};
use muster_core::incident::{Incident, IncidentMeta};
use muster_core::store::columns::{alert_from_row, incident_from_row, AlertColumns, IncidentColumns};
use muster_core::store::query::counts::FacetCounts;
use muster_core::store::query::{AlertQuery, IncidentQuery, QueryPage};
use muster_core::store::{
    CommentTarget, EncodedBatch, IncidentStore, LateIncidents, PageRequest, StoreError, StoreResult, StoredAlert,
    TagCount,
};
use muster_core::{IncidentId, Timestamp};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row, Transaction};

use crate::{backend, query, PostgresStore};

const INCIDENT_COLUMNS: &str = "id, version, name_locked, severity_locked, body";
const ALERT_COLUMNS: &str = "id, incident_id, pinned, seq, body";

/// The incident columns in the order of [`IncidentArrays`] (and of `UNNEST` in the statements below).
const INCIDENT_UNNEST: &str = "UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], \
     $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::boolean[], \
     $19::boolean[], $20::text[], $21::text[]) AS u (id, version, status, severity_rank, display_name, \
     assigned_to, classification, determination, created_at, last_update_at, first_activity_at, \
     last_activity_at, alert_count, active_alert_count, service_source_count, category_count, \
     redirect_incident_id, name_locked, severity_locked, body, search_text)";

fn incident_row(row: &PgRow) -> StoreResult<Incident> {
    let meta = IncidentMeta {
        version: row.try_get("version").map_err(backend)?,
        name_locked: row.try_get("name_locked").map_err(backend)?,
        severity_locked: row.try_get("severity_locked").map_err(backend)?,
        rollup: Default::default(),
    };
    let body: String = row.try_get("body").map_err(backend)?;
    incident_from_row(&body, meta)
}

fn alert_row(row: &PgRow) -> StoreResult<StoredAlert> {
    let body: String = row.try_get("body").map_err(backend)?;
    alert_from_row(
        &body,
        row.try_get("incident_id").map_err(backend)?,
        row.try_get("pinned").map_err(backend)?,
        row.try_get("seq").map_err(backend)?,
    )
}

fn incident_id(id: i64) -> StoreResult<IncidentId> {
    IncidentId::new(id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, 10_000))
}

fn comment_row(row: &PgRow) -> StoreResult<AlertComment> {
    Ok(AlertComment {
        comment: row.try_get("comment").map_err(backend)?,
        created_by_display_name: row.try_get("created_by").map_err(backend)?,
        created_date_time: Timestamp::from_micros(row.try_get("created_at").map_err(backend)?),
    })
}

/// The positions of the last occurrence of each key, in key order: a batch that names a record twice
/// leaves the last version behind, as writing them one after the other would.
fn last_by_key<T, K: Ord + Clone>(items: &[T], key: impl Fn(&T) -> K) -> Vec<usize> {
    let mut last = std::collections::BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        last.insert(key(item), i);
    }
    last.into_values().collect()
}

/// Incident rows column by column, for binding as arrays.
#[derive(Default)]
struct IncidentArrays<'a> {
    id: Vec<i64>,
    version: Vec<i64>,
    status: Vec<&'a str>,
    severity_rank: Vec<i64>,
    display_name: Vec<&'a str>,
    assigned_to: Vec<Option<&'a str>>,
    classification: Vec<Option<&'a str>>,
    determination: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    last_update_at: Vec<i64>,
    first_activity_at: Vec<Option<i64>>,
    last_activity_at: Vec<i64>,
    alert_count: Vec<i64>,
    active_alert_count: Vec<i64>,
    service_source_count: Vec<i64>,
    category_count: Vec<i64>,
    redirect_incident_id: Vec<Option<i64>>,
    name_locked: Vec<bool>,
    severity_locked: Vec<bool>,
    body: Vec<&'a str>,
    search_text: Vec<&'a str>,
}

impl<'a> IncidentArrays<'a> {
    /// `created_at` is given apart: an incident inserted and updated in one batch keeps the creation
    /// time it was first written with.
    fn push(&mut self, c: &'a IncidentColumns, created_at: i64) {
        self.id.push(c.id);
        self.version.push(c.version);
        self.status.push(c.status);
        self.severity_rank.push(c.severity_rank);
        self.display_name.push(&c.display_name);
        self.assigned_to.push(c.assigned_to.as_deref());
        self.classification.push(c.classification);
        self.determination.push(c.determination);
        self.created_at.push(created_at);
        self.last_update_at.push(c.last_update_at);
        self.first_activity_at.push(c.first_activity_at);
        self.last_activity_at.push(c.last_activity_at);
        self.alert_count.push(c.alert_count);
        self.active_alert_count.push(c.active_alert_count);
        self.service_source_count.push(c.service_source_count);
        self.category_count.push(c.category_count);
        self.redirect_incident_id.push(c.redirect_incident_id);
        self.name_locked.push(c.name_locked);
        self.severity_locked.push(c.severity_locked);
        self.body.push(&c.body);
        self.search_text.push(&c.search_text);
    }

    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.id)
            .bind(&self.version)
            .bind(&self.status)
            .bind(&self.severity_rank)
            .bind(&self.display_name)
            .bind(&self.assigned_to)
            .bind(&self.classification)
            .bind(&self.determination)
            .bind(&self.created_at)
            .bind(&self.last_update_at)
            .bind(&self.first_activity_at)
            .bind(&self.last_activity_at)
            .bind(&self.alert_count)
            .bind(&self.active_alert_count)
            .bind(&self.service_source_count)
            .bind(&self.category_count)
            .bind(&self.redirect_incident_id)
            .bind(&self.name_locked)
            .bind(&self.severity_locked)
            .bind(&self.body)
            .bind(&self.search_text)
    }
}

impl PostgresStore {
    async fn write_incidents(tx: &mut Transaction<'_, Postgres>, columns: &[IncidentColumns]) -> StoreResult<()> {
        let mut ids: Vec<i64> = columns.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        // Lock the stored rows first, in id order: no other writer can move a version we checked.
        let locked: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, version FROM incidents WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&ids)
                .fetch_all(&mut **tx)
                .await
                .map_err(backend)?;
        let existing: HashMap<i64, i64> = locked.into_iter().collect();
        // Check in batch order, as one-by-one writes would; a later copy follows an earlier one.
        let mut versions = existing.clone();
        let mut first_created: HashMap<i64, i64> = HashMap::new();
        for c in columns {
            let stored = versions.get(&c.id).copied().unwrap_or(0);
            if stored != c.builds_on {
                return Err(StoreError::VersionMismatch { id: incident_id(c.id)?, current: stored });
            }
            versions.insert(c.id, c.version);
            first_created.entry(c.id).or_insert(c.created_at);
        }

        let mut updates = IncidentArrays::default();
        let mut inserts = IncidentArrays::default();
        for i in last_by_key(columns, |c| c.id) {
            let c = &columns[i];
            if existing.contains_key(&c.id) {
                updates.push(c, c.created_at);
            } else {
                inserts.push(c, first_created[&c.id]);
            }
        }
        if !updates.id.is_empty() {
            let sql = format!(
                "UPDATE incidents AS i SET version = u.version, status = u.status, \
                 severity_rank = u.severity_rank, display_name = u.display_name, assigned_to = u.assigned_to, \
                 classification = u.classification, determination = u.determination, \
                 last_update_at = u.last_update_at, first_activity_at = u.first_activity_at, \
                 last_activity_at = u.last_activity_at, alert_count = u.alert_count, \
                 active_alert_count = u.active_alert_count, service_source_count = u.service_source_count, \
                 category_count = u.category_count, redirect_incident_id = u.redirect_incident_id, \
                 name_locked = u.name_locked, severity_locked = u.severity_locked, body = u.body, \
                 search_text = u.search_text FROM {INCIDENT_UNNEST} WHERE i.id = u.id"
            );
            updates.bind(sqlx::query(&sql)).execute(&mut **tx).await.map_err(backend)?;
        }
        if !inserts.id.is_empty() {
            let sql = format!(
                "INSERT INTO incidents (id, version, status, severity_rank, display_name, assigned_to, \
                 classification, determination, created_at, last_update_at, first_activity_at, last_activity_at, \
                 alert_count, active_alert_count, service_source_count, category_count, redirect_incident_id, \
                 name_locked, severity_locked, body, search_text) SELECT * FROM {INCIDENT_UNNEST} \
                 ON CONFLICT (id) DO NOTHING RETURNING id"
            );
            let rows = inserts.bind(sqlx::query(&sql)).fetch_all(&mut **tx).await.map_err(backend)?;
            let inserted =
                rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<Vec<_>, _>>().map_err(backend)?;
            if inserted.len() != inserts.id.len() {
                // Another writer created one of these incidents since the rows were locked.
                let lost = columns
                    .iter()
                    .find(|c| !existing.contains_key(&c.id) && !inserted.contains(&c.id))
                    .map(|c| incident_id(c.id))
                    .ok_or_else(|| StoreError::Backend("incident insert lost a row".into()))??;
                let current: i64 = sqlx::query_scalar("SELECT version FROM incidents WHERE id = $1")
                    .bind(lost.get())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(backend)?
                    .unwrap_or(0);
                return Err(StoreError::VersionMismatch { id: lost, current });
            }
        }

        // Facets: each incident's set is replaced by its last version's.
        let (mut facet, mut value, mut activity, mut incident_id) = (vec![], vec![], vec![], vec![]);
        for i in last_by_key(columns, |c| c.id) {
            let c = &columns[i];
            for (f, v) in &c.facets {
                facet.push(*f);
                value.push(v.as_str());
                activity.push(c.last_activity_at);
                incident_id.push(c.id);
            }
        }
        sqlx::query("DELETE FROM incident_facets WHERE incident_id = ANY($1)")
            .bind(&ids)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        if !facet.is_empty() {
            sqlx::query(
                "INSERT INTO incident_facets (facet, value, last_activity_at, incident_id) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(&facet)
            .bind(&value)
            .bind(&activity)
            .bind(&incident_id)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }

    async fn write_alerts(tx: &mut Transaction<'_, Postgres>, columns: &[AlertColumns]) -> StoreResult<()> {
        // Source, provider id and creation time are written once, by the first version stored.
        let mut first: HashMap<&str, &AlertColumns> = HashMap::new();
        for c in columns {
            first.entry(c.id.as_str()).or_insert(c);
        }
        let last = last_by_key(columns, |c| c.id.clone());
        let n = last.len();
        let (mut id, mut incident_id, mut service_source, mut provider_alert_id) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut status, mut severity_rank, mut assigned_to, mut classification, mut determination) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut created_at, mut last_update_at, mut activity_at, mut pinned, mut body) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut title = Vec::with_capacity(n);
        let (mut key_kind, mut key_value, mut key_alert, mut key_display) = (vec![], vec![], vec![], vec![]);
        for &i in &last {
            let c = &columns[i];
            let f = first[c.id.as_str()];
            id.push(c.id.as_str());
            incident_id.push(c.incident_id);
            service_source.push(f.service_source.as_str());
            provider_alert_id.push(f.provider_alert_id.as_deref());
            status.push(c.status);
            severity_rank.push(c.severity_rank);
            assigned_to.push(c.assigned_to.as_deref());
            classification.push(c.classification);
            determination.push(c.determination);
            created_at.push(f.created_at);
            last_update_at.push(c.last_update_at);
            activity_at.push(c.activity_at);
            pinned.push(c.pinned);
            body.push(c.body.as_str());
            title.push(c.title.as_str());
            for key in &c.keys {
                key_kind.push(key.kind.as_str());
                key_value.push(key.value.as_str());
                key_alert.push(c.id.as_str());
                key_display.push(key.display.as_str());
            }
        }
        sqlx::query(
            "INSERT INTO alerts (id, incident_id, service_source, provider_alert_id, status, severity_rank, \
             assigned_to, classification, determination, created_at, last_update_at, activity_at, pinned, body, \
             title) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
             $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::boolean[], \
             $14::text[], $15::text[]) \
             ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, status = excluded.status, \
             severity_rank = excluded.severity_rank, assigned_to = excluded.assigned_to, \
             classification = excluded.classification, determination = excluded.determination, \
             last_update_at = excluded.last_update_at, activity_at = excluded.activity_at, \
             pinned = excluded.pinned, body = excluded.body, title = excluded.title",
        )
        .bind(&id)
        .bind(&incident_id)
        .bind(&service_source)
        .bind(&provider_alert_id)
        .bind(&status)
        .bind(&severity_rank)
        .bind(&assigned_to)
        .bind(&classification)
        .bind(&determination)
        .bind(&created_at)
        .bind(&last_update_at)
        .bind(&activity_at)
        .bind(&pinned)
        .bind(&body)
        .bind(&title)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        sqlx::query("DELETE FROM entity_keys WHERE alert_id = ANY($1)")
            .bind(&id)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        if !key_kind.is_empty() {
            sqlx::query(
                "INSERT INTO entity_keys (kind, value, alert_id, display) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])",
            )
            .bind(&key_kind)
            .bind(&key_value)
            .bind(&key_alert)
            .bind(&key_display)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }

    /// Appends entries in order: their ids follow the order given.
    async fn write_history(tx: &mut Transaction<'_, Postgres>, entries: &[NewHistoryEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        let incident_id: Vec<i64> = entries.iter().map(|e| e.incident_id.get()).collect();
        let at: Vec<i64> = entries.iter().map(|e| e.at.micros()).collect();
        let actor_kind: Vec<&str> = entries.iter().map(|e| actor_kind_text(e.actor.kind)).collect();
        let actor: Vec<&str> = entries.iter().map(|e| e.actor.name.as_str()).collect();
        let kind: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
        let field: Vec<Option<&str>> = entries.iter().map(|e| e.field.as_deref()).collect();
        let old_value: Vec<Option<String>> = entries.iter().map(|e| json(&e.old_value)).collect();
        let new_value: Vec<Option<String>> = entries.iter().map(|e| json(&e.new_value)).collect();
        let comment: Vec<Option<&str>> = entries.iter().map(|e| e.comment.as_deref()).collect();
        let reason: Vec<Option<&str>> = entries.iter().map(|e| e.reason.as_deref()).collect();
        sqlx::query(
            "INSERT INTO history (incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason) \
             SELECT incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::text[]) WITH ORDINALITY \
             AS u (incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason, n) \
             ORDER BY n",
        )
        .bind(&incident_id)
        .bind(&at)
        .bind(&actor_kind)
        .bind(&actor)
        .bind(&kind)
        .bind(&field)
        .bind(&old_value)
        .bind(&new_value)
        .bind(&comment)
        .bind(&reason)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// Comments added through Muster, by alert id, oldest first.
    async fn alert_comments(&self, ids: &[&str]) -> StoreResult<HashMap<String, Vec<AlertComment>>> {
        let rows = sqlx::query(
            "SELECT alert_id, comment, created_by, created_at FROM comments WHERE alert_id = ANY($1) ORDER BY id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut out: HashMap<String, Vec<AlertComment>> = HashMap::new();
        for row in &rows {
            out.entry(row.try_get("alert_id").map_err(backend)?).or_default().push(comment_row(row)?);
        }
        Ok(out)
    }

    async fn with_alert_comments(&self, mut alerts: Vec<StoredAlert>) -> StoreResult<Vec<StoredAlert>> {
        if alerts.is_empty() {
            return Ok(alerts);
        }
        let ids: Vec<&str> = alerts.iter().map(|a| a.alert.id.as_str()).collect();
        let mut comments = self.alert_comments(&ids).await?;
        for a in &mut alerts {
            if let Some(extra) = comments.remove(&a.alert.id) {
                a.alert.comments = extra;
            }
        }
        Ok(alerts)
    }

    async fn with_incident_comments(&self, mut incidents: Vec<Incident>) -> StoreResult<Vec<Incident>> {
        if incidents.is_empty() {
            return Ok(incidents);
        }
        let ids: Vec<i64> = incidents.iter().map(|i| i.id.get()).collect();
        let rows = sqlx::query(
            "SELECT incident_id, comment, created_by, created_at FROM comments \
             WHERE incident_id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
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

    /// A page of alerts matching `filter`, newest activity first.
    async fn alert_page(&self, filter: AlertFilter<'_>, page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        let mut query = QueryBuilder::<Postgres>::new(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE "));
        match filter {
            AlertFilter::All => {
                query.push("TRUE");
            }
            AlertFilter::Incident(id) => {
                query.push("incident_id = ").push_bind(id.get());
            }
            AlertFilter::Entity(kind, value) => {
                query
                    .push("id IN (SELECT alert_id FROM entity_keys WHERE kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND value = ")
                    .push_bind(value.to_owned())
                    .push(")");
            }
        }
        if let Some((at, seq)) = page.after {
            query.push(" AND (activity_at, seq) < (").push_bind(at).push(", ").push_bind(seq).push(")");
        }
        query.push(" ORDER BY activity_at DESC, seq DESC LIMIT ").push_bind(limit(page));
        let rows = query.build().fetch_all(&self.pool).await.map_err(backend)?;
        let alerts = rows.iter().map(alert_row).collect::<StoreResult<Vec<_>>>()?;
        self.with_alert_comments(alerts).await
    }
}

/// Which alerts a page lists.
enum AlertFilter<'a> {
    All,
    Incident(IncidentId),
    Entity(EntityKind, &'a str),
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

fn history_row(row: &PgRow) -> StoreResult<HistoryEntry> {
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
impl IncidentStore for PostgresStore {
    async fn write_encoded(&self, batches: Vec<EncodedBatch>) -> StoreResult<()> {
        if batches.iter().all(EncodedBatch::is_empty) {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for batch in &batches {
            if !batch.incidents.is_empty() {
                Self::write_incidents(&mut tx, &batch.incidents).await?;
            }
            for (from, into) in &batch.relinks {
                sqlx::query("UPDATE alerts SET incident_id = $1 WHERE incident_id = $2")
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
        }
        tx.commit().await.map_err(backend)
    }

    async fn write_encoded_then(&self, batches: Vec<EncodedBatch>, incidents: LateIncidents) -> StoreResult<()> {
        // History rows refer to their incident: its row goes first.
        let incidents = tokio::task::spawn_blocking(move || incidents.wait())
            .await
            .map_err(|e| StoreError::Backend(format!("encoding incidents failed: {e}")))??;
        let first = EncodedBatch { incidents, ..EncodedBatch::default() };
        self.write_encoded(std::iter::once(first).chain(batches).collect()).await
    }

    async fn max_incident_id(&self) -> StoreResult<i64> {
        // Ids of incidents referenced by history count too, so an id is never reused. Read from the
        // shared database each time: whichever node runs the engine sees every node's writes.
        sqlx::query_scalar(
            "SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM incidents), \
             (SELECT COALESCE(MAX(incident_id), 0) FROM history))",
        )
        .fetch_one(&self.pool)
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
        let rows = sqlx::query(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ANY($1)"))
            .bind(&raw)
            .fetch_all(&self.pool)
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
                sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status <> 'redirected' \
                     AND (last_activity_at, id) < ($1, $2) ORDER BY last_activity_at DESC, id DESC LIMIT $3"
                ))
                .bind(at)
                .bind(id)
                .bind(limit(page))
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status <> 'redirected' \
                     ORDER BY last_activity_at DESC, id DESC LIMIT $1"
                ))
                .bind(limit(page))
                .fetch_all(&self.pool)
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
        let rows = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
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
        self.alert_page(AlertFilter::All, page).await
    }

    async fn alerts_of_incident(&self, id: IncidentId, page: &PageRequest) -> StoreResult<Vec<StoredAlert>> {
        self.alert_page(AlertFilter::Incident(id), page).await
    }

    async fn alerts_with_entity(
        &self,
        kind: EntityKind,
        value: &str,
        page: &PageRequest,
    ) -> StoreResult<Vec<StoredAlert>> {
        self.alert_page(AlertFilter::Entity(kind, value), page).await
    }

    async fn alerts_since(&self, activity: Timestamp) -> StoreResult<Vec<StoredAlert>> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE activity_at >= $1 ORDER BY activity_at, seq"
        ))
        .bind(activity.micros())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(alert_row).collect()
    }

    async fn latest_activity(&self) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT MAX(activity_at) FROM alerts").fetch_one(&self.pool).await.map_err(backend)?;
        Ok(at.map(Timestamp::from_micros))
    }

    async fn add_comment(&self, target: &CommentTarget, comment: &AlertComment) -> StoreResult<Vec<AlertComment>> {
        let (incident_id, alert_id) = match target {
            CommentTarget::Incident(id) => (Some(id.get()), None),
            CommentTarget::Alert(id) => (None, Some(id.clone())),
        };
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let exists: bool = match target {
            CommentTarget::Incident(id) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)").bind(id.get())
            }
            CommentTarget::Alert(id) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM alerts WHERE id = $1)").bind(id.clone())
            }
        }
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO comments (incident_id, alert_id, comment, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
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
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        Self::write_history(&mut tx, entries).await?;
        tx.commit().await.map_err(backend)
    }

    async fn history(&self, id: IncidentId, filter: &HistoryFilter) -> StoreResult<Vec<HistoryEntry>> {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        // lower() under the "C" collation folds ASCII letters only, exactly as SQLite's lower().
        let rows = sqlx::query(
            "SELECT id, incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason \
             FROM history WHERE incident_id = $1 \
             AND (cardinality($2::text[]) = 0 OR kind = ANY($2)) \
             AND ($3::text IS NULL OR lower(actor COLLATE \"C\") = lower($3 COLLATE \"C\")) \
             AND id < $4 ORDER BY id DESC LIMIT $5",
        )
        .bind(id.get())
        .bind(&kinds)
        .bind(&filter.actor)
        .bind(filter.before_id.unwrap_or(i64::MAX))
        .bind(i64::from(if filter.limit == 0 { 1000 } else { filter.limit.min(10_000) }))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(history_row).collect()
    }

    async fn tag_suggestions(&self, prefix: &str, limit: u32) -> StoreResult<Vec<TagCount>> {
        // Case-insensitive prefix as SQLite's (ASCII folding), most used first, then byte order.
        let rows = sqlx::query(
            "SELECT value, COUNT(*) AS n FROM incident_facets WHERE facet = 'customTags' \
             AND lower(left(value, char_length($1::text)) COLLATE \"C\") = lower($1::text COLLATE \"C\") \
             GROUP BY value ORDER BY n DESC, value LIMIT $2",
        )
        .bind(prefix)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(TagCount { tag: r.try_get("value").map_err(backend)?, count: r.try_get("n").map_err(backend)? })
            })
            .collect()
    }

    async fn query_incidents(&self, query: &IncidentQuery) -> StoreResult<QueryPage<Incident>> {
        let statement = query::incident_page(INCIDENT_COLUMNS, query)?;
        let mut rows = Vec::new();
        for (row, cursor) in query::rows(&self.pool, &statement, 5).await? {
            rows.push((incident_row(&row)?, cursor));
        }
        let mut page = QueryPage::from_rows(rows, query.top);
        page.items = self.with_incident_comments(page.items).await?;
        Ok(page)
    }

    async fn count_incidents(&self, query: &IncidentQuery) -> StoreResult<u64> {
        query::count(&self.pool, &query::incident_count(query)).await
    }

    async fn incident_facet_counts(&self, query: &IncidentQuery, limit: u32) -> StoreResult<FacetCounts> {
        query::incident_facet_counts(&self.pool, query, limit).await
    }

    async fn query_alerts(&self, query: &AlertQuery) -> StoreResult<QueryPage<StoredAlert>> {
        let statement = query::alert_page(ALERT_COLUMNS, query)?;
        let mut rows = Vec::new();
        for (row, cursor) in query::rows(&self.pool, &statement, 5).await? {
            rows.push((alert_row(&row)?, cursor));
        }
        let mut page = QueryPage::from_rows(rows, query.top);
        page.items = self.with_alert_comments(page.items).await?;
        Ok(page)
    }

    async fn count_alerts(&self, query: &AlertQuery) -> StoreResult<u64> {
        query::count(&self.pool, &query::alert_count(query)).await
    }
}
