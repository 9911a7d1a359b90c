//! What the summary, graph and evidence tabs read of an incident's alerts: a bounded sample (the
//! earliest and the latest alerts by activity), so a page costs the same for ten alerts or a
//! hundred thousand, aggregated by title and detector because real incidents are mostly repeats.
//! Totals that must be exact come from the incident's roll-up instead.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use muster_core::entity::{entity_keys, EntityKind};
use muster_core::enums::{AlertSeverity, GraphEnum};
use muster_core::store::query::AlertQuery;
use muster_core::store::{PageRequest, StoredAlert};
use muster_core::{Incident, Timestamp};

use crate::api::alerts::alert_visible;
use crate::auth::Scope;
use crate::error::ApiError;
use crate::AppState;

/// Alerts read from each end of the incident's span.
pub(crate) const EACH_END: u32 = 500;

/// The alerts a view aggregates, and how many the incident holds.
pub(crate) struct Sample {
    /// Oldest activity first.
    pub(crate) alerts: Vec<StoredAlert>,
    pub(crate) total: u64,
}

impl Sample {
    /// Reads the earliest and the latest alerts the caller may see.
    pub(crate) async fn of(state: &AppState, incident: &Incident, scope: &Scope) -> Result<Self, ApiError> {
        let oldest = state.store.alerts_of_incident(incident.id, &PageRequest { limit: EACH_END, after: None }).await?;
        let mut alerts = oldest;
        if alerts.len() == EACH_END as usize {
            let query = AlertQuery::of_incident(incident.id, EACH_END);
            let seen: HashSet<String> = alerts.iter().map(|a| a.alert.id.clone()).collect();
            let newest = state.store.query_alerts(&query).await?.items;
            alerts.extend(newest.into_iter().filter(|a| !seen.contains(&a.alert.id)));
        }
        alerts.retain(|a| alert_visible(scope, &a.alert));
        alerts.sort_by_key(|a| (a.alert.activity_time(), a.seq));
        Ok(Self { alerts, total: incident.alert_count })
    }

    /// Whether every alert of the incident is in the sample.
    pub(crate) fn complete(&self) -> bool {
        self.alerts.len() as u64 >= self.total
    }

    /// The sample's alerts grouped by title and detector, earliest first.
    pub(crate) fn groups(&self) -> Vec<AlertGroup> {
        let mut by_key: BTreeMap<(String, String), AlertGroup> = BTreeMap::new();
        for stored in &self.alerts {
            let alert = &stored.alert;
            let key = (alert.title.clone(), alert.detector_id.clone().unwrap_or_default());
            let group = by_key.entry(key).or_insert_with(|| AlertGroup {
                title: alert.title.clone(),
                detector: alert.detector_id.clone(),
                severity: alert.severity,
                count: 0,
                first: None,
                last: None,
                categories: BTreeSet::new(),
                techniques: BTreeSet::new(),
                sources: BTreeSet::new(),
                entities: BTreeMap::new(),
            });
            group.count += 1;
            if alert.severity.rank() > group.severity.rank() {
                group.severity = alert.severity;
            }
            let first = alert.first_activity_date_time.or(alert.activity_time());
            group.first = min(group.first, first);
            group.last = group.last.max(alert.activity_time());
            group.categories.extend(alert.categories.iter().cloned().chain(alert.category.clone()));
            group.techniques.extend(alert.mitre_techniques.iter().cloned());
            group.sources.insert(alert.service_source.as_str().to_owned());
            for key in entity_keys(alert) {
                group.entities.entry((key.kind, key.value)).or_insert(key.display);
            }
        }
        let mut groups: Vec<AlertGroup> = by_key.into_values().collect();
        groups.sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.title.cmp(&b.title)));
        groups
    }
}

fn min(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Alerts of the same title and detector: one line of the timeline, one node of the graph.
pub(crate) struct AlertGroup {
    pub(crate) title: String,
    pub(crate) detector: Option<String>,
    /// The highest of its alerts'.
    pub(crate) severity: AlertSeverity,
    pub(crate) count: u64,
    pub(crate) first: Option<Timestamp>,
    pub(crate) last: Option<Timestamp>,
    pub(crate) categories: BTreeSet<String>,
    pub(crate) techniques: BTreeSet<String>,
    pub(crate) sources: BTreeSet<String>,
    /// What its alerts name, by kind and normalised value, with a name to show.
    pub(crate) entities: BTreeMap<(EntityKind, String), String>,
}
