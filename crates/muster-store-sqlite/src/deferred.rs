//! The look-ups by alert id and by entity key, indexed in bulk rather than alert by alert.
//!
//! Both are keyed by hashes that are random by nature, so a B-tree index kept current per commit
//! rewrites about one page per alert and key — on an ingest of thousands of alerts a second that
//! was most of what SQLite wrote. Instead, the newest alerts are found through maps in memory,
//! and their hashes are inserted into the on-disk tables (`alert_ids`, `alert_entities`) in sorted
//! passes, which touch each page once. The hash space is cut into sixteen ranges flushed one at a
//! time, so no single pass holds the writer up for long: for each range, every alert with a `rid`
//! above `upto[range]` has its hashes in that range in the maps. A restart rebuilds the maps from
//! the alert rows, which carry their id and key hashes.
//!
//! Readers ask the maps first and the tables second, so an alert is never missed while a flush
//! moves it from one to the other (it may be seen twice; callers check the id or the key anyway).

use std::sync::RwLock;

use foldhash::HashMap as FoldHashMap;
use muster_core::store::StoreResult;
use rusqlite::{params, Connection};

use crate::backend;
use crate::id_filter::IdFilter;

/// Alerts held in memory before flushing starts (the default of [`crate::SqliteOptions`]).
pub(crate) const FLUSH_MIN: usize = 50_000;
/// How many ranges the hash space is flushed in.
const RANGES: usize = 16;

fn range_of(hash: i64) -> usize {
    ((hash as u64) >> 60) as usize
}

fn upto_name(range: usize) -> String {
    format!("deferred_upto_{range}")
}

/// The not-yet-flushed part of the two look-ups, range by range.
#[derive(Debug, Default)]
struct Pending {
    upto: [i64; RANGES],
    ids: [FoldHashMap<i64, Rids>; RANGES],
    keys: [FoldHashMap<i64, Rids>; RANGES],
    /// Entries (id and key hashes) waiting in each range.
    entries: [usize; RANGES],
    /// Alerts whose id is waiting.
    alerts: usize,
    /// The range flushed last: they take turns, so none waits long.
    last_flushed: usize,
}

/// The maps, shared by the writer (which changes them after each commit) and the readers.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    pending: RwLock<Pending>,
    filter: RwLock<IdFilter>,
    flush_min: usize,
}

/// What one committed batch adds to the maps: `(rid, id hash, key hashes)` of alerts it wrote.
#[derive(Debug, Default)]
pub(crate) struct Additions {
    pub(crate) alerts: Vec<(i64, i64, Vec<i64>)>,
}

/// One range's pending entries, taken for a flush.
#[derive(Debug)]
pub(crate) struct Flush {
    range: usize,
    /// Ranges with nothing waiting: their marks move on too, so a restart reads no more alerts
    /// than it must.
    empty: Vec<usize>,
    /// The largest rid committed when the flush began: the range's new mark.
    upto: i64,
    ids: Vec<(i64, i64)>,
    keys: Vec<(i64, i64)>,
}

