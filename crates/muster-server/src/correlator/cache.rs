//! The incidents correlation changes, as it last left them — ahead of storage while their batch
//! commits. A batch reads its incidents here instead of from storage, so correlating the next
//! batch can overlap the commit of this one.

use std::sync::Arc;

use foldhash::HashMap as FoldHashMap;
use muster_core::incident::Incident;
use muster_core::IncidentId;

/// An incident and the batch that last changed it. Shared with the batches that carry it to
/// storage: changing it again clones it only while one of those still holds it.
#[derive(Debug)]
struct Entry {
    incident: Arc<Incident>,
    batch: u64,
}

/// Incidents by id. An entry is dropped only once its last batch has committed, so whatever is
/// missing here is current in storage.
#[derive(Debug)]
pub(crate) struct IncidentCache {
    entries: FoldHashMap<IncidentId, Entry>,
    capacity: usize,
}

impl IncidentCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: FoldHashMap::default(), capacity: capacity.max(1) }
    }

    pub(crate) fn get_mut(&mut self, id: IncidentId) -> Option<&mut Incident> {
        self.entries.get_mut(&id).map(|e| Arc::make_mut(&mut e.incident))
    }

    /// A shared handle on the incident as it is now.
    pub(crate) fn shared(&self, id: IncidentId) -> Option<Arc<Incident>> {
        self.entries.get(&id).map(|e| e.incident.clone())
    }

    pub(crate) fn contains(&self, id: IncidentId) -> bool {
        self.entries.contains_key(&id)
    }

    /// Puts an incident (new, or read from storage) in.
    pub(crate) fn insert(&mut self, incident: Incident, batch: u64) {
        self.entries.insert(incident.id, Entry { incident: Arc::new(incident), batch });
    }

    /// Marks an incident as changed by `batch`.
    pub(crate) fn touch(&mut self, id: IncidentId, batch: u64) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.batch = batch;
        }
    }

    /// Over capacity, forgets the least recently changed half of what storage already holds
    /// (every batch up to `committed`).
    pub(crate) fn trim(&mut self, committed: u64) {
        if self.entries.len() <= self.capacity {
            return;
        }
        let mut settled: Vec<(u64, IncidentId)> =
            self.entries.iter().filter(|(_, e)| e.batch <= committed).map(|(id, e)| (e.batch, *id)).collect();
        settled.sort_unstable();
        let excess = self.entries.len() - self.capacity / 2;
        for (_, id) in settled.into_iter().take(excess) {
            self.entries.remove(&id);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::Timestamp;

    fn incident(id: i64) -> Incident {
        Incident::new(IncidentId::new(id).unwrap(), Timestamp::from_secs(0))
    }

    #[test]
    fn trimming_keeps_what_is_not_committed_yet() {
        let mut cache = IncidentCache::new(4);
        for id in 1..=6 {
            cache.insert(incident(id), id as u64);
        }
        cache.trim(3);
        // Only batches 1..=3 were committed: those may go, the rest stay.
        for id in 4..=6 {
            assert!(cache.contains(IncidentId::new(id).unwrap()), "{id}");
        }
        assert!(!cache.contains(IncidentId::new(1).unwrap()));
    }
}
