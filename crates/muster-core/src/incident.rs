//! The Graph `security.incident` resource, with Muster's roll-ups as extra properties in Graph's style.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::alert::{Alert, AlertComment};
use crate::assessment::Assessment;
use crate::enums::{AlertSeverity, IncidentStatus, InvestigationState};
use crate::ids::IncidentId;
use crate::time::Timestamp;

/// Assets of one kind that an incident touches: how many, and the first few names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetSummary {
    pub count: u64,
    #[serde(default)]
    pub names: Vec<String>,
}

/// `impactedAssets`: devices, users, mailboxes and apps, each with a count and the first names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactedAssets {
    #[serde(default)]
    pub devices: AssetSummary,
    #[serde(default)]
    pub users: AssetSummary,
    #[serde(default)]
    pub mailboxes: AssetSummary,
    #[serde(default)]
    pub apps: AssetSummary,
}

/// A Graph incident plus Muster's roll-ups. The roll-ups are derived from the incident's alerts.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub id: IncidentId,
    pub assigned_to: Option<String>,
    #[serde(flatten)]
    pub assessment: Assessment,
    #[serde(default)]
    pub comments: Vec<AlertComment>,
    pub created_date_time: Timestamp,
    #[serde(default)]
    pub custom_tags: Vec<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub incident_web_url: Option<String>,
    pub last_modified_by: Option<String>,
    pub last_update_date_time: Timestamp,
    pub priority_score: Option<i32>,
    pub redirect_incident_id: Option<IncidentId>,
    pub resolving_comment: Option<String>,
    pub severity: AlertSeverity,
    pub status: IncidentStatus,
    pub summary: Option<String>,
    #[serde(default)]
    pub system_tags: Vec<String>,
    pub tenant_id: Option<String>,

    // Roll-ups (Muster's additions, documented in the OpenAPI document).
    pub first_activity_date_time: Option<Timestamp>,
    pub last_activity_date_time: Option<Timestamp>,
    #[serde(default)]
    pub alert_count: u64,
    #[serde(default)]
    pub active_alert_count: u64,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub mitre_techniques: Vec<String>,
    #[serde(default)]
    pub service_sources: Vec<String>,
    #[serde(default)]
    pub detection_sources: Vec<String>,
    #[serde(default)]
    pub impacted_assets: ImpactedAssets,
    #[serde(default)]
    pub os_platforms: Vec<String>,
    #[serde(default)]
    pub device_groups: Vec<String>,
    #[serde(default)]
    pub investigation_states: Vec<InvestigationState>,
    #[serde(default)]
    pub data_sensitivity: Vec<String>,

    /// The `alerts` navigation property, present only when expanded.
    pub alerts: Option<Vec<Alert>>,

    /// Muster's bookkeeping, stored beside the resource and not part of its JSON.
    #[serde(skip)]
    pub meta: IncidentMeta,
    /// Properties Graph does not define, kept as sent.
    #[serde(flatten, serialize_with = "crate::json::without_annotations")]
    pub unknown: Map<String, Value>,
}

/// What Muster keeps about an incident beyond the Graph resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentMeta {
    /// Bumped on every change; the ETag. Zero until first stored.
    pub version: i64,
    /// A person named it; generated names no longer replace `displayName`.
    pub name_locked: bool,
    /// A person set the severity; the roll-up no longer replaces it.
    pub severity_locked: bool,
    /// The running totals of its alerts, from which the roll-ups are derived.
    pub rollup: crate::rollup::RollupState,
}

impl Incident {
    /// A new, empty, active incident.
    pub fn new(id: IncidentId, now: Timestamp) -> Self {
        Self {
            id,
            assigned_to: None,
            assessment: Assessment::default(),
            comments: Vec::new(),
            created_date_time: now,
            custom_tags: Vec::new(),
            description: None,
            display_name: None,
            incident_web_url: None,
            last_modified_by: None,
            last_update_date_time: now,
            priority_score: None,
            redirect_incident_id: None,
            resolving_comment: None,
            severity: AlertSeverity::Unknown,
            status: IncidentStatus::Active,
            summary: None,
            system_tags: Vec::new(),
            tenant_id: None,
            first_activity_date_time: None,
            last_activity_date_time: None,
            alert_count: 0,
            active_alert_count: 0,
            categories: Vec::new(),
            mitre_techniques: Vec::new(),
            service_sources: Vec::new(),
            detection_sources: Vec::new(),
            impacted_assets: ImpactedAssets::default(),
            os_platforms: Vec::new(),
            device_groups: Vec::new(),
            investigation_states: Vec::new(),
            data_sensitivity: Vec::new(),
            alerts: None,
            meta: IncidentMeta::default(),
            unknown: Map::new(),
        }
    }

    /// Reads an incident from Graph JSON, naming the property at fault.
    pub fn from_json_value(value: Value) -> Result<Self, crate::json::FieldError> {
        crate::json::from_value(value)
    }

    /// The multi-valued properties the queue filters on, by facet name: the store indexes these.
    pub fn facets(&self) -> BTreeMap<&'static str, Vec<String>> {
        let mut out = BTreeMap::new();
        out.insert("customTags", self.custom_tags.clone());
        out.insert("systemTags", self.system_tags.clone());
        out.insert("categories", self.categories.clone());
        out.insert("serviceSources", self.service_sources.clone());
        out.insert("detectionSources", self.detection_sources.clone());
        out.insert("osPlatforms", self.os_platforms.clone());
        out.insert("deviceGroups", self.device_groups.clone());
        out.insert("investigationStates", self.investigation_states.iter().map(|s| s.to_string()).collect());
        out.insert("dataSensitivity", self.data_sensitivity.clone());
        out.insert("mitreTechniques", self.mitre_techniques.clone());
        // Lower-cased, for `$search` on an impacted device, user, mailbox or app.
        let assets = &self.impacted_assets;
        let names = [&assets.devices, &assets.users, &assets.mailboxes, &assets.apps];
        out.insert("impactedAssets", names.iter().flat_map(|a| a.names.iter().map(|n| n.to_lowercase())).collect());
        out
    }
}
