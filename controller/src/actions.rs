//! `/namespaces/{ns}/actions`: actions, directly in a namespace or in a package.
//!
//! | request | answers |
//! |---|---|
//! | `GET .../actions` | 200 summaries of every action of the namespace, packaged ones included; 403 another namespace |
//! | `GET .../actions/{pkg}/` | 200 summaries of the package's actions (a binding lists its bound package's); 403; 404 no package |
//! | `GET .../actions/[{pkg}/]{name}` | 200 the action (`code=false`: without code), package and binding parameters merged in; 403; 404; 409 another collection |
//! | `PUT .../actions/[{pkg}/]{name}` | 200 the stored action; 400 malformed body, bad kind, limits, sequence, binding; 403; 404 no package; 409 exists or conflict; 413 too large |
//! | `DELETE .../actions/[{pkg}/]{name}` | 200 the deleted action; 400 in a binding; 403; 404; 409 |
//! | `POST .../actions/[{pkg}/]{name}` | invoke: 403; 404; 503 while no invoker serves this controller |

use actix_web::http::StatusCode;
use owl_entity::action::{Action, ActionPut};
use owl_entity::exec::Exec;
use owl_entity::name::{EntityName, EntityPath, FullyQualifiedName};
use owl_entity::package::Package;
use owl_entity::params::Params;
use owl_store::Scope;

use crate::entitlement::{self, Privilege};
use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply};
use crate::{entities, messages, now_millis};

fn fqn(ns: &EntityName, pkg: Option<&EntityName>, name: &EntityName) -> FullyQualifiedName {
    let path = EntityPath::from_name(ns.clone());
    FullyQualifiedName::new(pkg.map(|p| path.child(p)).unwrap_or(path), name.clone())
}

/// A package resolved through its binding: where its actions live and the parameters they inherit
/// (the bound package's, overridden by the binding's).
pub struct ResolvedPackage {
    pub actions_path: EntityPath,
    pub parameters: Params,
    /// `ns/binding` when the package asked for is a binding.
    pub binding: Option<String>,
}

pub async fn resolve_package(
    ctx: &Ctx<'_>,
    pkg: &FullyQualifiedName,
) -> ApiResult<ResolvedPackage> {
    let p = entities::fetch::<Package>(ctx.state, pkg).await?.value;
    resolve_fetched_package(ctx, pkg, &p).await
}

/// [`resolve_package`] for a package already read; a binding to a binding (itself included) is 422.
pub async fn resolve_fetched_package(
    ctx: &Ctx<'_>,
    pkg: &FullyQualifiedName,
    p: &Package,
) -> ApiResult<ResolvedPackage> {
    match &p.binding {
        None => Ok(ResolvedPackage {
            actions_path: p.actions_path(),
            parameters: p.parameters.clone(),
            binding: None,
        }),
        Some(b) => {
            let target = entities::fetch::<Package>(ctx.state, &b.fqn()).await?.value;
            if target.binding.is_some() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    messages::binding_circular(&pkg.doc_id()),
                ));
            }
            Ok(ResolvedPackage {
                actions_path: target.actions_path(),
                parameters: target.parameters.merged(&p.parameters),
                binding: Some(pkg.doc_id()),
            })
        }
    }
}

pub async fn list(ctx: &Ctx<'_>, ns: &EntityName, pkg: Option<&EntityName>) -> ApiResult<Reply> {
    let scope = match pkg {
        None => {
            entitlement::require_owner(ctx.identity, ns, None)?;
            Scope::Namespace(ns.clone())
        }
        Some(p) => {
            entitlement::check_action(ctx.state, ctx.identity, Privilege::Read, ns, Some(p), None)
                .await?;
            let pkg_fqn = FullyQualifiedName::new(EntityPath::from_name(ns.clone()), p.clone());
            Scope::Path(resolve_package(ctx, &pkg_fqn).await?.actions_path)
        }
    };
    entities::list::<Action>(ctx, scope, false, |a| a.summary()).await
}

