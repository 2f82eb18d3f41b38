//! `owl standalone`: controller, invoker and embedded store in one process.
//!
//! The controller serves HTTP on actix's workers; the invoker and the controller's queue consumer run
//! on a runtime of their own, joined by the in-process queue. If no Docker engine is reachable the
//! management API still runs and invokes answer 503; the log says what is missing.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use owl_controller::AppState;
use owl_controller::balancer::BalancerConfig;
use owl_controller::dispatch::Dispatch;
use owl_invoker::{Heartbeats, InvokerConfig};
use owl_queue::{InProcessQueue, Queue};
use owl_store::{CachedStore, MemoryStore, SqliteStore, Store};

use crate::invoker::ContainerAddress;

#[derive(clap::Args, Debug)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, env = "OWL_BIND", default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, env = "OWL_PORT", default_value_t = 3233)]
    port: u16,
    /// Directory of the embedded store [default: $XDG_DATA_HOME/owl or ~/.local/share/owl].
    #[arg(long, env = "OWL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep everything in memory and lose it on exit (for experiments and tests).
    #[arg(long, env = "OWL_IN_MEMORY", conflicts_with = "data_dir")]
    in_memory: bool,
    /// A runtime manifest in OpenWhisk's runtimes.json format, replacing the built-in one.
    #[arg(long, env = "OWL_RUNTIMES")]
    runtimes: Option<PathBuf>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "OWL_WORKERS")]
    workers: Option<usize>,
    #[command(flatten)]
    edge: crate::controller::EdgeOptions,
    /// Serve the management API only: no invoker, invokes answer 503.
    #[arg(long, env = "OWL_NO_INVOKER")]
    no_invoker: bool,
    /// The invoker's name: its containers are labelled with it, and removed by it at start and exit.
    #[arg(long, env = "OWL_INVOKER_ID", default_value = "invoker0")]
    invoker_id: String,
    /// Memory for action containers, in MB.
    #[arg(long, env = "OWL_USER_MEMORY", default_value_t = 2048)]
    user_memory: i64,
    /// Seconds an idle warm container waits before it is paused.
    #[arg(long, env = "OWL_PAUSE_GRACE", default_value_t = 10)]
    pause_grace: u64,
    /// Seconds an idle container waits before it is removed.
    #[arg(long, env = "OWL_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,
    /// Do not start prewarmed containers.
    #[arg(long, env = "OWL_NO_PREWARM")]
    no_prewarm: bool,
    /// Largest `limits.concurrency` an action may ask for: activations one container runs at once
    /// (OpenWhisk's `concurrency-limit.max`; 1, its default, turns intra-container concurrency off).
    #[arg(long, env = "OWL_MAX_ACTION_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(i64).range(1..=500))]
    max_action_concurrency: i64,
    /// How the invoker reaches its containers: `bridge`, at their address on Docker's bridge
    /// network; `published`, at a port published on 127.0.0.1 (for a Docker whose bridge is not
    /// reachable from here, such as rootless Docker).
    #[arg(long, env = "OWL_CONTAINER_ADDRESS", value_enum, default_value_t = ContainerAddress::Bridge)]
    container_address: ContainerAddress,
    /// The API's address as actions call it back (`__OW_API_HOST`, such as
    /// `http://10.0.2.2:3233`) [default: Docker's bridge gateway at this port, where Owl then also
    /// listens unless --bind covers it].
    #[arg(long, env = "OWL_API_HOST")]
    api_host: Option<String>,
    /// Seconds after its time that an alarm fire missed while Owl was not running is still made
    /// (once) when Owl starts again; fires missed by longer are skipped and recorded as missed.
    #[arg(long, env = "OWL_ALARM_MISFIRE_GRACE", default_value_t = 600)]
    alarm_misfire_grace: u64,
}

