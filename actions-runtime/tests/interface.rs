//! The action interface every OpenWhisk runtime must honour, run against every runtime image Owl
//! builds (a container per test, its port published on 127.0.0.1, its logs read through Docker) and
//! against the proxy on this machine's own Node.js and Python. Each suite is written once as a macro
//! and instantiated per target at the end of this file.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// Where a proxy under test runs: a process on this machine, or a container of a built image.
#[derive(Clone, Copy)]
enum Target {
    Host(&'static str),
    Image(&'static str),
}

struct Proxy {
    child: Child,
    container: Option<String>,
    base: String,
    agent: ureq::Agent,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn capture(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    out
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs (scripts/test starts the engine)");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Proxy {
    fn start(target: Target) -> Proxy {
        Proxy::start_with(target, &[])
    }

    /// Started with extra environment variables.
    fn start_with(target: Target, env: &[(&str, &str)]) -> Proxy {
        match target {
            Target::Host(runtime) => Proxy::on_host(runtime, env),
            Target::Image(image) => Proxy::in_container(image, env),
        }
    }

    /// A container of `image` with the limits the invoker gives, its port published on loopback.
    fn in_container(image: &str, env: &[(&str, &str)]) -> Proxy {
        let present = Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            present,
            "image {image} is missing: build it with `owl runtimes build` (scripts/test does)"
        );
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec![
            "run",
            "-d",
            "-p",
            "127.0.0.1::8080",
            "--memory",
            "256m",
            "--memory-swap",
            "256m",
            "--pids-limit",
            "1024",
            "--cap-drop",
            "NET_RAW",
            "--cap-drop",
            "NET_ADMIN",
            "--label",
            "owl.test=actions-runtime",
        ];
        for v in &vars {
            args.extend(["-e", v.as_str()]);
        }
        args.push(image);
        let id = docker(&args);
        let addr = docker(&["port", &id, "8080/tcp"]);
        let addr = addr.lines().next().unwrap().to_string();
        let mut child = Command::new("docker")
            .args(["logs", "-f", &id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = capture(child.stdout.take().unwrap());
        let stderr = capture(child.stderr.take().unwrap());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let base = format!("http://{addr}");
        // Docker's port proxy accepts connections before the server inside listens: wait for an answer.
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(format!("{base}/ready")).call().is_err() {
            assert!(
                Instant::now() < deadline,
                "the container did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let dir = tempfile::tempdir().unwrap();
        Proxy {
            child,
            container: Some(id),
            base,
            agent,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    fn on_host(runtime: &str, env: &[(&str, &str)]) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let launchers = concat!(env!("CARGO_MANIFEST_DIR"), "/launchers");
        let (launcher, interpreter) = match runtime {
            "nodejs" => (format!("{launchers}/nodejs/launcher.js"), "node"),
            "python" => (format!("{launchers}/python/launcher.py"), "python3"),
            _ => (String::new(), ""),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_owl-actionproxy"))
            .env("OW_RUNTIME", runtime)
            .env("OW_PORT", port.to_string())
            .env("OW_BIND", "127.0.0.1")
            .env("OW_ACTION_DIR", dir.path().join("action"))
            .env("OW_LAUNCHER", launcher)
            .env("OW_INTERPRETER", interpreter)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the proxy starts");
        let stdout = capture(child.stdout.take().unwrap());
        let stderr = capture(child.stderr.take().unwrap());
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the proxy did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Proxy {
            child,
            container: None,
            base,
            agent,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    fn post_raw(&self, path: &str, body: &[u8]) -> (u16, Value, String) {
        let (s, v, text, _) = self.post_answer(path, body);
        (s, v, text)
    }

    /// The status, the body as JSON and as text, and the `x-owl-died` header Owl's proxy adds when
    /// the action's process died during the request (upstream's container would have died).
    fn post_answer(&self, path: &str, body: &[u8]) -> (u16, Value, String, Option<String>) {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        let died = r
            .headers()
            .get("x-owl-died")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = r
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            died,
        )
    }

    fn init_body(code: &str, main: &str, binary: bool) -> Vec<u8> {
        json!({"value": {"name": "action", "main": main, "binary": binary, "code": code,
                         "env": {"__OW_API_HOST": "http://owl.test", "INIT_PARAM": "secret"}}})
        .to_string()
        .into_bytes()
    }

    fn run_body(value: Value) -> Vec<u8> {
        json!({"value": value, "namespace": "guest", "action_name": "/guest/action",
            "action_version": "0.0.1", "activation_id": "0123456789abcdef0123456789abcdef",
            "transaction_id": "tid-1", "deadline": "1717000060000", "api_key": "uuid:key"})
        .to_string()
        .into_bytes()
    }

    fn init(&self, code: &str, main: &str, binary: bool) -> (u16, Value) {
        let (s, v, _) = self.post_raw("/init", &Proxy::init_body(code, main, binary));
        (s, v)
    }

    fn run(&self, value: Value) -> (u16, Value) {
        let (s, v, _) = self.post_raw("/run", &Proxy::run_body(value));
        (s, v)
    }

    /// `/init`'s status, body text and `x-owl-died` header.
    fn init_answer(&self, code: &str, main: &str) -> (u16, String, Option<String>) {
        let (s, _, text, died) = self.post_answer("/init", &Proxy::init_body(code, main, false));
        (s, text, died)
    }

    /// `/run`'s status, body text and `x-owl-died` header.
    fn run_answer(&self, value: Value) -> (u16, String, Option<String>) {
        let (s, _, text, died) = self.post_answer("/run", &Proxy::run_body(value));
        (s, text, died)
    }

    /// Waits until both streams carry `n` sentinels, and returns them.
    fn logs(&self, n: usize) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (o, e) = (
                self.stdout.lock().unwrap().clone(),
                self.stderr.lock().unwrap().clone(),
            );
            if o.matches(SENTINEL).count() >= n && e.matches(SENTINEL).count() >= n {
                return (o, e);
            }
            assert!(
                Instant::now() < deadline,
                "sentinels missing:\nstdout: {o}\nstderr: {e}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(id) = &self.container {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A zip (stored, no compression) of the given files; `mode` 0o755 marks executables.
fn zip(files: &[(&str, &str, u32)]) -> String {
    use zip::write::SimpleFileOptions;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, content, mode) in files {
            let opts = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(*mode);
            w.start_file(*name, opts).unwrap();
            w.write_all(content.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

macro_rules! nodejs_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    const HELLO: &str = "function main(params) { return { greeting: 'Hello ' + (params.name || 'stranger') + '!' } }";

    #[test]
    fn hello_initializes_once_and_runs_warm() {
        let p = start();
        assert_eq!(p.init(HELLO, "main", false), (200, json!({"ok": true})));
        assert_eq!(
            p.run(json!({"name": "World"})),
            (200, json!({"greeting": "Hello World!"}))
        );
        assert_eq!(
            p.run(json!({})),
            (200, json!({"greeting": "Hello stranger!"}))
        );
        let again = p.init(HELLO, "main", false);
        assert_eq!(
            again,
            (
                403,
                json!({"error": "Cannot initialize the action more than once."})
            )
        );
    }

    /// Each run counts itself in and waits (up to `wait` ms) until `n` runs have been in at once,
    /// then answers the most it saw.
    fn rendezvous(n: u32, wait: u32) -> String {
        format!("let inside = 0, peak = 0; function main() {{ inside++; peak = Math.max(peak, inside); \
            return new Promise((resolve) => {{ const t0 = Date.now(); \
            const check = () => (peak >= {n} || Date.now() - t0 > {wait}) ? resolve({{ seen: peak }}) : setTimeout(check, 5); \
            check(); }}).finally(() => inside--); }}")
    }

    fn run_together(p: &Proxy, n: usize) -> Vec<(u16, Value)> {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..n).map(|_| s.spawn(|| p.run(json!({})))).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        })
    }

    #[test]
    fn with_concurrency_allowed_overlapping_runs_are_served_together() {
        let p = Proxy::start_with($target, &[("__OW_ALLOW_CONCURRENT", "true")]);
        assert_eq!(p.init(&rendezvous(3, 20_000), "main", false).0, 200);
        for answer in run_together(&p, 3) {
            assert_eq!(answer, (200, json!({"seen": 3})));
        }
        p.logs(3);
    }

    #[test]
    fn without_concurrency_allowed_overlapping_runs_are_served_one_at_a_time() {
        let p = start();
        assert_eq!(p.init(&rendezvous(2, 300), "main", false).0, 200);
        for answer in run_together(&p, 2) {
            assert_eq!(answer, (200, json!({"seen": 1})));
        }
    }

    #[test]
    fn run_bodies_are_checked_and_passed_on_whole() {
        let p = start();
        p.init("function main(a) { return a.text === 'scalar' ? 'a string' : a }", "main", false);
        let refused = |body: &str| {
            let (s, v, _) = p.post_raw("/run", body.as_bytes());
            (s, v["error"].as_str().unwrap_or_default().to_string())
        };
        assert_eq!(
            refused("[1]"),
            (403, "Internal system error: the body must be a JSON object.".into())
        );
        for (value, kind) in [("\"s\"", "string"), ("5", "number"), ("null", "null"), ("true", "boolean")] {
            assert_eq!(
                refused(&format!("{{\"value\": {value}}}")),
                (403, format!("Internal system error: the argument must be a dictionary but has type '{kind}'."))
            );
        }
        // No value: the action gets an empty one.
        let (s, v, _) = p.post_raw("/run", br#"{"activation_id": "x"}"#);
        assert_eq!((s, v), (200, json!({})));
        // Line breaks between tokens and escaped ones inside strings both survive.
        let pretty = "{\n  \"value\": {\n    \"text\": \"two\\nlines\"\n  }\r\n}";
        let (s, v, _) = p.post_raw("/run", pretty.as_bytes());
        assert_eq!((s, v), (200, json!({"text": "two\nlines"})));
        assert_eq!(
            p.run(json!({"text": "scalar"})),
            (502, json!({"error": "The action did not return a dictionary."}))
        );
    }

    #[test]
    fn echo_returns_unicode_and_arrays_unchanged() {
        let p = start();
        p.init("function main(a) { return a }", "main", false);
        let v = json!({"text": "☃ 雪 ❄ \u{1F600}", "nested": {"list": [1, 2.5, null, true]}});
        assert_eq!(p.run(v.clone()), (200, v));
        assert_eq!(p.run(json!([1, 2, 3])), (200, json!([1, 2, 3])));
    }

    #[test]
    fn the_activation_context_is_in_the_environment() {
        let p = start();
        p.init("function main() { const e = process.env; return { ns: e.__OW_NAMESPACE, name: e.__OW_ACTION_NAME, \
                version: e.__OW_ACTION_VERSION, id: e.__OW_ACTIVATION_ID, tid: e.__OW_TRANSACTION_ID, deadline: e.__OW_DEADLINE, \
                key: e.__OW_API_KEY, host: e.__OW_API_HOST, init: e.INIT_PARAM } }", "main", false);
        assert_eq!(
            p.run(json!({})),
            (
                200,
                json!({"ns": "guest", "name": "/guest/action", "version": "0.0.1",
            "id": "0123456789abcdef0123456789abcdef", "tid": "tid-1", "deadline": "1717000060000", "key": "uuid:key",
            "host": "http://owl.test", "init": "secret"})
            )
        );
    }

    #[test]
    fn errors_thrown_rejected_and_returned_are_told_apart() {
        let p = start();
        p.init(
            "function main(p) { if (p.kind === 'throw') throw new Error('boom'); \
                if (p.kind === 'reject') return Promise.reject(new Error('nope')); \
                if (p.kind === 'string') return 'not an object'; return { error: 'returned' } }",
            "main",
            false,
        );
        assert_eq!(
            p.run(json!({"kind": "throw"})),
            (502, json!({"error": "An error has occurred: Error: boom"}))
        );
        let (s, v) = p.run(json!({"kind": "reject"}));
        assert_eq!(
            (s, &v["error"]["message"], &v["error"]["name"]),
            (200, &json!("nope"), &json!("Error"))
        );
        assert_eq!(
            p.run(json!({"kind": "string"})),
            (
                502,
                json!({"error": "The action did not return a dictionary."})
            )
        );
        assert_eq!(p.run(json!({})), (200, json!({"error": "returned"})));
    }

    #[test]
    fn null_passes_and_results_json_cannot_write_are_internal_errors() {
        let p = start();
        p.init(
            "function main(p) { if (p.kind === 'null') return null; \
                if (p.kind === 'circular') { const o = {}; o.o = o; return o } \
                if (p.kind === 'number') return 5; return {} }",
            "main",
            false,
        );
        assert_eq!(p.run_answer(json!({"kind": "null"})), (200, "null".into(), None));
        assert_eq!(
            p.run_answer(json!({"kind": "circular"})),
            (502, r#"{"error":"Internal error."}"#.into(), None)
        );
        assert_eq!(
            p.run_answer(json!({"kind": "number"})),
            (502, r#"{"error":"The action did not return a dictionary."}"#.into(), None)
        );
        let (_, err) = p.logs(3);
        assert!(err.contains("Result must be of type object but has type \"number\": 5"), "{err}");
    }

    #[test]
    fn empty_code_or_main_is_refused_and_init_may_be_tried_again() {
        let p = start();
        assert_eq!(
            p.init_answer("", "main"),
            (403, r#"{"error":"Missing main/no code to execute."}"#.into(), None)
        );
        assert_eq!(p.init_answer(HELLO, "").0, 403);
        assert_eq!(p.init(HELLO, "main", false).0, 200);
    }

    #[test]
    fn an_exit_while_loading_or_running_is_told_as_the_death_of_the_process() {
        let p = start();
        assert_eq!(
            p.init_answer("process.exit(1)", "main"),
            (
                502,
                r#"{"error":"The action did not initialize and exited unexpectedly."}"#.into(),
                Some("exited".into())
            )
        );
        let q = start();
        q.init("function main() { process.exit(3) }", "main", false);
        assert_eq!(
            q.run_answer(json!({})),
            (
                502,
                r#"{"error":"The action did not produce a valid response and exited unexpectedly."}"#.into(),
                Some("exited".into())
            )
        );
    }

    #[test]
    fn promises_and_slow_actions_are_awaited() {
        let p = start();
        p.init("function main(p) { return new Promise(r => setTimeout(() => r({ waited: p.ms }), p.ms)) }", "main", false);
        let started = Instant::now();
        assert_eq!(p.run(json!({"ms": 300})), (200, json!({"waited": 300})));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn logs_go_to_stdout_and_stderr_followed_by_sentinels_on_both() {
        let p = start();
        p.init(
            "function main() { console.log('to stdout'); console.error('to stderr'); return {} }",
            "main",
            false,
        );
        p.run(json!({}));
        p.run(json!({}));
        let (out, err) = p.logs(2);
        assert_eq!(
            out,
            format!("to stdout\n{SENTINEL}\nto stdout\n{SENTINEL}\n")
        );
        assert_eq!(
            err,
            format!("to stderr\n{SENTINEL}\nto stderr\n{SENTINEL}\n")
        );
    }

    #[test]
    fn exports_and_another_main_name_are_found() {
        let p = start();
        assert_eq!(
            p.init("exports.niam = () => ({ via: 'exports' })", "niam", false)
                .0,
            200
        );
        assert_eq!(p.run(json!({})), (200, json!({"via": "exports"})));
        let q = start();
        assert_eq!(
            q.init(
                "module.exports = { main: () => ({ via: 'module.exports' }) }",
                "main",
                false
            )
            .0,
            200
        );
        assert_eq!(q.run(json!({})), (200, json!({"via": "module.exports"})));
    }

    #[test]
    fn a_missing_entry_point_or_broken_code_fails_init_and_the_container_keeps_answering() {
        let p = start();
        let (s, v) = p.init(HELLO, "nope", false);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("Action entrypoint 'nope' is not a function."),
            "{v}"
        );
        assert_eq!(
            p.run(json!({})).0,
            502,
            "a failed container answers runs with the error"
        );
        p.logs(2);
        let q = start();
        let (s, v) = q.init("function main( {", "main", false);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("Initialization has failed due to: "),
            "{v}"
        );
    }

    #[test]
    fn process_exit_is_a_developer_error_and_the_next_run_works() {
        let p = start();
        p.init(
            "function main(p) { if (p.exit) process.exit(3); return { alive: true } }",
            "main",
            false,
        );
        assert_eq!(p.run(json!({"exit": true})).0, 502);
        assert_eq!(p.run(json!({})), (200, json!({"alive": true})));
    }

    #[test]
    fn zip_actions_load_from_index_js_package_json_or_a_file_function_main() {
        let index = zip(&[(
            "index.js",
            "exports.main = () => ({ from: 'index' })",
            0o644,
        )]);
        let p = start();
        assert_eq!(p.init(&index, "main", true).0, 200);
        assert_eq!(p.run(json!({})), (200, json!({"from": "index"})));

        let pkg = zip(&[
            (
                "package.json",
                r#"{"name": "a", "main": "lib/entry.js"}"#,
                0o644,
            ),
            (
                "lib/entry.js",
                "const dep = require('dep'); exports.main = () => ({ from: dep.name })",
                0o644,
            ),
            (
                "node_modules/dep/index.js",
                "exports.name = 'bundled dependency'",
                0o644,
            ),
        ]);
        let q = start();
        assert_eq!(q.init(&pkg, "main", true).0, 200);
        assert_eq!(
            q.run(json!({})),
            (200, json!({"from": "bundled dependency"}))
        );

        let file_fn = zip(&[
            ("index.js", "", 0o644),
            (
                "handlers.js",
                "exports.go = () => ({ from: 'handlers.go' })",
                0o644,
            ),
        ]);
        let r = start();
        assert_eq!(r.init(&file_fn, "handlers.go", true).0, 200);
        assert_eq!(r.run(json!({})), (200, json!({"from": "handlers.go"})));
    }

    #[test]
    fn bad_zips_are_refused_at_init() {
        let p = start();
        let (s, v) = p.init(&zip(&[("README", "x", 0o644)]), "main", true);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("must contain either package.json or index.js"),
            "{v}"
        );
        let corrupt =
            base64::engine::general_purpose::STANDARD.encode(b"PK\x03\x04garbage garbage garbage");
        assert_eq!(start().init(&corrupt, "main", true).0, 502);
        let escape = start();
        let (s, v) = escape.init(&zip(&[("../../evil.js", "x", 0o644)]), "main", true);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("points outside the archive"),
            "{v}"
        );
    }

    #[test]
    fn large_results_and_large_arguments_pass_whole() {
        let p = start();
        p.init(
            "function main(p) { return { echo: p.big, made: 'x'.repeat(5 * 1024 * 1024) } }",
            "main",
            false,
        );
        let big = "y".repeat(5 * 1024 * 1024);
        let (s, v) = p.run(json!({"big": big}));
        assert_eq!(s, 200);
        assert_eq!(v["echo"].as_str().unwrap().len(), 5 * 1024 * 1024);
        assert_eq!(v["made"].as_str().unwrap().len(), 5 * 1024 * 1024);
    }

    #[test]
    fn an_enormous_body_is_refused_as_json_and_the_proxy_keeps_answering() {
        let p = start();
        assert_eq!(p.init(HELLO, "main", false).0, 200);
        let huge = vec![b'x'; 65 * 1024 * 1024];
        let (s, v, _) = p.post_raw("/run", &huge);
        assert_eq!(s, 413);
        assert!(v["error"].as_str().unwrap().contains("larger than"), "{v}");
        assert_eq!(p.run(json!({"name": "after"})), (200, json!({"greeting": "Hello after!"})));
    }

    #[test]
    fn non_json_bodies_and_runs_before_init_are_refused_without_harm() {
        let p = start();
        assert_eq!(p.run(json!({})).0, 403);
        let (s, _, _) = p.post_raw("/init", b"this is not json");
        assert_eq!(s, 403);
        assert_eq!(p.init(HELLO, "main", false).0, 200);
        let (s, _, _) = p.post_raw("/run", b"{not json");
        assert_eq!(s, 403);
        assert_eq!(p.run(json!("a string")).0, 403);
        assert_eq!(
            p.run(json!({"name": "still"})),
            (200, json!({"greeting": "Hello still!"}))
        );
    }
}
    };
}

macro_rules! python_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    #[test]
    fn hello_runs_and_exceptions_are_application_errors() {
        let p = start();
        let code = "def main(args):\n    if args.get('fail'):\n        raise ValueError('bad input')\n    return {'greeting': 'Hello ' + args.get('name', 'stranger') + '!'}\n";
        assert_eq!(p.init(code, "main", false), (200, json!({"ok": true})));
        assert_eq!(
            p.run(json!({"name": "☃"})),
            (200, json!({"greeting": "Hello ☃!"}))
        );
        assert_eq!(
            p.run(json!({"fail": true})),
            (200, json!({"error": "bad input"}))
        );
        assert_eq!(p.init(code, "main", false).0, 403);
    }

    #[test]
    fn overlapping_runs_are_answered_one_at_a_time_even_with_concurrency_allowed() {
        let p = Proxy::start_with($target, &[("__OW_ALLOW_CONCURRENT", "true")]);
        let code = "import time\ninside = 0\ndef main(args):\n    global inside\n    inside += 1\n    time.sleep(0.2)\n    seen = inside\n    inside -= 1\n    return {'seen': seen, 'n': args['n']}\n";
        assert_eq!(p.init(code, "main", false).0, 200);
        let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..3).map(|n| { let p = &p; s.spawn(move || p.run(json!({"n": n}))) }).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer, (200, json!({"seen": 1, "n": n})));
        }
    }

    #[test]
    fn the_environment_and_logs_reach_the_action_and_the_container() {
        let p = start();
        let code = "import os, sys\ndef run(args):\n    print('out line')\n    print('err line', file=sys.stderr)\n    return {'id': os.environ['__OW_ACTIVATION_ID'], 'init': os.environ['INIT_PARAM']}\n";
        assert_eq!(p.init(code, "run", false).0, 200);
        assert_eq!(
            p.run(json!({})),
            (
                200,
                json!({"id": "0123456789abcdef0123456789abcdef", "init": "secret"})
            )
        );
        let (out, err) = p.logs(1);
        assert_eq!(out, format!("out line\n{SENTINEL}\n"));
        assert!(err.ends_with(&format!("err line\n{SENTINEL}\n")), "{err}");
    }

    #[test]
    fn zip_actions_use_main_py_and_a_bundled_virtualenv() {
        let z = zip(&[
            (
                "__main__.py",
                "import helper\ndef main(args):\n    return {'from': helper.NAME}\n",
                0o644,
            ),
            (
                "virtualenv/lib/python3.11/site-packages/helper.py",
                "NAME = 'virtualenv package'\n",
                0o644,
            ),
        ]);
        let p = start();
        assert_eq!(p.init(&z, "main", true).0, 200);
        assert_eq!(
            p.run(json!({})),
            (200, json!({"from": "virtualenv package"}))
        );
        let without = start();
        let (s, v) = without.init(&zip(&[("x.py", "", 0o644)]), "main", true);
        assert_eq!(
            (s, v),
            (502, json!({"error": "The action failed to generate or locate a binary. See logs for details."}))
        );
        let (_, err) = without.logs(1);
        assert!(err.starts_with(&format!("Zip file does not include main__\n{SENTINEL}\n")), "{err}");
    }

    #[test]
    fn an_exit_or_unserializable_result_ends_the_process_as_command_exited_and_the_next_run_works() {
        let p = start();
        p.init("import sys\ndef main(a):\n    if a.get('exit'):\n        sys.exit(1)\n    if a.get('set'):\n        return {1, 2}\n    return {'ok': 1}\n", "main", false);
        let exited = (400, "{\"error\":\"command exited\"}\n".to_string(), None);
        assert_eq!(p.run_answer(json!({"exit": true})), exited);
        assert_eq!(p.run_answer(json!({"set": true})), exited);
        assert_eq!(p.run_answer(json!({})), (200, "{\"ok\": 1}\n".into(), None));
    }

    #[test]
    fn results_that_are_not_a_dictionary_or_array_are_refused_but_none_passes() {
        let p = start();
        p.init("def main(a):\n    return a.get('r')\n", "main", false);
        assert_eq!(
            p.run_answer(json!({"r": "text"})),
            (502, "{\"error\":\"The action did not return a dictionary or array.\"}\n".into(), None)
        );
        assert_eq!(p.run_answer(json!({})), (200, "null\n".into(), None));
        assert_eq!(p.run_answer(json!({"r": [1, "<&>"]})), (200, "[1, \"<&>\"]\n".into(), None));
    }

    #[test]
    fn code_that_does_not_parse_cannot_be_built_and_the_reason_is_logged() {
        let p = start();
        assert_eq!(
            p.init_answer("def main(a)\n    return a\n", "main"),
            (502, "{\"error\":\"The action failed to generate or locate a binary. See logs for details.\"}\n".into(), None)
        );
        let (_, err) = p.logs(1);
        assert!(err.starts_with(&format!("invalid syntax\n{SENTINEL}\n")) || err.starts_with(&format!("expected ':'\n{SENTINEL}\n")), "{err}");
    }

    #[test]
    fn code_that_exits_raises_or_lacks_main_while_imported_cannot_start() {
        for code in ["import sys\nsys.exit(1)\n", "raise Exception('at import')\n", "def niam(a):\n    return a\n", "   "] {
            let p = start();
            assert_eq!(
                p.init_answer(code, "main"),
                (502, "{\"error\":\"Cannot start action. Check logs for details.\"}\n".into(), None),
                "{code}"
            );
            let (_, err) = p.logs(1);
            assert!(err.contains(&format!("Command exited abruptly during initialization.\n{SENTINEL}\n")), "{code}: {err}");
        }
    }

    #[test]
    fn empty_code_is_refused_and_runs_before_init_find_no_action() {
        let p = start();
        assert_eq!(
            p.init_answer("", "main"),
            (403, "{\"error\":\"Missing main/no code to execute.\"}\n".into(), None)
        );
        assert_eq!(
            p.run_answer(json!({})),
            (500, "{\"error\":\"no action defined yet\"}\n".into(), None)
        );
        assert_eq!(p.init("def main(a):\n    return a\n", "", false).0, 200, "an empty main is main");
        assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
    }
}
    };
}

macro_rules! native_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    #[test]
    fn an_executable_gets_its_parameters_and_its_last_line_is_the_result() {
        let p = start();
        let script = "#!/bin/sh\necho \"a log line\"\necho \"err\" >&2\necho \"{\\\"args\\\": $1, \\\"ns\\\": \\\"$__OW_NAMESPACE\\\"}\"\n";
        assert_eq!(p.init(script, "main", false).0, 200);
        assert_eq!(
            p.run(json!({"x": 1})),
            (200, json!({"args": {"x": 1}, "ns": "guest"}))
        );
        let (out, _) = p.logs(1);
        assert_eq!(out, format!("a log line\n{SENTINEL}\n"));
    }

    #[test]
    fn a_zip_with_exec_runs_and_a_non_json_last_line_is_refused() {
        let z = zip(&[
            ("exec", "#!/bin/sh\n./helper.sh\n", 0o755),
            ("helper.sh", "#!/bin/sh\necho 'not json'\n", 0o755),
        ]);
        let p = start();
        assert_eq!(p.init(&z, "main", true).0, 200);
        assert_eq!(
            p.run(json!({})),
            (
                502,
                json!({"error": "The action did not return a dictionary or array."})
            )
        );
        let empty = start();
        let (s, v) = empty.init(&zip(&[("other", "x", 0o644)]), "main", true);
        assert_eq!(
            (s, v),
            (
                502,
                json!({"error": "The action failed to generate or locate a binary. See logs for details."})
            )
        );
    }
}
    };
}

