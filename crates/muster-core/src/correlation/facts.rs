//! From a Graph alert to the facts correlation decides on: its detector, its linking keys and its
//! device groups.

use crate::alert::Alert;
use crate::entity::{entity_keys, EntityKey, EntityKind};
use crate::evidence::Evidence;

use super::engine::{AlertFacts, LinkKey, Placement};

/// Built-in Windows accounts every machine has: they name no person, so they link nothing.
const BUILTIN_DOMAINS: &[&str] =
    &["nt authority", "nt-autorität", "autorite nt", "nt service", "font driver host", "window manager", "iis apppool"];
const BUILTIN_NAMES: &[&str] =
    &["system", "localsystem", "local service", "network service", "anonymous logon", "-", "n/a", "unknown"];

/// Whether a normalised user key is a built-in account or a machine account.
pub fn is_builtin_account(value: &str) -> bool {
    let (name, domain) = value.split_once('@').unwrap_or((value, ""));
    BUILTIN_NAMES.contains(&name)
        || BUILTIN_DOMAINS.contains(&domain)
        || name.ends_with('$')
        || name.starts_with("dwm-")
        || name.starts_with("umfd-")
}

/// The detector of an alert: its service source and detector id, or its title.
pub fn detector(alert: &Alert) -> String {
    let what = alert.detector_id.as_deref().filter(|d| !d.is_empty()).unwrap_or(&alert.title);
    let source = alert.service_source.as_str();
    let mut detector = String::with_capacity(source.len() + 1 + what.len());
    detector.push_str(source);
    detector.push('/');
    detector.push_str(what);
    detector
}

/// Lower-cased device groups (`rbacGroupName`) of the alert's devices.
pub fn device_groups(alert: &Alert) -> Vec<String> {
    let mut groups: Vec<String> = alert
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Device(d) => d.rbac_group_name.as_deref(),
            _ => None,
        })
        .map(|g| g.trim().to_lowercase())
        .filter(|g| !g.is_empty())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// The facts of an alert, as correlation sees it.
pub fn alert_facts(alert: &Alert, placed: Option<Placement>) -> AlertFacts {
    alert_facts_keyed(alert, &entity_keys(alert), placed)
}

/// [`alert_facts`] given the alert's [`entity_keys`] (computed once by callers that need them too).
pub fn alert_facts_keyed(alert: &Alert, keys: &[EntityKey], placed: Option<Placement>) -> AlertFacts {
    let mut keys: Vec<LinkKey> = keys
        .iter()
        .filter(|k| !k.contextual && k.is_strong())
        .filter(|k| !(k.kind == EntityKind::User && is_builtin_account(&k.value)))
        .map(|k| LinkKey::new(k.kind, k.value.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    AlertFacts {
        id: alert.id.clone(),
        at: alert.activity_time().unwrap_or_else(|| crate::time::Timestamp::from_micros(0)),
        detector: detector(alert),
        keys,
        device_groups: device_groups(alert),
        placed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_accounts_are_recognised() {
        assert!(is_builtin_account("system@nt authority"));
        assert!(is_builtin_account("local service@nt authority"));
        assert!(is_builtin_account("ws-01$@contoso"));
        assert!(is_builtin_account("dwm-1@window manager"));
        assert!(!is_builtin_account("alice@contoso"));
    }
}
