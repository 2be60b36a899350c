//! The job queue on RabbitMQ, as its maintainers advise: a durable quorum
//! queue, persistent messages, publisher confirms on every publish, manual
//! acks, a bounded prefetch, and a delivery limit with a dead-letter queue.
//! A lost connection is re-established with back-off; deliveries of a lost
//! channel were never acked, so the broker hands them out again. Heartbeats
//! every [`HEARTBEAT`] (unless the URL asks for another `heartbeat=`): the
//! broker finds a half-open connection dead, and hands its jobs to other
//! workers, within about twice that.
//!
//! Names, all under the namespace: `{ns}.jobs` (the work queue),
//! `{ns}.dlx` (dead-letter exchange) and `{ns}.jobs.dead` (jobs that
//! exceeded the delivery limit, read by the coordinator).

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRecoverOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer,
    ExchangeKind,
};
use rapport_common::plan::JobEnvelope;
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::queue::{Acker, Delivery, JobQueue};
use crate::tls::{hint, TlsSettings};
use crate::BackendError;

/// Deliveries of one message before the broker dead-letters it: a backstop.
/// The project counts attempts itself in the store (`rapport_worker::consumer`),
/// because RabbitMQ 4.3 no longer counts `basic.nack` requeues. (Changing
/// it would change the queue's arguments, which the broker refuses on an
/// existing queue, so old and new processes could not share one.)
pub const DELIVERY_LIMIT: i64 = 5;
/// The heartbeat timeout asked of the broker, in seconds (RabbitMQ's own
/// default, 60 s, left a worker cut off from the broker holding its job for
/// over two minutes).
pub const HEARTBEAT: u16 = 15;
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// AMQP delivery mode of a persistent message.
const PERSISTENT: u8 = 2;

/// The broker's URL, with a [`HEARTBEAT`] unless it names one.
fn amqp_uri(url: &str) -> Result<AMQPUri, BackendError> {
    // The parser's message could quote the URL, password included.
    let mut uri: AMQPUri = url.parse().map_err(|_| {
        BackendError::Queue("the RabbitMQ URL is not a valid amqp:// URL".to_owned())
    })?;
    uri.query.heartbeat.get_or_insert(HEARTBEAT);
    Ok(uri)
}

fn queue_error(context: &str) -> impl Fn(lapin::Error) -> BackendError + '_ {
    move |e| BackendError::Queue(format!("{context}: {e}"))
}

/// A connection and the channel used on it.
struct Link {
    connection: Connection,
    channel: Channel,
    consumer: Option<Consumer>,
}

/// The RabbitMQ job queue of one namespace. Publishing and consuming use
/// connections of their own, so a consumer waiting for a job never holds up
/// a publisher in the same process.
pub struct RabbitQueue {
    uri: AMQPUri,
    tls: TlsSettings,
    namespace: String,
    prefetch: u16,
    publisher: Mutex<Option<Link>>,
    consumer: Mutex<Option<Link>>,
}

/// Which side a connection serves.
#[derive(Clone, Copy)]
enum Side {
    Publish,
    Consume,
}

impl RabbitQueue {
    /// Connects and declares the queues of `namespace`; `prefetch` bounds the
    /// deliveries a consumer holds unacked.
    pub async fn connect(
        url: &str,
        namespace: &str,
        prefetch: u16,
    ) -> Result<RabbitQueue, BackendError> {
        RabbitQueue::connect_with(url, namespace, prefetch, &TlsSettings::default()).await
    }

    /// [`RabbitQueue::connect`], over TLS with `tls` when the URL is `amqps://`.
    pub async fn connect_with(
        url: &str,
        namespace: &str,
        prefetch: u16,
        tls: &TlsSettings,
    ) -> Result<RabbitQueue, BackendError> {
        let queue = RabbitQueue {
            uri: amqp_uri(url)?,
            tls: tls.clone(),
            namespace: namespace.to_owned(),
            prefetch,
            publisher: Mutex::new(None),
            consumer: Mutex::new(None),
        };
        let link = queue.open(Side::Publish).await?;
        *queue.publisher.lock().await = Some(link);
        Ok(queue)
    }

    fn jobs_queue(&self) -> String {
        format!("{}.jobs", self.namespace)
    }

    fn dead_queue(&self) -> String {
        format!("{}.jobs.dead", self.namespace)
    }

    fn dead_exchange(&self) -> String {
        format!("{}.dlx", self.namespace)
    }

