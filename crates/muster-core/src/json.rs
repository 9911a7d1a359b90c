//! JSON helpers shared by the model: errors that name the field, and dropping `@odata.*` annotations.

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON document that does not fit the model, with the path of the offending property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// The property's path, e.g. `evidence[0].createdDateTime`, or empty for the document itself.
    pub path: String,
    pub message: String,
}

fn field_error<E: std::fmt::Display>(path: &serde_path_to_error::Path, inner: E) -> FieldError {
    let outer = path.to_string();
    let outer = if outer == "." { String::new() } else { outer };
    let inner = inner.to_string();
    // A part read on its own (an evidence item) reports the rest of the path in its message.
    let (path, detail) = match split_nested(&inner) {
        Some((rest, detail)) if outer.is_empty() => (rest.to_owned(), detail.to_owned()),
        Some((rest, detail)) if rest.starts_with('[') => (format!("{outer}{rest}"), detail.to_owned()),
        Some((rest, detail)) => (format!("{outer}.{rest}"), detail.to_owned()),
        None => (outer, inner),
    };
    // serde names the missing field itself; elsewhere put the path in front.
    let message = if path.is_empty() { detail } else { format!("{path}: {detail}") };
    FieldError { path, message }
}

/// The message of an error raised below a point serde's path tracking cannot see past (a part of
/// the document read on its own, such as an evidence item once its `@odata.type` is known, or a
/// flattened pair): `"{path}: {inner}"`. [`from_value`] and [`from_slice`] move that path onto the
/// error's own path, so it names the whole way to the property.
pub(crate) fn nested_message(path: &str, inner: impl std::fmt::Display) -> String {
    if path.is_empty() || path == "." {
        inner.to_string()
    } else {
        format!("{path}: {inner}")
    }
}

/// Splits `"userAccount.resourceAccessEvents[0].accessDateTime: ..."` into path and detail. Only a
/// property path qualifies (no spaces), so serde's own `"invalid type: ..."` is left alone.
fn split_nested(message: &str) -> Option<(&str, &str)> {
    let (head, detail) = message.split_once(": ")?;
    let starts_well = head.starts_with(|c: char| c.is_ascii_alphabetic() || c == '[');
    let is_path = starts_well && head.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'));
    is_path.then_some((head, detail))
}

pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| field_error(e.path(), e.inner()))
}

pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, FieldError> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| field_error(e.path(), e.inner()))
}

/// Whether a property name is an OData annotation (`@odata.type`, `@odata.etag`, ...).
pub fn is_annotation(key: &str) -> bool {
    key.starts_with('@') || key.contains("@odata.")
}

/// Serialises a catch-all map without the annotations a client may have sent.
pub fn without_annotations<S: Serializer>(map: &Map<String, Value>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut out = s.serialize_map(None)?;
    for (k, v) in map.iter().filter(|(k, _)| !is_annotation(k)) {
        out.serialize_entry(k, v)?;
    }
    out.end()
}

/// Serialises any value to a JSON object map (the model types are all objects).
pub fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_join_the_outer_path() {
        let nested = split_nested("userAccount.events[0].at: bad");
        assert_eq!(nested, Some(("userAccount.events[0].at", "bad")));
        assert_eq!(split_nested("invalid type: string, expected i32"), None);
        assert_eq!(split_nested("'x' is not a valid alertSeverity; expected one of: high"), None);
        assert_eq!(nested_message(".", "bad"), "bad");

        let raw = serde_json::json!({"items": [{"inner": 1}]});
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)] // only ever refused
        struct Outer {
            items: Vec<Inner>,
        }
        #[derive(Debug)]
        struct Inner;
        impl<'de> serde::Deserialize<'de> for Inner {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let _ = Value::deserialize(d)?;
                Err(serde::de::Error::custom(nested_message("inner", "bad value")))
            }
        }
        let err = from_value::<Outer>(raw).unwrap_err();
        assert_eq!(err.path, "items[0].inner");
        assert_eq!(err.message, "items[0].inner: bad value");
    }
}
