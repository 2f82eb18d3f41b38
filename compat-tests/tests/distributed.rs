//! The distributed mode on its real topology: two `owl controller`s and two `owl invoker`s sharing a
//! real RabbitMQ broker and a real CouchDB-compatible server, driven over HTTP only, with processes
//! killed and the broker restarted under load.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use owl_compat_tests::services::{Broker, CouchServer};
use owl_compat_tests::{Client, GUEST_KEY, Owl, Response, Topology};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";

fn create(c: &Client, name: &str, code: &str, limits: Value) {
    let r = c.put(
        &format!("{NS}/actions/{name}?overwrite=true"),
        &json!({"exec": {"kind": "nodejs:20", "code": code}, "limits": limits}),
    );
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
}

fn invoke(c: &Client, name: &str, query: &str) -> Response {
    c.post(&format!("{NS}/actions/{name}?{query}"), &json!({}))
}

/// Lifts guest's throttles, so that hundreds of activations may be in flight.
fn unthrottle(owl: &Owl) {
    owl.set_guest_limits(
        &[
            ("--invocations-per-minute", "invocationsPerMinute", 100000),
            ("--concurrent-invocations", "concurrentInvocations", 100000),
        ],
        Duration::from_secs(3),
    );
}

/// Polls `f` every 100 ms until it answers `Some`, for `within` at most.
fn eventually<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The record of an activation, once it exists.
fn record(c: &Client, id: &str) -> Option<Value> {
    let r = c.get(&format!("{NS}/activations/{id}"));
    (r.status == 200).then_some(r.body)
}

