//! [`Query`] as SQL for either backend: the statement text comes only from the fixed column
//! tables in [`super::fields`] and from constants here; every value a client sent is a bound
//! parameter, in the order of [`Statement::params`].

use super::{Comparison, Cursor, FacetValues, Filter, Query, QueryField, SearchTerm, SortKey, TextMatch, Value};
use crate::store::query::{Column, Facet};

/// Which placeholders to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `?1, ?2, ...`
    Sqlite,
    /// `$1, $2, ...`
    Postgres,
}

/// The table a resource lives in, as a backend names it.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// The unique whole-number column that breaks ties (`id` for incidents; the alert's arrival
    /// number, `rid` on SQLite and `seq` on PostgreSQL).
    pub tie_break: &'static str,
    /// The facet table and its key column, for resources with multi-valued properties.
    pub facets: Option<(&'static str, &'static str)>,
    /// What `$search` looks in.
    pub search: SearchColumns,
}

impl Table {
    /// The incidents table both backends keep: ties broken by id, multi-valued properties in
    /// `incident_facets`, search over the name, the id and impacted asset names, through `index`.
    pub const fn incidents(index: Option<TextIndex>) -> Self {
        Self {
            name: "incidents",
            tie_break: "id",
            facets: Some(("incident_facets", "incident_id")),
            search: SearchColumns {
                text: &["display_name"],
                id: ("id", true),
                facet: Some(Facet::ImpactedAssets),
                index,
            },
        }
    }

    /// The alerts table, ties broken by the backend's arrival column; alerts have no facets.
    pub const fn alerts(tie_break: &'static str) -> Self {
        Self {
            name: "alerts",
            tie_break,
            facets: None,
            search: SearchColumns { text: &["title"], id: ("id", false), facet: None, index: None },
        }
    }
}

/// Where `$search` terms are looked for: a term matches when it is part of one of the text
/// columns, equals the id, or is part of a value of the facet.
#[derive(Debug, Clone, Copy)]
pub struct SearchColumns {
    pub text: &'static [&'static str],
    /// The id column and whether it holds whole numbers (a non-numeric term then cannot match).
    pub id: (&'static str, bool),
    pub facet: Option<Facet>,
    /// An index over the text columns and the facet's values together, for terms of
    /// [`INDEXED_TERM`] characters or more.
    pub index: Option<TextIndex>,
}

/// A trigram index finding a fragment of the searched text without reading every row.
#[derive(Debug, Clone, Copy)]
pub enum TextIndex {
    /// An FTS5 table with the trigram tokenizer, its row ids the rows' tie-break.
    Fts5 { table: &'static str },
    /// A lower-cased text column under a pg_trgm index.
    Trigram { column: &'static str },
}

/// The shortest term a trigram index can find.
pub const INDEXED_TERM: usize = 3;

/// A statement ready to prepare: its text and its parameters in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
    /// For a page: whether each sort key (selected after the resource's columns, in order) is
    /// text, so the backend can read back each row's [`Cursor`].
    pub key_is_text: Vec<bool>,
}

pub(super) struct Builder {
    dialect: Dialect,
    params: Vec<Value>,
    /// For a page: the column its order leads with.
    order_lead: Option<&'static str>,
}

impl Builder {
    /// How a filter names a column. SQLite plans without statistics, so it would gather every row
    /// of a coarse value through that column's index and sort them all; a unary `+` keeps the
    /// index out of the plan, and the page walks its order's index instead, stopping at `top`.
    fn column(&self, column: &Column) -> String {
        let walk_order = self.order_lead.is_some_and(|lead| lead != column.name);
        if self.dialect == Dialect::Sqlite && column.coarse && walk_order {
            format!("+{}", column.name)
        } else {
            column.name.to_owned()
        }
    }

    pub(super) fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    pub(super) fn bind_all(&mut self, values: impl IntoIterator<Item = Value>) -> String {
        values.into_iter().map(|v| self.bind(v)).collect::<Vec<_>>().join(", ")
    }

