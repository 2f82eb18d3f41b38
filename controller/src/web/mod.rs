//! Web actions: `{METHOD} /api/v1/web/{namespace}/{package|default}/{action}[.{ext}][/{path}]`, an
//! action annotated `web-export: true` answering plain HTTP clients, without the API's credentials.
//!
//! Modules, in the order a request flows through them:
//!
//! - [`path`]: the path to the action's name, the extension that chooses the rendering, and the
//!   rest of the path (`__ow_path`).
//! - here, [`handle`]: the owner of the namespace, the action, its `web-export`, the owner's
//!   entitlement and throttles, the size, CORS and `OPTIONS`, `require-whisk-auth`.
//! - [`input`]: the request turned into the action's parameters (`__ow_*`, query and body).
//! - the invoke, through [`crate::activate`], as the owner, blocking for up to a minute.
//! - [`response`]: the activation turned into the HTTP answer the extension asks for.
//!
//! | outcome | answers |
//! |---|---|
//! | no such namespace, action, package; not `web-export: true`; `_` as namespace | 404 `The requested resource does not exist.` |
//! | the owner's throttles | 429 |
//! | body larger than the payload limit | 413 |
//! | `require-whisk-auth` not met | 401 |
//! | query or body sets a reserved or final parameter | 400 |
//! | no invoker | 503 |
//! | not done within a minute | 202 `Response not yet ready.` |
//! | done | the rendered result ([`response`]) |
//!
//! Everything after the action was found carries the CORS headers unless the action handles
//! `OPTIONS` itself (`web-custom-options: true`).

pub mod input;
pub mod path;
pub mod response;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use owl_entity::name::EntityName;
use serde_json::json;

use crate::activate::{self, Caller, Outcome, Slot};
use crate::entitlement::{self, Privilege};
use crate::error::{ApiError, ApiResult};
use crate::request::{Reply, Request};
use crate::{AppState, auth, invoke, messages, now_millis};

/// The longest a web request waits for its activation (upstream's blocking maximum).
const WAIT: Duration = Duration::from_millis(invoke::MAX_WAIT_MS);

pub async fn handle(state: &Arc<AppState>, req: &Request, segments: &[String]) -> ApiResult<Reply> {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    // A path with dot segments names nothing here: a proxy in front would resolve it to another
    // resource (outside the web API, with its own credentials), so it is not served as a web path.
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            messages::ROUTE_NOT_FOUND,
        ));
    }
    let target = path::parse(&segments)?;
    let received = now_millis();
    let caller = auth::authenticate_optional(state, req).await?;
    // Everything that fails before the action is known answers 404 alike: a web path must not tell
    // a missing namespace from a private action.
    let namespace = EntityName::new(&target.namespace).map_err(|_| ApiError::not_found())?;
    if namespace.is_default() {
        return Err(ApiError::not_found());
    }
    let owner = auth::owner_of(state, &namespace)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let package = target
        .package
        .as_deref()
        .map(EntityName::new)
        .transpose()
        .map_err(|_| ApiError::not_found())?;
    let name = EntityName::new(&target.action).map_err(|_| ApiError::not_found())?;
    let owner_caller = Caller {
        state: state.clone(),
        identity: owner,
        tid: req.tid.clone(),
    };
    let resolved = owner_caller
        .with_ctx(async |ctx| invoke::resolve(ctx, &namespace, package.as_ref(), &name).await)
        .await
        .map_err(|e| match e.status {
            StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                ApiError::not_found()
            }
            _ => e,
        })?;
    let annotations = &resolved.action.annotations;
    if !annotations.is_true("web-export") {
        return Err(ApiError::not_found());
    }
    let identity = &owner_caller.identity;
    let slot = Slot::acquire(state, identity, received)?;
    entitlement::check_action(
        state,
        identity,
        Privilege::Activate,
        &namespace,
        package.as_ref(),
        Some(&name),
    )
    .await?;
    let limit = state.config.payload_limit;
    if req.body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::request_too_large(req.body.len(), limit),
        ));
    }
    // From here on, answers carry CORS headers (unless the action does its own).
    let custom_options = annotations.is_true("web-custom-options");
    let cors = if custom_options {
        vec![]
    } else {
        response::cors_headers(&req.headers)
    };
    let with_cors = |mut w: response::WebResponse| {
        w.headers.extend(cors.iter().cloned());
        Reply::Web(w)
    };
    let error = |e: ApiError| with_cors(response::error_response(&e, req.tid.as_str()));
    if req.method == Method::OPTIONS && !custom_options {
        return Ok(with_cors(response::WebResponse::options()));
    }
    if !(req.method == Method::OPTIONS && custom_options) {
        let secret = req
            .headers
            .iter()
            .find(|(k, _)| k == "x-require-whisk-auth")
            .map(|(_, v)| v.as_str());
        if let Err(e) = response::require_auth(
            annotations.get("require-whisk-auth"),
            secret,
            caller.is_some(),
        ) {
            return Ok(error(e));
        }
    }
    let raw = annotations.is_true("raw-http");
    let request = input::WebRequest {
        method: &req.method,
        headers: &req.headers,
        query: &req.query,
        query_string: &req.query_string,
        body: &req.body[..],
        rest: &target.rest,
        user: caller.as_ref().map(|c| c.namespace.as_str()),
    };
    let defined = resolved.action.parameters.to_object();
    let args = match input::action_input(&request, raw, annotations.is_true("final"), &defined) {
        Ok(args) => args,
        // Overriding a reserved or final parameter is refused by the handler, with CORS; a body
        // that is not what its content type says is refused before it, as a client error.
        Err(e) if e.message == messages::PARAMETERS_NOT_ALLOWED => return Ok(error(e)),
        Err(e) => return Err(e),
    };
    let outcome =
        match activate::topmost(&owner_caller, resolved, args, Some(WAIT), slot, received).await {
            Ok(o) => o,
            Err(e) => return Ok(error(e)),
        };
    let reply = match outcome {
        Outcome::Done(a) => {
            let result = a.response.result.clone().unwrap_or_else(|| json!({}));
            let rendered = response::render(a.response.status_code, &result, target.extension)
                .unwrap_or_else(|e| response::error_response(&e, req.tid.as_str()));
            // A representation the request does not accept is refused before anything is sent.
            response::negotiate(&req.headers, &rendered)?;
            with_activation_id(with_cors(rendered), &a.activation_id)
        }
        Outcome::Pending(id) => with_activation_id(
            error(ApiError::new(
                StatusCode::ACCEPTED,
                messages::WEB_RESPONSE_NOT_READY,
            )),
            &id,
        ),
    };
    Ok(reply)
}

fn with_activation_id(reply: Reply, id: &owl_entity::activation::ActivationId) -> Reply {
    match reply {
        Reply::Web(mut w) => {
            w.headers
                .push(("x-openwhisk-activation-id".into(), id.to_string()));
            Reply::Web(w)
        }
        other => other,
    }
}
