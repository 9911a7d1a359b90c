//! Incident roll-ups kept as running totals.
//!
//! [`RollupState`] holds, for one incident, the counts from which every roll-up property of the
//! incident (DESIGN.md section 2) and its generated name (section 4) are derived. Alerts are added
//! and removed one at a time (a moved alert is removed from one state and added to another; a
//! re-sent alert removes its old version and adds the new one) and whole incidents are merged,
//! without rereading their alerts. The only thing that cannot be kept exactly by counting is the
//! activity span: [`RollupState::remove`] says when the caller must refresh it from storage with
//! [`RollupState::set_span`].
//!
//! The state is stored as JSON beside its incident: camelCase, maps in key order (so the same
//! alerts always give the same bytes), empty maps left out.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::alert::Alert;
use crate::entity::{entity_keys, EntityKey, EntityKind};
use crate::enums::{AlertSeverity, GraphEnum, InvestigationState};
use crate::evidence::Evidence;
use crate::incident::{AssetSummary, ImpactedAssets, Incident};
use crate::naming::{canonical_category_ref, generated_name};
use crate::time::Timestamp;

/// The system tag of an incident whose alerts span two or more categories.
pub const MULTI_STAGE_TAG: &str = "Multi-stage";
/// How many names `impactedAssets` lists for each kind of asset.
pub const ASSET_NAMES: usize = 5;
/// The `customDetails` property holding an alert's data-sensitivity label(s): a string or an array
/// of strings.
pub const SENSITIVITY_LABEL: &str = "sensitivityLabel";

/// One impacted asset: how many of the incident's alerts name it, and the name to show.
///
/// Stored as a two-element array `[alerts, name]` to keep the state compact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, String)", into = "(u64, String)")]
pub struct AssetTally {
    pub alerts: u64,
    /// The display name: of all the ways tools wrote this asset, the shortest (then the first in
    /// byte order), so the choice does not depend on the order alerts arrive in. Removing alerts
    /// does not change it.
    pub name: String,
}

impl From<(u64, String)> for AssetTally {
    fn from((alerts, name): (u64, String)) -> Self {
        Self { alerts, name }
    }
}

impl From<AssetTally> for (u64, String) {
    fn from(t: AssetTally) -> Self {
        (t.alerts, t.name)
    }
}

/// Whether `candidate` is the better display name than `current` (see [`AssetTally::name`]).
fn better_name(candidate: &str, current: &str) -> bool {
    (candidate.chars().count(), candidate) < (current.chars().count(), current)
}

/// The titles of a state's alerts folded with XOR (UTF-8 bytes, zero-extended, trailing zeros
/// trimmed). Adding and removing a title are the same operation, so with exactly one alert left the
/// fold *is* that alert's title, whatever came and went before, at the cost of the longest title's
/// length. Stored as a hex string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TitleFold(Vec<u8>);

