//! Writes a `jsonl` tenant again in another export format (`rapport
//! generate --format graph|mail`, and `--from` for an existing tenant): the
//! same emails and meetings as Graph resources, or as mbox + `.eml` +
//! `.ics` with recurring meetings as `RRULE` series. Run on either form,
//! Rapport gives the same results.
//!
//! Records the `jsonl` reader rejects are written as records the target
//! format rejects too, so every copy of every record has a counterpart.
//! Each mailbox's copies (the `mailbox` field) go to files of their own.
//!
//! # Layout
//! - [`canonical`] — the `jsonl` records, read.
//! - [`graph_out`] — Graph resources.
//! - [`mail_out`] — mbox and `.eml` messages.
//! - [`ics_out`] — iCalendar, with series.

pub mod canonical;
pub mod graph_out;
pub mod ics_out;
pub mod mail_out;

use std::path::{Path, PathBuf};

use canonical::{by_mailbox, read_file, Item};
use rapport_common::tenant::{parse_toml, Format};

/// An export format other than `jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetFormat {
    /// Graph resources (`format = "graph"`).
    Graph,
    /// mbox, `.eml` and `.ics` (`format = "mbox"` and `"ics"`).
    Mail,
}

/// A conversion that failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The source tenant is not one this converter reads.
    #[error("{path}: {message}")]
    Tenant {
        /// The configuration.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ConvertError + '_ {
    move |source| ConvertError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What the converter needs of a `tenant.toml`, read by the same parser
/// as `rapport run`: the whole configuration (to write it back with new
/// inputs), the zone, the three tables and the activity files.
struct Source {
    config: toml::Table,
    timezone: chrono_tz::Tz,
    tables: [String; 3],
    activity: Vec<PathBuf>,
}

fn read_source(config: &Path) -> Result<Source, ConvertError> {
    let text = std::fs::read_to_string(config).map_err(io(config))?;
    let bad = |message: String| ConvertError::Tenant {
        path: config.display().to_string(),
        message,
    };
    let raw = parse_toml(&text).map_err(|e| bad(e.to_string()))?;
    let timezone = raw
        .tenant
        .timezone
        .as_deref()
        .unwrap_or("UTC")
        .parse()
        .map_err(|_| bad("tenant.timezone: unknown time zone".to_owned()))?;
    let base = config.parent().unwrap_or(Path::new("."));
    let mut activity = Vec::new();
    for source in &raw.inputs.activity {
        if source.format != Format::Jsonl {
            return Err(bad("only jsonl activity can be converted".to_owned()));
        }
        let pattern = base.join(&source.path).display().to_string();
        let mut matched: Vec<PathBuf> = glob::glob(&pattern)
            .map_err(|e| bad(format!("invalid glob: {e}")))?
            .filter_map(Result::ok)
            .collect();
        matched.sort();
        activity.extend(matched);
    }
    Ok(Source {
        config: text.parse().map_err(|_| bad("not TOML".to_owned()))?,
        timezone,
        tables: [
            raw.inputs.org_users,
            raw.inputs.contacts,
            raw.inputs.account_domains,
        ],
        activity,
    })
}

/// The source configuration with its `[inputs]` replaced: the copied
/// tables, and `activity` of the given (format, path) pairs.
fn converted_config(mut config: toml::Table, activity: &[(&str, &str)]) -> toml::Table {
    let mut inputs = toml::Table::new();
    for (key, file) in TABLE_KEYS.iter().zip(TABLE_FILES) {
        inputs.insert((*key).to_owned(), file.into());
    }
    let sources = activity
        .iter()
        .map(|(format, path)| {
            let mut source = toml::Table::new();
            source.insert("format".to_owned(), (*format).into());
            source.insert("path".to_owned(), (*path).into());
            toml::Value::Table(source)
        })
        .collect::<Vec<_>>();
    inputs.insert("activity".to_owned(), toml::Value::Array(sources));
    config.insert("inputs".to_owned(), toml::Value::Table(inputs));
    config
}

const TABLE_KEYS: [&str; 3] = ["org_users", "contacts", "account_domains"];
const TABLE_FILES: [&str; 3] = ["org_users.csv", "contacts.csv", "account_domains.csv"];

/// What a conversion wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Files written under `activity/`.
    pub files: usize,
    /// Bytes written under `activity/`.
    pub bytes: u64,
}

