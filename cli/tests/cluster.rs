//! The cluster as processes, against the real RabbitMQ and Redis: output
//! equal to embedded with 1, 2 and 4 workers; Graph and mail exports; killed workers and
//! coordinators; cancel, rerun, invalid submits and SIGTERM.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rapport_tests::secrets::assert_no_secret_of;

use rapport_backend::rabbit_queue::RabbitQueue;
use rapport_backend::redis_store::RedisStore;
use rapport_backend::{JobQueue, PartialStore};
use support::*;

#[test]
fn cluster_output_equals_embedded_with_1_2_and_4_workers() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    for workers in [1, 2, 4] {
        let cluster = Cluster::start(workers);
        for name in ["stockholm", "newyork"] {
            let out = dir.path().join(format!("{name}-{workers}"));
            let (_, o) = cluster.submit(&example(name), &out, true);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let golden = example(name)
                .parent()
                .expect("dir")
                .join("expected/account_engagement.csv");
            same(&golden, &out.join("account_engagement.csv"));
        }
        let out = dir.path().join(format!("big-{workers}"));
        let (_, o) = cluster.submit(&config, &out, true);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        same(&expected, &out.join("account_engagement.csv"));
        // Long-running processes run with their allocator tuning.
        let coordinator = cluster.coordinator.as_ref().expect("coordinator");
        assert!(environment(coordinator).contains(&"MIMALLOC_ALLOW_THP=0".to_owned()));
        for worker in &cluster.workers {
            let env = environment(worker);
            for tuned in ["MIMALLOC_ALLOW_THP=0", "MIMALLOC_PURGE_DELAY=0"] {
                assert!(env.contains(&tuned.to_owned()), "{tuned} not in {env:?}");
            }
        }
    }
}

/// The environment a process runs with now (after it re-executed itself).
fn environment(child: &std::process::Child) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{}/environ", child.id())).expect("environ");
    bytes
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| v.starts_with("MIMALLOC_"))
        .collect()
}

