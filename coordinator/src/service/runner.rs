//! Which runs the leader executes, and when: up to
//! [`CoordinatorOptions::concurrent_runs`](super::CoordinatorOptions) at
//! once, oldest first (interrupted runs before queued ones), never two of
//! one tenant or into one output folder (the later waits, so they keep
//! their submission order). Each executes on a task of its own, with a
//! token that a cancel request fires and that shutdown or a lost lease
//! fires too.

use std::collections::HashSet;
use std::sync::Arc;

use rapport_backend::lease::LEASE_TTL;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{Coordinator, RequestError, HOUSEKEEPING, IDLE_POLL};
use crate::run_record::{RunRecord, RunStatus};

/// A run this coordinator is executing.
#[derive(Clone)]
pub(super) struct Executing {
    /// Cancels it.
    pub(super) token: CancellationToken,
    /// What it must not share with another run executing at once.
    keys: [String; 2],
}

/// What two runs executing at once must not share: the tenant, and the
/// output folder (their commits and history would interleave).
fn exclusive_keys(record: &RunRecord) -> [String; 2] {
    [
        format!("tenant:{}", record.tenant_id),
        format!("out:{}", record.out),
    ]
}

impl Coordinator {
    /// Executes runs until `shutdown`; runs interrupted by shutdown stay
    /// `running` and resume at the next start.
    pub async fn run_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let mut housekeeping_at: Option<std::time::Instant> = None;
        let mut running = tokio::task::JoinSet::new();
        while !shutdown.is_cancelled() {
            if !self.lead().await {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(LEASE_TTL / 3) => continue,
                }
            }
            self.restore_left_runs().await;
            if housekeeping_at.is_none_or(|at| at.elapsed() > HOUSEKEEPING) {
                housekeeping_at = Some(std::time::Instant::now());
                self.housekeeping().await;
            }
            match self.startable_runs().await {
                Ok(records) => {
                    for record in records {
                        self.start(record, &shutdown, &mut running);
                    }
                }
                Err(e) => warn!(error = %e, "cannot read the run registry; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
        // Their stop tokens are children of `shutdown`: they stop at once.
        while running.join_next().await.is_some() {}
    }

    /// The runs to start now, oldest first, interrupted ones before queued
    /// ones, as many as there are free places: none that shares a tenant or
    /// an output folder with a run executing, or with an older run waiting.
    async fn startable_runs(&self) -> Result<Vec<RunRecord>, RequestError> {
        let executing = self
            .executing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let free = self
            .options
            .concurrent_runs
            .max(1)
            .saturating_sub(executing.len());
        if free == 0 {
            return Ok(Vec::new());
        }
        let mut runs = self.list_up_to(usize::MAX).await?;
        runs.reverse();
        let (interrupted, queued): (Vec<RunRecord>, Vec<RunRecord>) = runs
            .into_iter()
            .filter(|r| matches!(r.status, RunStatus::Running | RunStatus::Queued))
            .filter(|r| !executing.contains_key(&r.run_id))
            .partition(|r| r.status == RunStatus::Running);
        let mut taken: HashSet<String> = executing.values().flat_map(|e| e.keys.clone()).collect();
        let mut start = Vec::new();
        for record in interrupted.into_iter().chain(queued) {
            let keys = exclusive_keys(&record);
            let clear = keys.iter().all(|k| !taken.contains(k));
            taken.extend(keys);
            if clear {
                start.push(record);
                if start.len() == free {
                    break;
                }
            }
        }
        Ok(start)
    }

    /// Marks the run executing and executes it on a task of `running`.
    fn start(
        self: &Arc<Self>,
        record: RunRecord,
        shutdown: &CancellationToken,
        running: &mut tokio::task::JoinSet<()>,
    ) {
        let (stop, watcher) = self.while_leading(shutdown);
        let executing = Executing {
            token: stop.child_token(),
            keys: exclusive_keys(&record),
        };
        let token = executing.token.clone();
        let run = record.run_id.clone();
        self.executing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run.clone(), executing);
        let me = self.clone();
        running.spawn(async move {
            me.execute(record, &stop, token).await;
            stop.cancel();
            if let Some(w) = watcher {
                let _ = w.await;
            }
            // Only now, with its end recorded, may the run be picked again.
            me.executing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&run);
            me.wake.notify_one();
        });
    }
}
