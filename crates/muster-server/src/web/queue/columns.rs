//! The queue's columns: their names, which can be sorted on, how each shows an incident, and
//! each person's choice of which to show in what order.

use muster_core::incident::AssetSummary;
use muster_core::{GraphEnum, Incident, Timestamp};

/// A column of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    Name,
    Id,
    Tags,
    Severity,
    InvestigationState,
    Categories,
    ImpactedAssets,
    Alerts,
    ServiceSources,
    DetectionSources,
    FirstActivity,
    LastActivity,
    LastUpdate,
    Status,
    AssignedTo,
    Classification,
    Determination,
    DataSensitivity,
    OsPlatforms,
    DeviceGroups,
}

pub(crate) const ALL: [Column; 20] = [
    Column::Name,
    Column::Id,
    Column::Tags,
    Column::Severity,
    Column::InvestigationState,
    Column::Categories,
    Column::ImpactedAssets,
    Column::Alerts,
    Column::ServiceSources,
    Column::DetectionSources,
    Column::FirstActivity,
    Column::LastActivity,
    Column::LastUpdate,
    Column::Status,
    Column::AssignedTo,
    Column::Classification,
    Column::Determination,
    Column::DataSensitivity,
    Column::OsPlatforms,
    Column::DeviceGroups,
];

/// What a person sees before choosing: the columns a triage pass reads.
pub(crate) const DEFAULT: [Column; 11] = [
    Column::Name,
    Column::Id,
    Column::Severity,
    Column::Status,
    Column::Alerts,
    Column::Categories,
    Column::ImpactedAssets,
    Column::ServiceSources,
    Column::LastActivity,
    Column::AssignedTo,
    Column::Tags,
];

/// The preference key the choice is saved under.
pub(crate) const PREFERENCE: &str = "queue.columns";

impl Column {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Id => "id",
            Self::Tags => "tags",
            Self::Severity => "severity",
            Self::InvestigationState => "investigationState",
            Self::Categories => "categories",
            Self::ImpactedAssets => "impactedAssets",
            Self::Alerts => "alerts",
            Self::ServiceSources => "serviceSources",
            Self::DetectionSources => "detectionSources",
            Self::FirstActivity => "firstActivity",
            Self::LastActivity => "lastActivity",
            Self::LastUpdate => "lastUpdate",
            Self::Status => "status",
            Self::AssignedTo => "assignedTo",
            Self::Classification => "classification",
            Self::Determination => "determination",
            Self::DataSensitivity => "dataSensitivity",
            Self::OsPlatforms => "osPlatforms",
            Self::DeviceGroups => "deviceGroups",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Name => "Incident name",
            Self::Id => "Incident Id",
            Self::Tags => "Tags",
            Self::Severity => "Severity",
            Self::InvestigationState => "Investigation state",
            Self::Categories => "Categories",
            Self::ImpactedAssets => "Impacted assets",
            Self::Alerts => "Active alerts",
            Self::ServiceSources => "Service sources",
            Self::DetectionSources => "Detection sources",
            Self::FirstActivity => "First activity",
            Self::LastActivity => "Last activity",
            Self::LastUpdate => "Last update",
            Self::Status => "Status",
            Self::AssignedTo => "Assigned to",
            Self::Classification => "Classification",
            Self::Determination => "Determination",
            Self::DataSensitivity => "Data sensitivity",
            Self::OsPlatforms => "OS platforms",
            Self::DeviceGroups => "Device groups",
        }
    }

    pub(crate) fn parse(key: &str) -> Option<Self> {
        ALL.into_iter().find(|c| c.key() == key)
    }

    /// The property the query layer orders this column by; collections cannot be ordered.
    pub(crate) fn sort_property(self) -> Option<&'static str> {
        Some(match self {
            Self::Name => "displayName",
            Self::Id => "id",
            Self::Severity => "severity",
            Self::Alerts => "activeAlertCount",
            Self::FirstActivity => "firstActivityDateTime",
            Self::LastActivity => "lastActivityDateTime",
            Self::LastUpdate => "lastUpdateDateTime",
            Self::Status => "status",
            Self::AssignedTo => "assignedTo",
            Self::Classification => "classification",
            Self::Determination => "determination",
            _ => return None,
        })
    }
}

