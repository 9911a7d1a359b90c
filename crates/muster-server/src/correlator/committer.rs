//! The committer: writes the correlator's batches to storage one after the other, in the order
//! they were correlated, and answers each batch's senders once it is committed.
//!
//! The correlator goes on with the next batch while this one commits, so a batch may build on one
//! that is still being written. Should a write fail, every batch after it that was correlated in
//! the same epoch fails too (they build on what was not stored), and the correlator is told to
//! rebuild its memory from storage before it correlates again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use muster_core::store::{EncodedBatch, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use super::Accepted;

/// What the correlator and the committer both watch.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Every batch numbered up to this is committed.
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

#[derive(Debug)]
pub(crate) enum Message {
    Commit {
        number: u64,
        epoch: u64,
        batch: EncodedBatch,
        replies: Vec<Reply>,
    },
    /// Answered once every message sent before it is done.
    Barrier(oneshot::Sender<()>),
}

/// Batches waiting for the writer that are committed together, at most.
const MERGED_BATCHES: usize = 16;

/// Starts the committer task; batches go in through the returned sender.
pub(crate) fn spawn(store: Arc<dyn Store>, progress: Arc<Progress>) -> mpsc::Sender<Message> {
    // While one transaction commits, the correlator may run this far ahead.
    let (sender, mut queue) = mpsc::channel::<Message>(MERGED_BATCHES);
    tokio::spawn(async move {
        let mut poisoned: Option<u64> = None;
        let mut held: Option<Message> = None;
        while let Some(message) = match held.take() {
            Some(message) => Some(message),
            None => queue.recv().await,
        } {
            let (number, epoch, batch, replies) = match message {
                Message::Barrier(done) => {
                    let _ = done.send(());
                    continue;
                }
                Message::Commit { number, epoch, batch, replies } => (number, epoch, batch, replies),
            };
            // Batches that queued up while the last transaction committed go in one transaction
            // together: when storage is the bottleneck, commits grow instead of the queue.
            let (mut last, mut batches, mut all_replies) = (number, vec![batch], vec![replies]);
            while batches.len() < MERGED_BATCHES {
                match queue.try_recv() {
                    Ok(Message::Commit { number, epoch: e, batch, replies }) if e == epoch => {
                        last = number;
                        batches.push(batch);
                        all_replies.push(replies);
                    }
                    Ok(other) => {
                        held = Some(other);
                        break;
                    }
                    Err(_) => break,
                }
            }
            let outcome = if poisoned == Some(epoch) {
                Err(StoreError::Backend("an earlier batch this one builds on was not stored".into()))
            } else {
                store.write_encoded(batches).await
            };
            if let Err(error) = &outcome {
                if poisoned != Some(epoch) {
                    tracing::warn!(%error, "a batch could not be stored; correlation memory will be rebuilt");
                }
                poisoned = Some(epoch);
                progress.broken.store(true, Ordering::Release);
            }
            progress.committed.store(last, Ordering::Release);
            for reply in all_replies.into_iter().flatten() {
                let _ = reply.to.send(outcome.clone().map(|()| reply.accepted));
            }
        }
    });
    sender
}
