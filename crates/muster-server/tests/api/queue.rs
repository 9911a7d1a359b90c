//! The queue page over real HTTP, on SQLite and on PostgreSQL: full pages and htmx fragments,
//! the view in the URL, refusals beside their field, escaping, columns per person, and who may
//! change what from the bulk bar.

use muster_core::access::Role;
use muster_core::enums::IncidentStatus;
use muster_core::IncidentId;
use muster_store_tests::backends::TestDb;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::helpers::{start_time, TestApp};

/// A form post from the queue's `?severity=high` view, as htmx sends it.
fn from_queue(browser: &Browser, path: &str, pairs: &[(&str, &str)], csrf: bool) -> RequestBuilder {
    browser.form(path, pairs, csrf).header("hx-current-url", format!("http://{}/?severity=high", browser.app.addr))
}

/// Three incidents on three hosts: high, medium and low. Returns their ids, in that order.
async fn seed(app: &TestApp) -> Vec<String> {
    let token = app.token("edr", Role::Ingest, &[]).await;
    let alert = |id: &str, host: &str, minutes: i64, severity: &str| {
        let when = start_time().plus_secs(minutes * 60).to_string();
        json!({
            "providerAlertId": id, "title": format!("<script>alert('{id}')</script>"), "detectorId": format!("det-{id}"),
            "severity": severity, "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
            "categories": ["Execution"], "firstActivityDateTime": when, "lastActivityDateTime": when,
            "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host, "osPlatform": "Windows11"}]
        })
    };
    let body = json!([
        alert("a1", "ws-high", -30, "high"),
        alert("a2", "ws-medium", -20, "medium"),
        alert("a3", "ws-low", -10, "low")
    ]);
    let response =
        app.client.post(app.url("/v1.0/security/alerts_v2")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["value"].as_array().unwrap().iter().map(|v| v["incidentId"].as_str().unwrap().to_owned()).collect()
}

fn rows(html: &str) -> usize {
    html.matches("<tr class=\"incident\"").count()
}

async fn the_queue_is_a_page_and_a_fragment(app: TestApp) {
    let ids = seed(&app).await;
    let analyst = Browser::sign_in(&app, "ann", Role::Analyst).await;

    let page = analyst.get("/").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("id=\"queue-form\""), "the whole page");
    assert_eq!(rows(&html), 3, "{html}");
    assert!(html.contains("includeIndicatorStyles"), "htmx is told not to inject styles");
    // The panel counts each value over the time range, from the store's facet counts.
    assert!(html.contains("value=\"high\"> <span>High</span> <span class=\"count\">1</span>"), "{html}");
    assert!(html.contains("value=\"unassigned\"> <span>Unassigned</span> <span class=\"count\">3</span>"), "{html}");
    assert!(html.contains("value=\"ws-high\"") || html.contains("<span>Windows11</span>"), "stored values are offered");
    assert!(
        !html.contains(" style=") && !html.contains("<style") && !html.contains(" hx-on"),
        "nothing the CSP refuses"
    );
    // Newest activity first: low (10 minutes ago) above high (30 minutes ago).
    let low = html.find(&format!("data-id=\"{}\"", ids[2])).unwrap();
    let high = html.find(&format!("data-id=\"{}\"", ids[0])).unwrap();
    assert!(low < high);

    let fragment = analyst.htmx("/?severity=high&q=&sort=&order=&range=30d").send().await.unwrap();
    assert_eq!(fragment.headers()["hx-push-url"], "/?severity=high", "the clean URL of the view");
    let html = fragment.text().await.unwrap();
    assert!(!html.contains("<html") && !html.contains("queue-form\" class"), "only the results");
    assert_eq!(rows(&html), 1);
    assert!(html.contains(&format!("data-id=\"{}\"", ids[0])));
    assert!(html.contains("sev sev-high") && html.contains(">High<"), "colour and words");

    // A search the query layer cannot read is said beside the box, in a page that still works.
    let refused = analyst.htmx("/?q=%22unclosed").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::OK);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"q-error\"") && html.contains("closing"), "{html}");
    let bad_range = analyst.get("/?range=custom&from=yesterday").send().await.unwrap().text().await.unwrap();
    assert!(bad_range.contains("is not a date"), "{bad_range}");

    // Alert titles are text, not markup, in the expanded row.
    let alerts = analyst.htmx(&format!("/queue/incidents/{}/alerts?span=5", ids[0])).send().await.unwrap();
    let html = alerts.text().await.unwrap();
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>"));
    let preview =
        analyst.htmx(&format!("/queue/incidents/{}/preview", ids[1])).send().await.unwrap().text().await.unwrap();
    assert!(preview.contains(&format!("href=\"/incidents/{}\"", ids[1])) && preview.contains("id=\"manage-slot\""));
    let missing = analyst.htmx("/queue/incidents/999999/preview").send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

