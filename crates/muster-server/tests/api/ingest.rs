//! Alerts in, incidents out, over real HTTP, on SQLite and on PostgreSQL.

use muster_core::access::Role;
use muster_core::history::{HistoryFilter, HistoryKind};
use muster_core::IncidentId;
use muster_server::accounts::{self, TokenSpec};
use muster_store_tests::backends::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, TestApp};

async fn token(app: &TestApp, role: Role, groups: &[&str]) -> String {
    use muster_core::time::Clock;
    let spec = TokenSpec {
        name: format!("{role}"),
        role,
        user: None,
        expires_in_days: None,
        device_groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    accounts::create_token(app.store.as_ref(), spec, "test", app.clock.now()).await.unwrap().1
}

/// An alert on `host` (in device group `group`) `minutes` after the test start.
fn alert(id: &str, host: &str, group: &str, minutes: i64, severity: &str) -> Value {
    let when = start_time().plus_secs(minutes * 60).to_string();
    json!({
        "providerAlertId": id, "title": format!("Detection {id}"), "detectorId": format!("det-{id}"),
        "severity": severity, "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
        "categories": ["Execution"], "firstActivityDateTime": when, "lastActivityDateTime": when,
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host, "rbacGroupName": group, "osPlatform": "Windows11"}]
    })
}

