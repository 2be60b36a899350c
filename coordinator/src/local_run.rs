//! A run with its workers in this process: `rapport run` (over in-process
//! backends) and the tests (over either backend) start workers as tasks,
//! execute the run, then stop the workers.

use rapport_backend::Backends;
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::driver::{Limits, JOBS_IN_FLIGHT};
use crate::executor::{cleanup, execute_run_with, ExecuteError, ProgressSink, RunOutcome, RunSpec};

/// Runs `spec` with `workers` worker tasks on `backends`; `cancel` stops it.
pub async fn run_with_local_workers(
    backends: &Backends,
    spec: RunSpec<'_>,
    workers: usize,
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
    // One run has the workers to itself: enough jobs out to keep them busy.
    let limits = Limits {
        jobs_in_flight: (2 * workers).max(JOBS_IN_FLIGHT),
        ..Limits::default()
    };
    let outcome = execute_run_with(backends, spec, progress, cancel, limits).await;
    cleanup(backends, &spec.ctx.run_id).await;
    shutdown.cancel();
    if let Err(e) = worker.await {
        tracing::warn!(error = %e, "worker task ended abnormally");
    }
    outcome
}
