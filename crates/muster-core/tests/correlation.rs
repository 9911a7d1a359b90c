//! Each correlation rule of DESIGN.md section 3, as a small named scenario on the pure engine.

use muster_core::correlation::{alert_facts, AlertFacts, CorrelationConfig, Engine, IncidentFacts, Placement, Step};
use muster_core::enums::CorrelationReasons;
use muster_core::{Alert, IncidentId, Timestamp};
use serde_json::{json, Value};

const MIN: i64 = 60;
const HOUR: i64 = 3600;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_714_521_600 + secs)
}

fn device(host: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host})
}

fn user(name: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"accountName": name, "domainName": "CONTOSO"}})
}

fn ip(address: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": address})
}

/// An alert from `detector` at `secs` with the given evidence.
fn alert(id: &str, detector: &str, secs: i64, evidence: Vec<Value>) -> AlertFacts {
    let when = t(secs).to_string();
    let alert = Alert::from_json_value(json!({
        "id": id, "providerAlertId": id, "title": detector, "detectorId": detector,
        "severity": "medium", "serviceSource": "microsoftDefenderForEndpoint",
        "firstActivityDateTime": when, "lastActivityDateTime": when, "evidence": evidence,
    }))
    .expect("test alert");
    alert_facts(&alert, None)
}

fn engine() -> Engine {
    Engine::new(CorrelationConfig::default(), 0)
}

fn run(engine: &mut Engine, alerts: &[AlertFacts]) -> Step {
    engine.process(alerts)
}

fn incident_of(step: &Step, alert: &str) -> IncidentId {
    step.decisions.iter().find(|d| d.alert_id == alert).unwrap_or_else(|| panic!("no decision for {alert}")).incident
}

fn id(n: i64) -> IncidentId {
    IncidentId::new(n).unwrap()
}

#[test]
fn alerts_sharing_a_device_join_one_incident() {
    let mut e = engine();
    let step = run(
        &mut e,
        &[
            alert("a", "phish", 0, vec![device("ws-01"), user("alice")]),
            alert("b", "malware", 10 * MIN, vec![device("WS-01.contoso.com")]),
        ],
    );
    assert_eq!(incident_of(&step, "a"), incident_of(&step, "b"));
    let b = &step.decisions[1];
    assert!(!b.created && b.reasons.contains(CorrelationReasons::SAME_ASSET), "{b:?}");
    assert!(b.reasons.contains(CorrelationReasons::TEMPORAL_PROXIMITY));
}

#[test]
fn no_join_outside_the_window() {
    let mut e = engine();
    let step = run(
        &mut e,
        &[
            alert("a", "x", 0, vec![device("ws-01")]),
            // Devices link within the busy window (4 h by default) since last seen.
            alert("b", "y", 5 * HOUR, vec![device("ws-01")]),
            // Artifacts link within the full window (24 h).
            alert("c", "x", 0, vec![ip("93.184.216.34")]),
            alert("d", "y", 23 * HOUR, vec![ip("93.184.216.34")]),
            alert("e", "z", 48 * HOUR, vec![ip("93.184.216.34")]),
        ],
    );
    assert_ne!(incident_of(&step, "a"), incident_of(&step, "b"));
    assert_eq!(incident_of(&step, "c"), incident_of(&step, "d"));
    assert_ne!(incident_of(&step, "d"), incident_of(&step, "e"));
}

#[test]
fn late_alerts_correlate_on_their_own_time() {
    let mut e = engine();
    let step = run(
        &mut e,
        &[
            alert("a", "x", 10 * HOUR, vec![device("ws-01")]),
            // Arrives later, happened an hour before: still within the window of "a".
            alert("b", "y", 9 * HOUR, vec![device("ws-01")]),
        ],
    );
    assert_eq!(incident_of(&step, "a"), incident_of(&step, "b"));
}

