//! The command line. Each setting that also lives in the config file is an `Option` here: `None`
//! means neither the flag nor its `MUSTER_*` variable was given, so the file (or the default)
//! decides. See `config.rs` for the merge.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};
use muster_sim::SimConfig;

use crate::config::Partial;

#[derive(Debug, Parser)]
#[command(name = "muster", version, about = "A self-hosted security incident queue.")]
pub struct Cli {
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER:PASSWORD@HOST/DB
    /// [default: sqlite://muster.db]
    // The value is hidden from --help because it may hold a password.
    #[arg(long, global = true, env = "MUSTER_DATABASE", value_name = "URL", hide_env_values = true)]
    pub database: Option<String>,

    /// TOML config file (`muster default-config` prints one with every setting)
    #[arg(long, global = true, env = "MUSTER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until SIGTERM or Ctrl-C
    Serve(ServeArgs),
    /// Create the database if missing and apply pending migrations
    Migrate,
    /// Print a commented config file with every setting at its default
    DefaultConfig,
    /// Exit 0 if the server answers /healthz with 200, else 1 (for a container HEALTHCHECK)
    Healthcheck(HealthcheckArgs),
    /// Add, list, disable and enable users, and reset passwords (works while no server runs)
    #[command(subcommand)]
    Users(UsersCommand),
    /// Create, list and revoke API tokens (works while no server runs)
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Send Graph alerts from files (JSON array or NDJSON) to a running server
    Ingest(IngestArgs),
    /// Show and update incidents on a running server
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Write a simulated alert stream (NDJSON) with its ground truth (CSV)
    Simulate(SimulateArgs),
    /// Benchmarks over fixed, seeded workloads
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulated alerts through the correlation engine and the store (a temporary SQLite file
    /// unless --database is given): alerts/s, peak memory, grouping precision and recall
    Ingest(BenchIngestArgs),
    /// A seeded queue of incidents written to the store (a temporary SQLite file unless --database
    /// is given; a database a previous run loaded is reused), then the first page of analysts'
    /// views timed over HTTP: p50 and p99 per view
    Queue(BenchQueueArgs),
    /// The web pages' server time over HTTP: the queue's first page of 50 rows in several views
    /// and an incident's page, on the demo queue (a temporary SQLite file unless --database is
    /// given): p50 and p99 per page
    Ui(BenchUiArgs),
}

#[derive(Debug, Args)]
pub struct BenchUiArgs {
    /// Timed requests per page
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(10..))]
    pub samples: u32,
}

#[derive(Debug, Args)]
pub struct BenchQueueArgs {
    /// How many incidents
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub incidents: u64,
    /// Alerts per incident, on average
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub alerts_per_incident: u64,
    /// The generator's seed
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timed requests per view
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(10..))]
    pub samples: u32,
}

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// How many simulated alerts
    #[arg(long, default_value_t = 1_000_000)]
    pub alerts: usize,
    /// How many attacks among them
    #[arg(long, default_value_t = 50)]
    pub attacks: usize,
    /// The simulator's seed
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Alerts per batch (one commit each)
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Post the batches to an in-process server over loopback HTTP instead
    #[arg(long)]
    pub http: bool,
    /// How many senders hand in batches at once, as many connectors do (batches that arrive
    /// together share a commit; the stream is correlated in order either way)
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub clients: u16,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "MUSTER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// URL clients reach Muster at, when that is not the listen address (e.g. behind a TLS proxy)
    #[arg(long, env = "MUSTER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Largest request body accepted, in bytes [default: 16777216]
    #[arg(long, env = "MUSTER_BODY_LIMIT_BYTES", value_name = "BYTES")]
    pub body_limit_bytes: Option<u64>,

    /// Seconds a request may take before it is answered with 503 [default: 60]
    #[arg(long, env = "MUSTER_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,

    /// Reverse proxies whose X-Forwarded-For/-Proto are believed: IP addresses or CIDR networks,
    /// comma-separated (e.g. 10.0.0.0/8,192.168.1.10) [default: none]
    #[arg(long, env = "MUSTER_TRUSTED_PROXIES", value_name = "LIST", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,

    /// Seconds a web UI session may sit idle before it ends [default: 7200]
    #[arg(long, env = "MUSTER_SESSION_IDLE_SECS", value_name = "SECS")]
    pub session_idle_secs: Option<i64>,

    /// Seconds after sign-in a web UI session ends, however active [default: 43200]
    #[arg(long, env = "MUSTER_SESSION_MAX_SECS", value_name = "SECS")]
    pub session_max_secs: Option<i64>,

    /// Load a simulated demo queue (alerts of the last 3 days) when the database holds no incident
    /// yet; with incidents already there it does nothing
    #[arg(long, env = "MUSTER_DEMO", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub demo: bool,
}

