//! The coordinator as a long-running service: accepts runs, keeps their
//! records in the registry, and executes them one at a time in submission
//! order. A run found `running` at start-up was interrupted by a restart and
//! resumes where its phases stand. Cancel stops a run within a poll
//! interval: its waiting jobs are purged, workers drop any in flight.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_backend::{BackendError, Backends};
use rapport_common::plan::{Phase, RunContext};
use rapport_worker::jobs::context_path;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::executor::{cleanup, execute_run, ExecuteError, ProgressSink, RunSpec};
use crate::planner::{new_run_id, plan_run, PlanOptions};
use crate::run_record::{RunRecord, RunStatus};
use crate::tenant_loader::{load_tenant, LoadError};

/// How often the runner looks for work when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often a running run's progress is written to its record.
const PROGRESS_FLUSH: Duration = Duration::from_millis(500);
/// Runs the list shows and the runner scans.
const RUNS_LISTED: usize = 200;

/// Why an operator request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The tenant cannot be run (bad configuration or input).
    #[error(transparent)]
    Invalid(#[from] LoadError),
    /// No such run.
    #[error("no run {0}")]
    NotFound(String),
    /// The run already ended.
    #[error("run {0} already ended")]
    Finished(String),
    /// The registry failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The coordinator service.
pub struct Coordinator {
    backends: Backends,
    mode: String,
    wake: Notify,
    current: Mutex<Option<(String, CancellationToken)>>,
}

fn decode(text: &str) -> Result<RunRecord, BackendError> {
    serde_json::from_str(text)
        .map_err(|e| BackendError::Store(format!("unreadable run record: {e}")))
}

impl Coordinator {
    /// A coordinator over `backends`.
    pub fn new(backends: Backends) -> Arc<Coordinator> {
        Arc::new(Coordinator {
            backends,
            mode: "cluster".to_owned(),
            wake: Notify::new(),
            current: Mutex::new(None),
        })
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    async fn save(&self, record: &RunRecord) -> Result<(), BackendError> {
        let json = serde_json::to_string(record).expect("a run record always serialises");
        self.backends
            .registry
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
        let texts = self.backends.registry.list_runs(RUNS_LISTED).await?;
        Ok(texts.iter().map(|t| decode(t)).collect::<Result<_, _>>()?)
    }

    /// Checks the tenant and queues a run of it.
    pub async fn submit(
        &self,
        config: PathBuf,
        out: PathBuf,
        rerun_of: Option<String>,
    ) -> Result<RunRecord, RequestError> {
        let tenant = load_tenant(&config)?;
        let record = RunRecord::queued(
            new_run_id(),
            tenant.settings.id.clone(),
            tenant.config_path.display().to_string(),
            std::path::absolute(&out)
                .unwrap_or(out)
                .display()
                .to_string(),
            rerun_of,
        );
        self.save(&record).await?;
        info!(run_id = %record.run_id, "run queued");
        self.wake.notify_one();
        Ok(record)
    }

    /// A new run with the inputs and output of `run`.
    pub async fn rerun(&self, run: &str) -> Result<RunRecord, RequestError> {
        let old = self.get(run).await?;
        self.submit(
            PathBuf::from(old.config),
            PathBuf::from(old.out),
            Some(old.run_id),
        )
        .await
    }

    /// Cancels a queued or running run.
    pub async fn cancel(&self, run: &str) -> Result<RunRecord, RequestError> {
        let mut record = self.get(run).await?;
        if record.status.is_final() {
            return Err(RequestError::Finished(run.to_owned()));
        }
        self.backends.registry.set_cancelled(run).await?;
        let running = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match running {
            Some((id, token)) if id == run => {
                token.cancel();
                let purged = self.backends.queue.purge().await?;
                info!(run_id = run, purged, "run cancelled; queued jobs purged");
            }
            _ => {
                record.status = RunStatus::Cancelled;
                record.finished_at = Some(chrono::Utc::now().to_rfc3339());
                self.save(&record).await?;
            }
        }
        Ok(record)
    }

    /// Executes runs until `shutdown`; a run interrupted by shutdown stays
    /// `running` and resumes at the next start.
    pub async fn run_loop(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            match self.next_run().await {
                Ok(Some(record)) => self.execute(record, &shutdown).await,
                Ok(None) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot read the run registry; retrying");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    /// The oldest interrupted run, else the oldest queued one.
    async fn next_run(&self) -> Result<Option<RunRecord>, RequestError> {
        let mut runs = self.list().await?;
        runs.reverse();
        Ok(runs
            .iter()
            .find(|r| r.status == RunStatus::Running)
            .or_else(|| runs.iter().find(|r| r.status == RunStatus::Queued))
            .cloned())
    }

    async fn execute(&self, mut record: RunRecord, shutdown: &CancellationToken) {
        let run = record.run_id.clone();
        let token = shutdown.child_token();
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((run.clone(), token.clone()));
        let resumed = record.status == RunStatus::Running;
        record.status = RunStatus::Running;
        record
            .started_at
            .get_or_insert_with(|| chrono::Utc::now().to_rfc3339());
        if let Err(e) = self.save(&record).await {
            warn!(run_id = %run, error = %e, "cannot record the run's start");
        }
        info!(run_id = %run, resumed, "run starts");
        let progress = Arc::new(SharedProgress::default());
        let flusher = self.spawn_flusher(record.clone(), progress.clone());
        let result = self
            .execute_phases(&record, progress.as_ref(), &token)
            .await;
        flusher.abort();
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;

        let mut record = self.get(&run).await.unwrap_or(record);
        let (phase, done, total) = progress.snapshot();
        record.phase = phase.map(|p| p.name().to_owned());
        record.jobs_done = done;
        record.jobs_total = total;
        match result {
            Err(ExecuteError::Cancelled) if shutdown.is_cancelled() => {
                info!(run_id = %run, "coordinator stopping; the run resumes at the next start");
                let _ = self.save(&record).await;
                return;
            }
            Ok(outcome) => {
                record.status = RunStatus::Succeeded;
                record.rows = Some(outcome.report.rows);
                record.phase_seconds = outcome.report.phase_seconds;
                info!(run_id = %run, rows = outcome.report.rows, "run succeeded");
            }
            Err(ExecuteError::Cancelled) => {
                record.status = RunStatus::Cancelled;
                let _ = self.backends.queue.purge().await;
                info!(run_id = %run, "run cancelled");
            }
            Err(e) => {
                record.status = RunStatus::Failed;
                record.error = Some(e.to_string());
                error!(run_id = %run, error = %e, "run failed");
            }
        }
        record.finished_at = Some(chrono::Utc::now().to_rfc3339());
        if let Err(e) = self.save(&record).await {
            warn!(run_id = %run, error = %e, "cannot record the run's end");
        }
        cleanup(&self.backends, &run).await;
    }

    async fn execute_phases(
        &self,
        record: &RunRecord,
        progress: &dyn ProgressSink,
        token: &CancellationToken,
    ) -> Result<crate::executor::RunOutcome, ExecuteError> {
        let tenant = load_tenant(std::path::Path::new(&record.config)).map_err(|e| {
            ExecuteError::JobFailed {
                job: "plan".to_owned(),
                error: e.to_string(),
            }
        })?;
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
            mode: &self.mode,
        };
        execute_run(&self.backends, spec, progress, token).await
    }

    fn spawn_flusher(
        &self,
        record: RunRecord,
        progress: Arc<SharedProgress>,
    ) -> tokio::task::JoinHandle<()> {
        let registry = self.backends.registry.clone();
        tokio::spawn(async move {
            let mut record = record;
            loop {
                tokio::time::sleep(PROGRESS_FLUSH).await;
                let (phase, done, total) = progress.snapshot();
                record.phase = phase.map(|p| p.name().to_owned());
                record.jobs_done = done;
                record.jobs_total = total;
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
    state: Mutex<(Option<Phase>, u64, u64)>,
}

impl SharedProgress {
    fn snapshot(&self) -> (Option<Phase>, u64, u64) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ProgressSink for SharedProgress {
    fn phase_started(&self, phase: Phase, total: u64) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (Some(phase), 0, total);
    }

    fn jobs_done(&self, done: u64) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = done;
    }
}
