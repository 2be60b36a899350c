//! Rapport's worker: stateless, any number of them. Takes a job from the
//! queue, loads what it needs from staging and the store, runs the pure step
//! from `rapport-common`, stores the effects in one atomic step, then acks.
//!
//! # Layout
//! - [`consumer`] — the loop over deliveries, retries and shutdown.
//! - [`jobs`] — the body of each phase's job (I/O around the pure step).
//! - [`ingest_job`] — the ingest job, which stages its output in batches.
//! - [`shard_reader`] — reading a shard's byte range from an input file.
//! - [`input_source`] — an input as a local file or an object read by ranges.
//! - [`tie_reader`] — reading again the records of copies that tie.

pub mod consumer;
pub mod ingest_job;
pub mod input_source;
pub mod jobs;
pub mod shard_reader;
pub mod tie_reader;

pub use consumer::{run_worker, DelayPoint, WorkerOptions};
