//! Rapport's coordinator: loads and checks a tenant, plans a run into jobs
//! by phase, publishes each phase and waits for it, then writes the outputs.
//! The same code drives `rapport run` (in-process backends) and the cluster.
//!
//! # Layout
//! - [`tenant_loader`] — reads `tenant.toml`, its CSVs and activity globs;
//!   [`object_tenant`] — the same for a tenant on object storage.
//! - [`planner`] — the run context and partition counts.
//! - [`executor`] — runs one run over the backends: epochs, restarts, outputs.
//! - [`driver`] — drives a run's phases: publish, wait, heal lost output.
//! - [`writer`] — assembles the output files from staged parts;
//!   [`output_target`] — a folder, or an object store the set is published to;
//!   [`output_formats`] — Parquet and JSON Lines beside the CSV;
//!   [`history`] — every succeeded run's outputs, kept per tenant.
//! - [`local_run`] — a run with its workers as tasks of this process.
//! - [`service`], [`run_record`], [`http`] — the long-running coordinator,
//!   its run records and its HTTP API; [`access`] — who may call it;
//!   [`schedule`] — runs fired on a cron expression; [`ui`] — the pages
//!   under `/ui`, over [`results_cache`] — succeeded runs' results.

pub mod access;
pub mod driver;
pub mod executor;
pub mod history;
pub mod http;
pub mod local_run;
pub mod object_tenant;
pub mod output_formats;
pub mod output_target;
pub mod planner;
pub mod results_cache;
pub mod run_record;
pub mod schedule;
pub mod service;
pub mod tenant_loader;
pub mod ui;
pub mod writer;

pub use executor::{execute_run, ExecuteError, NoProgress, ProgressSink, RunOutcome, RunSpec};
pub use local_run::run_with_local_workers;
pub use planner::{plan_run, PlanOptions};
pub use tenant_loader::{
    load_tenant, load_tenant_at, load_tenant_within, FileCaps, LoadError, LoadedTenant,
};
