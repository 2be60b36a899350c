//! Object storage by URL: `s3://BUCKET/KEY` (Amazon S3 and S3-compatible
//! stores) and `az://CONTAINER/KEY` (Azure Blob storage), where staging,
//! inputs and outputs may live instead of a folder.
//!
//! A URL names the bucket and a key; how to reach the store (endpoint,
//! region, credentials) comes from [`StoreOptions`]: the `AWS_*` and
//! `AZURE_*` environment variables by default (object_store's
//! configuration keys, such as `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
//! `AZURE_STORAGE_ACCOUNT_NAME`), never from the URL, so no secret is ever
//! part of a URL that is stored in a run record or shown.
//!
//! Keys are checked like paths: no empty, `.` or `..` segment, so a URL
//! below a root cannot climb out of it. Errors name the URL and what went
//! wrong, never the endpoint or a credential; the store's own answer is
//! logged at debug level.

use std::fmt;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::BackendError;

/// The stores a URL may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `s3://`: Amazon S3 or an S3-compatible store.
    S3,
    /// `az://`: Azure Blob storage.
    Azure,
}

impl Scheme {
    fn prefix(self) -> &'static str {
        match self {
            Scheme::S3 => "s3://",
            Scheme::Azure => "az://",
        }
    }
}

/// True when `s` is an object-storage URL (it may still be invalid).
pub fn is_object_url(s: &str) -> bool {
    s.starts_with("s3://") || s.starts_with("az://")
}

/// A checked object-storage URL: scheme, bucket (or container) and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    scheme: Scheme,
    bucket: String,
    /// Segments joined by `/`, without a leading or trailing one; may be empty.
    key: String,
}

/// Why a URL was refused.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong.
    pub reason: String,
}

impl ObjectUrl {
    /// Parses `s3://BUCKET/KEY` or `az://CONTAINER/KEY`.
    pub fn parse(url: &str) -> Result<ObjectUrl, UrlError> {
        let refuse = |reason: &str| UrlError {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("s3://") {
            (Scheme::S3, rest)
        } else if let Some(rest) = url.strip_prefix("az://") {
            (Scheme::Azure, rest)
        } else {
            return Err(refuse("not an object-storage URL (s3:// or az://)"));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = !bucket.is_empty()
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !bucket_ok {
            return Err(refuse(
                "the bucket (container) must be letters, digits, '-', '.' or '_'",
            ));
        }
        let key = key.strip_suffix('/').unwrap_or(key);
        if !key.is_empty() {
            check_key(key).map_err(|reason| refuse(&reason))?;
        }
        Ok(ObjectUrl {
            scheme,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The key below the bucket (no leading `/`; empty for the bucket).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key as object_store's path.
    pub fn path(&self) -> ObjectPath {
        ObjectPath::from(self.key.as_str())
    }

    /// This URL with `relative` (a `/`-separated path without `..`, `.`
    /// or empty segments) appended.
    pub fn join(&self, relative: &str) -> Result<ObjectUrl, UrlError> {
        let relative = relative.trim_start_matches("./");
        check_key(relative).map_err(|reason| UrlError {
            url: relative.to_owned(),
            reason,
        })?;
        let key = if self.key.is_empty() {
            relative.to_owned()
        } else {
            format!("{}/{relative}", self.key)
        };
        Ok(ObjectUrl {
            key,
            ..self.clone()
        })
    }

    /// The URL one segment up (the bucket's stays the bucket).
    pub fn parent(&self) -> ObjectUrl {
        let key = self.key.rsplit_once('/').map_or("", |(up, _)| up);
        ObjectUrl {
            key: key.to_owned(),
            ..self.clone()
        }
    }

    /// The last segment of the key (empty for the bucket).
    pub fn name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or("")
    }

    /// True when this URL is `root` or lies below it.
    pub fn is_below(&self, root: &ObjectUrl) -> bool {
        self.scheme == root.scheme
            && self.bucket == root.bucket
            && (root.key.is_empty()
                || self.key == root.key
                || self
                    .key
                    .strip_prefix(&root.key)
                    .is_some_and(|rest| rest.starts_with('/')))
    }

    /// `key` relative to this URL's key, when it lies below it.
    pub fn relative<'a>(&self, key: &'a str) -> Option<&'a str> {
        if self.key.is_empty() {
            return Some(key);
        }
        key.strip_prefix(&self.key)?.strip_prefix('/')
    }
}

impl fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.scheme.prefix(), self.bucket)?;
        if !self.key.is_empty() {
            write!(f, "/{}", self.key)?;
        }
        Ok(())
    }
}

