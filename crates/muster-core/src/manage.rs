//! What a person may change on an incident or an alert, with Graph PATCH semantics: only the
//! properties given change, `@odata.*` annotations are ignored, and a body that names a read-only
//! or unknown property, or a value that does not fit, is refused whole before anything changes.

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::assessment::{determinations_for, Assessment};
use crate::enums::{AlertClassification, AlertDetermination, AlertSeverity, AlertStatus, GraphEnum, IncidentStatus};
use crate::incident::Incident;
use crate::time::Timestamp;
use crate::Alert;

/// The longest comment, resolving comment, summary or description.
pub const MAX_TEXT: usize = 30_000;
/// The longest incident name.
pub const MAX_NAME: usize = 500;
/// The longest assignee (a login, an address or a group name).
pub const MAX_ASSIGNEE: usize = 320;
/// The longest tag, and the most tags on one incident.
pub const MAX_TAG: usize = 100;
pub const MAX_TAGS: usize = 50;

/// Why a change was refused; `property` names the part of the body at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatchError {
    pub property: Option<String>,
    pub message: String,
}

impl PatchError {
    pub fn new(property: impl Into<String>, message: impl Into<String>) -> Self {
        Self { property: Some(property.into()), message: message.into() }
    }
}

/// One property a change moved from one value to another, for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
}

/// A property's new value: `None` leaves it alone, `Some(None)` clears it.
pub type Set<T> = Option<Option<T>>;

/// The incident properties a person may change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentPatch {
    /// A name locks it against the generated one; clearing it unlocks it.
    pub display_name: Set<String>,
    pub custom_tags: Option<Vec<String>>,
    pub assigned_to: Set<String>,
    pub status: Option<IncidentStatus>,
    pub classification: Set<AlertClassification>,
    pub determination: Set<AlertDetermination>,
    /// A person's severity overrides the roll-up's; clearing it gives the roll-up's back.
    pub severity: Set<AlertSeverity>,
    pub resolving_comment: Set<String>,
    pub summary: Set<String>,
    pub description: Set<String>,
}

/// Every incident property a client reads (and `$select` takes); those not in
/// [`INCIDENT_SETTABLE`] are read-only.
pub const INCIDENT_PROPERTIES: &[&str] = &[
    "id",
    "assignedTo",
    "classification",
    "comments",
    "createdDateTime",
    "customTags",
    "description",
    "determination",
    "displayName",
    "incidentWebUrl",
    "lastModifiedBy",
    "lastUpdateDateTime",
    "priorityScore",
    "redirectIncidentId",
    "resolvingComment",
    "severity",
    "status",
    "summary",
    "systemTags",
    "tenantId",
    "firstActivityDateTime",
    "lastActivityDateTime",
    "alertCount",
    "activeAlertCount",
    "categories",
    "mitreTechniques",
    "serviceSources",
    "detectionSources",
    "impactedAssets",
    "osPlatforms",
    "deviceGroups",
    "investigationStates",
    "dataSensitivity",
];

/// Navigation properties an incident reads with `$expand`: read-only too.
pub const INCIDENT_NAVIGATION: &[&str] = &["alerts"];

pub const INCIDENT_SETTABLE: &[&str] = &[
    "displayName",
    "customTags",
    "assignedTo",
    "status",
    "classification",
    "determination",
    "severity",
    "resolvingComment",
    "summary",
    "description",
];

/// The alert properties a person may change (as Graph documents).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertPatch {
    pub status: Option<AlertStatus>,
    pub classification: Set<AlertClassification>,
    pub determination: Set<AlertDetermination>,
    pub assigned_to: Set<String>,
}

pub const ALERT_SETTABLE: &[&str] = &["status", "classification", "determination", "assignedTo"];

pub const ALERT_PROPERTIES: &[&str] = &[
    "id",
    "actorDisplayName",
    "additionalData",
    "alertPolicyId",
    "alertWebUrl",
    "assignedTo",
    "category",
    "categories",
    "classification",
    "comments",
    "createdDateTime",
    "customDetails",
    "description",
    "detectionSource",
    "detectorId",
    "determination",
    "evidence",
    "firstActivityDateTime",
    "incidentId",
    "incidentWebUrl",
    "investigationState",
    "lastActivityDateTime",
    "lastUpdateDateTime",
    "mitreTechniques",
    "productName",
    "providerAlertId",
    "recommendedActions",
    "resolvedDateTime",
    "serviceSource",
    "severity",
    "status",
    "systemTags",
    "tenantId",
    "threatDisplayName",
    "threatFamilyName",
    "title",
];

