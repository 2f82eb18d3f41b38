//! The HTTP edge, spoken to over raw TCP so that nothing normalises what is sent: every bad request
//! is answered with a 4xx (or upstream's 503, as an invoke without an invoker is), never another
//! 5xx; nothing hangs; clients that tunnel, trickle or idle are cut off and their slots freed; the
//! server outlives all of it.
//!
//! The fuzz is seeded: a failure names its seed and the index of each failing request, and
//! `OWL_EDGE_FUZZ_SEED=<seed>` (with `OWL_EDGE_FUZZ_ONLY=<index>` for one request) replays it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use owl_compat_tests::{GUEST_KEY, Owl, WHISK_SYSTEM_KEY};
use serde_json::{Value, json};

const GUEST_UUID: &str = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502";

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: it sends bytes as given and reads answers as the server wrote them.

fn address(owl: &Owl) -> SocketAddr {
    owl.base
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address")
}

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// One answer, as read off the wire.
#[derive(Debug)]
struct Answer {
    version: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the server ends the connection after this answer.
    fn closes(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        connection.contains("close")
            || (self.version == "HTTP/1.0" && !connection.contains("keep-alive"))
    }

    fn summary(&self) -> String {
        format!(
            "{} {} {}",
            self.version,
            self.status,
            excerpt(&self.body, 300)
        )
    }
}

/// Why no whole answer was read.
#[derive(Debug)]
enum NoAnswer {
    /// The server closed (or reset) the connection before a byte of an answer.
    Closed,
    /// Not a whole answer before the deadline.
    Silent(Vec<u8>),
    /// Bytes that are not an HTTP/1.x answer, or one cut short.
    Garbled(String, Vec<u8>),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::Closed => write!(f, "the connection was closed without an answer"),
            NoAnswer::Silent(got) => {
                write!(f, "no whole answer in time (got {})", excerpt(got, 300))
            }
            NoAnswer::Garbled(why, got) => write!(f, "{why}: {}", excerpt(got, 300)),
        }
    }
}

struct Conn {
    stream: TcpStream,
    /// Read and not yet taken.
    buf: Vec<u8>,
    /// Everything read, for messages.
    received: Vec<u8>,
    ended: bool,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            received: Vec::new(),
            ended: false,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads what arrives before `deadline`: `Ok(false)` once the stream ended (a reset too: what
    /// came before it is kept), `Err(())` when nothing came in time.
    fn fill(&mut self, deadline: Instant) -> Result<bool, ()> {
        if self.ended {
            return Ok(false);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(());
        }
        let _ = self.stream.set_read_timeout(Some(left));
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.ended = true;
                Ok(false)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.received.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(_) => {
                self.ended = true;
                Ok(false)
            }
        }
    }

