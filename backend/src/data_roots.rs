//! Where the coordinator and workers may read and write: configs and inputs
//! only below the input roots, outputs only below the output root.
//!
//! Every path is resolved (`..` and symlinks) before it is checked, and only
//! regular files are read: a FIFO or a device is refused before a byte is
//! read from it (files are opened non-blocking and checked on the open
//! handle, so a FIFO cannot hold a thread). A configuration file is read up
//! to a size cap. Without roots (the embedded `rapport run`, or a
//! coordinator on a loopback address for development) every path may be
//! read, but the file-type and size rules still hold.
//!
//! A root may also be an object-storage URL (`s3://BUCKET/KEY`,
//! `az://CONTAINER/KEY`, see [`crate::object_url`]): URLs are then allowed
//! below it, keys checked segment by segment (no `..`). With input roots
//! set, local paths need a local root and URLs an object root, so a worker
//! given only object roots reads nothing from its own disk.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::object_url::{is_object_url, ObjectUrl, StoreOptions, UrlError};

/// Why a path was refused. The message names the path and the rule.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// Resolved, it lies below no input root.
    #[error("{path}: outside the input roots (paths are resolved, `..` and symlinks included, and must then lie below an input root)")]
    OutsideInputRoots {
        /// The path as given.
        path: String,
    },
    /// Resolved, it lies outside the output root.
    #[error("{path}: outside the output root (paths are resolved, `..` and symlinks included, and must then lie below the output root)")]
    OutsideOutputRoot {
        /// The path as given.
        path: String,
    },
    /// A file a tenant.toml names lies outside the tenant's folder.
    #[error("{path}: outside the tenant's folder (with input roots, the files a tenant.toml names must be relative paths without `..` that resolve below its folder)")]
    OutsideTenant {
        /// The path as given.
        path: String,
    },
    /// Not a regular file.
    #[error(
        "{path}: not a regular file (only regular files are read: no FIFOs, devices or folders)"
    )]
    NotRegular {
        /// The path as given.
        path: String,
    },
    /// Larger than the cap.
    #[error("{path}: larger than the cap of {cap} bytes for a configuration file")]
    TooLarge {
        /// The path as given.
        path: String,
        /// The cap, in bytes.
        cap: u64,
    },
    /// An object-storage URL that does not parse.
    #[error(transparent)]
    BadUrl(#[from] UrlError),
    /// Cannot be resolved or read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl PathError {
    /// True for the rules about where data may live (HTTP 403), false for
    /// what a file is or holds (HTTP 400).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            PathError::OutsideInputRoots { .. }
                | PathError::OutsideOutputRoot { .. }
                | PathError::OutsideTenant { .. }
        )
    }

    fn unreadable(path: &Path) -> impl FnOnce(std::io::Error) -> PathError + '_ {
        move |source| PathError::Unreadable {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The input roots and the output root, resolved; empty: unrestricted.
/// It also carries how object stores are reached.
#[derive(Debug, Clone, Default)]
pub struct DataRoots {
    inputs: Vec<PathBuf>,
    output: Option<PathBuf>,
    object_inputs: Vec<ObjectUrl>,
    object_output: Option<ObjectUrl>,
    stores: StoreOptions,
}

impl DataRoots {
    /// No roots: any path may be read and written (embedded runs, and a
    /// coordinator on loopback for development).
    pub fn unrestricted() -> DataRoots {
        DataRoots::default()
    }

    /// The roots: folders, which must exist and are resolved once here,
    /// or object-storage URLs.
    pub fn new(inputs: &[PathBuf], output: Option<&Path>) -> Result<DataRoots, PathError> {
        let resolve = |p: &Path| p.canonicalize().map_err(PathError::unreadable(p));
        let mut roots = DataRoots::default();
        for input in inputs {
            match object_url_of(input)? {
                Some(url) => roots.object_inputs.push(url),
                None => roots.inputs.push(resolve(input)?),
            }
        }
        if let Some(output) = output {
            match object_url_of(output)? {
                Some(url) => roots.object_output = Some(url),
                None => roots.output = Some(resolve(output)?),
            }
        }
        Ok(roots)
    }

    /// These roots, with object stores reached with `stores` (by default,
    /// with the environment's options).
    pub fn with_stores(self, stores: StoreOptions) -> DataRoots {
        DataRoots { stores, ..self }
    }

    /// How object stores are reached.
    pub fn stores(&self) -> &StoreOptions {
        &self.stores
    }

    /// True when input roots are set.
    pub fn restricts_inputs(&self) -> bool {
        !self.inputs.is_empty() || !self.object_inputs.is_empty()
    }

    /// True when an output root is set.
    pub fn restricts_output(&self) -> bool {
        self.output.is_some() || self.object_output.is_some()
    }

    /// `url` checked, when it lies below an object input root (any URL
    /// without input roots).
    pub fn input_object(&self, url: &str) -> Result<ObjectUrl, PathError> {
        let parsed = ObjectUrl::parse(url)?;
        if self.restricts_inputs() && !self.object_inputs.iter().any(|r| parsed.is_below(r)) {
            return Err(PathError::OutsideInputRoots {
                path: url.to_owned(),
            });
        }
        Ok(parsed)
    }

    /// Where outputs go, checked: the folder resolved (see
    /// [`DataRoots::output_dir`]) or the object URL (see
    /// [`DataRoots::output_object`]), as it is recorded.
    pub fn output_location(&self, out: &Path) -> Result<PathBuf, PathError> {
        match object_url_of(out)? {
            Some(url) => Ok(PathBuf::from(
                self.output_object(&url.to_string())?.to_string(),
            )),
            None => self.output_dir(out),
        }
    }

    /// `url` checked, when it lies below the object output root (any URL
    /// without an output root).
    pub fn output_object(&self, url: &str) -> Result<ObjectUrl, PathError> {
        let parsed = ObjectUrl::parse(url)?;
        let allowed = match (&self.object_output, self.restricts_output()) {
            (Some(root), _) => parsed.is_below(root),
            (None, restricted) => !restricted,
        };
        if !allowed {
            return Err(PathError::OutsideOutputRoot {
                path: url.to_owned(),
            });
        }
        Ok(parsed)
    }

    /// `path` resolved, when it is a regular file below an input root.
    pub fn input_file(&self, path: &Path) -> Result<PathBuf, PathError> {
        let resolved = path.canonicalize().map_err(PathError::unreadable(path))?;
        if self.restricts_inputs() && !self.inputs.iter().any(|r| resolved.starts_with(r)) {
            return Err(PathError::OutsideInputRoots {
                path: path.display().to_string(),
            });
        }
        let meta = std::fs::metadata(&resolved).map_err(PathError::unreadable(path))?;
        if !meta.file_type().is_file() {
            return Err(PathError::NotRegular {
                path: path.display().to_string(),
            });
        }
        Ok(resolved)
    }

    /// Opens an input file for reading, after [`DataRoots::input_file`]'s
    /// checks; the open handle is checked again, so a file swapped for a
    /// FIFO in between is refused rather than blocking.
    pub fn open_input(&self, path: &Path) -> Result<File, PathError> {
        let resolved = self.input_file(path)?;
        open_regular(&resolved, path)
    }

    /// The output folder `path`, resolved, when it lies below the output
    /// root. It need not exist yet: its nearest existing ancestor is
    /// resolved and the rest may not hold `..`.
    pub fn output_dir(&self, path: &Path) -> Result<PathBuf, PathError> {
        let outside = || PathError::OutsideOutputRoot {
            path: path.display().to_string(),
        };
        let mut existing = std::path::absolute(path).map_err(PathError::unreadable(path))?;
        let mut rest = Vec::new();
        while !existing.exists() {
            match existing.components().next_back() {
                Some(Component::Normal(name)) => rest.push(name.to_owned()),
                Some(Component::CurDir) => {}
                // `..` below a folder that does not exist: refused, not guessed.
                _ => return Err(outside()),
            }
            existing.pop();
        }
        let mut resolved = existing
            .canonicalize()
            .map_err(PathError::unreadable(path))?;
        for name in rest.iter().rev() {
            resolved.push(name);
        }
        match &self.output {
            Some(root) if !resolved.starts_with(root) => Err(outside()),
            None if self.restricts_output() => Err(outside()),
            _ => Ok(resolved),
        }
    }
}

/// `path` as an object-storage URL, when it is one.
fn object_url_of(path: &Path) -> Result<Option<ObjectUrl>, PathError> {
    match path.to_str() {
        Some(s) if is_object_url(s) => Ok(Some(ObjectUrl::parse(s)?)),
        _ => Ok(None),
    }
}

/// A path a tenant.toml names, joined to the tenant's `folder` (resolved).
/// With input roots it must be relative, without `..`, and resolve below
/// the folder; without, any path goes.
pub fn tenant_path(roots: &DataRoots, folder: &Path, named: &str) -> Result<PathBuf, PathError> {
    let path = Path::new(named);
    if roots.restricts_inputs()
        && path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(PathError::OutsideTenant {
            path: named.to_owned(),
        });
    }
    Ok(folder.join(path))
}

