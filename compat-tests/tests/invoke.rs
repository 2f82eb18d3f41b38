//! Invoking actions end to end: the real `owl standalone`, its invoker, real containers of every
//! runtime image in a real Docker engine, and the requests `wsk` sends.

use std::time::{Duration, Instant};

use base64::Engine;
use owl_compat_tests::{Client, Owl, Response};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";

fn create(c: &Client, name: &str, exec: Value) -> Response {
    let r = c.put(
        &format!("{NS}/actions/{name}?overwrite=true"),
        &json!({"exec": exec}),
    );
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
    r
}

fn invoke(c: &Client, name: &str, query: &str, params: Value) -> Response {
    c.post(&format!("{NS}/actions/{name}?{query}"), &params)
}

/// `n` invokes of `name` at once, each from its own client.
fn invoke_together(owl: &Owl, name: &str, query: &str, n: usize) -> Vec<Response> {
    let base = owl.base.clone();
    (0..n)
        .map(|_| {
            let (base, name, query) = (base.clone(), name.to_string(), query.to_string());
            std::thread::spawn(move || {
                let c = Client::new(&base, Some(owl_compat_tests::GUEST_KEY));
                invoke(&c, &name, &query, json!({}))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect()
}

/// The stored record (written after the logs are collected), waited for up to 30 s.
fn record(c: &Client, id: &str) -> Value {
    c.record_within(id, Duration::from_secs(30))
}

fn annotation<'a>(a: &'a Value, key: &str) -> Option<&'a Value> {
    a["annotations"]
        .as_array()?
        .iter()
        .find(|x| x["key"] == key)
        .map(|x| &x["value"])
}

#[test]
fn hello_answers_in_every_runtime() {
    let owl = Owl::start();
    let c = owl.guest();
    let node = "function main(p) { return { greeting: 'Hello ' + p.name + ' from ' + process.version.split('.')[0] } }";
    let py = "import sys\ndef main(p):\n    return {'greeting': 'Hello %s from %d.%d' % (p['name'], sys.version_info[0], sys.version_info[1])}\n";
    let jar = base64::engine::general_purpose::STANDARD.encode(include_bytes!(
        "../../actions-runtime/tests/fixtures/java/actions.jar"
    ));
    let go = "package main\nimport \"runtime\"\nfunc Main(p map[string]interface{}) map[string]interface{} {\n  return map[string]interface{}{\"greeting\": \"Hello \" + p[\"name\"].(string) + \" from \" + runtime.Version()[:6]}\n}\n";
    let php = "<?php\nfunction main(array $p) : array { return ['greeting' => 'Hello ' . $p['name'] . ' from ' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION]; }\n";
    let ruby =
        "def main(p)\n  { 'greeting' => \"Hello #{p['name']} from #{RUBY_VERSION[0, 3]}\" }\nend\n";
    let java = "example.Hello";
    // `wsk` names `<family>:default` for a .js, .py, .jar, .go, .php or .rb file.
    for (kind, code, main, expect) in [
        ("nodejs:20", node, None, "Hello World from v20"),
        ("nodejs:18", node, None, "Hello World from v18"),
        ("nodejs:default", node, None, "Hello World from v20"),
        ("python:3.11", py, None, "Hello World from 3.11"),
        ("python:3.13", py, None, "Hello World from 3.13"),
        ("python:default", py, None, "Hello World from 3.11"),
        ("java:8", &jar, Some(java), "Hello World!"),
        ("java:default", &jar, Some(java), "Hello World!"),
        ("go:1.20", go, None, "Hello World from go1.24"),
        ("go:default", go, None, "Hello World from go1.24"),
        ("php:8.1", php, None, "Hello World from 8.2"),
        ("php:default", php, None, "Hello World from 8.2"),
        ("ruby:2.5", ruby, None, "Hello World from 3.1"),
        ("ruby:default", ruby, None, "Hello World from 3.1"),
    ] {
        let name = format!("hello-{}", kind.replace([':', '.'], "-"));
        let mut exec = json!({"kind": kind, "code": code});
        if let Some(m) = main {
            exec["main"] = json!(m);
        }
        create(&c, &name, exec);
        let r = invoke(
            &c,
            &name,
            "blocking=true&result=true",
            json!({"name": "World"}),
        );
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"greeting": expect})),
            "{kind}"
        );
    }
    let native = "#!/bin/sh\necho \"{\\\"greeting\\\": \\\"Hello from sh\\\"}\"\n";
    // An actionloop executable answers every run from one process: the count shows it.
    let actionloop = "#!/bin/sh\necho '{\"ok\":true}' >&3\nn=0\nwhile read -r line; do n=$((n+1)); echo \"{\\\"greeting\\\": \\\"Hello from sh\\\", \\\"runs\\\": $n}\" >&3; done\n";
    // `openwhisk/dockerskeleton` is what `wsk action create --native` sends.
    for (name, image, code, expect) in [
        (
            "native",
            "owl/dockerskeleton:latest",
            native,
            json!({"greeting": "Hello from sh"}),
        ),
        (
            "wsk-native",
            "openwhisk/dockerskeleton",
            native,
            json!({"greeting": "Hello from sh"}),
        ),
        (
            "actionloop",
            "openwhisk/actionloop-v2",
            actionloop,
            json!({"greeting": "Hello from sh", "runs": 1}),
        ),
    ] {
        create(
            &c,
            name,
            json!({"kind": "blackbox", "image": image, "code": code}),
        );
        let r = invoke(&c, name, "blocking=true&result=true", json!({}));
        assert_eq!((r.status, r.body), (200, expect), "{image}");
    }
    let again = invoke(&c, "actionloop", "blocking=true&result=true", json!({}));
    assert_eq!(
        (again.status, again.body),
        (200, json!({"greeting": "Hello from sh", "runs": 2}))
    );
}

