//! The correlation rules' thresholds. Every one is a setting; the defaults are what the rules were
//! measured with on real, labelled alert data.

use serde::{Deserialize, Serialize};

/// Thresholds of the correlation rules (DESIGN.md section 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelationConfig {
    /// An alert joins an incident that saw one of its artifact keys (file hashes, URLs, public IPs,
    /// domains, mail messages, mailboxes, cloud apps) within this many seconds of its activity time.
    pub window_secs: i64,
    /// Devices and user accounts carry unrelated activity all day long, so they link only within
    /// this shorter stretch since the incident last saw them.
    pub busy_window_secs: i64,
    /// A key seen alongside more than this many distinct devices, users or mailboxes (or linked to
    /// more than this many incidents in its window) is prevalent — a proxy, a domain controller, a
    /// shared admin account — and stops linking. An account counts the devices it is seen on, a
    /// device the accounts seen on it.
    pub prevalence_limit: usize,
    /// Keys that never link, as `kind:value` (e.g. `user:svc-backup@contoso`, `device:jump-01`).
    pub exclusions: Vec<String>,
    /// When set, an incident holding this many alerts takes no more: the overflow opens a new one.
    /// Off by default: one real attack can raise hundreds of thousands of alerts.
    pub max_incident_alerts: Option<u64>,
    /// Width of the buckets a (detector, entity) pair's rate is counted in.
    pub noise_bucket_secs: i64,
    /// How far back a pair's rate history reaches.
    pub noise_lookback_secs: i64,
    /// A pair is recurring once it was already seen at least this long before: a burst that began
    /// minutes ago is not background.
    pub noise_min_age_secs: i64,
    /// A recurring pair bursts when its current bucket exceeds `burst_factor` × its busiest earlier
    /// bucket + `burst_margin`; a burst is not noise and joins the attack's incident.
    pub burst_factor: f64,
    pub burst_margin: u64,
    /// Activity times further ahead of arrival than this are clamped to arrival time and flagged.
    pub future_tolerance_secs: i64,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        Self {
            window_secs: 24 * 3600,
            busy_window_secs: 4 * 3600,
            prevalence_limit: 5,
            exclusions: Vec::new(),
            max_incident_alerts: None,
            noise_bucket_secs: 3600,
            noise_lookback_secs: 7 * 24 * 3600,
            noise_min_age_secs: 6 * 3600,
            burst_factor: 5.0,
            burst_margin: 10,
            future_tolerance_secs: 300,
        }
    }
}

impl CorrelationConfig {
    /// The engine's memory reaches back this far from the latest activity it has seen.
    pub fn memory_secs(&self) -> i64 {
        self.window_secs.max(self.busy_window_secs).max(self.noise_lookback_secs)
    }

    /// Checks the values make sense together; the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("window_secs", self.window_secs),
            ("busy_window_secs", self.busy_window_secs),
            ("noise_bucket_secs", self.noise_bucket_secs),
            ("noise_lookback_secs", self.noise_lookback_secs),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(format!("correlation.{name} must be positive"));
            }
        }
        if self.noise_min_age_secs < 0 || self.future_tolerance_secs < 0 {
            return Err("correlation.noise_min_age_secs and future_tolerance_secs must not be negative".into());
        }
        if self.prevalence_limit == 0 {
            return Err("correlation.prevalence_limit must be at least 1".into());
        }
        if !self.burst_factor.is_finite() || self.burst_factor < 1.0 {
            return Err("correlation.burst_factor must be at least 1".into());
        }
        if self.max_incident_alerts == Some(0) {
            return Err("correlation.max_incident_alerts must be at least 1 (or absent)".into());
        }
        for key in &self.exclusions {
            if key.split_once(':').is_none_or(|(k, v)| k.parse::<crate::entity::EntityKind>().is_err() || v.is_empty())
            {
                return Err(format!("correlation.exclusions entry '{key}' is not kind:value (e.g. device:jump-01)"));
            }
        }
        Ok(())
    }
}
