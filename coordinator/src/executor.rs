//! Runs one planned run over the backends: stores its plan in staging (the
//! durable part of a run), then drives its phases in the run's epoch
//! (`crate::driver`), then commits the outputs as a set.
//!
//! A run interrupted by a coordinator restart resumes here: phases already
//! done are skipped, and only jobs not done are published again. A run
//! whose store state was lost (its epoch gone: Redis restarted without
//! persistence, keys deleted) restarts from its plan in a new epoch, at
//! most [`MAX_RESTARTS`] times. Removing the run's intermediate data is the
//! caller's decision ([`cleanup`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rapport_backend::layout::{context_path, run_prefix, REDELIVERIES, RETRIES};
use rapport_backend::{BackendError, Backends, PartialStore};
use rapport_common::plan::{Phase, RunContext};
use rapport_common::report::{Recovery, RunReport};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::driver::{Driver, Limits};
use crate::history::{keep_run, HistorySettings};
use crate::output_formats::OutputFormat;
use crate::output_target::OutputTarget;
use crate::tenant_loader::LoadedTenant;
use crate::writer::{assemble, commit, hidden_dir, WriteError, REPORT_FILE};

/// Restarts from the plan after the run's store state was lost.
pub const MAX_RESTARTS: u32 = 3;

/// Receives progress, for a terminal bar or an API.
pub trait ProgressSink: Send + Sync {
    /// A phase starts with `total` jobs.
    fn phase_started(&self, phase: Phase, total: u64);
    /// `done` jobs of the current phase are done.
    fn jobs_done(&self, done: u64);
    /// The phases are done; the outputs are being assembled and committed.
    fn writing(&self) {}
    /// What the run redid so far to heal faults.
    fn recovery(&self, _recovery: &Recovery) {}
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
    /// A job's output was lost, and lost again each time it was recomputed.
    #[error("{error} (recomputed {times} times, lost each time)")]
    Lost {
        /// Recomputations tried.
        times: u32,
        /// The last loss.
        error: String,
    },
    /// The run's state in the store was lost (its epoch is gone).
    #[error("the run's state in the store was lost")]
    StateLost,
    /// The run's state was lost again after each restart.
    #[error(
        "the run's state in the store was lost {0} times; is Redis restarting or evicting keys?"
    )]
    StateLostTooOften(u32),
    /// No job completed for too long.
    #[error("no {phase} job completed for {seconds} s: are workers running?")]
    Stalled {
        /// The phase.
        phase: &'static str,
        /// The limit.
        seconds: u64,
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
    /// Output formats (CSV always among them).
    pub formats: &'a [OutputFormat],
    /// Where the run's outputs are kept once it succeeds, if anywhere.
    pub history: Option<&'a HistorySettings>,
    /// `embedded` or `cluster`, for the report.
    pub mode: &'a str,
    /// Times coordinators took the run over before this one (for the report).
    pub resumed: u32,
}

/// Runs every phase of the run not yet done, then writes the outputs.
pub async fn execute_run(
    backends: &Backends,
    spec: RunSpec<'_>,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RunOutcome, ExecuteError> {
    execute_run_with(backends, spec, progress, cancel, Limits::default()).await
}

/// [`execute_run`] with limits of the caller's.
pub async fn execute_run_with(
    backends: &Backends,
    spec: RunSpec<'_>,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
    limits: Limits,
) -> Result<RunOutcome, ExecuteError> {
    let run = spec.ctx.run_id.as_str();
    // A plan already staged with no epoch in the store: the run's state
    // was lost while no coordinator drove it; it restarts from its plan.
    let planned = backends.staging.get(&context_path(run)).await.is_ok();
    let mut restarts = 0;
    if planned && backends.store.epoch(run).await?.is_none() {
        restarts = 1;
        warn!(
            run_id = run,
            "the run's store state was lost; restarting it from its plan"
        );
    }
    backends
        .staging
        .put(
            &context_path(run),
            postcard::to_stdvec(spec.ctx).expect("a run context always serialises"),
        )
        .await?;
    loop {
        let epoch = match backends.store.epoch(run).await? {
            Some(epoch) => epoch,
            None => backends.store.new_epoch(run).await?,
        };
        let mut driver = Driver::new(backends, spec.ctx, epoch, progress, cancel, limits);
        driver.recovery.restarts = restarts;
        driver.recovery.resumed = spec.resumed;
        progress.recovery(&driver.recovery);
        match drive(driver, spec).await {
            Err(ExecuteError::StateLost) if restarts < MAX_RESTARTS => {
                restarts += 1;
                warn!(
                    run_id = run,
                    restarts, "the run's store state was lost; restarting it from its plan"
                );
                // Whatever is left of the old epoch's state is not to be read.
                backends.store.delete_run(run).await?;
            }
            Err(ExecuteError::StateLost) => {
                return Err(ExecuteError::StateLostTooOften(restarts + 1))
            }
            other => return other,
        }
    }
}

