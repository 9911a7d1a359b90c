//! Facet counts: for the incidents a query selects, how many have each value of each queue
//! filter, so a filter panel can show what choosing a value would leave.
//!
//! Counting every match of a broad view (a month of a million-incident queue) costs a scan of
//! its facet rows, far past an interactive budget; so counts cover the newest `limit` matches
//! (the ones the queue shows first) and say when they stopped there.

use std::collections::HashMap;

use super::sql::{self, Dialect, Statement, Table};
use super::{Facet, IncidentQuery, Value};
use crate::enums::{AlertSeverity, GraphEnum};

/// A property the filter panel counts by: an incident column or a facet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    Status,
    Severity,
    Classification,
    Determination,
    /// Lower-cased logins; no value counts the unassigned.
    AssignedTo,
    Facet(Facet),
}

/// The facets a panel offers; impacted asset names are what search is for.
const COUNTED_FACETS: [Facet; 10] = [
    Facet::CustomTags,
    Facet::SystemTags,
    Facet::Categories,
    Facet::MitreTechniques,
    Facet::ServiceSources,
    Facet::DetectionSources,
    Facet::OsPlatforms,
    Facet::DeviceGroups,
    Facet::InvestigationStates,
    Facet::DataSensitivity,
];

/// Every other facet. The statement reads the rows of any facet but these (one comparison a row,
/// where a list of ten cost a lookup a row); a facet that is in neither list is left out when the
/// rows are tallied, as an unknown label.
const UNCOUNTED_FACETS: [Facet; 1] = [Facet::ImpactedAssets];

/// (label, column) of the incident columns counted; the label is how rows name them.
const COUNTED_COLUMNS: [(Counted, &str, &str); 5] = [
    (Counted::Status, "status", "status"),
    (Counted::Severity, "severity", "severity_rank"),
    (Counted::Classification, "classification", "classification"),
    (Counted::Determination, "determination", "determination"),
    (Counted::AssignedTo, "assignedTo", "assigned_to"),
];

impl Counted {
    /// Every property a panel counts, in the order it lists them.
    pub fn all() -> Vec<Self> {
        COUNTED_COLUMNS.iter().map(|c| c.0).chain(COUNTED_FACETS.iter().map(|f| Self::Facet(*f))).collect()
    }

    /// The Graph property it counts by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Facet(facet) => facet.name(),
            column => COUNTED_COLUMNS.iter().find(|c| c.0 == column).map_or("", |c| c.1),
        }
    }
}

/// How many of the counted incidents have one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCount {
    /// `None`: the property is unset (unassigned, not classified).
    pub value: Option<String>,
    pub count: u64,
}

/// Counts per value of each [`Counted`] property, most frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FacetCounts {
    /// How many matching incidents were counted: all of them unless `limit` were reached.
    pub counted: u64,
    pub limit: u64,
    pub properties: Vec<(Counted, Vec<ValueCount>)>,
}

impl FacetCounts {
    /// Whether every matching incident was counted.
    pub fn complete(&self) -> bool {
        self.counted < self.limit
    }

    /// Gathers `(label, value, count)` rows of [`statement`] (see [`Tally`]).
    pub fn from_rows(rows: impl IntoIterator<Item = (String, Option<String>, i64)>, limit: u32) -> Self {
        let mut tally = Tally::new();
        for (label, value, count) in rows {
            tally.add(&label, value.as_deref(), count);
        }
        tally.finish(limit)
    }

    /// The counts of one property.
    pub fn of(&self, property: Counted) -> &[ValueCount] {
        self.properties.iter().find(|(c, _)| *c == property).map_or(&[], |(_, v)| v.as_slice())
    }
}

/// Rows of [`statement`] summed as they are read, a row's text borrowed (only a value seen for
/// the first time is copied): a backend may leave the grouping to this. The row labelled `""` is
/// how many incidents were counted; unknown labels are skipped.
#[derive(Debug)]
pub struct Tally {
    counted: u64,
    properties: Vec<Counted>,
    /// Per property: its values' counts, and how many have it unset.
    values: Vec<(HashMap<String, u64>, u64)>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    pub fn new() -> Self {
        let properties = Counted::all();
        let values = vec![(HashMap::new(), 0); properties.len()];
        Self { counted: 0, properties, values }
    }

    pub fn add(&mut self, label: &str, value: Option<&str>, count: i64) {
        let count = u64::try_from(count).unwrap_or(0);
        if label.is_empty() {
            self.counted = count;
            return;
        }
        let Some(at) = self.properties.iter().position(|c| c.name() == label) else { return };
        let (values, unset) = &mut self.values[at];
        match value {
            None => *unset += count,
            Some(value) => match values.get_mut(value) {
                Some(sum) => *sum += count,
                None => {
                    values.insert(value.to_owned(), count);
                }
            },
        }
    }

    /// The counts, most frequent first (ties by value); severity ranks become their names.
    pub fn finish(self, limit: u32) -> FacetCounts {
        let properties = self
            .properties
            .into_iter()
            .zip(self.values)
            .map(|(property, (values, unset))| {
                let mut merged: HashMap<Option<String>, u64> = HashMap::new();
                for (value, count) in values {
                    let value = match property {
                        Counted::Severity => severity_of_rank(&value),
                        _ => Some(value),
                    };
                    *merged.entry(value).or_default() += count;
                }
                if unset > 0 {
                    *merged.entry(None).or_default() += unset;
                }
                let mut values: Vec<ValueCount> =
                    merged.into_iter().map(|(value, count)| ValueCount { value, count }).collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                (property, values)
            })
            .collect();
        FacetCounts { counted: self.counted, limit: u64::from(limit), properties }
    }
}

