//! A Bloom filter over the id hashes in `alert_ids`.

use muster_core::store::StoreResult;
use rusqlite::Connection;

use crate::backend;

/// A Bloom filter over the id hashes in `alert_ids`. Most look-ups are of alerts never seen before,
/// and the filter says so without a B-tree probe (about one in a hundred it is unsure and the
/// probe happens anyway).
#[derive(Debug, Default)]
pub(crate) struct IdFilter {
    bits: Vec<u64>,
    pub(crate) count: usize,
}

/// Bits set per id, and bits per id the filter is sized for.
const FILTER_PROBES: u64 = 4;
const FILTER_BITS_PER_ID: usize = 10;

impl IdFilter {
    /// A filter for at least `capacity` ids.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let bits = (capacity.max(1024) * FILTER_BITS_PER_ID).next_power_of_two();
        Self { bits: vec![0; bits / 64], count: 0 }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bits.len() * 64 / FILTER_BITS_PER_ID
    }

    /// The bit positions of an id: from its hash, mixed a little for each probe.
    fn positions(&self, hash: i64) -> impl Iterator<Item = usize> + '_ {
        let mask = (self.bits.len() * 64 - 1) as u64;
        let h = hash as u64;
        let step = h.rotate_left(32) | 1;
        (0..FILTER_PROBES).map(move |i| (h.wrapping_add(i.wrapping_mul(step)) & mask) as usize)
    }

    pub(crate) fn insert(&mut self, hash: i64) {
        let positions: Vec<usize> = self.positions(hash).collect();
        for p in positions {
            self.bits[p / 64] |= 1 << (p % 64);
        }
        self.count += 1;
    }

    pub(crate) fn may_contain(&self, hash: i64) -> bool {
        self.positions(hash).all(|p| self.bits[p / 64] & (1 << (p % 64)) != 0)
    }

    /// A filter of every id hash in `alert_ids`, with room to grow.
    pub(crate) fn of_table(conn: &Connection) -> StoreResult<Self> {
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM alert_ids", [], |r| r.get(0)).map_err(backend)?;
        let mut filter = Self::with_capacity(count as usize * 2);
        let mut statement = conn.prepare("SELECT id_hash FROM alert_ids").map_err(backend)?;
        for hash in statement.query_map([], |r| r.get::<_, i64>(0)).map_err(backend)? {
            filter.insert(hash.map_err(backend)?);
        }
        Ok(filter)
    }
}
