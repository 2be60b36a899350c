//! Loads a tenant: `tenant.toml`, validated; its three CSV tables; and the
//! activity files its globs match, with their sizes. Everything here is
//! checked before any job starts: a failure is one line naming the field or
//! file, and exit status 2.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
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

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Unreadable {
        path: path.display().to_string(),
        source,
    })
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
const HEAD_BYTES: usize = 256 * 1024;

fn today_in(tz: &Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(tz).date_naive()
}

/// Loads and checks the tenant configured at `config_path`.
pub fn load_tenant(config_path: &Path) -> Result<LoadedTenant, LoadError> {
    let config_path = std::path::absolute(config_path).map_err(|source| LoadError::Unreadable {
        path: config_path.display().to_string(),
        source,
    })?;
    let shown = config_path.display().to_string();
    let config_err = |error: ConfigError| LoadError::Config {
        path: shown.clone(),
        error,
    };
    let text = String::from_utf8(read(&config_path)?)
        .map_err(|_| config_err(ConfigError::new("tenant.toml", "not UTF-8 text")))?;
    let raw: RawTenantConfig = parse_toml(&text).map_err(config_err)?;
    let settings = validate(&raw, today_in).map_err(config_err)?;
    let base = config_path.parent().unwrap_or(Path::new(".")).to_path_buf();

    let org = read(&base.join(&raw.inputs.org_users))?;
    let contacts = read(&base.join(&raw.inputs.contacts))?;
    let domains = read(&base.join(&raw.inputs.account_domains))?;
    let tables = read_tables(&TableSources {
        org_users: (&raw.inputs.org_users, &org),
        contacts: (&raw.inputs.contacts, &contacts),
        account_domains: (&raw.inputs.account_domains, &domains),
    })
    .map_err(config_err)?;

    let mut files = Vec::new();
    for (i, source) in raw.inputs.activity.iter().enumerate() {
        let field = format!("inputs.activity[{i}].path");
        let pattern = base.join(&source.path).display().to_string();
        let paths = glob::glob(&pattern)
            .map_err(|e| config_err(ConfigError::new(&field, format!("invalid glob: {e}"))))?;
        let mut matched: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        matched.sort();
        if matched.is_empty() {
            return Err(config_err(ConfigError::new(
                field,
                format!("{:?} matches no file", source.path),
            )));
        }
        for path in matched {
            let meta = std::fs::metadata(&path).map_err(|source| LoadError::Unreadable {
                path: path.display().to_string(),
                source,
            })?;
            let name = path
                .strip_prefix(&base)
                .unwrap_or(&path)
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
