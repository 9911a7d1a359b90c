//! Entity keys: the normalised identities of the things an alert's evidence names. Correlation
//! links alerts through them, and the entity search finds alerts by them.
//!
//! Normalisation makes one thing look the same however a tool wrote it: host names short and lower
//! case, `CONTOSO\alice` = `alice@contoso.com` (both become `alice@contoso`), IPs and URLs canonical.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::enums::{EvidenceVerdict, GraphEnum};
use crate::evidence::{Evidence, FileDetails, IpEvidence, UserAccount};

/// What kind of thing a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntityKind {
    Device,
    User,
    Mailbox,
    Ip,
    File,
    Process,
    Url,
    CloudApp,
    MailMessage,
    Domain,
}

impl EntityKind {
    pub const ALL: &'static [EntityKind] = &[
        Self::Device,
        Self::User,
        Self::Mailbox,
        Self::Ip,
        Self::File,
        Self::Process,
        Self::Url,
        Self::CloudApp,
        Self::MailMessage,
        Self::Domain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::User => "user",
            Self::Mailbox => "mailbox",
            Self::Ip => "ip",
            Self::File => "file",
            Self::Process => "process",
            Self::Url => "url",
            Self::CloudApp => "cloudApp",
            Self::MailMessage => "mailMessage",
            Self::Domain => "domain",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|k| k.as_str().eq_ignore_ascii_case(value)).ok_or_else(|| {
            let valid: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
            format!("'{value}' is not an entity kind; expected one of: {}", valid.join(", "))
        })
    }
}

/// One normalised identity, with the name to show people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub kind: EntityKind,
    /// The normalised value that links alerts.
    pub value: String,
    /// The name as a tool wrote it, for people.
    pub display: String,
    /// Context rather than a finding: the image of a process that ran (every machine runs
    /// `cmd.exe`). Stored and searchable, but correlation does not link on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contextual: bool,
}

impl EntityKey {
    fn new(kind: EntityKind, value: String, display: &str) -> Self {
        Self { kind, value, display: display.trim().to_owned(), contextual: false }
    }

    /// Whether this key links alerts by default: private and special IP addresses are shared by too
    /// many unrelated machines to mean "the same thing".
    pub fn is_strong(&self) -> bool {
        match self.kind {
            EntityKind::Ip => self.value.parse::<IpAddr>().is_ok_and(is_public_ip),
            _ => true,
        }
    }
}

/// Whether an address is routable on the internet (not private, loopback, link-local, ...).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The canonical text of an IP address, or `None` when it is not one.
pub fn normalise_ip(raw: &str) -> Option<String> {
    let trimmed = raw.trim().trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = trimmed.parse().ok()?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    Some(ip.to_string())
}

/// The key a person's search for an entity means, normalised as evidence is: `WS-01.contoso.com`
/// finds device `ws-01`, `CONTOSO\alice` finds user `alice@contoso`, a bare hash its algorithm by
/// length. `None` when the text cannot be one of that kind.
pub fn search_key(kind: EntityKind, raw: &str) -> Option<String> {
    let raw = raw.trim();
    match kind {
        EntityKind::Device => normalise_host(raw),
        EntityKind::User => normalise_account(raw, None),
        EntityKind::Mailbox => normalise_email(raw),
        EntityKind::Ip => normalise_ip(raw),
        EntityKind::Url => normalise_url(raw),
        EntityKind::Domain => normalise_domain(raw),
        EntityKind::File => {
            let lower = raw.to_lowercase();
            if lower.contains(':') {
                return Some(lower);
            }
            let algo = match lower.len() {
                64 => "sha256",
                40 => "sha1",
                32 => "md5",
                _ => return None,
            };
            lower.bytes().all(|b| b.is_ascii_hexdigit()).then(|| format!("{algo}:{lower}"))
        }
        EntityKind::Process | EntityKind::CloudApp | EntityKind::MailMessage => {
            (!raw.is_empty()).then(|| raw.to_lowercase())
        }
    }
}

/// A host name, short and lower case: `WS-01.contoso.com` → `ws-01`. IP-like names stay whole.
pub fn normalise_host(raw: &str) -> Option<String> {
    let trimmed = raw.trim().trim_end_matches('.');
    if trimmed.is_empty() || trimmed == "-" {
        return None;
    }
    if let Some(ip) = normalise_ip(trimmed) {
        return Some(ip);
    }
    let short = trimmed.split('.').next().unwrap_or(trimmed);
    Some(short.to_lowercase())
}

