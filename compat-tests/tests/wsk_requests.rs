//! The requests the `wsk` CLI sends (spec 10), sent as it sends them, with whole responses compared
//! (status and JSON body, volatile fields blanked). Every response is also checked against the
//! swagger description by the client.

use owl_compat_tests::{Owl, WHISK_SYSTEM_KEY};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";
const V: &str = "<volatile>";

fn hello_put() -> Value {
    json!({"namespace": "_", "name": "hello",
           "exec": {"kind": "nodejs:default", "code": "function main(p) { return {greeting: 'hi ' + p.name} }"},
           "annotations": [{"key": "web-export", "value": true}],
           "parameters": [{"key": "name", "value": "World"}],
           "limits": {"timeout": 3000, "memory": 128}})
}

fn hello_stored(version: &str) -> Value {
    json!({"namespace": "guest", "name": "hello", "version": version, "publish": false,
           "exec": {"kind": "nodejs:20", "code": "function main(p) { return {greeting: 'hi ' + p.name} }", "binary": false},
           "parameters": [{"key": "name", "value": "World"}],
           "limits": {"timeout": 3000, "memory": 128, "logs": 10, "concurrency": 1},
           "annotations": [{"key": "web-export", "value": true}, {"key": "provide-api-key", "value": false},
                           {"key": "exec", "value": "nodejs:20"}],
           "updated": V})
}

#[test]
fn wsk_property_get_reads_the_namespace_list_and_the_api_info() {
    let owl = Owl::start();
    let ns = owl.guest().get("/api/v1/namespaces");
    assert_eq!(ns.blanked(), (200, json!(["guest"])));
    let info = owl.anonymous().get("/api/v1");
    assert_eq!(info.status, 200);
    assert_eq!(info.body["api_version"], "1.0.0");
    assert!(info.body["build"].is_string() && info.body["buildno"].is_string());
    assert_eq!(
        info.body["swagger_paths"],
        json!({"ui": "/docs", "api-docs": "/api-docs"})
    );
}

#[test]
fn wsk_action_create_answers_the_stored_action_with_defaults_and_system_annotations() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = c.put(&format!("{NS}/actions/hello?overwrite=false"), &hello_put());
    assert_eq!(r.blanked(), (200, hello_stored("0.0.1")));
    assert_eq!(
        c.get(&format!("{NS}/actions/hello?code=true")).blanked(),
        (200, hello_stored("0.0.1"))
    );
}

#[test]
fn creating_an_action_that_exists_without_overwrite_is_a_conflict() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/actions/hello?overwrite=false"), &hello_put());
    let r = c.put(&format!("{NS}/actions/hello?overwrite=false"), &hello_put());
    assert_eq!(
        r.blanked(),
        (409, json!({"error": "resource already exists", "code": V}))
    );
}

#[test]
fn wsk_action_update_merges_annotations_replaces_parameters_and_bumps_the_version() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/actions/hello?overwrite=false"), &hello_put());
    // `wsk action update hello -p other 1 -a note x` first reads the action without code.
    let meta = c.get(&format!("{NS}/actions/hello?code=false"));
    assert_eq!(meta.status, 200);
    assert_eq!(
        meta.body["exec"],
        json!({"kind": "nodejs:20", "binary": false})
    );
    let r = c.put(
        &format!("{NS}/actions/hello?overwrite=true"),
        &json!({"namespace": "_", "name": "hello", "parameters": [{"key": "other", "value": 1}],
                "annotations": [{"key": "note", "value": "x"}]}),
    );
    let mut expected = hello_stored("0.0.2");
    expected["parameters"] = json!([{"key": "other", "value": 1}]);
    expected["annotations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "note", "value": "x"}));
    assert_eq!(r.blanked(), (200, expected));
}

#[test]
fn wsk_action_list_and_delete_answer_summaries_and_the_deleted_action() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/actions/hello?overwrite=false"), &hello_put());
    let list = c.get(&format!("{NS}/actions?limit=30&skip=0"));
    assert_eq!(
        list.blanked(),
        (
            200,
            json!([{"namespace": "guest", "name": "hello", "version": "0.0.1", "publish": false,
            "annotations": hello_stored("0.0.1")["annotations"],
            "limits": {"timeout": 3000, "memory": 128, "logs": 10, "concurrency": 1},
            "exec": {"binary": false}, "updated": V}])
        )
    );
    assert_eq!(
        c.delete(&format!("{NS}/actions/hello")).blanked(),
        (200, hello_stored("0.0.1"))
    );
    let gone = c.get(&format!("{NS}/actions/hello?code=false"));
    assert_eq!(
        gone.blanked(),
        (
            404,
            json!({"error": "The requested resource does not exist.", "code": V})
        )
    );
}

