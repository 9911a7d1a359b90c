//! The `muster` binary as an operator runs it: real processes, real files, real signals.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use muster_core::access::User;
use muster_core::store::{AccessStore, IncidentStore};
use muster_core::Timestamp;
use muster_server::auth::secrets::verify_password;
use muster_store_sqlite::SqliteStore;
use tempfile::TempDir;

use common::muster;

fn run(command: &mut Command) -> Output {
    command.output().expect("run muster")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Asserts a failed run said why on exactly one line, without a panic.
fn assert_one_line_failure(output: &Output, starts_with: &str) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with(starts_with), "stderr: {err}");
    err
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn default_config_parses() {
    let output = run(muster().arg("default-config"));
    assert!(output.status.success(), "{}", stderr(&output));
    let table: toml::Table = toml::from_str(&stdout(&output)).expect("valid TOML");
    assert_eq!(table["database"].as_str(), Some("sqlite://muster.db"));
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(table["body_limit_bytes"].as_integer(), Some(16 * 1024 * 1024));
    assert_eq!(table["request_timeout_secs"].as_integer(), Some(60));
    assert!(stdout(&output).contains("# public_url = "));
    assert_eq!(table["trusted_proxies"].as_array().map(Vec::len), Some(0));
    assert!(stdout(&output).contains("# trusted_proxies = [\"10.0.0.0/8\", \"192.168.1.10\"]"));
    assert_eq!(table["session_idle_secs"].as_integer(), Some(7200));
    assert_eq!(table["session_max_secs"].as_integer(), Some(43200));
}

#[test]
fn bad_proxy_and_session_settings_are_one_line() {
    let dir = TempDir::new().unwrap();
    let url = sqlite_url(&dir.path().join("m.db"));
    let listen = format!("127.0.0.1:{}", free_port());
    let output = run(muster().env("MUSTER_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local").args([
        "serve",
        "--listen",
        &listen,
        "--database",
        &url,
    ]));
    let err = assert_one_line_failure(&output, "error: trusted_proxies entry \"proxy.local\" ");
    assert!(err.contains("CIDR"), "{err}");

    let output = run(muster().args(["serve", "--listen", &listen, "--database", &url, "--session-idle-secs", "59"]));
    assert_one_line_failure(&output, "error: session_idle_secs must be at least 60");

    let output = run(muster().env("MUSTER_SESSION_MAX_SECS", "600").args([
        "serve",
        "--listen",
        &listen,
        "--database",
        &url,
        "--session-idle-secs",
        "900",
    ]));
    assert_one_line_failure(&output, "error: session_max_secs (600) must be at least session_idle_secs (900)");
    // Refused before the database was touched.
    assert!(!dir.path().join("m.db").exists());
}

#[test]
fn default_config_works_as_a_config_file() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("muster.toml");
    std::fs::write(&config, stdout(&run(muster().arg("default-config")))).unwrap();
    // The template's database is relative to the working directory.
    let output = run(muster().current_dir(dir.path()).arg("--config").arg(&config).arg("migrate"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.path().join("muster.db").exists());
}

