//! Harness for process-level cluster tests: a coordinator and workers
//! started from the `rapport` binary against the real RabbitMQ and Redis, in
//! a namespace of the test's own, removed (processes, queues, keys) on drop.
#![allow(dead_code)]

pub mod proxy;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use rapport_backend::rabbit_queue::RabbitQueue;
use rapport_backend::redis_store::RedisStore;

pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const REDIS: &str = "redis://127.0.0.1:6379/";
static PORTS: AtomicU16 = AtomicU16::new(0);
/// The operator token every harness command sends.
pub const OPERATOR_TOKEN: &str = "operator-token-for-the-tests-0001";
/// A viewer token the coordinator also knows.
pub const VIEWER_TOKEN: &str = "viewer-token-for-the-tests-0001";

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/examples")
        .join(name)
        .join("tenant.toml")
}

/// A folder with a tokens file holding [`OPERATOR_TOKEN`] and [`VIEWER_TOKEN`].
fn tokens_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("secrets dir");
    std::fs::write(
        dir.path().join("tokens"),
        format!("operator {OPERATOR_TOKEN}\nviewer {VIEWER_TOKEN}\n"),
    )
    .expect("tokens file");
    dir
}

/// A coordinator and workers in a namespace of their own; killed and
/// cleaned up on drop.
pub struct Cluster {
    pub namespace: String,
    pub port: u16,
    pub staging: tempfile::TempDir,
    pub coordinator: Option<Child>,
    pub workers: Vec<Child>,
    /// The Redis the cluster uses.
    pub redis_url: String,
    /// A staging folder of the test's (a volume it mounted), instead of `staging`.
    pub staging_dir: Option<PathBuf>,
    /// Other processes of the test's (standby coordinators), killed on drop.
    pub others: Vec<Child>,
    pub job_delay_ms: u64,
    /// Where workers pause: `before` a job or `after-store`.
    pub job_delay_at: &'static str,
    /// Coordinators pause this long before committing outputs (aims a
    /// fault at the write phase).
    pub write_delay_ms: u64,
    /// With a folder, the coordinator and workers log at `trace` into files there.
    pub log_dir: Option<tempfile::TempDir>,
    /// Holds the coordinator's tokens file.
    pub secrets: tempfile::TempDir,
    /// More variables for every process and command (data roots, caps).
    pub env: Vec<(String, String)>,
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

    /// A cluster not started yet: the caller sets it up, then starts its
    /// coordinator and workers.
    pub fn unstarted(logged: bool) -> Cluster {
        let n = PORTS.fetch_add(1, Ordering::Relaxed);
        let port = 7300 + (std::process::id() % 500) as u16 * 2 + n * 1000 % 20000;
        Cluster {
            namespace: format!("clitest-{}-{n}", std::process::id()),
            port,
            staging: tempfile::tempdir().expect("staging"),
            coordinator: None,
            workers: Vec::new(),
            others: Vec::new(),
            redis_url: REDIS.to_owned(),
            staging_dir: None,
            job_delay_ms: 0,
            job_delay_at: "before",
            write_delay_ms: 0,
            log_dir: logged.then(|| tempfile::tempdir().expect("log dir")),
            secrets: tokens_dir(),
            env: Vec::new(),
        }
    }

    /// The coordinator's tokens file.
    pub fn tokens_file(&self) -> PathBuf {
        self.secrets.path().join("tokens")
    }

