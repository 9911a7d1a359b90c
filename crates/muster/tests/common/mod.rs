//! What the binary's test suites share.

use std::process::{Command, Stdio};

/// `muster` with a clean environment: no `MUSTER_*` from the developer's shell leaks in.
pub fn muster() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_muster"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MUSTER_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}
