//! One module per subcommand; `run` resolves the settings and dispatches.

mod default_config;
mod healthcheck;
mod migrate;
mod operator;
mod serve;
mod tokens;
mod users;

use std::io::IsTerminal;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

use crate::cli::{Cli, Command};
use crate::config::{self, Settings};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::DefaultConfig = cli.command {
        // Needs no settings: it prints the defaults, even if the current ones are broken.
        return default_config::run();
    }
    let file = match &cli.config {
        Some(path) => config::load_file(path)?,
        None => config::Partial::default(),
    };
    let settings = Settings::resolve(file, cli.overrides())?;
    match cli.command {
        Command::Serve(_) => {
            init_logging(LevelFilter::INFO);
            serve::run(settings).await
        }
        Command::Migrate => {
            init_logging(LevelFilter::INFO);
            migrate::run(&settings).await
        }
        // Quieter: their output is the answer, and an error is one line.
        Command::Users(command) => {
            init_logging(LevelFilter::WARN);
            users::run(&settings, command).await
        }
        Command::Tokens(command) => {
            init_logging(LevelFilter::WARN);
            tokens::run(&settings, command).await
        }
        Command::Healthcheck(args) => healthcheck::run(&settings, &args).await,
        Command::DefaultConfig => default_config::run(),
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
