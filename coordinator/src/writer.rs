//! Assembles a finished run's outputs from its checked hand-offs, then
//! commits them as a set: `account_engagement.csv` (the scored lines of
//! every account, in account order; with `.parquet` and `.jsonl` beside it
//! when asked for), `office_users.csv`, `rejects.jsonl`
//! (sorted by file and offset, so independent of the plan) and
//! `run_report.json`.
//!
//! The set is written into a hidden folder beside the outputs, fsynced,
//! then renamed into place with `run_report.json` last, after the previous
//! report was removed: a folder holding a `run_report.json` holds the whole
//! set of the run it names, never files of two runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use rapport_backend::handoff::{fetch_for, read_slot_for, HandoffError};
use rapport_backend::layout::{self, Consumer};
use rapport_backend::{BackendError, Backends};
use rapport_common::counters::RunCounters;
use rapport_common::plan::{Job, Phase, RunContext};
use rapport_common::reduce::{AccountLines, ScoredPartition};
use rapport_common::reject::RejectLine;
use rapport_common::report::RunReport;
use rapport_common::results::read_results;
use rapport_common::row::HEADER;
use rapport_common::tables::office_users_csv;

use crate::output_formats::{to_jsonl, to_parquet, OutputFormat};
use crate::tenant_loader::LoadedTenant;

/// The report's file name; written last, it marks a complete set.
pub const REPORT_FILE: &str = "run_report.json";

