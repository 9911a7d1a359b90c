//! Timing the benchmarks' HTTP requests: a few warm-up requests (as an analyst's earlier clicks
//! would warm the caches), then `samples` timed ones, from sending to the last byte, reported as
//! p50 and p99 against a budget.

use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::RequestBuilder;

/// Requests sent before timing starts.
const WARM_UP: u32 = 5;

/// One request's timings over the samples, sorted, with the last answer's body.
pub(super) struct Timed {
    sorted: Vec<Duration>,
    pub(super) body: String,
}

impl Timed {
    pub(super) fn percentile(&self, p: f64) -> Duration {
        let rank = ((self.sorted.len() as f64 * p).ceil() as usize).clamp(1, self.sorted.len());
        self.sorted[rank - 1]
    }

    /// One report line: `name`, p50 and p99 in ms, the budget and what the answer held. Returns
    /// whether p99 is within the budget.
    pub(super) fn report(&self, name: &str, budget: Duration, held: &str) -> bool {
        let (p50, p99) = (self.percentile(0.5), self.percentile(0.99));
        println!(
            "  {name:<40} p50 {:>7.2} ms  p99 {:>7.2} ms  (budget {} ms, {held})",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            budget.as_millis()
        );
        p99 <= budget
    }
}

/// Sends the request `request` builds `samples` times after the warm-up; any answer but 2xx ends
/// the benchmark with what the server said.
pub(super) async fn time(name: &str, samples: u32, request: impl Fn() -> RequestBuilder) -> anyhow::Result<Timed> {
    let mut sorted = Vec::with_capacity(samples as usize);
    let mut body = String::new();
    for i in 0..samples + WARM_UP {
        let started = Instant::now();
        let response = request().send().await?;
        let status = response.status();
        body = response.text().await?;
        let took = started.elapsed();
        if !status.is_success() {
            bail!("{name}: the server answered {status}: {body}");
        }
        if i >= WARM_UP {
            sorted.push(took);
        }
    }
    sorted.sort();
    Ok(Timed { sorted, body })
}

/// The closing line: every view within budget, or which were not.
pub(super) fn verdict(over: &[&str]) {
    if over.is_empty() {
        println!("every view within its p99 budget");
    } else {
        println!("over budget: {}", over.join(", "));
    }
}
