//! Graph JSON → model → Graph JSON.
//!
//! The fixtures in `tests/fixtures/` are written from the tables of the Graph security reference
//! (sections 1.2–1.6): every incident and alert property, Muster's incident roll-ups, and every
//! evidence type the model implements with every field filled in, plus evidence types it does not
//! implement. Each must deserialise into the model and serialise back to *equivalent* JSON, as
//! defined in `common/mod.rs`. Enum members are exercised by generated cases that iterate
//! `GraphEnum::ALL`, checked first against the reference's member lists.

mod common;

#[path = "roundtrip/documents.rs"]
mod documents;
#[path = "roundtrip/enums.rs"]
mod enums;
#[path = "roundtrip/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use common::reference::*;
use common::{assert_equivalent, badly_written_timestamps, differences, normalise};
use muster_core::assessment::determinations_for;
use muster_core::enums::*;
use muster_core::evidence::{Evidence, FileDetails, IpEvidence, UserAccount};
use muster_core::json::FieldError;
use muster_core::source::{DetectionSource, ServiceSource};
use muster_core::{Alert, GraphEnum, Incident};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Helpers

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Alert,
    Incident,
}

/// Deserialises into the model and serialises back.
fn round_trip(kind: Kind, input: &Value) -> Result<Value, FieldError> {
    let out = match kind {
        Kind::Alert => serde_json::to_value(Alert::from_json_value(input.clone())?),
        Kind::Incident => serde_json::to_value(Incident::from_json_value(input.clone())?),
    };
    Ok(out.expect("the model serialises"))
}

fn round_trip_ok(kind: Kind, what: &str, input: &Value) -> Value {
    round_trip(kind, input).unwrap_or_else(|e| panic!("{what}: refused at '{}': {}", e.path, e.message))
}

fn error_of(kind: Kind, input: Value) -> FieldError {
    match round_trip(kind, &input) {
        Ok(out) => panic!("accepted but should not be: {out}"),
        Err(e) => e,
    }
}

/// The evidence types the model implements, by their Graph names.
const MODELLED_EVIDENCE: &[&str] = &[
    "deviceEvidence",
    "userEvidence",
    "mailboxEvidence",
    "ipEvidence",
    "fileEvidence",
    "processEvidence",
    "urlEvidence",
    "cloudApplicationEvidence",
    "analyzedMessageEvidence",
    "registryKeyEvidence",
    "registryValueEvidence",
    "networkConnectionEvidence",
    "dnsEvidence",
    "fileHashEvidence",
];

fn evidence_type(item: &Value) -> Option<&str> {
    item.get("@odata.type")?.as_str()?.strip_prefix("#microsoft.graph.security.")
}

/// Properties the model keeps verbatim instead of writing them: open dictionaries and evidence of
/// types it does not implement. Their timestamps are the sender's, not the model's.
fn kept_verbatim(key: &str, value: &Value) -> bool {
    matches!(key, "additionalData" | "customDetails")
        || evidence_type(value).is_some_and(|t| !MODELLED_EVIDENCE.contains(&t))
}

/// The path serde_path_to_error writes for a JSON pointer (`/evidence/0/roles/0` → `evidence[0].roles[0]`).
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.trim_start_matches('/').split('/') {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Puts `member` at `pointer` in `template`, adding the last property if the template lacks it.
fn with(template: &Value, pointer: &str, member: &str) -> Value {
    let mut doc = template.clone();
    let (parent, last) = pointer.rsplit_once('/').expect("a JSON pointer");
    let holder = doc.pointer_mut(parent).unwrap_or_else(|| panic!("{parent} not in the template"));
    match holder {
        Value::Object(map) => {
            map.insert(last.to_owned(), json!(member));
        }
        Value::Array(items) => items[last.parse::<usize>().expect("an index")] = json!(member),
        _ => panic!("{parent} holds no properties"),
    }
    doc
}

/// Checks a refusal names the property: its path is the property's, and the message starts with it.
fn assert_names(err: &FieldError, pointer: &str) {
    let path = field_path(pointer);
    assert!(
        err.path == path && err.message.starts_with(&format!("{path}: ")),
        "error should name {path}: path '{}', message '{}'",
        err.path,
        err.message
    );
}

fn alert_template() -> Value {
    fixture("alert-minimal.json")
}

fn incident_template() -> Value {
    fixture("incident-minimal.json")
}

/// An alert with one evidence item of `ty` holding `fields` (the base properties filled in).
fn alert_with_evidence(ty: &str, fields: Value) -> Value {
    let mut item = json!({
        "@odata.type": format!("#microsoft.graph.security.{ty}"),
        "createdDateTime": "2024-05-01T12:00:00Z",
        "remediationStatus": "none",
        "roles": ["contextual"],
        "verdict": "unknown"
    });
    item.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    let mut alert = alert_template();
    alert["evidence"] = json!([item]);
    alert
}

/// `a.merge(b)`: `b` with `a`'s properties added; keeps the generated cases short.
trait Merge {
    fn merge(self, base: &Value) -> Value;
}

impl Merge for Value {
    fn merge(self, base: &Value) -> Value {
        let mut out = base.clone();
        out.as_object_mut().unwrap().extend(self.as_object().unwrap().clone());
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The yardstick

#[test]
fn equivalence_is_what_it_says() {
    let input = json!({
        "@odata.context": "x", "a": null, "b": [], "c": {}, "d": {"e": null, "f": []},
        "n": 47, "createdDateTime": "2024-01-01T12:00:00+02:00",
        "evidence": [{"@odata.type": "#microsoft.graph.security.urlEvidence", "x@odata.type": "y"}]
    });
    let output = json!({
        "n": 47.0, "createdDateTime": "2024-01-01T10:00:00.0000000Z",
        "evidence": [{"@odata.type": "#microsoft.graph.security.urlEvidence"}]
    });
    assert_eq!(differences(&normalise(&input), &normalise(&output)), Vec::<String>::new());

    let cases = [
        (json!({"title": "a"}), json!({"title": "A"})),
        (json!({"n": 1}), json!({"n": 2})),
        (json!({"t": ["a", "b"]}), json!({"t": ["b", "a"]})),
        (json!({"createdDateTime": "2024-01-01T10:00:00Z"}), json!({"createdDateTime": "2024-01-01T10:00:01Z"})),
        (json!({"title": "2024-01-01T10:00:00Z"}), json!({"title": "2024-01-01T10:00:00.0000000Z"})),
        (json!({"evidence": [{"@odata.type": "#x"}]}), json!({"evidence": [{}]})),
        (json!({"x": 0}), json!({})),
        (json!({}), json!({"x": false})),
    ];
    for (a, b) in cases {
        assert!(!differences(&normalise(&a), &normalise(&b)).is_empty(), "{a} should differ from {b}");
    }
    assert!(common::is_graph_timestamp("2021-08-13T08:43:35.5533333Z"));
    assert!(common::is_graph_timestamp("2021-08-13T08:43:35Z"));
    assert!(!common::is_graph_timestamp("2021-08-13T08:43:35.553Z"));
    assert!(!common::is_graph_timestamp("2021-08-13T08:43:35+00:00"));
}
