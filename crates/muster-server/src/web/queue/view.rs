//! The queue's view as its URL says it: time range, filters, search, sort and page. Parsing it
//! and writing it back are the two halves of "the whole view lives in the URL": a link built here
//! and read back gives the same view, so reloads, bookmarks and shared links agree.

use chrono::{Duration, NaiveDate, NaiveTime};
use muster_core::Timestamp;

use super::columns::Column;
use super::filters::{Filter, FILTERS};
use crate::api::query::ListOptions;

/// Rows on one page.
pub(crate) const PAGE_SIZE: u32 = 50;
/// Pages a queue walks by `$skip` at most: past that, narrowing the filter says more.
const MAX_PAGE: u32 = 200;

/// How far back the queue looks, by last activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Range {
    Day,
    ThreeDays,
    Week,
    #[default]
    Month,
    SixMonths,
    Custom,
}

impl Range {
    pub(crate) const ALL: [Range; 6] =
        [Range::Day, Range::ThreeDays, Range::Week, Range::Month, Range::SixMonths, Range::Custom];

    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Day => "1d",
            Self::ThreeDays => "3d",
            Self::Week => "7d",
            Self::Month => "30d",
            Self::SixMonths => "6m",
            Self::Custom => "custom",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Day => "1 day",
            Self::ThreeDays => "3 days",
            Self::Week => "7 days",
            Self::Month => "30 days",
            Self::SixMonths => "6 months",
            Self::Custom => "Custom range",
        }
    }

    fn days(self) -> Option<i64> {
        match self {
            Self::Day => Some(1),
            Self::ThreeDays => Some(3),
            Self::Week => Some(7),
            Self::Month => Some(30),
            Self::SixMonths => Some(182),
            Self::Custom => None,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == text)
    }
}

/// Everything the URL of a queue view holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) range: Range,
    /// `YYYY-MM-DD`, as a date input sends it; only read with [`Range::Custom`].
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) search: String,
    /// A sort the person chose; `None` is newest activity first.
    pub(crate) sort: Option<(Column, bool)>,
    /// From 1.
    pub(crate) page: u32,
    /// The values chosen for each filter, in [`FILTERS`] order; filters with none are absent.
    pub(crate) filters: Vec<(Filter, Vec<String>)>,
}

impl View {
    /// Reads a query string; unknown keys and values that do not parse are left out, so an old
    /// or hand-edited link still opens a queue.
    pub(crate) fn parse(query: &str) -> Self {
        let mut view = View { page: 1, ..View::default() };
        let mut sort = None;
        let mut descending = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                "range" => view.range = Range::parse(value).unwrap_or_default(),
                "from" => view.from = value.chars().take(10).collect(),
                "to" => view.to = value.chars().take(10).collect(),
                "q" => view.search = value.chars().take(500).collect(),
                "sort" => sort = Column::parse(value),
                "order" => descending = Some(value == "desc"),
                "page" => view.page = value.parse::<u32>().unwrap_or(1).clamp(1, MAX_PAGE),
                other => {
                    if let Some(filter) = Filter::parse(other) {
                        if !value.is_empty() {
                            view.add_value(filter, value);
                        }
                    }
                }
            }
        }
        view.sort = sort.filter(|c: &Column| c.sort_property().is_some()).map(|c| (c, descending.unwrap_or(true)));
        view.filters.sort_by_key(|(f, _)| FILTERS.iter().position(|d| d == f));
        view
    }

    fn add_value(&mut self, filter: Filter, value: &str) {
        match self.filters.iter_mut().find(|(f, _)| *f == filter) {
            Some((_, values)) if values.iter().any(|v| v == value) => {}
            Some((_, values)) => values.push(value.to_owned()),
            None => self.filters.push((filter, vec![value.to_owned()])),
        }
    }

    pub(crate) fn values(&self, filter: Filter) -> &[String] {
        self.filters.iter().find(|(f, _)| *f == filter).map_or(&[], |(_, v)| v.as_slice())
    }

    pub(crate) fn has(&self, filter: Filter, value: &str) -> bool {
        self.values(filter).iter().any(|v| v == value)
    }

    /// The canonical query string: defaults left out, keys in a fixed order.
    pub(crate) fn query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if self.range != Range::Month {
            out.append_pair("range", self.range.key());
        }
        if self.range == Range::Custom {
            if !self.from.is_empty() {
                out.append_pair("from", &self.from);
            }
            if !self.to.is_empty() {
                out.append_pair("to", &self.to);
            }
        }
        if !self.search.is_empty() {
            out.append_pair("q", &self.search);
        }
        for (filter, values) in &self.filters {
            for value in values {
                out.append_pair(filter.key(), value);
            }
        }
        if let Some((column, descending)) = self.sort {
            out.append_pair("sort", column.key());
            out.append_pair("order", if descending { "desc" } else { "asc" });
        }
        if self.page > 1 {
            out.append_pair("page", &self.page.to_string());
        }
        out.finish()
    }

    /// The queue's URL for this view.
    pub(crate) fn href(&self) -> String {
        let query = self.query();
        if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        }
    }

    /// The view sorted by a column: descending first, then ascending, then back.
    pub(crate) fn sorted_by(&self, column: Column) -> View {
        let descending = match self.sort {
            Some((c, true)) if c == column => false,
            Some((c, false)) if c == column => true,
            _ => true,
        };
        View { sort: Some((column, descending)), page: 1, ..self.clone() }
    }

    pub(crate) fn at_page(&self, page: u32) -> View {
        View { page: page.clamp(1, MAX_PAGE), ..self.clone() }
    }

    pub(crate) fn max_page() -> u32 {
        MAX_PAGE
    }

    /// The view as the API's query options, for `me` (the caller's login) at `now`. Building
    /// OData text and handing it to the same parser as the API keeps one meaning for every
    /// filter; a range that cannot be read is refused with the words to show beside it.
    pub(crate) fn options(&self, me: &str, now: Timestamp) -> Result<ListOptions, Refusal> {
        let mut clauses: Vec<String> = Vec::new();
        let (since, until) = self.window(now)?;
        if let Some(since) = since {
            clauses.push(format!("lastActivityDateTime ge {since}"));
        }
        if let Some(until) = until {
            clauses.push(format!("lastActivityDateTime lt {until}"));
        }
        for (filter, values) in &self.filters {
            if let Some(clause) = filter.clause(values, me) {
                clauses.push(clause);
            }
        }
        let filter = clauses.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" and ");
        let orderby = self.sort.and_then(|(column, descending)| {
            column.sort_property().map(|p| format!("{p} {}", if descending { "desc" } else { "asc" }))
        });
        Ok(ListOptions {
            filter: (!filter.is_empty()).then_some(filter),
            orderby,
            top: Some(PAGE_SIZE.to_string()),
            skip: (self.page > 1).then(|| (u64::from(self.page - 1) * u64::from(PAGE_SIZE)).to_string()),
            search: (!self.search.is_empty()).then(|| self.search.clone()),
            ..ListOptions::default()
        })
    }

    /// The time window as OData literals: from the range back from `now`, or the custom dates
    /// (whole days, `to` included).
    fn window(&self, now: Timestamp) -> Result<(Option<String>, Option<String>), Refusal> {
        if let Some(days) = self.range.days() {
            let since = Timestamp::new(now.inner() - Duration::days(days));
            return Ok((Some(since.to_string()), None));
        }
        let date = |name: &'static str, text: &str| -> Result<Option<Timestamp>, Refusal> {
            if text.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| Some(Timestamp::new(d.and_time(NaiveTime::MIN).and_utc())))
                .map_err(|_| (name, format!("'{text}' is not a date (YYYY-MM-DD).")))
        };
        let from = date("from", &self.from)?;
        let to = date("to", &self.to)?.map(|t| Timestamp::new(t.inner() + Duration::days(1)));
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(("to", "The range ends before it starts.".to_owned()));
            }
        }
        Ok((from.map(|t| t.to_string()), to.map(|t| t.to_string())))
    }
}

