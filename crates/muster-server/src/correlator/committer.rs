//! The committer: writes the correlator's batches to storage one transaction after the other, in
//! the order they were correlated, and answers each batch's senders once it is committed.
//!
//! The correlator goes on with the next batch while this one commits, so a batch may build on one
//! that is still being written. Batches that queue up meanwhile are written together in one
//! transaction, each busy incident once (its last version), encoded on a thread of its own while
//! the store writes the transaction's alerts. Should a write fail, every batch
//! after it that was correlated in the same epoch fails too (they build on what was not stored),
//! and the correlator is told to rebuild its memory from storage before it correlates again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use foldhash::HashMap as FoldHashMap;
use muster_core::history::{HistoryKind, NewHistoryEntry};
use muster_core::incident::Incident;
use muster_core::store::columns::{AlertColumns, IncidentColumns};
use muster_core::store::{BodyCodec, EncodedBatch, LateIncidents, Store, StoreError, StoreResult};
use muster_core::IncidentId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Accepted;
use crate::live::{Change, ChangeFeed, ChangeKind};

/// What the correlator and the committer both watch.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Every batch numbered up to this is done with (committed, or failed and `broken` set).
    pub(crate) committed: AtomicU64,
    /// A write failed: the correlator's memory is ahead of storage.
    pub(crate) broken: AtomicBool,
}

/// One sender's share of a batch: its alerts' outcomes, in its order.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) accepted: Vec<Accepted>,
    pub(crate) to: oneshot::Sender<Result<Vec<Accepted>, StoreError>>,
}

/// A correlated batch: alert rows encoded by their senders, incidents as the correlator left them.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) incidents: Vec<Arc<Incident>>,
    pub(crate) alerts: Vec<AlertColumns>,
    pub(crate) history: Vec<NewHistoryEntry>,
    pub(crate) relinks: Vec<(IncidentId, IncidentId)>,
}

#[derive(Debug)]
pub(crate) enum Message {
    Commit {
        number: u64,
        epoch: u64,
        batch: Batch,
        replies: Vec<Reply>,
    },
    /// Answered once every message sent before it is done.
    Barrier(oneshot::Sender<()>),
}

/// Batches written in one transaction, at most.
const MERGED_BATCHES: usize = 16;

/// Batches gathered for one transaction, their alerts encoded.
struct Transaction {
    epoch: u64,
    last: u64,
    batches: Vec<EncodedBatch>,
    /// Every incident they change, in its last version, with the version it builds on.
    incidents: Vec<(Arc<Incident>, i64)>,
    replies: Vec<Reply>,
    changes: Vec<Change>,
}

/// A transaction being written: who to answer once it is done.
struct Writing {
    epoch: u64,
    last: u64,
    replies: Vec<Reply>,
    /// Published once the write is committed.
    changes: Vec<Change>,
    write: JoinHandle<StoreResult<()>>,
}

/// The rows of a transaction's incidents.
fn encode(incidents: &[(Arc<Incident>, i64)], codec: Option<&dyn BodyCodec>) -> StoreResult<Vec<IncidentColumns>> {
    incidents
        .iter()
        .map(|(incident, builds_on)| {
            let mut columns = IncidentColumns::of(incident, codec)?;
            columns.builds_on = *builds_on;
            Ok(columns)
        })
        .collect()
}

/// Starts the committer task; batches go in through the returned sender.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    progress: Arc<Progress>,
    codec: Option<Arc<dyn BodyCodec>>,
    feed: ChangeFeed,
) -> mpsc::Sender<Message> {
    // While one transaction commits, the correlator may run this far ahead.
    let (sender, queue) = mpsc::channel::<Message>(MERGED_BATCHES);
    tokio::spawn(Committer { store, progress, codec, feed, queue, held: None, poisoned: None }.run());
    sender
}

struct Committer {
    store: Arc<dyn Store>,
    progress: Arc<Progress>,
    codec: Option<Arc<dyn BodyCodec>>,
    feed: ChangeFeed,
    queue: mpsc::Receiver<Message>,
    /// A message taken from the queue that belongs to the next round.
    held: Option<Message>,
    /// The epoch whose writes failed: later batches of it are refused.
    poisoned: Option<u64>,
}

/// Commits gathered for the next transaction, all of one epoch, in order.
#[derive(Default)]
struct Gathered {
    epoch: Option<u64>,
    commits: Vec<(u64, Batch, Vec<Reply>)>,
    /// A barrier met after them: answered once they are written.
    barrier: Option<oneshot::Sender<()>>,
}

/// One change per incident a transaction writes, said by what its history records.
fn changes_of(commits: &[(u64, Batch, Vec<Reply>)]) -> Vec<Change> {
    let mut touched: BTreeMap<IncidentId, (Vec<HistoryKind>, Arc<[String]>)> = BTreeMap::new();
    for (_, batch, _) in commits {
        for incident in &batch.incidents {
            let entry = touched.entry(incident.id).or_default();
            // The latest version's groups decide who hears of it.
            entry.1 = Arc::from(incident.device_groups.as_slice());
        }
        for entry in &batch.history {
            if let Some(t) = touched.get_mut(&entry.incident_id) {
                t.0.push(entry.kind);
            }
        }
    }
    touched
        .into_iter()
        .map(|(incident_id, (kinds, device_groups))| Change {
            incident_id,
            kind: ChangeKind::of_history(kinds),
            device_groups,
        })
        .collect()
}

