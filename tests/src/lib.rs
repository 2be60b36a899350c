//! Support shared by the integration tests (`tests/tests/`) and the CLI's
//! process tests: what the inputs hold that must never leave the engine,
//! and the object-storage servers the tests start.
//!
//! # Layout
//! - [`secrets`] — every address, message id and uid of a tenant's inputs,
//!   and a case-blind search for them.
//! - [`object_servers`] — SeaweedFS (S3) and Azurite (Azure Blob) on
//!   loopback, started and stopped by a test.
//! - [`files_below`] — every file of a folder tree.

pub mod object_servers;
pub mod secrets;

use std::path::{Path, PathBuf};

/// Every file below `dir`, as its path relative to `dir`, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path.strip_prefix(dir).expect("below").to_path_buf());
            }
        }
    }
    files.sort();
    files
}
