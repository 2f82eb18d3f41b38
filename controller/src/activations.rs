//! `/namespaces/{ns}/activations`: the records of runs, always in the caller's own namespace.
//!
//! | request | answers |
//! |---|---|
//! | `GET .../activations` | 200 summaries (`docs=true`: whole records; `count=true`: `{"activations": n}`), newest first, filtered by `name`, `since`, `upto`; 400 bad parameter or `docs` with `count`; 403 another namespace |
//! | `GET .../activations/{id}` | 200 the record; 400 bad id; 404 |
//! | `GET .../activations/{id}/logs` | 200 `{"logs": [...]}` |
//! | `GET .../activations/{id}/result` | 200 the response: `{result, size, status, success}` |

use owl_entity::activation::{Activation, ActivationId};
use owl_entity::name::{EntityName, EntityPath};
use owl_store::ActivationQuery;
use serde_json::Value;

use crate::entitlement;
use crate::error::{ApiError, ApiResult};
use crate::list::ListParams;
use crate::messages;
use crate::request::{Ctx, Reply};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Record,
    Logs,
    Result,
}

const COLLECTION: &str = "activations";

fn epoch(ctx: &Ctx<'_>, param: &str) -> ApiResult<Option<i64>> {
    ctx.req
        .query(param)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::malformed_query(param, &messages::bad_epoch(v)))
        })
        .transpose()
}

/// The `name` filter: `action` or `package/action`, matched within the namespace.
fn name_filter(ctx: &Ctx<'_>, ns: &EntityName) -> ApiResult<Option<String>> {
    match ctx.req.query("name").map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => match EntityPath::parse(v) {
            Ok(p) if p.segments().len() <= 2 => Ok(Some(format!("{ns}/{p}"))),
            _ => Err(ApiError::malformed_query(
                "name",
                &messages::bad_name_filter(v),
            )),
        },
    }
}

pub async fn list(ctx: &Ctx<'_>, ns: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, None)?;
    let cfg = &ctx.state.config;
    let params = ListParams::parse(
        ctx.req,
        COLLECTION,
        cfg.list_default_limit,
        cfg.list_max_limit,
    )?;
    let docs = ctx.req.bool_param("docs", false)?;
    if docs && params.count {
        return Err(ApiError::bad_request(messages::DOCS_NOT_ALLOWED_WITH_COUNT));
    }
    let mut q = ActivationQuery {
        namespace: Some(ns.clone()),
        name: name_filter(ctx, ns)?,
        since: epoch(ctx, "since")?,
        upto: epoch(ctx, "upto")?,
        ..Default::default()
    };
    if params.count {
        let n = ctx.state.store.count_activations(&q).await?;
        return Reply::ok(params.count_reply(COLLECTION, n));
    }
    q.skip = params.skip;
    q.limit = Some(params.limit);
    let records = ctx.state.store.list_activations(&q).await?;
    let render = if docs {
        Activation::extended
    } else {
        Activation::summary
    };
    Reply::ok(Value::Array(records.iter().map(render).collect()))
}

pub async fn get(
    ctx: &Ctx<'_>,
    ns: &EntityName,
    id: &ActivationId,
    view: View,
) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, Some(id.as_str()))?;
    let a = ctx
        .state
        .store
        .get_activation(ns, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Reply::ok(match view {
        View::Record => a.extended(),
        View::Logs => a.logs_view(),
        View::Result => a.result_view(),
    })
}
