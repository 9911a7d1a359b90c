//! The in-process change feed: after every committed change to an incident (ingest, a person's
//! update, a comment, a move, a merge) one [`Change`] is published, and open pages subscribed over
//! server-sent events refresh what they show. Changes are hints, not data: a page that hears of
//! one reads the incident again through the usual, scoped, read paths.

use std::sync::Arc;

use muster_core::history::HistoryKind;
use muster_core::IncidentId;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

/// Changes a slow subscriber may fall behind by before it is told it missed some.
const BUFFERED: usize = 1_024;

/// What sort of change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// A new incident.
    Created,
    /// Its properties or alerts changed (ingest, a person's update).
    Updated,
    Commented,
    /// Alerts were moved in or out by a person.
    AlertsMoved,
    /// It was merged into another, or others into it.
    Merged,
}

impl ChangeKind {
    /// The kind a set of history entries of one incident amounts to; the most telling wins.
    pub fn of_history(kinds: impl IntoIterator<Item = HistoryKind>) -> Self {
        let mut kind = Self::Updated;
        for k in kinds {
            let this = match k {
                HistoryKind::Created => return Self::Created,
                HistoryKind::Merged | HistoryKind::Redirected => Self::Merged,
                HistoryKind::AlertRemoved => Self::AlertsMoved,
                HistoryKind::Commented => Self::Commented,
                HistoryKind::Updated | HistoryKind::AlertAdded => Self::Updated,
            };
            if this != Self::Updated {
                kind = this;
            }
        }
        kind
    }
}

/// One committed change to one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    #[serde(serialize_with = "as_text")]
    pub incident_id: IncidentId,
    pub kind: ChangeKind,
    /// The incident's device groups after the change: who may hear of it.
    #[serde(skip)]
    pub device_groups: Arc<[String]>,
}

fn as_text<S: serde::Serializer>(id: &IncidentId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

/// Where changes are published and heard. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    sender: broadcast::Sender<Change>,
    /// Set when the server shuts down, so open streams end and graceful shutdown can finish.
    closed: Arc<watch::Sender<bool>>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self { sender: broadcast::channel(BUFFERED).0, closed: Arc::new(watch::channel(false).0) }
    }
}

impl ChangeFeed {
    /// Publishes a change; nobody listening is fine.
    pub fn publish(&self, change: Change) {
        let _ = self.sender.send(change);
    }

    pub fn subscribe(&self) -> (broadcast::Receiver<Change>, watch::Receiver<bool>) {
        (self.sender.subscribe(), self.closed.subscribe())
    }

    /// Ends every open subscription.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_kinds_become_the_most_telling_change() {
        use HistoryKind as H;
        assert_eq!(ChangeKind::of_history([H::AlertAdded, H::Created]), ChangeKind::Created);
        assert_eq!(ChangeKind::of_history([H::Updated, H::AlertRemoved]), ChangeKind::AlertsMoved);
        assert_eq!(ChangeKind::of_history([H::Redirected]), ChangeKind::Merged);
        assert_eq!(ChangeKind::of_history([]), ChangeKind::Updated);
    }

    #[tokio::test]
    async fn subscribers_hear_changes_published_after_they_subscribed() {
        let feed = ChangeFeed::default();
        feed.publish(Change {
            incident_id: IncidentId::new(1).unwrap(),
            kind: ChangeKind::Updated,
            device_groups: Arc::from([]),
        });
        let (mut changes, _) = feed.subscribe();
        let change = Change {
            incident_id: IncidentId::new(2).unwrap(),
            kind: ChangeKind::Commented,
            device_groups: Arc::from([]),
        };
        feed.publish(change.clone());
        assert_eq!(changes.recv().await.unwrap(), change);
        assert_eq!(serde_json::to_value(&change).unwrap(), serde_json::json!({"incidentId": "2", "kind": "commented"}));
    }
}
