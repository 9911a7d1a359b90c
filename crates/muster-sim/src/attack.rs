//! Multi-stage attacks: who they hit, the attacker's infrastructure, and the timeline of alerts.
//!
//! Two playbooks. *Phishing*: mail to a person → URL click (→ risky sign-in) → malware on their
//! workstation → command and control → credential theft → reconnaissance against the domain
//! controller → lateral movement with the stolen account (one hop behind a burst of failed
//! logons) → exfiltration. *Exposed server*: a brute-force burst from the internet on a Linux
//! server → logon → payload → the same chain from command and control on.
//!
//! Every stage names at least one entity of an earlier stage that belongs to this attack alone
//! (victim, device, stolen account, payload hash, attacker address or URL); the domain controller,
//! the proxy and system binaries appear too but never as the only link.

use std::collections::HashSet;

use crate::event::{Event, Kind, MINUTE, SECOND};
use crate::noise;
use crate::rng::{self, Draw};
use crate::world::{FileInfo, World};
use crate::SimConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Playbook {
    Phishing,
    ExposedServer,
}

/// The attacker's own infrastructure, unique to one attack.
#[derive(Debug, Clone)]
pub(crate) struct Infra {
    pub sender_name: String,
    pub sender_address: String,
    pub sender_domain: String,
    pub sender_ip: String,
    pub subject: String,
    pub phish_url: String,
    pub payload_url: String,
    pub signin_ip: String,
    pub brute_ip: String,
    pub c2_ip: String,
    pub c2_url: String,
    pub exfil_ip: String,
    pub exfil_url: String,
}

/// One planned attack.
#[derive(Debug, Clone)]
pub(crate) struct AttackPlan {
    pub playbook: Playbook,
    /// The person phished (Phishing playbook).
    pub victim: Option<usize>,
    /// Everyone the phishing mail reached; the victim first.
    pub recipients: Vec<usize>,
    /// Network message id of each recipient's copy.
    pub message_ids: Vec<String>,
    /// The first device: the victim's workstation or the exposed server.
    pub entry: usize,
    /// The account the attacker moves with.
    pub stolen: usize,
    /// Devices reached by lateral movement, in order.
    pub lateral: Vec<usize>,
    pub infra: Infra,
    pub payload: FileInfo,
    pub tool: FileInfo,
    pub archive: FileInfo,
    pub family: &'static str,
    pub actor: Option<&'static str>,
    pub attachment: bool,
}

impl AttackPlan {
    /// Where the data leaves from: the last device reached.
    pub(crate) fn exfil_device(&self) -> usize {
        self.lateral.last().copied().unwrap_or(self.entry)
    }
}

const FAMILIES: &[&str] = &["QakBot", "IcedID", "Emotet", "AsyncRAT", "Lumma", "Pikabot", "DarkGate", "Latrodectus"];
const ACTORS: &[&str] = &["Velvet Tempest", "Copper Typhoon", "Lilac Sleet", "Amber Blizzard", "Cobalt Dust"];
const LURE_WORDS: &[&str] =
    &["secure", "docs", "share", "invoice", "portal", "verify", "files", "sign", "pay", "notice"];
const LURE_BRANDS: &[&str] =
    &["docushare", "onedrive-files", "payroll-hub", "sharepoint-doc", "dropbox-share", "adobe-sign"];
const INFRA_WORDS: &[&str] =
    &["cdn", "api", "sync", "update", "telemetry", "static", "metrics", "edge", "node", "cloud"];
const ATTACKER_TLDS: &[&str] = &["top", "xyz", "online", "site", "click", "info", "shop", "live"];
const SUBJECTS: &[&str] = &[
    "Action required: payroll details update",
    "Invoice {n} overdue",
    "Shared document: Q3 budget review",
    "Your mailbox is almost full",
    "DocuSign: please review and sign",
    "Voicemail received from +44 20 {n}",
];
const PAYLOAD_NAMES: &[&str] =
    &["Invoice_{n}.exe", "scan_{n}.pdf.exe", "Document_{n}.js", "update_{n}.dll", "Q3_budget_{n}.iso"];