/// A secret given on the command line or in the environment, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files of Graph alerts (alerts_v2 JSON): one JSON array, or NDJSON with one alert a line;
    /// `-` reads stdin, and files ending in .gz are gunzipped
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// The running server's URL
    #[arg(long, env = "MUSTER_URL", value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// An API token with the ingest or admin role (`muster tokens create --role ingest ...`);
    /// prefer MUSTER_TOKEN, which other users cannot see in the process list
    #[arg(long, env = "MUSTER_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,

    /// Alerts per request (each request also stays under 16 MiB)
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Seed of the simulation: the same settings give the same alerts
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Approximate number of alerts
    #[arg(long, value_name = "N", default_value_t = SimConfig::default().target_alerts)]
    pub alerts: usize,

    /// Number of multi-stage attacks planted in the noise
    #[arg(long, value_name = "N", default_value_t = SimConfig::default().attacks)]
    pub attacks: usize,

    /// Length of the simulated period, in hours
    #[arg(long, value_name = "H", default_value_t = SimConfig::default().duration_secs as f64 / 3600.0)]
    pub hours: f64,

    /// Start of the period (RFC 3339, e.g. 2024-06-03T08:00:00Z), or `now` for a period that ends
    /// now [default: 2024-06-03T08:00:00Z]
    #[arg(long, value_name = "RFC3339|now")]
    pub start: Option<String>,

    /// Where to write the alerts as NDJSON, one Graph alert a line (`-` for stdout; .gz is gzipped)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Where to write the ground truth CSV `alert_id,group,is_attack` (alert_id is the
    /// providerAlertId; .gz is gzipped)
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

/// Where the running server is, and the token to reach it with.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The running server's URL
    #[arg(long, env = "MUSTER_URL", value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// An API token (`muster tokens create ...`): read for `show`, analyst or admin for
    /// `update`; prefer MUSTER_TOKEN, which other users cannot see in the process list
    #[arg(long, env = "MUSTER_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// The queue: incidents newest activity first, filtered, as a table or JSON
    List(Box<IncidentListArgs>),
    /// An incident's details, its latest comments and history
    Show(IncidentShowArgs),
    /// Change an incident: status, classification, assignee, tags, name, severity, comment
    Update(Box<IncidentUpdateArgs>),
}

#[derive(Debug, Args)]
pub struct IncidentListArgs {
    /// Only these statuses (repeatable): active, inProgress, awaitingAction, resolved
    #[arg(long, value_name = "STATUS")]
    pub status: Vec<String>,
    /// Only these severities (repeatable): informational, low, medium, high
    #[arg(long, value_name = "SEVERITY")]
    pub severity: Vec<String>,
    /// Only incidents assigned to this login or address; `none` for unassigned
    #[arg(long, value_name = "WHO")]
    pub assigned_to: Option<String>,
    /// Only incidents carrying this tag (repeatable: all of them)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only incidents with activity in the last N days
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: Option<u32>,
    /// Free text: name, id and impacted asset names
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// An OData $filter, combined with the flags above by `and`
    #[arg(long, value_name = "ODATA")]
    pub filter: Option<String>,
    /// An OData $orderby, e.g. "severity desc"
    #[arg(long, value_name = "ODATA")]
    pub orderby: Option<String>,
    /// How many incidents (at most 50 a page; more are fetched page by page)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub top: u32,
    /// Print the incidents as Graph JSON (an array)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct IncidentShowArgs {
    /// The incident's id
    pub id: String,
    /// Print the incident as the API returns it (Graph JSON)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct IncidentUpdateArgs {
    /// The incident's id
    pub id: String,
    /// active, inProgress, awaitingAction or resolved (resolving resolves its alerts)
    #[arg(long)]
    pub status: Option<String>,
    /// unknown, truePositive, informationalExpectedActivity or falsePositive
    #[arg(long)]
    pub classification: Option<String>,
    /// A determination that fits the classification (e.g. malware, phishing, notMalicious)
    #[arg(long)]
    pub determination: Option<String>,
    /// Assign to a login, an address or a group (its alerts follow)
    #[arg(long, value_name = "WHO", conflicts_with = "unassign")]
    pub assign: Option<String>,
    /// Remove the assignee
    #[arg(long)]
    pub unassign: bool,
    /// Add a tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Remove a tag (repeatable)
    #[arg(long = "untag", value_name = "TAG")]
    pub untags: Vec<String>,
    /// Rename the incident (an empty name gives the generated one back)
    #[arg(long)]
    pub name: Option<String>,
    /// informational, low, medium or high (overrides the roll-up; "auto" gives it back)
    #[arg(long)]
    pub severity: Option<String>,
    /// The note recorded with a resolution
    #[arg(long, value_name = "TEXT")]
    pub resolving_comment: Option<String>,
    /// A comment added to the incident's log
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Print the updated incident as Graph JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address, as given to `serve` [default: 127.0.0.1:8080]
    #[arg(long, env = "MUSTER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Probe this URL instead of http://<listen>/healthz
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Seconds to wait for the answer
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub timeout_secs: u64,
}