    /// Everything until the server ends the connection; `Err` with what came if it did not end
    /// before `deadline`.
    fn rest(&mut self, deadline: Instant) -> Result<Vec<u8>, Vec<u8>> {
        loop {
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => return Ok(std::mem::take(&mut self.buf)),
                Err(()) => return Err(std::mem::take(&mut self.buf)),
            }
        }
    }

    /// Takes `n` bytes off the buffer, reading more as needed.
    fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, NoAnswer> {
        while self.buf.len() < n {
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(NoAnswer::Garbled(
                        format!(
                            "the connection ended {} bytes into a body of {n}",
                            self.buf.len()
                        ),
                        self.buf.clone(),
                    ));
                }
                Err(()) => return Err(NoAnswer::Silent(self.buf.clone())),
            }
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// Takes a line ending in CRLF off the buffer (without it).
    fn line(&mut self, deadline: Instant) -> Result<Vec<u8>, NoAnswer> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = self.take(i + 2, deadline)?;
                return Ok(line[..i].to_vec());
            }
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(NoAnswer::Garbled(
                        "the connection ended inside a chunked body".into(),
                        self.buf.clone(),
                    ));
                }
                Err(()) => return Err(NoAnswer::Silent(self.buf.clone())),
            }
        }
    }

    /// The next answer (after any 1xx), whose body is read as its headers frame it; an answer to
    /// HEAD has none.
    fn answer(&mut self, head: bool, deadline: Instant) -> Result<Answer, NoAnswer> {
        loop {
            let end = loop {
                if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                    break i;
                }
                match self.fill(deadline) {
                    Ok(true) => {}
                    Ok(false) if self.buf.is_empty() => return Err(NoAnswer::Closed),
                    Ok(false) => {
                        return Err(NoAnswer::Garbled(
                            "the connection ended inside an answer's head".into(),
                            self.buf.clone(),
                        ));
                    }
                    Err(()) => return Err(NoAnswer::Silent(self.buf.clone())),
                }
            };
            let raw = self.take(end + 4, deadline)?;
            let text = String::from_utf8_lossy(&raw[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let first = lines.next().unwrap_or("");
            let mut words = first.splitn(3, ' ');
            let version = words.next().unwrap_or("").to_string();
            let status = words
                .next()
                .filter(|s| s.len() == 3)
                .and_then(|s| s.parse::<u16>().ok());
            let Some(status) = status.filter(|_| version == "HTTP/1.1" || version == "HTTP/1.0")
            else {
                return Err(NoAnswer::Garbled("not an HTTP/1.x status line".into(), raw));
            };
            let mut headers = Vec::new();
            for line in lines {
                let Some((k, v)) = line.split_once(':') else {
                    return Err(NoAnswer::Garbled(
                        "a header line without a colon".into(),
                        raw,
                    ));
                };
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            if (100..200).contains(&status) {
                continue;
            }
            let mut answer = Answer {
                version,
                status,
                headers,
                body: Vec::new(),
            };
            let chunked = answer
                .header("transfer-encoding")
                .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
            let length = answer.header("content-length").map(str::to_string);
            if head || status == 204 || status == 304 {
                // No body, whatever the headers say.
            } else if chunked {
                loop {
                    let size = self.line(deadline)?;
                    let size = String::from_utf8_lossy(&size).into_owned();
                    let size = size.split(';').next().unwrap_or("").trim();
                    let Ok(size) = usize::from_str_radix(size, 16) else {
                        return Err(NoAnswer::Garbled(format!("a chunk size of {size:?}"), raw));
                    };
                    if size == 0 {
                        while !self.line(deadline)?.is_empty() {}
                        break;
                    }
                    let data = self.take(size + 2, deadline)?;
                    answer.body.extend_from_slice(&data[..size]);
                }
            } else if let Some(length) = length {
                let Ok(n) = length.parse::<usize>() else {
                    return Err(NoAnswer::Garbled(
                        format!("a Content-Length of {length:?}"),
                        raw,
                    ));
                };
                answer.body = self.take(n, deadline)?;
            } else {
                answer.body = self.rest(deadline).map_err(NoAnswer::Silent)?;
            }
            return Ok(answer);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `bytes` printable: escapes for what is not, and at most `max` of them shown.
fn excerpt(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        s.push_str(&format!("… ({} bytes in all)", bytes.len()));
    }
    format!("\"{s}\"")
}

/// What is wrong with an answer, if anything: a 5xx other than 503, or an error whose body is not
/// the API's `{"error", "code"}`.
fn fault(answer: &Answer) -> Option<String> {
    if answer.status >= 500 && answer.status != 503 {
        return Some(format!("answered {}", answer.summary()));
    }
    if answer.status >= 400 && !answer.body.is_empty() {
        let shaped = serde_json::from_slice::<Value>(&answer.body).is_ok_and(|v| {
            v.as_object().is_some_and(|o| {
                o.get("error").is_some_and(Value::is_string)
                    && o.get("code")
                        .is_some_and(|c| c.as_str().is_some_and(|c| !c.is_empty()))
            })
        });
        if !shaped {
            return Some(format!(
                "an error whose body is not {{\"error\", \"code\"}}: {}",
                answer.summary()
            ));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The fuzz's requests.

/// A small deterministic generator (xorshift64*, seeded through splitmix64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// One request as it goes on the wire, every part raw.
#[derive(Clone)]
struct Req {
    method: Vec<u8>,
    target: Vec<u8>,
    version: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The body as sent (already chunked when a `Transfer-Encoding` says so).
    body: Vec<u8>,
    /// Line ending of the head.
    eol: Vec<u8>,
}

impl Req {
    fn head(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&self.method);
        b.push(b' ');
        b.extend_from_slice(&self.target);
        if !self.version.is_empty() {
            b.push(b' ');
            b.extend_from_slice(&self.version);
        }
        b.extend_from_slice(&self.eol);
        for (k, v) in &self.headers {
            b.extend_from_slice(k);
            b.extend_from_slice(b": ");
            b.extend_from_slice(v);
            b.extend_from_slice(&self.eol);
        }
        b.extend_from_slice(&self.eol);
        b
    }

    fn wire(&self) -> Vec<u8> {
        let mut b = self.head();
        b.extend_from_slice(&self.body);
        b
    }

    fn is_head(&self) -> bool {
        self.method == b"HEAD"
    }

    fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.remove(name);
        self.headers.push((name.as_bytes().to_vec(), value.into()));
    }

    fn remove(&mut self, name: &str) {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(name.as_bytes()));
    }

    /// Frames `body` by a correct `Content-Length` (or none for an empty body, at times), or
    /// chunked.
    fn frame(&mut self, r: &mut Rng, body: Vec<u8>) {
        self.remove("content-length");
        self.remove("transfer-encoding");
        if r.chance(12) {
            self.set("Transfer-Encoding", "chunked");
            self.body = chunked(r, &body);
        } else {
            if !body.is_empty() || r.chance(50) {
                self.set("Content-Length", body.len().to_string());
            }
            self.body = body;
        }
    }
}

/// `body` in chunks of random sizes, ended as HTTP says.
fn chunked(r: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = r.range(1, rest.len().min(4096) + 1);
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// What each request sent on a connection expects.
struct Expect {
    head: bool,
    /// The server may close without answering: the request was cut short by the client.
    may_close: bool,
}

struct Case {
    /// What the generator chose.
    what: String,
    bytes: Vec<u8>,
    requests: Vec<Expect>,
    /// The client shuts its sending half after the bytes.
    half_close: bool,
    /// The client then stalls: the server must answer 408 or close.
    stall: bool,
}

impl Case {
    fn one(what: String, req: &Req) -> Case {
        Case {
            what,
            bytes: req.wire(),
            requests: vec![Expect {
                head: req.is_head(),
                may_close: false,
            }],
            half_close: false,
            stall: false,
        }
    }

    fn cut_short(mut self) -> Case {
        self.half_close = true;
        for e in &mut self.requests {
            e.may_close = true;
        }
        self
    }
}

/// What the fuzz may name: the entities made before it, and an activation.
struct World {
    activation: String,
}

const QUERIES: &[&str] = &[
    "blocking=true",
    "blocking=false",
    "blocking=maybe",
    "blocking=",
    "result=true",
    "result=1",
    "limit=-1",
    "limit=0",
    "limit=201",
    "limit=99999999999999999999",
    "limit=1.5",
    "skip=1e99",
    "skip=-1",
    "skip=abc",
    "timeout=abc",
    "timeout=-5",
    "timeout=0",
    "timeout=99999999999",
    "docs=true",
    "docs=false",
    "docs=1",
    "count=true",
    "count=false",
    "count=yes",
    "name=hello",
    "name=%zz",
    "name=pkg/inner",
    "name=a%2Fb%2Fc%2Fd",
    "name=",
    "since=abc",
    "since=-1",
    "upto=99999999999999999999",
    "overwrite=true",
    "overwrite=false",
    "overwrite=maybe",
    "code=false",
    "code=true",
    "%zz=1",
    "a",
    "=",
    "&",
    "limit=1&limit=2",
    "x=%00",
    "x=%E2%82",
    "x=%C3%B1",
];

const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
    "application/json, text/plain",
    "",
    ";;;",
    "application/xml",
    "*/*",
    "application/jsonx",
    "application/json;",
];

fn odd_name(r: &mut Rng) -> String {
    match r.below(31) {
        0 => String::new(),
        1 => "a".repeat(256),
        2 => "a".repeat(257),
        3 => "b".repeat(r.range(1000, 8000)),
        4 => "%C3%B1%E2%98%83%F0%9F%98%80".into(),
        5 => "%2F".into(),
        6 => "a%2Fb".into(),
        7 => "..".into(),
        8 => "%2E%2E".into(),
        9 => "%2e%2e%2F%2e%2e%2Fetc".into(),
        10 => ".".into(),
        11 => "%00".into(),
        12 => "a%00b".into(),
        13 => "%zz".into(),
        14 => "%".into(),
        15 => "%E2%82".into(),
        16 => "%FF%FE".into(),
        17 => "with%20space".into(),
        18 => "trailing%20".into(),
        19 => "%20leading".into(),
        20 => "a%24b".into(),
        21 => "%252F".into(),
        22 => "%0D%0AX-Injected:%20yes".into(),
        23 => "%5C..%5C".into(),
        24 => "@x".into(),
        25 => "-x".into(),
        26 => "a.b-c_d".into(),
        27 => "x;y=1".into(),
        28 => "~user".into(),
        29 => "%7B%22a%22%3A1%7D".into(),
        _ => "%C0%AE%C0%AE".into(),
    }
}

fn name(r: &mut Rng, known: &[&str]) -> String {
    if r.chance(70) {
        r.pick(known).to_string()
    } else {
        odd_name(r)
    }
}

fn namespace(r: &mut Rng) -> String {
    match r.below(20) {
        0..=13 => "_".into(),
        14..=16 => "guest".into(),
        17 => "whisk.system".into(),
        _ => odd_name(r),
    }
}

/// What a body is meant to be.
#[derive(Clone, Copy)]
enum Kind {
    Action,
    Package,
    Trigger,
    Rule,
    Status,
    Params,
    Any,
}

/// A path of the route table (or near it), and what its PUT or POST takes.
fn route(r: &mut Rng, w: &World, method: &[u8]) -> (String, Kind) {
    const COLLECTIONS: [&str; 4] = ["actions", "packages", "triggers", "rules"];
    let ns = namespace(r);
    let slash = if r.chance(20) { "/" } else { "" };
    let put = method == b"PUT";
    match r.below(26) {
        0 => ("/".into(), Kind::Any),
        1 => ("/ping".into(), Kind::Any),
        2 => ("/invokers".into(), Kind::Any),
        3 => ("/invokers/healthy/count".into(), Kind::Any),
        4 => (format!("/api/v1{slash}"), Kind::Any),
        5 => (format!("/api/v1/api-docs{slash}"), Kind::Any),
        6 => (format!("/api/v1/namespaces{slash}"), Kind::Any),
        7 => (format!("/api/v1/namespaces/{ns}/limits{slash}"), Kind::Any),
        8 | 9 => {
            let c = r.pick(&COLLECTIONS);
            (format!("/api/v1/namespaces/{ns}/{c}{slash}"), Kind::Any)
        }
        10..=15 => {
            let (c, known, kind): (&str, &[&str], Kind) = match r.below(4) {
                0 => (
                    "actions",
                    &["hello", "seq", "made", "missing"],
                    if put { Kind::Action } else { Kind::Params },
                ),
                1 => (
                    "packages",
                    &["pkg", "bind", "made", "missing"],
                    Kind::Package,
                ),
                2 => (
                    "triggers",
                    &["trig", "made", "missing"],
                    if put { Kind::Trigger } else { Kind::Params },
                ),
                _ => (
                    "rules",
                    &["rule", "made", "missing"],
                    if put { Kind::Rule } else { Kind::Status },
                ),
            };
            let e = name(r, known);
            (format!("/api/v1/namespaces/{ns}/{c}/{e}"), kind)
        }
        16 => {
            let p = name(r, &["pkg", "bind", "missing"]);
            (format!("/api/v1/namespaces/{ns}/actions/{p}/"), Kind::Any)
        }
        17 | 18 => {
            let p = name(r, &["pkg", "bind", "missing"]);
            let e = name(r, &["inner", "made", "missing"]);
            let kind = if put { Kind::Action } else { Kind::Params };
            (format!("/api/v1/namespaces/{ns}/actions/{p}/{e}"), kind)
        }
        19 => (
            format!("/api/v1/namespaces/{ns}/activations{slash}"),
            Kind::Any,
        ),
        20 | 21 => {
            let id = match r.below(4) {
                0 | 1 => w.activation.clone(),
                2 => "0123456789abcdef0123456789abcdef".into(),
                _ => odd_name(r),
            };
            let view = *r.pick(&["", "/logs", "/result", "/other", "/logs/", "/result/x"]);
            (
                format!("/api/v1/namespaces/{ns}/activations/{id}{view}"),
                Kind::Any,
            )
        }
        22 | 23 => {
            let ns = match r.below(4) {
                0 | 1 => "guest".to_string(),
                2 => "_".to_string(),
                _ => namespace(r),
            };
            let p = name(r, &["default", "pkg", "bind", "missing"]);
            let e = name(r, &["hello", "inner", "missing"]);
            let ext = *r.pick(&[
                "",
                ".json",
                ".http",
                ".html",
                ".svg",
                ".text",
                ".JSON",
                ".x",
                ".json.json",
                ".",
            ]);
            let rest = *r.pick(&["", "", "/a/b", "/%2E%2E/x", "/..", "/x.json", "/%00"]);
            (format!("/api/v1/web/{ns}/{p}/{e}{ext}{rest}"), Kind::Params)
        }
        24 => {
            let c = r.pick(&COLLECTIONS);
            let e = name(r, &["hello", "pkg", "trig", "rule"]);
            (
                format!("/api/v1/namespaces/{ns}/{c}/{e}/extra/more{slash}"),
                Kind::Any,
            )
        }
        _ => (
            r.pick(&[
                "/api/v2/namespaces",
                "/api",
                "/api/v1/namespaces/_/widgets",
                "//api//v1//namespaces",
                "/api/v1/../v1/namespaces/_/actions",
                "/api/v1/namespaces/_/actions/../triggers",
                "/docs",
                "/favicon.ico",
                "/invokers/healthy",
                "/ping/",
                "/%",
                "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
            ])
            .to_string(),
            Kind::Any,
        ),
    }
}

fn odd_value(r: &mut Rng) -> Value {
    match r.below(36) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(false),
        3 => json!(0),
        4 => json!(-1),
        5 => json!(1.5),
        6 | 7 => json!("@HUGE"),
        8 | 9 => json!("@DEEP"),
        10 => json!(""),
        11 => json!("x"),
        12 => json!("ñ☃😀\u{0}\u{1f}"),
        13 => json!("x".repeat(r.range(100, 5000))),
        14 => json!([]),
        15 => json!([null]),
        16 => json!([1, "a", {}]),
        17 => json!({}),
        18 => json!({"a": {"b": {"c": []}}}),
        19 => json!([{"key": "a"}]),
        20 => json!([{"key": 1, "value": 2}]),
        21 => json!([{"value": 1}]),
        22 => json!([{"key": "a", "value": 1}, {"key": "a", "value": 2}]),
        23 => json!(i64::MIN),
        24 => json!(u64::MAX),
        25 => json!("nodejs:20"),
        26 => json!("sequence"),
        27 => json!("blackbox"),
        28 => json!("/guest/hello"),
        29 => json!("/_/pkg/inner"),
        30 => json!("guest"),
        31 => json!("active"),
        32 => json!("function main() { return {} }"),
        33 => json!({"kind": "nodejs:20", "code": 1}),
        34 => Value::Array(
            (0..r.range(100, 3000))
                .map(|i| json!({"key": format!("k{i}"), "value": i}))
                .collect(),
        ),
        _ => json!(1e300),
    }
}

fn base_body(r: &mut Rng, kind: Kind) -> Value {
    match kind {
        Kind::Action => match r.below(6) {
            0 | 1 => json!({
                "exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"},
                "annotations": [{"key": "web-export", "value": true}],
            }),
            2 => json!({
                "namespace": "guest", "name": "x",
                "exec": {"kind": "python:3", "code": "def main(a):\n  return a", "main": "main"},
                "parameters": [{"key": "a", "value": 1}],
                "annotations": [{"key": "exec", "value": "python:3"}],
                "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
                "publish": false, "version": "0.0.1",
            }),
            3 => {
                json!({"exec": {"kind": "sequence", "components": ["/guest/hello", "/guest/pkg/inner"]}})
            }
            4 => json!({"exec": {"kind": "blackbox", "image": "openwhisk/example"}}),
            _ => {
                json!({"exec": {"kind": "nodejs:20", "code": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==", "binary": true, "main": "main"}})
            }
        },
        Kind::Package => match r.below(3) {
            0 => {
                json!({"publish": true, "parameters": [{"key": "p", "value": "v"}], "annotations": []})
            }
            1 => json!({"binding": {"namespace": "guest", "name": "pkg"}}),
            _ => {
                json!({"binding": {"namespace": "whisk.system", "name": "utils"}, "publish": false})
            }
        },
        Kind::Trigger => match r.below(2) {
            0 => json!({}),
            _ => json!({
                "parameters": [{"key": "p", "value": 1}],
                "annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}],
                "limits": {},
            }),
        },
        Kind::Rule => match r.below(3) {
            0 => json!({"trigger": "/_/trig", "action": "/_/hello"}),
            1 => {
                json!({"trigger": "/guest/trig", "action": "/guest/pkg/inner", "status": "active"})
            }
            _ => json!({"name": "x", "trigger": "trig", "action": "hello", "status": "inactive"}),
        },
        Kind::Status => json!({"status": r.pick(&["active", "inactive"])}),
        Kind::Params => match r.below(3) {
            0 => json!({}),
            1 => json!({"a": 1, "payload": "x"}),
            _ => json!({"__ow_method": "put", "__ow_headers": {}}),
        },
        Kind::Any => {
            let kind = *r.pick(&[
                Kind::Action,
                Kind::Package,
                Kind::Trigger,
                Kind::Rule,
                Kind::Status,
                Kind::Params,
            ]);
            base_body(r, kind)
        }
    }
}

fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_string());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate().take(20) {
                pointers(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Replaces, removes or adds one field anywhere in `v`.
fn mutate(r: &mut Rng, v: &mut Value) {
    let mut at = Vec::new();
    pointers(v, "", &mut at);
    let p = r.pick(&at).clone();
    let odd = odd_value(r);
    match r.below(10) {
        0..=5 => {
            if let Some(x) = v.pointer_mut(&p) {
                *x = odd;
            }
        }
        6 | 7 => {
            let (parent, last) = p.rsplit_once('/').unwrap_or(("", ""));
            match v.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.shift_remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
        8 => match v.pointer_mut(&p) {
            Some(Value::Object(m)) => {
                let key = r.pick(&[
                    "unknown", "exec", "kind", "code", "limits", "binding", "status", "",
                ]);
                m.insert(key.to_string(), odd);
            }
            Some(x) => *x = json!({"wrapped": x.take()}),
            None => {}
        },
        _ => match v.pointer_mut(&p) {
            Some(Value::Array(a)) => a.push(odd),
            Some(x) => *x = json!([x.take()]),
            None => {}
        },
    }
}

fn deep(r: &mut Rng) -> String {
    let n = *r.pick(&[64, 129, 1000, 10_000, 100_000]);
    if r.chance(50) {
        format!("{}{}", "[".repeat(n), "]".repeat(n))
    } else {
        format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n))
    }
}

const HUGE: &[&str] = &[
    "1e999",
    "-1e999",
    "123456789012345678901234567890123456789",
    "18446744073709551616",
    "-9223372036854775809",
    "1E+400",
    "1e-999",
    "-0",
    "0.000000000000000000000000000000000000000000000000000000001",
    "9007199254740993",
];

/// A JSON body meant as `kind`, mutated (or, a quarter of the time, not: a PUT may succeed).
fn body(r: &mut Rng, kind: Kind) -> Vec<u8> {
    let mut v = base_body(r, kind);
    for _ in 0..r.below(4) {
        mutate(r, &mut v);
    }
    let mut text = v.to_string();
    while text.contains("\"@HUGE\"") {
        let huge = *r.pick(HUGE);
        text = text.replacen("\"@HUGE\"", huge, 1);
    }
    while text.contains("\"@DEEP\"") {
        let deep = deep(r);
        text = text.replacen("\"@DEEP\"", &deep, 1);
    }
    let mut bytes = text.into_bytes();
    if r.chance(25) {
        match r.below(12) {
            0 | 1 => bytes.truncate(r.below(bytes.len() + 1)),
            2 => {
                let at = r.below(bytes.len() + 1);
                let b = *r.pick(&[0u8, 0xff, b'"', b'{', b']', b'\\', 0x80, b'\n']);
                bytes.insert(at, b);
            }
            3 => {
                let mut b = vec![0xEF, 0xBB, 0xBF];
                b.extend_from_slice(&bytes);
                bytes = b;
            }
            4 => bytes.extend_from_slice(b",}"),
            5 => bytes = "[".repeat(10_000).into_bytes(),
            6 => bytes = "{\"a\":".repeat(5_000).into_bytes(),
            7 => bytes.clear(),
            8 => {
                bytes = r
                    .pick(&["null", "[]", "\"str\"", "42", "true", " "])
                    .as_bytes()
                    .to_vec()
            }
            9 if bytes.first() == Some(&b'{') => {
                let mut b = b"{\"exec\":1,\"name\":[],".to_vec();
                b.extend_from_slice(&bytes[1..]);
                bytes = b;
            }
            10 => {
                bytes = format!(
                    "{{\"exec\":{{\"kind\":\"nodejs:20\",\"code\":\"{}\"}}}}",
                    "x".repeat(r.range(100_000, 1_100_000))
                )
                .into_bytes()
            }
            _ => bytes = (0..r.range(1, 500)).map(|_| r.next() as u8).collect(),
        }
    }
    if r.chance(50) {
        bytes.push(b'\n');
    }
    bytes
}

fn authorization(r: &mut Rng) -> Option<Vec<u8>> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Some(match r.below(100) {
        0..=49 => basic(GUEST_KEY).into_bytes(),
        50..=64 => return None,
        65..=72 => basic(&format!("{GUEST_UUID}:{}", "x".repeat(64))).into_bytes(),
        73..=76 => basic(&format!(
            "00000000-0000-0000-0000-000000000000:{}",
            "y".repeat(64)
        ))
        .into_bytes(),
        77..=80 => basic(WHISK_SYSTEM_KEY).into_bytes(),
        81..=83 => b"Basic !!!notbase64!!!".to_vec(),
        84 | 85 => basic("nocolon").into_bytes(),
        86 | 87 => b"Bearer abc".to_vec(),
        88 => b"Basic".to_vec(),
        89 => format!("Basic {}", b64(&[0xff, 0xfe, b':', 0xff])).into_bytes(),
        90 => format!("Basic {}", "A".repeat(20_000)).into_bytes(),
        91 => basic(":").into_bytes(),
        92 => format!("{}extra", basic(GUEST_KEY)).into_bytes(),
        93 => format!("basic {}", b64(GUEST_KEY.as_bytes())).into_bytes(),
        94 => format!("Basic  {}", b64(GUEST_KEY.as_bytes())).into_bytes(),
        _ => basic(GUEST_KEY).into_bytes(),
    })
}

/// A well-formed HTTP/1.1 request to (or near) a route, with odd names, queries, credentials,
/// content types and bodies.
fn api(r: &mut Rng, w: &World) -> (String, Req) {
    let method: &[u8] = match r.below(100) {
        0..=29 => b"GET",
        30..=54 => b"PUT",
        55..=74 => b"POST",
        75..=88 => b"DELETE",
        89..=91 => b"HEAD",
        92..=94 => b"OPTIONS",
        95 | 96 => b"PATCH",
        _ => r.pick::<&[u8]>(&[b"FOO", b"get", b"TRACE", b"PROPFIND", b"M-SEARCH"]),
    };
    let (path, kind) = route(r, w, method);
    let mut target = path;
    let n = match r.below(10) {
        0..=4 => 0,
        5..=7 => 1,
        8 => 2,
        _ => 3,
    };
    for i in 0..n {
        target.push(if i == 0 { '?' } else { '&' });
        target.push_str(r.pick::<&str>(QUERIES));
    }
    if r.chance(1) {
        target.push_str(if n == 0 { "?x=" } else { "&x=" });
        target.push_str(&"q".repeat(r.range(100, 20_000)));
    }
    let mut req = Req {
        method: method.to_vec(),
        target: target.into_bytes(),
        version: b"HTTP/1.1".to_vec(),
        headers: vec![(b"Host".to_vec(), b"127.0.0.1".to_vec())],
        body: Vec::new(),
        eol: b"\r\n".to_vec(),
    };
    if r.chance(50) {
        req.set(
            "User-Agent",
            "OpenWhisk-CLI/1.0 (2024-09-25T00:23:10+1000) linux amd64",
        );
    }
    if let Some(a) = authorization(r) {
        req.set("Authorization", a);
    }
    match r.below(10) {
        0..=2 => req.set("Connection", "close"),
        3 => req.set("Connection", "keep-alive"),
        _ => {}
    }
    let with_body = (method == b"PUT" || method == b"POST") && r.chance(90) || r.chance(5);
    let body = if with_body { body(r, kind) } else { Vec::new() };
    if !body.is_empty() || r.chance(5) {
        if r.chance(80) {
            req.set("Content-Type", "application/json");
        } else if r.chance(80) {
            let ct = *r.pick(CONTENT_TYPES);
            req.set("Content-Type", ct);
        }
    }
    if !body.is_empty() && r.chance(3) {
        req.set("Expect", "100-continue");
    }
    if r.chance(5) {
        req.set(
            "Accept",
            *r.pick(&["*/*", "text/html", "application/json", "", "a/b;q=x"]),
        );
    }
    req.frame(r, body);
    let what = format!(
        "{} {}",
        String::from_utf8_lossy(&req.method),
        excerpt(&req.target, 80)
    );
    (what, req)
}

/// A request whose framing (or line, or headers) is broken, as HTTP knows ways to break it.
fn abused(r: &mut Rng, w: &World) -> Case {
    let how = r.below(31);
    abused_as(r, w, how, false)
}

/// The `how`th way of breaking a request; `behind` one still being served on the connection.
fn abused_as(r: &mut Rng, w: &World, how: usize, behind: bool) -> Case {
    let (mut what, mut q) = api(r, w);
    if behind && q.is_head() {
        q.method = b"GET".to_vec();
        what = format!("(as GET) {what}");
    }
    let mut half_close = false;
    let mut may_close = false;
    let json_body = |q: &Req| {
        if q.body.is_empty() {
            b"{\"a\":1}".to_vec()
        } else {
            q.body.clone()
        }
    };
    let how: String = match how {
        0 => {
            let v = *r.pick(&[
                "abc",
                "-1",
                "1, 2",
                "+5",
                " 5",
                "99999999999999999999999",
                "0x10",
                "",
                "5 5",
                "1e3",
                "٣",
                "7\u{0}",
            ]);
            q.body = json_body(&q);
            q.remove("transfer-encoding");
            q.set("Content-Length", v);
            format!("Content-Length: {v:?}")
        }
        1 => {
            let b = json_body(&q);
            q.remove("transfer-encoding");
            q.set("Content-Length", b.len().to_string());
            q.headers.push((
                b"Content-Length".to_vec(),
                (b.len() + 1).to_string().into_bytes(),
            ));
            q.body = b;
            "two Content-Lengths".into()
        }
        2 => {
            let b = json_body(&q);
            q.set("Content-Length", b.len().to_string());
            q.headers
                .push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec()));
            q.body = chunked(r, &b);
            "Content-Length and Transfer-Encoding".into()
        }
        3 | 4 => {
            q.remove("content-length");
            q.set("Transfer-Encoding", "chunked");
            let (how, body, short) = *r.pick(&[
                ("a chunk size of zz", &b"zz\r\nabc\r\n0\r\n\r\n"[..], false),
                ("a chunk size of -1", b"-1\r\nabc\r\n0\r\n\r\n", false),
                (
                    "a chunk size of 20 hex digits",
                    b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
                    false,
                ),
                (
                    "a chunk longer than its size",
                    b"3\r\nabcdef\r\n0\r\n\r\n",
                    false,
                ),
                (
                    "a chunk size with a space",
                    b"3 \r\nabc\r\n0\r\n\r\n",
                    false,
                ),
                ("a chunk extension", b"3;x=y\r\n{}\n\r\n0\r\n\r\n", false),
                ("chunks with bare LFs", b"3\n{}\n\n0\n\n", false),
                ("a trailer", b"2\r\n{}\r\n0\r\nX-Trailer: y\r\n\r\n", false),
                ("a chunk cut short, then close", b"a\r\n{\"a\"", true),
                ("no last chunk, then close", b"2\r\n{}\r\n", true),
                ("an empty chunk size", b"\r\n{}\r\n0\r\n\r\n", false),
            ]);
            q.body = body.to_vec();
            if short {
                half_close = true;
                may_close = true;
            }
            how.into()
        }
        5 => {
            let te = *r.pick(&[
                "gzip",
                "chunked, gzip",
                "gzip, chunked",
                "identity",
                "CHUNKED",
                "chunked, chunked",
                "x",
                "chunked\u{b}",
            ]);
            let b = json_body(&q);
            q.remove("content-length");
            q.set("Transfer-Encoding", te);
            q.body = chunked(r, &b);
            format!("Transfer-Encoding: {te:?}")
        }
        6 => {
            q.eol = b"\n".to_vec();
            "bare LF line endings".into()
        }
        7 => {
            q.eol = b"\r".to_vec();
            half_close = true;
            may_close = true;
            "bare CR line endings, then close".into()
        }
        8 => {
            let at = r.below(q.headers.len() + 1);
            q.headers.insert(at, (b"NoColonHere".to_vec(), Vec::new()));
            // (`NoColonHere: ` is still a header: write the line without the separator.)
            let mut head = q.head();
            if let Some(i) = find(&head, b"NoColonHere: ") {
                head.drain(i + 11..i + 13);
            }
            head.extend_from_slice(&q.body);
            return Case {
                what: format!("{what}, a header line without a colon"),
                bytes: head,
                requests: vec![Expect {
                    head: q.is_head(),
                    may_close: false,
                }],
                half_close: false,
                stall: false,
            };
        }
        9 => {
            let n = *r.pick(&[8_000, 33_000, 100_000, 300_000]);
            q.set("X-Long", "h".repeat(n));
            format!("a header line of {n} bytes")
        }
        10 => {
            let n = *r.pick(&[60, 95, 100, 500]);
            for i in 0..n {
                q.headers
                    .push((format!("X-H{i}").into_bytes(), b"v".to_vec()));
            }
            format!("{n} more headers")
        }
        11 => {
            q.version.clear();
            "a request line without a version".into()
        }
        12 => {
            let v = *r.pick(&[
                "HTTP/0.9",
                "HTTP/2.0",
                "HTTP/1.2",
                "HTTP/3",
                "HTTX/1.1",
                "http/1.1",
                "HTTP/1.10",
                "HTTP/1.1 extra",
                "HTTP/1.0",
                "HTTP/1",
                "HTTP/",
            ]);
            q.version = v.as_bytes().to_vec();
            format!("version {v:?}")
        }
        13 => {
            let at = *r.pick(&["method", "target", "header name", "header value"]);
            match at {
                "method" => q.method.insert(1, 0),
                "target" => {
                    let i = r.below(q.target.len() + 1);
                    q.target.insert(i, 0)
                }
                "header name" => q.headers.push((b"X-N\0l".to_vec(), b"v".to_vec())),
                _ => q.headers.push((b"X-Nul".to_vec(), b"a\0b".to_vec())),
            }
            format!("a NUL byte in the {at}")
        }
        14 => {
            let b = json_body(&q);
            let short = r.below(b.len());
            q.remove("transfer-encoding");
            q.set("Content-Length", b.len().to_string());
            q.body = b[..short].to_vec();
            half_close = true;
            may_close = true;
            format!("a body of {short} of {} bytes, then close", b.len())
        }
        15 => {
            let n = r.range(1, 5);
            let mut b = b"\r\n".repeat(n);
            b.extend_from_slice(&q.wire());
            return Case {
                what: format!("{what}, after {n} empty lines"),
                bytes: b,
                requests: vec![Expect {
                    head: q.is_head(),
                    may_close: false,
                }],
                half_close: false,
                stall: false,
            };
        }
        16 => {
            q.headers.push((b"X-Folded".to_vec(), b"a\r\n  b".to_vec()));
            "an obs-fold header".into()
        }
        17 => {
            q.headers.push((b"X-Space ".to_vec(), b"v".to_vec()));
            "a space before a colon".into()
        }
        18 => {
            q.remove("host");
            "no Host".into()
        }
        19 => {
            let v = *r.pick(&["a b", "", "[::1", "x:99999", "a\tb"]);
            if r.chance(50) {
                q.headers.push((b"Host".to_vec(), b"other".to_vec()));
                "two Hosts".into()
            } else {
                q.set("Host", v);
                format!("Host: {v:?}")
            }
        }
        20 => {
            let name = *r.pick(&["Authorization", "X-Foo", "Content-Type", "Cookie"]);
            q.set(name, b"Basic \xc3\xb1\xff\xfe".to_vec());
            format!("non-ASCII bytes in {name}")
        }
        21 => {
            let form = r.below(3);
            q.target = match form {
                0 => {
                    let mut t = b"http://127.0.0.1".to_vec();
                    t.extend_from_slice(&q.target);
                    t
                }
                1 => b"*".to_vec(),
                _ => b"127.0.0.1:80".to_vec(),
            };
            format!("target form {form}")
        }
        22 => {
            let raw = *r.pick(&[
                &b"/api/v1/namespaces/_/actions/\xc3\xb1"[..],
                b"/api/v1/namespaces/_/actions/a b",
                b"/api/v1/namespaces/_/actions/a\x01b",
                b"/api/v1/namespaces/_/actions/a#b",
                b"/api/v1/namespaces/_/actions/\"a\"",
                b"/api/v1/namespaces/_/actions/a\x7fb",
                b"api/v1/namespaces",
                b"",
            ]);
            q.target = raw.to_vec();
            format!("target {}", excerpt(raw, 60))
        }
        23 => {
            let n = *r.pick(&[10_000, 40_000, 100_000]);
            q.target = format!("/api/v1/namespaces/_/actions/{}", "a".repeat(n)).into_bytes();
            format!("a target of {n} bytes")
        }
        24 => {
            let v = *r.pick(&["100-continue", "something", "100-continue, x", ""]);
            q.set("Expect", v);
            format!("Expect: {v:?}")
        }
        25 => {
            q.version = b"HTTP/1.0".to_vec();
            q.remove("host");
            q.set("Connection", "keep-alive");
            "HTTP/1.0, keep-alive, no Host".into()
        }
        26 => {
            if r.chance(50) {
                q.method = b"CONNECT".to_vec();
                "CONNECT".into()
            } else {
                let up = *r.pick(&["websocket", "h2c", "TLS/1.2", "x"]);
                q.set("Upgrade", up);
                q.set("Connection", "Upgrade");
                format!("Upgrade: {up}")
            }
        }
        27 => {
            let b = json_body(&q);
            q.remove("transfer-encoding");
            q.set("Content-Length", "0");
            q.body = b;
            "Content-Length: 0 before a body".into()
        }
        28 => {
            let m = *r.pick(&[&b"get"[..], b"G ET", b"GET\t", b"", b"(GET)", b"GET  "]);
            let long = "M".repeat(1000);
            q.method = if r.chance(20) {
                long.into_bytes()
            } else {
                m.to_vec()
            };
            format!("method {}", excerpt(&q.method, 20))
        }
        29 => {
            let n = *r.pick(&[&b"X(Y)"[..], b"X Y", b"", b"X\xffY", b"X:Y"]);
            q.headers.push((n.to_vec(), b"z".to_vec()));
            format!("a header named {}", excerpt(n, 20))
        }
        _ => {
            q.target.extend_from_slice(b"?");
            q.target
                .extend_from_slice(&r.pick(QUERIES).as_bytes().repeat(r.range(50, 500)));
            "a long query".into()
        }
    };
    Case {
        what: format!("{what}, {how}"),
        bytes: q.wire(),
        requests: vec![Expect {
            head: q.is_head(),
            may_close,
        }],
        half_close,
        stall: false,
    }
}

/// Two or three requests written at once on one connection.
///
/// Left out: what actix-http 3.20 gets wrong when a request arrives while one before it is still
/// being served (`requests_pipelined_behind_a_slow_one_...` records it): a HEAD before or behind
/// another request, an HTTP/1.0 request, a broken chunked body or an Upgrade behind one; any
/// request behind a `Connection: close`.
fn pipelined(r: &mut Rng, w: &World) -> Case {
    const NOT_BEHIND: [usize; 6] = [3, 4, 5, 12, 25, 26];
    let mut bytes = Vec::new();
    let mut requests = Vec::new();
    let mut what = Vec::new();
    let n = if r.chance(10) { 3 } else { 2 };
    for i in 0..n {
        let last = i == n - 1;
        if last && r.chance(30) {
            let how = loop {
                let how = r.below(31);
                if !NOT_BEHIND.contains(&how) {
                    break how;
                }
            };
            let c = abused_as(r, w, how, true);
            bytes.extend_from_slice(&c.bytes);
            requests.extend(c.requests);
            what.push(c.what);
            if c.half_close {
                return Case {
                    what: format!("pipelined: {}", what.join(" | ")),
                    bytes,
                    requests,
                    half_close: true,
                    stall: false,
                };
            }
        } else {
            let (mut w1, mut q) = api(r, w);
            if q.is_head() {
                q.method = b"GET".to_vec();
                w1 = format!("(as GET) {w1}");
            }
            if !last {
                q.remove("connection");
                q.remove("expect");
            }
            bytes.extend_from_slice(&q.wire());
            requests.push(Expect {
                head: q.is_head(),
                may_close: false,
            });
            what.push(w1);
        }
    }
    Case {
        what: format!("pipelined: {}", what.join(" | ")),
        bytes,
        requests,
        half_close: false,
        stall: false,
    }
}

/// Bytes that are not HTTP at all, then close.
fn garbage(r: &mut Rng) -> Case {
    let (what, bytes): (&str, Vec<u8>) = match r.below(7) {
        0 => (
            "random bytes",
            (0..r.range(1, 2000)).map(|_| r.next() as u8).collect(),
        ),
        1 => (
            "a TLS ClientHello",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\x03".to_vec(),
        ),
        2 => (
            "the HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        ),
        3 => ("empty lines", b"\r\n".repeat(r.range(1, 100))),
        4 => ("an SSH banner", b"SSH-2.0-OpenSSH_8.9\r\n".to_vec()),
        5 => (
            "a head without its end",
            b"GET /ping HTTP/1.1\r\nHost: x\r\n".to_vec(),
        ),
        _ => ("nothing", Vec::new()),
    };
    Case {
        what: format!("{what}, then close"),
        bytes,
        requests: vec![Expect {
            head: false,
            may_close: true,
        }],
        half_close: true,
        stall: false,
    }
    .cut_short()
}

/// A head or body that stops coming.
fn stalled(r: &mut Rng) -> Case {
    let auth = basic(GUEST_KEY);
    let (what, bytes) = if r.chance(50) {
        (
            "a head that stops",
            format!(
                "PUT /api/v1/namespaces/_/triggers/t HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nX-Slow: aaa"
            ),
        )
    } else {
        (
            "a body that stops",
            format!(
                "PUT /api/v1/namespaces/_/triggers/t HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"parameters\": ["
            ),
        )
    };
    Case {
        what: what.into(),
        bytes: bytes.into_bytes(),
        requests: vec![Expect {
            head: false,
            may_close: true,
        }],
        half_close: false,
        stall: true,
    }
}

fn case(seed: u64, index: usize, w: &World) -> Case {
    let mut r = Rng::new(seed ^ (index as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    match r.below(1000) {
        0 | 1 => stalled(&mut r),
        2..=29 => garbage(&mut r),
        30..=79 => pipelined(&mut r, w),
        80..=329 => abused(&mut r, w),
        _ => {
            let (what, q) = api(&mut r, w);
            Case::one(what, &q)
        }
    }
}

/// What the fuzz server's timeouts allow, plus a margin: an answer that takes longer is a hang.
const FUZZ_TIMEOUT_SECS: u64 = 2;
const ANSWER_WITHIN: Duration = Duration::from_secs(FUZZ_TIMEOUT_SECS + 4);

/// Sends a case and judges what comes back; answers the statuses read.
fn exchange(addr: SocketAddr, case: &Case) -> Result<Vec<u16>, String> {
    let mut conn = Conn::open(addr).map_err(|e| format!("connecting: {e}"))?;
    // A server may answer and close before it has read everything: what it answered is still read.
    let _ = conn.send(&case.bytes);
    if case.half_close {
        let _ = conn.stream.shutdown(Shutdown::Write);
    }
    let deadline = Instant::now() + ANSWER_WITHIN;
    judge(&mut conn, case, deadline)
        .map_err(|e| format!("{e}\n    received {}", excerpt(&conn.received, 600)))
}

/// Reads the answers to `case` off `conn`, and judges them.
fn judge(conn: &mut Conn, case: &Case, deadline: Instant) -> Result<Vec<u16>, String> {
    let mut statuses = Vec::new();
    for (i, expect) in case.requests.iter().enumerate() {
        let which = if case.requests.len() > 1 {
            format!("request {} of {}: ", i + 1, case.requests.len())
        } else {
            String::new()
        };
        match conn.answer(expect.head, deadline) {
            Ok(a) => {
                if let Some(f) = fault(&a) {
                    return Err(format!("{which}{f}"));
                }
                if case.stall && a.status != 408 {
                    return Err(format!(
                        "a stalled request was answered {}, not 408",
                        a.summary()
                    ));
                }
                statuses.push(a.status);
                if a.closes() {
                    break;
                }
            }
            Err(NoAnswer::Closed) if expect.may_close || case.stall => break,
            Err(e @ NoAnswer::Silent(_)) if case.stall => {
                return Err(format!(
                    "a stalled request was neither answered 408 nor closed within {ANSWER_WITHIN:?}: {e}"
                ));
            }
            Err(e @ NoAnswer::Silent(_)) => {
                return Err(format!("{which}{e} within {ANSWER_WITHIN:?}"));
            }
            Err(e) => return Err(format!("{which}{e}")),
        }
    }
    Ok(statuses)
}

/// Makes an action, a package with an action, a binding, a sequence, a trigger and a rule, and
/// fires the trigger: the fuzz's GETs and DELETEs find documents.
fn populate(owl: &Owl) -> World {
    let c = owl.guest();
    let ns = "/api/v1/namespaces/_";
    let web = json!([{"key": "web-export", "value": true}]);
    let node = json!({"kind": "nodejs:20", "code": "function main(p) { return p }"});
    for (path, body) in [
        ("actions/hello", json!({"exec": node, "annotations": web})),
        ("packages/pkg", json!({"publish": true})),
        (
            "actions/pkg/inner",
            json!({"exec": node, "annotations": web}),
        ),
        (
            "packages/bind",
            json!({"binding": {"namespace": "guest", "name": "pkg"}}),
        ),
        (
            "actions/seq",
            json!({"exec": {"kind": "sequence", "components": ["/guest/hello", "/guest/pkg/inner"]}}),
        ),
        ("triggers/trig", json!({})),
        (
            "rules/rule",
            json!({"trigger": "/_/trig", "action": "/_/hello"}),
        ),
    ] {
        let r = c.put(&format!("{ns}/{path}"), &body);
        assert_eq!(r.status, 200, "PUT {path}: {}", r.text);
    }
    let fired = c.post(&format!("{ns}/triggers/trig"), &json!({"a": 1}));
    let activation = fired.body["activationId"]
        .as_str()
        .unwrap_or("0123456789abcdef0123456789abcdef")
        .to_string();
    World { activation }
}

#[test]
fn a_seeded_fuzz_of_ten_thousand_odd_requests_never_gets_a_5xx_nor_hangs() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("OWL_EDGE_FUZZ_SEED").unwrap_or(0x0E1D_6E5E_ED00_2026);
    let cases = env("OWL_EDGE_FUZZ_CASES").unwrap_or(10_000) as usize;
    let only = env("OWL_EDGE_FUZZ_ONLY").map(|i| i as usize);
    let timeout = FUZZ_TIMEOUT_SECS.to_string();
    let mut owl = Owl::start_with(&[
        "--no-invoker",
        "--header-timeout",
        &timeout,
        "--body-timeout",
        &timeout,
    ]);
    let addr = address(&owl);
    let world = populate(&owl);
    let indices: Vec<usize> = match only {
        Some(i) => vec![i],
        None => (0..cases).collect(),
    };
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::<(usize, String)>::new());
    let statuses = Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = indices.get(k) else { break };
                    let case = case(seed, index, &world);
                    let outcome = exchange(addr, &case);
                    let mut tally = statuses.lock().unwrap();
                    match outcome {
                        Ok(got) if got.is_empty() => {
                            *tally.entry("closed".into()).or_default() += 1
                        }
                        Ok(got) => {
                            for status in got {
                                *tally.entry(status.to_string()).or_default() += 1;
                            }
                        }
                        Err(e) => {
                            drop(tally);
                            failures.lock().unwrap().push((
                                index,
                                format!(
                                    "seed {seed:#x}, request {index} ({}): {e}\n    sent {}",
                                    case.what,
                                    excerpt(&case.bytes, 600)
                                ),
                            ));
                        }
                    }
                }
            });
        }
    });
    let took = started.elapsed();
    let tally = statuses.into_inner().unwrap();
    eprintln!(
        "edge fuzz: seed {seed:#x}, {} requests in {took:.1?}; answers: {tally:?}",
        indices.len()
    );
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|(i, _)| *i);
    assert!(
        failures.is_empty(),
        "{} of {} requests went wrong (replay one with OWL_EDGE_FUZZ_SEED={seed} \
         OWL_EDGE_FUZZ_ONLY=<request>):\n{}",
        failures.len(),
        indices.len(),
        failures
            .iter()
            .take(25)
            .map(|(_, f)| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        owl.is_running(),
        "owl died during the fuzz (seed {seed:#x})"
    );
    let api = owl.anonymous().get("/api/v1");
    assert_eq!(api.status, 200, "GET /api/v1 after the fuzz: {}", api.text);
    let list = owl.guest().get("/api/v1/namespaces/_/actions");
    assert_eq!(
        list.status, 200,
        "GET /api/v1/namespaces/_/actions after the fuzz: {}",
        list.text
    );
}

