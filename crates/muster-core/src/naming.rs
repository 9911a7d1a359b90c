//! Generated incident names (DESIGN.md section 4), derived from an incident's [`RollupState`].
//!
//! The grammar, exactly:
//!
//! ```text
//! name     = subject [" on " devices] [(" involving " | " affecting ") others] [" reported by multiple sources"]
//! subject  = title                                  (exactly one alert, with a non-empty title)
//!          | "Incident"                             (no category at all)
//!          | Category " incident"                   (one category)
//!          | "Multi-stage incident involving " A " & " B   (two categories)
//!          | "Multi-stage incident"                 (three or more categories)
//! devices  = "one endpoint" | "multiple endpoints"
//! others   = list of the present ones among "one user" | "multiple users", "one mailbox" |
//!            "multiple mailboxes", "one cloud app" | "multiple cloud apps", joined as
//!            "x", "x and y" or "x, y and z"
//! ```
//!
//! `others` is introduced by "involving", or by "affecting" when the subject already says
//! "involving" (two named categories), so the name never repeats the word. "reported by multiple
//! sources" is added when the alerts come from more than one service source. With two categories,
//! A is the one with more alerts (ties: the label that sorts first), then B.
//!
//! Categories are MITRE ATT&CK tactic identifiers as tools send them (`InitialAccess`,
//! `CommandAndControl`, ...); they read as words with only the first letter capitalised
//! ("Initial access", "Command and control"). Examples:
//! - *Suspicious PowerShell command line on one endpoint*
//! - *Execution incident on one endpoint involving one user*
//! - *Multi-stage incident involving Initial access & Command and control on multiple endpoints
//!   reported by multiple sources*

use crate::rollup::RollupState;

/// Category identifiers Muster knows, in their canonical (Graph / PascalCase) spelling: the MITRE
/// ATT&CK tactics (enterprise and ICS) and the other categories Graph products use.
const KNOWN_CATEGORIES: &[&str] = &[
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "CommandAndControl",
    "Exfiltration",
    "Impact",
    "Evasion",
    "InhibitResponseFunction",
    "ImpairProcessControl",
    "Malware",
    "Ransomware",
    "Exploit",
    "UnwantedSoftware",
    "SuspiciousActivity",
];

