//! The partial store: where a job's effects land, atomically and once per
//! job, and where the coordinator reads a phase's progress.
//!
//! Every run has an *epoch*, a random number the coordinator sets when it
//! starts (or restarts) the run and that every job message carries. A job's
//! effects and failures are stored only while the run's epoch is the job's:
//! when the run's state is lost (a Redis restart without persistence, keys
//! deleted) the epoch is gone and the coordinator knows; when a run ends its
//! epoch is removed, and jobs still in flight store nothing for it.

use async_trait::async_trait;
use rapport_common::plan::{Job, Phase};
use serde::{Deserialize, Serialize};

use crate::BackendError;

/// One blob a job writes: `slot` groups the blobs a later job reads together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWrite {
    /// The slot, e.g. `partials/0003`.
    pub slot: String,
    /// The blob (postcard).
    pub blob: Vec<u8>,
}

/// Why a job failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    /// What went wrong.
    pub error: String,
    /// The job whose output this job found lost: running it again may heal.
    pub lost: Option<Job>,
}

impl JobFailure {
    /// A failure that running the job again cannot fix.
    pub fn fatal(error: impl Into<String>) -> JobFailure {
        JobFailure {
            error: error.into(),
            lost: None,
        }
    }
}

/// Done and failed jobs of one phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhaseProgress {
    /// Jobs whose effects are stored.
    pub done: u64,
    /// Failed jobs: (job id, failure), sorted by job id.
    pub failed: Vec<(String, JobFailure)>,
}

/// Whether a write was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored under the job's epoch.
    Yes,
    /// Not stored: the run's epoch is another (a restarted, ended or lost run).
    StaleEpoch,
}

/// Job effects and progress, per run.
#[async_trait]
pub trait PartialStore: Send + Sync {
    /// The run's current epoch, if its state exists.
    async fn epoch(&self, run: &str) -> Result<Option<u64>, BackendError>;
    /// Starts a new epoch of the run (replacing any other); returns it.
    async fn new_epoch(&self, run: &str) -> Result<u64, BackendError>;
    /// Stores a job's blobs and marks it done, in one atomic step, if the
    /// run's epoch is `epoch`. Completing the same job again changes
    /// nothing: its blobs are keyed by job id.
    async fn complete_job(
        &self,
        run: &str,
        epoch: u64,
        job: Job,
        writes: Vec<SlotWrite>,
    ) -> Result<Stored, BackendError>;
    /// Marks a job failed for good, if the run's epoch is `epoch` and the
    /// job is not done (a job done on its last delivery, whose worker died
    /// before acking, may still be dead-lettered: nothing to record).
    async fn fail_job(
        &self,
        run: &str,
        epoch: u64,
        job: Job,
        failure: &JobFailure,
    ) -> Result<Stored, BackendError>;
    /// Forgets that a job is done or failed, and its attempts, so it can run
    /// again (its output was lost).
    async fn undo_job(&self, run: &str, job: Job) -> Result<(), BackendError>;
    /// Counts one more attempt at `what` (a job id) in the run; returns the count.
    async fn count_attempt(&self, run: &str, what: &str) -> Result<u32, BackendError>;
    /// Attempts counted at `what` in the run so far (0 when none).
    async fn attempts(&self, run: &str, what: &str) -> Result<u32, BackendError>;
    /// Every blob of a slot as (job id, blob), sorted by job id.
    async fn read_slot(
        &self,
        run: &str,
        slot: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError>;
    /// Progress of a phase.
    async fn progress(&self, run: &str, phase: Phase) -> Result<PhaseProgress, BackendError>;
    /// True when the job is done (a duplicate delivery can be skipped).
    async fn is_done(&self, run: &str, job: Job) -> Result<bool, BackendError>;
    /// Ids of a phase's done jobs, sorted.
    async fn done_jobs(&self, run: &str, phase: Phase) -> Result<Vec<String>, BackendError>;
    /// Waits until something may have changed, at most `timeout`.
    async fn wait_for_change(&self, timeout: std::time::Duration) {
        tokio::time::sleep(timeout).await;
    }
    /// Removes everything stored for a run, its epoch first.
    async fn delete_run(&self, run: &str) -> Result<(), BackendError>;
}

/// A fresh epoch: different from any earlier one of the run with
/// overwhelming likelihood, never zero.
pub fn fresh_epoch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seed = [
        nanos.to_le_bytes(),
        u64::from(std::process::id()).to_le_bytes(),
        COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes(),
    ]
    .concat();
    xxhash_rust::xxh3::xxh3_64(&seed).max(1)
}