// ---------------------------------------------------------------------------------------------
// Tunnels, slow clients, idle clients.

/// `GET path` on a new connection, with the guest's credentials: its answer within `within`.
fn normal_get(addr: SocketAddr, path: &str, within: Duration) -> Result<Answer, String> {
    let mut conn = Conn::open(addr).map_err(|e| format!("connecting: {e}"))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\n\r\n",
        basic(GUEST_KEY)
    );
    conn.send(req.as_bytes())
        .map_err(|e| format!("sending: {e}"))?;
    conn.answer(false, Instant::now() + within)
        .map_err(|e| e.to_string())
}

#[test]
fn connect_and_upgrade_requests_are_answered_at_once_and_closed() {
    let mut owl = Owl::start_with(&["--no-invoker"]);
    let addr = address(&owl);
    let auth = basic(GUEST_KEY);
    let ping = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases: Vec<(&str, String)> = vec![
        (
            "CONNECT",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".into(),
        ),
        (
            "CONNECT followed by tunnel bytes and a request",
            format!(
                "CONNECT {addr} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n\r\n\
                 \u{16}\u{3}\u{1}\u{0}\u{5}hello{ping}"
            ),
        ),
        (
            "CONNECT with a Content-Length and a body",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".into(),
        ),
        (
            "Upgrade: websocket",
            "GET /api/v1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                .into(),
        ),
        (
            "Upgrade: websocket on an authenticated route, then a frame and a request",
            format!(
                "GET /api/v1/namespaces/_/actions HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
                 Connection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\
                 \u{1}\u{5}hello{ping}"
            ),
        ),
        (
            "Upgrade: h2c",
            "GET /api/v1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n\
             Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
                .into(),
        ),
        (
            "Upgrade on a PUT with a body",
            format!(
                "PUT /api/v1/namespaces/_/triggers/up HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
                 Content-Type: application/json\r\nContent-Length: 2\r\n\
                 Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n{{}}"
            ),
        ),
    ];
    for (what, bytes) in &cases {
        let sent = Instant::now();
        let mut conn = Conn::open(addr).expect("a connection");
        conn.send(bytes.as_bytes()).expect("the request is sent");
        let answer = conn
            .answer(false, sent + Duration::from_secs(2))
            .unwrap_or_else(|e| {
                panic!(
                    "{what}: {e} within 2 s; sent {}",
                    excerpt(bytes.as_bytes(), 400)
                )
            });
        assert!(
            fault(&answer).is_none() && answer.status < 500,
            "{what}: answered {}",
            answer.summary()
        );
        assert!(
            answer.closes(),
            "{what}: the answer does not say the connection closes: {:?}",
            answer.headers
        );
        // Nothing more: the connection ends, and what followed the head is not read as a request.
        let rest = conn
            .rest(Instant::now() + Duration::from_secs(2))
            .unwrap_or_else(|got| {
                panic!(
                    "{what}: the connection is still open 2 s after the answer (got {})",
                    excerpt(&got, 200)
                )
            });
        assert!(
            rest.is_empty(),
            "{what}: more came after the answer: {}",
            excerpt(&rest, 400)
        );
    }
    let after = normal_get(addr, "/api/v1/namespaces/_/actions", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("a normal request after the tunnels: {e}"));
    assert_eq!(after.status, 200, "{}", after.summary());
    assert!(owl.is_running(), "owl died");
}

