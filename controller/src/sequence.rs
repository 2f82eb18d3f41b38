//! Running a sequence: its components one after another in the controller, each step's result the
//! next one's input, as upstream's `SequenceActions`.
//!
//! | what happens | the sequence's response |
//! |---|---|
//! | every step succeeds | the last step's response |
//! | a step's result has an `error` field | that step's response (its status: application, developer or whisk error); later steps do not run |
//! | a component is gone at run time | application error `Sequence component does not exist.` |
//! | more atomic actions than the limit, nested sequences counted | application error `Too many actions in the sequence.` |
//! | a step's result does not come within its time limit and a minute | whisk error `Timeout reached when retrieving activation <id> for sequence component.` |
//! | a step cannot be queued, or the store fails | whisk error `Sequence failed.` |
//!
//! The record: `logs` are the steps' activation ids in order, `duration` the sum of theirs,
//! annotations `topmost`, `path`, `kind: sequence`, `causedBy` (nested only), `waitTime`, `binding`
//! and `limits` (the sequence's time and log limits, the largest memory of its steps). Each step's
//! record has `cause` = the id of the sequence that ran it, the innermost one.
//!
//! Invariant: every step that started has its record (written by its invoker, or here for nested
//! sequences and compositions), and the sequence's record is written once, when it ends.

use std::future::Future;
use std::pin::Pin;

use owl_entity::activation::{Activation, ActivationId, ActivationResponse, StatusCode};
use owl_entity::exec::{Exec, SEQUENCE};
use owl_entity::name::{EntityPath, FullyQualifiedName};
use serde_json::{Value, json};

use crate::activate::{self, Caller, Outcome, Unresolved};
use crate::entitlement::{self, Privilege};
use crate::error::ApiResult;
use crate::invoke::Resolved;
use crate::request::Ctx;
use crate::{messages, now_millis};

/// Where a sequence runs: invoked by a client, or as a step of another sequence or composition.
pub enum Nesting {
    /// `id` was given to the caller already; `received` is when its request arrived.
    Topmost { id: ActivationId, received: i64 },
    /// A step of the sequence or composition `cause`.
    Within { cause: ActivationId },
}

/// What a sequence has done so far.
struct Accounting {
    /// Atomic actions run since the topmost sequence began.
    atomic: usize,
    /// The last step's response: the next step's input, and the sequence's response at the end.
    previous: ActivationResponse,
    logs: Vec<ActivationId>,
    duration: i64,
    max_memory: Option<i64>,
    stopped: bool,
}

impl Accounting {
    /// A step ended: it counts, and an `error` in its result (or a count over the limit) stops the
    /// sequence with its response.
    fn step(&mut self, mut a: Activation, atomic: usize, limit: usize) {
        let has_error = a
            .response
            .result
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|o| o.contains_key("error"));
        if atomic > limit {
            a.response = application_error(messages::SEQUENCE_TOO_LONG);
        }
        self.stopped = has_error || atomic > limit;
        self.atomic = atomic;
        self.logs.push(a.activation_id.clone());
        self.duration += a.effective_duration().unwrap_or(0);
        if let Some(m) = memory_of(&a) {
            self.max_memory = Some(self.max_memory.map_or(m, |x| x.max(m)));
        }
        self.previous = a.response;
    }

    /// The sequence ends without a step's record (or with the id of one that did not answer).
    fn fail(&mut self, response: ActivationResponse, id: Option<ActivationId>) {
        self.logs.extend(id);
        self.previous = response;
        self.stopped = true;
    }
}

/// The memory in a record's `limits` annotation.
pub fn memory_of(a: &Activation) -> Option<i64> {
    a.annotations.get("limits")?.get("memory")?.as_i64()
}

/// An error the controller makes (upstream leaves `size` out of those).
pub fn application_error(message: &str) -> ActivationResponse {
    response(StatusCode::ApplicationError, json!({ "error": message }))
}

pub fn whisk_error(message: String) -> ActivationResponse {
    response(StatusCode::WhiskError, json!({ "error": message }))
}

/// A response the controller makes, without `size`.
pub fn response(status_code: StatusCode, result: Value) -> ActivationResponse {
    ActivationResponse {
        status_code,
        result: Some(result),
        size: None,
    }
}

/// The caller must be allowed to activate each component, as upstream checks at invoke (403).
pub async fn check_components(ctx: &Ctx<'_>, components: &[FullyQualifiedName]) -> ApiResult<()> {
    for c in components {
        let segments = c.path.segments();
        let ns = if segments[0].is_default() {
            ctx.identity.namespace.clone()
        } else {
            segments[0].clone()
        };
        entitlement::check_action(
            ctx.state,
            ctx.identity,
            Privilege::Activate,
            &ns,
            segments.get(1),
            Some(&c.name),
        )
        .await?;
    }
    Ok(())
}

/// Runs the sequence `seq` (whose components are `components`) on `payload`, stores its record and
/// returns it with the count of atomic actions run since the topmost sequence began (`atomic` when
/// it began).
pub fn run<'a>(
    caller: &'a Caller,
    seq: &'a Resolved,
    components: &'a [FullyQualifiedName],
    payload: Option<Value>,
    nesting: Nesting,
) -> Pin<Box<dyn Future<Output = (Activation, usize)> + Send + 'a>> {
    run_counted(caller, seq, components, payload, nesting, 0)
}

