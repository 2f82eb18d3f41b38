//! The request as handlers see it, and the reply they give.

use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use owl_entity::identity::Identity;
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::transaction::TransactionId;

/// One HTTP request, read whole.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub tid: TransactionId,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub authorization: Option<String>,
}

impl Request {
    /// The last value given for a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter, read as the reference server reads them: `true`/`yes`/`on`/`1` and
    /// `false`/`no`/`off`/`0`, in any case.
    pub fn bool_param(&self, name: &str, default: bool) -> ApiResult<bool> {
        match self.query(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(ApiError::malformed_query(
                    name,
                    &format!("'{v}' is not a valid Boolean value"),
                )),
            },
        }
    }

    /// The body as JSON; an empty body is `{}`.
    pub fn json_body(&self) -> ApiResult<Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::malformed_body(&e.to_string()))
    }
}

/// What a handler needs: the shared state, the request and who sent it.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub req: &'a Request,
    pub identity: &'a Identity,
}

/// A successful answer.
#[derive(Debug)]
pub enum Reply {
    Json(StatusCode, Value),
    /// A plain-text body, as the reference server answers rule state changes and OPTIONS.
    Text(StatusCode, &'static str),
    NoContent,
    /// JSON about an activation: its id also goes in the `x-openwhisk-activation-id` header.
    Activation(StatusCode, Value, owl_entity::activation::ActivationId),
}

impl Reply {
    pub fn ok(v: Value) -> ApiResult<Reply> {
        Ok(Reply::Json(StatusCode::OK, v))
    }
}