/// A user account as `name@domain` with the domain's first label, lower case, so `CONTOSO\alice`,
/// `alice@contoso.com` and `alice@CONTOSO` all meet. A bare name stays bare.
pub fn normalise_account(name: &str, domain: Option<&str>) -> Option<String> {
    let name = name.trim();
    if name.is_empty() || name == "-" {
        return None;
    }
    let (name, domain) = if let Some((d, n)) = name.split_once('\\') {
        (n, Some(d))
    } else if let Some((n, d)) = name.split_once('@') {
        (n, Some(d))
    } else {
        (name, domain)
    };
    let domain = domain
        .map(str::trim)
        .filter(|d| !d.is_empty() && *d != "-")
        .map(|d| d.split('.').next().unwrap_or(d).to_lowercase());
    let name = name.to_lowercase();
    Some(match domain {
        Some(d) => format!("{name}@{d}"),
        None => name,
    })
}

/// An email address, lower case.
pub fn normalise_email(raw: &str) -> Option<String> {
    let trimmed = raw.trim().trim_matches(|c| c == '<' || c == '>');
    (trimmed.contains('@') && trimmed.len() > 2).then(|| trimmed.to_lowercase())
}

/// A URL in canonical form: scheme and host lower case, default port and fragment dropped.
pub fn normalise_url(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let parsed = url::Url::parse(trimmed).or_else(|_| url::Url::parse(&format!("http://{trimmed}"))).ok()?;
    parsed.host_str()?;
    let mut parsed = parsed;
    parsed.set_fragment(None);
    Some(parsed.to_string())
}

/// A domain name, lower case without the trailing dot.
pub fn normalise_domain(raw: &str) -> Option<String> {
    let trimmed = raw.trim().trim_end_matches('.').to_lowercase();
    (!trimmed.is_empty() && trimmed.contains('.')).then_some(trimmed)
}

fn file_key(details: &FileDetails) -> Option<EntityKey> {
    let display = details.file_name.as_deref().or(details.file_path.as_deref()).unwrap_or_default();
    let hash = [("sha256", &details.sha256), ("sha1", &details.sha1), ("md5", &details.md5)].into_iter().find_map(
        |(algo, value)| {
            let v = value.as_deref()?.trim();
            (!v.is_empty()).then(|| format!("{algo}:{}", v.to_lowercase()))
        },
    )?;
    let display = if display.is_empty() { hash_display(&hash) } else { display.to_owned() };
    Some(EntityKey::new(EntityKind::File, hash, &display))
}

fn hash_display(key: &str) -> String {
    key.split_once(':').map(|(_, h)| h.chars().take(16).collect()).unwrap_or_default()
}

fn account_key(account: &UserAccount) -> Option<EntityKey> {
    if let Some(upn) = account.user_principal_name.as_deref().filter(|u| u.contains('@')) {
        return normalise_account(upn, None).map(|v| EntityKey::new(EntityKind::User, v, upn));
    }
    if let Some(name) = account.account_name.as_deref() {
        let display = match account.domain_name.as_deref() {
            Some(d) if !d.is_empty() => format!("{d}\\{name}"),
            _ => name.to_owned(),
        };
        return normalise_account(name, account.domain_name.as_deref())
            .map(|v| EntityKey::new(EntityKind::User, v, &display));
    }
    let id = account.azure_ad_user_id.as_deref().or(account.user_sid.as_deref())?;
    Some(EntityKey::new(EntityKind::User, format!("id:{}", id.to_lowercase()), id))
}

fn ip_key(ip: &IpEvidence) -> Option<EntityKey> {
    let raw = ip.ip_address.as_deref()?;
    normalise_ip(raw).map(|v| EntityKey::new(EntityKind::Ip, v, raw))
}

fn email_keys(address: &str, out: &mut Vec<EntityKey>) {
    if let Some(mailbox) = normalise_email(address) {
        // A mailbox belongs to a user: the same person's mail and logons should meet.
        if let Some(user) = normalise_account(&mailbox, None) {
            out.push(EntityKey::new(EntityKind::User, user, address));
        }
        out.push(EntityKey::new(EntityKind::Mailbox, mailbox, address));
    }
}

