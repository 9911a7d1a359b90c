//! The correlation engine: decides, alert by alert, which incident each belongs to. Pure and
//! deterministic: the same stream gives the same incidents whatever the batch sizes, and it keeps
//! only the window's worth of recent keys, measured back from the latest activity it has seen.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use foldhash::HashMap as FoldHashMap;

use super::config::CorrelationConfig;
use super::noise::{NoiseTracker, PairVerdict};
use crate::entity::EntityKind;
use crate::enums::{AlertClassification, AlertDetermination, CorrelationReasons};
use crate::ids::IncidentId;
use crate::time::Timestamp;

/// A normalised entity key as correlation links on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkKey {
    pub kind: EntityKind,
    pub value: String,
}

impl LinkKey {
    pub fn new(kind: EntityKind, value: impl Into<String>) -> Self {
        Self { kind, value: value.into() }
    }

    /// Devices and user accounts carry unrelated activity all day; they link in the shorter window.
    fn is_busy(&self) -> bool {
        matches!(self.kind, EntityKind::Device | EntityKind::User)
    }

    /// What a link through this key says about the relation.
    fn reason(&self) -> CorrelationReasons {
        match self.kind {
            EntityKind::Device | EntityKind::User | EntityKind::Mailbox => CorrelationReasons::SAME_ASSET,
            _ => CorrelationReasons::SHARED_INDICATORS,
        }
    }
}

/// Where a stored alert already is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub incident: IncidentId,
    /// A person put it there: correlation never moves it.
    pub pinned: bool,
}

/// What the engine needs to know of one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFacts {
    pub id: String,
    pub at: Timestamp,
    /// The detector: service source and detector id (or title).
    pub detector: String,
    /// Its linking keys, sorted and distinct.
    pub keys: Vec<LinkKey>,
    /// Lower-cased device groups of its devices.
    pub device_groups: Vec<String>,
    /// Set when the alert is stored already (sent again, or reloaded at start-up).
    pub placed: Option<Placement>,
}

/// What decides whether correlation may add to an incident, or merge it with another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFacts {
    /// Resolved or redirected: correlation never reopens it.
    pub closed: bool,
    /// Lower-cased assignee.
    pub assigned_to: Option<String>,
    pub classification: Option<AlertClassification>,
    pub determination: Option<AlertDetermination>,
    pub device_groups: BTreeSet<String>,
    pub alert_count: u64,
    /// Holds one recurring (detector, entity) pair's alerts: never merged with an attack.
    pub recurring: bool,
}

impl IncidentFacts {
    /// Whether two incidents may become one automatically.
    fn mergeable_with(&self, other: &IncidentFacts) -> bool {
        let groups_meet = self.device_groups.is_empty()
            || other.device_groups.is_empty()
            || !self.device_groups.is_disjoint(&other.device_groups);
        !self.closed
            && !other.closed
            && !self.recurring
            && !other.recurring
            && self.assigned_to == other.assigned_to
            && self.classification == other.classification
            && self.determination == other.determination
            && groups_meet
    }
}

/// Where one alert went, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub alert_id: String,
    pub incident: IncidentId,
    /// The incident was opened for this alert.
    pub created: bool,
    pub reasons: CorrelationReasons,
    /// The alert is a recurring pair's, grouped apart from attacks.
    pub recurring: bool,
}

/// One incident folded into an older one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub from: IncidentId,
    pub into: IncidentId,
    pub reasons: CorrelationReasons,
}

/// What one call to [`Engine::process`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub decisions: Vec<Decision>,
    pub merges: Vec<Merge>,
}

/// Which incidents saw a key, and when.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    incident: IncidentId,
    first: i64,
    last: i64,
}

/// How often the engine forgets what fell out of its memory.
const PRUNE_EVERY: usize = 50_000;

