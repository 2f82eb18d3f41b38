//! What every suite of the action-interface tests shares: a proxy under test (on this machine or in
//! a container of a built image), its requests, its logs, and zips.
#![allow(dead_code)]

pub use std::io::{Read, Write};
pub use std::process::{Child, Command, Stdio};
pub use std::sync::{Arc, Mutex};
pub use std::time::{Duration, Instant};

pub use base64::Engine;
pub use serde_json::{Value, json};

pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// Where a proxy under test runs: a process on this machine, or a container of a built image.
#[derive(Clone, Copy)]
pub enum Target {
    Host(&'static str),
    Image(&'static str),
}

pub struct Proxy {
    pub child: Child,
    pub container: Option<String>,
    pub base: String,
    pub agent: ureq::Agent,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
    pub _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn capture(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
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

pub fn docker(args: &[&str]) -> String {
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
    pub fn start(target: Target) -> Proxy {
        Proxy::start_with(target, &[])
    }

    /// Started with extra environment variables.
    pub fn start_with(target: Target, env: &[(&str, &str)]) -> Proxy {
        match target {
            Target::Host(runtime) => Proxy::on_host(runtime, env),
            Target::Image(image) => Proxy::in_container(image, env),
        }
    }

    /// A container of `image` with the limits the invoker gives, its port published on loopback.
    pub fn in_container(image: &str, env: &[(&str, &str)]) -> Proxy {
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

    pub fn on_host(runtime: &str, env: &[(&str, &str)]) -> Proxy {
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

    pub fn post_raw(&self, path: &str, body: &[u8]) -> (u16, Value, String) {
        let (s, v, text, _) = self.post_answer(path, body);
        (s, v, text)
    }

    /// The status, the body as JSON and as text, and the `x-owl-died` header Owl's proxy adds when
    /// the action's process died during the request (upstream's container would have died).
    pub fn post_answer(&self, path: &str, body: &[u8]) -> (u16, Value, String, Option<String>) {
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

    pub fn init_body(code: &str, main: &str, binary: bool) -> Vec<u8> {
        json!({"value": {"name": "action", "main": main, "binary": binary, "code": code,
                         "env": {"__OW_API_HOST": "http://owl.test", "INIT_PARAM": "secret"}}})
        .to_string()
        .into_bytes()
    }

    pub fn run_body(value: Value) -> Vec<u8> {
        json!({"value": value, "namespace": "guest", "action_name": "/guest/action",
            "action_version": "0.0.1", "activation_id": "0123456789abcdef0123456789abcdef",
            "transaction_id": "tid-1", "deadline": "1717000060000", "api_key": "uuid:key"})
        .to_string()
        .into_bytes()
    }

    pub fn init(&self, code: &str, main: &str, binary: bool) -> (u16, Value) {
        let (s, v, _) = self.post_raw("/init", &Proxy::init_body(code, main, binary));
        (s, v)
    }

    pub fn run(&self, value: Value) -> (u16, Value) {
        let (s, v, _) = self.post_raw("/run", &Proxy::run_body(value));
        (s, v)
    }

    /// `/init`'s status, body text and `x-owl-died` header.
    pub fn init_answer(&self, code: &str, main: &str) -> (u16, String, Option<String>) {
        let (s, _, text, died) = self.post_answer("/init", &Proxy::init_body(code, main, false));
        (s, text, died)
    }

    /// `/run`'s status, body text and `x-owl-died` header.
    pub fn run_answer(&self, value: Value) -> (u16, String, Option<String>) {
        let (s, _, text, died) = self.post_answer("/run", &Proxy::run_body(value));
        (s, text, died)
    }

    /// Waits until both streams carry `n` sentinels, and returns them.
    pub fn logs(&self, n: usize) -> (String, String) {
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

/// Upstream's unicode case (its runtimes' `BasicActionRunnerTests`), for an initialized action that
/// prints and answers `{"winter": "<d> ☃ <d>"}` for the `delimiter` `<d>` it is given.
pub fn assert_unicode_round_trip(p: &Proxy) {
    assert_eq!(
        p.run(json!({"delimiter": "❄"})),
        (200, json!({"winter": "❄ ☃ ❄"}))
    );
    let (out, _) = p.logs(1);
    assert_eq!(out, format!("❄ ☃ ❄\n{SENTINEL}\n"));
}

/// A zip (stored, no compression) of the given files; `mode` 0o755 marks executables.
pub fn zip(files: &[(&str, &str, u32)]) -> String {
    let bytes: Vec<(&str, &[u8], u32)> = files
        .iter()
        .map(|(name, content, mode)| (*name, content.as_bytes(), *mode))
        .collect();
    zip_bytes(&bytes)
}

/// A zip (stored) of files given as bytes.
pub fn zip_bytes(files: &[(&str, &[u8], u32)]) -> String {
    use zip::write::SimpleFileOptions;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, content, mode) in files {
            let opts = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(*mode);
            w.start_file(*name, opts).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}
