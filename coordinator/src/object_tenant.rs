//! Loads a tenant whose folder is on object storage (`s3://…/tenant.toml`,
//! `az://…/tenant.toml`), with the same checks and errors as a local one:
//! tenant.toml and the tables read up to the size cap, each activity glob
//! matched against the keys below the tenant's folder (`*` stays within a
//! segment, as on a disk), at most [`FileCaps::max_glob_matches`] files,
//! every file below the input roots.
//!
//! The names in tenant.toml are relative to its folder and may not climb
//! out of it (`..`), roots or not: an object tenant names only its own
//! objects.

use futures_util::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use rapport_backend::object_url::{io_error, open_store, ObjectUrl};
use rapport_backend::DataRoots;
use rapport_common::tenant::{ConfigError, Format};
use rapport_formats::split_of;

use crate::tenant_loader::{
    settings_of, tables_of, ActivityFile, FileCaps, LoadError, LoadedTenant, HEAD_BYTES,
};

/// Loads and checks the tenant configured at the object `config`.
pub async fn load_object_tenant(
    config: &str,
    roots: &DataRoots,
    caps: FileCaps,
) -> Result<LoadedTenant, LoadError> {
    let url = roots.input_object(config)?;
    let store = open_store(&url, roots.stores()).map_err(|e| LoadError::Unreadable {
        path: config.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let shown = url.to_string();
    let config_err = |error: ConfigError| LoadError::Config {
        path: shown.clone(),
        error,
    };
    let bytes = read_capped(&*store, &url, caps.max_config_bytes).await?;
    let (raw, settings) = settings_of(&shown, bytes)?;
    let folder = url.parent();
    let table = |named: String| {
        let (store, folder) = (store.clone(), folder.clone());
        async move {
            let file = folder.join(&named).map_err(|e| outside_tenant(&named, e))?;
            let file = roots.input_object(&file.to_string())?;
            read_capped(&*store, &file, caps.max_config_bytes).await
        }
    };
    let tables = tables_of(
        &shown,
        &raw,
        &table(raw.inputs.org_users.clone()).await?,
        &table(raw.inputs.contacts.clone()).await?,
        &table(raw.inputs.account_domains.clone()).await?,
    )?;

    let mut files = Vec::new();
    for (i, source) in raw.inputs.activity.iter().enumerate() {
        let field = format!("inputs.activity[{i}].path");
        let named = source.path.trim_start_matches("./");
        let pattern = glob::Pattern::new(named)
            .map_err(|e| config_err(ConfigError::new(&field, format!("invalid glob: {e}"))))?;
        let listed = match literal_prefix(named) {
            Some(dir) => folder.join(dir).map_err(|e| outside_tenant(named, e))?,
            None => folder.clone(),
        };
        let mut matched = matching(&*store, &folder, &listed, &pattern, caps, &shown, i).await?;
        matched.sort_by(|a, b| a.0.cmp(&b.0));
        if matched.is_empty() {
            return Err(config_err(ConfigError::new(
                field,
                format!("{:?} matches no file", source.path),
            )));
        }
        for (name, size) in matched {
            let file = folder.join(&name).map_err(|e| outside_tenant(&name, e))?;
            let file = roots.input_object(&file.to_string())?;
            let split = if source.format == Format::Graph {
                let head = read_head(&*store, &file, size).await?;
                split_of(source.format, &name, || Ok::<_, LoadError>(head))?
            } else {
                split_of(source.format, &name, || Ok::<_, LoadError>(Vec::new()))?
            };
            files.push(ActivityFile {
                split,
                location: file.to_string(),
                name,
                format: source.format,
                size,
            });
        }
    }
    Ok(LoadedTenant {
        config_path: std::path::PathBuf::from(shown),
        settings,
        tables,
        files,
    })
}

/// The keys below `listed` that `pattern` matches, relative to `folder`,
/// with their sizes; more than the cap is an error.
async fn matching(
    store: &dyn ObjectStore,
    folder: &ObjectUrl,
    listed: &ObjectUrl,
    pattern: &glob::Pattern,
    caps: FileCaps,
    shown: &str,
    index: usize,
) -> Result<Vec<(String, u64)>, LoadError> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let prefix = listed.path();
    let mut objects = store.list(Some(&prefix));
    let mut matched = Vec::new();
    while let Some(meta) = objects
        .try_next()
        .await
        .map_err(|e| unreadable(&listed.to_string(), &e))?
    {
        let key = meta.location.to_string();
        let Some(name) = folder.relative(&key) else {
            continue;
        };
        if pattern.matches_with(name, options) {
            matched.push((name.to_owned(), meta.size));
            if matched.len() > caps.max_glob_matches {
                return Err(LoadError::TooManyMatches {
                    path: shown.to_owned(),
                    index,
                    cap: caps.max_glob_matches,
                });
            }
        }
    }
    Ok(matched)
}

/// The leading segments of `pattern` without a glob character (all but
/// the last segment at most): the folder to list. `None` when the first
/// segment already holds one.
fn literal_prefix(pattern: &str) -> Option<&str> {
    let mut end = None;
    for (i, c) in pattern.char_indices() {
        if matches!(c, '*' | '?' | '[') {
            break;
        }
        if c == '/' {
            end = Some(i);
        }
    }
    end.map(|e| &pattern[..e])
}

/// The whole object, up to `cap` bytes.
async fn read_capped(
    store: &dyn ObjectStore,
    url: &ObjectUrl,
    cap: u64,
) -> Result<Vec<u8>, LoadError> {
    let shown = url.to_string();
    let meta = store
        .head(&url.path())
        .await
        .map_err(|e| unreadable(&shown, &e))?;
    if meta.size > cap {
        return Err(rapport_backend::data_roots::PathError::TooLarge { path: shown, cap }.into());
    }
    let bytes = store
        .get(&url.path())
        .await
        .map_err(|e| unreadable(&shown, &e))?
        .bytes()
        .await
        .map_err(|e| unreadable(&shown, &e))?;
    if bytes.len() as u64 > cap {
        return Err(rapport_backend::data_roots::PathError::TooLarge { path: shown, cap }.into());
    }
    Ok(bytes.to_vec())
}

/// The first bytes of an object, enough to tell how it may be cut.
async fn read_head(
    store: &dyn ObjectStore,
    url: &ObjectUrl,
    size: u64,
) -> Result<Vec<u8>, LoadError> {
    let end = size.min(HEAD_BYTES as u64);
    if end == 0 {
        return Ok(Vec::new());
    }
    let bytes = store
        .get_range(&url.path(), 0..end)
        .await
        .map_err(|e| unreadable(&url.to_string(), &e))?;
    Ok(bytes.to_vec())
}

fn unreadable(shown: &str, error: &object_store::Error) -> LoadError {
    LoadError::Unreadable {
        path: shown.to_owned(),
        source: io_error(error),
    }
}

fn outside_tenant(named: &str, _: rapport_backend::object_url::UrlError) -> LoadError {
    rapport_backend::data_roots::PathError::OutsideTenant {
        path: named.to_owned(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_folder_is_the_literal_part_of_the_pattern() {
        assert_eq!(literal_prefix("activity/*.jsonl"), Some("activity"));
        assert_eq!(literal_prefix("a/b/x.jsonl"), Some("a/b"));
        assert_eq!(literal_prefix("a/*/x.jsonl"), Some("a"));
        assert_eq!(literal_prefix("*.jsonl"), None);
        assert_eq!(literal_prefix("x.jsonl"), None);
    }
}
