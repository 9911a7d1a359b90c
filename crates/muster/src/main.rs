//! `muster`: the server and its operator commands. Everything happens in `commands`; this file
//! only turns the outcome into an exit code and a one-line reason.

mod cli;
mod commands;
mod config;
mod database;

use std::process::ExitCode;

use clap::Parser;

// Alerts are built on one thread and written (and freed) on another; glibc's allocator handles
// that pattern poorly, and ingest spends much of its time allocating.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_e`, the same in mimalloc 2 and 3
/// (libmimalloc-sys names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to the system. A batch's
/// alerts are freed about when the next batch's are allocated; at mimalloc's default (10 ms)
/// that memory went back in between and was faulted in afresh, a sixth of ingest's CPU time
/// spent in the kernel.
const PURGE_DELAY_MS: std::ffi::c_long = 1_000;

fn main() -> ExitCode {
    // SAFETY: sets a plain integer option, which mimalloc reads when it next purges.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS)
    };
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
