//! The proxy's two routes and the container's lifecycle.
//!
//! | request | answers |
//! |---|---|
//! | `POST /init` | 200 `{"ok":true}` (Java: `OK`; Ruby: `{"OK":true}`); 403 a second init (Java: 502), or no (or, but for Java and Ruby, empty) code, or (Node.js) no `main` (Java: 502, Ruby: 500); 502 the action could not be built or loaded (Ruby: 500). After a failed init, Node.js and native containers answer every run with its error; the others accept `/init` again |
//! | `POST /run` | 200 the result (a JSON object or array; `null` too, but for native actions); 403 a non-object argument, or (Node.js, native) before init; 500 (actionloop, Ruby) or 502 (Java) before init; 502 a failed init, an action that threw, exited or did not return an object or array; 400 (actionloop) an action whose process exited |
//!
//! The words and shapes are those of the proxy upstream runs for the language
//! (`config::Flavor`): OpenWhisk's Node.js runtime (`core/nodejsActionBase`: `src/service.js`,
//! `runner.js`); the actionloop proxy in front of its Python, PHP and Go images
//! (`openwhisk-runtime-go`: `initHandler.go`, `runHandler.go`, `executor.go`, `compiler.go`, with
//! `OW_LOG_INIT_ERROR` and `OW_WAIT_FOR_ACK` set as those images set them); the Java runtime's
//! own proxy (`openwhisk-runtime-java` `core/java8`); the Rack application of the `ruby:2.5`
//! image (`openwhisk-runtime-ruby` `core/ruby2.5Action`); and the dockerskeleton's Flask proxy for
//! native actions (`actionproxy.py`). Where upstream's Node.js container dies with the action's
//! process, the answer carries `owl_entity::container::DIED_HEADER` so the invoker records what
//! upstream's records.
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
use crate::build::{self, is_executable, write_executable};
use crate::config::{Config, Flavor, Runtime};
use crate::error::{
    CANNOT_BUILD, CANNOT_START, COMMAND_EXITED, Death, EXITED_ABRUPTLY, EXITED_DURING_INIT,
    EXITED_DURING_RUN, METHOD_CHECK_FAILED, NOT_A_BUNDLE, NOT_STARTED, ProxyError, RUN_FAILED_RACK,
};
use crate::launcher::{DEVELOPER_ERROR_KEY, Launcher, LoadFailure, RunFailure, Running};
use crate::native;

/// Where the container is in its life. Legal moves: `Empty` to `Ready` or `Failed` by `/init`; nothing
/// leaves `Failed`; `Ready` stays `Ready` (a launcher that dies is started again at the next run).
enum State {
    Empty,
    Ready(Arc<Loaded>),
    Failed(ProxyError),
}

struct Loaded {
    kind: ActionKind,
    env: Map<String, Value>,
}

enum ActionKind {
    /// An action served by a long-lived process (a launcher, or an actionloop executable): how to
    /// start it, and the running one (none after it died, until the next run starts it again).
    Launched {
        start: Start,
        process: Mutex<Option<Arc<Running>>>,
    },
    /// A native executable, started per run.
    Native { exec: PathBuf },
}

/// How to start an action's process, at `/init` and again after it died.
enum Start {
    /// The language's launcher, for the code in `dir` (`file` for plain source).
    Launcher {
        dir: PathBuf,
        main: String,
        file: Option<PathBuf>,
    },
    /// An executable speaking the actionloop protocol, run in `dir`.
    Exec { exec: PathBuf, dir: PathBuf },
}

impl Start {
    async fn run(&self, config: &Config, env: &Map<String, Value>) -> Result<Running, LoadFailure> {
        match self {
            Start::Launcher { dir, main, file } => {
                Launcher::start(config, dir, main, file.as_deref(), env).await
            }
            Start::Exec { exec, dir } => Launcher::start_exec(config, exec, dir, env).await,
        }
    }
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
        if shared.config.runtime.launched()
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

/// The sentinels after an answer; Ruby's Rack application first prints an error answer's body.
fn sentinels_after(runtime: Runtime, error: Option<&ProxyError>) {
    if let (Flavor::Rack, Some(e)) = (runtime.flavor(), error) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", crate::error::error_body(runtime, &e.message));
        let _ = out.flush();
    }
    sentinels();
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
    let runtime = shared.config.runtime;
    let flavor = runtime.flavor();
    let body = match read_body(payload).await {
        Ok(b) => b,
        Err(e) => return e.response(runtime),
    };
    let mut state = shared.state.lock().await;
    if !matches!(*state, State::Empty) {
        let e = ProxyError::already_initialized(flavor);
        // Java's proxy and Ruby's Rack application also say so in the log.
        match flavor {
            Flavor::Java => {
                let _ = writeln!(std::io::stderr().lock(), "{}", e.message);
            }
            Flavor::Rack => {
                let _ = writeln!(std::io::stdout().lock(), "Error: {}", e.message);
                let _ = std::io::stdout().flush();
            }
            _ => {}
        }
        return e.response(runtime);
    }
    let standby = shared.standby.lock().await.take();
    match load(&shared.config, &body, standby).await {
        Ok(loaded) => {
            *state = State::Ready(Arc::new(loaded));
            ok_json(match flavor {
                Flavor::ActionLoop => "{\"ok\":true}\n",
                Flavor::Java => "OK",
                Flavor::Rack => r#"{"OK":true}"#,
                Flavor::NodeJs | Flavor::Skeleton => r#"{"ok":true}"#,
            })
        }
        Err(e) => {
            // Node.js and the dockerskeleton keep the failure and answer every run with it; the
            // others mark themselves initialized only on success, so `/init` may come again.
            if e.status == 502 && matches!(flavor, Flavor::NodeJs | Flavor::Skeleton) {
                *state = State::Failed(e.clone());
            }
            sentinels_after(runtime, Some(&e));
            e.response(runtime)
        }
    }
}

