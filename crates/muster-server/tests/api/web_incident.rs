//! The incident page, the manage pane and live updates over real HTTP, as a signed-in browser
//! sees them: every tab renders, stale and invalid edits are refused with the reason and the
//! current values, HTML stays inert, and the event stream announces a comment.

use std::time::Duration;

use muster_core::access::Role;
use muster_store_tests::backends::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::{field, Browser};
use crate::helpers::{start_time, TestApp};

fn alert(id: &str, title: &str, host: &str, minutes: i64) -> Value {
    let when = start_time().plus_secs(minutes * 60).to_string();
    json!({
        "providerAlertId": id, "title": title, "detectorId": format!("det-{title}"), "severity": "high",
        "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
        "categories": ["Execution"], "mitreTechniques": ["T1059.001"],
        "firstActivityDateTime": when, "lastActivityDateTime": when,
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host},
            {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.7", "verdict": "malicious"}
        ]
    })
}

/// Posts alerts; returns the incident of the first.
async fn ingest(app: &TestApp, alerts: Value) -> String {
    let token = app.token("connector", Role::Ingest, &[]).await;
    let response =
        app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(token).json(&alerts).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["value"][0]["incidentId"].as_str().unwrap().to_owned()
}

async fn incident_json(app: &TestApp, id: &str) -> Value {
    let token = app.token("reader", Role::Viewer, &[]).await;
    let response = app.client.get(app.url(&format!("/v1.0/security/incidents/{id}"))).bearer_auth(token).send().await;
    response.unwrap().json().await.unwrap()
}

