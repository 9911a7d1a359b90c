//! The Graph `security.alert` (alerts_v2) resource.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::assessment::Assessment;
use crate::enums::{AlertSeverity, AlertStatus, InvestigationState};
use crate::evidence::Evidence;
use crate::source::{DetectionSource, ServiceSource};
use crate::time::Timestamp;

/// `alertComment`: one comment on an alert or an incident.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertComment {
    pub comment: String,
    pub created_by_display_name: Option<String>,
    pub created_date_time: Timestamp,
}

/// A Graph alert, property for property. Properties Graph does not define are kept in `unknown`
/// and written back as sent; `@odata.*` annotations are accepted and dropped.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub actor_display_name: Option<String>,
    pub additional_data: Option<Map<String, Value>>,
    pub alert_policy_id: Option<String>,
    pub alert_web_url: Option<String>,
    pub assigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    pub category: Option<String>,
    #[serde(flatten)]
    pub assessment: Assessment,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<AlertComment>,
    pub created_date_time: Option<Timestamp>,
    pub custom_details: Option<Map<String, Value>>,
    pub description: Option<String>,
    pub detection_source: Option<DetectionSource>,
    pub detector_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    pub first_activity_date_time: Option<Timestamp>,
    pub incident_id: Option<String>,
    pub incident_web_url: Option<String>,
    pub investigation_state: Option<InvestigationState>,
    pub last_activity_date_time: Option<Timestamp>,
    pub last_update_date_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitre_techniques: Vec<String>,
    pub product_name: Option<String>,
    pub provider_alert_id: Option<String>,
    pub recommended_actions: Option<String>,
    pub resolved_date_time: Option<Timestamp>,
    pub service_source: ServiceSource,
    pub severity: AlertSeverity,
    #[serde(default = "default_status")]
    pub status: AlertStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_tags: Vec<String>,
    pub tenant_id: Option<String>,
    pub threat_display_name: Option<String>,
    pub threat_family_name: Option<String>,
    pub title: String,
    /// Properties Graph does not define, kept as sent (Graph's `additionalData` idea).
    #[serde(flatten, serialize_with = "crate::json::without_annotations")]
    pub unknown: Map<String, Value>,
}

fn default_status() -> AlertStatus {
    AlertStatus::New
}

impl Alert {
    /// Reads one alert from Graph JSON. A wrong enum member, a bad timestamp or a missing required
    /// property is an error that names the property's path.
    pub fn from_json_value(value: Value) -> Result<Self, crate::json::FieldError> {
        crate::json::from_value(value)
    }

    /// Reads one alert from Graph JSON text.
    pub fn from_json(text: &[u8]) -> Result<Self, crate::json::FieldError> {
        crate::json::from_slice(text)
    }

    /// The activity time correlation uses: last activity, else first activity, else creation.
    pub fn activity_time(&self) -> Option<Timestamp> {
        self.last_activity_date_time.or(self.first_activity_date_time).or(self.created_date_time)
    }
}
