//! The one place alerts enter storage.
//!
//! A sender first does, on its own task, everything about its alerts that depends on no other
//! alert: ids and clamping, entity keys, the storage row, and what storage holds of them already.
//! Then its batch queues for the engine; whoever takes the engine correlates every batch waiting
//! (group commit), rolls the decisions up into the incidents they touch and hands the result to
//! the committer, then takes the next group while that one is written. Each sender is answered
//! once its alerts are committed.

// `Vec<Box<Incoming>>` on purpose: an alert with its row is a few kilobytes, and moving it between
// the vectors of a batch's way was a measurable share of ingest.
#![allow(clippy::vec_box)]

mod batch;
mod cache;
mod committer;
mod manage;
pub use manage::{ChangeContext, IncidentEdit, ManageError, Moved, MAX_MERGED_INCIDENTS, MAX_MOVED_ALERTS};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use muster_core::correlation::{
    alert_facts, alert_facts_keyed, AlertFacts, CorrelationConfig, Engine, IncidentFacts, Placement,
};
use muster_core::entity::entity_keys;
use muster_core::incident::Incident;
use muster_core::ingest::prepare;
use muster_core::store::columns::{assignee_key, AlertColumns};
use muster_core::store::{BodyCodec, Store, StoreError, StoredAlert};
use muster_core::{Alert, IncidentId, Timestamp};
use tokio::sync::{mpsc, oneshot, Mutex};

use self::cache::IncidentCache;
use self::committer::{Batch, Message, Progress, Reply};
use crate::live::ChangeFeed;

/// The system tag Graph gives an incident merged into another.
pub const REDIRECTED_TAG: &str = "Redirected";
/// The system tag of an incident that holds one recurring detector/entity pair's alerts.
pub const RECURRING_TAG: &str = "Recurring alerts";

/// How many incidents correlation keeps in memory between batches.
const CACHED_INCIDENTS: usize = 20_000;

/// Where an accepted alert went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub alert_id: String,
    pub incident_id: IncidentId,
}

/// What the engine needs to know of a stored incident.
pub fn facts_of(incident: &Incident) -> IncidentFacts {
    IncidentFacts {
        closed: incident.status.is_closed(),
        assigned_to: assignee_key(incident.assigned_to.as_deref()),
        classification: incident.assessment.classification(),
        determination: incident.assessment.determination(),
        device_groups: incident.device_groups.iter().map(|g| g.to_lowercase()).collect(),
        alert_count: incident.alert_count,
        recurring: incident.system_tags.iter().any(|t| t == RECURRING_TAG),
    }
}

/// One alert made ready by its sender.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) alert: Alert,
    pub(crate) facts: AlertFacts,
    /// Its stored version when the sender looked, if it was stored.
    pub(crate) stored: Option<StoredAlert>,
    /// Its storage row as sent (entity keys included); incident and pin are filled in when it is
    /// placed, and the row encoded again only if placing it changed the alert.
    pub(crate) row: AlertColumns,
}

/// One sender's batch, and where its outcome goes.
#[derive(Debug)]
struct Waiting {
    /// Boxed: an alert with its row is a few kilobytes, moved several times on its way.
    alerts: Vec<Box<Incoming>>,
    /// Every batch numbered up to this was committed when the sender looked its alerts up; what
    /// later batches wrote may be missing from `Incoming::stored`.
    looked_up_at: u64,
    outcome: oneshot::Sender<Result<Vec<Accepted>, StoreError>>,
}

/// Batches waiting for the engine, by ticket: taken only in ticket order.
#[derive(Debug, Default)]
struct Queue {
    issued: u64,
    /// The ticket of the next batch to correlate.
    next: u64,
    /// Batches filed out of order; `None` marks a ticket given up.
    filed: BTreeMap<u64, Option<Waiting>>,
}

impl Queue {
    /// The batches filed from `next` on without a gap.
    fn take_run(&mut self) -> Vec<Waiting> {
        let mut run = Vec::new();
        while let Some(entry) = self.filed.remove(&self.next) {
            self.next += 1;
            run.extend(entry);
        }
        run
    }
}

/// Where senders line up for the engine.
#[derive(Debug, Default)]
struct Intake {
    queue: std::sync::Mutex<Queue>,
    /// Told when a sender gives its place up, so the batches after it are not left waiting.
    given_up: tokio::sync::Notify,
    /// The look-up marks of senders whose batch has not been correlated yet, with how many.
    lookups: std::sync::Mutex<BTreeMap<u64, usize>>,
}

