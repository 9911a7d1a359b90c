//! Filtered, ordered, paged reads ([`muster_core::store::query`]) on SQLite.

use muster_core::incident::Incident;
use muster_core::store::query::counts::{self, FacetCounts, Tally};
use muster_core::store::query::sql::{self, Dialect, Statement, Table, TextIndex};
use muster_core::store::query::{AlertQuery, Cursor, IncidentQuery, Value};
use muster_core::store::{StoreError, StoreResult, StoredAlert};
use rusqlite::types::{FromSqlError, Value as SqlValue};
use rusqlite::{params_from_iter, Connection, Row};

use crate::{alerts, backend, incidents, Shared};

const INCIDENTS: Table = Table::incidents(Some(TextIndex::Fts5 { table: "incident_search" }));

/// Alerts break ties by arrival (`rid`); they have no facets.
const ALERTS: Table = Table::alerts("rid");

const NOT_REDIRECTED: &str = "status <> 'redirected'";

fn incident_conditions(query: &IncidentQuery) -> &'static [&'static str] {
    if query.includes_redirected() {
        &[]
    } else {
        &[NOT_REDIRECTED]
    }
}

fn bound(params: &[Value]) -> impl Iterator<Item = SqlValue> + '_ {
    params.iter().map(|v| match v {
        Value::Int(n) => SqlValue::Integer(*n),
        Value::Text(t) => SqlValue::Text(t.clone()),
    })
}

/// The sort-key values selected after the resource's `width` columns.
fn cursor_of(row: &Row<'_>, width: usize, key_is_text: &[bool]) -> StoreResult<Cursor> {
    let mut values = Vec::with_capacity(key_is_text.len());
    for (i, text) in key_is_text.iter().enumerate() {
        values.push(if *text {
            Value::Text(row.get(width + i).map_err(backend)?)
        } else {
            Value::Int(row.get(width + i).map_err(backend)?)
        });
    }
    Ok(Cursor(values))
}

/// Runs a page statement, reading each row with `item` and its cursor after `width` columns.
fn rows<T>(
    conn: &Connection,
    statement: &Statement,
    width: usize,
    mut item: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<(T, Cursor)>> {
    let mut prepared = conn.prepare_cached(&statement.sql).map_err(backend)?;
    let mut rows = prepared.query(params_from_iter(bound(&statement.params))).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push((item(row)?, cursor_of(row, width, &statement.key_is_text)?));
    }
    Ok(out)
}

fn count(conn: &Connection, statement: &Statement) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(&statement.sql)
        .and_then(|mut s| s.query_row(params_from_iter(bound(&statement.params)), |r| r.get(0)))
        .map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn incident_page(
    conn: &Connection,
    shared: &Shared,
    query: &IncidentQuery,
) -> StoreResult<Vec<(Incident, Cursor)>> {
    let statement = sql::page(Dialect::Sqlite, &INCIDENTS, incidents::COLUMNS, incident_conditions(query), query)
        .map_err(StoreError::Backend)?;
    rows(conn, &statement, 6, |row| incidents::from_row(conn, shared, row))
}

pub(crate) fn incident_count(conn: &Connection, query: &IncidentQuery) -> StoreResult<u64> {
    count(conn, &sql::count(Dialect::Sqlite, &INCIDENTS, incident_conditions(query), query))
}

pub(crate) fn incident_facet_counts(conn: &Connection, query: &IncidentQuery, limit: u32) -> StoreResult<FacetCounts> {
    let statement = counts::statement(Dialect::Sqlite, &INCIDENTS, incident_conditions(query), query, limit);
    let mut prepared = conn.prepare_cached(&statement.sql).map_err(backend)?;
    let mut rows = prepared.query(params_from_iter(bound(&statement.params))).map_err(backend)?;
    // Tens of thousands of ungrouped facet rows: summed as read, their text borrowed.
    let mut tally = Tally::new();
    let text = |e: FromSqlError| StoreError::Corrupt(format!("facet counts: {e}"));
    while let Some(row) = rows.next().map_err(backend)? {
        let label = row.get_ref(0).map_err(backend)?.as_str().map_err(text)?;
        let value = row.get_ref(1).map_err(backend)?.as_str_or_null().map_err(text)?;
        tally.add(label, value, row.get(2).map_err(backend)?);
    }
    Ok(tally.finish(limit))
}

pub(crate) fn alert_page(
    conn: &Connection,
    shared: &Shared,
    query: &AlertQuery,
) -> StoreResult<Vec<(StoredAlert, Cursor)>> {
    let statement = sql::page(Dialect::Sqlite, &ALERTS, alerts::COLUMNS, &[], query).map_err(StoreError::Backend)?;
    rows(conn, &statement, 5, |row| alerts::from_row(conn, shared, row))
}

pub(crate) fn alert_count(conn: &Connection, query: &AlertQuery) -> StoreResult<u64> {
    count(conn, &sql::count(Dialect::Sqlite, &ALERTS, &[], query))
}
