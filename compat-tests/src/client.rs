//! An HTTP client that speaks as `wsk` does: Basic auth, `User-Agent: OpenWhisk-CLI/1.0 ...`, JSON
//! bodies followed by a newline. Every response it receives is checked against the swagger
//! description, so each test also checks the shapes of everything it touched.

use std::sync::OnceLock;

use base64::Engine;
use serde_json::Value;

use crate::swagger::Swagger;

pub struct Client {
    base: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// The raw body, for non-JSON answers (`OK`, `pong`, empty).
    pub text: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole response with volatile fields blanked: `(status, body)`.
    pub fn blanked(&self) -> (u16, Value) {
        (self.status, crate::blank(&self.body))
    }
}

fn swagger() -> &'static Swagger {
    static S: OnceLock<Swagger> = OnceLock::new();
    S.get_or_init(Swagger::default)
}

impl Client {
    pub fn new(base: &str, key: Option<&str>) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .build()
            .new_agent();
        let auth = key.map(|k| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(k)
            )
        });
        Client {
            base: base.trim_end_matches('/').to_string(),
            auth,
            agent,
        }
    }

    /// Sends a request with extra headers; `body` is sent as written (use [`Client::send`] for JSON).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Response {
        let url = format!("{}{}", self.base, path);
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header(
                "User-Agent",
                "OpenWhisk-CLI/1.0 (2024-09-25T00:23:10+1000) linux amd64",
            );
        if let Some(a) = &self.auth {
            b = b.header("Authorization", a);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let result = match body {
            Some(bytes) => self.agent.run(b.body(bytes).expect("a valid request")),
            None => self.agent.run(b.body(()).expect("a valid request")),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let response = Response {
            status,
            body,
            text,
            headers,
        };
        let api_path = path.strip_prefix("/api/v1").unwrap_or(path);
        let (api_path, query) = api_path.split_once('?').unwrap_or((api_path, ""));
        let counting = query.split('&').any(|kv| kv == "count=true");
        if counting && status == 200 {
            // The swagger description leaves out `count=true`: the answer is `{"<collection>": n}`.
            let collection = api_path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            let ok = response
                .body
                .as_object()
                .is_some_and(|o| o.len() == 1 && o.get(collection).is_some_and(Value::is_u64));
            assert!(
                ok,
                "a count answers {{\"{collection}\": n}}, not {}",
                response.text
            );
        } else if is_invoke(method, api_path)
            && (status == 502 || status == 500)
            && response.body.get("code").is_none()
        {
            // A failed activation answers with the activation (or its result), not an error envelope,
            // as upstream does; the CLI tells the two apart by the missing `code`.
            assert!(
                response.body.is_object() || response.body.is_array(),
                "{}",
                response.text
            );
        } else if path.starts_with("/api/v1")
            && method != "HEAD"
            && !(status < 400 && response.body.is_null())
        {
            // (A HEAD response has no body to check.)
            if let Err(e) = swagger().check(method, api_path, status, &response.body) {
                panic!(
                    "response does not conform to the swagger description: {e}\nbody: {}",
                    response.text
                );
            }
        }
        response
    }

    /// Sends JSON as `wsk` does: `Content-Type: application/json` and a trailing newline.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        match body {
            Some(v) => {
                let mut bytes = serde_json::to_vec(v).expect("JSON");
                bytes.push(b'\n');
                self.raw(
                    method,
                    path,
                    Some(&bytes),
                    &[("Content-Type", "application/json")],
                )
            }
            None => self.raw(method, path, None, &[]),
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None)
    }

    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.send("PUT", path, Some(body))
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send("POST", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Response {
        self.send("DELETE", path, None)
    }

    /// The stored record of activation `id` in the caller's namespace, waited for up to a minute
    /// (records are stored after the logs are collected, and a trigger's after its rules ran).
    pub fn record(&self, id: &str) -> Value {
        self.record_within(id, std::time::Duration::from_secs(60))
    }

    /// The stored record of activation `id` in the caller's namespace, waited for up to `within`.
    pub fn record_within(&self, id: &str, within: std::time::Duration) -> Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let r = self.get(&format!("/api/v1/namespaces/_/activations/{id}"));
            if r.status == 200 {
                return r.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "activation {id} was not stored within {within:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// `POST .../actions/[pkg/]name`: an invoke.
fn is_invoke(method: &str, path: &str) -> bool {
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    method == "POST" && s.len() >= 4 && s[0] == "namespaces" && s[2] == "actions"
}
