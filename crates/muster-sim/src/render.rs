//! Events to Graph `security.alert` JSON.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::attack::{AttackPlan, Playbook};
use crate::event::{Event, Kind, Src};
use crate::noise::TEMPLATES;
use crate::rng::{guid_from, mix64, Draw, SplitMix};
use crate::world::{Device, FileInfo, User, World, DOMAIN, NETBIOS};

macro_rules! obj {
    (@count) => { 0usize };
    (@count $head:literal $($tail:literal)*) => { 1usize + obj!(@count $($tail)*) };
    ($($key:literal : $value:expr),* $(,)?) => {{
        let mut map = Map::with_capacity(obj!(@count $($key)*));
        $( map.insert(String::from($key), Value::from($value)); )*
        map
    }};
}

const NS_DEVICE: &str = "#microsoft.graph.security.deviceEvidence";
const NS_USER: &str = "#microsoft.graph.security.userEvidence";
const NS_MAILBOX: &str = "#microsoft.graph.security.mailboxEvidence";
const NS_IP: &str = "#microsoft.graph.security.ipEvidence";
const NS_URL: &str = "#microsoft.graph.security.urlEvidence";
const NS_FILE: &str = "#microsoft.graph.security.fileEvidence";
const NS_PROCESS: &str = "#microsoft.graph.security.processEvidence";
const NS_MESSAGE: &str = "#microsoft.graph.security.analyzedMessageEvidence";
const NS_REGISTRY_VALUE: &str = "#microsoft.graph.security.registryValueEvidence";

/// First octets of benign internet addresses (disjoint from the attackers').
const BENIGN_OCTETS: &[u8] =
    &[23, 34, 40, 51, 61, 64, 73, 80, 88, 98, 104, 112, 118, 122, 138, 150, 161, 201, 218, 222];
const COUNTRIES: &[&str] = &["US", "NL", "DE", "RU", "CN", "BR", "VN", "RO", "SG", "KR", "UA", "IN"];
const BENIGN_WORDS: &[&str] =
    &["weather", "recipes", "news", "travel", "sports", "music", "photos", "garden", "books", "games", "maps", "cars"];
const BENIGN_TLDS: &[&str] = &["com", "net", "org", "io"];
const PUA_NAMES: &[&str] =
    &["BrowserModifier:Win32/Foxiebro", "PUA:Win32/Presenoker", "PUA:Win32/Softcnapp", "PUA:Win32/Kuping"];

/// A timestamp as Graph writes it (and as `muster_core::Timestamp`'s `Display` does): UTC, seven fractional
/// digits unless the time is a whole second. Formatted by hand: it is on every alert's hot path.
fn ts(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let sub = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    if !(0..=9999).contains(&year) {
        return muster_core::Timestamp::from_micros(micros).to_string();
    }
    fn digits(out: &mut String, value: i64, width: u32) {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10i64.pow(p) % 10) as u8));
        }
    }
    let mut out = String::with_capacity(28);
    digits(&mut out, year, 4);
    out.push('-');
    digits(&mut out, month, 2);
    out.push('-');
    digits(&mut out, day, 2);
    out.push('T');
    digits(&mut out, h, 2);
    out.push(':');
    digits(&mut out, m, 2);
    out.push(':');
    digits(&mut out, s, 2);
    if sub != 0 {
        out.push('.');
        digits(&mut out, sub * 10, 7);
    }
    out.push('Z');
    out
}

/// What an alert says about itself (everything but times, ids and evidence).
struct Meta {
    title: Cow<'static, str>,
    description: Cow<'static, str>,
    severity: &'static str,
    detector: &'static str,
    categories: &'static [&'static str],
    techniques: &'static [&'static str],
    threat: Option<(String, &'static str)>,
    actor: Option<&'static str>,
}

impl Meta {
    fn new(
        title: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
        severity: &'static str,
        detector: &'static str,
        categories: &'static [&'static str],
        techniques: &'static [&'static str],
    ) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            severity,
            detector,
            categories,
            techniques,
            threat: None,
            actor: None,
        }
    }
}

/// Builds evidence items for one alert.
struct Ev<'a> {
    world: &'a World,
    created: &'a str,
    activity: i64,
}

