//! Publishing with publisher confirms.
//!
//! Each publish borrows a channel of the link's pool for itself, publishes and waits for the
//! broker's confirm, then gives the channel back. One publish per channel at a time keeps a confirm
//! (and a message the broker returns as unroutable) unambiguously tied to its publish, which
//! lapin cannot promise when publishes share a channel; concurrent publishes use several channels of
//! one connection, so none waits behind another's confirm. A channel is opened (and put in confirm
//! mode) only when no idle one is left, up to [`MAX_PUBLISH_CHANNELS`](super::link::MAX_PUBLISH_CHANNELS).
//!
//! Messages are published with `mandatory` set: the broker returns a message no queue takes, which
//! is how a message to a controller whose queue is gone becomes [`QueueError::NoConsumer`].
//!
//! A publish that fails before its frames left is tried again, on a fresh channel or the next
//! connection, until `publish_timeout`. One whose confirm is lost with the connection is not: the
//! broker may have queued it, and publishing it again could run an activation twice.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation};
use tokio::sync::SemaphorePermit;

use super::link::{Link, Shared, State};
use super::topology;
use crate::{QueueError, Result};

/// How long a heartbeat may take: the next one is due in about a second anyway.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a message goes.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// The queue of this invoker, declared before the first message to it on each connection.
    Invoker(&'a str),
    /// The queue of this controller, which must exist.
    Controller(&'a str),
    Heartbeats,
}

impl Target<'_> {
    /// The queue (or exchange) name, for messages.
    fn name(&self) -> String {
        match self {
            Target::Invoker(id) => topology::invoker_queue(id),
            Target::Controller(id) => topology::controller_queue(id),
            Target::Heartbeats => topology::HEARTBEAT_EXCHANGE.to_string(),
        }
    }
}

/// Why a publish did not succeed.
enum Failure {
    /// Nothing reached the broker, or the broker did not keep it: it may be published again.
    NotSent(String),
    /// The connection failed between publishing and the confirm: the message may have been queued.
    Unconfirmed(String),
    /// A definite answer, to give the caller as it is.
    Refused(QueueError),
}

/// How far a publish got when its time ran out.
#[derive(Clone, Copy)]
enum Stage {
    Connecting,
    Confirming,
}

impl Shared {
    /// Publishes `body` and waits for the broker's confirm, waiting for a reconnection if the
    /// connection is down, all within `publish_timeout`.
    pub(super) async fn publish(&self, target: Target<'_>, body: &[u8]) -> Result<()> {
        self.check_size(body)?;
        if self.is_closed() {
            return Err(QueueError::Closed(target.name()));
        }
        let mut stage = Stage::Connecting;
        let timeout = self.config.publish_timeout;
        match tokio::time::timeout(timeout, self.publish_until_done(target, body, &mut stage)).await
        {
            Ok(result) => result,
            Err(_) => Err(QueueError::Backend(match stage {
                Stage::Connecting => format!(
                    "RabbitMQ at {} unreachable for {timeout:?}: nothing published to '{}'",
                    self.endpoint,
                    target.name()
                ),
                Stage::Confirming => format!(
                    "RabbitMQ at {} did not confirm a message to '{}' within {timeout:?} (it may or may not be queued)",
                    self.endpoint,
                    target.name()
                ),
            })),
        }
    }

