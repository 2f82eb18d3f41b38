//! The server's own lifecycle: it answers at once, keeps everything across a restart, and stops
//! cleanly on SIGTERM.

use std::time::Instant;

use owl_compat_tests::Owl;
use serde_json::json;

const NS: &str = "/api/v1/namespaces/_";

#[test]
fn restarting_owl_on_the_same_data_directory_keeps_every_entity() {
    let mut owl = Owl::start();
    let c = owl.guest();
    c.put(
        &format!("{NS}/packages/p"),
        &json!({"parameters": [{"key": "a", "value": 1}]}),
    );
    c.put(
        &format!("{NS}/actions/p/a"),
        &json!({"exec": {"kind": "python:3.11", "code": "def main(a): return a"}}),
    );
    c.put(
        &format!("{NS}/actions/b"),
        &json!({"exec": {"kind": "nodejs:18", "code": "x"}}),
    );
    c.put(&format!("{NS}/triggers/t"), &json!({}));
    c.put(
        &format!("{NS}/rules/r"),
        &json!({"trigger": "/_/t", "action": "/_/b"}),
    );
    c.post(&format!("{NS}/rules/r"), &json!({"status": "inactive"}));
    let snapshot = |c: &owl_compat_tests::Client| {
        ["actions", "packages", "triggers", "rules"]
            .map(|coll| c.get(&format!("{NS}/{coll}?limit=0&skip=0")).body)
            .to_vec()
    };
    let before = snapshot(&c);
    let rule_before = c.get(&format!("{NS}/rules/r")).body;
    owl.restart();
    let c = owl.guest();
    assert_eq!(snapshot(&c), before);
    assert_eq!(c.get(&format!("{NS}/rules/r")).body, rule_before);
    assert_eq!(rule_before["status"], "inactive");
}

#[test]
fn owl_stops_cleanly_on_sigterm() {
    let mut owl = Owl::start();
    assert_eq!(owl.guest().get("/api/v1/namespaces").status, 200);
    assert!(owl.stop(), "owl exited with a failure status after SIGTERM");
}

#[test]
fn owl_answers_right_after_it_says_it_listens() {
    let started = Instant::now();
    let owl = Owl::start();
    let r = owl.anonymous().get("/api/v1");
    assert_eq!(r.status, 200);
    // A figure, not an assertion: timing belongs to benchmarks.
    eprintln!(
        "owl standalone answered {:?} after spawn",
        started.elapsed()
    );
}
