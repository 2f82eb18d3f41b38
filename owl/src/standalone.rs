//! `owl standalone`: the controller and the embedded store in one process.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use owl_controller::{AppState, ControllerConfig};
use owl_entity::exec::Manifest;
use owl_store::{MemoryStore, SqliteStore, Store};

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
}

pub fn run(o: Options) -> anyhow::Result<()> {
    let mut config = ControllerConfig::default();
    if let Some(path) = &o.runtimes {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        config.manifest = Manifest::from_json(&text).map_err(anyhow::Error::msg)?;
    }
    let store: Arc<dyn Store> = if o.in_memory {
        Arc::new(MemoryStore::new())
    } else {
        let dir = o.data_dir.clone().unwrap_or_else(crate::default_data_dir);
        tracing::info!(data_dir = %dir.display(), "opening the embedded store");
        Arc::new(
            SqliteStore::open(&dir)
                .with_context(|| format!("opening the store in {}", dir.display()))?,
        )
    };
    let listener = TcpListener::bind((o.bind.as_str(), o.port))
        .with_context(|| format!("listening on {}:{}", o.bind, o.port))?;
    let addr = listener.local_addr()?;
    let workers = o
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    actix_web::rt::System::new().block_on(async move {
        owl_store::seed::ensure_default_subjects(&*store)
            .await
            .context("seeding the default identities")?;
        let state = Arc::new(AppState { store, config });
        let server = owl_controller::serve(listener, state, workers)?;
        // Scripts wait for this line; it names the port even when the OS chose it.
        println!("owl standalone listening on http://{addr}");
        println!("guest key: {}", owl_entity::identity::GUEST_KEY);
        server.await?;
        tracing::info!("stopped");
        Ok(())
    })
}
