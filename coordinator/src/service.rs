//! The coordinator as a long-running service: accepts runs, keeps their
//! records in the registry, and executes up to
//! [`CoordinatorOptions::concurrent_runs`] of them at once, oldest first
//! (interrupted runs before queued ones). Runs of one tenant, or into one
//! output folder, execute one after the other in submission order. Runs
//! executing at once share the workers in turns (each keeps at most
//! [`Limits::jobs_in_flight`] jobs out), so a small run is not stuck behind
//! a large one. A run found `running` at start-up was interrupted by a
//! restart and resumes where its phases stand. Cancel stops a run within a
//! poll interval: workers drop its jobs still queued or in flight.
//!
//! [`runner`] picks the runs to execute. With a lease ([`leadership`]),
//! only the coordinator holding it executes runs and fires schedules
//! ([`scheduler`]); the others serve requests
//! ([`requests`]) and stand by. Every minute the leader keeps house
//! ([`housekeeping`]). [`metrics`] is what `/metrics` shows.
//!
//! The registry is read tolerantly: a record that does not decode is logged
//! and skipped, never blocking the others; the scheduler sees every queued
//! run. Records of ended runs are kept for [`Retention`] (30 days or 1,000
//! runs by default); a janitor removes what ended or unknown runs left in
//! staging and the store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_backend::layout::context_path;
use rapport_backend::lease::Lease;
use rapport_backend::metrics::Metrics;
use rapport_backend::{BackendError, Backends};
use rapport_common::plan::{Phase, RunContext};
use rapport_common::report::Recovery;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::driver::Limits;
use crate::history::HistorySettings;
use crate::results_cache::ResultsCache;

pub mod housekeeping;
pub mod leadership;
pub mod metrics;
pub mod requests;
pub mod runner;
pub mod scheduler;
use crate::executor::{
    add_worker_counts, cleanup, execute_run_with, ExecuteError, ProgressSink, RunSpec,
};
use crate::planner::{plan_run, PlanOptions};
use crate::run_record::{RunRecord, RunStatus};
use crate::tenant_loader::{FileCaps, LoadError};

/// How often the runner looks for work when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often a running run's progress is written to its record.
const PROGRESS_FLUSH: Duration = Duration::from_millis(500);
/// Runs the list shows.
const RUNS_LISTED: usize = 200;
/// How often retention and the janitor run.
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// How long ended runs' records are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Records of runs that ended longer ago than this are removed.
    pub max_age: Duration,
    /// At most this many ended runs are kept (the newest).
    pub max_runs: usize,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_runs: 1000,
        }
    }
}

/// How a coordinator runs.
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// Run record retention.
    pub retention: Retention,
    /// How long a run may wait without progress or servers.
    pub limits: Limits,
    /// Limits on what loading a tenant reads.
    pub file_caps: FileCaps,
    /// How long loading a tenant may take.
    pub read_timeout: Duration,
    /// Where succeeded runs are kept, if anywhere.
    pub history: Option<HistorySettings>,
    /// Runs executed at once, at most.
    pub concurrent_runs: usize,
}

/// Default of [`CoordinatorOptions::concurrent_runs`].
pub const CONCURRENT_RUNS: usize = 4;

impl Default for CoordinatorOptions {
    fn default() -> CoordinatorOptions {
        CoordinatorOptions {
            retention: Retention::default(),
            limits: Limits::default(),
            file_caps: FileCaps::default(),
            read_timeout: Duration::from_secs(10),
            history: None,
            concurrent_runs: CONCURRENT_RUNS,
        }
    }
}