#[test]
fn an_alert_reaching_two_incidents_merges_them_into_the_older() {
    let mut e = engine();
    let step = run(
        &mut e,
        &[
            alert("a", "x", 0, vec![device("ws-01")]),
            alert("b", "y", MIN, vec![device("ws-02")]),
            alert("c", "z", 2 * MIN, vec![device("ws-01"), device("ws-02")]),
        ],
    );
    let (first, second) = (incident_of(&step, "a"), incident_of(&step, "b"));
    assert!(first < second);
    assert_eq!(incident_of(&step, "c"), first);
    assert_eq!(step.merges.len(), 1);
    assert_eq!((step.merges[0].from, step.merges[0].into), (second, first));
    assert_eq!(e.resolve(second), first, "the merged incident redirects to the survivor");
    // Later alerts on either device land in the survivor.
    let step = run(&mut e, &[alert("d", "w", 3 * MIN, vec![device("ws-02")])]);
    assert_eq!(incident_of(&step, "d"), first);
}

#[test]
fn prevalent_keys_stop_linking() {
    let config = CorrelationConfig { prevalence_limit: 3, ..Default::default() };
    let mut e = Engine::new(config, 0);
    // Four unrelated incidents all talk to the proxy's public address.
    let mut alerts: Vec<AlertFacts> = (0..4)
        .map(|n| alert(&format!("h{n}"), "x", n * MIN, vec![device(&format!("ws-{n}")), ip("45.33.32.156")]))
        .collect();
    alerts.push(alert("late", "y", 10 * MIN, vec![device("ws-9"), ip("45.33.32.156")]));
    let step = run(&mut e, &alerts);
    let incidents: std::collections::BTreeSet<_> = step.decisions.iter().map(|d| d.incident).collect();
    // The first four link through the proxy until it is seen in more than three incidents...
    assert!(incidents.len() >= 2, "{step:?}");
    // ...and the proxy does not pull the fifth into any of them.
    assert!(step.decisions.last().unwrap().created, "{step:?}");
}

fn mailbox(address: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": address})
}

#[test]
fn an_account_is_prevalent_by_the_devices_it_reaches_not_by_the_mail_it_names() {
    let mut e = engine();
    let mut stream = vec![alert("first", "d0", 0, vec![user("alice"), device("ws-01")])];
    // Mail alerts name alice with many colleagues' mailboxes: that makes her no proxy.
    stream.extend((0..8).map(|n| {
        alert(
            &format!("mail{n}"),
            &format!("m{n}"),
            MIN + n,
            vec![user("alice"), mailbox(&format!("c{n}@contoso.com"))],
        )
    }));
    stream.push(alert("hop", "d9", 10 * MIN, vec![user("alice"), device("ws-02")]));
    let step = run(&mut e, &stream);
    assert_eq!(e.resolve(incident_of(&step, "hop")), e.resolve(incident_of(&step, "first")));

    // A shared admin account logging on to server after server is.
    let mut e = engine();
    let limit = CorrelationConfig::default().prevalence_limit as i64;
    let mut stream: Vec<AlertFacts> = (0..=limit)
        .map(|n| alert(&format!("logon{n}"), &format!("l{n}"), n * MIN, vec![user("adm"), device(&format!("srv-{n}"))]))
        .collect();
    stream.push(alert("next", "x", 30 * MIN, vec![user("adm"), device("srv-99")]));
    let step = run(&mut e, &stream);
    assert!(step.decisions.last().unwrap().created, "{step:?}");
}

#[test]
fn excluded_keys_never_link() {
    let config = CorrelationConfig { exclusions: vec!["device:jump-01".into()], ..Default::default() };
    let mut e = Engine::new(config, 0);
    let step =
        run(&mut e, &[alert("a", "x", 0, vec![device("jump-01")]), alert("b", "y", MIN, vec![device("jump-01")])]);
    assert_ne!(incident_of(&step, "a"), incident_of(&step, "b"));
}

#[test]
fn a_size_cap_opens_a_new_incident_for_the_overflow() {
    let config = CorrelationConfig { max_incident_alerts: Some(3), ..Default::default() };
    let mut e = Engine::new(config, 0);
    let alerts: Vec<_> =
        (0..5).map(|n| alert(&format!("a{n}"), &format!("d{n}"), n * MIN, vec![device("ws-01")])).collect();
    let step = run(&mut e, &alerts);
    let first = incident_of(&step, "a0");
    assert_eq!([incident_of(&step, "a1"), incident_of(&step, "a2")], [first, first]);
    let overflow = incident_of(&step, "a3");
    assert_ne!(overflow, first);
    assert_eq!(incident_of(&step, "a4"), overflow);
}

