//! The transaction id: taken from the request's `X-Request-ID` (unless it claims the system prefix
//! `sid_`), otherwise minted as 32 random alphanumeric characters. It is echoed on every response,
//! is the `code` of every error body, and travels with everything the request causes.

use std::fmt;

use actix_web::HttpRequest;
use rand::Rng;
use rand::distr::Alphanumeric;

pub const HEADER: &str = "X-Request-ID";
pub const HEADER_LOWER: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionId(String);

impl TransactionId {
    pub fn mint() -> Self {
        TransactionId(
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(32)
                .map(char::from)
                .collect(),
        )
    }

    pub fn from_request(req: &HttpRequest) -> Self {
        req.headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 256 && !v.starts_with("sid_"))
            .map(|v| TransactionId(v.to_string()))
            .unwrap_or_else(TransactionId::mint)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
