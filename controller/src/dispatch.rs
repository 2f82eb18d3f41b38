//! The controller's side of the queue: it publishes activations to invokers and reads its own queue
//! of results and completions, handing each result to the request waiting for it and freeing the
//! throttle slot of each completed activation.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use owl_entity::activation::{Activation, ActivationId};
use owl_entity::message::{ActivationMessage, ControllerMessage};
use owl_queue::{Queue, QueueError};
use owl_store::Store;
use tokio::sync::oneshot;

use crate::throttle::Throttle;

pub struct Dispatch {
    pub queue: Arc<dyn Queue>,
    pub controller_id: String,
    pub invokers: Vec<String>,
    pub throttle: Throttle,
    waiters: Mutex<HashMap<ActivationId, oneshot::Sender<Activation>>>,
    /// Activations holding a throttle slot: their namespace and when to give the slot back anyway.
    inflight: Mutex<HashMap<ActivationId, (String, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Dispatch {
    pub fn new(queue: Arc<dyn Queue>, controller_id: &str, invokers: Vec<String>) -> Arc<Dispatch> {
        Arc::new(Dispatch {
            queue,
            controller_id: controller_id.to_string(),
            invokers,
            throttle: Throttle::default(),
            waiters: Mutex::default(),
            inflight: Mutex::default(),
        })
    }

    /// Reads the controller's queue until it closes, and gives back slots whose completion never came.
    pub async fn start(self: &Arc<Self>, store: Arc<dyn Store>) -> Result<(), QueueError> {
        let mut sub = self.queue.controller_messages(&self.controller_id).await?;
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(d) = sub.next().await {
                match d.ack() {
                    ControllerMessage::Result { activation, .. } => me.resolve(*activation),
                    ControllerMessage::Completion {
                        activation_id,
                        namespace,
                        ..
                    } => {
                        me.complete(&activation_id);
                        // A blocking request whose result was lost still gets the stored record.
                        if lock(&me.waiters).contains_key(&activation_id)
                            && let Ok(Some(a)) =
                                store.get_activation(&namespace, &activation_id).await
                        {
                            me.resolve(a);
                        }
                    }
                }
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let now = Instant::now();
                let expired: Vec<ActivationId> = lock(&me.inflight)
                    .iter()
                    .filter(|(_, (_, d))| *d < now)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in expired {
                    tracing::warn!(activation = %id, "no completion came in time: its throttle slot is given back");
                    me.complete(&id);
                }
            }
        });
        Ok(())
    }

    fn resolve(&self, activation: Activation) {
        if let Some(tx) = lock(&self.waiters).remove(&activation.activation_id) {
            let _ = tx.send(activation);
        }
    }

    fn complete(&self, id: &ActivationId) {
        if let Some((ns, _)) = lock(&self.inflight).remove(id) {
            self.throttle.release(&ns);
        }
    }

    /// The invoker for an action: a hash of namespace and action, so its warm containers are reused.
    pub fn invoker_for(&self, namespace: &str, action: &str) -> Option<&str> {
        if self.invokers.is_empty() {
            return None;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (namespace, action).hash(&mut h);
        Some(&self.invokers[(h.finish() % self.invokers.len() as u64) as usize])
    }

    /// Publishes an activation that holds a throttle slot of `namespace` (given back at completion, or
    /// after `slot_timeout` at the latest). A blocking caller gets a receiver for its result.
    pub async fn publish(
        &self,
        invoker: &str,
        message: ActivationMessage,
        namespace: &str,
        slot_timeout: Duration,
    ) -> Result<Option<oneshot::Receiver<Activation>>, QueueError> {
        let id = message.activation_id.clone();
        let rx = if message.blocking {
            let (tx, rx) = oneshot::channel();
            lock(&self.waiters).insert(id.clone(), tx);
            Some(rx)
        } else {
            None
        };
        lock(&self.inflight).insert(
            id.clone(),
            (namespace.to_string(), Instant::now() + slot_timeout),
        );
        if let Err(e) = self.queue.send_activation(invoker, message).await {
            lock(&self.waiters).remove(&id);
            self.complete(&id);
            return Err(e);
        }
        Ok(rx)
    }

    /// A blocking caller stopped waiting (it answered 202).
    pub fn forget(&self, id: &ActivationId) {
        lock(&self.waiters).remove(id);
    }
}