/// A key's segments: none empty, `.` or `..`, and no backslash or control
/// character.
fn check_key(key: &str) -> Result<(), String> {
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err("a key may not hold an empty, '.' or '..' segment".to_owned());
        }
        if segment.chars().any(|c| c == '\\' || c.is_control()) {
            return Err("a key may not hold a backslash or a control character".to_owned());
        }
    }
    Ok(())
}

/// How to reach the stores: object_store's configuration keys and values
/// (`aws_endpoint`, `aws_access_key_id`, `azure_storage_account_name`, …).
/// By default they are read from the environment when a store is opened;
/// tests and tools give them. Debug output shows the keys, never a value.
#[derive(Clone, Default)]
pub struct StoreOptions {
    given: Option<Arc<Vec<(String, String)>>>,
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.given {
            None => f.write_str("StoreOptions(from the environment)"),
            Some(pairs) => f
                .debug_list()
                .entries(pairs.iter().map(|(k, _)| k))
                .finish(),
        }
    }
}

impl StoreOptions {
    /// The `AWS_*` and `AZURE_*` environment variables, read at each open.
    pub fn from_env() -> StoreOptions {
        StoreOptions::default()
    }

    /// Exactly these options, lower-case keys; the environment is not read.
    pub fn given(pairs: Vec<(String, String)>) -> StoreOptions {
        StoreOptions {
            given: Some(Arc::new(pairs)),
        }
    }

    /// The pairs, and whether an unknown key is an error (given) or
    /// skipped (the environment holds variables for other tools too).
    fn pairs(&self) -> (Vec<(String, String)>, bool) {
        match &self.given {
            Some(pairs) => (pairs.as_ref().clone(), true),
            None => (
                std::env::vars()
                    .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("AZURE_"))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                false,
            ),
        }
    }
}

/// Opens the store holding `url`'s bucket.
pub fn open_store(
    url: &ObjectUrl,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, BackendError> {
    crate::tls::install_crypto_provider();
    let (pairs, strict) = options.pairs();
    let unknown = |key: &str| {
        BackendError::Store(format!(
            "{url}: unknown object-store option {key} (see docs/operations.md, Object storage)"
        ))
    };
    let built = match url.scheme {
        Scheme::S3 => {
            let keys: Vec<(AmazonS3ConfigKey, &str)> =
                keys_of(&pairs, "aws_", strict).map_err(|k| unknown(&k))?;
            keys.into_iter()
                .fold(
                    AmazonS3Builder::new().with_bucket_name(&url.bucket),
                    |builder, (key, value)| builder.with_config(key, value),
                )
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        Scheme::Azure => {
            let keys: Vec<(AzureConfigKey, &str)> =
                keys_of(&pairs, "azure_", strict).map_err(|k| unknown(&k))?;
            keys.into_iter()
                .fold(
                    MicrosoftAzureBuilder::new().with_container_name(&url.bucket),
                    |builder, (key, value)| builder.with_config(key, value),
                )
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
    };
    built.map_err(|e| {
        tracing::debug!(error = %e, "object store configuration refused");
        BackendError::Store(format!(
            "{url}: the object-store options are incomplete or invalid ({})",
            describe(&e)
        ))
    })
}

/// The options whose keys start with `prefix`, parsed as the store's
/// keys; an unknown one is skipped, or when `strict` returned as the error.
fn keys_of<'a, K: std::str::FromStr>(
    pairs: &'a [(String, String)],
    prefix: &str,
    strict: bool,
) -> Result<Vec<(K, &'a str)>, String> {
    let mut keys = Vec::new();
    for (key, value) in pairs.iter().filter(|(k, _)| k.starts_with(prefix)) {
        match key.parse::<K>() {
            Ok(parsed) => keys.push((parsed, value.as_str())),
            Err(_) if strict => return Err(key.clone()),
            Err(_) => {}
        }
    }
    Ok(keys)
}

/// What went wrong, in words that hold no endpoint, key or credential;
/// the full error is logged at debug level.
pub fn describe(error: &object_store::Error) -> String {
    tracing::debug!(error = %error, "object store");
    use object_store::Error as E;
    match error {
        E::NotFound { .. } => "not found".to_owned(),
        E::PermissionDenied { .. } => "access denied".to_owned(),
        E::Unauthenticated { .. } => "not authenticated (check the credentials)".to_owned(),
        E::AlreadyExists { .. } => "already exists".to_owned(),
        E::Precondition { .. } => "changed meanwhile (precondition failed)".to_owned(),
        E::InvalidPath { .. } => "invalid key".to_owned(),
        E::UnknownConfigurationKey { key, .. } => format!("unknown option {key}"),
        E::NotSupported { .. } | E::NotImplemented { .. } => {
            "not supported by this store".to_owned()
        }
        other => match io_kind(other) {
            Some(kind) => format!("request failed: {kind}"),
            None => "request failed (the store's answer is logged at debug level)".to_owned(),
        },
    }
}

/// The kind of the first I/O error in `error`'s chain (connection
/// refused, timed out, …): what failed, without where.
fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = error.source();
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        next = e.source();
    }
    None
}