fn run_counted<'a>(
    caller: &'a Caller,
    seq: &'a Resolved,
    components: &'a [FullyQualifiedName],
    payload: Option<Value>,
    nesting: Nesting,
    atomic: usize,
) -> Pin<Box<dyn Future<Output = (Activation, usize)> + Send + 'a>> {
    Box::pin(async move {
        let start = now_millis();
        let (id, received, cause) = match nesting {
            Nesting::Topmost { id, received } => (id, received, None),
            Nesting::Within { cause } => (ActivationId::generate(), start, Some(cause)),
        };
        let limit = caller.state.config.sequence_max_length;
        let mut acc = Accounting {
            atomic,
            previous: response(StatusCode::Success, payload.unwrap_or(Value::Null)),
            logs: Vec::new(),
            duration: 0,
            max_memory: None,
            stopped: false,
        };
        for component in components {
            if acc.atomic >= limit {
                acc.fail(application_error(messages::SEQUENCE_TOO_LONG), None);
                break;
            }
            // The previous result (an object or an array) is this step's input.
            let input = acc
                .previous
                .result
                .take()
                .filter(|r| r.is_object() || r.is_array());
            let step = match activate::resolve_name(caller, component).await {
                Ok(step) => step,
                Err(Unresolved::Missing) => {
                    acc.fail(
                        application_error(messages::SEQUENCE_COMPONENT_NOT_FOUND),
                        None,
                    );
                    break;
                }
                Err(Unresolved::Failed(e)) => {
                    tracing::error!(tid = %caller.tid, error = %e.message, "a sequence component could not be read");
                    acc.fail(whisk_error(messages::SEQUENCE_FAILED.into()), None);
                    break;
                }
            };
            let within = Nesting::Within { cause: id.clone() };
            match &step.action.exec {
                Exec::Sequence { components } => {
                    let (a, n) =
                        run_counted(caller, &step, components, input, within, acc.atomic).await;
                    acc.step(a, n, limit);
                }
                _ if crate::conductor::is_conductor(&step.action) => {
                    let a = crate::conductor::run(
                        caller,
                        &step,
                        input,
                        crate::conductor::Nesting::Within { cause: id.clone() },
                        &mut crate::conductor::Counts::default(),
                    )
                    .await;
                    acc.step(a, acc.atomic + 1, limit);
                }
                _ => match activate::step(caller, &step, input, &id).await {
                    Ok(Outcome::Done(a)) => acc.step(*a, acc.atomic + 1, limit),
                    Ok(Outcome::Pending(late)) => {
                        tracing::error!(tid = %caller.tid, activation = %late, "a sequence component did not answer in time");
                        acc.fail(
                            whisk_error(messages::sequence_retrieve_timeout(&late)),
                            Some(late),
                        );
                    }
                    Err(e) => {
                        tracing::error!(tid = %caller.tid, error = %e.message, "a sequence component could not be queued");
                        acc.fail(whisk_error(messages::SEQUENCE_FAILED.into()), None);
                    }
                },
            }
            if acc.stopped {
                break;
            }
        }
        let record = record(caller, seq, id, cause, start, received, &mut acc);
        activate::store_record(caller, &record);
        (record, acc.atomic)
    })
}

fn record(
    caller: &Caller,
    seq: &Resolved,
    id: ActivationId,
    cause: Option<ActivationId>,
    start: i64,
    received: i64,
    acc: &mut Accounting,
) -> Activation {
    let mut response =
        std::mem::replace(&mut acc.previous, response(StatusCode::Success, json!({})));
    if response.result.is_none() {
        response.result = Some(json!({}));
    }
    let run = CompositionRun {
        id,
        cause,
        start,
        received,
        conductor: false,
        max_memory: acc.max_memory,
        duration: acc.duration,
        logs: &acc.logs,
    };
    composition_record(caller, seq, run, response)
}

/// What a composition (a sequence or a conductor action) did, for its record.
pub(crate) struct CompositionRun<'a> {
    pub id: ActivationId,
    pub cause: Option<ActivationId>,
    pub start: i64,
    pub received: i64,
    pub conductor: bool,
    /// The most memory a component held: the record's `limits` carry it (none when nothing ran).
    pub max_memory: Option<i64>,
    /// The components' durations summed.
    pub duration: i64,
    /// The ids of the runs, in order: the record's `logs`.
    pub logs: &'a [ActivationId],
}

/// A composition's own record, as upstream writes it: `topmost`, `path`, `kind: sequence`,
/// `conductor` for a conductor action, `causedBy` when nested, `waitTime`, `binding`, `limits`.
pub(crate) fn composition_record(
    caller: &Caller,
    of: &Resolved,
    run: CompositionRun<'_>,
    response: ActivationResponse,
) -> Activation {
    let action = &of.action;
    let mut annotations = owl_entity::params::Params::new();
    annotations.set("topmost", json!(run.cause.is_none()));
    annotations.set("path", json!(of.fqn.doc_id()));
    annotations.set("kind", json!(SEQUENCE));
    if run.conductor {
        annotations.set("conductor", json!(true));
    }
    if run.cause.is_some() {
        annotations.set("causedBy", json!(SEQUENCE));
    }
    annotations.set("waitTime", json!((run.start - run.received).max(0)));
    if let Some(b) = &of.binding {
        annotations.set("binding", json!(b));
    }
    if let Some(memory) = run.max_memory {
        let mut limits = action.limits;
        limits.memory = memory;
        annotations.set("limits", json!(limits));
    }
    Activation {
        namespace: EntityPath::from_name(caller.identity.namespace.clone()),
        name: of.fqn.name.clone(),
        version: action.version,
        subject: caller.identity.subject.clone(),
        activation_id: run.id,
        start: run.start,
        end: now_millis(),
        duration: Some(run.duration),
        response,
        logs: run.logs.iter().map(ToString::to_string).collect(),
        annotations,
        publish: false,
        cause: run.cause,
    }
}
