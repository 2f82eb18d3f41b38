//! The proxy's two routes and the container's lifecycle.
//!
//! | request | answers |
//! |---|---|
//! | `POST /init` | 200 `{"ok":true}`; 403 a second init, or no string `main`/`code`; 502 the action could not be loaded (the container then answers every run with that error) |
//! | `POST /run` | 200 the result (a JSON object or array); 403 before init or a non-object argument; 502 a failed init, an action that threw, exited or did not return an object or array |
//!
//! After every run, and after a failed init, the sentinel line goes to stdout and stderr.
//! Runs are served one at a time, in the order they came, unless the container was started with
//! `__OW_ALLOW_CONCURRENT=true` and runs Node.js: then they overlap (the invoker sends at most the
//! action's `limits.concurrency` at once).

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use owl_entity::container::{InitRequest, SENTINEL};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, Semaphore};

use crate::archive;
use crate::config::{Config, Runtime};
use crate::error::ProxyError;
use crate::launcher::{DEVELOPER_ERROR_KEY, Launcher, RunFailure, Running};
use crate::native;

/// Where the container is in its life. Legal moves: `Empty` to `Ready` or `Failed` by `/init`; nothing
/// leaves `Failed`; `Ready` stays `Ready` (a launcher that dies is started again at the next run).
enum State {
    Empty,
    Ready(Arc<Loaded>),
    Failed(String),
}

struct Loaded {
    kind: ActionKind,
    env: Map<String, Value>,
}

enum ActionKind {
    /// A Node.js or Python action and its running launcher (none after it died).
    Launched {
        dir: PathBuf,
        main: String,
        file: Option<PathBuf>,
        /// The running launcher; none after it died, until the next run starts it again.
        launcher: Mutex<Option<Arc<Running>>>,
    },
    /// A native executable, started per run.
    Native { exec: PathBuf },
}

struct Shared {
    config: Config,
    /// Held for a whole `/init`, and only to read the state by a run.
    state: Mutex<State>,
    /// One permit when runs are served one at a time: a fair semaphore keeps their order.
    one_at_a_time: Option<Semaphore>,
    /// A launcher started with the container, waiting for the action `/init` brings.
    standby: Mutex<Option<Launcher>>,
}