#[test]
fn migrate_creates_a_sqlite_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("new.db");
    let url = sqlite_url(&path);
    let output = run(muster().args(["migrate", "--database", &url]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(path.exists());
    assert_eq!(stdout(&output).trim(), format!("sqlite database {url} is migrated"));
    // Again: nothing left to apply, still fine.
    assert!(run(muster().args(["migrate", "--database", &url])).status.success());
}

#[test]
fn flags_beat_environment_beats_file() {
    let dir = TempDir::new().unwrap();
    let [from_file, from_env, from_flag] = ["file.db", "env.db", "flag.db"].map(|name| dir.path().join(name));
    let config = dir.path().join("muster.toml");
    std::fs::write(&config, format!("database = \"{}\"\n", sqlite_url(&from_file))).unwrap();

    let output = run(muster().env("MUSTER_CONFIG", &config).arg("migrate"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(from_file.exists());

    let output =
        run(muster().env("MUSTER_CONFIG", &config).env("MUSTER_DATABASE", sqlite_url(&from_env)).arg("migrate"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(from_env.exists());

    let output = run(muster().env("MUSTER_CONFIG", &config).env("MUSTER_DATABASE", sqlite_url(&from_env)).args([
        "migrate",
        "--database",
        &sqlite_url(&from_flag),
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(from_flag.exists());
}

#[test]
fn a_broken_config_file_is_one_line() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("muster.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:8080\"\nlisten_port = 9\n").unwrap();
    let output = run(muster().arg("--config").arg(&config).arg("migrate"));
    let err = assert_one_line_failure(&output, "error: invalid config file ");
    assert!(err.contains("line 2"), "{err}");

    let output = run(muster().arg("--config").arg(dir.path().join("missing.toml")).arg("migrate"));
    assert_one_line_failure(&output, "error: cannot read config file ");
}

#[test]
fn serve_refuses_a_sqlite_file_it_cannot_create() {
    let dir = TempDir::new().unwrap();
    // A directory that cannot exist (its parent is a file), whoever runs the test.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let url = sqlite_url(&dir.path().join("blocker/sub/x.db"));
    let output = run(muster().args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--database", &url]));
    assert_one_line_failure(&output, &format!("error: cannot open database {url}: "));
}

#[test]
fn serve_refuses_an_unreachable_postgres_without_showing_the_password() {
    let output = run(muster().env("MUSTER_DATABASE", "postgres://muster:hunter22@127.0.0.1:1/muster").args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
    ]));
    let err =
        assert_one_line_failure(&output, "error: cannot open database postgres://muster:***@127.0.0.1:1/muster: ");
    assert!(!err.contains("hunter22"), "{err}");
}

#[test]
fn healthcheck_fails_against_a_closed_port() {
    let address = format!("127.0.0.1:{}", free_port());
    let output = run(muster().args(["healthcheck", "--listen", &address]));
    assert_one_line_failure(&output, &format!("error: GET http://{address}/healthz failed"));
}

/// A running `muster serve`, killed if the test ends before it stops.
struct Server {
    child: Child,
    address: String,
    _dir: Option<TempDir>,
}

/// How a server ended, and what it wrote.
struct Stopped {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Server {
    /// A server on a fresh database of its own.
    fn start() -> Self {
        let dir = TempDir::new().unwrap();
        let mut server = Self::start_on(&dir.path().join("muster.db"));
        server._dir = Some(dir);
        server
    }

    /// A server on the SQLite file `database`; stdout and stderr are kept for `terminate`.
    fn start_on(database: &Path) -> Self {
        Self::start_with(database, &[], &[])
    }

    /// `start_on` with more arguments for `serve` and more environment variables.
    fn start_with(database: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let address = format!("127.0.0.1:{}", free_port());
        let child = muster()
            .env("MUSTER_DATABASE", sqlite_url(database))
            .envs(env.iter().copied())
            .args(["serve", "--listen", &address])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start muster serve");
        let server = Self { child, address, _dir: None };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let output = run(muster().args(["healthcheck", "--listen", &self.address, "--timeout-secs", "1"]));
            if output.status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("muster serve on {} did not become healthy", self.address);
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status and what was written.
    fn terminate(mut self) -> Stopped {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "muster serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stdout).unwrap();
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        Stopped { status, stdout, stderr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn serve_becomes_healthy_and_stops_on_sigterm() {
    let server = Server::start();

    let healthz = format!("http://{}/healthz", server.address);
    assert!(run(muster().args(["healthcheck", "--url", &healthz])).status.success());
    assert!(run(muster().env("MUSTER_LISTEN", &server.address).arg("healthcheck")).status.success());
    // A URL that answers, but not 200, is unhealthy too.
    let missing = format!("http://{}/no-such-page", server.address);
    let output = run(muster().args(["healthcheck", "--url", &missing]));
    assert_one_line_failure(&output, &format!("error: GET {missing} answered 404 Not Found"));

    let Stopped { status, stderr: err, .. } = server.terminate();
    assert!(status.success(), "exit {status}; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    assert!(err.contains("stopped"), "{err}");
}

/// Runs `muster` with `input` on stdin.
fn run_with_stdin(command: &mut Command, input: &str) -> Output {
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run muster");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().expect("run muster")
}

/// `muster ARGS --database URL`, which must succeed; returns stdout.
fn ok(url: &str, args: &[&str]) -> String {
    let output = run(muster().args(args).args(["--database", url]));
    assert!(output.status.success(), "muster {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// A user straight from the database, as the server would see it.
fn stored_user(database: &Path, login: &str) -> User {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&sqlite_url(database)).await.unwrap();
        let user = store.user_by_login(login).await.unwrap();
        store.close().await;
        user.unwrap_or_else(|| panic!("no user {login}"))
    })
}

/// The row of `login` in `muster users list`, split on runs of spaces.
fn user_row(list: &str, login: &str) -> Vec<String> {
    let line = list.lines().find(|line| line.split("  ").next() == Some(login)).unwrap_or_else(|| panic!("{list}"));
    line.split("  ").map(str::trim).filter(|cell| !cell.is_empty()).map(str::to_owned).collect()
}

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or_default()
}

#[test]
fn users_add_from_stdin_and_list_without_hashes() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("m.db");
    let url = sqlite_url(&database);
    let output =
        run_with_stdin(
            muster()
                .args(["users", "add", "alice", "--role", "analyst,viewer", "--display-name", "Alice Adams"])
                .args(["--device-groups", "emea,servers", "--password-stdin", "--database", &url]),
            " correct horse battery \n",
        );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("correct horse"), "{}", stdout(&output));
    // Only the trailing newline was dropped.
    let alice = stored_user(&database, "alice");
    assert!(verify_password(" correct horse battery ", &alice.password_hash));
    assert!(!verify_password("correct horse battery", &alice.password_hash));

    let list = ok(&url, &["users", "list"]);
    assert!(list.starts_with("LOGIN "), "{list}");
    assert_eq!(user_row(&list, "alice"), ["alice", "Alice Adams", "analyst,viewer", "yes", "emea,servers"]);
    assert!(!list.contains("$argon2") && !list.contains(&alice.password_hash), "{list}");

    // Without --password-stdin a password is generated and printed once, alone on the last line.
    let out = ok(&url, &["users", "add", "bob", "--role", "viewer"]);
    let password = last_line(&out);
    assert!(password.len() >= 10, "{out}");
    assert_eq!(out.matches(password).count(), 1, "{out}");
    assert!(verify_password(password, &stored_user(&database, "bob").password_hash));
    assert_eq!(user_row(&ok(&url, &["users", "list"]), "bob"), ["bob", "bob", "viewer", "yes", "(all)"]);
}

#[test]
fn account_errors_are_one_line() {
    let dir = TempDir::new().unwrap();
    let url = sqlite_url(&dir.path().join("m.db"));
    ok(&url, &["users", "add", "alice", "--role", "analyst"]);

    let output = run(muster().args(["users", "add", "alice", "--role", "viewer", "--database", &url]));
    assert_one_line_failure(&output, "error: a user 'alice' exists already");
    let output = run(muster().args(["users", "add", "carol", "--role", "boss", "--database", &url]));
    assert_one_line_failure(&output, "error: 'boss' is not a role");
    let output = run_with_stdin(
        muster().args(["users", "add", "dave", "--role", "viewer", "--password-stdin", "--database", &url]),
        "short\n",
    );
    assert_one_line_failure(&output, "error: a password needs at least 10 characters");
    let output = run(muster().args(["users", "disable", "nobody", "--database", &url]));
    assert_one_line_failure(&output, "error: no user 'nobody'");
    let output = run(muster()
        .args(["tokens", "create", "--role", "admin", "--name", "x", "--user", "alice"])
        .args(["--database", &url]));
    assert_one_line_failure(&output, "error: user 'alice' does not have the admin role");
    let output = run(muster().args(["tokens", "revoke", "42", "--database", &url]));
    assert_one_line_failure(&output, "error: no token 42");

    // None of the refused users exist.
    let list = ok(&url, &["users", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
}

#[test]
fn tokens_create_list_and_revoke() {
    let dir = TempDir::new().unwrap();
    let url = sqlite_url(&dir.path().join("m.db"));
    ok(&url, &["users", "add", "alice", "--role", "analyst"]);

    let out = ok(&url, &["tokens", "create", "--role", "ingest", "--name", "edr feed", "--expires", "30"]);
    let secret = last_line(&out).to_owned();
    assert!(secret.starts_with("mst_") && secret.len() > 40 && !secret.contains(' '), "{out}");
    assert!(out.lines().count() >= 2, "a description comes first: {out}");
    let out = ok(&url, &["tokens", "create", "--role", "analyst", "--name", "alice's", "--user", "alice"]);
    let owned = last_line(&out).to_owned();
    assert!(owned.starts_with("mst_") && owned != secret, "{out}");

    let list = ok(&url, &["tokens", "list"]);
    assert!(list.starts_with("ID "), "{list}");
    assert!(!list.contains(&secret) && !list.contains(&owned), "{list}");
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    let feed = rows.iter().find(|row| row.contains("edr feed")).unwrap();
    assert!(feed.starts_with("1 ") && feed.contains("ingest") && feed.contains("(service)"), "{feed}");
    assert!(feed.trim_end().ends_with("active"), "{feed}");
    let alices = rows.iter().find(|row| row.contains("alice's")).unwrap();
    assert!(alices.contains(" alice ") && alices.contains("analyst"), "{alices}");

    assert!(ok(&url, &["tokens", "revoke", "1"]).contains("revoked token #1"));
    let list = ok(&url, &["tokens", "list"]);
    let feed = list.lines().find(|row| row.contains("edr feed")).unwrap();
    assert!(feed.trim_end().ends_with("revoked"), "{list}");
    let alices = list.lines().find(|row| row.contains("alice's")).unwrap();
    assert!(alices.trim_end().ends_with("active"), "{list}");
}

#[test]
fn users_disable_enable_and_reset_password() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("m.db");
    let url = sqlite_url(&database);
    ok(&url, &["users", "add", "alice", "--role", "analyst"]);

    ok(&url, &["users", "disable", "alice"]);
    assert_eq!(user_row(&ok(&url, &["users", "list"]), "alice")[3], "no");
    assert!(!stored_user(&database, "alice").enabled);
    ok(&url, &["users", "enable", "alice"]);
    assert_eq!(user_row(&ok(&url, &["users", "list"]), "alice")[3], "yes");

    let out = ok(&url, &["users", "reset-password", "alice"]);
    let generated = last_line(&out);
    assert!(verify_password(generated, &stored_user(&database, "alice").password_hash), "{out}");

    let output = run_with_stdin(
        muster().args(["users", "reset-password", "alice", "--password-stdin", "--database", &url]),
        "a brand new passphrase\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("passphrase"), "{}", stdout(&output));
    let hash = stored_user(&database, "alice").password_hash;
    assert!(verify_password("a brand new passphrase", &hash));
    assert!(!verify_password(generated, &hash));
}

/// The one-time password in the first start's output: the line after the one announcing it.
fn first_admin_password(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines().skip_while(|line| !line.contains("one-time password"));
    lines.next()?;
    lines.map(str::trim).find(|line| !line.is_empty()).map(str::to_owned)
}

#[test]
fn first_serve_prints_the_admin_password_once() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("muster.db");

    let server = Server::start_on(&database);
    let address = server.address.clone();
    let first = server.terminate();
    assert!(first.status.success(), "exit {}; stderr: {}", first.status, first.stderr);
    let password = first_admin_password(&first.stdout).unwrap_or_else(|| panic!("stdout: {}", first.stdout));
    assert!(password.len() >= 10, "{}", first.stdout);
    assert_eq!(first.stdout.matches(&password).count(), 1, "{}", first.stdout);
    assert!(first.stdout.contains(&format!("http://{address}/login")), "{}", first.stdout);
    assert!(first.stdout.contains("muster users reset-password admin"), "{}", first.stdout);
    assert!(!first.stderr.contains(&password), "the password reached the log: {}", first.stderr);

    let admin = stored_user(&database, "admin");
    assert!(verify_password(&password, &admin.password_hash));
    assert!(admin.enabled);
    assert_eq!(user_row(&ok(&sqlite_url(&database), &["users", "list"]), "admin")[2], "admin");

    let second = Server::start_on(&database).terminate();
    assert!(second.status.success(), "exit {}; stderr: {}", second.status, second.stderr);
    assert!(!second.stdout.to_lowercase().contains("password"), "{}", second.stdout);
    assert!(!second.stdout.contains(&password) && !second.stderr.contains(&password));
    // Still the same admin, with the same password.
    assert!(verify_password(&password, &stored_user(&database, "admin").password_hash));
}

#[test]
fn serve_creates_no_admin_when_users_exist() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("muster.db");
    ok(&sqlite_url(&database), &["users", "add", "alice", "--role", "admin"]);
    let stopped = Server::start_on(&database).terminate();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(!stopped.stdout.to_lowercase().contains("password"), "{}", stopped.stdout);
    let list = ok(&sqlite_url(&database), &["users", "list"]);
    assert!(!list.lines().any(|line| line.starts_with("admin ")), "{list}");
}

/// `muster simulate ARGS` in `dir`, which must succeed.
fn simulate(dir: &Path, args: &[&str]) -> Output {
    let output = run(muster().current_dir(dir).arg("simulate").args(args));
    assert!(output.status.success(), "muster simulate {args:?}: {}", stderr(&output));
    output
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn simulate_writes_alerts_and_their_truth() {
    let dir = TempDir::new().unwrap();
    let args = ["--seed", "5", "--alerts", "400", "--attacks", "2", "--hours", "6", "--start", "2025-01-01T00:00:00Z"];
    simulate(dir.path(), &[&args[..], &["--out", "alerts.ndjson", "--truth", "truth.csv"]].concat());
    let alerts = read_lines(&dir.path().join("alerts.ndjson"));
    let truth = read_lines(&dir.path().join("truth.csv"));
    assert!(alerts.len() > 300, "{}", alerts.len());
    assert_eq!(truth[0], "alert_id,group,is_attack");
    assert_eq!(truth.len(), alerts.len() + 1);
    let mut attacks = 0;
    for (alert, row) in alerts.iter().zip(&truth[1..]) {
        let alert: serde_json::Value = serde_json::from_str(alert).unwrap();
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 3, "{row}");
        assert_eq!(alert["providerAlertId"].as_str(), Some(fields[0]), "{row}");
        match fields[2] {
            "1" => {
                attacks += 1;
                assert!(fields[1].starts_with("attack-"), "{row}");
            }
            "0" => assert_eq!(fields[1], "", "{row}"),
            other => panic!("is_attack {other:?} in {row}"),
        }
        let created = alert["createdDateTime"].as_str().unwrap();
        // Activity falls in the 6 hours; an alert may arrive a little after.
        assert!(created.starts_with("2025-01-01T0"), "{created}");
    }
    assert!(attacks > 0);

    // The same settings give the same alerts, to stdout too.
    let output = simulate(dir.path(), &[&args[..], &["--out", "-"]].concat());
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), alerts);
    assert!(stderr(&output).contains("wrote "), "{}", stderr(&output));
}

/// A server with an ingest token, and a directory for files.
struct IngestSetup {
    server: Server,
    token: String,
    dir: TempDir,
}

fn ingest_setup() -> IngestSetup {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("muster.db");
    let server = Server::start_on(&database);
    let out = ok(&sqlite_url(&database), &["tokens", "create", "--role", "ingest", "--name", "t"]);
    IngestSetup { server, token: last_line(&out).to_owned(), dir }
}

impl IngestSetup {
    /// `muster ingest FILES` against the server, with the token in the environment.
    fn ingest(&self, files: &[&str]) -> Output {
        run(muster()
            .current_dir(self.dir.path())
            .env("MUSTER_TOKEN", &self.token)
            .args(["ingest", "--url", &format!("http://{}", self.server.address)])
            .args(files))
    }
}

/// The value of a row of ingest's report (`accepted   12`).
fn report_value(out: &str, label: &str) -> u64 {
    let line = out
        .lines()
        .find(|line| line.starts_with(label) && line[label.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no {label} in {out}"));
    line[label.len()..].trim().parse().unwrap_or_else(|_| panic!("{line}"))
}

#[test]
fn ingest_sends_ndjson_and_json_arrays() {
    let setup = ingest_setup();
    let dir = setup.dir.path();
    simulate(dir, &["--seed", "3", "--alerts", "250", "--attacks", "1", "--start", "now", "--out", "a.ndjson"]);
    let alerts = read_lines(&dir.join("a.ndjson"));

    let output = setup.ingest(&["a.ndjson"]);
    let out = stdout(&output);
    assert!(output.status.success(), "stdout: {out}\nstderr: {}", stderr(&output));
    assert_eq!(report_value(&out, "files"), 1, "{out}");
    assert_eq!(report_value(&out, "alerts sent"), alerts.len() as u64, "{out}");
    assert_eq!(report_value(&out, "accepted"), alerts.len() as u64, "{out}");
    assert_eq!(report_value(&out, "refused"), 0, "{out}");
    assert!(report_value(&out, "incidents touched") > 0, "{out}");
    assert!(out.contains("alerts/s"), "{out}");
    assert!(!out.contains(&setup.token) && !stderr(&output).contains(&setup.token));

    // The first 40 again, as one pretty-printed JSON array, in batches of 7.
    let values: Vec<serde_json::Value> = alerts[..40].iter().map(|line| serde_json::from_str(line).unwrap()).collect();
    std::fs::write(dir.join("a.json"), serde_json::to_string_pretty(&values).unwrap()).unwrap();
    let output = run(muster()
        .current_dir(dir)
        .args(["ingest", "--batch-size", "7", "--token", &setup.token, "a.json"])
        .env("MUSTER_URL", format!("http://{}", setup.server.address)));
    let out = stdout(&output);
    assert!(output.status.success(), "stdout: {out}\nstderr: {}", stderr(&output));
    assert_eq!(report_value(&out, "accepted"), 40, "{out}");
}

#[test]
fn ingest_names_the_line_the_server_refused() {
    let setup = ingest_setup();
    let dir = setup.dir.path();
    simulate(dir, &["--seed", "4", "--alerts", "30", "--attacks", "1", "--start", "now", "--out", "a.ndjson"]);
    let alerts = read_lines(&dir.join("a.ndjson"));
    let text = format!("{}\n\n{{\"title\": \"half an alert\"\n{}\n", alerts[0], alerts[1]);
    std::fs::write(dir.join("bad.ndjson"), text).unwrap();

    let output = setup.ingest(&["bad.ndjson"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "stdout: {out}\nstderr: {}", stderr(&output));
    assert!(out.contains("bad.ndjson:3: "), "{out}");
    assert_eq!(report_value(&out, "accepted"), 2, "{out}");
    assert_eq!(report_value(&out, "refused"), 1, "{out}");
    assert_one_line_failure(&output, "error: 1 refused");
}

#[test]
fn ingest_with_a_wrong_token_is_one_line() {
    let setup = ingest_setup();
    std::fs::write(setup.dir.path().join("one.ndjson"), "{}\n").unwrap();
    let output = run(muster().current_dir(setup.dir.path()).env("MUSTER_TOKEN", "mst_not_a_real_token").args([
        "ingest",
        "--url",
        &format!("http://{}", setup.server.address),
        "one.ndjson",
    ]));
    let err = assert_one_line_failure(&output, "error: the server refused the token");
    assert!(!err.contains("mst_not_a_real_token"), "{err}");
    assert_eq!(stdout(&output), "");

    // No token at all: said before anything is sent.
    let output = run(muster().current_dir(setup.dir.path()).args(["ingest", "one.ndjson"]));
    assert_one_line_failure(&output, "error: give an API token with --token or MUSTER_TOKEN");
}

/// GET `url` with a bearer token; the status and the JSON body.
fn get_json(url: &str, token: &str) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    })
}

/// Every alert in the SQLite file, counted straight from storage.
fn stored_alerts(database: &Path) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&sqlite_url(database)).await.unwrap();
        let alerts = store.alerts_since(Timestamp::from_secs(0)).await.unwrap();
        store.close().await;
        alerts.len()
    })
}

#[test]
fn serve_demo_loads_a_queue_once() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("muster.db");
    let server = Server::start_with(&database, &["--demo"], &[]);
    let admin =
        last_line(&ok(&sqlite_url(&database), &["tokens", "create", "--role", "admin", "--name", "t"])).to_owned();
    let url = format!("http://{}/v1.0/security/incidents?$top=5", server.address);
    let (status, body) = get_json(&url, &admin);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(5), "{body}");
    let stopped = server.terminate();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("loaded a demo queue"), "{}", stopped.stderr);
    let alerts = stored_alerts(&database);
    assert!(alerts >= 4_000, "{alerts}");

    // Again, asked for through the environment: the database holds incidents, so nothing is added.
    let stopped = Server::start_with(&database, &[], &[("MUSTER_DEMO", "1")]).terminate();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("holds incidents already"), "{}", stopped.stderr);
    assert_eq!(stored_alerts(&database), alerts);
}

