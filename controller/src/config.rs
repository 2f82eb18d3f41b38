//! The controller's settings: limits, throttles, sizes and the runtime manifest. Defaults are
//! OpenWhisk's deployment defaults, in one place.

use std::time::Duration;

use owl_entity::exec::Manifest;
use owl_entity::limits::LimitBounds;

const MB: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Bounds of action limits (timeout, memory, logs, concurrency).
    pub bounds: LimitBounds,
    pub invocations_per_minute: i64,
    pub concurrent_invocations: i64,
    pub fires_per_minute: i64,
    pub sequence_max_length: usize,
    /// Size limit of an entity's parameters, and of its annotations.
    pub parameter_size_limit: usize,
    /// Size limit of an action's code.
    pub exec_size_limit: usize,
    /// Size limit of an invoke or fire payload.
    pub payload_limit: usize,
    /// Largest request body read at all.
    pub max_body: usize,
    pub list_default_limit: usize,
    pub list_max_limit: usize,
    pub manifest: Manifest,
    /// Shown by `GET /api/v1` as `build` and `buildno`.
    pub build: String,
    pub buildno: String,
    /// How long the HTTP edge waits for slow or idle clients, and how many it serves at once.
    pub edge: Edge,
}

/// The HTTP edge's bounds on clients: a client that sends its request slowly is cut off and its
/// connection freed, so that slow clients cannot hold every connection.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// Time to receive a request's head (its line and headers); past it, 408 and the connection
    /// is closed.
    pub header_timeout: Duration,
    /// Time to receive a request's body once its head came; past it, 408 and the connection is
    /// closed.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// Open connections served at once (all workers together); more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Edge {
    fn default() -> Self {
        Edge {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            bounds: LimitBounds::default(),
            invocations_per_minute: 60,
            concurrent_invocations: 30,
            fires_per_minute: 60,
            sequence_max_length: 50,
            parameter_size_limit: MB,
            exec_size_limit: 48 * MB,
            payload_limit: MB,
            max_body: 50 * MB,
            list_default_limit: 30,
            list_max_limit: 200,
            manifest: Manifest::builtin(),
            build: "2026-11-29T00:00:00Z".into(),
            buildno: concat!("owl-", env!("CARGO_PKG_VERSION")).into(),
            edge: Edge::default(),
        }
    }
}
