//! `/openapi.json`: the OpenAPI 3.1 document of the API, generated from the route table (every
//! route, its method, its path parameters and the access it needs, exactly as the router and the
//! access check use them) and the resource property lists the handlers use. A test checks that
//! every route is documented and every documented operation is served.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use muster_core::manage::{ALERT_PROPERTIES, INCIDENT_NAVIGATION, INCIDENT_PROPERTIES, INCIDENT_SETTABLE};
use serde_json::{json, Map, Value};

use super::paging::base_url;
use crate::auth::{Access, RouteSpec, Routes};
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new().get("/openapi.json", Access::Public, document)
}

/// What each operation does, and the query options it takes, by method and path.
fn described(method: &str, path: &str) -> Option<(&'static str, &'static [&'static str])> {
    const LIST: &[&str] =
        &["$top", "$skip", "$filter", "$orderby", "$select", "$search", "$count", "$expand", "$skiptoken"];
    Some(match (method, path) {
        ("GET", "/healthz") => ("The process is alive", &[]),
        ("GET", "/readyz") => ("The database answers", &[]),
        ("GET", "/openapi.json") => ("This document", &[]),
        ("GET", "/login") => ("The sign-in page", &[]),
        ("POST", "/login") => ("Sign in (form post)", &[]),
        ("POST", "/logout") => ("Sign out", &[]),
        ("GET", "/") => ("The incident queue page", &[]),
        ("GET", "/static/muster.css") => ("The stylesheet", &[]),
        ("GET", "/static/htmx.min.js") => ("htmx, vendored", &[]),
        ("GET", "/static/muster.js") => ("The pages' script", &[]),
        ("GET", "/queue/incidents/{id}/alerts") => ("A queue row's alerts (page fragment)", &["span"]),
        ("GET", "/queue/incidents/{id}/preview") => ("A queue row's preview pane (page fragment)", &[]),
        ("POST", "/queue/columns") => ("Save the queue columns a person shows (form post)", &[]),
        ("POST", "/queue/bulk") => ("Change the selected incidents at once (form post)", &[]),
        ("GET", "/incidents/{id}") => (
            "The incident page; ?tab= summary, graph, alerts, assets, evidence or history",
            &["tab", "after", "kind", "before"],
        ),
        ("GET", "/incidents/{id}/header") => ("The incident page's header (fragment)", &[]),
        ("GET", "/incidents/{id}/history") => {
            ("The incident's comments and history log (fragment)", &["kind", "before"])
        }
        ("POST", "/incidents/{id}/comments") => ("Comment on an incident (form post)", &[]),
        ("GET", "/incidents/{id}/manage") => ("The manage pane: a fragment with HX-Request, else a page", &[]),
        ("POST", "/incidents/{id}/manage") => ("Save the manage pane (form post carrying the version it edits)", &[]),
        ("GET", "/incidents/{id}/manage/determinations") => {
            ("The determinations that fit a classification (fragment)", &["classification"])
        }
        ("POST", "/incidents/{id}/alerts/move") => ("Move the selected alerts (form post)", &[]),
        ("GET", "/incidents/{id}/suggest") => ("Incidents matching a name or id, as <option>s (fragment)", &["target"]),
        ("GET", "/live/new-incidents") => ("\"N new incidents — refresh\" for the queue (fragment)", &["since"]),
        ("GET", "/static/live.js") => ("The live-updates listener", &[]),
        ("GET", "/static/incident.css") => ("The incident page's stylesheet", &[]),
        ("GET", "/admin/tokens") => ("API tokens page (admin)", &[]),
        ("POST", "/admin/tokens") => ("Create an API token (admin form)", &[]),
        ("POST", "/admin/tokens/{id}/revoke") => ("Revoke an API token (admin form)", &[]),
        ("GET", "/v1.0/security/incidents") => ("List incidents, newest activity first", LIST),
        ("GET", "/v1.0/security/incidents/$count") => ("Count incidents", &["$filter", "$search"]),
        ("GET", "/v1.0/security/incidents/{id}") => ("Get an incident (with its ETag)", &["$select", "$expand"]),
        ("PATCH", "/v1.0/security/incidents/{id}") => ("Update an incident; If-Match guards against lost updates", &[]),
        ("GET", "/v1.0/security/incidents/{id}/alerts") => (
            "An incident's alerts",
            &["$top", "$skip", "$filter", "$orderby", "$select", "$search", "$count", "$skiptoken"],
        ),
        ("POST", "/v1.0/security/incidents/{id}/comments") => ("Comment on an incident", &[]),
        ("GET", "/v1.0/security/incidents/{id}/history") => {
            ("An incident's comments and history, newest first", &["kind", "actor", "$top", "before"])
        }
        ("POST", "/v1.0/security/incidents/mergeIncidents")
        | ("POST", "/v1.0/security/incidents/microsoft.graph.security.mergeIncidents") => {
            ("Merge 2 to 5 incidents into the oldest", &[])
        }
        ("GET", "/v1.0/security/alerts_v2") => ("List alerts, newest activity first", LIST),
        ("GET", "/v1.0/security/alerts_v2/$count") => ("Count alerts", &["$filter", "$search"]),
        ("POST", "/v1.0/security/alerts_v2") => ("Ingest one alert, a JSON array or NDJSON; correlated at once", &[]),
        ("GET", "/v1.0/security/alerts_v2/{id}") => ("Get an alert", &["$select"]),
        ("PATCH", "/v1.0/security/alerts_v2/{id}") => ("Update an alert", &[]),
        ("POST", "/v1.0/security/alerts_v2/{id}/comments") => ("Comment on an alert", &[]),
        ("POST", "/v1.0/security/alerts_v2/moveAlerts")
        | ("POST", "/v1.0/security/alerts_v2/microsoft.graph.security.moveAlerts") => {
            ("Move alerts to an incident, or to a new one", &[])
        }
        ("POST", "/v1.0/muster/incidents/bulkUpdate") => ("Apply one change to many incidents", &[]),
        ("GET", "/v1.0/muster/incidents/facets") => {
            ("How many incidents of a view have each value of each queue filter", &["$filter", "$search", "limit"])
        }
        ("GET", "/v1.0/muster/tags") => ("Tags used before, most used first", &["prefix", "$top"]),
        ("GET", "/v1.0/muster/entities/{kind}/alerts") => {
            ("Alerts that involve an entity", &["value", "$top", "$skiptoken"])
        }
        ("GET", "/v1.0/muster/entities/{kind}/incidents") => ("Incidents that involve an entity", &["value"]),
        ("GET", "/v1.0/muster/events") => (
            "Live changes as server-sent events: `incident` events carrying {incidentId, kind} \
             (created, updated, commented, alertsMoved, merged) for incidents the caller may see; \
             `lagged` when some were missed",
            &[],
        ),
        ("GET", "/v1.0/muster/me") => ("Who the caller is", &[]),
        ("GET", "/v1.0/muster/users") => ("List users (admin)", &[]),
        ("POST", "/v1.0/muster/users") => ("Create a user (admin)", &[]),
        ("PATCH", "/v1.0/muster/users/{login}") => ("Change a user (admin)", &[]),
        ("GET", "/v1.0/muster/tokens") => ("List API tokens (admin)", &[]),
        ("POST", "/v1.0/muster/tokens") => ("Create an API token (admin)", &[]),
        ("DELETE", "/v1.0/muster/tokens/{id}") => ("Revoke an API token (admin)", &[]),
        ("GET", "/v1.0/muster/audit") => ("The audit log (admin)", &["$top", "before"]),
        _ => return None,
    })
}

/// The resource an operation answers with, when it is one of the documented schemas.
fn answer_schema(method: &str, path: &str) -> Option<&'static str> {
    let is_list = method == "GET" && !path.contains('{') && !path.ends_with("$count");
    match () {
        _ if path.starts_with("/v1.0/security/incidents") && is_list => Some("incidentCollection"),
        _ if path == "/v1.0/security/incidents/{id}" => Some("incident"),
        _ if path.starts_with("/v1.0/security/alerts_v2") && is_list => Some("alertCollection"),
        _ if path == "/v1.0/security/alerts_v2/{id}" => Some("alert"),
        _ if path.ends_with("mergeIncidents") || path.ends_with("moveAlerts") => Some("mergeResponse"),
        _ => None,
    }
}