impl Intake {
    fn end_lookup(&self, mark: u64) {
        let mut lookups = self.lookups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = lookups.get_mut(&mark) {
            *count -= 1;
            if *count == 0 {
                lookups.remove(&mark);
            }
        }
    }
}

/// A sender's place in the order batches are correlated in.
#[derive(Debug)]
pub struct Ticket {
    intake: Arc<Intake>,
    number: u64,
    /// Set once the sender began looking its alerts up: given back if it never files.
    looked_up_at: Option<u64>,
}

impl Ticket {
    /// Files the batch (or, with `None`, gives the place up).
    fn file(&mut self, waiting: Option<Waiting>) {
        if waiting.is_none() {
            if let Some(mark) = self.looked_up_at.take() {
                self.intake.end_lookup(mark);
            }
        }
        self.looked_up_at = None;
        let mut queue = self.intake.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.filed.insert(self.number, waiting);
        // Marks the ticket used, so dropping it files nothing more.
        self.number = u64::MAX;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.number != u64::MAX {
            self.file(None);
            // Senders of batches after it may be waiting for it: they look again.
            self.intake.given_up.notify_waiters();
        }
    }
}

/// What correlating needs between batches; held by whoever correlates.
#[derive(Debug)]
struct State {
    engine: Engine,
    incidents: IncidentCache,
    /// The batch that last wrote each recent alert, by id hash: the alerts a sender's look-up may
    /// not have seen. Kept while any sender may still need it. (This and the other maps keyed by
    /// what senders choose keep std's seeded hash, so no sender can flood them with collisions.)
    recent: HashMap<i64, u64>,
    /// The number of the last batch handed to the committer.
    last_batch: u64,
    /// Bumped whenever memory is rebuilt after a failed write.
    epoch: u64,
}

/// The correlation engine, its memory, and the pipeline to storage.
#[derive(Debug)]
pub struct Correlator {
    state: Mutex<State>,
    intake: Arc<Intake>,
    commits: mpsc::Sender<Message>,
    progress: Arc<Progress>,
    config: CorrelationConfig,
    store: Arc<dyn Store>,
    /// The store's body compression, done by senders and the correlator rather than its writer.
    codec: Option<Arc<dyn BodyCodec>>,
    /// Senders preparing their alerts at once: one per core, taken first come first served, so
    /// batches become ready in about the order the engine takes them rather than all at the end
    /// of a round of time slices.
    preparing: tokio::sync::Semaphore,
}

impl Correlator {
    /// Rebuilds the engine's memory from storage: the alerts of the window measured back from the
    /// latest activity stored (not from the wall clock), so a restart changes no result.
    pub async fn start(store: Arc<dyn Store>, config: CorrelationConfig) -> Result<Self, StoreError> {
        Self::start_with_feed(store, config, ChangeFeed::default()).await
    }

    /// [`Self::start`], publishing every committed change to `feed`.
    pub async fn start_with_feed(
        store: Arc<dyn Store>,
        config: CorrelationConfig,
        feed: ChangeFeed,
    ) -> Result<Self, StoreError> {
        let engine = rebuild(store.as_ref(), &config).await?;
        let progress = Arc::new(Progress::default());
        let codec = store.body_codec();
        let commits = committer::spawn(store.clone(), progress.clone(), codec.clone(), feed);
        let state = State {
            engine,
            incidents: IncidentCache::new(CACHED_INCIDENTS),
            recent: HashMap::new(),
            last_batch: 0,
            epoch: 0,
        };
        Ok(Self {
            state: Mutex::new(state),
            intake: Arc::default(),
            commits,
            progress,
            config,
            codec,
            store,
            preparing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
        })
    }

    /// Stores and correlates a batch of valid alerts. When it returns, every alert is committed
    /// and its incident is up to date. Batches are correlated in the order `ingest` was called;
    /// those that arrive while the engine is busy are committed together with the others waiting,
    /// each sender getting its own alerts' outcome. Should that one commit fail, every batch in it
    /// fails and none of them is stored.
    pub async fn ingest(&self, alerts: Vec<Alert>, now: Timestamp) -> Result<Vec<Accepted>, StoreError> {
        self.ingest_as(self.ticket(), alerts, now).await
    }