impl Ev<'_> {
    /// The `alertEvidence` base properties, with room for the type's own.
    fn base(&self, ty: &str, roles: &[&str], verdict: &str, remediation: &str) -> Map<String, Value> {
        let mut map = Map::with_capacity(20);
        map.insert("@odata.type".into(), ty.into());
        map.insert("createdDateTime".into(), self.created.into());
        map.insert("remediationStatus".into(), remediation.into());
        map.insert("roles".into(), roles.into());
        map.insert("verdict".into(), verdict.into());
        map
    }

    /// A device as Defender reports it.
    fn device(&self, d: usize, roles: &[&str], verdict: &str) -> Value {
        let device = &self.world.devices[d];
        let mut m = self.base(NS_DEVICE, roles, verdict, "none");
        m.insert("hostName".into(), device.host_name.as_str().into());
        m.insert("deviceDnsName".into(), device.fqdn.as_str().into());
        m.insert("dnsDomain".into(), DOMAIN.into());
        m.insert("ntDomain".into(), NETBIOS.into());
        m.insert("mdeDeviceId".into(), device.mde_device_id.as_str().into());
        m.insert("azureAdDeviceId".into(), device.azure_ad_device_id.as_str().into());
        m.insert("osPlatform".into(), device.os_platform.into());
        if let Some(build) = device.os_build {
            m.insert("osBuild".into(), build.into());
        }
        m.insert("rbacGroupId".into(), device.rbac_group_id.into());
        m.insert("rbacGroupName".into(), device.rbac_group_name.into());
        m.insert("lastIpAddress".into(), device.ip.as_str().into());
        m.insert("healthStatus".into(), "active".into());
        m.insert("onboardingStatus".into(), "onboarded".into());
        m.insert("defenderAvStatus".into(), "updated".into());
        Value::Object(m)
    }

    /// A device as a log-based tool names it: a host name (short or upper-case FQDN) and address.
    fn tool_device(&self, d: usize, fqdn: bool) -> Value {
        let device = &self.world.devices[d];
        let mut m = self.base(NS_DEVICE, &["contextual"], "unknown", "none");
        let host = if fqdn { device.fqdn.to_uppercase() } else { device.host_name.clone() };
        m.insert("hostName".into(), host.into());
        m.insert("lastIpAddress".into(), device.ip.as_str().into());
        m.insert("osPlatform".into(), device.os_platform.into());
        Value::Object(m)
    }

    fn account_upn(user: &User) -> Value {
        Value::Object(obj! {
            "accountName": user.account_name.as_str(),
            "domainName": DOMAIN,
            "userPrincipalName": user.upn.as_str(),
            "displayName": user.display_name.as_str(),
            "azureAdUserId": user.azure_ad_user_id.as_str(),
            "userSid": user.sid.as_str(),
        })
    }

    fn account_netbios(user: &User) -> Value {
        Value::Object(obj! {
            "accountName": user.account_name.as_str(),
            "domainName": NETBIOS,
            "displayName": user.display_name.as_str(),
            "userSid": user.sid.as_str(),
        })
    }

    fn user_with(&self, account: Value, roles: &[&str], verdict: &str) -> Value {
        let mut m = self.base(NS_USER, roles, verdict, "none");
        m.insert("userAccount".into(), account);
        Value::Object(m)
    }

    /// `first.last@contoso.com` with the cloud identifiers.
    fn user_upn(&self, u: usize, roles: &[&str], verdict: &str) -> Value {
        self.user_with(Self::account_upn(&self.world.users[u]), roles, verdict)
    }

    /// `CONTOSO` + `first.last`, as Windows and Defender for Identity name accounts.
    fn user_netbios(&self, u: usize, roles: &[&str], verdict: &str) -> Value {
        self.user_with(Self::account_netbios(&self.world.users[u]), roles, verdict)
    }

    /// `CONTOSO\first.last` in one string, as log tools write it.
    fn user_tool(&self, u: usize, roles: &[&str]) -> Value {
        let name = self.world.users[u].netbios_name();
        self.user_with(Value::Object(obj! { "accountName": name }), roles, "unknown")
    }

    /// `first.last@contoso.com` as the account name, as sshd on domain-joined Linux logs it.
    fn user_linux(&self, u: usize, roles: &[&str]) -> Value {
        let name = self.world.users[u].upn.as_str();
        self.user_with(Value::Object(obj! { "accountName": name }), roles, "unknown")
    }

    fn mailbox(&self, u: usize, roles: &[&str]) -> Value {
        let user = &self.world.users[u];
        let mut m = self.base(NS_MAILBOX, roles, "unknown", "none");
        m.insert("displayName".into(), user.display_name.as_str().into());
        m.insert("primaryAddress".into(), user.upn.as_str().into());
        m.insert("upn".into(), user.upn.as_str().into());
        m.insert("userAccount".into(), Self::account_upn(user));
        Value::Object(m)
    }

    fn ip(&self, ip: &str, roles: &[&str], verdict: &str, country: Option<&str>) -> Value {
        let mut m = self.base(NS_IP, roles, verdict, "none");
        m.insert("ipAddress".into(), ip.into());
        if let Some(c) = country {
            m.insert("countryLetterCode".into(), c.into());
        }
        Value::Object(m)
    }

    fn url(&self, url: &str, roles: &[&str], verdict: &str) -> Value {
        let mut m = self.base(NS_URL, roles, verdict, "none");
        m.insert("url".into(), url.into());
        Value::Object(m)
    }

    fn details(file: &FileInfo) -> Value {
        let mut m = obj! {
            "fileName": file.name.as_str(),
            "filePath": file.path.as_str(),
            "fileSize": file.size,
            "md5": file.md5.as_str(),
            "sha1": file.sha1.as_str(),
            "sha256": file.sha256.as_str(),
        };
        if let Some(signer) = file.signer {
            m.insert("signer".into(), signer.into());
            m.insert("filePublisher".into(), "Microsoft Corporation".into());
        }
        Value::Object(m)
    }

    fn file(&self, file: &FileInfo, device: Option<usize>, verdict: &str, remediation: &str) -> Value {
        let mut m = self.base(NS_FILE, &["contextual"], verdict, remediation);
        m.insert("detectionStatus".into(), "detected".into());
        m.insert("fileDetails".into(), Self::details(file));
        if let Some(d) = device {
            m.insert("mdeDeviceId".into(), self.world.devices[d].mde_device_id.as_str().into());
        }
        Value::Object(m)
    }

    #[allow(clippy::too_many_arguments)]
    fn process(
        &self,
        rng: &mut SplitMix,
        device: &Device,
        image: &FileInfo,
        parent: &str,
        command_line: String,
        user: Option<&User>,
        verdict: &str,
    ) -> Value {
        let mut m = self.base(NS_PROCESS, &["contextual"], verdict, "none");
        let started = self.activity - rng.range(0, 120_000_000);
        m.insert("detectionStatus".into(), "detected".into());
        m.insert("imageFile".into(), Self::details(image));
        m.insert("mdeDeviceId".into(), device.mde_device_id.as_str().into());
        m.insert("processId".into(), rng.range(1000, 30_000).into());
        m.insert("processCreationDateTime".into(), ts(started).into());
        m.insert("processCommandLine".into(), command_line.into());
        m.insert("parentProcessId".into(), rng.range(400, 9000).into());
        m.insert("parentProcessImageFile".into(), Value::Object(obj! { "fileName": parent }));
        if let Some(user) = user {
            m.insert("userAccount".into(), Self::account_netbios(user));
        }
        Value::Object(m)
    }
}

