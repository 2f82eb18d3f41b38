//! Sequences and conductor actions end to end, through the REST API as `wsk` drives them, against the
//! real `owl standalone` and real containers. The expectations are apache/openwhisk's: its system
//! tests (tests/src/test/scala/system/basic/WskSequenceTests.scala, WskConductorTests.scala), its
//! controller tests (SequenceApiTests.scala, ConductorsApiTests.scala) and the controller's code
//! (core/controller/.../actions/SequenceActions.scala, PrimitiveActions.scala) for what they leave
//! implicit.
//!
//! What both kinds of composition record, as upstream: `logs` holds the activation ids of what ran,
//! in order; every one of those records has `cause` = the composition's id and the annotation
//! `causedBy: "sequence"`; the composition's `duration` is the sum of theirs, and its `limits`
//! annotation carries the largest `memory` among them.

use std::collections::BTreeSet;
use std::time::Duration;

use owl_compat_tests::{Client, Owl, Response};
use serde_json::{Map, Value, json};

const NS: &str = "/api/v1/namespaces/_";
const V: &str = "<volatile>";

// ---------------------------------------------------------------------------------------------
// Actions used below: small inline sources, in both runtimes.
// ---------------------------------------------------------------------------------------------

/// Upper-cases `text` and notes the step (Node.js).
const UPPER: &str = "function main(p) { return { text: String(p.text).toUpperCase(), steps: (p.steps || []).concat('node') } }";
/// Appends `!` to `text` and notes the step (Python).
const EXCLAIM: &str = "def main(a):\n    return {'text': a['text'] + '!', 'steps': a.get('steps', []) + ['python']}\n";
/// Fails with an application error naming what it got (Python).
const FAIL: &str = "def main(a):\n    return {'error': 'bad step: ' + a.get('text', '')}\n";
/// Splits `payload` into lines and answers the bare array (Node.js, upstream's split-array.js).
const SPLIT_ARRAY: &str = "function main(msg) { return String(msg.payload).split(/\\r?\\n/) }";
/// Sorts the array it is given and answers it bare (Node.js, upstream's sort-array.js).
const SORT_ARRAY: &str = "function main(lines) { return (lines || []).slice().sort() }";
/// Never answers: its timeout ends it.
const STALL: &str = "function main() { return new Promise(() => {}) }";
/// Upstream's conductor.js: the action named by `action` runs next with `params` (plus the other
/// fields); `state` is handed to the next conductor run; errors are passed through.
const CONDUCTOR: &str = "function main(args) {
  if (args.error) return args
  const action = args.action, state = args.state, params = args.params
  delete args.action; delete args.state; delete args.params
  return { action, state, params: Object.assign(args, params) }
}";
/// Upstream's step.js, in Python.
const STEP: &str = "def main(a):\n    if 'n' not in a:\n        return {'error': 'missing parameter'}\n    return {'n': a['n'] + 1}\n";
/// Upstream's echo.js.
const ECHO: &str = "function main(params) { return params || {} }";

fn node(code: &str) -> Value {
    json!({"exec": {"kind": "nodejs:20", "code": code}})
}

fn python(code: &str) -> Value {
    json!({"exec": {"kind": "python:3.11", "code": code}})
}

fn sequence(components: &[&str]) -> Value {
    json!({"exec": {"kind": "sequence", "components": components}})
}

fn conductor(code: &str) -> Value {
    json!({"exec": {"kind": "nodejs:20", "code": code},
           "annotations": [{"key": "conductor", "value": true}]})
}

/// `PUT .../actions/{name}?overwrite=true`, which must succeed.
fn put(c: &Client, name: &str, body: Value) -> Response {
    let r = c.put(&format!("{NS}/actions/{name}?overwrite=true"), &body);
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
    r
}

fn invoke(c: &Client, name: &str, query: &str, params: Value) -> Response {
    c.post(&format!("{NS}/actions/{name}?{query}"), &params)
}

fn id_of(r: &Response) -> String {
    r.body["activationId"]
        .as_str()
        .unwrap_or_else(|| panic!("no activation id in {} {}", r.status, r.text))
        .to_string()
}