/// The body's properties, annotations dropped, after refusing read-only and unknown ones (all
/// named at once, so a client fixes its body in one go).
fn properties<'a>(
    body: &'a Value,
    resource: &str,
    (known, navigation): (&[&str], &[&str]),
    settable: &[&str],
) -> Result<Vec<(&'a str, &'a Value)>, PatchError> {
    let known = |k: &str| known.contains(&k) || navigation.contains(&k);
    let Value::Object(map) = body else {
        return Err(PatchError { property: None, message: format!("Send the {resource}'s changes as a JSON object.") });
    };
    let given: Vec<(&str, &Value)> = map
        .iter()
        .filter(|(k, _)| !k.starts_with('@') && !k.contains("@odata."))
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let read_only: Vec<&str> = given.iter().map(|(k, _)| *k).filter(|k| known(k) && !settable.contains(k)).collect();
    if !read_only.is_empty() {
        return Err(PatchError {
            property: Some(read_only.join(", ")),
            message: format!(
                "{} {} read-only on an {resource}; what may change: {}.",
                read_only.join(", "),
                if read_only.len() == 1 { "is" } else { "are" },
                settable.join(", ")
            ),
        });
    }
    let unknown: Vec<&str> = given.iter().map(|(k, _)| *k).filter(|k| !known(k)).collect();
    if !unknown.is_empty() {
        return Err(PatchError {
            property: Some(unknown.join(", ")),
            message: format!("{} is not a property of an {resource}.", unknown.join(", ")),
        });
    }
    Ok(given)
}

/// A text property: null or blank clears it.
fn text(name: &str, value: &Value, max: usize) -> Result<Option<String>, PatchError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            if s.chars().count() > max {
                return Err(PatchError::new(name, format!("{name} is longer than {max} characters.")));
            }
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
        _ => Err(PatchError::new(name, format!("{name} must be a string or null."))),
    }
}

/// An enum member (any letter case, as Graph's own examples vary); null only where allowed.
fn member<T: GraphEnum + FromStr>(name: &str, value: &Value, nullable: bool) -> Result<Option<T>, PatchError>
where
    T::Err: std::fmt::Display,
{
    match value {
        Value::Null if nullable => Ok(None),
        Value::String(s) => s.parse::<T>().map(Some).map_err(|e| PatchError::new(name, e.to_string())),
        _ => Err(PatchError::new(
            name,
            format!("{name} must be one of: {}{}.", T::settable().join(", "), if nullable { ", or null" } else { "" }),
        )),
    }
}

/// Tags as a person means them: trimmed, blanks dropped, each once (whatever its case).
pub fn clean_tags(name: &str, value: &Value) -> Result<Vec<String>, PatchError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(PatchError::new(name, format!("{name} must be an array of strings."))),
    };
    let mut tags: Vec<String> = Vec::new();
    for item in items {
        let Value::String(tag) = item else {
            return Err(PatchError::new(name, format!("{name} must be an array of strings.")));
        };
        let tag = tag.trim();
        if tag.chars().count() > MAX_TAG {
            return Err(PatchError::new(name, format!("The tag '{tag}' is longer than {MAX_TAG} characters.")));
        }
        if !tag.is_empty() && !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            tags.push(tag.to_owned());
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(PatchError::new(name, format!("An incident carries at most {MAX_TAGS} tags.")));
    }
    Ok(tags)
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Records a change of one property, if it changed.
fn record<T: PartialEq + serde::Serialize>(changes: &mut Vec<FieldChange>, field: &'static str, old: &T, new: &T) {
    if old != new {
        changes.push(FieldChange { field, old: json_of(old), new: json_of(new) });
    }
}

