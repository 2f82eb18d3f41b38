//! May this identity do this to that resource?
//!
//! An identity may do anything in its own namespace. In another namespace it may only read and invoke
//! what a published (`publish: true`) package shares, and list that namespace's published packages.
//! Reading one's own binding also needs read access to the package it binds. Refusals name the
//! resource: `The supplied authentication is not authorized to access '<ns>/<name>'.`

use owl_entity::entity::Entity;
use owl_entity::identity::Identity;
use owl_entity::name::{EntityName, FullyQualifiedName};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    Read,
    Put,
    Delete,
    Activate,
}

pub fn is_owner(identity: &Identity, namespace: &EntityName) -> bool {
    &identity.namespace == namespace
}

/// Only the owner may touch anything outside packages; a refusal names `ns` or `ns/name`.
pub fn require_owner(
    identity: &Identity,
    namespace: &EntityName,
    name: Option<&str>,
) -> ApiResult<()> {
    match (is_owner(identity, namespace), name) {
        (true, _) => Ok(()),
        (false, None) => Err(ApiError::forbidden(namespace.as_str())),
        (false, Some(n)) => Err(ApiError::forbidden(&format!("{namespace}/{n}"))),
    }
}

/// Entitlement for a package itself (`.../packages/{name}`).
pub async fn check_package(
    state: &AppState,
    identity: &Identity,
    right: Privilege,
    pkg: &FullyQualifiedName,
) -> ApiResult<()> {
    let owner = is_owner(identity, pkg.namespace());
    let allowed = match right {
        Privilege::Read => package_readable(state, identity, owner, pkg).await?,
        _ => owner,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(&pkg.doc_id()))
    }
}

/// Entitlement for an action, or for listing a package's actions (`pkg` given, `name` absent).
pub async fn check_action(
    state: &AppState,
    identity: &Identity,
    right: Privilege,
    namespace: &EntityName,
    pkg: Option<&EntityName>,
    name: Option<&EntityName>,
) -> ApiResult<()> {
    let owner = is_owner(identity, namespace);
    let what = [Some(namespace), pkg, name]
        .into_iter()
        .flatten()
        .map(EntityName::as_str)
        .collect::<Vec<_>>()
        .join("/");
    let allowed = match (pkg, right) {
        (Some(p), Privilege::Read | Privilege::Activate) => {
            let pkg_fqn = FullyQualifiedName::new(
                owl_entity::name::EntityPath::from_name(namespace.clone()),
                p.clone(),
            );
            package_readable(state, identity, owner, &pkg_fqn).await?
        }
        _ => owner,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(&what))
    }
}

/// Is the package readable: published, or owned (and, for a binding, its bound package readable too)?
/// A missing package is readable by its owner only, so the handler can answer 404 to the owner alone.
async fn package_readable(
    state: &AppState,
    identity: &Identity,
    owner: bool,
    pkg: &FullyQualifiedName,
) -> ApiResult<bool> {
    let mut current = pkg.clone();
    let mut owner = owner;
    // A binding's target is never itself a binding, so two hops suffice; the bound guards a corrupt chain.
    for _ in 0..4 {
        match state.store.get_entity(&current.doc_id()).await? {
            None => return Ok(owner),
            Some(s) => match s.value {
                Entity::Package(p) => match (&p.binding, owner) {
                    (None, _) => return Ok(p.publish || owner),
                    (Some(b), true) => {
                        owner = is_owner(identity, &b.namespace);
                        current = b.fqn();
                    }
                    (Some(_), false) => return Ok(false),
                },
                _ if owner => return Err(ApiError::conformance()),
                _ => return Ok(false),
            },
        }
    }
    Ok(false)
}
