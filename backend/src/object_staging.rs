//! Staging through the `object_store` crate: a local (or shared, mounted)
//! folder, or a key of S3 (or an S3-compatible store) or Azure Blob
//! storage ([`crate::object_url`]), behind the same trait.
//! Puts are atomic (the local store writes a temporary file and renames it;
//! cloud stores commit an object whole).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::object_url::{describe, is_object_url, open_store, ObjectUrl, StoreOptions};
use crate::staging::Staging;
use crate::BackendError;

/// Staging in an object store.
pub struct ObjectStaging {
    store: Arc<dyn ObjectStore>,
    location: String,
    /// The folder, for local staging (whose empty folders are removed too).
    root: Option<std::path::PathBuf>,
}

fn store_error(context: String) -> impl FnOnce(object_store::Error) -> BackendError {
    move |e| match e {
        object_store::Error::NotFound { .. } => BackendError::Missing(context),
        other => BackendError::Store(format!("{context}: {}", describe(&other))),
    }
}

impl ObjectStaging {
    /// Staging in a local folder (created if missing).
    pub fn local(root: &std::path::Path) -> Result<ObjectStaging, BackendError> {
        std::fs::create_dir_all(root).map_err(|e| {
            BackendError::io(
                format!("cannot create staging folder {}", root.display()),
                e,
            )
        })?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| BackendError::Store(format!("staging folder {}: {e}", root.display())))?;
        Ok(ObjectStaging {
            store: Arc::new(store),
            location: root.display().to_string(),
            root: Some(root.to_owned()),
        })
    }

    /// Staging at `url`: a folder path or `file://` URL, or a key of an
    /// object store (`s3://BUCKET/KEY`, `az://CONTAINER/KEY`) reached with
    /// `options`.
    pub fn open(url: &str, options: &StoreOptions) -> Result<ObjectStaging, BackendError> {
        if let Some(path) = url.strip_prefix("file://") {
            return ObjectStaging::local(std::path::Path::new(path));
        }
        if is_object_url(url) {
            let parsed =
                ObjectUrl::parse(url).map_err(|e| BackendError::Store(format!("staging {e}")))?;
            let store = open_store(&parsed, options)?;
            let store: Arc<dyn ObjectStore> = if parsed.key().is_empty() {
                store
            } else {
                Arc::new(PrefixStore::new(store, parsed.key()))
            };
            return Ok(ObjectStaging {
                store,
                location: parsed.to_string(),
                root: None,
            });
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(BackendError::Store(format!(
                "staging {url}: scheme {scheme}:// is not supported (a folder, s3:// or az://)"
            )));
        }
        ObjectStaging::local(std::path::Path::new(url))
    }

    /// Where the staging area is, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Writes `payload` as the blob at `path`.
    async fn put_payload(&self, path: &str, payload: PutPayload) -> Result<(), BackendError> {
        self.store
            .put(&ObjectPath::from(path), payload)
            .await
            .map(|_| ())
            .map_err(store_error(format!("failed to write staging blob {path}")))
    }
}