fn evidence_keys(ev: &Evidence, out: &mut Vec<EntityKey>) {
    match ev {
        Evidence::Device(d) => {
            let host = d.host_name.as_deref().or(d.device_dns_name.as_deref());
            if let Some(key) = host.and_then(|h| normalise_host(h).map(|v| EntityKey::new(EntityKind::Device, v, h))) {
                out.push(key);
            } else if let Some(id) = d.mde_device_id.as_deref().or(d.azure_ad_device_id.as_deref()) {
                out.push(EntityKey::new(EntityKind::Device, format!("id:{}", id.to_lowercase()), id));
            }
        }
        Evidence::User(u) => out.extend(u.user_account.as_ref().and_then(account_key)),
        Evidence::Mailbox(m) => {
            if let Some(address) = m.primary_address.as_deref().or(m.upn.as_deref()) {
                email_keys(address, out);
            } else if let Some(account) = &m.user_account {
                out.extend(account_key(account));
            }
        }
        Evidence::Ip(ip) => out.extend(ip_key(ip)),
        Evidence::File(f) => out.extend(f.file_details.as_ref().and_then(file_key)),
        Evidence::Process(p) => {
            let finding = matches!(p.verdict, Some(EvidenceVerdict::Malicious | EvidenceVerdict::Suspicious));
            out.extend(p.image_file.as_ref().and_then(file_key).map(|mut key| {
                key.contextual = !finding;
                key
            }));
            out.extend(p.user_account.as_ref().and_then(account_key));
            // A process instance is only identifiable with its device and start time.
            if let (Some(pid), Some(start), Some(device)) =
                (p.process_id, p.process_creation_date_time, p.mde_device_id.as_deref())
            {
                let value = format!("{}:{pid}:{}", device.to_lowercase(), start.micros());
                out.push(EntityKey::new(EntityKind::Process, value, &pid.to_string()));
            }
        }
        Evidence::Url(u) => {
            if let Some(raw) = u.url.as_deref() {
                out.extend(normalise_url(raw).map(|v| EntityKey::new(EntityKind::Url, v, raw)));
            }
        }
        Evidence::CloudApplication(app) => {
            let id = app.app_id.or(app.saas_app_id).map(|id| format!("id:{id}"));
            let value = id.or_else(|| app.display_name.as_deref().map(|n| n.trim().to_lowercase()));
            let display = app.display_name.clone().unwrap_or_else(|| value.clone().unwrap_or_default());
            out.extend(value.filter(|v| !v.is_empty()).map(|v| EntityKey::new(EntityKind::CloudApp, v, &display)));
        }
        Evidence::AnalyzedMessage(m) => {
            let id = m.network_message_id.as_deref().or(m.internet_message_id.as_deref());
            if let Some(id) = id.filter(|i| !i.trim().is_empty()) {
                let display = m.subject.as_deref().unwrap_or(id);
                out.push(EntityKey::new(EntityKind::MailMessage, id.trim().to_lowercase(), display));
            }
            if let Some(recipient) = m.recipient_email_address.as_deref() {
                email_keys(recipient, out);
            }
            for raw in &m.urls {
                out.extend(normalise_url(raw).map(|v| EntityKey::new(EntityKind::Url, v, raw)));
            }
        }
        Evidence::NetworkConnection(n) => {
            out.extend(n.source_address.as_ref().and_then(ip_key));
            out.extend(n.destination_address.as_ref().and_then(ip_key));
        }
        Evidence::Dns(d) => {
            if let Some(raw) = d.domain_name.as_deref() {
                out.extend(normalise_domain(raw).map(|v| EntityKey::new(EntityKind::Domain, v, raw)));
            }
            out.extend(d.ip_addresses.iter().filter_map(ip_key));
        }
        Evidence::FileHash(h) => {
            if let (Some(algo), Some(value)) = (h.algorithm, h.value.as_deref()) {
                let key = format!("{}:{}", algo.as_str().to_lowercase(), value.trim().to_lowercase());
                out.push(EntityKey::new(EntityKind::File, key, value));
            }
        }
        Evidence::RegistryKey(_) | Evidence::RegistryValue(_) | Evidence::Other(_) => {}
    }
}

