//! The route table: every (method, path) the controller serves, and the handler behind it.
//!
//! Paths are split into percent-decoded segments first; a trailing slash is kept as an empty last
//! segment, because `GET .../actions/pkg/` (list a package's actions) differs from
//! `GET .../actions/pkg` (get the action `pkg`). Authentication comes before names are validated,
//! as in the reference server, so an anonymous caller learns nothing from a 400.

use actix_web::http::{Method, StatusCode};
use owl_entity::activation::ActivationId;
use owl_entity::entity::Collection;
use owl_entity::name::{EntityName, NameError};
use percent_encoding::percent_decode_str;

use crate::error::{ApiError, ApiResult};
use crate::request::{Ctx, Reply, Request};
use crate::{
    AppState, actions, activations, auth, info, limits, messages, namespaces, packages, rules,
    triggers, web,
};

/// What a path names, before the method is considered.
enum Target {
    Info,
    Ping,
    /// `/invokers`: each invoker's health, as upstream's controller answers it.
    Invokers,
    /// `/invokers/healthy/count`.
    HealthyInvokers,
    ApiInfo,
    ApiDocs,
    Namespaces,
    Limits(String),
    /// `.../{collection}` or `.../{collection}/`.
    Collection(String, Collection),
    /// `.../actions/{pkg}/`.
    PackageActions(String, String),
    /// `.../{collection}/{name}` or `.../actions/{pkg}/{name}`.
    Entity(String, Collection, Option<String>, String),
    ActivationCollection(String),
    Activation(String, String, activations::View),
    /// `/api/v1/web/...`: a web action, reached without the API's credentials.
    Web(Vec<String>),
}

pub async fn dispatch(state: &std::sync::Arc<AppState>, req: &Request) -> ApiResult<Reply> {
    let segments = split(&req.path)?;
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    if req.method == Method::OPTIONS && s.first() == Some(&"api") && s.get(2) != Some(&"web") {
        return Ok(Reply::Text(StatusCode::OK, "OK"));
    }
    let target =
        parse(&s).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, messages::ROUTE_NOT_FOUND))?;
    use Method as M;
    use Target as T;
    let m = &req.method;
    match target {
        T::Info if m == M::GET => info::root(state),
        T::Ping if m == M::GET => Ok(Reply::Text(StatusCode::OK, "pong")),
        T::ApiInfo if m == M::GET => info::api(state),
        T::ApiDocs if m == M::GET => info::api_docs(),
        T::Invokers if m == M::GET => info::invokers(state),
        T::HealthyInvokers if m == M::GET => info::healthy_invokers(state),
        T::Info | T::Ping | T::Invokers | T::HealthyInvokers | T::ApiInfo | T::ApiDocs => {
            Err(not_allowed(&["GET"]))
        }
        T::Web(segments) => web::handle(state, req, &segments).await,
        target => {
            let identity = auth::authenticate(state, req).await?;
            let ctx = Ctx {
                state,
                req,
                identity: &identity,
            };
            let ns = |n: &str| namespace(n, &identity.namespace);
            match target {
                T::Namespaces if m == M::GET => namespaces::list(&ctx),
                T::Limits(n) if m == M::GET => limits::get(&ctx, &ns(&n)?).await,
                T::Collection(n, c) if m == M::GET => {
                    let ns = ns(&n)?;
                    match c {
                        Collection::Actions => actions::list(&ctx, &ns, None).await,
                        Collection::Packages => packages::list(&ctx, &ns).await,
                        Collection::Triggers => triggers::list(&ctx, &ns).await,
                        Collection::Rules => rules::list(&ctx, &ns).await,
                    }
                }
                T::PackageActions(n, pkg) if m == M::GET => {
                    actions::list(&ctx, &ns(&n)?, Some(&name(&pkg)?)).await
                }
                T::ActivationCollection(n) if m == M::GET => {
                    activations::list(&ctx, &ns(&n)?).await
                }
                T::Activation(n, id, view) if m == M::GET => {
                    let id = ActivationId::parse(&id).map_err(ApiError::bad_request)?;
                    activations::get(&ctx, &ns(&n)?, &id, view).await
                }
                T::Entity(n, c, pkg, e) => {
                    let ns = ns(&n)?;
                    let pkg = pkg.as_deref().map(name).transpose()?;
                    let e = name(&e)?;
                    match (c, m.clone()) {
                        (Collection::Actions, M::GET) => {
                            actions::get(&ctx, &ns, pkg.as_ref(), &e).await
                        }
                        (Collection::Actions, M::PUT) => {
                            actions::put(&ctx, &ns, pkg.as_ref(), &e).await
                        }
                        (Collection::Actions, M::DELETE) => {
                            actions::delete(&ctx, &ns, pkg.as_ref(), &e).await
                        }
                        (Collection::Actions, M::POST) => {
                            actions::invoke(&ctx, &ns, pkg.as_ref(), &e).await
                        }
                        (Collection::Packages, M::GET) => packages::get(&ctx, &ns, &e).await,
                        (Collection::Packages, M::PUT) => packages::put(&ctx, &ns, &e).await,
                        (Collection::Packages, M::DELETE) => packages::delete(&ctx, &ns, &e).await,
                        (Collection::Triggers, M::GET) => triggers::get(&ctx, &ns, &e).await,
                        (Collection::Triggers, M::PUT) => triggers::put(&ctx, &ns, &e).await,
                        (Collection::Triggers, M::DELETE) => triggers::delete(&ctx, &ns, &e).await,
                        (Collection::Triggers, M::POST) => triggers::fire(&ctx, &ns, &e).await,
                        (Collection::Rules, M::GET) => rules::get(&ctx, &ns, &e).await,
                        (Collection::Rules, M::PUT) => rules::put(&ctx, &ns, &e).await,
                        (Collection::Rules, M::DELETE) => rules::delete(&ctx, &ns, &e).await,
                        (Collection::Rules, M::POST) => rules::set_status(&ctx, &ns, &e).await,
                        (Collection::Packages, _) => Err(not_allowed(&["GET", "PUT", "DELETE"])),
                        _ => Err(not_allowed(&["GET", "PUT", "DELETE", "POST"])),
                    }
                }
                _ => Err(not_allowed(&["GET"])),
            }
        }
    }
}