async fn every_tab_renders(app: TestApp) {
    let id = ingest(
        &app,
        json!([
            alert("a1", "Suspicious PowerShell", "ws-01", 0),
            alert("a2", "Suspicious PowerShell", "ws-01", 5),
            alert("a3", "Credential dumping", "ws-01", 9)
        ]),
    )
    .await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let (status, page) = browser.page(&format!("/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html") && page.contains("/static/htmx.min.js") && page.contains("/static/live.js"));
    assert!(page.contains("sev sev-high") && page.contains(">High<"), "severity has colour and text");
    assert!(page.contains("× 2"), "repeated alerts are aggregated on the timeline");
    assert!(page.contains("T1059.001") && page.contains("ws-01"));
    assert!(page.contains(&format!("hx-trigger=\"muster:incident-{id} from:body\"")), "the header refreshes live");
    assert!(page.contains("name=\"version\""), "the manage pane carries the version");

    let graph = browser.fragment(&format!("/incidents/{id}?tab=graph")).await;
    assert!(!graph.contains("<html") && graph.contains("<svg") && graph.contains("203.0.113.7"));
    let alerts = browser.fragment(&format!("/incidents/{id}?tab=alerts")).await;
    assert_eq!(alerts.matches("name=\"alert\"").count(), 3);
    let assets = browser.fragment(&format!("/incidents/{id}?tab=assets")).await;
    assert!(assets.contains("ws-01"));
    let evidence = browser.fragment(&format!("/incidents/{id}?tab=evidence")).await;
    assert!(evidence.contains("203.0.113.7") && evidence.contains("verdict bad"));
    let history = browser.fragment(&format!("/incidents/{id}?tab=history")).await;
    assert!(history.contains("Created with") && history.contains("comment-box"));

    let (status, missing) = browser.page("/incidents/9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing.contains("No incident 9999"), "a page, not a JSON error: {missing}");
}

async fn alerts_page_through_keyset_links(app: TestApp) {
    let alerts: Vec<Value> = (0..60).map(|i| alert(&format!("p{i}"), "Beacon", "srv-01", i)).collect();
    let id = ingest(&app, Value::Array(alerts)).await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let first = browser.fragment(&format!("/incidents/{id}?tab=alerts")).await;
    assert_eq!(first.matches("name=\"alert\"").count(), 50);
    let next = first.split("class=\"next\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    let second = browser.fragment(&next).await;
    assert_eq!(second.matches("name=\"alert\"").count(), 10, "{next}");
    assert!(!second.contains("class=\"next\""));
}

async fn a_stale_edit_is_refused_with_the_current_values(app: TestApp) {
    let id = ingest(&app, json!([alert("s1", "Beacon", "ws-02", 0)])).await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let pane = browser.fragment(&format!("/incidents/{id}/manage")).await;
    let version = field(&pane, "version").unwrap();
    // Someone else assigns it meanwhile.
    let other = app.token("bob", Role::Analyst, &[]).await;
    let patched = app
        .client
        .patch(app.url(&format!("/v1.0/security/incidents/{id}")))
        .bearer_auth(other)
        .json(&json!({"assignedTo": "bob@contoso.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let (status, body) = browser
        .post(
            &format!("/incidents/{id}/manage"),
            &[("version", &version), ("assigned_to", "alice"), ("status", "active"), ("comment", "my note")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Someone changed this incident"), "{body}");
    assert!(body.contains("value=\"bob@contoso.com\""), "the current assignee is shown: {body}");
    assert!(body.contains(">my note</textarea>"), "what was typed in the comment is kept");
    assert_ne!(field(&body, "version").unwrap(), version, "the pane now edits the current version");
    assert_eq!(incident_json(&app, &id).await["assignedTo"], "bob@contoso.com");
}

async fn an_invalid_determination_is_refused_with_the_reason(app: TestApp) {
    let id = ingest(&app, json!([alert("d1", "Beacon", "ws-03", 0)])).await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let version = field(&browser.fragment(&format!("/incidents/{id}/manage")).await, "version").unwrap();
    let (status, body) = browser
        .post(
            &format!("/incidents/{id}/manage"),
            &[
                ("version", &version),
                ("status", "resolved"),
                ("classification", "falsePositive"),
                ("determination", "malware"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let errors: Vec<&str> = body.lines().filter(|l| l.contains("error")).collect();
    let error = body.split("data-field=\"determination\">").nth(1).unwrap_or_else(|| panic!("{errors:?}"));
    let reason = error.split("</p>").next().unwrap().replace("&#39;", "'");
    assert!(reason.starts_with("determination 'malware' does not fit classification 'falsePositive'"), "{reason}");
    let incident = incident_json(&app, &id).await;
    assert_eq!(incident["status"], "active", "nothing was saved");
    // The determinations offered follow the classification.
    let options =
        browser.fragment(&format!("/incidents/{id}/manage/determinations?classification=falsePositive")).await;
    assert!(options.contains("notMalicious") && !options.contains("malware"));
}

async fn managing_saves_through_the_manage_layer(app: TestApp) {
    let id = ingest(&app, json!([alert("m1", "Beacon", "ws-04", 0)])).await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let version = field(&browser.fragment(&format!("/incidents/{id}/manage")).await, "version").unwrap();
    let (status, body) = browser
        .post(
            &format!("/incidents/{id}/manage"),
            &[
                ("version", &version),
                ("assign_me", "1"),
                ("add_tags", "ransomware, vip"),
                ("status", "resolved"),
                ("classification", "truePositive"),
                ("determination", "malware"),
                ("resolving_comment", "Contained"),
                ("comment", "Reimaged the host"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Saved."), "{body}");
    let incident = incident_json(&app, &id).await;
    assert_eq!(incident["assignedTo"], "alice");
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["classification"], "truePositive");
    assert_eq!(incident["determination"], "malware");
    assert_eq!(incident["customTags"], json!(["ransomware", "vip"]));
    let log = browser.fragment(&format!("/incidents/{id}/history?kind=comments")).await;
    assert!(log.contains("Reimaged the host") && !log.contains("Status:"));
    let log = browser.fragment(&format!("/incidents/{id}/history?kind=status")).await;
    assert!(log.contains("Status: Active → Resolved"), "{log}");
    // The form without its CSRF token is refused.
    let forged = app
        .client
        .post(app.url(&format!("/incidents/{id}/manage")))
        .header("cookie", &browser.cookie)
        .form(&[("version", version.as_str()), ("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

async fn html_is_escaped_everywhere(app: TestApp) {
    let id = ingest(&app, json!([alert("x1", "<script>alert(1)</script>", "ws-05", 0)])).await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let version = field(&browser.fragment(&format!("/incidents/{id}/manage")).await, "version").unwrap();
    let (_, body) = browser
        .post(
            &format!("/incidents/{id}/manage"),
            &[("version", &version), ("name", "<img src=x onerror=alert(2)>"), ("add_tags", "<b>tag</b>")],
        )
        .await;
    assert!(body.contains("Saved."), "{body}");
    browser.post(&format!("/incidents/{id}/comments"), &[("comment", "<i>comment</i>")]).await;
    for tab in ["summary", "graph", "alerts", "history"] {
        let (_, page) = browser.page(&format!("/incidents/{id}?tab={tab}")).await;
        for raw in ["<script>alert(1)", "<img src=x", "<b>tag", "<i>comment"] {
            assert!(!page.contains(raw), "{raw} unescaped on {tab}");
        }
    }
    let (_, page) = browser.page(&format!("/incidents/{id}?tab=history")).await;
    assert!(
        page.contains("&#60;img src=x onerror=alert(2)&#62;") && page.contains("&#60;i&#62;comment&#60;/i&#62;"),
        "{page}"
    );
}

async fn moving_an_alert_to_a_new_incident(app: TestApp) {
    let id = ingest(&app, json!([alert("v1", "Beacon", "ws-06", 0), alert("v2", "Exfil", "ws-06", 3)])).await;
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    let alerts = browser.fragment(&format!("/incidents/{id}?tab=alerts")).await;
    let first = alerts.split("name=\"alert\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (status, body) =
        browser.post(&format!("/incidents/{id}/alerts/move"), &[("alert", &first), ("destination", "new")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Moved 1 alert to a new incident"), "{body}");
    assert_eq!(body.matches("name=\"alert\"").count(), 1, "one alert stays");
    assert_eq!(incident_json(&app, &id).await["alertCount"], 1);
    // Nothing selected: said so, nothing moved.
    let (_, body) = browser.post(&format!("/incidents/{id}/alerts/move"), &[("destination", "new")]).await;
    assert!(body.contains("Select at least one alert"));
}

/// Reads the stream until `wanted` appears, or gives up after `wait`.
async fn read_until(response: &mut reqwest::Response, wanted: &str, wait: Duration) -> Option<String> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !seen.contains(wanted) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return None,
        }
    }
    Some(seen)
}

async fn the_event_stream_announces_a_comment(app: TestApp) {
    let id = ingest(&app, json!([alert("e1", "Beacon", "ws-07", 0)])).await;
    let reader = app.token("reader", Role::Viewer, &[]).await;
    let scoped = app.token("lab reader", Role::Viewer, &["Lab"]).await;
    let open = |secret: String| app.client.get(app.url("/v1.0/muster/events")).bearer_auth(secret).send();
    let mut stream = open(reader).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut outside = open(scoped).await.unwrap();
    read_until(&mut stream, "open", Duration::from_secs(5)).await.expect("the stream opens");
    read_until(&mut outside, "open", Duration::from_secs(5)).await.expect("the stream opens");
    let browser = Browser::sign_in(&app, "alice", Role::Analyst).await;
    browser.post(&format!("/incidents/{id}/comments"), &[("comment", "seen live")]).await;
    let wanted = format!("data: {{\"incidentId\":\"{id}\",\"kind\":\"commented\"}}");
    let events = read_until(&mut stream, &wanted, Duration::from_secs(5)).await;
    assert!(events.is_some_and(|e| e.contains("event: incident")), "the comment was announced");
    assert!(
        read_until(&mut outside, "commented", Duration::from_millis(500)).await.is_none(),
        "a caller outside the incident's device groups hears nothing of it"
    );
    // Ingest announces the incidents it creates, which is what the queue's notice listens for.
    let created = ingest(&app, json!([alert("e2", "Port scan", "far-away-host", 30)])).await;
    let wanted = format!("data: {{\"incidentId\":\"{created}\",\"kind\":\"created\"}}");
    assert!(read_until(&mut stream, &wanted, Duration::from_secs(5)).await.is_some(), "the new incident was announced");
    // The page's new-incidents notice counts what arrived after what it shows.
    let notice = browser.fragment(&format!("/live/new-incidents?since={}", id.parse::<i64>().unwrap() - 1)).await;
    assert!(notice.contains("2 new incidents — refresh"), "{notice}");
    assert!(browser.fragment(&format!("/live/new-incidents?since={created}")).await.trim().is_empty());
}

on_both_backends!(
    every_tab_renders,
    alerts_page_through_keyset_links,
    a_stale_edit_is_refused_with_the_current_values,
    an_invalid_determination_is_refused_with_the_reason,
    managing_saves_through_the_manage_layer,
    html_is_escaped_everywhere,
    moving_an_alert_to_a_new_incident,
    the_event_stream_announces_a_comment,
);
