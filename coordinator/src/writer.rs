//! Writes a finished run's outputs: `account_engagement.csv` (the scored
//! parts of every account partition, in order), `office_users.csv`,
//! `rejects.jsonl` (sorted by file and offset, so independent of the plan)
//! and `run_report.json`. Each file is written whole, then renamed in place.

use std::path::{Path, PathBuf};

use rapport_backend::{BackendError, Backends};
use rapport_common::counters::RunCounters;
use rapport_common::plan::RunContext;
use rapport_common::reduce::AccountLines;
use rapport_common::reject::RejectLine;
use rapport_common::report::RunReport;
use rapport_common::row::HEADER;
use rapport_common::tables::office_users_csv;
use rapport_worker::jobs::{csv_path, rejects_prefix, COUNTERS_SLOT};

use crate::tenant_loader::LoadedTenant;

/// An output that cannot be assembled or written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A staged part is missing or the store failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A staged part does not decode.
    #[error("staged part {name} is unreadable: {error}")]
    Corrupt {
        /// The part.
        name: String,
        /// The decoder's error.
        error: String,
    },
    /// The output folder cannot be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(io(&target))
}

fn decode<T: serde::de::DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, WriteError> {
    postcard::from_bytes(bytes).map_err(|e| WriteError::Corrupt {
        name: name.to_owned(),
        error: e.to_string(),
    })
}

/// Assembles and writes the CSVs and rejects; returns the report (timings unset).
pub async fn write_outputs(
    backends: &Backends,
    tenant: &LoadedTenant,
    ctx: &RunContext,
    out: &Path,
    mode: &str,
) -> Result<RunReport, WriteError> {
    let run = ctx.run_id.as_str();
    // Each score job wrote its accounts' lines; accounts come back in id order.
    let mut accounts: Vec<AccountLines> = Vec::new();
    for part in 0..ctx.account_partitions {
        let path = csv_path(run, part);
        accounts.extend(decode::<Vec<AccountLines>>(
            &path,
            &backends.staging.get(&path).await?,
        )?);
    }
    accounts.sort_unstable_by_key(|(account, _)| *account);
    let mut csv = String::from(HEADER);
    csv.push('\n');
    accounts.iter().for_each(|(_, lines)| csv.push_str(lines));
    let rows = csv.lines().count() as u64 - 1;
    let accounts = accounts.len() as u64;
    write_file(out, "account_engagement.csv", csv.as_bytes())?;
    write_file(
        out,
        "office_users.csv",
        office_users_csv(&tenant.tables.office_users).as_bytes(),
    )?;

    let mut rejects: Vec<RejectLine> = Vec::new();
    for path in backends.staging.list(&rejects_prefix(run)).await? {
        rejects.extend(decode::<Vec<RejectLine>>(
            &path,
            &backends.staging.get(&path).await?,
        )?);
    }
    rejects.sort();
    let mut lines = String::new();
    for r in &rejects {
        lines.push_str(&serde_json::to_string(r).expect("a reject always serialises"));
        lines.push('\n');
    }
    write_file(out, "rejects.jsonl", lines.as_bytes())?;

    let mut counters = RunCounters::default();
    for (job, blob) in backends.store.read_slot(run, COUNTERS_SLOT).await? {
        counters.merge(&decode(&format!("{COUNTERS_SLOT}/{job}"), &blob)?);
    }
    Ok(RunReport::new(
        run,
        mode,
        &ctx.settings,
        &counters,
        accounts,
        rows,
    ))
}

/// Writes `run_report.json`.
pub fn write_report(out: &Path, report: &RunReport) -> Result<(), WriteError> {
    let mut json = serde_json::to_string_pretty(report).expect("a report always serialises");
    json.push('\n');
    write_file(out, "run_report.json", json.as_bytes())
}
