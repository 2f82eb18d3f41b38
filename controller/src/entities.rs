//! The steps every entity collection shares: read one kind from the shared id space, decide what a PUT
//! may do with what is there, write with the revision read, and delete.

use owl_entity::entity::Kind;
use owl_entity::name::FullyQualifiedName;
use owl_store::{EntityQuery, Rev, Scope, Stored};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::list::ListParams;
use crate::messages;
use crate::request::{Ctx, Reply};

/// The entity of kind `T` at `fqn`, if any; 409 if the name belongs to another collection.
pub async fn find<T: Kind>(
    state: &AppState,
    fqn: &FullyQualifiedName,
) -> ApiResult<Option<Stored<T>>> {
    match state.store.get_entity(&fqn.doc_id()).await? {
        None => Ok(None),
        Some(s) => {
            let value = T::from_entity(s.value).ok_or_else(ApiError::conformance)?;
            Ok(Some(Stored { rev: s.rev, value }))
        }
    }
}

/// The entity of kind `T` at `fqn`; 404 if absent, 409 if of another collection.
pub async fn fetch<T: Kind>(state: &AppState, fqn: &FullyQualifiedName) -> ApiResult<Stored<T>> {
    find(state, fqn).await?.ok_or_else(ApiError::not_found)
}

/// What a PUT finds: nothing (create), or the entity to update when `overwrite` allows it.
pub async fn existing_for_put<T: Kind>(
    state: &AppState,
    fqn: &FullyQualifiedName,
    overwrite: bool,
) -> ApiResult<Option<Stored<T>>> {
    match find::<T>(state, fqn).await? {
        Some(_) if !overwrite => Err(ApiError::conflict(messages::ALREADY_EXISTS)),
        found => Ok(found),
    }
}

/// Writes `value` over revision `rev` (none: create) and answers it.
pub async fn save<T: Kind + Serialize>(
    state: &AppState,
    value: T,
    rev: Option<&Rev>,
) -> ApiResult<Reply> {
    let body = Reply::entity(&value);
    state.store.put_entity(&value.into_entity(), rev).await?;
    Ok(body)
}

/// Deletes what was read and answers it with `render` (the reference server answers the entity).
pub async fn remove<T: Kind>(
    state: &AppState,
    stored: Stored<T>,
    render: impl Fn(&T) -> Reply,
) -> ApiResult<Reply> {
    let body = render(&stored.value);
    let id = stored.value.into_entity().fqn().doc_id();
    state.store.delete_entity(&id, &stored.rev).await?;
    Ok(body)
}

/// A list (or count) of one kind in a scope, each item shown by `summary`.
pub async fn list<T: Kind>(
    ctx: &Ctx<'_>,
    scope: Scope,
    public_only: bool,
    summary: impl Fn(&T) -> Value,
) -> ApiResult<Reply> {
    let collection = T::COLLECTION;
    let cfg = &ctx.state.config;
    let params = ListParams::parse(
        ctx.req,
        collection.as_str(),
        cfg.list_default_limit,
        cfg.list_max_limit,
    )?;
    let mut q = EntityQuery::new(collection, scope);
    q.public_only = public_only;
    if params.count {
        let n = ctx.state.store.count_entities(&q).await?;
        return Reply::ok(params.count_reply(collection.as_str(), n));
    }
    q.skip = params.skip;
    q.limit = Some(params.limit);
    let items = ctx.state.store.list_entities(&q).await?;
    Reply::ok(Value::Array(
        items
            .into_iter()
            .filter_map(T::from_entity)
            .map(|e| summary(&e))
            .collect(),
    ))
}
