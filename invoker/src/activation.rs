//! One activation, from the message that carries it to its record.
//!
//! The invariant: every message the invoker takes produces exactly one activation record and one
//! completion, whether the action succeeds, fails, times out, or its container dies. [`Runner::handle`]
//! keeps it by construction: [`Runner::execute`] cannot fail (every failure is an outcome of the
//! activation), and `handle` stores what it returns and then always sends the completion.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use owl_entity::EpochMillis;
use owl_entity::action::{Action, PROVIDE_API_KEY_ANNOTATION};
use owl_entity::activation::{Activation, ActivationResponse, RunAnnotations, StatusCode};
use owl_entity::container::{InitRequest, InitValue, RunRequest};
use owl_entity::entity::Entity;
use owl_entity::exec::{Exec, Manifest};
use owl_entity::message::{ActivationMessage, ControllerMessage};
use owl_entity::name::EntityPath;
use owl_queue::Queue;
use owl_store::Store;
use serde_json::{Map, Value, json};

use crate::config::InvokerConfig;
use crate::logs::{self, Collect};
use crate::pool::{Init, Pool, Start, Want, WarmKey};
use crate::protocol::{self, ContainerClient, Outcome};

pub const ACTION_GONE: &str = "Action could not be found or may have been deleted.";
pub const ACTION_INCOMPATIBLE: &str = "Action version is not compatible and cannot be invoked.";
pub const PROVISION_FAILED: &str = "Failed to provision resources to run the action.";

pub(crate) fn now_millis() -> EpochMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct Runner {
    config: InvokerConfig,
    manifest: Manifest,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    pool: Arc<Pool>,
    client: ContainerClient,
    /// Actions by (document id, revision): a revision never changes.
    actions: Mutex<HashMap<(String, String), Arc<Action>>>,
}

/// What running produced, before logs.
struct Ran {
    outcome: Outcome,
    start: EpochMillis,
    end: EpochMillis,
    init_ms: Option<i64>,
    wait_ms: i64,
    container: Option<Arc<crate::pool::Container>>,
}

impl Ran {
    /// An activation that never reached a container.
    fn failure(outcome: Outcome, received: EpochMillis) -> Ran {
        let now = now_millis();
        Ran {
            outcome,
            start: now,
            end: now,
            init_ms: None,
            wait_ms: now - received,
            container: None,
        }
    }
}

impl Runner {
    pub fn new(
        config: InvokerConfig,
        manifest: Manifest,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        pool: Arc<Pool>,
    ) -> Runner {
        Runner {
            config,
            manifest,
            store,
            queue,
            pool,
            client: ContainerClient::default(),
            actions: Mutex::default(),
        }
    }

    /// Runs one activation: exactly one record stored and one completion sent, whatever happens. A
    /// message delivered again (this invoker, or another before it, stopped before acknowledging
    /// it) whose record exists is not run again: its completion is sent again.
    pub async fn handle(&self, msg: &ActivationMessage, redelivered: bool) {
        let recorded = redelivered
            && matches!(
                self.store
                    .get_activation(&msg.caller.namespace, &msg.activation_id)
                    .await,
                Ok(Some(_))
            );
        let mut released_mb = 0;
        if recorded {
            tracing::info!(tid = %msg.transid, activation = %msg.activation_id, "redelivered activation already recorded: not run again");
        } else {
            let record = self.execute(msg).await;
            released_mb = record
                .annotations
                .get("limits")
                .and_then(|l| l.get("memory"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            self.store_record(msg, &record).await;
        }
        let completion = ControllerMessage::Completion {
            transid: msg.transid.clone(),
            activation_id: msg.activation_id.clone(),
            namespace: msg.caller.namespace.clone(),
            invoker: self.config.id.clone(),
            released_mb,
        };
        if let Err(e) = self
            .queue
            .send_to_controller(&msg.reply_to, completion)
            .await
        {
            tracing::warn!(tid = %msg.transid, error = %e, "the completion could not be sent");
        }
    }

    /// Stores the record, retrying while the store is unavailable (a minute at most), so that the
    /// message is acknowledged after its record is stored whenever the store comes back in time.
    async fn store_record(&self, msg: &ActivationMessage, record: &Activation) {
        let mut pause = Duration::from_millis(100);
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            match self.store.put_activation(record).await {
                // A conflict: a record under this id exists already (a controller ended it).
                Ok(()) | Err(owl_store::StoreError::Conflict) => return,
                Err(e @ owl_store::StoreError::Unavailable(_)) if Instant::now() < give_up => {
                    tracing::warn!(tid = %msg.transid, activation = %msg.activation_id, error = %e, "storing the activation: retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(tid = %msg.transid, activation = %msg.activation_id, error = %e, "storing the activation failed");
                    return;
                }
            }
        }
    }

    async fn fetch(&self, msg: &ActivationMessage) -> Result<Arc<Action>, Outcome> {
        let id = msg.action.doc_id();
        if let Some(a) = self
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id.clone(), msg.revision.clone()))
        {
            return Ok(a.clone());
        }
        match self.store.get_entity(&id).await {
            Ok(Some(s)) => match s.value {
                Entity::Action(a) => {
                    let a = Arc::new(a);
                    let mut cache = self.actions.lock().unwrap_or_else(|p| p.into_inner());
                    if cache.len() > 4096 {
                        cache.clear();
                    }
                    // A newer revision than the controller saw is simply used: the action was updated.
                    cache.insert((id, s.rev.0), a.clone());
                    Ok(a)
                }
                _ => Err(Outcome::whisk_error(ACTION_INCOMPATIBLE)),
            },
            Ok(None) => Err(Outcome::application_error(ACTION_GONE)),
            Err(_) => Err(Outcome::whisk_error("Action could not be fetched.")),
        }
    }

