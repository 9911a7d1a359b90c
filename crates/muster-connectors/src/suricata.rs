//! Suricata `eve.json` alert records (`event_type: "alert"`).

use chrono::DateTime;
use muster_core::evidence::GRAPH_NS;
use muster_core::Alert;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ConnectorError;

/// Suricata's priority (1 is the most severe) as a Graph severity.
fn severity(priority: Option<i64>) -> &'static str {
    match priority {
        Some(1) => "high",
        Some(2) => "medium",
        Some(3) => "low",
        _ => "informational",
    }
}

fn ip_evidence(address: &str, role: &str, when: &str) -> Value {
    json!({
        "@odata.type": format!("{GRAPH_NS}ipEvidence"),
        "createdDateTime": when,
        "ipAddress": address,
        "roles": [role],
        "verdict": "unknown",
        "remediationStatus": "none",
    })
}

/// Reads one eve.json line. Records other than alerts (flow, dns, stats, ...) give `None`.
pub fn parse_eve_line(line: &str) -> Result<Option<Alert>, ConnectorError> {
    let record: Value = serde_json::from_str(line)?;
    let record = record.as_object().ok_or(ConnectorError::Field("(record)"))?;
    if record.get("event_type").and_then(Value::as_str) != Some("alert") {
        return Ok(None);
    }
    let alert = record.get("alert").and_then(Value::as_object).ok_or(ConnectorError::Field("alert"))?;
    let stamp = record.get("timestamp").and_then(Value::as_str).ok_or(ConnectorError::Field("timestamp"))?;
    // eve writes offsets without a colon (`+0000`), which RFC 3339 does not allow.
    let when = DateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(stamp))
        .map_err(|_| ConnectorError::Field("timestamp"))?
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let signature = alert.get("signature").and_then(Value::as_str).ok_or(ConnectorError::Field("alert.signature"))?;
    let sid = alert.get("signature_id").and_then(Value::as_i64).unwrap_or_default();

    // eve records carry no id of their own; the record's hash is stable across re-sends.
    let digest = Sha256::digest(line.trim().as_bytes());
    let provider_id: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();

    let mut evidence = Vec::new();
    let src = record.get("src_ip").and_then(Value::as_str);
    let dest = record.get("dest_ip").and_then(Value::as_str);
    if let Some(src) = src {
        evidence.push(ip_evidence(src, "source", &when));
    }
    if let Some(dest) = dest {
        evidence.push(ip_evidence(dest, "destination", &when));
    }
    if let (Some(src), Some(dest)) = (src, dest) {
        let protocol = match record.get("proto").and_then(Value::as_str) {
            Some(p) if p.eq_ignore_ascii_case("tcp") => Some("tcp"),
            Some(p) if p.eq_ignore_ascii_case("udp") => Some("udp"),
            _ => None,
        };
        evidence.push(json!({
            "@odata.type": format!("{GRAPH_NS}networkConnectionEvidence"),
            "createdDateTime": when,
            "sourceAddress": {"ipAddress": src},
            "sourcePort": record.get("src_port"),
            "destinationAddress": {"ipAddress": dest},
            "destinationPort": record.get("dest_port"),
            "protocol": protocol,
            "roles": [],
            "verdict": "unknown",
            "remediationStatus": "none",
        }));
    }
    if let Some(http) = record.get("http").and_then(Value::as_object) {
        if let Some(host) = http.get("hostname").and_then(Value::as_str) {
            let path = http.get("url").and_then(Value::as_str).unwrap_or("/");
            evidence.push(json!({
                "@odata.type": format!("{GRAPH_NS}urlEvidence"),
                "createdDateTime": when,
                "url": format!("http://{host}{path}"),
                "roles": [],
                "verdict": "unknown",
                "remediationStatus": "none",
            }));
        }
    }
    let dns = record.get("dns");
    let rrname = dns.and_then(|d| d.pointer("/query/0/rrname").or_else(|| d.get("rrname")));
    if let Some(name) = rrname.and_then(Value::as_str) {
        evidence.push(json!({
            "@odata.type": format!("{GRAPH_NS}dnsEvidence"),
            "createdDateTime": when,
            "domainName": name,
            "roles": [],
            "verdict": "unknown",
            "remediationStatus": "none",
        }));
    }

    let value = json!({
        "providerAlertId": provider_id,
        "title": signature,
        "description": alert.get("category"),
        "severity": severity(alert.get("severity").and_then(Value::as_i64)),
        "status": "new",
        "serviceSource": "suricata",
        "detectionSource": "suricata",
        "detectorId": sid.to_string(),
        "productName": "Suricata",
        "createdDateTime": when,
        "firstActivityDateTime": when,
        "lastActivityDateTime": when,
        "evidence": evidence,
    });
    Ok(Some(Alert::from_json_value(strip_nulls(value))?))
}

/// Drops null properties so absent eve fields stay absent in the alert.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::entity::{entity_keys, EntityKind};

    const RECORD: &str = r#"{"timestamp":"2020-05-01T07:10:43.607310+0000","flow_id":1,"event_type":"alert","src_ip":"10.0.0.5","src_port":49152,"dest_ip":"203.0.113.9","dest_port":80,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2024897,"rev":2,"signature":"ET USER_AGENTS Go HTTP Client User-Agent","category":"A Network Trojan was detected","severity":1},"http":{"hostname":"evil.example","url":"/x.php"}}"#;

    #[test]
    fn reads_an_alert_with_its_network_evidence() {
        let alert = parse_eve_line(RECORD).unwrap().expect("an alert");
        assert_eq!(alert.title, "ET USER_AGENTS Go HTTP Client User-Agent");
        assert_eq!(alert.service_source.as_str(), "suricata");
        assert_eq!(alert.severity.to_string(), "high");
        assert_eq!(alert.detector_id.as_deref(), Some("2024897"));
        assert_eq!(alert.last_activity_date_time.unwrap().to_string(), "2020-05-01T07:10:43.6073100Z");
        let keys = entity_keys(&alert);
        assert!(keys.iter().any(|k| k.kind == EntityKind::Ip && k.value == "203.0.113.9"));
        assert!(keys.iter().any(|k| k.kind == EntityKind::Url && k.value == "http://evil.example/x.php"));
    }

    #[test]
    fn same_record_same_id_and_other_events_are_skipped() {
        let a = parse_eve_line(RECORD).unwrap().unwrap();
        let b = parse_eve_line(RECORD).unwrap().unwrap();
        assert_eq!(a.provider_alert_id, b.provider_alert_id);
        assert!(parse_eve_line(r#"{"event_type":"flow","timestamp":"2020-05-01T07:10:43+0000"}"#).unwrap().is_none());
    }

    #[test]
    fn broken_records_say_what_is_wrong() {
        assert!(matches!(parse_eve_line("{"), Err(ConnectorError::Json(_))));
        let no_time = r#"{"event_type":"alert","alert":{"signature":"x"}}"#;
        assert!(matches!(parse_eve_line(no_time), Err(ConnectorError::Field("timestamp"))));
    }

    #[test]
    fn reads_the_real_capture_when_present() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/suricata/suricata7_etopen2017_alerts_otrf_pcaps.jsonl.gz");
        if !path.exists() {
            eprintln!("skipping: ../shared/data not found (a user's clone does not have it)");
            return;
        }
        let out = std::process::Command::new("gzip").arg("-dc").arg(&path).output().expect("gzip");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let mut alerts = 0;
        for line in text.lines() {
            if parse_eve_line(line).expect("every real record parses").is_some() {
                alerts += 1;
            }
        }
        assert_eq!(alerts, 348);
    }
}
