//! The in-process queue: one unbounded channel per consumer, created when it subscribes. A message
//! sent to a queue nobody consumes is refused, so a controller learns at once that no invoker runs.
//! Acknowledgement is a no-op and `prefetch` is moot: a process that crashes loses its channels with
//! it. A queue has one consumer at a time (a second is refused while the first lives): in one
//! process there is no invoker to take over from.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use owl_entity::message::{ActivationMessage, ControllerMessage, Heartbeat};
use tokio::sync::mpsc;

use crate::{Delivery, Queue, QueueError, Result, Subscription};

#[derive(Default)]
pub struct InProcessQueue {
    invokers: Mutex<HashMap<String, mpsc::UnboundedSender<ActivationMessage>>>,
    controllers: Mutex<HashMap<String, mpsc::UnboundedSender<ControllerMessage>>>,
    listeners: Mutex<HashMap<String, mpsc::UnboundedSender<Heartbeat>>>,
}

impl InProcessQueue {
    pub fn new() -> Self {
        Self::default()
    }
}

struct Receiver<T>(mpsc::UnboundedReceiver<T>);

#[async_trait]
impl<T: Send> Subscription<T> for Receiver<T> {
    async fn next(&mut self) -> Option<Delivery<T>> {
        self.0.recv().await.map(|m| Delivery::new(m, None))
    }
}

fn send<T>(map: &Mutex<HashMap<String, mpsc::UnboundedSender<T>>>, to: &str, m: T) -> Result<()> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    let tx = map
        .get(to)
        .ok_or_else(|| QueueError::NoConsumer(to.to_string()))?;
    tx.send(m).map_err(|_| QueueError::Closed(to.to_string()))
}

fn subscribe<T: Send + 'static>(
    map: &Mutex<HashMap<String, mpsc::UnboundedSender<T>>>,
    who: &str,
) -> Result<Box<dyn Subscription<T>>> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.get(who).is_some_and(|tx| !tx.is_closed()) {
        return Err(QueueError::Backend(format!(
            "queue '{who}' already has its consumer"
        )));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    map.insert(who.to_string(), tx);
    Ok(Box::new(Receiver(rx)))
}

#[async_trait]
impl Queue for InProcessQueue {
    async fn send_activation(&self, invoker: &str, message: ActivationMessage) -> Result<()> {
        send(&self.invokers, invoker, message)
    }

    async fn send_to_controller(&self, controller: &str, message: ControllerMessage) -> Result<()> {
        send(&self.controllers, controller, message)
    }

    async fn activations(
        &self,
        invoker: &str,
        _prefetch: u16,
    ) -> Result<Box<dyn Subscription<ActivationMessage>>> {
        subscribe(&self.invokers, invoker)
    }

    async fn controller_messages(
        &self,
        controller: &str,
    ) -> Result<Box<dyn Subscription<ControllerMessage>>> {
        subscribe(&self.controllers, controller)
    }

    async fn send_heartbeat(&self, beat: Heartbeat) -> Result<()> {
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        listeners.retain(|_, tx| tx.send(beat.clone()).is_ok());
        Ok(())
    }

    async fn heartbeats(&self, listener: &str) -> Result<Box<dyn Subscription<Heartbeat>>> {
        subscribe(&self.listeners, listener)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use owl_entity::activation::ActivationId;
    use owl_entity::name::EntityName;

    fn completion(i: usize) -> ControllerMessage {
        ControllerMessage::Completion {
            transid: format!("t{i}"),
            activation_id: ActivationId::generate(),
            namespace: EntityName::new("guest").unwrap(),
            invoker: "invoker0".into(),
            released_mb: 0,
        }
    }

    #[tokio::test]
    async fn messages_reach_their_consumer_in_order() {
        let q = InProcessQueue::new();
        let mut sub = q.controller_messages("c0").await.unwrap();
        for i in 0..3 {
            q.send_to_controller("c0", completion(i)).await.unwrap();
        }
        for i in 0..3 {
            let m = sub.next().await.unwrap().ack();
            assert!(
                matches!(m, ControllerMessage::Completion { transid, .. } if transid == format!("t{i}"))
            );
        }
    }

    #[tokio::test]
    async fn a_queue_nobody_consumes_refuses_messages() {
        let q = InProcessQueue::new();
        assert_eq!(
            q.send_to_controller("nobody", completion(0)).await,
            Err(QueueError::NoConsumer("nobody".into()))
        );
    }

    #[tokio::test]
    async fn a_queue_takes_a_second_consumer_only_once_the_first_is_gone() {
        let q = InProcessQueue::new();
        let first = q.activations("i0", 1).await.unwrap();
        assert!(q.activations("i0", 1).await.is_err());
        drop(first);
        assert!(q.activations("i0", 1).await.is_ok());
    }

    #[tokio::test]
    async fn heartbeats_reach_every_listener() {
        let q = InProcessQueue::new();
        let mut a = q.heartbeats("c0").await.unwrap();
        let mut b = q.heartbeats("c1").await.unwrap();
        let beat = Heartbeat::Controller {
            id: "c0".into(),
            at: 1,
        };
        q.send_heartbeat(beat.clone()).await.unwrap();
        assert_eq!(a.next().await.unwrap().ack(), beat);
        assert_eq!(b.next().await.unwrap().ack(), beat);
    }
}
