//! Assembles a finished run's outputs from its checked hand-offs, then
//! commits them as a set: `account_engagement.csv` (the scored lines of
//! every account, in account order; with `.parquet` and `.jsonl` beside it
//! when asked for), `office_users.csv`, `rejects.jsonl`
//! (sorted by file and offset, so independent of the plan) and
//! `run_report.json`.
//!
//! The files are streamed: accounts and rejects are merged in order from
//! their producers' chunks ([`rapport_common::sorted_merge`]), so the
//! writer's memory follows the number of jobs, not the size of the run.
//!
//! The set is written into a hidden folder beside the outputs, fsynced,
//! then renamed into place with `run_report.json` last, after the previous
//! report was removed: a folder holding a `run_report.json` holds the whole
//! set of the run it names, never files of two runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use rapport_backend::handoff::{fetch, read_refs, read_slot_for, HandoffError};
use rapport_backend::layout::{self, ref_producers, refs_slot, BlobRef, Consumer};
use rapport_backend::{BackendError, Backends};
use rapport_common::counters::RunCounters;
use rapport_common::plan::{Job, Phase, RunContext};
use rapport_common::reduce::{AccountLines, ScoredPartition};
use rapport_common::reject::RejectLine;
use rapport_common::report::RunReport;
use rapport_common::results::read_rows;
use rapport_common::row::HEADER;
use rapport_common::sorted_merge::{merge_sorted, MergeError, Source};
use rapport_common::tables::office_users_csv;

use crate::output_formats::{to_jsonl, OutputFormat, ParquetSink, ROW_GROUP};
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

/// A run's output files, written into a hidden folder beside the outputs,
/// and its report (timings unset), ready to [`commit`].
pub struct Outputs {
    /// The hidden folder holding the files.
    pub dir: PathBuf,
    /// The files' names, the report excluded.
    pub names: Vec<&'static str>,
    /// The report.
    pub report: RunReport,
}

/// The hidden folder of `out` where run `run`'s outputs are assembled.
pub fn hidden_dir(out: &Path, run: &str) -> PathBuf {
    out.join(format!(".rapport-{run}"))
}

/// The hidden folder a run's outputs are assembled in, emptied.
fn fresh_hidden(out: &Path, run: &str) -> Result<PathBuf, WriteError> {
    std::fs::create_dir_all(out)
        .map_err(io(format!("cannot create output folder {}", out.display())))?;
    let hidden = hidden_dir(out, run);
    if hidden.exists() {
        std::fs::remove_dir_all(&hidden)
            .map_err(io(format!("cannot clear {}", hidden.display())))?;
    }
    std::fs::create_dir(&hidden).map_err(io(format!("cannot create {}", hidden.display())))?;
    Ok(hidden)
}

/// Where each producer's chunks for the writer are, split by kind.
struct Handed {
    /// Score jobs' chunks of account lines.
    scored: Vec<Source<(Job, BlobRef)>>,
    /// Ingest jobs' chunks of rejects.
    rejects: Vec<Source<(Job, BlobRef)>>,
}

async fn handed_to_writer(backends: &Backends, ctx: &RunContext) -> Result<Handed, WriteError> {
    let refs = read_refs(
        &*backends.store,
        &ctx.run_id,
        &refs_slot(Consumer::Writer),
        &ref_producers(ctx, Consumer::Writer),
    )
    .await?;
    let mut handed = Handed {
        scored: Vec::new(),
        rejects: Vec::new(),
    };
    for (producer, refs) in refs {
        let source = Source::new(refs.into_iter().map(|r| (producer, r)));
        match producer.phase {
            Phase::Score => handed.scored.push(source),
            _ => handed.rejects.push(source),
        }
    }
    Ok(handed)
}

/// Assembles the CSVs, rejects and report from the run's hand-offs into a
/// hidden folder of `out`, streaming: score jobs' accounts and ingest jobs'
/// rejects are merged in order a chunk at a time, so memory follows the
/// number of jobs, not the size of the run.
pub async fn assemble(
    backends: &Backends,
    tenant: &LoadedTenant,
    ctx: &RunContext,
    mode: &str,
    formats: &[OutputFormat],
    out: &Path,
) -> Result<Outputs, WriteError> {
    let run = ctx.run_id.clone();
    let handed = handed_to_writer(backends, ctx).await?;
    let dir = fresh_hidden(out, &run)?;
    let staging = backends.staging.clone();
    let formats = formats.to_vec();
    let office_users = office_users_csv(&tenant.tables.office_users);
    let handle = tokio::runtime::Handle::current();
    let task_dir = dir.clone();
    let written = tokio::task::spawn_blocking(move || {
        let fetch =
            |(producer, blob): (Job, BlobRef)| -> Result<(Job, BlobRef, Vec<u8>), WriteError> {
                let bytes = handle.block_on(fetch(&*staging, producer, &blob))?;
                Ok((producer, blob, bytes))
            };
        write_files(&task_dir, handed, &formats, &office_users, fetch)
    })
    .await
    .map_err(|e| WriteError::Io {
        context: "output writer".to_owned(),
        source: std::io::Error::other(e.to_string()),
    })??;

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
        &run,
        mode,
        &ctx.settings,
        &counters,
        written.accounts,
        written.rows,
    );
    report.suppressed_rows = written.suppressed;
    Ok(Outputs {
        dir,
        names: written.names,
        report,
    })
}

