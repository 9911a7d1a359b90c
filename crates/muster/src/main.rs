//! `muster`: the server and its operator commands. Everything happens in `commands`; this file
//! only turns the outcome into an exit code and a one-line reason.

mod allocator;
mod cli;
mod commands;
mod config;
mod database;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    allocator::configure();
    let cli = cli::Cli::parse();
    let outcome = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(commands::run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` puts the whole cause chain on one line; collapse any newline a cause carries
            // so scripts and container logs see exactly one line.
            let reason = format!("{error:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("error: {reason}");
            ExitCode::FAILURE
        }
    }
}
