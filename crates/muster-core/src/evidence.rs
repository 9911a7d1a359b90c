//! Alert evidence, polymorphic by `@odata.type` as in Graph (`#microsoft.graph.security.deviceEvidence`).
//!
//! The common types are modelled field by field; any other evidence type is kept whole as opaque JSON
//! rather than refusing the alert. Fields a type does not know are kept too, so nothing a tool sent is lost.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::enums::{
    DefenderAvStatus, DetectionStatus, DeviceHealthStatus, DeviceRiskScore, EvidenceRemediationStatus, EvidenceRole,
    EvidenceVerdict, FileHashAlgorithm, OnboardingStatus, ProtocolType, VmCloudProvider,
};
use crate::time::Timestamp;

/// The namespace prefix of every Graph security type name.
pub const GRAPH_NS: &str = "#microsoft.graph.security.";

/// Declares an evidence struct with the `alertEvidence` base properties, its own fields, and a
/// catch-all for properties it does not model.
macro_rules! evidence_type {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[serde_with::skip_serializing_none]
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub created_date_time: Option<Timestamp>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub detailed_roles: Vec<String>,
            pub remediation_status: Option<EvidenceRemediationStatus>,
            pub remediation_status_details: Option<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub roles: Vec<EvidenceRole>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub tags: Vec<String>,
            pub verdict: Option<EvidenceVerdict>,
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Properties this type does not model, kept as sent (`@odata.*` annotations dropped).
            #[serde(flatten, serialize_with = "crate::json::without_annotations")]
            pub extra: Map<String, Value>,
        }
    };
}

/// Declares a plain complex type (no evidence base) with a catch-all for unmodelled properties.
macro_rules! complex_type {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[serde_with::skip_serializing_none]
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Properties this type does not model, kept as sent (`@odata.*` annotations dropped).
            #[serde(flatten, serialize_with = "crate::json::without_annotations")]
            pub extra: Map<String, Value>,
        }
    };
}

complex_type!(
    /// `loggedOnUser`.
    LoggedOnUser { account_name: Option<String>, domain_name: Option<String> }
);

complex_type!(
    /// `resourceAccessEvent`.
    ResourceAccessEvent {
        access_date_time: Option<Timestamp>,
        account_id: Option<String>,
        ip_address: Option<String>,
        resource_identifier: Option<String>,
    }
);

complex_type!(
    /// `vmMetadata`.
    VmMetadata {
        cloud_provider: Option<VmCloudProvider>,
        resource_id: Option<String>,
        subscription_id: Option<String>,
        vm_id: Option<String>,
    }
);

complex_type!(
    /// `userAccount`.
    UserAccount {
        account_name: Option<String>,
        active_directory_object_guid: Option<String>,
        azure_ad_user_id: Option<String>,
        display_name: Option<String>,
        domain_name: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resource_access_events: Vec<ResourceAccessEvent>,
        tenant_id: Option<String>,
        user_principal_name: Option<String>,
        user_sid: Option<String>,
    }
);

complex_type!(
    /// `stream`.
    Stream { name: Option<String> }
);

complex_type!(
    /// `geoLocation`.
    GeoLocation {
        city: Option<String>,
        country_name: Option<String>,
        latitude: Option<f64>,
        longitude: Option<f64>,
        state: Option<String>,
    }
);

complex_type!(
    /// `fileDetails`.
    FileDetails {
        file_name: Option<String>,
        file_path: Option<String>,
        file_publisher: Option<String>,
        file_size: Option<i64>,
        issuer: Option<String>,
        md5: Option<String>,
        sha1: Option<String>,
        sha256: Option<String>,
        sha256_ac: Option<String>,
        signer: Option<String>,
    }
);

complex_type!(
    /// `emailSender`.
    EmailSender {
        display_name: Option<String>,
        domain_name: Option<String>,
        email_address: Option<String>,
    }
);

evidence_type!(
    /// `deviceEvidence`.
    DeviceEvidence {
        azure_ad_device_id: Option<String>,
        defender_av_status: Option<DefenderAvStatus>,
        device_dns_name: Option<String>,
        dns_domain: Option<String>,
        first_seen_date_time: Option<Timestamp>,
        health_status: Option<DeviceHealthStatus>,
        host_name: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ip_interfaces: Vec<String>,
        last_external_ip_address: Option<String>,
        last_ip_address: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        logged_on_users: Vec<LoggedOnUser>,
        mde_device_id: Option<String>,
        nt_domain: Option<String>,
        onboarding_status: Option<OnboardingStatus>,
        os_build: Option<i64>,
        os_platform: Option<String>,
        rbac_group_id: Option<i32>,
        rbac_group_name: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resource_access_events: Vec<ResourceAccessEvent>,
        risk_score: Option<DeviceRiskScore>,
        version: Option<String>,
        vm_metadata: Option<VmMetadata>,
    }
);

