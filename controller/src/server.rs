//! The HTTP server. Every request enters through [`entry`], which reads it whole, hands it to the
//! route table and turns the outcome into a response with the transaction id and CORS headers.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, BytesMut};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use serde_json::json;

use crate::error::ApiError;
use crate::request::{Reply, Request};
use crate::transaction::TransactionId;
use crate::{AppState, messages, routes};

/// On every `/api/v1` response (header names in the lower case HTTP/2 requires).
pub const CORS_HEADERS: [(&str, &str); 3] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-allow-methods",
        "GET, DELETE, POST, PUT, HEAD",
    ),
    (
        "access-control-allow-headers",
        "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
    ),
];

/// Starts serving on every one of `listeners` (the same API on each: in standalone, the address
/// asked for and the Docker bridge's gateway that actions call back on). The returned server runs
/// until stopped (or a signal stops it).
pub fn serve(
    listeners: impl IntoIterator<Item = TcpListener>,
    state: Arc<AppState>,
    workers: usize,
) -> std::io::Result<Server> {
    let edge = state.config.edge;
    let workers = workers.max(1);
    let data = web::Data::from(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(entry))
    })
    .workers(workers)
    // A slow head is cut off here (408); a slow body in `entry`. The blocking wait of an invoke
    // (60 s at most) is the handler's, which no timeout here bounds.
    .client_request_timeout(edge.header_timeout)
    .keep_alive(edge.keep_alive)
    .max_connections(edge.max_connections.div_ceil(workers).max(1))
    .shutdown_timeout(5);
    for listener in listeners {
        server = server.listen(listener)?;
    }
    Ok(server.run())
}

async fn entry(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let tid = TransactionId::from_request(&req);
    let max = state.config.max_body;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // actix hands a CONNECT or an `Upgrade` request the rest of the connection as its body, which
    // never ends: Owl serves neither, so such a request is answered as if it had no body, and its
    // connection is closed after the answer.
    let tunnel = req.method() == Method::CONNECT || req.headers().contains_key(header::UPGRADE);
    let body_timeout = state.config.edge.body_timeout;
    let outcome = match declared {
        _ if tunnel => Ok(BytesMut::new()),
        Some(n) if n > max => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            messages::request_too_large(n, max),
        )),
        _ => match tokio::time::timeout(body_timeout, read_body(&mut payload, max)).await {
            Ok(read) => read,
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                messages::BODY_TIMEOUT,
            )),
        },
    };
    let outcome = match outcome {
        Ok(body) => {
            let request = Request {
                method: req.method().clone(),
                path: req.uri().path().to_string(),
                tid: tid.clone(),
                query: web::Query::<Vec<(String, String)>>::from_query(req.query_string())
                    .map(|q| q.into_inner())
                    .unwrap_or_default(),
                query_string: req.query_string().to_string(),
                body: body.freeze(),
                authorization: req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                headers: req
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                    })
                    .collect(),
            };
            if let Some(e) = unsupported_content_type(&req, &request) {
                Err(e)
            } else {
                routes::dispatch(&state, &request).await
            }
        }
        Err(e) => Err(e),
    };
    // A web action's answer carries its own CORS headers (or none, with `web-custom-options`).
    let web = matches!(outcome, Ok(Reply::Web(_)));
    let timed_out = matches!(&outcome, Err(e) if e.status == StatusCode::REQUEST_TIMEOUT);
    let mut response = respond(outcome, &tid);
    if tunnel || timed_out {
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tid.as_str()) {
        headers.insert(
            header::HeaderName::from_static(crate::transaction::HEADER_LOWER),
            v,
        );
    }
    if req.path().starts_with("/api/v1") && !web {
        for (k, v) in CORS_HEADERS {
            headers.insert(
                header::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            );
        }
    }
    tracing::debug!(
        tid = %tid, method = %req.method(), path = req.path(), status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64, "request"
    );
    response
}

async fn read_body(payload: &mut web::Payload, max: usize) -> Result<BytesMut, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::malformed_body(&e.to_string()))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                messages::request_too_large(body.len() + chunk.len(), max),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A body on PUT or POST must be JSON, as the reference server's unmarshallers require.
fn unsupported_content_type(req: &HttpRequest, r: &Request) -> Option<ApiError> {
    if r.body.is_empty()
        || !(r.method == actix_web::http::Method::PUT || r.method == actix_web::http::Method::POST)
    {
        return None;
    }
    // Web actions (a later concern) take any content type.
    if r.path.starts_with("/api/v1/web/") {
        return None;
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (mime != "application/json").then(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            messages::UNSUPPORTED_CONTENT_TYPE,
        )
    })
}

fn respond(outcome: Result<Reply, ApiError>, tid: &TransactionId) -> HttpResponse {
    match outcome {
        Ok(Reply::Json(status, v)) => HttpResponse::build(status)
            .content_type("application/json")
            .body(v.to_string()),
        Ok(Reply::JsonText(status, text)) => HttpResponse::build(status)
            .content_type("application/json")
            .body(text),
        Ok(Reply::Text(status, t)) => HttpResponse::build(status)
            .content_type("text/plain; charset=UTF-8")
            .body(t),
        Ok(Reply::NoContent) => HttpResponse::NoContent().finish(),
        Ok(Reply::Activation(status, v, id)) => HttpResponse::build(status)
            .content_type("application/json")
            .insert_header(("x-openwhisk-activation-id", id.to_string()))
            .body(v.to_string()),
        Ok(Reply::Web(w)) => {
            let mut b = HttpResponse::build(w.status);
            for (k, v) in w.headers {
                b.append_header((k, v));
            }
            b.body(w.body)
        }
        Err(e) => {
            let mut b = HttpResponse::build(e.status);
            if e.status == StatusCode::UNAUTHORIZED {
                b.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"OpenWhisk secure realm\"",
                ));
            }
            b.content_type("application/json")
                .body(json!({"error": e.message, "code": tid.as_str()}).to_string())
        }
    }
}
