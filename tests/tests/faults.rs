//! The cluster's promise under faults, on both backends: a run ends
//! succeeded only with the bytes of a fault-free run, or fails naming what
//! was lost. Each test injects its fault once, at a chosen point of a
//! chosen phase (the first read or write of a kind of blob), asserts that
//! the fault happened (the run's report says what was redone), and compares
//! every output byte for byte with a fault-free run of the same tenant.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rapport_backend::{BackendError, Backends, Delivery, JobQueue, PartialStore, Staging};
use rapport_common::plan::{JobEnvelope, Phase};
use rapport_coordinator::executor::{execute_run, ProgressSink};
use rapport_coordinator::{load_tenant, plan_run, NoProgress, PlanOptions, RunSpec};
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::util::*;

/// What a fault does to a staged blob's file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    Delete,
    Truncate,
    Replace,
}

/// A fault, fired once.
#[derive(Clone, Copy)]
enum Fault {
    /// Damages the blob about to be read.
    Blob(Damage),
    /// Loses the run's store state (as Redis restarted without persistence).
    LoseState,
    /// Removes the blob about to be read and the tenant's input files.
    BlobAndInputs(Damage),
}

/// Staging that fires a fault at the first read (or write) of a path
/// containing `marker`.
struct FaultyStaging {
    inner: Arc<dyn Staging>,
    store: Arc<dyn PartialStore>,
    root: PathBuf,
    marker: &'static str,
    on_put: bool,
    fault: Fault,
    inputs: Option<PathBuf>,
    fired: AtomicU32,
}

fn run_of(path: &str) -> &str {
    path.split('/').nth(1).unwrap_or_default()
}

fn damage(file: &Path, how: Damage) {
    match how {
        Damage::Delete => std::fs::remove_file(file).expect("delete blob"),
        Damage::Truncate => {
            let bytes = std::fs::read(file).expect("blob");
            std::fs::write(file, &bytes[..bytes.len() / 2]).expect("truncate");
        }
        Damage::Replace => {
            let mut bytes = std::fs::read(file).expect("blob");
            bytes.iter_mut().for_each(|b| *b = b.wrapping_add(1));
            bytes.push(0);
            std::fs::write(file, bytes).expect("replace");
        }
    }
}