/// A saved choice, or the default when there is none or it no longer parses. Unknown names are
/// dropped (a column removed in an upgrade), as are repeats; the name column always stays.
pub(crate) fn from_preference(saved: Option<&str>) -> Vec<Column> {
    let Some(keys) = saved.and_then(|s| serde_json::from_str::<Vec<String>>(s).ok()) else {
        return DEFAULT.to_vec();
    };
    let mut columns: Vec<Column> = Vec::new();
    for column in keys.iter().filter_map(|k| Column::parse(k)) {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    if !columns.contains(&Column::Name) {
        columns.insert(0, Column::Name);
    }
    columns
}

pub(crate) fn to_preference(columns: &[Column]) -> String {
    serde_json::to_string(&columns.iter().map(|c| c.key()).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

/// A camelCase member spelled for people: `truePositive` reads "True positive".
pub(crate) fn words(member: &str) -> String {
    let mut out = String::with_capacity(member.len() + 4);
    for (i, ch) in member.chars().enumerate() {
        if i == 0 {
            out.extend(ch.to_uppercase());
        } else if ch.is_uppercase() {
            out.push(' ');
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A time as the queue shows it (UTC, to the minute); the full time is the cell's title.
pub(crate) fn when(at: Option<Timestamp>) -> (String, String) {
    match at {
        Some(at) => (at.inner().format("%Y-%m-%d %H:%M").to_string(), at.to_string()),
        None => ("—".to_owned(), String::new()),
    }
}

/// One cell: its text or chips, a class for styling, and a title for what is cut short.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) chips: Vec<String>,
    pub(crate) class: String,
    pub(crate) title: String,
    /// The name column links to the incident page.
    pub(crate) href: Option<String>,
}

fn text(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), ..Cell::default() }
}

fn list(items: &[String]) -> Cell {
    if items.is_empty() {
        return text("—");
    }
    Cell { text: items.join(", "), title: items.join(", "), ..Cell::default() }
}

fn chips(items: Vec<String>) -> Cell {
    if items.is_empty() {
        return text("—");
    }
    Cell { title: items.join(", "), chips: items, ..Cell::default() }
}

fn assets(incident: &Incident) -> Cell {
    let a = &incident.impacted_assets;
    let kinds: [&AssetSummary; 4] = [&a.devices, &a.users, &a.mailboxes, &a.apps];
    let names: Vec<String> = kinds.iter().flat_map(|k| k.names.iter().cloned()).collect();
    let total: u64 = kinds.iter().map(|k| k.count).sum();
    if total == 0 {
        return text("—");
    }
    let shown: Vec<String> = names.iter().take(2).cloned().collect();
    let rest = total.saturating_sub(shown.len() as u64);
    let mut label = shown.join(", ");
    if rest > 0 {
        label.push_str(&format!(" +{rest}"));
    }
    Cell { text: label, title: names.join(", "), ..Cell::default() }
}

fn timed(at: Option<Timestamp>) -> Cell {
    let (shown, full) = when(at);
    Cell { text: shown, title: full, class: "time".into(), ..Cell::default() }
}

/// The cell of a column for an incident.
pub(crate) fn cell(column: Column, incident: &Incident) -> Cell {
    let mut cell = match column {
        Column::Name => Cell {
            text: display_name(incident),
            href: Some(format!("/incidents/{}", incident.id)),
            title: display_name(incident),
            ..Cell::default()
        },
        Column::Id => text(incident.id.to_string()),
        Column::Tags => chips(incident.system_tags.iter().chain(&incident.custom_tags).cloned().collect()),
        Column::Severity => Cell {
            text: words(incident.severity.as_str()),
            class: format!("sev sev-{}", incident.severity.as_str()),
            ..Cell::default()
        },
        Column::InvestigationState => {
            list(&incident.investigation_states.iter().map(|s| words(s.as_str())).collect::<Vec<_>>())
        }
        Column::Categories => list(&incident.categories.iter().map(|c| words(c)).collect::<Vec<_>>()),
        Column::ImpactedAssets => assets(incident),
        Column::Alerts => Cell {
            text: format!("{}/{}", incident.active_alert_count, incident.alert_count),
            class: "num".into(),
            title: format!("{} active of {} alerts", incident.active_alert_count, incident.alert_count),
            ..Cell::default()
        },
        Column::ServiceSources => list(&incident.service_sources.iter().map(|s| words(s)).collect::<Vec<_>>()),
        Column::DetectionSources => list(&incident.detection_sources.iter().map(|s| words(s)).collect::<Vec<_>>()),
        Column::FirstActivity => timed(incident.first_activity_date_time),
        Column::LastActivity => timed(incident.last_activity_date_time),
        Column::LastUpdate => timed(Some(incident.last_update_date_time)),
        Column::Status => Cell {
            text: words(incident.status.as_str()),
            class: format!("status status-{}", incident.status.as_str()),
            ..Cell::default()
        },
        Column::AssignedTo => text(incident.assigned_to.clone().unwrap_or_else(|| "Unassigned".to_owned())),
        Column::Classification => {
            text(incident.assessment.classification().map_or("Not set".to_owned(), |c| words(c.as_str())))
        }
        Column::Determination => {
            text(incident.assessment.determination().map_or("Not set".to_owned(), |d| words(d.as_str())))
        }
        Column::DataSensitivity => list(&incident.data_sensitivity),
        Column::OsPlatforms => list(&incident.os_platforms),
        Column::DeviceGroups => list(&incident.device_groups),
    };
    cell.class = format!("col-{} {}", column.key(), cell.class).trim_end().to_owned();
    cell
}

pub(crate) fn display_name(incident: &Incident) -> String {
    incident.display_name.clone().unwrap_or_else(|| format!("Incident {}", incident.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_read_back_and_survive_change() {
        let chosen = vec![Column::Severity, Column::Name, Column::DeviceGroups];
        assert_eq!(from_preference(Some(&to_preference(&chosen))), chosen);
        assert_eq!(from_preference(Some("[\"gone\",\"id\",\"id\"]")), vec![Column::Name, Column::Id]);
        assert_eq!(from_preference(Some("not json")), DEFAULT.to_vec());
        assert_eq!(from_preference(None), DEFAULT.to_vec());
    }

    #[test]
    fn members_read_as_words() {
        assert_eq!(words("truePositive"), "True positive");
        assert_eq!(words("high"), "High");
    }
}
