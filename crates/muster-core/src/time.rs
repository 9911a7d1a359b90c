//! Timestamps as Graph writes them: ISO 8601 in UTC with up to 7 fractional digits and `Z`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};
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

impl Timestamp {
    /// Writes the Graph form into `buf` (`2024-05-01T12:00:00Z`, or with seven fractional digits),
    /// digit by digit: every stored alert carries several timestamps, and chrono's general-purpose
    /// formatter was a good part of writing one. `None` outside the years 0–9999 or on a leap
    /// second, which take the general path.
    fn write_fast<'a>(&self, buf: &'a mut [u8; 28]) -> Option<&'a str> {
        let at = self.0;
        let year = at.year();
        let nanos = at.timestamp_subsec_nanos();
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return None;
        }
        fn put(buf: &mut [u8], at: usize, value: u32, width: usize) {
            let mut v = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        put(buf, 0, year as u32, 4);
        buf[4] = b'-';
        put(buf, 5, at.month(), 2);
        buf[7] = b'-';
        put(buf, 8, at.day(), 2);
        buf[10] = b'T';
        put(buf, 11, at.hour(), 2);
        buf[13] = b':';
        put(buf, 14, at.minute(), 2);
        buf[16] = b':';
        put(buf, 17, at.second(), 2);
        let end = if nanos == 0 {
            19
        } else {
            // Graph's precision is 100 ns: seven fractional digits.
            buf[19] = b'.';
            put(buf, 20, nanos / 100, 7);
            27
        };
        buf[end] = b'Z';
        std::str::from_utf8(&buf[..=end]).ok()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.write_fast(&mut [0; 28]) {
            return f.write_str(text);
        }
        let nanos = self.0.timestamp_subsec_nanos();
        if nanos == 0 {
            return f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        let whole = self.0.format("%Y-%m-%dT%H:%M:%S");
        write!(f, "{whole}.{:07}Z", nanos / 100)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.write_fast(&mut [0; 28]) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
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
    fn the_fast_writer_agrees_with_chrono() {
        let chrono_form = |t: Timestamp| {
            let nanos = t.0.timestamp_subsec_nanos();
            if nanos == 0 {
                t.0.to_rfc3339_opts(SecondsFormat::Secs, true)
            } else {
                format!("{}.{:07}Z", t.0.format("%Y-%m-%dT%H:%M:%S"), nanos / 100)
            }
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            // xorshift: any instant from 1970 to 2200, at microsecond precision.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = Timestamp::from_micros((x % 7_258_118_400_000_000) as i64);
            assert_eq!(t.to_string(), chrono_form(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", chrono_form(t)));
        }
        let early = Timestamp::from_secs(-62_198_755_200); // year 0
        assert_eq!(early.to_string(), chrono_form(early));
    }

    #[test]
    fn micros_round_trip() {
        let t: Timestamp = "2024-05-01T12:00:00.123456Z".parse().unwrap();
        assert_eq!(Timestamp::from_micros(t.micros()), t);
    }
}
