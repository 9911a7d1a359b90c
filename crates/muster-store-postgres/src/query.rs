//! Filtered, ordered, paged reads ([`muster_core::store::query`]) on PostgreSQL.

use muster_core::store::query::counts::{self, FacetCounts};
use muster_core::store::query::sql::{self, Dialect, Statement, Table, TextIndex};
use muster_core::store::query::{AlertQuery, Cursor, IncidentQuery, Value};
use muster_core::store::{StoreError, StoreResult};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgPool, Postgres, Row};

use crate::backend;

pub(crate) const INCIDENTS: Table = Table::incidents(Some(TextIndex::Trigram { column: "search_text" }));

/// Alerts break ties by arrival (`seq`); they have no facets.
pub(crate) const ALERTS: Table = Table::alerts("seq");

const NOT_REDIRECTED: &str = "status <> 'redirected'";

pub(crate) fn incident_conditions(query: &IncidentQuery) -> &'static [&'static str] {
    if query.includes_redirected() {
        &[]
    } else {
        &[NOT_REDIRECTED]
    }
}

fn bind_all<'q>(statement: &'q Statement) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    let mut query = sqlx::query(&statement.sql);
    for value in &statement.params {
        query = match value {
            Value::Int(n) => query.bind(*n),
            Value::Text(t) => query.bind(t.as_str()),
        };
    }
    query
}

/// The sort-key values selected after the resource's `width` columns.
fn cursor_of(row: &PgRow, width: usize, key_is_text: &[bool]) -> StoreResult<Cursor> {
    let mut values = Vec::with_capacity(key_is_text.len());
    for (i, text) in key_is_text.iter().enumerate() {
        values.push(if *text {
            Value::Text(row.try_get(width + i).map_err(backend)?)
        } else {
            Value::Int(row.try_get(width + i).map_err(backend)?)
        });
    }
    Ok(Cursor(values))
}

/// Runs a page statement; each row with its cursor (read after `width` columns).
pub(crate) async fn rows(pool: &PgPool, statement: &Statement, width: usize) -> StoreResult<Vec<(PgRow, Cursor)>> {
    let rows = bind_all(statement).fetch_all(pool).await.map_err(backend)?;
    rows.into_iter()
        .map(|row| {
            let cursor = cursor_of(&row, width, &statement.key_is_text)?;
            Ok((row, cursor))
        })
        .collect()
}

pub(crate) async fn count(pool: &PgPool, statement: &Statement) -> StoreResult<u64> {
    let row = bind_all(statement).fetch_one(pool).await.map_err(backend)?;
    let n: i64 = row.try_get(0).map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn incident_page(columns: &str, query: &IncidentQuery) -> StoreResult<Statement> {
    sql::page(Dialect::Postgres, &INCIDENTS, columns, incident_conditions(query), query).map_err(StoreError::Backend)
}

pub(crate) fn incident_count(query: &IncidentQuery) -> Statement {
    sql::count(Dialect::Postgres, &INCIDENTS, incident_conditions(query), query)
}

pub(crate) async fn incident_facet_counts(
    pool: &PgPool,
    query: &IncidentQuery,
    limit: u32,
) -> StoreResult<FacetCounts> {
    let statement = counts::statement(Dialect::Postgres, &INCIDENTS, incident_conditions(query), query, limit);
    let rows = bind_all(&statement).fetch_all(pool).await.map_err(backend)?;
    let rows = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect::<Result<Vec<(String, Option<String>, i64)>, sqlx::Error>>()
        .map_err(backend)?;
    Ok(FacetCounts::from_rows(rows, limit))
}

pub(crate) fn alert_page(columns: &str, query: &AlertQuery) -> StoreResult<Statement> {
    sql::page(Dialect::Postgres, &ALERTS, columns, &[], query).map_err(StoreError::Backend)
}

pub(crate) fn alert_count(query: &AlertQuery) -> Statement {
    sql::count(Dialect::Postgres, &ALERTS, &[], query)
}
