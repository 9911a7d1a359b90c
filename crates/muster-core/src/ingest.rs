//! Getting an alert ready to store: its stable id, the times Graph requires, and protection from
//! clocks that run ahead.

use sha2::{Digest, Sha256};

use crate::alert::Alert;
use crate::ids::alert_id;
use crate::time::Timestamp;

/// The system tag of an alert whose activity time lay in the future and was clamped.
pub const CLAMPED_TAG: &str = "Clamped future timestamp";

/// What preparing an alert changed that its sender may want to know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prepared {
    /// An activity time lay beyond `now + tolerance` and was set to `now`.
    pub clamped: bool,
}

/// Gives an incoming alert its stable id and fills the properties Graph never leaves empty.
///
/// The id derives from `serviceSource` + `providerAlertId`; without a provider id the sender's `id`
/// stands in, and without either a hash of the alert's content does, so sending the same alert
/// again updates it instead of duplicating it.
pub fn prepare(alert: &mut Alert, now: Timestamp, future_tolerance_secs: i64) -> Prepared {
    let provider_id = match (alert.provider_alert_id.as_deref(), alert.id.as_str()) {
        (Some(p), _) if !p.trim().is_empty() => p.to_owned(),
        (_, id) if !id.trim().is_empty() => id.to_owned(),
        _ => content_id(alert),
    };
    alert.id = alert_id(&alert.service_source, &provider_id);
    alert.provider_alert_id = Some(provider_id);
    alert.incident_id = None;

    let limit = now.plus_secs(future_tolerance_secs);
    let mut clamped = false;
    for time in [&mut alert.created_date_time, &mut alert.first_activity_date_time, &mut alert.last_activity_date_time]
    {
        if time.is_some_and(|t| t > limit) {
            *time = Some(now);
            clamped = true;
        }
    }
    if clamped && !alert.system_tags.iter().any(|t| t == CLAMPED_TAG) {
        alert.system_tags.push(CLAMPED_TAG.to_owned());
    }
    let created = *alert.created_date_time.get_or_insert(now);
    let first = *alert.first_activity_date_time.get_or_insert(alert.last_activity_date_time.unwrap_or(created));
    alert.last_activity_date_time.get_or_insert(first);
    alert.last_update_date_time = Some(now);
    Prepared { clamped }
}

/// A stable id for an alert that came without any: the hash of its JSON.
fn content_id(alert: &Alert) -> String {
    let text = serde_json::to_string(alert).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(extra: serde_json::Value) -> Alert {
        let mut base = json!({"title": "t", "severity": "low", "serviceSource": "wazuh"});
        base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        Alert::from_json_value(base).unwrap()
    }

    #[test]
    fn ids_derive_from_source_and_provider_id() {
        let now = Timestamp::from_secs(1_700_000_000);
        let mut a = alert(json!({"providerAlertId": "42", "id": "ignored"}));
        prepare(&mut a, now, 300);
        let mut b = alert(json!({"providerAlertId": "42"}));
        prepare(&mut b, now, 300);
        assert_eq!(a.id, b.id);
        let mut c = alert(json!({"id": "42"}));
        prepare(&mut c, now, 300);
        assert_eq!(c.id, a.id, "the sender's id stands in for a missing provider id");
        let mut d = alert(json!({}));
        let mut e = alert(json!({}));
        prepare(&mut d, now, 300);
        prepare(&mut e, now, 300);
        assert_eq!(d.id, e.id, "content-derived ids are stable");
        assert_eq!(d.created_date_time, Some(now));
        assert_eq!(d.last_activity_date_time, Some(now));
    }

    #[test]
    fn future_times_are_clamped_and_flagged() {
        let now = Timestamp::from_secs(1_700_000_000);
        let future = now.plus_secs(86_400).to_string();
        let mut a = alert(json!({"lastActivityDateTime": future, "firstActivityDateTime": now.to_string()}));
        let prepared = prepare(&mut a, now, 300);
        assert!(prepared.clamped);
        assert_eq!(a.last_activity_date_time, Some(now));
        assert!(a.system_tags.contains(&CLAMPED_TAG.to_owned()));
        let mut b = alert(json!({"lastActivityDateTime": now.plus_secs(60).to_string()}));
        assert!(!prepare(&mut b, now, 300).clamped, "small clock skew is tolerated");
    }
}
