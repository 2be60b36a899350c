//! Many runs at once, on both backends: the coordinator executes up to
//! `concurrent_runs` runs together, each identical to its run alone; runs
//! into one output folder keep their order; and a small run is not stuck
//! behind a large one, as the runs share the workers in turns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use rapport_backend::Backends;
use rapport_coordinator::driver::Limits;
use rapport_coordinator::run_record::{RunRecord, RunStatus};
use rapport_coordinator::service::{Coordinator, CoordinatorOptions};
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::util::*;

/// A coordinator executing `runs` at once, each with `in_flight` jobs out.
fn coordinator(backends: &Backends, runs: usize, in_flight: usize) -> Arc<Coordinator> {
    let options = CoordinatorOptions {
        concurrent_runs: runs,
        limits: Limits {
            jobs_in_flight: in_flight,
            ..Limits::default()
        },
        ..CoordinatorOptions::default()
    };
    Coordinator::new(backends.clone(), options)
}

/// Waits (at most two minutes) until the run has ended.
async fn ended(c: &Coordinator, run: &str) -> RunRecord {
    ended_within(c, run, 120).await
}

fn time(stamp: &Option<String>) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(stamp.as_deref().expect("stamped")).expect("RFC 3339")
}

/// The most runs executing at one moment, from their start and end stamps.
fn most_at_once(records: &[RunRecord]) -> usize {
    let mut edges: Vec<(DateTime<FixedOffset>, i32)> = records
        .iter()
        .flat_map(|r| [(time(&r.started_at), 1), (time(&r.finished_at), -1)])
        .collect();
    // An end before a start at the same instant: they did not overlap.
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

both_backends!(
    eight_tenants_at_once_match_their_runs_alone,
    |kind| async move {
        let b = backends(kind).await;
        let c = coordinator(&b.backends, 4, 3);
        let dirs: Vec<tempfile::TempDir> =
            (0..8).map(|_| tempfile::tempdir().expect("dir")).collect();
        let outs: Vec<tempfile::TempDir> =
            (0..8).map(|_| tempfile::tempdir().expect("out")).collect();
        let configs: Vec<_> = dirs
            .iter()
            .enumerate()
            .map(|(i, d)| small_tenant(d.path(), 40 + i as u64))
            .collect();
        // All eight queued before the coordinator looks, and then a second
        // run of the first tenant into the same folder.
        let mut runs = Vec::new();
        for (config, out) in configs.iter().zip(&outs) {
            let r = c.submit(config.clone(), out.path().to_owned(), None);
            runs.push(r.await.expect("submit"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let again = c
            .submit(configs[0].clone(), outs[0].path().to_owned(), None)
            .await
            .expect("submit");

        let shutdown = CancellationToken::new();
        let loop_task = tokio::spawn(c.clone().run_loop(shutdown.clone()));
        let options = WorkerOptions {
            concurrency: 2,
            ..WorkerOptions::default()
        };
        let workers = tokio::spawn(run_worker(b.backends.clone(), options, shutdown.clone()));

        let mut records = Vec::new();
        for r in &runs {
            let record = ended(&c, &r.run_id).await;
            assert_eq!(record.status, RunStatus::Succeeded, "{:?}", record.error);
            records.push(record);
        }
        let again = ended(&c, &again.run_id).await;
        assert_eq!(again.status, RunStatus::Succeeded, "{:?}", again.error);
        shutdown.cancel();
        loop_task.await.expect("loop");
        workers.await.expect("workers");

        let most = most_at_once(&records);
        assert!((2..=4).contains(&most), "{most} runs at once");
        assert!(
            time(&again.started_at) >= time(&records[0].finished_at),
            "runs into one folder overlapped"
        );
        for (config, out) in configs.iter().zip(&outs) {
            let (alone, _) = run_tenant(Backend::Embedded, config, RunOptions::default()).await;
            assert_same_file(
                &alone.path().join("account_engagement.csv"),
                &out.path().join("account_engagement.csv"),
            );
        }
    }
);

both_backends!(
    a_small_run_is_not_stuck_behind_a_large_one,
    |kind| async move {
        let b = backends(kind).await;
        let c = coordinator(&b.backends, 2, 1);
        let (large_dir, small_dir) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let (large_out, small_out) = (
            tempfile::tempdir().expect("out"),
            tempfile::tempdir().expect("out"),
        );
        let large_config = small_tenant(large_dir.path(), 1);
        let small_config = small_tenant(small_dir.path(), 2);

        // The large run: each of its jobs handed over 300 ms late.
        let large = c
            .submit(large_config.clone(), large_out.path().to_owned(), None)
            .await
            .expect("submit");
        let queue = Arc::new(SlowRunsQueue {
            inner: b.backends.queue.clone(),
            slow: std::sync::Mutex::new(vec![large.run_id.clone()]),
            delay: Duration::from_millis(300),
        });
        let worker_backends = Backends {
            queue,
            ..b.backends.clone()
        };
        let shutdown = CancellationToken::new();
        let loop_task = tokio::spawn(c.clone().run_loop(shutdown.clone()));
        let options = WorkerOptions {
            concurrency: 2,
            ..WorkerOptions::default()
        };
        let workers = tokio::spawn(run_worker(worker_backends, options, shutdown.clone()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.get(&large.run_id).await.expect("get").status != RunStatus::Running {
            assert!(Instant::now() < deadline, "never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let small = c
            .submit(small_config.clone(), small_out.path().to_owned(), None)
            .await
            .expect("submit");
        let small = ended(&c, &small.run_id).await;
        assert_eq!(small.status, RunStatus::Succeeded, "{:?}", small.error);
        let large_then = c.get(&large.run_id).await.expect("get");
        assert_eq!(
            large_then.status,
            RunStatus::Running,
            "the small run ended after the large one"
        );
        let large = ended(&c, &large.run_id).await;
        assert_eq!(large.status, RunStatus::Succeeded, "{:?}", large.error);
        shutdown.cancel();
        loop_task.await.expect("loop");
        workers.await.expect("workers");

        for (config, out) in [(&large_config, &large_out), (&small_config, &small_out)] {
            let (alone, _) = run_tenant(Backend::Embedded, config, RunOptions::default()).await;
            assert_same_file(
                &alone.path().join("account_engagement.csv"),
                &out.path().join("account_engagement.csv"),
            );
        }
    }
);