#[async_trait]
impl Staging for ObjectStaging {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        self.put_payload(path, PutPayload::from(bytes)).await
    }

    async fn put_parts(&self, path: &str, parts: Vec<Vec<u8>>) -> Result<(), BackendError> {
        // The parts as they are: one payload of several buffers, no copy.
        let payload = parts.into_iter().map(Bytes::from).collect();
        self.put_payload(path, payload).await
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        let result = self
            .store
            .get(&ObjectPath::from(path))
            .await
            .map_err(store_error(path.to_owned()))?;
        let bytes = result.bytes().await.map_err(store_error(path.to_owned()))?;
        Ok(bytes.to_vec())
    }

    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Vec<u8>, BackendError> {
        let location = ObjectPath::from(path);
        match self.store.get_range(&location, range.clone()).await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(e @ object_store::Error::NotFound { .. }) => Err(store_error(path.to_owned())(e)),
            // A range that starts past the end is refused; like one that
            // ends past it, it reads what there is: nothing.
            Err(e) => match self.store.head(&location).await {
                Ok(meta) if meta.size <= range.start => Ok(Vec::new()),
                _ => Err(store_error(path.to_owned())(e)),
            },
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let prefix = ObjectPath::from(prefix);
        let mut paths: Vec<String> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(store_error(format!("failed to list staging {prefix}")))?;
        paths.sort();
        Ok(paths)
    }

    async fn list_runs(&self) -> Result<Vec<String>, BackendError> {
        let listing = self
            .store
            .list_with_delimiter(Some(&ObjectPath::from("runs")))
            .await;
        let listing = match listing {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => {
                return Err(BackendError::Store(format!(
                    "failed to list staging runs: {}",
                    describe(&e)
                )))
            }
        };
        let mut runs: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect();
        runs.sort();
        Ok(runs)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BackendError> {
        let prefix_path = ObjectPath::from(prefix);
        let locations = self
            .store
            .list(Some(&prefix_path))
            .map_ok(|m| m.location)
            .boxed();
        let results: Vec<_> = self.store.delete_stream(locations).collect().await;
        for r in results {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return Err(BackendError::Store(format!(
                        "failed to delete staging {prefix}: {}",
                        describe(&e)
                    )))
                }
            }
        }
        // A local store leaves the folders: remove them, so the run is gone.
        if let Some(root) = &self.root {
            match std::fs::remove_dir_all(root.join(prefix)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BackendError::io(
                        format!("failed to delete staging {prefix}"),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = ObjectStaging::local(dir.path()).expect("staging");
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
        s.put("runs/q/x", b"q".to_vec()).await.expect("put");
        assert_eq!(s.list_runs().await.expect("runs"), ["q", "r"]);
        s.delete_prefix("runs/r").await.expect("delete");
        assert!(s.list("runs/r").await.expect("list").is_empty());
        assert_eq!(s.list_runs().await.expect("runs"), ["q"]);
        assert!(ObjectStaging::open("gs://bucket/x", &StoreOptions::default()).is_err());
    }

    /// Staging with only the methods a `Staging` must have, so the trait's
    /// own `put_parts` and `get_range` serve it.
    struct Plain(ObjectStaging);

    #[async_trait]
    impl Staging for Plain {
        async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
            self.0.put(path, bytes).await
        }
        async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
            self.0.get(path).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
            self.0.list(prefix).await
        }
        async fn list_runs(&self) -> Result<Vec<String>, BackendError> {
            self.0.list_runs().await
        }
        async fn delete_prefix(&self, prefix: &str) -> Result<(), BackendError> {
            self.0.delete_prefix(prefix).await
        }
    }

    #[tokio::test]
    async fn parts_are_written_as_one_blob_and_read_back_by_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let object = ObjectStaging::local(dir.path()).expect("staging");
        let plain = Plain(ObjectStaging::local(dir.path()).expect("staging"));
        for (name, s) in [("object", &object as &dyn Staging), ("plain", &plain)] {
            let parts = vec![b"ab".to_vec(), Vec::new(), b"cde".to_vec()];
            s.put_parts("runs/r/b", parts).await.expect("put");
            assert_eq!(s.get("runs/r/b").await.expect("get"), b"abcde", "{name}");
            for (range, bytes) in [
                (0..2, &b"ab"[..]),
                (1..4, b"bcd"),
                (2..5, b"cde"),
                // Past the end: what there is.
                (3..9, b"de"),
                (5..7, b""),
                (7..9, b""),
            ] {
                let got = s.get_range("runs/r/b", range.clone()).await;
                assert_eq!(got.expect("range"), bytes, "{name} {range:?}");
            }
            assert!(
                matches!(
                    s.get_range("runs/r/none", 0..1).await,
                    Err(BackendError::Missing(_))
                ),
                "{name}"
            );
        }
    }
}
