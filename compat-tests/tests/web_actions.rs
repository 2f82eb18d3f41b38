//! Web actions over plain HTTP (`/api/v1/web/<namespace>/<package|default>/<action>[.ext]`), as a
//! browser or `curl` calls them, against the real `owl standalone` and real containers. The
//! expectations are apache/openwhisk's: its tests (tests/.../core/cli/test/WskWebActionsTests.scala,
//! tests/.../core/controller/test/WebActionsApiTests.scala), its test actions (tests/dat/actions)
//! and its controller (core/controller/.../WebActions.scala) for what the tests leave implicit.
//!
//! These requests go through a plain HTTP client of this file, not the harness's `Client`: web
//! answers are whatever the action makes of them (any status, any body, binary ones too), so they
//! are neither swagger-checked nor read as text.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use owl_compat_tests::{Client, GUEST_KEY, Owl, blank};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";
const V: &str = "<volatile>";

/// The methods a web action answers.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
const ALLOW_METHODS: &str = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH";
const ALLOW_HEADERS: &str =
    "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent";
const NOT_FOUND: &str = "The requested resource does not exist.";
const NOT_ALLOWED: &str =
    "Request defines parameters that are not allowed (e.g., reserved properties).";
/// The reason text the reference server's HTTP framework gives a bare 401.
const UNAUTHORIZED: &str = "Authentication is possible but has failed or not yet been provided.";

/// Upstream's tests/dat/actions/pngWeb.js image, base64-encoded.
const PNG: &str = concat!(
    "iVBORw0KGgoAAAANSUhEUgAAAAoAAAAGCAYAAAD68A/GAAAA/klEQVQYGWNgAAEHBxaG//+ZQMyyn581Pfas+cRQnf1LfF",
    "Ljf+62smUgcUbt0FA2Zh7drf/ffMy9vLn3RurrW9e5hCU11i2azfD4zu1/DHz8TAy/foUxsXBrFzHzC7r8+M9S1vn1qxQT07",
    "dDjL9fdemrqKxlYGT6z8AIMo6hgeUfA0PUvy9fGFh5GWK3z7vNxSWt++jX99+8SoyiGQwsW38w8PJEM7x5v5SJ8f+/xv8MDA",
    "zffv9hevfkWjiXBGMpMx+j2awovjcMjFztDO8+7GF49LkbZDCDeXLTWnZO7qDfn1/+5jbw/8pjYWS4wZLztXnuEuYTk2M+Mz",
    "Iw/AcA36VewaD6fzsAAAAASUVORK5CYII="
);

/// Answers its parameters (upstream's echo.js).
const ECHO: &str = "function main(params) { return params }";

// ---------------------------------------------------------------------------------------------
// A plain HTTP client for web URLs.
// ---------------------------------------------------------------------------------------------

struct Web {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Web {
    /// Every value of header `name`, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name` (a repeated header fails the test).
    fn header(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} is repeated: {all:?}");
        all.first().copied()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.status, self.text()))
    }

    /// `(status, body)` with the error envelope's `code` blanked.
    fn blanked(&self) -> (u16, Value) {
        (self.status, blank(&self.json()))
    }
}