#[test]
fn blocking_non_blocking_and_result_answers_have_upstreams_shapes() {
    let owl = Owl::start();
    let c = owl.guest();
    create(
        &c,
        "echo",
        json!({"kind": "nodejs:20", "code": "function main(p) { console.log('got', p.x); return p }"}),
    );
    let nb = invoke(&c, "echo", "blocking=false&result=false", json!({"x": 1}));
    assert_eq!(nb.status, 202);
    let id = nb.body["activationId"].as_str().unwrap().to_string();
    assert_eq!(nb.header("x-openwhisk-activation-id"), Some(id.as_str()));
    let stored = record(&c, &id);
    assert_eq!(stored["response"]["result"], json!({"x": 1}));
    assert!(
        stored["logs"][0]
            .as_str()
            .unwrap()
            .ends_with("stdout: got 1"),
        "{}",
        stored["logs"]
    );

    let b = invoke(&c, "echo", "blocking=true&result=false", json!({"x": 2}));
    assert_eq!(b.status, 200);
    assert_eq!(
        b.body["response"],
        json!({"result": {"x": 2}, "size": 7, "status": "success", "success": true})
    );
    assert_eq!(
        b.body["logs"],
        json!([]),
        "a blocking answer comes before the logs"
    );
    assert_eq!(
        b.header("x-openwhisk-activation-id"),
        b.body["activationId"].as_str()
    );
    assert!(
        annotation(&b.body, "initTime").is_none(),
        "the second run is warm"
    );
    assert_eq!(annotation(&b.body, "kind"), Some(&json!("nodejs:20")));
    assert_eq!(annotation(&b.body, "path"), Some(&json!("guest/echo")));

    let arr = c.put(
        &format!("{NS}/actions/arr"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main() { return [1, 2] }"}}),
    );
    assert_eq!(arr.status, 200);
    assert_eq!(
        invoke(&c, "arr", "blocking=true", json!({})).body,
        json!([1, 2]),
        "an array result comes bare"
    );

    let listed = c.get(&format!("{NS}/activations?name=echo&limit=30&skip=0"));
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
}

#[test]
fn errors_answer_502_with_the_activation_and_timeouts_say_so() {
    let owl = Owl::start();
    let c = owl.guest();
    create(
        &c,
        "apperr",
        json!({"kind": "python:3.11", "code": "def main(a):\n    raise ValueError('bad input')\n"}),
    );
    let r = invoke(&c, "apperr", "blocking=true", json!({}));
    assert_eq!(r.status, 502);
    assert_eq!(r.body["response"]["status"], "application error");
    assert_eq!(r.body["response"]["result"], json!({"error": "bad input"}));

    create(
        &c,
        "broken",
        json!({"kind": "nodejs:20", "code": "function main( {"}),
    );
    let r = invoke(&c, "broken", "blocking=true&result=true", json!({}));
    assert_eq!(r.status, 502);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("Initialization has failed due to: "),
        "{}",
        r.body
    );

    let slow = c.put(&format!("{NS}/actions/slow"), &json!({"exec": {"kind": "nodejs:20", "code": "function main() { return new Promise(() => {}) }"}, "limits": {"timeout": 3000}}));
    assert_eq!(slow.status, 200);
    let r = invoke(&c, "slow", "blocking=true", json!({}));
    assert_eq!(r.status, 502);
    assert_eq!(r.body["response"]["status"], "action developer error");
    assert_eq!(
        r.body["response"]["result"],
        json!({"error": "The action exceeded its time limits of 3000 milliseconds."})
    );
    assert_eq!(annotation(&r.body, "timeout"), Some(&json!(true)));
}

