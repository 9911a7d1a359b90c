//! "Equivalent JSON", the yardstick of the round-trip tests.
//!
//! Two Graph documents are equivalent when, after both are normalised, they are equal:
//!
//! * Normalising drops, at every depth, properties whose value is `null`, `[]` or `{}` (after their
//!   own contents were normalised), because Graph treats an absent property, a null and an empty
//!   collection alike and the model does not write empty ones.
//! * It drops OData annotations (`@odata.context`, `@odata.etag`, `prop@odata.type`, ...), which the
//!   model accepts and does not keep, except `@odata.type` on an item of an `evidence` array: that one
//!   says which evidence type the item is and must survive.
//! * Timestamps (string properties whose name ends in `DateTime`, Graph's naming rule) are equal when
//!   they are the same instant, so `...:06.087Z` equals `...:06.0870000Z` and `+02:00` equals the UTC
//!   time. The model always writes UTC with seven fractional digits or none; [`assert_equivalent`]
//!   checks that form on the output side too.
//! * Numbers are equal when they have the same value (JSON has one number type: `47` equals `47.0`).
//! * Everything else is exact: the same property names, strings, booleans, and arrays of the same
//!   length with equivalent items in the same order. Object key order does not matter.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod reference;

use chrono::DateTime;
use serde_json::{Map, Value};

/// Whether a property name is an OData annotation.
fn is_annotation(key: &str) -> bool {
    key.starts_with('@') || key.contains("@odata.")
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Normalises a document as described in the module documentation.
pub fn normalise(value: &Value) -> Value {
    normalise_at(value, false)
}

fn normalise_at(value: &Value, is_evidence_item: bool) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let keep_annotation = is_evidence_item && key == "@odata.type";
                if is_annotation(key) && !keep_annotation {
                    continue;
                }
                let item = match (key.as_str(), item) {
                    ("evidence", Value::Array(items)) => {
                        Value::Array(items.iter().map(|i| normalise_at(i, true)).collect())
                    }
                    _ => normalise_at(item, false),
                };
                if !is_empty(&item) {
                    out.insert(key.clone(), item);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| normalise_at(i, false)).collect()),
        other => other.clone(),
    }
}

/// Whether a string is a timestamp in the form the model writes: UTC, `Z`, 0 or 7 fractional digits.
pub fn is_graph_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let head = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    head && (&text[19..] == "Z" || (b.len() == 28 && b[19] == b'.' && digits(20..27) && b[27] == b'Z'))
}

fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a.as_f64().is_some() && a.as_f64() == b.as_f64(),
    }
}

/// Lists the differences between two normalised documents, one line per difference, with the path.
pub fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("", "", expected, actual, &mut out);
    out
}

fn diff(path: &str, key: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    let at = if path.is_empty() { "(document)" } else { path };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match a.get(k) {
                    Some(av) => diff(&sub, k, ev, av, out),
                    None => out.push(format!("{sub}: missing from the output (input {ev})")),
                }
            }
            for (k, av) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                out.push(format!("{sub}: not in the input, output has {av}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{at}: {} items in the input, {} in the output", e.len(), a.len()));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), key, ev, av, out);
            }
        }
        (Value::String(e), Value::String(a)) if key.ends_with("DateTime") => {
            match (DateTime::parse_from_rfc3339(e), DateTime::parse_from_rfc3339(a)) {
                (Ok(te), Ok(ta)) if te == ta => {}
                (Ok(_), Ok(_)) => out.push(format!("{at}: instant {e} became {a}")),
                _ if e == a => {}
                _ => out.push(format!("{at}: {e:?} became {a:?} (not both RFC 3339 timestamps)")),
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if !same_number(e, a) {
                out.push(format!("{at}: {e} became {a}"));
            }
        }
        (e, a) => {
            if e != a {
                out.push(format!("{at}: {e} became {a}"));
            }
        }
    }
}

/// Timestamps in `output` (properties named `*DateTime`) not in the model's written form.
/// `opaque(key, value)` says which properties the model keeps verbatim rather than writes itself.
pub fn badly_written_timestamps(output: &Value, opaque: &dyn Fn(&str, &Value) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    walk_timestamps("", output, opaque, &mut out);
    out
}

fn walk_timestamps(path: &str, value: &Value, opaque: &dyn Fn(&str, &Value) -> bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if opaque(k, v) {
                    continue;
                }
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match v {
                    Value::String(s) if k.ends_with("DateTime") && !is_graph_timestamp(s) => {
                        out.push(format!("{sub}: {s}"))
                    }
                    _ => walk_timestamps(&sub, v, opaque, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                if opaque("", v) {
                    continue;
                }
                walk_timestamps(&format!("{path}[{i}]"), v, opaque, out);
            }
        }
        _ => {}
    }
}

/// Fails, listing every difference, unless `input` and `output` are equivalent.
pub fn assert_equivalent(what: &str, input: &Value, output: &Value) {
    let diffs = differences(&normalise(input), &normalise(output));
    assert!(
        diffs.is_empty(),
        "{what}: output is not equivalent to the input:\n  {}\noutput: {}",
        diffs.join("\n  "),
        serde_json::to_string_pretty(output).unwrap_or_default()
    );
}
