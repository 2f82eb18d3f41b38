//! `owl`: the one binary.
//!
//! - [`standalone`]: the controller with an embedded store on one machine (`owl standalone`).
//! - [`controller`] and [`invoker`]: the two halves apart, for many machines sharing RabbitMQ and
//!   CouchDB ([`backends`]); [`signals`] stops them.
//! - [`admin`]: users, namespaces, keys and limits, straight in the store (`owl admin ...`, what
//!   OpenWhisk's `wskadmin` does).
//! - [`runtimes`]: the Docker images actions run in (`owl runtimes build`).
//!
//! Configuration is one struct per command, each flag with an environment variable beside it.

mod admin;
mod backends;
mod controller;
mod invoker;
mod runtimes;
mod signals;
mod standalone;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "owl",
    version,
    about = "Owl: an Apache OpenWhisk-compatible serverless platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform in this process, on 127.0.0.1:3233 with OpenWhisk's guest key.
    Standalone(standalone::Options),
    /// Serve the REST API of the distributed mode (RabbitMQ and CouchDB shared with the invokers).
    Controller(controller::Options),
    /// Run actions in Docker containers for the controllers of the distributed mode.
    Invoker(invoker::Options),
    /// Manage users, namespaces, keys and limits in the store.
    Admin(admin::Options),
    /// Build and list the Docker images of the action runtimes.
    Runtimes(runtimes::Options),
}

/// Where the embedded store lives unless told otherwise: `$XDG_DATA_HOME/owl`, else `~/.local/share/owl`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("owl");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/owl"),
        None => PathBuf::from(".owl-data"),
    }
}

/// Libraries whose ERROR lines are not Owl's faults, muted unless `OWL_LOG` names them:
/// - lapin reports every lost broker connection, which Owl reports once itself (and reconnects);
/// - actix-http reports every request it cannot parse (bad framing, a bad header), which is the
///   client's fault: an anonymous client could flood the log with them. Such a request is answered
///   400 and the connection closed.
const MUTED: [&str; 2] = ["lapin", "actix_http"];

/// `OWL_LOG` (default `info`), with [`MUTED`] off unless named.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let asked = std::env::var("OWL_LOG").unwrap_or_else(|_| "info".into());
    let mut directives = asked.clone();
    for target in MUTED {
        if !asked.contains(target) {
            directives.push_str(&format!(",{target}=off"));
        }
    }
    tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lapin=off,actix_http=off"))
}

/// jemalloc as the allocator: with the `background_threads` feature its background thread purges
/// pages left unused past the decay time (10 s), so memory held for a burst of large requests goes
/// back to the system while Owl idles.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .init();
    let outcome = match cli.command {
        Command::Standalone(o) => standalone::run(o),
        Command::Controller(o) => controller::run(o),
        Command::Invoker(o) => invoker::run(o),
        Command::Admin(o) => admin::run(o),
        Command::Runtimes(o) => runtimes::run(o),
    };
    // One line that says what went wrong, with its causes, and a non-zero exit.
    if let Err(e) = outcome {
        eprintln!("owl: {e:#}");
        std::process::exit(1);
    }
}
