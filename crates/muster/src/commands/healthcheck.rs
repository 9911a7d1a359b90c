use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::StatusCode;

use crate::cli::HealthcheckArgs;
use crate::config::Settings;

/// Succeeds only on a 200 from /healthz; any other outcome is an error, which `main` prints as one
/// line and turns into exit code 1.
pub async fn run(settings: &Settings, args: &HealthcheckArgs) -> anyhow::Result<()> {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => format!("http://{}/healthz", probe_address(settings.server.listen)),
    };
    // Built without TLS: the probe runs beside the server and talks to its plain listener.
    if !url.starts_with("http://") {
        bail!("cannot probe {url}: healthcheck speaks plain http:// to the listen address");
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()
        .context("cannot build an HTTP client")?;
    let response = client.get(&url).send().await.with_context(|| format!("GET {url} failed"))?;
    let status = response.status();
    if status != StatusCode::OK {
        bail!("GET {url} answered {status}");
    }
    Ok(())
}

/// A server listening on every interface is probed on loopback.
fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_loopback_for_wildcard_listeners() {
        assert_eq!(probe_address("0.0.0.0:8080".parse().unwrap()).to_string(), "127.0.0.1:8080");
        assert_eq!(probe_address("[::]:80".parse().unwrap()).to_string(), "[::1]:80");
        assert_eq!(probe_address("10.1.2.3:9000".parse().unwrap()).to_string(), "10.1.2.3:9000");
    }
}
