//! Running a composition: an action annotated `conductor` decides, run after run, which action comes
//! next, as upstream's `PrimitiveActions.invokeComposition`.
//!
//! The conductor's result is read as:
//!
//! | field | meaning |
//! |---|---|
//! | `action` | the next component's name (`/ns/name`, `ns/pkg/name`, `name`, ...); absent: the composition ends |
//! | `params` | the component's input; not an object: `{"value": params}` |
//! | `state` | kept and merged over the conductor's next input; not an object: `{"state": state}` |
//!
//! With no `action` the composition's response is the conductor's status with `params` (or the
//! whole result). A component's result is the conductor's next input. Problems with a component are
//! fed back to the conductor as `{"error": ...}` in upstream's words: a name that does not parse,
//! an action that does not exist, one the caller may not run, one component too many. Past the
//! conductor run limit (twice the sequence limit and one), the composition ends with an application
//! error; a step that does not answer in time or cannot be queued ends it with a whisk error.
//!
//! The record mirrors a sequence's (`kind: sequence`, `topmost`, `causedBy`, `path`, `waitTime`,
//! `binding`, `limits`) with `conductor: true`; `logs` lists every conductor and component run.
//! Every run has `cause` = the composition's id.

use std::future::Future;
use std::pin::Pin;

use owl_entity::action::Action;
use owl_entity::activation::{Activation, ActivationId, ActivationResponse};
use owl_entity::exec::Exec;
use owl_entity::name::FullyQualifiedName;
use serde_json::{Map, Value, json};

use crate::activate::{self, Caller, Outcome, Unresolved};
use crate::entitlement::{self, Privilege};
use crate::invoke::Resolved;
use crate::sequence::{
    CompositionRun, application_error, composition_record, memory_of, whisk_error,
};
use crate::{messages, now_millis};

/// The annotation that makes an action a conductor.
pub const ANNOTATION: &str = "conductor";

/// A code action (not a sequence) annotated `conductor` with a truthy value.
pub fn is_conductor(action: &Action) -> bool {
    !matches!(action.exec, Exec::Sequence { .. }) && action.annotations.is_truthy(ANNOTATION)
}

/// Runs counted across a composition and the compositions nested in it, for the limits.
#[derive(Default)]
pub struct Counts {
    components: usize,
    conductors: usize,
}

/// Where a composition runs.
pub enum Nesting {
    Topmost { id: ActivationId, received: i64 },
    Within { cause: ActivationId },
}

/// One composition as it unfolds.
struct Session<'a> {
    caller: &'a Caller,
    conductor: &'a Resolved,
    id: ActivationId,
    duration: i64,
    max_memory: i64,
    state: Option<Map<String, Value>>,
    logs: Vec<ActivationId>,
}

impl Session<'_> {
    /// A run ended (or did not answer in time): it goes into the logs and the totals.
    fn ran(
        &mut self,
        outcome: Result<Outcome, ActivationResponse>,
    ) -> Result<Activation, ActivationResponse> {
        match outcome? {
            Outcome::Done(a) => {
                self.logs.push(a.activation_id.clone());
                self.duration += a.effective_duration().unwrap_or(0);
                if let Some(m) = memory_of(&a) {
                    self.max_memory = self.max_memory.max(m);
                }
                Ok(*a)
            }
            Outcome::Pending(late) => {
                self.logs.push(late.clone());
                Err(whisk_error(messages::composition_timeout(&late)))
            }
        }
    }
}

/// Runs the composition whose conductor is `conductor` on `payload`, stores its record and returns
/// it.
pub fn run<'a>(
    caller: &'a Caller,
    conductor: &'a Resolved,
    payload: Option<Value>,
    nesting: Nesting,
    counts: &'a mut Counts,
) -> Pin<Box<dyn Future<Output = Activation> + Send + 'a>> {
    Box::pin(async move {
        let start = now_millis();
        let (id, received, cause) = match nesting {
            Nesting::Topmost { id, received } => (id, received, None),
            Nesting::Within { cause } => (ActivationId::generate(), start, Some(cause)),
        };
        let mut session = Session {
            caller,
            conductor,
            id,
            duration: 0,
            max_memory: conductor.action.limits.memory,
            state: None,
            logs: Vec::new(),
        };
        let response = unfold(&mut session, payload, counts).await;
        let record = record(&session, cause, start, received, response);
        activate::store_record(caller, &record);
        record
    })
}

