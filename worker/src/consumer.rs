//! The worker loop: take a delivery, run its job, store its effects and mark
//! it done in one step, then ack, never the other way round. A retryable
//! failure is handed back to the queue until the delivery limit; a permanent
//! one, or the last attempt, marks the job failed so its run ends with a
//! message naming it. On shutdown the loop stops taking jobs and finishes
//! the one in hand.

use std::sync::Arc;
use std::time::Duration;

use rapport_backend::{Backends, Delivery};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info_span, warn, Instrument};

use crate::jobs::{execute, ContextCache, JobError};

/// Deliveries of one job before it is failed for good (matches the queue's
/// delivery limit in the cluster).
pub const MAX_DELIVERIES: u32 = 5;

/// How a worker runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerOptions {
    /// Jobs run at once.
    pub concurrency: usize,
    /// A pause before each job: slows a run down for failure drills (killing
    /// processes mid-run in tests); zero in production.
    pub job_delay: Duration,
}

/// Runs the worker until `shutdown` is cancelled or the queue closes.
pub async fn run_worker(backends: Backends, options: WorkerOptions, shutdown: CancellationToken) {
    let cache = Arc::new(ContextCache::default());
    let tracker = TaskTracker::new();
    for slot in 0..options.concurrency.max(1) {
        let (backends, cache, shutdown) = (backends.clone(), cache.clone(), shutdown.clone());
        tracker.spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    next = backends.queue.next() => next,
                };
                match next {
                    Ok(Some(delivery)) => {
                        tokio::time::sleep(options.job_delay).await;
                        handle(&backends, &cache, delivery).await
                    }
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
}

async fn handle(backends: &Backends, cache: &ContextCache, delivery: Delivery) {
    let Delivery {
        envelope,
        redeliveries,
        acker,
    } = delivery;
    let envelope = match envelope {
        Ok(e) => e,
        Err(message) => {
            warn!(error = %message, "dropping an unreadable job message to the dead-letter queue");
            if let Err(e) = acker.nack(false).await {
                warn!(error = %e, "cannot dead-letter a message");
            }
            return;
        }
    };
    let job_id = envelope.job.id();
    let span = info_span!("job", run_id = %envelope.run_id, job_id = %job_id);
    async move {
        let run = &envelope.run_id;
        match backends.registry.is_cancelled(run).await {
            Ok(true) => {
                debug!("run cancelled; dropping its job");
                if let Err(e) = acker.ack().await {
                    warn!(error = %e, "cannot ack a cancelled run's job");
                }
                return;
            }
            Ok(false) => {}
            // Running the job anyway is harmless: its effects are idempotent.
            Err(e) => warn!(error = %e, "cannot check whether the run was cancelled"),
        }
        let result = match cache.get(backends, run).await {
            Ok(ctx) => execute(backends, ctx, envelope.job).await,
            Err(e) => Err(e),
        };
        let stored = match result {
            Ok(writes) => backends.store.complete_job(run, envelope.job.phase, &job_id, writes).await.map_err(JobError::from),
            Err(e) => Err(e),
        };
        let settled = match stored {
            Ok(()) => {
                debug!(peak_rss_kb = peak_rss_kb(), "job done");
                acker.ack().await
            }
            Err(JobError::Retryable(e)) if redeliveries + 1 < MAX_DELIVERIES => {
                warn!(error = %e, attempt = redeliveries + 1, "job failed; handing it back");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(redeliveries + 1))).await;
                acker.nack(true).await
            }
            Err(e) => {
                warn!(error = %e, "job failed for good");
                match backends.store.fail_job(run, envelope.job.phase, &job_id, &e.to_string()).await {
                    Ok(()) => acker.ack().await,
                    Err(store_error) => {
                        warn!(error = %store_error, "cannot record the failure; handing the job back");
                        acker.nack(true).await
                    }
                }
            }
        };
        if let Err(e) = settled {
            // The broker will redeliver; the job's effects are idempotent.
            warn!(error = %e, "cannot settle the delivery");
        }
    }
    .instrument(span)
    .await
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
