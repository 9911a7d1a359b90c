//! Every member of every closed enum, in the place the model uses it.

use super::*;

/// The model's members of `E` match the reference, in CSDL order.
fn check_members<E: GraphEnum>() {
    let model: Vec<&str> = E::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(model, enum_members(E::NAME), "{} members differ from the reference", E::NAME);
}

/// Every settable member of `E` placed at `pointer` in `template` round-trips, in any letter case,
/// and comes out in the CSDL spelling; `unknownFutureValue` and a stranger are refused, naming the place.
fn exercise<E: GraphEnum>(kind: Kind, template: &Value, pointer: &str) {
    check_members::<E>();
    let what = format!("{} at {pointer}", E::NAME);
    for member in E::ALL.iter().map(|m| m.as_str()).filter(|m| *m != "unknownFutureValue") {
        let input = with(template, pointer, member);
        let output = round_trip_ok(kind, &what, &input);
        assert_equivalent(&format!("{what} = {member}"), &input, &output);
        assert_eq!(output.pointer(pointer), Some(&json!(member)), "{what}");

        let shouted = with(template, pointer, &member.to_uppercase());
        let output = round_trip_ok(kind, &what, &shouted);
        assert_eq!(output.pointer(pointer), Some(&json!(member)), "{what} in upper case");
    }
    for bad in ["unknownFutureValue", "notAMember"] {
        let err = error_of(kind, with(template, pointer, bad));
        assert_names(&err, pointer);
        assert!(err.message.contains(E::NAME), "{what}: message should name the enum: {}", err.message);
    }
}

#[test]
fn every_member_of_every_closed_enum_round_trips() {
    let (alert, incident) = (alert_template(), incident_template());
    exercise::<IncidentStatus>(Kind::Incident, &incident, "/status");
    exercise::<AlertSeverity>(Kind::Incident, &incident, "/severity");
    let states = json!({"investigationStates": ["running"]}).merge(&incident);
    exercise::<InvestigationState>(Kind::Incident, &states, "/investigationStates/0");
    exercise::<AlertClassification>(Kind::Incident, &incident, "/classification");

    exercise::<AlertStatus>(Kind::Alert, &alert, "/status");
    exercise::<AlertSeverity>(Kind::Alert, &alert, "/severity");
    exercise::<AlertClassification>(Kind::Alert, &alert, "/classification");
    let state = json!({"investigationState": "running"}).merge(&alert);
    exercise::<InvestigationState>(Kind::Alert, &state, "/investigationState");

    let url = alert_with_evidence("urlEvidence", json!({"url": "https://example.net/"}));
    exercise::<EvidenceRole>(Kind::Alert, &url, "/evidence/0/roles/0");
    exercise::<EvidenceVerdict>(Kind::Alert, &url, "/evidence/0/verdict");
    exercise::<EvidenceRemediationStatus>(Kind::Alert, &url, "/evidence/0/remediationStatus");

    let device = alert_with_evidence(
        "deviceEvidence",
        json!({
            "hostName": "ws-01", "defenderAvStatus": "updated", "healthStatus": "active", "riskScore": "none",
            "onboardingStatus": "onboarded", "vmMetadata": {"cloudProvider": "azure", "vmId": "vm-1"}
        }),
    );
    exercise::<DefenderAvStatus>(Kind::Alert, &device, "/evidence/0/defenderAvStatus");
    exercise::<DeviceHealthStatus>(Kind::Alert, &device, "/evidence/0/healthStatus");
    exercise::<DeviceRiskScore>(Kind::Alert, &device, "/evidence/0/riskScore");
    exercise::<OnboardingStatus>(Kind::Alert, &device, "/evidence/0/onboardingStatus");
    exercise::<VmCloudProvider>(Kind::Alert, &device, "/evidence/0/vmMetadata/cloudProvider");

    let file = alert_with_evidence(
        "fileEvidence",
        json!({"detectionStatus": "detected", "fileDetails": {"fileName": "a.exe"}}),
    );
    exercise::<DetectionStatus>(Kind::Alert, &file, "/evidence/0/detectionStatus");
    let process = alert_with_evidence("processEvidence", json!({"detectionStatus": "detected", "processId": 4}));
    exercise::<DetectionStatus>(Kind::Alert, &process, "/evidence/0/detectionStatus");
    let hash = alert_with_evidence("fileHashEvidence", json!({"algorithm": "md5", "value": "00"}));
    exercise::<FileHashAlgorithm>(Kind::Alert, &hash, "/evidence/0/algorithm");
    let connection =
        alert_with_evidence("networkConnectionEvidence", json!({"protocol": "tcp", "destinationPort": 53}));
    exercise::<ProtocolType>(Kind::Alert, &connection, "/evidence/0/protocol");

    // Used only by evidence types the model keeps opaque: the enum itself still reads and writes.
    check_members::<ServicePrincipalType>();
    check_members::<MailboxConfigurationType>();
    for m in ServicePrincipalType::ALL.iter().filter(|m| m.as_str() != "unknownFutureValue") {
        assert_eq!(serde_json::from_value::<ServicePrincipalType>(json!(m.as_str())).unwrap(), *m);
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
    }
    for m in MailboxConfigurationType::ALL.iter().filter(|m| m.as_str() != "unknownFutureValue") {
        assert_eq!(serde_json::from_value::<MailboxConfigurationType>(json!(m.as_str())).unwrap(), *m);
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
    }
}

