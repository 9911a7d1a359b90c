//! `$skiptoken`: where the next page starts, as the sort-key values of the last row sent, tagged
//! with the order they belong to. Opaque to clients (URL-safe base64 of a small JSON array).

use base64::Engine as _;
use muster_core::store::query::{Cursor, Query, QueryField, Value};

use crate::error::ApiError;

/// FNV-1a of the order's keys: a token from one order is refused under another.
fn fingerprint<F: QueryField>(query: &Query<F>) -> u64 {
    let text = format!("{:?}", query.sort_keys());
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

pub(crate) fn encode<F: QueryField>(query: &Query<F>, cursor: &Cursor) -> String {
    let mut items = vec![serde_json::Value::from(fingerprint(query).to_string())];
    items.extend(cursor.0.iter().map(|v| match v {
        Value::Int(n) => serde_json::Value::from(*n),
        Value::Text(t) => serde_json::Value::from(t.as_str()),
    }));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::Value::Array(items).to_string())
}

/// The cursor in a token this server issued for the same order.
pub(crate) fn decode<F: QueryField>(query: &Query<F>, token: &str) -> Result<Cursor, ApiError> {
    let invalid =
        || ApiError::invalid_request("The $skiptoken is not one this server issued.").with_target("$skiptoken");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
    let items: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let (tag, values) = items.split_first().ok_or_else(invalid)?;
    if tag.as_str() != Some(fingerprint(query).to_string().as_str()) {
        return Err(
            ApiError::invalid_request("The $skiptoken belongs to a different $orderby.").with_target("$skiptoken")
        );
    }
    let values = values
        .iter()
        .map(|v| match v {
            serde_json::Value::Number(n) => n.as_i64().map(Value::Int),
            serde_json::Value::String(s) => Some(Value::Text(s.clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid)?;
    let cursor = Cursor(values);
    if !query.cursor_fits(&cursor) {
        return Err(invalid());
    }
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use muster_core::store::query::{IncidentField, IncidentQuery, OrderKey};

    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_forgeries_and_other_orders() {
        let query = IncidentQuery::default();
        let cursor = Cursor(vec![Value::Int(1_700_000_000_000_000), Value::Int(42)]);
        let token = encode(&query, &cursor);
        assert_eq!(decode(&query, &token).unwrap(), cursor);
        assert!(decode(&query, "!!").is_err());
        assert!(decode(&query, "bm9waXBl").is_err());
        let other = IncidentQuery {
            order: vec![OrderKey { field: IncidentField::Severity, descending: true }],
            ..IncidentQuery::default()
        };
        assert!(decode(&other, &token).unwrap_err().to_string().contains("different $orderby"));
    }
}
