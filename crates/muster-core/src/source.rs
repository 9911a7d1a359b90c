//! `serviceSource` and `detectionSource`: open enums. They take the Graph members (any letter case,
//! emitted in Graph spelling) and also a tool's own lower-case name (`suricata`, `wazuh`, `sigma`)
//! for sources Graph does not list. Graph SDKs read an unknown member as null, which costs them nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A source name that is neither a Graph member nor a plausible tool name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {enum_name}: use a Graph member or a tool's name (letters, digits, '.', '_' or '-', at most 64)")]
pub struct InvalidSource {
    pub enum_name: &'static str,
    pub value: String,
}

const SERVICE_SOURCES: &[&str] = &[
    "unknown",
    "microsoftDefenderForEndpoint",
    "microsoftDefenderForIdentity",
    "microsoftDefenderForCloudApps",
    "microsoftDefenderForOffice365",
    "microsoft365Defender",
    "azureAdIdentityProtection",
    "microsoftAppGovernance",
    "dataLossPrevention",
    "unknownFutureValue",
    "microsoftDefenderForCloud",
    "microsoftSentinel",
    "microsoftInsiderRiskManagement",
    "microsoftThreatIntelligence",
    "microsoftSecurityForAI",
];

const DETECTION_SOURCES: &[&str] = &[
    "unknown",
    "microsoftDefenderForEndpoint",
    "antivirus",
    "smartScreen",
    "customTi",
    "microsoftDefenderForOffice365",
    "automatedInvestigation",
    "microsoftThreatExperts",
    "customDetection",
    "microsoftDefenderForIdentity",
    "cloudAppSecurity",
    "microsoft365Defender",
    "azureAdIdentityProtection",
    "manual",
    "microsoftDataLossPrevention",
    "appGovernancePolicy",
    "appGovernanceDetection",
    "unknownFutureValue",
    "microsoftDefenderForCloud",
    "microsoftDefenderForIoT",
    "microsoftDefenderForServers",
    "microsoftDefenderForStorage",
    "microsoftDefenderForDNS",
    "microsoftDefenderForDatabases",
    "microsoftDefenderForContainers",
    "microsoftDefenderForNetwork",
    "microsoftDefenderForAppService",
    "microsoftDefenderForKeyVault",
    "microsoftDefenderForResourceManager",
    "microsoftDefenderForApiManagement",
    "nrtAlerts",
    "scheduledAlerts",
    "microsoftDefenderThreatIntelligenceAnalytics",
    "builtInMl",
    "microsoftInsiderRiskManagement",
    "microsoftThreatIntelligence",
    "microsoftDefenderForAIServices",
    "securityCopilot",
    "microsoftSentinel",
];

fn canonical(members: &'static [&'static str], value: &str) -> Option<String> {
    if let Some(member) = members.iter().find(|m| m.eq_ignore_ascii_case(value)) {
        return (*member != "unknownFutureValue").then(|| (*member).to_owned());
    }
    let valid = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    valid.then(|| value.to_ascii_lowercase())
}

fn evolvable(members: &'static [&'static str], value: &str) -> bool {
    members.iter().position(|m| *m == "unknownFutureValue").is_some_and(|cut| members[cut + 1..].contains(&value))
}

macro_rules! open_source_enum {
    ($(#[$meta:meta])* $name:ident = $graph_name:literal, $members:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The Graph members, in CSDL order.
            pub const MEMBERS: &'static [&'static str] = $members;

            pub fn unknown() -> Self {
                Self("unknown".to_owned())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether this is one of Graph's own members (not a tool's name).
            pub fn is_graph_member(&self) -> bool {
                $members.contains(&self.0.as_str())
            }

            /// The spelling for a client: evolvable members read `unknownFutureValue` unless it asked.
            pub fn for_client(&self, include_unknown_members: bool) -> &str {
                if !include_unknown_members && evolvable($members, &self.0) {
                    "unknownFutureValue"
                } else {
                    &self.0
                }
            }
        }

        impl FromStr for $name {
            type Err = InvalidSource;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                canonical($members, value.trim()).map(Self).ok_or_else(|| InvalidSource {
                    enum_name: $graph_name,
                    value: value.to_owned(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

open_source_enum! {
    /// `serviceSource`: the product that raised the alert.
    ServiceSource = "serviceSource", SERVICE_SOURCES
}

open_source_enum! {
    /// `detectionSource`: the technology inside the product that detected it.
    DetectionSource = "detectionSource", DETECTION_SOURCES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_members_keep_graph_spelling() {
        let s: ServiceSource = "MICROSOFTDEFENDERFORENDPOINT".parse().unwrap();
        assert_eq!(s.as_str(), "microsoftDefenderForEndpoint");
        assert!(s.is_graph_member());
    }

    #[test]
    fn tool_names_are_lower_cased() {
        let s: DetectionSource = "Suricata".parse().unwrap();
        assert_eq!(s.as_str(), "suricata");
        assert!(!s.is_graph_member());
    }

    #[test]
    fn nonsense_is_refused() {
        assert!("".parse::<ServiceSource>().is_err());
        assert!("two words".parse::<ServiceSource>().is_err());
        assert!("<script>".parse::<DetectionSource>().is_err());
        assert!("unknownFutureValue".parse::<DetectionSource>().is_err());
    }

    #[test]
    fn evolvable_members_hide_unless_asked() {
        let s: ServiceSource = "microsoftSentinel".parse().unwrap();
        assert_eq!(s.for_client(false), "unknownFutureValue");
        assert_eq!(s.for_client(true), "microsoftSentinel");
        let tool: ServiceSource = "wazuh".parse().unwrap();
        assert_eq!(tool.for_client(false), "wazuh");
    }
}