/// The action's code could not be written, unpacked or built, in the words of the runtime.
fn build_failed(config: &Config, detail: &str) -> ProxyError {
    match config.runtime.flavor() {
        Flavor::NodeJs => ProxyError::init_failed(detail),
        Flavor::Java => ProxyError::new(502, detail),
        Flavor::Rack => ProxyError::new(500, detail),
        // The actionloop proxy with `OW_LOG_INIT_ERROR` (Python, Go) and the dockerskeleton log
        // the details; without it (PHP) they are the answer.
        Flavor::ActionLoop if !config.log_init_error => ProxyError::new(502, detail),
        Flavor::ActionLoop | Flavor::Skeleton => {
            let _ = writeln!(std::io::stderr().lock(), "{detail}");
            ProxyError::new(502, CANNOT_BUILD)
        }
    }
}

/// The process did not acknowledge the action, in the words of the runtime: Node.js's own
/// (`service.js` `initCode`; an exit kills upstream's container); Java's and Ruby's, which their
/// launchers say; or the actionloop proxy's (`initHandler.go`: with `OW_WAIT_FOR_ACK` a failed
/// start is `Cannot start action. Check logs for details.`, the executor's reason in the log;
/// without it, a process that exits at once is `cannot start action: command exited`).
fn load_failed(config: &Config, failure: LoadFailure) -> ProxyError {
    match (config.runtime.flavor(), failure) {
        (_, LoadFailure::OutOfMemory) => ProxyError::out_of_memory(),
        (_, LoadFailure::Build(detail)) => build_failed(config, &detail),
        (Flavor::ActionLoop, LoadFailure::Exited) if !config.wait_for_ack => {
            ProxyError::new(502, NOT_STARTED)
        }
        (Flavor::ActionLoop, failure) => {
            let detail = match failure {
                LoadFailure::Exited => EXITED_ABRUPTLY.to_string(),
                other => other.to_string(),
            };
            let _ = writeln!(std::io::stderr().lock(), "{detail}");
            ProxyError::new(502, CANNOT_START)
        }
        (Flavor::Rack, LoadFailure::Exited) => ProxyError::new(500, METHOD_CHECK_FAILED),
        (Flavor::Rack, failure) => ProxyError::new(500, failure.to_string()),
        (_, LoadFailure::Exited) => ProxyError::died(Death::Exited, EXITED_DURING_INIT),
        (Flavor::Java, failure) => ProxyError::new(502, failure.to_string()),
        (_, failure) => ProxyError::init_failed(&failure.to_string()),
    }
}

