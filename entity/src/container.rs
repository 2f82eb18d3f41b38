//! The action container protocol's bodies, shared by the invoker (which sends them) and the
//! actions-runtime proxy (which answers them).
//!
//! `POST /init` once per container, `POST /run` once per activation; after each run (and a failed init)
//! the runtime writes [`SENTINEL`] to stdout and stderr so the invoker knows where an activation's logs end.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// A header on an answer of Owl's proxy that stands for no answer at all: the action's process died
/// (`exited`) or was killed for memory (`memory`) during the request. Where OpenWhisk's runtime is
/// itself the action's process (Node.js), the container dies with it and the invoker sees the
/// connection break; Owl's proxy outlives its launcher, and says so, so the invoker records what
/// upstream's would (`The action did not initialize and exited unexpectedly.`, ..., without a size).
pub const DIED_HEADER: &str = "x-owl-died";
pub const DIED_EXITED: &str = "exited";
pub const DIED_OUT_OF_MEMORY: &str = "memory";

/// `POST /init`: `{"value": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitRequest {
    pub value: InitValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitValue {
    /// The action's name, without namespace or package.
    #[serde(default)]
    pub name: String,
    /// The entry point; `main` unless the action names another.
    #[serde(default = "default_main")]
    pub main: String,
    /// `code` is base64 (a zip, or a native executable) when true.
    #[serde(default)]
    pub binary: bool,
    /// Absent only for blackbox actions without code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `__OW_*` variables and `init` parameters for the action's environment.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub env: Map<String, Value>,
}

fn default_main() -> String {
    "main".into()
}

/// `POST /run`: the parameters and the activation's context. Every top-level string other than
/// `value` reaches the action as `__OW_<KEY>` in its environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    pub value: Value,
    pub namespace: String,
    pub action_name: String,
    pub action_version: String,
    pub activation_id: String,
    pub transaction_id: String,
    /// Epoch milliseconds, as a string.
    pub deadline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_init_body_reads_with_defaults_and_writes_back_without_empty_parts() {
        let i: InitRequest =
            serde_json::from_value(json!({"value": {"name": "a", "code": "x"}})).unwrap();
        assert_eq!(i.value.main, "main");
        assert!(!i.value.binary);
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!({"value": {"name": "a", "main": "main", "binary": false, "code": "x"}})
        );
    }

    #[test]
    fn a_run_body_round_trips_with_a_string_deadline() {
        let r = RunRequest {
            value: json!({"name": "World"}),
            namespace: "guest".into(),
            action_name: "/guest/hello".into(),
            action_version: "0.0.1".into(),
            activation_id: "a".repeat(32),
            transaction_id: "t".into(),
            deadline: "1717000060000".into(),
            api_key: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["deadline"], json!("1717000060000"));
        assert!(v.get("api_key").is_none());
        assert_eq!(serde_json::from_value::<RunRequest>(v).unwrap(), r);
    }
}
