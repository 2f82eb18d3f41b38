//! `POST /init` and `POST /run` against a container, and what their answers mean for the activation.
//!
//! | what happened | outcome |
//! |---|---|
//! | `/run` 200 with an object without `error`, or an array | success |
//! | `/run` 200 with an object with `error` | application error, result as given |
//! | result larger than the limit | application error quoting its start |
//! | `/run` not 200 | developer error: its `error`, else the raw answer |
//! | `/run` 200 but not an object or array | developer error |
//! | `/init` not 200 | developer error: its `error`, else the raw answer |
//! | `/init` or `/run` past the time limit | developer error naming the limit |
//! | the container died, or Owl's proxy says the action's process did | developer error (memory exhausted, or exited unexpectedly) |
//!
//! As upstream's `ActivationResponse.processInitResponseContent` and `processRunResponseContent`:
//! every answer the container gave is recorded with its `size`, the length of its body as a Java
//! string (UTF-16 code units); deaths and time limits have none.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use owl_entity::activation::StatusCode;
use owl_entity::container::{DIED_EXITED, DIED_HEADER, DIED_OUT_OF_MEMORY};
use serde_json::{Value, json};

/// How one call to a container ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Status(u16, String),
    TimedOut,
    /// The connection failed or broke: the container is gone or dying.
    Broken(String),
    /// Owl's proxy says the action's process was killed for memory.
    OutOfMemory,
}

/// What a run produced, ready for the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: StatusCode,
    pub result: Value,
    pub size: Option<u64>,
    /// The time limit was hit.
    pub timeout: bool,
}

impl Outcome {
    pub fn developer_error(message: impl Into<String>) -> Outcome {
        Outcome {
            status: StatusCode::DeveloperError,
            result: json!({"error": message.into()}),
            size: None,
            timeout: false,
        }
    }

    pub fn whisk_error(message: impl Into<String>) -> Outcome {
        Outcome {
            status: StatusCode::WhiskError,
            result: json!({"error": message.into()}),
            size: None,
            timeout: false,
        }
    }

    pub fn application_error(message: impl Into<String>) -> Outcome {
        Outcome {
            status: StatusCode::ApplicationError,
            result: json!({"error": message.into()}),
            size: None,
            timeout: false,
        }
    }

    /// Statuses that leave the container warm.
    pub fn keeps_container(&self) -> bool {
        matches!(
            self.status,
            StatusCode::Success | StatusCode::ApplicationError
        )
    }
}

pub const EXITED_DURING_INIT: &str = "The action did not initialize and exited unexpectedly.";
pub const EXITED_DURING_RUN: &str =
    "The action did not produce a valid response and exited unexpectedly.";
pub const MEMORY_EXHAUSTED: &str = "The action exhausted its memory and was aborted.";

pub fn timed_out(limit_ms: i64, init: bool) -> String {
    format!(
        "The action exceeded its time limits of {limit_ms} milliseconds{}",
        if init { " during initialization." } else { "." }
    )
}

/// Talks to containers. One client for all: it keeps a connection per container address.
#[derive(Clone)]
pub struct ContainerClient {
    http: reqwest::Client,
}

impl Default for ContainerClient {
    fn default() -> Self {
        ContainerClient {
            http: reqwest::Client::builder()
                .no_proxy()
                .pool_idle_timeout(Duration::from_secs(30))
                .tcp_nodelay(true)
                .build()
                .expect("an HTTP client without TLS builds"),
        }
    }
}

impl ContainerClient {
    async fn post(&self, addr: SocketAddr, path: &str, body: Vec<u8>, timeout: Duration) -> Answer {
        let send = self
            .http
            .post(format!("http://{addr}{path}"))
            .header("Content-Type", "application/json")
            .body(body)
            .timeout(timeout)
            .send()
            .await;
        match send {
            Ok(r) => {
                let status = r.status().as_u16();
                let died = r
                    .headers()
                    .get(DIED_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match r.text().await {
                    Ok(_) if died.as_deref() == Some(DIED_OUT_OF_MEMORY) => Answer::OutOfMemory,
                    Ok(_) if died.as_deref() == Some(DIED_EXITED) => {
                        Answer::Broken("the action's process exited".into())
                    }
                    Ok(t) => Answer::Status(status, t),
                    Err(e) if e.is_timeout() => Answer::TimedOut,
                    Err(e) => Answer::Broken(e.to_string()),
                }
            }
            Err(e) if e.is_timeout() => Answer::TimedOut,
            Err(e) => Answer::Broken(e.to_string()),
        }
    }

    /// `/init`, once the container's proxy answers HTTP at all. It is sent once: a resent `/init`
    /// would meet a container that took the first.
    pub async fn init(&self, addr: SocketAddr, body: Vec<u8>, timeout: Duration) -> Answer {
        let started = Instant::now();
        // Until the proxy listens, a connection is refused, or (through Docker's port proxy)
        // accepted and dropped; any answer, even a 404, means it listens.
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Answer::TimedOut;
            }
            let probe = self
                .http
                .get(format!("http://{addr}/"))
                .timeout(left)
                .send()
                .await;
            match probe {
                Ok(_) => break,
                Err(e) if e.is_timeout() => return Answer::TimedOut,
                Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Answer::TimedOut;
        }
        self.post(addr, "/init", body, left).await
    }

