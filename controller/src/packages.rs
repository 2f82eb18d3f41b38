//! `/namespaces/{ns}/packages`: packages and package bindings.
//!
//! | request | answers |
//! |---|---|
//! | `GET .../packages` | 200 summaries; in another namespace only its published packages, never bindings |
//! | `GET .../packages/{name}` | 200 the package with its `actions` and `feeds`; a binding shows its bound package's, with parameters layered; 403; 404; 409; 422 circular binding |
//! | `PUT .../packages/{name}` | 200 the stored package; 400 reserved name, malformed, missing or chained binding; 403; 409 exists, conflict, binding to a non-package, package to binding; 413 |
//! | `DELETE .../packages/{name}` | 200 the deleted package; 409 not empty without `force=true`; 403; 404 |

use owl_entity::action::Action;
use owl_entity::entity::{Collection, Entity};
use owl_entity::name::{EntityName, EntityPath, FullyQualifiedName};
use owl_entity::package::{Binding, Package, PackagePut, RESERVED_NAME};
use owl_store::{EntityQuery, Scope};
use serde_json::{Value, json};

use crate::entitlement::{self, Privilege};
use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply};
use crate::{entities, messages, now_millis};

pub async fn list(ctx: &Ctx<'_>, ns: &EntityName) -> ApiResult<Reply> {
    let public_only = !entitlement::is_owner(ctx.identity, ns);
    entities::list::<Package>(ctx, Scope::Namespace(ns.clone()), public_only, |p| {
        p.summary()
    })
    .await
}

/// Every action under `path`, split into plain actions and feeds, as `{name, version, annotations}`.
async fn actions_and_feeds(ctx: &Ctx<'_>, path: EntityPath) -> ApiResult<(Vec<Value>, Vec<Value>)> {
    let q = EntityQuery::new(Collection::Actions, Scope::Path(path));
    let (mut actions, mut feeds) = (vec![], vec![]);
    for e in ctx.state.store.list_entities(&q).await? {
        if let Entity::Action(a) = e {
            let item = json!({"name": a.name, "version": a.version, "annotations": a.annotations});
            if Action::is_feed(&a) {
                feeds.push(item)
            } else {
                actions.push(item)
            }
        }
    }
    Ok((actions, feeds))
}

pub async fn get(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    let this = FullyQualifiedName::in_namespace(ns, name);
    entitlement::check_package(ctx.state, ctx.identity, Privilege::Read, &this).await?;
    let package = entities::fetch::<Package>(ctx.state, &this).await?.value;
    let resolved = crate::actions::resolve_fetched_package(ctx, &this, &package).await?;
    let (actions, feeds) = actions_and_feeds(ctx, resolved.actions_path).await?;
    // A binding shows itself with the bound package's parameters under its own.
    let shown = Package {
        parameters: resolved.parameters,
        ..package
    };
    let mut v = shown.to_json();
    v["actions"] = Value::Array(actions);
    v["feeds"] = Value::Array(feeds);
    Reply::ok(v)
}

/// A binding may only point at an existing, readable package that is not itself a binding.
async fn check_binding(ctx: &Ctx<'_>, b: &Binding) -> ApiResult<()> {
    let target = b.fqn();
    let stored = ctx.state.store.get_entity(&target.doc_id()).await?;
    match stored.map(|s| s.value) {
        None => Err(ApiError::bad_request(messages::BINDING_DOES_NOT_EXIST)),
        Some(Entity::Package(p)) => {
            let shared = p.publish && p.binding.is_none();
            if !(entitlement::is_owner(ctx.identity, &b.namespace) || shared) {
                return Err(ApiError::forbidden(&target.doc_id()));
            }
            if p.binding.is_some() {
                return Err(ApiError::bad_request(
                    messages::BINDING_CANNOT_REFERENCE_BINDING,
                ));
            }
            Ok(())
        }
        Some(_) => Err(ApiError::conflict(messages::BINDING_NOT_A_PACKAGE)),
    }
}

pub async fn put(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    let this = FullyQualifiedName::in_namespace(ns, name);
    entitlement::check_package(ctx.state, ctx.identity, Privilege::Put, &this).await?;
    let body = ctx.req.json_body()?;
    let content = PackagePut::from_json(&body, &ctx.identity.namespace)?;
    content
        .common
        .check_sizes(ctx.state.config.parameter_size_limit)?;
    if name.as_str() == RESERVED_NAME {
        return Err(ApiError::bad_request(messages::package_name_reserved(
            RESERVED_NAME,
        )));
    }
    let overwrite = ctx.req.bool_param("overwrite", false)?;
    let now = now_millis();
    match entities::existing_for_put::<Package>(ctx.state, &this, overwrite).await? {
        None => {
            if let Some(b) = &content.binding {
                check_binding(ctx, b).await?;
            }
            entities::save(ctx.state, content.create(&this, now), None).await
        }
        Some(old) => {
            let updated = content.update(&old.value, now)?;
            if let Some(b) = &content.binding {
                check_binding(ctx, b).await?;
            }
            entities::save(ctx.state, updated, Some(&old.rev)).await
        }
    }
}

pub async fn delete(ctx: &Ctx<'_>, ns: &EntityName, name: &EntityName) -> ApiResult<Reply> {
    let this = FullyQualifiedName::in_namespace(ns, name);
    entitlement::check_package(ctx.state, ctx.identity, Privilege::Delete, &this).await?;
    let force = ctx.req.bool_param("force", false)?;
    let stored = entities::fetch::<Package>(ctx.state, &this).await?;
    if stored.value.binding.is_none() {
        let q = EntityQuery::new(
            Collection::Actions,
            Scope::Path(stored.value.actions_path()),
        );
        let contents = ctx.state.store.list_entities(&q).await?;
        if !contents.is_empty() && !force {
            return Err(ApiError::conflict(messages::package_not_empty(
                contents.len() as u64,
            )));
        }
        for action in contents {
            let id = action.fqn().doc_id();
            if let Some(s) = ctx.state.store.get_entity(&id).await? {
                ctx.state.store.delete_entity(&id, &s.rev).await?;
            }
        }
    }
    entities::remove(ctx.state, stored, Reply::entity).await
}