#[test]
fn no_cap_by_default() {
    let mut e = engine();
    let alerts: Vec<_> = (0..2000).map(|n| alert(&format!("a{n}"), "scan", n, vec![device("web-01")])).collect();
    let step = run(&mut e, &alerts);
    assert!(step.decisions.iter().all(|d| d.incident == id(1)));
}

#[test]
fn steady_noise_stays_apart_while_a_burst_of_the_same_pair_joins_the_attack() {
    let mut e = engine();
    // An antivirus update alert on the web server every 10 minutes for two days.
    let mut stream: Vec<AlertFacts> =
        (0..(48 * 6)).map(|n| alert(&format!("av{n}"), "av-update", n * 10 * MIN, vec![device("web-01")])).collect();
    // Then an attack on the same server: a new detector, and the same "noisy" detector bursting.
    let at = 48 * HOUR + 5 * MIN;
    stream.push(alert("webshell", "webshell", at, vec![device("web-01")]));
    stream.extend((0..200).map(|n| alert(&format!("burst{n}"), "av-update", at + 60 + n, vec![device("web-01")])));
    stream.push(alert("av-next", "av-update", 50 * HOUR, vec![device("web-01")]));
    let step = run(&mut e, &stream);

    let noise = incident_of(&step, "av100");
    let attack = incident_of(&step, "webshell");
    assert_ne!(noise, attack, "the attack is not folded into the noise");
    let noise_decision = step.decisions.iter().find(|d| d.alert_id == "av100").unwrap();
    assert!(noise_decision.recurring && noise_decision.reasons.contains(CorrelationReasons::REPEATED_ALERT_OCCURRENCE));
    // The burst joins the attack once it stands out from the pair's own rate.
    assert_eq!(incident_of(&step, "burst199"), attack);
    let joined = (0..200).filter(|n| incident_of(&step, &format!("burst{n}")) == attack).count();
    assert!(joined > 150, "{joined} of 200 burst alerts joined the attack");
    // The steady pair, back at its usual rate, returns to its own incident.
    assert_ne!(incident_of(&step, "av-next"), attack);
}

/// A server that logs failed logons from internet scanners all day: each from a fresh address.
fn scanned_server(days: i64) -> Vec<AlertFacts> {
    (0..(days * 24 * 6))
        .map(|n| {
            let scanner = format!("198.51.{}.{}", n / 200, n % 200 + 1);
            alert(&format!("scan{n}"), "sshd-failed", n * 10 * MIN, vec![device("srv-01"), ip(&scanner)])
        })
        .collect()
}

#[test]
fn a_background_alert_links_only_through_its_new_keys() {
    let mut e = engine();
    let mut stream = scanned_server(2);
    let at = 48 * HOUR + 2 * MIN;
    stream.push(alert("webshell", "webshell", at, vec![device("srv-01")]));
    // One more scanner address: new, but the (detector, server) pair is background.
    stream.push(alert("scan-next", "sshd-failed", at + MIN, vec![device("srv-01"), ip("198.51.99.7")]));
    let step = run(&mut e, &stream);

    let attack = incident_of(&step, "webshell");
    let next = step.decisions.iter().find(|d| d.alert_id == "scan-next").unwrap();
    assert_ne!(next.incident, attack, "the scanner is not pulled into the attack through the server");
    assert!(next.recurring, "{next:?}");
}

