//! Actions calling Owl's API back: the `openwhisk` npm client every Node.js image carries, the
//! `__OW_API_HOST` a container reaches Owl at (Docker's bridge gateway, where `owl standalone` also
//! listens), and `__OW_API_KEY` given exactly when upstream gives it. Real containers, real server.

use owl_compat_tests::{Client, GUEST_KEY, Owl, Response};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";

fn create(c: &Client, name: &str, exec: Value, annotations: Value) -> Response {
    let r = c.put(
        &format!("{NS}/actions/{name}?overwrite=true"),
        &json!({"exec": exec, "annotations": annotations}),
    );
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
    r
}

fn node(name: &str, c: &Client, kind: &str, code: &str, annotations: Value) {
    create(c, name, json!({"kind": kind, "code": code}), annotations);
}

fn invoke_result(c: &Client, name: &str, params: Value) -> Value {
    let r = c.post(
        &format!("{NS}/actions/{name}?blocking=true&result=true"),
        &params,
    );
    assert_eq!(r.status, 200, "invoking {name}: {}", r.text);
    r.body
}

fn with_key() -> Value {
    json!([{"key": "provide-api-key", "value": true}])
}

const CALLEE: &str =
    "function main(p) { return { hello: p.name, node: process.version.split('.')[0] } }";

#[test]
fn an_action_given_its_key_invokes_another_through_the_openwhisk_client_on_every_nodejs_image() {
    let owl = Owl::start();
    let c = owl.guest();
    let caller = "const openwhisk = require('openwhisk');
async function main(p) {
  const ow = openwhisk();
  const got = await ow.actions.invoke({ name: p.callee, blocking: true, result: true, params: { name: p.name } });
  return { got, node: process.version.split('.')[0] };
}";
    for (kind, major) in [("nodejs:20", "v20"), ("nodejs:18", "v18")] {
        let suffix = kind.replace([':', '.'], "-");
        let (callee, name) = (format!("callee-{suffix}"), format!("caller-{suffix}"));
        node(&callee, &c, kind, CALLEE, json!([]));
        node(&name, &c, kind, caller, with_key());
        assert_eq!(
            invoke_result(&c, &name, json!({"callee": callee, "name": "World"})),
            json!({"got": {"hello": "World", "node": major}, "node": major}),
            "{kind}"
        );
    }
}

#[test]
fn an_action_invokes_another_without_waiting_and_the_activation_it_gets_runs() {
    let owl = Owl::start();
    let c = owl.guest();
    node("callee", &c, "nodejs:20", CALLEE, json!([]));
    let caller = "const openwhisk = require('openwhisk');
async function main(p) {
  const answer = await openwhisk().actions.invoke({ name: 'callee', params: { name: p.name } });
  return { answer };
}";
    node("fire", &c, "nodejs:20", caller, with_key());
    let out = invoke_result(&c, "fire", json!({"name": "later"}));
    let answer = out["answer"].as_object().expect("the client's answer");
    assert_eq!(
        answer.keys().collect::<Vec<_>>(),
        ["activationId"],
        "a non-blocking invoke answers only the activation id: {out}"
    );
    let id = answer["activationId"].as_str().unwrap();
    let stored = c.record(id);
    assert_eq!(stored["name"], "callee");
    assert_eq!(stored["response"]["success"], true);
    assert_eq!(
        stored["response"]["result"],
        json!({"hello": "later", "node": "v20"})
    );
}

