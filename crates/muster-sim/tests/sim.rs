//! The simulator's promises: deterministic, valid Graph alerts, complete truth, the requested
//! size, attacks linked through their own entities only, noise on the attacked devices.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use muster_core::entity::{entity_keys, EntityKind};
use muster_core::{Alert, GraphEnum, Timestamp};
use muster_sim::{simulate, simulate_iter, SimConfig, Simulation};

fn small(seed: u64) -> SimConfig {
    SimConfig { seed, target_alerts: 4_000, attacks: 6, workstations: 120, ..SimConfig::default() }
}

fn ndjson(sim: &Simulation) -> String {
    let mut out = String::new();
    for (alert, row) in sim.alerts.iter().zip(&sim.truth) {
        out.push_str(&serde_json::to_string(alert).unwrap());
        out.push('\n');
        out.push_str(&serde_json::to_string(row).unwrap());
        out.push('\n');
    }
    out
}

fn parse(sim: &Simulation) -> Vec<Alert> {
    sim.alerts.iter().map(|a| Alert::from_json_value(a.clone()).unwrap_or_else(|e| panic!("{e}: {a}"))).collect()
}

type Key = (EntityKind, String);

/// The keys that may link alerts: strong (public IPs only) and not one of the world's prevalent
/// entities.
fn linking_keys(alert: &Alert, prevalent: &BTreeSet<Key>) -> Vec<Key> {
    entity_keys(alert)
        .into_iter()
        .filter(|k| k.is_strong())
        .map(|k| (k.kind, k.value))
        .filter(|k| !prevalent.contains(k))
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = ndjson(&simulate(&small(11)));
    let b = ndjson(&simulate(&small(11)));
    assert!(a == b, "same seed must give identical output");
    let c = ndjson(&simulate(&small(12)));
    assert_ne!(a, c);
    // The stream and the collected form are the same thing.
    let streamed: Vec<_> = simulate_iter(&small(11)).collect();
    let sim = simulate(&small(11));
    assert_eq!(streamed.len(), sim.alerts.len());
    assert!(streamed.iter().zip(&sim.alerts).all(|((x, _), y)| x == y));
}

#[test]
fn every_alert_is_valid_graph_with_a_unique_id_and_truth() {
    let config = small(3);
    let sim = simulate(&config);
    assert_eq!(sim.alerts.len(), sim.truth.len());
    let alerts = parse(&sim);
    let mut ids = HashSet::new();
    for ((alert, raw), row) in alerts.iter().zip(&sim.alerts).zip(&sim.truth) {
        let id = alert.provider_alert_id.clone().expect("providerAlertId");
        assert!(ids.insert(id.clone()), "duplicate providerAlertId {id}");
        assert_eq!(row.provider_alert_id, id);
        assert_eq!(row.is_attack, !row.group.is_empty());
        assert_eq!(alert.status.as_str(), "new");
        assert!(!alert.evidence.is_empty(), "{raw}");
        assert!(!alert.categories.is_empty(), "{raw}");
        let (first, last, created) = (
            alert.first_activity_date_time.unwrap(),
            alert.last_activity_date_time.unwrap(),
            alert.created_date_time.unwrap(),
        );
        assert!(first <= last && last <= created, "{raw}");
        for ev in raw["evidence"].as_array().unwrap() {
            let ty = ev["@odata.type"].as_str().unwrap();
            assert!(ty.starts_with("#microsoft.graph.security.") && ty.ends_with("Evidence"), "{ty}");
        }
        // Re-serialising the model keeps every property we sent.
        let back = serde_json::to_value(alert).unwrap();
        for key in raw.as_object().unwrap().keys() {
            assert!(back.get(key).is_some(), "{key} lost in {raw}");
        }
    }
    let groups: BTreeSet<&str> = sim.truth.iter().map(|t| t.group.as_str()).filter(|g| !g.is_empty()).collect();
    let expected: BTreeSet<String> = (1..=config.attacks).map(|i| format!("attack-{i}")).collect();
    assert_eq!(groups, expected.iter().map(String::as_str).collect());
    // Mixed sources, Graph members and tools' own names.
    let sources: BTreeSet<&str> = alerts.iter().map(|a| a.service_source.as_str()).collect();
    for s in [
        "microsoftDefenderForEndpoint",
        "microsoftDefenderForOffice365",
        "microsoftDefenderForIdentity",
        "azureAdIdentityProtection",
        "suricata",
        "wazuh",
        "sigma",
    ] {
        assert!(sources.contains(s), "no alert from {s}");
    }
}

#[test]
fn alerts_arrive_in_order_and_within_the_period() {
    let config = small(5);
    let sim = simulate(&config);
    let alerts = parse(&sim);
    let end = config.start.plus_secs(config.duration_secs);
    let mut previous = Timestamp::from_secs(0);
    for alert in &alerts {
        let created = alert.created_date_time.unwrap();
        assert!(created >= previous, "arrival order");
        previous = created;
        let activity = alert.last_activity_date_time.unwrap();
        assert!(activity >= config.start && activity <= end, "activity {activity} outside the period");
    }
}

