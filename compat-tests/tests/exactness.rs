//! Values pass unchanged: a request's JSON is what the store keeps, what every read answers, what
//! the action receives in `/run` and what its record holds. Upstream keeps numbers as written (its
//! JSON library reads them as `BigDecimal`), so integers of any size and decimals of any precision
//! come back as they were sent.
//!
//! The actions here are native executables that print their argument back (`printf '%s'`), so no
//! language's own reading of numbers is involved: what comes back is what Owl passed along.
//!
//! Against the distributed topology the store is the CouchDB-compatible test server, which is
//! JavaScript: it keeps a number exactly only when a double does (integers up to 2^53, decimals of
//! up to 15 significant digits). Apache CouchDB keeps integers of any size; the values tried there
//! are the ones both keep.

use owl_compat_tests::{Client, Owl, Response};
use serde_json::{Map, Value, json};

const NS: &str = "/api/v1/namespaces/_";
/// Prints the parameters it is given (its first argument) as its result.
const ECHO: &str = "#!/bin/sh\nprintf '%s\\n' \"$1\"\n";

fn raw_json(c: &Client, method: &str, path: &str, body: &str) -> Response {
    c.raw(
        method,
        path,
        Some(body.as_bytes()),
        &[("Content-Type", "application/json")],
    )
}

fn echo_action(c: &Client, name: &str, parameters: &str) -> Response {
    let body = format!(
        r#"{{"exec": {{"kind": "blackbox", "image": "owl/dockerskeleton:latest", "code": {}}}, "parameters": {parameters}}}"#,
        json!(ECHO)
    );
    raw_json(
        c,
        "PUT",
        &format!("{NS}/actions/{name}?overwrite=true"),
        &body,
    )
}

fn param<'a>(entity: &'a Value, key: &str) -> &'a Value {
    entity["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["key"] == key))
        .map(|p| &p["value"])
        .unwrap_or(&Value::Null)
}

/// The numbers tried: as written, and whether a double keeps them as written. (An exponent comes
/// back as `e+400` for `E400`: the same number; upstream's `BigDecimal` rewrites exponents too.)
const NUMBERS: &[(&str, bool)] = &[
    ("12345678912.123456789012", false),
    ("12345678912.123457", true),
    ("123456789012345678901234", false),
    ("-98765432109876543210987654321", false),
    ("18446744073709551616", false),
    ("9007199254740993", false),
    ("9007199254740991", true),
    ("-5", true),
    ("0.1", true),
    ("1.5", true),
    ("1.50", false),
    ("-0", false),
    ("2.5e+10", false),
    ("1e-320", false),
    ("1e+400", false),
    ("-1.5e-999999", false),
];

