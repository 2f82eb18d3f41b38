//! How activations end, as upstream records them: the blocking answer's whole body for results that
//! are arrays, actions that exit while they load, code without `main`, empty code, exceptions, and
//! results that are not results, in Node.js and Python containers of Owl's runtime images.
//!
//! The expected bodies are upstream's: the controller's answer (`Actions.scala` `doInvoke`), the
//! invoker's classification (`ActivationResult.scala` `processInitResponseContent`,
//! `processRunResponseContent`; `size` is the length of the container's answer) and the runtimes'
//! words (Node.js: `openwhisk-runtime-nodejs` `src/service.js`, `runner.js`; Python: the actionloop
//! proxy of `openwhisk-runtime-go` with `OW_LOG_INIT_ERROR` set, as the Python images set it, which
//! ends its JSON answers with a newline, and `lib/launcher.py`).

use owl_compat_tests::{Client, Owl, Response, blank};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";

fn create(c: &Client, name: &str, kind: &str, code: &str) {
    let r = c.put(
        &format!("{NS}/actions/{name}?overwrite=true"),
        &json!({"exec": {"kind": kind, "code": code}}),
    );
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
}

fn invoke(c: &Client, name: &str, query: &str) -> Response {
    c.post(&format!("{NS}/actions/{name}?{query}"), &json!({}))
}

/// `(status, body)` with volatile fields blanked, the wait and init times among them.
fn blanked(r: &Response) -> (u16, Value) {
    let mut body = blank(&r.body);
    if let Some(annotations) = body["annotations"].as_array_mut() {
        for a in annotations {
            if a["key"] == "waitTime" || a["key"] == "initTime" {
                a["value"] = json!("<volatile>");
            }
        }
    }
    (r.status, body)
}

/// The whole blocking answer of a cold activation of `name` (of `kind`) that ended with `response`.
fn activation(name: &str, kind: &str, response: Value) -> Value {
    json!({
        "activationId": "<volatile>",
        "annotations": [
            {"key": "path", "value": format!("guest/{name}")},
            {"key": "waitTime", "value": "<volatile>"},
            {"key": "kind", "value": kind},
            {"key": "limits", "value": {"concurrency": 1, "logs": 10, "memory": 256, "timeout": 60000}},
            {"key": "timeout", "value": false},
            {"key": "initTime", "value": "<volatile>"}
        ],
        "duration": "<volatile>",
        "end": "<volatile>",
        "logs": [],
        "name": name,
        "namespace": "guest",
        "publish": false,
        "response": response,
        "start": "<volatile>",
        "subject": "guest",
        "version": "0.0.1"
    })
}

fn developer_error(error: &str, size: Option<u64>) -> Value {
    let mut r =
        json!({"result": {"error": error}, "status": "action developer error", "success": false});
    if let Some(s) = size {
        r["size"] = json!(s);
    }
    r
}

const PYTHON_CANNOT_START: &str = "Cannot start action. Check logs for details.";
/// `{"error":"Cannot start action. Check logs for details."}` and a newline.
const PYTHON_CANNOT_START_SIZE: u64 = 57;

#[test]
fn a_blocking_invoke_of_an_array_result_answers_the_bare_array_with_or_without_result() {
    let owl = Owl::start();
    let c = owl.guest();
    for (kind, code, size) in [
        // `[1,{"k":"v"}]`, as Express writes it.
        ("nodejs:20", "function main() { return [1, {k: 'v'}] }", 13),
        // `[1, {"k": "v"}]` and the actionloop proxy's newline.
        (
            "python:3.11",
            "def main(a):\n    return [1, {'k': 'v'}]\n",
            16,
        ),
    ] {
        let name = format!("array-{}", kind.replace([':', '.'], "-"));
        create(&c, &name, kind, code);
        let plain = invoke(&c, &name, "blocking=true");
        assert_eq!(
            (plain.status, &plain.body),
            (200, &json!([1, {"k": "v"}])),
            "{kind}"
        );
        let id = plain.header("x-openwhisk-activation-id").unwrap();
        let stored = record(&c, id);
        assert_eq!(
            stored["response"],
            json!({"result": [1, {"k": "v"}], "size": size, "status": "success", "success": true}),
            "{kind}: the record keeps the array as its result"
        );
        let result = invoke(&c, &name, "blocking=true&result=true");
        assert_eq!(
            (result.status, result.body),
            (200, json!([1, {"k": "v"}])),
            "{kind}"
        );
    }
}