/// Why an operator request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The tenant cannot be run (bad configuration or input).
    #[error(transparent)]
    Invalid(#[from] LoadError),
    /// No such run.
    #[error("no run {0}")]
    NotFound(String),
    /// No such schedule.
    #[error("no schedule {0}")]
    NoSchedule(String),
    /// A schedule that cannot be made.
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    /// The run already ended.
    #[error("run {0} already ended")]
    Finished(String),
    /// The registry failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The coordinator service.
pub struct Coordinator {
    /// For requests (submit, cancel, status): any coordinator serves them.
    backends: Backends,
    /// For executing runs: state writes fenced by the lease.
    exec: Backends,
    /// The namespace's lease; `None`: this coordinator always leads.
    lease: Option<Lease>,
    leading: AtomicBool,
    options: CoordinatorOptions,
    mode: String,
    wake: Notify,
    /// The runs being executed, by id.
    executing: Mutex<HashMap<String, runner::Executing>>,
    /// The records of runs this coordinator left unfinished (stopping,
    /// deposed, fenced), put back when it leads again if Redis lost them.
    left: Mutex<Vec<RunRecord>>,
    /// What `/metrics` serves.
    metrics: Metrics,
    /// Succeeded runs' results, as the API and the pages read them.
    results: ResultsCache,
}

fn decode(text: &str) -> Result<RunRecord, BackendError> {
    serde_json::from_str(text)
        .map_err(|e| BackendError::Store(format!("unreadable run record: {e}")))
}

impl Coordinator {
    /// A coordinator over `backends`, alone on them: it always leads.
    pub fn new(backends: Backends, options: CoordinatorOptions) -> Arc<Coordinator> {
        Coordinator::build(backends.clone(), backends, None, options)
    }

    /// A coordinator that leads while it holds `lease`, executing runs on
    /// `exec` (whose state writes the lease fences), serving requests on
    /// `backends` whether it leads or not.
    pub fn with_lease(
        backends: Backends,
        exec: Backends,
        lease: Lease,
        options: CoordinatorOptions,
    ) -> Arc<Coordinator> {
        Coordinator::build(backends, exec, Some(lease), options)
    }

    fn build(
        backends: Backends,
        exec: Backends,
        lease: Option<Lease>,
        options: CoordinatorOptions,
    ) -> Arc<Coordinator> {
        let results = ResultsCache::new(backends.data_roots.stores().clone());
        Arc::new(Coordinator {
            leading: AtomicBool::new(lease.is_none()),
            backends,
            exec,
            lease,
            options,
            mode: "cluster".to_owned(),
            wake: Notify::new(),
            executing: Mutex::new(HashMap::new()),
            left: Mutex::new(Vec::new()),
            metrics: Metrics::default(),
            results,
        })
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Where succeeded runs are kept, if anywhere.
    pub fn history(&self) -> Option<&HistorySettings> {
        self.options.history.as_ref()
    }

    /// Succeeded runs' results, read once and held.
    pub fn results(&self) -> &ResultsCache {
        &self.results
    }

    async fn save(&self, record: &RunRecord) -> Result<(), BackendError> {
        self.save_on(&self.backends, record).await
    }

    async fn save_on(&self, on: &Backends, record: &RunRecord) -> Result<(), BackendError> {
        let json = serde_json::to_string(record).expect("a run record always serialises");
        on.registry
            .put_run(&record.run_id, record.created_ms, json)
            .await
    }

    /// A run's record.
    pub async fn get(&self, run: &str) -> Result<RunRecord, RequestError> {
        match self.backends.registry.get_run(run).await? {
            Some(text) => Ok(decode(&text)?),
            None => Err(RequestError::NotFound(run.to_owned())),
        }
    }

    /// Recent runs, newest first.
    pub async fn list(&self) -> Result<Vec<RunRecord>, RequestError> {
        self.list_up_to(RUNS_LISTED).await
    }

    /// Up to `limit` runs, newest first; undecodable records are logged
    /// and skipped.
    async fn list_up_to(&self, limit: usize) -> Result<Vec<RunRecord>, RequestError> {
        let texts = self.backends.registry.list_runs(limit).await?;
        Ok(texts
            .iter()
            .filter_map(|t| {
                decode(t)
                    .inspect_err(|e| warn!(error = %e, "skipping a run record"))
                    .ok()
            })
            .collect())
    }

    /// Executes a run to its end, or until `stop` (shutdown or deposed);
    /// `token` is `stop`'s child that a cancel request fires.
    async fn execute(
        &self,
        mut record: RunRecord,
        stop: &CancellationToken,
        token: CancellationToken,
    ) {
        let run = record.run_id.clone();
        // A cancel that came while the run was being picked up.
        if self
            .backends
            .registry
            .is_cancelled(&run)
            .await
            .unwrap_or(false)
        {
            token.cancel();
        }
        let resumed = record.status == RunStatus::Running;
        // Taken over from a coordinator that died or stepped down.
        let takeovers = record.recovery.as_ref().map_or(0, |r| r.resumed) + u32::from(resumed);
        record.status = RunStatus::Running;
        record
            .started_at
            .get_or_insert_with(|| chrono::Utc::now().to_rfc3339());
        if let Err(e) = self.save_on(&self.exec, &record).await {
            warn!(run_id = %run, error = %e, "cannot record the run's start");
        }
        info!(run_id = %run, resumed, "run starts");
        let progress = Arc::new(SharedProgress::default());
        let flusher = self.spawn_flusher(record.clone(), progress.clone());
        let result = self
            .execute_phases(&record, takeovers, progress.as_ref(), &token)
            .await;
        flusher.abort();

        let mut record = self.get(&run).await.unwrap_or(record);
        progress.snapshot().apply_to(&mut record);
        let deposed = matches!(
            result,
            Err(ExecuteError::Backend(BackendError::Fenced))
                | Err(ExecuteError::Output(crate::writer::WriteError::Backend(
                    BackendError::Fenced
                )))
        );
        if deposed {
            info!(run_id = %run, "this coordinator's writes are fenced; the run resumes under the leader");
            self.left_unfinished(record);
            return;
        }
        match result {
            // Stopping, deposed, or the lease lost with Redis's state: the
            // run stays running for whoever leads next (this coordinator too).
            Err(ExecuteError::Cancelled) if stop.is_cancelled() => {
                info!(run_id = %run, "coordinator stopping or deposed; the run resumes under the leader");
                let _ = self.save_on(&self.exec, &record).await;
                self.left_unfinished(record);
                return;
            }
            Ok(outcome) => {
                record.status = RunStatus::Succeeded;
                record.rows = Some(outcome.report.rows);
                self.count_run_end(&record, Some(&outcome.report));
                record.phase_seconds = outcome.report.phase_seconds;
                record.recovery = Some(outcome.report.recovery);
                info!(run_id = %run, rows = outcome.report.rows, "run succeeded");
            }
            Err(ExecuteError::Cancelled) => {
                // Its jobs still queued are dropped by the workers that take
                // them (the queue is shared with other runs: never purged).
                record.status = RunStatus::Cancelled;
                info!(run_id = %run, "run cancelled");
            }
            Err(e) => {
                record.status = RunStatus::Failed;
                record.error = Some(e.to_string());
                error!(run_id = %run, error = %e, "run failed");
            }
        }
        if record.status != RunStatus::Succeeded {
            self.count_run_end(&record, None);
        }
        // Cleaned up before the end is recorded: a client that sees the run
        // ended finds nothing of it left (the janitor sweeps stragglers).
        cleanup(&self.exec, &run).await;
        record.finished_at = Some(chrono::Utc::now().to_rfc3339());
        if let Err(e) = self.save_on(&self.exec, &record).await {
            warn!(run_id = %run, error = %e, "cannot record the run's end");
        }
    }

    async fn execute_phases(
        &self,
        record: &RunRecord,
        resumed: u32,
        progress: &dyn ProgressSink,
        token: &CancellationToken,
    ) -> Result<crate::executor::RunOutcome, ExecuteError> {
        let plan_error = |error: String| ExecuteError::JobFailed {
            job: "plan".to_owned(),
            error,
        };
        let mut tenant = self
            .load(PathBuf::from(&record.config))
            .await
            .map_err(|e| plan_error(e.to_string()))?;
        if let Some(as_of) = &record.as_of {
            tenant.settings.as_of = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d")
                .map_err(|e| plan_error(format!("the run's as_of {as_of:?}: {e}")))?;
        }
        // A resumed run keeps the plan its done jobs belong to.
        let ctx: RunContext = match self
            .backends
            .staging
            .get(&context_path(&record.run_id))
            .await
        {
            Ok(bytes) => postcard::from_bytes(&bytes).map_err(|e| ExecuteError::JobFailed {
                job: "plan".to_owned(),
                error: format!("unreadable run context: {e}"),
            })?,
            Err(BackendError::Missing(_)) => {
                plan_run(&record.run_id, &tenant, PlanOptions::default())
            }
            Err(e) => return Err(e.into()),
        };
        let spec = RunSpec {
            tenant: &tenant,
            ctx: &ctx,
            out: std::path::Path::new(&record.out),
            formats: &record.formats,
            history: self.options.history.as_ref(),
            mode: &self.mode,
            resumed,
        };
        execute_run_with(&self.exec, spec, progress, token, self.options.limits).await
    }

    fn spawn_flusher(
        &self,
        record: RunRecord,
        progress: Arc<SharedProgress>,
    ) -> tokio::task::JoinHandle<()> {
        let (registry, store) = (self.exec.registry.clone(), self.exec.store.clone());
        tokio::spawn(async move {
            let mut record = record;
            loop {
                // A new phase is shown at once, progress twice a second.
                tokio::select! {
                    _ = tokio::time::sleep(PROGRESS_FLUSH) => {}
                    _ = progress.phase_changed.notified() => {}
                }
                progress.snapshot().apply_to(&mut record);
                // The workers' counts, as the run's report will give them.
                if let Some(recovery) = record.recovery.as_mut() {
                    if let Err(e) =
                        add_worker_counts(store.as_ref(), &record.run_id, recovery).await
                    {
                        warn!(run_id = %record.run_id, error = %e, "cannot read the workers' counts");
                    }
                }
                let json = serde_json::to_string(&record).expect("a run record always serialises");
                if let Err(e) = registry
                    .put_run(&record.run_id, record.created_ms, json)
                    .await
                {
                    warn!(run_id = %record.run_id, error = %e, "cannot record progress");
                }
            }
        })
    }
}

/// Progress shared between the executor and the flusher.
#[derive(Default)]
struct SharedProgress {
    state: Mutex<Snapshot>,
    phase_changed: Notify,
}

/// What the run's record shows while it runs.
#[derive(Clone, Default)]
struct Snapshot {
    phase: Option<&'static str>,
    done: u64,
    total: u64,
    recovery: Option<Recovery>,
}

impl Snapshot {
    fn apply_to(self, record: &mut RunRecord) {
        record.phase = self.phase.map(str::to_owned);
        record.jobs_done = self.done;
        record.jobs_total = self.total;
        if self.recovery.is_some() {
            record.recovery = self.recovery;
        }
    }
}

impl SharedProgress {
    fn snapshot(&self) -> Snapshot {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl ProgressSink for SharedProgress {
    fn phase_started(&self, phase: Phase, total: u64) {
        self.update(|s| (s.phase, s.done, s.total) = (Some(phase.name()), 0, total));
        self.phase_changed.notify_one();
    }

    fn jobs_done(&self, done: u64) {
        self.update(|s| s.done = done);
    }

    fn writing(&self) {
        self.update(|s| (s.phase, s.done, s.total) = (Some("write"), 0, 0));
        self.phase_changed.notify_one();
    }

    fn recovery(&self, recovery: &Recovery) {
        self.update(|s| s.recovery = Some(recovery.clone()));
    }
}
