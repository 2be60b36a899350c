//! `rapport run`: the coordinator, workers and reducer in one process, over
//! the in-process queue and store, staging in a temporary folder. The
//! tenant and the output may be folders or object-storage URLs (reached
//! with the `AWS_*` / `AZURE_*` environment, see docs/operations.md).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rapport_backend::object_url::is_object_url;
use rapport_backend::{Backends, DataRoots};
use rapport_common::report::RunReport;
use rapport_coordinator::history::HistorySettings;
use rapport_coordinator::output_formats::{parse_formats, OutputFormat};
use rapport_coordinator::planner::new_run_id;
use rapport_coordinator::planner::JobSize;
use rapport_coordinator::{
    load_tenant_at, plan_run, run_with_local_workers, FileCaps, PlanOptions, RunSpec,
};
use tokio_util::sync::CancellationToken;

use crate::args::RunArgs;
use crate::exit::CliError;
use crate::progress::TerminalProgress;

/// Jobs the in-process queue holds before publishing waits.
const QUEUE_CAPACITY: usize = 4096;

/// Runs `rapport run`.
pub async fn run_command(args: RunArgs) -> Result<(), CliError> {
    let options = PlanOptions {
        shard_bytes: args.shard_bytes,
        key_partitions: args.key_partitions,
        account_partitions: args.account_partitions,
        staged_batch_bytes: args.staged_batch_bytes,
        ..PlanOptions::default()
    };
    let outputs = Outputs {
        formats: parse_formats(&args.formats)
            .map_err(|e| CliError::Usage(format!("--formats: {e}")))?,
        history: args.history.map(|root| HistorySettings {
            root,
            keep: args.history_keep.max(1),
        }),
    };
    let report = run_embedded(&args.config, &args.out, args.workers, options, &outputs).await?;
    eprintln!(
        "rapport: {} rows for {} accounts from {} records ({} rejected) in {:.1} s -> {}",
        report.rows,
        report.accounts,
        report.records,
        report.rejected,
        report.total_seconds,
        args.out.display()
    );
    Ok(())
}

/// What a run writes besides the CSV, and where it is kept.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Output formats (CSV among them).
    pub formats: Vec<OutputFormat>,
    /// The run history, if any.
    pub history: Option<HistorySettings>,
}

impl Default for Outputs {
    fn default() -> Outputs {
        Outputs {
            formats: vec![OutputFormat::Csv],
            history: None,
        }
    }
}

/// Loads the tenant and runs it embedded; returns the report.
pub async fn run_embedded(
    config: &Path,
    out: &Path,
    workers: Option<usize>,
    options: PlanOptions,
    outputs: &Outputs,
) -> Result<RunReport, CliError> {
    let tenant = load_tenant_at(
        &config.display().to_string(),
        Arc::new(DataRoots::unrestricted()),
        FileCaps::default(),
    )
    .await?;
    // Staging beside a local output (same disk); in the temporary folder
    // for an object-storage one.
    let staging_parent = if is_object_url(&out.display().to_string()) {
        std::env::temp_dir()
    } else {
        std::fs::create_dir_all(out).map_err(|e| {
            CliError::Usage(format!(
                "{}: cannot create output folder: {e}",
                out.display()
            ))
        })?;
        out.to_owned()
    };
    let staging = tempfile::Builder::new()
        .prefix(".rapport-staging-")
        .tempdir_in(&staging_parent)
        .map_err(|e| {
            CliError::Usage(format!(
                "{}: cannot create staging folder: {e}",
                staging_parent.display()
            ))
        })?;
    let backends = Backends::in_process(staging.path(), QUEUE_CAPACITY)
        .map_err(|e| CliError::Usage(format!("{}: {e}", out.display())))?;
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let run_id = new_run_id();
    // One process on a few cores: bigger jobs, fewer of them.
    let ctx = plan_run(
        &run_id,
        &tenant,
        PlanOptions {
            job_size: JobSize::Embedded,
            ..options
        },
    );
    let progress = TerminalProgress::new();
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            ctrl_c.cancel();
        }
    });
    let spec = RunSpec {
        tenant: &tenant,
        ctx: &ctx,
        out,
        formats: &outputs.formats,
        history: outputs.history.as_ref(),
        mode: "embedded",
        resumed: 0,
    };
    let outcome = run_with_local_workers(&backends, spec, workers, &progress, &cancel).await;
    progress.finish();
    Ok(outcome
        .with_context(|| format!("run {run_id} failed"))?
        .report)
}
