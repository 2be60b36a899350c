//! The cluster as processes, against the real RabbitMQ and Redis: a
//! coordinator and workers started from the `rapport` binary in a namespace
//! of the test's own, driven with `submit`, `status`, `rerun` and `cancel`.
//! Killed workers and coordinators, cancel, rerun and SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use rapport_backend::rabbit_queue::RabbitQueue;
use rapport_backend::redis_store::RedisStore;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REDIS: &str = "redis://127.0.0.1:6379/";
static PORTS: AtomicU16 = AtomicU16::new(0);

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/examples")
        .join(name)
        .join("tenant.toml")
}

/// A coordinator and workers in a namespace of their own; killed and
/// cleaned up on drop.
struct Cluster {
    namespace: String,
    port: u16,
    staging: tempfile::TempDir,
    coordinator: Option<Child>,
    workers: Vec<Child>,
    job_delay_ms: u64,
}

impl Cluster {
    fn start(workers: usize) -> Cluster {
        let n = PORTS.fetch_add(1, Ordering::Relaxed);
        let port = 7300 + (std::process::id() % 500) as u16 * 2 + n * 1000 % 20000;
        let mut cluster = Cluster {
            namespace: format!("clitest-{}-{n}", std::process::id()),
            port,
            staging: tempfile::tempdir().expect("staging"),
            coordinator: None,
            workers: Vec::new(),
            job_delay_ms: 0,
        };
        cluster.start_coordinator();
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rapport"));
        c.args(args)
            .env("RAPPORT_NAMESPACE", &self.namespace)
            .env("RAPPORT_STAGING", self.staging.path())
            .env("RAPPORT_LISTEN", format!("127.0.0.1:{}", self.port))
            .env(
                "RAPPORT_COORDINATOR",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("RAPPORT_AMQP_URL", AMQP)
            .env("RAPPORT_REDIS_URL", REDIS)
            .env("RAPPORT_LOG", "warn");
        c
    }

    fn start_coordinator(&mut self) {
        let child = self
            .command(&["coordinator"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("coordinator");
        self.coordinator = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "coordinator did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Workers that pause before each job, so a run lasts long enough to be
    /// interrupted in a chosen phase.
    fn slow(workers: usize, job_delay_ms: u64) -> Cluster {
        let mut cluster = Cluster::start(0);
        cluster.job_delay_ms = job_delay_ms;
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    fn add_worker(&mut self) {
        let child = self
            .command(&["worker"])
            .env("RAPPORT_JOB_DELAY_MS", self.job_delay_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker");
        self.workers.push(child);
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("rapport runs")
    }

    fn submit(&self, config: &Path, out: &Path, wait: bool) -> (String, Output) {
        let mut args = vec![
            "submit",
            "--config",
            config.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ];
        if wait {
            args.push("--wait");
        }
        let o = self.run(&args);
        let id = String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        (id, o)
    }

    fn status(&self, run: &str) -> serde_json::Value {
        let o = self.run(&["status", run]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("status json")
    }

    fn wait_for(
        &self,
        run: &str,
        what: impl Fn(&serde_json::Value) -> bool,
        secs: u64,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status(run);
            if what(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out; last status {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(child: &Child, signal: &str) {
        Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .expect("kill");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.workers.iter_mut().chain(self.coordinator.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let ns = self.namespace.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Runtime::new() else {
                return;
            };
            rt.block_on(async {
                if let Ok(q) = RabbitQueue::connect(AMQP, &ns, 1).await {
                    let _ = q.delete_all().await;
                }
                if let Ok(r) = RedisStore::connect(REDIS, &ns).await {
                    let _ = r.delete_namespace().await;
                }
            });
        })
        .join();
    }
}

fn same(a: &Path, b: &Path) {
    let x = std::fs::read(a).expect("a");
    let y = std::fs::read(b).expect("b");
    assert!(x == y, "{} differs from {}", a.display(), b.display());
}

/// A generated tenant of about 300,000 records and its embedded output.
fn big_tenant(dir: &Path) -> (PathBuf, PathBuf) {
    let rapport = env!("CARGO_BIN_EXE_rapport");
    let tenant = dir.join("tenant");
    let o = Command::new(rapport)
        .args([
            "generate",
            "--out",
            tenant.to_str().expect("utf8"),
            "--seed",
            "3",
            "--users",
            "300",
            "--accounts",
            "3000",
        ])
        .args(["--emails", "210000", "--meetings", "32000"])
        .output()
        .expect("generate");
    assert!(o.status.success());
    let config = tenant.join("tenant.toml");
    let embedded = dir.join("embedded");
    let o = Command::new(rapport)
        .args([
            "run",
            "--config",
            config.to_str().expect("utf8"),
            "--out",
            embedded.to_str().expect("utf8"),
        ])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(embedded.join("run_report.json")).expect("report"))
            .expect("json");
    assert!(
        report["records"].as_u64().expect("records") >= 300_000,
        "{report}"
    );
    (config, embedded.join("account_engagement.csv"))
}

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
    }
}

#[test]
fn killed_worker_and_restarted_coordinator_still_give_identical_output() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut cluster = Cluster::slow(2, 40);

    // A worker killed with SIGKILL mid-run: its unacked job goes to another.
    let out = dir.path().join("worker-killed");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(&run, |s| s["phase"] == "aggregate", 60);
    Cluster::signal(&cluster.workers[0], "KILL");
    cluster.add_worker();
    let s = cluster.wait_for(
        &run,
        |s| s["status"] != "running" && s["status"] != "queued",
        120,
    );
    assert_eq!(s["status"], "succeeded", "{s}");
    same(&expected, &out.join("account_engagement.csv"));

    // The coordinator killed mid-run and started again: the run resumes.
    let out = dir.path().join("coordinator-killed");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(&run, |s| s["phase"] == "aggregate", 60);
    let mut coordinator = cluster.coordinator.take().expect("coordinator");
    Cluster::signal(&coordinator, "KILL");
    let _ = coordinator.wait();
    cluster.start_coordinator();
    let s = cluster.wait_for(
        &run,
        |s| s["status"] != "running" && s["status"] != "queued",
        120,
    );
    assert_eq!(s["status"], "succeeded", "{s}");
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
    let asked = Instant::now();
    let o = cluster.run(&["cancel", &run]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = cluster.wait_for(&run, |s| s["status"] == "cancelled", 10);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "took {:?}: {s}",
        asked.elapsed()
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let waiting = rt.block_on(async {
        let q = RabbitQueue::connect(AMQP, &cluster.namespace, 1)
            .await
            .expect("queue");
        q.waiting().await.expect("count")
    });
    assert_eq!(waiting, 0, "jobs of a cancelled run left in the queue");
    // Cancelling again is refused: the run already ended.
    assert_eq!(cluster.run(&["cancel", &run]).status.code(), Some(2));
    // The cluster serves the next run.
    let out = dir.path().join("after");
    let (_, o) = cluster.submit(&example("newyork"), &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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

    for child in cluster
        .workers
        .iter_mut()
        .chain(cluster.coordinator.as_mut())
    {
        Cluster::signal(child, "TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "process did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{status}");
    }
}

#[test]
fn unreachable_coordinator_is_exit_1() {
    let o = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["status", "x", "--coordinator", "http://127.0.0.1:9"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
}
