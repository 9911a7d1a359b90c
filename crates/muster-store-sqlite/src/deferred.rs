//! The lookups by alert id and by entity key, indexed in bulk rather than alert by alert.
//!
//! Both are keyed by hashes that are random by nature, so a B-tree index kept current per commit
//! rewrites about one page per alert and key — on an ingest of thousands of alerts a second that
//! was most of what SQLite wrote. Instead, the newest alerts (every `rid` above `upto`) are found
//! through maps in memory, and now and then all of them are inserted into the on-disk tables
//! (`alert_ids`, `alert_entities`) in one sorted pass, which touches each page once. A restart
//! rebuilds the maps from the alert rows above `upto`, which carry their id and key hashes.
//!
//! Readers ask the maps first and the tables second, so an alert is never missed while a flush
//! moves it from one to the other (it may be seen twice; callers check the id or the key anyway).

use std::sync::RwLock;

use muster_core::store::StoreResult;
use rusqlite::{params, Connection};
use rustc_hash::FxHashMap;

use crate::backend;

/// Alerts held in memory before a flush, at least.
const FLUSH_MIN: usize = 50_000;
/// ...and at least this share of the alerts flushed so far, so each flush rewrites the on-disk
/// tables' pages for a proportionate number of alerts.
const FLUSH_SHARE: f64 = 0.125;

/// The not-yet-flushed part of the two lookups.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Every alert with a `rid` above this is in the maps, not (necessarily) in the tables.
    pub(crate) upto: i64,
    ids: FxHashMap<i64, Rids>,
    keys: FxHashMap<i64, Rids>,
    alerts: usize,
    /// Alerts already in the tables (about): sizes the next flush.
    flushed: usize,
}

/// A Bloom filter over the id hashes in `alert_ids`. Most look-ups are of alerts never seen before,
/// and the filter says so without a B-tree probe (about one in a hundred it is unsure and the
/// probe happens anyway).
#[derive(Debug, Default)]
struct IdFilter {
    bits: Vec<u64>,
    count: usize,
}

/// Bits set per id, and bits per id the filter is sized for.
const FILTER_PROBES: u64 = 4;
const FILTER_BITS_PER_ID: usize = 10;

impl IdFilter {
    /// A filter for at least `capacity` ids.
    fn with_capacity(capacity: usize) -> Self {
        let bits = (capacity.max(1024) * FILTER_BITS_PER_ID).next_power_of_two();
        Self { bits: vec![0; bits / 64], count: 0 }
    }

    fn capacity(&self) -> usize {
        self.bits.len() * 64 / FILTER_BITS_PER_ID
    }

    /// The bit positions of an id: from its hash, mixed a little for each probe.
    fn positions(&self, hash: i64) -> impl Iterator<Item = usize> + '_ {
        let mask = (self.bits.len() * 64 - 1) as u64;
        let h = hash as u64;
        let step = h.rotate_left(32) | 1;
        (0..FILTER_PROBES).map(move |i| (h.wrapping_add(i.wrapping_mul(step)) & mask) as usize)
    }

    fn insert(&mut self, hash: i64) {
        let positions: Vec<usize> = self.positions(hash).collect();
        for p in positions {
            self.bits[p / 64] |= 1 << (p % 64);
        }
        self.count += 1;
    }

    fn may_contain(&self, hash: i64) -> bool {
        self.positions(hash).all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }

    /// A filter of every id hash in `alert_ids`, with room to grow.
    fn of_table(conn: &Connection) -> StoreResult<Self> {
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM alert_ids", [], |r| r.get(0)).map_err(backend)?;
        let mut filter = Self::with_capacity(count as usize * 2);
        let mut statement = conn.prepare("SELECT id_hash FROM alert_ids").map_err(backend)?;
        for hash in statement.query_map([], |r| r.get::<_, i64>(0)).map_err(backend)? {
            filter.insert(hash.map_err(backend)?);
        }
        Ok(filter)
    }
}

/// The maps, shared by the writer (which changes them after each commit) and the readers.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    pending: RwLock<Pending>,
    filter: RwLock<IdFilter>,
}

/// What one committed batch adds to the maps: `(rid, id hash, key hashes)` of each alert above
/// `upto` it wrote. (Keys gained by older alerts go straight into `alert_entities`.)
#[derive(Debug, Default)]
pub(crate) struct Additions {
    pub(crate) alerts: Vec<(i64, i64, Vec<i64>)>,
}

