//! Drives one epoch of a run through its phases: publishes the jobs not
//! done, waits for them, and heals what it can on the way.
//!
//! - **Lost output.** A job that finds an input lost (a staged blob missing,
//!   truncated or altered, or a store entry gone) fails naming the job that
//!   produced it. The driver runs that producer again (its own inputs are
//!   still there, or it fails naming them in turn, back to the input files),
//!   then the consumer. A producer is recomputed at most
//!   [`MAX_RECOMPUTES`] times; past that the run fails naming the blob.
//! - **Lost state.** Each poll checks the run's epoch: gone or changed, the
//!   run's store state is lost, and the caller restarts the run from its plan.
//! - **Dead letters** are recorded as failed jobs before they are acked.
//! - **Stalls.** With no job completing for [`Limits::stall`] the run fails;
//!   on the way, a watchdog publishes again the jobs not done when the queue
//!   holds none (their messages were lost; duplicates are dropped by workers).
//!
//! A run keeps at most [`Limits::jobs_in_flight`] of its jobs in the queue
//! or in workers' hands, publishing the next as others are done: runs that
//! execute at once share one queue, and so the workers, in turns, and a
//! small run's jobs wait behind at most that many of each other run's.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use rapport_backend::{Backends, JobFailure, PhaseProgress};
use rapport_common::plan::{jobs_of, EnvelopeError, Job, JobEnvelope, Phase, RunContext};
use rapport_common::report::Recovery;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::executor::{ExecuteError, ProgressSink};

/// Times one job's output may be recomputed in a run.
pub const MAX_RECOMPUTES: u32 = 3;

/// Longest wait between two progress checks.
const PROGRESS_POLL: Duration = Duration::from_millis(25);

/// How long a run may wait, and on what; how much of the queue it may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// No job completed for this long: the run fails.
    pub stall: Duration,
    /// The queue or store unreachable for this long: the run fails.
    pub outage: Duration,
    /// A pause before the outputs are committed (zero; fault drills set it
    /// to aim at the write phase, which otherwise lasts a fraction of a second).
    pub write_pause: Duration,
    /// Jobs of the run in the queue or in workers' hands at most: at least
    /// twice the workers' slots keeps them all busy; fewer shares them more
    /// evenly between runs executing at once.
    pub jobs_in_flight: usize,
}

/// Default of [`Limits::jobs_in_flight`].
pub const JOBS_IN_FLIGHT: usize = 8;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            stall: Duration::from_secs(15 * 60),
            outage: Duration::from_secs(120),
            write_pause: Duration::ZERO,
            jobs_in_flight: JOBS_IN_FLIGHT,
        }
    }
}

impl Limits {
    /// How long the driver waits without progress before publishing again
    /// jobs that may have been lost.
    fn watchdog(&self) -> Duration {
        (self.stall / 5).max(Duration::from_secs(1))
    }
}

/// One epoch of one run.
pub struct Driver<'a> {
    pub(crate) backends: &'a Backends,
    pub(crate) ctx: &'a RunContext,
    pub(crate) epoch: u64,
    pub(crate) progress: &'a dyn ProgressSink,
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) limits: Limits,
    /// What the driver published and recomputed (for the report).
    pub(crate) recovery: Recovery,
    /// Recomputations so far, per job.
    recomputes: HashMap<Job, u32>,
    /// A clock ticking at each recomputation: when each job was last
    /// published, and when each producer was last recomputed.
    clock: u64,
    published_at: HashMap<Job, u64>,
    recomputed_at: HashMap<Job, u64>,
}

