//! The alarms feed actions: what `/whisk.system/alarms/{alarm,once,interval}` do when a client
//! invokes them with a `lifecycleEvent`.
//!
//! | event | answers (the action's result) |
//! |---|---|
//! | `CREATE` | `{"status": "success"}`; the schedule is stored (replacing one the trigger had) |
//! | `READ` | `{"config": {...}, "status": {...}}`, with Owl's `lastFired`, `nextFire`, `fireCount`, `lastError` in `status` |
//! | `UPDATE` | `{"status": "success"}`; the given fields replace the stored ones and the schedule runs again |
//! | `DELETE` | `{"status": "success"}`; the schedule is gone (the trigger may already be) |
//!
//! Failures are application errors whose result is `{"error": {"error": "<sentence>"}}`, as
//! upstream's feed passes on its provider's answer: a parameter that does not check out, the
//! caller's key not opening the trigger (`Trigger authentication request failed.`), no schedule
//! (`could not find trigger /ns/t in the database`). An event other than the four is
//! `{"error": "unsupported lifecycleEvent"}`.
//!
//! `READ` and `DELETE` also answer for a trigger that is gone (deleted without its feed), so that a
//! stopped schedule can be seen and removed; upstream's `READ` refuses it.
//!
//! The trigger is always the caller's: `triggerName`'s namespace is replaced by the namespace of
//! whoever invoked the feed, as upstream's feed does with `__OW_NAMESPACE`.

use actix_web::http::Method;
use actix_web::web::Bytes;
use owl_entity::alarm::Alarm;
use owl_entity::name::EntityName;
use owl_store::StoreError;
use serde_json::{Map, Value, json};

use super::{doc_id, load, save};
use crate::builtin::Ran;
use crate::request::Ctx;
use crate::{now_millis, triggers};

/// The `main` the catalog gives the three alarms feed actions.
pub const MAIN: &str = "alarms";

/// A failure as the feed's result shows it: upstream's `{"error": ..., "message"?: ...}` body,
/// wrapped in the action's `error`.
fn failure(error: &str, message: Option<&str>) -> Value {
    let mut body = json!({ "error": error });
    if let Some(m) = message {
        body["message"] = json!(m);
    }
    json!({ "error": body })
}

fn store_failure(e: StoreError) -> Value {
    tracing::error!(error = %e, "the alarms feed could not reach the store");
    failure(
        "there was an error while accessing the trigger in the database.",
        Some(&e.to_string()),
    )
}

pub async fn run(ctx: &Ctx<'_>, args: Map<String, Value>) -> Ran {
    let result = match event(ctx, &args).await {
        Ok(v) | Err(v) => v,
    };
    Ran { result }
}

async fn event(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Result<Value, Value> {
    let lifecycle = args.get("lifecycleEvent").and_then(Value::as_str);
    if !matches!(lifecycle, Some("CREATE" | "READ" | "UPDATE" | "DELETE")) {
        return Err(json!({"error": "unsupported lifecycleEvent"}));
    }
    let Some(trigger) = args
        .get("triggerName")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err(failure("no trigger name parameter was provided", None));
    };
    let name = trigger_name(trigger);
    let namespace = ctx.identity.namespace.to_string();
    let apikey = args.get("authKey").and_then(Value::as_str);
    let config = &ctx.state.alarms.config;
    // The operator's setting, or the caller's parameter as upstream's provider reads it.
    let limit_cron_fields =
        config.limit_cron_fields || owl_entity::alarm::truthy(args.get("limitCronFields"));
    let id = doc_id(&namespace, &name);
    let store = &*ctx.state.store;
    let now = now_millis();
    match lifecycle {
        Some("CREATE") => {
            let alarm = Alarm::create(
                args,
                &namespace,
                &name,
                apikey.unwrap_or_default(),
                now,
                limit_cron_fields,
            )
            .map_err(|e| failure(&e, None))?;
            verify_trigger(ctx, apikey, &name, false).await?;
            // A trigger made again with a feed replaces the schedule it had.
            let existing = load(store, &id).await.map_err(store_failure)?;
            save(store, &alarm, existing.as_ref().map(|e| &e.rev))
                .await
                .map_err(store_failure)?;
            ctx.state.alarms.changed();
            Ok(json!({"status": "success"}))
        }
        Some("READ") => {
            // A trigger deleted without its feed still shows its stopped schedule and why.
            verify_trigger(ctx, apikey, &name, true).await?;
            let stored = load(store, &id)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| not_in_database(&namespace, &name))?;
            Ok(stored.value.read(config.default_strict))
        }
        Some("UPDATE") => {
            verify_trigger(ctx, apikey, &name, false).await?;
            let write = |a: &Alarm| a.update(args, now, limit_cron_fields).map(Some);
            change_schedule(ctx, &id, "updating the trigger in", write).await
        }
        _ => {
            verify_trigger(ctx, apikey, &name, true).await?;
            change_schedule(ctx, &id, "deleting the trigger from", |_| Ok(None)).await
        }
    }
}

