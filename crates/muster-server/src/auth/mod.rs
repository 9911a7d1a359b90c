//! Authentication and authorisation: who is calling, what each route allows, sessions, tokens,
//! CSRF, login throttling and the client's real address.

pub mod access;
pub mod client;
pub mod guard;
pub mod login;
pub mod routes;
pub mod secrets;
pub mod throttle;

pub use access::{Access, Credential, Principal, Scope};
pub use client::ClientAddr;
pub use routes::{AccessTable, RouteSpec, Routes};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "muster_session";