#[test]
fn every_fitting_classification_and_determination_pair_round_trips() {
    check_members::<AlertDetermination>();
    let alert = alert_template();
    let mut covered = Vec::new();
    for c in AlertClassification::ALL.iter().filter(|c| c.as_str() != "unknownFutureValue") {
        let mut fitting = determinations_for(*c).to_vec();
        fitting.push(AlertDetermination::Unknown);
        for d in fitting {
            let input = json!({"classification": c.as_str(), "determination": d.as_str()}).merge(&alert);
            let output = round_trip_ok(Kind::Alert, &format!("{c}/{d}"), &input);
            assert_equivalent(&format!("{c}/{d}"), &input, &output);
            covered.push(d);

            let incident =
                json!({"classification": c.as_str(), "determination": d.as_str()}).merge(&incident_template());
            let output = round_trip_ok(Kind::Incident, &format!("incident {c}/{d}"), &incident);
            assert_equivalent(&format!("incident {c}/{d}"), &incident, &output);
        }
        // A determination that does not fit is refused, and the message says which ones do.
        let misfit = AlertDetermination::ALL
            .iter()
            .find(|d| {
                !matches!(
                    d,
                    AlertDetermination::Unknown | AlertDetermination::Apt | AlertDetermination::SecurityPersonnel
                ) && !determinations_for(*c).contains(d)
            })
            .expect("some determination does not fit");
        let err = error_of(
            Kind::Alert,
            json!({"classification": c.as_str(), "determination": misfit.as_str()}).merge(&alert),
        );
        assert!(err.message.contains("determination") && err.message.contains(misfit.as_str()), "{}", err.message);
    }
    // `apt` and `securityPersonnel` are no longer offered (deprecated in 2022, reference 1.4), but
    // older alerts carry them: they are read under the classification they belonged to, and
    // refused under any other.
    let unpaired: Vec<&str> = AlertDetermination::ALL
        .iter()
        .filter(|d| d.as_str() != "unknownFutureValue" && !covered.contains(d))
        .map(|d| d.as_str())
        .collect();
    assert_eq!(unpaired, ["apt", "securityPersonnel"]);
    for (d, home) in [("apt", "truePositive"), ("securityPersonnel", "informationalExpectedActivity")] {
        let parsed: AlertDetermination = serde_json::from_value(json!(d)).expect("still a member");
        assert_eq!(serde_json::to_value(parsed).unwrap(), json!(d));
        let doc = json!({"classification": home, "determination": d}).merge(&alert);
        let read = Alert::from_json_value(doc.clone()).expect("legacy pair reads");
        assert_equivalent(&format!("legacy {home}/{d}"), &doc, &serde_json::to_value(&read).unwrap());
        for c in ["truePositive", "informationalExpectedActivity", "falsePositive"].into_iter().filter(|c| *c != home) {
            let err = error_of(Kind::Alert, json!({"classification": c, "determination": d}).merge(&alert));
            assert!(err.message.contains(d), "{}", err.message);
        }
    }
    // A determination without a classification is refused too.
    let err = error_of(Kind::Alert, json!({"determination": "malware"}).merge(&alert));
    assert!(err.message.contains("classification"), "{}", err.message);
}

#[test]
fn every_graph_service_and_detection_source_round_trips() {
    assert_eq!(ServiceSource::MEMBERS, enum_members("serviceSource"));
    assert_eq!(DetectionSource::MEMBERS, enum_members("detectionSource"));
    let alert = json!({"detectionSource": "x"}).merge(&alert_template());
    for (pointer, members) in
        [("/serviceSource", ServiceSource::MEMBERS), ("/detectionSource", DetectionSource::MEMBERS)]
    {
        for member in members.iter().filter(|m| **m != "unknownFutureValue") {
            let input = with(&alert, pointer, member);
            let output = round_trip_ok(Kind::Alert, member, &input);
            assert_equivalent(&format!("{pointer} = {member}"), &input, &output);
            let output = round_trip_ok(Kind::Alert, member, &with(&alert, pointer, &member.to_lowercase()));
            assert_eq!(output.pointer(pointer), Some(&json!(member)), "{pointer} in lower case");
        }
        // Open enums: a tool's own name is kept (lower-cased), nonsense and the placeholder are refused.
        let output = round_trip_ok(Kind::Alert, "tool", &with(&alert, pointer, "Suricata"));
        assert_eq!(output.pointer(pointer), Some(&json!("suricata")));
        for bad in ["unknownFutureValue", "two words"] {
            let err = error_of(Kind::Alert, with(&alert, pointer, bad));
            assert_names(&err, pointer);
        }
    }
}