/// Why a view cannot be read: the field at fault (`from`, `to`) and the words to show beside it.
pub(crate) type Refusal = (&'static str, String);

/// A string as an OData literal: quoted, quotes doubled.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_reads_back_what_it_writes() {
        let view =
            View::parse("severity=high&severity=medium&q=host%201&range=7d&sort=severity&order=asc&page=3&tag=a%26b");
        assert_eq!(view.values(Filter::Severity), ["high", "medium"]);
        assert_eq!(view.sort, Some((Column::Severity, false)));
        assert_eq!(View::parse(&view.query()), view);
        assert_eq!(View::parse("").href(), "/");
        assert_eq!(
            View::parse("range=30d&page=1&bogus=1&sort=tags").href(),
            "/",
            "defaults and unsortable columns drop"
        );
    }

    #[test]
    fn views_become_odata() {
        let now: Timestamp = "2025-03-10T12:00:00Z".parse().unwrap();
        let view = View::parse("severity=high&assigned=me&assigned=unassigned&q=x&page=2&multiCategories=yes");
        let options = view.options("ann", now).unwrap();
        let filter = options.filter.unwrap();
        assert!(filter.contains("lastActivityDateTime ge 2025-02-08T12:00:00Z"), "{filter}");
        assert!(filter.contains("(severity in ('high'))"), "{filter}");
        assert!(filter.contains("(assignedTo eq 'ann' or assignedTo eq null)"), "{filter}");
        assert!(filter.contains("(categories/$count gt 1)"), "{filter}");
        assert_eq!(options.skip.as_deref(), Some("50"));
        assert_eq!(options.search.as_deref(), Some("x"));
        let custom = View::parse("range=custom&from=2025-01-01&to=2025-01-31");
        let filter = custom.options("ann", now).unwrap().filter.unwrap();
        assert!(filter.contains("ge 2025-01-01T00:00:00Z") && filter.contains("lt 2025-02-01T00:00:00Z"), "{filter}");
        assert_eq!(View::parse("range=custom&from=nope").options("ann", now).unwrap_err().0, "from");
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(literal("o'brien"), "'o''brien'");
        let view = View::parse("tag=it's");
        assert!(view.options("me", Timestamp::from_secs(0)).unwrap().filter.unwrap().contains("'it''s'"));
    }
}
