//! Benign alerts, the bulk of the stream: steady recurring (detector, entity) pairs and one-off
//! alerts on random devices and people.

use rand_chacha::ChaCha8Rng;

use crate::event::{Event, Kind, Src, SECOND};
use crate::rng::{self, Draw};
use crate::world::World;
use crate::SimConfig;

/// What a one-off template needs as its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Workstation,
    WindowsWorkstation,
    WindowsDevice,
    WindowsServer,
    AnyDevice,
    Person,
}

/// A benign one-off alert type.
#[derive(Debug)]
pub(crate) struct Template {
    pub src: Src,
    pub title: &'static str,
    pub description: &'static str,
    pub severity: &'static str,
    pub detector: &'static str,
    pub categories: &'static [&'static str],
    pub techniques: &'static [&'static str],
    pub target: Target,
    pub weight: u32,
}

pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        src: Src::Antivirus,
        title: "Potentially unwanted application detected",
        description: "A potentially unwanted application was detected and blocked on the device.",
        severity: "low",
        detector: "a8e4f5b1-6c7d-4e2f-9a0b-1c2d3e4f5a60",
        categories: &["Execution"],
        techniques: &["T1204.002"],
        target: Target::Workstation,
        weight: 10,
    },
    Template {
        src: Src::Endpoint,
        title: "Suspicious PowerShell command line",
        description: "A PowerShell command line with encoded or obfuscated content was run.",
        severity: "medium",
        detector: "5f1e3c2a-8b9d-4a7e-b6c5-d4e3f2a1b0c9",
        categories: &["Execution"],
        techniques: &["T1059.001"],
        target: Target::WindowsDevice,
        weight: 8,
    },
    Template {
        src: Src::AadIdentityProtection,
        title: "Unfamiliar sign-in properties",
        description: "The sign-in has properties not seen recently for this user.",
        severity: "low",
        detector: "unfamiliarFeatures",
        categories: &["InitialAccess"],
        techniques: &["T1078.004"],
        target: Target::Person,
        weight: 6,
    },
    Template {
        src: Src::Office,
        title: "Email reported by user as malware or phish",
        description: "A user reported a message as phishing. It was delivered to the inbox.",
        severity: "informational",
        detector: "0fa4a0b9-6b8e-4f6c-93c7-1d2e3f4a5b6c",
        categories: &["InitialAccess"],
        techniques: &["T1566.002"],
        target: Target::Person,
        weight: 6,
    },
    Template {
        src: Src::Suricata,
        title: "ET INFO Executable Download from Uncategorised Domain",
        description: "An executable file was downloaded over HTTP through the proxy.",
        severity: "low",
        detector: "2016141",
        categories: &["CommandAndControl"],
        techniques: &["T1105"],
        target: Target::Workstation,
        weight: 8,
    },
    Template {
        src: Src::Identity,
        title: "Security principal reconnaissance (LDAP)",
        description: "A device made LDAP queries that enumerate users and groups.",
        severity: "medium",
        detector: "2e8f6a2c-2b9d-4c1e-8f7a-6b5c4d3e2f10",
        categories: &["Discovery"],
        techniques: &["T1087.002"],
        target: Target::WindowsWorkstation,
        weight: 4,
    },
    Template {
        src: Src::Sigma,
        title: "PsExec Service Installation",
        description: "The PsExec service was installed, indicating remote administration.",
        severity: "medium",
        detector: "42c575ea-e41e-41f1-b248-8093c3e82a28",
        categories: &["Execution", "LateralMovement"],
        techniques: &["T1569.002"],
        target: Target::WindowsServer,
        weight: 3,
    },
    Template {
        src: Src::Sigma,
        title: "USB Mass Storage Device Connected",
        description: "A removable mass storage device was attached by the logged-on user.",
        severity: "low",
        detector: "5ae2e8a2-5bb7-4b7d-9a6c-0a5c1a9b8e11",
        categories: &["Exfiltration"],
        techniques: &["T1052.001"],
        target: Target::Workstation,
        weight: 5,
    },
    Template {
        src: Src::Suricata,
        title: "ET POLICY Connection to Uncommon Internal Port",
        description: "An internal host connected to another on a port rarely used.",
        severity: "low",
        detector: "2027762",
        categories: &["CommandAndControl"],
        techniques: &["T1571"],
        target: Target::AnyDevice,
        weight: 8,
    },
    Template {
        src: Src::Endpoint,
        title: "Suspicious Office macro execution",
        description: "An Office document ran a macro that started a child process.",
        severity: "low",
        detector: "7c1b9f8e-3d2a-4e6b-a5c4-b3a2918f7e6d",
        categories: &["Execution"],
        techniques: &["T1204.002"],
        target: Target::WindowsWorkstation,
        weight: 5,
    },
];

