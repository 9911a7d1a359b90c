//! Legacy spellings, unknown properties, annotations, timestamps, and refusals that name the property.

use super::*;

#[test]
fn legacy_spellings_are_read_and_written_in_csdl_spelling() {
    let alert = alert_template();
    let cases = [
        ("TruePositive", "compromisedUser", "truePositive", "compromisedAccount"),
        ("FalsePositive", "clean", "falsePositive", "notMalicious"),
        ("FalsePositive", "Clean", "falsePositive", "notMalicious"),
        ("falsePositive", "insufficientData", "falsePositive", "notEnoughDataToValidate"),
        ("FalsePositive", "NoEnoughDataToValidate", "falsePositive", "notEnoughDataToValidate"),
        (
            "InformationalExpectedActivity",
            "confirmedUserActivity",
            "informationalExpectedActivity",
            "confirmedActivity",
        ),
        ("TRUEPOSITIVE", "MultiStagedAttack", "truePositive", "multiStagedAttack"),
    ];
    for (c, d, want_c, want_d) in cases {
        for kind in [Kind::Alert, Kind::Incident] {
            let base = if kind == Kind::Alert { alert.clone() } else { incident_template() };
            let output = round_trip_ok(kind, d, &json!({"classification": c, "determination": d}).merge(&base));
            assert_eq!((&output["classification"], &output["determination"]), (&json!(want_c), &json!(want_d)));
        }
    }

    let incident =
        json!({"status": "Active", "severity": "High", "investigationStates": ["Running"]}).merge(&incident_template());
    let output = round_trip_ok(Kind::Incident, "PascalCase incident", &incident);
    assert_eq!(
        (&output["status"], &output["severity"], &output["investigationStates"]),
        (&json!("active"), &json!("high"), &json!(["running"]))
    );
    let alert = json!({"status": "InProgress", "severity": "Medium"})
        .merge(&alert_with_evidence("urlEvidence", json!({"url": "u"})));
    let alert = with(&with(&alert, "/evidence/0/verdict", "Malicious"), "/evidence/0/roles/0", "CommandAndControl");
    let output = round_trip_ok(Kind::Alert, "PascalCase alert", &alert);
    assert_eq!((&output["status"], &output["severity"]), (&json!("inProgress"), &json!("medium")));
    assert_eq!(output["evidence"][0]["verdict"], json!("malicious"));
    assert_eq!(output["evidence"][0]["roles"], json!(["commandAndControl"]));
}

#[test]
fn properties_graph_does_not_define_are_kept() {
    let extras = json!({
        "vendorSeverity": "P2", "vendorScore": 7.5, "vendorFlags": [true, false],
        "vendorContext": {"nested": {"deep": [1, "two", null]}}
    });
    let alert = extras.clone().merge(&alert_with_evidence("urlEvidence", json!({"url": "u", "vendorField": {"a": 1}})));
    let output = round_trip_ok(Kind::Alert, "alert extras", &alert);
    for (k, v) in extras.as_object().unwrap() {
        assert_eq!(output.get(k), Some(v), "alert property {k}");
    }
    assert_eq!(output["evidence"][0]["vendorField"], json!({"a": 1}));
    assert_equivalent("alert extras", &alert, &output);

    let incident = extras.clone().merge(&incident_template());
    let output = round_trip_ok(Kind::Incident, "incident extras", &incident);
    for (k, v) in extras.as_object().unwrap() {
        assert_eq!(output.get(k), Some(v), "incident property {k}");
    }
    assert_equivalent("incident extras", &incident, &output);
}

/// Keys of `value`, at any depth, that look like OData annotations, with their paths.
fn annotations(path: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k.starts_with('@') || k.contains("@odata.") {
                    out.push(format!("{path}/{k}"));
                }
                annotations(&format!("{path}/{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                annotations(&format!("{path}/{i}"), v, out);
            }
        }
        _ => {}
    }
}

