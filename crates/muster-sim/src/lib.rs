//! A seeded, deterministic simulator of an organisation's security alert stream, for tests,
//! benchmarks and the demo. Pure: it returns values and the caller decides what to write.
//!
//! The world is Contoso: workstations `ws-0001`…, servers (`dc-01`, `fs-01`, `proxy-01`,
//! `srv-web-01`, …), one person per workstation (`first.last@contoso.com`, also written
//! `CONTOSO\first.last`), a shared admin and a service account, a proxy with one public egress
//! address. Into its benign noise (steady recurring detector/entity pairs, one-off alerts, alerts
//! on the very devices under attack) the simulator plants multi-stage attacks, each linked only
//! through its own entities. Every alert is Graph `security.alert` (alerts_v2) JSON that
//! [`muster_core::Alert::from_json_value`] accepts, and comes with a [`TruthRow`] saying which
//! attack, if any, it belongs to.
//!
//! ```
//! let config = muster_sim::SimConfig { seed: 7, target_alerts: 2_000, attacks: 3, ..Default::default() };
//! let sim = muster_sim::simulate(&config);
//! assert_eq!(sim.alerts.len(), sim.truth.len());
//! assert!(sim.truth.iter().any(|t| t.group == "attack-1"));
//! ```
//!
//! Same configuration ⇒ byte-identical output. [`simulate_iter`] streams alerts in arrival
//! (`createdDateTime`) order without holding them all.

mod attack;
mod event;
mod noise;
pub mod queue;
mod render;
mod rng;
pub mod score;
pub mod world;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use muster_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;
use crate::noise::Noise;
use crate::render::Renderer;
pub use crate::world::World;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Everything random follows from this.
    pub seed: u64,
    /// Start of the simulated period.
    pub start: Timestamp,
    /// Length of the simulated period, in seconds (at least 60).
    pub duration_secs: i64,
    /// Number of attacks, spread over the period.
    pub attacks: usize,
    /// Approximate number of alerts in total.
    pub target_alerts: usize,
    /// Number of workstations, one person each (at least 10). Servers scale with it.
    pub workstations: usize,
    /// Share of `target_alerts` the attacks should raise (bursts and repeats fill it); the rest
    /// is benign. Attacks always raise their stages, so with few alerts the share can be higher.
    pub attack_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            // 2024-06-03T08:00:00Z
            start: Timestamp::from_secs(1_717_401_600),
            duration_secs: 2 * 86_400,
            attacks: 10,
            target_alerts: 20_000,
            workstations: 250,
            attack_share: 0.1,
        }
    }
}

impl SimConfig {
    pub(crate) fn duration_micros(&self) -> i64 {
        self.duration_secs.max(60).saturating_mul(1_000_000)
    }
}

/// The ground truth for one alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TruthRow {
    pub provider_alert_id: String,
    /// The attack it belongs to (`attack-3`), or empty for benign alerts.
    pub group: String,
    pub is_attack: bool,
}

/// A whole simulation held in memory.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Graph alert JSON in arrival order.
    pub alerts: Vec<Value>,
    /// One row per alert, in the same order.
    pub truth: Vec<TruthRow>,
    /// The organisation the alerts are about.
    pub world: World,
}

/// Runs the whole simulation and collects it.
pub fn simulate(config: &SimConfig) -> Simulation {
    let mut iter = simulate_iter(config);
    let mut alerts = Vec::with_capacity(iter.len());
    let mut truth = Vec::with_capacity(iter.len());
    for (alert, row) in iter.by_ref() {
        alerts.push(alert);
        truth.push(row);
    }
    Simulation { alerts, truth, world: iter.into_world() }
}

/// Streams the simulation in arrival order: each alert with its truth row.
pub fn simulate_iter(config: &SimConfig) -> SimIter {
    SimIter::new(config)
}

/// The world a configuration simulates (what [`Simulation::world`] holds), without the alerts.
pub fn world(config: &SimConfig) -> World {
    World::build(config.seed, config.workstations)
}