/// Templates that fit a device, for benign alerts placed on attacked devices.
pub(crate) fn device_template_for(world: &World, device: usize, rng: &mut impl Draw) -> u8 {
    let options: Vec<u8> =
        (0..TEMPLATES.len() as u8).filter(|&t| fits(world, device, TEMPLATES[usize::from(t)].target)).collect();
    if options.is_empty() {
        return 8; // AnyDevice
    }
    *rng.pick(&options)
}

fn fits(world: &World, device: usize, target: Target) -> bool {
    let d = &world.devices[device];
    match target {
        Target::Workstation => !d.is_server(),
        Target::WindowsWorkstation => !d.is_server() && d.is_windows(),
        Target::WindowsDevice => d.is_windows(),
        Target::WindowsServer => d.is_server() && d.is_windows(),
        Target::AnyDevice => true,
        Target::Person => false,
    }
}

/// A source of benign events in activity order.
#[derive(Debug)]
pub(crate) enum Noise {
    Recurring { kind: Kind, n: u64, i: u64, start: f64, period: f64, spread: i64, rng: ChaCha8Rng },
    OneOff(OneOff),
}

/// One-off alerts at sorted uniform times: exactly `remaining` more of them.
#[derive(Debug)]
pub(crate) struct OneOff {
    remaining: u64,
    /// Position in `[0, 1)` of the duration.
    at: f64,
    start: f64,
    duration: f64,
    cumulative: Vec<u32>,
    windows_devices: Vec<u32>,
    windows_workstations: Vec<u32>,
    windows_servers: Vec<u32>,
    people: Vec<u32>,
    workstations: u32,
    devices: u32,
    rng: ChaCha8Rng,
}

impl OneOff {
    fn subject(&mut self, target: Target) -> u32 {
        let rng = &mut self.rng;
        match target {
            Target::Workstation => rng.below(u64::from(self.workstations)) as u32,
            Target::WindowsWorkstation => *rng.pick(&self.windows_workstations),
            Target::WindowsDevice => *rng.pick(&self.windows_devices),
            Target::WindowsServer => *rng.pick(&self.windows_servers),
            Target::AnyDevice => rng.below(u64::from(self.devices)) as u32,
            Target::Person => *rng.pick(&self.people),
        }
    }
}

