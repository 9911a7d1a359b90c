//! `muster bench ui`: the web pages' server time, from a request on loopback to its last byte, on
//! the demo queue (loaded into a temporary SQLite file, as `serve --demo` loads it) or on the
//! database given: the queue's first page of 50 rows in its default view and in filtered, sorted
//! and searched views, the results fragment htmx swaps in, and the newest incident's page.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use muster_core::access::Role;
use muster_core::store::Store;
use muster_server::{AppState, ServerConfig};

use super::bench::LoopbackServer;
use super::{demo, timing};
use crate::cli::BenchUiArgs;
use crate::database::Database;

/// A page's budget, server time.
const PAGE_BUDGET: Duration = Duration::from_millis(200);
/// Rows on a queue page.
const PAGE_ROWS: usize = 50;

/// One timed page: its name, path and query, whether htmx asks for it, and whether it is a
/// queue page (and so must list a full page of rows).
struct Page {
    name: &'static str,
    path: String,
    htmx: bool,
    queue: bool,
}

fn queue(name: &'static str, path: &str, htmx: bool) -> Page {
    Page { name, path: path.to_owned(), htmx, queue: true }
}

pub async fn run(database: Option<String>, args: BenchUiArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let url = database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("demo.db").display()));
    let db = Database::open(&url).await?;
    let store = db.store();
    if store.max_incident_id().await? == 0 {
        let state = AppState::new(store.clone(), ServerConfig::default());
        demo::load(&state).await?;
        println!("load: the demo queue, {} incidents", store.max_incident_id().await?);
    }
    let outcome = time_pages(store, args.samples).await;
    db.close().await;
    outcome
}

async fn time_pages(store: Arc<dyn Store>, samples: u32) -> anyhow::Result<()> {
    let backend = store.backend();
    let server = LoopbackServer::start(store, Role::Analyst, |state| state).await?;
    let (address, token) = (server.address, server.token.clone());
    let client = reqwest::Client::new();
    let get = |path: &str, htmx: bool| {
        let request = client.get(format!("http://{address}{path}")).bearer_auth(&token).header("accept", "text/html");
        if htmx {
            request.header("hx-request", "true")
        } else {
            request
        }
    };
    let front = get("/", false).send().await?.text().await?;
    let Some(newest) = first_incident(&front) else { bail!("the queue's default view lists no incident") };
    let pages = [
        queue("queue, default view (last 30 days)", "/", false),
        queue("queue results, as htmx swaps them in", "/?range=30d", true),
        queue("queue, active, sorted by severity", "/?status=active&sort=severity&order=desc", false),
        queue("queue, searched for a device", "/?q=ws-0", false),
        queue("queue, low severity, 6 months, page 2", "/?severity=low&range=6m&page=2", false),
        Page { name: "newest incident's page", path: format!("/incidents/{newest}"), htmx: false, queue: false },
    ];
    println!("pages: {samples} requests each over loopback HTTP, on {backend}");
    let mut over = Vec::new();
    for page in &pages {
        let timed = timing::time(page.name, samples, || get(&page.path, page.htmx)).await?;
        let rows = rows(&timed.body);
        if page.queue && rows != PAGE_ROWS {
            bail!("{}: the page lists {rows} incidents, not a full page of {PAGE_ROWS}", page.name);
        }
        let held = if page.queue { format!("{rows} rows") } else { format!("{} KiB", timed.body.len() / 1024) };
        if !timed.report(page.name, PAGE_BUDGET, &held) {
            over.push(page.name);
        }
    }
    timing::verdict(&over);
    server.stop().await
}

/// The queue rows an answer holds.
fn rows(html: &str) -> usize {
    html.matches("<tr class=\"incident").count()
}

/// The id of the first row the queue page lists.
fn first_incident(html: &str) -> Option<&str> {
    let at = html.find("<tr class=\"incident")?;
    let rest = &html[at..];
    let id = rest.split("data-id=\"").nth(1)?.split('"').next()?;
    Some(id)
}
