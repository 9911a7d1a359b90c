//! What both backends store beside each resource's JSON body: the indexed columns, derived here once
//! so the two schemas cannot disagree about what a column means.

use serde_json::Value;

use crate::alert::Alert;
use crate::entity::{entity_keys, EntityKey};
use crate::enums::GraphEnum;
use crate::ids::IncidentId;
use crate::incident::{Incident, IncidentMeta};
use crate::store::query::Facet;
use crate::store::{BodyCodec, BodyKind, PackedBody, StoreError, StoredAlert};

/// The indexed columns of an incident row.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentColumns {
    pub id: i64,
    pub version: i64,
    /// The stored version this row replaces (0 for a new incident): normally `version - 1`, less
    /// when a writer skipped versions that never reached storage.
    pub builds_on: i64,
    pub status: &'static str,
    pub severity_rank: i64,
    pub display_name: String,
    pub assigned_to: Option<String>,
    pub classification: Option<&'static str>,
    pub determination: Option<&'static str>,
    pub created_at: i64,
    pub last_update_at: i64,
    pub first_activity_at: Option<i64>,
    pub last_activity_at: i64,
    pub alert_count: i64,
    pub active_alert_count: i64,
    pub service_source_count: i64,
    pub category_count: i64,
    pub redirect_incident_id: Option<i64>,
    pub name_locked: bool,
    pub severity_locked: bool,
    /// The Graph JSON without comments and expanded alerts (those live in their own tables).
    pub body: String,
    /// `body` compressed by the backend's codec, when the encoder did that already (`body` is then
    /// empty).
    pub packed: Option<PackedBody>,
    /// (facet, value) pairs for the multi-valued filters.
    pub facets: Vec<(&'static str, String)>,
    /// What `$search` finds a fragment in: the lower-cased name, then each impacted asset's name,
    /// one per line.
    pub search_text: String,
}

/// Lower-cased assignee, so filters match however a login was typed.
pub fn assignee_key(assigned_to: Option<&str>) -> Option<String> {
    assigned_to.map(str::trim).filter(|a| !a.is_empty()).map(str::to_lowercase)
}

impl IncidentColumns {
    /// The row of `incident`, its body compressed with `codec` when one is given.
    pub fn of(incident: &Incident, codec: Option<&dyn BodyCodec>) -> Result<Self, StoreError> {
        /// The stored body: the incident as Graph JSON with its roll-up totals beside it.
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            incident: &'a Incident,
            #[serde(rename = "@muster.rollup")]
            rollup: &'a crate::rollup::RollupState,
        }
        // Comments and expanded alerts live in their own tables: the body never carries them.
        let stripped;
        let bare = if incident.comments.is_empty() && incident.alerts.is_none() {
            incident
        } else {
            stripped = Incident { comments: Vec::new(), alerts: None, ..incident.clone() };
            &stripped
        };
        let (body, packed) =
            encode_body(&Body { incident: bare, rollup: &incident.meta.rollup }, BodyKind::Incident, codec)?;
        let mut facets = Vec::new();
        for (facet, values) in incident.facets() {
            let mut values = values;
            values.sort();
            values.dedup();
            facets.extend(values.into_iter().filter(|v| !v.is_empty()).map(|v| (facet, v)));
        }
        let display_name = incident.display_name.clone().unwrap_or_default();
        let mut search_text = display_name.to_lowercase();
        for (_, asset) in facets.iter().filter(|(f, _)| *f == Facet::ImpactedAssets.name()) {
            search_text.push('\n');
            search_text.push_str(asset);
        }
        Ok(Self {
            id: incident.id.get(),
            version: incident.meta.version,
            builds_on: incident.meta.version - 1,
            status: incident.status.as_str(),
            severity_rank: incident.severity.rank(),
            display_name,
            assigned_to: assignee_key(incident.assigned_to.as_deref()),
            classification: incident.assessment.classification().map(GraphEnum::as_str),
            determination: incident.assessment.determination().map(GraphEnum::as_str),
            created_at: incident.created_date_time.micros(),
            last_update_at: incident.last_update_date_time.micros(),
            first_activity_at: incident.first_activity_date_time.map(|t| t.micros()),
            last_activity_at: incident.last_activity_date_time.unwrap_or(incident.created_date_time).micros(),
            alert_count: incident.alert_count as i64,
            active_alert_count: incident.active_alert_count as i64,
            service_source_count: incident.service_sources.len() as i64,
            category_count: incident.categories.len() as i64,
            redirect_incident_id: incident.redirect_incident_id.map(IncidentId::get),
            name_locked: incident.meta.name_locked,
            severity_locked: incident.meta.severity_locked,
            body,
            packed,
            facets,
            search_text,
        })
    }
}

