//! Test harness: backends of either kind in a namespace of their own, runs
//! of a tenant with workers in this process, golden-file comparison, and
//! queue and staging adapters that shuffle, duplicate or record.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};

use rapport_backend::rabbit_queue::RabbitQueue;
use rapport_backend::redis_store::RedisStore;
use rapport_backend::{BackendError, Backends, ClusterSettings, Delivery, JobQueue, Staging};
use rapport_common::plan::JobEnvelope;
use rapport_common::report::RunReport;
use rapport_coordinator::executor::ExecuteError;
use rapport_coordinator::{
    load_tenant_at, plan_run, run_with_local_workers, FileCaps, NoProgress, PlanOptions, RunSpec,
};
use tokio_util::sync::CancellationToken;

/// Which implementation of the edges a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-process queue and store, local staging folder.
    Embedded,
    /// RabbitMQ and Redis (addresses from RAPPORT_AMQP_URL / RAPPORT_REDIS_URL,
    /// loopback by default), in a namespace of the test's own.
    Cluster,
}

/// Runs a test body once per backend, as separate tests.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                ($body)($crate::util::Backend::Embedded).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cluster() {
                ($body)($crate::util::Backend::Cluster).await
            }
        }
    };
}

/// The shared folder of the project (`../shared` from the repository root).
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The configuration of an example tenant.
pub fn example(name: &str) -> PathBuf {
    shared().join("examples").join(name).join("tenant.toml")
}

/// Backends of one kind, and what must live as long as they do. Dropping
/// it removes the test's queues and keys from the shared servers.
pub struct TestBackends {
    /// The edges.
    pub backends: Backends,
    /// Staging folder.
    pub _staging: tempfile::TempDir,
    /// The cluster settings (namespace), for the cluster.
    pub settings: Option<ClusterSettings>,
}

static NAMESPACES: AtomicU64 = AtomicU64::new(0);

/// A namespace no other test (or test run) uses.
pub fn unique_namespace(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        NAMESPACES.fetch_add(1, Ordering::Relaxed)
    )
}

/// Cluster settings for a namespace, servers from the environment.
pub fn cluster_settings(namespace: &str, staging: &Path) -> ClusterSettings {
    ClusterSettings {
        amqp_url: std::env::var("RAPPORT_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
        redis_url: std::env::var("RAPPORT_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned()),
        namespace: namespace.to_owned(),
        staging: staging.display().to_string(),
        prefetch: 2,
        data_roots: rapport_backend::DataRoots::unrestricted(),
        tls: rapport_backend::tls::TlsSettings::default(),
    }
}

/// Removes a namespace's queues, exchange and keys.
pub async fn remove_namespace(settings: &ClusterSettings) {
    if let Ok(q) = RabbitQueue::connect(&settings.amqp_url, &settings.namespace, 1).await {
        let _ = q.delete_all().await;
    }
    if let Ok(r) = RedisStore::connect(&settings.redis_url, &settings.namespace).await {
        let _ = r.delete_namespace().await;
    }
}

impl Drop for TestBackends {
    fn drop(&mut self) {
        if let Some(settings) = self.settings.take() {
            // Drop cannot await: clean up on a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Runtime::new() {
                    rt.block_on(remove_namespace(&settings));
                }
            })
            .join();
        }
    }
}

/// Fresh backends of `kind`, in a namespace of their own.
pub async fn backends(kind: Backend) -> TestBackends {
    let staging = tempfile::tempdir().expect("staging dir");
    match kind {
        Backend::Embedded => TestBackends {
            backends: Backends::in_process(staging.path(), 1024).expect("backends"),
            _staging: staging,
            settings: None,
        },
        Backend::Cluster => {
            let settings = cluster_settings(&unique_namespace("test"), staging.path());
            let backends = Backends::cluster(&settings)
                .await
                .expect("RabbitMQ and Redis reachable (.ci/run starts them)");
            TestBackends {
                backends,
                _staging: staging,
                settings: Some(settings),
            }
        }
    }
}

/// How to run a tenant in a test.
#[derive(Clone, Copy, Default)]
pub struct RunOptions {
    /// How the work is cut.
    pub plan: PlanOptions,
    /// Worker tasks (default 2).
    pub workers: Option<usize>,
}

/// Runs the tenant at `config` on `backends`, writing into `out`.
pub async fn run_on(
    backends: &Backends,
    config: &Path,
    out: &Path,
    options: RunOptions,
) -> Result<RunReport, ExecuteError> {
    let tenant = load_tenant_at(
        &config.display().to_string(),
        backends.data_roots.clone(),
        FileCaps::default(),
    )
    .await
    .expect("valid tenant");
    let run_id = rapport_coordinator::planner::new_run_id();
    let ctx = plan_run(&run_id, &tenant, options.plan);
    let cancel = CancellationToken::new();
    let workers = options.workers.unwrap_or(2);
    let spec = RunSpec {
        tenant: &tenant,
        ctx: &ctx,
        out,
        formats: &[rapport_coordinator::output_formats::OutputFormat::Csv],
        history: None,
        mode: "test",
        resumed: 0,
    };
    run_with_local_workers(backends, spec, workers, &NoProgress, &cancel)
        .await
        .map(|o| o.report)
}

