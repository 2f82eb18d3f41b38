//! The queue of the distributed mode, on RabbitMQ (AMQP 0.9.1 through lapin): controllers and
//! invokers each hold one [`RabbitQueue`], one connection to the broker.
//!
//! - this file: [`RabbitConfig`] and [`RabbitQueue`], the [`Queue`] trait on top of the rest.
//! - `topology`: the exchanges and queues (`owl.invoker.<id>`, `owl.controller.<id>`,
//!   `owl.heartbeats`, `owl.dead`, `owl.dead-letters`) and how each is declared.
//! - `link`: the connection and its supervisor, which reconnects with backoff (100 ms doubling to
//!   5 s, forever) when it drops.
//! - `publish`: publishing with confirms on a pool of channels, waiting for a reconnection up to
//!   `publish_timeout`.
//! - `consume`: one task per subscription, on a channel of its own, resumed on every new
//!   connection.
//!
//! What it promises: a message is published once the broker confirmed it (persistent, to a durable
//! queue, so a broker restart keeps it); an activation is acknowledged only when the invoker says
//! so, and one delivered but not acknowledged (the consumer died, dropped its subscription, or the
//! connection dropped) is delivered again with `redelivered` set. Delivery is at least once: an
//! invoker sees a redelivered activation whose work may have begun.

mod consume;
mod link;
mod publish;
mod topology;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use owl_entity::message::{ActivationMessage, ControllerMessage, Heartbeat};
use serde::Serialize;

use crate::{Queue, QueueError, Result, Subscription};
use consume::Kind;
use link::Shared;
use publish::Target;

/// The default broker: the guest user, which RabbitMQ lets in from loopback only.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// RabbitMQ's own default `max_message_size`.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the broker is and how long to wait for it.
#[derive(Clone)]
pub struct RabbitConfig {
    /// `amqp://user:password@host:port/vhost` (the vhost percent-encoded: `%2f` is `/`).
    /// `amqps://` connects through TLS (rustls, with the system's root certificates); rustls needs
    /// a crypto provider, which the `owl` binary installs (ring's) before connecting.
    pub url: String,
    /// The largest message body sent; a larger one is [`QueueError::TooLarge`] and is not sent.
    /// Keep it at most the broker's `max_message_size` (128 MiB by default).
    pub max_message_bytes: usize,
    /// How long a publish may wait for the broker, reconnecting included, before it fails. It also
    /// bounds connecting, and waiting for a connection when subscribing.
    pub publish_timeout: Duration,
    /// Scopes every invoker and controller queue and the heartbeat exchange, so that several Owl
    /// systems may share one broker and vhost without hearing each other (empty: none, the
    /// names documented above). A vhost per system is the other way.
    pub scope: String,
}

impl RabbitConfig {
    /// The defaults, with this URL.
    pub fn new(url: impl Into<String>) -> Self {
        RabbitConfig {
            url: url.into(),
            ..RabbitConfig::default()
        }
    }
}

impl Default for RabbitConfig {
    fn default() -> Self {
        RabbitConfig {
            url: DEFAULT_URL.into(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
            scope: String::new(),
        }
    }
}

/// Never prints the password.
impl fmt::Debug for RabbitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitConfig")
            .field("url", &link::redact(&self.url))
            .field("max_message_bytes", &self.max_message_bytes)
            .field("publish_timeout", &self.publish_timeout)
            .finish()
    }
}

/// The [`Queue`] on RabbitMQ: one connection, a pool of publishing channels, a channel per
/// subscription. Dropping it (or [`RabbitQueue::close`]) ends every subscription.
pub struct RabbitQueue {
    shared: Arc<Shared>,
    /// The supervisor and the subscriptions' tasks, for [`RabbitQueue::close`] to wait for.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl RabbitQueue {
    /// Connects to the broker and declares the common topology. A single attempt: a wrong or
    /// unreachable URL fails at once (within `publish_timeout` at worst) with
    /// [`QueueError::Backend`] naming `host:port`. Reconnections after that are automatic.
    pub async fn connect(config: RabbitConfig) -> Result<RabbitQueue> {
        let (shared, supervisor) = Shared::connect(config).await?;
        Ok(RabbitQueue {
            shared,
            tasks: Mutex::new(vec![supervisor]),
        })
    }

    /// Cancels every consumer (what they hold unacknowledged goes back to its queue), closes the
    /// connection and ends every subscription (`next` returns `None`). Publishing afterwards is
    /// [`QueueError::Closed`]. Bounded: a few seconds at most, whatever the broker does.
    pub async fn close(&self) {
        let link = self.shared.current();
        self.shared.close();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(tasks),
        )
        .await;
        if let Some(link) = link
            && link.connected()
        {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                link.connection.close(200, "OK".into()),
            )
            .await;
        }
    }

    /// An invoker's or controller's name within this queue's scope.
    fn scoped(&self, id: &str) -> String {
        format!("{}{id}", self.shared.config.scope)
    }

    fn track(&self, task: tokio::task::JoinHandle<()>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    async fn subscribe<T>(&self, kind: Kind) -> Result<Box<dyn Subscription<T>>>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        let (subscription, task) = consume::subscribe(self.shared.clone(), kind).await?;
        self.track(task);
        Ok(subscription)
    }
}

/// Dropping signals every task to stop without waiting for them; lapin closes the connection once
/// its last handle is gone.
impl Drop for RabbitQueue {
    fn drop(&mut self) {
        self.shared.close();
    }
}

fn encode(message: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(message).map_err(|e| QueueError::Backend(format!("encoding a message: {e}")))
}

#[async_trait]
impl Queue for RabbitQueue {
    async fn send_activation(&self, invoker: &str, message: ActivationMessage) -> Result<()> {
        let body = encode(&message)?;
        let invoker = self.scoped(invoker);
        self.shared.publish(Target::Invoker(&invoker), &body).await
    }

    async fn send_to_controller(&self, controller: &str, message: ControllerMessage) -> Result<()> {
        let body = encode(&message)?;
        let controller = self.scoped(controller);
        self.shared
            .publish(Target::Controller(&controller), &body)
            .await
    }

    async fn activations(
        &self,
        invoker: &str,
        prefetch: u16,
    ) -> Result<Box<dyn Subscription<ActivationMessage>>> {
        self.subscribe(Kind::Activations {
            invoker: self.scoped(invoker),
            prefetch,
        })
        .await
    }

    async fn controller_messages(
        &self,
        controller: &str,
    ) -> Result<Box<dyn Subscription<ControllerMessage>>> {
        self.subscribe(Kind::Controller {
            controller: self.scoped(controller),
        })
        .await
    }

    async fn send_heartbeat(&self, beat: Heartbeat) -> Result<()> {
        let body = encode(&beat)?;
        self.shared.publish_heartbeat(&body).await
    }

    /// Each call gets a queue of its own (server-named, exclusive, deleted with the connection);
    /// `listener` only names it in logs.
    async fn heartbeats(&self, listener: &str) -> Result<Box<dyn Subscription<Heartbeat>>> {
        tracing::debug!(listener, "listening to heartbeats");
        self.subscribe(Kind::Heartbeats).await
    }
}