fn envelope(status: u16, error: &str) -> (u16, Value) {
    (status, json!({"error": error, "code": V}))
}

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// `METHOD <base>/api/v1/web/<path>` with these headers and body.
fn call(owl: &Owl, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Web {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .max_redirects(0)
        .build()
        .new_agent();
    let url = format!("{}/api/v1/web/{path}", owl.base);
    let mut b = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let result = match body {
        Some(bytes) => agent.run(b.body(bytes).expect("a valid request")),
        None => agent.run(b.body(()).expect("a valid request")),
    };
    let mut resp = result.unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    Web {
        status,
        headers,
        body,
    }
}

fn get(owl: &Owl, path: &str) -> Web {
    call(owl, "GET", path, &[], None)
}

/// POSTs JSON.
fn post(owl: &Owl, path: &str, body: &Value) -> Web {
    call(
        owl,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// A GET whose request target goes out byte for byte as written (no client normalizes it), over a
/// connection of its own; answers the status and the whole response.
fn get_verbatim(owl: &Owl, target: &str, key: Option<&str>) -> (u16, String) {
    let host = owl.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).expect("a connection to owl");
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    let auth = key
        .map(|k| format!("Authorization: {}\r\n", basic(k)))
        .unwrap_or_default();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {target}: {raw}"));
    (status, raw)
}

// ---------------------------------------------------------------------------------------------
// Setup helpers.
// ---------------------------------------------------------------------------------------------

/// Lifts guest's invocation rate: these tests call their actions far more than 60 times a minute.
fn generous(owl: &Owl) {
    owl.set_guest_limits(
        &[("--invocations-per-minute", "invocationsPerMinute", 100000)],
        Duration::from_secs(2),
    );
}

fn node(code: &str) -> Value {
    json!({"kind": "nodejs:20", "code": code})
}

fn python(code: &str) -> Value {
    json!({"kind": "python:3.11", "code": code})
}

/// What `wsk action create NAME --web true` sends: the exec and the three web annotations, then any
/// others.
fn web_action(exec: Value, more: &[(&str, Value)]) -> Value {
    let mut annotations = vec![
        json!({"key": "web-export", "value": true}),
        json!({"key": "raw-http", "value": false}),
        json!({"key": "final", "value": true}),
    ];
    annotations.extend(more.iter().map(|(k, v)| json!({"key": k, "value": v})));
    json!({"exec": exec, "annotations": annotations})
}

/// `PUT .../actions/{name}?overwrite=true`, which must succeed.
fn put(c: &Client, name: &str, body: &Value) {
    let r = c.put(&format!("{NS}/actions/{name}?overwrite=true"), body);
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
}

fn without(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

/// The default CORS headers of a web answer, `allow_headers` being what `Access-Control-Allow-Headers`
/// must say.
fn assert_default_cors(w: &Web, allow_headers: &str, what: &str) {
    assert_eq!(w.all("access-control-allow-origin"), ["*"], "{what}");
    assert_eq!(
        w.all("access-control-allow-methods"),
        [ALLOW_METHODS],
        "{what}"
    );
    assert_eq!(
        w.all("access-control-allow-headers"),
        [allow_headers],
        "{what}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn every_method_reaches_a_web_action_with_the_request_as_context() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    put(&c, "echo", &web_action(node(ECHO), &[]));

    let body = br#"{"extra":"read all about it","yummy":true}"#;
    for m in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let w = call(
            &owl,
            m,
            "guest/default/echo.json?a=b&c=d",
            &[("Content-Type", "application/json"), ("X-Custom", "value")],
            Some(body),
        );
        assert_eq!(w.status, 200, "{m}: {}", w.text());
        assert_eq!(w.header("content-type"), Some("application/json"), "{m}");
        let got = w.json();
        assert_eq!(
            without(&got, &["__ow_headers"]),
            json!({"a": "b", "c": "d", "extra": "read all about it", "yummy": true,
                   "__ow_method": m.to_lowercase(), "__ow_path": ""}),
            "{m}: query and body merged, and the request's context; no __ow_user without credentials"
        );
        let headers = &got["__ow_headers"];
        assert_eq!(headers["x-custom"], "value", "{m}: {headers}");
        assert_eq!(
            headers["content-type"], "application/json",
            "{m}: {headers}"
        );
        assert!(headers.get("authorization").is_none(), "{m}: {headers}");
        let id = w
            .header("x-openwhisk-activation-id")
            .unwrap_or_else(|| panic!("{m}: no activation id"));
        if m == "POST" {
            // Recorded in the owner's namespace, as any activation.
            let record = c.record(id);
            assert_eq!(
                (&record["namespace"], &record["name"], &record["subject"]),
                (&json!("guest"), &json!("echo"), &json!("guest"))
            );
            assert_eq!(record["response"]["result"], got);
        }
    }

    // Without a body there is no content-type to forward.
    let w = get(&owl, "guest/default/echo.json");
    assert_eq!(w.status, 200, "{}", w.text());
    assert!(
        w.json()["__ow_headers"].get("content-type").is_none(),
        "{}",
        w.text()
    );

    // HEAD runs the action and answers without a body.
    let w = call(&owl, "HEAD", "guest/default/echo.json?a=b", &[], None);
    assert_eq!((w.status, w.body.len()), (200, 0));
    let id = w
        .header("x-openwhisk-activation-id")
        .expect("HEAD ran the action");
    assert_eq!(c.record(id)["response"]["result"]["__ow_method"], "head");

    // OPTIONS answers for the action without running it.
    let w = call(&owl, "OPTIONS", "guest/default/echo.json", &[], None);
    assert_eq!((w.status, w.body.len()), (200, 0));
    assert_eq!(
        w.header("x-openwhisk-activation-id"),
        None,
        "OPTIONS ran nothing"
    );
    assert_default_cors(&w, ALLOW_HEADERS, "OPTIONS");

    // Valid credentials name the caller in __ow_user (and are forwarded like any header).
    let auth = basic(GUEST_KEY);
    let w = call(
        &owl,
        "GET",
        "guest/default/echo.json",
        &[("Authorization", &auth)],
        None,
    );
    let got = w.json();
    assert_eq!(got["__ow_user"], "guest", "{got}");
    assert_eq!(got["__ow_headers"]["authorization"], json!(auth));
    // Invalid ones are no error: the caller is anonymous.
    let wrong = basic(&format!("{}:{}", &GUEST_KEY[..36], "x".repeat(64)));
    let w = call(
        &owl,
        "GET",
        "guest/default/echo.json",
        &[("Authorization", &wrong)],
        None,
    );
    assert_eq!(w.status, 200, "{}", w.text());
    assert!(w.json().get("__ow_user").is_none(), "{}", w.text());

    // What follows the action is the unmatched path; `.json` answers the whole result (no
    // projection on it).
    for (path, rest) in [
        ("guest/default/echo.json/a/b", "/a/b"),
        ("guest/default/echo.json/", "/"),
        ("guest/default/echo.json/content", "/content"),
    ] {
        let got = get(&owl, path).json();
        assert_eq!(got["__ow_path"], rest, "{path}");
        assert_eq!(got["__ow_method"], "get", "{path}");
    }
}

#[test]
fn the_extension_chooses_how_the_result_is_rendered() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    let render = "function main(p) {
      switch (p.kind) {
        case 'html': return { html: '<html><body>hi</body></html>' }
        case 'svg': return { svg: '<svg><circle cx=\"3\" cy=\"3\" r=\"3\" fill=\"blue\"/></svg>' }
        case 'text': return { text: 'plain words' }
        case 'number': return { body: 42 }
        case 'bool': return { body: true }
        case 'null': return { body: null }
        case 'object': return { body: { a: 'A' } }
        case 'array': return [1, 2]
        case 'error': return { error: 'bad response type' }
        default: return { other: 1 }
      }
    }";
    put(&c, "render", &web_action(node(render), &[]));
    let at = |ext: &str, kind: &str| get(&owl, &format!("guest/default/render{ext}?kind={kind}"));

    let w = at(".json", "none");
    assert_eq!((w.status, w.json()), (200, json!({"other": 1})));
    assert_eq!(w.header("content-type"), Some("application/json"));
    let w = at(".json", "array");
    assert_eq!((w.status, w.json()), (200, json!([1, 2])));

    let w = at(".html", "html");
    assert_eq!(
        (w.status, w.text().as_str()),
        (200, "<html><body>hi</body></html>")
    );
    assert_eq!(w.header("content-type"), Some("text/html; charset=UTF-8"));

    let w = at(".svg", "svg");
    assert_eq!(
        (w.status, w.text().as_str()),
        (
            200,
            "<svg><circle cx=\"3\" cy=\"3\" r=\"3\" fill=\"blue\"/></svg>"
        )
    );
    assert!(
        w.header("content-type")
            .is_some_and(|t| t.starts_with("image/svg+xml")),
        "{:?}",
        w.header("content-type")
    );

    for (kind, text) in [
        ("text", "plain words"),
        ("number", "42"),
        ("bool", "true"),
        ("null", "null"),
        // Objects are pretty-printed.
        ("object", "{\n  \"a\": \"A\"\n}"),
        // An application error's `error` value is what is rendered.
        ("error", "bad response type"),
    ] {
        let w = at(".text", kind);
        assert_eq!((w.status, w.text().as_str()), (200, text), "{kind}");
        assert_eq!(
            w.header("content-type"),
            Some("text/plain; charset=UTF-8"),
            "{kind}"
        );
    }

    // Results that do not fit the extension.
    for (ext, kind, status, error) in [
        (
            ".json",
            "error",
            400,
            "Response is not valid 'application/json'.",
        ),
        (".html", "none", 400, "Response is not valid 'text/html'."),
        (".html", "text", 400, "Response is not valid 'text/html'."),
        (
            ".svg",
            "none",
            400,
            "Response is not valid 'image/svg+xml'.",
        ),
        (
            ".text",
            "none",
            404,
            "Response does not include requested property.",
        ),
        (
            ".http",
            "array",
            400,
            "Response is not valid 'message/http'.",
        ),
        ("", "array", 400, "Response is not valid 'message/http'."),
    ] {
        let w = at(ext, kind);
        assert_eq!(w.blanked(), envelope(status, error), "{ext} {kind}");
        assert!(
            w.header("x-openwhisk-activation-id").is_some(),
            "{ext} {kind}: the action ran"
        );
    }
}

#[test]
fn an_http_result_sets_the_status_headers_and_body_of_the_answer() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    let respond = format!(
        "const png = '{PNG}';
    function main(p) {{
      switch (p.case) {{
        case 'redirect': return {{ statusCode: 302, headers: {{ location: 'https://openwhisk.org' }} }}
        case 'cookies': return {{ statusCode: 200, headers: {{ 'Set-Cookie': ['a=b', 'c=d; Path = /'] }} }}
        case 'empty': return {{}}
        case 'empty-body': return {{ body: '' }}
        case 'null-body': return {{ body: null }}
        case 'custom': return {{ statusCode: 444 }}
        case 'string-code': return {{ statusCode: '201', body: 'made' }}
        case 'bad-code': return {{ statusCode: 'xyz' }}
        case 'png': return {{ headers: {{ 'Content-Type': 'image/png' }}, body: png }}
        case 'html': return {{ body: '<h1>hi</h1>' }}
        case 'json': return {{ body: {{ field: 'value' }} }}
        case 'json-number': return {{ statusCode: 200, body: 3 }}
        case 'hal': return {{ headers: {{ 'content-type': 'application/hal+json' }}, body: {{ field: 'value' }} }}
        case 'json-string': return {{ headers: {{ 'content-type': 'application/json' }}, statusCode: 200, body: '{{\"status\": \"success\"}}' }}
        case 'mismatch': return {{ headers: {{ 'content-type': 'text/html' }}, body: {{ field: 'value' }} }}
        case 'unknown-type': return {{ headers: {{ 'content-type': 'xyzbar' }}, body: 'hello world' }}
        case 'bad-header': return {{ headers: {{ 'x-bad': {{ nested: true }} }}, body: 'x' }}
        case 'head': return {{ statusCode: 200, headers: {{ 'Request-type': p.__ow_method }} }}
        case 'app-error': return {{ error: {{ statusCode: 409, body: 'conflict!' }} }}
        case 'dev-error': throw new Error('thrown on purpose')
        default: return {{ statusCode: 200, body: 'default' }}
      }}
    }}"
    );
    put(&c, "respond", &web_action(node(&respond), &[]));
    let at = |case: &str| get(&owl, &format!("guest/default/respond.http?case={case}"));

    let w = at("redirect");
    assert_eq!(w.status, 302);
    assert_eq!(w.header("location"), Some("https://openwhisk.org"));

    let w = at("cookies");
    assert_eq!(w.status, 200);
    assert_eq!(
        w.all("set-cookie"),
        ["a=b", "c=d; Path = /"],
        "one header per value"
    );

    for case in ["empty", "empty-body", "null-body"] {
        let w = at(case);
        assert_eq!((w.status, w.body.len()), (204, 0), "{case}");
    }

    let w = at("custom");
    assert_eq!((w.status, w.body.len()), (444, 0));
    let w = at("string-code");
    assert_eq!((w.status, w.text().as_str()), (201, "made"));

    let w = at("png");
    assert_eq!(w.status, 200);
    assert_eq!(w.header("content-type"), Some("image/png"));
    assert_eq!(
        w.body,
        base64::engine::general_purpose::STANDARD
            .decode(PNG)
            .unwrap(),
        "the base64 body is sent decoded"
    );

    let w = at("html");
    assert_eq!((w.status, w.text().as_str()), (200, "<h1>hi</h1>"));
    assert_eq!(w.header("content-type"), Some("text/html; charset=UTF-8"));
    // No extension is `.http`.
    let w = get(&owl, "guest/default/respond?case=html");
    assert_eq!((w.status, w.text().as_str()), (200, "<h1>hi</h1>"));

    let w = at("json");
    assert_eq!((w.status, w.json()), (200, json!({"field": "value"})));
    assert_eq!(w.header("content-type"), Some("application/json"));
    let w = at("json-number");
    assert_eq!((w.status, w.json()), (200, json!(3)));
    let w = at("hal");
    assert_eq!((w.status, w.json()), (200, json!({"field": "value"})));
    assert!(
        w.header("content-type")
            .is_some_and(|t| t.starts_with("application/hal+json")),
        "{:?}",
        w.header("content-type")
    );
    // A JSON string body is sent as it is (upstream's jsonStringWebAction.js).
    let w = at("json-string");
    assert_eq!((w.status, w.json()), (200, json!({"status": "success"})));
    assert_eq!(w.header("content-type"), Some("application/json"));

    for (case, error) in [
        ("bad-code", "Response is not valid 'message/http'."),
        ("bad-header", "Response is not valid 'message/http'."),
        (
            "mismatch",
            "Response type in header did not match generated content type.",
        ),
        (
            "unknown-type",
            "Response did not specify a known content-type.",
        ),
    ] {
        assert_eq!(at(case).blanked(), envelope(400, error), "{case}");
    }

    // HEAD: the action's status and headers, no body (upstream's echo-web-http-head.js).
    let w = call(&owl, "HEAD", "guest/default/respond?case=head", &[], None);
    assert_eq!((w.status, w.body.len()), (200, 0));
    assert_eq!(w.header("request-type"), Some("head"));
    let w = call(
        &owl,
        "HEAD",
        "guest/default/respond.http?case=redirect",
        &[],
        None,
    );
    assert_eq!(w.status, 302);
    assert_eq!(w.header("location"), Some("https://openwhisk.org"));

    // An application error's `error` value is the response.
    let w = at("app-error");
    assert_eq!((w.status, w.text().as_str()), (409, "conflict!"));
    // A developer error is not shown (last: it costs the container).
    assert_eq!(
        at("dev-error").blanked(),
        envelope(400, "There was an error processing your request.")
    );
}