impl Noise {
    /// How many events are left.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Recurring { n, i, .. } => (*n - *i) as usize,
            Self::OneOff(one) => one.remaining as usize,
        }
    }

    pub(crate) fn next_event(&mut self) -> Option<Event> {
        match self {
            Self::Recurring { kind, n, i, start, period, spread, rng } => {
                if *i >= *n {
                    return None;
                }
                // Steady: one per period, jittered within it.
                let offset = 0.5 + (rng.unit() - 0.5) * 0.5;
                let last = (*start + (*i as f64 + offset) * *period) as i64;
                *i += 1;
                let first = last - rng.range(0, (*spread).max(1));
                Some(Event::new(first, last, 0, *kind, rng))
            }
            Self::OneOff(one) => {
                if one.remaining == 0 {
                    return None;
                }
                // The next of `remaining` sorted uniform points after `at`.
                let u = one.rng.unit();
                one.at += (1.0 - one.at) * (1.0 - (1.0 - u).powf(1.0 / one.remaining as f64));
                one.remaining -= 1;
                let last = (one.start + one.at * one.duration) as i64;
                let total = *one.cumulative.last().unwrap_or(&1);
                let pick = one.rng.below(u64::from(total)) as u32;
                let template = one.cumulative.iter().position(|&c| pick < c).unwrap_or(0);
                let subject = one.subject(TEMPLATES[template].target);
                let kind = Kind::OneOff { template: template as u8, subject };
                let first = last - one.rng.range(0, 60 * SECOND);
                Some(Event::new(first, last, 0, kind, &mut one.rng))
            }
        }
    }
}

/// The benign sources for `count` benign alerts: about 60% from recurring pairs, the rest one-off.
pub(crate) fn sources(config: &SimConfig, world: &World, count: usize) -> Vec<Noise> {
    let seed = config.seed;
    let mut rng = rng::stream(seed, 2);
    let start = config.start.micros() as f64;
    let duration = config.duration_micros() as f64;
    let recurring_total = (count as f64 * 0.6).round();
    let one_off_total = count as u64 - recurring_total as u64;

    let mut pairs: Vec<(Kind, f64, i64)> = Vec::new();
    for &s in &world.servers {
        pairs.push((Kind::AvUpdate { device: s as u32 }, 1.0, 0));
    }
    pairs.push((Kind::ProxyIds, 6.0, 60 * SECOND));
    pairs.push((Kind::ServiceLogonFailure, 3.0, 120 * SECOND));
    for s in world.linux_servers() {
        pairs.push((Kind::SshNoise { device: s as u32 }, 1.5, 30 * SECOND));
    }
    pairs.push((Kind::AdminLogon, 2.0, 0));
    let mut workstations = world.workstations.clone();
    rng.shuffle(&mut workstations);
    for &w in workstations.iter().take((world.workstations.len() / 50).max(2)) {
        pairs.push((Kind::Pua { device: w as u32 }, 0.5, 0));
    }
    let weights: f64 = pairs.iter().map(|p| p.1).sum();

    let mut out = Vec::with_capacity(pairs.len() + 1);
    let cumulative = TEMPLATES
        .iter()
        .scan(0, |acc, t| {
            *acc += t.weight;
            Some(*acc)
        })
        .collect();
    let idx = |f: &dyn Fn(usize) -> bool| -> Vec<u32> {
        (0..world.devices.len()).filter(|&d| f(d)).map(|d| d as u32).collect()
    };
    let mut windows_workstations = idx(&|d| fits(world, d, Target::WindowsWorkstation));
    if windows_workstations.is_empty() {
        windows_workstations.push(0);
    }
    out.push(Noise::OneOff(OneOff {
        remaining: one_off_total,
        at: 0.0,
        start,
        duration,
        cumulative,
        windows_devices: idx(&|d| fits(world, d, Target::WindowsDevice)),
        windows_workstations,
        windows_servers: idx(&|d| fits(world, d, Target::WindowsServer)),
        people: world.people().map(|u| u as u32).collect(),
        workstations: world.workstations.len() as u32,
        devices: world.devices.len() as u32,
        rng: rng::stream(seed, 3),
    }));
    for (i, (kind, weight, spread)) in pairs.into_iter().enumerate() {
        let n = (recurring_total * weight / weights).round() as u64;
        if n == 0 {
            continue;
        }
        let mut rng = rng::stream(seed, 100 + i as u64);
        let period = duration / n as f64;
        let phase = (rng.unit() - 0.5) * 0.3 * period;
        out.push(Noise::Recurring { kind, n, i: 0, start: start + phase.max(0.0), period, spread, rng });
    }
    out
}
