//! `GET /namespaces/{ns}/limits`: the limits in force for the caller, system values filled in.

use owl_entity::name::EntityName;
use serde_json::json;

use crate::entitlement;
use crate::error::ApiResult;
use crate::request::{Ctx, Reply};

pub async fn get(ctx: &Ctx<'_>, ns: &EntityName) -> ApiResult<Reply> {
    entitlement::require_owner(ctx.identity, ns, None)?;
    let cfg = &ctx.state.config;
    let own = &ctx.identity.limits;
    let b = &cfg.bounds;
    let concurrent = own
        .concurrent_invocations
        .unwrap_or(cfg.concurrent_invocations);
    let mut v = json!({
        "invocationsPerMinute": own.invocations_per_minute.unwrap_or(cfg.invocations_per_minute),
        "concurrentInvocations": concurrent,
        "firesPerMinute": own.fires_per_minute.unwrap_or(cfg.fires_per_minute),
        "minActionMemory": b.memory_mb.min,
        "maxActionMemory": b.memory_mb.max,
        "minActionLogs": b.logs_mb.min,
        "maxActionLogs": b.logs_mb.max,
        "minActionTimeout": b.timeout_ms.min,
        "maxActionTimeout": b.timeout_ms.max,
        "minActionConcurrency": b.concurrency.min,
        "maxActionConcurrency": b.concurrency.max,
        "maxParameterSize": format!("{} MB", cfg.parameter_size_limit / (1024 * 1024)),
        "maxActionInstances": concurrent,
    });
    if let Some(k) = &own.allowed_kinds {
        v["allowedKinds"] = json!(k);
    }
    if let Some(s) = own.store_activations {
        v["storeActivations"] = json!(s);
    }
    Reply::ok(v)
}