#[test]
fn a_raw_http_action_gets_the_query_and_the_body_as_they_came() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    // What `wsk action create raw --web raw -p x fixed` sends.
    put(
        &c,
        "raw",
        &json!({"exec": node(ECHO),
                "parameters": [{"key": "x", "value": "fixed"}],
                "annotations": [{"key": "web-export", "value": true}, {"key": "raw-http", "value": true},
                                {"key": "final", "value": true}]}),
    );
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);

    for json_body in [
        r#"{"a":"A","b":"B"}"#,
        "{\n  \"a\": \"A\",\n  \"b\": \"B\"\n}",
        "1,2,3",
    ] {
        let w = call(
            &owl,
            "POST",
            "guest/default/raw.json?key1=value1&key2=value2",
            &[("Content-Type", "application/json")],
            Some(json_body.as_bytes()),
        );
        assert_eq!(w.status, 200, "{}", w.text());
        assert_eq!(
            without(&w.json(), &["__ow_headers"]),
            json!({"x": "fixed", "__ow_method": "post", "__ow_path": "",
                   "__ow_query": "key1=value1&key2=value2", "__ow_body": b64(json_body.as_bytes())}),
            "a JSON body is passed base64-encoded, byte for byte"
        );
    }

    // Nothing given: both are empty strings.
    let w = call(&owl, "POST", "guest/default/raw.json", &[], None);
    assert_eq!(
        without(&w.json(), &["__ow_headers"]),
        json!({"x": "fixed", "__ow_method": "post", "__ow_path": "", "__ow_query": "", "__ow_body": ""})
    );

    // Raw actions are never refused for naming a final parameter: nothing is promoted.
    let w = call(
        &owl,
        "POST",
        "guest/default/raw.json?x=overridden&key2=value2",
        &[("Content-Type", "application/json")],
        Some(br#"{"x":"overridden"}"#),
    );
    assert_eq!(w.status, 200, "{}", w.text());
    let got = w.json();
    assert_eq!(got["x"], "fixed");
    assert_eq!(got["__ow_query"], "x=overridden&key2=value2");

    // Text stays text; binary media is base64.
    let w = call(
        &owl,
        "PUT",
        "guest/default/raw.json",
        &[("Content-Type", "text/plain")],
        Some(b"1,2,3"),
    );
    assert_eq!(w.json()["__ow_body"], "1,2,3");
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    let w = call(
        &owl,
        "POST",
        "guest/default/raw.json",
        &[("Content-Type", "image/png")],
        Some(&png),
    );
    assert_eq!(w.json()["__ow_body"], PNG);
}