#[test]
fn odata_annotations_are_accepted_and_dropped() {
    let noted = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2/$entity",
        "@odata.type": "#microsoft.graph.security.alert",
        "@odata.etag": "W/\"7\"",
        "@odata.id": "security/alerts_v2('a1')",
        "severity@odata.type": "#microsoft.graph.security.alertSeverity",
        "evidence@odata.type": "#Collection(microsoft.graph.security.alertEvidence)",
        "createdDateTime@odata.type": "#DateTimeOffset",
        "comments": [{"@odata.type": "#microsoft.graph.security.alertComment", "comment": "c", "createdDateTime": "2024-05-01T12:00:00Z"}]
    });
    let evidence = json!({
        "url": "u",
        "@odata.id": "evidence-1",
        "roles@odata.type": "#Collection(microsoft.graph.security.evidenceRole)"
    });
    let alert = json!({"createdDateTime": "2024-05-01T12:00:00Z"})
        .merge(&noted.clone().merge(&alert_with_evidence("urlEvidence", evidence)));
    let output = round_trip_ok(Kind::Alert, "annotated alert", &alert);
    let mut left = Vec::new();
    annotations("", &output, &mut left);
    assert_eq!(left, ["/evidence/0/@odata.type"], "only the evidence type annotation survives");
    assert_eq!(output["evidence"][0]["@odata.type"], json!("#microsoft.graph.security.urlEvidence"));
    assert_equivalent("annotated alert", &alert, &output);

    let incident = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents/$entity",
        "@odata.type": "#microsoft.graph.security.incident",
        "@odata.etag": "W/\"3\"",
        "alerts@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents('1')/alerts",
        "alerts": [alert]
    })
    .merge(&incident_template());
    let output = round_trip_ok(Kind::Incident, "annotated incident", &incident);
    let mut left = Vec::new();
    annotations("", &output, &mut left);
    assert_eq!(left, ["/alerts/0/evidence/0/@odata.type"]);
    assert_equivalent("annotated incident", &incident, &output);
}

