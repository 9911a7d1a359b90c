//! Managing incidents and alerts over real HTTP, on SQLite and on PostgreSQL: PATCH and its
//! cascades, comments, history, moving alerts, merging, bulk updates, tags, and concurrency.

use muster_core::access::Role;
use muster_server::accounts::{self, TokenSpec};
use muster_store_tests::backends::TestDb;
use reqwest::header::{ETAG, IF_MATCH};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, TestApp};

async fn token(app: &TestApp, name: &str, role: Role) -> String {
    use muster_core::time::Clock;
    let spec = TokenSpec { name: name.into(), role, user: None, expires_in_days: None, device_groups: Vec::new() };
    accounts::create_token(app.store.as_ref(), spec, "test", app.clock.now()).await.unwrap().1
}

fn alert(id: &str, host: &str, minutes: i64, severity: &str) -> Value {
    let when = start_time().plus_secs(minutes * 60).to_string();
    json!({
        "providerAlertId": id, "title": format!("Detection {id}"), "detectorId": format!("det-{id}"),
        "severity": severity, "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
        "categories": ["Execution"], "firstActivityDateTime": when, "lastActivityDateTime": when,
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host, "osPlatform": "Windows11"}]
    })
}

struct Session<'a> {
    app: &'a TestApp,
    token: String,
}

impl Session<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self.app.client.request(method, self.app.url(path)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response.headers().get(ETAG).map(|v| v.to_str().unwrap().to_owned());
        (status, response.json().await.unwrap_or(Value::Null), etag)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body, _) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, body, _) = self.send(reqwest::Method::PATCH, path, Some(&body)).await;
        (status, body)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, body, _) = self.send(reqwest::Method::POST, path, Some(&body)).await;
        (status, body)
    }

    async fn incident(&self, id: &str) -> Value {
        self.get(&format!("/v1.0/security/incidents/{id}")).await
    }

    async fn alerts_of(&self, incident: &str) -> Vec<Value> {
        let all = self.get("/v1.0/security/alerts_v2?$top=1000").await;
        all["value"].as_array().unwrap().iter().filter(|a| a["incidentId"] == incident).cloned().collect()
    }

    async fn history(&self, incident: &str, query: &str) -> Vec<Value> {
        self.get(&format!("/v1.0/security/incidents/{incident}/history{query}")).await["value"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// Posts alerts; returns each one's (alert id, incident id).
async fn ingest(app: &TestApp, alerts: Value) -> Vec<(String, String)> {
    let token = token(app, "connector", Role::Ingest).await;
    let response =
        app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(token).json(&alerts).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v["incidentId"].as_str().unwrap().to_owned()))
        .collect()
}

async fn analyst(app: &TestApp) -> Session<'_> {
    Session { app, token: token(app, "alice", Role::Analyst).await }
}

