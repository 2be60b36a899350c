//! The service settings, layered by the `config` crate into one typed
//! struct that every subcommand reads: built-in defaults, then the settings
//! file (`--settings`, `RAPPORT_SETTINGS`: a `rapport.toml`), then
//! `RAPPORT_*` variables, then flags. Variables and flags are read by clap
//! (each flag names its variable), so they arrive here together as the
//! top layer; a flag wins over its variable.
//!
//! Secrets are given by file path (`amqp_password_file`,
//! `redis_password_file`, `tokens_file`, `token_file`), never by value in
//! a URL that could be logged. docs/operations.md lists every setting.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Every setting of the cluster's processes and clients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// RabbitMQ URL (`amqp://` or `amqps://`), best without a password.
    pub amqp_url: String,
    /// A file holding RabbitMQ's password, put into `amqp_url`.
    pub amqp_password_file: Option<PathBuf>,
    /// Redis URL (`redis://` or `rediss://`), best without a password.
    pub redis_url: String,
    /// A file holding Redis's password, put into `redis_url`.
    pub redis_password_file: Option<PathBuf>,
    /// CA certificates (PEM) that sign the servers' certificates on
    /// `amqps://` and `rediss://` (none: the system's roots).
    pub tls_ca_file: Option<PathBuf>,
    /// A client certificate (PEM) for servers that ask for one.
    pub tls_cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM, PKCS#8).
    pub tls_key_file: Option<PathBuf>,
    /// Prefix of every queue, exchange and Redis key.
    pub namespace: String,
    /// Staging area shared by the coordinator and every worker.
    pub staging: String,
    /// Configs and inputs are read only below these (required off loopback).
    pub input_roots: Vec<PathBuf>,
    /// Outputs are written only below this (required off loopback).
    pub output_root: Option<PathBuf>,
    /// The coordinator's HTTP API address.
    pub listen: String,
    /// The coordinator's tokens file (`ROLE TOKEN` lines).
    pub tokens_file: Option<PathBuf>,
    /// A run with no job completing for this many seconds fails.
    pub stall_seconds: u64,
    /// Records of ended runs are kept this many days.
    pub retention_days: u64,
    /// At most this many ended runs' records are kept.
    pub retention_runs: usize,
    /// Succeeded runs' outputs are kept here, a folder per tenant and run
    /// (none: `OUTPUT_ROOT/rapport-history` when an output root is set,
    /// else no history).
    pub history_root: Option<PathBuf>,
    /// Runs kept per tenant in the history.
    pub history_keep: usize,
    /// The largest tenant.toml or table the coordinator reads, in bytes.
    pub max_config_bytes: u64,
    /// The most files one activity glob may match.
    pub max_glob_matches: usize,
    /// How long loading a tenant may take, in seconds.
    pub read_timeout_seconds: u64,
    /// Runs the coordinator executes at once, at most.
    pub concurrent_runs: usize,
    /// Jobs of one run in the queue or in workers' hands, at most.
    pub jobs_in_flight: usize,
    /// Jobs a worker runs at once.
    pub concurrency: usize,
    /// A worker's `/metrics` address (none: no listener).
    pub metrics_listen: Option<String>,
    /// The coordinator's URL, for the clients.
    pub coordinator: String,
    /// A file holding the clients' bearer token (else `RAPPORT_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// `text` or `json` logs on standard error.
    pub log_format: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            amqp_password_file: None,
            redis_url: "redis://127.0.0.1:6379/".to_owned(),
            redis_password_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            namespace: "rapport".to_owned(),
            staging: "rapport-staging".to_owned(),
            input_roots: Vec::new(),
            output_root: None,
            listen: "127.0.0.1:7070".to_owned(),
            tokens_file: None,
            stall_seconds: 900,
            retention_days: 30,
            retention_runs: 1000,
            history_root: None,
            history_keep: 12,
            max_config_bytes: 256 * 1024 * 1024,
            max_glob_matches: 100_000,
            read_timeout_seconds: 10,
            concurrent_runs: rapport_coordinator::service::CONCURRENT_RUNS,
            jobs_in_flight: rapport_coordinator::driver::JOBS_IN_FLIGHT,
            concurrency: 1,
            metrics_listen: None,
            coordinator: "http://127.0.0.1:7070".to_owned(),
            token_file: None,
            log_format: "text".to_owned(),
        }
    }
}

