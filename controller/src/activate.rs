//! Running an action once the caller's request was checked (throttles, entitlement, size, final
//! parameters): the one path every invoke takes, whether a client asked for it through the API, a
//! web request, a rule on a trigger fire, or a sequence or composition running a step.
//!
//! | the action | runs |
//! |---|---|
//! | code or blackbox | on an invoker: published on the queue, its result awaited from the controller's queue |
//! | built-in (`exec.kind` `builtin`) | in the controller ([`crate::builtin`]) |
//! | `sequence` | in the controller, step by step ([`crate::sequence`]) |
//! | annotated `conductor` | in the controller, conductor and components in turn ([`crate::conductor`]) |
//!
//! A *topmost* invoke (one a client made) answers when the activation is done or when the caller's
//! wait is over, whichever comes first; a sequence or composition goes on after the caller stopped
//! waiting and stores its record when it ends. A *step* (an activation with a `cause`) is always
//! awaited, up to its time limit and a minute more, and takes no throttle slot of its own: the
//! invoke that started the composition holds the one slot it counts for.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use owl_entity::activation::{Activation, ActivationId};
use owl_entity::exec::Exec;
use owl_entity::identity::Identity;
use owl_entity::message::{ActivationMessage, Caller as MessageCaller};
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_queue::QueueError;
use serde_json::{Map, Value};

use crate::dispatch::{Dispatch, DispatchError};
use crate::error::{ApiError, ApiResult};
use crate::invoke::Resolved;
use crate::request::{Ctx, Request};
use crate::transaction::TransactionId;
use crate::{AppState, messages, now_millis};

/// Who an activation runs for, owned, so that a composition can outlive the request that began it.
#[derive(Clone)]
pub struct Caller {
    pub state: Arc<AppState>,
    pub identity: Identity,
    pub tid: TransactionId,
}

