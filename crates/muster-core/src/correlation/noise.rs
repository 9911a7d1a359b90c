//! Recurring noise: the rate history of each (detector, entity) pair. A pair that was already seen
//! well before now is background, unless it is bursting far above its own busiest earlier bucket.

use std::collections::BTreeMap;

use foldhash::HashMap as FoldHashMap;

use super::config::CorrelationConfig;

/// What a pair's history says about one more alert of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairVerdict {
    /// Never (or only just) seen: not background.
    Novel,
    /// Seen before at its usual rate: background.
    Recurring,
    /// Far above its usual rate, or new and already firing above the burst margin.
    Burst,
}

#[derive(Debug, Default, Clone)]
struct PairHistory {
    /// Alerts per bucket.
    buckets: BTreeMap<i64, u64>,
    /// What the buckets before `.0` say (seen early enough to be background; the busiest count),
    /// kept until one of them changes: alerts mostly arrive in order, so most land in the bucket
    /// the summary was made for, and the lookback is not scanned again for each.
    before: Option<(i64, bool, u64)>,
}

/// The rate histories, bucketed by activity time.
#[derive(Debug, Default, Clone)]
pub struct NoiseTracker {
    /// By a hash of the pair (the caller's).
    pairs: FoldHashMap<u64, PairHistory>,
}

impl NoiseTracker {
    /// Judges one more alert of `pair` at `at_secs` (before counting it), then counts it.
    pub fn observe(&mut self, pair: u64, at_secs: i64, config: &CorrelationConfig) -> PairVerdict {
        let bucket = at_secs.div_euclid(config.noise_bucket_secs);
        let lookback = config.noise_lookback_secs / config.noise_bucket_secs;
        let min_age = config.noise_min_age_secs.div_euclid(config.noise_bucket_secs);
        let history = self.pairs.entry(pair).or_default();
        let (recurring, busiest) = match history.before {
            Some((b, recurring, busiest)) if b == bucket => (recurring, busiest),
            _ => {
                let mut recurring = false;
                let mut busiest = 0;
                for (b, count) in history.buckets.range(bucket - lookback..bucket) {
                    recurring |= *b <= bucket - min_age.max(1);
                    busiest = busiest.max(*count);
                }
                history.before = Some((bucket, recurring, busiest));
                (recurring, busiest)
            }
        };
        let current = history.buckets.entry(bucket).or_insert(0);
        *current += 1;
        if !recurring {
            // A pair never seen before that already fires above the margin is a burst from nothing.
            return if *current > config.burst_margin { PairVerdict::Burst } else { PairVerdict::Novel };
        }
        let ceiling = config.burst_factor * busiest as f64 + config.burst_margin as f64;
        if *current as f64 > ceiling {
            PairVerdict::Burst
        } else {
            PairVerdict::Recurring
        }
    }

    /// Forgets buckets older than the lookback before `high_water_secs`.
    pub fn prune(&mut self, high_water_secs: i64, config: &CorrelationConfig) {
        let oldest = (high_water_secs - config.noise_lookback_secs).div_euclid(config.noise_bucket_secs);
        self.pairs.retain(|_, history| {
            history.buckets = history.buckets.split_off(&oldest);
            // Made again from what is left, exactly as it would be had it not been kept.
            history.before = None;
            !history.buckets.is_empty()
        });
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn a_new_pair_is_novel_and_stays_so_during_its_first_hours() {
        let config = CorrelationConfig::default();
        let mut t = NoiseTracker::default();
        for n in 0..(5 * 6) {
            assert_eq!(t.observe(1, n * 600, &config), PairVerdict::Novel, "alert {n}");
        }
    }

    #[test]
    fn a_new_pair_firing_above_the_margin_is_a_burst() {
        let config = CorrelationConfig::default();
        let mut t = NoiseTracker::default();
        let verdicts: Vec<_> = (0..30).map(|n| t.observe(2, n * 5, &config)).collect();
        let margin = config.burst_margin as usize;
        assert!(verdicts[..margin].iter().all(|v| *v == PairVerdict::Novel), "{verdicts:?}");
        assert!(verdicts[margin..].iter().all(|v| *v == PairVerdict::Burst), "{verdicts:?}");
    }

    #[test]
    fn a_steady_pair_becomes_recurring_and_a_burst_stands_out() {
        let config = CorrelationConfig::default();
        let mut t = NoiseTracker::default();
        // Every 10 minutes for a day.
        for n in 0..(24 * 6) {
            t.observe(3, n * 600, &config);
        }
        assert_eq!(t.observe(3, 24 * HOUR + 10, &config), PairVerdict::Recurring);
        // A hundred more in the same hour: far above its usual six.
        let verdicts: Vec<_> = (0..100).map(|n| t.observe(3, 24 * HOUR + 20 + n, &config)).collect();
        assert_eq!(verdicts.last(), Some(&PairVerdict::Burst));
        assert!(verdicts.iter().take(30).all(|v| *v == PairVerdict::Recurring), "{verdicts:?}");
    }

    #[test]
    fn old_history_is_forgotten() {
        let config = CorrelationConfig::default();
        let mut t = NoiseTracker::default();
        t.observe(4, 0, &config);
        t.prune(config.noise_lookback_secs + 2 * HOUR, &config);
        assert!(t.is_empty());
        assert_eq!(t.observe(4, config.noise_lookback_secs + 2 * HOUR, &config), PairVerdict::Novel);
    }
}
