//! Muster's domain: the Graph incident and alert model, validation, entity keys, history, the
//! access model and the storage traits. Pure: no I/O, no async runtime.

pub mod access;
pub mod alert;
pub mod assessment;
pub mod correlation;
pub mod entity;
pub mod enums;
pub mod evidence;
pub mod history;
pub mod ids;
pub mod incident;
pub mod ingest;
pub mod json;
pub mod manage;
pub mod naming;
pub mod rollup;
pub mod source;
pub mod store;
pub mod time;

pub use alert::{Alert, AlertComment};
pub use assessment::Assessment;
pub use enums::GraphEnum;
pub use ids::IncidentId;
pub use incident::Incident;
pub use time::Timestamp;