/// The examples written as Graph and as mail exports, and the tenant
/// whose copies tie (read again for their text), through the cluster as
/// processes: the expected bytes, and not an address, message id, uid or
/// subject of the inputs in the coordinator's and workers' trace logs.
#[test]
fn cluster_reads_graph_and_mail_exports_and_logs_no_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let cluster = Cluster::start_logged(2);
    let mut tenants = Vec::new();
    for name in ["stockholm", "newyork"] {
        for format in ["graph", "mail"] {
            let tenant = dir.path().join(format!("{name}-{format}"));
            let o = cluster.run(&[
                "generate",
                "--from",
                example(name).to_str().expect("utf8"),
                "--format",
                format,
                "--out",
                tenant.to_str().expect("utf8"),
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let expected = example(name).parent().expect("dir").join("expected");
            tenants.push((tenant, expected));
        }
    }
    let ties = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/ties");
    tenants.push((ties.clone(), ties.join("expected")));
    for (i, (tenant, expected)) in tenants.iter().enumerate() {
        let out = dir.path().join(format!("out-{i}"));
        let (_, o) = cluster.submit(&tenant.join("tenant.toml"), &out, true);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for file in ["account_engagement.csv", "office_users.csv"] {
            if expected.join(file).exists() {
                same(&expected.join(file), &out.join(file));
            }
        }
    }
    let logs = cluster.logs();
    assert!(logs.contains("job done"), "trace logs are on");
    for (tenant, _) in &tenants {
        assert_no_secret_of(&logs, tenant);
    }
}

#[test]
fn killed_worker_and_restarted_coordinator_still_give_identical_output() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    // Workers pause between storing a job's effects and acking it.
    let mut cluster = Cluster::slow_after_store(2, 300);

    // A worker killed with SIGKILL in aggregate, most likely between
    // storing and acking: its job is delivered again, though done.
    let out = dir.path().join("worker-killed");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(
        &run,
        |s| s["phase"] == "aggregate" && s["jobs_done"].as_u64() >= Some(2),
        120,
    );
    Cluster::signal(&cluster.workers[0], "KILL");
    cluster.add_worker();
    let s = cluster.wait_until_ended(&run, 180);
    assert_eq!(s["status"], "succeeded", "{s}");
    same(&expected, &out.join("account_engagement.csv"));

    // The coordinator killed in replies, after two phases are done, and
    // started again: the run resumes without publishing them again.
    let out = dir.path().join("coordinator-killed");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(&run, |s| s["phase"] == "replies", 180);
    let mut coordinator = cluster.coordinator.take().expect("coordinator");
    Cluster::signal(&coordinator, "KILL");
    let _ = coordinator.wait();
    cluster.start_coordinator();
    let s = cluster.wait_until_ended(&run, 180);
    assert_eq!(s["status"], "succeeded", "{s}");
    let published = &s["recovery"]["published"];
    assert!(published.get("ingest").is_none(), "{s}");
    assert!(published.get("aggregate").is_none(), "{s}");
    assert!(published.get("score").is_some(), "{s}");
    same(&expected, &out.join("account_engagement.csv"));

    // A rerun writes the same bytes to the same place.
    let before = std::fs::read(out.join("account_engagement.csv")).expect("first");
    std::fs::remove_file(out.join("account_engagement.csv")).expect("rm");
    let o = cluster.run(&["rerun", &run, "--wait"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let new_run = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(new_run, run);
    assert_eq!(cluster.status(&new_run)["rerun_of"], run.as_str());
    assert_eq!(
        std::fs::read(out.join("account_engagement.csv")).expect("rerun"),
        before
    );
}

/// The faults the issue found: the run's staged blobs deleted during
/// aggregate, and the run's Redis keys deleted, here in every phase. Each
/// run heals and writes the bytes of a fault-free run, and its record says
/// what was redone.
#[test]
fn lost_blobs_and_lost_redis_keys_mid_run_heal_to_identical_output() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    // Slow jobs: when aggregate starts, its jobs have not read their inputs.
    let cluster = Cluster::drill(2, 300, "before");

    let out = dir.path().join("blobs-deleted");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(&run, |s| s["phase"] == "aggregate", 120);
    let ingest = cluster
        .staging
        .path()
        .join("runs")
        .join(&run)
        .join("ingest");
    let drill = Drill::start("the run's staged ingest blobs deleted | aggregate");
    std::fs::remove_dir_all(&ingest).expect("staged blobs deleted");
    let s = drill.watch(&cluster, &run, 300, |s| recovered(s, "recomputed") >= 1);
    assert_eq!(s["status"], "succeeded", "{s}");
    same(&expected, &out.join("account_engagement.csv"));

    for phase in PHASES {
        let out = dir.path().join(format!("keys-deleted-{phase}"));
        let (run, _) = cluster.submit(&config, &out, false);
        cluster.wait_for(&run, |s| s["phase"] == phase, 120);
        if phase == "aggregate" {
            // The run's keys carry their safety-net expiry (7 days).
            let epoch_key = format!("{}:run:{run}:epoch", cluster.namespace);
            let o = Command::new("redis-cli")
                .args(["TTL", &epoch_key])
                .output()
                .expect("redis-cli");
            let ttl: i64 = String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .expect("a TTL");
            assert!(ttl > 0 && ttl <= 7 * 24 * 3600, "TTL {ttl}");
        }
        let drill = Drill::start(format!("the run's Redis keys deleted | {phase}"));
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let store = RedisStore::connect(REDIS, &cluster.namespace)
                .await
                .expect("redis");
            store.delete_run(&run).await.expect("keys deleted");
        });
        let s = drill.watch(&cluster, &run, 300, |s| recovered(s, "restarts") >= 1);
        assert_eq!(s["status"], "succeeded", "{phase}: {s}");
        same(&expected, &out.join("account_engagement.csv"));
    }
    // Nothing of any run is left in staging (a job of the old epoch
    // still in flight may write after the run's cleanup: the janitor, every
    // minute, removes it).
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let left: Vec<_> = std::fs::read_dir(cluster.staging.path().join("runs"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "staging left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two coordinators on one namespace: one leads, the other stands by
/// (`/readyz` says which). In each phase from ingest to write, the leader is
/// SIGKILLed mid-run: the standby takes the lease and the run over, the run
/// ends with identical bytes, and a new standby is started for the next.
#[test]
fn a_standby_takes_over_a_run_when_the_leader_dies() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut cluster = Cluster::drill(2, 300, "before");
    let first = cluster.coordinator.take().expect("coordinator");
    let other_port = cluster.port + 1;
    let mut coordinators = vec![
        (cluster.port, first),
        (other_port, cluster.spawn_coordinator(other_port)),
    ];
    for phase in PHASES {
        let deadline = Instant::now() + Duration::from_secs(30);
        let leader = loop {
            let roles: Vec<Option<String>> = coordinators
                .iter()
                .map(|(p, _)| Cluster::role(*p))
                .collect();
            if let [Some(a), Some(b)] = &roles[..] {
                match (a.as_str(), b.as_str()) {
                    ("leader", "standby") => break 0,
                    ("standby", "leader") => break 1,
                    _ => {}
                }
            }
            assert!(Instant::now() < deadline, "{phase}: roles {roles:?}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let standby_port = coordinators[1 - leader].0;
        for (port, _) in &coordinators {
            assert_eq!(Cluster::http_get(*port, "/healthz").as_deref(), Some("ok"));
        }
        cluster.port = coordinators[leader].0;
        let out = dir.path().join(format!("out-{phase}"));
        let (run, _) = cluster.submit(&config, &out, false);
        cluster.wait_for(&run, |s| s["phase"] == phase, 180);
        let (dead_port, mut dead) = coordinators.remove(leader);
        let drill = Drill::start(format!("leader SIGKILLed, a standby running | {phase}"));
        Cluster::signal(&dead, "KILL");
        let _ = dead.wait();
        cluster.port = standby_port;
        let s = drill.watch(&cluster, &run, 300, |s| recovered(s, "resumed") >= 1);
        assert_eq!(s["status"], "succeeded", "{phase}: {s}");
        assert_eq!(Cluster::role(standby_port).as_deref(), Some("leader"));
        same(&expected, &out.join("account_engagement.csv"));
        coordinators.push((dead_port, cluster.spawn_coordinator(dead_port)));
    }
    cluster
        .others
        .extend(coordinators.into_iter().map(|(_, c)| c));
}

#[test]
fn cancel_stops_a_run_and_leaves_no_jobs_queued() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, _) = big_tenant(dir.path());
    // One slow worker: most jobs wait in the queue when the cancel comes.
    let cluster = Cluster::slow(1, 100);
    let (run, _) = cluster.submit(&config, &dir.path().join("out"), false);
    cluster.wait_for(
        &run,
        |s| s["status"] == "running" && s["jobs_total"].as_u64() > Some(0),
        60,
    );
    let o = cluster.run(&["cancel", &run]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    cluster.wait_for(&run, |s| s["status"] == "cancelled", 60);
    // The queue is shared with other runs, so it is not purged: the run
    // has at most `jobs_in_flight` jobs in it, which the worker drops.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let waiting = rt.block_on(async {
        let q = RabbitQueue::connect(AMQP, &cluster.namespace, 1)
            .await
            .expect("queue");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let waiting = q.waiting().await.expect("count");
            if waiting == 0 || std::time::Instant::now() > deadline {
                return waiting;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    assert_eq!(
        waiting, 0,
        "jobs of a cancelled run left in the queue after 30 s"
    );
    // Cancelling again is refused: the run already ended.
    assert_eq!(cluster.run(&["cancel", &run]).status.code(), Some(2));
    // The cluster serves the next run, with its expected bytes.
    let out = dir.path().join("after");
    let (_, o) = cluster.submit(&example("newyork"), &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let golden = example("newyork")
        .parent()
        .expect("dir")
        .join("expected/account_engagement.csv");
    same(&golden, &out.join("account_engagement.csv"));
}

#[test]
fn invalid_submit_is_refused_with_exit_2_and_sigterm_stops_processes_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cluster = Cluster::start(1);
    let bad = dir.path().join("tenant.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(example("newyork"))
            .expect("toml")
            .replace("America/New_York", "Nowhere/Else"),
    )
    .expect("write");
    let (_, o) = cluster.submit(&bad, &dir.path().join("out"), false);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("tenant.timezone"));
    assert_eq!(
        cluster.run(&["status", "no-such-run"]).status.code(),
        Some(2)
    );
    let o = cluster.run(&["runs"]);
    assert!(o.status.success());
    // A run through the worker: every process is up and handling signals.
    let (_, o) = cluster.submit(&example("newyork"), &dir.path().join("ok"), true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    for child in cluster
        .workers
        .iter_mut()
        .chain(cluster.coordinator.as_mut())
    {
        Cluster::signal(child, "TERM");
        let status = Cluster::exit_status(child, 15);
        assert!(status.success(), "{status}");
    }
}

/// A worker SIGTERMed while it holds a job (jobs pause 1 s before they
/// run) finishes that job, exits 0, and the run ends with the fault-free
/// bytes: its log shows a job done after the signal.
#[test]
fn a_worker_sigtermed_mid_job_finishes_it_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut cluster = Cluster::unstarted(true);
    cluster.job_delay_ms = 1000;
    cluster.start_coordinator();
    for _ in 0..4 {
        cluster.add_worker();
    }
    let out = dir.path().join("out");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(
        &run,
        |s| s["phase"] == "ingest" && s["jobs_done"].as_u64() >= Some(4),
        120,
    );
    let mut worker = cluster.workers.remove(0);
    Cluster::signal(&worker, "TERM");
    let status = Cluster::exit_status(&mut worker, 60);
    assert!(status.success(), "{status}");
    let s = cluster.wait_until_ended(&run, 300);
    assert_eq!(s["status"], "succeeded", "{s}");
    same(&expected, &out.join("account_engagement.csv"));
    let dir = cluster.log_dir.as_ref().expect("logged").path();
    let stopped: Vec<String> = std::fs::read_dir(dir)
        .expect("logs")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|log| log.contains("shutting down"))
        .collect();
    assert_eq!(stopped.len(), 1, "one process was signalled");
    let after = stopped[0].split("shutting down").nth(1).unwrap_or_default();
    assert!(
        after.contains("job done"),
        "no job finished after the signal"
    );
}

#[test]
fn unreachable_coordinator_is_exit_1() {
    let o = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["status", "x", "--coordinator", "http://127.0.0.1:9"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
}

/// In every phase of a run, from ingest to write, every worker SIGKILLed
/// (each holding a job it stored but did not ack) and started again;
/// then, in a second round, the coordinator SIGKILLed and started again
/// too: each run ends with the fault-free bytes; the jobs held were
/// delivered again (counted), and a resumed coordinator published nothing
/// of the phases done before it died. (Killing workers in the write phase,
/// which runs no job, is left out of the first round.)
#[test]
fn every_phase_survives_killed_workers_and_a_killed_coordinator() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut cluster = Cluster::drill(4, 1000, "after-store");
    let rounds = PHASES[..5]
        .iter()
        .map(|p| (false, *p))
        .chain(PHASES.iter().map(|p| (true, *p)));
    for (with_coordinator, phase) in rounds {
        let out = dir.path().join(format!("out-{with_coordinator}-{phase}"));
        let (run, _) = cluster.submit(&config, &out, false);
        cluster.wait_for(&run, |s| s["phase"] == phase, 180);
        let cell = match with_coordinator {
            false => format!("workers SIGKILLed | {phase}"),
            true => format!("workers and coordinator SIGKILLed | {phase}"),
        };
        let drill = Drill::start(&cell);
        for mut dead in cluster.workers.drain(..) {
            Cluster::signal(&dead, "KILL");
            let _ = dead.wait();
        }
        if with_coordinator {
            let mut coordinator = cluster.coordinator.take().expect("coordinator");
            Cluster::signal(&coordinator, "KILL");
            let _ = coordinator.wait();
            cluster.start_coordinator();
        }
        for _ in 0..4 {
            cluster.add_worker();
        }
        let s = drill.watch(&cluster, &run, 300, |s| match with_coordinator {
            true => recovered(s, "resumed") >= 1,
            false => recovered(s, "redelivered") >= 1,
        });
        assert_eq!(s["status"], "succeeded", "{cell}: {s}");
        let i = PHASES.iter().position(|p| *p == phase).expect("a phase");
        if with_coordinator {
            for done in &PHASES[..i] {
                assert!(
                    s["recovery"]["published"].get(*done).is_none(),
                    "{cell}: {done} published again: {s}"
                );
            }
        }
        if phase != "write" {
            assert!(recovered(&s, "redelivered") >= 1, "{cell}: {s}");
        }
        same(&expected, &out.join("account_engagement.csv"));
    }
}

/// Staging, inputs and outputs on S3 (SeaweedFS, started here), the
/// processes reaching it through the `AWS_*` environment: the workers'
/// only roots are object URLs and their staging a URL, so they read and
/// write nothing on a disk (no shared volume), and the output the cluster
/// publishes is the example's expected bytes, as is `rapport run`'s.
#[test]
fn a_cluster_without_a_shared_volume_runs_a_tenant_on_s3() {
    use rapport_backend::object_staging::ObjectStaging;
    use rapport_backend::Staging;
    use rapport_tests::object_servers::ObjectServer;

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(ObjectServer::seaweedfs());
    let mut cluster = Cluster::unstarted(false);
    let prefix = cluster.namespace.clone();
    let (inputs, outputs) = (
        server.url(&format!("{prefix}/in")),
        server.url(&format!("{prefix}/out")),
    );
    let tenant = example("stockholm");
    let folder = tenant.parent().expect("folder");
    rt.block_on(async {
        let target =
            ObjectStaging::open(&format!("{inputs}/stockholm"), &server.options()).expect("bucket");
        for file in [
            "tenant.toml",
            "org_users.csv",
            "contacts.csv",
            "account_domains.csv",
        ] {
            let bytes = std::fs::read(folder.join(file)).expect("file");
            target.put(file, bytes).await.expect("uploaded");
        }
        for entry in std::fs::read_dir(folder.join("activity")).expect("activity") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).expect("file");
            target
                .put(&format!("activity/{name}"), bytes)
                .await
                .expect("uploaded");
        }
    });
    cluster.staging_dir = Some(server.url(&format!("{prefix}/staging")).into());
    cluster.env = server.environment();
    cluster
        .env
        .push(("RAPPORT_INPUT_ROOTS".into(), inputs.clone()));
    cluster
        .env
        .push(("RAPPORT_OUTPUT_ROOT".into(), outputs.clone()));
    cluster.start_coordinator();
    cluster.add_worker();
    cluster.add_worker();

    let config = format!("{inputs}/stockholm/tenant.toml");
    let expected = folder.join("expected/account_engagement.csv");
    let local = tempfile::tempdir().expect("dir");
    let mut cluster_run = String::new();
    for how in ["cluster", "embedded"] {
        let out = format!("{outputs}/{how}");
        let o = if how == "cluster" {
            let (run, o) = cluster.submit(Path::new(&config), Path::new(&out), true);
            cluster_run = run;
            o
        } else {
            cluster.run(&["run", "--config", &config, "--out", &out])
        };
        assert!(
            o.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let copy = local.path().join(how);
        std::fs::create_dir_all(&copy).expect("dir");
        rt.block_on(async {
            let written = ObjectStaging::open(&out, &server.options()).expect("outputs");
            for file in ["account_engagement.csv", "run_report.json"] {
                let bytes = written.get(file).await.expect("published");
                std::fs::write(copy.join(file), bytes).expect("copy");
            }
        });
        same(&expected, &copy.join("account_engagement.csv"));
    }
    // The API reads the results from the bucket (no run history here):
    // the same accounts as `rapport segment` on a copy.
    let expr = "EngagementScore >= 50";
    let cli = cluster.run(&[
        "segment",
        "--results",
        local.path().join("cluster").to_str().expect("utf8"),
        expr,
    ]);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli: Vec<String> = String::from_utf8_lossy(&cli.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let api = api_segment(cluster.port, &cluster_run, expr);
    assert!(!api.is_empty(), "{expr} matches some accounts");
    assert_eq!(api, cli, "the API on the bucket and rapport segment");
    // A path on the workers' disk is outside their roots: refused at submit.
    let (_, o) = cluster.submit(&tenant, &local.path().join("x"), true);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("outside the input roots"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
