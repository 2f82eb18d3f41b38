//! `/namespaces/{ns}/triggers`: triggers, which only their owner may see or fire.
//!
//! | request | answers |
//! |---|---|
//! | `GET .../triggers` | 200 summaries; 403 another namespace |
//! | `GET .../triggers/{name}` | 200 the trigger with its `rules`; 403; 404; 409 |
//! | `PUT .../triggers/{name}` | 200 the stored trigger; 400 malformed, bad feed name on create; 403; 409; 413 |
//! | `DELETE .../triggers/{name}` | 200 the deleted trigger (its rules stay, inactive); 403; 404; 409 |
//! | `POST .../triggers/{name}` | fire: 202 `{"activationId"}` at once when a rule is active, the rules invoked after; 204 no active rule (no record); 400 payload not an object; 413 payload too large; 429 fires per minute; 403; 404 |
//!
//! A fire records one trigger activation in the caller's namespace: its result is the payload, its
//! `logs` one JSON string per rule of the trigger (the action's activation id, or why it was not
//! activated). Each active rule is an invoke of its action made as the caller, exactly as
//! `POST .../actions/...` would be (entitlement, throttles, final parameters), non-blocking, with the
//! trigger's parameters, the request's headers as `__ow_headers` and the payload over them.

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use owl_entity::activation::{Activation, ActivationId, ActivationResponse, StatusCode as Outcome};
use owl_entity::identity::Identity;
use owl_entity::name::{EntityName, EntityPath, FullyQualifiedName};
use owl_entity::params::Params;
use owl_entity::rule::RuleStatus;
use owl_entity::trigger::{ReducedRule, Trigger, TriggerPut};
use owl_store::Scope;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply};
use crate::transaction::TransactionId;
use crate::{AppState, entitlement};
use crate::{entities, messages, now_millis};

pub async fn list(ctx: &Ctx<'_>, ns: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, None)?;
    entities::list::<Trigger>(ctx, Scope::Namespace(ns.clone()), false, |t| t.summary()).await
}

pub async fn get(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    Reply::ok(
        entities::fetch::<Trigger>(ctx.state, &FullyQualifiedName::in_namespace(ns, name))
            .await?
            .value
            .to_json(),
    )
}

pub async fn put(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let content = TriggerPut::from_json(&ctx.req.json_body()?)?;
    content
        .common
        .check_sizes(ctx.state.config.parameter_size_limit)?;
    let this = FullyQualifiedName::in_namespace(ns, name);
    let overwrite = ctx.req.bool_param("overwrite", false)?;
    match entities::existing_for_put::<Trigger>(ctx.state, &this, overwrite).await? {
        None => entities::save(ctx.state, content.create(&this, now_millis())?, None).await,
        Some(old) => {
            let t = content.update(&old.value, now_millis());
            entities::save(ctx.state, t, Some(&old.rev)).await
        }
    }
}

pub async fn delete(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let stored =
        entities::fetch::<Trigger>(ctx.state, &FullyQualifiedName::in_namespace(ns, name)).await?;
    let reply = entities::remove(ctx.state, stored, Reply::entity).await?;
    // Made with a feed annotation or not, a schedule must not outlive its trigger (nor fire a new
    // trigger of the same name).
    crate::alarms::trigger_deleted(ctx.state, ns.as_str(), name.as_str()).await;
    Ok(reply)
}