const TOOL_NAMES: &[&str] = &["pd64.exe", "svchost32.exe", "mscache.exe", "wininit64.exe", "rdpclip32.exe"];
/// First octets of attackers' addresses; benign internet addresses use others.
pub(crate) const ATTACKER_OCTETS: &[u8] = &[45, 91, 141, 176, 185, 193, 194, 195, 212, 217];

fn fill(template: &str, n: i64) -> String {
    template.replace("{n}", &n.to_string())
}

/// Hands out people and devices so that attacks use different victims while it can.
struct Allocator {
    users: Vec<usize>,
    devices: Vec<usize>,
    used_users: Vec<bool>,
    used_devices: Vec<bool>,
}

impl Allocator {
    fn new(world: &World, rng: &mut impl Draw) -> Self {
        let mut users: Vec<usize> = world.people().collect();
        rng.shuffle(&mut users);
        let mut devices: Vec<usize> = world
            .workstations
            .iter()
            .chain(&world.servers)
            .copied()
            .filter(|&d| d != world.domain_controller && d != world.proxy)
            .collect();
        rng.shuffle(&mut devices);
        Self {
            users,
            devices,
            used_users: vec![false; world.users.len()],
            used_devices: vec![false; world.devices.len()],
        }
    }

    fn mark_user(&mut self, world: &World, u: usize) {
        self.used_users[u] = true;
        if let Some(d) = world.users[u].device {
            self.used_devices[d] = true;
        }
    }

    fn mark_device(&mut self, world: &World, d: usize) {
        self.used_devices[d] = true;
        if let Some(u) = world.devices[d].owner {
            self.used_users[u] = true;
        }
    }

    /// A person nobody has used, else any person not in `avoid`.
    fn user(&mut self, world: &World, avoid: &[usize]) -> usize {
        let fresh = self.users.iter().copied().find(|&u| {
            !self.used_users[u] && world.users[u].device.is_none_or(|d| !self.used_devices[d]) && !avoid.contains(&u)
        });
        let u = fresh.or_else(|| self.users.iter().copied().find(|u| !avoid.contains(u))).unwrap_or(self.users[0]);
        // Move it to the back so reuse, once it starts, goes round.
        if let Some(pos) = self.users.iter().position(|&x| x == u) {
            let item = self.users.remove(pos);
            self.users.push(item);
        }
        self.mark_user(world, u);
        u
    }

    /// A device matching `ok` that nobody has used, else one not in `avoid`.
    fn device(&mut self, world: &World, avoid: &[usize], ok: impl Fn(usize) -> bool) -> Option<usize> {
        let fresh = self.devices.iter().copied().find(|&d| !self.used_devices[d] && !avoid.contains(&d) && ok(d));
        let d = fresh.or_else(|| self.devices.iter().copied().find(|&d| !avoid.contains(&d) && ok(d)))?;
        if let Some(pos) = self.devices.iter().position(|&x| x == d) {
            let item = self.devices.remove(pos);
            self.devices.push(item);
        }
        self.mark_device(world, d);
        Some(d)
    }

    fn has_fresh(&self, ok: impl Fn(usize) -> bool) -> bool {
        self.devices.iter().any(|&d| !self.used_devices[d] && ok(d))
    }
}

fn public_ip(rng: &mut impl Draw, used: &mut HashSet<String>) -> String {
    loop {
        let ip =
            format!("{}.{}.{}.{}", rng.pick(ATTACKER_OCTETS), rng.range(1, 255), rng.range(0, 256), rng.range(1, 255));
        if used.insert(ip.clone()) {
            return ip;
        }
    }
}

/// A repeated alert planned at a time and expanded once the budget is known.
struct Burst {
    kind: Kind,
    from: i64,
    window: i64,
    share: u32,
}

