//! How well a grouping matches the simulator's truth: pairwise precision and recall over attack
//! alerts (two alerts of one attack should share an incident; alerts of different attacks should
//! not), and purity (how much benign noise sits in the incidents that hold attack alerts).

use std::collections::HashMap;

use crate::TruthRow;

/// The figures of one grouping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Of the attack-alert pairs Muster put together, the share that belong to one attack.
    pub pairwise_precision: f64,
    /// Of the attack-alert pairs that belong to one attack, the share Muster put together.
    pub pairwise_recall: f64,
    /// Share of the alerts in attack-bearing incidents that belong to the incident's main attack.
    pub purity: f64,
    pub incidents: usize,
    /// Alerts of the truth missing from the grouping.
    pub lost: usize,
}

fn pairs(n: u64) -> f64 {
    (n * n.saturating_sub(1) / 2) as f64
}

/// Scores `incident_of` (provider alert id → incident id) against the truth.
pub fn score(truth: &[TruthRow], incident_of: &HashMap<String, String>) -> Score {
    let mut cell: HashMap<(&str, &str), u64> = HashMap::new();
    let mut per_incident: HashMap<&str, u64> = HashMap::new();
    let mut per_group: HashMap<&str, u64> = HashMap::new();
    let mut members: HashMap<&str, u64> = HashMap::new();
    let mut lost = 0;
    for row in truth {
        let Some(incident) = incident_of.get(&row.provider_alert_id) else {
            lost += 1;
            continue;
        };
        *members.entry(incident).or_default() += 1;
        if row.is_attack {
            *cell.entry((incident, row.group.as_str())).or_default() += 1;
            *per_incident.entry(incident).or_default() += 1;
            *per_group.entry(row.group.as_str()).or_default() += 1;
        }
    }
    let together_right: f64 = cell.values().map(|n| pairs(*n)).sum();
    let together: f64 = per_incident.values().map(|n| pairs(*n)).sum();
    let should: f64 = per_group.values().map(|n| pairs(*n)).sum();
    let mut main: HashMap<&str, u64> = HashMap::new();
    for ((incident, _), n) in &cell {
        let best = main.entry(incident).or_default();
        *best = (*best).max(*n);
    }
    let in_attack_incidents: u64 = per_incident.keys().map(|i| members[i]).sum();
    let main_total: u64 = main.values().sum();
    Score {
        pairwise_precision: if together > 0.0 { together_right / together } else { 1.0 },
        pairwise_recall: if should > 0.0 { together_right / should } else { 1.0 },
        purity: if in_attack_incidents > 0 { main_total as f64 / in_attack_incidents as f64 } else { 1.0 },
        incidents: members.len(),
        lost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, group: &str) -> TruthRow {
        TruthRow { provider_alert_id: id.into(), group: group.into(), is_attack: !group.is_empty() }
    }

    #[test]
    fn perfect_and_imperfect_groupings() {
        let truth = [row("a1", "x"), row("a2", "x"), row("b1", "y"), row("b2", "y"), row("n", "")];
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, i)| (a.to_string(), i.to_string())).collect();
        let perfect = score(&truth, &map(&[("a1", "1"), ("a2", "1"), ("b1", "2"), ("b2", "2"), ("n", "3")]));
        assert_eq!((perfect.pairwise_precision, perfect.pairwise_recall, perfect.purity), (1.0, 1.0, 1.0));
        let merged = score(&truth, &map(&[("a1", "1"), ("a2", "1"), ("b1", "1"), ("b2", "1"), ("n", "1")]));
        assert!((merged.pairwise_precision - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(merged.pairwise_recall, 1.0);
        assert!((merged.purity - 0.4).abs() < 1e-9);
        let split = score(&truth, &map(&[("a1", "1"), ("a2", "2"), ("b1", "3"), ("b2", "3")]));
        assert_eq!(split.pairwise_recall, 0.5);
        assert_eq!(split.lost, 1);
    }
}
