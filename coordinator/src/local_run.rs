//! A run with its workers in this process: `rapport run` (over in-process
//! backends) and the tests (over either backend) start workers as tasks,
//! execute the run, then stop the workers.

use std::path::Path;

use rapport_backend::Backends;
use rapport_common::plan::RunContext;
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::executor::{cleanup, execute_run, ExecuteError, ProgressSink, RunOutcome};
use crate::tenant_loader::LoadedTenant;

/// Runs `ctx` with `workers` worker tasks on `backends`; `cancel` stops it.
pub async fn run_with_local_workers(
    backends: &Backends,
    tenant: &LoadedTenant,
    ctx: &RunContext,
    out: &Path,
    workers: usize,
    mode: &str,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RunOutcome, ExecuteError> {
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        backends.clone(),
        WorkerOptions {
            concurrency: workers,
            ..WorkerOptions::default()
        },
        shutdown.clone(),
    ));
    let outcome = execute_run(backends, tenant, ctx, out, mode, progress, cancel).await;
    cleanup(backends, &ctx.run_id).await;
    shutdown.cancel();
    if let Err(e) = worker.await {
        tracing::warn!(error = %e, "worker task ended abnormally");
    }
    outcome
}