#[test]
fn zip_actions_are_detected_as_binary_and_sequences_resolve_the_default_namespace() {
    let owl = Owl::start();
    let c = owl.guest();
    let zip = c.put(
        &format!("{NS}/actions/zipped?overwrite=false"),
        &json!({"exec": {"kind": "python:default", "code": "UEsDBBQAAAAIAA=="}}),
    );
    assert_eq!(zip.status, 200);
    assert_eq!(
        zip.body["exec"],
        json!({"kind": "python:3.10", "code": "UEsDBBQAAAAIAA==", "binary": true})
    );
    let seq = c.put(
        &format!("{NS}/actions/seq?overwrite=false"),
        &json!({"exec": {"kind": "sequence", "components": ["/_/zipped"]}}),
    );
    assert_eq!(seq.status, 200);
    assert_eq!(
        seq.body["exec"],
        json!({"kind": "sequence", "components": ["/guest/zipped"]})
    );
    assert_eq!(
        seq.body["parameters"],
        json!([{"key": "_actions", "value": ["/guest/zipped"]}])
    );
    let cyclic = c.put(
        &format!("{NS}/actions/seq?overwrite=true"),
        &json!({"exec": {"kind": "sequence", "components": ["/_/seq"]}}),
    );
    assert_eq!(
        cyclic.blanked(),
        (
            400,
            json!({"error": "Sequence may not refer to itself.", "code": V})
        )
    );
    let missing = c.put(
        &format!("{NS}/actions/seq2?overwrite=false"),
        &json!({"exec": {"kind": "sequence", "components": ["/_/nope"]}}),
    );
    assert_eq!(
        missing.blanked(),
        (
            400,
            json!({"error": "Sequence component does not exist.", "code": V})
        )
    );
    let blackbox = c.put(
        &format!("{NS}/actions/bb?overwrite=false"),
        &json!({"exec": {"kind": "blackbox", "image": "openwhisk/dockerskeleton"}}),
    );
    assert_eq!(
        blackbox.body["exec"],
        json!({"kind": "blackbox", "image": "openwhisk/dockerskeleton", "binary": false})
    );
}

#[test]
fn wsk_package_create_bind_get_and_list_work_with_trailing_slash_listing() {
    let owl = Owl::start();
    let c = owl.guest();
    let p = c.put(
        &format!("{NS}/packages/demo?overwrite=false"),
        &json!({"namespace": "_", "name": "demo", "parameters": [{"key": "a", "value": 1}]}),
    );
    assert_eq!(
        p.blanked(),
        (
            200,
            json!({"namespace": "guest", "name": "demo", "version": "0.0.1",
        "publish": false, "binding": {}, "parameters": [{"key": "a", "value": 1}], "annotations": [], "updated": V})
        )
    );
    assert_eq!(
        c.put(
            &format!("{NS}/actions/demo/hello?overwrite=false"),
            &hello_put()
        )
        .status,
        200
    );
    let b = c.put(&format!("{NS}/packages/mine?overwrite=false"),
        &json!({"binding": {"namespace": "_", "name": "demo"}, "parameters": [{"key": "b", "value": 2}]}));
    assert_eq!(
        b.blanked(),
        (
            200,
            json!({"namespace": "guest", "name": "mine", "version": "0.0.1", "publish": false,
        "binding": {"namespace": "guest", "name": "demo"}, "parameters": [{"key": "b", "value": 2}],
        "annotations": [{"key": "binding", "value": {"namespace": "guest", "name": "demo"}}], "updated": V})
        )
    );
    let got = c.get(&format!("{NS}/packages/mine"));
    assert_eq!(
        got.body["parameters"],
        json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    );
    assert_eq!(got.body["actions"][0]["name"], "hello");
    assert_eq!(got.body["feeds"], json!([]));
    let list = c.get(&format!("{NS}/packages?limit=30&skip=0"));
    let bindings: Vec<&Value> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["binding"])
        .collect();
    assert_eq!(
        bindings,
        [
            &json!({"namespace": "guest", "name": "demo"}),
            &json!(false)
        ]
    );
    for pkg in ["demo", "mine"] {
        let actions = c.get(&format!("{NS}/actions/{pkg}/?limit=30&skip=0"));
        assert_eq!(actions.status, 200);
        assert_eq!(
            actions.body[0]["namespace"], "guest/demo",
            "listing through {pkg}"
        );
    }
    let through = c.get(&format!("{NS}/actions/mine/hello?code=false"));
    assert_eq!(through.body["namespace"], "guest/demo");
    assert_eq!(
        through.body["parameters"],
        json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}, {"key": "name", "value": "World"}])
    );
    let in_binding = c.put(
        &format!("{NS}/actions/mine/other?overwrite=false"),
        &hello_put(),
    );
    assert_eq!(
        in_binding.blanked(),
        (
            400,
            json!({"error": "Operation not permitted on package binding.", "code": V})
        )
    );
}

