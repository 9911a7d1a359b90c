//! The web UI in a real headless Chromium against a real `muster serve --demo` on SQLite. Skipped,
//! saying so, where Chromium or ChromeDriver is not installed (`.ci/run` installs both).

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod incident;
mod queue;

use std::sync::OnceLock;

/// One browser test at a time: each starts a server and a Chromium, and two cores run one of
/// each comfortably, not four.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(())).lock().await
}
