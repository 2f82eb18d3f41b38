//! `owl`: the one binary.
//!
//! - [`standalone`]: the controller with an embedded store on one machine (`owl standalone`).
//! - [`admin`]: users, namespaces, keys and limits, straight in the store (`owl admin ...`, what
//!   OpenWhisk's `wskadmin` does).
//! - [`runtimes`]: the Docker images actions run in (`owl runtimes build`).
//!
//! Configuration is one struct per command, each flag with an environment variable beside it.

mod admin;
mod runtimes;
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OWL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Standalone(o) => standalone::run(o),
        Command::Admin(o) => admin::run(o),
        Command::Runtimes(o) => runtimes::run(o),
    }
}
