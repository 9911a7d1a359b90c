//! Real alerts round-trip: the public data sets in `../shared/data`, converted to Graph alerts_v2
//! NDJSON by `../shared/tools/to_graph_alerts.py`, each deserialise into the model and serialise back
//! to equivalent JSON (see `common/mod.rs`).
//!
//! The data is read where it lies and never copied into the repository. A user's clone does not have
//! it, so without the folder (or without `python3`) each test says it skipped and passes. The fox set
//! (473k alerts) is left out to keep the run short; the others total about 185k alerts.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{badly_written_timestamps, differences, normalise};
use muster_core::evidence::Evidence;
use muster_core::Alert;
use serde_json::Value;

/// `<workspace>/../shared`, found from this crate's manifest (`crates/muster-core`).
fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// How many disagreements to show before stopping: the first few tell the story.
const SHOW: usize = 10;

/// Converts one data set and round-trips every alert. `at_least` guards against a converter that
/// silently writes nothing.
fn round_trip_set(converter: &str, relative: &str, at_least: usize) {
    let shared = shared_dir();
    let data = shared.join("data");
    if !data.is_dir() {
        eprintln!("skipping: ../shared/data not found (a user's clone does not have it)");
        return;
    }
    let file = data.join(relative);
    assert!(file.is_file(), "{} is missing from ../shared/data", relative);
    let tool = shared.join("tools/to_graph_alerts.py");

    let spawned = Command::new("python3")
        .arg(&tool)
        .arg(converter)
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping: python3 not found, so {relative} cannot be converted");
            return;
        }
        Err(e) => panic!("running {}: {e}", tool.display()),
    };

    // Read while the converter writes, so the two overlap.
    let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped stdout"));
    let mut count = 0usize;
    let mut failures = Vec::new();
    for (n, line) in stdout.lines().enumerate() {
        let line = line.expect("converter output is UTF-8");
        count += 1;
        if let Err(why) = check_line(&line) {
            failures.push(format!("line {}: {why}", n + 1));
            if failures.len() >= SHOW {
                break;
            }
        }
    }
    if failures.len() >= SHOW {
        // Stop the converter early: the verdict is in.
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("converter finishes");
    assert!(
        failures.is_empty(),
        "{relative}: alerts that do not round-trip (first {}):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        output.status.success(),
        "{} {converter} {relative} failed: {}",
        tool.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(count >= at_least, "{relative}: only {count} alerts, expected at least {at_least}");
    eprintln!("{relative}: {count} alerts round-tripped");
}

/// One NDJSON line: parse, read as an alert, write back, compare.
fn check_line(line: &str) -> Result<(), String> {
    let input: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let id = input.get("providerAlertId").cloned().unwrap_or(Value::Null);
    let alert =
        Alert::from_json_value(input.clone()).map_err(|e| format!("{id}: refused at '{}': {}", e.path, e.message))?;
    if let Some(other) = alert.evidence.iter().find(|e| matches!(e, Evidence::Other(_))) {
        return Err(format!("{id}: evidence {} read as opaque JSON", other.type_name()));
    }
    let output = serde_json::to_value(&alert).map_err(|e| format!("{id}: not serialisable: {e}"))?;
    let diffs = differences(&normalise(&input), &normalise(&output));
    if !diffs.is_empty() {
        return Err(format!("{id}: {}", diffs.join("; ")));
    }
    let bad = badly_written_timestamps(&output, &|_, _| false);
    if !bad.is_empty() {
        return Err(format!("{id}: timestamps not in Graph form: {bad:?}"));
    }
    Ok(())
}

#[test]
fn ait_ads_russellmitchell() {
    round_trip_set("ait-ads", "ait-ads/russellmitchell.alerts.csv.gz", 40_000);
}

#[test]
fn ait_ads_santos() {
    round_trip_set("ait-ads", "ait-ads/santos.alerts.csv.gz", 100_000);
}

#[test]
fn otrf_lsass_chainsaw() {
    round_trip_set("chainsaw", "otrf-lsass/otrf-lsass.chainsaw.c01-c03.jsonl.gz", 4_000);
}

#[test]
fn evtx_samples_chainsaw() {
    round_trip_set("chainsaw", "evtx-samples/evtx-samples.chainsaw.public.jsonl.gz", 4_000);
}
