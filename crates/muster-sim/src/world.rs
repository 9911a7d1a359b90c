//! The simulated organisation: Contoso's devices, people, service accounts and network.

use std::collections::BTreeSet;

use muster_core::entity::{normalise_account, normalise_host, normalise_ip, EntityKind};

use crate::rng::{self, Draw};

/// The organisation's DNS domain.
pub const DOMAIN: &str = "contoso.com";
/// The organisation's NetBIOS domain, as Windows tools write accounts (`CONTOSO\first.last`).
pub const NETBIOS: &str = "CONTOSO";

/// What a device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceRole {
    Workstation,
    DomainController,
    FileServer,
    WebServer,
    AppServer,
    DatabaseServer,
    BuildServer,
    Proxy,
}

/// One device, with the properties Defender reports in `deviceEvidence`.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Short host name, e.g. `ws-0042`, `srv-web-01`, `dc-01`.
    pub host_name: String,
    /// `host.contoso.com`.
    pub fqdn: String,
    pub role: DeviceRole,
    /// Graph `osPlatform`: `Windows11`, `WindowsServer2022`, `Linux` or `macOS`.
    pub os_platform: &'static str,
    pub os_build: Option<i64>,
    pub rbac_group_id: i32,
    /// Graph `rbacGroupName`: `Workstations`, `Finance` or `Servers`.
    pub rbac_group_name: &'static str,
    /// Internal (private) address.
    pub ip: String,
    pub mde_device_id: String,
    pub azure_ad_device_id: String,
    /// The person whose workstation this is (index into [`World::users`]).
    pub owner: Option<usize>,
}

impl Device {
    pub fn is_windows(&self) -> bool {
        self.os_platform.starts_with("Windows")
    }

    pub fn is_linux(&self) -> bool {
        self.os_platform == "Linux"
    }

    pub fn is_server(&self) -> bool {
        self.role != DeviceRole::Workstation
    }
}

/// What an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserKind {
    Person,
    /// A service account (`svc-backup`) that fails to log on to the domain controller all day.
    Service,
    /// An administrator account several people share (`adm-shared`): in alerts everywhere.
    SharedAdmin,
}

/// One account. The same person appears as `first.last@contoso.com` (UPN, mailbox) and as
/// `CONTOSO\first.last` (Windows tools); both normalise to the same entity key.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// `first.last` (the SAM account name).
    pub account_name: String,
    pub display_name: String,
    /// `first.last@contoso.com`: UPN and primary mail address.
    pub upn: String,
    pub sid: String,
    pub azure_ad_user_id: String,
    pub object_guid: String,
    pub kind: UserKind,
    /// The person's own workstation (index into [`World::devices`]).
    pub device: Option<usize>,
}

impl User {
    /// `CONTOSO\first.last`.
    pub fn netbios_name(&self) -> String {
        format!("{NETBIOS}\\{}", self.account_name)
    }
}

/// A file, with the hashes Defender reports in `fileDetails`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    pub size: i64,
    /// Signer and publisher, for signed system binaries.
    pub signer: Option<&'static str>,
}

impl FileInfo {
    pub(crate) fn random(rng: &mut impl Draw, name: String, path: &str) -> Self {
        Self {
            name,
            path: path.to_owned(),
            sha256: rng.hex(64),
            sha1: rng.hex(40),
            md5: rng.hex(32),
            size: rng.range(40_000, 9_000_000),
            signer: None,
        }
    }
}

/// System binaries every Windows machine has: the same hashes in attacks and in admins' work.
#[derive(Debug, Clone, PartialEq)]
pub struct Binaries {
    pub powershell: FileInfo,
    pub psexesvc: FileInfo,
    pub rundll32: FileInfo,
}

/// The organisation. Deterministic for a seed and a workstation count.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub tenant_id: String,
    pub domain_sid: String,
    pub devices: Vec<Device>,
    pub users: Vec<User>,
    /// Indices of the workstations in [`World::devices`].
    pub workstations: Vec<usize>,
    /// Indices of the servers (domain controller and proxy included).
    pub servers: Vec<usize>,
    pub domain_controller: usize,
    pub file_server: usize,
    pub proxy: usize,
    /// The public address all web traffic leaves through (the proxy's NAT address).
    pub proxy_egress_ip: String,
    /// The service account with failing logons on the domain controller.
    pub service_account: usize,
    /// The shared administrator account.
    pub shared_admin: usize,
    pub binaries: Binaries,
}

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "karl", "linda", "marco",
    "nina", "oscar", "petra", "quinn", "rosa", "sven", "tara", "umar", "vera", "walter", "xenia", "yusuf", "zoe",
    "adam", "bella", "chen", "dmitri", "elena", "farid", "gita", "hiro", "ines", "jonas", "kofi", "lena", "mateo",
    "noor", "olga", "pedro", "rania", "samir", "tomas", "uma", "wei", "yara", "liam", "emma",
];