impl<'a> Driver<'a> {
    /// A driver of `ctx` in `epoch`.
    pub fn new(
        backends: &'a Backends,
        ctx: &'a RunContext,
        epoch: u64,
        progress: &'a dyn ProgressSink,
        cancel: &'a CancellationToken,
        limits: Limits,
    ) -> Driver<'a> {
        Driver {
            backends,
            ctx,
            epoch,
            progress,
            cancel,
            limits,
            recovery: Recovery::default(),
            recomputes: HashMap::new(),
            clock: 0,
            published_at: HashMap::new(),
            recomputed_at: HashMap::new(),
        }
    }

    fn run(&self) -> &'a str {
        &self.ctx.run_id
    }

    /// Publishes the phase's jobs not done (nor failed, which the wait
    /// handles), a window at a time, and waits until all are done; returns
    /// the phase's job count.
    pub async fn run_phase(&mut self, phase: Phase) -> Result<u64, ExecuteError> {
        let jobs = jobs_of(phase, self.ctx);
        let total = jobs.len() as u64;
        self.progress.phase_started(phase, total);
        let done = self.done_set(phase).await?;
        let progress = self.backends.store.progress(self.run(), phase).await?;
        let failed: BTreeSet<&str> = progress.failed.iter().map(|(j, _)| j.as_str()).collect();
        let mut todo: VecDeque<Job> = jobs
            .iter()
            .filter(|j| !done.contains(&j.id()) && !failed.contains(j.id().as_str()))
            .copied()
            .collect();
        let first = todo.len().min(self.limits.jobs_in_flight.max(1));
        if first > 0 {
            self.publish(todo.drain(..first).collect()).await?;
        }
        self.wait(phase, &jobs, &mut todo).await?;
        Ok(total)
    }

    /// Publishes more of `unpublished` while fewer than the window are in
    /// flight: `done` of the phase's `total` jobs are done.
    async fn publish_more(
        &mut self,
        total: u64,
        done: u64,
        unpublished: &mut VecDeque<Job>,
    ) -> Result<(), ExecuteError> {
        let in_flight = (total - unpublished.len() as u64).saturating_sub(done);
        let room = (self.limits.jobs_in_flight.max(1) as u64).saturating_sub(in_flight);
        let more = unpublished.len().min(room as usize);
        if more > 0 {
            self.publish(unpublished.drain(..more).collect()).await?;
        }
        Ok(())
    }

    /// Ids of the phase's done jobs.
    async fn done_set(&self, phase: Phase) -> Result<BTreeSet<String>, ExecuteError> {
        let done = self.backends.store.done_jobs(self.run(), phase).await?;
        Ok(done.into_iter().collect())
    }

    /// Publishes jobs in this epoch, and counts them.
    pub async fn publish(&mut self, jobs: Vec<Job>) -> Result<(), ExecuteError> {
        for job in &jobs {
            *self
                .recovery
                .published
                .entry(job.phase.name().to_owned())
                .or_default() += 1;
            self.published_at.insert(*job, self.clock);
        }
        self.progress.recovery(&self.recovery);
        let envelopes = jobs
            .into_iter()
            .map(|job| JobEnvelope::new(self.run(), self.epoch, job))
            .collect();
        self.backends.queue.publish(envelopes).await?;
        Ok(())
    }

    /// Waits until every job of `wanted` (of one phase) is done, publishing
    /// `unpublished` (of the whole phase) as the window allows.
    async fn wait(
        &mut self,
        phase: Phase,
        wanted: &[Job],
        unpublished: &mut VecDeque<Job>,
    ) -> Result<(), ExecuteError> {
        let whole_phase = wanted.len() == jobs_of(phase, self.ctx).len();
        let ids: BTreeSet<String> = wanted.iter().map(Job::id).collect();
        let mut failing_since: Option<Instant> = None;
        let mut last_done = u64::MAX;
        let mut moved_at = Instant::now();
        let mut watchdog_at = Instant::now();
        loop {
            match self.poll(phase).await {
                Ok(p) => {
                    failing_since = None;
                    let failed: Vec<(String, JobFailure)> = p
                        .failed
                        .into_iter()
                        .filter(|(job, _)| ids.contains(job))
                        .collect();
                    if !failed.is_empty() {
                        self.heal(phase, failed).await?;
                        moved_at = Instant::now();
                        continue;
                    }
                    if whole_phase {
                        self.progress.jobs_done(p.done);
                        self.publish_more(wanted.len() as u64, p.done, unpublished)
                            .await?;
                    }
                    let done = if whole_phase {
                        p.done
                    } else {
                        let done = self.backends.store.done_jobs(self.run(), phase).await?;
                        done.iter().filter(|j| ids.contains(*j)).count() as u64
                    };
                    if done >= wanted.len() as u64 {
                        return Ok(());
                    }
                    if done != last_done {
                        (last_done, moved_at, watchdog_at) = (done, Instant::now(), Instant::now());
                    } else if moved_at.elapsed() > self.limits.stall {
                        return Err(ExecuteError::Stalled {
                            phase: phase.name(),
                            seconds: self.limits.stall.as_secs(),
                        });
                    } else if watchdog_at.elapsed() > self.limits.watchdog() {
                        watchdog_at = Instant::now();
                        self.republish_if_lost(phase, &ids, unpublished).await?;
                    }
                }
                Err(ExecuteError::Backend(e)) => {
                    // The queue and store reconnect by themselves: a lost
                    // connection is a pause, not a failed run, unless it lasts.
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > self.limits.outage {
                        return Err(e.into());
                    }
                    warn!(run_id = self.run(), error = %e, "cannot read progress; retrying");
                }
                Err(other) => return Err(other),
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(ExecuteError::Cancelled),
                _ = self.backends.store.wait_for_change(PROGRESS_POLL) => {}
            }
        }
    }

    /// Records dead letters, checks the cancel mark (set by whichever
    /// coordinator took the request) and the epoch, reads the phase's progress.
    async fn poll(&mut self, phase: Phase) -> Result<PhaseProgress, ExecuteError> {
        self.record_dead_letters().await?;
        if self.backends.registry.is_cancelled(self.run()).await? {
            return Err(ExecuteError::Cancelled);
        }
        if self.backends.store.epoch(self.run()).await? != Some(self.epoch) {
            return Err(ExecuteError::StateLost);
        }
        Ok(self.backends.store.progress(self.run(), phase).await?)
    }

    /// Turns dead letters into failed jobs, each acked once recorded.
    async fn record_dead_letters(&self) -> Result<(), ExecuteError> {
        for dead in self.backends.queue.take_dead_letters().await? {
            match &dead.envelope {
                Ok(envelope) => {
                    let failure = JobFailure::fatal(format!(
                        "delivered {} times without completing (its workers died, or none could take it)",
                        rapport_backend::rabbit_queue::DELIVERY_LIMIT
                    ));
                    let stored = self
                        .backends
                        .store
                        .fail_job(&envelope.run_id, envelope.epoch, envelope.job, &failure)
                        .await;
                    if let Err(e) = stored {
                        let _ = dead.acker.nack(true).await;
                        return Err(e.into());
                    }
                    dead.acker.ack().await?;
                }
                Err(EnvelopeError::Version { version, run_id }) => {
                    let ours = run_id == self.run();
                    let error = format!(
                        "a job message of version {version} went unread: no worker of that version took it"
                    );
                    dead.acker.ack().await?;
                    if ours {
                        return Err(ExecuteError::JobFailed {
                            job: "job message".to_owned(),
                            error,
                        });
                    }
                    warn!(run_id = %run_id, "{error}");
                }
                Err(e) => {
                    warn!(error = %e, "dropping an unreadable dead letter");
                    dead.acker.ack().await?;
                }
            }
        }
        Ok(())
    }

    /// Failed jobs of `phase`: those that lost an input are run again
    /// after their producers; any other failure ends the run.
    async fn heal(
        &mut self,
        phase: Phase,
        failed: Vec<(String, JobFailure)>,
    ) -> Result<(), ExecuteError> {
        let mut consumers = Vec::new();
        let mut producers: std::collections::BTreeMap<Job, String> = Default::default();
        for (id, failure) in failed {
            let Some(producer) = failure.lost else {
                return Err(ExecuteError::JobFailed {
                    job: id,
                    error: failure.error,
                });
            };
            let consumer = jobs_of(phase, self.ctx)
                .into_iter()
                .find(|j| j.id() == id)
                .ok_or_else(|| ExecuteError::JobFailed {
                    job: id.clone(),
                    error: "not a job of this run".to_owned(),
                })?;
            // Recomputed since the consumer was published: it read the old
            // output, so running it again is enough.
            let stale = self.recomputed_at.get(&producer).copied().unwrap_or(0)
                > self.published_at.get(&consumer).copied().unwrap_or(0);
            if !stale {
                let n = self.recomputes.entry(producer).or_default();
                *n += 1;
                if *n > MAX_RECOMPUTES {
                    return Err(ExecuteError::Lost {
                        times: MAX_RECOMPUTES,
                        error: failure.error,
                    });
                }
                warn!(run_id = self.run(), job = %consumer.id(), producer = %producer.id(), error = %failure.error, "input lost; recomputing it");
                producers.insert(producer, failure.error);
            }
            consumers.push(consumer);
        }
        for (producer, loss) in producers {
            Box::pin(self.recompute(producer))
                .await
                .map_err(|e| cannot_recompute(&loss, e))?;
        }
        for consumer in &consumers {
            self.backends.store.undo_job(self.run(), *consumer).await?;
        }
        self.publish(consumers).await
    }

    /// Runs a done job again, whose output was lost, and waits for it.
    async fn recompute(&mut self, job: Job) -> Result<(), ExecuteError> {
        self.recovery.recomputed.push(job.id());
        self.backends.store.undo_job(self.run(), job).await?;
        self.publish(vec![job]).await?;
        self.wait(job.phase, &[job], &mut VecDeque::new()).await?;
        self.clock += 1;
        self.recomputed_at.insert(job, self.clock);
        info!(run_id = self.run(), job = %job.id(), "lost output recomputed");
        Ok(())
    }

    /// The watchdog: with nothing waiting in the queue and published jobs
    /// not done, their messages may be gone; publish them again.
    async fn republish_if_lost(
        &mut self,
        phase: Phase,
        ids: &BTreeSet<String>,
        unpublished: &VecDeque<Job>,
    ) -> Result<(), ExecuteError> {
        if self.backends.queue.waiting().await? > 0 {
            return Ok(());
        }
        let done = self.done_set(phase).await?;
        let unpublished: HashSet<&Job> = unpublished.iter().collect();
        let missing: Vec<Job> = jobs_of(phase, self.ctx)
            .into_iter()
            .filter(|j| ids.contains(&j.id()) && !done.contains(&j.id()))
            .filter(|j| !unpublished.contains(j))
            .collect();
        if !missing.is_empty() {
            warn!(
                run_id = self.run(),
                phase = phase.name(),
                jobs = missing.len(),
                "no progress and no job waiting: publishing the jobs not done again"
            );
            self.recovery.watchdog_republished += missing.len() as u64;
            self.publish(missing).await?;
        }
        Ok(())
    }

    /// Heals a lost input of the writer: runs its producer again.
    pub async fn recompute_for_writer(
        &mut self,
        producer: Job,
        error: String,
    ) -> Result<(), ExecuteError> {
        let n = self.recomputes.entry(producer).or_default();
        *n += 1;
        if *n > MAX_RECOMPUTES {
            return Err(ExecuteError::Lost {
                times: MAX_RECOMPUTES,
                error,
            });
        }
        warn!(run_id = self.run(), producer = %producer.id(), error = %error, "an output part is lost; recomputing it");
        self.recompute(producer)
            .await
            .map_err(|e| cannot_recompute(&error, e))
    }
}

/// A loss that recomputing could not heal: names both.
fn cannot_recompute(loss: &str, e: ExecuteError) -> ExecuteError {
    match e {
        ExecuteError::JobFailed { job, error } => ExecuteError::JobFailed {
            job,
            error: format!("{error}; it was recomputing what was lost: {loss}"),
        },
        other => other,
    }
}
