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
use owl_entity::activation::{Activation, ActivationId, StatusCode as Status};
use owl_entity::exec::Exec;
use owl_entity::name::{EntityName, FullyQualifiedName};
use serde_json::{Map, Value, json};

use crate::activate::{self, Caller, Outcome, Slot};
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
    let slot = Slot::acquire(ctx.state, ctx.identity, received)?;
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
    // A sequence's own components must be open to the caller, as upstream checks them at invoke.
    if let Exec::Sequence { components } = &action.exec {
        crate::sequence::check_components(ctx, components).await?;
    }
    check_final(action, &args)?;
    let caller = Caller {
        state: ctx.state.clone(),
        identity: ctx.identity.clone(),
        tid: ctx.req.tid.clone(),
    };
    let wait = blocking.then(|| Duration::from_millis(wait_ms));
    let outcome = activate::topmost(&caller, resolved, args, wait, slot, received).await?;
    Ok(match outcome {
        Outcome::Done(activation) => answer(&activation, result_only),
        Outcome::Pending(id) => accepted(id),
    })
}

/// Request fields may not override parameters an action annotated `final` defines (with a value
/// other than `null`).
pub fn check_final(action: &Action, args: &Map<String, Value>) -> ApiResult<()> {
    if action.annotations.is_true("final") {
        let locked = args
            .keys()
            .any(|k| action.parameters.get(k).is_some_and(|v| !v.is_null()));
        if locked {
            return Err(ApiError::bad_request(messages::PARAMETERS_NOT_ALLOWED));
        }
    }
    Ok(())
}

/// 202 with the activation's id: queued, or not done within the caller's wait.
pub fn accepted(id: ActivationId) -> Reply {
    Reply::Activation(StatusCode::ACCEPTED, json!({"activationId": id}), id)
}

/// A finished activation as a blocking invoke answers it: as upstream's `Actions.scala` `doInvoke`,
/// a result that is an array is answered bare whether `result=true` or not; otherwise the result
/// alone with `result=true`, else the whole activation.
pub fn answer(a: &Activation, result_only: bool) -> Reply {
    let status = match a.response.status_code {
        Status::Success => StatusCode::OK,
        Status::ApplicationError | Status::DeveloperError => StatusCode::BAD_GATEWAY,
        Status::WhiskError => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let result = a.response.result.clone().unwrap_or_else(|| json!({}));
    // A primitive action's result comes without logs; a sequence's or composition's record lists
    // its steps' ids there, as upstream answers it.
    let body = if result.is_array() || result_only {
        result
    } else {
        a.extended()
    };
    Reply::Activation(status, body, a.activation_id.clone())
}
