//! The in-process queue: one unbounded channel per consumer, created when it subscribes. A message
//! sent to a queue nobody consumes is refused, so a controller learns at once that no invoker runs.
//! Acknowledgement is a no-op: a process that crashes loses its channels with it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use owl_entity::message::{ActivationMessage, ControllerMessage};
use tokio::sync::mpsc;

use crate::{Delivery, Queue, QueueError, Result, Subscription};

#[derive(Default)]
pub struct InProcessQueue {
    invokers: Mutex<HashMap<String, mpsc::UnboundedSender<ActivationMessage>>>,
    controllers: Mutex<HashMap<String, mpsc::UnboundedSender<ControllerMessage>>>,
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
) -> Box<dyn Subscription<T>> {
    let (tx, rx) = mpsc::unbounded_channel();
    map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(who.to_string(), tx);
    Box::new(Receiver(rx))
}

#[async_trait]
impl Queue for InProcessQueue {
    async fn send_activation(&self, invoker: &str, message: ActivationMessage) -> Result<()> {
        send(&self.invokers, invoker, message)
    }

    async fn send_to_controller(&self, controller: &str, message: ControllerMessage) -> Result<()> {
        send(&self.controllers, controller, message)
    }

    async fn activations(&self, invoker: &str) -> Result<Box<dyn Subscription<ActivationMessage>>> {
        Ok(subscribe(&self.invokers, invoker))
    }

    async fn controller_messages(
        &self,
        controller: &str,
    ) -> Result<Box<dyn Subscription<ControllerMessage>>> {
        Ok(subscribe(&self.controllers, controller))
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
}
