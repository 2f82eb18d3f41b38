//! The queue between controllers and invokers.
//!
//! - this file: the [`Queue`] trait: controllers publish activations to an invoker's queue and consume
//!   their own queue of results and completions; invokers do the reverse. Deliveries are acknowledged
//!   explicitly, after the work they carry is done, so a broker can redeliver what a crashed consumer
//!   took.
//! - [`in_process`]: the queue of `owl standalone`: channels inside one process.
//! - [`rabbitmq`]: the queue of the distributed mode, on RabbitMQ.

pub mod in_process;
pub mod rabbitmq;

use async_trait::async_trait;
use owl_entity::message::{ActivationMessage, ControllerMessage, Heartbeat};

pub use in_process::InProcessQueue;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    /// Nobody consumes that queue (an unknown invoker or controller).
    #[error("no consumer for queue '{0}'")]
    NoConsumer(String),
    /// The queue was closed (shutdown).
    #[error("queue '{0}' is closed")]
    Closed(String),
    /// The message is larger than the broker takes.
    #[error("message of {size} bytes exceeds the queue's limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("queue failure: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, QueueError>;

/// A message taken from a queue, to acknowledge once it was handled.
pub struct Delivery<T> {
    pub message: T,
    /// The broker delivered it before, to a consumer that did not acknowledge it (it crashed or
    /// stopped): its work may have begun.
    pub redelivered: bool,
    ack: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> Delivery<T> {
    pub fn new(message: T, ack: Option<Box<dyn FnOnce() + Send>>) -> Self {
        Delivery {
            message,
            redelivered: false,
            ack,
        }
    }

    pub fn redelivered(mut self, redelivered: bool) -> Self {
        self.redelivered = redelivered;
        self
    }

    /// Acknowledges the delivery: the broker forgets it.
    pub fn ack(mut self) -> T {
        if let Some(a) = self.ack.take() {
            a();
        }
        self.message
    }
}

/// Where one consumer reads its messages.
#[async_trait]
pub trait Subscription<T>: Send {
    /// The next message; `None` once the queue is closed.
    async fn next(&mut self) -> Option<Delivery<T>>;
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Publishes an activation to the queue of `invoker`.
    async fn send_activation(&self, invoker: &str, message: ActivationMessage) -> Result<()>;
    /// Publishes a result or completion to the queue of `controller`.
    async fn send_to_controller(&self, controller: &str, message: ControllerMessage) -> Result<()>;
    /// Consumes the activations queued for `invoker`, holding at most `prefetch` unacknowledged.
    /// Several consumers of one invoker's queue share its messages (a controller takes over the
    /// queue of an invoker that is gone).
    async fn activations(
        &self,
        invoker: &str,
        prefetch: u16,
    ) -> Result<Box<dyn Subscription<ActivationMessage>>>;
    /// Consumes the messages queued for `controller`.
    async fn controller_messages(
        &self,
        controller: &str,
    ) -> Result<Box<dyn Subscription<ControllerMessage>>>;
    /// Sends a heartbeat to every controller listening.
    async fn send_heartbeat(&self, beat: Heartbeat) -> Result<()>;
    /// The heartbeats of every invoker and controller, as `listener` (a controller) hears them from
    /// now on; nothing is kept for a listener that is gone.
    async fn heartbeats(&self, listener: &str) -> Result<Box<dyn Subscription<Heartbeat>>>;
}