    /// Connects and declares the topology (both sides declare it, with the
    /// same arguments, so either may start first).
    async fn open(&self, side: Side) -> Result<Link, BackendError> {
        let runtime = lapin::runtime::default_runtime()
            .map_err(queue_error("no async runtime for RabbitMQ"))?;
        let connection = Connection::connect_uri_with_config(
            self.uri.clone(),
            ConnectionProperties::default(),
            self.tls.amqp(),
            runtime,
        )
        .await
        .map_err(|e| {
            let text = e.to_string();
            BackendError::Queue(format!("cannot connect to RabbitMQ: {text}{}", hint(&text)))
        })?;
        let publisher = connection
            .create_channel()
            .await
            .map_err(queue_error("cannot open a channel"))?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        publisher
            .exchange_declare(
                self.dead_exchange().as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(queue_error("cannot declare the dead-letter exchange"))?;
        let mut quorum = FieldTable::default();
        quorum.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        publisher
            .queue_declare(self.dead_queue().as_str().into(), durable, quorum.clone())
            .await
            .map_err(queue_error("cannot declare the dead-letter queue"))?;
        publisher
            .queue_bind(
                self.dead_queue().as_str().into(),
                self.dead_exchange().as_str().into(),
                self.jobs_queue().as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(queue_error("cannot bind the dead-letter queue"))?;
        let mut jobs_args = quorum;
        jobs_args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        jobs_args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dead_exchange().as_str().into()),
        );
        publisher
            .queue_declare(self.jobs_queue().as_str().into(), durable, jobs_args)
            .await
            .map_err(queue_error("cannot declare the job queue"))?;
        match side {
            Side::Publish => {
                publisher
                    .confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(queue_error("confirm.select"))?;
            }
            Side::Consume => {
                // Global QoS is refused on quorum queues: per consumer.
                publisher
                    .basic_qos(self.prefetch.max(1), BasicQosOptions { global: false })
                    .await
                    .map_err(queue_error("basic.qos"))?;
            }
        }
        Ok(Link {
            connection,
            channel: publisher,
            consumer: None,
        })
    }

