//! What the HTTP server needs to know. The binary fills it from its config file, environment and
//! flags; tests build it directly.

use std::net::{Ipv4Addr, SocketAddr};

/// 16 MiB: room for a large alert batch, small enough that a client cannot exhaust memory.
pub const DEFAULT_BODY_LIMIT_BYTES: u64 = 16 * 1024 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where `muster serve` binds. `serve()` takes a bound listener, so this is informational there.
    pub listen: SocketAddr,
    /// Requests with larger bodies get 413.
    pub body_limit_bytes: u64,
    /// Requests still running after this get 503.
    pub request_timeout_secs: u64,
    /// The URL clients reach Muster at when that is not `listen`, e.g. behind a TLS proxy. It
    /// decides absolute links and whether cookies are `Secure`.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A UI session ends after this long without a request.
    pub session_idle_secs: i64,
    /// A UI session ends this long after sign-in, however active.
    pub session_max_secs: i64,
}

/// Two hours idle, twelve hours at most: a working shift.
pub const DEFAULT_SESSION_IDLE_SECS: i64 = 2 * 3600;
pub const DEFAULT_SESSION_MAX_SECS: i64 = 12 * 3600;

impl ServerConfig {
    /// Whether clients reach Muster over HTTPS, as its public URL says.
    pub fn public_https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            public_url: None,
            trusted_proxies: Vec::new(),
            session_idle_secs: DEFAULT_SESSION_IDLE_SECS,
            session_max_secs: DEFAULT_SESSION_MAX_SECS,
        }
    }
}
