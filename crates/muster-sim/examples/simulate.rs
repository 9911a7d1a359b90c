//! Writes a simulation as NDJSON: `cargo run --release -p muster-sim --example simulate -- \
//! [ALERTS] [SEED] [ATTACKS] > alerts.ndjson 2> truth.ndjson`. Alerts go to stdout, truth rows
//! to stderr, one JSON object a line, streamed.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let defaults = muster_sim::SimConfig::default();
    let config = muster_sim::SimConfig {
        target_alerts: arg(0, defaults.target_alerts as u64) as usize,
        seed: arg(1, defaults.seed),
        attacks: arg(2, defaults.attacks as u64) as usize,
        ..defaults
    };
    let mut alerts = BufWriter::new(std::io::stdout().lock());
    let mut truth = BufWriter::new(std::io::stderr().lock());
    for (alert, row) in muster_sim::simulate_iter(&config) {
        serde_json::to_writer(&mut alerts, &alert)?;
        alerts.write_all(b"\n")?;
        serde_json::to_writer(&mut truth, &row)?;
        truth.write_all(b"\n")?;
    }
    alerts.flush()?;
    truth.flush()
}