/// `muster users ...`: these open the configured database directly and write the audit log.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; prints a generated password once unless --password-stdin is given
    Add(UserAddArgs),
    /// List users: login, display name, roles, enabled, device groups
    List,
    /// Disable a user and end their sessions
    Disable(LoginArg),
    /// Enable a disabled user
    Enable(LoginArg),
    /// Set a new password (printed once unless --password-stdin is given) and end the user's sessions
    ResetPassword(ResetPasswordArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The login name
    pub login: String,

    /// Roles, comma-separated: admin, analyst, viewer, ingest
    #[arg(long = "role", value_name = "ROLE[,ROLE...]", value_delimiter = ',', required = true)]
    pub roles: Vec<String>,

    /// The name shown in the UI [default: the login]
    #[arg(long, value_name = "NAME")]
    pub display_name: Option<String>,

    /// Device groups the user is limited to, comma-separated [default: none, so every incident]
    #[arg(long, value_name = "G1,G2", value_delimiter = ',')]
    pub device_groups: Vec<String>,

    /// Read the password from stdin (its trailing newline dropped) instead of generating one
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LoginArg {
    /// The user's login name
    pub login: String,
}

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    /// The user's login name
    pub login: String,

    /// Read the password from stdin (its trailing newline dropped) instead of generating one
    #[arg(long)]
    pub password_stdin: bool,
}

/// `muster tokens ...`: these open the configured database directly and write the audit log.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; its secret is the last line of the output, shown only this once
    Create(TokenCreateArgs),
    /// List tokens (never their secrets)
    List,
    /// Revoke a token by its id (see `muster tokens list`)
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The role the token carries: admin, analyst, viewer or ingest
    #[arg(long, value_name = "ROLE")]
    pub role: String,

    /// What the token is for, e.g. the system that uses it
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// The user the token acts for (it then sees no more than they do) [default: a service token]
    #[arg(long, value_name = "LOGIN")]
    pub user: Option<String>,

    /// Days until the token expires [default: never]
    #[arg(long, value_name = "DAYS")]
    pub expires: Option<u32>,

    /// Device groups the token is limited to, comma-separated [default: none, so every incident]
    #[arg(long, value_name = "G1,G2", value_delimiter = ',')]
    pub device_groups: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id
    pub id: i64,
}

