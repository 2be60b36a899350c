//! Leadership of the coordinator service: the lease that makes one
//! coordinator of a namespace execute runs while the others stand by, the
//! watch that stops a run when another takes the lease, and the record of
//! runs left unfinished, put back if Redis lost them.

use std::sync::atomic::Ordering;

use rapport_backend::lease::LEASE_TTL;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Coordinator;
use crate::run_record::RunRecord;

impl Coordinator {
    /// `leader` or `standby`, for `/readyz`.
    pub fn role(&self) -> &'static str {
        if self.leading.load(Ordering::SeqCst) {
            "leader"
        } else {
            "standby"
        }
    }

    /// Takes or renews the lease; true while this coordinator leads.
    pub(super) async fn lead(&self) -> bool {
        let Some(lease) = &self.lease else {
            return true;
        };
        let leading = match lease.hold().await {
            Ok(token) => token.is_some(),
            Err(e) => {
                warn!(error = %e, "cannot renew the lease; standing by");
                false
            }
        };
        if leading != self.leading.swap(leading, Ordering::SeqCst) {
            info!(
                role = if leading { "leader" } else { "standby" },
                "coordinator role changed"
            );
        }
        leading
    }

    /// Gives the lease up (at shutdown), so a standby takes over at once.
    pub async fn step_down(&self) {
        if let Some(lease) = &self.lease {
            lease.release().await;
        }
        self.leading.store(false, Ordering::SeqCst);
    }

    /// A token cancelled when `parent` is, or when this coordinator loses
    /// the lease (checked every third of its lifetime).
    pub(super) fn while_leading(
        &self,
        parent: &CancellationToken,
    ) -> (CancellationToken, Option<tokio::task::JoinHandle<()>>) {
        let stop = parent.child_token();
        let Some(lease) = self.lease.clone() else {
            return (stop, None);
        };
        let watch = stop.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = watch.cancelled() => return,
                    _ = tokio::time::sleep(LEASE_TTL / 3) => {}
                }
                // Only another holder deposes this one: while Redis cannot
                // be reached the run goes on, its fenced writes refused.
                if let Ok(None) = lease.hold().await {
                    warn!("another coordinator holds the lease: leaving the run to it");
                    watch.cancel();
                    return;
                }
            }
        });
        (stop, Some(task))
    }

    /// Keeps the record of a run this coordinator leaves unfinished.
    pub(super) fn left_unfinished(&self, record: RunRecord) {
        self.left
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
    }

    /// Puts back the records of the runs this coordinator left, if the
    /// registry lost them (Redis restarted empty), so the runs resume.
    pub(super) async fn restore_left_runs(&self) {
        let left = std::mem::take(&mut *self.left.lock().unwrap_or_else(|p| p.into_inner()));
        for record in left {
            match self.exec.registry.get_run(&record.run_id).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    warn!(run_id = %record.run_id, "the run's record was lost; putting it back");
                    if let Err(e) = self.save_on(&self.exec, &record).await {
                        warn!(run_id = %record.run_id, error = %e, "cannot put the run's record back");
                        self.left_unfinished(record);
                    }
                }
                Err(_) => self.left_unfinished(record),
            }
        }
    }
}