/// A stable 64-bit hash of a normalised key, the same in every process and version: what storage
/// indexes entity keys by. Collisions are possible, so whoever looks a hash up checks the key.
pub fn key_hash(kind: EntityKind, value: &str) -> i64 {
    // Most keys are short: hashed in one go from the stack, which gives the streaming hasher's
    // result at a fraction of its set-up cost.
    const SEPARATOR: u8 = 0x1f;
    let (kind_bytes, value_bytes) = (kind.as_str().as_bytes(), value.as_bytes());
    let mut buffer = [0u8; 192];
    let length = kind_bytes.len() + 1 + value_bytes.len();
    if length <= buffer.len() {
        buffer[..kind_bytes.len()].copy_from_slice(kind_bytes);
        buffer[kind_bytes.len()] = SEPARATOR;
        buffer[kind_bytes.len() + 1..length].copy_from_slice(value_bytes);
        return xxhash_rust::xxh3::xxh3_64(&buffer[..length]) as i64;
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(kind_bytes);
    hasher.update(&[SEPARATOR]);
    hasher.update(value_bytes);
    hasher.digest() as i64
}

impl EntityKey {
    /// [`key_hash`] of this key.
    pub fn hash(&self) -> i64 {
        key_hash(self.kind, &self.value)
    }
}

/// The keys one evidence item names (an alert's [`entity_keys`] are those of all its items), for
/// views that show each item's verdict beside what it names.
pub fn evidence_item_keys(ev: &Evidence) -> Vec<EntityKey> {
    let mut out = Vec::new();
    evidence_keys(ev, &mut out);
    out
}

/// The distinct entity keys of an alert's evidence, in a stable order.
pub fn entity_keys(alert: &Alert) -> Vec<EntityKey> {
    let mut out = Vec::new();
    for ev in &alert.evidence {
        evidence_keys(ev, &mut out);
    }
    // A key that is a finding somewhere in the alert wins over the same key as context.
    out.sort_by(|a, b| (a.kind, &a.value, a.contextual).cmp(&(b.kind, &b.value, b.contextual)));
    out.dedup_by(|a, b| a.kind == b.kind && a.value == b.value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_normalise_as_evidence_does() {
        assert_eq!(search_key(EntityKind::Device, "WS-01.contoso.com").as_deref(), Some("ws-01"));
        assert_eq!(search_key(EntityKind::User, "CONTOSO\\Alice").as_deref(), Some("alice@contoso"));
        assert_eq!(search_key(EntityKind::Mailbox, "Bob@Contoso.com").as_deref(), Some("bob@contoso.com"));
        assert_eq!(search_key(EntityKind::Ip, " 203.0.113.7 ").as_deref(), Some("203.0.113.7"));
        let sha1 = "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3";
        assert_eq!(search_key(EntityKind::File, sha1), Some(format!("sha1:{}", sha1.to_lowercase())));
        assert_eq!(search_key(EntityKind::File, "not-a-hash"), None);
        assert_eq!(search_key(EntityKind::Ip, "nope"), None);
    }

    #[test]
    fn accounts_meet_across_domain_forms() {
        let a = normalise_account("alice", Some("CONTOSO"));
        let b = normalise_account("alice@contoso.com", None);
        let c = normalise_account("CONTOSO\\Alice", None);
        assert_eq!(a.as_deref(), Some("alice@contoso"));
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    #[test]
    fn hosts_ips_and_urls_are_canonical() {
        assert_eq!(normalise_host("WS-01.contoso.com").as_deref(), Some("ws-01"));
        assert_eq!(normalise_host("10.0.0.5").as_deref(), Some("10.0.0.5"));
        assert_eq!(normalise_ip("2001:0db8:0000::0001").as_deref(), Some("2001:db8::1"));
        assert_eq!(normalise_ip("::ffff:1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(normalise_url("HTTP://Evil.Example:80/a#x").as_deref(), Some("http://evil.example/a"));
        assert_eq!(normalise_url("evil.example/login").as_deref(), Some("http://evil.example/login"));
    }

    #[test]
    fn key_hashes_are_stable() {
        // Stored in databases: this value must never change.
        assert_eq!(key_hash(EntityKind::Device, "ws-01"), key_hash(EntityKind::Device, "ws-01"));
        assert_ne!(key_hash(EntityKind::Device, "ws-01"), key_hash(EntityKind::User, "ws-01"));
        assert_eq!(key_hash(EntityKind::Device, "ws-01"), -8_782_382_203_424_996_647_i64);
    }

    /// Short keys are hashed in one go, long ones streamed: both give the stored value.
    #[test]
    fn key_hashes_do_not_depend_on_length() {
        for length in [0, 1, 100, 180, 181, 182, 191, 192, 300, 5000] {
            let value = "x".repeat(length);
            let mut streamed = xxhash_rust::xxh3::Xxh3::new();
            streamed.update(b"url\x1f");
            streamed.update(value.as_bytes());
            assert_eq!(key_hash(EntityKind::Url, &value), streamed.digest() as i64, "length {length}");
        }
    }

    #[test]
    fn private_ips_are_weak() {
        let key = |v: &str| EntityKey::new(EntityKind::Ip, v.into(), v);
        assert!(!key("192.168.1.4").is_strong());
        assert!(!key("127.0.0.1").is_strong());
        assert!(key("8.8.8.8").is_strong());
    }
}