/// What [`write_files`] wrote.
struct Written {
    names: Vec<&'static str>,
    accounts: u64,
    rows: u64,
    suppressed: u64,
}

/// A file of the set, buffered.
fn create(dir: &Path, name: &str) -> Result<std::io::BufWriter<std::fs::File>, WriteError> {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .map(|f| std::io::BufWriter::with_capacity(1 << 20, f))
        .map_err(io(format!("cannot create {}", path.display())))
}

/// Ends a file of the set: flushed and synced.
fn finish(
    dir: &Path,
    name: &str,
    file: std::io::BufWriter<std::fs::File>,
) -> Result<(), WriteError> {
    let context = format!("cannot write {}", dir.join(name).display());
    let file = file.into_inner().map_err(|e| WriteError::Io {
        context: context.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(context))
}

/// The typed formats, fed a row group at a time.
struct TypedSinks {
    parquet: Option<ParquetSink<std::io::BufWriter<std::fs::File>>>,
    jsonl: Option<std::io::BufWriter<std::fs::File>>,
    pending: String,
    first_line: u64,
    pending_rows: usize,
}

impl TypedSinks {
    fn open(dir: &Path, formats: &[OutputFormat]) -> Result<TypedSinks, WriteError> {
        let format_error = |format: OutputFormat| {
            move |e: parquet::errors::ParquetError| WriteError::Format {
                format: format.file_name(),
                message: e.to_string(),
            }
        };
        let mut sinks = TypedSinks {
            parquet: None,
            jsonl: None,
            pending: String::new(),
            first_line: 2,
            pending_rows: 0,
        };
        for format in formats {
            match format {
                OutputFormat::Csv => {}
                OutputFormat::Parquet => {
                    let file = create(dir, format.file_name())?;
                    sinks.parquet = Some(ParquetSink::new(file).map_err(format_error(*format))?);
                }
                OutputFormat::Jsonl => sinks.jsonl = Some(create(dir, format.file_name())?),
            }
        }
        Ok(sinks)
    }

    fn wanted(&self) -> bool {
        self.parquet.is_some() || self.jsonl.is_some()
    }

    /// Takes an account's CSV lines; writes a row group when one is full.
    fn add(&mut self, lines: &str, rows: usize, dir: &Path) -> Result<(), WriteError> {
        if !self.wanted() {
            return Ok(());
        }
        self.pending.push_str(lines);
        self.pending_rows += rows;
        if self.pending_rows >= ROW_GROUP {
            self.flush(dir)?;
        }
        Ok(())
    }

    fn flush(&mut self, dir: &Path) -> Result<(), WriteError> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let typed = read_rows(self.pending.as_bytes(), self.first_line).map_err(|e| {
            WriteError::Format {
                format: "the typed outputs",
                message: e.to_string(),
            }
        })?;
        if let Some(parquet) = &mut self.parquet {
            parquet
                .write_group(&typed)
                .map_err(|e| WriteError::Format {
                    format: OutputFormat::Parquet.file_name(),
                    message: e.to_string(),
                })?;
        }
        if let Some(jsonl) = &mut self.jsonl {
            let name = OutputFormat::Jsonl.file_name();
            jsonl
                .write_all(&to_jsonl(&typed))
                .map_err(io(format!("cannot write {}", dir.join(name).display())))?;
        }
        self.first_line += self.pending_rows as u64;
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }

    /// Ends the files; returns their names.
    fn close(mut self, dir: &Path) -> Result<Vec<&'static str>, WriteError> {
        self.flush(dir)?;
        let mut names = Vec::new();
        if let Some(parquet) = self.parquet {
            let name = OutputFormat::Parquet.file_name();
            let file = parquet.finish().map_err(|e| WriteError::Format {
                format: name,
                message: e.to_string(),
            })?;
            finish(dir, name, file)?;
            names.push(name);
        }
        if let Some(jsonl) = self.jsonl {
            let name = OutputFormat::Jsonl.file_name();
            finish(dir, name, jsonl)?;
            names.push(name);
        }
        Ok(names)
    }
}