#[test]
fn incidents_show_and_update_through_a_running_server() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("muster.db");
    let server = Server::start_with(&database, &["--demo"], &[]);
    let analyst =
        last_line(&ok(&sqlite_url(&database), &["tokens", "create", "--role", "analyst", "--name", "cli"])).to_owned();
    let viewer =
        last_line(&ok(&sqlite_url(&database), &["tokens", "create", "--role", "viewer", "--name", "v"])).to_owned();
    let url = format!("http://{}", server.address);
    let incidents = |token: &str, args: &[&str]| {
        run(muster().env("MUSTER_URL", &url).env("MUSTER_TOKEN", token).arg("incidents").args(args))
    };

    let output = incidents(&viewer, &["list", "--top", "60"]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    assert!(out.starts_with("     ID  SEVERITY"), "{out}");
    assert!(out.trim_end().ends_with("60 incident(s)"), "pages are followed past 50: {out}");
    let output = incidents(&viewer, &["list", "--top", "3", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));

    let output = incidents(&analyst, &["show", "1"]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    assert!(out.starts_with("Incident 1: "), "{out}");
    assert!(out.contains("Status          active") || out.contains("Status "), "{out}");

    let output = incidents(
        &analyst,
        &[
            "update",
            "1",
            "--status",
            "resolved",
            "--classification",
            "truePositive",
            "--determination",
            "malware",
            "--assign",
            "alice@example.com",
            "--tag",
            "ransomware",
            "--comment",
            "Contained on the host",
        ],
    );
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    assert!(out.contains("Status          resolved"), "{out}");
    assert!(out.contains("truePositive / malware"), "{out}");
    assert!(out.contains("alice@example.com"), "{out}");
    assert!(out.contains("ransomware"), "{out}");
    assert!(out.contains("Contained on the host"), "{out}");

    let output = incidents(&analyst, &["show", "1", "--json"]);
    let incident: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["activeAlertCount"], 0, "resolving resolved its alerts");

    // Refusals are the server's reason, on one line; a viewer may look but not change.
    let output =
        incidents(&analyst, &["update", "1", "--classification", "falsePositive", "--determination", "malware"]);
    let reason = assert_one_line_failure(&output, "error: invalidRequest: ");
    assert!(reason.contains("notMalicious"), "{reason}");
    let output = incidents(&viewer, &["update", "1", "--status", "active"]);
    assert_one_line_failure(&output, "error: accessDenied");
    let output = incidents(&analyst, &["show", "999999"]);
    assert_one_line_failure(&output, "error: itemNotFound");
}

