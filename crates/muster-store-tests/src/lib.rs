//! The contract every storage backend passes: the same scenarios, run through the storage traits on
//! an SQLite temp file always and on PostgreSQL when `MUSTER_TEST_DATABASE_URL` is set.

pub mod backends;
pub mod fixtures;
pub mod queries;
pub mod scenarios;
