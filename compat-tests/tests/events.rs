//! Events end to end: trigger fires into rules, the built-in alarms feeds driven as `wsk` drives
//! them, and the schedules they keep, against the real `owl standalone` and real containers.

use std::time::{Duration, Instant};

use owl_compat_tests::{Client, GUEST_KEY, Owl, Response};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";
const ALARM: &str =
    "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=false";
const ONCE: &str = "/api/v1/namespaces/whisk.system/actions/alarms/once?blocking=true&result=false";
const INTERVAL: &str =
    "/api/v1/namespaces/whisk.system/actions/alarms/interval?blocking=true&result=false";

/// An action that answers the parameters it got.
fn echo_action(c: &Client, name: &str) {
    let r = c.put(
        &format!("{NS}/actions/{name}?overwrite=true"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"}}),
    );
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
}

fn trigger(c: &Client, name: &str, body: Value) {
    let r = c.put(&format!("{NS}/triggers/{name}?overwrite=false"), &body);
    assert_eq!(r.status, 200, "creating trigger {name}: {}", r.text);
}

fn rule(c: &Client, name: &str, trigger: &str, action: &str) {
    let r = c.put(
        &format!("{NS}/rules/{name}?overwrite=false"),
        &json!({"name": name, "status": "", "trigger": format!("/_/{trigger}"), "action": format!("/_/{action}")}),
    );
    assert_eq!(r.status, 200, "creating rule {name}: {}", r.text);
}

/// What `wsk trigger create T --feed F -p ...` sends: the trigger with its feed annotation, then the
/// feed's CREATE. Answers the feed invoke's response.
fn create_with_feed(c: &Client, t: &str, feed: &str, params: Value) -> Response {
    let feed_name = feed
        .split("/actions/")
        .nth(1)
        .and_then(|s| s.split('?').next())
        .unwrap();
    trigger(
        c,
        t,
        json!({"name": t, "annotations": [{"key": "feed", "value": format!("/whisk.system/{feed_name}")}]}),
    );
    feed_call(c, feed, "CREATE", t, params)
}

fn feed_call(c: &Client, feed: &str, event: &str, t: &str, params: Value) -> Response {
    let mut body = params;
    body["lifecycleEvent"] = json!(event);
    body["triggerName"] = json!(format!("/_/{t}"));
    body["authKey"] = json!(GUEST_KEY);
    c.post(feed, &body)
}

/// Records whose name is `name`, newest first.
fn records(c: &Client, name: &str) -> Vec<Value> {
    let r = c.get(&format!("{NS}/activations?name={name}&docs=true&limit=200"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().cloned().unwrap_or_default()
}

/// Waits until `name` has at least `n` records, and answers them.
fn wait_records(c: &Client, name: &str, n: usize, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let found = records(c, name);
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{name} had {} records, not {n}, after {within:?}",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// No fire of `trigger` began after `t` (a fire that had read the trigger before it was deleted
/// may still finish after the delete).
fn assert_no_fire_after(c: &Client, trigger: &str, t: i64) {
    let late: Vec<i64> = records(c, trigger)
        .iter()
        .filter_map(|r| r["start"].as_i64())
        .filter(|s| *s > t)
        .collect();
    assert!(
        late.is_empty(),
        "fires of {trigger} after it was deleted at {t}: {late:?}"
    );
}

fn result_of(feed_response: &Response) -> Value {
    feed_response.body["response"]["result"].clone()
}

#[test]
fn firing_a_trigger_without_an_active_rule_answers_204_and_records_nothing() {
    let owl = Owl::start();
    let c = owl.guest();
    trigger(&c, "quiet", json!({"name": "quiet"}));
    let r = c.post(&format!("{NS}/triggers/quiet"), &json!({"a": 1}));
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    echo_action(&c, "a");
    rule(&c, "r", "quiet", "a");
    let r = c.post(&format!("{NS}/rules/r"), &json!({"status": "inactive"}));
    assert_eq!(r.status, 200);
    let r = c.post(&format!("{NS}/triggers/quiet"), &json!({}));
    assert_eq!(r.status, 204);
    std::thread::sleep(Duration::from_millis(500));
    assert!(records(&c, "quiet").is_empty());
}

#[test]
fn a_fire_runs_every_active_rule_and_its_record_names_each_rule_including_the_inactive_one() {
    let owl = Owl::start();
    let c = owl.guest();
    let ok = |r: Response| assert_eq!(r.status, 200, "{}", r.text);
    ok(c.put(
        &format!("{NS}/packages/tools"),
        &json!({"parameters": [{"key": "from", "value": "package"}]}),
    ));
    ok(c.put(
        &format!("{NS}/actions/tools/inner"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"}}),
    ));
    ok(c.put(
        &format!("{NS}/packages/bound"),
        &json!({"binding": {"namespace": "_", "name": "tools"}, "parameters": [{"key": "from", "value": "binding"}]}),
    ));
    echo_action(&c, "plain");
    trigger(
        &c,
        "t",
        json!({"name": "t", "parameters": [{"key": "p", "value": "trigger"}, {"key": "k", "value": "trigger"}]}),
    );
    ok(c.put(
        &format!("{NS}/rules/r1?overwrite=false"),
        &json!({"trigger": "/_/t", "action": "/_/tools/inner"}),
    ));
    ok(c.put(
        &format!("{NS}/rules/r2?overwrite=false"),
        &json!({"trigger": "/_/t", "action": "/_/bound/inner"}),
    ));
    rule(&c, "r3", "t", "plain");
    ok(c.post(&format!("{NS}/rules/r3"), &json!({"status": "inactive"})));

    let r = c.post(&format!("{NS}/triggers/t"), &json!({"k": "fire"}));
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["activationId"].as_str().unwrap().to_string();
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id.as_str()));
    let fired = c.record(&id);
    assert_eq!(fired["name"], "t");
    assert_eq!(fired["namespace"], "guest");
    assert_eq!(fired["response"]["result"], json!({"k": "fire"}));
    assert_eq!(fired["response"]["success"], true);
    assert!(fired.get("end").is_none() && fired.get("duration").is_none());
    let mut logs: Vec<Value> = fired["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    let ids: Vec<String> = logs
        .iter_mut()
        .filter_map(|l| l.as_object_mut()?.remove("activationId"))
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        logs,
        [
            json!({"statusCode": 0, "success": true, "rule": "guest/r1", "action": "guest/tools/inner"}),
            json!({"statusCode": 0, "success": true, "rule": "guest/r2", "action": "guest/bound/inner"}),
            json!({"statusCode": 1, "success": false,
                   "error": "Rule 'guest/r3' is inactive, action 'guest/plain' was not activated.",
                   "rule": "guest/r3", "action": "guest/plain"}),
        ]
    );
    let mut results: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut v = c.record(id)["response"]["result"].clone();
            assert!(v["__ow_headers"].is_object(), "{v}");
            assert!(v["__ow_headers"].get("authorization").is_none());
            v.as_object_mut().unwrap().remove("__ow_headers");
            v
        })
        .collect();
    results.sort_by_key(|v| v["from"].to_string());
    assert_eq!(
        results,
        [
            json!({"from": "binding", "p": "trigger", "k": "fire"}),
            json!({"from": "package", "p": "trigger", "k": "fire"}),
        ]
    );
    assert!(records(&c, "plain").is_empty());
}

#[test]
fn fires_of_missing_triggers_bad_payloads_and_other_namespaces_are_refused() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = c.post(&format!("{NS}/triggers/nothing"), &json!({}));
    assert_eq!(
        r.blanked(),
        (
            404,
            json!({"error": "The requested resource does not exist.", "code": "<volatile>"})
        )
    );
    trigger(&c, "t", json!({}));
    let r = c.raw(
        "POST",
        &format!("{NS}/triggers/t"),
        Some(b"[1,2]"),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("The request content was malformed")
    );
    let r = c.post("/api/v1/namespaces/whisk.system/triggers/t", &json!({}));
    assert_eq!(r.status, 403);
}