#[test]
fn an_action_whose_process_exits_while_it_loads_is_a_developer_error_in_its_runtimes_words() {
    let owl = Owl::start();
    let c = owl.guest();
    // Upstream's Node.js container dies with its process: the invoker finds the connection broken,
    // and the record has no size.
    create(&c, "node-exits", "nodejs:20", "process.exit(1)");
    assert_eq!(
        blanked(&invoke(&c, "node-exits", "blocking=true")),
        (
            502,
            activation(
                "node-exits",
                "nodejs:20",
                developer_error(
                    "The action did not initialize and exited unexpectedly.",
                    None
                )
            )
        )
    );
    // The actionloop proxy outlives the Python process and answers 502.
    create(
        &c,
        "python-exits",
        "python:3.11",
        "import sys\nsys.exit(1)\n",
    );
    assert_eq!(
        blanked(&invoke(&c, "python-exits", "blocking=true")),
        (
            502,
            activation(
                "python-exits",
                "python:3.11",
                developer_error(PYTHON_CANNOT_START, Some(PYTHON_CANNOT_START_SIZE))
            )
        )
    );
    let r = invoke(&c, "python-exits", "blocking=true&result=true");
    assert_eq!(
        (r.status, r.body),
        (502, json!({"error": PYTHON_CANNOT_START}))
    );
}

#[test]
fn code_without_main_fails_to_initialize_and_empty_code_is_refused_by_the_runtime() {
    let owl = Owl::start();
    let c = owl.guest();
    let node_no_main =
        "Initialization has failed due to: Action entrypoint 'main' is not a function.";
    for (name, kind, code, response) in [
        (
            "node-no-main",
            "nodejs:20",
            "function niam() { return {} }",
            // `{"error":"Initialization has failed due to: ..."}`
            developer_error(node_no_main, Some(89)),
        ),
        (
            "node-empty",
            "nodejs:20",
            "",
            // `{"error":"Missing main/no code to execute."}`
            developer_error("Missing main/no code to execute.", Some(44)),
        ),
        (
            "python-no-main",
            "python:3.11",
            "def niam(a):\n    return a\n",
            developer_error(PYTHON_CANNOT_START, Some(PYTHON_CANNOT_START_SIZE)),
        ),
        (
            "python-empty",
            "python:3.11",
            "",
            developer_error("Missing main/no code to execute.", Some(45)),
        ),
        (
            "python-syntax",
            "python:3.11",
            "def main(a)\n    return a\n",
            developer_error(
                "The action failed to generate or locate a binary. See logs for details.",
                Some(84),
            ),
        ),
    ] {
        create(&c, name, kind, code);
        assert_eq!(
            blanked(&invoke(&c, name, "blocking=true")),
            (502, activation(name, kind, response)),
            "{name}"
        );
    }
}

#[test]
fn a_python_main_that_raises_is_an_application_error_and_a_node_main_that_throws_a_developer_error()
{
    let owl = Owl::start();
    let c = owl.guest();
    create(
        &c,
        "python-raises",
        "python:3.11",
        "def main(a):\n    raise ValueError('bad input')\n",
    );
    assert_eq!(
        blanked(&invoke(&c, "python-raises", "blocking=true")),
        (
            502,
            activation(
                "python-raises",
                "python:3.11",
                // `{"error": "bad input"}` as json.dumps writes it, and a newline.
                json!({"result": {"error": "bad input"}, "size": 23, "status": "application error", "success": false})
            )
        )
    );
    let r = invoke(&c, "python-raises", "blocking=true&result=true");
    assert_eq!((r.status, r.body), (502, json!({"error": "bad input"})));

    create(
        &c,
        "node-throws",
        "nodejs:20",
        "function main() { throw new Error('boom') }",
    );
    assert_eq!(
        blanked(&invoke(&c, "node-throws", "blocking=true")),
        (
            502,
            activation(
                "node-throws",
                "nodejs:20",
                // `{"error":"An error has occurred: Error: boom"}`
                developer_error("An error has occurred: Error: boom", Some(46))
            )
        )
    );
}