/// Writes the `jsonl` tenant configured at `config` into `out` in `format`:
/// its tables, a `tenant.toml` naming the new files, and `activity/`.
pub fn convert_tenant(
    config: &Path,
    out: &Path,
    format: TargetFormat,
) -> Result<ConvertSummary, ConvertError> {
    let source = read_source(config)?;
    let base = config.parent().unwrap_or(Path::new("."));
    let activity_dir = out.join("activity");
    std::fs::create_dir_all(&activity_dir).map_err(io(&activity_dir))?;
    for (table, name) in source.tables.iter().zip(TABLE_FILES) {
        let from = base.join(table);
        let to = out.join(name);
        if std::fs::canonicalize(&from).ok() != std::fs::canonicalize(&to).ok() {
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
    }
    // One output per mailbox: each keeps its own copy of every record (a
    // series held by three mailboxes is three series, each with the
    // responses its mailbox knows), as real exports do.
    let mut mailboxes: Vec<(String, Vec<Item>)> = Vec::new();
    for path in &source.activity {
        let text = std::fs::read(path).map_err(io(path))?;
        let stem = path.file_stem().map_or_else(
            || "mailbox".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        for (k, items) in by_mailbox(read_file(&text)).into_iter().enumerate() {
            mailboxes.push((format!("{stem}-{k:03}"), items));
        }
    }
    let mut written = Writer {
        summary: ConvertSummary::default(),
    };
    let activity = match format {
        TargetFormat::Graph => {
            for (i, (stem, items)) in mailboxes.iter().enumerate() {
                let text = graph_out::write_file(items, source.timezone, i % 3 == 2);
                written.file(&activity_dir.join(format!("{stem}.json")), text.as_bytes())?;
            }
            vec![("graph", "activity/*.json")]
        }
        TargetFormat::Mail => {
            let eml_dir = activity_dir.join("eml");
            std::fs::create_dir_all(&eml_dir).map_err(io(&eml_dir))?;
            let series =
                ics_out::SeriesPlan::new(mailboxes.iter().map(|(_, items)| items.as_slice()));
            let mut num_emls = 0;
            for (stem, items) in &mailboxes {
                let (mbox, emls) = mail_out::write_mailbox(items, stem);
                written.file(&activity_dir.join(format!("{stem}.mbox")), &mbox)?;
                num_emls += emls.len();
                for (name, eml) in emls {
                    written.file(&eml_dir.join(name), &eml)?;
                }
                let ics = ics_out::write_calendar(items, source.timezone, &series);
                written.file(&activity_dir.join(format!("{stem}.ics")), ics.as_bytes())?;
            }
            let mut sources = vec![("mbox", "activity/*.mbox"), ("ics", "activity/*.ics")];
            // A pattern that matches no file is refused: name .eml files only
            // when a mailbox was big enough to have one.
            if num_emls > 0 {
                sources.insert(1, ("mbox", "activity/eml/*.eml"));
            }
            sources
        }
    };
    let config_out = out.join("tenant.toml");
    let toml = toml::to_string(&converted_config(source.config, &activity)).map_err(|e| {
        ConvertError::Tenant {
            path: config_out.display().to_string(),
            message: e.to_string(),
        }
    })?;
    std::fs::write(&config_out, toml).map_err(io(&config_out))?;
    Ok(written.summary)
}

struct Writer {
    summary: ConvertSummary,
}

impl Writer {
    fn file(&mut self, path: &Path, bytes: &[u8]) -> Result<(), ConvertError> {
        std::fs::write(path, bytes).map_err(io(path))?;
        self.summary.files += 1;
        self.summary.bytes += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One jsonl file holding three mailboxes' copies of a weekly series,
    /// each copy with its mailbox's own responses.
    fn series_tenant(dir: &Path) -> PathBuf {
        let ties = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/ties");
        let mut lines = String::new();
        for mailbox in ["anna", "zed", "carl"] {
            let text = std::fs::read_to_string(ties.join(format!("activity/{mailbox}.jsonl")))
                .expect("fixture");
            for line in text.lines().filter(|l| l.contains("\"series_id\"")) {
                lines.push_str(line);
                lines.push('\n');
            }
        }
        std::fs::create_dir_all(dir.join("activity")).expect("dir");
        std::fs::write(dir.join("activity/all.jsonl"), lines).expect("written");
        for file in [
            "tenant.toml",
            "org_users.csv",
            "contacts.csv",
            "account_domains.csv",
        ] {
            std::fs::copy(ties.join(file), dir.join(file)).expect("copied");
        }
        dir.join("tenant.toml")
    }

    fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
        let mut found: Vec<String> = std::fs::read_dir(dir.join("activity"))
            .expect("activity")
            .flatten()
            .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|text| text.contains(needle)))
            .map(|e| std::fs::read_to_string(e.path()).expect("text"))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_series_held_by_three_mailboxes_is_three_series_in_every_format() {
        let dir = tempfile::tempdir().expect("dir");
        let config = series_tenant(&dir.path().join("jsonl"));
        let mail = dir.path().join("mail");
        convert_tenant(&config, &mail, TargetFormat::Mail).expect("converted");
        let calendars = files_holding(&mail, "UID:weekly-s");
        assert_eq!(calendars.len(), 3, "one recurring series per mailbox");
        let unfolded: Vec<String> = calendars.iter().map(|c| c.replace("\r\n ", "")).collect();
        let declines = unfolded
            .iter()
            .filter(|c| c.contains("PARTSTAT=DECLINED;CN=\"zed, guest\""))
            .count();
        assert_eq!(declines, 1, "Zed's decline, in Zed's copy only");
        let graph = dir.path().join("graph");
        convert_tenant(&config, &graph, TargetFormat::Graph).expect("converted");
        for uid in ["wk-0", "wk-1", "wk-2"] {
            assert_eq!(
                files_holding(&graph, &format!("\"{uid}\"")).len(),
                3,
                "{uid}: a copy per mailbox"
            );
        }
    }
}
