//! Timestamps as Graph writes them: ISO 8601 in UTC with up to 7 fractional digits and `Z`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, read from any RFC 3339 form and written the way Graph writes `DateTimeOffset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// A string that is not an ISO 8601 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an ISO 8601 timestamp such as 2024-05-01T12:00:00Z")]
pub struct InvalidTimestamp(pub String);

impl Timestamp {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(at)
    }

    pub fn inner(self) -> DateTime<Utc> {
        self.0
    }

    /// Microseconds since the Unix epoch: the form both stores index.
    pub fn micros(self) -> i64 {
        self.0.timestamp_micros()
    }

    pub fn from_micros(micros: i64) -> Self {
        Self(Utc.timestamp_micros(micros).single().unwrap_or_default())
    }

    pub fn from_secs(secs: i64) -> Self {
        Self::from_micros(secs.saturating_mul(1_000_000))
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Self::from_micros(self.micros().saturating_add(secs.saturating_mul(1_000_000)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if let Ok(at) = DateTime::parse_from_rfc3339(value) {
            return Ok(Self(at.with_timezone(&Utc)));
        }
        // Some tools omit the offset; Graph's own values are always UTC, so read them as UTC.
        NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|naive| Self(naive.and_utc()))
            .map_err(|_| InvalidTimestamp(value.chars().take(64).collect()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.timestamp_subsec_nanos();
        if nanos == 0 {
            return f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        // Graph's precision is 100 ns: seven fractional digits.
        let whole = self.0.format("%Y-%m-%dT%H:%M:%S");
        write!(f, "{whole}.{:07}Z", nanos / 100)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// The one source of "now", so windows and timers can be stepped in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(Utc::now())
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(std::sync::Mutex::new(start))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance_secs(&self, secs: i64) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.plus_secs(secs);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_graph_precision() {
        let t: Timestamp = "2021-08-13T08:43:35.5533333Z".parse().unwrap();
        assert_eq!(t.to_string(), "2021-08-13T08:43:35.5533333Z");
        let t: Timestamp = "2024-01-01T00:00:00+02:00".parse().unwrap();
        assert_eq!(t.to_string(), "2023-12-31T22:00:00Z");
    }

    #[test]
    fn reads_offsetless_as_utc_and_refuses_garbage() {
        let t: Timestamp = "2024-01-01T10:00:00.5".parse().unwrap();
        assert_eq!(t.to_string(), "2024-01-01T10:00:00.5000000Z");
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("2024-13-01T00:00:00Z".parse::<Timestamp>().is_err());
    }

    #[test]
    fn micros_round_trip() {
        let t: Timestamp = "2024-05-01T12:00:00.123456Z".parse().unwrap();
        assert_eq!(Timestamp::from_micros(t.micros()), t);
    }
}
