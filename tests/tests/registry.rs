//! The coordinator as a service, on both backends: an undecodable run
//! record is skipped, never blocking the others; a cancel reaches a run
//! whichever coordinator takes it; retention removes ended runs' records,
//! and the janitor what ended or unknown runs left in staging; a leader
//! that lost its lease writes nothing.

use std::time::{Duration, Instant};

use rapport_coordinator::run_record::{RunRecord, RunStatus};
use rapport_coordinator::schedule::next_after;
use rapport_coordinator::service::scheduler::ScheduleRequest;
use rapport_coordinator::service::{Coordinator, CoordinatorOptions, RequestError, Retention};
use rapport_worker::{run_worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::util::*;

/// Waits (at most a minute) until the run has ended.
async fn ended(c: &Coordinator, run: &str) -> RunRecord {
    ended_within(c, run, 60).await
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
        // (Runs are listed newest first by creation, to the millisecond.)
        tokio::time::sleep(Duration::from_millis(5)).await;
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

/// Two coordinators on one namespace (Redis only: the lease is the
/// cluster's): one takes the lease, the other stands by and cannot write.
/// When the leader's lease is lost (expired while it was paused or cut
/// off), the standby takes it with a newer token; the old leader, still
/// believing it leads, has every state write refused by the fence, and
/// learns at its next renewal that it no longer leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_lost_its_lease_writes_nothing() {
    use rapport_backend::redis_store::RedisStore;
    use rapport_backend::{BackendError, PartialStore};

    let ns = unique_namespace("fence");
    let settings = cluster_settings(&ns, std::path::Path::new("/nonexistent"));
    let connect = || RedisStore::connect(&settings.redis_url, &ns);
    let (a, b) = (
        connect().await.expect("redis"),
        connect().await.expect("redis"),
    );
    let (lease_a, lease_b) = (a.lease("a".to_owned()), b.lease("b".to_owned()));
    let (fenced_a, fenced_b) = (a.fenced(&lease_a), b.fenced(&lease_b));

    let first = lease_a.hold().await.expect("hold").expect("a leads");
    assert_eq!(lease_b.hold().await.expect("hold"), None, "b stands by");
    fenced_a.new_epoch("run").await.expect("the leader writes");
    assert!(matches!(
        fenced_b.new_epoch("run").await,
        Err(BackendError::Fenced)
    ));

    // The lease expires under the leader (deleted here, as its expiry would).
    let client = redis::Client::open(settings.redis_url.as_str()).expect("a Redis URL");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let deleted: i64 = redis::cmd("DEL")
        .arg(format!("{ns}:leader"))
        .query_async(&mut raw)
        .await
        .expect("DEL");
    assert_eq!(deleted, 1, "the lease was there");
    let second = lease_b.hold().await.expect("hold").expect("b leads");
    assert!(second > first, "a new token: {second} after {first}");
    let epoch = fenced_b
        .new_epoch("run")
        .await
        .expect("the new leader writes");
    for refused in [
        fenced_a.new_epoch("run").await.map(|_| ()),
        fenced_a.delete_run("run").await,
    ] {
        assert!(matches!(refused, Err(BackendError::Fenced)), "{refused:?}");
    }
    assert_eq!(
        b.epoch("run").await.expect("epoch"),
        Some(epoch),
        "untouched"
    );
    assert_eq!(lease_a.hold().await.expect("hold"), None, "a stands by now");

    a.delete_namespace().await.expect("clean up");
}

both_backends!(a_due_schedule_fires_once_whoever_looks, |kind| async move {
    let b = backends(kind).await;
    let first = Coordinator::new(b.backends.clone(), CoordinatorOptions::default());
    let second = Coordinator::new(b.backends.clone(), CoordinatorOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let config = small_tenant(dir.path(), 7);
    let out = tempfile::tempdir().expect("out");
    let request = |cron: &str, first_after| ScheduleRequest {
        config: config.display().to_string(),
        out: out.path().display().to_string(),
        cron: cron.to_owned(),
        first_run_after_seconds: first_after,
        formats: Vec::new(),
    };
    let refused = first.add_schedule(request("61 * * * *", None)).await;
    assert!(
        matches!(refused, Err(RequestError::Schedule(_))),
        "{refused:?}"
    );

    // Due at once, then yearly: looked at three times by two coordinators.
    let s = first
        .add_schedule(request("0 0 1 1 *", Some(0)))
        .await
        .expect("schedule");
    for c in [&first, &second, &first] {
        c.fire_due().await.expect("fire");
    }
    let runs: Vec<RunRecord> = first
        .list()
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.schedule.as_deref() == Some(s.id.as_str()))
        .collect();
    assert_eq!(runs.len(), 1, "one firing, one run");
    let tz = rapport_coordinator::load_tenant(&config)
        .expect("tenant")
        .settings
        .tz();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    assert_eq!(runs[0].as_of, Some(today.format("%Y-%m-%d").to_string()));
    let kept = first.list_schedules().await.expect("schedules");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].last_run.as_deref(), Some(runs[0].run_id.as_str()));
    let next = next_after("0 0 1 1 *", tz, chrono::Utc::now()).expect("next");
    assert_eq!(
        kept[0].next_ms,
        next.timestamp_millis(),
        "the next is the yearly one"
    );

    first.remove_schedule(&s.id).await.expect("removed");
    assert!(matches!(
        first.remove_schedule(&s.id).await,
        Err(RequestError::NoSchedule(_))
    ));
    assert!(first.list_schedules().await.expect("none").is_empty());
});