    /// A statement with no sort keys to read back.
    pub(super) fn finish(self, sql: String) -> Statement {
        Statement { sql, params: self.params, key_is_text: Vec::new() }
    }
}

/// `%`, `_` and the escape character itself match literally in a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(fragment: &str, how: TextMatch) -> String {
    let mut escaped = String::with_capacity(fragment.len() + 2);
    for ch in fragment.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    match how {
        TextMatch::Contains => format!("%{escaped}%"),
        TextMatch::StartsWith => format!("{escaped}%"),
        TextMatch::EndsWith => format!("%{escaped}"),
    }
}

fn operator(op: Comparison) -> &'static str {
    match op {
        Comparison::Eq => "=",
        Comparison::Ne => "<>",
        Comparison::Gt => ">",
        Comparison::Ge => ">=",
        Comparison::Lt => "<",
        Comparison::Le => "<=",
    }
}

fn filter_sql<F: QueryField>(b: &mut Builder, table: &Table, filter: &Filter<F>) -> String {
    match filter {
        Filter::True => "1 = 1".into(),
        Filter::And(items) if items.is_empty() => "1 = 1".into(),
        Filter::Or(items) if items.is_empty() => "1 = 0".into(),
        Filter::And(items) => {
            format!("({})", items.iter().map(|f| filter_sql(b, table, f)).collect::<Vec<_>>().join(" AND "))
        }
        Filter::Or(items) => {
            format!("({})", items.iter().map(|f| filter_sql(b, table, f)).collect::<Vec<_>>().join(" OR "))
        }
        Filter::Not(inner) => format!("NOT ({})", filter_sql(b, table, inner)),
        Filter::Compare { field, op, value } => {
            let column = field.column();
            let placeholder = b.bind(value.clone());
            let test = format!("{} {} {placeholder}", b.column(&column), operator(*op));
            // Two-valued over nulls: a null differs from every value and orders with none.
            match (column.nullable, op) {
                (false, _) => test,
                (true, Comparison::Ne) => format!("({} IS NULL OR {test})", column.name),
                (true, _) => format!("({} IS NOT NULL AND {test})", column.name),
            }
        }
        Filter::In { field, values } if values.is_empty() => {
            let _ = field;
            "1 = 0".into()
        }
        Filter::In { field, values } => {
            let column = field.column();
            let list = b.bind_all(values.iter().cloned());
            if column.nullable {
                format!("({0} IS NOT NULL AND {0} IN ({list}))", column.name)
            } else {
                format!("{} IN ({list})", b.column(&column))
            }
        }
        Filter::IsNull { field } => format!("{} IS NULL", field.column().name),
        Filter::Text { field, how, fragment } => {
            let column = field.column();
            // Lower-cased columns already hold what `to_lowercase` gives; others are compared
            // ASCII-insensitively, as both databases' `lower()` does.
            let (subject, lowered) = if column.lowered {
                (column.name.to_owned(), fragment.to_lowercase())
            } else {
                (format!("lower({})", column.name), fragment.to_ascii_lowercase())
            };
            let placeholder = b.bind(Value::Text(like_pattern(&lowered, *how)));
            let test = format!("{subject} LIKE {placeholder} ESCAPE '\\'");
            if column.nullable {
                format!("({} IS NOT NULL AND {test})", column.name)
            } else {
                test
            }
        }
        Filter::Facet { facet, values } => facet_sql(b, table, *facet, values),
    }
}

