//! The fixture files: they round-trip, and they fill in every property the reference lists.

use super::*;

/// Every fixture: `alert*.json` holds alerts, `incident*.json` incidents; a file is one resource or a
/// collection response (`{"@odata.context": ..., "value": [...]}`).
fn all_fixtures() -> Vec<(String, Kind, Vec<Value>)> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let kind = match name {
                ref n if n.starts_with("alert") => Kind::Alert,
                ref n if n.starts_with("incident") => Kind::Incident,
                ref n => panic!("fixture {n} must start with 'alert' or 'incident'"),
            };
            let doc = fixture(&name);
            let items = match doc.get("value") {
                Some(Value::Array(items)) => items.clone(),
                _ => vec![doc],
            };
            (name, kind, items)
        })
        .collect()
}

#[test]
fn every_fixture_round_trips_to_equivalent_json() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 6, "fixtures missing: {:?}", fixtures.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (name, kind, items) in fixtures {
        for (i, input) in items.iter().enumerate() {
            let what = format!("{name} item {i}");
            let output = round_trip_ok(kind, &what, input);
            assert_equivalent(&what, input, &output);

            let bad = badly_written_timestamps(&output, &kept_verbatim);
            assert!(bad.is_empty(), "{what}: timestamps not in Graph form: {bad:?}");

            // The written form is a fixed point: reading it again writes exactly the same JSON.
            let again = round_trip_ok(kind, &what, &output);
            assert_eq!(again, output, "{what}: second round trip changed the JSON");
        }
    }
}

/// The listed properties that are absent, null or empty in `object`, prefixed with `what`.
fn unfilled(what: &str, object: &Value, properties: &[&str]) -> Vec<String> {
    let normal = normalise(object);
    properties.iter().filter(|p| normal.get(**p).is_none()).map(|p| format!("{what}.{p}")).collect()
}

/// Checks every complex value below `value` (found by the property holding it) has every field.
fn unfilled_complex(path: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let sub = format!("{path}.{key}");
                if let Some((_, fields)) = COMPLEX_FIELDS.iter().find(|(k, _)| k == key) {
                    let items = match item {
                        Value::Array(items) => items.iter().collect(),
                        one => vec![one],
                    };
                    for one in items {
                        out.extend(unfilled(&sub, one, fields));
                    }
                }
                unfilled_complex(&sub, item, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                unfilled_complex(&format!("{path}[{i}]"), item, out);
            }
        }
        _ => {}
    }
}

#[test]
fn fixtures_fill_in_every_property_of_the_reference() {
    let mut missing = Vec::new();

    let incident = fixture("incident-full.json");
    missing.extend(unfilled("incident", &incident, INCIDENT_PROPERTIES));
    missing.extend(unfilled("incident", &incident, INCIDENT_ROLLUPS));
    for kind in ["devices", "users", "mailboxes", "apps"] {
        missing.extend(unfilled("incident.impactedAssets", &incident["impactedAssets"][kind], &["count", "names"]));
    }
    let alerts = incident["alerts"].as_array().expect("incident-full expands its alerts");
    assert!(alerts.len() >= 2, "incident-full should expand several alerts");
    for comment in incident["comments"].as_array().expect("incident comments") {
        missing.extend(unfilled("incident.comments[]", comment, COMMENT_PROPERTIES));
    }

    let alert = fixture("alert-full.json");
    missing.extend(unfilled("alert", &alert, ALERT_PROPERTIES));
    for comment in alert["comments"].as_array().expect("alert comments") {
        missing.extend(unfilled("alert.comments[]", comment, COMMENT_PROPERTIES));
    }
    let evidence = alert["evidence"].as_array().expect("alert-full has evidence");
    for (ty, fields) in EVIDENCE_FIELDS {
        let Some(item) = evidence.iter().find(|e| evidence_type(e) == Some(ty)) else {
            missing.push(format!("alert.evidence: no {ty}"));
            continue;
        };
        missing.extend(unfilled(ty, item, EVIDENCE_BASE));
        missing.extend(unfilled(ty, item, fields));
        unfilled_complex(ty, item, &mut missing);
    }
    assert_eq!(EVIDENCE_FIELDS.len(), MODELLED_EVIDENCE.len());
    assert!(missing.is_empty(), "the fixtures leave these reference properties out: {missing:#?}");

    // And at least one type the model does not implement, kept as opaque JSON.
    let other = fixture("alert-unmodelled-evidence.json");
    let types: Vec<&str> = other["evidence"].as_array().unwrap().iter().filter_map(evidence_type).collect();
    assert!(types.contains(&"kubernetesPodEvidence"), "{types:?}");
    assert!(types.iter().all(|t| !MODELLED_EVIDENCE.contains(t)), "{types:?}");
}

