//! Where a run's outputs go: a folder, or a key of an object store
//! (`s3://…`, `az://…`).
//!
//! For a folder, the files are assembled in a hidden folder beside the
//! outputs and committed by renames ([`crate::writer`]). For an object
//! store they are assembled and committed the same way in a local scratch
//! folder of the coordinator's (below the temporary folder, one per run),
//! then published: the old `run_report.json` is deleted first, each file
//! is uploaded in parts of [`PART_BYTES`] (memory stays bounded whatever
//! its size; an object appears whole or not at all), and the report goes
//! last. So, as in a folder, a set is whole when its `run_report.json`
//! names the run, and a reader that finds none waits for it. The scratch
//! folder is removed once the run has ended.

use std::path::{Path, PathBuf};

use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use rapport_backend::data_roots::{DataRoots, PathError};
use rapport_backend::object_url::{io_error, is_object_url, open_store, ObjectUrl};
use tokio::io::AsyncReadExt;
use tracing::warn;

use crate::writer::{WriteError, REPORT_FILE};

/// Size of an uploaded part.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// A checked output location.
pub enum OutputTarget {
    /// A folder below the output root.
    Folder(PathBuf),
    /// A key of an object store, and the scratch folder the set is
    /// assembled in first.
    Object {
        /// Where the files go.
        url: ObjectUrl,
        /// The local folder they are written to first.
        scratch: PathBuf,
    },
}

impl OutputTarget {
    /// `out` checked against `roots`, for run `run`.
    pub fn of(roots: &DataRoots, out: &Path, run: &str) -> Result<OutputTarget, PathError> {
        match out.to_str() {
            Some(s) if is_object_url(s) => Ok(OutputTarget::Object {
                url: roots.output_object(s)?,
                scratch: std::env::temp_dir().join(format!("rapport-out-{run}")),
            }),
            _ => Ok(OutputTarget::Folder(roots.output_dir(out)?)),
        }
    }

    /// The local folder the set is assembled and committed in.
    pub fn folder(&self) -> &Path {
        match self {
            OutputTarget::Folder(dir) => dir,
            OutputTarget::Object { scratch, .. } => scratch,
        }
    }

    /// Checks a folder again just before the commit (a symlink put in since
    /// submit is refused); a URL has no links to follow.
    pub fn recheck(&self, roots: &DataRoots) -> Result<(), PathError> {
        match self {
            OutputTarget::Folder(dir) => roots.output_dir(dir).map(|_| ()),
            OutputTarget::Object { .. } => Ok(()),
        }
    }

    /// Publishes the committed set (`names`, the report excluded) to the
    /// object store; nothing for a folder.
    pub async fn publish(&self, roots: &DataRoots, names: &[&str]) -> Result<(), WriteError> {
        let OutputTarget::Object { url, scratch } = self else {
            return Ok(());
        };
        let store = open_store(url, roots.stores()).map_err(|e| store_failed(url, e))?;
        publish_to(&*store, url, scratch, names).await
    }

    /// Removes the scratch folder of an object target.
    pub async fn clean(&self) {
        if let OutputTarget::Object { scratch, .. } = self {
            match tokio::fs::remove_dir_all(scratch).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    warn!(folder = %scratch.display(), error = %e, "cannot remove the outputs' scratch folder")
                }
            }
        }
    }
}

/// Publishes the files `names` of `folder`, then its report, below `url`
/// of `store`: the old report is deleted first, the new one goes last.
async fn publish_to(
    store: &dyn ObjectStore,
    url: &ObjectUrl,
    folder: &Path,
    names: &[&str],
) -> Result<(), WriteError> {
    let report = url.join(REPORT_FILE).map_err(|e| bad_key(url, e))?;
    match store.delete(&report.path()).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(failed("cannot replace", &report, &e)),
    }
    for name in names.iter().chain([&REPORT_FILE]) {
        let object = url.join(name).map_err(|e| bad_key(url, e))?;
        upload(store, &folder.join(name), &object).await?;
    }
    Ok(())
}

