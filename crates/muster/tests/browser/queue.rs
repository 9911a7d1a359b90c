//! The queue page as an analyst uses it.

use crate::harness::{screenshot_target, Driver, Harness, Server};
use crate::one_at_a_time;

/// The incident ids the table shows, in order.
async fn ids(h: &Harness) -> Vec<String> {
    h.browser.texts("#queue-table tbody tr.incident td.col-id").await
}

#[tokio::test]
async fn strangers_get_the_login_form() {
    let _turn = one_at_a_time().await;
    let Some(driver) = Driver::start() else { return };
    let server = Server::start();
    let browser = driver.browser(&server.url).await;
    browser.goto("/?severity=high").await;
    browser.wait_for("form.card #login").await;
    assert!(browser.location().await.starts_with("/login?next="), "{}", browser.location().await);
    browser.fill("#login", "admin").await;
    browser.fill("#password", &server.admin_password).await;
    browser.click("form.card button[type=submit]").await;
    browser.wait_for("#queue-table").await;
    assert_eq!(browser.location().await, "/?severity=high", "back where the link pointed");
    browser.close().await;
}

#[tokio::test]
async fn the_queue_lists_filters_and_sorts() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    assert!(b.count("#queue-table tbody tr.incident").await > 0, "the demo queue has incidents");
    assert_eq!(b.attr("th.col-lastActivity", "aria-sort").await.as_deref(), Some("descending"));
    let summary = b.text_of("#result-count").await;
    assert!(summary.contains(" of "), "{summary}");

    // Severity high, from the panel: the URL says so and every row is high, in colour and words.
    b.click(".filters details[data-filter=severity] summary").await;
    b.click(".filters input[name=severity][value=high]").await;
    b.wait_url("severity=high").await;
    b.until("only high incidents", || async {
        let severities = b.texts("#queue-table td.col-severity").await;
        !severities.is_empty() && severities.iter().all(|s| s == "High")
    })
    .await;
    assert!(b.attr("#queue-table td.col-severity", "class").await.unwrap().contains("sev-high"));

    // Sorting by name: ascending after two clicks, with its arrow.
    b.click("th.col-name a").await;
    b.wait_url("sort=name&order=desc").await;
    b.wait_for("th.col-name[aria-sort=descending]").await;
    b.click("th.col-name a").await;
    b.wait_url("order=asc").await;
    b.wait_text("th.col-name .arrow", "↑").await;
    let names = b.texts("#queue-table td.col-name").await;
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names.first().map(|n| n.to_lowercase()), sorted.first().map(|n| n.to_lowercase()));
    assert!(b.location().await.contains("severity=high"), "the filter stayed on while sorting");

    // A search the query layer cannot read is refused beside the box, not as a blank page.
    b.fill("#q", "\"unclosed").await;
    b.wait_text("#q-error", "closing").await;
    b.fill("#q", "").await;
    b.wait_gone("#q-error:not(:empty)").await;

    // Nothing on the page needs what the CSP refuses: no <style> (htmx's own is turned off), no
    // style attributes, after all of the above was swapped in.
    let inline = b.client.execute("return document.querySelectorAll('style, [style]').length;", vec![]).await.unwrap();
    assert_eq!(inline, serde_json::json!(0));

    // "Assigned to me" is the panel's Me, and goes into the URL.
    b.click("#mine-toggle").await;
    b.wait_url("assigned=me").await;
    assert!(b.is_checked(".filters input[name=assigned][value=me]").await);
    h.browser.client.refresh().await.unwrap();
    b.wait_for("#queue-table").await;
    assert!(b.is_checked("#mine-toggle").await, "the toggle reads the URL on reload");
}