pub fn serve(listener: TcpListener, config: Config) -> std::io::Result<Server> {
    let concurrent = config.allow_concurrent && config.runtime == Runtime::NodeJs;
    let shared = web::Data::new(Shared {
        one_at_a_time: (!concurrent).then(|| Semaphore::new(1)),
        config,
        state: Mutex::new(State::Empty),
        standby: Mutex::new(None),
    });
    Ok(HttpServer::new(move || {
        // The standby launcher starts here, on the worker's runtime, where its pipes are then used.
        if matches!(shared.config.runtime, Runtime::NodeJs | Runtime::Python)
            && let Ok(mut slot) = shared.standby.try_lock()
            && slot.is_none()
        {
            *slot = Launcher::standby(&shared.config).ok();
        }
        App::new()
            .app_data(shared.clone())
            .route("/init", web::post().to(init))
            .route("/run", web::post().to(run))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .run())
}

/// A bare HTTP echo on the same server stack: the floor the benchmark measures the proxy against.
pub fn serve_echo(listener: TcpListener) -> std::io::Result<Server> {
    Ok(HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .default_service(web::to(|body: Bytes| async move { ok_json(body) }))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .run())
}

fn sentinels() {
    let _ = writeln!(std::io::stdout().lock(), "{SENTINEL}");
    let _ = std::io::stdout().flush();
    let _ = writeln!(std::io::stderr().lock(), "{SENTINEL}");
}

fn ok_json(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

/// The largest `/init` or `/run` body read (OpenWhisk's own limits are far below: 48 MB of code, 1 MB
/// of parameters).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Reads a body whole, refusing one over [`MAX_BODY`] with a JSON error rather than the HTTP
/// framework's plain text.
async fn read_body(mut payload: web::Payload) -> Result<Bytes, ProxyError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ProxyError::new(400, format!("The request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ProxyError::new(
                413,
                format!("The request body is larger than {MAX_BODY} bytes."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn init(shared: web::Data<Shared>, payload: web::Payload) -> HttpResponse {
    let body = match read_body(payload).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let mut state = shared.state.lock().await;
    if !matches!(*state, State::Empty) {
        return ProxyError::already_initialized().response();
    }
    let standby = shared.standby.lock().await.take();
    match load(&shared.config, &body, standby).await {
        Ok(loaded) => {
            *state = State::Ready(Arc::new(loaded));
            ok_json(r#"{"ok":true}"#)
        }
        Err(e) => {
            if e.status == 502 {
                *state = State::Failed(e.message.clone());
            }
            sentinels();
            e.response()
        }
    }
}

/// Writes or unpacks the code and, for Node.js and Python, starts the launcher.
async fn load(
    config: &Config,
    body: &[u8],
    standby: Option<Launcher>,
) -> Result<Loaded, ProxyError> {
    let req: InitRequest =
        serde_json::from_slice(body).map_err(|_| ProxyError::missing_main_or_code())?;
    let v = req.value;
    let dir = config.action_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| ProxyError::init_failed(&e.to_string()))?;
    let failed = |e: String| ProxyError::init_failed(&e);
    match config.runtime {
        Runtime::Native => {
            let exec = dir.join("exec");
            let has_code = v.code.as_deref().is_some_and(|c| !c.trim().is_empty());
            if has_code {
                // Code replaces the image's own executable: a zip without `exec` must fail, not
                // silently run what the image shipped.
                let _ = std::fs::remove_file(&exec);
            }
            match (&v.code, v.binary) {
                (None, _) => {}
                (Some(c), _) if c.trim().is_empty() => {}
                (Some(c), true) => {
                    let bytes = archive::decode_base64(c).map_err(failed)?;
                    if archive::is_zip(&bytes) {
                        archive::unzip(&bytes, &dir).map_err(failed)?;
                    } else {
                        write_executable(&exec, &bytes).map_err(failed)?;
                    }
                }
                (Some(c), false) => write_executable(&exec, c.as_bytes()).map_err(failed)?,
            }
            if !is_executable(&exec) {
                return Err(ProxyError::new(
                    502,
                    "The action failed to generate or locate a binary. See logs for details.",
                ));
            }
            Ok(Loaded {
                kind: ActionKind::Native { exec },
                env: v.env,
            })
        }
        Runtime::NodeJs | Runtime::Python => {
            let Some(code) = v.code.as_deref() else {
                return Err(ProxyError::missing_main_or_code());
            };
            let file = if v.binary {
                let bytes = archive::decode_base64(code).map_err(failed)?;
                if !archive::is_zip(&bytes) {
                    return Err(failed(
                        "There was an error uncompressing the action archive.".into(),
                    ));
                }
                archive::unzip(&bytes, &dir).map_err(failed)?;
                None
            } else {
                let name = if config.runtime == Runtime::NodeJs {
                    "action.js"
                } else {
                    "action.py"
                };
                let f = dir.join(name);
                std::fs::write(&f, code).map_err(|e| failed(e.to_string()))?;
                Some(f)
            };
            let standby = standby.and_then(|mut l| (!l.exited()).then_some(l));
            let launcher = match standby {
                Some(l) => l.load(&dir, &v.main, file.as_deref(), &v.env).await,
                None => Launcher::start(config, &dir, &v.main, file.as_deref(), &v.env).await,
            }
            .map_err(failed)?;
            Ok(Loaded {
                kind: ActionKind::Launched {
                    dir,
                    main: v.main,
                    file,
                    launcher: Mutex::new(Some(Arc::new(launcher))),
                },
                env: v.env,
            })
        }
    }
}

fn write_executable(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).map_err(|e| e.to_string())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

async fn run(shared: web::Data<Shared>, payload: web::Payload) -> HttpResponse {
    let body = match read_body(payload).await {
        Ok(b) => b,
        Err(e) => {
            sentinels();
            return e.response();
        }
    };
    let loaded = match &*shared.state.lock().await {
        State::Empty => Err(ProxyError::new(403, "The action has not been initialized.")),
        State::Failed(message) => Err(ProxyError::new(502, message.clone())),
        State::Ready(loaded) => Ok(loaded.clone()),
    };
    let response = match loaded {
        Err(e) => e.response(),
        Ok(loaded) => {
            let _turn = match &shared.one_at_a_time {
                Some(s) => s.acquire().await.ok(),
                None => None,
            };
            match activate(&shared.config, &loaded, &body).await {
                Ok(result) => ok_json(result),
                Err(e) => e.response(),
            }
        }
    };
    sentinels();
    response
}

/// The parts of a `/run` body the proxy looks at; the rest goes to the launcher as it came.
#[derive(serde::Deserialize)]
struct RunBody<'a> {
    #[serde(borrow)]
    value: Option<&'a serde_json::value::RawValue>,
}

fn not_an_object() -> ProxyError {
    ProxyError::new(
        403,
        "Internal system error: the body must be a JSON object.",
    )
}

fn not_a_dictionary(type_name: &str) -> ProxyError {
    ProxyError::new(
        403,
        format!(
            "Internal system error: the argument must be a dictionary but has type '{type_name}'."
        ),
    )
}

/// A `/run` body whose `value` is a dictionary or an array, as the launcher's line: the body itself
/// when it has a `value` (its line breaks, whitespace in JSON, made spaces), rebuilt when not.
fn launcher_line(body: &[u8]) -> Result<String, ProxyError> {
    let starts_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if !starts_object {
        return Err(not_an_object());
    }
    let probe: RunBody = serde_json::from_slice(body).map_err(|_| not_an_object())?;
    let Some(value) = probe.value else {
        let mut message = parse_run(body)?.0;
        message.insert("value".into(), Value::Object(Map::new()));
        return Ok(Value::Object(message).to_string());
    };
    match value.get().as_bytes().first() {
        Some(b'{') | Some(b'[') => {}
        Some(b'"') => return Err(not_a_dictionary("string")),
        Some(b't') | Some(b'f') => return Err(not_a_dictionary("boolean")),
        Some(b'n') => return Err(not_a_dictionary("null")),
        _ => return Err(not_a_dictionary("number")),
    }
    let flat: Vec<u8> = body
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect();
    String::from_utf8(flat).map_err(|_| not_an_object())
}

/// A `/run` body as its fields, and its `value` (`{}` when absent), a dictionary or an array.
fn parse_run(body: &[u8]) -> Result<(Map<String, Value>, Value), ProxyError> {
    let message: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => o,
        _ => return Err(not_an_object()),
    };
    let value = message
        .get("value")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    if !(value.is_object() || value.is_array()) {
        return Err(not_a_dictionary(type_name(&value)));
    }
    Ok((message, value))
}

async fn activate(config: &Config, loaded: &Loaded, body: &[u8]) -> Result<String, ProxyError> {
    let line = match &loaded.kind {
        ActionKind::Native { exec } => {
            let (mut message, value) = parse_run(body)?;
            message.remove("value");
            native::run(exec, &value, &message, &loaded.env)
                .await
                .map_err(|e| ProxyError::new(502, e))?
        }
        ActionKind::Launched {
            dir,
            main,
            file,
            launcher,
        } => {
            let request = launcher_line(body)?;
            let running = {
                let mut slot = launcher.lock().await;
                match &*slot {
                    Some(l) if !l.exited() => l.clone(),
                    _ => {
                        let started =
                            Launcher::start(config, dir, main, file.as_deref(), &loaded.env).await;
                        let l = Arc::new(started.map_err(|e| {
                            ProxyError::new(
                                502,
                                format!("The action could not be started again: {e}"),
                            )
                        })?);
                        *slot = Some(l.clone());
                        l
                    }
                }
            };
            match running.run(&request).await {
                Ok(line) => line,
                Err(failure) => {
                    let mut slot = launcher.lock().await;
                    if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, &running)) {
                        *slot = None;
                    }
                    let message = match failure {
                        RunFailure::OutOfMemory => {
                            "The action exhausted its memory and was aborted."
                        }
                        RunFailure::Exited => {
                            "The action did not produce a valid response and exited unexpectedly."
                        }
                    };
                    return Err(ProxyError::new(502, message));
                }
            }
        }
    };
    result_of(line)
}

/// An action's result line: a JSON dictionary or array, or its failure to run.
fn result_of(line: String) -> Result<String, ProxyError> {
    let not_a_result = || ProxyError::new(502, "The action did not return a dictionary or array.");
    if line.starts_with(&format!("{{\"{DEVELOPER_ERROR_KEY}\""))
        && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&line)
        && o.len() == 1
    {
        let m = o[DEVELOPER_ERROR_KEY]
            .as_str()
            .unwrap_or("The action failed.");
        return Err(ProxyError::new(502, m.to_string()));
    }
    // Checked, not built: the line goes out as it came.
    let bracketed = matches!(
        line.trim_start().as_bytes().first(),
        Some(b'{') | Some(b'[')
    );
    if bracketed && serde_json::from_str::<serde::de::IgnoredAny>(&line).is_ok() {
        Ok(line)
    } else {
        Err(not_a_result())
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
