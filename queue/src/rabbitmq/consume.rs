//! Subscriptions: one task per subscription consumes on a channel of its own and hands messages to
//! [`RabbitSubscription::next`] through a channel bounded by the prefetch. When the connection
//! drops, the task waits for the next one, declares its queue again and consumes anew; `next` keeps
//! waiting meanwhile and returns `None` only once the queue is closed (or dropped).
//!
//! Each consumer session (one `basic.consume`) has a number. Messages of a session that ended are
//! skipped by `next`: their channel is gone, so they cannot be acknowledged, and the broker
//! delivers them again (`redelivered`) on the new session.
//!
//! A body that does not parse is rejected without requeueing (to the dead letters where the queue
//! has them, else dropped) and logged; the subscription goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Acker, Channel, Consumer};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::link::{INITIAL_BACKOFF, Link, MAX_BACKOFF, Shared, stopped};
use super::topology;
use crate::{Delivery, QueueError, Result, Subscription};

/// Unacknowledged results and completions a controller holds (acknowledged as it takes them).
const CONTROLLER_PREFETCH: u16 = 256;
/// Unacknowledged heartbeats a listener holds (acknowledged as it takes them).
const HEARTBEAT_PREFETCH: u16 = 32;
/// How long cancelling a consumer and closing its channel may take.
const END_TIMEOUT: Duration = Duration::from_secs(2);

/// What a subscription consumes.
pub(super) enum Kind {
    Activations { invoker: String, prefetch: u16 },
    Controller { controller: String },
    Heartbeats,
}

/// Who acknowledges a message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AckMode {
    /// The caller, through [`Delivery::ack`], once the work is done: a crash before that makes the
    /// broker deliver it again.
    Caller,
    /// `next`, as it hands the message out. Results, completions and heartbeats matter only to the
    /// process reading them: if it dies after taking one, redelivering it to its successor helps
    /// nobody (the waiting request died with it). Acknowledging in `next` rather than with
    /// `no_ack` keeps the prefetch as flow control, so a slow reader holds back the broker instead
    /// of buffering without bound, and heartbeats it is slow to read expire in the broker.
    OnTake,
}

impl Kind {
    fn prefetch(&self) -> u16 {
        match self {
            // 0 would mean no limit in AMQP; the trait means at least one.
            Kind::Activations { prefetch, .. } => (*prefetch).max(1),
            Kind::Controller { .. } => CONTROLLER_PREFETCH,
            Kind::Heartbeats => HEARTBEAT_PREFETCH,
        }
    }

    fn ack_mode(&self) -> AckMode {
        match self {
            Kind::Activations { .. } => AckMode::Caller,
            _ => AckMode::OnTake,
        }
    }

    /// Heartbeats older than the broker keeps them are not handed out either.
    fn max_age(&self) -> Option<Duration> {
        match self {
            Kind::Heartbeats => Some(topology::HEARTBEAT_TTL),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Kind::Activations { invoker, .. } => topology::invoker_queue(invoker),
            Kind::Controller { controller } => topology::controller_queue(controller),
            Kind::Heartbeats => topology::HEARTBEAT_EXCHANGE.to_string(),
        }
    }

    /// Opens a channel, declares the queue and starts consuming it.
    async fn open(&self, link: &Link) -> lapin::Result<Session> {
        let channel = link.connection.create_channel().await?;
        let queue = match self {
            Kind::Activations { invoker, .. } => {
                let queue = topology::invoker_queue(invoker);
                topology::declare_invoker_queue(&channel, &queue).await?;
                queue
            }
            Kind::Controller { controller } => {
                let queue = topology::controller_queue(controller);
                topology::declare_controller_queue(&channel, &queue).await?;
                queue
            }
            Kind::Heartbeats => {
                topology::declare_heartbeat_queue(&channel, &link.heartbeats).await?
            }
        };
        channel
            .basic_qos(self.prefetch(), BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Session {
            channel,
            consumer,
            queue: queue.into(),
        })
    }
}

/// One `basic.consume` on its own channel.
struct Session {
    channel: Channel,
    consumer: Consumer,
    queue: Arc<str>,
}

impl Session {
    /// Cancels the consumer and closes the channel: what it delivered and nobody acknowledged
    /// goes back to the queue.
    async fn end(self) {
        let _ = tokio::time::timeout(END_TIMEOUT, async {
            let _ = self
                .channel
                .basic_cancel(self.consumer.tag(), BasicCancelOptions::default())
                .await;
            let _ = self.channel.close(200, "OK".into()).await;
        })
        .await;
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        delivery: lapin::message::Delivery,
        session: u64,
    ) -> Option<Item<T>> {
        match serde_json::from_slice::<T>(&delivery.data) {
            Ok(message) => Some(Item {
                message,
                redelivered: delivery.redelivered,
                acker: delivery.acker,
                session,
                received: Instant::now(),
            }),
            Err(e) => {
                tracing::warn!(queue = %self.queue, error = %e, bytes = delivery.data.len(),
                    "rejecting a message that does not parse");
                let requeue = BasicRejectOptions { requeue: false };
                if let Err(e) = delivery.acker.reject(requeue).await {
                    tracing::debug!(queue = %self.queue, error = %e, "rejecting failed");
                }
                None
            }
        }
    }
}

struct Item<T> {
    message: T,
    redelivered: bool,
    acker: Acker,
    session: u64,
    received: Instant,
}

