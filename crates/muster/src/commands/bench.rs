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

/// CPU seconds this process has used (user and system, all threads), from the kernel (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU seconds used so far by each of this process's threads, summed by thread name (Linux).
fn cpu_by_thread() -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some((head, rest))) = (stat.find('('), stat.rsplit_once(')')) else { continue };
        let name = head[open + 1..].to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        *out.entry(name).or_default() += (ticks(11) + ticks(12)) / 100.0;
    }
    out
}

/// The simulated workload, parsed before the clock starts, in batches of `args.batch` (built as
/// such, so no second copy of the alerts is ever held).
fn workload(args: &BenchIngestArgs) -> anyhow::Result<(Vec<Vec<Alert>>, Vec<TruthRow>)> {
    let defaults = SimConfig::default();
    let config = SimConfig {
        seed: args.seed,
        target_alerts: args.alerts,
        attacks: args.attacks,
        // Keep the rate per hour realistic as the workload grows.
        duration_secs: (args.alerts as i64 / 20_000).max(1) * 24 * 3600,
        ..defaults
    };
    let size = args.batch.max(1);
    let mut batches: Vec<Vec<Alert>> = Vec::with_capacity(args.alerts / size + 1);
    let mut truth = Vec::with_capacity(args.alerts);
    for (value, row) in simulate_iter(&config) {
        let alert = Alert::from_json_value(value).context("the simulator wrote an invalid alert")?;
        match batches.last_mut() {
            Some(batch) if batch.len() < size => batch.push(alert),
            _ => batches.push(vec![alert]),
        }
        truth.push(row);
    }
    Ok((batches, truth))
}