/// Decodes a row's `keys` column: little-endian 64-bit hashes.
pub(crate) fn keys_from_blob(blob: &[u8]) -> Vec<i64> {
    blob.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

pub(crate) fn keys_to_blob(keys: &[i64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

impl Deferred {
    /// Rebuilds the maps from the alerts above the flushed marks.
    pub(crate) fn load(conn: &Connection, flush_min: usize) -> StoreResult<Self> {
        let mut pending = Pending::default();
        for (range, upto) in pending.upto.iter_mut().enumerate() {
            *upto = conn
                .query_row("SELECT value FROM index_state WHERE name = ?1", [upto_name(range)], |r| r.get(0))
                .map_err(backend)?;
        }
        let lowest = pending.upto.iter().copied().min().unwrap_or(0);
        let mut statement =
            conn.prepare("SELECT rid, id_hash, keys FROM alerts WHERE rid > ?1 ORDER BY rid").map_err(backend)?;
        let rows = statement
            .query_map([lowest], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))
            .map_err(backend)?;
        for row in rows {
            let (rid, id_hash, keys) = row.map_err(backend)?;
            pending.add(rid, id_hash, &keys_from_blob(&keys));
        }
        Ok(Self { pending: RwLock::new(pending), filter: RwLock::new(IdFilter::of_table(conn)?), flush_min })
    }

    /// Whether `alert_ids` may hold an id with this hash (false: it certainly does not).
    pub(crate) fn may_be_flushed(&self, id_hash: i64) -> bool {
        self.filter.read().unwrap_or_else(|e| e.into_inner()).may_contain(id_hash)
    }

    /// The rids waiting in memory whose alert id hashes to `id_hash`.
    pub(crate) fn rids_for_id(&self, id_hash: i64) -> Vec<i64> {
        self.read().ids[range_of(id_hash)].get(&id_hash).map(Rids::to_vec).unwrap_or_default()
    }

    /// The rids waiting in memory of alerts that had `key_hash` when written.
    pub(crate) fn rids_for_key(&self, key_hash: i64) -> Vec<i64> {
        self.read().keys[range_of(key_hash)].get(&key_hash).map(Rids::to_vec).unwrap_or_default()
    }

    /// Whether a key of the alert `rid` belongs in the table right away (its range is flushed
    /// past the alert) rather than in memory.
    pub(crate) fn is_flushed(&self, rid: i64, key_hash: i64) -> bool {
        rid <= self.read().upto[range_of(key_hash)]
    }

    /// Takes a committed batch's alerts into the maps.
    pub(crate) fn committed(&self, additions: Additions) {
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        for (rid, id_hash, keys) in additions.alerts {
            pending.add(rid, id_hash, &keys);
        }
    }

    /// The range to flush next, when enough alerts wait: the ranges take turns, skipping those
    /// with nothing waiting.
    pub(crate) fn next_flush(&self, upto: i64) -> Option<Flush> {
        let pending = self.read();
        if pending.alerts < self.flush_min {
            return None;
        }
        let range =
            (1..=RANGES).map(|step| (pending.last_flushed + step) % RANGES).find(|r| pending.entries[*r] > 0)?;
        let mut ids: Vec<(i64, i64)> =
            pending.ids[range].iter().flat_map(|(hash, rids)| rids.iter().map(move |rid| (*hash, rid))).collect();
        let mut keys: Vec<(i64, i64)> =
            pending.keys[range].iter().flat_map(|(hash, rids)| rids.iter().map(move |rid| (*hash, rid))).collect();
        ids.sort_unstable();
        keys.sort_unstable();
        let empty = (0..RANGES).filter(|r| *r != range && pending.entries[*r] == 0).collect();
        Some(Flush { range, empty, upto, ids, keys })
    }

    /// Writes a range's entries into the tables in key order, in the caller's transaction; the
    /// maps let go of them in [`Self::flushed`] once it committed.
    pub(crate) fn flush(&self, tx: &Connection, flush: &Flush) -> StoreResult<()> {
        let mut insert_id =
            tx.prepare_cached("INSERT OR IGNORE INTO alert_ids (id_hash, rid) VALUES (?1, ?2)").map_err(backend)?;
        for (hash, rid) in &flush.ids {
            insert_id.execute(params![hash, rid]).map_err(backend)?;
        }
        let mut insert_key = tx
            .prepare_cached("INSERT OR IGNORE INTO alert_entities (key_hash, rid) VALUES (?1, ?2)")
            .map_err(backend)?;
        for (hash, rid) in &flush.keys {
            insert_key.execute(params![hash, rid]).map_err(backend)?;
        }
        for range in std::iter::once(flush.range).chain(flush.empty.iter().copied()) {
            tx.execute(
                "UPDATE index_state SET value = MAX(value, ?2) WHERE name = ?1",
                params![upto_name(range), flush.upto],
            )
            .map_err(backend)?;
        }
        // The filter learns the ids now, before the commit: saying "maybe" early costs a probe,
        // saying "no" wrongly would lose a re-sent alert.
        let mut filter = self.filter.write().unwrap_or_else(|e| e.into_inner());
        if filter.count + flush.ids.len() > filter.capacity() {
            *filter = IdFilter::of_table(tx)?;
        } else {
            for (hash, _) in &flush.ids {
                filter.insert(*hash);
            }
        }
        Ok(())
    }

    /// The flush committed: what it moved leaves the maps, and its range's mark moves on.
    pub(crate) fn flushed(&self, flush: Flush) {
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        let r = flush.range;
        let ids_before: usize = pending.ids[r].values().map(Rids::len).sum();
        pending.ids[r].retain(|_, rids| rids.keep_above(flush.upto));
        pending.keys[r].retain(|_, rids| rids.keep_above(flush.upto));
        let ids_after: usize = pending.ids[r].values().map(Rids::len).sum();
        pending.entries[r] = ids_after + pending.keys[r].values().map(Rids::len).sum::<usize>();
        pending.alerts = pending.alerts.saturating_sub(ids_before - ids_after);
        for range in std::iter::once(r).chain(flush.empty.iter().copied()) {
            pending.upto[range] = pending.upto[range].max(flush.upto);
        }
        pending.last_flushed = r;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Pending> {
        self.pending.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pending {
    /// Files an alert's hashes in the maps of the ranges not flushed past it.
    fn add(&mut self, rid: i64, id_hash: i64, keys: &[i64]) {
        let r = range_of(id_hash);
        if rid > self.upto[r] && self.ids[r].entry(id_hash).or_default().insert(rid) {
            self.alerts += 1;
            self.entries[r] += 1;
        }
        for key in keys {
            let r = range_of(*key);
            if rid > self.upto[r] && self.keys[r].entry(*key).or_default().insert(rid) {
                self.entries[r] += 1;
            }
        }
    }
}

/// The rids under one hash, ascending and distinct: nearly always one for an id, possibly many
/// thousands for a busy device's key.
#[derive(Debug, Clone, Default)]
enum Rids {
    #[default]
    None,
    One(i64),
    Many(Vec<i64>),
}

impl Rids {
    /// Adds a rid; false when it was there already. New alerts come in ascending order, so this is
    /// a comparison with the last one, not a search.
    fn insert(&mut self, rid: i64) -> bool {
        match self {
            Self::None => *self = Self::One(rid),
            Self::One(r) if *r == rid => return false,
            Self::One(r) => {
                let (a, b) = if *r < rid { (*r, rid) } else { (rid, *r) };
                *self = Self::Many(vec![a, b]);
            }
            Self::Many(rids) => match rids.last() {
                Some(last) if *last < rid => rids.push(rid),
                _ => match rids.binary_search(&rid) {
                    Ok(_) => return false,
                    Err(at) => rids.insert(at, rid),
                },
            },
        }
        true
    }

    fn len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::One(_) => 1,
            Self::Many(rids) => rids.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let (one, many): (Option<i64>, &[i64]) = match self {
            Self::None => (None, &[]),
            Self::One(r) => (Some(*r), &[]),
            Self::Many(rids) => (None, rids),
        };
        one.into_iter().chain(many.iter().copied())
    }

    fn to_vec(&self) -> Vec<i64> {
        self.iter().collect()
    }

    /// Drops the rids up to `upto`; false when none is left.
    fn keep_above(&mut self, upto: i64) -> bool {
        match self {
            Self::None => false,
            Self::One(r) => {
                let keep = *r > upto;
                if !keep {
                    *self = Self::None;
                }
                keep
            }
            Self::Many(rids) => {
                rids.retain(|r| *r > upto);
                !rids.is_empty()
            }
        }
    }
}
