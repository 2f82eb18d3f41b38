//! Owl's invoker: takes activations from the queue and runs them in Docker containers.
//!
//! Modules, in the order an activation flows through them:
//!
//! - [`config`]: pool size, pause and idle timeouts, what to prewarm.
//! - [`activation`]: one activation from message to record: fetch the action, get a container, init,
//!   run, classify the outcome, collect logs, store the record, answer the controller. The invariant
//!   lives here: every message taken produces exactly one record and one completion.
//! - [`pool`]: the container pool: warm containers per action (shared up to the action's
//!   concurrency), prewarmed stem cells per kind and memory, waiting for a busy container when that is
//!   sooner than a start, cold starts within the memory budget, queueing when it is spent, pause and
//!   removal of idle containers, and the order in which a container's activations read its lines.
//! - [`docker`]: containers through the Docker Engine API: create with limits, attach to the output,
//!   start, pause, resume, remove, and the leftovers of a crash.
//! - [`protocol`]: `POST /init` and `POST /run` against a container, with time limits, and how their
//!   answers become activation outcomes.
//! - [`logs`]: a container's stdout and stderr, attached from its start and cut per activation at the
//!   sentinel lines, in OpenWhisk's log line format.

pub mod activation;
pub mod config;
pub mod docker;
pub mod logs;
pub mod pool;
pub mod protocol;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use owl_entity::exec::Manifest;
use owl_entity::message::{ActivationMessage, Heartbeat, InvokerState};
use owl_queue::{Queue, Subscription};
use owl_store::Store;

pub use config::InvokerConfig;

/// How often an invoker tells the controllers it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// The smallest memory an action may have: the prefetch is how many such activations fit.
const SMALLEST_ACTION_MB: i64 = 128;

/// An invoker's signs of life: sent from [`Heartbeats::start`] (as soon as it subscribes, even while
/// its images still build) until it is dropped; [`Heartbeats::drain`] turns them to `draining`.
pub struct Heartbeats {
    draining: Arc<AtomicBool>,
    queue: Arc<dyn Queue>,
    id: String,
    user_memory_mb: i64,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeats {
    pub fn start(queue: Arc<dyn Queue>, id: &str, user_memory_mb: i64) -> Heartbeats {
        let draining = Arc::new(AtomicBool::new(false));
        let (q, who, flag) = (queue.clone(), id.to_string(), draining.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                let beat = beat(&who, user_memory_mb, flag.load(Ordering::Relaxed));
                if let Err(e) = q.send_heartbeat(beat).await {
                    tracing::debug!(error = %e, "heartbeat not sent");
                }
            }
        });
        Heartbeats {
            draining,
            queue,
            id: id.to_string(),
            user_memory_mb,
            task,
        }
    }

    /// Tells every controller at once that this invoker takes no more work.
    pub async fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        let _ = self
            .queue
            .send_heartbeat(beat(&self.id, self.user_memory_mb, true))
            .await;
    }
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn beat(id: &str, user_memory_mb: i64, draining: bool) -> Heartbeat {
    Heartbeat::Invoker {
        id: id.to_string(),
        user_memory_mb,
        state: if draining {
            InvokerState::Draining
        } else {
            InvokerState::Up
        },
        at: activation::now_millis(),
    }
}

/// How many activations an invoker holds unacknowledged: as many of the smallest actions as its
/// memory runs at once (each container up to `max_concurrency` of them), so the broker never hands
/// one invoker work another could start sooner, and a crash puts back at most that many.
pub fn prefetch(user_memory_mb: i64, max_concurrency: i64) -> u16 {
    let slots = (user_memory_mb / SMALLEST_ACTION_MB).max(1) * max_concurrency.max(1);
    slots.clamp(1, u16::MAX as i64) as u16
}

/// A running invoker: its pool, and the task consuming its queue.
pub struct Invoker {
    pub pool: Arc<pool::Pool>,
    consumer: tokio::task::JoinHandle<()>,
    running: Arc<AtomicUsize>,
    idle: Arc<tokio::sync::Notify>,
}

impl Invoker {
    /// Removes containers a previous run of this invoker left behind, starts the prewarmed containers
    /// (in the background) and consumes `subscription`, the invoker's queue. The caller connects to
    /// Docker and subscribes first, so activations sent meanwhile wait in the queue.
    pub async fn start(
        config: InvokerConfig,
        manifest: Manifest,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        docker: docker::Docker,
        mut subscription: Box<dyn Subscription<ActivationMessage>>,
    ) -> Result<Invoker, docker::DockerError> {
        docker.remove_leftovers().await?;
        let pool = pool::Pool::new(config.clone(), docker);
        let prewarm = pool.clone();
        let stem_cells = manifest.clone();
        tokio::spawn(async move { prewarm.start_prewarms(&stem_cells).await });
        pool.clone().start_maintenance();
        let runner = Arc::new(activation::Runner::new(
            config.clone(),
            manifest,
            store,
            queue.clone(),
            pool.clone(),
        ));
        let running = Arc::new(AtomicUsize::new(0));
        let idle = Arc::new(tokio::sync::Notify::new());
        let (count, done) = (running.clone(), idle.clone());
        let consumer = tokio::spawn(async move {
            while let Some(delivery) = subscription.next().await {
                let runner = runner.clone();
                count.fetch_add(1, Ordering::SeqCst);
                let (count, done) = (count.clone(), done.clone());
                tokio::spawn(async move {
                    runner.handle(&delivery.message, delivery.redelivered).await;
                    // Acknowledged only once the record is stored and the completion sent.
                    delivery.ack();
                    if count.fetch_sub(1, Ordering::SeqCst) == 1 {
                        done.notify_waiters();
                    }
                });
            }
        });
        Ok(Invoker {
            pool,
            consumer,
            running,
            idle,
        })
    }

    /// Stops taking activations, lets those it holds finish (for `grace` at most: what is still
    /// running then is left unacknowledged, and the controllers end it), and removes every container.
    pub async fn shutdown(self, grace: Duration) {
        // Ending the consumer drops the subscription: the broker sends nothing more, and keeps what
        // was not delivered for the controllers to move.
        self.consumer.abort();
        let _ = self.consumer.await;
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.idle.notified();
            let left = self.running.load(Ordering::SeqCst);
            if left == 0 {
                break;
            }
            tracing::info!(
                activations = left,
                "waiting for running activations before stopping"
            );
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(
                    activations = left,
                    "stopping with activations still running"
                );
                break;
            }
        }
        self.pool.shutdown().await;
    }
}