/// Only the given properties change; assigning assigns the alerts, resolving resolves them,
/// reopening reopens none (and says so), and alerts that join later follow the assignee.
async fn patch_cascades_to_alerts(app: TestApp) {
    let placed = ingest(&app, json!([alert("a1", "ws-01", 0, "low"), alert("a2", "ws-01", 1, "medium")])).await;
    let id = placed[0].1.clone();
    assert_eq!(placed[1].1, id);
    let alice = analyst(&app).await;
    let before = alice.incident(&id).await;

    let (status, body) = alice.patch(&format!("/v1.0/security/incidents/{id}"), json!({"@odata.type": "#microsoft.graph.security.incident", "assignedTo": "bob@example.com", "customTags": ["ransomware", " Ransomware ", "vip"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["assignedTo"], "bob@example.com");
    assert_eq!(body["customTags"], json!(["ransomware", "vip"]));
    assert_eq!(body["displayName"], before["displayName"], "what was not sent stays");
    assert_eq!(body["lastModifiedBy"], "alice");
    for a in alice.alerts_of(&id).await {
        assert_eq!(a["assignedTo"], "bob@example.com", "its alerts follow");
    }
    // A later alert on the same device joins, and follows the assignee too.
    let later = ingest(&app, json!([alert("a3", "ws-01", 2, "low")])).await;
    assert_eq!(later[0].1, id);
    let a3 = alice.get(&format!("/v1.0/security/alerts_v2/{}", later[0].0)).await;
    assert_eq!(a3["assignedTo"], "bob@example.com");

    let (status, body) = alice
        .patch(
            &format!("/v1.0/security/incidents/{id}"),
            json!({"status": "Resolved", "classification": "truePositive", "determination": "malware", "resolvingComment": "Reimaged WS-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["status"].as_str(), body["classification"].as_str()), (Some("resolved"), Some("truePositive")));
    assert_eq!(body["determination"], "malware");
    assert_eq!(body["activeAlertCount"], 0, "{body}");
    assert_eq!(body["alertCount"], 3);
    for a in alice.alerts_of(&id).await {
        assert_eq!(a["status"], "resolved", "resolving resolves its alerts");
        assert!(a["resolvedDateTime"].is_string());
    }

    let (status, body) = alice.patch(&format!("/v1.0/security/incidents/{id}"), json!({"status": "active"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["activeAlertCount"], 0, "reopening reopens no alert");
    let history = alice.history(&id, "").await;
    let reopen = history
        .iter()
        .find(|e| e["reason"].as_str().is_some_and(|r| r.contains("reopens none")))
        .expect("reopen noted");
    assert_eq!(reopen["actor"]["name"], "alice");
    let status_entries = alice.history(&id, "?kind=updated&actor=alice").await;
    let fields: Vec<&str> = status_entries.iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["assignedTo", "customTags", "status", "classification", "determination", "resolvingComment", "alerts"]
    {
        assert!(fields.contains(&field), "history records {field}: {fields:?}");
    }
    let newest = &status_entries[0];
    assert_eq!(newest["field"], "alerts", "newest first: {newest}");
    let assigned = status_entries.iter().find(|e| e["field"] == "assignedTo").unwrap();
    assert_eq!((assigned["oldValue"].clone(), assigned["newValue"].clone()), (Value::Null, json!("bob@example.com")));
    assert!(alice.history(&id, "?actor=nobody").await.is_empty());

    // A person's name and severity win over the roll-up's, until cleared.
    let (_, body) = alice
        .patch(
            &format!("/v1.0/security/incidents/{id}"),
            json!({"displayName": "Malware on WS-01", "severity": "high"}),
        )
        .await;
    assert_eq!((body["displayName"].as_str(), body["severity"].as_str()), (Some("Malware on WS-01"), Some("high")));
    ingest(&app, json!([alert("a1", "ws-01", 3, "low")])).await;
    let body = alice.incident(&id).await;
    assert_eq!((body["displayName"].as_str(), body["severity"].as_str()), (Some("Malware on WS-01"), Some("high")));
    let a1 = alice.get(&format!("/v1.0/security/alerts_v2/{}", placed[0].0)).await;
    assert_eq!(a1["status"], "resolved", "a re-sent alert stays resolved");
    let (_, body) =
        alice.patch(&format!("/v1.0/security/incidents/{id}"), json!({"displayName": null, "severity": null})).await;
    assert_eq!(body["displayName"], before["displayName"]);
    assert_eq!(body["severity"], "medium");
}

/// Every refusal names its cause and leaves the incident exactly as it was.
async fn bad_changes_are_refused_and_change_nothing(app: TestApp) {
    let placed = ingest(&app, json!([alert("b1", "ws-02", 0, "low")])).await;
    let id = placed[0].1.clone();
    let alice = analyst(&app).await;
    let before = alice.incident(&id).await;
    let path = format!("/v1.0/security/incidents/{id}");

    let (status, body) = alice.patch("/v1.0/security/incidents/999999", json!({"status": "active"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "itemNotFound");
    let (status, body) =
        alice.patch(&path, json!({"id": "5", "createdDateTime": "2024-01-01T00:00:00Z", "status": "resolved"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("id, createdDateTime") && message.contains("read-only"), "{message}");
    let (status, body) = alice.patch(&path, json!({"redirectIncidentId": "1"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = alice.patch(&path, json!({"status": "redirected"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("mergeIncidents"));
    let (status, body) = alice
        .patch(&path, json!({"classification": "falsePositive", "determination": "malware", "assignedTo": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("notMalicious") && message.contains("notEnoughDataToValidate"),
        "lists the valid ones: {message}"
    );
    let (status, _) = alice.patch(&path, json!({"status": "closed"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = alice.patch(&path, json!({"customTags": "not-a-list"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = alice.post(&format!("{path}/comments"), json!({"comment": "x".repeat(30_001)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let response = app.client.patch(app.url(&path)).bearer_auth(&alice.token).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let viewer = Session { app: &app, token: token(&app, "viewer", Role::Viewer).await };
    let (status, _) = viewer.patch(&path, json!({"status": "resolved"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    assert_eq!(alice.incident(&id).await, before, "every refusal left it as it was");
    assert!(alice.history(&id, "?kind=updated,commented").await.is_empty());
    let (status, body) =
        alice.patch(&format!("/v1.0/security/alerts_v2/{}", placed[0].0), json!({"title": "renamed"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = alice.patch("/v1.0/security/alerts_v2/nope", json!({"status": "resolved"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A stale `If-Match` gets 412 and changes nothing; concurrent updates never lose each other.
async fn concurrent_updates_lose_nothing(app: TestApp) {
    let placed = ingest(&app, json!([alert("c1", "ws-03", 0, "low")])).await;
    let id = placed[0].1.clone();
    let alice = analyst(&app).await;
    let path = format!("/v1.0/security/incidents/{id}");
    let (status, _, etag) = alice.send(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let etag = etag.expect("GET carries an ETag");

    let (status, _) = alice.patch(&path, json!({"summary": "first"})).await;
    assert_eq!(status, StatusCode::OK);
    let before = alice.incident(&id).await;
    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&alice.token)
        .header(IF_MATCH, &etag)
        .json(&json!({"summary": "stale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resourceModified");
    assert_eq!(alice.incident(&id).await, before, "a stale update changes nothing");

    // The current tag works, and the answer carries the next one.
    let (_, _, current) = alice.send(reqwest::Method::GET, &path, None).await;
    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&alice.token)
        .header(IF_MATCH, current.clone().unwrap())
        .json(&json!({"summary": "second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(response.headers().get(ETAG).unwrap().to_str().unwrap(), current.unwrap());

    // Many writers at once, each on its own property: every change lands.
    let fields = ["description", "assignedTo", "resolvingComment", "displayName", "summary", "customTags"];
    let writes = fields.iter().map(|field| {
        let value = if *field == "customTags" { json!(["t-concurrent"]) } else { json!(format!("{field} set")) };
        let request = app.client.patch(app.url(&path)).bearer_auth(&alice.token).json(&json!({ *field: value })).send();
        async move { request.await.unwrap().status() }
    });
    for status in futures_util::future::join_all(writes).await {
        assert_eq!(status, StatusCode::OK);
    }
    let after = alice.incident(&id).await;
    for field in fields {
        let expected = if field == "customTags" { json!(["t-concurrent"]) } else { json!(format!("{field} set")) };
        assert_eq!(after[field], expected, "{field} was not lost");
    }
    // Racing on one version: exactly one wins.
    let (_, _, tag) = alice.send(reqwest::Method::GET, &path, None).await;
    let tag = tag.unwrap();
    let racers = (0..6).map(|i| {
        let request = app
            .client
            .patch(app.url(&path))
            .bearer_auth(&alice.token)
            .header(IF_MATCH, tag.clone())
            .json(&json!({"summary": format!("racer {i}")}))
            .send();
        async move { request.await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(racers).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::PRECONDITION_FAILED).count(), 5);
}

/// Comments take an object or an array, answer in kind, and land in the history with their author.
async fn comments_and_history(app: TestApp) {
    let placed = ingest(&app, json!([alert("d1", "ws-04", 0, "low")])).await;
    let (alert_id, id) = placed[0].clone();
    let alice = analyst(&app).await;

    let (status, body) = alice
        .post(
            &format!("/v1.0/security/incidents/{id}/comments"),
            json!({"@odata.type": "microsoft.graph.security.alertComment", "comment": "Looking into it"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["comment"], "Looking into it");
    assert_eq!(body["value"][0]["createdByDisplayName"], "alice");
    let (status, body) = alice
        .post(
            &format!("/v1.0/security/alerts_v2/{alert_id}/comments"),
            json!([{"@odata.type": "microsoft.graph.security.alertComment", "comment": "Seen on the proxy too"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_array(), "an array is answered with a bare array: {body}");
    assert_eq!(body[0]["comment"], "Seen on the proxy too");
    let (_, body) = alice.post(&format!("/v1.0/security/incidents/{id}/comments"), json!({"comment": "Second"})).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 2, "the whole list comes back");

    let incident = alice.incident(&id).await;
    assert_eq!(incident["comments"].as_array().unwrap().len(), 2);
    let stored = alice.get(&format!("/v1.0/security/alerts_v2/{alert_id}")).await;
    assert_eq!(stored["comments"][0]["comment"], "Seen on the proxy too");

    let comments = alice.history(&id, "?kind=commented").await;
    assert_eq!(comments.len(), 3);
    assert_eq!(comments[0]["comment"], "Second", "newest first");
    assert_eq!(comments[1]["newValue"], json!(alert_id));
    assert!(comments.iter().all(|e| e["actor"]["name"] == "alice" && e["at"].is_string()));
    let created = alice.history(&id, "?kind=created").await;
    assert_eq!(created[0]["actor"]["kind"], "correlation");
    let (status, _) = alice.post("/v1.0/security/incidents/424242/comments", json!({"comment": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) =
        alice.send(reqwest::Method::GET, &format!("/v1.0/security/incidents/{id}/history?kind=nonsense"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let paged = alice.get(&format!("/v1.0/security/incidents/{id}/history?$top=2")).await;
    let next = paged["@odata.nextLink"].as_str().expect("a next link");
    let rest: Value = app.client.get(next).bearer_auth(&alice.token).send().await.unwrap().json().await.unwrap();
    assert!(rest["value"][0]["id"].as_i64().unwrap() < paged["value"][1]["id"].as_i64().unwrap());
}

/// Alerts move (pinned) to an incident or a new one; the emptied one is resolved and says where
/// they went; merging keeps the oldest and redirects the others.
async fn move_alerts_and_merge_incidents(app: TestApp) {
    let placed = ingest(
        &app,
        json!([alert("m1", "ws-05", 0, "high"), alert("m2", "ws-05", 1, "low"), alert("m3", "ws-06", 2, "low")]),
    )
    .await;
    let (a, b) = (placed[0].1.clone(), placed[2].1.clone());
    assert_ne!(a, b);
    let alice = analyst(&app).await;

    let (status, body) = alice.post("/v1.0/security/alerts_v2/moveAlerts", json!({"alertIds": [placed[0].0], "incidentId": b, "alertComment": "same campaign", "newCorrelationReasons": "sameAsset"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["targetIncidentId"], json!(b));
    let moved = alice.get(&format!("/v1.0/security/alerts_v2/{}", placed[0].0)).await;
    assert_eq!(moved["incidentId"], json!(b));
    let (incident_a, incident_b) = (alice.incident(&a).await, alice.incident(&b).await);
    assert_eq!((incident_a["alertCount"].as_u64(), incident_b["alertCount"].as_u64()), (Some(1), Some(2)));
    assert_eq!(incident_b["severity"], "high", "roll-ups follow the move");
    assert_eq!(incident_a["severity"], "low");
    let added = alice.history(&b, "?kind=alertAdded").await;
    assert_eq!(added[0]["comment"], "same campaign");
    assert_eq!(added[0]["reason"], "sameAsset");

    // A pinned alert stays where a person put it, even when its device sends it again.
    ingest(&app, json!([alert("m1", "ws-05", 5, "high")])).await;
    assert_eq!(alice.get(&format!("/v1.0/security/alerts_v2/{}", placed[0].0)).await["incidentId"], json!(b));

    // To a new incident, through the qualified segment: the emptied one is resolved.
    let (status, body) = alice
        .post("/v1.0/security/alerts_v2/microsoft.graph.security.moveAlerts", json!({"alertIds": [placed[1].0]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = body["targetIncidentId"].as_str().unwrap().to_owned();
    assert!(new != a && new != b);
    let fresh = alice.incident(&new).await;
    assert_eq!(fresh["alertCount"], 1);
    let emptied = alice.incident(&a).await;
    assert_eq!((emptied["status"].as_str(), emptied["alertCount"].as_u64()), (Some("resolved"), Some(0)));
    let removed = alice.history(&a, "?kind=alertRemoved").await;
    assert_eq!(removed[0]["newValue"]["movedTo"], json!(new));
    let resolved = alice.history(&a, "?kind=updated").await;
    assert!(resolved[0]["reason"].as_str().unwrap().contains(&new), "{resolved:?}");

    let (status, _) =
        alice.post("/v1.0/security/alerts_v2/moveAlerts", json!({"alertIds": ["missing"], "incidentId": b})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = alice.post("/v1.0/security/alerts_v2/moveAlerts", json!({"alertIds": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Merge: the oldest survives; the other is redirected and its alerts go along.
    let (status, body) = alice
        .post(
            "/v1.0/security/incidents/microsoft.graph.security.mergeIncidents",
            json!({"incidentIds": [new, b], "incidentComment": "one attack"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["targetIncidentId"], json!(b), "the oldest survives");
    let gone = alice.incident(&new).await;
    assert_eq!((gone["status"].as_str(), gone["redirectIncidentId"].as_str()), (Some("redirected"), Some(b.as_str())));
    assert!(gone["systemTags"].as_array().unwrap().contains(&json!("Redirected")));
    let survivor = alice.incident(&b).await;
    assert_eq!(survivor["alertCount"], 3);
    assert_eq!(alice.alerts_of(&b).await.len(), 3);
    let merged = alice.history(&b, "?kind=merged").await;
    assert_eq!((merged[0]["newValue"].clone(), merged[0]["comment"].clone()), (json!([new]), json!("one attack")));
    let (status, body) = alice.post("/v1.0/security/incidents/mergeIncidents", json!({"incidentIds": [new, b]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a redirected incident merges no more: {body}");
    let (status, _) = alice.post("/v1.0/security/incidents/mergeIncidents", json!({"incidentIds": [b]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = alice.patch(&format!("/v1.0/security/incidents/{new}"), json!({"status": "active"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a redirected incident is changed through its survivor");
}

/// An alert PATCH changes the alert and its incident's roll-ups, recorded in the incident's log.
async fn alert_updates_follow_into_the_incident(app: TestApp) {
    let placed = ingest(&app, json!([alert("p1", "ws-07", 0, "low"), alert("p2", "ws-07", 1, "low")])).await;
    let (alert_id, id) = placed[0].clone();
    let alice = analyst(&app).await;
    let (status, body) = alice.patch(&format!("/v1.0/security/alerts_v2/{alert_id}"), json!({"status": "resolved", "classification": "falsePositive", "determination": "notMalicious", "assignedTo": "carol"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["status"].as_str(), body["determination"].as_str()), (Some("resolved"), Some("notMalicious")));
    assert_eq!(alice.incident(&id).await["activeAlertCount"], 1);
    let entries = alice.history(&id, "?kind=updated").await;
    assert!(entries.iter().any(|e| e["field"] == format!("alerts/{alert_id}/status")), "{entries:?}");
    let (status, body) =
        alice.patch(&format!("/v1.0/security/alerts_v2/{alert_id}"), json!({"determination": "malware"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// One request, many incidents, each on its own with its own result and history; tags used before
/// are suggested, most used first.
async fn bulk_updates_and_tag_suggestions(app: TestApp) {
    let placed = ingest(
        &app,
        json!([alert("t1", "ws-10", 0, "low"), alert("t2", "ws-11", 0, "low"), alert("t3", "ws-12", 0, "low")]),
    )
    .await;
    let ids: Vec<String> = placed.iter().map(|p| p.1.clone()).collect();
    let alice = analyst(&app).await;
    let (_, _) = alice.patch(&format!("/v1.0/security/incidents/{}", ids[0]), json!({"customTags": ["old-tag"]})).await;
    let (status, body) = alice
        .post(
            "/v1.0/muster/incidents/bulkUpdate",
            json!({"incidentIds": [ids[0], ids[1], "999999", ids[2]], "changes": {"status": "resolved", "classification": "informationalExpectedActivity", "determination": "securityTesting"}, "addTags": ["Red team"], "removeTags": ["old-tag"], "comment": "Exercise"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<u64> = body["value"].as_array().unwrap().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 200, 404, 200]);
    for id in &ids {
        let incident = alice.incident(id).await;
        assert_eq!(incident["status"], "resolved");
        assert_eq!(incident["customTags"], json!(["Red team"]));
        assert_eq!(alice.history(id, "?kind=commented").await[0]["comment"], "Exercise");
    }
    let (status, _) = alice
        .post(
            "/v1.0/muster/incidents/bulkUpdate",
            json!({"incidentIds": [ids[0]], "changes": {"status": "redirected"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = alice.post("/v1.0/muster/incidents/bulkUpdate", json!({"incidentIds": [ids[0]]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "nothing to change");

    alice
        .patch(&format!("/v1.0/security/incidents/{}", ids[0]), json!({"customTags": ["Red team", "ransomware"]}))
        .await;
    let tags = alice.get("/v1.0/muster/tags").await;
    assert_eq!(tags["value"][0]["tag"], "Red team", "most used first: {tags}");
    assert_eq!(tags["value"][0]["count"], 3);
    let prefixed = alice.get("/v1.0/muster/tags?prefix=RAN").await;
    assert_eq!(prefixed["value"].as_array().unwrap().len(), 1, "{prefixed}");
    assert_eq!(prefixed["value"][0]["tag"], "ransomware");
}

on_both_backends!(
    patch_cascades_to_alerts,
    bad_changes_are_refused_and_change_nothing,
    concurrent_updates_lose_nothing,
    comments_and_history,
    move_alerts_and_merge_incidents,
    alert_updates_follow_into_the_incident,
    bulk_updates_and_tag_suggestions,
);
