//! The worker loop: take a delivery, run its job, store its effects and mark
//! it done in one step, then ack, never the other way round.
//!
//! Attempts are counted in the store, per job, before the job runs, so a
//! worker killed mid-job counts too, on any broker version. A retryable
//! failure is handed back to the queue, after a growing pause, until
//! [`MAX_ATTEMPTS`]; a permanent one, or the last attempt, marks the job
//! failed so its run ends with a message naming it. A job whose input was
//! lost is marked failed with the job that produced it, which the
//! coordinator runs again. A job of a run that was cancelled, or is no
//! longer in the job's epoch, or a job already done, is dropped. A message of another version goes
//! back for a worker of that version, a bounded number of times, then to
//! the dead letters. On shutdown the loop stops taking jobs, finishes the
//! one in hand and hands back those taken ahead of it.

use std::sync::Arc;
use std::time::Duration;

use rapport_backend::layout::{REDELIVERIES, RETRIES};
use rapport_backend::metrics::Metrics;
use rapport_backend::{Backends, Delivery, JobFailure, Stored};
use rapport_common::plan::{EnvelopeError, JobEnvelope, Phase};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info_span, warn, Instrument};

use crate::jobs::{execute, ContextCache, JobError};

/// Attempts at one job before it is failed for good.
pub const MAX_ATTEMPTS: u32 = 5;

/// Deliveries of a message of another version before it is dead-lettered.
pub const FOREIGN_VERSION_DELIVERIES: u32 = 10;

/// Where a drill's pause goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DelayPoint {
    /// Before a job is handled: a kill lands before anything is stored.
    #[default]
    BeforeJob,
    /// After its effects are stored and before the ack: a kill lands
    /// between the two, and the job is delivered again though done.
    AfterStore,
}

/// How a worker runs.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    /// Where the worker counts its jobs (served on `/metrics`).
    pub metrics: Arc<Metrics>,
    /// Jobs run at once.
    pub concurrency: usize,
    /// A pause in every job: slows a run down for failure drills (killing
    /// processes mid-run in tests); zero in production.
    pub job_delay: Duration,
    /// Where the pause goes.
    pub delay_at: DelayPoint,
}

