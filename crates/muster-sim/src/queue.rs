//! A seeded queue workload: incidents with their alerts as correlation would have left them, for
//! benchmarking the queue at sizes correlation would take long to build (a million incidents).
//! Each incident is drawn from its own number, so any one can be regenerated alone and the
//! workload is the same on every run for a seed.

use muster_core::enums::{AlertClassification, AlertDetermination, AlertSeverity, AlertStatus, IncidentStatus};
use muster_core::rollup::RollupState;
use muster_core::{Alert, Assessment, Incident, IncidentId, Timestamp};
use serde_json::json;

use crate::rng::{mix64, Draw, SplitMix};

/// The analysts incidents are assigned to: `analyst{n}@contoso.com`.
pub const ANALYSTS: u64 = 50;
/// Devices across the estate: `ws-{n:05}`.
pub const DEVICES: u64 = 20_000;
/// The tags analysts use, the first the most.
pub const TAGS: &[&str] = &["ransomware", "phishing", "vip", "red-team", "escalated", "false-alarm", "bec", "insider"];

const SOURCES: &[&str] = &[
    "microsoftDefenderForEndpoint",
    "microsoftDefenderForOffice365",
    "microsoftDefenderForIdentity",
    "microsoftDefenderForCloudApps",
    "suricata",
    "wazuh",
];
const CATEGORIES: &[&str] =
    &["InitialAccess", "Execution", "Persistence", "CredentialAccess", "LateralMovement", "Exfiltration", "Discovery"];
const PLATFORMS: &[&str] = &["Windows11", "Windows10", "WindowsServer2022", "Linux", "macOS"];
const GROUPS: &[&str] = &["Workstations", "Servers", "Finance", "Lab"];

/// The workload: `incidents` incidents of about `alerts_per_incident` alerts each, their last
/// activity spread over the `days` before `end`.
#[derive(Debug, Clone)]
pub struct QueueWorkload {
    pub seed: u64,
    pub incidents: u64,
    pub alerts_per_incident: u64,
    pub end: Timestamp,
    pub days: u64,
}

