//! The OpenAPI document as the running server serves it: every route in it, nothing else.

use muster_server::{route_table, undocumented_routes, Access};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_document_covers_every_route_and_nothing_else() {
    let app = TestApp::spawn().await;
    assert!(
        undocumented_routes(&route_table()).is_empty(),
        "say what these do: {:?}",
        undocumented_routes(&route_table())
    );
    let response = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "public, like /healthz");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], app.url("").trim_end_matches('/'));
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            documented += 1;
            let spec = route_table()
                .into_iter()
                .find(|s| s.path == path && s.method.as_str().eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("{method} {path} is documented but not served"));
            assert!(!operation["summary"].as_str().unwrap().is_empty(), "{method} {path}");
            let secured = !operation["security"].as_array().unwrap().is_empty();
            assert_eq!(secured, spec.access != Access::Public, "{method} {path}");
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(operation["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path"));
            }
        }
    }
    assert_eq!(documented, route_table().len(), "every route once");
    let incident = &doc["components"]["schemas"]["incident"]["properties"];
    assert_eq!(incident["id"]["readOnly"], true);
    assert!(incident["status"].get("readOnly").is_none(), "status may be patched");
}
