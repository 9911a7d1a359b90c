//! `muster bench ingest`: a fixed, seeded workload of simulated alerts through the correlation
//! engine and the store (and, with `--http`, through the HTTP API), printing throughput, peak
//! memory and how well the grouping matches the simulator's truth.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use muster_core::correlation::CorrelationConfig;
use muster_core::store::{PageRequest, Store};
use muster_core::time::Clock;
use muster_core::Alert;
use muster_server::correlator::Correlator;
use muster_sim::score::score;
use muster_sim::{simulate_iter, SimConfig, TruthRow};

use crate::cli::BenchIngestArgs;
use crate::database::Database;

/// A memory figure of this process from the kernel (Linux), in MiB: `VmHWM` (peak resident) or
/// `VmRSS` (resident now).
fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The simulated workload, parsed before the clock starts.
fn workload(args: &BenchIngestArgs) -> anyhow::Result<(Vec<Alert>, Vec<TruthRow>)> {
    let defaults = SimConfig::default();
    let config = SimConfig {
        seed: args.seed,
        target_alerts: args.alerts,
        attacks: args.attacks,
        // Keep the rate per hour realistic as the workload grows.
        duration_secs: (args.alerts as i64 / 20_000).max(1) * 24 * 3600,
        ..defaults
    };
    let mut alerts = Vec::with_capacity(args.alerts);
    let mut truth = Vec::with_capacity(args.alerts);
    for (value, row) in simulate_iter(&config) {
        alerts.push(Alert::from_json_value(value).context("the simulator wrote an invalid alert")?);
        truth.push(row);
    }
    Ok((alerts, truth))
}

/// Every alert's incident, read back from the store after the run (merges included).
async fn grouping(store: &dyn Store) -> anyhow::Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut page = PageRequest { limit: 10_000, after: None };
    loop {
        let alerts = store.list_alerts(&page).await?;
        let Some(last) = alerts.last() else { break };
        page.after = Some((last.alert.activity_time().map(|t| t.micros()).unwrap_or_default(), last.alert.id.clone()));
        for stored in alerts {
            if let Some(provider) = stored.alert.provider_alert_id {
                out.insert(provider, stored.incident_id.to_string());
            }
        }
    }
    Ok(out)
}

pub async fn run(
    database: Option<String>,
    correlation: CorrelationConfig,
    args: BenchIngestArgs,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (alerts, truth) = workload(&args)?;
    println!(
        "workload: {} simulated alerts, {} attacks, seed {} (generated and parsed in {:.1} s)",
        alerts.len(),
        args.attacks,
        args.seed,
        started.elapsed().as_secs_f64()
    );

    // The workload sits in memory for the whole run; the figure that matters is what comes on top.
    let workload_mib = memory_mib("VmRSS:");
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let url = database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = Database::open(&url).await?;
    let store = db.store();
    // "Now" is just after the last simulated activity, so nothing counts as from the future.
    let latest = alerts.iter().filter_map(Alert::activity_time).max();
    let now = latest.map_or_else(|| muster_core::time::SystemClock.now(), |t| t.plus_secs(3600));

    let started = Instant::now();
    if args.http {
        http_run(store.clone(), correlation, &alerts, args.batch, usize::from(args.clients)).await?;
    } else {
        let correlator = Correlator::start(store.as_ref(), correlation).await?;
        for batch in alerts.chunks(args.batch) {
            correlator.ingest(store.as_ref(), batch.to_vec(), now).await?;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let path = if args.http { format!("HTTP API ({} clients), engine and", args.clients) } else { "engine and".into() };
    println!(
        "ingest: {} alerts in {:.1} s through {path} {} store, batches of {}: {:.0} alerts/s",
        alerts.len(),
        elapsed,
        store.backend(),
        args.batch,
        alerts.len() as f64 / elapsed
    );
    if let (Some(peak), Some(workload)) = (memory_mib("VmHWM:"), workload_mib) {
        println!(
            "peak memory: {peak:.0} MiB resident, of which the parsed workload {workload:.0} MiB; \
             engine, store and server {:.0} MiB",
            peak - workload
        );
    }
    let grouped = grouping(store.as_ref()).await?;
    let s = score(&truth, &grouped);
    println!(
        "grouping: {} incidents; pairwise precision {:.3}, recall {:.3}; purity of attack incidents {:.3}; lost {}",
        s.incidents, s.pairwise_precision, s.pairwise_recall, s.purity, s.lost
    );
    db.close().await;
    Ok(())
}

/// Posts the workload to an in-process server over loopback HTTP, as NDJSON batches, from
/// `clients` clients at once, each taking the next batch when its last one is answered.
async fn http_run(
    store: Arc<dyn Store>,
    correlation: CorrelationConfig,
    alerts: &[Alert],
    batch: usize,
    clients: usize,
) -> anyhow::Result<()> {
    use muster_core::access::Role;
    use muster_core::time::{Clock, SystemClock};
    use muster_server::accounts::{create_token, TokenSpec};
    use muster_server::{AppState, ServerConfig};

    let spec = TokenSpec {
        name: "bench".into(),
        role: Role::Ingest,
        user: None,
        expires_in_days: Some(1),
        device_groups: vec![],
    };
    let (_, token) = create_token(store.as_ref(), spec, "bench", SystemClock.now()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let state =
        AppState::new(store, ServerConfig { listen: address, ..ServerConfig::default() }).with_correlation(correlation);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(muster_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let url = format!("http://{address}/v1.0/security/alerts_v2");
    let chunks: Vec<&[Alert]> = alerts.chunks(batch).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let post_batches = || async {
        while let Some(chunk) = chunks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            let mut body = String::new();
            for alert in *chunk {
                body.push_str(&serde_json::to_string(alert)?);
                body.push('\n');
            }
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(response.status().is_success(), "the server answered {}", response.status());
        }
        anyhow::Ok(())
    };
    futures_util::future::try_join_all((0..clients).map(|_| post_batches())).await?;
    let _ = stop.send(());
    server.await??;
    Ok(())
}
