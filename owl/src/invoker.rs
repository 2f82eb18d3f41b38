//! `owl invoker`: runs activations in Docker containers on this machine, taking them from its queue
//! on RabbitMQ and storing their records in CouchDB. Add one per Docker host; stop one with SIGTERM
//! (it takes nothing more, finishes what it holds, and removes its containers). The same steps start
//! the invoker half of `owl standalone`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use owl_entity::exec::Manifest;
use owl_entity::message::ActivationMessage;
use owl_invoker::docker::{Docker, Reach};
use owl_invoker::{Heartbeats, Invoker, InvokerConfig};
use owl_queue::{Queue, Subscription};
use owl_store::Store;

use crate::backends::{QueueOptions, StoreOptions};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// This invoker's name: its queue, and the label of its containers (removed by it at start and
    /// exit). Unique among the invokers, and the same across its restarts.
    #[arg(long, env = "OWL_INVOKER_ID")]
    invoker_id: String,
    /// Memory for action containers, in MB.
    #[arg(long, env = "OWL_USER_MEMORY", default_value_t = 2048)]
    user_memory: i64,
    /// Where actions call the API back (`__OW_API_HOST`): the address of the controllers' load
    /// balancer as containers on this machine reach it, such as `http://10.0.0.5:3233`.
    #[arg(long, env = "OWL_API_HOST")]
    api_host: String,
    /// Seconds an idle warm container waits before it is paused.
    #[arg(long, env = "OWL_PAUSE_GRACE", default_value_t = 10)]
    pause_grace: u64,
    /// Seconds an idle container waits before it is removed.
    #[arg(long, env = "OWL_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,
    /// Do not start prewarmed containers.
    #[arg(long, env = "OWL_NO_PREWARM")]
    no_prewarm: bool,
    /// Largest `limits.concurrency` an action may ask for (the controllers' value).
    #[arg(long, env = "OWL_MAX_ACTION_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(i64).range(1..=500))]
    max_action_concurrency: i64,
    /// A runtime manifest in OpenWhisk's runtimes.json format, replacing the built-in one.
    #[arg(long, env = "OWL_RUNTIMES")]
    runtimes: Option<PathBuf>,
    /// How the invoker reaches its containers: `bridge` (their address on Docker's bridge) or
    /// `published` (a port published on 127.0.0.1).
    #[arg(long, env = "OWL_CONTAINER_ADDRESS", value_enum, default_value_t = ContainerAddress::Bridge)]
    container_address: ContainerAddress,
    /// Seconds a stopping invoker waits for the activations it runs before it removes their
    /// containers anyway (the controllers then end them).
    #[arg(long, env = "OWL_DRAIN_GRACE", default_value_t = 60)]
    drain_grace: u64,
    #[command(flatten)]
    store: StoreOptions,
    #[command(flatten)]
    queue: QueueOptions,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ContainerAddress {
    Bridge,
    Published,
}

impl ContainerAddress {
    pub fn reach(self) -> Reach {
        match self {
            ContainerAddress::Bridge => Reach::Bridge,
            ContainerAddress::Published => Reach::Published,
        }
    }
}

/// Builds the runtime images that are missing (in the background of the caller's runtime), then
/// starts the invoker on its subscription.
pub async fn start(
    config: InvokerConfig,
    manifest: Manifest,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    docker: Docker,
    subscription: Box<dyn Subscription<ActivationMessage>>,
) -> Option<Invoker> {
    let m = manifest.clone();
    let built = tokio::task::spawn_blocking(move || crate::runtimes::build_missing(&m)).await;
    if let Ok(Err(e)) = built {
        tracing::warn!("runtime images could not be built: {e:#}");
    }
    match Invoker::start(config, manifest, store, queue, docker, subscription).await {
        Ok(i) => {
            tracing::info!("invoker started");
            Some(i)
        }
        Err(e) => {
            tracing::warn!("the invoker could not start: {e}");
            None
        }
    }
}

pub fn run(o: Options) -> anyhow::Result<()> {
    crate::backends::install_crypto();
    let manifest = crate::controller::manifest(o.runtimes.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("owl-invoker")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = o.store.open().await?;
        let queue = o.queue.connect().await?;
        let docker = Docker::connect(&o.invoker_id, o.container_address.reach())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("connecting to the Docker engine")?;
        let config = InvokerConfig {
            id: o.invoker_id.clone(),
            user_memory_mb: o.user_memory,
            pause_grace: Duration::from_secs(o.pause_grace),
            idle_timeout: Duration::from_secs(o.idle_timeout),
            prewarm: !o.no_prewarm,
            api_host: o.api_host.clone(),
            allow_concurrent: o.max_action_concurrency > 1,
            ..Default::default()
        };
        let prefetch = owl_invoker::prefetch(o.user_memory, o.max_action_concurrency);
        let subscription = queue
            .activations(&o.invoker_id, prefetch)
            .await
            .map_err(|e| anyhow::anyhow!("consuming the invoker's queue: {e}"))?;
        let invoker = start(config, manifest, store, queue.clone(), docker, subscription)
            .await
            .ok_or_else(|| anyhow::anyhow!("the invoker could not start"))?;
        // Heard only once it runs: a controller sends nothing to an invoker still building images.
        let heartbeats = Heartbeats::start(queue, &o.invoker_id, o.user_memory);
        println!("owl invoker {} running", o.invoker_id);
        crate::signals::terminated().await;
        tracing::info!("stopping: taking no more activations");
        heartbeats.drain().await;
        invoker.shutdown(Duration::from_secs(o.drain_grace)).await;
        drop(heartbeats);
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}
