//! Settings and where they come from. Lowest to highest: the defaults, the TOML file
//! (`--config`), `MUSTER_*` environment variables, flags. clap already resolves a flag over its
//! variable, so the merge here is two layers of `Partial` (flags/environment over file) and then
//! the defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::{bail, Context};
use ipnet::IpNet;
use muster_core::correlation::CorrelationConfig;
use muster_server::ServerConfig;
use serde::Deserialize;

pub const DEFAULT_DATABASE: &str = "sqlite://muster.db";

/// What `muster default-config` prints. Every setting is here, at its default value (the unit tests
/// hold it to that), so the file documents itself.
pub const DEFAULT_CONFIG: &str = r#"# Muster configuration.
#
# Each setting can also be given as an environment variable, MUSTER_ and its name in capitals
# (MUSTER_LISTEN), or as a flag (--listen). A flag beats the environment, which beats this file.
# Point Muster at this file with --config FILE or MUSTER_CONFIG.

# Where incidents, alerts, users and tokens are kept.
#   sqlite://muster.db                             SQLite file, relative to the working directory
#   sqlite:///var/lib/muster/muster.db             SQLite file, absolute path
#   postgres://muster:PASSWORD@db.example.com/muster   PostgreSQL, which several nodes may share
# A SQLite file is created if missing; migrations are applied on start (or by `muster migrate`).
database = "sqlite://muster.db"

# Address and port `muster serve` listens on. Use 0.0.0.0:8080 to accept connections from other
# machines, or from outside a container.
listen = "127.0.0.1:8080"

# The URL users and API clients reach Muster at when that is not `listen`, e.g. behind a reverse
# proxy that terminates TLS. Links are built from it, and cookies are Secure when it is https.
# public_url = "https://muster.example.com"

# Largest request body accepted, in bytes (16 MiB); larger requests are answered with 413.
body_limit_bytes = 16777216

# Seconds a request may take before it is answered with 503.
request_timeout_secs = 60

# Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto headers Muster believes. The client's
# address (for sign-in throttling and the audit log) and whether it used HTTPS are taken from those
# headers only when the request comes from one of these; anyone else could forge them. Each entry
# is a CIDR network or a plain IP address, which means that single host. Leave it empty when
# clients connect to Muster directly. As a flag or variable, separate entries with commas
# (--trusted-proxies 10.0.0.0/8,192.168.1.10).
# trusted_proxies = ["10.0.0.0/8", "192.168.1.10"]
trusted_proxies = []

# Seconds a signed-in web UI session may sit idle before it ends (2 hours; at least 60).
session_idle_secs = 7200

# Seconds after sign-in a web UI session ends, however active (12 hours; at least
# session_idle_secs).
session_max_secs = 43200

# Correlation: how alerts become incidents (DESIGN.md section 3). Set only in this file.
[correlation]
# Artifacts (file hashes, URLs, public IPs, domains, mail messages, mailboxes, cloud apps) link an
# alert to an incident that saw them within this many seconds of its activity time.
window_secs = 86400
# Devices and user accounts link only within this shorter stretch since the incident last saw them.
busy_window_secs = 14400
# A key seen alongside more than this many devices, users or mailboxes (or in more incidents) is
# prevalent - a proxy, a domain controller, a shared admin account - and stops linking. An account
# counts the devices it is seen on; a device, the accounts seen on it.
prevalence_limit = 5
# Keys that never link, as "kind:value", e.g. ["device:jump-01", "user:svc-backup@contoso"].
exclusions = []
# Set to cap incident size: the overflow opens a new incident. Off by default.
# max_incident_alerts = 5000
# A (detector, entity) pair seen at least noise_min_age_secs before, within noise_lookback_secs,
# is recurring noise, grouped apart, unless its hourly count bursts above
# burst_factor x its busiest earlier hour + burst_margin.
noise_bucket_secs = 3600
noise_lookback_secs = 604800
noise_min_age_secs = 21600
burst_factor = 5.0
burst_margin = 10
# Activity times further ahead than this are clamped to arrival time and tagged.
future_tolerance_secs = 300
"#;

/// Some of the settings: one layer (the file, or flags and environment) before the merge.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    pub database: Option<String>,
    pub listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub body_limit_bytes: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    /// As written; parsed and checked by `Settings::resolve`, so an error can name the bad entry.
    pub trusted_proxies: Option<Vec<String>>,
    pub session_idle_secs: Option<i64>,
    pub session_max_secs: Option<i64>,
    /// The `[correlation]` table (file only).
    pub correlation: Option<CorrelationConfig>,
}

