//! In-process partial store for embedded mode: maps behind one mutex, and a
//! `Notify` so the coordinator wakes as soon as a job completes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use rapport_common::plan::Phase;
use tokio::sync::Notify;

use crate::registry::RunRegistry;
use crate::store::{PartialStore, PhaseProgress, SlotWrite};
use crate::BackendError;

#[derive(Default)]
struct RunData {
    record: Option<(i64, String)>,
    cancelled: bool,
    slots: HashMap<String, BTreeMap<String, Vec<u8>>>,
    done: HashMap<Phase, BTreeSet<String>>,
    failed: HashMap<Phase, BTreeMap<String, String>>,
}

/// Maps in memory; nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    runs: Mutex<HashMap<String, RunData>>,
    changed: Notify,
}

impl MemoryStore {
    fn with_run<T>(&self, run: &str, f: impl FnOnce(&mut RunData) -> T) -> T {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        f(runs.entry(run.to_owned()).or_default())
    }
}

#[async_trait]
impl PartialStore for MemoryStore {
    async fn complete_job(
        &self,
        run: &str,
        phase: Phase,
        job_id: &str,
        writes: Vec<SlotWrite>,
    ) -> Result<(), BackendError> {
        self.with_run(run, |data| {
            for w in writes {
                data.slots
                    .entry(w.slot)
                    .or_default()
                    .insert(job_id.to_owned(), w.blob);
            }
            data.done
                .entry(phase)
                .or_default()
                .insert(job_id.to_owned());
        });
        self.changed.notify_waiters();
        Ok(())
    }

    async fn fail_job(
        &self,
        run: &str,
        phase: Phase,
        job_id: &str,
        error: &str,
    ) -> Result<(), BackendError> {
        self.with_run(run, |data| {
            data.failed
                .entry(phase)
                .or_default()
                .insert(job_id.to_owned(), error.to_owned());
        });
        self.changed.notify_waiters();
        Ok(())
    }

    async fn read_slot(
        &self,
        run: &str,
        slot: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        Ok(self.with_run(run, |data| {
            data.slots
                .get(slot)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }

    async fn progress(&self, run: &str, phase: Phase) -> Result<PhaseProgress, BackendError> {
        Ok(self.with_run(run, |data| PhaseProgress {
            done: data.done.get(&phase).map_or(0, |s| s.len() as u64),
            failed: data
                .failed
                .get(&phase)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }))
    }

    async fn done_jobs(&self, run: &str, phase: Phase) -> Result<Vec<String>, BackendError> {
        Ok(self.with_run(run, |data| {
            data.done
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
        self.with_run(run, |data| {
            data.slots.clear();
            data.done.clear();
            data.failed.clear();
        });
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

    async fn set_cancelled(&self, run: &str) -> Result<(), BackendError> {
        self.with_run(run, |data| data.cancelled = true);
        Ok(())
    }

    async fn is_cancelled(&self, run: &str) -> Result<bool, BackendError> {
        Ok(self.with_run(run, |data| data.cancelled))
    }
}