#[test]
fn an_action_over_its_memory_limit_is_stopped() {
    let owl = Owl::start();
    let c = owl.guest();
    let hog = "function main() { const keep = []; for (let i = 0; i < 64; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); return { kept: keep.length } }";
    let r = c.put(
        &format!("{NS}/actions/hog"),
        &json!({"exec": {"kind": "nodejs:20", "code": hog}, "limits": {"memory": 128}}),
    );
    assert_eq!(r.status, 200);
    let r = invoke(&c, "hog", "blocking=true&result=true", json!({}));
    assert_eq!(r.status, 502);
    assert_eq!(
        r.body,
        json!({"error": "The action exhausted its memory and was aborted."})
    );
}

#[test]
fn logs_are_cut_at_the_limit_with_a_notice() {
    let owl = Owl::start();
    let c = owl.guest();
    let chatty = "function main() { const line = 'x'.repeat(1023); for (let i = 0; i < 1500; i++) console.log(line); return {} }";
    let r = c.put(
        &format!("{NS}/actions/chatty"),
        &json!({"exec": {"kind": "nodejs:20", "code": chatty}, "limits": {"logs": 1}}),
    );
    assert_eq!(r.status, 200);
    let id = invoke(&c, "chatty", "blocking=false", json!({})).body["activationId"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = record(&c, &id)["logs"].as_array().unwrap().clone();
    assert_eq!(
        logs.len(),
        1048576 / 1023 + 1,
        "as many 1023-character lines as fit in 1 MB, then the notice"
    );
    assert!(logs.last().unwrap().as_str().unwrap().ends_with(
        "stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes."
    ));
}

#[test]
fn twenty_parallel_invocations_over_five_actions_are_each_recorded_once() {
    let owl = Owl::start();
    let c = owl.guest();
    for i in 0..5 {
        create(
            &c,
            &format!("a{i}"),
            json!({"kind": "python:3.11", "code": format!("def main(p):\n    return {{'action': {i}, 'n': p['n']}}\n")}),
        );
    }
    // Spread over the controllers, as a load balancer would (each applies its share of the
    // namespace's concurrency limit).
    let ids: Vec<String> = (0..20)
        .map(|n| {
            let base = owl.bases[n % owl.bases.len()].clone();
            std::thread::spawn(move || {
                let c = Client::new(&base, Some(owl_compat_tests::GUEST_KEY));
                let r = invoke(&c, &format!("a{}", n % 5), "blocking=true", json!({"n": n}));
                assert!(r.status == 200 || r.status == 202, "{}", r.text);
                r.body["activationId"].as_str().unwrap().to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for id in &ids {
        record(&c, id);
    }
    let all = c
        .get(&format!("{NS}/activations?docs=true&limit=200&skip=0"))
        .body;
    let stored: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["activationId"].as_str().unwrap())
        .collect();
    assert_eq!(stored.len(), 20);
    for id in &ids {
        assert_eq!(
            stored.iter().filter(|s| *s == id).count(),
            1,
            "{id} is recorded exactly once"
        );
    }
    let ns: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["response"]["result"]["n"].as_i64().unwrap())
        .collect();
    let mut sorted = ns.clone();
    sorted.sort();
    assert_eq!(sorted, (0..20).collect::<Vec<_>>());
}

#[test]
fn parameters_merge_package_binding_action_request_and_final_ones_are_locked() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/packages/p"), &json!({"parameters": [{"key": "a", "value": "package"}, {"key": "b", "value": "package"}, {"key": "c", "value": "package"}, {"key": "d", "value": "package"}]}));
    c.put(&format!("{NS}/packages/bound"), &json!({"binding": {"namespace": "_", "name": "p"}, "parameters": [{"key": "b", "value": "binding"}, {"key": "c", "value": "binding"}, {"key": "d", "value": "binding"}]}));
    let r = c.put(
        &format!("{NS}/actions/p/show"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"},
        "parameters": [{"key": "c", "value": "action"}, {"key": "d", "value": "action"}]}),
    );
    assert_eq!(r.status, 200);
    let r = c.post(
        &format!("{NS}/actions/bound/show?blocking=true&result=true"),
        &json!({"d": "request"}),
    );
    assert_eq!(
        r.body,
        json!({"a": "package", "b": "binding", "c": "action", "d": "request"})
    );
    let record = c.post(
        &format!("{NS}/actions/bound/show?blocking=true"),
        &json!({}),
    );
    assert_eq!(
        annotation(&record.body, "binding"),
        Some(&json!("guest/bound"))
    );
    assert_eq!(
        annotation(&record.body, "path"),
        Some(&json!("guest/p/show"))
    );

    c.put(&format!("{NS}/actions/locked"), &json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"},
        "parameters": [{"key": "fixed", "value": 1}, {"key": "open", "value": null}], "annotations": [{"key": "final", "value": true}]}));
    let r = c.post(
        &format!("{NS}/actions/locked?blocking=true"),
        &json!({"fixed": 2}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"],
        "Request defines parameters that are not allowed (e.g., reserved properties)."
    );
    let r = c.post(
        &format!("{NS}/actions/locked?blocking=true&result=true"),
        &json!({"open": 3}),
    );
    assert_eq!(r.body, json!({"fixed": 1, "open": 3}));
}

