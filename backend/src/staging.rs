//! The staging area: blobs shared by the jobs of a run (staged records,
//! probes, rows), addressed by `/`-separated paths under `runs/{run}/` (`crate::layout`).

use async_trait::async_trait;

use crate::BackendError;

/// A shared blob area.
#[async_trait]
pub trait Staging: Send + Sync {
    /// Writes a blob atomically (readers see all of it or none).
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError>;
    /// Reads a blob.
    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError>;
    /// Paths under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError>;
    /// Ids of the runs with anything staged (the folders under `runs/`).
    async fn list_runs(&self) -> Result<Vec<String>, BackendError>;
    /// Removes every blob under `prefix`.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BackendError>;
}