#[test]
fn timestamps_are_read_in_any_rfc3339_form_and_written_with_seven_digits() {
    let cases = [
        ("2021-08-13T08:43:35.5533333Z", "2021-08-13T08:43:35.5533333Z"),
        ("2021-08-13T08:43:35.55Z", "2021-08-13T08:43:35.5500000Z"),
        ("2023-08-18T08:56:06.087000Z", "2023-08-18T08:56:06.0870000Z"),
        ("2021-08-13T08:43:35Z", "2021-08-13T08:43:35Z"),
        ("2021-08-13T08:43:35.000Z", "2021-08-13T08:43:35Z"),
        ("2024-01-01T00:30:00+02:00", "2023-12-31T22:30:00Z"),
        ("2024-01-01T10:00:00.5", "2024-01-01T10:00:00.5000000Z"),
    ];
    for (input, written) in cases {
        let alert = json!({
            "createdDateTime": input,
            "comments": [{"comment": "c", "createdDateTime": input}]
        })
        .merge(&alert_with_evidence("processEvidence", json!({"processCreationDateTime": input})));
        let output = round_trip_ok(Kind::Alert, input, &alert);
        for pointer in ["/createdDateTime", "/comments/0/createdDateTime", "/evidence/0/processCreationDateTime"] {
            assert_eq!(output.pointer(pointer), Some(&json!(written)), "{input} at {pointer}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals name the property

#[test]
fn a_wrong_enum_member_is_refused_naming_the_property() {
    let alert = fixture("alert-full.json");
    for (pointer, enum_name) in [
        ("/severity", "alertSeverity"),
        ("/status", "alertStatus"),
        ("/investigationState", "investigationState"),
        ("/evidence/0/verdict", "evidenceVerdict"),
        ("/evidence/0/vmMetadata/cloudProvider", "vmCloudProvider"),
        ("/evidence/5/detectionStatus", "detectionStatus"),
        ("/evidence/11/protocol", "protocolType"),
        ("/evidence/2/roles/0", "evidenceRole"),
    ] {
        let err = error_of(Kind::Alert, with(&alert, pointer, "severe"));
        assert_names(&err, pointer);
        assert!(err.message.contains(enum_name) && err.message.contains("severe"), "{}", err.message);
    }
    // The same from JSON text, the form the server reads.
    let text = serde_json::to_vec(&with(&alert, "/evidence/1/userAccount/resourceAccessEvents/0/accessDateTime", "x"))
        .unwrap();
    let err = Alert::from_json(&text).expect_err("bad timestamp in text");
    assert_names(&err, "/evidence/1/userAccount/resourceAccessEvents/0/accessDateTime");

    let incident = fixture("incident-full.json");
    for (pointer, enum_name) in [
        ("/status", "incidentStatus"),
        ("/severity", "alertSeverity"),
        ("/investigationStates/1", "investigationState"),
        ("/alerts/1/severity", "alertSeverity"),
        ("/alerts/0/evidence/2/verdict", "evidenceVerdict"),
    ] {
        let err = error_of(Kind::Incident, with(&incident, pointer, "severe"));
        assert_names(&err, pointer);
        assert!(err.message.contains(enum_name), "{}", err.message);
    }
}

#[test]
fn a_bad_timestamp_is_refused_naming_the_property() {
    let alert = fixture("alert-full.json");
    for pointer in [
        "/createdDateTime",
        "/lastUpdateDateTime",
        "/comments/1/createdDateTime",
        "/evidence/0/firstSeenDateTime",
        "/evidence/1/userAccount/resourceAccessEvents/0/accessDateTime",
        "/evidence/5/processCreationDateTime",
    ] {
        for bad in ["yesterday", "2024-13-01T00:00:00Z", "2024-05-01 12:00"] {
            let err = error_of(Kind::Alert, with(&alert, pointer, bad));
            assert_names(&err, pointer);
            assert!(err.message.contains(bad), "{}", err.message);
        }
    }
    let incident = fixture("incident-full.json");
    for pointer in
        ["/createdDateTime", "/lastUpdateDateTime", "/comments/0/createdDateTime", "/alerts/1/lastUpdateDateTime"]
    {
        let err = error_of(Kind::Incident, with(&incident, pointer, "yesterday"));
        assert_names(&err, pointer);
    }
}

#[test]
fn a_missing_required_property_is_refused_naming_it() {
    let alert = fixture("alert-full.json");
    for property in ["title", "severity", "serviceSource"] {
        let mut doc = alert.clone();
        doc.as_object_mut().unwrap().remove(property);
        let err = error_of(Kind::Alert, doc);
        assert!(err.message.contains(property), "{property}: {}", err.message);
        assert!(err.path.is_empty(), "a missing property is the document's fault: '{}'", err.path);
        // null is no better than absent.
        let err = error_of(Kind::Alert, json!({ property: null }).merge(&alert));
        assert_names(&err, &format!("/{property}"));
    }
    let incident = fixture("incident-full.json");
    for property in ["id", "createdDateTime", "lastUpdateDateTime", "severity", "status"] {
        let mut doc = incident.clone();
        doc.as_object_mut().unwrap().remove(property);
        let err = error_of(Kind::Incident, doc);
        assert!(err.message.contains(property), "{property}: {}", err.message);
    }
    let mut doc = incident.clone();
    doc["alerts"][1].as_object_mut().unwrap().remove("title");
    let err = error_of(Kind::Incident, doc);
    assert!(err.path.starts_with("alerts[1]") && err.message.contains("title"), "{}: {}", err.path, err.message);
    // A comment needs its text and time (1.5: createdDateTime is not nullable).
    let mut doc = alert.clone();
    doc["comments"][0].as_object_mut().unwrap().remove("createdDateTime");
    let err = error_of(Kind::Alert, doc);
    assert!(err.message.contains("comments[0]") && err.message.contains("createdDateTime"), "{}", err.message);
}

#[test]
fn a_wrongly_typed_value_is_refused_naming_the_property() {
    let alert = fixture("alert-full.json");
    for (pointer, value) in [
        ("/title", json!(42)),
        ("/categories", json!("DefenseEvasion")),
        ("/evidence/0/osBuild", json!("22424")),
        ("/evidence/0/rbacGroupId", json!(3_000_000_000_i64)),
        ("/evidence/4/fileDetails/fileSize", json!("big")),
        ("/evidence/11/destinationPort", json!("https")),
    ] {
        let mut doc = alert.clone();
        *doc.pointer_mut(pointer).unwrap() = value;
        let err = error_of(Kind::Alert, doc);
        assert_names(&err, pointer);
    }
}
