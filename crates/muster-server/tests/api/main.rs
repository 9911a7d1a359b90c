//! The server over real HTTP, on a real SQLite file: one test binary, one module per API area.

mod auth;
mod errors;
mod health;
mod helpers;
mod ingest;