/// The action at `ns/[pkg/]name` with the parameters it inherits from its package or binding.
pub async fn resolve_action(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Action> {
    Ok(crate::invoke::resolve(ctx, ns, pkg, name).await?.action)
}

pub async fn get(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Reply> {
    entitlement::check_action(
        ctx.state,
        ctx.identity,
        Privilege::Read,
        ns,
        pkg,
        Some(name),
    )
    .await?;
    let code = ctx.req.bool_param("code", true)?;
    let action = resolve_action(ctx, ns, pkg, name).await?;
    if code {
        Ok(Reply::entity(&action))
    } else {
        Reply::ok(action.to_json(false))
    }
}

/// PUT and DELETE of a packaged action need the package, and refuse bindings.
async fn writable_package(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
) -> ApiResult<()> {
    if let Some(p) = pkg {
        let pkg_fqn = FullyQualifiedName::new(EntityPath::from_name(ns.clone()), p.clone());
        let package = entities::fetch::<Package>(ctx.state, &pkg_fqn).await?.value;
        if package.binding.is_some() {
            return Err(ApiError::bad_request(messages::NOT_ALLOWED_ON_BINDING));
        }
    }
    Ok(())
}

pub async fn put(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Reply> {
    entitlement::check_action(ctx.state, ctx.identity, Privilege::Put, ns, pkg, Some(name)).await?;
    let cfg = &ctx.state.config;
    let body = ctx.req.json_body()?;
    let content = ActionPut::from_json(&body, &cfg.manifest, &ctx.identity.namespace)?;
    content.check_sizes(cfg.exec_size_limit, cfg.parameter_size_limit)?;
    writable_package(ctx, ns, pkg).await?;
    let concurrent = ctx
        .identity
        .limits
        .concurrent_invocations
        .unwrap_or(cfg.concurrent_invocations);
    if let Some(l) = &content.limits {
        l.check(&cfg.bounds, concurrent)?;
    }
    let target = fqn(ns, pkg, name);
    if let Some(Exec::Sequence { components }) = &content.exec {
        check_sequence(ctx, &target, components).await?;
    }
    let overwrite = ctx.req.bool_param("overwrite", false)?;
    let now = now_millis();
    match entities::existing_for_put::<Action>(ctx.state, &target, overwrite).await? {
        None => {
            let action = content.create(&target, &cfg.manifest, &cfg.bounds, now)?;
            entities::save(ctx.state, action, None).await
        }
        Some(old) => {
            let action = content.update(old.value, &cfg.manifest, now)?;
            entities::save(ctx.state, action, Some(&old.rev)).await
        }
    }
}

pub async fn delete(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Reply> {
    entitlement::check_action(
        ctx.state,
        ctx.identity,
        Privilege::Delete,
        ns,
        pkg,
        Some(name),
    )
    .await?;
    writable_package(ctx, ns, pkg).await?;
    let stored = entities::fetch::<Action>(ctx.state, &fqn(ns, pkg, name)).await?;
    entities::remove(ctx.state, stored, Reply::entity).await
}

pub async fn invoke(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    pkg: Option<&EntityName>,
    name: &EntityName,
) -> ApiResult<Reply> {
    crate::invoke::invoke(ctx, ns, pkg, name).await
}

/// A sequence must name 1..=max components that exist, and, with nested sequences inlined, hold at
/// most `max` atomic actions and never itself.
async fn check_sequence(
    ctx: &Ctx<'_>,
    this: &FullyQualifiedName,
    components: &[FullyQualifiedName],
) -> ApiResult<()> {
    let max = ctx.state.config.sequence_max_length;
    if components.len() > max {
        return Err(ApiError::bad_request(messages::SEQUENCE_TOO_LONG));
    }
    if components.is_empty() {
        return Err(ApiError::bad_request(messages::SEQUENCE_NO_COMPONENT));
    }
    let mut atomic = 0usize;
    // Depth-first over the components, inlining sequences; the step bound guards a pathological graph.
    let mut stack: Vec<FullyQualifiedName> = components.iter().rev().cloned().collect();
    let mut steps = 0usize;
    while let Some(c) = stack.pop() {
        steps += 1;
        if c == *this {
            return Err(ApiError::bad_request(messages::SEQUENCE_CYCLIC));
        }
        let action = resolve_component(ctx, &c).await?;
        match action.exec {
            Exec::Sequence { components } => stack.extend(components.into_iter().rev()),
            _ => atomic += 1,
        }
        if atomic > max || steps > max * max + 1 {
            return Err(ApiError::bad_request(messages::SEQUENCE_TOO_LONG));
        }
    }
    Ok(())
}

async fn resolve_component(ctx: &Ctx<'_>, c: &FullyQualifiedName) -> ApiResult<Action> {
    let not_found = || ApiError::bad_request(messages::SEQUENCE_COMPONENT_NOT_FOUND);
    let segments = c.path.segments();
    let (ns, pkg) = (&segments[0], segments.get(1));
    if segments.len() > 2 {
        return Err(not_found());
    }
    entitlement::check_action(
        ctx.state,
        ctx.identity,
        Privilege::Read,
        ns,
        pkg,
        Some(&c.name),
    )
    .await?;
    resolve_action(ctx, ns, pkg, &c.name).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::CONFLICT {
            not_found()
        } else {
            e
        }
    })
}