/// Plans every attack and returns the plans and their alert events (plus benign alerts that
/// happen on the attacks' devices while they run), in no particular order.
pub(crate) fn plan(config: &SimConfig, world: &World) -> (Vec<AttackPlan>, Vec<Event>) {
    let mut rng = rng::stream(config.seed, 1);
    let mut alloc = Allocator::new(world, &mut rng);
    let mut used_ips = HashSet::new();
    let mut plans = Vec::with_capacity(config.attacks);
    let mut events = Vec::new();
    let duration = config.duration_micros();
    let start = config.start.micros();
    let attacks = config.attacks.max(1) as i64;
    let slot = duration / attacks;
    let budget = ((config.target_alerts as f64) * config.attack_share.clamp(0.0, 1.0)).round() as usize;
    let per_attack = budget / config.attacks.max(1);

    for index in 0..config.attacks {
        let group = index as u32 + 1;
        let k = i64::from(group);
        let exposed = rng.chance(0.25) && alloc.has_fresh(|d| world.devices[d].is_linux() && d != world.proxy);
        let playbook = if exposed { Playbook::ExposedServer } else { Playbook::Phishing };

        let (victim, entry, recipients, stolen) = match playbook {
            Playbook::Phishing => {
                let victim = alloc.user(world, &[]);
                let entry = world.users[victim].device.unwrap_or_default();
                let mut recipients = vec![victim];
                for _ in 0..rng.below(3) {
                    let other = alloc.user(world, &recipients);
                    recipients.push(other);
                }
                let stolen = if rng.chance(0.5) { victim } else { alloc.user(world, &recipients) };
                (Some(victim), entry, recipients, stolen)
            }
            Playbook::ExposedServer => {
                let entry =
                    alloc.device(world, &[], |d| world.devices[d].is_linux() && d != world.proxy).unwrap_or_default();
                let stolen = alloc.user(world, &[]);
                (None, entry, Vec::new(), stolen)
            }
        };
        let mut lateral = Vec::new();
        let mut avoid = vec![entry];
        if let Some(d) = world.users[stolen].device {
            avoid.push(d);
        }
        for _ in 0..1 + rng.below(4) {
            if let Some(d) = alloc.device(world, &avoid, |_| true) {
                avoid.push(d);
                lateral.push(d);
            }
        }

        let lure_domain = format!("{}-{}{k}.{}", rng.pick(LURE_WORDS), rng.pick(LURE_BRANDS), rng.pick(ATTACKER_TLDS));
        let infra_domain =
            format!("{}-{}{k}.{}", rng.pick(INFRA_WORDS), rng.pick(INFRA_WORDS), rng.pick(ATTACKER_TLDS));
        let drop_domain = format!("{}{}-{k}.{}", rng.pick(INFRA_WORDS), rng.pick(LURE_WORDS), rng.pick(ATTACKER_TLDS));
        let n = rng.range(1000, 99_999);
        let sender_local = rng.pick(&["billing", "no-reply", "hr", "accounts", "docs", "support"]).to_string();
        let infra = Infra {
            sender_name: rng
                .pick(&["Payroll Team", "Accounts Payable", "IT Service Desk", "DocuSign", "HR Department"])
                .to_string(),
            sender_address: format!("{sender_local}@{lure_domain}"),
            sender_domain: lure_domain.clone(),
            sender_ip: public_ip(&mut rng, &mut used_ips),
            subject: fill(rng.word(SUBJECTS), n),
            phish_url: format!("https://{lure_domain}/s/{}", rng.hex(12)),
            payload_url: format!("https://{lure_domain}/d/{}", fill(rng.word(PAYLOAD_NAMES), n)),
            signin_ip: public_ip(&mut rng, &mut used_ips),
            brute_ip: public_ip(&mut rng, &mut used_ips),
            c2_ip: public_ip(&mut rng, &mut used_ips),
            c2_url: format!("https://{infra_domain}/api/v2/{}", rng.hex(8)),
            exfil_ip: public_ip(&mut rng, &mut used_ips),
            exfil_url: format!("https://{drop_domain}/upload/{}", rng.hex(10)),
        };
        let payload_path =
            if playbook == Playbook::ExposedServer { "/tmp/.cache" } else { "C:\\Users\\Public\\Downloads" };
        let payload_name = if playbook == Playbook::ExposedServer {
            format!("kworker{}", rng.below(100))
        } else {
            fill(rng.word(PAYLOAD_NAMES), n)
        };
        let payload = FileInfo::random(&mut rng, payload_name, payload_path);
        let tool_name = (*rng.pick(TOOL_NAMES)).to_owned();
        let tool = FileInfo::random(&mut rng, tool_name, scratch_dir(world, entry));
        let exfil_from = lateral.last().copied().unwrap_or(entry);
        let archive = FileInfo::random(&mut rng, format!("backup_{n}.7z"), scratch_dir(world, exfil_from));
        let message_ids = recipients.iter().map(|_| rng.guid()).collect();
        let plan = AttackPlan {
            playbook,
            victim,
            recipients,
            message_ids,
            entry,
            stolen,
            lateral,
            infra,
            payload,
            tool,
            archive,
            family: rng.word(FAMILIES),
            actor: rng.chance(0.4).then(|| *rng.pick(ACTORS)),
            attachment: rng.chance(0.3),
        };

        // The timeline, relative to the attack's start, before scaling to fit the duration.
        let mut rel: Vec<(i64, i64, Kind)> = Vec::new();
        let mut bursts: Vec<Burst> = Vec::new();
        // An alert whose activity ends at `t` and began up to `spread` earlier.
        macro_rules! at {
            ($t:expr, $spread:expr, $kind:expr) => {{
                let t: i64 = $t;
                let spread: i64 = $spread;
                let kind: Kind = $kind;
                let first = t - rng.range(0, spread.max(1));
                rel.push((first, t, kind));
            }};
        }
        let mut t;
        match playbook {
            Playbook::Phishing => {
                let include_victim_mail = rng.chance(0.85);
                for r in 0..plan.recipients.len() {
                    if r == 0 && !include_victim_mail {
                        continue;
                    }
                    at!(rng.range(0, 90 * SECOND), 0, Kind::Phish { recipient: r as u8 });
                }
                let click = rng.range(3 * MINUTE, 45 * MINUTE);
                at!(click, 0, Kind::Click);
                if rng.chance(0.6) {
                    let variant = rng.below(2) as u8;
                    at!(click + rng.range(2 * MINUTE, 20 * MINUTE), 10 * MINUTE, Kind::SignIn { variant });
                }
                t = click + rng.range(MINUTE, 8 * MINUTE);
                at!(t, 0, Kind::Malware { variant: 0 });
                if rng.chance(0.7) {
                    at!(t + rng.range(10 * SECOND, 3 * MINUTE), 0, Kind::Malware { variant: 1 });
                }
                if world.devices[entry].is_windows() && rng.chance(0.4) {
                    at!(t + rng.range(MINUTE, 10 * MINUTE), 0, Kind::Malware { variant: 2 });
                }
            }
            Playbook::ExposedServer => {
                let window = rng.range(5 * MINUTE, 30 * MINUTE);
                bursts.push(Burst {
                    kind: Kind::BruteForce { device: entry as u32, external: true },
                    from: 0,
                    window,
                    share: 5,
                });
                t = window + rng.range(MINUTE, 5 * MINUTE);
                at!(t, window, Kind::Intrusion { variant: 0 });
                t += rng.range(2 * MINUTE, 20 * MINUTE);
                at!(t, 0, Kind::Intrusion { variant: 1 });
            }
        }
        t += rng.range(2 * MINUTE, 15 * MINUTE);
        at!(t, 0, Kind::C2);
        let beacon_from = t + rng.range(MINUTE, 5 * MINUTE);
        if rng.chance(0.5) {
            let from = t + rng.range(5 * MINUTE, 30 * MINUTE);
            bursts.push(Burst { kind: Kind::Scan, from, window: rng.range(MINUTE, 5 * MINUTE), share: 2 });
        }
        t += rng.range(10 * MINUTE, 60 * MINUTE);
        let windows_entry = world.devices[entry].is_windows();
        at!(t, 0, Kind::CredTheft { variant: 0 });
        if windows_entry && rng.chance(0.5) {
            at!(t + rng.range(5 * SECOND, 2 * MINUTE), 0, Kind::CredTheft { variant: 1 });
        }
        t += rng.range(2 * MINUTE, 20 * MINUTE);
        at!(t, 5 * MINUTE, Kind::DcRecon { variant: rng.below(3) as u8 });
        t += rng.range(5 * MINUTE, 40 * MINUTE);
        let burst_hop = rng.chance(0.85).then(|| rng.index(plan.lateral.len().max(1)));
        for (hop, &device) in plan.lateral.iter().enumerate() {
            if burst_hop == Some(hop) {
                let window = rng.range(2 * MINUTE, 15 * MINUTE);
                bursts.push(Burst {
                    kind: Kind::BruteForce { device: device as u32, external: false },
                    from: t,
                    window,
                    share: 5,
                });
                t += window + rng.range(30 * SECOND, 3 * MINUTE);
            }
            let d = device as u32;
            if !world.devices[device].is_windows() {
                at!(t, MINUTE, Kind::Lateral { device: d, variant: 2 });
            } else {
                let first = rng.below(2) as u8;
                at!(t, 0, Kind::Lateral { device: d, variant: first });
                if rng.chance(0.5) {
                    at!(t + rng.range(10 * SECOND, 4 * MINUTE), 0, Kind::Lateral { device: d, variant: 1 - first });
                }
            }
            t += rng.range(5 * MINUTE, 45 * MINUTE);
        }
        t += rng.range(10 * MINUTE, 60 * MINUTE);
        at!(t, 20 * MINUTE, Kind::Exfil { variant: 0 });
        if rng.chance(0.8) {
            at!(t + rng.range(10 * SECOND, 5 * MINUTE), 10 * MINUTE, Kind::Exfil { variant: 1 });
        }
        for _ in 0..1 + rng.below(3) {
            at!(t + rng.range(5 * SECOND, 10 * MINUTE), MINUTE, Kind::Exfil { variant: 2 });
        }
        let end = t;
        bursts.push(Burst { kind: Kind::Beacon, from: beacon_from, window: (end - beacon_from).max(MINUTE), share: 2 });

        // Repeats fill what is left of this attack's share of the alerts.
        let repeats = per_attack.saturating_sub(rel.len()) as u64;
        let shares: u64 = bursts.iter().map(|b| u64::from(b.share)).sum();
        for burst in &bursts {
            let minimum = if burst.kind == Kind::Beacon { 3 } else { 12 };
            let count = (repeats * u64::from(burst.share) / shares.max(1)).max(minimum);
            let mut times: Vec<i64> = (0..count).map(|_| burst.from + rng.range(0, burst.window.max(1))).collect();
            times.sort_unstable();
            for t in times {
                let spread = if burst.kind == Kind::Beacon { 0 } else { 30 * SECOND };
                rel.push((t - rng.range(0, spread.max(1)), t, burst.kind));
            }
        }

        // Fit the attack into the simulated time, spread over its own slot.
        let span = rel.iter().map(|r| r.1).max().unwrap_or(0).max(1);
        let room = (duration as f64 * 0.9) as i64;
        let scale = if span > room { room as f64 / span as f64 } else { 1.0 };
        let scaled_span = (span as f64 * scale) as i64;
        let offset = (index as i64 * slot + rng.range(0, slot.max(1))).min(duration - scaled_span).max(0);
        let origin = start + offset;
        let place = |t: i64| origin + (t.max(0) as f64 * scale) as i64;
        for (first, last, kind) in rel {
            events.push(Event::new(place(first), place(last), group, kind, &mut rng));
        }

        // Benign alerts on the same devices while the attack runs.
        let mut touched = vec![plan.entry];
        touched.extend(&plan.lateral);
        for _ in 0..2 + rng.below(5) {
            let device = *rng.pick(&touched);
            let when = origin + rng.range(0, scaled_span.max(1));
            let template = noise::device_template_for(world, device, &mut rng);
            let kind = Kind::OneOff { template, subject: device as u32 };
            events.push(Event::new(when - rng.range(0, MINUTE), when, 0, kind, &mut rng));
        }
        plans.push(plan);
    }
    (plans, events)
}

/// Where an attacker stages files on a device.
fn scratch_dir(world: &World, device: usize) -> &'static str {
    let device = &world.devices[device];
    if device.is_windows() {
        "C:\\ProgramData"
    } else if device.is_linux() {
        "/dev/shm"
    } else {
        "/private/tmp"
    }
}
