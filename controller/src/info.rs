//! The discovery endpoints, served without authentication: `GET /` (limits and runtimes),
//! `GET /api/v1` (API version and build) and `GET /api/v1/api-docs` (the swagger description).

use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request::Reply;

const SWAGGER: &str = include_str!("../resources/apiv1swagger.json");

pub fn root(state: &AppState) -> ApiResult<Reply> {
    let c = &state.config;
    let b = &c.bounds;
    const MB: i64 = 1024 * 1024;
    let mut runtimes = serde_json::Map::new();
    for (family, kinds) in c.manifest.families() {
        let list: Vec<Value> = kinds
            .iter()
            .map(|k| {
                json!({
                    "kind": k.kind,
                    "image": k.image.reference(),
                    "deprecated": k.deprecated,
                    "default": k.default,
                    "attached": k.attached.is_some(),
                    "requireMain": k.require_main.unwrap_or(false),
                })
            })
            .collect();
        runtimes.insert(family.clone(), Value::Array(list));
    }
    Reply::ok(json!({
        "description": "OpenWhisk",
        "support": {"github": "https://github.com/apache/openwhisk/issues"},
        "api_paths": ["/api/v1"],
        "limits": {
            "actions_per_minute": c.invocations_per_minute,
            "triggers_per_minute": c.fires_per_minute,
            "concurrent_actions": c.concurrent_invocations,
            "sequence_length": c.sequence_max_length,
            "min_action_duration": b.timeout_ms.min,
            "max_action_duration": b.timeout_ms.max,
            "default_action_duration": b.timeout_ms.std,
            "min_action_memory": b.memory_mb.min * MB,
            "max_action_memory": b.memory_mb.max * MB,
            "default_action_memory": b.memory_mb.std * MB,
            "min_action_logs": b.logs_mb.min * MB,
            "max_action_logs": b.logs_mb.max * MB,
            "default_action_logs": b.logs_mb.std * MB,
        },
        "runtimes": runtimes,
    }))
}

pub fn api(state: &AppState) -> ApiResult<Reply> {
    Reply::ok(json!({
        "description": "OpenWhisk API",
        "api_version": "1.0.0",
        "api_version_path": "v1",
        "build": state.config.build,
        "buildno": state.config.buildno,
        "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
    }))
}

pub fn api_docs() -> ApiResult<Reply> {
    let v: Value = serde_json::from_str(SWAGGER).map_err(|_| ApiError::internal())?;
    Reply::ok(v)
}

/// Each invoker this controller knows, `up` or `down`, as upstream's `GET /invokers`.
pub fn invokers(state: &AppState) -> ApiResult<Reply> {
    let mut health = serde_json::Map::new();
    if let Some(d) = &state.dispatch {
        for (name, h, _) in d.balancer.census() {
            let word = match h {
                crate::balancer::Health::Healthy => "up",
                crate::balancer::Health::Gone => "down",
            };
            health.insert(name, json!(word));
        }
    }
    Reply::ok(Value::Object(health))
}

/// How many invokers are up, as upstream's `GET /invokers/healthy/count`.
pub fn healthy_invokers(state: &AppState) -> ApiResult<Reply> {
    let up = state.dispatch.as_ref().map_or(0, |d| {
        d.balancer
            .census()
            .iter()
            .filter(|(_, h, _)| *h == crate::balancer::Health::Healthy)
            .count()
    });
    Reply::ok(json!(up))
}
