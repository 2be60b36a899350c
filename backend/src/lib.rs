//! Rapport's I/O edges, each a small trait with an in-process implementation
//! (embedded mode, `rapport run`) and a server-backed one (the cluster).
//!
//! # Layout
//! - [`queue`] — [`JobQueue`], deliveries and acks; [`memory_queue`] in-process,
//!   [`rabbit_queue`] on RabbitMQ.
//! - [`store`] — [`PartialStore`], job effects and progress; [`memory_store`]
//!   in-process, [`redis_store`] on Redis.
//! - [`registry`] — [`RunRegistry`], run records (both stores implement it).
//! - [`staging`] — [`Staging`], the shared blob area; [`object_staging`] via `object_store`.
//! - [`object_url`] — `s3://` and `az://` URLs, and how to reach their stores.
//! - [`layout`] — where a run's data lives, its codec, and who feeds whom.
//! - [`handoff`] — checked hand-offs: blobs read against their producer's ref.
//! - [`part_index`] — where each key partition's part of an ingest job's batches lies.
//! - [`lease`] — which coordinator leads a namespace, and the fence of its writes.
//! - [`data_roots`] — where inputs may be read and outputs written.
//! - [`error`] — [`BackendError`].
//! - [`tls`] — whom to trust on `amqps://` and `rediss://`, and who we are.
//! - [`metrics`] — counters and histograms in the Prometheus text format.

pub mod data_roots;
pub mod error;
pub mod handoff;
pub mod layout;
pub mod lease;
pub mod memory_queue;
pub mod memory_store;
pub mod metrics;
pub mod object_staging;
pub mod object_url;
pub mod part_index;
pub mod queue;
pub mod rabbit_queue;
pub mod redis_store;
pub mod registry;
pub mod staging;
pub mod store;
pub mod tls;

pub use data_roots::DataRoots;
pub use error::BackendError;
pub use queue::{Delivery, JobQueue};
pub use registry::RunRegistry;
pub use staging::Staging;
pub use store::{JobFailure, PartialStore, PhaseProgress, Stored};

use std::sync::Arc;

/// The three edges a worker and a coordinator share.
#[derive(Clone)]
pub struct Backends {
    /// The job queue.
    pub queue: Arc<dyn JobQueue>,
    /// The partial store.
    pub store: Arc<dyn PartialStore>,
    /// The staging area.
    pub staging: Arc<dyn Staging>,
    /// Run records.
    pub registry: Arc<dyn RunRegistry>,
    /// Where inputs may be read and outputs written.
    pub data_roots: Arc<DataRoots>,
}

impl Backends {
    /// In-process queue and store, staging in the folder `staging_dir`.
    pub fn in_process(
        staging_dir: &std::path::Path,
        queue_capacity: usize,
    ) -> Result<Backends, BackendError> {
        let store = Arc::new(memory_store::MemoryStore::default());
        Ok(Backends {
            queue: Arc::new(memory_queue::MemoryQueue::new(queue_capacity)),
            store: store.clone(),
            staging: Arc::new(object_staging::ObjectStaging::local(staging_dir)?),
            registry: store,
            data_roots: Arc::new(DataRoots::unrestricted()),
        })
    }

    /// RabbitMQ, Redis and an object store, all under `settings.namespace`.
    pub async fn cluster(settings: &ClusterSettings) -> Result<Backends, BackendError> {
        let store = Arc::new(
            redis_store::RedisStore::connect_with(
                &settings.redis_url,
                &settings.namespace,
                &settings.tls,
            )
            .await?,
        );
        let queue = rabbit_queue::RabbitQueue::connect_with(
            &settings.amqp_url,
            &settings.namespace,
            settings.prefetch,
            &settings.tls,
        )
        .await?;
        Ok(Backends {
            queue: Arc::new(queue),
            store: store.clone(),
            staging: Arc::new(object_staging::ObjectStaging::open(
                &settings.staging,
                settings.data_roots.stores(),
            )?),
            registry: store,
            data_roots: Arc::new(settings.data_roots.clone()),
        })
    }
}

/// A coordinator's edges in the cluster.
pub struct CoordinatorBackends {
    /// For requests, which any coordinator serves.
    pub requests: Backends,
    /// For executing runs: run records, epochs and run deletions are
    /// fenced by the lease.
    pub exec: Backends,
    /// The namespace's lease, held by this process while it leads.
    pub lease: lease::Lease,
}

impl CoordinatorBackends {
    /// Connects, as the coordinator `holder` (unique per process).
    pub async fn connect(
        settings: &ClusterSettings,
        holder: String,
    ) -> Result<CoordinatorBackends, BackendError> {
        let requests = Backends::cluster(settings).await?;
        let store = redis_store::RedisStore::connect_with(
            &settings.redis_url,
            &settings.namespace,
            &settings.tls,
        )
        .await?;
        let lease = store.lease(holder);
        let fenced = Arc::new(store.fenced(&lease));
        let exec = Backends {
            store: fenced.clone(),
            registry: fenced,
            ..requests.clone()
        };
        Ok(CoordinatorBackends {
            requests,
            exec,
            lease,
        })
    }
}

/// Where the cluster's servers are.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Redis URL.
    pub redis_url: String,
    /// Prefix of every queue, exchange and key.
    pub namespace: String,
    /// Staging folder or URL, shared by the coordinator and every worker.
    pub staging: String,
    /// Deliveries a consumer holds unacked.
    pub prefetch: u16,
    /// Where inputs may be read and outputs written.
    pub data_roots: DataRoots,
    /// Whom to trust on `amqps://` and `rediss://`, and who we are.
    pub tls: tls::TlsSettings,
}