fn severity_of_rank(rank: &str) -> Option<String> {
    let rank: i64 = rank.parse().ok()?;
    AlertSeverity::ALL.iter().find(|s| s.rank() == rank).map(|s| s.as_str().to_owned())
}

/// The statement counting facet values over the newest `limit` incidents `query` selects (its
/// order, paging and cursor ignored): rows of `(label, value, count)` as text, text, integer.
pub fn statement(
    dialect: Dialect,
    table: &Table,
    fixed: &[&'static str],
    query: &IncidentQuery,
    limit: u32,
) -> Statement {
    let unordered = IncidentQuery { order: Vec::new(), after: None, skip: 0, ..query.clone() };
    let (mut b, conditions) = sql::where_clause(dialect, table, fixed, &unordered);
    let columns: String = COUNTED_COLUMNS.iter().map(|(_, _, column)| format!(", {column}")).collect();
    let limit = b.bind(Value::Int(i64::from(limit)));
    let key = table.tie_break;
    let mut parts = vec![format!("SELECT '', NULL, COUNT(*) FROM m")];
    for (_, label, column) in COUNTED_COLUMNS {
        // Labels and columns are this module's constants, never input.
        parts.push(format!("SELECT '{label}', CAST({column} AS TEXT), COUNT(*) FROM m GROUP BY {column}"));
    }
    let uncounted = b.bind_all(UNCOUNTED_FACETS.iter().map(|f| Value::Text(f.name().to_owned())));
    if let Some((facets, facet_key)) = table.facets {
        // Each counted incident's facet rows, found by its id. SQLite would rather read every row
        // of the counted facets and probe the matches: CROSS JOIN fixes the loop order, and `+`
        // keeps the facet name from choosing the index. SQLite groups by sorting, which costs
        // more than the join itself at tens of thousands of rows, so there each row counts one
        // and a `Tally` sums them.
        let (join, facet, count, group) = match dialect {
            Dialect::Sqlite => ("CROSS JOIN", "+f.facet", "1", ""),
            Dialect::Postgres => ("JOIN", "f.facet", "COUNT(*)", " GROUP BY f.facet, f.value"),
        };
        parts.push(format!(
            "SELECT f.facet, f.value, {count} FROM m {join} {facets} f ON f.{facet_key} = m.{key} \
             WHERE {facet} NOT IN ({uncounted}){group}"
        ));
    }
    // Materialised once, read by every grouping; newest first, as the queue pages.
    let sql = format!(
        "WITH m AS MATERIALIZED (SELECT {key}{columns} FROM {} WHERE {conditions} \
         ORDER BY last_activity_at DESC, {key} DESC LIMIT {limit}) {}",
        table.name,
        parts.join(" UNION ALL ")
    );
    b.finish(sql)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::query::{Comparison, Filter, IncidentField};

    const INCIDENTS: Table = Table::incidents(None);

    #[test]
    fn counts_the_newest_matches_with_bound_values() {
        let query = IncidentQuery {
            filter: Filter::Compare {
                field: IncidentField::AssignedTo,
                op: Comparison::Eq,
                value: Value::Text("x' OR 1=1 --".into()),
            },
            ..IncidentQuery::default()
        };
        let statement = statement(Dialect::Sqlite, &INCIDENTS, &["status <> 'redirected'"], &query, 500);
        assert!(!statement.sql.contains("OR 1=1"), "{}", statement.sql);
        assert!(statement.sql.contains("ORDER BY last_activity_at DESC, id DESC LIMIT ?2"), "{}", statement.sql);
        assert_eq!(statement.params[1], Value::Int(500));
        assert!(statement.sql.contains("+f.facet NOT IN (?3)"), "{}", statement.sql);
    }

    #[test]
    fn rows_become_summed_sorted_counts_with_severity_names() {
        let rows = vec![
            ("".to_owned(), None, 7),
            ("severity".to_owned(), Some(AlertSeverity::High.rank().to_string()), 2),
            ("severity".to_owned(), Some(AlertSeverity::Low.rank().to_string()), 5),
            ("assignedTo".to_owned(), None, 4),
            ("customTags".to_owned(), Some("ransomware".to_owned()), 1),
            ("customTags".to_owned(), Some("vip".to_owned()), 1),
            ("customTags".to_owned(), Some("ransomware".to_owned()), 1),
            ("unheardOf".to_owned(), Some("x".to_owned()), 1),
        ];
        let counts = FacetCounts::from_rows(rows, 10);
        assert_eq!(counts.counted, 7);
        assert!(counts.complete());
        assert_eq!(
            counts.of(Counted::Severity),
            [ValueCount { value: Some("low".into()), count: 5 }, ValueCount { value: Some("high".into()), count: 2 }]
        );
        assert_eq!(counts.of(Counted::AssignedTo), [ValueCount { value: None, count: 4 }]);
        assert_eq!(
            counts.of(Counted::Facet(Facet::CustomTags)),
            [
                ValueCount { value: Some("ransomware".into()), count: 2 },
                ValueCount { value: Some("vip".into()), count: 1 }
            ],
            "rows of one value are summed"
        );
        assert!(!FacetCounts::from_rows(vec![("".to_owned(), None, 10)], 10).complete());
    }
}
