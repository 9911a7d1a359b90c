//! The incident page as an analyst uses it: managing, commenting seen live on a second page,
//! moving an alert, and the README's screenshot.

use std::path::PathBuf;

use crate::harness::Harness;
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

/// `docs/incident.png` for the README: the demo's first incident at 1440×900.
#[tokio::test]
async fn screenshot_for_the_readme() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    h.browser.client.set_window_size(1440, 900).await.unwrap();
    open_first_incident(&h, "summary").await;
    h.browser.wait_for(".timeline li").await;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/incident.png");
    h.browser.screenshot(&path).await;
}
