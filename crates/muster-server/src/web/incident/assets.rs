//! The assets tab (devices, users, mailboxes and apps, exact, from the incident's roll-up) and the
//! evidence tab (files, processes, IPs and URLs with their verdicts, aggregated from the alerts'
//! evidence).

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use muster_core::entity::{evidence_item_keys, EntityKind};
use muster_core::enums::{EvidenceVerdict, GraphEnum};
use muster_core::evidence::Evidence;

use super::sample::Sample;
use super::summary::{ranked_assets, sample_note, Counted};
use super::{html, labels, Shown};
use crate::error::ApiError;

/// Rows of one kind shown at most; the rest are counted.
const MAX_ROWS: usize = 200;

struct AssetTable {
    label: &'static str,
    total: usize,
    rows: Vec<Counted>,
}

#[derive(Template)]
#[template(path = "incident/assets.html")]
struct AssetsTab {
    tables: Vec<AssetTable>,
    max_rows: usize,
}

pub(crate) fn assets_tab(shown: &Shown<'_>) -> Result<String, ApiError> {
    let rollup = &shown.incident.meta.rollup;
    let table = |label, map| AssetTable { label, total: map_len(map), rows: ranked_assets(map, MAX_ROWS) };
    html(&AssetsTab {
        tables: vec![
            table("Devices", &rollup.devices),
            table("Users", &rollup.users),
            table("Mailboxes", &rollup.mailboxes),
            table("Apps", &rollup.apps),
        ],
        max_rows: MAX_ROWS,
    })
}

fn map_len<V>(map: &BTreeMap<String, V>) -> usize {
    map.len()
}

/// How bad a verdict is, for keeping the worst one seen.
fn badness(v: Option<EvidenceVerdict>) -> u8 {
    match v {
        Some(EvidenceVerdict::Malicious) => 3,
        Some(EvidenceVerdict::Suspicious) => 2,
        Some(EvidenceVerdict::NoThreatsFound) => 1,
        _ => 0,
    }
}

#[derive(Default)]
struct Tally {
    name: String,
    alerts: BTreeSet<String>,
    verdict: Option<EvidenceVerdict>,
    roles: BTreeSet<&'static str>,
}

struct EvidenceRow {
    rank: u8,
    name: String,
    alerts: usize,
    verdict: String,
    verdict_class: &'static str,
    roles: String,
}

struct EvidenceTable {
    label: &'static str,
    total: usize,
    rows: Vec<EvidenceRow>,
}

#[derive(Template)]
#[template(path = "incident/evidence.html")]
struct EvidenceTab {
    tables: Vec<EvidenceTable>,
    sample_note: Option<String>,
    max_rows: usize,
}

/// Which table an evidence item's key goes in, and under what name.
fn placed(ev: &Evidence) -> Vec<(&'static str, String, String)> {
    if let Evidence::Process(p) = ev {
        let image = p.image_file.as_ref().and_then(|f| f.file_name.clone()).unwrap_or_default();
        let line = p.process_command_line.clone().unwrap_or_default();
        let name = if line.is_empty() { image } else { line };
        return if name.is_empty() { Vec::new() } else { vec![("Processes", name.to_lowercase(), name)] };
    }
    evidence_item_keys(ev)
        .into_iter()
        .filter_map(|k| {
            let table = match k.kind {
                EntityKind::File => "Files",
                EntityKind::Ip => "IP addresses",
                EntityKind::Url | EntityKind::Domain => "URLs and domains",
                _ => return None,
            };
            let name = if k.display.is_empty() { k.value.clone() } else { k.display };
            Some((table, k.value, name))
        })
        .collect()
}

pub(crate) async fn evidence_tab(shown: &Shown<'_>) -> Result<String, ApiError> {
    let sample = Sample::of(shown.state, shown.incident, &shown.principal.scope).await?;
    let order = ["Files", "Processes", "IP addresses", "URLs and domains"];
    let mut tallies: BTreeMap<&'static str, BTreeMap<String, Tally>> = BTreeMap::new();
    for stored in &sample.alerts {
        for ev in &stored.alert.evidence {
            for (table, value, name) in placed(ev) {
                let tally = tallies.entry(table).or_default().entry(value).or_default();
                if tally.name.is_empty() {
                    tally.name = name;
                }
                tally.alerts.insert(stored.alert.id.clone());
                if badness(ev.verdict()) > badness(tally.verdict) {
                    tally.verdict = ev.verdict();
                }
                tally.roles.extend(ev.roles().iter().map(|r| r.as_str()));
            }
        }
    }
    let tables = order
        .iter()
        .map(|label| {
            let found = tallies.remove(label).unwrap_or_default();
            let total = found.len();
            let mut rows: Vec<EvidenceRow> = found
                .into_values()
                .map(|t| EvidenceRow {
                    rank: badness(t.verdict),
                    alerts: t.alerts.len(),
                    verdict: t.verdict.map_or_else(|| "Unknown".to_owned(), |v| labels::words(v.as_str())),
                    verdict_class: match badness(t.verdict) {
                        3 => "verdict bad",
                        2 => "verdict suspicious",
                        1 => "verdict clean",
                        _ => "verdict",
                    },
                    roles: t.roles.into_iter().collect::<Vec<_>>().join(", "),
                    name: t.name,
                })
                .collect();
            rows.sort_by(|a, b| b.rank.cmp(&a.rank).then(b.alerts.cmp(&a.alerts)).then_with(|| a.name.cmp(&b.name)));
            rows.truncate(MAX_ROWS);
            EvidenceTable { label, total, rows }
        })
        .collect();
    html(&EvidenceTab { tables, sample_note: sample_note(&sample), max_rows: MAX_ROWS })
}
