//! `serve --demo`: a realistic queue from the simulator, loaded into an empty database before the
//! server answers, with timestamps over the last few days so it looks like today's work.

use std::time::Instant;

use anyhow::Context;
use muster_core::store::{PageRequest, Store};
use muster_core::{Alert, Timestamp};
use muster_server::AppState;
use muster_sim::{simulate_iter, SimConfig};

/// What the demo loads: a few days of a mid-sized organisation with a dozen attacks in it.
const DEMO_ALERTS: usize = 5_000;
const DEMO_ATTACKS: usize = 12;
const DEMO_DAYS: i64 = 3;
const DEMO_SEED: u64 = 1;
/// Alerts per correlator batch, as a client would post them.
const BATCH: usize = 1_000;

/// The demo simulation: `DEMO_DAYS` ending at `now`.
pub fn demo_config(now: Timestamp) -> SimConfig {
    let duration_secs = DEMO_DAYS * 86_400;
    SimConfig {
        seed: DEMO_SEED,
        start: now.plus_secs(-duration_secs),
        duration_secs,
        attacks: DEMO_ATTACKS,
        target_alerts: DEMO_ALERTS,
        ..SimConfig::default()
    }
}

/// Loads the demo queue when the database holds no incident yet; says so and does nothing when
/// it does.
pub async fn load(state: &AppState) -> anyhow::Result<()> {
    let store = state.store.as_ref();
    let existing = store
        .list_incidents(&PageRequest { limit: 1, after: None })
        .await
        .context("cannot check the database for incidents")?;
    if !existing.is_empty() {
        tracing::info!("--demo: the database holds incidents already, so no demo queue is loaded");
        return Ok(());
    }
    let started = Instant::now();
    let correlator = state.correlator().await.map_err(|e| anyhow::anyhow!("cannot start correlation: {e}"))?;
    let config = demo_config(state.clock.now());
    let mut alerts = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    let mut stream = simulate_iter(&config).peekable();
    while let Some((value, _truth)) = stream.next() {
        match Alert::from_json_value(value) {
            Ok(alert) => batch.push(alert),
            // The simulator writes only valid alerts; should one slip, the rest still load.
            Err(error) => tracing::warn!(error = %error.message, "--demo: skipped a simulated alert"),
        }
        if batch.len() == BATCH || (stream.peek().is_none() && !batch.is_empty()) {
            let chunk = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            alerts += correlator.ingest(chunk, state.clock.now()).await.context("cannot store the demo alerts")?.len();
        }
    }
    let incidents = count_incidents(store).await?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "--demo: loaded a demo queue of {alerts} alerts in {incidents} incidents"
    );
    Ok(())
}

/// Incidents in the queue (merged ones left out), page by page.
async fn count_incidents(store: &dyn Store) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut after = None;
    loop {
        let page = store
            .list_incidents(&PageRequest { limit: 1_000, after: after.take() })
            .await
            .context("cannot count the demo incidents")?;
        count += page.len();
        match page.last() {
            Some(last) if page.len() == 1_000 => {
                let at = last.last_activity_date_time.unwrap_or(last.created_date_time).micros();
                after = Some((at, last.id.get()));
            }
            _ => return Ok(count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_ends_now() {
        let now = Timestamp::from_secs(1_800_000_000);
        let config = demo_config(now);
        assert_eq!(config.start.plus_secs(config.duration_secs), now);
        assert_eq!((config.target_alerts, config.attacks), (5_000, 12));
    }
}
