//! Incident rows and their facets on SQLite.

use std::collections::HashMap;

use muster_core::incident::{Incident, IncidentMeta};
use muster_core::store::columns::{incident_from_row, IncidentColumns};
use muster_core::store::{BodyKind, PackedBody, StoreError, StoreResult};
use muster_core::IncidentId;
use rusqlite::{params, Connection, Row};

use crate::{backend, optional, Shared};

pub(crate) const COLUMNS: &str = "id, version, name_locked, severity_locked, codec, body";

/// An incident from a row selected with [`COLUMNS`].
pub(crate) fn from_row(conn: &Connection, shared: &Shared, row: &Row<'_>) -> StoreResult<Incident> {
    let meta = IncidentMeta {
        version: row.get(1).map_err(backend)?,
        name_locked: row.get(2).map_err(backend)?,
        severity_locked: row.get(3).map_err(backend)?,
        rollup: Default::default(),
    };
    let codec: i64 = row.get(4).map_err(backend)?;
    let body: Vec<u8> = row.get(5).map_err(backend)?;
    incident_from_row(&shared.codec.decode(conn, codec, &body)?, meta)
}

/// A hash of an incident's facet rows and search text: they are rewritten only when it changes.
fn facets_hash(c: &IncidentColumns) -> i64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (facet, value) in &c.facets {
        hasher.update(facet.as_bytes());
        hasher.update(&[0x1f]);
        hasher.update(value.as_bytes());
        hasher.update(&[0x1e]);
    }
    hasher.update(c.search_text.as_bytes());
    hasher.digest() as i64
}

/// Upserts incidents after checking each builds on the stored version (a repeated incident on the
/// copy before it), and rewrites the facets of those whose facets changed.
pub(crate) fn write(tx: &Connection, shared: &Shared, incidents: Vec<IncidentColumns>) -> StoreResult<()> {
    // The version and facets each incident has now, counting earlier copies in this batch.
    let mut seen: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut stored = tx.prepare_cached("SELECT version, facets_hash FROM incidents WHERE id = ?1").map_err(backend)?;
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO incidents (id, version, status, severity_rank, display_name, assigned_to, classification, \
             determination, created_at, last_update_at, first_activity_at, last_activity_at, alert_count, \
             active_alert_count, service_source_count, category_count, redirect_incident_id, name_locked, \
             severity_locked, facets_hash, codec, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, status = excluded.status, \
             severity_rank = excluded.severity_rank, display_name = excluded.display_name, \
             assigned_to = excluded.assigned_to, classification = excluded.classification, \
             determination = excluded.determination, last_update_at = excluded.last_update_at, \
             first_activity_at = excluded.first_activity_at, last_activity_at = excluded.last_activity_at, \
             alert_count = excluded.alert_count, active_alert_count = excluded.active_alert_count, \
             service_source_count = excluded.service_source_count, category_count = excluded.category_count, \
             redirect_incident_id = excluded.redirect_incident_id, name_locked = excluded.name_locked, \
             severity_locked = excluded.severity_locked, facets_hash = excluded.facets_hash, \
             codec = excluded.codec, body = excluded.body",
        )
        .map_err(backend)?;
    let mut clear = tx.prepare_cached("DELETE FROM incident_facets WHERE incident_id = ?1").map_err(backend)?;
    let mut add = tx
        .prepare_cached("INSERT OR IGNORE INTO incident_facets (facet, value, incident_id) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    let mut unsearchable = tx.prepare_cached("DELETE FROM incident_search WHERE rowid = ?1").map_err(backend)?;
    let mut searchable =
        tx.prepare_cached("INSERT INTO incident_search (rowid, text) VALUES (?1, ?2)").map_err(backend)?;
    for mut c in incidents {
        let (current, old_facets) = match seen.get(&c.id) {
            Some(known) => *known,
            None => optional(stored.query_row([c.id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))))?
                .unwrap_or((0, 0)),
        };
        if current != c.builds_on {
            let id = IncidentId::new(c.id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Err(StoreError::VersionMismatch { id, current });
        }
        let facets = facets_hash(&c);
        let PackedBody { codec, bytes: body } = match c.packed.take() {
            Some(packed) => packed,
            None => shared.codec.encode(BodyKind::Incident, c.body.as_bytes())?,
        };
        upsert
            .execute(params![
                c.id,
                c.version,
                c.status,
                c.severity_rank,
                c.display_name,
                c.assigned_to,
                c.classification,
                c.determination,
                c.created_at,
                c.last_update_at,
                c.first_activity_at,
                c.last_activity_at,
                c.alert_count,
                c.active_alert_count,
                c.service_source_count,
                c.category_count,
                c.redirect_incident_id,
                c.name_locked,
                c.severity_locked,
                facets,
                codec,
                body,
            ])
            .map_err(backend)?;
        if facets != old_facets || current == 0 {
            clear.execute([c.id]).map_err(backend)?;
            for (facet, value) in &c.facets {
                add.execute(params![facet, value, c.id]).map_err(backend)?;
            }
            if current != 0 {
                unsearchable.execute([c.id]).map_err(backend)?;
            }
            searchable.execute(params![c.id, c.search_text]).map_err(backend)?;
        }
        seen.insert(c.id, (c.version, facets));
    }
    Ok(())
}

/// Incidents by id, in the order asked, skipping unknown ids; comments not included.
pub(crate) fn by_ids(conn: &Connection, shared: &Shared, ids: &[IncidentId]) -> StoreResult<Vec<Incident>> {
    let mut statement =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1")).map_err(backend)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = statement.query([id.get()]).map_err(backend)?;
        if let Some(row) = rows.next().map_err(backend)? {
            out.push(from_row(conn, shared, row)?);
        }
    }
    Ok(out)
}

/// Incidents newest activity first, redirected ones left out, after a keyset position.
pub(crate) fn page(
    conn: &Connection,
    shared: &Shared,
    after: Option<(i64, i64)>,
    limit: i64,
) -> StoreResult<Vec<Incident>> {
    let (at, id) = after.unwrap_or((i64::MAX, i64::MAX));
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE (last_activity_at, id) < (?1, ?2) AND status <> 'redirected' \
             ORDER BY last_activity_at DESC, id DESC LIMIT ?3"
        ))
        .map_err(backend)?;
    let mut rows = statement.query(params![at, id, limit]).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(from_row(conn, shared, row)?);
    }
    Ok(out)
}