#[test]
fn a_web_action_takes_bodies_by_content_type_and_refuses_reserved_or_final_parameters() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    // Answers its parameters, with the length of `big` instead of `big`.
    let inbox =
        "function main(p) { if (typeof p.big === 'string') p.big = p.big.length; return p }";
    put(
        &c,
        "inbox",
        &json!({"exec": node(inbox),
                "parameters": [{"key": "fixed", "value": "F"}, {"key": "open", "value": null}],
                "annotations": [{"key": "web-export", "value": true}, {"key": "raw-http", "value": false},
                                {"key": "final", "value": true}]}),
    );
    let send = |ct: &str, body: &[u8], query: &str| {
        call(
            &owl,
            "POST",
            &format!("guest/default/inbox.json{query}"),
            &[("Content-Type", ct)],
            Some(body),
        )
    };

    // A JSON object is merged over the query; the action's own parameters stay under both.
    let w = send(
        "application/json",
        br#"{"a":"body","b":1}"#,
        "?a=query&c=query",
    );
    assert_eq!(w.status, 200, "{}", w.text());
    let got = w.json();
    assert_eq!(
        (&got["a"], &got["b"], &got["c"], &got["fixed"]),
        (&json!("body"), &json!(1), &json!("query"), &json!("F"))
    );
    // `+json` types are JSON too.
    let got = send(
        "application/cloudevents+json",
        br#"{"field1":"value1"}"#,
        "",
    )
    .json();
    assert_eq!(got["field1"], "value1", "{got}");

    // Any other JSON value is passed whole in __ow_body; an empty body and `{}` add nothing.
    for v in [
        json!("this is a string"),
        json!([1, "str str", false]),
        json!(true),
        json!(99),
        json!(null),
        json!([]),
    ] {
        let got = send("application/json", v.to_string().as_bytes(), "").json();
        assert_eq!(got["__ow_body"], v, "{v}");
        assert!(got.get("__ow_body").is_some(), "{v}");
    }
    for empty in ["", "{}"] {
        let w = send("application/json", empty.as_bytes(), "");
        assert_eq!(w.status, 200, "{empty:?}: {}", w.text());
        assert!(
            w.json().get("__ow_body").is_none(),
            "{empty:?}: {}",
            w.text()
        );
    }

    // Forms are merged as strings; text is passed as text; binary media as base64.
    let got = send(
        "application/x-www-form-urlencoded",
        b"field1=value1&field2=value2",
        "",
    )
    .json();
    assert_eq!(
        (&got["field1"], &got["field2"]),
        (&json!("value1"), &json!("value2"))
    );
    let got = send("text/html", b"key=value", "").json();
    assert_eq!(got["__ow_body"], "key=value");
    let got = send("text/plain", b"This is the body", "").json();
    assert_eq!(got["__ow_body"], "This is the body");
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    let got = send("image/png", &png, "").json();
    assert_eq!(got["__ow_body"], PNG);

    // Malformed JSON is refused by the server's JSON reader.
    let w = send("application/json", br#"{"a": "#, "");
    assert_eq!(w.status, 400, "{}", w.text());
    let error = w.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.starts_with("The request content was malformed:"),
        "{error}"
    );

    // Final parameters cannot be given again; null ones can.
    for (query, body) in [
        ("?fixed=x", "{}"),
        ("", r#"{"fixed":"x"}"#),
        ("?open=y", r#"{"fixed":"x"}"#),
    ] {
        let w = send("application/json", body.as_bytes(), query);
        assert_eq!(w.blanked(), envelope(400, NOT_ALLOWED), "{query} {body}");
    }
    let got = get(&owl, "guest/default/inbox.json?open=given").json();
    assert_eq!(
        (&got["open"], &got["fixed"]),
        (&json!("given"), &json!("F"))
    );

    // The context's own names are reserved, in the query and in the body.
    for name in [
        "__ow_method",
        "__ow_headers",
        "__ow_path",
        "__ow_user",
        "__ow_query",
        "__ow_body",
    ] {
        let w = get(&owl, &format!("guest/default/inbox.json?{name}=YYY"));
        assert_eq!(
            w.blanked(),
            envelope(400, NOT_ALLOWED),
            "{name} in the query"
        );
        let w = send(
            "application/json",
            json!({name: "YYY"}).to_string().as_bytes(),
            "",
        );
        assert_eq!(
            w.blanked(),
            envelope(400, NOT_ALLOWED),
            "{name} in the body"
        );
    }

    // The payload limit of the owner's namespace: 1 MB.
    let limit = 1024 * 1024;
    let just_under = format!(r#"{{"big":"{}"}}"#, "a".repeat(limit - 2048));
    let w = send("application/json", just_under.as_bytes(), "");
    assert_eq!(w.status, 200, "{}", &w.text()[..w.text().len().min(300)]);
    assert_eq!(w.json()["big"], json!(limit - 2048));
    let over = format!(r#"{{"big":"{}"}}"#, "a".repeat(limit));
    let w = send("application/json", over.as_bytes(), "");
    assert_eq!(
        w.blanked(),
        envelope(
            413,
            &format!(
                "Request larger than allowed: {} > {limit} bytes.",
                over.len()
            )
        )
    );
    let form = format!("big={}", "a".repeat(limit));
    let w = send("application/x-www-form-urlencoded", form.as_bytes(), "");
    assert_eq!(
        w.blanked(),
        envelope(
            413,
            &format!(
                "Request larger than allowed: {} > {limit} bytes.",
                form.len()
            )
        )
    );
    // The action is looked up first: a missing one is missing, whatever the size.
    let w = call(
        &owl,
        "POST",
        "guest/default/nothere.json",
        &[("Content-Type", "application/json")],
        Some(over.as_bytes()),
    );
    assert_eq!(w.blanked(), envelope(404, NOT_FOUND));
}

#[test]
fn require_whisk_auth_admits_callers_with_credentials_or_the_secret() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    let alice_key = owl.admin(&["user", "create", "alice"]);
    let guest = basic(GUEST_KEY);
    let alice = basic(&alice_key);
    let wrong = basic(&format!("{}:{}", &GUEST_KEY[..36], "x".repeat(64)));
    let whoami = "function main(p) { return { user: p.__ow_user || null, secret: p.__ow_headers['x-require-whisk-auth'] || null } }";
    let with = |auth: Value| web_action(node(whoami), &[("require-whisk-auth", auth)]);
    put(&c, "members", &with(json!(true)));
    put(&c, "secret", &with(json!("s3cr3t")));
    put(&c, "numeric", &with(json!(7234)));
    put(&c, "open", &with(json!(false)));
    put(&c, "odd", &with(json!({"a": 1})));
    let ask = |name: &str, headers: &[(&str, &str)]| {
        call(
            &owl,
            "GET",
            &format!("guest/default/{name}.json"),
            headers,
            None,
        )
    };

    // `true`: any valid OpenWhisk credentials.
    for headers in [vec![], vec![("Authorization", wrong.as_str())]] {
        assert_eq!(
            ask("members", &headers).blanked(),
            envelope(401, UNAUTHORIZED),
            "{headers:?}"
        );
    }
    let w = ask("members", &[("Authorization", &guest)]);
    assert_eq!(
        (w.status, w.json()),
        (200, json!({"user": "guest", "secret": null}))
    );
    let w = ask("members", &[("Authorization", &alice)]);
    assert_eq!(
        (w.status, w.json()),
        (200, json!({"user": "alice", "secret": null}))
    );
    // ... which run as the owner, in the owner's namespace.
    let record = c.record(w.header("x-openwhisk-activation-id").expect("an id"));
    assert_eq!(record["namespace"], "guest");
    // OPTIONS needs no credentials.
    let w = call(&owl, "OPTIONS", "guest/default/members.json", &[], None);
    assert_eq!((w.status, w.body.len()), (200, 0));
    assert_default_cors(&w, ALLOW_HEADERS, "OPTIONS");

    // A string: X-Require-Whisk-Auth must carry it; credentials do not stand in for it.
    for headers in [
        vec![],
        vec![("X-Require-Whisk-Auth", "s3cr3t-bad")],
        vec![("Authorization", guest.as_str())],
    ] {
        assert_eq!(
            ask("secret", &headers).blanked(),
            envelope(401, UNAUTHORIZED),
            "{headers:?}"
        );
    }
    let w = ask("secret", &[("X-Require-Whisk-Auth", "s3cr3t")]);
    assert_eq!(
        (w.status, w.json()),
        (200, json!({"user": null, "secret": "s3cr3t"}))
    );

    // A number is compared as its decimal text.
    let w = ask("numeric", &[("X-Require-Whisk-Auth", "7234")]);
    assert_eq!(
        (w.status, w.json()),
        (200, json!({"user": null, "secret": "7234"}))
    );
    assert_eq!(
        ask("numeric", &[("X-Require-Whisk-Auth", "7235")]).blanked(),
        envelope(401, UNAUTHORIZED)
    );

    // `false` is open; any other value is never satisfied.
    let w = ask("open", &[]);
    assert_eq!(
        (w.status, w.json()),
        (200, json!({"user": null, "secret": null}))
    );
    for headers in [vec![], vec![("Authorization", guest.as_str())]] {
        assert_eq!(
            ask("odd", &headers).blanked(),
            envelope(401, UNAUTHORIZED),
            "{headers:?}"
        );
    }
}

#[test]
fn cors_headers_and_options_answers_follow_upstream() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    // Upstream's corsHeaderMod.js.
    let cors = "function main() {
      return {
        headers: {
          'Access-Control-Allow-Origin': 'Origin set from Web Action',
          'Access-Control-Allow-Headers': 'Headers set from Web Action',
          'Access-Control-Allow-Methods': 'Methods set from Web Action',
          'Location': 'openwhisk.org',
          'Set-Cookie': 'cookie-cookie-cookie'
        },
        statusCode: 200
      }
    }";
    put(&c, "cors", &web_action(node(cors), &[]));
    put(
        &c,
        "cors-custom",
        &web_action(node(cors), &[("web-custom-options", json!(true))]),
    );
    put(
        &c,
        "cors-guarded",
        &web_action(
            node(
                "function main() { return { headers: { 'Access-Control-Allow-Methods': 'OPTIONS, GET, PATCH' } } }",
            ),
            &[
                ("web-custom-options", json!(true)),
                ("require-whisk-auth", json!(true)),
            ],
        ),
    );

    // Default: OPTIONS is answered without the action; every answer carries the CORS headers, the
    // allowed headers echoing Access-Control-Request-Headers when asked.
    for (asked, allowed) in [
        (Some("x-custom-header"), "x-custom-header"),
        (None, ALLOW_HEADERS),
    ] {
        let headers: Vec<(&str, &str)> = asked
            .map(|h| vec![("Access-Control-Request-Headers", h)])
            .unwrap_or_default();
        let w = call(&owl, "OPTIONS", "guest/default/cors.http", &headers, None);
        assert_eq!((w.status, w.body.len()), (200, 0), "{asked:?}");
        assert_default_cors(&w, allowed, "OPTIONS");
        assert_eq!((w.header("location"), w.header("set-cookie")), (None, None));
        let w = call(&owl, "GET", "guest/default/cors.json", &headers, None);
        assert_eq!(w.status, 200, "{}", w.text());
        assert_default_cors(&w, allowed, "GET .json");
        assert_eq!((w.header("location"), w.header("set-cookie")), (None, None));
        // Headers that are not a CORS request change nothing.
        let w = call(
            &owl,
            "GET",
            "guest/default/cors.json",
            &[("x-custom-header", "value")],
            None,
        );
        assert_default_cors(&w, ALLOW_HEADERS, "GET with another header");
    }

    // web-custom-options: OPTIONS runs the action, whose headers are the only CORS headers.
    let w = call(
        &owl,
        "OPTIONS",
        "guest/default/cors-custom.http",
        &[("Access-Control-Request-Headers", "x-custom-header")],
        None,
    );
    assert_eq!(w.status, 200);
    assert_eq!(
        (
            w.header("access-control-allow-origin"),
            w.header("access-control-allow-methods"),
            w.header("access-control-allow-headers"),
            w.header("location"),
            w.header("set-cookie"),
        ),
        (
            Some("Origin set from Web Action"),
            Some("Methods set from Web Action"),
            Some("Headers set from Web Action"),
            Some("openwhisk.org"),
            Some("cookie-cookie-cookie"),
        )
    );
    assert!(
        w.header("x-openwhisk-activation-id").is_some(),
        "the action ran"
    );

    // ... even when the action requires credentials the OPTIONS request lacks.
    let w = call(
        &owl,
        "OPTIONS",
        "guest/default/cors-guarded.http",
        &[("Access-Control-Request-Headers", "x-custom-header")],
        None,
    );
    assert_eq!(w.status, 204, "no body: the default status");
    assert_eq!(
        w.header("access-control-allow-methods"),
        Some("OPTIONS, GET, PATCH")
    );
    assert_eq!(w.header("access-control-allow-origin"), None);
    assert_eq!(w.header("access-control-allow-headers"), None);
    assert_eq!(
        call(&owl, "GET", "guest/default/cors-guarded.http", &[], None).blanked(),
        envelope(401, UNAUTHORIZED)
    );
}