    /// Everything but storing: never fails, every failure is an outcome.
    pub async fn execute(&self, msg: &ActivationMessage) -> Activation {
        let (action, ran) = match self.fetch(msg).await {
            Ok(a) => {
                let ran = self.run(msg, &a).await;
                (Some(a), ran)
            }
            Err(outcome) => (None, Ran::failure(outcome, msg.received)),
        };
        let mut record = self.record(msg, action.as_deref(), &ran, vec![]);
        let keep = ran.outcome.keeps_container();
        // Our turn at the container's lines is taken before the container goes back, so the next
        // activation in it reads after us. A container that stays goes back before the caller hears
        // the result (its next request finds it free); one that is removed is read first.
        let turn = ran.container.as_ref().map(|c| c.log_turn());
        if let Some(c) = &ran.container
            && keep
        {
            self.pool.release(c, true);
        }
        if msg.blocking {
            let result = ControllerMessage::Result {
                transid: msg.transid.clone(),
                activation: Box::new(record.clone()),
            };
            if let Err(e) = self.queue.send_to_controller(&msg.reply_to, result).await {
                tracing::warn!(tid = %msg.transid, error = %e, "the result could not be sent");
            }
        }
        if let (Some(a), Some(c), Some(turn)) = (&action, &ran.container, turn) {
            record.logs = turn
                .read(async |lines| self.logs(a, lines, &ran.outcome).await)
                .await;
            drop(turn);
            if !keep {
                self.pool.release(c, false);
            }
        }
        record
    }

    async fn logs(
        &self,
        action: &Action,
        lines: &mut logs::LogStream,
        outcome: &Outcome,
    ) -> Vec<String> {
        let limit_mb = action.limits.logs.max(0) as usize;
        if action.limits.concurrency > 1 {
            // Overlapping runs share the container's streams: no line can be told to belong to
            // this activation, so none are recorded (as OpenWhisk, which then needs a log store
            // outside the invoker), and what came is dropped.
            lines.discard();
            return vec![];
        }
        let collect = Collect {
            limit: limit_mb * 1024 * 1024,
            await_sentinels: outcome.status != StatusCode::DeveloperError,
            // The log stream can lag behind the container under load: wait longer than
            // upstream's 2 s (it reads the log file itself) before calling the logs incomplete.
            idle: Duration::from_secs(5),
            overall: Duration::from_secs(2 * limit_mb.max(5) as u64),
        };
        let collected = logs::collect(lines, &collect).await;
        if limit_mb == 0 { vec![] } else { collected }
    }