#[test]
fn results_that_are_not_results_and_exits_while_running_are_developer_errors_in_each_runtimes_words()
 {
    let owl = Owl::start();
    let c = owl.guest();
    for (name, kind, code, response) in [
        (
            "node-string",
            "nodejs:20",
            "function main() { return 'text' }",
            developer_error("The action did not return a dictionary.", Some(51)),
        ),
        (
            // typeof null is 'object': Express answers 200 `null`, which the invoker refuses.
            "node-null",
            "nodejs:20",
            "function main() { return null }",
            developer_error(
                "The action did not produce a valid JSON or JSON Array response: null",
                Some(4),
            ),
        ),
        (
            "node-exit",
            "nodejs:20",
            "function main() { process.exit(2) }",
            developer_error(
                "The action did not produce a valid response and exited unexpectedly.",
                None,
            ),
        ),
        (
            "python-string",
            "python:3.11",
            "def main(a):\n    return 'text'\n",
            developer_error("The action did not return a dictionary or array.", Some(61)),
        ),
        (
            // Go's json.Unmarshal takes `null` for an empty map: the proxy answers 200 `null\n`.
            "python-none",
            "python:3.11",
            "def main(a):\n    return None\n",
            developer_error(
                "The action did not produce a valid JSON or JSON Array response: null\n",
                Some(5),
            ),
        ),
        (
            "python-exit",
            "python:3.11",
            "import sys\ndef main(a):\n    sys.exit(3)\n",
            // `{"error":"command exited"}` and a newline, answered with 400.
            developer_error("command exited", Some(27)),
        ),
    ] {
        create(&c, name, kind, code);
        assert_eq!(
            blanked(&invoke(&c, name, "blocking=true")),
            (502, activation(name, kind, response)),
            "{name}"
        );
    }
}

/// Polls for the stored record (written after the logs are collected).
fn record(c: &Client, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = c.get(&format!("{NS}/activations/{id}"));
        if r.status == 200 {
            return r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "activation {id} was never stored"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Java, Go, PHP and Ruby actions that cannot build, load or run end as developer errors in the
/// words of the runtime upstream runs for the language (Java's proxy, the actionloop proxy of the
/// Go and PHP images, Ruby's Rack application); the compiler's or the runtime's own message is in
/// the activation's logs, where upstream's images put it.
#[test]
fn java_go_php_and_ruby_failures_are_developer_errors_with_the_runtimes_own_message_in_the_logs() {
    use base64::Engine;
    let owl = Owl::start();
    let c = owl.guest();
    let jar = base64::engine::general_purpose::STANDARD.encode(include_bytes!(
        "../../actions-runtime/tests/fixtures/java/actions.jar"
    ));
    let r = c.put(
        &format!("{NS}/actions/java-no-class?overwrite=true"),
        &json!({"exec": {"kind": "java:8", "code": jar, "main": "example.Nope"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let go = "package main\nfunc Main(p map[string]interface{}) map[string]interface{} {\n  return nope\n}\n";
    create(&c, "go-broken", "go:1.20", go);
    let php = "<?php\nfunction main(array $a) : array { throw new Exception('boom in php'); }\n";
    create(&c, "php-throws", "php:8.1", php);
    create(&c, "ruby-syntax", "ruby:2.5", "def main(a\n");
    for (name, error, logged) in [
        (
            "java-no-class",
            "An error has occurred (see logs for details): java.lang.ClassNotFoundException: example.Nope",
            "ClassNotFoundException",
        ),
        (
            "go-broken",
            "The action failed to generate or locate a binary. See logs for details.",
            "undefined: nope",
        ),
        (
            "php-throws",
            "The action did not return a dictionary or array.",
            "boom in php",
        ),
        (
            "ruby-syntax",
            "Invalid Ruby Code: failed to parse the input code",
            "syntax error",
        ),
    ] {
        let r = invoke(&c, name, "blocking=true");
        assert_eq!(r.status, 502, "{name}: {}", r.text);
        assert_eq!(
            r.body["response"]["status"], "action developer error",
            "{name}: {}",
            r.text
        );
        assert_eq!(
            r.body["response"]["result"],
            json!({"error": error}),
            "{name}"
        );
        let id = r.body["activationId"].as_str().unwrap();
        let record = c.record_within(id, std::time::Duration::from_secs(30));
        let logs = record["logs"].to_string();
        assert!(logs.contains(logged), "{name}: {logs}");
    }
}
