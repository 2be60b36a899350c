//! Rapport's I/O edges, each a small trait with an in-process implementation
//! (embedded mode, `rapport run`) and a server-backed one (the cluster).
//!
//! # Layout
//! - [`queue`]: [`JobQueue`], deliveries and acks; [`memory_queue`] in-process.
//! - [`store`]: [`PartialStore`], job effects and progress; [`memory_store`].
//! - [`staging`]: [`Staging`], the shared blob area; [`object_staging`] via `object_store`.
//! - [`error`]: [`BackendError`].

pub mod error;
pub mod memory_queue;
pub mod memory_store;
pub mod object_staging;
pub mod queue;
pub mod staging;
pub mod store;

pub use error::BackendError;
pub use queue::{Delivery, JobQueue};
pub use staging::Staging;
pub use store::{PartialStore, PhaseProgress};

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
}

impl Backends {
    /// In-process queue and store, staging in the folder `staging_dir`.
    pub fn in_process(staging_dir: &std::path::Path, queue_capacity: usize) -> Result<Backends, BackendError> {
        Ok(Backends {
            queue: Arc::new(memory_queue::MemoryQueue::new(queue_capacity)),
            store: Arc::new(memory_store::MemoryStore::default()),
            staging: Arc::new(object_staging::ObjectStaging::local(staging_dir)?),
        })
    }
}