/// The correlation engine. Its state is the window's worth of keys and the noise history.
#[derive(Debug)]
pub struct Engine {
    config: CorrelationConfig,
    /// Keys that never link, as kind and lower-cased value.
    excluded: Vec<(EntityKind, String)>,
    next_id: i64,
    /// The latest activity time seen, in seconds: "now" for the engine's memory.
    high_water: i64,
    keys: FoldHashMap<LinkKey, Vec<Sighting>>,
    noise: NoiseTracker,
    /// The open incident of each recurring (detector, key) pair (by [`pair_hash`]), and when it
    /// last grew.
    recurring: FoldHashMap<u64, (IncidentId, i64)>,
    incidents: FoldHashMap<IncidentId, IncidentFacts>,
    redirects: FoldHashMap<IncidentId, IncidentId>,
    /// The distinct devices, users and mailboxes each key was seen with (hashed), and when:
    /// a key seen alongside too many of them is prevalent (a proxy, a domain controller).
    companions: FoldHashMap<LinkKey, FoldHashMap<u64, i64>>,
    since_prune: usize,
}

impl Engine {
    /// An engine that numbers new incidents after `max_incident_id`.
    pub fn new(config: CorrelationConfig, max_incident_id: i64) -> Self {
        // `check` made sure each is kind:value.
        let excluded = config
            .exclusions
            .iter()
            .filter_map(|e| e.trim().split_once(':'))
            .filter_map(|(kind, value)| Some((kind.parse::<EntityKind>().ok()?, value.trim().to_lowercase())))
            .collect();
        Self {
            config,
            excluded,
            next_id: max_incident_id + 1,
            high_water: i64::MIN,
            keys: FoldHashMap::default(),
            noise: NoiseTracker::default(),
            recurring: FoldHashMap::default(),
            incidents: FoldHashMap::default(),
            redirects: FoldHashMap::default(),
            companions: FoldHashMap::default(),
            since_prune: 0,
        }
    }

    /// The facts the engine holds about an incident, if it remembers it.
    pub fn incident(&self, id: IncidentId) -> Option<&IncidentFacts> {
        self.incidents.get(&self.resolve(id))
    }

    /// Follows merges to the surviving incident.
    pub fn resolve(&self, mut id: IncidentId) -> IncidentId {
        while let Some(next) = self.redirects.get(&id) {
            id = *next;
        }
        id
    }

    /// Tells the engine about an incident it must respect: people changed its status, assignee or
    /// classification, or it was loaded at start-up.
    pub fn incident_changed(&mut self, id: IncidentId, facts: IncidentFacts) {
        self.incidents.insert(id, facts);
    }

    /// Numbers an incident a person opens (alerts moved to a new incident); it starts empty, and
    /// [`Self::pin`] fills it.
    pub fn new_incident_id(&mut self) -> IncidentId {
        let id = IncidentId::new(self.next_id).unwrap_or_else(|_| unreachable!("ids start at 1"));
        self.next_id += 1;
        self.incidents.insert(id, IncidentFacts::default());
        id
    }

    /// A person moved an alert: it is pinned to `to`, and its keys now point there.
    pub fn pin(&mut self, alert: &AlertFacts, to: IncidentId) {
        let at = alert.at.micros() / 1_000_000;
        for key in &alert.keys {
            self.sight(key, to, at);
        }
        if let Some(facts) = self.incidents.get_mut(&to) {
            facts.alert_count += 1;
        }
    }

    /// A person merged `from` into `into`.
    pub fn merged(&mut self, from: IncidentId, into: IncidentId) {
        if from == into {
            return;
        }
        self.redirects.insert(from, into);
        let moved = self.incidents.get(&from).cloned().unwrap_or_default();
        if let Some(f) = self.incidents.get_mut(&from) {
            f.closed = true;
        }
        let target = self.incidents.entry(into).or_default();
        target.alert_count += moved.alert_count;
        target.device_groups.extend(moved.device_groups);
    }

    /// Replays a stored alert at start-up: it stays where it is, and the engine's memory (keys,
    /// noise history) becomes what it would be had it never stopped.
    pub fn restore(&mut self, alert: &AlertFacts) {
        let Some(placed) = alert.placed else { return };
        let at = alert.at.micros() / 1_000_000;
        self.high_water = self.high_water.max(at);
        let keys = self.linking_keys(alert);
        let verdicts: Vec<PairVerdict> =
            keys.iter().map(|key| self.noise.observe(pair_hash(&alert.detector, key), at, &self.config)).collect();
        self.accompany(&keys, at);
        let incident = self.resolve(placed.incident);
        let recurring = self.incidents.get(&incident).is_some_and(|f| f.recurring);
        if recurring {
            if let Some(key) = keys.get(recurring_pair(&verdicts).unwrap_or(0)) {
                self.remember_recurring(pair_hash(&alert.detector, key), incident, at);
            }
        } else {
            for key in &keys {
                self.sight(key, incident, at);
            }
        }
        self.next_id = self.next_id.max(incident.get() + 1);
    }

