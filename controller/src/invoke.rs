//! `POST /namespaces/{ns}/actions/[{pkg}/]{name}`: invoke an action.
//!
//! | case | answers |
//! |---|---|
//! | non-blocking | 202 `{"activationId"}` at once |
//! | blocking, done in time | 200 success, 502 application or developer error, 500 whisk error: the activation (logs `[]`), or with `result=true` the result alone; an array result always bare |
//! | blocking, not done in time (`timeout`, default and at most 60 s) | 202 `{"activationId"}` |
//! | refused | 429 throttled, 403, 413 payload, 404, 400 bad `timeout`, body or final parameters, 503 no invoker |
//!
//! Every answer with an activation id carries it in `x-openwhisk-activation-id`. Checks run in
//! upstream's order: throttles, entitlement, size, lookup, final parameters.

use std::time::Duration;

use actix_web::http::StatusCode;
use owl_entity::action::{Action, runtime_deprecated};
use owl_entity::activation::{Activation, ActivationId, StatusCode as Outcome};
use owl_entity::exec::Exec;
use owl_entity::message::{ActivationMessage, Caller};
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_queue::QueueError;
use serde_json::{Map, Value, json};

use crate::dispatch::DispatchError;
use crate::entitlement::{self, Privilege};
use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply};
use crate::{entities, messages, now_millis};

/// The blocking wait's default and maximum, in milliseconds.
pub const MAX_WAIT_MS: u64 = 60_000;

/// An action found for an invoke: itself with the parameters it inherits, where it really lives, the
/// revision read, and the binding it was addressed through.
pub struct Resolved {
    pub action: Action,
    pub fqn: FullyQualifiedName,
    pub revision: String,
    pub binding: Option<String>,
}

pub async fn resolve(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Resolved> {
    let Some(p) = pkg else {
        let fqn = FullyQualifiedName::in_namespace(ns, name);
        let s = entities::fetch::<Action>(ctx.state, &fqn).await?;
        return Ok(Resolved {
            action: s.value,
            fqn,
            revision: s.rev.0,
            binding: None,
        });
    };
    let package =
        crate::actions::resolve_package(ctx, &FullyQualifiedName::in_namespace(ns, p)).await?;
    let fqn = FullyQualifiedName::new(package.actions_path, name.clone());
    let mut s = entities::fetch::<Action>(ctx.state, &fqn).await?;
    s.value.parameters = package.parameters.merged(&s.value.parameters);
    Ok(Resolved {
        action: s.value,
        fqn,
        revision: s.rev.0,
        binding: package.binding,
    })
}

/// Gives the concurrency slot back unless the activation was published.
struct Slot<'a> {
    dispatch: &'a crate::dispatch::Dispatch,
    namespace: String,
    held: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.held {
            self.dispatch.throttle.release(&self.namespace);
        }
    }
}

fn timeout_param(ctx: &Ctx<'_>) -> ApiResult<u64> {
    match ctx.req.query("timeout") {
        None => Ok(MAX_WAIT_MS),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(t) if (1..=MAX_WAIT_MS).contains(&t) => Ok(t),
            _ => Err(ApiError::malformed_query(
                "timeout",
                &format!("Timeout must be number of milliseconds up to {MAX_WAIT_MS}."),
            )),
        },
    }
}