/// Replaces the stored schedule with what `change` makes of it (`None`: deletes it), reading it
/// again while another writer gets there first.
async fn change_schedule(
    ctx: &Ctx<'_>,
    id: &str,
    doing: &str,
    change: impl Fn(&Alarm) -> Result<Option<Alarm>, String>,
) -> Result<Value, Value> {
    let store = &*ctx.state.store;
    for _ in 0..8 {
        let stored = load(store, id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                let (namespace, name) = id
                    .strip_prefix(super::PREFIX)
                    .and_then(|r| r.split_once('/'))
                    .unwrap_or_default();
                not_in_database(namespace, name)
            })?;
        let written = match change(&stored.value).map_err(|e| failure(&e, None))? {
            Some(changed) => save(store, &changed, Some(&stored.rev)).await.map(drop),
            None => store.delete_doc(id, &stored.rev).await,
        };
        match written {
            Ok(()) => {
                ctx.state.alarms.changed();
                return Ok(json!({"status": "success"}));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(store_failure(e)),
        }
    }
    Err(failure(
        &format!("there was an error while {doing} the database."),
        None,
    ))
}

fn not_in_database(namespace: &str, name: &str) -> Value {
    failure(
        &format!("could not find trigger /{namespace}/{name} in the database"),
        None,
    )
}

/// The trigger's name in `/ns/name`, `/ns/pkg/name` (then `pkg/name`) or `name`.
fn trigger_name(qualified: &str) -> String {
    match qualified.strip_prefix('/') {
        Some(rest) => rest
            .split_once('/')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default(),
        None => qualified.to_string(),
    }
}

/// Does `authKey` open the caller's trigger? As upstream's provider checks it: a GET of the trigger
/// with that key. On `DELETE` a trigger that is already gone passes.
async fn verify_trigger(
    ctx: &Ctx<'_>,
    apikey: Option<&str>,
    name: &str,
    deleting: bool,
) -> Result<(), Value> {
    const FAILED: &str = "Trigger authentication request failed.";
    let Some(apikey) = apikey else {
        return Err(failure(
            FAILED,
            Some("Invalid constructor options. Missing api_key parameter."),
        ));
    };
    let identity = super::identity_of(&*ctx.state.store, apikey)
        .await
        .map_err(store_failure)?;
    let Some(identity) = identity else {
        return Err(failure(FAILED, None));
    };
    let Ok(trigger) = EntityName::new(name) else {
        return Err(failure(FAILED, None));
    };
    let ns = &ctx.identity.namespace;
    let read = Ctx::internal(
        ctx.state,
        &identity,
        &ctx.req.tid,
        (
            Method::GET,
            format!("/api/v1/namespaces/{ns}/triggers/{name}"),
        ),
        Bytes::new(),
        async |as_key| triggers::get(as_key, ns, &trigger).await,
    )
    .await;
    match read {
        Ok(_) => Ok(()),
        Err(e) if deleting && e.status == actix_web::http::StatusCode::NOT_FOUND => Ok(()),
        Err(_) => Err(failure(FAILED, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_name_loses_its_namespace() {
        assert_eq!(trigger_name("/_/t"), "t");
        assert_eq!(trigger_name("/guest/t"), "t");
        assert_eq!(trigger_name("t"), "t");
        assert_eq!(trigger_name("/guest/pkg/t"), "pkg/t");
    }
}