fn annotation<'a>(record: &'a Value, key: &str) -> Option<&'a Value> {
    record["annotations"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

/// A record's annotations as one object (each key once), `waitTime` blanked once checked to be a
/// non-negative number of milliseconds.
fn annotations(record: &Value) -> Value {
    let mut m = Map::new();
    for a in record["annotations"].as_array().expect("annotations") {
        let key = a["key"].as_str().expect("an annotation key").to_string();
        let mut value = a["value"].clone();
        if key == "waitTime" {
            assert!(value.as_i64().is_some_and(|w| w >= 0), "waitTime {value}");
            value = json!(V);
        }
        assert!(
            m.insert(key.clone(), value).is_none(),
            "{key} twice in {record}"
        );
    }
    Value::Object(m)
}

fn logs(record: &Value) -> Vec<String> {
    record["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("no logs in {record}"))
        .iter()
        .map(|l| l.as_str().expect("an activation id").to_string())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Upstream's checkSequenceLogsAndAnnotations / checkConductorLogsAndAnnotations: `record` lists
/// `n` activations, each caused by it and annotated `causedBy: "sequence"` with a `waitTime`; its
/// duration is the sum of theirs and its memory the largest of theirs. Answers their records.
fn assert_trace(c: &Client, record: &Value, n: usize) -> Vec<Value> {
    let id = record["activationId"].as_str().expect("an activation id");
    let ids = logs(record);
    assert_eq!(ids.len(), n, "{record}");
    let parts: Vec<Value> = ids.iter().map(|i| c.record(i)).collect();
    let (mut total, mut memory) = (0i64, 0i64);
    for p in &parts {
        assert_eq!(p["cause"], json!(id), "the cause of {p}");
        assert_eq!(annotation(p, "causedBy"), Some(&json!("sequence")), "{p}");
        assert!(annotation(p, "waitTime").is_some(), "{p}");
        total += p["duration"].as_i64().unwrap_or_else(|| panic!("{p}"));
        memory = memory.max(
            annotation(p, "limits").expect("limits")["memory"]
                .as_i64()
                .expect("memory"),
        );
    }
    assert_eq!(
        record["duration"],
        json!(total),
        "the sum of the steps' durations"
    );
    assert_eq!(
        annotation(record, "limits").expect("limits")["memory"],
        json!(memory),
        "the largest memory of the steps"
    );
    parts
}

fn names(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["name"].as_str().expect("a name"))
        .collect()
}

/// A record's fields, as upstream's activation JSON has them.
fn assert_record_fields(record: &Value, with_cause: bool) {
    let mut want: BTreeSet<String> = [
        "namespace",
        "name",
        "version",
        "subject",
        "activationId",
        "start",
        "end",
        "duration",
        "response",
        "logs",
        "annotations",
        "publish",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if with_cause {
        want.insert("cause".into());
    }
    assert_eq!(keys(record), want, "{record}");
}

fn without(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
    v
}

fn sequence_limits(memory: i64) -> Value {
    json!({"timeout": 60000, "memory": memory, "logs": 10, "concurrency": 1})
}

// ---------------------------------------------------------------------------------------------
// Sequences
// ---------------------------------------------------------------------------------------------

#[test]
fn a_sequence_of_a_node_and_a_python_step_passes_results_along_and_records_each_step() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "upper", node(UPPER));
    let mut exclaim = python(EXCLAIM);
    // More memory than the other steps: the sequence's `limits` shows the largest.
    exclaim["limits"] = json!({"memory": 320});
    put(&c, "exclaim", exclaim);
    let created = put(&c, "pipeline", sequence(&["/_/upper", "/_/exclaim"]));
    assert_eq!(
        created.body["exec"],
        json!({"kind": "sequence", "components": ["/guest/upper", "/guest/exclaim"]})
    );
    let want = json!({"text": "HELLO!", "steps": ["node", "python"]});

    let r = invoke(
        &c,
        "pipeline",
        "blocking=true&result=true",
        json!({"text": "hello"}),
    );
    assert_eq!((r.status, &r.body), (200, &want), "{}", r.text);

    // Blocking: the sequence's activation, whose `logs` already list the steps (the controller
    // made the record, as upstream's does).
    let r = invoke(&c, "pipeline", "blocking=true", json!({"text": "hello"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let id = id_of(&r);
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id.as_str()));
    assert_eq!(
        (&r.body["namespace"], &r.body["name"], &r.body["subject"]),
        (&json!("guest"), &json!("pipeline"), &json!("guest"))
    );
    assert_eq!(r.body["response"]["result"], want);
    assert_eq!(r.body["response"]["status"], "success");
    assert_eq!(logs(&r.body).len(), 2, "{}", r.text);

    let record = c.record(&id);
    assert_record_fields(&record, false);
    assert_eq!(record["logs"], r.body["logs"]);
    assert_eq!(
        annotations(&record),
        json!({"topmost": true, "path": "guest/pipeline", "kind": "sequence", "waitTime": V,
               "limits": sequence_limits(320)})
    );
    let steps = assert_trace(&c, &record, 2);
    assert_eq!(names(&steps), ["upper", "exclaim"]);
    assert_eq!(
        record["response"], steps[1]["response"],
        "the sequence's response is its last step's"
    );
    assert_eq!(
        steps[0]["response"]["result"],
        json!({"text": "HELLO", "steps": ["node"]})
    );

    // Non-blocking: 202 and the id; the record comes later, whole.
    let r = invoke(&c, "pipeline", "blocking=false", json!({"text": "later"}));
    assert_eq!(r.status, 202);
    let id = id_of(&r);
    assert_eq!(r.body, json!({"activationId": id}));
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id.as_str()));
    let record = c.record(&id);
    assert_eq!(
        record["response"]["result"],
        json!({"text": "LATER!", "steps": ["node", "python"]})
    );
    assert_trace(&c, &record, 2);

    // An `error` field in the payload the sequence starts with stops nothing (upstream: it is only
    // a step's result with `error` that ends a sequence).
    let r = invoke(
        &c,
        "pipeline",
        "blocking=true&result=true",
        json!({"text": "x", "error": "irrelevant error string"}),
    );
    assert_eq!(
        (r.status, r.body),
        (200, json!({"text": "X!", "steps": ["node", "python"]}))
    );

    // A rule runs the sequence with the trigger's parameters; that record has no cause.
    let t = c.put(
        &format!("{NS}/triggers/t?overwrite=false"),
        &json!({"name": "t", "parameters": [{"key": "text", "value": "fired"}]}),
    );
    assert_eq!(t.status, 200, "{}", t.text);
    let rule = c.put(
        &format!("{NS}/rules/r?overwrite=false"),
        &json!({"name": "r", "status": "", "trigger": "/_/t", "action": "/_/pipeline"}),
    );
    assert_eq!(rule.status, 200, "{}", rule.text);
    let fired = c.post(&format!("{NS}/triggers/t"), &json!({}));
    assert_eq!(fired.status, 202, "{}", fired.text);
    let trigger_record = c.record(&id_of(&fired));
    let entry: Value =
        serde_json::from_str(trigger_record["logs"][0].as_str().expect("a rule entry")).unwrap();
    let by_rule = c.record(entry["activationId"].as_str().expect("the sequence's id"));
    assert_eq!(by_rule["name"], "pipeline");
    assert_eq!(
        by_rule["response"]["result"],
        json!({"text": "FIRED!", "steps": ["node", "python"]})
    );
    assert!(by_rule.get("cause").is_none(), "{by_rule}");
    assert_eq!(annotation(&by_rule, "topmost"), Some(&json!(true)));
    assert_trace(&c, &by_rule, 2);
}