#[test]
fn requested_size_and_noise_share_are_met() {
    for (target, attacks) in [(2_000, 3), (4_000, 6), (20_000, 10), (50_000, 4)] {
        let config = SimConfig { seed: 9, target_alerts: target, attacks, ..SimConfig::default() };
        let sim = simulate(&config);
        let n = sim.alerts.len() as f64;
        assert!((n - target as f64).abs() <= target as f64 * 0.03, "{n} alerts for a target of {target}");
        let benign = sim.truth.iter().filter(|t| !t.is_attack).count() as f64 / n;
        assert!((0.8..=0.95).contains(&benign), "benign share {benign} for {target}/{attacks}");
    }
    let none = simulate(&SimConfig { attacks: 0, target_alerts: 1_000, ..SimConfig::default() });
    assert!(none.truth.iter().all(|t| !t.is_attack));
    assert!((none.alerts.len() as i64 - 1_000).abs() <= 30);
}

#[test]
fn each_attack_is_connected_through_its_own_entities() {
    for seed in [1, 2, 3] {
        let config = small(seed);
        let sim = simulate(&config);
        let prevalent = sim.world.prevalent_keys();
        let alerts = parse(&sim);
        let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, row) in sim.truth.iter().enumerate() {
            if row.is_attack {
                by_group.entry(&row.group).or_default().push(i);
            }
        }
        assert_eq!(by_group.len(), config.attacks);
        let mut owner: HashMap<Key, &str> = HashMap::new();
        for (group, members) in &by_group {
            // Stage order: by activity time, then arrival.
            let mut members = members.clone();
            members.sort_by_key(|&i| (alerts[i].last_activity_date_time, i));
            let keys: Vec<Vec<Key>> = members.iter().map(|&i| linking_keys(&alerts[i], &prevalent)).collect();
            // Every stage shares a non-prevalent entity with an earlier stage of the attack...
            let mut seen: HashSet<&Key> = keys[0].iter().collect();
            for (pos, k) in keys.iter().enumerate().skip(1) {
                assert!(
                    k.iter().any(|key| seen.contains(key)),
                    "seed {seed} {group}: alert {} shares nothing with earlier stages: {}",
                    pos,
                    sim.alerts[members[pos]]
                );
                seen.extend(k.iter());
            }
            // ...so the attack is one connected component...
            let mut parent: Vec<usize> = (0..members.len()).collect();
            fn find(parent: &mut [usize], i: usize) -> usize {
                let mut i = i;
                while parent[i] != i {
                    parent[i] = parent[parent[i]];
                    i = parent[i];
                }
                i
            }
            let mut first_with: HashMap<&Key, usize> = HashMap::new();
            for (pos, k) in keys.iter().enumerate() {
                for key in k {
                    let other = *first_with.entry(key).or_insert(pos);
                    let (a, b) = (find(&mut parent, pos), find(&mut parent, other));
                    parent[a] = b;
                }
            }
            let roots: HashSet<usize> = (0..members.len()).map(|i| find(&mut parent, i)).collect();
            assert_eq!(roots.len(), 1, "seed {seed} {group} splits into {} components", roots.len());
            // ...and no other attack shares its linking entities.
            for key in keys.iter().flatten() {
                if let Some(other) = owner.insert(key.clone(), group) {
                    assert_eq!(other, *group, "seed {seed}: {key:?} links {other} and {group}");
                }
            }
            // A prevalent entity shows up in the attack too, as in real incidents.
            let all: BTreeSet<Key> =
                members.iter().flat_map(|&i| entity_keys(&alerts[i])).map(|k| (k.kind, k.value)).collect();
            assert!(all.iter().any(|k| prevalent.contains(k)), "{group} never touches a prevalent entity");
        }
    }
}

#[test]
fn attacks_use_different_victims_and_are_spread_over_time() {
    let config = SimConfig { seed: 4, attacks: 8, target_alerts: 10_000, ..SimConfig::default() };
    let sim = simulate(&config);
    let alerts = parse(&sim);
    let mut devices: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut starts = Vec::new();
    let mut group_first: BTreeMap<&str, Timestamp> = BTreeMap::new();
    for (alert, row) in alerts.iter().zip(&sim.truth) {
        if !row.is_attack {
            continue;
        }
        let at = alert.last_activity_date_time.unwrap();
        let first = group_first.entry(&row.group).or_insert(at);
        *first = (*first).min(at);
        for key in entity_keys(alert) {
            if key.kind == EntityKind::Device {
                devices.entry(key.value).or_default().insert(&row.group);
            }
        }
    }
    for (device, groups) in &devices {
        if device != "dc-01" && device != "proxy-01" {
            assert_eq!(groups.len(), 1, "{device} is in {groups:?}");
        }
    }
    starts.extend(group_first.values().map(|t| t.micros()));
    starts.sort_unstable();
    let span = (starts[starts.len() - 1] - starts[0]) as f64;
    let duration = config.duration_secs as f64 * 1e6;
    assert!(span > duration * 0.6, "attacks start within {span} of {duration}");
}