#[test]
fn deleting_a_package_with_actions_needs_force() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/packages/demo"), &json!({}));
    c.put(&format!("{NS}/actions/demo/a"), &hello_put());
    let r = c.delete(&format!("{NS}/packages/demo"));
    assert_eq!(
        r.blanked(),
        (
            409,
            json!({"error": "Package not empty (contains 1 entity). Set force param or delete package contents.", "code": V})
        )
    );
    assert_eq!(
        c.delete(&format!("{NS}/packages/demo?force=true")).status,
        200
    );
    assert_eq!(c.get(&format!("{NS}/actions/demo/a")).status, 404);
}

#[test]
fn shared_packages_are_readable_and_bindable_across_namespaces_and_private_ones_are_not() {
    let owl = Owl::start();
    let system = owl.client(WHISK_SYSTEM_KEY);
    let sys = "/api/v1/namespaces/whisk.system";
    assert_eq!(
        system
            .put(
                &format!("{sys}/packages/shelf"),
                &json!({"publish": true, "parameters": [{"key": "p", "value": 0}]})
            )
            .status,
        200
    );
    assert_eq!(system.put(&format!("{sys}/actions/shelf/ring"), &json!({"exec": {"kind": "nodejs:20", "code": "x"}, "annotations": [{"key": "feed", "value": true}]})).status, 200);
    assert_eq!(
        system
            .put(&format!("{sys}/packages/secret"), &json!({}))
            .status,
        200
    );
    let guest = owl.guest();
    let listed = guest.get(&format!("{sys}/packages?limit=30&skip=0"));
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // The catalog's packages are public too; the private one is not listed.
    assert!(
        names.contains(&"shelf") && !names.contains(&"secret"),
        "{names:?}"
    );
    let got = guest.get(&format!("{sys}/packages/shelf"));
    assert_eq!(
        (got.status, &got.body["feeds"][0]["name"]),
        (200, &json!("ring"))
    );
    assert_eq!(
        guest
            .get(&format!("{sys}/actions/shelf/ring?code=false"))
            .status,
        200
    );
    let denied = guest.get(&format!("{sys}/packages/secret"));
    assert_eq!(
        denied.blanked(),
        (
            403,
            json!({"error": "The supplied authentication is not authorized to access 'whisk.system/secret'.", "code": V})
        )
    );
    let bind = guest.put(&format!("{NS}/packages/myAlarms?overwrite=false"),
        &json!({"binding": {"namespace": "whisk.system", "name": "shelf"}, "parameters": [{"key": "k", "value": "v"}]}));
    assert_eq!(bind.status, 200);
    let bad = guest.put(
        &format!("{NS}/packages/mySecret"),
        &json!({"binding": {"namespace": "whisk.system", "name": "secret"}}),
    );
    assert_eq!(bad.status, 403);
    let missing = guest.put(
        &format!("{NS}/packages/none"),
        &json!({"binding": {"namespace": "whisk.system", "name": "nope"}}),
    );
    assert_eq!(
        missing.blanked(),
        (
            400,
            json!({"error": "Binding references a package that does not exist.", "code": V})
        )
    );
    assert_eq!(
        guest.put(&format!("{sys}/actions/x"), &hello_put()).status,
        403
    );
    assert_eq!(guest.get(&format!("{sys}/triggers")).status, 403);
}