/// Runs the worker until `shutdown` is cancelled or the queue closes.
pub async fn run_worker(backends: Backends, options: WorkerOptions, shutdown: CancellationToken) {
    let cache = Arc::new(ContextCache::default());
    let tracker = TaskTracker::new();
    for slot in 0..options.concurrency.max(1) {
        let (backends, cache, shutdown) = (backends.clone(), cache.clone(), shutdown.clone());
        let options = options.clone();
        tracker.spawn(async move {
            loop {
                let next = tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break,
                    next = backends.queue.next() => next,
                };
                match next {
                    Ok(Some(delivery)) => handle(&backends, &cache, &options, delivery).await,
                    Ok(None) => break,
                    Err(e) => {
                        warn!(slot, error = %e, "cannot take a job; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }
    tracker.close();
    tracker.wait().await;
    // Jobs taken ahead (a broker's prefetch) go back for other workers now,
    // not when this process exits.
    if let Err(e) = backends.queue.stop_consuming().await {
        warn!(error = %e, "cannot hand back the jobs taken ahead; the broker will on disconnect");
    }
}

/// The pause before handing back attempt `attempt`: 1, 2, 4, 8 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.saturating_sub(1).min(3))
}

async fn settle(acker: Box<dyn rapport_backend::queue::Acker>, requeue: Option<bool>) {
    let result = match requeue {
        None => acker.ack().await,
        Some(requeue) => acker.nack(requeue).await,
    };
    if let Err(e) = result {
        // The broker will redeliver; the job's effects are idempotent.
        warn!(error = %e, "cannot settle the delivery");
    }
}

async fn handle(
    backends: &Backends,
    cache: &ContextCache,
    options: &WorkerOptions,
    delivery: Delivery,
) {
    let Delivery {
        envelope,
        redelivered,
        acker,
    } = delivery;
    match envelope {
        Ok(envelope) => {
            let span = info_span!("job", run_id = %envelope.run_id, job_id = %envelope.job.id());
            let phase = envelope.job.phase;
            let started = std::time::Instant::now();
            let mut outcome = Outcome::Dropped;
            let requeue = handle_job(
                backends,
                cache,
                options,
                envelope,
                redelivered,
                &mut outcome,
            )
            .instrument(span)
            .await;
            let outcome = if requeue.is_some() {
                Outcome::Retried
            } else {
                outcome
            };
            count_job(&options.metrics, phase, outcome, started.elapsed());
            settle(acker, requeue).await;
        }
        Err(EnvelopeError::Version { version, run_id }) => {
            let span = info_span!("job", run_id = %run_id);
            let what = format!("message-version-{version}");
            let seen = backends.store.count_attempt(&run_id, &what).await;
            let again = seen
                .as_ref()
                .map_or(true, |n| *n < FOREIGN_VERSION_DELIVERIES);
            span.in_scope(|| {
                warn!(
                    version,
                    again, "a job message of another version; handing it back"
                )
            });
            if again {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            settle(acker, Some(again)).await;
        }
        Err(e) => {
            warn!(error = %e, "dropping an unreadable job message to the dead-letter queue");
            settle(acker, Some(false)).await;
        }
    }
}

/// How handling a job ended, as `/metrics` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Its effects are stored.
    Done,
    /// Handed back to the queue, to be taken again.
    Retried,
    /// Its failure is recorded: the run fails or heals.
    Failed,
    /// Not run: the run was cancelled or moved on, or the job was done.
    Dropped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Retried => "retried",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
        }
    }
}

fn count_job(metrics: &Metrics, phase: Phase, outcome: Outcome, took: Duration) {
    let phase = phase.name().to_owned();
    metrics.add(
        "rapport_jobs_total",
        vec![
            ("phase", phase.clone()),
            ("outcome", outcome.label().to_owned()),
        ],
        1.0,
    );
    if outcome == Outcome::Done {
        metrics.observe(
            "rapport_job_duration_seconds",
            vec![("phase", phase)],
            took.as_secs_f64(),
        );
    }
}

/// Runs one job; returns how to settle it: `None` ack, `Some(true)` hand
/// it back; `outcome` says how it ended when it is acked.
async fn handle_job(
    backends: &Backends,
    cache: &ContextCache,
    options: &WorkerOptions,
    envelope: JobEnvelope,
    redelivered: bool,
    outcome: &mut Outcome,
) -> Option<bool> {
    let (run, job, epoch) = (envelope.run_id.as_str(), envelope.job, envelope.epoch);
    match backends.registry.is_cancelled(run).await {
        Ok(true) => {
            debug!("run cancelled; dropping its job");
            return None;
        }
        Ok(false) => {}
        // Running the job anyway is harmless: its effects are idempotent.
        Err(e) => warn!(error = %e, "cannot check whether the run was cancelled"),
    }
    match backends.store.epoch(run).await {
        Ok(Some(current)) if current == epoch => {}
        Ok(_) => {
            debug!("the run is not in this job's epoch; dropping the job");
            return None;
        }
        Err(e) => {
            warn!(error = %e, "cannot read the run's epoch; handing the job back");
            tokio::time::sleep(backoff(1)).await;
            return Some(true);
        }
    }
    if redelivered {
        // Counted for the run's recovery report: the drills read it.
        if let Err(e) = backends.store.count_attempt(run, REDELIVERIES).await {
            warn!(error = %e, "cannot count a redelivery");
        }
    }
    if backends.store.is_done(run, job).await.unwrap_or(false) {
        debug!("the job is done already (a duplicate delivery); dropping it");
        return None;
    }
    let attempt = match backends.store.count_attempt(run, &job.id()).await {
        Ok(n) => n,
        Err(e) => {
            warn!(error = %e, "cannot count the attempt; handing the job back");
            tokio::time::sleep(backoff(1)).await;
            return Some(true);
        }
    };
    if attempt > MAX_ATTEMPTS {
        let failure = JobFailure::fatal(format!(
            "taken {} times without completing (its workers died or could not store it)",
            attempt - 1
        ));
        return record_failure(backends, run, epoch, job, failure, outcome).await;
    }
    if options.delay_at == DelayPoint::BeforeJob {
        tokio::time::sleep(options.job_delay).await;
    }
    let result = match cache.get(backends, run).await {
        Ok(ctx) => execute(backends, ctx, job).await,
        Err(e) => Err(e),
    };
    let stored = match result {
        Ok(writes) => backends
            .store
            .complete_job(run, epoch, job, writes)
            .await
            .map_err(JobError::from),
        Err(e) => Err(e),
    };
    match stored {
        Ok(Stored::Yes) => {
            *outcome = Outcome::Done;
            debug!(attempt, peak_rss_kb = peak_rss_kb(), "job done");
            if options.delay_at == DelayPoint::AfterStore {
                tokio::time::sleep(options.job_delay).await;
            }
            None
        }
        Ok(Stored::StaleEpoch) => {
            debug!("the run left this job's epoch while it ran; nothing stored");
            None
        }
        Err(JobError::Retryable(e)) if attempt < MAX_ATTEMPTS => {
            warn!(error = %e, attempt, "job failed; handing it back");
            if let Err(e) = backends.store.count_attempt(run, RETRIES).await {
                warn!(error = %e, "cannot count a retry");
            }
            tokio::time::sleep(backoff(attempt)).await;
            Some(true)
        }
        Err(e @ JobError::Lost { .. }) => {
            warn!(error = %e, "an input of the job is lost");
            let JobError::Lost { producer, .. } = &e else {
                unreachable!("matched above")
            };
            let failure = JobFailure {
                error: e.to_string(),
                lost: Some(*producer),
            };
            record_failure(backends, run, epoch, job, failure, outcome).await
        }
        Err(e) => {
            warn!(error = %e, attempt, "job failed for good");
            let failure = JobFailure::fatal(match e {
                JobError::Retryable(e) => format!("{e} (after {attempt} attempts)"),
                other => other.to_string(),
            });
            record_failure(backends, run, epoch, job, failure, outcome).await
        }
    }
}

async fn record_failure(
    backends: &Backends,
    run: &str,
    epoch: u64,
    job: rapport_common::plan::Job,
    failure: JobFailure,
    outcome: &mut Outcome,
) -> Option<bool> {
    match backends.store.fail_job(run, epoch, job, &failure).await {
        Ok(_) => {
            *outcome = Outcome::Failed;
            None
        }
        Err(e) => {
            warn!(error = %e, "cannot record the failure; handing the job back");
            tokio::time::sleep(backoff(1)).await;
            Some(true)
        }
    }
}

/// The process's peak resident memory (Linux), for the job-done log line.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
