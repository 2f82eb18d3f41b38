//! `/namespaces/{ns}/rules`: rules join a trigger to an action. A rule's status lives in its trigger's
//! document (`rules: {"ns/rule": {action, status}}`), so every write of a rule also writes the trigger.
//!
//! | request | answers |
//! |---|---|
//! | `GET .../rules` | 200 the stored rules, without status; 403 another namespace |
//! | `GET .../rules/{name}` | 200 the rule with `status` (`inactive` when its trigger is gone); 403; 404; 409 |
//! | `PUT .../rules/{name}` | 200 the rule with its status (`active` on create); 400 missing or unknown trigger or action; 403; 409; 413 |
//! | `POST .../rules/{name}` | 200 `OK` when the status is set (or already was, as for disabling a rule whose trigger is gone); 400 bad status; 404 no rule, or no trigger to activate |
//! | `DELETE .../rules/{name}` | 200 the deleted rule, `inactive`; 403; 404; 409 |

use owl_entity::entity::{Entity, PathName};
use owl_entity::name::{EntityName, FullyQualifiedName};
use owl_entity::rule::{Rule, RulePut, RuleStatus};
use owl_entity::trigger::Trigger;
use owl_store::{Scope, StoreError};
use serde_json::Value;

use crate::entitlement::{self, Privilege};
use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply};
use crate::{actions, entities, messages, now_millis};

pub async fn list(ctx: &Ctx<'_>, ns: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, None)?;
    entities::list::<Rule>(ctx, Scope::Namespace(ns.clone()), false, |r| r.to_json()).await
}

/// The rule's status as its trigger records it; inactive when the trigger or the link is gone.
async fn status_of(ctx: &Ctx<'_>, rule: &Rule) -> ApiResult<RuleStatus> {
    let trigger = entities::find::<Trigger>(ctx.state, &rule.trigger.fqn())
        .await
        .unwrap_or(None);
    Ok(trigger
        .and_then(|t| t.value.rule_status(&rule.fqn().doc_id()))
        .unwrap_or(RuleStatus::Inactive))
}

pub async fn get(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let rule = entities::fetch::<Rule>(ctx.state, &FullyQualifiedName::in_namespace(ns, name))
        .await?
        .value;
    let status = status_of(ctx, &rule).await?;
    Reply::ok(rule.with_status(status))
}