async fn post(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    let response =
        app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(token).json(body).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn incident_of(body: &Value, index: usize) -> String {
    body["value"].as_array().unwrap().iter().find(|v| v["index"] == index).unwrap()["incidentId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A batch keeps its valid alerts, names the refused ones, and says where each went.
async fn batches_keep_the_valid_and_name_the_refused(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let admin = token(&app, Role::Admin, &[]).await;
    let mut bad = alert("b", "ws-01", "Lab", 1, "high");
    bad["severity"] = json!("severe");
    let batch = json!([alert("a", "ws-01", "Lab", 0, "low"), bad, alert("c", "ws-01", "Lab", 2, "high"), {"title": "no source"}]);
    let (status, body) = post(&app, &ingest, &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["refused"].as_u64()), (Some(2), Some(2)), "{body}");
    assert_eq!(body["errors"][0]["index"], 1);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("severity"), "{body}");
    assert!(body["errors"][1]["message"].as_str().unwrap().contains("serviceSource"), "{body}");
    assert_eq!(incident_of(&body, 0), incident_of(&body, 2), "same device, one incident");

    let (_, alerts) = get(&app, &admin, "/v1.0/security/alerts_v2").await;
    assert_eq!(alerts["value"].as_array().unwrap().len(), 2, "no silent drops, nothing half-written");

    // Nothing valid: 400, with every reason.
    let (status, body) = post(&app, &ingest, &json!([{"title": "x"}, 42])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 2, "{body}");
    let (status, _) = post(&app, &ingest, &json!("just a string")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// NDJSON works, and sending an alert again updates it instead of duplicating it.
async fn ndjson_and_resends(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let admin = token(&app, Role::Admin, &[]).await;
    let lines = [alert("n1", "ws-02", "Lab", 0, "medium"), alert("n2", "ws-03", "Lab", 1, "low")]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let response = app
        .client
        .post(app.url("/v1.0/security/alerts_v2"))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-ndjson")
        .body(format!("{lines}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["accepted"], 2);

    // Refusals name the line as sent, blank lines counted.
    let with_blank = format!("{}\n\n{{\"title\": \"broken\"}}\n", alert("n3", "ws-04", "Lab", 2, "low"));
    let response = app
        .client
        .post(app.url("/v1.0/security/alerts_v2"))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-ndjson")
        .body(with_blank)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["index"], 2, "{body}");

    let mut again = alert("n1", "ws-02", "Lab", 5, "high");
    again["status"] = json!("inProgress");
    let (_, second) = post(&app, &ingest, &again).await;
    assert_eq!(second["value"][0]["id"], first["value"][0]["id"], "the id derives from source and provider id");
    assert_eq!(incident_of(&second, 0), incident_of(&first, 0));
    let id = first["value"][0]["id"].as_str().unwrap();
    let (_, stored) = get(&app, &admin, &format!("/v1.0/security/alerts_v2/{id}")).await;
    assert_eq!(stored["status"], "inProgress");
    assert_eq!(stored["severity"], "high");
    let (_, all) = get(&app, &admin, "/v1.0/security/alerts_v2").await;
    assert_eq!(all["value"].as_array().unwrap().len(), 3);

    // The incident's roll-ups follow the update.
    let incident = incident_of(&first, 0);
    let (_, incident) = get(&app, &admin, &format!("/v1.0/security/incidents/{incident}")).await;
    assert_eq!(incident["severity"], "high");
    assert_eq!(incident["alertCount"], 1);
    assert_eq!(incident["osPlatforms"], json!(["Windows11"]));
}

/// An alert that bridges two incidents merges them; the younger redirects to the older, and both
/// histories say so.
async fn bridging_alerts_merge_incidents(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let admin = token(&app, Role::Admin, &[]).await;
    let (_, a) = post(&app, &ingest, &alert("m1", "ws-10", "Lab", 0, "low")).await;
    let (_, b) = post(&app, &ingest, &alert("m2", "ws-11", "Lab", 1, "medium")).await;
    let (older, younger) = (incident_of(&a, 0), incident_of(&b, 0));
    assert_ne!(older, younger);
    let mut bridge = alert("m3", "ws-10", "Lab", 2, "high");
    bridge["evidence"].as_array_mut().unwrap().push(
        json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": "ws-11", "rbacGroupName": "Lab"}),
    );
    let (_, c) = post(&app, &ingest, &bridge).await;
    assert_eq!(incident_of(&c, 0), older);

    let (_, redirected) = get(&app, &admin, &format!("/v1.0/security/incidents/{younger}")).await;
    assert_eq!(redirected["status"], "redirected");
    assert_eq!(redirected["redirectIncidentId"], older.as_str());
    assert!(redirected["systemTags"].as_array().unwrap().contains(&json!("Redirected")));
    let (_, survivor) = get(&app, &admin, &format!("/v1.0/security/incidents/{older}")).await;
    assert_eq!(survivor["alertCount"], 3);
    assert_eq!(survivor["severity"], "high");
    assert_eq!(survivor["impactedAssets"]["devices"]["count"], 2);
    assert!(survivor["displayName"].as_str().unwrap().contains("multiple endpoints"), "{survivor}");
    let (_, list) = get(&app, &admin, "/v1.0/security/incidents").await;
    assert!(
        list["value"].as_array().unwrap().iter().all(|i| i["id"] != younger.as_str()),
        "redirected leave the queue"
    );

    let id = |s: &str| s.parse::<IncidentId>().unwrap();
    let merged = app
        .store
        .history(id(&older), &HistoryFilter { kinds: vec![HistoryKind::Merged], ..Default::default() })
        .await
        .unwrap();
    assert_eq!(merged.len(), 1);
    assert!(merged[0].entry.reason.as_deref().unwrap().contains("sameAsset"), "{merged:?}");
    let gone = app.store.history(id(&younger), &HistoryFilter::default()).await.unwrap();
    assert!(gone.iter().any(|h| h.entry.kind == HistoryKind::Redirected));
}

/// After a restart the engine remembers its window: the same stream gives the same incidents.
async fn a_restart_changes_no_result(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let stream: Vec<Value> = (0..40)
        .map(|n| {
            alert(&format!("r{n}"), &format!("ws-{}", n % 6), "Lab", n * 7, if n % 5 == 0 { "high" } else { "low" })
        })
        .collect();
    let (half, rest) = stream.split_at(20);
    let (_, first) = post(&app, &ingest, &json!(half)).await;
    let app = app.restart().await;
    let (_, second) = post(&app, &ingest, &json!(rest)).await;

    let fresh = TestApp::on(TestDb::sqlite().await).await;
    let ingest2 = token(&fresh, Role::Ingest, &[]).await;
    let (_, whole) = post(&fresh, &ingest2, &json!(stream)).await;
    let got: Vec<String> =
        (0..20).map(|i| incident_of(&first, i)).chain((0..20).map(|i| incident_of(&second, i))).collect();
    let expected: Vec<String> = (0..40).map(|i| incident_of(&whole, i)).collect();
    assert_eq!(got, expected);
}

/// Clocks that run ahead are clamped to arrival time and flagged.
async fn future_timestamps_are_clamped(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let admin = token(&app, Role::Admin, &[]).await;
    let mut late = alert("f1", "ws-20", "Lab", 0, "low");
    late["lastActivityDateTime"] = json!(start_time().plus_secs(30 * 86_400).to_string());
    let (_, body) = post(&app, &ingest, &late).await;
    let id = body["value"][0]["id"].as_str().unwrap().to_owned();
    let (_, stored) = get(&app, &admin, &format!("/v1.0/security/alerts_v2/{id}")).await;
    assert_eq!(stored["lastActivityDateTime"], start_time().to_string());
    assert!(stored["systemTags"].as_array().unwrap().contains(&json!("Clamped future timestamp")));
}

/// Callers limited to device groups see only what touches them; the rest is "not found".
async fn scoped_callers_see_only_their_groups(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let (_, lab) = post(&app, &ingest, &alert("s1", "ws-30", "Lab", 0, "low")).await;
    let (_, fin) = post(&app, &ingest, &alert("s2", "ws-31", "Finance", 0, "low")).await;
    let (lab, fin) = (incident_of(&lab, 0), incident_of(&fin, 0));
    let scoped = token(&app, Role::Analyst, &["finance"]).await;
    let (_, list) = get(&app, &scoped, "/v1.0/security/incidents").await;
    let ids: Vec<&str> = list["value"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [fin.as_str()]);
    let (status, _) = get(&app, &scoped, &format!("/v1.0/security/incidents/{lab}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "outside the scope is 404, not 403");
    let (_, alerts) = get(&app, &scoped, "/v1.0/security/alerts_v2").await;
    assert_eq!(alerts["value"].as_array().unwrap().len(), 1);
}

/// Next links page through everything once, and `$select` trims each item.
async fn next_links_page_through_everything(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let admin = token(&app, Role::Admin, &[]).await;
    let batch: Vec<Value> =
        (0..25).map(|n| alert(&format!("p{n}"), &format!("host-{n}"), "Lab", n * 300, "low")).collect();
    post(&app, &ingest, &json!(batch)).await;
    let mut url = app.url("/v1.0/security/alerts_v2?$top=10&$select=providerAlertId,incidentId");
    let mut seen = Vec::new();
    loop {
        let page: Value = app.client.get(&url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        for item in page["value"].as_array().unwrap() {
            assert!(item.get("title").is_none(), "selected away: {item}");
            seen.push(item["providerAlertId"].as_str().unwrap().to_owned());
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
    let (status, body) = get(&app, &admin, "/v1.0/security/incidents?$top=100").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("limit of '50'"));
    let (_, incidents) = get(&app, &admin, "/v1.0/security/incidents?$top=10").await;
    assert!(incidents["@odata.nextLink"].as_str().unwrap().starts_with("http://"));
}

/// Batches sent at once share commits; each sender still hears of its own alerts, in its order.
async fn concurrent_senders_each_hear_of_their_own_alerts(app: TestApp) {
    let ingest = token(&app, Role::Ingest, &[]).await;
    let admin = token(&app, Role::Admin, &[]).await;
    let batch = |sender: usize| -> Value {
        (0..25).map(|n| alert(&format!("c{sender}-{n}"), "ws-07", "Lab", n as i64, "low")).collect()
    };
    let bodies: Vec<Value> = (0..8).map(batch).collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|body| post(&app, &ingest, body))).await;
    let mut incidents = std::collections::BTreeSet::new();
    for (sender, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "{body}");
        let placed = body["value"].as_array().unwrap();
        assert_eq!(placed.len(), 25);
        for (n, entry) in placed.iter().enumerate() {
            assert_eq!(entry["index"], n);
            incidents.insert(entry["incidentId"].as_str().unwrap().to_owned());
        }
        for n in [0, 24] {
            let id = placed[n]["id"].as_str().unwrap();
            let (status, stored) = get(&app, &admin, &format!("/v1.0/security/alerts_v2/{id}")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(stored["providerAlertId"], format!("c{sender}-{n}"));
        }
    }
    assert_eq!(incidents.len(), 1, "one host, one incident: {incidents:?}");
    let (_, listed) = get(&app, &admin, "/v1.0/security/alerts_v2?$top=1000").await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 200);
}

on_both_backends!(
    concurrent_senders_each_hear_of_their_own_alerts,
    batches_keep_the_valid_and_name_the_refused,
    ndjson_and_resends,
    bridging_alerts_merge_incidents,
    a_restart_changes_no_result,
    future_timestamps_are_clamped,
    scoped_callers_see_only_their_groups,
    next_links_page_through_everything,
);

/// Alerts with nothing to link on stand alone; bodies over the limit are refused whole.
mod limits {
    use muster_server::ServerConfig;

    use super::*;

    #[tokio::test]
    async fn alerts_without_evidence_become_single_alert_incidents() {
        let app = TestApp::on(TestDb::sqlite().await).await;
        let ingest = token(&app, Role::Ingest, &[]).await;
        let bare = |id: &str| json!({"providerAlertId": id, "title": "Odd thing", "severity": "low", "serviceSource": "sigma"});
        let (status, body) = post(&app, &ingest, &json!([bare("x1"), bare("x2")])).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(incident_of(&body, 0), incident_of(&body, 1));
    }

    #[tokio::test]
    async fn oversized_batches_get_413_and_store_nothing() {
        let app = TestApp::spawn_with(ServerConfig { body_limit_bytes: 4096, ..ServerConfig::default() }).await;
        let ingest = token(&app, Role::Ingest, &[]).await;
        let big: Vec<Value> = (0..50).map(|n| alert(&format!("big{n}"), "ws-01", "Lab", n, "low")).collect();
        let response =
            app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(&ingest).json(&big).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let stored = app.store.list_alerts(&muster_core::store::PageRequest { limit: 10, after: None }).await.unwrap();
        assert!(stored.is_empty());
    }
}