#[test]
fn bench_ui_times_every_page_of_the_demo() {
    let output = run(muster().args(["bench", "ui", "--samples", "10"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let out = stdout(&output);
    assert!(out.starts_with("load: the demo queue"), "{out}");
    let timed: Vec<&str> = out.lines().filter(|l| l.contains("(budget 200 ms, ")).collect();
    assert_eq!(timed.len(), 6, "{out}");
    assert_eq!(timed.iter().filter(|l| l.ends_with("50 rows)")).count(), 5, "a full page each: {out}");
}

/// A small ingest benchmark, straight and over HTTP: every alert placed, none lost, and the
/// figures printed.
#[test]
fn bench_ingest_reports_throughput_memory_and_grouping() {
    for extra in [&[][..], &["--http"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let mut args = vec!["bench", "ingest", "--database", &url, "--alerts", "3000", "--attacks", "3"];
        args.extend_from_slice(extra);
        let output = run(muster().args(&args));
        assert!(output.status.success(), "stderr: {}", stderr(&output));
        let out = stdout(&output);
        assert!(out.lines().any(|l| l.starts_with("ingest: ") && l.ends_with(" alerts/s")), "{out}");
        let memory = out.lines().find(|l| l.starts_with("peak memory: ")).unwrap_or_else(|| panic!("{out}"));
        let bodies = memory.contains("request bodies");
        assert_eq!(bodies, !extra.is_empty(), "over HTTP the request bodies count as workload: {memory}");
        let grouping = out.lines().find(|l| l.starts_with("grouping: ")).unwrap_or_else(|| panic!("{out}"));
        assert!(grouping.ends_with("lost 0"), "{grouping}");
    }
}
