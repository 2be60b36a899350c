//! `run_report.json` (ENGAGEMENT.md §8): what a run read, rejected, counted
//! and wrote, and how long each phase took.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::counters::RunCounters;
use crate::tenant::TenantSettings;

/// The report of one finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run.
    pub run_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// `as_of`.
    pub as_of: String,
    /// First counted date.
    pub window_start: String,
    /// Window length in days.
    pub window_days: u32,
    /// `embedded` or `cluster`.
    pub mode: String,
    /// Non-blank records read.
    pub records: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejected by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Copies dropped as duplicates.
    pub duplicates: u64,
    /// Distinct records outside the window.
    pub out_of_window: u64,
    /// Cancelled or all-day meetings in the window.
    pub ignored_meetings: u64,
    /// Emails counting for at least one account.
    pub emails_counted: u64,
    /// Meetings counting for at least one account.
    pub meetings_counted: u64,
    /// In-window emails counting for no account.
    pub emails_without_account: u64,
    /// In-window meetings counting for no account.
    pub meetings_without_account: u64,
    /// Replies from accounts matched to their original.
    pub replies: u64,
    /// Accounts with at least one row.
    pub accounts: u64,
    /// Rows written.
    pub rows: u64,
    /// Rows left out by the privacy floor (ENGAGEMENT.md §9).
    #[serde(default)]
    pub suppressed_rows: u64,
    /// The score weights, by feature.
    #[serde(default)]
    pub weights: BTreeMap<String, u32>,
    /// Jobs run per phase.
    pub jobs: BTreeMap<String, u64>,
    /// Wall time per phase, seconds.
    pub phase_seconds: BTreeMap<String, f64>,
    /// Whole run, seconds.
    pub total_seconds: f64,
    /// What the coordinator redid to heal faults (all zero in a fault-free run).
    #[serde(default)]
    pub recovery: Recovery,
}

/// What a run redid to heal faults: how the fault tests see that their
/// fault happened, and an operator sees what a run went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Jobs published per phase, by the last coordinator to drive the run
    /// (a resumed run publishes only the jobs not done; a recomputed job
    /// is published again).
    pub published: BTreeMap<String, u64>,
    /// Jobs run again because their output was lost, in order.
    pub recomputed: Vec<String>,
    /// Times the run restarted from its plan because its store state was lost.
    pub restarts: u32,
    /// Jobs published again by the watchdog (their messages were lost).
    pub watchdog_republished: u64,
    /// Deliveries of a job after its first that reached a worker (the
    /// worker holding it died or lost its connection, or handed it back),
    /// counted by the workers; lost with the run's store state.
    #[serde(default)]
    pub redelivered: u64,
    /// Jobs handed back after an error worth retrying (a full volume, a
    /// server unreachable), counted by the workers; lost with the run's
    /// store state.
    #[serde(default)]
    pub retried: u64,
    /// Times a coordinator took the run over from one that died or stepped
    /// down (restarted, deposed, or a standby taking the lead).
    #[serde(default)]
    pub resumed: u32,
}

impl RunReport {
    /// A report from the merged counters; timings and jobs are filled by the caller.
    pub fn new(
        run_id: &str,
        mode: &str,
        settings: &TenantSettings,
        c: &RunCounters,
        accounts: u64,
        rows: u64,
    ) -> RunReport {
        let window_start = settings.as_of - chrono::Days::new(u64::from(settings.window_days) - 1);
        RunReport {
            run_id: run_id.to_owned(),
            tenant_id: settings.id.clone(),
            as_of: settings.as_of.to_string(),
            window_start: window_start.to_string(),
            window_days: settings.window_days,
            mode: mode.to_owned(),
            records: c.records,
            rejected: c.num_rejected(),
            rejected_by_reason: c
                .rejected
                .iter()
                .map(|(r, n)| (r.name().to_owned(), *n))
                .collect(),
            duplicates: c.duplicates,
            out_of_window: c.out_of_window,
            ignored_meetings: c.ignored_meetings,
            emails_counted: c.emails_counted,
            meetings_counted: c.meetings_counted,
            emails_without_account: c.emails_without_account,
            meetings_without_account: c.meetings_without_account,
            replies: c.replies,
            accounts,
            rows,
            suppressed_rows: 0,
            weights: crate::score::FEATURES
                .iter()
                .zip(settings.weights)
                .map(|(f, w)| ((*f).to_owned(), w))
                .collect(),
            jobs: BTreeMap::new(),
            phase_seconds: BTreeMap::new(),
            total_seconds: 0.0,
            recovery: Recovery::default(),
        }
    }
}