    /// A place in the order batches are correlated in, for a sender that must fix it before its
    /// batch is ready (a request not parsed yet, several connections reading one stream).
    /// Dropping it unused gives the place up.
    pub fn ticket(&self) -> Ticket {
        let mut queue = self.intake.queue.lock().unwrap_or_else(|e| e.into_inner());
        let number = queue.issued;
        queue.issued += 1;
        Ticket { intake: self.intake.clone(), number, looked_up_at: None }
    }

    /// [`Self::ingest`] in the place `ticket` holds.
    pub async fn ingest_as(
        &self,
        mut ticket: Ticket,
        alerts: Vec<Alert>,
        now: Timestamp,
    ) -> Result<Vec<Accepted>, StoreError> {
        let looked_up_at = self.begin_lookup();
        ticket.looked_up_at = Some(looked_up_at);
        let alerts = self.make_ready(alerts, now).await?;
        let (outcome, mut mine) = oneshot::channel();
        ticket.file(Some(Waiting { alerts, looked_up_at, outcome }));
        loop {
            let given_up = self.intake.given_up.notified();
            tokio::pin!(given_up);
            given_up.as_mut().enable();
            {
                let mut state = self.state.lock().await;
                let waiting = self.intake.queue.lock().unwrap_or_else(|e| e.into_inner()).take_run();
                // Empty when an earlier holder of the engine already took this batch, or when a
                // batch before it is not ready yet: its sender correlates both.
                if !waiting.is_empty() {
                    self.correlate(&mut state, waiting, now).await;
                }
            }
            tokio::select! {
                outcome = &mut mine => {
                    return outcome.unwrap_or_else(|_| {
                        Err(StoreError::Backend("the ingest was cancelled before it committed".into()))
                    });
                }
                // A batch before this one was given up: what it held back may be ready now.
                () = &mut given_up => {}
            }
        }
    }

    /// Everything about a sender's alerts that depends on no other alert, done on its own task.
    async fn make_ready(&self, alerts: Vec<Alert>, now: Timestamp) -> Result<Vec<Box<Incoming>>, StoreError> {
        let mut alerts = alerts;
        for alert in &mut alerts {
            prepare(alert, now, self.config.future_tolerance_secs);
        }
        let ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
        let stored: HashMap<String, StoredAlert> =
            self.store.alerts(&ids).await?.into_iter().map(|s| (s.alert.id.clone(), s)).collect();
        // Milliseconds of work for a batch: on a thread of its own, so the engine's and the
        // committer's tasks are not kept waiting behind it.
        let codec = self.codec.clone();
        let _turn = self.preparing.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        tokio::task::spawn_blocking(move || rows_of(alerts, stored, codec.as_deref()))
            .await
            .map_err(|e| StoreError::Backend(format!("preparing alerts failed: {e}")))?
    }

    /// Marks the start of a sender's look-up: what is committed so far, it will see.
    fn begin_lookup(&self) -> u64 {
        let mut lookups = self.intake.lookups.lock().unwrap_or_else(|e| e.into_inner());
        let mark = self.progress.committed.load(Ordering::Acquire);
        *lookups.entry(mark).or_default() += 1;
        mark
    }

    /// Correlates a group of waiting batches and hands it to the committer; on failure before
    /// that, answers every sender with the error.
    async fn correlate(&self, state: &mut State, waiting: Vec<Waiting>, now: Timestamp) {
        let mut sizes = Vec::with_capacity(waiting.len());
        let mut outcomes = Vec::with_capacity(waiting.len());
        let mut groups = Vec::with_capacity(waiting.len());
        for w in waiting {
            self.intake.end_lookup(w.looked_up_at);
            sizes.push(w.alerts.len());
            groups.push((w.looked_up_at, w.alerts));
            outcomes.push(w.outcome);
        }
        let prepared = async {
            self.recover(state).await?;
            self.group(state, groups, now).await
        }
        .await;
        let (number, batch, accepted) = match prepared {
            Ok(done) => done,
            Err(error) => {
                for outcome in outcomes {
                    let _ = outcome.send(Err(error.clone()));
                }
                return;
            }
        };
        let mut accepted = accepted.into_iter();
        let replies = sizes
            .into_iter()
            .zip(outcomes)
            .map(|(size, to)| Reply { accepted: accepted.by_ref().take(size).collect(), to })
            .collect();
        let message = Message::Commit { number, epoch: state.epoch, batch, replies };
        if let Err(mpsc::error::SendError(Message::Commit { replies, .. })) = self.commits.send(message).await {
            for reply in replies {
                let _ = reply.to.send(Err(StoreError::Backend("the committer has stopped".into())));
            }
        }
    }

