//! The Graph security enums, spelled and ordered as in the Graph v1.0 CSDL.
//!
//! Closed enums parse any letter case and the legacy spellings the Graph docs use, and always emit
//! the CSDL spelling. Members listed after `unknownFutureValue` are "evolvable": Graph hides them
//! from clients that do not send `Prefer: include-unknown-enum-members`. `serviceSource` and
//! `detectionSource` are open (see [`crate::source`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is not a member of a closed enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {enum_name}; expected one of: {}", valid.join(", "))]
pub struct UnknownMember {
    pub enum_name: &'static str,
    pub value: String,
    pub valid: Vec<&'static str>,
}

/// Behaviour shared by every closed Graph enum.
pub trait GraphEnum: Copy + Eq + Sized + 'static {
    /// The enum's Graph name, e.g. `alertSeverity`.
    const NAME: &'static str;
    /// Every member in CSDL order.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    /// Sort rank: the CSDL position, which is also the natural order (`high` > `medium`).
    fn rank(self) -> i64;
    /// Members after `unknownFutureValue`, shown only to clients that ask for them.
    fn is_evolvable(self) -> bool;
    /// The spelling for a client: evolvable members read `unknownFutureValue` unless it asked.
    fn for_client(self, include_unknown_members: bool) -> &'static str {
        if self.is_evolvable() && !include_unknown_members {
            "unknownFutureValue"
        } else {
            self.as_str()
        }
    }
    /// Every member a person or a tool may send (the placeholder excluded).
    fn settable() -> Vec<&'static str> {
        Self::ALL.iter().map(|m| m.as_str()).filter(|s| *s != "unknownFutureValue").collect()
    }
}

