//! A web request turned into the parameters a web action receives.
//!
//! [`action_input`] answers the request-derived parameters; the caller merges them over the
//! action's own (merged package and action) parameters, these winning.
//!
//! Always:
//!
//! | parameter | value |
//! | --- | --- |
//! | `__ow_method` | the method, lower case (`"get"`, `"head"`, ...) |
//! | `__ow_headers` | the request headers, names lower case, the last of a repeated name winning; without `Content-Length` and `Transfer-Encoding`; `content-type` is the entity's, normalised (`text/plain; charset=UTF-8`), and is `application/octet-stream` for a body sent without a valid one |
//! | `__ow_path` | the unmatched rest of the path, `""` or starting with `/` |
//! | `__ow_user` | the caller's namespace, only for a request with valid credentials |
//!
//! Normal mode (`raw-http` not `true`): query parameters become string parameters; the body, by
//! content type, then wins over them:
//!
//! | body | parameters |
//! | --- | --- |
//! | none (no body, no content type) | nothing |
//! | JSON (`application/json`, `*/*+json`), empty | nothing |
//! | JSON, an object | its fields |
//! | JSON, any other value | `__ow_body`: the value |
//! | JSON, malformed | 400 `The request content was malformed:\n...` |
//! | `application/x-www-form-urlencoded` | its fields, as strings (malformed: 400 as above) |
//! | binary type (`image/png`, `application/octet-stream`, `multipart/*`, unknown types without a charset) | `__ow_body`: base64 of the bytes |
//! | other (text) type | `__ow_body`: the bytes as UTF-8 text |
//!
//! A query or body-object key that is one of the six `__ow_*` names, or (with `final: true`) a
//! parameter the action defines with a non-null value, is refused: 400 `Request defines parameters
//! that are not allowed (e.g., reserved properties).`
//!
//! Raw mode (`raw-http: true`): nothing is promoted and nothing refused. `__ow_query` is the query
//! string as upstream re-encodes it (`""` without one); `__ow_body` is `""` without a body, base64
//! of the bytes for `application/json` and binary types, the bytes as UTF-8 text otherwise.

use actix_web::http::Method;
use base64::Engine;
use serde_json::{Map, Value};

use super::response::ContentType;
use crate::error::ApiError;
use crate::messages;

pub const METHOD: &str = "__ow_method";
pub const HEADERS: &str = "__ow_headers";
pub const PATH: &str = "__ow_path";
pub const USER: &str = "__ow_user";
pub const QUERY: &str = "__ow_query";
pub const BODY: &str = "__ow_body";

/// The parameters a request may never set itself (in normal mode).
pub const RESERVED: [&str; 6] = [METHOD, HEADERS, PATH, USER, QUERY, BODY];

/// Request headers that describe the body's framing, which the action does not see (upstream's HTTP
/// layer keeps them out of the header list), and the debug header upstream strips from all requests.
const HIDDEN_HEADERS: [&str; 3] = ["content-length", "transfer-encoding", "x-ow-extra-logging"];

/// The request as the web action input needs it.
#[derive(Debug, Clone, Copy)]
pub struct WebRequest<'a> {
    pub method: &'a Method,
    /// Names in lower case, in the order received.
    pub headers: &'a [(String, String)],
    /// Decoded query pairs, in order.
    pub query: &'a [(String, String)],
    /// The query string as sent, undecoded, without `?`.
    pub query_string: &'a str,
    pub body: &'a [u8],
    /// The unmatched rest of the path ([`super::path::WebPath::rest`]).
    pub rest: &'a str,
    /// The caller's namespace, when the request carried valid credentials.
    pub user: Option<&'a str>,
}

/// The request's entity: its content type (none for a request without body and without a valid
/// content type) and bytes.
struct Entity<'a> {
    content_type: Option<ContentType>,
    bytes: &'a [u8],
}

