//! Identifiers: small increasing incident numbers, and alert ids derived from their source.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::source::ServiceSource;

/// A stable 64-bit hash of an alert id, the same in every process and version: what storage finds
/// alerts by. Collisions are possible, so whoever looks a hash up compares the id.
pub fn alert_id_hash(id: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes()) as i64
}

/// An incident id: a small, human-readable, increasing integer, written as a string (`"1042"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentId(i64);

/// A string that is not an incident id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an incident id (a positive whole number)")]
pub struct InvalidIncidentId(pub String);

impl IncidentId {
    pub fn new(value: i64) -> Result<Self, InvalidIncidentId> {
        if value > 0 {
            Ok(Self(value))
        } else {
            Err(InvalidIncidentId(value.to_string()))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl FromStr for IncidentId {
    type Err = InvalidIncidentId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        value
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Self)
            .ok_or_else(|| InvalidIncidentId(value.chars().take(32).collect()))
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for IncidentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IncidentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Number(i64),
            #[serde(borrow)]
            Text(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => IncidentId::new(n),
            Raw::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The stable id of an alert: derived from its service source and the id its source gave it, so
/// re-sending the same alert updates it and replaying a stream gives the same ids.
pub fn alert_id(source: &ServiceSource, provider_alert_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(source.as_str().as_bytes());
    hash.update([0]);
    hash.update(provider_alert_id.as_bytes());
    let digest = hash.finalize();
    let mut id = String::with_capacity(34);
    id.push_str("mu");
    id.push_str(&hex::encode(&digest[..16]));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_read_strings_and_numbers() {
        let a: IncidentId = serde_json::from_str("\"1042\"").unwrap();
        let b: IncidentId = serde_json::from_str("1042").unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"1042\"");
        assert!("0".parse::<IncidentId>().is_err());
        assert!("12a".parse::<IncidentId>().is_err());
    }

    #[test]
    fn alert_ids_are_stable_and_source_scoped() {
        let wazuh: ServiceSource = "wazuh".parse().unwrap();
        let suricata: ServiceSource = "suricata".parse().unwrap();
        assert_eq!(alert_id(&wazuh, "1"), alert_id(&wazuh, "1"));
        assert_ne!(alert_id(&wazuh, "1"), alert_id(&suricata, "1"));
        assert_eq!(alert_id(&wazuh, "1").len(), 34);
    }
}