const LAST: &[&str] = &[
    "smith",
    "jones",
    "garcia",
    "muller",
    "rossi",
    "kim",
    "nguyen",
    "patel",
    "cohen",
    "silva",
    "novak",
    "larsen",
    "dubois",
    "tanaka",
    "okafor",
    "moreau",
    "schmidt",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "hoffmann",
    "keller",
    "lindqvist",
    "berg",
    "kowalski",
    "horvat",
    "popescu",
    "ivanova",
    "ahmed",
    "khan",
    "haddad",
    "santos",
    "ferreira",
    "costa",
    "lopez",
    "martin",
    "bernard",
    "petit",
    "richter",
    "wolf",
    "neumann",
    "schulz",
    "koch",
    "bauer",
    "olsen",
    "virtanen",
    "murphy",
    "walsh",
];

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn system_binary(rng: &mut impl Draw, name: &str, path: &str) -> FileInfo {
    FileInfo { signer: Some("Microsoft Windows"), ..FileInfo::random(rng, name.to_owned(), path) }
}

impl World {
    /// Builds the organisation with `workstations` workstations (at least 10), one person each.
    pub fn build(seed: u64, workstations: usize) -> Self {
        let mut rng = rng::stream(seed, 0);
        let n = workstations.max(10);
        let tenant_id = rng.guid();
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000)
        );

        let mut devices = Vec::with_capacity(n + 16);
        let mut new_device = |rng: &mut rand_chacha::ChaCha8Rng,
                              host: String,
                              role: DeviceRole,
                              os: &'static str,
                              group: (i32, &'static str),
                              ip: String| {
            let os_build = match os {
                "Windows11" => Some(22631),
                "WindowsServer2022" => Some(20348),
                _ => None,
            };
            devices.push(Device {
                fqdn: format!("{host}.{DOMAIN}"),
                host_name: host,
                role,
                os_platform: os,
                os_build,
                rbac_group_id: group.0,
                rbac_group_name: group.1,
                ip,
                mde_device_id: rng.hex(40),
                azure_ad_device_id: rng.guid(),
                owner: None,
            });
        };
        const WORKSTATIONS: (i32, &str) = (11, "Workstations");
        const FINANCE: (i32, &str) = (12, "Finance");
        const SERVERS: (i32, &str) = (13, "Servers");

        for i in 0..n {
            let os = if rng.chance(0.12) { "macOS" } else { "Windows11" };
            let group = if rng.chance(0.15) { FINANCE } else { WORKSTATIONS };
            let ip = format!("10.{}.{}.{}", 20 + i / 62_500, (i / 250) % 250, i % 250 + 2);
            new_device(&mut rng, format!("ws-{:04}", i + 1), DeviceRole::Workstation, os, group, ip);
        }
        let mut server = |rng: &mut rand_chacha::ChaCha8Rng, host: String, role, os, ip: String| {
            new_device(rng, host, role, os, SERVERS, ip);
        };
        server(&mut rng, "dc-01".into(), DeviceRole::DomainController, "WindowsServer2022", "10.0.0.10".into());
        server(&mut rng, "proxy-01".into(), DeviceRole::Proxy, "Linux", "10.0.0.5".into());
        server(&mut rng, "fs-01".into(), DeviceRole::FileServer, "WindowsServer2022", "10.0.0.20".into());
        server(&mut rng, "srv-sql-01".into(), DeviceRole::DatabaseServer, "WindowsServer2022", "10.0.1.30".into());
        server(&mut rng, "srv-build-01".into(), DeviceRole::BuildServer, "Linux", "10.0.1.40".into());
        for i in 0..2 + n / 150 {
            server(
                &mut rng,
                format!("srv-web-{:02}", i + 1),
                DeviceRole::WebServer,
                "Linux",
                format!("10.0.2.{}", i + 10),
            );
        }
        for i in 0..2 + n / 200 {
            server(
                &mut rng,
                format!("srv-app-{:02}", i + 1),
                DeviceRole::AppServer,
                "WindowsServer2022",
                format!("10.0.3.{}", i + 10),
            );
        }

        // People: distinct first.last names, one workstation each.
        let mut names: Vec<(usize, usize)> =
            (0..FIRST.len()).flat_map(|f| (0..LAST.len()).map(move |l| (f, l))).collect();
        rng.shuffle(&mut names);
        let mut users = Vec::with_capacity(n + 2);
        let mut new_user = |rng: &mut rand_chacha::ChaCha8Rng, account: String, display: String, kind, device| {
            let rid = 1100 + users.len();
            users.push(User {
                upn: format!("{account}@{DOMAIN}"),
                account_name: account,
                display_name: display,
                sid: format!("{domain_sid}-{rid}"),
                azure_ad_user_id: rng.guid(),
                object_guid: rng.guid(),
                kind,
                device,
            });
        };
        for (i, device) in devices.iter_mut().take(n).enumerate() {
            let (f, l) = names[i % names.len()];
            let round = i / names.len();
            let suffix = if round == 0 { String::new() } else { (round + 1).to_string() };
            let account = format!("{}.{}{suffix}", FIRST[f], LAST[l]);
            let display = format!("{} {}", capitalise(FIRST[f]), capitalise(LAST[l]));
            device.owner = Some(i);
            new_user(&mut rng, account, display, UserKind::Person, Some(i));
        }
        let service_account = n;
        new_user(&mut rng, "svc-backup".into(), "Backup Service".into(), UserKind::Service, None);
        let shared_admin = n + 1;
        new_user(&mut rng, "adm-shared".into(), "Shared Administrator".into(), UserKind::SharedAdmin, None);

        let binaries = Binaries {
            powershell: system_binary(&mut rng, "powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0"),
            psexesvc: system_binary(&mut rng, "PSEXESVC.exe", "C:\\Windows"),
            rundll32: system_binary(&mut rng, "rundll32.exe", "C:\\Windows\\System32"),
        };

        let find = |host: &str| devices.iter().position(|d| d.host_name == host).unwrap_or_default();
        let (domain_controller, proxy, file_server) = (find("dc-01"), find("proxy-01"), find("fs-01"));
        Self {
            tenant_id,
            domain_sid,
            workstations: (0..n).collect(),
            servers: (n..devices.len()).collect(),
            domain_controller,
            file_server,
            proxy,
            proxy_egress_ip: "20.61.14.37".into(),
            service_account,
            shared_admin,
            binaries,
            devices,
            users,
        }
    }

    /// The people (not service or shared accounts).
    pub fn people(&self) -> impl Iterator<Item = usize> + '_ {
        self.users.iter().enumerate().filter(|(_, u)| u.kind == UserKind::Person).map(|(i, _)| i)
    }

    /// Linux servers other than the proxy.
    pub fn linux_servers(&self) -> impl Iterator<Item = usize> + '_ {
        self.servers.iter().copied().filter(|&d| self.devices[d].is_linux() && d != self.proxy)
    }

    /// The entities that appear in many unrelated alerts, attacks' included: the domain
    /// controller, the proxy and its addresses, the shared admin and service accounts, and the
    /// system binaries. As `(kind, normalised value)` in the form of
    /// [`muster_core::entity::entity_keys`]. No attack is linked through these alone.
    pub fn prevalent_keys(&self) -> BTreeSet<(EntityKind, String)> {
        let mut keys = BTreeSet::new();
        for d in [self.domain_controller, self.proxy] {
            let device = &self.devices[d];
            keys.extend(normalise_host(&device.host_name).map(|v| (EntityKind::Device, v)));
            keys.extend(normalise_ip(&device.ip).map(|v| (EntityKind::Ip, v)));
        }
        keys.extend(normalise_ip(&self.proxy_egress_ip).map(|v| (EntityKind::Ip, v)));
        for u in [self.service_account, self.shared_admin] {
            keys.extend(normalise_account(&self.users[u].upn, None).map(|v| (EntityKind::User, v)));
        }
        for file in [&self.binaries.powershell, &self.binaries.psexesvc, &self.binaries.rundll32] {
            keys.insert((EntityKind::File, format!("sha256:{}", file.sha256)));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_is_deterministic_and_consistent() {
        let a = World::build(5, 300);
        assert_eq!(a, World::build(5, 300));
        assert_ne!(a.tenant_id, World::build(6, 300).tenant_id);
        assert_eq!(a.workstations.len(), 300);
        assert_eq!(a.devices[a.domain_controller].host_name, "dc-01");
        let mut hosts: Vec<_> = a.devices.iter().map(|d| &d.host_name).collect();
        hosts.sort();
        hosts.dedup();
        assert_eq!(hosts.len(), a.devices.len());
        let mut upns: Vec<_> = a.users.iter().map(|u| &u.upn).collect();
        upns.sort();
        upns.dedup();
        assert_eq!(upns.len(), a.users.len());
        let alice = &a.users[0];
        assert_eq!(
            normalise_account(&alice.netbios_name(), None),
            normalise_account(&alice.upn, None),
            "both forms of a person are one entity"
        );
        assert!(a.linux_servers().count() >= 3);
        assert!(a.prevalent_keys().contains(&(EntityKind::Device, "dc-01".into())));
    }
}