impl<'a> Entity<'a> {
    fn of(req: &WebRequest<'a>) -> Entity<'a> {
        let declared = first_header(req.headers, "content-type").and_then(ContentType::parse);
        let content_type = if req.body.is_empty() {
            declared
        } else {
            Some(declared.unwrap_or_else(ContentType::octet_stream))
        };
        Entity {
            content_type,
            bytes: req.body,
        }
    }
}

fn first_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The request-derived parameters of a web action (see the module's tables). `defined` are the
/// action's merged parameters, consulted with `final_params` (the `final: true` annotation) in
/// normal mode.
pub fn action_input(
    req: &WebRequest<'_>,
    raw_http: bool,
    final_params: bool,
    defined: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let entity = Entity::of(req);
    let body = if raw_http {
        Some(Value::String(raw_body(&entity)))
    } else {
        body_value(&entity)?
    };
    if !raw_http {
        let body_keys = match &body {
            Some(Value::Object(fields)) => fields.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        let refused = |k: &str| {
            RESERVED.contains(&k) || (final_params && defined.get(k).is_some_and(|v| !v.is_null()))
        };
        if req
            .query
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(body_keys)
            .any(refused)
        {
            return Err(ApiError::bad_request(messages::PARAMETERS_NOT_ALLOWED));
        }
    }

    let mut input = Map::new();
    input.insert(
        METHOD.into(),
        Value::String(req.method.as_str().to_lowercase()),
    );
    input.insert(HEADERS.into(), Value::Object(headers(req, &entity)));
    input.insert(PATH.into(), Value::String(req.rest.to_string()));
    if let Some(user) = req.user {
        input.insert(USER.into(), Value::String(user.to_string()));
    }
    if raw_http {
        input.insert(
            QUERY.into(),
            Value::String(normalize_query(req.query_string)),
        );
    } else {
        for (k, v) in req.query {
            input.insert(k.clone(), Value::String(v.clone()));
        }
    }
    match body {
        Some(Value::Object(fields)) if !raw_http => input.extend(fields),
        Some(v) => {
            input.insert(BODY.into(), v);
        }
        None => {}
    }
    Ok(input)
}

/// `__ow_headers`: see the module's table.
fn headers(req: &WebRequest<'_>, entity: &Entity<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut content_type_seen = false;
    for (k, v) in req.headers {
        let name = k.to_ascii_lowercase();
        if HIDDEN_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if name == "content-type" {
            // The first one belongs to the entity, unless it does not parse (then it stays a plain
            // header); later ones are dropped.
            let first = !content_type_seen;
            content_type_seen = true;
            if !first || ContentType::parse(v).is_some() {
                continue;
            }
        }
        out.insert(name, Value::String(v.clone()));
    }
    if let Some(ct) = &entity.content_type {
        out.insert("content-type".into(), Value::String(ct.render()));
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The body in normal mode: a JSON value, a form as an object, or a string; `None` for nothing.
fn body_value(entity: &Entity<'_>) -> Result<Option<Value>, ApiError> {
    let Some(ct) = &entity.content_type else {
        return Ok(None);
    };
    let media = &ct.media;
    if media.is_json_family() {
        if entity.bytes.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(entity.bytes);
        return serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ApiError::malformed_body(&e.to_string()));
    }
    if media.is("application", "x-www-form-urlencoded") {
        return form_fields(entity.bytes).map(|f| Some(Value::Object(f)));
    }
    Ok(Some(Value::String(if media.is_binary() {
        base64(entity.bytes)
    } else {
        String::from_utf8_lossy(entity.bytes).into_owned()
    })))
}

/// `__ow_body` in raw mode.
fn raw_body(entity: &Entity<'_>) -> String {
    match &entity.content_type {
        None => String::new(),
        Some(ct) if ct.media.is_binary() || ct.media.is("application", "json") => {
            base64(entity.bytes)
        }
        Some(_) => String::from_utf8_lossy(entity.bytes).into_owned(),
    }
}

/// A form body's fields, the last of a repeated name winning. Read as upstream reads a query:
/// `&`-separated `name=value` pairs (a pair without `=` has the value `""`), `+` for a space,
/// `%XX` escapes; visible ASCII only, no `#`.
fn form_fields(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    if bytes.is_empty() {
        return Ok(fields);
    }
    let text = String::from_utf8_lossy(bytes);
    let malformed =
        |what: String| ApiError::malformed_body(&format!("Illegal form content: {what}"));
    for (i, c) in text.char_indices() {
        if !c.is_ascii_graphic() || c == '#' {
            return Err(malformed(format!(
                "Invalid input '{}' at position {}",
                c.escape_default(),
                i + 1
            )));
        }
        if c == '%' {
            let hex = text.get(i + 1..i + 3).unwrap_or("");
            if hex.len() != 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(malformed(format!(
                    "Invalid percent-encoding at position {}",
                    i + 1
                )));
            }
        }
    }
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        fields.insert(decode_component(k), Value::String(decode_component(v)));
    }
    Ok(fields)
}

/// A query or form component decoded: `+` is a space, `%XX` a byte (a `%` without two hex digits
/// stays itself), the bytes read as UTF-8.
fn decode_component(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query component encoded as upstream renders a query: unreserved characters and
/// `! $ ' ( ) * , : @ / ?` stay, a space becomes `+`, everything else `%XX` of its UTF-8 bytes.
fn encode_component(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._~!$'()*,:@/?".contains(&b) => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// The query string as upstream hands it to raw actions: parsed into pairs and rendered again, so
/// that escapes are normalised (`a=b%20c` is `a=b+c`, `%2F` is `/`, `é` is `%C3%A9`).
pub fn normalize_query(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    if raw.is_empty() {
        return out;
    }
    for (i, pair) in raw.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((k, v)) => {
                encode_component(&decode_component(k), &mut out);
                out.push('=');
                encode_component(&decode_component(v), &mut out);
            }
            None => encode_component(&decode_component(pair), &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAoAAAAGCAYAAAD68A/GAAAA/klEQVQYGWNgAAEHBxaG//+ZQMyyn581Pfas+cRQnf1LfFLjf+62smUgcUbt0FA2Zh7drf/ffMy9vLn3RurrW9e5hCU11i2azfD4zu1/DHz8TAy/foUxsXBrFzHzC7r8+M9S1vn1qxQT07dDjL9fdemrqKxlYGT6z8AIMo6hgeUfA0PUvy9fGFh5GWK3z7vNxSWt++jX99+8SoyiGQwsW38w8PJEM7x5v5SJ8f+/xv8MDAzffv9hevfkWjiXBGMpMx+j2awovjcMjFztDO8+7GF49LkbZDCDeXLTWnZO7qDfn1/+5jbw/8pjYWS4wZLztXnuEuYTk2M+MzIw/AcA36VewaD6fzsAAAAASUVORK5CYII=";

    /// A request to build, with what the tests vary.
    struct Req {
        method: Method,
        headers: Vec<(String, String)>,
        query_string: String,
        body: Vec<u8>,
        rest: String,
        user: Option<String>,
    }

    fn req(method: Method) -> Req {
        Req {
            method,
            headers: Vec::new(),
            query_string: String::new(),
            body: Vec::new(),
            rest: String::new(),
            user: None,
        }
    }

    impl Req {
        fn header(mut self, k: &str, v: &str) -> Self {
            self.headers.push((k.to_ascii_lowercase(), v.to_string()));
            self
        }

        fn query(mut self, q: &str) -> Self {
            self.query_string = q.to_string();
            self
        }

        fn body(mut self, content_type: &str, body: &[u8]) -> Self {
            self.body = body.to_vec();
            self.header("content-type", content_type)
        }

        fn user(mut self, u: &str) -> Self {
            self.user = Some(u.into());
            self
        }

        fn rest(mut self, r: &str) -> Self {
            self.rest = r.into();
            self
        }

        fn input_with(
            &self,
            raw: bool,
            final_params: bool,
            defined: &Map<String, Value>,
        ) -> Result<Map<String, Value>, ApiError> {
            // Decoded as the server decodes them.
            let query: Vec<(String, String)> =
                actix_web::web::Query::<Vec<(String, String)>>::from_query(&self.query_string)
                    .map(|q| q.into_inner())
                    .unwrap_or_default();
            let r = WebRequest {
                method: &self.method,
                headers: &self.headers,
                query: &query,
                query_string: &self.query_string,
                body: &self.body,
                rest: &self.rest,
                user: self.user.as_deref(),
            };
            action_input(&r, raw, final_params, defined)
        }

        fn input(&self) -> Value {
            Value::Object(self.input_with(false, false, &Map::new()).unwrap())
        }

        fn raw(&self) -> Value {
            Value::Object(self.input_with(true, false, &Map::new()).unwrap())
        }

        fn refused(&self, final_params: bool, defined: Value) -> (u16, String) {
            let Value::Object(d) = defined else { panic!() };
            let e = self.input_with(false, final_params, &d).unwrap_err();
            (e.status.as_u16(), e.message)
        }
    }

    fn without_headers(v: &Value) -> Value {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove(HEADERS);
        v
    }

    fn not_allowed() -> (u16, String) {
        (400, messages::PARAMETERS_NOT_ALLOWED.into())
    }

    #[test]
    fn every_request_brings_its_method_headers_and_path() {
        for m in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
            Method::OPTIONS,
        ] {
            let got = req(m.clone())
                .header("X-Custom", "value")
                .rest("/content")
                .input();
            assert_eq!(
                got,
                json!({"__ow_method": m.as_str().to_lowercase(), "__ow_headers": {"x-custom": "value"},
                       "__ow_path": "/content"})
            );
        }
    }

    #[test]
    fn a_caller_with_credentials_is_named_in_ow_user() {
        let got = req(Method::GET).user("guest").input();
        assert_eq!(got[USER], "guest");
        assert!(req(Method::GET).input().get(USER).is_none());
        assert_eq!(req(Method::GET).user("guest").raw()[USER], "guest");
    }

    #[test]
    fn headers_are_forwarded_authorization_included() {
        let got = req(Method::GET)
            .header("Authorization", "Basic abc")
            .header("x-request-id", "tid")
            .header("host", "localhost")
            .header("x-dup", "1")
            .header("x-dup", "2")
            .input();
        assert_eq!(
            got[HEADERS],
            json!({"authorization": "Basic abc", "x-request-id": "tid", "host": "localhost", "x-dup": "2"})
        );
    }

    #[test]
    fn framing_headers_are_not_forwarded() {
        let got = req(Method::POST)
            .header("content-length", "2")
            .header("transfer-encoding", "chunked")
            .header("X-OW-EXTRA-LOGGING", "on")
            .body("application/json", b"{}")
            .input();
        assert_eq!(got[HEADERS], json!({"content-type": "application/json"}));
    }

    #[test]
    fn the_content_type_is_the_entitys_normalised() {
        let ct = |t: &str, body: &[u8]| {
            req(Method::POST).body(t, body).input()[HEADERS]["content-type"].clone()
        };
        assert_eq!(ct("application/json", b"{}"), "application/json");
        assert_eq!(
            ct("application/json; charset=utf-8", b"{}"),
            "application/json"
        );
        assert_eq!(
            ct("text/plain;charset=utf-8", b"x"),
            "text/plain; charset=UTF-8"
        );
        assert_eq!(ct("Text/HTML", b"x"), "text/html");
        assert_eq!(ct("image/png", b"x"), "image/png");
        // Declared without a body: still the entity's.
        assert_eq!(ct("text/plain", b""), "text/plain");
    }

    #[test]
    fn no_body_and_no_content_type_mean_no_content_type_header() {
        let got = req(Method::GET).input();
        assert_eq!(got[HEADERS], json!({}));
        assert!(got.get(BODY).is_none());
    }

    #[test]
    fn a_body_without_a_valid_content_type_is_octet_stream() {
        let mut r = req(Method::POST);
        r.body = b"\x00\x01".to_vec();
        let got = r.input();
        assert_eq!(got[HEADERS]["content-type"], "application/octet-stream");
        assert_eq!(got[BODY], "AAE=");
        let got = req(Method::POST).body("xyzbar", b"\x00\x01").input();
        assert_eq!(got[HEADERS]["content-type"], "application/octet-stream");
        assert_eq!(got[BODY], "AAE=");
        // Without a body, an invalid content type is just a header.
        let got = req(Method::GET).header("content-type", "xyzbar").input();
        assert_eq!(got[HEADERS], json!({"content-type": "xyzbar"}));
        assert!(got.get(BODY).is_none());
    }

    #[test]
    fn query_parameters_become_string_parameters() {
        let got = req(Method::GET).query("a=b&c=d&n=1&e&a=last").input();
        assert_eq!(
            without_headers(&got),
            json!({"__ow_method": "get", "__ow_path": "", "a": "last", "c": "d", "n": "1", "e": ""})
        );
    }

    #[test]
    fn a_json_object_body_is_merged_over_the_query() {
        let got = req(Method::POST)
            .query("a=query&c=query")
            .body("application/json", br#"{"a":"body","b":1,"yummy":true}"#)
            .input();
        assert_eq!(
            (&got["a"], &got["b"], &got["c"], &got["yummy"]),
            (&json!("body"), &json!(1), &json!("query"), &json!(true))
        );
        assert!(got.get(BODY).is_none());
    }

    #[test]
    fn plus_json_types_are_json() {
        for ct in [
            "application/cloudevents+json; charset=UTF-8",
            "application/hal+json",
            "application/vnd.api+json",
        ] {
            let got = req(Method::POST)
                .body(ct, br#"{"field1":"value1"}"#)
                .input();
            assert_eq!(got["field1"], "value1", "{ct}");
        }
    }

    #[test]
    fn any_other_json_value_is_the_body() {
        for v in [
            json!("this is a string"),
            json!([1, "str str", false]),
            json!(true),
            json!(99),
            Value::Null,
            json!([]),
        ] {
            let got = req(Method::POST)
                .body("application/json", v.to_string().as_bytes())
                .input();
            assert_eq!(got.get(BODY), Some(&v), "{v}");
        }
    }

    #[test]
    fn an_empty_json_body_or_an_empty_object_adds_nothing() {
        for body in ["", "{}"] {
            let got = req(Method::POST)
                .body("application/json", body.as_bytes())
                .input();
            assert_eq!(
                without_headers(&got),
                json!({"__ow_method": "post", "__ow_path": ""}),
                "{body:?}"
            );
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        for body in [
            &br#"{"a": "#[..],
            b" ",
            b"1,2,3",
            b"\xff\xfe",
            b"{\"a\":1}}",
        ] {
            let e = req(Method::POST)
                .body("application/json", body)
                .input_with(false, false, &Map::new())
                .unwrap_err();
            assert_eq!(e.status.as_u16(), 400);
            assert!(
                e.message
                    .starts_with("The request content was malformed:\n"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn a_form_is_merged_as_strings() {
        let got = req(Method::POST)
            .body(
                "application/x-www-form-urlencoded",
                b"field1=value1&field2=value+2&enc=%C3%A9%26&flag&eq=a=b&field1=again",
            )
            .input();
        assert_eq!(
            without_headers(&got),
            json!({"__ow_method": "post", "__ow_path": "", "field1": "again", "field2": "value 2",
                   "enc": "é&", "flag": "", "eq": "a=b"})
        );
        // An empty form adds nothing.
        let got = req(Method::POST)
            .body("application/x-www-form-urlencoded", b"")
            .input();
        assert!(got.get(BODY).is_none());
        assert_eq!(got.as_object().map(Map::len), Some(3));
    }

    #[test]
    fn a_malformed_form_is_a_bad_request() {
        for body in [&b"a=%zz"[..], b"a=%4", b"a=b c", b"a=#", "a=é".as_bytes()] {
            let e = req(Method::POST)
                .body("application/x-www-form-urlencoded", body)
                .input_with(false, false, &Map::new())
                .unwrap_err();
            assert_eq!(e.status.as_u16(), 400);
            assert!(
                e.message
                    .starts_with("The request content was malformed:\nIllegal form content"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn text_is_passed_as_text() {
        for (ct, body) in [
            ("text/html", "key=value"),
            ("text/plain", "This is the body"),
            ("application/xml", "<a/>"),
            ("text/html; charset=UTF-8", "1,2,3"),
        ] {
            let got = req(Method::POST).body(ct, body.as_bytes()).input();
            assert_eq!(got[BODY], body, "{ct}");
        }
        // Not UTF-8: replaced, not refused.
        let got = req(Method::POST).body("text/plain", b"a\xffb").input();
        assert_eq!(got[BODY], "a\u{fffd}b");
    }

    #[test]
    fn a_png_body_is_base64_encoded() {
        let png = base64::engine::general_purpose::STANDARD
            .decode(PNG)
            .unwrap();
        let got = req(Method::POST).body("image/png", &png).input();
        assert_eq!(got[BODY], PNG);
        assert_eq!(got[HEADERS]["content-type"], "image/png");
    }

    #[test]
    fn binary_types_are_base64_encoded() {
        for ct in [
            "application/octet-stream",
            "application/zip",
            "multipart/form-data; boundary=x",
            "foo/bar",
            "text/javascript",
        ] {
            let got = req(Method::POST).body(ct, b"\x00\xff").input();
            assert_eq!(got[BODY], "AP8=", "{ct}");
        }
        // An unknown type with a charset is text.
        let got = req(Method::POST)
            .body("foo/bar; charset=utf-8", b"hi")
            .input();
        assert_eq!(got[BODY], "hi");
    }

    #[test]
    fn a_declared_type_with_no_body_gives_an_empty_body() {
        let got = req(Method::POST).body("text/plain", b"").input();
        assert_eq!(got[BODY], "");
        let got = req(Method::POST).body("image/png", b"").input();
        assert_eq!(got[BODY], "");
    }

    #[test]
    fn reserved_names_are_refused_in_the_query_and_the_body() {
        for name in RESERVED {
            let r = req(Method::GET).query(&format!("{name}=YYY"));
            assert_eq!(
                r.refused(false, json!({})),
                not_allowed(),
                "{name} in the query"
            );
            let r = req(Method::POST).body(
                "application/json",
                json!({name: "YYY"}).to_string().as_bytes(),
            );
            assert_eq!(
                r.refused(false, json!({})),
                not_allowed(),
                "{name} in the body"
            );
            let r = req(Method::POST).body(
                "application/x-www-form-urlencoded",
                format!("{name}=YYY").as_bytes(),
            );
            assert_eq!(
                r.refused(false, json!({})),
                not_allowed(),
                "{name} in a form"
            );
        }
    }

    #[test]
    fn a_reserved_name_inside_a_non_object_body_is_fine() {
        let got = req(Method::POST)
            .body("text/plain", b"__ow_method=x")
            .input();
        assert_eq!(got[METHOD], "post");
    }

    #[test]
    fn final_parameters_cannot_be_given_again_but_null_ones_can() {
        let defined = json!({"x": "X", "y": "Y", "z": "Z", "empty": null});
        for r in [
            req(Method::GET).query("x=overridden"),
            req(Method::GET).query("y=overridden"),
            req(Method::POST).body("application/json", br#"{"x":"overridden"}"#),
            req(Method::POST)
                .query("y=overridden")
                .body("application/json", br#"{"z":"overridden"}"#),
        ] {
            assert_eq!(r.refused(true, defined.clone()), not_allowed());
        }
        let Value::Object(d) = defined else { panic!() };
        let got = req(Method::GET)
            .query("empty=overridden")
            .input_with(false, true, &d)
            .unwrap();
        assert_eq!(got["empty"], "overridden");
        // Without `final`, defined parameters may be given.
        let got = req(Method::GET)
            .query("x=overridden")
            .input_with(false, false, &d)
            .unwrap();
        assert_eq!(got["x"], "overridden");
    }

    #[test]
    fn a_raw_action_gets_the_query_and_body_unpromoted() {
        let got = req(Method::POST).query("x=overridden&key2=value2").raw();
        assert_eq!(
            without_headers(&got),
            json!({"__ow_method": "post", "__ow_path": "", "__ow_query": "x=overridden&key2=value2", "__ow_body": ""})
        );
        for body in [r#"{"a":"A","b":"B"}"#, "{\n  \"a\": \"A\"\n}", "1,2,3"] {
            let got = req(Method::POST)
                .query("key1=value1&key2=value2")
                .body("application/json", body.as_bytes())
                .raw();
            assert_eq!(
                got[BODY],
                base64::engine::general_purpose::STANDARD.encode(body)
            );
            assert_eq!(got[QUERY], "key1=value1&key2=value2");
        }
    }

    #[test]
    fn a_raw_action_is_never_refused() {
        let Value::Object(d) = json!({"x": "fixed"}) else {
            panic!()
        };
        let r = req(Method::POST)
            .query("x=overridden&__ow_method=y")
            .body("application/json", br#"{"x":"o","__ow_body":1}"#);
        let got = r.input_with(true, true, &d).unwrap();
        assert_eq!(got[METHOD], "post");
        assert!(got.get("x").is_none());
    }

    #[test]
    fn a_raw_body_is_text_unless_json_or_binary() {
        let got = req(Method::PUT).body("text/plain", b"1,2,3").raw();
        assert_eq!(got[BODY], "1,2,3");
        let got = req(Method::POST)
            .body("application/x-www-form-urlencoded", b"a=b")
            .raw();
        assert_eq!(got[BODY], "a=b");
        let png = base64::engine::general_purpose::STANDARD
            .decode(PNG)
            .unwrap();
        assert_eq!(req(Method::POST).body("image/png", &png).raw()[BODY], PNG);
        // Only `application/json` itself is base64 among the JSON types.
        assert_eq!(
            req(Method::POST)
                .body("application/vnd.api+json", b"{}")
                .raw()[BODY],
            "{}"
        );
        assert_eq!(
            req(Method::POST).body("application/hal+json", b"{}").raw()[BODY],
            "e30="
        );
        // Malformed JSON is no error.
        assert_eq!(
            req(Method::POST).body("application/json", b"{").raw()[BODY],
            "ew=="
        );
    }

    #[test]
    fn the_raw_query_is_normalised_as_upstream_renders_it() {
        for (raw, rendered) in [
            ("", ""),
            ("name=Jane&x=1", "name=Jane&x=1"),
            ("a=b%20c", "a=b+c"),
            ("a=b+c", "a=b+c"),
            ("a=%2F%3f", "a=/?"),
            ("a=%2B", "a=%2B"),
            ("a=b=c;d", "a=b%3Dc%3Bd"),
            ("k%C3%A9=%C3%A9", "k%C3%A9=%C3%A9"),
            ("a&&b=", "a&&b="),
            ("a=%zz", "a=%25zz"),
            ("a=!$'()*,:@", "a=!$'()*,:@"),
            ("a=[]{}\"", "a=%5B%5D%7B%7D%22"),
        ] {
            assert_eq!(normalize_query(raw), rendered, "{raw:?}");
        }
    }

    #[test]
    fn no_body_makes_input_building_panic() {
        let bodies: [&[u8]; 8] = [
            b"",
            b"{",
            b"\xff",
            b"%",
            b"a=%",
            b"[[[[[[[[[[[[[[[[[[[[",
            b"\"\\u0000\"",
            b"&=&=&",
        ];
        let types = [
            "",
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "image/png",
            ";",
            "a/b; c=\"",
            "*/*",
        ];
        let nested = "[".repeat(10_000);
        for body in bodies.iter().copied().chain([nested.as_bytes()]) {
            for ct in types {
                for raw in [false, true] {
                    let mut r = req(Method::POST).query("%&=%zz&é");
                    r.body = body.to_vec();
                    r.headers.push(("content-type".into(), ct.into()));
                    let _ = r.input_with(raw, true, &Map::new());
                }
            }
        }
    }
}
