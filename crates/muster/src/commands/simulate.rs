//! `muster simulate`: the simulator's alert stream as NDJSON and its ground truth as CSV, written
//! as they are generated, so a million alerts need no more memory than a thousand.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use flate2::write::GzEncoder;
use muster_core::time::{Clock, SystemClock};
use muster_core::Timestamp;
use muster_sim::{simulate_iter, SimConfig};

use super::operator::time_text;
use crate::cli::SimulateArgs;

/// The longest period simulated: ten years.
const MAX_HOURS: f64 = 10.0 * 366.0 * 24.0;

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let config = config(args, SystemClock.now())?;
    let out_is_stdout = is_stdout(&args.out);
    if out_is_stdout && args.truth.as_deref().is_some_and(is_stdout) {
        bail!("--out and --truth cannot both be stdout (`-`)");
    }
    let started = Instant::now();
    let mut out = Sink::create(&args.out)?;
    let mut truth = args.truth.as_deref().map(Sink::create).transpose()?;

    let outcome = write_all(&config, &mut out, truth.as_mut());
    let counts = match outcome {
        Ok(counts) => counts,
        // `muster simulate --out - | head`: the reader has all it wanted.
        Err(Failure::Out(error)) if out_is_stdout && error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(Failure::Out(error)) => return Err(error).context(format!("cannot write {}", args.out.display())),
        Err(Failure::Truth(error)) => {
            let name = args.truth.as_deref().map(Path::display).map(|path| path.to_string()).unwrap_or_default();
            return Err(error).context(format!("cannot write {name}"));
        }
    };
    match out.finish() {
        Err(error) if out_is_stdout && error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        outcome => outcome.with_context(|| format!("cannot write {}", args.out.display()))?,
    }
    if let (Some(truth), Some(path)) = (truth, &args.truth) {
        truth.finish().with_context(|| format!("cannot write {}", path.display()))?;
    }

    let end = config.start.plus_secs(config.duration_secs);
    let truth_note = args.truth.as_ref().map_or(String::new(), |path| format!(", the truth to {}", path.display()));
    eprintln!(
        "wrote {} alerts ({} in {} attacks) from {} to {} to {}{truth_note} in {:.1} s",
        counts.alerts,
        counts.attack_alerts,
        config.attacks,
        time_text(config.start),
        time_text(end),
        if out_is_stdout { "stdout".to_owned() } else { args.out.display().to_string() },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The simulation the flags ask for: the `SimConfig` defaults where they say nothing.
fn config(args: &SimulateArgs, now: Timestamp) -> anyhow::Result<SimConfig> {
    if !args.hours.is_finite() || args.hours <= 0.0 || args.hours > MAX_HOURS {
        bail!("--hours must be more than 0 and at most {MAX_HOURS}");
    }
    // At least a minute, as the simulator requires.
    let duration_secs = ((args.hours * 3600.0).round() as i64).max(60);
    let start = match args.start.as_deref().map(str::trim) {
        None => SimConfig::default().start,
        Some(text) if text.eq_ignore_ascii_case("now") => now.plus_secs(-duration_secs),
        Some(text) => text.parse::<Timestamp>().map_err(|error| anyhow::anyhow!("--start: {error}, or `now`"))?,
    };
    Ok(SimConfig {
        seed: args.seed,
        start,
        duration_secs,
        attacks: args.attacks,
        target_alerts: args.alerts,
        ..SimConfig::default()
    })
}

#[derive(Debug, Default)]
struct Counts {
    alerts: u64,
    attack_alerts: u64,
}

/// Which output failed.
#[derive(Debug)]
enum Failure {
    Out(std::io::Error),
    Truth(std::io::Error),
}

fn write_all(config: &SimConfig, out: &mut Sink, mut truth: Option<&mut Sink>) -> Result<Counts, Failure> {
    if let Some(truth) = truth.as_deref_mut() {
        truth.write_all(b"alert_id,group,is_attack\n").map_err(Failure::Truth)?;
    }
    let mut counts = Counts::default();
    let mut line = Vec::with_capacity(4096);
    for (alert, row) in simulate_iter(config) {
        line.clear();
        serde_json::to_writer(&mut line, &alert).map_err(|error| Failure::Out(error.into()))?;
        line.push(b'\n');
        out.write_all(&line).map_err(Failure::Out)?;
        if let Some(truth) = truth.as_deref_mut() {
            let record = format!(
                "{},{},{}\n",
                csv_field(&row.provider_alert_id),
                csv_field(&row.group),
                u8::from(row.is_attack)
            );
            truth.write_all(record.as_bytes()).map_err(Failure::Truth)?;
        }
        counts.alerts += 1;
        counts.attack_alerts += u64::from(row.is_attack);
    }
    Ok(counts)
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// A buffered output: stdout, a file, or a gzipped file (for names ending in .gz).
enum Sink {
    Plain(BufWriter<Box<dyn Write>>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn create(path: &Path) -> anyhow::Result<Self> {
        if is_stdout(path) {
            return Ok(Self::Plain(BufWriter::with_capacity(256 * 1024, Box::new(std::io::stdout()))));
        }
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let file = BufWriter::with_capacity(256 * 1024, file);
        if path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("gz")) {
            Ok(Self::Gzip(GzEncoder::new(file, flate2::Compression::default())))
        } else {
            Ok(Self::Plain(BufWriter::new(Box::new(file))))
        }
    }

    /// Flushes everything (and writes the gzip trailer).
    fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Plain(mut writer) => writer.flush(),
            Self::Gzip(encoder) => encoder.finish()?.flush(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(writer) => writer.write(buf),
            Self::Gzip(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(writer) => writer.flush(),
            Self::Gzip(encoder) => encoder.flush(),
        }
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Sink::Plain",
            Self::Gzip(_) => "Sink::Gzip",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SimulateArgs {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["muster", "simulate", "--out", "x.ndjson"].iter().chain(extra)).unwrap();
        match cli.command {
            crate::cli::Command::Simulate(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_simulator_defaults_with_seed_1() {
        let config = config(&args(&[]), Timestamp::from_secs(0)).unwrap();
        assert_eq!(config, SimConfig { seed: 1, ..SimConfig::default() });
    }

    #[test]
    fn flags_shape_the_simulation() {
        let now = Timestamp::from_secs(1_800_000_000);
        let given = args(&["--seed", "9", "--alerts", "500", "--attacks", "2", "--hours", "1.5", "--start", "now"]);
        let simulated = config(&given, now).unwrap();
        assert_eq!((simulated.seed, simulated.target_alerts, simulated.attacks), (9, 500, 2));
        assert_eq!(simulated.duration_secs, 5400);
        assert_eq!(simulated.start, now.plus_secs(-5400));

        let given = args(&["--start", "2025-01-02T03:04:05Z"]);
        assert_eq!(config_start(&given), "2025-01-02T03:04:05Z".parse().unwrap());
        let error = config(&args(&["--start", "yesterday"]), now).unwrap_err().to_string();
        assert!(error.contains("--start") && error.contains("'yesterday'"), "{error}");
        assert!(config(&args(&["--hours", "0"]), now).is_err());
        assert!(config(&args(&["--hours", "NaN"]), now).is_err());
    }

    fn config_start(args: &SimulateArgs) -> Timestamp {
        config(args, Timestamp::from_secs(0)).unwrap().start
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("da123_4"), "da123_4");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