fn not_allowed(methods: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        messages::method_not_allowed(methods),
    )
}

/// Splits a raw path into decoded segments, keeping a trailing empty segment for a trailing slash.
fn split(path: &str) -> ApiResult<Vec<String>> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Ok(vec![]);
    }
    trimmed
        .split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| ApiError::bad_request(NameError::Illegal.entity_message()))
        })
        .collect()
}

fn parse(s: &[&str]) -> Option<Target> {
    use Target as T;
    let collection = |c: &str| match c {
        "actions" => Some(Collection::Actions),
        "packages" => Some(Collection::Packages),
        "triggers" => Some(Collection::Triggers),
        "rules" => Some(Collection::Rules),
        _ => None,
    };
    Some(match s {
        [] => T::Info,
        ["ping"] => T::Ping,
        ["invokers"] => T::Invokers,
        ["invokers", "healthy", "count"] => T::HealthyInvokers,
        ["api", "v1"] | ["api", "v1", ""] => T::ApiInfo,
        ["api", "v1", "api-docs"] | ["api", "v1", "api-docs", ""] => T::ApiDocs,
        ["api", "v1", "namespaces"] | ["api", "v1", "namespaces", ""] => T::Namespaces,
        ["api", "v1", "web", rest @ ..] => T::Web(rest.iter().map(|s| s.to_string()).collect()),
        ["api", "v1", "namespaces", ns, "limits"]
        | ["api", "v1", "namespaces", ns, "limits", ""] => T::Limits(ns.to_string()),
        ["api", "v1", "namespaces", ns, "activations"]
        | ["api", "v1", "namespaces", ns, "activations", ""] => {
            T::ActivationCollection(ns.to_string())
        }
        ["api", "v1", "namespaces", ns, "activations", id] => {
            T::Activation(ns.to_string(), id.to_string(), activations::View::Record)
        }
        ["api", "v1", "namespaces", ns, "activations", id, "logs"] => {
            T::Activation(ns.to_string(), id.to_string(), activations::View::Logs)
        }
        ["api", "v1", "namespaces", ns, "activations", id, "result"] => {
            T::Activation(ns.to_string(), id.to_string(), activations::View::Result)
        }
        ["api", "v1", "namespaces", ns, c] | ["api", "v1", "namespaces", ns, c, ""] => {
            T::Collection(ns.to_string(), collection(c)?)
        }
        ["api", "v1", "namespaces", ns, "actions", pkg, ""] => {
            T::PackageActions(ns.to_string(), pkg.to_string())
        }
        ["api", "v1", "namespaces", ns, c, e] => {
            T::Entity(ns.to_string(), collection(c)?, None, e.to_string())
        }
        ["api", "v1", "namespaces", ns, "actions", pkg, e] => T::Entity(
            ns.to_string(),
            Collection::Actions,
            Some(pkg.to_string()),
            e.to_string(),
        ),
        _ => return None,
    })
}

/// A namespace segment of a URL, with `_` resolved to the caller's namespace.
fn namespace(s: &str, own: &EntityName) -> ApiResult<EntityName> {
    let n = EntityName::new(s).map_err(|e| ApiError::bad_request(e.namespace_message()))?;
    Ok(if n.is_default() { own.clone() } else { n })
}

fn name(s: &str) -> ApiResult<EntityName> {
    EntityName::new(s).map_err(|e| ApiError::bad_request(e.entity_message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_after_a_package_lists_its_actions() {
        let s = split("/api/v1/namespaces/_/actions/pkg/").unwrap();
        let s: Vec<&str> = s.iter().map(String::as_str).collect();
        assert!(matches!(parse(&s), Some(Target::PackageActions(_, p)) if p == "pkg"));
        let s = split("/api/v1/namespaces/_/actions/pkg").unwrap();
        let s: Vec<&str> = s.iter().map(String::as_str).collect();
        assert!(
            matches!(parse(&s), Some(Target::Entity(_, Collection::Actions, None, e)) if e == "pkg")
        );
    }

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(split("/a%20b/c").unwrap(), ["a b", "c"]);
    }

    #[test]
    fn unknown_collections_are_not_routes() {
        let s = ["api", "v1", "namespaces", "_", "widgets"];
        assert!(parse(&s).is_none());
    }
}