/// Runs the tenant at `config` on fresh backends of `kind`; returns the output folder.
pub async fn run_tenant(
    kind: Backend,
    config: &Path,
    options: RunOptions,
) -> (tempfile::TempDir, RunReport) {
    let b = backends(kind).await;
    let out = tempfile::tempdir().expect("out dir");
    let report = run_on(&b.backends, config, out.path(), options)
        .await
        .expect("run succeeds");
    (out, report)
}

/// Asserts two files are byte-identical, printing the first differing lines.
pub fn assert_same_file(expected: &Path, actual: &Path) {
    let e = std::fs::read_to_string(expected).expect("expected file");
    let a = std::fs::read_to_string(actual).expect("actual file");
    if e != a {
        let first = e
            .lines()
            .zip(a.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(e.lines().count().min(a.lines().count()));
        panic!(
            "{} differs from {} at line {}:\nexpected: {:?}\nactual:   {:?}",
            actual.display(),
            expected.display(),
            first + 1,
            e.lines().nth(first),
            a.lines().nth(first)
        );
    }
}

/// A queue that publishes each batch in a shuffled order, and optionally
/// every job twice (a redelivered job must change nothing).
pub struct ShufflingQueue {
    /// The real queue.
    pub inner: Arc<dyn JobQueue>,
    /// Shuffle seed.
    pub seed: u64,
    /// Publish every job twice.
    pub duplicate: bool,
}

#[async_trait]
impl JobQueue for ShufflingQueue {
    async fn publish(&self, mut jobs: Vec<JobEnvelope>) -> Result<(), BackendError> {
        let mut state = self.seed.wrapping_add(jobs.len() as u64);
        for i in (1..jobs.len()).rev() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            jobs.swap(i, (state >> 33) as usize % (i + 1));
        }
        if self.duplicate {
            let again = jobs.clone();
            jobs.extend(again);
        }
        self.inner.publish(jobs).await
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

/// Staging that keeps a copy of every blob written, for inspection.
pub struct RecordingStaging {
    /// The real staging.
    pub inner: Arc<dyn Staging>,
    /// Every blob written.
    pub written: Mutex<Vec<(String, Vec<u8>)>>,
}

#[async_trait]
impl Staging for RecordingStaging {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        self.written
            .lock()
            .expect("lock")
            .push((path.to_owned(), bytes.clone()));
        self.inner.put(path, bytes).await
    }
    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
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

/// What [`InterceptedStaging`] does to a blob read back: given its path
/// and bytes, the bytes to return.
pub type OnGet = Box<dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync>;

/// What [`InterceptedStaging`] does before a blob is written: an error
/// refuses the write (a full volume).
pub type OnPut = Box<dyn Fn(&str) -> Result<(), BackendError> + Send + Sync>;

/// Staging whose reads pass through a function: to garble blobs, or to act
/// when a phase starts reading them; and whose writes may be refused.
pub struct InterceptedStaging {
    /// The real staging.
    pub inner: Arc<dyn Staging>,
    /// Applied to every blob read.
    pub on_get: OnGet,
    /// Checked before every blob written.
    pub on_put: OnPut,
}

impl InterceptedStaging {
    /// Reads through `on_get`, writes as they come.
    pub fn reads(inner: Arc<dyn Staging>, on_get: OnGet) -> InterceptedStaging {
        InterceptedStaging {
            inner,
            on_get,
            on_put: Box::new(|_| Ok(())),
        }
    }
}

#[async_trait]
impl Staging for InterceptedStaging {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        (self.on_put)(path)?;
        self.inner.put(path, bytes).await
    }
    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        let bytes = self.inner.get(path).await?;
        Ok((self.on_get)(path, bytes))
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

/// Writes a small generated tenant into `dir`; returns its configuration.
pub fn small_tenant(dir: &Path, seed: u64) -> PathBuf {
    let options = rapport_generator::GenerateOptions {
        seed,
        users: 6,
        accounts: 12,
        emails: 600,
        meetings: 120,
    };
    rapport_generator::generate(&options, dir).expect("generated");
    dir.join("tenant.toml")
}

/// A queue that hands over the jobs of some runs late: makes those runs
/// slow without slowing the others.
pub struct SlowRunsQueue {
    /// The real queue.
    pub inner: Arc<dyn JobQueue>,
    /// The slow runs' ids.
    pub slow: Mutex<Vec<String>>,
    /// The pause before each of their deliveries.
    pub delay: std::time::Duration,
}

#[async_trait]
impl JobQueue for SlowRunsQueue {
    async fn publish(&self, jobs: Vec<JobEnvelope>) -> Result<(), BackendError> {
        self.inner.publish(jobs).await
    }

    async fn next(&self) -> Result<Option<Delivery>, BackendError> {
        let delivery = self.inner.next().await?;
        let slow = match delivery.as_ref().map(|d| &d.envelope) {
            Some(Ok(envelope)) => self.slow.lock().expect("lock").contains(&envelope.run_id),
            _ => false,
        };
        if slow {
            tokio::time::sleep(self.delay).await;
        }
        Ok(delivery)
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

/// Waits, at most `seconds`, until the run has ended; returns its record.
pub async fn ended_within(
    c: &rapport_coordinator::service::Coordinator,
    run: &str,
    seconds: u64,
) -> rapport_coordinator::run_record::RunRecord {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let r = c.get(run).await.expect("record");
        if r.status.is_final() {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{run} still {:?}",
            r.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
