//! Small builders for the model values the scenarios store.

use muster_core::access::{NewUser, Role};
use muster_core::alert::Alert;
use muster_core::enums::{AlertSeverity, AlertStatus, IncidentStatus};
use muster_core::incident::Incident;
use muster_core::store::StoredAlert;
use muster_core::{IncidentId, Timestamp};
use serde_json::json;

/// 2024-05-01T00:00:00Z plus some minutes: fixed times keep the scenarios deterministic.
pub fn at(minutes: i64) -> Timestamp {
    Timestamp::from_secs(1_714_521_600 + minutes * 60)
}

pub fn iid(n: i64) -> IncidentId {
    IncidentId::new(n).expect("positive id")
}

/// An incident at version 1 with a last activity time.
pub fn incident(id: i64, activity_minutes: i64) -> Incident {
    let mut i = Incident::new(iid(id), at(0));
    i.display_name = Some(format!("Incident {id}"));
    i.severity = AlertSeverity::Medium;
    i.status = IncidentStatus::Active;
    i.first_activity_date_time = Some(at(activity_minutes));
    i.last_activity_date_time = Some(at(activity_minutes));
    i.meta.version = 1;
    i
}

/// An alert on one host and one user, with a fixed activity time.
pub fn alert(provider_id: &str, host: &str, account: &str, activity_minutes: i64) -> Alert {
    let when = at(activity_minutes).to_string();
    let value = json!({
        "providerAlertId": provider_id,
        "title": format!("Suspicious thing {provider_id}"),
        "severity": "high",
        "status": "new",
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": "antivirus",
        "createdDateTime": when,
        "firstActivityDateTime": when,
        "lastActivityDateTime": when,
        "categories": ["Execution"],
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host, "rbacGroupName": "Servers"},
            {"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"accountName": account, "domainName": "CONTOSO"}}
        ]
    });
    let mut alert = Alert::from_json_value(value).expect("fixture alert parses");
    alert.id = muster_core::ids::alert_id(&alert.service_source, provider_id);
    alert.status = AlertStatus::New;
    alert
}

pub fn stored(alert: Alert, incident: i64) -> StoredAlert {
    StoredAlert::new(alert, iid(incident))
}

/// A viewer with no device groups, for scenarios that only need someone to own a row.
pub fn viewer(login: &str) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: login.into(),
        password_hash: "h".into(),
        roles: vec![Role::Viewer],
        device_groups: vec![],
    }
}