    /// After a failed write: waits for the batches still in the pipeline, then rebuilds the engine's
    /// memory from what storage holds.
    async fn recover(&self, state: &mut State) -> Result<(), StoreError> {
        if !self.progress.broken.load(Ordering::Acquire) {
            return Ok(());
        }
        self.drain().await;
        tracing::warn!("rebuilding the correlation window from storage");
        state.engine = rebuild(self.store.as_ref(), &self.config).await?;
        state.incidents.clear();
        state.epoch += 1;
        self.progress.broken.store(false, Ordering::Release);
        Ok(())
    }

    /// Waits until every batch handed to the committer so far is done.
    async fn drain(&self) {
        let (done, finished) = oneshot::channel();
        if self.commits.send(Message::Barrier(done)).await.is_ok() {
            let _ = finished.await;
        }
    }

    /// Correlates the senders' alerts with the engine held: the batch to write (its rows
    /// encoded) and where each alert went, in the order given.
    async fn group(
        &self,
        state: &mut State,
        groups: Vec<(u64, Vec<Box<Incoming>>)>,
        now: Timestamp,
    ) -> Result<(u64, Batch, Vec<Accepted>), StoreError> {
        let mut order: Vec<String> = Vec::with_capacity(groups.iter().map(|g| g.1.len()).sum());
        // The same alert twice in one group: its last version, in the place of its first, as if
        // the first had been sent alone and then updated.
        let mut slot: HashMap<i64, usize> = HashMap::with_capacity(order.capacity());
        let mut unique: Vec<Box<Incoming>> = Vec::with_capacity(order.capacity());
        let mut stale: Vec<usize> = Vec::new();
        for (looked_up_at, incoming) in groups {
            for item in incoming {
                let hash = item.row.id_hash;
                order.push(item.alert.id.clone());
                // Written by a batch the sender's look-up may not have seen: look again.
                let outdated = state.recent.get(&hash).is_some_and(|batch| *batch > looked_up_at);
                match slot.get(&hash).copied().filter(|&i| unique[i].alert.id == item.alert.id) {
                    Some(i) => {
                        let stored = unique[i].stored.take();
                        *unique[i] = Incoming { stored, ..*item };
                    }
                    None => {
                        slot.insert(hash, unique.len());
                        if outdated {
                            stale.push(unique.len());
                        }
                        unique.push(item);
                    }
                }
            }
        }
        if !stale.is_empty() {
            self.refresh(state, &mut unique, &stale).await?;
        }
        let committed = self.progress.committed.load(Ordering::Acquire);
        let floor =
            self.intake.lookups.lock().unwrap_or_else(|e| e.into_inner()).keys().next().copied().unwrap_or(committed);
        state.recent.retain(|_, batch| *batch > floor.min(committed));

        let step = state.engine.process(unique.iter().map(|i| &i.facts));
        let number = state.last_batch + 1;
        let batch = batch::build(self.store.as_ref(), self.codec.as_deref(), state, &step, unique, now, number).await?;
        state.last_batch = number;
        for row in &batch.alerts {
            state.recent.insert(row.id_hash, number);
        }
        state.incidents.trim(committed);
        let placed: HashMap<&str, i64> = batch.alerts.iter().map(|row| (row.id.as_str(), row.incident_id)).collect();
        let accepted = order
            .into_iter()
            .map(|alert_id| {
                let incident_id =
                    IncidentId::new(placed[alert_id.as_str()]).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(Accepted { alert_id, incident_id })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((number, batch, accepted))
    }

    /// Looks the stale alerts up again, once what wrote them is committed.
    async fn refresh(&self, state: &State, unique: &mut [Box<Incoming>], stale: &[usize]) -> Result<(), StoreError> {
        let committed = self.progress.committed.load(Ordering::Acquire);
        let in_flight = stale.iter().any(|&i| state.recent.get(&unique[i].row.id_hash).is_some_and(|b| *b > committed));
        if in_flight {
            self.drain().await;
        }
        let ids: Vec<String> = stale.iter().map(|&i| unique[i].alert.id.clone()).collect();
        let mut found: HashMap<String, StoredAlert> =
            self.store.alerts(&ids).await?.into_iter().map(|s| (s.alert.id.clone(), s)).collect();
        for &i in stale {
            let item = &mut unique[i];
            item.stored = found.remove(&item.alert.id);
            item.facts.placed = item.stored.as_ref().map(|s| Placement { incident: s.incident_id, pinned: s.pinned });
        }
        Ok(())
    }
}

/// Each alert's facts and storage row.
fn rows_of(
    alerts: Vec<Alert>,
    mut stored: HashMap<String, StoredAlert>,
    codec: Option<&dyn BodyCodec>,
) -> Result<Vec<Box<Incoming>>, StoreError> {
    alerts
        .into_iter()
        .map(|alert| {
            let stored = stored.remove(&alert.id);
            let keys = entity_keys(&alert);
            let placed = stored.as_ref().map(|s| Placement { incident: s.incident_id, pinned: s.pinned });
            let facts = alert_facts_keyed(&alert, &keys, placed);
            // Placeholder incident: the real one is set when the engine has decided.
            let row = AlertColumns::for_alert(&alert, placeholder(), false, keys, codec)?;
            Ok(Box::new(Incoming { alert, facts, stored, row }))
        })
        .collect()
}

/// The incident a row carries until its alert is placed.
fn placeholder() -> IncidentId {
    IncidentId::new(1).unwrap_or_else(|_| unreachable!("1 is a valid incident id"))
}

/// A fresh engine whose memory is what storage holds: the window's alerts, their incidents and
/// merges.
async fn rebuild(store: &dyn Store, config: &CorrelationConfig) -> Result<Engine, StoreError> {
    let mut engine = Engine::new(config.clone(), store.max_incident_id().await?);
    if let Some(latest) = store.latest_activity().await? {
        let since = latest.plus_secs(-config.memory_secs());
        let alerts = store.alerts_since(since).await?;
        let ids: BTreeSet<IncidentId> = alerts.iter().map(|a| a.incident_id).collect();
        let ids: Vec<IncidentId> = ids.into_iter().collect();
        for incident in store.incidents(&ids).await? {
            engine.incident_changed(incident.id, facts_of(&incident));
            if let Some(into) = incident.redirect_incident_id {
                engine.merged(incident.id, into);
            }
        }
        for stored in &alerts {
            let placed = Placement { incident: stored.incident_id, pinned: stored.pinned };
            engine.restore(&alert_facts(&stored.alert, Some(placed)));
        }
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use serde_json::json;

    async fn correlator() -> (Arc<Correlator>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("muster.db").display());
        let store: Arc<dyn Store> = Arc::new(muster_store_sqlite::SqliteStore::open(&url).await.unwrap());
        (Arc::new(Correlator::start(store, CorrelationConfig::default()).await.unwrap()), dir)
    }

    fn alert(id: &str, host: &str) -> Alert {
        Alert::from_json_value(json!({
            "providerAlertId": id, "title": format!("Detection {id}"), "severity": "low",
            "serviceSource": "microsoftDefenderForEndpoint", "lastActivityDateTime": "2024-05-01T10:00:00Z",
            "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host}]
        }))
        .unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_secs(1_714_600_000)
    }

    /// Batches are correlated in the order their tickets were taken, whichever is ready first.
    #[tokio::test]
    async fn batches_go_in_ticket_order() {
        let (correlator, _dir) = correlator().await;
        let (first, second) = (correlator.ticket(), correlator.ticket());
        let later = {
            let c = correlator.clone();
            tokio::spawn(async move { c.ingest_as(second, vec![alert("b", "ws-02")], now()).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!later.is_finished(), "the second batch waits for the first");
        let early = correlator.ingest_as(first, vec![alert("a", "ws-01")], now()).await.unwrap();
        let late = later.await.unwrap().unwrap();
        assert!(early[0].incident_id < late[0].incident_id, "the first ticket's alert was placed first");
    }

    /// A sender that gives its place up (its request failed, its client left) holds nobody back.
    #[tokio::test]
    async fn a_place_given_up_holds_nobody_back() {
        let (correlator, _dir) = correlator().await;
        let (abandoned, next) = (correlator.ticket(), correlator.ticket());
        let waiting = {
            let c = correlator.clone();
            tokio::spawn(async move { c.ingest_as(next, vec![alert("c", "ws-03")], now()).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());
        drop(abandoned);
        let accepted = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("not stuck").unwrap();
        assert_eq!(accepted.unwrap().len(), 1);
        // And the look-up marks of senders gone are given back.
        assert!(correlator.intake.lookups.lock().unwrap().is_empty());
    }
}