#[test]
fn a_client_sending_its_head_or_body_slowly_is_cut_off_and_its_slot_freed() {
    const TIMEOUT: u64 = 2;
    let mut owl = Owl::start_with(&[
        "--no-invoker",
        "--header-timeout",
        "2",
        "--body-timeout",
        "2",
        "--max-connections",
        "8",
    ]);
    let addr = address(&owl);
    let auth = basic(GUEST_KEY);
    // 16 slow clients for 8 slots: the 8 that come last wait in the listen queue until the first 8
    // are cut, so each is cut within two rounds of the timeout (and of the second actix lingers on
    // a connection it closes), plus a margin.
    let cut_within = Duration::from_secs(2 * (TIMEOUT + 1) + 4);
    let slow: Vec<_> = (0..16)
        .map(|i| {
            let auth = auth.clone();
            std::thread::spawn(move || -> Result<(Duration, String), String> {
                let head_first = i < 8;
                let (what, first, trickle) = if head_first {
                    (
                        format!("slow client {i} (a header byte a second)"),
                        String::new(),
                        format!(
                            "GET /api/v1/namespaces/_/actions HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nX-Slow: {}\r\n\r\n",
                            "s".repeat(60)
                        ),
                    )
                } else {
                    (
                        format!("slow client {i} (its head, then a body byte a second)"),
                        format!(
                            "PUT /api/v1/namespaces/_/triggers/slow{i} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
                             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"parameters\": ["
                        ),
                        " ".repeat(80),
                    )
                };
                let opened = Instant::now();
                let mut conn = Conn::open(addr).map_err(|e| format!("{what}: connecting: {e}"))?;
                let _ = conn.send(first.as_bytes());
                for b in trickle.bytes() {
                    if conn.send(&[b]).is_err() {
                        break;
                    }
                    match conn.fill(Instant::now() + Duration::from_secs(1)) {
                        Err(()) => {}
                        Ok(_) => break,
                    }
                    if opened.elapsed() > cut_within {
                        break;
                    }
                }
                let outcome = match conn.answer(false, opened + cut_within) {
                    Ok(a) if a.status == 408 => "408".to_string(),
                    Ok(a) => return Err(format!("{what}: answered {}, not 408", a.summary())),
                    Err(NoAnswer::Closed) => "closed".to_string(),
                    Err(e) => {
                        return Err(format!(
                            "{what}: not cut off within {cut_within:?} of connecting: {e}"
                        ));
                    }
                };
                Ok((opened.elapsed(), format!("{what}: {outcome}")))
            })
        })
        .collect();
    // A normal client, queued behind all of them, is served as they are cut: within the same
    // bound.
    std::thread::sleep(Duration::from_millis(300));
    let normal_started = Instant::now();
    let normal = normal_get(addr, "/api/v1/namespaces/_/actions", cut_within);
    let normal_took = normal_started.elapsed();
    let mut report = Vec::new();
    for t in slow {
        let (took, what) = t
            .join()
            .expect("a slow client's thread")
            .unwrap_or_else(|e| panic!("{e}"));
        report.push(format!("{what} after {took:.1?}"));
    }
    let normal = normal.unwrap_or_else(|e| {
        panic!("a normal client among 16 slow ones was not served within {cut_within:?}: {e}")
    });
    assert_eq!(normal.status, 200, "{}", normal.summary());
    eprintln!(
        "slow clients: {}; the normal client took {normal_took:.1?}",
        report.join("; ")
    );
    // And once they are gone, at once.
    let after = normal_get(addr, "/api/v1/namespaces/_/actions", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("a normal request after the slow clients: {e}"));
    assert_eq!(after.status, 200, "{}", after.summary());
    assert!(owl.is_running(), "owl died");
}

