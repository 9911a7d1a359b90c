use muster_core::enums::{AlertSeverity, GraphEnum};
use muster_core::store::query::{AlertField, Comparison, FacetValues, Filter, IncidentField, Value};
use proptest::prelude::*;

use super::*;

fn filter(text: &str) -> Result<Filter<IncidentField>, String> {
    let options = ListOptions { filter: Some(text.into()), ..ListOptions::default() };
    selection::<IncidentField>(&options).map(|q| q.filter).map_err(|e| e.to_string())
}

const LIMITS: PageLimits = PageLimits { default: 50, max: 50, strict: true };

#[test]
fn enums_compare_by_rank_and_refuse_unknown_members() {
    let high = Value::Int(AlertSeverity::High.rank());
    assert_eq!(
        filter("severity eq 'High'").unwrap(),
        Filter::Compare { field: IncidentField::Severity, op: Comparison::Eq, value: high }
    );
    // Stored by spelling: an ordered comparison becomes the members above the rank.
    let Filter::In { values, .. } = filter("status gt 'inProgress'").unwrap() else { panic!() };
    assert_eq!(values, vec![Value::Text("redirected".into()), Value::Text("awaitingAction".into())]);
    assert!(filter("severity eq 'catastrophic'").unwrap_err().contains("not a member of alertSeverity"));
    assert!(filter("severity eq microsoft.graph.security.incidentStatus'active'")
        .unwrap_err()
        .contains("of type alertSeverity"));
}

#[test]
fn literals_must_fit_their_property() {
    assert!(filter("alertCount gt 'many'").unwrap_err().contains("a whole number"));
    assert!(filter("createdDateTime ge 'yesterday'").unwrap_err().contains("DateTimeOffset"));
    assert!(filter("displayName eq 3").unwrap_err().contains("a string"));
    assert!(filter("id eq 'abc'").unwrap_err().contains("ids are numbers"));
    assert!(filter("severity gt null").unwrap_err().contains("null can only"));
    assert!(filter("createdDateTime ge 2024-05-01").is_ok());
    assert!(filter("createdDateTime ge '2024-05-01T00:00:00Z'").is_ok());
}

#[test]
fn unknown_and_unsupported_are_named() {
    assert!(filter("colour eq 'red'").unwrap_err().contains("property named 'colour'"));
    assert!(filter("customTags eq 'x'").unwrap_err().contains("customTags/any("));
    assert!(filter("tolower(displayName) eq 'x'").unwrap_err().contains("'tolower' is not supported"));
    assert!(filter("status eq severity").unwrap_err().contains("two properties"));
    assert!(filter("customTags/any(t: t eq 'a' and t eq 'b')").unwrap_err().contains("Inside customTags/any()"));
    assert!(filter("status").unwrap_err().contains("not a condition"));
    assert!(filter("evidence/any(e: e eq 'x')").unwrap_err().contains("property named 'evidence'"));
    let many = vec!["alertCount eq 1"; super::filter::MAX_CONDITIONS + 1].join(" or ");
    assert!(filter(&many).unwrap_err().contains("conditions"));
}

#[test]
fn lambdas_become_facet_sets() {
    let Filter::Facet { values, .. } = filter("customTags/any(t: t eq 'a' or t in ('b', 'c'))").unwrap() else {
        panic!()
    };
    assert_eq!(values, FacetValues::In(vec!["a".into(), "b".into(), "c".into()]));
    let Filter::Not(inner) = filter("customTags/all(t: t eq 'a')").unwrap() else { panic!() };
    assert!(matches!(*inner, Filter::Facet { values: FacetValues::NotIn(_), .. }));
    assert!(matches!(
        filter("investigationStates/any(s: s eq 'Running')").unwrap(),
        Filter::Facet { values: FacetValues::In(ref v), .. } if v == &["running".to_owned()]
    ));
    assert!(filter("investigationStates/any(s: s eq 'sleeping')").is_err());
    assert!(matches!(
        filter("serviceSources/$count gt 1").unwrap(),
        Filter::Compare { field: IncidentField::ServiceSourceCount, .. }
    ));
}

#[test]
fn list_options_are_checked() {
    let request =
        |options: ListOptions| list_request::<IncidentField>(&options, LIMITS, &["id", "severity"], &["alerts"]);
    let ok = request(ListOptions {
        orderby: Some("severity desc, id".into()),
        top: Some("10".into()),
        skip: Some("5".into()),
        count: Some("true".into()),
        select: Some("severity".into()),
        expand: Some("alerts".into()),
        ..ListOptions::default()
    })
    .unwrap();
    assert_eq!((ok.query.top, ok.query.skip, ok.count, ok.query.order.len()), (10, 5, true, 2));
    let err = |options: ListOptions| request(options).unwrap_err().to_string();
    assert!(err(ListOptions { top: Some("-1".into()), ..Default::default() }).contains("negative"));
    assert!(err(ListOptions { top: Some("51".into()), ..Default::default() }).contains("limit of '50'"));
    assert!(err(ListOptions { orderby: Some("customTags".into()), ..Default::default() }).contains("collection"));
    assert!(err(ListOptions { orderby: Some("colour".into()), ..Default::default() }).contains("'colour'"));
    assert!(err(ListOptions { expand: Some("comments".into()), ..Default::default() }).contains("navigation property"));
    assert!(err(ListOptions { select: Some("colour".into()), ..Default::default() }).contains("to select"));
    assert!(err(ListOptions { count: Some("yes".into()), ..Default::default() }).contains("$count"));
    assert!(err(ListOptions { skiptoken: Some("garbage".into()), ..Default::default() }).contains("$skiptoken"));
    let alerts = list_request::<AlertField>(
        &ListOptions { top: Some("5000".into()), ..Default::default() },
        PageLimits { default: 100, max: 1000, strict: false },
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(alerts.query.top, 1000);
}

proptest! {
    /// Whatever a client sends, the translator answers with a query or an error, never a panic.
    #[test]
    fn random_filters_never_panic(text in "[a-zA-Z ()',/:$0-9.-]{0,120}") {
        let _ = filter(&text);
        let _ = selection::<AlertField>(&ListOptions { filter: Some(text.clone()), search: Some(text.clone()), ..Default::default() });
    }

    #[test]
    fn filterish_input_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("severity"), Just("status"), Just("customTags/any(t: t eq 'x')"), Just(" eq "), Just(" gt "),
        Just(" and "), Just(" or "), Just("not "), Just("("), Just(")"), Just("'high'"), Just("null"),
        Just("2024-05-01T00:00:00Z"), Just(" in ('a', 'b')"), Just("contains(displayName, 'x')"), Just("3"),
    ], 0..30)) {
        let _ = filter(&parts.concat());
    }
}