    fn start_with(workers: usize, logged: bool) -> Cluster {
        let mut cluster = Cluster::unstarted(logged);
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
            .env(
                "RAPPORT_STAGING",
                self.staging_dir
                    .as_deref()
                    .unwrap_or_else(|| self.staging.path()),
            )
            .env("RAPPORT_LISTEN", format!("127.0.0.1:{}", self.port))
            .env(
                "RAPPORT_COORDINATOR",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("RAPPORT_AMQP_URL", AMQP)
            .env("RAPPORT_REDIS_URL", &self.redis_url)
            .env("RAPPORT_TOKENS_FILE", self.tokens_file())
            .env("RAPPORT_TOKEN", OPERATOR_TOKEN)
            .env("RAPPORT_LOG", "warn");
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
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
        let child = self.spawn_coordinator(self.port);
        self.coordinator = Some(child);
    }

    /// A coordinator of the namespace listening on `port`, once it listens.
    pub fn spawn_coordinator(&self, port: u16) -> Child {
        let child = self
            .command(&["coordinator"])
            .env("RAPPORT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RAPPORT_WRITE_DELAY_MS", self.write_delay_ms.to_string())
            .env("RAPPORT_LOG", self.log_level())
            .stdout(Stdio::null())
            .stderr(self.stderr_for("coordinator"))
            .spawn()
            .expect("coordinator");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "coordinator did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// The body of `GET /readyz` on the coordinator at `port` (`leader` or
    /// `standby`), or `None` when it does not answer.
    pub fn role(port: u16) -> Option<String> {
        Cluster::http_get(port, "/readyz")
    }

    /// `method path` on the coordinator at `port` with `token` as bearer
    /// and `body` as JSON: the status and the body.
    pub fn http(
        port: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("request");
        let mut response = String::new();
        // The server may close as soon as it answered a body it refused.
        let _ = stream.read_to_string(&mut response);
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        (status, body.to_owned())
    }

    /// The body of `GET path` on the coordinator at `port`, or `None` when
    /// it does not answer.
    pub fn http_get(port: u16, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response.split("\r\n\r\n").nth(1).map(str::to_owned)
    }

    /// Slow workers logging into files, staging in `staging_dir`.
    pub fn slow_logged_on_staging(
        workers: usize,
        job_delay_ms: u64,
        staging_dir: &Path,
    ) -> Cluster {
        let mut cluster = Cluster::unstarted(true);
        cluster.staging_dir = Some(staging_dir.to_owned());
        cluster.job_delay_ms = job_delay_ms;
        cluster.start_coordinator();
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    /// Slow workers against the Redis at `redis_url`, and a coordinator
    /// that pauses 3 s before committing outputs.
    pub fn slow_on_redis(workers: usize, job_delay_ms: u64, redis_url: &str) -> Cluster {
        let mut cluster = Cluster::unstarted(false);
        cluster.redis_url = redis_url.to_owned();
        cluster.job_delay_ms = job_delay_ms;
        cluster.write_delay_ms = 3000;
        cluster.start_coordinator();
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
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
        Cluster::drill(workers, job_delay_ms, "after-store")
    }

    /// A cluster for aiming faults at a phase: `workers` workers that pause
    /// `job_delay_ms` at `at` (`before` a job, or `after-store`: between
    /// storing its effects and acking it), and a coordinator that pauses
    /// 3 s before committing the outputs, so a fault can land in the
    /// write phase too.
    pub fn drill(workers: usize, job_delay_ms: u64, at: &'static str) -> Cluster {
        let mut cluster = Cluster::unstarted(false);
        cluster.job_delay_ms = job_delay_ms;
        cluster.job_delay_at = at;
        cluster.write_delay_ms = 3000;
        cluster.start_coordinator();
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

    /// A worker that reaches the servers at other addresses (a proxy's).
    pub fn add_worker_via(&mut self, amqp_url: &str, redis_url: &str) {
        let child = self
            .command(&["worker"])
            .env("RAPPORT_AMQP_URL", amqp_url)
            .env("RAPPORT_REDIS_URL", redis_url)
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

    /// The run's status, or `None` while the coordinator cannot tell (its
    /// servers restarting).
    pub fn try_status(&self, run: &str) -> Option<serde_json::Value> {
        let o = self.run(&["status", run]);
        o.status
            .success()
            .then(|| serde_json::from_slice(&o.stdout).ok())
            .flatten()
    }

    /// Waits until `what` holds of the run's status; a status the
    /// coordinator cannot give for a moment is waited out too.
    pub fn wait_for(
        &self,
        run: &str,
        mut what: impl FnMut(&serde_json::Value) -> bool,
        secs: u64,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = None;
        loop {
            if let Some(s) = self.try_status(run) {
                if what(&s) {
                    return s;
                }
                last = Some(s);
            }
            assert!(Instant::now() < deadline, "timed out; last status {last:?}");
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

    /// Waits (at most `secs`) for a signalled process to exit; its status.
    pub fn exit_status(child: &mut Child, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "process did not stop on its signal"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
        for child in self
            .workers
            .iter_mut()
            .chain(self.others.iter_mut())
            .chain(self.coordinator.as_mut())
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        let (ns, redis) = (self.namespace.clone(), self.redis_url.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Runtime::new() else {
                return;
            };
            rt.block_on(async {
                if let Ok(q) = RabbitQueue::connect(AMQP, &ns, 1).await {
                    let _ = q.delete_all().await;
                }
                if let Ok(r) = RedisStore::connect(&redis, &ns).await {
                    let _ = r.delete_namespace().await;
                }
            });
        })
        .join();
    }
}

/// The phases of a run in order, as its status names them.
pub const PHASES: [&str; 6] = ["ingest", "aggregate", "replies", "reduce", "score", "write"];

/// True when the run's status is at `phase` or past it.
pub fn reached(s: &serde_json::Value, phase: &str) -> bool {
    let at = |p: &str| PHASES.iter().position(|q| *q == p);
    s["status"] != "queued"
        && s["phase"]
            .as_str()
            .and_then(at)
            .zip(at(phase))
            .is_some_and(|(now, wanted)| now >= wanted)
}

/// A fault injected now, timed: how long until the run's status shows the
/// cluster noticed it (detect), and until the run ended (finish). The
/// times are printed and, with `RAPPORT_DRILL_LOG` set, appended to that
/// file (`RELIABILITY.md` records them); no test asserts a duration.
pub struct Drill {
    cell: String,
    at: Instant,
    /// When the cluster was first seen to notice the fault.
    seen: std::cell::Cell<Option<Duration>>,
}

impl Drill {
    pub fn start(cell: impl Into<String>) -> Drill {
        Drill {
            cell: cell.into(),
            at: Instant::now(),
            seen: std::cell::Cell::new(None),
        }
    }

    /// Watches the run for `how_long` while the fault lasts, noting when
    /// `detected` first holds of its status.
    pub fn during(
        &self,
        cluster: &Cluster,
        run: &str,
        how_long: Duration,
        detected: impl Fn(&serde_json::Value) -> bool,
    ) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            if self.seen.get().is_none() && cluster.try_status(run).is_some_and(|s| detected(&s)) {
                self.seen.set(Some(self.at.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Time since the fault.
    pub fn elapsed(&self) -> Duration {
        self.at.elapsed()
    }

    /// Polls the run until it ends (at most `secs`); asserts that
    /// `detected` held of its status at some point (the fault happened
    /// and was seen), and returns the last status.
    pub fn watch(
        &self,
        cluster: &Cluster,
        run: &str,
        secs: u64,
        detected: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        self.timed(cluster, run, secs, Some(&detected))
    }

    /// Polls the run until it ends, for a fault the cluster rides out
    /// without anything to detect (a link down for less than the heartbeat
    /// timeout).
    pub fn ride_out(&self, cluster: &Cluster, run: &str, secs: u64) -> serde_json::Value {
        self.timed(cluster, run, secs, None)
    }

    fn timed(
        &self,
        cluster: &Cluster,
        run: &str,
        secs: u64,
        detected: Option<&dyn Fn(&serde_json::Value) -> bool>,
    ) -> serde_json::Value {
        let ended = cluster.wait_for(
            run,
            |s| {
                if self.seen.get().is_none() && detected.is_some_and(|d| d(s)) {
                    self.seen.set(Some(self.at.elapsed()));
                }
                s["status"] != "running" && s["status"] != "queued"
            },
            secs,
        );
        let finish = self.at.elapsed();
        let detect = match (detected, self.seen.get()) {
            (None, _) => "nothing to detect".to_owned(),
            (Some(_), Some(t)) => format!("detected {:.1} s", t.as_secs_f64()),
            (Some(_), None) => panic!("{}: never detected: {ended}", self.cell),
        };
        let line = format!(
            "drill | {} | {detect} | ended {:.1} s | {}\n",
            self.cell,
            finish.as_secs_f64(),
            ended["status"]
        );
        eprint!("{line}");
        if let Ok(path) = std::env::var("RAPPORT_DRILL_LOG") {
            use std::io::Write;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path);
            let _ = file.and_then(|mut f| f.write_all(line.as_bytes()));
        }
        ended
    }
}

/// The run's recovery counter `what` in a status (0 when absent).
pub fn recovered(s: &serde_json::Value, what: &str) -> u64 {
    match &s["recovery"][what] {
        serde_json::Value::Array(a) => a.len() as u64,
        v => v.as_u64().unwrap_or(0),
    }
}

/// The accounts `GET /runs/{run}/accounts?segment=EXPR` answers on the
/// coordinator at `port` (asserting a 200).
pub fn api_segment(port: u16, run: &str, expr: &str) -> Vec<String> {
    let (status, body) = Cluster::http(
        port,
        "GET",
        &format!("/runs/{run}/accounts?segment={}", query_escape(expr)),
        Some(OPERATOR_TOKEN),
        "",
    );
    assert_eq!(status, 200, "{expr}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    answer["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect()
}

/// `text` escaped for a URL's query.
pub fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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