#[test]
fn wsk_trigger_and_rule_commands_keep_the_rule_status_in_the_trigger() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/actions/hello?overwrite=false"), &hello_put());
    let t = c.put(
        &format!("{NS}/triggers/t?overwrite=false"),
        &json!({"name": "t", "parameters": [{"key": "k", "value": "v"}]}),
    );
    assert_eq!(
        t.blanked(),
        (
            200,
            json!({"namespace": "guest", "name": "t", "version": "0.0.1", "publish": false,
        "parameters": [{"key": "k", "value": "v"}], "annotations": [], "limits": {}, "updated": V})
        )
    );
    let r = c.put(
        &format!("{NS}/rules/r?overwrite=false"),
        &json!({"name": "r", "status": "", "trigger": "/_/t", "action": "/_/hello"}),
    );
    let rule = |status: &str| {
        json!({"namespace": "guest", "name": "r", "version": "0.0.1", "publish": false, "annotations": [],
        "status": status, "trigger": {"path": "guest", "name": "t"}, "action": {"path": "guest", "name": "hello"}, "updated": V})
    };
    assert_eq!(r.blanked(), (200, rule("active")));
    let trig = c.get(&format!("{NS}/triggers/t"));
    assert_eq!(
        trig.body["rules"],
        json!({"guest/r": {"action": {"path": "guest", "name": "hello"}, "status": "active"}})
    );
    let off = c.post(
        &format!("{NS}/rules/r"),
        &json!({"status": "inactive", "trigger": null, "action": null}),
    );
    assert_eq!((off.status, off.text.as_str()), (200, "OK"));
    assert_eq!(
        c.get(&format!("{NS}/rules/r")).blanked(),
        (200, rule("inactive"))
    );
    let again = c.post(&format!("{NS}/rules/r"), &json!({"status": "inactive"}));
    assert_eq!(again.status, 200);
    let bad = c.post(&format!("{NS}/rules/r"), &json!({"status": "on"}));
    assert_eq!(
        bad.blanked(),
        (
            400,
            json!({"error": "The request content was malformed:\nrequirement failed: on is not a recognized rule state", "code": V})
        )
    );
    c.post(&format!("{NS}/rules/r"), &json!({"status": "active"}));
    let mut listed = rule("active");
    listed.as_object_mut().unwrap().remove("status");
    assert_eq!(
        c.get(&format!("{NS}/rules?limit=30&skip=0")).blanked(),
        (200, json!([listed]))
    );
    assert_eq!(
        c.delete(&format!("{NS}/rules/r")).blanked(),
        (200, rule("inactive"))
    );
    assert_eq!(c.get(&format!("{NS}/triggers/t")).body["rules"], json!({}));
    let fired = c.post(&format!("{NS}/triggers/t"), &json!({"k": "v"}));
    assert_eq!((fired.status, fired.text.as_str()), (204, ""));
}

#[test]
fn rules_need_an_existing_trigger_and_action() {
    let owl = Owl::start();
    let c = owl.guest();
    let none = c.put(&format!("{NS}/rules/r"), &json!({"trigger": "/_/t"}));
    assert_eq!(
        none.blanked(),
        (
            400,
            json!({"error": "rule requires a valid trigger and a valid action", "code": V})
        )
    );
    let t = c.put(
        &format!("{NS}/rules/r"),
        &json!({"trigger": "/_/t", "action": "/_/a"}),
    );
    assert_eq!(
        t.blanked(),
        (
            400,
            json!({"error": "trigger /guest/t does not exist", "code": V})
        )
    );
    c.put(&format!("{NS}/triggers/t"), &json!({}));
    let a = c.put(
        &format!("{NS}/rules/r"),
        &json!({"trigger": "/_/t", "action": "/_/a"}),
    );
    assert_eq!(
        a.blanked(),
        (
            400,
            json!({"error": "action /guest/a does not exist", "code": V})
        )
    );
    c.put(&format!("{NS}/actions/a"), &hello_put());
    assert_eq!(
        c.put(
            &format!("{NS}/rules/r"),
            &json!({"trigger": "/_/t", "action": "/_/a"})
        )
        .status,
        200
    );
    c.delete(&format!("{NS}/triggers/t"));
    assert_eq!(c.get(&format!("{NS}/rules/r")).body["status"], "inactive");
    let enable = c.post(&format!("{NS}/rules/r"), &json!({"status": "active"}));
    assert_eq!(
        enable.blanked(),
        (
            404,
            json!({"error": "Only rules with existing triggers can be activated", "code": V})
        )
    );
}