#[test]
fn only_exported_actions_of_real_namespaces_are_reachable_and_paths_cannot_escape() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    let alice_key = owl.admin(&["user", "create", "alice"]);
    let alice = owl.client(&alice_key);
    let ok = |r: owl_compat_tests::Response| assert_eq!(r.status, 200, "{}", r.text);

    put(&c, "echo", &web_action(node(ECHO), &[]));
    put(&c, "plain", &json!({"exec": node(ECHO)}));
    let exported_as =
        |v: Value| json!({"exec": node(ECHO), "annotations": [{"key": "web-export", "value": v}]});
    put(&c, "as-string", &exported_as(json!("true")));
    put(&c, "unexported", &exported_as(json!(false)));
    let secret = "function main() { return { marker: 'alice-secret' } }";
    ok(alice.put(
        &format!("{NS}/actions/hidden"),
        &json!({"exec": node(secret)}),
    ));
    ok(alice.put(
        &format!("{NS}/actions/open"),
        &web_action(
            node("function main() { return { marker: 'alice-open' } }"),
            &[],
        ),
    ));
    // A web action in alice's shared package, with a parameter, reachable through guest's binding.
    ok(alice.put(
        &format!("{NS}/packages/pub"),
        &json!({"publish": true, "parameters": [{"key": "from", "value": "package"}]}),
    ));
    ok(alice.put(&format!("{NS}/actions/pub/w"), &web_action(node(ECHO), &[])));
    ok(c.put(
        &format!("{NS}/packages/alicepub"),
        &json!({"binding": {"namespace": "alice", "name": "pub"}}),
    ));

    let guest = basic(GUEST_KEY);
    let alice_auth = basic(&alice_key);
    for path in [
        "guest/default/plain.json",
        "guest/default/plain",
        "guest/default/as-string.json",
        "guest/default/unexported.json",
        "guest/default/nothere.json",
        "guest/nopkg/echo.json",
        "nobody/default/echo.json",
        "_/default/echo.json",
        // An unknown extension is part of the name.
        "guest/default/echo.xyz",
        "guest/default/echo.xyz/content",
        // Another namespace's action that is not exported: not even its owner reaches it here.
        "alice/default/hidden.json",
    ] {
        for auth in [None, Some(&guest), Some(&alice_auth)] {
            let headers: Vec<(&str, &str)> = auth
                .map(|a| vec![("Authorization", a.as_str())])
                .unwrap_or_default();
            for m in ["GET", "POST"] {
                let w = call(&owl, m, path, &headers, None);
                assert_eq!(w.blanked(), envelope(404, NOT_FOUND), "{m} {path} {auth:?}");
            }
        }
    }
    // Not a web action URL at all.
    for path in ["", "guest", "guest/default", "guest/default/"] {
        let w = get(&owl, path);
        assert_eq!(w.status, 404, "{path}: {}", w.text());
    }

    // Another namespace's web action runs as, and is recorded for, its owner.
    let w = get(&owl, "alice/default/open.json");
    assert_eq!((w.status, w.json()), (200, json!({"marker": "alice-open"})));
    let id = w.header("x-openwhisk-activation-id").expect("an id");
    assert_eq!(alice.record(id)["namespace"], "alice");
    assert_eq!(c.get(&format!("{NS}/activations/{id}")).status, 404);
    let w = get(&owl, "alice/pub/w.json");
    assert_eq!(w.status, 200, "{}", w.text());
    assert_eq!(w.json()["from"], "package");
    // Through guest's binding of the shared package, it runs for guest.
    let w = get(&owl, "guest/alicepub/w.json");
    assert_eq!(w.status, 200, "{}", w.text());
    assert_eq!(w.json()["from"], "package");
    let id = w.header("x-openwhisk-activation-id").expect("an id");
    assert_eq!(c.record(id)["namespace"], "guest");

    // Dot segments and encoded slashes lead nowhere: never to alice's private action.
    for target in [
        "/api/v1/web/guest/default/../../alice/default/hidden.json",
        "/api/v1/web/guest/default/..%2F..%2Falice%2Fdefault%2Fhidden.json",
        "/api/v1/web/guest/default/%2E%2E/%2E%2E/alice/default/hidden.json",
        "/api/v1/web/guest/..%2Falice/hidden.json",
        "/api/v1/web/guest%2F..%2Falice/default/hidden.json",
        "/api/v1/web/alice%2Fdefault/hidden.json",
        "/api/v1/web/alice/default%2Fhidden.json",
        // An encoded slash is no separator, even towards a real web action.
        "/api/v1/web/guest/default%2Fecho.json",
    ] {
        for key in [None, Some(GUEST_KEY)] {
            let (status, raw) = get_verbatim(&owl, target, key);
            assert!(
                status == 404 || status == 400,
                "{target} {key:?}: {status}\n{raw}"
            );
            assert!(!raw.contains("alice-secret"), "{target}: {raw}");
        }
    }
    // A path that climbs out of the web API altogether still never runs alice's action.
    let target = "/api/v1/web/alice/default/open.json/../../../../namespaces/alice/actions/hidden?blocking=true&result=true";
    for key in [None, Some(GUEST_KEY)] {
        let (status, raw) = get_verbatim(&owl, target, key);
        assert!(status >= 400, "{target} {key:?}: {status}\n{raw}");
        assert!(!raw.contains("alice-secret"), "{target}: {raw}");
    }
}

