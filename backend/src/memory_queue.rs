//! In-process job queue for embedded mode: a bounded multi-consumer channel.
//! A requeued job goes to the back of the channel, marked redelivered, as
//! on a real broker.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rapport_common::plan::JobEnvelope;

use crate::queue::{Acker, Delivery, JobQueue};
use crate::BackendError;

/// A bounded in-process queue; clones share it.
#[derive(Clone)]
pub struct MemoryQueue {
    tx: async_channel::Sender<Message>,
    rx: async_channel::Receiver<Message>,
    dead: Arc<Mutex<Vec<JobEnvelope>>>,
}

/// A job in the channel, and whether it was delivered before.
type Message = (JobEnvelope, bool);

impl MemoryQueue {
    /// A queue holding at most `capacity` waiting jobs (publishers wait beyond).
    pub fn new(capacity: usize) -> MemoryQueue {
        let (tx, rx) = async_channel::bounded(capacity.max(1));
        MemoryQueue {
            tx,
            rx,
            dead: Arc::default(),
        }
    }

    /// Closes the queue: consumers get `None` once it is empty.
    pub fn close(&self) {
        self.tx.close();
    }
}

struct MemoryAcker {
    envelope: JobEnvelope,
    tx: async_channel::Sender<Message>,
    dead: Arc<Mutex<Vec<JobEnvelope>>>,
}

/// A dead letter: nacked, it goes back among the dead letters.
struct DeadAcker {
    envelope: JobEnvelope,
    dead: Arc<Mutex<Vec<JobEnvelope>>>,
}

#[async_trait]
impl Acker for DeadAcker {
    async fn ack(self: Box<Self>) -> Result<(), BackendError> {
        Ok(())
    }

    async fn nack(self: Box<Self>, _requeue: bool) -> Result<(), BackendError> {
        self.dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(self.envelope);
        Ok(())
    }
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(self: Box<Self>) -> Result<(), BackendError> {
        Ok(())
    }

    async fn nack(self: Box<Self>, requeue: bool) -> Result<(), BackendError> {
        if requeue {
            self.tx
                .send((self.envelope, true))
                .await
                .map_err(|_| BackendError::Queue("queue closed".to_owned()))?;
        } else {
            self.dead
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.envelope);
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn publish(&self, jobs: Vec<JobEnvelope>) -> Result<(), BackendError> {
        for job in jobs {
            self.tx
                .send((job, false))
                .await
                .map_err(|_| BackendError::Queue("queue closed".to_owned()))?;
        }
        Ok(())
    }

    async fn next(&self) -> Result<Option<Delivery>, BackendError> {
        match self.rx.recv().await {
            Ok((envelope, redelivered)) => Ok(Some(Delivery {
                envelope: Ok(envelope.clone()),
                redelivered,
                acker: Box::new(MemoryAcker {
                    envelope,
                    tx: self.tx.clone(),
                    dead: self.dead.clone(),
                }),
            })),
            Err(_) => Ok(None),
        }
    }

    async fn waiting(&self) -> Result<u32, BackendError> {
        Ok(self.rx.len() as u32)
    }

    async fn purge(&self) -> Result<u32, BackendError> {
        let mut n = 0;
        while self.rx.try_recv().is_ok() {
            n += 1;
        }
        Ok(n)
    }

    async fn stop_consuming(&self) -> Result<(), BackendError> {
        // A delivery is taken only by `next`: nothing waits ahead of a worker.
        Ok(())
    }

    async fn take_dead_letters(&self) -> Result<Vec<Delivery>, BackendError> {
        let dead = std::mem::take(&mut *self.dead.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(dead
            .into_iter()
            .map(|envelope| Delivery {
                envelope: Ok(envelope.clone()),
                redelivered: true,
                acker: Box::new(DeadAcker {
                    envelope,
                    dead: self.dead.clone(),
                }),
            })
            .collect())
    }
}