/// Writes or unpacks the code, builds it when the runtime compiles, and starts the action's
/// process (all but native actions, which start per run).
async fn load(
    config: &Config,
    body: &[u8],
    standby: Option<Launcher>,
) -> Result<Loaded, ProxyError> {
    let req: InitRequest = serde_json::from_slice(body)
        .map_err(|_| ProxyError::missing_main_or_code(config.runtime.flavor()))?;
    let v = req.value;
    let runtime = config.runtime;
    let dir = config.action_dir.clone();
    let failed = |e: String| build_failed(config, &e);
    std::fs::create_dir_all(&dir).map_err(|e| failed(e.to_string()))?;
    if runtime == Runtime::Native {
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
            return Err(ProxyError::new(502, CANNOT_BUILD));
        }
        return Ok(Loaded {
            kind: ActionKind::Native { exec },
            env: v.env,
        });
    }
    let flavor = runtime.flavor();
    // Java's proxy wants both keys, whatever their values.
    if flavor == Flavor::Java {
        let keys: Value = serde_json::from_slice(body).unwrap_or_default();
        if keys["value"].get("main").is_none() {
            return Err(ProxyError::missing_main_or_code(flavor));
        }
    }
    // Java's proxy and Ruby's application hand empty code and `main` to the loader, which refuses
    // them in its own words; the others refuse empty code here, and Node.js an empty `main` too,
    // which the actionloop runtimes take as `main`.
    let code = match v.code.as_deref() {
        Some(c) if !c.is_empty() || matches!(flavor, Flavor::Java | Flavor::Rack) => c,
        _ => return Err(ProxyError::missing_main_or_code(flavor)),
    };
    let main = match (flavor, v.main.is_empty()) {
        (Flavor::NodeJs, true) => return Err(ProxyError::missing_main_or_code(flavor)),
        // The launcher (Java, Ruby) or the compiler (Go) knows its default.
        (Flavor::Java | Flavor::Rack, _) | (_, false) => v.main.clone(),
        (_, true) if runtime == Runtime::Go => String::new(),
        (_, true) => "main".to_string(),
    };
    // Java's proxy decodes the code itself, whatever `binary` says (its launcher does the same).
    let bytes = if v.binary && runtime != Runtime::Java {
        match archive::decode_base64(code) {
            Ok(b) => Some(b),
            Err(_) if flavor == Flavor::Rack => return Err(ProxyError::new(500, NOT_A_BUNDLE)),
            Err(e) if flavor == Flavor::ActionLoop => {
                return Err(ProxyError::new(
                    400,
                    format!("cannot decode the request: {e}"),
                ));
            }
            Err(e) => return Err(failed(e)),
        }
    } else {
        None
    };
    let start = if runtime.actionloop() {
        prepare_exec(config, &dir, &main, code, bytes.as_deref()).await?
    } else {
        let file = match (runtime, bytes) {
            // The code as it came: the launcher decodes the jar and loads it, never unpacked.
            (Runtime::Java, _) => {
                let f = dir.join("action.jar");
                std::fs::write(&f, code).map_err(|e| failed(e.to_string()))?;
                Some(f)
            }
            (_, Some(bytes)) => {
                if !archive::is_zip(&bytes) {
                    return Err(if flavor == Flavor::Rack {
                        ProxyError::new(500, NOT_A_BUNDLE)
                    } else {
                        failed(
                            "There was an error uncompressing the action archive. The file type is unsupported"
                                .into(),
                        )
                    });
                }
                archive::unzip(&bytes, &dir).map_err(failed)?;
                None
            }
            (_, None) => {
                let f = dir.join(source_file(runtime));
                std::fs::write(&f, code).map_err(|e| failed(e.to_string()))?;
                Some(f)
            }
        };
        Start::Launcher {
            dir: dir.clone(),
            main: main.clone(),
            file,
        }
    };
    let started = match (&start, standby.and_then(|mut l| (!l.exited()).then_some(l))) {
        (Start::Launcher { dir, main, file }, Some(l)) => {
            l.load(dir, main, file.as_deref(), &v.env).await
        }
        (start, _) => start.run(config, &v.env).await,
    }
    .map_err(|f| load_failed(config, f))?;
    Ok(Loaded {
        kind: ActionKind::Launched {
            start,
            process: Mutex::new(Some(Arc::new(started))),
        },
        env: v.env,
    })
}

/// Where a launcher's plain source code is written (the names upstream's runtimes use).
fn source_file(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::NodeJs => "action.js",
        Runtime::Python => "action.py",
        Runtime::Php => "index.php",
        Runtime::Ruby => "main.rb",
        _ => "action",
    }
}

/// An actionloop action's executable, as upstream's actionloop proxy finds it: the code (source, an
/// executable, or a zip) goes to `src/`; an executable `exec` there is run as it is (a precompiled
/// action); otherwise the compiler, if the runtime has one, builds `bin/exec` from the sources.
async fn prepare_exec(
    config: &Config,
    dir: &std::path::Path,
    main: &str,
    code: &str,
    bytes: Option<&[u8]>,
) -> Result<Start, ProxyError> {
    let failed = |e: String| build_failed(config, &e);
    let src = dir.join("src");
    let bin = dir.join("bin");
    let code = match bytes {
        Some(b) => b,
        None => code.as_bytes(),
    };
    let exec = build::executable(config.compiler.as_deref(), main, code, &src, &bin)
        .await
        .map_err(failed)?;
    Ok(Start::Exec { exec, dir: src })
}