#[tokio::test]
async fn columns_are_kept_per_person() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    assert_eq!(b.count("th.col-deviceGroups").await, 0, "not shown by default");
    b.click("#columns-menu summary").await;
    b.click(".column-list li[data-key=deviceGroups] input[type=checkbox]").await;
    b.click(".column-list li[data-key=assignedTo] input[type=checkbox]").await;
    b.click(".column-list li[data-key=severity] button.up").await;
    b.click(".column-list li[data-key=severity] button.up").await;
    b.click("#columns-form button[type=submit]").await;
    b.wait_for("th.col-deviceGroups").await;
    b.wait_gone("th.col-assignedTo").await;

    // Reloaded, and in a browser of its own: the same columns, in the chosen order.
    for browser in [None, Some(h.second_browser().await)] {
        let b = browser.as_ref().unwrap_or(&h.browser);
        b.goto("/").await;
        b.wait_for("th.col-deviceGroups").await;
        assert_eq!(b.count("th.col-assignedTo").await, 0);
        let keys = {
            let mut keys = Vec::new();
            for th in b.client.find_all(fantoccini::Locator::Css("#queue-table thead th[data-key]")).await.unwrap() {
                keys.push(th.attr("data-key").await.unwrap().unwrap_or_default());
            }
            keys
        };
        assert_eq!(keys.first().map(String::as_str), Some("severity"), "{keys:?}");
        assert_eq!(keys.get(1).map(String::as_str), Some("name"), "{keys:?}");
        assert_eq!(keys.last().map(String::as_str), Some("deviceGroups"), "{keys:?}");
    }
}

#[tokio::test]
async fn a_shared_link_opens_the_same_view() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    b.click(".filters details[data-filter=status] summary").await;
    b.click(".filters input[name=status][value=active]").await;
    b.wait_url("status=active").await;
    b.select("#range", "7d").await;
    b.wait_url("range=7d").await;
    b.click("th.col-id a").await;
    b.wait_url("sort=id").await;
    b.wait_for("th.col-id[aria-sort=descending]").await;
    let link = b.location().await;
    let shown = ids(&h).await;
    assert!(!shown.is_empty());

    let other = h.second_browser().await;
    other.goto(&link).await;
    other.wait_for("th.col-id[aria-sort=descending]").await;
    assert_eq!(other.texts("#queue-table tbody tr.incident td.col-id").await, shown);
    assert!(other.is_checked(".filters input[name=status][value=active]").await);
    assert_eq!(other.attr("#range option[selected]", "value").await.as_deref(), Some("7d"));

    // Back goes to the view before, as it looked.
    b.client.back().await.unwrap();
    b.wait_for("th.col-lastActivity[aria-sort=descending]").await;
    assert!(!b.location().await.contains("sort=id"));
    other.close().await;
}

#[tokio::test]
async fn rows_expand_and_preview() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    let first = "#queue-table tbody tr.incident:first-child";
    let name = b.text_of(&format!("{first} td.col-name")).await;
    let id = b.attr(first, "data-id").await.unwrap();

    b.click(&format!("{first} button.expand")).await;
    b.wait_for(&format!("tr.alerts-row[data-for='{id}'] table.alerts tbody tr")).await;
    // A big incident lists its first alerts and says how many more the incident page has.
    let counts = b.text_of(&format!("{first} td.col-alerts")).await;
    let total: usize = counts.split('/').nth(1).unwrap().trim().parse().unwrap();
    let listed = b.count(&format!("tr.alerts-row[data-for='{id}'] table.alerts tbody tr")).await;
    assert_eq!(listed, total.min(20), "{counts}");
    if total > 20 {
        b.wait_text(&format!("tr.alerts-row[data-for='{id}'] .more"), &format!("{} more alerts", total - 20)).await;
    }
    assert_eq!(b.attr(&format!("{first} button.expand"), "aria-expanded").await.as_deref(), Some("true"));
    b.click(&format!("{first} button.expand")).await;
    b.wait_gone(&format!("tr.alerts-row[data-for='{id}']")).await;

    b.click(&format!("{first} button.circle")).await;
    b.wait_text("#preview-pane h2", &name).await;
    assert!(b.wait_for("#preview-pane").await.is_displayed().await.unwrap());
    assert_eq!(b.attr("#preview-pane a.button", "href").await, Some(format!("/incidents/{id}")));
    assert_eq!(b.attr("#manage-slot", "data-manage-url").await, Some(format!("/incidents/{id}/manage")));
    let severity = b.text_of("#preview-pane dd.sev").await;
    assert!(!severity.is_empty());
    b.click("#preview-close").await;
    b.until("the pane to close", || async { !b.wait_for("#preview-pane").await.is_displayed().await.unwrap() }).await;
}

