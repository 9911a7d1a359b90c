//! The incident graph: alerts (aggregated by title and detector) on the left, the devices, users
//! and mailboxes they touch in the middle, the IPs, files and URLs they name on the right, each
//! edge an alert kind naming an entity. Server-rendered SVG with a fixed, deterministic layout
//! (alerts by first activity, entities by how many alert kinds share them), so the same incident
//! always draws the same picture and the entities an attack pivots through stand out.

use std::collections::BTreeMap;

use askama::Template;
use muster_core::entity::EntityKind;

use super::sample::Sample;
use super::summary::sample_note;
use super::{html, labels, Shown};
use crate::error::ApiError;

/// Alert kinds drawn at most.
const MAX_ALERT_NODES: usize = 12;
/// Entities of one kind drawn at most.
const MAX_PER_KIND: usize = 6;
const ROW: i64 = 36;
const TOP: i64 = 48;
const LABEL_CHARS: usize = 34;
/// The columns: alerts, assets, indicators.
const COLUMNS: [i64; 3] = [16, 470, 860];
const ALERT_WIDTH: i64 = 300;

const ASSETS: [EntityKind; 3] = [EntityKind::Device, EntityKind::User, EntityKind::Mailbox];
const INDICATORS: [EntityKind; 3] = [EntityKind::Ip, EntityKind::File, EntityKind::Url];

fn kind_label(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Device => "Devices",
        EntityKind::User => "Users",
        EntityKind::Mailbox => "Mailboxes",
        EntityKind::Ip => "IP addresses",
        EntityKind::File => "Files",
        EntityKind::Url => "URLs",
        _ => "Other",
    }
}

fn short(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(LABEL_CHARS - 1).collect::<String>())
    }
}

struct AlertNode {
    y: i64,
    text_y: i64,
    label: String,
    full: String,
    class: &'static str,
}

struct EntityNode {
    cx: i64,
    cy: i64,
    label_x: i64,
    label: String,
    full: String,
    class: String,
}

struct Heading {
    x: i64,
    y: i64,
    text: &'static str,
}

struct Edge {
    d: String,
    shared: bool,
}

#[derive(Template)]
#[template(path = "incident/graph.html")]
struct Graph {
    width: i64,
    height: i64,
    alert_x: i64,
    alert_width: i64,
    alerts: Vec<AlertNode>,
    entities: Vec<EntityNode>,
    headings: Vec<Heading>,
    edges: Vec<Edge>,
    left_out: Vec<String>,
    sample_note: Option<String>,
    empty: bool,
}

/// An entity to draw: which alert kinds name it.
struct Linked {
    name: String,
    groups: Vec<usize>,
}

pub(crate) async fn tab(shown: &Shown<'_>) -> Result<String, ApiError> {
    let sample = Sample::of(shown.state, shown.incident, &shown.principal.scope).await?;
    let mut groups = sample.groups();
    let mut left_out = Vec::new();
    if groups.len() > MAX_ALERT_NODES {
        // The most frequent and most severe kinds tell the story; keep them in time order.
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(groups[i].severity), std::cmp::Reverse(groups[i].count), i));
        let mut keep: Vec<usize> = order.into_iter().take(MAX_ALERT_NODES).collect();
        keep.sort_unstable();
        left_out.push(format!("{} kinds of alert", groups.len() - MAX_ALERT_NODES));
        let mut kept = Vec::with_capacity(keep.len());
        for (i, g) in groups.into_iter().enumerate() {
            if keep.binary_search(&i).is_ok() {
                kept.push(g);
            }
        }
        groups = kept;
    }

    // Every entity the drawn alert kinds name, with the kinds that name it.
    let mut linked: BTreeMap<(EntityKind, String), Linked> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        for ((kind, value), name) in &g.entities {
            if ASSETS.contains(kind) || INDICATORS.contains(kind) {
                let entry = linked
                    .entry((*kind, value.clone()))
                    .or_insert_with(|| Linked { name: name.clone(), groups: Vec::new() });
                entry.groups.push(i);
            }
        }
    }

    let alerts: Vec<AlertNode> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let y = TOP + i as i64 * ROW;
            let count = if g.count > 1 { format!(" ×{}", g.count) } else { String::new() };
            AlertNode {
                y,
                text_y: y + 18,
                label: format!("{}{count}", short(&g.title)),
                full: format!(
                    "{} — {} alerts, {} to {}",
                    g.title,
                    g.count,
                    labels::time(g.first),
                    labels::time(g.last)
                ),
                class: labels::severity_class(g.severity),
            }
        })
        .collect();

    let mut entities = Vec::new();
    let mut edges = Vec::new();
    let mut headings = vec![Heading { x: COLUMNS[0], y: TOP - 16, text: "Alerts (by first activity)" }];
    let mut tallest = alerts.len() as i64;
    for (column, kinds) in [(1usize, ASSETS), (2, INDICATORS)] {
        let x = COLUMNS[column];
        let mut row = 0i64;
        for kind in kinds {
            let mut of_kind: Vec<&Linked> = linked.iter().filter(|((k, _), _)| *k == kind).map(|(_, l)| l).collect();
            if of_kind.is_empty() {
                continue;
            }
            of_kind.sort_by(|a, b| b.groups.len().cmp(&a.groups.len()).then_with(|| a.name.cmp(&b.name)));
            if of_kind.len() > MAX_PER_KIND {
                left_out.push(format!("{} {}", of_kind.len() - MAX_PER_KIND, kind_label(kind).to_lowercase()));
                of_kind.truncate(MAX_PER_KIND);
            }
            headings.push(Heading { x, y: TOP + row * ROW + 12, text: kind_label(kind) });
            row += 1;
            for entity in of_kind {
                let cy = TOP + row * ROW + 12;
                let shared = entity.groups.len() > 1;
                for &g in &entity.groups {
                    let (x1, y1) = (COLUMNS[0] + ALERT_WIDTH, alerts[g].y + 13);
                    let mid = (x1 + x) / 2;
                    edges.push(Edge { d: format!("M{x1} {y1} C{mid} {y1} {mid} {cy} {} {cy}", x + 8), shared });
                }
                let class = format!("node {}{}", kind.as_str(), if shared { " shared" } else { "" });
                entities.push(EntityNode {
                    cx: x + 8,
                    cy,
                    label_x: x + 22,
                    label: short(&entity.name),
                    full: format!("{} — named by {} kinds of alert", entity.name, entity.groups.len()),
                    class,
                });
                row += 1;
            }
        }
        tallest = tallest.max(row);
    }
    html(&Graph {
        width: COLUMNS[2] + 300,
        height: TOP + tallest * ROW + 8,
        alert_x: COLUMNS[0],
        alert_width: ALERT_WIDTH,
        empty: alerts.is_empty(),
        alerts,
        entities,
        headings,
        edges,
        left_out,
        sample_note: sample_note(&sample),
    })
}
