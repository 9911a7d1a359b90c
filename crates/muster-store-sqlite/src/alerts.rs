//! Alert rows on SQLite: written in arrival order (`rid`), found by id and by entity key through
//! [`crate::deferred`].

use std::collections::HashSet;

use muster_core::entity::{key_hash, EntityKind};
use muster_core::ids::alert_id_hash;
use muster_core::store::columns::{alert_from_row, AlertColumns};
use muster_core::store::{BodyKind, PackedBody, StoreResult, StoredAlert};
use rusqlite::{params, Connection, Row};

use crate::deferred::{keys_from_blob, keys_to_blob, Additions};
use crate::{backend, optional, Shared};

pub(crate) const COLUMNS: &str = "rid, incident_id, pinned, codec, body";

/// An alert from a row selected with [`COLUMNS`]; comments not included.
pub(crate) fn from_row(conn: &Connection, shared: &Shared, row: &Row<'_>) -> StoreResult<StoredAlert> {
    let rid: i64 = row.get(0).map_err(backend)?;
    let incident: i64 = row.get(1).map_err(backend)?;
    let pinned: bool = row.get(2).map_err(backend)?;
    let codec: i64 = row.get(3).map_err(backend)?;
    let body: Vec<u8> = row.get(4).map_err(backend)?;
    alert_from_row(&shared.codec.decode(conn, codec, &body)?, incident, pinned, rid)
}

/// The rid and key hashes of the stored alert with this id, if any.
fn find(conn: &Connection, shared: &Shared, id: &str) -> StoreResult<Option<(i64, Vec<i64>)>> {
    for rid in candidates(conn, shared, alert_id_hash(id))? {
        let mut statement =
            conn.prepare_cached("SELECT keys FROM alerts WHERE rid = ?1 AND id = ?2").map_err(backend)?;
        if let Some(keys) = optional(statement.query_row(params![rid, id], |r| r.get::<_, Vec<u8>>(0)))? {
            return Ok(Some((rid, keys_from_blob(&keys))));
        }
    }
    Ok(None)
}

/// Rids whose alert id may hash to `hash`: the newest from memory, the rest from `alert_ids`.
fn candidates(conn: &Connection, shared: &Shared, hash: i64) -> StoreResult<Vec<i64>> {
    let mut rids = shared.deferred.rids_for_id(hash);
    if !shared.deferred.may_be_flushed(hash) {
        return Ok(rids);
    }
    let mut statement = conn.prepare_cached("SELECT rid FROM alert_ids WHERE id_hash = ?1").map_err(backend)?;
    for rid in statement.query_map([hash], |r| r.get::<_, i64>(0)).map_err(backend)? {
        rids.push(rid.map_err(backend)?);
    }
    rids.sort_unstable();
    rids.dedup();
    Ok(rids)
}

/// Upserts distinct alerts; what the deferred lookups must learn once the transaction commits
/// comes back.
pub(crate) fn write(tx: &Connection, shared: &Shared, alerts: Vec<AlertColumns>) -> StoreResult<Additions> {
    let mut additions = Additions::default();
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO alerts (id, id_hash, incident_id, service_source, status, severity_rank, assigned_to, \
             classification, determination, created_at, last_update_at, activity_at, pinned, keys, codec, body, \
             title) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .map_err(backend)?;
    let mut update = tx
        .prepare_cached(
            "UPDATE alerts SET incident_id = ?2, status = ?3, severity_rank = ?4, assigned_to = ?5, \
             classification = ?6, determination = ?7, last_update_at = ?8, activity_at = ?9, pinned = ?10, \
             keys = ?11, codec = ?12, body = ?13, title = ?14 WHERE rid = ?1",
        )
        .map_err(backend)?;
    let mut add_key =
        tx.prepare_cached("INSERT OR IGNORE INTO alert_entities (key_hash, rid) VALUES (?1, ?2)").map_err(backend)?;
    for mut c in alerts {
        // The caller says which alerts are new: those need no look-up.
        let existing = if c.new { None } else { find(tx, shared, &c.id)? };
        let keys = keys_to_blob(&c.key_hashes);
        let PackedBody { codec, bytes: body } = match c.packed.take() {
            Some(packed) => packed,
            None => shared.codec.encode(BodyKind::Alert, c.body.as_bytes())?,
        };
        match existing {
            None => {
                insert
                    .execute(params![
                        c.id,
                        c.id_hash,
                        c.incident_id,
                        c.service_source,
                        c.status,
                        c.severity_rank,
                        c.assigned_to,
                        c.classification,
                        c.determination,
                        c.created_at,
                        c.last_update_at,
                        c.activity_at,
                        c.pinned,
                        keys,
                        codec,
                        body,
                        c.title,
                    ])
                    .map_err(backend)?;
                additions.alerts.push((tx.last_insert_rowid(), c.id_hash, c.key_hashes));
            }
            Some((rid, old_keys)) => {
                update
                    .execute(params![
                        rid,
                        c.incident_id,
                        c.status,
                        c.severity_rank,
                        c.assigned_to,
                        c.classification,
                        c.determination,
                        c.last_update_at,
                        c.activity_at,
                        c.pinned,
                        keys,
                        codec,
                        body,
                        c.title,
                    ])
                    .map_err(backend)?;
                // Keys it lost stay in the lookups until the next flush; readers check them.
                let old: HashSet<i64> = old_keys.into_iter().collect();
                let (flushed, waiting): (Vec<i64>, Vec<i64>) = c
                    .key_hashes
                    .iter()
                    .copied()
                    .filter(|k| !old.contains(k))
                    .partition(|k| shared.deferred.is_flushed(rid, *k));
                for key in flushed {
                    add_key.execute(params![key, rid]).map_err(backend)?;
                }
                additions.alerts.push((rid, c.id_hash, waiting));
            }
        }
    }
    Ok(additions)
}