evidence_type!(
    /// `userEvidence`.
    UserEvidence { user_account: Option<UserAccount>, stream: Option<Stream> }
);

evidence_type!(
    /// `ipEvidence`.
    IpEvidence {
        ip_address: Option<String>,
        country_letter_code: Option<String>,
        location: Option<GeoLocation>,
        stream: Option<Stream>,
    }
);

evidence_type!(
    /// `fileEvidence`.
    FileEvidence {
        detection_status: Option<DetectionStatus>,
        file_details: Option<FileDetails>,
        mde_device_id: Option<String>,
    }
);

evidence_type!(
    /// `processEvidence`.
    ProcessEvidence {
        detection_status: Option<DetectionStatus>,
        image_file: Option<FileDetails>,
        mde_device_id: Option<String>,
        parent_process_creation_date_time: Option<Timestamp>,
        parent_process_id: Option<i64>,
        parent_process_image_file: Option<FileDetails>,
        process_command_line: Option<String>,
        process_creation_date_time: Option<Timestamp>,
        process_id: Option<i64>,
        user_account: Option<UserAccount>,
    }
);

evidence_type!(
    /// `urlEvidence`.
    UrlEvidence { url: Option<String> }
);

evidence_type!(
    /// `mailboxEvidence`.
    MailboxEvidence {
        display_name: Option<String>,
        primary_address: Option<String>,
        upn: Option<String>,
        user_account: Option<UserAccount>,
    }
);

evidence_type!(
    /// `analyzedMessageEvidence`.
    AnalyzedMessageEvidence {
        anti_spam_direction: Option<String>,
        attachments_count: Option<i64>,
        delivery_action: Option<String>,
        delivery_location: Option<String>,
        internet_message_id: Option<String>,
        language: Option<String>,
        network_message_id: Option<String>,
        p1_sender: Option<EmailSender>,
        p2_sender: Option<EmailSender>,
        received_date_time: Option<Timestamp>,
        recipient_email_address: Option<String>,
        sender_ip: Option<String>,
        subject: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        threat_detection_methods: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        threats: Vec<String>,
        url_count: Option<i64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        urls: Vec<String>,
        urn: Option<String>,
    }
);

evidence_type!(
    /// `cloudApplicationEvidence`.
    CloudApplicationEvidence {
        app_id: Option<i64>,
        display_name: Option<String>,
        instance_id: Option<i64>,
        instance_name: Option<String>,
        saas_app_id: Option<i64>,
        stream: Option<Stream>,
    }
);

evidence_type!(
    /// `registryKeyEvidence`.
    RegistryKeyEvidence { registry_hive: Option<String>, registry_key: Option<String> }
);

evidence_type!(
    /// `registryValueEvidence`.
    RegistryValueEvidence {
        mde_device_id: Option<String>,
        registry_hive: Option<String>,
        registry_key: Option<String>,
        registry_value: Option<String>,
        registry_value_name: Option<String>,
        registry_value_type: Option<String>,
    }
);

evidence_type!(
    /// `networkConnectionEvidence`.
    NetworkConnectionEvidence {
        destination_address: Option<IpEvidence>,
        destination_port: Option<i32>,
        protocol: Option<ProtocolType>,
        source_address: Option<IpEvidence>,
        source_port: Option<i32>,
    }
);

evidence_type!(
    /// `dnsEvidence`.
    DnsEvidence {
        dns_server_ip: Option<IpEvidence>,
        domain_name: Option<String>,
        host_ip_address: Option<IpEvidence>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ip_addresses: Vec<IpEvidence>,
    }
);

evidence_type!(
    /// `fileHashEvidence`.
    FileHashEvidence { algorithm: Option<FileHashAlgorithm>, value: Option<String> }
);