impl Committer {
    /// Writes one transaction at a time; while it is written, gathers what comes in for the next.
    async fn run(mut self) {
        let mut writing: Option<Writing> = None;
        let mut next = Gathered::default();
        loop {
            // Messages after a barrier, or of another epoch, wait until what is gathered is done.
            let open = next.barrier.is_none() && self.held.is_none() && next.commits.len() < MERGED_BATCHES;
            if let Some(current) = writing.as_mut() {
                tokio::select! {
                    outcome = &mut current.write => {
                        if let Some(done) = writing.take() {
                            self.finish(done, outcome);
                        }
                    }
                    message = self.queue.recv(), if open => match message {
                        Some(message) => self.take(message, &mut next),
                        // The correlator is gone: finish what is being written, then stop.
                        None => {
                            if let Some(mut done) = writing.take() {
                                let outcome = (&mut done.write).await;
                                self.finish(done, outcome);
                            }
                            return;
                        }
                    },
                }
                continue;
            }
            if next.commits.is_empty() {
                if let Some(barrier) = next.barrier.take() {
                    let _ = barrier.send(());
                    continue;
                }
                let message = match self.held.take() {
                    Some(message) => message,
                    None => match self.queue.recv().await {
                        Some(message) => message,
                        None => return,
                    },
                };
                self.take(message, &mut next);
                // Whatever else is queued already goes in the same transaction.
                while next.barrier.is_none() && self.held.is_none() && next.commits.len() < MERGED_BATCHES {
                    match self.queue.try_recv() {
                        Ok(message) => self.take(message, &mut next),
                        Err(_) => break,
                    }
                }
                continue;
            }
            let epoch = next.epoch.take().unwrap_or_default();
            let commits = std::mem::take(&mut next.commits);
            writing = self.start(self.prepare(epoch, commits));
        }
    }

    /// Files a message into what is gathered for the next transaction.
    fn take(&mut self, message: Message, next: &mut Gathered) {
        match message {
            Message::Barrier(done) => next.barrier = Some(done),
            Message::Commit { number, epoch, batch, replies } => {
                if next.epoch.is_some_and(|current| current != epoch) {
                    self.held = Some(Message::Commit { number, epoch, batch, replies });
                    return;
                }
                next.epoch = Some(epoch);
                next.commits.push((number, batch, replies));
            }
        }
    }

    /// Gathers commits into one transaction: each incident once, in its last version, building on
    /// the version the first one found.
    fn prepare(&self, epoch: u64, commits: Vec<(u64, Batch, Vec<Reply>)>) -> Transaction {
        let last = commits.last().map_or(0, |c| c.0);
        let mut latest: FoldHashMap<IncidentId, usize> = FoldHashMap::default();
        let mut base: FoldHashMap<IncidentId, i64> = FoldHashMap::default();
        for (i, (_, batch, _)) in commits.iter().enumerate() {
            for incident in &batch.incidents {
                latest.insert(incident.id, i);
                base.entry(incident.id).or_insert(incident.meta.version - 1);
            }
        }
        let changes = changes_of(&commits);
        let mut batches = Vec::with_capacity(commits.len());
        let mut incidents = Vec::with_capacity(latest.len());
        let mut replies = Vec::new();
        for (i, (_, batch, commit_replies)) in commits.into_iter().enumerate() {
            replies.extend(commit_replies);
            for incident in batch.incidents {
                if latest.get(&incident.id) == Some(&i) {
                    let builds_on = base[&incident.id];
                    incidents.push((incident, builds_on));
                }
            }
            batches.push(EncodedBatch {
                incidents: Vec::new(),
                alerts: batch.alerts,
                history: batch.history,
                relinks: batch.relinks,
            });
        }
        Transaction { epoch, last, batches, incidents, replies, changes }
    }

    fn start(&self, transaction: Transaction) -> Option<Writing> {
        if self.poisoned == Some(transaction.epoch) {
            let error = StoreError::Backend("an earlier batch this one builds on was not stored".into());
            self.fail(error, transaction.replies, transaction.last);
            return None;
        }
        let Transaction { epoch, last, batches, incidents, replies, changes } = transaction;
        // The incidents are encoded while the store writes the alerts, which need no incident row.
        let (encoded, late) = LateIncidents::channel();
        let codec = self.codec.clone();
        tokio::task::spawn_blocking(move || {
            let _ = encoded.send(encode(&incidents, codec.as_deref()));
        });
        let store = self.store.clone();
        let write = tokio::spawn(async move { store.write_encoded_then(batches, late).await });
        Some(Writing { epoch, last, replies, changes, write })
    }

    fn finish(&mut self, writing: Writing, outcome: Result<StoreResult<()>, tokio::task::JoinError>) {
        let Writing { epoch, last, replies, changes, .. } = writing;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => Err(StoreError::Backend(format!("the write task failed: {e}"))),
        };
        match outcome {
            Ok(()) => {
                self.progress.committed.store(last, Ordering::Release);
                for change in changes {
                    self.feed.publish(change);
                }
                for reply in replies {
                    let _ = reply.to.send(Ok(reply.accepted));
                }
            }
            Err(error) => {
                if self.poisoned != Some(epoch) {
                    tracing::warn!(%error, "a batch could not be stored; correlation memory will be rebuilt");
                }
                self.poisoned = Some(epoch);
                self.fail(error, replies, last);
            }
        }
    }

    fn fail(&self, error: StoreError, replies: Vec<Reply>, last: u64) {
        self.progress.broken.store(true, Ordering::Release);
        self.progress.committed.store(last, Ordering::Release);
        for reply in replies {
            let _ = reply.to.send(Err(error.clone()));
        }
    }
}
