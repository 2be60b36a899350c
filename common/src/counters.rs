//! Run counters for `run_report.json` (ENGAGEMENT.md §8): each job counts
//! what it saw; counters add up across jobs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::reject::RejectReason;

/// Additive counts of one job, or of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounters {
    /// Non-blank records read.
    pub records: u64,
    /// Rejected records by reason.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Copies dropped as duplicates.
    pub duplicates: u64,
    /// Distinct records whose local date lies outside the window.
    pub out_of_window: u64,
    /// Distinct in-window meetings that are cancelled or all-day.
    pub ignored_meetings: u64,
    /// Distinct in-window emails that count for at least one account.
    pub emails_counted: u64,
    /// Distinct in-window meetings that count for at least one account.
    pub meetings_counted: u64,
    /// Distinct in-window emails that count for no account.
    pub emails_without_account: u64,
    /// Distinct in-window meetings that count for no account.
    pub meetings_without_account: u64,
    /// Replies from accounts matched to their original.
    pub replies: u64,
}

impl RunCounters {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &RunCounters) {
        self.records += other.records;
        for (reason, n) in &other.rejected {
            *self.rejected.entry(*reason).or_default() += n;
        }
        self.duplicates += other.duplicates;
        self.out_of_window += other.out_of_window;
        self.ignored_meetings += other.ignored_meetings;
        self.emails_counted += other.emails_counted;
        self.meetings_counted += other.meetings_counted;
        self.emails_without_account += other.emails_without_account;
        self.meetings_without_account += other.meetings_without_account;
        self.replies += other.replies;
    }

    /// Counts one record read and rejected for `reason`.
    pub fn count_reject(&mut self, reason: RejectReason) {
        self.records += 1;
        *self.rejected.entry(reason).or_default() += 1;
    }

    /// All rejected records.
    pub fn num_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }
}
