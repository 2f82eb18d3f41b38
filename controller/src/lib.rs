//! Owl's controller: the OpenWhisk REST API under `/api/v1`.
//!
//! Modules, in the order a request flows through them:
//!
//! - [`server`]: the actix-web server; every request enters through one service.
//! - [`transaction`]: the transaction id, taken from `X-Request-ID` or minted, echoed everywhere.
//! - [`request`]: the request as handlers see it: body, query, caller; reply and response building.
//! - [`routes`]: the one route table: (method, path) to handler, in one screen.
//! - [`auth`]: Basic authentication of `uuid:key` to an identity.
//! - [`entitlement`]: may this identity do this to that resource (own namespace, shared packages).
//! - [`list`]: the list query parameters every collection shares.
//! - [`entities`]: the get/put/delete steps every entity collection shares.
//! - One file per collection: [`namespaces`], [`actions`], [`packages`], [`triggers`], [`rules`],
//!   [`activations`], [`limits`], plus [`info`] for the unauthenticated discovery endpoints.
//! - [`invoke`]: invoking an action: throttles ([`throttle`]), entitlement, size, parameters; then
//!   [`activate`], the one path every invoke takes: an activation message and the blocking wait for
//!   its result through [`dispatch`], the controller's side of the queue; actions of Owl's own run
//!   in the controller instead ([`builtin`]), and so do [`sequence`]s and [`conductor`] compositions,
//!   step by step.
//! - [`web`]: web actions under `/api/v1/web`, reached without the API's key, invoked through
//!   [`activate`] as the namespace's owner, their result rendered as HTTP.
//! - [`triggers`] also fires triggers: each active rule is an invoke made as the caller.
//! - [`alarms`]: the built-in alarms feeds and the scheduler that fires their triggers through the
//!   same fire path, under a lease so that one controller fires each schedule.
//! - [`error`] and [`messages`]: the one error type, mapped to HTTP once, and every sentence in
//!   OpenWhisk's words.
//! - [`config`]: limits, throttles and sizes, with OpenWhisk's defaults.
//! - [`catalog`]: the `/whisk.system` packages (`utils`, `samples`) installed at start.

pub mod actions;
pub mod activate;
pub mod activations;
pub mod alarms;
pub mod auth;
pub mod balancer;
pub mod builtin;
pub mod catalog;
pub mod conductor;
pub mod config;
pub mod dispatch;
pub mod entities;
pub mod entitlement;
pub mod error;
pub mod info;
pub mod invoke;
pub mod limits;
pub mod list;
pub mod messages;
pub mod namespaces;
pub mod packages;
pub mod request;
pub mod routes;
pub mod rules;
pub mod sequence;
pub mod server;
pub mod throttle;
pub mod transaction;
pub mod triggers;
pub mod web;

use std::sync::Arc;

use owl_store::Store;

pub use config::ControllerConfig;
pub use server::serve;

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ControllerConfig,
    /// The way to invokers; `None` while none is attached (invokes then answer 503).
    pub dispatch: Option<Arc<dispatch::Dispatch>>,
    /// Trigger fires per minute, per namespace.
    pub fires: throttle::Throttle,
    /// The alarms service's settings, and the bell that wakes its scheduler after a change.
    pub alarms: alarms::Alarms,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: ControllerConfig,
        dispatch: Option<Arc<dispatch::Dispatch>>,
        alarms: alarms::AlarmsConfig,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            store,
            config,
            dispatch,
            fires: throttle::Throttle::default(),
            alarms: alarms::Alarms::new(alarms),
        })
    }
}

/// Milliseconds since the epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
