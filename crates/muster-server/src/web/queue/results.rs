//! One page of the queue: the incidents the view selects, read through the API's query layer
//! and laid out in the person's columns, with the links that sort and page it.

use muster_core::store::query::IncidentField;
use muster_core::Incident;

use super::columns::{self, Cell, Column};
use super::view::{View, PAGE_SIZE};
use crate::api::query::{list_request, within_groups, PageLimits};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// A column header: its sort link (for columns the query layer can order by) and arrow.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) href: Option<String>,
    pub(crate) arrow: &'static str,
    /// `aria-sort`: none, ascending or descending.
    pub(crate) aria: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) cells: Vec<Cell>,
}

/// What the results area shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Results {
    pub(crate) columns: Vec<Column>,
    pub(crate) headers: Vec<Header>,
    pub(crate) rows: Vec<Row>,
    pub(crate) total: u64,
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) page: u32,
    pub(crate) pages: u32,
    pub(crate) prev: Option<String>,
    pub(crate) next: Option<String>,
    /// Why the view could not be read: the field at fault (`q`, `from`, `to`, or `filters`) and
    /// the words to show beside it.
    pub(crate) refusal: Option<(String, String)>,
    /// What a bulk change did, shown above the table.
    pub(crate) notice: Option<String>,
    pub(crate) problems: Vec<String>,
    /// The sort the filter form must keep (`hx-swap-oob` updates its hidden fields).
    pub(crate) sort: String,
    pub(crate) order: String,
    /// Columns of a row, for the expansion row's `colspan`.
    pub(crate) span: usize,
}

impl Results {
    pub(crate) fn refusal_for(&self, field: &str) -> Option<&str> {
        self.refusal.as_ref().filter(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

fn headers(view: &View, columns: &[Column]) -> Vec<Header> {
    columns
        .iter()
        .map(|&column| {
            let current = match view.sort {
                Some((c, descending)) if c == column => Some(descending),
                // Unsorted is newest activity first.
                None if column == Column::LastActivity => Some(true),
                _ => None,
            };
            let sortable = column.sort_property().is_some();
            Header {
                key: column.key(),
                label: column.label(),
                href: sortable.then(|| view.sorted_by(column).href()),
                arrow: match current {
                    Some(true) => "↓",
                    Some(false) => "↑",
                    None => "",
                },
                aria: match current {
                    Some(true) => "descending",
                    Some(false) => "ascending",
                    None => "none",
                },
            }
        })
        .collect()
}

fn row(incident: &Incident, columns: &[Column]) -> Row {
    Row {
        id: incident.id.to_string(),
        name: columns::display_name(incident),
        cells: columns.iter().map(|c| columns::cell(*c, incident)).collect(),
    }
}

/// The field of the page a refused query option belongs to.
fn field_of(error: &ApiError) -> &'static str {
    match error.target() {
        Some("$search") => "q",
        _ => "filters",
    }
}

/// Reads the view's page. A view the query layer refuses (a search it cannot parse) is an empty
/// page saying why; only failures of the server itself are errors.
pub(crate) async fn load(
    state: &AppState,
    principal: &Principal,
    view: &View,
    columns: Vec<Column>,
) -> Result<Results, ApiError> {
    let mut results = Results {
        headers: headers(view, &columns),
        span: columns.len() + 2,
        sort: view.sort.map(|(c, _)| c.key().to_owned()).unwrap_or_default(),
        order: view.sort.map(|(_, d)| if d { "desc" } else { "asc" }.to_owned()).unwrap_or_default(),
        page: view.page,
        columns,
        ..Results::default()
    };
    let options = match view.options(&principal.name, state.clock.now()) {
        Ok(options) => options,
        Err((field, message)) => {
            results.refusal = Some((field.to_owned(), message));
            return Ok(results);
        }
    };
    let limits = PageLimits { default: PAGE_SIZE, max: PAGE_SIZE, strict: true };
    let request = match list_request::<IncidentField>(&options, limits, &[], &[]) {
        Ok(request) => request,
        Err(error) if error.code() == ErrorCode::InvalidRequest => {
            results.refusal = Some((field_of(&error).to_owned(), error.message().to_owned()));
            return Ok(results);
        }
        Err(error) => return Err(error),
    };
    let mut query = request.query;
    if let Some(groups) = principal.scope.groups() {
        within_groups(&mut query, groups);
    }
    let page = state.store.query_incidents(&query).await?;
    results.total = state.store.count_incidents(&query).await?;
    results.rows = page.items.iter().filter(|i| principal.scope.allows(i)).map(|i| row(i, &results.columns)).collect();
    let skipped = u64::from(view.page - 1) * u64::from(PAGE_SIZE);
    results.first = if results.rows.is_empty() { 0 } else { skipped + 1 };
    results.last = skipped + results.rows.len() as u64;
    let pages = results.total.div_ceil(u64::from(PAGE_SIZE)).min(u64::from(View::max_page()));
    results.pages = u32::try_from(pages).unwrap_or(u32::MAX).max(1);
    results.prev = (view.page > 1).then(|| view.at_page(view.page - 1).href());
    results.next = (page.next.is_some() && view.page < results.pages).then(|| view.at_page(view.page + 1).href());
    Ok(results)
}
