//! `GET /namespaces`: the caller's namespace names, as strings (`["guest"]`).

use serde_json::json;

use crate::error::ApiResult;
use crate::request::{Ctx, Reply};

pub fn list(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    Reply::ok(json!([ctx.identity.namespace]))
}
