//! The proxy's error answers: a status and `{"error": "<message>"}`, as OpenWhisk's runtimes answer.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProxyError {
    pub status: u16,
    pub message: String,
}

impl ProxyError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ProxyError {
            status,
            message: message.into(),
        }
    }

    /// 403: a second `/init`.
    pub fn already_initialized() -> Self {
        Self::new(403, "Cannot initialize the action more than once.")
    }

    /// 403: `/init` without a string `main` and code.
    pub fn missing_main_or_code() -> Self {
        Self::new(403, "Missing main/no code to execute.")
    }

    /// 502: the action could not be loaded.
    pub fn init_failed(detail: &str) -> Self {
        Self::new(502, format!("Initialization has failed due to: {detail}"))
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY))
            .content_type("application/json")
            .body(json!({"error": self.message}).to_string())
    }
}
