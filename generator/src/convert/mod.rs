//! Writes a `jsonl` tenant again in another export format (`rapport
//! generate --format graph|mail`, and `--from` for an existing tenant): the
//! same emails and meetings as Graph resources, or as mbox + `.eml` +
//! `.ics` with recurring meetings as `RRULE` series. Run on either form,
//! Rapport gives the same results.
//!
//! Records the `jsonl` reader rejects are written as records the target
//! format rejects too, so every copy of every record has a counterpart.
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

use canonical::{read_file, Item};

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

/// The tenant's zone and the `[tenant]` table, from its `tenant.toml`.
struct Source {
    tenant_table: String,
    timezone: chrono_tz::Tz,
    tables: [String; 3],
    activity: Vec<PathBuf>,
}

fn read_source(config: &Path) -> Result<Source, ConvertError> {
    let text = std::fs::read_to_string(config).map_err(io(config))?;
    let bad = |message: &str| ConvertError::Tenant {
        path: config.display().to_string(),
        message: message.to_owned(),
    };
    let value: toml::Table = text.parse().map_err(|_| bad("not TOML"))?;
    let tenant = value
        .get("tenant")
        .and_then(|t| t.as_table())
        .ok_or_else(|| bad("no [tenant]"))?;
    let timezone = tenant
        .get("timezone")
        .and_then(|t| t.as_str())
        .unwrap_or("UTC")
        .parse()
        .map_err(|_| bad("unknown timezone"))?;
    let inputs = value
        .get("inputs")
        .and_then(|t| t.as_table())
        .ok_or_else(|| bad("no [inputs]"))?;
    let table = |name: &str| {
        inputs
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| bad(&format!("no inputs.{name}")))
    };
    let base = config.parent().unwrap_or(Path::new("."));
    let mut activity = Vec::new();
    for source in inputs
        .get("activity")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
    {
        if source.get("format").and_then(|f| f.as_str()) != Some("jsonl") {
            return Err(bad("only jsonl activity can be converted"));
        }
        let pattern = source
            .get("path")
            .and_then(|p| p.as_str())
            .ok_or_else(|| bad("activity without path"))?;
        let pattern = base.join(pattern).display().to_string();
        let mut matched: Vec<PathBuf> = glob::glob(&pattern)
            .map_err(|_| bad("invalid glob"))?
            .filter_map(Result::ok)
            .collect();
        matched.sort();
        activity.extend(matched);
    }
    let mut tenant_table = toml::Table::new();
    tenant_table.insert("tenant".to_owned(), toml::Value::Table(tenant.clone()));
    Ok(Source {
        tenant_table: toml::to_string(&tenant_table).map_err(|_| bad("unwritable [tenant]"))?,
        timezone,
        tables: [
            table("org_users")?,
            table("contacts")?,
            table("account_domains")?,
        ],
        activity,
    })
}

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
    let names = ["org_users.csv", "contacts.csv", "account_domains.csv"];
    for (table, name) in source.tables.iter().zip(names) {
        let from = base.join(table);
        let to = out.join(name);
        if std::fs::canonicalize(&from).ok() != std::fs::canonicalize(&to).ok() {
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
    }
    let mut mailboxes: Vec<(String, Vec<Item>)> = Vec::new();
    for path in &source.activity {
        let text = std::fs::read(path).map_err(io(path))?;
        let stem = path.file_stem().map_or_else(
            || "mailbox".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        mailboxes.push((stem, read_file(&text)));
    }
    let mut written = Writer {
        summary: ConvertSummary::default(),
    };
    let activity_toml = match format {
        TargetFormat::Graph => {
            for (i, (stem, items)) in mailboxes.iter().enumerate() {
                let text = graph_out::write_file(items, source.timezone, i % 3 == 2);
                written.file(&activity_dir.join(format!("{stem}.json")), text.as_bytes())?;
            }
            "[[inputs.activity]]\nformat = \"graph\"\npath = \"activity/*.json\"\n".to_owned()
        }
        TargetFormat::Mail => {
            let eml_dir = activity_dir.join("eml");
            std::fs::create_dir_all(&eml_dir).map_err(io(&eml_dir))?;
            let series =
                ics_out::SeriesPlan::new(mailboxes.iter().map(|(_, items)| items.as_slice()));
            for (stem, items) in &mailboxes {
                let (mbox, emls) = mail_out::write_mailbox(items, stem);
                written.file(&activity_dir.join(format!("{stem}.mbox")), &mbox)?;
                for (name, eml) in emls {
                    written.file(&eml_dir.join(name), &eml)?;
                }
                let ics = ics_out::write_calendar(items, source.timezone, &series);
                written.file(&activity_dir.join(format!("{stem}.ics")), ics.as_bytes())?;
            }
            "[[inputs.activity]]\nformat = \"mbox\"\npath = \"activity/*.mbox\"\n\n\
[[inputs.activity]]\nformat = \"mbox\"\npath = \"activity/eml/*.eml\"\n\n\
[[inputs.activity]]\nformat = \"ics\"\npath = \"activity/*.ics\"\n"
                .to_owned()
        }
    };
    let toml = format!(
        "{}\n[inputs]\norg_users = \"org_users.csv\"\ncontacts = \"contacts.csv\"\naccount_domains = \"account_domains.csv\"\n\n{activity_toml}",
        source.tenant_table
    );
    let config_out = out.join("tenant.toml");
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