async fn drive(mut driver: Driver<'_>, spec: RunSpec<'_>) -> Result<RunOutcome, ExecuteError> {
    let started = Instant::now();
    let run = spec.ctx.run_id.as_str();
    let mut phase_seconds = BTreeMap::new();
    let mut jobs = BTreeMap::new();
    for phase in Phase::ALL {
        let t0 = Instant::now();
        let n = driver.run_phase(phase).await?;
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
    driver.progress.writing();
    // Checked before anything is written into it, and again at commit.
    let target =
        OutputTarget::of(&driver.backends.data_roots, spec.out, run).map_err(WriteError::from)?;
    let written = write_outputs(
        &mut driver,
        &spec,
        &target,
        started,
        t0,
        phase_seconds,
        jobs,
    )
    .await;
    let (names, report) = match written {
        Ok(done) => done,
        Err(e) => {
            discard(target.folder(), run).await;
            target.clean().await;
            return Err(e);
        }
    };
    if let Some(history) = spec.history {
        keep_in_history(history, spec, target.folder(), names).await;
    }
    target.clean().await;
    Ok(RunOutcome { report })
}

/// Assembles the outputs (recomputing what the writer finds lost), then
/// commits them with the report; returns the files' names and the report.
async fn write_outputs(
    driver: &mut Driver<'_>,
    spec: &RunSpec<'_>,
    target: &OutputTarget,
    started: Instant,
    t0: Instant,
    mut phase_seconds: BTreeMap<String, f64>,
    jobs: BTreeMap<String, u64>,
) -> Result<(Vec<&'static str>, RunReport), ExecuteError> {
    let run = spec.ctx.run_id.as_str();
    let mut outputs = loop {
        match assemble(
            driver.backends,
            spec.tenant,
            spec.ctx,
            spec.mode,
            spec.formats,
            target.folder(),
        )
        .await
        {
            Ok(outputs) => break outputs,
            Err(WriteError::Lost { producer, error }) => {
                driver.recompute_for_writer(producer, error).await?;
            }
            Err(e) => return Err(e.into()),
        }
    };
    if !driver.limits.write_pause.is_zero() {
        tokio::select! {
            _ = driver.cancel.cancelled() => return Err(ExecuteError::Cancelled),
            _ = tokio::time::sleep(driver.limits.write_pause) => {}
        }
    }
    let mut recovery = driver.recovery.clone();
    add_worker_counts(driver.backends.store.as_ref(), run, &mut recovery).await?;
    // Outputs assembled from another epoch's state would not be this run's.
    if driver.backends.store.epoch(run).await? != Some(driver.epoch) {
        return Err(ExecuteError::StateLost);
    }
    phase_seconds.insert("write".to_owned(), t0.elapsed().as_secs_f64());
    let report = &mut outputs.report;
    report.phase_seconds = phase_seconds;
    report.jobs = jobs;
    report.total_seconds = started.elapsed().as_secs_f64();
    report.recovery = recovery;
    let report = outputs.report.clone();
    let names = outputs.names.clone();
    // Checked again as written: a symlink put in since submit is refused.
    let roots = &driver.backends.data_roots;
    target.recheck(roots).map_err(WriteError::from)?;
    commit(target.folder(), outputs).await?;
    target.publish(roots, &names).await?;
    Ok((names, report))
}

/// Removes what a run that did not commit left assembled in `out`.
async fn discard(out: &Path, run: &str) {
    let dir = hidden_dir(out, run);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn!(run_id = run, error = %e, "cannot remove the unfinished outputs"),
    }
}

/// Keeps the committed outputs in the run history. The run has succeeded
/// whatever happens here: a failure is logged, and the run is missing
/// from the history.
async fn keep_in_history(
    history: &HistorySettings,
    spec: RunSpec<'_>,
    out: &Path,
    mut names: Vec<&'static str>,
) {
    names.push(REPORT_FILE);
    let (history, out) = (history.clone(), out.to_owned());
    let (tenant, run) = (spec.ctx.settings.id.clone(), spec.ctx.run_id.clone());
    let task = tokio::task::spawn_blocking(move || {
        keep_run(&history, &tenant, &run, chrono::Utc::now(), &out, &names)
    });
    match task.await {
        Ok(Ok(kept)) => {
            debug!(run_id = spec.ctx.run_id, folder = %kept.dir.display(), "outputs kept in the history")
        }
        Ok(Err(e)) => {
            error!(run_id = spec.ctx.run_id, error = %e, "the run succeeded but is missing from the history")
        }
        Err(e) => error!(run_id = spec.ctx.run_id, error = %e, "the history task ended abnormally"),
    }
}

/// Puts the workers' counts of the run (redelivered and retried jobs) into
/// `recovery`.
pub(crate) async fn add_worker_counts(
    store: &dyn PartialStore,
    run: &str,
    recovery: &mut Recovery,
) -> Result<(), BackendError> {
    recovery.redelivered = u64::from(store.attempts(run, REDELIVERIES).await?);
    recovery.retried = u64::from(store.attempts(run, RETRIES).await?);
    Ok(())
}

/// Removes a run's intermediate data (best effort: a finished run's data
/// also expires on its own in the cluster store, and the janitor removes
/// staging that ended runs left behind).
pub async fn cleanup(backends: &Backends, run: &str) {
    if let Err(e) = backends.store.delete_run(run).await {
        warn!(run_id = run, error = %e, "cannot remove stored partials");
    }
    if let Err(e) = backends.staging.delete_prefix(&run_prefix(run)).await {
        warn!(run_id = run, error = %e, "cannot remove staging data");
    }
}