#[test]
fn a_sequence_stops_at_the_first_error_and_answers_with_it() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "upper", node(UPPER));
    put(&c, "fail", python(FAIL));
    put(&c, "exclaim", python(EXCLAIM));
    put(
        &c,
        "broken",
        sequence(&["/_/upper", "/_/fail", "/_/exclaim"]),
    );

    let r = invoke(&c, "broken", "blocking=true", json!({"text": "hello"}));
    assert_eq!(r.status, 502, "{}", r.text);
    assert!(
        r.body.get("code").is_none(),
        "the activation, not an error envelope: {}",
        r.text
    );
    assert_eq!(
        without(&r.body["response"], "size"),
        json!({"result": {"error": "bad step: HELLO"}, "status": "application error", "success": false})
    );
    let record = c.record(&id_of(&r));
    let steps = assert_trace(&c, &record, 2);
    assert_eq!(names(&steps), ["upper", "fail"], "exclaim never ran");
    assert_eq!(record["response"], steps[1]["response"]);
    let ran = c.get(&format!("{NS}/activations?name=exclaim&limit=30&skip=0"));
    assert_eq!(ran.body, json!([]), "exclaim never ran");

    let r = invoke(
        &c,
        "broken",
        "blocking=true&result=true",
        json!({"text": "again"}),
    );
    assert_eq!(
        (r.status, r.body),
        (502, json!({"error": "bad step: AGAIN"}))
    );

    // Upstream's "stop execution of a sequence (with no payload) on error": only the first runs.
    put(&c, "failfirst", sequence(&["/_/fail", "/_/exclaim"]));
    let r = c.raw(
        "POST",
        &format!("{NS}/actions/failfirst?blocking=true"),
        None,
        &[],
    );
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(r.body["response"]["result"], json!({"error": "bad step: "}));
    assert_eq!(r.body["response"]["status"], "application error");
    let steps = assert_trace(&c, &c.record(&id_of(&r)), 1);
    assert_eq!(names(&steps), ["fail"]);
}

#[test]
fn array_results_pass_from_step_to_step_and_come_back_bare() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "split-array", node(SPLIT_ARRAY));
    put(&c, "sort-array", node(SORT_ARRAY));
    put(&c, "lines", sequence(&["/_/split-array", "/_/sort-array"]));
    let sorted = json!(["aaa", "bbb", "ccc"]);

    // An array result comes bare, with or without result=true.
    let r = invoke(
        &c,
        "lines",
        "blocking=true",
        json!({"payload": "bbb\naaa\nccc"}),
    );
    assert_eq!((r.status, &r.body), (200, &sorted), "{}", r.text);
    let r = invoke(
        &c,
        "lines",
        "blocking=true&result=true",
        json!({"payload": "ccc\nbbb\naaa"}),
    );
    assert_eq!((r.status, &r.body), (200, &sorted), "{}", r.text);

    let r = invoke(
        &c,
        "lines",
        "blocking=false",
        json!({"payload": "bbb\nccc\naaa"}),
    );
    assert_eq!(r.status, 202);
    let record = c.record(&id_of(&r));
    assert_eq!(record["response"]["result"], sorted);
    assert!(record.get("cause").is_none());
    let steps = assert_trace(&c, &record, 2);
    assert_eq!(
        steps[0]["response"]["result"],
        json!(["bbb", "ccc", "aaa"]),
        "the first step's array went on as it was"
    );
}