    /// Decides the incident of each alert, in order.
    pub fn process<'a>(&mut self, alerts: impl IntoIterator<Item = &'a AlertFacts>) -> Step {
        let mut step = Step::default();
        for alert in alerts {
            let decision = self.place(alert, &mut step.merges);
            step.decisions.push(decision);
            self.since_prune += 1;
            if self.since_prune >= PRUNE_EVERY {
                self.prune();
            }
        }
        step
    }

    fn linking_keys<'a>(&self, alert: &'a AlertFacts) -> Vec<&'a LinkKey> {
        alert
            .keys
            .iter()
            .filter(|k| {
                !self.excluded.iter().any(|(kind, value)| *kind == k.kind && value.eq_ignore_ascii_case(&k.value))
            })
            .collect()
    }

    fn place(&mut self, alert: &AlertFacts, merges: &mut Vec<Merge>) -> Decision {
        let at = alert.at.micros() / 1_000_000;
        self.high_water = self.high_water.max(at);
        let keys = self.linking_keys(alert);

        // An alert sent again stays where it is (pinned or not); its keys point there.
        if let Some(placed) = alert.placed {
            let incident = self.resolve(placed.incident);
            if !self.incidents.get(&incident).is_some_and(|f| f.recurring) {
                for key in &keys {
                    self.sight(key, incident, at);
                }
            }
            return Decision {
                alert_id: alert.id.clone(),
                incident,
                created: false,
                reasons: CorrelationReasons::empty(),
                recurring: false,
            };
        }

        if keys.is_empty() {
            let incident = self.open(alert, false);
            return self.decision(alert, incident, true, CorrelationReasons::empty(), false);
        }

        self.accompany(&keys, at);
        let mut verdicts = Vec::with_capacity(keys.len());
        for key in &keys {
            verdicts.push(self.noise.observe(pair_hash(&alert.detector, key), at, &self.config));
        }
        if verdicts.iter().all(|v| *v == PairVerdict::Recurring) {
            return self.place_recurring(alert, keys[0], at);
        }
        // A key this detector fires on steadily says nothing about an attack: the alert links only
        // through the keys it is new (or bursting) with. A background alert whose new keys link
        // nowhere (a scanner's fresh address against a server that logs such failures all day)
        // stays with its recurring pair rather than opening an incident of its own.
        let fresh: Vec<&LinkKey> =
            keys.iter().zip(&verdicts).filter(|(_, v)| **v != PairVerdict::Recurring).map(|(k, _)| *k).collect();
        let candidates = self.candidates(&fresh, at);
        if candidates.is_empty() && !verdicts.contains(&PairVerdict::Burst) {
            if let Some(i) = recurring_pair(&verdicts) {
                return self.place_recurring(alert, keys[i], at);
            }
        }
        let Some((&survivor, _)) = candidates.iter().next() else {
            let incident = self.open(alert, false);
            for key in &keys {
                self.sight(key, incident, at);
            }
            return self.decision(alert, incident, true, CorrelationReasons::empty(), false);
        };
        let mut reasons = CorrelationReasons::TEMPORAL_PROXIMITY;
        for (&other, why) in &candidates {
            reasons |= *why;
            if other == survivor {
                continue;
            }
            let (Some(a), Some(b)) = (self.incidents.get(&survivor), self.incidents.get(&other)) else { continue };
            if a.mergeable_with(b) {
                self.merged(other, survivor);
                merges.push(Merge {
                    from: other,
                    into: survivor,
                    reasons: *why | CorrelationReasons::TEMPORAL_PROXIMITY,
                });
            }
        }
        let facts = self.incidents.entry(survivor).or_default();
        facts.alert_count += 1;
        add_groups(&mut facts.device_groups, &alert.device_groups);
        for key in &keys {
            self.sight(key, survivor, at);
        }
        self.decision(alert, survivor, false, reasons, false)
    }

    fn place_recurring(&mut self, alert: &AlertFacts, first_key: &LinkKey, at: i64) -> Decision {
        let pair = pair_hash(&alert.detector, first_key);
        let reasons = CorrelationReasons::REPEATED_ALERT_OCCURRENCE;
        let open = self.recurring.get(&pair).copied().and_then(|(incident, last)| {
            let incident = self.resolve(incident);
            let facts = self.incidents.get(&incident)?;
            let fits = (at - last).abs() <= self.config.window_secs && self.takes_more(facts);
            fits.then_some(incident)
        });
        let (incident, created) = match open {
            Some(incident) => {
                let facts = self.incidents.entry(incident).or_default();
                facts.alert_count += 1;
                add_groups(&mut facts.device_groups, &alert.device_groups);
                (incident, false)
            }
            None => (self.open(alert, true), true),
        };
        self.remember_recurring(pair, incident, at);
        self.decision(alert, incident, created, reasons, true)
    }

    fn remember_recurring(&mut self, pair: u64, incident: IncidentId, at: i64) {
        let entry = self.recurring.entry(pair).or_insert((incident, at));
        if entry.0 == incident {
            entry.1 = entry.1.max(at);
        } else {
            *entry = (incident, at);
        }
    }

    /// Open, non-recurring incidents that saw one of the keys within its window, oldest first,
    /// with the reasons that link them. Prevalent keys are skipped.
    fn candidates(&self, keys: &[&LinkKey], at: i64) -> BTreeMap<IncidentId, CorrelationReasons> {
        let mut out: BTreeMap<IncidentId, CorrelationReasons> = BTreeMap::new();
        for key in keys {
            let Some(sightings) = self.keys.get(*key) else { continue };
            let window = if key.is_busy() { self.config.busy_window_secs } else { self.config.window_secs };
            let live: BTreeSet<IncidentId> = sightings
                .iter()
                .filter(|s| at >= s.first - window && at <= s.last + window)
                .map(|s| self.resolve(s.incident))
                .collect();
            if live.len() > self.config.prevalence_limit || self.is_prevalent(key, at) {
                continue;
            }
            for incident in live {
                let eligible =
                    self.incidents.get(&incident).is_some_and(|f| !f.closed && !f.recurring && self.takes_more(f));
                if eligible {
                    *out.entry(incident).or_default() |= key.reason();
                }
            }
        }
        out
    }

    /// Records which assets each key was seen with.
    fn accompany(&mut self, keys: &[&LinkKey], at: i64) {
        let limit = self.config.prevalence_limit;
        let assets: Vec<(u64, &LinkKey)> = keys
            .iter()
            .filter(|k| matches!(k.kind, EntityKind::Device | EntityKind::User | EntityKind::Mailbox))
            .map(|k| (hash_key(k), *k))
            .collect();
        for key in keys {
            for (hash, asset) in &assets {
                if asset == key {
                    continue;
                }
                if !counts_as_companion(key, asset) {
                    continue;
                }
                if !self.companions.contains_key(*key) {
                    self.companions.insert((*key).clone(), FoldHashMap::default());
                }
                let Some(seen) = self.companions.get_mut(*key) else { continue };
                // Past the limit the key is prevalent; more names change nothing.
                if seen.len() <= limit || seen.contains_key(hash) {
                    let last = seen.entry(*hash).or_insert(at);
                    *last = (*last).max(at);
                }
            }
        }
    }

    /// Counted over the noise lookback before the alert's time, so whether a key is prevalent does
    /// not depend on when memory was last trimmed.
    fn is_prevalent(&self, key: &LinkKey, at: i64) -> bool {
        let since = at - self.config.noise_lookback_secs;
        self.companions
            .get(key)
            .is_some_and(|seen| seen.values().filter(|last| **last >= since).count() > self.config.prevalence_limit)
    }

    fn takes_more(&self, facts: &IncidentFacts) -> bool {
        self.config.max_incident_alerts.is_none_or(|cap| facts.alert_count < cap)
    }

    fn open(&mut self, alert: &AlertFacts, recurring: bool) -> IncidentId {
        let id = IncidentId::new(self.next_id).unwrap_or_else(|_| unreachable!("ids start at 1"));
        self.next_id += 1;
        let facts = IncidentFacts {
            alert_count: 1,
            device_groups: alert.device_groups.iter().cloned().collect(),
            recurring,
            ..IncidentFacts::default()
        };
        self.incidents.insert(id, facts);
        id
    }

    fn decision(
        &self,
        alert: &AlertFacts,
        incident: IncidentId,
        created: bool,
        reasons: CorrelationReasons,
        recurring: bool,
    ) -> Decision {
        Decision { alert_id: alert.id.clone(), incident, created, reasons, recurring }
    }

    fn sight(&mut self, key: &LinkKey, incident: IncidentId, at: i64) {
        if !self.keys.contains_key(key) {
            self.keys.insert(key.clone(), Vec::new());
        }
        let Some(sightings) = self.keys.get_mut(key) else { return };
        match sightings.iter_mut().find(|s| s.incident == incident) {
            Some(s) => {
                s.first = s.first.min(at);
                s.last = s.last.max(at);
            }
            None => sightings.push(Sighting { incident, first: at, last: at }),
        }
    }

    /// Forgets keys, noise history and incidents that fell out of memory.
    fn prune(&mut self) {
        self.since_prune = 0;
        let config = &self.config;
        let high_water = self.high_water;
        // Everything is kept for the whole memory (the noise lookback), not just the link windows:
        // a tool that sends yesterday's alerts late still finds yesterday's incidents.
        let memory = config.memory_secs();
        self.keys.retain(|_, sightings| {
            sightings.retain(|s| s.last + memory >= high_water);
            !sightings.is_empty()
        });
        self.recurring.retain(|_, (_, last)| *last + memory >= high_water);
        self.companions.retain(|_, seen| {
            seen.retain(|_, last| *last + config.noise_lookback_secs >= high_water);
            !seen.is_empty()
        });
        self.noise.prune(high_water, config);
        let live: HashSet<IncidentId> =
            self.keys.values().flatten().map(|s| s.incident).chain(self.recurring.values().map(|(i, _)| *i)).collect();
        let redirects = &self.redirects;
        let resolve = |mut id: IncidentId| {
            while let Some(next) = redirects.get(&id) {
                id = *next;
            }
            id
        };
        let live: HashSet<IncidentId> = live.iter().flat_map(|i| [*i, resolve(*i)]).collect();
        self.incidents.retain(|id, _| live.contains(id));
        self.redirects.retain(|from, _| live.contains(from));
    }
}

