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

use owl_entity::exec::Manifest;
use owl_queue::Queue;
use owl_store::Store;

pub use config::InvokerConfig;

/// A running invoker: its pool, and the task consuming its queue.
pub struct Invoker {
    pub pool: Arc<pool::Pool>,
    consumer: tokio::task::JoinHandle<()>,
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
        mut subscription: Box<dyn owl_queue::Subscription<owl_entity::message::ActivationMessage>>,
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
        let consumer = tokio::spawn(async move {
            while let Some(delivery) = subscription.next().await {
                let runner = runner.clone();
                tokio::spawn(async move {
                    runner.handle(&delivery.message).await;
                    // Acknowledged only once the record is stored and the completion sent.
                    delivery.ack();
                });
            }
        });
        Ok(Invoker { pool, consumer })
    }

    /// Stops taking activations and removes every container.
    pub async fn shutdown(self) {
        self.consumer.abort();
        self.pool.shutdown().await;
    }
}