fn property_type(name: &str) -> Value {
    match name {
        n if n.ends_with("DateTime") => json!({"type": "string", "format": "date-time"}),
        "alertCount" | "activeAlertCount" | "priorityScore" => json!({"type": "integer"}),
        "impactedAssets" | "additionalData" | "customDetails" => json!({"type": "object"}),
        "comments" => json!({"type": "array", "items": {"$ref": "#/components/schemas/alertComment"}}),
        "alerts" => json!({"type": "array", "items": {"$ref": "#/components/schemas/alert"}}),
        "evidence" => json!({"type": "array", "items": {"type": "object"}}),
        n if n.ends_with('s') && !matches!(n, "status" | "summary") => {
            json!({"type": "array", "items": {"type": "string"}})
        }
        _ => json!({"type": ["string", "null"]}),
    }
}

fn object_schema(properties: &[&str], read_only_unless: Option<&[&str]>) -> Value {
    let mut map = Map::new();
    for name in properties {
        let mut schema = property_type(name);
        if read_only_unless.is_some_and(|settable| !settable.contains(name)) {
            schema["readOnly"] = json!(true);
        }
        map.insert((*name).to_owned(), schema);
    }
    json!({"type": "object", "properties": map})
}

fn components() -> Value {
    let collection = |item: &str| {
        json!({"type": "object", "properties": {
            "@odata.context": {"type": "string"}, "@odata.count": {"type": "integer"}, "@odata.nextLink": {"type": "string"},
            "value": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}}})
    };
    json!({
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`muster tokens create`)"},
            "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE}
        },
        "schemas": {
            "incident": object_schema(&[INCIDENT_PROPERTIES, INCIDENT_NAVIGATION].concat(), Some(INCIDENT_SETTABLE)),
            "alert": object_schema(ALERT_PROPERTIES, Some(muster_core::manage::ALERT_SETTABLE)),
            "incidentCollection": collection("incident"),
            "alertCollection": collection("alert"),
            "alertComment": {"type": "object", "properties": {
                "comment": {"type": "string", "maxLength": muster_core::manage::MAX_TEXT},
                "createdByDisplayName": {"type": "string"}, "createdDateTime": {"type": "string", "format": "date-time"}}},
            "mergeResponse": {"type": "object", "properties": {"targetIncidentId": {"type": "string"}}},
            "error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}}}}}}
        }
    })
}