/// Bytes of the encoding buffer each thread keeps between bodies.
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    // Bodies are encoded by the thousand: serialising each into a buffer kept for the thread,
    // rather than a fresh one, was a measurable share of ingest.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A resource's body as Graph JSON: compressed with `codec` (the text is then empty), or as text.
fn encode_body(
    value: &impl serde::Serialize,
    kind: BodyKind,
    codec: Option<&dyn BodyCodec>,
) -> Result<(String, Option<PackedBody>), StoreError> {
    SCRATCH.with(|scratch| {
        // Taken out while in use, so it is never borrowed twice; it is put back empty.
        let mut json = scratch.take();
        let encoded = serde_json::to_writer(&mut json, value)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
            .and_then(|()| std::str::from_utf8(&json).map_err(|e| StoreError::Corrupt(e.to_string())))
            .and_then(|text| match codec {
                Some(codec) => Ok((String::new(), Some(codec.pack(kind, text)?))),
                None => Ok((text.to_owned(), None)),
            });
        // A rare huge body does not keep its memory for the thread's lifetime.
        json.clear();
        json.shrink_to(SCRATCH_KEPT);
        scratch.replace(json);
        encoded
    })
}

/// The body property that carries an incident's roll-up totals. An annotation, so it never
/// reaches a client even if a body were sent as is.
const ROLLUP_PROPERTY: &str = "@muster.rollup";

/// Rebuilds an incident from its stored body and bookkeeping columns (the roll-up totals come
/// from the body; `meta.rollup` is ignored).
pub fn incident_from_row(body: &str, meta: IncidentMeta) -> Result<Incident, StoreError> {
    let mut value: Value = serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rollup = match value.as_object_mut().and_then(|map| map.remove(ROLLUP_PROPERTY)) {
        Some(raw) => serde_json::from_value(raw).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        None => Default::default(),
    };
    let mut incident = Incident::from_json_value(value).map_err(|e| StoreError::Corrupt(e.message))?;
    incident.meta = IncidentMeta { rollup, ..meta };
    Ok(incident)
}

/// The indexed columns of an alert row.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertColumns {
    pub id: String,
    pub incident_id: i64,
    pub service_source: String,
    pub provider_alert_id: Option<String>,
    /// What `$search` looks in.
    pub title: String,
    pub status: &'static str,
    pub severity_rank: i64,
    pub assigned_to: Option<String>,
    pub classification: Option<&'static str>,
    pub determination: Option<&'static str>,
    pub created_at: i64,
    pub last_update_at: i64,
    pub activity_at: i64,
    pub pinned: bool,
    /// The Graph JSON without its incident and comments (those live in their own columns and table).
    pub body: String,
    /// `body` compressed by the backend's codec, when the encoder did that already (`body` is then
    /// empty).
    pub packed: Option<PackedBody>,
    /// The writer knows the alert is not stored yet (it looked), so storage need not look again.
    pub new: bool,
    pub keys: Vec<EntityKey>,
    /// [`crate::ids::alert_id_hash`] of the id.
    pub id_hash: i64,
    /// [`EntityKey::hash`] of each key, in the order of `keys`.
    pub key_hashes: Vec<i64>,
}

impl AlertColumns {
    /// The row of a stored alert, its body compressed with `codec` when one is given.
    pub fn of(stored: &StoredAlert, codec: Option<&dyn BodyCodec>) -> Result<Self, StoreError> {
        Self::for_alert(&stored.alert, stored.incident_id, stored.pinned, entity_keys(&stored.alert), codec)
    }

