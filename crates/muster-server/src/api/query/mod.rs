//! The OData query options of the read endpoints, turned into store queries: parsed by
//! `muster_odata`, checked against each resource's properties here, answered by the store.

mod filter;
mod properties;
pub(crate) mod token;

use muster_core::store::query::{Facet, FacetValues, Filter, OrderKey, Query, SearchTerm};
use muster_odata::ParseError;
use serde::Deserialize;

use self::properties::{Property, Resource};
use super::paging::page_size;
use crate::error::ApiError;

/// The query options a list endpoint reads, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListOptions {
    #[serde(rename = "$filter")]
    pub filter: Option<String>,
    #[serde(rename = "$orderby")]
    pub orderby: Option<String>,
    #[serde(rename = "$top")]
    pub top: Option<String>,
    #[serde(rename = "$skip")]
    pub skip: Option<String>,
    #[serde(rename = "$skiptoken")]
    pub skiptoken: Option<String>,
    #[serde(rename = "$search")]
    pub search: Option<String>,
    #[serde(rename = "$count")]
    pub count: Option<String>,
    #[serde(rename = "$select")]
    pub select: Option<String>,
    #[serde(rename = "$expand")]
    pub expand: Option<String>,
}

/// How many rows a page holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimits {
    pub(crate) default: u32,
    pub(crate) max: u32,
    /// Refuse a larger `$top` (incidents, as Graph does) rather than clamp it (alerts).
    pub(crate) strict: bool,
}

/// What a list request asks for.
#[derive(Debug)]
pub(crate) struct ListRequest<F> {
    pub(crate) query: Query<F>,
    /// `$count=true`.
    pub(crate) count: bool,
    pub(crate) select: Option<Vec<String>>,
    pub(crate) expand: Vec<String>,
}

fn parse_error(e: ParseError) -> ApiError {
    ApiError::invalid_request(e.to_string()).with_target(e.option)
}

/// The filter and search of a request (what `/$count` reads too).
pub(crate) fn selection<F: Resource>(options: &ListOptions) -> Result<Query<F>, ApiError> {
    let mut query = Query::default();
    if let Some(text) = options.filter.as_deref().filter(|t| !t.trim().is_empty()) {
        query.filter = filter::translate::<F>(&muster_odata::parse_filter(text).map_err(parse_error)?)?;
    }
    if let Some(text) = options.search.as_deref().filter(|t| !t.trim().is_empty()) {
        query.search = muster_odata::parse_search(text)
            .map_err(parse_error)?
            .into_iter()
            .map(|t| SearchTerm { text: t.text, negated: t.negated })
            .collect();
    }
    Ok(query)
}

fn order<F: Resource>(text: &str) -> Result<Vec<OrderKey<F>>, ApiError> {
    let mut keys = Vec::new();
    for key in muster_odata::parse_orderby(text).map_err(parse_error)? {
        let name = key.path.display();
        let unknown = || {
            ApiError::invalid_request(format!(
                "Could not find a property named '{name}' on type {} to order by.",
                F::NAME
            ))
            .with_target("$orderby")
        };
        let field = match (key.path.segments.as_slice(), F::property(&key.path.segments[0])) {
            ([_], Some(Property::Scalar { field, .. })) => field,
            ([_], Some(Property::Collection { .. })) => {
                return Err(ApiError::invalid_request(format!("'{name}' is a collection and cannot be ordered by."))
                    .with_target("$orderby"))
            }
            _ => return Err(unknown()),
        };
        keys.push(OrderKey { field, descending: key.descending });
    }
    Ok(keys)
}

/// Reads every option of a list request for resource `F`. `selectable` and `expandable` name the
/// properties `$select` and `$expand` accept.
pub(crate) fn list_request<F: Resource>(
    options: &ListOptions,
    limits: PageLimits,
    selectable: &[&str],
    expandable: &[&str],
) -> Result<ListRequest<F>, ApiError> {
    let mut query = selection::<F>(options)?;
    if let Some(text) = options.orderby.as_deref().filter(|t| !t.trim().is_empty()) {
        query.order = order::<F>(text)?;
    }
    query.top = page_size(options.top.as_deref(), limits.default, limits.max, limits.strict)?;
    if let Some(text) = options.skip.as_deref() {
        query.skip = muster_odata::parse_skip(text).map_err(parse_error)?;
    }
    if let Some(token) = options.skiptoken.as_deref() {
        query.after = Some(token::decode(&query, token)?);
    }
    let count = match options.count.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid_request(format!("$count must be true or false, not '{other}'."))
                .with_target("$count"))
        }
    };
    let select = match options.select.as_deref().filter(|t| !t.trim().is_empty()) {
        None => None,
        Some(text) => match muster_odata::parse_select(text).map_err(parse_error)? {
            None => None,
            Some(paths) => {
                let mut names = Vec::new();
                for path in paths {
                    let name = path.display();
                    if !selectable.contains(&name.as_str()) {
                        return Err(ApiError::invalid_request(format!(
                            "Could not find a property named '{name}' on type {} to select.",
                            F::NAME
                        ))
                        .with_target("$select"));
                    }
                    names.push(name);
                }
                Some(names)
            }
        },
    };
    let mut expand = Vec::new();
    if let Some(text) = options.expand.as_deref().filter(|t| !t.trim().is_empty()) {
        for path in muster_odata::parse_expand(text).map_err(parse_error)? {
            let name = path.display();
            if !expandable.contains(&name.as_str()) {
                return Err(ApiError::invalid_request(format!(
                    "Could not find a navigation property named '{name}' on type {} to expand.",
                    F::NAME
                ))
                .with_target("$expand"));
            }
            expand.push(name);
        }
    }
    Ok(ListRequest { query, count, select, expand })
}

/// Limits a query to the device groups a caller may see (`groups` lower-cased), on top of its own
/// filter.
pub(crate) fn within_groups<F>(query: &mut Query<F>, groups: &[String]) {
    let scope = Filter::Facet { facet: Facet::DeviceGroups, values: FacetValues::InAnyCase(groups.to_vec()) };
    let own = std::mem::replace(&mut query.filter, Filter::True);
    query.filter = match own {
        Filter::True => scope,
        other => Filter::And(vec![other, scope]),
    };
}

#[cfg(test)]
mod tests;