    /// Re-opens the connection, with back-off, until it works.
    async fn reconnect(&self, link: &mut Option<Link>, side: Side) {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.open(side).await {
                Ok(l) => {
                    info!(namespace = %self.namespace, "reconnected to RabbitMQ");
                    *link = Some(l);
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "RabbitMQ unreachable; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn publish_on(
        &self,
        channel: &Channel,
        jobs: &[JobEnvelope],
    ) -> Result<(), BackendError> {
        let properties = BasicProperties::default().with_delivery_mode(PERSISTENT);
        let mut confirms = Vec::with_capacity(jobs.len());
        for job in jobs {
            let confirm = channel
                .basic_publish(
                    "".into(),
                    self.jobs_queue().as_str().into(),
                    BasicPublishOptions::default(),
                    &job.encode(),
                    properties.clone(),
                )
                .await
                .map_err(queue_error("publish"))?;
            confirms.push(confirm);
        }
        // Confirms are pipelined: publish them all, then wait for each.
        for confirm in confirms {
            match confirm.await.map_err(queue_error("publisher confirm"))? {
                Confirmation::Ack(_) => {}
                other => {
                    return Err(BackendError::Queue(format!(
                        "broker refused a job: {other:?}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Jobs the broker dead-lettered (delivered too often), each acked only
    /// once the caller has recorded it.
    async fn dead_letters(&self) -> Result<Vec<Delivery>, BackendError> {
        let mut guard = self.publisher.lock().await;
        if guard.is_none() {
            self.reconnect(&mut guard, Side::Publish).await;
        }
        let Some(link) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        loop {
            let got = link
                .channel
                .basic_get(
                    self.dead_queue().as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await;
            match got {
                Ok(Some(message)) => out.push(Delivery {
                    envelope: JobEnvelope::decode(&message.delivery.data),
                    redelivered: message.delivery.redelivered,
                    acker: Box::new(RabbitAcker(message.delivery.acker)),
                }),
                Ok(None) => return Ok(out),
                Err(e) => {
                    // The channel died: its unacked dead letters go back to
                    // the dead-letter queue; reconnect at the next call.
                    *guard = None;
                    return Err(queue_error("basic.get")(e));
                }
            }
        }
    }

    /// Drops every waiting job (a cancelled run's; a coordinator runs one run at a time).
    async fn purge_waiting(&self) -> Result<u32, BackendError> {
        let mut guard = self.publisher.lock().await;
        if guard.is_none() {
            self.reconnect(&mut guard, Side::Publish).await;
        }
        let Some(link) = guard.as_ref() else {
            return Ok(0);
        };
        link.channel
            .queue_purge(
                self.jobs_queue().as_str().into(),
                QueuePurgeOptions::default(),
            )
            .await
            .map_err(queue_error("queue.purge"))
    }

    /// Messages waiting in the job queue (not counting unacked ones).
    async fn ready_messages(&self) -> Result<u32, BackendError> {
        let mut guard = self.publisher.lock().await;
        if guard.is_none() {
            self.reconnect(&mut guard, Side::Publish).await;
        }
        let Some(link) = guard.as_ref() else {
            return Ok(0);
        };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let q = link
            .channel
            .queue_declare(
                self.jobs_queue().as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await
            .map_err(queue_error("queue.declare"))?;
        Ok(q.message_count())
    }

    /// Deletes the namespace's queues and exchange (tests clean up with it).
    pub async fn delete_all(&self) -> Result<(), BackendError> {
        let guard = self.publisher.lock().await;
        let Some(link) = guard.as_ref() else {
            return Ok(());
        };
        for q in [self.jobs_queue(), self.dead_queue()] {
            link.channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await
                .map_err(queue_error("queue.delete"))?;
        }
        link.channel
            .exchange_delete(self.dead_exchange().as_str().into(), Default::default())
            .await
            .map_err(queue_error("exchange.delete"))
    }
}

struct RabbitAcker(lapin::Acker);

fn settled(ok: bool, what: &str) -> Result<(), BackendError> {
    // `false`: the channel died; the broker will redeliver the job.
    ok.then_some(())
        .ok_or_else(|| BackendError::Queue(format!("{what} not sent: channel closed")))
}

#[async_trait]
impl Acker for RabbitAcker {
    async fn ack(self: Box<Self>) -> Result<(), BackendError> {
        settled(
            self.0
                .ack(BasicAckOptions::default())
                .await
                .map_err(queue_error("ack"))?,
            "ack",
        )
    }

    async fn nack(self: Box<Self>, requeue: bool) -> Result<(), BackendError> {
        let options = BasicNackOptions {
            requeue,
            multiple: false,
        };
        settled(
            self.0.nack(options).await.map_err(queue_error("nack"))?,
            "nack",
        )
    }
}

#[async_trait]
impl JobQueue for RabbitQueue {
    async fn purge(&self) -> Result<u32, BackendError> {
        self.purge_waiting().await
    }

    async fn waiting(&self) -> Result<u32, BackendError> {
        self.ready_messages().await
    }

    async fn take_dead_letters(&self) -> Result<Vec<Delivery>, BackendError> {
        self.dead_letters().await
    }

    async fn stop_consuming(&self) -> Result<(), BackendError> {
        let Some(mut link) = self.consumer.lock().await.take() else {
            return Ok(());
        };
        if let Some(consumer) = link.consumer.take() {
            // No more deliveries once cancel-ok is in; then recover-ok comes
            // after the broker has handed the channel's unacked deliveries
            // back to the queue (a closed connection's come back later, when
            // the queue notices it is gone).
            link.channel
                .basic_cancel(
                    consumer.tag().as_str().into(),
                    BasicCancelOptions::default(),
                )
                .await
                .map_err(queue_error("basic.cancel"))?;
            link.channel
                .basic_recover(BasicRecoverOptions { requeue: true })
                .await
                .map_err(queue_error("basic.recover"))?;
        }
        link.connection
            .close(
                lapin::protocol::constants::REPLY_SUCCESS,
                "worker stopped".into(),
            )
            .await
            .map_err(queue_error("connection.close"))
    }

    async fn publish(&self, jobs: Vec<JobEnvelope>) -> Result<(), BackendError> {
        let mut guard = self.publisher.lock().await;
        for attempt in 0..3 {
            if guard.is_none() {
                self.reconnect(&mut guard, Side::Publish).await;
            }
            let Some(link) = guard.as_ref() else { continue };
            match self.publish_on(&link.channel, &jobs).await {
                Ok(()) => return Ok(()),
                // Publishing again is safe: a job's effects are stored once.
                Err(e) if attempt < 2 => {
                    warn!(error = %e, "publish failed; reconnecting");
                    *guard = None;
                }
                Err(e) => return Err(e),
            }
        }
        Err(BackendError::Queue("publish failed".to_owned()))
    }

    async fn next(&self) -> Result<Option<Delivery>, BackendError> {
        let mut guard = self.consumer.lock().await;
        loop {
            if guard.is_none() {
                self.reconnect(&mut guard, Side::Consume).await;
            }
            let Some(link) = guard.as_mut() else { continue };
            if link.consumer.is_none() {
                let consumer = link
                    .channel
                    .basic_consume(
                        self.jobs_queue().as_str().into(),
                        "".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await;
                match consumer {
                    Ok(c) => link.consumer = Some(c),
                    Err(e) => {
                        warn!(error = %e, "cannot consume; reconnecting");
                        *guard = None;
                        continue;
                    }
                }
            }
            let consumer = link.consumer.as_mut().expect("consumer set above");
            match consumer.next().await {
                Some(Ok(d)) => {
                    return Ok(Some(Delivery {
                        envelope: JobEnvelope::decode(&d.data),
                        redelivered: d.redelivered,
                        acker: Box::new(RabbitAcker(d.acker)),
                    }));
                }
                Some(Err(e)) => {
                    warn!(error = %e, "consumer failed; reconnecting");
                    *guard = None;
                }
                None => {
                    warn!("consumer cancelled by the broker; reconnecting");
                    *guard = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_is_ours_unless_the_url_names_one() {
        let ours = amqp_uri("amqp://u:p@127.0.0.1:5672/%2f").expect("valid");
        assert_eq!(ours.query.heartbeat, Some(HEARTBEAT));
        let theirs = amqp_uri("amqp://u:p@127.0.0.1:5672/%2f?heartbeat=5").expect("valid");
        assert_eq!(theirs.query.heartbeat, Some(5));
    }

    #[test]
    fn an_invalid_url_is_refused_without_quoting_it() {
        let err = amqp_uri("amqp://user:s3cret@127.0.0.1:notaport/")
            .expect_err("invalid")
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("not a valid amqp:// URL"), "{err}");
    }
}
