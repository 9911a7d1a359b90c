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
    let path = path.to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = inner.to_string();
    // serde names the missing field itself; elsewhere put the path in front.
    let message = if path.is_empty() { inner } else { format!("{path}: {inner}") };
    FieldError { path, message }
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