pub async fn invoke(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Reply> {
    let cfg = &ctx.state.config;
    let received = now_millis();
    let limits = &ctx.identity.limits;
    let own = ctx.identity.namespace.to_string();
    let dispatch = ctx.state.dispatch.as_deref();
    let mut slot = match dispatch {
        Some(d) => {
            let controllers = d.balancer.cluster_size();
            let share = |limit| crate::throttle::individual_limit(limit, controllers);
            d.throttle.check_rate(
                &own,
                share(
                    limits
                        .invocations_per_minute
                        .unwrap_or(cfg.invocations_per_minute),
                ),
                received,
            )?;
            d.throttle.acquire(
                &own,
                share(
                    limits
                        .concurrent_invocations
                        .unwrap_or(cfg.concurrent_invocations),
                ),
            )?;
            Some(Slot {
                dispatch: d,
                namespace: own.clone(),
                held: true,
            })
        }
        None => None,
    };
    entitlement::check_action(
        ctx.state,
        ctx.identity,
        Privilege::Activate,
        ns,
        pkg,
        Some(name),
    )
    .await?;
    if ctx.req.body.len() > cfg.payload_limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::request_too_large(ctx.req.body.len(), cfg.payload_limit),
        ));
    }
    let blocking = ctx.req.bool_param("blocking", false)?;
    let result_only = ctx.req.bool_param("result", false)?;
    let wait_ms = timeout_param(ctx)?;
    let Value::Object(args) = ctx.req.json_body()? else {
        return Err(ApiError::malformed_body("Object expected in field 'body'"));
    };
    let resolved = resolve(ctx, ns, pkg, name).await?;
    let action = &resolved.action;
    if cfg.manifest.is_deprecated(action.exec.kind()) {
        return Err(ApiError::bad_request(runtime_deprecated(
            action.exec.kind(),
        )));
    }
    if action.annotations.is_true("final") {
        let locked = args
            .keys()
            .any(|k| action.parameters.get(k).is_some_and(|v| !v.is_null()));
        if locked {
            return Err(ApiError::bad_request(messages::PARAMETERS_NOT_ALLOWED));
        }
    }
    // The action's parameters (package and binding ones merged in), the request's over them.
    let mut content: Map<String, Value> = action.parameters.to_object();
    content.extend(args);
    if let Exec::Builtin { main } = &action.exec {
        return crate::builtin::run(
            ctx,
            &resolved,
            main,
            content,
            blocking,
            result_only,
            received,
        )
        .await;
    }
    let (Some(dispatch), Some(slot)) = (dispatch, slot.as_mut()) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            messages::SERVICE_UNAVAILABLE,
        ));
    };
    if matches!(action.exec, Exec::Sequence { .. }) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            messages::SEQUENCES_NOT_YET,
        ));
    }
    let activation_id = ActivationId::generate();
    let message = ActivationMessage {
        transid: ctx.req.tid.to_string(),
        activation_id: activation_id.clone(),
        action: resolved.fqn.clone(),
        revision: resolved.revision.clone(),
        caller: Caller {
            subject: ctx.identity.subject.clone(),
            namespace: ctx.identity.namespace.clone(),
            authkey: ctx.identity.authkey.clone(),
        },
        content,
        init_args: action
            .parameters
            .iter()
            .filter(|p| p.init)
            .map(|p| p.key.clone())
            .collect(),
        blocking,
        reply_to: dispatch.controller_id.clone(),
        cause: None,
        binding: resolved.binding.clone(),
        received,
    };
    // Upstream gives a slot back at the latest after twice the action's time limit (60 s at least)
    // and a minute more.
    let slot_timeout = Duration::from_millis(action.limits.timeout.max(60_000) as u64 * 2 + 60_000);
    let blackbox = matches!(action.exec, Exec::Blackbox { .. });
    let waiter = dispatch
        .publish(message, &own, action.limits.memory, blackbox, slot_timeout)
        .await
        .map_err(|e| {
            tracing::warn!(tid = %ctx.req.tid, error = %e, "no invoker took the activation");
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
        })?;
    slot.held = false;
    let accepted = || {
        Reply::Activation(
            StatusCode::ACCEPTED,
            json!({"activationId": activation_id}),
            activation_id.clone(),
        )
    };
    let Some(rx) = waiter else {
        return Ok(accepted());
    };
    match tokio::time::timeout(Duration::from_millis(wait_ms), rx).await {
        Ok(Ok(activation)) => Ok(answer(&activation, result_only)),
        _ => {
            dispatch.forget(&activation_id);
            Ok(accepted())
        }
    }
}

/// A finished activation as a blocking invoke answers it: as upstream's `Actions.scala` `doInvoke`,
/// a result that is an array is answered bare whether `result=true` or not; otherwise the result
/// alone with `result=true`, else the whole activation.
pub fn answer(a: &Activation, result_only: bool) -> Reply {
    let status = match a.response.status_code {
        Outcome::Success => StatusCode::OK,
        Outcome::ApplicationError | Outcome::DeveloperError => StatusCode::BAD_GATEWAY,
        Outcome::WhiskError => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let result = a.response.result.clone().unwrap_or_else(|| json!({}));
    let body = if result.is_array() || result_only {
        result
    } else {
        let mut v = a.extended();
        v["logs"] = json!([]);
        v
    };
    Reply::Activation(status, body, a.activation_id.clone())
}