impl Caller {
    /// Runs `f` with a [`Ctx`] as if this caller had sent a request (for code written for handlers).
    pub async fn with_ctx<T>(&self, f: impl AsyncFnOnce(&Ctx<'_>) -> T) -> T {
        let req = Request::internal(Method::POST, String::new(), self.tid.clone(), Bytes::new());
        f(&Ctx {
            state: &self.state,
            req: &req,
            identity: &self.identity,
        })
        .await
    }
}

/// How far an activation got while its caller waited.
#[derive(Debug)]
pub enum Outcome {
    /// It ended; this is its record (for a primitive action, without logs).
    Done(Box<Activation>),
    /// It was queued, or it did not end within the wait: the caller gets its id.
    Pending(ActivationId),
}

/// One throttle slot of a namespace's concurrent invocations, held by an invoke. It goes back when
/// dropped, unless an activation published on the queue took it over (given back at its completion).
pub struct Slot {
    dispatch: Arc<Dispatch>,
    namespace: String,
    held: bool,
}

impl Slot {
    /// Checks the rate and takes a slot of `identity`'s namespace, with its share of the limits on
    /// this controller (429 when either is spent).
    pub fn acquire(state: &AppState, identity: &Identity, now: i64) -> ApiResult<Option<Slot>> {
        let Some(dispatch) = &state.dispatch else {
            return Ok(None);
        };
        let cfg = &state.config;
        let limits = &identity.limits;
        let own = identity.namespace.to_string();
        let controllers = dispatch.balancer.cluster_size();
        let share = |limit| crate::throttle::individual_limit(limit, controllers);
        dispatch.throttle.check_rate(
            &own,
            share(
                limits
                    .invocations_per_minute
                    .unwrap_or(cfg.invocations_per_minute),
            ),
            now,
        )?;
        dispatch.throttle.acquire(
            &own,
            share(
                limits
                    .concurrent_invocations
                    .unwrap_or(cfg.concurrent_invocations),
            ),
        )?;
        Ok(Some(Slot {
            dispatch: dispatch.clone(),
            namespace: own,
            held: true,
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.held {
            self.dispatch.throttle.release(&self.namespace);
        }
    }
}

/// The arguments an action runs with, as upstream merges them: an object over the action's
/// parameters (package and binding ones included), an array alone, nothing as the parameters.
pub fn arguments(resolved: &Resolved, payload: Option<Value>) -> Value {
    match payload {
        Some(Value::Object(fields)) => {
            let mut content: Map<String, Value> = resolved.action.parameters.to_object();
            content.extend(fields);
            Value::Object(content)
        }
        Some(array @ Value::Array(_)) => array,
        _ => Value::Object(resolved.action.parameters.to_object()),
    }
}

/// Runs an action a client asked for. `wait` is the blocking wait (`None`: answer at once);
/// `slot` the throttle slot the request holds, kept until the activation (or the whole composition)
/// ends. Refusals before anything ran are errors: 503 without invokers, 413 for a message the
/// queue refuses.
pub async fn topmost(
    caller: &Caller,
    resolved: Resolved,
    payload: Map<String, Value>,
    wait: Option<Duration>,
    slot: Option<Slot>,
    received: i64,
) -> ApiResult<Outcome> {
    let is_composition = matches!(resolved.action.exec, Exec::Sequence { .. })
        || crate::conductor::is_conductor(&resolved.action);
    if !is_composition {
        let content = arguments(&resolved, Some(Value::Object(payload)));
        return primitive(caller, &resolved, content, None, wait, slot, received).await;
    }
    if caller.state.dispatch.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            messages::SERVICE_UNAVAILABLE,
        ));
    }
    // The composition runs on its own task: it goes on (and stores its record) after a caller
    // stopped waiting. Its id is known before it starts, so that a caller that does not wait can
    // be answered at once.
    let id = ActivationId::generate();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task_caller = caller.clone();
    let task_id = id.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let payload = Some(Value::Object(payload));
        let record = match &resolved.action.exec {
            Exec::Sequence { components } => {
                let components = components.clone();
                crate::sequence::run(
                    &task_caller,
                    &resolved,
                    &components,
                    payload,
                    crate::sequence::Nesting::Topmost {
                        id: task_id,
                        received,
                    },
                )
                .await
                .0
            }
            _ => {
                crate::conductor::run(
                    &task_caller,
                    &resolved,
                    payload,
                    crate::conductor::Nesting::Topmost {
                        id: task_id,
                        received,
                    },
                    &mut crate::conductor::Counts::default(),
                )
                .await
            }
        };
        let _ = tx.send(record);
    });
    let Some(wait) = wait else {
        return Ok(Outcome::Pending(id));
    };
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(record)) => Ok(Outcome::Done(Box::new(record))),
        _ => Ok(Outcome::Pending(id)),
    }
}

/// Runs a step of a sequence or composition (not a sequence itself): waits for it up to its time
/// limit and a minute more. An error is a step that could not even be queued (or, for a built-in
/// action, recorded).
pub async fn step(
    caller: &Caller,
    resolved: &Resolved,
    payload: Option<Value>,
    cause: &ActivationId,
) -> ApiResult<Outcome> {
    let content = arguments(resolved, payload);
    let wait = Duration::from_millis(resolved.action.limits.timeout.max(0) as u64 + 60_000);
    primitive(
        caller,
        resolved,
        content,
        Some(cause.clone()),
        Some(wait),
        None,
        now_millis(),
    )
    .await
}

/// A refusal of the queue as the API answers it.
fn refusal(e: DispatchError) -> ApiError {
    match e {
        DispatchError::Queue(QueueError::TooLarge { size, limit }) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::request_too_large(size, limit),
        ),
        _ => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            messages::SERVICE_UNAVAILABLE,
        ),
    }
}

