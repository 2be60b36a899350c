//! Rapport's domain: the whole account-engagement computation of
//! `spec/ENGAGEMENT.md` as pure, synchronous code. No I/O crate is used here;
//! the worker and coordinator crates move bytes, this crate decides.
//!
//! # Layout
//! - [`address`] — normalisation, validity, person ids.
//! - [`directory`] — which account an address belongs to.
//! - [`tenant`], [`tables`] — the tenant configuration and its CSV tables.
//! - [`time`], [`period`] — timestamps, local dates, periods, the window.
//! - [`record`], [`reject`], [`builders`] — staged records, rejects, and the
//!   rules every input format follows to make them.
//! - [`merge`] — copies of one record merged into one.
//! - [`rules`] — which accounts an email or meeting counts for.
//! - [`partial`] — `PartialAggregate` and its merge.
//! - [`row`], [`score`] — output rows and the EngagementScore.
//! - [`segment`] — segment expressions over output rows.
//! - [`ingest`], [`aggregate`], [`reduce`] — the pure body of each job.
//! - [`plan`], [`counters`], [`report`] — run context, jobs, messages, reports.
//! - [`sorted_merge`] — a k-way merge of sorted sources read a chunk at a time.

pub mod address;
pub mod aggregate;
pub mod builders;
pub mod counters;
pub mod directory;
pub mod explain;
pub mod ingest;
pub mod merge;
pub mod partial;
pub mod period;
pub mod plan;
pub mod record;
pub mod reduce;
pub mod reject;
pub mod report;
pub mod results;
pub mod row;
pub mod rules;
pub mod run_results;
pub mod score;
pub mod segment;
pub mod sorted_merge;
pub mod tables;
pub mod tenant;
pub mod time;
pub mod touches;