impl FaultyStaging {
    async fn fire(&self, path: &str) {
        if !path.contains(self.marker) || self.fired.fetch_add(1, Ordering::SeqCst) > 0 {
            return;
        }
        match self.fault {
            Fault::Blob(how) => damage(&self.root.join(path), how),
            Fault::LoseState => self
                .store
                .delete_run(run_of(path))
                .await
                .expect("lose state"),
            Fault::BlobAndInputs(how) => {
                damage(&self.root.join(path), how);
                let inputs = self.inputs.as_ref().expect("inputs");
                for entry in std::fs::read_dir(inputs).expect("inputs").flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !name.ends_with(".toml") && !name.ends_with(".csv") {
                        let _ = std::fs::remove_file(entry.path());
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Staging for FaultyStaging {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        self.inner.put(path, bytes).await?;
        if self.on_put {
            self.fire(path).await;
        }
        Ok(())
    }
    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        if !self.on_put {
            self.fire(path).await;
        }
        self.inner.get(path).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        self.inner.list(prefix).await
    }
    async fn list_runs(&self) -> Result<Vec<String>, BackendError> {
        self.inner.list_runs().await
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BackendError> {
        self.inner.delete_prefix(prefix).await
    }
}

const OUTPUTS: [&str; 3] = [
    "account_engagement.csv",
    "office_users.csv",
    "rejects.jsonl",
];

/// A tenant, its fault-free outputs (embedded) and the backends to fault.
async fn setup(kind: Backend) -> (TestBackends, tempfile::TempDir, PathBuf, tempfile::TempDir) {
    let b = backends(kind).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = small_tenant(dir.path(), 11);
    let clean = tempfile::tempdir().expect("clean");
    let clean_backends = backends(Backend::Embedded).await;
    run_on(
        &clean_backends.backends,
        &config,
        clean.path(),
        RunOptions::default(),
    )
    .await
    .expect("fault-free run");
    (b, dir, config, clean)
}

fn faulty(
    b: &TestBackends,
    marker: &'static str,
    on_put: bool,
    fault: Fault,
    inputs: Option<PathBuf>,
) -> (Backends, Arc<FaultyStaging>) {
    let staging = Arc::new(FaultyStaging {
        inner: b.backends.staging.clone(),
        store: b.backends.store.clone(),
        root: b._staging.path().to_owned(),
        marker,
        on_put,
        fault,
        inputs,
        fired: AtomicU32::new(0),
    });
    let mut backends = b.backends.clone();
    backends.staging = staging.clone();
    (backends, staging)
}

fn assert_same_outputs(clean: &Path, out: &Path) {
    for file in OUTPUTS {
        assert_same_file(&clean.join(file), &out.join(file));
    }
}

/// Small plans, so every phase has several jobs.
fn options() -> RunOptions {
    RunOptions {
        plan: PlanOptions {
            shard_bytes: Some(40_000),
            key_partitions: Some(3),
            account_partitions: Some(3),
            ..PlanOptions::default()
        },
        workers: Some(2),
    }
}

both_backends!(
    a_damaged_handoff_is_recomputed_and_the_bytes_are_those_of_a_clean_run,
    |kind| async move {
        let (b, _dir, config, clean) = setup(kind).await;
        // Each phase's staged input, deleted, truncated or replaced:
        // an ingest job's part index and a batch of its staged copies
        // (aggregate), originals and reply probes (replies),
        // partials (reduce), rows (score), scored lines and rejects (the
        // writer).
        let markers = [
            "-index",
            "/ingest/00000-0000",
            "/originals/",
            "/probes/",
            "/partials/",
            "/rows/",
            "/csv/",
            "/rejects/",
        ];
        let damages = [Damage::Delete, Damage::Truncate, Damage::Replace];
        for (marker, how) in markers
            .into_iter()
            .flat_map(|m| damages.into_iter().map(move |d| (m, d)))
        {
            let (backends, staging) = faulty(&b, marker, false, Fault::Blob(how), None);
            let out = tempfile::tempdir().expect("out");
            let report = run_on(&backends, &config, out.path(), options())
                .await
                .unwrap_or_else(|e| panic!("{marker} {how:?}: {e}"));
            assert!(
                staging.fired.load(Ordering::SeqCst) > 0,
                "{marker}: no fault"
            );
            assert!(
                !report.recovery.recomputed.is_empty(),
                "{marker} {how:?}: nothing recomputed"
            );
            assert_same_outputs(clean.path(), out.path());
        }
    }
);

both_backends!(
    a_lost_blob_whose_inputs_are_gone_too_fails_the_run_naming_both,
    |kind| async move {
        let (b, dir, config, _clean) = setup(kind).await;
        let fault = Fault::BlobAndInputs(Damage::Delete);
        let (backends, _) = faulty(&b, "/ingest/", false, fault, Some(dir.path().to_owned()));
        let out = tempfile::tempdir().expect("out");
        let err = run_on(&backends, &config, out.path(), options())
            .await
            .expect_err("nothing to recompute from");
        let message = err.to_string();
        assert!(message.contains("/ingest/"), "{message}");
        assert!(message.contains("cannot read input"), "{message}");
        assert!(
            !out.path().join("run_report.json").exists(),
            "a failed run wrote a report"
        );
    }
);

both_backends!(
    lost_store_state_restarts_the_run_from_its_plan_in_every_phase,
    |kind| async move {
        let (b, _dir, config, clean) = setup(kind).await;
        // The first write of ingest, then the first read of aggregate,
        // replies, score and the writer.
        for (marker, on_put) in [
            ("/ingest/", true),
            ("/ingest/", false),
            ("/originals/", false),
            ("/rows/", false),
            ("/csv/", false),
        ] {
            let (backends, staging) = faulty(&b, marker, on_put, Fault::LoseState, None);
            let out = tempfile::tempdir().expect("out");
            let report = run_on(&backends, &config, out.path(), options())
                .await
                .unwrap_or_else(|e| panic!("{marker}: {e}"));
            assert!(
                staging.fired.load(Ordering::SeqCst) > 0,
                "{marker}: no fault"
            );
            assert_eq!(
                report.recovery.restarts, 1,
                "{marker}: {:?}",
                report.recovery
            );
            assert_same_outputs(clean.path(), out.path());
        }
    }
);

/// Cancels a token once a phase has `after` jobs done.
struct StopAt {
    phase: Phase,
    after: u64,
    current: std::sync::Mutex<Option<Phase>>,
    token: CancellationToken,
}

impl ProgressSink for StopAt {
    fn phase_started(&self, phase: Phase, _: u64) {
        *self.current.lock().expect("lock") = Some(phase);
    }
    fn jobs_done(&self, done: u64) {
        if *self.current.lock().expect("lock") == Some(self.phase) && done >= self.after {
            self.token.cancel();
        }
    }
}

both_backends!(
    a_resumed_run_publishes_only_the_jobs_not_done,
    |kind| async move {
        let (b, _dir, config, clean) = setup(kind).await;
        let tenant = load_tenant(&config).expect("tenant");
        let ctx = plan_run(
            &rapport_coordinator::planner::new_run_id(),
            &tenant,
            options().plan,
        );
        let out = tempfile::tempdir().expect("out");
        let spec = RunSpec {
            tenant: &tenant,
            ctx: &ctx,
            out: out.path(),
            formats: &[rapport_coordinator::output_formats::OutputFormat::Csv],
            history: None,
            mode: "test",
            resumed: 0,
        };
        let workers = |backends: Backends, delay_ms| {
            let stop = CancellationToken::new();
            let options = WorkerOptions {
                concurrency: 1,
                job_delay: std::time::Duration::from_millis(delay_ms),
                ..WorkerOptions::default()
            };
            (
                stop.clone(),
                tokio::spawn(run_worker(backends, options, stop)),
            )
        };
        // First coordinator: stops once an aggregate job is done (one slow
        // worker, so the others are not).
        let (stop, task) = workers(b.backends.clone(), 300);
        let stop_at = StopAt {
            phase: Phase::Aggregate,
            after: 1,
            current: Default::default(),
            token: CancellationToken::new(),
        };
        let first = execute_run(&b.backends, spec, &stop_at, &stop_at.token).await;
        assert!(first.is_err(), "the first coordinator was stopped");
        stop.cancel();
        task.await.expect("workers stop");
        let done = b
            .backends
            .store
            .done_jobs(&ctx.run_id, Phase::Aggregate)
            .await
            .expect("done");
        assert!(!done.is_empty() && done.len() < 3, "{done:?}");
        // The first coordinator's messages are gone with it: what the
        // resumed run needs, it must publish itself. (Its stopped workers
        // handed back what they had taken ahead, so the purge sees it.)
        b.backends.queue.purge().await.expect("purge");

        // Second coordinator: resumes.
        let (stop, task) = workers(b.backends.clone(), 0);
        let report = execute_run(&b.backends, spec, &NoProgress, &CancellationToken::new())
            .await
            .expect("resumed run")
            .report;
        stop.cancel();
        task.await.expect("workers stop");
        let published = &report.recovery.published;
        assert_eq!(published.get("ingest"), None, "{published:?}");
        assert_eq!(
            published.get("aggregate"),
            Some(&(3 - done.len() as u64)),
            "{published:?}"
        );
        assert_eq!(published.get("replies"), Some(&3), "{published:?}");
        assert_same_outputs(clean.path(), out.path());
    }
);

both_backends!(
    a_stopped_worker_hands_back_the_jobs_it_took_ahead,
    |kind| async move {
        let b = backends(kind).await;
        let queue = &b.backends.queue;
        let jobs = (0..3)
            .map(|part| {
                let job = rapport_common::plan::Job {
                    phase: Phase::Aggregate,
                    part,
                };
                JobEnvelope::new("handed-back", 1, job)
            })
            .collect();
        queue.publish(jobs).await.expect("publish");
        let taken = queue.next().await.expect("next").expect("a job");
        taken.acker.ack().await.expect("ack");
        if matches!(kind, Backend::Cluster) {
            // The broker pushes the other two ahead (prefetch 2): none waits.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while queue.waiting().await.expect("waiting") > 0 {
                assert!(std::time::Instant::now() < deadline, "never prefetched");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        queue.stop_consuming().await.expect("stop consuming");
        // A purge drops only waiting jobs (a quorum queue's ready count,
        // read apart, may lag behind it).
        assert_eq!(queue.purge().await.expect("purge"), 2);
    }
);

both_backends!(
    a_job_that_keeps_failing_ends_the_run_after_its_attempts_naming_it,
    |kind| async move {
        let b = backends(kind).await;
        let dir = tempfile::tempdir().expect("dir");
        let config = small_tenant(dir.path(), 5);
        let mut full = b.backends.clone();
        // Staging whose writes of rows always fail (a full volume).
        full.staging = Arc::new(InterceptedStaging {
            inner: b.backends.staging.clone(),
            on_get: Box::new(|_, bytes| bytes),
            on_put: Box::new(|path| {
                if path.contains("/rows/") {
                    return Err(BackendError::Store(format!(
                        "failed to write staging blob {path}: No space left on device"
                    )));
                }
                Ok(())
            }),
        });
        let out = tempfile::tempdir().expect("out");
        let plan = RunOptions {
            plan: PlanOptions {
                account_partitions: Some(1),
                ..PlanOptions::default()
            },
            workers: Some(1),
        };
        let err = run_on(&full, &config, out.path(), plan)
            .await
            .expect_err("fails");
        let message = err.to_string();
        assert!(message.contains("reduce-0000"), "{message}");
        assert!(message.contains("No space left"), "{message}");
        assert!(message.contains("after 5 attempts"), "{message}");
    }
);

both_backends!(
    a_volume_full_for_a_while_is_retried_and_counted_in_the_report,
    |kind| async move {
        let (b, _dir, config, clean) = setup(kind).await;
        let mut full = b.backends.clone();
        // The first two writes of rows fail (a full volume), then space is freed.
        let failures = Arc::new(AtomicU32::new(0));
        let seen = failures.clone();
        full.staging = Arc::new(InterceptedStaging {
            inner: b.backends.staging.clone(),
            on_get: Box::new(|_, bytes| bytes),
            on_put: Box::new(move |path| {
                if path.contains("/rows/") && seen.fetch_add(1, Ordering::SeqCst) < 2 {
                    return Err(BackendError::Store(format!(
                        "failed to write staging blob {path}: No space left on device"
                    )));
                }
                Ok(())
            }),
        });
        let out = tempfile::tempdir().expect("out");
        let report = run_on(&full, &config, out.path(), options())
            .await
            .expect("healed");
        assert_same_outputs(clean.path(), out.path());
        assert!(failures.load(Ordering::SeqCst) > 2, "the fault never fired");
        // Each failed job was handed back and delivered again.
        assert_eq!(report.recovery.retried, 2, "{:?}", report.recovery);
        assert_eq!(report.recovery.redelivered, 2, "{:?}", report.recovery);
    }
);

/// A queue that publishes every job as a message of another version, as a
/// coordinator of another release would.
struct ForeignVersionQueue {
    inner: Arc<dyn JobQueue>,
}

#[async_trait]
impl JobQueue for ForeignVersionQueue {
    async fn publish(&self, jobs: Vec<JobEnvelope>) -> Result<(), BackendError> {
        let foreign = jobs
            .into_iter()
            .map(|job| JobEnvelope { version: 3, ..job })
            .collect();
        self.inner.publish(foreign).await
    }
    async fn next(&self) -> Result<Option<Delivery>, BackendError> {
        self.inner.next().await
    }
    async fn waiting(&self) -> Result<u32, BackendError> {
        self.inner.waiting().await
    }
    async fn purge(&self) -> Result<u32, BackendError> {
        self.inner.purge().await
    }
    async fn take_dead_letters(&self) -> Result<Vec<Delivery>, BackendError> {
        self.inner.take_dead_letters().await
    }
    async fn stop_consuming(&self) -> Result<(), BackendError> {
        self.inner.stop_consuming().await
    }
}

/// Only RabbitMQ carries bytes a worker of this version cannot read (the
/// in-process queue passes decoded envelopes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_no_worker_can_read_fails_its_run_saying_so() {
    let b = backends(Backend::Cluster).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = small_tenant(dir.path(), 5);
    let mut foreign = b.backends.clone();
    foreign.queue = Arc::new(ForeignVersionQueue {
        inner: b.backends.queue.clone(),
    });
    let out = tempfile::tempdir().expect("out");
    let err = run_on(&foreign, &config, out.path(), RunOptions::default())
        .await
        .expect_err("a job nobody can take");
    let message = err.to_string();
    assert!(message.contains("version 3"), "{message}");
    assert!(message.contains("no worker of that version"), "{message}");
}
