//! May this identity do this to that resource?
//!
//! An identity may do anything in its own namespace. In another namespace it may only read and invoke
//! what a published (`publish: true`) package shares, and list that namespace's published packages.
//! Reading one's own binding also needs read access to the package it binds. Refusals name the
//! resource: `The supplied authentication is not authorized to access '<ns>/<name>'.` Reading a
//! package of one's own that is not there (or a binding of one's own whose package of one's own is not
//! there) answers 404 `The requested resource '<ns>/<name>' does not exist.`, as upstream's route
//! dispatcher turns the check's not-found into; everywhere else a missing entity is the handler's
//! plain `The requested resource does not exist.`

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
    let readable = match right {
        Privilege::Read => package_readable(state, identity, owner, pkg).await?,
        _ if owner => Readable::Yes,
        _ => Readable::No,
    };
    match readable {
        Readable::Yes => Ok(()),
        Readable::No => Err(ApiError::forbidden(&pkg.doc_id())),
        Readable::Missing => Err(ApiError::not_found_named(&pkg.doc_id())),
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
            // A missing package of one's own is left to the handler's plain 404, as upstream's
            // action routes answer it.
            package_readable(state, identity, owner, &pkg_fqn).await? != Readable::No
        }
        _ => owner,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(&what))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readable {
    Yes,
    No,
    /// Not there, and its owner is asking: a 404 for the owner alone, a 403 for anyone else.
    Missing,
}

/// Is the package readable: published, or owned (and, for a binding, its bound package readable too)?
async fn package_readable(
    state: &AppState,
    identity: &Identity,
    owner: bool,
    pkg: &FullyQualifiedName,
) -> ApiResult<Readable> {
    let verdict = |yes: bool| if yes { Readable::Yes } else { Readable::No };
    let mut current = pkg.clone();
    let mut owner = owner;
    // A binding's target is never itself a binding, so two hops suffice; the bound guards a corrupt chain.
    for _ in 0..4 {
        match state.store.get_entity(&current.doc_id()).await? {
            None if owner => return Ok(Readable::Missing),
            None => return Ok(Readable::No),
            Some(s) => match s.value {
                Entity::Package(p) => match (&p.binding, owner) {
                    (None, _) => return Ok(verdict(p.publish || owner)),
                    (Some(b), true) => {
                        owner = is_owner(identity, &b.namespace);
                        current = b.fqn();
                    }
                    (Some(_), false) => return Ok(Readable::No),
                },
                _ if owner => return Err(ApiError::conformance()),
                _ => return Ok(Readable::No),
            },
        }
    }
    Ok(Readable::No)
}