#[test]
fn an_action_lists_the_activations_of_its_namespace() {
    let owl = Owl::start();
    let c = owl.guest();
    node("callee", &c, "nodejs:20", CALLEE, json!([]));
    let r = c.post(
        &format!("{NS}/actions/callee?blocking=true"),
        &json!({"name": "listed"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["activationId"].as_str().unwrap().to_string();
    c.record(&id);
    let lister = "const openwhisk = require('openwhisk');
async function main() {
  const list = await openwhisk().activations.list({ name: 'callee', limit: 10 });
  return { ids: list.map((a) => a.activationId), names: [...new Set(list.map((a) => a.name))] };
}";
    node("lister", &c, "nodejs:20", lister, with_key());
    let out = invoke_result(&c, "lister", json!({}));
    assert_eq!(out["names"], json!(["callee"]), "{out}");
    assert!(
        out["ids"].as_array().unwrap().contains(&json!(id)),
        "the listing {out} holds {id}"
    );
}

#[test]
fn an_action_without_the_annotation_gets_no_api_key_and_one_with_it_gets_its_callers() {
    let owl = Owl::start();
    let c = owl.guest();
    let env = "function main() {
  return { key: process.env.__OW_API_KEY || null, host: process.env.__OW_API_HOST || null,
           namespace: process.env.__OW_NAMESPACE };
}";
    let created = create(
        &c,
        "plain",
        json!({"kind": "nodejs:20", "code": env}),
        json!([]),
    );
    let annotations = created.body["annotations"].as_array().unwrap();
    assert!(
        annotations.contains(&json!({"key": "provide-api-key", "value": false})),
        "created actions get provide-api-key false: {annotations:?}"
    );
    node("keyed", &c, "nodejs:20", env, with_key());
    let port = owl.base.rsplit(':').next().unwrap().to_string();
    let plain = invoke_result(&c, "plain", json!({}));
    assert_eq!(plain["key"], Value::Null, "{plain}");
    assert_eq!(plain["namespace"], "guest");
    let host = plain["host"].as_str().expect("__OW_API_HOST is set");
    assert!(
        host.starts_with("http://") && host.ends_with(&format!(":{port}")),
        "__OW_API_HOST {host} names Owl's port {port}"
    );
    let keyed = invoke_result(&c, "keyed", json!({}));
    assert_eq!(keyed["key"], GUEST_KEY);
    assert_eq!(keyed["host"], host);
    // Without the key the client cannot even be made: it says so rather than calling anything.
    let keyless = "function main() {
  try { require('openwhisk')(); return { made: true }; } catch (e) { return { made: false, message: e.message }; }
}";
    node("keyless", &c, "nodejs:20", keyless, json!([]));
    let out = invoke_result(&c, "keyless", json!({}));
    assert_eq!(out["made"], false, "{out}");
}

#[test]
fn a_zip_action_requires_its_own_openwhisk_module_before_the_images_and_the_images_otherwise() {
    let owl = Owl::start();
    let c = owl.guest();
    let index: &[u8] = b"exports.main = () => ({ version: require('openwhisk/package.json').version, made: require('openwhisk')() })";
    let bundled = owl_compat_tests::zip_base64(&[
        ("index.js", index),
        (
            "node_modules/openwhisk/package.json",
            br#"{"name": "openwhisk", "version": "0.0.1-bundled", "main": "index.js"}"#,
        ),
        (
            "node_modules/openwhisk/index.js",
            b"module.exports = () => 'by the bundled module';",
        ),
    ]);
    create(
        &c,
        "bundled",
        json!({"kind": "nodejs:20", "code": bundled}),
        json!([]),
    );
    assert_eq!(
        invoke_result(&c, "bundled", json!({})),
        json!({"version": "0.0.1-bundled", "made": "by the bundled module"})
    );
    // A zip without it, and plain code, get the image's.
    let version = "exports.main = () => ({ version: require('openwhisk/package.json').version })";
    let unbundled = owl_compat_tests::zip_base64(&[("index.js", version.as_bytes())]);
    create(
        &c,
        "unbundled",
        json!({"kind": "nodejs:18", "code": unbundled}),
        json!([]),
    );
    let plain = "function main() { return { version: require('openwhisk/package.json').version } }";
    node("plain", &c, "nodejs:20", plain, json!([]));
    for name in ["unbundled", "plain"] {
        let out = invoke_result(&c, name, json!({}));
        let v = out["version"].as_str().unwrap_or_default();
        assert!(v.starts_with("3.21."), "{name}: {out}");
    }
}

/// A stored (uncompressed) zip of these files, base64 as an action's code.
#[test]
fn an_action_fires_a_trigger_whose_rule_runs_another_action() {
    let owl = Owl::start();
    let c = owl.guest();
    node(
        "target",
        &c,
        "nodejs:20",
        "function main(p) { return { got: p.from } }",
        json!([]),
    );
    let r = c.put(&format!("{NS}/triggers/bell"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c.put(
        &format!("{NS}/rules/ring"),
        &json!({"trigger": "/_/bell", "action": "/_/target"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    node(
        "ringer",
        &c,
        "nodejs:20",
        "const ow = require('openwhisk'); function main() { return ow().triggers.invoke({name: 'bell', params: {from: 'an action'}}) }",
        with_key(),
    );
    let fired = invoke_result(&c, "ringer", json!({}));
    let id = fired["activationId"]
        .as_str()
        .expect("the fire's activation id");
    let bell = c.record(id);
    assert_eq!(bell["name"], "bell");
    let line: Value = serde_json::from_str(bell["logs"][0].as_str().unwrap()).unwrap();
    assert_eq!(line["success"], true, "{line}");
    let run = c.record(line["activationId"].as_str().unwrap());
    assert_eq!(run["response"]["result"], json!({"got": "an action"}));
}

#[test]
fn an_action_that_floods_the_api_meets_its_callers_throttle() {
    let owl = Owl::start();
    let c = owl.guest();
    node(
        "quiet",
        &c,
        "nodejs:20",
        "function main() { return {} }",
        json!([]),
    );
    // 130 invokes in one go: past the default 60 per minute even if a minute begins among them.
    node(
        "flood",
        &c,
        "nodejs:20",
        "const ow = require('openwhisk'); async function main() { const codes = []; for (let i = 0; i < 130; i++) { try { await ow().actions.invoke({name: 'quiet'}); codes.push(202) } catch (e) { codes.push(e.statusCode) } } return { codes } }",
        with_key(),
    );
    let codes: Vec<u64> = invoke_result(&c, "flood", json!({}))["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert!(codes.contains(&429), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 202 || *c == 429), "{codes:?}");
}