impl TitleFold {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn xor(&mut self, bytes: &[u8]) {
        if self.0.len() < bytes.len() {
            self.0.resize(bytes.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(bytes) {
            *a ^= b;
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn toggle(&mut self, title: &str) {
        self.xor(title.trim_matches(|c: char| c.is_whitespace() || c == '\0').as_bytes());
    }

    /// The title, meaningful only when exactly one alert is folded in.
    fn single(&self) -> Option<String> {
        String::from_utf8(self.0.clone()).ok().filter(|t| !t.is_empty())
    }
}

impl Serialize for TitleFold {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for TitleFold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(serde::de::Error::custom("titleFold is not a hex string"));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(serde::de::Error::custom))
            .collect::<Result<Vec<u8>, D::Error>>()?;
        let mut fold = TitleFold::default();
        fold.xor(&bytes);
        Ok(fold)
    }
}

/// The running totals of an incident's alerts, from which every roll-up property is derived.
///
/// Every map counts alerts: `categories["Execution"] == 3` means three alerts carry that category.
/// Counts never go below zero and an entry whose count reaches zero is removed, so a state equals
/// the state built from scratch from the same alerts (display names of assets aside, see
/// [`AssetTally::name`]; and the span, see [`RollupState::remove`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollupState {
    pub alert_count: u64,
    /// Alerts whose status is not resolved ([`crate::enums::AlertStatus::is_active`]).
    pub active_alert_count: u64,
    /// The earliest `firstActivityDateTime` (or activity time, when an alert has no first activity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_activity: Option<Timestamp>,
    /// The latest [`Alert::activity_time`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<Timestamp>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub severities: BTreeMap<AlertSeverity, u64>,
    /// By canonical category ([`canonical_category`]): `categories`, or `category` when an alert has
    /// no `categories`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mitre_techniques: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_sources: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub detection_sources: BTreeMap<String, u64>,
    /// `deviceEvidence.osPlatform`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub os_platforms: BTreeMap<String, u64>,
    /// `deviceEvidence.rbacGroupName`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub device_groups: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub investigation_states: BTreeMap<InvestigationState, u64>,
    /// `customDetails.sensitivityLabel`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub data_sensitivity: BTreeMap<String, u64>,
    /// Impacted assets by normalised entity key value ([`crate::entity::EntityKey::value`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub devices: BTreeMap<String, AssetTally>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, AssetTally>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mailboxes: BTreeMap<String, AssetTally>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, AssetTally>,
    #[serde(skip_serializing_if = "TitleFold::is_empty")]
    title_fold: TitleFold,
}

/// What one alert contributes to a state, each value once per alert. Borrowed from the alert and
/// its keys: adding an alert to a running total allocates only for values the total has not seen.
struct Contribution<'a> {
    active: bool,
    severity: AlertSeverity,
    categories: BTreeSet<&'a str>,
    mitre_techniques: BTreeSet<&'a str>,
    service_source: &'a str,
    detection_source: Option<&'a str>,
    os_platforms: BTreeSet<&'a str>,
    device_groups: BTreeSet<&'a str>,
    investigation_state: Option<InvestigationState>,
    data_sensitivity: BTreeSet<&'a str>,
    /// Kind, normalised value, display name.
    assets: Vec<(EntityKind, &'a str, &'a str)>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

fn clean(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

impl<'a> Contribution<'a> {
    /// `keys` are the alert's [`entity_keys`].
    fn of(alert: &'a Alert, keys: &'a [EntityKey]) -> Self {
        let categories: BTreeSet<&str> = if alert.categories.iter().any(|c| !c.trim().is_empty()) {
            alert.categories.iter().filter_map(|c| canonical_category_ref(c)).collect()
        } else {
            alert.category.as_deref().and_then(canonical_category_ref).into_iter().collect()
        };
        let mut os_platforms = BTreeSet::new();
        let mut device_groups = BTreeSet::new();
        for e in &alert.evidence {
            if let Evidence::Device(d) = e {
                os_platforms.extend(d.os_platform.as_deref().and_then(clean));
                device_groups.extend(d.rbac_group_name.as_deref().and_then(clean));
            }
        }
        let data_sensitivity = match alert.custom_details.as_ref().and_then(|m| m.get(SENSITIVITY_LABEL)) {
            Some(Value::String(label)) => clean(label).into_iter().collect(),
            Some(Value::Array(labels)) => labels.iter().filter_map(Value::as_str).filter_map(clean).collect(),
            _ => BTreeSet::new(),
        };
        let assets = keys
            .iter()
            .filter(|k| {
                matches!(k.kind, EntityKind::Device | EntityKind::User | EntityKind::Mailbox | EntityKind::CloudApp)
            })
            .map(|k| {
                (k.kind, k.value.as_str(), if k.display.is_empty() { k.value.as_str() } else { k.display.as_str() })
            })
            .collect();
        let last = alert.activity_time();
        Self {
            active: alert.status.is_active(),
            severity: alert.severity,
            categories,
            mitre_techniques: alert.mitre_techniques.iter().filter_map(|t| clean(t)).collect(),
            service_source: alert.service_source.as_str(),
            detection_source: alert.detection_source.as_ref().map(|d| d.as_str()),
            os_platforms,
            device_groups,
            investigation_state: alert.investigation_state,
            data_sensitivity,
            assets,
            first: alert.first_activity_date_time.or(last),
            last,
        }
    }
}

/// Counts `key` in, allocating its text only when it is new to the map.
fn inc_str(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    if n == 0 {
        return;
    }
    match map.get_mut(key) {
        Some(count) => *count = count.saturating_add(n),
        None => {
            map.insert(key.to_owned(), n);
        }
    }
}

fn inc<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, n: u64) {
    if n > 0 {
        let count = map.entry(key).or_default();
        *count = count.saturating_add(n);
    }
}

fn dec<K: Ord + Borrow<Q>, Q: Ord + ?Sized>(map: &mut BTreeMap<K, u64>, key: &Q, n: u64) {
    if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(n);
        if *count == 0 {
            map.remove(key);
        }
    }
}

fn merge_counts<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (key, n) in from {
        inc(into, key.clone(), *n);
    }
}