/// Settings given by a variable or a flag: the top layer.
#[derive(Debug, Default)]
pub struct Given(Vec<(&'static str, config::Value)>);

impl Given {
    /// Sets `key` when `value` was given.
    pub fn put<T: Into<config::Value>>(&mut self, key: &'static str, value: Option<T>) {
        if let Some(v) = value {
            self.0.push((key, v.into()));
        }
    }

    /// Sets `key` to a list when one was given.
    pub fn put_paths(&mut self, key: &'static str, paths: &[PathBuf]) {
        if !paths.is_empty() {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            self.0.push((key, list.into()));
        }
    }
}

/// Settings that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("settings: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Defaults, then `file` (when given), then `given`.
    pub fn layered(file: Option<&Path>, given: Given) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(
                config::File::from(file)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        for (key, value) in given.0 {
            builder = builder
                .set_override(key, value)
                .map_err(|e| SettingsError(format!("{key}: {e}")))?;
        }
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(SettingsError(format!(
                "log_format {:?}: expected text or json",
                self.log_format
            )));
        }
        if self.concurrent_runs == 0 || self.jobs_in_flight == 0 {
            return Err(SettingsError(
                "concurrent_runs and jobs_in_flight: must be at least 1".to_owned(),
            ));
        }
        if self.namespace.is_empty() {
            return Err(SettingsError("namespace: must not be empty".to_owned()));
        }
        Ok(())
    }

    /// The names of every setting, as in `rapport.toml`.
    #[cfg(test)]
    pub fn names() -> Vec<String> {
        match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// `url` with the password read from `file` put in (the file's first line,
/// percent-encoded). Without a file, `url` as it is.
pub fn url_with_password(url: &str, file: Option<&Path>) -> Result<String, SettingsError> {
    let Some(file) = file else {
        return Ok(url.to_owned());
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| SettingsError(format!("{}: {e}", file.display())))?;
    let password = text.lines().next().unwrap_or_default();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| SettingsError("a server URL has no scheme".to_owned()))?;
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (userinfo.split(':').next().unwrap_or_default(), host),
        None => ("", authority),
    };
    Ok(format!(
        "{scheme}://{user}:{}@{host}{tail}",
        percent_encode(password)
    ))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_defaults_then_file_then_given() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(
            &file,
            "namespace = \"from-file\"\nlisten = \"0.0.0.0:7070\"\ninput_roots = [\"/data\"]\n",
        )
        .expect("file");
        let mut given = Given::default();
        given.put("namespace", Some("from-flag"));
        let s = Settings::layered(Some(&file), given).expect("settings");
        assert_eq!(s.namespace, "from-flag");
        assert_eq!(s.listen, "0.0.0.0:7070");
        assert_eq!(s.input_roots, vec![PathBuf::from("/data")]);
        assert_eq!(s.stall_seconds, 900);
        assert_eq!(
            Settings::layered(None, Given::default()).expect("defaults"),
            Settings::default()
        );
    }

    #[test]
    fn an_unknown_or_bad_setting_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(&file, "namespce = \"typo\"\n").expect("file");
        let err = Settings::layered(Some(&file), Given::default()).expect_err("refused");
        assert!(err.to_string().contains("namespce"), "{err}");
        let mut given = Given::default();
        given.put("log_format", Some("xml"));
        let err = Settings::layered(None, given).expect_err("refused");
        assert!(err.to_string().contains("log_format"), "{err}");
    }

    #[test]
    fn a_password_file_goes_into_the_url_encoded() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("password");
        std::fs::write(&file, "p@ss:w/rd\n").expect("file");
        assert_eq!(
            url_with_password("amqp://rapport@rabbit:5672/%2f", Some(&file)).expect("url"),
            "amqp://rapport:p%40ss%3Aw%2Frd@rabbit:5672/%2f"
        );
        assert_eq!(
            url_with_password("rediss://redis:6380/", Some(&file)).expect("url"),
            "rediss://:p%40ss%3Aw%2Frd@redis:6380/"
        );
        assert_eq!(
            url_with_password("redis://r/", None).expect("url"),
            "redis://r/"
        );
    }
}

/// Every setting has its place in the Kubernetes manifests (in the
/// ConfigMap's `rapport.toml`, or as a variable of a Deployment) and a row
/// in docs/operations.md's table.
#[cfg(test)]
mod placed {
    use super::Settings;
    use std::path::Path;

    fn text_under(dir: &Path, all: &mut String) {
        for entry in std::fs::read_dir(dir).expect("deploy folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                text_under(&path, all);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                all.push_str(&text);
                all.push('\n');
            }
        }
    }

    #[test]
    fn every_setting_is_in_the_manifests_and_the_operations_guide() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut manifests = String::new();
        text_under(&root.join("deploy/base"), &mut manifests);
        text_under(&root.join("deploy/overlays"), &mut manifests);
        let guide = std::fs::read_to_string(root.join("docs/operations.md")).expect("guide");
        for name in Settings::names() {
            let variable = format!("RAPPORT_{}", name.to_uppercase());
            let in_toml = manifests.lines().any(|l| {
                l.trim_start_matches([' ', '#'])
                    .starts_with(&format!("{name} ="))
            });
            assert!(
                in_toml || manifests.contains(&variable),
                "setting {name} is not in deploy/ (as `{name} =` or {variable})"
            );
            assert!(
                guide.contains(&format!("| `{name}` |")),
                "setting {name} has no row in docs/operations.md"
            );
        }
    }
}