#[test]
fn a_brute_force_from_one_address_stands_out_from_background_failures() {
    let mut e = engine();
    let mut stream = scanned_server(2);
    let at = 48 * HOUR + 2 * MIN;
    stream.push(alert("webshell", "webshell", at, vec![device("srv-01")]));
    // Sixty failures in a few minutes from one attacker address, then its successful logon.
    stream.extend((0..60).map(|n| {
        alert(&format!("brute{n}"), "sshd-failed", at + MIN + n * 3, vec![device("srv-01"), ip("45.9.20.1")])
    }));
    stream.push(alert("logon", "sshd-accepted", at + 10 * MIN, vec![device("srv-01"), ip("45.9.20.1")]));
    let step = run(&mut e, &stream);

    let attack = e.resolve(incident_of(&step, "webshell"));
    assert_eq!(e.resolve(incident_of(&step, "logon")), attack);
    let joined = (0..60).filter(|n| e.resolve(incident_of(&step, &format!("brute{n}"))) == attack).count();
    let margin = CorrelationConfig::default().burst_margin as usize;
    assert!(joined >= 60 - margin - 1, "{joined} of 60 brute-force alerts joined the attack");
    assert_ne!(e.resolve(incident_of(&step, "scan10")), attack);
}

#[test]
fn a_resolved_incident_is_not_reopened() {
    let mut e = engine();
    let step = run(&mut e, &[alert("a", "x", 0, vec![device("ws-01")])]);
    let first = incident_of(&step, "a");
    e.incident_changed(first, IncidentFacts { closed: true, alert_count: 1, ..IncidentFacts::default() });
    let step = run(&mut e, &[alert("b", "y", MIN, vec![device("ws-01")])]);
    assert_ne!(incident_of(&step, "b"), first);
    assert!(step.decisions[0].created);
}

#[test]
fn incidents_assigned_or_classified_differently_are_not_merged() {
    let mut e = engine();
    let step = run(&mut e, &[alert("a", "x", 0, vec![device("ws-01")]), alert("b", "y", MIN, vec![device("ws-02")])]);
    let (first, second) = (incident_of(&step, "a"), incident_of(&step, "b"));
    e.incident_changed(
        first,
        IncidentFacts { assigned_to: Some("alice".into()), alert_count: 1, ..Default::default() },
    );
    e.incident_changed(second, IncidentFacts { assigned_to: Some("bob".into()), alert_count: 1, ..Default::default() });
    let step = run(&mut e, &[alert("c", "z", 2 * MIN, vec![device("ws-01"), device("ws-02")])]);
    assert!(step.merges.is_empty());
    assert_eq!(incident_of(&step, "c"), first, "joins the older one");
}

#[test]
fn incidents_in_different_device_groups_are_not_merged() {
    let mut e = engine();
    let grouped = |host: &str, group: &str| json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host, "rbacGroupName": group});
    let step = run(
        &mut e,
        &[
            alert("a", "x", 0, vec![grouped("ws-01", "Finance"), user("alice")]),
            alert("b", "y", MIN, vec![grouped("srv-01", "Servers"), ip("104.16.1.9")]),
            alert("c", "z", 2 * MIN, vec![user("alice"), ip("104.16.1.9")]),
        ],
    );
    assert!(step.merges.is_empty(), "{step:?}");
}

#[test]
fn a_pinned_alert_is_not_moved() {
    let mut e = engine();
    let step = run(&mut e, &[alert("a", "x", 0, vec![device("ws-01")])]);
    let first = incident_of(&step, "a");
    // A person moved alert "b" to incident 99; sent again, it stays there.
    let mut b = alert("b", "y", MIN, vec![device("ws-01")]);
    e.incident_changed(id(99), IncidentFacts { alert_count: 1, ..Default::default() });
    b.placed = Some(Placement { incident: id(99), pinned: true });
    e.pin(&b, id(99));
    let step = run(&mut e, &[b]);
    assert_eq!(incident_of(&step, "b"), id(99));
    assert_ne!(first, id(99));
}

/// A mixed stream: attacks, noise, merges, late alerts.
fn mixed_stream() -> Vec<AlertFacts> {
    let mut out = Vec::new();
    for n in 0..300 {
        out.push(alert(&format!("noise{n}"), "av", n * 10 * MIN, vec![device(&format!("srv-{}", n % 3))]));
    }
    for n in 0..60 {
        let host = format!("ws-{}", n % 7);
        out.push(alert(
            &format!("atk{n}"),
            &format!("det{}", n % 5),
            20 * HOUR + n * 3 * MIN,
            vec![device(&host), user(&format!("u{}", n % 4))],
        ));
        if n % 9 == 0 {
            out.push(alert(&format!("late{n}"), "late", 20 * HOUR + n * MIN - 30 * MIN, vec![device(&host)]));
        }
    }
    out
}

