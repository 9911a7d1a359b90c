//! `Prefer: include-unknown-enum-members`: Graph shows enum members added after
//! `unknownFutureValue` (an incident's `awaitingAction`, newer service and detection sources,
//! newer remediation states) only to clients that say they can read them; others see
//! `unknownFutureValue` in their place.

use std::convert::Infallible;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Request};
use axum::http::header::HeaderValue;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use muster_core::enums::{EvidenceRemediationStatus, IncidentStatus};
use muster_core::source::{DetectionSource, ServiceSource};
use muster_core::GraphEnum;
use serde_json::{Map, Value};

const PREFERENCE: &str = "include-unknown-enum-members";

/// Which enum members a client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct EnumMembers {
    pub(crate) include_unknown: bool,
}

impl EnumMembers {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let include_unknown = headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case(PREFERENCE));
        Self { include_unknown }
    }

    /// Replaces the evolvable members an incident's JSON holds, unless the client asked for them.
    pub(crate) fn incident(self, map: &mut Map<String, Value>) {
        if self.include_unknown {
            return;
        }
        hide(map.get_mut("status"), closed::<IncidentStatus>);
        hide_each(map.get_mut("serviceSources"), service_source);
        hide_each(map.get_mut("detectionSources"), detection_source);
    }

    /// Replaces the evolvable members an alert's JSON holds, unless the client asked for them.
    pub(crate) fn alert(self, map: &mut Map<String, Value>) {
        if self.include_unknown {
            return;
        }
        hide(map.get_mut("serviceSource"), service_source);
        hide(map.get_mut("detectionSource"), detection_source);
        if let Some(Value::Array(evidence)) = map.get_mut("evidence") {
            for item in evidence.iter_mut().filter_map(Value::as_object_mut) {
                hide(item.get_mut("remediationStatus"), closed::<EvidenceRemediationStatus>);
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for EnumMembers {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}

fn closed<E: GraphEnum + FromStr>(value: &str) -> Option<String> {
    value.parse::<E>().ok().map(|m| m.for_client(false).to_owned())
}

fn service_source(value: &str) -> Option<String> {
    value.parse::<ServiceSource>().ok().map(|s| s.for_client(false).to_owned())
}

fn detection_source(value: &str) -> Option<String> {
    value.parse::<DetectionSource>().ok().map(|s| s.for_client(false).to_owned())
}

fn hide(value: Option<&mut Value>, spelling: impl Fn(&str) -> Option<String>) {
    if let Some(Value::String(text)) = value {
        if let Some(shown) = spelling(text) {
            *text = shown;
        }
    }
}

fn hide_each(value: Option<&mut Value>, spelling: impl Fn(&str) -> Option<String>) {
    if let Some(Value::Array(items)) = value {
        for item in items {
            hide(Some(item), &spelling);
        }
    }
}

/// Says when the preference was honoured, as RFC 7240 asks.
pub(crate) async fn preference_applied(request: Request, next: Next) -> Response {
    let asked = EnumMembers::of(request.headers()).include_unknown;
    let mut response = next.run(request).await;
    if asked {
        response.headers_mut().insert("preference-applied", HeaderValue::from_static(PREFERENCE));
    }
    response
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn evolvable_members_are_hidden_unless_asked() {
        let incident = json!({
            "status": "awaitingAction",
            "serviceSources": ["microsoftSentinel", "microsoftDefenderForEndpoint", "wazuh"],
            "detectionSources": ["nrtAlerts"]
        });
        let mut hidden = incident.as_object().unwrap().clone();
        EnumMembers::default().incident(&mut hidden);
        assert_eq!(
            Value::Object(hidden),
            json!({
                "status": "unknownFutureValue",
                "serviceSources": ["unknownFutureValue", "microsoftDefenderForEndpoint", "wazuh"],
                "detectionSources": ["unknownFutureValue"]
            })
        );
        let mut shown = incident.as_object().unwrap().clone();
        EnumMembers { include_unknown: true }.incident(&mut shown);
        assert_eq!(Value::Object(shown), incident);

        let alert = json!({"serviceSource": "microsoftSentinel", "detectionSource": "customDetection",
                           "evidence": [{"remediationStatus": "pendingApproval"}, {"remediationStatus": "blocked"}]});
        let mut hidden = alert.as_object().unwrap().clone();
        EnumMembers::default().alert(&mut hidden);
        assert_eq!(
            Value::Object(hidden),
            json!({"serviceSource": "unknownFutureValue", "detectionSource": "customDetection",
                   "evidence": [{"remediationStatus": "unknownFutureValue"}, {"remediationStatus": "blocked"}]})
        );
    }

    #[test]
    fn the_preference_is_read_from_any_prefer_header() {
        let mut headers = HeaderMap::new();
        headers.append("prefer", HeaderValue::from_static("odata.maxpagesize=5"));
        assert!(!EnumMembers::of(&headers).include_unknown);
        headers.append("prefer", HeaderValue::from_static("return=minimal, Include-Unknown-Enum-Members"));
        assert!(EnumMembers::of(&headers).include_unknown);
    }
}