/// Uploads the file `local` as `object`, a part at a time.
async fn upload(
    store: &dyn ObjectStore,
    local: &Path,
    object: &ObjectUrl,
) -> Result<(), WriteError> {
    let io = |e: std::io::Error| WriteError::Io {
        context: format!("cannot read {}", local.display()),
        source: e,
    };
    let mut file = tokio::fs::File::open(local).await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    if size <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).await.map_err(io)?;
        store
            .put(&object.path(), bytes.into())
            .await
            .map_err(|e| failed("cannot write", object, &e))?;
        return Ok(());
    }
    let upload = store
        .put_multipart(&object.path())
        .await
        .map_err(|e| failed("cannot write", object, &e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut buffer = vec![0u8; PART_BYTES];
    let sent: Result<(), WriteError> = async {
        loop {
            writer
                .wait_for_capacity(2)
                .await
                .map_err(|e| failed("cannot write", object, &e))?;
            let read = file.read(&mut buffer).await.map_err(io)?;
            if read == 0 {
                return Ok(());
            }
            writer.write(&buffer[..read]);
        }
    }
    .await;
    if let Err(e) = sent {
        // The parts sent so far are dropped, not left for a lifecycle rule.
        let _ = writer.abort().await;
        return Err(e);
    }
    writer
        .finish()
        .await
        .map_err(|e| failed("cannot write", object, &e))?;
    Ok(())
}

fn failed(what: &str, object: &ObjectUrl, e: &object_store::Error) -> WriteError {
    WriteError::Io {
        context: format!("{what} {object}"),
        source: io_error(e),
    }
}

fn store_failed(url: &ObjectUrl, e: rapport_backend::BackendError) -> WriteError {
    WriteError::Io {
        context: format!("cannot open the store of {url}"),
        source: std::io::Error::other(e.to_string()),
    }
}

fn bad_key(url: &ObjectUrl, e: rapport_backend::object_url::UrlError) -> WriteError {
    WriteError::Io {
        context: format!("cannot name a file below {url}"),
        source: std::io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use object_store::memory::InMemory;

    async fn read(store: &InMemory, url: &ObjectUrl, name: &str) -> Option<Vec<u8>> {
        let path = url.join(name).expect("key").path();
        match store.get(&path).await {
            Ok(got) => Some(got.bytes().await.expect("bytes").to_vec()),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn a_set_is_published_report_last_and_large_files_in_parts() {
        let store = InMemory::new();
        let url = ObjectUrl::parse("s3://b/out/acme").expect("url");
        let dir = tempfile::tempdir().expect("dir");
        // Larger than two parts, and not a multiple of one.
        let large: Vec<u8> = (0..2 * PART_BYTES + 12_345)
            .map(|i| (i % 241) as u8)
            .collect();
        std::fs::write(dir.path().join("account_engagement.csv"), &large).expect("file");
        std::fs::write(dir.path().join("office_users.csv"), b"small").expect("file");
        std::fs::write(dir.path().join(REPORT_FILE), b"{\"run_id\":\"r2\"}").expect("file");
        let old = url.join(REPORT_FILE).expect("key").path();
        store
            .put(&old, b"{\"run_id\":\"r1\"}".to_vec().into())
            .await
            .expect("old report");

        let names = ["account_engagement.csv", "office_users.csv"];
        publish_to(&store, &url, dir.path(), &names)
            .await
            .expect("published");
        assert_eq!(
            read(&store, &url, "account_engagement.csv").await,
            Some(large)
        );
        assert_eq!(
            read(&store, &url, "office_users.csv").await.as_deref(),
            Some(&b"small"[..])
        );
        assert_eq!(
            read(&store, &url, REPORT_FILE).await.as_deref(),
            Some(&b"{\"run_id\":\"r2\"}"[..])
        );

        // A set that cannot be published whole leaves no report: readers
        // never take a mix of two runs for a whole set.
        std::fs::remove_file(dir.path().join("office_users.csv")).expect("removed");
        let err = publish_to(&store, &url, dir.path(), &names)
            .await
            .expect_err("a file is missing");
        assert!(err.to_string().contains("office_users.csv"), "{err}");
        assert_eq!(read(&store, &url, REPORT_FILE).await, None);
    }
}
