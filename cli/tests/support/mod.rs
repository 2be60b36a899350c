//! Harness for process-level cluster tests: a coordinator and workers
//! started from the `rapport` binary against the real RabbitMQ and Redis, in
//! a namespace of the test's own, removed (processes, queues, keys) on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use rapport_backend::rabbit_queue::RabbitQueue;
use rapport_backend::redis_store::RedisStore;

pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const REDIS: &str = "redis://127.0.0.1:6379/";
static PORTS: AtomicU16 = AtomicU16::new(0);

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/examples")
        .join(name)
        .join("tenant.toml")
}

/// A coordinator and workers in a namespace of their own; killed and
/// cleaned up on drop.
pub struct Cluster {
    pub namespace: String,
    pub port: u16,
    pub staging: tempfile::TempDir,
    pub coordinator: Option<Child>,
    pub workers: Vec<Child>,
    pub job_delay_ms: u64,
    /// Where workers pause: `before` a job or `after-store`.
    pub job_delay_at: &'static str,
    /// With a folder, the coordinator and workers log at `trace` into files there.
    pub log_dir: Option<tempfile::TempDir>,
}

impl Cluster {
    pub fn start(workers: usize) -> Cluster {
        Cluster::start_with(workers, false)
    }

    /// A cluster whose coordinator and workers log everything, at `trace`,
    /// into files ([`Cluster::logs`]).
    pub fn start_logged(workers: usize) -> Cluster {
        Cluster::start_with(workers, true)
    }

    fn start_with(workers: usize, logged: bool) -> Cluster {
        let n = PORTS.fetch_add(1, Ordering::Relaxed);
        let port = 7300 + (std::process::id() % 500) as u16 * 2 + n * 1000 % 20000;
        let mut cluster = Cluster {
            namespace: format!("clitest-{}-{n}", std::process::id()),
            port,
            staging: tempfile::tempdir().expect("staging"),
            coordinator: None,
            workers: Vec::new(),
            job_delay_ms: 0,
            job_delay_at: "before",
            log_dir: logged.then(|| tempfile::tempdir().expect("log dir")),
        };
        cluster.start_coordinator();
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    pub fn command(&self, args: &[&str]) -> Command {
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

    /// Where a long-running process's standard error goes: a log file of
    /// its own when the cluster is logged, else nowhere.
    fn stderr_for(&self, name: &str) -> Stdio {
        match &self.log_dir {
            Some(dir) => {
                let n = std::fs::read_dir(dir.path()).map_or(0, |d| d.count());
                let file = std::fs::File::create(dir.path().join(format!("{name}-{n}.log")))
                    .expect("log file");
                Stdio::from(file)
            }
            None => Stdio::null(),
        }
    }

    fn log_level(&self) -> &'static str {
        if self.log_dir.is_some() {
            "trace"
        } else {
            "warn"
        }
    }

    /// Everything the coordinator and workers logged so far.
    pub fn logs(&self) -> String {
        let dir = self.log_dir.as_ref().expect("a logged cluster");
        let mut all = String::new();
        for entry in std::fs::read_dir(dir.path()).expect("log dir").flatten() {
            all.push_str(&std::fs::read_to_string(entry.path()).expect("log"));
        }
        all
    }

    pub fn start_coordinator(&mut self) {
        let child = self
            .command(&["coordinator"])
            .env("RAPPORT_LOG", self.log_level())
            .stdout(Stdio::null())
            .stderr(self.stderr_for("coordinator"))
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
    pub fn slow(workers: usize, job_delay_ms: u64) -> Cluster {
        let mut cluster = Cluster::start(0);
        cluster.job_delay_ms = job_delay_ms;
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    /// Workers that pause between storing a job's effects and acking it,
    /// so a kill lands between the two.
    pub fn slow_after_store(workers: usize, job_delay_ms: u64) -> Cluster {
        let mut cluster = Cluster::start(0);
        cluster.job_delay_ms = job_delay_ms;
        cluster.job_delay_at = "after-store";
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    pub fn add_worker(&mut self) {
        let child = self
            .command(&["worker"])
            .env("RAPPORT_JOB_DELAY_MS", self.job_delay_ms.to_string())
            .env("RAPPORT_JOB_DELAY_AT", self.job_delay_at)
            .env("RAPPORT_LOG", self.log_level())
            .stdout(Stdio::null())
            .stderr(self.stderr_for("worker"))
            .spawn()
            .expect("worker");
        self.workers.push(child);
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("rapport runs")
    }

    pub fn submit(&self, config: &Path, out: &Path, wait: bool) -> (String, Output) {
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

    pub fn status(&self, run: &str) -> serde_json::Value {
        let o = self.run(&["status", run]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("status json")
    }

    pub fn wait_for(
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

    /// Waits until `run` has ended; returns its last status.
    pub fn wait_until_ended(&self, run: &str, secs: u64) -> serde_json::Value {
        self.wait_for(
            run,
            |s| s["status"] != "running" && s["status"] != "queued",
            secs,
        )
    }

    pub fn signal(child: &Child, signal: &str) {
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

pub fn same(a: &Path, b: &Path) {
    let x = std::fs::read(a).expect("a");
    let y = std::fs::read(b).expect("b");
    assert!(x == y, "{} differs from {}", a.display(), b.display());
}

/// A generated tenant of about 300,000 records and its embedded output.
pub fn big_tenant(dir: &Path) -> (PathBuf, PathBuf) {
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