#[test]
fn a_sequence_can_be_a_web_action() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    put(
        &c,
        "greet",
        &json!({"exec": node("function main(p) { return { greeting: 'Hello ' + p.name, method: p.__ow_method } }")}),
    );
    put(
        &c,
        "page",
        &json!({"exec": python("def main(a):\n    return {'headers': {'content-type': 'text/html'}, 'body': '<h1>%s (%s)</h1>' % (a['greeting'], a['method'])}\n")}),
    );
    let components = json!({"kind": "sequence", "components": ["/_/greet", "/_/page"]});
    put(&c, "welcome", &web_action(components.clone(), &[]));
    put(&c, "welcome-private", &json!({"exec": components}));

    let w = get(&owl, "guest/default/welcome?name=owl");
    assert_eq!(
        (w.status, w.text().as_str()),
        (200, "<h1>Hello owl (get)</h1>"),
        "the first step got the request"
    );
    assert_eq!(w.header("content-type"), Some("text/html; charset=UTF-8"));
    let record = c.record(w.header("x-openwhisk-activation-id").expect("an id"));
    assert_eq!(record["name"], "welcome");
    assert_eq!(record["logs"].as_array().map(Vec::len), Some(2), "{record}");
    assert!(
        record["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "kind" && a["value"] == "sequence"),
        "{record}"
    );

    let w = post(&owl, "guest/default/welcome.json", &json!({"name": "json"}));
    assert_eq!(
        (w.status, w.json()),
        (
            200,
            json!({"headers": {"content-type": "text/html"}, "body": "<h1>Hello json (post)</h1>"})
        )
    );

    assert_eq!(
        get(&owl, "guest/default/welcome-private?name=owl").blanked(),
        envelope(404, NOT_FOUND)
    );
}

