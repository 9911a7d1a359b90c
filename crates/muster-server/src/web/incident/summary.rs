//! The summary tab: what happened, in order (the alert timeline, aggregated), with the tactics and
//! techniques, the impacted assets and the sources.

use std::collections::BTreeMap;

use askama::Template;
use muster_core::rollup::AssetTally;

use super::sample::Sample;
use super::{html, labels, Shown};
use crate::error::ApiError;

/// Timeline lines shown at most; the rest are counted.
const TIMELINE_ROWS: usize = 100;
/// Assets of each kind shown on the summary.
const SUMMARY_ASSETS: usize = 5;

pub(crate) struct Counted {
    pub(crate) name: String,
    pub(crate) count: u64,
}

/// Most counted first, ties by name.
pub(crate) fn ranked(map: &BTreeMap<String, u64>, limit: usize) -> Vec<Counted> {
    let mut items: Vec<Counted> =
        map.iter().map(|(name, count)| Counted { name: name.clone(), count: *count }).collect();
    items.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    items.truncate(limit);
    items
}

pub(crate) fn ranked_assets(map: &BTreeMap<String, AssetTally>, limit: usize) -> Vec<Counted> {
    let mut items: Vec<Counted> = map.values().map(|t| Counted { name: t.name.clone(), count: t.alerts }).collect();
    items.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    items.truncate(limit);
    items
}

struct Row {
    first: String,
    last: String,
    count: u64,
    severity: String,
    severity_class: &'static str,
    title: String,
    detector: String,
    categories: Vec<String>,
    techniques: Vec<String>,
    sources: String,
}

struct AssetKind {
    label: &'static str,
    total: usize,
    top: Vec<Counted>,
}

#[derive(Template)]
#[template(path = "incident/summary.html")]
struct Summary {
    id: String,
    description: Option<String>,
    rows: Vec<Row>,
    more_rows: usize,
    sample_note: Option<String>,
    categories: Vec<Counted>,
    techniques: Vec<Counted>,
    service_sources: Vec<Counted>,
    detection_sources: Vec<Counted>,
    assets: Vec<AssetKind>,
}

/// Says what part of the alerts an aggregate was made from, when not all of them.
pub(crate) fn sample_note(sample: &Sample) -> Option<String> {
    (!sample.complete()).then(|| {
        format!(
            "Aggregated from {} of the incident's {} alerts: the earliest and the latest by activity. Counts in the side panels cover every alert.",
            sample.alerts.len(),
            sample.total
        )
    })
}

pub(crate) async fn tab(shown: &Shown<'_>) -> Result<String, ApiError> {
    let incident = shown.incident;
    let sample = Sample::of(shown.state, incident, &shown.principal.scope).await?;
    let groups = sample.groups();
    let more_rows = groups.len().saturating_sub(TIMELINE_ROWS);
    let rows = groups
        .into_iter()
        .take(TIMELINE_ROWS)
        .map(|g| Row {
            first: labels::time(g.first),
            last: labels::time(g.last),
            count: g.count,
            severity: labels::severity(g.severity),
            severity_class: labels::severity_class(g.severity),
            title: g.title,
            detector: g.detector.unwrap_or_default(),
            categories: g.categories.into_iter().collect(),
            techniques: g.techniques.into_iter().collect(),
            sources: g.sources.into_iter().collect::<Vec<_>>().join(", "),
        })
        .collect();
    let rollup = &incident.meta.rollup;
    let asset = |label, map: &BTreeMap<String, AssetTally>| AssetKind {
        label,
        total: map.len(),
        top: ranked_assets(map, SUMMARY_ASSETS),
    };
    html(&Summary {
        id: incident.id.to_string(),
        description: incident.summary.clone().or_else(|| incident.description.clone()),
        rows,
        more_rows,
        sample_note: sample_note(&sample),
        categories: ranked(&rollup.categories, 20),
        techniques: ranked(&rollup.mitre_techniques, 20),
        service_sources: ranked(&rollup.service_sources, 10),
        detection_sources: ranked(&rollup.detection_sources, 10),
        assets: vec![
            asset("Devices", &rollup.devices),
            asset("Users", &rollup.users),
            asset("Mailboxes", &rollup.mailboxes),
            asset("Apps", &rollup.apps),
        ],
    })
}