/// The pair a background alert is grouped under: its first recurring one (the first of all when
/// every pair is). Placement and the rebuild at start-up both ask here, so a restart files later
/// noise where a run that never stopped would.
fn recurring_pair(verdicts: &[PairVerdict]) -> Option<usize> {
    verdicts.iter().position(|v| *v == PairVerdict::Recurring)
}

/// Whether `asset`, seen in one alert with `key`, counts towards `key` being prevalent. An account
/// is prevalent when it reaches many devices (a shared admin), and a device when many accounts use
/// it (a jump host). A person's own mailbox or a colleague named in the same mail says nothing of
/// that. Any other key (an address, a URL, a hash) is prevalent when many assets of any kind share it.
fn counts_as_companion(key: &LinkKey, asset: &LinkKey) -> bool {
    match key.kind {
        EntityKind::User => asset.kind == EntityKind::Device,
        EntityKind::Device => asset.kind == EntityKind::User,
        _ => true,
    }
}

/// A stable hash of a key (the same in every process), to keep companion sets small.
fn hash_key(key: &LinkKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// A (detector, key) pair, hashed: the noise history and recurring incidents are kept per pair, and
/// a 64-bit hash keeps that memory small and allocation-free.
fn pair_hash(detector: &str, key: &LinkKey) -> u64 {
    use xxhash_rust::xxh3::xxh3_64_with_seed;
    // Chained one-shot hashes: the streaming hasher's set-up costs more than these short inputs.
    let detector = xxh3_64_with_seed(detector.as_bytes(), key.kind as u64);
    xxh3_64_with_seed(key.value.as_bytes(), detector)
}

/// Adds an alert's device groups to an incident's, copying only those it lacks.
fn add_groups(groups: &mut BTreeSet<String>, more: &[String]) {
    for group in more {
        if !groups.contains(group) {
            groups.insert(group.clone());
        }
    }
}
