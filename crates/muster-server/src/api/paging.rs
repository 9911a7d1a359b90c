//! The Graph collection envelope for the read endpoints: `$top`, `$select`, `@odata.count`, and
//! absolute next links that repeat the request and carry a keyset `$skiptoken` (see
//! [`super::query::token`]), so reading a million records is linear and stable while alerts keep
//! arriving.

use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::query::ListOptions;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// `$top` as a page size: refused above `max` when `strict` (incidents, as Graph does), clamped
/// otherwise (alerts).
pub fn page_size(top: Option<&str>, default: u32, max: u32, strict: bool) -> Result<u32, ApiError> {
    let Some(raw) = top else { return Ok(default) };
    let value: i64 = raw
        .trim()
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, format!("$top must be a whole number, not '{raw}'.")))?;
    if value < 0 {
        return Err(ApiError::new(ErrorCode::InvalidRequest, format!("$top must not be negative, got {value}.")));
    }
    if value > i64::from(max) {
        if strict {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "The query specified in the URI is not valid. The limit of '{max}' for Top query has been exceeded. The value from the incoming request is '{value}'."
                ),
            ));
        }
        return Ok(max);
    }
    Ok(value.max(1) as u32)
}

/// Reads a simple `$skiptoken` (endpoints with one fixed order, such as entity search): the keyset
/// position (activity µs, tie-break) a next link continues after.
pub fn decode_skiptoken(token: Option<&str>) -> Result<Option<(i64, i64)>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    let invalid = || ApiError::new(ErrorCode::InvalidRequest, "The $skiptoken is not one this server issued.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once('|').ok_or_else(invalid)?;
    Ok(Some((at.parse().map_err(|_| invalid())?, id.parse().map_err(|_| invalid())?)))
}

pub fn encode_skiptoken(at: i64, id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{at}|{id}"))
}

/// Keeps only the selected properties (and `id`, as Graph does).
pub fn project(mut item: Map<String, Value>, select: Option<&[String]>) -> Map<String, Value> {
    if let Some(names) = select {
        item.retain(|k, _| k == "id" || k.starts_with("@odata") || names.iter().any(|n| n == k));
    }
    item
}

/// The absolute base URL of this server as the client reached it.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = state.config.public_url.as_deref() {
        return public.trim_end_matches('/').to_owned();
    }
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// A next link: the same request (without `$skip`, which the token already accounts for),
/// continued at `token`.
pub fn next_link(base: &str, path: &str, options: &ListOptions, top: u32, token: &str) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    let kept = [
        ("$filter", &options.filter),
        ("$orderby", &options.orderby),
        ("$search", &options.search),
        ("$select", &options.select),
        ("$expand", &options.expand),
        ("$count", &options.count),
    ];
    for (name, value) in kept {
        if let Some(value) = value {
            params.append_pair(name, value);
        }
    }
    params.append_pair("$top", &top.to_string());
    params.append_pair("$skiptoken", token);
    format!("{base}{path}?{}", params.finish())
}

/// The Graph collection envelope: `@odata.context` for `entity_set`, `@odata.count` when asked
/// for, the items, and a next link.
pub fn collection(base: &str, entity_set: &str, items: Vec<Value>, count: Option<u64>, next: Option<String>) -> Value {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(format!("{base}/v1.0/$metadata#{entity_set}")));
    if let Some(count) = count {
        body.insert("@odata.count".into(), Value::from(count));
    }
    if let Some(next) = next {
        body.insert("@odata.nextLink".into(), Value::String(next));
    }
    body.insert("value".into(), Value::Array(items));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_is_refused_or_clamped() {
        assert_eq!(page_size(None, 50, 50, true).unwrap(), 50);
        assert_eq!(page_size(Some("10"), 50, 50, true).unwrap(), 10);
        assert!(page_size(Some("100"), 50, 50, true).unwrap_err().to_string().contains("limit of '50'"));
        assert_eq!(page_size(Some("5000"), 100, 1000, false).unwrap(), 1000);
        assert!(page_size(Some("-1"), 50, 50, true).is_err());
        assert!(page_size(Some("ten"), 50, 50, true).is_err());
    }

    #[test]
    fn simple_skiptokens_round_trip_and_refuse_forgeries() {
        let token = encode_skiptoken(1_700_000_000_000_000, 42);
        assert_eq!(decode_skiptoken(Some(&token)).unwrap(), Some((1_700_000_000_000_000, 42)));
        assert!(decode_skiptoken(Some("!!")).is_err());
        assert!(decode_skiptoken(Some("bm9waXBl")).is_err());
    }

    #[test]
    fn next_links_keep_the_request_and_drop_skip() {
        let options = ListOptions {
            filter: Some("status eq 'active'".into()),
            skip: Some("5".into()),
            count: Some("true".into()),
            ..ListOptions::default()
        };
        let link = next_link("http://h", "/v1.0/security/incidents", &options, 10, "abc");
        assert_eq!(
            link,
            "http://h/v1.0/security/incidents?%24filter=status+eq+%27active%27&%24count=true&%24top=10&%24skiptoken=abc"
        );
    }
}