fn benign_ip(rng: &mut SplitMix) -> String {
    format!("{}.{}.{}.{}", rng.pick(BENIGN_OCTETS), rng.range(0, 256), rng.range(0, 256), rng.range(1, 255))
}

fn benign_url(rng: &mut SplitMix) -> String {
    format!(
        "https://{}{}.{}/{}/{}",
        rng.pick(BENIGN_WORDS),
        rng.range(1, 999),
        rng.pick(BENIGN_TLDS),
        rng.pick(BENIGN_WORDS),
        rng.hex(8)
    )
}

/// The shell an attacker runs tools from on a device.
fn shell(device: &Device) -> &'static str {
    match device.os_platform {
        "Linux" => "bash",
        "macOS" => "zsh",
        _ => "cmd.exe",
    }
}

/// What starts a user's programs on a device.
fn launcher(device: &Device) -> &'static str {
    match device.os_platform {
        "Linux" => "bash",
        "macOS" => "launchd",
        _ => "explorer.exe",
    }
}

fn country(ip: &str) -> &'static str {
    let h = ip.bytes().fold(0u64, |h, b| mix64(h ^ u64::from(b)));
    COUNTRIES[(h % COUNTRIES.len() as u64) as usize]
}

/// Renders events of one simulation.
#[derive(Debug)]
pub(crate) struct Renderer {
    pub world: World,
    pub plans: Vec<AttackPlan>,
    seed_key: u64,
}

impl Renderer {
    pub(crate) fn new(seed: u64, world: World, plans: Vec<AttackPlan>) -> Self {
        Self { world, plans, seed_key: mix64(seed ^ 0x6d75_7374_6572_5f73) }
    }

    /// The alert's unique hash: a bijection of its unique `uid`, so distinct for distinct uids.
    fn hash(&self, uid: u64) -> u64 {
        mix64(uid ^ self.seed_key)
    }

    fn provider_id(src: Src, h: u64, rng: &mut SplitMix, created: i64) -> String {
        match src {
            Src::Endpoint | Src::Antivirus => {
                let ticks = created.saturating_mul(10).saturating_add(621_355_968_000_000_000);
                format!("da{ticks}_{}", h as i64)
            }
            Src::Office => format!("fa{}", guid_from(h, rng.u64())),
            Src::Identity => format!("aa{}", guid_from(h, rng.u64())),
            Src::AadIdentityProtection => format!("{h:016x}{}", rng.hex(48)),
            Src::Suricata => h.to_string(),
            Src::Wazuh => format!("{}.{h}", created.div_euclid(1_000_000)),
            Src::Sigma => guid_from(h, rng.u64()),
        }
    }

    pub(crate) fn render(&self, event: &Event, uid: u64) -> (Value, String) {
        let h = self.hash(uid);
        let mut rng = SplitMix::new(h);
        let src = event.kind.src();
        let provider_alert_id = Self::provider_id(src, h, &mut rng, event.created);
        let created = ts(event.created);
        let ev = Ev { world: &self.world, created: &created, activity: event.last };
        let (meta, evidence) = if event.group == 0 {
            self.benign(event.kind, &ev, &mut rng)
        } else {
            let plan = &self.plans[event.group as usize - 1];
            self.attack(plan, event, &ev, &mut rng)
        };

        let mut m = Map::with_capacity(24);
        m.insert("providerAlertId".into(), provider_alert_id.as_str().into());
        m.insert("tenantId".into(), self.world.tenant_id.as_str().into());
        m.insert("title".into(), meta.title.into());
        m.insert("description".into(), meta.description.into());
        m.insert("severity".into(), meta.severity.into());
        m.insert("status".into(), "new".into());
        m.insert("serviceSource".into(), src.service_source().into());
        m.insert("detectionSource".into(), src.detection_source().into());
        m.insert("productName".into(), src.product_name().into());
        m.insert("detectorId".into(), meta.detector.into());
        if let Some(first) = meta.categories.first() {
            m.insert("category".into(), (*first).into());
        }
        m.insert("categories".into(), meta.categories.into());
        if !meta.techniques.is_empty() {
            m.insert("mitreTechniques".into(), meta.techniques.into());
        }
        m.insert("createdDateTime".into(), created.as_str().into());
        m.insert("lastUpdateDateTime".into(), created.as_str().into());
        m.insert("firstActivityDateTime".into(), ts(event.first).into());
        m.insert("lastActivityDateTime".into(), ts(event.last).into());
        if let Some((display, family)) = meta.threat {
            m.insert("threatDisplayName".into(), display.into());
            m.insert("threatFamilyName".into(), family.into());
        }
        if let Some(actor) = meta.actor {
            m.insert("actorDisplayName".into(), actor.into());
        }
        if src.is_microsoft() {
            let url = format!("https://security.microsoft.com/alerts/{provider_alert_id}?tid={}", self.world.tenant_id);
            m.insert("alertWebUrl".into(), url.into());
        }
        m.insert("evidence".into(), Value::Array(evidence));
        (Value::Object(m), provider_alert_id)
    }

