//! The properties a query may filter and sort on, and the columns that hold them. One fixed
//! table per resource: the only place a name becomes SQL.

use crate::enums::{AlertClassification, AlertDetermination, AlertStatus, IncidentStatus};
use crate::GraphEnum;

/// How a property is stored.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub nullable: bool,
    /// Text holding enum members, sorted by these ranks (CSDL order) rather than alphabetically.
    pub ranks: Option<fn() -> Vec<&'static str>>,
    /// Stored lower-cased: compared with lower-cased values, and without `lower()`.
    pub lowered: bool,
    /// Holds text (else whole numbers: ids, counts, ranks, microseconds).
    pub text: bool,
    /// Holds a handful of values, each on a large share of rows: a page filtered on it is served
    /// faster by walking its order's index than by gathering every row with the value and sorting.
    pub coarse: bool,
}

impl Column {
    /// What its sort key holds: ranked enums sort (and page) by their rank.
    pub fn sorts_as_text(&self) -> bool {
        self.text && self.ranks.is_none()
    }
}

/// A column of whole numbers.
const fn plain(name: &'static str, nullable: bool) -> Column {
    Column { name, nullable, ranks: None, lowered: false, text: false, coarse: false }
}

/// A column of text.
const fn text(name: &'static str, nullable: bool) -> Column {
    Column { name, nullable, ranks: None, lowered: false, text: true, coarse: false }
}

fn members<E: GraphEnum>() -> Vec<&'static str> {
    E::ALL.iter().map(|m| m.as_str()).collect()
}

/// A property of a resource that a query can name.
pub trait QueryField: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    fn column(self) -> Column;
    /// The default order's keys, tie-break excluded: newest activity first.
    fn default_order() -> &'static [(Self, bool)];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentField {
    Id,
    Status,
    /// Stored as its rank.
    Severity,
    AssignedTo,
    Classification,
    Determination,
    DisplayName,
    CreatedDateTime,
    LastUpdateDateTime,
    FirstActivityDateTime,
    LastActivityDateTime,
    AlertCount,
    ActiveAlertCount,
    /// How many service sources (detection products) the incident's alerts come from.
    ServiceSourceCount,
    /// How many categories (tactics) its alerts carry.
    CategoryCount,
    RedirectIncidentId,
}

impl QueryField for IncidentField {
    fn column(self) -> Column {
        match self {
            Self::Id => plain("id", false),
            Self::Status => Column { ranks: Some(members::<IncidentStatus>), ..text("status", false) },
            Self::Severity => Column { coarse: true, ..plain("severity_rank", false) },
            Self::AssignedTo => Column { lowered: true, ..text("assigned_to", true) },
            Self::Classification => {
                Column { ranks: Some(members::<AlertClassification>), ..text("classification", true) }
            }
            Self::Determination => Column { ranks: Some(members::<AlertDetermination>), ..text("determination", true) },
            Self::DisplayName => text("display_name", false),
            Self::CreatedDateTime => plain("created_at", false),
            Self::LastUpdateDateTime => plain("last_update_at", false),
            Self::FirstActivityDateTime => plain("first_activity_at", true),
            Self::LastActivityDateTime => plain("last_activity_at", false),
            Self::AlertCount => plain("alert_count", false),
            Self::ActiveAlertCount => plain("active_alert_count", false),
            Self::ServiceSourceCount => plain("service_source_count", false),
            Self::CategoryCount => plain("category_count", false),
            Self::RedirectIncidentId => plain("redirect_incident_id", true),
        }
    }

    fn default_order() -> &'static [(Self, bool)] {
        &[(Self::LastActivityDateTime, true)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertField {
    Id,
    IncidentId,
    Status,
    /// Stored as its rank.
    Severity,
    /// Open: Graph's members and tools' own names, compared as text.
    ServiceSource,
    AssignedTo,
    Classification,
    Determination,
    Title,
    CreatedDateTime,
    LastUpdateDateTime,
    /// The alert's activity time (last activity, else first, else creation).
    LastActivityDateTime,
}

impl QueryField for AlertField {
    fn column(self) -> Column {
        match self {
            Self::Id => text("id", false),
            Self::IncidentId => plain("incident_id", false),
            Self::Status => Column { ranks: Some(members::<AlertStatus>), ..text("status", false) },
            Self::Severity => plain("severity_rank", false),
            Self::ServiceSource => text("service_source", false),
            Self::AssignedTo => Column { lowered: true, ..text("assigned_to", true) },
            Self::Classification => {
                Column { ranks: Some(members::<AlertClassification>), ..text("classification", true) }
            }
            Self::Determination => Column { ranks: Some(members::<AlertDetermination>), ..text("determination", true) },
            Self::Title => text("title", false),
            Self::CreatedDateTime => plain("created_at", false),
            Self::LastUpdateDateTime => plain("last_update_at", false),
            Self::LastActivityDateTime => plain("activity_at", false),
        }
    }

    fn default_order() -> &'static [(Self, bool)] {
        &[(Self::LastActivityDateTime, true)]
    }
}

/// A multi-valued incident property, one `incident_facets` row per value (see
/// [`crate::Incident::facets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facet {
    CustomTags,
    SystemTags,
    Categories,
    MitreTechniques,
    ServiceSources,
    DetectionSources,
    OsPlatforms,
    DeviceGroups,
    InvestigationStates,
    DataSensitivity,
    /// Names of impacted devices, users, mailboxes and apps, lower-cased: what `$search` finds.
    ImpactedAssets,
}

impl Facet {
    /// The `facet` column's value.
    pub fn name(self) -> &'static str {
        match self {
            Self::CustomTags => "customTags",
            Self::SystemTags => "systemTags",
            Self::Categories => "categories",
            Self::MitreTechniques => "mitreTechniques",
            Self::ServiceSources => "serviceSources",
            Self::DetectionSources => "detectionSources",
            Self::OsPlatforms => "osPlatforms",
            Self::DeviceGroups => "deviceGroups",
            Self::InvestigationStates => "investigationStates",
            Self::DataSensitivity => "dataSensitivity",
            Self::ImpactedAssets => "impactedAssets",
        }
    }
}