/// Every alert's incident, read back from the store after the run (merges included).
async fn grouping(store: &dyn Store) -> anyhow::Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut page = PageRequest { limit: 10_000, after: None };
    loop {
        let alerts = store.list_alerts(&page).await?;
        let Some(last) = alerts.last() else { break };
        page.after = Some((last.alert.activity_time().map(|t| t.micros()).unwrap_or_default(), last.seq));
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
    let (batches, truth) = workload(&args)?;
    let count: usize = batches.iter().map(Vec::len).sum();
    println!(
        "workload: {} simulated alerts, {} attacks, seed {} (generated and parsed in {:.1} s)",
        count,
        args.attacks,
        args.seed,
        started.elapsed().as_secs_f64()
    );

    // Over HTTP the request bodies are written before the clock starts, as a connector would hold them.
    let requests = if args.http { Some(request_bodies(&batches)?) } else { None };
    // The workload (and those bodies) sits in memory for the whole run; the figure that matters
    // is what comes on top.
    let workload_mib = memory_mib("VmRSS:");
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let url = database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = Database::open(&url).await?;
    let store = db.store();
    // "Now" is just after the last simulated activity, so nothing counts as from the future.
    let latest = batches.iter().flatten().filter_map(Alert::activity_time).max();
    let now = latest.map_or_else(|| muster_core::time::SystemClock.now(), |t| t.plus_secs(3600));

    let clients = usize::from(args.clients);
    let cpu_before = cpu_seconds();
    let threads_before = cpu_by_thread();
    let elapsed = if let Some(requests) = requests {
        http_run(store.clone(), correlation, requests, clients).await?
    } else {
        engine_run(store.clone(), correlation, batches, clients, now).await?
    };
    let path = if args.http { "HTTP API, engine and" } else { "engine and" };
    println!(
        "ingest: {count} alerts in {:.1} s through {path} {} store, batches of {} from {clients} sender(s): \
         {:.0} alerts/s",
        elapsed,
        store.backend(),
        args.batch,
        count as f64 / elapsed
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_seconds()) {
        let used = after - before;
        println!(
            "cpu: {used:.1} s over all threads, {:.1} µs per alert, {:.2} cores busy",
            used * 1e6 / count as f64,
            used / elapsed
        );
        let mut threads: Vec<(String, f64)> = cpu_by_thread()
            .into_iter()
            .map(|(name, after)| {
                let before = threads_before.get(&name).copied().unwrap_or(0.0);
                (name, after - before)
            })
            .filter(|(_, used)| *used >= 0.05)
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        let shown: Vec<String> = threads.iter().map(|(name, used)| format!("{name} {used:.1} s")).collect();
        println!("cpu by thread: {}", shown.join(", "));
    }
    if let (Some(peak), Some(workload)) = (memory_mib("VmHWM:"), workload_mib) {
        println!(
            "peak memory: {peak:.0} MiB resident, of which the workload {workload:.0} MiB ({}); \
             engine, store and server {:.0} MiB",
            if args.http { "parsed alerts and request bodies" } else { "parsed alerts" },
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

/// Hands the workload to the correlator in batches from `senders` senders at once, each taking the
/// next batch when its last one is committed (as connectors posting at the same time would);
/// returns the seconds it took.
async fn engine_run(
    store: Arc<dyn Store>,
    correlation: CorrelationConfig,
    batches: Vec<Vec<Alert>>,
    senders: usize,
    now: muster_core::Timestamp,
) -> anyhow::Result<f64> {
    let correlator = Arc::new(Correlator::start(store, correlation).await?);
    let batches = Arc::new(std::sync::Mutex::new(batches.into_iter()));
    let started = Instant::now();
    // Each sender on a task of its own, as separate connections would be.
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (correlator, batches) = (correlator.clone(), batches.clone());
            tokio::spawn(async move {
                loop {
                    // The batch and its place in the order are taken together, so the stream is
                    // correlated in order however the senders interleave.
                    let (ticket, next) = {
                        let mut batches = batches.lock().unwrap_or_else(|e| e.into_inner());
                        let Some(next) = batches.next() else { break };
                        (correlator.ticket(), next)
                    };
                    correlator.ingest_as(ticket, next, now).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Each batch as an NDJSON request body.
fn request_bodies(batches: &[Vec<Alert>]) -> anyhow::Result<Vec<String>> {
    batches
        .iter()
        .map(|chunk| {
            let mut body = String::new();
            for alert in chunk {
                body.push_str(&serde_json::to_string(alert)?);
                body.push('\n');
            }
            Ok(body)
        })
        .collect()
}

/// Posts the request bodies to an in-process server over loopback HTTP from `clients` clients at
/// once, each taking the next body when its last one is answered; returns the seconds it took.
async fn http_run(
    store: Arc<dyn Store>,
    correlation: CorrelationConfig,
    bodies: Vec<String>,
    clients: usize,
) -> anyhow::Result<f64> {
    let server =
        LoopbackServer::start(store, muster_core::access::Role::Ingest, |state| state.with_correlation(correlation))
            .await?;
    let (address, token) = (server.address, server.token.clone());
    let client = reqwest::Client::new();
    let url = format!("http://{address}/v1.0/security/alerts_v2");
    // Each body is handed over, not copied, and freed once sent.
    let bodies = std::sync::Mutex::new(bodies.into_iter());
    let next_body = || bodies.lock().unwrap_or_else(|e| e.into_inner()).next();
    let started = Instant::now();
    let post_batches = || async {
        while let Some(body) = next_body() {
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
    let elapsed = started.elapsed().as_secs_f64();
    server.stop().await?;
    Ok(elapsed)
}

/// The application on a loopback port over `store`, with a fresh token of `role`, for the
/// benchmarks that go through HTTP.
pub(super) struct LoopbackServer {
    pub(super) address: std::net::SocketAddr,
    pub(super) token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl LoopbackServer {
    pub(super) async fn start(
        store: Arc<dyn Store>,
        role: muster_core::access::Role,
        configure: impl FnOnce(muster_server::AppState) -> muster_server::AppState,
    ) -> anyhow::Result<Self> {
        use muster_core::time::SystemClock;
        use muster_server::accounts::{create_token, TokenSpec};
        use muster_server::{AppState, ServerConfig};

        let spec =
            TokenSpec { name: "bench".into(), role, user: None, expires_in_days: Some(1), device_groups: vec![] };
        let (_, token) = create_token(store.as_ref(), spec, "bench", SystemClock.now()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = configure(AppState::new(store, ServerConfig { listen: address, ..ServerConfig::default() }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(muster_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self { address, token, stop, server })
    }

    /// Stops serving once the requests in flight are answered.
    pub(super) async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}