/// An output that cannot be assembled or written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The store or staging failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A part handed over by a done job is lost.
    #[error("{error}")]
    Lost {
        /// The job that produced it.
        producer: Job,
        /// What was lost.
        error: String,
    },
    /// The output folder breaks a rule of the data roots.
    #[error(transparent)]
    Path(#[from] rapport_backend::data_roots::PathError),
    /// An extra output format could not be made.
    #[error("cannot write {format}: {message}")]
    Format {
        /// The format.
        format: &'static str,
        /// Why.
        message: String,
    },
    /// The output folder cannot be written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<HandoffError> for WriteError {
    fn from(e: HandoffError) -> WriteError {
        match e {
            HandoffError::Lost { producer, .. } => WriteError::Lost {
                producer,
                error: e.to_string(),
            },
            HandoffError::Backend(e) => WriteError::Backend(e),
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    producer: Job,
    name: &str,
    bytes: &[u8],
) -> Result<T, WriteError> {
    layout::decode(name, bytes).map_err(|e| WriteError::Lost {
        producer,
        error: e.to_string(),
    })
}

/// A run's output files, assembled, and its report (timings unset).
pub struct Outputs {
    /// (file name, bytes), the report excluded.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// The report.
    pub report: RunReport,
}

/// Assembles the CSVs, rejects and report from the run's hand-offs.
pub async fn assemble(
    backends: &Backends,
    tenant: &LoadedTenant,
    ctx: &RunContext,
    mode: &str,
    formats: &[OutputFormat],
) -> Result<Outputs, WriteError> {
    let run = ctx.run_id.as_str();
    let parts = fetch_for(backends, ctx, Consumer::Writer).await?;
    // Score jobs hand over their accounts' lines, ingest jobs their rejects.
    let mut accounts: Vec<AccountLines> = Vec::new();
    let mut suppressed = 0;
    let mut rejects: Vec<RejectLine> = Vec::new();
    for (producer, blob, bytes) in &parts {
        match producer.phase {
            Phase::Score => {
                let scored: ScoredPartition = decode(*producer, &blob.path, bytes)?;
                accounts.extend(scored.accounts);
                suppressed += scored.suppressed;
            }
            _ => rejects.extend(decode::<Vec<RejectLine>>(*producer, &blob.path, bytes)?),
        }
    }
    accounts.sort_unstable_by_key(|(account, _)| *account);
    let mut csv = String::from(HEADER);
    csv.push('\n');
    accounts.iter().for_each(|(_, lines)| csv.push_str(lines));
    let rows = csv.lines().count() as u64 - 1;
    rejects.sort();
    let mut reject_lines = String::new();
    for r in &rejects {
        reject_lines.push_str(&serde_json::to_string(r).expect("a reject always serialises"));
        reject_lines.push('\n');
    }

    let slot = layout::COUNTERS_SLOT;
    let mut counters = RunCounters::default();
    for (producer, blob) in read_slot_for(backends, ctx, slot).await? {
        counters.merge(&decode(
            producer,
            &format!("{slot}/{}", producer.id()),
            &blob,
        )?);
    }
    let mut report = RunReport::new(
        run,
        mode,
        &ctx.settings,
        &counters,
        accounts.len() as u64,
        rows,
    );
    report.suppressed_rows = suppressed;
    let mut files = Vec::new();
    if formats.iter().any(|f| *f != OutputFormat::Csv) {
        let typed = read_results(csv.as_bytes()).map_err(|e| WriteError::Format {
            format: "the typed outputs",
            message: e.to_string(),
        })?;
        for format in formats {
            match format {
                OutputFormat::Csv => {}
                OutputFormat::Parquet => {
                    let bytes = to_parquet(&typed).map_err(|e| WriteError::Format {
                        format: format.file_name(),
                        message: e.to_string(),
                    })?;
                    files.push((format.file_name(), bytes));
                }
                OutputFormat::Jsonl => files.push((format.file_name(), to_jsonl(&typed))),
            }
        }
    }
    files.push((OutputFormat::Csv.file_name(), csv.into_bytes()));
    files.push((
        "office_users.csv",
        office_users_csv(&tenant.tables.office_users).into_bytes(),
    ));
    files.push(("rejects.jsonl", reject_lines.into_bytes()));
    Ok(Outputs { files, report })
}

/// Commits `files` and `report` into `out` as one set (see the module doc).
pub async fn commit(
    out: &Path,
    files: Vec<(&'static str, Vec<u8>)>,
    report: &RunReport,
) -> Result<(), WriteError> {
    let mut json = serde_json::to_string_pretty(report).expect("a report always serialises");
    json.push('\n');
    let (out, run) = (out.to_owned(), report.run_id.clone());
    tokio::task::spawn_blocking(move || commit_blocking(&out, &run, files, json.into_bytes()))
        .await
        .map_err(|e| WriteError::Io {
            context: "output writer".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> WriteError {
    move |source| WriteError::Io { context, source }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let mut file =
        std::fs::File::create(path).map_err(io(format!("cannot create {}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(format!("cannot write {}", path.display())))
}

fn sync_dir(dir: &Path) -> Result<(), WriteError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("cannot sync folder {}", dir.display())))
}

fn commit_blocking(
    out: &Path,
    run: &str,
    files: Vec<(&'static str, Vec<u8>)>,
    report: Vec<u8>,
) -> Result<(), WriteError> {
    std::fs::create_dir_all(out)
        .map_err(io(format!("cannot create output folder {}", out.display())))?;
    let hidden: PathBuf = out.join(format!(".rapport-{run}"));
    if hidden.exists() {
        std::fs::remove_dir_all(&hidden)
            .map_err(io(format!("cannot clear {}", hidden.display())))?;
    }
    std::fs::create_dir(&hidden).map_err(io(format!("cannot create {}", hidden.display())))?;
    let mut names: Vec<&str> = Vec::new();
    for (name, bytes) in &files {
        write_synced(&hidden.join(name), bytes)?;
        names.push(name);
    }
    write_synced(&hidden.join(REPORT_FILE), &report)?;
    sync_dir(&hidden)?;
    // The old set is incomplete from here: its report goes first.
    match std::fs::remove_file(out.join(REPORT_FILE)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("cannot replace {}", out.display()))(e)),
    }
    sync_dir(out)?;
    names.push(REPORT_FILE);
    for name in names {
        std::fs::rename(hidden.join(name), out.join(name))
            .map_err(io(format!("cannot move {name} into {}", out.display())))?;
    }
    sync_dir(out)?;
    std::fs::remove_dir(&hidden).map_err(io(format!("cannot remove {}", hidden.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(run: &str) -> RunReport {
        let settings = rapport_common::tenant::TenantSettings {
            id: "t".to_owned(),
            timezone: "UTC".to_owned(),
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"),
            window_days: 30,
            weights: [1; rapport_common::score::NUM_FEATURES],
            min_org_people: 0,
        };
        RunReport::new(run, "test", &settings, &RunCounters::default(), 0, 0)
    }

    #[tokio::test]
    async fn a_commit_replaces_the_whole_set_and_leaves_nothing_hidden() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out");
        for run in ["r1", "r2"] {
            let files = vec![
                ("account_engagement.csv", format!("{run}\n").into_bytes()),
                ("rejects.jsonl", Vec::new()),
            ];
            commit(&out, files, &report(run)).await.expect("commit");
            let report: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join(REPORT_FILE)).expect("report"))
                    .expect("json");
            assert_eq!(report["run_id"], run);
            assert_eq!(
                std::fs::read_to_string(out.join("account_engagement.csv")).expect("csv"),
                format!("{run}\n")
            );
        }
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .expect("out")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["account_engagement.csv", "rejects.jsonl", "run_report.json"]
        );
    }
}