fn facet_sql(b: &mut Builder, table: &Table, facet: Facet, values: &FacetValues) -> String {
    let Some((facets, key)) = table.facets else { return "1 = 0".into() };
    if let FacetValues::In(list) | FacetValues::InAnyCase(list) = values {
        if list.is_empty() {
            return "1 = 0".into();
        }
    }
    let name = b.bind(Value::Text(facet.name().to_owned()));
    let condition = match values {
        FacetValues::Any => String::new(),
        FacetValues::In(list) => format!(" AND f.value IN ({})", b.bind_all(list.iter().cloned().map(Value::Text))),
        FacetValues::InAnyCase(list) => {
            format!(" AND lower(f.value) IN ({})", b.bind_all(list.iter().map(|v| Value::Text(v.to_ascii_lowercase()))))
        }
        FacetValues::NotIn(list) if list.is_empty() => String::new(),
        FacetValues::NotIn(list) => {
            format!(" AND f.value NOT IN ({})", b.bind_all(list.iter().cloned().map(Value::Text)))
        }
    };
    format!(
        "EXISTS (SELECT 1 FROM {facets} f WHERE f.{key} = {}.{} AND f.facet = {name}{condition})",
        table.name, table.tie_break
    )
}

/// The longest run of letters and digits in a fragment, when it is long enough for a trigram index
/// and shorter than the fragment. A trigram index finds a fragment by all of its trigrams, and a
/// common one (the `ws-` of a thousand hosts) costs a read of most rows; the run's trigrams are
/// the rarer ones, so the index looks for the run and the whole fragment is checked only in the
/// rows that hold it. The matches are the fragment's either way.
fn lead_run(lowered: &str) -> Option<&str> {
    lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|run| run.chars().count() >= INDEXED_TERM)
        .max_by_key(|run| run.chars().count())
        .filter(|run| run.len() < lowered.len())
}

/// The FTS5 query matching `lowered` as a fragment: its trigrams as one phrase, led by its
/// [`lead_run`] (`"01234" AND "ws-01234"`) when it has one.
fn fts5_fragment(lowered: &str) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    match lead_run(lowered) {
        Some(run) => format!("{} AND {}", quote(run), quote(lowered)),
        None => quote(lowered),
    }
}

/// One search term: in a text column, the id, or a facet value; negated terms must match none.
fn search_sql(b: &mut Builder, table: &Table, term: &SearchTerm) -> String {
    let lowered = term.text.to_lowercase();
    let mut alternatives = Vec::new();
    let index = table.search.index.filter(|_| lowered.chars().count() >= INDEXED_TERM);
    match index {
        // The fragment, anywhere in the name or an asset's name.
        Some(TextIndex::Fts5 { table: fts }) => {
            let phrase = b.bind(Value::Text(fts5_fragment(&lowered)));
            alternatives.push(format!(
                "{}.{} IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {phrase})",
                table.name, table.tie_break
            ));
        }
        Some(TextIndex::Trigram { column }) => match lead_run(&lowered) {
            // The index finds the run; `strpos`, which it cannot serve, checks the whole fragment.
            Some(run) => {
                let pattern = b.bind(Value::Text(like_pattern(run, TextMatch::Contains)));
                let fragment = b.bind(Value::Text(lowered.clone()));
                alternatives
                    .push(format!("({column} LIKE {pattern} ESCAPE '\\' AND strpos({column}, {fragment}) > 0)"));
            }
            None => {
                let pattern = b.bind(Value::Text(like_pattern(&lowered, TextMatch::Contains)));
                alternatives.push(format!("{column} LIKE {pattern} ESCAPE '\\'"));
            }
        },
        None => {}
    }
    for column in table.search.text.iter().filter(|_| index.is_none()) {
        let pattern = b.bind(Value::Text(like_pattern(&term.text.to_ascii_lowercase(), TextMatch::Contains)));
        alternatives.push(format!("lower({column}) LIKE {pattern} ESCAPE '\\'"));
    }
    let (id, numeric) = table.search.id;
    if numeric {
        if let Ok(n) = term.text.parse::<i64>() {
            alternatives.push(format!("{id} = {}", b.bind(Value::Int(n))));
        }
    } else {
        alternatives.push(format!("{id} = {}", b.bind(Value::Text(term.text.clone()))));
    }
    if let (Some(facet), Some((facets, key)), None) = (table.search.facet, table.facets, index) {
        let name = b.bind(Value::Text(facet.name().to_owned()));
        let pattern = b.bind(Value::Text(like_pattern(&lowered, TextMatch::Contains)));
        alternatives.push(format!(
            "EXISTS (SELECT 1 FROM {facets} f WHERE f.{key} = {}.{} AND f.facet = {name} \
             AND f.value LIKE {pattern} ESCAPE '\\')",
            table.name, table.tie_break
        ));
    }
    let any = format!("({})", alternatives.join(" OR "));
    if term.negated {
        format!("NOT {any}")
    } else {
        any
    }
}