    /// The row of `alert` in `incident`, given its [`entity_keys`] (computed once by callers that
    /// need them too).
    pub fn for_alert(
        alert: &Alert,
        incident: IncidentId,
        pinned: bool,
        keys: Vec<EntityKey>,
        codec: Option<&dyn BodyCodec>,
    ) -> Result<Self, StoreError> {
        if alert.id.is_empty() {
            return Err(StoreError::Corrupt("an alert without an id cannot be stored".into()));
        }
        // The incident lives in its own column and comments in their own table; the body never
        // carries either.
        let (body, packed) = if alert.incident_id.is_none() && alert.comments.is_empty() {
            encode_body(alert, BodyKind::Alert, codec)?
        } else {
            let bare = Alert { incident_id: None, comments: Vec::new(), ..alert.clone() };
            encode_body(&bare, BodyKind::Alert, codec)?
        };
        let created = alert.created_date_time.map(|t| t.micros()).unwrap_or(0);
        Ok(Self {
            id: alert.id.clone(),
            incident_id: incident.get(),
            service_source: alert.service_source.as_str().to_owned(),
            provider_alert_id: alert.provider_alert_id.clone(),
            title: alert.title.clone(),
            status: alert.status.as_str(),
            severity_rank: alert.severity.rank(),
            assigned_to: assignee_key(alert.assigned_to.as_deref()),
            classification: alert.assessment.classification().map(GraphEnum::as_str),
            determination: alert.assessment.determination().map(GraphEnum::as_str),
            created_at: created,
            last_update_at: alert.last_update_date_time.map(|t| t.micros()).unwrap_or(created),
            activity_at: alert.activity_time().map(|t| t.micros()).unwrap_or(created),
            pinned,
            body,
            packed,
            new: false,
            id_hash: crate::ids::alert_id_hash(&alert.id),
            key_hashes: keys.iter().map(EntityKey::hash).collect(),
            keys,
        })
    }
}

/// Rebuilds a stored alert from its body and bookkeeping columns.
pub fn alert_from_row(body: &str, incident_id: i64, pinned: bool, seq: i64) -> Result<StoredAlert, StoreError> {
    let mut alert = Alert::from_json(body.as_bytes()).map_err(|e| StoreError::Corrupt(e.message))?;
    let incident_id = IncidentId::new(incident_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    alert.incident_id = Some(incident_id.to_string());
    Ok(StoredAlert { alert, incident_id, pinned, seq })
}

/// Roles stored as a comma-separated list.
pub fn roles_to_text(roles: &[crate::access::Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

pub fn roles_from_text(text: &str) -> Result<Vec<crate::access::Role>, StoreError> {
    text.split(',').filter(|r| !r.is_empty()).map(|r| r.parse().map_err(StoreError::Corrupt)).collect()
}

/// Device groups stored as a JSON array.
pub fn groups_to_text(groups: &[String]) -> String {
    serde_json::to_string(groups).unwrap_or_else(|_| "[]".into())
}

pub fn groups_from_text(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    /// A codec that marks what it was given, so a test can see which text it packed.
    #[derive(Debug)]
    struct Marking;

    impl BodyCodec for Marking {
        fn pack(&self, kind: BodyKind, json: &str) -> Result<PackedBody, StoreError> {
            let codec = if kind == BodyKind::Alert { 1 } else { 2 };
            Ok(PackedBody { codec, bytes: json.as_bytes().to_vec() })
        }
    }

    fn alert() -> Alert {
        Alert::from_json_value(serde_json::json!({
            "id": "da0001", "title": "Suspicious \"quoted\" sign-in", "severity": "high",
            "serviceSource": "microsoftDefenderForEndpoint", "incidentId": "7",
            "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": "ws-01"}]
        }))
        .unwrap()
    }

    /// With a codec the body is packed from exactly the text stored without one, incident left out.
    #[test]
    fn packed_bodies_are_the_plain_body_compressed() {
        let incident = IncidentId::new(7).unwrap();
        let plain = AlertColumns::for_alert(&alert(), incident, false, Vec::new(), None).unwrap();
        assert!(plain.packed.is_none());
        assert!(!plain.body.contains("incidentId"), "the incident lives in its own column");
        let packed = AlertColumns::for_alert(&alert(), incident, false, Vec::new(), Some(&Marking)).unwrap();
        assert!(packed.body.is_empty());
        let PackedBody { codec, bytes } = packed.packed.unwrap();
        assert_eq!((codec, String::from_utf8(bytes).unwrap()), (1, plain.body.clone()));
        // One after the other on a thread, bodies do not run into each other.
        let again = AlertColumns::for_alert(&alert(), incident, false, Vec::new(), None).unwrap();
        assert_eq!(again.body, plain.body);

        let incident = Incident::new(incident, Timestamp::from_secs(1_714_600_000));
        let plain = IncidentColumns::of(&incident, None).unwrap();
        let packed = IncidentColumns::of(&incident, Some(&Marking)).unwrap();
        assert!(packed.body.is_empty());
        let PackedBody { codec, bytes } = packed.packed.unwrap();
        assert_eq!((codec, String::from_utf8(bytes).unwrap()), (2, plain.body));
    }
}