/// Runs one action that is neither a sequence nor a conductor: a built-in one here, any other on an
/// invoker.
async fn primitive(
    caller: &Caller,
    resolved: &Resolved,
    content: Value,
    cause: Option<ActivationId>,
    wait: Option<Duration>,
    mut slot: Option<Slot>,
    received: i64,
) -> ApiResult<Outcome> {
    let action = &resolved.action;
    if let Exec::Builtin { main } = &action.exec {
        let args = match content {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let record = caller
            .with_ctx(async |ctx| {
                crate::builtin::run(ctx, resolved, main, args, cause, received).await
            })
            .await?;
        return Ok(match wait {
            Some(_) => Outcome::Done(Box::new(record)),
            None => Outcome::Pending(record.activation_id),
        });
    }
    let Some(dispatch) = caller.state.dispatch.as_deref() else {
        return Err(refusal(DispatchError::NoInvoker));
    };
    let activation_id = ActivationId::generate();
    let message = ActivationMessage {
        transid: caller.tid.to_string(),
        activation_id: activation_id.clone(),
        action: resolved.fqn.clone(),
        revision: resolved.revision.clone(),
        caller: MessageCaller {
            subject: caller.identity.subject.clone(),
            namespace: caller.identity.namespace.clone(),
            authkey: caller.identity.authkey.clone(),
        },
        content,
        init_args: action
            .parameters
            .iter()
            .filter(|p| p.init)
            .map(|p| p.key.clone())
            .collect(),
        blocking: wait.is_some(),
        reply_to: dispatch.controller_id.clone(),
        cause,
        binding: resolved.binding.clone(),
        received,
    };
    // Upstream gives a slot back at the latest after twice the action's time limit (60 s at least)
    // and a minute more.
    let slot_timeout = Duration::from_millis(action.limits.timeout.max(60_000) as u64 * 2 + 60_000);
    let blackbox = matches!(action.exec, Exec::Blackbox { .. });
    let throttled = slot.as_ref().map(|s| s.namespace.clone());
    let waiter = dispatch
        .publish(
            message,
            throttled.as_deref(),
            action.limits.memory,
            blackbox,
            slot_timeout,
        )
        .await
        .map_err(|e| {
            tracing::warn!(tid = %caller.tid, error = %e, "no invoker took the activation");
            refusal(e)
        })?;
    // The published activation holds the slot now: its completion gives it back.
    if let Some(s) = slot.as_mut() {
        s.held = false;
    }
    let (Some(rx), Some(wait)) = (waiter, wait) else {
        return Ok(Outcome::Pending(activation_id));
    };
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(activation)) => Ok(Outcome::Done(Box::new(activation))),
        _ => {
            dispatch.forget(&activation_id);
            Ok(Outcome::Pending(activation_id))
        }
    }
}

/// Why a step named by its fully qualified name cannot run.
#[derive(Debug)]
pub enum Unresolved {
    /// The action, its package or the binding's package does not exist (any more).
    Missing,
    /// The store failed.
    Failed(ApiError),
}

/// Reads the action a sequence or composition names (`/ns/name` or `/ns/pkg/name`, the package
/// possibly a binding) with the parameters it inherits, as an invoke would address it; `_` is the
/// caller's namespace.
pub async fn resolve_name(
    caller: &Caller,
    fqn: &FullyQualifiedName,
) -> Result<Resolved, Unresolved> {
    let (ns, pkg): (&EntityName, Option<&EntityName>) = match fqn.path.segments() {
        [ns] => (ns, None),
        [ns, pkg] => (ns, Some(pkg)),
        _ => return Err(Unresolved::Missing),
    };
    let ns = if ns.is_default() {
        caller.identity.namespace.clone()
    } else {
        ns.clone()
    };
    let resolved = caller
        .with_ctx(async |ctx| crate::invoke::resolve(ctx, &ns, pkg, &fqn.name).await)
        .await;
    resolved.map_err(|e| match e.status {
        StatusCode::NOT_FOUND => Unresolved::Missing,
        _ => Unresolved::Failed(e),
    })
}

/// Stores the record of a sequence or composition, which the controller writes itself, without
/// making anyone wait for the write: as an invoker answers before its record is committed, the
/// caller (or the enclosing sequence) goes on at once.
pub fn store_record(caller: &Caller, record: &Activation) {
    let store = caller.state.store.clone();
    let (tid, record) = (caller.tid.clone(), record.clone());
    tokio::spawn(async move {
        if let Err(e) = store.put_activation(&record).await {
            tracing::error!(tid = %tid, activation = %record.activation_id, error = %e,
                "the record of a composition could not be stored");
        }
    });
}