    /// Gets a container, initializes it if needed, and runs the action.
    async fn run(&self, msg: &ActivationMessage, action: &Action) -> Ran {
        let fail = |outcome: Outcome| Ran::failure(outcome, msg.received);
        let (kind, image) = match &action.exec {
            Exec::Code { kind, .. } => match self.manifest.resolve(kind) {
                Some(k) => (kind.clone(), k.image.reference()),
                None => return fail(Outcome::whisk_error(ACTION_INCOMPATIBLE)),
            },
            Exec::Blackbox { image, .. } => ("blackbox".to_string(), image.clone()),
            Exec::Sequence { .. } | Exec::Builtin { .. } => {
                return fail(Outcome::application_error(
                    "Sequences and built-in actions are not run by invokers.",
                ));
            }
        };
        let want = Want {
            key: WarmKey {
                namespace: msg.caller.namespace.to_string(),
                action: msg.action.doc_id(),
                revision: format!("{}@{}", action.version, action.updated),
            },
            kind,
            image: image.clone(),
            memory_mb: action.limits.memory,
            may_use_prewarm: !matches!(action.exec, Exec::Blackbox { .. }),
            concurrency: action.limits.concurrency,
        };
        let (container, start) = match self.pool.acquire(&want).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(tid = %msg.transid, image, error = %e, "no container for the activation");
                let outcome = if e.0.contains("No such image") || e.0.contains("not found") {
                    Outcome::developer_error(format!("Failed to pull container image '{image}'."))
                } else {
                    Outcome::whisk_error(PROVISION_FAILED)
                };
                return fail(outcome);
            }
        };
        let timeout_ms = action.limits.timeout;
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        let deadline = (now_millis() + timeout_ms).to_string();
        let api_key = provides_api_key(action).then(|| msg.caller.authkey.compact());
        let (init_args, value) = split_init_args(action, msg);
        let started_at = now_millis();
        let wait_ms = started_at - msg.received;
        let mut init_ms = None;
        let init_failed = if start.needs_init() {
            let body = init_body(action, msg, &deadline, api_key.as_deref(), init_args);
            let t0 = Instant::now();
            let answer = self.client.init(container.addr, body, timeout).await;
            init_ms = Some(t0.elapsed().as_millis() as i64);
            let oom = matches!(answer, protocol::Answer::Broken(_))
                && self.pool.docker().oom_killed(&container.id).await;
            let failure = protocol::init_failure(&answer, timeout_ms, oom);
            container.initialized(match &failure {
                None => Init::Done,
                Some(o) => Init::Failed(o.clone()),
            });
            failure
        } else if start == Start::Joined {
            // Another activation is initializing this container: its init's outcome is ours.
            match container.init_outcome().await {
                Init::Failed(outcome) => Some(outcome),
                _ => None,
            }
        } else {
            None
        };
        // How the activation ended once it had its container, now.
        let finished = |outcome, init_ms, container| Ran {
            outcome,
            start: started_at,
            end: now_millis(),
            init_ms,
            wait_ms,
            container: Some(container),
        };
        if let Some(outcome) = init_failed {
            return finished(outcome, init_ms, container);
        }
        let run = RunRequest {
            value,
            namespace: msg.caller.namespace.to_string(),
            action_name: msg.action.with_leading_slash(),
            action_version: action.version.to_string(),
            activation_id: msg.activation_id.to_string(),
            transaction_id: msg.transid.clone(),
            deadline,
            api_key,
        };
        let body = serde_json::to_vec(&run).unwrap_or_default();
        let answer = self.client.run(container.addr, body, timeout).await;
        // The action's process may die of memory while the proxy lives to tell: ask Docker whenever
        // the run failed for a reason other than time.
        let failed = match &answer {
            protocol::Answer::Broken(_) => true,
            protocol::Answer::Status(status, _) => *status != 200,
            protocol::Answer::TimedOut | protocol::Answer::OutOfMemory => false,
        };
        let oom = failed && self.pool.docker().oom_killed(&container.id).await;
        let outcome = protocol::run_outcome(answer, timeout_ms, self.config.result_limit, oom);
        finished(outcome, init_ms, container)
    }

    fn record(
        &self,
        msg: &ActivationMessage,
        action: Option<&Action>,
        ran: &Ran,
        logs: Vec<String>,
    ) -> Activation {
        let annotations = RunAnnotations {
            path: &msg.action.doc_id(),
            wait_ms: ran.wait_ms,
            action,
            timed_out: ran.outcome.timeout,
            init_ms: ran.init_ms,
            binding: msg.binding.as_deref(),
            caused_by_sequence: msg.cause.is_some(),
        }
        .params();
        Activation {
            namespace: EntityPath::from_name(msg.caller.namespace.clone()),
            name: msg.action.name.clone(),
            version: action.map(|a| a.version).unwrap_or_default(),
            subject: msg.caller.subject.clone(),
            activation_id: msg.activation_id.clone(),
            start: ran.start,
            end: ran.end,
            duration: Some(ran.end - ran.start),
            response: ActivationResponse {
                status_code: ran.outcome.status,
                result: Some(ran.outcome.result.clone()),
                size: ran.outcome.size,
            },
            logs,
            annotations,
            publish: false,
            cause: msg.cause.clone(),
        }
    }
}

