//! The shared services of the distributed mode, as flags: the CouchDB store and the RabbitMQ queue.
//! `owl controller`, `owl invoker` and `owl admin` read them the same way.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use owl_queue::Queue;
use owl_queue::rabbitmq::{RabbitConfig, RabbitQueue};
use owl_store::couch::{CouchConfig, CouchStore};
use owl_store::{CachedStore, Store};

#[derive(clap::Args, Debug, Clone)]
pub struct StoreOptions {
    /// The CouchDB server holding entities, subjects and activation records.
    #[arg(long, env = "OWL_COUCH_URL", default_value = "http://127.0.0.1:5984")]
    pub couch_url: String,
    /// CouchDB user (with the password, sent as Basic credentials).
    #[arg(long, env = "OWL_COUCH_USER")]
    pub couch_user: Option<String>,
    /// CouchDB password.
    #[arg(long, env = "OWL_COUCH_PASSWORD", hide_env_values = true)]
    pub couch_password: Option<String>,
    /// Prefix of the database names (`<prefix>whisks`, `<prefix>subjects`, `<prefix>activations`,
    /// `<prefix>services`), as OpenWhisk's `db_prefix`.
    #[arg(long, env = "OWL_DB_PREFIX", default_value = "whisk_local_")]
    pub db_prefix: String,
    /// Seconds a store request may take before it fails (the API then answers 503).
    #[arg(long, env = "OWL_STORE_TIMEOUT", default_value_t = 10)]
    pub store_timeout: u64,
}

impl StoreOptions {
    /// Connects to CouchDB, creating the databases and indexes Owl needs; an unreachable server is
    /// one clear error.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let config = CouchConfig {
            url: self.couch_url.clone(),
            user: self.couch_user.clone(),
            password: self.couch_password.clone(),
            db_prefix: self.db_prefix.clone(),
            request_timeout: Duration::from_secs(self.store_timeout.max(1)),
        };
        let store = CouchStore::connect(config)
            .await
            .map_err(|e| anyhow!("the store at {} cannot be used: {e}", self.couch_url))?;
        Ok(Arc::new(store))
    }

    /// [`StoreOptions::open`] behind the read cache every request path uses.
    pub async fn open_cached(&self) -> anyhow::Result<Arc<dyn Store>> {
        Ok(CachedStore::wrap(self.open().await?))
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct QueueOptions {
    /// The RabbitMQ broker between controllers and invokers (`amqps://` for TLS).
    #[arg(
        long,
        env = "OWL_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,
    /// Prefix of the queue and exchange names, for several Owl systems on one broker and vhost
    /// (every controller and invoker of one system gives the same; a vhost per system is the
    /// other way).
    #[arg(long, env = "OWL_QUEUE_SCOPE", default_value = "")]
    pub queue_scope: String,
}

impl QueueOptions {
    pub async fn connect(&self) -> anyhow::Result<Arc<dyn Queue>> {
        let config = RabbitConfig {
            url: self.amqp_url.clone(),
            scope: self.queue_scope.clone(),
            ..RabbitConfig::default()
        };
        let queue = RabbitQueue::connect(config)
            .await
            .map_err(|e| anyhow!("the broker cannot be used: {e}"))?;
        Ok(Arc::new(queue))
    }
}

/// TLS to the broker and the store goes through rustls with ring's primitives, chosen once per
/// process.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