fn operation(spec: &RouteSpec) -> Value {
    let method = spec.method.as_str();
    let (summary, query) = described(method, spec.path).unwrap_or(("", &[]));
    let mut parameters: Vec<Value> = spec
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(query.iter().map(|name| json!({"name": name, "in": "query", "schema": {"type": "string"}})));
    let ok = match answer_schema(method, spec.path) {
        Some(schema) => {
            json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
        }
        None => json!({"description": "OK"}),
    };
    let error = json!({"description": "A Graph error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}});
    let slug: String = spec
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_owned();
    let mut op = json!({
        "operationId": format!("{}_{slug}", method.to_lowercase()),
        "summary": summary,
        "parameters": parameters,
        "responses": {"200": ok, "default": error},
        "x-muster-access": format!("{:?}", spec.access).to_lowercase(),
    });
    op["security"] = if spec.access == Access::Public { json!([]) } else { json!([{"bearer": []}, {"session": []}]) };
    op
}

/// The document for `routes`, served at `base`.
pub fn openapi(routes: &[RouteSpec], base: &str) -> Value {
    let mut paths = Map::new();
    for spec in routes {
        let entry = paths.entry(spec.path.to_owned()).or_insert_with(|| json!({}));
        entry[spec.method.as_str().to_lowercase()] = operation(spec);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Muster", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Muster's API: the Microsoft Graph security incidents and alerts_v2 resources, and Muster's own."},
        "servers": [{"url": base}],
        "paths": paths,
        "components": components(),
    })
}

/// Whether every route has a description: a new route must say what it does.
pub fn undocumented(routes: &[RouteSpec]) -> Vec<String> {
    routes
        .iter()
        .filter(|s| described(s.method.as_str(), s.path).is_none())
        .map(|s| format!("{} {}", s.method, s.path))
        .collect()
}

async fn document(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    Json(openapi(state.access.specs(), &base_url(&state, &headers)))
}