/// Conductor, component, conductor, ... until the conductor names no action.
async fn unfold(
    session: &mut Session<'_>,
    payload: Option<Value>,
    counts: &mut Counts,
) -> ActivationResponse {
    let limit = session.caller.state.config.sequence_max_length;
    let mut input = payload;
    loop {
        if counts.conductors > 2 * limit {
            return application_error(messages::COMPOSITION_TOO_LONG);
        }
        // The kept state goes over the conductor's input (an object; anything else is dropped).
        let params = match input.take() {
            Some(Value::Object(mut fields)) => {
                if let Some(state) = &session.state {
                    fields.extend(state.clone());
                }
                Some(Value::Object(fields))
            }
            _ => None,
        };
        counts.conductors += 1;
        let ran = activate::step(session.caller, session.conductor, params, &session.id)
            .await
            .map_err(|e| {
                tracing::error!(tid = %session.caller.tid, error = %e.message, "a conductor run could not be queued");
                whisk_error(messages::COMPOSITION_FAILED.into())
            });
        let activation = match session.ran(ran) {
            Ok(a) => a,
            Err(response) => return response,
        };
        let Some(Value::Object(mut result)) = activation.response.result.clone() else {
            // Upstream reads the result as an object; anything else fails the composition.
            return whisk_error(messages::COMPOSITION_FAILED.into());
        };
        let params = result.remove("params").map(|p| match p {
            Value::Object(o) => o,
            other => Map::from_iter([("value".to_string(), other)]),
        });
        session.state = result.remove("state").map(|s| match s {
            Value::Object(o) => o,
            other => Map::from_iter([("state".to_string(), other)]),
        });
        let Some(next) = result.remove("action") else {
            // The composition ends: its status is the conductor's, its result `params` or all of it.
            let result = match params {
                Some(p) => Value::Object(p),
                None => activation.response.result.clone().unwrap_or(json!({})),
            };
            return crate::sequence::response(activation.response.status_code, result);
        };
        let params = params.map(Value::Object);
        input = Some(match next_component(session, &next, params, counts).await {
            Next::Input(v) => v,
            Next::End(response) => return response,
        });
    }
}

/// What the conductor runs next on.
enum Next {
    /// Its next input: the component's result, or an error about the component.
    Input(Value),
    /// The composition ends with this response.
    End(ActivationResponse),
}

fn feedback(message: String) -> Next {
    Next::Input(json!({ "error": message }))
}

/// Resolves, checks and runs the component the conductor named.
async fn next_component(
    session: &mut Session<'_>,
    next: &Value,
    params: Option<Value>,
    counts: &mut Counts,
) -> Next {
    let caller = session.caller;
    let own = &caller.identity.namespace;
    let parsed = next
        .as_str()
        .and_then(|s| FullyQualifiedName::resolve_user_name(s, own).ok());
    let Some(fqn) = parsed else {
        return feedback(messages::composition_component_invalid(next));
    };
    if counts.components >= caller.state.config.sequence_max_length {
        return feedback(messages::COMPOSITION_TOO_LONG.into());
    }
    let segments = fqn.path.segments();
    let allowed = entitlement::check_action(
        &caller.state,
        &caller.identity,
        Privilege::Activate,
        &segments[0],
        segments.get(1),
        Some(&fqn.name),
    )
    .await;
    let shown = fqn.doc_id();
    if allowed.is_err() {
        return feedback(messages::composition_component_not_accessible(&shown));
    }
    let step = match activate::resolve_name(caller, &fqn).await {
        Ok(step) => step,
        Err(Unresolved::Missing | Unresolved::Failed(_)) => {
            return feedback(messages::composition_component_not_found(&shown));
        }
    };
    let ran = run_component(session, &step, params, counts).await;
    match session.ran(ran) {
        Ok(a) => Next::Input(a.response.result.unwrap_or(json!({}))),
        Err(response) => Next::End(response),
    }
}

async fn run_component(
    session: &Session<'_>,
    step: &Resolved,
    params: Option<Value>,
    counts: &mut Counts,
) -> Result<Outcome, ActivationResponse> {
    let caller = session.caller;
    let within = || crate::sequence::Nesting::Within {
        cause: session.id.clone(),
    };
    match &step.action.exec {
        Exec::Sequence { components } => {
            counts.components += 1;
            let (a, _) = crate::sequence::run(caller, step, components, params, within()).await;
            Ok(Outcome::Done(Box::new(a)))
        }
        // A composition in a composition shares its counts.
        _ if is_conductor(&step.action) => {
            let a = run(
                caller,
                step,
                params,
                Nesting::Within {
                    cause: session.id.clone(),
                },
                counts,
            )
            .await;
            Ok(Outcome::Done(Box::new(a)))
        }
        _ => {
            counts.components += 1;
            activate::step(caller, step, params, &session.id)
                .await
                .map_err(|e| {
                    tracing::error!(tid = %caller.tid, error = %e.message, "a composition component could not be queued");
                    whisk_error(messages::COMPOSITION_FAILED.into())
                })
        }
    }
}

fn record(
    session: &Session<'_>,
    cause: Option<ActivationId>,
    start: i64,
    received: i64,
    response: ActivationResponse,
) -> Activation {
    let run = CompositionRun {
        id: session.id.clone(),
        cause,
        start,
        received,
        conductor: true,
        max_memory: Some(session.max_memory),
        duration: session.duration,
        logs: &session.logs,
    };
    composition_record(session.caller, session.conductor, run, response)
}
