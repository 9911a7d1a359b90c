//! The incident page as an analyst uses it: managing, commenting seen live on a second page,
//! moving an alert (and the queue seeing the incident that made), and the README's screenshot.

use crate::harness::{screenshot_target, Harness};
use crate::one_at_a_time;

/// Opens the first incident the queue lists and returns its id.
async fn open_first_incident(h: &Harness, tab: &str) -> String {
    let b = &h.browser;
    let id = b.text_of("#queue-table tbody tr.incident td.col-id").await;
    b.goto(&format!("/incidents/{id}?tab={tab}")).await;
    b.wait_for("#incident-header h1").await;
    id
}

#[tokio::test]
async fn an_analyst_assigns_and_resolves_an_incident() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    open_first_incident(&h, "summary").await;
    b.click("form.manage button[name=assign_me]").await;
    b.wait_text("form.manage .notice", "Saved.").await;
    b.wait_text("#incident-header .assigned", "admin").await;

    b.select("form.manage select[name=status]", "resolved").await;
    b.select("form.manage select[name=classification]", "truePositive").await;
    // The determinations follow the classification, swapped in by htmx.
    b.wait_for("form.manage select[name=determination] option[value=multiStagedAttack]").await;
    b.select("form.manage select[name=determination]", "malware").await;
    b.fill("form.manage textarea[name=resolving_comment]", "Host reimaged").await;
    b.click("form.manage > button[type=submit]").await;
    b.wait_text("#incident-header .status", "Resolved").await;
    b.wait_text("#incident-header .classification", "True positive").await;
    b.wait_text("#incident-header .determination", "Malware").await;
}

#[tokio::test]
async fn a_comment_appears_live_on_a_second_page() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let id = open_first_incident(&h, "history").await;
    let other = h.second_browser().await;
    other.goto(&format!("/incidents/{id}?tab=history")).await;
    other.wait_for("#log").await;
    other.wait_for("#live[data-live=open]").await;

    let b = &h.browser;
    b.fill("#comment-box", "Seen from the other page").await;
    b.click(".comment-form button[type=submit]").await;
    b.wait_text("#log", "Seen from the other page").await;
    other.wait_text("#log", "Seen from the other page").await;
    other.close().await;
}

#[tokio::test]
async fn an_alert_moves_to_a_new_incident() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    open_first_incident(&h, "alerts").await;
    let before = b.count(".alert-list input[name=alert]").await;
    assert!(before > 0);
    b.click(".alert-list input[name=alert]").await;
    b.click(".move input[name=destination][value=new]").await;
    b.click(".move button[type=submit]").await;
    b.wait_text(".alerts .notice", "Moved 1 alert to a new incident").await;
    b.click(".alerts .notice a").await;
    b.wait_for("#incident-header h1").await;
    assert_eq!(b.count(".alert-list input[name=alert]").await, 0, "the summary tab opens first");
}

#[tokio::test]
async fn the_queue_says_new_incidents_arrived() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    b.wait_for("#live[data-live=open]").await;
    let id = b.text_of("#queue-table tbody tr.incident td.col-id").await;
    assert!(b.text_of("#new-incidents").await.is_empty(), "nothing new yet");

    // Someone else splits an alert off into a new incident.
    let other = h.second_browser().await;
    other.goto(&format!("/incidents/{id}?tab=alerts")).await;
    other.click(".alert-list input[name=alert]").await;
    other.click(".move input[name=destination][value=new]").await;
    other.click(".move button[type=submit]").await;
    other.wait_text(".alerts .notice", "Moved 1 alert to a new incident").await;
    let created = other.attr(".alerts .notice a", "href").await.expect("a link to the new incident");
    let created = created.rsplit('/').next().unwrap().to_owned();
    other.close().await;

    b.wait_text("#new-incidents", "1 new incident — refresh").await;
    b.click("#new-incidents a").await;
    b.wait_gone("#new-incidents a").await;
    b.goto(&format!("/?q={created}")).await;
    b.wait_for("#queue-table tbody tr.incident").await;
    assert_eq!(b.texts("#queue-table tbody tr.incident td.col-id").await, [created]);
}

/// The README's `incident.png`: the demo's first incident, when `MUSTER_SCREENSHOTS` names a folder.
#[tokio::test]
async fn screenshot_of_an_incident() {
    let _turn = one_at_a_time().await;
    let Some(path) = screenshot_target("incident.png") else { return };
    let Some(h) = Harness::start().await else { return };
    open_first_incident(&h, "summary").await;
    h.browser.wait_for(".timeline li").await;
    h.browser.screenshot(&path).await;
}
