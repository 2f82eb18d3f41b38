//! Actions of Owl's own, run in the controller without a container: the alarms feeds. They are
//! invoked like any action (throttles, entitlement, parameters, a record in the caller's namespace,
//! the blocking and non-blocking answers), only the run itself is a function here.

use owl_entity::activation::{
    Activation, ActivationId, ActivationResponse, RunAnnotations, StatusCode as Outcome,
};
use owl_entity::name::EntityPath;
use serde_json::{Map, Value, json};

use crate::error::ApiResult;
use crate::invoke::Resolved;
use crate::request::Ctx;
use crate::{alarms, now_millis};

/// How a built-in action ended: its result. A result with an `error` field is an application
/// error, as for any action; built-in actions have no other way to fail.
pub struct Ran {
    pub result: Value,
}

/// Runs the built-in `main` with `args` as the caller of `ctx` and stores its record (`cause`: the
/// sequence or composition it is a step of).
pub async fn run(
    ctx: &Ctx<'_>,
    resolved: &Resolved,
    main: &str,
    args: Map<String, Value>,
    cause: Option<ActivationId>,
    received: i64,
) -> ApiResult<Activation> {
    let start = now_millis();
    let ran = match main {
        alarms::feed::MAIN => alarms::feed::run(ctx, args).await,
        other => Ran {
            result: json!({"error": format!("There is no built-in action '{other}'.")}),
        },
    };
    let end = now_millis();
    let status_code = if ran.result.get("error").is_some() {
        Outcome::ApplicationError
    } else {
        Outcome::Success
    };
    let action = &resolved.action;
    let annotations = RunAnnotations {
        path: &resolved.fqn.doc_id(),
        wait_ms: start - received,
        action: Some(action),
        timed_out: false,
        init_ms: None,
        binding: resolved.binding.as_deref(),
        caused_by_sequence: cause.is_some(),
    }
    .params();
    let size = ran.result.to_string().len() as u64;
    let record = Activation {
        namespace: EntityPath::from_name(ctx.identity.namespace.clone()),
        name: resolved.fqn.name.clone(),
        version: action.version,
        subject: ctx.identity.subject.clone(),
        activation_id: ActivationId::generate(),
        start,
        end,
        duration: Some(end - start),
        response: ActivationResponse {
            status_code,
            result: Some(ran.result),
            size: Some(size),
        },
        logs: vec![],
        annotations,
        publish: false,
        cause,
    };
    ctx.state.store.put_activation(&record).await?;
    Ok(record)
}
