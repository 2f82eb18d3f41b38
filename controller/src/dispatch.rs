//! The controller's side of the queue: it places activations on invokers (through the
//! [`Balancer`]) and publishes them, reads its own queue of results and completions, handing each
//! result to the request waiting for it and freeing the throttle slot and the invoker memory of each
//! completed activation, and listens to heartbeats.
//!
//! When an invoker is gone (silent past the health timeout, or draining at SIGTERM), the controller
//! takes over its queue until it is back, so nothing waits there for an invoker that may never
//! return: an activation never delivered is sent to another invoker; one that was delivered but not
//! acknowledged (the invoker may have begun it) is not run twice: it ends with a whisk error record
//! unless the invoker stored its record before it went. Every controller that sees the invoker go
//! consumes its queue; the broker gives each message to one of them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use owl_entity::activation::{
    Activation, ActivationId, ActivationResponse, RunAnnotations, StatusCode,
};
use owl_entity::entity::Entity;
use owl_entity::exec::Exec;
use owl_entity::message::{ActivationMessage, ControllerMessage, Heartbeat};
use owl_entity::name::EntityPath;
use owl_queue::{Delivery, Queue, QueueError};
use owl_store::Store;
use serde_json::json;
use tokio::sync::oneshot;

use crate::balancer::{Balancer, BalancerConfig, Health, Placement};
use crate::throttle::Throttle;

/// The result of an activation whose invoker was lost after it took it.
pub const INVOKER_LOST: &str =
    "The invoker running the action was lost before the action completed.";

/// How often controllers send and sweep heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("no invoker is available")]
    NoInvoker,
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// An activation holding invoker memory, and a throttle slot unless it is a step of a composition
/// (which holds the one slot of its invoke), until its completion.
struct Inflight {
    namespace: Option<String>,
    deadline: Instant,
    placement: Placement,
}

pub struct Dispatch {
    pub queue: Arc<dyn Queue>,
    pub controller_id: String,
    pub balancer: Balancer,
    pub throttle: Throttle,
    waiters: Mutex<HashMap<ActivationId, oneshot::Sender<Activation>>>,
    inflight: Mutex<HashMap<ActivationId, Inflight>>,
    /// Invokers whose queue this controller is consuming because they are gone.
    takeovers: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_millis() -> i64 {
    crate::now_millis()
}

impl Dispatch {
    pub fn new(
        queue: Arc<dyn Queue>,
        controller_id: &str,
        balancer: BalancerConfig,
    ) -> Arc<Dispatch> {
        Arc::new(Dispatch {
            queue,
            controller_id: controller_id.to_string(),
            balancer: Balancer::new(controller_id, balancer),
            throttle: Throttle::default(),
            waiters: Mutex::default(),
            inflight: Mutex::default(),
            takeovers: Mutex::default(),
        })
    }

