//! One module per subcommand; `run` resolves the settings and dispatches.

mod bench;
mod bench_queue;
mod bench_ui;
mod default_config;
mod demo;
mod healthcheck;
mod incidents;
mod ingest;
mod migrate;
mod operator;
mod serve;
mod simulate;
mod timing;
mod tokens;
mod users;

use std::io::IsTerminal;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

use crate::cli::{BenchCommand, Cli, Command};
use crate::config::{self, Settings};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let overrides = cli.overrides();
    let database = cli.database.clone();
    let config_file = cli.config.clone();
    // Resolved only by the commands that need settings: default-config prints the defaults even if
    // the current ones are broken, and simulate and ingest touch no database.
    let settings = move || -> anyhow::Result<Settings> {
        let file = match &config_file {
            Some(path) => config::load_file(path)?,
            None => config::Partial::default(),
        };
        Settings::resolve(file, overrides)
    };
    match cli.command {
        Command::Serve(args) => {
            let settings = settings()?;
            init_logging(LevelFilter::INFO);
            serve::run(settings, args.demo).await
        }
        Command::Migrate => {
            let settings = settings()?;
            init_logging(LevelFilter::INFO);
            migrate::run(&settings).await
        }
        // Quieter: their output is the answer, and an error is one line.
        Command::Users(command) => {
            let settings = settings()?;
            init_logging(LevelFilter::WARN);
            users::run(&settings, command).await
        }
        Command::Tokens(command) => {
            let settings = settings()?;
            init_logging(LevelFilter::WARN);
            tokens::run(&settings, command).await
        }
        Command::Healthcheck(args) => healthcheck::run(&settings()?, &args).await,
        Command::DefaultConfig => default_config::run(),
        Command::Ingest(args) => {
            init_logging(LevelFilter::WARN);
            ingest::run(args).await
        }
        Command::Incidents(command) => {
            init_logging(LevelFilter::WARN);
            incidents::run(command).await
        }
        Command::Simulate(args) => simulate::run(&args),
        Command::Bench(BenchCommand::Ingest(args)) => {
            init_logging(LevelFilter::WARN);
            bench::run(database, settings()?.correlation, args).await
        }
        Command::Bench(BenchCommand::Queue(args)) => {
            init_logging(LevelFilter::WARN);
            bench_queue::run(database, args).await
        }
        Command::Bench(BenchCommand::Ui(args)) => {
            init_logging(LevelFilter::WARN);
            bench_ui::run(database, args).await
        }
    }
}

/// Logs to stderr, filtered by `MUSTER_LOG` (e.g. `debug`, `muster_server=debug,info`), `default`
/// otherwise. Stdout stays free for command output.
fn init_logging(default: LevelFilter) {
    let filter =
        EnvFilter::builder().with_default_directive(default.into()).with_env_var("MUSTER_LOG").from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