impl Partial {
    /// Each setting from `self` where it has one, else from `lower`.
    pub fn over(self, lower: Partial) -> Partial {
        Partial {
            database: self.database.or(lower.database),
            listen: self.listen.or(lower.listen),
            public_url: self.public_url.or(lower.public_url),
            body_limit_bytes: self.body_limit_bytes.or(lower.body_limit_bytes),
            request_timeout_secs: self.request_timeout_secs.or(lower.request_timeout_secs),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            session_idle_secs: self.session_idle_secs.or(lower.session_idle_secs),
            session_max_secs: self.session_max_secs.or(lower.session_max_secs),
            correlation: self.correlation.or(lower.correlation),
        }
    }
}

/// Every setting, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub database: String,
    pub server: ServerConfig,
    pub correlation: CorrelationConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DEFAULT_DATABASE.to_owned(),
            server: ServerConfig::default(),
            correlation: CorrelationConfig::default(),
        }
    }
}

impl Settings {
    /// `overrides` (flags and environment) over `file` over the defaults.
    pub fn resolve(file: Partial, overrides: Partial) -> anyhow::Result<Self> {
        let merged = overrides.over(file);
        let defaults = Settings::default();
        let settings = Settings {
            database: merged.database.unwrap_or(defaults.database),
            server: ServerConfig {
                listen: merged.listen.unwrap_or(defaults.server.listen),
                public_url: merged.public_url.filter(|url| !url.trim().is_empty()),
                body_limit_bytes: merged.body_limit_bytes.unwrap_or(defaults.server.body_limit_bytes),
                request_timeout_secs: merged.request_timeout_secs.unwrap_or(defaults.server.request_timeout_secs),
                trusted_proxies: match merged.trusted_proxies {
                    Some(entries) => parse_proxies(&entries)?,
                    None => defaults.server.trusted_proxies,
                },
                session_idle_secs: merged.session_idle_secs.unwrap_or(defaults.server.session_idle_secs),
                session_max_secs: merged.session_max_secs.unwrap_or(defaults.server.session_max_secs),
            },
            correlation: merged.correlation.unwrap_or(defaults.correlation),
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        self.correlation.check().map_err(|e| anyhow::anyhow!(e))?;
        if self.database.trim().is_empty() {
            bail!("database must not be empty");
        }
        if self.server.body_limit_bytes == 0 {
            bail!("body_limit_bytes must be at least 1");
        }
        if self.server.request_timeout_secs == 0 {
            bail!("request_timeout_secs must be at least 1");
        }
        if self.server.session_idle_secs < MIN_SESSION_IDLE_SECS {
            bail!("session_idle_secs must be at least {MIN_SESSION_IDLE_SECS}");
        }
        if self.server.session_max_secs < self.server.session_idle_secs {
            bail!(
                "session_max_secs ({}) must be at least session_idle_secs ({})",
                self.server.session_max_secs,
                self.server.session_idle_secs
            );
        }
        if let Some(public_url) = &self.server.public_url {
            let parsed =
                url::Url::parse(public_url).with_context(|| format!("public_url {public_url:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
                bail!("public_url {public_url:?} must be an http:// or https:// URL");
            }
        }
        Ok(())
    }
}

/// The shortest idle timeout accepted: less would sign people out while they read an incident.
pub const MIN_SESSION_IDLE_SECS: i64 = 60;

/// Trusted proxies as written: CIDR networks, or plain addresses meaning one host. Blank entries
/// are skipped, so an empty `--trusted-proxies ""` clears the file's list.
fn parse_proxies(entries: &[String]) -> anyhow::Result<Vec<IpNet>> {
    entries
        .iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry.parse::<IpNet>().map(|net| net.trunc()).or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)).map_err(
                |_| {
                    anyhow::anyhow!(
                        "trusted_proxies entry {entry:?} is not an IP address or CIDR network \
                         (such as 192.168.1.10 or 10.0.0.0/8)"
                    )
                },
            )
        })
        .collect()
}

/// Reads a config file. Errors name the file and the line, on one line.
pub fn load_file(path: &Path) -> anyhow::Result<Partial> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    parse(&text).with_context(|| format!("invalid config file {}", path.display()))
}

