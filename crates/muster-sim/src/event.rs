//! Compact alert events: what happened, when and to what. Rendered to Graph JSON only when emitted.

use crate::rng::Draw;

pub(crate) const SECOND: i64 = 1_000_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;

/// Where an alert comes from: decides its `serviceSource`, `detectionSource`, product, id format
/// and how long it takes to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    Endpoint,
    Antivirus,
    Office,
    Identity,
    AadIdentityProtection,
    Suricata,
    Wazuh,
    Sigma,
}

impl Src {
    pub(crate) fn service_source(self) -> &'static str {
        match self {
            Self::Endpoint | Self::Antivirus => "microsoftDefenderForEndpoint",
            Self::Office => "microsoftDefenderForOffice365",
            Self::Identity => "microsoftDefenderForIdentity",
            Self::AadIdentityProtection => "azureAdIdentityProtection",
            Self::Suricata => "suricata",
            Self::Wazuh => "wazuh",
            Self::Sigma => "sigma",
        }
    }

    pub(crate) fn detection_source(self) -> &'static str {
        match self {
            Self::Antivirus => "antivirus",
            other => other.service_source(),
        }
    }

    pub(crate) fn product_name(self) -> &'static str {
        match self {
            Self::Endpoint | Self::Antivirus => "Microsoft Defender for Endpoint",
            Self::Office => "Microsoft Defender for Office 365",
            Self::Identity => "Microsoft Defender for Identity",
            Self::AadIdentityProtection => "Microsoft Entra ID Protection",
            Self::Suricata => "Suricata",
            Self::Wazuh => "Wazuh",
            Self::Sigma => "Sigma",
        }
    }

    pub(crate) fn is_microsoft(self) -> bool {
        !matches!(self, Self::Suricata | Self::Wazuh | Self::Sigma)
    }

    /// Microseconds from the last activity to the alert's creation (its arrival).
    pub(crate) fn ingest_delay(self, rng: &mut impl Draw) -> i64 {
        let (lo, hi) = match self {
            Self::Suricata => (SECOND, 15 * SECOND),
            Self::Wazuh => (2 * SECOND, 60 * SECOND),
            Self::Sigma => (30 * SECOND, 5 * MINUTE),
            Self::Endpoint | Self::Antivirus => (20 * SECOND, 6 * MINUTE),
            Self::Office => (MINUTE, 20 * MINUTE),
            Self::Identity => (30 * SECOND, 5 * MINUTE),
            Self::AadIdentityProtection => (2 * MINUTE, 30 * MINUTE),
        };
        rng.range(lo, hi)
    }
}

/// What an alert is about. Attack kinds find their attack through [`Event::group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    // Attack stages.
    /// Phishing mail to recipient `recipient` of the attack (0 is the victim).
    Phish {
        recipient: u8,
    },
    Click,
    SignIn {
        variant: u8,
    },
    Malware {
        variant: u8,
    },
    /// Initial access to an exposed server: 0 logon after failures, 1 payload dropped.
    Intrusion {
        variant: u8,
    },
    C2,
    Beacon,
    Scan,
    CredTheft {
        variant: u8,
    },
    DcRecon {
        variant: u8,
    },
    /// Failed logons against `device`, from the attacker's internet address when `external`,
    /// else from the attack's entry device with the stolen account.
    BruteForce {
        device: u32,
        external: bool,
    },
    Lateral {
        device: u32,
        variant: u8,
    },
    Exfil {
        variant: u8,
    },
    // Benign, recurring.
    AvUpdate {
        device: u32,
    },
    ProxyIds,
    ServiceLogonFailure,
    SshNoise {
        device: u32,
    },
    AdminLogon,
    Pua {
        device: u32,
    },
    // Benign, one-off. `subject` is a device or a user, as the template needs.
    OneOff {
        template: u8,
        subject: u32,
    },
}

impl Kind {
    pub(crate) fn src(self) -> Src {
        use Kind::*;
        match self {
            Phish { .. } | Click => Src::Office,
            SignIn { .. } => Src::AadIdentityProtection,
            Malware { variant: 0 } | CredTheft { variant: 1 } | AvUpdate { .. } | Pua { .. } => Src::Antivirus,
            Malware { variant: 2 } | Scan | AdminLogon | Exfil { variant: 1 } => Src::Sigma,
            Malware { .. } | Intrusion { variant: 1 } | C2 | CredTheft { .. } | Exfil { variant: 0 } => Src::Endpoint,
            Lateral { variant: 0, .. } => Src::Endpoint,
            DcRecon { .. } | Lateral { variant: 1, .. } => Src::Identity,
            Intrusion { .. } | BruteForce { .. } | Lateral { .. } | ServiceLogonFailure | SshNoise { .. } => Src::Wazuh,
            Beacon | Exfil { .. } | ProxyIds => Src::Suricata,
            OneOff { template, .. } => crate::noise::TEMPLATES[usize::from(template)].src,
        }
    }
}

/// One alert to be: its times (µs since the epoch), its attack (0 for benign) and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub first: i64,
    pub last: i64,
    pub created: i64,
    pub group: u32,
    pub kind: Kind,
}

impl Event {
    pub(crate) fn new(first: i64, last: i64, group: u32, kind: Kind, rng: &mut impl Draw) -> Self {
        let created = last + kind.src().ingest_delay(rng);
        Self { first: first.min(last), last, created, group, kind }
    }
}
