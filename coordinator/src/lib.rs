//! Rapport's coordinator: loads and checks a tenant, plans a run into jobs
//! by phase, publishes each phase and waits for it, then writes the outputs.
//! The same code drives `rapport run` (in-process backends) and the cluster.
//!
//! # Layout
//! - [`tenant_loader`]: reads `tenant.toml`, its CSVs and activity globs.
//! - [`planner`]: the run context and partition counts.
//! - [`executor`]: runs the phases of one run over the backends.
//! - [`writer`]: assembles the output files from staged parts.

pub mod executor;
pub mod planner;
pub mod tenant_loader;
pub mod writer;

pub use executor::{execute_run, ExecuteError, ProgressSink, RunOutcome};
pub use planner::{plan_run, PlanOptions};
pub use tenant_loader::{load_tenant, LoadError, LoadedTenant};