/// A sort key as an expression that is never null, so keyset comparisons stay two-valued:
/// ranked enums by rank (unset first), nullable numbers with a floor, nullable text as ''.
fn key_expr<F: QueryField>(table: &Table, key: SortKey<F>) -> String {
    let SortKey::Field(field) = key else { return table.tie_break.to_owned() };
    let column = field.column();
    if let Some(ranks) = column.ranks {
        // The members are this crate's own enum spellings, never input.
        let arms: String =
            ranks().iter().enumerate().map(|(rank, member)| format!(" WHEN '{member}' THEN {rank}")).collect();
        return format!("CAST(CASE {}{arms} ELSE -1 END AS BIGINT)", column.name);
    }
    match (column.nullable, column.text) {
        (false, _) => column.name.to_owned(),
        (true, true) => format!("COALESCE({}, '')", column.name),
        (true, false) => format!("COALESCE({}, -9223372036854775807)", column.name),
    }
}

/// Rows strictly after `cursor` in the order of `keys`.
fn after_sql(b: &mut Builder, keys: &[(String, bool)], cursor: &Cursor) -> String {
    let all_same = keys.iter().all(|k| k.1 == keys[0].1);
    if all_same {
        // One row-value comparison: what the (activity, id) indexes serve directly.
        let op = if keys[0].1 { "<" } else { ">" };
        let left = keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>().join(", ");
        let right = b.bind_all(cursor.0.iter().cloned());
        return format!("({left}) {op} ({right})");
    }
    // Mixed directions: equal on the keys before, strictly past on this one, for some key.
    let mut alternatives = Vec::new();
    for (i, (expr, descending)) in keys.iter().enumerate() {
        let mut parts = Vec::new();
        for (j, (before, _)) in keys[..i].iter().enumerate() {
            parts.push(format!("{before} = {}", b.bind(cursor.0[j].clone())));
        }
        let op = if *descending { "<" } else { ">" };
        parts.push(format!("{expr} {op} {}", b.bind(cursor.0[i].clone())));
        alternatives.push(format!("({})", parts.join(" AND ")));
    }
    format!("({})", alternatives.join(" OR "))
}