fn parse(text: &str) -> anyhow::Result<Partial> {
    toml::from_str(text).map_err(|error| {
        // toml's Display draws the offending line over several lines; keep the gist.
        let line = error.span().map(|span| text[..span.start].matches('\n').count() + 1);
        match line {
            Some(line) => anyhow::anyhow!("line {line}: {}", error.message().trim()),
            None => anyhow::anyhow!("{}", error.message().trim()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(database: &str, listen: &str) -> Partial {
        Partial { database: Some(database.into()), listen: Some(listen.parse().unwrap()), ..Partial::default() }
    }

    #[test]
    fn template_is_exactly_the_defaults() {
        let file = parse(DEFAULT_CONFIG).unwrap();
        // Every setting is written out (public_url has no default, so its example is commented).
        assert!(file.database.is_some() && file.listen.is_some());
        assert!(file.body_limit_bytes.is_some() && file.request_timeout_secs.is_some());
        assert!(file.session_idle_secs.is_some() && file.session_max_secs.is_some());
        assert_eq!(file.trusted_proxies, Some(Vec::new()));
        assert!(DEFAULT_CONFIG.contains("\n# public_url = "));
        assert!(DEFAULT_CONFIG.contains("\n# trusted_proxies = ["));
        assert_eq!(Settings::resolve(file.clone(), Partial::default()).unwrap(), Settings::default());
        assert_eq!(Settings::resolve(Partial::default(), file).unwrap(), Settings::default());
    }

    #[test]
    fn template_example_public_url_is_valid() {
        let text = DEFAULT_CONFIG.replace("\n# public_url = ", "\npublic_url = ");
        let settings = Settings::resolve(parse(&text).unwrap(), Partial::default()).unwrap();
        assert_eq!(settings.server.public_url.as_deref(), Some("https://muster.example.com"));
    }

    #[test]
    fn template_example_trusted_proxies_are_valid() {
        let text = DEFAULT_CONFIG
            .replace("\ntrusted_proxies = []\n", "\n")
            .replace("\n# trusted_proxies = ", "\ntrusted_proxies = ");
        let settings = Settings::resolve(parse(&text).unwrap(), Partial::default()).unwrap();
        let expected: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "192.168.1.10/32".parse().unwrap()];
        assert_eq!(settings.server.trusted_proxies, expected);
    }

    #[test]
    fn template_numbers_are_the_server_defaults() {
        // The template writes the numbers out; hold them to what muster-server chose.
        let defaults = ServerConfig::default();
        for (name, value) in [
            ("body_limit_bytes", i64::try_from(defaults.body_limit_bytes).unwrap()),
            ("request_timeout_secs", i64::try_from(defaults.request_timeout_secs).unwrap()),
            ("session_idle_secs", defaults.session_idle_secs),
            ("session_max_secs", defaults.session_max_secs),
        ] {
            assert!(DEFAULT_CONFIG.contains(&format!("\n{name} = {value}\n")), "{name}");
        }
        assert!(defaults.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_take_networks_and_single_hosts() {
        let entries = ["10.0.0.0/8", " 192.168.1.10 ", "", "fd00::/8", "::1", "172.16.5.4/12"];
        let overrides = Partial { trusted_proxies: Some(entries.map(String::from).to_vec()), ..Partial::default() };
        let settings = Settings::resolve(Partial::default(), overrides).unwrap();
        let expected: Vec<IpNet> = ["10.0.0.0/8", "192.168.1.10/32", "fd00::/8", "::1/128", "172.16.0.0/12"]
            .iter()
            .map(|net| net.parse().unwrap())
            .collect();
        assert_eq!(settings.server.trusted_proxies, expected);

        // An empty list given as a flag clears the file's.
        let file = Partial { trusted_proxies: Some(vec!["10.0.0.0/8".into()]), ..Partial::default() };
        let cleared = Partial { trusted_proxies: Some(vec![String::new()]), ..Partial::default() };
        assert!(Settings::resolve(file, cleared).unwrap().server.trusted_proxies.is_empty());
    }

    #[test]
    fn a_bad_trusted_proxy_is_named_on_one_line() {
        for bad in ["10.0.0.0/33", "proxy.example.com", "10.0.0", "192.168.1.10:8080"] {
            let overrides =
                Partial { trusted_proxies: Some(vec!["10.0.0.0/8".into(), bad.into()]), ..Partial::default() };
            let message = format!("{:#}", Settings::resolve(Partial::default(), overrides).unwrap_err());
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains("trusted_proxies"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn session_lifetimes_are_checked() {
        let resolve = |idle: i64, max: i64| {
            let file = Partial { session_idle_secs: Some(idle), session_max_secs: Some(max), ..Partial::default() };
            Settings::resolve(file, Partial::default())
        };
        let ok = resolve(60, 60).unwrap();
        assert_eq!((ok.server.session_idle_secs, ok.server.session_max_secs), (60, 60));
        assert!(resolve(59, 3600).unwrap_err().to_string().contains("session_idle_secs must be at least 60"));
        assert!(resolve(-1, 3600).is_err());
        let message = resolve(3600, 1800).unwrap_err().to_string();
        assert!(message.contains("session_max_secs (1800) must be at least session_idle_secs (3600)"), "{message}");
        // Only idle given: it must still fit under the default maximum.
        let long_idle = Partial { session_idle_secs: Some(86_400), ..Partial::default() };
        assert!(Settings::resolve(long_idle, Partial::default()).is_err());
    }

    #[test]
    fn nothing_given_means_defaults() {
        assert_eq!(Settings::resolve(Partial::default(), Partial::default()).unwrap(), Settings::default());
        assert_eq!(Settings::default().database, "sqlite://muster.db");
        assert_eq!(Settings::default().server.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn flags_and_environment_beat_the_file_setting_by_setting() {
        let file = Partial { request_timeout_secs: Some(5), ..partial("sqlite://file.db", "10.0.0.1:1") };
        let overrides = Partial { database: Some("sqlite://flag.db".into()), ..Partial::default() };
        let settings = Settings::resolve(file, overrides).unwrap();
        assert_eq!(settings.database, "sqlite://flag.db");
        // Not overridden: the file's value stands, not the default.
        assert_eq!(settings.server.listen.to_string(), "10.0.0.1:1");
        assert_eq!(settings.server.request_timeout_secs, 5);
        assert_eq!(settings.server.body_limit_bytes, muster_server::DEFAULT_BODY_LIMIT_BYTES);
    }

    #[test]
    fn a_full_override_replaces_everything() {
        let file = parse(DEFAULT_CONFIG).unwrap();
        let overrides = Partial {
            public_url: Some("https://soc.example.org/muster".into()),
            body_limit_bytes: Some(1),
            request_timeout_secs: Some(2),
            trusted_proxies: Some(vec!["127.0.0.1".into()]),
            session_idle_secs: Some(600),
            session_max_secs: Some(3600),
            ..partial("postgres://db/muster", "[::]:80")
        };
        let settings = Settings::resolve(file, overrides).unwrap();
        assert_eq!(settings.database, "postgres://db/muster");
        assert_eq!(
            settings.server,
            ServerConfig {
                listen: "[::]:80".parse().unwrap(),
                public_url: Some("https://soc.example.org/muster".into()),
                body_limit_bytes: 1,
                request_timeout_secs: 2,
                trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
                session_idle_secs: 600,
                session_max_secs: 3600,
            }
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let zero = Partial { request_timeout_secs: Some(0), ..Partial::default() };
        assert!(Settings::resolve(zero, Partial::default()).is_err());
        let ftp = Partial { public_url: Some("ftp://example.com".into()), ..Partial::default() };
        assert!(Settings::resolve(Partial::default(), ftp).is_err());
        let blank = Partial { public_url: Some(String::new()), ..Partial::default() };
        assert_eq!(Settings::resolve(Partial::default(), blank).unwrap().server.public_url, None);
    }

    #[test]
    fn file_errors_are_one_line_with_the_line_number() {
        let error = parse("database = \"sqlite://x.db\"\nlisten = \"not an address\"\n").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("line 2: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
        let unknown = parse("databse = \"x\"\n").unwrap_err().to_string();
        assert!(unknown.contains("databse"), "{unknown}");
    }

    #[test]
    fn correlation_settings_come_from_the_file_and_are_checked() {
        let file = parse("[correlation]\nbusy_window_secs = 7200\nexclusions = [\"device:jump-01\"]\n").unwrap();
        let settings = Settings::resolve(file, Partial::default()).unwrap();
        assert_eq!(settings.correlation.busy_window_secs, 7200);
        assert_eq!(settings.correlation.window_secs, CorrelationConfig::default().window_secs);
        let zero = parse("[correlation]\nwindow_secs = 0\n").unwrap();
        let err = Settings::resolve(zero, Partial::default()).unwrap_err().to_string();
        assert!(err.contains("correlation.window_secs"), "{err}");
        let bad = parse("[correlation]\nexclusions = [\"jump-01\"]\n").unwrap();
        assert!(Settings::resolve(bad, Partial::default()).is_err());
        assert!(parse("[correlation]\nwindow = 1\n").is_err(), "unknown keys are refused");
    }
}
