//! The `/whisk.system` catalog end to end: the packages `utils` and `samples` that `owl standalone`
//! installs at its first start, seen and invoked as another namespace (`guest`) sees them, through
//! the real binary, its invoker and real containers.
//!
//! `countdown` and `helloPromises` call the API back from inside their container with the
//! `openwhisk` npm module and the caller's key; `curl` runs the `curl` program of the Node.js image.

use std::time::{Duration, Instant};

use owl_compat_tests::{Client, Owl, Response};
use serde_json::{Value, json};

/// The catalog's namespace, as another namespace names it.
const SYS: &str = "/api/v1/namespaces/whisk.system";
/// The caller's own namespace.
const OWN: &str = "/api/v1/namespaces/_";

/// A blocking invoke of `whisk.system/<action>` answering the result only.
fn result_of(c: &Client, action: &str, params: Value) -> Response {
    c.post(
        &format!("{SYS}/actions/{action}?blocking=true&result=true"),
        &params,
    )
}

/// A blocking invoke of `whisk.system/<action>` answering the whole activation.
fn activation_of(c: &Client, action: &str, params: Value) -> Response {
    let r = c.post(&format!("{SYS}/actions/{action}?blocking=true"), &params);
    assert_eq!(r.status, 200, "{action}: {}", r.text);
    r
}