fn inc_asset(map: &mut BTreeMap<String, AssetTally>, value: &str, name: &str, n: u64) {
    if n == 0 {
        return;
    }
    match map.get_mut(value) {
        Some(t) => {
            t.alerts = t.alerts.saturating_add(n);
            if better_name(name, &t.name) {
                name.clone_into(&mut t.name);
            }
        }
        None => {
            map.insert(value.to_owned(), AssetTally { alerts: n, name: name.to_owned() });
        }
    }
}

fn dec_asset(map: &mut BTreeMap<String, AssetTally>, value: &str) {
    if let Some(t) = map.get_mut(value) {
        t.alerts = t.alerts.saturating_sub(1);
        if t.alerts == 0 {
            map.remove(value);
        }
    }
}

fn min_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

/// Keys by count, highest first; ties by key order (strings in byte order, enum members by rank).
fn ranked<K: Ord + Clone>(map: &BTreeMap<K, u64>) -> Vec<K> {
    let mut entries: Vec<(&K, u64)> = map.iter().map(|(k, n)| (k, *n)).collect();
    // Stable: equal counts keep the map's key order.
    entries.sort_by_key(|e| std::cmp::Reverse(e.1));
    entries.into_iter().map(|(k, _)| k.clone()).collect()
}

fn summary(map: &BTreeMap<String, AssetTally>) -> AssetSummary {
    let mut entries: Vec<&AssetTally> = map.values().collect();
    entries.sort_by(|a, b| b.alerts.cmp(&a.alerts).then_with(|| a.name.cmp(&b.name)));
    AssetSummary {
        count: map.len() as u64,
        names: entries.into_iter().take(ASSET_NAMES).map(|t| t.name.clone()).collect(),
    }
}

impl RollupState {
    /// The state of these alerts.
    pub fn from_alerts<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> Self {
        let mut state = Self::default();
        for alert in alerts {
            state.add(alert);
        }
        state
    }

    /// Whether no alert is counted.
    pub fn is_empty(&self) -> bool {
        self.alert_count == 0
    }

    fn assets_mut(&mut self, kind: EntityKind) -> Option<&mut BTreeMap<String, AssetTally>> {
        match kind {
            EntityKind::Device => Some(&mut self.devices),
            EntityKind::User => Some(&mut self.users),
            EntityKind::Mailbox => Some(&mut self.mailboxes),
            EntityKind::CloudApp => Some(&mut self.apps),
            _ => None,
        }
    }

    /// Counts one alert in.
    pub fn add(&mut self, alert: &Alert) {
        self.add_keyed(alert, &entity_keys(alert));
    }

    /// Counts one alert in, given its [`entity_keys`] (computed once by callers that need them too).
    pub fn add_keyed(&mut self, alert: &Alert, keys: &[EntityKey]) {
        let c = Contribution::of(alert, keys);
        self.alert_count = self.alert_count.saturating_add(1);
        if c.active {
            self.active_alert_count = self.active_alert_count.saturating_add(1);
        }
        inc(&mut self.severities, c.severity, 1);
        for v in c.categories {
            inc_str(&mut self.categories, v, 1);
        }
        for v in c.mitre_techniques {
            inc_str(&mut self.mitre_techniques, v, 1);
        }
        inc_str(&mut self.service_sources, c.service_source, 1);
        if let Some(v) = c.detection_source {
            inc_str(&mut self.detection_sources, v, 1);
        }
        for v in c.os_platforms {
            inc_str(&mut self.os_platforms, v, 1);
        }
        for v in c.device_groups {
            inc_str(&mut self.device_groups, v, 1);
        }
        if let Some(v) = c.investigation_state {
            inc(&mut self.investigation_states, v, 1);
        }
        for v in c.data_sensitivity {
            inc_str(&mut self.data_sensitivity, v, 1);
        }
        for (kind, value, name) in c.assets {
            if let Some(map) = self.assets_mut(kind) {
                inc_asset(map, value, name, 1);
            }
        }
        self.first_activity = min_time(self.first_activity, c.first);
        self.last_activity = max_time(self.last_activity, c.last);
        self.title_fold.toggle(&alert.title);
    }