macro_rules! graph_enum {
    (
        $(#[$meta:meta])*
        $name:ident = $graph_name:literal {
            $($variant:ident = $wire:literal $(| $alias:literal)*),+ $(,)?
        }
        evolvable: [$($evolvable:ident),* $(,)?]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl GraphEnum for $name {
            const NAME: &'static str = $graph_name;
            const ALL: &'static [Self] = &[$(Self::$variant),+];

            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }

            fn rank(self) -> i64 {
                self as i64
            }

            fn is_evolvable(self) -> bool {
                false $(|| matches!(self, Self::$evolvable))*
            }
        }

        impl FromStr for $name {
            type Err = UnknownMember;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $(
                    if value.eq_ignore_ascii_case($wire) $(|| value.eq_ignore_ascii_case($alias))* {
                        if $wire != "unknownFutureValue" {
                            return Ok(Self::$variant);
                        }
                    }
                )+
                Err(UnknownMember {
                    enum_name: $graph_name,
                    value: value.to_owned(),
                    valid: Self::settable(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
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

graph_enum! {
    /// `incidentStatus`.
    IncidentStatus = "incidentStatus" {
        Active = "active",
        Resolved = "resolved",
        InProgress = "inProgress",
        Redirected = "redirected",
        UnknownFutureValue = "unknownFutureValue",
        AwaitingAction = "awaitingAction",
    }
    evolvable: [AwaitingAction]
}

graph_enum! {
    /// `alertStatus`.
    AlertStatus = "alertStatus" {
        Unknown = "unknown",
        New = "new",
        InProgress = "inProgress",
        Resolved = "resolved",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

impl AlertStatus {
    /// Whether the alert still asks for attention.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Resolved)
    }
}

impl IncidentStatus {
    /// Whether the incident is closed to automatic correlation.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Resolved | Self::Redirected)
    }
}

graph_enum! {
    /// `alertClassification`.
    AlertClassification = "alertClassification" {
        Unknown = "unknown",
        FalsePositive = "falsePositive",
        TruePositive = "truePositive",
        InformationalExpectedActivity = "informationalExpectedActivity",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `alertDetermination`. The docs' prose spellings (`compromisedUser`, `clean`,
    /// `insufficientData`, `confirmedUserActivity`) and the legacy API's are accepted as aliases.
    AlertDetermination = "alertDetermination" {
        Unknown = "unknown" | "notAvailable",
        Apt = "apt",
        Malware = "malware",
        SecurityPersonnel = "securityPersonnel",
        SecurityTesting = "securityTesting",
        UnwantedSoftware = "unwantedSoftware",
        Other = "other",
        MultiStagedAttack = "multiStagedAttack",
        CompromisedAccount = "compromisedAccount" | "compromisedUser",
        Phishing = "phishing",
        MaliciousUserActivity = "maliciousUserActivity",
        NotMalicious = "notMalicious" | "clean",
        NotEnoughDataToValidate = "notEnoughDataToValidate" | "insufficientData" | "noEnoughDataToValidate",
        ConfirmedActivity = "confirmedActivity" | "confirmedUserActivity",
        LineOfBusinessApplication = "lineOfBusinessApplication",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `alertSeverity`; ranks sort `high` above `medium` above `low`.
    AlertSeverity = "alertSeverity" {
        Unknown = "unknown" | "unspecified",
        Informational = "informational",
        Low = "low",
        Medium = "medium",
        High = "high",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `evidenceRole`.
    EvidenceRole = "evidenceRole" {
        Unknown = "unknown",
        Contextual = "contextual",
        Scanned = "scanned",
        Source = "source",
        Destination = "destination",
        Created = "created",
        Added = "added",
        Compromised = "compromised",
        Edited = "edited",
        Attacked = "attacked",
        Attacker = "attacker",
        CommandAndControl = "commandAndControl",
        Loaded = "loaded",
        Suspicious = "suspicious",
        PolicyViolator = "policyViolator",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `evidenceVerdict`.
    EvidenceVerdict = "evidenceVerdict" {
        Unknown = "unknown",
        Suspicious = "suspicious",
        Malicious = "malicious",
        NoThreatsFound = "noThreatsFound",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `evidenceRemediationStatus`.
    EvidenceRemediationStatus = "evidenceRemediationStatus" {
        None = "none",
        Remediated = "remediated",
        Prevented = "prevented",
        Blocked = "blocked",
        NotFound = "notFound",
        UnknownFutureValue = "unknownFutureValue",
        Active = "active",
        PendingApproval = "pendingApproval",
        Declined = "declined",
        Unremediated = "unremediated",
        Running = "running",
        PartiallyRemediated = "partiallyRemediated",
    }
    evolvable: [Active, PendingApproval, Declined, Unremediated, Running, PartiallyRemediated]
}

graph_enum! {
    /// `investigationState`.
    InvestigationState = "investigationState" {
        Unknown = "unknown",
        Terminated = "terminated",
        SuccessfullyRemediated = "successfullyRemediated",
        Benign = "benign",
        Failed = "failed",
        PartiallyRemediated = "partiallyRemediated",
        Running = "running",
        PendingApproval = "pendingApproval",
        PendingResource = "pendingResource",
        Queued = "queued",
        InnerFailure = "innerFailure",
        PreexistingAlert = "preexistingAlert",
        UnsupportedOs = "unsupportedOs",
        UnsupportedAlertType = "unsupportedAlertType",
        SuppressedAlert = "suppressedAlert",
        PartiallyInvestigated = "partiallyInvestigated",
        TerminatedByUser = "terminatedByUser",
        TerminatedBySystem = "terminatedBySystem",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `detectionStatus`.
    DetectionStatus = "detectionStatus" {
        Detected = "detected",
        Blocked = "blocked",
        Prevented = "prevented",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `defenderAvStatus`.
    DefenderAvStatus = "defenderAvStatus" {
        NotReporting = "notReporting",
        Disabled = "disabled",
        NotUpdated = "notUpdated",
        Updated = "updated",
        Unknown = "unknown",
        NotSupported = "notSupported",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `deviceHealthStatus`.
    DeviceHealthStatus = "deviceHealthStatus" {
        Active = "active",
        Inactive = "inactive",
        ImpairedCommunication = "impairedCommunication",
        NoSensorData = "noSensorData",
        NoSensorDataImpairedCommunication = "noSensorDataImpairedCommunication",
        Unknown = "unknown",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `deviceRiskScore`.
    DeviceRiskScore = "deviceRiskScore" {
        None = "none",
        Informational = "informational",
        Low = "low",
        Medium = "medium",
        High = "high",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `onboardingStatus`.
    OnboardingStatus = "onboardingStatus" {
        InsufficientInfo = "insufficientInfo",
        Onboarded = "onboarded",
        CanBeOnboarded = "canBeOnboarded",
        Unsupported = "unsupported",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `vmCloudProvider`.
    VmCloudProvider = "vmCloudProvider" {
        Unknown = "unknown",
        Azure = "azure",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `servicePrincipalType`.
    ServicePrincipalType = "servicePrincipalType" {
        Unknown = "unknown",
        Application = "application",
        ManagedIdentity = "managedIdentity",
        Legacy = "legacy",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `mailboxConfigurationType`.
    MailboxConfigurationType = "mailboxConfigurationType" {
        MailForwardingRule = "mailForwardingRule",
        OwaSettings = "owaSettings",
        EwsSettings = "ewsSettings",
        MailDelegation = "mailDelegation",
        UserInboxRule = "userInboxRule",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `fileHashAlgorithm`.
    FileHashAlgorithm = "fileHashAlgorithm" {
        Unknown = "unknown",
        Md5 = "md5",
        Sha1 = "sha1",
        Sha256 = "sha256",
        Sha256Ac = "sha256ac",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

graph_enum! {
    /// `protocolType`.
    ProtocolType = "protocolType" {
        Tcp = "tcp",
        Udp = "udp",
        UnknownFutureValue = "unknownFutureValue",
    }
    evolvable: []
}

/// `correlationReason` flags, with the CSDL bit values.
pub const CORRELATION_REASONS: &[(&str, u32)] = &[
    ("repeatedAlertOccurrence", 1),
    ("sameGeography", 2),
    ("similarArtifacts", 4),
    ("sameTargetedAsset", 8),
    ("sameNetworkSegment", 16),
    ("eventSequence", 32),
    ("timeFrame", 64),
    ("sameThreatSource", 128),
    ("similarTTPsOrBehavior", 256),
    ("sameActor", 512),
    ("sameCampaign", 1024),
    ("sharedIndicators", 2048),
    ("sameAsset", 4096),
    ("networkProximity", 8192),
    ("eventCasualSequence", 16384),
    ("temporalProximity", 32768),
    ("lateralMovementPath", 65536),
];

/// A set of `correlationReason` flags, written as Graph writes flag enums: `"sameAsset,temporalProximity"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CorrelationReasons(u32);

impl CorrelationReasons {
    pub const REPEATED_ALERT_OCCURRENCE: Self = Self(1);
    pub const SIMILAR_ARTIFACTS: Self = Self(4);
    pub const SAME_TARGETED_ASSET: Self = Self(8);
    pub const TIME_FRAME: Self = Self(64);
    pub const SHARED_INDICATORS: Self = Self(2048);
    pub const SAME_ASSET: Self = Self(4096);
    pub const TEMPORAL_PROXIMITY: Self = Self(32768);

    pub fn empty() -> Self {
        Self(0)
    }

    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn names(self) -> Vec<&'static str> {
        CORRELATION_REASONS.iter().filter(|(_, bit)| self.0 & bit != 0).map(|(name, _)| *name).collect()
    }
}

impl std::ops::BitOr for CorrelationReasons {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for CorrelationReasons {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for CorrelationReasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for CorrelationReasons {
    type Err = UnknownMember;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut bits = 0;
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bit = CORRELATION_REASONS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(part))
                .map(|(_, bit)| *bit)
                .ok_or_else(|| UnknownMember {
                    enum_name: "correlationReason",
                    value: part.to_owned(),
                    valid: CORRELATION_REASONS.iter().map(|(n, _)| *n).collect(),
                })?;
            bits |= bit;
        }
        Ok(Self(bits))
    }
}

impl Serialize for CorrelationReasons {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CorrelationReasons {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_and_emits_graph_spelling() {
        assert_eq!("HIGH".parse::<AlertSeverity>(), Ok(AlertSeverity::High));
        assert_eq!("InProgress".parse::<IncidentStatus>(), Ok(IncidentStatus::InProgress));
        assert_eq!(IncidentStatus::InProgress.to_string(), "inProgress");
    }

    #[test]
    fn legacy_spellings_map_to_csdl() {
        let d: AlertDetermination = "compromisedUser".parse().unwrap();
        assert_eq!(d, AlertDetermination::CompromisedAccount);
        assert_eq!(d.as_str(), "compromisedAccount");
        assert_eq!("Clean".parse(), Ok(AlertDetermination::NotMalicious));
        assert_eq!("InsufficientData".parse(), Ok(AlertDetermination::NotEnoughDataToValidate));
        assert_eq!("confirmedUserActivity".parse(), Ok(AlertDetermination::ConfirmedActivity));
    }

    #[test]
    fn unknown_member_names_the_enum_and_the_choices() {
        let err = "severe".parse::<AlertSeverity>().unwrap_err().to_string();
        assert!(err.contains("alertSeverity"), "{err}");
        assert!(err.contains("high"), "{err}");
        assert!("unknownFutureValue".parse::<AlertSeverity>().is_err());
    }

    #[test]
    fn severity_ranks_high_first() {
        assert!(AlertSeverity::High.rank() > AlertSeverity::Medium.rank());
        assert!(AlertSeverity::Low.rank() > AlertSeverity::Informational.rank());
    }

    #[test]
    fn evolvable_members_hide_unless_asked() {
        assert_eq!(IncidentStatus::AwaitingAction.for_client(false), "unknownFutureValue");
        assert_eq!(IncidentStatus::AwaitingAction.for_client(true), "awaitingAction");
        assert_eq!(IncidentStatus::Active.for_client(false), "active");
    }

    #[test]
    fn correlation_reasons_round_trip() {
        let r: CorrelationReasons = "sameAsset, temporalProximity".parse().unwrap();
        assert!(r.contains(CorrelationReasons::SAME_ASSET));
        assert_eq!(r.to_string(), "sameAsset,temporalProximity");
        assert!("nope".parse::<CorrelationReasons>().is_err());
    }
}
