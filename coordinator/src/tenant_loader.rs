//! Loads a tenant: `tenant.toml`, validated; its three CSV tables; and the
//! activity files its globs match, with their sizes. Everything here is
//! checked before any job starts: a failure is one line naming the field or
//! file, and exit status 2.
//!
//! Every file is checked against the [`DataRoots`] first (resolved, below a
//! root and, with roots, below the tenant's folder; regular files only),
//! configuration files are read up to [`FileCaps::max_config_bytes`], and a
//! glob may match at most [`FileCaps::max_glob_matches`] files. This is
//! blocking work: the service runs it off the async runtime, with a time
//! limit. A tenant on object storage is loaded by [`crate::object_tenant`]
//! with the same rules; [`load_tenant_at`] chooses by the config's form.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono_tz::Tz;
use rapport_backend::data_roots::{read_capped, tenant_file, tenant_path, PathError};
use rapport_backend::object_url::is_object_url;
use rapport_backend::DataRoots;
use rapport_common::plan::InputFile;
use rapport_common::tables::{read_tables, TableSources, Tables};
use rapport_common::tenant::{parse_toml, validate, ConfigError, RawTenantConfig, TenantSettings};
use rapport_formats::split_of;

/// A tenant that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setting or table is invalid.
    #[error("{path}: {error}")]
    Config {
        /// The configuration file.
        path: String,
        /// What is wrong.
        error: ConfigError,
    },
    /// A path breaks a rule of the data roots.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A glob matches more files than allowed.
    #[error("{path}: inputs.activity[{index}].path matches more than {cap} files (the cap on glob matches)")]
    TooManyMatches {
        /// The configuration file.
        path: String,
        /// The activity source.
        index: usize,
        /// The cap.
        cap: usize,
    },
    /// Reading the tenant took longer than the limit.
    #[error("{path}: reading the tenant took longer than {seconds} s (the read time limit)")]
    TimedOut {
        /// The configuration file.
        path: String,
        /// The limit.
        seconds: f64,
    },
    /// A file cannot be read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// An activity file to read: path relative to the tenant folder (as
/// reported), absolute location, format, where it may be cut, and size.
pub type ActivityFile = InputFile;

/// A checked tenant.
pub struct LoadedTenant {
    /// The configuration file, absolute.
    pub config_path: PathBuf,
    /// Validated settings.
    pub settings: TenantSettings,
    /// Directory and office users.
    pub tables: Tables,
    /// Activity files, in glob order.
    pub files: Vec<ActivityFile>,
}

/// Limits on what loading a tenant reads.
#[derive(Debug, Clone, Copy)]
pub struct FileCaps {
    /// The largest tenant.toml or table read, in bytes.
    pub max_config_bytes: u64,
    /// The most files one activity glob may match.
    pub max_glob_matches: usize,
}

impl Default for FileCaps {
    fn default() -> FileCaps {
        FileCaps {
            max_config_bytes: 256 * 1024 * 1024,
            max_glob_matches: 100_000,
        }
    }
}

/// The first bytes of a file, enough to tell how it may be cut.
fn read_head(path: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let unreadable = |source| LoadError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    let mut head = Vec::with_capacity(HEAD_BYTES);
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    Ok(head)
}

/// Bytes read to tell a line-per-resource Graph file from list responses.
pub(crate) const HEAD_BYTES: usize = 256 * 1024;

fn today_in(tz: &Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(tz).date_naive()
}

/// The validated settings of a tenant.toml read as `bytes` from `shown`.
pub(crate) fn settings_of(
    shown: &str,
    bytes: Vec<u8>,
) -> Result<(RawTenantConfig, TenantSettings), LoadError> {
    let config_err = |error: ConfigError| LoadError::Config {
        path: shown.to_owned(),
        error,
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| config_err(ConfigError::new("tenant.toml", "not UTF-8 text")))?;
    let raw: RawTenantConfig = parse_toml(&text).map_err(config_err)?;
    let settings = validate(&raw, today_in).map_err(config_err)?;
    Ok((raw, settings))
}

