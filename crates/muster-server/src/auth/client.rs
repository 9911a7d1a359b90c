//! The client's address: the peer, or, when the peer is a trusted proxy, the address it forwarded
//! in `X-Forwarded-For`. Nobody else may claim an address, so throttling and the audit log cannot
//! be fooled by a header.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::AppState;

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// The request passed a trusted proxy (so its `X-Forwarded-Proto` may be believed).
    pub via_trusted_proxy: bool,
}

/// Resolves the client address from the peer and the forwarding chain.
pub fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> ClientAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return ClientAddr { ip: peer, via_trusted_proxy: false };
    }
    // Walk the chain from the nearest hop; the first address no trusted proxy vouches for is the client.
    let hops = forwarded_for.unwrap_or_default().split(',').rev().map(str::trim);
    let mut client = peer;
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ClientAddr { ip, via_trusted_proxy: true },
            Err(_) => break,
        }
    }
    ClientAddr { ip: client, via_trusted_proxy: true }
}

/// Middleware: records the client's address in the request's extensions.
pub async fn client_addr(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer =
        request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    // Proxies may add their own header line rather than extend the first: read them all, in order.
    let forwarded: Vec<&str> =
        request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let forwarded = forwarded.join(",");
    let client =
        resolve(peer, Some(&forwarded).filter(|f| !f.is_empty()).map(String::as_str), &state.config.trusted_proxies);
    request.extensions_mut().insert(client);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let direct = resolve(ip("203.0.113.5"), Some("1.2.3.4"), &trusted);
        assert_eq!(direct.ip, ip("203.0.113.5"));
        assert!(!direct.via_trusted_proxy);
        let proxied = resolve(ip("10.0.0.2"), Some("6.6.6.6, 198.51.100.7, 10.0.0.9"), &trusted);
        assert_eq!(proxied.ip, ip("198.51.100.7"), "the spoofable left part is ignored");
        assert!(proxied.via_trusted_proxy);
        assert_eq!(resolve(ip("10.0.0.2"), None, &trusted).ip, ip("10.0.0.2"));
    }
}