    pub async fn run(&self, addr: SocketAddr, body: Vec<u8>, timeout: Duration) -> Answer {
        self.post(addr, "/run", body, timeout).await
    }
}

/// The error text of a runtime's answer: its `error` field if it has one, else `fallback` with the raw body.
fn error_of(body: &str, fallback: &str) -> Value {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(o)) if o.contains_key("error") => o["error"].clone(),
        _ if body.is_empty() => json!(format!("{fallback}.")),
        _ => json!(format!("{fallback}: {body}")),
    }
}

/// A body's length as upstream records it: `String.length` in Java, UTF-16 code units.
fn size_of(body: &str) -> Option<u64> {
    Some(body.encode_utf16().count() as u64)
}

/// A failed init: `None` when it succeeded.
pub fn init_failure(answer: &Answer, limit_ms: i64, oom: bool) -> Option<Outcome> {
    match answer {
        Answer::Status(200, _) => None,
        Answer::Status(_, body) => Some(Outcome {
            status: StatusCode::DeveloperError,
            result: json!({"error": error_of(body, "The action failed during initialization")}),
            size: size_of(body),
            timeout: false,
        }),
        Answer::OutOfMemory => Some(Outcome::developer_error(MEMORY_EXHAUSTED)),
        Answer::TimedOut => Some(Outcome {
            timeout: true,
            ..Outcome::developer_error(timed_out(limit_ms, true))
        }),
        Answer::Broken(_) => Some(Outcome::developer_error(if oom {
            MEMORY_EXHAUSTED
        } else {
            EXITED_DURING_INIT
        })),
    }
}

