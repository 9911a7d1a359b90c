//! The queue's filters: what each is called in the URL and the panel, the OData it becomes, and
//! the values the panel offers.

use muster_core::enums::{AlertClassification, AlertDetermination, AlertSeverity, IncidentStatus, InvestigationState};
use muster_core::store::query::counts::{Counted, FacetCounts};
use muster_core::store::query::Facet;
use muster_core::GraphEnum;

use super::view::{literal, View};

/// One filter of the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Filter {
    Assigned,
    Categories,
    Classification,
    Determination,
    DataSensitivity,
    DeviceGroup,
    InvestigationState,
    MultipleCategories,
    MultipleServiceSources,
    OsPlatform,
    ServiceSources,
    DetectionSources,
    Severity,
    Status,
    Tags,
}

/// Every filter, in the panel's order.
pub(crate) const FILTERS: [Filter; 15] = [
    Filter::Assigned,
    Filter::Severity,
    Filter::Status,
    Filter::Categories,
    Filter::Classification,
    Filter::Determination,
    Filter::DataSensitivity,
    Filter::DeviceGroup,
    Filter::InvestigationState,
    Filter::MultipleCategories,
    Filter::MultipleServiceSources,
    Filter::OsPlatform,
    Filter::ServiceSources,
    Filter::DetectionSources,
    Filter::Tags,
];

/// The "assigned to" values that are not a login.
pub(crate) const ME: &str = "me";
pub(crate) const UNASSIGNED: &str = "unassigned";

fn members<E: GraphEnum>() -> Vec<String> {
    E::settable().into_iter().map(str::to_owned).collect()
}

fn any_of(collection: &str, values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
    format!("{collection}/any(v: v in ({}))", list.join(", "))
}

fn scalar_in(property: &str, values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
    format!("{property} in ({})", list.join(", "))
}

/// "More than one" and "at most one" of a collection, for the yes/no filters.
fn many(collection: &str, values: &[String]) -> Option<String> {
    let yes = values.iter().any(|v| v == "yes");
    let no = values.iter().any(|v| v == "no");
    match (yes, no) {
        (true, false) => Some(format!("{collection}/$count gt 1")),
        (false, true) => Some(format!("{collection}/$count le 1")),
        _ => None,
    }
}

impl Filter {
    /// The URL key.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Categories => "category",
            Self::Classification => "classification",
            Self::Determination => "determination",
            Self::DataSensitivity => "sensitivity",
            Self::DeviceGroup => "group",
            Self::InvestigationState => "investigation",
            Self::MultipleCategories => "multiCategories",
            Self::MultipleServiceSources => "multiSources",
            Self::OsPlatform => "os",
            Self::ServiceSources => "service",
            Self::DetectionSources => "detection",
            Self::Severity => "severity",
            Self::Status => "status",
            Self::Tags => "tag",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Assigned => "Assigned to",
            Self::Categories => "Categories",
            Self::Classification => "Classification",
            Self::Determination => "Determination",
            Self::DataSensitivity => "Data sensitivity",
            Self::DeviceGroup => "Device group",
            Self::InvestigationState => "Investigation state",
            Self::MultipleCategories => "Multiple categories",
            Self::MultipleServiceSources => "Multiple service sources",
            Self::OsPlatform => "OS platform",
            Self::ServiceSources => "Service sources",
            Self::DetectionSources => "Detection sources",
            Self::Severity => "Severity",
            Self::Status => "Status",
            Self::Tags => "Tags",
        }
    }

    pub(crate) fn parse(key: &str) -> Option<Self> {
        FILTERS.into_iter().find(|f| f.key() == key)
    }

    /// The OData condition for the chosen values (any of them), or `None` when they select all.
    pub(crate) fn clause(self, values: &[String], me: &str) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        Some(match self {
            Self::Assigned => values
                .iter()
                .map(|v| match v.as_str() {
                    ME => format!("assignedTo eq {}", literal(me)),
                    UNASSIGNED => "assignedTo eq null".to_owned(),
                    login => format!("assignedTo eq {}", literal(login)),
                })
                .collect::<Vec<_>>()
                .join(" or "),
            Self::Severity => scalar_in("severity", values),
            Self::Status => scalar_in("status", values),
            Self::Classification => scalar_in("classification", values),
            Self::Determination => scalar_in("determination", values),
            Self::Categories => any_of("categories", values),
            Self::DataSensitivity => any_of("dataSensitivity", values),
            Self::DeviceGroup => any_of("deviceGroups", values),
            Self::InvestigationState => any_of("investigationStates", values),
            Self::OsPlatform => any_of("osPlatforms", values),
            Self::ServiceSources => any_of("serviceSources", values),
            Self::DetectionSources => any_of("detectionSources", values),
            // Muster's own tags (Redirected, Multi-stage) are tags to a person too.
            Self::Tags => format!("{} or {}", any_of("customTags", values), any_of("systemTags", values)),
            Self::MultipleCategories => return many("categories", values),
            Self::MultipleServiceSources => return many("serviceSources", values),
        })
    }

    /// Values known without looking at stored incidents: enum members, yes/no.
    pub(crate) fn fixed_values(self) -> Option<Vec<String>> {
        Some(match self {
            Self::Severity => {
                let mut all = members::<AlertSeverity>();
                all.reverse();
                all
            }
            Self::Status => members::<IncidentStatus>().into_iter().filter(|s| s != "awaitingAction").collect(),
            Self::Classification => members::<AlertClassification>(),
            Self::Determination => members::<AlertDetermination>(),
            Self::InvestigationState => members::<InvestigationState>(),
            Self::MultipleCategories | Self::MultipleServiceSources => vec!["yes".to_owned(), "no".to_owned()],
            _ => return None,
        })
    }
}

