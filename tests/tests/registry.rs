//! The coordinator as a service, on both backends: an undecodable run
//! record is skipped, never blocking the others; a cancel reaches a run
//! whichever coordinator takes it; retention removes ended runs' records,
//! and the janitor what ended or unknown runs left in staging.

use std::time::{Duration, Instant};

use rapport_coordinator::run_record::{RunRecord, RunStatus};
use rapport_coordinator::service::{Coordinator, CoordinatorOptions, Retention};
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::util::*;

/// Waits (at most a minute) until the run has ended.
async fn ended(c: &Coordinator, run: &str) -> RunRecord {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = c.get(run).await.expect("record");
        if r.status.is_final() {
            return r;
        }
        assert!(Instant::now() < deadline, "still {:?}", r.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both_backends!(
    the_service_skips_bad_records_honours_cancels_and_sweeps_what_runs_leave,
    |kind| async move {
        let b = backends(kind).await;
        let registry = b.backends.registry.clone();
        registry
            .put_run("garbage", 1, "{not a record".to_owned())
            .await
            .expect("put");
        let c = Coordinator::new(b.backends.clone(), CoordinatorOptions::default());
        let dir = tempfile::tempdir().expect("dir");
        let config = small_tenant(dir.path(), 7);

        // Cancelled while queued: never executed.
        let out = tempfile::tempdir().expect("out");
        let queued = c
            .submit(config.clone(), out.path().to_owned(), None)
            .await
            .expect("submit");
        c.cancel(&queued.run_id).await.expect("cancel");

        let shutdown = CancellationToken::new();
        let loop_task = tokio::spawn(c.clone().run_loop(shutdown.clone()));
        let options = WorkerOptions {
            concurrency: 1,
            job_delay: Duration::from_millis(100),
            ..WorkerOptions::default()
        };
        let workers = tokio::spawn(run_worker(b.backends.clone(), options, shutdown.clone()));

        // A run cancelled through another coordinator of the namespace.
        let running = c
            .submit(config.clone(), out.path().to_owned(), None)
            .await
            .expect("submit");
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.get(&running.run_id).await.expect("get").status != RunStatus::Running {
            assert!(Instant::now() < deadline, "never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let other = Coordinator::new(b.backends.clone(), CoordinatorOptions::default());
        other.cancel(&running.run_id).await.expect("cancel");
        assert_eq!(
            ended(&c, &running.run_id).await.status,
            RunStatus::Cancelled
        );

        // A run that succeeds, listed beside the bad record.
        let good = c
            .submit(config.clone(), out.path().to_owned(), None)
            .await
            .expect("submit");
        let done = ended(&c, &good.run_id).await;
        assert_eq!(done.status, RunStatus::Succeeded, "{:?}", done.error);
        assert_eq!(
            c.get(&queued.run_id).await.expect("get").status,
            RunStatus::Cancelled
        );
        let listed: Vec<String> = c
            .list()
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(
            listed,
            [
                good.run_id.clone(),
                running.run_id.clone(),
                queued.run_id.clone()
            ]
        );
        let (clean, _) = run_tenant(Backend::Embedded, &config, RunOptions::default()).await;
        assert_same_file(
            &clean.path().join("account_engagement.csv"),
            &out.path().join("account_engagement.csv"),
        );
        shutdown.cancel();
        loop_task.await.expect("loop");
        workers.await.expect("workers");

        // The janitor: a run nobody knows left staging behind.
        b.backends
            .staging
            .put("runs/ghost/ingest/0000/00000", b"x".to_vec())
            .await
            .expect("put");
        c.housekeeping().await;
        assert!(b
            .backends
            .staging
            .list_runs()
            .await
            .expect("runs")
            .is_empty());

        // Retention: keep one ended run.
        let keep_one = Coordinator::new(
            b.backends.clone(),
            CoordinatorOptions {
                retention: Retention {
                    max_runs: 1,
                    ..Retention::default()
                },
                ..CoordinatorOptions::default()
            },
        );
        keep_one.housekeeping().await;
        let kept: Vec<String> = keep_one
            .list()
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(kept, std::slice::from_ref(&good.run_id));
    }
);