/// Starts consuming (on the current connection, waiting up to `publish_timeout` for one) and
/// returns the subscription with the task that feeds it.
pub(super) async fn subscribe<T>(
    shared: Arc<Shared>,
    kind: Kind,
) -> Result<(Box<dyn Subscription<T>>, tokio::task::JoinHandle<()>)>
where
    T: DeserializeOwned + Send + 'static,
{
    let what = kind.describe();
    if shared.is_closed() {
        return Err(QueueError::Closed(what));
    }
    let first = async {
        let mut newer_than = 0;
        loop {
            let Some(link) = shared.link(newer_than).await else {
                return Err(QueueError::Closed(what.clone()));
            };
            match kind.open(&link).await {
                Ok(session) => return Ok(session),
                Err(e) if link.connected() => {
                    return Err(QueueError::Backend(format!(
                        "cannot consume '{what}' on RabbitMQ at {}: {e}",
                        shared.endpoint
                    )));
                }
                Err(_) => newer_than = link.generation,
            }
        }
    };
    let session = tokio::time::timeout(shared.config.publish_timeout, first)
        .await
        .map_err(|_| {
            QueueError::Backend(format!(
                "RabbitMQ at {} unreachable for {:?}: cannot consume '{what}'",
                shared.endpoint, shared.config.publish_timeout
            ))
        })??;
    let (tx, rx) = mpsc::channel(usize::from(kind.prefetch()));
    let current = Arc::new(AtomicU64::new(1));
    let subscription = RabbitSubscription {
        rx,
        current: current.clone(),
        ack_mode: kind.ack_mode(),
        max_age: kind.max_age(),
        queue: session.queue.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    let task = tokio::spawn(feed(shared, kind, session, tx, current));
    Ok((Box::new(subscription), task))
}

/// The task behind a subscription: consumes, and resumes on every new connection until the queue
/// closes or the subscription is dropped.
async fn feed<T>(
    shared: Arc<Shared>,
    kind: Kind,
    mut session: Session,
    tx: mpsc::Sender<Item<T>>,
    current: Arc<AtomicU64>,
) where
    T: DeserializeOwned + Send + 'static,
{
    let mut shutdown = shared.shutdown_signal();
    let mut number = 1;
    loop {
        let why = loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => return session.end().await,
                _ = tx.closed() => return session.end().await,
                next = session.consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let Some(item) = session.decode::<T>(delivery, number).await else {
                            continue;
                        };
                        tokio::select! {
                            _ = stopped(&mut shutdown) => return session.end().await,
                            sent = tx.send(item) => if sent.is_err() {
                                return session.end().await;
                            },
                        }
                    }
                    Some(Err(e)) => break e.to_string(),
                    None => break "the consumer was cancelled".to_string(),
                },
            }
        };
        // What is still buffered came on the ended session: skip it, the broker redelivers it.
        number += 1;
        current.store(number, Ordering::Release);
        tracing::warn!(queue = %session.queue, error = %why, "consuming stopped; resuming once RabbitMQ is back");
        session.end().await;

        let mut delay = INITIAL_BACKOFF;
        session = loop {
            let link = tokio::select! {
                _ = stopped(&mut shutdown) => return,
                _ = tx.closed() => return,
                link = shared.link(0) => match link {
                    Some(link) => link,
                    None => return,
                },
            };
            match kind.open(&link).await {
                Ok(session) => break session,
                Err(e) => {
                    if link.connected() {
                        // Not the outage: something the broker refuses (its arguments, say).
                        tracing::warn!(queue = %kind.describe(), error = %e, "consuming again failed; retrying");
                    } else {
                        tracing::debug!(queue = %kind.describe(), error = %e, "consuming again failed; retrying");
                    }
                    tokio::select! {
                        _ = stopped(&mut shutdown) => return,
                        _ = tx.closed() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
            }
        };
        tracing::info!(queue = %session.queue, "consuming again");
    }
}

/// The receiving end of a subscription.
struct RabbitSubscription<T> {
    rx: mpsc::Receiver<Item<T>>,
    /// The number of the session now consuming.
    current: Arc<AtomicU64>,
    ack_mode: AckMode,
    max_age: Option<Duration>,
    queue: Arc<str>,
    /// Where acknowledgements run: `Delivery::ack` is synchronous.
    runtime: tokio::runtime::Handle,
}

impl<T> RabbitSubscription<T> {
    fn ack_later(&self, acker: Acker) {
        let queue = self.queue.clone();
        self.runtime.spawn(ack(acker, queue));
    }
}

async fn ack(acker: Acker, queue: Arc<str>) {
    // After a reconnect the channel is gone and this fails: the broker delivers the message again.
    match acker.ack(BasicAckOptions::default()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(queue = %queue, "acknowledgement not sent: its channel is gone")
        }
        Err(e) => tracing::debug!(queue = %queue, error = %e, "acknowledgement failed"),
    }
}

#[async_trait]
impl<T: Send + 'static> Subscription<T> for RabbitSubscription<T> {
    async fn next(&mut self) -> Option<Delivery<T>> {
        loop {
            let item = self.rx.recv().await?;
            if item.session != self.current.load(Ordering::Acquire) {
                continue;
            }
            let stale = self
                .max_age
                .is_some_and(|age| item.received.elapsed() > age);
            if self.ack_mode == AckMode::Caller {
                let runtime = self.runtime.clone();
                let queue = self.queue.clone();
                let acker = item.acker;
                let ack: Box<dyn FnOnce() + Send> = Box::new(move || {
                    runtime.spawn(ack(acker, queue));
                });
                return Some(Delivery::new(item.message, Some(ack)).redelivered(item.redelivered));
            }
            self.ack_later(item.acker);
            if stale {
                continue;
            }
            return Some(Delivery::new(item.message, None).redelivered(item.redelivered));
        }
    }
}
