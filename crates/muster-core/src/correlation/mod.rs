//! Correlation: alerts in, incidents out (DESIGN.md section 3).

mod config;
mod engine;
mod facts;
mod noise;

pub use config::CorrelationConfig;
pub use engine::{AlertFacts, Decision, Engine, IncidentFacts, LinkKey, Merge, Placement, Step};
pub use facts::{alert_facts, alert_facts_keyed, detector, device_groups, is_builtin_account};
pub use noise::{NoiseTracker, PairVerdict};