#[test]
fn noise_recurs_bursts_happen_and_noise_hits_attacked_devices() {
    let sim = simulate(&small(8));
    let alerts = parse(&sim);
    let pair = |a: &Alert| -> Option<(String, String)> {
        let device = entity_keys(a).into_iter().find(|k| k.kind == EntityKind::Device)?;
        Some((a.detector_id.clone()?, device.value))
    };
    // Steady benign pairs: the same detector on the same device over and over.
    let mut benign_pairs: HashMap<(String, String), usize> = HashMap::new();
    let mut attack_pairs: HashMap<(String, String, &str), usize> = HashMap::new();
    for (alert, row) in alerts.iter().zip(&sim.truth) {
        if let Some(p) = pair(alert) {
            if row.is_attack {
                *attack_pairs.entry((p.0, p.1, &row.group)).or_default() += 1;
            } else {
                *benign_pairs.entry(p).or_default() += 1;
            }
        }
    }
    assert!(benign_pairs.values().filter(|&&n| n >= 20).count() >= 5, "too few recurring benign pairs");
    assert!(attack_pairs.values().any(|&n| n >= 12), "no burst in any attack");

    // Benign alerts on attacked devices during the attack.
    let mut spans: HashMap<&str, (Timestamp, Timestamp, BTreeSet<String>)> = HashMap::new();
    for (alert, row) in alerts.iter().zip(&sim.truth) {
        if row.is_attack {
            let at = alert.last_activity_date_time.unwrap();
            let span = spans.entry(&row.group).or_insert((at, at, BTreeSet::new()));
            span.0 = span.0.min(at);
            span.1 = span.1.max(at);
            let devices = entity_keys(alert).into_iter().filter(|k| k.kind == EntityKind::Device).map(|k| k.value);
            span.2.extend(devices.filter(|d| d != "dc-01" && d != "proxy-01"));
        }
    }
    let overlapping = spans
        .values()
        .filter(|(from, to, devices)| {
            alerts.iter().zip(&sim.truth).any(|(alert, row)| {
                let at = alert.last_activity_date_time.unwrap();
                !row.is_attack
                    && at >= *from
                    && at <= *to
                    && entity_keys(alert).iter().any(|k| k.kind == EntityKind::Device && devices.contains(&k.value))
            })
        })
        .count();
    assert_eq!(overlapping, spans.len(), "every attack should have benign company on its devices");

    // Prevalent entities are prevalent in the noise.
    let prevalent = sim.world.prevalent_keys();
    let benign_with_prevalent = alerts
        .iter()
        .zip(&sim.truth)
        .filter(|(a, t)| !t.is_attack && entity_keys(a).iter().any(|k| prevalent.contains(&(k.kind, k.value.clone()))))
        .count();
    assert!(benign_with_prevalent > sim.alerts.len() / 10, "{benign_with_prevalent}");
}

#[test]
fn one_person_two_spellings() {
    let sim = simulate(&small(6));
    let alerts = parse(&sim);
    // Some user keys come from a UPN and some from CONTOSO\name, and they meet.
    let mut forms: HashMap<String, BTreeSet<bool>> = HashMap::new();
    for alert in &alerts {
        for key in entity_keys(alert) {
            if key.kind == EntityKind::User {
                forms.entry(key.value).or_default().insert(key.display.contains('\\'));
            }
        }
    }
    assert!(forms.values().filter(|f| f.len() == 2).count() >= 5, "few people seen in both forms");
}

#[test]
fn short_periods_and_tiny_sizes_still_work() {
    for config in [
        SimConfig { duration_secs: 600, target_alerts: 500, attacks: 2, ..SimConfig::default() },
        SimConfig { duration_secs: 3_600, target_alerts: 50, attacks: 5, workstations: 10, ..SimConfig::default() },
        SimConfig { target_alerts: 0, attacks: 1, ..SimConfig::default() },
    ] {
        let sim = simulate(&config);
        let alerts = parse(&sim);
        let end = config.start.plus_secs(config.duration_secs);
        assert!(alerts.iter().all(|a| a.last_activity_date_time.unwrap() <= end));
        assert_eq!(
            sim.truth.iter().filter(|t| t.is_attack).map(|t| &t.group).collect::<BTreeSet<_>>().len(),
            config.attacks
        );
    }
}

#[test]
fn streams_a_hundred_thousand() {
    let config = SimConfig { seed: 42, target_alerts: 100_000, attacks: 12, ..SimConfig::default() };
    let mut iter = simulate_iter(&config);
    let expected = iter.len();
    let mut count = 0;
    let mut attack = 0;
    for (alert, row) in iter.by_ref() {
        count += 1;
        attack += usize::from(row.is_attack);
        assert!(alert.get("providerAlertId").is_some());
    }
    assert_eq!(count, expected);
    assert!((count as i64 - 100_000).abs() < 3_000, "{count}");
    assert!(attack > 5_000, "{attack}");
}
