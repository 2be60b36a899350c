//! The staging area: blobs shared by the jobs of a run (staged records,
//! probes, rows), addressed by `/`-separated paths under `runs/{run}/` (`crate::layout`).

use std::ops::Range;

use async_trait::async_trait;

use crate::BackendError;

/// A shared blob area.
#[async_trait]
pub trait Staging: Send + Sync {
    /// Writes a blob atomically (readers see all of it or none).
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError>;
    /// Writes the concatenation of `parts` as one blob, like `put`.
    async fn put_parts(&self, path: &str, parts: Vec<Vec<u8>>) -> Result<(), BackendError> {
        self.put(path, parts.concat()).await
    }
    /// Reads a blob.
    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError>;
    /// Reads bytes `range` of a blob: fewer when the blob ends before.
    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Vec<u8>, BackendError> {
        let mut bytes = self.get(path).await?;
        let end = (range.end as usize).min(bytes.len());
        bytes.truncate(end);
        Ok(bytes.split_off((range.start as usize).min(end)))
    }
    /// Paths under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError>;
    /// Ids of the runs with anything staged (the folders under `runs/`).
    async fn list_runs(&self) -> Result<Vec<String>, BackendError>;
    /// Removes every blob under `prefix`.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BackendError>;
}