/// Letters and digits only, lower case: `Initial Access`, `initial_access`, `InitialAccess` all
/// become `initialaccess`.
fn compact(raw: &str) -> String {
    raw.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The canonical identifier of a category: a known tactic in any spelling (`initial_access`,
/// `Initial Access`, `attack.initial_access`, `INITIALACCESS`) becomes its PascalCase identifier
/// (`InitialAccess`); anything else is kept as sent, trimmed. `None` for an empty value.
pub fn canonical_category(raw: &str) -> Option<String> {
    canonical_category_ref(raw).map(str::to_owned)
}

/// [`canonical_category`] without allocating: a known tactic is its `'static` name, anything else
/// the trimmed input.
pub fn canonical_category_ref(raw: &str) -> Option<&str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    // Most tools already write the identifier itself.
    if let Some(known) = KNOWN_CATEGORIES.iter().find(|k| **k == trimmed) {
        return Some(known);
    }
    static COMPACT: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let compacted = COMPACT.get_or_init(|| KNOWN_CATEGORIES.iter().map(|k| compact(k)).collect());
    let key = compact(trimmed);
    let bare = key.strip_prefix("attack").unwrap_or(&key);
    let known = KNOWN_CATEGORIES.iter().zip(compacted).find(|(_, k)| **k == key || *k == bare).map(|(k, _)| *k);
    Some(known.unwrap_or(trimmed))
}

/// Splits an identifier into words at separators and camel/Pascal case boundaries, keeping
/// acronyms whole: `CommandAndControl` → `Command And Control`, `DLPPolicy` → `DLP Policy`.
fn words(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in raw.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if i > 0 && !word.is_empty() {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
                let boundary = (c.is_uppercase() && (prev.is_lowercase() || prev.is_ascii_digit()))
                    || (c.is_uppercase() && prev.is_uppercase() && next_lower)
                    || (c.is_ascii_digit() && prev.is_alphabetic() && !prev.is_uppercase());
                if boundary {
                    out.push(std::mem::take(&mut word));
                }
            }
            word.push(c);
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// A category as people read it: words, only the first letter capitalised, acronyms kept
/// (`CommandAndControl` → "Command and control", `initial_access` → "Initial access").
pub fn category_label(id: &str) -> String {
    let id = canonical_category(id).unwrap_or_default();
    let mut out = String::new();
    for (i, word) in words(&id).iter().enumerate() {
        let acronym = word.chars().count() > 1 && word.chars().all(|c| !c.is_lowercase());
        if i > 0 {
            out.push(' ');
        }
        if acronym {
            out.push_str(word);
        } else if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.extend(chars.flat_map(char::to_lowercase));
            }
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    out
}

/// "one X" / "multiple Xs", or nothing when there are none.
fn quantity(count: usize, one: &str, many: &str) -> Option<String> {
    match count {
        0 => None,
        1 => Some(format!("one {one}")),
        _ => Some(format!("multiple {many}")),
    }
}

/// "a", "a and b", "a, b and c".
fn natural_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The subject, and whether it already says "involving".
fn subject(state: &RollupState, single_alert_title: Option<&str>) -> (String, bool) {
    if state.alert_count == 1 {
        let title = single_alert_title.map(str::to_owned).or_else(|| state.single_alert_title());
        if let Some(title) = title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
            return (title, false);
        }
    }
    let mut categories: Vec<(String, u64)> =
        state.categories.iter().map(|(id, count)| (category_label(id), *count)).collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    match categories.as_slice() {
        [] => ("Incident".to_owned(), false),
        [(one, _)] => (format!("{one} incident"), false),
        [(a, _), (b, _)] => (format!("Multi-stage incident involving {a} & {b}"), true),
        _ => ("Multi-stage incident".to_owned(), false),
    }
}

/// The generated name of an incident with this roll-up (see the module documentation for the
/// grammar). `single_alert_title` is the title of the incident's only alert, when the caller has it
/// at hand; otherwise the state's own record of it is used. It is ignored unless the incident has
/// exactly one alert.
pub fn generated_name(state: &RollupState, single_alert_title: Option<&str>) -> String {
    let (mut name, says_involving) = subject(state, single_alert_title);
    if let Some(devices) = quantity(state.devices.len(), "endpoint", "endpoints") {
        name.push_str(" on ");
        name.push_str(&devices);
    }
    let others: Vec<String> = [
        quantity(state.users.len(), "user", "users"),
        quantity(state.mailboxes.len(), "mailbox", "mailboxes"),
        quantity(state.apps.len(), "cloud app", "cloud apps"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !others.is_empty() {
        name.push_str(if says_involving { " affecting " } else { " involving " });
        name.push_str(&natural_list(&others));
    }
    if state.service_sources.len() > 1 {
        name.push_str(" reported by multiple sources");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use serde_json::{json, Value};

    fn device(host: &str) -> Value {
        json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host})
    }

    fn user(upn: &str) -> Value {
        json!({"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"userPrincipalName": upn}})
    }

    fn mailbox(address: &str) -> Value {
        json!({"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": address})
    }

    fn alert(title: &str, categories: &[&str], source: &str, evidence: Vec<Value>) -> Alert {
        Alert::from_json_value(json!({
            "title": title,
            "severity": "medium",
            "serviceSource": source,
            "categories": categories,
            "evidence": evidence,
        }))
        .unwrap()
    }

    fn name_of(alerts: &[Alert]) -> String {
        let mut state = RollupState::default();
        for a in alerts {
            state.add(a);
        }
        generated_name(&state, None)
    }

    #[test]
    fn one_alert_is_its_title_and_scope() {
        let a = alert("Suspicious PowerShell command line", &["Execution"], "wazuh", vec![device("WS-01")]);
        assert_eq!(name_of(&[a]), "Suspicious PowerShell command line on one endpoint");
    }

    #[test]
    fn one_alert_title_given_by_the_caller_wins() {
        let mut state = RollupState::default();
        state.add(&alert("Old title", &[], "wazuh", vec![]));
        assert_eq!(generated_name(&state, Some("New title")), "New title");
        assert_eq!(generated_name(&state, None), "Old title");
    }

    #[test]
    fn one_alert_without_title_falls_back_to_its_category() {
        let a = alert("  ", &["LateralMovement"], "wazuh", vec![]);
        assert_eq!(name_of(&[a]), "Lateral movement incident");
    }

    #[test]
    fn several_alerts_in_one_category() {
        let alerts = [
            alert("A", &["Execution"], "wazuh", vec![device("ws-01")]),
            alert("B", &["execution"], "wazuh", vec![device("WS-01.contoso.com")]),
        ];
        assert_eq!(name_of(&alerts), "Execution incident on one endpoint");
    }

    #[test]
    fn two_categories_are_named_most_alerts_first() {
        let alerts = [
            alert("A", &["CommandAndControl"], "suricata", vec![device("ws-01")]),
            alert("B", &["InitialAccess"], "microsoftDefenderForEndpoint", vec![device("ws-02")]),
            alert("C", &["InitialAccess"], "microsoftDefenderForEndpoint", vec![device("ws-02")]),
        ];
        assert_eq!(
            name_of(&alerts),
            "Multi-stage incident involving Initial access & Command and control on multiple endpoints \
             reported by multiple sources"
        );
    }

    #[test]
    fn two_categories_tied_are_named_alphabetically() {
        let alerts =
            [alert("A", &["Exfiltration"], "wazuh", vec![]), alert("B", &["CredentialAccess"], "wazuh", vec![])];
        assert_eq!(name_of(&alerts), "Multi-stage incident involving Credential access & Exfiltration");
    }

    #[test]
    fn more_than_two_categories_are_not_named() {
        let alerts = [
            alert("A", &["InitialAccess", "Execution"], "wazuh", vec![device("ws-01")]),
            alert("B", &["PrivilegeEscalation"], "wazuh", vec![device("ws-01")]),
        ];
        assert_eq!(name_of(&alerts), "Multi-stage incident on one endpoint");
    }

    #[test]
    fn no_category_reads_incident() {
        let alerts = [alert("A", &[], "wazuh", vec![]), alert("B", &[], "zeek", vec![])];
        assert_eq!(name_of(&alerts), "Incident reported by multiple sources");
    }

    #[test]
    fn scope_words_for_users_and_mailboxes() {
        let alerts = [
            alert("A", &["Collection"], "wazuh", vec![device("ws-01"), user("bob@contoso.com")]),
            alert("B", &["Collection"], "wazuh", vec![device("ws-02"), user("alice@contoso.com")]),
        ];
        assert_eq!(name_of(&alerts), "Collection incident on multiple endpoints involving multiple users");

        let a = alert(
            "Phish delivered",
            &["InitialAccess"],
            "microsoftDefenderForOffice365",
            vec![mailbox("alice@contoso.com")],
        );
        // A mailbox belongs to a user: both are impacted.
        assert_eq!(name_of(&[a]), "Phish delivered involving one user and one mailbox");

        let alerts = [
            alert("A", &["Exfiltration"], "wazuh", vec![device("ws-01"), mailbox("a@contoso.com")]),
            alert("B", &["Exfiltration"], "wazuh", vec![mailbox("b@contoso.com")]),
        ];
        assert_eq!(
            name_of(&alerts),
            "Exfiltration incident on one endpoint involving multiple users and multiple mailboxes"
        );
    }

    #[test]
    fn named_categories_then_people_say_affecting() {
        let alerts = [
            alert("A", &["InitialAccess"], "wazuh", vec![device("ws-01"), user("bob@contoso.com")]),
            alert("B", &["Execution"], "wazuh", vec![device("ws-01")]),
        ];
        assert_eq!(
            name_of(&alerts),
            "Multi-stage incident involving Execution & Initial access on one endpoint affecting one user"
        );
    }

    #[test]
    fn empty_state_reads_incident() {
        assert_eq!(generated_name(&RollupState::default(), None), "Incident");
    }

    #[test]
    fn category_labels() {
        assert_eq!(category_label("InitialAccess"), "Initial access");
        assert_eq!(category_label("CommandAndControl"), "Command and control");
        assert_eq!(category_label("CredentialAccess"), "Credential access");
        assert_eq!(category_label("DefenseEvasion"), "Defense evasion");
        assert_eq!(category_label("LateralMovement"), "Lateral movement");
        assert_eq!(category_label("PrivilegeEscalation"), "Privilege escalation");
        assert_eq!(category_label("Exfiltration"), "Exfiltration");
        assert_eq!(category_label("initial_access"), "Initial access");
        assert_eq!(category_label("attack.command-and-control"), "Command and control");
        assert_eq!(category_label("suspiciousNetworkTraffic"), "Suspicious network traffic");
        assert_eq!(category_label("DLPPolicyMatch"), "DLP policy match");
        assert_eq!(category_label("policy-violation"), "Policy violation");
    }

    #[test]
    fn canonical_categories() {
        assert_eq!(canonical_category("Initial Access").as_deref(), Some("InitialAccess"));
        assert_eq!(canonical_category("attack.lateral_movement").as_deref(), Some("LateralMovement"));
        assert_eq!(canonical_category(" Trojan ").as_deref(), Some("Trojan"));
        assert_eq!(canonical_category("  "), None);
    }
}
