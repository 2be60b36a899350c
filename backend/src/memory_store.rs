//! In-process partial store for embedded mode: maps behind one mutex, and a
//! `Notify` so the coordinator wakes as soon as a job completes. Epochs work
//! as in Redis, so the same fault tests run on both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use rapport_common::plan::{Job, Phase};
use tokio::sync::Notify;

use crate::registry::RunRegistry;
use crate::store::{fresh_epoch, JobFailure, PartialStore, PhaseProgress, SlotWrite, Stored};
use crate::BackendError;

/// A run's state: what a lost Redis would lose.
#[derive(Default)]
struct RunState {
    epoch: Option<u64>,
    slots: HashMap<String, BTreeMap<String, Vec<u8>>>,
    done: HashMap<Phase, BTreeSet<String>>,
    failed: HashMap<Phase, BTreeMap<String, JobFailure>>,
    attempts: HashMap<String, u32>,
}

#[derive(Default)]
struct RunData {
    record: Option<(i64, String)>,
    cancelled: bool,
    state: RunState,
}

/// Maps in memory; nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    runs: Mutex<HashMap<String, RunData>>,
    changed: Notify,
    schedules: Mutex<std::collections::BTreeMap<String, String>>,
    firings: Mutex<std::collections::HashSet<(String, i64)>>,
}

impl MemoryStore {
    fn with_run<T>(&self, run: &str, f: impl FnOnce(&mut RunData) -> T) -> T {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        f(runs.entry(run.to_owned()).or_default())
    }

    /// Runs `f` on the run's state if its epoch is `epoch`.
    fn in_epoch(&self, run: &str, epoch: u64, f: impl FnOnce(&mut RunState)) -> Stored {
        let stored = self.with_run(run, |data| {
            if data.state.epoch != Some(epoch) {
                return Stored::StaleEpoch;
            }
            f(&mut data.state);
            Stored::Yes
        });
        self.changed.notify_waiters();
        stored
    }

    /// Loses a run's state, as a Redis restart without persistence would
    /// (for fault tests; the record and cancel mark stay, as the
    /// coordinator's own copy of the record would put it back).
    pub fn lose_run_state(&self, run: &str) {
        self.with_run(run, |data| data.state = RunState::default());
        self.changed.notify_waiters();
    }
}

#[async_trait]
impl PartialStore for MemoryStore {
    async fn epoch(&self, run: &str) -> Result<Option<u64>, BackendError> {
        Ok(self.with_run(run, |data| data.state.epoch))
    }

    async fn new_epoch(&self, run: &str) -> Result<u64, BackendError> {
        let epoch = fresh_epoch();
        self.with_run(run, |data| data.state.epoch = Some(epoch));
        Ok(epoch)
    }

    async fn complete_job(
        &self,
        run: &str,
        epoch: u64,
        job: Job,
        writes: Vec<SlotWrite>,
    ) -> Result<Stored, BackendError> {
        Ok(self.in_epoch(run, epoch, |state| {
            for w in writes {
                state
                    .slots
                    .entry(w.slot)
                    .or_default()
                    .insert(job.id(), w.blob);
            }
            state.done.entry(job.phase).or_default().insert(job.id());
        }))
    }

    async fn fail_job(
        &self,
        run: &str,
        epoch: u64,
        job: Job,
        failure: &JobFailure,
    ) -> Result<Stored, BackendError> {
        Ok(self.in_epoch(run, epoch, |state| {
            if state
                .done
                .get(&job.phase)
                .is_some_and(|d| d.contains(&job.id()))
            {
                return;
            }
            state
                .failed
                .entry(job.phase)
                .or_default()
                .insert(job.id(), failure.clone());
        }))
    }

    async fn undo_job(&self, run: &str, job: Job) -> Result<(), BackendError> {
        self.with_run(run, |data| {
            let id = job.id();
            data.state.done.entry(job.phase).or_default().remove(&id);
            data.state.failed.entry(job.phase).or_default().remove(&id);
            data.state.attempts.remove(&id);
        });
        Ok(())
    }

