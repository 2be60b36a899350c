//! Staging in a local (or shared, mounted) folder. Writes go to a temporary
//! name first and are renamed into place, so a reader never sees half a blob.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::staging::Staging;
use crate::BackendError;

/// A folder holding the staging area.
pub struct LocalStaging {
    root: PathBuf,
}

impl LocalStaging {
    /// Staging under `root` (created on first write).
    pub fn new(root: PathBuf) -> LocalStaging {
        LocalStaging { root }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, root, out)?;
        } else if path.extension().is_none_or(|e| e != "tmp") {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Staging for LocalStaging {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        let target = self.path(path);
        let tmp = target.with_extension(format!("{}.tmp", std::process::id()));
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &target)
        })
        .await
        .map_err(|e| BackendError::Store(format!("staging task: {e}")))?
        .map_err(|e| BackendError::io(format!("failed to write staging blob {path}"), e))
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        match tokio::fs::read(self.path(path)).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BackendError::Missing(path.to_owned()))
            }
            Err(e) => Err(BackendError::io(
                format!("failed to read staging blob {path}"),
                e,
            )),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let root = self.root.clone();
        let dir = self.path(prefix);
        let mut out = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            collect(&dir, &root, &mut out).map(|_| out)
        })
        .await
        .map_err(|e| BackendError::Store(format!("staging task: {e}")))?
        .map_err(|e| BackendError::io(format!("failed to list staging {prefix}"), e))?;
        out.sort();
        Ok(out)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BackendError> {
        match tokio::fs::remove_dir_all(self.path(prefix)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackendError::io(
                format!("failed to delete staging {prefix}"),
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = LocalStaging::new(dir.path().to_path_buf());
        s.put("runs/r/a/1", b"one".to_vec()).await.expect("put");
        s.put("runs/r/a/0", b"zero".to_vec()).await.expect("put");
        assert_eq!(s.get("runs/r/a/1").await.expect("get"), b"one");
        assert_eq!(
            s.list("runs/r/a").await.expect("list"),
            ["runs/r/a/0", "runs/r/a/1"]
        );
        assert!(matches!(
            s.get("runs/r/b").await,
            Err(BackendError::Missing(_))
        ));
        s.delete_prefix("runs/r").await.expect("delete");
        assert!(s.list("runs/r").await.expect("list").is_empty());
    }
}
