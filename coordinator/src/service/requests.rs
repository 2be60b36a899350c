//! Operator requests that start or stop a run: submit (checking the
//! tenant within the data roots, off the async runtime, with a time
//! limit), rerun and cancel.

use std::path::PathBuf;

use tracing::info;

use super::{Coordinator, RequestError};
use crate::output_formats::{normalise, OutputFormat};
use crate::planner::new_run_id;
use crate::run_record::{RunRecord, RunStatus};
use crate::tenant_loader::{load_tenant_at, LoadError, LoadedTenant};

/// Where a run comes from, besides an operator's submit.
#[derive(Debug, Default)]
pub struct Origin {
    /// The run it repeats.
    pub rerun_of: Option<String>,
    /// The `as_of` it uses instead of tenant.toml's.
    pub as_of: Option<String>,
    /// The schedule that fired it.
    pub schedule: Option<String>,
    /// Output formats; CSV alone when empty.
    pub formats: Vec<OutputFormat>,
}

impl Coordinator {
    /// Checks the tenant and queues a run of it.
    pub async fn submit(
        &self,
        config: PathBuf,
        out: PathBuf,
        rerun_of: Option<String>,
    ) -> Result<RunRecord, RequestError> {
        let origin = Origin {
            rerun_of,
            ..Origin::default()
        };
        self.submit_from(config, out, origin).await
    }

    /// [`Coordinator::submit`] of a new run writing `formats` besides the CSV.
    pub async fn submit_with_formats(
        &self,
        config: PathBuf,
        out: PathBuf,
        formats: Vec<OutputFormat>,
    ) -> Result<RunRecord, RequestError> {
        let origin = Origin {
            formats,
            ..Origin::default()
        };
        self.submit_from(config, out, origin).await
    }

    /// [`Coordinator::submit`] for a rerun or a schedule's firing.
    pub(super) async fn submit_from(
        &self,
        config: PathBuf,
        out: PathBuf,
        origin: Origin,
    ) -> Result<RunRecord, RequestError> {
        let tenant = self.load(config).await?;
        let out = self
            .backends
            .data_roots
            .output_location(&out)
            .map_err(LoadError::from)?;
        let mut record = RunRecord::queued(
            new_run_id(),
            tenant.settings.id.clone(),
            tenant.config_path.display().to_string(),
            out.display().to_string(),
            origin.rerun_of,
        );
        record.as_of = origin.as_of;
        record.schedule = origin.schedule;
        record.formats = normalise(origin.formats);
        self.save(&record).await?;
        info!(run_id = %record.run_id, "run queued");
        self.wake.notify_one();
        Ok(record)
    }

    /// Loads the tenant at `config` off the async runtime, within the data
    /// roots, the file caps and the read time limit. A read that hangs
    /// (a stalled mount) is abandoned at the limit.
    pub(super) async fn load(&self, config: PathBuf) -> Result<LoadedTenant, LoadError> {
        let roots = self.backends.data_roots.clone();
        let caps = self.options.file_caps;
        let limit = self.options.read_timeout;
        let shown = config.display().to_string();
        match tokio::time::timeout(limit, load_tenant_at(&shown, roots, caps)).await {
            Ok(loaded) => loaded,
            Err(_) => Err(LoadError::TimedOut {
                path: shown,
                seconds: limit.as_secs_f64(),
            }),
        }
    }

    /// A new run with the inputs and output of `run`.
    pub async fn rerun(&self, run: &str) -> Result<RunRecord, RequestError> {
        let old = self.get(run).await?;
        let origin = Origin {
            rerun_of: Some(old.run_id),
            as_of: old.as_of,
            schedule: None,
            formats: old.formats,
        };
        self.submit_from(PathBuf::from(old.config), PathBuf::from(old.out), origin)
            .await
    }

    /// Cancels a queued or running run. The cancel mark is set first: the
    /// run's driver polls it, and a run being picked up checks it once it
    /// is marked executing, so a cancel is never lost in between.
    pub async fn cancel(&self, run: &str) -> Result<RunRecord, RequestError> {
        let mut record = self.get(run).await?;
        if record.status.is_final() {
            return Err(RequestError::Finished(run.to_owned()));
        }
        self.backends.registry.set_cancelled(run).await?;
        let executing = self
            .executing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(run)
            .map(|e| e.token.clone());
        match executing {
            Some(token) => token.cancel(),
            None if record.status == RunStatus::Queued => {
                record.status = RunStatus::Cancelled;
                record.finished_at = Some(chrono::Utc::now().to_rfc3339());
                self.save(&record).await?;
            }
            // Running under another coordinator: its driver sees the mark.
            None => {}
        }
        info!(run_id = run, "run cancelled");
        Ok(record)
    }
}