    fn attack(&self, plan: &AttackPlan, event: &Event, ev: &Ev<'_>, rng: &mut SplitMix) -> (Meta, Vec<Value>) {
        let w = &self.world;
        let infra = &plan.infra;
        let entry = &w.devices[plan.entry];
        let victim = plan.victim.map(|v| &w.users[v]);
        let (mut meta, evidence) = match event.kind {
            Kind::Phish { recipient } => {
                let r = usize::from(recipient);
                let user = &w.users[plan.recipients[r]];
                let (title, techniques): (&str, &'static [&'static str]) = if plan.attachment {
                    ("Email messages containing malicious file removed after delivery", &["T1566.001", "T1566.002"])
                } else {
                    ("Email messages containing malicious URL removed after delivery", &["T1566.002"])
                };
                let meta = Meta::new(
                    title,
                    "Emails with a malicious URL or attachment that were delivered and later removed.",
                    "medium",
                    "b4ab6f65-1a47-4f35-9d4b-0a3c7c2d8b51",
                    &["InitialAccess"],
                    techniques,
                );
                let mut msg = ev.base(NS_MESSAGE, &["contextual"], "malicious", "remediated");
                let sender = Value::Object(obj! {
                    "displayName": infra.sender_name.as_str(),
                    "domainName": infra.sender_domain.as_str(),
                    "emailAddress": infra.sender_address.as_str(),
                });
                msg.insert("networkMessageId".into(), plan.message_ids[r].as_str().into());
                msg.insert("internetMessageId".into(), format!("<{}@{}>", rng.hex(24), infra.sender_domain).into());
                msg.insert("subject".into(), infra.subject.as_str().into());
                msg.insert("p1Sender".into(), sender.clone());
                msg.insert("p2Sender".into(), sender);
                msg.insert("recipientEmailAddress".into(), user.upn.as_str().into());
                msg.insert("senderIp".into(), infra.sender_ip.as_str().into());
                msg.insert("receivedDateTime".into(), ts(event.first).into());
                msg.insert("antiSpamDirection".into(), "Inbound".into());
                msg.insert("deliveryAction".into(), "Delivered".into());
                msg.insert("deliveryLocation".into(), "Inbox/folder".into());
                msg.insert("language".into(), "en".into());
                msg.insert("attachmentsCount".into(), i64::from(plan.attachment).into());
                msg.insert("urlCount".into(), 1.into());
                msg.insert("urls".into(), vec![infra.phish_url.as_str()].into());
                msg.insert("threats".into(), vec!["Phish"].into());
                msg.insert("threatDetectionMethods".into(), vec!["URL detonation reputation"].into());
                let mut evidence = vec![Value::Object(msg), ev.mailbox(plan.recipients[r], &["destination"])];
                evidence.push(ev.url(&infra.phish_url, &["contextual"], "malicious"));
                if plan.attachment {
                    evidence.push(ev.file(&plan.payload, None, "malicious", "remediated"));
                }
                (meta, evidence)
            }
            Kind::Click => {
                let meta = Meta::new(
                    "A potentially malicious URL click was detected",
                    "A user clicked a link in an email that was later found to be malicious.",
                    "high",
                    "c39f3d4e-2b8a-4c6f-8e1d-7a6b5c4d3e2f",
                    &["InitialAccess"],
                    &["T1566.002", "T1204.001"],
                );
                let u = plan.victim.unwrap_or(plan.stolen);
                (
                    meta,
                    vec![
                        ev.url(&infra.phish_url, &["suspicious"], "malicious"),
                        ev.user_upn(u, &["contextual"], "suspicious"),
                    ],
                )
            }
            Kind::SignIn { variant } => {
                let meta = if variant == 0 {
                    Meta::new(
                        "Unfamiliar sign-in properties",
                        "The sign-in has properties not seen recently for this user: location, address and browser.",
                        "medium",
                        "unfamiliarFeatures",
                        &["InitialAccess"],
                        &["T1078.004"],
                    )
                } else {
                    Meta::new(
                        "Anomalous Token",
                        "A token with unusual characteristics was used, as after token theft.",
                        "high",
                        "anomalousToken",
                        &["InitialAccess", "CredentialAccess"],
                        &["T1550.001"],
                    )
                };
                let u = plan.victim.unwrap_or(plan.stolen);
                let ip = &infra.signin_ip;
                (
                    meta,
                    vec![
                        ev.user_upn(u, &["compromised"], "suspicious"),
                        ev.ip(ip, &["attacker"], "suspicious", Some(country(ip))),
                    ],
                )
            }
            Kind::Malware { variant } => {
                let u = plan.victim.unwrap_or(plan.stolen);
                match variant {
                    0 => {
                        let mut meta = Meta::new(
                            format!("'{}' malware was detected", plan.family),
                            "Malware was detected in a file downloaded by the user.",
                            "high",
                            "1f3a5c7e-9b2d-4f6a-8c1e-3d5f7a9b2c4e",
                            &["Execution"],
                            &["T1204.002"],
                        );
                        let platform = if entry.is_windows() { "Win32" } else { "MacOS" };
                        meta.threat = Some((format!("Trojan:{platform}/{}.A!ml", plan.family), plan.family));
                        let user = if entry.is_windows() {
                            ev.user_netbios(u, &["contextual"], "unknown")
                        } else {
                            ev.user_upn(u, &["contextual"], "unknown")
                        };
                        let evidence = vec![
                            ev.device(plan.entry, &["compromised"], "malicious"),
                            ev.file(&plan.payload, Some(plan.entry), "malicious", "prevented"),
                            user,
                            ev.url(&infra.payload_url, &["source"], "malicious"),
                        ];
                        (meta, evidence)
                    }
                    1 => {
                        let (meta, image, parent, cmd) = if entry.is_windows() {
                            (
                                Meta::new(
                                    "Suspicious PowerShell command line",
                                    "A process launched PowerShell with an encoded command, as malware does to download more code.",
                                    "medium",
                                    "5f1e3c2a-8b9d-4a7e-b6c5-d4e3f2a1b0c9",
                                    &["Execution"],
                                    &["T1059.001"],
                                ),
                                &w.binaries.powershell,
                                plan.payload.name.as_str(),
                                format!("powershell.exe -nop -w hidden -enc {}", rng.hex(40)),
                            )
                        } else {
                            (
                                Meta::new(
                                    "Suspicious process executed from a download folder",
                                    "A file downloaded from the internet was executed by the user.",
                                    "medium",
                                    "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                                    &["Execution"],
                                    &["T1204.002"],
                                ),
                                &plan.payload,
                                "Finder",
                                format!("{}/{}", plan.payload.path, plan.payload.name),
                            )
                        };
                        let evidence = vec![
                            ev.device(plan.entry, &["compromised"], "suspicious"),
                            ev.process(rng, entry, image, parent, cmd, Some(&w.users[u]), "suspicious"),
                            ev.file(&plan.payload, Some(plan.entry), "suspicious", "none"),
                        ];
                        (meta, evidence)
                    }
                    _ => {
                        let meta = Meta::new(
                            "Registry Run Key Persistence",
                            "A value was added to a Run key pointing to a file in a user-writable folder.",
                            "medium",
                            "9d9cc03e-4b6b-4c4a-8b1c-3c1f2a5b8e77",
                            &["Persistence"],
                            &["T1547.001"],
                        );
                        let mut reg = ev.base(NS_REGISTRY_VALUE, &["added"], "suspicious", "none");
                        reg.insert("registryHive".into(), "HKEY_CURRENT_USER".into());
                        reg.insert("registryKey".into(), "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run".into());
                        reg.insert("registryValueName".into(), "Updater".into());
                        reg.insert(
                            "registryValue".into(),
                            format!("{}\\{}", plan.payload.path, plan.payload.name).into(),
                        );
                        reg.insert("registryValueType".into(), "String".into());
                        let evidence = vec![
                            ev.tool_device(plan.entry, true),
                            ev.user_tool(u, &["contextual"]),
                            ev.file(&plan.payload, None, "suspicious", "none"),
                            Value::Object(reg),
                        ];
                        (meta, evidence)
                    }
                }
            }
            Kind::Intrusion { variant: 0 } => {
                let meta = Meta::new(
                    "Multiple authentication failures followed by a success.",
                    "sshd accepted a logon from an address that had just failed many times.",
                    "high",
                    "40112",
                    &["CredentialAccess", "InitialAccess"],
                    &["T1110.001", "T1078"],
                );
                let ip = &infra.brute_ip;
                (
                    meta,
                    vec![
                        ev.tool_device(plan.entry, false),
                        ev.ip(ip, &["attacker", "source"], "malicious", Some(country(ip))),
                    ],
                )
            }
            Kind::Intrusion { .. } => {
                let meta = Meta::new(
                    "Suspicious file dropped and launched",
                    "A file was written to a temporary folder and executed right after an interactive logon.",
                    "high",
                    "3e2d1c0b-9a8f-4e7d-b6c5-a4b3c2d1e0f9",
                    &["Execution"],
                    &["T1059.004", "T1105"],
                );
                let cmd = format!("{}/{} -d", plan.payload.path, plan.payload.name);
                let evidence = vec![
                    ev.device(plan.entry, &["compromised"], "malicious"),
                    ev.file(&plan.payload, Some(plan.entry), "malicious", "none"),
                    ev.process(rng, entry, &plan.payload, "sshd", cmd, None, "malicious"),
                    ev.url(&infra.payload_url, &["source"], "malicious"),
                ];
                (meta, evidence)
            }
            Kind::C2 => {
                let meta = Meta::new(
                    "Communication with a known command-and-control server",
                    "A process connected to an address that threat intelligence ties to command and control.",
                    "high",
                    "8c7b6a59-4d3e-4f2a-9b1c-0d9e8f7a6b5c",
                    &["CommandAndControl"],
                    &["T1071.001"],
                );
                let cmd = format!("{}/{}", plan.payload.path, plan.payload.name);
                let user = victim.filter(|_| entry.is_windows());
                let ip = &infra.c2_ip;
                let evidence = vec![
                    ev.device(plan.entry, &["compromised"], "malicious"),
                    ev.process(rng, entry, &plan.payload, launcher(entry), cmd, user, "malicious"),
                    ev.ip(ip, &["commandAndControl", "destination"], "malicious", Some(country(ip))),
                    ev.url(&infra.c2_url, &["commandAndControl"], "malicious"),
                ];
                (meta, evidence)
            }
            Kind::Beacon => {
                let title = format!("ET MALWARE {} CnC Checkin", plan.family);
                let meta = Meta::new(
                    title,
                    "Periodic HTTPS check-in matching the malware family's command-and-control protocol.",
                    "high",
                    "2035010",
                    &["CommandAndControl"],
                    &["T1071.001", "T1573.002"],
                );
                let source = if entry.is_server() { entry.ip.as_str() } else { w.proxy_egress_ip.as_str() };
                let ip = &infra.c2_ip;
                (
                    meta,
                    vec![
                        ev.ip(source, &["source"], "unknown", None),
                        ev.ip(ip, &["destination"], "malicious", Some(country(ip))),
                    ],
                )
            }
            Kind::Scan => {
                let meta = Meta::new(
                    "Network Service Scanning from Internal Host",
                    "A host connected to many internal addresses on common service ports in a short time.",
                    "medium",
                    "3b0c8e2a-7d5f-4a1e-9c6b-2f4e8d1a0b3c",
                    &["Discovery"],
                    &["T1046"],
                );
                let target = format!("10.{}.{}.{}", rng.range(0, 4), rng.range(0, 250), rng.range(2, 252));
                let evidence = vec![
                    ev.tool_device(plan.entry, true),
                    ev.ip(&entry.ip, &["source"], "suspicious", None),
                    ev.ip(&target, &["destination"], "unknown", None),
                ];
                (meta, evidence)
            }
            Kind::CredTheft { variant: 0 } => {
                let (title, techniques, cmd): (&str, &'static [&'static str], String) = if entry.is_windows() {
                    (
                        "Suspicious access to LSASS service memory",
                        &["T1003.001"],
                        format!(
                            "{} -accepteula -ma lsass.exe C:\\ProgramData\\l{}.dmp",
                            plan.tool.name,
                            rng.below(100)
                        ),
                    )
                } else if entry.is_linux() {
                    (
                        "Suspicious access to /etc/shadow",
                        &["T1003.008"],
                        format!("{}/{} /etc/shadow", plan.tool.path, plan.tool.name),
                    )
                } else {
                    (
                        "Suspicious Keychain access",
                        &["T1555.001"],
                        format!("{}/{} dump-keychain", plan.tool.path, plan.tool.name),
                    )
                };
                let meta = Meta::new(
                    title,
                    "A process read credential material, as credential theft tools do.",
                    "high",
                    "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
                    &["CredentialAccess"],
                    techniques,
                );
                let mut evidence = vec![
                    ev.device(plan.entry, &["compromised"], "malicious"),
                    ev.process(rng, entry, &plan.tool, shell(entry), cmd, victim, "malicious"),
                    ev.file(&plan.tool, Some(plan.entry), "malicious", "none"),
                    ev.user_netbios(plan.stolen, &["compromised"], "suspicious"),
                ];
                if let Some(v) = plan.victim.filter(|&v| v != plan.stolen) {
                    evidence.push(ev.user_upn(v, &["contextual"], "unknown"));
                }
                (meta, evidence)
            }
            Kind::CredTheft { .. } => {
                let mut meta = Meta::new(
                    "'Mimikatz' credential theft tool",
                    "A credential theft tool was detected on the device.",
                    "high",
                    "0e1d2c3b-4a59-4687-b6a5-c4d3e2f1a0b9",
                    &["CredentialAccess"],
                    &["T1003.001"],
                );
                meta.threat = Some(("HackTool:Win32/Mimikatz.D".to_owned(), "Mimikatz"));
                let evidence = vec![
                    ev.device(plan.entry, &["compromised"], "malicious"),
                    ev.file(&plan.tool, Some(plan.entry), "malicious", "prevented"),
                    ev.user_netbios(plan.stolen, &["compromised"], "suspicious"),
                ];
                (meta, evidence)
            }
            Kind::DcRecon { variant } => {
                let meta = match variant {
                    0 => Meta::new(
                        "Account enumeration reconnaissance (LDAP)",
                        "An account queried the domain controller for many users and groups.",
                        "medium",
                        "2e8f6a2c-2b9d-4c1e-8f7a-6b5c4d3e2f10",
                        &["Discovery"],
                        &["T1087.002"],
                    ),
                    1 => Meta::new(
                        "Suspected Kerberos SPN exposure",
                        "An account requested service tickets for many service principal names.",
                        "high",
                        "e2f7a1b3-5c6d-4e8f-9a0b-c1d2e3f4a5b6",
                        &["CredentialAccess"],
                        &["T1558.003"],
                    ),
                    _ => Meta::new(
                        "Suspected DCSync attack (replication of directory services)",
                        "A replication request was sent to the domain controller from a device that is not one.",
                        "high",
                        "f1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
                        &["CredentialAccess"],
                        &["T1003.006"],
                    ),
                };
                let evidence = vec![
                    ev.user_netbios(plan.stolen, &["attacker"], "suspicious"),
                    ev.device(plan.entry, &["source"], "suspicious"),
                    ev.device(w.domain_controller, &["destination", "attacked"], "unknown"),
                ];
                (meta, evidence)
            }
            Kind::BruteForce { device, external } => {
                let d = device as usize;
                let windows = w.devices[d].is_windows();
                let meta = if windows {
                    Meta::new(
                        "Logon Failure - Unknown user or bad password.",
                        "Windows reported a failed logon (event 4625).",
                        "low",
                        "60122",
                        &["CredentialAccess"],
                        &["T1110"],
                    )
                } else {
                    Meta::new(
                        "sshd: authentication failed.",
                        "sshd reported a failed password authentication.",
                        "low",
                        "5760",
                        &["CredentialAccess"],
                        &["T1110.001"],
                    )
                };
                let mut evidence = vec![ev.tool_device(d, false)];
                if external {
                    let ip = &infra.brute_ip;
                    evidence.push(ev.ip(ip, &["source"], "unknown", Some(country(ip))));
                } else {
                    evidence.push(ev.ip(&entry.ip, &["source"], "unknown", None));
                    evidence.push(if windows {
                        ev.user_tool(plan.stolen, &["attacked"])
                    } else {
                        ev.user_linux(plan.stolen, &["attacked"])
                    });
                }
                (meta, evidence)
            }
            Kind::Lateral { device, variant } => {
                let d = device as usize;
                let target = &w.devices[d];
                match variant {
                    0 => {
                        let meta = Meta::new(
                            "Suspicious service creation by a remote account",
                            "A service was installed remotely and ran a command, as PsExec-style lateral movement does.",
                            "medium",
                            "4d3c2b1a-0f9e-4d8c-b7a6-f5e4d3c2b1a0",
                            &["LateralMovement", "Execution"],
                            &["T1021.002", "T1569.002"],
                        );
                        let stolen = &w.users[plan.stolen];
                        let evidence = vec![
                            ev.device(d, &["compromised"], "suspicious"),
                            ev.process(
                                rng,
                                target,
                                &w.binaries.psexesvc,
                                "services.exe",
                                "PSEXESVC.exe".into(),
                                Some(stolen),
                                "suspicious",
                            ),
                            ev.user_netbios(plan.stolen, &["compromised"], "suspicious"),
                            ev.ip(&entry.ip, &["source"], "unknown", None),
                        ];
                        (meta, evidence)
                    }
                    1 => {
                        let meta = Meta::new(
                            "Suspected overpass-the-hash attack (Kerberos)",
                            "An account used a Kerberos ticket obtained with a stolen hash to reach another device.",
                            "high",
                            "a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d",
                            &["LateralMovement"],
                            &["T1550.002"],
                        );
                        let evidence = vec![
                            ev.user_netbios(plan.stolen, &["compromised"], "suspicious"),
                            ev.device(plan.entry, &["source"], "suspicious"),
                            ev.device(d, &["destination"], "suspicious"),
                        ];
                        (meta, evidence)
                    }
                    _ => {
                        let meta = Meta::new(
                            "SSH logon with a domain account from a workstation",
                            "A domain account logged on over SSH from a host that never did before.",
                            "medium",
                            "100201",
                            &["LateralMovement"],
                            &["T1021.004"],
                        );
                        let evidence = vec![
                            ev.tool_device(d, false),
                            ev.user_linux(plan.stolen, &["contextual"]),
                            ev.ip(&entry.ip, &["source"], "unknown", None),
                        ];
                        (meta, evidence)
                    }
                }
            }
            Kind::Exfil { variant } => {
                let ip = &infra.exfil_ip;
                match variant {
                    0 => {
                        let meta = Meta::new(
                            "Possible data exfiltration: archive uploaded to a rare domain",
                            "An archive was created and uploaded to a domain this organisation has never contacted.",
                            "high",
                            "7e6d5c4b-3a29-4f18-8e07-d6c5b4a39281",
                            &["Exfiltration", "Collection"],
                            &["T1567.002", "T1560.001"],
                        );
                        let device = plan.exfil_device();
                        let evidence = vec![
                            ev.device(device, &["compromised"], "suspicious"),
                            ev.user_netbios(plan.stolen, &["compromised"], "suspicious"),
                            ev.file(&plan.archive, Some(device), "suspicious", "none"),
                            ev.url(&infra.exfil_url, &["destination"], "suspicious"),
                            ev.ip(ip, &["destination"], "suspicious", Some(country(ip))),
                        ];
                        (meta, evidence)
                    }
                    1 => {
                        let meta = Meta::new(
                            "Large Upload to Uncategorised Domain via Proxy",
                            "More than 500 MB were posted to a domain without a category in the proxy log.",
                            "medium",
                            "b1e2c3d4-a5f6-4789-8a0b-1c2d3e4f5a6b",
                            &["Exfiltration"],
                            &["T1048.002"],
                        );
                        let evidence = vec![
                            ev.tool_device(w.proxy, false),
                            ev.ip(&w.proxy_egress_ip, &["source"], "unknown", None),
                            ev.url(&infra.exfil_url, &["destination"], "suspicious"),
                        ];
                        (meta, evidence)
                    }
                    _ => {
                        let meta = Meta::new(
                            "ET POLICY Large Outbound Transfer to Rare Destination",
                            "A long-lived TLS session sent far more data than it received.",
                            "medium",
                            "2045102",
                            &["Exfiltration"],
                            &["T1041"],
                        );
                        let evidence = vec![
                            ev.ip(&w.proxy_egress_ip, &["source"], "unknown", None),
                            ev.ip(ip, &["destination"], "suspicious", Some(country(ip))),
                        ];
                        (meta, evidence)
                    }
                }
            }
            // Benign kinds never carry an attack group.
            other => return self.benign(other, ev, rng),
        };
        if event.kind.src().is_microsoft() && plan.playbook == Playbook::Phishing {
            meta.actor = plan.actor;
        }
        (meta, evidence)
    }

    fn benign(&self, kind: Kind, ev: &Ev<'_>, rng: &mut SplitMix) -> (Meta, Vec<Value>) {
        let w = &self.world;
        match kind {
            Kind::AvUpdate { device } => {
                let meta = Meta::new(
                    "Microsoft Defender Antivirus security intelligence update failed",
                    "The device could not download the latest security intelligence update.",
                    "informational",
                    "d3c2b1a0-9f8e-4d7c-a6b5-c4d3e2f1a0b9",
                    &["DefenseEvasion"],
                    &[],
                );
                (meta, vec![ev.device(device as usize, &["contextual"], "noThreatsFound")])
            }
            Kind::ProxyIds => {
                let meta = Meta::new(
                    "ET POLICY Observed DNS over HTTPS Domain in TLS SNI",
                    "A client connected to a public DNS-over-HTTPS resolver.",
                    "low",
                    "2027695",
                    &["CommandAndControl"],
                    &["T1071.004"],
                );
                let dest = benign_ip(rng);
                let evidence = vec![
                    ev.ip(&w.proxy_egress_ip, &["source"], "unknown", None),
                    ev.ip(&dest, &["destination"], "unknown", Some(country(&dest))),
                ];
                (meta, evidence)
            }
            Kind::ServiceLogonFailure => {
                let meta = Meta::new(
                    "Logon Failure - Unknown user or bad password.",
                    "Windows reported a failed logon (event 4625).",
                    "low",
                    "60122",
                    &["CredentialAccess"],
                    &["T1110"],
                );
                (
                    meta,
                    vec![ev.tool_device(w.domain_controller, false), ev.user_tool(w.service_account, &["contextual"])],
                )
            }
            Kind::SshNoise { device } => {
                let meta = Meta::new(
                    "sshd: authentication failed.",
                    "sshd reported a failed password authentication.",
                    "low",
                    "5760",
                    &["CredentialAccess"],
                    &["T1110.001"],
                );
                let ip = benign_ip(rng);
                (
                    meta,
                    vec![
                        ev.tool_device(device as usize, false),
                        ev.ip(&ip, &["source"], "unknown", Some(country(&ip))),
                    ],
                )
            }
            Kind::AdminLogon => {
                let meta = Meta::new(
                    "Privileged Account Logon to Server",
                    "A privileged account logged on interactively to a server.",
                    "informational",
                    "c8f3a4b2-1d6e-4f7a-9b8c-2e1d0f9a8b7c",
                    &["PrivilegeEscalation"],
                    &["T1078.002"],
                );
                let server = *rng.pick(&w.servers);
                (meta, vec![ev.tool_device(server, true), ev.user_tool(w.shared_admin, &["contextual"])])
            }
            Kind::Pua { device } => {
                let d = device as usize;
                let mut file_rng = SplitMix::new(mix64(self.seed_key ^ 0x0070_7561 ^ u64::from(device)));
                let name = *file_rng.pick(PUA_NAMES);
                let file_name = format!("setup_{}.exe", file_rng.hex(6));
                let file = FileInfo::random(&mut file_rng, file_name, "C:\\Users\\Public\\Downloads");
                let mut meta = Meta::new(
                    format!("'{name}' unwanted software was detected"),
                    "Potentially unwanted software was detected again; it was not removed.",
                    "low",
                    "e9d8c7b6-a5f4-4e3d-8c2b-1a0f9e8d7c6b",
                    &["Execution"],
                    &["T1204.002"],
                );
                meta.threat = Some((name.to_owned(), "PUA"));
                (
                    meta,
                    vec![
                        ev.device(d, &["contextual"], "suspicious"),
                        ev.file(&file, Some(d), "suspicious", "notFound"),
                    ],
                )
            }
            Kind::OneOff { template, subject } => self.one_off(template, subject as usize, ev, rng),
            // Attack kinds always carry their group; render a harmless stand-in if one does not.
            _ => self.one_off(0, 0, ev, rng),
        }
    }

    fn one_off(&self, template: u8, subject: usize, ev: &Ev<'_>, rng: &mut SplitMix) -> (Meta, Vec<Value>) {
        let w = &self.world;
        let t = &TEMPLATES[usize::from(template)];
        let meta = Meta::new(t.title, t.description, t.severity, t.detector, t.categories, t.techniques);
        let owner_or_admin = |d: usize| w.devices[d].owner.unwrap_or(w.shared_admin);
        let evidence = match template {
            0 => {
                let name = format!("{}_setup.exe", rng.pick(BENIGN_WORDS));
                let file = FileInfo::random(rng, name, "C:\\Users\\Public\\Downloads");
                vec![
                    ev.device(subject, &["contextual"], "suspicious"),
                    ev.file(&file, Some(subject), "suspicious", "prevented"),
                ]
            }
            1 => {
                let user = &w.users[owner_or_admin(subject)];
                let cmd = format!(
                    "powershell.exe -ExecutionPolicy Bypass -File \\\\fs-01\\it$\\scripts\\{}.ps1",
                    rng.pick(BENIGN_WORDS)
                );
                vec![
                    ev.device(subject, &["contextual"], "unknown"),
                    ev.process(
                        rng,
                        &w.devices[subject],
                        &w.binaries.powershell,
                        "explorer.exe",
                        cmd,
                        Some(user),
                        "unknown",
                    ),
                ]
            }
            2 => {
                let ip = benign_ip(rng);
                vec![
                    ev.user_upn(subject, &["contextual"], "unknown"),
                    ev.ip(&ip, &["source"], "unknown", Some(country(&ip))),
                ]
            }
            3 => {
                let domain = format!("{}{}.{}", rng.pick(BENIGN_WORDS), rng.range(1, 999), rng.pick(BENIGN_TLDS));
                let user = &w.users[subject];
                let url = benign_url(rng);
                let mut msg = ev.base(NS_MESSAGE, &["contextual"], "unknown", "none");
                msg.insert("networkMessageId".into(), rng.guid().into());
                msg.insert("subject".into(), "Special offer just for you".into());
                msg.insert(
                    "p1Sender".into(),
                    Value::Object(obj! { "domainName": domain.as_str(), "emailAddress": format!("news@{domain}") }),
                );
                msg.insert("recipientEmailAddress".into(), user.upn.as_str().into());
                msg.insert("senderIp".into(), benign_ip(rng).into());
                msg.insert("deliveryAction".into(), "Delivered".into());
                msg.insert("deliveryLocation".into(), "Inbox/folder".into());
                msg.insert("urlCount".into(), 1.into());
                msg.insert("urls".into(), vec![url].into());
                vec![Value::Object(msg), ev.mailbox(subject, &["destination"])]
            }
            4 => {
                let url = benign_url(rng);
                vec![
                    ev.ip(&w.proxy_egress_ip, &["source"], "unknown", None),
                    ev.ip(&w.devices[subject].ip, &["source"], "unknown", None),
                    ev.url(&url, &["destination"], "unknown"),
                ]
            }
            5 => vec![
                ev.user_netbios(owner_or_admin(subject), &["contextual"], "unknown"),
                ev.device(subject, &["source"], "unknown"),
                ev.device(w.domain_controller, &["destination"], "unknown"),
            ],
            6 => {
                let admin = &w.users[w.shared_admin];
                vec![
                    ev.tool_device(subject, true),
                    ev.process(
                        rng,
                        &w.devices[subject],
                        &w.binaries.psexesvc,
                        "services.exe",
                        "PSEXESVC.exe".into(),
                        Some(admin),
                        "unknown",
                    ),
                    ev.user_tool(w.shared_admin, &["contextual"]),
                ]
            }
            7 => vec![ev.tool_device(subject, true), ev.user_tool(owner_or_admin(subject), &["contextual"])],
            8 => {
                let other = format!("10.{}.{}.{}", rng.range(0, 4), rng.range(0, 250), rng.range(2, 252));
                vec![
                    ev.ip(&w.devices[subject].ip, &["source"], "unknown", None),
                    ev.ip(&other, &["destination"], "unknown", None),
                ]
            }
            _ => {
                let name = format!("{}_{}.docm", rng.pick(BENIGN_WORDS), rng.range(1, 99));
                let file = FileInfo::random(rng, name, "C:\\Users\\Public\\Documents");
                vec![
                    ev.device(subject, &["contextual"], "unknown"),
                    ev.file(&file, Some(subject), "unknown", "none"),
                    ev.user_netbios(owner_or_admin(subject), &["contextual"], "unknown"),
                ]
            }
        };
        (meta, evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::Timestamp;

    #[test]
    fn timestamps_match_the_model() {
        for micros in [
            0,
            1,
            999_999,
            1_717_401_600_000_000,
            1_717_401_600_123_456,
            951_782_400_000_001,
            -1,
            4_102_444_799_999_999,
        ] {
            assert_eq!(ts(micros), Timestamp::from_micros(micros).to_string(), "{micros}");
        }
        let mut rng = SplitMix::new(3);
        for _ in 0..10_000 {
            let micros = rng.range(0, 8_000_000_000_000_000);
            assert_eq!(ts(micros), Timestamp::from_micros(micros).to_string());
        }
    }
}