    /// Counts one alert out: the alert exactly as it was counted in (for a re-sent alert, its old
    /// version). Returns true when the alert held the first or the last activity time of a state that
    /// still has alerts: the span may now be too wide, and the caller must set the true one from
    /// storage with [`set_span`](Self::set_span). When the last alert goes, the state is reset to
    /// empty (span included) and this returns false.
    pub fn remove(&mut self, alert: &Alert) -> bool {
        let keys = entity_keys(alert);
        let c = Contribution::of(alert, &keys);
        self.alert_count = self.alert_count.saturating_sub(1);
        if self.alert_count == 0 {
            *self = Self::default();
            return false;
        }
        if c.active {
            self.active_alert_count = self.active_alert_count.saturating_sub(1);
        }
        dec(&mut self.severities, &c.severity, 1);
        for v in &c.categories {
            dec(&mut self.categories, *v, 1);
        }
        for v in &c.mitre_techniques {
            dec(&mut self.mitre_techniques, *v, 1);
        }
        dec(&mut self.service_sources, c.service_source, 1);
        if let Some(v) = c.detection_source {
            dec(&mut self.detection_sources, v, 1);
        }
        for v in &c.os_platforms {
            dec(&mut self.os_platforms, *v, 1);
        }
        for v in &c.device_groups {
            dec(&mut self.device_groups, *v, 1);
        }
        if let Some(v) = &c.investigation_state {
            dec(&mut self.investigation_states, v, 1);
        }
        for v in &c.data_sensitivity {
            dec(&mut self.data_sensitivity, *v, 1);
        }
        for (kind, value, _) in &c.assets {
            if let Some(map) = self.assets_mut(*kind) {
                dec_asset(map, value);
            }
        }
        self.title_fold.toggle(&alert.title);
        (c.first.is_some() && c.first == self.first_activity) || (c.last.is_some() && c.last == self.last_activity)
    }

    /// Adds another incident's totals to this one (merging incidents). The span stays exact.
    pub fn merge(&mut self, other: &RollupState) {
        self.alert_count = self.alert_count.saturating_add(other.alert_count);
        self.active_alert_count = self.active_alert_count.saturating_add(other.active_alert_count);
        merge_counts(&mut self.severities, &other.severities);
        merge_counts(&mut self.categories, &other.categories);
        merge_counts(&mut self.mitre_techniques, &other.mitre_techniques);
        merge_counts(&mut self.service_sources, &other.service_sources);
        merge_counts(&mut self.detection_sources, &other.detection_sources);
        merge_counts(&mut self.os_platforms, &other.os_platforms);
        merge_counts(&mut self.device_groups, &other.device_groups);
        merge_counts(&mut self.investigation_states, &other.investigation_states);
        merge_counts(&mut self.data_sensitivity, &other.data_sensitivity);
        for (into, from) in [
            (&mut self.devices, &other.devices),
            (&mut self.users, &other.users),
            (&mut self.mailboxes, &other.mailboxes),
            (&mut self.apps, &other.apps),
        ] {
            for (value, tally) in from {
                inc_asset(into, value, &tally.name, tally.alerts);
            }
        }
        self.first_activity = min_time(self.first_activity, other.first_activity);
        self.last_activity = max_time(self.last_activity, other.last_activity);
        self.title_fold.xor(&other.title_fold.0);
    }

    /// Sets the activity span, read from storage after [`remove`](Self::remove) returned true.
    pub fn set_span(&mut self, first: Option<Timestamp>, last: Option<Timestamp>) {
        self.first_activity = first;
        self.last_activity = last;
    }

    /// The title of the only alert, when there is exactly one.
    pub fn single_alert_title(&self) -> Option<String> {
        (self.alert_count == 1).then(|| self.title_fold.single()).flatten()
    }

    /// The highest alert severity by rank, `None` when there are no alerts.
    pub fn highest_severity(&self) -> Option<AlertSeverity> {
        self.severities.keys().copied().filter(|s| *s != AlertSeverity::UnknownFutureValue).max_by_key(|s| s.rank())
    }

    /// Whether the alerts span two or more categories.
    pub fn is_multi_stage(&self) -> bool {
        self.categories.len() >= 2
    }

