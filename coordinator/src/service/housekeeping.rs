//! Housekeeping of the coordinator service, every minute while it leads:
//! retention of run records, and the janitor that removes what ended or
//! unknown runs left in staging and the store.

use tracing::{info, warn};

use super::{decode, Coordinator, RequestError};
use crate::executor::cleanup;

impl Coordinator {
    /// Retention of run records, then the janitor (every minute in
    /// [`Coordinator::run_loop`]).
    pub async fn housekeeping(&self) {
        if let Err(e) = self.apply_retention().await {
            warn!(error = %e, "cannot apply run retention");
        }
        if let Err(e) = self.sweep_staging().await {
            warn!(error = %e, "cannot sweep staging");
        }
    }

    /// Removes the records of ended runs past the retention.
    async fn apply_retention(&self) -> Result<(), RequestError> {
        let runs = self.list_up_to(usize::MAX).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let max_age_ms = self.options.retention.max_age.as_millis() as i64;
        let expired: Vec<String> = runs
            .iter()
            .filter(|r| r.status.is_final())
            .enumerate()
            .filter(|(kept, r)| {
                *kept >= self.options.retention.max_runs || now - r.created_ms > max_age_ms
            })
            .map(|(_, r)| r.run_id.clone())
            .collect();
        if !expired.is_empty() {
            info!(runs = expired.len(), "removing records past the retention");
            self.exec.registry.delete_runs(&expired).await?;
        }
        Ok(())
    }

    /// The janitor: removes the staging and store data of every run that
    /// ended, or that has no record, except those executing.
    async fn sweep_staging(&self) -> Result<(), RequestError> {
        for run in self.exec.staging.list_runs().await? {
            let executing = self
                .executing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&run);
            if executing {
                continue;
            }
            let ended = match self.exec.registry.get_run(&run).await? {
                None => true,
                Some(text) => decode(&text).map_or(true, |r| r.status.is_final()),
            };
            if ended {
                info!(run_id = %run, "removing what an ended run left behind");
                cleanup(&self.exec, &run).await;
            }
        }
        Ok(())
    }
}