/// [`tenant_path`]'s check on a file it matched: resolved, below the
/// tenant's folder (with input roots), and a regular file.
pub fn tenant_file(roots: &DataRoots, folder: &Path, path: &Path) -> Result<PathBuf, PathError> {
    let resolved = roots.input_file(path)?;
    if roots.restricts_inputs() && !resolved.starts_with(folder) {
        return Err(PathError::OutsideTenant {
            path: path.display().to_string(),
        });
    }
    Ok(resolved)
}

/// Opens `resolved` without blocking on a FIFO and checks, on the handle,
/// that it is a regular file. `shown` is the path as given.
fn open_regular(resolved: &Path, shown: &Path) -> Result<File, PathError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(resolved)
        .map_err(PathError::unreadable(shown))?;
    let meta = file.metadata().map_err(PathError::unreadable(shown))?;
    if !meta.file_type().is_file() {
        return Err(PathError::NotRegular {
            path: shown.display().to_string(),
        });
    }
    Ok(file)
}

/// The whole of a configuration file (tenant.toml or a table), up to `cap`
/// bytes, after [`tenant_file`]'s checks.
pub fn read_capped(resolved: &Path, shown: &Path, cap: u64) -> Result<Vec<u8>, PathError> {
    let file = open_regular(resolved, shown)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(PathError::unreadable(shown))?;
    if bytes.len() as u64 > cap {
        return Err(PathError::TooLarge {
            path: shown.display().to_string(),
            cap,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(dir: &Path) -> DataRoots {
        let (inputs, out) = (dir.join("in"), dir.join("out"));
        std::fs::create_dir_all(inputs.join("tenant")).expect("dirs");
        std::fs::create_dir_all(&out).expect("dirs");
        std::fs::write(inputs.join("tenant/a.csv"), "x").expect("file");
        std::fs::write(dir.join("secret.csv"), "x").expect("file");
        DataRoots::new(&[inputs], Some(&out)).expect("roots")
    }

    #[test]
    fn inputs_are_read_only_below_a_root_once_resolved() {
        let dir = tempfile::tempdir().expect("dir");
        let r = roots(dir.path());
        let inputs = dir.path().join("in");
        assert!(r.input_file(&inputs.join("tenant/a.csv")).is_ok());
        let escape = inputs.join("tenant/../../secret.csv");
        assert!(matches!(
            r.input_file(&escape),
            Err(PathError::OutsideInputRoots { .. })
        ));
        std::os::unix::fs::symlink(dir.path().join("secret.csv"), inputs.join("link.csv"))
            .expect("symlink");
        let err = r.input_file(&inputs.join("link.csv")).expect_err("refused");
        assert!(err.is_forbidden(), "{err}");
        assert!(err.to_string().contains("outside the input roots"), "{err}");
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let open = DataRoots::unrestricted();
        for path in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let err = open.open_input(path).expect_err("refused");
            assert!(matches!(err, PathError::NotRegular { .. }), "{err}");
            assert!(!err.is_forbidden());
            let err = open_regular(path, path).expect_err("refused on the handle");
            assert!(matches!(err, PathError::NotRegular { .. }), "{err}");
        }
    }

    #[test]
    fn configuration_files_are_read_up_to_a_cap() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("big.toml");
        std::fs::write(&file, vec![b'#'; 100]).expect("file");
        assert_eq!(read_capped(&file, &file, 100).expect("fits").len(), 100);
        let err = read_capped(&file, &file, 99).expect_err("too large");
        assert!(err.to_string().contains("cap of 99 bytes"), "{err}");
    }

    #[test]
    fn output_folders_must_resolve_below_the_output_root() {
        let dir = tempfile::tempdir().expect("dir");
        let r = roots(dir.path());
        let out = dir.path().join("out");
        let new = r.output_dir(&out.join("t1/run")).expect("below");
        assert!(new.ends_with("out/t1/run"));
        for bad in [out.join("missing/../../in"), dir.path().join("elsewhere")] {
            let err = r.output_dir(&bad).expect_err("refused");
            assert!(matches!(err, PathError::OutsideOutputRoot { .. }), "{err}");
        }
        std::os::unix::fs::symlink(dir.path(), out.join("up")).expect("symlink");
        assert!(r.output_dir(&out.join("up/x")).is_err());
        assert!(DataRoots::unrestricted()
            .output_dir(&dir.path().join("elsewhere"))
            .is_ok());
    }

    #[test]
    fn object_urls_need_an_object_root_and_paths_a_folder_root() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("in");
        std::fs::create_dir_all(&folder).expect("dir");
        std::fs::write(folder.join("a.csv"), "x").expect("file");
        let both = DataRoots::new(
            &[folder.clone(), PathBuf::from("s3://b/tenants")],
            Some(Path::new("az://c/out")),
        )
        .expect("roots");
        assert!(both.input_object("s3://b/tenants/acme/tenant.toml").is_ok());
        assert!(both.input_file(&folder.join("a.csv")).is_ok());
        for bad in ["s3://b/other/x", "s3://b/tenants/../x", "az://b/tenants/x"] {
            assert!(both.input_object(bad).is_err(), "{bad}");
        }
        assert!(both.output_object("az://c/out/acme").is_ok());
        assert!(both.output_object("az://c/elsewhere").is_err());
        assert!(both.output_dir(&dir.path().join("local-out")).is_err());

        let objects_only = DataRoots::new(&[PathBuf::from("s3://b/tenants")], None).expect("roots");
        let err = objects_only
            .input_file(&folder.join("a.csv"))
            .expect_err("no local root");
        assert!(err.is_forbidden(), "{err}");
        let open = DataRoots::unrestricted();
        assert!(open.input_object("s3://any/x").is_ok());
        assert!(open.output_object("az://any/x").is_ok());
        assert!(open.input_object("s3://any/../x").is_err());
    }

    #[test]
    fn a_tenant_names_only_files_in_its_folder_when_roots_are_set() {
        let dir = tempfile::tempdir().expect("dir");
        let r = roots(dir.path());
        let folder = dir.path().join("in/tenant").canonicalize().expect("folder");
        assert!(tenant_path(&r, &folder, "a.csv").is_ok());
        for bad in ["../other/org_users.csv", "/etc/passwd", "x/../../y"] {
            let err = tenant_path(&r, &folder, bad).expect_err("refused");
            assert!(
                err.to_string().contains("outside the tenant's folder"),
                "{err}"
            );
        }
        std::fs::create_dir_all(dir.path().join("in/other")).expect("dir");
        std::fs::write(dir.path().join("in/other/b.csv"), "x").expect("file");
        std::os::unix::fs::symlink(dir.path().join("in/other/b.csv"), folder.join("b.csv"))
            .expect("symlink");
        let err = tenant_file(&r, &folder, &folder.join("b.csv")).expect_err("refused");
        assert!(matches!(err, PathError::OutsideTenant { .. }), "{err}");
        let open = DataRoots::unrestricted();
        assert!(tenant_path(&open, &folder, "../other/b.csv").is_ok());
    }
}