    /// Writes every roll-up property on the incident:
    /// - the activity span, `alertCount`, `activeAlertCount`;
    /// - `categories`, `mitreTechniques`, `serviceSources`, `detectionSources`, `osPlatforms`,
    ///   `deviceGroups`, `investigationStates`, `dataSensitivity`: by alert count, highest first,
    ///   ties by value (enum members by rank);
    /// - `impactedAssets`: per kind, the number of distinct assets and the first [`ASSET_NAMES`]
    ///   names by alert count, highest first, ties by name;
    /// - `severity`: the highest alert severity, unless a person set it (`meta.severity_locked`);
    /// - `systemTags`: `Multi-stage` present exactly when there are two or more categories, every
    ///   other tag left as it is;
    /// - `displayName`: the generated name ([`generated_name`]), unless a person named the incident
    ///   (`meta.name_locked`).
    ///
    /// An emptied state (every alert moved out) gives zero counts, no span and empty lists, and
    /// removes `Multi-stage`, but keeps the incident's severity and name as they were, so the
    /// emptied incident still reads as what it was (an incident that never had a name gets the
    /// generated name of an empty state, "Incident").
    pub fn apply(&self, incident: &mut Incident) {
        incident.first_activity_date_time = self.first_activity;
        incident.last_activity_date_time = self.last_activity;
        incident.alert_count = self.alert_count;
        incident.active_alert_count = self.active_alert_count;
        incident.categories = ranked(&self.categories);
        incident.mitre_techniques = ranked(&self.mitre_techniques);
        incident.service_sources = ranked(&self.service_sources);
        incident.detection_sources = ranked(&self.detection_sources);
        incident.os_platforms = ranked(&self.os_platforms);
        incident.device_groups = ranked(&self.device_groups);
        incident.investigation_states = ranked(&self.investigation_states);
        incident.data_sensitivity = ranked(&self.data_sensitivity);
        incident.impacted_assets = ImpactedAssets {
            devices: summary(&self.devices),
            users: summary(&self.users),
            mailboxes: summary(&self.mailboxes),
            apps: summary(&self.apps),
        };
        if !incident.meta.severity_locked {
            if let Some(severity) = self.highest_severity() {
                incident.severity = severity;
            }
        }
        if self.is_multi_stage() {
            if !incident.system_tags.iter().any(|t| t == MULTI_STAGE_TAG) {
                incident.system_tags.push(MULTI_STAGE_TAG.to_owned());
            }
        } else {
            incident.system_tags.retain(|t| t != MULTI_STAGE_TAG);
        }
        if !incident.meta.name_locked && (!self.is_empty() || incident.display_name.is_none()) {
            incident.display_name = Some(generated_name(self, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IncidentId;
    use proptest::prelude::*;
    use serde_json::json;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_secs(1_700_000_000 + secs)
    }

    fn incident() -> Incident {
        Incident::new(IncidentId::new(1).unwrap(), ts(0))
    }

    fn alert(value: Value) -> Alert {
        Alert::from_json_value(value).unwrap()
    }

    fn sample() -> Vec<Alert> {
        vec![
            alert(json!({
                "title": "Suspicious PowerShell command line",
                "severity": "medium",
                "serviceSource": "microsoftDefenderForEndpoint",
                "detectionSource": "antivirus",
                "categories": ["Execution"],
                "mitreTechniques": ["T1059.001"],
                "investigationState": "running",
                "firstActivityDateTime": "2024-05-01T10:00:00Z",
                "lastActivityDateTime": "2024-05-01T10:05:00Z",
                "customDetails": {"sensitivityLabel": "Confidential"},
                "evidence": [
                    {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": "WS-01.contoso.com",
                     "osPlatform": "Windows11", "rbacGroupName": "Workstations"},
                    {"@odata.type": "#microsoft.graph.security.userEvidence",
                     "userAccount": {"accountName": "alice", "domainName": "CONTOSO"}}
                ]
            })),
            alert(json!({
                "title": "Connection to known C2 server",
                "severity": "high",
                "serviceSource": "suricata",
                "detectionSource": "suricata",
                "category": "CommandAndControl",
                "status": "resolved",
                "lastActivityDateTime": "2024-05-01T12:00:00Z",
                "customDetails": {"sensitivityLabel": ["Confidential", "Highly confidential"]},
                "evidence": [
                    {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": "ws-01",
                     "osPlatform": "Windows11"},
                    {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": "srv-02",
                     "osPlatform": "Linux", "rbacGroupName": "Servers"}
                ]
            })),
            alert(json!({
                "title": "Phishing link clicked",
                "severity": "low",
                "serviceSource": "microsoftDefenderForOffice365",
                "categories": ["InitialAccess"],
                "firstActivityDateTime": "2024-05-01T09:00:00Z",
                "lastActivityDateTime": "2024-05-01T09:01:00Z",
                "evidence": [
                    {"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": "alice@contoso.com"},
                    {"@odata.type": "#microsoft.graph.security.cloudApplicationEvidence", "displayName": "Office 365"}
                ]
            })),
        ]
    }

    #[test]
    fn apply_writes_every_roll_up() {
        let alerts = sample();
        let state = RollupState::from_alerts(&alerts);
        let mut inc = incident();
        inc.system_tags = vec!["Redirected".into()];
        state.apply(&mut inc);

        assert_eq!(inc.alert_count, 3);
        assert_eq!(inc.active_alert_count, 2);
        assert_eq!(inc.first_activity_date_time, Some("2024-05-01T09:00:00Z".parse().unwrap()));
        assert_eq!(inc.last_activity_date_time, Some("2024-05-01T12:00:00Z".parse().unwrap()));
        assert_eq!(inc.severity, AlertSeverity::High);
        assert_eq!(inc.categories, ["CommandAndControl", "Execution", "InitialAccess"]);
        assert_eq!(inc.mitre_techniques, ["T1059.001"]);
        assert_eq!(inc.service_sources, ["microsoftDefenderForEndpoint", "microsoftDefenderForOffice365", "suricata"]);
        assert_eq!(inc.detection_sources, ["antivirus", "suricata"]);
        assert_eq!(inc.os_platforms, ["Windows11", "Linux"]);
        assert_eq!(inc.device_groups, ["Servers", "Workstations"]);
        assert_eq!(inc.investigation_states, [InvestigationState::Running]);
        assert_eq!(inc.data_sensitivity, ["Confidential", "Highly confidential"]);
        assert_eq!(
            inc.impacted_assets.devices,
            AssetSummary { count: 2, names: vec!["ws-01".into(), "srv-02".into()] }
        );
        // CONTOSO\alice and alice@contoso.com are one user.
        assert_eq!(inc.impacted_assets.users.count, 1);
        assert_eq!(inc.impacted_assets.mailboxes.names, ["alice@contoso.com"]);
        assert_eq!(inc.impacted_assets.apps.names, ["Office 365"]);
        assert_eq!(inc.system_tags, ["Redirected", "Multi-stage"]);
        assert_eq!(inc.display_name.as_deref(), Some("Multi-stage incident on multiple endpoints involving one user, one mailbox and one cloud app reported by multiple sources"));

        // Applying again changes nothing.
        let before = inc.clone();
        state.apply(&mut inc);
        assert_eq!(inc, before);
    }

    #[test]
    fn locks_are_respected() {
        let state = RollupState::from_alerts(&sample());
        let mut inc = incident();
        inc.severity = AlertSeverity::Low;
        inc.display_name = Some("Bob's case".into());
        inc.meta.severity_locked = true;
        inc.meta.name_locked = true;
        state.apply(&mut inc);
        assert_eq!(inc.severity, AlertSeverity::Low);
        assert_eq!(inc.display_name.as_deref(), Some("Bob's case"));
    }

    #[test]
    fn emptied_incident_keeps_severity_and_name() {
        let alerts = sample();
        let mut state = RollupState::from_alerts(&alerts);
        let mut inc = incident();
        state.apply(&mut inc);
        let name = inc.display_name.clone();
        for a in &alerts {
            state.remove(a);
        }
        assert!(state.is_empty());
        assert_eq!(state, RollupState::default());
        state.apply(&mut inc);
        assert_eq!(inc.alert_count, 0);
        assert_eq!(inc.active_alert_count, 0);
        assert_eq!(inc.first_activity_date_time, None);
        assert!(inc.categories.is_empty() && inc.service_sources.is_empty() && inc.data_sensitivity.is_empty());
        assert_eq!(inc.impacted_assets, ImpactedAssets::default());
        assert!(inc.system_tags.is_empty());
        assert_eq!(inc.severity, AlertSeverity::High);
        assert_eq!(inc.display_name, name);
    }

    #[test]
    fn multi_stage_tag_follows_categories() {
        let alerts = sample();
        let mut state = RollupState::from_alerts(&alerts[..2]);
        let mut inc = incident();
        state.apply(&mut inc);
        assert_eq!(inc.system_tags, [MULTI_STAGE_TAG]);
        state.remove(&alerts[1]);
        state.apply(&mut inc);
        assert!(inc.system_tags.is_empty());
        assert_eq!(
            inc.display_name.as_deref(),
            Some("Suspicious PowerShell command line on one endpoint involving one user")
        );
    }

    #[test]
    fn remove_reports_a_stale_span() {
        let alerts = sample();
        let mut state = RollupState::from_alerts(&alerts);
        // The first alert holds neither end of the span.
        assert!(!state.remove(&alerts[0]));
        // The last one held the end: the caller refreshes the span.
        assert!(state.remove(&alerts[1]));
        state.set_span(alerts[2].first_activity_date_time, alerts[2].activity_time());
        // Equal to a fresh state but for display names, which removals leave as they were.
        assert_eq!(without_names(state.clone()), without_names(RollupState::from_alerts(&alerts[2..])));
        assert_eq!(state.users["alice@contoso"].name, "CONTOSO\\alice");
    }

    #[test]
    fn state_round_trips_as_compact_json() {
        let state = RollupState::from_alerts(&sample());
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains(r#""devices":{"srv-02":[1,"srv-02"],"ws-01":[2,"ws-01"]}"#), "{text}");
        assert!(text.contains(r#""severities":{"low":1,"medium":1,"high":1}"#), "{text}");
        let back: RollupState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        assert_eq!(serde_json::to_string(&RollupState::default()).unwrap(), r#"{"alertCount":0,"activeAlertCount":0}"#);
        let one = RollupState::from_alerts(&sample()[..1]);
        let back: RollupState = serde_json::from_str(&serde_json::to_string(&one).unwrap()).unwrap();
        assert_eq!(back.single_alert_title().as_deref(), Some("Suspicious PowerShell command line"));
    }

    #[test]
    fn single_title_survives_adds_and_removes() {
        let alerts = sample();
        let mut state = RollupState::from_alerts(&alerts);
        state.remove(&alerts[0]);
        state.remove(&alerts[2]);
        assert_eq!(state.single_alert_title().as_deref(), Some("Connection to known C2 server"));
        assert_eq!(state.alert_count, 1);
    }

    // Property tests over small vocabularies, so alerts share assets, categories and sources.

    const TITLES: &[&str] = &["Suspicious PowerShell", "C2 beacon", "Brute force", ""];
    const SEVERITIES: &[&str] = &["unknown", "informational", "low", "medium", "high"];
    const CATEGORIES: &[&str] = &["Execution", "initial_access", "CommandAndControl", "Discovery", "Trojan"];
    const SOURCES: &[&str] = &["wazuh", "suricata", "microsoftDefenderForEndpoint"];
    const HOSTS: &[&str] = &["ws-01", "WS-01.contoso.com", "srv-02", "SRV-02", "db-03"];
    const USERS: &[&str] = &["alice@contoso.com", "CONTOSO\\alice", "bob@contoso.com", "carol"];
    const APPS: &[&str] = &["Office 365", "office 365", "Dropbox"];
    const STATES: &[&str] = &["running", "benign", "queued"];
    const LABELS: &[&str] = &["Confidential", "Public", "Secret"];

    fn device_ev(host: usize, os: usize) -> Value {
        let (platform, group) = [("Windows11", "Workstations"), ("Linux", "Servers")][os];
        json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": HOSTS[host],
               "osPlatform": platform, "rbacGroupName": group})
    }

    fn arb_alert() -> impl Strategy<Value = Alert> {
        let kinds = (
            0..TITLES.len(),
            0..SEVERITIES.len(),
            prop::collection::vec(0..CATEGORIES.len(), 0..3),
            prop::option::of(0..CATEGORIES.len()),
            0..SOURCES.len(),
            prop::option::of(0..SOURCES.len()),
            prop::collection::vec((0..HOSTS.len(), 0..2usize), 0..3),
            prop::collection::vec(0..USERS.len(), 0..3),
        );
        let more = (
            prop::collection::vec(0..APPS.len(), 0..2),
            prop::option::of(0..STATES.len()),
            prop::collection::vec(0..LABELS.len(), 0..3),
            any::<bool>(),
            0i64..10_000,
            prop::option::of(0i64..10_000),
            any::<bool>(),
            prop::collection::vec(0..3usize, 0..3),
        );
        (kinds, more).prop_map(
            |(
                (title, severity, categories, category, source, detection, hosts, users),
                (apps, state, labels, label_array, first, span, resolved, techniques),
            )| {
                let mut evidence: Vec<Value> = hosts.into_iter().map(|(h, os)| device_ev(h, os)).collect();
                evidence.extend(users.into_iter().map(|u| {
                    if USERS[u].contains('@') {
                        json!({"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": USERS[u]})
                    } else {
                        json!({"@odata.type": "#microsoft.graph.security.userEvidence",
                               "userAccount": {"accountName": USERS[u]}})
                    }
                }));
                evidence.extend(apps.into_iter().map(|a| {
                    json!({"@odata.type": "#microsoft.graph.security.cloudApplicationEvidence", "displayName": APPS[a]})
                }));
                let labels: Vec<&str> = labels.into_iter().map(|l| LABELS[l]).collect();
                let label = if label_array { json!(labels) } else { json!(labels.first()) };
                let mut value = json!({
                    "title": TITLES[title],
                    "severity": SEVERITIES[severity],
                    "serviceSource": SOURCES[source],
                    "categories": categories.into_iter().map(|c| CATEGORIES[c]).collect::<Vec<_>>(),
                    "status": if resolved { "resolved" } else { "new" },
                    "mitreTechniques": techniques.into_iter().map(|t| ["T1059", "T1071", "T1110"][t]).collect::<Vec<_>>(),
                    "customDetails": {"sensitivityLabel": label},
                    "evidence": evidence,
                });
                let obj = value.as_object_mut().unwrap();
                if let Some(c) = category {
                    obj.insert("category".into(), json!(CATEGORIES[c]));
                }
                if let Some(d) = detection {
                    obj.insert("detectionSource".into(), json!(SOURCES[d]));
                }
                if let Some(s) = state {
                    obj.insert("investigationState".into(), json!(STATES[s]));
                }
                match span {
                    Some(len) => {
                        obj.insert("firstActivityDateTime".into(), json!(ts(first).to_string()));
                        obj.insert("lastActivityDateTime".into(), json!(ts(first + len).to_string()));
                    }
                    None => {
                        obj.insert("createdDateTime".into(), json!(ts(first).to_string()));
                    }
                }
                alert(value)
            },
        )
    }

    fn alerts_and_shuffle() -> impl Strategy<Value = (Vec<Alert>, Vec<Alert>)> {
        prop::collection::vec(arb_alert(), 0..12).prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    }

    fn true_span(alerts: &[Alert]) -> (Option<Timestamp>, Option<Timestamp>) {
        let first = alerts.iter().filter_map(|a| a.first_activity_date_time.or(a.activity_time())).min();
        let last = alerts.iter().filter_map(Alert::activity_time).max();
        (first, last)
    }

    fn without_names(mut state: RollupState) -> RollupState {
        for map in [&mut state.devices, &mut state.users, &mut state.mailboxes, &mut state.apps] {
            for tally in map.values_mut() {
                tally.name.clear();
            }
        }
        state
    }

    proptest! {
        #[test]
        fn add_then_remove_all_is_empty((alerts, order) in alerts_and_shuffle()) {
            let mut state = RollupState::from_alerts(&alerts);
            for a in &order {
                state.remove(a);
            }
            prop_assert!(state.is_empty());
            prop_assert_eq!(state, RollupState::default());
        }

        #[test]
        fn merge_equals_adding_all(a in prop::collection::vec(arb_alert(), 0..8), b in prop::collection::vec(arb_alert(), 0..8)) {
            let mut merged = RollupState::from_alerts(&a);
            merged.merge(&RollupState::from_alerts(&b));
            let all = RollupState::from_alerts(a.iter().chain(&b));
            prop_assert_eq!(&merged, &all);
        }

        #[test]
        fn apply_is_order_independent((alerts, order) in alerts_and_shuffle()) {
            let one = RollupState::from_alerts(&alerts);
            let other = RollupState::from_alerts(&order);
            prop_assert_eq!(&one, &other);
            let (mut x, mut y) = (incident(), incident());
            one.apply(&mut x);
            other.apply(&mut y);
            prop_assert_eq!(&x, &y);
            prop_assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&other).unwrap());
        }

        #[test]
        fn removing_matches_a_fresh_state((alerts, order) in alerts_and_shuffle(), keep in 0usize..12) {
            let keep = keep.min(order.len());
            let mut state = RollupState::from_alerts(&alerts);
            for (i, a) in order[keep..].iter().enumerate() {
                let stale = state.remove(a);
                let rest: Vec<Alert> = order[..keep].iter().chain(&order[keep + i + 1..]).cloned().collect();
                let (first, last) = true_span(&rest);
                if stale {
                    state.set_span(first, last);
                } else {
                    prop_assert_eq!((state.first_activity, state.last_activity), (first, last));
                }
            }
            let fresh = RollupState::from_alerts(&order[..keep]);
            prop_assert_eq!(without_names(state.clone()), without_names(fresh.clone()));
            let back: RollupState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            prop_assert_eq!(&back, &state);
            if state.alert_count == 1 {
                let title = order[0].title.trim();
                let single = state.single_alert_title();
                prop_assert_eq!(single.as_deref(), (!title.is_empty()).then_some(title));
            }
        }
    }
}