fn merge_error(e: MergeError<WriteError>, what: &str) -> WriteError {
    match e {
        MergeError::Failed(e) => e,
        MergeError::Unsorted { source } => WriteError::Format {
            format: "the outputs",
            message: format!("the {what} of producer {source} are out of order"),
        },
    }
}

/// Writes every file of the set into `dir` (blocking), reading chunks
/// through `fetch`.
fn write_files(
    dir: &Path,
    handed: Handed,
    formats: &[OutputFormat],
    office_users: &str,
    mut fetch: impl FnMut((Job, BlobRef)) -> Result<(Job, BlobRef, Vec<u8>), WriteError>,
) -> Result<Written, WriteError> {
    let csv_name = OutputFormat::Csv.file_name();
    let mut csv = create(dir, csv_name)?;
    let csv_error = || io(format!("cannot write {}", dir.join(csv_name).display()));
    csv.write_all(HEADER.as_bytes())
        .and_then(|()| csv.write_all(b"\n"))
        .map_err(csv_error())?;
    let mut typed = TypedSinks::open(dir, formats)?;
    let (mut accounts, mut rows, mut suppressed) = (0, 0, 0);
    merge_sorted(
        handed.scored,
        |chunk| {
            let (producer, blob, bytes) = fetch(chunk)?;
            let scored: ScoredPartition = decode(producer, &blob.path, &bytes)?;
            suppressed += scored.suppressed;
            Ok(scored.accounts)
        },
        |(_, lines): AccountLines| {
            let n = memchr::memchr_iter(b'\n', lines.as_bytes()).count();
            csv.write_all(lines.as_bytes()).map_err(csv_error())?;
            typed.add(&lines, n, dir)?;
            accounts += 1;
            rows += n as u64;
            Ok(())
        },
    )
    .map_err(|e| merge_error(e, "accounts"))?;
    finish(dir, csv_name, csv)?;
    let mut names = typed.close(dir)?;
    names.push(csv_name);

    let rejects_name = "rejects.jsonl";
    let mut rejects = create(dir, rejects_name)?;
    let rejects_error = || io(format!("cannot write {}", dir.join(rejects_name).display()));
    merge_sorted(
        handed.rejects,
        |chunk| {
            let (producer, blob, bytes) = fetch(chunk)?;
            decode::<Vec<RejectLine>>(producer, &blob.path, &bytes)
        },
        |r: RejectLine| {
            serde_json::to_writer(&mut rejects, &r)
                .map_err(std::io::Error::from)
                .and_then(|()| rejects.write_all(b"\n"))
                .map_err(rejects_error())
        },
    )
    .map_err(|e| merge_error(e, "rejects"))?;
    finish(dir, rejects_name, rejects)?;

    let users_name = "office_users.csv";
    write_synced(&dir.join(users_name), office_users.as_bytes())?;
    names.push(users_name);
    names.push(rejects_name);
    Ok(Written {
        names,
        accounts,
        rows,
        suppressed,
    })
}

/// Commits the assembled `outputs` into `out` as one set (see the module
/// doc), with their report.
pub async fn commit(out: &Path, outputs: Outputs) -> Result<(), WriteError> {
    let mut json =
        serde_json::to_string_pretty(&outputs.report).expect("a report always serialises");
    json.push('\n');
    let out = out.to_owned();
    tokio::task::spawn_blocking(move || {
        commit_blocking(&out, &outputs.dir, outputs.names, json.into_bytes())
    })
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
    hidden: &Path,
    mut names: Vec<&'static str>,
    report: Vec<u8>,
) -> Result<(), WriteError> {
    write_synced(&hidden.join(REPORT_FILE), &report)?;
    sync_dir(hidden)?;
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
    std::fs::remove_dir(hidden).map_err(io(format!("cannot remove {}", hidden.display())))
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
            let dir = fresh_hidden(&out, run).expect("hidden");
            std::fs::write(dir.join("account_engagement.csv"), format!("{run}\n")).expect("csv");
            std::fs::write(dir.join("rejects.jsonl"), "").expect("rejects");
            let outputs = Outputs {
                dir,
                names: vec!["account_engagement.csv", "rejects.jsonl"],
                report: report(run),
            };
            commit(&out, outputs).await.expect("commit");
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