    async fn publish_until_done(
        &self,
        target: Target<'_>,
        body: &[u8],
        stage: &mut Stage,
    ) -> Result<()> {
        let mut newer_than = 0;
        let mut retries_on_link = 0;
        loop {
            *stage = Stage::Connecting;
            let Some(link) = self.link(newer_than).await else {
                return Err(QueueError::Closed(target.name()));
            };
            *stage = Stage::Confirming;
            match link.publish(target, body).await {
                Ok(()) => return Ok(()),
                Err(Failure::Refused(e)) => return Err(e),
                Err(Failure::Unconfirmed(why)) => {
                    return Err(QueueError::Backend(format!(
                        "RabbitMQ at {} lost the channel or connection before it confirmed a message to '{}' (it may or may not be queued): {why}",
                        self.endpoint,
                        target.name()
                    )));
                }
                Err(Failure::NotSent(why)) if link.connected() => {
                    // The connection lives: a channel failed (or the queue vanished). Try again on a
                    // fresh one, a few times.
                    retries_on_link += 1;
                    if retries_on_link > 3 {
                        return Err(QueueError::Backend(format!(
                            "publishing to '{}' on RabbitMQ at {} failed: {why}",
                            target.name(),
                            self.endpoint
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(20 * retries_on_link)).await;
                }
                Err(Failure::NotSent(why)) => {
                    tracing::debug!(queue = %target.name(), error = %why, "publish waits for the next connection");
                    newer_than = link.generation;
                    retries_on_link = 0;
                }
            }
        }
    }

    /// A heartbeat does not wait for a reconnection: a late beat is a stale one, and the senders
    /// (which beat about once a second) must not be held up by an outage.
    pub(super) async fn publish_heartbeat(&self, body: &[u8]) -> Result<()> {
        self.check_size(body)?;
        let link = match self.state() {
            _ if self.is_closed() => return Err(QueueError::Closed(Target::Heartbeats.name())),
            State::Up(link) => link,
            State::Down => {
                return Err(QueueError::Backend(format!(
                    "not connected to RabbitMQ at {} (reconnecting): heartbeat not sent",
                    self.endpoint
                )));
            }
            State::Closed => return Err(QueueError::Closed(Target::Heartbeats.name())),
        };
        let timeout = self.config.publish_timeout.min(HEARTBEAT_TIMEOUT);
        match tokio::time::timeout(timeout, link.publish(Target::Heartbeats, body)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Failure::Refused(e))) => Err(e),
            Ok(Err(Failure::NotSent(why) | Failure::Unconfirmed(why))) => Err(QueueError::Backend(
                format!("heartbeat not sent to RabbitMQ at {}: {why}", self.endpoint),
            )),
            Err(_) => Err(QueueError::Backend(format!(
                "RabbitMQ at {} did not confirm a heartbeat within {timeout:?}",
                self.endpoint
            ))),
        }
    }

    fn check_size(&self, body: &[u8]) -> Result<()> {
        let limit = self.config.max_message_bytes;
        if body.len() > limit {
            return Err(QueueError::TooLarge {
                size: body.len(),
                limit,
            });
        }
        Ok(())
    }
}

impl Link {
    async fn publish(&self, target: Target<'_>, body: &[u8]) -> std::result::Result<(), Failure> {
        let mut channel = self.checkout().await?;
        let (exchange, routing_key, persistent) = match target {
            Target::Invoker(id) => {
                let queue = topology::invoker_queue(id);
                if !self
                    .declared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(&queue)
                {
                    topology::declare_invoker_queue(&channel.channel, &queue)
                        .await
                        .map_err(|e| Failure::NotSent(format!("declaring '{queue}': {e}")))?;
                    self.declared
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(queue.clone());
                }
                ("", queue, true)
            }
            Target::Controller(id) => ("", topology::controller_queue(id), true),
            Target::Heartbeats => (self.heartbeats.as_str(), String::new(), false),
        };
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(if persistent { 2 } else { 1 });
        let options = BasicPublishOptions {
            // Heartbeats with no listener are simply dropped.
            mandatory: !matches!(target, Target::Heartbeats),
            immediate: false,
        };
        let confirm = channel
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.as_str().into(),
                options,
                body,
                properties,
            )
            .await
            .map_err(|e| Failure::NotSent(e.to_string()))?;
        let confirmation = confirm
            .await
            .map_err(|e| Failure::Unconfirmed(e.to_string()))?;
        let returned = match confirmation {
            Confirmation::Ack(returned) => returned,
            Confirmation::Nack(_) => {
                channel.reusable = true;
                return Err(Failure::Refused(QueueError::Backend(format!(
                    "RabbitMQ refused a message to '{}' (nack)",
                    target.name()
                ))));
            }
            Confirmation::NotRequested => {
                return Err(Failure::NotSent(
                    "the channel is not in confirm mode".into(),
                ));
            }
        };
        channel.reusable = true;
        match (returned, target) {
            (None, _) => Ok(()),
            (Some(_), Target::Controller(id)) => {
                Err(Failure::Refused(QueueError::NoConsumer(id.to_string())))
            }
            (Some(r), _) => {
                // The invoker queue was deleted behind our back: declare it again and retry.
                self.declared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&routing_key);
                Err(Failure::NotSent(format!(
                    "the broker returned it: {}",
                    r.reply_text
                )))
            }
        }
    }

    /// An idle publishing channel, or a new one.
    async fn checkout(&self) -> std::result::Result<Pooled<'_>, Failure> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::NotSent("the connection is closing".into()))?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let channel = match idle {
            Some(channel) if channel.status().connected() => channel,
            _ => {
                let channel = self
                    .connection
                    .create_channel()
                    .await
                    .map_err(|e| Failure::NotSent(e.to_string()))?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(|e| Failure::NotSent(e.to_string()))?;
                channel
            }
        };
        Ok(Pooled {
            link: self,
            channel,
            reusable: false,
            _permit: permit,
        })
    }
}

/// A publishing channel lent to one publish. It goes back to the pool only if the publish ran to
/// its end; otherwise (an error, or the publish given up half-way) it is dropped, which closes it,
/// so no later publish meets a confirm that is not its own.
struct Pooled<'a> {
    link: &'a Link,
    channel: Channel,
    reusable: bool,
    _permit: SemaphorePermit<'a>,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if self.reusable && self.channel.status().connected() {
            self.link
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.channel.clone());
        }
    }
}