/// A source of events in activity order, with its next event ready.
#[derive(Debug)]
enum Source {
    Planned(std::vec::IntoIter<Event>),
    Noise(Box<Noise>),
}

impl Source {
    fn next_event(&mut self) -> Option<Event> {
        match self {
            Self::Planned(events) => events.next(),
            Self::Noise(noise) => noise.next_event(),
        }
    }
}

/// An event waiting for its arrival time, ordered by (arrival, uid).
#[derive(Debug, PartialEq, Eq)]
struct Pending {
    created: i64,
    uid: u64,
    event: Event,
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.created, self.uid).cmp(&(other.created, other.uid))
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The streaming simulation: an iterator of `(alert JSON, truth row)` in arrival order.
///
/// Sources produce events in activity order; an event can only arrive after its activity, so any
/// waiting event that arrives before the earliest next activity of every source is safe to emit.
#[derive(Debug)]
pub struct SimIter {
    renderer: Renderer,
    sources: Vec<(Option<Event>, Source, u64)>,
    /// (next activity time, source index) of every source with events left.
    next: BinaryHeap<Reverse<(i64, usize)>>,
    pending: BinaryHeap<Reverse<Pending>>,
    remaining: usize,
}

impl SimIter {
    fn new(config: &SimConfig) -> Self {
        let world = world(config);
        let (plans, mut planned) = attack::plan(config, &world);
        planned.sort_by_key(|e| e.last);
        let attack_alerts = planned.iter().filter(|e| e.group != 0).count();
        let benign = config.target_alerts.saturating_sub(attack_alerts);
        let coincident = planned.len() - attack_alerts;
        let noise = noise::sources(config, &world, benign.saturating_sub(coincident));

        let mut sources: Vec<(Option<Event>, Source, u64)> = Vec::with_capacity(noise.len() + 1);
        let mut remaining = planned.len();
        sources.push((None, Source::Planned(planned.into_iter()), 0));
        for n in noise {
            remaining += n.len();
            sources.push((None, Source::Noise(Box::new(n)), 0));
        }
        let mut next = BinaryHeap::with_capacity(sources.len());
        for (i, (head, source, _)) in sources.iter_mut().enumerate() {
            *head = source.next_event();
            if let Some(e) = head {
                next.push(Reverse((e.last, i)));
            }
        }
        Self {
            renderer: Renderer::new(config.seed, world, plans),
            sources,
            next,
            pending: BinaryHeap::new(),
            remaining,
        }
    }

    /// The organisation being simulated.
    pub fn world(&self) -> &World {
        &self.renderer.world
    }

    /// The organisation, once the alerts are consumed.
    pub fn into_world(self) -> World {
        self.renderer.world
    }

    /// Moves one event from the source with the earliest activity into the waiting set.
    fn pull(&mut self) -> bool {
        let Some(Reverse((_, i))) = self.next.pop() else { return false };
        let (head, source, seq) = &mut self.sources[i];
        if let Some(event) = head.take() {
            let uid = ((i as u64) << 40) | *seq;
            *seq += 1;
            self.pending.push(Reverse(Pending { created: event.created, uid, event }));
        }
        *head = source.next_event();
        if let Some(e) = head {
            self.next.push(Reverse((e.last, i)));
        }
        true
    }
}

impl Iterator for SimIter {
    type Item = (Value, TruthRow);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let horizon = self.next.peek().map(|Reverse((t, _))| *t);
            let ready = match (self.pending.peek(), horizon) {
                (Some(Reverse(p)), Some(h)) => p.created <= h,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if ready {
                let Reverse(p) = self.pending.pop()?;
                self.remaining = self.remaining.saturating_sub(1);
                let (alert, provider_alert_id) = self.renderer.render(&p.event, p.uid);
                let group = if p.event.group == 0 { String::new() } else { format!("attack-{}", p.event.group) };
                let is_attack = p.event.group != 0;
                return Some((alert, TruthRow { provider_alert_id, group, is_attack }));
            }
            if !self.pull() {
                return None;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for SimIter {}