/// Properties that landed in a catch-all map instead of a typed field: a property the model misses
/// or misspells would still round-trip through the catch-all, so the typed read is checked too.
fn unmodelled_keys(ev: &Evidence) -> Vec<String> {
    fn add(out: &mut Vec<String>, what: &str, extra: &Map<String, Value>) {
        out.extend(extra.keys().map(|k| format!("{what}.{k}")));
    }
    fn user(out: &mut Vec<String>, what: &str, account: &Option<UserAccount>) {
        if let Some(u) = account {
            add(out, what, &u.extra);
            for r in &u.resource_access_events {
                add(out, &format!("{what}.resourceAccessEvents"), &r.extra);
            }
        }
    }
    fn file(out: &mut Vec<String>, what: &str, details: &Option<FileDetails>) {
        if let Some(f) = details {
            add(out, what, &f.extra);
        }
    }
    fn ip(out: &mut Vec<String>, what: &str, e: &IpEvidence) {
        add(out, what, &e.extra);
        if let Some(l) = &e.location {
            add(out, &format!("{what}.location"), &l.extra);
        }
        if let Some(s) = &e.stream {
            add(out, &format!("{what}.stream"), &s.extra);
        }
    }
    let mut out = Vec::new();
    let o = &mut out;
    match ev {
        Evidence::Device(d) => {
            add(o, "deviceEvidence", &d.extra);
            d.logged_on_users.iter().for_each(|u| add(o, "loggedOnUsers", &u.extra));
            d.resource_access_events.iter().for_each(|r| add(o, "resourceAccessEvents", &r.extra));
            if let Some(vm) = &d.vm_metadata {
                add(o, "vmMetadata", &vm.extra);
            }
        }
        Evidence::User(u) => {
            add(o, "userEvidence", &u.extra);
            user(o, "userEvidence.userAccount", &u.user_account);
            if let Some(s) = &u.stream {
                add(o, "userEvidence.stream", &s.extra);
            }
        }
        Evidence::Mailbox(m) => {
            add(o, "mailboxEvidence", &m.extra);
            user(o, "mailboxEvidence.userAccount", &m.user_account);
        }
        Evidence::Ip(i) => ip(o, "ipEvidence", i),
        Evidence::File(f) => {
            add(o, "fileEvidence", &f.extra);
            file(o, "fileEvidence.fileDetails", &f.file_details);
        }
        Evidence::Process(p) => {
            add(o, "processEvidence", &p.extra);
            file(o, "processEvidence.imageFile", &p.image_file);
            file(o, "processEvidence.parentProcessImageFile", &p.parent_process_image_file);
            user(o, "processEvidence.userAccount", &p.user_account);
        }
        Evidence::Url(u) => add(o, "urlEvidence", &u.extra),
        Evidence::CloudApplication(c) => {
            add(o, "cloudApplicationEvidence", &c.extra);
            if let Some(s) = &c.stream {
                add(o, "cloudApplicationEvidence.stream", &s.extra);
            }
        }
        Evidence::AnalyzedMessage(m) => {
            add(o, "analyzedMessageEvidence", &m.extra);
            for s in [&m.p1_sender, &m.p2_sender].into_iter().flatten() {
                add(o, "analyzedMessageEvidence.sender", &s.extra);
            }
        }
        Evidence::RegistryKey(r) => add(o, "registryKeyEvidence", &r.extra),
        Evidence::RegistryValue(r) => add(o, "registryValueEvidence", &r.extra),
        Evidence::NetworkConnection(n) => {
            add(o, "networkConnectionEvidence", &n.extra);
            for (what, e) in [("destinationAddress", &n.destination_address), ("sourceAddress", &n.source_address)] {
                if let Some(e) = e {
                    ip(o, what, e);
                }
            }
        }
        Evidence::Dns(d) => {
            add(o, "dnsEvidence", &d.extra);
            for e in [&d.dns_server_ip, &d.host_ip_address].into_iter().flatten() {
                ip(o, "dnsEvidence.ip", e);
            }
            d.ip_addresses.iter().for_each(|e| ip(o, "dnsEvidence.ipAddresses", e));
        }
        Evidence::FileHash(f) => add(o, "fileHashEvidence", &f.extra),
        Evidence::Other(_) => {}
    }
    out
}

#[test]
fn full_fixtures_read_into_typed_fields_not_catch_alls() {
    let alert = Alert::from_json_value(fixture("alert-full.json")).expect("alert-full parses");
    let stray: Vec<&String> = alert.unknown.keys().filter(|k| !k.starts_with('@')).collect();
    assert!(stray.is_empty(), "alert properties the model did not recognise: {stray:?}");
    let mut types: Vec<&str> = alert.evidence.iter().map(Evidence::type_name).collect();
    types.sort_unstable();
    let mut expected = MODELLED_EVIDENCE.to_vec();
    expected.sort_unstable();
    assert_eq!(types, expected, "each modelled type read as itself");
    let stray: Vec<String> = alert.evidence.iter().flat_map(unmodelled_keys).collect();
    assert!(stray.is_empty(), "evidence fields the model did not recognise: {stray:?}");

    let incident = Incident::from_json_value(fixture("incident-full.json")).expect("incident-full parses");
    let stray: Vec<&String> = incident.unknown.keys().filter(|k| !k.starts_with('@')).collect();
    assert!(stray.is_empty(), "incident properties the model did not recognise: {stray:?}");
    let alerts = incident.alerts.as_ref().expect("alerts expanded");
    for a in alerts {
        let stray: Vec<&String> = a.unknown.keys().filter(|k| !k.starts_with('@')).collect();
        assert!(stray.is_empty(), "alert {}: unrecognised {stray:?}", a.id);
        let stray: Vec<String> = a.evidence.iter().flat_map(unmodelled_keys).collect();
        assert!(stray.is_empty(), "alert {}: unrecognised evidence fields {stray:?}", a.id);
    }
    assert_eq!(incident.impacted_assets.users.names, ["b-joking", "KaiC"]);
    assert_eq!(incident.redirect_incident_id.map(|i| i.get()), Some(2_972_411));

    let other = Alert::from_json_value(fixture("alert-unmodelled-evidence.json")).expect("parses");
    for ev in &other.evidence {
        assert!(matches!(ev, Evidence::Other(_)), "{} should be opaque", ev.type_name());
    }
    assert_eq!(other.evidence[0].type_name(), "kubernetesPodEvidence");
}
