//! The official Microsoft Graph SDK for Python against a real `muster serve --demo`: the pytest
//! suite in tests/sdk, run with the interpreter named by MUSTER_SDK_PYTHON (a virtual environment
//! with msgraph-sdk and pytest; `.ci/run` makes one). Skipped, saying so, when it is not set.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use common::muster;

/// Kills the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(database: &Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let child = muster()
        .env("MUSTER_DATABASE", format!("sqlite://{}", database.display()))
        .args(["serve", "--demo", "--listen", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start muster serve");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let check = muster().args(["healthcheck", "--listen", &address, "--timeout-secs", "1"]).output().unwrap();
        if check.status.success() {
            return (server, format!("http://{address}"));
        }
        assert!(Instant::now() < deadline, "muster serve did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_python_graph_sdk_works_unchanged() {
    let Some(python) = std::env::var_os("MUSTER_SDK_PYTHON") else {
        eprintln!("skipped: set MUSTER_SDK_PYTHON to a Python with msgraph-sdk and pytest (`.ci/run` does) to run the Graph SDK suite");
        return;
    };
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("muster.db");
    let (_server, url) = start(&database);
    let created = muster()
        .env("MUSTER_DATABASE", format!("sqlite://{}", database.display()))
        .args(["tokens", "create", "--role", "analyst", "--name", "sdk"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let token = String::from_utf8_lossy(&created.stdout).lines().last().unwrap().trim().to_owned();

    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk");
    let output = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"])
        .arg(&suite)
        .env("MUSTER_SDK_URL", &url)
        .env("MUSTER_SDK_TOKEN", &token)
        .output()
        .expect("run pytest");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}");
    assert!(output.status.success(), "the Graph SDK suite failed:\n{report}");
}