impl Cli {
    /// The settings given as flags or `MUSTER_*` variables.
    pub fn overrides(&self) -> Partial {
        let mut overrides = Partial { database: self.database.clone(), ..Partial::default() };
        match &self.command {
            Command::Serve(serve) => {
                overrides.listen = serve.listen;
                overrides.public_url.clone_from(&serve.public_url);
                overrides.body_limit_bytes = serve.body_limit_bytes;
                overrides.request_timeout_secs = serve.request_timeout_secs;
                overrides.trusted_proxies.clone_from(&serve.trusted_proxies);
                overrides.session_idle_secs = serve.session_idle_secs;
                overrides.session_max_secs = serve.session_max_secs;
            }
            Command::Healthcheck(check) => overrides.listen = check.listen,
            Command::Migrate
            | Command::DefaultConfig
            | Command::Users(_)
            | Command::Tokens(_)
            | Command::Ingest(_)
            | Command::Incidents(_)
            | Command::Simulate(_)
            | Command::Bench(_) => {}
        }
        overrides
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "muster",
            "serve",
            "--database",
            "sqlite:///tmp/x.db",
            "--listen",
            "0.0.0.0:9000",
            "--body-limit-bytes",
            "1024",
        ])
        .unwrap();
        let overrides = cli.overrides();
        assert_eq!(overrides.database.as_deref(), Some("sqlite:///tmp/x.db"));
        assert_eq!(overrides.listen, Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(overrides.body_limit_bytes, Some(1024));
        assert_eq!(overrides.public_url, None);
        assert_eq!(overrides.trusted_proxies, None);
        assert_eq!(overrides.session_idle_secs, None);
    }

    #[test]
    fn session_and_proxy_flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "muster",
            "serve",
            "--trusted-proxies",
            "10.0.0.0/8,192.168.1.10",
            "--session-idle-secs",
            "600",
            "--session-max-secs",
            "3600",
        ])
        .unwrap();
        let overrides = cli.overrides();
        assert_eq!(overrides.trusted_proxies, Some(vec!["10.0.0.0/8".to_owned(), "192.168.1.10".to_owned()]));
        assert_eq!(overrides.session_idle_secs, Some(600));
        assert_eq!(overrides.session_max_secs, Some(3600));
    }

    #[test]
    fn account_commands_parse() {
        let cli = Cli::try_parse_from([
            "muster",
            "users",
            "add",
            "alice",
            "--role",
            "analyst,viewer",
            "--device-groups",
            "emea,servers",
            "--password-stdin",
        ])
        .unwrap();
        let Command::Users(UsersCommand::Add(add)) = cli.command else { panic!("{cli:?}") };
        assert_eq!(add.login, "alice");
        assert_eq!(add.roles, ["analyst", "viewer"]);
        assert_eq!(add.device_groups, ["emea", "servers"]);
        assert!(add.password_stdin);
        // A role is required.
        assert!(Cli::try_parse_from(["muster", "users", "add", "bob"]).is_err());

        let cli =
            Cli::try_parse_from(["muster", "tokens", "create", "--role", "ingest", "--name", "edr", "--expires", "30"])
                .unwrap();
        let Command::Tokens(TokensCommand::Create(create)) = cli.command else { panic!("{cli:?}") };
        assert_eq!((create.role.as_str(), create.name.as_str(), create.expires), ("ingest", "edr", Some(30)));
        assert_eq!(create.user, None);
    }

    #[test]
    fn ingest_simulate_and_demo_parse() {
        let cli = Cli::try_parse_from(["muster", "ingest", "a.ndjson", "-", "--token", "mst_x", "--batch-size", "50"])
            .unwrap();
        let Command::Ingest(ingest) = cli.command else { panic!("{cli:?}") };
        assert_eq!(ingest.files, [PathBuf::from("a.ndjson"), PathBuf::from("-")]);
        assert_eq!(ingest.token.as_ref().map(Secret::expose), Some("mst_x"));
        assert_eq!(ingest.batch_size, 50);
        assert!(Cli::try_parse_from(["muster", "ingest"]).is_err(), "a file is required");
        assert!(Cli::try_parse_from(["muster", "ingest", "a", "--batch-size", "0"]).is_err());

        let cli = Cli::try_parse_from(["muster", "simulate", "--out", "-"]).unwrap();
        let Command::Simulate(simulate) = cli.command else { panic!("{cli:?}") };
        let defaults = SimConfig::default();
        assert_eq!((simulate.seed, simulate.alerts, simulate.attacks), (1, defaults.target_alerts, defaults.attacks));
        assert_eq!(simulate.hours * 3600.0, defaults.duration_secs as f64);
        assert!(Cli::try_parse_from(["muster", "simulate"]).is_err(), "--out is required");

        let cli = Cli::try_parse_from(["muster", "serve", "--demo"]).unwrap();
        let Command::Serve(serve) = cli.command else { panic!("{cli:?}") };
        assert!(serve.demo);
        let cli = Cli::try_parse_from(["muster", "serve"]).unwrap();
        let Command::Serve(serve) = cli.command else { panic!("{cli:?}") };
        assert!(!serve.demo);
    }
}