/// The store's error as an I/O error: [`describe`]'s words, of kind
/// `NotFound` when the object is not there.
pub fn io_error(error: &object_store::Error) -> std::io::Error {
    let kind = match error {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, describe(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        for url in ["s3://b/tenants/acme", "az://c", "s3://b.x-y_z/a/b.jsonl"] {
            assert_eq!(ObjectUrl::parse(url).expect("valid").to_string(), url);
        }
        let u = ObjectUrl::parse("s3://b/tenants/acme/").expect("valid");
        assert_eq!(u.key(), "tenants/acme");
        assert_eq!(u.name(), "acme");
        assert_eq!(u.parent().to_string(), "s3://b/tenants");
        assert_eq!(u.parent().parent().to_string(), "s3://b");
    }

    #[test]
    fn climbing_and_odd_urls_are_refused() {
        for url in [
            "s3://",
            "s3:///key",
            "s3://b/a/../x",
            "s3://b/a//x",
            "s3://b/./x",
            "az://c/a\\b",
            "gs://b/x",
            "s3://b?x/y",
            "/tmp/x",
        ] {
            assert!(ObjectUrl::parse(url).is_err(), "{url}");
        }
        let root = ObjectUrl::parse("s3://b/t").expect("valid");
        assert!(root.join("../x").is_err());
        assert!(root.join("a/../../x").is_err());
        assert!(root.join("/x").is_err());
        assert_eq!(
            root.join("./data/x.jsonl").expect("valid").to_string(),
            "s3://b/t/data/x.jsonl"
        );
    }

    #[test]
    fn below_means_the_root_or_a_key_under_it() {
        let root = ObjectUrl::parse("s3://b/tenants").expect("valid");
        let yes = ["s3://b/tenants", "s3://b/tenants/a/x"];
        let no = ["s3://b/tenants2/x", "s3://c/tenants/x", "az://b/tenants/x"];
        for url in yes {
            assert!(
                ObjectUrl::parse(url).expect("valid").is_below(&root),
                "{url}"
            );
        }
        for url in no {
            assert!(
                !ObjectUrl::parse(url).expect("valid").is_below(&root),
                "{url}"
            );
        }
        let bucket = ObjectUrl::parse("s3://b").expect("valid");
        assert!(ObjectUrl::parse("s3://b/x")
            .expect("valid")
            .is_below(&bucket));
        assert_eq!(root.relative("tenants/a/x"), Some("a/x"));
        assert_eq!(root.relative("tenants2/x"), None);
    }

    #[test]
    fn options_never_show_a_value() {
        let options = StoreOptions::given(vec![(
            "aws_secret_access_key".to_owned(),
            "very-secret".to_owned(),
        )]);
        let shown = format!("{options:?}");
        assert!(shown.contains("aws_secret_access_key") && !shown.contains("very-secret"));
    }

    #[test]
    fn an_unknown_given_option_is_refused_by_name() {
        let url = ObjectUrl::parse("s3://b/x").expect("valid");
        let options = StoreOptions::given(vec![("aws_no_such_thing".to_owned(), "1".to_owned())]);
        let error = open_store(&url, &options).expect_err("refused").to_string();
        assert!(error.contains("aws_no_such_thing"), "{error}");
    }

    #[test]
    fn given_options_open_a_store_without_the_network() {
        let url = ObjectUrl::parse("az://c/x").expect("valid");
        let options = StoreOptions::given(vec![
            ("azure_storage_account_name".to_owned(), "acct".to_owned()),
            ("azure_storage_account_key".to_owned(), "a2V5".to_owned()),
        ]);
        assert!(open_store(&url, &options).is_ok());
    }
}