/// The WHERE clause shared by pages and counts: the fixed conditions, the filter, the search.
fn where_sql<F: QueryField>(b: &mut Builder, table: &Table, fixed: &[&'static str], query: &Query<F>) -> String {
    let mut conditions: Vec<String> = fixed.iter().map(|c| (*c).to_owned()).collect();
    if query.filter != Filter::True {
        conditions.push(filter_sql(b, table, &query.filter));
    }
    for term in &query.search {
        conditions.push(search_sql(b, table, term));
    }
    if conditions.is_empty() {
        "1 = 1".into()
    } else {
        conditions.join(" AND ")
    }
}

/// A page: `SELECT {columns}, {sort keys} FROM {table} WHERE ... ORDER BY ... LIMIT top + 1`,
/// one extra row telling whether another page follows. `fixed` conditions are the backend's own
/// constants. A cursor that does not fit the order is refused.
pub fn page<F: QueryField>(
    dialect: Dialect,
    table: &Table,
    columns: &str,
    fixed: &[&'static str],
    query: &Query<F>,
) -> Result<Statement, String> {
    let sort_keys = query.sort_keys();
    let order_lead = Some(match sort_keys[0].0 {
        SortKey::Field(field) => field.column().name,
        SortKey::TieBreak => table.tie_break,
    });
    let mut b = Builder { dialect, params: Vec::new(), order_lead };
    let mut conditions = vec![where_sql(&mut b, table, fixed, query)];
    let keys: Vec<(String, bool)> = sort_keys.iter().map(|(k, d)| (key_expr(table, *k), *d)).collect();
    if let Some(cursor) = &query.after {
        if !query.cursor_fits(cursor) {
            return Err("the cursor does not fit this order".into());
        }
        conditions.push(after_sql(&mut b, &keys, cursor));
    }
    let selected = keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>().join(", ");
    let order = keys
        .iter()
        .map(|(expr, descending)| format!("{expr} {}", if *descending { "DESC" } else { "ASC" }))
        .collect::<Vec<_>>()
        .join(", ");
    let limit = b.bind(Value::Int(i64::from(query.top) + 1));
    let offset = b.bind(Value::Int(i64::try_from(query.skip).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {columns}, {selected} FROM {} WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        table.name,
        conditions.join(" AND ")
    );
    let key_is_text = sort_keys
        .iter()
        .map(|(k, _)| match k {
            SortKey::Field(f) => f.column().sorts_as_text(),
            SortKey::TieBreak => false,
        })
        .collect();
    Ok(Statement { sql, params: b.params, key_is_text })
}

/// The WHERE clause of `query` (its order, paging and cursor ignored) with the builder holding
/// its parameters, for statements that add their own.
pub(super) fn where_clause<F: QueryField>(
    dialect: Dialect,
    table: &Table,
    fixed: &[&'static str],
    query: &Query<F>,
) -> (Builder, String) {
    let mut b = Builder { dialect, params: Vec::new(), order_lead: None };
    let conditions = where_sql(&mut b, table, fixed, query);
    (b, conditions)
}

/// How many rows match (order, paging and cursor ignored).
pub fn count<F: QueryField>(dialect: Dialect, table: &Table, fixed: &[&'static str], query: &Query<F>) -> Statement {
    let (b, conditions) = where_clause(dialect, table, fixed, query);
    b.finish(format!("SELECT COUNT(*) FROM {} WHERE {conditions}", table.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::query::{IncidentField, OrderKey};

    const INCIDENTS: Table = Table::incidents(None);

    #[test]
    fn long_terms_use_the_text_index() {
        let search = |text: &str| Query::<IncidentField> {
            search: vec![SearchTerm { text: text.into(), negated: false }],
            ..Query::default()
        };
        let mut table = INCIDENTS;
        table.search.index = Some(TextIndex::Fts5 { table: "incident_search" });
        let long = page(Dialect::Sqlite, &table, "id", &[], &search("WS-01\"x")).unwrap();
        assert!(
            long.sql.contains("incidents.id IN (SELECT rowid FROM incident_search WHERE incident_search MATCH ?1)"),
            "{}",
            long.sql
        );
        assert_eq!(long.params[0], Value::Text("\"ws-01\"\"x\"".into()));
        let led = page(Dialect::Sqlite, &table, "id", &[], &search("WS-01234")).unwrap();
        assert_eq!(led.params[0], Value::Text("\"01234\" AND \"ws-01234\"".into()), "the longest run leads");
        assert_eq!(fts5_fragment("contoso"), "\"contoso\"");
        assert!(!long.sql.contains("display_name"), "{}", long.sql);
        let short = page(Dialect::Sqlite, &table, "id", &[], &search("ws")).unwrap();
        assert!(short.sql.contains("lower(display_name) LIKE"), "{}", short.sql);
        table.search.index = Some(TextIndex::Trigram { column: "search_text" });
        let long = page(Dialect::Postgres, &table, "id", &[], &search("Ws-01")).unwrap();
        assert!(long.sql.contains("search_text LIKE $1"), "{}", long.sql);
        assert_eq!(long.params[0], Value::Text("%ws-01%".into()));
        let led = page(Dialect::Postgres, &table, "id", &[], &search("WS-01234")).unwrap();
        assert!(led.sql.contains("(search_text LIKE $1 ESCAPE '\\' AND strpos(search_text, $2) > 0)"), "{}", led.sql);
        assert_eq!(led.params[..2], [Value::Text("%01234%".into()), Value::Text("ws-01234".into())]);
    }

    #[test]
    fn values_are_bound_never_written() {
        let query = Query {
            filter: Filter::And(vec![
                Filter::Compare {
                    field: IncidentField::AssignedTo,
                    op: Comparison::Ne,
                    value: Value::Text("x'; DROP TABLE incidents; --".into()),
                },
                Filter::Facet { facet: Facet::CustomTags, values: FacetValues::In(vec!["a".into()]) },
            ]),
            search: vec![SearchTerm { text: "50%".into(), negated: false }],
            ..Query::default()
        };
        let statement = page(Dialect::Postgres, &INCIDENTS, "id", &["status <> 'redirected'"], &query).unwrap();
        assert!(!statement.sql.contains("DROP"), "{}", statement.sql);
        assert!(statement.sql.contains("(assigned_to IS NULL OR assigned_to <> $1)"), "{}", statement.sql);
        assert!(statement.params.contains(&Value::Text("%50\\%%".into())));
        assert_eq!(statement.params.last(), Some(&Value::Int(0)));
    }

    #[test]
    fn mixed_directions_page_with_an_expanded_keyset() {
        let query = Query {
            order: vec![
                OrderKey { field: IncidentField::Severity, descending: true },
                OrderKey { field: IncidentField::DisplayName, descending: false },
            ],
            after: Some(Cursor(vec![Value::Int(4), Value::Text("n".into()), Value::Int(7)])),
            ..Query::<IncidentField>::default()
        };
        let statement = page(Dialect::Sqlite, &INCIDENTS, "id", &[], &query).unwrap();
        assert!(statement.sql.contains("severity_rank < ?1"), "{}", statement.sql);
        assert!(statement.sql.contains("ORDER BY severity_rank DESC, display_name ASC, id ASC"), "{}", statement.sql);
        assert_eq!(statement.key_is_text, vec![false, true, false]);
        let wrong = Query { after: Some(Cursor(vec![Value::Int(1)])), ..query };
        assert!(page(Dialect::Sqlite, &INCIDENTS, "id", &[], &wrong).is_err());
    }

    #[test]
    fn coarse_columns_leave_sqlite_to_walk_the_order() {
        let high = Filter::Compare { field: IncidentField::Severity, op: Comparison::Eq, value: Value::Int(4) };
        let query = Query::<IncidentField> { filter: high, ..Query::default() };
        let newest = page(Dialect::Sqlite, &INCIDENTS, "id", &[], &query).unwrap();
        assert!(newest.sql.contains("+severity_rank = ?1"), "{}", newest.sql);
        let by_severity =
            Query { order: vec![OrderKey { field: IncidentField::Severity, descending: true }], ..query.clone() };
        let sorted = page(Dialect::Sqlite, &INCIDENTS, "id", &[], &by_severity).unwrap();
        assert!(sorted.sql.contains("WHERE severity_rank = ?1"), "{}", sorted.sql);
        assert!(!page(Dialect::Postgres, &INCIDENTS, "id", &[], &query).unwrap().sql.contains('+'));
        assert!(!count(Dialect::Sqlite, &INCIDENTS, &[], &query).sql.contains('+'));
    }

    #[test]
    fn default_order_uses_one_row_comparison() {
        let query =
            Query::<IncidentField> { after: Some(Cursor(vec![Value::Int(9), Value::Int(3)])), ..Query::default() };
        let statement = page(Dialect::Sqlite, &INCIDENTS, "id", &[], &query).unwrap();
        assert!(statement.sql.contains("(last_activity_at, id) < (?1, ?2)"), "{}", statement.sql);
        assert!(statement.sql.contains("ORDER BY last_activity_at DESC, id DESC"));
    }
}
