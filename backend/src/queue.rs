//! The job queue: the coordinator publishes a phase's jobs, workers take
//! them one delivery at a time and ack only after the job's effects are
//! stored. Attempts are counted by the project in the store, not read from
//! a broker header (RabbitMQ 4.3 stopped counting `basic.nack` requeues).

use async_trait::async_trait;
use rapport_common::plan::{EnvelopeError, JobEnvelope};

use crate::BackendError;

/// How a delivery is settled.
#[async_trait]
pub trait Acker: Send {
    /// The job's effects are stored: remove it from the queue.
    async fn ack(self: Box<Self>) -> Result<(), BackendError>;
    /// Give the job back (`requeue`) or drop it to the dead-letter queue.
    async fn nack(self: Box<Self>, requeue: bool) -> Result<(), BackendError>;
}

/// One message taken from the queue (or from its dead letters).
pub struct Delivery {
    /// The job message, decoded.
    pub envelope: Result<JobEnvelope, EnvelopeError>,
    /// Delivered before and not acked (its worker died or lost its
    /// connection, or handed it back); counted in the run's recovery.
    pub redelivered: bool,
    /// Settles the delivery.
    pub acker: Box<dyn Acker>,
}

/// A queue of jobs shared by the coordinator and any number of workers.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Publishes jobs durably (returns once the queue has them).
    async fn publish(&self, jobs: Vec<JobEnvelope>) -> Result<(), BackendError>;
    /// Waits for the next delivery; `None` once the queue is closed.
    async fn next(&self) -> Result<Option<Delivery>, BackendError>;
    /// Jobs waiting to be taken (not those in a worker's hands).
    async fn waiting(&self) -> Result<u32, BackendError>;
    /// Drops every waiting job; returns how many (a cancelled run's jobs).
    async fn purge(&self) -> Result<u32, BackendError>;
    /// Jobs dead-lettered (delivered too often, or unreadable), each to be
    /// acked once its failure is recorded; nacked, it stays a dead letter.
    async fn take_dead_letters(&self) -> Result<Vec<Delivery>, BackendError>;
    /// Stops consuming and hands back the deliveries taken ahead of the
    /// worker (a broker's prefetch) but not yet handled, so that they wait
    /// in the queue again rather than in a stopped worker's buffer. A later
    /// [`JobQueue::next`] consumes afresh.
    async fn stop_consuming(&self) -> Result<(), BackendError>;
}
