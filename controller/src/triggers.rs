//! `/namespaces/{ns}/triggers`: triggers, which only their owner may see or fire.
//!
//! | request | answers |
//! |---|---|
//! | `GET .../triggers` | 200 summaries; 403 another namespace |
//! | `GET .../triggers/{name}` | 200 the trigger with its `rules`; 403; 404; 409 |
//! | `PUT .../triggers/{name}` | 200 the stored trigger; 400 malformed, bad feed name on create; 403; 409; 413 |
//! | `DELETE .../triggers/{name}` | 200 the deleted trigger (its rules stay, inactive); 403; 404; 409 |
//! | `POST .../triggers/{name}` | fire: 204 no active rule; 413 payload too large; 503 while no invoker serves the rules' actions; 403; 404 |

use actix_web::http::StatusCode;
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_entity::rule::RuleStatus;
use owl_entity::trigger::{Trigger, TriggerPut};
use owl_store::Scope;

use crate::entitlement;
use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply};
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
        None => {
            entities::save(
                ctx.state,
                content.create(&this, now_millis())?,
                None,
                Trigger::to_json,
            )
            .await
        }
        Some(old) => {
            let t = content.update(&old.value, now_millis());
            entities::save(ctx.state, t, Some(&old.rev), Trigger::to_json).await
        }
    }
}

pub async fn delete(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let stored =
        entities::fetch::<Trigger>(ctx.state, &FullyQualifiedName::in_namespace(ns, name)).await?;
    entities::remove(ctx.state, stored, Trigger::to_json).await
}

pub async fn fire(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let max = ctx.state.config.payload_limit;
    if ctx.req.body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::request_too_large(ctx.req.body.len(), max),
        ));
    }
    let payload = ctx.req.json_body()?;
    if !payload.is_object() {
        return Err(ApiError::malformed_body("Object expected in field 'body'"));
    }
    let trigger =
        entities::fetch::<Trigger>(ctx.state, &FullyQualifiedName::in_namespace(ns, name))
            .await?
            .value;
    let active = trigger
        .rules
        .iter()
        .flatten()
        .any(|(_, r)| r.status == RuleStatus::Active);
    if !active {
        return Ok(Reply::NoContent);
    }
    // Active rules invoke actions, and no invoker is attached to this controller yet.
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        messages::SERVICE_UNAVAILABLE,
    ))
}