async fn run(shared: web::Data<Shared>, payload: web::Payload) -> HttpResponse {
    let runtime = shared.config.runtime;
    let body = match read_body(payload).await {
        Ok(b) => b,
        Err(e) => {
            sentinels_after(runtime, Some(&e));
            return e.response(runtime);
        }
    };
    let loaded = match &*shared.state.lock().await {
        State::Empty => Err(match runtime.flavor() {
            Flavor::NodeJs => ProxyError::new(403, "System not initialized."),
            Flavor::ActionLoop => ProxyError::new(500, "no action defined yet"),
            Flavor::Java => ProxyError::new(502, "Cannot invoke an uninitialized action."),
            Flavor::Rack => ProxyError::new(500, "Invalid Action: no action file found"),
            Flavor::Skeleton => ProxyError::new(403, "The action has not been initialized."),
        }),
        State::Failed(e) => Err(e.clone()),
        State::Ready(loaded) => Ok(loaded.clone()),
    };
    let answer = match loaded {
        Err(e) => Err(e),
        Ok(loaded) => {
            let _turn = match &shared.one_at_a_time {
                Some(s) => s.acquire().await.ok(),
                None => None,
            };
            activate(&shared.config, &loaded, &body).await
        }
    };
    sentinels_after(runtime, answer.as_ref().err());
    match answer {
        // The actionloop proxy answers the process's line with its newline.
        Ok(mut result) if runtime.flavor() == Flavor::ActionLoop => {
            result.push('\n');
            ok_json(result)
        }
        Ok(result) => ok_json(result),
        Err(e) => e.response(runtime),
    }
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
    one_line(body)
}

/// The body as one line: its line breaks (whitespace in JSON) made spaces.
fn one_line(body: &[u8]) -> Result<String, ProxyError> {
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
                .map_err(|e| {
                    // The dockerskeleton writes why to stdout and answers as for a bad result.
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{e}");
                    let _ = out.flush();
                    not_a_result(Flavor::Skeleton)
                })?
        }
        ActionKind::Launched { start, process } => {
            // An actionloop executable gets the body as upstream's proxy passes it: unchecked,
            // on one line.
            let request = if config.runtime.actionloop() {
                one_line(body)?
            } else {
                launcher_line(body)?
            };
            let running = {
                let mut slot = process.lock().await;
                match &*slot {
                    Some(l) if !l.exited() => l.clone(),
                    _ => {
                        let started = start.run(config, &loaded.env).await;
                        let l = Arc::new(started.map_err(|e| match e {
                            LoadFailure::OutOfMemory => ProxyError::out_of_memory(),
                            e => ProxyError::new(
                                502,
                                format!("The action could not be started again: {e}"),
                            ),
                        })?);
                        *slot = Some(l.clone());
                        l
                    }
                }
            };
            match running.run(&request).await {
                Ok(line) => line,
                Err(failure) => {
                    let mut slot = process.lock().await;
                    if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, &running)) {
                        *slot = None;
                    }
                    return Err(match (config.runtime.flavor(), failure) {
                        (_, RunFailure::OutOfMemory) => ProxyError::out_of_memory(),
                        // The actionloop proxy (`runHandler.go`) answers a dead process so.
                        (Flavor::ActionLoop, RunFailure::Exited) => {
                            ProxyError::new(400, COMMAND_EXITED)
                        }
                        // Ruby's application runs each activation in a process of its own.
                        (Flavor::Rack, RunFailure::Exited) => ProxyError::new(502, RUN_FAILED_RACK),
                        (_, RunFailure::Exited) => {
                            ProxyError::died(Death::Exited, EXITED_DURING_RUN)
                        }
                    });
                }
            }
        }
    };
    result_of(line, config.runtime.flavor())
}

/// A result that is not one, in the runtime's words: Node.js's `service.js` checks `typeof result
/// !== 'object'`; the actionloop proxy and the dockerskeleton accept a dictionary or an array.
fn not_a_result(flavor: Flavor) -> ProxyError {
    match flavor {
        Flavor::NodeJs | Flavor::Java => {
            ProxyError::new(502, "The action did not return a dictionary.")
        }
        Flavor::ActionLoop | Flavor::Rack | Flavor::Skeleton => {
            ProxyError::new(502, "The action did not return a dictionary or array.")
        }
    }
}

/// An action's result line: a JSON dictionary or array, or its failure to run. `null` passes for
/// Node.js (`typeof null` is `'object'`) and Python (Go's `json.Unmarshal` takes `null` as an empty
/// map), as upstream's runtimes pass it: the invoker then finds no valid JSON response in it.
fn result_of(line: String, flavor: Flavor) -> Result<String, ProxyError> {
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
    let accepted = match line.trim_start().as_bytes().first() {
        Some(b'{') | Some(b'[') => true,
        Some(b'n') => flavor != Flavor::Skeleton,
        _ => false,
    };
    if accepted && serde_json::from_str::<serde::de::IgnoredAny>(&line).is_ok() {
        Ok(line)
    } else {
        Err(not_a_result(flavor))
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
