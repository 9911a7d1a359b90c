//! The comments-and-history log and the comments on incidents and alerts, on SQLite.

use std::collections::HashMap;

use muster_core::alert::AlertComment;
use muster_core::history::{Actor, ActorKind, HistoryEntry, HistoryFilter, HistoryKind, NewHistoryEntry};
use muster_core::store::{StoreError, StoreResult};
use muster_core::{IncidentId, Timestamp};
use rusqlite::{params, Connection, Row};
use serde_json::Value;

use crate::backend;

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

/// Appends entries in order.
pub(crate) fn append(tx: &Connection, entries: &[NewHistoryEntry]) -> StoreResult<()> {
    let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO history (incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(backend)?;
    for entry in entries {
        insert
            .execute(params![
                entry.incident_id.get(),
                entry.at.micros(),
                actor_kind_text(entry.actor.kind),
                entry.actor.name,
                entry.kind.as_str(),
                entry.field,
                json(&entry.old_value),
                json(&entry.new_value),
                entry.comment,
                entry.reason,
            ])
            .map_err(backend)?;
    }
    Ok(())
}

fn entry_row(row: &Row<'_>) -> StoreResult<HistoryEntry> {
    let json = |i: usize| -> StoreResult<Option<Value>> {
        let text: Option<String> = row.get(i).map_err(backend)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    };
    let actor_kind: String = row.get(3).map_err(backend)?;
    let kind: String = row.get(5).map_err(backend)?;
    Ok(HistoryEntry {
        id: row.get(0).map_err(backend)?,
        entry: NewHistoryEntry {
            incident_id: IncidentId::new(row.get(1).map_err(backend)?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            at: Timestamp::from_micros(row.get(2).map_err(backend)?),
            actor: Actor { kind: actor_kind_from(&actor_kind)?, name: row.get(4).map_err(backend)? },
            kind: kind.parse::<HistoryKind>().map_err(StoreError::Corrupt)?,
            field: row.get(6).map_err(backend)?,
            old_value: json(7)?,
            new_value: json(8)?,
            comment: row.get(9).map_err(backend)?,
            reason: row.get(10).map_err(backend)?,
        },
    })
}

/// An incident's entries, newest first.
pub(crate) fn read(conn: &Connection, id: IncidentId, filter: &HistoryFilter) -> StoreResult<Vec<HistoryEntry>> {
    let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
    let kinds_json = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into());
    let limit = i64::from(if filter.limit == 0 { 1000 } else { filter.limit.min(10_000) });
    let mut statement = conn
        .prepare_cached(
            "SELECT id, incident_id, at, actor_kind, actor, kind, field, old_value, new_value, comment, reason \
             FROM history WHERE incident_id = ?1 \
             AND (?2 = 0 OR kind IN (SELECT value FROM json_each(?3))) \
             AND (?4 IS NULL OR lower(actor) = lower(?4)) \
             AND id < ?5 ORDER BY id DESC LIMIT ?6",
        )
        .map_err(backend)?;
    let mut rows = statement
        .query(params![
            id.get(),
            kinds.len() as i64,
            kinds_json,
            filter.actor,
            filter.before_id.unwrap_or(i64::MAX),
            limit
        ])
        .map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(entry_row(row)?);
    }
    Ok(out)
}

fn comment_row(row: &Row<'_>) -> rusqlite::Result<AlertComment> {
    Ok(AlertComment {
        comment: row.get(0)?,
        created_by_display_name: row.get(1)?,
        created_date_time: Timestamp::from_micros(row.get(2)?),
    })
}

/// Comments on an incident, oldest first.
pub(crate) fn incident_comments(conn: &Connection, id: i64) -> StoreResult<Vec<AlertComment>> {
    let mut statement = conn
        .prepare_cached("SELECT comment, created_by, created_at FROM comments WHERE incident_id = ?1 ORDER BY id")
        .map_err(backend)?;
    let rows = statement.query_map([id], comment_row).map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

/// Comments on each of some alerts, oldest first.
pub(crate) fn alert_comments(conn: &Connection, ids: &[&str]) -> StoreResult<HashMap<String, Vec<AlertComment>>> {
    let mut statement = conn
        .prepare_cached("SELECT comment, created_by, created_at FROM comments WHERE alert_id = ?1 ORDER BY id")
        .map_err(backend)?;
    let mut out = HashMap::new();
    for id in ids {
        let rows = statement.query_map([id], comment_row).map_err(backend)?;
        let comments = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)?;
        if !comments.is_empty() {
            out.insert((*id).to_owned(), comments);
        }
    }
    Ok(out)
}

/// Adds a comment to an incident (`Some(id)`) or an alert.
pub(crate) fn add_comment(
    tx: &Connection,
    incident: Option<i64>,
    alert: Option<&str>,
    comment: &AlertComment,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO comments (incident_id, alert_id, comment, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![incident, alert, comment.comment, comment.created_by_display_name, comment.created_date_time.micros()],
    )
    .map_err(backend)?;
    Ok(())
}
