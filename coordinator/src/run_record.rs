//! The record of one run in the registry: its inputs, status, phase,
//! progress and outcome, as the HTTP API and `rapport status` show it.

use std::collections::BTreeMap;

use rapport_common::report::Recovery;
use serde::{Deserialize, Serialize};

use crate::output_formats::OutputFormat;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for the coordinator.
    Queued,
    /// Its phases are running (or it resumes after a coordinator restart).
    Running,
    /// Outputs written.
    Succeeded,
    /// A job failed for good, or the outputs could not be written.
    Failed,
    /// An operator cancelled it.
    Cancelled,
}

impl RunStatus {
    /// The status as the API and `/metrics` spell it.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// True once the run will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// A run as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run id.
    pub run_id: String,
    /// The tenant id.
    pub tenant_id: String,
    /// Absolute path of `tenant.toml`.
    pub config: String,
    /// Output folder.
    pub out: String,
    /// Status.
    pub status: RunStatus,
    /// Current (or last) phase.
    pub phase: Option<String>,
    /// Jobs done in that phase.
    pub jobs_done: u64,
    /// Jobs in that phase.
    pub jobs_total: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// The run it repeats.
    pub rerun_of: Option<String>,
    /// Submission time, RFC 3339.
    pub created_at: String,
    /// Submission time, ms since the epoch (orders the list).
    pub created_ms: i64,
    /// Start of execution.
    pub started_at: Option<String>,
    /// End of execution.
    pub finished_at: Option<String>,
    /// Wall time per phase, seconds (of this coordinator's execution).
    pub phase_seconds: BTreeMap<String, f64>,
    /// Rows written.
    pub rows: Option<u64>,
    /// What the run redid to heal faults, once it succeeded.
    #[serde(default)]
    pub recovery: Option<Recovery>,
    /// The `as_of` date the run uses instead of tenant.toml's (a scheduled
    /// run's today in the tenant's zone), YYYY-MM-DD.
    #[serde(default)]
    pub as_of: Option<String>,
    /// The schedule that submitted the run.
    #[serde(default)]
    pub schedule: Option<String>,
    /// The output formats (CSV always among them).
    #[serde(default = "csv_only")]
    pub formats: Vec<OutputFormat>,
}

/// The formats of a record written before formats existed.
pub fn csv_only() -> Vec<OutputFormat> {
    vec![OutputFormat::Csv]
}

impl RunRecord {
    /// A queued run.
    pub fn queued(
        run_id: String,
        tenant_id: String,
        config: String,
        out: String,
        rerun_of: Option<String>,
    ) -> RunRecord {
        let now = chrono::Utc::now();
        RunRecord {
            run_id,
            tenant_id,
            config,
            out,
            status: RunStatus::Queued,
            phase: None,
            jobs_done: 0,
            jobs_total: 0,
            error: None,
            rerun_of,
            created_at: now.to_rfc3339(),
            created_ms: now.timestamp_millis(),
            started_at: None,
            finished_at: None,
            phase_seconds: BTreeMap::new(),
            rows: None,
            recovery: None,
            as_of: None,
            schedule: None,
            formats: csv_only(),
        }
    }
}
