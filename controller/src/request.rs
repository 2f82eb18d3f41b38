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
    /// The query as sent, undecoded (a raw-http web action receives it as `__ow_query`).
    pub query_string: String,
    pub body: Bytes,
    pub authorization: Option<String>,
    /// The request's headers, names in lower case, in the order received (a trigger fire hands them
    /// to its rules' actions as `__ow_headers`).
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A request Owl makes of itself, as if a client had sent it: a rule's invoke on a trigger fire,
    /// a scheduled fire, a feed checking its trigger. It runs the same handlers with the identity the
    /// caller resolved, without HTTP.
    pub fn internal(method: Method, path: String, tid: TransactionId, body: Bytes) -> Request {
        Request {
            method,
            path,
            tid,
            query: Vec::new(),
            query_string: String::new(),
            body,
            authorization: None,
            headers: Vec::new(),
        }
    }

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
    /// Shared, so that work a request starts may outlive it (a trigger fire's rules).
    pub state: &'a std::sync::Arc<AppState>,
    pub req: &'a Request,
    pub identity: &'a Identity,
}

impl<'a> Ctx<'a> {
    /// Runs `handler` on a request Owl makes of itself ([`Request::internal`]) as `identity`: the
    /// handler sees it as it would see a client's.
    pub async fn internal<T>(
        state: &'a std::sync::Arc<AppState>,
        identity: &'a Identity,
        tid: &TransactionId,
        (method, path): (Method, String),
        body: Bytes,
        handler: impl AsyncFnOnce(&Ctx<'_>) -> T,
    ) -> T {
        let req = Request::internal(method, path, tid.clone(), body);
        handler(&Ctx {
            state,
            req: &req,
            identity,
        })
        .await
    }
}

/// A successful answer.
#[derive(Debug)]
pub enum Reply {
    Json(StatusCode, Value),
    /// JSON written straight from a typed value ([`Reply::entity`]), with no tree between.
    JsonText(StatusCode, String),
    /// A plain-text body, as the reference server answers rule state changes and OPTIONS.
    Text(StatusCode, &'static str),
    NoContent,
    /// JSON about an activation: its id also goes in the `x-openwhisk-activation-id` header.
    Activation(StatusCode, Value, owl_entity::activation::ActivationId),
    /// A web action's answer, whole: its status, headers (CORS included) and body as they go out.
    Web(crate::web::response::WebResponse),
}

impl Reply {
    pub fn ok(v: Value) -> ApiResult<Reply> {
        Ok(Reply::Json(StatusCode::OK, v))
    }

    /// 200 with an entity as JSON, written in one pass: one with tens of thousands of parameters
    /// costs its size once, where a JSON tree first would cost it several times over.
    pub fn entity(e: &impl serde::Serialize) -> Reply {
        Reply::JsonText(
            StatusCode::OK,
            serde_json::to_string(e).expect("entities serialize"),
        )
    }
}
