//! The run registry: one JSON record per run, so any coordinator (or a
//! restarted one) knows every run's inputs, phase, progress and outcome.

use async_trait::async_trait;

use crate::BackendError;

/// Where run records live.
#[async_trait]
pub trait RunRegistry: Send + Sync {
    /// Stores (or replaces) a run's record; `created_ms` orders the list.
    async fn put_run(&self, run: &str, created_ms: i64, record: String)
        -> Result<(), BackendError>;
    /// A run's record.
    async fn get_run(&self, run: &str) -> Result<Option<String>, BackendError>;
    /// Up to `limit` records, newest first (`usize::MAX` for all).
    async fn list_runs(&self, limit: usize) -> Result<Vec<String>, BackendError>;
    /// Removes run records (retention).
    async fn delete_runs(&self, ids: &[String]) -> Result<(), BackendError>;
    /// Marks a run cancelled, for workers to skip its jobs.
    async fn set_cancelled(&self, run: &str) -> Result<(), BackendError>;
    /// True when a run was cancelled.
    async fn is_cancelled(&self, run: &str) -> Result<bool, BackendError>;
    /// Stores (or replaces) a schedule's record.
    async fn put_schedule(&self, id: &str, record: String) -> Result<(), BackendError>;
    /// Every schedule's record.
    async fn list_schedules(&self) -> Result<Vec<String>, BackendError>;
    /// Removes a schedule; false when there was none.
    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError>;
    /// Claims the firing of schedule `id` due at `due_ms`: true for the one
    /// caller that may make it, false for every other (kept a week).
    async fn claim_firing(&self, id: &str, due_ms: i64) -> Result<bool, BackendError>;
}