/// The tenant's three tables, from their bytes.
pub(crate) fn tables_of(
    shown: &str,
    raw: &RawTenantConfig,
    org: &[u8],
    contacts: &[u8],
    domains: &[u8],
) -> Result<Tables, LoadError> {
    read_tables(&TableSources {
        org_users: (&raw.inputs.org_users, org),
        contacts: (&raw.inputs.contacts, contacts),
        account_domains: (&raw.inputs.account_domains, domains),
    })
    .map_err(|error| LoadError::Config {
        path: shown.to_owned(),
        error,
    })
}

/// Loads and checks the tenant configured at `config` (a path, or an
/// object-storage URL) within `roots` and `caps`, off the async runtime
/// for a local one.
pub async fn load_tenant_at(
    config: &str,
    roots: Arc<DataRoots>,
    caps: FileCaps,
) -> Result<LoadedTenant, LoadError> {
    if is_object_url(config) {
        return crate::object_tenant::load_object_tenant(config, &roots, caps).await;
    }
    let path = PathBuf::from(config);
    tokio::task::spawn_blocking(move || load_tenant_within(&path, &roots, caps))
        .await
        .map_err(|e| LoadError::Unreadable {
            path: config.to_owned(),
            source: std::io::Error::other(format!("the loader stopped: {e}")),
        })?
}

/// Loads and checks the tenant configured at `config_path`, reading any
/// path (the embedded run's rules).
pub fn load_tenant(config_path: &Path) -> Result<LoadedTenant, LoadError> {
    load_tenant_within(config_path, &DataRoots::unrestricted(), FileCaps::default())
}

/// Loads and checks the tenant configured at `config_path`, reading only
/// what `roots` and `caps` allow.
pub fn load_tenant_within(
    config_path: &Path,
    roots: &DataRoots,
    caps: FileCaps,
) -> Result<LoadedTenant, LoadError> {
    let config_path = roots.input_file(config_path)?;
    let shown = config_path.display().to_string();
    let config_err = |error: ConfigError| LoadError::Config {
        path: shown.clone(),
        error,
    };
    let bytes = read_capped(&config_path, &config_path, caps.max_config_bytes)?;
    let (raw, settings) = settings_of(&shown, bytes)?;
    let base = config_path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let table = |named: &str| -> Result<Vec<u8>, LoadError> {
        let joined = tenant_path(roots, &base, named)?;
        let resolved = tenant_file(roots, &base, &joined)?;
        Ok(read_capped(&resolved, &joined, caps.max_config_bytes)?)
    };
    let tables = tables_of(
        &shown,
        &raw,
        &table(&raw.inputs.org_users)?,
        &table(&raw.inputs.contacts)?,
        &table(&raw.inputs.account_domains)?,
    )?;

    let mut files = Vec::new();
    for (i, source) in raw.inputs.activity.iter().enumerate() {
        let field = format!("inputs.activity[{i}].path");
        let pattern = tenant_path(roots, &base, &source.path)?
            .display()
            .to_string();
        let paths = glob::glob(&pattern)
            .map_err(|e| config_err(ConfigError::new(&field, format!("invalid glob: {e}"))))?;
        let mut matched: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .take(caps.max_glob_matches.saturating_add(1))
            .collect();
        if matched.len() > caps.max_glob_matches {
            return Err(LoadError::TooManyMatches {
                path: shown.clone(),
                index: i,
                cap: caps.max_glob_matches,
            });
        }
        matched.sort();
        if matched.is_empty() {
            return Err(config_err(ConfigError::new(
                field,
                format!("{:?} matches no file", source.path),
            )));
        }
        for matched in matched {
            // Named as matched; read where it resolves.
            let path = tenant_file(roots, &base, &matched)?;
            let meta = std::fs::metadata(&path).map_err(|source| LoadError::Unreadable {
                path: matched.display().to_string(),
                source,
            })?;
            let name = matched
                .strip_prefix(&base)
                .unwrap_or(&matched)
                .to_string_lossy()
                .replace('\\', "/");
            files.push(ActivityFile {
                split: split_of(source.format, &name, || read_head(&path))?,
                name,
                location: path.display().to_string(),
                format: source.format,
                size: meta.len(),
            });
        }
    }
    Ok(LoadedTenant {
        config_path,
        settings,
        tables,
        files,
    })
}