#[test]
fn a_sequence_runs_catalog_actions_and_package_actions_through_a_binding() {
    let owl = Owl::start();
    let c = owl.guest();
    let ok = |r: Response| assert_eq!(r.status, 200, "{}", r.text);
    ok(c.put(
        &format!("{NS}/packages/tools"),
        &json!({"parameters": [{"key": "suffix", "value": "?"}]}),
    ));
    ok(c.put(
        &format!("{NS}/packages/mytools"),
        &json!({"binding": {"namespace": "_", "name": "tools"}, "parameters": [{"key": "suffix", "value": "!"}]}),
    ));
    put(
        &c,
        "tools/decorate",
        node("function main(p) { return { lines: p.lines.map((l) => l + p.suffix) } }"),
    );
    let created = put(
        &c,
        "catalogued",
        sequence(&[
            "/whisk.system/utils/split",
            "/_/mytools/decorate",
            "/whisk.system/utils/sort",
        ]),
    );
    assert_eq!(
        created.body["exec"]["components"],
        json!([
            "/whisk.system/utils/split",
            "/guest/mytools/decorate",
            "/whisk.system/utils/sort"
        ])
    );

    let r = invoke(
        &c,
        "catalogued",
        "blocking=true",
        json!({"payload": "b\na"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["response"]["result"],
        json!({"lines": ["a!", "b!"], "length": 2}),
        "the binding's parameter won over the package's"
    );
    let record = c.record(&id_of(&r));
    let steps = assert_trace(&c, &record, 3);
    let paths: Vec<&Value> = steps
        .iter()
        .map(|s| annotation(s, "path").expect("a path"))
        .collect();
    assert_eq!(
        paths,
        [
            &json!("whisk.system/utils/split"),
            &json!("guest/tools/decorate"),
            &json!("whisk.system/utils/sort")
        ]
    );
    assert!(
        steps.iter().all(|s| s["namespace"] == "guest"),
        "the steps run and are recorded in the caller's namespace"
    );
    assert_eq!(
        annotation(&steps[1], "binding"),
        Some(&json!("guest/mytools"))
    );
    assert_eq!(annotation(&steps[0], "binding"), None);

    // A sequence in the package, invoked through the binding (upstream's "contain a binding
    // annotation if invoked action is in a package binding"): the sequence and its step say so.
    put(&c, "tools/chain", sequence(&["/_/mytools/decorate"]));
    let r = invoke(
        &c,
        "mytools/chain",
        "blocking=true",
        json!({"lines": ["x"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["response"]["result"], json!({"lines": ["x!"]}));
    let record = c.record(&id_of(&r));
    assert_eq!(
        annotations(&record),
        json!({"topmost": true, "path": "guest/tools/chain", "kind": "sequence", "waitTime": V,
               "binding": "guest/mytools", "limits": sequence_limits(256)})
    );
    let steps = assert_trace(&c, &record, 1);
    assert_eq!(
        annotation(&steps[0], "binding"),
        Some(&json!("guest/mytools"))
    );
}

#[test]
fn nested_sequences_link_each_record_to_the_sequence_that_ran_it() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "upper", node(UPPER));
    put(&c, "exclaim", python(EXCLAIM));
    put(&c, "inner", sequence(&["/_/upper", "/_/exclaim"]));
    put(
        &c,
        "outer",
        sequence(&["/_/exclaim", "/_/inner", "/_/upper"]),
    );

    let r = invoke(&c, "outer", "blocking=true", json!({"text": "a"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["response"]["result"],
        json!({"text": "A!!", "steps": ["python", "node", "python", "node"]})
    );
    let outer = c.record(&id_of(&r));
    assert_record_fields(&outer, false);
    let steps = assert_trace(&c, &outer, 3);
    assert_eq!(names(&steps), ["exclaim", "inner", "upper"]);

    // The inner sequence is one step of the outer: caused by it, not topmost, with its own steps.
    let inner = &steps[1];
    assert_record_fields(inner, true);
    assert_eq!(
        annotations(inner),
        json!({"topmost": false, "path": "guest/inner", "kind": "sequence", "causedBy": "sequence",
               "waitTime": V, "limits": sequence_limits(256)})
    );
    let inner_steps = assert_trace(&c, inner, 2);
    assert_eq!(names(&inner_steps), ["upper", "exclaim"]);
    assert_eq!(
        inner["response"], inner_steps[1]["response"],
        "the inner sequence answers with its last step"
    );
}

#[test]
fn a_component_deleted_after_the_sequence_was_created_ends_it_with_upstreams_error() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "upper", node(UPPER));
    put(&c, "doomed", python(EXCLAIM));
    put(&c, "gap", sequence(&["/_/upper", "/_/doomed", "/_/upper"]));
    assert_eq!(c.delete(&format!("{NS}/actions/doomed")).status, 200);

    let r = invoke(&c, "gap", "blocking=true", json!({"text": "x"}));
    assert_eq!(r.status, 502, "{}", r.text);
    // As upstream's SequenceApiTests: an application error made by the controller (no `size`),
    // after the steps that did run.
    assert_eq!(
        r.body["response"],
        json!({"result": {"error": "Sequence component does not exist."},
               "status": "application error", "success": false})
    );
    let record = c.record(&id_of(&r));
    assert_eq!(record["response"], r.body["response"]);
    let steps = assert_trace(&c, &record, 1);
    assert_eq!(names(&steps), ["upper"]);

    let r = invoke(&c, "gap", "blocking=true&result=true", json!({"text": "x"}));
    assert_eq!(
        (r.status, r.body),
        (502, json!({"error": "Sequence component does not exist."}))
    );
}

#[test]
fn a_component_that_times_out_ends_the_sequence_with_its_timeout_error() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "upper", node(UPPER));
    let mut stall = node(STALL);
    stall["limits"] = json!({"timeout": 3000});
    put(&c, "stall", stall);
    put(&c, "exclaim", python(EXCLAIM));
    put(
        &c,
        "stuck",
        sequence(&["/_/upper", "/_/stall", "/_/exclaim"]),
    );

    let r = invoke(&c, "stuck", "blocking=true", json!({"text": "x"}));
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(r.body["response"]["status"], "action developer error");
    assert_eq!(
        r.body["response"]["result"],
        json!({"error": "The action exceeded its time limits of 3000 milliseconds."})
    );
    let record = c.record(&id_of(&r));
    let steps = assert_trace(&c, &record, 2);
    assert_eq!(names(&steps), ["upper", "stall"]);
    assert_eq!(annotation(&steps[1], "timeout"), Some(&json!(true)));
    assert_eq!(record["response"], steps[1]["response"]);
}

#[test]
fn a_sequence_grown_past_fifty_actions_after_it_was_created_stops_at_the_limit() {
    // Upstream's "replace atomic component in a sequence that is too long and report invoke error":
    // s = echo, x, echo with x = echo; then x becomes 50 echos (allowed on its own). s runs echo,
    // then 49 echos of x, where the count reaches 50: x fails, and s with it.
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "echo", node(ECHO));
    put(&c, "x", sequence(&["/_/echo"]));
    put(&c, "s", sequence(&["/_/echo", "/_/x", "/_/echo"]));
    let r = invoke(&c, "s", "blocking=true", json!({"payload": "p"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["response"]["result"], json!({"payload": "p"}));
    assert_trace(&c, &c.record(&id_of(&r)), 3);

    put(&c, "x", sequence(&["/_/echo"; 50]));
    let r = invoke(&c, "s", "blocking=true", json!({"payload": "p"}));
    assert!(r.status == 502 || r.status == 202, "{}", r.text);
    let s = c.record_within(&id_of(&r), Duration::from_secs(120));
    let too_long = json!({"result": {"error": "Too many actions in the sequence."},
                          "status": "application error", "success": false});
    assert_eq!(s["response"], too_long);
    let steps = assert_trace(&c, &s, 2);
    assert_eq!(names(&steps), ["echo", "x"]);
    let x = &steps[1];
    assert_eq!(x["response"], too_long);
    assert_eq!(
        logs(x).len(),
        49,
        "x ran 49 echos before the count reached 50"
    );
    assert_eq!(annotation(x, "topmost"), Some(&json!(false)));
}

#[test]
fn creating_a_sequence_with_missing_cyclic_forbidden_or_too_many_components_is_refused() {
    let owl = Owl::start();
    let c = owl.guest();
    let refused = |name: &str, body: Value, status: u16, message: &str| {
        let r = c.put(&format!("{NS}/actions/{name}"), &body);
        assert_eq!(
            r.blanked(),
            (status, json!({"error": message, "code": V})),
            "{name}"
        );
        assert_eq!(
            c.get(&format!("{NS}/actions/{name}")).status,
            404,
            "{name} was not stored"
        );
    };
    // Creating actions needs no container.
    put(&c, "a", node(ECHO));

    refused(
        "missing",
        sequence(&["/_/a", "/_/nope"]),
        400,
        "Sequence component does not exist.",
    );
    refused(
        "missing-package",
        sequence(&["/_/nopkg/a"]),
        400,
        "Sequence component does not exist.",
    );
    refused(
        "selfish",
        sequence(&["/_/a", "/_/selfish", "/_/a"]),
        400,
        "Sequence may not refer to itself.",
    );
    refused(
        "empty",
        sequence(&[]),
        400,
        "No component specified for the sequence.",
    );
    let fifty_one = vec!["/_/a"; 51];
    refused(
        "long",
        sequence(&fifty_one),
        400,
        "Too many actions in the sequence.",
    );
    let r = c.put(
        &format!("{NS}/actions/nocomponents"),
        &json!({"exec": {"kind": "sequence"}}),
    );
    assert_eq!(
        r.blanked(),
        (
            400,
            json!({"error": "The request content was malformed:\n'components' must be defined for sequence kind", "code": V})
        )
    );

    // Fifty is allowed; one more through a nested sequence is not (atomic actions are counted).
    let fifty = vec!["/_/a"; 50];
    put(&c, "fifty", sequence(&fifty));
    refused(
        "fifty-one",
        sequence(&["/_/fifty", "/_/a"]),
        400,
        "Too many actions in the sequence.",
    );

    // A cycle through other sequences is refused on update, and nothing changes.
    put(&c, "x", sequence(&["/_/a"]));
    put(&c, "y", sequence(&["/_/x"]));
    let r = c.put(
        &format!("{NS}/actions/x?overwrite=true"),
        &sequence(&["/_/a", "/_/y"]),
    );
    assert_eq!(
        r.blanked(),
        (
            400,
            json!({"error": "Sequence may not refer to itself.", "code": V})
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/actions/x")).body["exec"]["components"],
        json!(["/guest/a"])
    );

    // Another namespace's private actions cannot be components; its shared ones can.
    let alice = owl.client(&owl.admin(&["user", "create", "alice"]));
    let ok = |r: Response| assert_eq!(r.status, 200, "{}", r.text);
    ok(alice.put(&format!("{NS}/actions/hidden"), &node(ECHO)));
    ok(alice.put(&format!("{NS}/packages/private"), &json!({})));
    ok(alice.put(&format!("{NS}/actions/private/x"), &node(ECHO)));
    ok(alice.put(&format!("{NS}/packages/shared"), &json!({"publish": true})));
    ok(alice.put(&format!("{NS}/actions/shared/x"), &node(ECHO)));
    refused(
        "theirs",
        sequence(&["/alice/hidden"]),
        403,
        "The supplied authentication is not authorized to access 'alice/hidden'.",
    );
    refused(
        "theirs-private",
        sequence(&["/_/a", "/alice/private/x"]),
        403,
        "The supplied authentication is not authorized to access 'alice/private/x'.",
    );
    refused(
        "theirs-missing",
        sequence(&["/alice/nothere"]),
        403,
        "The supplied authentication is not authorized to access 'alice/nothere'.",
    );
    let shared = put(&c, "borrowed", sequence(&["/alice/shared/x", "/_/a"]));
    assert_eq!(
        shared.body["exec"]["components"],
        json!(["/alice/shared/x", "/guest/a"])
    );
}

#[test]
fn a_sequence_component_without_a_namespace_is_refused_as_malformed_content() {
    // Upstream's SequenceApiTests compare this whole message, "requirement failed: " included.
    let owl = Owl::start();
    let c = owl.guest();
    for overwrite in ["false", "true"] {
        let r = c.put(
            &format!("{NS}/actions/bare?overwrite={overwrite}"),
            &sequence(&["a", "b"]),
        );
        assert_eq!(
            r.blanked(),
            (
                400,
                json!({"error": "The request content was malformed:\nrequirement failed: The fully qualified name of the entity must contain at least the namespace and the name of the entity.", "code": V})
            )
        );
    }
}

#[test]
fn a_sequence_counts_once_against_the_invocation_rate() {
    let owl = Owl::start();
    let c = owl.guest();
    owl.set_guest_limits(
        &[("--invocations-per-minute", "invocationsPerMinute", 10)],
        Duration::from_secs(2),
    );
    put(&c, "step", python(STEP));
    // Eight steps: more than the rate allows a controller (10 x 1.2 / controllers), were they
    // counted one by one.
    put(&c, "eight", sequence(&["/_/step"; 8]));
    for start in [0, 100] {
        let r = invoke(
            &c,
            "eight",
            "blocking=true&result=true",
            json!({"n": start}),
        );
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"n": start + 8})),
            "{}",
            r.text
        );
    }
    // The limit holds for plain invokes all the same.
    let mut refused = None;
    for i in 0..15 {
        let r = invoke(&c, "step", "blocking=true&result=true", json!({"n": i}));
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let refused = refused.expect("the rate limit was never reached");
    assert!(
        refused.body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Too many requests in the last minute")),
        "{}",
        refused.text
    );
}

