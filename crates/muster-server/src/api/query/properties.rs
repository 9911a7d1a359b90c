//! What a client may name in `$filter` and `$orderby`, per resource: each property's type, and
//! the column or facet that holds it. A name missing here is an unknown property (400).

use std::str::FromStr;

use muster_core::enums::{
    AlertClassification, AlertDetermination, AlertSeverity, AlertStatus, IncidentStatus, InvestigationState,
};
use muster_core::source::{DetectionSource, ServiceSource};
use muster_core::store::query::{AlertField, Facet, IncidentField};
use muster_core::GraphEnum;

/// A closed enum's members and their ranks, and how to read a literal as one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnumType {
    pub(crate) name: &'static str,
    /// Canonical spelling and rank of a member, or `None`.
    pub(crate) parse: fn(&str) -> Option<(&'static str, i64)>,
    pub(crate) members: fn() -> Vec<(&'static str, i64)>,
}

fn parse_member<E: GraphEnum + FromStr>(text: &str) -> Option<(&'static str, i64)> {
    text.parse::<E>().ok().map(|m| (m.as_str(), m.rank()))
}

fn all_members<E: GraphEnum>() -> Vec<(&'static str, i64)> {
    E::ALL.iter().filter(|m| m.as_str() != "unknownFutureValue").map(|m| (m.as_str(), m.rank())).collect()
}

const fn enum_type<E: GraphEnum + FromStr>() -> EnumType {
    EnumType { name: E::NAME, parse: parse_member::<E>, members: all_members::<E> }
}

/// An open enum (`serviceSource`, `detectionSource`): Graph's members or a tool's own name,
/// canonicalised.
pub(crate) type OpenEnum = fn(&str) -> Option<String>;

fn service_source(text: &str) -> Option<String> {
    ServiceSource::from_str(text).ok().map(|s| s.as_str().to_owned())
}

fn detection_source(text: &str) -> Option<String> {
    DetectionSource::from_str(text).ok().map(|s| s.as_str().to_owned())
}

/// A scalar property's type, as literals must match it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Text,
    /// Text stored lower-cased, matched case-insensitively (`assignedTo`).
    Lowered,
    /// A whole number (counts).
    Int,
    /// An id Graph spells as a string of digits; a number is accepted too.
    NumericId,
    DateTime,
    /// Stored as its spelling; ordered comparisons become sets of members by rank.
    Enum(EnumType),
    /// Stored as its rank.
    RankedEnum(EnumType),
    Open(OpenEnum),
}

/// What a collection's elements are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Element {
    Text,
    Enum(EnumType),
    Open(OpenEnum),
}

/// A property a query can name.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Property<F> {
    Scalar {
        field: F,
        kind: Kind,
    },
    /// A collection, filtered through `any()`/`all()`; `count` is its size column, if stored.
    Collection {
        facet: Facet,
        element: Element,
        count: Option<F>,
    },
}

/// A resource's queryable properties.
pub(crate) trait Resource:
    Copy + Eq + std::fmt::Debug + Send + Sync + muster_core::store::query::QueryField
{
    /// The resource's name in messages.
    const NAME: &'static str;
    fn property(name: &str) -> Option<Property<Self>>;
}

impl Resource for IncidentField {
    const NAME: &'static str = "incident";

    fn property(name: &str) -> Option<Property<Self>> {
        use IncidentField as F;
        let scalar = |field, kind| Some(Property::Scalar { field, kind });
        let collection = |facet, element| Some(Property::Collection { facet, element, count: None });
        match name {
            "id" => scalar(F::Id, Kind::NumericId),
            "status" => scalar(F::Status, Kind::Enum(enum_type::<IncidentStatus>())),
            "severity" => scalar(F::Severity, Kind::RankedEnum(enum_type::<AlertSeverity>())),
            "assignedTo" => scalar(F::AssignedTo, Kind::Lowered),
            "classification" => scalar(F::Classification, Kind::Enum(enum_type::<AlertClassification>())),
            "determination" => scalar(F::Determination, Kind::Enum(enum_type::<AlertDetermination>())),
            "displayName" => scalar(F::DisplayName, Kind::Text),
            "createdDateTime" => scalar(F::CreatedDateTime, Kind::DateTime),
            "lastUpdateDateTime" => scalar(F::LastUpdateDateTime, Kind::DateTime),
            "firstActivityDateTime" => scalar(F::FirstActivityDateTime, Kind::DateTime),
            "lastActivityDateTime" => scalar(F::LastActivityDateTime, Kind::DateTime),
            "alertCount" => scalar(F::AlertCount, Kind::Int),
            "activeAlertCount" => scalar(F::ActiveAlertCount, Kind::Int),
            "redirectIncidentId" => scalar(F::RedirectIncidentId, Kind::NumericId),
            "customTags" => collection(Facet::CustomTags, Element::Text),
            "systemTags" => collection(Facet::SystemTags, Element::Text),
            "categories" => Some(Property::Collection {
                facet: Facet::Categories,
                element: Element::Text,
                count: Some(F::CategoryCount),
            }),
            "mitreTechniques" => collection(Facet::MitreTechniques, Element::Text),
            "serviceSources" => Some(Property::Collection {
                facet: Facet::ServiceSources,
                element: Element::Open(service_source),
                count: Some(F::ServiceSourceCount),
            }),
            "detectionSources" => collection(Facet::DetectionSources, Element::Open(detection_source)),
            "osPlatforms" => collection(Facet::OsPlatforms, Element::Text),
            "deviceGroups" => collection(Facet::DeviceGroups, Element::Text),
            "investigationStates" => {
                collection(Facet::InvestigationStates, Element::Enum(enum_type::<InvestigationState>()))
            }
            "dataSensitivity" => collection(Facet::DataSensitivity, Element::Text),
            _ => None,
        }
    }
}

impl Resource for AlertField {
    const NAME: &'static str = "alert";

    fn property(name: &str) -> Option<Property<Self>> {
        use AlertField as F;
        let scalar = |field, kind| Some(Property::Scalar { field, kind });
        match name {
            "id" => scalar(F::Id, Kind::Text),
            "incidentId" => scalar(F::IncidentId, Kind::NumericId),
            "status" => scalar(F::Status, Kind::Enum(enum_type::<AlertStatus>())),
            "severity" => scalar(F::Severity, Kind::RankedEnum(enum_type::<AlertSeverity>())),
            "serviceSource" => scalar(F::ServiceSource, Kind::Open(service_source)),
            "assignedTo" => scalar(F::AssignedTo, Kind::Lowered),
            "classification" => scalar(F::Classification, Kind::Enum(enum_type::<AlertClassification>())),
            "determination" => scalar(F::Determination, Kind::Enum(enum_type::<AlertDetermination>())),
            "title" => scalar(F::Title, Kind::Text),
            "createdDateTime" => scalar(F::CreatedDateTime, Kind::DateTime),
            "lastUpdateDateTime" => scalar(F::LastUpdateDateTime, Kind::DateTime),
            "lastActivityDateTime" => scalar(F::LastActivityDateTime, Kind::DateTime),
            _ => None,
        }
    }
}