/// Polls until `probe` answers something (the record is stored after its logs are read).
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The log lines of a stored activation of the caller, through `GET .../activations/{id}/logs`.
fn logs(c: &Client, id: &str) -> Vec<String> {
    eventually(&format!("activation {id} is stored"), || {
        (c.get(&format!("{OWN}/activations/{id}")).status == 200).then_some(())
    });
    let r = c.get(&format!("{OWN}/activations/{id}/logs"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["logs"]
        .as_array()
        .expect("logs is an array")
        .iter()
        .map(|l| l.as_str().expect("a log line is a string").to_string())
        .collect()
}

/// What a log line says, without its timestamp and stream: `<time> stdout: <text>`.
fn said(line: &str) -> &str {
    line.split_once("stdout: ").map_or(line, |(_, text)| text)
}

/// The items of a list, ordered by name (entities written at the same moment list in any order).
fn by_name(v: &Value) -> Vec<Value> {
    let mut items = v.as_array().expect("an array").clone();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    items
}

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v["annotations"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

/// Milliseconds since the epoch of an ISO 8601 time as `Date.toJSON` writes it
/// (`2016-03-22T00:59:55.961Z`), or `None` if it is not one.
fn iso_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z';
    if !shape {
        return None;
    }
    let n = |from: usize, to: usize| s[from..to].parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss, ms) = (n(11, 13)?, n(14, 16)?, n(17, 19)?, n(20, 23)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

#[test]
fn the_iso_parser_reads_upstreams_sample_date() {
    assert_eq!(iso_millis("1970-01-01T00:00:00.000Z"), Some(0));
    assert_eq!(
        iso_millis("2016-03-22T00:59:55.961Z"),
        Some(1_458_608_395_961)
    );
    assert_eq!(iso_millis("2016-03-22 00:59:55"), None);
}

#[test]
fn guest_sees_utils_and_samples_among_whisk_systems_published_packages() {
    let owl = Owl::start();
    let r = owl.guest().get(&format!("{SYS}/packages?limit=30&skip=0"));
    assert_eq!(r.status, 200, "{}", r.text);
    let packages: Vec<Value> = by_name(&r.body)
        .iter()
        .map(owl_compat_tests::blank)
        .collect();
    let summary = |name: &str, description: &str| {
        json!({
            "namespace": "whisk.system", "name": name, "version": "0.0.1", "publish": true,
            "annotations": [{"key": "description", "value": description}],
            "binding": false, "updated": "<volatile>"
        })
    };
    let catalog: Vec<Value> = packages
        .into_iter()
        .filter(|p| p["name"] == "samples" || p["name"] == "utils")
        .collect();
    assert_eq!(
        catalog,
        [
            summary(
                "samples",
                "A suite of simple actions to help you get started with OpenWhisk"
            ),
            summary("utils", "Building blocks that format and assemble data"),
        ]
    );
}

#[test]
fn guest_may_read_the_catalog_but_not_change_it() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = c.put(
        &format!("{SYS}/actions/utils/echo?overwrite=true"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main() { return {} }"}}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    let r = c.delete(&format!("{SYS}/packages/samples?force=true"));
    assert_eq!(r.status, 403, "{}", r.text);
    let r = c.get(&format!("{SYS}/actions/samples/greeting?code=false"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["exec"],
        json!({"kind": "nodejs:20", "binary": false})
    );
}

#[test]
fn an_unchanged_catalog_is_not_written_again_at_restart() {
    let mut owl = Owl::start();
    let before = owl.guest().get(&format!("{SYS}/packages/utils"));
    assert_eq!(before.status, 200, "{}", before.text);
    owl.restart();
    let after = owl.guest().get(&format!("{SYS}/packages/utils"));
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.body["version"], "0.0.1");
    assert_eq!(after.body["updated"], before.body["updated"]);
}

#[test]
fn the_utils_package_lists_its_actions_with_upstreams_annotations() {
    let owl = Owl::start();
    let r = owl.guest().get(&format!("{SYS}/packages/utils"));
    assert_eq!(r.status, 200, "{}", r.text);
    let mut body = owl_compat_tests::blank(&r.body);
    body["actions"] = Value::Array(by_name(&body["actions"]));
    assert_eq!(
        body,
        json!({
            "namespace": "whisk.system", "name": "utils", "version": "0.0.1", "publish": true,
            "binding": {}, "parameters": [],
            "annotations": [{"key": "description", "value": "Building blocks that format and assemble data"}],
            "updated": "<volatile>",
            "feeds": [],
            "actions": [
            {"name": "cat", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Concatenates input into a string"},
                {"key": "parameters", "value": [{"name": "lines", "required": true, "type": "array", "description": "An array of strings or numbers"}]},
                {"key": "sampleInput", "value": {"lines": [4, 2, 3]}},
                {"key": "sampleOutput", "value": {"lines": [4, 2, 3]}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "date", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Current date and time"},
                {"key": "sampleOutput", "value": {"date": "2016-03-22T00:59:55.961Z"}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "echo", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Returns the input"},
                {"key": "parameters", "value": [{"name": "payload", "required": false, "description": "Any JSON entity"}]},
                {"key": "sampleInput", "value": {"payload": "Five fuzzy felines"}},
                {"key": "sampleOutput", "value": {"payload": "Five fuzzy felines"}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "head", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Extract prefix of an array"},
                {"key": "parameters", "value": [{"name": "lines", "required": true, "type": "array", "description": "An array of strings"}, {"name": "num", "required": false, "type": "integer", "description": "The length of the prefix"}]},
                {"key": "sampleInput", "value": {"lines": [4, 2, 3], "num": 2}},
                {"key": "sampleOutput", "value": {"lines": [4, 2], "num": 2}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "hosturl", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Returns the URL to activate an action or trigger"},
                {"key": "parameters", "value": [{"name": "web", "type": "boolean", "description": "True for web actions"}, {"name": "ext", "type": "string", "description": "Extension for web action, one of .html, .http, .json, .text"}, {"name": "trigger", "type": "boolean", "description": "True to construct path for trigger instead of action."}, {"name": "path", "type": "string", "description": "The action name as just <action name> or <package name>/<action name>."}]},
                {"key": "sampleInput", "value": {"web": true, "path": "utils/echo"}},
                {"key": "sampleOutput", "value": {"url": "https://openwhisk.ng.bluemix.net/api/v1/experimental/web/guest/utils/echo.json"}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "namespace", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Returns namespace for the authorization key used to invoke this action"},
                {"key": "sampleOutput", "value": {"namespace": "guest"}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "smash", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Nests all properties under given property"},
                {"key": "parameters", "value": [{"name": "$fieldName", "required": true, "type": "string", "description": "Name of property to nest object under"}]},
                {"key": "sampleInput", "value": {"a": 1, "b": {"c": 2, "d": 3}, "$fieldName": "p"}},
                {"key": "sampleOutput", "value": {"p": {"a": 1, "b": {"c": 2, "d": 3}}}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "sort", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Sorts an array"},
                {"key": "parameters", "value": [{"name": "lines", "required": true, "type": "array", "description": "An array of strings"}]},
                {"key": "sampleInput", "value": {"lines": [4, 2, 3]}},
                {"key": "sampleOutput", "value": {"lines": [2, 3, 4], "length": 3}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]},
            {"name": "split", "version": "0.0.1", "annotations": [
                {"key": "description", "value": "Split a string into an array"},
                {"key": "parameters", "value": [{"name": "payload", "required": true, "description": "A string"}, {"name": "separator", "required": false, "description": "The character, or the regular expression, to use for splitting the string"}]},
                {"key": "sampleInput", "value": {"payload": "one,two,three", "separator": ","}},
                {"key": "sampleOutput", "value": {"lines": ["one", "two", "three"], "payload": "one,two,three"}},
                {"key": "provide-api-key", "value": false},
                {"key": "exec", "value": "nodejs:20"}
            ]}
            ]
        })
    );
}

#[test]
fn the_samples_package_lists_its_node_actions_and_which_get_the_callers_key() {
    let owl = Owl::start();
    let r = owl.guest().get(&format!("{SYS}/packages/samples"));
    assert_eq!(r.status, 200, "{}", r.text);
    let actions = by_name(&r.body["actions"]);
    let seen: Vec<(&str, &Value, &Value)> = actions
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                annotation(a, "provide-api-key").unwrap_or(&Value::Null),
                annotation(a, "exec").unwrap_or(&Value::Null),
            )
        })
        .collect();
    let (yes, no, node) = (json!(true), json!(false), json!("nodejs:20"));
    assert_eq!(
        seen,
        [
            ("countdown", &yes, &node),
            ("curl", &no, &node),
            ("greeting", &no, &node),
            ("helloPromises", &yes, &node),
            ("helloWorld", &no, &node),
            ("printParams", &no, &node),
            ("wordCount", &no, &node),
            ("wordCountAsync", &no, &node),
        ]
    );
    let greeting = &actions[2];
    assert_eq!(
        greeting["annotations"],
        json!([
            {"key": "description", "value": "Returns a friendly greeting"},
            {"key": "parameters", "value": [{"name": "name", "required": false}, {"name": "place", "required": false, "description": "The string to be included in the return value"}]},
            {"key": "sampleInput", "value": {"payload": "Cat", "place": "Narrowsburg"}},
            {"key": "sampleOutput", "value": {"payload": "Hello, Cat from Narrowsburg!"}},
            {"key": "sampleLogOutput", "value": "2016-03-22T01:07:08.384982272Z stdout: params: { place: 'Narrowsburg', payload: 'Cat' }"},
            {"key": "provide-api-key", "value": false},
            {"key": "exec", "value": "nodejs:20"}
        ])
    );
}

#[test]
fn every_utils_action_answers_as_upstreams_does() {
    let owl = Owl::start();
    let c = owl.guest();
    for (action, input, expected) in [
        (
            "echo",
            json!({"payload": "Five fuzzy felines"}),
            json!({"payload": "Five fuzzy felines"}),
        ),
        (
            "cat",
            json!({"lines": [4, 2, 3]}),
            json!({"lines": [4, 2, 3], "payload": "4\n2\n3"}),
        ),
        (
            "sort",
            json!({"lines": [4, 2, 10, 3]}),
            json!({"lines": [10, 2, 3, 4], "length": 4}),
        ),
        (
            "head",
            json!({"lines": [4, 2, 3], "num": 2}),
            json!({"lines": [4, 2], "num": 2}),
        ),
        (
            "head",
            json!({"lines": [4, 2, 3]}),
            json!({"lines": [4], "num": 1}),
        ),
        (
            "split",
            json!({"payload": "one,two,three", "separator": ","}),
            json!({"lines": ["one", "two", "three"], "payload": "one,two,three"}),
        ),
        (
            "split",
            json!({"payload": "one\ntwo\r\nthree"}),
            json!({"lines": ["one", "two", "three"], "payload": "one\ntwo\r\nthree"}),
        ),
        (
            "smash",
            json!({"a": 1, "b": {"c": 2, "d": 3}, "$fieldName": "p"}),
            json!({"p": {"a": 1, "b": {"c": 2, "d": 3}}}),
        ),
        ("namespace", json!({}), json!({"namespace": "guest"})),
    ] {
        let r = result_of(&c, &format!("utils/{action}"), input.clone());
        assert_eq!((r.status, &r.body), (200, &expected), "{action} {input}");
    }

    // smash without its field name is an application error: 502 with the error as the result.
    let r = result_of(&c, "utils/smash", json!({"a": 1}));
    assert_eq!(
        (r.status, r.body),
        (
            502,
            json!({"error": "Expected an argument '$fieldName' of type 'string'."})
        )
    );

    // date: the time of the run, as an ISO 8601 string, within the activation's own start and end
    // (the record and the container read the same clock; a second of slack for rounding).
    let a = activation_of(&c, "utils/date", json!({})).body;
    let result = &a["response"]["result"];
    assert_eq!(
        result
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect::<Vec<_>>()),
        Some(vec!["date"]),
        "{result}"
    );
    let date = iso_millis(result["date"].as_str().unwrap_or_default())
        .unwrap_or_else(|| panic!("not an ISO date: {result}"));
    let (start, end) = (a["start"].as_i64().unwrap(), a["end"].as_i64().unwrap());
    assert!(
        start - 1000 <= date && date <= end + 1000,
        "{date} not within {start}..{end}"
    );
    let id = a["activationId"].as_str().unwrap();
    let lines = logs(&c, id);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(said(&lines[0]).starts_with("It is now "), "{lines:?}");

    // hosturl: URLs on the API host the container was given, in the caller's namespace.
    let probe = c.put(
        &format!("{OWN}/actions/apihost"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main() { return { host: process.env.__OW_API_HOST } }"}}),
    );
    assert_eq!(probe.status, 200, "{}", probe.text);
    let r = c.post(
        &format!("{OWN}/actions/apihost?blocking=true&result=true"),
        &json!({}),
    );
    let host = r.body["host"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text))
        .to_string();
    for (input, url) in [
        (
            json!({"path": "utils/echo"}),
            format!("{host}/api/v1/namespaces/guest/actions/utils/echo"),
        ),
        (
            json!({"web": true, "path": "utils/echo", "ext": ".json"}),
            format!("{host}/api/v1/web/guest/utils/echo.json"),
        ),
        (
            json!({"web": true, "path": "hello"}),
            format!("{host}/api/v1/web/guest/default/hello"),
        ),
        (
            json!({"trigger": true, "path": "t"}),
            format!("{host}/api/v1/namespaces/guest/triggers/t"),
        ),
        (json!({}), format!("{host}/api/v1/namespaces/guest/actions")),
    ] {
        let r = result_of(&c, "utils/hosturl", input.clone());
        assert_eq!((r.status, r.body), (200, json!({"url": url})), "{input}");
    }
    let r = result_of(&c, "utils/hosturl", json!({"web": true, "trigger": true}));
    assert_eq!(
        (r.status, r.body),
        (
            502,
            json!({"error": "triggers are not allowed for web actions."})
        )
    );
}

#[test]
fn the_samples_actions_answer_and_log_as_upstreams_do() {
    let owl = Owl::start();
    let c = owl.guest();
    for (action, input, expected, log) in [
        (
            "greeting",
            json!({"payload": "Cat", "place": "Narrowsburg"}),
            json!({"payload": "Hello, Cat from Narrowsburg!"}),
            vec!["params: { payload: 'Cat', place: 'Narrowsburg' }"],
        ),
        (
            "greeting",
            json!({}),
            json!({"payload": "Hello, stranger from somewhere!"}),
            vec!["params: {}"],
        ),
        (
            "wordCount",
            json!({"payload": "Five fuzzy felines"}),
            json!({"count": 3}),
            vec!["The message 'Five fuzzy felines' has 3 words"],
        ),
        (
            "wordCountAsync",
            json!({"payload": "Five fuzzy felines"}),
            json!({"count": 3}),
            vec!["The message 'Five fuzzy felines' has 3 words"],
        ),
        (
            "printParams",
            json!({"x": 1, "b": 5, "z": 2}),
            json!({"params": {"b": 5, "x": 1, "z": 2}}),
            vec!["params.b: 5", " params.x: 1", " params.z: 2"],
        ),
    ] {
        let a = activation_of(&c, &format!("samples/{action}"), input.clone()).body;
        assert_eq!(a["response"]["result"], expected, "{action} {input}");
        let lines = logs(&c, a["activationId"].as_str().unwrap());
        let texts: Vec<&str> = lines.iter().map(|l| said(l)).collect();
        assert_eq!(texts, log, "{action} {input}");
    }

    // printParams answers its keys in alphabetical order, whatever the order they came in.
    let r = result_of(&c, "samples/printParams", json!({"x": 1, "b": 5, "z": 2}));
    let keys: Vec<&String> = r.body["params"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["b", "x", "z"]);
}

#[test]
fn hello_world_answers_nothing_and_logs_its_greeting() {
    let owl = Owl::start();
    let c = owl.guest();
    let a = activation_of(&c, "samples/helloWorld", json!({"payload": "Cat"})).body;
    assert_eq!(
        a["response"],
        json!({"result": {}, "size": 2, "status": "success", "success": true})
    );
    let lines = logs(&c, a["activationId"].as_str().unwrap());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with(" stdout: hello Cat!"), "{lines:?}");
}

#[test]
fn curl_answers_curls_own_error_for_a_closed_port() {
    let owl = Owl::start();
    let c = owl.guest();
    // Port 1 of the container's own loopback: nothing listens there, nothing leaves the container.
    let a = activation_of(&c, "samples/curl", json!({"payload": "127.0.0.1:1"})).body;
    let result = &a["response"]["result"];
    let msg = result["msg"].as_str().unwrap_or_else(|| panic!("{result}"));
    assert_eq!(result.as_object().unwrap().len(), 1, "{result}");
    assert!(
        msg.contains("curl: (7) Failed to connect to 127.0.0.1 port 1"),
        "curl's error text, not {msg:?}"
    );
    let lines = logs(&c, a["activationId"].as_str().unwrap());
    assert_eq!(
        lines.first().map(|l| said(l)),
        Some("Curl to 127.0.0.1:1"),
        "{lines:?}"
    );
}

#[test]
fn countdown_from_two_leaves_three_records_of_countdown() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = result_of(&c, "samples/countdown", json!({"n": 2}));
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.body["activationId"].as_str().unwrap_or_default();
    assert!(
        next.len() == 32 && next.chars().all(|ch| ch.is_ascii_hexdigit()),
        "countdown answers the activation it started: {}",
        r.text
    );
    let records = eventually("three records of countdown", || {
        let r = c.get(&format!(
            "{OWN}/activations?name=samples/countdown&docs=true&limit=30&skip=0"
        ));
        let all = r.body.as_array()?.clone();
        let done = all.len() >= 3 && all.iter().all(|a| a["response"]["status"] == "success");
        done.then_some(all)
    });
    assert_eq!(records.len(), 3);
    let mut said_lines: Vec<Vec<String>> = records
        .iter()
        .map(|a| {
            assert_eq!(a["name"], "countdown");
            a["logs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| said(l.as_str().unwrap()).to_string())
                .collect()
        })
        .collect();
    said_lines.sort();
    assert_eq!(
        said_lines,
        [vec!["0", "Happy New Year!"], vec!["1"], vec!["2"]]
    );
}

#[test]
fn hello_promises_answers_the_words_of_the_greeting_it_asked_for() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = result_of(
        &c,
        "samples/helloPromises",
        json!({"name": "Alice", "place": "Paris"}),
    );
    assert_eq!(
        (r.status, r.body),
        (200, json!({"lines": ["Hello,", "Alice", "from", "Paris!"]}))
    );
    // The greeting it asked for ran as the caller (its record is stored after its answer).
    let greetings = eventually("a record of the greeting", || {
        let r = c.get(&format!(
            "{OWN}/activations?name=samples/greeting&limit=30&skip=0"
        ));
        let all = r.body.as_array()?.clone();
        (!all.is_empty()).then_some(all)
    });
    assert_eq!(greetings.len(), 1, "{greetings:?}");
}
