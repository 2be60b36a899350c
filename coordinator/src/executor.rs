//! Runs one planned run over the backends: stores the run context, then for
//! each phase publishes the jobs not yet done and waits until every one is
//! done (or one failed for good, or the run is cancelled), then writes the
//! outputs. A run interrupted by a restart resumes here: phases already done
//! are skipped, done jobs are not published again. Removing the run's
//! intermediate data is the caller's decision ([`cleanup`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rapport_backend::{BackendError, Backends, PhaseProgress};
use rapport_common::plan::{jobs_of, JobEnvelope, Phase, RunContext};
use rapport_common::report::RunReport;
use rapport_worker::jobs::context_path;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::tenant_loader::LoadedTenant;
use crate::writer::{write_outputs, WriteError};

/// Deliveries after which the broker dead-letters a job.
const DEAD_LETTER_DELIVERIES: i64 = rapport_backend::rabbit_queue::DELIVERY_LIMIT;

/// How long the queue or store may stay unreachable before a run fails.
const OUTAGE_TOLERANCE: Duration = Duration::from_secs(120);

/// Longest wait between two progress checks.
const PROGRESS_POLL: Duration = Duration::from_millis(25);

/// Receives progress, for a terminal bar or an API.
pub trait ProgressSink: Send + Sync {
    /// A phase starts with `total` jobs.
    fn phase_started(&self, phase: Phase, total: u64);
    /// `done` jobs of the current phase are done.
    fn jobs_done(&self, done: u64);
}

/// Progress nobody watches.
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn phase_started(&self, _: Phase, _: u64) {}
    fn jobs_done(&self, _: u64) {}
}

/// Why a run did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The queue, store or staging failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A job failed for good.
    #[error("job {job} failed: {error}")]
    JobFailed {
        /// The job id.
        job: String,
        /// Its error.
        error: String,
    },
    /// The run was cancelled.
    #[error("run cancelled")]
    Cancelled,
    /// The outputs could not be written.
    #[error(transparent)]
    Output(#[from] WriteError),
}

/// A finished run.
pub struct RunOutcome {
    /// Its report (also written as `run_report.json`).
    pub report: RunReport,
}

/// What one run executes: its tenant, plan, output folder and mode.
#[derive(Clone, Copy)]
pub struct RunSpec<'a> {
    /// The checked tenant.
    pub tenant: &'a LoadedTenant,
    /// The plan.
    pub ctx: &'a RunContext,
    /// Output folder.
    pub out: &'a Path,
    /// `embedded` or `cluster`, for the report.
    pub mode: &'a str,
}

/// Runs every phase of the run not yet done, then writes the outputs.
pub async fn execute_run(
    backends: &Backends,
    spec: RunSpec<'_>,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RunOutcome, ExecuteError> {
    let RunSpec {
        tenant,
        ctx,
        out,
        mode,
    } = spec;
    let started = Instant::now();
    let run = ctx.run_id.as_str();
    backends
        .staging
        .put(
            &context_path(run),
            postcard::to_stdvec(ctx).expect("a run context always serialises"),
        )
        .await?;
    let mut phase_seconds = BTreeMap::new();
    let mut jobs = BTreeMap::new();
    async {
        for phase in Phase::ALL {
            let t0 = Instant::now();
            let n = run_phase(backends, ctx, phase, progress, cancel).await?;
            phase_seconds.insert(phase.name().to_owned(), t0.elapsed().as_secs_f64());
            jobs.insert(phase.name().to_owned(), n);
            info!(
                run_id = run,
                phase = phase.name(),
                jobs = n,
                seconds = t0.elapsed().as_secs_f64(),
                "phase done"
            );
        }
        let t0 = Instant::now();
        let mut report = write_outputs(backends, tenant, ctx, out, mode).await?;
        phase_seconds.insert("write".to_owned(), t0.elapsed().as_secs_f64());
        report.phase_seconds = phase_seconds;
        report.jobs = jobs;
        report.total_seconds = started.elapsed().as_secs_f64();
        crate::writer::write_report(out, &report).await?;
        Ok(RunOutcome { report })
    }
    .await
}

/// Removes a run's intermediate data (best effort: a finished run's data
/// also expires on its own in the cluster store).
pub async fn cleanup(backends: &Backends, run: &str) {
    if let Err(e) = backends.staging.delete_prefix(&format!("runs/{run}")).await {
        tracing::warn!(run_id = run, error = %e, "cannot remove staging data");
    }
    if let Err(e) = backends.store.delete_run(run).await {
        tracing::warn!(run_id = run, error = %e, "cannot remove stored partials");
    }
}

/// Publishes one phase's jobs and waits for all of them; returns their number.
pub async fn run_phase(
    backends: &Backends,
    ctx: &RunContext,
    phase: Phase,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<u64, ExecuteError> {
    let run = ctx.run_id.as_str();
    let jobs = jobs_of(phase, ctx);
    let total = jobs.len() as u64;
    progress.phase_started(phase, total);
    let already = backends.store.progress(run, phase).await?;
    if already.done < total {
        let envelopes = jobs
            .into_iter()
            .map(|job| JobEnvelope::new(run, job))
            .collect();
        backends.queue.publish(envelopes).await?;
    }
    wait_phase(backends, run, phase, total, progress, cancel).await?;
    Ok(total)
}

/// Waits until `total` jobs of `phase` are done.
pub async fn wait_phase(
    backends: &Backends,
    run: &str,
    phase: Phase,
    total: u64,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(), ExecuteError> {
    let mut failing_since: Option<Instant> = None;
    loop {
        match poll_phase(backends, run, phase).await {
            Ok(p) => {
                failing_since = None;
                if let Some((job, error)) = p.failed.into_iter().next() {
                    return Err(ExecuteError::JobFailed { job, error });
                }
                progress.jobs_done(p.done);
                if p.done >= total {
                    return Ok(());
                }
            }
            // The queue and store reconnect by themselves: a lost connection
            // is a pause, not a failed run, unless it lasts.
            Err(e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > OUTAGE_TOLERANCE {
                    return Err(e.into());
                }
                warn!(run_id = run, error = %e, "cannot read progress; retrying");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(ExecuteError::Cancelled),
            _ = backends.store.wait_for_change(PROGRESS_POLL) => {}
        }
    }
}

/// Turns dead letters into failed jobs, then reads the phase's progress.
async fn poll_phase(
    backends: &Backends,
    run: &str,
    phase: Phase,
) -> Result<PhaseProgress, BackendError> {
    for dead in backends.queue.take_dead_letters().await? {
        let message = format!("delivered {DEAD_LETTER_DELIVERIES} times without completing (its worker died each time)");
        backends
            .store
            .fail_job(&dead.run_id, dead.job.phase, &dead.job.id(), &message)
            .await?;
    }
    backends.store.progress(run, phase).await
}
