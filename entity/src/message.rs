//! The messages between controllers and invokers, the same in-process and on RabbitMQ.
//!
//! A controller sends an invoker an [`ActivationMessage`]. The invoker answers the controller that
//! sent it twice: a [`ControllerMessage::Result`] as soon as the action returned (blocking requests
//! only, so the waiting caller is answered before logs are collected), and a
//! [`ControllerMessage::Completion`] once the record is stored (which frees the caller's throttle
//! slot). Every message an invoker takes produces exactly one record and one completion.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EpochMillis;
use crate::activation::{Activation, ActivationId};
use crate::identity::AuthKey;
use crate::name::{EntityName, FullyQualifiedName};

/// Who asked for the activation: its record lands in this namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub subject: String,
    pub namespace: EntityName,
    pub authkey: AuthKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationMessage {
    pub transid: String,
    pub activation_id: ActivationId,
    /// The resolved action: its package path (never a binding's) and name.
    pub action: FullyQualifiedName,
    /// The store revision of the action document the controller resolved.
    pub revision: String,
    pub caller: Caller,
    /// The merged parameters (package, binding, action, request): an object, or, for a sequence
    /// step whose previous step returned an array, that array alone (as upstream passes it).
    pub content: Value,
    /// Which of `content` go to `/init` as environment instead of to `/run`.
    #[serde(default)]
    pub init_args: Vec<String>,
    pub blocking: bool,
    /// The controller to answer.
    pub reply_to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<ActivationId>,
    /// `ns/binding` when the action was addressed through a package binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// When the controller received the request: the start of `waitTime`.
    pub received: EpochMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ControllerMessage {
    /// The activation as the action returned it, without logs (blocking requests only).
    Result {
        transid: String,
        activation: Box<Activation>,
    },
    /// The record is stored (or could not be): the activation is over.
    Completion {
        transid: String,
        activation_id: ActivationId,
        namespace: EntityName,
        invoker: String,
        /// The memory (MB) the activation held on the invoker, free again: the controller gives it
        /// back to its account of that invoker.
        #[serde(default)]
        released_mb: i64,
    },
}

/// Whether an invoker takes work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvokerState {
    /// Consuming its queue.
    Up,
    /// Stopping (SIGTERM): it finishes what it holds and takes nothing more; send it nothing.
    Draining,
}

/// A sign of life every controller hears, sent about once a second by every invoker and controller.
/// Controllers send only to invokers heard from lately, and share each invoker's memory among the
/// controllers heard from lately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Heartbeat {
    Invoker {
        id: String,
        /// Memory for action containers, in MB.
        user_memory_mb: i64,
        state: InvokerState,
        at: EpochMillis,
    },
    Controller {
        id: String,
        at: EpochMillis,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_activation_message_round_trips() {
        let m = ActivationMessage {
            transid: "t".into(),
            activation_id: ActivationId::generate(),
            action: FullyQualifiedName::parse_path(
                "guest/pkg/a",
                &EntityName::new("guest").unwrap(),
            )
            .unwrap(),
            revision: "1-abc".into(),
            caller: Caller {
                subject: "guest".into(),
                namespace: EntityName::new("guest").unwrap(),
                authkey: AuthKey::parse(crate::identity::GUEST_KEY).unwrap(),
            },
            content: json!({"a": 1}),
            init_args: vec!["secret".into()],
            blocking: true,
            reply_to: "controller0".into(),
            cause: None,
            binding: Some("guest/b".into()),
            received: 5,
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<ActivationMessage>(&text).unwrap(), m);
    }

    #[test]
    fn controller_messages_are_tagged_by_type() {
        let c = ControllerMessage::Completion {
            transid: "t".into(),
            activation_id: ActivationId::parse(&"a".repeat(32)).unwrap(),
            namespace: EntityName::new("guest").unwrap(),
            invoker: "invoker0".into(),
            released_mb: 256,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["type"], "completion");
        assert_eq!(serde_json::from_value::<ControllerMessage>(v).unwrap(), c);
    }

    #[test]
    fn heartbeats_are_tagged_by_role() {
        let h = Heartbeat::Invoker {
            id: "invoker1".into(),
            user_memory_mb: 2048,
            state: InvokerState::Draining,
            at: 7,
        };
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["role"], "invoker");
        assert_eq!(v["state"], "draining");
        assert_eq!(serde_json::from_value::<Heartbeat>(v).unwrap(), h);
    }
}