async fn columns_are_per_person(app: TestApp) {
    seed(&app).await;
    let ann = Browser::sign_in(&app, "ann", Role::Viewer).await;
    let bob = Browser::sign_in(&app, "bob", Role::Viewer).await;
    let saved =
        from_queue(&ann, "/queue/columns", &[("col", "severity"), ("col", "deviceGroups"), ("col", "nonsense")], true);
    let html = saved.send().await.unwrap().text().await.unwrap();
    let order: Vec<&str> = html.split("<th class=\"col-").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(order, ["name", "severity", "deviceGroups"], "the name stays; unknown names drop");
    let again = ann.get("/").send().await.unwrap().text().await.unwrap();
    assert!(again.contains("th class=\"col-deviceGroups\"") && !again.contains("th class=\"col-assignedTo\""));
    let other = bob.get("/").send().await.unwrap().text().await.unwrap();
    assert!(!other.contains("th class=\"col-deviceGroups\"") && other.contains("th class=\"col-assignedTo\""));
    let forged = from_queue(&ann, "/queue/columns", &[("col", "id")], false).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "CSRF");
}

async fn bulk_changes_need_manage_access(app: TestApp) {
    let ids = seed(&app).await;
    let viewer = Browser::sign_in(&app, "vic", Role::Viewer).await;
    let analyst = Browser::sign_in(&app, "ann", Role::Analyst).await;
    let resolve = [("id", ids[0].as_str()), ("id", ids[1].as_str()), ("status", "resolved"), ("tags", "triaged")];
    let status = |id: &str| {
        let store = app.store.clone();
        let id: IncidentId = id.parse().unwrap();
        async move { store.incident(id).await.unwrap().unwrap().status }
    };

    assert_eq!(
        from_queue(&viewer, "/queue/bulk", &resolve, true).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        from_queue(&analyst, "/queue/bulk", &resolve, false).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(&ids[0]).await, IncidentStatus::Active, "refused changes change nothing");

    // A pair that does not fit is refused beside its field, the bar swapped in place.
    let misfit =
        from_queue(&analyst, "/queue/bulk", &[("id", ids[0].as_str()), ("assessment", "falsePositive:malware")], true)
            .send()
            .await
            .unwrap();
    assert_eq!(misfit.headers()["hx-retarget"], "#bulk-form");
    let html = misfit.text().await.unwrap();
    assert!(html.contains("does not fit"), "{html}");
    let nothing = from_queue(&analyst, "/queue/bulk", &[("id", ids[0].as_str())], true).send().await.unwrap();
    assert!(nothing.text().await.unwrap().contains("Choose a change"));

    let done = from_queue(&analyst, "/queue/bulk", &resolve, true).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let html = done.text().await.unwrap();
    assert!(html.contains("Updated 2 incidents"), "{html}");
    assert_eq!(status(&ids[0]).await, IncidentStatus::Resolved);
    assert_eq!(status(&ids[1]).await, IncidentStatus::Resolved);
    assert_eq!(status(&ids[2]).await, IncidentStatus::Active);
    let tagged = app.store.incident(ids[1].parse().unwrap()).await.unwrap().unwrap();
    assert!(tagged.custom_tags.contains(&"triaged".to_owned()));

    let assign = [("id", ids[2].as_str()), ("assign", "me"), ("assessment", "truePositive:malware")];
    from_queue(&analyst, "/queue/bulk", &assign, true).send().await.unwrap();
    let assigned = app.store.incident(ids[2].parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(assigned.assigned_to.as_deref(), Some("ann"));
    assert_eq!(assigned.assessment.determination().map(|d| d.to_string()).as_deref(), Some("malware"));
    let mine = analyst.htmx("/?assigned=me").send().await.unwrap().text().await.unwrap();
    assert_eq!(rows(&mine), 1, "assigned to me");
}

on_both_backends!(the_queue_is_a_page_and_a_fragment, columns_are_per_person, bulk_changes_need_manage_access);