#[test]
fn the_url_wsk_action_get_url_prints_reaches_the_web_action() {
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    let hello =
        "function main(p) { return { body: '<html>hello ' + (p.name || 'you') + '</html>' } }";
    // `wsk action create hello hello.js --web true`, and `wsk package create site` +
    // `wsk action create site/page hello.js --web true`.
    let created = c.put(
        &format!("{NS}/actions/hello?overwrite=false"),
        &json!({"namespace": "guest", "name": "hello", "exec": {"kind": "nodejs:default", "code": hello},
                "annotations": [{"key": "web-export", "value": true}, {"key": "raw-http", "value": false},
                                {"key": "final", "value": true}]}),
    );
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(
        c.put(
            &format!("{NS}/packages/site?overwrite=false"),
            &json!({"namespace": "guest", "name": "site"})
        )
        .status,
        200
    );
    let created = c.put(
        &format!("{NS}/actions/site/page?overwrite=false"),
        &json!({"namespace": "guest", "name": "page", "exec": {"kind": "nodejs:default", "code": hello},
                "annotations": [{"key": "web-export", "value": true}, {"key": "raw-http", "value": false},
                                {"key": "final", "value": true}]}),
    );
    assert_eq!(created.status, 200, "{}", created.text);

    // `wsk action get NAME --url`: the action's web-export annotation says it is a web action; the
    // URL is https://<apihost>/api/v1/web/<first segment of namespace>/<package|default>/<name>.
    for (name, package) in [("hello", None), ("site/page", Some("site"))] {
        let got = c.get(&format!("{NS}/actions/{name}?code=false"));
        assert_eq!(got.status, 200, "{}", got.text);
        let exported = got.body["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "web-export" && a["value"] == true);
        assert!(exported, "{}", got.text);
        let namespace = got.body["namespace"]
            .as_str()
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        let url_path = format!(
            "{namespace}/{}/{}",
            package.unwrap_or("default"),
            got.body["name"].as_str().unwrap()
        );
        let w = get(&owl, &format!("{url_path}?name=owl"));
        assert_eq!(
            (w.status, w.text().as_str()),
            (200, "<html>hello owl</html>"),
            "{url_path}"
        );
        assert_eq!(w.header("content-type"), Some("text/html; charset=UTF-8"));
    }

    // `wsk action update hello --web false` takes it off the web.
    let r = c.put(
        &format!("{NS}/actions/hello?overwrite=true"),
        &json!({"namespace": "guest", "name": "hello",
                "annotations": [{"key": "web-export", "value": false}, {"key": "raw-http", "value": false},
                                {"key": "final", "value": false}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        get(&owl, "guest/default/hello").blanked(),
        envelope(404, NOT_FOUND)
    );
}

#[test]
fn an_answer_the_client_does_not_accept_is_refused_with_406() {
    // Upstream's "reject invocation of web action with invalid accept header" (textBody.js): the
    // reference server negotiates the content type of an `.http` answer with `Accept`.
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    put(
        &c,
        "text-body",
        &web_action(
            node(
                "function main() { return { headers: { 'Content-Type': 'text/html' }, body: 'plain text' } }",
            ),
            &[],
        ),
    );
    let w = call(
        &owl,
        "GET",
        "guest/default/text-body.http",
        &[("Accept", "application/json")],
        None,
    );
    assert_eq!(
        w.blanked(),
        envelope(
            406,
            "Resource representation is only available with these types:\ntext/html; charset=UTF-8"
        )
    );
    for accept in ["text/html", "*/*"] {
        let w = call(
            &owl,
            "GET",
            "guest/default/text-body.http",
            &[("Accept", accept)],
            None,
        );
        assert_eq!(
            (w.status, w.text().as_str()),
            (200, "plain text"),
            "{accept}"
        );
    }
}

#[test]
fn every_method_is_answered_by_a_web_action_in_a_package() {
    // The methods of upstream's tests, on a packaged action with the package's parameters merged.
    let owl = Owl::start();
    generous(&owl);
    let c = owl.guest();
    let r = c.put(
        &format!("{NS}/packages/proxy"),
        &json!({"parameters": [{"key": "x", "value": "X"}, {"key": "z", "value": "z"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    put(
        &c,
        "proxy/export_c",
        &json!({"exec": node(ECHO),
                "parameters": [{"key": "y", "value": "Y"}, {"key": "z", "value": "Z"}, {"key": "empty", "value": null}],
                "annotations": [{"key": "web-export", "value": true}, {"key": "final", "value": true}]}),
    );
    for m in METHODS {
        let w = call(
            &owl,
            m,
            "guest/proxy/export_c.json?empty=overridden",
            &[],
            None,
        );
        assert_eq!(w.status, 200, "{m}: {}", w.text());
        match m {
            "HEAD" | "OPTIONS" => assert_eq!(w.body.len(), 0, "{m}"),
            _ => assert_eq!(
                without(&w.json(), &["__ow_headers"]),
                json!({"x": "X", "y": "Y", "z": "Z", "empty": "overridden",
                       "__ow_method": m.to_lowercase(), "__ow_path": ""}),
                "{m}: package < action < query"
            ),
        }
        assert_default_cors(&w, ALLOW_HEADERS, m);
    }
}