#[test]
fn zip_actions_run_from_their_archive() {
    let owl = Owl::start();
    let c = owl.guest();
    // A stored zip holding index.js (built here: an action's code is base64 zip bytes).
    let index = b"exports.main = () => ({ from: 'zip' })";
    let mut zip = Vec::new();
    let crc = crc32(index);
    let name = b"index.js";
    let local = [
        &0x04034b50u32.to_le_bytes()[..],
        &20u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &crc.to_le_bytes(),
        &(index.len() as u32).to_le_bytes(),
        &(index.len() as u32).to_le_bytes(),
        &(name.len() as u16).to_le_bytes(),
        &0u16.to_le_bytes(),
    ]
    .concat();
    zip.extend_from_slice(&local);
    zip.extend_from_slice(name);
    zip.extend_from_slice(index);
    let central_offset = zip.len() as u32;
    let central = [
        &0x02014b50u32.to_le_bytes()[..],
        &20u16.to_le_bytes(),
        &20u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &crc.to_le_bytes(),
        &(index.len() as u32).to_le_bytes(),
        &(index.len() as u32).to_le_bytes(),
        &(name.len() as u16).to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u32.to_le_bytes(),
        &0u32.to_le_bytes(),
    ]
    .concat();
    zip.extend_from_slice(&central);
    zip.extend_from_slice(name);
    let central_len = zip.len() as u32 - central_offset;
    let end = [
        &0x06054b50u32.to_le_bytes()[..],
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &central_len.to_le_bytes(),
        &central_offset.to_le_bytes(),
        &0u16.to_le_bytes(),
    ]
    .concat();
    zip.extend_from_slice(&end);
    let code = base64::engine::general_purpose::STANDARD.encode(&zip);
    let created = create(&c, "zipped", json!({"kind": "nodejs:20", "code": code}));
    assert_eq!(created.body["exec"]["binary"], true);
    let r = invoke(&c, "zipped", "blocking=true&result=true", json!({}));
    assert_eq!((r.status, r.body), (200, json!({"from": "zip"})));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn idle_containers_are_paused_and_resumed_on_the_next_request() {
    let owl = Owl::start_with(&["--no-prewarm", "--pause-grace", "1"]);
    let c = owl.guest();
    create(
        &c,
        "napper",
        json!({"kind": "python:3.11", "code": "def main(p):\n    return {'ok': True}\n"}),
    );
    assert_eq!(
        invoke(&c, "napper", "blocking=true&result=true", json!({})).status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !owl.containers().iter().any(|c| c.ends_with("paused")) {
        assert!(
            Instant::now() < deadline,
            "the idle container was never paused: {:?}",
            owl.containers()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = invoke(&c, "napper", "blocking=true", json!({}));
    assert_eq!(r.status, 200);
    assert!(
        annotation(&r.body, "initTime").is_none(),
        "the paused container was resumed, not replaced"
    );
    assert_eq!(owl.containers().len(), 1, "{:?}", owl.containers());
}

#[test]
fn prewarmed_containers_serve_the_first_request_of_the_default_kind() {
    let owl = Owl::start_with_one_invoker(&[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while owl
        .containers()
        .iter()
        .filter(|c| c.contains("prewarm"))
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "no stem cells started: {:?}",
            owl.containers()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = owl.guest();
    create(
        &c,
        "quick",
        json!({"kind": "nodejs:default", "code": "function main() { return { ok: true } }"}),
    );
    let r = invoke(&c, "quick", "blocking=true", json!({}));
    assert_eq!(r.status, 200);
    assert!(
        annotation(&r.body, "initTime").is_some(),
        "a stem cell still needs /init"
    );
    let names = owl.containers();
    assert!(
        !names.iter().any(|n| n.contains("quick")),
        "no container was created for the action: {names:?}"
    );
}

#[test]
fn containers_left_by_a_crash_are_removed_when_owl_starts_again() {
    let mut owl = Owl::start();
    let c = owl.guest();
    create(
        &c,
        "leftover",
        json!({"kind": "python:3.11", "code": "def main(p):\n    return {}\n"}),
    );
    assert_eq!(
        invoke(&c, "leftover", "blocking=true", json!({})).status,
        200
    );
    assert_eq!(owl.containers().len(), 1);
    owl.crash_and_restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !owl.containers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "leftovers remain: {:?}",
            owl.containers()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        invoke(
            &owl.guest(),
            "leftover",
            "blocking=true&result=true",
            json!({})
        )
        .status,
        200
    );
}

#[test]
fn a_namespace_over_its_rate_is_refused_with_429() {
    let owl = Owl::start();
    let out = owl
        .admin_command()
        .args([
            "namespace",
            "set-limits",
            "guest",
            "--invocations-per-minute",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = owl.guest();
    // The new limit reaches every controller within a second (at once in standalone).
    let deadline = Instant::now() + Duration::from_secs(2);
    while c.get("/api/v1/namespaces/_/limits").body["invocationsPerMinute"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the limit is not seen within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    create(
        &c,
        "any",
        json!({"kind": "nodejs:20", "code": "function main() { return {} }"}),
    );
    let r = invoke(&c, "any", "blocking=true", json!({}));
    assert_eq!(r.status, 429);
    assert_eq!(
        r.body["error"],
        "Too many requests in the last minute (count: 1, allowed: 0)."
    );
}

#[test]
fn when_memory_is_spent_a_request_waits_and_an_idle_container_makes_room() {
    // Room for one 256 MB container only.
    let owl = Owl::start_with_one_invoker(&["--no-prewarm", "--user-memory", "256"]);
    let c = owl.guest();
    let slow =
        "function main() { return new Promise(r => setTimeout(() => r({ who: 'slow' }), 1500)) }";
    create(&c, "first", json!({"kind": "nodejs:20", "code": slow}));
    create(
        &c,
        "second",
        json!({"kind": "nodejs:20", "code": "function main() { return { who: 'second' } }"}),
    );
    let started = invoke(&c, "first", "blocking=false", json!({}));
    assert_eq!(started.status, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while owl.containers().is_empty() {
        assert!(Instant::now() < deadline, "first never got a container");
        std::thread::sleep(Duration::from_millis(20));
    }
    // `second` cannot start until `first` is done; then first's idle container is removed for it.
    let r = invoke(&c, "second", "blocking=true&result=true", json!({}));
    assert_eq!((r.status, r.body), (200, json!({"who": "second"})));
    let first = record(&c, started.body["activationId"].as_str().unwrap());
    assert_eq!(
        first["response"]["result"],
        json!({"who": "slow"}),
        "the waiting request did not fail the running one"
    );
    let names = owl.containers();
    assert_eq!(
        names.len(),
        1,
        "the idle container was evicted to make room: {names:?}"
    );
    assert!(names[0].contains("second"), "{names:?}");
}

#[test]
fn idle_containers_are_removed_after_the_idle_timeout() {
    let owl = Owl::start_with(&["--no-prewarm", "--idle-timeout", "2", "--pause-grace", "60"]);
    let c = owl.guest();
    create(
        &c,
        "brief",
        json!({"kind": "python:3.11", "code": "def main(p):\n    return {}\n"}),
    );
    assert_eq!(invoke(&c, "brief", "blocking=true", json!({})).status, 200);
    assert_eq!(owl.containers().len(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !owl.containers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the idle container was never removed: {:?}",
            owl.containers()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_action_allowed_concurrency_runs_overlapping_activations_in_one_container() {
    let owl = Owl::start_with(&["--no-prewarm", "--max-action-concurrency", "3"]);
    let c = owl.guest();
    let limits = c.get(&format!("{NS}/limits"));
    assert_eq!(
        limits.body["maxActionConcurrency"],
        json!(3),
        "{}",
        limits.text
    );
    // Each run waits (20 s at most) until three have been inside at once, and says how many it saw
    // and which container it ran in.
    let code = "let inside = 0, peak = 0;
        function main() {
          inside++; peak = Math.max(peak, inside); console.log('inside', inside);
          return new Promise((resolve) => {
            const t0 = Date.now();
            const check = () => (peak >= 3 || Date.now() - t0 > 20000)
              ? resolve({ seen: peak, host: require('os').hostname() }) : setTimeout(check, 5);
            check();
          }).finally(() => inside--);
        }";
    let r = c.put(
        &format!("{NS}/actions/together?overwrite=true"),
        &json!({"exec": {"kind": "nodejs:20", "code": code}, "limits": {"concurrency": 3}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["limits"]["concurrency"], json!(3));
    let answers = invoke_together(&owl, "together", "blocking=true", 3);
    let host = answers[0].body["response"]["result"]["host"].clone();
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.body["response"]["result"]["seen"], json!(3), "{}", a.text);
        assert_eq!(
            a.body["response"]["result"]["host"], host,
            "one container ran all three"
        );
    }
    // One of them started the container; the others waited for its /init and ran beside it.
    let cold = answers
        .iter()
        .filter(|a| annotation(&a.body, "initTime").is_some())
        .count();
    assert_eq!(cold, 1);
    assert_eq!(owl.containers().len(), 1, "{:?}", owl.containers());
    // Lines of overlapping runs cannot be told apart: none are recorded, as upstream.
    let id = answers[0].body["activationId"].as_str().unwrap();
    assert_eq!(record(&c, id)["logs"], json!([]));
    // Past the operator's maximum, the limit is refused with upstream's words.
    let over = c.put(
        &format!("{NS}/actions/too-many?overwrite=true"),
        &json!({"exec": {"kind": "nodejs:20", "code": code}, "limits": {"concurrency": 4}}),
    );
    assert_eq!(over.status, 400);
    assert_eq!(
        over.body["error"],
        json!("requirement failed: concurrency 4 exceeds allowed threshold of 3")
    );
}

#[test]
fn back_to_back_activations_in_one_container_each_get_their_own_log_lines() {
    let owl = Owl::start_with(&["--no-prewarm"]);
    let c = owl.guest();
    create(
        &c,
        "chatty",
        json!({"kind": "nodejs:20", "code": "function main(p) { console.log('out', p.n); console.error('err', p.n); return { n: p.n } }"}),
    );
    let ids: Vec<String> = (0..10)
        .map(|n| {
            let r = invoke(&c, "chatty", "blocking=true", json!({"n": n}));
            assert_eq!(r.status, 200, "{}", r.text);
            r.body["activationId"].as_str().unwrap().to_string()
        })
        .collect();
    for (n, id) in ids.iter().enumerate() {
        let logs = record(&c, id)["logs"].clone();
        let lines: Vec<&str> = logs
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        // Two pipes: their lines come in either order.
        assert_eq!(lines.len(), 2, "{lines:?}");
        for want in [format!("stdout: out {n}"), format!("stderr: err {n}")] {
            assert!(
                lines.iter().any(|l| l.ends_with(&want)),
                "{want} in {lines:?}"
            );
        }
    }
    // The container went back to the pool as soon as it answered: one served all ten.
    assert_eq!(owl.containers().len(), 1, "{:?}", owl.containers());
}

#[test]
fn containers_are_reached_through_a_published_port_when_asked() {
    let owl = Owl::start_with(&["--no-prewarm", "--container-address", "published"]);
    let c = owl.guest();
    create(
        &c,
        "hello",
        json!({"kind": "python:3.11", "code": "def main(p):\n    print('hi')\n    return {'ok': True}\n"}),
    );
    let r = invoke(&c, "hello", "blocking=true", json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["response"]["result"], json!({"ok": true}));
    let id = r.body["activationId"].as_str().unwrap();
    let logs = record(&c, id)["logs"].clone();
    assert!(logs[0].as_str().unwrap().ends_with("stdout: hi"), "{logs}");
}

#[test]
fn a_short_action_under_load_waits_for_its_busy_container_and_a_long_one_gets_another() {
    let owl = Owl::start_with_one_invoker(&["--no-prewarm"]);
    let c = owl.guest();
    create(
        &c,
        "short",
        json!({"kind": "nodejs:20", "code": "function main() { return { ok: true } }"}),
    );
    // The pool learns how long the action keeps its container.
    for _ in 0..5 {
        assert_eq!(
            invoke(&c, "short", "blocking=true&result=true", json!({})).status,
            200
        );
    }
    // Up to one container per core runs it; past those, activations wait for them.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for r in invoke_together(&owl, "short", "blocking=true&result=true", cores + 4) {
        assert_eq!((r.status, &r.body), (200, &json!({"ok": true})));
    }
    let short = owl.containers().len();
    assert!(short <= cores, "{cores} cores: {:?}", owl.containers());

    let long =
        "function main() { return new Promise((r) => setTimeout(() => r({ ok: true }), 3000)) }";
    create(&c, "long", json!({"kind": "nodejs:20", "code": long}));
    assert_eq!(
        invoke(&c, "long", "blocking=true&result=true", json!({})).status,
        200
    );
    for r in invoke_together(&owl, "long", "blocking=true&result=true", cores + 1) {
        assert_eq!((r.status, &r.body), (200, &json!({"ok": true})));
    }
    // One more container than cores: waiting 3 s for one would have taken longer than starting.
    let long_ones = owl.containers().len() - short;
    assert_eq!(long_ones, cores + 1, "{:?}", owl.containers());
}