macro_rules! evidence_enum {
    ($($variant:ident($ty:ident) = $wire:literal),+ $(,)?) => {
        /// One evidence item of an alert.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Evidence {
            $($variant($ty),)+
            /// An evidence type Muster does not model, kept whole (with its `@odata.type`).
            Other(Map<String, Value>),
        }

        impl Evidence {
            /// The short Graph type name, e.g. `deviceEvidence`.
            pub fn type_name(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $wire,)+
                    Self::Other(map) => map
                        .get("@odata.type")
                        .and_then(Value::as_str)
                        .map(short_type_name)
                        .unwrap_or("unknown"),
                }
            }

            /// The base `roles` of any modelled type.
            pub fn roles(&self) -> &[EvidenceRole] {
                match self {
                    $(Self::$variant(e) => &e.roles,)+
                    Self::Other(_) => &[],
                }
            }

            /// The base `verdict` of any modelled type.
            pub fn verdict(&self) -> Option<EvidenceVerdict> {
                match self {
                    $(Self::$variant(e) => e.verdict,)+
                    Self::Other(_) => None,
                }
            }

            fn from_map(map: Map<String, Value>) -> Result<Self, String> {
                let ty = map.get("@odata.type").and_then(Value::as_str).map(short_type_name);
                $(
                    if ty.is_some_and(|t| t.eq_ignore_ascii_case($wire)) {
                        let mut map = map;
                        map.remove("@odata.type");
                        return serde_path_to_error::deserialize::<_, $ty>(Value::Object(map))
                            .map(Self::$variant)
                            .map_err(|e| {
                                crate::json::nested_message(&e.path().to_string(), e.inner())
                            });
                    }
                )+
                Ok(Self::Other(map))
            }

        }

        impl Serialize for Evidence {
            /// `@odata.type` first, then the type's own properties: written straight out, without
            /// building a JSON value in between (this runs for every evidence item of every alert
            /// stored).
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[derive(Serialize)]
                struct Typed<'a, T: Serialize> {
                    #[serde(rename = "@odata.type")]
                    odata_type: &'static str,
                    #[serde(flatten)]
                    body: &'a T,
                }
                match self {
                    $(Self::$variant(e) => {
                        Typed { odata_type: concat!("#microsoft.graph.security.", $wire), body: e }.serialize(s)
                    })+
                    Self::Other(map) => map.serialize(s),
                }
            }
        }
    };
}

evidence_enum! {
    Device(DeviceEvidence) = "deviceEvidence",
    User(UserEvidence) = "userEvidence",
    Mailbox(MailboxEvidence) = "mailboxEvidence",
    Ip(IpEvidence) = "ipEvidence",
    File(FileEvidence) = "fileEvidence",
    Process(ProcessEvidence) = "processEvidence",
    Url(UrlEvidence) = "urlEvidence",
    CloudApplication(CloudApplicationEvidence) = "cloudApplicationEvidence",
    AnalyzedMessage(AnalyzedMessageEvidence) = "analyzedMessageEvidence",
    RegistryKey(RegistryKeyEvidence) = "registryKeyEvidence",
    RegistryValue(RegistryValueEvidence) = "registryValueEvidence",
    NetworkConnection(NetworkConnectionEvidence) = "networkConnectionEvidence",
    Dns(DnsEvidence) = "dnsEvidence",
    FileHash(FileHashEvidence) = "fileHashEvidence",
}

/// `#microsoft.graph.security.deviceEvidence` → `deviceEvidence`.
fn short_type_name(full: &str) -> &str {
    full.rsplit('.').next().unwrap_or(full)
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        Evidence::from_map(map).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn device_evidence_round_trips_with_its_type() {
        let raw = json!({
            "@odata.type": "#microsoft.graph.security.deviceEvidence",
            "hostName": "ws-01", "rbacGroupName": "Servers", "osBuild": 22631,
            "roles": ["compromised"], "verdict": "suspicious", "vendorField": 7
        });
        let ev: Evidence = serde_json::from_value(raw.clone()).unwrap();
        let Evidence::Device(d) = &ev else { panic!("not a device: {ev:?}") };
        assert_eq!(d.host_name.as_deref(), Some("ws-01"));
        assert_eq!(serde_json::to_value(&ev).unwrap(), raw);
    }

    #[test]
    fn unknown_types_are_kept_whole() {
        let raw = json!({"@odata.type": "#microsoft.graph.security.kubernetesPodEvidence", "name": "p"});
        let ev: Evidence = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(ev.type_name(), "kubernetesPodEvidence");
        assert_eq!(serde_json::to_value(&ev).unwrap(), raw);
    }

    #[test]
    fn bad_field_is_named() {
        let raw = json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "osBuild": "x"});
        let err = serde_json::from_value::<Evidence>(raw).unwrap_err().to_string();
        assert!(err.contains("osBuild"), "{err}");
    }
}