fn draw(rng: &mut SplitMix, items: &[&'static str]) -> &'static str {
    items[rng.index(items.len())]
}

impl QueueWorkload {
    /// Incident `n` (from 1) with its alerts, roll-ups applied.
    pub fn incident(&self, n: u64) -> (Incident, Vec<Alert>) {
        let mut rng = SplitMix::new(mix64(self.seed ^ mix64(n)));
        let span = self.days * 86_400;
        // Older incidents have lower ids, as in a queue that grew over time.
        let base = self.end.plus_secs(-((span - span * n / self.incidents.max(1)) as i64));
        let jitter = rng.below(3_600) as i64;
        let last = base.plus_secs(-jitter);
        let count = 1 + rng.below(self.alerts_per_incident * 2 - 1);
        let device = rng.below(DEVICES);
        let platform = draw(&mut rng, PLATFORMS);
        let group = draw(&mut rng, GROUPS);
        let user = format!("user{:04}", rng.below(10_000));
        let sources: Vec<&str> = (0..1 + rng.below(2)).map(|_| draw(&mut rng, SOURCES)).collect();
        let severity_roll = rng.below(100);
        let mut alerts = Vec::with_capacity(count as usize);
        for a in 0..count {
            let at = last.plus_secs(-((count - 1 - a) as i64) * 60);
            let severity = match (severity_roll + a * 7) % 100 {
                0..=9 => "high",
                10..=44 => "medium",
                45..=89 => "low",
                _ => "informational",
            };
            let host = format!("ws-{:05}", (device + a / 3) % DEVICES);
            let value = json!({
                "id": format!("q{}-{n}-{a}", self.seed),
                "providerAlertId": format!("q{}-{n}-{a}", self.seed),
                "title": format!("{} on {host}", draw(&mut rng, CATEGORIES)),
                "severity": severity,
                "serviceSource": sources[(a as usize) % sources.len()],
                "category": draw(&mut rng, CATEGORIES),
                "createdDateTime": at.to_string(),
                "firstActivityDateTime": at.to_string(),
                "lastActivityDateTime": at.to_string(),
                "evidence": [
                    {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": format!("{host}.contoso.com"),
                     "osPlatform": platform, "rbacGroupName": group},
                    {"@odata.type": "#microsoft.graph.security.userEvidence",
                     "userAccount": {"accountName": user, "domainName": "CONTOSO"}}
                ]
            });
            alerts.push(
                Alert::from_json_value(value).unwrap_or_else(|e| unreachable!("a generated alert parses: {e:?}")),
            );
        }
        let id = IncidentId::new(n as i64).unwrap_or_else(|_| unreachable!("incident numbers start at 1"));
        let mut incident = Incident::new(id, alerts[0].created_date_time.unwrap_or(last));
        let status_roll = rng.below(100);
        incident.status = match status_roll {
            0..=64 => IncidentStatus::Active,
            65..=79 => IncidentStatus::InProgress,
            _ => IncidentStatus::Resolved,
        };
        if rng.below(100) < 40 {
            incident.assigned_to = Some(format!("analyst{}@contoso.com", rng.below(ANALYSTS)));
        }
        if incident.status == IncidentStatus::Resolved {
            let (c, d) = match rng.below(3) {
                0 => (AlertClassification::TruePositive, AlertDetermination::Malware),
                1 => (AlertClassification::FalsePositive, AlertDetermination::NotMalicious),
                _ => (AlertClassification::InformationalExpectedActivity, AlertDetermination::SecurityTesting),
            };
            incident.assessment = Assessment::new(Some(c), Some(d)).unwrap_or_default();
            for alert in &mut alerts {
                alert.status = AlertStatus::Resolved;
                alert.resolved_date_time = Some(last);
            }
        }
        // A few tags on a minority, the common ones most often.
        for (i, tag) in TAGS.iter().enumerate() {
            if rng.below(100) < 12 / (i as u64 + 1) {
                incident.custom_tags.push((*tag).to_owned());
            }
        }
        if incident.custom_tags.iter().any(|t| t == "ransomware") {
            incident.severity = AlertSeverity::High;
            incident.meta.severity_locked = true;
        }
        let rollup = RollupState::from_alerts(alerts.iter());
        rollup.apply(&mut incident);
        incident.meta.rollup = rollup;
        incident.last_update_date_time = last;
        incident.last_modified_by = Some("correlation".into());
        incident.meta.version = 1;
        (incident, alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> QueueWorkload {
        QueueWorkload {
            seed: 7,
            incidents: 1_000,
            alerts_per_incident: 5,
            end: Timestamp::from_secs(1_800_000_000),
            days: 180,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_incidents() {
        let (a, alerts_a) = workload().incident(42);
        let (b, alerts_b) = workload().incident(42);
        assert_eq!(a, b);
        assert_eq!(alerts_a, alerts_b);
        assert_eq!(a.alert_count, alerts_a.len() as u64);
        assert!(a.last_activity_date_time.unwrap() <= workload().end);
    }

    #[test]
    fn the_mix_is_realistic() {
        let w = workload();
        let incidents: Vec<Incident> = (1..=w.incidents).map(|n| w.incident(n).0).collect();
        let alerts: u64 = incidents.iter().map(|i| i.alert_count).sum();
        assert!((4_000..6_000).contains(&alerts), "about five alerts each: {alerts}");
        let active = incidents.iter().filter(|i| i.status == IncidentStatus::Active).count();
        assert!((550..750).contains(&active), "{active}");
        let tagged = incidents.iter().filter(|i| i.custom_tags.iter().any(|t| t == "ransomware")).count();
        assert!((60..200).contains(&tagged), "{tagged}");
        assert!(incidents.windows(2).all(|w| w[0].created_date_time <= w[1].created_date_time.plus_secs(7_200)));
    }
}
