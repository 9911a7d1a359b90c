use std::future::Future;
use std::io::Write;

use anyhow::Context;
use muster_core::store::Store;
use muster_core::time::{Clock, SystemClock};
use muster_server::{accounts, AppState, ServerConfig};
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::database::{redact, Database};

pub async fn run(settings: Settings, demo: bool) -> anyhow::Result<()> {
    // Before anything slow, so a SIGTERM during start-up still stops the process cleanly.
    let shutdown = shutdown_signal()?;
    let database = Database::open(&settings.database).await?;
    tracing::info!(backend = database.backend(), database = %redact(&settings.database), "database ready");
    let store = database.store();
    match ensure_first_admin(store.as_ref()).await {
        // Printed at once: should listening fail next, the password is not lost.
        Ok(Some(password)) => print_first_admin(&password, &settings.server),
        Ok(None) => {}
        Err(error) => {
            database.close().await;
            return Err(error);
        }
    }

    let listen = settings.server.listen;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr().context("cannot read the listen address")?;
    tracing::info!("listening on http://{address}");

    let state = AppState::new(store, settings.server).with_correlation(settings.correlation);
    // Requests wait in the listen backlog while the engine reloads its window (and the demo queue
    // loads), so the first answer already reflects it.
    let started = std::time::Instant::now();
    if let Err(error) = prepare(&state, demo, started).await {
        database.close().await;
        return Err(error);
    }
    muster_server::serve(listener, state, shutdown).await.context("server failed")?;
    database.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Loads the engine's window, and the demo queue when asked for.
async fn prepare(state: &AppState, demo: bool, started: std::time::Instant) -> anyhow::Result<()> {
    state.warm_up().await.map_err(|e| anyhow::anyhow!("cannot load the correlation window: {e}"))?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "correlation window loaded");
    if demo {
        super::demo::load(state).await?;
    }
    Ok(())
}

/// On the first start (no users yet) creates `admin` and returns its one-time password.
async fn ensure_first_admin(store: &dyn Store) -> anyhow::Result<Option<String>> {
    accounts::ensure_first_admin(store, SystemClock.now()).await.context("cannot create the first admin user")
}

/// Shown once, on stdout and never through `tracing`: the password must not reach a log line.
fn print_first_admin(password: &str, server: &ServerConfig) {
    let login_url = match &server.public_url {
        Some(public) => format!("{}/login", public.trim_end_matches('/')),
        None => format!("http://{}/login", server.listen),
    };
    let block = format!(
        "Created the user admin with this one-time password (it is not shown again):\n\n    {password}\n\n\
         Sign in at {login_url} and change it with `muster users reset-password admin`.\n"
    );
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(block.as_bytes()).and_then(|()| stdout.flush()).is_err() {
        // Not worth stopping the server over; the operator can set a password from the CLI.
        tracing::warn!(
            "created the user admin but could not print its password; set one with `muster users reset-password admin`"
        );
    }
}

/// Resolves on SIGTERM (what `docker stop` and Kubernetes send) or Ctrl-C. A second one stops the
/// process at once, without waiting for requests in flight.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut signals = Signals::install()?;
    Ok(async move {
        let name = signals.next().await;
        tracing::info!("{name}: finishing requests in flight, then stopping (again to stop now)");
        tokio::spawn(async move {
            let name = signals.next().await;
            tracing::warn!("{name} again: stopping now");
            std::process::exit(130);
        });
    })
}

/// The signals that stop the server, listened for from the moment they are installed.
#[derive(Debug)]
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> anyhow::Result<Self> {
        Ok(Self {})
    }

    /// Waits for the next signal and names it.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "Ctrl-C",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
