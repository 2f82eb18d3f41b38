//! `owl controller`: the REST API of the distributed mode. Several run behind any HTTP load balancer,
//! sharing the CouchDB store and the RabbitMQ queue with the invokers. The same steps start the
//! controller half of `owl standalone`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use owl_controller::balancer::BalancerConfig;
use owl_controller::dispatch::Dispatch;
use owl_controller::{AppState, ControllerConfig};
use owl_entity::exec::Manifest;
use owl_store::Store;

use crate::backends::{QueueOptions, StoreOptions};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// This controller's name: its queue of results, and its hold on the alarms lease. Unique among
    /// the controllers, and the same across its restarts.
    #[arg(long, env = "OWL_CONTROLLER_ID")]
    controller_id: String,
    /// Addresses to listen on (repeat the flag, or separate with commas), all at the same port:
    /// the one clients reach, and the one the invokers' containers call back (`--api-host`).
    #[arg(
        long,
        env = "OWL_BIND",
        default_value = "127.0.0.1",
        value_delimiter = ','
    )]
    bind: Vec<String>,
    /// Port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, env = "OWL_PORT", default_value_t = 3233)]
    port: u16,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "OWL_WORKERS")]
    workers: Option<usize>,
    /// A runtime manifest in OpenWhisk's runtimes.json format, replacing the built-in one (give
    /// every controller and invoker the same).
    #[arg(long, env = "OWL_RUNTIMES")]
    runtimes: Option<PathBuf>,
    /// Largest `limits.concurrency` an action may ask for (OpenWhisk's `concurrency-limit.max`).
    #[arg(long, env = "OWL_MAX_ACTION_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(i64).range(1..=500))]
    max_action_concurrency: i64,
    /// Seconds after its time that an alarm fire missed while no controller ran is still made.
    #[arg(long, env = "OWL_ALARM_MISFIRE_GRACE", default_value_t = 600)]
    alarm_misfire_grace: u64,
    /// The share of invokers that run blackbox actions (OpenWhisk's `blackbox-fraction`).
    #[arg(long, env = "OWL_BLACKBOX_FRACTION", default_value_t = 0.1)]
    blackbox_fraction: f64,
    /// Seconds without a heartbeat after which an invoker is taken for gone.
    #[arg(long, env = "OWL_INVOKER_HEALTH_TIMEOUT", default_value_t = 5)]
    invoker_health_timeout: u64,
    #[command(flatten)]
    store: StoreOptions,
    #[command(flatten)]
    queue: QueueOptions,
}

/// The controller's settings from the flags both modes share.
pub fn config(
    max_action_concurrency: i64,
    runtimes: Option<&Path>,
) -> anyhow::Result<ControllerConfig> {
    let mut config = ControllerConfig::default();
    config.bounds.concurrency.max = max_action_concurrency;
    if let Some(path) = runtimes {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        config.manifest = Manifest::from_json(&text).map_err(anyhow::Error::msg)?;
    }
    Ok(config)
}

/// What a controller does before it serves: the default identities and the catalog in the store,
/// and its queue consumers.
pub async fn prepare(store: &Arc<dyn Store>, dispatch: &Arc<Dispatch>) -> anyhow::Result<()> {
    owl_store::seed::ensure_default_subjects(&**store)
        .await
        .context("seeding the default identities")?;
    let written = owl_controller::catalog::install(&**store, owl_controller::now_millis())
        .await
        .context("installing the whisk.system catalog")?;
    if written > 0 {
        tracing::info!(entities = written, "the whisk.system catalog is installed");
    }
    dispatch
        .start(store.clone())
        .await
        .context("consuming the controller's queue")
}

/// Serves the API on `listeners` until SIGINT or SIGTERM; `ready` runs once it listens.
pub fn serve(
    listeners: Vec<TcpListener>,
    state: Arc<AppState>,
    workers: usize,
    ready: impl FnOnce(),
) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let server = owl_controller::serve(listeners, state, workers)?;
        ready();
        server.await?;
        anyhow::Ok(())
    })
}

pub fn workers(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

pub fn run(o: Options) -> anyhow::Result<()> {
    crate::backends::install_crypto();
    let config = config(o.max_action_concurrency, o.runtimes.as_deref())?;
    let first = o.bind.first().map_or("127.0.0.1", String::as_str);
    let listener = TcpListener::bind((first, o.port))
        .with_context(|| format!("listening on {first}:{}", o.port))?;
    let addr = listener.local_addr()?;
    let mut listeners = vec![listener];
    for more in o.bind.iter().skip(1) {
        listeners.push(
            TcpListener::bind((more.as_str(), addr.port()))
                .with_context(|| format!("listening on {more}:{}", addr.port()))?,
        );
    }
    let backend = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("owl-controller")
        .enable_all()
        .build()?;
    let balancer = BalancerConfig {
        health_timeout: std::time::Duration::from_secs(o.invoker_health_timeout.max(1)),
        blackbox_fraction: o.blackbox_fraction.clamp(0.0, 1.0),
        ..BalancerConfig::default()
    };
    let (store, dispatch) = backend.block_on(async {
        let store = o.store.open_cached().await?;
        let queue = o.queue.connect().await?;
        let dispatch = Dispatch::new(queue, &o.controller_id, balancer);
        prepare(&store, &dispatch).await?;
        anyhow::Ok((store, dispatch))
    })?;
    let alarms = owl_controller::alarms::AlarmsConfig {
        misfire_grace_ms: o.alarm_misfire_grace as i64 * 1000,
        ..Default::default()
    };
    let state = AppState::new(store, config, Some(dispatch), alarms);
    let _scheduler = {
        let _guard = backend.enter();
        owl_controller::alarms::scheduler::start(state.clone(), o.controller_id.clone())
    };
    let id = o.controller_id.clone();
    serve(listeners, state, workers(o.workers), move || {
        // Scripts wait for this line; it names the port even when the OS chose it.
        println!("owl controller {id} listening on http://{addr}");
    })?;
    tracing::info!("stopped");
    Ok(())
}