/// How a value reads in the panel: enum members spelled for people.
pub(crate) fn value_label(filter: Filter, value: &str) -> String {
    match (filter, value) {
        (Filter::Assigned, ME) => "Me".to_owned(),
        (Filter::Assigned, UNASSIGNED) => "Unassigned".to_owned(),
        (Filter::MultipleCategories | Filter::MultipleServiceSources, "yes") => "Yes".to_owned(),
        (Filter::MultipleCategories | Filter::MultipleServiceSources, "no") => "No".to_owned(),
        (Filter::Assigned | Filter::Tags | Filter::DeviceGroup | Filter::DataSensitivity, v) => v.to_owned(),
        (_, v) => super::columns::words(v),
    }
}

/// One value offered in the panel, with how many incidents of the time range have it.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) checked: bool,
    pub(crate) count: Option<u64>,
}

/// A filter with its values, as the panel shows it.
#[derive(Debug, Clone)]
pub(crate) struct FilterGroup {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) choices: Vec<Choice>,
    /// How many values are chosen.
    pub(crate) chosen: usize,
}

impl Filter {
    /// The store's facet counts this filter reads: columns and facets (tags are custom and
    /// Muster's own together); none for the yes/no filters.
    fn counted(self) -> &'static [Counted] {
        match self {
            Self::Assigned => &[Counted::AssignedTo],
            Self::Severity => &[Counted::Severity],
            Self::Status => &[Counted::Status],
            Self::Classification => &[Counted::Classification],
            Self::Determination => &[Counted::Determination],
            Self::Categories => &[Counted::Facet(Facet::Categories)],
            Self::DataSensitivity => &[Counted::Facet(Facet::DataSensitivity)],
            Self::DeviceGroup => &[Counted::Facet(Facet::DeviceGroups)],
            Self::InvestigationState => &[Counted::Facet(Facet::InvestigationStates)],
            Self::OsPlatform => &[Counted::Facet(Facet::OsPlatforms)],
            Self::ServiceSources => &[Counted::Facet(Facet::ServiceSources)],
            Self::DetectionSources => &[Counted::Facet(Facet::DetectionSources)],
            Self::Tags => &[Counted::Facet(Facet::CustomTags), Counted::Facet(Facet::SystemTags)],
            Self::MultipleCategories | Self::MultipleServiceSources => &[],
        }
    }
}

/// Each value of a filter with its count; `None` is the unset value (unassigned).
fn counts_of(filter: Filter, counts: &FacetCounts) -> Vec<(Option<String>, u64)> {
    let mut out: Vec<(Option<String>, u64)> = Vec::new();
    for counted in filter.counted() {
        for v in counts.of(*counted) {
            match out.iter_mut().find(|(value, _)| *value == v.value) {
                Some((_, n)) => *n += v.count,
                None => out.push((v.value.clone(), v.count)),
            }
        }
    }
    out
}

/// The panel's groups: fixed values (enum members, yes/no), the values `counts` found in the
/// time range for the others, and whatever the view has chosen even if nothing carries it now.
/// `me` is the caller's login, whose count "Me" shows.
pub(crate) fn groups(view: &View, logins: &[String], me: &str, counts: Option<&FacetCounts>) -> Vec<FilterGroup> {
    FILTERS
        .into_iter()
        .map(|filter| {
            let found = counts.map(|c| counts_of(filter, c));
            let count_of = |value: &str| -> Option<u64> {
                let found = found.as_ref()?;
                let wanted = match (filter, value) {
                    (Filter::Assigned, UNASSIGNED) => None,
                    (Filter::Assigned, ME) => Some(me.to_lowercase()),
                    (Filter::Assigned, login) => Some(login.to_lowercase()),
                    (_, v) => Some(v.to_owned()),
                };
                (!filter.counted().is_empty()).then(|| found.iter().find(|(v, _)| *v == wanted).map_or(0, |(_, n)| *n))
            };
            let mut values: Vec<String> = match filter {
                Filter::Assigned => {
                    [ME, UNASSIGNED].iter().map(|s| (*s).to_owned()).chain(logins.iter().cloned()).collect()
                }
                _ => filter
                    .fixed_values()
                    .unwrap_or_else(|| found.iter().flatten().filter_map(|(v, _)| v.clone()).collect()),
            };
            for chosen in view.values(filter) {
                if !values.contains(chosen) {
                    values.push(chosen.clone());
                }
            }
            let choices: Vec<Choice> = values
                .into_iter()
                .map(|value| Choice {
                    label: value_label(filter, &value),
                    checked: view.has(filter, &value),
                    count: count_of(&value),
                    value,
                })
                .collect();
            FilterGroup { key: filter.key(), label: filter.label(), chosen: view.values(filter).len(), choices }
        })
        .collect()
}