/// Moves every alert of one incident to another (a merge).
pub(crate) fn relink(tx: &Connection, from: i64, into: i64) -> StoreResult<()> {
    tx.prepare_cached("UPDATE alerts SET incident_id = ?2 WHERE incident_id = ?1")
        .and_then(|mut s| s.execute(params![from, into]))
        .map_err(backend)?;
    Ok(())
}

/// Alerts by id, in the order asked, skipping unknown ids; comments not included.
pub(crate) fn by_ids(conn: &Connection, shared: &Shared, ids: &[String]) -> StoreResult<Vec<StoredAlert>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((rid, _)) = find(conn, shared, id)? else { continue };
        let mut statement =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM alerts WHERE rid = ?1")).map_err(backend)?;
        let mut rows = statement.query([rid]).map_err(backend)?;
        if let Some(row) = rows.next().map_err(backend)? {
            out.push(from_row(conn, shared, row)?);
        }
    }
    Ok(out)
}

/// Which alerts a page lists.
pub(crate) enum Listing {
    All,
    OfIncident(i64),
}

/// A page of alerts newest activity first (ties by arrival, newest first), after a keyset position.
pub(crate) fn page(
    conn: &Connection,
    shared: &Shared,
    listing: Listing,
    after: Option<(i64, i64)>,
    limit: i64,
) -> StoreResult<Vec<StoredAlert>> {
    let (at, rid) = after.unwrap_or((i64::MAX, i64::MAX));
    let (filter, incident) = match listing {
        Listing::All => ("1 = ?4", 1),
        Listing::OfIncident(id) => ("incident_id = ?4", id),
    };
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE {filter} AND (activity_at, rid) < (?1, ?2) \
             ORDER BY activity_at DESC, rid DESC LIMIT ?3"
        ))
        .map_err(backend)?;
    let mut rows = statement.query(params![at, rid, limit, incident]).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(from_row(conn, shared, row)?);
    }
    Ok(out)
}

/// A page of the alerts whose evidence names an entity, newest activity first.
pub(crate) fn with_entity(
    conn: &Connection,
    shared: &Shared,
    kind: EntityKind,
    value: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> StoreResult<Vec<StoredAlert>> {
    let hash = key_hash(kind, value);
    let mut rids = shared.deferred.rids_for_key(hash);
    {
        let mut statement =
            conn.prepare_cached("SELECT rid FROM alert_entities WHERE key_hash = ?1").map_err(backend)?;
        for rid in statement.query_map([hash], |r| r.get::<_, i64>(0)).map_err(backend)? {
            rids.push(rid.map_err(backend)?);
        }
    }
    rids.sort_unstable();
    rids.dedup();
    // Each candidate's position, kept only if it still has the key (a re-sent alert may have lost it).
    let mut positions: Vec<(i64, i64)> = Vec::with_capacity(rids.len());
    let mut statement = conn.prepare_cached("SELECT activity_at, keys FROM alerts WHERE rid = ?1").map_err(backend)?;
    for rid in rids {
        let found = optional(statement.query_row([rid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))))?;
        if let Some((at, keys)) = found {
            if keys_from_blob(&keys).contains(&hash) {
                positions.push((at, rid));
            }
        }
    }
    positions.sort_unstable_by(|a, b| b.cmp(a));
    let chosen: Vec<i64> = positions
        .into_iter()
        .filter(|p| after.is_none_or(|a| *p < a))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|(_, rid)| rid)
        .collect();
    let mut out = Vec::with_capacity(chosen.len());
    let mut statement =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM alerts WHERE rid = ?1")).map_err(backend)?;
    for rid in chosen {
        let mut rows = statement.query([rid]).map_err(backend)?;
        if let Some(row) = rows.next().map_err(backend)? {
            out.push(from_row(conn, shared, row)?);
        }
    }
    Ok(out)
}

/// Every alert active at or after `since`, oldest first (the engine's reload at start-up).
pub(crate) fn since(conn: &Connection, shared: &Shared, since: i64) -> StoreResult<Vec<StoredAlert>> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM alerts WHERE activity_at >= ?1 ORDER BY activity_at, rid"))
        .map_err(backend)?;
    let mut rows = statement.query([since]).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(from_row(conn, shared, row)?);
    }
    Ok(out)
}

/// Whether an alert with this id is stored (for comments).
pub(crate) fn exists(conn: &Connection, shared: &Shared, id: &str) -> StoreResult<bool> {
    Ok(find(conn, shared, id)?.is_some())
}