#[test]
fn idle_connections_do_not_pile_up() {
    const TIMEOUT: u64 = 2;
    let mut owl = Owl::start_with(&["--no-invoker", "--header-timeout", "2", "--keep-alive", "2"]);
    let addr = address(&owl);
    let margin = Duration::from_secs(4);
    let opened = Instant::now();
    let mut idle: Vec<Conn> = (0..200)
        .map(|i| Conn::open(addr).unwrap_or_else(|e| panic!("idle connection {i}: {e}")))
        .collect();
    // While they idle, others are served.
    let served = normal_get(addr, "/api/v1/namespaces/_/actions", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("a request beside 200 idle connections: {e}"));
    assert_eq!(served.status, 200, "{}", served.summary());
    // Connections kept alive after a request, then idle.
    let mut kept: Vec<Conn> = (0..50)
        .map(|i| {
            let mut c = Conn::open(addr).unwrap_or_else(|e| panic!("kept connection {i}: {e}"));
            c.send(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("a request");
            let a = c
                .answer(false, Instant::now() + Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("kept connection {i}: {e}"));
            assert_eq!(a.status, 200, "kept connection {i}: {}", a.summary());
            assert!(!a.closes(), "kept connection {i} is not kept alive");
            c
        })
        .collect();
    let kept_at = Instant::now();
    let deadline = opened + Duration::from_secs(TIMEOUT) + margin;
    for (i, c) in idle.iter_mut().enumerate() {
        let rest = c.rest(deadline).unwrap_or_else(|got| {
            panic!(
                "idle connection {i} (nothing sent) is still open {:?} after it opened (got {})",
                opened.elapsed(),
                excerpt(&got, 200)
            )
        });
        assert!(
            rest.is_empty() || rest.starts_with(b"HTTP/1.1 408 "),
            "idle connection {i} got {}",
            excerpt(&rest, 200)
        );
    }
    let deadline = kept_at + Duration::from_secs(TIMEOUT) + margin;
    for (i, c) in kept.iter_mut().enumerate() {
        let rest = c.rest(deadline).unwrap_or_else(|got| {
            panic!(
                "kept-alive connection {i} is still open {:?} after its answer (got {})",
                kept_at.elapsed(),
                excerpt(&got, 200)
            )
        });
        assert!(
            rest.is_empty() || rest.starts_with(b"HTTP/1.1 408 "),
            "kept-alive connection {i} got {}",
            excerpt(&rest, 200)
        );
    }
    eprintln!(
        "idle connections: all closed {:?} after they opened",
        opened.elapsed()
    );
    let after = normal_get(addr, "/api/v1/namespaces/_/actions", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("a request after the idle connections: {e}"));
    assert_eq!(after.status, 200, "{}", after.summary());
    assert!(owl.is_running(), "owl died");
}
