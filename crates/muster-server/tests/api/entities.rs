//! Entity search over real HTTP, on SQLite and on PostgreSQL.

use muster_core::access::Role;
use muster_server::accounts::{self, TokenSpec};
use muster_store_tests::backends::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, TestApp};

async fn token(app: &TestApp, role: Role) -> String {
    use muster_core::time::Clock;
    let spec =
        TokenSpec { name: format!("{role}"), role, user: None, expires_in_days: None, device_groups: Vec::new() };
    accounts::create_token(app.store.as_ref(), spec, "test", app.clock.now()).await.unwrap().1
}

fn alert(id: &str, host: &str, user: &str, minutes: i64) -> Value {
    let when = start_time().plus_secs(minutes * 60).to_string();
    json!({
        "providerAlertId": id, "title": format!("Detection {id}"), "severity": "low",
        "serviceSource": "microsoftDefenderForEndpoint", "firstActivityDateTime": when, "lastActivityDateTime": when,
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host},
            {"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"accountName": user, "domainName": "CONTOSO"}},
            {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.9"}
        ]
    })
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A device, a user or an address finds every alert and incident that names it, however it is
/// written.
async fn entities_find_their_alerts_and_incidents(app: TestApp) {
    let ingest = token(&app, Role::Ingest).await;
    let batch = json!([
        alert("e1", "WS-20.contoso.com", "dana", 0),
        alert("e2", "ws-20", "erin", 1),
        alert("e3", "ws-21", "dana", 600)
    ]);
    let response =
        app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(&ingest).json(&batch).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let viewer = token(&app, Role::Viewer).await;

    let (status, body) = get(&app, &viewer, "/v1.0/muster/entities/device/alerts?value=WS-20.CONTOSO.COM").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "ws-20");
    let titles: Vec<&str> = body["alerts"].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Detection e2", "Detection e1"], "newest first");

    let (_, body) = get(&app, &viewer, "/v1.0/muster/entities/user/incidents?value=CONTOSO%5Cdana").await;
    let incidents = body["incidents"].as_array().unwrap();
    let alerts: u64 = incidents.iter().map(|i| i["alertCount"].as_u64().unwrap()).sum();
    assert!(!incidents.is_empty() && alerts >= 2, "{body}");
    assert_eq!(body["@muster.truncated"], false);

    let (_, page) = get(&app, &viewer, "/v1.0/muster/entities/ip/alerts?value=203.0.113.9&$top=2").await;
    assert_eq!(page["alerts"].as_array().unwrap().len(), 2);
    let next = page["@odata.nextLink"].as_str().expect("a next link");
    let rest: Value = app.client.get(next).bearer_auth(&viewer).send().await.unwrap().json().await.unwrap();
    assert_eq!(rest["alerts"].as_array().unwrap().len(), 1, "{rest}");

    for bad in [
        "/v1.0/muster/entities/planet/alerts?value=x",
        "/v1.0/muster/entities/ip/alerts?value=not-an-ip",
        "/v1.0/muster/entities/device/alerts",
        "/v1.0/muster/entities/file/incidents?value=xyz",
    ] {
        let (status, body) = get(&app, &viewer, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalidRequest");
    }
    let (status, body) = get(&app, &viewer, "/v1.0/muster/entities/mailbox/alerts?value=nobody@example.com").await;
    assert_eq!((status, body["alerts"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
}

on_both_backends!(entities_find_their_alerts_and_incidents);