/// Decodes a row's `keys` column: little-endian 64-bit hashes.
pub(crate) fn keys_from_blob(blob: &[u8]) -> Vec<i64> {
    blob.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

pub(crate) fn keys_to_blob(keys: &[i64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

impl Deferred {
    /// Rebuilds the maps from the alerts above the flushed mark.
    pub(crate) fn load(conn: &Connection) -> StoreResult<Self> {
        let upto: i64 = conn
            .query_row("SELECT value FROM index_state WHERE name = 'deferred_upto'", [], |r| r.get(0))
            .map_err(backend)?;
        let flushed: i64 = conn.query_row("SELECT COUNT(*) FROM alert_ids", [], |r| r.get(0)).map_err(backend)?;
        let mut pending = Pending { upto, flushed: flushed as usize, ..Pending::default() };
        let mut statement =
            conn.prepare("SELECT rid, id_hash, keys FROM alerts WHERE rid > ?1 ORDER BY rid").map_err(backend)?;
        let rows = statement
            .query_map([upto], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))
            .map_err(backend)?;
        for row in rows {
            let (rid, id_hash, keys) = row.map_err(backend)?;
            pending.add(rid, id_hash, &keys_from_blob(&keys));
        }
        Ok(Self { pending: RwLock::new(pending), filter: RwLock::new(IdFilter::of_table(conn)?) })
    }

    /// Whether `alert_ids` may hold an id with this hash (false: it certainly does not).
    pub(crate) fn may_be_flushed(&self, id_hash: i64) -> bool {
        self.filter.read().unwrap_or_else(|e| e.into_inner()).may_contain(id_hash)
    }

    /// The rids of alerts above the flushed mark whose id hashes to `id_hash`.
    pub(crate) fn rids_for_id(&self, id_hash: i64) -> Vec<i64> {
        self.read().ids.get(&id_hash).map(Rids::to_vec).unwrap_or_default()
    }

    /// The rids of alerts above the flushed mark that had `key_hash` when written.
    pub(crate) fn rids_for_key(&self, key_hash: i64) -> Vec<i64> {
        self.read().keys.get(&key_hash).map(Rids::to_vec).unwrap_or_default()
    }

    pub(crate) fn upto(&self) -> i64 {
        self.read().upto
    }

    /// Takes a committed batch's new alerts into the maps.
    pub(crate) fn committed(&self, additions: Additions) {
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        for (rid, id_hash, keys) in additions.alerts {
            pending.add(rid, id_hash, &keys);
        }
    }

    /// Whether enough alerts wait for a flush to be worth its pass over the tables.
    pub(crate) fn wants_flush(&self) -> bool {
        let pending = self.read();
        pending.alerts >= FLUSH_MIN.max((pending.flushed as f64 * FLUSH_SHARE) as usize)
    }

    /// Writes every pending alert's id and keys into the tables, in key order, inside the caller's
    /// transaction; returns the new mark, for [`Self::flushed`] once that transaction committed.
    pub(crate) fn flush(&self, tx: &Connection) -> StoreResult<(i64, usize)> {
        let upto = self.upto();
        let mut ids: Vec<(i64, i64)> = Vec::new();
        let mut keys: Vec<(i64, i64)> = Vec::new();
        let mut last = upto;
        {
            let mut statement =
                tx.prepare("SELECT rid, id_hash, keys FROM alerts WHERE rid > ?1 ORDER BY rid").map_err(backend)?;
            let rows = statement
                .query_map([upto], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))
                .map_err(backend)?;
            for row in rows {
                let (rid, id_hash, blob) = row.map_err(backend)?;
                ids.push((id_hash, rid));
                keys.extend(keys_from_blob(&blob).into_iter().map(|k| (k, rid)));
                last = rid;
            }
        }
        ids.sort_unstable();
        keys.sort_unstable();
        let mut insert_id =
            tx.prepare_cached("INSERT OR IGNORE INTO alert_ids (id_hash, rid) VALUES (?1, ?2)").map_err(backend)?;
        for (hash, rid) in &ids {
            insert_id.execute(params![hash, rid]).map_err(backend)?;
        }
        let mut insert_key = tx
            .prepare_cached("INSERT OR IGNORE INTO alert_entities (key_hash, rid) VALUES (?1, ?2)")
            .map_err(backend)?;
        for (hash, rid) in &keys {
            insert_key.execute(params![hash, rid]).map_err(backend)?;
        }
        tx.execute("UPDATE index_state SET value = ?1 WHERE name = 'deferred_upto'", [last]).map_err(backend)?;
        // The filter learns the ids now, before the commit: saying "maybe" early costs a probe,
        // saying "no" wrongly would lose a re-sent alert.
        let mut filter = self.filter.write().unwrap_or_else(|e| e.into_inner());
        if filter.count + ids.len() > filter.capacity() {
            *filter = IdFilter::of_table(tx)?;
        } else {
            for (hash, _) in &ids {
                filter.insert(*hash);
            }
        }
        Ok((last, ids.len()))
    }

    /// The flush up to `upto` committed: what it moved leaves the maps.
    pub(crate) fn flushed(&self, upto: i64, alerts: usize) {
        let mut pending = self.pending.write().unwrap_or_else(|e| e.into_inner());
        pending.ids.retain(|_, rids| rids.keep_above(upto));
        pending.keys.retain(|_, rids| rids.keep_above(upto));
        pending.alerts = pending.alerts.saturating_sub(alerts);
        pending.flushed += alerts;
        pending.upto = pending.upto.max(upto);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Pending> {
        self.pending.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pending {
    fn add(&mut self, rid: i64, id_hash: i64, keys: &[i64]) {
        if self.ids.entry(id_hash).or_default().insert(rid) {
            self.alerts += 1;
        }
        for key in keys {
            self.keys.entry(*key).or_default().insert(rid);
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

    fn to_vec(&self) -> Vec<i64> {
        match self {
            Self::None => Vec::new(),
            Self::One(r) => vec![*r],
            Self::Many(rids) => rids.clone(),
        }
    }

    /// Drops the rids up to `upto`; false when none is left.
    fn keep_above(&mut self, upto: i64) -> bool {
        match self {
            Self::None => false,
            Self::One(r) => *r > upto,
            Self::Many(rids) => {
                rids.retain(|r| *r > upto);
                !rids.is_empty()
            }
        }
    }
}
