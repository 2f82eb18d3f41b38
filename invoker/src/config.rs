//! The invoker's settings, with OpenWhisk's defaults.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct InvokerConfig {
    /// The invoker's name: its queue, and the prefix and label of its containers.
    pub id: String,
    /// Memory for action containers, in MB (each container reserves its action's memory limit).
    pub user_memory_mb: i64,
    /// An idle warm container is paused after this long.
    pub pause_grace: Duration,
    /// An idle container is removed after this long.
    pub idle_timeout: Duration,
    /// Start the stem cells the runtime manifest asks for.
    pub prewarm: bool,
    /// `__OW_API_HOST` given to every container: where actions call the API back.
    pub api_host: String,
    /// Largest result kept whole; a longer one is an application error quoting its start.
    pub result_limit: usize,
    /// Containers are started with `__OW_ALLOW_CONCURRENT=true`, so that a Node.js action whose
    /// `limits.concurrency` is above 1 serves that many runs at once. Set when the operator raises
    /// the concurrency maximum above OpenWhisk's 1.
    pub allow_concurrent: bool,
}

impl Default for InvokerConfig {
    fn default() -> Self {
        InvokerConfig {
            id: "invoker0".into(),
            user_memory_mb: 2048,
            pause_grace: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
            prewarm: true,
            api_host: "http://host.docker.internal:3233".into(),
            result_limit: 1024 * 1024,
            allow_concurrent: false,
        }
    }
}