    /// Reads the controller's queue and the heartbeats until they close, sends this controller's
    /// heartbeats, and gives back slots whose completion never came.
    pub async fn start(self: &Arc<Self>, store: Arc<dyn Store>) -> Result<(), QueueError> {
        let mut sub = self.queue.controller_messages(&self.controller_id).await?;
        let mut beats = self.queue.heartbeats(&self.controller_id).await?;
        let me = self.clone();
        let records = store.clone();
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
                        // A blocking request whose result was lost (or too large for the queue)
                        // still gets the stored record.
                        if lock(&me.waiters).contains_key(&activation_id)
                            && let Ok(Some(mut a)) =
                                records.get_activation(&namespace, &activation_id).await
                        {
                            // As the result message would have carried it: without logs.
                            a.logs.clear();
                            me.resolve(a);
                        }
                    }
                }
            }
        });
        let me = self.clone();
        let takeover_store = store.clone();
        tokio::spawn(async move {
            while let Some(d) = beats.next().await {
                if let Some((invoker, Health::Gone)) = me.balancer.heard(&d.ack()) {
                    me.take_over(invoker, takeover_store.clone());
                }
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                let beat = Heartbeat::Controller {
                    id: me.controller_id.clone(),
                    at: now_millis(),
                };
                if let Err(e) = me.queue.send_heartbeat(beat).await {
                    tracing::debug!(error = %e, "heartbeat not sent");
                }
                for invoker in me.balancer.sweep() {
                    tracing::warn!(
                        invoker,
                        "invoker silent: sending it nothing until it is back"
                    );
                    me.take_over(invoker, store.clone());
                }
                me.expire();
            }
        });
        Ok(())
    }

    /// Gives back the slots of activations whose completion never came.
    fn expire(&self) {
        let now = Instant::now();
        let expired: Vec<ActivationId> = lock(&self.inflight)
            .iter()
            .filter(|(_, f)| f.deadline < now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::warn!(activation = %id, "no completion came in time: its throttle slot is given back");
            self.complete(&id);
        }
    }

    fn resolve(&self, activation: Activation) {
        if let Some(tx) = lock(&self.waiters).remove(&activation.activation_id) {
            let _ = tx.send(activation);
        }
    }

    fn complete(&self, id: &ActivationId) {
        if let Some(f) = lock(&self.inflight).remove(id) {
            if let Some(ns) = &f.namespace {
                self.throttle.release(ns);
            }
            self.balancer.release(&f.placement);
        }
    }

    /// Places an activation on an invoker and publishes it. If it holds a throttle slot of
    /// `namespace`, the slot is given back at its completion, or after `slot_timeout` at the latest.
    /// A blocking caller gets a receiver for its result.
    pub async fn publish(
        &self,
        message: ActivationMessage,
        namespace: Option<&str>,
        memory_mb: i64,
        blackbox: bool,
        slot_timeout: Duration,
    ) -> Result<Option<oneshot::Receiver<Activation>>, DispatchError> {
        let placement = self
            .balancer
            .place(&message.action.doc_id(), memory_mb, blackbox)
            .ok_or(DispatchError::NoInvoker)?;
        let id = message.activation_id.clone();
        let rx = if message.blocking {
            let (tx, rx) = oneshot::channel();
            lock(&self.waiters).insert(id.clone(), tx);
            Some(rx)
        } else {
            None
        };
        let invoker = placement.invoker.clone();
        lock(&self.inflight).insert(
            id.clone(),
            Inflight {
                namespace: namespace.map(str::to_string),
                deadline: Instant::now() + slot_timeout,
                placement,
            },
        );
        if let Err(e) = self.queue.send_activation(&invoker, message).await {
            lock(&self.waiters).remove(&id);
            self.complete(&id);
            return Err(e.into());
        }
        Ok(rx)
    }

    /// A blocking caller stopped waiting (it answered 202).
    pub fn forget(&self, id: &ActivationId) {
        lock(&self.waiters).remove(id);
    }

    /// Consumes the queue of a gone invoker until it is healthy again (once per invoker at a time).
    fn take_over(self: &Arc<Self>, invoker: String, store: Arc<dyn Store>) {
        if !lock(&self.takeovers).insert(invoker.clone()) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            match me.queue.activations(&invoker, 16).await {
                Err(e) => {
                    tracing::debug!(invoker, error = %e, "the queue of a gone invoker is not taken over")
                }
                Ok(mut sub) => {
                    tracing::info!(invoker, "taking over the queue of a gone invoker");
                    while !me.balancer.is_healthy(&invoker) {
                        match tokio::time::timeout(HEARTBEAT_INTERVAL, sub.next()).await {
                            Err(_) => continue,
                            Ok(None) => break,
                            Ok(Some(d)) => me.rescue(&invoker, d, &*store).await,
                        }
                    }
                    tracing::info!(invoker, "the invoker is back: its queue is its own again");
                }
            }
            lock(&me.takeovers).remove(&invoker);
        });
    }

    /// One activation from a gone invoker's queue: sent elsewhere if it never ran, else ended.
    async fn rescue(&self, gone: &str, d: Delivery<ActivationMessage>, store: &dyn Store) {
        let msg = &d.message;
        let recorded = store
            .get_activation(&msg.caller.namespace, &msg.activation_id)
            .await;
        match recorded {
            Err(e) => {
                // Not acknowledged: the broker gives it back, to be looked at again.
                tracing::warn!(activation = %msg.activation_id, error = %e, "a gone invoker's activation cannot be checked");
                return;
            }
            Ok(Some(_)) => self.answer(msg, None).await,
            Ok(None) if d.redelivered => {
                // The invoker took it and may have begun it: running it again could repeat its
                // effects, so it ends here.
                let record = lost_record(msg, gone);
                if let Err(e) = store.put_activation(&record).await {
                    tracing::warn!(activation = %msg.activation_id, error = %e, "the record of a lost activation cannot be stored");
                    return;
                }
                tracing::warn!(activation = %msg.activation_id, invoker = gone, "activation lost with its invoker");
                self.answer(msg, Some(record)).await;
            }
            Ok(None) => {
                let (memory, blackbox) = match store.get_entity(&msg.action.doc_id()).await {
                    Ok(Some(s)) => match s.value {
                        Entity::Action(a) => {
                            (a.limits.memory, matches!(a.exec, Exec::Blackbox { .. }))
                        }
                        _ => (256, false),
                    },
                    _ => (256, false),
                };
                let Some(placement) = self.balancer.place(&msg.action.doc_id(), memory, blackbox)
                else {
                    // No invoker at all: it stays in the queue, for the invoker or the next one.
                    tokio::time::sleep(HEARTBEAT_INTERVAL).await;
                    return;
                };
                // The memory is booked by the controller that placed it first; this one only moves it.
                self.balancer.release(&placement);
                if let Err(e) = self
                    .queue
                    .send_activation(&placement.invoker, msg.clone())
                    .await
                {
                    tracing::warn!(activation = %msg.activation_id, error = %e, "a gone invoker's activation cannot be moved");
                    return;
                }
                tracing::info!(activation = %msg.activation_id, from = gone, to = %placement.invoker, "activation moved");
            }
        }
        d.ack();
    }

    /// Tells the controller waiting for `msg` that it is over (with its result, when there is one).
    async fn answer(&self, msg: &ActivationMessage, record: Option<Activation>) {
        if let Some(activation) = record
            && msg.blocking
        {
            let result = ControllerMessage::Result {
                transid: msg.transid.clone(),
                activation: Box::new(activation),
            };
            let _ = self.queue.send_to_controller(&msg.reply_to, result).await;
        }
        let completion = ControllerMessage::Completion {
            transid: msg.transid.clone(),
            activation_id: msg.activation_id.clone(),
            namespace: msg.caller.namespace.clone(),
            invoker: self.controller_id.clone(),
            released_mb: 0,
        };
        if let Err(e) = self
            .queue
            .send_to_controller(&msg.reply_to, completion)
            .await
        {
            tracing::debug!(activation = %msg.activation_id, error = %e, "its controller is gone too");
        }
    }
}

/// The record of an activation lost with its invoker: a whisk error.
fn lost_record(msg: &ActivationMessage, invoker: &str) -> Activation {
    let now = now_millis();
    let mut annotations = RunAnnotations {
        path: &msg.action.doc_id(),
        wait_ms: now - msg.received,
        action: None,
        timed_out: false,
        init_ms: None,
        binding: msg.binding.as_deref(),
        caused_by_sequence: msg.cause.is_some(),
    }
    .params();
    annotations.set("invoker", json!(invoker));
    Activation {
        namespace: EntityPath::from_name(msg.caller.namespace.clone()),
        name: msg.action.name.clone(),
        version: Default::default(),
        subject: msg.caller.subject.clone(),
        activation_id: msg.activation_id.clone(),
        start: now,
        end: now,
        duration: Some(0),
        response: ActivationResponse {
            status_code: StatusCode::WhiskError,
            result: Some(json!({ "error": INVOKER_LOST })),
            size: None,
        },
        logs: vec![],
        annotations,
        publish: false,
        cause: msg.cause.clone(),
    }
}