nodejs_suite!(nodejs_on_host, Target::Host("nodejs"));
nodejs_suite!(
    nodejs_v20_image,
    Target::Image("owl/action-nodejs-v20:latest")
);
nodejs_suite!(
    nodejs_v18_image,
    Target::Image("owl/action-nodejs-v18:latest")
);
python_suite!(python_on_host, Target::Host("python"));
python_suite!(
    python_v3_13_image,
    Target::Image("owl/action-python-v3.13:latest")
);
python_suite!(
    python_v3_11_image,
    Target::Image("owl/action-python-v3.11:latest")
);
native_suite!(native_on_host, Target::Host("native"));
native_suite!(
    native_blackbox_image,
    Target::Image("owl/dockerskeleton:latest")
);

/// The documented way to bring your own program: an image FROM the blackbox base with its own
/// `/action/exec`, run without code as `wsk action create --docker` does.
#[test]
fn an_image_built_from_the_blackbox_base_runs_its_own_exec() {
    const TAG: &str = "owl-test/derived-blackbox:latest";
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM owl/dockerskeleton:latest\nCOPY exec /action/exec\n",
    )
    .unwrap();
    let exec = ctx.path().join("exec");
    std::fs::write(&exec, "#!/bin/sh\necho \"{\\\"mine\\\": $1}\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args([
            "build",
            "-q",
            "--label",
            "owl.test=actions-runtime",
            "-t",
            TAG,
        ])
        .arg(ctx.path())
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let p = Proxy::start(Target::Image(TAG));
        let body = json!({"value": {"name": "mine", "main": "main", "binary": false}});
        let (s, _, _) = p.post_raw("/init", body.to_string().as_bytes());
        assert_eq!(s, 200);
        assert_eq!(p.run(json!({"x": 1})), (200, json!({"mine": {"x": 1}})));
    }
    let _ = Command::new("docker").args(["rmi", "-f", TAG]).output();
}
