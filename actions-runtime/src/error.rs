//! The proxy's error answers: a status and `{"error": "<message>"}`, as OpenWhisk's runtimes answer,
//! in the shape of the proxy upstream runs for the container's runtime (see
//! [`Flavor`]): the actionloop proxy (Go, in front of Python, PHP and Go) escapes `<`, `>` and `&`
//! and ends the body with a newline; Node.js's Express server, Java's proxy, Ruby's Rack
//! application and the dockerskeleton write compact JSON. The invoker records the body's length as the activation's `size`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use owl_entity::container::{DIED_EXITED, DIED_HEADER, DIED_OUT_OF_MEMORY};
use serde_json::json;

use crate::config::{Flavor, Runtime};

/// How the action's process ended a request it did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    Exited,
    OutOfMemory,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProxyError {
    pub status: u16,
    pub message: String,
    /// The action's process died: the answer stands for a broken connection (see
    /// [`DIED_HEADER`]).
    pub died: Option<Death>,
}

/// Node.js: the action's process exited during `/init` (upstream's container dies with it).
pub const EXITED_DURING_INIT: &str = "The action did not initialize and exited unexpectedly.";
/// Node.js: the action's process exited during `/run`.
pub const EXITED_DURING_RUN: &str =
    "The action did not produce a valid response and exited unexpectedly.";
pub const MEMORY_EXHAUSTED: &str = "The action exhausted its memory and was aborted.";
/// The actionloop proxy when the action's code cannot be built (`OW_LOG_INIT_ERROR` set, as
/// in upstream's Python images: the details go to the log).
pub const CANNOT_BUILD: &str =
    "The action failed to generate or locate a binary. See logs for details.";
/// The actionloop proxy when the action's process does not start (details in the log).
pub const CANNOT_START: &str = "Cannot start action. Check logs for details.";
/// The actionloop proxy's log line when the process exits before acknowledging.
pub const EXITED_ABRUPTLY: &str = "Command exited abruptly during initialization.";
/// The actionloop proxy when the action's process exited during `/run`.
pub const COMMAND_EXITED: &str = "command exited";
/// The actionloop proxy without `OW_WAIT_FOR_ACK` (PHP) when the process exits as it starts.
pub const NOT_STARTED: &str = "cannot start action: command exited";
/// Ruby's application when the action's code exits or raises as it loads (its output parts are in
/// the log, not here).
pub const METHOD_CHECK_FAILED: &str = "Invalid Ruby Code: method checking failed /  / ";
/// Ruby's application when binary code is not a zip.
pub const NOT_A_BUNDLE: &str = "Invalid Binary: failed to open zip file. Please make sure you have finished $bundle package successfully.";
/// Ruby's application when the action's process fails during `/run`.
pub const RUN_FAILED_RACK: &str = "Invalid Action: An error occurred running the action";

impl ProxyError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ProxyError {
            status,
            message: message.into(),
            died: None,
        }
    }

    /// The action's process died during the request.
    pub fn died(death: Death, message: impl Into<String>) -> Self {
        ProxyError {
            status: 502,
            message: message.into(),
            died: Some(death),
        }
    }

    /// The action's process was killed for memory.
    pub fn out_of_memory() -> Self {
        Self::died(Death::OutOfMemory, MEMORY_EXHAUSTED)
    }

    /// A second `/init`: 403, but 502 from Java's proxy.
    pub fn already_initialized(flavor: Flavor) -> Self {
        let status = if flavor == Flavor::Java { 502 } else { 403 };
        Self::new(status, "Cannot initialize the action more than once.")
    }

    /// `/init` without code (or, but for Java and Ruby, with empty code or `main`): 403, but 502
    /// from Java's proxy and 500 from Ruby's application.
    pub fn missing_main_or_code(flavor: Flavor) -> Self {
        let status = match flavor {
            Flavor::Java => 502,
            Flavor::Rack => 500,
            Flavor::NodeJs | Flavor::ActionLoop | Flavor::Skeleton => 403,
        };
        Self::new(status, "Missing main/no code to execute.")
    }

    /// 502: the Node.js action could not be loaded.
    pub fn init_failed(detail: &str) -> Self {
        Self::new(502, format!("Initialization has failed due to: {detail}"))
    }

    pub fn response(&self, runtime: Runtime) -> HttpResponse {
        let mut r = HttpResponse::build(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY),
        );
        r.content_type("application/json");
        match self.died {
            Some(Death::Exited) => {
                r.insert_header((DIED_HEADER, DIED_EXITED));
            }
            Some(Death::OutOfMemory) => {
                r.insert_header((DIED_HEADER, DIED_OUT_OF_MEMORY));
            }
            None => {}
        }
        r.body(error_body(runtime, &self.message))
    }
}

/// `{"error": message}` as the runtime's own server writes it.
pub fn error_body(runtime: Runtime, message: &str) -> String {
    let compact = json!({ "error": message }).to_string();
    match runtime.flavor() {
        Flavor::ActionLoop => format!("{}\n", go_escaped(&compact)),
        Flavor::NodeJs | Flavor::Java | Flavor::Rack | Flavor::Skeleton => compact,
    }
}

/// JSON text as Go's `json.Marshal` writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped (they can
/// only occur inside strings, so replacing them everywhere is safe).
pub fn go_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_error_bodies_are_written_as_gos_json_marshal_writes_them() {
        assert_eq!(
            error_body(Runtime::Python, "a <b> & c\u{2028}"),
            "{\"error\":\"a \\u003cb\\u003e \\u0026 c\\u2028\"}\n"
        );
        assert_eq!(
            error_body(Runtime::NodeJs, "a <b>"),
            "{\"error\":\"a <b>\"}"
        );
    }
}
