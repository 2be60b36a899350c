//! Writes a finished run's outputs: `account_engagement.csv` (the scored
//! lines of every account, in account order), `office_users.csv`,
//! `rejects.jsonl` (sorted by file and offset, so independent of the plan)
//! and `run_report.json`, each through the object store of the output
//! location (a folder here), written whole or not at all.

use std::path::Path;

use rapport_backend::object_staging::ObjectStaging;
use rapport_backend::{BackendError, Backends, Staging};
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
}

/// Writes one output file through the object store of `dir` (a folder here;
/// the put is atomic: readers never see half a file).
async fn write_file(dir: &Path, name: &str, bytes: Vec<u8>) -> Result<(), WriteError> {
    let store = ObjectStaging::open(&dir.display().to_string())?;
    store.put(name, bytes).await?;
    Ok(())
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
    write_file(out, "account_engagement.csv", csv.into_bytes()).await?;
    write_file(
        out,
        "office_users.csv",
        office_users_csv(&tenant.tables.office_users).into_bytes(),
    )
    .await?;

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
    write_file(out, "rejects.jsonl", lines.into_bytes()).await?;

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
pub async fn write_report(out: &Path, report: &RunReport) -> Result<(), WriteError> {
    let mut json = serde_json::to_string_pretty(report).expect("a report always serialises");
    json.push('\n');
    write_file(out, "run_report.json", json.into_bytes()).await
}