fn placements(step: &Step) -> Vec<(String, i64)> {
    step.decisions.iter().map(|d| (d.alert_id.clone(), d.incident.get())).collect()
}

#[test]
fn the_same_stream_in_different_batch_sizes_gives_the_same_result() {
    let stream = mixed_stream();
    let whole = {
        let mut e = engine();
        let step = run(&mut e, &stream);
        // Resolve through merges for the comparison.
        placements(&step).into_iter().map(|(a, i)| (a, e.resolve(id(i)).get())).collect::<Vec<_>>()
    };
    for size in [1, 7, 100] {
        let mut e = engine();
        let mut got = Vec::new();
        for chunk in stream.chunks(size) {
            got.extend(placements(&run(&mut e, chunk)));
        }
        let got: Vec<_> = got.into_iter().map(|(a, i)| (a, e.resolve(id(i)).get())).collect();
        assert_eq!(got, whole, "batch size {size}");
    }
}

#[test]
fn a_restart_changes_no_result() {
    assert_restart_changes_nothing(&mixed_stream());
}

#[test]
fn a_restart_changes_no_result_on_a_background_stream() {
    // Three days of workstations, a different one each time, querying one public resolver: the
    // (detector, resolver) pair is background, and the device is the alert's only new key.
    let mut stream: Vec<AlertFacts> = (0..(3 * 24 * 6))
        .map(|n| {
            let host = format!("ws-{n:04}");
            alert(&format!("doh{n}"), "doh-policy", n * 10 * MIN, vec![device(&host), ip("9.9.9.9")])
        })
        .collect();
    stream.push(alert("webshell", "webshell", 36 * HOUR + 2 * MIN, vec![device("srv-01"), ip("45.9.20.1")]));
    stream.sort_by_key(|a| a.at);
    assert_restart_changes_nothing(&stream);
}

/// Stops the engine half way, rebuilds a new one from what was stored, and checks the second half
/// lands exactly where an engine that never stopped puts it.
fn assert_restart_changes_nothing(stream: &[AlertFacts]) {
    let (first_half, second_half) = stream.split_at(stream.len() / 2);

    let mut continuous = engine();
    run(&mut continuous, first_half);
    let expected = placements(&run(&mut continuous, second_half));

    // Stop after the first half; a new engine is rebuilt from what was stored.
    let mut before = engine();
    let step = run(&mut before, first_half);
    let mut restarted =
        Engine::new(CorrelationConfig::default(), step.decisions.iter().map(|d| d.incident.get()).max().unwrap());
    for d in &step.decisions {
        let incident = before.resolve(d.incident);
        let facts = before.incident(incident).cloned().unwrap_or_default();
        restarted.incident_changed(incident, facts);
    }
    let mut stored: Vec<AlertFacts> = first_half
        .iter()
        .zip(&step.decisions)
        .map(|(a, d)| AlertFacts {
            placed: Some(Placement { incident: before.resolve(d.incident), pinned: false }),
            ..a.clone()
        })
        .collect();
    // The store returns them by activity time, not arrival order.
    stored.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    for a in &stored {
        restarted.restore(a);
    }
    let got = placements(&run(&mut restarted, second_half));
    assert_eq!(got, expected);
}

#[test]
fn alerts_sent_days_late_still_find_their_incident() {
    let mut e = engine();
    let mut stream = vec![alert("attack-w", "webshell", 30 * HOUR, vec![device("web-01")])];
    // Three days of another host's alerts arrive in between (more than the engine's pruning
    // interval, so its memory is trimmed meanwhile)...
    stream.extend(
        (0..13_000).map(|n| alert(&format!("w{n}"), &format!("w-det{}", n % 3), n * 20, vec![device("ws-01")])),
    );
    // ...then a second tool's alert of the attack, a day and a half "late".
    stream.push(alert("attack-a", "new-log-line", 30 * HOUR + MIN, vec![device("web-01")]));
    let step = run(&mut e, &stream);
    assert_eq!(incident_of(&step, "attack-a"), incident_of(&step, "attack-w"));
}
