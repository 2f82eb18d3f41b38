//! `owl controller`: the REST API of the distributed mode. Several run behind any HTTP load balancer,
//! sharing the CouchDB store and the RabbitMQ queue with the invokers. The same steps start the
//! controller half of `owl standalone`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    edge: EdgeOptions,
    #[command(flatten)]
    store: StoreOptions,
    #[command(flatten)]
    queue: QueueOptions,
}

/// How the HTTP edge treats slow, idle and many clients (both modes).
#[derive(clap::Args, Debug, Clone)]
pub struct EdgeOptions {
    /// Seconds a client has to send a request's line and headers; past it the request is answered
    /// 408 and the connection closed.
    #[arg(long, env = "OWL_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds a client has to send a request's body once its headers came; past it, 408 and the
    /// connection closed.
    #[arg(long, env = "OWL_BODY_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "OWL_KEEP_ALIVE", default_value_t = 30)]
    keep_alive: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "OWL_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
}

/// The controller's settings from the flags both modes share.
pub fn config(
    max_action_concurrency: i64,
    runtimes: Option<&Path>,
    edge: &EdgeOptions,
) -> anyhow::Result<ControllerConfig> {
    let mut config = ControllerConfig::default();
    config.bounds.concurrency.max = max_action_concurrency;
    config.edge = owl_controller::config::Edge {
        header_timeout: Duration::from_secs(edge.header_timeout),
        body_timeout: Duration::from_secs(edge.body_timeout),
        keep_alive: Duration::from_secs(edge.keep_alive),
        max_connections: edge.max_connections as usize,
    };
    config.manifest = manifest(runtimes)?;
    Ok(config)
}

/// The runtime manifest: the built-in one, or the one `runtimes` names.
pub fn manifest(runtimes: Option<&Path>) -> anyhow::Result<Manifest> {
    let Some(path) = runtimes else {
        return Ok(Manifest::builtin());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Manifest::from_json(&text).map_err(anyhow::Error::msg)
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
    let config = config(o.max_action_concurrency, o.runtimes.as_deref(), &o.edge)?;
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
