//! `muster bench queue`: a seeded queue of a million incidents (five million alerts) loaded into a
//! store, then the first page of a fixed set of analysts' views timed over real HTTP, p50 and p99
//! each. The load is written straight to storage (correlation would take long to build a queue
//! this size); a database a previous run loaded is reused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use muster_core::access::Role;
use muster_core::store::{EncodedBatch, Store, StoredAlert, WriteBatch};
use muster_core::Timestamp;
use muster_sim::queue::QueueWorkload;
use tokio::sync::mpsc;

use super::bench::LoopbackServer;
use super::timing;
use crate::cli::BenchQueueArgs;
use crate::database::Database;

/// Incidents per write.
const CHUNK: u64 = 2_000;
/// The workload's clock: its newest incident is this recent.
const END: i64 = 1_798_761_600; // 2027-01-01T00:00:00Z

/// One timed view: a name, the request (path and query) it sends, and its p99 budget.
struct View {
    name: &'static str,
    path: String,
    budget: Duration,
}

/// A queue page's budget, and a filter panel's.
const PAGE_BUDGET: Duration = Duration::from_millis(20);
const FACETS_BUDGET: Duration = Duration::from_millis(100);

fn page(name: &'static str, path: String) -> View {
    View { name, path, budget: PAGE_BUDGET }
}

fn views(workload: &QueueWorkload) -> Vec<View> {
    let end = workload.end;
    let days_ago = |d: i64| end.plus_secs(-d * 86_400).to_string();
    let one = workload.incidents / 2 + 17;
    let default = format!("lastActivityDateTime ge {}", days_ago(30));
    vec![
        page("default (last 30 days, newest first)", format!("/v1.0/security/incidents?$top=50&$filter={default}")),
        page(
            "assigned to me, active",
            "/v1.0/security/incidents?$top=50&$filter=assignedTo eq 'analyst7@contoso.com' and status eq 'active'"
                .into(),
        ),
        page(
            "high severity, tagged ransomware",
            "/v1.0/security/incidents?$top=50&$filter=severity eq 'high' and customTags/any(t: t eq 'ransomware')"
                .into(),
        ),
        page(
            "multiple service sources, last 7 days",
            format!(
                "/v1.0/security/incidents?$top=50&$filter=serviceSources/$count gt 1 and lastActivityDateTime ge {}",
                days_ago(7)
            ),
        ),
        page("search by device name", "/v1.0/security/incidents?$top=50&$search=\"ws-01234\"".into()),
        page("sorted by severity", "/v1.0/security/incidents?$top=50&$orderby=severity desc".into()),
        page("one incident with its alerts", format!("/v1.0/security/incidents/{one}?$expand=alerts")),
        View {
            name: "facet counts of the default view",
            path: format!("/v1.0/muster/incidents/facets?$filter={default}"),
            budget: FACETS_BUDGET,
        },
    ]
}

pub async fn run(database: Option<String>, args: BenchQueueArgs) -> anyhow::Result<()> {
    let workload = QueueWorkload {
        seed: args.seed,
        incidents: args.incidents,
        alerts_per_incident: args.alerts_per_incident,
        end: Timestamp::from_secs(END),
        days: 180,
    };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let url = database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("queue.db").display()));
    let db = Database::open(&url).await?;
    let store = db.store();
    let held = store.max_incident_id().await?;
    if held == 0 {
        load(&store, &workload).await?;
        db.refresh_statistics().await?;
    } else if held == workload.incidents as i64 {
        println!("load: reusing the {held} incidents already in the database");
    } else {
        bail!(
            "the database holds {held} incidents, not the workload's {}: give an empty database, or the one a \
             run with the same --incidents loaded",
            workload.incidents
        );
    }
    time_views(store, &workload, args.samples).await?;
    db.close().await;
    Ok(())
}

/// Generates the workload on the blocking threads and writes it chunk by chunk, in order.
async fn load(store: &Arc<dyn Store>, workload: &QueueWorkload) -> anyhow::Result<()> {
    let started = Instant::now();
    let progress = ProgressBar::new(workload.incidents);
    progress.set_style(
        ProgressStyle::with_template("load {bar:40} {pos}/{len} incidents ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (sender, mut chunks) = mpsc::channel::<anyhow::Result<(u64, u64, EncodedBatch)>>(4);
    let producer = {
        let (workload, codec) = (workload.clone(), store.body_codec());
        tokio::task::spawn_blocking(move || {
            let mut first = 1;
            while first <= workload.incidents {
                let last = (first + CHUNK - 1).min(workload.incidents);
                let encoded = (|| {
                    let mut batch = WriteBatch::default();
                    for n in first..=last {
                        let (incident, alerts) = workload.incident(n);
                        batch.alerts.extend(alerts.into_iter().map(|a| StoredAlert::new(a, incident.id)));
                        batch.incidents.push(incident);
                    }
                    let alerts = batch.alerts.len() as u64;
                    let mut encoded = batch.encode(codec.as_deref())?;
                    for row in &mut encoded.alerts {
                        row.new = true;
                    }
                    anyhow::Ok((last - first + 1, alerts, encoded))
                })();
                if sender.blocking_send(encoded).is_err() {
                    return;
                }
                first = last + 1;
            }
        })
    };
    let (mut incidents, mut alerts) = (0u64, 0u64);
    while let Some(chunk) = chunks.recv().await {
        let (n, a, encoded) = chunk?;
        store.write_encoded(vec![encoded]).await?;
        incidents += n;
        alerts += a;
        progress.set_position(incidents);
    }
    producer.await?;
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "load: {incidents} incidents with {alerts} alerts into {} in {secs:.0} s ({:.0} alerts/s)",
        store.backend(),
        alerts as f64 / secs
    );
    Ok(())
}

/// Serves the store on loopback and times each view's first page.
async fn time_views(store: Arc<dyn Store>, workload: &QueueWorkload, samples: u32) -> anyhow::Result<()> {
    let backend = store.backend();
    let server = LoopbackServer::start(store, Role::Analyst, |state| state).await?;
    let (address, token) = (server.address, server.token.clone());
    let client = reqwest::Client::new();
    println!("views: first page, {samples} requests each over loopback HTTP, on {backend}");
    let mut over = Vec::new();
    for view in views(workload) {
        let url = format!("http://{address}{}", view.path);
        let timed = timing::time(view.name, samples, || client.get(&url).bearer_auth(&token)).await?;
        let body: serde_json::Value = serde_json::from_str(&timed.body)?;
        let rows = ["value", "alerts", "facets"].iter().find_map(|k| body[*k].as_array()).map_or(1, Vec::len);
        if !timed.report(view.name, view.budget, &format!("{rows} rows")) {
            over.push(view.name);
        }
    }
    timing::verdict(&over);
    server.stop().await
}
