//! Support shared by the integration tests (`tests/tests/`) and the CLI's
//! process tests: what the inputs hold that must never leave the engine.
//!
//! # Layout
//! - [`secrets`] — every address, message id and uid of a tenant's inputs,
//!   and a case-blind search for them.

pub mod secrets;
