//! Support shared by the integration tests (`tests/tests/`) and the CLI's
//! process tests: what the inputs hold that must never leave the engine,
//! and the object-storage servers the tests start.
//!
//! # Layout
//! - [`secrets`] — every address, message id and uid of a tenant's inputs,
//!   and a case-blind search for them.
//! - [`object_servers`] — SeaweedFS (S3) and Azurite (Azure Blob) on
//!   loopback, started and stopped by a test.

pub mod object_servers;
pub mod secrets;