#[test]
fn a_trigger_with_a_feed_annotation_needs_a_valid_feed_name() {
    let owl = Owl::start();
    let c = owl.guest();
    let ok = c.put(&format!("{NS}/triggers/t?overwrite=false"),
        &json!({"name": "t", "annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]}));
    assert_eq!(ok.status, 200);
    let bad = c.put(
        &format!("{NS}/triggers/u"),
        &json!({"annotations": [{"key": "feed", "value": 5}]}),
    );
    assert_eq!(
        bad.blanked(),
        (400, json!({"error": "Feed name is not valid", "code": V}))
    );
}

#[test]
fn wsk_list_sends_limit_zero_and_gets_every_collection() {
    let owl = Owl::start();
    let c = owl.guest();
    for i in 0..205 {
        c.put(&format!("{NS}/triggers/t{i}"), &json!({}));
    }
    assert_eq!(
        c.get(&format!("{NS}/triggers?limit=0&skip=0"))
            .body
            .as_array()
            .unwrap()
            .len(),
        200
    );
    assert_eq!(
        c.get(&format!("{NS}/triggers?limit=30&skip=0"))
            .body
            .as_array()
            .unwrap()
            .len(),
        30
    );
    assert_eq!(
        c.get(&format!("{NS}/triggers?limit=30&skip=200"))
            .body
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        c.get(&format!("{NS}/triggers?count=true&skip=5")).blanked(),
        (200, json!({"triggers": 200}))
    );
    for coll in ["actions", "packages", "rules"] {
        assert_eq!(
            c.get(&format!("{NS}/{coll}?limit=0&skip=0")).blanked(),
            (200, json!([]))
        );
    }
    // Lists are newest first; entities written in the same millisecond have no defined order, so the
    // newest is written a little later.
    std::thread::sleep(std::time::Duration::from_millis(5));
    c.put(&format!("{NS}/triggers/newest"), &json!({}));
    let newest = c.get(&format!("{NS}/triggers?limit=1&skip=0"));
    assert_eq!(newest.body[0]["name"], "newest");
}

#[test]
fn wsk_activation_list_get_logs_and_result_answer_in_the_callers_namespace() {
    let owl = Owl::start();
    let c = owl.guest();
    assert_eq!(
        c.get(&format!("{NS}/activations?limit=30&skip=0"))
            .blanked(),
        (200, json!([]))
    );
    assert_eq!(
        c.get(&format!(
            "{NS}/activations?docs=true&limit=0&name=hello&since=1&skip=0&upto=2"
        ))
        .blanked(),
        (200, json!([]))
    );
    assert_eq!(
        c.get(&format!("{NS}/activations?count=true")).blanked(),
        (200, json!({"activations": 0}))
    );
    let id = "0123456789abcdef0123456789abcdef";
    assert_eq!(c.get(&format!("{NS}/activations/{id}")).status, 404);
    assert_eq!(c.get(&format!("{NS}/activations/{id}/logs")).status, 404);
    assert_eq!(c.get(&format!("{NS}/activations/{id}/result")).status, 404);
    assert_eq!(
        c.get(&format!("{NS}/activations/abc")).blanked(),
        (
            400,
            json!({"error": "Activation id length is 3 but must be 32.", "code": V})
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/activations/{}", "z".repeat(32)))
            .blanked(),
        (
            400,
            json!({"error": "The activation id is not valid.", "code": V})
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/activations?docs=true&count=true"))
            .blanked(),
        (
            400,
            json!({"error": "The parameter 'docs' is not permitted with 'count'.", "code": V})
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/activations?since=yesterday"))
            .blanked(),
        (
            400,
            json!({"error": "The query parameter 'since' was malformed:\nParameter is not a valid value for epoch seconds: yesterday", "code": V})
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/activations?name=a/b/c")).blanked(),
        (
            400,
            json!({"error": "The query parameter 'name' was malformed:\nParameter may be a 'simple' name or 'package-name/simple' name: a/b/c", "code": V})
        )
    );
    assert_eq!(
        owl.client(WHISK_SYSTEM_KEY)
            .get("/api/v1/namespaces/guest/activations")
            .status,
        403
    );
}

#[test]
fn the_limits_endpoint_reports_the_deployment_defaults() {
    let owl = Owl::start();
    let r = owl.guest().get(&format!("{NS}/limits"));
    assert_eq!(
        r.blanked(),
        (
            200,
            json!({"invocationsPerMinute": 60, "concurrentInvocations": 30, "firesPerMinute": 60,
        "minActionMemory": 128, "maxActionMemory": 512, "minActionLogs": 0, "maxActionLogs": 10,
        "minActionTimeout": 100, "maxActionTimeout": 300000, "minActionConcurrency": 1, "maxActionConcurrency": 1,
        "maxParameterSize": "1 MB", "maxActionInstances": 30})
        )
    );
}
