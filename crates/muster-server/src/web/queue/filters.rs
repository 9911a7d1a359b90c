//! The queue's filters: what each is called in the URL and the panel, the OData it becomes, and
//! the values the panel offers.

use std::collections::BTreeSet;

use muster_core::enums::{AlertClassification, AlertDetermination, AlertSeverity, IncidentStatus, InvestigationState};
use muster_core::{GraphEnum, Incident};

use super::view::literal;

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

    /// The values of this filter an incident has, for filters whose values come from storage.
    pub(crate) fn values_of(self, incident: &Incident) -> Vec<String> {
        match self {
            Self::Categories => incident.categories.clone(),
            Self::DataSensitivity => incident.data_sensitivity.clone(),
            Self::DeviceGroup => incident.device_groups.clone(),
            Self::OsPlatform => incident.os_platforms.clone(),
            Self::ServiceSources => incident.service_sources.clone(),
            Self::DetectionSources => incident.detection_sources.clone(),
            Self::Tags => incident.custom_tags.iter().chain(&incident.system_tags).cloned().collect(),
            _ => Vec::new(),
        }
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

/// One value offered in the panel. `count` is how many incidents in the window have it, once
/// the store can say (facet counts); until then it is left out.
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

/// The panel's groups: fixed values, the values `stored` lists (what incidents in the window
/// carry), and whatever the view has chosen even if nothing carries it now.
pub(crate) fn groups(
    view: &super::view::View,
    logins: &[String],
    stored: &dyn Fn(Filter) -> BTreeSet<String>,
) -> Vec<FilterGroup> {
    FILTERS
        .into_iter()
        .map(|filter| {
            let mut values: Vec<String> = match filter {
                Filter::Assigned => {
                    [ME, UNASSIGNED].iter().map(|s| (*s).to_owned()).chain(logins.iter().cloned()).collect()
                }
                _ => filter.fixed_values().unwrap_or_else(|| stored(filter).into_iter().collect()),
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
                    count: None,
                    value,
                })
                .collect();
            FilterGroup { key: filter.key(), label: filter.label(), chosen: view.values(filter).len(), choices }
        })
        .collect()
}