/// What a run's answer means.
pub fn run_outcome(answer: Answer, limit_ms: i64, result_limit: usize, oom: bool) -> Outcome {
    match answer {
        Answer::Status(200, body) => {
            let size = size_of(&body);
            if body.len() > result_limit {
                let mut cut = result_limit;
                while !body.is_char_boundary(cut) {
                    cut -= 1;
                }
                return Outcome {
                    size: Some(body.len() as u64),
                    ..Outcome::application_error(format!(
                        "The action produced a response that exceeded the allowed length: {} > {} bytes. The truncated response was: {}",
                        body.len(),
                        result_limit,
                        &body[..cut]
                    ))
                };
            }
            match serde_json::from_str::<Value>(&body) {
                Ok(v @ Value::Object(_)) => {
                    let status = if v.get("error").is_some() {
                        StatusCode::ApplicationError
                    } else {
                        StatusCode::Success
                    };
                    Outcome {
                        status,
                        result: v,
                        size,
                        timeout: false,
                    }
                }
                Ok(v @ Value::Array(_)) => Outcome {
                    status: StatusCode::Success,
                    result: v,
                    size,
                    timeout: false,
                },
                _ => Outcome {
                    size,
                    ..Outcome::developer_error(format!(
                        "The action did not produce a valid JSON or JSON Array response{}",
                        if body.is_empty() {
                            ".".to_string()
                        } else {
                            format!(": {body}")
                        }
                    ))
                },
            }
        }
        Answer::Status(_, _) if oom => Outcome::developer_error(MEMORY_EXHAUSTED),
        Answer::Status(_, body) => Outcome {
            status: StatusCode::DeveloperError,
            result: json!({"error": error_of(&body, "The action did not produce a valid JSON or JSON Array response")}),
            size: size_of(&body),
            timeout: false,
        },
        Answer::OutOfMemory => Outcome::developer_error(MEMORY_EXHAUSTED),
        Answer::TimedOut => Outcome {
            timeout: true,
            ..Outcome::developer_error(timed_out(limit_ms, false))
        },
        Answer::Broken(_) => Outcome::developer_error(if oom {
            MEMORY_EXHAUSTED
        } else {
            EXITED_DURING_RUN
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: u16, body: &str) -> Outcome {
        run_outcome(Answer::Status(status, body.into()), 1000, 1024, false)
    }

    #[test]
    fn answers_are_classified_as_upstream_classifies_them() {
        assert_eq!(run(200, r#"{"a":1}"#).status, StatusCode::Success);
        assert_eq!(run(200, "[1]").status, StatusCode::Success);
        assert_eq!(
            run(200, r#"{"error":"x"}"#).status,
            StatusCode::ApplicationError
        );
        assert_eq!(
            run(502, r#"{"error":"boom"}"#).result,
            json!({"error": "boom"})
        );
        assert_eq!(
            run(502, r#"{"error":"boom"}"#).status,
            StatusCode::DeveloperError
        );
        assert_eq!(
            run(200, "\"str\"").result,
            json!({"error": "The action did not produce a valid JSON or JSON Array response: \"str\""})
        );
        assert_eq!(
            run(500, "").result,
            json!({"error": "The action did not produce a valid JSON or JSON Array response."})
        );
    }

    #[test]
    fn time_limits_and_deaths_are_developer_errors_that_say_so() {
        let t = run_outcome(Answer::TimedOut, 3000, 10, false);
        assert_eq!((t.status, t.timeout), (StatusCode::DeveloperError, true));
        assert_eq!(
            t.result,
            json!({"error": "The action exceeded its time limits of 3000 milliseconds."})
        );
        let oom = run_outcome(Answer::Broken("reset".into()), 3000, 10, true);
        assert_eq!(oom.result, json!({"error": MEMORY_EXHAUSTED}));
        let init = init_failure(&Answer::TimedOut, 100, false).unwrap();
        assert_eq!(
            init.result,
            json!({"error": "The action exceeded its time limits of 100 milliseconds during initialization."})
        );
        assert!(init_failure(&Answer::Status(200, "{}".into()), 100, false).is_none());
    }

    #[test]
    fn answers_are_recorded_with_their_size_as_a_java_string_length_and_deaths_without() {
        let init = init_failure(
            &Answer::Status(
                502,
                "{\"error\":\"Cannot start action. Check logs for details.\"}\n".into(),
            ),
            100,
            false,
        )
        .unwrap();
        assert_eq!(
            (init.status, init.result, init.size),
            (
                StatusCode::DeveloperError,
                json!({"error": "Cannot start action. Check logs for details."}),
                Some(57)
            )
        );
        let exited = init_failure(&Answer::Broken("reset".into()), 100, false).unwrap();
        assert_eq!(
            (exited.result, exited.size),
            (json!({"error": EXITED_DURING_INIT}), None)
        );
        let oom = init_failure(&Answer::OutOfMemory, 100, false).unwrap();
        assert_eq!(
            (oom.result, oom.size),
            (json!({"error": MEMORY_EXHAUSTED}), None)
        );
        let oom = run_outcome(Answer::OutOfMemory, 100, 10, false);
        assert_eq!(
            (oom.status, oom.result, oom.size),
            (
                StatusCode::DeveloperError,
                json!({"error": MEMORY_EXHAUSTED}),
                None
            )
        );
        // A snowman is one UTF-16 unit, an emoji two.
        assert_eq!(run(200, "{\"s\":\"\u{2603}\u{1F600}\"}").size, Some(11));
        let null = run(200, "null\n");
        assert_eq!(
            (null.status, null.result, null.size),
            (
                StatusCode::DeveloperError,
                json!({"error": "The action did not produce a valid JSON or JSON Array response: null\n"}),
                Some(5)
            )
        );
        assert_eq!(
            run(200, "").result,
            json!({"error": "The action did not produce a valid JSON or JSON Array response."})
        );
    }

    #[test]
    fn results_over_the_limit_are_application_errors_quoting_their_start() {
        let big = format!("{{\"x\":\"{}\"}}", "y".repeat(2000));
        let o = run(200, &big);
        assert_eq!(o.status, StatusCode::ApplicationError);
        let e = o.result["error"].as_str().unwrap();
        assert!(e.starts_with(&format!("The action produced a response that exceeded the allowed length: {} > 1024 bytes. The truncated response was: {{\"x\"", big.len())));
    }
}