pub fn run(o: Options) -> anyhow::Result<()> {
    let config =
        crate::controller::config(o.max_action_concurrency, o.runtimes.as_deref(), &o.edge)?;
    let backend_store: Arc<dyn Store> = if o.in_memory {
        Arc::new(MemoryStore::new())
    } else {
        let dir = o.data_dir.clone().unwrap_or_else(crate::default_data_dir);
        tracing::info!(data_dir = %dir.display(), "opening the embedded store");
        Arc::new(
            SqliteStore::open(&dir)
                .with_context(|| format!("opening the store in {}", dir.display()))?,
        )
    };
    // Every request looks up its key and its entity: from memory, unless the store changed.
    let store = CachedStore::wrap(backend_store);
    let listener = TcpListener::bind((o.bind.as_str(), o.port))
        .with_context(|| format!("listening on {}:{}", o.bind, o.port))?;
    let addr = listener.local_addr()?;
    let mut listeners = vec![listener];
    let workers = crate::controller::workers(o.workers);

    // The invoker's side: its own runtime, so activations never wait behind HTTP parsing.
    let backend = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("owl-invoker")
        .enable_all()
        .build()?;
    let queue: Arc<dyn Queue> = Arc::new(InProcessQueue::new());
    // The invoker lives in this process and its heartbeats cross an in-process queue: they are never
    // lost, only late when the machine is starved (seen under CI's load: a first invoke answered 503
    // after a heartbeat came more than 5 s late). A long timeout costs nothing here; it only matters
    // between processes, where `owl controller --invoker-health-timeout` sets it.
    let balancer = BalancerConfig {
        health_timeout: Duration::from_secs(60),
        ..BalancerConfig::default()
    };
    let dispatch = Dispatch::new(queue.clone(), "controller0", balancer);
    backend.block_on(crate::controller::prepare(&store, &dispatch))?;
    let invoker = if o.no_invoker {
        None
    } else {
        let mut invoker_config = InvokerConfig {
            id: o.invoker_id.clone(),
            user_memory_mb: o.user_memory,
            pause_grace: Duration::from_secs(o.pause_grace),
            idle_timeout: Duration::from_secs(o.idle_timeout),
            prewarm: !o.no_prewarm,
            api_host: o.api_host.clone().unwrap_or_default(),
            allow_concurrent: o.max_action_concurrency > 1,
            ..Default::default()
        };
        // Connect and subscribe now, so activations sent while images build wait in the queue; without
        // Docker, nobody subscribes and invokes answer 503 at once.
        let connected = backend.block_on(async {
            let docker =
                owl_invoker::docker::Docker::connect(&o.invoker_id, o.container_address.reach())
                    .await?;
            let prefetch = owl_invoker::prefetch(o.user_memory, o.max_action_concurrency);
            let subscription = queue
                .activations(&o.invoker_id, prefetch)
                .await
                .map_err(|e| owl_invoker::docker::DockerError(e.to_string()))?;
            let gateway = docker.bridge_gateway().await;
            // Heard at once: activations sent while the images build wait in the queue.
            let heartbeats = Heartbeats::start(queue.clone(), &o.invoker_id, o.user_memory);
            Ok::<_, owl_invoker::docker::DockerError>((docker, subscription, gateway, heartbeats))
        });
        match connected {
            Err(e) => {
                tracing::warn!(
                    "no invoker: {e}. The API works, but invoking actions answers 503 until a Docker engine \
                     runs (as root: `apt-get install docker.io && dockerd &`) and owl restarts"
                );
                None
            }
            Ok((docker, subscription, gateway, heartbeats)) => {
                if o.api_host.is_none() {
                    invoker_config.api_host = callback_address(gateway, addr, &mut listeners);
                }
                tracing::info!(api_host = %invoker_config.api_host, "actions call the API back here");
                let (manifest, store, queue) =
                    (config.manifest.clone(), store.clone(), queue.clone());
                Some((
                    backend.spawn(crate::invoker::start(
                        invoker_config,
                        manifest,
                        store,
                        queue,
                        docker,
                        subscription,
                    )),
                    heartbeats,
                ))
            }
        }
    };
    let alarms = owl_controller::alarms::AlarmsConfig {
        misfire_grace_ms: o.alarm_misfire_grace as i64 * 1000,
        ..Default::default()
    };
    let state = AppState::new(store, config, Some(dispatch), alarms);
    // The one controller here holds the scheduler's lease, under a name it keeps across restarts.
    let _scheduler = {
        let _guard = backend.enter();
        owl_controller::alarms::scheduler::start(state.clone(), "controller0".into())
    };
    crate::controller::serve(listeners, state, workers, || {
        // Scripts wait for this line; it names the port even when the OS chose it.
        println!("owl standalone listening on http://{addr}");
        println!("guest key: {}", owl_entity::identity::GUEST_KEY);
    })?;
    if let Some((task, heartbeats)) = invoker {
        drop(heartbeats);
        if task.is_finished() {
            backend.block_on(async {
                if let Ok(Some(i)) = task.await {
                    // The API has stopped: nobody waits for what still runs.
                    i.shutdown(Duration::ZERO).await;
                }
            });
        } else {
            // Still building images: nothing started yet that needs removing.
            task.abort();
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Where actions call the API back (`__OW_API_HOST`): Docker's bridge gateway at Owl's port. Owl
/// listens there too, unless the address it was asked to bind already covers it (0.0.0.0, or the
/// gateway itself). The gateway is an address of this machine that only it and its containers
/// reach, so the API is not exposed further than `--bind` says.
fn callback_address(
    gateway: Result<IpAddr, owl_invoker::docker::DockerError>,
    addr: SocketAddr,
    listeners: &mut Vec<TcpListener>,
) -> String {
    let gateway = match gateway {
        Ok(ip) => ip,
        Err(e) => {
            tracing::warn!(
                "{e}: actions get __OW_API_HOST=http://host.docker.internal:{port}, where Owl may not \
                 listen; give the address containers reach Owl at with --api-host",
                port = addr.port()
            );
            return format!("http://host.docker.internal:{}", addr.port());
        }
    };
    let at = SocketAddr::new(gateway, addr.port());
    if !(addr.ip().is_unspecified() || addr.ip() == gateway) {
        match TcpListener::bind(at) {
            Ok(l) => listeners.push(l),
            Err(e) => tracing::warn!(
                "actions cannot call the API back: listening on {at} (Docker's bridge gateway) \
                 failed: {e}. With rootless Docker or Docker in a VM, give the address containers \
                 reach Owl at with --api-host (see docs/compatibility.md)"
            ),
        }
    }
    format!("http://{at}")
}