#[test]
fn the_fire_throttle_refuses_fires_past_the_namespaces_limit() {
    let owl = Owl::start();
    // The new limit reaches every controller within a second (at once in standalone).
    owl.set_guest_limits(
        &[("--fires-per-minute", "firesPerMinute", 2)],
        Duration::from_secs(2),
    );
    let c = owl.guest();
    trigger(&c, "t", json!({}));
    let codes: Vec<u16> = (0..3)
        .map(|_| c.post(&format!("{NS}/triggers/t"), &json!({})).status)
        .collect();
    // Two may pass in one calendar minute (a minute boundary may reset the count once).
    assert!(
        codes.contains(&429) || codes == [204, 204, 204],
        "{codes:?}"
    );
    let refused = (0..3)
        .map(|_| c.post(&format!("{NS}/triggers/t"), &json!({})))
        .find(|r| r.status == 429)
        .expect("a fire is refused");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .starts_with("Too many requests in the last minute (count: "),
        "{}",
        refused.text
    );
}

#[test]
fn an_alarm_with_a_seconds_field_drives_an_action_every_two_seconds() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "tick");
    let r = create_with_feed(
        &c,
        "every2",
        ALARM,
        json!({"cron": "*/2 * * * * *", "trigger_payload": {"hello": "owl"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(result_of(&r), json!({"status": "success"}));
    assert_eq!(
        r.body["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "path")
            .unwrap()["value"],
        "whisk.system/alarms/alarm"
    );
    rule(&c, "on-tick", "every2", "tick");
    let ticks = wait_records(&c, "tick", 3, Duration::from_secs(20));
    for t in &ticks {
        let full = c.record(t["activationId"].as_str().unwrap());
        assert_eq!(full["response"]["result"]["hello"], "owl", "{full}");
    }
    let fires = records(&c, "every2");
    assert!(fires.len() >= 3);
    for f in &fires {
        // Fired on an even second, give or take the time a fire takes.
        let late = f["start"].as_i64().unwrap() % 2000;
        assert!(late < 1500, "a fire {late} ms after its second");
    }
    let read = feed_call(&c, ALARM, "READ", "every2", json!({}));
    assert_eq!(read.status, 200, "{}", read.text);
    let v = result_of(&read);
    assert_eq!(
        v["config"],
        json!({"name": "every2", "namespace": "guest", "payload": {"hello": "owl"}, "strict": false, "cron": "*/2 * * * * *"})
    );
    assert_eq!(v["status"]["active"], true);
    assert!(v["status"]["fireCount"].as_u64().unwrap() >= 3);
    assert!(v["status"]["nextFire"].as_i64().unwrap() > v["status"]["lastFired"].as_i64().unwrap());
    assert_eq!(v["status"]["lastError"], Value::Null);
}

#[test]
fn wsk_trigger_delete_stops_the_schedule() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    let r = create_with_feed(&c, "t", ALARM, json!({"cron": "* * * * * *"}));
    assert_eq!(r.status, 200, "{}", r.text);
    rule(&c, "r", "t", "a");
    wait_records(&c, "t", 2, Duration::from_secs(15));
    // `wsk trigger delete t`: GET, the feed's DELETE, then DELETE.
    assert_eq!(c.get(&format!("{NS}/triggers/t")).status, 200);
    let r = feed_call(&c, ALARM, "DELETE", "t", json!({}));
    assert_eq!(
        (r.status, result_of(&r)),
        (200, json!({"status": "success"}))
    );
    assert_eq!(c.delete(&format!("{NS}/triggers/t")).status, 200);
    let deleted = owl_compat_tests::now_millis();
    std::thread::sleep(Duration::from_secs(3));
    assert_no_fire_after(&c, "t", deleted);
    let r = feed_call(&c, ALARM, "READ", "t", json!({}));
    assert_eq!(r.status, 502);
    assert_eq!(
        result_of(&r),
        json!({"error": {"error": "could not find trigger /guest/t in the database"}})
    );
}

#[test]
fn a_trigger_deleted_without_its_feed_stops_firing_and_its_schedule_says_why() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    assert_eq!(
        create_with_feed(&c, "t", ALARM, json!({"cron": "* * * * * *"})).status,
        200
    );
    rule(&c, "r", "t", "a");
    wait_records(&c, "t", 1, Duration::from_secs(15));
    assert_eq!(c.delete(&format!("{NS}/triggers/t")).status, 200);
    let deleted = owl_compat_tests::now_millis();
    let read = feed_call(&c, ALARM, "READ", "t", json!({}));
    assert_eq!(read.status, 200, "{}", read.text);
    let status = &result_of(&read)["status"];
    assert_eq!(status["active"], false);
    assert_eq!(
        status["reason"],
        json!({"kind": "AUTO", "statusCode": 404,
               "message": "Trigger automatically disabled: the trigger /guest/t was deleted"})
    );
    assert_eq!(status["nextFire"], Value::Null);
    std::thread::sleep(Duration::from_secs(3));
    assert_no_fire_after(&c, "t", deleted);
}

#[test]
fn a_once_alarm_fires_exactly_once_across_restarts() {
    let mut owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    let now = owl_compat_tests::now_millis();
    // Fires before the restart: not again after it.
    let r = create_with_feed(&c, "soon", ONCE, json!({"date": now + 2_000}));
    assert_eq!(r.status, 200, "{}", r.text);
    rule(&c, "r1", "soon", "a");
    // Due while Owl is down: made up once when it is back (within the misfire grace).
    let r = create_with_feed(&c, "during", ONCE, json!({"date": now + 6_000}));
    assert_eq!(r.status, 200, "{}", r.text);
    rule(&c, "r2", "during", "a");
    wait_records(&c, "soon", 1, Duration::from_secs(15));
    owl.stop();
    let down_until = now + 8_000;
    let wait = down_until - owl_compat_tests::now_millis();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    owl.restart();
    let c = owl.guest();
    wait_records(&c, "during", 1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(records(&c, "soon").len(), 1);
    assert_eq!(records(&c, "during").len(), 1);
    for t in ["soon", "during"] {
        let v = result_of(&feed_call(&c, ONCE, "READ", t, json!({})));
        assert_eq!(v["status"]["active"], false, "{v}");
        assert_eq!(v["status"]["fireCount"], 1);
        assert_eq!(
            v["status"]["reason"]["message"],
            "Automatically disabled after firing once"
        );
    }
    // Restarted again: nothing fires twice.
    owl.restart();
    let c = owl.guest();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(records(&c, "soon").len() + records(&c, "during").len(), 2);
}

#[test]
fn a_fire_missed_beyond_the_grace_is_skipped_and_recorded() {
    let mut owl = Owl::start_with(&["--no-prewarm", "--alarm-misfire-grace", "1"]);
    let c = owl.guest();
    echo_action(&c, "a");
    let now = owl_compat_tests::now_millis();
    assert_eq!(
        create_with_feed(&c, "t", ONCE, json!({"date": now + 1_500})).status,
        200
    );
    rule(&c, "r", "t", "a");
    owl.stop();
    std::thread::sleep(Duration::from_millis(4_000));
    owl.restart();
    let c = owl.guest();
    std::thread::sleep(Duration::from_secs(2));
    assert!(records(&c, "t").is_empty());
    let v = result_of(&feed_call(&c, ONCE, "READ", "t", json!({})));
    assert_eq!(v["status"]["active"], false, "{v}");
    assert_eq!(
        v["status"]["reason"]["message"],
        "Automatically disabled: the fire once date passed while Owl was not running"
    );
    assert!(
        v["status"]["lastError"]["message"]
            .as_str()
            .unwrap()
            .starts_with("missed 1 scheduled fire from ")
    );
}

#[test]
fn an_interval_alarm_fires_at_its_start_and_then_every_minutes() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    let start = owl_compat_tests::now_millis() + 2_000;
    let r = create_with_feed(
        &c,
        "t",
        INTERVAL,
        json!({"minutes": 1, "startDate": start, "trigger_payload": "beat"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    rule(&c, "r", "t", "a");
    let fired = wait_records(&c, "t", 1, Duration::from_secs(15));
    assert!(fired[0]["start"].as_i64().unwrap() >= start);
    let v = result_of(&feed_call(&c, INTERVAL, "READ", "t", json!({})));
    assert_eq!(
        v["config"],
        json!({"name": "t", "namespace": "guest", "payload": {"payload": "beat"}, "strict": false,
               "startDate": start, "minutes": 1})
    );
    assert_eq!(v["status"]["nextFire"], start + 60_000);
    assert_eq!(v["status"]["fireCount"], 1);
}

#[test]
fn feed_parameters_are_checked_with_upstreams_words_and_leave_nothing_behind() {
    let owl = Owl::start();
    let c = owl.guest();
    let now = owl_compat_tests::now_millis();
    for (feed, params, error) in [
        (
            ALARM,
            json!({"cron": "* * *"}),
            "cron pattern '* * *' is not valid".to_string(),
        ),
        (
            ALARM,
            json!({"cron": "* * * * *", "timezone": "Mars/Base"}),
            "Invalid timezone.".into(),
        ),
        (
            ALARM,
            json!({}),
            "alarms trigger feed is missing the cron parameter".into(),
        ),
        (
            ALARM,
            json!({"cron": "* * * * *", "startDate": now + 600_000, "stopDate": now + 60_000}),
            format!(
                "stopDate parameter '{}' must be greater than the startDate parameter '{}'",
                now + 60_000,
                now + 600_000
            ),
        ),
        (
            ONCE,
            json!({"date": "2001-01-01T00:00:00Z"}),
            "date parameter '2001-01-01T00:00:00Z' must be in the future".into(),
        ),
        (
            ONCE,
            json!({"date": "someday"}),
            "date parameter 'someday' is not a valid Date".into(),
        ),
        (
            INTERVAL,
            json!({"minutes": 0.5}),
            "the minutes parameter must be an integer".into(),
        ),
        (
            INTERVAL,
            json!({"minutes": -2}),
            "the minutes parameter must be an integer greater than zero".into(),
        ),
    ] {
        let r = create_with_feed(&c, "t", feed, params.clone());
        assert_eq!(r.status, 502, "{params}: {}", r.text);
        assert_eq!(r.body["response"]["status"], "application error");
        assert_eq!(
            result_of(&r),
            json!({"error": {"error": error}}),
            "{params}"
        );
        // What the CLI does after a failed feed: GET, the feed's DELETE (its error ignored), DELETE.
        feed_call(&c, feed, "DELETE", "t", json!({}));
        assert_eq!(c.delete(&format!("{NS}/triggers/t")).status, 200);
    }
    // A feed for a trigger that does not exist, or with a key that does not open it.
    let r = feed_call(&c, ALARM, "CREATE", "ghost", json!({"cron": "* * * * *"}));
    assert_eq!(
        result_of(&r),
        json!({"error": {"error": "Trigger authentication request failed."}})
    );
    trigger(&c, "t", json!({}));
    let mut body = json!({"lifecycleEvent": "CREATE", "triggerName": "/_/t", "cron": "* * * * *",
                          "authKey": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:wrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwron"});
    assert_eq!(
        result_of(&c.post(ALARM, &body)),
        json!({"error": {"error": "Trigger authentication request failed."}})
    );
    body["lifecycleEvent"] = json!("PAUSE");
    assert_eq!(
        result_of(&c.post(ALARM, &body)),
        json!({"error": "unsupported lifecycleEvent"})
    );
    let r = feed_call(&c, ALARM, "UPDATE", "t", json!({"cron": "* * * * *"}));
    assert_eq!(
        result_of(&r),
        json!({"error": {"error": "could not find trigger /guest/t in the database"}})
    );
    // A feed that does not exist.
    let r = c.post(
        "/api/v1/namespaces/whisk.system/actions/alarms/nope?blocking=true",
        &json!({}),
    );
    assert_eq!(r.status, 404);
    // Nothing was stored: no fire ever comes.
    echo_action(&c, "a");
    rule(&c, "r", "t", "a");
    std::thread::sleep(Duration::from_secs(2));
    assert!(records(&c, "t").is_empty());
}

#[test]
fn update_changes_the_schedule_and_its_payload() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    assert_eq!(
        create_with_feed(
            &c,
            "t",
            ALARM,
            json!({"cron": "0 0 1 1 *", "trigger_payload": {"v": 1}})
        )
        .status,
        200
    );
    rule(&c, "r", "t", "a");
    let r = feed_call(&c, ALARM, "UPDATE", "t", json!({}));
    assert_eq!(
        result_of(&r),
        json!({"error": {"error": "no updatable parameters were specified"}})
    );
    let r = feed_call(
        &c,
        ALARM,
        "UPDATE",
        "t",
        json!({"cron": "* * * * * *", "trigger_payload": {"v": 2}}),
    );
    assert_eq!(result_of(&r), json!({"status": "success"}), "{}", r.text);
    let runs = wait_records(&c, "a", 1, Duration::from_secs(15));
    let full = c.record(runs[0]["activationId"].as_str().unwrap());
    assert_eq!(full["response"]["result"]["v"], 2);
}

#[test]
fn the_catalog_packages_are_public_in_whisk_system() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = c.get("/api/v1/namespaces/whisk.system/packages?limit=30&skip=0");
    assert_eq!(r.status, 200, "{}", r.text);
    let mut names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alarms", "samples", "utils"]);
    let r = c.get("/api/v1/namespaces/whisk.system/packages/alarms");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["publish"], true);
    assert_eq!(r.body["actions"], json!([]));
    let mut feeds: Vec<&str> = r.body["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    feeds.sort();
    assert_eq!(feeds, ["alarm", "interval", "once"]);
    let alarm = r.body["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "alarm")
        .unwrap();
    let ann = |k: &str| {
        alarm["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .map(|a| a["value"].clone())
    };
    assert_eq!(ann("feed"), Some(json!(true)));
    assert_eq!(
        ann("description"),
        Some(json!("Fire trigger when alarm occurs"))
    );
}

#[test]
fn a_rule_may_run_an_action_of_another_namespaces_shared_package_as_the_firing_namespace() {
    let owl = Owl::start();
    let guest = owl.guest();
    let ok = |r: Response| assert_eq!(r.status, 200, "{}", r.text);
    ok(guest.put(&format!("{NS}/packages/shared"), &json!({"publish": true})));
    ok(guest.put(
        &format!("{NS}/actions/shared/echo"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return {got: p.v} }"}}),
    ));
    ok(guest.put(&format!("{NS}/packages/private"), &json!({})));
    ok(guest.put(
        &format!("{NS}/actions/private/echo"),
        &json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"}}),
    ));
    let alice = owl.client(&owl.admin(&["user", "create", "alice", "--namespace", "alice"]));
    trigger(&alice, "t", json!({}));
    ok(alice.put(
        &format!("{NS}/rules/r?overwrite=false"),
        &json!({"trigger": "/_/t", "action": "/guest/shared/echo"}),
    ));
    // A rule to a private package of another namespace is refused when it is made.
    let r = alice.put(
        &format!("{NS}/rules/r2?overwrite=false"),
        &json!({"trigger": "/_/t", "action": "/guest/private/echo"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    let r = alice.post(&format!("{NS}/triggers/t"), &json!({"v": 7}));
    assert_eq!(r.status, 202, "{}", r.text);
    let fired = alice.record(r.body["activationId"].as_str().unwrap());
    assert_eq!(fired["namespace"], "alice");
    let entry: Value = serde_json::from_str(fired["logs"][0].as_str().unwrap()).unwrap();
    assert_eq!(entry["action"], "guest/shared/echo");
    assert_eq!(entry["success"], true, "{entry}");
    let run = alice.record(entry["activationId"].as_str().unwrap());
    assert_eq!(run["namespace"], "alice");
    assert_eq!(run["response"]["result"], json!({"got": 7}));
}

#[test]
fn a_schedule_never_fires_a_new_trigger_made_with_the_name_of_a_deleted_one() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    // Made plainly, without the feed annotation, as the npm client may.
    trigger(&c, "t", json!({}));
    let r = feed_call(&c, ALARM, "CREATE", "t", json!({"cron": "* * * * * *"}));
    assert_eq!(result_of(&r), json!({"status": "success"}), "{}", r.text);
    assert_eq!(c.delete(&format!("{NS}/triggers/t")).status, 200);
    trigger(&c, "t", json!({}));
    rule(&c, "r", "t", "a");
    std::thread::sleep(Duration::from_secs(3));
    assert!(records(&c, "t").is_empty());
    let v = result_of(&feed_call(&c, ALARM, "READ", "t", json!({})));
    assert_eq!(v["status"]["active"], false, "{v}");
}

#[test]
fn an_alarm_stops_when_the_key_that_made_it_is_blocked_and_says_why() {
    let owl = Owl::start();
    let admin = |args: &[&str]| owl.admin(args);
    let key = admin(&["user", "create", "bobby", "--namespace", "bobby"]);
    let bob = owl.client(&key);
    trigger(&bob, "t", json!({}));
    let mut body =
        json!({"lifecycleEvent": "CREATE", "triggerName": "/_/t", "cron": "* * * * * *"});
    body["authKey"] = json!(key);
    let r = bob.post(ALARM, &body);
    assert_eq!(result_of(&r), json!({"status": "success"}), "{}", r.text);
    echo_action(&bob, "a");
    rule(&bob, "r", "t", "a");
    wait_records(&bob, "t", 1, Duration::from_secs(15));
    admin(&["user", "block", "bobby"]);
    let blocked = owl_compat_tests::now_millis();
    std::thread::sleep(Duration::from_secs(3));
    admin(&["user", "unblock", "bobby"]);
    // The key works again on every controller within a second (at once in standalone).
    let deadline = Instant::now() + Duration::from_secs(2);
    while bob.get("/api/v1/namespaces").status != 200 {
        assert!(
            Instant::now() < deadline,
            "the unblocked key is refused after 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_no_fire_after(&bob, "t", blocked + 1_000);
    body["lifecycleEvent"] = json!("READ");
    let v = result_of(&bob.post(ALARM, &body));
    assert_eq!(v["status"]["active"], false, "{v}");
    assert_eq!(
        v["status"]["reason"],
        json!({"kind": "AUTO", "statusCode": 401,
               "message": "Trigger automatically disabled: the key that created the alarm no longer opens namespace 'bobby' (deleted or blocked)"})
    );
}

#[test]
fn rules_and_feed_annotations_are_read_as_upstreams_route_tests_read_them() {
    let owl = Owl::start();
    let c = owl.guest();
    echo_action(&c, "a");
    trigger(&c, "t", json!({}));
    rule(&c, "r", "t", "a");
    assert_eq!(c.delete(&format!("{NS}/triggers/t")).status, 200);
    // Without its trigger the rule is inactive: disabling it is a no-op, enabling it is refused.
    let r = c.post(&format!("{NS}/rules/r"), &json!({"status": "inactive"}));
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));
    let r = c.post(&format!("{NS}/rules/r"), &json!({"status": "active"}));
    assert_eq!(r.status, 404, "{}", r.text);
    // A rule naming a trigger without its namespace fails the name's requirement.
    let r = c.put(
        &format!("{NS}/rules/r2"),
        &json!({"trigger": "t", "action": "/_/a"}),
    );
    assert_eq!(
        r.blanked(),
        (
            400,
            json!({"error": "The request content was malformed:\nrequirement failed: The fully qualified name of the entity must contain at least the namespace and the name of the entity.", "code": "<volatile>"})
        )
    );
    // Any entity path names a feed, a bare name too; a malformed one does not.
    trigger(
        &c,
        "f1",
        json!({"annotations": [{"key": "feed", "value": "xyz"}]}),
    );
    let r = c.put(
        &format!("{NS}/triggers/f2"),
        &json!({"annotations": [{"key": "feed", "value": "a,b"}]}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    // A caller's limitCronFields is honoured as upstream's provider honours it.
    let r = create_with_feed(
        &c,
        "f3",
        ALARM,
        json!({"cron": "* * * * * *", "limitCronFields": true}),
    );
    assert_eq!(
        result_of(&r),
        json!({"error": {"error": "cron pattern is limited to 5 fields with 1 minute as the finest granularity"}})
    );
}