/// How many records `name` has.
fn count(c: &Client, name: &str) -> u64 {
    let r = c.get(&format!("{NS}/activations?name={name}&count=true"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["activations"].as_u64().unwrap_or(0)
}

#[test]
fn an_action_created_through_one_controller_is_invoked_through_the_other() {
    let owl = Owl::start_distributed(&["--no-prewarm"]);
    let (a, b) = (owl.client_of(0, GUEST_KEY), owl.client_of(1, GUEST_KEY));
    create(
        &a,
        "hello",
        "function main(p) { return {hi: p.name} }",
        json!({}),
    );
    let r = b.post(
        &format!("{NS}/actions/hello?blocking=true&result=true"),
        &json!({"name": "owl"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"hi": "owl"})));
    // And its record is read through either (stored just after the blocking answer, as upstream).
    let r = invoke(&b, "hello", "blocking=true");
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["activationId"].as_str().unwrap().to_string();
    let rec = eventually(Duration::from_secs(10), "the record is stored", || {
        record(&a, &id)
    });
    // No `name` this time: JavaScript drops the undefined field.
    assert_eq!(rec["response"]["result"], json!({}));
}

#[test]
fn warm_reuse_keeps_an_action_on_its_home_invoker_whichever_controller_sends_it() {
    let owl = Owl::start_distributed(&["--no-prewarm"]);
    let c = [owl.client_of(0, GUEST_KEY), owl.client_of(1, GUEST_KEY)];
    create(
        &c[0],
        "warm",
        "function main() { return {ok: true} }",
        json!({}),
    );
    for i in 0..8 {
        let r = invoke(&c[i % 2], "warm", "blocking=true");
        assert_eq!(r.status, 200, "{}", r.text);
        if i > 0 {
            let init = r.body["annotations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["key"] == "initTime");
            assert!(!init, "run {i} started a container: {}", r.body);
        }
    }
    assert_eq!(owl.containers().len(), 1, "{:?}", owl.containers());
}

#[test]
fn a_blocked_key_is_refused_by_both_controllers_within_a_second() {
    let owl = Owl::start_distributed(&["--no-invoker"]);
    let key = owl.admin(&["user", "create", "alice", "--namespace", "alice"]);
    for i in 0..2 {
        let r = eventually(Duration::from_secs(5), "the new key works", || {
            let r = owl.client_of(i, &key).get("/api/v1/namespaces");
            (r.status == 200).then_some(r)
        });
        assert_eq!(r.body, json!(["alice"]));
    }
    owl.admin(&["user", "block", "alice"]);
    let blocked = Instant::now();
    for i in 0..2 {
        eventually(Duration::from_secs(3), "the blocked key is refused", || {
            (owl.client_of(i, &key).get("/api/v1/namespaces").status == 401).then_some(())
        });
    }
    let took = blocked.elapsed();
    eprintln!("both controllers refused the blocked key after {took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "the block took {took:?} to reach both controllers"
    );
}

#[test]
fn killing_an_invoker_with_200_activations_in_flight_loses_none() {
    let mut owl = Owl::start_distributed(&["--no-prewarm"]);
    unthrottle(&owl);
    let c = [owl.client_of(0, GUEST_KEY), owl.client_of(1, GUEST_KEY)];
    create(
        &c[0],
        "nap",
        "function main() { return new Promise(r => setTimeout(() => r({ok: true}), 300)) }",
        json!({"memory": 128}),
    );
    assert_eq!(invoke(&c[0], "nap", "blocking=true").status, 200);
    // Blocking callers, waiting while the invoker dies.
    let waiting: Vec<_> = (0..10)
        .map(|i| {
            let base = owl.bases[i % 2].clone();
            std::thread::spawn(move || {
                let c = Client::new(&base, Some(GUEST_KEY));
                invoke(&c, "nap", "blocking=true")
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for i in 0..190 {
        let r = invoke(&c[i % 2], "nap", "");
        assert_eq!(r.status, 202, "{}", r.text);
        ids.insert(r.body["activationId"].as_str().unwrap().to_string());
    }
    owl.kill_invoker(0);
    let killed = Instant::now();
    for w in waiting {
        let r = w.join().unwrap();
        assert!(
            matches!(r.status, 200 | 500 | 202),
            "a blocking caller got {}: {}",
            r.status,
            r.text
        );
        let id = r.body["activationId"].as_str().unwrap().to_string();
        if r.status == 500 {
            assert_eq!(
                r.body["response"]["status"], "whisk internal error",
                "{}",
                r.text
            );
        }
        ids.insert(id);
    }
    assert_eq!(ids.len(), 200);
    let (mut ok, mut lost) = (0, 0);
    for id in &ids {
        let rec = eventually(
            Duration::from_secs(120),
            "every activation has its record",
            || record(&c[0], id),
        );
        match rec["response"]["status"].as_str() {
            Some("success") => ok += 1,
            Some("whisk internal error") => lost += 1,
            other => panic!("activation {id} ended {other:?}: {rec}"),
        }
    }
    // Exactly one record each: 201 with the first invoke.
    assert_eq!(count(&c[1], "nap"), 201);
    eprintln!(
        "invoker killed: {ok} activations succeeded, {lost} ended as lost, all within {:?}",
        killed.elapsed()
    );
    assert!(ok > 0, "the surviving invoker ran the rest");
}

#[test]
fn a_broker_restart_under_load_loses_no_accepted_activation() {
    let couch = std::env::var("OWL_TEST_COUCH_URL").expect(
        "OWL_TEST_COUCH_URL: scripts/test starts the CouchDB-compatible server and sets it",
    );
    let broker = Broker::start();
    let owl = Owl::start_on(
        Topology::Distributed {
            amqp: broker.url.clone(),
            couch,
        },
        &["--no-prewarm"],
    );
    unthrottle(&owl);
    let c = [owl.client_of(0, GUEST_KEY), owl.client_of(1, GUEST_KEY)];
    create(
        &c[0],
        "quick",
        "function main() { return {ok: true} }",
        json!({}),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|i| {
            let (base, stop) = (owl.bases[i].clone(), stop.clone());
            std::thread::spawn(move || {
                let c = Client::new(&base, Some(GUEST_KEY));
                let (mut accepted, mut refused) = (vec![], 0);
                for _ in 0..2000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let r = invoke(&c, "quick", "");
                    match r.status {
                        202 => accepted.push(r.body["activationId"].as_str().unwrap().to_string()),
                        503 => refused += 1,
                        s => panic!("an invoke during the restart got {s}: {}", r.text),
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                (accepted, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    // Invokes work again through both controllers once the broker is back.
    for cl in &c {
        eventually(
            Duration::from_secs(60),
            "invokes work after the restart",
            || (invoke(cl, "quick", "blocking=true").status == 200).then_some(()),
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut accepted, mut refused) = (vec![], 0);
    for l in load {
        let (a, r) = l.join().unwrap();
        accepted.extend(a);
        refused += r;
    }
    for id in &accepted {
        let rec = eventually(
            Duration::from_secs(120),
            "every accepted activation has its record",
            || record(&c[0], id),
        );
        assert_eq!(rec["response"]["status"], "success", "{rec}");
    }
    eprintln!(
        "broker restarted under load: {} accepted activations all recorded, {refused} invokes refused with 503 during the outage",
        accepted.len()
    );
}

#[test]
fn killing_a_controller_loses_no_entity_and_its_schedules_fire_from_the_other() {
    let mut owl = Owl::start_distributed(&["--no-prewarm"]);
    let (a, b) = (owl.client_of(0, GUEST_KEY), owl.client_of(1, GUEST_KEY));
    create(&a, "tick", "function main(p) { return p }", json!({}));
    let r = a.put(
        &format!("{NS}/triggers/every-second?overwrite=false"),
        &json!({"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = a.post(
        "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
        &json!({"lifecycleEvent": "CREATE", "triggerName": "/_/every-second", "authKey": GUEST_KEY, "cron": "* * * * * *"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = a.put(
        &format!("{NS}/rules/on-tick?overwrite=false"),
        &json!({"trigger": "/_/every-second", "action": "/_/tick"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(Duration::from_secs(20), "the schedule fires", || {
        (count(&b, "every-second") >= 2).then_some(())
    });
    // Whichever controller leads, kill the first: the second must fire from now on.
    owl.kill_controller(0);
    let before = count(&b, "every-second");
    let after = eventually(
        Duration::from_secs(40),
        "the other controller fires",
        || {
            let n = count(&b, "every-second");
            (n >= before + 3).then_some(n)
        },
    );
    eprintln!("fires went on after the kill: {before} -> {after}");
    for path in ["actions/tick", "triggers/every-second", "rules/on-tick"] {
        assert_eq!(b.get(&format!("{NS}/{path}")).status, 200, "{path}");
    }
}

#[test]
fn a_stopping_invoker_finishes_what_it_runs_and_the_other_takes_the_rest() {
    let mut owl = Owl::start_distributed(&["--no-prewarm", "--drain-grace", "60"]);
    unthrottle(&owl);
    let c = owl.client_of(0, GUEST_KEY);
    create(
        &c,
        "slow",
        "function main() { return new Promise(r => setTimeout(() => r({ok: true}), 1000)) }",
        json!({"memory": 128}),
    );
    let ids: Vec<String> = (0..8)
        .map(|_| {
            let r = invoke(&c, "slow", "");
            assert_eq!(r.status, 202, "{}", r.text);
            r.body["activationId"].as_str().unwrap().to_string()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let (a, b) = (owl.invoker_ids()[0].clone(), owl.invoker_ids()[1].clone());
    assert!(owl.stop_invoker(0), "{a} exits cleanly after draining");
    assert!(
        !owl.containers().iter().any(|n| n.contains(&a)),
        "{a} removed its containers: {:?}",
        owl.containers()
    );
    for id in &ids {
        let rec = eventually(
            Duration::from_secs(60),
            "every activation has its record",
            || record(&c, id),
        );
        assert_eq!(rec["response"]["status"], "success", "{rec}");
    }
    // New work goes to the invoker left.
    let r = invoke(&c, "slow", "blocking=true");
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        owl.containers().iter().all(|n| !n.contains(&a)),
        "{b} ran it"
    );
}

#[test]
fn a_store_outage_answers_503_with_a_clear_error() {
    let amqp = std::env::var("OWL_TEST_AMQP_URL")
        .expect("OWL_TEST_AMQP_URL: scripts/test starts RabbitMQ and sets it");
    let couch = CouchServer::start();
    let owl = Owl::start_on(
        Topology::Distributed {
            amqp,
            couch: couch.url.clone(),
        },
        &["--no-invoker"],
    );
    let c = owl.guest();
    assert_eq!(c.get(&format!("{NS}/actions")).status, 200);
    couch.stop();
    for i in 0..2 {
        let r = owl.client_of(i, GUEST_KEY).put(
            &format!("{NS}/actions/x"),
            &json!({"exec": {"kind": "nodejs:20", "code": "x"}}),
        );
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(
            r.body["error"],
            "The database is currently unavailable or did not answer in time. Retry later."
        );
        assert!(r.body["code"].is_string());
    }
}

#[test]
fn an_unreachable_broker_or_store_at_start_is_one_clear_line_and_a_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = std::env::var("OWL_TEST_COUCH_URL").expect("OWL_TEST_COUCH_URL");
    for (amqp, couch, says) in [
        (
            format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"),
            store.clone(),
            format!("127.0.0.1:{closed}"),
        ),
        (
            std::env::var("OWL_TEST_AMQP_URL").expect("OWL_TEST_AMQP_URL"),
            format!("http://127.0.0.1:{closed}"),
            format!("the store at http://127.0.0.1:{closed} cannot be used"),
        ),
    ] {
        let out = std::process::Command::new(owl_compat_tests::binary())
            .args(["controller", "--controller-id", "c", "--port", "0"])
            .env("OWL_AMQP_URL", &amqp)
            .env("OWL_COUCH_URL", &couch)
            .env(
                "OWL_DB_PREFIX",
                format!("unreachable{}_", std::process::id()),
            )
            .env("OWL_LOG", "off")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("owl: ") && err.contains(&says), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
