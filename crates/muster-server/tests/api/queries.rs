//! The queue's OData over real HTTP, on SQLite and PostgreSQL: every operator, orders by rank,
//! counts, search, expansion, next links that stay stable while alerts arrive, and bad input.

use muster_core::access::Role;
use muster_core::store::WriteBatch;
use muster_server::accounts::{self, TokenSpec};
use muster_store_tests::backends::TestDb;
use muster_store_tests::fixtures::{alert, stored};
use muster_store_tests::queries::queue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, TestApp};

async fn token(app: &TestApp, role: Role) -> String {
    use muster_core::time::Clock;
    let spec = TokenSpec { name: "q".into(), role, user: None, expires_in_days: None, device_groups: Vec::new() };
    accounts::create_token(app.store.as_ref(), spec, "test", app.clock.now()).await.unwrap().1
}

async fn get(app: &TestApp, token: &str, path_and_query: &str) -> (StatusCode, Value) {
    let response = app.client.get(app.url(path_and_query)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET /v1.0/security/incidents` with `$filter=…` (URL-encoded here), the ids in the order sent.
async fn filtered(app: &TestApp, token: &str, filter: &str) -> Vec<String> {
    let path = format!("/v1.0/security/incidents?$filter={}", urlencode(filter));
    let (status, body) = get(app, token, &path).await;
    assert_eq!(status, StatusCode::OK, "{filter}: {body}");
    ids(&body)
}

fn ids(body: &Value) -> Vec<String> {
    body["value"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

/// Percent-encodes a query value.
fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn seeded(app: &TestApp) {
    let alerts = vec![stored(alert("x-1", "h1", "u1", 5), 2), stored(alert("x-2", "h2", "u2", 6), 2)];
    app.store.write(WriteBatch { incidents: queue(), alerts, ..Default::default() }).await.unwrap();
}

/// Each operator, literal kind and lambda selects what it says; the default order is newest
/// activity first.
async fn filters_select_what_they_say(app: TestApp) {
    seeded(&app).await;
    let t = token(&app, Role::Viewer).await;
    let cases: &[(&str, &[&str])] = &[
        ("status eq 'active'", &["6", "3"]),
        ("status ne 'active'", &["8", "7", "5", "4", "2", "1"]),
        ("severity eq 'high'", &["6", "2"]),
        ("severity ge 'medium'", &["6", "5", "2", "1"]),
        ("severity gt 'medium'", &["6", "2"]),
        ("severity lt 'low'", &["7", "3"]),
        ("severity le 'low'", &["8", "7", "4", "3"]),
        ("severity eq microsoft.graph.security.alertSeverity'high'", &["6", "2"]),
        ("lastActivityDateTime gt 2024-05-01T00:50:00Z", &["8", "7", "6"]),
        ("lastActivityDateTime lt 2024-05-01T00:30:00Z and lastActivityDateTime ge 2024-05-01T00:10:00Z", &["2", "1"]),
        ("alertCount le 2", &["2", "1"]),
        ("id eq '4'", &["4"]),
        ("assignedTo eq 'ANALYST2@contoso.com'", &["6", "2"]),
        ("assignedTo eq null", &["7", "5", "3", "1"]),
        ("not (assignedTo eq null)", &["8", "6", "4", "2"]),
        ("assignedTo ne null and severity eq 'low'", &["8", "4"]),
        ("(status eq 'active' or status eq 'resolved') and severity eq 'high'", &["6", "2"]),
        ("status eq 'active' or status eq 'resolved' and severity eq 'high'", &["6", "3", "2"]),
        ("status in ('active', 'resolved')", &["8", "6", "5", "3", "2"]),
        ("classification eq 'truePositive'", &["6", "3"]),
        ("classification eq null", &["8", "7", "5", "4", "2", "1"]),
        ("customTags/any(t: t eq 'vip')", &["2", "1"]),
        ("customTags/any(t: t eq 'vip' or t eq 'finance')", &["3", "2", "1"]),
        ("customTags/any()", &["3", "2", "1"]),
        ("not customTags/any()", &["8", "7", "6", "5", "4"]),
        ("serviceSources/any(s: s eq 'suricata') and severity eq 'high'", &["6"]),
        ("contains(displayName, 'ransom')", &["8", "6", "4", "2"]),
        ("startswith(displayName, 'Phishing') and endswith(displayName, '-7')", &["7"]),
        ("true", &["8", "7", "6", "5", "4", "3", "2", "1"]),
    ];
    for (filter, expected) in cases {
        assert_eq!(filtered(&app, &t, filter).await, *expected, "{filter}");
    }
}

/// Orders by rank and by several keys, counts, search, `$select` and `$expand`.
async fn orders_counts_search_and_expand(app: TestApp) {
    seeded(&app).await;
    let t = token(&app, Role::Viewer).await;
    let (_, body) =
        get(&app, &t, "/v1.0/security/incidents?$orderby=severity%20desc,id%20asc&$top=4&$count=true").await;
    assert_eq!(ids(&body), ["2", "6", "1", "5"]);
    assert_eq!(body["@odata.count"], 8);
    assert!(body["@odata.nextLink"].as_str().unwrap().starts_with(&app.url("/v1.0/security/incidents?")));

    let (_, body) = get(&app, &t, "/v1.0/security/incidents?$orderby=status&$select=status").await;
    let statuses: Vec<&str> = body["value"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    // By rank (CSDL order: active, resolved, inProgress), not alphabetically.
    assert_eq!(
        statuses,
        ["active", "active", "resolved", "resolved", "resolved", "inProgress", "inProgress", "inProgress"]
    );
    assert!(body["value"][0].get("displayName").is_none());

    let response = app
        .client
        .get(app.url("/v1.0/security/incidents/$count?$filter=severity%20eq%20'high'"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "2");
    let response = app.client.get(app.url("/v1.0/security/alerts_v2/$count")).bearer_auth(&t).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "2");

    let (_, body) = get(&app, &t, "/v1.0/security/incidents?$search=ransomware%20host-4").await;
    assert_eq!(ids(&body), ["4"]);
    let (_, body) = get(&app, &t, "/v1.0/security/incidents?$search=laptop-7").await;
    assert_eq!(ids(&body), ["7"]);
    let (_, body) = get(&app, &t, "/v1.0/security/alerts_v2?$search=thing%20x-2").await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);

    let (_, body) = get(&app, &t, "/v1.0/security/incidents?$filter=id%20eq%20'2'&$expand=alerts&$select=id").await;
    let alerts = body["value"][0]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["@odata.type"], "#microsoft.graph.security.alert");
    // A whole page expanded keeps its order, each incident with its own alerts.
    let (_, body) = get(&app, &t, "/v1.0/security/incidents?$orderby=id%20asc&$expand=alerts").await;
    assert_eq!(ids(&body), ["1", "2", "3", "4", "5", "6", "7", "8"]);
    for incident in body["value"].as_array().unwrap() {
        let alerts = incident["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), if incident["id"] == "2" { 2 } else { 0 }, "{incident}");
        assert!(alerts.iter().all(|a| a["incidentId"] == incident["id"]));
    }
    let (status, body) = get(&app, &t, "/v1.0/security/incidents/2?$expand=alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
    let (status, body) = get(&app, &t, "/v1.0/security/incidents/2/alerts?$top=1&$count=true").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["@odata.count"], 2);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(next.contains("/v1.0/security/incidents/2/alerts?"), "{next}");
    let (status, _) = get(&app, &t, "/v1.0/security/incidents/99/alerts").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = get(&app, &t, "/v1.0/security/alerts_v2?$filter=severity%20eq%20'high'%20and%20incidentId%20eq%20'2'&$orderby=lastActivityDateTime%20asc").await;
    let titles: Vec<&str> = body["value"].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Suspicious thing x-1", "Suspicious thing x-2"]);
}

/// Alerts from distinct hosts and users, so each opens its own incident.
fn graph_alert(n: i64) -> Value {
    let when = start_time().plus_secs(n * 60).to_string();
    json!({
        "providerAlertId": format!("p-{n}"), "title": format!("Detection {n}"), "detectorId": format!("det-{n}"),
        "severity": "medium", "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
        "firstActivityDateTime": when, "lastActivityDateTime": when,
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": format!("host-{n}")}]
    })
}

/// Following next links reads every record once, while newer alerts (and their incidents) keep
/// arriving ahead of the cursor.
async fn next_links_are_stable_while_alerts_arrive(app: TestApp) {
    let ingest = token(&app, Role::Ingest).await;
    let viewer = token(&app, Role::Viewer).await;
    // A day on, so no alert below is in the future (future times are clamped to now).
    app.clock.set(start_time().plus_secs(86_400));
    let post = |body: Value| {
        let request = app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(&ingest).json(&body);
        async move { assert_eq!(request.send().await.unwrap().status(), StatusCode::OK) }
    };
    post(Value::Array((1..=9).map(graph_alert).collect())).await;
    for (list, top) in [("/v1.0/security/incidents", 2), ("/v1.0/security/alerts_v2", 4)] {
        let count = app.client.get(app.url(&format!("{list}/$count"))).bearer_auth(&viewer).send().await.unwrap();
        let expected: usize = count.text().await.unwrap().parse().unwrap();
        let mut next = Some(app.url(&format!("{list}?$top={top}")));
        let mut seen = Vec::new();
        let mut late = 100;
        while let Some(url) = next {
            let body: Value = app.client.get(&url).bearer_auth(&viewer).send().await.unwrap().json().await.unwrap();
            assert!(body["value"].as_array().unwrap().len() <= top, "{body}");
            seen.extend(
                body["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["title"].as_str().or(v["id"].as_str()).unwrap().to_owned()),
            );
            post(graph_alert(late)).await;
            late += 1;
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (expected, expected), "{list}: {seen:?}");
    }
}

/// Malformed or unsupported OData is a 400 naming the problem; nothing panics.
async fn bad_queries_are_refused_with_reasons(app: TestApp) {
    seeded(&app).await;
    let t = token(&app, Role::Viewer).await;
    let deep = format!("{}status eq 'active'{}", "(".repeat(1000), ")".repeat(1000));
    // Past 64 KiB a URI is refused by the HTTP library itself (client and server); 60 KB is the
    // largest filter a client can send, and the parser's own tests cover 100 KB.
    let long = format!("displayName eq '{}'", "x".repeat(60 * 1024));
    let cases: Vec<(String, &str)> = vec![
        ("$filter=colour eq 'red'".into(), "colour"),
        ("$filter=alertCount eq 'many'".into(), "whole number"),
        ("$filter=createdDateTime ge 'soon'".into(), "DateTimeOffset"),
        ("$filter=severity eq 'apocalyptic'".into(), "not a member of alertSeverity"),
        ("$filter=(status eq 'active'".into(), "no matching ')'"),
        ("$filter=status eq 'active')".into(), "no matching '('"),
        ("$filter=status eq 'active".into(), "no closing quote"),
        ("$filter=tolower(displayName) eq 'x'".into(), "not supported"),
        ("$filter=customTags eq 'vip'".into(), "collection"),
        (format!("$filter={deep}"), "nested"),
        (format!("$filter={long}"), "bytes long"),
        ("$top=-1".into(), "negative"),
        ("$top=100".into(), "limit of '50'"),
        ("$skip=-3".into(), "negative"),
        ("$orderby=colour desc".into(), "colour"),
        ("$orderby=severity sideways".into(), "'asc' or 'desc'"),
        ("$skiptoken=bm9waXBl".into(), "$skiptoken"),
        ("$expand=evidence".into(), "navigation property"),
        ("$search=\"unclosed".into(), "closing"),
        ("$count=maybe".into(), "$count"),
    ];
    for (query, expected) in cases {
        let mut url = reqwest::Url::parse(&app.url("/v1.0/security/incidents")).unwrap();
        let (name, value) = query.split_once('=').unwrap();
        url.query_pairs_mut().append_pair(name, value);
        let response = app.client.get(url).bearer_auth(&t).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{}", &query[..query.len().min(80)]);
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{}: {message}", &query[..query.len().min(80)]);
        assert_eq!(body["error"]["code"], "invalidRequest");
    }
    // A skiptoken from one order is refused under another.
    let (_, body) = get(&app, &t, "/v1.0/security/incidents?$top=2").await;
    let next = body["@odata.nextLink"].as_str().unwrap().to_owned();
    let (status, body) = get(&app, &t, &format!("{}&$orderby=severity", next.trim_start_matches(&app.url("")))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Alerts clamp $top rather than refuse it.
    let (status, _) = get(&app, &t, "/v1.0/security/alerts_v2?$top=5000").await;
    assert_eq!(status, StatusCode::OK);
}

/// Facet counts follow the view's filter and search; a bad limit is refused.
async fn facet_counts_follow_the_view(app: TestApp) {
    seeded(&app).await;
    let t = token(&app, Role::Viewer).await;
    let counts = |body: &Value, property: &str| -> Vec<(Value, u64)> {
        let facet = body["facets"].as_array().unwrap().iter().find(|f| f["property"] == property).unwrap();
        facet["values"].as_array().unwrap().iter().map(|v| (v["value"].clone(), v["count"].as_u64().unwrap())).collect()
    };
    let (status, body) = get(&app, &t, "/v1.0/muster/incidents/facets").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["counted"].as_u64(), body["complete"].as_bool()), (Some(8), Some(true)));
    assert_eq!(counts(&body, "severity").iter().map(|c| c.1).sum::<u64>(), 8);
    assert!(counts(&body, "assignedTo").contains(&(Value::Null, 4)), "{body}");
    let filter = urlencode("customTags/any(t: t eq 'vip')");
    let (_, body) = get(&app, &t, &format!("/v1.0/muster/incidents/facets?$filter={filter}")).await;
    assert_eq!(body["counted"], 2);
    assert_eq!(counts(&body, "customTags"), vec![(json!("vip"), 2), (json!("finance"), 1)]);
    let (_, body) = get(&app, &t, "/v1.0/muster/incidents/facets?$search=ransomware&limit=3").await;
    assert_eq!((body["counted"].as_u64(), body["complete"].as_bool()), (Some(3), Some(false)));
    for bad in ["limit=0", "limit=lots", "$filter=colour eq 'red'"] {
        let (status, body) = get(&app, &t, &format!("/v1.0/muster/incidents/facets?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

/// Members after `unknownFutureValue` read as it unless the client prefers to see them.
async fn evolvable_members_need_the_preference(app: TestApp) {
    let mut incidents = queue();
    incidents[0].status = muster_core::enums::IncidentStatus::AwaitingAction;
    app.store.write(WriteBatch { incidents, ..Default::default() }).await.unwrap();
    let t = token(&app, Role::Viewer).await;
    let response = app.client.get(app.url("/v1.0/security/incidents/1")).bearer_auth(&t).send().await.unwrap();
    assert!(response.headers().get("preference-applied").is_none());
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "unknownFutureValue");
    let response = app
        .client
        .get(app.url("/v1.0/security/incidents?$filter=id eq '1'"))
        .bearer_auth(&t)
        .header("Prefer", "include-unknown-enum-members")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["preference-applied"], "include-unknown-enum-members");
    assert_eq!(response.json::<Value>().await.unwrap()["value"][0]["status"], "awaitingAction");
}

on_both_backends!(
    facet_counts_follow_the_view,
    evolvable_members_need_the_preference,
    filters_select_what_they_say,
    orders_counts_search_and_expand,
    next_links_are_stable_while_alerts_arrive,
    bad_queries_are_refused_with_reasons,
);
