//! The read side's query, independent of OData and of any backend: a typed filter over the
//! properties a resource stores as columns or facets, order keys, free-text search and paging.
//!
//! The server's translator builds these from OData (checking every name and literal); each
//! backend turns them into parameterised SQL with [`sql`]. Nothing here holds a value that could
//! reach SQL other than as a bound parameter.

pub mod counts;
mod fields;
pub mod sql;

pub use fields::{AlertField, Column, Facet, IncidentField, QueryField};

use crate::IncidentId;

/// A value a filter compares with or a cursor holds. Times are microseconds since the epoch,
/// enum members their stored spelling (or rank, for ranked columns).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// How a text property matches a fragment (case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextMatch {
    Contains,
    StartsWith,
    EndsWith,
}

/// Which values of a multi-valued facet a filter asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetValues {
    /// Any value at all (`tags/any()`).
    Any,
    /// One of these values.
    In(Vec<String>),
    /// A value other than these.
    NotIn(Vec<String>),
    /// One of these values, compared ASCII case-insensitively (given lower-cased): device-group
    /// scopes, whose names are matched however they were typed.
    InAnyCase(Vec<String>),
}

/// A predicate over one resource. Every node is two-valued (true or false, never unknown), so
/// `Not` means what OData means even over null columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter<F> {
    True,
    And(Vec<Filter<F>>),
    Or(Vec<Filter<F>>),
    Not(Box<Filter<F>>),
    /// `field op value`; a null field compares unequal to every value and is neither greater nor
    /// less than one.
    Compare {
        field: F,
        op: Comparison,
        value: Value,
    },
    In {
        field: F,
        values: Vec<Value>,
    },
    IsNull {
        field: F,
    },
    Text {
        field: F,
        how: TextMatch,
        fragment: String,
    },
    /// A facet row of the resource has a value of `values`.
    Facet {
        facet: Facet,
        values: FacetValues,
    },
}

impl<F: Copy> Filter<F> {
    /// Whether any node names `field`.
    pub fn mentions(&self, wanted: impl Fn(F) -> bool + Copy) -> bool {
        match self {
            Self::True | Self::Facet { .. } => false,
            Self::And(items) | Self::Or(items) => items.iter().any(|f| f.mentions(wanted)),
            Self::Not(inner) => inner.mentions(wanted),
            Self::Compare { field, .. }
            | Self::In { field, .. }
            | Self::IsNull { field }
            | Self::Text { field, .. } => wanted(*field),
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderKey<F> {
    pub field: F,
    pub descending: bool,
}

/// A free-text term: a word or phrase that must (or, negated, must not) appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub text: String,
    pub negated: bool,
}

/// Where a page ends: the values of its last row's sort keys, tie-break last. A next page
/// continues strictly after it, so rows arriving meanwhile neither repeat nor shift the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub Vec<Value>);

/// A list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<F> {
    pub filter: Filter<F>,
    pub search: Vec<SearchTerm>,
    /// Empty: the resource's default order (newest activity first).
    pub order: Vec<OrderKey<F>>,
    pub top: u32,
    pub skip: u64,
    pub after: Option<Cursor>,
}

impl<F> Default for Query<F> {
    fn default() -> Self {
        Self { filter: Filter::True, search: Vec::new(), order: Vec::new(), top: 50, skip: 0, after: None }
    }
}

/// A key of the order a page is read in: a property, or the row's tie-break (the incident id, the
/// alert's arrival number), which makes every order total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey<F> {
    Field(F),
    TieBreak,
}

impl<F: QueryField> Query<F> {
    /// The keys rows are sorted and paged by, each with whether it descends: the order asked for
    /// (or the default), then the tie-break in the direction of the last key.
    pub fn sort_keys(&self) -> Vec<(SortKey<F>, bool)> {
        let mut keys: Vec<(SortKey<F>, bool)> = if self.order.is_empty() {
            F::default_order().iter().map(|(f, d)| (SortKey::Field(*f), *d)).collect()
        } else {
            self.order.iter().map(|k| (SortKey::Field(k.field), k.descending)).collect()
        };
        let last = keys.last().is_none_or(|k| k.1);
        keys.push((SortKey::TieBreak, last));
        keys
    }

    /// Whether a cursor has a value of the right kind for each sort key.
    pub fn cursor_fits(&self, cursor: &Cursor) -> bool {
        let keys = self.sort_keys();
        keys.len() == cursor.0.len()
            && keys.iter().zip(&cursor.0).all(|((key, _), value)| {
                let text = match key {
                    SortKey::Field(f) => f.column().sorts_as_text(),
                    SortKey::TieBreak => false,
                };
                matches!((text, value), (true, Value::Text(_)) | (false, Value::Int(_)))
            })
    }
}

pub type IncidentQuery = Query<IncidentField>;
pub type AlertQuery = Query<AlertField>;

impl IncidentQuery {
    /// Redirected (merged) incidents are left out of lists unless the filter asks about status or
    /// redirection.
    pub fn includes_redirected(&self) -> bool {
        self.filter.mentions(|f| matches!(f, IncidentField::Status | IncidentField::RedirectIncidentId))
    }
}

impl AlertQuery {
    /// An incident's alerts, newest activity first, `top` of them.
    pub fn of_incident(id: IncidentId, top: u32) -> Self {
        Self { filter: Filter::of_incident(id), top, ..Self::default() }
    }
}

impl Filter<AlertField> {
    /// The alerts of one incident.
    pub fn of_incident(id: IncidentId) -> Self {
        Filter::Compare { field: AlertField::IncidentId, op: Comparison::Eq, value: Value::Int(id.get()) }
    }
}

/// A page of results and, when more may follow, where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> QueryPage<T> {
    /// Cuts rows fetched with one extra (to learn whether more follow) down to `top`, keeping the
    /// cursor of the last row kept.
    pub fn from_rows(mut rows: Vec<(T, Cursor)>, top: u32) -> Self {
        let more = rows.len() > top as usize;
        rows.truncate(top as usize);
        let next = if more { rows.last().map(|(_, c)| c.clone()) } else { None };
        Self { items: rows.into_iter().map(|(item, _)| item).collect(), next }
    }
}