#[test]
fn numbers_read_back_and_reach_the_action_exactly_as_they_were_written() {
    let owl = Owl::start();
    let c = owl.guest();
    let thousand_digits = format!("1{}", "0".repeat(3000));
    let mut numbers: Vec<(&str, bool)> = NUMBERS.to_vec();
    numbers.push((&thousand_digits, false));
    let numbers: Vec<&str> = numbers
        .into_iter()
        .filter(|(_, double_keeps)| *double_keeps || !owl.is_distributed())
        .map(|(n, _)| n)
        .collect();
    for (i, n) in numbers.iter().enumerate() {
        let shown = &n[..n.len().min(30)];
        let parameters = format!(r#"[{{"key": "n", "value": {n}}}]"#);
        let trigger = format!("{NS}/triggers/t{i}");
        let put = raw_json(
            &c,
            "PUT",
            &trigger,
            &format!(r#"{{"parameters": {parameters}}}"#),
        );
        assert_eq!(put.status, 200, "{shown}: {}", put.text);
        assert_eq!(
            param(&put.body, "n").to_string(),
            *n,
            "PUT answer of {shown}"
        );
        let got = c.get(&trigger);
        assert_eq!(param(&got.body, "n").to_string(), *n, "GET of {shown}");

        let action = format!("echo{i}");
        let put = echo_action(&c, &action, &parameters);
        assert_eq!(put.status, 200, "{shown}: {}", put.text);
        let got = c.get(&format!("{NS}/actions/{action}"));
        assert_eq!(param(&got.body, "n").to_string(), *n, "GET of {shown}");
        // Sent at invoke too, beside the stored one.
        let ran = raw_json(
            &c,
            "POST",
            &format!("{NS}/actions/{action}?blocking=true"),
            &format!(r#"{{"sent": {n}}}"#),
        );
        assert_eq!(ran.status, 200, "{shown}: {}", ran.text);
        let result = &ran.body["response"]["result"];
        assert_eq!(result["n"].to_string(), *n, "stored {shown} at /run");
        assert_eq!(result["sent"].to_string(), *n, "sent {shown} at /run");
        let id = ran.body["activationId"].as_str().unwrap();
        let record = c.record(id);
        assert_eq!(
            record["response"]["result"]["n"].to_string(),
            *n,
            "record of {shown}"
        );
    }
    let put = raw_json(
        &c,
        "PUT",
        &format!("{NS}/triggers/upper"),
        r#"{"parameters": [{"key": "n", "value": 2.5E10}]}"#,
    );
    assert_eq!(param(&put.body, "n").to_string(), "2.5e+10");
}

/// splitmix64: a small seeded generator, so a failing case can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn digits(&mut self, n: usize) -> String {
        let mut s = ((b'1' + self.below(9) as u8) as char).to_string();
        for _ in 1..n {
            s.push((b'0' + self.below(10) as u8) as char);
        }
        s
    }

    /// A number as a client might write it. With `double_only`, one a double keeps as written
    /// (an integer below 2^53, or a fixed-point decimal of at most 15 significant digits, no
    /// trailing zero, between 1e-5 and 1e15).
    fn number(&mut self, double_only: bool) -> String {
        let sign = if self.below(3) == 0 { "-" } else { "" };
        if double_only {
            return match self.below(3) {
                0 => "0".to_string(),
                1 => format!("{sign}{}", self.below(1 << 53).max(1)),
                _ => {
                    let int = self.below(1_000_000);
                    let frac_len = 1 + self.below(9) as usize;
                    let mut frac = self.digits(frac_len);
                    frac = frac.trim_end_matches('0').to_string();
                    if frac.is_empty() {
                        frac.push('5');
                    }
                    format!("{sign}{int}.{frac}")
                }
            };
        }
        let int_len = 1 + self.below(40) as usize;
        let int = self.digits(int_len);
        let frac_len = 1 + self.below(30) as usize;
        let frac = self.digits(frac_len);
        let exp_sign = ["", "+", "-"][self.below(3) as usize];
        let exp = self.below(400);
        let zeros = "0".repeat(self.below(12) as usize);
        match self.below(4) {
            0 => format!("{sign}{int}"),
            1 => format!("{sign}{int}.{frac}"),
            2 => format!("{sign}{}.{frac}e{exp_sign}{exp}", &int[..1]),
            _ => format!("{sign}0.{zeros}{}", &frac[..frac.len().min(3)]),
        }
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\r", "\u{1}", "\u{1f}", "\u{7f}", "é",
            "ß", "日本", "\u{2028}", "\u{fffd}", "🦉", "𝄞", "'", "$1", "%s", "{}", "[", "\u{0}",
        ];
        let long = self.below(10) == 0;
        let len = self.below(if long { 2000 } else { 12 });
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }

    fn value(&mut self, depth: u32, double_only: bool) -> String {
        let pick = if depth >= 5 {
            self.below(4)
        } else {
            self.below(7)
        };
        match pick {
            0 => ["null", "true", "false"][self.below(3) as usize].to_string(),
            1 | 2 => self.number(double_only),
            3 => json!(self.string()).to_string(),
            4 | 5 => {
                let items: Vec<String> = (0..self.below(5))
                    .map(|_| self.value(depth + 1, double_only))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            _ => {
                let mut keys = Map::new();
                let fields: Vec<String> = (0..self.below(5))
                    .filter_map(|_| {
                        let k = self.string();
                        // Distinct keys: a duplicate key's fate is the JSON reader's, not ours.
                        keys.insert(k.clone(), Value::Null).is_none().then(|| {
                            format!("{}: {}", json!(k), self.value(depth + 1, double_only))
                        })
                    })
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }
}

/// Where two values first differ, as a JSON pointer with both sides: what a failing case shows.
fn first_difference(got: &Value, want: &Value, at: &str) -> Option<String> {
    match (got, want) {
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .find_map(|(i, (g, w))| first_difference(g, w, &format!("{at}/{i}"))),
        (Value::Object(g), Value::Object(w)) if g.len() == w.len() => {
            w.iter().find_map(|(k, w)| match g.get(k) {
                Some(g) => first_difference(g, w, &format!("{at}/{k:?}")),
                None => Some(format!("{at}: key {k:?} missing")),
            })
        }
        _ if got == want => None,
        _ => Some(format!("{at}: got {got}, want {want}")),
    }
}

fn assert_same(got: &Value, want: &Value, what: &str) {
    if let Some(d) = first_difference(got, want, "") {
        panic!("{what}: differs at {d}");
    }
}

#[test]
fn random_json_values_survive_create_get_invoke_and_the_record_unchanged() {
    let owl = Owl::start();
    let c = owl.guest();
    // Forty invokes in a few seconds: past the default rate a controller allows.
    owl.set_guest_limits(
        &[("--invocations-per-minute", "invocationsPerMinute", 1000)],
        std::time::Duration::from_secs(5),
    );
    let double_only = owl.is_distributed();
    let seed = 0x0005_7A7E_5EED;
    let mut rng = Rng(seed);
    for case in 0..40 {
        let stored = rng.value(0, double_only);
        let sent = rng.value(0, double_only);
        let expected_stored: Value = serde_json::from_str(&stored).unwrap();
        let expected_sent: Value = serde_json::from_str(&sent).unwrap();
        let what = format!("case {case} of seed {seed:#x}: stored {stored} sent {sent}");
        let put = echo_action(
            &c,
            "roundtrip",
            &format!(r#"[{{"key": "v", "value": {stored}}}]"#),
        );
        assert_eq!(put.status, 200, "{what}: {}", put.text);
        assert_same(
            param(&put.body, "v"),
            &expected_stored,
            &format!("PUT answer, {what}"),
        );
        let got = c.get(&format!("{NS}/actions/roundtrip"));
        assert_same(
            param(&got.body, "v"),
            &expected_stored,
            &format!("GET, {what}"),
        );
        let ran = raw_json(
            &c,
            "POST",
            &format!("{NS}/actions/roundtrip?blocking=true"),
            &format!(r#"{{"s": {sent}}}"#),
        );
        assert_eq!(ran.status, 200, "{what}: {}", ran.text);
        let expected = json!({"v": expected_stored, "s": expected_sent});
        assert_same(
            &ran.body["response"]["result"],
            &expected,
            &format!("result, {what}"),
        );
        let record = c.record(ran.body["activationId"].as_str().unwrap());
        assert_same(
            &record["response"]["result"],
            &expected,
            &format!("record, {what}"),
        );
    }
}