#[tokio::test]
async fn bulk_resolves_a_shift_clicked_range() {
    let _turn = one_at_a_time().await;
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    b.goto("/?status=active").await;
    b.wait_for("#queue-table").await;

    let rows = "#queue-table tbody tr.incident";
    let chosen: Vec<String> = ids(&h).await.into_iter().take(3).collect();
    assert_eq!(chosen.len(), 3);
    b.click(&format!("{rows}:nth-child(1) .row-check")).await;

    // No change chosen: refused beside the button, and the selection stays.
    b.click("#bulk-apply").await;
    b.wait_text("#bulk-error", "Choose a change").await;
    assert!(b.is_checked(&format!("{rows}:nth-child(1) .row-check")).await);
    b.fill("#bulk-tags", &"x".repeat(101)).await;
    b.click("#bulk-apply").await;
    b.wait_text("#bulk-tags + .field-error", "longer than 100").await;

    b.shift_click(&format!("{rows}:nth-child(3) .row-check")).await;
    b.wait_text("#bulk-count", "3 incidents selected").await;
    assert!(b.is_checked(&format!("{rows}:nth-child(2) .row-check")).await, "shift-click took the range");

    b.select("#bulk-status", "resolved").await;
    b.fill("#bulk-tags", "<b>triaged</b>").await;
    b.click("#bulk-apply").await;
    b.wait_text("#bulk-notice", "Updated 3 incidents").await;
    b.until("the resolved incidents to leave the active view", || async {
        let now = ids(&h).await;
        !now.is_empty() && chosen.iter().all(|id| !now.contains(id))
    })
    .await;

    b.goto("/?status=resolved&sort=lastUpdate&order=desc").await;
    b.wait_for("#queue-table").await;
    let resolved: Vec<String> = ids(&h).await.into_iter().take(3).collect();
    let mut expected = chosen.clone();
    expected.sort();
    let mut got = resolved.clone();
    got.sort();
    assert_eq!(got, expected, "the three are the latest resolved");
    // The tag is text, not markup.
    let chips = b.texts(&format!("{rows}:first-child td.col-tags .chip")).await;
    assert!(chips.iter().any(|c| c == "<b>triaged</b>"), "{chips:?}");
    assert_eq!(b.count("td.col-tags .chip b").await, 0);
}

/// The README's `queue.png`, when `MUSTER_SCREENSHOTS` names a folder.
#[tokio::test]
async fn screenshot_of_the_queue() {
    let _turn = one_at_a_time().await;
    let Some(path) = screenshot_target("queue.png") else { return };
    let Some(h) = Harness::start().await else { return };
    let b = &h.browser;
    b.goto("/?status=active&status=inProgress").await;
    b.wait_for("#queue-table tbody tr.incident").await;
    b.click(".filters details[data-filter=severity] summary").await;
    b.click("#queue-table tbody tr.incident:nth-child(2) button.expand").await;
    b.wait_for("tr.alerts-row table.alerts").await;
    b.click("#queue-table tbody tr.incident:first-child button.circle").await;
    b.wait_for("#preview-pane h2").await;
    b.click("#queue-table tbody tr.incident:nth-child(4) .row-check").await;
    b.screenshot(&path).await;
}