    async fn count_attempt(&self, run: &str, what: &str) -> Result<u32, BackendError> {
        Ok(self.with_run(run, |data| {
            let n = data.state.attempts.entry(what.to_owned()).or_default();
            *n += 1;
            *n
        }))
    }

    async fn attempts(&self, run: &str, what: &str) -> Result<u32, BackendError> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(runs
            .get(run)
            .and_then(|data| data.state.attempts.get(what).copied())
            .unwrap_or(0))
    }

    async fn read_slot(
        &self,
        run: &str,
        slot: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        Ok(self.with_run(run, |data| {
            data.state
                .slots
                .get(slot)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }

    async fn progress(&self, run: &str, phase: Phase) -> Result<PhaseProgress, BackendError> {
        Ok(self.with_run(run, |data| PhaseProgress {
            done: data.state.done.get(&phase).map_or(0, |s| s.len() as u64),
            failed: data
                .state
                .failed
                .get(&phase)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }))
    }

    async fn is_done(&self, run: &str, job: Job) -> Result<bool, BackendError> {
        Ok(self.with_run(run, |data| {
            data.state
                .done
                .get(&job.phase)
                .is_some_and(|s| s.contains(&job.id()))
        }))
    }

    async fn done_jobs(&self, run: &str, phase: Phase) -> Result<Vec<String>, BackendError> {
        Ok(self.with_run(run, |data| {
            data.state
                .done
                .get(&phase)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default()
        }))
    }

    async fn wait_for_change(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
    }

    async fn delete_run(&self, run: &str) -> Result<(), BackendError> {
        // The record outlives the run's data, as in Redis.
        self.with_run(run, |data| data.state = RunState::default());
        Ok(())
    }
}

#[async_trait]
impl RunRegistry for MemoryStore {
    async fn put_run(
        &self,
        run: &str,
        created_ms: i64,
        record: String,
    ) -> Result<(), BackendError> {
        self.with_run(run, |data| data.record = Some((created_ms, record)));
        Ok(())
    }

    async fn get_run(&self, run: &str) -> Result<Option<String>, BackendError> {
        Ok(self.with_run(run, |data| data.record.as_ref().map(|r| r.1.clone())))
    }

    async fn list_runs(&self, limit: usize) -> Result<Vec<String>, BackendError> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let mut records: Vec<&(i64, String)> =
            runs.values().filter_map(|d| d.record.as_ref()).collect();
        records.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(records
            .into_iter()
            .take(limit)
            .map(|r| r.1.clone())
            .collect())
    }

    async fn delete_runs(&self, ids: &[String]) -> Result<(), BackendError> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            runs.remove(id);
        }
        Ok(())
    }

    async fn set_cancelled(&self, run: &str) -> Result<(), BackendError> {
        self.with_run(run, |data| data.cancelled = true);
        Ok(())
    }

    async fn is_cancelled(&self, run: &str) -> Result<bool, BackendError> {
        Ok(self.with_run(run, |data| data.cancelled))
    }

    async fn put_schedule(&self, id: &str, record: String) -> Result<(), BackendError> {
        let mut schedules = self.schedules.lock().unwrap_or_else(|p| p.into_inner());
        schedules.insert(id.to_owned(), record);
        Ok(())
    }

    async fn list_schedules(&self) -> Result<Vec<String>, BackendError> {
        let schedules = self.schedules.lock().unwrap_or_else(|p| p.into_inner());
        Ok(schedules.values().cloned().collect())
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        let mut schedules = self.schedules.lock().unwrap_or_else(|p| p.into_inner());
        Ok(schedules.remove(id).is_some())
    }

    async fn claim_firing(&self, id: &str, due_ms: i64) -> Result<bool, BackendError> {
        let mut firings = self.firings.lock().unwrap_or_else(|p| p.into_inner());
        Ok(firings.insert((id.to_owned(), due_ms)))
    }
}