/// The API key goes to the action only when `provide-api-key` is truthy or absent (actions created
/// through the API get `false`; older documents may lack it). Truthy as upstream's
/// `Parameters.isTruthy` says: `false`, `0`, `""` and `null` are not; every other value is, even the
/// string `"false"`.
fn provides_api_key(action: &Action) -> bool {
    !action.annotations.contains(PROVIDE_API_KEY_ANNOTATION)
        || action.annotations.is_truthy(PROVIDE_API_KEY_ANNOTATION)
}

/// Splits the merged parameters into `/init` environment (parameters marked `init`) and `/run` value.
fn split_init_args(action: &Action, msg: &ActivationMessage) -> (Map<String, Value>, Value) {
    let init_keys: Vec<&str> = msg
        .init_args
        .iter()
        .map(String::as_str)
        .chain(
            action
                .parameters
                .iter()
                .filter(|p| p.init)
                .map(|p| p.key.as_str()),
        )
        .collect();
    let mut init = Map::new();
    // An array (a sequence step after one that returned an array) goes to `/run` as it is.
    let Value::Object(content) = &msg.content else {
        return (init, msg.content.clone());
    };
    let mut value = Map::new();
    for (k, v) in content {
        if init_keys.contains(&k.as_str()) {
            init.insert(k.clone(), v.clone());
        } else {
            value.insert(k.clone(), v.clone());
        }
    }
    (init, Value::Object(value))
}

fn init_body(
    action: &Action,
    msg: &ActivationMessage,
    deadline: &str,
    api_key: Option<&str>,
    init_args: Map<String, Value>,
) -> Vec<u8> {
    let (code, main, binary) = match &action.exec {
        Exec::Code {
            code, main, binary, ..
        } => (Some(code.clone()), main.clone(), *binary),
        Exec::Blackbox {
            code, main, binary, ..
        } => (code.clone(), main.clone(), *binary),
        Exec::Sequence { .. } | Exec::Builtin { .. } => (None, None, false),
    };
    let mut env = Map::new();
    if let Some(k) = api_key {
        env.insert("__OW_API_KEY".into(), json!(k));
    }
    env.insert("__OW_NAMESPACE".into(), json!(msg.caller.namespace));
    env.insert(
        "__OW_ACTION_NAME".into(),
        json!(msg.action.with_leading_slash()),
    );
    env.insert(
        "__OW_ACTION_VERSION".into(),
        json!(action.version.to_string()),
    );
    env.insert("__OW_ACTIVATION_ID".into(), json!(msg.activation_id));
    env.insert("__OW_TRANSACTION_ID".into(), json!(msg.transid));
    env.insert("__OW_DEADLINE".into(), json!(deadline));
    for (k, v) in init_args {
        let text = match v {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        env.insert(k, json!(text));
    }
    let body = InitRequest {
        value: InitValue {
            name: action.name.to_string(),
            main: main.unwrap_or_else(|| "main".into()),
            binary,
            code,
            env,
        },
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod api_key_tests {
    use super::*;

    fn action(annotations: Value) -> Action {
        serde_json::from_value(json!({
            "namespace": "guest", "name": "a", "version": "0.0.1", "publish": false,
            "exec": {"kind": "nodejs:20", "code": "function main() {}", "binary": false},
            "parameters": [],
            "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
            "annotations": annotations,
            "updated": 0
        }))
        .unwrap()
    }

    fn with(value: Value) -> Action {
        action(json!([{"key": PROVIDE_API_KEY_ANNOTATION, "value": value}]))
    }

    #[test]
    fn the_key_goes_to_actions_whose_annotation_is_truthy_or_absent_as_upstream_decides() {
        assert!(
            provides_api_key(&action(json!([]))),
            "absent: legacy documents"
        );
        for truthy in [
            json!(true),
            json!(1),
            json!("yes"),
            json!("false"),
            json!({}),
            json!([]),
        ] {
            assert!(provides_api_key(&with(truthy.clone())), "{truthy}");
        }
        for falsy in [json!(false), json!(0), json!(0.0), json!(""), Value::Null] {
            assert!(!provides_api_key(&with(falsy.clone())), "{falsy}");
        }
    }
}
