//! The OpenWhisk data model, as Owl stores it and speaks it on the wire.
//!
//! Pure types and serde: no I/O, no async. Modules in the order a request's data flows through them:
//!
//! - [`name`]: entity names, namespace paths and fully qualified names, validated at construction.
//! - [`identity`]: subjects, API keys (`uuid:key`) and the identity a request acts as.
//! - [`params`]: parameter and annotation lists (`[{"key", "value"}]`) with their size rules.
//! - [`semver`]: entity versions and the patch bump on every update.
//! - [`limits`]: action limits (timeout, memory, logs, concurrency, instances) and the bounds they must meet.
//! - [`exec`]: the runtime manifest (`runtimes.json`) and the `exec` part of an action.
//! - [`action`], [`package`], [`trigger`], [`rule`]: one file per entity kind: the stored document, the
//!   PUT body, and how a PUT creates or updates the document.
//! - [`entity`]: the four kinds behind one enum, as the store keeps them in one id space per namespace.
//! - [`activation`]: activation ids and records, in stored, extended and summary forms.
//! - [`container`]: the `/init` and `/run` bodies of the action container protocol.
//! - [`message`]: what controllers and invokers send each other through the queue.
//! - [`alarm`]: the schedules of the built-in alarms feeds: their checks and when they fire next.
//! - [`error`]: the validation error every constructor above returns, worded as OpenWhisk words it.

pub mod action;
pub mod activation;
pub mod alarm;
pub mod container;
pub mod entity;
pub mod error;
pub mod exec;
pub mod identity;
pub mod limits;
pub mod message;
pub mod name;
pub mod package;
pub mod params;
pub mod rule;
pub mod semver;
pub mod trigger;

pub use error::EntityError;

/// Reads a typed document from a JSON value, keeping every number's text as it is in the value.
///
/// `serde_json::from_value` hands a number that also reads as an integer or a float to the type as
/// that integer or float, so a `Value` field inside the type gets `0` for `-0` and `4.88e-11` for
/// `0.0000000000488`; reading the value's text keeps them. For documents, not for hot paths: it
/// writes the value out once.
pub fn from_value_exact<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
) -> serde_json::Result<T> {
    serde_json::from_str(&v.to_string())
}

/// Milliseconds since the Unix epoch: how OpenWhisk writes every timestamp.
pub type EpochMillis = i64;
