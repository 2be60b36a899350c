//! The partial store: where a job's effects land, atomically and once per
//! job, and where the coordinator reads a phase's progress.

use async_trait::async_trait;
use rapport_common::plan::Phase;

use crate::BackendError;

/// One blob a job writes: `slot` groups the blobs a later job reads together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWrite {
    /// The slot, e.g. `partials/0003`.
    pub slot: String,
    /// The blob (postcard).
    pub blob: Vec<u8>,
}

/// Done and failed jobs of one phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhaseProgress {
    /// Jobs whose effects are stored.
    pub done: u64,
    /// Failed jobs: (job id, error).
    pub failed: Vec<(String, String)>,
}

/// Job effects and progress, per run.
#[async_trait]
pub trait PartialStore: Send + Sync {
    /// Stores a job's blobs and marks it done, in one atomic step. Completing
    /// the same job again changes nothing: its blobs are keyed by job id.
    async fn complete_job(
        &self,
        run: &str,
        phase: Phase,
        job_id: &str,
        writes: Vec<SlotWrite>,
    ) -> Result<(), BackendError>;
    /// Marks a job failed for good, with its error.
    async fn fail_job(
        &self,
        run: &str,
        phase: Phase,
        job_id: &str,
        error: &str,
    ) -> Result<(), BackendError>;
    /// Every blob of a slot as (job id, blob), sorted by job id.
    async fn read_slot(
        &self,
        run: &str,
        slot: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError>;
    /// Progress of a phase.
    async fn progress(&self, run: &str, phase: Phase) -> Result<PhaseProgress, BackendError>;
    /// Ids of a phase's done jobs, sorted.
    async fn done_jobs(&self, run: &str, phase: Phase) -> Result<Vec<String>, BackendError>;
    /// Waits until something may have changed, at most `timeout`.
    async fn wait_for_change(&self, timeout: std::time::Duration) {
        tokio::time::sleep(timeout).await;
    }
    /// Removes everything stored for a run.
    async fn delete_run(&self, run: &str) -> Result<(), BackendError>;
}
