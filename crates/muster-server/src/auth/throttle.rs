//! Login throttling: after repeated failures an account, or a client address, must wait before it
//! may try again. Counts live in memory: a restart forgives, which is acceptable for a brake on
//! guessing (the audit log keeps the record).

use std::collections::HashMap;
use std::sync::Mutex;

use muster_core::Timestamp;

/// Limits for one kind of key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Failures allowed within `window_secs` before refusing.
    pub failures: u32,
    pub window_secs: i64,
    /// How long a key is refused once over the limit.
    pub lockout_secs: i64,
}

#[derive(Debug, Default)]
struct Counter {
    failures: u32,
    window_start: i64,
    locked_until: i64,
}

/// Failure counts per account and per client address.
#[derive(Debug)]
pub struct LoginThrottle {
    account: Limit,
    address: Limit,
    counters: Mutex<HashMap<String, Counter>>,
}

/// Throttling has to stop memory growing under a flood of distinct names.
const MAX_TRACKED: usize = 100_000;

impl LoginThrottle {
    pub fn new(account: Limit, address: Limit) -> Self {
        Self { account, address, counters: Mutex::new(HashMap::new()) }
    }

    /// Five failures per account in 15 minutes lock it for 15 minutes; fifty per address in
    /// 5 minutes lock the address for 5.
    pub fn with_defaults() -> Self {
        Self::new(
            Limit { failures: 5, window_secs: 900, lockout_secs: 900 },
            Limit { failures: 50, window_secs: 300, lockout_secs: 300 },
        )
    }

    fn keys(login: &str, address: &str) -> [(String, bool); 2] {
        [(format!("a:{}", login.trim().to_lowercase()), true), (format!("i:{address}"), false)]
    }

    /// Seconds to wait before this login from this address may be tried, if any.
    pub fn retry_after(&self, login: &str, address: &str, now: Timestamp) -> Option<i64> {
        let now = now.micros() / 1_000_000;
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(login, address)
            .iter()
            .filter_map(|(key, _)| counters.get(key))
            .map(|c| c.locked_until - now)
            .filter(|wait| *wait > 0)
            .max()
    }

    /// Starts an attempt: refused with the seconds to wait while locked, otherwise counted as a
    /// failure at once (so parallel guesses cannot all slip through) until `succeeded` says otherwise.
    pub fn begin(&self, login: &str, address: &str, now: Timestamp) -> Result<(), i64> {
        if let Some(wait) = self.retry_after(login, address, now) {
            return Err(wait);
        }
        self.failed(login, address, now);
        Ok(())
    }

    /// Records a failed attempt.
    pub fn failed(&self, login: &str, address: &str, now: Timestamp) {
        let now = now.micros() / 1_000_000;
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() > MAX_TRACKED {
            counters.retain(|_, c| c.locked_until > now || now - c.window_start < 3600);
        }
        if counters.len() > MAX_TRACKED {
            // Still too many: keep only what is locked, so memory stays bounded under a flood.
            counters.retain(|_, c| c.locked_until > now);
        }
        for (key, is_account) in Self::keys(login, address) {
            let limit = if is_account { self.account } else { self.address };
            let counter = counters.entry(key).or_default();
            if now - counter.window_start > limit.window_secs {
                counter.window_start = now;
                counter.failures = 0;
            }
            counter.failures += 1;
            if counter.failures >= limit.failures {
                counter.locked_until = now + limit.lockout_secs;
            }
        }
    }

    /// A successful login clears the account's count and gives back the address the attempt it
    /// was charged (not more: one good password must not reset a guessing run against others).
    pub fn succeeded(&self, login: &str, address: &str) {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters.remove(&format!("a:{}", login.trim().to_lowercase()));
        if let Some(counter) = counters.get_mut(&format!("i:{address}")) {
            counter.failures = counter.failures.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn locks_an_account_after_repeated_failures() {
        let throttle = LoginThrottle::with_defaults();
        for n in 0..4 {
            throttle.failed("Alice", "10.0.0.1", t(n));
            assert_eq!(throttle.retry_after("alice", "10.0.0.2", t(n)), None);
        }
        throttle.failed("alice", "10.0.0.1", t(5));
        let wait = throttle.retry_after("ALICE", "10.0.0.9", t(6)).expect("locked from any address");
        assert!(wait > 800);
        assert_eq!(throttle.retry_after("alice", "10.0.0.9", t(6 + 900)), None);
        assert_eq!(throttle.retry_after("bob", "10.0.0.9", t(6)), None);
    }

    #[test]
    fn locks_an_address_spraying_many_accounts() {
        let throttle = LoginThrottle::with_defaults();
        for n in 0..50 {
            throttle.failed(&format!("user{n}"), "203.0.113.7", t(0));
        }
        assert!(throttle.retry_after("someone-else", "203.0.113.7", t(1)).is_some());
        assert!(throttle.retry_after("someone-else", "203.0.113.8", t(1)).is_none());
    }

    #[test]
    fn attempts_are_counted_before_they_are_judged() {
        let throttle = LoginThrottle::with_defaults();
        // Five parallel attempts all begin before any is judged: the sixth is refused.
        for _ in 0..5 {
            assert!(throttle.begin("alice", "10.0.0.1", t(0)).is_ok());
        }
        assert!(throttle.begin("alice", "10.0.0.1", t(0)).is_err());
    }

    #[test]
    fn success_clears_the_account() {
        let throttle = LoginThrottle::with_defaults();
        for n in 0..3 {
            throttle.failed("alice", "10.0.0.1", t(n));
        }
        throttle.succeeded("alice", "10.0.0.1");
        for n in 0..4 {
            throttle.failed("alice", "10.0.0.1", t(10 + n));
        }
        assert!(throttle.retry_after("alice", "10.0.0.1", t(20)).is_none());
    }
}
