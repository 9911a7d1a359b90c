//! Randomness that is the same on every platform and every run for a seed.
//!
//! Long-lived streams (the world, the attack plans, each noise source) are ChaCha8 streams of one
//! seed, so each stream is independent of how the others are interleaved. Per-alert details are
//! drawn from a SplitMix64 seeded by the alert's own hash, which is cheap to start.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stream `stream` of the simulation seeded with `seed`.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The SplitMix64 finaliser: a bijection on `u64`, so distinct inputs give distinct outputs.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small, fast generator for per-alert details.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Helpers over any generator, written against `next_u64` only so the values never depend on a
/// library's sampling algorithms.
pub(crate) trait Draw {
    fn u64(&mut self) -> u64;

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..hi`; `lo` when the range is empty.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    fn word(&mut self, items: &[&'static str]) -> &'static str {
        items[self.index(items.len())]
    }

    /// Lower-case hex of `len` digits.
    fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        let mut bits = 0u64;
        for i in 0..len {
            if i % 16 == 0 {
                bits = self.u64();
            }
            out.push(HEX[(bits & 0xf) as usize] as char);
            bits >>= 4;
        }
        out
    }

    fn guid(&mut self) -> String {
        guid_from(self.u64(), self.u64())
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

impl Draw for ChaCha8Rng {
    fn u64(&mut self) -> u64 {
        self.next_u64()
    }
}

impl Draw for SplitMix {
    fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
}

/// A GUID whose first 64 bits are `hi`: distinct `hi` give distinct GUIDs.
pub(crate) fn guid_from(hi: u64, lo: u64) -> String {
    fn push(out: &mut String, value: u64, digits: u32) {
        for shift in (0..digits).rev() {
            out.push(HEX[((value >> (shift * 4)) & 0xf) as usize] as char);
        }
    }
    let mut out = String::with_capacity(36);
    push(&mut out, hi >> 32, 8);
    out.push('-');
    push(&mut out, (hi >> 16) & 0xffff, 4);
    out.push('-');
    push(&mut out, hi & 0xffff, 4);
    out.push('-');
    push(&mut out, lo >> 48, 4);
    out.push('-');
    push(&mut out, lo & 0xffff_ffff_ffff, 12);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable() {
        let mut a = stream(7, 3);
        let mut b = stream(7, 3);
        assert_eq!(a.hex(64), b.hex(64));
        assert_ne!(stream(7, 3).u64(), stream(7, 4).u64());
        let mut s = SplitMix::new(1);
        for _ in 0..1000 {
            assert!(s.below(10) < 10);
            let r = s.range(-5, 5);
            assert!((-5..5).contains(&r));
        }
        assert_eq!(guid_from(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210), "01234567-89ab-cdef-fedc-ba9876543210");
    }
}