// ---------------------------------------------------------------------------------------------
// Conductor actions
// ---------------------------------------------------------------------------------------------

#[test]
fn a_conductor_without_a_next_action_ends_the_composition_with_its_own_result() {
    let owl = Owl::start();
    let c = owl.guest();
    let ok = |r: Response| assert_eq!(r.status, 200, "{}", r.text);
    ok(c.put(&format!("{NS}/packages/cp"), &json!({})));
    ok(c.put(
        &format!("{NS}/packages/cpb"),
        &json!({"binding": {"namespace": "_", "name": "cp"}}),
    ));
    put(&c, "cp/echo", conductor(ECHO));

    // A result without `action` or `params` is the composition's result, whole. The response is
    // made by the controller: no `size`, as upstream's.
    let r = invoke(
        &c,
        "cp/echo",
        "blocking=true",
        json!({"payload": "t", "state": "t"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["response"],
        json!({"result": {"payload": "t", "state": "t"}, "status": "success", "success": true})
    );
    assert_eq!(logs(&r.body).len(), 1, "{}", r.text);
    let record = c.record(&id_of(&r));
    assert_record_fields(&record, false);
    assert_eq!(record["name"], "echo");
    assert_eq!(
        annotations(&record),
        json!({"topmost": true, "path": "guest/cp/echo", "kind": "sequence", "conductor": true,
               "waitTime": V, "limits": sequence_limits(256)})
    );
    let runs = assert_trace(&c, &record, 1);
    assert_eq!(names(&runs), ["echo"]);
    assert_eq!(annotation(&runs[0], "path"), Some(&json!("guest/cp/echo")));
    assert_eq!(
        annotation(&runs[0], "conductor"),
        None,
        "the run itself is plain"
    );

    // An error result is the composition's error.
    let r = invoke(&c, "cp/echo", "blocking=true", json!({"error": "t"}));
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(
        r.body["response"],
        json!({"result": {"error": "t"}, "status": "application error", "success": false})
    );
    assert_trace(&c, &c.record(&id_of(&r)), 1);

    // `params` without `action` is unwrapped; the other fields are dropped.
    let r = invoke(
        &c,
        "cp/echo",
        "blocking=true&result=true",
        json!({"params": {"payload": "t"}, "result": "t", "state": "t"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"payload": "t"})));

    // Through a binding: the composition's record names it.
    let r = invoke(&c, "cpb/echo", "blocking=true", json!({"payload": "t"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let record = c.record(&id_of(&r));
    assert_eq!(annotation(&record, "binding"), Some(&json!("guest/cpb")));
    assert_eq!(annotation(&record, "conductor"), Some(&json!(true)));
    assert_trace(&c, &record, 1);

    // Non-blocking: 202, then the record.
    let r = invoke(&c, "cp/echo", "blocking=false", json!({"payload": "later"}));
    assert_eq!(r.status, 202);
    let record = c.record(&id_of(&r));
    assert_eq!(record["response"]["result"], json!({"payload": "later"}));
    assert_trace(&c, &record, 1);
}

#[test]
fn a_conductor_runs_its_steps_with_params_and_state_and_nests() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "conductor", conductor(CONDUCTOR));
    let mut step = python(STEP);
    // More memory than the conductor: the composition's `limits` shows the largest.
    step["limits"] = json!({"memory": 320});
    put(&c, "step", step);

    // conductor, step, conductor
    let r = invoke(
        &c,
        "conductor",
        "blocking=true",
        json!({"action": "step", "n": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["response"],
        json!({"result": {"n": 2}, "status": "success", "success": true})
    );
    assert_eq!(
        logs(&r.body).len(),
        3,
        "a blocking answer lists the runs: {}",
        r.text
    );
    let record = c.record(&id_of(&r));
    assert_eq!(
        annotations(&record),
        json!({"topmost": true, "path": "guest/conductor", "kind": "sequence", "conductor": true,
               "waitTime": V, "limits": sequence_limits(320)})
    );
    let runs = assert_trace(&c, &record, 3);
    assert_eq!(names(&runs), ["conductor", "step", "conductor"]);
    assert_eq!(runs[1]["response"]["result"], json!({"n": 2}));

    // A step's error goes back to the conductor, which passes it on.
    let r = invoke(&c, "conductor", "blocking=true", json!({"action": "step"}));
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(
        r.body["response"],
        json!({"result": {"error": "missing parameter"}, "status": "application error", "success": false})
    );
    assert_trace(&c, &c.record(&id_of(&r)), 3);

    // State reaches the next conductor run.
    let r = invoke(
        &c,
        "conductor",
        "blocking=true&result=true",
        json!({"action": "step", "state": {"witness": 42}, "n": 1}),
    );
    assert_eq!((r.status, r.body), (200, json!({"n": 2, "witness": 42})));

    // State naming a second step: conductor, step, conductor, step, conductor.
    let r = invoke(
        &c,
        "conductor",
        "blocking=true",
        json!({"action": "step", "state": {"action": "step"}, "n": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["response"]["result"], json!({"n": 3}));
    let runs = assert_trace(&c, &c.record(&id_of(&r)), 5);
    assert_eq!(
        names(&runs),
        ["conductor", "step", "conductor", "step", "conductor"]
    );

    // Names are resolved as upstream resolves them: fully qualified, or in the caller's namespace.
    for name in ["/_/step", "/guest/step"] {
        let r = invoke(
            &c,
            "conductor",
            "blocking=true&result=true",
            json!({"action": name, "n": 5}),
        );
        assert_eq!((r.status, &r.body), (200, &json!({"n": 6})), "{name}");
    }

    // A conductor as a step: its composition is one step of the outer one, with a record of its own.
    let r = invoke(
        &c,
        "conductor",
        "blocking=true",
        json!({"action": "conductor", "params": {"action": "step"}, "n": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["response"]["result"], json!({"n": 2}));
    let outer = c.record(&id_of(&r));
    let runs = assert_trace(&c, &outer, 3);
    assert_eq!(names(&runs), ["conductor", "conductor", "conductor"]);
    let nested = &runs[1];
    assert_eq!(
        annotations(nested),
        json!({"topmost": false, "path": "guest/conductor", "kind": "sequence", "conductor": true,
               "causedBy": "sequence", "waitTime": V, "limits": sequence_limits(320)})
    );
    assert_eq!(nested["response"]["result"], json!({"n": 2}));
    let inner = assert_trace(&c, nested, 3);
    assert_eq!(names(&inner), ["conductor", "step", "conductor"]);
}

#[test]
fn errors_in_a_composition_are_fed_back_to_the_conductor() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "conductor", conductor(CONDUCTOR));
    let alice = owl.client(&owl.admin(&["user", "create", "alice"]));
    let r = alice.put(&format!("{NS}/actions/hidden"), &node(ECHO));
    assert_eq!(r.status, 200, "{}", r.text);

    for (next, error) in [
        (
            json!("missingAction"),
            "Failed to resolve action with name 'guest/missingAction' during composition.",
        ),
        (
            json!("nopkg/nothing"),
            "Failed to resolve action with name 'guest/nopkg/nothing' during composition.",
        ),
        (
            json!("invalid#Action"),
            "Failed to parse action name from json value \"invalid#Action\" during composition.",
        ),
        (
            json!(42),
            "Failed to parse action name from json value 42 during composition.",
        ),
        (
            json!("/alice/hidden"),
            "Failed entitlement check for action with name 'alice/hidden' during composition.",
        ),
    ] {
        let r = invoke(
            &c,
            "conductor",
            "blocking=true",
            json!({"action": next, "payload": "t"}),
        );
        assert_eq!(r.status, 502, "{next}: {}", r.text);
        // The conductor got `{"error": ...}` and passed it on: its second run ended the composition.
        assert_eq!(
            r.body["response"],
            json!({"result": {"error": error}, "status": "application error", "success": false}),
            "{next}"
        );
        let runs = assert_trace(&c, &c.record(&id_of(&r)), 2);
        assert_eq!(names(&runs), ["conductor", "conductor"], "{next}");
        assert_eq!(
            runs[1]["response"]["result"],
            json!({"error": error}),
            "{next}"
        );
    }
}

#[test]
fn a_composition_runs_at_most_fifty_components() {
    let owl = Owl::start();
    let c = owl.guest();
    put(&c, "tiny", node("function main() { return {} }"));
    // Counts its runs in `state`, and asks for `tiny` until told there were too many.
    put(
        &c,
        "loop",
        conductor(
            "function main(p) {
               if (p.error) return { error: p.error, steps: p.steps }
               return { action: 'tiny', params: {}, state: { steps: (p.steps || 0) + 1 } }
             }",
        ),
    );
    let r = invoke(&c, "loop", "blocking=true", json!({}));
    assert!(r.status == 502 || r.status == 202, "{}", r.text);
    let record = c.record_within(&id_of(&r), Duration::from_secs(180));
    // 50 runs of `tiny`; the 51st conductor run asked for a 51st, which upstream refuses by feeding
    // the error to a 52nd conductor run (its state still counts 51).
    assert_eq!(
        record["response"],
        json!({"result": {"error": "Too many actions in the composition.", "steps": 51},
               "status": "application error", "success": false})
    );
    let ids = logs(&record);
    assert_eq!(
        ids.len(),
        52 + 50,
        "every conductor and component run is listed"
    );
    let first = c.record(&ids[0]);
    let second = c.record(&ids[1]);
    let last = c.record(ids.last().unwrap());
    assert_eq!(
        names(&[first, second, last.clone()]),
        ["loop", "tiny", "loop"]
    );
    assert_eq!(last["cause"], record["activationId"]);
}