/// Changes the trigger document with `change`, retrying when another writer got there first.
/// `Ok(false)`: the trigger does not exist.
async fn update_trigger(
    ctx: &Ctx<'_>,
    trigger: &FullyQualifiedName,
    change: impl Fn(&mut Trigger),
) -> ApiResult<bool> {
    for _ in 0..8 {
        let Some(stored) = entities::find::<Trigger>(ctx.state, trigger).await? else {
            return Ok(false);
        };
        let mut t = stored.value.clone();
        change(&mut t);
        if t == stored.value {
            return Ok(true);
        }
        t.updated = now_millis();
        match ctx
            .state
            .store
            .put_entity(&Entity::Trigger(t), Some(&stored.rev))
            .await
        {
            Ok(_) => return Ok(true),
            Err(StoreError::Conflict) | Err(StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(messages::CONFLICT))
}

/// The trigger and action a rule names must exist and be readable by the caller.
async fn check_ends(
    ctx: &Ctx<'_>,
    trigger: &FullyQualifiedName,
    action: &FullyQualifiedName,
) -> ApiResult<()> {
    let t_ns = trigger.namespace();
    if trigger.path.segments().len() != 1 {
        return Err(ApiError::bad_request(messages::entity_does_not_exist(
            "trigger",
            &trigger.with_leading_slash(),
        )));
    }
    entitlement::require_owner(ctx.identity, t_ns, Some(trigger.name.as_str()))?;
    if entities::find::<Trigger>(ctx.state, trigger)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        return Err(ApiError::bad_request(messages::entity_does_not_exist(
            "trigger",
            &trigger.with_leading_slash(),
        )));
    }
    let segments = action.path.segments();
    let (a_ns, pkg) = (&segments[0], segments.get(1));
    let missing = || {
        ApiError::bad_request(messages::entity_does_not_exist(
            "action",
            &action.with_leading_slash(),
        ))
    };
    if segments.len() > 2 {
        return Err(missing());
    }
    entitlement::check_action(
        ctx.state,
        ctx.identity,
        Privilege::Read,
        a_ns,
        pkg,
        Some(&action.name),
    )
    .await?;
    actions::resolve_action(ctx, a_ns, pkg, &action.name)
        .await
        .map_err(|_| missing())?;
    Ok(())
}

pub async fn put(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let content = RulePut::from_json(&ctx.req.json_body()?, &ctx.identity.namespace)?;
    content
        .common
        .check_sizes(ctx.state.config.parameter_size_limit)?;
    let this = FullyQualifiedName::in_namespace(ns, name);
    let rule_id = this.doc_id();
    let overwrite = ctx.req.bool_param("overwrite", false)?;
    match entities::existing_for_put::<Rule>(ctx.state, &this, overwrite).await? {
        None => {
            let rule = content.create(&this, now_millis())?;
            check_ends(ctx, &rule.trigger.fqn(), &rule.action.fqn()).await?;
            ctx.state
                .store
                .put_entity(&Entity::Rule(rule.clone()), None)
                .await?;
            let link = rule.action.clone();
            update_trigger(ctx, &rule.trigger.fqn(), |t| {
                t.link_rule(rule_id.clone(), link.clone(), RuleStatus::Active)
            })
            .await?;
            Reply::ok(rule.with_status(RuleStatus::Active))
        }
        Some(old) => {
            let status = status_of(ctx, &old.value).await?;
            let rule = content.update(&old.value, now_millis());
            check_ends(ctx, &rule.trigger.fqn(), &rule.action.fqn()).await?;
            ctx.state
                .store
                .put_entity(&Entity::Rule(rule.clone()), Some(&old.rev))
                .await?;
            if old.value.trigger != rule.trigger {
                update_trigger(ctx, &old.value.trigger.fqn(), |t| t.unlink_rule(&rule_id)).await?;
            }
            let link: PathName = rule.action.clone();
            update_trigger(ctx, &rule.trigger.fqn(), |t| {
                t.link_rule(rule_id.clone(), link.clone(), status)
            })
            .await?;
            Reply::ok(rule.with_status(status))
        }
    }
}

pub async fn set_status(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let body = ctx.req.json_body()?;
    let requested = match body.get("status") {
        Some(Value::String(s)) => RuleStatus::parse(s)?,
        None | Some(Value::Null) => RuleStatus::parse("")?,
        Some(other) => RuleStatus::parse(&other.to_string())?,
    };
    let rule = entities::fetch::<Rule>(ctx.state, &FullyQualifiedName::in_namespace(ns, name))
        .await?
        .value;
    let rule_id = rule.fqn().doc_id();
    let link = rule.action.clone();
    let found = update_trigger(ctx, &rule.trigger.fqn(), |t| {
        t.link_rule(rule_id.clone(), link.clone(), requested)
    })
    .await?;
    // Without its trigger a rule is inactive: disabling it again changes nothing and is fine.
    if !found && requested != RuleStatus::Inactive {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            messages::RULE_NEEDS_EXISTING_TRIGGER,
        ));
    }
    Ok(Reply::Text(actix_web::http::StatusCode::OK, "OK"))
}

pub async fn delete(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(name.as_str()))?;
    let stored =
        entities::fetch::<Rule>(ctx.state, &FullyQualifiedName::in_namespace(ns, name)).await?;
    let rule_id = stored.value.fqn().doc_id();
    update_trigger(ctx, &stored.value.trigger.fqn(), |t| {
        t.unlink_rule(&rule_id)
    })
    .await?;
    entities::remove(ctx.state, stored, |r| {
        Reply::Json(
            actix_web::http::StatusCode::OK,
            r.with_status(RuleStatus::Inactive),
        )
    })
    .await
}
