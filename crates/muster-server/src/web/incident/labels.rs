//! How enum members, times and history values read on the incident pages.

use muster_core::enums::{AlertClassification, AlertDetermination, AlertSeverity, GraphEnum, IncidentStatus};
use muster_core::Timestamp;
use serde_json::Value;

/// `multiStagedAttack` → `Multi staged attack`: a readable fallback for any member.
pub(crate) fn words(member: &str) -> String {
    let mut out = String::with_capacity(member.len() + 4);
    for (i, c) in member.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn severity(s: AlertSeverity) -> String {
    words(s.as_str())
}

/// The CSS class that colours a severity (the text is always shown beside it).
pub(crate) fn severity_class(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::High => "sev sev-high",
        AlertSeverity::Medium => "sev sev-medium",
        AlertSeverity::Low => "sev sev-low",
        AlertSeverity::Informational => "sev sev-info",
        _ => "sev sev-unknown",
    }
}

pub(crate) fn status(s: IncidentStatus) -> String {
    match s {
        IncidentStatus::InProgress => "In progress".into(),
        other => words(other.as_str()),
    }
}

pub(crate) fn classification(c: Option<AlertClassification>) -> String {
    match c {
        None | Some(AlertClassification::Unknown) => "Not set".into(),
        Some(AlertClassification::InformationalExpectedActivity) => "Informational, expected activity".into(),
        Some(other) => words(other.as_str()),
    }
}

pub(crate) fn determination(d: Option<AlertDetermination>) -> String {
    match d {
        None | Some(AlertDetermination::Unknown) => "Not set".into(),
        Some(AlertDetermination::MultiStagedAttack) => "Multistage attack".into(),
        Some(AlertDetermination::LineOfBusinessApplication) => "Line-of-business application".into(),
        Some(AlertDetermination::SecurityTesting) => "Security test".into(),
        Some(other) => words(other.as_str()),
    }
}

/// `2024-05-01 10:00` (UTC), or a dash.
pub(crate) fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "—".to_owned(), |t| t.to_string().chars().take(16).collect::<String>().replace('T', " "))
}

/// A history value as text: strings bare, lists joined, nothing as a dash.
pub(crate) fn value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "none".into(),
        Some(Value::Array(items)) => items.iter().map(|i| value(Some(i))).collect::<Vec<_>>().join(", "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_read_as_words() {
        assert_eq!(words("notEnoughDataToValidate"), "Not enough data to validate");
        assert_eq!(determination(Some(AlertDetermination::MultiStagedAttack)), "Multistage attack");
        assert_eq!(classification(None), "Not set");
        assert_eq!(value(Some(&serde_json::json!(["a", "b"]))), "a, b");
        assert_eq!(time(Some(Timestamp::from_secs(1_714_557_600))), "2024-05-01 10:00");
    }
}