pub async fn fire(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    let limit = ctx
        .identity
        .limits
        .fires_per_minute
        .unwrap_or(ctx.state.config.fires_per_minute);
    let controllers = ctx
        .state
        .dispatch
        .as_ref()
        .map_or(1, |d| d.balancer.cluster_size());
    let limit = crate::throttle::individual_limit(limit, controllers);
    ctx.state
        .fires
        .check_rate(ctx.identity.namespace.as_str(), limit, now_millis())?;
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let max = ctx.state.config.payload_limit;
    if ctx.req.body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::request_too_large(ctx.req.body.len(), max),
        ));
    }
    let Value::Object(payload) = ctx.req.json_body()? else {
        return Err(ApiError::malformed_body("Object expected in field 'body'"));
    };
    let trigger =
        entities::fetch::<Trigger>(ctx.state, &FullyQualifiedName::in_namespace(ns, name))
            .await?
            .value;
    let rules = trigger.rules.clone().unwrap_or_default();
    if !rules.values().any(|r| r.status == RuleStatus::Active) {
        return Ok(Reply::NoContent);
    }
    let id = ActivationId::generate();
    let record = Activation {
        // Every activation lands in the caller's namespace, whoever owns the trigger.
        namespace: EntityPath::from_name(ctx.identity.namespace.clone()),
        name: trigger.name.clone(),
        version: trigger.version,
        subject: ctx.identity.subject.clone(),
        activation_id: id.clone(),
        start: now_millis(),
        end: 0,
        duration: None,
        response: ActivationResponse {
            status_code: Outcome::Success,
            result: Some(Value::Object(payload.clone())),
            size: None,
        },
        logs: vec![],
        annotations: Params::new(),
        publish: false,
        cause: None,
    };
    let mut args = trigger.parameters.to_object();
    args.insert("__ow_headers".into(), headers_for_actions(&ctx.req.headers));
    args.extend(payload);
    let (state, identity, tid) = (ctx.state.clone(), ctx.identity.clone(), ctx.req.tid.clone());
    tokio::spawn(async move {
        let logs = activate_rules(&state, &identity, &tid, &rules, &args).await;
        let record = Activation { logs, ..record };
        if let Err(e) = state.store.put_activation(&record).await {
            tracing::error!(tid = %tid, activation = %record.activation_id, error = %e,
                "the trigger activation could not be stored");
        }
    });
    Ok(Reply::Activation(
        StatusCode::ACCEPTED,
        json!({"activationId": id}),
        id,
    ))
}

/// The request headers an action sees in `__ow_headers`: lower-case names, as received, except the
/// caller's credentials. (Upstream passes `Authorization` on too; a rule may run an action of another
/// namespace's shared package, which must never see the caller's key.)
fn headers_for_actions(headers: &[(String, String)]) -> Value {
    let mut m = Map::new();
    for (k, v) in headers {
        if k != "authorization" && k != "cookie" {
            m.insert(k.clone(), json!(v));
        }
    }
    Value::Object(m)
}

/// Invokes the action of each active rule as `identity`, all at once, and answers the trigger
/// activation's log lines, one per rule in the trigger's order.
async fn activate_rules(
    state: &Arc<AppState>,
    identity: &Identity,
    tid: &TransactionId,
    rules: &std::collections::BTreeMap<String, ReducedRule>,
    args: &Map<String, Value>,
) -> Vec<String> {
    let body = Bytes::from(Value::Object(args.clone()).to_string());
    let runs = rules.iter().map(|(rule, r)| {
        let body = body.clone();
        async move {
            let action = r.action.fqn();
            let entry = |code: Outcome, result: (&str, Value)| {
                let mut e = Map::new();
                e.insert("statusCode".into(), json!(code as u8));
                e.insert("success".into(), json!(code == Outcome::Success));
                e.insert(result.0.into(), result.1);
                e.insert("rule".into(), json!(rule));
                e.insert("action".into(), json!(action.doc_id()));
                Value::Object(e).to_string()
            };
            if r.status != RuleStatus::Active {
                return entry(
                    Outcome::ApplicationError,
                    ("error", json!(messages::trigger_with_inactive_rule(rule, &action.doc_id()))),
                );
            }
            match invoke_for_rule(state, identity, tid, &action, body).await {
                Ok(Reply::Activation(_, _, id)) => entry(Outcome::Success, ("activationId", json!(id))),
                Ok(_) => entry(Outcome::WhiskError, ("error", json!(messages::INTERNAL_ERROR))),
                Err(e) => {
                    let code = if e.status.is_server_error() {
                        tracing::error!(tid = %tid, rule = %rule, error = %e.message, "a rule's action could not be invoked");
                        Outcome::WhiskError
                    } else {
                        Outcome::ApplicationError
                    };
                    entry(code, ("error", json!(e.message)))
                }
            }
        }
    });
    futures_util::future::join_all(runs).await
}

/// `POST /namespaces/{ns}/actions/[{pkg}/]{name}` with `body`, as `identity`, through the invoke
/// handler itself.
async fn invoke_for_rule(
    state: &Arc<AppState>,
    identity: &Identity,
    tid: &TransactionId,
    action: &FullyQualifiedName,
    body: Bytes,
) -> ApiResult<Reply> {
    let segments = action.path.segments();
    let (ns, pkg) = (&segments[0], segments.get(1));
    let path = format!(
        "/api/v1/namespaces/{}/actions/{}",
        ns,
        action.path.segments()[1..]
            .iter()
            .map(EntityName::as_str)
            .chain([action.name.as_str()])
            .collect::<Vec<_>>()
            .join("/")
    );
    Ctx::internal(
        state,
        identity,
        tid,
        (Method::POST, path),
        body,
        async |ctx| crate::invoke::invoke(ctx, ns, pkg, &action.name).await,
    )
    .await
}