/// The classification and determination after a change: a new classification keeps the
/// determination only if it still fits; a pair that does not fit is refused, listing the ones
/// that do.
fn assess(
    current: Assessment,
    classification: Set<AlertClassification>,
    determination: Set<AlertDetermination>,
) -> Result<Assessment, PatchError> {
    let c = classification.unwrap_or(current.classification());
    let d = match determination {
        Some(d) => d,
        None => current.determination().filter(|d| c.is_some_and(|c| determinations_for(c).contains(d))),
    };
    Assessment::new(c, d).map_err(|e| PatchError::new("determination", e.to_string()))
}

impl IncidentPatch {
    /// Reads a PATCH body.
    pub fn from_json(body: &Value) -> Result<Self, PatchError> {
        let mut patch = Self::default();
        for (name, value) in
            properties(body, "incident", (INCIDENT_PROPERTIES, INCIDENT_NAVIGATION), INCIDENT_SETTABLE)?
        {
            match name {
                "displayName" => patch.display_name = Some(text(name, value, MAX_NAME)?),
                "customTags" => patch.custom_tags = Some(clean_tags(name, value)?),
                "assignedTo" => patch.assigned_to = Some(text(name, value, MAX_ASSIGNEE)?),
                "status" => {
                    let status = member::<IncidentStatus>(name, value, false)?;
                    if matches!(status, Some(IncidentStatus::Redirected | IncidentStatus::UnknownFutureValue)) {
                        return Err(PatchError::new(
                            name,
                            "status redirected is set only by merging incidents (mergeIncidents); \
                             a person may set active, inProgress, awaitingAction or resolved.",
                        ));
                    }
                    patch.status = status;
                }
                "classification" => patch.classification = Some(member(name, value, true)?),
                "determination" => patch.determination = Some(member(name, value, true)?),
                "severity" => patch.severity = Some(member(name, value, true)?),
                "resolvingComment" => patch.resolving_comment = Some(text(name, value, MAX_TEXT)?),
                "summary" => patch.summary = Some(text(name, value, MAX_TEXT)?),
                "description" => patch.description = Some(text(name, value, MAX_TEXT)?),
                _ => unreachable!("properties() lets only settable names through"),
            }
        }
        Ok(patch)
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the patch to `incident` and says what changed; on error the incident is as it was.
    /// Roll-up-derived values (a name or severity handed back to the roll-up) are the caller's to
    /// recompute.
    pub fn apply(&self, incident: &mut Incident) -> Result<Vec<FieldChange>, PatchError> {
        let assessment = assess(incident.assessment, self.classification, self.determination)?;
        if incident.status == IncidentStatus::Redirected && !self.is_empty() {
            let into = incident.redirect_incident_id.map(|i| i.to_string()).unwrap_or_default();
            return Err(PatchError::new(
                "status",
                format!("Incident {} was merged into incident {into}; change that one instead.", incident.id),
            ));
        }
        let mut changes = Vec::new();
        if let Some(name) = &self.display_name {
            let old = incident.display_name.clone();
            match name {
                Some(name) => {
                    incident.display_name = Some(name.clone());
                    incident.meta.name_locked = true;
                }
                // Back to the generated name, which the caller's roll-up recomputes.
                None => incident.meta.name_locked = false,
            }
            if name.is_some() {
                record(&mut changes, "displayName", &old, &incident.display_name);
            } else {
                changes.push(FieldChange { field: "displayName", old: json_of(&old), new: Value::Null });
            }
        }
        if let Some(tags) = &self.custom_tags {
            let old = std::mem::replace(&mut incident.custom_tags, tags.clone());
            record(&mut changes, "customTags", &old, &incident.custom_tags);
        }
        if let Some(assignee) = &self.assigned_to {
            let old = std::mem::replace(&mut incident.assigned_to, assignee.clone());
            record(&mut changes, "assignedTo", &old, &incident.assigned_to);
        }
        if let Some(status) = self.status {
            let old = std::mem::replace(&mut incident.status, status);
            record(&mut changes, "status", &old, &status);
        }
        let (old_c, old_d) = (incident.assessment.classification(), incident.assessment.determination());
        incident.assessment = assessment;
        record(&mut changes, "classification", &old_c, &assessment.classification());
        record(&mut changes, "determination", &old_d, &assessment.determination());
        if let Some(severity) = self.severity {
            let old = incident.severity;
            match severity {
                Some(severity) => {
                    incident.severity = severity;
                    incident.meta.severity_locked = true;
                    record(&mut changes, "severity", &old, &severity);
                }
                None => {
                    incident.meta.severity_locked = false;
                    changes.push(FieldChange { field: "severity", old: json_of(&old), new: Value::Null });
                }
            }
        }
        for (field, set, slot) in [
            ("resolvingComment", &self.resolving_comment, &mut incident.resolving_comment),
            ("summary", &self.summary, &mut incident.summary),
            ("description", &self.description, &mut incident.description),
        ] {
            if let Some(value) = set {
                let old = std::mem::replace(slot, value.clone());
                record(&mut changes, field, &old, slot);
            }
        }
        Ok(changes)
    }
}

impl AlertPatch {
    /// Reads a PATCH body.
    pub fn from_json(body: &Value) -> Result<Self, PatchError> {
        let mut patch = Self::default();
        for (name, value) in properties(body, "alert", (ALERT_PROPERTIES, &[]), ALERT_SETTABLE)? {
            match name {
                "status" => {
                    let status = member::<AlertStatus>(name, value, false)?;
                    if status == Some(AlertStatus::UnknownFutureValue) {
                        return Err(PatchError::new(name, "status must be one of: new, inProgress, resolved."));
                    }
                    patch.status = status;
                }
                "classification" => patch.classification = Some(member(name, value, true)?),
                "determination" => patch.determination = Some(member(name, value, true)?),
                "assignedTo" => patch.assigned_to = Some(text(name, value, MAX_ASSIGNEE)?),
                _ => unreachable!("properties() lets only settable names through"),
            }
        }
        Ok(patch)
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the patch to `alert` at `now`; on error the alert is as it was.
    pub fn apply(&self, alert: &mut Alert, now: Timestamp) -> Result<Vec<FieldChange>, PatchError> {
        let assessment = assess(alert.assessment, self.classification, self.determination)?;
        let mut changes = Vec::new();
        if let Some(status) = self.status {
            let old = std::mem::replace(&mut alert.status, status);
            record(&mut changes, "status", &old, &status);
            if old != status {
                alert.resolved_date_time = (status == AlertStatus::Resolved).then_some(now);
            }
        }
        let (old_c, old_d) = (alert.assessment.classification(), alert.assessment.determination());
        alert.assessment = assessment;
        record(&mut changes, "classification", &old_c, &assessment.classification());
        record(&mut changes, "determination", &old_d, &assessment.determination());
        if let Some(assignee) = &self.assigned_to {
            let old = std::mem::replace(&mut alert.assigned_to, assignee.clone());
            record(&mut changes, "assignedTo", &old, &alert.assigned_to);
        }
        if !changes.is_empty() {
            alert.last_update_date_time = Some(now);
        }
        Ok(changes)
    }
}

/// A comment as a client sends it: `{"comment": "..."}` (annotations aside).
pub fn comment_text(value: &Value) -> Result<String, PatchError> {
    let Value::Object(map) = value else {
        return Err(PatchError { property: None, message: "A comment is an object with a comment property.".into() });
    };
    let extra: Vec<&String> = map.keys().filter(|k| !k.starts_with('@') && *k != "comment").collect();
    if !extra.is_empty() {
        let names: Vec<&str> = extra.iter().map(|k| k.as_str()).collect();
        return Err(PatchError::new(names.join(", "), format!("{} is not a property of a comment.", names.join(", "))));
    }
    match text("comment", map.get("comment").unwrap_or(&Value::Null), MAX_TEXT)? {
        Some(comment) => Ok(comment),
        None => Err(PatchError::new("comment", "comment must be a non-empty string.")),
    }
}

/// Tags added and removed in one go (bulk updates), applied after a patch's `customTags`.
pub fn edit_tags(tags: &mut Vec<String>, add: &[String], remove: &[String]) {
    tags.retain(|t| !remove.iter().any(|r| r.eq_ignore_ascii_case(t)));
    for tag in add {
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            tags.push(tag.clone());
        }
    }
}

/// Reads a JSON object's optional string property.
pub fn optional_string(map: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, PatchError> {
    text(name, map.get(name).unwrap_or(&Value::Null), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IncidentId;
    use serde_json::json;

    fn incident() -> Incident {
        Incident::new(IncidentId::new(7).unwrap(), Timestamp::from_secs(1_700_000_000))
    }

    #[test]
    fn only_the_given_properties_change() {
        let mut i = incident();
        i.custom_tags = vec!["keep".into()];
        let patch =
            IncidentPatch::from_json(&json!({"@odata.type": "#x", "assignedTo": " alice@example.com "})).unwrap();
        let changes = patch.apply(&mut i).unwrap();
        assert_eq!(i.assigned_to.as_deref(), Some("alice@example.com"));
        assert_eq!(i.custom_tags, vec!["keep".to_string()]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "assignedTo");
        assert_eq!(changes[0].old, Value::Null);
    }

    #[test]
    fn read_only_and_unknown_properties_are_named() {
        let err =
            IncidentPatch::from_json(&json!({"id": "1", "createdDateTime": "x", "status": "active"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("id, createdDateTime"));
        assert!(err.message.contains("read-only"), "{}", err.message);
        let err = IncidentPatch::from_json(&json!({"colour": "red"})).unwrap_err();
        assert!(err.message.contains("colour is not a property"), "{}", err.message);
    }

    #[test]
    fn redirected_is_refused_and_pairs_must_fit() {
        let err = IncidentPatch::from_json(&json!({"status": "redirected"})).unwrap_err();
        assert!(err.message.contains("mergeIncidents"), "{}", err.message);
        let mut i = incident();
        let patch =
            IncidentPatch::from_json(&json!({"classification": "falsePositive", "determination": "malware"})).unwrap();
        let err = patch.apply(&mut i).unwrap_err();
        assert!(err.message.contains("notMalicious"), "{}", err.message);
        assert_eq!(i.assessment, Assessment::default(), "a refused patch changes nothing");
    }

    #[test]
    fn a_new_classification_drops_a_determination_that_no_longer_fits() {
        let mut i = incident();
        IncidentPatch::from_json(&json!({"classification": "TruePositive", "determination": "malware"}))
            .unwrap()
            .apply(&mut i)
            .unwrap();
        let changes =
            IncidentPatch::from_json(&json!({"classification": "falsePositive"})).unwrap().apply(&mut i).unwrap();
        assert_eq!(i.assessment.classification(), Some(AlertClassification::FalsePositive));
        assert_eq!(i.assessment.determination(), None);
        assert_eq!(changes.iter().map(|c| c.field).collect::<Vec<_>>(), ["classification", "determination"]);
    }

    #[test]
    fn names_and_severities_lock_and_unlock() {
        let mut i = incident();
        IncidentPatch::from_json(&json!({"displayName": "Ransomware on WS-01", "severity": "high"}))
            .unwrap()
            .apply(&mut i)
            .unwrap();
        assert!(i.meta.name_locked && i.meta.severity_locked);
        IncidentPatch::from_json(&json!({"displayName": null, "severity": null})).unwrap().apply(&mut i).unwrap();
        assert!(!i.meta.name_locked && !i.meta.severity_locked);
    }

    #[test]
    fn tags_are_cleaned_and_texts_bounded() {
        let tags = clean_tags("customTags", &json!([" a ", "A", "", "b"])).unwrap();
        assert_eq!(tags, ["a", "b"]);
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(IncidentPatch::from_json(&json!({"resolvingComment": long})).is_err());
        assert!(comment_text(&json!({"comment": "x".repeat(MAX_TEXT + 1)})).is_err());
        assert_eq!(comment_text(&json!({"@odata.type": "t", "comment": " hi "})).unwrap(), "hi");
    }

    #[test]
    fn alert_status_sets_and_clears_the_resolved_time() {
        let mut alert = Alert::from_json_value(json!({"title": "t", "providerAlertId": "1", "serviceSource": "microsoftDefenderForEndpoint", "severity": "low"})).unwrap();
        let now = Timestamp::from_secs(1_700_000_100);
        AlertPatch::from_json(&json!({"status": "resolved"})).unwrap().apply(&mut alert, now).unwrap();
        assert_eq!(alert.resolved_date_time, Some(now));
        AlertPatch::from_json(&json!({"status": "inProgress"})).unwrap().apply(&mut alert, now).unwrap();
        assert_eq!(alert.resolved_date_time, None);
        assert!(AlertPatch::from_json(&json!({"title": "x"})).unwrap_err().message.contains("read-only"));
    }
}
